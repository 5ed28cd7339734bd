/* tests/sql/test_upsert_diff.c — upserts on our engine against SQLite
 * (libsqlite3, in process), seeded and random, through prepared statements
 * bound the way the bundled store binds a write-behind row (values by
 * reference, the statement reset and rebound per row).
 *
 * Schema (both engines):
 *   kv(id TEXT PRIMARY KEY, v TEXT)                  the write-behind shape
 *   t(k TEXT PRIMARY KEY, v TEXT, n INTEGER NOT NULL, u TEXT UNIQUE,
 *     CHECK (n >= 0))                                constraints, a unique
 *                                                    secondary index
 *   log(id INTEGER PRIMARY KEY, what TEXT)           written by triggers
 * Odd rounds add AFTER INSERT and BEFORE/AFTER UPDATE triggers on t and kv
 * that log old and new values (lengths of the big ones).
 * Statements: upserts of kv (values 0..6,000 bytes: overflow pages, values
 * that grow and shrink); of t with DO UPDATE (n summed: CHECK fails when it
 * goes negative, NOT NULL when nullif makes it NULL), DO UPDATE ... WHERE, DO
 * NOTHING, RETURNING, two-row VALUES, ON CONFLICT on the UNIQUE column u,
 * and a conflict on u while the target is k (a UNIQUE error); BEGIN, COMMIT,
 * ROLLBACK and SAVEPOINTs around them, so failing statements fall midway in
 * transactions.
 * Compared: every statement's outcome (error message, or the rows it
 * returned), and after every transaction end and at the end of a round, the
 * contents of the three tables. Our change hook (no-key form, as sqlstore
 * sets it) must report each successful kv upsert as INSERT for a new key and
 * UPDATE for an existing one.
 *
 * Where the engines differ today, the script stays away:
 * SQLite fires BEFORE INSERT triggers and checks NOT NULL and CHECK on the
 * proposed row before it looks for a conflict, so an upsert that ends as an
 * update can still fail or log an insert there; ours looks for the conflict
 * first. So no BEFORE INSERT trigger here, and a proposed row breaks NOT
 * NULL or CHECK only when its key is new (and then both refuse it).
 *
 * Environment: UPSERT_DIFF_SEED (default 1207, "time" for a fresh one),
 * UPSERT_DIFF_ROUNDS (default 12), UPSERT_DIFF_STMTS per round (default 1500).
 */
#include "sql/sql.h"
#include "util/sbuf.h"
#include "test.h"
#include <sqlite3.h>

static uint64_t rs;
static unsigned rnd(unsigned n) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return n ? (unsigned)(rs % n) : 0;
}

/* ---- parameters of one statement run ---- */
typedef struct param {
    int type; /* 0 NULL, 1 int, 2 text */
    long long i;
    char *z;
    int n;
} param;

#define MAXP 8

static char bigbuf[6001];

static void p_text(param *p, const char *z, int n) {
    p->type = 2;
    p->z = malloc((size_t)n + 1);
    memcpy(p->z, z, (size_t)n);
    p->z[n] = 0;
    p->n = n;
}

static void p_int(param *p, long long i) {
    p->type = 1;
    p->i = i;
}

static void p_key(param *p, const char *prefix, unsigned nkeys) {
    char k[32];
    int n = snprintf(k, sizeof k, "%s%u", prefix, rnd(nkeys));
    p_text(p, k, n);
}

/* A value: mostly short, sometimes big enough to overflow a page. */
static void p_value(param *p) {
    unsigned c = rnd(10);
    int n = c < 5 ? (int)rnd(8) : c < 8 ? (int)rnd(200) : 1000 + (int)rnd(5000);
    char ch = (char)('a' + rnd(26));
    for (int i = 0; i < n; i++) bigbuf[i] = (char)(ch + (i % 7 == 6));
    p_text(p, bigbuf, n);
}

static void p_free(param *ps, int n) {
    for (int i = 0; i < n; i++) {
        if (ps[i].type == 2) free(ps[i].z);
        ps[i].type = 0;
    }
}

