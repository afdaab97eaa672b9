/* Sick disks for a process, preloaded (LD_PRELOAD): the files under a directory start failing
   every read, write and sync with EIO, or answer each only after a delay, as a dying or a slow
   disk does, while the process runs. tmpfs, the fault suite's disks, can be neither throttled
   (no block device under it) nor made to fail I/O.

   The faults are lines of the file named by GFS_DISK_FAULTS, re-read when it changes (looked
   at no more than every 20 ms):
       /abs/dir eio        every open, read, write and sync of a file under /abs/dir: EIO
       /abs/dir slow 200   each of them waits 200 ms first
   An empty or missing file: no fault. Files opened before a fault began are hit too (the
   path of every open file is kept by descriptor).

   Built by tests/faults/preload.py with the system's C compiler. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 65536
#define MAX_RULES 16

struct rule {
    char prefix[512];
    size_t length;
    int eio;
    long delay_ms;
};

static char *paths[MAX_FD];  /* the absolute path each open descriptor was opened by */
static struct rule rules[MAX_RULES];
static int rule_count;
static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;
static long long checked_ns;
static struct timespec seen_mtime;

static long long now_ns(void) {
    struct timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);  /* the kernel's, faked clock or not */
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void reload(void) {
    const char *control = getenv("GFS_DISK_FAULTS");
    if (!control)
        return;
    long long now = now_ns();
    if (now - checked_ns < 20000000LL)
        return;
    checked_ns = now;
    struct stat st;
    if (syscall(SYS_newfstatat, AT_FDCWD, control, &st, 0) != 0) {
        rule_count = 0;
        return;
    }
    if (st.st_mtim.tv_sec == seen_mtime.tv_sec && st.st_mtim.tv_nsec == seen_mtime.tv_nsec)
        return;
    seen_mtime = st.st_mtim;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, control, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char text[4096];
    long n = syscall(SYS_read, fd, text, sizeof text - 1);
    syscall(SYS_close, fd);
    text[n > 0 ? n : 0] = 0;
    int count = 0;
    for (char *line = strtok(text, "\n"); line && count < MAX_RULES; line = strtok(NULL, "\n")) {
        struct rule r = {0};
        char kind[16] = {0};
        if (sscanf(line, "%511s %15s %ld", r.prefix, kind, &r.delay_ms) < 2)
            continue;
        r.length = strlen(r.prefix);
        r.eio = strcmp(kind, "eio") == 0;
        if (!r.eio && strcmp(kind, "slow") != 0)
            continue;
        rules[count++] = r;
    }
    rule_count = count;
}

/* -1 with errno EIO: fail the call; otherwise 0 (after the delay, if slow). */
static int strike(const char *path) {
    if (!path)
        return 0;
    long delay_ms = 0;
    int eio = 0;
    pthread_mutex_lock(&rules_lock);
    reload();
    for (int i = 0; i < rule_count; i++) {
        struct rule *r = &rules[i];
        if (strncmp(path, r->prefix, r->length) == 0
            && (path[r->length] == '/' || path[r->length] == 0)) {
            eio |= r->eio;
            delay_ms = r->delay_ms > delay_ms ? r->delay_ms : delay_ms;
        }
    }
    pthread_mutex_unlock(&rules_lock);
    if (eio) {
        errno = EIO;
        return -1;
    }
    if (delay_ms > 0) {
        struct timespec pause = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        syscall(SYS_nanosleep, &pause, NULL);
    }
    return 0;
}

static int strike_fd(int fd) {
    return fd >= 0 && fd < MAX_FD ? strike(__atomic_load_n(&paths[fd], __ATOMIC_ACQUIRE)) : 0;
}

static void remember(int fd, const char *path) {
    if (fd < 0 || fd >= MAX_FD)
        return;
    char *copy = path && path[0] == '/' ? strdup(path) : NULL;
    free(__atomic_exchange_n(&paths[fd], copy, __ATOMIC_ACQ_REL));
}

#define NEXT(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static int opened(const char *path, int fd_or_error) {
    if (fd_or_error >= 0)
        remember(fd_or_error, path);
    return fd_or_error;
}

static mode_t mode_of(int flags, va_list args) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(args, int) : 0;
}

/* The call `name`, struck first by the fault on the path it opens. */
#define OPENS(name, params, args)                          \
    int name params {                                      \
        NEXT(name);                                        \
        va_list more;                                      \
        va_start(more, flags);                             \
        mode_t mode = mode_of(flags, more);                \
        va_end(more);                                      \
        if (path[0] == '/' && strike(path) != 0)           \
            return -1;                                     \
        return opened(path, real_##name args);             \
    }

OPENS(open, (const char *path, int flags, ...), (path, flags, mode))
OPENS(open64, (const char *path, int flags, ...), (path, flags, mode))
OPENS(openat, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode))
OPENS(openat64, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode))

int close(int fd) {
    NEXT(close);
    remember(fd, NULL);
    return real_close(fd);
}

/* The call `name` on descriptor `fd`, struck first by the fault on the path it was opened by. */
#define USES(type, name, params, args)                     \
    type name params {                                     \
        NEXT(name);                                        \
        return strike_fd(fd) ? -1 : real_##name args;      \
    }

USES(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))
USES(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))
USES(ssize_t, pread, (int fd, void *buf, size_t n, off_t at), (fd, buf, n, at))
USES(ssize_t, pread64, (int fd, void *buf, size_t n, off64_t at), (fd, buf, n, at))
USES(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t at), (fd, buf, n, at))
USES(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t at), (fd, buf, n, at))
USES(int, fsync, (int fd), (fd))
USES(int, fdatasync, (int fd), (fd))
