/* sql/pager.c — database files, page cache, transactions, commit, checkpoint.
 *
 * Versions. A page may exist in several versions at once: in the main file
 * (version 0), in log frames (version = frame number), and as the writer's
 * private dirty copy. A transaction sees, for each page, the newest frame at or
 * below its mark (readers: the last durable commit when they began; the
 * writer: everything), or else the main file. The cache holds clean versions
 * keyed by (page, version), shared by all transactions, and the writer's dirty
 * pages in its own map.
 *
 *   main file  [1][2][3][4]...          log  [f1:p2][f2:p4][f3:p2 commit][f4:p3]...
 *                                        reader mark=3 sees p2@f3, p4@f2, p3@file
 *
 * Invariants (the asserts below check what they can):
 *   1. A clean cached version never changes while it is in the hash; a page is
 *      written only as the writer's dirty copy (copy-on-write on first write in
 *      a transaction), except that the writer may take over its own spilled
 *      frame (version > base), which no reader can see.
 *   2. Readers see only frames <= durable_end: a commit is visible once synced.
 *      The writer's base is written_end: it builds on every written commit.
 *   3. A checkpoint copies to the main file only the newest version of a page
 *      at or below min(durable_end, every reader's mark), so no reader ever
 *      reads a main-file page that a checkpoint is changing: any reader for
 *      whom the copied page would differ finds a frame instead.
 *   4. The log restarts (sqli_wal_reset, frame numbers from 1) only when every frame
 *      is in the main file and every reader's mark is the last frame; readers
 *      then read everything from the main file (mark 0) and cached frame
 *      versions are re-keyed as main-file versions.
 *   5. Pins are taken under db->mu; a slot with pins is never evicted or
 *      reused. The writer holds db->writer_mu from begin until its frames are
 *      written; checkpoints also run under it.
 *   6. Savepoints: before the first change to a page after a savepoint opened,
 *      its content is copied to that savepoint's journal (or NULL when the page
 *      was free then), so rolling back restores every page exactly.
 *   7. Every fsync failure poisons the handle: no later write transaction can
 *      start, so nothing builds on a commit whose durability is unknown.
 */
#include "sql/store_int.h"
#include "util/mem.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_CACHE (8u << 20)
#define MIN_CACHE_PAGES 32
#define DEFAULT_AUTOCKPT 1000u
#define WAL_RESERVE_MAX 1024u /* frames kept written in the log file */

/* ---- header helpers ------------------------------------------------------ */

static int valid_page_size(uint32_t ps) {
    return ps >= STORE_MIN_PAGE_SIZE && ps <= STORE_MAX_PAGE_SIZE && (ps & (ps - 1)) == 0;
}

/* Make a main-file image: header checksum (page 1) and trailer. */
static void seal_page(uint8_t *buf, uint32_t ps, uint32_t pgno) {
    if (pgno == 1) put64(buf + HDR_OFF_CKSUM, sqli_hdr_checksum(buf));
    put64(buf + ps - PAGE_TRAILER, sqli_page_trailer_checksum(buf, ps, pgno));
}

static int db_read_page(store_db *db, uint32_t pgno, uint8_t *buf) {
    size_t got;
    int rc = sqli_vfs_read(db->dbf, buf, db->page_size, (uint64_t)(pgno - 1) * db->page_size, &got);
    if (rc != STORE_OK) return rc;
    if (got != db->page_size)
        return sqli_store_error(STORE_CORRUPT, "%s: page %u is beyond the end of the file",
                                db->path, pgno);
    if (get64(buf + db->page_size - PAGE_TRAILER) !=
        sqli_page_trailer_checksum(buf, db->page_size, pgno))
        return sqli_store_error(STORE_CORRUPT, "%s: page %u fails its checksum", db->path, pgno);
    return STORE_OK;
}

/* ---- cache --------------------------------------------------------------- */

static inline size_t bucket_of(const store_db *db, uint32_t pgno, uint32_t frame) {
    uint64_t k = ((uint64_t)pgno << 32) | frame;
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 40) & (db->nbuckets - 1);
}

static page *hash_find(store_db *db, uint32_t pgno, uint32_t frame) {
    for (page *p = db->buckets[bucket_of(db, pgno, frame)]; p; p = p->hnext)
        if (p->pgno == pgno && p->frame == frame) return p;
    return NULL;
}

static void hash_insert(store_db *db, page *p) {
    assert(!p->in_hash && !p->dirty);
    size_t b = bucket_of(db, p->pgno, p->frame);
    p->hnext = db->buckets[b];
    db->buckets[b] = p;
    p->in_hash = 1;
}

static void hash_remove(store_db *db, page *p) {
    assert(p->in_hash);
    page **pp = &db->buckets[bucket_of(db, p->pgno, p->frame)];
    while (*pp != p) pp = &(*pp)->hnext;
    *pp = p->hnext;
    p->hnext = NULL;
    p->in_hash = 0;
}

/* Take a version out of the cache: unhashed, and reusable once unpinned. */
static void detach(store_db *db, page *p) {
    if (p->in_hash) hash_remove(db, p);
    if (p->state != SLOT_LOADING) p->state = SLOT_FREE;
}

static void rehash(store_db *db, size_t nbuckets) {
    xfree(db->buckets);
    db->nbuckets = nbuckets;
    db->buckets = xcalloc(nbuckets, sizeof *db->buckets);
    for (size_t i = 0; i < db->nslots; i++) {
        page *p = db->slots[i];
        if (p->in_hash) {
            p->in_hash = 0;
            hash_insert(db, p);
        }
    }
}

static page *slot_new(store_db *db) {
    if (db->nslots == db->slots_alloc) {
        db->slots_alloc = db->slots_alloc ? db->slots_alloc * 2 : 64;
        db->slots = xrealloc(db->slots, sizeof *db->slots * db->slots_alloc);
    }
    page *p = xcalloc(1, sizeof *p);
    p->data = xmalloc(db->page_size);
    db->slots[db->nslots++] = p;
    if (db->nslots * 2 > db->nbuckets) rehash(db, db->nbuckets * 2);
    return p;
}

/* A free slot, unpinned and unhashed; NULL if every slot is pinned or dirty
 * and may_grow is 0. Called under db->mu. */
static page *cache_grab(store_db *db, int may_grow) {
    if (db->nslots < db->cache_pages) return slot_new(db);
    for (size_t steps = 0; steps < 2 * db->nslots; steps++) {
        page *p = db->slots[db->hand];
        db->hand = (db->hand + 1) % db->nslots;
        if (atomic_load_explicit(&p->pin, memory_order_acquire) || p->dirty ||
            p->state == SLOT_LOADING)
            continue;
        if (p->state == SLOT_READY && p->ref) {
            p->ref = 0;
            continue;
        }
        if (p->in_hash) hash_remove(db, p);
        p->state = SLOT_FREE;
        return p;
    }
    return may_grow ? slot_new(db) : NULL;
}

static inline void pin(page *p) {
    atomic_fetch_add_explicit(&p->pin, 1, memory_order_relaxed);
}

void sqli_pager_put(page *p) {
    if (!p) return;
    int old = atomic_fetch_sub_explicit(&p->pin, 1, memory_order_release);
    assert(old > 0);
    (void)old;
}

/* ---- the writer's dirty pages --------------------------------------------- */

int sqli_pager_fail(store_txn *txn, int rc) {
    if (txn->write && !txn->err && rc != STORE_OK) txn->err = rc;
    return rc;
}

static int cmp_out(const void *a, const void *b) {
    const wal_out *x = a, *y = b;
    /* Overwrites (frame != 0) first in frame order, then appends by page. */
    if ((x->frame != 0) != (y->frame != 0)) return x->frame ? -1 : 1;
    if (x->frame) return x->frame < y->frame ? -1 : 1;
    return x->pgno < y->pgno ? -1 : x->pgno > y->pgno;
}