/* ---- the statements ---- */
enum { S_KV, S_T_SUM, S_T_WHERE, S_T_NOTHING, S_T_RETURNING, S_T_TWO, S_T_ON_U, NSTMT };

static const char *stmt_sql[NSTMT] = {
    "INSERT INTO \"kv\" (\"id\", \"v\") VALUES (?1, ?2) ON CONFLICT (\"id\") DO UPDATE SET "
    "\"v\" = excluded.\"v\"",
    "INSERT INTO t (k, v, n, u) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (k) DO UPDATE SET "
    "v = excluded.v, n = nullif(t.n + excluded.n - 6, 3), u = excluded.u",
    "INSERT INTO t (k, v, n) VALUES (?1, ?2, ?3) ON CONFLICT (k) DO UPDATE SET "
    "v = excluded.v || t.v WHERE t.n < ?4",
    "INSERT INTO t (k, v, n, u) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    "INSERT INTO t (k, v, n) VALUES (?1, ?2, ?3) ON CONFLICT (k) DO UPDATE SET "
    "v = substr(t.v, 1, ?4), n = excluded.n RETURNING k, length(v), n, u",
    "INSERT INTO t (k, v, n) VALUES (?1, ?2, ?3), (?4, ?5, ?6) ON CONFLICT (k) DO UPDATE SET "
    "n = excluded.n - 2, v = excluded.v",
    "INSERT INTO t (k, v, n, u) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (u) DO UPDATE SET "
    "v = excluded.v, n = nullif(t.n + 1, 7)",
};

/* Does sqlite's t hold a row with column col = the text p? */
static sqlite3 *lite_db;
static int lite_has(const char *col, const param *p) {
    if (p->type != 2) return 0;
    char q[64];
    snprintf(q, sizeof q, "SELECT 1 FROM t WHERE %s = ?1", col);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(lite_db, q, -1, &st, NULL);
    sqlite3_bind_text(st, 1, p->z, p->n, SQLITE_STATIC);
    int has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return has;
}

/* n of a proposed row: NULL or negative (refused by NOT NULL or CHECK)
 * only for a row that will be inserted — SQLite checks the proposed row
 * before it looks for a conflict, we after (file header). */
static void p_n(param *p, int may_fail) {
    if (may_fail && rnd(6) == 0)
        p->type = 0;
    else if (may_fail && rnd(5) == 0)
        p_int(p, -1 - (long long)rnd(3));
    else
        p_int(p, (long long)rnd(12));
}

/* Parameters for statement s. */
static int make_params(int s, param *ps) {
    switch (s) {
    case S_KV:
        p_key(&ps[0], "key:", 60);
        p_value(&ps[1]);
        return 2;
    case S_T_SUM:
    case S_T_NOTHING:
    case S_T_ON_U:
        p_key(&ps[0], "k", 40);
        p_value(&ps[1]);
        if (rnd(3) == 0)
            ps[3].type = 0;
        else
            p_key(&ps[3], "u", 30); /* a clash on the UNIQUE column */
        p_n(&ps[2], !lite_has("k", &ps[0]) && !lite_has("u", &ps[3]));
        return 4;
    case S_T_WHERE:
    case S_T_RETURNING:
        p_key(&ps[0], "k", 40);
        p_value(&ps[1]);
        p_n(&ps[2], !lite_has("k", &ps[0]));
        p_int(&ps[3], (long long)rnd(s == S_T_WHERE ? 12 : 300));
        return 4;
    default: /* S_T_TWO */
        p_key(&ps[0], "k", 40);
        p_value(&ps[1]);
        p_n(&ps[2], 0);
        p_key(&ps[3], "k", 40);
        p_value(&ps[4]);
        p_n(&ps[5], 0);
        return 6;
    }
}

