/* sql/plan.c — the query planner: WHERE terms, access paths, join order,
 * ORDER BY by index, covering and partial indexes, and EXPLAIN QUERY PLAN.
 *
 * A query block's FROM items become nested loops. For each order of the
 * loops (every permutation up to 6 items, a bounded search in the manner of
 * SQLite's next-generation planner up to 10, greedy beyond), each loop takes
 * its cheapest access path given the loops before it:
 *   - the table's key or an index whose leading columns are all bound by
 *     "=" / "IS" / "IN (list)" terms whose other side is known (constants,
 *     parameters, outer loops), then at most one range (<, <=, >, >=,
 *     BETWEEN) on the next column; "x = 1 OR x = 2" counts as an IN list;
 *   - when no index serves the item's equality terms, a hash table of its
 *     rows built once per statement (hash_path) may beat scanning it again
 *     for every row of the loops before it;
 *   - a partial index only when the WHERE clause implies its predicate;
 *     WHERE terms written exactly as one of its predicate's conjuncts
 *     ("deleted = 0") hold for every entry: a loop over it drops them;
 *   - an index that holds every column the query uses (leaving out columns
 *     used only in such dropped terms) is "covering": the table is not read;
 *   - otherwise a full scan.
 * Costs follow a simple model: a seek costs log2(rows); every visited row
 * costs 1, plus a table lookup (log2) when the index does not cover. Row
 * counts come from ANALYZE (stat entries) or defaults: in a join, a table's
 * size read from its B-tree (estimate_rows), else 1,000,000 rows; 10 rows
 * per distinct index prefix, 1 for a unique key. A plan whose
 * first loop already delivers the ORDER BY order skips the sort; with a
 * LIMIT that is worth a lot, and the two are compared.
 *
 * Invariants:
 *   1. A term used as a key constraint is not checked again (the key
 *      encoding compares exactly as SQL does under the term's affinity), and
 *      only when that affinity suits the column (SQLite's rule).
 *   2. LEFT JOIN: the right item keeps its position relative to the items
 *      before and after it in FROM; its access path uses only its ON terms;
 *      WHERE terms on it are filters after the NULL row is decided.
 *   3. Every WHERE term ends in exactly one place: a key constraint, the
 *      filters of the first loop where all its items are known, or the
 *      block's constant filters.
 */
#include "sql/fts.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint64_t mask_t;

typedef struct term {
    expr *e;
    mask_t mask; /* FROM items referenced */
    int on_item; /* -1: WHERE (or inner ON); else the LEFT JOIN item it belongs to */
    int used;
    /* key constraint form: side[s] = (item, col) when that side is a column of
     * this block; op as seen with the column on the left */
    int item[2], col[2], op[2];
    expr *val[2];
    mask_t vmask[2];
} term;

typedef struct planctx {
    compiler *c;
    query *q;
    int n; /* FROM items */
    term *t;
    int nt, capt;
    uint64_t **used_cols;  /* per item: bitmap of columns the query reads (bit 63: more) */
    uint64_t **other_cols; /* the same, leaving out this block's WHERE/ON terms */
    int *colsz;
    double *nrow; /* per item: rows its table holds, as table_rows estimates them */
} planctx;

/* ---- masks and term splitting ------------------------------------------------------ */

static int item_of_cur(planctx *pc, int cur) {
    for (int i = 0; i < pc->n; i++)
        if (pc->q->src[i].cur == cur) return i;
    return -1;
}

static mask_t expr_mask(planctx *pc, const expr *e);

static mask_t query_mask(planctx *pc, const query *q) {
    mask_t m = 0;
    if (!q) return 0;
    if (q->op != SEL_SIMPLE) return query_mask(pc, q->left) | query_mask(pc, q->right);
    for (int r = 0; r < q->nvalues; r++)
        for (int k = 0; k < q->ncol; k++) m |= expr_mask(pc, q->values[r][k]);
    if (q->values) return m;
    for (int i = 0; i < q->ncol; i++) m |= expr_mask(pc, q->cols[i].e);
    for (int i = 0; i < q->nsrc; i++)
        m |= expr_mask(pc, q->src[i].on) | query_mask(pc, q->src[i].sub) |
             expr_mask(pc, q->src[i].fargs);
    m |= expr_mask(pc, q->where) | expr_mask(pc, q->having);
    for (int i = 0; i < q->ngroup; i++) m |= expr_mask(pc, q->group[i]);
    for (int i = 0; i < q->norder; i++) m |= expr_mask(pc, q->order[i].e);
    return m;
}

static mask_t expr_mask(planctx *pc, const expr *e) {
    if (!e) return 0;
    mask_t m = 0;
    if (e->op == E_COL) {
        int it = item_of_cur(pc, e->cur);
        return it >= 0 ? (mask_t)1 << it : 0;
    }
    if (e->sub) m |= query_mask(pc, e->sub);
    m |= expr_mask(pc, e->l) | expr_mask(pc, e->r);
    for (int i = 0; i < e->nargs; i++) m |= expr_mask(pc, e->args[i]);
    return m;
}

static term *add_term(planctx *pc, expr *e, int on_item) {
    if (pc->nt == pc->capt) {
        pc->capt = pc->capt ? pc->capt * 2 : 16;
        term *v = sqli_ar_alloc(pc->c->a, sizeof *v * (size_t)pc->capt);
        if (pc->nt) memcpy(v, pc->t, sizeof *v * (size_t)pc->nt);
        pc->t = v;
    }
    term *t = &pc->t[pc->nt++];
    memset(t, 0, sizeof *t);
    t->e = e;
    t->on_item = on_item;
    /* a LEFT JOIN's ON term decides the match at its item, even one that
     * names only earlier items: it must never filter those */
    t->mask = expr_mask(pc, e) | (on_item >= 0 ? (mask_t)1 << on_item : 0);
    t->item[0] = t->item[1] = -1;
    return t;
}

static int flip_op(int op) {
    switch (op) {
    case E_LT:
        return E_GT;
    case E_LE:
        return E_GE;
    case E_GT:
        return E_LT;
    case E_GE:
        return E_LE;
    default:
        return op;
    }
}

static expr *mk_bin(compiler *c, int op, expr *l, expr *r, int pos) {
    expr *e = sqli_ar_alloc(c->a, sizeof *e);
    e->op = (uint8_t)op;
    e->l = l;
    e->r = r;
    e->pos = pos;
    e->cur = -1;
    e->slot = -1;
    return e;
}

/* Can an index on column x serve "x op y"? The index keeps values under the
 * column's affinity, so the comparison must convert compatibly. */
static int aff_usable(const expr *x, const expr *y) {
    if (y->flags & EF_NOCASE) return 0;
    int aff = sqli_cmp_affinity(x, y), caff = x->aff;
    return aff == AFF_NONE || aff == AFF_BLOB ||
           (aff == AFF_TEXT ? caff == AFF_TEXT : AFF_IS_NUMERIC(caff));
}

static void classify(planctx *pc, term *t) {
    expr *e = t->e;
    int op = e->op;
    int in_sel = op == E_IN_SEL && !(e->flags & EF_NOT) && !e->correlated;
    if (op != E_EQ && op != E_IS && op != E_LT && op != E_LE && op != E_GT && op != E_GE &&
        !(op == E_IN_LIST && !(e->flags & EF_NOT)) && !in_sel && op != E_ISNULL)
        return;
    if (op == E_ISNULL || op == E_IN_LIST || in_sel) {
        int ok = 1; /* as for "=": the comparison must convert like the index does */
        if (in_sel) {
            const query *q = e->sub;
            while (q->op != SEL_SIMPLE) q = q->left;
            ok = aff_usable(e->l, q->cols[0].e);
        }
        for (int i = 0; op == E_IN_LIST && i < e->nargs; i++) ok &= aff_usable(e->l, e->args[i]);
        if (ok && e->l->op == E_COL && item_of_cur(pc, e->l->cur) >= 0 &&
            !(e->l->flags & EF_NOCASE)) {
            t->item[0] = item_of_cur(pc, e->l->cur);
            t->col[0] = e->l->col;
            t->op[0] = op == E_ISNULL ? op : E_IN_LIST; /* IN (SELECT ...) iterates like a list */
            t->val[0] = op == E_ISNULL ? NULL : e;
            t->vmask[0] = 0;
            for (int i = 0; op == E_IN_LIST && i < e->nargs; i++)
                t->vmask[0] |= expr_mask(pc, e->args[i]);
        }
        return;
    }
    expr *s[2] = {e->l, e->r};
    for (int k = 0; k < 2; k++) {
        expr *x = s[k], *y = s[1 - k];
        if (x->op != E_COL || (x->flags & EF_NOCASE) || (y->flags & EF_NOCASE)) continue;
        if (y->op == E_COLLATE) continue;
        int it = item_of_cur(pc, x->cur);
        if (it < 0) continue;
        if (!aff_usable(x, y)) continue;
        t->item[k] = it;
        t->col[k] = x->col;
        t->op[k] = k == 0 ? op : flip_op(op);
        t->val[k] = y;
        t->vmask[k] = expr_mask(pc, y);
        if (t->vmask[k] & ((mask_t)1 << it)) t->item[k] = -1;
    }
}

