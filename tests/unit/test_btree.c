/* Unit tests for the store's B+trees (sql/btree.c over sql/pager.c):
 *   - a seeded random model test: inserts, updates, deletes (by key and by
 *     cursor) of keys and values of many sizes (overflow included), in
 *     transactions that commit or abort, with nested savepoints rolled back or
 *     released; compared with an in-memory model and checked by sqli_store_check.
 *     STORE_TEST_OPS sets the number of operations (default 2,000,000; a
 *     tenth under sanitizers), STORE_TEST_SEED the seed.
 *   - cursor semantics: every seek kind, both directions, prefix bounds, the
 *     gap after NOTFOUND and after delete;
 *   - bulk loading density, large values, key limits, tree drop/clear.
 */
#include "test.h"
#include "sql/btree.h"
#include "sql/keyenc.h"
#include "sql/store.h"
#include "util/mem.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SAN 1
#else
#define SAN 0
#endif

static char dir[] = "/tmp/larder-btree-XXXXXX";
static char path[256];
static uint64_t seed;

static uint64_t rs;
static uint64_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static void problem(void *arg, const char *msg) {
    (void)arg;
    fprintf(stderr, "  check: %s\n", msg);
}

static int check_db(store_db *db) {
    store_txn *t;
    store_check_report r;
    if (sqli_store_begin(db, STORE_TXN_READ, &t) != STORE_OK) return -1;
    int rc = sqli_store_check(t, &r, problem, NULL);
    sqli_store_abort(t);
    return rc == STORE_OK ? (int)r.problems : -1;
}

static store_db *fresh(size_t cache, uint32_t ckpt) {
    unlink(path);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    store_options o = {STORE_CREATE | STORE_NOSYNC, 0, cache, ckpt};
    store_db *db = NULL;
    int rc = sqli_store_open(path, &o, &db);
    if (rc) fprintf(stderr, "open: %s\n", sqli_store_errmsg());
    return db;
}

/* ---- the model test ------------------------------------------------------------ */

#define NK 30000
typedef struct mstate {
    uint32_t version; /* 0 = absent */
    uint32_t vlen;
} mstate;

static uint8_t keys[NK][48];
static uint8_t klens[NK];
static uint32_t order[NK]; /* ids sorted by key */

static int cmp_ids(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    size_t n = klens[x] < klens[y] ? klens[x] : klens[y];
    int c = memcmp(keys[x], keys[y], n);
    return c ? c : (klens[x] < klens[y] ? -1 : klens[x] > klens[y]);
}

static void make_keys(void) {
    for (uint32_t id = 0; id < NK; id++) {
        uint32_t h = id * 2654435761u;
        uint8_t *k = keys[id];
        size_t n = 0;
        k[n++] = (uint8_t)(h >> 28); /* few distinct leading bytes: long shared prefixes */
        size_t pad = (h >> 8) % 24;
        for (size_t i = 0; i < pad; i++) k[n++] = (uint8_t)('a' + (h >> i) % 3);
        k[n++] = (uint8_t)(id >> 16);
        k[n++] = (uint8_t)(id >> 8);
        k[n++] = (uint8_t)id;
        klens[id] = (uint8_t)n;
        order[id] = id;
    }
    qsort(order, NK, sizeof order[0], cmp_ids);
}

static uint32_t pick_vlen(void) {
    uint64_t r = rnd() % 1000;
    if (r < 600) return (uint32_t)(rnd() % 120);
    if (r < 950) return 120 + (uint32_t)(rnd() % 900);
    if (r < 998) return 1000 + (uint32_t)(rnd() % 20000);
    return 100000 + (uint32_t)(rnd() % 200000);
}

static uint8_t vbyte(uint32_t id, uint32_t version, uint32_t i) {
    return (uint8_t)((id * 31 + version * 7 + i * 13) ^ (i >> 8));
}

static uint8_t *vbuf;

static const uint8_t *make_val(uint32_t id, uint32_t version, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) vbuf[i] = vbyte(id, version, i);
    return vbuf;
}

static int val_ok(uint32_t id, const mstate *m, const void *v, size_t n) {
    if (n != m->vlen) return 0;
    const uint8_t *b = v;
    for (uint32_t i = 0; i < n; i++)
        if (b[i] != vbyte(id, m->version, i)) return 0;
    return 1;
}

static int verify_all(store_txn *t, store_tree tree, const mstate *m) {
    store_cursor *c;
    if (sqli_store_cursor_open(t, tree, &c) != STORE_OK) return 0;
    int rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0), ok = 1;
    for (uint32_t i = 0; i < NK && ok; i++) {
        uint32_t id = order[i];
        if (!m[id].version) continue;
        const void *k, *v;
        size_t kl, vl;
        if (rc != STORE_OK || sqli_store_cursor_key(c, &k, &kl) != STORE_OK || kl != klens[id] ||
            memcmp(k, keys[id], kl) != 0) {
            fprintf(stderr, "  scan: expected id %u at sorted position %u (rc %d)\n", id, i, rc);
            ok = 0;
            break;
        }
        if (sqli_store_cursor_value(c, &v, &vl) != STORE_OK || !val_ok(id, &m[id], v, vl)) {
            fprintf(stderr, "  scan: bad value for id %u\n", id);
            ok = 0;
        }
        rc = sqli_store_cursor_next(c);
    }
    if (ok && rc != STORE_NOTFOUND) {
        fprintf(stderr, "  scan: extra entries after the model's last\n");
        ok = 0;
    }
    sqli_store_cursor_close(c);
    return ok;
}

