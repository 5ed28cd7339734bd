/* tests/sql/test_sql_api.c — the sql.h API: open/close, prepare/bind/step,
 * errors with positions, transactions seen from the API, schema changes
 * under prepared statements, the change hook, table introspection, values,
 * sql_exec and sql_complete.
 */
#include "sql/sql.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[128];

static sql_db *fresh(void) {
    snprintf(path, sizeof path, "/tmp/larder-api-%d.db", (int)getpid());
    unlink(path);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    sql_db *db;
    sql_options o = {.flags = SQL_OPEN_CREATE | SQL_OPEN_NOSYNC};
    if (sql_open(path, &o, &db) != SQL_OK) {
        fprintf(stderr, "open: %s\n", sql_errmsg(db));
        exit(1);
    }
    return db;
}

static void done(sql_db *db) {
    CHECK_EQ(sql_close(db), SQL_OK);
    unlink(path);
}

/* First column of the first row as text (static buffer). */
static const char *one(sql_db *db, const char *q) {
    static char buf[256];
    sql_stmt *st;
    buf[0] = 0;
    if (sql_prepare(db, q, -1, &st, NULL) != SQL_OK || !st) return "ERROR";
    if (sql_step(st) == SQL_ROW)
        snprintf(buf, sizeof buf, "%s", sql_column_text(st, 0) ? sql_column_text(st, 0) : "NULL");
    sql_finalize(st);
    return buf;
}

TEST(prepare_bind_step) {
    sql_db *db = fresh();
    CHECK_EQ(sql_exec(db,
                      "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)",
                      NULL, NULL),
             SQL_OK);
    sql_stmt *ins;
    CHECK_EQ(
        sql_prepare(db, "INSERT INTO t(name, score, data) VALUES (?, ?2, :blob)", -1, &ins, NULL),
        SQL_OK);
    CHECK_EQ(sql_bind_parameter_count(ins), 3);
    CHECK_EQ(sql_bind_parameter_index(ins, ":blob"), 3);
    CHECK_EQ(sql_bind_parameter_index(ins, ":nope"), 0);
    CHECK(sql_stmt_readonly(ins) == 0);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        CHECK_EQ(sql_bind_text(ins, 1, name, -1), SQL_OK);
        CHECK_EQ(sql_bind_double(ins, 2, i + 0.5), SQL_OK);
        CHECK_EQ(sql_bind_blob(ins, 3, "\0\1\2", 3), SQL_OK);
        CHECK_EQ(sql_step(ins), SQL_DONE);
        CHECK_EQ(sql_last_insert_id(db), i + 1);
        CHECK_EQ(sql_changes(db), 1);
        CHECK_EQ(sql_reset(ins), SQL_OK);
    }
    CHECK_EQ(sql_bind_int64(ins, 4, 1), SQL_RANGE);
    sql_finalize(ins);
    sql_stmt *q;
    CHECK_EQ(sql_prepare(
                 db,
                 "SELECT id, name, score, data, NULL AS nothing FROM t WHERE id >= ?1 ORDER BY id",
                 -1, &q, NULL),
             SQL_OK);
    CHECK(sql_stmt_readonly(q));
    CHECK_EQ(sql_column_count(q), 5);
    CHECK_STR(sql_column_name(q, 1), "name");
    CHECK_STR(sql_column_name(q, 4), "nothing");
    CHECK_STR(sql_column_decltype(q, 2), "REAL");
    CHECK(sql_column_decltype(q, 4) == NULL);
    sql_bind_int64(q, 1, 2);
    CHECK_EQ(sql_step(q), SQL_ROW);
    CHECK_EQ(sql_column_type(q, 0), SQL_INTEGER);
    CHECK_EQ(sql_column_int64(q, 0), 2);
    CHECK_STR(sql_column_text(q, 1), "n1");
    CHECK_EQ(sql_column_type(q, 2), SQL_FLOAT);
    CHECK_STR(sql_column_text(q, 2), "1.5");
    CHECK(sql_column_double(q, 2) == 1.5);
    CHECK_EQ(sql_column_type(q, 3), SQL_BLOB);
    CHECK_EQ(sql_column_bytes(q, 3), 3);
    CHECK(memcmp(sql_column_blob(q, 3), "\0\1\2", 3) == 0);
    CHECK_EQ(sql_column_type(q, 4), SQL_NULL);
    CHECK(sql_column_text(q, 4) == NULL);
    CHECK_EQ(sql_bind_int64(q, 1, 1), SQL_MISUSE); /* running */
    CHECK_EQ(sql_step(q), SQL_ROW);
    CHECK_EQ(sql_step(q), SQL_DONE);
    CHECK_EQ(sql_step(q), SQL_ROW); /* starts over */
    sql_reset(q);
    sql_clear_bindings(q);
    CHECK_EQ(sql_step(q), SQL_DONE); /* id >= NULL */
    sql_finalize(q);
    done(db);
}

TEST(errors_and_positions) {
    sql_db *db = fresh();
    sql_stmt *st;
    const char *sql = "SELECT 1;\nSELECT * FORM t";
    const char *tail;
    CHECK_EQ(sql_prepare(db, sql, -1, &st, &tail), SQL_OK);
    sql_finalize(st);
    CHECK_EQ(sql_prepare(db, tail, -1, &st, &tail), SQL_ERROR);
    CHECK(st == NULL);
    CHECK_EQ(sql_errcode(db), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "near \"FORM\": syntax error (line 2, column 10)");
    CHECK_EQ(sql_error_offset(db), 10); /* offsets count from the text given */
    CHECK_EQ(sql_prepare(db, "SELECT a FROM nope", -1, &st, NULL), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "no such table: nope");
    CHECK_EQ(sql_error_offset(db), 14);
    CHECK_EQ(sql_exec(db, "CREATE TABLE t(a INT NOT NULL UNIQUE)", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_prepare(db, "SELECT b FROM t", -1, &st, NULL), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "no such column: b");
    CHECK_EQ(sql_error_offset(db), 7);
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (1)", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (1)", NULL, NULL), SQL_CONSTRAINT);
    CHECK_STR(sql_errmsg(db), "UNIQUE constraint failed: t.a");
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (NULL)", NULL, NULL), SQL_CONSTRAINT);
    CHECK_STR(sql_errmsg(db), "NOT NULL constraint failed: t.a");
    CHECK_EQ(sql_exec(db, "SELECT 1", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_errcode(db), SQL_OK);
    CHECK_STR(sql_errmsg(db), "not an error");
    CHECK_EQ(sql_error_offset(db), -1);
    /* empty input and comments */
    CHECK_EQ(sql_prepare(db, "  ;; -- nothing\n /* here */ ", -1, &st, &tail), SQL_OK);
    CHECK(st == NULL);
    CHECK_STR(sql_errstr(SQL_CONSTRAINT), "constraint failed");
    done(db);
}

