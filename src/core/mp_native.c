/* mp_native: one backend is compiled in (see mp_native.h). */
#include "mp_native.h"

#if defined(__linux__)
#include "mp_native_linux.inc"
#endif

#if !defined(__linux__) || defined(MP_NATIVE_UNSUPPORTED)
#include <errno.h>

int mp_native_install(const char *const *python_objects)
{
    (void)python_objects;
    errno = ENOSYS;
    return -1;
}

void mp_native_refresh(void) {}
int mp_native_acquire(const char *const *python_objects)
{
    (void)python_objects;
    errno = ENOSYS;
    return -1;
}
void mp_native_release(void) {}
void mp_native_reap(void) {}
void mp_native_uninstall(void) {}
int mp_native_installed(void) { return 0; }
int64_t mp_native_thread(int which) { (void)which; return 0; }
size_t mp_native_slots(void) { return 0; }
int mp_native_last_refresh_found(void) { return 0; }
#endif
