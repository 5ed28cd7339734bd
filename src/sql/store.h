/* sql/store.h — the storage engine of Larder's bundled SQL store.
 *
 * What it is
 * ----------
 * A database is one file of fixed-size pages (4 KiB unless chosen otherwise at
 * creation) plus a write-ahead log beside it, named "FILE-wal". Inside the file
 * live B+trees. A tree maps byte-string keys to byte-string values; keys are
 * ordered by memcmp() with the shorter key first on a common prefix, so the SQL
 * layer builds keys with the order-preserving encoding of keyenc.h and gets SQL
 * order for free (composite keys and DESC columns included).
 *
 * A tree is named by its root page number (store_tree). The root never moves,
 * so the number is stable for the whole life of the tree and can be kept in a
 * schema. Every database has two trees from birth:
 *   - the directory (internal): one entry per tree, with what kind of tree it
 *     is; the integrity checker uses it to reach every page;
 *   - the catalog, STORE_CATALOG: an ordinary tree reserved for the SQL layer's
 *     schema (table and index definitions, their tree numbers, ...).
 * The file header also keeps STORE_META_SLOTS 64-bit slots for the SQL layer
 * (a schema cookie, for instance), read and written inside transactions.
 *
 * Transactions
 * ------------
 * Everything happens inside a transaction. Any number of read transactions run
 * at the same time as one write transaction. A read transaction sees the
 * database as it was when it began (a snapshot) however long it lasts and
 * whatever writers commit meanwhile. A write transaction sees its own changes.
 * A second sqli_store_begin(STORE_TXN_WRITE) waits until the running writer ends
 * (or fails with STORE_BUSY under STORE_TXN_NOWAIT).
 *
 * sqli_store_commit() returns when the transaction is durable: its log frames have
 * been written and fsync'ed. Writers that commit at the same time share one
 * fsync (group commit): a committer releases the writer lock as soon as its
 * frames are written, so the next writer works while the fsync runs, and one
 * fsync covers every commit written before it started. Readers see a commit
 * only once it is durable.
 *
 * Savepoints nest inside a write transaction; rolling back to one undoes the
 * changes made since, for statement-level rollback. A savepoint keeps in
 * memory a copy of each page first changed after it opened, until it is
 * released or the transaction ends.
 *
 * A write transaction larger than the page cache writes ("spills") dirty
 * pages to the log before it commits; they stay invisible to everyone else
 * and are discarded if it rolls back.
 *
 * Threads and processes
 * ---------------------
 * One store_db handle is shared by all threads of the process that opened it.
 * A store_txn and its cursors are used by one thread at a time (they may move
 * between threads). A database file is open read-write by at most one handle
 * in the whole system; read-only handles may share it among themselves but not
 * with a read-write handle. A conflicting open fails with STORE_BUSY (the lock
 * is an open-file-description lock on the main file).
 *
 * Errors
 * ------
 * Functions that return int return STORE_OK (0) or one of the codes below.
 * sqli_store_strerror() names a code; sqli_store_errmsg() gives the calling thread's
 * detailed text for the most recent error a store function returned to it
 * (file name, page number, errno text). The library never prints, never exits
 * and never aborts on bad input: a corrupt, truncated or foreign file gives
 * STORE_CORRUPT / STORE_NOTADB, a full disk STORE_FULL, a read-only file
 * STORE_READONLY. Asserts (always on) guard internal invariants only.
 *
 * When a write transaction hits an error that may leave its in-memory state
 * half changed (I/O error, corruption, disk full while spilling pages), the
 * transaction is failed: every later call on it returns the same error and
 * only sqli_store_abort() is useful. Committed data is never affected.
 *
 * If an fsync of the log fails, the outcome of the commits it covered is in
 * doubt (the kernel may have dropped the dirty pages): those commits return
 * STORE_IOERR, and the handle refuses further write transactions with
 * STORE_IOERR until it is closed and reopened. The same holds when writing a
 * commit's frames fails with an I/O error other than a full disk. Recovery at
 * the next open then finds each in-doubt transaction either whole or absent,
 * never in part. A commit that fails with STORE_FULL is definitely absent and
 * the handle stays usable.
 *
 * How it works (details in pager.c, wal.c, btree.c)
 * -------------------------------------------------
 * Commits append page images ("frames") to the log; the main file changes
 * only at checkpoints, which copy the newest committed frames back and then
 * restart the log. A reader remembers the last frame of the last durable
 * commit when it began (its mark) and reads every page from the newest frame
 * at or below the mark, else from the main file; checkpoints never copy past
 * the oldest reader's mark. So readers never block the writer or each other
 * and always see a consistent snapshot. A long-lived reader keeps the log
 * from restarting (it grows) until it ends.
 *
 * Ownership
 * ---------
 * Handles returned through an out-parameter belong to the caller and are given
 * back with the matching close/commit/abort. Key and value pointers returned by
 * cursor and get functions point into the store's memory and stay valid until
 * the next call that moves or modifies that cursor (or, for sqli_store_get, the next
 * sqli_store_get on that transaction) or until the transaction ends; copy them to
 * keep them.
 */
