/* mk/bench-store.c — `make bench-store`: the store against SQLite, side by side.
 *
 * Both engines get the same workload, phase by phase, in one run:
 *   1. N random-key inserts in one transaction (N = 1,000,000)
 *   2. 100,000 point lookups of random existing keys
 *   3. 1,000 range scans of 1,000 rows from random start keys
 *   4. 100,000 updates of random existing keys, one transaction
 *   5. 1,000 single-row commits, each durable when it returns for us
 *      (SQLite's NORMAL does not sync them; a reference line repeats the
 *      phase with SQLite at synchronous=FULL, on 1,000 further rows,
 *      after SQLite's file size was taken)
 * Keys are distinct random 63-bit integers, values 100 bytes.
 * SQLite: libsqlite3, WAL mode, synchronous=NORMAL (commits are not fsynced,
 * checkpoints are), a table (k INTEGER PRIMARY KEY, v BLOB), prepared
 * statements. The store: keys encoded with keyenc, values as they are.
 * Both get the same page cache (BENCH_CACHE_MB, default 64) and 4 KiB pages.
 * Environment: BENCH_N (rows), BENCH_DIR (where files go, default /tmp).
 * Prints seconds per phase, ours/SQLite ratios and file sizes.
 */
#include "sql/keyenc.h"
#include "sql/store.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long N = 1000000;
static long LOOKUPS = 100000, SCANS = 1000, SCANLEN = 1000, UPDATES = 100000, COMMITS = 1000;
static size_t cache_mb = 64;
static char dir[256] = "/tmp";
static int64_t *keys;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A bijection on 63-bit integers: distinct "random" keys without a set. */
static int64_t mix(uint64_t x) {
    x &= (1ull << 63) - 1;
    for (int i = 0; i < 3; i++) {
        x ^= x >> 29;
        x = (x * 0x5851F42D4C957F2Dull) & ((1ull << 63) - 1);
    }
    return (int64_t)x;
}

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static void fill_val(uint8_t *v, int64_t k, int gen) {
    for (int i = 0; i < 100; i++) v[i] = (uint8_t)(k >> (i % 8 * 8)) ^ (uint8_t)(i * 31 + gen);
}

static long long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

#define PHASES 5
static const char *phase_name[PHASES] = {"insert 1M random keys, 1 txn", "100k point lookups",
                                         "1000 range scans x 1000 rows", "100k updates, 1 txn",
                                         "1000 single-row durable commits"};

/* ---- the store ------------------------------------------------------------------- */