/* Collect the disjuncts of "x = c1 OR x = c2 OR ..." where every one
 * compares the same column with a literal or a parameter: *col gets x. */
static int or_eq_collect(expr *e, expr **col, expr **vals, int *n, int max) {
    if (e->op == E_OR)
        return or_eq_collect(e->l, col, vals, n, max) && or_eq_collect(e->r, col, vals, n, max);
    if (e->op != E_EQ || *n >= max) return 0;
    expr *x = e->l, *y = e->r;
    if (x->op != E_COL) x = e->r, y = e->l;
    if (x->op != E_COL || (x->flags & EF_NOCASE) || (y->op != E_LIT && y->op != E_PARAM) ||
        (y->flags & EF_NOCASE))
        return 0;
    if (*col && ((*col)->cur != x->cur || (*col)->col != x->col || (*col)->aff != x->aff)) return 0;
    *col = x;
    vals[(*n)++] = y;
    return 1;
}

/* "x = 1 OR x = 2" is the term "x IN (1, 2)": IN compares each value as "="
 * does (the same affinity and collation), and as an IN list an index on x
 * serves it with one seek per value. */
static expr *or_to_in(compiler *c, expr *e) {
    expr *vals[64], *col = NULL;
    int n = 0;
    if (!or_eq_collect(e, &col, vals, &n, 64)) return e;
    expr *in = mk_bin(c, E_IN_LIST, col, NULL, e->pos);
    in->end = e->end;
    in->flags = e->flags & EF_RESOLVED;
    in->args = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)n);
    memcpy(in->args, vals, sizeof(expr *) * (size_t)n);
    in->nargs = n;
    return in;
}

static void split(planctx *pc, expr *e, int on_item) {
    if (!e) return;
    if (e->op == E_OR) e = or_to_in(pc->c, e);
    if (e->op == E_AND) {
        split(pc, e->l, on_item);
        split(pc, e->r, on_item);
        return;
    }
    if (e->op == E_BETWEEN && !(e->flags & EF_NOT)) {
        split(pc, mk_bin(pc->c, E_GE, e->l, e->args[0], e->pos), on_item);
        split(pc, mk_bin(pc->c, E_LE, e->l, e->args[1], e->pos), on_item);
        return;
    }
    classify(pc, add_term(pc, e, on_item));
}

/* ---- used columns (covering) -------------------------------------------------------- */

static void mark_cols(planctx *pc, const expr *e);

/* Mark the columns q reads; with skip_terms, not those of q's own WHERE and
 * ON clauses (the terms, whose columns the planner looks at one by one). */
static void mark_block(planctx *pc, const query *q, int skip_terms) {
    if (!q) return;
    if (q->op != SEL_SIMPLE) {
        mark_block(pc, q->left, 0);
        mark_block(pc, q->right, 0);
        return;
    }
    for (int r = 0; r < q->nvalues; r++)
        for (int k = 0; k < q->ncol; k++) mark_cols(pc, q->values[r][k]);
    if (q->values) return;
    for (int i = 0; i < q->ncol; i++) mark_cols(pc, q->cols[i].e);
    for (int i = 0; i < q->nsrc; i++) {
        if (!skip_terms) mark_cols(pc, q->src[i].on);
        mark_cols(pc, q->src[i].fargs);
        mark_block(pc, q->src[i].sub, 0);
    }
    if (!skip_terms) mark_cols(pc, q->where);
    mark_cols(pc, q->having);
    for (int i = 0; i < q->ngroup; i++) mark_cols(pc, q->group[i]);
    for (int i = 0; i < q->norder; i++) mark_cols(pc, q->order[i].e);
}

static void mark_query(planctx *pc, const query *q) {
    mark_block(pc, q, 0);
}

static void mark_cols(planctx *pc, const expr *e) {
    if (!e) return;
    if (e->op == E_COL) {
        int it = item_of_cur(pc, e->cur);
        if (it >= 0) {
            int col = e->col < 0 ? pc->colsz[it] : e->col;
            pc->used_cols[it][col / 64] |= (uint64_t)1 << (col % 64);
        }
        return;
    }
    if (e->sub) mark_query(pc, e->sub);
    mark_cols(pc, e->l);
    mark_cols(pc, e->r);
    for (int i = 0; i < e->nargs; i++) mark_cols(pc, e->args[i]);
}

static int col_used(planctx *pc, int it, int col) {
    return (pc->used_cols[it][col / 64] >> (col % 64)) & 1;
}

static int expr_uses_col(planctx *pc, const expr *e, int it, int col) {
    if (!e) return 0;
    if (e->op == E_COL)
        return item_of_cur(pc, e->cur) == it && (e->col < 0 ? pc->colsz[it] : e->col) == col;
    if (e->sub) return 1; /* a subquery may read it: assume so */
    if (expr_uses_col(pc, e->l, it, col) || expr_uses_col(pc, e->r, it, col)) return 1;
    for (int i = 0; i < e->nargs; i++)
        if (expr_uses_col(pc, e->args[i], it, col)) return 1;
    return 0;
}

/* Is term t (on item it) one of the conjuncts of partial index x's predicate,
 * written the same way ("deleted = 0", "x IS NOT NULL")? Then it holds for
 * every entry of x: a loop over x need not check it, nor read its column.
 * Only the terms that decide x's use count (LEFT JOIN: the item's ON terms;
 * a WHERE term on it must still reject the NULL row). */
static int term_in_pred(planctx *pc, int it, const term *t, const expr *ix) {
    if (ix->op == E_AND) return term_in_pred(pc, it, t, ix->l) || term_in_pred(pc, it, t, ix->r);
    const expr *e = t->e;
    int lj = pc->q->src[it].jointype == JT_LEFT;
    if (lj ? t->on_item != it : t->on_item >= 0) return 0;
    if (e->op != ix->op || e->nargs || ix->nargs || !e->l || !ix->l) return 0;
    switch (e->op) {
    case E_EQ:
    case E_NE:
    case E_LT:
    case E_LE:
    case E_GT:
    case E_GE:
    case E_IS:
    case E_ISNOT:
        if (!e->r || !ix->r || ix->r->op != E_LIT || !sqli_expr_equal(e->r, ix->r)) return 0;
        break;
    case E_ISNULL:
    case E_NOTNULL:
        if (e->r || ix->r) return 0;
        break;
    default:
        return 0;
    }
    return e->l->op == E_COL && ix->l->op == E_COL && item_of_cur(pc, e->l->cur) == it &&
           e->l->col == ix->l->col && e->l->col >= 0 &&
           (e->l->flags & EF_NOCASE) == (ix->l->flags & EF_NOCASE);
}

/* A column that the query reads only in terms that partial index x's
 * predicate guarantees need not be in x for x to cover the query. */
static int only_in_pred_terms(planctx *pc, int it, const index_t *x, int col) {
    if (!x->where || ((pc->other_cols[it][col / 64] >> (col % 64)) & 1)) return 0;
    for (int i = 0; i < pc->nt; i++)
        if (expr_uses_col(pc, pc->t[i].e, it, col) && !term_in_pred(pc, it, &pc->t[i], x->where))
            return 0;
    return 1;
}

/* Can a covering scan of x produce column col exactly? Values read back from
 * key components lose what keys do not keep: 2.0 comes back as 2 (fine under
 * INTEGER, NUMERIC, TEXT and REAL affinity, not for a BLOB column) and a
 * DECIMAL's scale; INCLUDE columns come from a record and are exact. */
static int index_has_col(const index_t *x, int col) {
    for (int k = 0; k < x->ninc; k++)
        if (x->inc[k] == col) return 1;
    if (col >= 0 && (x->tab->cols[col].aff == AFF_BLOB || x->tab->cols[col].kind == KIND_DECIMAL))
        return 0;
    for (int k = 0; k < x->ncol; k++)
        if (x->cols[k] == col) return 1;
    const index_t *pk = &x->tab->pk;
    for (int k = 0; k < pk->ncol; k++)
        if (pk->cols[k] == col) return 1;
    return 0;
}

static int covers(planctx *pc, int it, const index_t *x) {
    if (x->is_pk) return 1;
    if (pc->q->dml_scan) return 0; /* UPDATE/DELETE read the whole row */
    table *t = x->tab;
    for (int c = 0; c < t->ncol; c++)
        if (col_used(pc, it, c) && !index_has_col(x, c) && !only_in_pred_terms(pc, it, x, c))
            return 0;
    if (col_used(pc, it, t->ncol) && !index_has_col(x, -1)) return 0; /* rowid */
    return 1;
}

/* ---- partial index implication -------------------------------------------------------- */