#ifndef LARDER_SQL_STORE_H
#define LARDER_SQL_STORE_H
#include <stddef.h>
#include <stdint.h>

/* ---- return codes ------------------------------------------------------- */
typedef enum store_rc {
    STORE_OK = 0,   /* success */
    STORE_NOTFOUND, /* no such key, no such tree, or a cursor stepped past either end;
                       an answer rather than a failure: nothing changed */
    STORE_EXISTS,   /* sqli_store_put/sqli_store_cursor_put with STORE_NOOVERWRITE on a key
                       that is present; nothing changed */
    STORE_BUSY,     /* the file is locked by another handle or process; or a
                       second writer under STORE_TXN_NOWAIT */
    STORE_READONLY, /* a write on a read-only handle or read transaction, or the
                       file (or its directory, for the log) is not writable */
    STORE_CANTOPEN, /* the file cannot be opened: missing (without STORE_CREATE),
                       permission denied, a directory, ... */
    STORE_NOTADB,   /* the file is not a Larder store (wrong magic, foreign file,
                       header checksum wrong, impossible page size) */
    STORE_VERSION,  /* a Larder store of a newer format than this library knows */
    STORE_CORRUPT,  /* a page fails its checksum or has an impossible structure,
                       or the file is shorter than its header says */
    STORE_IOERR,    /* read, write or fsync failed (see sqli_store_errmsg for errno) */
    STORE_FULL,     /* the disk or quota is full (ENOSPC, EDQUOT, EFBIG) */
    STORE_TOOBIG,   /* key longer than sqli_store_max_key(), or value longer than
                       STORE_MAX_VALUE */
    STORE_MISUSE,   /* the API was called wrongly: null handle, write through a
                       read transaction, bad flag, unpositioned cursor, ... */
} store_rc;

/* Static English name of a code ("STORE_CORRUPT: database file is corrupt"). */
const char *sqli_store_strerror(int rc);

/* The calling thread's detailed message for the last error a store function
 * returned to it; "" if none. The text lives in thread-local storage: valid
 * until the thread's next store call. Messages of STORE_NOTFOUND and
 * STORE_EXISTS are not always set (they are answers, not failures). */
const char *sqli_store_errmsg(void);

/* ---- limits ------------------------------------------------------------- */
#define STORE_DEFAULT_PAGE_SIZE 4096u
#define STORE_MIN_PAGE_SIZE 1024u
#define STORE_MAX_PAGE_SIZE 65536u
#define STORE_MAX_VALUE (1u << 30)    /* 1 GiB per value */
#define STORE_META_SLOTS 16           /* 64-bit header slots for the SQL layer */
#define STORE_CATALOG ((store_tree)3) /* the SQL layer's schema tree */

/* ---- handles ------------------------------------------------------------ */
typedef struct store_db store_db;         /* an open database file */
typedef struct store_txn store_txn;       /* a read or write transaction */
typedef struct store_cursor store_cursor; /* a position in one tree */
typedef uint32_t store_tree;              /* a tree: its root page number */

