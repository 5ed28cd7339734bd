/* sql/dml.c — INSERT, UPDATE and DELETE: compiling them, and the row
 * operations every write goes through (statements, triggers, foreign-key
 * actions, upserts): sqli_row_insert, sqli_row_update, sqli_row_delete.
 *
 * A row operation checks everything before it writes anything:
 *   types (DECIMAL/TIMESTAMP/BOOLEAN), NOT NULL, CHECK, foreign keys of the
 *   row (its parents exist), unique indexes (a prefix search), key sizes;
 * then the first write is the table's (a put that refuses an existing key,
 * so a primary-key clash still changes nothing), then the index entries.
 * So a single-row statement without triggers or cascades needs no savepoint:
 * it either fails before writing or succeeds. Other statements run inside a
 * savepoint (api.c) so that a failure on the 1000th row undoes the 999.
 *
 * UPDATE and DELETE first collect the keys of the rows the WHERE clause
 * selects, then change them one by one, reading each row again by key (a
 * trigger or cascade may have changed or removed it meanwhile), as SQLite
 * does; this also makes "UPDATE t SET k = k + 1" safe (no row seen twice).
 *
 * Row arrays have ncol + 1 values: the columns, then the rowid (integer key)
 * of a rowid table (NULL otherwise).
 *
 * Invariants:
 *   1. Index entries exist exactly for the rows of the table (partial
 *      indexes: the rows their WHERE accepts); every operation keeps that.
 *   2. A failed row operation has written nothing, except after its table
 *      write (I/O errors, or errors of triggers and cascades, which only run
 *      under a statement savepoint).
 *   3. Values kept across writes are owned copies (writes move page bytes).
 */
#include "sql/fts.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- compile ------------------------------------------------------------------------------------
 */

int sqli_table_has_triggers(table *t, int event) {
    for (trigger *g = t->triggers; g; g = g->next)
        if (g->event == event) return 1;
    return 0;
}

static table *dml_table(compiler *c, ast *a) {
    table *t = sqli_schema_table_db(c->sch, a->table, a->dbq ? a->dbq : c->main_only ? 1 : 0);
    if (!t && sqli_schema_view(c->sch, a->table)) {
        sqli_comp_error(c, a->table_pos, "cannot modify %s because it is a view", a->table);
        return NULL;
    }
    if (!t) {
        sqli_comp_error(c, a->table_pos, "no such table: %s", a->table);
        return NULL;
    }
    if (t->is_schema) {
        sqli_comp_error(c, a->table_pos, "table %s may not be modified", t->name);
        return NULL;
    }
    sqli_note_table(c, t->name, SQL_TABLE_WRITE);
    return t;
}

static int query_reads(const query *q, const table *t);

static int expr_reads(const expr *e, const table *t) {
    if (!e) return 0;
    if (e->sub && query_reads(e->sub, t)) return 1;
    if (expr_reads(e->l, t) || expr_reads(e->r, t)) return 1;
    for (int i = 0; i < e->nargs; i++)
        if (expr_reads(e->args[i], t)) return 1;
    return 0;
}

static int query_reads(const query *q, const table *t) {
    if (!q) return 0;
    if (q->op != SEL_SIMPLE) return query_reads(q->left, t) || query_reads(q->right, t);
    for (int i = 0; i < q->nsrc; i++)
        if (q->src[i].tab == t || query_reads(q->src[i].sub, t) || expr_reads(q->src[i].on, t) ||
            expr_reads(q->src[i].fargs, t))
            return 1;
    for (int i = 0; i < q->ncol; i++)
        if (expr_reads(q->cols[i].e, t)) return 1;
    for (int r = 0; r < q->nvalues; r++)
        for (int k = 0; k < q->ncol; k++)
            if (expr_reads(q->values[r][k], t)) return 1;
    return expr_reads(q->where, t) || expr_reads(q->having, t);
}

/* Source value per table column (-1: its default). Without a column list
 * the values go to the columns that are not generated, in order. */
static int map_columns(compiler *c, ast *a, table *t, dmlplan *d, int *nsrc) {
    d->colmap = sqli_ar_alloc(c->a, sizeof(int) * (size_t)(t->ncol + 1));
    int n = 0;
    for (int i = 0; i < t->ncol; i++) d->colmap[i] = a->ncols || t->cols[i].gen ? -1 : n++;
    *nsrc = a->ncols ? a->ncols : n;
    for (int k = 0; k < a->ncols; k++) {
        int col = sqli_table_column(t, a->cols[k]);
        if (col < 0)
            return sqli_comp_error(c, a->table_pos, "table %s has no column named %s", t->name,
                                   a->cols[k]);
        if (t->cols[col].gen)
            return sqli_comp_error(c, a->table_pos, "cannot INSERT into generated column \"%s\"",
                                   t->cols[col].name);
        if (d->colmap[col] >= 0)
            return sqli_comp_error(c, a->table_pos, "column %s specified more than once",
                                   a->cols[k]);
        d->colmap[col] = k;
    }
    return SQL_OK;
}

static index_t *conflict_index(table *t, char **cols, int n) {
    int want[64];
    if (n > 64) return NULL;
    for (int k = 0; k < n; k++) {
        want[k] = sqli_table_column(t, cols[k]);
        if (want[k] < -1) return NULL;
    }
    index_t *cands[66];
    int nc = 0;
    cands[nc++] = &t->pk;
    for (index_t *x = t->indexes; x && nc < 65; x = x->next)
        if (x->unique) cands[nc++] = x;
    for (int i = 0; i < nc; i++) {
        index_t *x = cands[i];
        if (x->ncol != n) continue;
        int ok = 1;
        for (int k = 0; k < n && ok; k++) {
            int f = 0;
            for (int j = 0; j < n; j++) f |= x->cols[j] == want[k];
            ok = f;
        }
        if (ok) return x;
    }
    return NULL;
}

static int compile_upsert(compiler *c, ast *a, table *t, dmlplan *d, scope *outer) {
    upsert *u = a->up;
    if (u->ncols) {
        d->up_idx = conflict_index(t, u->cols, u->ncols);
        if (!d->up_idx)
            return sqli_comp_error(
                c, u->pos,
                "ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint");
    }
    if (!u->do_update) return SQL_OK;
    d->ecur = sqli_comp_cursor(c, t, t->ncol);
    d->xcur = sqli_comp_cursor(c, t, t->ncol);
    srcitem *it = sqli_ar_alloc(c->a, sizeof *it);
    it->tab = t;
    it->name = t->name;
    it->alias = a->alias;
    it->cur = d->ecur;
    it->ncol = t->ncol;
    scope sc = {0};
    sc.outer = outer;
    sc.src = it;
    sc.nsrc = 1;
    sc.pseudo[0].name = "excluded";
    sc.pseudo[0].tab = t;
    sc.pseudo[0].cur = d->xcur;
    sc.npseudo = 1;
    for (int i = 0; i < u->nset; i++) {
        u->sets[i].colidx = sqli_table_column(t, u->sets[i].col);
        if (u->sets[i].colidx < 0)
            return sqli_comp_error(c, u->sets[i].pos, "no such column: %s", u->sets[i].col);
        if (t->cols[u->sets[i].colidx].gen)
            return sqli_comp_error(c, u->sets[i].pos, "cannot UPDATE generated column \"%s\"",
                                   t->cols[u->sets[i].colidx].name);
        if (sqli_resolve_expr(c, u->sets[i].e, &sc) != SQL_OK) return SQL_ERROR;
    }
    return sqli_resolve_expr(c, u->where, &sc);
}

static int plan_subs_list(compiler *c, expr **v, int n);
static int fk_actions_safe(table *t, int is_delete);

static int compile_insert(compiler *c, ast *a, scope *outer, dmlplan *d) {
    table *t = d->tab;
    int nsrc;
    if (map_columns(c, a, t, d, &nsrc) != SQL_OK) return SQL_ERROR;
    d->default_values = a->default_values;
    d->or_alg = a->or_alg;
    if (a->sel) {
        if (sqli_resolve_query(c, a->sel, outer) != SQL_OK) return SQL_ERROR;
        query *f = a->sel;
        while (f->op != SEL_SIMPLE) f = f->left;
        if (f->ncol != nsrc) {
            if (a->ncols)
                return sqli_comp_error(c, a->sel->pos, "%d values for %d columns", f->ncol, nsrc);
            return sqli_comp_error(c, a->sel->pos,
                                   "table %s has %d columns but %d values were supplied", t->name,
                                   nsrc, f->ncol);
        }
        if (sqli_plan_query(c, a->sel, &d->src) != SQL_OK) return SQL_ERROR;
        d->src_reads_target = query_reads(a->sel, t);
    }
    if (a->up && compile_upsert(c, a, t, d, outer) != SQL_OK) return SQL_ERROR;
    if (a->up && a->up->do_update) {
        expr **v = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(a->up->nset + 1));
        for (int i = 0; i < a->up->nset; i++) v[i] = a->up->sets[i].e;
        if (plan_subs_list(c, v, a->up->nset) != SQL_OK) return SQL_ERROR;
    }
    d->up = a->up;
    /* one row, checked before it is written: no savepoint needed. An upsert's
     * update of one row is like a one-row UPDATE (see compile_update) */
    int one = a->sel && a->sel->values && a->sel->nvalues == 1;
    int upd = a->up && a->up->do_update;
    d->need_sp = !one || sqli_table_has_triggers(t, ST_INSERT) || a->or_alg == OE_REPLACE ||
                 (upd && (sqli_table_has_triggers(t, ST_UPDATE) || !fk_actions_safe(t, 0)));
    return SQL_OK;
}

