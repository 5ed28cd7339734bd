/* sql/resolve.c — name resolution: table names to schema objects and cursor
 * numbers, column names to (cursor, column), '*' expansion, NATURAL/USING
 * joins, aliases in ORDER BY / GROUP BY, aggregate calls to slots of the
 * query that aggregates them, subqueries (correlated or not).
 *
 * Scopes nest: a subquery's scope has the enclosing query's as outer. A name
 * resolved in an outer scope makes every query in between "correlated"
 * (outer_refs), which tells the executor to re-run it per outer row.
 *
 * Invariants:
 *   1. After resolution every E_COL has cur >= 0 (or CUR_SELF) and col >= -1,
 *      every E_FUNC a func_def, every aggregate is an E_AGG with owner/slot.
 *   2. Aggregates appear only in result columns, HAVING and ORDER BY of the
 *      query that owns them, never nested.
 *   3. A query's result columns are final (no '*') and named.
 */
#include "sql/fts.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

int sqli_comp_error(compiler *c, int pos, const char *fmt, ...) {
    if (c->err) return SQL_ERROR; /* keep the first error */
    strb b = {0};
    va_list ap;
    va_start(ap, fmt);
    sqli_strb_vaddf(&b, fmt, ap);
    va_end(ap);
    c->err = sqli_ar_strdup(c->a, sqli_strb_cstr(&b));
    c->errpos = pos;
    sqli_strb_free(&b);
    return SQL_ERROR;
}

int sqli_comp_cursor(compiler *c, table *tab, int ncol) {
    if (c->ncur == c->capcur) {
        c->capcur = c->capcur ? c->capcur * 2 : 16;
        curdef *v = sqli_ar_alloc(c->a, sizeof *v * (size_t)c->capcur);
        if (c->ncur) memcpy(v, c->curs, sizeof *v * (size_t)c->ncur);
        c->curs = v;
    }
    c->curs[c->ncur].tab = tab;
    c->curs[c->ncur].ncol = ncol;
    return c->ncur++;
}

/* ---- expression helpers -------------------------------------------------------------- */

int sqli_expr_affinity(const expr *e) {
    switch (e->op) {
    case E_COL:
        return e->aff;
    case E_CAST:
        return e->aff;
    case E_COLLATE:
        return sqli_expr_affinity(e->l);
    case E_SUBQ: {
        const query *q = e->sub;
        while (q->op != SEL_SIMPLE) q = q->left;
        if (q->ncol > 0 && q->cols) return sqli_expr_affinity(q->cols[0].e);
        return AFF_NONE;
    }
    default:
        return AFF_NONE;
    }
}

int sqli_cmp_affinity(const expr *l, const expr *r) {
    int a1 = sqli_expr_affinity(l), a2 = sqli_expr_affinity(r);
    if (a1 > AFF_NONE && a2 > AFF_NONE) {
        if (AFF_IS_NUMERIC(a1) || AFF_IS_NUMERIC(a2)) return AFF_NUMERIC;
        return AFF_BLOB;
    }
    return a1 > AFF_NONE ? a1 : a2;
}

static int val_equal_exact(const sql_value *a, const sql_value *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case SQL_INTEGER:
        return a->u.i == b->u.i;
    case SQL_FLOAT:
        return memcmp(&a->u.r, &b->u.r, sizeof(double)) == 0;
    case SQL_DECIMAL:
        return a->u.i == b->u.i && a->scale == b->scale;
    case SQL_TEXT:
    case SQL_BLOB:
        return a->n == b->n && (a->n == 0 || memcmp(a->z, b->z, a->n) == 0);
    default:
        return 1;
    }
}

int sqli_expr_equal(const expr *a, const expr *b) {
    if (!a || !b) return a == b;
    if (a->op != b->op || (a->flags & ~EF_RESOLVED) != (b->flags & ~EF_RESOLVED)) return 0;
    if (a->nargs != b->nargs) return 0;
    switch (a->op) {
    case E_LIT:
        return val_equal_exact(&a->lit, &b->lit);
    case E_PARAM:
        return a->param == b->param;
    case E_COL:
        return a->cur == b->cur && a->col == b->col;
    case E_FUNC:
    case E_AGG:
        if (!sqli_name_eq(a->name, b->name)) return 0;
        break;
    case E_CAST:
        if (a->aff != b->aff || a->kind != b->kind) return 0;
        break;
    case E_SUBQ:
    case E_EXISTS:
    case E_IN_SEL:
        return a->sub == b->sub && sqli_expr_equal(a->l, b->l);
    case E_COLLATE:
        if (!sqli_name_eq(a->name, b->name)) return 0;
        break;
    default:
        break;
    }
    if (!sqli_expr_equal(a->l, b->l) || !sqli_expr_equal(a->r, b->r)) return 0;
    for (int i = 0; i < a->nargs; i++)
        if (!sqli_expr_equal(a->args[i], b->args[i])) return 0;
    return 1;
}

int sqli_expr_is_const(const expr *e) {
    if (!e) return 1;
    switch (e->op) {
    case E_COL:
    case E_AGG:
    case E_WIN:
    case E_RAISE:
    case E_DEFAULT:
        return 0;
    case E_SUBQ:
    case E_EXISTS:
        return 0;
    case E_IN_SEL:
        return 0;
    case E_FUNC:
        if (e->fn && (e->fn->flags & FN_VOLATILE)) return 0;
        break;
    default:
        break;
    }
    if (!sqli_expr_is_const(e->l) || !sqli_expr_is_const(e->r)) return 0;
    for (int i = 0; i < e->nargs; i++)
        if (!sqli_expr_is_const(e->args[i])) return 0;
    return 1;
}

