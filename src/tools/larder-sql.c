/* tools/larder-sql.c — the command-line shell for Larder store files, in
 * sqlite3's habits.
 *
 *   larder-sql [-batch] [-bail] [-csv|-json|-box|-column|-list] [-header]
 *              [-cmd COMMAND] FILE [SQL ...]
 *
 * With SQL arguments it runs them and exits; otherwise it reads statements
 * from stdin (a prompt with line editing and history on a terminal, plain
 * reading otherwise). Values print exactly as sqlite3 prints them, so the
 * output of a script can be compared with sqlite3's by diff. Errors go to
 * stderr as "Parse error near line N: ..." / "Runtime error near line N:
 * ..."; the exit status is 1 when any statement failed.
 *
 * Dot commands: .backup FILE, .bail on|off, .dump [TABLE], .echo on|off,
 * .headers on|off, .help, .import FILE TABLE, .indexes [TABLE],
 * .mode list|csv|column|box|json|tabs|line, .nullvalue TEXT, .quit, .read FILE,
 * .schema [TABLE], .separator SEP, .tables [PATTERN] (temporary tables as
 * temp.NAME, as sqlite3 lists them), .timer on|off.
 *
 * The shell uses only sql.h. The line editor is ours (no readline):
 * arrows, Home/End, ^A ^E ^K ^U ^W ^L ^D ^C, history in ~/.larder_sql_history.
 *
 * Invariants:
 *   1. Values are printed from sql_column_text, which formats them the way
 *      sqlite3 does; the shell never formats a number itself (except .dump,
 *      which writes reals with 17 digits so that they load back exactly).
 *   2. A statement runs only once sql_complete says its text is complete; a
 *      dot command is recognized only at the start of a statement.
 *   3. The terminal is in raw mode only inside edit_line, and restored on
 *      every way out of it.
 */
#include "sql/sql.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- growing buffers ----------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void die_oom(void) {
    fputs("larder-sql: out of memory\n", stderr);
    exit(2);
}

static void *xrealloc_(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die_oom();
    return p;
}

static void badd(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = xrealloc_(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void badds(buf *b, const char *s) {
    badd(b, s, strlen(s));
}

static void baddf(buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof tmp) {
        badd(b, tmp, (size_t)n);
        return;
    }
    char *big = xrealloc_(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    badd(b, big, (size_t)n);
    free(big);
}

/* ---- state ------------------------------------------------------------------------------------
 */

enum { M_LIST, M_CSV, M_COLUMN, M_BOX, M_JSON, M_TABS, M_LINE };

typedef struct shell {
    sql_db *db;
    char *path;
    int mode;
    int headers;
    int timer;
    int bail;
    int echo;
    int interactive;
    char sep[16];
    const char *rowsep; /* "\r\n" after .mode csv (RFC 4180, as sqlite3 does) */
    char nullvalue[32];
    int nerr;
    const char *src_name;
    int out_tty; /* stdout is a terminal; else each statement's output is flushed */
} shell;

static int run_sql(shell *sh, const char *sql, int lineno);
static int process_input(shell *sh, FILE *in, const char *name);

/* ---- output of one result set ------------------------------------------------------------ */

typedef struct table_out {
    int ncol;
    char **names;
    char ***rows; /* rows[r][c], NULL for SQL NULL */
    int *types;   /* per row and column: SQL_* of the value (column modes) */
    size_t nrow, cap;
} table_out;

static char *dupn(const char *s, size_t n) {
    char *p = xrealloc_(NULL, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int csv_needs_quote(const char *s) {
    if (!*s) return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == ',' || *p == '\'' || *p >= 0x80) return 1;
    return 0;
}

static void out_csv_field(buf *o, const char *s, int type) {
    if (!s) return;
    if (type == SQL_INTEGER || type == SQL_FLOAT || type == SQL_DECIMAL || !csv_needs_quote(s)) {
        badds(o, s);
        return;
    }
    badd(o, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') badd(o, "\"", 1);
        badd(o, p, 1);
    }
    badd(o, "\"", 1);
}

static void out_json_string(buf *o, const char *s) {
    badd(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            badds(o, "\\\"");
            break;
        case '\\':
            badds(o, "\\\\");
            break;
        case '\n':
            badds(o, "\\n");
            break;
        case '\r':
            badds(o, "\\r");
            break;
        case '\t':
            badds(o, "\\t");
            break;
        case '\b':
            badds(o, "\\b");
            break;
        case '\f':
            badds(o, "\\f");
            break;
        default:
            if (*p < 0x20)
                baddf(o, "\\u%04x", *p);
            else
                badd(o, (const char *)p, 1);
        }
    }
    badd(o, "\"", 1);
}

/* Display width of UTF-8 text (one column per code point). */
static size_t utf8_width(const char *s) {
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) w++;
    return w;
}

static void pad(buf *o, const char *s, size_t width, int right) {
    size_t w = utf8_width(s);
    if (right)
        for (size_t i = w; i < width; i++) badd(o, " ", 1);
    badds(o, s);
    if (!right)
        for (size_t i = w; i < width; i++) badd(o, " ", 1);
}

static void hline(buf *o, const size_t *w, int n, const char *l, const char *m, const char *r) {
    badds(o, l);
    for (int c = 0; c < n; c++) {
        for (size_t i = 0; i < w[c] + 2; i++) badds(o, "─");
        badds(o, c == n - 1 ? r : m);
    }
    badds(o, "\n");
}

static void print_columns(shell *sh, table_out *t, buf *o) {
    size_t *w = calloc((size_t)t->ncol + 1, sizeof *w);
    if (!w) die_oom();
    for (int c = 0; c < t->ncol; c++) {
        w[c] = sh->headers || sh->mode == M_BOX ? utf8_width(t->names[c]) : 0;
        for (size_t r = 0; r < t->nrow; r++) {
            const char *s = t->rows[r][c] ? t->rows[r][c] : sh->nullvalue;
            size_t x = utf8_width(s);
            if (x > w[c]) w[c] = x;
        }
    }
    if (sh->mode == M_BOX) {
        hline(o, w, t->ncol, "┌", "┬", "┐");
        badds(o, "│");
        for (int c = 0; c < t->ncol; c++) {
            size_t x = utf8_width(t->names[c]), left = (w[c] - x) / 2;
            badd(o, " ", 1);
            for (size_t i = 0; i < left; i++) badd(o, " ", 1);
            badds(o, t->names[c]);
            for (size_t i = left + x; i < w[c]; i++) badd(o, " ", 1);
            badds(o, " │");
        }
        badds(o, "\n");
        hline(o, w, t->ncol, "├", "┼", "┤");
        for (size_t r = 0; r < t->nrow; r++) {
            badds(o, "│");
            for (int c = 0; c < t->ncol; c++) {
                badd(o, " ", 1);
                int ty = t->types[r * (size_t)t->ncol + (size_t)c];
                pad(o, t->rows[r][c] ? t->rows[r][c] : sh->nullvalue, w[c],
                    ty == SQL_INTEGER || ty == SQL_FLOAT || ty == SQL_DECIMAL);
                badds(o, " │");
            }
            badds(o, "\n");
        }
        hline(o, w, t->ncol, "└", "┴", "┘");
        free(w);
        return;
    }
    if (sh->headers) {
        for (int c = 0; c < t->ncol; c++) {
            if (c) badds(o, "  ");
            pad(o, t->names[c], w[c], 0);
        }
        badds(o, "\n");
        for (int c = 0; c < t->ncol; c++) {
            if (c) badds(o, "  ");
            for (size_t i = 0; i < w[c]; i++) badd(o, "-", 1);
        }
        badds(o, "\n");
    }
    for (size_t r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            if (c) badds(o, "  ");
            pad(o, t->rows[r][c] ? t->rows[r][c] : sh->nullvalue, w[c], 0);
        }
        badds(o, "\n");
    }
    free(w);
}