/* Sort n entries of v into cmp_out's order: overwrites (frame != 0) first
 * by frame, then appends by page. A commit of a batch that touched most of
 * a table sorts thousands of pages, where qsort's calls of cmp_out cost more
 * than the rest of the commit's bookkeeping: an LSD radix sort, 8 bits a
 * pass, of each part by its 32-bit number (frames and page numbers are
 * unique within a part). */
static void sort_out(wal_out *v, uint32_t n) {
    if (n < 2) return;
    wal_out *tmp = xmalloc(sizeof *tmp * n);
    uint32_t nf = 0; /* overwrites to the front, appends after, order kept */
    for (uint32_t i = 0; i < n; i++)
        if (v[i].frame) tmp[nf++] = v[i];
    for (uint32_t i = 0, k = nf; i < n; i++)
        if (!v[i].frame) tmp[k++] = v[i];
    memcpy(v, tmp, sizeof *v * n);
    for (int part = 0; part < 2; part++) {
        wal_out *a = part ? v + nf : v, *b = part ? tmp + nf : tmp;
        uint32_t m = part ? n - nf : nf;
        for (int shift = 0; shift < 32 && m > 1; shift += 8) {
            uint32_t count[257] = {0};
            for (uint32_t i = 0; i < m; i++)
                count[(((part ? a[i].pgno : a[i].frame) >> shift) & 0xFF) + 1]++;
            for (int c = 0; c < 256; c++) count[c + 1] += count[c];
            for (uint32_t i = 0; i < m; i++)
                b[count[((part ? a[i].pgno : a[i].frame) >> shift) & 0xFF]++] = a[i];
            wal_out *t = a;
            a = b;
            b = t;
        }
        /* four passes: the sorted part is back in v */
    }
    xfree(tmp);
    for (uint32_t i = 1; i < n; i++) assert(cmp_out(&v[i - 1], &v[i]) <= 0);
}

/* The dirty pages to write, into v: every one for a commit; for a spill,
 * half of the unpinned ones, first those not used since the last spill
 * (second chance), so the hot half stays dirty and is not rewritten at every
 * spill. Returns how many. */
static uint32_t collect_dirty(store_txn *txn, int commit, wal_out *v) {
    u32map *m = &txn->dirty;
    uint32_t target = commit ? UINT32_MAX : (m->count + 1) / 2, cold = 0, n = 0;
    if (!commit)
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->keys[i] && !((page *)m->vals[i])->ref) cold++;
    for (uint32_t i = 0; i < m->cap && n < target; i++) {
        page *p = m->vals[i];
        if (!m->keys[i]) continue;
        if (!commit && atomic_load(&p->pin)) continue;
        if (!commit && p->ref) {
            p->ref = 0;
            if (cold >= target) continue; /* enough cold pages: keep this one */
            cold++;
        }
        if (p->pgno > txn->page_count) continue; /* cut off by a savepoint rollback */
        uint32_t f = sqli_wal_find(&txn->db->wal, p->pgno, UINT32_MAX);
        v[n].pgno = p->pgno;
        v[n].frame = f > txn->base ? f : 0; /* overwrite our own spill, else append */
        v[n].data = p->data;
        n++;
    }
    return n;
}

/* After sqli_wal_write: index the frames, and turn the written dirty pages into
 * clean cached versions. A commit also frees what stays dirty (pages beyond
 * the database) and publishes its end. */
static void install_flushed(store_txn *txn, const wal_out *v, page **pv, uint32_t n, int commit) {
    store_db *db = txn->db;
    u32map *m = &txn->dirty;
    pthread_mutex_lock(&db->mu);
    sqli_wal_index_add(&db->wal, v, n);
    for (uint32_t i = 0; i < n; i++) {
        page *p = pv[i];
        if (!p || !p->dirty) continue; /* page 1 appended from the shared cache */
        page *old = hash_find(db, p->pgno, v[i].frame);
        if (old) detach(db, old); /* a stale image of an overwritten frame */
        sqli_u32map_del(m, p->pgno);
        txn->ndirty--;
        p->dirty = 0;
        p->frame = v[i].frame;
        p->sp_gen = 0;
        p->state = SLOT_READY;
        hash_insert(db, p);
    }
    if (commit) {
        for (uint32_t i = 0; i < m->cap; i++) {
            page *p = m->vals[i];
            if (!m->keys[i]) continue;
            p->dirty = 0;
            p->state = SLOT_FREE;
            atomic_store(&p->pin, 0);
        }
        db->written_end = db->wal.n;
    }
    pthread_mutex_unlock(&db->mu);
}

/* Write dirty pages to the log and make them clean cached versions. With
 * commit_pages != 0 this is the commit (all pages, the last frame marked);
 * otherwise a spill. */
static int flush_dirty(store_txn *txn, uint32_t commit_pages) {
    store_db *db = txn->db;
    u32map *m = &txn->dirty;
    page *p1 = NULL;
    int rc = STORE_OK;
    /* Pin page 1 first: loading it may spill, which must not happen while
     * the list below is being built. */
    if (commit_pages && (rc = sqli_pager_get(txn, 1, &p1)) != STORE_OK) return rc;
    wal_out *v = xmalloc(sizeof *v * (m->count + 1));
    page **pv = xmalloc(sizeof *pv * (m->count + 1));
    uint32_t n = collect_dirty(txn, commit_pages != 0, v);
    if (n == 0 && !commit_pages) goto done;
    sort_out(v, n);
    if (commit_pages && (n == 0 || v[n - 1].frame != 0)) {
        /* The commit frame must be a new frame: append page 1 once more. */
        v[n].pgno = 1;
        v[n].frame = 0;
        v[n].data = p1->data;
        n++;
    }
    for (uint32_t i = 0; i < n; i++) pv[i] = sqli_u32map_get(m, v[i].pgno);
    rc = sqli_wal_write(&db->wal, v, n, txn->base, commit_pages);
    if (rc != STORE_OK) goto done;
    atomic_fetch_add(&db->st_frames, n);
    install_flushed(txn, v, pv, n, commit_pages != 0);
done:
    sqli_pager_put(p1);
    xfree(v);
    xfree(pv);
    return rc;
}

static int spill(store_txn *txn) {
    int rc = flush_dirty(txn, 0);
    return sqli_pager_fail(txn, rc);
}

/* A slot for the writer: spills when dirty pages crowd the cache. Returns
 * with db->mu held on success. */
static int writer_slot(store_txn *txn, page **out) {
    store_db *db = txn->db;
    if (txn->ndirty >= db->cache_pages * 3 / 4) {
        int rc = spill(txn);
        if (rc != STORE_OK) return rc;
    }
    pthread_mutex_lock(&db->mu);
    page *p = cache_grab(db, 0);
    if (!p) {
        pthread_mutex_unlock(&db->mu);
        int rc = spill(txn);
        if (rc != STORE_OK) return rc;
        pthread_mutex_lock(&db->mu);
        p = cache_grab(db, 1);
    }
    *out = p;
    return STORE_OK;
}

static void journal_add(savepoint *sp, uint32_t pgno, const uint8_t *data, uint32_t ps) {
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 16;
        sp->e = xrealloc(sp->e, sizeof *sp->e * sp->cap);
    }
    sp->e[sp->n].pgno = pgno;
    sp->e[sp->n].data = data ? (uint8_t *)xmemdup(data, ps) : NULL;
    sp->n++;
    sqli_u32map_put(&sp->map, pgno, (void *)(uintptr_t)sp->n);
}

/* Save the pre-image of a page about to change (data NULL: it was free). */
static void journal(store_txn *txn, page *p, int was_free) {
    if (txn->nsp == 0 || txn->replaying || p->sp_gen == txn->sp_gen) return;
    savepoint *sp = &txn->sp[txn->nsp - 1];
    if (!sqli_u32map_get(&sp->map, p->pgno))
        journal_add(sp, p->pgno, was_free ? NULL : p->data, txn->db->page_size);
    p->sp_gen = txn->sp_gen;
}

