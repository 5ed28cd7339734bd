/* sql/cte.c — common table expressions: WITH names in FROM, and the
 * evaluation of recursive ones.
 *
 * A CTE's body stays as parsed. Each use of its name in FROM resolves a deep
 * copy of the body as a derived table (so two uses have their own cursors),
 * in the name space of its WITH clause: every CTE of that clause (forward
 * references too, as in sqlite3) and those of enclosing WITH clauses.
 *
 * A CTE whose body is "setup UNION [ALL] step", where the step names the CTE
 * once in its own FROM, is recursive. It runs as sqlite3 runs it: the setup's
 * rows go into a queue; then, until the queue is empty, the oldest row is
 * taken off, returned, and the step runs with the CTE's name standing for
 * that one row (ACC_QUEUE loop), adding its rows to the queue. UNION drops
 * rows seen before. The rows are produced on demand, so a LIMIT (in the CTE
 * or on the query reading it) stops an unbounded recursion.
 *
 * Invariants:
 *   1. A statement never resolves a CTE's parsed body itself, only copies.
 *   2. A recursive CTE adds at most db->max_recursive_rows rows to its queue
 *      (PRAGMA max_recursive_rows; 0 = no limit); past that the statement
 *      fails, so a runaway recursion cannot hold the thread that runs SQL.
 *   3. Rows taken off the queue are freed: memory holds the queue (and the
 *      rows seen, for UNION), not every row produced.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>

/* ---- deep copies of parsed queries ---------------------------------------------------------- */

static query *copy_query(arena *a, const query *q);

static expr *copy_expr(arena *a, const expr *e) {
    if (!e) return NULL;
    expr *n = sqli_ar_alloc(a, sizeof *n);
    *n = *e;
    n->l = copy_expr(a, e->l);
    n->r = copy_expr(a, e->r);
    if (e->nargs) {
        n->args = sqli_ar_alloc(a, sizeof(expr *) * (size_t)e->nargs);
        for (int i = 0; i < e->nargs; i++) n->args[i] = copy_expr(a, e->args[i]);
    }
    n->sub = copy_query(a, e->sub);
    return n; /* e->win stays shared: each use copies it (window.c) */
}

expr *sqli_expr_copy(arena *a, const expr *e) {
    return copy_expr(a, e);
}

