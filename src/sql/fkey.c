/* sql/fkey.c — foreign keys: a child row's parent must exist; a parent row
 * that goes away or changes its key takes its children along (CASCADE),
 * detaches them (SET NULL / SET DEFAULT), or is refused (RESTRICT at once,
 * NO ACTION when the statement ends and children still point nowhere).
 *
 * Enforcement is on by default (PRAGMA foreign_keys = OFF turns it off per
 * connection, for loading dumps). A child key with a NULL column matches
 * nothing and needs no parent (MATCH SIMPLE).
 *
 * Parent lookups use the parent's key index (its primary key or a unique
 * index on exactly the referenced columns); children are found through an
 * index of the child table that starts with the foreign-key columns, or by
 * a scan when there is none (as in SQLite: index your foreign keys).
 *
 * Invariants:
 *   1. Phase 1 of a parent change (before any write) only reads; phase 2
 *      (after the parent row is written) performs the actions, each through
 *      sqli_row_delete / sqli_row_update, so actions cascade and fire triggers.
 *   2. A pending NO ACTION check holds owned copies of the old key values.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <stdio.h>

typedef struct fkpend {
    fkey *f;
    sql_value *vals; /* ncol, parent index order */
} fkpend;

static int fk_error(vm *v, fkey *f) {
    strb b = {0};
    for (int j = 0; j < f->ncol; j++)
        sqli_strb_addf(&b, "%s%s", j ? "," : "", f->child->cols[f->ccols[j]].name);
    sqli_strb_addf(&b, " references %s", f->ptab);
    if (f->parent && f->pcols) {
        sqli_strb_addc(&b, '.');
        for (int j = 0; j < f->ncol; j++)
            sqli_strb_addf(&b, "%s%s", j ? "," : "",
                           f->pcols[j] < 0 ? "rowid" : f->parent->cols[f->pcols[j]].name);
    }
    int rc = f->name ? sqli_vm_error(v, SQL_CONSTRAINT, "FOREIGN KEY constraint failed: %s (%s.%s)",
                                     f->name, f->child->name, sqli_strb_cstr(&b))
                     : sqli_vm_error(v, SQL_CONSTRAINT, "FOREIGN KEY constraint failed: %s.%s",
                                     f->child->name, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return rc;
}

static int mismatch(vm *v, fkey *f) {
    return sqli_vm_error(v, SQL_ERROR, "foreign key mismatch - \"%s\" referencing \"%s\"",
                         f->child->name, f->ptab);
}

/* Does the parent key (vals, in parent index order, parent affinity applied)
 * exist? */
static int parent_exists(vm *v, fkey *f, const sql_value *vals, int *found) {
    index_t *x = f->pidx;
    keyenc_buf *k = &v->kb2;
    sqli_keyenc_reset(k);
    for (int j = 0; j < f->ncol; j++) sqli_key_add(k, &vals[j], x->desc[j]);
    *found = 0;
    sqli_usage_scan(v->db, x);
    if (x->is_pk) {
        const void *val;
        size_t vl;
        int rc = sqli_store_get(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), k->p, k->len, &val,
                                &vl);
        if (rc == STORE_OK)
            *found = 1;
        else if (rc != STORE_NOTFOUND)
            return sqli_vm_store_error(v, rc);
        return SQL_OK;
    }
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    rc = sqli_store_cursor_seek(c, STORE_SEEK_GE, k->p, k->len);
    if (rc == STORE_OK) {
        const void *ek;
        size_t el;
        sqli_store_cursor_key(c, &ek, &el);
        *found = el >= k->len && memcmp(ek, k->p, k->len) == 0 &&
                 (el == k->len || ((const uint8_t *)ek)[k->len] != 0xFF);
    }
    sqli_store_cursor_close(c);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
    return SQL_OK;
}

/* The parent key a child row points to, converted by the parent columns'
 * affinity. Returns 0 when a column is NULL (no parent needed). */
