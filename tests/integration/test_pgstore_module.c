/* The PostgreSQL store module (build/modules/pgstore.so) through its store
 * API, against a real PostgreSQL started by pgkit: every entry point, every
 * type both ways, refused rows and units, queries, and a kill -9 of the
 * postmaster with the reconnection after it. */
#include "pgkit.h"
#include "../../modules/pgstore/pgstore.h"
#include "persist/store_api.h"
#include "test.h"
#include <dlfcn.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/select.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const store_module *M;
static void *H;
static void *DL;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a sink that renders rows as text: "a|b|c\n" per row -------------------------- */

typedef struct text_sink {
    char out[65536];
    char cols[1024];
    int rows;
} text_sink;

static void put(text_sink *t, const char *s, size_t n) {
    size_t l = strlen(t->out);
    if (l + n + 1 >= sizeof(t->out)) return;
    memcpy(t->out + l, s, n);
    t->out[l + n] = 0;
}

static void ts_columns(void *ctx, int n, const char *const *names) {
    text_sink *t = ctx;
    t->cols[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strcat(t->cols, ",");
        strncat(t->cols, names[i], sizeof(t->cols) - strlen(t->cols) - 2);
    }
}

static void ts_row(void *ctx, int n, const store_value *v) {
    text_sink *t = ctx;
    char tmp[128];
    for (int i = 0; i < n; i++) {
        if (i) put(t, "|", 1);
        switch (v[i].type) {
        case SV_NULL:
            put(t, "N", 1);
            break;
        case SV_INT:
            snprintf(tmp, sizeof(tmp), "I:%lld", (long long)v[i].i);
            put(t, tmp, strlen(tmp));
            break;
        case SV_REAL:
            snprintf(tmp, sizeof(tmp), "R:%g", v[i].d);
            put(t, tmp, strlen(tmp));
            break;
        case SV_TEXT:
            put(t, "T:", 2);
            put(t, v[i].p, v[i].len);
            break;
        case SV_BLOB:
            put(t, "B:", 2);
            for (size_t k = 0; k < v[i].len; k++) {
                snprintf(tmp, sizeof(tmp), "%02x", (unsigned char)v[i].p[k]);
                put(t, tmp, 2);
            }
            break;
        }
    }
    put(t, "\n", 1);
    t->rows++;
}

static store_sink sink_of(text_sink *t) {
    memset(t, 0, sizeof(*t));
    return (store_sink){t, ts_columns, ts_row};
}

static store_value tv(const char *s) {
    return (store_value){SV_TEXT, 0, 0, s, strlen(s)};
}
static store_value iv(long long i) {
    return (store_value){SV_INT, i, 0, NULL, 0};
}
static const store_value NV = {SV_NULL, 0, 0, NULL, 0};

/* Runs sql (no arguments); returns the class, the rendered rows in out. */
static int q(const char *sql, int readonly, text_sink *out) {
    text_sink local;
    if (!out) out = &local;
    store_sink s = sink_of(out);
    char *err = NULL;
    int64_t aff = 0;
    int rc = M->query(H, sql, 0, NULL, readonly, &s, NULL, NULL, &aff, &err);
    if (rc != STORE_OK) fprintf(stderr, "  query '%s': %d %s\n", sql, rc, err ? err : "");
    M->free_error(err);
    return rc;
}

static const char *rows_of(const char *sql) {
    static text_sink t;
    q(sql, 1, &t);
    return t.out;
}

static void exec_ok(const char *sql) {
    CHECK_EQ(q(sql, 0, NULL), STORE_OK);
}

/* ---- tests ------------------------------------------------------------------------- */

TEST(open_unreachable) {
    const char *argv[] = {"host=127.0.0.1 port=1 connect_timeout=2 user=postgres"};
    void *h = NULL;
    char *err = NULL;
    int rc = M->open(1, argv, &h, &err);
    CHECK_EQ(rc, STORE_ERR_TRANSIENT);
    CHECK(err && strstr(err, "cannot connect to PostgreSQL"));
    if (err) fprintf(stderr, "  (open refused: %s)\n", err);
    M->free_error(err);
}

static const char types_ddl[] =
    "CREATE TABLE types (id int8 PRIMARY KEY, i2 int2, i4 int4 NOT NULL DEFAULT 0, "
    "n numeric(10,2), tx text, vc varchar(20), b boolean, ts timestamptz, d date, u uuid, "
    "j jsonb, by bytea, f float8, ch char(3))";

TEST(describe_every_type) {
    exec_ok(types_ddl);
    store_column *c = NULL;
    int n = 0;
    char *err = NULL;
    CHECK_EQ(M->describe(H, "types", &c, &n, &err), STORE_OK);
    CHECK_EQ(n, 14);
    struct {
        const char *name, *decl;
        int type, pk, notnull;
    } want[] = {
        {"id", "bigint", SV_INT, 1, 1},
        {"i2", "smallint", SV_INT, 0, 0},
        {"i4", "integer", SV_INT, 0, 1},
        {"n", "numeric(10,2)", SV_TEXT, 0, 0},
        {"tx", "text", SV_TEXT, 0, 0},
        {"vc", "character varying(20)", SV_TEXT, 0, 0},
        {"b", "boolean", SV_TEXT, 0, 0},
        {"ts", "timestamp with time zone", SV_TEXT, 0, 0},
        {"d", "date", SV_TEXT, 0, 0},
        {"u", "uuid", SV_TEXT, 0, 0},
        {"j", "jsonb", SV_TEXT, 0, 0},
        {"by", "bytea", SV_BLOB, 0, 0},
        {"f", "double precision", SV_REAL, 0, 0},
        {"ch", "character(3)", SV_TEXT, 0, 0},
    };
    for (int i = 0; i < n && i < 14; i++) {
        CHECK_STR(c[i].name, want[i].name);
        CHECK_STR(c[i].decltype, want[i].decl);
        CHECK_EQ(c[i].type, want[i].type);
        CHECK_EQ(c[i].pk, want[i].pk);
        CHECK_EQ(c[i].notnull, want[i].notnull);
    }
    M->free_columns(c, n);
    c = NULL;
    CHECK_EQ(M->describe(H, "no_such_table", &c, &n, &err), STORE_ERR_USER);
    CHECK(err && strstr(err, "no such table"));
    M->free_error(err);
    /* a composite primary key: positions in key order, not column order */
    exec_ok("CREATE TABLE enroll (course int, student int, grade text, "
            "PRIMARY KEY (student, course))");
    err = NULL;
    CHECK_EQ(M->describe(H, "enroll", &c, &n, &err), STORE_OK);
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_EQ(c[0].pk, 2);
        CHECK_EQ(c[1].pk, 1);
        CHECK_EQ(c[2].pk, 0);
    }
    M->free_columns(c, n);
}