static int const_cmp_implies(const expr *q, const expr *ix) {
    /* q: col = c1 ; ix: col op c2 -> evaluate c1 op c2, both converted the
     * way the column compares them (a TEXT column compares '10' < '3') */
    if (q->op != E_EQ || q->r->op != E_LIT || ix->r->op != E_LIT) return 0;
    if (q->l->op != E_COL || ix->l->op != E_COL || q->l->col != ix->l->col) return 0;
    if (q->r->lit.type == SQL_NULL || ix->r->lit.type == SQL_NULL) return 0;
    int c = sqli_ex_cmp_values(&q->r->lit, &ix->r->lit, 0, 0);
    int a1 = sqli_cmp_affinity(q->l, q->r), a2 = sqli_cmp_affinity(ix->l, ix->r);
    if (a1 != a2) return 0;
    sql_value x = q->r->lit, y = ix->r->lit;
    x.owned = y.owned = 0;
    sqli_val_apply_aff(&x, a1 == AFF_TEXT ? AFF_TEXT : AFF_IS_NUMERIC(a1) ? AFF_NUMERIC : AFF_NONE);
    sqli_val_apply_aff(&y, a1 == AFF_TEXT ? AFF_TEXT : AFF_IS_NUMERIC(a1) ? AFF_NUMERIC : AFF_NONE);
    c = sqli_val_cmp(&x, &y);
    val_free(&x);
    val_free(&y);
    switch (ix->op) {
    case E_EQ:
        return c == 0;
    case E_NE:
        return c != 0;
    case E_LT:
        return c < 0;
    case E_LE:
        return c <= 0;
    case E_GT:
        return c > 0;
    case E_GE:
        return c >= 0;
    default:
        return 0;
    }
}

/* Does query term qt (on item it) imply the index predicate conjunct ix
 * (whose columns are CUR_SELF)? */
static int implies(planctx *pc, int it, const expr *qt, const expr *ix) {
    int cur = pc->q->src[it].cur;
    /* compare structurally with the index term's columns mapped to cur */
    if (ix->op == E_NOTNULL && ix->l->op == E_COL) {
        int col = ix->l->col;
        if (qt->op == E_NOTNULL && qt->l->op == E_COL && qt->l->cur == cur && qt->l->col == col)
            return 1;
        if ((qt->op == E_EQ || qt->op == E_LT || qt->op == E_LE || qt->op == E_GT ||
             qt->op == E_GE) &&
            ((qt->l->op == E_COL && qt->l->cur == cur && qt->l->col == col) ||
             (qt->r->op == E_COL && qt->r->cur == cur && qt->r->col == col)))
            return 1;
        return 0;
    }
    if (qt->op != ix->op && !(qt->op == E_EQ && ix->l && ix->r)) return 0;
    if (ix->l && ix->l->op == E_COL && qt->l && qt->l->op == E_COL && qt->l->cur == cur &&
        qt->l->col == ix->l->col) {
        if (qt->op == ix->op && sqli_expr_equal(qt->r, ix->r)) return 1;
        expr tq = *qt, tl = *qt->l;
        tl.cur = CUR_SELF;
        tq.l = &tl;
        return const_cmp_implies(&tq, ix);
    }
    if (qt->op == ix->op && ix->nargs == 0 && !ix->r && ix->l && qt->l && ix->l->op == E_COL &&
        qt->l->op == E_COL && qt->l->cur == cur && qt->l->col == ix->l->col)
        return 1;
    return 0;
}

static int conj_implied(planctx *pc, int it, const expr *ix) {
    if (ix->op == E_AND) return conj_implied(pc, it, ix->l) && conj_implied(pc, it, ix->r);
    int lj = pc->q->src[it].jointype == JT_LEFT;
    for (int i = 0; i < pc->nt; i++) {
        term *t = &pc->t[i];
        if (lj ? t->on_item != it : t->on_item >= 0) continue;
        if (implies(pc, it, t->e, ix)) return 1;
    }
    return 0;
}

/* ---- access paths ----------------------------------------------------------------------- */

typedef struct path {
    index_t *idx;
    int access;
    int neq;
    int eqterm[16];
    int lo, hi; /* term numbers, -1 */
    int in_at;  /* eq position fed by an IN list, -1 */
    int covering;
    int reverse;
    int hash;     /* ACC_HASH: eqterm[0..neq) are the hash key's terms */
    double nrow;  /* rows per open */
    double cost;  /* per open */
    double once;  /* paid once per statement (building a hash table) */
    int fts_term; /* ACC_FTS: the MATCH term */
} path;

static double table_rows(planctx *pc, int it) {
    return pc->nrow[it];
}

/* Below this many rows a table's size read from its B-tree counts as this
 * many: a statement prepared while a table is empty or nearly so (a server
 * caches its statements from the start) must still find its indexes worth
 * using once the table fills up. PostgreSQL's planner has the same floor
 * (ten pages) for tables it has not analyzed. */
#define EST_MIN_ROWS 1000.0

/* Rows per FROM item: ANALYZE's count when there is one; else, in a join,
 * a count read from the table's B-tree (a path from the root to one leaf,
 * see sqli_store_tree_estimate), so that a small table is recognised as
 * small and a selective loop over it goes first; else a million. */
static void estimate_rows(planctx *pc) {
    sql_db *db = pc->c->db;
    store_txn *own = NULL, *txn = db ? db->txn : NULL;
    pc->nrow = sqli_ar_alloc(pc->c->a, sizeof(double) * (size_t)(pc->n + 1));
    for (int i = 0; i < pc->n; i++) {
        table *t = pc->q->src[i].tab;
        pc->nrow[i] = 1000000.0;
        if (!t) continue;
        if (t->nrow_est >= 0) {
            pc->nrow[i] = (double)(t->nrow_est > 0 ? t->nrow_est : 1);
            continue;
        }
        if (pc->n < 2 || t->is_schema || !db || !db->store) continue;
        if (!txn && !t->temp && sqli_store_begin(db->store, STORE_TXN_READ, &own) == STORE_OK)
            txn = own;
        store_txn *tt = t->temp ? db->temp_txn : txn; /* temp.c: the temp store's own */
        uint64_t n;
        if (tt && sqli_store_tree_estimate(tt, sqli_tree_id(t->tree), &n) == STORE_OK)
            pc->nrow[i] = (double)n < EST_MIN_ROWS ? EST_MIN_ROWS : (double)n;
    }
    if (own) sqli_store_abort(own);
}

static double eq_rows(index_t *x, int neq, double nrow) {
    if (neq == 0) return nrow;
    if (x->stat && neq <= x->ncol) return (double)(x->stat[neq] > 0 ? x->stat[neq] : 1);
    if (x->unique && neq >= x->ncol) return 1;
    double r = 10 - (neq - 1) > 2 ? 10 - (neq - 1) : 2;
    return r > nrow ? nrow : r;
}

static int usable(const term *t, int side, int it, mask_t avail, int lj_item) {
    if (t->used || t->item[side] != it) return 0;
    if ((t->vmask[side] & ~avail) != 0) return 0;
    /* a LEFT JOIN item uses only its own ON terms */
    if (lj_item >= 0 ? t->on_item != lj_item : t->on_item >= 0) return 0;
    return 1;
}

static int find_term(planctx *pc, int it, int col, mask_t avail, int lj, int want, int excl) {
    for (int i = 0; i < pc->nt; i++) {
        term *t = &pc->t[i];
        if (i == excl) continue;
        for (int s = 0; s < 2; s++) {
            if (!usable(t, s, it, avail, lj) || t->col[s] != col) continue;
            int op = t->op[s];
            if (want == 0 && (op == E_EQ || op == E_IS || op == E_ISNULL)) return i;
            if (want == 3 && op == E_IN_LIST) return i;
            if (want == 1 && (op == E_GT || op == E_GE)) return i;
            if (want == 2 && (op == E_LT || op == E_LE)) return i;
        }
    }
    return -1;
}

/* Rough width of an entry of x in 8-byte words, so that a full covering scan
 * (count(*)) walks the narrowest index: numbers 1, text and blobs 4. */
static int entry_width(const index_t *x) {
    int w = 0;
    table *t = x->tab;
    for (int pass = 0; pass < 3; pass++) {
        const index_t *y = pass == 1 ? &t->pk : x;
        int n = pass == 0 ? x->ncol : pass == 1 ? (x->is_pk ? 0 : t->pk.ncol) : x->ninc;
        for (int k = 0; k < n; k++) {
            int col = pass == 2 ? x->inc[k] : y->cols[k];
            int aff = col < 0 ? AFF_INTEGER : t->cols[col].aff;
            w += aff == AFF_TEXT || aff == AFF_BLOB || aff == AFF_NONE ? 4 : 1;
        }
    }
    return w;
}