static void free_table(table_out *t) {
    for (size_t r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) free(t->rows[r][c]);
        free(t->rows[r]);
    }
    for (int c = 0; c < t->ncol; c++) free(t->names[c]);
    free(t->names);
    free(t->rows);
    free(t->types);
}

/* A real in JSON mode: every digit needed to read back the same double
 * (%.17g), still written as a real ("1.0", "1.0e+20" as sqlite3's "%!" form
 * does); infinities as sqlite3 writes them. */
static void out_json_real(buf *o, double r) {
    char z[48];
    if (isinf(r)) {
        badds(o, r < 0 ? "-1e999" : "1e999");
        return;
    }
    if (isnan(r)) {
        badds(o, "null");
        return;
    }
    snprintf(z, sizeof z, "%.17g", r);
    char *e = strchr(z, 'e');
    if (strchr(z, '.')) {
        badds(o, z);
    } else if (e) {
        badd(o, z, (size_t)(e - z));
        badds(o, ".0");
        badds(o, e);
    } else {
        badds(o, z);
        badds(o, ".0");
    }
}

/* Print one row in a streaming mode; first: the first row of the set. */
static void print_row(shell *sh, sql_stmt *st, int first, buf *o) {
    int n = sql_column_count(st);
    if (sh->mode == M_LINE) {
        size_t w = 0;
        for (int c = 0; c < n; c++)
            if (strlen(sql_column_name(st, c)) > w) w = strlen(sql_column_name(st, c));
        if (!first) badds(o, "\n");
        for (int c = 0; c < n; c++) {
            const char *v = sql_column_text(st, c);
            baddf(o, "%*s = %s\n", (int)w, sql_column_name(st, c), v ? v : sh->nullvalue);
        }
        return;
    }
    if (sh->mode == M_JSON) {
        badds(o, first ? "[{" : ",\n{");
        for (int c = 0; c < n; c++) {
            if (c) badd(o, ",", 1);
            out_json_string(o, sql_column_name(st, c));
            badd(o, ":", 1);
            int ty = sql_column_type(st, c);
            const char *v = sql_column_text(st, c);
            if (ty == SQL_NULL)
                badds(o, "null");
            else if (ty == SQL_FLOAT)
                out_json_real(o, sql_column_double(st, c));
            else if (ty == SQL_INTEGER || ty == SQL_DECIMAL)
                badds(o, v);
            else
                out_json_string(o, v);
        }
        badds(o, "}");
        return;
    }
    const char *sep = sh->mode == M_CSV ? "," : sh->mode == M_TABS ? "\t" : sh->sep;
    const char *eol = sh->rowsep ? sh->rowsep : "\n";
    if (first && sh->headers) {
        for (int c = 0; c < n; c++) {
            if (c) badds(o, sep);
            if (sh->mode == M_CSV)
                out_csv_field(o, sql_column_name(st, c), SQL_TEXT);
            else
                badds(o, sql_column_name(st, c));
        }
        badds(o, eol);
    }
    for (int c = 0; c < n; c++) {
        if (c) badds(o, sep);
        const char *v = sql_column_text(st, c);
        if (sh->mode == M_CSV)
            out_csv_field(o, v ? v : (sh->nullvalue[0] ? sh->nullvalue : NULL),
                          sql_column_type(st, c));
        else
            badds(o, v ? v : sh->nullvalue);
    }
    badds(o, eol);
}

/* EXPLAIN QUERY PLAN rows (id, parent, notused, detail) drawn as a tree;
 * EXPLAIN ANALYZE's rows, loops and time_ms follow each node's detail. */
static void print_plan(table_out *t, buf *o) {
    badds(o, "QUERY PLAN\n");
    int *ids = calloc(t->nrow + 1, sizeof *ids), *parents = calloc(t->nrow + 1, sizeof *parents);
    if (!ids || !parents) die_oom();
    for (size_t r = 0; r < t->nrow; r++) {
        ids[r] = atoi(t->rows[r][0]);
        parents[r] = atoi(t->rows[r][1]);
    }
    /* depth-first: rows are in pre-order already */
    for (size_t r = 0; r < t->nrow; r++) {
        buf prefix = {0};
        /* build the prefix from ancestors */
        int chain[64], nch = 0, p = parents[r];
        while (p && nch < 64) {
            chain[nch++] = p;
            int found = 0;
            for (size_t k = 0; k < t->nrow; k++)
                if (ids[k] == p) {
                    p = parents[k];
                    found = 1;
                    break;
                }
            if (!found) break;
        }
        for (int k = nch - 1; k >= 0; k--) {
            /* is there a later sibling of that ancestor? */
            size_t ai = 0;
            for (size_t q = 0; q < t->nrow; q++)
                if (ids[q] == chain[k]) ai = q;
            int more = 0;
            for (size_t q = ai + 1; q < t->nrow; q++)
                if (parents[q] == parents[ai]) more = 1;
            badds(&prefix, more ? "|  " : "   ");
        }
        int last = 1;
        for (size_t q = r + 1; q < t->nrow; q++)
            if (parents[q] == parents[r]) last = 0;
        baddf(o, "%s%s%s", prefix.p ? prefix.p : "", last ? "`--" : "|--",
              t->rows[r][3] ? t->rows[r][3] : "");
        if (t->ncol == 7 && t->rows[r][4])
            baddf(o, " (rows=%s loops=%s time=%s ms)", t->rows[r][4], t->rows[r][5],
                  t->rows[r][6] ? t->rows[r][6] : "");
        else if (t->ncol == 7 && t->rows[r][6])
            baddf(o, " (time=%s ms)", t->rows[r][6]);
        badds(o, "\n");
        free(prefix.p);
    }
    free(ids);
    free(parents);
}