static int plan_subs_list(compiler *c, expr **v, int n) {
    /* subqueries in SET / RETURNING expressions need plans: reuse the
     * planner through a one-column VALUES block */
    for (int i = 0; i < n; i++) {
        if (!v[i]) continue;
        query *q = sqli_ar_alloc(c->a, sizeof *q);
        q->values = sqli_ar_alloc(c->a, sizeof(expr **));
        q->values[0] = &v[i];
        q->nvalues = 1;
        q->ncol = 1;
        q->cols = sqli_ar_alloc(c->a, sizeof(rescol));
        q->cols[0].e = v[i];
        qplan *p;
        if (sqli_plan_query(c, q, &p) != SQL_OK) return SQL_ERROR;
    }
    return SQL_OK;
}

/* Can the foreign-key side of changing one row of t fail after a write?
 * RESTRICT checks happen before any write; a CASCADE delete into a table
 * that nothing references and no trigger watches cannot fail (but I/O);
 * everything else (SET NULL/DEFAULT, NO ACTION, cascading updates, deeper
 * chains) may, and needs the statement savepoint. */
static int fk_actions_safe(table *t, int is_delete) {
    for (fkey *f = t->refs; f; f = f->next_in_parent) {
        int act = is_delete ? f->on_delete : f->on_update;
        if (act == FK_RESTRICT) continue;
        if (!is_delete || act != FK_CASCADE || f->child == t || f->child->triggers ||
            f->child->refs)
            return 0;
    }
    return 1;
}

static int is_one_row(qplan *p) {
    loop *L = &p->loops[0];
    return L->access == ACC_SEARCH && L->idx->unique && L->neq == L->idx->ncol && !L->in_term &&
           !L->idx->where;
}

/* Whether a partial index predicate reads a column the UPDATE sets. */
static int where_reads_changed(const expr *e, const uint8_t *changed) {
    if (!e) return 0;
    if (e->op == E_COL && e->col >= 0 && changed[e->col]) return 1;
    if (where_reads_changed(e->l, changed) || where_reads_changed(e->r, changed)) return 1;
    for (int i = 0; i < e->nargs; i++)
        if (where_reads_changed(e->args[i], changed)) return 1;
    return 0;
}

/* Whether an UPDATE may change its rows in the order its scan finds them.
 * The order decides which row of a transient duplicate hits a UNIQUE index
 * first, so it follows SQLite's: rows in scan order ("one pass") only when
 * no trigger, REPLACE or key change is involved and the scan walks the table
 * or an index whose key columns and predicate the UPDATE leaves alone
 * (INCLUDE columns do not count: SQLite has none); otherwise rows in
 * table-key order (rowid or primary key). Foreign keys are checked when the
 * statement runs (sqli_run_dml). */
static int update_in_scan_order(table *t, dmlplan *d) {
    loop *L = &d->scan->loops[0];
    if (sqli_table_has_triggers(t, ST_UPDATE) || d->or_alg == OE_REPLACE) return 0;
    for (int i = 0; i < t->pk.ncol; i++)
        if (t->pk.cols[i] >= 0 && d->changed[t->pk.cols[i]]) return 0;
    if (L->access != ACC_SCAN && L->access != ACC_SEARCH) return 0;
    index_t *x = L->idx;
    if (x == &t->pk) return 1;
    for (int i = 0; i < x->ncol; i++)
        if (x->cols[i] >= 0 && d->changed[x->cols[i]]) return 0;
    return !where_reads_changed(x->where, d->changed);
}

static int compile_update(compiler *c, ast *a, scope *outer, dmlplan *d) {
    table *t = d->tab;
    if (a->nfrom) return sqli_comp_error(c, a->pos, "UPDATE ... FROM is not supported");
    d->or_alg = a->or_alg;
    srcitem *it = sqli_ar_alloc(c->a, sizeof *it);
    it->tab = t;
    it->name = t->name;
    it->alias = a->alias;
    it->cur = d->cur;
    it->ncol = t->ncol;
    scope sc = {0};
    sc.outer = outer;
    sc.src = it;
    sc.nsrc = 1;
    d->changed = sqli_ar_alloc(c->a, (size_t)t->ncol + 1);
    d->sets = a->sets;
    d->nset = a->nset;
    for (int i = 0; i < a->nset; i++) {
        setitem *s = &a->sets[i];
        s->colidx = sqli_table_column(t, s->col);
        if (s->colidx < 0) return sqli_comp_error(c, s->pos, "no such column: %s", s->col);
        if (t->cols[s->colidx].gen)
            return sqli_comp_error(c, s->pos, "cannot UPDATE generated column \"%s\"",
                                   t->cols[s->colidx].name);
        d->changed[s->colidx] = 1;
        if (sqli_resolve_expr(c, s->e, &sc) != SQL_OK) return SQL_ERROR;
    }
    if (sqli_resolve_expr(c, a->where, &sc) != SQL_OK) return SQL_ERROR;
    expr **v = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(a->nset + 1));
    for (int i = 0; i < a->nset; i++) v[i] = a->sets[i].e;
    if (plan_subs_list(c, v, a->nset) != SQL_OK) return SQL_ERROR;
    if (sqli_plan_dml_scan(c, t, d->cur, a->where, &d->scan) != SQL_OK) return SQL_ERROR;
    d->one_row = is_one_row(d->scan);
    d->need_sp = !d->one_row || sqli_table_has_triggers(t, ST_UPDATE) || !fk_actions_safe(t, 0);
    d->key_order = !update_in_scan_order(t, d);
    return SQL_OK;
}

static int compile_delete(compiler *c, ast *a, scope *outer, dmlplan *d) {
    table *t = d->tab;
    srcitem *it = sqli_ar_alloc(c->a, sizeof *it);
    it->tab = t;
    it->name = t->name;
    it->alias = a->alias;
    it->cur = d->cur;
    it->ncol = t->ncol;
    scope sc = {0};
    sc.outer = outer;
    sc.src = it;
    sc.nsrc = 1;
    if (sqli_resolve_expr(c, a->where, &sc) != SQL_OK) return SQL_ERROR;
    if (sqli_plan_dml_scan(c, t, d->cur, a->where, &d->scan) != SQL_OK) return SQL_ERROR;
    d->one_row = is_one_row(d->scan);
    d->need_sp = !d->one_row || sqli_table_has_triggers(t, ST_DELETE) || !fk_actions_safe(t, 1);
    return SQL_OK;
}

int sqli_compile_dml(compiler *c, ast *a, scope *outer, dmlplan **out) {
    dmlplan *d = sqli_ar_alloc(c->a, sizeof *d);
    d->kind = a->kind;
    d->tab = dml_table(c, a);
    if (!d->tab) return SQL_ERROR;
    d->cur = sqli_comp_cursor(c, d->tab, d->tab->ncol);
    int rc = a->kind == ST_INSERT   ? compile_insert(c, a, outer, d)
             : a->kind == ST_UPDATE ? compile_update(c, a, outer, d)
                                    : compile_delete(c, a, outer, d);
    if (rc != SQL_OK) return rc;
    if (a->nret) {
        rescol *cols;
        if (sqli_resolve_returning(c, d->tab, d->cur, a->alias, a->ret, a->nret, outer, &cols,
                                   &d->nret) != SQL_OK)
            return SQL_ERROR;
        d->ret = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)d->nret);
        for (int i = 0; i < d->nret; i++) d->ret[i] = cols[i].e;
        a->ret = cols;
        a->nret = d->nret;
        if (plan_subs_list(c, d->ret, d->nret) != SQL_OK) return SQL_ERROR;
    }
    *out = d;
    return SQL_OK;
}

/* ---- keys
 * ---------------------------------------------------------------------------------------- */

int sqli_key_for_table(vm *v, keyenc_buf *k, table *t, const sql_value *row, int64_t rowid) {
    (void)v;
    sqli_keyenc_reset(k);
    if (t->rowid) {
        sqli_keyenc_int(k, rowid, 0);
        return SQL_OK;
    }
    for (int i = 0; i < t->pk.ncol; i++) sqli_key_add(k, &row[t->pk.cols[i]], t->pk.desc[i]);
    return SQL_OK;
}

static int row_is_null_in(const sql_value *row, index_t *x, int ncol);

/* A unique index without INCLUDE keeps, for a row without NULL in its
 * columns, just those columns as the key and the table key as the value (the
 * layout store.h describes): one entry per value, so a clash is found by the
 * put itself. Entries of rows with a NULL (never clashing) and entries of
 * other indexes append the table key to the key. */
int sqli_index_short_entry(const index_t *x, const sql_value *row) {
    return x->unique && !x->ninc && !row_is_null_in(row, (index_t *)x, x->tab->ncol);
}

int sqli_key_for_index(vm *v, keyenc_buf *k, index_t *x, const sql_value *row, const uint8_t *tkey,
                       size_t tklen) {
    (void)v;
    sqli_keyenc_reset(k);
    for (int i = 0; i < x->ncol; i++) {
        int col = x->cols[i];
        sqli_key_add(k, &row[col < 0 ? x->tab->ncol : col], x->desc[i]);
    }
    if (!sqli_index_short_entry(x, row)) sqli_key_raw(k, tkey, tklen);
    return SQL_OK;
}

static void index_value(keyenc_buf *out, index_t *x, const sql_value *row, const uint8_t *tkey,
                        size_t tklen) {
    sqli_keyenc_reset(out);
    if (sqli_index_short_entry(x, row)) {
        sqli_key_raw(out, tkey, tklen);
        return;
    }
    if (!x->ninc) return;
    sql_value tmp[64];
    int n = x->ninc < 64 ? x->ninc : 64;
    for (int i = 0; i < n; i++) tmp[i] = row[x->inc[i]];
    sqli_rec_encode(out, tmp, n);
}

/* Does the row belong to the (partial) index? */
static int index_member(vm *v, index_t *x, const sql_value *row, int *member) {
    *member = 1;
    if (!x->where) return SQL_OK;
    const sql_value *save = v->self;
    v->self = row;
    int t, rc = sqli_ex_truth(v, x->where, &t);
    v->self = save;
    *member = t == 1;
    return rc;
}

