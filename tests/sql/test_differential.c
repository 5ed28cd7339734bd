/* tests/sql/test_differential.c — the SQL engine against SQLite, on random
 * schemas, data, statements and queries.
 *
 * Each round makes 3 tables with random column types, random indexes (single,
 * composite, DESC, UNIQUE, partial; covering ones get INCLUDE columns on our
 * side only, SQLite has no INCLUDE) and a view over each table, fills them
 * with small values chosen to collide (NULLs, equal ints and reals, numeric
 * text, empty text), then runs random queries (joins, LEFT JOIN with ON terms
 * on one side only, views standing in for tables, aggregates (FILTER too),
 * GROUP BY/HAVING,
 * DISTINCT, compound SELECTs, IN/EXISTS/scalar subqueries, correlated ones,
 * ORDER BY + LIMIT, window functions with frames, JSON functions, queries
 * read through a CTE, recursive CTEs joined to a table) and random UPDATE/DELETE/INSERT statements
 * on both engines, in process (libsqlite3), and compares:
 *   - results as sqlite3 prints them (order-insensitive without ORDER BY;
 *     ORDER BY lists end with every output column, so order is total);
 *   - errors: both fail or neither;
 *   - after every write, the whole tables, and our integrity check.
 *
 * The seed is fixed by default, so make test is repeatable: sqlite3 3.40 has
 * wrong answers of its own (a LEFT JOIN it drops, then ORDER BY ... LIMIT over
 * the remaining join picks the wrong rows), and a seed drawn from the clock
 * finds one now and then. Another: a DELETE whose WHERE holds a subquery on
 * the table it deletes from, behind a short-circuited OR/AND, sees the table
 * half deleted in sqlite3 3.40 (the subquery runs lazily during its one-pass
 * delete): DELETE FROM t WHERE c LIKE '%' OR NOT EXISTS (SELECT 1 FROM t
 * WHERE c = 'ab') over (1,'ab'),(2,NULL) deletes both rows there, only the
 * first here (the WHERE sees the table as it was); SQL_DIFF_SEED=48 meets it
 * and every later comparison of that table differs. SQL_DIFF_SEED=time
 * explores new seeds; a mismatch is then ours to explain, and
 * SQL_DIFF_VERBOSE=1 prints the schema and every statement to replay it in
 * both shells.
 *
 * Environment: SQL_DIFF_SEED (a number, or "time"; default 1207), SQL_DIFF_ROUNDS (default 30),
 * SQL_DIFF_QUERIES per round (default 1700; 80 under sanitizers),
 * SQL_DIFF_VERBOSE=1 prints every statement.
 */
#include "sql/sql.h"
#include "test.h"
#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static uint64_t rs, json_rs;
static unsigned rnd(unsigned n) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return n ? (unsigned)(rs % n) : 0;
}
static int chance(int pct) {
    return (int)rnd(100) < pct;
}

/* ---- text buffer ------------------------------------------------------------------------------
 */

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_addf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* ---- schema model
 * --------------------------------------------------------------------------------- */

enum { T_INT, T_TEXT, T_REAL, T_NUM, T_NONE };
static const char *type_names[] = {"INTEGER", "TEXT", "REAL", "NUMERIC", ""};

typedef struct tdef {
    char name[16];
    int ncol;
    char cols[6][16];
    int types[6];
    int pk_kind;       /* 0 integer pk "id", 1 composite (c0, c1), 2 rowid table */
    char preds[4][64]; /* predicates of its partial indexes (queries repeat them) */
    int npred;
} tdef;

static tdef tabs[3];

static void make_table(sb *ddl_ours, sb *ddl_sqlite, int ti) {
    tdef *t = &tabs[ti];
    snprintf(t->name, sizeof t->name, "t%d", ti + 1);
    t->pk_kind = (int)rnd(3);
    t->npred = 0;
    t->ncol = 4 + (int)rnd(2);
    for (int i = 0; i < t->ncol; i++) {
        snprintf(t->cols[i], sizeof t->cols[i], "%c%d", 'a' + i, ti + 1);
        t->types[i] = (int)rnd(5);
    }
    if (t->pk_kind == 0) {
        snprintf(t->cols[0], sizeof t->cols[0], "id%d", ti + 1);
        t->types[0] = T_INT;
    }
    sb d = {0};
    sb_addf(&d, "CREATE TABLE %s(", t->name);
    for (int i = 0; i < t->ncol; i++) {
        sb_addf(&d, "%s%s %s", i ? ", " : "", t->cols[i], type_names[t->types[i]]);
        if (t->pk_kind == 0 && i == 0) sb_addf(&d, " PRIMARY KEY");
    }
    if (t->pk_kind == 1) sb_addf(&d, ", PRIMARY KEY(%s, %s)", t->cols[0], t->cols[1]);
    sb_addf(&d, ")%s;\n", t->pk_kind == 1 ? " WITHOUT ROWID" : "");
    sb_addf(ddl_ours, "%s", d.p);
    sb_addf(ddl_sqlite, "%s", d.p);
    free(d.p);
}

static void make_indexes(sb *ours, sb *lite, int ti) {
    tdef *t = &tabs[ti];
    int n = (int)rnd(4);
    for (int k = 0; k < n; k++) {
        int c1 = 1 + (int)rnd((unsigned)t->ncol - 1), c2 = 1 + (int)rnd((unsigned)t->ncol - 1);
        int uniq = chance(15), two = chance(50) && c2 != c1, partial = chance(25),
            cover = chance(30);
        sb cols = {0};
        sb_addf(&cols, "%s%s", t->cols[c1], chance(30) ? " DESC" : "");
        if (two) sb_addf(&cols, ", %s%s", t->cols[c2], chance(30) ? " DESC" : "");
        char where[64] = "";
        int pc = 1 + (int)rnd((unsigned)t->ncol - 1); /* a column of the predicate */
        if (partial) snprintf(where, sizeof where, " WHERE %s IS NOT NULL", t->cols[c1]);
        if (partial && chance(50)) snprintf(where, sizeof where, " WHERE %s > 3", t->cols[c1]);
        if (partial && chance(40))
            snprintf(where, sizeof where, " WHERE %s = %d", t->cols[pc], (int)rnd(4));
        if (partial && chance(20)) snprintf(where, sizeof where, " WHERE %s IS NULL", t->cols[pc]);
        if (partial && t->npred < 4)
            snprintf(t->preds[t->npred++], sizeof t->preds[0], "%.56s", where + 7);
        int ci = 1 + (int)rnd((unsigned)t->ncol - 1);
        sb_addf(lite, "CREATE %sINDEX i%d_%d ON %s(%s)%s;\n", uniq ? "UNIQUE " : "", ti + 1, k,
                t->name, cols.p, where);
        if (cover && ci != c1 && ci != c2)
            sb_addf(ours, "CREATE %sINDEX i%d_%d ON %s(%s) INCLUDE (%s)%s;\n",
                    uniq ? "UNIQUE " : "", ti + 1, k, t->name, cols.p, t->cols[ci], where);
        else
            sb_addf(ours, "CREATE %sINDEX i%d_%d ON %s(%s)%s;\n", uniq ? "UNIQUE " : "", ti + 1, k,
                    t->name, cols.p, where);
        free(cols.p);
    }
}

