/* sql/parse.c — recursive-descent parser: SQL text -> AST (sqlint.h).
 *
 * One statement per call. Everything is allocated in the caller's arena, so
 * an error anywhere unwinds with longjmp to sqli_parse_statement and the arena
 * takes the half-built tree with it: no cleanup code on error paths, which a
 * fuzzed parser would otherwise get wrong.
 *
 * Operator precedence, loosest first (SQLite's):
 *   OR; AND; NOT; = == != <> IS IN LIKE GLOB BETWEEN ISNULL NOTNULL;
 *   < <= > >=; & | << >>; + -; * / %; ||; unary - + ~; COLLATE
 *
 * Invariants:
 *   1. p->t is always the current (next unconsumed) non-space token.
 *   2. Nesting (expressions, subqueries, parentheses) is bounded by
 *      SQL_MAX_DEPTH, so no input can exhaust the C stack.
 *   3. Every AST node records its byte span [pos, end) in the text, used for
 *      result column names, error offsets and ALTER TABLE rewriting.
 */
#include "sql/sqlint.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef struct parser {
    arena *a;
    const char *z;
    int n;
    token t;
    int prev_end; /* end of the last consumed token */
    int depth;
    jmp_buf jb;
    char *err;
    int errpos;
    int nparam;
    char **pnames; /* by index, arena; grows */
    int pcap;
    int in_trigger;
} parser;