static int child_parent_key(fkey *f, const sql_value *row, sql_value *vals) {
    for (int j = 0; j < f->ncol; j++) {
        val_ref(&vals[j], &row[f->ccols[j]]);
        if (vals[j].type == SQL_NULL) return 0;
        int pc = f->pcols[j];
        sqli_val_apply_aff(&vals[j], pc < 0 ? AFF_INTEGER : f->parent->cols[pc].aff);
    }
    return 1;
}

static void free_vals(sql_value *vals, int n) {
    for (int j = 0; j < n; j++) val_free(&vals[j]);
}

int sqli_fk_child_check(vm *v, table *t, const sql_value *row, const uint8_t *changed) {
    for (int k = 0; k < t->nfk; k++) {
        fkey *f = &t->fks[k];
        int touched = !changed;
        for (int j = 0; changed && j < f->ncol; j++) touched |= changed[f->ccols[j]];
        if (!touched) continue;
        int anynull = 0;
        for (int j = 0; j < f->ncol; j++) anynull |= row[f->ccols[j]].type == SQL_NULL;
        if (anynull) continue;
        if (!f->pidx) return mismatch(v, f);
        sql_value vals[32];
        if (f->ncol > 32) return mismatch(v, f);
        int have = child_parent_key(f, row, vals), found = 0, rc = SQL_OK;
        if (have && f->parent == t) { /* a row may be its own parent */
            found = 1;
            for (int j = 0; j < f->ncol && found; j++) {
                int pc = f->pcols[j];
                found = sqli_val_cmp(&vals[j], &row[pc < 0 ? t->ncol : pc]) == 0;
            }
        }
        if (have && !found) rc = parent_exists(v, f, vals, &found);
        free_vals(vals, f->ncol);
        if (rc != SQL_OK) return rc;
        if (have && !found) return fk_error(v, f);
    }
    return SQL_OK;
}

/* ---- finding children ----------------------------------------------------------------------- */

/* An index of the child table whose first ncol columns are the FK columns. */
static index_t *child_index(fkey *f) {
    table *c = f->child;
    index_t *cands[66];
    int n = 0;
    cands[n++] = &c->pk;
    for (index_t *x = c->indexes; x && n < 65; x = x->next)
        if (!x->where) cands[n++] = x;
    for (int i = 0; i < n; i++) {
        index_t *x = cands[i];
        if (x->ncol < f->ncol) continue;
        int ok = 1;
        for (int j = 0; j < f->ncol && ok; j++) {
            int hit = 0;
            for (int k = 0; k < f->ncol; k++) hit |= x->cols[j] == f->ccols[k];
            ok = hit;
        }
        if (ok) return x;
    }
    return NULL;
}

/* Table keys of the child rows whose FK columns equal pvals (parent index
 * order). skip: a table key to leave out (the parent row itself, when the
 * table references itself). */