TEST(open_errors) {
    sql_db *db;
    sql_options o = {.flags = 0};
    CHECK_EQ(sql_open("/nonexistent/dir/x.db", &o, &db), SQL_CANTOPEN);
    CHECK(strlen(sql_errmsg(db)) > 0);
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, "SELECT 1", -1, &st, NULL), SQL_MISUSE);
    CHECK_EQ(sql_exec(db, "SELECT 1", NULL, NULL), SQL_MISUSE);
    CHECK_EQ(sql_close(db), SQL_OK);
    FILE *f = fopen("/tmp/larder-api-notadb", "w");
    for (int i = 0; i < 300; i++) fputs("this is not a database file at all\n", f);
    fclose(f);
    CHECK_EQ(sql_open("/tmp/larder-api-notadb", NULL, &db), SQL_NOTADB);
    sql_close(db);
    unlink("/tmp/larder-api-notadb");
}

/* SQL_OPEN_MEMORY: two databases of the same name are independent, enough
 * rows to spill the cache and checkpoint the log stay readable, and no file
 * of that name is created. */
TEST(memory_databases) {
    char name[64];
    snprintf(name, sizeof name, "/tmp/larder-api-mem-%d", (int)getpid());
    sql_options o = {.flags = SQL_OPEN_MEMORY, .cache_size = 64 * 1024, .wal_autocheckpoint = 50};
    sql_db *a, *b;
    CHECK_EQ(sql_open(name, &o, &a), SQL_OK);
    CHECK_EQ(sql_open(name, &o, &b), SQL_OK);
    CHECK_EQ(sql_exec(a, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_exec(a, "INSERT INTO t(v) VALUES (printf('%0300d', 1))", NULL, NULL), SQL_OK);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(sql_exec(a, "INSERT INTO t(v) SELECT v FROM t", NULL, NULL), SQL_OK);
    CHECK_STR(one(a, "SELECT count(*) FROM t"), "1024");
    CHECK_STR(one(b, "SELECT count(*) FROM larder_schema"), "0");
    CHECK(access(name, F_OK) != 0);
    char wal[96];
    snprintf(wal, sizeof wal, "%s-wal", name);
    CHECK(access(wal, F_OK) != 0);
    CHECK_EQ(sql_close(a), SQL_OK);
    CHECK_EQ(sql_close(b), SQL_OK);
    o.flags = SQL_OPEN_MEMORY | SQL_OPEN_READONLY;
    CHECK_EQ(sql_open(name, &o, &a), SQL_MISUSE);
    sql_close(a);
    CHECK(access(name, F_OK) != 0);
}

TEST(statements_and_close) {
    sql_db *db = fresh();
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, "SELECT 1", -1, &st, NULL), SQL_OK);
    CHECK_EQ(sql_close(db), SQL_BUSY);
    sql_finalize(st);
    CHECK_EQ(sql_finalize(NULL), SQL_OK);
    done(db);
}

TEST(transactions) {
    sql_db *db = fresh();
    CHECK_EQ(sql_exec(db, "CREATE TABLE t(x INT)", NULL, NULL), SQL_OK);
    CHECK(!sql_in_transaction(db));
    CHECK_EQ(sql_exec(db, "BEGIN; INSERT INTO t VALUES (1)", NULL, NULL), SQL_OK);
    CHECK(sql_in_transaction(db));
    /* a read statement in the middle of the transaction sees it */
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "1");
    CHECK_EQ(sql_exec(db, "ROLLBACK", NULL, NULL), SQL_OK);
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "0");
    /* COMMIT refuses while a statement is still reading */
    CHECK_EQ(sql_exec(db, "BEGIN; INSERT INTO t VALUES (1), (2)", NULL, NULL), SQL_OK);
    sql_stmt *st;
    sql_prepare(db, "SELECT x FROM t", -1, &st, NULL);
    CHECK_EQ(sql_step(st), SQL_ROW);
    CHECK_EQ(sql_exec(db, "COMMIT", NULL, NULL), SQL_BUSY);
    sql_reset(st);
    CHECK_EQ(sql_exec(db, "COMMIT", NULL, NULL), SQL_OK);
    /* an autocommit reader keeps its snapshot while a writer commits */
    CHECK_EQ(sql_step(st), SQL_ROW);
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (3)", NULL, NULL), SQL_OK);
    int n = 1;
    while (sql_step(st) == SQL_ROW) n++;
    CHECK_EQ(n, 2);
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "3");
    sql_finalize(st);
    done(db);
}