char *sqli_expr_name(compiler *c, const expr *e) {
    if (e->op == E_COL && e->name) {
        if (e->table && e->col >= 0) return e->table->cols[e->col].name;
        return e->name;
    }
    if (c->sql && e->end > e->pos)
        return sqli_ar_strndup(c->a, c->sql + e->pos, (size_t)(e->end - e->pos));
    return sqli_ar_strdup(c->a, "?");
}

/* ---- column lookup -------------------------------------------------------------------- */

static int item_matches(const srcitem *it, const char *name) {
    if (it->alias) return sqli_name_eq(it->alias, name);
    return it->name && sqli_name_eq(it->name, name);
}

/* Column index of name in a FROM item: >= -1, or -2. */
static int item_column(const srcitem *it, const char *name) {
    if (it->tab) return sqli_table_column(it->tab, name);
    for (int i = 0; i < it->ncol; i++)
        if (sqli_name_eq(it->colnames[i], name)) return i;
    if (it->tvf && (sqli_name_eq(name, "oid") || sqli_name_eq(name, "_rowid_"))) return TVF_ROWID;
    return -2;
}

static void set_col(expr *e, int cur, int col, table *t) {
    e->cur = cur;
    e->col = col;
    e->table = t;
    e->aff = t ? (col < 0 ? AFF_INTEGER : t->cols[col].aff) : AFF_NONE;
    e->flags |= EF_RESOLVED;
    if (t && col >= 0 && t->cols[col].nocase) e->flags |= EF_NOCASE;
}

/* Subquery columns take the affinity of the subquery's result expression. */
static void set_sub_aff(expr *e, const srcitem *it, int col) {
    query *q = it->sub;
    while (q && q->op != SEL_SIMPLE) q = q->left;
    if (q && q->cols && col >= 0 && col < q->ncol)
        e->aff = (uint8_t)sqli_expr_affinity(q->cols[col].e);
}

/* Look name up in one scope's FROM items. 1 found, 0 not, -1 error. */
static int lookup_in_items(compiler *c, expr *e, scope *sc) {
    int found = 0;
    for (int i = 0; i < sc->nsrc; i++) {
        srcitem *it = &sc->src[i];
        if (e->tab && !item_matches(it, e->tab)) continue;
        int col = item_column(it, e->name);
        if (col < -1) {
            if (e->tab)
                return sqli_comp_error(c, e->pos, "no such column: %s.%s", e->tab, e->name), -1;
            continue;
        }
        if (found) {
            /* a USING column appears in both items: take the left one */
            if (it->using_hidden && col >= 0 && it->using_hidden[col]) continue;
            return sqli_comp_error(c, e->pos, "ambiguous column name: %s", e->name), -1;
        }
        found = 1;
        set_col(e, it->cur, col, it->tab);
        if (!it->tab) set_sub_aff(e, it, col);
        if (e->tab) return 1;
    }
    return found;
}

static int lookup_in_pseudo(compiler *c, expr *e, scope *sc) {
    for (int i = 0; i < sc->npseudo; i++) {
        pseudo_tab *p = &sc->pseudo[i];
        if (e->tab ? !sqli_name_eq(p->name, e->tab) : !sqli_name_eq(p->name, "")) continue;
        int col = sqli_table_column(p->tab, e->name);
        if (col < -1 && e->tab)
            return sqli_comp_error(c, e->pos, "no such column: %s.%s", e->tab, e->name), -1;
        if (col < -1) /* sqlite3's words: the bare name */
            return sqli_comp_error(c, e->pos, "no such column: %s", e->name), -1;
        set_col(e, p->cur, col, p->tab);
        return 1;
    }
    return 0;
}

static int alias_match(query *q, const expr *e);

static int has_op(const expr *e, int op) {
    if (!e) return 0;
    if (e->op == op) return 1;
    if (has_op(e->l, op) || has_op(e->r, op)) return 1;
    for (int i = 0; i < e->nargs; i++)
        if (has_op(e->args[i], op)) return 1;
    return 0;
}

static int has_agg(const expr *e) {
    return has_op(e, E_AGG);
}

/* A result column's alias used in WHERE, HAVING or an ORDER BY expression
 * (SQLite's extension; a FROM column of that name wins): e becomes the
 * aliased expression. 1 if it was one, 0 if not, -1 on error. */
static int lookup_alias(compiler *c, expr *e, scope *sc) {
    int k = sc->use_aliases && sc->q ? alias_match(sc->q, e) : 0;
    if (!k) return 0;
    const expr *ae = sc->q->cols[k - 1].e;
    if (!sc->allow_agg && has_agg(ae))
        return sqli_comp_error(c, e->pos, "misuse of aliased aggregate %s", e->name), -1;
    if (!sc->allow_win && has_op(ae, E_WIN))
        return sqli_comp_error(c, e->pos, "misuse of aliased window function %s", e->name), -1;
    int pos = e->pos;
    *e = *ae;
    e->pos = pos;
    return 1;
}