/* ---- page access ------------------------------------------------------------ */

/* Load version `frame` of pgno into slot p (SLOT_LOADING, pinned by us,
 * hashed); called and returning with db->mu held, which it drops for I/O.
 * On error the slot is freed and unpinned. */
static int load_slot(store_db *db, page *p, uint32_t pgno, uint32_t frame) {
    p->pgno = pgno;
    p->frame = frame;
    p->state = SLOT_LOADING;
    p->load_rc = 0;
    p->ref = 1;
    p->sp_gen = 0;
    p->checked = 0;
    atomic_store(&p->pin, 1);
    hash_insert(db, p);
    pthread_mutex_unlock(&db->mu);
    int rc = frame ? sqli_wal_read_page(&db->wal, frame, p->data) : db_read_page(db, pgno, p->data);
    pthread_mutex_lock(&db->mu);
    if (rc != STORE_OK) {
        if (p->in_hash) hash_remove(db, p);
        p->state = SLOT_FREE;
        p->load_rc = rc;
        sqli_pager_put(p);
    } else {
        p->state = SLOT_READY;
    }
    pthread_cond_broadcast(&db->load_cv);
    return rc;
}

/* Pin a cached version found in the hash (waiting while another thread
 * loads it). Called with db->mu held. */
static int pin_cached(store_db *db, page *p, uint32_t pgno) {
    pin(p);
    p->ref = 1;
    while (p->state == SLOT_LOADING) pthread_cond_wait(&db->load_cv, &db->mu);
    if (p->state != SLOT_READY || p->pgno != pgno) {
        int rc = p->load_rc ? p->load_rc : STORE_IOERR;
        sqli_pager_put(p);
        return sqli_store_error(rc, "%s: page %u could not be read", db->path, pgno);
    }
    atomic_fetch_add_explicit(&db->st_hits, 1, memory_order_relaxed);
    return STORE_OK;
}

