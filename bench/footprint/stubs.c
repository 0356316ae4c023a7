/* newlib's system calls, for whatever the image pulls in. Each is in its own section, so
   --gc-sections keeps only those something references, and the report names what did: a
   "no heap" image that keeps _sbrk has malloc in it. */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

#undef errno
extern int errno;

void* _sbrk(ptrdiff_t incr) {
    (void)incr;
    errno = ENOMEM;
    return (void*)-1;
}
void _exit(int status) {
    (void)status;
    for (;;) {
    }
}
int _kill(int pid, int sig) {
    (void)pid;
    (void)sig;
    errno = EINVAL;
    return -1;
}
int _getpid(void) { return 1; }
int _write(int fd, const char* buf, int len) {
    (void)fd;
    (void)buf;
    return len;
}
int _read(int fd, char* buf, int len) {
    (void)fd;
    (void)buf;
    (void)len;
    return 0;
}
int _close(int fd) {
    (void)fd;
    return -1;
}
int _lseek(int fd, int off, int whence) {
    (void)fd;
    (void)off;
    (void)whence;
    return 0;
}
int _fstat(int fd, struct stat* st) {
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}
int _isatty(int fd) {
    (void)fd;
    return 1;
}
