/* sql/vfs.h — the store's only door to the file system, and where tests break it.
 *
 * Every read, write, fsync, truncate and lock of the store goes through these
 * functions, which turn errno into store.h codes (with a message naming the
 * file) and retry short writes and EINTR. The global vfs_faults record lets a
 * test make the Nth write come out short, fail with ENOSPC or EIO, make the Nth
 * fsync fail, or kill the process with SIGKILL at the Nth write or fsync
 * (optionally after writing a random part of that write: a torn write).
 * Counters count down across all files and threads; 0 means "off".
 */
#ifndef LARDER_SQL_VFS_H
#define LARDER_SQL_VFS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct vfs_file vfs_file;

#define VFS_RDONLY 0x01 /* open for reading only */
#define VFS_CREATE 0x02 /* create if missing */
/* An anonymous in-memory file (memfd): path only names it in messages and
 * nothing is created in the file system. */
#define VFS_MEMORY 0x04

/* Open path (with VFS_MEMORY: a new, empty, unnamed file). Errors: STORE_CANTOPEN (missing,
 * directory, permission on a read-only open), STORE_READONLY (read-write open of a file or
 * directory we may only read), STORE_IOERR. *created tells whether the file was created. */
int sqli_vfs_open(const char *path, int flags, vfs_file **f, int *created);
void sqli_vfs_close(vfs_file *f);
const char *sqli_vfs_path(const vfs_file *f);

/* Read n bytes at off. *got receives the bytes read before end of file (the
 * rest of buf is zeroed); a read error is STORE_IOERR. */
int sqli_vfs_read(vfs_file *f, void *buf, size_t n, uint64_t off, size_t *got);

/* Write n bytes (or the iovecs) at off, all of them or an error:
 * STORE_FULL (ENOSPC, EDQUOT, EFBIG), STORE_IOERR. */
int sqli_vfs_write(vfs_file *f, const void *buf, size_t n, uint64_t off);
int sqli_vfs_writev(vfs_file *f, const struct iovec *iov, int cnt, uint64_t off);

/* fdatasync. STORE_IOERR on failure. */
int sqli_vfs_sync(vfs_file *f);
int sqli_vfs_size(vfs_file *f, uint64_t *size);
int sqli_vfs_truncate(vfs_file *f, uint64_t size);

/* Take an open-file-description lock on the whole file: exclusive (write) or
 * shared. STORE_BUSY when another description holds a conflicting lock. */
int sqli_vfs_lock(vfs_file *f, int exclusive);

/* fsync the directory holding path, so that a created file's name is durable. */
int sqli_vfs_sync_dir(const char *path);

/* Fault injection (tests only). */
enum vfs_fault_kind {
    VFS_FAULT_SHORT = 1, /* write a part, then fail with ENOSPC */
    VFS_FAULT_NOSPC,     /* fail with ENOSPC, nothing written */
    VFS_FAULT_EIO,       /* fail with EIO, nothing written */
};
typedef struct vfs_faults {
    long write_countdown; /* the write that brings this from 1 to 0 fails */
    int write_kind;       /* enum vfs_fault_kind */
    int write_sticky;     /* once failed, every later write fails too */
    long sync_countdown;  /* the fsync that brings this from 1 to 0 fails (EIO) */
    int sync_sticky;
    long kill_countdown; /* the write or fsync that brings this to 0: SIGKILL */
    int kill_torn;       /* ... after writing a random prefix of that write */
    uint64_t seed;       /* for the torn length */
    long writes, syncs;  /* counted calls (all files), for tests to size countdowns */
} vfs_faults;
extern vfs_faults sqli_vfs_fault;
void sqli_vfs_fault_clear(void);

#endif