TEST(random_model) {
    long ops = SAN ? 200000 : 2000000;
    if (getenv("STORE_TEST_OPS")) ops = atol(getenv("STORE_TEST_OPS"));
    rs = seed;
    make_keys();
    vbuf = xmalloc(400000);
    mstate *m = xcalloc(NK, sizeof *m), *txn_copy = xcalloc(NK, sizeof *m);
    mstate *sp_copy[4];
    for (int i = 0; i < 4; i++) sp_copy[i] = xcalloc(NK, sizeof *m);
    /* Small cache and frequent checkpoints, to exercise spills and restarts. */
    int nosp = getenv("T_NOSP") != NULL, noabort = getenv("T_NOABORT") != NULL;
    int every = getenv("T_EVERY") ? 1 : 400;
    size_t cache = getenv("T_CACHE") ? (size_t)atol(getenv("T_CACHE")) : 256 << 10;
    store_db *db = fresh(cache, getenv("T_CKPT") ? (uint32_t)atol(getenv("T_CKPT")) : 200);
    CHECK(db != NULL);
    if (!db) return;
    store_txn *t;
    store_tree tree;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    long done = 0;
    uint32_t version = 1;
    int txns = 0, failures = 0;
    while (done < ops && failures == 0) {
        CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
        memcpy(txn_copy, m, sizeof *m * NK);
        int nsp = 0, levels[4];
        store_cursor *cur;
        CHECK_EQ(sqli_store_cursor_open(t, tree, &cur), STORE_OK);
        long n = 1 + (long)(rnd() % (rnd() % 8 == 0 ? 5000 : 300));
        for (long i = 0; i < n && failures == 0; i++, done++) {
            uint64_t r = rnd() % 1000;
            uint32_t id = (uint32_t)(rnd() % NK);
            int rc;
            if (r < 5 && nsp < 4 && !nosp) {
                CHECK_EQ(sqli_store_savepoint(t, &levels[nsp]), STORE_OK);
                memcpy(sp_copy[nsp], m, sizeof *m * NK);
                nsp++;
            } else if (r < 10 && nsp > 0) {
                int lv = (int)(rnd() % (uint64_t)nsp);
                if (rnd() % 2) {
                    CHECK_EQ(sqli_store_rollback_to(t, levels[lv]), STORE_OK);
                    memcpy(m, sp_copy[lv], sizeof *m * NK);
                    nsp = lv + 1;
                } else {
                    CHECK_EQ(sqli_store_release(t, levels[lv]), STORE_OK);
                    nsp = lv;
                }
            } else if (r < 600) { /* put */
                uint32_t len = pick_vlen();
                unsigned fl = rnd() % 10 == 0 ? STORE_NOOVERWRITE : 0;
                rc = sqli_store_put(t, tree, keys[id], klens[id], make_val(id, version, len), len,
                                    fl);
                if (fl && m[id].version) {
                    if (rc != STORE_EXISTS) failures++;
                } else if (rc != STORE_OK) {
                    fprintf(stderr, "put: %s\n", sqli_store_errmsg());
                    failures++;
                } else {
                    m[id].version = version++;
                    m[id].vlen = len;
                }
            } else if (r < 850) { /* delete by key */
                rc = sqli_store_del(t, tree, keys[id], klens[id]);
                if (rc != (m[id].version ? STORE_OK : STORE_NOTFOUND)) {
                    fprintf(stderr, "del id %u: rc %d, model %u\n", id, rc, m[id].version);
                    failures++;
                }
                m[id].version = 0;
            } else if (r < 950) { /* get */
                const void *v;
                size_t vl;
                rc = sqli_store_get(t, tree, keys[id], klens[id], &v, &vl);
                if (m[id].version ? (rc != STORE_OK || !val_ok(id, &m[id], v, vl))
                                  : rc != STORE_NOTFOUND) {
                    fprintf(stderr, "get id %u: rc %d\n", id, rc);
                    failures++;
                }
            } else { /* cursor: seek GE, then update or delete a few in a row */
                rc = sqli_store_cursor_seek(cur, STORE_SEEK_GE, keys[id], klens[id]);
                for (int s = 0; s < 3 && rc == STORE_OK; s++) {
                    const void *k;
                    size_t kl;
                    CHECK_EQ(sqli_store_cursor_key(cur, &k, &kl), STORE_OK);
                    uint32_t cid = ((const uint8_t *)k)[kl - 3] << 16 |
                                   ((const uint8_t *)k)[kl - 2] << 8 | ((const uint8_t *)k)[kl - 1];
                    if (cid >= NK || !m[cid].version) {
                        failures++;
                        break;
                    }
                    if (rnd() % 2) {
                        uint32_t len = pick_vlen();
                        CHECK_EQ(sqli_store_cursor_update(cur, make_val(cid, version, len), len),
                                 STORE_OK);
                        m[cid].version = version++;
                        m[cid].vlen = len;
                    } else {
                        CHECK_EQ(sqli_store_cursor_delete(cur), STORE_OK);
                        m[cid].version = 0;
                    }
                    rc = sqli_store_cursor_next(cur);
                }
            }
        }
        sqli_store_cursor_close(cur);
        if (rnd() % 10 == 0 && !noabort) {
            sqli_store_abort(t);
            memcpy(m, txn_copy, sizeof *m * NK);
        } else {
            CHECK_EQ(sqli_store_commit(t), STORE_OK);
        }
        if (++txns % every == 0 || done >= ops) {
            store_txn *rt;
            CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &rt), STORE_OK);
            if (!verify_all(rt, tree, m)) failures++;
            sqli_store_abort(rt);
            CHECK_EQ(check_db(db), 0);
        }
    }
    CHECK_EQ(failures, 0);
    /* Reopen: everything must still be there. */
    CHECK_EQ(sqli_store_close(db), STORE_OK);
    store_options o = {STORE_NOSYNC, 0, 0, 0};
    CHECK_EQ(sqli_store_open(path, &o, &db), STORE_OK);
    store_txn *rt;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &rt), STORE_OK);
    CHECK(verify_all(rt, tree, m));
    sqli_store_abort(rt);
    CHECK_EQ(check_db(db), 0);
    CHECK_EQ(sqli_store_close(db), STORE_OK);
    printf("random_model: %ld operations in %d transactions\n", done, txns);
    for (int i = 0; i < 4; i++) xfree(sp_copy[i]);
    xfree(m);
    xfree(txn_copy);
    xfree(vbuf);
}