static void eval_index(planctx *pc, int it, index_t *x, mask_t avail, path *p) {
    srcitem *s = &pc->q->src[it];
    int lj = s->jointype == JT_LEFT ? it : -1;
    /* cost units: one step of a cursor. A seek descends a few levels: about
     * five steps for a million rows. A table scan also decodes and filters
     * every row (factor 2); a covering index scan reads narrower entries. */
    double n = table_rows(pc, it), seek = 1 + log2(n + 1) / 5;
    memset(p, 0, sizeof *p);
    p->idx = x;
    p->lo = p->hi = p->in_at = -1;
    double mult = 1;
    for (int k = 0; k < x->ncol && k < 16; k++) {
        int ti = find_term(pc, it, x->cols[k], avail, lj, 0, -1);
        if (ti < 0 && p->in_at < 0) {
            ti = find_term(pc, it, x->cols[k], avail, lj, 3, -1);
            if (ti >= 0) {
                p->in_at = k;
                mult = pc->t[ti].e->op == E_IN_SEL ? 10
                       : pc->t[ti].e->nargs        ? pc->t[ti].e->nargs
                                                   : 1;
            }
        }
        if (ti < 0) break;
        p->eqterm[p->neq++] = ti;
    }
    double rows = eq_rows(x, p->neq, n) * mult;
    if (p->neq < x->ncol) {
        p->lo = find_term(pc, it, x->cols[p->neq], avail, lj, 1, -1);
        p->hi = find_term(pc, it, x->cols[p->neq], avail, lj, 2, -1);
        if (p->lo >= 0) rows /= 4;
        if (p->hi >= 0) rows /= 4;
    }
    if (rows < 1) rows = 1;
    p->covering = covers(pc, it, x);
    p->access = (p->neq || p->lo >= 0 || p->hi >= 0) ? ACC_SEARCH : ACC_SCAN;
    p->nrow = rows;
    p->cost = mult * seek + rows * (p->covering ? 1 : 1 + seek);
    if (p->access == ACC_SCAN)
        p->cost =
            n * (p->covering
                     ? (x->is_pk ? 2.0 : 1.5 + 0.01 * (entry_width(x) < 40 ? entry_width(x) : 40))
                     : 1 + seek);
}

static int partial_ok(planctx *pc, int it, index_t *x) {
    return !x->where || conj_implied(pc, it, x->where);
}

/* Filters left for item it at this point reduce its output rows. */
static double filter_factor(planctx *pc, int it, mask_t avail, const path *p) {
    double f = 1;
    for (int i = 0; i < pc->nt; i++) {
        term *t = &pc->t[i];
        if (!(t->mask & ((mask_t)1 << it)) || (t->mask & ~(avail | ((mask_t)1 << it)))) continue;
        int used = 0;
        for (int k = 0; k < p->neq; k++) used |= p->eqterm[k] == i;
        used |= p->lo == i || p->hi == i;
        if (!used) f *= t->e->op == E_EQ ? 0.1 : 0.25;
    }
    return f;
}

/* A hash table over item it's rows, keyed by the columns its equality terms
 * compare with values known at this point, when no index serves them.
 *
 * Why a hash table rather than a transient B-tree index (SQLite's automatic
 * index) or a sort-merge join: the loop only ever probes it by equality, so
 * ordering buys nothing; a hash is built in one pass without sorting, and a
 * probe costs one lookup whatever the table's size. It is built on the
 * loop's first open from one scan of the table (single-table filters applied
 * during the scan, so only rows that can match are kept) and lives until
 * the statement closes; each later open is a probe, not a scan. Not for
 * UPDATE/DELETE scans, which need the store cursor on the row. */
static void hash_path(planctx *pc, int it, mask_t avail, path *p) {
    srcitem *s = &pc->q->src[it];
    int lj = s->jointype == JT_LEFT ? it : -1;
    memset(p, 0, sizeof *p);
    p->lo = p->hi = p->in_at = -1;
    if (pc->q->dml_scan || s->sub || s->schema_vtab) return;
    for (int i = 0; i < pc->nt && p->neq < 16; i++) {
        term *t = &pc->t[i];
        for (int k = 0; k < 2; k++) {
            if (!usable(t, k, it, avail, lj) || (t->op[k] != E_EQ && t->op[k] != E_IS)) continue;
            int dup = 0;
            for (int j = 0; j < p->neq; j++) dup |= p->eqterm[j] == i;
            if (!dup) p->eqterm[p->neq++] = i;
        }
    }
    if (p->neq == 0) return;
    double n = table_rows(pc, it), rows = n;
    for (int k = 0; k < p->neq; k++) rows *= 0.1;
    p->idx = &s->tab->pk;
    p->hash = 1;
    p->covering = 1;
    p->access = ACC_HASH;
    p->nrow = rows < 1 ? 1 : rows;
    p->cost = 1 + p->nrow;
    p->once = 3 * n;
}

/* A MATCH term on item it whose query is known after avail: the item's rows
 * are the ones its full-text index finds (always taken: MATCH is never a
 * filter, see fts.c). A guess of 100 rows. */
static int fts_path(planctx *pc, int it, mask_t avail, path *p) {
    srcitem *s = &pc->q->src[it];
    for (int i = 0; i < pc->nt; i++) {
        term *t = &pc->t[i];
        if (!sqli_fts_match_of(t->e, s->cur) || (expr_mask(pc, t->e->args[1]) & ~avail) ||
            (s->jointype == JT_LEFT && t->on_item != it))
            continue;
        p->access = ACC_FTS;
        p->idx = s->tab->fts;
        p->fts_term = i;
        p->nrow = 100;
        p->cost = 100 + log2(table_rows(pc, it));
        return 1;
    }
    return 0;
}

/* The cheapest way to loop over item it after the items in avail, when the
 * loop opens `outer` times. */
static void best_path(planctx *pc, int it, mask_t avail, double outer, path *best) {
    srcitem *s = &pc->q->src[it];
    memset(best, 0, sizeof *best);
    best->lo = best->hi = best->in_at = -1;
    if (s->tvf) {
        best->access = ACC_FUNC;
        best->nrow = best->cost = 25;
        return;
    }
    if (s->sub || s->schema_vtab || s->cte_self) {
        best->access = s->sub ? ACC_EPHEM : s->cte_self ? ACC_QUEUE : ACC_SCHEMA;
        best->nrow = s->sub ? 100 : s->cte_self ? 1 : 20;
        best->cost = best->nrow;
        return;
    }
    if (s->tab->fts && fts_path(pc, it, avail, best)) return;
    if (s->forced_idx) { /* INDEXED BY: that index, even for a full scan */
        eval_index(pc, it, s->forced_idx, avail, best);
        return;
    }
    eval_index(pc, it, &s->tab->pk, avail, best);
    for (index_t *x = s->tab->indexes; x && !s->not_indexed; x = x->next) {
        if (!partial_ok(pc, it, x)) continue;
        path p;
        eval_index(pc, it, x, avail, &p);
        if (p.access == ACC_SCAN && !p.covering) continue;
        if (p.cost < best->cost) *best = p;
    }
    if (best->neq == 0 && !s->not_indexed) { /* NOT INDEXED: no automatic index either */
        path h;
        hash_path(pc, it, avail, &h);
        if (h.hash && outer * h.cost + h.once < outer * best->cost) *best = h;
    }
}

/* The trees a FROM item may be read through (INDEXED BY / NOT INDEXED). */
static int item_candidates(planctx *pc, int it, index_t **cands, int max) {
    srcitem *s = &pc->q->src[it];
    int nc = 0;
    if (s->forced_idx) {
        cands[nc++] = s->forced_idx;
        return nc;
    }
    cands[nc++] = &s->tab->pk;
    for (index_t *x = s->tab->indexes; x && nc < max && !s->not_indexed; x = x->next)
        if (partial_ok(pc, it, x)) cands[nc++] = x;
    return nc;
}

/* ---- join order -------------------------------------------------------------------------- */

typedef struct order_search {
    planctx *pc;
    int n;
    int perm[64], best_perm[64];
    path paths[64], best_paths[64];
    double best_cost;
    int must_before[64]; /* index of an item that must come before (LEFT JOIN barrier) */
    int found;           /* an order that places every item was found */
} order_search;

/* Can item it be placed after the set avail? */
static int placeable(planctx *pc, int it, mask_t avail) {
    /* a table-valued function after the items its arguments read */
    if (pc->q->src[it].fargs && (expr_mask(pc, pc->q->src[it].fargs) & ~avail)) return 0;
    /* every LEFT JOIN item j: items before j in FROM come before it, items
     * after j come after it */
    for (int j = 0; j < pc->n; j++) {
        if (pc->q->src[j].jointype != JT_LEFT) continue;
        mask_t before = ((mask_t)1 << j) - 1;
        if (j == it && (before & ~avail)) return 0;
        if (it > j && !(avail & ((mask_t)1 << j))) return 0;
    }
    return 1;
}