/* Position of a token to rewrite for ALTER TABLE RENAME COLUMN (once). */
void sqli_rename_note(compiler *c, int pos) {
    for (int i = 0; i < c->rn_n; i++)
        if (c->rn_pos[i] == pos) return;
    if (c->rn_n == c->rn_cap) {
        c->rn_cap = c->rn_cap ? c->rn_cap * 2 : 8;
        int *v = sqli_ar_alloc(c->a, sizeof(int) * (size_t)c->rn_cap);
        if (c->rn_n) memcpy(v, c->rn_pos, sizeof(int) * (size_t)c->rn_n);
        c->rn_pos = v;
    }
    c->rn_pos[c->rn_n++] = pos;
}

static int is_name(const token *t) {
    return t->type == TK_ID || (t->type == TK_KEYWORD && !sqli_kw_reserved(t->kw));
}

int sqli_qname_last(const char *sql, int pos) {
    int n = (int)strlen(sql);
    token t;
    sqli_lex_token(sql, n, pos, &t);
    for (int p = pos + (t.len ? t.len : 1);;) {
        while (p < n && (sqli_lex_token(sql, n, p, &t), t.type == TK_SPACE)) p += t.len ? t.len : 1;
        if (p >= n || t.type != TK_DOT) return pos;
        p += t.len;
        while (p < n && (sqli_lex_token(sql, n, p, &t), t.type == TK_SPACE)) p += t.len ? t.len : 1;
        if (p >= n || !is_name(&t)) return pos;
        pos = p;
        p += t.len;
    }
}

/* Is the compiler noting the references to a table being renamed (RENAME
 * TO: rn_tab without rn_name), in the text it is resolving? */
static int renaming_table(const compiler *c, const table *t) {
    return t && c->rn_tab == t && !c->rn_name && c->sql == c->rn_sql;
}

/* A column reference resolved to the column being renamed, in the text
 * being rewritten: its name token (the last name in its span, which may
 * hold a qualifier and parentheses) is noted. For RENAME TO, a qualifier
 * that names the table (the name before the last). */
static void note_rename(compiler *c, const expr *e) {
    if (!c->rn_tab || e->table != c->rn_tab || c->sql != c->rn_sql) return;
    if (c->rn_name ? !sqli_name_eq(e->name, c->rn_name)
                   : !e->tab || !sqli_name_eq(e->tab, c->rn_tab->name))
        return;
    int n = (int)strlen(c->sql), at = -1, before = -1;
    token t;
    for (int pos = e->pos; pos < e->end && pos < n; pos += t.len ? t.len : 1) {
        sqli_lex_token(c->sql, n, pos, &t);
        if (!is_name(&t)) continue;
        before = at;
        at = pos;
    }
    if (!c->rn_name) at = before;
    if (at >= 0) sqli_rename_note(c, at);
}

static int resolve_column(compiler *c, expr *e, scope *sc) {
    for (scope *s = sc; s; s = s->outer) {
        int r = lookup_in_items(c, e, s);
        if (r == 0) r = lookup_in_pseudo(c, e, s);
        if (r > 0) note_rename(c, e);
        if (r == 0) r = lookup_alias(c, e, s);
        if (r < 0) return SQL_ERROR;
        if (r == 0) continue;
        for (scope *m = sc; m != s; m = m->outer)
            if (m->q) m->q->outer_refs = 1;
        return SQL_OK;
    }
    if (e->tab) return sqli_comp_error(c, e->pos, "no such column: %s.%s", e->tab, e->name);
    if (e->flags & EF_DQUOTED) { /* SQLite's fallback: "text" that names no column is a string */
        e->op = E_LIT;
        val_set_text_ref(&e->lit, e->name, strlen(e->name));
        return SQL_OK;
    }
    return sqli_comp_error(c, e->pos, "no such column: %s", e->name);
}

/* ---- expressions ---------------------------------------------------------------------- */

static int add_agg(compiler *c, query *q, expr *e) {
    for (int i = 0; i < q->naggs; i++)
        if (sqli_expr_equal(q->aggs[i], e)) {
            e->slot = i;
            return SQL_OK;
        }
    expr **v = sqli_ar_alloc(c->a, sizeof *v * (size_t)(q->naggs + 1));
    if (q->naggs) memcpy(v, q->aggs, sizeof *v * (size_t)q->naggs);
    v[q->naggs] = e;
    e->slot = q->naggs++;
    q->aggs = v;
    return SQL_OK;
}

static int resolve_func(compiler *c, expr *e, scope *sc) {
    if (sqli_fts_is_func(e->name)) return sqli_fts_resolve(c, e, sc);
    if (e->win) return sqli_win_resolve(c, e, sc);
    int known = 0;
    int nargs = (e->flags & EF_STAR) ? 0 : e->nargs;
    const func_def *f = sqli_func_find(e->name, nargs, &known);
    if (!f && sqli_win_only(e->name))
        return sqli_comp_error(c, e->pos, "misuse of window function %s()", e->name);
    if (!f) {
        if (known)
            return sqli_comp_error(c, e->pos, "wrong number of arguments to function %s()",
                                   e->name);
        return sqli_comp_error(c, e->pos, "no such function: %s", e->name);
    }
    if ((e->flags & EF_STAR) && f->agg != AGG_COUNT_STAR)
        return sqli_comp_error(c, e->pos, "wrong number of arguments to function %s()", e->name);
    e->fn = f;
    if (f->agg) {
        if (!sc || !sc->allow_agg || !sc->q)
            return sqli_comp_error(c, e->pos, "misuse of aggregate function %s()", e->name);
        if ((e->flags & EF_DISTINCT) && e->nargs != 1)
            return sqli_comp_error(c, e->pos, "DISTINCT aggregates must have exactly one argument");
        int save = sc->allow_agg;
        sc->allow_agg = 0;
        for (int i = 0; i < e->nargs; i++)
            if (sqli_resolve_expr(c, e->args[i], sc) != SQL_OK)
                return sc->allow_agg = save, SQL_ERROR;
        if (e->r && sqli_resolve_expr(c, e->r, sc) != SQL_OK)
            return sc->allow_agg = save, SQL_ERROR;
        sc->allow_agg = save;
        e->op = E_AGG;
        e->owner = sc->q;
        return add_agg(c, sc->q, e);
    }
    if (e->flags & EF_DISTINCT)
        return sqli_comp_error(c, e->pos, "DISTINCT is only allowed in aggregate functions");
    if (e->r)
        return sqli_comp_error(c, e->pos, "FILTER may not be used with non-aggregate %s()",
                               e->name);
    for (int i = 0; i < e->nargs; i++)
        if (sqli_resolve_expr(c, e->args[i], sc) != SQL_OK) return SQL_ERROR;
    return SQL_OK;
}