static int row_is_null_in(const sql_value *row, index_t *x, int ncol) {
    for (int i = 0; i < x->ncol; i++) {
        int col = x->cols[i];
        if (row[col < 0 ? ncol : col].type == SQL_NULL) return 1;
    }
    return 0;
}

/* ---- change hook
 * ---------------------------------------------------------------------------------- */

void sqli_report_change(vm *v, table *t, int op, const sql_value *row, const uint8_t *key,
                        size_t klen) {
    sql_db *db = v->db;
    if (!db->hook) return;
    (void)row;
    if (db->hook_nokey) {
        db->hook(db->hook_ctx, op, t->name, 0, NULL);
        return;
    }
    sql_value vals[64];
    const sql_value *ptrs[64] = {0};
    int n = 0;
    size_t pos = 0;
    while (pos < klen && n < 64) {
        if (sqli_key_get(key, klen, &pos, t->rowid ? 0 : t->pk.desc[n], &vals[n]) != 0) break;
        ptrs[n] = &vals[n];
        n++;
    }
    db->hook(db->hook_ctx, op, t->name, n, ptrs);
    for (int i = 0; i < n; i++) val_free(&vals[i]);
}

/* ---- column types
 * ----------------------------------------------------------------------------------- */

static int to_bool(vm *v, table *t, int col, sql_value *x) {
    if (x->type == SQL_NULL) return SQL_OK;
    if (x->type == SQL_TEXT) {
        int b = sqli_val_bool_word(x->z, x->n);
        if (b >= 0) return val_free(x), val_set_int(x, b), SQL_OK;
        return sqli_vm_error(v, SQL_CONSTRAINT, "invalid BOOLEAN value for %s.%s: '%.*s'", t->name,
                             t->cols[col].name, (int)(x->n > 40 ? 40 : x->n), x->z);
    }
    if (x->type == SQL_BLOB)
        return sqli_vm_error(v, SQL_CONSTRAINT, "invalid BOOLEAN value for %s.%s", t->name,
                             t->cols[col].name);
    int tv = sqli_val_truth(x);
    val_free(x);
    val_set_int(x, tv);
    return SQL_OK;
}

/* Convert a row's values to the table's column types (affinity, DECIMAL,
 * TIMESTAMP/DATE, BOOLEAN); only columns flagged in mask (NULL = all). */
static int apply_types(vm *v, table *t, sql_value *row, const uint8_t *mask) {
    for (int i = 0; i < t->ncol; i++) {
        if (mask && !mask[i]) continue;
        column *c = &t->cols[i];
        sql_value *x = &row[i];
        char *err = NULL;
        switch (c->kind) {
        case KIND_DECIMAL:
            if (sqli_dec_fit(x, c->dec_p, c->dec_s) != 0)
                return sqli_vm_error(v, SQL_CONSTRAINT,
                                     "numeric field overflow: %s.%s is DECIMAL(%d,%d)", t->name,
                                     c->name, c->dec_p, c->dec_s);
            break;
        case KIND_TIMESTAMP:
        case KIND_DATE:
            if (sqli_dt_normalize(x, c->kind, &err) != 0)
                return sqli_vm_error(v, SQL_CONSTRAINT, "%s for %s.%s", err, t->name, c->name);
            break;
        case KIND_BOOL: {
            int rc = to_bool(v, t, i, x);
            if (rc != SQL_OK) return rc;
            break;
        }
        default:
            sqli_val_apply_aff(x, c->aff);
        }
    }
    return SQL_OK;
}

/* ---- generated columns ---------------------------------------------------------------------
 * Both STORED and VIRTUAL values are computed when a row is written and kept
 * in the row: reads never evaluate, and VIRTUAL differs only in that ALTER
 * TABLE ADD COLUMN takes it (ddl.c computes it for every existing row). */

static int gen_column(vm *v, table *t, sql_value *row, int k, uint8_t *state);

/* Compute first the generated columns that column k's expression e reads;
 * one still being computed is a loop, named after k as sqlite3 does. */
static int gen_deps(vm *v, table *t, sql_value *row, const expr *e, int k, uint8_t *state) {
    if (!e) return SQL_OK;
    if (e->op == E_COL && e->col >= 0 && e->col < t->ncol && t->cols[e->col].gen) {
        if (state[e->col] == 1)
            return sqli_vm_error(v, SQL_ERROR, "generated column loop on \"%s\"", t->cols[k].name);
        return gen_column(v, t, row, e->col, state);
    }
    int rc = gen_deps(v, t, row, e->l, k, state);
    if (rc == SQL_OK) rc = gen_deps(v, t, row, e->r, k, state);
    for (int i = 0; i < e->nargs && rc == SQL_OK; i++)
        rc = gen_deps(v, t, row, e->args[i], k, state);
    return rc;
}

static int gen_column(vm *v, table *t, sql_value *row, int k, uint8_t *state) {
    if (state[k] == 2) return SQL_OK;
    state[k] = 1;
    int rc = gen_deps(v, t, row, t->cols[k].gen, k, state);
    sql_value x;
    val_set_null(&x);
    if (rc == SQL_OK) {
        const sql_value *save = v->self;
        v->self = row;
        rc = sqli_ex_eval(v, t->cols[k].gen, &x);
        v->self = save;
    }
    if (rc == SQL_OK) {
        sqli_val_own(&x);
        val_free(&row[k]);
        row[k] = x;
        uint8_t *mask = state + t->ncol; /* apply_types on column k alone */
        memset(mask, 0, (size_t)t->ncol);
        mask[k] = 1;
        rc = apply_types(v, t, row, mask);
    }
    state[k] = 2;
    return rc;
}

int sqli_gen_compute(vm *v, table *t, sql_value *row) {
    if (!t->ngen) return SQL_OK;
    uint8_t *state = xcalloc((size_t)t->ncol * 2 + 1, 1);
    int rc = SQL_OK;
    for (int k = 0; k < t->ncol && rc == SQL_OK; k++)
        if (t->cols[k].gen) rc = gen_column(v, t, row, k, state);
    xfree(state);
    return rc;
}

static int check_row(vm *v, table *t, const sql_value *row, int or_alg, int *skip) {
    for (int i = 0; i < t->ncol; i++)
        if (t->cols[i].notnull && row[i].type == SQL_NULL) {
            if (or_alg == OE_IGNORE) return *skip = 1, SQL_OK;
            return sqli_vm_error(v, SQL_CONSTRAINT, "NOT NULL constraint failed: %s.%s", t->name,
                                 t->cols[i].name);
        }
    if (!t->nchecks) return SQL_OK;
    const sql_value *save = v->self;
    v->self = row;
    int rc = SQL_OK;
    for (int k = 0; k < t->nchecks && rc == SQL_OK; k++) {
        int tv;
        rc = sqli_ex_truth(v, t->checks[k], &tv);
        if (rc == SQL_OK && tv == 0) {
            if (or_alg == OE_IGNORE) {
                *skip = 1;
                break;
            }
            if (t->check_names[k])
                rc = sqli_vm_error(v, SQL_CONSTRAINT, "CHECK constraint failed: %s",
                                   t->check_names[k]);
            else
                rc = sqli_vm_error(v, SQL_CONSTRAINT, "CHECK constraint failed: %.*s",
                                   t->checks[k]->end - t->checks[k]->pos,
                                   t->sql + t->checks[k]->pos);
        }
    }
    v->self = save;
    return rc;
}

static int unique_error(vm *v, table *t, index_t *x) {
    strb b = {0};
    for (int i = 0; i < x->ncol; i++) {
        if (i) sqli_strb_adds(&b, ", ");
        int col = x->cols[i];
        sqli_strb_addf(&b, "%s.%s", t->name, col < 0 ? "rowid" : t->cols[col].name);
    }
    int rc;
    if (x->is_pk || x->auto_made)
        rc = sqli_vm_error(v, SQL_CONSTRAINT, "UNIQUE constraint failed: %s", sqli_strb_cstr(&b));
    else
        rc = sqli_vm_error(v, SQL_CONSTRAINT, "UNIQUE constraint failed: %s (index %s)",
                           sqli_strb_cstr(&b), x->name);
    sqli_strb_free(&b);
    return rc;
}

/* Is there a row other than self (table key) with the same values in the
 * unique index x? *found receives its table key (in v->kb2). */
static int unique_probe(vm *v, index_t *x, const sql_value *row, const uint8_t *self,
                        size_t selflen, int *found) {
    *found = 0;
    if (row_is_null_in(row, x, x->tab->ncol)) return SQL_OK;
    keyenc_buf *k = &v->kb2;
    sqli_keyenc_reset(k);
    for (int i = 0; i < x->ncol; i++) {
        int col = x->cols[i];
        sqli_key_add(k, &row[col < 0 ? x->tab->ncol : col], x->desc[i]);
    }
    size_t plen = k->len;
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    rc = sqli_store_cursor_seek(c, STORE_SEEK_GE, k->p, plen);
    while (rc == STORE_OK) {
        const void *ek;
        size_t el;
        rc = sqli_store_cursor_key(c, &ek, &el);
        if (rc != STORE_OK) break;
        if (el < plen || memcmp(ek, k->p, plen) != 0 ||
            (el > plen && ((const uint8_t *)ek)[plen] == 0xFF))
            break;
        const uint8_t *tk = (const uint8_t *)ek + plen;
        size_t tl = el - plen;
        if (tl == 0) { /* a short entry: the table key is the value */
            const void *val;
            rc = sqli_store_cursor_value(c, &val, &tl);
            if (rc != STORE_OK) break;
            tk = val;
        }
        if (!(self && tl == selflen && memcmp(tk, self, tl) == 0)) {
            *found = 1;
            sqli_keyenc_reset(k);
            sqli_key_raw(k, tk, tl);
            break;
        }
        rc = sqli_store_cursor_next(c);
    }
    sqli_store_cursor_close(c);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
    return SQL_OK;
}