static int is_eqp(sql_stmt *st) {
    const char *s = sql_stmt_sql(st);
    while (*s && isspace((unsigned char)*s)) s++;
    int n = sql_column_count(st);
    return strncasecmp(s, "explain", 7) == 0 && (n == 4 || n == 7) &&
           strcmp(sql_column_name(st, 3), "detail") == 0;
}

static void collect(sql_stmt *st, table_out *t) {
    if (t->nrow == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->rows = xrealloc_(t->rows, sizeof *t->rows * t->cap);
        t->types = xrealloc_(t->types, sizeof *t->types * t->cap * (size_t)(t->ncol ? t->ncol : 1));
    }
    char **row = xrealloc_(NULL, sizeof *row * (size_t)(t->ncol ? t->ncol : 1));
    for (int c = 0; c < t->ncol; c++) {
        const char *v = sql_column_text(st, c);
        row[c] = v ? dupn(v, strlen(v)) : NULL;
        t->types[t->nrow * (size_t)t->ncol + (size_t)c] = sql_column_type(st, c);
    }
    t->rows[t->nrow++] = row;
}

static void flush(buf *o) {
    if (o->n) fwrite(o->p, 1, o->n, stdout);
    o->n = 0;
}

/* Run one prepared statement, printing its rows. */
static int run_stmt(shell *sh, sql_stmt *st, int lineno) {
    int n = sql_column_count(st), rc, first = 1;
    int buffered = sh->mode == M_COLUMN || sh->mode == M_BOX || is_eqp(st);
    table_out t = {0};
    buf o = {0};
    if (buffered) {
        t.ncol = n;
        t.names = xrealloc_(NULL, sizeof *t.names * (size_t)(n ? n : 1));
        for (int c = 0; c < n; c++)
            t.names[c] = dupn(sql_column_name(st, c), strlen(sql_column_name(st, c)));
    }
    while ((rc = sql_step(st)) == SQL_ROW) {
        if (buffered) {
            collect(st, &t);
            continue;
        }
        print_row(sh, st, first, &o);
        first = 0;
        if (o.n > 65536) flush(&o);
    }
    if (sh->mode == M_JSON && !first && !buffered) badds(&o, "]\n");
    if (buffered && t.nrow) {
        if (is_eqp(st))
            print_plan(&t, &o);
        else
            print_columns(sh, &t, &o);
    }
    flush(&o);
    free(o.p);
    if (buffered) free_table(&t);
    if (rc != SQL_DONE) {
        fflush(stdout);
        fprintf(stderr, "Runtime error near line %d: %s\n", lineno, sql_errmsg(sh->db));
        return 1;
    }
    return 0;
}

static double now_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(int sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timeval tv = sys ? ru.ru_stime : ru.ru_utime;
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static int run_sql(shell *sh, const char *sql, int lineno) {
    const char *p = sql;
    int errs = 0;
    while (*p) {
        sql_stmt *st;
        const char *tail;
        double t0 = now_real(), u0 = cpu(0), s0 = cpu(1);
        int rc = sql_prepare(sh->db, p, -1, &st, &tail);
        if (rc != SQL_OK) {
            fflush(stdout);
            fprintf(stderr, "Parse error near line %d: %s\n", lineno, sql_errmsg(sh->db));
            errs++;
            break;
        }
        if (!st) break;
        if (sh->echo) printf("%s\n", sql_stmt_sql(st));
        errs += run_stmt(sh, st, lineno);
        sql_finalize(st);
        if (sh->timer)
            printf("Run Time: real %.3f user %.6f sys %.6f\n", now_real() - t0, cpu(0) - u0,
                   cpu(1) - s0);
        /* a program reading our output through a pipe sees each result as
         * soon as it is complete */
        if (!sh->out_tty) fflush(stdout);
        for (const char *q = p; q < tail; q++)
            if (*q == '\n') lineno++;
        p = tail;
        if (errs && sh->bail) break;
    }
    sh->nerr += errs;
    return errs;
}

/* ---- queries on the schema ------------------------------------------------------------------- */

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static void sl_add(strlist *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc_(l->v, sizeof *l->v * (size_t)l->cap);
    }
    l->v[l->n++] = s ? dupn(s, strlen(s)) : NULL;
}

static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* All rows of a one-or-more-column query, column values appended in order. */
static int query_list(shell *sh, const char *sql, const char *arg, strlist *out) {
    sql_stmt *st;
    if (sql_prepare(sh->db, sql, -1, &st, NULL) != SQL_OK || !st) {
        fprintf(stderr, "Error: %s\n", sql_errmsg(sh->db));
        return 1;
    }
    if (arg) sql_bind_text(st, 1, arg, -1);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW)
        for (int c = 0; c < sql_column_count(st); c++) sl_add(out, sql_column_text(st, c));
    sql_finalize(st);
    return rc == SQL_DONE ? 0 : 1;
}

static void cmd_tables(shell *sh, const char *pat) {
    strlist l = {0};
    query_list(
        sh,
        pat ? "SELECT name FROM larder_schema WHERE type IN ('table','view') AND name LIKE ?1 "
              "UNION ALL SELECT 'temp.' || name FROM sqlite_temp_schema WHERE type = 'table' "
              "AND name LIKE ?1 ORDER BY 1"
            : "SELECT name FROM larder_schema WHERE type IN ('table','view') UNION ALL "
              "SELECT 'temp.' || name FROM sqlite_temp_schema WHERE type = 'table' ORDER BY 1",
        pat, &l);
    if (!l.n) return;
    size_t w = 0;
    for (int i = 0; i < l.n; i++)
        if (strlen(l.v[i]) > w) w = strlen(l.v[i]);
    int per = (int)(80 / (w + 2));
    if (per < 1) per = 1;
    int rows = (l.n + per - 1) / per;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < per; c++) {
            int i = c * rows + r;
            if (i >= l.n) break;
            int last = c == per - 1 || (c + 1) * rows + r >= l.n;
            printf("%-*s%s", last ? 0 : (int)w, l.v[i], last ? "" : "  ");
        }
        printf("\n");
    }
    sl_free(&l);
}

