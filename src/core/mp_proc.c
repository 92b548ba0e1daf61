/* Platform dispatcher for mp_proc: exactly one backend is compiled. */
#include "mp_proc.h"

#if defined(__linux__)
#include "mp_proc_linux.inc"
#else
#include "mp_proc_stub.inc"
#endif
