/* mk/bench-upsert.c — `make bench-upsert`: the bundled store's write-behind
 * row statement on Larder's SQL engine and on SQLite, side by side.
 *
 * Workload (what a write-behind batch of `SET key:__rand_int__ xxx` with
 * `map kv key:{id} mode write-behind column v` runs on the store thread):
 *   kv(id TEXT PRIMARY KEY, v TEXT), 100,000 rows "key:%012d" loaded first;
 *   then BENCH_UPSERTS (default 200,000) runs of the statement sqlstore
 *   prepares, INSERT INTO "kv" ("id", "v") VALUES (?1, ?2) ON CONFLICT ("id")
 *   DO UPDATE SET "v" = "excluded"."v", keys random (90% existing), values
 *   of 3 random letters (BENCH_VARY=1: a quarter of them 3..40 bytes), bound
 *   by reference, 10,000 rows per transaction.
 * Ours runs as sqlstore runs it: a no-key change hook set, durability
 * deferred (the fsync is another thread's).
 * Prints seconds per engine and the ratio. Instructions per row:
 *   valgrind --tool=callgrind --toggle-collect=ours_upserts build/bench-upsert
 *   (and --toggle-collect=lite_upserts), total Ir / BENCH_UPSERTS;
 *   mk/bench-upsert.sh does both and prints the counts.
 * Checks that both engines end with the same table.
 */
#include "sql/sql.h"
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 100000
#define BATCH 10000

static long nupserts = 200000;

static const char *schema = "CREATE TABLE kv (id TEXT PRIMARY KEY, v TEXT)";
static const char *q_ins = "INSERT INTO kv (id, v) VALUES (?1, ?2)";
static const char *q_upsert = "INSERT INTO \"kv\" (\"id\", \"v\") VALUES (?1, ?2) ON CONFLICT "
                              "(\"id\") DO UPDATE SET \"v\" = excluded.\"v\"";

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        exit(1);                                                                                   \
    } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The row sequence: key k (0..NKEYS*10/9) and value length of row i, the
 * same for both engines. */
typedef struct row {
    char key[24];
    char val[48];
    int klen, vlen;
} row;
static row *rows;

static int vary; /* BENCH_VARY=1: a quarter of the values 3..40 bytes */

static void make_rows(void) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    rows = malloc(sizeof *rows * (size_t)nupserts);
    for (long i = 0; i < nupserts; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        long k = (long)(s % (NKEYS * 10 / 9)); /* >= NKEYS: a new key (10%) */
        rows[i].klen = snprintf(rows[i].key, sizeof rows[i].key, "key:%012ld", k);
        int vl = vary && (s >> 40) % 4 == 0 ? 3 + (int)((s >> 20) % 38) : 3;
        for (int j = 0; j < vl; j++) rows[i].val[j] = (char)('a' + (s >> (j % 50)) % 26);
        rows[i].vlen = vl;
    }
}

/* ---- ours ---- */

static void ours_ok(sql_db *db, int rc, const char *what) {
    if (rc != SQL_OK && rc != SQL_DONE && rc != SQL_ROW)
        DIE("ours: %s: %s\n", what, sql_errmsg(db));
}

static void hook(void *ctx, int op, const char *table, int npk, const sql_value *const *pk) {
    (void)table, (void)npk, (void)pk;
    *(int *)ctx += op;
}

static void ours_load(sql_db *db) {
    sql_stmt *st;
    ours_ok(db, sql_exec(db, schema, NULL, NULL), "schema");
    ours_ok(db, sql_prepare(db, q_ins, -1, &st, NULL), "prepare");
    ours_ok(db, sql_exec(db, "BEGIN", NULL, NULL), "begin");
    char k[24];
    for (long i = 0; i < NKEYS; i++) {
        int kl = snprintf(k, sizeof k, "key:%012ld", i);
        sql_bind_text(st, 1, k, kl);
        sql_bind_text(st, 2, "xxx", 3);
        ours_ok(db, sql_step(st), "load");
        sql_reset(st);
    }
    ours_ok(db, sql_exec(db, "COMMIT", NULL, NULL), "commit");
    sql_finalize(st);
}

void ours_upserts(sql_db *db);
void ours_upserts(sql_db *db) {
    int changes = 0;
    sql_stmt *st;
    sql_set_change_hook_nokey(db, hook, &changes);
    sql_defer_durable(db, 1);
    ours_ok(db, sql_prepare(db, q_upsert, -1, &st, NULL), "prepare");
    for (long i = 0; i < nupserts; i++) {
        if (i % BATCH == 0) ours_ok(db, sql_exec(db, "BEGIN", NULL, NULL), "begin");
        sql_reset(st);
        sql_clear_bindings(st);
        sql_bind_text_ref(st, 1, rows[i].key, rows[i].klen);
        sql_bind_text_ref(st, 2, rows[i].val, rows[i].vlen);
        ours_ok(db, sql_step(st), "upsert");
        sql_reset(st);
        if (i % BATCH == BATCH - 1 || i == nupserts - 1) {
            ours_ok(db, sql_exec(db, "COMMIT", NULL, NULL), "commit");
            ours_ok(db, sql_wait_durable(db, sql_take_durable_target(db)), "fsync");
        }
    }
    sql_finalize(st);
    sql_defer_durable(db, 0);
    sql_set_change_hook(db, NULL, NULL);
}