TEST(schema_change_recompiles) {
    sql_db *db = fresh();
    sql_exec(db, "CREATE TABLE t(a INT); INSERT INTO t VALUES (1)", NULL, NULL);
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, "SELECT * FROM t WHERE a = ?1", -1, &st, NULL), SQL_OK);
    sql_bind_int64(st, 1, 1);
    CHECK_EQ(sql_step(st), SQL_ROW);
    CHECK_EQ(sql_column_count(st), 1);
    sql_reset(st);
    CHECK_EQ(sql_exec(db, "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'; CREATE INDEX ta ON t(a)",
                      NULL, NULL),
             SQL_OK);
    CHECK_EQ(sql_step(st), SQL_ROW); /* recompiled, binding kept */
    CHECK_EQ(sql_column_count(st), 2);
    CHECK_STR(sql_column_text(st, 1), "x");
    sql_reset(st);
    CHECK_EQ(sql_exec(db, "DROP TABLE t", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_step(st), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "no such table: t");
    sql_finalize(st);
    done(db);
}

typedef struct hook_log {
    char lines[64][96];
    int n;
} hook_log;

static void on_change(void *ctx, int op, const char *table, int npk, const sql_value *const *pk) {
    hook_log *l = ctx;
    if (l->n >= 64) return;
    char *o = l->lines[l->n++];
    int k = snprintf(o, 96, "%c %s",
                     op == SQL_CHANGE_INSERT   ? 'I'
                     : op == SQL_CHANGE_UPDATE ? 'U'
                                               : 'D',
                     table);
    for (int i = 0; i < npk && k < 90; i++)
        k += snprintf(o + k, (size_t)(96 - k), " %s", sql_value_text(pk[i]));
}

TEST(change_hook) {
    sql_db *db = fresh();
    hook_log log = {0};
    sql_exec(
        db,
        "CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE p(uid INT REFERENCES u(id) ON DELETE CASCADE, k TEXT, PRIMARY KEY (uid, k));"
        "CREATE TABLE log(msg TEXT);"
        "CREATE TRIGGER u_au AFTER UPDATE ON u BEGIN INSERT INTO log VALUES ('x'); END",
        NULL, NULL);
    sql_set_change_hook(db, on_change, &log);
    sql_exec(db,
             "INSERT INTO u VALUES (1, 'a'), (2, 'b'); INSERT INTO p VALUES (1, 'x'), (1, 'y'), "
             "(2, 'z')",
             NULL, NULL);
    sql_exec(db, "UPDATE u SET name = 'A' WHERE id = 1", NULL, NULL);
    sql_exec(db, "UPDATE u SET id = 5 WHERE id = 2", NULL,
             NULL); /* fails: p references 2 (RESTRICT) */
    sql_exec(db, "DELETE FROM u WHERE id = 1", NULL, NULL);
    sql_set_change_hook(db, NULL, NULL);
    sql_exec(db, "DELETE FROM u", NULL, NULL);
    const char *want[] = {"I u 1", "I u 2",   "I p 1 x", "I p 1 y", "I p 2 z",
                          "U u 1", "I log 1", "D u 1",   "D p 1 x", "D p 1 y"};
    int nw = (int)(sizeof want / sizeof want[0]);
    CHECK_EQ(log.n, nw);
    for (int i = 0; i < nw && i < log.n; i++) CHECK_STR(log.lines[i], want[i]);
    /* the key-less hook: op and table only; sql_set_change_hook makes a
     * later hook get keys again */
    hook_log log2 = {0};
    sql_set_change_hook_nokey(db, on_change, &log2);
    sql_exec(db, "INSERT INTO u VALUES (7, 'g'); DELETE FROM u WHERE id = 7", NULL, NULL);
    sql_set_change_hook(db, on_change, &log2);
    sql_exec(db, "INSERT INTO u VALUES (8, 'h')", NULL, NULL);
    sql_set_change_hook(db, NULL, NULL);
    const char *want2[] = {"I u", "D u", "I u 8"};
    CHECK_EQ(log2.n, 3);
    for (int i = 0; i < 3 && i < log2.n; i++) CHECK_STR(log2.lines[i], want2[i]);
    done(db);
}

TEST(table_columns) {
    sql_db *db = fresh();
    sql_exec(db,
             "CREATE TABLE users(id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, bal "
             "DECIMAL(10,2) DEFAULT 0, "
             "seen TIMESTAMP DEFAULT now(), ok BOOLEAN, pic BLOB, score REAL, misc)",
             NULL, NULL);
    sql_column_info *c;
    int n;
    CHECK_EQ(sql_table_columns(db, "users", &c, &n), SQL_OK);
    CHECK_EQ(n, 8);
    CHECK_STR(c[0].name, "id");
    CHECK_EQ(c[0].pk, 1);
    CHECK_EQ(c[0].notnull, 1);
    CHECK_EQ(c[0].type, SQL_INTEGER);
    CHECK_STR(c[1].decltype, "VARCHAR(100)");
    CHECK_EQ(c[1].type, SQL_TEXT);
    CHECK_EQ(c[1].notnull, 1);
    CHECK_EQ(c[2].type, SQL_DECIMAL);
    CHECK_STR(c[2].dflt, "0");
    CHECK_STR(c[3].dflt, "now()");
    CHECK_EQ(c[3].type, SQL_TEXT);
    CHECK_EQ(c[4].type, SQL_INTEGER);
    CHECK_EQ(c[5].type, SQL_BLOB);
    CHECK_EQ(c[6].type, SQL_FLOAT);
    CHECK_STR(c[7].decltype, "");
    CHECK(c[7].dflt == NULL);
    /* takes_text: the integer key, DECIMAL, TIMESTAMP and BOOLEAN convert text */
    static const int takes[8] = {0, 1, 0, 0, 0, 1, 1, 1};
    for (int i = 0; i < 8; i++) CHECK_EQ(c[i].takes_text, takes[i]);
    sql_free(c);
    /* a CHECK, a trigger or a generated column: no column takes any text */
    static const char *const ruled[] = {
        "CREATE TABLE r1(id TEXT PRIMARY KEY, v TEXT CHECK (v <> 'x'))",
        "CREATE TABLE r2(id TEXT PRIMARY KEY, v TEXT, CHECK (length(v) < 9))",
        "CREATE TABLE r3(id TEXT PRIMARY KEY, v TEXT, g TEXT AS (upper(v)))",
        "CREATE TABLE r4(id TEXT PRIMARY KEY, v TEXT); CREATE TRIGGER r4t BEFORE INSERT ON r4 "
        "BEGIN SELECT 1; END",
    };
    for (int k = 0; k < 4; k++) {
        CHECK_EQ(sql_exec(db, ruled[k], NULL, NULL), SQL_OK);
        char name[3] = {'r', (char)('1' + k), 0};
        CHECK_EQ(sql_table_columns(db, name, &c, &n), SQL_OK);
        for (int i = 0; i < n; i++) CHECK_EQ(c[i].takes_text, 0);
        sql_free(c);
    }
    CHECK_EQ(sql_exec(db, "CREATE TABLE plain(id TEXT PRIMARY KEY, v TEXT NOT NULL, i INTEGER)",
                      NULL, NULL),
             SQL_OK);
    CHECK_EQ(sql_table_columns(db, "plain", &c, &n), SQL_OK);
    for (int i = 0; i < n; i++) CHECK_EQ(c[i].takes_text, 1);
    sql_free(c);
    CHECK_EQ(sql_table_columns(db, "nope", &c, &n), SQL_ERROR);
    CHECK(c == NULL);
    done(db);
}

