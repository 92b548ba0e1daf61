/* mp_units: the one spelling of the units every part of the project shares.
 * The reference reports memory in MiB (2^20 bytes), as does the data file. */
#ifndef MP_UNITS_H
#define MP_UNITS_H

/* Bytes in a MiB, as a double for conversions (bytes / MP_MIB) and as a
 * size for byte counts and bounds (n * MP_MIB_BYTES). */
#define MP_MIB 1048576.0
#define MP_MIB_BYTES ((size_t)1 << 20)

#endif