static int query_ncol(const query *q) {
    while (q->op != SEL_SIMPLE) q = q->left;
    return q->ncol;
}

static int resolve_subquery(compiler *c, expr *e, scope *sc) {
    if (e->l && sqli_resolve_expr(c, e->l, sc) != SQL_OK) return SQL_ERROR;
    e->sub->outer_refs = 0;
    if (sqli_resolve_query(c, e->sub, sc) != SQL_OK) return SQL_ERROR;
    int n = query_ncol(e->sub);
    if (e->op != E_EXISTS && n != 1)
        return sqli_comp_error(c, e->pos, "sub-select returns %d columns - expected 1", n);
    e->correlated = e->sub->outer_refs;
    return SQL_OK;
}

int sqli_resolve_expr(compiler *c, expr *e, scope *sc) {
    if (!e) return SQL_OK;
    switch (e->op) {
    case E_COL:
        if (e->flags & EF_RESOLVED) return SQL_OK;
        return resolve_column(c, e, sc);
    case E_FUNC:
        return resolve_func(c, e, sc);
    case E_AGG:
    case E_WIN:
        return SQL_OK;
    case E_SUBQ:
    case E_EXISTS:
    case E_IN_SEL:
        return resolve_subquery(c, e, sc);
    case E_DEFAULT:
        return SQL_OK; /* INSERT/UPDATE check where it stands */
    case E_COLLATE:
        if (sqli_name_eq(e->name, "nocase")) e->flags |= EF_NOCASE;
        break;
    default:
        break;
    }
    if (sqli_resolve_expr(c, e->l, sc) != SQL_OK || sqli_resolve_expr(c, e->r, sc) != SQL_OK)
        return SQL_ERROR;
    for (int i = 0; i < e->nargs; i++)
        if (sqli_resolve_expr(c, e->args[i], sc) != SQL_OK) return SQL_ERROR;
    if (e->op == E_COLLATE && (e->l->flags & EF_NOCASE)) e->flags |= EF_NOCASE;
    return SQL_OK;
}

/* ---- FROM, '*', USING ------------------------------------------------------------------ */

/* The column names of a derived table, a view or a CTE: the given list, or
 * the result columns' names made unique as sqlite3 does ("a", "a:1"). */
int sqli_derived_names(compiler *c, srcitem *it, const query *f, char **cols, int ncols,
                       const view *w) {
    it->ncol = f->ncol;
    it->colnames = sqli_ar_alloc(c->a, sizeof(char *) * (size_t)(it->ncol + 1));
    if (cols && ncols != f->ncol && w)
        return sqli_comp_error(c, it->pos, "expected %d columns for '%s' but got %d", ncols,
                               w->name, f->ncol);
    if (cols && ncols != f->ncol)
        return sqli_comp_error(c, it->pos, "table %s has %d values for %d columns", it->name,
                               f->ncol, ncols);
    for (int k = 0; k < it->ncol; k++) {
        char *nm = cols ? cols[k] : f->cols[k].name;
        for (unsigned cnt = 0;;) {
            int j = 0;
            while (j < k && !sqli_name_eq(it->colnames[j], nm)) j++;
            if (j == k) break;
            size_t n = strlen(nm);
            while (n > 1 && nm[n - 1] >= '0' && nm[n - 1] <= '9') n--;
            if (nm[n - 1] != ':' || n == 1) n = strlen(nm) + 1;
            nm = sqli_ar_printf(c->a, "%.*s:%u", (int)n - 1, nm, ++cnt);
        }
        it->colnames[k] = nm;
    }
    return SQL_OK;
}

/* A derived table: q resolved on its own (it sees no outer columns). */
int sqli_resolve_derived(compiler *c, srcitem *it, query *q, char **cols, int ncols,
                         const view *w) {
    it->sub = q;
    if (sqli_resolve_query(c, q, NULL) != SQL_OK) return SQL_ERROR;
    query *f = q;
    while (f->op != SEL_SIMPLE) f = f->left;
    if (sqli_derived_names(c, it, f, cols, ncols, w) != SQL_OK) return SQL_ERROR;
    it->cur = sqli_comp_cursor(c, NULL, it->ncol);
    return SQL_OK;
}

/* A view used in FROM: a fresh parse of its text, resolved as a derived
 * table in its own name space (the statement's CTEs are not visible). */