/* ---- values and expressions
 * ---------------------------------------------------------------------- */

static const char *texts[] = {"'a'",  "'b'",   "'ab'", "'B'",  "''",    "'abc'",
                              "'a%'", "'x_y'", "'10'", "' 5'", "'2.5'", "'zz'"};

static void value(sb *b, int type) {
    int r = (int)rnd(100);
    if (r < 12) {
        sb_addf(b, "NULL");
        return;
    }
    if (type == T_TEXT || (type == T_NONE && r < 40) || r < 18) {
        sb_addf(b, "%s", texts[rnd(sizeof texts / sizeof texts[0])]);
        return;
    }
    if (type == T_REAL || r > 88) {
        static const char *reals[] = {"0.5", "1.5", "2.0", "-3.25", "10.0", "1e3", "0.1", "7.75"};
        sb_addf(b, "%s", reals[rnd(8)]);
        return;
    }
    sb_addf(b, "%d", (int)rnd(16) - 3);
}

static void column_ref(sb *b, int ti) {
    tdef *t = &tabs[ti];
    sb_addf(b, "%s.%s", t->name, t->cols[rnd((unsigned)t->ncol)]);
}

typedef struct qctx {
    int tabs[3];
    int ntab;
    int depth;
    int allow_agg;
    int outer_tab; /* for correlated subqueries, -1 */
    int no_like;   /* LEFT JOIN ON terms and views: sqlite3 3.40 drops rows for
                      "ipk LIKE 'a%'" on the right of a LEFT JOIN */
} qctx;

static void expr(sb *b, qctx *q, int bool_ctx);

static void any_col(sb *b, qctx *q) {
    if (q->outer_tab >= 0 && chance(15))
        column_ref(b, q->outer_tab);
    else
        column_ref(b, q->tabs[rnd((unsigned)q->ntab)]);
}

static void scalar(sb *b, qctx *q) {
    int r = (int)rnd(100);
    if (r < 55 || q->depth > 3) {
        any_col(b, q);
    } else if (r < 72) {
        value(b, (int)rnd(5));
    } else if (r < 84) {
        static const char *ops[] = {"+", "-", "*", "%", "||"};
        sb_addf(b, "(");
        q->depth++;
        scalar(b, q);
        sb_addf(b, " %s ", ops[rnd(5)]);
        scalar(b, q);
        q->depth--;
        sb_addf(b, ")");
    } else if (r < 92) {
        static const char *fns[] = {"abs",    "coalesce", "length", "upper",
                                    "typeof", "ifnull",   "nullif", "lower"};
        int f = (int)rnd(8);
        q->depth++;
        if (chance(15)) { /* JSON built from values, and read back; -> and ->> bind like ||,
                             so in parentheses (an error must not hang on evaluation order) */
            static const char *js[] = {"(json_array(%s, %s) ->> 1)",
                                       "(json_object('k', %s) -> 'k')",
                                       "json_type(json_array(%s, %s), '$[0]')",
                                       "json_extract(json_array(%s), '$[0]')", "json_quote(%s)"};
            sb x = {0}, y = {0};
            scalar(&x, q);
            scalar(&y, q);
            sb_addf(b, js[rnd(5)], x.p, y.p);
            free(x.p);
            free(y.p);
            q->depth--;
            return;
        }
        sb_addf(b, "%s(", fns[f]);
        scalar(b, q);
        if (f == 1 || f == 5 || f == 6) {
            sb_addf(b, ", ");
            scalar(b, q);
        }
        sb_addf(b, ")");
        q->depth--;
    } else {
        q->depth++;
        sb_addf(b, "CASE WHEN ");
        expr(b, q, 1);
        sb_addf(b, " THEN ");
        scalar(b, q);
        sb_addf(b, " ELSE ");
        scalar(b, q);
        sb_addf(b, " END");
        q->depth--;
    }
}

static void subquery_pred(sb *b, qctx *q) {
    int ti = (int)rnd(3);
    tdef *t = &tabs[ti];
    qctx sq = {.tabs = {ti},
               .ntab = 1,
               .depth = q->depth + 2,
               .outer_tab = q->tabs[rnd((unsigned)q->ntab)],
               .no_like = q->no_like};
    if (sq.outer_tab == ti) sq.outer_tab = -1;
    if (chance(50)) {
        any_col(b, q);
        sb_addf(b, " %sIN (SELECT %s.%s FROM %s WHERE ", chance(30) ? "NOT " : "", t->name,
                t->cols[rnd((unsigned)t->ncol)], t->name);
        expr(b, &sq, 1);
        sb_addf(b, ")");
    } else {
        sb_addf(b, "%sEXISTS (SELECT 1 FROM %s WHERE ", chance(30) ? "NOT " : "", t->name);
        expr(b, &sq, 1);
        sb_addf(b, ")");
    }
}