/* ---- the two engines ---- */
typedef struct engines {
    sql_db *o;
    sqlite3 *l;
    sql_stmt *os[NSTMT];
    sqlite3_stmt *ls[NSTMT];
    int hook_op; /* our change hook's last report on kv, 0 none */
    int hook_calls;
} engines;

static void hook(void *ctx, int op, const char *table, int npk, const sql_value *const *pk) {
    (void)npk, (void)pk;
    engines *e = ctx;
    if (strcmp(table, "kv") != 0) return;
    e->hook_op = op;
    e->hook_calls++;
}

static const char *schema[] = {
    "CREATE TABLE kv (id TEXT PRIMARY KEY, v TEXT)",
    "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, n INTEGER NOT NULL, u TEXT UNIQUE, "
    "CHECK (n >= 0))",
    "CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT)",
    NULL,
};

static const char *triggers[] = {
    "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN INSERT INTO log(what) VALUES "
    "('ai ' || new.k || ' ' || new.n); END",
    "CREATE TRIGGER t_bu BEFORE UPDATE ON t BEGIN INSERT INTO log(what) VALUES "
    "('bu ' || old.k || ' ' || length(old.v) || '>' || length(new.v) || ' ' || old.n || '>' "
    "|| new.n); END",
    "CREATE TRIGGER t_au AFTER UPDATE ON t BEGIN INSERT INTO log(what) VALUES "
    "('au ' || new.k || ' ' || coalesce(new.u, '-')); END",
    "CREATE TRIGGER kv_au AFTER UPDATE ON kv BEGIN INSERT INTO log(what) VALUES "
    "('kv ' || old.id || ' ' || length(old.v) || '>' || length(new.v)); END",
    NULL,
};

static void both_exec(engines *e, const char *q) {
    int a = sql_exec(e->o, q, NULL, NULL);
    int b = sqlite3_exec(e->l, q, NULL, NULL, NULL);
    if ((a == SQL_OK) != (b == SQLITE_OK))
        fprintf(stderr, "exec %s: ours %s, sqlite %s\n", q, a ? sql_errmsg(e->o) : "ok",
                b ? sqlite3_errmsg(e->l) : "ok");
    CHECK_EQ(a == SQL_OK, b == SQLITE_OK);
}

static void open_engines(engines *e, const char *dir, int round) {
    char po[512], pl[512];
    snprintf(po, sizeof po, "%s/ours-%d.db", dir, round);
    snprintf(pl, sizeof pl, "%s/sqlite-%d.db", dir, round);
    sql_options o = {.flags = SQL_OPEN_CREATE};
    CHECK_EQ(sql_open(po, &o, &e->o), SQL_OK);
    CHECK_EQ(sqlite3_open(pl, &e->l), SQLITE_OK);
    lite_db = e->l;
    sqlite3_exec(e->l, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    for (int i = 0; schema[i]; i++) both_exec(e, schema[i]);
    if (round % 2)
        for (int i = 0; triggers[i]; i++) both_exec(e, triggers[i]);
    for (int s = 0; s < NSTMT; s++) {
        CHECK_EQ(sql_prepare(e->o, stmt_sql[s], -1, &e->os[s], NULL), SQL_OK);
        CHECK_EQ(sqlite3_prepare_v2(e->l, stmt_sql[s], -1, &e->ls[s], NULL), SQLITE_OK);
    }
    sql_set_change_hook_nokey(e->o, hook, e);
}

static void close_engines(engines *e) {
    for (int s = 0; s < NSTMT; s++) {
        sql_finalize(e->os[s]);
        sqlite3_finalize(e->ls[s]);
    }
    sql_set_change_hook(e->o, NULL, NULL);
    CHECK_EQ(sql_close(e->o), SQL_OK);
    sqlite3_close(e->l);
}

/* A row of the result as text: values separated by '|', NULL as "NULL". */
static void ours_row(sql_stmt *st, sbuf *out) {
    for (int c = 0; c < sql_column_count(st); c++) {
        if (c) sbuf_append(out, "|", 1);
        if (sql_column_type(st, c) == SQL_NULL)
            sbuf_append(out, "NULL", 4);
        else
            sbuf_append(out, sql_column_text(st, c), (size_t)sql_column_bytes(st, c));
    }
    sbuf_append(out, "\n", 1);
}

static void lite_row(sqlite3_stmt *st, sbuf *out) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
        if (c) sbuf_append(out, "|", 1);
        if (sqlite3_column_type(st, c) == SQLITE_NULL)
            sbuf_append(out, "NULL", 4);
        else
            sbuf_append(out, (const char *)sqlite3_column_text(st, c),
                        (size_t)sqlite3_column_bytes(st, c));
    }
    sbuf_append(out, "\n", 1);
}