/* ---- open / close ------------------------------------------------------- */

/* Open flags (store_options.flags). */
#define STORE_CREATE 0x01u /* create the file if it does not exist */
#define STORE_RDONLY                                                                               \
    0x02u /* open read-only: no writes, no checkpoints, no log                                     \
             file created; committed log frames left by a crash                                    \
             are read, not replayed into the file */
#define STORE_NOSYNC                                                                               \
    0x04u /* never fsync: commits are atomic but not durable.                                      \
             For tests and benchmarks only */
/* A transient database in memory: the file and the log are anonymous memfds,
 * path only names it in messages, nothing touches the file system and
 * everything is gone at close. Implies STORE_CREATE and STORE_NOSYNC; not
 * with STORE_RDONLY (STORE_MISUSE). */
#define STORE_MEMORY 0x08u

typedef struct store_options {
    unsigned flags;          /* STORE_CREATE | STORE_RDONLY | STORE_NOSYNC | STORE_MEMORY */
    uint32_t page_size;      /* for a new file; power of two within
                                [STORE_MIN_PAGE_SIZE, STORE_MAX_PAGE_SIZE]; 0 = 4096.
                                An existing file keeps its own page size */
    size_t cache_size;       /* page cache bound in bytes; 0 = 8 MiB; at least 32
                                pages. The cache may exceed it only while more
                                pages than that are pinned at once */
    uint32_t autocheckpoint; /* checkpoint when the log holds this many frames
                                after a commit; 0 = 1000; UINT32_MAX = never */
} store_options;

/* Open (and with STORE_CREATE, create) the database at path.
 *   opts: may be NULL for defaults (read-write, no create).
 * Recovery runs here: committed transactions found in the log are kept, a torn
 * or uncommitted tail is ignored, and (read-write) the log is checkpointed into
 * the file. On success *dbp owns the handle; on error *dbp is NULL.
 * Errors: STORE_CANTOPEN, STORE_BUSY, STORE_NOTADB, STORE_VERSION,
 * STORE_CORRUPT, STORE_READONLY (read-write open of an unwritable file),
 * STORE_IOERR, STORE_FULL, STORE_MISUSE (bad page size). */
int sqli_store_open(const char *path, const store_options *opts, store_db **dbp);

/* Checkpoint what it can, release the file locks and free the handle.
 * Every transaction must have ended (asserted). After a complete checkpoint
 * the log file is removed, so a cleanly closed database is one file. Returns
 * the checkpoint's error, if any (the handle is freed regardless; the data
 * stays safe in the log). */
int sqli_store_close(store_db *db);

/* Copy committed log frames back into the main file now. Frames still needed
 * by running readers stay in the log; the log restarts when none are.
 * Must not be called from a thread that has a write transaction open. */
int sqli_store_checkpoint(store_db *db);

/* The file's page size in bytes. */
uint32_t sqli_store_page_size(const store_db *db);

/* The longest key sqli_store_put accepts for this page size (about a quarter of a
 * page, see btree.c for the exact rule). */
size_t sqli_store_max_key(const store_db *db);

/* Counters for tests and INFO-style reports (approximate under concurrency). */
typedef struct store_stats {
    uint64_t cache_hits, cache_misses; /* page lookups */
    uint64_t frames_written;           /* log frames written, spills included */
    uint64_t commits, syncs;           /* durable commits; log fsyncs (group
                                          commit makes syncs < commits) */
    uint64_t checkpoints;              /* checkpoints run */
    uint32_t page_count;               /* pages in the database (latest commit) */
    uint32_t free_pages;               /* pages on the free list (latest commit) */
    uint32_t wal_frames;               /* frames in the log now */
    size_t cache_pages;                /* pages the cache holds now */
} store_stats;
void sqli_store_get_stats(store_db *db, store_stats *st);

/* ---- transactions ------------------------------------------------------- */