static void search(order_search *os, int depth, mask_t avail, double rows, double cost) {
    planctx *pc = os->pc;
    if (cost >= os->best_cost) return;
    if (depth == os->n) {
        os->found = 1;
        os->best_cost = cost;
        memcpy(os->best_perm, os->perm, sizeof(int) * (size_t)os->n);
        memcpy(os->best_paths, os->paths, sizeof(path) * (size_t)os->n);
        return;
    }
    for (int it = 0; it < os->n; it++) {
        if (avail & ((mask_t)1 << it) || !placeable(pc, it, avail)) continue;
        path p;
        best_path(pc, it, avail, rows, &p);
        double out = p.nrow * filter_factor(pc, it, avail, &p);
        if (out < 1) out = 1;
        os->perm[depth] = it;
        os->paths[depth] = p;
        search(os, depth + 1, avail | ((mask_t)1 << it), rows * out, cost + rows * p.cost + p.once);
    }
}

/* A partial join order: the first depth items of perm. */
typedef struct partial {
    mask_t avail;
    double rows, cost;
    int perm[64];
} partial;

static int partial_cmp(const void *a, const void *b) {
    const partial *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    return x->rows < y->rows ? -1 : x->rows > y->rows;
}

/* SQLite's next-generation planner: level by level, extend each of the
 * `width` cheapest partial orders by every item that may come next, merge
 * those that placed the same set of items (keeping the cheaper), and keep
 * the `width` cheapest. Planning costs width * n^2 path evaluations rather
 * than n!; width 1 is the greedy order. Each step's cost counts the rows
 * the loops before it produce, so a selective item is drawn to the front. */
static void beam(order_search *os, int width) {
    planctx *pc = os->pc;
    int n = os->n, nb = 1;
    partial *cur = xcalloc((size_t)width, sizeof *cur);
    partial *next = xcalloc((size_t)width * (size_t)n, sizeof *next);
    cur[0].rows = 1;
    for (int d = 0; d < n; d++) {
        int nn = 0;
        for (int b = 0; b < nb; b++) {
            for (int it = 0; it < n; it++) {
                if (cur[b].avail & ((mask_t)1 << it) || !placeable(pc, it, cur[b].avail)) continue;
                path p;
                best_path(pc, it, cur[b].avail, cur[b].rows, &p);
                double out = p.nrow * filter_factor(pc, it, cur[b].avail, &p);
                partial x = cur[b];
                x.perm[d] = it;
                x.avail |= (mask_t)1 << it;
                x.cost += x.rows * p.cost + p.once;
                x.rows *= out < 1 ? 1 : out;
                int k = 0;
                while (k < nn && next[k].avail != x.avail) k++;
                if (k == nn)
                    next[nn++] = x;
                else if (partial_cmp(&x, &next[k]) < 0)
                    next[k] = x;
            }
        }
        qsort(next, (size_t)nn, sizeof *next, partial_cmp);
        nb = nn < width ? nn : width;
        memcpy(cur, next, sizeof *cur * (size_t)nb);
    }
    os->found = nb > 0;
    /* replay the winner to get its paths */
    mask_t avail = 0;
    double rows = 1;
    for (int d = 0; d < n; d++) {
        int it = cur[0].perm[d];
        os->best_perm[d] = it;
        best_path(pc, it, avail, rows, &os->best_paths[d]);
        double out = os->best_paths[d].nrow * filter_factor(pc, it, avail, &os->best_paths[d]);
        rows *= out < 1 ? 1 : out;
        avail |= (mask_t)1 << it;
    }
    os->best_cost = cur[0].cost;
    xfree(cur);
    xfree(next);
}

/* ---- ORDER BY by index ------------------------------------------------------------------ */

/* The column a sort key reads from item it, or -3. */
static int key_col(planctx *pc, const expr *e, int it) {
    if (e->op != E_COL || e->cur != pc->q->src[it].cur) return -3;
    return e->col;
}

/* Does path p on item it deliver the ORDER BY terms? Sets p->reverse. */
static int path_orders(planctx *pc, int it, path *p) {
    query *q = pc->q;
    index_t *x = p->idx;
    if (!x || p->in_at >= 0 || p->hash || p->access == ACC_FTS || q->norder == 0) return 0;
    int kcols[64], kdesc[64], nk = 0;
    for (int k = 0; k < x->ncol && nk < 64; k++) kcols[nk] = x->cols[k], kdesc[nk++] = x->desc[k];
    if (!x->is_pk)
        for (int k = 0; k < x->tab->pk.ncol && nk < 64; k++)
            kcols[nk] = x->tab->pk.cols[k], kdesc[nk++] = x->tab->pk.desc[k];
    int pos = 0, dir = -1;
    for (int i = 0; i < q->norder; i++) {
        orderterm *o = &q->order[i];
        int col = key_col(pc, o->e, it);
        if (col == -3 || (o->e->flags & EF_NOCASE)) return 0;
        for (;;) { /* skip columns fixed by equality */
            if (pos < p->neq && kcols[pos] != col) {
                pos++;
                continue;
            }
            break;
        }
        if (pos < p->neq && kcols[pos] == col) {
            /* equal to a constant: any direction */
            continue;
        }
        if (pos >= nk || kcols[pos] != col) return 0;
        int d = (o->desc != 0) ^ (kdesc[pos] != 0);
        if (dir >= 0 && d != dir) return 0;
        dir = d;
        int dflt_nulls = o->desc ? 2 : 1;
        if (o->nulls && o->nulls != dflt_nulls) return 0;
        pos++;
    }
    p->reverse = dir == 1;
    return 1;
}

/* ---- building loops ------------------------------------------------------------------------ */

static char *explain_constraints(compiler *c, planctx *pc, int it, path *p) {
    strb b = {0};
    srcitem *s = &pc->q->src[it];
    for (int k = 0; k < p->neq; k++) {
        int col = p->idx->cols[k];
        if (k) sqli_strb_adds(&b, " AND ");
        sqli_strb_addf(&b, "%s=?",
                       col < 0 || (s->tab->ipk == col && p->idx->is_pk) ? "rowid"
                                                                        : s->tab->cols[col].name);
    }
    if (p->neq < p->idx->ncol) {
        int col = p->idx->cols[p->neq];
        const char *nm =
            col < 0 || (s->tab->ipk == col && p->idx->is_pk) ? "rowid" : s->tab->cols[col].name;
        int sides[2] = {p->lo, p->hi};
        for (int k = 0; k < 2; k++) {
            if (sides[k] < 0) continue;
            term *t = &pc->t[sides[k]];
            int op = t->item[0] == it && t->col[0] == col ? t->op[0] : t->op[1];
            if (b.n) sqli_strb_adds(&b, " AND ");
            sqli_strb_addf(&b, "%s%s?", nm,
                           op == E_GT || op == E_GE ? ">" : "<"); /* SQLite's wording */
        }
    }
    char *r = sqli_ar_strdup(c->a, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return r;
}

static void explain_loop(compiler *c, planctx *pc, int it, path *p, loop *L) {
    srcitem *s = &pc->q->src[it];
    const char *nm = s->alias ? s->alias : s->name ? s->name : "(subquery)";
    const char *lj = s->jointype == JT_LEFT ? " LEFT-JOIN" : "";
    if (p->access == ACC_HASH) { /* SQLite's words for its transient lookup structure */
        strb b = {0};
        for (int k = 0; k < L->neq; k++)
            sqli_strb_addf(&b, "%s%s=?", k ? " AND " : "",
                           L->hcol[k] < 0 ? "rowid" : s->tab->cols[L->hcol[k]].name);
        L->explain = sqli_ar_printf(c->a, "SEARCH %s USING AUTOMATIC COVERING INDEX (%s)%s", nm,
                                    sqli_strb_cstr(&b), lj);
        sqli_strb_free(&b);
        return;
    }
    if (p->access == ACC_EPHEM || p->access == ACC_SCHEMA || p->access == ACC_QUEUE) {
        L->explain = sqli_ar_printf(c->a, "SCAN %s%s", nm, lj);
        return;
    }
    if (p->access == ACC_FTS) {
        L->explain = sqli_ar_printf(c->a, "SEARCH %s USING FULLTEXT INDEX %s (MATCH)%s", nm,
                                    p->idx->name, lj);
        return;
    }
    if (p->access == ACC_FUNC) { /* sqlite3's words: its idxNum, a bit per argument */
        L->explain = sqli_ar_printf(c->a, "SCAN %s VIRTUAL TABLE INDEX %d:%s", nm,
                                    (1 << s->fargs->nargs) - 1, lj);
        return;
    }
    index_t *x = p->idx;
    const char *kind = p->covering && !x->is_pk ? "COVERING INDEX" : "INDEX";
    if (p->access == ACC_SCAN) {
        if (x->is_pk)
            L->explain = sqli_ar_printf(c->a, "SCAN %s%s", nm, lj);
        else
            L->explain = sqli_ar_printf(c->a, "SCAN %s USING %s %s%s", nm, kind, x->name, lj);
        return;
    }
    char *cons = explain_constraints(c, pc, it, p);
    if (x->is_pk && (s->tab->rowid || s->tab->ipk >= 0))
        L->explain =
            sqli_ar_printf(c->a, "SEARCH %s USING INTEGER PRIMARY KEY (%s)%s", nm, cons, lj);
    else if (x->is_pk)
        L->explain = sqli_ar_printf(c->a, "SEARCH %s USING PRIMARY KEY (%s)%s", nm, cons, lj);
    else
        L->explain =
            sqli_ar_printf(c->a, "SEARCH %s USING %s %s (%s)%s", nm, kind, x->name, cons, lj);
}

static expr *term_val(term *t, int it, int col) {
    return t->item[0] == it && t->col[0] == col ? t->val[0] : t->val[1];
}
static int term_op(term *t, int it, int col) {
    return t->item[0] == it && t->col[0] == col ? t->op[0] : t->op[1];
}
static expr *term_colexpr(term *t, int it, int col) {
    if (t->e->op == E_IN_LIST || t->e->op == E_ISNULL) return t->e->l;
    expr *l = t->e->l;
    (void)it;
    return l->op == E_COL && l->col == col && t->item[0] >= 0 ? l : t->e->r;
}

static void setup_keys(compiler *c, planctx *pc, int it, path *p, loop *L) {
    L->neq = p->neq;
    L->eq = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(p->neq + 1));
    L->eqaff = sqli_ar_alloc(c->a, (size_t)p->neq + 1);
    L->eqis = sqli_ar_alloc(c->a, (size_t)p->neq + 1);
    for (int k = 0; k < p->neq; k++) {
        term *t = &pc->t[p->eqterm[k]];
        int col = p->idx->cols[k];
        int op = term_op(t, it, col);
        t->used = 1;
        if (op == E_ISNULL) {
            L->eq[k] = NULL; /* NULL value */
            L->eqis[k] = 1;
            continue;
        }
        if (op == E_IN_LIST) {
            L->in_term = k + 1;
            L->in_expr = t->e;
            L->eqaff[k] = (uint8_t)sqli_expr_affinity(t->e->l);
            continue;
        }
        L->eq[k] = term_val(t, it, col);
        L->eqis[k] = op == E_IS;
        L->eqaff[k] = (uint8_t)sqli_cmp_affinity(term_colexpr(t, it, col), L->eq[k]);
    }
    int col = p->neq < p->idx->ncol ? p->idx->cols[p->neq] : -3;
    if (p->lo >= 0) {
        term *t = &pc->t[p->lo];
        t->used = 1;
        L->lo = term_val(t, it, col);
        L->lo_incl = term_op(t, it, col) == E_GE;
        L->range_aff = (uint8_t)sqli_cmp_affinity(term_colexpr(t, it, col), L->lo);
    }
    if (p->hi >= 0) {
        term *t = &pc->t[p->hi];
        t->used = 1;
        L->hi = term_val(t, it, col);
        L->hi_incl = term_op(t, it, col) == E_LE;
        L->range_aff = (uint8_t)sqli_cmp_affinity(term_colexpr(t, it, col), L->hi);
    }
}