static void cmd_schema(shell *sh, const char *name) {
    strlist l = {0};
    query_list(sh,
               name ? "SELECT sql FROM larder_schema WHERE sql IS NOT NULL AND (tbl_name LIKE ?1 "
                      "OR name LIKE ?1) "
                      "ORDER BY tbl_name, type DESC, name"
                    : "SELECT sql FROM larder_schema WHERE sql IS NOT NULL ORDER BY tbl_name, type "
                      "DESC, name",
               name, &l);
    for (int i = 0; i < l.n; i++) printf("%s;\n", l.v[i]);
    sl_free(&l);
}

static void cmd_indexes(shell *sh, const char *tab) {
    strlist l = {0};
    query_list(
        sh,
        tab ? "SELECT name FROM larder_schema WHERE type='index' AND tbl_name LIKE ?1 ORDER BY name"
            : "SELECT name FROM larder_schema WHERE type='index' ORDER BY name",
        tab, &l);
    for (int i = 0; i < l.n; i++) printf("%s\n", l.v[i]);
    sl_free(&l);
}

static void quote_ident(buf *b, const char *s) {
    int plain = isalpha((unsigned char)s[0]) || s[0] == '_';
    for (const char *p = s; *p && plain; p++) plain = isalnum((unsigned char)*p) || *p == '_';
    if (plain) {
        badds(b, s);
        return;
    }
    badd(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') badd(b, "\"", 1);
        badd(b, p, 1);
    }
    badd(b, "\"", 1);
}

static void sql_literal(buf *b, sql_stmt *st, int c) {
    int ty = sql_column_type(st, c);
    const char *v = sql_column_text(st, c);
    if (ty == SQL_NULL) {
        badds(b, "NULL");
    } else if (ty == SQL_INTEGER || ty == SQL_DECIMAL) {
        badds(b, v);
    } else if (ty == SQL_FLOAT) {
        double d = sql_column_double(st, c);
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.17g", d);
        if (!strpbrk(tmp, ".eEin")) strcat(tmp, ".0");
        badds(b, strcmp(v, "Inf") == 0 ? "1e999" : strcmp(v, "-Inf") == 0 ? "-1e999" : tmp);
    } else if (ty == SQL_BLOB) {
        const unsigned char *p = sql_column_blob(st, c);
        int n = sql_column_bytes(st, c);
        badds(b, "X'");
        for (int i = 0; i < n; i++) baddf(b, "%02x", p[i]);
        badd(b, "'", 1);
    } else {
        badd(b, "'", 1);
        for (const char *p = v; *p; p++) {
            if (*p == '\'') badd(b, "'", 1);
            badd(b, p, 1);
        }
        badd(b, "'", 1);
    }
}

static void dump_rows(shell *sh, const char *table, FILE *out) {
    buf q = {0};
    badds(&q, "SELECT * FROM ");
    quote_ident(&q, table);
    sql_stmt *st;
    if (sql_prepare(sh->db, q.p, -1, &st, NULL) != SQL_OK || !st) {
        free(q.p);
        return;
    }
    buf b = {0};
    while (sql_step(st) == SQL_ROW) {
        b.n = 0;
        badds(&b, "INSERT INTO ");
        quote_ident(&b, table);
        badds(&b, " VALUES(");
        for (int c = 0; c < sql_column_count(st); c++) {
            if (c) badd(&b, ",", 1);
            sql_literal(&b, st, c);
        }
        badds(&b, ");\n");
        fwrite(b.p, 1, b.n, out);
    }
    sql_finalize(st);
    free(b.p);
    free(q.p);
}

static void cmd_dump(shell *sh, const char *only) {
    strlist l = {0};
    query_list(sh, "SELECT name, sql FROM larder_schema WHERE type='table' ORDER BY rowid", NULL,
               &l);
    printf("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
    for (int i = 0; i + 1 < l.n; i += 2) {
        if (only && strcasecmp(only, l.v[i]) != 0) continue;
        printf("%s;\n", l.v[i + 1]);
        fflush(stdout);
        dump_rows(sh, l.v[i], stdout);
    }
    sl_free(&l);
    /* views after every table they may read, before triggers that may use them */
    query_list(sh,
               "SELECT tbl_name, sql FROM larder_schema WHERE type IN ('view','index','trigger') "
               "AND sql IS NOT NULL ORDER BY type = 'view' DESC, type, name",
               NULL, &l);
    for (int i = 0; i + 1 < l.n; i += 2)
        if (!only || strcasecmp(only, l.v[i]) == 0) printf("%s;\n", l.v[i + 1]);
    sl_free(&l);
    /* ANALYZE's statistics follow from the rows: analyzing the same tables
     * again gives the same ones */
    query_list(sh,
               "SELECT DISTINCT table_name, table_name FROM larder_stat_indexes WHERE stat IS "
               "NOT NULL ORDER BY 1",
               NULL, &l);
    for (int i = 0; i + 1 < l.n; i += 2) {
        if (only && strcasecmp(only, l.v[i]) != 0) continue;
        buf q = {0};
        badds(&q, "ANALYZE ");
        quote_ident(&q, l.v[i]);
        printf("%s;\n", q.p);
        free(q.p);
    }
    sl_free(&l);
    printf("COMMIT;\n");
}

/* Copy every object and row into a new database file. */
static int cmd_backup(shell *sh, const char *dest) {
    struct stat stt;
    if (stat(dest, &stt) == 0) {
        fprintf(stderr, "Error: %s exists; .backup writes a new file\n", dest);
        return 1;
    }
    sql_db *to;
    sql_options o = {.flags = SQL_OPEN_CREATE};
    if (sql_open(dest, &o, &to) != SQL_OK) {
        fprintf(stderr, "Error: cannot open %s: %s\n", dest, sql_errmsg(to));
        sql_close(to);
        return 1;
    }
    strlist l = {0};
    int err = 0;
    sql_exec(to, "PRAGMA foreign_keys=OFF; BEGIN", NULL, NULL);
    query_list(sh, "SELECT name, sql FROM larder_schema WHERE type='table' ORDER BY rowid", NULL,
               &l);
    for (int i = 0; i + 1 < l.n && !err; i += 2) {
        if (sql_exec(to, l.v[i + 1], NULL, NULL) != SQL_OK) {
            err = 1;
            break;
        }
        buf q = {0};
        badds(&q, "SELECT * FROM ");
        quote_ident(&q, l.v[i]);
        sql_stmt *src, *ins = NULL;
        if (sql_prepare(sh->db, q.p, -1, &src, NULL) != SQL_OK) err = 1;
        int n = err ? 0 : sql_column_count(src);
        buf qi = {0};
        badds(&qi, "INSERT INTO ");
        quote_ident(&qi, l.v[i]);
        badds(&qi, " VALUES(");
        for (int c = 0; c < n; c++) badds(&qi, c ? ",?" : "?");
        badds(&qi, ")");
        if (!err && sql_prepare(to, qi.p, -1, &ins, NULL) != SQL_OK) err = 1;
        while (!err && sql_step(src) == SQL_ROW) {
            for (int c = 0; c < n; c++) sql_bind_value(ins, c + 1, sql_column_value(src, c));
            if (sql_step(ins) != SQL_DONE) err = 1;
            sql_reset(ins);
        }
        sql_finalize(ins);
        if (!err) sql_finalize(src);
        free(q.p);
        free(qi.p);
    }
    sl_free(&l);
    query_list(sh,
               "SELECT sql FROM larder_schema WHERE type IN ('view','index','trigger') AND sql "
               "IS NOT NULL ORDER BY type = 'view' DESC, type, name",
               NULL, &l);
    for (int i = 0; i < l.n && !err; i++)
        if (sql_exec(to, l.v[i], NULL, NULL) != SQL_OK) err = 1;
    sl_free(&l);
    if (err) fprintf(stderr, "Error: backup failed: %s\n", sql_errmsg(to));
    sql_exec(to, err ? "ROLLBACK" : "COMMIT", NULL, NULL);
    sql_close(to);
    return err;
}

/* ---- .import ------------------------------------------------------------------------------- */

/* Read one CSV record; fields are NUL-separated in rec. Returns the number of
 * fields, 0 at end of input. */
static int csv_record(FILE *f, buf *rec, int **offs, int *cap, long *bytes) {
    int c, nf = 0, inq = 0, any = 0;
    rec->n = 0;
    if (!*cap) {
        *cap = 16;
        *offs = xrealloc_(NULL, sizeof **offs * (size_t)*cap);
    }
    (*offs)[0] = 0;
    for (;;) {
        c = fgetc(f);
        if (c != EOF) (*bytes)++;
        if (c == EOF) {
            if (!any && rec->n == 0) return 0;
            break;
        }
        any = 1;
        if (inq) {
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') {
                    badd(rec, "\"", 1);
                    (*bytes)++;
                    continue;
                }
                if (d != EOF) ungetc(d, f);
                inq = 0;
                continue;
            }
            char ch = (char)c;
            badd(rec, &ch, 1);
            continue;
        }
        if (c == '"') {
            inq = 1;
            continue;
        }
        if (c == ',') {
            badd(rec, "", 1);
            rec->p[rec->n - 1] = 0;
            if (++nf + 1 >= *cap) {
                *cap *= 2;
                *offs = xrealloc_(*offs, sizeof **offs * (size_t)*cap);
            }
            (*offs)[nf] = (int)rec->n;
            continue;
        }
        if (c == '\n') break;
        if (c == '\r') continue;
        char ch = (char)c;
        badd(rec, &ch, 1);
    }
    badd(rec, "", 1);
    return nf + 1;
}

