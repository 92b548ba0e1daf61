/* mp_labels: short labels for dotted function names, as the reference's
 * mprof.function_labels gives them: each name's shortest dotted suffix that
 * no other name shares, grown one component at a time for the names whose
 * labels collide ("pkg.mod.f" shows as "f" unless another "f" exists).
 * Linear in the names times their depth (a hash table per round), so a
 * recording with 100,000 function names labels in milliseconds. */
#ifndef MP_LABELS_H
#define MP_LABELS_H

#include <stddef.h>

/* For names[0..n), set labels[i] to a pointer into names[i] (a suffix of
 * it, not a copy). Names should be distinct; equal names get the whole
 * name. 0, or -1 with errno ENOMEM. */
int mp_labels(const char *const *names, size_t n, const char **labels);

#endif