static void expr(sb *b, qctx *q, int bool_ctx) {
    int r = (int)rnd(100);
    if (!bool_ctx) {
        scalar(b, q);
        return;
    }
    if (q->depth < 3 && r < 20) {
        q->depth++;
        sb_addf(b, "(");
        expr(b, q, 1);
        sb_addf(b, chance(50) ? " AND " : " OR ");
        expr(b, q, 1);
        sb_addf(b, ")");
        q->depth--;
        return;
    }
    if (r < 25) {
        sb_addf(b, "NOT ");
        q->depth++;
        expr(b, q, 1);
        q->depth--;
        return;
    }
    if (r < 33) {
        any_col(b, q);
        sb_addf(b, chance(50) ? " IS NULL" : " IS NOT NULL");
        return;
    }
    if (r < 41) {
        any_col(b, q);
        sb_addf(b, " %sIN (", chance(25) ? "NOT " : "");
        int n = 1 + (int)rnd(4);
        for (int i = 0; i < n; i++) {
            if (i) sb_addf(b, ", ");
            value(b, (int)rnd(5));
        }
        sb_addf(b, ")");
        return;
    }
    if (r < 47) {
        any_col(b, q);
        sb_addf(b, " %sBETWEEN ", chance(20) ? "NOT " : "");
        value(b, T_INT);
        sb_addf(b, " AND ");
        value(b, T_INT);
        return;
    }
    if (r < 51 && !q->no_like) {
        any_col(b, q);
        static const char *pats[] = {"'a%'", "'%b'", "'_'", "'%'", "'A%'", "'1%'"};
        sb_addf(b, " %sLIKE %s", chance(20) ? "NOT " : "", pats[rnd(6)]);
        return;
    }
    if (r < 57 && q->depth < 2) {
        q->depth++;
        subquery_pred(b, q);
        q->depth--;
        return;
    }
    static const char *cmp[] = {"=", "<>", "<", "<=", ">", ">=", "=", "IS"};
    any_col(b, q);
    sb_addf(b, " %s ", cmp[rnd(8)]);
    if (chance(60))
        value(b, (int)rnd(5));
    else
        scalar(b, q);
}

/* ---- views: vN has tN's columns (SELECT * over a random filter), so "vN AS
 * tN" can stand wherever tN does ----------------------------------------------------------- */

static void make_view(sb *ours, sb *lite, int ti) {
    qctx q = {.tabs = {ti}, .ntab = 1, .depth = 1, .outer_tab = -1, .no_like = 1};
    sb d = {0};
    sb_addf(&d, "CREATE VIEW v%d AS SELECT %s* FROM %s", ti + 1, chance(20) ? "DISTINCT " : "",
            tabs[ti].name);
    if (chance(70)) {
        sb_addf(&d, " WHERE ");
        expr(&d, &q, 1);
    }
    sb_addf(ours, "%s;\n", d.p);
    sb_addf(lite, "%s;\n", d.p);
    free(d.p);
}

static void from_item(sb *b, int ti) {
    if (chance(20))
        sb_addf(b, "v%d AS %s", ti + 1, tabs[ti].name);
    else
        sb_addf(b, "%s", tabs[ti].name);
}

/* A window function call. Over one table its ORDER BY ends with the key, so
 * the order is total and any function and frame is deterministic; over a
 * join only functions that treat peers alike (rank, count, min, ...) with
 * the default frame are. */
static void window_call(sb *b, qctx *q) {
    int ti = q->tabs[0], total = q->ntab == 1 && tabs[ti].pk_kind != 2;
    tdef *t = &tabs[ti];
    /* min/max are order-sensitive too: 10 and 10.0 are equal, the first wins */
    static const char *peer_fns[] = {"rank()",    "dense_rank()",   "count(*)",
                                     "count(%s)", "percent_rank()", "cume_dist()"};
    static const char *any_fns[] = {"row_number()",     "sum(%s)",         "lag(%s)",
                                    "lead(%s, 2, 0)",   "first_value(%s)", "last_value(%s)",
                                    "nth_value(%s, 2)", "ntile(3)",        "avg(%s)",
                                    "total(%s)",        "min(%s)",         "max(%s)"};
    sb arg = {0};
    column_ref(&arg, ti);
    int ordered = chance(80), fn = -1;
    if (!ordered) total = 0; /* without ORDER BY every row is a peer */
    if (total && chance(60))
        sb_addf(b, any_fns[fn = (int)rnd(12)], arg.p);
    else
        sb_addf(b, peer_fns[rnd(6)], arg.p);
    /* sums of reals over a sliding frame: sqlite3 adds and subtracts as the
     * frame moves, we add each frame's rows; the last bits differ */
    int sums = fn == 1 || fn == 8 || fn == 9;
    free(arg.p);
    sb_addf(b, " OVER (");
    if (chance(50)) {
        sb_addf(b, "PARTITION BY ");
        column_ref(b, q->tabs[rnd((unsigned)q->ntab)]);
        sb_addf(b, " ");
    }
    if (ordered) {
        sb_addf(b, "ORDER BY ");
        column_ref(b, q->tabs[rnd((unsigned)q->ntab)]);
        sb_addf(b, "%s", chance(30) ? " DESC" : "");
        if (total) {
            sb_addf(b, ", %s.%s", t->name, t->cols[0]);
            if (t->pk_kind == 1) sb_addf(b, ", %s.%s", t->name, t->cols[1]);
            static const char *frames[] = {"",
                                           " ROWS UNBOUNDED PRECEDING",
                                           " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING",
                                           " ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
                                           " ROWS 2 PRECEDING",
                                           " ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
                                           " GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW",
                                           " ROWS BETWEEN 2 FOLLOWING AND 3 FOLLOWING"};
            int fr = (int)rnd(sums ? 3 : 8);
            sb_addf(b, "%s", frames[fr]);
            static const char *excl[] = {" EXCLUDE CURRENT ROW", " EXCLUDE GROUP", " EXCLUDE TIES",
                                         " EXCLUDE NO OTHERS"};
            if (fr && chance(25)) sb_addf(b, "%s", excl[rnd(4)]);
        } else if (fn < 0 && chance(30)) {
            /* frames made of whole peer groups keep peers alike, EXCLUDE too
             * (over one table: EXCLUDE costs frame x rows, in sqlite3 too;
             * the frame is drawn anyway, to keep the random stream) */
            static const char *frames[] = {
                " GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES",
                " GROUPS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP",
                " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW",
                " RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE TIES"};
            const char *f = frames[rnd(4)];
            if (q->ntab == 1) sb_addf(b, "%s", f);
        }
    }
    sb_addf(b, ")");
}