/* ---- cursor semantics ------------------------------------------------------------- */

static void ikey(keyenc_buf *b, int64_t v) {
    sqli_keyenc_reset(b);
    sqli_keyenc_int(b, v, 0);
}

static int64_t cur_int(store_cursor *c) {
    const void *k;
    size_t kl, pos = 0;
    keyenc_value v;
    if (sqli_store_cursor_key(c, &k, &kl) != STORE_OK) return -999;
    if (sqli_keyenc_decode(k, kl, &pos, 0, &v) < 0 || v.type != KEYENC_INT) return -998;
    return v.i;
}

/* Tree with keys 10, 20, ..., 10 * n. */
static store_tree even_tree(store_txn *t, int n) {
    store_tree tree;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    sqli_store_tree_create(t, NULL, &tree);
    for (int i = 1; i <= n; i++) {
        ikey(&b, 10 * i);
        sqli_store_put(t, tree, b.p, b.len, &i, sizeof i, 0);
    }
    sqli_keyenc_free(&b);
    return tree;
}

/* The answer of a seek in even_tree(t, 1000) (keys 10, 20, ..., 10000): the
 * key, or -1 for NOTFOUND. */
static int64_t seek_model(store_seek op, int64_t v) {
    int64_t r;
    switch (op) {
    case STORE_SEEK_EQ:
        return v % 10 == 0 && v >= 10 && v <= 10000 ? v : -1;
    case STORE_SEEK_GE:
    case STORE_SEEK_GT:
        r = op == STORE_SEEK_GE ? (v + 9) / 10 * 10 : v / 10 * 10 + 10;
        if (r < 10) r = 10;
        return r <= 10000 ? r : -1;
    default:
        r = op == STORE_SEEK_LE ? v / 10 * 10 : (v - 1) / 10 * 10;
        if (v <= 0) r = -1;
        if (r > 10000) r = 10000;
        return r >= 10 ? r : -1;
    }
}

/* Many seeks in a row on one cursor (each may start from the leaf the last
 * one left), of every kind, near leaf edges and far, with steps between. */
TEST(cursor_seeks_in_a_row) {
    store_db *db = fresh(0, 0);
    store_txn *t;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    store_tree tree = even_tree(t, 1000);
    store_cursor *c;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    static const store_seek ops[] = {STORE_SEEK_EQ, STORE_SEEK_GE, STORE_SEEK_GT, STORE_SEEK_LE,
                                     STORE_SEEK_LT};
    rs = seed ^ 0x5EEC;
    int64_t at = -1, bad = 0;
    for (int i = 0; i < 50000 && bad < 5; i++) {
        int64_t v =
            at > 0 && rnd() % 4 ? at + (int64_t)(rnd() % 41) - 20 : (int64_t)(rnd() % 10030);
        store_seek op = ops[rnd() % 5];
        ikey(&b, v);
        int rc = sqli_store_cursor_seek(c, op, b.p, b.len);
        int64_t want = seek_model(op, v), got = rc == STORE_OK ? cur_int(c) : -1;
        if (got != want) {
            fprintf(stderr, "  seek %d of %lld: got %lld, want %lld\n", (int)op, (long long)v,
                    (long long)got, (long long)want);
            bad++;
        }
        at = got;
        if (got > 0 && rnd() % 3 == 0) { /* a step, then seek again from there */
            int fwd = (int)(rnd() % 2);
            rc = fwd ? sqli_store_cursor_next(c) : sqli_store_cursor_prev(c);
            int64_t w = fwd ? (got < 10000 ? got + 10 : -1) : (got > 10 ? got - 10 : -1);
            at = rc == STORE_OK ? cur_int(c) : -1;
            if (at != w) bad++;
        }
    }
    CHECK_EQ(bad, 0);
    sqli_store_cursor_close(c);
    sqli_keyenc_free(&b);
    sqli_store_abort(t);
    sqli_store_close(db);
}