static int expand_view(compiler *c, srcitem *it, view *w) {
    for (int i = 0; i < c->nviews; i++)
        if (c->views[i] == w)
            return sqli_comp_error(c, it->pos, "view %s is circularly defined", w->name);
    if (c->nviews == (int)(sizeof c->views / sizeof c->views[0]))
        return sqli_comp_error(c, it->pos, "views nested too deeply: %s", w->name);
    int next, empty, errpos, np;
    char **pn, *perr;
    ast *a = sqli_parse_statement(c->a, w->sql, (int)strlen(w->sql), 0, &next, &empty, &perr,
                                  &errpos, &np, &pn);
    if (!a || a->kind != ST_CREATE_VIEW)
        return sqli_comp_error(c, it->pos, "malformed view %s", w->name);
    const char *save_sql = c->sql;
    struct with_scope *save_with = c->with;
    c->sql = w->sql;
    c->with = NULL;
    c->views[c->nviews++] = w;
    struct cte_use *save_ctes = c->ctes;
    int save_main = c->main_only;
    c->ctes = NULL;
    c->main_only = !w->temp; /* a view of the database sees none of the temp tables */
    int rc = sqli_resolve_derived(c, it, a->sel, a->cols, a->ncols, w);
    c->main_only = save_main;
    c->ctes = save_ctes;
    c->nviews--;
    c->sql = save_sql;
    c->with = save_with;
    if (rc != SQL_OK) c->errpos = it->pos; /* the view's text is not the statement's */
    return rc;
}

/* json_each(...) / json_tree(...) in FROM: a pseudo table of TVF_NCOL
 * columns whose rows json.c makes each time its loop opens. */
static int resolve_tvf(compiler *c, srcitem *it) {
    static const char *const names[TVF_NCOL] = {
        "key", "value", "type", "atom", "id", "parent", "fullkey", "path", "json", "root", "rowid"};
    if (sqli_name_eq(it->name, "json_each"))
        it->tvf = TVF_JSON_EACH;
    else if (sqli_name_eq(it->name, "json_tree"))
        it->tvf = TVF_JSON_TREE;
    else
        return sqli_comp_error(c, it->pos, "no such table: %s", it->name);
    if (it->fargs->nargs > 2)
        return sqli_comp_error(c, it->pos, "too many arguments on %s() - max 2", it->name);
    it->ncol = TVF_NCOL;
    it->colnames = sqli_ar_alloc(c->a, sizeof(char *) * TVF_NCOL);
    for (int k = 0; k < TVF_NCOL; k++) it->colnames[k] = (char *)names[k];
    it->cur = sqli_comp_cursor(c, NULL, TVF_NCOL);
    return SQL_OK;
}

static int resolve_from(compiler *c, query *q, scope *outer) {
    for (int i = 0; i < q->nsrc; i++) {
        srcitem *it = &q->src[i];
        if (it->fargs) {
            if (resolve_tvf(c, it) != SQL_OK) return SQL_ERROR;
            continue;
        }
        if (it->sub) {
            if (sqli_resolve_derived(c, it, it->sub, NULL, 0, NULL) != SQL_OK) return SQL_ERROR;
            continue;
        }
        int r = sqli_cte_expand(c, q, it);
        if (r < 0) return SQL_ERROR;
        table *t = r ? NULL
                     : sqli_schema_table_db(c->sch, it->name,
                                            it->dbq        ? it->dbq
                                            : c->main_only ? 1
                                                           : 0);
        if (it->indexed_by) {
            table *owner = NULL;
            it->forced_idx = sqli_schema_index(c->sch, it->indexed_by, &owner);
            if (!it->forced_idx || owner != t || !t)
                return sqli_comp_error(c, it->pos, "no such index: %s", it->indexed_by);
        }
        if (r) continue;
        view *w = t ? NULL : sqli_schema_view(c->sch, it->name);
        if (w) {
            if (expand_view(c, it, w) != SQL_OK) return SQL_ERROR;
            continue;
        }
        if (!t)
            return sqli_comp_error(c, it->pos, "no such table: %s%s",
                                   it->dbq == 2                ? "temp."
                                   : c->nviews || it->dbq == 1 ? "main."
                                                               : "",
                                   it->name);
        it->tab = t;
        if (renaming_table(c, t)) sqli_rename_note(c, sqli_qname_last(c->sql, it->pos));
        it->ncol = t->ncol;
        it->schema_vtab = t->is_schema;
        it->cur = sqli_comp_cursor(c, t, t->ncol);
        sqli_note_table(c, t->name, SQL_TABLE_READ);
    }
    (void)outer;
    return SQL_OK;
}

static char *item_colname(const srcitem *it, int k) {
    return it->tab ? it->tab->cols[k].name : it->colnames[k];
}

static expr *col_expr(compiler *c, srcitem *it, int col, int pos) {
    expr *e = sqli_ar_alloc(c->a, sizeof *e);
    e->op = E_COL;
    e->pos = pos;
    e->slot = -1;
    e->name = item_colname(it, col);
    e->tab = it->alias ? it->alias : it->name;
    set_col(e, it->cur, col, it->tab);
    if (!it->tab) set_sub_aff(e, it, col);
    return e;
}

static expr *and_expr(compiler *c, expr *a, expr *b) {
    if (!a) return b;
    expr *e = sqli_ar_alloc(c->a, sizeof *e);
    e->op = E_AND;
    e->l = a;
    e->r = b;
    e->pos = a->pos;
    e->slot = -1;
    e->cur = -1;
    return e;
}

/* NATURAL and USING joins become ON terms; the right-hand copies of the
 * columns are hidden from '*'. */
