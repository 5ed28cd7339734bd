/* tests/sql/test_sqllogic.c — runs the SQL engine's own test scripts,
 * the tests/sql/NAME.test files, each on a fresh database. Record kinds (sqllogictest in
 * spirit, simplified):
 *
 *   statement ok                 the SQL (up to a blank line) must succeed
 *   statement error [TEXT]       it must fail (with TEXT in the message)
 *   query [rowsort|nosort]       its rows, one per line, values joined by '|',
 *   SQL                          NULL shown as NULL, must equal the lines
 *   ----                         after "----" (rowsort: compared sorted;
 *   expected rows                nosort, the default: in order)
 *   plan                         EXPLAIN QUERY PLAN of the SQL: the detail
 *   SQL                          column of its rows must equal the lines
 *   ----                         after "----"
 *   analyze                      EXPLAIN ANALYZE of the SQL (which runs it):
 *   SQL                          detail|rows|loops of its rows (times left
 *   ----                         out) must equal the lines after "----"
 *   reopen                       close and reopen the database (durability)
 *   # ...                        comment
 *
 * Each file counts as one test; every failing record is reported with its
 * file and line. Environment: SQL_TEST_DIR (default tests/sql).
 */
#include "sql/sql.h"
#include "test.h"
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct lines {
    char **v;
    int n, cap;
} lines;

static void add_line(lines *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, sizeof *l->v * (size_t)l->cap);
    }
    l->v[l->n++] = strdup(s);
}

static void free_lines(lines *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int read_file(const char *path, lines *out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        add_line(out, line);
    }
    free(line);
    fclose(f);
    return 0;
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run sql; rows as text lines; returns the sql_step/prepare code.
 * detail_only: 1 the columns from "detail" on (EXPLAIN), 2 detail, rows
 * and loops (EXPLAIN ANALYZE, without its times). */
static int run(sql_db *db, const char *sql, lines *rows, int detail_only) {
    const char *tail = sql;
    int rc = SQL_OK;
    while (*tail) {
        sql_stmt *st;
        rc = sql_prepare(db, tail, -1, &st, &tail);
        if (rc != SQL_OK) return rc;
        if (!st) break;
        char buf[4096];
        while ((rc = sql_step(st)) == SQL_ROW) {
            size_t o = 0;
            buf[0] = 0;
            int end = detail_only == 2 ? 6 : sql_column_count(st);
            for (int c = detail_only ? 3 : 0; c < end && c < sql_column_count(st); c++) {
                const char *t = sql_column_text(st, c);
                o += (size_t)snprintf(buf + o, sizeof buf - o > 0 ? sizeof buf - o : 0, "%s%s",
                                      c > (detail_only ? 3 : 0) ? "|" : "", t ? t : "NULL");
                if (o >= sizeof buf) o = sizeof buf - 1;
            }
            add_line(rows, buf);
        }
        sql_finalize(st);
        if (rc != SQL_DONE) return rc;
        rc = SQL_OK;
    }
    return rc;
}

typedef struct runner {
    const char *file;
    sql_db *db;
    char path[256];
    int failures;
} runner;

static void fail_at(runner *r, int line, const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "%s:%d: ", r->file, line);
    fprintf(stderr, fmt, a ? a : "", b ? b : "");
    fputc('\n', stderr);
    r->failures++;
}

static void open_db(runner *r) {
    sql_options o = {.flags = SQL_OPEN_CREATE | SQL_OPEN_NOSYNC};
    if (sql_open(r->path, &o, &r->db) != SQL_OK) {
        fprintf(stderr, "%s: cannot open %s: %s\n", r->file, r->path, sql_errmsg(r->db));
        r->failures++;
    }
}

/* Collect SQL lines from i until a blank line or "----". */
static char *collect_sql(lines *l, int *i) {
    size_t n = 0;
    char *s = calloc(1, 1);
    while (*i < l->n && l->v[*i][0] && strcmp(l->v[*i], "----") != 0) {
        size_t k = strlen(l->v[*i]);
        s = realloc(s, n + k + 2);
        memcpy(s + n, l->v[*i], k);
        n += k;
        s[n++] = '\n';
        s[n] = 0;
        (*i)++;
    }
    return s;
}

static void do_statement(runner *r, lines *l, int *i, const char *head, int at) {
    char *sql = collect_sql(l, i);
    lines rows = {0};
    int rc = run(r->db, sql, &rows, 0);
    if (strncmp(head, "statement ok", 12) == 0) {
        if (rc != SQL_OK) fail_at(r, at, "statement failed: %s\n  %s", sql_errmsg(r->db), sql);
    } else {
        const char *want = head + strlen("statement error");
        while (*want == ' ') want++;
        if (rc == SQL_OK)
            fail_at(r, at, "statement should have failed: %s%s", sql, NULL);
        else if (*want && !strstr(sql_errmsg(r->db), want))
            fail_at(r, at, "wrong error: %s (wanted: %s)", sql_errmsg(r->db), want);
    }
    free_lines(&rows);
    free(sql);
}