/* ---- insert
 * -------------------------------------------------------------------------------------------- */

static int next_rowid(vm *v, table *t, int64_t *out) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    int desc = t->rowid ? 0 : t->pk.desc[0];
    rc = sqli_store_cursor_seek(c, desc ? STORE_SEEK_FIRST : STORE_SEEK_LAST, NULL, 0);
    int64_t max = 0;
    if (rc == STORE_OK) {
        const void *k;
        size_t kl, pos = 0;
        sql_value x;
        sqli_store_cursor_key(c, &k, &kl);
        if (sqli_key_get(k, kl, &pos, desc, &x) == 0 && x.type == SQL_INTEGER)
            max = x.u.i;
        else if (x.type == SQL_FLOAT)
            max = (int64_t)x.u.r;
        val_free(&x);
        rc = STORE_OK;
    }
    sqli_store_cursor_close(c);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
    if (max == INT64_MAX)
        return sqli_vm_error(v, SQL_FULL, "database or disk is full (no rowid left in %s)",
                             t->name);
    *out = max < 0 ? 1 : max + 1;
    return SQL_OK;
}

static int assign_rowid(vm *v, table *t, sql_value *row) {
    sql_value *id = t->rowid ? &row[t->ncol] : t->ipk >= 0 ? &row[t->ipk] : NULL;
    if (!id) return SQL_OK;
    if (id->type == SQL_NULL) {
        int64_t r = 0;
        int rc = next_rowid(v, t, &r);
        if (rc != SQL_OK) return rc;
        val_set_int(id, r);
        return SQL_OK;
    }
    sqli_val_apply_aff(id, AFF_INTEGER);
    if (id->type != SQL_INTEGER)
        return sqli_vm_error(v, SQL_CONSTRAINT, "datatype mismatch: %s.%s must be an integer",
                             t->name, t->ipk >= 0 ? t->cols[t->ipk].name : "rowid");
    return SQL_OK;
}

typedef struct idxkeys {
    keyenc_buf *k;
    int *member;
    int n;
} idxkeys;

static int count_indexes(table *t) {
    int n = 0;
    for (index_t *x = t->indexes; x; x = x->next) n++;
    return n;
}

/* A table without indexes allocates nothing (every row written pays for
 * this: a write-behind batch writes thousands). */
static void idxkeys_init(idxkeys *ik, int n) {
    ik->n = n;
    if (n == 0) {
        ik->k = NULL;
        ik->member = NULL;
        return;
    }
    ik->k = xcalloc((size_t)n, sizeof *ik->k);
    ik->member = xcalloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) sqli_keyenc_init(&ik->k[i]);
}

static void idxkeys_free(idxkeys *ik) {
    for (int i = 0; i < ik->n; i++) sqli_keyenc_free(&ik->k[i]);
    xfree(ik->k);
    xfree(ik->member);
}

/* Index keys of a row (and membership for partial indexes); checks sizes. */
static int build_index_keys(vm *v, table *t, const sql_value *row, const uint8_t *tkey,
                            size_t tklen, idxkeys *ik) {
    size_t maxk = sqli_store_max_key(v->db->store);
    int i = 0;
    for (index_t *x = t->indexes; x; x = x->next, i++) {
        int rc = index_member(v, x, row, &ik->member[i]);
        if (rc != SQL_OK) return rc;
        if (!ik->member[i]) continue;
        sqli_key_for_index(v, &ik->k[i], x, row, tkey, tklen);
        if (ik->k[i].len > maxk)
            return sqli_vm_error(v, SQL_TOOBIG,
                                 "key too large for index %s: %zu bytes (at most %zu)", x->name,
                                 ik->k[i].len, maxk);
    }
    return SQL_OK;
}

/* Put the entries of the indexes that cannot clash (non-unique, or rows
 * with a NULL in a unique index's columns, or unique ones with INCLUDE,
 * probed beforehand). */
static int write_index_entries(vm *v, table *t, const sql_value *row, idxkeys *ik,
                               const uint8_t *tkey, size_t tklen, int only_unique_short) {
    int i = 0;
    for (index_t *x = t->indexes; x; x = x->next, i++) {
        if (!ik->member[i] || sqli_index_short_entry(x, row) != only_unique_short) continue;
        index_value(&v->rb, x, row, tkey, tklen);
        int rc = sqli_store_put(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), ik->k[i].p,
                                ik->k[i].len, v->rb.p, v->rb.len, 0);
        if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        sqli_usage(v->db, x)->ent_ins++;
    }
    return SQL_OK;
}

/* Undo the short unique entries put so far (indexes before `upto`). */
static void unput_unique(vm *v, table *t, const sql_value *row, idxkeys *ik, int upto) {
    int i = 0;
    for (index_t *x = t->indexes; x && i < upto; x = x->next, i++)
        if (ik->member[i] && sqli_index_short_entry(x, row) &&
            sqli_store_del(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), ik->k[i].p,
                           ik->k[i].len) == STORE_OK)
            sqli_usage(v->db, x)->ent_del++;
}

/* Table key of the row owning a short unique entry (into out). */
static int owner_of(vm *v, index_t *x, const keyenc_buf *k, keyenc_buf *out) {
    const void *val;
    size_t vl;
    int rc =
        sqli_store_get(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), k->p, k->len, &val, &vl);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    sqli_keyenc_reset(out);
    sqli_key_raw(out, val, vl);
    return SQL_OK;
}

/* Is there a clash in unique index x (i-th)? Short entries are put so that
 * the put finds it (*put = 1 when this row's entry went in); unique indexes
 * with INCLUDE are probed. The other row's table key goes to v->kb2. */
static int unique_clash(vm *v, index_t *x, const sql_value *row, idxkeys *ik, int i,
                        const uint8_t *tkey, size_t tklen, int *clash) {
    *clash = 0;
    if (!sqli_index_short_entry(x, row)) {
        if (row_is_null_in(row, x, x->tab->ncol)) return SQL_OK;
        return unique_probe(v, x, row, NULL, 0, clash);
    }
    index_value(&v->rb, x, row, tkey, tklen);
    int src = sqli_store_put(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), ik->k[i].p,
                             ik->k[i].len, v->rb.p, v->rb.len, STORE_NOOVERWRITE);
    if (src == STORE_OK) return sqli_usage(v->db, x)->ent_ins++, SQL_OK;
    if (src != STORE_EXISTS) return sqli_vm_store_error(v, src);
    *clash = 1;
    return owner_of(v, x, &ik->k[i], &v->kb2);
}

/* The unique entries first: on a clash IGNORE skips the row, REPLACE deletes
 * the other row and tries again, anything else is an error; what this row
 * put is taken back before it gives up, so nothing is half done. */
static int put_unique_entries(vm *v, table *t, const sql_value *row, idxkeys *ik,
                              const uint8_t *tkey, size_t tklen, int or_alg, int *skip) {
    int i = 0;
    for (index_t *x = t->indexes; x; x = x->next, i++) {
        if (!x->unique || !ik->member[i]) continue;
        int clash, rc = unique_clash(v, x, row, ik, i, tkey, tklen, &clash);
        if (rc == SQL_OK && clash && or_alg == OE_REPLACE) {
            keyenc_buf other;
            sqli_keyenc_init(&other);
            sqli_key_raw(&other, v->kb2.p, v->kb2.len);
            rc = sqli_row_delete(v, t, other.p, other.len);
            sqli_keyenc_free(&other);
            if (rc == SQL_OK) rc = unique_clash(v, x, row, ik, i, tkey, tklen, &clash);
        }
        if (rc == SQL_OK && !clash) continue;
        unput_unique(v, t, row, ik, i);
        if (rc != SQL_OK) return rc;
        if (or_alg == OE_IGNORE) return *skip = 1, SQL_OK;
        return unique_error(v, t, x);
    }
    return SQL_OK;
}

static int after_insert(vm *v, table *t, sql_value *row, const uint8_t *key, size_t klen) {
    if (v->depth == 0) v->nchange++;
    sqli_usage(v->db, &t->pk)->rows_ins++;
    v->db->total_changes++;
    if (t->rowid || t->ipk >= 0) v->db->last_insert_id = row[t->rowid ? t->ncol : t->ipk].u.i;
    sqli_report_change(v, t, SQL_CHANGE_INSERT, row, key, klen);
    int ignore = 0;
    return t->triggers ? sqli_fire_triggers(v, t, ST_INSERT, 2, NULL, row, NULL, &ignore) : SQL_OK;
}

/* t's row cursor if the vm has one open, else NULL. */
static store_cursor *open_row_cursor(vm *v, table *t) {
    for (int i = 0; i < 4; i++)
        if (v->rowcur[i] && v->rowtree[i] == t->tree) return v->rowcur[i];
    return NULL;
}

/* Put v->rb under key in t, refusing an existing key. Through t's row
 * cursor when one is open: an upsert's conflict check that missed left it
 * where the key goes, so the put does not search the tree again. */
static int put_new_row(vm *v, table *t, const keyenc_buf *key) {
    store_cursor *c = open_row_cursor(v, t);
    return c ? sqli_store_cursor_put(c, key->p, key->len, v->rb.p, v->rb.len, STORE_NOOVERWRITE)
             : sqli_store_put(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), key->p, key->len,
                              v->rb.p, v->rb.len, STORE_NOOVERWRITE);
}

/* The table write of an insert, after its unique entries: refuses an
 * existing key (IGNORE skips, REPLACE deletes the old row first). */
static int put_row(vm *v, table *t, sql_value *row, idxkeys *ik, const keyenc_buf *key, int or_alg,
                   int *skip) {
    sqli_rec_encode(&v->rb, row, t->ncol);
    int src = put_new_row(v, t, key);
    if (src == STORE_EXISTS && or_alg == OE_REPLACE) {
        int rc = sqli_row_delete(v, t, key->p, key->len);
        if (rc != SQL_OK) return rc;
        sqli_rec_encode(&v->rb, row, t->ncol);
        src = put_new_row(v, t, key);
    }
    if (src == STORE_OK) return SQL_OK;
    if (src != STORE_EXISTS) return sqli_vm_store_error(v, src);
    unput_unique(v, t, row, ik, 1 << 30);
    if (or_alg == OE_IGNORE) return *skip = 1, SQL_OK;
    return unique_error(v, t, &t->pk);
}