#define STORE_TXN_READ 0x00u  /* a read-only snapshot */
#define STORE_TXN_WRITE 0x01u /* the one write transaction */
#define STORE_TXN_NOWAIT                                                                           \
    0x02u /* with WRITE: fail with STORE_BUSY instead of                                           \
             waiting for the running writer */

/* Begin a transaction. A read transaction pins the snapshot of the latest
 * durable commit. A write transaction waits for the writer lock (unless
 * STORE_TXN_NOWAIT) and sees every commit before it.
 * Errors: STORE_READONLY (write on a read-only handle), STORE_BUSY,
 * STORE_IOERR (the handle is poisoned by an earlier fsync failure). */
int sqli_store_begin(store_db *db, unsigned flags, store_txn **txnp);

/* Commit and free the transaction (and its remaining cursors). For a write
 * transaction, returns once the changes are durable. On error nothing of the
 * transaction is visible and the transaction is freed all the same; for
 * STORE_IOERR after an fsync failure see "Errors" above.
 * A read transaction just ends (same as sqli_store_abort). */
int sqli_store_commit(store_txn *txn);

/* sqli_store_commit without the wait: the frames are written and the writer
 * lock released; *target gets what sqli_store_wait_durable waits for (0:
 * nothing written). Readers see the commit once it is durable. */
int sqli_store_commit_nowait(store_txn *txn, uint32_t *target);

/* Waits until the frame a commit_nowait gave is durable (fsync'ing if no one
 * else is); any thread, while others use the database. */
int sqli_store_wait_durable(store_db *db, uint32_t target);

/* Roll back and free the transaction and its remaining cursors. */
void sqli_store_abort(store_txn *txn);

/* Nonzero for a write transaction. */
int sqli_store_txn_is_write(const store_txn *txn);

/* Savepoints (write transactions only). sqli_store_savepoint opens a new innermost
 * savepoint and returns its level in *level (1 for the outermost).
 * sqli_store_rollback_to(level) undoes every change made since that savepoint was
 * opened; the savepoint stays open (SQL's ROLLBACK TO). sqli_store_release(level)
 * closes that savepoint and every one inside it, keeping their changes.
 * Cursors of the transaction lose their position on sqli_store_rollback_to (they
 * re-seek their last key lazily); cursors on trees created after the savepoint
 * must be closed first.
 * Errors: STORE_MISUSE (read transaction, no such level), STORE_IOERR. */
int sqli_store_savepoint(store_txn *txn, int *level);
int sqli_store_rollback_to(store_txn *txn, int level);
int sqli_store_release(store_txn *txn, int level);

/* The SQL layer's header slots, slot in [0, STORE_META_SLOTS). A new database
 * has all slots 0. sqli_store_meta_set needs a write transaction. */
int sqli_store_meta_get(store_txn *txn, int slot, uint64_t *value);
int sqli_store_meta_set(store_txn *txn, int slot, uint64_t value);

/* ---- trees -------------------------------------------------------------- */

/* What a tree holds, recorded in the directory for the integrity checker. */
typedef enum store_tree_kind {
    STORE_TREE_TABLE = 1, /* a table: key = encoded primary key, value = row */
    STORE_TREE_INDEX = 2, /* a secondary index of a table (see store_tree_info) */
    STORE_TREE_OTHER = 3, /* anything else: no cross-checks */
    STORE_TREE_FTS = 4,   /* a full-text index of a table (sql/fts.c): table and ncols as
                             for an index; the checker verifies its rows and counts */
} store_tree_kind;

#define STORE_INDEX_PARTIAL                                                                        \
    0x01u /* an index over part of the table's rows:                                               \
             the checker does not compare row counts */

/* Description of a tree. For an index: table is the indexed table's tree; an
 * index key is ncols keyenc components (the indexed columns) followed by the
 * table's key; if the key has exactly ncols components (a unique index keeping
 * the table key in its value) the value is the table key. The checker then
 * verifies that every index entry names a row of the table and, unless
 * STORE_INDEX_PARTIAL, that the counts match. */
typedef struct store_tree_info {
    store_tree_kind kind;
    store_tree table; /* index only */
    uint32_t ncols;   /* index only: leading components that are index columns */
    uint32_t flags;   /* STORE_INDEX_PARTIAL */
} store_tree_info;