/* The hash key of an ACC_HASH loop: column hcol[k] of its table equals
 * eq[k], compared under eqaff[k]. */
static void setup_hash(compiler *c, planctx *pc, int it, path *p, loop *L) {
    L->neq = p->neq;
    L->eq = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(p->neq + 1));
    L->eqaff = sqli_ar_alloc(c->a, (size_t)p->neq + 1);
    L->eqis = sqli_ar_alloc(c->a, (size_t)p->neq + 1);
    L->hcol = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(p->neq + 1));
    for (int k = 0; k < p->neq; k++) {
        term *t = &pc->t[p->eqterm[k]];
        int s = t->item[0] == it ? 0 : 1;
        int col = t->col[s];
        t->used = 1;
        L->hcol[k] = col;
        L->eq[k] = t->val[s];
        L->eqis[k] = t->op[s] == E_IS;
        L->eqaff[k] = (uint8_t)sqli_cmp_affinity(s == 0 ? t->e->l : t->e->r, L->eq[k]);
    }
}

static void push_filter(compiler *c, expr ***v, int *n, expr *e) {
    expr **nv = sqli_ar_alloc(c->a, sizeof *nv * (size_t)(*n + 1));
    if (*n) memcpy(nv, *v, sizeof *nv * (size_t)*n);
    nv[(*n)++] = e;
    *v = nv;
}

/* Does the loop over item it by path p hand on any column of it? Not when
 * its columns appear only in the terms p seeks by (the index delivers
 * exactly the rows they select): then a covering loop only counts rows and
 * need not decode its entries. */
static int loop_reads_cols(planctx *pc, int it, const path *p) {
    for (int w = 0; w <= pc->colsz[it] / 64; w++)
        if (pc->other_cols[it][w]) return 1;
    for (int i = 0; i < pc->nt; i++) {
        if (!(pc->t[i].mask & ((mask_t)1 << it))) continue;
        int key = p->lo == i || p->hi == i;
        for (int k = 0; k < p->neq; k++) key |= p->eqterm[k] == i;
        if (!key) return 1;
    }
    return 0;
}

static int make_loops(compiler *c, planctx *pc, qplan *qp, order_search *os) {
    qp->nloop = pc->n;
    qp->loops = sqli_ar_alloc(c->a, sizeof(loop) * (size_t)pc->n);
    mask_t avail = 0;
    for (int d = 0; d < pc->n; d++) {
        int it = os->best_perm[d];
        path *p = &os->best_paths[d];
        srcitem *s = &pc->q->src[it];
        loop *L = &qp->loops[d];
        L->src = s;
        L->cur = s->cur;
        L->tab = s->tab;
        L->access = p->access;
        L->idx = p->idx;
        L->covering = p->covering;
        L->nocols = p->covering && !p->idx->is_pk && p->access != ACC_HASH &&
                    p->access != ACC_FTS && !loop_reads_cols(pc, it, p);
        L->reverse = p->reverse;
        L->left = s->jointype == JT_LEFT;
        L->nrow = p->nrow;
        L->cost = p->cost;
        if (s->sub) {
            if (sqli_plan_query(c, s->sub, &L->sub) != SQL_OK) return SQL_ERROR;
            /* the first loop is opened once per run of the block: no need to keep
             * its rows, and a LIMIT can stop an endless recursive CTE */
            L->stream = d == 0;
        }
        if (p->access == ACC_SEARCH) setup_keys(c, pc, it, p, L);
        if (p->access == ACC_FTS) {
            L->fts_match = pc->t[p->fts_term].e;
            pc->t[p->fts_term].used = 1;
        }
        L->onerow = p->access == ACC_SEARCH && p->idx->is_pk && p->neq == p->idx->ncol;
        if (p->access == ACC_HASH) setup_hash(c, pc, it, p, L);
        /* terms the partial index guarantees are not checked: a covering
         * loop may not even have their columns */
        for (int i = 0; p->idx && p->idx->where && i < pc->nt; i++)
            if (!pc->t[i].used && pc->t[i].mask == ((mask_t)1 << it) &&
                term_in_pred(pc, it, &pc->t[i], p->idx->where))
                pc->t[i].used = 1;
        explain_loop(c, pc, it, p, L);
        avail |= (mask_t)1 << it;
        /* filters: terms now fully known and not consumed */
        for (int i = 0; i < pc->nt; i++) {
            term *t = &pc->t[i];
            if (t->used || (t->mask & ~avail) || !(t->mask & ((mask_t)1 << it))) continue;
            t->used = 1;
            /* a hash loop checks its single-table terms while it builds
             * (for a LEFT JOIN item only its ON terms: a WHERE term must
             * still see the NULL row) */
            if (p->access == ACC_HASH && t->mask == ((mask_t)1 << it) &&
                (L->left ? t->on_item == it : t->on_item < 0))
                push_filter(c, &L->hfilters, &L->nhfilter, t->e);
            else if (t->on_item == it)
                push_filter(c, &L->onf, &L->non, t->e);
            else
                push_filter(c, &L->filters, &L->nfilter, t->e);
        }
    }
    for (int i = 0; i < pc->nt; i++) {
        term *t = &pc->t[i];
        if (t->used) continue;
        if (t->mask) return sqli_comp_error(c, t->e->pos, "internal error: unplaced WHERE term");
        /* no column of this block: ON terms of a LEFT JOIN stay with it */
        if (t->on_item >= 0) {
            for (int d = 0; d < qp->nloop; d++)
                if (qp->loops[d].src == &pc->q->src[t->on_item])
                    push_filter(c, &qp->loops[d].onf, &qp->loops[d].non, t->e);
        } else {
            push_filter(c, &qp->cfilters, &qp->ncf, t->e);
        }
        t->used = 1;
    }
    return SQL_OK;
}

/* ---- subquery plans inside expressions ------------------------------------------------------- */