static void progress(long done, long total) {
    if (total <= 0) return;
    int pct = (int)(done * 100 / total), w = pct / 2;
    fprintf(stderr, "\r[");
    for (int i = 0; i < 50; i++) fputc(i < w ? '#' : ' ', stderr);
    fprintf(stderr, "] %3d%%", pct);
}

/* Create the table of an .import from the CSV header row (TEXT columns). */
static int import_create(shell *sh, FILE *f, const char *table, buf *rec, int **offs, int *cap,
                         long *bytes, int *ncol) {
    *ncol = csv_record(f, rec, offs, cap, bytes);
    if (*ncol == 0) {
        fprintf(stderr, "Error: the CSV file is empty\n");
        return 1;
    }
    buf q = {0};
    badds(&q, "CREATE TABLE ");
    quote_ident(&q, table);
    badds(&q, "(");
    for (int i = 0; i < *ncol; i++) {
        if (i) badds(&q, ", ");
        quote_ident(&q, rec->p + (*offs)[i]);
        badds(&q, " TEXT");
    }
    badds(&q, ")");
    int err = sql_exec(sh->db, q.p, NULL, NULL) != SQL_OK;
    if (err) fprintf(stderr, "Error: %s\n", sql_errmsg(sh->db));
    free(q.p);
    return err;
}

typedef struct import_src {
    FILE *f;
    const char *file;
    long total, bytes, lineno;
    buf rec;
    int *offs, cap;
} import_src;

/* Insert every remaining record through ins (ncol parameters). */
static int import_rows(shell *sh, import_src *in, sql_stmt *ins, int ncol) {
    int tty = isatty(2), nf, err = 0;
    long nrec = 0;
    while (!err && (nf = csv_record(in->f, &in->rec, &in->offs, &in->cap, &in->bytes)) > 0) {
        in->lineno++;
        if (nf != ncol)
            fprintf(stderr, "%s:%ld: expected %d columns but found %d - %s\n", in->file, in->lineno,
                    ncol, nf, nf < ncol ? "filling the rest with NULL" : "extras ignored");
        for (int i = 0; i < ncol; i++) {
            if (i < nf)
                sql_bind_text(ins, i + 1, in->rec.p + in->offs[i], -1);
            else
                sql_bind_null(ins, i + 1);
        }
        if (sql_step(ins) != SQL_DONE) {
            fprintf(stderr, "%s:%ld: INSERT failed: %s\n", in->file, in->lineno,
                    sql_errmsg(sh->db));
            err = 1;
        }
        sql_reset(ins);
        if (tty && (++nrec & 1023) == 0) progress(in->bytes, in->total);
    }
    if (tty && in->total) {
        progress(in->total, in->total);
        fputc('\n', stderr);
    }
    return err;
}