/* ---- queries
 * ---------------------------------------------------------------------------------------- */

static int gen_select(sb *b, int *ordered) {
    qctx q = {.outer_tab = -1};
    q.ntab = 1 + (int)rnd(3);
    if (q.ntab > 1 && chance(40)) q.ntab = 1;
    int perm[3] = {0, 1, 2};
    for (int i = 2; i > 0; i--) {
        int j = (int)rnd((unsigned)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < q.ntab; i++) q.tabs[i] = perm[i];
    int agg = chance(30), distinct = !agg && chance(12);
    int ncol = 1 + (int)rnd(3);
    sb cols = {0};
    sb group = {0};
    int ngroup = 0;
    if (agg) {
        ngroup = (int)rnd(3);
        for (int i = 0; i < ngroup; i++) {
            sb g = {0};
            any_col(&g, &q);
            sb_addf(&group, "%s%s", i ? ", " : "", g.p);
            sb_addf(&cols, "%s%s", i ? ", " : "", g.p);
            free(g.p);
        }
        static const char *aggs[] = {"count(*)", "count(%s)",          "sum(%s)", "min(%s)",
                                     "max(%s)",  "count(DISTINCT %s)", "avg(%s)", "total(%s)"};
        int na = 1 + (int)rnd(2);
        for (int i = 0; i < na; i++) {
            sb c = {0};
            int k = (int)rnd(8);
            if (k == 6 || k == 7 || k == 2)
                column_ref(&c, q.tabs[0]); /* numeric-ish */
            else
                any_col(&c, &q);
            sb a = {0};
            sb_addf(&a, aggs[k], c.p);
            if (chance(15)) {
                sb_addf(&a, " FILTER (WHERE ");
                expr(&a, &q, 1);
                sb_addf(&a, ")");
            }
            sb_addf(&cols, "%s%s", cols.n ? ", " : "", a.p);
            free(a.p);
            free(c.p);
        }
        ncol = ngroup + na;
    } else {
        for (int i = 0; i < ncol; i++) {
            sb c = {0};
            if (chance(8)) {
                window_call(&c, &q);
            } else if (chance(10) && q.depth == 0) {
                int ti = (int)rnd(3);
                tdef *t = &tabs[ti];
                sb_addf(&c, "(SELECT count(*) FROM %s WHERE %s.%s = ", t->name, t->name,
                        t->cols[1 + rnd((unsigned)t->ncol - 1)]);
                any_col(&c, &q);
                sb_addf(&c, ")");
            } else {
                scalar(&c, &q);
            }
            sb_addf(&cols, "%s%s", i ? ", " : "", c.p);
            free(c.p);
        }
    }
    sb_addf(b, "SELECT %s%s FROM ", distinct ? "DISTINCT " : "", cols.p);
    for (int i = 0; i < q.ntab; i++) {
        if (i == 0) {
            from_item(b, q.tabs[i]);
            continue;
        }
        int kind = (int)rnd(3);
        if (kind == 0) {
            sb_addf(b, ", ");
            from_item(b, q.tabs[i]);
        } else {
            sb_addf(b, " %s ", kind == 1 ? "JOIN" : "LEFT JOIN");
            from_item(b, q.tabs[i]);
            sb_addf(b, " ON ");
            /* ON terms naming only the tables to the left decide a LEFT
             * JOIN's match; they never filter the left side */
            qctx lq = {.tabs = {q.tabs[0], q.tabs[1]},
                       .ntab = i,
                       .depth = 2,
                       .outer_tab = -1,
                       .no_like = 1};
            int one_sided = (int)rnd(10);
            if (one_sided == 0) {
                expr(b, &lq, 1);
                continue;
            }
            column_ref(b, q.tabs[i]);
            sb_addf(b, " = ");
            column_ref(b, q.tabs[rnd((unsigned)i)]);
            if (one_sided < 3) {
                sb_addf(b, " AND ");
                expr(b, &lq, 1);
            }
        }
    }
    if (chance(80)) {
        sb_addf(b, " WHERE ");
        expr(b, &q, 1);
        /* repeat a partial index's predicate: the index may serve (and cover) */
        tdef *pt = &tabs[q.tabs[rnd((unsigned)q.ntab)]];
        if (pt->npred && chance(40)) sb_addf(b, " AND %s", pt->preds[rnd((unsigned)pt->npred)]);
    }
    if (agg && ngroup) {
        sb_addf(b, " GROUP BY %s", group.p);
        if (chance(30)) {
            sb_addf(b, " HAVING count(*) > %d", (int)rnd(3));
        }
    }
    *ordered = 0;
    if (chance(35)) {
        sb_addf(b, " ORDER BY ");
        for (int i = 1; i <= ncol; i++)
            sb_addf(b, "%s%d%s", i > 1 ? ", " : "", i, chance(30) ? " DESC" : "");
        *ordered = 1;
        if (chance(40)) sb_addf(b, " LIMIT %d", 1 + (int)rnd(5));
        if (chance(20)) sb_addf(b, " OFFSET %d", (int)rnd(3));
    }
    free(cols.p);
    free(group.p);
    return ncol;
}

/* WITH: a random query read through a CTE, or a recursive counter joined
 * to a table. */
static void gen_cte_query(sb *b, int *ordered) {
    if (chance(50)) {
        sb inner = {0};
        int o;
        gen_select(&inner, &o);
        sb_addf(b, "WITH w AS (%s) SELECT * FROM w%s", inner.p, chance(30) ? " AS x" : "");
        free(inner.p);
        *ordered = 0;
        return;
    }
    int ti = (int)rnd(3);
    qctx q = {.tabs = {ti}, .ntab = 1, .depth = 1, .outer_tab = -1};
    int uni = chance(40), start = (int)rnd(4) - 1, step = 1 + (int)rnd(3), end = 3 + (int)rnd(12);
    if (uni)
        sb_addf(b, "WITH RECURSIVE r(n) AS (SELECT %d UNION SELECT (n + %d) %% %d FROM r) ", start,
                step, end);
    else
        sb_addf(b,
                "WITH RECURSIVE r(n) AS (SELECT %d UNION ALL SELECT n + %d FROM r WHERE n < %d) ",
                start, step, end);
    sb_addf(b, "SELECT r.n, ");
    column_ref(b, ti);
    sb_addf(b, " FROM r %s %s ON ", chance(50) ? "JOIN" : "LEFT JOIN", tabs[ti].name);
    column_ref(b, ti);
    sb_addf(b, " = r.n");
    if (chance(50)) {
        sb_addf(b, " WHERE ");
        expr(b, &q, 1);
    }
    *ordered = 0;
}

/* json_each / json_tree over JSON built from a table's columns, joined to
 * it (the function reads the row), with a filter on its columns. */
static void gen_json_query(sb *b, int *ordered) {
    int ti = (int)rnd(3);
    tdef *t = &tabs[ti];
    qctx q = {.tabs = {ti}, .ntab = 1, .depth = 1, .outer_tab = -1};
    sb a = {0}, c = {0};
    column_ref(&a, ti);
    column_ref(&c, ti);
    int tree = chance(40);
    sb_addf(b, "SELECT %s.%s, j.key, j.value, j.type, j.atom, j.fullkey, j.path%s", t->name,
            t->cols[0], tree ? ", j.id, j.parent" : "");
    if (chance(40)) { /* the JSON editors, over the row's values */
        static const char *ed[] = {
            ", json_set(j.value, '$.x', %s)", ", json_insert(json_array(%s), '$[#]', j.value)",
            ", json_replace(json_array(j.value, %s), '$[0]', 1)",
            ", json_remove(json_array(%s, j.value), '$[0]')",
            ", json_patch(json_object('a', j.value), json_object('a', %s, 'b', j.key))"};
        sb x = {0};
        scalar(&x, &q);
        sb_addf(b, ed[rnd(5)], x.p);
        free(x.p);
    }
    sb_addf(b, " FROM %s, ", t->name);
    if (tree)
        sb_addf(b, "json_tree(json_object('a', %s, 'b', json_array(%s, %s.%s))%s) AS j", a.p, c.p,
                t->name, t->cols[0], chance(30) ? ", '$.b'" : "");
    else
        sb_addf(b, "json_each(json_array(%s, %s, %s.%s)%s) AS j", a.p, c.p, t->name, t->cols[0],
                chance(20) ? ", '$[1]'" : "");
    if (chance(60)) {
        sb_addf(b, " WHERE ");
        if (chance(50))
            sb_addf(b, "j.type IN ('integer', 'real') AND j.value > %d", (int)rnd(20) - 5);
        else
            expr(b, &q, 1);
    }
    free(a.p);
    free(c.p);
    *ordered = 0;
}

static void gen_query(sb *b, int *ordered) {
    if (chance(8)) {
        gen_cte_query(b, ordered);
        return;
    }
    int ncol = gen_select(b, ordered);
    if (!*ordered && chance(10)) {
        static const char *ops[] = {"UNION", "UNION ALL", "INTERSECT", "EXCEPT"};
        sb other = {0};
        int o2;
        int n2;
        do {
            other.n = 0;
            if (other.p) other.p[0] = 0;
            n2 = gen_select(&other, &o2);
        } while (n2 != ncol || o2);
        sb_addf(b, " %s %s", ops[rnd(4)], other.p);
        free(other.p);
    }
}

/* ---- running both
 * ---------------------------------------------------------------------------------- */

typedef struct rows {
    char **v;
    int n, cap;
    int err;
    char errmsg[256];
} rows;

static void rows_add(rows *r, const char *s) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = realloc(r->v, sizeof *r->v * (size_t)r->cap);
    }
    r->v[r->n++] = strdup(s);
}