static int find_children(vm *v, fkey *f, const sql_value *pvals, rowbuf *keys, int limit,
                         const uint8_t *skip, size_t skiplen) {
    table *ct = f->child;
    index_t *x = child_index(f);
    keyenc_buf k;
    sqli_keyenc_init(&k);
    sql_value cv[32];
    for (int j = 0; j < f->ncol; j++) { /* in child column terms */
        val_ref(&cv[j], &pvals[j]);
        sqli_val_apply_aff(&cv[j], ct->cols[f->ccols[j]].aff);
    }
    if (x)
        for (int j = 0; j < f->ncol; j++)
            for (int m = 0; m < f->ncol; m++)
                if (x->cols[j] == f->ccols[m]) sqli_key_add(&k, &cv[m], x->desc[j]);
    store_cursor *c;
    sqli_usage_scan(v->db, x ? x : &ct->pk);
    int rc = sqli_store_cursor_open(sqli_txn_for(v, x ? x->tree : ct->tree),
                                    sqli_tree_id(x ? x->tree : ct->tree), &c),
        n = 0;
    if (rc != STORE_OK) goto out;
    rc = x ? sqli_store_cursor_seek(c, STORE_SEEK_GE, k.p, k.len)
           : sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0);
    sql_value *row = xcalloc((size_t)ct->ncol + 1, sizeof *row);
    while (rc == STORE_OK && (limit <= 0 || n < limit)) {
        const void *ek, *val;
        size_t el, vl;
        sqli_store_cursor_key(c, &ek, &el);
        const uint8_t *tk = ek;
        size_t tl = el;
        if (x) {
            if (el < k.len || memcmp(ek, k.p, k.len) != 0 || (el > k.len && tk[k.len] == 0xFF))
                break;
            if (!x->is_pk) {
                size_t pos = 0;
                for (int i = 0; i < x->ncol; i++) sqli_keyenc_skip(ek, el, &pos);
                tk += pos;
                tl -= pos;
                if (tl == 0) { /* short unique entry: the table key is the value */
                    sqli_store_cursor_value(c, &val, &vl);
                    tk = val;
                    tl = vl;
                }
            }
        } else {
            sqli_store_cursor_value(c, &val, &vl);
            int match = sqli_row_decode(v, ct, val, vl, row) == SQL_OK;
            for (int j = 0; j < f->ncol && match; j++) {
                const sql_value *a = &row[f->ccols[j]];
                match = a->type != SQL_NULL && sqli_ex_cmp_values(a, &cv[j], AFF_NONE, 0) == 0;
            }
            if (!match) {
                rc = sqli_store_cursor_next(c);
                continue;
            }
        }
        if (!(skip && tl == skiplen && memcmp(tk, skip, tl) == 0)) {
            sqli_rowbuf_add(keys, tk, tl, NULL, 0);
            n++;
        }
        rc = sqli_store_cursor_next(c);
    }
    xfree(row);
    sqli_store_cursor_close(c);
out:
    free_vals(cv, f->ncol);
    sqli_keyenc_free(&k);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
    return SQL_OK;
}

/* ---- parent side --------------------------------------------------------------------------------
 */

static void add_pending(vm *v, fkey *f, const sql_value *vals) {
    if (v->npend == v->cappend) {
        v->cappend = v->cappend ? v->cappend * 2 : 8;
        v->fkpend = xrealloc(v->fkpend, sizeof(fkpend) * (size_t)v->cappend);
    }
    fkpend *p = (fkpend *)v->fkpend + v->npend++;
    p->f = f;
    p->vals = xcalloc((size_t)f->ncol, sizeof *p->vals);
    for (int j = 0; j < f->ncol; j++) sqli_val_copy(&p->vals[j], &vals[j]);
}

void sqli_fk_pending_clear(vm *v) {
    fkpend *p = v->fkpend;
    for (int i = 0; i < v->npend; i++) {
        free_vals(p[i].vals, p[i].f->ncol);
        xfree(p[i].vals);
    }
    v->npend = 0;
}

int sqli_fk_deferred_check(vm *v) {
    fkpend *p = v->fkpend;
    int rc = SQL_OK;
    for (int i = 0; i < v->npend && rc == SQL_OK; i++) {
        int found;
        rc = parent_exists(v, p[i].f, p[i].vals, &found);
        if (rc != SQL_OK || found) continue;
        rowbuf keys = {0};
        rc = find_children(v, p[i].f, p[i].vals, &keys, 1, NULL, 0);
        if (rc == SQL_OK && keys.n) rc = fk_error(v, p[i].f);
        sqli_rowbuf_clear(&keys);
    }
    sqli_fk_pending_clear(v);
    return rc;
}

static int key_changed(fkey *f, table *t, const sql_value *oldrow, const sql_value *newrow) {
    if (!newrow) return 1;
    for (int j = 0; j < f->ncol; j++) {
        int pc = f->pcols[j] < 0 ? t->ncol : f->pcols[j];
        if (oldrow[pc].type != newrow[pc].type || sqli_val_cmp(&oldrow[pc], &newrow[pc]) != 0)
            return 1;
    }
    return 0;
}