static void perr(parser *p, int pos, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
static void perr(parser *p, int pos, const char *fmt, ...) {
    strb b = {0};
    va_list ap;
    va_start(ap, fmt);
    sqli_strb_vaddf(&b, fmt, ap);
    va_end(ap);
    p->err = sqli_ar_strdup(p->a, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    p->errpos = pos;
    longjmp(p->jb, 1);
}

static void line_col(const char *z, int pos, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (int i = 0; i < pos; i++) {
        if (z[i] == '\n')
            (*line)++, *col = 1;
        else
            (*col)++;
    }
}

static void syntax_error(parser *p) __attribute__((noreturn));
static void syntax_error(parser *p) {
    int line, col;
    line_col(p->z, p->t.pos, &line, &col);
    if (p->t.type == TK_EOF) perr(p, p->t.pos, "incomplete input (line %d, column %d)", line, col);
    if (p->t.type == TK_ILLEGAL)
        perr(p, p->t.pos, "unrecognized token: \"%.*s\" (line %d, column %d)",
             p->t.len > 40 ? 40 : p->t.len, p->t.z, line, col);
    perr(p, p->t.pos, "near \"%.*s\": syntax error (line %d, column %d)",
         p->t.len > 40 ? 40 : p->t.len, p->t.z, line, col);
}

static void advance(parser *p) {
    p->prev_end = p->t.pos + p->t.len;
    int pos = p->prev_end;
    for (;;) {
        sqli_lex_token(p->z, p->n, pos, &p->t);
        if (p->t.type != TK_SPACE) break;
        pos += p->t.len;
    }
}

static int is_kw(parser *p, int kw) {
    return p->t.type == TK_KEYWORD && p->t.kw == kw;
}
static int accept_kw(parser *p, int kw) {
    if (!is_kw(p, kw)) return 0;
    advance(p);
    return 1;
}
/* A word that is no keyword of ours (VIEW), as a bare identifier. */
static int accept_word(parser *p, const char *w) {
    if (p->t.type != TK_ID || p->t.len != (int)strlen(w) || strncasecmp(p->t.z, w, strlen(w)))
        return 0;
    advance(p);
    return 1;
}

static void expect_kw(parser *p, int kw) {
    if (!accept_kw(p, kw)) syntax_error(p);
}
static int accept(parser *p, int type) {
    if (p->t.type != type) return 0;
    advance(p);
    return 1;
}
static void expect(parser *p, int type) {
    if (!accept(p, type)) syntax_error(p);
}

/* Peek at the token after the current one. */
static token peek2(parser *p) {
    token t;
    int pos = p->t.pos + p->t.len;
    for (;;) {
        sqli_lex_token(p->z, p->n, pos, &t);
        if (t.type != TK_SPACE) return t;
        pos += t.len;
    }
}

static void enter(parser *p) {
    if (++p->depth > SQL_MAX_DEPTH)
        perr(p, p->t.pos, "statement too deeply nested (over %d levels)", SQL_MAX_DEPTH);
}
static void leave(parser *p) {
    p->depth--;
}

/* Dequote an identifier or string token into the arena. */
static char *dequote(parser *p, const token *t) {
    char q = t->z[0];
    if (t->type == TK_ID && q == '[') return sqli_ar_strndup(p->a, t->z + 1, (size_t)t->len - 2);
    if ((t->type == TK_ID || t->type == TK_STRING) && (q == '"' || q == '`' || q == '\'')) {
        char *o = sqli_ar_alloc(p->a, (size_t)t->len);
        int k = 0;
        for (int i = 1; i < t->len - 1; i++) {
            o[k++] = t->z[i];
            if (t->z[i] == q) i++;
        }
        o[k] = 0;
        return o;
    }
    return sqli_ar_strndup(p->a, t->z, (size_t)t->len);
}

static int at_name(parser *p) {
    return p->t.type == TK_ID || (p->t.type == TK_KEYWORD && !sqli_kw_reserved(p->t.kw));
}

/* An identifier (or non-reserved keyword used as one). */
static char *parse_name(parser *p) {
    if (!at_name(p)) syntax_error(p);
    char *s = dequote(p, &p->t);
    advance(p);
    return s;
}

static expr *new_expr(parser *p, int op, int pos) {
    expr *e = sqli_ar_alloc(p->a, sizeof *e);
    e->op = (uint8_t)op;
    e->lit.type = SQL_NULL;
    e->pos = pos;
    e->end = p->prev_end;
    e->cur = -1;
    e->slot = -1;
    return e;
}

static expr *binop(parser *p, int op, expr *l, expr *r) {
    expr *e = new_expr(p, op, l->pos);
    e->l = l;
    e->r = r;
    e->end = r->end;
    return e;
}

/* ---- expressions ----------------------------------------------------------------- */

static expr *parse_expr(parser *p);
static query *parse_select(parser *p);
static expr *parse_unary(parser *p);

typedef struct exprlist {
    expr **v;
    int n, cap;
} exprlist;

static void el_push(parser *p, exprlist *l, expr *e) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        expr **v = sqli_ar_alloc(p->a, sizeof *v * (size_t)cap);
        if (l->n) memcpy(v, l->v, sizeof *v * (size_t)l->n);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
}

/* Generic growable array in the arena. */
static void *grow(parser *p, void *v, int n, int *cap, size_t sz) {
    if (n < *cap) return v;
    int nc = *cap ? *cap * 2 : 4;
    void *nv = sqli_ar_alloc(p->a, sz * (size_t)nc);
    if (n) memcpy(nv, v, sz * (size_t)n);
    *cap = nc;
    return nv;
}

static int param_index(parser *p, const token *t) {
    int idx;
    if (t->z[0] == '?') {
        if (t->len == 1) {
            idx = p->nparam + 1;
        } else {
            long v = strtol(t->z + 1, NULL, 10);
            if (v < 1 || v > 32766 || t->len > 6)
                perr(p, t->pos, "variable number must be between ?1 and ?32766");
            idx = (int)v;
        }
    } else {
        for (int i = 1; i <= p->nparam; i++)
            if (p->pnames[i] && (int)strlen(p->pnames[i]) == t->len &&
                memcmp(p->pnames[i], t->z, (size_t)t->len) == 0)
                return i;
        idx = p->nparam + 1;
    }
    if (idx > p->nparam) {
        if (idx >= p->pcap) {
            int cap = p->pcap ? p->pcap : 8;
            while (cap <= idx) cap *= 2;
            char **nv = sqli_ar_alloc(p->a, sizeof *nv * (size_t)cap);
            if (p->pnames) memcpy(nv, p->pnames, sizeof *nv * (size_t)p->pcap);
            p->pnames = nv;
            p->pcap = cap;
        }
        p->nparam = idx;
    }
    if (t->z[0] != '?') p->pnames[idx] = sqli_ar_strndup(p->a, t->z, (size_t)t->len);
    return idx;
}

static expr *lit_int(parser *p, int pos, int64_t v) {
    expr *e = new_expr(p, E_LIT, pos);
    val_set_int(&e->lit, v);
    return e;
}

static expr *parse_number(parser *p) {
    expr *e = new_expr(p, E_LIT, p->t.pos);
    const char *z = p->t.z;
    int n = p->t.len;
    if (p->t.type == TK_INTEGER && n > 2 && z[0] == '0' && (z[1] == 'x' || z[1] == 'X')) {
        if (n - 2 > 16) perr(p, p->t.pos, "hex literal too big: %.*s", n, z);
        uint64_t u = 0;
        for (int i = 2; i < n; i++)
            u = u * 16 + (uint64_t)(isdigit((unsigned char)z[i])
                                        ? z[i] - '0'
                                        : (tolower((unsigned char)z[i]) - 'a' + 10));
        val_set_int(&e->lit, (int64_t)u);
    } else {
        int64_t i;
        double r;
        int k = sqli_num_parse(z, (size_t)n, &i, &r);
        if (k == 1 && p->t.type == TK_INTEGER)
            val_set_int(&e->lit, i);
        else
            val_set_real(&e->lit, k == 1 ? (double)i : r);
    }
    advance(p);
    e->end = p->prev_end;
    return e;
}

static expr *parse_blob_lit(parser *p) {
    expr *e = new_expr(p, E_LIT, p->t.pos);
    int nb = (p->t.len - 3) / 2;
    uint8_t *b = sqli_ar_alloc(p->a, (size_t)nb + 1);
    for (int i = 0; i < nb; i++) {
        char h[3] = {p->t.z[2 + 2 * i], p->t.z[3 + 2 * i], 0};
        b[i] = (uint8_t)strtol(h, NULL, 16);
    }
    val_set_blob_ref(&e->lit, b, (size_t)nb);
    advance(p);
    e->end = p->prev_end;
    return e;
}

/* A type name: one or more names, then an optional (n) or (n, m). Returns its
 * text. */
static char *parse_typename(parser *p) {
    int start = p->t.pos;
    if (!at_name(p)) syntax_error(p);
    while (at_name(p) && !is_kw(p, KW_GENERATED)) advance(p);
    if (accept(p, TK_LP)) {
        if (!accept(p, TK_MINUS)) accept(p, TK_PLUS);
        if (p->t.type != TK_INTEGER && p->t.type != TK_FLOAT) syntax_error(p);
        advance(p);
        if (accept(p, TK_COMMA)) {
            if (!accept(p, TK_MINUS)) accept(p, TK_PLUS);
            if (p->t.type != TK_INTEGER && p->t.type != TK_FLOAT) syntax_error(p);
            advance(p);
        }
        expect(p, TK_RP);
    }
    return sqli_ar_strndup(p->a, p->z + start, (size_t)(p->prev_end - start));
}

static expr *parse_case(parser *p, int pos) {
    expr *e = new_expr(p, E_CASE, pos);
    exprlist l = {0};
    if (!is_kw(p, KW_WHEN)) e->l = parse_expr(p);
    if (!is_kw(p, KW_WHEN)) syntax_error(p);
    while (accept_kw(p, KW_WHEN)) {
        el_push(p, &l, parse_expr(p));
        expect_kw(p, KW_THEN);
        el_push(p, &l, parse_expr(p));
    }
    if (accept_kw(p, KW_ELSE)) e->r = parse_expr(p);
    expect_kw(p, KW_END);
    e->args = l.v;
    e->nargs = l.n;
    e->end = p->prev_end;
    return e;
}

static void parse_order(parser *p, orderterm **out, int *nout);
static expr *parse_not(parser *p);

static int is_word(parser *p, const char *w) {
    return p->t.type == TK_ID && p->t.len == (int)strlen(w) && !strncasecmp(p->t.z, w, strlen(w));
}

/* A frame bound: UNBOUNDED PRECEDING|FOLLOWING, CURRENT ROW, expr
 * PRECEDING|FOLLOWING. */
static int parse_frame_bound(parser *p, expr **n) {
    if (accept_word(p, "unbounded")) {
        if (accept_word(p, "preceding")) return FB_UNB_PREC;
        if (accept_word(p, "following")) return FB_UNB_FOLL;
        syntax_error(p);
    }
    if (accept_word(p, "current")) {
        expect_kw(p, KW_ROW);
        return FB_CURRENT;
    }
    *n = parse_not(p); /* not AND: BETWEEN n PRECEDING AND ... */
    if (accept_word(p, "preceding")) return FB_PREC;
    if (accept_word(p, "following")) return FB_FOLL;
    syntax_error(p);
}

/* The inside of OVER (...) / WINDOW name AS (...). */
static windef *parse_window_spec(parser *p) {
    windef *w = sqli_ar_alloc(p->a, sizeof *w);
    w->pos = p->t.pos;
    expect(p, TK_LP);
    if (p->t.type == TK_ID && !is_word(p, "partition") && !is_word(p, "rows") &&
        !is_word(p, "range") && !is_word(p, "groups"))
        w->base = parse_name(p);
    if (accept_word(p, "partition")) {
        expect_kw(p, KW_BY);
        exprlist l = {0};
        do el_push(p, &l, parse_expr(p));
        while (accept(p, TK_COMMA));
        w->part = l.v;
        w->npart = l.n;
    }
    if (accept_kw(p, KW_ORDER)) {
        expect_kw(p, KW_BY);
        parse_order(p, &w->order, &w->norder);
    }
    if (accept_word(p, "rows"))
        w->frame = FR_ROWS;
    else if (accept_word(p, "range"))
        w->frame = FR_RANGE;
    else if (accept_word(p, "groups"))
        w->frame = FR_GROUPS;
    if (w->frame) {
        if (accept_kw(p, KW_BETWEEN)) {
            w->start = parse_frame_bound(p, &w->start_n);
            expect_kw(p, KW_AND);
            w->end = parse_frame_bound(p, &w->end_n);
        } else {
            w->start = parse_frame_bound(p, &w->start_n);
            w->end = FB_CURRENT;
        }
        if (accept_word(p, "exclude")) {
            if (accept_kw(p, KW_NO)) {
                if (!accept_word(p, "others")) syntax_error(p);
            } else if (accept_word(p, "current")) {
                expect_kw(p, KW_ROW);
                w->exclude = EX_CURRENT;
            } else if (accept_kw(p, KW_GROUP)) {
                w->exclude = EX_GROUP;
            } else if (accept_word(p, "ties")) {
                w->exclude = EX_TIES;
            } else {
                syntax_error(p);
            }
        }
    }
    expect(p, TK_RP);
    return w;
}

static expr *parse_func(parser *p, char *name, int pos) {
    expr *e = new_expr(p, E_FUNC, pos);
    e->name = name;
    expect(p, TK_LP);
    exprlist l = {0};
    if (accept(p, TK_STAR)) {
        e->flags |= EF_STAR;
    } else if (p->t.type != TK_RP) {
        if (accept_kw(p, KW_DISTINCT))
            e->flags |= EF_DISTINCT;
        else
            accept_kw(p, KW_ALL);
        do el_push(p, &l, parse_expr(p));
        while (accept(p, TK_COMMA));
    }
    expect(p, TK_RP);
    token t2 = peek2(p);
    if (t2.type == TK_LP && accept_word(p, "filter")) { /* the filter lives in r */
        expect(p, TK_LP);
        expect_kw(p, KW_WHERE);
        e->r = parse_expr(p);
        expect(p, TK_RP);
        t2 = peek2(p);
    }
    if ((t2.type == TK_LP || t2.type == TK_ID) && accept_word(p, "over")) {
        if (p->t.type == TK_LP) {
            e->win = parse_window_spec(p);
        } else {
            e->win = sqli_ar_alloc(p->a, sizeof *e->win);
            e->win->pos = p->t.pos;
            e->win->name = parse_name(p);
        }
    }
    e->args = l.v;
    e->nargs = l.n;
    e->end = p->prev_end;
    return e;
}

static expr *parse_raise(parser *p, int pos) {
    expr *e = new_expr(p, E_RAISE, pos);
    expect(p, TK_LP);
    if (accept_kw(p, KW_IGNORE)) {
        e->param = OE_IGNORE;
    } else {
        if (accept_kw(p, KW_ABORT))
            e->param = OE_ABORT;
        else if (accept_kw(p, KW_FAIL))
            e->param = OE_FAIL;
        else if (accept_kw(p, KW_ROLLBACK))
            e->param = OE_ROLLBACK;
        else
            syntax_error(p);
        expect(p, TK_COMMA);
        if (p->t.type != TK_STRING) syntax_error(p);
        e->name = dequote(p, &p->t);
        advance(p);
    }
    expect(p, TK_RP);
    e->end = p->prev_end;
    return e;
}

static expr *parse_paren(parser *p, int pos) {
    if (is_kw(p, KW_SELECT) || is_kw(p, KW_VALUES) || is_kw(p, KW_WITH)) {
        expr *e = new_expr(p, E_SUBQ, pos);
        e->sub = parse_select(p);
        expect(p, TK_RP);
        e->end = p->prev_end;
        return e;
    }
    expr *e = parse_expr(p);
    if (p->t.type == TK_COMMA) perr(p, p->t.pos, "row values are not supported");
    expect(p, TK_RP);
    /* keep the parentheses in the span, for result column names */
    e->pos = pos;
    e->end = p->prev_end;
    return e;
}

static expr *parse_ident_expr(parser *p) {
    int pos = p->t.pos, dq = p->t.z[0] == '"';
    char *n1 = parse_name(p);
    if (p->t.type == TK_LP) return parse_func(p, n1, pos);
    expr *e = new_expr(p, E_COL, pos);
    if (accept(p, TK_DOT)) {
        e->tab_pos = pos;
        e->tab = n1;
        if (p->t.type == TK_STAR) syntax_error(p);
        e->name = parse_name(p);
        if (accept(p, TK_DOT)) { /* schema.table.column: schema must be main */
            if (!sqli_name_eq(n1, "main")) perr(p, pos, "unknown database %s", n1);
            e->tab = e->name;
            e->name = parse_name(p);
        }
    } else {
        e->name = n1;
        if (dq) e->flags |= EF_DQUOTED;
    }
    e->end = p->prev_end;
    return e;
}

static expr *parse_keyword_primary(parser *p) {
    int pos = p->t.pos;
    switch (p->t.kw) {
    case KW_NULL: {
        advance(p);
        expr *e = new_expr(p, E_LIT, pos);
        val_set_null(&e->lit);
        return e;
    }
    case KW_TRUE:
        advance(p);
        return lit_int(p, pos, 1);
    case KW_FALSE:
        advance(p);
        return lit_int(p, pos, 0);
    case KW_CASE:
        advance(p);
        return parse_case(p, pos);
    case KW_CAST: {
        advance(p);
        expect(p, TK_LP);
        expr *e = new_expr(p, E_CAST, pos);
        e->l = parse_expr(p);
        expect_kw(p, KW_AS);
        e->name = parse_typename(p);
        sqli_type_affinity(e->name, &e->aff, &e->kind, &e->cast_p, &e->cast_s);
        expect(p, TK_RP);
        e->end = p->prev_end;
        return e;
    }
    case KW_EXISTS: {
        advance(p);
        expect(p, TK_LP);
        expr *e = new_expr(p, E_EXISTS, pos);
        e->sub = parse_select(p);
        expect(p, TK_RP);
        e->end = p->prev_end;
        return e;
    }
    case KW_RAISE:
        advance(p);
        return parse_raise(p, pos);
    case KW_CURRENT_TIMESTAMP:
    case KW_CURRENT_DATE:
    case KW_CURRENT_TIME: {
        expr *e = new_expr(p, E_FUNC, pos);
        e->name = p->t.kw == KW_CURRENT_TIMESTAMP ? "current_timestamp"
                  : p->t.kw == KW_CURRENT_DATE    ? "current_date"
                                                  : "current_time";
        advance(p);
        e->end = p->prev_end;
        return e;
    }
    case KW_DEFAULT:
        advance(p);
        return new_expr(p, E_DEFAULT, pos);
    default:
        if (!sqli_kw_reserved(p->t.kw)) return parse_ident_expr(p);
        syntax_error(p);
    }
}

static expr *parse_primary(parser *p) {
    int pos = p->t.pos;
    expr *e;
    switch (p->t.type) {
    case TK_INTEGER:
    case TK_FLOAT:
        return parse_number(p);
    case TK_STRING: {
        e = new_expr(p, E_LIT, pos);
        char *s = dequote(p, &p->t);
        val_set_text_ref(&e->lit, s, strlen(s));
        advance(p);
        e->end = p->prev_end;
        return e;
    }
    case TK_BLOB:
        return parse_blob_lit(p);
    case TK_PARAM:
        e = new_expr(p, E_PARAM, pos);
        e->param = param_index(p, &p->t);
        advance(p);
        e->end = p->prev_end;
        return e;
    case TK_LP:
        advance(p);
        return parse_paren(p, pos);
    case TK_ID:
        return parse_ident_expr(p);
    case TK_KEYWORD:
        return parse_keyword_primary(p);
    default:
        syntax_error(p);
    }
}

static expr *parse_postfix(parser *p) {
    expr *e = parse_primary(p);
    while (is_kw(p, KW_COLLATE)) {
        advance(p);
        expr *c = new_expr(p, E_COLLATE, e->pos);
        c->l = e;
        c->name = parse_name(p);
        if (!sqli_name_eq(c->name, "binary") && !sqli_name_eq(c->name, "nocase") &&
            !sqli_name_eq(c->name, "rtrim"))
            perr(p, c->pos, "no such collation sequence: %s", c->name);
        c->end = p->prev_end;
        e = c;
    }
    return e;
}

static expr *parse_unary(parser *p) {
    int pos = p->t.pos, op = 0;
    if (p->t.type == TK_MINUS)
        op = E_NEG;
    else if (p->t.type == TK_PLUS)
        op = E_POS;
    else if (p->t.type == TK_BITNOT)
        op = E_BITNOT;
    if (!op) return parse_postfix(p);
    advance(p);
    enter(p);
    expr *x = parse_unary(p);
    leave(p);
    /* fold -literal so that -9223372036854775808 is an integer */
    if (op == E_NEG && x->op == E_LIT && x->lit.type == SQL_INTEGER && x->lit.u.i != INT64_MIN) {
        x->lit.u.i = -x->lit.u.i;
        x->pos = pos;
        return x;
    }
    if (op == E_NEG && x->op == E_LIT && x->lit.type == SQL_FLOAT) {
        const char *d = p->z + x->pos; /* -9223372036854775808 is an integer */
        if (x->end - x->pos == 19 && strncmp(d, "9223372036854775808", 19) == 0) {
            val_set_int(&x->lit, INT64_MIN);
            x->pos = pos;
            return x;
        }
        x->lit.u.r = -x->lit.u.r;
        x->pos = pos;
        return x;
    }
    expr *e = new_expr(p, op, pos);
    e->l = x;
    e->end = x->end;
    return e;
}

/* "->" and "->>" lex as "-" ">" and "-" ">>" written together: 1 or 2. */
static int json_arrow(parser *p) {
    if (p->t.type != TK_MINUS) return 0;
    token t2 = peek2(p);
    if (t2.pos != p->t.pos + 1 || (t2.type != TK_GT && t2.type != TK_SHR)) return 0;
    return t2.type == TK_GT ? 1 : 2;
}

static expr *parse_concat(parser *p) {
    expr *e = parse_unary(p);
    for (int arrow;;) {
        if (p->t.type == TK_CONCAT) {
            advance(p);
            e = binop(p, E_CONCAT, e, parse_unary(p));
        } else if ((arrow = json_arrow(p))) { /* x -> p: the function "->"(x, p) */
            advance(p);
            advance(p);
            expr *f = new_expr(p, E_FUNC, e->pos);
            f->name = arrow == 1 ? "->" : "->>";
            f->args = sqli_ar_alloc(p->a, sizeof(expr *) * 2);
            f->args[0] = e;
            f->args[1] = parse_unary(p);
            f->nargs = 2;
            f->end = p->prev_end;
            e = f;
        } else {
            return e;
        }
    }
}

static expr *parse_mul(parser *p) {
    expr *e = parse_concat(p);
    for (;;) {
        int op = p->t.type == TK_STAR      ? E_MUL
                 : p->t.type == TK_SLASH   ? E_DIV
                 : p->t.type == TK_PERCENT ? E_MOD
                                           : 0;
        if (!op) return e;
        advance(p);
        e = binop(p, op, e, parse_concat(p));
    }
}

static expr *parse_add(parser *p) {
    expr *e = parse_mul(p);
    for (;;) {
        int op = p->t.type == TK_PLUS ? E_ADD : p->t.type == TK_MINUS ? E_SUB : 0;
        if (!op) return e;
        advance(p);
        e = binop(p, op, e, parse_mul(p));
    }
}

static expr *parse_bits(parser *p) {
    expr *e = parse_add(p);
    for (;;) {
        int op = p->t.type == TK_BITAND  ? E_BITAND
                 : p->t.type == TK_BITOR ? E_BITOR
                 : p->t.type == TK_SHL   ? E_SHL
                 : p->t.type == TK_SHR   ? E_SHR
                                         : 0;
        if (!op) return e;
        advance(p);
        e = binop(p, op, e, parse_add(p));
    }
}

static expr *parse_cmp(parser *p) {
    expr *e = parse_bits(p);
    for (;;) {
        int op = p->t.type == TK_LT   ? E_LT
                 : p->t.type == TK_LE ? E_LE
                 : p->t.type == TK_GT ? E_GT
                 : p->t.type == TK_GE ? E_GE
                                      : 0;
        if (!op) return e;
        advance(p);
        e = binop(p, op, e, parse_bits(p));
    }
}

/* "x IN name": x IN (SELECT * FROM name), name a table, view or CTE. */
static expr *parse_in_table(parser *p, expr *l, int neg) {
    query *s = sqli_ar_alloc(p->a, sizeof *s);
    s->pos = p->t.pos;
    s->cols = sqli_ar_alloc(p->a, sizeof *s->cols);
    s->ncol = 1;
    s->cols[0].e = new_expr(p, E_COL, p->t.pos);
    s->cols[0].e->name = "*";
    s->src = sqli_ar_alloc(p->a, sizeof *s->src);
    s->nsrc = 1;
    s->src[0].cur = -1;
    s->src[0].pos = p->t.pos;
    s->src[0].name = parse_name(p);
    if (accept(p, TK_DOT)) {
        if (!sqli_name_eq(s->src[0].name, "main"))
            perr(p, s->pos, "unknown database %s", s->src[0].name);
        s->src[0].name = parse_name(p);
    }
    expr *e = new_expr(p, E_IN_SEL, l->pos);
    e->sub = s;
    e->l = l;
    if (neg) e->flags |= EF_NOT;
    e->end = p->prev_end;
    return e;
}

static expr *parse_in_rhs(parser *p, expr *l, int neg) {
    if (p->t.type != TK_LP && at_name(p)) return parse_in_table(p, l, neg);
    expect(p, TK_LP);
    expr *e;
    if (is_kw(p, KW_SELECT) || is_kw(p, KW_VALUES) || is_kw(p, KW_WITH)) {
        e = new_expr(p, E_IN_SEL, l->pos);
        e->sub = parse_select(p);
    } else {
        e = new_expr(p, E_IN_LIST, l->pos);
        exprlist el = {0};
        if (p->t.type != TK_RP) {
            do el_push(p, &el, parse_expr(p));
            while (accept(p, TK_COMMA));
        }
        e->args = el.v;
        e->nargs = el.n;
    }
    expect(p, TK_RP);
    e->l = l;
    if (neg) e->flags |= EF_NOT;
    e->end = p->prev_end;
    return e;
}

static expr *null_test(parser *p, expr *l, int op) {
    expr *e = new_expr(p, op, l->pos);
    e->l = l;
    e->end = p->prev_end;
    return e;
}

/* IS [NOT] [DISTINCT FROM] rhs */
static expr *parse_is(parser *p, expr *l) {
    int neg = accept_kw(p, KW_NOT);
    int distinct = 0;
    if (is_kw(p, KW_DISTINCT)) {
        advance(p);
        expect_kw(p, KW_FROM);
        distinct = 1;
    }
    expr *r = parse_cmp(p);
    if (neg ^ distinct) {
        if (r->op == E_LIT && r->lit.type == SQL_NULL) return null_test(p, l, E_NOTNULL);
        return binop(p, E_ISNOT, l, r);
    }
    if (r->op == E_LIT && r->lit.type == SQL_NULL) return null_test(p, l, E_ISNULL);
    return binop(p, E_IS, l, r);
}

static expr *parse_like(parser *p, expr *l, int neg, int glob) {
    expr *e = binop(p, E_LIKE, l, parse_cmp(p));
    if (glob) e->flags |= EF_GLOB;
    if (neg) e->flags |= EF_NOT;
    if (!glob && accept_kw(p, KW_ESCAPE)) {
        e->args = sqli_ar_alloc(p->a, sizeof(expr *));
        e->args[0] = parse_cmp(p);
        e->nargs = 1;
    }
    e->end = p->prev_end;
    return e;
}

static expr *parse_between(parser *p, expr *l, int neg) {
    expr *e = new_expr(p, E_BETWEEN, l->pos);
    e->l = l;
    e->args = sqli_ar_alloc(p->a, 2 * sizeof(expr *));
    e->args[0] = parse_cmp(p);
    expect_kw(p, KW_AND);
    e->args[1] = parse_cmp(p);
    e->nargs = 2;
    if (neg) e->flags |= EF_NOT;
    e->end = p->prev_end;
    return e;
}

static expr *parse_match(parser *p, expr *l) {
    int pos = p->t.pos;
    advance(p);
    expr *e = new_expr(p, E_FUNC, pos);
    e->name = sqli_ar_strdup(p->a, "match");
    e->args = sqli_ar_alloc(p->a, sizeof(expr *) * 2);
    e->args[0] = l;
    e->args[1] = parse_cmp(p);
    e->nargs = 2;
    e->pos = l->pos;
    e->end = p->prev_end;
    return e;
}

static expr *parse_eq(parser *p) {
    expr *e = parse_cmp(p);
    for (;;) {
        if (p->t.type == TK_EQ || p->t.type == TK_NE) {
            int op = p->t.type == TK_EQ ? E_EQ : E_NE;
            advance(p);
            e = binop(p, op, e, parse_cmp(p));
            continue;
        }
        if (p->t.type == TK_ID && p->t.len == 5 && strncasecmp(p->t.z, "match", 5) == 0) {
            e = parse_match(p, e); /* x MATCH q: the full-text function match(x, q) */
            continue;
        }
        if (p->t.type != TK_KEYWORD) return e;
        int neg = 0;
        if (is_kw(p, KW_NOT)) {
            token t2 = peek2(p);
            if (t2.type != TK_KEYWORD) return e;
            if (t2.kw == KW_NULL) {
                advance(p);
                advance(p);
                e = null_test(p, e, E_NOTNULL);
                continue;
            }
            if (t2.kw != KW_IN && t2.kw != KW_LIKE && t2.kw != KW_GLOB && t2.kw != KW_BETWEEN)
                return e;
            advance(p);
            neg = 1;
        }
        int kw = p->t.kw;
        switch (kw) {
        case KW_IS:
            advance(p);
            e = parse_is(p, e);
            break;
        case KW_ISNULL:
            advance(p);
            e = null_test(p, e, E_ISNULL);
            break;
        case KW_NOTNULL:
            advance(p);
            e = null_test(p, e, E_NOTNULL);
            break;
        case KW_IN:
            advance(p);
            e = parse_in_rhs(p, e, neg);
            break;
        case KW_LIKE:
        case KW_GLOB:
            advance(p);
            e = parse_like(p, e, neg, kw == KW_GLOB);
            break;
        case KW_BETWEEN:
            advance(p);
            e = parse_between(p, e, neg);
            break;
        case KW_REGEXP:
            perr(p, p->t.pos, "REGEXP is not supported");
        default:
            return e;
        }
    }
}

static expr *parse_not(parser *p) {
    if (is_kw(p, KW_NOT)) {
        int pos = p->t.pos;
        advance(p);
        enter(p);
        expr *x = parse_not(p);
        leave(p);
        expr *e = new_expr(p, E_NOT, pos);
        e->l = x;
        e->end = x->end;
        return e;
    }
    return parse_eq(p);
}

static expr *parse_and(parser *p) {
    expr *e = parse_not(p);
    while (accept_kw(p, KW_AND)) e = binop(p, E_AND, e, parse_not(p));
    return e;
}

static expr *parse_expr(parser *p) {
    enter(p);
    expr *e = parse_and(p);
    while (accept_kw(p, KW_OR)) e = binop(p, E_OR, e, parse_and(p));
    leave(p);
    return e;
}

/* ---- SELECT ---------------------------------------------------------------------- */

static void parse_rescols(parser *p, query *s) {
    int cap = 0;
    do {
        s->cols = grow(p, s->cols, s->ncol, &cap, sizeof *s->cols);
        rescol *rc = &s->cols[s->ncol++];
        int pos = p->t.pos;
        if (p->t.type == TK_STAR) {
            advance(p);
            rc->e = new_expr(p, E_COL, pos);
            rc->e->name = "*";
            continue;
        }
        if (at_name(p)) { /* t.* */
            token t2 = peek2(p);
            if (t2.type == TK_DOT) {
                int save_pos = p->t.pos;
                token save = p->t;
                int save_prev = p->prev_end;
                char *tn = parse_name(p);
                advance(p); /* the dot */
                if (p->t.type == TK_STAR) {
                    advance(p);
                    rc->e = new_expr(p, E_COL, pos);
                    rc->e->name = "*";
                    rc->e->tab = tn;
                    rc->e->tab_pos = save_pos;
                    continue;
                }
                p->t = save; /* not t.*: parse as an expression */
                p->prev_end = save_prev;
            }
        }
        rc->e = parse_expr(p);
        if (accept_kw(p, KW_AS)) {
            if (p->t.type == TK_STRING) {
                rc->alias = dequote(p, &p->t);
                advance(p);
            } else {
                rc->alias = parse_name(p);
            }
        } else if (p->t.type == TK_ID || p->t.type == TK_STRING) {
            rc->alias = dequote(p, &p->t);
            advance(p);
        }
    } while (accept(p, TK_COMMA));
}

static char *opt_alias(parser *p) {
    if (accept_kw(p, KW_AS)) return parse_name(p);
    if (p->t.type == TK_ID) {
        token t2 = peek2(p); /* "FROM t WINDOW w AS (...)": WINDOW starts a clause */
        if (is_word(p, "window") && t2.type == TK_ID) return NULL;
        return parse_name(p);
    }
    return NULL;
}

/* name or db.name, db being main or temp: the name; *dbq 1 main, 2 temp;
 * *name_pos (if given) the offset of the name's token. */
static char *parse_qname_at(parser *p, int *dbq, int *name_pos) {
    int pos = p->t.pos;
    if (name_pos) *name_pos = pos;
    char *n = parse_name(p);
    if (!accept(p, TK_DOT)) return n;
    if (sqli_name_eq(n, "main"))
        *dbq = 1;
    else if (sqli_name_eq(n, "temp"))
        *dbq = 2;
    else
        perr(p, pos, "unknown database %s", n);
    if (name_pos) *name_pos = p->t.pos;
    return parse_name(p);
}

static char *parse_qname(parser *p, int *dbq) {
    return parse_qname_at(p, dbq, NULL);
}

static void parse_using(parser *p, srcitem *it) {
    expect(p, TK_LP);
    int cap = 0;
    do {
        it->usingv = grow(p, it->usingv, it->nusing, &cap, sizeof(char *));
        it->usingv[it->nusing++] = parse_name(p);
    } while (accept(p, TK_COMMA));
    expect(p, TK_RP);
}

static void parse_table_ref(parser *p, srcitem *it) {
    it->pos = p->t.pos;
    if (accept(p, TK_LP)) {
        enter(p);
        it->sub = parse_select(p);
        leave(p);
        expect(p, TK_RP);
        it->alias = opt_alias(p);
        return;
    }
    it->name = parse_name(p);
    if (accept(p, TK_DOT)) { /* another database than main or temp: "no such table: x.t" */
        char *db = it->name;
        it->name = parse_name(p);
        it->dbq = sqli_name_eq(db, "main") ? 1 : sqli_name_eq(db, "temp") ? 2 : 3;
        if (it->dbq == 3) it->name = sqli_ar_printf(p->a, "%s.%s", db, it->name);
    }
    if (p->t.type == TK_LP) { /* a table-valued function: json_each(...), json_tree(...) */
        it->fargs = new_expr(p, E_LIST, p->t.pos);
        advance(p);
        exprlist l = {0};
        if (p->t.type != TK_RP) {
            do el_push(p, &l, parse_expr(p));
            while (accept(p, TK_COMMA));
        }
        expect(p, TK_RP);
        it->fargs->args = l.v;
        it->fargs->nargs = l.n;
    }
    token t2 = peek2(p);
    int indexed_next = p->t.type == TK_ID && p->t.len == 7 &&
                       strncasecmp(p->t.z, "indexed", 7) == 0 && t2.type == TK_KEYWORD &&
                       t2.kw == KW_BY;
    if (it->fargs && (indexed_next || is_kw(p, KW_NOT))) syntax_error(p);
    if (!indexed_next) it->alias = opt_alias(p);
    if (accept_word(p, "indexed")) {
        expect_kw(p, KW_BY);
        it->indexed_by = parse_name(p);
    } else if (accept_kw(p, KW_NOT)) {
        if (!accept_word(p, "indexed")) syntax_error(p);
        it->not_indexed = 1;
    }
}

/* Join operator before the next table; returns 0 at the end of the list. */
static int parse_join_op(parser *p, srcitem *it) {
    if (accept(p, TK_COMMA)) return 1;
    int natural = accept_kw(p, KW_NATURAL), jt = JT_INNER;
    if (accept_kw(p, KW_LEFT)) {
        accept_kw(p, KW_OUTER);
        jt = JT_LEFT;
    } else if (accept_kw(p, KW_INNER)) {
        jt = JT_INNER;
    } else if (accept_kw(p, KW_CROSS)) {
        jt = JT_CROSS;
    } else if (is_kw(p, KW_RIGHT) || is_kw(p, KW_FULL)) {
        perr(p, p->t.pos, "RIGHT and FULL OUTER JOINs are not supported");
    } else if (!is_kw(p, KW_JOIN)) {
        if (natural) syntax_error(p);
        return 0;
    }
    expect_kw(p, KW_JOIN);
    it->jointype = jt;
    it->natural = natural;
    return 1;
}

static void parse_from_list(parser *p, query *s, int *cap, expr **group_on);

/* "( join-clause )" in FROM, after an inner join or first: its items join
 * the block's FROM list (inner joins associate), its ON becomes a WHERE
 * term. */
static void parse_join_group(parser *p, query *s, int *cap, int jt, int nat, expr **group_on) {
    int pos = p->t.pos, first = s->nsrc;
    if (jt == JT_LEFT || nat)
        perr(p, pos, "a parenthesized join after a LEFT or NATURAL join is not supported");
    expect(p, TK_LP);
    enter(p);
    parse_from_list(p, s, cap, group_on);
    leave(p);
    expect(p, TK_RP);
    s->src[first].jointype = jt;
    if (accept_kw(p, KW_ON)) {
        if (first == 0) perr(p, p->prev_end, "a JOIN clause is required before ON");
        expr *e = parse_expr(p);
        *group_on = *group_on ? binop(p, E_AND, *group_on, e) : e;
    } else if (is_kw(p, KW_USING)) {
        perr(p, p->t.pos, "USING after a parenthesized join is not supported");
    }
}

static int join_group_next(parser *p) {
    if (p->t.type != TK_LP) return 0;
    token t2 = peek2(p);
    return !(t2.type == TK_KEYWORD &&
             (t2.kw == KW_SELECT || t2.kw == KW_VALUES || t2.kw == KW_WITH));
}

static void parse_from_list(parser *p, query *s, int *cap, expr **group_on) {
    int jt = JT_INNER, nat = 0;
    for (;;) {
        if (join_group_next(p)) {
            parse_join_group(p, s, cap, jt, nat, group_on);
            srcitem op = {0};
            if (!parse_join_op(p, &op)) return;
            jt = op.jointype;
            nat = op.natural;
            continue;
        }
        s->src = grow(p, s->src, s->nsrc, cap, sizeof *s->src);
        srcitem *it = &s->src[s->nsrc++];
        memset(it, 0, sizeof *it);
        it->cur = -1;
        it->jointype = jt;
        it->natural = nat;
        parse_table_ref(p, it);
        if (accept_kw(p, KW_ON)) {
            if (s->nsrc == 1) perr(p, p->prev_end, "a JOIN clause is required before ON");
            it->on = parse_expr(p);
        } else if (accept_kw(p, KW_USING)) {
            if (s->nsrc == 1) perr(p, p->prev_end, "a JOIN clause is required before USING");
            parse_using(p, it);
        }
        if ((it->on || it->nusing) && it->natural)
            perr(p, it->pos, "a NATURAL join may not have an ON or USING clause");
        srcitem op = {0};
        if (!parse_join_op(p, &op)) return;
        jt = op.jointype;
        nat = op.natural;
    }
}

/* The FROM list; returns the ON terms of parenthesized joins (WHERE terms). */
static expr *parse_from(parser *p, query *s) {
    int cap = 0;
    expr *group_on = NULL;
    parse_from_list(p, s, &cap, &group_on);
    return group_on;
}

static void parse_exprlist(parser *p, expr ***v, int *n) {
    exprlist l = {0};
    do el_push(p, &l, parse_expr(p));
    while (accept(p, TK_COMMA));
    *v = l.v;
    *n = l.n;
}

static void parse_values(parser *p, query *s) {
    int cap = 0;
    do {
        expect(p, TK_LP);
        expr **row;
        int n;
        parse_exprlist(p, &row, &n);
        expect(p, TK_RP);
        if (s->nvalues && n != s->ncol)
            perr(p, p->prev_end, "all VALUES must have the same number of terms");
        s->ncol = n;
        s->values = grow(p, s->values, s->nvalues, &cap, sizeof *s->values);
        s->values[s->nvalues++] = row;
    } while (accept(p, TK_COMMA));
}

static query *parse_core(parser *p) {
    query *s = sqli_ar_alloc(p->a, sizeof *s);
    s->pos = p->t.pos;
    if (accept_kw(p, KW_VALUES)) {
        parse_values(p, s);
        return s;
    }
    expect_kw(p, KW_SELECT);
    if (accept_kw(p, KW_DISTINCT))
        s->distinct = 1;
    else
        accept_kw(p, KW_ALL);
    parse_rescols(p, s);
    expr *group_on = accept_kw(p, KW_FROM) ? parse_from(p, s) : NULL;
    if (accept_kw(p, KW_WHERE)) s->where = parse_expr(p);
    if (group_on) s->where = s->where ? binop(p, E_AND, s->where, group_on) : group_on;
    if (accept_kw(p, KW_GROUP)) {
        expect_kw(p, KW_BY);
        parse_exprlist(p, &s->group, &s->ngroup);
    }
    if (accept_kw(p, KW_HAVING)) s->having = parse_expr(p);
    if (is_kw(p, KW_GROUP)) perr(p, p->t.pos, "GROUP BY must come before HAVING");
    if (accept_word(p, "window")) {
        int cap = 0;
        do {
            s->windows = grow(p, s->windows, s->nwindows, &cap, sizeof *s->windows);
            int npos = p->t.pos;
            char *nm = parse_name(p);
            expect_kw(p, KW_AS);
            windef *w = parse_window_spec(p);
            w->name = nm;
            w->pos = npos;
            s->windows[s->nwindows++] = *w;
        } while (accept(p, TK_COMMA));
    }
    return s;
}

static void parse_order(parser *p, orderterm **out, int *nout) {
    int cap = 0, n = 0;
    orderterm *v = NULL;
    do {
        v = grow(p, v, n, &cap, sizeof *v);
        orderterm *o = &v[n++];
        memset(o, 0, sizeof *o);
        o->e = parse_expr(p);
        if (accept_kw(p, KW_DESC))
            o->desc = 1;
        else
            accept_kw(p, KW_ASC);
        if (accept_kw(p, KW_NULLS)) {
            if (accept_kw(p, KW_FIRST))
                o->nulls = 1;
            else if (accept_kw(p, KW_LAST))
                o->nulls = 2;
            else
                syntax_error(p);
        }
    } while (accept(p, TK_COMMA));
    *out = v;
    *nout = n;
}

static char **parse_namelist(parser *p, int *n);

/* After WITH: [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (select), ... */
static with_clause *parse_with(parser *p) {
    with_clause *w = sqli_ar_alloc(p->a, sizeof *w);
    w->recursive = accept_kw(p, KW_RECURSIVE);
    int cap = 0;
    do {
        w->v = grow(p, w->v, w->n, &cap, sizeof *w->v);
        cte *c = &w->v[w->n++];
        memset(c, 0, sizeof *c);
        c->pos = p->t.pos;
        c->name = parse_name(p);
        for (int i = 0; i < w->n - 1; i++)
            if (sqli_name_eq(w->v[i].name, c->name))
                perr(p, c->pos, "duplicate WITH table name: %s", c->name);
        if (p->t.type == TK_LP) c->cols = parse_namelist(p, &c->ncols);
        expect_kw(p, KW_AS);
        if (accept_kw(p, KW_NOT)) {
            if (!accept_word(p, "materialized")) syntax_error(p);
        } else {
            accept_word(p, "materialized");
        }
        expect(p, TK_LP);
        c->body = parse_select(p);
        expect(p, TK_RP);
    } while (accept(p, TK_COMMA));
    return w;
}

static query *parse_select(parser *p) {
    enter(p);
    with_clause *with = accept_kw(p, KW_WITH) ? parse_with(p) : NULL;
    query *s = parse_core(p);
    for (;;) {
        int op = 0;
        if (accept_kw(p, KW_UNION))
            op = accept_kw(p, KW_ALL) ? SEL_UNION_ALL : SEL_UNION;
        else if (accept_kw(p, KW_INTERSECT))
            op = SEL_INTERSECT;
        else if (accept_kw(p, KW_EXCEPT))
            op = SEL_EXCEPT;
        if (!op) break;
        query *r = parse_core(p);
        query *c = sqli_ar_alloc(p->a, sizeof *c);
        c->op = op;
        c->left = s;
        c->right = r;
        c->pos = s->pos;
        s = c;
    }
    if (accept_kw(p, KW_ORDER)) {
        expect_kw(p, KW_BY);
        parse_order(p, &s->order, &s->norder);
    }
    if (accept_kw(p, KW_LIMIT)) {
        s->limit = parse_expr(p);
        if (accept_kw(p, KW_OFFSET)) {
            s->offset = parse_expr(p);
        } else if (accept(p, TK_COMMA)) { /* LIMIT off, lim */
            s->offset = s->limit;
            s->limit = parse_expr(p);
        }
    }
    s->with = with;
    leave(p);
    return s;
}

/* ---- INSERT / UPDATE / DELETE ---------------------------------------------------- */

static void parse_returning(parser *p, ast *a) {
    if (!accept_kw(p, KW_RETURNING)) return;
    query tmp = {0};
    parse_rescols(p, &tmp);
    a->ret = tmp.cols;
    a->nret = tmp.ncol;
}

static void parse_sets(parser *p, setitem **out, int *nout) {
    int cap = 0, n = 0;
    setitem *v = NULL;
    do {
        if (p->t.type == TK_LP) perr(p, p->t.pos, "row-value SET is not supported");
        v = grow(p, v, n, &cap, sizeof *v);
        setitem *s = &v[n++];
        s->pos = p->t.pos;
        s->col = parse_name(p);
        if (accept(p, TK_DOT)) s->col = parse_name(p); /* t.col */
        expect(p, TK_EQ);
        s->e = parse_expr(p);
    } while (accept(p, TK_COMMA));
    *out = v;
    *nout = n;
}

static char **parse_namelist(parser *p, int *n) {
    int cap = 0;
    char **v = NULL;
    *n = 0;
    expect(p, TK_LP);
    do {
        v = grow(p, v, *n, &cap, sizeof *v);
        v[(*n)++] = parse_name(p);
    } while (accept(p, TK_COMMA));
    expect(p, TK_RP);
    return v;
}

static void parse_upsert(parser *p, ast *a) {
    upsert *u = sqli_ar_alloc(p->a, sizeof *u);
    u->pos = p->t.pos;
    if (p->t.type == TK_LP) {
        u->cols = parse_namelist(p, &u->ncols);
        if (accept_kw(p, KW_WHERE)) u->target_where = parse_expr(p);
    }
    expect_kw(p, KW_DO);
    if (accept_kw(p, KW_NOTHING)) {
        u->do_update = 0;
    } else {
        expect_kw(p, KW_UPDATE);
        expect_kw(p, KW_SET);
        u->do_update = 1;
        parse_sets(p, &u->sets, &u->nset);
        if (accept_kw(p, KW_WHERE)) u->where = parse_expr(p);
    }
    if (is_kw(p, KW_ON)) perr(p, p->t.pos, "only one ON CONFLICT clause is supported");
    a->up = u;
}

static int parse_or_alg(parser *p) {
    if (!accept_kw(p, KW_OR)) return OE_DEFAULT;
    if (accept_kw(p, KW_REPLACE)) return OE_REPLACE;
    if (accept_kw(p, KW_IGNORE)) return OE_IGNORE;
    if (accept_kw(p, KW_ABORT)) return OE_ABORT;
    if (accept_kw(p, KW_FAIL)) return OE_ABORT;
    if (accept_kw(p, KW_ROLLBACK)) return OE_ROLLBACK;
    syntax_error(p);
}

static void parse_insert(parser *p, ast *a, int replace) {
    a->kind = ST_INSERT;
    a->or_alg = replace ? OE_REPLACE : parse_or_alg(p);
    expect_kw(p, KW_INTO);
    a->table_pos = p->t.pos;
    a->table = parse_qname(p, &a->dbq);
    if (accept_kw(p, KW_AS)) a->alias = parse_name(p);
    if (p->t.type == TK_LP) a->cols = parse_namelist(p, &a->ncols);
    if (accept_kw(p, KW_DEFAULT)) {
        expect_kw(p, KW_VALUES);
        a->default_values = 1;
    } else {
        a->sel = parse_select(p);
    }
    if (accept_kw(p, KW_ON)) {
        expect_kw(p, KW_CONFLICT);
        parse_upsert(p, a);
    }
    parse_returning(p, a);
}

static void parse_update(parser *p, ast *a) {
    a->kind = ST_UPDATE;
    a->or_alg = parse_or_alg(p);
    a->table_pos = p->t.pos;
    a->table = parse_qname(p, &a->dbq);
    if (accept_kw(p, KW_AS))
        a->alias = parse_name(p);
    else if (p->t.type == TK_ID)
        a->alias = parse_name(p);
    expect_kw(p, KW_SET);
    parse_sets(p, &a->sets, &a->nset);
    if (accept_kw(p, KW_FROM)) {
        query tmp = {0};
        expr *group_on = parse_from(p, &tmp);
        a->from = tmp.src;
        a->nfrom = tmp.nsrc;
        if (group_on)
            perr(p, group_on->pos, "a parenthesized join in UPDATE FROM is not supported");
    }
    if (accept_kw(p, KW_WHERE)) a->where = parse_expr(p);
    parse_returning(p, a);
}

static void parse_delete(parser *p, ast *a) {
    a->kind = ST_DELETE;
    expect_kw(p, KW_FROM);
    a->table_pos = p->t.pos;
    a->table = parse_qname(p, &a->dbq);
    if (accept_kw(p, KW_AS))
        a->alias = parse_name(p);
    else if (p->t.type == TK_ID)
        a->alias = parse_name(p);
    if (accept_kw(p, KW_WHERE)) a->where = parse_expr(p);
    parse_returning(p, a);
}

/* ---- CREATE TABLE ---------------------------------------------------------------- */

static int parse_fk_action(parser *p) {
    if (accept_kw(p, KW_CASCADE)) return FK_CASCADE;
    if (accept_kw(p, KW_RESTRICT)) return FK_RESTRICT;
    if (accept_kw(p, KW_SET)) {
        if (accept_kw(p, KW_NULL)) return FK_SET_NULL;
        expect_kw(p, KW_DEFAULT);
        return FK_SET_DEFAULT;
    }
    if (accept_kw(p, KW_NO)) {
        expect_kw(p, KW_ACTION);
        return FK_NO_ACTION;
    }
    syntax_error(p);
}

/* REFERENCES t [(cols)] [ON DELETE a] [ON UPDATE a] [MATCH x] [[NOT] DEFERRABLE ...] */
static void parse_references(parser *p, char **tab, char ***cols, int *ncols, int *ondel,
                             int *onupd) {
    *tab = parse_name(p);
    *cols = NULL;
    *ncols = 0;
    *ondel = *onupd = FK_RESTRICT;
    if (p->t.type == TK_LP) *cols = parse_namelist(p, ncols);
    for (;;) {
        if (accept_kw(p, KW_ON)) {
            if (accept_kw(p, KW_DELETE))
                *ondel = parse_fk_action(p);
            else if (accept_kw(p, KW_UPDATE))
                *onupd = parse_fk_action(p);
            else
                syntax_error(p);
        } else if (p->t.type == TK_ID && p->t.len == 5 && strncasecmp(p->t.z, "match", 5) == 0) {
            advance(p);
            parse_name(p);
        } else if (is_kw(p, KW_NOT) || is_kw(p, KW_DEFERRABLE)) {
            int neg = accept_kw(p, KW_NOT);
            expect_kw(p, KW_DEFERRABLE);
            if (accept_kw(p, KW_INITIALLY)) {
                if (is_kw(p, KW_DEFERRED) && !neg)
                    perr(p, p->t.pos, "deferred foreign keys are not supported");
                if (!accept_kw(p, KW_DEFERRED)) expect_kw(p, KW_IMMEDIATE);
            }
        } else {
            return;
        }
    }
}

static void parse_conflict_clause(parser *p) {
    if (is_kw(p, KW_ON) && peek2(p).kw == KW_CONFLICT)
        perr(p, p->t.pos, "ON CONFLICT clauses in constraints are not supported");
}

static expr *parse_default(parser *p, coldef *c) {
    int start = p->t.pos;
    expr *e;
    if (p->t.type == TK_LP) {
        advance(p);
        e = parse_expr(p);
        expect(p, TK_RP);
    } else {
        e = parse_unary(p);
    }
    c->dflt_text = sqli_ar_strndup(p->a, p->z + start, (size_t)(p->prev_end - start));
    return e;
}

static void add_check(parser *p, coldef *c, expr *e, char *name) {
    expr **v = sqli_ar_alloc(p->a, sizeof *v * (size_t)(c->nchecks + 1));
    char **nv = sqli_ar_alloc(p->a, sizeof *nv * (size_t)(c->nchecks + 1));
    if (c->nchecks) {
        memcpy(v, c->checks, sizeof *v * (size_t)c->nchecks);
        memcpy(nv, c->check_names, sizeof *nv * (size_t)c->nchecks);
    }
    v[c->nchecks] = e;
    nv[c->nchecks] = name;
    c->checks = v;
    c->check_names = nv;
    c->nchecks++;
}

/* "AS (expr) [STORED | VIRTUAL]" of a generated column, after AS. */
static void parse_generated(parser *p, coldef *c) {
    c->gen_pos = p->t.pos;
    expect(p, TK_LP);
    c->gen = parse_expr(p);
    expect(p, TK_RP);
    if (accept_word(p, "stored"))
        c->gen_stored = 1;
    else
        accept_word(p, "virtual");
}

static int parse_col_constraint(parser *p, coldef *c) {
    char *cname = NULL;
    if (accept_kw(p, KW_CONSTRAINT)) cname = parse_name(p);
    if (accept_kw(p, KW_PRIMARY)) {
        expect_kw(p, KW_KEY);
        c->pk = 1;
        if (accept_kw(p, KW_DESC))
            c->pk_desc = 1;
        else
            accept_kw(p, KW_ASC);
        parse_conflict_clause(p);
        if (accept_kw(p, KW_AUTOINCREMENT)) c->autoinc = 1;
    } else if (accept_kw(p, KW_NOT)) {
        expect_kw(p, KW_NULL);
        c->notnull = 1;
        parse_conflict_clause(p);
    } else if (accept_kw(p, KW_NULL)) {
    } else if (accept_kw(p, KW_UNIQUE)) {
        c->unique = 1;
        c->unique_name = cname;
        parse_conflict_clause(p);
    } else if (accept_kw(p, KW_CHECK)) {
        expect(p, TK_LP);
        add_check(p, c, parse_expr(p), cname);
        expect(p, TK_RP);
    } else if (accept_kw(p, KW_DEFAULT)) {
        c->dflt = parse_default(p, c);
    } else if (accept_kw(p, KW_COLLATE)) {
        c->collate = parse_name(p);
        if (!sqli_name_eq(c->collate, "binary") && !sqli_name_eq(c->collate, "nocase") &&
            !sqli_name_eq(c->collate, "rtrim"))
            perr(p, p->prev_end, "no such collation sequence: %s", c->collate);
    } else if (accept_kw(p, KW_REFERENCES)) {
        c->fk_name = cname;
        parse_references(p, &c->fk_table, &c->fk_cols, &c->fk_ncols, &c->fk_on_delete,
                         &c->fk_on_update);
    } else if (accept_kw(p, KW_GENERATED)) {
        if (c->gen) syntax_error(p);
        int always = accept_kw(p, KW_ALWAYS);
        if (!always) {
            expect_kw(p, KW_BY);
            expect_kw(p, KW_DEFAULT);
        }
        expect_kw(p, KW_AS);
        if (accept_kw(p, KW_IDENTITY)) {
            c->identity = 1;
        } else {
            if (!always) syntax_error(p);
            parse_generated(p, c);
        }
    } else if (is_kw(p, KW_AS)) {
        if (c->gen) syntax_error(p);
        advance(p);
        parse_generated(p, c);
    } else {
        if (cname) syntax_error(p);
        return 0;
    }
    return 1;
}

static void parse_coldef(parser *p, coldef *c) {
    c->text_start = p->t.pos;
    c->pos = p->t.pos;
    c->name = parse_name(p);
    c->type = "";
    c->type_pos = c->type_end = p->t.pos;
    if (at_name(p) && !is_kw(p, KW_GENERATED)) { /* "b GENERATED ALWAYS AS ...": no type */
        c->type = parse_typename(p);
        c->type_end = p->prev_end;
    }
    while (parse_col_constraint(p, c)) {
    }
    c->text_end = p->prev_end;
}

static void parse_idxcols(parser *p, char ***cols, int **descs, int *n) {
    int cap = 0, dcap = 0;
    *cols = NULL;
    *descs = NULL;
    *n = 0;
    expect(p, TK_LP);
    do {
        *cols = grow(p, *cols, *n, &cap, sizeof(char *));
        *descs = grow(p, *descs, *n, &dcap, sizeof(int));
        (*cols)[*n] = parse_name(p);
        if (accept_kw(p, KW_COLLATE)) parse_name(p);
        (*descs)[*n] = accept_kw(p, KW_DESC);
        if (!(*descs)[*n]) accept_kw(p, KW_ASC);
        (*n)++;
    } while (accept(p, TK_COMMA));
    expect(p, TK_RP);
}

static int parse_table_constraint(parser *p, tabcons *tc) {
    tc->pos = p->t.pos;
    if (accept_kw(p, KW_CONSTRAINT)) tc->name = parse_name(p);
    if (accept_kw(p, KW_PRIMARY)) {
        expect_kw(p, KW_KEY);
        tc->kind = 1;
        parse_idxcols(p, &tc->cols, &tc->descs, &tc->ncols);
        parse_conflict_clause(p);
    } else if (accept_kw(p, KW_UNIQUE)) {
        tc->kind = 2;
        parse_idxcols(p, &tc->cols, &tc->descs, &tc->ncols);
        parse_conflict_clause(p);
    } else if (accept_kw(p, KW_CHECK)) {
        tc->kind = 3;
        expect(p, TK_LP);
        tc->check = parse_expr(p);
        expect(p, TK_RP);
    } else if (accept_kw(p, KW_FOREIGN)) {
        expect_kw(p, KW_KEY);
        tc->kind = 4;
        tc->cols = parse_namelist(p, &tc->ncols);
        expect_kw(p, KW_REFERENCES);
        parse_references(p, &tc->fk_table, &tc->fk_cols, &tc->fk_ncols, &tc->fk_on_delete,
                         &tc->fk_on_update);
    } else {
        if (tc->name) syntax_error(p);
        return 0;
    }
    return 1;
}

static void parse_create_table(parser *p, ast *a) {
    a->kind = ST_CREATE_TABLE;
    if (accept_kw(p, KW_IF)) {
        expect_kw(p, KW_NOT);
        expect_kw(p, KW_EXISTS);
        a->if_not_exists = 1;
    }
    a->table = parse_qname_at(p, &a->dbq, &a->table_pos);
    if (accept_kw(p, KW_AS)) {
        a->sel = parse_select(p);
        return;
    }
    expect(p, TK_LP);
    int ccap = 0, tcap = 0, in_cons = 0;
    do {
        if (!in_cons && (is_kw(p, KW_CONSTRAINT) || is_kw(p, KW_PRIMARY) || is_kw(p, KW_UNIQUE) ||
                         is_kw(p, KW_CHECK) || is_kw(p, KW_FOREIGN)))
            in_cons = 1;
        if (!in_cons) {
            a->coldefs = grow(p, a->coldefs, a->ncoldefs, &ccap, sizeof *a->coldefs);
            coldef *c = &a->coldefs[a->ncoldefs++];
            memset(c, 0, sizeof *c);
            parse_coldef(p, c);
            continue;
        }
        a->cons = grow(p, a->cons, a->ncons, &tcap, sizeof *a->cons);
        tabcons *tc = &a->cons[a->ncons++];
        memset(tc, 0, sizeof *tc);
        if (!parse_table_constraint(p, tc)) syntax_error(p);
    } while (accept(p, TK_COMMA));
    expect(p, TK_RP);
    if (a->ncoldefs == 0) syntax_error(p);
    if (accept_kw(p, KW_WITHOUT)) {
        if (!(p->t.type == TK_ID && p->t.len == 5 && strncasecmp(p->t.z, "rowid", 5) == 0) &&
            !(is_kw(p, KW_ROWID)))
            syntax_error(p);
        advance(p);
        a->without_rowid = 1;
    }
}

/* ---- CREATE INDEX / TRIGGER, DROP, ALTER ------------------------------------------- */

static void parse_create_index(parser *p, ast *a) {
    a->kind = ST_CREATE_INDEX;
    if (accept_kw(p, KW_IF)) {
        expect_kw(p, KW_NOT);
        expect_kw(p, KW_EXISTS);
        a->if_not_exists = 1;
    }
    a->name = parse_qname_at(p, &a->dbq, &a->name_pos);
    expect_kw(p, KW_ON);
    a->table_pos = p->t.pos;
    a->table = parse_qname(p, &a->dbq);
    expect(p, TK_LP);
    int cap = 0;
    do {
        a->icols = grow(p, a->icols, a->nicols, &cap, sizeof *a->icols);
        idxcol *ic = &a->icols[a->nicols++];
        ic->pos = p->t.pos;
        ic->name = parse_name(p);
        if (p->t.type == TK_LP || p->t.type == TK_DOT ||
            (p->t.type != TK_COMMA && p->t.type != TK_RP && !is_kw(p, KW_ASC) &&
             !is_kw(p, KW_DESC) && !is_kw(p, KW_COLLATE)))
            perr(p, ic->pos, "indexes on expressions are not supported");
        if (accept_kw(p, KW_COLLATE)) parse_name(p);
        ic->desc = accept_kw(p, KW_DESC);
        if (!ic->desc) accept_kw(p, KW_ASC);
    } while (accept(p, TK_COMMA));
    expect(p, TK_RP);
    if (accept_kw(p, KW_INCLUDE)) a->include = parse_namelist(p, &a->ninclude);
    if (accept_kw(p, KW_WHERE)) a->iwhere = parse_expr(p);
}

static ast *parse_stmt_inner(parser *p);

static void parse_create_trigger(parser *p, ast *a) {
    a->kind = ST_CREATE_TRIGGER;
    if (accept_kw(p, KW_IF)) {
        expect_kw(p, KW_NOT);
        expect_kw(p, KW_EXISTS);
        a->if_not_exists = 1;
    }
    a->name_pos = p->t.pos;
    a->name = parse_name(p);
    if (accept_kw(p, KW_BEFORE))
        a->timing = 1;
    else if (accept_kw(p, KW_AFTER))
        a->timing = 2;
    else if (accept_kw(p, KW_INSTEAD))
        perr(p, p->prev_end, "INSTEAD OF triggers are not supported (no views)");
    else
        a->timing = 1;
    if (accept_kw(p, KW_INSERT)) {
        a->event = ST_INSERT;
    } else if (accept_kw(p, KW_DELETE)) {
        a->event = ST_DELETE;
    } else if (accept_kw(p, KW_UPDATE)) {
        a->event = ST_UPDATE;
        if (accept_kw(p, KW_OF)) {
            int cap = 0;
            do {
                a->of_cols = grow(p, a->of_cols, a->nof_cols, &cap, sizeof(char *));
                a->of_cols[a->nof_cols++] = parse_name(p);
            } while (accept(p, TK_COMMA));
        }
    } else {
        syntax_error(p);
    }
    expect_kw(p, KW_ON);
    a->table_pos = p->t.pos;
    a->table = parse_qname(p, &a->dbq);
    if (accept_kw(p, KW_FOR)) {
        expect_kw(p, KW_EACH);
        expect_kw(p, KW_ROW);
    }
    if (accept_kw(p, KW_WHEN)) a->when = parse_expr(p);
    expect_kw(p, KW_BEGIN);
    int cap = 0;
    p->in_trigger++;
    do {
        if (is_kw(p, KW_END) && a->nbody) break;
        ast *s = parse_stmt_inner(p);
        if (s->kind != ST_INSERT && s->kind != ST_UPDATE && s->kind != ST_DELETE &&
            s->kind != ST_SELECT)
            perr(p, s->pos, "only INSERT, UPDATE, DELETE and SELECT are allowed in a trigger");
        a->body = grow(p, a->body, a->nbody, &cap, sizeof *a->body);
        a->body[a->nbody++] = s;
        expect(p, TK_SEMI);
    } while (!is_kw(p, KW_END));
    p->in_trigger--;
    expect_kw(p, KW_END);
}

static void parse_drop(parser *p, ast *a) {
    if (accept_kw(p, KW_TABLE))
        a->kind = ST_DROP_TABLE;
    else if (accept_kw(p, KW_INDEX))
        a->kind = ST_DROP_INDEX;
    else if (accept_kw(p, KW_TRIGGER))
        a->kind = ST_DROP_TRIGGER;
    else if (accept_word(p, "view"))
        a->kind = ST_DROP_VIEW;
    else
        syntax_error(p);
    if (accept_kw(p, KW_IF)) {
        expect_kw(p, KW_EXISTS);
        a->if_exists = 1;
    }
    a->name_pos = a->table_pos = p->t.pos;
    a->name = parse_qname(p, &a->dbq);
    a->table = a->name;
}

static void parse_alter(parser *p, ast *a) {
    expect_kw(p, KW_TABLE);
    a->table = parse_qname_at(p, &a->dbq, &a->table_pos);
    if (accept_kw(p, KW_ADD)) {
        accept_kw(p, KW_COLUMN);
        a->kind = ST_ALTER_ADD;
        a->coldefs = sqli_ar_alloc(p->a, sizeof *a->coldefs);
        a->ncoldefs = 1;
        parse_coldef(p, &a->coldefs[0]);
    } else if (accept_kw(p, KW_RENAME)) {
        if (accept_kw(p, KW_TO)) {
            a->kind = ST_ALTER_RENAME;
            a->name_pos = p->t.pos;
            a->name = parse_name(p);
        } else {
            accept_kw(p, KW_COLUMN);
            a->kind = ST_ALTER_RENAME_COL;
            a->name_pos = p->t.pos;
            a->name = parse_name(p);
            expect_kw(p, KW_TO);
            a->name2 = parse_name(p);
        }
    } else if (accept_kw(p, KW_DROP)) {
        accept_kw(p, KW_COLUMN);
        a->kind = ST_ALTER_DROP_COL;
        a->name_pos = p->t.pos;
        a->name = parse_name(p);
    } else {
        syntax_error(p);
    }
}

static void parse_txn(parser *p, ast *a, int kw) {
    if (kw == KW_BEGIN) {
        a->kind = ST_BEGIN;
        if (!accept_kw(p, KW_DEFERRED) && !accept_kw(p, KW_IMMEDIATE)) accept_kw(p, KW_EXCLUSIVE);
        accept_kw(p, KW_TRANSACTION);
    } else if (kw == KW_COMMIT || kw == KW_END) {
        a->kind = ST_COMMIT;
        accept_kw(p, KW_TRANSACTION);
    } else if (kw == KW_ROLLBACK) {
        a->kind = ST_ROLLBACK;
        accept_kw(p, KW_TRANSACTION);
        if (accept_kw(p, KW_TO)) {
            accept_kw(p, KW_SAVEPOINT);
            a->kind = ST_ROLLBACK_TO;
            a->name = parse_name(p);
        }
    } else if (kw == KW_SAVEPOINT) {
        a->kind = ST_SAVEPOINT;
        a->name = parse_name(p);
    } else {
        a->kind = ST_RELEASE;
        accept_kw(p, KW_SAVEPOINT);
        a->name = parse_name(p);
    }
}

static void parse_pragma(parser *p, ast *a) {
    a->kind = ST_PRAGMA;
    a->name = parse_qname(p, &a->dbq);
    if (accept(p, TK_EQ)) {
        if (at_name(p) || is_kw(p, KW_ON) || is_kw(p, KW_DEFAULT)) {
            a->pragma_arg = dequote(p, &p->t);
            advance(p);
        } else {
            a->pragma_val = parse_unary(p);
        }
    } else if (accept(p, TK_LP)) {
        if (p->t.type == TK_STRING || at_name(p)) {
            a->pragma_arg = dequote(p, &p->t);
            advance(p);
        } else {
            a->pragma_val = parse_unary(p);
        }
        expect(p, TK_RP);
    }
}

/* CREATE [TEMP] VIEW [IF NOT EXISTS] name [(cols)] AS select */
static void parse_create_view(parser *p, ast *a) {
    a->kind = ST_CREATE_VIEW;
    if (accept_kw(p, KW_IF)) {
        expect_kw(p, KW_NOT);
        expect_kw(p, KW_EXISTS);
        a->if_not_exists = 1;
    }
    a->name_pos = a->table_pos = p->t.pos;
    a->name = parse_name(p);
    if (accept(p, TK_DOT)) {
        if (sqli_name_eq(a->name, "temp"))
            a->temp = 1;
        else if (!sqli_name_eq(a->name, "main"))
            perr(p, a->name_pos, "unknown database %s", a->name);
        a->name = parse_name(p);
    }
    a->table = a->name;
    if (p->t.type == TK_LP) a->cols = parse_namelist(p, &a->ncols);
    expect_kw(p, KW_AS);
    int np = p->nparam;
    a->sel = parse_select(p);
    if (p->nparam != np) perr(p, a->pos, "parameters are not allowed in views");
}

static void parse_create(parser *p, ast *a) {
    int temp = accept_kw(p, KW_TEMP) || accept_kw(p, KW_TEMPORARY);
    if (accept_word(p, "view")) {
        a->temp = temp;
        parse_create_view(p, a);
        return;
    }
    if (temp && (is_kw(p, KW_INDEX) || is_kw(p, KW_UNIQUE))) syntax_error(p);
    if (accept_kw(p, KW_TABLE)) {
        parse_create_table(p, a);
        if (temp || a->dbq == 2) a->temp = 1;
    } else if (accept_kw(p, KW_UNIQUE)) {
        expect_kw(p, KW_INDEX);
        a->unique = 1;
        parse_create_index(p, a);
    } else if (accept_kw(p, KW_INDEX)) {
        parse_create_index(p, a);
    } else if (!temp && accept_word(p, "fulltext")) { /* CREATE FULLTEXT INDEX (fts.c) */
        expect_kw(p, KW_INDEX);
        a->fulltext = 1;
        parse_create_index(p, a);
    } else if (accept_kw(p, KW_TRIGGER)) {
        parse_create_trigger(p, a);
        a->temp = temp;
    } else {
        syntax_error(p);
    }
}

static ast *parse_stmt_inner(parser *p) {
    ast *a = sqli_ar_alloc(p->a, sizeof *a);
    a->pos = p->t.pos;
    int kw = p->t.type == TK_KEYWORD ? p->t.kw : 0;
    if (kw == KW_WITH) { /* WITH ... SELECT, or WITH ... INSERT / UPDATE / DELETE */
        advance(p);
        with_clause *w = parse_with(p);
        kw = p->t.type == TK_KEYWORD ? p->t.kw : 0;
        if (kw != KW_SELECT && kw != KW_VALUES && kw != KW_INSERT && kw != KW_REPLACE &&
            kw != KW_UPDATE && kw != KW_DELETE)
            syntax_error(p);
        if (kw == KW_SELECT || kw == KW_VALUES) {
            a->kind = ST_SELECT;
            a->sel = parse_select(p);
            a->sel->with = w;
            a->end = p->prev_end;
            return a;
        }
        a->with = w;
    }
    if (kw == KW_SELECT || kw == KW_VALUES) {
        a->kind = ST_SELECT;
        a->sel = parse_select(p);
    } else if (kw == KW_INSERT || kw == KW_REPLACE) {
        advance(p);
        parse_insert(p, a, kw == KW_REPLACE);
    } else if (kw == KW_UPDATE) {
        advance(p);
        parse_update(p, a);
    } else if (kw == KW_DELETE) {
        advance(p);
        parse_delete(p, a);
    } else if (p->in_trigger) {
        syntax_error(p);
    } else if (kw == KW_CREATE) {
        advance(p);
        parse_create(p, a);
    } else if (kw == KW_DROP) {
        advance(p);
        parse_drop(p, a);
    } else if (kw == KW_ALTER) {
        advance(p);
        parse_alter(p, a);
    } else if (kw == KW_BEGIN || kw == KW_COMMIT || kw == KW_END || kw == KW_ROLLBACK ||
               kw == KW_SAVEPOINT || kw == KW_RELEASE) {
        advance(p);
        parse_txn(p, a, kw);
    } else if (kw == KW_PRAGMA) {
        advance(p);
        parse_pragma(p, a);
    } else if (kw == KW_ANALYZE) {
        advance(p);
        a->kind = ST_ANALYZE;
        if (at_name(p)) a->name = parse_name(p);
    } else if (accept_word(p, "reindex")) {
        a->kind = ST_REINDEX;
        if (at_name(p)) {
            a->name = parse_name(p);
            if (accept(p, TK_DOT)) {
                if (!sqli_name_eq(a->name, "main")) perr(p, a->pos, "unknown database %s", a->name);
                a->name = parse_name(p);
            }
        }
    } else if (accept_word(p, "vacuum")) {
        a->kind = ST_VACUUM;
        if (at_name(p)) {
            int pos = p->t.pos;
            a->name = parse_name(p);
            a->temp = sqli_name_eq(a->name, "temp");
            if (!a->temp && !sqli_name_eq(a->name, "main"))
                perr(p, pos, "unknown database %s", a->name);
        }
        if (accept_kw(p, KW_INTO)) perr(p, p->prev_end, "VACUUM INTO is not supported");
    } else if (kw == KW_EXPLAIN) {
        advance(p);
        a->kind = ST_EXPLAIN;
        if (accept_kw(p, KW_QUERY)) {
            expect_kw(p, KW_PLAN);
            a->explain_qp = 1;
        } else if (accept_kw(p, KW_ANALYZE)) {
            a->explain_qp = 2;
        }
        if (is_kw(p, KW_EXPLAIN)) syntax_error(p);
        a->inner = parse_stmt_inner(p);
    } else {
        syntax_error(p);
    }
    a->end = p->prev_end;
    return a;
}

ast *sqli_parse_statement(arena *ar, const char *sql, int n, int pos, int *next, int *empty,
                          char **err, int *errpos, int *nparam, char ***pnames) {
    parser p = {0};
    p.a = ar;
    p.z = sql;
    p.n = n;
    *empty = 0;
    *err = NULL;
    if (setjmp(p.jb)) {
        *err = p.err;
        *errpos = p.errpos;
        /* skip to the statement's end so that a script can go on */
        *next = n;
        return NULL;
    }
    p.prev_end = pos;
    p.t.pos = pos;
    p.t.len = 0;
    advance(&p);
    while (p.t.type == TK_SEMI) advance(&p);
    if (p.t.type == TK_EOF) {
        *empty = 1;
        *next = n;
        return NULL;
    }
    ast *a = parse_stmt_inner(&p);
    if (p.t.type != TK_SEMI && p.t.type != TK_EOF) syntax_error(&p);
    *next = p.t.type == TK_SEMI ? p.t.pos + 1 : p.t.pos;
    *nparam = p.nparam;
    *pnames = p.pnames;
    return a;
}
