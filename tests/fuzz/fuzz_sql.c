/* tests/fuzz/fuzz_sql.c — libFuzzer target for the SQL front end.
 *
 * Every input is split at its first NUL byte (if any) into two parts: the
 * whole input is handed to sql_prepare statement by statement (the parser,
 * name resolution, the planner), and statements that compile are also run
 * against a small fixed schema (execution, constraints, triggers), so that
 * inputs which parse exercise the rest of the engine as well. The database
 * lives in /dev/shm (or /tmp) and is recreated every 2000 inputs. An input
 * may visit 300k rows in all (progress handler), so that a join of ten
 * tables ends as SQL_INTERRUPT instead of a libFuzzer timeout (2M rows per
 * statement still took over 10 s under ASan).
 *
 * tests/sql/test_fuzz_regress.c replays tests/fuzz/regress/ (every input
 * that once crashed or hung) through this same function in `make test`.
 *
 * Build and run (10 minutes, ASan + UBSan; corpus in build-fuzz/corpus):
 *   make fuzz-sql FUZZ_SECONDS=600
 * which is
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DLARDER_NO_JEMALLOC \
 *         -Isrc tests/fuzz/fuzz_sql.c $(SQL_SRC) $(UTIL_SRC) -lpthread -lm \
 *         -o build-fuzz/fuzz_sql
 *   build-fuzz/fuzz_sql -max_total_time=600 -max_len=4096 -timeout=10 \
 *         -artifact_prefix=build-fuzz/ -dict=tests/fuzz/sql.dict \
 *         build-fuzz/corpus tests/fuzz/seeds
 */
#include "sql/sql.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sql_db *db;
static long runs;
static char path[128];

static const char *schema =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT, b TEXT UNIQUE, c REAL, d DECIMAL(8,2), e "
    "TIMESTAMP);"
    "CREATE TABLE u(x INT, y TEXT, z, PRIMARY KEY(x, y));"
    "CREATE TABLE p(id INTEGER PRIMARY KEY, tid INT REFERENCES t(id) ON DELETE CASCADE, v TEXT);"
    "CREATE INDEX t_ab ON t(a, b DESC) INCLUDE (c);"
    "CREATE INDEX u_z ON u(z) WHERE z > 0;"
    "CREATE TRIGGER p_ai AFTER INSERT ON p BEGIN UPDATE t SET a = coalesce(a, 0) + 1 WHERE id = "
    "NEW.tid; END;"
    "INSERT INTO t(a, b, c, d, e) VALUES (1, 'x', 1.5, 2.25, '2024-01-01'), (2, 'y', NULL, 0, "
    "NULL), (NULL, NULL, -3, 1, 0);"
    "INSERT INTO u VALUES (1, 'a', 1), (2, 'b', NULL), (3, 'c', 'z');"
    "INSERT INTO p(tid, v) VALUES (1, 'p1'), (2, 'p2');";

static int ticks;
static int over_budget(void *ctx) {
    (void)ctx;
    return ++ticks > 300;
}

static void reset_db(void) {
    if (db) sql_close(db);
    db = NULL;
    unlink(path);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    sql_options o = {.flags = SQL_OPEN_CREATE | SQL_OPEN_NOSYNC};
    if (sql_open(path, &o, &db) != SQL_OK) abort();
    if (sql_exec(db, schema, NULL, NULL) != SQL_OK) abort();
    sql_set_progress_handler(db, 1000, over_budget, NULL);
}

/* libFuzzer's entry point (its runtime calls it; the regression test too). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!db || ++runs % 2000 == 0) {
        if (!path[0])
            snprintf(path, sizeof path, "%s/fuzz-sql-%d.db",
                     access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
        reset_db();
    }
    char *sql = malloc(size + 1);
    memcpy(sql, data, size);
    sql[size] = 0;
    sql_complete(sql);
    const char *tail = sql;
    int guard = 0;
    ticks = 0;
    while (*tail && guard++ < 16) {
        sql_stmt *st = NULL;
        if (sql_prepare(db, tail, -1, &st, &tail) != SQL_OK) break;
        if (!st) break;
        for (int i = 1; i <= sql_bind_parameter_count(st) && i < 8; i++) sql_bind_int64(st, i, i);
        int rows = 0;
        while (sql_step(st) == SQL_ROW && rows++ < 500)
            for (int c = 0; c < sql_column_count(st); c++) (void)sql_column_text(st, c);
        sql_finalize(st);
    }
    /* never leave a transaction open between inputs */
    if (sql_in_transaction(db)) sql_exec(db, "ROLLBACK", NULL, NULL);
    free(sql);
    return 0;
}