/* Create an empty tree; *tree receives its number (root page). info may be
 * NULL (STORE_TREE_OTHER). Needs a write transaction. */
int sqli_store_tree_create(store_txn *txn, const store_tree_info *info, store_tree *tree);

/* Drop a tree and give all its pages to the free list. Open cursors on it must
 * be closed first. STORE_NOTFOUND if no such tree; the catalog cannot be
 * dropped (STORE_MISUSE). */
int sqli_store_tree_drop(store_txn *txn, store_tree tree);

/* Delete every entry of a tree, keeping the tree (DELETE without WHERE). */
int sqli_store_tree_clear(store_txn *txn, store_tree tree);

/* Read a tree's description. STORE_NOTFOUND if no such tree. */
int sqli_store_tree_get_info(store_txn *txn, store_tree tree, store_tree_info *info);

/* Walk the directory: calls fn for every tree (catalog included) in number
 * order; a nonzero return from fn stops the walk and is returned. */
int sqli_store_tree_foreach(store_txn *txn,
                            int (*fn)(void *arg, store_tree tree, const store_tree_info *info),
                            void *arg);

/* ---- point operations --------------------------------------------------- */

/* Put flags. */
#define STORE_NOOVERWRITE 0x01u /* fail with STORE_EXISTS if the key is present */
#define STORE_APPEND                                                                               \
    0x02u /* the key sorts after every key in the tree:                                            \
             skips the search and splits pages so that                                             \
             they stay full (bulk loading in key order);                                           \
             STORE_MISUSE if the key does not sort last */

/* Look a key up. On STORE_OK *val and *vlen give the value (overflow values are
 * assembled into a buffer owned by the transaction). STORE_NOTFOUND if absent. */
int sqli_store_get(store_txn *txn, store_tree tree, const void *key, size_t klen, const void **val,
                   size_t *vlen);

/* A rough count of a tree's entries, for the query planner: the product of
 * the fan-outs met on one path from the root to a leaf (the middle child at
 * each level), without reading the rest of the tree. Within a small factor of
 * the truth for a tree of evenly filled pages; 0 for an empty tree.
 * Errors: STORE_NOTFOUND (no such tree), STORE_CORRUPT, STORE_IOERR. */
int sqli_store_tree_estimate(store_txn *txn, store_tree tree, uint64_t *nentries);

/* Insert or replace. Errors: STORE_EXISTS (NOOVERWRITE), STORE_TOOBIG,
 * STORE_MISUSE (read transaction; APPEND out of order), STORE_FULL, STORE_IOERR. */
int sqli_store_put(store_txn *txn, store_tree tree, const void *key, size_t klen, const void *val,
                   size_t vlen, unsigned flags);

/* Delete a key. STORE_NOTFOUND if absent. */
int sqli_store_del(store_txn *txn, store_tree tree, const void *key, size_t klen);

/* ---- cursors ------------------------------------------------------------ */

/* Seek operations. */
typedef enum store_seek {
    STORE_SEEK_EQ,     /* the entry whose key equals key */
    STORE_SEEK_GE,     /* the first entry with key >= key */
    STORE_SEEK_GT,     /* the first entry with key > key */
    STORE_SEEK_LE,     /* the last entry with key <= key */
    STORE_SEEK_LT,     /* the last entry with key < key */
    STORE_SEEK_PREFIX, /* the first entry whose key starts with key; the cursor
                          then stays within that prefix: next/prev return
                          STORE_NOTFOUND at its ends (until the next seek) */
    STORE_SEEK_FIRST,  /* the first entry (key ignored) */
    STORE_SEEK_LAST,   /* the last entry (key ignored) */
} store_seek;

/* Open a cursor on a tree; it starts unpositioned. The cursor belongs to txn
 * and is freed by sqli_store_cursor_close or when txn ends. */
int sqli_store_cursor_open(store_txn *txn, store_tree tree, store_cursor **curp);
void sqli_store_cursor_close(store_cursor *cur);