static int get_row(const char *table, const char *keycol, store_value key, text_sink *t) {
    store_sink s = sink_of(t);
    char *err = NULL;
    const char *kc[] = {keycol};
    int rc = M->get(H, table, 1, kc, &key, &s, &err);
    if (rc != STORE_OK) fprintf(stderr, "  get: %d %s\n", rc, err ? err : "");
    M->free_error(err);
    return rc;
}

static int batch(store_op *ops, int n) {
    char *err = NULL;
    int rc = M->apply_batch(H, ops, n, &err);
    if (rc != STORE_OK) fprintf(stderr, "  apply_batch: %d %s\n", rc, err ? err : "");
    M->free_error(err);
    return rc;
}

static void free_op_errors(store_op *ops, int n) {
    for (int i = 0; i < n; i++) {
        M->free_error(ops[i].error);
        ops[i].error = NULL;
    }
}

TEST(every_type_round_trips) {
    static const char blob[] = {0, 1, '\\', 'x', '\'', '"', (char)0xff};
    const char *key[] = {"id"};
    const char *cols[] = {"i2", "i4", "n", "tx", "vc", "b", "ts", "d", "u", "j", "by", "f", "ch"};
    /* text values, as Larder hands over a hash's fields */
    store_value vals[] = {tv("7"),
                          tv("-5"),
                          tv("12.5"),
                          tv("h\xc3\xa9llo 'quoted' \\ back"),
                          tv("x"),
                          tv("true"),
                          tv("2024-05-01 12:00:00+02"),
                          tv("2024-05-01"),
                          tv("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                          tv("{\"b\": 1, \"a\": [1,2]}"),
                          {SV_TEXT, 0, 0, blob, sizeof(blob)},
                          tv("1.5"),
                          tv("ab")};
    store_value k1 = tv("1");
    store_op op = {STORE_UPSERT, "types", 1, key, &k1, 13, cols, vals, NULL, 0, 0, 0, NULL, 0};
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(op.status, STORE_OK);
    text_sink t;
    CHECK_EQ(get_row("types", "id", iv(1), &t), STORE_OK);
    CHECK_EQ(t.rows, 1);
    CHECK_STR(t.cols, "id,i2,i4,n,tx,vc,b,ts,d,u,j,by,f,ch");
    CHECK_STR(t.out, "I:1|I:7|I:-5|T:12.50|T:h\xc3\xa9llo 'quoted' \\ back|T:x|T:t|"
                     "T:2024-05-01 10:00:00+00|T:2024-05-01|"
                     "T:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|T:{\"a\": [1, 2], \"b\": 1}|"
                     "B:00015c782722ff|R:1.5|T:ab \n");
    /* absent (SV_NULL) columns: DEFAULT in a new row, NULL in an existing one */
    /* (i4 is NOT NULL: Larder leaves such a column out rather than absent) */
    const char *cols2[] = {"i2", "n", "tx", "vc", "b", "ts", "d", "u", "j", "by", "f", "ch"};
    store_value v2[] = {NV, NV, NV, NV, tv("f"), NV, NV, NV, NV, NV, NV, NV};
    op.ncols = 12;
    op.cols = cols2;
    op.vals = v2;
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(get_row("types", "id", tv("1"), &t), STORE_OK);
    CHECK_STR(t.out, "I:1|N|I:-5|N|N|N|T:f|N|N|N|N|N|N|N\n");
    store_value k2 = tv("2");
    op.keyvals = &k2;
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(get_row("types", "id", tv("2"), &t), STORE_OK);
    CHECK_STR(t.out, "I:2|N|I:0|N|N|N|T:f|N|N|N|N|N|N|N\n");
    /* binary values as SV_BLOB, numbers as SV_INT / SV_REAL */
    store_value v3[] = {iv(-3),
                        iv(2147483647),
                        tv("-0.01"),
                        NV,
                        NV,
                        NV,
                        NV,
                        NV,
                        NV,
                        NV,
                        {SV_BLOB, 0, 0, "", 0},
                        {SV_REAL, 0, 0.25, NULL, 0},
                        NV};
    op.ncols = 13;
    op.cols = cols;
    op.vals = v3;
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(get_row("types", "id", tv("2"), &t), STORE_OK);
    CHECK_STR(t.out, "I:2|I:-3|I:2147483647|T:-0.01|N|N|N|N|N|N|N|B:|R:0.25|N\n");
    /* the table altered under a prepared SELECT *: read again */
    exec_ok("ALTER TABLE types ADD COLUMN extra int DEFAULT 5");
    CHECK_EQ(get_row("types", "id", tv("2"), &t), STORE_OK);
    CHECK_STR(t.out, "I:2|I:-3|I:2147483647|T:-0.01|N|N|N|N|N|N|N|B:|R:0.25|N|I:5\n");
    exec_ok("ALTER TABLE types DROP COLUMN extra");
    CHECK_EQ(get_row("types", "id", tv("2"), &t), STORE_OK);
    CHECK_STR(t.out, "I:2|I:-3|I:2147483647|T:-0.01|N|N|N|N|N|N|N|B:|R:0.25|N\n");
    /* delete; a missing row; a key that is no integer at all */
    store_op del = {STORE_DELETE, "types", 1, key, &k2, 0, NULL, NULL, NULL, 0, 0, 0, NULL, 0};
    CHECK_EQ(batch(&del, 1), STORE_OK);
    CHECK_EQ(get_row("types", "id", tv("2"), &t), STORE_OK);
    CHECK_EQ(t.rows, 0);
    CHECK_EQ(get_row("types", "id", tv("abc"), &t), STORE_OK);
    CHECK_EQ(t.rows, 0);
    /* a NUL byte in text is refused, permanently */
    store_value nul[] = {NV, NV, NV, {SV_TEXT, 0, 0, "a\0b", 3}, NV, NV, NV, NV, NV, NV,
                         NV, NV, NV};
    op.vals = nul;
    op.keyvals = &k1;
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(op.status, STORE_ERR_PERMANENT);
    CHECK(op.error && strstr(op.error, "NUL"));
    free_op_errors(&op, 1);
}

TEST(big_batch_pipelined) {
    exec_ok("CREATE TABLE kv (k text PRIMARY KEY, v text)");
    enum { N = 10000 }; /* write-behind-batch's default */
    static store_op ops[N];
    static store_value keys[N], vals[N];
    static char kb[N][16], vb[N][16];
    static const char *key[] = {"k"}, *cols[] = {"v"};
    for (int i = 0; i < N; i++) {
        snprintf(kb[i], sizeof(kb[i]), "k%d", i);
        snprintf(vb[i], sizeof(vb[i]), "v%d", i);
        keys[i] = tv(kb[i]);
        vals[i] = tv(vb[i]);
        ops[i] = (store_op){STORE_UPSERT, "kv", 1, key, &keys[i], 1,    cols,
                            &vals[i],     NULL, 0, 0,   0,        NULL, 0};
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(batch(ops, N), STORE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "  (%d rows in one batch: %.1f ms)\n", N,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    CHECK_STR(rows_of("SELECT count(*), min(v), max(k) FROM kv"), "I:10000|T:v0|T:k9999\n");
    /* the same batch again, one row deleted: coalesced shapes alternate */
    ops[5000].kind = STORE_DELETE;
    CHECK_EQ(batch(ops, N), STORE_OK);
    CHECK_STR(rows_of("SELECT count(*) FROM kv"), "I:9999\n");
    /* one key twice in a batch (rows of one 4-row statement, which
     * PostgreSQL refuses): applied in order all the same */
    store_value dupv[4] = {tv("first"), tv("second"), tv("other"), tv("third")};
    store_value dupk[4] = {tv("dup"), tv("dup"), tv("dup2"), tv("dup3")};
    store_op dup[4];
    for (int i = 0; i < 4; i++)
        dup[i] = (store_op){STORE_UPSERT, "kv", 1, key, &dupk[i], 1,    cols,
                            &dupv[i],     NULL, 0, 0,   0,        NULL, 0};
    CHECK_EQ(batch(dup, 4), STORE_OK);
    for (int i = 0; i < 4; i++) CHECK_EQ(dup[i].status, STORE_OK);
    CHECK_STR(rows_of("SELECT k, v FROM kv WHERE k LIKE 'dup%' ORDER BY k"),
              "T:dup|T:second\nT:dup2|T:other\nT:dup3|T:third\n");
}

/* How many rows of ops[0..n) have a change other than want(i) (printing the
 * first). */
static int wrong_changes(const store_op *ops, int n, int (*want)(int i)) {
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        if (ops[i].status != STORE_OK || ops[i].change == want(i)) continue;
        if (!wrong++)
            fprintf(stderr, "  row %d: change '%c', expected '%c'\n", i,
                    ops[i].change ? ops[i].change : '0', want(i));
    }
    return wrong;
}

static int first_pass(int i) {
    return i == 50 ? 'D' : i % 3 == 0 ? 'U' : 'I';
}

static int second_pass(int i) {
    return i == 50 ? 'I' : 'U';
}

/* store_op.change: 'I' for a row an UPSERT inserted, 'U' for one it wrote
 * over, 'D' for a DELETE; with new and existing rows interleaved in
 * multi-row statements (64, 16, 4, 1 rows of one shape), in the careful
 * path (a refused row in the batch), and for a table of key columns only
 * (ON CONFLICT DO NOTHING). */
TEST(upsert_reports_insert_or_update) {
    exec_ok("CREATE TABLE chg (k int PRIMARY KEY, v text CHECK (v <> 'bad'))");
    exec_ok("INSERT INTO chg SELECT g, 'old' FROM generate_series(0, 99, 3) g");
    enum { N = 100 };
    static store_op ops[N];
    static store_value keys[N], vals[N];
    static char kb[N][8];
    static const char *key[] = {"k"}, *cols[] = {"v"};
    for (int i = 0; i < N; i++) {
        snprintf(kb[i], sizeof(kb[i]), "%d", i);
        keys[i] = tv(kb[i]);
        vals[i] = tv("new");
        ops[i] = (store_op){STORE_UPSERT, "chg", 1, key, &keys[i], 1,    cols,
                            &vals[i],     NULL,  0, 0,   0,        NULL, 0};
    }
    ops[50].kind = STORE_DELETE; /* of a row that is not there */
    CHECK_EQ(batch(ops, N), STORE_OK);
    CHECK_EQ(wrong_changes(ops, N, first_pass), 0);
    CHECK_STR(rows_of("SELECT count(*) FROM chg WHERE v = 'new'"), "I:99\n");
    /* the careful path: row 7 refused, the others written over */
    ops[50].kind = STORE_UPSERT;
    vals[7] = tv("bad");
    CHECK_EQ(batch(ops, N), STORE_OK);
    CHECK_EQ(ops[7].status, STORE_ERR_PERMANENT);
    CHECK_EQ(wrong_changes(ops, N, second_pass), 0);
    free_op_errors(ops, N);
    /* key columns only: DO NOTHING for an existing row, which it existed */
    exec_ok("CREATE TABLE tag (k int PRIMARY KEY)");
    exec_ok("INSERT INTO tag VALUES (3)");
    store_value tk[4] = {tv("1"), tv("3"), tv("2"), tv("1")};
    store_op tags[4];
    for (int i = 0; i < 4; i++)
        tags[i] =
            (store_op){STORE_UPSERT, "tag", 1, key, &tk[i], 0, NULL, NULL, NULL, 0, 0, 0, NULL, 0};
    CHECK_EQ(batch(tags, 4), STORE_OK);
    const char want[] = "IUIU";
    for (int i = 0; i < 4; i++) CHECK_EQ(tags[i].change, want[i]);
    CHECK_STR(rows_of("SELECT k FROM tag ORDER BY k"), "I:1\nI:2\nI:3\n");
}

static const char refuse_ddl[] =
    "CREATE TABLE parent (id int PRIMARY KEY);"
    "INSERT INTO parent VALUES (1);"
    "CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent(id), email text UNIQUE, "
    "qty int CHECK (qty >= 0), name text NOT NULL);"
    "CREATE TABLE dead (id int8 PRIMARY KEY, tbl text, err text)";

TEST(refused_rows_go_to_the_dead_letter) {
    CHECK_EQ(pg_psql(refuse_ddl), 0);
    static const char *key[] = {"id"}, *cols[] = {"pid", "email", "qty", "name"};
    static const char *dcols[] = {"tbl", "err"};
    enum { N = 7 };
    store_value keys[N], vals[N][4], dkeys[N], dvals[N][2];
    store_op ops[N], dl[N];
    const char *rowvals[N][4] = {
        {"1", "a@x", "1", "ok1"},  /* fine */
        {"1", "a@x", "1", "dup"},  /* unique */
        {"9", "b@x", "1", "fk"},   /* foreign key */
        {"1", "c@x", "-1", "chk"}, /* check */
        {"1", "d@x", "1", NULL},   /* not null */
        {"1", "e@x", "abc", "ty"}, /* bad value for int */
        {"1", "f@x", "2", "ok2"},  /* fine */
    };
    char kb[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(kb[i], sizeof(kb[i]), "%d", i + 1);
        keys[i] = tv(kb[i]);
        for (int c = 0; c < 4; c++) vals[i][c] = rowvals[i][c] ? tv(rowvals[i][c]) : NV;
        dkeys[i] = iv(100 + i);
        dvals[i][0] = tv("child");
        dvals[i][1] = tv("placeholder");
        dl[i] = (store_op){STORE_UPSERT, "dead", 1, key, &dkeys[i], 2,    dcols,
                           dvals[i],     NULL,   0, 0,   0,         NULL, 0};
        ops[i] = (store_op){STORE_UPSERT, "child", 1, key, &keys[i], 4,    cols,
                            vals[i],      &dl[i],  1, 0,   0,        NULL, 0};
    }
    CHECK_EQ(batch(ops, N), STORE_OK);
    int want[N] = {STORE_OK,
                   STORE_ERR_PERMANENT,
                   STORE_ERR_PERMANENT,
                   STORE_ERR_PERMANENT,
                   STORE_ERR_PERMANENT,
                   STORE_ERR_PERMANENT,
                   STORE_OK};
    const char *words[N] = {NULL,
                            "duplicate key value violates unique constraint",
                            "violates foreign key constraint",
                            "violates check constraint",
                            "null value in column \"name\"",
                            "invalid input syntax for type integer",
                            NULL};
    for (int i = 0; i < N; i++) {
        CHECK_EQ(ops[i].status, want[i]);
        if (words[i]) {
            CHECK(ops[i].error && strstr(ops[i].error, words[i]));
            fprintf(stderr, "  (row %d refused: %s)\n", i + 1, ops[i].error ? ops[i].error : "?");
        } else {
            CHECK(ops[i].error == NULL);
        }
    }
    CHECK_STR(rows_of("SELECT id, name FROM child ORDER BY id"), "I:1|T:ok1\nI:7|T:ok2\n");
    CHECK_STR(rows_of("SELECT id, tbl FROM dead ORDER BY id"),
              "I:101|T:child\nI:102|T:child\nI:103|T:child\nI:104|T:child\nI:105|T:child\n");
    static text_sink t;
    q("SELECT err FROM dead WHERE id = 101", 1, &t);
    CHECK(strstr(t.out, "duplicate key value") != NULL);
    free_op_errors(ops, N);
}

TEST(a_unit_commits_whole_or_not_at_all) {
    static const char *key[] = {"id"}, *cols[] = {"pid", "email", "qty", "name"};
    store_value k[3] = {tv("20"), tv("21"), tv("22")};
    store_value v[3][4] = {{tv("1"), tv("u20"), tv("1"), tv("n20")},
                           {tv("1"), tv("u21"), tv("-7"), tv("n21")}, /* refused */
                           {tv("1"), tv("u22"), tv("1"), tv("n22")}};
    store_op ops[3];
    for (int i = 0; i < 3; i++)
        ops[i] = (store_op){STORE_UPSERT, "child", 1, key,           &k[i], 4,    cols,
                            v[i],         NULL,    0, i < 2 ? 5 : 0, 0,     NULL, 0};
    CHECK_EQ(batch(ops, 3), STORE_OK);
    CHECK_EQ(ops[0].status, STORE_ERR_PERMANENT);
    CHECK_EQ(ops[1].status, STORE_ERR_PERMANENT);
    CHECK_EQ(ops[2].status, STORE_OK);
    CHECK(ops[0].error && ops[1].error && !strcmp(ops[0].error, ops[1].error));
    CHECK_STR(rows_of("SELECT id FROM child WHERE id >= 20 ORDER BY id"), "I:22\n");
    free_op_errors(ops, 3);
}

/* A dead-letter op that is refused too fails the whole batch. */
TEST(refused_dead_letter_fails_the_batch) {
    static const char *key[] = {"id"}, *cols[] = {"pid", "email", "qty", "name"};
    static const char *dcols[] = {"tbl", "nosuchcol"};
    store_value k[2] = {tv("30"), tv("31")};
    store_value v[2][4] = {{tv("1"), tv("u30"), tv("1"), tv("n30")},
                           {tv("1"), tv("u31"), tv("-1"), tv("n31")}};
    store_value dk = iv(200), dv[2] = {tv("child"), tv("x")};
    store_op dl = {STORE_UPSERT, "dead", 1, key, &dk, 2, dcols, dv, NULL, 0, 0, 0, NULL, 0};
    store_op ops[2];
    for (int i = 0; i < 2; i++)
        ops[i] =
            (store_op){STORE_UPSERT, "child", 1, key, &k[i], 4, cols, v[i], &dl, 1, 0, 0, NULL, 0};
    char *err = NULL;
    CHECK_EQ(M->apply_batch(H, ops, 2, &err), STORE_ERR_TRANSIENT);
    CHECK(err && strstr(err, "dead letter refused"));
    M->free_error(err);
    CHECK(ops[0].error == NULL && ops[1].error == NULL);
    CHECK_STR(rows_of("SELECT count(*) FROM child WHERE id >= 30"), "I:0\n");
    CHECK_STR(rows_of("SELECT count(*) FROM dead WHERE id = 200"), "I:0\n");
}

/* A composite primary key, both ways. */
TEST(composite_key) {
    static const char *key[] = {"student", "course"}, *cols[] = {"grade"};
    store_value k[2] = {iv(7), tv("101")}, g = tv("A");
    store_op op = {STORE_UPSERT, "enroll", 2, key, k, 1, cols, &g, NULL, 0, 0, 0, NULL, 0};
    CHECK_EQ(batch(&op, 1), STORE_OK);
    text_sink t;
    store_sink s = sink_of(&t);
    char *err = NULL;
    CHECK_EQ(M->get(H, "enroll", 2, key, k, &s, &err), STORE_OK);
    CHECK_STR(t.out, "I:101|I:7|T:A\n");
    op.kind = STORE_DELETE;
    CHECK_EQ(batch(&op, 1), STORE_OK);
    s = sink_of(&t);
    CHECK_EQ(M->get(H, "enroll", 2, key, k, &s, &err), STORE_OK);
    CHECK_EQ(t.rows, 0);
}

TEST(query_binds_parameters) {
    exec_ok("CREATE TABLE notes (id serial PRIMARY KEY, body text, tag text)");
    const char *evil = "x'); DROP TABLE notes; --";
    store_value args[] = {tv(evil), tv("what?")};
    char *err = NULL;
    int64_t aff = -1;
    text_sink t;
    store_sink s = sink_of(&t);
    CHECK_EQ(M->query(H, "INSERT INTO notes (body, tag) VALUES (?, ?)", 2, args, 0, &s, NULL, NULL,
                      &aff, &err),
             STORE_OK);
    CHECK_EQ(aff, 1);
    CHECK_EQ(M->query(H, "INSERT INTO notes (body, tag) VALUES ($1, 'lit?')", 1, args, 0, &s, NULL,
                      NULL, &aff, &err),
             STORE_OK);
    CHECK_STR(rows_of("SELECT body, tag FROM notes ORDER BY id"),
              "T:x'); DROP TABLE notes; --|T:what?\nT:x'); DROP TABLE notes; --|T:lit?\n");
    /* `?` inside a literal, a quoted identifier and a comment stays */
    s = sink_of(&t);
    CHECK_EQ(M->query(H, "SELECT '?' AS \"q?\", body /* ? */ FROM notes WHERE tag = ? -- ?\n", 1,
                      &args[1], 1, &s, NULL, NULL, &aff, &err),
             STORE_OK);
    CHECK_STR(t.cols, "q?,body");
    CHECK_STR(t.out, "T:?|T:x'); DROP TABLE notes; --\n");
    /* an E'' string with an escaped quote, a dollar-quoted string */
    s = sink_of(&t);
    CHECK_EQ(M->query(H, "SELECT E'it\\'s ?', $x$ ? $x$, ?::text", 1, &args[1], 1, &s, NULL, NULL,
                      &aff, &err),
             STORE_OK);
    CHECK_STR(t.out, "T:it's ?|T: ? |T:what?\n");
    /* no rows: columns still reported */
    s = sink_of(&t);
    CHECK_EQ(
        M->query(H, "SELECT id FROM notes WHERE false", 0, NULL, 1, &s, NULL, NULL, &aff, &err),
        STORE_OK);
    CHECK_STR(t.cols, "id");
    CHECK_EQ(t.rows, 0);
    CHECK_EQ(M->query(H, "UPDATE notes SET tag = ?", 1, args, 0, NULL, NULL, NULL, &aff, &err),
             STORE_OK);
    CHECK_EQ(aff, 2);
    /* read-only refusal, syntax error, unknown table, wrong parameter count */
    CHECK_EQ(M->query(H, "DELETE FROM notes", 0, NULL, 1, NULL, NULL, NULL, &aff, &err),
             STORE_ERR_USER);
    CHECK(err && strstr(err, "read-only"));
    M->free_error(err);
    err = NULL;
    CHECK_STR(rows_of("SELECT count(*) FROM notes"), "I:2\n");
    CHECK_EQ(M->query(H, "SELEC 1", 0, NULL, 0, NULL, NULL, NULL, &aff, &err), STORE_ERR_USER);
    CHECK(err && strstr(err, "syntax error"));
    M->free_error(err);
    err = NULL;
    CHECK_EQ(M->query(H, "SELECT * FROM nowhere", 0, NULL, 1, NULL, NULL, NULL, &aff, &err),
             STORE_ERR_USER);
    CHECK(err && strstr(err, "does not exist"));
    M->free_error(err);
    err = NULL;
    CHECK_EQ(M->query(H, "SELECT ?", 2, args, 1, NULL, NULL, NULL, &aff, &err), STORE_ERR_USER);
    M->free_error(err);
    err = NULL;
    /* transaction control is refused and leaves no transaction open */
    CHECK_EQ(M->query(H, "BEGIN", 0, NULL, 0, NULL, NULL, NULL, &aff, &err), STORE_ERR_USER);
    M->free_error(err);
    err = NULL;
    /* a constraint refused over query */
    CHECK_EQ(M->query(H, "INSERT INTO parent VALUES (1)", 0, NULL, 0, NULL, NULL, NULL, &aff, &err),
             STORE_ERR_PERMANENT);
    CHECK(err && strstr(err, "duplicate key"));
    M->free_error(err);
    err = NULL;
    CHECK_STR(rows_of("SELECT count(*) FROM notes"), "I:2\n");
}

TEST(postgres_killed_then_back) {
    static const char *key[] = {"k"}, *cols[] = {"v"};
    store_value k = tv("crash"), v = tv("during");
    store_op op = {STORE_UPSERT, "kv", 1, key, &k, 1, cols, &v, NULL, 0, 0, 0, NULL, 0};
    text_sink t;
    CHECK_EQ(get_row("kv", "k", tv("k1"), &t), STORE_OK); /* prepared before the crash */
    CHECK_EQ(pg_kill9(), 0);
    char *err = NULL;
    CHECK_EQ(M->apply_batch(H, &op, 1, &err), STORE_ERR_TRANSIENT);
    CHECK(err != NULL);
    if (err) fprintf(stderr, "  (while down: %s)\n", err);
    M->free_error(err);
    err = NULL;
    store_sink s = sink_of(&t);
    const char *kc[] = {"k"};
    store_value kv1 = tv("k1");
    CHECK_EQ(M->get(H, "kv", 1, kc, &kv1, &s, &err), STORE_ERR_TRANSIENT);
    M->free_error(err);
    err = NULL;
    CHECK_EQ(pg_restart(), 0);
    /* the next calls reconnect, within the module's backoff (at most 1 s) */
    int rc = STORE_ERR_TRANSIENT;
    for (int i = 0; i < 40 && rc != STORE_OK; i++) {
        s = sink_of(&t);
        rc = M->get(H, "kv", 1, kc, &kv1, &s, &err);
        M->free_error(err);
        err = NULL;
        if (rc != STORE_OK) sleep_ms(100);
    }
    CHECK_EQ(rc, STORE_OK);
    CHECK_STR(t.out, "T:k1|T:v1\n");
    CHECK_EQ(get_row("kv", "k", tv("crash"), &t), STORE_OK);
    CHECK_EQ(t.rows, 0); /* nothing of the failed batch was applied */
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(get_row("kv", "k", tv("crash"), &t), STORE_OK);
    CHECK_STR(t.out, "T:crash|T:during\n");
}

static char changes_seen[256];

static void note_change(void *ctx, const char *table, int op, int npk, const store_value *pk) {
    CHECK(op && strchr("IUDT", op) != NULL); /* the module names every change */
    (void)ctx;
    size_t l = strlen(changes_seen);
    l += (size_t)snprintf(changes_seen + l, sizeof(changes_seen) - l, "%s:", table);
    for (int i = 0; i < npk && l < sizeof(changes_seen); i++)
        l += (size_t)snprintf(changes_seen + l, sizeof(changes_seen) - l, "%s%.*s", i ? "," : "",
                              (int)pk[i].len, pk[i].p ? pk[i].p : "");
    if (l < sizeof(changes_seen) - 1) strcat(changes_seen, ";");
}

/* A log_read callback: "table:pk;" like note_change, "!" before an own change. */
static void note_log(void *ctx, const store_change *c) {
    if (c->own && strlen(changes_seen) < sizeof(changes_seen) - 1) strcat(changes_seen, "!");
    note_change(ctx, c->table, c->op, c->npk, c->pk);
    CHECK(c->at_us > 0);
    CHECK(strchr("IUDT", c->op) != NULL);
}

/* Waits up to ms for notifications on conn; appends their payloads to out
 * as "payload," and returns how many came. */
static int collect_notifications(PGconn *conn, int want, int ms, char *out, size_t outsz) {
    int got = 0;
    for (int waited = 0; got < want && waited < ms; waited += 50) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(PQsocket(conn), &fds);
        struct timeval tv = {0, 50000};
        select(PQsocket(conn) + 1, &fds, NULL, NULL, &tv);
        PQconsumeInput(conn);
        PGnotify *n;
        while ((n = PQnotifies(conn)) != NULL) {
            if (!strcmp(n->relname, PGSTORE_CHANNEL)) {
                strncat(out, n->extra, outsz - strlen(out) - 2);
                strcat(out, ",");
                got++;
            }
            PQfreemem(n);
        }
    }
    return got;
}

TEST(invalidation_log_and_notify) {
    int (*install)(void *, int, const char *const *, char **) = M->log_install;
    CHECK(install != NULL);
    if (!install) return;
    int64_t pos = 0;
    int status;
    char *e = NULL;
    CHECK_EQ(M->log_read(H, &pos, &status, note_log, NULL, &e), STORE_ERR_USER);
    CHECK(e && strstr(e, "not installed"));
    M->free_error(e);
    exec_ok("CREATE TABLE inv (id int PRIMARY KEY, v text)");
    exec_ok("CREATE TABLE inv2 (b int, a text, v text, PRIMARY KEY (a, b))");
    const char *tables[] = {"inv", "inv2"};
    char *err = NULL;
    for (int round = 0; round < 2; round++) { /* idempotent */
        CHECK_EQ(install(H, 2, tables, &err), STORE_OK);
        if (err) fprintf(stderr, "  install: %s\n", err);
        M->free_error(err);
        err = NULL;
    }
    CHECK_STR(rows_of("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'larder_changes%'"),
              "I:4\n");
    const char *none[] = {"no_such"};
    CHECK_EQ(install(H, 1, none, &err), STORE_ERR_USER);
    M->free_error(err);
    err = NULL;
    exec_ok("CREATE TABLE nokey (v text)");
    const char *nokey[] = {"nokey"};
    CHECK_EQ(install(H, 1, nokey, &err), STORE_ERR_USER);
    CHECK(err && strstr(err, "no primary key"));
    M->free_error(err);
    err = NULL;

    PGconn *listener = PQconnectdb(pg_conninfo());
    CHECK_EQ(PQstatus(listener), CONNECTION_OK);
    PGresult *r = PQexec(listener, "LISTEN " PGSTORE_CHANNEL);
    CHECK_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    /* psql-style writes from another program */
    CHECK_EQ(pg_psql("INSERT INTO inv VALUES (1, 'a'), (2, 'b');"
                     "UPDATE inv SET v = 'c' WHERE id = 1;"
                     "UPDATE inv SET id = 3 WHERE id = 2;"
                     "DELETE FROM inv WHERE id = 1;"
                     "INSERT INTO inv2 VALUES (7, 'x', 'y');"
                     "TRUNCATE inv2;"),
             0);
    CHECK_STR(rows_of("SELECT tbl, op, pk::text FROM larder_changes ORDER BY id"),
              "T:inv|T:I|T:{\"id\": 1}\n"
              "T:inv|T:I|T:{\"id\": 2}\n"
              "T:inv|T:U|T:{\"id\": 1}\n"
              "T:inv|T:D|T:{\"id\": 2}\n"
              "T:inv|T:U|T:{\"id\": 3}\n"
              "T:inv|T:D|T:{\"id\": 1}\n"
              "T:inv2|T:I|T:{\"a\": \"x\", \"b\": 7}\n"
              "T:inv2|T:T|T:{}\n");
    /* one notification per table per transaction (psql commits each
     * statement), the table's name as payload */
    char got[512] = "";
    CHECK_EQ(collect_notifications(listener, 6, 5000, got, sizeof(got)), 6);
    CHECK_STR(got, "inv,inv,inv,inv,inv2,inv2,");
    /* a statement that changes many rows notifies once */
    CHECK_EQ(pg_psql("INSERT INTO inv SELECT g, 'n' FROM generate_series(100, 199) g;"
                     "DELETE FROM inv WHERE id >= 100;"),
             0);
    got[0] = 0;
    CHECK_EQ(collect_notifications(listener, 3, 300, got, sizeof(got)), 2);
    CHECK_STR(got, "inv,inv,");
    /* a sidecar's own batch is logged too, and a rolled-back one is not */
    static const char *key[] = {"id"}, *cols[] = {"v"};
    store_value k = tv("9"), v = tv("z");
    store_op op = {STORE_UPSERT, "inv", 1, key, &k, 1, cols, &v, NULL, 0, 0, 0, NULL, 0};
    CHECK_EQ(batch(&op, 1), STORE_OK);
    got[0] = 0;
    CHECK_EQ(collect_notifications(listener, 1, 5000, got, sizeof(got)), 1);
    CHECK_STR(rows_of("SELECT op, pk::text, origin IS NOT NULL FROM larder_changes ORDER BY id "
                      "DESC LIMIT 1"),
              "T:I|T:{\"id\": 9}|T:t\n");
    PQfinish(listener);
    /* with the log, query reports the rows a write changed */
    changes_seen[0] = 0;
    int64_t aff = 0;
    CHECK_EQ(M->query(H, "UPDATE inv SET v = ? WHERE id IN (3, 9)", 1, &v, 0, NULL, note_change,
                      NULL, &aff, &err),
             STORE_OK);
    CHECK_EQ(aff, 2);
    CHECK_STR(changes_seen, "inv:3;inv:9;");
    changes_seen[0] = 0;
    CHECK_EQ(M->query(H, "INSERT INTO inv2 VALUES (?, 'k', 'v')", 1, &v, 0, NULL, note_change, NULL,
                      &aff, &err),
             STORE_ERR_PERMANENT); /* 'z' is no integer: nothing to report */
    M->free_error(err);
    err = NULL;
    store_value eight = tv("8");
    CHECK_EQ(M->query(H, "INSERT INTO inv2 VALUES (?, 'k', 'v')", 1, &eight, 0, NULL, note_change,
                      NULL, &aff, &err),
             STORE_OK);
    CHECK_STR(changes_seen, "inv2:k,8;");
    /* VACUUM cannot run in the transaction that reads the log back */
    CHECK_EQ(M->query(H, "VACUUM inv", 0, NULL, 0, NULL, note_change, NULL, &aff, &err), STORE_OK);
    M->free_error(err);
    err = NULL;
    /* transaction control stays refused, with or without the log */
    CHECK_EQ(M->query(H, "COMMIT", 0, NULL, 0, NULL, note_change, NULL, &aff, &err),
             STORE_ERR_USER);
    M->free_error(err);
    err = NULL;
}

static int log_read(int64_t *pos, int *status) {
    char *err = NULL;
    int rc = M->log_read(H, pos, status, note_log, NULL, &err);
    if (err) fprintf(stderr, "  log_read: %s\n", err);
    M->free_error(err);
    return rc;
}

TEST(catch_up_misses_nothing) {
    CHECK(M->log_read != NULL);
    if (!M->log_read) return;
    int64_t pos = 0;
    int status = -1;
    changes_seen[0] = 0;
    CHECK_EQ(log_read(&pos, &status), STORE_OK); /* from now on */
    CHECK(pos > 0);
    CHECK_EQ(status, STORE_LOG_CONTINUOUS);
    CHECK_STR(changes_seen, "");
    CHECK_EQ(pg_psql("UPDATE inv SET v = 'w' WHERE id = 3; DELETE FROM inv WHERE id = 9;"
                     "TRUNCATE inv2;"),
             0);
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_STR(changes_seen, "inv:3;inv:9;inv2:;");
    changes_seen[0] = 0;
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_STR(changes_seen, "");
    /* this handle's own writes are marked */
    static const char *key[] = {"id"}, *cols[] = {"v"};
    store_value k = tv("11"), v = tv("mine");
    store_op op = {STORE_UPSERT, "inv", 1, key, &k, 1, cols, &v, NULL, 0, 0, 0, NULL, 0};
    CHECK_EQ(batch(&op, 1), STORE_OK);
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_STR(changes_seen, "!inv:11;");
    changes_seen[0] = 0;
    /* a transaction that took its log id first and commits last: the one
     * that commits meanwhile is reported at once (early, above the
     * horizon the open one holds back), the slow one when it commits, and
     * neither twice */
    PGconn *slow = PQconnectdb(pg_conninfo());
    PQclear(PQexec(slow, "BEGIN"));
    PGresult *r = PQexec(slow, "INSERT INTO inv VALUES (50, 'slow')");
    CHECK_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    int64_t held = pos;
    CHECK_EQ(pg_psql("UPDATE inv SET v = 'fast' WHERE id = 3"), 0);
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_STR(changes_seen, "inv:3;");
    CHECK_EQ(pos, held); /* the horizon is held back */
    changes_seen[0] = 0;
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_STR(changes_seen, "");
    PQclear(PQexec(slow, "COMMIT"));
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_STR(changes_seen, "inv:50;");
    CHECK(pos > held);
    PQfinish(slow);
    /* a position from before it: everything since is reported again (a
     * restarted reader), duplicates are harmless */
    changes_seen[0] = 0;
    int64_t old = held;
    CHECK_EQ(log_read(&old, &status), STORE_OK);
    CHECK(strstr(changes_seen, "inv:50;") != NULL);
    CHECK_EQ(status, STORE_LOG_CONTINUOUS);
    /* a position of another database (ahead of this one's horizon) */
    int64_t bogus = pos + 1000000;
    CHECK_EQ(log_read(&bogus, &status), STORE_OK);
    CHECK_EQ(status, STORE_LOG_GAP);
    CHECK(bogus > 0 && bogus <= pos + 10);
}

TEST(listen_consume_and_reconnect) {
    int fd = -1, n = 0;
    char *err = NULL;
    CHECK_EQ(M->log_listen(H, &fd, &err), STORE_OK);
    CHECK(fd >= 0);
    CHECK_EQ(M->log_consume(H, &n, &err), STORE_OK);
    CHECK_EQ(n, 0);
    CHECK_EQ(pg_psql("UPDATE inv SET v = 'n1' WHERE id = 3"), 0);
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    for (int i = 0; i < 50 && n == 0; i++) {
        CHECK_EQ(M->log_consume(H, &n, &err), STORE_OK);
        if (!n) poll(&p, 1, 100);
    }
    CHECK_EQ(n, 1);
    /* the listening session is terminated: consume says so, listen again */
    CHECK_EQ(pg_psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE query LIKE 'LISTEN%'"),
             0);
    int rc = STORE_OK;
    for (int i = 0; i < 50 && rc == STORE_OK; i++) {
        poll(&p, 1, 100);
        rc = M->log_consume(H, &n, &err);
    }
    CHECK_EQ(rc, STORE_ERR_TRANSIENT);
    CHECK(err && strstr(err, "lost"));
    M->free_error(err);
    err = NULL;
    CHECK_EQ(M->log_listen(H, &fd, &err), STORE_OK);
    CHECK_EQ(pg_psql("UPDATE inv SET v = 'n2' WHERE id = 3"), 0);
    p.fd = fd;
    n = 0;
    for (int i = 0; i < 50 && n == 0; i++) {
        poll(&p, 1, 100);
        CHECK_EQ(M->log_consume(H, &n, &err), STORE_OK);
    }
    CHECK_EQ(n, 1);
    M->log_unlisten(H);
    CHECK_EQ(M->log_consume(H, &n, &err), STORE_ERR_TRANSIENT);
    M->free_error(err);
}

TEST(prune_by_age_and_gap) {
    int64_t pos = 0, deleted = -1;
    int status;
    char *err = NULL;
    changes_seen[0] = 0;
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    int64_t before = pos;
    CHECK_EQ(pg_psql("UPDATE inv SET v = 'p1' WHERE id = 3"), 0);
    /* nothing is older than an hour */
    CHECK_EQ(M->log_prune(H, 3600, &deleted, &err), STORE_OK);
    CHECK_EQ(deleted, 0);
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_EQ(status, STORE_LOG_CONTINUOUS);
    CHECK_STR(changes_seen, "inv:3;");
    /* everything is older than 0 s: pruned; a reader still before it lost them */
    CHECK_EQ(M->log_prune(H, 0, &deleted, &err), STORE_OK);
    CHECK(deleted > 0);
    CHECK_STR(rows_of("SELECT count(*) > 0 FROM larder_changes_pruned"), "T:t\n");
    int64_t stale = before;
    CHECK_EQ(log_read(&stale, &status), STORE_OK);
    CHECK_EQ(status, STORE_LOG_GAP);
    CHECK(stale >= pos);
    /* a reader that had read them all goes on */
    CHECK_EQ(log_read(&pos, &status), STORE_OK);
    CHECK_EQ(status, STORE_LOG_CONTINUOUS);
    M->free_error(err);
}

int main(void) {
    if (pg_start() != 0) {
        fprintf(stderr, "cannot start PostgreSQL\n");
        test_failed_++;
        return test_report();
    }
    const char *b = getenv("LARDER_BUILD");
    char rel[PATH_MAX], path[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/modules/pgstore.so", b && *b ? b : "build");
    if (!realpath(rel, path)) snprintf(path, sizeof(path), "%s", rel);
    void *dl = DL = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    store_module_entry_fn entry = dl ? (store_module_entry_fn)dlsym(dl, STORE_MODULE_ENTRY) : NULL;
    M = entry ? entry() : NULL;
    if (!M || M->api_version != LARDER_STORE_API_VERSION) {
        fprintf(stderr, "cannot load %s: %s\n", path, dl ? "no store module" : dlerror());
        test_failed_++;
        pg_stop();
        return test_report();
    }
    const char *argv[] = {pg_conninfo(), "store-path", "ignored.db"};
    char *err = NULL;
    if (M->open(3, argv, &H, &err) != STORE_OK) {
        fprintf(stderr, "open: %s\n", err ? err : "?");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    RUN(open_unreachable);
    RUN(describe_every_type);
    RUN(every_type_round_trips);
    RUN(big_batch_pipelined);
    RUN(upsert_reports_insert_or_update);
    RUN(refused_rows_go_to_the_dead_letter);
    RUN(a_unit_commits_whole_or_not_at_all);
    RUN(refused_dead_letter_fails_the_batch);
    RUN(composite_key);
    RUN(query_binds_parameters);
    RUN(invalidation_log_and_notify);
    RUN(catch_up_misses_nothing);
    RUN(listen_consume_and_reconnect);
    RUN(prune_by_age_and_gap);
    RUN(postgres_killed_then_back);
    M->close(H);
    pg_stop();
    return test_report();
}