/* Run statement s with ps on both; the outcome (rows, or "error: msg") into
 * the two strings. */
static int run_both(engines *e, int s, const param *ps, int np, sbuf *oo, sbuf *lo) {
    sql_stmt *os = e->os[s];
    sqlite3_stmt *ls = e->ls[s];
    sql_reset(os);
    sql_clear_bindings(os);
    sqlite3_reset(ls);
    sqlite3_clear_bindings(ls);
    for (int i = 0; i < np; i++) {
        if (ps[i].type == 1) {
            sql_bind_int64(os, i + 1, ps[i].i);
            sqlite3_bind_int64(ls, i + 1, ps[i].i);
        } else if (ps[i].type == 2) {
            sql_bind_text_ref(os, i + 1, ps[i].z, ps[i].n);
            sqlite3_bind_text(ls, i + 1, ps[i].z, ps[i].n, SQLITE_STATIC);
        } else {
            sql_bind_null(os, i + 1);
            sqlite3_bind_null(ls, i + 1);
        }
    }
    sbuf_clear(oo);
    sbuf_clear(lo);
    int rc, ok_o, ok_l;
    while ((rc = sql_step(os)) == SQL_ROW) ours_row(os, oo);
    ok_o = rc == SQL_DONE;
    if (!ok_o) sbuf_printf(oo, "error: %s", sql_errmsg(e->o));
    while ((rc = sqlite3_step(ls)) == SQLITE_ROW) lite_row(ls, lo);
    ok_l = rc == SQLITE_DONE;
    if (!ok_l) sbuf_printf(lo, "error: %s", sqlite3_errmsg(e->l));
    sql_reset(os);
    sqlite3_reset(ls);
    return ok_o;
}

static void dump_ours(sql_db *db, const char *q, sbuf *out) {
    sql_stmt *st;
    CHECK_EQ(sql_prepare(db, q, -1, &st, NULL), SQL_OK);
    while (sql_step(st) == SQL_ROW) ours_row(st, out);
    sql_finalize(st);
}

static void dump_lite(sqlite3 *db, const char *q, sbuf *out) {
    sqlite3_stmt *st;
    CHECK_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) lite_row(st, out);
    sqlite3_finalize(st);
}

static const char *dumps[] = {
    "SELECT id, v FROM kv ORDER BY id",
    "SELECT k, v, n, u FROM t ORDER BY k",
    "SELECT id, what FROM log ORDER BY id",
};

static int compare_tables(engines *e, const char *when) {
    sbuf a = SBUF_INIT, b = SBUF_INIT;
    int same = 1;
    for (int i = 0; i < 3; i++) {
        sbuf_clear(&a);
        sbuf_clear(&b);
        dump_ours(e->o, dumps[i], &a);
        dump_lite(e->l, dumps[i], &b);
        if (a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0)) {
            fprintf(stderr, "%s: %s differs (ours %zu bytes, sqlite %zu)\n", when, dumps[i], a.len,
                    b.len);
            same = 0;
        }
    }
    sbuf_free(&a);
    sbuf_free(&b);
    CHECK(same);
    return same;
}

