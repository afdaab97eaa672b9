/* sem_clockwait for processes under libfaketime, preloaded before it.

   Python 3.11 waits with a timeout (Event.wait, Condition.wait, Lock.acquire(timeout=...),
   queue.get(timeout=...)) through sem_clockwait(CLOCK_MONOTONIC, deadline), its deadline
   computed on the clock libfaketime fakes. libfaketime 0.9.10 (Debian 12) does not wrap
   sem_clockwait, so the kernel waits for that faked deadline on its real clock: under a faked
   clock every such wait never returned, and a server's timed loops (heartbeats, lease checks)
   stopped. This turns the faked deadline into the real one: the time left on the faked clock,
   divided by the clock's rate ("x2" in FAKETIME), from the kernel's now.

   Built by tests/faults/preload.py with the system's C compiler. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clockwait_fn)(sem_t *, clockid_t, const struct timespec *);

static double faked_rate(void) {
    const char *spec = getenv("FAKETIME");
    const char *x = spec ? strchr(spec, 'x') : NULL;
    double rate = x ? strtod(x + 1, NULL) : 1.0;
    return rate > 0 ? rate : 1.0;
}

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime) {
    static clockwait_fn real;
    if (!real)
        real = (clockwait_fn)dlsym(RTLD_NEXT, "sem_clockwait");
    struct timespec faked, now, deadline;
    clock_gettime(clock, &faked);               /* libfaketime's answer */
    syscall(SYS_clock_gettime, clock, &now);    /* the kernel's */
    double left = (double)(abstime->tv_sec - faked.tv_sec)
                  + (double)(abstime->tv_nsec - faked.tv_nsec) / 1e9;
    left = left > 0 ? left / faked_rate() : 0;
    long long ns = now.tv_nsec + (long long)((left - (double)(long long)left) * 1e9);
    deadline.tv_sec = now.tv_sec + (time_t)left + ns / 1000000000LL;
    deadline.tv_nsec = ns % 1000000000LL;
    return real(sem, clock, &deadline);
}