/* A STORE_SEEK_EQ that misses keeps its path (btree.c, do_seek): a put of
 * that key through the same cursor, of another key, a change by another
 * cursor (splits included) or a step in between must all still give the
 * model's tree. Keys 0..29999; the tree starts with the multiples of 3. */
TEST(put_after_missed_seek) {
    store_db *db = fresh(0, 0);
    store_txn *t;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    store_tree tree;
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    enum { N = 30000 };
    static char in[N];
    keyenc_buf b;
    sqli_keyenc_init(&b);
    for (int i = 0; i < N; i += 3) {
        ikey(&b, i);
        sqli_store_put(t, tree, b.p, b.len, &i, sizeof i, 0);
        in[i] = 1;
    }
    store_cursor *c, *o;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    CHECK_EQ(sqli_store_cursor_open(t, tree, &o), STORE_OK);
    rs = seed ^ 0x9A7;
    int bad = 0;
    for (int i = 0; i < 40000 && bad < 5; i++) {
        int64_t k = (int64_t)(rnd() % N);
        ikey(&b, k);
        int rc = sqli_store_cursor_seek(c, STORE_SEEK_EQ, b.p, b.len);
        if ((rc == STORE_OK) != in[k]) bad++;
        if (rc != STORE_NOTFOUND) continue;
        int64_t put = k;
        switch (rnd() % 5) {
        case 0: { /* another cursor changes the tree first (long values split pages) */
            int64_t k2 = (int64_t)(rnd() % N);
            char val[300] = {0};
            ikey(&b, k2);
            if (sqli_store_cursor_put(o, b.p, b.len, val, 1 + rnd() % sizeof val, 0) != STORE_OK)
                bad++;
            in[k2] = 1;
            break;
        }
        case 1: /* a different key through the same cursor */
            put = (int64_t)(rnd() % N);
            break;
        case 2: /* a step from the gap, then the put */
            rc = sqli_store_cursor_next(c);
            if (rc != STORE_OK && rc != STORE_NOTFOUND) bad++;
            break;
        case 3: /* a delete elsewhere (merges) */
            for (int64_t d = (int64_t)(rnd() % N); d < N; d++)
                if (in[d] && d != k) {
                    ikey(&b, d);
                    if (sqli_store_del(t, tree, b.p, b.len) != STORE_OK) bad++;
                    in[d] = 0;
                    break;
                }
            break;
        default: /* the upsert's case: the same key at once */
            break;
        }
        ikey(&b, put);
        rc = sqli_store_cursor_put(c, b.p, b.len, &put, sizeof put, STORE_NOOVERWRITE);
        if (rc != (in[put] ? STORE_EXISTS : STORE_OK)) bad++;
        in[put] = 1;
        if (cur_int(c) != put) bad++; /* on the entry (a split leaves it saved there) */
    }
    int64_t n = 0, want = 0, prev = -1;
    for (int i = 0; i < N; i++) want += in[i];
    for (int rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(c)) {
        int64_t k = cur_int(c);
        if (k <= prev || !in[k]) bad++;
        prev = k;
        n++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(n, want);
    sqli_store_cursor_close(c);
    sqli_store_cursor_close(o);
    sqli_keyenc_free(&b);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(check_db(db), 0);
    sqli_store_close(db);
}

TEST(cursor_seeks) {
    store_db *db = fresh(0, 0);
    store_txn *t;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    store_tree tree = even_tree(t, 1000); /* several leaves */
    store_cursor *c;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    ikey(&b, 500);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_EQ, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 500);
    ikey(&b, 505);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_EQ, b.p, b.len), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_next(c), STORE_OK); /* gap: next is above 505 */
    CHECK_EQ(cur_int(c), 510);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_EQ, b.p, b.len), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_prev(c), STORE_OK);
    CHECK_EQ(cur_int(c), 500);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_GE, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 510);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_LE, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 500);
    ikey(&b, 500);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_GT, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 510);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_GE, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 500);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_LT, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 490);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_LE, b.p, b.len), STORE_OK);
    CHECK_EQ(cur_int(c), 500);
    /* Ends. */
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0), STORE_OK);
    CHECK_EQ(cur_int(c), 10);
    CHECK_EQ(sqli_store_cursor_prev(c), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_prev(c), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_next(c), STORE_OK);
    CHECK_EQ(cur_int(c), 10);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_LAST, NULL, 0), STORE_OK);
    CHECK_EQ(cur_int(c), 10000);
    CHECK_EQ(sqli_store_cursor_next(c), STORE_NOTFOUND);
    const void *k;
    size_t kl;
    CHECK_EQ(sqli_store_cursor_key(c, &k, &kl), STORE_MISUSE);
    CHECK_EQ(sqli_store_cursor_prev(c), STORE_OK);
    CHECK_EQ(cur_int(c), 10000);
    ikey(&b, 20000);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_GE, b.p, b.len), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_prev(c), STORE_OK);
    CHECK_EQ(cur_int(c), 10000);
    ikey(&b, 5);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_LE, b.p, b.len), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_next(c), STORE_OK);
    CHECK_EQ(cur_int(c), 10);
    /* Full walks both ways. */
    int n = 0;
    int64_t last = 0;
    for (int rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(c)) {
        int64_t v = cur_int(c);
        if (v != last + 10) break;
        last = v;
        n++;
    }
    CHECK_EQ(n, 1000);
    n = 0;
    last = 10010;
    for (int rc = sqli_store_cursor_seek(c, STORE_SEEK_LAST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_prev(c)) {
        int64_t v = cur_int(c);
        if (v != last - 10) break;
        last = v;
        n++;
    }
    CHECK_EQ(n, 1000);
    /* A never-positioned cursor: next = first, prev = last. */
    store_cursor *c2;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c2), STORE_OK);
    CHECK_EQ(sqli_store_cursor_prev(c2), STORE_OK);
    CHECK_EQ(cur_int(c2), 10000);
    sqli_store_cursor_close(c2);
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c2), STORE_OK);
    CHECK_EQ(sqli_store_cursor_next(c2), STORE_OK);
    CHECK_EQ(cur_int(c2), 10);
    sqli_store_cursor_close(c2);
    sqli_keyenc_free(&b);
    sqli_store_abort(t);
    sqli_store_close(db);
}