static int insert_checks(vm *v, table *t, sql_value *row, int or_alg, int *skip) {
    int rc;
    if ((rc = apply_types(v, t, row, NULL)) != SQL_OK ||
        (rc = sqli_gen_compute(v, t, row)) != SQL_OK || (rc = assign_rowid(v, t, row)) != SQL_OK)
        return rc;
    if (t->triggers) {
        if ((rc = sqli_fire_triggers(v, t, ST_INSERT, 1, NULL, row, NULL, skip)) != SQL_OK || *skip)
            return rc;
    }
    if ((rc = check_row(v, t, row, or_alg, skip)) != SQL_OK || *skip) return rc;
    if (v->db->fk_enabled && t->nfk) rc = sqli_fk_child_check(v, t, row, NULL);
    return rc;
}

int sqli_row_insert(vm *v, table *t, sql_value *row, int or_alg, int *skipped, int64_t *rowid_out) {
    int rc, skip = 0;
    *skipped = 0;
    if ((rc = insert_checks(v, t, row, or_alg, &skip)) != SQL_OK || skip)
        return *skipped = skip, rc;
    keyenc_buf key;
    sqli_keyenc_init(&key);
    sqli_key_for_table(v, &key, t, row, t->rowid ? row[t->ncol].u.i : 0);
    idxkeys ik;
    idxkeys_init(&ik, count_indexes(t));
    if (key.len > sqli_store_max_key(v->db->store))
        rc = sqli_vm_error(v, SQL_TOOBIG, "primary key of %s too large: %zu bytes", t->name,
                           key.len);
    if (rc == SQL_OK) rc = build_index_keys(v, t, row, key.p, key.len, &ik);
    if (rc == SQL_OK) rc = put_unique_entries(v, t, row, &ik, key.p, key.len, or_alg, &skip);
    if (rc == SQL_OK && !skip) rc = put_row(v, t, row, &ik, &key, or_alg, &skip);
    if (rc == SQL_OK && !skip) rc = write_index_entries(v, t, row, &ik, key.p, key.len, 0);
    if (rc == SQL_OK && !skip && t->fts) rc = sqli_fts_row_insert(v, t, row, key.p, key.len);
    if (rc == SQL_OK && !skip && rowid_out) *rowid_out = t->rowid ? row[t->ncol].u.i : 0;
    if (rc == SQL_OK && !skip) rc = after_insert(v, t, row, key.p, key.len);
    *skipped = skip;
    idxkeys_free(&ik);
    sqli_keyenc_free(&key);
    return rc;
}

/* ---- reading a row by key
 * -------------------------------------------------------------------------- */

/* A cursor on table t for reading (and deleting) rows by key. */
static int row_cursor(vm *v, table *t, store_cursor **out) {
    if ((*out = open_row_cursor(v, t))) return SQL_OK;
    int i = v->rowcur_next++ & 3;
    if (v->rowcur[i]) sqli_store_cursor_close(v->rowcur[i]);
    v->rowcur[i] = NULL;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &v->rowcur[i]);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    v->rowtree[i] = t->tree;
    return *out = v->rowcur[i], SQL_OK;
}

/* Put t's row cursor on the row with this table key (*found = 0: none).
 * A cursor already on the row (an upsert's conflict check) is not moved: no
 * second search. On a hit, *val and *vl give the record (valid until the
 * tree changes or the cursor moves). */
static int locate_row(vm *v, table *t, const uint8_t *key, size_t klen, const void **val,
                      size_t *vl, int *found) {
    store_cursor *c;
    *found = 0;
    int rc = row_cursor(v, t, &c);
    if (rc != SQL_OK) return rc;
    rc = sqli_store_cursor_is_on(c, key, klen)
             ? STORE_OK
             : sqli_store_cursor_seek(c, STORE_SEEK_EQ, key, klen);
    if (rc == STORE_NOTFOUND) return SQL_OK;
    if (rc == STORE_OK) rc = sqli_store_cursor_value(c, val, vl);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    *found = 1;
    return SQL_OK;
}

/* Decode record rec of t into row (ncol + 1 values borrowing rec's bytes). */
static int decode_row(vm *v, table *t, const uint8_t *key, size_t klen, const void *rec, size_t vl,
                      sql_value *row) {
    int rc = sqli_row_decode(v, t, rec, vl, row);
    if (rc != SQL_OK) return rc;
    val_set_null(&row[t->ncol]);
    if (t->rowid) {
        size_t pos = 0;
        sqli_key_get(key, klen, &pos, 0, &row[t->ncol]);
    }
    return SQL_OK;
}

/* Read the row with this table key into an owned array (ncol + 1); the row
 * cursor of t is left on it. */
static int read_row(vm *v, table *t, const uint8_t *key, size_t klen, sql_value *row, int *found) {
    const void *val;
    size_t vl;
    int rc = locate_row(v, t, key, klen, &val, &vl, found);
    if (rc != SQL_OK || !*found) return rc;
    if ((rc = decode_row(v, t, key, klen, val, vl, row)) != SQL_OK) return *found = 0, rc;
    for (int i = 0; i <= t->ncol; i++) sqli_val_own(&row[i]);
    return SQL_OK;
}

/* A copy of a row's record that the decoded row borrows from: the record
 * itself lives in the page, which the row's update rewrites while the old
 * row is still read (triggers, index entries). One copy of the record
 * replaces an allocation per text or blob value. */
typedef struct rec_copy {
    uint8_t *p;
    uint8_t small[256];
} rec_copy;

/* read_row, the values borrowing rc's copy of the record (rec_copy_free
 * after the last use of row; row's values need no val_free). */
static int read_row_copy(vm *v, table *t, const uint8_t *key, size_t klen, sql_value *row,
                         rec_copy *cp, int *found) {
    const void *val;
    size_t vl;
    cp->p = cp->small;
    int rc = locate_row(v, t, key, klen, &val, &vl, found);
    if (rc != SQL_OK || !*found) return rc;
    if (vl > sizeof cp->small) cp->p = xmalloc(vl);
    memcpy(cp->p, val, vl);
    if ((rc = decode_row(v, t, key, klen, cp->p, vl, row)) != SQL_OK) *found = 0;
    return rc;
}

static void rec_copy_free(rec_copy *cp) {
    if (cp->p != cp->small) xfree(cp->p);
    cp->p = cp->small;
}

static void free_row(sql_value *row, int n) {
    if (!row) return;
    for (int i = 0; i < n; i++) val_free(&row[i]);
    xfree(row);
}

static sql_value *new_row(table *t) {
    sql_value *r = xcalloc((size_t)t->ncol + 1, sizeof *r);
    for (int i = 0; i <= t->ncol; i++) val_set_null(&r[i]);
    return r;
}

/* ---- delete
 * ------------------------------------------------------------------------------------------- */

/* Delete a row's index entries and the row. at_cursor: the row cursor of t
 * still stands on the row (nothing touched t since read_row), so the row is
 * deleted there without a second search. */
static int delete_entries(vm *v, table *t, const sql_value *row, const uint8_t *key, size_t klen,
                          int at_cursor) {
    idxkeys ik;
    idxkeys_init(&ik, count_indexes(t));
    int rc = build_index_keys(v, t, row, key, klen, &ik), i = 0;
    if (rc == SQL_OK && t->fts) rc = sqli_fts_row_delete(v, t, row, key, klen);
    for (index_t *x = t->indexes; x && rc == SQL_OK; x = x->next, i++) {
        if (!ik.member[i]) continue;
        int src =
            sqli_store_del(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), ik.k[i].p, ik.k[i].len);
        if (src != STORE_OK && src != STORE_NOTFOUND) rc = sqli_vm_store_error(v, src);
        if (src == STORE_OK) sqli_usage(v->db, x)->ent_del++;
    }
    store_cursor *c = NULL;
    if (rc == SQL_OK && at_cursor) rc = row_cursor(v, t, &c);
    if (rc == SQL_OK) {
        int src = c ? sqli_store_cursor_delete(c)
                    : sqli_store_del(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), key, klen);
        if (src != STORE_OK && src != STORE_NOTFOUND) rc = sqli_vm_store_error(v, src);
    }
    idxkeys_free(&ik);
    return rc;
}

/* Does deleting a row of t read or write t itself before the row goes
 * (triggers, a foreign key of t to t)? Then its cursor may have moved. */
static int touches_itself(table *t) {
    if (t->triggers) return 1;
    for (fkey *f = t->refs; f; f = f->next_in_parent)
        if (f->child == t) return 1;
    return 0;
}

int sqli_row_delete(vm *v, table *t, const uint8_t *key0, size_t klen) {
    if (++v->depth > SQL_MAX_TRIGGER_DEPTH) {
        v->depth--;
        return sqli_vm_error(v, SQL_ERROR, "too many levels of trigger recursion");
    }
    uint8_t *key = (uint8_t *)xmemdup(key0, klen);
    sql_value *row = new_row(t);
    int found, ignore = 0, rc = read_row(v, t, key, klen, row, &found);
    if (rc == SQL_OK && found && t->triggers) {
        rc = sqli_fire_triggers(v, t, ST_DELETE, 1, row, NULL, NULL, &ignore);
        if (rc == SQL_OK && !ignore) { /* the trigger may have changed the row */
            for (int i = 0; i <= t->ncol; i++) val_free(&row[i]);
            rc = read_row(v, t, key, klen, row, &found);
        }
    }
    if (rc != SQL_OK || !found || ignore) goto done;
    if (v->db->fk_enabled && t->refs && (rc = sqli_fk_parent_actions(v, t, row, NULL, 1)) != SQL_OK)
        goto done;
    if ((rc = delete_entries(v, t, row, key, klen, !touches_itself(t))) != SQL_OK) goto done;
    sqli_usage(v->db, &t->pk)->rows_del++;
    if (v->depth == 1) v->nchange++;
    v->db->total_changes++;
    sqli_report_change(v, t, SQL_CHANGE_DELETE, row, key, klen);
    if (v->db->fk_enabled && t->refs && (rc = sqli_fk_parent_actions(v, t, row, NULL, 2)) != SQL_OK)
        goto done;
    if (t->triggers) rc = sqli_fire_triggers(v, t, ST_DELETE, 2, row, NULL, NULL, &ignore);
done:
    v->depth--;
    free_row(row, t->ncol + 1);
    xfree(key);
    return rc;
}