int sqli_pager_get(store_txn *txn, uint32_t pgno, page **out) {
    store_db *db = txn->db;
    *out = NULL;
    if (txn->err) return txn->err;
    if (pgno == 0 || pgno > txn->page_count)
        return sqli_store_error(STORE_CORRUPT, "%s: page number %u out of range (1..%u)", db->path,
                                pgno, txn->page_count);
    if (txn->write) {
        page *d = sqli_u32map_get(&txn->dirty, pgno);
        if (d) {
            pin(d);
            d->ref = 1;
            *out = d;
            return STORE_OK;
        }
    }
    int spilled = 0, rc;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        uint32_t f = sqli_wal_find(&db->wal, pgno, txn->mark);
        page *p = hash_find(db, pgno, f);
        if (p) {
            rc = pin_cached(db, p, pgno);
            if (rc == STORE_OK) *out = p;
            break;
        }
        p = cache_grab(db, !txn->write || spilled);
        if (!p) { /* the writer's dirty pages fill the cache */
            pthread_mutex_unlock(&db->mu);
            if ((rc = spill(txn)) != STORE_OK) return rc;
            spilled = 1;
            pthread_mutex_lock(&db->mu);
            continue; /* the lookup may differ now: retry */
        }
        atomic_fetch_add_explicit(&db->st_misses, 1, memory_order_relaxed);
        rc = load_slot(db, p, pgno, f);
        if (rc == STORE_OK) *out = p;
        break;
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

int sqli_pager_write(store_txn *txn, page **pgp) {
    store_db *db = txn->db;
    page *p = *pgp;
    if (txn->err) return txn->err;
    if (!txn->write) return sqli_store_error(STORE_MISUSE, "write through a read transaction");
    if (p->dirty) {
        journal(txn, p, 0);
        return STORE_OK;
    }
    pthread_mutex_lock(&db->mu);
    if (p->frame != 0 && p->frame > txn->base && atomic_load(&p->pin) == 1) {
        /* Our own spilled frame: nobody else can see it, take it over. */
        hash_remove(db, p);
        p->dirty = 1;
        p->frame = PG_DIRTY;
        p->sp_gen = 0;
        pthread_mutex_unlock(&db->mu);
    } else {
        pthread_mutex_unlock(&db->mu);
        page *np;
        int rc = writer_slot(txn, &np);
        if (rc != STORE_OK) return rc;
        memcpy(np->data, p->data, db->page_size);
        np->pgno = p->pgno;
        np->frame = PG_DIRTY;
        np->dirty = 1;
        np->state = SLOT_READY;
        np->sp_gen = 0;
        np->ref = 1;
        np->checked = p->checked;
        atomic_store(&np->pin, 1);
        pthread_mutex_unlock(&db->mu);
        sqli_pager_put(p);
        p = np;
        *pgp = np;
    }
    sqli_u32map_put(&txn->dirty, p->pgno, p);
    txn->ndirty++;
    journal(txn, p, 0);
    return STORE_OK;
}

/* A zero-filled dirty page for pgno, whose old content does not matter. */
static int new_page(store_txn *txn, uint32_t pgno, page **out) {
    page *p = sqli_u32map_get(&txn->dirty, pgno);
    if (p) {
        pin(p);
    } else {
        int rc = writer_slot(txn, &p);
        if (rc != STORE_OK) return rc;
        p->pgno = pgno;
        p->frame = PG_DIRTY;
        p->dirty = 1;
        p->state = SLOT_READY;
        p->sp_gen = 0;
        atomic_store(&p->pin, 1);
        pthread_mutex_unlock(&txn->db->mu);
        sqli_u32map_put(&txn->dirty, pgno, p);
        txn->ndirty++;
    }
    journal(txn, p, 1);
    memset(p->data, 0, txn->db->page_size);
    p->checked = 0;
    *out = p;
    return STORE_OK;
}

/* Drop the writer's dirty copy of a page (free or rolled back). */
static void drop_dirty(store_txn *txn, uint32_t pgno) {
    page *p = sqli_u32map_get(&txn->dirty, pgno);
    if (!p || atomic_load(&p->pin)) return;
    pthread_mutex_lock(&txn->db->mu);
    sqli_u32map_del(&txn->dirty, pgno);
    txn->ndirty--;
    p->dirty = 0;
    p->state = SLOT_FREE;
    pthread_mutex_unlock(&txn->db->mu);
}

/* ---- header fields and the free list ------------------------------------------ */

int sqli_pager_hdr_get(store_txn *txn, int off, uint32_t *v) {
    page *p1;
    int rc = sqli_pager_get(txn, 1, &p1);
    if (rc != STORE_OK) return rc;
    *v = get32(p1->data + off);
    sqli_pager_put(p1);
    return STORE_OK;
}

int sqli_pager_hdr_put(store_txn *txn, int off, uint32_t v) {
    page *p1;
    int rc = sqli_pager_get(txn, 1, &p1);
    if (rc == STORE_OK) rc = sqli_pager_write(txn, &p1);
    if (rc == STORE_OK) {
        put32(p1->data + off, v);
        if (off == HDR_OFF_PAGECOUNT) txn->page_count = v;
    }
    sqli_pager_put(p1);
    return rc;
}

/* VACUUM's last step: the write transaction txn takes every page of src's
 * committed state as its own, header included (page count, free list,
 * meta slots), so the commit makes the file src's image, atomically and
 * durably through the log like any commit; the checkpoint that copies it
 * back cuts the main file to the new page count. */
int sqli_store_copy_from(store_txn *txn, store_db *src) {
    store_db *db = txn->db;
    if (!txn->write || src->page_size != db->page_size)
        return sqli_store_error(STORE_MISUSE, "store_copy_from: needs a write transaction and "
                                              "the same page size");
    store_txn *rt;
    int rc = sqli_store_begin(src, STORE_TXN_READ, &rt);
    if (rc != STORE_OK) return rc;
    uint32_t n = 0, cur = txn->page_count;
    rc = sqli_pager_hdr_get(rt, HDR_OFF_PAGECOUNT, &n);
    /* no free list while pages are added at the end: page 1 comes last */
    if (rc == STORE_OK) rc = sqli_pager_hdr_put(txn, HDR_OFF_FREETRUNK, 0);
    if (rc == STORE_OK) rc = sqli_pager_hdr_put(txn, HDR_OFF_FREECOUNT, 0);
    for (uint32_t pgno = 2; pgno <= n && rc == STORE_OK; pgno++) {
        page *s = NULL, *d = NULL;
        rc = sqli_pager_get(rt, pgno, &s);
        if (rc == STORE_OK && pgno <= cur) {
            rc = sqli_pager_get(txn, pgno, &d);
            if (rc == STORE_OK) rc = sqli_pager_write(txn, &d);
        } else if (rc == STORE_OK) {
            rc = sqli_pager_alloc(txn, &d);
            assert(rc != STORE_OK || d->pgno == pgno);
        }
        if (rc == STORE_OK) {
            memcpy(d->data, s->data, db->page_size);
            d->checked = 0;
        }
        sqli_pager_put(s);
        sqli_pager_put(d);
    }
    page *s = NULL, *d = NULL;
    if (rc == STORE_OK) rc = sqli_pager_get(rt, 1, &s);
    if (rc == STORE_OK) rc = sqli_pager_get(txn, 1, &d);
    if (rc == STORE_OK) rc = sqli_pager_write(txn, &d);
    if (rc == STORE_OK) {
        memcpy(d->data, s->data, db->page_size);
        d->checked = 0;
        txn->page_count = n;
    }
    sqli_pager_put(s);
    sqli_pager_put(d);
    sqli_store_abort(rt);
    return sqli_pager_fail(txn, rc);
}

/* Free-list trunk page:  0 u8 type (4)  4 u32 entries  8 u32 next trunk
 *                        12 u32[] free page numbers */
#define PT_FREETRUNK 4
#define TRUNK_CAP(db) (((db)->usable - 12) / 4)

int sqli_pager_alloc(store_txn *txn, page **out) {
    store_db *db = txn->db;
    uint32_t trunk, count, pgno;
    page *tp = NULL;
    int rc = sqli_pager_hdr_get(txn, HDR_OFF_FREETRUNK, &trunk);
    if (rc == STORE_OK) rc = sqli_pager_hdr_get(txn, HDR_OFF_FREECOUNT, &count);
    if (rc != STORE_OK) return sqli_pager_fail(txn, rc);
    if (trunk) {
        if ((rc = sqli_pager_get(txn, trunk, &tp)) != STORE_OK) goto fail;
        uint32_t n = get32(tp->data + 4);
        if (tp->data[0] != PT_FREETRUNK || n > TRUNK_CAP(db) || count == 0) {
            rc = sqli_store_error(STORE_CORRUPT, "%s: free-list trunk %u is damaged", db->path,
                                  trunk);
            goto fail;
        }
        if ((rc = sqli_pager_write(txn, &tp)) != STORE_OK) goto fail;
        if (n > 0) {
            pgno = get32(tp->data + 12 + 4 * (n - 1));
            put32(tp->data + 4, n - 1);
        } else {
            pgno = trunk;
            rc = sqli_pager_hdr_put(txn, HDR_OFF_FREETRUNK, get32(tp->data + 8));
        }
        sqli_pager_put(tp);
        tp = NULL;
        if (rc == STORE_OK) rc = sqli_pager_hdr_put(txn, HDR_OFF_FREECOUNT, count - 1);
        if (rc == STORE_OK && (pgno < 2 || pgno > txn->page_count))
            rc = sqli_store_error(STORE_CORRUPT, "%s: free list holds bad page %u", db->path, pgno);
    } else {
        pgno = txn->page_count + 1;
        if (pgno == 0 || (uint64_t)pgno * db->page_size > (1ull << 46))
            rc = sqli_store_error(STORE_FULL, "%s: database reached its size limit", db->path);
        else
            rc = sqli_pager_hdr_put(txn, HDR_OFF_PAGECOUNT, pgno);
    }
    if (rc == STORE_OK) rc = new_page(txn, pgno, out);
fail:
    sqli_pager_put(tp);
    return sqli_pager_fail(txn, rc);
}

int sqli_pager_free(store_txn *txn, uint32_t pgno) {
    store_db *db = txn->db;
    uint32_t trunk, count;
    page *tp = NULL;
    int rc = sqli_pager_hdr_get(txn, HDR_OFF_FREETRUNK, &trunk);
    if (rc == STORE_OK) rc = sqli_pager_hdr_get(txn, HDR_OFF_FREECOUNT, &count);
    if (rc != STORE_OK) return sqli_pager_fail(txn, rc);
    assert(pgno >= 2 && pgno <= txn->page_count);
    if (txn->nsp > 0 && !txn->replaying) {
        /* Keep the page's content for the savepoint now: once free, the page
         * may be reused and its (spilled) frame overwritten. */
        page *d;
        if ((rc = sqli_pager_get(txn, pgno, &d)) != STORE_OK) return sqli_pager_fail(txn, rc);
        journal(txn, d, 0);
        sqli_pager_put(d);
    }
    if (trunk) {
        if ((rc = sqli_pager_get(txn, trunk, &tp)) != STORE_OK) goto fail;
        uint32_t n = get32(tp->data + 4);
        if (tp->data[0] != PT_FREETRUNK || n > TRUNK_CAP(db)) {
            rc = sqli_store_error(STORE_CORRUPT, "%s: free-list trunk %u is damaged", db->path,
                                  trunk);
            goto fail;
        }
        if (n < TRUNK_CAP(db)) {
            if ((rc = sqli_pager_write(txn, &tp)) != STORE_OK) goto fail;
            put32(tp->data + 12 + 4 * n, pgno);
            put32(tp->data + 4, n + 1);
            sqli_pager_put(tp);
            tp = NULL;
            /* The page's content no longer matters: forget a dirty copy, after
             * keeping its pre-image for a savepoint. */
            page *d = sqli_u32map_get(&txn->dirty, pgno);
            if (d && !atomic_load(&d->pin)) {
                journal(txn, d, 0);
                drop_dirty(txn, pgno);
            }
            rc = sqli_pager_hdr_put(txn, HDR_OFF_FREECOUNT, count + 1);
            goto fail;
        }
        sqli_pager_put(tp);
        tp = NULL;
    }
    /* The freed page becomes the new first trunk. */
    if ((rc = sqli_pager_get(txn, pgno, &tp)) != STORE_OK) goto fail;
    if ((rc = sqli_pager_write(txn, &tp)) != STORE_OK) goto fail;
    memset(tp->data, 0, db->page_size);
    tp->checked = 0;
    tp->data[0] = PT_FREETRUNK;
    put32(tp->data + 8, trunk);
    rc = sqli_pager_hdr_put(txn, HDR_OFF_FREETRUNK, pgno);
    if (rc == STORE_OK) rc = sqli_pager_hdr_put(txn, HDR_OFF_FREECOUNT, count + 1);
fail:
    sqli_pager_put(tp);
    return sqli_pager_fail(txn, rc);
}

/* ---- checkpoint ---------------------------------------------------------------- */

typedef struct ckpt_item {
    uint32_t pgno, frame;
} ckpt_item;

typedef struct ckpt_collect {
    store_db *db;
    uint32_t limit;
    ckpt_item *v;
    uint32_t n, cap;
} ckpt_collect;

static void ckpt_visit(void *arg, uint32_t pgno, uint32_t newest) {
    ckpt_collect *c = arg;
    (void)newest;
    uint32_t f = sqli_wal_find(&c->db->wal, pgno, c->limit);
    if (f == 0 || f <= c->db->backfill) return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->v = xrealloc(c->v, sizeof *c->v * c->cap);
    }
    c->v[c->n].pgno = pgno;
    c->v[c->n].frame = f;
    c->n++;
}