TEST(cursor_prefix) {
    store_db *db = fresh(0, 0);
    store_txn *t;
    store_tree tree;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    /* Composite keys (a, b) for a in 1..50, b in 1..40. */
    for (int a = 1; a <= 50; a++)
        for (int bb = 1; bb <= 40; bb++) {
            sqli_keyenc_reset(&b);
            sqli_keyenc_int(&b, a, 0);
            sqli_keyenc_int(&b, bb, 0);
            CHECK_EQ(sqli_store_put(t, tree, b.p, b.len, "x", 1, 0), STORE_OK);
        }
    store_cursor *c;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    sqli_keyenc_reset(&b);
    sqli_keyenc_int(&b, 17, 0);
    int n = 0;
    for (int rc = sqli_store_cursor_seek(c, STORE_SEEK_PREFIX, b.p, b.len); rc == STORE_OK;
         rc = sqli_store_cursor_next(c))
        n++;
    CHECK_EQ(n, 40);
    CHECK_EQ(sqli_store_cursor_next(c), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_prev(c), STORE_OK); /* back to (17, 40) */
    const void *k;
    size_t kl, pos = 0;
    keyenc_value v;
    sqli_store_cursor_key(c, &k, &kl);
    sqli_keyenc_decode(k, kl, &pos, 0, &v);
    CHECK_EQ(v.i, 17);
    sqli_keyenc_decode(k, kl, &pos, 0, &v);
    CHECK_EQ(v.i, 40);
    n = 1;
    while (sqli_store_cursor_prev(c) == STORE_OK) n++;
    CHECK_EQ(n, 40);
    sqli_keyenc_reset(&b);
    sqli_keyenc_int(&b, 99, 0);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_PREFIX, b.p, b.len), STORE_NOTFOUND);
    /* Text prefix. */
    store_tree tt;
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tt), STORE_OK);
    const char *words[] = {"apple", "apricot", "ap", "banana", "a", "apex", "b"};
    for (int i = 0; i < 7; i++) {
        sqli_keyenc_reset(&b);
        sqli_keyenc_text(&b, words[i], strlen(words[i]), 0);
        CHECK_EQ(sqli_store_put(t, tt, b.p, b.len, NULL, 0, 0), STORE_OK);
    }
    store_cursor *c3;
    CHECK_EQ(sqli_store_cursor_open(t, tt, &c3), STORE_OK);
    sqli_keyenc_reset(&b);
    sqli_keyenc_text_prefix(&b, "ap", 2);
    n = 0;
    for (int rc = sqli_store_cursor_seek(c3, STORE_SEEK_PREFIX, b.p, b.len); rc == STORE_OK;
         rc = sqli_store_cursor_next(c3))
        n++;
    CHECK_EQ(n, 4); /* ap, apex, apple, apricot */
    sqli_keyenc_free(&b);
    sqli_store_abort(t);
    sqli_store_close(db);
}