/* ---- update
 * ------------------------------------------------------------------------------------------- */

static int cols_changed(index_t *x, const uint8_t *changed, int pkchanged) {
    if (pkchanged) return 1;
    for (int i = 0; i < x->ncol; i++)
        if (x->cols[i] >= 0 && changed[x->cols[i]]) return 1;
    for (int i = 0; i < x->ninc; i++)
        if (changed[x->inc[i]]) return 1;
    return x->where != NULL; /* membership may change with any column */
}

static int update_unique_checks(vm *v, table *t, const sql_value *newrow, const uint8_t *changed,
                                int pkchanged, const uint8_t *oldkey, size_t oldklen, int or_alg,
                                int *skip) {
    for (index_t *x = t->indexes; x; x = x->next) {
        if (!x->unique || !cols_changed(x, changed, pkchanged)) continue;
        int member, found;
        int rc = index_member(v, x, newrow, &member);
        if (rc == SQL_OK && member) rc = unique_probe(v, x, newrow, oldkey, oldklen, &found);
        if (rc != SQL_OK) return rc;
        if (!member || !found) continue;
        if (or_alg == OE_IGNORE) return *skip = 1, SQL_OK;
        if (or_alg == OE_REPLACE) {
            keyenc_buf k;
            sqli_keyenc_init(&k);
            sqli_key_raw(&k, v->kb2.p, v->kb2.len);
            rc = sqli_row_delete(v, t, k.p, k.len);
            sqli_keyenc_free(&k);
            if (rc != SQL_OK) return rc;
            continue;
        }
        return unique_error(v, t, x);
    }
    return SQL_OK;
}

static int update_indexes(vm *v, table *t, const sql_value *oldrow, const sql_value *newrow,
                          const uint8_t *changed, int pkchanged, const keyenc_buf *ok,
                          const keyenc_buf *nk) {
    idxkeys oi, ni;
    int n = count_indexes(t);
    idxkeys_init(&oi, n);
    idxkeys_init(&ni, n);
    int rc = build_index_keys(v, t, oldrow, ok->p, ok->len, &oi);
    if (rc == SQL_OK) rc = build_index_keys(v, t, newrow, nk->p, nk->len, &ni);
    if (rc == SQL_OK && t->fts && sqli_fts_cols_changed(t->fts, changed, pkchanged)) {
        rc = sqli_fts_row_delete(v, t, oldrow, ok->p, ok->len);
        if (rc == SQL_OK) rc = sqli_fts_row_insert(v, t, newrow, nk->p, nk->len);
    }
    int i = 0;
    for (index_t *x = t->indexes; x && rc == SQL_OK; x = x->next, i++) {
        if (!cols_changed(x, changed, pkchanged)) continue;
        int same = !pkchanged && oi.member[i] && ni.member[i] && oi.k[i].len == ni.k[i].len &&
                   memcmp(oi.k[i].p, ni.k[i].p, oi.k[i].len) == 0;
        if (oi.member[i] && !same) {
            int src = sqli_store_del(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), oi.k[i].p,
                                     oi.k[i].len);
            if (src != STORE_OK && src != STORE_NOTFOUND) rc = sqli_vm_store_error(v, src);
            if (src == STORE_OK) sqli_usage(v->db, x)->ent_del++;
        }
        if (rc == SQL_OK && ni.member[i] && (!same || x->ninc)) {
            index_value(&v->rb, x, newrow, nk->p, nk->len);
            int src = sqli_store_put(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), ni.k[i].p,
                                     ni.k[i].len, v->rb.p, v->rb.len, 0);
            if (src != STORE_OK) rc = sqli_vm_store_error(v, src);
            if (src == STORE_OK) sqli_usage(v->db, x)->ent_ins++;
        }
    }
    idxkeys_free(&oi);
    idxkeys_free(&ni);
    return rc;
}

static int write_updated_row(vm *v, table *t, const sql_value *newrow, const keyenc_buf *ok,
                             const keyenc_buf *nk, int pkchanged) {
    sqli_rec_encode(&v->rb, newrow, t->ncol);
    if (!pkchanged) {
        /* the row cursor of t usually still stands on the row (read_row, the
         * upsert's conflict check): replace it there, without a search */
        store_cursor *c = open_row_cursor(v, t);
        int src = c && sqli_store_cursor_is_on(c, nk->p, nk->len)
                      ? sqli_store_cursor_update(c, v->rb.p, v->rb.len)
                      : sqli_store_put(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), nk->p,
                                       nk->len, v->rb.p, v->rb.len, 0);
        return src == STORE_OK ? SQL_OK : sqli_vm_store_error(v, src);
    }
    int src = sqli_store_put(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), nk->p, nk->len,
                             v->rb.p, v->rb.len, STORE_NOOVERWRITE);
    if (src == STORE_EXISTS) return unique_error(v, t, &t->pk);
    if (src == STORE_OK)
        src = sqli_store_del(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), ok->p, ok->len);
    return src == STORE_OK ? SQL_OK : sqli_vm_store_error(v, src);
}

static void update_bookkeeping(vm *v, table *t, const sql_value *oldrow, const sql_value *newrow,
                               const keyenc_buf *ok, const keyenc_buf *nk, int pkchanged) {
    if (v->depth == 1) v->nchange++;
    v->db->total_changes++;
    sqli_usage(v->db, &t->pk)->rows_upd++;
    if (pkchanged) {
        sqli_report_change(v, t, SQL_CHANGE_DELETE, oldrow, ok->p, ok->len);
        sqli_report_change(v, t, SQL_CHANGE_INSERT, newrow, nk->p, nk->len);
    } else {
        sqli_report_change(v, t, SQL_CHANGE_UPDATE, newrow, nk->p, nk->len);
    }
}

static int update_prepare(vm *v, table *t, sql_value *oldrow, sql_value *newrow, uint8_t *changed) {
    if (t->ngen) { /* the written columns' types first: generated ones read them */
        int rc = apply_types(v, t, newrow, changed);
        if (rc == SQL_OK) rc = sqli_gen_compute(v, t, newrow);
        if (rc != SQL_OK) return rc;
    }
    for (int i = 0; i < t->ncol; i++) {
        if (changed[i]) continue;
        int diff = oldrow[i].type != newrow[i].type || sqli_val_cmp(&oldrow[i], &newrow[i]) != 0;
        changed[i] = (uint8_t)diff;
    }
    int rc = apply_types(v, t, newrow, changed);
    if (rc == SQL_OK && t->ipk >= 0 && changed[t->ipk]) {
        sqli_val_apply_aff(&newrow[t->ipk], AFF_INTEGER);
        if (newrow[t->ipk].type == SQL_NULL)
            return sqli_vm_error(v, SQL_CONSTRAINT, "NOT NULL constraint failed: %s.%s", t->name,
                                 t->cols[t->ipk].name);
        if (newrow[t->ipk].type != SQL_INTEGER)
            return sqli_vm_error(v, SQL_CONSTRAINT, "datatype mismatch: %s.%s must be an integer",
                                 t->name, t->cols[t->ipk].name);
    }
    return rc;
}

/* Is a primary key column of t (a table keyed by its primary key) among
 * the changed ones? */
static int pk_cols_changed(const table *t, const uint8_t *changed) {
    for (int i = 0; i < t->pk.ncol; i++)
        if (t->pk.cols[i] < 0 || changed[t->pk.cols[i]]) return 1;
    return 0;
}

int sqli_row_update(vm *v, table *t, const uint8_t *key, size_t klen, sql_value *oldrow,
                    sql_value *newrow) {
    if (++v->depth > SQL_MAX_TRIGGER_DEPTH) {
        v->depth--;
        return sqli_vm_error(v, SQL_ERROR, "too many levels of trigger recursion");
    }
    uint8_t small[64];
    uint8_t *changed = t->ncol + 1 <= (int)sizeof small ? small : xmalloc((size_t)t->ncol + 1);
    memset(changed, 0, (size_t)t->ncol + 1);
    keyenc_buf ok, nk;
    sqli_keyenc_init(&ok);
    sqli_keyenc_init(&nk);
    sqli_key_raw(&ok, key, klen);
    int rc = update_prepare(v, t, oldrow, newrow, changed), skip = 0, ignore = 0;
    if (rc == SQL_OK && t->triggers)
        rc = sqli_fire_triggers(v, t, ST_UPDATE, 1, oldrow, newrow, changed, &ignore);
    if (rc != SQL_OK || ignore) goto done;
    if ((rc = check_row(v, t, newrow, v->or_alg, &skip)) != SQL_OK || skip) goto done;
    if (v->db->fk_enabled && t->nfk && (rc = sqli_fk_child_check(v, t, newrow, changed)) != SQL_OK)
        goto done;
    if (t->rowid || pk_cols_changed(t, changed))
        sqli_key_for_table(v, &nk, t, newrow, t->rowid ? newrow[t->ncol].u.i : 0);
    else /* the same values give the same key */
        sqli_key_raw(&nk, ok.p, ok.len);
    int pkchanged = nk.len != ok.len || memcmp(nk.p, ok.p, ok.len) != 0;
    if (pkchanged && nk.len > sqli_store_max_key(v->db->store)) {
        rc = sqli_vm_error(v, SQL_TOOBIG, "primary key of %s too large", t->name);
        goto done;
    }
    if ((rc = update_unique_checks(v, t, newrow, changed, pkchanged, ok.p, ok.len, v->or_alg,
                                   &skip)) != SQL_OK ||
        skip)
        goto done;
    if (v->db->fk_enabled && t->refs &&
        (rc = sqli_fk_parent_actions(v, t, oldrow, newrow, 1)) != SQL_OK)
        goto done;
    if ((rc = write_updated_row(v, t, newrow, &ok, &nk, pkchanged)) != SQL_OK) goto done;
    if ((t->indexes || t->fts) &&
        (rc = update_indexes(v, t, oldrow, newrow, changed, pkchanged, &ok, &nk)) != SQL_OK)
        goto done;
    update_bookkeeping(v, t, oldrow, newrow, &ok, &nk, pkchanged);
    if (v->db->fk_enabled && t->refs &&
        (rc = sqli_fk_parent_actions(v, t, oldrow, newrow, 2)) != SQL_OK)
        goto done;
    if (t->triggers) rc = sqli_fire_triggers(v, t, ST_UPDATE, 2, oldrow, newrow, changed, &ignore);
done:
    v->depth--;
    sqli_keyenc_free(&ok);
    sqli_keyenc_free(&nk);
    if (changed != small) xfree(changed);
    return rc;
}