static int cmp_ckpt(const void *a, const void *b) {
    const ckpt_item *x = a, *y = b;
    /* Page 1 last: the on-disk header then never promises pages not yet written. */
    uint32_t px = x->pgno == 1 ? UINT32_MAX : x->pgno, py = y->pgno == 1 ? UINT32_MAX : y->pgno;
    return px < py ? -1 : px > py;
}

/* A version's bytes, from the cache if there, else from the log. */
static int read_version(store_db *db, uint32_t pgno, uint32_t frame, uint8_t *buf) {
    pthread_mutex_lock(&db->mu);
    page *p = hash_find(db, pgno, frame);
    if (p && p->state == SLOT_READY) {
        memcpy(buf, p->data, db->page_size);
        pthread_mutex_unlock(&db->mu);
        return STORE_OK;
    }
    pthread_mutex_unlock(&db->mu);
    return frame ? sqli_wal_read_page(&db->wal, frame, buf) : db_read_page(db, pgno, buf);
}

/* Re-key cached log versions as main-file versions at a log restart. */
static int reset_allowed(store_db *db) {
    if (db->backfill != db->written_end) return 0;
    for (store_txn *r = db->readers; r; r = r->rnext)
        if (r->mark != db->written_end) return 0;
    for (size_t i = 0; i < db->nslots; i++)
        if (db->slots[i]->state == SLOT_LOADING && db->slots[i]->frame != 0) return 0;
    return 1;
}

static void reset_log(store_db *db) {
    wal *w = &db->wal;
    for (size_t i = 0; i < db->nslots; i++) {
        page *p = db->slots[i];
        if (!p->in_hash || p->frame == 0) continue;
        hash_remove(db, p);
        if (sqli_wal_find(w, p->pgno, UINT32_MAX) == p->frame) {
            page *old = hash_find(db, p->pgno, 0);
            if (old) detach(db, old);
            p->frame = 0;
            hash_insert(db, p);
        } else {
            p->state = SLOT_FREE;
        }
    }
    for (store_txn *r = db->readers; r; r = r->rnext) r->mark = 0;
    sqli_wal_reset(w);
    db->written_end = db->durable_end = db->backfill = 0;
}

static uint32_t wal_reserve_frames(const store_db *db) {
    return db->autockpt < WAL_RESERVE_MAX ? db->autockpt + 16 : WAL_RESERVE_MAX + 16;
}

/* Copy what can be copied; restart the log if everything was. The caller
 * holds writer_mu. */
static int checkpoint_locked(store_db *db) {
    ckpt_collect c = {db, 0, NULL, 0, 0};
    uint8_t *buf = NULL;
    int rc = STORE_OK, did_reset = 0;
    if (db->poisoned) return sqli_store_error(STORE_IOERR, "%s: an earlier fsync failed", db->path);
    pthread_mutex_lock(&db->mu);
    c.limit = db->durable_end;
    for (store_txn *r = db->readers; r; r = r->rnext)
        if (r->mark < c.limit) c.limit = r->mark;
    if (c.limit > db->backfill) sqli_wal_index_foreach(&db->wal, ckpt_visit, &c);
    pthread_mutex_unlock(&db->mu);

    if (c.n > 0) {
        const uint32_t batch = 64, ps = db->page_size;
        qsort(c.v, c.n, sizeof *c.v, cmp_ckpt);
        buf = xmalloc((size_t)ps * batch);
        uint32_t page_count = 0;
        for (uint32_t i = 0; i < c.n && rc == STORE_OK;) {
            uint32_t j = i;
            struct iovec iov[64];
            while (j < c.n && j - i < batch && (j == i || c.v[j].pgno == c.v[j - 1].pgno + 1)) {
                uint8_t *b = buf + (size_t)(j - i) * ps;
                if ((rc = read_version(db, c.v[j].pgno, c.v[j].frame, b)) != STORE_OK) break;
                if (c.v[j].pgno == 1) page_count = get32(b + HDR_OFF_PAGECOUNT);
                seal_page(b, ps, c.v[j].pgno);
                iov[j - i].iov_base = b;
                iov[j - i].iov_len = ps;
                j++;
            }
            if (rc == STORE_OK)
                rc = sqli_vfs_writev(db->dbf, iov, (int)(j - i), (uint64_t)(c.v[i].pgno - 1) * ps);
            i = j;
        }
        uint64_t size;
        /* the file grows with the database, and shrinks after VACUUM */
        if (rc == STORE_OK && page_count && (rc = sqli_vfs_size(db->dbf, &size)) == STORE_OK &&
            size != (uint64_t)page_count * ps)
            rc = sqli_vfs_truncate(db->dbf, (uint64_t)page_count * ps);
        if (rc == STORE_OK && !(db->flags & STORE_NOSYNC)) rc = sqli_vfs_sync(db->dbf);
        if (rc != STORE_OK) goto fail;
    }
    pthread_mutex_lock(&db->mu);
    if (c.limit > db->backfill) db->backfill = c.limit;
    for (uint32_t i = 0; i < c.n; i++) {
        page *old = hash_find(db, c.v[i].pgno, 0);
        if (old) detach(db, old);
    }
    if (db->wal.n > 0 && reset_allowed(db)) {
        reset_log(db);
        did_reset = 1;
    }
    pthread_mutex_unlock(&db->mu);
    atomic_fetch_add(&db->st_ckpts, 1);
    if (did_reset && db->wal.f) {
        /* New salts on disk first (invariant 3 of wal.c), then give back what
         * a big transaction grew, keeping the reserve. */
        if ((rc = sqli_wal_write_header(&db->wal)) != STORE_OK) goto fail;
        uint64_t size, keep = sqli_wal_frames_bytes(&db->wal, wal_reserve_frames(db));
        if (sqli_vfs_size(db->wal.f, &size) == STORE_OK && size > 2 * keep)
            rc = sqli_vfs_truncate(db->wal.f, keep);
    }
fail:
    xfree(buf);
    xfree(c.v);
    return rc;
}

int sqli_store_checkpoint(store_db *db) {
    if (!db) return sqli_store_error(STORE_MISUSE, "store_checkpoint: no database");
    if (db->flags & STORE_RDONLY) return STORE_OK;
    pthread_mutex_lock(&db->writer_mu);
    int rc = checkpoint_locked(db);
    pthread_mutex_unlock(&db->writer_mu);
    return rc;
}

/* ---- transactions ---------------------------------------------------------------- */

static void txn_free(store_txn *txn) {
    sqli_u32map_free(&txn->dirty);
    for (int i = 0; i < txn->nsp; i++) {
        for (uint32_t j = 0; j < txn->sp[i].n; j++) xfree(txn->sp[i].e[j].data);
        xfree(txn->sp[i].e);
        sqli_u32map_free(&txn->sp[i].map);
    }
    xfree(txn->sp);
    xfree(txn->spare); /* a cursor closed after txn_ending */
    xfree(txn->scratch);
    xfree(txn->getbuf);
    xfree(txn);
}

static void reader_unlink(store_txn *txn) {
    store_db *db = txn->db;
    pthread_mutex_lock(&db->mu);
    if (txn->rprev)
        txn->rprev->rnext = txn->rnext;
    else
        db->readers = txn->rnext;
    if (txn->rnext) txn->rnext->rprev = txn->rprev;
    db->nreaders--;
    pthread_mutex_unlock(&db->mu);
}

