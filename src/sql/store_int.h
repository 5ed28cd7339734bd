/* sql/store_int.h — definitions shared by the store's own files (not an API).
 *
 * The store is split into:
 *   vfs.c     file I/O and fault injection
 *   wal.c     log format, frame index, recovery
 *   pager.c   open/close, file header, page cache, transactions, savepoints,
 *             free list, commit/group commit, checkpoints
 *   btree.c   page layout, B+trees, cursors, overflow chains, the directory
 *   check.c   the integrity checker
 *   keyenc.c  key encoding (independent)
 * This header holds the structures they share and small helpers.
 *
 * On-disk integers are little-endian.
 */
#ifndef LARDER_SQL_STORE_INT_H
#define LARDER_SQL_STORE_INT_H
#include "sql/store.h"
#include "sql/wal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the store's file format code assumes a little-endian host"
#endif

static inline uint16_t get16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline uint32_t get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t get64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void put16(uint8_t *p, uint16_t v) {
    memcpy(p, &v, 2);
}
static inline void put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static inline void put64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
}

/* Set the calling thread's error message and return rc (util.c). */
int sqli_store_error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 64-bit checksum of n bytes (n a multiple of 8) with a seed (util.c). */
uint64_t sqli_store_cksum(uint64_t seed, const void *p, size_t n);

/* ---- file header: page 1 -------------------------------------------------
 *
 *   offset size
 *        0   12  magic "LARDERSTORE\0"
 *       12    4  format version (1)
 *       16    4  page size in bytes
 *       20    4  page count: the database's size in pages
 *       24    4  first free-list trunk page (0 = none)
 *       28    4  free pages (trunks included)
 *       32    4  directory tree root (2)
 *       36    4  catalog tree root (3)
 *       40    8  reserved (0)
 *       48  128  16 meta slots for the SQL layer, u64 each
 *      176    8  checksum of bytes 0..175 (written when page 1 reaches the
 *                main file; lets a reader check the header before it knows
 *                the page size)
 *      184  ...  unused up to the page trailer
 *
 * Every page of the main file ends with an 8-byte checksum of the rest of the
 * page (the trailer), seeded with the page number; it is written when a
 * checkpoint copies the page from the log and checked when the page is read
 * from the main file. Log frames carry their own checksums instead.
 */
#define HDR_MAGIC "LARDERSTORE"
#define HDR_VERSION 1u
#define HDR_OFF_VERSION 12
#define HDR_OFF_PAGESIZE 16
#define HDR_OFF_PAGECOUNT 20
#define HDR_OFF_FREETRUNK 24
#define HDR_OFF_FREECOUNT 28
#define HDR_OFF_DIRROOT 32
#define HDR_OFF_CATROOT 36
#define HDR_OFF_META 48
#define HDR_OFF_CKSUM 176
#define HDR_SIZE 184
#define PAGE_TRAILER 8
#define DIR_ROOT 2u

uint64_t sqli_hdr_checksum(const uint8_t *page1);
uint64_t sqli_page_trailer_checksum(const uint8_t *page, uint32_t page_size, uint32_t pgno);

/* ---- the page cache ------------------------------------------------------ */

#define PG_DIRTY UINT32_MAX /* page.frame of a writer-private dirty page */

enum { SLOT_FREE = 0, SLOT_LOADING, SLOT_READY };

/* A cache slot. Clean slots are shared, found by (pgno, frame) in the hash,
 * and never change while pinned. Dirty slots belong to the write transaction
 * (found through its dirty map, not the hash). */
typedef struct page {
    uint8_t *data; /* page_size bytes */
    uint32_t pgno;
    uint32_t frame;  /* version: 0 = main file, f = log frame f, PG_DIRTY */
    _Atomic int pin; /* incremented under db->mu only; decremented anywhere */
    uint8_t state;   /* SLOT_* */
    uint8_t dirty;
    uint8_t ref; /* clock bit */
    uint8_t in_hash;
    uint8_t checked; /* btree.c verified this content as a sane node */
    uint32_t sp_gen; /* savepoint generation whose pre-image is saved */
    int load_rc;     /* error of a failed load, for waiters */
    struct page *hnext;
} page;

/* u32 -> pointer open-addressing map (the writer's dirty pages; savepoints). */
typedef struct u32map {
    uint32_t *keys; /* 0 = empty slot */
    void **vals;
    uint32_t cap, count;
} u32map;
void *sqli_u32map_get(const u32map *m, uint32_t k);
void sqli_u32map_put(u32map *m, uint32_t k, void *v);
void sqli_u32map_del(u32map *m, uint32_t k);
void sqli_u32map_free(u32map *m);