TEST(cursor_delete_and_update) {
    store_db *db = fresh(0, 0);
    store_txn *t;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    store_tree tree = even_tree(t, 3000);
    store_cursor *c, *other;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    CHECK_EQ(sqli_store_cursor_open(t, tree, &other), STORE_OK);
    ikey(&b, 15000);
    CHECK_EQ(sqli_store_cursor_seek(other, STORE_SEEK_EQ, b.p, b.len), STORE_OK);
    /* Delete every other entry walking forward. */
    int rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0), i = 0;
    while (rc == STORE_OK) {
        if (i++ % 2 == 0) CHECK_EQ(sqli_store_cursor_delete(c), STORE_OK);
        rc = sqli_store_cursor_next(c);
    }
    CHECK_EQ(rc, STORE_NOTFOUND);
    /* The other cursor kept its place (15000 is the 1500th: deleted? 1500 is even
     * position 1499 -> odd index, kept). */
    CHECK_EQ(cur_int(other), 15000);
    CHECK_EQ(sqli_store_cursor_next(other), STORE_OK);
    CHECK_EQ(cur_int(other), 15020);
    /* Delete backwards all remaining; then the tree is empty and shallow. */
    rc = sqli_store_cursor_seek(c, STORE_SEEK_LAST, NULL, 0);
    int n = 0;
    while (rc == STORE_OK) {
        CHECK_EQ(sqli_store_cursor_delete(c), STORE_OK);
        n++;
        rc = sqli_store_cursor_prev(c);
    }
    CHECK_EQ(n, 1500);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_cursor_key(other, &(const void *){0}, &(size_t){0}), STORE_NOTFOUND);
    /* Updates growing into overflow and back, keeping the key. */
    ikey(&b, 7);
    CHECK_EQ(sqli_store_put(t, tree, b.p, b.len, "a", 1, 0), STORE_OK);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_EQ, b.p, b.len), STORE_OK);
    char *big = xmalloc(100000);
    memset(big, 'z', 100000);
    CHECK_EQ(sqli_store_cursor_update(c, big, 100000), STORE_OK);
    size_t vl;
    CHECK_EQ(sqli_store_cursor_value_size(c, &vl), STORE_OK);
    CHECK_EQ(vl, 100000);
    CHECK_EQ(sqli_store_cursor_update(c, "bb", 2), STORE_OK);
    const void *v;
    CHECK_EQ(sqli_store_cursor_value(c, &v, &vl), STORE_OK);
    CHECK(vl == 2 && memcmp(v, "bb", 2) == 0);
    CHECK_EQ(cur_int(c), 7);
    xfree(big);
    sqli_store_cursor_close(other);
    sqli_keyenc_free(&b);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(check_db(db), 0);
    sqli_store_close(db);
}

TEST(bulk_load_is_dense) {
    store_db *db = fresh(64 << 20, 0);
    store_txn *t;
    store_tree tree;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    char val[100];
    memset(val, 'v', sizeof val);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    store_cursor *c;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    const int n = SAN ? 20000 : 200000;
    for (int i = 0; i < n; i++) {
        ikey(&b, i);
        if (sqli_store_cursor_put(c, b.p, b.len, val, sizeof val, STORE_APPEND) != STORE_OK) {
            CHECK(0);
            break;
        }
    }
    ikey(&b, 5);
    CHECK_EQ(sqli_store_cursor_put(c, b.p, b.len, val, 1, STORE_APPEND), STORE_MISUSE);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    store_stats st;
    sqli_store_get_stats(db, &st);
    /* Cells of 1 + 1 + <=4 key + 100 value bytes and a 2-byte pointer: a
     * full leaf holds (4088 - 12) / 108 of them. */
    double ideal = (double)n / (double)((4088 - 12) / 108);
    double fill = ideal / (double)st.page_count;
    printf("bulk load: %d entries in %u pages (ideal leaves alone: %.0f, %.1f%%)\n", n,
           st.page_count, ideal, fill * 100);
    CHECK(fill > 0.97);
    CHECK_EQ(check_db(db), 0);
    sqli_keyenc_free(&b);
    sqli_store_close(db);
}

/* sqli_store_tree_estimate: 0 for an empty tree, a small tree counted
 * exactly (one leaf), a big one filled in random order within a factor of
 * two; an unknown tree is STORE_NOTFOUND. */
TEST(tree_estimate) {
    store_db *db = fresh(64 << 20, 0);
    store_txn *t;
    store_tree tree;
    keyenc_buf b;
    sqli_keyenc_init(&b);
    uint64_t est = 99;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    CHECK_EQ(sqli_store_tree_estimate(t, tree, &est), STORE_OK);
    CHECK_EQ(est, 0);
    const int n = SAN ? 20000 : 100000;
    for (int i = 0; i < n; i++) {
        ikey(&b, (int)(rnd() % 100000000));
        if (sqli_store_put(t, tree, b.p, b.len, "value", 5, 0) != STORE_OK) {
            CHECK(0);
            break;
        }
        if (i == 9) {
            CHECK_EQ(sqli_store_tree_estimate(t, tree, &est), STORE_OK);
            CHECK_EQ(est, 10);
        }
    }
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_estimate(t, tree, &est), STORE_OK);
    printf("tree estimate: %llu for %d entries\n", (unsigned long long)est, n);
    CHECK(est > (uint64_t)n / 2 && est < (uint64_t)n * 2);
    CHECK_EQ(sqli_store_tree_estimate(t, 0x7ffffff0u, &est), STORE_NOTFOUND);
    sqli_store_abort(t);
    sqli_keyenc_free(&b);
    sqli_store_close(db);
}