static int resolve_using(compiler *c, query *q) {
    for (int i = 1; i < q->nsrc; i++) {
        srcitem *it = &q->src[i];
        if (it->natural) {
            for (int k = 0; k < it->ncol; k++) {
                const char *nm = item_colname(it, k);
                for (int j = 0; j < i; j++)
                    if (item_column(&q->src[j], nm) >= 0) {
                        char **v = sqli_ar_alloc(c->a, sizeof(char *) * (size_t)(it->nusing + 1));
                        if (it->nusing) memcpy(v, it->usingv, sizeof(char *) * (size_t)it->nusing);
                        v[it->nusing++] = (char *)nm;
                        it->usingv = v;
                        break;
                    }
            }
        }
        if (!it->nusing) continue;
        it->using_hidden = sqli_ar_alloc(c->a, (size_t)it->ncol + 1);
        for (int u = 0; u < it->nusing; u++) {
            int rc = item_column(it, it->usingv[u]);
            int j = 0, lc = -2;
            for (; j < i; j++)
                if ((lc = item_column(&q->src[j], it->usingv[u])) >= 0) break;
            if (rc < 0 || lc < 0)
                return sqli_comp_error(
                    c, it->pos, "cannot join using column %s - column not present in both tables",
                    it->usingv[u]);
            expr *eq = sqli_ar_alloc(c->a, sizeof *eq);
            eq->op = E_EQ;
            eq->pos = it->pos;
            eq->slot = -1;
            eq->cur = -1;
            eq->l = col_expr(c, &q->src[j], lc, it->pos);
            eq->r = col_expr(c, it, rc, it->pos);
            it->on = and_expr(c, it->on, eq);
            it->using_hidden[rc] = 1;
        }
    }
    return SQL_OK;
}

static void push_col(compiler *c, rescol **v, int *n, int *cap, expr *e, char *name) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        rescol *nv = sqli_ar_alloc(c->a, sizeof *nv * (size_t)*cap);
        if (*n) memcpy(nv, *v, sizeof *nv * (size_t)*n);
        *v = nv;
    }
    (*v)[*n].e = e;
    (*v)[*n].alias = NULL;
    (*v)[*n].name = name;
    (*n)++;
}

static int expand_stars(compiler *c, query *q) {
    rescol *v = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < q->ncol; i++) {
        rescol *rc = &q->cols[i];
        expr *e = rc->e;
        if (!(e->op == E_COL && e->name && strcmp(e->name, "*") == 0 &&
              !(e->flags & EF_RESOLVED))) {
            push_col(c, &v, &n, &cap, e, rc->alias);
            v[n - 1].alias = rc->alias;
            continue;
        }
        if (q->nsrc == 0) return sqli_comp_error(c, e->pos, "no tables specified");
        int any = 0;
        for (int k = 0; k < q->nsrc; k++) {
            srcitem *it = &q->src[k];
            if (e->tab && !item_matches(it, e->tab)) continue;
            if (e->tab && !it->alias && renaming_table(c, it->tab)) sqli_rename_note(c, e->tab_pos);
            any = 1;
            for (int col = 0; col < (it->tvf ? TVF_NVISIBLE : it->ncol); col++) {
                if (!e->tab && it->using_hidden && it->using_hidden[col]) continue;
                push_col(c, &v, &n, &cap, col_expr(c, it, col, e->pos), item_colname(it, col));
            }
        }
        if (!any) return sqli_comp_error(c, e->pos, "no such table: %s", e->tab);
    }
    if (n > SQL_MAX_COLUMNS) return sqli_comp_error(c, q->pos, "too many columns in result set");
    q->cols = v;
    q->ncol = n;
    return SQL_OK;
}

/* ---- ORDER BY / GROUP BY terms ------------------------------------------------------- */

/* A term that is an integer literal k: 1-based result column, else 0. */
static int term_number(compiler *c, const expr *e, int ncol, const char *what, int *err) {
    *err = 0;
    if (e->op != E_LIT || e->lit.type != SQL_INTEGER) return 0;
    if (e->lit.u.i < 1 || e->lit.u.i > ncol) {
        sqli_comp_error(c, e->pos, "%s term out of range - should be between 1 and %d", what, ncol);
        *err = 1;
        return 0;
    }
    return (int)e->lit.u.i;
}

static int alias_match(query *q, const expr *e) {
    if (e->op != E_COL || e->tab || !e->name || (e->flags & EF_RESOLVED)) return 0;
    for (int i = 0; i < q->ncol; i++)
        if (q->cols[i].alias && sqli_name_eq(q->cols[i].alias, e->name)) return i + 1;
    return 0;
}

static int resolve_order(compiler *c, query *q, scope *sc) {
    for (int i = 0; i < q->norder; i++) {
        orderterm *o = &q->order[i];
        int err, k = term_number(c, o->e, q->ncol, "ORDER BY", &err);
        if (err) return SQL_ERROR;
        if (!k) k = alias_match(q, o->e);
        if (k) {
            o->rescol = k;
            o->e = q->cols[k - 1].e;
            continue;
        }
        if (sqli_resolve_expr(c, o->e, sc) != SQL_OK) return SQL_ERROR;
    }
    return SQL_OK;
}