static void do_query(runner *r, lines *l, int *i, const char *head, int at, int plan) {
    char *sql = collect_sql(l, i);
    int rowsort = strstr(head, "rowsort") != NULL;
    lines want = {0}, got = {0};
    if (*i < l->n && strcmp(l->v[*i], "----") == 0) {
        (*i)++;
        while (*i < l->n && l->v[*i][0]) add_line(&want, l->v[(*i)++]);
    }
    char *q = sql;
    char *eqp = NULL;
    if (plan) {
        eqp = malloc(strlen(sql) + 32);
        sprintf(eqp, plan == 2 ? "EXPLAIN ANALYZE %s" : "EXPLAIN QUERY PLAN %s", sql);
        q = eqp;
    }
    int rc = run(r->db, q, &got, plan);
    if (rc != SQL_OK) {
        fail_at(r, at, "query failed: %s\n  %s", sql_errmsg(r->db), sql);
    } else {
        if (rowsort && want.n) qsort(want.v, (size_t)want.n, sizeof *want.v, cmpstr);
        if (rowsort && got.n) qsort(got.v, (size_t)got.n, sizeof *got.v, cmpstr);
        int ok = want.n == got.n;
        for (int k = 0; ok && k < want.n; k++) ok = strcmp(want.v[k], got.v[k]) == 0;
        if (!ok) {
            fail_at(r, at, "wrong result for: %s%s", sql, NULL);
            for (int k = 0; k < want.n || k < got.n; k++)
                fprintf(stderr, "    want %-40s got %s\n", k < want.n ? want.v[k] : "-",
                        k < got.n ? got.v[k] : "-");
        }
    }
    free(eqp);
    free_lines(&want);
    free_lines(&got);
    free(sql);
}

static int run_file(const char *path) {
    lines l = {0};
    runner r = {.file = path};
    if (read_file(path, &l) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    snprintf(r.path, sizeof r.path, "/tmp/larder-sqltest-%d.db", (int)getpid());
    unlink(r.path);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", r.path);
    unlink(wal);
    open_db(&r);
    for (int i = 0; i < l.n && r.db;) {
        const char *h = l.v[i];
        int at = i + 1;
        if (!h[0] || h[0] == '#') {
            i++;
            continue;
        }
        i++;
        if (strncmp(h, "statement", 9) == 0) {
            do_statement(&r, &l, &i, h, at);
        } else if (strncmp(h, "query", 5) == 0) {
            do_query(&r, &l, &i, h, at, 0);
        } else if (strncmp(h, "plan", 4) == 0) {
            do_query(&r, &l, &i, h, at, 1);
        } else if (strncmp(h, "analyze", 7) == 0) {
            do_query(&r, &l, &i, h, at, 2);
        } else if (strcmp(h, "reopen") == 0) {
            if (sql_close(r.db) != SQL_OK)
                fail_at(&r, at, "close failed: %s%s", sql_errmsg(r.db), NULL);
            open_db(&r);
        } else {
            fail_at(&r, at, "unknown record: %s%s", h, NULL);
        }
    }
    if (r.db && sql_close(r.db) != SQL_OK)
        fail_at(&r, l.n, "close failed (statements left?)%s%s", NULL, NULL);
    unlink(r.path);
    unlink(wal);
    free_lines(&l);
    return r.failures;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_test(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".test") == 0;
}

int main(int argc, char **argv) {
    (void)test_cur_failed_;
    const char *dir = getenv("SQL_TEST_DIR") ? getenv("SQL_TEST_DIR") : "tests/sql";
    struct dirent **ents;
    int n = argc > 1 ? 0 : scandir(dir, &ents, is_test, by_name);
    if (argc > 1) {
        for (int a = 1; a < argc; a++) {
            test_cur_name_ = argv[a];
            if (run_file(argv[a]))
                test_failed_++, fprintf(stderr, "FAIL %s\n", argv[a]);
            else
                test_passed_++;
        }
        return test_report();
    }
    if (n <= 0) {
        fprintf(stderr, "no .test files in %s\n", dir);
        test_failed_++;
        return test_report();
    }
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
        test_cur_name_ = ents[i]->d_name;
        if (run_file(path)) {
            test_failed_++;
            fprintf(stderr, "FAIL %s\n", ents[i]->d_name);
        } else {
            test_passed_++;
        }
        free(ents[i]);
    }
    free(ents);
    return test_report();
}