static int count_cb(void *ctx, int ncol, char **vals, char **names) {
    int *n = ctx;
    if (ncol == 2 && strcmp(names[1], "b") == 0 && vals[1] == NULL) (*n) += 100;
    (*n)++;
    return *n >= 1000 ? 1 : 0;
}

TEST(exec_and_complete) {
    sql_db *db = fresh();
    int n = 0;
    CHECK_EQ(
        sql_exec(db,
                 "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, NULL), (2, 3); SELECT a, b FROM t",
                 count_cb, &n),
        SQL_OK);
    CHECK_EQ(n, 102);
    n = 990;
    CHECK_EQ(sql_exec(db, "SELECT a, b FROM t", count_cb, &n), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "callback requested abort");
    CHECK(sql_complete("SELECT 1;"));
    CHECK(!sql_complete("SELECT 1"));
    CHECK(!sql_complete("SELECT ';"));
    CHECK(sql_complete("SELECT ';'; -- done\n"));
    CHECK(!sql_complete("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1;"));
    CHECK(sql_complete("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END;"));
    CHECK(sql_complete("DROP TRIGGER x;"));
    CHECK(!sql_complete("SELECT 1; /* open"));
    done(db);
}

static int stop_after(void *ctx) {
    int *calls = ctx;
    return ++*calls > 10;
}

TEST(progress_handler) {
    sql_db *db = fresh();
    CHECK_EQ(
        sql_exec(db, "CREATE TABLE t(a INTEGER PRIMARY KEY, b); CREATE TABLE u(x, y)", NULL, NULL),
        SQL_OK);
    CHECK_EQ(sql_exec(db, "INSERT INTO t(b) VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)", NULL,
                      NULL),
             SQL_OK);
    CHECK_EQ(sql_exec(db, "INSERT INTO t(b) SELECT x.b FROM t x, t y", NULL, NULL),
             SQL_OK); /* 110 rows */
    int calls = 0;
    sql_set_progress_handler(db, 100, stop_after, &calls);
    /* a join that returns nothing still counts its work: 110^3 rows visited */
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, "SELECT count(*) FROM t a, t b, t c WHERE a.b + b.b + c.b < 0", -1,
                         &st, NULL),
             SQL_OK);
    CHECK_EQ(sql_step(st), SQL_INTERRUPT);
    CHECK_STR(sql_errmsg(db), "interrupted");
    CHECK_EQ(calls, 11);
    sql_finalize(st);
    /* an interrupted write is undone */
    calls = 0;
    CHECK_EQ(sql_exec(db, "INSERT INTO u SELECT a.a, b.a FROM t a, t b", NULL, NULL),
             SQL_INTERRUPT);
    CHECK_STR(one(db, "SELECT count(*) FROM u"), "0");
    CHECK_EQ(sql_exec(db, "BEGIN; INSERT INTO u VALUES (1, 2)", NULL, NULL), SQL_OK);
    calls = 0;
    CHECK_EQ(sql_exec(db, "DELETE FROM u WHERE x IN (SELECT a.a FROM t a, t b)", NULL, NULL),
             SQL_INTERRUPT);
    CHECK_EQ(sql_exec(db, "COMMIT", NULL, NULL), SQL_OK);
    sql_set_progress_handler(db, 0, NULL, NULL);
    CHECK_STR(one(db, "SELECT count(*) FROM u"), "1");
    CHECK_STR(one(db, "SELECT count(*) FROM t a, t b, t c WHERE a.b + b.b + c.b < 0"), "0");
    CHECK_STR(sql_errstr(SQL_INTERRUPT), "interrupted");
    done(db);
}

/* A recursive CTE without an end stops at the connection's row limit; the
 * progress handler can stop it sooner. */
TEST(recursive_limit) {
    sql_db *db = fresh();
    const char *q = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                    "SELECT count(*) FROM c";
    CHECK_EQ(sql_max_recursive_rows(db), SQL_DEFAULT_MAX_RECURSIVE_ROWS);
    sql_set_max_recursive_rows(db, 5000);
    CHECK_EQ(sql_exec(db, q, NULL, NULL), SQL_ERROR);
    CHECK_STR(sql_errmsg(db),
              "recursive query stopped after 5000 rows (PRAGMA max_recursive_rows)");
    CHECK_STR(one(db, "PRAGMA max_recursive_rows"), "5000");
    CHECK_STR(one(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                      "SELECT x FROM c LIMIT 1 OFFSET 4000"),
              "4001");
    sql_set_max_recursive_rows(db, 0);
    int calls = 0;
    sql_set_progress_handler(db, 1000, stop_after, &calls);
    CHECK_EQ(sql_exec(db, q, NULL, NULL), SQL_INTERRUPT);
    sql_set_progress_handler(db, 0, NULL, NULL);
    done(db);
}