/* ---- running statements
 * ------------------------------------------------------------------------------ */

static int returning_row(vm *v, dmlplan *d, sql_value *row, rowbuf *rb) {
    if (!d->nret || !rb) return SQL_OK;
    cursor *c = sqli_vm_cursor(v, d->cur);
    c->pseudo = row;
    sql_value *vals = xcalloc((size_t)d->nret, sizeof *vals);
    int rc = SQL_OK, n = 0;
    for (; n < d->nret && rc == SQL_OK; n++) rc = sqli_ex_eval(v, d->ret[n], &vals[n]);
    if (rc == SQL_OK) sqli_rowbuf_add(rb, NULL, 0, vals, d->nret);
    for (int i = 0; i < n; i++) val_free(&vals[i]);
    xfree(vals);
    c->pseudo = NULL;
    return rc;
}

/* Default value of column i. */
static int column_default(vm *v, table *t, int i, sql_value *out) {
    column *c = &t->cols[i];
    val_set_null(out);
    if (!c->dflt) return SQL_OK;
    int rc = sqli_ex_eval(v, c->dflt, out);
    if (rc == SQL_OK) sqli_val_own(out);
    return rc;
}

/* Find a row conflicting with row in the upsert's target (or any unique
 * key); its table key goes to *key. */
static int upsert_conflict(vm *v, dmlplan *d, sql_value *row, keyenc_buf *key, int *found) {
    table *t = d->tab;
    *found = 0;
    if (!d->up_idx || d->up_idx->is_pk) {
        int idnull = (t->rowid && row[t->ncol].type == SQL_NULL) ||
                     (t->ipk >= 0 && row[t->ipk].type == SQL_NULL);
        if (!idnull && !(row_is_null_in(row, &t->pk, t->ncol) && !t->rowid)) {
            sqli_key_for_table(v, key, t, row, t->rowid ? row[t->ncol].u.i : 0);
            /* through the row cursor: it is left on the row, where the
             * update reads (read_row) and writes (write_updated_row) it */
            store_cursor *c;
            int rc = row_cursor(v, t, &c);
            if (rc != SQL_OK) return rc;
            rc = sqli_store_cursor_seek(c, STORE_SEEK_EQ, key->p, key->len);
            if (rc == STORE_OK) return *found = 1, SQL_OK;
            if (rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
        }
        if (d->up_idx) return SQL_OK;
    }
    for (index_t *x = t->indexes; x; x = x->next) {
        if (!x->unique || (d->up_idx && d->up_idx != x)) continue;
        int member, f;
        int rc = index_member(v, x, row, &member);
        if (rc == SQL_OK && member) rc = unique_probe(v, x, row, NULL, 0, &f);
        if (rc != SQL_OK) return rc;
        if (member && f) {
            sqli_keyenc_reset(key);
            sqli_key_raw(key, v->kb2.p, v->kb2.len);
            return *found = 1, SQL_OK;
        }
    }
    return SQL_OK;
}

/* Does x borrow the bytes of a value of row (n values)? */
static int borrows_from(const sql_value *x, const sql_value *row, int n) {
    if (x->owned || (x->type != SQL_TEXT && x->type != SQL_BLOB)) return 0;
    for (int i = 0; i < n; i++)
        if (row[i].z == x->z && row[i].type == x->type) return 1;
    return 0;
}

/* The old row borrows a copy of its record (read_row_copy) and the new row
 * borrows from the old and the proposed rows, which outlive the update: no
 * value is copied unless an expression made it. Tables of up to
 * UPSERT_STACK_COLS columns keep both rows on the stack. */
#define UPSERT_STACK_COLS 16

static int do_upsert_update(vm *v, dmlplan *d, sql_value *proposed, keyenc_buf *key, rowbuf *rb) {
    table *t = d->tab;
    int n = t->ncol + 1;
    sql_value stack[2 * (UPSERT_STACK_COLS + 1)];
    sql_value *old = n <= UPSERT_STACK_COLS + 1 ? stack : xmalloc(2 * (size_t)n * sizeof *old);
    sql_value *nw = old + n;
    for (int i = 0; i < 2 * n; i++) val_set_null(&old[i]);
    rec_copy cp;
    int found, rc = read_row_copy(v, t, key->p, key->len, old, &cp, &found);
    if (rc != SQL_OK || !found) goto done;
    cursor *ec = sqli_vm_cursor(v, d->ecur), *xc = sqli_vm_cursor(v, d->xcur);
    ec->pseudo = old;
    xc->pseudo = proposed;
    int t1 = 1;
    if (d->up->where) rc = sqli_ex_truth(v, d->up->where, &t1);
    for (int i = 0; i < n; i++) val_ref(&nw[i], &old[i]);
    for (int i = 0; rc == SQL_OK && t1 == 1 && i < d->up->nset; i++) {
        setitem *s = &d->up->sets[i];
        sql_value x;
        rc = sqli_ex_eval(v, s->e, &x);
        if (rc != SQL_OK) break;
        if (!borrows_from(&x, proposed, n) && !borrows_from(&x, old, n)) sqli_val_own(&x);
        val_free(&nw[s->colidx]);
        nw[s->colidx] = x;
    }
    ec->pseudo = xc->pseudo = NULL;
    if (rc == SQL_OK && t1 == 1) {
        rc = sqli_row_update(v, t, key->p, key->len, old, nw);
        if (rc == SQL_OK) rc = returning_row(v, d, nw, rb);
    }
done:
    for (int i = 0; i < 2 * n; i++) val_free(&old[i]);
    rec_copy_free(&cp);
    if (old != stack) xfree(old);
    return rc;
}

static int insert_one(vm *v, dmlplan *d, sql_value *row, rowbuf *rb) {
    int rc, skipped;
    if (d->up) {
        keyenc_buf key;
        sqli_keyenc_init(&key);
        int found;
        rc = apply_types(v, d->tab, row, NULL);
        if (rc == SQL_OK) rc = upsert_conflict(v, d, row, &key, &found);
        if (rc == SQL_OK && found) {
            if (d->up->do_update) rc = do_upsert_update(v, d, row, &key, rb);
            sqli_keyenc_free(&key);
            return rc;
        }
        sqli_keyenc_free(&key);
        if (rc != SQL_OK) return rc;
    }
    rc = sqli_row_insert(v, d->tab, row, d->or_alg, &skipped, NULL);
    if (rc == SQL_OK && !skipped) rc = returning_row(v, d, row, rb);
    return rc;
}

/* Does x borrow the bytes of a bound parameter? Those stay put until the
 * statement's step ends (no write moves them, invariant 3 holds), so the
 * insert row may borrow them too. */
static int borrows_param(const vm *v, const sql_value *x) {
    if (x->owned || (x->type != SQL_TEXT && x->type != SQL_BLOB)) return 0;
    for (int i = 0; i < v->nparam; i++)
        if (v->params[i].z == x->z && v->params[i].type == x->type && x->z) return 1;
    return 0;
}

/* Build the table row from one source row. A value that is a bound
 * parameter's is borrowed (a write-behind batch binds every row's values:
 * a copy each cost an allocation and a free). */
static int build_insert_row(vm *v, dmlplan *d, const sql_value *src, expr **src_exprs,
                            sql_value *row) {
    table *t = d->tab;
    for (int i = 0; i <= t->ncol; i++) val_free(&row[i]);
    for (int i = 0; i < t->ncol; i++) {
        int k = d->colmap[i];
        int rc;
        if (k < 0 || !src || (src_exprs && src_exprs[k]->op == E_DEFAULT)) {
            rc = column_default(v, t, i, &row[i]);
        } else if (borrows_param(v, &src[k])) {
            val_ref(&row[i], &src[k]);
            rc = SQL_OK;
        } else {
            sqli_val_copy(&row[i], &src[k]);
            rc = SQL_OK;
        }
        if (rc != SQL_OK) return rc;
    }
    if (t->rowid) val_set_null(&row[t->ncol]);
    return SQL_OK;
}

/* run_insert's row array: the statement's spare one when it fits (a
 * statement run once per row, as a write-behind batch runs its upsert,
 * then allocates it once), else a new one. A trigger's insert into the
 * same table while the spare is taken gets a new one. */
static sql_value *take_insert_row(vm *v, table *t) {
    sql_value *r = v->spare_row;
    if (!r || v->spare_row_n != t->ncol + 1) return new_row(t);
    v->spare_row = NULL;
    return r;
}

static void give_insert_row(vm *v, sql_value *row, int n) {
    for (int i = 0; i < n; i++) val_free(&row[i]);
    if (v->spare_row) {
        xfree(row);
        return;
    }
    v->spare_row = row;
    v->spare_row_n = n;
}

/* Is the insert's source a plain VALUES list (no ORDER BY, LIMIT, DISTINCT,
 * compound, CTE or window; nothing reading the target)? Then insert_values
 * takes its rows without the query machinery: a write-behind batch runs a
 * one-row VALUES statement per row, and opening, stepping and closing the
 * query cost more than evaluating its values. */
static int values_direct(const vm *v, const dmlplan *d) {
    const qplan *p = d->src;
    return p && p->values_rows > 0 && p->op == SEL_SIMPLE && !p->agg && !p->sort && !p->distinct &&
           !p->limit && !p->offset && !p->nwin && !p->rec_loop && !p->rec && !d->src_reads_target &&
           !v->analyze;
}

/* The rows of a VALUES source (values_direct) as sqli_q_next gives them:
 * each row's values in the plan's output array, DEFAULT left NULL. */
static int insert_values(vm *v, dmlplan *d, sql_value *row, rowbuf *rb) {
    qplan *p = d->src;
    int rc = SQL_OK;
    for (int r = 0; r < p->values_rows && rc == SQL_OK; r++) {
        rc = sqli_q_values_row(v, p, r);
        if (rc == SQL_OK) rc = build_insert_row(v, d, p->out, p->q->values[r], row);
        if (rc == SQL_OK) rc = insert_one(v, d, row, rb);
    }
    for (int k = 0; k < p->ncol; k++) val_free(&p->out[k]);
    return rc;
}

static int run_insert(vm *v, dmlplan *d, rowbuf *rb) {
    table *t = d->tab;
    sql_value *row = take_insert_row(v, t);
    int rc = SQL_OK;
    v->or_alg = d->or_alg;
    if (d->default_values) {
        rc = build_insert_row(v, d, NULL, NULL, row);
        if (rc == SQL_OK) rc = insert_one(v, d, row, rb);
        give_insert_row(v, row, t->ncol + 1);
        return rc;
    }
    qplan *p = d->src;
    if (values_direct(v, d)) {
        rc = insert_values(v, d, row, rb);
        give_insert_row(v, row, t->ncol + 1);
        return rc;
    }
    rowbuf mat = {0};
    if ((rc = sqli_q_open(v, p)) != SQL_OK) goto done;
    if (d->src_reads_target) { /* read everything before the first write */
        while ((rc = sqli_q_next(v, p)) == SQL_ROW) sqli_rowbuf_add(&mat, NULL, 0, p->out, p->ncol);
        if (rc != SQL_DONE) goto done;
        rc = SQL_OK;
        for (size_t i = 0; i < mat.n && rc == SQL_OK; i++) {
            const sql_value *vals;
            sqli_rowbuf_row(&mat, i, &vals, NULL, NULL);
            rc = build_insert_row(v, d, vals, NULL, row);
            if (rc == SQL_OK) rc = insert_one(v, d, row, rb);
        }
        goto done;
    }
    while ((rc = sqli_q_next(v, p)) == SQL_ROW) {
        expr **exprs = p->values_rows ? p->q->values[p->values_pos - 1] : NULL;
        rc = build_insert_row(v, d, p->out, exprs, row);
        if (rc == SQL_OK) rc = insert_one(v, d, row, rb);
        if (rc != SQL_OK) goto done;
    }
    if (rc == SQL_DONE) rc = SQL_OK;
done:
    sqli_q_close(v, p);
    sqli_rowbuf_clear(&mat);
    give_insert_row(v, row, t->ncol + 1);
    return rc;
}

/* Keys of the rows the WHERE clause selects. */
static int collect_keys(vm *v, dmlplan *d, rowbuf *keys) {
    qplan *p = d->scan;
    int rc = sqli_q_open(v, p);
    cursor *c = sqli_vm_cursor(v, d->cur);
    while (rc == SQL_OK && (rc = sqli_nl_next(v, p)) == SQL_ROW) {
        if (!c->key) sqli_cur_load_key(v, c);
        sqli_rowbuf_add(keys, c->key, c->klen, NULL, 0);
        rc = SQL_OK;
    }
    sqli_q_close(v, p);
    return rc == SQL_DONE ? SQL_OK : rc;
}

static int update_one(vm *v, dmlplan *d, const uint8_t *key, size_t klen, rowbuf *rb) {
    table *t = d->tab;
    sql_value *old = new_row(t), *nw = new_row(t);
    int found, rc = read_row(v, t, key, klen, old, &found);
    if (rc != SQL_OK || !found) goto done;
    cursor *c = sqli_vm_cursor(v, d->cur);
    c->pseudo = old;
    for (int i = 0; i <= t->ncol; i++) sqli_val_copy(&nw[i], &old[i]);
    for (int i = 0; i < d->nset && rc == SQL_OK; i++) {
        setitem *s = &d->sets[i];
        sql_value x;
        if (s->e->op == E_DEFAULT)
            rc = column_default(v, t, s->colidx, &x);
        else
            rc = sqli_ex_eval(v, s->e, &x);
        if (rc != SQL_OK) break;
        sqli_val_own(&x);
        val_free(&nw[s->colidx]);
        nw[s->colidx] = x;
    }
    c->pseudo = NULL;
    if (rc == SQL_OK) rc = sqli_row_update(v, t, key, klen, old, nw);
    if (rc == SQL_OK) rc = returning_row(v, d, nw, rb);
done:
    free_row(old, t->ncol + 1);
    free_row(nw, t->ncol + 1);
    return rc;
}

static int delete_one(vm *v, dmlplan *d, const uint8_t *key, size_t klen, rowbuf *rb) {
    table *t = d->tab;
    int rc = SQL_OK;
    if (d->nret) { /* RETURNING sees the row as it was */
        sql_value *old = new_row(t);
        int found;
        rc = read_row(v, t, key, klen, old, &found);
        if (rc == SQL_OK && found) rc = returning_row(v, d, old, rb);
        free_row(old, t->ncol + 1);
    }
    if (rc == SQL_OK) rc = sqli_row_delete(v, t, key, klen);
    return rc;
}

/* DELETE without WHERE on a table nothing watches: clear the trees. */
static int try_truncate(vm *v, dmlplan *d, int *done) {
    table *t = d->tab;
    *done = 0;
    if (d->scan->q->where || t->triggers || (t->refs && v->db->fk_enabled) || d->nret ||
        v->db->hook)
        return SQL_OK;
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    int64_t n = 0;
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(c))
        n++;
    sqli_store_cursor_close(c);
    if (rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
    rc = sqli_store_tree_clear(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree));
    for (index_t *x = t->indexes; x && rc == STORE_OK; x = x->next)
        rc = sqli_store_tree_clear(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree));
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    for (index_t *x = t->fts; x && rc == STORE_OK; x = x->next) { /* an empty index: its totals */
        rc = sqli_store_tree_clear(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree));
        if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        if ((rc = sqli_fts_fill(v, t, x)) != SQL_OK) return rc;
    }
    v->nchange += n;
    v->db->total_changes += n;
    sqli_usage(v->db, &t->pk)->rows_del += n;
    sqli_usage_scan(v->db, &t->pk);
    d->scan->loops[0].st_loops++; /* the walk above stands for the scan's loop */
    d->scan->loops[0].st_rows += (uint64_t)n;
    *done = 1;
    return SQL_OK;
}