static int cmd_import(shell *sh, const char *file, const char *table) {
    import_src in = {.file = file};
    if (!(in.f = fopen(file, "rb"))) {
        fprintf(stderr, "Error: cannot open \"%s\"\n", file);
        return 1;
    }
    struct stat stt;
    in.total = fstat(fileno(in.f), &stt) == 0 ? (long)stt.st_size : 0;
    strlist cols = {0};
    query_list(sh, "SELECT name FROM larder_schema WHERE type='table' AND name = ?1", table, &cols);
    int exists = cols.n > 0, ncol = 0, err = 0;
    sl_free(&cols);
    if (!exists) { /* the first record names the columns */
        err = import_create(sh, in.f, table, &in.rec, &in.offs, &in.cap, &in.bytes, &ncol);
        in.lineno = 1;
    } else {
        sql_column_info *ci;
        if (sql_table_columns(sh->db, table, &ci, &ncol) != SQL_OK) ncol = 0;
        sql_free(ci);
    }
    buf q = {0};
    badds(&q, "INSERT INTO ");
    quote_ident(&q, table);
    badds(&q, " VALUES(");
    for (int i = 0; i < ncol; i++) badds(&q, i ? ",?" : "?");
    badds(&q, ")");
    sql_stmt *ins = NULL;
    int own_txn = !err && !sql_in_transaction(sh->db);
    if (own_txn) sql_exec(sh->db, "BEGIN", NULL, NULL);
    if (!err && sql_prepare(sh->db, q.p, -1, &ins, NULL) != SQL_OK) {
        fprintf(stderr, "Error: %s\n", sql_errmsg(sh->db));
        err = 1;
    }
    if (!err) err = import_rows(sh, &in, ins, ncol);
    sql_finalize(ins);
    if (own_txn) sql_exec(sh->db, err ? "ROLLBACK" : "COMMIT", NULL, NULL);
    fclose(in.f);
    free(q.p);
    free(in.rec.p);
    free(in.offs);
    return err;
}

/* ---- dot commands ------------------------------------------------------------------------------
 */

static int split_args(char *line, char **argv, int max) {
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            argv[n++] = p;
            while (*p && *p != q) p++;
            if (*p) *p++ = 0;
        } else {
            argv[n++] = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            if (*p) *p++ = 0;
        }
    }
    return n;
}

static int on_off(const char *s) {
    return !strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcmp(s, "1") ||
           !strcasecmp(s, "true");
}

static void help(void) {
    puts(".backup FILE            copy the database into a new FILE\n"
         ".bail on|off            stop after the first error\n"
         ".dump [TABLE]           the database (or one table) as SQL\n"
         ".echo on|off            print each statement before running it\n"
         ".headers on|off         column names in list, csv and column modes\n"
         ".import FILE TABLE      load CSV FILE into TABLE (created from the header row if "
         "missing)\n"
         ".indexes [TABLE]        index names\n"
         ".mode MODE              list csv column box json tabs line\n"
         ".nullvalue TEXT         how NULL is shown\n"
         ".quit                   leave\n"
         ".read FILE              run the statements in FILE\n"
         ".schema [TABLE]         CREATE statements\n"
         ".separator SEP          column separator of list mode\n"
         ".tables [PATTERN]       table names (temporary ones as temp.NAME)\n"
         ".timer on|off           time every statement");
}

static void set_mode(shell *sh, const char *m) {
    static const char *names[] = {"list", "csv", "column", "box", "json", "tabs", "line"};
    static const int modes[] = {M_LIST, M_CSV, M_COLUMN, M_BOX, M_JSON, M_TABS, M_LINE};
    for (int i = 0; i < 7; i++)
        if (!strcmp(m, names[i])) {
            sh->mode = modes[i];
            sh->rowsep =
                sh->mode == M_CSV ? "\r\n" : NULL; /* sqlite3's .mode csv ends rows in CRLF */
            return;
        }
    fprintf(stderr, "Error: mode should be one of: box column csv json line list tabs\n");
    sh->nerr++;
}

/* Returns 1 to quit, 0 otherwise; errors count in sh->nerr. */
static int dot_command(shell *sh, char *line) {
    char *argv[8];
    int argc = split_args(line + 1, argv, 8);
    if (argc == 0) return 0;
    const char *c = argv[0];
    if (!strcmp(c, "quit") || !strcmp(c, "exit") || !strcmp(c, "q")) return 1;
    if (!strcmp(c, "help"))
        help();
    else if (!strcmp(c, "tables"))
        cmd_tables(sh, argc > 1 ? argv[1] : NULL);
    else if (!strcmp(c, "schema"))
        cmd_schema(sh, argc > 1 ? argv[1] : NULL);
    else if (!strcmp(c, "indexes") || !strcmp(c, "indices"))
        cmd_indexes(sh, argc > 1 ? argv[1] : NULL);
    else if (!strcmp(c, "dump"))
        cmd_dump(sh, argc > 1 ? argv[1] : NULL);
    else if (!strcmp(c, "headers") || !strcmp(c, "header"))
        sh->headers = argc > 1 && on_off(argv[1]);
    else if (!strcmp(c, "timer"))
        sh->timer = argc > 1 && on_off(argv[1]);
    else if (!strcmp(c, "bail"))
        sh->bail = argc > 1 && on_off(argv[1]);
    else if (!strcmp(c, "echo"))
        sh->echo = argc > 1 && on_off(argv[1]);
    else if (!strcmp(c, "nullvalue"))
        snprintf(sh->nullvalue, sizeof sh->nullvalue, "%s", argc > 1 ? argv[1] : "");
    else if (!strcmp(c, "separator"))
        snprintf(sh->sep, sizeof sh->sep, "%s", argc > 1 ? argv[1] : "|");
    else if (!strcmp(c, "mode"))
        set_mode(sh, argc > 1 ? argv[1] : "list");
    else if (!strcmp(c, "read")) {
        FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
        if (!f) {
            fprintf(stderr, "Error: cannot open \"%s\"\n", argc > 1 ? argv[1] : "");
            sh->nerr++;
        } else {
            int save = sh->interactive;
            sh->interactive = 0;
            process_input(sh, f, argv[1]);
            sh->interactive = save;
            fclose(f);
        }
    } else if (!strcmp(c, "import")) {
        int a = 1;
        while (a < argc && argv[a][0] == '-' && argv[a][1] == '-') a++; /* --csv */
        if (argc - a < 2) {
            fprintf(stderr, "Usage: .import FILE TABLE\n");
            sh->nerr++;
        } else {
            sh->nerr += cmd_import(sh, argv[a], argv[a + 1]);
        }
    } else if (!strcmp(c, "backup") || !strcmp(c, "save")) {
        if (argc < 2) {
            fprintf(stderr, "Usage: .backup FILE\n");
            sh->nerr++;
        } else {
            sh->nerr += cmd_backup(sh, argv[argc - 1]);
        }
    } else {
        fprintf(stderr,
                "Error: unknown command or invalid arguments:  \"%s\". Enter \".help\" for help\n",
                c);
        sh->nerr++;
    }
    return 0;
}

/* ---- line editor ----------------------------------------------------------------------------- */

static struct termios orig_term;
static int raw_on;

static void raw_off(void) {
    if (raw_on) tcsetattr(0, TCSAFLUSH, &orig_term);
    raw_on = 0;
}