int sqli_store_begin(store_db *db, unsigned flags, store_txn **txnp) {
    *txnp = NULL;
    if (!db || (flags & ~(STORE_TXN_WRITE | STORE_TXN_NOWAIT)))
        return sqli_store_error(STORE_MISUSE, "store_begin: bad arguments");
    int write = (flags & STORE_TXN_WRITE) != 0;
    if (write && (db->flags & STORE_RDONLY))
        return sqli_store_error(STORE_READONLY, "%s: opened read-only", db->path);
    store_txn *txn = xcalloc(1, sizeof *txn);
    txn->db = db;
    txn->write = write;
    txn->page_count = UINT32_MAX;
    if (write) {
        if (flags & STORE_TXN_NOWAIT) {
            if (pthread_mutex_trylock(&db->writer_mu) != 0) {
                xfree(txn);
                return sqli_store_error(STORE_BUSY, "%s: another write transaction is running",
                                        db->path);
            }
        } else {
            pthread_mutex_lock(&db->writer_mu);
        }
        if (db->poisoned) {
            pthread_mutex_unlock(&db->writer_mu);
            xfree(txn);
            return sqli_store_error(STORE_IOERR, "%s: an earlier fsync failed; reopen the database",
                                    db->path);
        }
        pthread_mutex_lock(&db->mu);
        txn->mark = UINT32_MAX;
        txn->base = db->written_end;
        pthread_mutex_unlock(&db->mu);
        txn->scratch = xmalloc((size_t)db->page_size * 3 + 256);
    } else {
        pthread_mutex_lock(&db->mu);
        txn->mark = db->durable_end;
        txn->rnext = db->readers;
        if (db->readers) db->readers->rprev = txn;
        db->readers = txn;
        db->nreaders++;
        pthread_mutex_unlock(&db->mu);
    }
    uint32_t pc;
    int rc = sqli_pager_hdr_get(txn, HDR_OFF_PAGECOUNT, &pc);
    if (rc != STORE_OK) {
        txn->err = 0;
        sqli_store_abort(txn);
        return rc;
    }
    txn->page_count = pc;
    *txnp = txn;
    return STORE_OK;
}

int sqli_store_txn_is_write(const store_txn *txn) {
    return txn && txn->write;
}

/* Throw away the writer's changes (db->mu not held). */
static void writer_rollback(store_txn *txn) {
    store_db *db = txn->db;
    wal *w = &db->wal;
    pthread_mutex_lock(&db->mu);
    for (uint32_t i = 0; i < txn->dirty.cap; i++) {
        page *p = txn->dirty.vals[i];
        if (!txn->dirty.keys[i]) continue;
        p->dirty = 0;
        p->state = SLOT_FREE;
        atomic_store(&p->pin, 0);
    }
    for (uint32_t f = txn->base + 1; f <= w->n; f++) {
        page *p = hash_find(db, w->fpg[f], f);
        if (p) detach(db, p);
    }
    sqli_wal_index_truncate(w, txn->base);
    pthread_mutex_unlock(&db->mu);
}

void sqli_store_abort(store_txn *txn) {
    if (!txn) return;
    txn->db->up->txn_ending(txn);
    if (txn->write) {
        writer_rollback(txn);
        pthread_mutex_unlock(&txn->db->writer_mu);
    } else {
        reader_unlink(txn);
    }
    txn_free(txn);
}

/* Group commit: wait until frame `target` is synced, syncing ourselves when no
 * one else is. One fsync covers every commit written before it began. */
static int wait_durable(store_db *db, uint32_t target) {
    int rc = STORE_OK;
    if (db->flags & STORE_NOSYNC) {
        pthread_mutex_lock(&db->mu);
        if (db->durable_end < target) db->durable_end = target;
        pthread_mutex_unlock(&db->mu);
        return STORE_OK;
    }
    pthread_mutex_lock(&db->sync_mu);
    for (;;) {
        pthread_mutex_lock(&db->mu);
        uint32_t durable = db->durable_end, written = db->written_end;
        pthread_mutex_unlock(&db->mu);
        /* A log restart since we wrote means our frame is in the main file. */
        if (durable >= target || written < target || db->poisoned) break;
        if (db->sync_running) {
            pthread_cond_wait(&db->sync_cv, &db->sync_mu);
            continue;
        }
        db->sync_running = 1;
        pthread_mutex_unlock(&db->sync_mu);
        int src = sqli_vfs_sync(db->wal.f);
        pthread_mutex_lock(&db->sync_mu);
        db->sync_running = 0;
        atomic_fetch_add(&db->st_syncs, 1);
        if (src != STORE_OK) {
            db->poisoned = src;
            rc = src;
        } else {
            pthread_mutex_lock(&db->mu);
            if (db->durable_end < written && db->written_end >= written) db->durable_end = written;
            pthread_mutex_unlock(&db->mu);
        }
        pthread_cond_broadcast(&db->sync_cv);
    }
    if (db->poisoned && rc == STORE_OK)
        rc = sqli_store_error(STORE_IOERR, "%s: fsync of the log failed; commit outcome unknown",
                              db->path);
    pthread_mutex_unlock(&db->sync_mu);
    return rc;
}

/* durable_target NULL: returns once durable; else the frame to wait for
 * (sqli_store_wait_durable) goes there. */
static int commit_txn(store_txn *txn, uint32_t *durable_target) {
    if (!txn) return sqli_store_error(STORE_MISUSE, "store_commit: no transaction");
    if (!txn->write) {
        sqli_store_abort(txn);
        return STORE_OK;
    }
    store_db *db = txn->db;
    db->up->txn_ending(txn);
    int rc = txn->err;
    if (rc != STORE_OK) {
        sqli_store_abort(txn);
        return sqli_store_error(rc, "%s: transaction failed earlier and was rolled back: %s",
                                db->path, sqli_store_strerror(rc));
    }
    if (txn->ndirty == 0 && db->wal.n == txn->base) {
        pthread_mutex_unlock(&db->writer_mu);
        txn_free(txn);
        return STORE_OK;
    }
    rc = flush_dirty(txn, txn->page_count);
    if (rc != STORE_OK) {
        if (rc != STORE_FULL) db->poisoned = rc; /* a failed write: outcome unknown */
        sqli_store_abort(txn);
        return rc;
    }
    uint32_t target = db->written_end;
    pthread_mutex_unlock(&db->writer_mu);
    txn_free(txn);
    atomic_fetch_add(&db->st_commits, 1);
    if (durable_target) {
        *durable_target = target;
        return STORE_OK;
    }
    return sqli_store_wait_durable(db, target);
}

int sqli_store_commit(store_txn *txn) {
    return commit_txn(txn, NULL);
}

int sqli_store_commit_nowait(store_txn *txn, uint32_t *target) {
    *target = 0;
    return commit_txn(txn, target);
}

int sqli_store_wait_durable(store_db *db, uint32_t target) {
    if (!target) return STORE_OK;
    int rc = wait_durable(db, target);
    if (rc == STORE_OK && db->wal.n >= db->autockpt && pthread_mutex_trylock(&db->writer_mu) == 0) {
        int crc = checkpoint_locked(db);
        (void)crc; /* the commit is durable; a failed checkpoint is retried later */
        pthread_mutex_unlock(&db->writer_mu);
    }
    return rc;
}

/* ---- savepoints --------------------------------------------------------------------- */

int sqli_store_savepoint(store_txn *txn, int *level) {
    if (!txn || !txn->write)
        return sqli_store_error(STORE_MISUSE, "savepoint needs a write transaction");
    if (txn->err) return txn->err;
    if (txn->nsp == txn->spcap) {
        txn->spcap = txn->spcap ? txn->spcap * 2 : 4;
        txn->sp = xrealloc(txn->sp, sizeof *txn->sp * (size_t)txn->spcap);
    }
    savepoint *sp = &txn->sp[txn->nsp++];
    memset(sp, 0, sizeof *sp);
    sp->gen = ++txn->sp_counter;
    txn->sp_gen = sp->gen;
    *level = txn->nsp;
    return STORE_OK;
}

static void sp_clear(savepoint *sp) {
    for (uint32_t j = 0; j < sp->n; j++) xfree(sp->e[j].data);
    xfree(sp->e);
    sqli_u32map_free(&sp->map);
    memset(sp, 0, sizeof *sp);
}