static expr **copy_exprs(arena *a, expr **v, int n) {
    if (!v) return NULL;
    expr **r = sqli_ar_alloc(a, sizeof(expr *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) r[i] = copy_expr(a, v[i]);
    return r;
}

static query *copy_query(arena *a, const query *q) {
    if (!q) return NULL;
    query *n = sqli_ar_alloc(a, sizeof *n);
    *n = *q;
    n->left = copy_query(a, q->left);
    n->right = copy_query(a, q->right);
    if (q->cols) {
        n->cols = sqli_ar_alloc(a, sizeof(rescol) * (size_t)(q->ncol + 1));
        for (int i = 0; i < q->ncol; i++) {
            n->cols[i] = q->cols[i];
            n->cols[i].e = copy_expr(a, q->cols[i].e);
        }
    }
    if (q->nsrc) {
        n->src = sqli_ar_alloc(a, sizeof(srcitem) * (size_t)q->nsrc);
        for (int i = 0; i < q->nsrc; i++) {
            n->src[i] = q->src[i];
            n->src[i].on = copy_expr(a, q->src[i].on);
            n->src[i].fargs = copy_expr(a, q->src[i].fargs);
            n->src[i].sub = copy_query(a, q->src[i].sub);
        }
    }
    n->where = copy_expr(a, q->where);
    n->group = copy_exprs(a, q->group, q->ngroup);
    n->having = copy_expr(a, q->having);
    if (q->norder) {
        n->order = sqli_ar_alloc(a, sizeof(orderterm) * (size_t)q->norder);
        for (int i = 0; i < q->norder; i++) {
            n->order[i] = q->order[i];
            n->order[i].e = copy_expr(a, q->order[i].e);
        }
    }
    n->limit = copy_expr(a, q->limit);
    n->offset = copy_expr(a, q->offset);
    if (q->values) {
        n->values = sqli_ar_alloc(a, sizeof(expr **) * (size_t)(q->nvalues + 1));
        for (int r = 0; r < q->nvalues; r++) n->values[r] = copy_exprs(a, q->values[r], q->ncol);
    }
    return n;
}

/* ---- names in FROM ------------------------------------------------------------------------------
 */

void sqli_with_push(compiler *c, with_scope *ws, with_clause *w) {
    ws->w = w;
    ws->outer = c->with;
    c->with = ws;
}

/* The step's own reference to the CTE: a one-row table of the setup's
 * columns. */
static int self_reference(compiler *c, srcitem *it, cte_use *u) {
    const query *f = u->body->left;
    while (f->op != SEL_SIMPLE) f = f->left;
    if (sqli_derived_names(c, it, f, u->def->cols, u->def->ncols, NULL) != SQL_OK) return SQL_ERROR;
    it->cur = sqli_comp_cursor(c, NULL, it->ncol);
    it->cte_self = 1;
    u->self = it;
    return SQL_OK;
}

int sqli_cte_expand(compiler *c, query *q, srcitem *it) {
    with_scope *ws = c->with;
    cte *def = NULL;
    for (; ws && !def; ws = def ? ws : ws->outer)
        for (int i = 0; i < ws->w->n && !def; i++)
            if (sqli_name_eq(ws->w->v[i].name, it->name)) def = &ws->w->v[i];
    if (!def) return 0;
    for (cte_use *u = c->ctes; u; u = u->outer) {
        if (u->def != def) continue;
        if (u->step != q)
            return sqli_comp_error(c, it->pos, "circular reference: %s", def->name), -1;
        if (u->self)
            return sqli_comp_error(c, it->pos, "multiple references to recursive table: %s",
                                   def->name),
                   -1;
        return self_reference(c, it, u) == SQL_OK ? 1 : -1;
    }
    cte_use u = {.def = def, .body = copy_query(c->a, def->body), .outer = c->ctes};
    query *b = u.body;
    if ((b->op == SEL_UNION || b->op == SEL_UNION_ALL) && b->right->op == SEL_SIMPLE &&
        !b->right->values)
        u.step = b->right;
    with_scope *save = c->with;
    c->with = ws; /* the body sees its own WITH clause and the enclosing ones */
    c->ctes = &u;
    int rc = sqli_resolve_derived(c, it, b, def->cols, def->ncols, NULL);
    c->ctes = u.outer;
    c->with = save;
    if (rc != SQL_OK) return -1;
    if (!u.self) return 1;
    if (u.step->is_agg)
        return sqli_comp_error(c, it->pos, "recursive aggregate queries not supported"), -1;
    if (b->norder)
        return sqli_comp_error(c, it->pos, "ORDER BY in a recursive query is not supported"), -1;
    b->recursive = 1;
    return 1;
}

/* ---- running a recursive CTE -------------------------------------------------------------------
 */

struct cte_run {
    rowbuf queue; /* rows waiting for their step; [head, n) live */
    size_t head;
    rowbuf cur; /* the row the step reads (the ACC_QUEUE loop's rows) */
    bmap seen;  /* UNION: every row queued so far */
    int64_t added;
    int setup_done;
};

void sqli_cte_close(qplan *p) {
    struct cte_run *r = p->rec;
    if (!r) return;
    sqli_rowbuf_clear(&r->queue); /* taken rows are NULL there */
    sqli_rowbuf_clear(&r->cur);
    sqli_bmap_clear(&r->seen);
    xfree(r);
    p->rec = NULL;
    if (p->rec_loop) p->rec_loop->mat = NULL;
}

/* Queue the current output row of side (UNION: unless seen before). */
static int enqueue(vm *v, qplan *p, qplan *side) {
    struct cte_run *r = p->rec;
    if (p->op == SEL_UNION) {
        int added;
        sqli_keyenc_reset(&v->kb2);
        for (int i = 0; i < side->ncol; i++) sqli_key_add(&v->kb2, &side->out[i], 0);
        sqli_bmap_get(&r->seen, v->kb2.p, v->kb2.len, 1, &added);
        if (!added) return SQL_OK;
    }
    int64_t limit = v->db->max_recursive_rows;
    if (limit > 0 && r->added >= limit)
        return sqli_vm_error(v, SQL_ERROR,
                             "recursive query stopped after %lld rows (PRAGMA max_recursive_rows)",
                             (long long)limit);
    r->added++;
    if (r->head > 1024 && r->head * 2 > r->queue.n) { /* drop the freed front */
        memmove(r->queue.rows, r->queue.rows + r->head, sizeof(uint8_t *) * (r->queue.n - r->head));
        r->queue.n -= r->head;
        r->head = 0;
    }
    sqli_rowbuf_add(&r->queue, NULL, 0, side->out, side->ncol);
    return SQL_OK;
}

static int run_side(vm *v, qplan *p, qplan *side) {
    int rc = sqli_q_open(v, side);
    while (rc == SQL_OK && (rc = sqli_q_next(v, side)) == SQL_ROW) rc = enqueue(v, p, side);
    return rc == SQL_DONE ? SQL_OK : rc;
}

int sqli_cte_next(vm *v, qplan *p) {
    if (!p->rec) p->rec = xcalloc(1, sizeof *p->rec);
    struct cte_run *r = p->rec;
    assert(p->rec_loop);
    int rc;
    if (!r->setup_done) {
        r->setup_done = 1;
        if ((rc = run_side(v, p, p->left)) != SQL_OK) return rc;
    }
    if (r->head >= r->queue.n) return SQL_DONE;
    /* take the oldest row: it is the output, and the step's input */
    sqli_rowbuf_clear(&r->cur);
    r->cur.rows = xrealloc(r->cur.rows, sizeof(uint8_t *));
    r->cur.cap = 1;
    r->cur.rows[0] = r->queue.rows[r->head];
    r->queue.rows[r->head++] = NULL;
    r->cur.n = 1;
    const sql_value *vals;
    sqli_rowbuf_row(&r->cur, 0, &vals, NULL, NULL);
    for (int i = 0; i < p->ncol; i++) {
        val_free(&p->out[i]);
        sqli_val_copy(&p->out[i], &vals[i]);
    }
    p->rec_loop->mat = &r->cur;
    rc = run_side(v, p, p->right);
    return rc == SQL_OK ? SQL_ROW : rc;
}