static int raw_mode(void) {
    if (tcgetattr(0, &orig_term) < 0) return -1;
    struct termios t = orig_term;
    t.c_iflag &= ~(unsigned)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    t.c_cflag |= CS8;
    t.c_lflag &= ~(unsigned)(ECHO | ICANON | IEXTEN | ISIG);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSAFLUSH, &t) < 0) return -1;
    raw_on = 1;
    return 0;
}

typedef struct history {
    char **v;
    int n, cap;
    char path[512];
} history;

static history hist;

static void hist_add(const char *line) {
    if (!*line || (hist.n && strcmp(hist.v[hist.n - 1], line) == 0)) return;
    if (hist.n == hist.cap) {
        hist.cap = hist.cap ? hist.cap * 2 : 64;
        hist.v = xrealloc_(hist.v, sizeof *hist.v * (size_t)hist.cap);
    }
    hist.v[hist.n++] = dupn(line, strlen(line));
    if (hist.path[0]) {
        FILE *f = fopen(hist.path, "a");
        if (f) {
            for (const char *p = line; *p; p++) fputc(*p == '\n' ? ' ' : *p, f);
            fputc('\n', f);
            fclose(f);
        }
    }
}

static void hist_load(void) {
    const char *home = getenv("HOME");
    if (!home) return;
    snprintf(hist.path, sizeof hist.path, "%s/.larder_sql_history", home);
    FILE *f = fopen(hist.path, "r");
    if (!f) return;
    char line[4096];
    char save[512];
    snprintf(save, sizeof save, "%s", hist.path);
    hist.path[0] = 0; /* do not append while loading */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        hist_add(line);
    }
    fclose(f);
    snprintf(hist.path, sizeof hist.path, "%s", save);
}

static void refresh(const char *prompt, const buf *b, size_t cur) {
    buf o = {0};
    badds(&o, "\r");
    badds(&o, prompt);
    if (b->n) badd(&o, b->p, b->n);
    badds(&o, "\x1b[K");
    size_t back = 0;
    for (size_t i = cur; i < b->n; i++)
        if (((unsigned char)b->p[i] & 0xC0) != 0x80) back++;
    if (back) baddf(&o, "\x1b[%zuD", back);
    if (write(1, o.p, o.n) < 0) {
    }
    free(o.p);
}

static void set_line(buf *b, size_t *cur, const char *s) {
    b->n = 0;
    badds(b, s);
    *cur = b->n;
}

static size_t char_left(const buf *b, size_t cur) {
    if (cur == 0) return 0;
    cur--;
    while (cur > 0 && ((unsigned char)b->p[cur] & 0xC0) == 0x80) cur--;
    return cur;
}

static size_t char_right(const buf *b, size_t cur) {
    if (cur >= b->n) return b->n;
    cur++;
    while (cur < b->n && ((unsigned char)b->p[cur] & 0xC0) == 0x80) cur++;
    return cur;
}

static void erase(buf *b, size_t from, size_t to) {
    memmove(b->p + from, b->p + to, b->n - to);
    b->n -= to - from;
    b->p[b->n] = 0;
}

/* Handle an escape sequence; returns 0. */
static void escape_seq(buf *b, size_t *cur, int *hidx, char *saved, size_t savedcap) {
    char s[3];
    if (read(0, s, 1) != 1 || read(0, s + 1, 1) != 1) return;
    if (s[0] != '[' && s[0] != 'O') return;
    if (s[1] >= '0' && s[1] <= '9') {
        if (read(0, s + 2, 1) != 1) return;
        if (s[2] == '~' && (s[1] == '1' || s[1] == '7')) *cur = 0;
        if (s[2] == '~' && (s[1] == '4' || s[1] == '8')) *cur = b->n;
        if (s[2] == '~' && s[1] == '3' && *cur < b->n) erase(b, *cur, char_right(b, *cur));
        return;
    }
    switch (s[1]) {
    case 'A': /* up */
        if (*hidx > 0) {
            if (*hidx == hist.n) snprintf(saved, savedcap, "%s", b->p ? b->p : "");
            (*hidx)--;
            set_line(b, cur, hist.v[*hidx]);
        }
        break;
    case 'B':
        if (*hidx < hist.n) {
            (*hidx)++;
            set_line(b, cur, *hidx == hist.n ? saved : hist.v[*hidx]);
        }
        break;
    case 'C':
        *cur = char_right(b, *cur);
        break;
    case 'D':
        *cur = char_left(b, *cur);
        break;
    case 'H':
        *cur = 0;
        break;
    case 'F':
        *cur = b->n;
        break;
    }
}

typedef struct editor {
    buf b;
    size_t cur;
    int hidx;
    char saved[4096];
} editor;

static void say(const char *s, size_t n) {
    if (write(1, s, n) < 0) { /* nothing to do about a broken terminal */
    }
}

static void insert_char(editor *e, char c) {
    if (e->b.n + 2 > e->b.cap) {
        e->b.cap = (e->b.n + 2) * 2;
        e->b.p = xrealloc_(e->b.p, e->b.cap);
    }
    memmove(e->b.p + e->cur + 1, e->b.p + e->cur, e->b.n - e->cur + 1);
    e->b.p[e->cur++] = c;
    e->b.n++;
}

/* One key: 0 go on, 1 the line is done, -1 end of input. */
static int handle_key(editor *e, char c) {
    buf *b = &e->b;
    switch (c) {
    case '\r':
    case '\n':
        return 1;
    case 4: /* ^D: end of input on an empty line, else delete */
        if (b->n == 0) return -1;
        if (e->cur < b->n) erase(b, e->cur, char_right(b, e->cur));
        return 0;
    case 3: /* ^C: drop the line */
        b->n = 0;
        b->p[0] = 0;
        e->cur = 0;
        say("^C\r\n", 4);
        return 0;
    case 127:
    case 8:
        if (e->cur > 0) {
            size_t l = char_left(b, e->cur);
            erase(b, l, e->cur);
            e->cur = l;
        }
        return 0;
    case 1:
        e->cur = 0;
        return 0;
    case 5:
        e->cur = b->n;
        return 0;
    case 2:
        e->cur = char_left(b, e->cur);
        return 0;
    case 6:
        e->cur = char_right(b, e->cur);
        return 0;
    case 11:
        erase(b, e->cur, b->n);
        return 0;
    case 21:
        erase(b, 0, e->cur);
        e->cur = 0;
        return 0;
    case 23: {
        size_t s = e->cur;
        while (s > 0 && b->p[s - 1] == ' ') s--;
        while (s > 0 && b->p[s - 1] != ' ') s--;
        erase(b, s, e->cur);
        e->cur = s;
        return 0;
    }
    case 12:
        say("\x1b[H\x1b[2J", 7);
        return 0;
    case 27:
        escape_seq(b, &e->cur, &e->hidx, e->saved, sizeof e->saved);
        return 0;
    default:
        if ((unsigned char)c >= 32 || c == '\t') insert_char(e, c);
        return 0;
    }
}