static int sp_apply(store_txn *txn, const sp_entry *e) {
    if (!e->data) {
        drop_dirty(txn, e->pgno);
        return STORE_OK;
    }
    /* Overwrite without reading: the page may exist nowhere but in the
     * journal (allocated, then freed, in this transaction). */
    page *p;
    int rc = new_page(txn, e->pgno, &p);
    if (rc == STORE_OK) {
        memcpy(p->data, e->data, txn->db->page_size);
        p->checked = 0;
    }
    sqli_pager_put(p);
    return rc;
}

int sqli_store_rollback_to(store_txn *txn, int level) {
    if (!txn || !txn->write || level < 1 || level > txn->nsp)
        return sqli_store_error(STORE_MISUSE, "rollback to a savepoint that is not open");
    if (txn->err) return txn->err;
    txn->db->up->pages_changing(txn);
    int rc = STORE_OK;
    txn->replaying = 1;
    txn->page_count = UINT32_MAX;
    for (int i = txn->nsp - 1; i >= level - 1 && rc == STORE_OK; i--)
        for (uint32_t j = 0; j < txn->sp[i].n && rc == STORE_OK; j++)
            rc = sp_apply(txn, &txn->sp[i].e[j]);
    txn->replaying = 0;
    uint32_t pc = 0;
    if (rc == STORE_OK) rc = sqli_pager_hdr_get(txn, HDR_OFF_PAGECOUNT, &pc);
    txn->page_count = pc;
    for (int i = txn->nsp - 1; i >= level - 1; i--) sp_clear(&txn->sp[i]);
    txn->nsp = level;
    txn->sp[level - 1].gen = ++txn->sp_counter;
    txn->sp_gen = txn->sp[level - 1].gen;
    return sqli_pager_fail(txn, rc);
}

int sqli_store_release(store_txn *txn, int level) {
    if (!txn || !txn->write || level < 1 || level > txn->nsp)
        return sqli_store_error(STORE_MISUSE, "release of a savepoint that is not open");
    if (level >= 2) {
        savepoint *to = &txn->sp[level - 2];
        for (int i = level - 1; i < txn->nsp; i++) {
            savepoint *from = &txn->sp[i];
            for (uint32_t j = 0; j < from->n; j++) {
                sp_entry *e = &from->e[j];
                if (sqli_u32map_get(&to->map, e->pgno)) {
                    xfree(e->data);
                } else {
                    journal_add(to, e->pgno, NULL, 0);
                    to->e[to->n - 1].data = e->data; /* hand the copy over */
                }
                e->data = NULL;
            }
            sp_clear(from);
        }
    } else {
        for (int i = 0; i < txn->nsp; i++) sp_clear(&txn->sp[i]);
    }
    txn->nsp = level - 1;
    txn->sp_gen = txn->nsp ? txn->sp[txn->nsp - 1].gen : 0;
    return txn->err;
}

int sqli_store_meta_get(store_txn *txn, int slot, uint64_t *value) {
    if (!txn || slot < 0 || slot >= STORE_META_SLOTS)
        return sqli_store_error(STORE_MISUSE, "meta slot %d out of range", slot);
    page *p1;
    int rc = sqli_pager_get(txn, 1, &p1);
    if (rc != STORE_OK) return rc;
    *value = get64(p1->data + HDR_OFF_META + 8 * slot);
    sqli_pager_put(p1);
    return STORE_OK;
}

int sqli_store_meta_set(store_txn *txn, int slot, uint64_t value) {
    if (!txn || slot < 0 || slot >= STORE_META_SLOTS)
        return sqli_store_error(STORE_MISUSE, "meta slot %d out of range", slot);
    if (!txn->write) return sqli_store_error(STORE_READONLY, "meta_set in a read transaction");
    page *p1;
    int rc = sqli_pager_get(txn, 1, &p1);
    if (rc == STORE_OK) rc = sqli_pager_write(txn, &p1);
    if (rc == STORE_OK) put64(p1->data + HDR_OFF_META + 8 * slot, value);
    sqli_pager_put(p1);
    return sqli_pager_fail(txn, rc);
}

/* ---- open / close ------------------------------------------------------------------- */

/* The first three pages of a new database: the header, the directory
 * (listing the catalog) and the empty catalog, each sealed. */
static uint8_t *new_image(const pager_upper *up, uint32_t ps) {
    uint8_t *b = xcalloc(3, ps);
    memcpy(b, HDR_MAGIC, 12);
    put32(b + HDR_OFF_VERSION, HDR_VERSION);
    put32(b + HDR_OFF_PAGESIZE, ps);
    put32(b + HDR_OFF_PAGECOUNT, 3);
    put32(b + HDR_OFF_DIRROOT, DIR_ROOT);
    put32(b + HDR_OFF_CATROOT, STORE_CATALOG);
    up->format_new(b + ps, b + 2 * (size_t)ps, ps - PAGE_TRAILER);
    for (uint32_t i = 0; i < 3; i++) seal_page(b + (size_t)i * ps, ps, i + 1);
    return b;
}

static int write_image(const pager_upper *up, vfs_file *f, uint32_t ps, int nosync) {
    uint8_t *b = new_image(up, ps);
    int rc = sqli_vfs_truncate(f, 0);
    if (rc == STORE_OK) rc = sqli_vfs_write(f, b, 3 * (size_t)ps, 0);
    if (rc == STORE_OK && !nosync) rc = sqli_vfs_sync(f);
    xfree(b);
    return rc;
}

/* Create path atomically: the image goes to a private temporary file that is
 * renamed into place, so a crash leaves either no database or a whole one. */
static int create_new(store_db *db, uint32_t ps) {
    int nosync = (db->flags & STORE_NOSYNC) != 0;
    size_t n = strlen(db->path) + 32;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s-tmp.%d", db->path, (int)getpid());
    vfs_file *f;
    int rc = sqli_vfs_open(tmp, VFS_CREATE, &f, NULL);
    if (rc != STORE_OK) goto out;
    rc = write_image(db->up, f, ps, nosync);
    sqli_vfs_close(f);
    /* A log left from an earlier file of this name must not be replayed here. */
    if (rc == STORE_OK && unlink(db->wal_path) != 0 && errno != ENOENT)
        rc = sqli_store_error(STORE_IOERR, "%s: cannot remove a stale log: %s", db->wal_path,
                              strerror(errno));
    if (rc == STORE_OK && renameat2(AT_FDCWD, tmp, AT_FDCWD, db->path, RENAME_NOREPLACE) != 0 &&
        errno != EEXIST) /* EEXIST: another process created it first; use theirs */
        rc = sqli_store_error(STORE_CANTOPEN, "%s: cannot create: %s", db->path, strerror(errno));
    unlink(tmp);
    if (rc == STORE_OK && !nosync) rc = sqli_vfs_sync_dir(db->path);
out:
    xfree(tmp);
    return rc;
}

/* *torn: the header fails its checksum but names a valid page size. A
 * checkpoint writes page 1 last, from the log, and the log is restarted only
 * after the main file is synced: a crash that tore that write leaves the
 * page's whole newest version in the log, so the open goes on (with the page
 * size, which never changes) and recovery decides (sqli_store_open). */