/* func.c's lookup is a binary search: its table must stay sorted by name
 * (a misplaced entry was unreachable: "no such function"). Internal. */
int sqli_func_table_sorted(void);

TEST(function_table_sorted) {
    CHECK(sqli_func_table_sorted());
    sql_db *db = fresh();
    CHECK_STR(one(db, "SELECT degrees(pi()) || radians(180) || typeof(atanh(0.5)) || "
                      "typeof(datetime('now'))"),
              "180.03.14159265358979realtext");
    done(db);
}

TEST(values_and_reopen) {
    sql_db *db = fresh();
    sql_exec(db,
             "CREATE TABLE m(id INTEGER PRIMARY KEY, amt DECIMAL(12,3), at TIMESTAMP, id2 TEXT "
             "DEFAULT (uuid7()))",
             NULL, NULL);
    sql_exec(db, "INSERT INTO m(amt, at) VALUES ('1234.5', '2024-06-01T08:00:00+02:00')", NULL,
             NULL);
    sql_stmt *st;
    sql_prepare(db, "SELECT amt, at, id2, amt * 2 FROM m", -1, &st, NULL);
    CHECK_EQ(sql_step(st), SQL_ROW);
    CHECK_EQ(sql_column_type(st, 0), SQL_DECIMAL);
    CHECK_STR(sql_column_text(st, 0), "1234.500");
    CHECK(sql_column_double(st, 0) == 1234.5);
    CHECK_EQ(sql_column_int64(st, 0), 1234);
    CHECK_STR(sql_column_text(st, 1), "2024-06-01 06:00:00");
    const sql_value *v = sql_column_value(st, 2);
    CHECK_EQ(sql_value_type(v), SQL_TEXT);
    CHECK_EQ(sql_value_bytes(v), 36);
    CHECK_STR(sql_column_text(st, 3), "2469.000");
    sql_stmt *ins;
    sql_prepare(db, "INSERT INTO m(amt) VALUES (?)", -1, &ins, NULL);
    sql_bind_value(ins, 1, sql_column_value(st, 0));
    sql_finalize(st);
    CHECK_EQ(sql_step(ins), SQL_DONE);
    sql_finalize(ins);
    CHECK_EQ(sql_close(db), SQL_OK);
    sql_options o = {.flags = SQL_OPEN_READONLY};
    CHECK_EQ(sql_open(path, &o, &db), SQL_OK);
    CHECK_STR(one(db, "SELECT sum(amt) FROM m"), "2469.000");
    CHECK_EQ(sql_exec(db, "INSERT INTO m(amt) VALUES (1)", NULL, NULL), SQL_READONLY);
    done(db);
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

/* VACUUM: after deleting most rows the file shrinks; data, indexes,
 * statistics and the schema survive it and a reopen; it refuses to run
 * inside a transaction or while a statement is running. */
TEST(vacuum_shrinks) {
    sql_db *db = fresh();
    CHECK_EQ(sql_exec(db,
                      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w INT UNIQUE);"
                      "CREATE INDEX tv ON t(v);"
                      "CREATE TABLE k(a TEXT PRIMARY KEY, b INT) WITHOUT ROWID;"
                      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                      "WHERE x < 20000) INSERT INTO t SELECT x, printf('%0200d', x), x FROM n;"
                      "INSERT INTO k SELECT v, id FROM t WHERE id % 7 = 0; ANALYZE;",
                      NULL, NULL),
             SQL_OK);
    CHECK_EQ(sql_exec(db, "DELETE FROM t WHERE id > 500; DELETE FROM k WHERE b > 500", NULL, NULL),
             SQL_OK);
    sql_close(db);
    long before = file_size(path);
    sql_options o = {.flags = SQL_OPEN_NOSYNC};
    CHECK_EQ(sql_open(path, &o, &db), SQL_OK);
    sql_stmt *st;
    sql_prepare(db, "SELECT id FROM t", -1, &st, NULL);
    CHECK_EQ(sql_step(st), SQL_ROW);
    CHECK_EQ(sql_exec(db, "VACUUM", NULL, NULL), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "cannot VACUUM - SQL statements in progress");
    sql_finalize(st);
    CHECK_EQ(sql_exec(db, "BEGIN; VACUUM", NULL, NULL), SQL_ERROR);
    CHECK_STR(sql_errmsg(db), "cannot VACUUM from within a transaction");
    CHECK_EQ(sql_exec(db, "ROLLBACK", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_exec(db, "VACUUM", NULL, NULL), SQL_OK);
    long after = file_size(path);
    CHECK(after > 0 && after * 10 < before);
    CHECK_STR(one(db, "SELECT count(*) || ',' || sum(w) FROM t"), "500,125250");
    CHECK_STR(one(db, "SELECT b FROM k WHERE a = printf('%0200d', 490)"), "490");
    CHECK_STR(one(db, "SELECT id FROM t INDEXED BY tv WHERE v = printf('%0200d', 77)"), "77");
    CHECK_STR(one(db, "SELECT count(*) FROM larder_stat_indexes WHERE stat IS NOT NULL"), "4");
    CHECK_STR(one(db, "PRAGMA integrity_check"), "ok");
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (20001, 'x', 20001)", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (20002, 'y', 20001)", NULL, NULL), SQL_CONSTRAINT);
    CHECK_EQ(sql_close(db), SQL_OK);
    CHECK_EQ(sql_open(path, &o, &db), SQL_OK);
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "501");
    CHECK_STR(one(db, "PRAGMA integrity_check"), "ok");
    CHECK_EQ(sql_exec(db, "VACUUM", NULL, NULL), SQL_OK); /* twice: nothing to win */
    CHECK_STR(one(db, "SELECT count(*) FROM k"), "71");
    done(db);
}