/* Read a line with editing; NULL at end of input. The caller frees. */
static char *edit_line(const char *prompt) {
    if (raw_mode() < 0) return NULL;
    editor e = {.hidx = hist.n};
    badds(&e.b, "");
    refresh(prompt, &e.b, e.cur);
    int r = 0;
    for (;;) {
        char c;
        if (read(0, &c, 1) != 1) {
            r = -1;
            break;
        }
        if ((r = handle_key(&e, c)) != 0) break;
        refresh(prompt, &e.b, e.cur);
    }
    raw_off();
    say("\r\n", 2);
    if (r < 0) {
        free(e.b.p);
        return NULL;
    }
    return e.b.p;
}

/* ---- input loop
 * ---------------------------------------------------------------------------------- */

static char *read_line(shell *sh, FILE *in, int continuation) {
    if (sh->interactive) {
        return edit_line(continuation ? "   ...> " : "larder> ");
    }
    buf b = {0};
    int c;
    while ((c = fgetc(in)) != EOF) {
        if (c == '\n') break;
        char ch = (char)c;
        badd(&b, &ch, 1);
    }
    if (c == EOF && b.n == 0) {
        free(b.p);
        return NULL;
    }
    if (!b.p) badds(&b, "");
    if (b.n && b.p[b.n - 1] == '\r') b.p[--b.n] = 0;
    return b.p;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

static int process_input(shell *sh, FILE *in, const char *name) {
    buf stmt = {0};
    int lineno = 0, start_line = 0;
    char *line;
    (void)name;
    while ((line = read_line(sh, in, stmt.n > 0 && !blank(stmt.p))) != NULL) {
        lineno++;
        if ((stmt.n == 0 || blank(stmt.p)) && line[0] == '.') {
            stmt.n = 0;
            if (sh->interactive) hist_add(line);
            int quit = dot_command(sh, line);
            free(line);
            if (quit) {
                free(stmt.p);
                return 1;
            }
            if (sh->bail && sh->nerr) break;
            continue;
        }
        if (stmt.n == 0 || blank(stmt.p)) {
            stmt.n = 0;
            start_line = lineno;
        }
        badds(&stmt, line);
        badds(&stmt, "\n");
        free(line);
        if (sql_complete(stmt.p)) {
            if (sh->interactive) { /* history keeps whole statements, on one line */
                char *h = dupn(stmt.p, stmt.n);
                for (char *q = h; *q; q++)
                    if (*q == '\n') *q = ' ';
                for (size_t k = strlen(h); k > 0 && h[k - 1] == ' '; k--) h[k - 1] = 0;
                hist_add(h);
                free(h);
            }
            run_sql(sh, stmt.p, start_line);
            stmt.n = 0;
            if (sh->bail && sh->nerr) break;
        }
    }
    if (stmt.n && !blank(stmt.p)) run_sql(sh, stmt.p, start_line);
    free(stmt.p);
    return 0;
}

/* ---- main --------------------------------------------------------------------------------------
 */

static void usage(void) {
    fprintf(stderr, "Usage: larder-sql [-batch] [-bail] [-header] [-csv|-json|-box|-column|-list] "
                    "[-cmd COMMAND] [FILE [SQL]...]\n"
                    "  FILE \":memory:\", or no FILE: a transient in-memory database\n");
    exit(2);
}

int main(int argc, char **argv) {
    shell sh = {0};
    strcpy(sh.sep, "|");
    sh.out_tty = isatty(1);
    const char *cmds[16];
    int ncmd = 0, force_batch = 0, a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        const char *o = argv[a] + (argv[a][1] == '-' ? 2 : 1);
        if (!strcmp(o, "batch"))
            force_batch = 1;
        else if (!strcmp(o, "bail"))
            sh.bail = 1;
        else if (!strcmp(o, "header") || !strcmp(o, "headers"))
            sh.headers = 1;
        else if (!strcmp(o, "noheader"))
            sh.headers = 0;
        else if (!strcmp(o, "csv"))
            sh.mode = M_CSV;
        else if (!strcmp(o, "json"))
            sh.mode = M_JSON;
        else if (!strcmp(o, "box"))
            sh.mode = M_BOX;
        else if (!strcmp(o, "column"))
            sh.mode = M_COLUMN;
        else if (!strcmp(o, "list"))
            sh.mode = M_LIST;
        else if (!strcmp(o, "cmd") && a + 1 < argc && ncmd < 16)
            cmds[ncmd++] = argv[++a];
        else if (!strcmp(o, "version")) {
            printf("%s\n", sql_version());
            return 0;
        } else
            usage();
    }
    /* As sqlite3: ":memory:", or no FILE at all, is a database that lives and
     * dies with this process; no file of that name is created. */
    sh.path = a < argc ? argv[a++] : ":memory:";
    int memory = !strcmp(sh.path, ":memory:");
    sql_options opts = {.flags = memory ? SQL_OPEN_MEMORY : SQL_OPEN_CREATE};
    if (sql_open(sh.path, &opts, &sh.db) != SQL_OK) {
        fprintf(stderr, "Error: unable to open database \"%s\": %s\n", sh.path, sql_errmsg(sh.db));
        sql_close(sh.db);
        return 1;
    }
    for (int i = 0; i < ncmd; i++) {
        char *c = dupn(cmds[i], strlen(cmds[i]));
        if (c[0] == '.')
            dot_command(&sh, c);
        else
            run_sql(&sh, c, 1);
        free(c);
    }
    if (a < argc) {
        for (; a < argc; a++) {
            if (argv[a][0] == '.') {
                char *c = dupn(argv[a], strlen(argv[a]));
                int q = dot_command(&sh, c);
                free(c);
                if (q) break;
            } else if (run_sql(&sh, argv[a], 1) && sh.bail) {
                break;
            }
        }
    } else {
        sh.interactive = !force_batch && isatty(0) && isatty(1);
        if (sh.interactive) {
            printf("%s\nEnter \".help\" for usage hints.\n", sql_version());
            if (memory) printf("Connected to a transient in-memory database.\n");
            hist_load();
            signal(SIGPIPE, SIG_IGN);
        }
        process_input(&sh, stdin, "stdin");
    }
    if (sql_close(sh.db) != SQL_OK) fprintf(stderr, "Error: close: %s\n", sql_errmsg(sh.db));
    return sh.nerr ? 1 : 0;
}
