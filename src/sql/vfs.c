/* sql/vfs.c — file I/O for the store, with fault injection; see vfs.h.
 *
 * Invariants:
 *   1. A successful sqli_vfs_write/sqli_vfs_writev wrote every byte; an error return may
 *      have written a prefix (as a real short write does), never more.
 *   2. errno is mapped to a store code here and only here.
 */
#include "sql/vfs.h"
#include "sql/store.h"
#include "sql/store_int.h"
#include "util/mem.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct vfs_file {
    int fd;
    char *path;
};

vfs_faults sqli_vfs_fault;
static int write_stuck, sync_stuck; /* a sticky fault has fired */

void sqli_vfs_fault_clear(void) {
    memset(&sqli_vfs_fault, 0, sizeof sqli_vfs_fault);
    write_stuck = sync_stuck = 0;
}

static int map_errno(int e) {
    if (e == ENOSPC || e == EDQUOT || e == EFBIG) return STORE_FULL;
    if (e == EROFS) return STORE_READONLY;
    return STORE_IOERR;
}

static int wrap_fd(int fd, const char *path, vfs_file **fp) {
    vfs_file *f = xcalloc(1, sizeof *f);
    f->fd = fd;
    f->path = xstrdup(path);
    *fp = f;
    return STORE_OK;
}