/* Does the file (or its log) hold these bytes? */
static int file_has(const char *p, const char *needle) {
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

/* TEMP tables: nothing of them reaches the database file or its log, they
 * are gone at close, a commit of the main database carries on around them. */
TEST(temp_tables_stay_out) {
    sql_db *db = fresh();
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK_EQ(sql_exec(db,
                      "CREATE TABLE m(id INTEGER PRIMARY KEY, v TEXT);"
                      "INSERT INTO m VALUES (1, 'main-row-marker');"
                      "CREATE TEMP TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE);"
                      "CREATE INDEX tv ON t(v);"
                      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                      "WHERE x < 3000) INSERT INTO t SELECT x, 'temp-row-marker-' || x FROM n;"
                      "INSERT INTO m SELECT id + 1, 'copied' FROM t WHERE id < 3;",
                      NULL, NULL),
             SQL_OK);
    CHECK_STR(one(db, "SELECT count(*) FROM t WHERE v LIKE 'temp-row-marker-%'"), "3000");
    CHECK_STR(one(db, "SELECT id FROM t WHERE v = 'temp-row-marker-2999'"), "2999");
    CHECK_STR(one(db, "SELECT count(*) FROM m"), "3");
    CHECK(file_has(path, "main-row-marker") || file_has(wal, "main-row-marker"));
    CHECK(!file_has(path, "temp-row-marker") && !file_has(wal, "temp-row-marker"));
    CHECK(!file_has(path, "CREATE TEMP") && !file_has(wal, "CREATE TEMP"));
    CHECK_EQ(sql_close(db), SQL_OK);
    CHECK(!file_has(path, "temp-row-marker"));
    sql_options o = {.flags = SQL_OPEN_NOSYNC};
    CHECK_EQ(sql_open(path, &o, &db), SQL_OK);
    CHECK_STR(one(db, "SELECT count(*) FROM m"), "3");
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "ERROR");
    CHECK_STR(one(db, "PRAGMA integrity_check"), "ok");
    done(db);
}

/* A row being read stays valid while other statements of the connection
 * write (the server reads and updates in one transaction). */
/* EXPLAIN ANALYZE: seven columns, times as non-negative reals, and a
 * prepared statement that runs again counts afresh. */
TEST(explain_analyze_columns) {
    sql_db *db = fresh();
    CHECK_EQ(sql_exec(db,
                      "CREATE TABLE t(a INT); INSERT INTO t VALUES (1), (2), (3);"
                      "CREATE TABLE u(b INT); INSERT INTO u VALUES (1), (1), (3)",
                      NULL, NULL),
             SQL_OK);
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, "EXPLAIN ANALYZE SELECT * FROM t JOIN u ON u.b = t.a", -1, &st, NULL),
             SQL_OK);
    static const char *names[] = {"id", "parent", "notused", "detail", "rows", "loops", "time_ms"};
    CHECK_EQ(sql_column_count(st), 7);
    for (int i = 0; i < 7; i++) CHECK_STR(sql_column_name(st, i), names[i]);
    for (int run = 0; run < 2; run++) {
        int64_t rows[8] = {0}, n = 0;
        while (sql_step(st) == SQL_ROW && n < 8) {
            CHECK_EQ(sql_column_type(st, 6), SQL_FLOAT);
            CHECK(sql_column_double(st, 6) >= 0);
            rows[n++] = sql_column_int64(st, 4);
        }
        CHECK_EQ(n, 4);       /* t, u, PLANNING, EXECUTION */
        CHECK_EQ(rows[0], 3); /* the first loop's rows */
        CHECK_EQ(rows[1], 3); /* rows of the join: 1-1, 1-1, 3-3 */
        CHECK_EQ(rows[3], 3); /* the statement's rows */
        sql_reset(st);
    }
    sql_finalize(st);
    done(db);
}

TEST(read_while_writing) {
    sql_db *db = fresh();
    sql_exec(db,
             "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INT); CREATE INDEX t_n ON t(n)",
             NULL, NULL);
    sql_exec(db, "BEGIN", NULL, NULL);
    sql_stmt *ins;
    sql_prepare(db, "INSERT INTO t(name, n) VALUES (?1, ?2)", -1, &ins, NULL);
    for (int i = 0; i < 2000; i++) {
        char name[80];
        snprintf(name, sizeof name, "name-%04d-%s", i, "xxxxxxxxxxxxxxxxxxxxxxxx");
        sql_bind_text(ins, 1, name, -1);
        sql_bind_int64(ins, 2, i % 10);
        sql_step(ins);
        sql_reset(ins);
    }
    sql_finalize(ins);
    sql_stmt *sel, *upd;
    sql_prepare(db, "SELECT id, name FROM t WHERE n = 3 ORDER BY id", -1, &sel, NULL);
    sql_prepare(
        db, "UPDATE t SET name = name || '-updated-with-a-longer-text', n = n + 100 WHERE id = ?1",
        -1, &upd, NULL);
    int rows = 0, ok = 1;
    while (sql_step(sel) == SQL_ROW) {
        int64_t id = sql_column_int64(sel, 0);
        const sql_value *v = sql_column_value(sel, 1);
        sql_bind_int64(upd, 1, id);
        if (sql_step(upd) != SQL_DONE) ok = 0;
        sql_reset(upd);
        char want[80];
        snprintf(want, sizeof want, "name-%04d-%s", (int)id - 1, "xxxxxxxxxxxxxxxxxxxxxxxx");
        if (strcmp(sql_value_text(v), want) != 0) ok = 0;
        rows++;
    }
    CHECK(ok);
    CHECK_EQ(rows, 200);
    sql_finalize(sel);
    sql_finalize(upd);
    CHECK_EQ(sql_exec(db, "COMMIT", NULL, NULL), SQL_OK);
    CHECK_STR(one(db, "SELECT count(*) FROM t WHERE n >= 100"), "200");
    CHECK_STR(one(db, "PRAGMA integrity_check"), "ok");
    done(db);
}