/* UPDATE/DELETE ... WHERE pk = ?: no search for the keys, the row op reads
 * the row itself. Returns 1 when it applied. */
static int run_by_pk(vm *v, dmlplan *d, rowbuf *rb, int *rc) {
    keyenc_buf k;
    sqli_keyenc_init(&k);
    int empty = 0, handled;
    *rc = sqli_q_open(v, d->scan);
    handled = *rc == SQL_OK && sqli_q_exact_pk(v, d->scan, &k, &empty, rc);
    sqli_q_close(v, d->scan);
    if (handled) { /* the key lookup stands for the scan's one loop */
        sqli_usage_scan(v->db, &d->tab->pk);
        d->scan->loops[0].st_loops++;
    }
    int64_t before = v->nchange;
    if (handled && *rc == SQL_OK && !empty)
        *rc = d->kind == ST_UPDATE ? update_one(v, d, k.p, k.len, rb)
                                   : delete_one(v, d, k.p, k.len, rb);
    if (handled) d->scan->loops[0].st_rows += (uint64_t)(v->nchange > before);
    sqli_keyenc_free(&k);
    return handled || *rc != SQL_OK;
}

int sqli_run_dml(vm *v, dmlplan *d, rowbuf *rb) {
    if (d->kind == ST_INSERT) return run_insert(v, d, rb);
    int rc, done;
    v->or_alg = d->or_alg;
    if (d->one_row && run_by_pk(v, d, rb, &rc)) return rc;
    if (d->kind == ST_DELETE) {
        rc = try_truncate(v, d, &done);
        if (rc != SQL_OK || done) return rc;
    }
    rowbuf keys = {0};
    v->or_alg = d->or_alg;
    rc = collect_keys(v, d, &keys);
    if (rc == SQL_OK && d->kind == ST_UPDATE &&
        (d->key_order || (v->db->fk_enabled && (d->tab->nfk || d->tab->refs))))
        sqli_rowbuf_sort(&keys);
    for (size_t i = 0; i < keys.n && rc == SQL_OK; i++) {
        const uint8_t *k;
        size_t kl;
        sqli_rowbuf_row(&keys, i, NULL, &k, &kl);
        rc = d->kind == ST_UPDATE ? update_one(v, d, k, kl, rb) : delete_one(v, d, k, kl, rb);
    }
    sqli_rowbuf_clear(&keys);
    return rc;
}