#define CK(x)                                                                                      \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != STORE_OK) {                                                                     \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #x,                        \
                    sqli_store_strerror(rc_), sqli_store_errmsg());                                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void run_store(double *t, long long *size) {
    char path[300], wal[310];
    snprintf(path, sizeof path, "%s/bench-store.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
    store_options o = {STORE_CREATE, 4096, cache_mb << 20, 0};
    store_db *db;
    store_txn *txn;
    store_tree tree;
    keyenc_buf kb;
    uint8_t val[100];
    const void *v;
    size_t vl;
    uint64_t sum = 0;
    sqli_keyenc_init(&kb);
    CK(sqli_store_open(path, &o, &db));

    double t0 = now();
    CK(sqli_store_begin(db, STORE_TXN_WRITE, &txn));
    CK(sqli_store_tree_create(txn, NULL, &tree));
    for (long i = 0; i < N; i++) {
        sqli_keyenc_reset(&kb);
        sqli_keyenc_int(&kb, keys[i], 0);
        fill_val(val, keys[i], 0);
        CK(sqli_store_put(txn, tree, kb.p, kb.len, val, sizeof val, 0));
    }
    CK(sqli_store_commit(txn));
    t[0] = now() - t0;

    rs = 1;
    t0 = now();
    CK(sqli_store_begin(db, STORE_TXN_READ, &txn));
    for (long i = 0; i < LOOKUPS; i++) {
        int64_t k = keys[rnd() % (uint64_t)N];
        sqli_keyenc_reset(&kb);
        sqli_keyenc_int(&kb, k, 0);
        CK(sqli_store_get(txn, tree, kb.p, kb.len, &v, &vl));
        sum += ((const uint8_t *)v)[7];
    }
    sqli_store_abort(txn);
    t[1] = now() - t0;

    rs = 2;
    t0 = now();
    CK(sqli_store_begin(db, STORE_TXN_READ, &txn));
    store_cursor *c;
    CK(sqli_store_cursor_open(txn, tree, &c));
    for (long i = 0; i < SCANS; i++) {
        sqli_keyenc_reset(&kb);
        sqli_keyenc_int(&kb, (int64_t)(rnd() >> 1), 0);
        int rc = sqli_store_cursor_seek(c, STORE_SEEK_GE, kb.p, kb.len);
        for (long j = 0; j < SCANLEN && rc == STORE_OK; j++) {
            const void *k;
            size_t kl;
            CK(sqli_store_cursor_key(c, &k, &kl));
            CK(sqli_store_cursor_value(c, &v, &vl));
            sum += ((const uint8_t *)v)[3] + kl;
            rc = sqli_store_cursor_next(c);
        }
    }
    sqli_store_abort(txn);
    t[2] = now() - t0;

    rs = 3;
    t0 = now();
    CK(sqli_store_begin(db, STORE_TXN_WRITE, &txn));
    for (long i = 0; i < UPDATES; i++) {
        int64_t k = keys[rnd() % (uint64_t)N];
        sqli_keyenc_reset(&kb);
        sqli_keyenc_int(&kb, k, 0);
        fill_val(val, k, 1);
        CK(sqli_store_put(txn, tree, kb.p, kb.len, val, sizeof val, 0));
    }
    CK(sqli_store_commit(txn));
    t[3] = now() - t0;

    t0 = now();
    for (long i = 0; i < COMMITS; i++) {
        int64_t k = keys[N + i];
        CK(sqli_store_begin(db, STORE_TXN_WRITE, &txn));
        sqli_keyenc_reset(&kb);
        sqli_keyenc_int(&kb, k, 0);
        fill_val(val, k, 2);
        CK(sqli_store_put(txn, tree, kb.p, kb.len, val, sizeof val, 0));
        CK(sqli_store_commit(txn));
    }
    t[4] = now() - t0;
    CK(sqli_store_checkpoint(db));
    size[0] = file_size(path);
    size[1] = file_size(wal);
    CK(sqli_store_close(db));
    unlink(path);
    unlink(wal);
    sqli_keyenc_free(&kb);
    if (sum == 42) printf(" ");
}

/* ---- SQLite ------------------------------------------------------------------------ */

static void sq(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "sqlite: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static void exec(sqlite3 *db, const char *sql) {
    sq(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql);
}

static void run_sqlite(double *t, long long *size) {
    char path[300], wal[310], pragma[100];
    snprintf(path, sizeof path, "%s/bench-sqlite.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
    sqlite3 *db;
    sqlite3_stmt *ins, *get, *scan, *upd;
    uint8_t val[100];
    uint64_t sum = 0;
    sq(NULL, sqlite3_open(path, &db), "open");
    exec(db, "PRAGMA page_size=4096");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%zu", cache_mb * 1024);
    exec(db, pragma);
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    sq(db, sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?)", -1, &ins, NULL), "prep");
    sq(db, sqlite3_prepare_v2(db, "SELECT v FROM t WHERE k=?", -1, &get, NULL), "prep");
    sq(db,
       sqlite3_prepare_v2(db, "SELECT k, v FROM t WHERE k>=? ORDER BY k LIMIT 1000", -1, &scan,
                          NULL),
       "prep");
    sq(db, sqlite3_prepare_v2(db, "UPDATE t SET v=? WHERE k=?", -1, &upd, NULL), "prep");

    double t0 = now();
    exec(db, "BEGIN");
    for (long i = 0; i < N; i++) {
        fill_val(val, keys[i], 0);
        sqlite3_bind_int64(ins, 1, keys[i]);
        sqlite3_bind_blob(ins, 2, val, sizeof val, SQLITE_STATIC);
        sq(db, sqlite3_step(ins), "insert");
        sqlite3_reset(ins);
    }
    exec(db, "COMMIT");
    t[0] = now() - t0;

    rs = 1;
    t0 = now();
    exec(db, "BEGIN");
    for (long i = 0; i < LOOKUPS; i++) {
        sqlite3_bind_int64(get, 1, keys[rnd() % (uint64_t)N]);
        if (sqlite3_step(get) != SQLITE_ROW) sq(db, SQLITE_ERROR, "lookup");
        sum += ((const uint8_t *)sqlite3_column_blob(get, 0))[7];
        sqlite3_reset(get);
    }
    exec(db, "COMMIT");
    t[1] = now() - t0;

    rs = 2;
    t0 = now();
    exec(db, "BEGIN");
    for (long i = 0; i < SCANS; i++) {
        sqlite3_bind_int64(scan, 1, (int64_t)(rnd() >> 1));
        while (sqlite3_step(scan) == SQLITE_ROW) {
            const uint8_t *v = sqlite3_column_blob(scan, 1);
            sum += v[3] + (uint64_t)sqlite3_column_int64(scan, 0);
        }
        sqlite3_reset(scan);
    }
    exec(db, "COMMIT");
    t[2] = now() - t0;

    rs = 3;
    t0 = now();
    exec(db, "BEGIN");
    for (long i = 0; i < UPDATES; i++) {
        int64_t k = keys[rnd() % (uint64_t)N];
        fill_val(val, k, 1);
        sqlite3_bind_blob(upd, 1, val, sizeof val, SQLITE_STATIC);
        sqlite3_bind_int64(upd, 2, k);
        sq(db, sqlite3_step(upd), "update");
        sqlite3_reset(upd);
    }
    exec(db, "COMMIT");
    t[3] = now() - t0;

    t0 = now();
    for (long i = 0; i < COMMITS; i++) {
        int64_t k = keys[N + i];
        fill_val(val, k, 2);
        exec(db, "BEGIN");
        sqlite3_bind_int64(ins, 1, k);
        sqlite3_bind_blob(ins, 2, val, sizeof val, SQLITE_STATIC);
        sq(db, sqlite3_step(ins), "insert");
        sqlite3_reset(ins);
        exec(db, "COMMIT");
    }
    t[4] = now() - t0;
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    size[0] = file_size(path);
    size[1] = file_size(wal);
    /* Reference only: the same commits with SQLite syncing each one. */
    exec(db, "PRAGMA synchronous=FULL");
    t0 = now();
    for (long i = 0; i < COMMITS; i++) {
        int64_t k = keys[N + COMMITS + i];
        fill_val(val, k, 2);
        exec(db, "BEGIN");
        sqlite3_bind_int64(ins, 1, k);
        sqlite3_bind_blob(ins, 2, val, sizeof val, SQLITE_STATIC);
        sq(db, sqlite3_step(ins), "insert");
        sqlite3_reset(ins);
        exec(db, "COMMIT");
    }
    t[5] = now() - t0;
    sqlite3_finalize(ins);
    sqlite3_finalize(get);
    sqlite3_finalize(scan);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    unlink(path);
    unlink(wal);
    if (sum == 42) printf(" ");
}

int main(void) {
    if (getenv("BENCH_N")) N = atol(getenv("BENCH_N"));
    if (getenv("BENCH_CACHE_MB")) cache_mb = (size_t)atol(getenv("BENCH_CACHE_MB"));
    if (getenv("BENCH_DIR")) snprintf(dir, sizeof dir, "%s", getenv("BENCH_DIR"));
    if (LOOKUPS > N) LOOKUPS = N;
    keys = malloc(sizeof *keys * (size_t)(N + 2 * COMMITS));
    for (long i = 0; i < N + 2 * COMMITS; i++) keys[i] = mix((uint64_t)i + 1);
    printf("bench-store: %ld rows (63-bit random keys, 100-byte values), %zu MiB cache, "
           "4 KiB pages, files in %s\n",
           N, cache_mb, dir);
    printf("SQLite %s: WAL, synchronous=NORMAL (commits not fsynced); store: every commit "
           "fsynced\n\n",
           sqlite3_libversion());
    double ts[PHASES] = {0}, tq[PHASES + 1] = {0};
    long long ss[2], sqs[2];
    run_sqlite(tq, sqs);
    run_store(ts, ss);
    printf("%-34s %10s %10s %8s\n", "phase", "store s", "sqlite s", "ratio");
    for (int i = 0; i < PHASES; i++)
        printf("%-34s %10.3f %10.3f %7.2fx\n", phase_name[i], ts[i], tq[i], ts[i] / tq[i]);
    printf("%-34s %10s %10.3f %7.2fx   (reference: SQLite synchronous=FULL)\n",
           "1000 commits, SQLite fsyncing too", "", tq[5], ts[4] / tq[5]);
    printf("%-34s %10lld %10lld %7.2fx\n", "file size (bytes, after checkpoint)", ss[0], sqs[0],
           (double)ss[0] / (double)sqs[0]);
    if (ss[1] || sqs[1]) printf("%-34s %10lld %10lld\n", "log size (bytes)", ss[1], sqs[1]);
    free(keys);
    return 0;
}