static void rows_free(rows *r) {
    for (int i = 0; i < r->n; i++) free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void run_lite(sqlite3 *db, const char *sql, rows *out) {
    sqlite3_stmt *st;
    const char *tail = sql;
    while (*tail) {
        if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
            out->err = 1;
            snprintf(out->errmsg, sizeof out->errmsg, "%s", sqlite3_errmsg(db));
            return;
        }
        if (!st) break;
        int rc;
        sb line = {0};
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            line.n = 0;
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *t = (const char *)sqlite3_column_text(st, c);
                sb_addf(&line, "%s%s", c ? "|" : "", t ? t : "NULL");
            }
            rows_add(out, line.p ? line.p : "");
        }
        free(line.p);
        if (rc != SQLITE_DONE) {
            out->err = 1;
            snprintf(out->errmsg, sizeof out->errmsg, "%s", sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
        if (out->err) return;
    }
}

static void run_ours(sql_db *db, const char *sql, rows *out) {
    sql_stmt *st;
    const char *tail = sql;
    while (*tail) {
        if (sql_prepare(db, tail, -1, &st, &tail) != SQL_OK) {
            out->err = 1;
            snprintf(out->errmsg, sizeof out->errmsg, "%s", sql_errmsg(db));
            return;
        }
        if (!st) break;
        int rc;
        sb line = {0};
        while ((rc = sql_step(st)) == SQL_ROW) {
            line.n = 0;
            for (int c = 0; c < sql_column_count(st); c++) {
                const char *t = sql_column_text(st, c);
                sb_addf(&line, "%s%s", c ? "|" : "", t ? t : "NULL");
            }
            rows_add(out, line.p ? line.p : "");
        }
        free(line.p);
        if (rc != SQL_DONE) {
            out->err = 1;
            snprintf(out->errmsg, sizeof out->errmsg, "%s", sql_errmsg(db));
        }
        sql_finalize(st);
        if (out->err) return;
    }
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "2.0" -> "2" in every field (for grouped results). */
static void normalize_rows(rows *r) {
    for (int i = 0; i < r->n; i++) {
        char *s = r->v[i], *w = s;
        for (char *p = s; *p;) {
            size_t len = strcspn(p, "|");
            if (len >= 3 && p[len - 1] == '0' && p[len - 2] == '.' &&
                isdigit((unsigned char)p[len - 3]))
                len -= 2;
            memmove(w, p, len);
            w += len;
            p += strcspn(p, "|");
            if (*p == '|') *w++ = *p++;
        }
        *w = 0;
    }
}

/* In a group that holds both 2 and 2.0, which of the two a GROUP BY column
 * (or DISTINCT, UNION, ...) shows depends on the scan order (SQLite: "an
 * arbitrary row"), so such results compare 2.0 equal to 2. */
static int lenient_groups;

static int needs_lenience(const char *q) {
    /* LIMIT: which of two tied rows (2 and 2.0) makes the cut is arbitrary.
     * min()/max(): of two equal values (0 and 0.0) both engines keep the
     * first the scan meets (strict comparison), and the scan order is the
     * plan's: SQLite may read a covering index (d1 DESC, c1) where we read
     * the table, so min(c1) is 0 there and 0.0 here, both right (seed 2). */
    return strstr(q, "GROUP BY") || strstr(q, "DISTINCT") || strstr(q, "UNION") ||
           strstr(q, "INTERSECT") || strstr(q, "EXCEPT") || strstr(q, "LIMIT") ||
           strstr(q, "min(") || strstr(q, "max(");
}

/* Reals may differ in the 15th digit between printf implementations. */
static int close_enough(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return 1;
    char *pa = strdup(a), *pb = strdup(b), *sa, *sbp;
    int ok = 1;
    char *x = strtok_r(pa, "|", &sa), *y = strtok_r(pb, "|", &sbp);
    while (x && y && ok) {
        if (strcmp(x, y) != 0) {
            char *e1, *e2;
            double d1 = strtod(x, &e1), d2 = strtod(y, &e2);
            ok = !*e1 && !*e2 && fabs(d1 - d2) <= 1e-12 * fmax(1, fmax(fabs(d1), fabs(d2)));
            if (ok && !lenient_groups && (strchr(x, '.') != NULL) != (strchr(y, '.') != NULL))
                ok = 0;
        }
        x = strtok_r(NULL, "|", &sa);
        y = strtok_r(NULL, "|", &sbp);
    }
    if (x || y) ok = 0;
    free(pa);
    free(pb);
    return ok;
}

static int nfail, nqueries, nwrites, nboth_err, nrows;

static int compare_report(const char *sql, rows *a, rows *b, int ordered);

static int compare(const char *sql, rows *a, rows *b, int ordered) {
    nrows += a->n;
    if (a->err || b->err) {
        if (a->err && b->err) {
            nboth_err++;
            if (getenv("SQL_DIFF_VERBOSE"))
                fprintf(stderr, "  both failed: %s | %s\n", a->errmsg, b->errmsg);
            return 1;
        }
        fprintf(stderr, "MISMATCH (error) %s\n  sqlite: %s\n  ours:   %s\n", sql,
                a->err ? a->errmsg : "ok", b->err ? b->errmsg : "ok");
        return 0;
    }
    if (ordered && !lenient_groups) {
        /* ties between 2 and 2.0 may come in either order: check the order on
         * normalized rows, the values as multisets */
        rows na = {0}, nb = {0};
        for (int i = 0; i < a->n; i++) rows_add(&na, a->v[i]);
        for (int i = 0; i < b->n; i++) rows_add(&nb, b->v[i]);
        normalize_rows(&na);
        normalize_rows(&nb);
        int ok = na.n == nb.n;
        /* normalizing made 46508.0 "46508": next to 46507.9999999993 (a sum in
         * another order) that is no INTEGER/REAL difference */
        lenient_groups = 1;
        for (int i = 0; ok && i < na.n; i++) ok = close_enough(na.v[i], nb.v[i]);
        lenient_groups = 0;
        rows_free(&na);
        rows_free(&nb);
        if (!ok) return compare_report(sql, a, b, 1);
        ordered = 0;
    }
    if (lenient_groups) {
        normalize_rows(a);
        normalize_rows(b);
    }
    if (!ordered) {
        if (a->n) qsort(a->v, (size_t)a->n, sizeof *a->v, cmpstr);
        if (b->n) qsort(b->v, (size_t)b->n, sizeof *b->v, cmpstr);
    }
    int ok = a->n == b->n;
    for (int i = 0; ok && i < a->n; i++) ok = close_enough(a->v[i], b->v[i]);
    if (!ok) return compare_report(sql, a, b, ordered);
    return ok;
}

static int compare_report(const char *sql, rows *a, rows *b, int ordered) {
    int ok = 0;
    if (!ok) {
        fprintf(stderr, "MISMATCH %s\n  (%d rows from sqlite, %d from us; differing lines:)\n", sql,
                a->n, b->n);
        if (a->n == 1 && b->n == 1)
            fprintf(stderr, "  sqlite: %s\n  ours:   %s\n", a->v[0], b->v[0]);
        int i = 0, j = 0, shown = 0;
        while ((i < a->n || j < b->n) && shown < 20) {
            int c = i >= a->n   ? 1
                    : j >= b->n ? -1
                    : ordered   ? (close_enough(a->v[i], b->v[j]) ? 0 : 2)
                                : strcmp(a->v[i], b->v[j]);
            if (c == 0 || (!ordered && i < a->n && j < b->n && close_enough(a->v[i], b->v[j]))) {
                i++, j++;
                continue;
            }
            shown++;
            if (c == 2)
                fprintf(stderr, "  sqlite: %s\n  ours:   %s\n", a->v[i++], b->v[j++]);
            else if (c < 0)
                fprintf(stderr, "  sqlite only: %s\n", a->v[i++]);
            else
                fprintf(stderr, "  ours only:   %s\n", b->v[j++]);
        }
    }
    return ok;
}

static int check_sql(sqlite3 *lite, sql_db *ours, const char *sql, int ordered) {
    rows a = {0}, b = {0};
    if (getenv("SQL_DIFF_VERBOSE")) fprintf(stderr, "%s\n", sql);
    run_lite(lite, sql, &a);
    run_ours(ours, sql, &b);
    int ok = compare(sql, &a, &b, ordered);
    rows_free(&a);
    rows_free(&b);
    return ok;
}

static int compare_tables(sqlite3 *lite, sql_db *ours) {
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        char q[600];
        snprintf(q, sizeof q, "SELECT * FROM %.15s", tabs[i].name);
        ok &= check_sql(lite, ours, q, 0);
    }
    rows r = {0};
    run_ours(ours, "PRAGMA integrity_check", &r);
    if (r.n != 1 || strcmp(r.v[0], "ok") != 0) {
        fprintf(stderr, "integrity_check: %s\n", r.n ? r.v[0] : r.errmsg);
        ok = 0;
    }
    rows_free(&r);
    return ok;
}