/* sql_stmt_tables of q as "name:flags name:flags ..." (R, W, D), or "ERROR". */
typedef struct tab_log {
    char s[512];
} tab_log;
static int note_tab(void *ctx, const char *t, int flags) {
    tab_log *l = ctx;
    size_t n = strlen(l->s);
    snprintf(l->s + n, sizeof l->s - n, "%s%s:%s%s%s", n ? " " : "", t,
             (flags & SQL_TABLE_READ) ? "R" : "", (flags & SQL_TABLE_WRITE) ? "W" : "",
             (flags & SQL_TABLE_DDL) ? "D" : "");
    return 0;
}
static const char *tables_of(sql_db *db, const char *q) {
    static tab_log l;
    l.s[0] = 0;
    sql_stmt *st;
    if (sql_prepare(db, q, -1, &st, NULL) != SQL_OK || !st) return "ERROR";
    sql_stmt_tables(st, note_tab, &l);
    sql_finalize(st);
    return l.s;
}
static int stop_at_second(void *ctx, const char *t, int flags) {
    (void)t, (void)flags;
    return ++*(int *)ctx == 2 ? 7 : 0;
}

TEST(statement_tables) {
    sql_db *db = fresh();
    sql_exec(
        db,
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, uid INT, total INT);"
        "CREATE TABLE audit(id INT, n INT);"
        "CREATE VIEW v AS SELECT o.id, u.name FROM orders o JOIN users u ON u.id = o.uid;"
        "CREATE TRIGGER t_ai AFTER INSERT ON orders BEGIN INSERT INTO audit VALUES (1, 1); END",
        NULL, NULL);
    CHECK_STR(tables_of(db, "SELECT * FROM orders"), "orders:R");
    CHECK_STR(tables_of(db, "SELECT * FROM orders o JOIN users u ON u.id = o.uid"),
              "orders:R users:R");
    CHECK_STR(tables_of(db, "SELECT * FROM orders WHERE uid IN (SELECT id FROM users)"),
              "orders:R users:R");
    CHECK_STR(tables_of(db, "SELECT (SELECT max(n) FROM audit), 1"), "audit:R");
    CHECK_STR(tables_of(db, "WITH x AS (SELECT * FROM users) SELECT * FROM x, orders"),
              "users:R orders:R");
    CHECK_STR(tables_of(db, "SELECT * FROM v"), "orders:R users:R");
    CHECK_STR(tables_of(db, "SELECT 1 UNION SELECT id FROM audit"), "audit:R");
    CHECK_STR(tables_of(db, "INSERT INTO orders VALUES (1, 1, 1)"), "orders:W");
    CHECK_STR(tables_of(db, "INSERT INTO audit SELECT id, total FROM orders"), "audit:W orders:R");
    CHECK_STR(tables_of(db, "UPDATE orders SET total = (SELECT count(*) FROM users)"),
              "orders:W users:R");
    CHECK_STR(tables_of(db, "DELETE FROM orders WHERE uid = 3"), "orders:W");
    CHECK_STR(tables_of(db, "INSERT INTO audit SELECT * FROM audit"), "audit:RW");
    CHECK_STR(tables_of(db, "EXPLAIN QUERY PLAN SELECT * FROM users"), "users:R");
    CHECK_STR(tables_of(db, "CREATE TABLE t2(x)"), "t2:D");
    CHECK_STR(tables_of(db, "CREATE INDEX i1 ON orders(total)"), "orders:D");
    CHECK_STR(tables_of(db, "DROP TABLE audit"), "audit:D");
    CHECK_STR(tables_of(db, "PRAGMA foreign_keys"), ":D");
    CHECK_STR(tables_of(db, "SELECT 1"), "");
    CHECK_STR(tables_of(db, "BEGIN"), "");
    /* a nonzero return stops the walk and is returned */
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, "SELECT * FROM orders, users, audit", -1, &st, NULL), SQL_OK);
    int calls = 0;
    CHECK_EQ(sql_stmt_tables(st, stop_at_second, &calls), 7);
    CHECK_EQ(calls, 2);
    /* recompiled after a schema change: the list is built again */
    sql_exec(db, "ALTER TABLE audit ADD COLUMN z INT", NULL, NULL);
    CHECK_EQ(sql_step(st), SQL_DONE);
    calls = 0;
    CHECK_EQ(sql_stmt_tables(st, stop_at_second, &calls), 7);
    sql_finalize(st);
    CHECK_EQ(sql_stmt_tables(NULL, stop_at_second, &calls), 0);
    done(db);
}

/* sql_defer_durable: COMMIT returns once written; readers (this connection's
 * too) see the commits once sql_wait_durable made them durable; a writer
 * builds on them at once. */
TEST(deferred_durability) {
    sql_db *db = fresh();
    CHECK_EQ(sql_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_take_durable_target(db), 0);
    sql_defer_durable(db, 1);
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (1, 'a')", NULL, NULL), SQL_OK);
    CHECK_EQ(sql_exec(db, "BEGIN; INSERT INTO t VALUES (2, 'b'); COMMIT", NULL, NULL), SQL_OK);
    sql_defer_durable(db, 0);
    uint32_t target = sql_take_durable_target(db);
    CHECK(target > 0);
    CHECK_EQ(sql_take_durable_target(db), 0); /* taken */
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "0");
    CHECK_EQ(sql_wait_durable(db, target), SQL_OK);
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "2");
    /* again, and a plain commit on top: its wait covers the deferred one */
    sql_defer_durable(db, 1);
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (3, 'c')", NULL, NULL), SQL_OK);
    sql_defer_durable(db, 0);
    target = sql_take_durable_target(db);
    CHECK_STR(one(db, "SELECT count(*) FROM t"), "2");
    CHECK_EQ(sql_exec(db, "INSERT INTO t VALUES (4, 'd')", NULL, NULL), SQL_OK);
    CHECK_STR(one(db, "SELECT group_concat(v, '') FROM t"), "abcd");
    CHECK_EQ(sql_wait_durable(db, target), SQL_OK); /* already durable */
    CHECK_EQ(sql_wait_durable(db, 0), SQL_OK);      /* nothing to wait for */
    done(db);
}