static int resolve_group(compiler *c, query *q, scope *sc) {
    for (int i = 0; i < q->ngroup; i++) {
        expr *e = q->group[i];
        int err, k = term_number(c, e, q->ncol, "GROUP BY", &err);
        if (err) return SQL_ERROR;
        if (!k && alias_match(q, e)) {
            /* a FROM column of that name wins over an alias */
            expr probe = *e;
            char *save_err = c->err;
            if (resolve_column(c, &probe, sc) != SQL_OK) {
                c->err = save_err;
                k = alias_match(q, e);
            }
        }
        if (k) {
            q->group[i] = q->cols[k - 1].e;
            if (q->group[i]->op == E_AGG)
                return sqli_comp_error(
                    c, e->pos, "aggregate functions are not allowed in the GROUP BY clause");
            continue;
        }
        if (sqli_resolve_expr(c, e, sc) != SQL_OK) return SQL_ERROR;
    }
    return SQL_OK;
}

/* Aggregates found in GROUP BY terms are errors (allow_agg was 0 there). */

static int resolve_compound_order(compiler *c, query *q) {
    query *first = q;
    while (first->op != SEL_SIMPLE) first = first->left;
    for (int i = 0; i < q->norder; i++) {
        orderterm *o = &q->order[i];
        int err, k = term_number(c, o->e, first->ncol, "ORDER BY", &err);
        if (err) return SQL_ERROR;
        if (!k && o->e->op == E_COL && !o->e->tab)
            for (int j = 0; j < first->ncol && !k; j++)
                if ((first->cols[j].alias && sqli_name_eq(first->cols[j].alias, o->e->name)) ||
                    sqli_name_eq(first->cols[j].name, o->e->name))
                    k = j + 1;
        if (!k) {
            const char *ord[] = {"1st", "2nd", "3rd"};
            if (i < 3)
                return sqli_comp_error(
                    c, o->e->pos, "%s ORDER BY term does not match any column in the result set",
                    ord[i]);
            return sqli_comp_error(c, o->e->pos,
                                   "%dth ORDER BY term does not match any column in the result set",
                                   i + 1);
        }
        o->rescol = k;
    }
    return SQL_OK;
}

static int resolve_values(compiler *c, query *q, scope *outer) {
    scope sc = {0};
    sc.outer = outer;
    sc.q = q;
    for (int r = 0; r < q->nvalues; r++)
        for (int k = 0; k < q->ncol; k++)
            if (sqli_resolve_expr(c, q->values[r][k], &sc) != SQL_OK) return SQL_ERROR;
    q->cols = sqli_ar_alloc(c->a, sizeof *q->cols * (size_t)(q->ncol + 1));
    for (int k = 0; k < q->ncol; k++) {
        q->cols[k].e = q->values[0][k];
        q->cols[k].name = sqli_ar_printf(c->a, "column%d", k + 1);
    }
    return SQL_OK;
}

static int resolve_limits(compiler *c, query *q, scope *outer) {
    scope sc = {0};
    sc.outer = outer;
    if (sqli_resolve_expr(c, q->limit, &sc) != SQL_OK ||
        sqli_resolve_expr(c, q->offset, &sc) != SQL_OK)
        return SQL_ERROR;
    return SQL_OK;
}

static int resolve_simple(compiler *c, query *q, scope *outer) {
    if (q->nsrc > 64) return sqli_comp_error(c, q->pos, "at most 64 tables in a join");
    if (resolve_from(c, q, outer) != SQL_OK || resolve_using(c, q) != SQL_OK ||
        expand_stars(c, q) != SQL_OK)
        return SQL_ERROR;
    scope sc = {0};
    sc.outer = outer;
    sc.q = q;
    sc.src = q->src;
    sc.nsrc = q->nsrc;
    /* a function's arguments may name any item of FROM, as in sqlite3; the
     * planner puts the function after the items they read */
    for (int i = 0; i < q->nsrc; i++)
        if (q->src[i].fargs && sqli_resolve_expr(c, q->src[i].fargs, &sc) != SQL_OK)
            return SQL_ERROR;
    for (int i = 0; i < q->nsrc; i++)
        if (sqli_resolve_expr(c, q->src[i].on, &sc) != SQL_OK) return SQL_ERROR;
    /* the result columns first: WHERE, HAVING and ORDER BY may use their aliases */
    sc.allow_agg = 1;
    sc.allow_win = 1;
    for (int i = 0; i < q->ncol; i++) {
        if (sqli_resolve_expr(c, q->cols[i].e, &sc) != SQL_OK) return SQL_ERROR;
        if (!q->cols[i].name)
            q->cols[i].name = q->cols[i].alias ? q->cols[i].alias : sqli_expr_name(c, q->cols[i].e);
    }
    sc.allow_agg = 0;
    sc.allow_win = 0;
    sc.use_aliases = 1;
    if (sqli_resolve_expr(c, q->where, &sc) != SQL_OK) return SQL_ERROR;
    sc.use_aliases = 0;
    if (resolve_group(c, q, &sc) != SQL_OK) return SQL_ERROR;
    sc.allow_agg = 1;
    sc.use_aliases = 1;
    if (sqli_resolve_expr(c, q->having, &sc) != SQL_OK) return SQL_ERROR;
    sc.allow_win = 1;
    if (resolve_order(c, q, &sc) != SQL_OK) return SQL_ERROR;
    q->is_agg = q->naggs > 0 || q->ngroup > 0;
    if (q->having && !q->is_agg)
        return sqli_comp_error(c, q->having->pos, "a GROUP BY clause is required before HAVING");
    return SQL_OK;
}

static int resolve_query(compiler *c, query *q, scope *outer);