static void gen_write(sb *b) {
    int ti = (int)rnd(3);
    tdef *t = &tabs[ti];
    qctx q = {.tabs = {ti}, .ntab = 1, .outer_tab = -1};
    int k = (int)rnd(10);
    if (k < 4) {
        sb_addf(b, "UPDATE %s SET %s = ", t->name, t->cols[1 + rnd((unsigned)t->ncol - 1)]);
        scalar(b, &q);
        sb_addf(b, " WHERE ");
        expr(b, &q, 1);
    } else if (k < 6) {
        sb_addf(b, "DELETE FROM %s WHERE ", t->name);
        expr(b, &q, 1);
    } else {
        sb_addf(b, "INSERT INTO %s VALUES(", t->name);
        for (int i = 0; i < t->ncol; i++) {
            if (i) sb_addf(b, ", ");
            if (i == 0 && t->pk_kind == 0)
                sb_addf(b, chance(50) ? "NULL" : "%d", 1 + (int)rnd(80));
            else
                value(b, t->types[i]);
        }
        sb_addf(b, ")");
    }
}

static void fill(sqlite3 *lite, sql_db *ours, int ti) {
    tdef *t = &tabs[ti];
    int n = 15 + (int)rnd(30);
    for (int r = 0; r < n; r++) {
        sb b = {0};
        sb_addf(&b, "INSERT INTO %s VALUES(", t->name);
        for (int i = 0; i < t->ncol; i++) {
            if (i) sb_addf(&b, ", ");
            if (i == 0 && t->pk_kind == 0)
                sb_addf(&b, "%d", r + 1);
            else if (i < 2 && t->pk_kind == 1)
                sb_addf(&b, i == 0 ? "%d" : "'k%d'", i == 0 ? r % 7 : r);
            else
                value(&b, t->types[i]);
        }
        sb_addf(&b, ")");
        check_sql(lite, ours, b.p, 0);
        free(b.p);
    }
}

