/* Full-text indexes (src/sql/fts.c), differential against libsqlite3's FTS5.
 *
 *   - the tokenizer folds and splits every code point of U+0001..U+017F (and
 *     the separators and combining marks it names) as unicode61 does;
 *   - a seeded corpus of FTS_DOCS (default 10,000) generated documents goes
 *     into a Larder table with a full-text index and into an FTS5 table;
 *     FTS_QUERIES random queries (terms, prefixes, phrases, column filters,
 *     AND/OR/NOT, parentheses) give the same rowids, the same bm25() per row
 *     (so the same order wherever scores are not tied) and the same
 *     highlight(); then random UPDATEs and DELETEs, and the queries again;
 *   - malformed queries fail in both engines;
 *   - ranking on hand-made documents; transactions and rollback; errors.
 * FTS_SEED replays a run.
 */
#include "test.h"
#include "sql/fts.h"
#include "sql/sql.h"
#include "sql/store.h"
#include <math.h>
#include <sqlite3.h>

static uint64_t rs;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int rn(int n) {
    return (int)(rnd() % (uint64_t)n);
}

static int exec_ok(sql_db *db, const char *sql) {
    int rc = sql_exec(db, sql, NULL, NULL);
    if (rc != SQL_OK) fprintf(stderr, "larder: %s: %s\n", sql, sql_errmsg(db));
    return rc == SQL_OK;
}
static int lite_ok(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "sqlite: %s: %s\n", sql, err);
    sqlite3_free(err);
    return rc == SQLITE_OK;
}

/* ---- the tokenizer against unicode61 ------------------------------------------------------ */

typedef struct toks {
    char buf[4096];
    size_t n;
} toks;
static void add_tok(void *arg, const char *tok, int ntok, int num, int start, int end) {
    toks *t = arg;
    if (t->n + (size_t)ntok + 2 < sizeof t->buf) {
        if (t->n) t->buf[t->n++] = ' ';
        memcpy(t->buf + t->n, tok, (size_t)ntok);
        t->n += (size_t)ntok;
        t->buf[t->n] = 0;
    }
}

static int put_utf8(char *o, unsigned c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F)), 2;
    o[0] = (char)(0xE0 | (c >> 12));
    o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[2] = (char)(0x80 | (c & 0x3F));
    return 3;
}

/* "x<c>y" for each code point c: the tokens sqlite's unicode61 makes of it
 * (fts5vocab's instances, in order) equal ours. */
static unsigned test_cps[2000];
static int ntest_cps;
TEST(tokenizer_matches_unicode61) {
    ntest_cps = 0;
    for (unsigned c = 1; c <= 0x17F; c++) test_cps[ntest_cps++] = c;
    for (unsigned c = 0x300; c <= 0x36F; c += 7) test_cps[ntest_cps++] = c;
    unsigned seps[] = {0x2000, 0x2014, 0x201C, 0x2026, 0x20AC, 0x2192, 0x2264,
                       0x2500, 0x25A0, 0x2713, 0x3000, 0x3001, 0xFFFD};
    for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++) test_cps[ntest_cps++] = seps[i];
    sqlite3 *lite;
    sqlite3_open(":memory:", &lite);
    CHECK(lite_ok(lite, "CREATE VIRTUAL TABLE t USING fts5(x);"
                        "CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)"));
    sqlite3_stmt *ins, *sel;
    sqlite3_prepare_v2(lite, "INSERT INTO t(rowid, x) VALUES (?, ?)", -1, &ins, NULL);
    char text[16];
    for (int i = 0; i < ntest_cps; i++) {
        int n = 0;
        text[n++] = 'x';
        n += put_utf8(text + n, test_cps[i]);
        text[n++] = 'y';
        sqlite3_bind_int(ins, 1, i + 1);
        sqlite3_bind_text(ins, 2, text, n, SQLITE_TRANSIENT);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_prepare_v2(lite, "SELECT term FROM v WHERE doc = ? ORDER BY offset", -1, &sel, NULL);
    int bad = 0;
    for (int i = 0; i < ntest_cps; i++) {
        toks want = {{0}, 0}, got = {{0}, 0};
        sqlite3_bind_int(sel, 1, i + 1);
        while (sqlite3_step(sel) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(sel, 0);
            add_tok(&want, t, (int)strlen(t), 0, 0, 0);
        }
        sqlite3_reset(sel);
        int n = 0;
        text[n++] = 'x';
        n += put_utf8(text + n, test_cps[i]);
        text[n++] = 'y';
        sqli_fts_tokenize(text, (size_t)n, add_tok, &got);
        if (strcmp(want.buf, got.buf) != 0 && bad++ < 10)
            fprintf(stderr, "U+%04X: unicode61 \"%s\", ours \"%s\"\n", test_cps[i], want.buf,
                    got.buf);
    }
    CHECK_EQ(bad, 0);
    sqlite3_finalize(sel);
    sqlite3_close(lite);
}