static int plan_expr_subs(compiler *c, expr *e) {
    if (!e) return SQL_OK;
    if (e->sub && !e->sub->plan) {
        if (sqli_plan_query(c, e->sub, &e->sub->plan) != SQL_OK) return SQL_ERROR;
        e->sub->plan->subno = ++c->nsubq;
        e->sub->plan->nocache = c->in_trigger;
    }
    if (plan_expr_subs(c, e->l) || plan_expr_subs(c, e->r)) return SQL_ERROR;
    for (int i = 0; i < e->nargs; i++)
        if (plan_expr_subs(c, e->args[i])) return SQL_ERROR;
    return SQL_OK;
}

static int plan_block_subs(compiler *c, query *q) {
    for (int i = 0; i < q->ncol; i++)
        if (plan_expr_subs(c, q->cols[i].e)) return SQL_ERROR;
    for (int i = 0; i < q->nsrc; i++)
        if (plan_expr_subs(c, q->src[i].on) || plan_expr_subs(c, q->src[i].fargs)) return SQL_ERROR;
    if (plan_expr_subs(c, q->where) || plan_expr_subs(c, q->having) ||
        plan_expr_subs(c, q->limit) || plan_expr_subs(c, q->offset))
        return SQL_ERROR;
    for (int i = 0; i < q->ngroup; i++)
        if (plan_expr_subs(c, q->group[i])) return SQL_ERROR;
    for (int i = 0; i < q->norder; i++)
        if (plan_expr_subs(c, q->order[i].e)) return SQL_ERROR;
    for (int r = 0; r < q->nvalues; r++)
        for (int k = 0; k < q->ncol; k++)
            if (plan_expr_subs(c, q->values[r][k])) return SQL_ERROR;
    return SQL_OK;
}

/* ---- query blocks ------------------------------------------------------------------------------
 */

static void setup_output(compiler *c, query *q, qplan *qp) {
    qp->ncol = q->ncol;
    qp->res = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(q->ncol + 1));
    for (int i = 0; i < q->ncol; i++) qp->res[i] = q->cols[i].e;
    qp->out = sqli_ar_alloc(c->a, sizeof(sql_value) * (size_t)(q->ncol + 1));
    for (int i = 0; i <= q->ncol; i++) val_set_null(&qp->out[i]);
    qp->limit = q->limit;
    qp->offset = q->offset;
    qp->nkey = q->norder;
    qp->keys = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(q->norder + 1));
    qp->kdesc = sqli_ar_alloc(c->a, (size_t)q->norder + 1);
    qp->knulls = sqli_ar_alloc(c->a, (size_t)q->norder + 1);
    qp->kres = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(q->norder + 1));
    for (int i = 0; i < q->norder; i++) {
        qp->keys[i] = q->order[i].e;
        qp->kdesc[i] = (uint8_t)q->order[i].desc;
        qp->knulls[i] = (uint8_t)q->order[i].nulls;
        qp->kres[i] = q->order[i].rescol - 1;
    }
}

static int plan_compound(compiler *c, query *q, qplan **out) {
    qplan *qp = sqli_ar_alloc(c->a, sizeof *qp);
    qp->q = q;
    qp->op = q->op;
    if (sqli_plan_query(c, q->left, &qp->left) != SQL_OK ||
        sqli_plan_query(c, q->right, &qp->right) != SQL_OK)
        return SQL_ERROR;
    query *first = q;
    while (first->op != SEL_SIMPLE) first = first->left;
    qp->ncol = first->ncol;
    qp->out = sqli_ar_alloc(c->a, sizeof(sql_value) * (size_t)(qp->ncol + 1));
    qp->limit = q->limit;
    qp->offset = q->offset;
    if (plan_expr_subs(c, q->limit) || plan_expr_subs(c, q->offset)) return SQL_ERROR;
    qp->nkey = q->norder;
    qp->keys = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(q->norder + 1));
    qp->kdesc = sqli_ar_alloc(c->a, (size_t)q->norder + 1);
    qp->knulls = sqli_ar_alloc(c->a, (size_t)q->norder + 1);
    qp->kres = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(q->norder + 1));
    for (int i = 0; i < q->norder; i++) {
        qp->kdesc[i] = (uint8_t)q->order[i].desc;
        qp->knulls[i] = (uint8_t)q->order[i].nulls;
        qp->kres[i] = q->order[i].rescol - 1;
    }
    qp->sort = q->norder > 0;
    if (q->recursive)
        for (int d = 0; d < qp->right->nloop; d++)
            if (qp->right->loops[d].access == ACC_QUEUE) qp->rec_loop = &qp->right->loops[d];
    *out = q->plan = qp;
    return SQL_OK;
}

static void init_colmaps(compiler *c, planctx *pc) {
    pc->used_cols = sqli_ar_alloc(c->a, sizeof(uint64_t *) * (size_t)(pc->n + 1));
    pc->other_cols = sqli_ar_alloc(c->a, sizeof(uint64_t *) * (size_t)(pc->n + 1));
    pc->colsz = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(pc->n + 1));
    for (int i = 0; i < pc->n; i++) {
        pc->colsz[i] = pc->q->src[i].ncol;
        pc->used_cols[i] = sqli_ar_alloc(c->a, sizeof(uint64_t) * (size_t)(pc->colsz[i] / 64 + 2));
        pc->other_cols[i] = sqli_ar_alloc(c->a, sizeof(uint64_t) * (size_t)(pc->colsz[i] / 64 + 2));
    }
    uint64_t **all = pc->used_cols;
    pc->used_cols = pc->other_cols;
    mark_block(pc, pc->q, 1);
    pc->used_cols = all;
    mark_query(pc, pc->q);
}

static void choose_order(compiler *c, planctx *pc, qplan *qp, order_search *os) {
    os->pc = pc;
    os->n = pc->n;
    os->best_cost = INFINITY;
    /* every order up to 6 items (720 at most, pruned by cost); a bounded
     * search up to 10; greedy beyond */
    if (pc->n <= 6)
        search(os, 0, 0, 1, 0);
    else
        beam(os, pc->n <= 10 ? 12 : 1);
    query *q = pc->q;
    qp->sort = q->norder > 0;
    /* window functions hand their rows on in their own sort's order */
    if (q->norder == 0 || q->is_agg || q->nwins || pc->n == 0) return;
    if (path_orders(pc, os->best_perm[0], &os->best_paths[0])) {
        qp->sort = 0;
        return;
    }
    /* an alternative first loop that delivers the order: worth it with a
     * LIMIT, or when the sort would be large */
    int it0 = -1;
    for (int it = 0; it < pc->n; it++)
        if (placeable(pc, it, 0) && pc->q->src[it].tab && !pc->q->src[it].schema_vtab) {
            it0 = it;
            path best = {0};
            double bestc = INFINITY;
            index_t *cands[65];
            int nc = item_candidates(pc, it, cands, 65);
            for (int k = 0; k < nc; k++) {
                path p;
                eval_index(pc, it, cands[k], 0, &p);
                if (path_orders(pc, it, &p) && p.cost < bestc) best = p, bestc = p.cost;
            }
            if (bestc == INFINITY || pc->n > 1) continue;
            double frac = 1;
            if (q->limit && q->limit->op == E_LIT && q->limit->lit.type == SQL_INTEGER &&
                best.nrow > 0) {
                double lim = (double)q->limit->lit.u.i;
                frac = lim / (best.nrow * filter_factor(pc, it, 0, &best));
                if (frac > 1) frac = 1;
                if (frac < 1e-9) frac = 1e-9;
            } else if (q->limit && q->limit->op == E_PARAM) {
                frac = 0.01;
            }
            double nout =
                os->best_paths[0].nrow * filter_factor(pc, os->best_perm[0], 0, &os->best_paths[0]);
            double sortc = os->best_cost + nout * log2(nout + 2);
            if (best.cost * frac < sortc) {
                os->best_perm[0] = it;
                os->best_paths[0] = best;
                qp->sort = 0;
            }
        }
    (void)it0;
}