int sqli_vfs_open(const char *path, int flags, vfs_file **fp, int *created) {
    *fp = NULL;
    if (created) *created = 0;
    int oflags = (flags & VFS_RDONLY) ? O_RDONLY : O_RDWR;
    if (flags & VFS_MEMORY) {
        int fd = memfd_create(path, MFD_CLOEXEC);
        if (fd < 0)
            return sqli_store_error(STORE_CANTOPEN, "%s: cannot create an in-memory file: %s", path,
                                    strerror(errno));
        if (created) *created = 1;
        return wrap_fd(fd, path, fp);
    }
    int fd = open(path, oflags | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && (flags & VFS_CREATE)) {
        fd = open(path, oflags | O_CLOEXEC | O_CREAT | O_EXCL, 0644);
        if (fd >= 0 && created) *created = 1;
        if (fd < 0 && errno == EEXIST) fd = open(path, oflags | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        if (!(flags & VFS_RDONLY) && (e == EACCES || e == EROFS || e == EPERM)) {
            /* Distinguish "exists but read-only" from "cannot open at all". */
            if (access(path, R_OK) == 0)
                return sqli_store_error(STORE_READONLY, "%s: file is read-only (%s)", path,
                                        strerror(e));
        }
        return sqli_store_error(STORE_CANTOPEN, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sqli_store_error(STORE_CANTOPEN, "%s: not a regular file", path);
    }
    return wrap_fd(fd, path, fp);
}

void sqli_vfs_close(vfs_file *f) {
    if (!f) return;
    close(f->fd);
    xfree(f->path);
    xfree(f);
}

const char *sqli_vfs_path(const vfs_file *f) {
    return f->path;
}

int sqli_vfs_read(vfs_file *f, void *buf, size_t n, uint64_t off, size_t *got) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return sqli_store_error(STORE_IOERR, "%s: read at %llu failed: %s", f->path,
                                    (unsigned long long)(off + done), strerror(errno));
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    if (done < n) memset((char *)buf + done, 0, n - done);
    if (got) *got = done;
    return STORE_OK;
}

/* Countdown helper: 1 when this call is the one that fires. */
static int fires(long *counter) {
    long v = __atomic_load_n(counter, __ATOMIC_RELAXED);
    if (v <= 0) return 0;
    return __atomic_sub_fetch(counter, 1, __ATOMIC_RELAXED) == 0;
}

static uint64_t fault_rand(void) {
    uint64_t x = sqli_vfs_fault.seed += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static size_t iov_total(const struct iovec *iov, int cnt) {
    size_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    return n;
}

/* Write the first `limit` bytes of the iovecs (used for torn and short writes). */
static void write_prefix(vfs_file *f, const struct iovec *iov, int cnt, uint64_t off,
                         size_t limit) {
    for (int i = 0; i < cnt && limit > 0; i++) {
        size_t n = iov[i].iov_len < limit ? iov[i].iov_len : limit;
        if (pwrite(f->fd, iov[i].iov_base, n, (off_t)off) != (ssize_t)n) return;
        off += n;
        limit -= n;
    }
}

static int inject_write(vfs_file *f, const struct iovec *iov, int cnt, uint64_t off) {
    __atomic_add_fetch(&sqli_vfs_fault.writes, 1, __ATOMIC_RELAXED);
    if (fires(&sqli_vfs_fault.kill_countdown)) {
        if (sqli_vfs_fault.kill_torn) {
            size_t total = iov_total(iov, cnt);
            write_prefix(f, iov, cnt, off, total ? fault_rand() % total : 0);
        }
        kill(getpid(), SIGKILL);
    }
    int hit = fires(&sqli_vfs_fault.write_countdown) || write_stuck;
    if (!hit) return 0;
    if (sqli_vfs_fault.write_sticky) write_stuck = 1;
    switch (sqli_vfs_fault.write_kind) {
    case VFS_FAULT_SHORT:
        write_prefix(f, iov, cnt, off, iov_total(iov, cnt) / 2);
        errno = ENOSPC;
        return -1;
    case VFS_FAULT_EIO:
        errno = EIO;
        return -1;
    default:
        errno = ENOSPC;
        return -1;
    }
}

int sqli_vfs_writev(vfs_file *f, const struct iovec *iov_in, int cnt, uint64_t off) {
    if (inject_write(f, iov_in, cnt, off) < 0)
        return sqli_store_error(map_errno(errno), "%s: write at %llu failed: %s (injected)",
                                f->path, (unsigned long long)off, strerror(errno));
    struct iovec local[64];
    struct iovec *iov = cnt <= 64 ? local : xmalloc(sizeof *iov * (size_t)cnt);
    memcpy(iov, iov_in, sizeof *iov * (size_t)cnt);
    int i = 0, rc = STORE_OK;
    while (i < cnt) {
        int batch = cnt - i < IOV_MAX ? cnt - i : IOV_MAX;
        ssize_t w = pwritev(f->fd, iov + i, batch, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            rc = sqli_store_error(map_errno(errno), "%s: write at %llu failed: %s", f->path,
                                  (unsigned long long)off, strerror(errno));
            break;
        }
        if (w == 0) {
            rc = sqli_store_error(STORE_FULL, "%s: write at %llu wrote nothing", f->path,
                                  (unsigned long long)off);
            break;
        }
        off += (uint64_t)w;
        size_t left = (size_t)w;
        while (i < cnt && left >= iov[i].iov_len) left -= iov[i++].iov_len;
        if (i < cnt) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
        while (i < cnt && iov[i].iov_len == 0) i++;
    }
    if (iov != local) xfree(iov);
    return rc;
}

int sqli_vfs_write(vfs_file *f, const void *buf, size_t n, uint64_t off) {
    struct iovec iov = {(void *)buf, n};
    return sqli_vfs_writev(f, &iov, 1, off);
}

int sqli_vfs_sync(vfs_file *f) {
    __atomic_add_fetch(&sqli_vfs_fault.syncs, 1, __ATOMIC_RELAXED);
    if (fires(&sqli_vfs_fault.kill_countdown)) kill(getpid(), SIGKILL);
    if (fires(&sqli_vfs_fault.sync_countdown) || sync_stuck) {
        if (sqli_vfs_fault.sync_sticky) sync_stuck = 1;
        return sqli_store_error(STORE_IOERR, "%s: fsync failed: %s (injected)", f->path,
                                strerror(EIO));
    }
    while (fdatasync(f->fd) < 0) {
        if (errno == EINTR) continue;
        return sqli_store_error(STORE_IOERR, "%s: fsync failed: %s", f->path, strerror(errno));
    }
    return STORE_OK;
}

int sqli_vfs_size(vfs_file *f, uint64_t *size) {
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return sqli_store_error(STORE_IOERR, "%s: stat failed: %s", f->path, strerror(errno));
    *size = (uint64_t)st.st_size;
    return STORE_OK;
}

int sqli_vfs_truncate(vfs_file *f, uint64_t size) {
    while (ftruncate(f->fd, (off_t)size) < 0) {
        if (errno == EINTR) continue;
        return sqli_store_error(map_errno(errno), "%s: truncate to %llu failed: %s", f->path,
                                (unsigned long long)size, strerror(errno));
    }
    return STORE_OK;
}

int sqli_vfs_lock(vfs_file *f, int exclusive) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(f->fd, F_OFD_SETLK, &fl) < 0) {
        if (errno == EAGAIN || errno == EACCES)
            return sqli_store_error(STORE_BUSY,
                                    "%s: database is locked by another handle or process", f->path);
        return sqli_store_error(STORE_IOERR, "%s: lock failed: %s", f->path, strerror(errno));
    }
    return STORE_OK;
}

int sqli_vfs_sync_dir(const char *path) {
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = STORE_OK;
    if (fd >= 0) {
        if (fsync(fd) < 0 && errno != EINVAL)
            rc = sqli_store_error(STORE_IOERR, "%s: fsync of directory failed: %s", dir,
                                  strerror(errno));
        close(fd);
    }
    xfree(dir);
    return rc;
}