static int read_header(store_db *db, int *torn) {
    uint8_t h[HDR_SIZE];
    *torn = 0;
    size_t got;
    uint64_t size;
    int rc = sqli_vfs_size(db->dbf, &size);
    if (rc == STORE_OK) rc = sqli_vfs_read(db->dbf, h, sizeof h, 0, &got);
    if (rc != STORE_OK) return rc;
    if (got < sizeof h || memcmp(h, HDR_MAGIC, 12) != 0)
        return sqli_store_error(STORE_NOTADB, "%s: not a Larder store (no store header)", db->path);
    if (get64(h + HDR_OFF_CKSUM) != sqli_hdr_checksum(h)) {
        uint32_t ps = get32(h + HDR_OFF_PAGESIZE);
        if (!valid_page_size(ps))
            return sqli_store_error(STORE_CORRUPT, "%s: the file header fails its checksum",
                                    db->path);
        *torn = 1;
        db->page_size = ps;
        db->usable = ps - PAGE_TRAILER;
        return STORE_OK;
    }
    if (get32(h + HDR_OFF_VERSION) > HDR_VERSION || get32(h + HDR_OFF_VERSION) == 0)
        return sqli_store_error(STORE_VERSION,
                                "%s: format version %u is not supported (this is %u)", db->path,
                                get32(h + HDR_OFF_VERSION), HDR_VERSION);
    uint32_t ps = get32(h + HDR_OFF_PAGESIZE);
    if (!valid_page_size(ps))
        return sqli_store_error(STORE_CORRUPT, "%s: impossible page size %u", db->path, ps);
    uint32_t pc = get32(h + HDR_OFF_PAGECOUNT);
    if (pc == 0 || (uint64_t)pc * ps > size)
        return sqli_store_error(STORE_CORRUPT,
                                "%s: file is truncated: header says %u pages of %u bytes, file has "
                                "%llu bytes",
                                db->path, pc, ps, (unsigned long long)size);
    db->page_size = ps;
    db->usable = ps - PAGE_TRAILER;
    return STORE_OK;
}

static void db_free(store_db *db) {
    if (!db) return;
    sqli_wal_close(&db->wal);
    sqli_vfs_close(db->dbf);
    for (size_t i = 0; i < db->nslots; i++) {
        xfree(db->slots[i]->data);
        xfree(db->slots[i]);
    }
    xfree(db->slots);
    xfree(db->buckets);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->writer_mu);
    pthread_mutex_destroy(&db->sync_mu);
    pthread_cond_destroy(&db->load_cv);
    pthread_cond_destroy(&db->sync_cv);
    xfree(db->path);
    xfree(db->wal_path);
    xfree(db);
}

int sqli_pager_open(const char *path, const store_options *opts, const pager_upper *up,
                    store_db **dbp) {
    store_options def = {0};
    const store_options *o = opts ? opts : &def;
    *dbp = NULL;
    if (!path || (o->flags & ~(STORE_CREATE | STORE_RDONLY | STORE_NOSYNC | STORE_MEMORY)) ||
        ((o->flags & STORE_MEMORY) && (o->flags & STORE_RDONLY)) ||
        (o->page_size && !valid_page_size(o->page_size)))
        return sqli_store_error(STORE_MISUSE, "store_open: bad arguments (page size %u)",
                                o->page_size);
    store_db *db = xcalloc(1, sizeof *db);
    db->up = up;
    db->path = xstrdup(path);
    size_t plen = strlen(path);
    db->wal_path = xmalloc(plen + 5);
    memcpy(db->wal_path, path, plen);
    memcpy(db->wal_path + plen, "-wal", 5);
    db->flags = o->flags;
    if (db->flags & STORE_MEMORY) db->flags |= STORE_CREATE | STORE_NOSYNC;
    db->autockpt = o->autocheckpoint ? o->autocheckpoint : DEFAULT_AUTOCKPT;
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->writer_mu, NULL);
    pthread_mutex_init(&db->sync_mu, NULL);
    pthread_cond_init(&db->load_cv, NULL);
    pthread_cond_init(&db->sync_cv, NULL);
    int rdonly = (db->flags & STORE_RDONLY) != 0, create = !rdonly && (db->flags & STORE_CREATE);
    int memory = (db->flags & STORE_MEMORY) != 0, nosync = (db->flags & STORE_NOSYNC) != 0;
    uint32_t ps = o->page_size ? o->page_size : STORE_DEFAULT_PAGE_SIZE;
    uint64_t size = 0;
    uint32_t commit_pages;
    int rc = STORE_OK;
    if (memory)
        rc = sqli_vfs_open(path, VFS_MEMORY, &db->dbf, NULL);
    else if (create && access(path, F_OK) != 0 && errno == ENOENT)
        rc = create_new(db, ps);
    if (rc == STORE_OK && !memory)
        rc = sqli_vfs_open(path, rdonly ? VFS_RDONLY : 0, &db->dbf, NULL);
    if (rc == STORE_OK) rc = sqli_vfs_lock(db->dbf, !rdonly);
    if (rc == STORE_OK) rc = sqli_vfs_size(db->dbf, &size);
    if (rc == STORE_OK && size == 0) {
        /* An empty file (made by someone else, or a new memfd): format it in place. */
        if (!create)
            rc = sqli_store_error(STORE_NOTADB, "%s: empty file, not a Larder store", path);
        else if (!memory && unlink(db->wal_path) != 0 && errno != ENOENT)
            rc = sqli_store_error(STORE_IOERR, "%s: cannot remove a stale log", db->wal_path);
        else
            rc = write_image(db->up, db->dbf, ps, nosync);
    }
    int torn = 0;
    if (rc == STORE_OK) rc = read_header(db, &torn);
    if (rc == STORE_OK)
        rc = sqli_wal_open(&db->wal, db->wal_path, rdonly, db->page_size, nosync, memory);
    if (rc == STORE_OK) rc = sqli_wal_recover(&db->wal, &commit_pages);
    if (rc == STORE_OK && torn && sqli_wal_find(&db->wal, 1, db->wal.n) == 0)
        rc = sqli_store_error(STORE_CORRUPT, "%s: the file header fails its checksum", db->path);
    if (rc != STORE_OK) goto fail;
    db->written_end = db->durable_end = db->wal.n;
    size_t cache = o->cache_size ? o->cache_size : DEFAULT_CACHE;
    db->cache_pages = cache / db->page_size;
    if (db->cache_pages < MIN_CACHE_PAGES) db->cache_pages = MIN_CACHE_PAGES;
    db->nbuckets = 256;
    db->buckets = xcalloc(db->nbuckets, sizeof *db->buckets);
    if (!rdonly) {
        if (db->wal.n > 0 && (rc = sqli_store_checkpoint(db)) != STORE_OK) goto fail;
        if ((rc = sqli_wal_reserve(&db->wal, wal_reserve_frames(db))) != STORE_OK) goto fail;
    }
    *dbp = db;
    return STORE_OK;
fail:
    db_free(db);
    return rc;
}

int sqli_store_close(store_db *db) {
    if (!db) return STORE_OK;
    assert(db->nreaders == 0);
    int rc = STORE_OK;
    if (!(db->flags & STORE_RDONLY) && !db->poisoned) {
        pthread_mutex_lock(&db->writer_mu);
        rc = checkpoint_locked(db);
        /* Everything is in the main file (and synced): the log can go. */
        if (rc == STORE_OK && db->wal.n == 0 && db->backfill == 0 && !(db->flags & STORE_MEMORY))
            unlink(db->wal_path);
        pthread_mutex_unlock(&db->writer_mu);
    }
    db_free(db);
    return rc;
}

uint32_t sqli_store_page_size(const store_db *db) {
    return db->page_size;
}

void sqli_store_get_stats(store_db *db, store_stats *st) {
    memset(st, 0, sizeof *st);
    st->cache_hits = atomic_load(&db->st_hits);
    st->cache_misses = atomic_load(&db->st_misses);
    st->frames_written = atomic_load(&db->st_frames);
    st->commits = atomic_load(&db->st_commits);
    st->syncs = atomic_load(&db->st_syncs);
    st->checkpoints = atomic_load(&db->st_ckpts);
    pthread_mutex_lock(&db->mu);
    st->wal_frames = db->wal.n;
    st->cache_pages = db->nslots;
    pthread_mutex_unlock(&db->mu);
    store_txn *txn;
    if (sqli_store_begin(db, STORE_TXN_READ, &txn) == STORE_OK) {
        sqli_pager_hdr_get(txn, HDR_OFF_PAGECOUNT, &st->page_count);
        sqli_pager_hdr_get(txn, HDR_OFF_FREECOUNT, &st->free_pages);
        sqli_store_abort(txn);
    }
}