TEST(large_values_and_limits) {
    store_db *db = fresh(1 << 20, 0); /* a 1 MiB cache, values larger than it */
    store_txn *t;
    store_tree tree;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    size_t big = 6u << 20;
    uint8_t *v = xmalloc(big);
    for (size_t i = 0; i < big; i++) v[i] = (uint8_t)(i * 7 + (i >> 12));
    CHECK_EQ(sqli_store_put(t, tree, "big", 3, v, big, 0), STORE_OK);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &t), STORE_OK);
    const void *got;
    size_t gl;
    CHECK_EQ(sqli_store_get(t, tree, "big", 3, &got, &gl), STORE_OK);
    CHECK(gl == big && memcmp(got, v, big) == 0);
    store_cursor *c;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &c), STORE_OK);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_EQ, "big", 3), STORE_OK);
    uint8_t part[10000];
    CHECK_EQ(sqli_store_cursor_value_read(c, 3000000, part, sizeof part), STORE_OK);
    CHECK(memcmp(part, v + 3000000, sizeof part) == 0);
    CHECK_EQ(sqli_store_cursor_value_read(c, big - 5, part, 10), STORE_MISUSE);
    sqli_store_abort(t);
    /* Key limit. */
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    size_t mk = sqli_store_max_key(db);
    CHECK(mk >= 900 && mk < 1024);
    CHECK_EQ(sqli_store_put(t, tree, v, mk, "x", 1, 0), STORE_OK);
    CHECK_EQ(sqli_store_put(t, tree, v, mk + 1, "x", 1, 0), STORE_TOOBIG);
    CHECK_EQ(sqli_store_put(t, tree, v, mk, v, 5000, 0), STORE_OK); /* max key + overflow */
    CHECK_EQ(sqli_store_del(t, tree, "big", 3), STORE_OK);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    store_stats st;
    sqli_store_get_stats(db, &st);
    CHECK(st.free_pages > 1400); /* the 6 MiB chain went to the free list */
    CHECK_EQ(check_db(db), 0);
    xfree(v);
    sqli_store_close(db);
}

static int count_tree(void *arg, store_tree tree, const store_tree_info *info) {
    (void)tree;
    (void)info;
    (*(int *)arg)++;
    return 0;
}

TEST(trees_drop_clear_meta) {
    store_db *db = fresh(0, 0);
    store_txn *t;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    store_tree a = even_tree(t, 5000), b = even_tree(t, 5000);
    store_tree_info ti;
    CHECK_EQ(sqli_store_tree_get_info(t, a, &ti), STORE_OK);
    CHECK_EQ(ti.kind, STORE_TREE_OTHER);
    CHECK_EQ(sqli_store_tree_drop(t, a), STORE_OK);
    CHECK_EQ(sqli_store_tree_get_info(t, a, &ti), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_tree_drop(t, a), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_tree_drop(t, STORE_CATALOG), STORE_MISUSE);
    CHECK_EQ(sqli_store_tree_clear(t, b), STORE_OK);
    store_cursor *c;
    CHECK_EQ(sqli_store_cursor_open(t, b, &c), STORE_OK);
    CHECK_EQ(sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_meta_set(t, 3, 0x1122334455667788ull), STORE_OK);
    CHECK_EQ(sqli_store_meta_set(t, STORE_META_SLOTS, 1), STORE_MISUSE);
    CHECK_EQ(sqli_store_put(t, STORE_CATALOG, "schema", 6, "v1", 2, 0), STORE_OK);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(check_db(db), 0);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &t), STORE_OK);
    uint64_t mv;
    CHECK_EQ(sqli_store_meta_get(t, 3, &mv), STORE_OK);
    CHECK(mv == 0x1122334455667788ull);
    int count = 0;
    CHECK_EQ(sqli_store_tree_foreach(t, count_tree, &count), STORE_OK);
    CHECK_EQ(count, 2); /* the catalog and b */
    sqli_store_abort(t);
    store_stats st;
    sqli_store_get_stats(db, &st);
    CHECK(st.free_pages > 20);
    sqli_store_close(db);
}

