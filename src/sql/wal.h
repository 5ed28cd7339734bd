/* sql/wal.h — the write-ahead log: file format, frame index, recovery (internal).
 *
 * The log file "FILE-wal" holds page images ("frames") written by commits (and
 * by writers spilling dirty pages that do not fit in the cache). The format is
 * drawn in wal.c. In memory, the index maps each page number to the newest
 * frame holding it, with a back-chain to older frames, so that a reader whose
 * snapshot ends at frame M finds the newest version of a page at or below M.
 *
 * Locking: the caller (pager.c) serialises writers; the index is read by many
 * threads and changed by one, all under the database mutex. Functions marked
 * "I/O" do not touch the index and run without the mutex.
 */
#ifndef LARDER_SQL_WAL_H
#define LARDER_SQL_WAL_H
#include "sql/vfs.h"
#include <stdint.h>

#define WAL_HDR_SIZE 32u
#define WAL_FRAME_HDR 32u

typedef struct wal {
    vfs_file *f;
    uint32_t page_size;
    uint32_t salt1, salt2, ckpt_seq;
    int hdr_ok; /* the file's header carries our salts: frames may follow */
    int nosync; /* STORE_NOSYNC: skip the header fsync */
    uint32_t n; /* frames in the index: frame numbers 1..n */
    uint32_t cap;
    uint32_t *fpg;         /* [f]: page number of frame f */
    uint32_t *fprev;       /* [f]: older frame of the same page, 0 = none */
    uint64_t *fck;         /* [f]: checksum of frame f (for the commit digest) */
    uint32_t *mkey, *mval; /* open addressing: page number -> newest frame */
    uint32_t mcap, mcount;
} wal;

/* One page to write: frame = 0 appends a new frame, else overwrites that
 * (uncommitted) frame in place. sqli_wal_write fills cksum and, for appends, frame. */
typedef struct wal_out {
    uint32_t pgno;
    uint32_t frame;
    const uint8_t *data;
    uint64_t cksum;
} wal_out;

/* Open (create unless rdonly) the log file. A missing log is fine for rdonly
 * (w->f stays NULL). memory: a new in-memory log (VFS_MEMORY). I/O. */
int sqli_wal_open(wal *w, const char *path, int rdonly, uint32_t page_size, int nosync, int memory);
void sqli_wal_close(wal *w);

/* Read the log and index every frame up to the last valid commit. A log whose
 * header is unreadable or torn counts as empty; a valid header with another
 * page size is STORE_CORRUPT. *commit_pages receives the database size given
 * by the last commit (0 if none). I/O + index (call before sharing). */
int sqli_wal_recover(wal *w, uint32_t *commit_pages);

/* Newest frame of pgno that is <= mark, or 0. */
uint32_t sqli_wal_find(const wal *w, uint32_t pgno, uint32_t mark);

/* Read frame f's page image into buf (page_size bytes). I/O. */
int sqli_wal_read_page(wal *w, uint32_t f, uint8_t *buf);

/* Write the pages. Appended frames get numbers n+1, n+2, ... in array order.
 * If commit_pages != 0 the last element must be an append: it becomes the
 * commit frame, carrying commit_pages and the digest of frames base+1 .. its
 * predecessor. Writes the log header first when needed. I/O only: the caller
 * then calls sqli_wal_index_add under the mutex. */
int sqli_wal_write(wal *w, wal_out *v, uint32_t cnt, uint32_t base, uint32_t commit_pages);

/* Record written frames in the index. */
void sqli_wal_index_add(wal *w, const wal_out *v, uint32_t cnt);

/* Forget frames above n (a rolled-back transaction's spills). */
void sqli_wal_index_truncate(wal *w, uint32_t n);

/* Start a new generation: new salts, empty index. Frames of the old
 * generation become invalid once sqli_wal_write_header has put the new salts on
 * disk; the caller does that before anything else touches the file. */
void sqli_wal_reset(wal *w);
/* Write (and unless nosync, fsync) the header with the current salts. I/O. */
int sqli_wal_write_header(wal *w);

/* Make the log file at least `frames` frames long, writing zeros (not a
 * sparse extension): later commits then overwrite written blocks and their
 * fsync needs no file-size or extent change. I/O. */
int sqli_wal_reserve(wal *w, uint32_t frames);
uint64_t sqli_wal_frames_bytes(const wal *w, uint32_t frames);

/* Iterate the pages in the index: calls fn(arg, pgno, newest frame). */
void sqli_wal_index_foreach(const wal *w, void (*fn)(void *arg, uint32_t pgno, uint32_t frame),
                            void *arg);

#endif