static void round_once(int queries) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/larder-diff-%d.db", (int)getpid());
    unlink(path);
    char wal[80];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    sql_db *ours;
    sql_options o = {.flags = SQL_OPEN_CREATE | SQL_OPEN_NOSYNC};
    if (sql_open(path, &o, &ours) != SQL_OK) {
        fprintf(stderr, "open: %s\n", sql_errmsg(ours));
        nfail++;
        return;
    }
    sqlite3 *lite;
    sqlite3_open(":memory:", &lite);
    sb d1 = {0}, d2 = {0};
    for (int i = 0; i < 3; i++) make_table(&d1, &d2, i);
    for (int i = 0; i < 3; i++) make_indexes(&d1, &d2, i);
    for (int i = 0; i < 3; i++) make_view(&d1, &d2, i);
    rows a = {0}, b = {0};
    if (getenv("SQL_DIFF_VERBOSE"))
        fprintf(stderr, "-- schema (ours)\n%s-- schema (sqlite)\n%s", d1.p, d2.p);
    run_lite(lite, d2.p, &a);
    run_ours(ours, d1.p, &b);
    if (a.err || b.err) {
        fprintf(stderr, "schema failed: sqlite=%s ours=%s\n%s\n", a.errmsg, b.errmsg, d1.p);
        nfail++;
    }
    rows_free(&a);
    rows_free(&b);
    for (int i = 0; i < 3; i++) fill(lite, ours, i);
    if (!compare_tables(lite, ours)) nfail++;
    for (int i = 0; i < queries; i++) {
        sb q = {0};
        int ordered = 0;
        if (chance(12)) {
            gen_write(&q);
            nwrites++;
            if (!check_sql(lite, ours, q.p, 0) || !compare_tables(lite, ours)) nfail++;
        } else {
            gen_query(&q, &ordered);
            nqueries++;
            lenient_groups = needs_lenience(q.p);
            if (!check_sql(lite, ours, q.p, ordered)) nfail++;
            lenient_groups = 0;
        }
        free(q.p);
    }
    /* json_each / json_tree queries draw from their own random stream, so
     * that the main stream (and the queries it makes) stays as it was:
     * sqlite3 3.40 gives wrong answers to some of those other streams make */
    uint64_t main_rs = rs;
    rs = json_rs;
    for (int i = 0; i < queries / 25; i++) {
        sb q = {0};
        int ordered = 0;
        gen_json_query(&q, &ordered);
        nqueries++;
        if (!check_sql(lite, ours, q.p, ordered)) nfail++;
        free(q.p);
    }
    /* the same kind of queries and writes over temporary copies that shadow
     * the tables (no indexes: other plans; views still read the main ones) */
    for (int i = 0; i < 3; i++) {
        char q[2600];
        snprintf(q, sizeof q, "CREATE TEMP TABLE %s AS SELECT * FROM %s", tabs[i].name,
                 tabs[i].name);
        if (!check_sql(lite, ours, q, 0)) nfail++;
    }
    for (int i = 0; i < queries / 25; i++) {
        sb q = {0};
        int ordered = 0;
        if (chance(15)) {
            gen_write(&q);
            nwrites++;
            if (!check_sql(lite, ours, q.p, 0) || !compare_tables(lite, ours)) nfail++;
        } else {
            gen_query(&q, &ordered);
            nqueries++;
            lenient_groups = needs_lenience(q.p);
            if (!check_sql(lite, ours, q.p, ordered)) nfail++;
            lenient_groups = 0;
        }
        free(q.p);
    }
    for (int i = 0; i < 3; i++) {
        char q[1300];
        snprintf(q, sizeof q, "DROP TABLE temp.%s", tabs[i].name);
        if (!check_sql(lite, ours, q, 0)) nfail++;
    }
    json_rs = rs;
    rs = main_rs;
    if (chance(50)) { /* statistics change plans, never results */
        check_sql(lite, ours, "ANALYZE", 0);
        for (int i = 0; i < queries / 4; i++) {
            sb q = {0};
            int ordered;
            gen_query(&q, &ordered);
            nqueries++;
            lenient_groups = needs_lenience(q.p);
            if (!check_sql(lite, ours, q.p, ordered)) nfail++;
            lenient_groups = 0;
            free(q.p);
        }
    }
    free(d1.p);
    free(d2.p);
    sqlite3_close(lite);
    sql_close(ours);
    unlink(path);
    unlink(wal);
}