/* Position the cursor. STORE_OK: positioned on an entry. STORE_NOTFOUND: no
 * such entry. */
int sqli_store_cursor_seek(store_cursor *cur, store_seek op, const void *key, size_t klen);

/* Step to the next / previous entry; STORE_NOTFOUND past the end (or past the
 * prefix bound). After any STORE_NOTFOUND the cursor is unpositioned (key and
 * value calls give STORE_MISUSE) but remembers where it stood: next and prev
 * continue from that place, so prev after running off the end gives the last
 * entry, and next after a failed STORE_SEEK_EQ gives the first entry above the
 * key. A cursor never positioned: next = first entry, prev = last entry. */
int sqli_store_cursor_next(store_cursor *cur);
int sqli_store_cursor_prev(store_cursor *cur);

/* The current entry's key, and its value. Value of an overflowing entry is
 * assembled in a cursor-owned buffer; use sqli_store_cursor_value_read to read part
 * of a large value without assembling it. STORE_MISUSE if unpositioned. */
int sqli_store_cursor_key(store_cursor *cur, const void **key, size_t *klen);
int sqli_store_cursor_value(store_cursor *cur, const void **val, size_t *vlen);
int sqli_store_cursor_value_size(store_cursor *cur, size_t *vlen);
/* Copy n bytes of the current value from offset off into buf (n + off must not
 * exceed the value size: STORE_MISUSE). */
int sqli_store_cursor_value_read(store_cursor *cur, size_t off, void *buf, size_t n);

/* Insert or replace (flags as for sqli_store_put) and leave the cursor on the
 * entry. */
int sqli_store_cursor_put(store_cursor *cur, const void *key, size_t klen, const void *val,
                          size_t vlen, unsigned flags);

/* Replace the value of the current entry, keeping its key. */
int sqli_store_cursor_update(store_cursor *cur, const void *val, size_t vlen);
/* Does cur stand on the entry with this key now (without restoring a saved
 * position)? 1 or 0; no error is set. */
int sqli_store_cursor_is_on(const store_cursor *cur, const void *key, size_t klen);

/* Delete the current entry. The cursor is left unpositioned between the
 * deleted entry's neighbours: sqli_store_cursor_next goes to the entry after it,
 * sqli_store_cursor_prev to the one before. */
int sqli_store_cursor_delete(store_cursor *cur);

/* ---- whole-file copy (VACUUM) ------------------------------------------- */

/* Make the write transaction txn's database an exact copy of src's committed
 * state (every page, the header with its page count, free list and meta
 * slots); src must have the same page size and no write transaction of this
 * thread. Cursors of txn must be closed. The commit is atomic and durable
 * like any other; the checkpoint that copies it to the main file truncates
 * the file to the new size. Errors: STORE_MISUSE (read transaction, page
 * size), I/O errors. */
int sqli_store_copy_from(store_txn *txn, store_db *src);

/* ---- integrity ---------------------------------------------------------- */

/* Result of sqli_store_check. Problems are reported through the callback (one
 * line of text each, no newline) and counted; the check goes on after a
 * problem as far as the structure allows. */
typedef struct store_check_report {
    uint32_t page_count; /* pages in the database */
    uint32_t tree_count; /* trees in the directory */
    uint32_t free_pages; /* pages on the free list */
    uint64_t entries;    /* entries in all trees */
    uint64_t overflow_pages;
    uint64_t problems; /* inconsistencies found */
} store_check_report;

/* Check the database seen by txn (any kind): the header; every page reachable
 * exactly once from the trees of the directory, the free list or the header;
 * page checksums and structure; keys strictly increasing in every tree and
 * within the separator bounds of their parents; overflow chains of the right
 * length; the free list's count; every index consistent with its table (see
 * store_tree_info). report receives the counts; problem (may be NULL) each
 * finding. Returns STORE_OK when the check ran (look at report->problems),
 * an error when it could not (I/O error). */
int sqli_store_check(store_txn *txn, store_check_report *report,
                     void (*problem)(void *arg, const char *msg), void *arg);

#endif