int sqli_resolve_query(compiler *c, query *q, scope *outer) {
    if (!q->with) return resolve_query(c, q, outer);
    with_scope ws;
    sqli_with_push(c, &ws, q->with);
    int rc = resolve_query(c, q, outer);
    c->with = ws.outer;
    return rc;
}

static int resolve_query(compiler *c, query *q, scope *outer) {
    int rc;
    if (q->op != SEL_SIMPLE) {
        if (sqli_resolve_query(c, q->left, outer) != SQL_OK ||
            sqli_resolve_query(c, q->right, outer) != SQL_OK)
            return SQL_ERROR;
        q->outer_refs = q->left->outer_refs | q->right->outer_refs;
        if (query_ncol(q->left) != query_ncol(q->right)) {
            static const char *nm[] = {"", "UNION", "UNION ALL", "INTERSECT", "EXCEPT"};
            return sqli_comp_error(
                c, q->right->pos,
                "SELECTs to the left and right of %s do not have the same number of result columns",
                nm[q->op]);
        }
        rc = resolve_compound_order(c, q);
    } else if (q->values) {
        rc = resolve_values(c, q, outer);
    } else {
        rc = resolve_simple(c, q, outer);
    }
    if (rc == SQL_OK) rc = resolve_limits(c, q, outer);
    return rc;
}

/* ---- standalone expressions (DEFAULT, CHECK, partial index WHERE) -------------------- */

static int no_subqueries(compiler *c, const expr *e) {
    if (!e) return SQL_OK;
    if (e->op == E_SUBQ || e->op == E_EXISTS || e->op == E_IN_SEL)
        return sqli_comp_error(c, e->pos, "subqueries are not allowed here");
    if (e->op == E_PARAM) return sqli_comp_error(c, e->pos, "parameters are not allowed here");
    if (no_subqueries(c, e->l) || no_subqueries(c, e->r)) return SQL_ERROR;
    for (int i = 0; i < e->nargs; i++)
        if (no_subqueries(c, e->args[i])) return SQL_ERROR;
    return SQL_OK;
}

/* A generated column's expression: sqlite3's words for what it may not hold. */
static int gen_allowed(compiler *c, const expr *e) {
    if (!e) return SQL_OK;
    if (e->op == E_SUBQ || e->op == E_EXISTS || e->op == E_IN_SEL)
        return sqli_comp_error(c, e->pos, "subqueries prohibited in generated columns");
    if (e->op == E_FUNC && e->fn && (e->fn->flags & FN_VOLATILE))
        return sqli_comp_error(c, e->pos,
                               "non-deterministic functions prohibited in generated columns");
    if (gen_allowed(c, e->l) || gen_allowed(c, e->r)) return SQL_ERROR;
    for (int i = 0; i < e->nargs; i++)
        if (gen_allowed(c, e->args[i])) return SQL_ERROR;
    return SQL_OK;
}

int sqli_resolve_generated(arena *a, expr *e, table *t, char **err) {
    compiler c = {0};
    c.a = a;
    if (gen_allowed(&c, e) != SQL_OK) {
        *err = c.err;
        return SQL_ERROR;
    }
    if (sqli_resolve_standalone(a, e, t, err) != SQL_OK) return SQL_ERROR;
    if (gen_allowed(&c, e) != SQL_OK) { /* functions are known once resolved */
        *err = c.err;
        return SQL_ERROR;
    }
    return SQL_OK;
}

int sqli_resolve_standalone(arena *a, expr *e, table *t, char **err) {
    compiler c = {0};
    c.a = a;
    scope sc = {0};
    if (t) {
        sc.pseudo[0].name = "";
        sc.pseudo[0].tab = t;
        sc.pseudo[0].cur = CUR_SELF;
        sc.pseudo[1].name = t->name;
        sc.pseudo[1].tab = t;
        sc.pseudo[1].cur = CUR_SELF;
        sc.npseudo = 2;
    }
    int rc = no_subqueries(&c, e);
    if (rc == SQL_OK) rc = sqli_resolve_expr(&c, e, &sc);
    if (rc != SQL_OK) {
        *err = c.err;
        return SQL_ERROR;
    }
    if (sqli_expr_is_const(e)) e->flags |= EF_CONST;
    return SQL_OK;
}

/* RETURNING: expressions over the target row (cursor cur), '*' expanded. */
int sqli_resolve_returning(compiler *c, table *t, int cur, const char *alias, rescol *cols,
                           int ncol, scope *outer, rescol **out, int *nout) {
    query *q = sqli_ar_alloc(c->a, sizeof *q);
    q->nsrc = 1;
    q->src = sqli_ar_alloc(c->a, sizeof(srcitem));
    q->src[0].tab = t;
    q->src[0].name = t->name;
    q->src[0].alias = (char *)alias;
    q->src[0].cur = cur;
    q->src[0].ncol = t->ncol;
    q->cols = cols;
    q->ncol = ncol;
    if (expand_stars(c, q) != SQL_OK) return SQL_ERROR;
    scope sc = {0};
    sc.outer = outer;
    sc.src = q->src;
    sc.nsrc = 1;
    for (int i = 0; i < q->ncol; i++) {
        if (sqli_resolve_expr(c, q->cols[i].e, &sc) != SQL_OK) return SQL_ERROR;
        if (!q->cols[i].name)
            q->cols[i].name = q->cols[i].alias ? q->cols[i].alias : sqli_expr_name(c, q->cols[i].e);
    }
    *out = q->cols;
    *nout = q->ncol;
    return SQL_OK;
}