static int plan_simple(compiler *c, query *q, qplan **out) {
    qplan *qp = sqli_ar_alloc(c->a, sizeof *qp);
    qp->q = q;
    q->plan = qp;
    *out = qp;
    setup_output(c, q, qp);
    if (plan_block_subs(c, q) != SQL_OK) return SQL_ERROR;
    if (q->values) {
        qp->values_rows = q->nvalues;
        return SQL_OK;
    }
    planctx pc = {0};
    pc.c = c;
    pc.q = q;
    pc.n = q->nsrc;
    init_colmaps(c, &pc);
    estimate_rows(&pc);
    for (int i = 0; i < q->nsrc; i++)
        split(&pc, q->src[i].on, q->src[i].jointype == JT_LEFT ? i : -1);
    split(&pc, q->where, -1);
    order_search *os = xcalloc(1, sizeof *os);
    choose_order(c, &pc, qp, os);
    if (pc.n && !os->found) { /* a function's arguments need items that cannot come first */
        xfree(os);
        return sqli_comp_error(c, q->pos, "no query solution");
    }
    for (int i = 0; i < q->nsrc; i++) /* sqlite3's answer to a forced index it cannot use */
        if (q->src[i].forced_idx && !partial_ok(&pc, i, q->src[i].forced_idx)) {
            xfree(os);
            return sqli_comp_error(c, q->src[i].pos, "no query solution");
        }
    int rc = make_loops(c, &pc, qp, os);
    xfree(os);
    if (rc != SQL_OK) return rc;
    qp->agg = q->is_agg;
    qp->ngroup = q->ngroup;
    qp->group = q->group;
    qp->naggs = q->naggs;
    qp->aggs = q->aggs;
    qp->nwin = q->nwins;
    qp->wins = q->wins;
    qp->distinct = q->distinct;
    qp->nlvl_curs = q->nsrc;
    qp->lvl_curs = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(q->nsrc + 1));
    for (int i = 0; i < q->nsrc; i++) qp->lvl_curs[i] = q->src[i].cur;
    qp->eqp_group_temp = q->ngroup > 0;
    qp->eqp_distinct_temp = q->distinct;
    qp->eqp_order_temp = qp->sort;
    if (qp->agg && q->norder) qp->sort = 1, qp->eqp_order_temp = 1;
    return SQL_OK;
}

int sqli_plan_query(compiler *c, query *q, qplan **out) {
    if (q->op != SEL_SIMPLE) return plan_compound(c, q, out);
    return plan_simple(c, q, out);
}

int sqli_plan_dml_scan(compiler *c, table *t, int cur, expr *where, qplan **out) {
    query *q = sqli_ar_alloc(c->a, sizeof *q);
    q->nsrc = 1;
    q->src = sqli_ar_alloc(c->a, sizeof(srcitem));
    q->src[0].tab = t;
    q->src[0].name = t->name;
    q->src[0].cur = cur;
    q->src[0].ncol = t->ncol;
    q->where = where;
    q->dml_scan = 1;
    q->ncol = 0;
    q->cols = sqli_ar_alloc(c->a, sizeof(rescol));
    return plan_simple(c, q, out);
}

/* ---- EXPLAIN QUERY PLAN
 * ---------------------------------------------------------------------------- */

static void eqp_row(rowbuf *rb, int id, int parent, const char *detail, loop *L, int mode) {
    if (mode == EQP_RESET) {
        if (L) L->st_loops = L->st_rows = L->st_ns = 0;
        return;
    }
    sql_value v[7];
    val_set_int(&v[0], id);
    val_set_int(&v[1], parent);
    val_set_int(&v[2], 0);
    val_set_text_ref(&v[3], detail, strlen(detail));
    for (int k = 4; k < 7; k++) val_set_null(&v[k]);
    if (L) {
        val_set_int(&v[4], (int64_t)L->st_rows);
        val_set_int(&v[5], (int64_t)L->st_loops);
        val_set_real(&v[6], round((double)L->st_ns / 1e3) / 1e3);
    }
    sqli_rowbuf_add(rb, NULL, 0, v, mode == EQP_ANALYZE ? 7 : 4);
}

static void explain_expr_subs(const expr *e, rowbuf *rb, int *id, int parent, int mode);

static void explain_sub(const expr *e, rowbuf *rb, int *id, int parent, int mode) {
    qplan *sp = e->sub->plan;
    if (!sp) return;
    char buf[96];
    const char *kind = e->op == E_IN_SEL ? "LIST SUBQUERY" : "SCALAR SUBQUERY";
    snprintf(buf, sizeof buf, "%s%s %d", e->correlated ? "CORRELATED " : "", kind, sp->subno);
    int me = ++*id;
    eqp_row(rb, me, parent, buf, NULL, mode);
    sqli_plan_explain(sp, rb, id, me, mode);
}

static void explain_expr_subs(const expr *e, rowbuf *rb, int *id, int parent, int mode) {
    if (!e) return;
    if (e->sub && (e->op == E_SUBQ || e->op == E_EXISTS || e->op == E_IN_SEL))
        explain_sub(e, rb, id, parent, mode);
    explain_expr_subs(e->l, rb, id, parent, mode);
    explain_expr_subs(e->r, rb, id, parent, mode);
    for (int i = 0; i < e->nargs; i++) explain_expr_subs(e->args[i], rb, id, parent, mode);
}

static void explain_block_subs(qplan *p, rowbuf *rb, int *id, int parent, int mode) {
    for (int d = 0; d < p->nloop; d++) {
        loop *L = &p->loops[d];
        for (int k = 0; k < L->neq; k++) explain_expr_subs(L->eq[k], rb, id, parent, mode);
        explain_expr_subs(L->lo, rb, id, parent, mode);
        explain_expr_subs(L->hi, rb, id, parent, mode);
        if (L->in_expr) explain_expr_subs(L->in_expr, rb, id, parent, mode);
        for (int k = 0; k < L->nfilter; k++) explain_expr_subs(L->filters[k], rb, id, parent, mode);
        for (int k = 0; k < L->non; k++) explain_expr_subs(L->onf[k], rb, id, parent, mode);
        for (int k = 0; k < L->nhfilter; k++)
            explain_expr_subs(L->hfilters[k], rb, id, parent, mode);
    }
    for (int k = 0; k < p->ncf; k++) explain_expr_subs(p->cfilters[k], rb, id, parent, mode);
    for (int k = 0; k < p->ncol; k++) explain_expr_subs(p->res[k], rb, id, parent, mode);
    if (p->q && p->q->having) explain_expr_subs(p->q->having, rb, id, parent, mode);
    for (int k = 0; k < p->nkey; k++)
        if (p->kres[k] < 0) explain_expr_subs(p->keys[k], rb, id, parent, mode);
}

void sqli_plan_explain(qplan *p, rowbuf *rb, int *id, int parent, int mode) {
    if (p->op != SEL_SIMPLE) {
        static const char *nm[] = {"", "UNION", "UNION ALL", "INTERSECT", "EXCEPT"};
        int me = ++*id;
        char buf[64];
        if (p->rec_loop) { /* as sqlite3 shows a recursive CTE */
            eqp_row(rb, me, parent, "SETUP", NULL, mode);
            sqli_plan_explain(p->left, rb, id, me, mode);
            int r = ++*id;
            eqp_row(rb, r, parent, "RECURSIVE STEP", NULL, mode);
            sqli_plan_explain(p->right, rb, id, r, mode);
            return;
        }
        snprintf(buf, sizeof buf, "COMPOUND QUERY");
        eqp_row(rb, me, parent, buf, NULL, mode);
        int l = ++*id;
        eqp_row(rb, l, me, "LEFT-MOST SUBQUERY", NULL, mode);
        sqli_plan_explain(p->left, rb, id, l, mode);
        int r = ++*id;
        snprintf(buf, sizeof buf, "%s%s", nm[p->op],
                 p->op == SEL_UNION_ALL ? "" : " USING TEMP B-TREE");
        eqp_row(rb, r, me, buf, NULL, mode);
        sqli_plan_explain(p->right, rb, id, r, mode);
        if (p->sort) eqp_row(rb, ++*id, parent, "USE TEMP B-TREE FOR ORDER BY", NULL, mode);
        return;
    }
    if (p->values_rows) {
        eqp_row(rb, ++*id, parent, "SCAN CONSTANT ROW", NULL, mode);
        return;
    }
    if (p->nloop == 0) eqp_row(rb, ++*id, parent, "SCAN CONSTANT ROW", NULL, mode);
    for (int d = 0; d < p->nloop; d++) {
        loop *L = &p->loops[d];
        if (L->sub) {
            int me = ++*id;
            char buf[300];
            snprintf(buf, sizeof buf, "%s %s", L->stream ? "CO-ROUTINE" : "MATERIALIZE",
                     L->src->alias  ? L->src->alias
                     : L->src->name ? L->src->name
                                    : "(subquery)");
            eqp_row(rb, me, parent, buf, NULL, mode);
            sqli_plan_explain(L->sub, rb, id, me, mode);
        }
        eqp_row(rb, ++*id, parent, L->explain ? L->explain : "SCAN", L, mode);
    }
    explain_block_subs(p, rb, id, parent, mode);
    if (p->eqp_group_temp) eqp_row(rb, ++*id, parent, "USE TEMP B-TREE FOR GROUP BY", NULL, mode);
    for (int w = 0; w < p->nwin; w++) /* one sort serves windows that sort alike */
        if (sqli_win_sorts(p->wins, w))
            eqp_row(rb, ++*id, parent, "USE TEMP B-TREE FOR WINDOW", NULL, mode);
    if (p->eqp_distinct_temp)
        eqp_row(rb, ++*id, parent, "USE TEMP B-TREE FOR DISTINCT", NULL, mode);
    if (p->eqp_order_temp) eqp_row(rb, ++*id, parent, "USE TEMP B-TREE FOR ORDER BY", NULL, mode);
}