/* ---- SQLite ---- */

static void lite_ok(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        DIE("sqlite: %s: %s\n", what, sqlite3_errmsg(db));
}

static void lite_load(sqlite3 *db) {
    sqlite3_stmt *st;
    lite_ok(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), "wal");
    lite_ok(db, sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL), "sync");
    lite_ok(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema");
    lite_ok(db, sqlite3_prepare_v2(db, q_ins, -1, &st, NULL), "prepare");
    lite_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    char k[24];
    for (long i = 0; i < NKEYS; i++) {
        int kl = snprintf(k, sizeof k, "key:%012ld", i);
        sqlite3_bind_text(st, 1, k, kl, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, "xxx", 3, SQLITE_STATIC);
        lite_ok(db, sqlite3_step(st), "load");
        sqlite3_reset(st);
    }
    lite_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    sqlite3_finalize(st);
}

void lite_upserts(sqlite3 *db);
void lite_upserts(sqlite3 *db) {
    sqlite3_stmt *st;
    lite_ok(db, sqlite3_prepare_v2(db, q_upsert, -1, &st, NULL), "prepare");
    for (long i = 0; i < nupserts; i++) {
        if (i % BATCH == 0) lite_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
        sqlite3_bind_text(st, 1, rows[i].key, rows[i].klen, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, rows[i].val, rows[i].vlen, SQLITE_STATIC);
        lite_ok(db, sqlite3_step(st), "upsert");
        sqlite3_reset(st);
        if (i % BATCH == BATCH - 1 || i == nupserts - 1)
            lite_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    }
    sqlite3_finalize(st);
}

/* ---- same contents ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t ours_sum(sql_db *db, long *n) {
    sql_stmt *st;
    uint64_t h = 0xcbf29ce484222325ull;
    *n = 0;
    ours_ok(db, sql_prepare(db, "SELECT id, v FROM kv ORDER BY id", -1, &st, NULL), "sum");
    while (sql_step(st) == SQL_ROW) {
        for (int c = 0; c < 2; c++)
            h = fnv(h, sql_column_text(st, c), (size_t)sql_column_bytes(st, c) + 1);
        (*n)++;
    }
    sql_finalize(st);
    return h;
}

static uint64_t lite_sum(sqlite3 *db, long *n) {
    sqlite3_stmt *st;
    uint64_t h = 0xcbf29ce484222325ull;
    *n = 0;
    lite_ok(db, sqlite3_prepare_v2(db, "SELECT id, v FROM kv ORDER BY id", -1, &st, NULL), "sum");
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 2; c++)
            h = fnv(h, sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c) + 1);
        (*n)++;
    }
    sqlite3_finalize(st);
    return h;
}

int main(void) {
    const char *e = getenv("BENCH_UPSERTS");
    if (e && atol(e) > 0) nupserts = atol(e);
    vary = getenv("BENCH_VARY") && atoi(getenv("BENCH_VARY"));
    const char *dir = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp";
    char po[512], pl[512];
    snprintf(po, sizeof po, "%s/bench-upsert-%d-larder.db", dir, (int)getpid());
    snprintf(pl, sizeof pl, "%s/bench-upsert-%d-sqlite.db", dir, (int)getpid());
    make_rows();

    sql_options o = {.flags = SQL_OPEN_CREATE, .wal_autocheckpoint = 16384};
    sql_db *odb;
    if (sql_open(po, &o, &odb) != SQL_OK) DIE("ours: open %s: %s\n", po, sql_errmsg(odb));
    sqlite3 *ldb;
    if (sqlite3_open(pl, &ldb) != SQLITE_OK) DIE("sqlite: open %s\n", pl);
    ours_load(odb);
    lite_load(ldb);

    double t0 = now();
    lite_upserts(ldb);
    double t1 = now();
    ours_upserts(odb);
    double t2 = now();

    long no, nl;
    uint64_t ho = ours_sum(odb, &no), hl = lite_sum(ldb, &nl);
    printf("%ld upserts (%d-row transactions) into %d rows\n", nupserts, BATCH, NKEYS);
    printf("sqlite %.3fs  ours %.3fs  ours/sqlite %.2f\n", t1 - t0, t2 - t1, (t2 - t1) / (t1 - t0));
    printf("rows: ours %ld sqlite %ld; contents %s\n", no, nl, ho == hl ? "equal" : "DIFFER");
    sql_close(odb);
    sqlite3_close(ldb);
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s%s", po, sfx[i]);
        unlink(f);
        snprintf(f, sizeof f, "%s%s", pl, sfx[i]);
        unlink(f);
    }
    return ho == hl && no == nl ? 0 : 1;
}