/* sql_bind_text_ref / sql_bind_blob_ref: the bytes are not copied, yet the
 * rows hold their own. One upsert statement and one delete statement, each
 * prepared once, run row after row in one transaction (as a write-behind
 * batch does): inserts that split pages, updates and deletes of the same
 * keys mixed in, the caller's buffer rewritten after every step, an index
 * and a trigger reading the borrowed values. */
TEST(bind_ref_rows) {
    sql_db *db = fresh();
    CHECK_EQ(sql_exec(db,
                      "CREATE TABLE kv(id TEXT PRIMARY KEY, v TEXT, b BLOB);"
                      "CREATE INDEX kv_v ON kv(v);"
                      "CREATE TABLE log(n INTEGER PRIMARY KEY, id TEXT, v TEXT);"
                      "CREATE TRIGGER kv_ins AFTER INSERT ON kv BEGIN "
                      "INSERT INTO log(id, v) VALUES (NEW.id, NEW.v); END",
                      NULL, NULL),
             SQL_OK);
    sql_stmt *up, *del;
    CHECK_EQ(sql_prepare(db,
                         "INSERT INTO kv(id, v, b) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE "
                         "SET v = excluded.v, b = excluded.b",
                         -1, &up, NULL),
             SQL_OK);
    CHECK_EQ(sql_prepare(db, "DELETE FROM kv WHERE id = ?1", -1, &del, NULL), SQL_OK);
    CHECK_EQ(sql_exec(db, "BEGIN", NULL, NULL), SQL_OK);
    char key[32], val[200], blob[8];
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        /* key i, then (every third row) key i/2 again: updated, or
         * (every seventh) deleted, then put back at the next sixth */
        int k = i % 3 == 2 ? i / 2 : i;
        snprintf(key, sizeof key, "key:%06d", k);
        if (i % 7 == 6) {
            CHECK_EQ(sql_bind_text_ref(del, 1, key, -1), SQL_OK);
            CHECK_EQ(sql_step(del), SQL_DONE);
            sql_reset(del);
        } else {
            int n = snprintf(val, sizeof val, "%0*d", 40 + i % 100, i);
            memcpy(blob, &i, sizeof i);
            memcpy(blob + 4, "\0xy", 4);
            CHECK_EQ(sql_bind_text_ref(up, 1, key, -1), SQL_OK);
            CHECK_EQ(sql_bind_text_ref(up, 2, val, n), SQL_OK);
            CHECK_EQ(sql_bind_blob_ref(up, 3, blob, 8), SQL_OK);
            CHECK_EQ(sql_step(up), SQL_DONE);
            sql_reset(up);
        }
        memset(val, 'Z', sizeof val); /* the caller's buffers change after the step */
        memset(key, 'Z', sizeof key - 1);
        key[sizeof key - 1] = 0;
    }
    CHECK_EQ(sql_exec(db, "COMMIT", NULL, NULL), SQL_OK);
    sql_finalize(up);
    sql_finalize(del);
    /* the same rows from a model of the run */
    static int model[N]; /* key -> last row written there + 1, 0 if none */
    memset(model, 0, sizeof model);
    for (int i = 0; i < N; i++) {
        int k = i % 3 == 2 ? i / 2 : i;
        model[k] = i % 7 == 6 ? 0 : i + 1;
    }
    int rows = 0, wrong = 0;
    sql_stmt *q;
    CHECK_EQ(sql_prepare(db, "SELECT id, v, b FROM kv ORDER BY id", -1, &q, NULL), SQL_OK);
    while (sql_step(q) == SQL_ROW) {
        int k = atoi(sql_column_text(q, 0) + 4), i = model[k] - 1;
        char want[200];
        snprintf(want, sizeof want, "%0*d", 40 + i % 100, i);
        int bi = -1;
        if (sql_column_bytes(q, 2) == 8) memcpy(&bi, sql_column_blob(q, 2), 4);
        if (i < 0 || strcmp(sql_column_text(q, 1), want) != 0 || bi != i) wrong++;
        rows++;
    }
    sql_finalize(q);
    int live = 0;
    for (int k = 0; k < N; k++) live += model[k] != 0;
    CHECK_EQ(rows, live);
    CHECK_EQ(wrong, 0);
    CHECK(rows > 1000); /* many pages: the inserts split leaves */
    /* the index saw the borrowed values too */
    CHECK_STR(one(db, "SELECT count(*) FROM kv INDEXED BY kv_v WHERE v >= ''"),
              one(db, "SELECT count(*) FROM kv"));
    CHECK_STR(one(db, "SELECT count(*) FROM log WHERE v LIKE 'ZZ%' OR id LIKE 'ZZ%'"), "0");
    CHECK_STR(one(db, "PRAGMA integrity_check"), "ok");
    done(db);
}

int main(void) {
    RUN(statement_tables);
    RUN(read_while_writing);
    RUN(deferred_durability);
    RUN(vacuum_shrinks);
    RUN(temp_tables_stay_out);
    RUN(explain_analyze_columns);
    RUN(prepare_bind_step);
    RUN(bind_ref_rows);
    RUN(errors_and_positions);
    RUN(open_errors);
    RUN(memory_databases);
    RUN(statements_and_close);
    RUN(transactions);
    RUN(schema_change_recompiles);
    RUN(change_hook);
    RUN(table_columns);
    RUN(exec_and_complete);
    RUN(values_and_reopen);
    RUN(function_table_sorted);
    RUN(progress_handler);
    RUN(recursive_limit);
    return test_report();
}