static int apply_action(vm *v, fkey *f, int action, const uint8_t *key, size_t klen,
                        const sql_value *newrow) {
    table *ct = f->child;
    if (action == FK_CASCADE && !newrow) return sqli_row_delete(v, ct, key, klen);
    const void *val;
    size_t vl;
    int rc =
        sqli_store_get(sqli_txn_for(v, ct->tree), sqli_tree_id(ct->tree), key, klen, &val, &vl);
    if (rc == STORE_NOTFOUND) return SQL_OK;
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    sql_value *old = xcalloc((size_t)ct->ncol + 1, sizeof *old),
              *nw = xcalloc((size_t)ct->ncol + 1, sizeof *nw);
    rc = sqli_row_decode(v, ct, val, vl, old);
    val_set_null(&old[ct->ncol]);
    if (rc == SQL_OK && ct->rowid) {
        size_t pos = 0;
        sqli_key_get(key, klen, &pos, 0, &old[ct->ncol]);
    }
    for (int i = 0; rc == SQL_OK && i <= ct->ncol; i++) {
        sqli_val_own(&old[i]);
        sqli_val_copy(&nw[i], &old[i]);
    }
    for (int j = 0; rc == SQL_OK && j < f->ncol; j++) {
        int cc = f->ccols[j];
        val_free(&nw[cc]);
        if (action == FK_SET_NULL) {
            val_set_null(&nw[cc]);
        } else if (action == FK_SET_DEFAULT) {
            column *col = &ct->cols[cc];
            if (col->dflt) rc = sqli_ex_eval(v, col->dflt, &nw[cc]);
            sqli_val_own(&nw[cc]);
        } else {
            int pc = f->pcols[j] < 0 ? f->parent->ncol : f->pcols[j];
            sqli_val_copy(&nw[cc], &newrow[pc]);
        }
    }
    if (rc == SQL_OK) rc = sqli_row_update(v, ct, key, klen, old, nw);
    for (int i = 0; i <= ct->ncol; i++) val_free(&old[i]), val_free(&nw[i]);
    xfree(old);
    xfree(nw);
    return rc;
}

static int parent_change(vm *v, table *t, fkey *f, const sql_value *oldrow, const sql_value *newrow,
                         int phase) {
    if (!f->pidx || !key_changed(f, t, oldrow, newrow)) return SQL_OK;
    sql_value pv[32];
    if (f->ncol > 32) return SQL_OK;
    int anynull = 0;
    for (int j = 0; j < f->ncol; j++) {
        int pc = f->pcols[j] < 0 ? t->ncol : f->pcols[j];
        pv[j] = oldrow[pc];
        pv[j].owned = 0;
        anynull |= pv[j].type == SQL_NULL;
    }
    if (anynull) return SQL_OK;
    int action = newrow ? f->on_update : f->on_delete;
    keyenc_buf self;
    sqli_keyenc_init(&self);
    if (f->child == t) sqli_key_for_table(v, &self, t, oldrow, t->rowid ? oldrow[t->ncol].u.i : 0);
    rowbuf keys = {0};
    int rc = SQL_OK;
    if (phase == 1 && (action == FK_RESTRICT || action == FK_NO_ACTION)) {
        rc = find_children(v, f, pv, &keys, 1, f->child == t ? self.p : NULL, self.len);
        if (rc == SQL_OK && keys.n) {
            if (action == FK_RESTRICT)
                rc = fk_error(v, f);
            else
                add_pending(v, f, pv);
        }
    } else if (phase == 2 && action != FK_RESTRICT && action != FK_NO_ACTION) {
        rc = find_children(v, f, pv, &keys, 0, NULL, 0);
        for (size_t i = 0; i < keys.n && rc == SQL_OK; i++) {
            const uint8_t *k;
            size_t kl;
            sqli_rowbuf_row(&keys, i, NULL, &k, &kl);
            rc = apply_action(v, f, action, k, kl, newrow);
        }
    }
    sqli_rowbuf_clear(&keys);
    sqli_keyenc_free(&self);
    return rc;
}

int sqli_fk_parent_actions(vm *v, table *t, const sql_value *oldrow, const sql_value *newrow,
                           int phase) {
    for (fkey *f = t->refs; f; f = f->next_in_parent) {
        if (f->parent != t) continue;
        int rc = parent_change(v, t, f, oldrow, newrow, phase);
        if (rc != SQL_OK) return rc;
    }
    return SQL_OK;
}