/* ---- the shells: build/larder-sql against /usr/bin/sqlite3, as text -----------------------------
 */

/* Run a shell on a script file; its stdout. */
static char *run_shell(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    sb out = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out.n + n + 1 > out.cap) {
            out.cap = (out.n + n + 1) * 2;
            out.p = realloc(out.p, out.cap);
        }
        memcpy(out.p + out.n, buf, n);
        out.n += n;
        out.p[out.n] = 0;
    }
    pclose(p);
    if (!out.p) out.p = calloc(1, 1);
    return out.p;
}

/* Split shell output at "#Q<n>" marker lines into per-query row lists. */
static int split_sections(char *text, rows *sec, int nsec) {
    int cur = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' && line[1] == 'Q') {
            cur = atoi(line + 2);
            if (cur < 0 || cur >= nsec) cur = -1;
            continue;
        }
        if (cur >= 0) rows_add(&sec[cur], line);
    }
    return 0;
}

static int ncli;

static void cli_round(int queries) {
    const char *b = getenv("LARDER_BUILD") ? getenv("LARDER_BUILD") : "build";
    char shell[512], dbp[96], f1[96], f2[96], cmd[1400];
    snprintf(shell, sizeof shell, "%s/larder-sql", b);
    if (access(shell, X_OK) != 0 || access("/usr/bin/sqlite3", X_OK) != 0) {
        printf("cli diff skipped: %s or /usr/bin/sqlite3 missing\n", shell);
        return;
    }
    snprintf(dbp, sizeof dbp, "/tmp/larder-clidiff-%d.db", (int)getpid());
    static int round_no;
    round_no++;
    snprintf(f1, sizeof f1, "/tmp/larder-clidiff-%d-%d-ours.sql", (int)getpid(), round_no);
    snprintf(f2, sizeof f2, "/tmp/larder-clidiff-%d-%d-lite.sql", (int)getpid(), round_no);
    sb d1 = {0}, d2 = {0}, body = {0};
    for (int i = 0; i < 3; i++) make_table(&d1, &d2, i);
    for (int i = 0; i < 3; i++) make_indexes(&d1, &d2, i);
    for (int i = 0; i < 3; i++) make_view(&d1, &d2, i);
    for (int ti = 0; ti < 3; ti++) {
        tdef *t = &tabs[ti];
        int n = 15 + (int)rnd(25);
        for (int r = 0; r < n; r++) {
            sb_addf(&body, "INSERT INTO %s VALUES(", t->name);
            for (int i = 0; i < t->ncol; i++) {
                if (i) sb_addf(&body, ", ");
                if (i == 0 && t->pk_kind == 0)
                    sb_addf(&body, "%d", r + 1);
                else if (i < 2 && t->pk_kind == 1)
                    sb_addf(&body, i == 0 ? "%d" : "'k%d'", i == 0 ? r % 7 : r);
                else
                    value(&body, t->types[i]);
            }
            sb_addf(&body, ");\n");
        }
    }
    int *ordered = calloc((size_t)queries, sizeof *ordered), fails_before = nfail;
    for (int q = 0; q < queries; q++) {
        sb_addf(&body, "SELECT '#Q%d';\n", q);
        gen_query(&body, &ordered[q]);
        sb_addf(&body, ";\n");
    }
    FILE *f = fopen(f1, "w");
    fprintf(f, "%s%s", d1.p, body.p);
    fclose(f);
    f = fopen(f2, "w");
    fprintf(f, "%s%s", d2.p, body.p);
    fclose(f);
    unlink(dbp);
    snprintf(cmd, sizeof cmd, "%s %s < %s 2>/dev/null", shell, dbp, f1);
    char *o1 = run_shell(cmd);
    snprintf(cmd, sizeof cmd, "/usr/bin/sqlite3 :memory: < %s 2>/dev/null", f2);
    char *o2 = run_shell(cmd);
    rows *s1 = calloc((size_t)queries, sizeof *s1), *s2 = calloc((size_t)queries, sizeof *s2);
    split_sections(o1, s1, queries);
    split_sections(o2, s2, queries);
    for (int q = 0; q < queries; q++) {
        char name[200];
        snprintf(name, sizeof name, "shell query #%d (see %s)", q, f2);
        ncli++;
        lenient_groups = 1; /* text of 2 vs 2.0 in ties: see needs_lenience */
        if (!compare(name, &s2[q], &s1[q], 0)) nfail++;
        lenient_groups = 0;
        rows_free(&s1[q]);
        rows_free(&s2[q]);
    }
    free(s1);
    free(s2);
    free(o1);
    free(o2);
    free(ordered);
    free(d1.p);
    free(d2.p);
    free(body.p);
    unlink(dbp);
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", dbp);
    unlink(wal);
    if (nfail == fails_before) {
        unlink(f1);
        unlink(f2);
    }
}

TEST(cli_diff) {
    int rounds = SANITIZED ? 1 : 3;
    for (int r = 0; r < rounds && nfail < 20; r++) cli_round(SANITIZED ? 60 : 250);
    printf("cli diff: %d queries through larder-sql and sqlite3, %d mismatches\n", ncli, nfail);
    CHECK_EQ(nfail, 0);
}

TEST(differential) {
    uint64_t seed = test_seed("SQL_DIFF_SEED", 1207);
    printf("differential seed %llu (SQL_DIFF_SEED to repeat)\n", (unsigned long long)seed);
    rs = seed * 2654435761u + 1;
    json_rs = seed * 0x9E3779B97F4A7C15ull + 7;
    int rounds = getenv("SQL_DIFF_ROUNDS") ? atoi(getenv("SQL_DIFF_ROUNDS")) : 30;
    int queries =
        getenv("SQL_DIFF_QUERIES") ? atoi(getenv("SQL_DIFF_QUERIES")) : (SANITIZED ? 80 : 1700);
    for (int r = 0; r < rounds && nfail < 20; r++) round_once(queries);
    printf(
        "differential: %d queries, %d writes, %d rows compared, %d failed on both, %d mismatches\n",
        nqueries, nwrites, nrows, nboth_err, nfail);
    CHECK_EQ(nfail, 0);
}

int main(void) {
    RUN(differential);
    RUN(cli_diff);
    return test_report();
}