TEST(page_layout) {
    /* The file header as drawn in store_int.h, and page trailers. */
    store_db *db = fresh(0, 0);
    store_txn *t;
    store_tree tree = 0;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    CHECK_EQ(sqli_store_meta_set(t, 1, 77), STORE_OK);
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof k, "%06d", i);
        CHECK_EQ(sqli_store_put(t, tree, k, 6, k, 6, 0), STORE_OK);
    }
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(sqli_store_close(db), STORE_OK);
    uint8_t p1[4096], pg[4096];
    int fd = open(path, O_RDONLY);
    CHECK_EQ(pread(fd, p1, sizeof p1, 0), 4096);
    CHECK(memcmp(p1, "LARDERSTORE", 12) == 0);
    CHECK_EQ(get32(p1 + HDR_OFF_VERSION), 1);
    CHECK_EQ(get32(p1 + HDR_OFF_PAGESIZE), 4096);
    CHECK_EQ(get32(p1 + HDR_OFF_DIRROOT), 2);
    CHECK_EQ(get32(p1 + HDR_OFF_CATROOT), 3);
    CHECK_EQ(get64(p1 + HDR_OFF_META + 8), 77);
    CHECK(get64(p1 + HDR_OFF_CKSUM) == sqli_hdr_checksum(p1));
    uint32_t pc = get32(p1 + HDR_OFF_PAGECOUNT);
    CHECK(pc >= 4);
    for (uint32_t n = 1; n <= pc; n++) {
        CHECK_EQ(pread(fd, pg, sizeof pg, (off_t)(n - 1) * 4096), 4096);
        CHECK(get64(pg + 4096 - 8) == sqli_page_trailer_checksum(pg, 4096, n));
    }
    CHECK_EQ(pread(fd, pg, sizeof pg, (off_t)(tree - 1) * 4096), 4096);
    CHECK(pg[0] == PT_LEAF || pg[0] == PT_INTERIOR);
    CHECK_EQ(sqli_bt_node_sane(pg, 4088), 0);
    close(fd);
    /* Local/overflow rule: a cell never exceeds the quarter-page bound, and an
     * overflowing value fills its chain's pages except the last. */
    uint32_t u = 4088, cap = bt_ovfl_cap(u);
    for (size_t kl = 0; kl <= bt_max_key(u); kl += 37)
        for (size_t vl = 0; vl < 50000; vl = vl * 3 / 2 + 1) {
            uint32_t loc = sqli_bt_leaf_local(u, kl, vl);
            size_t h = (kl < 128 ? 1 : 2) + (vl < 128 ? 1 : vl < 16384 ? 2 : 3);
            size_t cell = h + kl + loc + (loc < vl ? 4 : 0);
            CHECK(cell <= bt_max_local(u) && loc <= vl);
            if (loc < vl) { /* overflow: the minimum, or a full last chain page */
                size_t room = bt_max_local(u) - h - kl - 4;
                size_t lo = bt_min_local(u) > h + kl + 4 ? bt_min_local(u) - h - kl - 4 : 0;
                if (lo > room) lo = room;
                CHECK(loc >= lo && loc <= room);
                CHECK(loc == lo || (vl - loc) % cap == 0);
            } else {
                CHECK(h + kl + vl <= bt_max_local(u));
            }
        }
    /* Garbage pages are rejected (or accepted as sane), never read past. */
    rs = seed;
    for (int it = 0; it < 200000; it++) {
        uint8_t *g = pg;
        for (size_t i = 0; i < 64; i++) g[i] = (uint8_t)rnd();
        g[0] = (uint8_t)(1 + rnd() % 2);
        put16(g + 2, (uint16_t)(rnd() % 40));
        put16(g + 4, (uint16_t)(rnd() % 4200));
        for (size_t i = 64; i < 4096; i += 8) put64(g + i, rnd());
        if (sqli_bt_node_sane(g, 4088) == 0) {
            for (int c = 0; c < bt_ncells(g); c++) {
                bt_cell bc;
                sqli_bt_parse(g, 4088, c, &bc);
                CHECK(bc.key + bc.klen <= g + 4088);
            }
        }
    }
}

/* Pages of small cells (the ones the page check takes without a full
 * parse), leaf and interior, each with one byte changed at random: a page
 * the check takes parses cell by cell within the page, and its cells fit in
 * the space the header leaves them; the unchanged page is taken. */
TEST(node_sane_small_cells) {
    uint8_t g[4096];
    const uint32_t u = 4088;
    rs = seed ^ 0x5A5Aull;
    int taken = 0, refused = 0;
    for (int it = 0; it < 100000; it++) {
        int leaf = (int)(rnd() % 2);
        memset(g, 0, sizeof g);
        g[0] = leaf ? PT_LEAF : PT_INTERIOR;
        if (!leaf) put32(g + 8, 7);
        uint32_t top = u, n = 0;
        for (;;) { /* cells from the end of the page down */
            uint32_t kl = (uint32_t)(rnd() % 40), vl = leaf ? (uint32_t)(rnd() % 60) : 0;
            uint32_t size = leaf ? 2 + kl + vl : 5 + kl;
            if (NODE_HDR + 2 * (n + 1) + size > top || n == 60) break;
            top -= size;
            if (leaf) {
                g[top] = (uint8_t)kl;
                g[top + 1] = (uint8_t)vl;
            } else {
                put32(g + top, 3 + n);
                g[top + 4] = (uint8_t)kl;
            }
            put16(g + NODE_HDR + 2 * n, (uint16_t)top);
            n++;
        }
        put16(g + 2, (uint16_t)n);
        put16(g + 4, (uint16_t)top);
        CHECK_EQ(sqli_bt_node_sane(g, u), 0);
        g[rnd() % u] ^= (uint8_t)(1 + rnd() % 255);
        if (sqli_bt_node_sane(g, u) != 0) {
            refused++;
            continue;
        }
        taken++;
        uint32_t used = 0;
        for (int c = 0; c < bt_ncells(g); c++) {
            bt_cell bc;
            sqli_bt_parse(g, u, c, &bc);
            CHECK(bc.key + bc.klen <= g + u);
            used += bc.size;
        }
        CHECK(used + get16(g + 6) <= u - get16(g + 4));
    }
    CHECK(taken > 0 && refused > 0);
}

int main(void) {
    const char *s = getenv("STORE_TEST_SEED");
    seed = s ? strtoull(s, NULL, 0) : 0xC0FFEE1234ull;
    if (!seed) seed = 1;
    printf("btree seed %llu (STORE_TEST_SEED)\n", (unsigned long long)seed);
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    RUN(cursor_seeks);
    RUN(cursor_seeks_in_a_row);
    RUN(put_after_missed_seek);
    RUN(cursor_prefix);
    RUN(cursor_delete_and_update);
    RUN(bulk_load_is_dense);
    RUN(tree_estimate);
    RUN(large_values_and_limits);
    RUN(trees_drop_clear_meta);
    RUN(page_layout);
    RUN(node_sane_small_cells);
    RUN(random_model);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_report();
}