/* ---- the corpus ---------------------------------------------------------------------------- */

#define NWORDS 800
static char words[NWORDS][24];
static const char *accented[][2] = {
    {"cafe", "café"},     {"naive", "naïve"},    {"resume", "RÉSUMÉ"},    {"uber", "Über"},
    {"facade", "façade"}, {"creme", "crème"},    {"senor", "señor"},      {"zloty", "złoty"},
    {"oeuvre", "œuvre"},  {"strasse", "straße"}, {"angstrom", "Ångström"}};
#define NACC (sizeof accented / sizeof accented[0])

static void make_words(void) {
    static const char *syl[] = {"ka", "lo",  "mi",  "ne",  "ru",  "sa", "ti",  "vo",  "ze",  "pa",
                                "qu", "bre", "dan", "fil", "gor", "hu", "jin", "xel", "wyn", "ost"};
    for (int i = 0; i < NWORDS; i++) /* distinct: i's digits in base 20 */
        snprintf(words[i], sizeof words[i], "%s%s%s", syl[i % 20], syl[(i / 20) % 20],
                 i >= 400 ? syl[i / 400] : "");
    for (size_t a = 0; a < NACC; a++) snprintf(words[a], sizeof words[a], "%s", accented[a][0]);
}

/* Zipf-like: small indexes are common. */
static int pick_word(void) {
    double u = (double)(rnd() % 1000000) / 1000000.0;
    return (int)(NWORDS * u * u * u);
}

static void append_word(char *out, size_t cap, size_t *n, int w) {
    const char *s = words[w];
    if (w < (int)NACC && rn(3) == 0) s = accented[w][1]; /* the accented / cased form */
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%s", s);
    if (rn(10) == 0 && tmp[0] >= 'a' && tmp[0] <= 'z') tmp[0] = (char)(tmp[0] - 32);
    *n += (size_t)snprintf(out + *n, cap - *n, "%s", tmp);
}

static void make_text(char *out, size_t cap, int nw) {
    static const char *seps[] = {" ", " ", " ", " ", ", ", ". ", " - ", "! ", " (", ") ", "'"};
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < nw && n + 40 < cap; i++) {
        if (i) n += (size_t)snprintf(out + n, cap - n, "%s", seps[rn(11)]);
        append_word(out, cap, &n, pick_word());
    }
}

static sql_db *lar;
static sqlite3 *lite;
static int ndocs;
static char (*titles)[128];
static char (*bodies)[1024];