/* Savepoint journal: pre-images of pages first written after it opened. */
typedef struct sp_entry {
    uint32_t pgno;
    uint8_t *data; /* NULL: the page was free when the savepoint opened */
} sp_entry;
typedef struct savepoint {
    uint32_t gen;
    u32map map; /* pgno -> index + 1 into e */
    sp_entry *e;
    uint32_t n, cap;
} savepoint;

typedef struct pager_upper pager_upper;

struct store_txn {
    store_db *db;
    int write;
    int err;                  /* write txn: sticky failure, only abort remains */
    uint32_t mark;            /* newest log frame visible; UINT32_MAX for the writer */
    uint32_t base;            /* writer: frames committed when it began */
    uint32_t page_count;      /* the database's size in this transaction's view */
    store_txn *rnext, *rprev; /* readers list (db->mu) */
    struct store_cursor *cursors;
    /* the last closed cursor's memory, for the next open (a statement run
     * row after row opens and closes its row cursor each time); freed when
     * the transaction ends */
    struct store_cursor *spare;
    /* writer only */
    u32map dirty; /* pgno -> page */
    uint32_t ndirty;
    savepoint *sp;
    int nsp, spcap;
    uint32_t sp_gen, sp_counter;
    int replaying; /* inside sqli_store_rollback_to: no journaling */
    /* buffers */
    uint8_t *scratch; /* 3 pages + slack, for page rebuilds */
    uint8_t *getbuf;
    size_t getcap;
};

struct store_db {
    char *path, *wal_path;
    const pager_upper *up; /* the B-tree's callbacks */
    vfs_file *dbf;
    unsigned flags;
    uint32_t page_size, usable;
    uint32_t autockpt;
    pthread_mutex_t mu;        /* cache, log index, readers, ends */
    pthread_cond_t load_cv;    /* a slot finished loading */
    pthread_mutex_t writer_mu; /* held by the write transaction */
    pthread_mutex_t sync_mu;   /* group commit */
    pthread_cond_t sync_cv;
    int sync_running;
    int poisoned; /* an fsync failed: no more writes */
    wal wal;
    uint32_t written_end; /* last committed frame written */
    uint32_t durable_end; /* last committed frame known synced */
    uint32_t backfill;    /* frames copied to the main file */
    uint32_t nreaders;
    store_txn *readers;
    /* cache */
    page **slots;
    size_t nslots, slots_alloc, cache_pages;
    page **buckets;
    size_t nbuckets;
    size_t hand;
    /* stats */
    _Atomic uint64_t st_hits, st_misses, st_frames, st_commits, st_syncs, st_ckpts;
};

/* ---- pager API used by btree.c and check.c ------------------------------- */

/* Pin page pgno as this transaction sees it. STORE_CORRUPT if pgno is 0 or
 * beyond the database. */
int sqli_pager_get(store_txn *txn, uint32_t pgno, page **pg);
/* Make a pinned page writable (copy-on-write: *pg may change; the old pin is
 * dropped, the new page is pinned). Journals a pre-image for savepoints. */
int sqli_pager_write(store_txn *txn, page **pg);
/* Drop a pin. */
void sqli_pager_put(page *pg);
/* A new page (from the free list or the end of the file), pinned, writable,
 * zero-filled. */
int sqli_pager_alloc(store_txn *txn, page **pg);
/* Give a page to the free list. The caller holds no pin on it. */
int sqli_pager_free(store_txn *txn, uint32_t pgno);
/* Read a header field of page 1 in this transaction's view. */
int sqli_pager_hdr_get(store_txn *txn, int off, uint32_t *v);
int sqli_pager_hdr_put(store_txn *txn, int off, uint32_t v);
/* Fail a write transaction: later calls return rc. Returns rc. */
int sqli_pager_fail(store_txn *txn, int rc);

/* ---- the layer above the pager ------------------------------------------
 * The pager names no B-tree function: the B-tree hands it these callbacks at
 * open (btree.c's sqli_store_open calls sqli_pager_open), as SQLite's btree
 * hands its pager the page reinitializer. txn->cursors belongs to that layer;
 * the pager never reads it. */
struct pager_upper {
    /* Lay out the directory (listing the catalog) and the empty catalog of a
     * new file. */
    void (*format_new)(uint8_t *dir_page, uint8_t *cat_page, uint32_t usable);
    /* The transaction's pages are about to be replaced (rollback to a
     * savepoint): open cursors save their positions. */
    void (*pages_changing)(store_txn *txn);
    /* The transaction is ending (commit or abort): its cursors are closed. */
    void (*txn_ending)(store_txn *txn);
};

/* sqli_store_open's work below the B-tree, with the callbacks of the layer
 * above (kept, not copied: up must outlive the handle). */
int sqli_pager_open(const char *path, const store_options *opts, const pager_upper *up,
                    store_db **dbp);

#endif