/* Does kv hold key (sqlite's view)? */
static int lite_has_kv(engines *e, const param *key) {
    sqlite3_stmt *st;
    sqlite3_prepare_v2(e->l, "SELECT 1 FROM kv WHERE id = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, key->z, key->n, SQLITE_STATIC);
    int has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return has;
}

static int nstmts = 1500, stmt_mismatch, hook_mismatch, table_mismatch, errors_seen, rows_seen;

static void one_round(const char *dir, int round) {
    engines e = {0};
    open_engines(&e, dir, round);
    sbuf oo = SBUF_INIT, lo = SBUF_INIT;
    int in_txn = 0, in_sp = 0;
    for (int i = 0; i < nstmts; i++) {
        unsigned c = rnd(100);
        if (c < 3 && !in_txn) {
            both_exec(&e, "BEGIN");
            in_txn = 1;
            continue;
        }
        if (c < 5 && in_txn) {
            both_exec(&e, rnd(4) ? "COMMIT" : "ROLLBACK");
            in_txn = in_sp = 0;
            if (!compare_tables(&e, "after a transaction")) table_mismatch++;
            continue;
        }
        if (c < 6 && in_txn && !in_sp) {
            both_exec(&e, "SAVEPOINT sp");
            in_sp = 1;
            continue;
        }
        if (c < 7 && in_sp) {
            both_exec(&e, rnd(2) ? "ROLLBACK TO sp" : "RELEASE sp");
            in_sp = 0;
            continue;
        }
        int s = c < 45 ? S_KV : (int)(1 + rnd(NSTMT - 1));
        param ps[MAXP] = {{0}};
        int np = make_params(s, ps);
        int had = s == S_KV ? lite_has_kv(&e, &ps[0]) : 0;
        e.hook_op = 0;
        int ok = run_both(&e, s, ps, np, &oo, &lo);
        if (oo.len != lo.len || (oo.len && strcmp(oo.p, lo.p) != 0)) {
            if (stmt_mismatch++ < 5)
                fprintf(stderr, "round %d stmt %d (%s):\n  ours:   %.300s\n  sqlite: %.300s\n",
                        round, i, stmt_sql[s], oo.p ? oo.p : "", lo.p ? lo.p : "");
        }
        if (!ok) errors_seen++;
        if (oo.len && strncmp(oo.p, "error", 5) != 0) rows_seen++;
        if (s == S_KV && ok && e.hook_op != (had ? SQL_CHANGE_UPDATE : SQL_CHANGE_INSERT) &&
            hook_mismatch++ < 5)
            fprintf(stderr, "round %d stmt %d: kv hook reported %d, the key %s\n", round, i,
                    e.hook_op, had ? "existed" : "was new");
        p_free(ps, np);
    }
    if (in_txn) both_exec(&e, "COMMIT");
    if (!compare_tables(&e, "end of round")) table_mismatch++;
    CHECK(e.hook_calls > 0);
    sbuf_free(&oo);
    sbuf_free(&lo);
    close_engines(&e);
}

TEST(upserts_match_sqlite) {
    unsigned long long seed = test_seed("UPSERT_DIFF_SEED", 1207);
    rs = seed * 2654435761u + 1;
    int rounds = getenv("UPSERT_DIFF_ROUNDS") ? atoi(getenv("UPSERT_DIFF_ROUNDS")) : 12;
    if (getenv("UPSERT_DIFF_STMTS")) nstmts = atoi(getenv("UPSERT_DIFF_STMTS"));
    char dir[] = "/tmp/upsert-diff-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    for (int r = 0; r < rounds; r++) one_round(dir, r);
    CHECK_EQ(stmt_mismatch, 0);
    CHECK_EQ(hook_mismatch, 0);
    CHECK_EQ(table_mismatch, 0);
    /* the script reaches the paths it is for */
    CHECK(errors_seen > rounds * 10);
    CHECK(rows_seen > rounds * 5);
    printf("seed %llu: %d rounds of %d statements, %d failing ones, %d with rows\n", seed, rounds,
           nstmts, errors_seen, rows_seen);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

int main(void) {
    RUN(upserts_match_sqlite);
    return test_report();
}