static int insert_docs(int from, int to) {
    sql_stmt *st;
    sqlite3_stmt *ls;
    int ok = sql_prepare(lar, "INSERT INTO docs(id, title, body) VALUES (?, ?, ?)", -1, &st,
                         NULL) == SQL_OK;
    ok &= sqlite3_prepare_v2(lite, "INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)", -1, &ls,
                             NULL) == SQLITE_OK;
    for (int i = from; i < to && ok; i++) {
        sql_bind_int64(st, 1, i + 1);
        sql_bind_text(st, 2, titles[i], -1);
        sql_bind_text(st, 3, bodies[i], -1);
        ok &= sql_step(st) == SQL_DONE;
        sql_reset(st);
        sqlite3_bind_int(ls, 1, i + 1);
        sqlite3_bind_text(ls, 2, titles[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(ls, 3, bodies[i], -1, SQLITE_STATIC);
        ok &= sqlite3_step(ls) == SQLITE_DONE;
        sqlite3_reset(ls);
    }
    sql_finalize(st);
    sqlite3_finalize(ls);
    return ok;
}

/* ---- queries -------------------------------------------------------------------------------- */

/* A phrase: a word of the corpus, a prefix of one, or two or three words that
 * follow each other in some document (so that phrases do match). */
static void gen_phrase(char *q, size_t cap, size_t *n) {
    int k = rn(10);
    if (k < 5) {
        append_word(q, cap, n, pick_word());
    } else if (k < 7) {
        const char *w = words[pick_word()];
        int len = 2 + rn(3);
        *n += (size_t)snprintf(q + *n, cap - *n, "%.*s*", len, w);
    } else {
        const char *b = bodies[rn(ndocs)];
        toks t = {{0}, 0};
        sqli_fts_tokenize(b, strlen(b), add_tok, &t);
        char *sp[64];
        int nw = 0;
        for (char *p = strtok(t.buf, " "); p && nw < 64; p = strtok(NULL, " ")) sp[nw++] = p;
        if (nw < 3) {
            append_word(q, cap, n, pick_word());
            return;
        }
        int at = rn(nw - 2), len = 2 + rn(2);
        *n += (size_t)snprintf(q + *n, cap - *n, "\"");
        for (int i = 0; i < len; i++)
            *n += (size_t)snprintf(q + *n, cap - *n, "%s%s", i ? " " : "", sp[at + i]);
        *n += (size_t)snprintf(q + *n, cap - *n, "\"%s", rn(5) == 0 ? "*" : "");
    }
}

/* What the query being generated holds: FTS5's phrase instances (bm25's
 * counts, highlight()) depend on how far its iterators moved once NOT, or
 * OR together with AND, meet in one query; there they are not compared. */
static int g_not, g_and, g_or;

static void gen_query(char *q, size_t cap, size_t *n, int depth) {
    int k = rn(depth > 2 ? 3 : 10);
    if (k < 3) {
        if (rn(6) == 0)
            *n += (size_t)snprintf(q + *n, cap - *n, "%s", rn(2) ? "title:" : "body : ");
        gen_phrase(q, cap, n);
        if (rn(3) == 0) { /* implicit AND of phrases */
            g_and = 1;
            *n += (size_t)snprintf(q + *n, cap - *n, " ");
            gen_phrase(q, cap, n);
        }
        return;
    }
    static const char *ops[] = {" AND ", " OR ", " NOT "};
    int paren = rn(2);
    if (paren) *n += (size_t)snprintf(q + *n, cap - *n, "(");
    gen_query(q, cap, n, depth + 1);
    *n += (size_t)snprintf(q + *n, cap - *n, "%s", ops[k % 3]);
    *(k % 3 == 0 ? &g_and : k % 3 == 1 ? &g_or : &g_not) = 1;
    gen_query(q, cap, n, depth + 1);
    if (paren) *n += (size_t)snprintf(q + *n, cap - *n, ")");
}

typedef struct hit {
    int64_t id;
    double score;
    char *hl;
} hit;

/* The rows of query q in key order with bm25(); or with hl_rows, the first
 * 20 rows (in key order in both engines) with highlight() of the body. */
static int hl_rows = 0;
static int run_larder(const char *q, hit **out, int *nout, char *err, size_t errcap) {
    sql_stmt *st;
    *out = NULL;
    *nout = 0;
    if (sql_prepare(lar,
                    hl_rows
                        ? "SELECT id, 0, highlight(docs, 1, '[', ']') FROM docs "
                          "WHERE docs MATCH ?1 LIMIT 20"
                        : "SELECT id, bm25(docs), NULL FROM docs WHERE docs MATCH ?1 ORDER BY id",
                    -1, &st, NULL) != SQL_OK) {
        snprintf(err, errcap, "%s", sql_errmsg(lar));
        return -1;
    }
    sql_bind_text(st, 1, q, -1);
    int rc, cap = 0;
    while ((rc = sql_step(st)) == SQL_ROW) {
        if (*nout == cap) *out = realloc(*out, sizeof **out * (size_t)(cap = cap ? cap * 2 : 64));
        (*out)[*nout].id = sql_column_int64(st, 0);
        (*out)[*nout].score = sql_column_double(st, 1);
        const char *h = sql_column_text(st, 2);
        (*out)[(*nout)++].hl = strdup(h ? h : "");
    }
    if (rc != SQL_DONE) snprintf(err, errcap, "%s", sql_errmsg(lar));
    sql_finalize(st);
    return rc == SQL_DONE ? 0 : -1;
}

static int run_lite(const char *q, hit **out, int *nout, char *err, size_t errcap) {
    sqlite3_stmt *st;
    *out = NULL;
    *nout = 0;
    sqlite3_prepare_v2(lite,
                       hl_rows ? "SELECT rowid, 0, highlight(docs, 1, '[', ']') FROM docs "
                                 "WHERE docs MATCH ?1 LIMIT 20"
                               : "SELECT rowid, bm25(docs), NULL FROM docs WHERE docs MATCH ?1 "
                                 "ORDER BY rowid",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*nout == cap) *out = realloc(*out, sizeof **out * (size_t)(cap = cap ? cap * 2 : 64));
        (*out)[*nout].id = sqlite3_column_int64(st, 0);
        (*out)[*nout].score = sqlite3_column_double(st, 1);
        const char *h = (const char *)sqlite3_column_text(st, 2);
        (*out)[(*nout)++].hl = strdup(h ? h : "");
    }
    if (rc != SQLITE_DONE) snprintf(err, errcap, "%s", sqlite3_errmsg(lite));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void free_hits(hit *h, int n) {
    for (int i = 0; i < n; i++) free(h[i].hl);
    free(h);
}

static int nq_rows, nq_ranked, nq_nonempty;

/* One query in both engines: same rows, scores and highlights. */
static int compare_once(const char *q, int with_scores);
static int compare_query(const char *q, int with_scores) {
    hl_rows = 0;
    int bad = compare_once(q, with_scores);
    if (!bad && with_scores) {
        hl_rows = 1;
        bad = compare_once(q, with_scores);
        hl_rows = 0;
    }
    return bad;
}

static int compare_once(const char *q, int with_scores) {
    hit *a, *b;
    int na, nb, bad = 0;
    char ea[256] = "", eb[256] = "";
    int ra = run_larder(q, &a, &na, ea, sizeof ea), rb = run_lite(q, &b, &nb, eb, sizeof eb);
    if (ra != rb) {
        fprintf(stderr, "query %s: larder %s, sqlite %s\n", q, ra ? ea : "ok", rb ? eb : "ok");
        bad = 1;
    } else if (na != nb) {
        fprintf(stderr, "query %s: larder %d rows, sqlite %d\n", q, na, nb);
        bad = 1;
    }
    for (int i = 0; !bad && i < na; i++) {
        if (a[i].id != b[i].id) {
            fprintf(stderr, "query %s: row %d is %lld, sqlite %lld\n", q, i, (long long)a[i].id,
                    (long long)b[i].id);
            bad = 1;
        } else if (with_scores &&
                   fabs(a[i].score - b[i].score) > 1e-9 * (fabs(b[i].score) + 1e-12)) {
            fprintf(stderr, "query %s: row %lld bm25 %.17g, sqlite %.17g\n", q, (long long)a[i].id,
                    a[i].score, b[i].score);
            bad = 1;
        } else if (with_scores && strcmp(a[i].hl, b[i].hl) != 0) {
            fprintf(stderr, "query %s: row %lld highlight\n  %s\n  %s\n", q, (long long)a[i].id,
                    a[i].hl, b[i].hl);
            bad = 1;
        }
    }
    if (!hl_rows) {
        nq_rows += na;
        nq_nonempty += na > 0;
        nq_ranked += with_scores && na > 1;
    }
    free_hits(a, na);
    free_hits(b, nb);
    return bad;
}

static int nqueries;

static int run_queries(int n) {
    int bad = 0;
    for (int i = 0; i < n && bad < 10; i++) {
        char q[512];
        size_t len = 0;
        g_not = g_and = g_or = 0;
        gen_query(q, sizeof q, &len, 0);
        bad += compare_query(q, !g_not && !(g_and && g_or));
        nqueries++;
    }
    return bad;
}

TEST(corpus_differential) {
    int nd = getenv("FTS_DOCS") ? atoi(getenv("FTS_DOCS")) : 10000;
    int nqry = getenv("FTS_QUERIES") ? atoi(getenv("FTS_QUERIES")) : 1000;
    make_words();
    ndocs = nd;
    titles = calloc((size_t)nd, sizeof *titles);
    bodies = calloc((size_t)nd, sizeof *bodies);
    for (int i = 0; i < nd; i++) {
        make_text(titles[i], sizeof titles[i], 1 + rn(6));
        make_text(bodies[i], sizeof bodies[i], 3 + rn(80));
    }
    sql_options o = {.flags = SQL_OPEN_MEMORY, .cache_size = 64u << 20};
    CHECK(sql_open("fts", &o, &lar) == SQL_OK);
    sqlite3_open(":memory:", &lite);
    CHECK(exec_ok(lar, "CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, body TEXT)"));
    CHECK(lite_ok(lite, "CREATE VIRTUAL TABLE docs USING fts5(title, body)"));
    /* half the rows before the index (its build), half after (its upkeep) */
    CHECK(exec_ok(lar, "BEGIN") && lite_ok(lite, "BEGIN"));
    CHECK(insert_docs(0, nd / 2));
    CHECK(exec_ok(lar, "CREATE FULLTEXT INDEX docs_fts ON docs(title, body)"));
    CHECK(insert_docs(nd / 2, nd));
    CHECK(exec_ok(lar, "COMMIT") && lite_ok(lite, "COMMIT"));
    CHECK_EQ(run_queries(nqry), 0);
    printf("%d queries on %d documents: %d rows, %d queries with rows, %d ranked\n", nqueries, nd,
           nq_rows, nq_nonempty, nq_ranked);
    CHECK(nq_nonempty > nqry / 3);
    CHECK(nq_ranked > nqry / 10);
}

/* The same statement with one text and one integer parameter in both engines
 * (the key is "id" in Larder's table, "rowid" in FTS5's). */
static int both(const char *sql, const char *text, int id) {
    sql_stmt *st;
    sqlite3_stmt *ls;
    char lsql[256];
    snprintf(lsql, sizeof lsql, "%.*sid%s", (int)(strstr(sql, "rowid") - sql), sql,
             strstr(sql, "rowid") + 5);
    int ok = sql_prepare(lar, lsql, -1, &st, NULL) == SQL_OK;
    ok &= sqlite3_prepare_v2(lite, sql, -1, &ls, NULL) == SQLITE_OK;
    if (!ok) {
        fprintf(stderr, "%s: larder %s, sqlite %s\n", sql, sql_errmsg(lar), sqlite3_errmsg(lite));
        return 0;
    }
    sql_bind_text(st, 1, text, -1);
    sql_bind_int64(st, 2, id);
    sqlite3_bind_text(ls, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_int(ls, 2, id);
    int ra = sql_step(st), rb = sqlite3_step(ls);
    ok = ra == SQL_DONE && rb == SQLITE_DONE;
    if (!ok)
        fprintf(stderr, "%s: larder %s, sqlite %s\n", sql, sql_errmsg(lar), sqlite3_errmsg(lite));
    sql_finalize(st);
    sqlite3_finalize(ls);
    return ok;
}

/* Random UPDATEs and DELETEs in both engines (some rolled back), then the
 * queries again. */
TEST(corpus_after_changes) {
    for (int round = 0; round < 2; round++) {
        CHECK(exec_ok(lar, "BEGIN") && lite_ok(lite, "BEGIN"));
        for (int i = 0; i < ndocs / 20; i++) {
            char text[1024];
            int id = 1 + rn(ndocs), k = rn(6);
            make_text(text, sizeof text, 1 + rn(40));
            if (k == 0)
                CHECK(both("DELETE FROM docs WHERE ?1 IS NOT NULL AND rowid = ?2", text, id));
            else if (k == 1)
                CHECK(both("UPDATE docs SET title = ?1 WHERE rowid = ?2", text, id));
            else
                CHECK(both("UPDATE docs SET body = ?1 WHERE rowid = ?2", text, id));
        }
        const char *end = round ? "ROLLBACK" : "COMMIT";
        CHECK(exec_ok(lar, end) && lite_ok(lite, end));
    }
    nqueries = 0;
    CHECK_EQ(run_queries(500), 0);
}

/* Queries both engines refuse. */
TEST(malformed_queries) {
    static const char *bad[] = {"\"unterminated",
                                "a AND",
                                "OR a",
                                "NOT a",
                                "(a",
                                "a)",
                                "()",
                                "a (b)",
                                "(a) b",
                                ".",
                                "a.b",
                                "nosuch:a",
                                "{title nosuch}:a",
                                "a OR OR b",
                                "title:",
                                "-",
                                "\"a\" (b)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hit *a, *b;
        int na, nb;
        char ea[256] = "", eb[256] = "";
        int ra = run_larder(bad[i], &a, &na, ea, sizeof ea);
        int rb = run_lite(bad[i], &b, &nb, eb, sizeof eb);
        if (ra != -1 || rb != -1)
            fprintf(stderr, "query %s: larder %s, sqlite %s\n", bad[i], ra ? ea : "ok",
                    rb ? eb : "ok");
        CHECK(ra == -1 && rb == -1);
        CHECK(strstr(ea, "full-text query") != NULL);
        free_hits(a, na);
        free_hits(b, nb);
    }
    char err[256];
    hit *h;
    int n;
    CHECK(run_larder("\"open", &h, &n, err, sizeof err) == -1);
    CHECK_STR(err, "full-text query: unterminated string");
    CHECK(run_larder("nosuch:a", &h, &n, err, sizeof err) == -1);
    CHECK_STR(err, "full-text query: no such column: nosuch");
    CHECK(run_larder("a AND", &h, &n, err, sizeof err) == -1);
    CHECK_STR(err, "full-text query: syntax error near \"\"");
    CHECK(run_larder("NEAR(a b)", &h, &n, err, sizeof err) == -1);
    CHECK_STR(err, "full-text query: NEAR is not supported");
    sql_close(lar);
    sqlite3_close(lite);
    free(titles);
    free(bodies);
}

/* larder-check's checks of a full-text index (sqli_store_check) find a
 * posting removed behind the engine's back, and a row entry removed. */
static int find_fts_tree(void *arg, store_tree tree, const store_tree_info *info) {
    if (info->kind == STORE_TREE_FTS) *(store_tree *)arg = tree;
    return 0;
}
static void count_problem(void *arg, const char *msg) {
    (*(int *)arg)++;
}

static int damage_and_check(const char *file, int which) {
    store_db *s;
    store_txn *txn;
    store_options so = {0};
    store_tree tree = 0;
    if (sqli_store_open(file, &so, &s) != STORE_OK) return -1;
    sqli_store_begin(s, STORE_TXN_WRITE, &txn);
    sqli_store_tree_foreach(txn, find_fts_tree, &tree);
    store_cursor *c;
    sqli_store_cursor_open(txn, tree, &c);
    uint8_t pfx = (uint8_t)which;
    int rc = which ? sqli_store_cursor_seek(c, STORE_SEEK_PREFIX, &pfx, 1) : STORE_OK;
    if (rc == STORE_OK && which) rc = sqli_store_cursor_delete(c);
    sqli_store_cursor_close(c);
    store_check_report r;
    int problems = 0;
    if (rc == STORE_OK) sqli_store_check(txn, &r, count_problem, &problems);
    sqli_store_abort(txn);
    sqli_store_close(s);
    return rc == STORE_OK ? problems : -1;
}

TEST(check_finds_damage) {
    char file[] = "/tmp/larder-fts-check-XXXXXX";
    int fd = mkstemp(file);
    close(fd);
    unlink(file);
    sql_db *db;
    sql_options o = {.flags = SQL_OPEN_CREATE};
    CHECK(sql_open(file, &o, &db) == SQL_OK);
    CHECK(exec_ok(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT);"
                      "INSERT INTO t VALUES (1, 'one two', 'three'), (2, 'two', NULL);"
                      "CREATE FULLTEXT INDEX t_fts ON t(a, b);"
                      "INSERT INTO t VALUES (3, 'four', 'five six')"));
    CHECK(sql_close(db) == SQL_OK);
    CHECK_EQ(damage_and_check(file, 0), 0); /* nothing removed: no problem */
    CHECK(damage_and_check(file, 1) > 0);   /* a posting */
    CHECK(damage_and_check(file, 2) > 0);   /* a row entry */
    CHECK(damage_and_check(file, 3) > 0);   /* the totals */
    char wal[64];
    snprintf(wal, sizeof wal, "%s-wal", file);
    unlink(file);
    unlink(wal);
}

int main(void) {
    rs = test_seed("FTS_SEED", 16);
    RUN(tokenizer_matches_unicode61);
    RUN(corpus_differential);
    RUN(corpus_after_changes);
    RUN(malformed_queries);
    RUN(check_finds_damage);
    return test_report();
}
