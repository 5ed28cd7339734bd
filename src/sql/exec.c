/* sql/exec.c — running query plans: cursors, loops (scans and key searches),
 * nested-loop joins, query blocks (streamed, sorted, grouped), compound
 * queries, and the row buffer used for sorting and materializing.
 *
 * Key ranges. A loop with equalities on the first neq key columns and a
 * range on the next one walks the keys in [lo, hi) (hi exclusive), built
 * from encoded values (keyenc.h):
 *   prefix P = the encoded equal values
 *   an exclusive lower bound v: P enc(v) FF  (FF sorts after every key that
 *     continues with v's component, and before v + fraction's)
 *   an inclusive upper bound v: P enc(v) FF; exclusive: P enc(v)
 *   no bound: P FF as the end of the block of keys starting with P
 * A missing lower bound on a range excludes NULLs (SQL comparisons never
 * match them): "> NULL". For a DESC column the value bounds swap sides.
 *
 * Invariants:
 *   1. A cursor's row (rec/key and values borrowed from them) is valid until
 *      its loop advances; anything kept longer is copied (rowbuf, groups).
 *   2. A loop reports a row only when it lies in [lo, hi): bounds are checked
 *      before the row is used.
 *   3. LEFT JOIN: a loop that found no row matching its ON terms for the
 *      current outer row yields one NULL row, once.
 *   4. A query block's output values (p->out) are owned by the block or
 *      borrowed from its row buffer; they are released before the next row.
 */
#include "sql/fts.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const sql_value null_value = {.type = SQL_NULL};

/* ---- row buffer ------------------------------------------------------------------------- */

typedef struct rowhdr {
    uint32_t klen, ncol;
} rowhdr;

static size_t align8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

void sqli_rowbuf_add(rowbuf *b, const uint8_t *key, size_t klen, const sql_value *vals, int n) {
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        if (vals[i].type == SQL_TEXT || vals[i].type == SQL_BLOB) bytes += vals[i].n;
    size_t off_vals = sizeof(rowhdr) + align8(klen);
    uint8_t *r = xmalloc(off_vals + sizeof(sql_value) * (size_t)n + bytes);
    rowhdr *h = (rowhdr *)r;
    h->klen = (uint32_t)klen;
    h->ncol = (uint32_t)n;
    if (klen) memcpy(r + sizeof(rowhdr), key, klen);
    sql_value *vv = (sql_value *)(r + off_vals);
    char *data = (char *)(vv + n);
    for (int i = 0; i < n; i++) {
        vv[i] = vals[i];
        vv[i].owned = 0;
        if (vals[i].type == SQL_TEXT || vals[i].type == SQL_BLOB) {
            if (vals[i].n) memcpy(data, vals[i].z, vals[i].n);
            vv[i].z = data;
            data += vals[i].n;
        }
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->rows = xrealloc(b->rows, sizeof *b->rows * b->cap);
    }
    b->rows[b->n++] = r;
}

void sqli_rowbuf_row(const rowbuf *b, size_t i, const sql_value **vals, const uint8_t **key,
                     size_t *klen) {
    uint8_t *r = b->rows[i];
    rowhdr *h = (rowhdr *)r;
    if (key) *key = r + sizeof(rowhdr);
    if (klen) *klen = h->klen;
    if (vals) *vals = (const sql_value *)(r + sizeof(rowhdr) + align8(h->klen));
}

int sqli_rowbuf_ncols(const rowbuf *b, size_t i) {
    return (int)((const rowhdr *)b->rows[i])->ncol;
}

static int row_cmp(const void *a, const void *b) {
    const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
    const rowhdr *hx = (const rowhdr *)x, *hy = (const rowhdr *)y;
    size_t n = hx->klen < hy->klen ? hx->klen : hy->klen;
    int c = n ? memcmp(x + sizeof(rowhdr), y + sizeof(rowhdr), n) : 0;
    if (c) return c;
    return hx->klen < hy->klen ? -1 : hx->klen > hy->klen;
}

void sqli_rowbuf_sort(rowbuf *b) {
    if (b->n > 1) qsort(b->rows, b->n, sizeof *b->rows, row_cmp);
}

void sqli_rowbuf_clear(rowbuf *b) {
    for (size_t i = 0; i < b->n; i++) xfree(b->rows[i]);
    xfree(b->rows);
    b->rows = NULL;
    b->n = b->cap = 0;
}

/* ---- cursors ----------------------------------------------------------------------------- */

cursor *sqli_vm_cursor(vm *v, int cur) {
    assert(cur >= 0);
    if (cur >= v->ncur) {
        int n = v->st->comp.ncur > cur ? v->st->comp.ncur : cur + 1;
        v->curs = xrealloc(v->curs, sizeof *v->curs * (size_t)n);
        for (int i = v->ncur; i < n; i++) v->curs[i] = NULL;
        v->ncur = n;
    }
    cursor *c = v->curs[cur];
    if (!c) {
        c = xcalloc(1, sizeof *c);
        curdef *d = &v->st->comp.curs[cur];
        c->tab = d->tab;
        c->ncol = d->ncol;
        c->vals = xcalloc((size_t)c->ncol + 1, sizeof *c->vals);
        for (int i = 0; i <= c->ncol; i++) val_set_null(&c->vals[i]);
        sqli_keyenc_init(&c->kb);
        v->curs[cur] = c;
    }
    return c;
}

static void cur_release_vals(cursor *c) {
    for (int i = 0; i <= c->ncol; i++)
        if (c->vals[i].owned) val_free(&c->vals[i]);
}

void sqli_vm_close_row_cursors(vm *v) {
    for (int i = 0; i < 4; i++) {
        if (v->rowcur[i]) sqli_store_cursor_close(v->rowcur[i]);
        v->rowcur[i] = NULL;
        v->rowtree[i] = 0;
    }
}

void sqli_vm_close_cursors(vm *v) {
    sqli_vm_close_row_cursors(v);
    for (int i = 0; i < v->ncur; i++) {
        cursor *c = v->curs[i];
        if (!c) continue;
        if (c->sc) sqli_store_cursor_close(c->sc);
        if (c->tc) sqli_store_cursor_close(c->tc);
        cur_release_vals(c);
        xfree(c->vals);
        sqli_keyenc_free(&c->kb);
        xfree(c);
        v->curs[i] = NULL;
    }
}

int sqli_row_decode(vm *v, table *t, const uint8_t *rec, size_t len, sql_value *out) {
    int short_from;
    if (sqli_rec_decode(rec, len, t->ncol, out, &short_from) != 0)
        return sqli_vm_error(v, SQL_CORRUPT, "malformed row in table %s", t->name);
    for (int i = short_from; i < t->ncol; i++) { /* columns added by ALTER TABLE */
        if (t->cols[i].dflt_const)
            val_ref(&out[i], &t->cols[i].dflt_val);
        else
            val_set_null(&out[i]);
    }
    return SQL_OK;
}

static int decode_rowid(cursor *c) {
    size_t pos = 0;
    sql_value kv;
    if (sqli_key_get(c->key, c->klen, &pos, 0, &kv) != 0 || kv.type != SQL_INTEGER) return -1;
    c->vals[c->ncol] = kv;
    return 0;
}

int sqli_cur_load_key(vm *v, cursor *c) {
    return c->key ? SQL_OK : sqli_vm_error(v, SQL_MISUSE, "cursor has no row");
}

const sql_value *sqli_cur_col(vm *v, cursor *c, int col) {
    if (c->pseudo) return col < 0 && c->norowid ? &null_value : &c->pseudo[col < 0 ? c->ncol : col];
    if (c->state == ROW_FTS && sqli_fts_load_row(v, c) != SQL_OK) return &null_value;
    if (c->state == ROW_LAZY) {
        cur_release_vals(c);
        if (sqli_row_decode(v, c->tab, c->rec, c->reclen, c->vals) != SQL_OK) return &null_value;
        if (c->tab->rowid && decode_rowid(c) != 0) return &null_value;
        c->state = ROW_READY;
    }
    if (c->state != ROW_READY) return &null_value;
    return &c->vals[col < 0 ? c->ncol : col];
}

/* ---- loops: bounds ----------------------------------------------------------------------------
 */

static void kb_copy(keyenc_buf *dst, const keyenc_buf *src) {
    sqli_keyenc_reset(dst);
    sqli_key_raw(dst, src->p, src->len);
}

static void kb_byte(keyenc_buf *b, uint8_t c) {
    sqli_key_raw(b, &c, 1);
}

static void build_bounds(loop *L) {
    index_t *x = L->idx;
    sqli_keyenc_reset(&L->k_lo);
    for (int k = 0; k < L->neq; k++) {
        const sql_value *val =
            L->in_term && k == L->in_term - 1 ? &L->in_vals[L->in_pos] : &L->eqv[k];
        sqli_key_add(&L->k_lo, val, x->desc[k]);
    }
    L->has_hi = L->hi_block = 0;
    if (L->onerow) return; /* sought with STORE_SEEK_EQ: no upper bound */
    if (!L->lo && !L->hi) {
        if (L->neq == 0) return;
        L->has_hi = 1;
        if (!L->reverse) { /* P FF, checked as "within P's block" (past_hi) */
            L->hi_block = 1;
            return;
        }
        kb_copy(&L->k_hi, &L->k_lo);
        kb_byte(&L->k_hi, 0xFF);
        return;
    }
    kb_copy(&L->k_hi, &L->k_lo);
    int desc = x->desc[L->neq];
    sql_value nullv = {.type = SQL_NULL};
    const sql_value *lov = L->lo ? &L->lov : &nullv, *hiv = L->hi ? &L->hiv : NULL;
    int lo_incl = L->lo ? L->lo_incl : 0, hi_incl = L->hi_incl;
    const sql_value *klo = desc ? hiv : lov, *khi = desc ? lov : hiv;
    int klo_incl = desc ? hi_incl : lo_incl, khi_incl = desc ? lo_incl : hi_incl;
    if (klo) {
        sqli_key_add(&L->k_lo, klo, desc);
        if (!klo_incl) kb_byte(&L->k_lo, 0xFF);
    }
    if (khi) {
        sqli_key_add(&L->k_hi, khi, desc);
        if (khi_incl) kb_byte(&L->k_hi, 0xFF);
        L->has_hi = 1;
    } else if (L->neq > 0) {
        kb_byte(&L->k_hi, 0xFF);
        L->has_hi = 1;
    }
}

static int keycmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

/* Is key k at or past the loop's upper bound? With hi_block the bound is
 * k_lo FF, the end of the block of keys that start with the prefix k_lo: a
 * key from the forward search for k_lo (so >= k_lo) is below it exactly
 * when it starts with k_lo and does not continue with FF (a fraction's mark,
 * keyenc.h), which is cheaper to check than building the bound. */
static int past_hi(const loop *L, const uint8_t *k, size_t kl) {
    if (!L->has_hi) return 0;
    if (!L->hi_block) return keycmp(k, kl, L->k_hi.p, L->k_hi.len) >= 0;
    size_t n = L->k_lo.len;
    return kl < n || memcmp(k, L->k_lo.p, n) != 0 || (kl > n && k[n] == 0xFF);
}

static int eval_key_value(vm *v, const expr *e, int aff, int is, sql_value *out, int *empty) {
    if (!e) {
        val_set_null(out);
        return SQL_OK;
    }
    int rc = sqli_ex_eval(v, e, out);
    if (rc != SQL_OK) return rc;
    if (out->type == SQL_NULL && !is) *empty = 1;
    sqli_val_apply_aff(out, aff);
    sqli_val_own(out);
    return SQL_OK;
}

static int in_cmp(const void *a, const void *b) {
    return sqli_val_cmp((const sql_value *)a, (const sql_value *)b);
}

/* The values of IN (SELECT ...) into L->in_vals. */
static int eval_in_select(vm *v, loop *L, int aff) {
    const expr *e = L->in_expr;
    qplan *p = e->sub->plan;
    int cap = 16, rc = sqli_q_open(v, p);
    L->in_vals = xrealloc(L->in_vals, sizeof(sql_value) * (size_t)cap);
    while (rc == SQL_OK && (rc = sqli_q_next(v, p)) == SQL_ROW) {
        rc = SQL_OK;
        if (p->out[0].type == SQL_NULL) continue;
        if (L->in_n == cap)
            L->in_vals = xrealloc(L->in_vals, sizeof(sql_value) * (size_t)(cap *= 2));
        sql_value *o = &L->in_vals[L->in_n++];
        sqli_val_copy(o, &p->out[0]);
        sqli_val_apply_aff(o, aff);
    }
    sqli_q_close(v, p);
    return rc == SQL_DONE ? SQL_OK : rc;
}

/* Are the values of IN list e the same on every open of its loop within one
 * run of the statement (literals and parameters)? */
static int in_list_fixed(const expr *e) {
    if (e->op != E_IN_LIST) return 0;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->op != E_LIT && e->args[i]->op != E_PARAM) return 0;
    return 1;
}

static int eval_in_list(vm *v, loop *L, int *empty) {
    const expr *e = L->in_expr;
    if (L->in_fixed) { /* evaluated, sorted and deduplicated by an earlier open */
        L->in_pos = L->reverse ? L->in_n - 1 : 0;
        if (L->in_n == 0) *empty = 1;
        return SQL_OK;
    }
    for (int i = 0; i < L->in_n; i++) val_free(&L->in_vals[i]);
    L->in_n = 0;
    int aff = L->eqaff[L->in_term - 1];
    if (e->op == E_IN_SEL) {
        const query *q = e->sub;
        while (q->op != SEL_SIMPLE) q = q->left;
        int rc = eval_in_select(v, L, sqli_cmp_affinity(e->l, q->cols[0].e));
        if (rc != SQL_OK) return rc;
    } else {
        L->in_vals = xrealloc(L->in_vals, sizeof(sql_value) * (size_t)(e->nargs + 1));
    }
    for (int i = 0; e->op == E_IN_LIST && i < e->nargs; i++) {
        sql_value *o = &L->in_vals[L->in_n];
        int rc = sqli_ex_eval(v, e->args[i], o);
        if (rc != SQL_OK) return rc;
        if (o->type == SQL_NULL) continue;
        sqli_val_apply_aff(
            o, sqli_cmp_affinity(e->l, e->args[i]) ? sqli_cmp_affinity(e->l, e->args[i]) : aff);
        sqli_val_own(o);
        L->in_n++;
    }
    qsort(L->in_vals, (size_t)L->in_n, sizeof(sql_value), in_cmp);
    int w = 0;
    for (int i = 0; i < L->in_n; i++) {
        if (w && sqli_val_cmp(&L->in_vals[w - 1], &L->in_vals[i]) == 0) {
            val_free(&L->in_vals[i]);
            continue;
        }
        L->in_vals[w++] = L->in_vals[i];
    }
    L->in_n = w;
    L->in_pos = L->reverse ? w - 1 : 0;
    L->in_fixed = in_list_fixed(e);
    if (w == 0) *empty = 1;
    return SQL_OK;
}

static int loop_eval_keys(vm *v, loop *L, int *empty) {
    int rc = SQL_OK;
    *empty = 0;
    if (!L->eqv && L->neq) {
        L->eqv = xcalloc((size_t)L->neq, sizeof *L->eqv);
    }
    for (int k = 0; k < L->neq && rc == SQL_OK; k++) {
        val_free(&L->eqv[k]);
        if (L->in_term && k == L->in_term - 1) continue;
        rc = eval_key_value(v, L->eq[k], L->eqaff[k], L->eqis[k], &L->eqv[k], empty);
    }
    val_free(&L->lov);
    val_free(&L->hiv);
    if (rc == SQL_OK && L->lo) rc = eval_key_value(v, L->lo, L->range_aff, 0, &L->lov, empty);
    if (rc == SQL_OK && L->hi) rc = eval_key_value(v, L->hi, L->range_aff, 0, &L->hiv, empty);
    if (rc == SQL_OK && L->in_term) rc = eval_in_list(v, L, empty);
    return rc;
}

/* For a plan that is one search by every column of the primary key with
 * nothing else to check (UPDATE/DELETE ... WHERE pk = ?), the table key of
 * the row it names, without searching: returns 1 and the key in out (or
 * *empty when a key value is NULL), 0 when the plan is not of that kind.
 * The plan must be open (sqli_q_open). */
int sqli_q_exact_pk(vm *v, qplan *p, keyenc_buf *out, int *empty, int *rc) {
    *rc = SQL_OK;
    if (p->nloop != 1 || p->ncf) return 0;
    loop *L = &p->loops[0];
    if (L->access != ACC_SEARCH || !L->idx->is_pk || L->neq != L->idx->ncol || L->in_term ||
        L->lo || L->hi || L->nfilter || L->non)
        return 0;
    *rc = loop_eval_keys(v, L, empty);
    if (*rc != SQL_OK || *empty) return 1;
    sqli_keyenc_reset(out);
    for (int k = 0; k < L->neq; k++) sqli_key_add(out, &L->eqv[k], L->idx->desc[k]);
    return 1;
}

/* ---- loops: opening and stepping ----------------------------------------------------------- */

static int ensure_store_cursor(vm *v, store_cursor **sc, store_tree *have, store_tree want) {
    if (*sc && *have == want) return SQL_OK;
    if (*sc) sqli_store_cursor_close(*sc);
    *sc = NULL;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, want), sqli_tree_id(want), sc);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    *have = want;
    return SQL_OK;
}

static int materialize_sub(vm *v, loop *L) {
    if (L->mat_done) return SQL_OK;
    if (!L->mat) L->mat = xcalloc(1, sizeof *L->mat);
    sqli_rowbuf_clear(L->mat);
    int rc = sqli_q_open(v, L->sub);
    while (rc == SQL_OK && (rc = sqli_q_next(v, L->sub)) == SQL_ROW) {
        sqli_rowbuf_add(L->mat, NULL, 0, L->sub->out, L->sub->ncol);
        rc = SQL_OK;
    }
    sqli_q_close(v, L->sub);
    if (rc != SQL_DONE && rc != SQL_OK) return rc;
    L->mat_done = 1;
    return SQL_OK;
}

static int all_true(vm *v, expr **f, int n, int *ok);

/* One scan of the table: every row passing the loop's build filters goes
 * into L->mat (its table key and record), chained under its hash key. */
static int hash_build(vm *v, loop *L, cursor *c) {
    if (!L->mat) L->mat = xcalloc(1, sizeof *L->mat);
    if (!L->hmap) L->hmap = xcalloc(1, sizeof *L->hmap);
    sqli_rowbuf_clear(L->mat);
    sqli_bmap_clear(L->hmap);
    size_t cap = 0;
    int rc = ensure_store_cursor(v, &c->sc, &c->sc_tree, L->idx->tree);
    if (rc != SQL_OK) return rc;
    usage_stat *u = sqli_usage(v->db, L->idx);
    sqli_usage_scan(v->db, L->idx);
    int src = sqli_store_cursor_seek(c->sc, STORE_SEEK_FIRST, NULL, 0);
    while (src == STORE_OK) {
        const void *k, *val;
        size_t kl, vl;
        src = sqli_store_cursor_key(c->sc, &k, &kl);
        if (src == STORE_OK) src = sqli_store_cursor_value(c->sc, &val, &vl);
        if (src != STORE_OK) break;
        c->key = k, c->klen = kl, c->rec = val, c->reclen = vl, c->state = ROW_LAZY;
        u->rows_read++;
        int ok;
        if ((rc = all_true(v, L->hfilters, L->nhfilter, &ok)) != SQL_OK) return rc;
        if (ok) {
            sqli_keyenc_reset(&L->k_lo);
            for (int i = 0; i < L->neq; i++)
                sqli_key_add(&L->k_lo, sqli_cur_col(v, c, L->hcol[i]), 0);
            sql_value rec;
            val_set_blob_ref(&rec, val, vl);
            sqli_rowbuf_add(L->mat, k, kl, &rec, 1);
            if (L->mat->n > cap) {
                cap = cap ? cap * 2 : 64;
                L->hnext = xrealloc(L->hnext, sizeof *L->hnext * cap);
            }
            bmap_ent *e = sqli_bmap_get(L->hmap, L->k_lo.p, L->k_lo.len, 1, NULL);
            L->hnext[L->mat->n - 1] = (size_t)(uintptr_t)e->v;
            e->v = (void *)(uintptr_t)L->mat->n;
        }
        src = sqli_store_cursor_next(c->sc);
    }
    c->state = ROW_NONE;
    if (src != STORE_NOTFOUND) return sqli_vm_store_error(v, src);
    L->mat_done = 1;
    return SQL_OK;
}

/* Open a hash loop: build on first use, then find this open's key. */
static int hash_open(vm *v, loop *L, cursor *c) {
    int rc = L->mat_done ? SQL_OK : hash_build(v, L, c), empty;
    if (rc == SQL_OK) rc = loop_eval_keys(v, L, &empty);
    if (rc != SQL_OK) return rc;
    if (empty) {
        L->exhausted = 1;
        return SQL_OK;
    }
    sqli_keyenc_reset(&L->k_lo);
    for (int i = 0; i < L->neq; i++) sqli_key_add(&L->k_lo, &L->eqv[i], 0);
    bmap_ent *e = sqli_bmap_get(L->hmap, L->k_lo.p, L->k_lo.len, 0, NULL);
    L->ephem_pos = e ? (size_t)(uintptr_t)e->v : 0;
    return SQL_OK;
}

/* A table-valued function: its arguments now (they may read outer rows),
 * then all its rows. */
static int tvf_open(vm *v, loop *L) {
    const expr *fa = L->src->fargs;
    sql_value args[2];
    int rc = SQL_OK, n = 0;
    val_set_null(&args[0]);
    val_set_null(&args[1]);
    if (!L->mat) L->mat = xcalloc(1, sizeof *L->mat);
    sqli_rowbuf_clear(L->mat);
    for (; n < fa->nargs && rc == SQL_OK; n++) rc = sqli_ex_eval(v, fa->args[n], &args[n]);
    if (rc == SQL_OK) rc = sqli_json_tvf_rows(v, L->src->tvf == TVF_JSON_TREE, args, n, L->mat);
    val_free(&args[0]);
    val_free(&args[1]);
    return rc;
}

static int loop_open(vm *v, loop *L) {
    cursor *c = sqli_vm_cursor(v, L->cur);
    L->st_loops++;
    c->pseudo = NULL;
    c->state = ROW_NONE;
    L->exhausted = L->matched = L->null_done = L->seeked = 0;
    L->ephem_pos = 0;
    switch (L->access) {
    case ACC_EPHEM:
        return L->stream ? sqli_q_open(v, L->sub) : materialize_sub(v, L);
    case ACC_QUEUE: /* the recursive CTE set L->mat to the row being expanded */
        return SQL_OK;
    case ACC_SCHEMA:
        if (!L->mat) L->mat = xcalloc(1, sizeof *L->mat);
        sqli_rowbuf_clear(L->mat);
        if (L->tab->is_schema == SYS_STAT_INDEXES) return sqli_usage_rows(v, L->mat);
        return sqli_schema_rows(v, L->mat, L->tab->is_schema == SYS_TEMP_SCHEMA);
    case ACC_HASH:
        return hash_open(v, L, c);
    case ACC_FUNC:
        return tvf_open(v, L);
    case ACC_FTS:
        return sqli_fts_open(v, L, c);
    default:
        break;
    }
    sqli_usage_scan(v->db, L->idx);
    int rc = ensure_store_cursor(v, &c->sc, &c->sc_tree, L->idx->tree);
    if (rc == SQL_OK && !L->idx->is_pk && !L->covering)
        rc = ensure_store_cursor(v, &c->tc, &c->tc_tree, L->tab->tree);
    if (rc != SQL_OK) return rc;
    if (L->access == ACC_SEARCH) {
        int empty;
        rc = loop_eval_keys(v, L, &empty);
        if (rc != SQL_OK) return rc;
        if (empty) {
            L->exhausted = 1;
            return SQL_OK;
        }
        build_bounds(L);
    } else {
        sqli_keyenc_reset(&L->k_lo);
        L->has_hi = 0;
    }
    return SQL_OK;
}

/* A covering index entry: the row's values come from the index key, the
 * table key (c->key) and the INCLUDE record (the value). */
static int load_covering(vm *v, loop *L, cursor *c, const uint8_t *k, size_t kl, const void *val,
                         size_t vl) {
    index_t *x = L->idx;
    table *t = L->tab;
    size_t pos = 0;
    cur_release_vals(c);
    for (int i = 0; i <= c->ncol; i++) val_set_null(&c->vals[i]);
    for (int i = 0; i < x->ncol; i++) {
        int col = x->cols[i];
        if (sqli_key_get(k, kl, &pos, x->desc[i], &c->vals[col < 0 ? t->ncol : col]) != 0)
            return sqli_vm_error(v, SQL_CORRUPT, "malformed key in index %s", x->name);
    }
    size_t tpos = 0;
    for (int i = 0; i < t->pk.ncol; i++) {
        int col = t->pk.cols[i];
        sql_value *dst = &c->vals[col < 0 ? t->ncol : col];
        val_free(dst);
        if (sqli_key_get(c->key, c->klen, &tpos, t->pk.desc[i], dst) != 0)
            return sqli_vm_error(v, SQL_CORRUPT, "malformed key in index %s", x->name);
    }
    for (int i = 0; i < x->ninc; i++) {
        sql_value tmp;
        if (sqli_rec_column(val, vl, i, &tmp) < 0)
            return sqli_vm_error(v, SQL_CORRUPT, "malformed entry in index %s", x->name);
        c->vals[x->inc[i]] = tmp;
    }
    /* affinity of the columns: keys give 2 for 2.0 */
    for (int i = 0; i < t->ncol; i++)
        if (t->cols[i].aff == AFF_REAL && c->vals[i].type == SQL_INTEGER)
            sqli_val_apply_aff(&c->vals[i], AFF_REAL);
    c->state = ROW_READY;
    return SQL_OK;
}

/* Fill the cursor from the entry under c->sc. */
static int load_entry(vm *v, loop *L, cursor *c) {
    if (L->nocols) { /* nothing to decode, not even the table key: the row only counts */
        c->key = NULL;
        c->klen = 0;
        c->state = ROW_READY;
        return SQL_OK;
    }
    const void *k, *val;
    size_t kl, vl;
    int rc = sqli_store_cursor_key(c->sc, &k, &kl);
    if (rc == STORE_OK) rc = sqli_store_cursor_value(c->sc, &val, &vl);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    if (L->idx->is_pk) {
        c->key = k;
        c->klen = kl;
        c->rec = val;
        c->reclen = vl;
        c->state = ROW_LAZY;
        return SQL_OK;
    }
    index_t *x = L->idx;
    size_t pos = 0;
    for (int i = 0; i < x->ncol; i++)
        if (sqli_keyenc_skip(k, kl, &pos) != 0)
            return sqli_vm_error(v, SQL_CORRUPT, "malformed key in index %s", x->name);
    c->key = (const uint8_t *)k + pos;
    c->klen = kl - pos;
    if (c->klen == 0) { /* a unique index's short entry: the table key is the value */
        c->key = val;
        c->klen = vl;
    }
    if (!L->covering) {
        rc = sqli_store_cursor_seek(c->tc, STORE_SEEK_EQ, c->key, c->klen);
        if (rc == STORE_OK) rc = sqli_store_cursor_value(c->tc, &val, &vl);
        if (rc == STORE_NOTFOUND)
            return sqli_vm_error(v, SQL_CORRUPT, "index %s names a missing row", x->name);
        if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        c->key = NULL;
        sqli_store_cursor_key(c->tc, (const void **)&c->key, &c->klen);
        c->rec = val;
        c->reclen = vl;
        c->state = ROW_LAZY;
        return SQL_OK;
    }
    return load_covering(v, L, c, k, kl, val, vl);
}

static int next_in_value(vm *v, loop *L) {
    if (!L->in_term) return 0;
    if (L->reverse ? --L->in_pos < 0 : ++L->in_pos >= L->in_n) return 0;
    build_bounds(L);
    L->seeked = 0;
    return 1;
}

/* Position on the next row of a tree loop: SQL_ROW or SQL_DONE. */
static int tree_step(vm *v, loop *L, cursor *c) {
    for (;;) {
        int rc;
        if (!L->seeked) {
            L->seeked = 1;
            if (L->onerow) { /* k_lo is the whole key */
                rc = sqli_store_cursor_seek(c->sc, STORE_SEEK_EQ, L->k_lo.p, L->k_lo.len);
                if (rc == STORE_OK) {
                    sqli_usage(v->db, L->idx)->rows_read++;
                    return load_entry(v, L, c) == SQL_OK ? SQL_ROW : SQL_ERROR;
                }
                if (rc != STORE_NOTFOUND) return sqli_vm_store_error(v, rc);
                if (!next_in_value(v, L)) return SQL_DONE;
                continue;
            }
            if (!L->reverse) {
                rc = L->k_lo.len
                         ? sqli_store_cursor_seek(c->sc, STORE_SEEK_GE, L->k_lo.p, L->k_lo.len)
                         : sqli_store_cursor_seek(c->sc, STORE_SEEK_FIRST, NULL, 0);
            } else {
                rc = L->has_hi
                         ? sqli_store_cursor_seek(c->sc, STORE_SEEK_LT, L->k_hi.p, L->k_hi.len)
                         : sqli_store_cursor_seek(c->sc, STORE_SEEK_LAST, NULL, 0);
            }
        } else if (L->onerow) {
            rc = STORE_NOTFOUND; /* the key's one row was delivered: no step to look further */
        } else {
            rc = L->reverse ? sqli_store_cursor_prev(c->sc) : sqli_store_cursor_next(c->sc);
        }
        if (rc == STORE_OK) {
            const void *k;
            size_t kl;
            rc = sqli_store_cursor_key(c->sc, &k, &kl);
            if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
            int out = L->reverse ? (L->k_lo.len && keycmp(k, kl, L->k_lo.p, L->k_lo.len) < 0)
                                 : past_hi(L, k, kl);
            if (!out) {
                sqli_usage(v->db, L->idx)->rows_read++;
                return load_entry(v, L, c) == SQL_OK ? SQL_ROW : SQL_ERROR;
            }
        } else if (rc != STORE_NOTFOUND) {
            return sqli_vm_store_error(v, rc);
        }
        if (!next_in_value(v, L)) return SQL_DONE;
    }
}

/* The progress handler's count: one per row a loop visits. */
static int progress_tick(vm *v) {
    sql_db *db = v->db;
    if (--db->progress_left > 0) return SQL_OK;
    db->progress_left = db->progress_n;
    return db->progress(db->progress_ctx) ? sqli_vm_error(v, SQL_INTERRUPT, "interrupted") : SQL_OK;
}

static int loop_step(vm *v, loop *L) {
    cursor *c = sqli_vm_cursor(v, L->cur);
    if (L->exhausted) return SQL_DONE;
    int rc;
    if (v->db->progress && (rc = progress_tick(v)) != SQL_OK) return rc;
    switch (L->access) {
    case ACC_ONE:
        rc = L->ephem_pos++ == 0 ? SQL_ROW : SQL_DONE;
        break;
    case ACC_EPHEM:
        if (L->stream) {
            rc = sqli_q_next(v, L->sub);
            if (rc != SQL_ROW) break;
            c->pseudo = L->sub->out;
            c->norowid = 1;
            c->state = ROW_READY;
            break;
        }
        /* fall through */
    case ACC_SCHEMA:
    case ACC_QUEUE:
    case ACC_FUNC:
        if (!L->mat || L->ephem_pos >= L->mat->n) {
            rc = SQL_DONE;
            break;
        }
        {
            const sql_value *vals;
            sqli_rowbuf_row(L->mat, L->ephem_pos++, &vals, NULL, NULL);
            c->pseudo = (sql_value *)vals;
            c->norowid = 1;
            c->state = ROW_READY;
        }
        rc = SQL_ROW;
        break;
    case ACC_HASH:
        if (!L->ephem_pos) {
            rc = SQL_DONE;
            break;
        }
        {
            size_t r = L->ephem_pos - 1;
            const sql_value *vals;
            L->ephem_pos = L->hnext[r];
            sqli_rowbuf_row(L->mat, r, &vals, &c->key, &c->klen);
            c->rec = (const uint8_t *)vals[0].z;
            c->reclen = vals[0].n;
            c->state = ROW_LAZY;
        }
        rc = SQL_ROW;
        break;
    case ACC_FTS:
        rc = sqli_fts_step(v, L, c);
        break;
    default:
        rc = tree_step(v, L, c);
        break;
    }
    if (rc == SQL_DONE) {
        L->exhausted = 1;
        c->state = ROW_NONE;
        c->pseudo = NULL;
    }
    return rc;
}

static int all_true(vm *v, expr **f, int n, int *ok) {
    *ok = 1;
    for (int i = 0; i < n; i++) {
        int t;
        int rc = sqli_ex_truth(v, f[i], &t);
        if (rc != SQL_OK) return rc;
        if (t != 1) {
            *ok = 0;
            return SQL_OK;
        }
    }
    return SQL_OK;
}

static void set_null_row(vm *v, loop *L) {
    cursor *c = sqli_vm_cursor(v, L->cur);
    c->pseudo = NULL;
    c->state = ROW_NULL;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* EXPLAIN ANALYZE: the time since *t goes to loop L. */
static inline void charge(vm *v, loop *L, uint64_t *t) {
    if (!v->analyze) return;
    uint64_t n = now_ns();
    L->st_ns += n - *t;
    *t = n;
}

/* The next combination of loop rows passing every filter. Every stretch of
 * work is charged to the loop it was done for (charge). */
int sqli_nl_next(vm *v, qplan *p) {
    int i, rc, ok;
    uint64_t t = v->analyze ? now_ns() : 0;
    if (!p->started) {
        p->started = 1;
        rc = all_true(v, p->cfilters, p->ncf, &ok);
        if (rc != SQL_OK) return rc;
        if (!ok) return SQL_DONE;
        i = 0;
        rc = loop_open(v, &p->loops[0]);
        charge(v, &p->loops[0], &t);
        if (rc != SQL_OK) return rc;
    } else {
        i = p->level;
    }
    for (;;) {
        loop *L = &p->loops[i];
        rc = L->nullrow ? SQL_DONE : loop_step(v, L);
        if (rc == SQL_ROW) {
            if ((rc = all_true(v, L->onf, L->non, &ok)) != SQL_OK) return rc;
            if (!ok) {
                charge(v, L, &t);
                continue;
            }
            L->matched = 1;
        } else if (rc == SQL_DONE) {
            L->nullrow = 0;
            if (!(L->left && !L->matched && !L->null_done)) {
                charge(v, L, &t);
                if (i == 0) return SQL_DONE;
                i--;
                continue;
            }
            L->null_done = 1;
            L->nullrow = 1;
            set_null_row(v, L);
        } else {
            return rc;
        }
        if ((rc = all_true(v, L->filters, L->nfilter, &ok)) != SQL_OK) return rc;
        charge(v, L, &t);
        if (!ok) continue;
        L->st_rows++;
        if (i == p->nloop - 1) {
            p->level = i;
            return SQL_ROW;
        }
        i++;
        p->loops[i].nullrow = 0;
        rc = loop_open(v, &p->loops[i]);
        charge(v, &p->loops[i], &t);
        if (rc != SQL_OK) return rc;
    }
}

/* ---- query blocks -------------------------------------------------------------------------- */

static void free_out(qplan *p) {
    for (int i = 0; i < p->ncol; i++) val_free(&p->out[i]);
}

static int eval_int_expr(vm *v, const expr *e, int64_t *out, int64_t dflt) {
    *out = dflt;
    if (!e) return SQL_OK;
    sql_value x;
    int rc = sqli_ex_eval(v, e, &x);
    if (rc != SQL_OK) return rc;
    sqli_val_apply_aff(&x, AFF_NUMERIC);
    if (x.type != SQL_INTEGER) {
        int null = x.type == SQL_NULL;
        val_free(&x);
        if (null) return SQL_OK;
        return sqli_vm_error(v, SQL_ERROR, "datatype mismatch: LIMIT and OFFSET need integers");
    }
    *out = x.u.i;
    return SQL_OK;
}

static void reset_loops(qplan *p) {
    for (int d = 0; d < p->nloop; d++) {
        p->loops[d].nullrow = 0;
        p->loops[d].exhausted = 0;
        p->loops[d].mat_done = 0;
        p->loops[d].in_fixed = 0;
    }
}

int sqli_q_open(vm *v, qplan *p) {
    free_out(p);
    sqli_rowbuf_clear(&p->rb);
    sqli_bmap_clear(&p->dset);
    p->rbpos = 0;
    p->phase = 0;
    p->started = 0;
    p->level = 0;
    p->values_pos = 0;
    p->nemit = 0;
    p->seq = 0;
    if (p->rset) sqli_bmap_clear(p->rset);
    sqli_cte_close(p);
    reset_loops(p);
    int rc = eval_int_expr(v, p->limit, &p->lim, -1);
    if (rc == SQL_OK) rc = eval_int_expr(v, p->offset, &p->off, 0);
    if (p->lim < 0) p->lim = -1;
    if (p->off < 0) p->off = 0;
    if (rc == SQL_OK && p->op != SEL_SIMPLE && !p->rec_loop) {
        rc = sqli_q_open(v, p->left);
        if (rc == SQL_OK) rc = sqli_q_open(v, p->right);
    }
    return rc;
}

void sqli_q_close(vm *v, qplan *p) {
    free_out(p);
    sqli_rowbuf_clear(&p->rb);
    sqli_bmap_clear(&p->dset);
    for (int d = 0; d < p->nloop; d++) {
        loop *L = &p->loops[d];
        if (L->mat && L->access != ACC_QUEUE) { /* the queue's row is the CTE's */
            sqli_rowbuf_clear(L->mat);
            xfree(L->mat);
            L->mat = NULL;
        }
        L->mat_done = 0;
        if (L->hmap) {
            sqli_bmap_clear(L->hmap);
            xfree(L->hmap);
            L->hmap = NULL;
        }
        xfree(L->hnext);
        L->hnext = NULL;
        for (int k = 0; L->eqv && k < L->neq; k++) val_free(&L->eqv[k]);
        xfree(L->eqv);
        L->eqv = NULL;
        for (int k = 0; k < L->in_n; k++) val_free(&L->in_vals[k]);
        xfree(L->in_vals);
        L->in_vals = NULL;
        L->in_n = 0;
        L->in_fixed = 0;
        val_free(&L->lov);
        val_free(&L->hiv);
        sqli_keyenc_free(&L->k_lo);
        sqli_keyenc_free(&L->k_hi);
        cursor *c = v->curs && L->cur < v->ncur ? v->curs[L->cur] : NULL;
        if (c) c->pseudo = NULL, c->state = ROW_NONE;
        if (L->fts) sqli_fts_close(v, L);
        if (L->sub) sqli_q_close(v, L->sub);
    }
    if (p->rset) {
        sqli_bmap_clear(p->rset);
        xfree(p->rset);
        p->rset = NULL;
    }
    sqli_cte_close(p);
    sqli_win_close(p);
    if (p->op != SEL_SIMPLE) {
        sqli_q_close(v, p->left);
        sqli_q_close(v, p->right);
    }
}

int sqli_q_values_row(vm *v, qplan *p, int r) {
    expr **row = p->q->values[r];
    free_out(p);
    for (int k = 0; k < p->ncol; k++) {
        if (row[k]->op == E_DEFAULT) continue; /* INSERT supplies the column default */
        int rc = sqli_ex_eval(v, row[k], &p->out[k]);
        if (rc != SQL_OK) return rc;
    }
    return SQL_OK;
}

/* The next input row of a simple block (VALUES, no FROM, or loops). */
static int block_next(vm *v, qplan *p) {
    if (p->values_rows) {
        if (p->values_pos >= p->values_rows) return SQL_DONE;
        int rc = sqli_q_values_row(v, p, p->values_pos++);
        return rc == SQL_OK ? SQL_ROW : rc;
    }
    if (p->nloop == 0) {
        if (p->started) return SQL_DONE;
        p->started = 1;
        int ok, rc = all_true(v, p->cfilters, p->ncf, &ok);
        if (rc != SQL_OK) return rc;
        return ok ? SQL_ROW : SQL_DONE;
    }
    return sqli_nl_next(v, p);
}

static int eval_out(vm *v, qplan *p) {
    if (p->values_rows) return SQL_OK; /* block_next filled it */
    free_out(p);
    for (int i = 0; i < p->ncol; i++) {
        int rc = sqli_ex_eval(v, p->res[i], &p->out[i]);
        if (rc != SQL_OK) return rc;
    }
    return SQL_OK;
}

static void row_key(keyenc_buf *k, const sql_value *vals, int n) {
    sqli_keyenc_reset(k);
    for (int i = 0; i < n; i++) sqli_key_add(k, &vals[i], 0);
}

/* 1 if the output row was seen before (and remembers it); NOCASE result
 * columns compare folded. */
static int seen_before(vm *v, qplan *p) {
    int added;
    sqli_keyenc_reset(&v->kb2);
    for (int i = 0; i < p->ncol; i++)
        sqli_key_add_coll(&v->kb2, &p->out[i], 0,
                          p->res && p->res[i] && (p->res[i]->flags & EF_NOCASE));
    sqli_bmap_get(&p->dset, v->kb2.p, v->kb2.len, 1, &added);
    return !added;
}

static int simple_raw_next(vm *v, qplan *p) {
    for (;;) {
        int rc = block_next(v, p);
        if (rc != SQL_ROW) return rc;
        if ((rc = eval_out(v, p)) != SQL_OK) return rc;
        if (p->distinct && seen_before(v, p)) continue;
        return SQL_ROW;
    }
}

static int compound_raw_next(vm *v, qplan *p);

static int raw_next(vm *v, qplan *p) {
    return p->op != SEL_SIMPLE ? compound_raw_next(v, p) : simple_raw_next(v, p);
}

/* Sort key of the current output (ORDER BY terms), plus a sequence number
 * that keeps equal rows in arrival order. */
static int sort_key(vm *v, qplan *p, keyenc_buf *k) {
    sqli_keyenc_reset(k);
    for (int i = 0; i < p->nkey; i++) {
        sql_value tmp;
        const sql_value *val;
        if (p->kres[i] >= 0) {
            val = &p->out[p->kres[i]];
        } else {
            int rc = sqli_ex_eval(v, p->keys[i], &tmp);
            if (rc != SQL_OK) return rc;
            val = &tmp;
        }
        int isnull = val->type == SQL_NULL;
        if (p->knulls[i] == 1 && p->kdesc[i]) kb_byte(k, isnull ? 0 : 1);
        if (p->knulls[i] == 2 && !p->kdesc[i]) kb_byte(k, isnull ? 1 : 0);
        const expr *ke = p->kres[i] >= 0 && p->res ? p->res[p->kres[i]] : p->keys[i];
        sqli_key_add_coll(k, val, p->kdesc[i], ke && (ke->flags & EF_NOCASE));
        if (val == &tmp) val_free(&tmp);
    }
    uint64_t seq = p->seq++;
    for (int s = 7; s >= 0; s--) kb_byte(k, (uint8_t)(seq >> (8 * s)));
    return SQL_OK;
}

/* ORDER BY ... LIMIT k: keep only the k smallest rows, in a max-heap (by
 * sort key) over the row buffer, instead of every row. */
static void heap_down(uint8_t **h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && row_cmp(&h[l], &h[m]) > 0) m = l;
        if (r < n && row_cmp(&h[r], &h[m]) > 0) m = r;
        if (m == i) return;
        uint8_t *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_up(uint8_t **h, size_t i) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (row_cmp(&h[i], &h[parent]) <= 0) return;
        uint8_t *t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static void topk_add(qplan *p, const uint8_t *key, size_t klen) {
    rowbuf *b = &p->rb;
    sqli_rowbuf_add(b, key, klen, p->out, p->ncol);
    if (b->n <= (size_t)p->topk) {
        heap_up(b->rows, b->n - 1);
        return;
    }
    /* one too many: the new row goes if it is not smaller than the largest */
    uint8_t *last = b->rows[--b->n];
    if (row_cmp(&last, &b->rows[0]) < 0) {
        xfree(b->rows[0]);
        b->rows[0] = last;
        heap_down(b->rows, b->n, 0);
    } else {
        xfree(last);
    }
}

static int add_output_row(vm *v, qplan *p) {
    if (p->sort) {
        int rc = sort_key(v, p, &v->kb);
        if (rc != SQL_OK) return rc;
        if (p->topk > 0)
            topk_add(p, v->kb.p, v->kb.len);
        else
            sqli_rowbuf_add(&p->rb, v->kb.p, v->kb.len, p->out, p->ncol);
    } else {
        sqli_rowbuf_add(&p->rb, NULL, 0, p->out, p->ncol);
    }
    return SQL_OK;
}

int sqli_q_block_next(vm *v, qplan *p) {
    return block_next(v, p);
}

int sqli_agg_emit_row(vm *v, qplan *p) {
    if (p->nwin) return sqli_win_capture(v, p); /* windows come first */
    return sqli_emit_row(v, p);
}

int sqli_emit_row(vm *v, qplan *p) {
    int rc = eval_out(v, p);
    if (rc != SQL_OK) return rc;
    if (p->distinct && seen_before(v, p)) return SQL_OK;
    return add_output_row(v, p);
}

static int prepare(vm *v, qplan *p) {
    int rc;
    p->topk = p->sort && p->lim >= 0 && p->off + p->lim <= 100000 ? p->off + p->lim : 0;
    if (p->nwin) {
        if ((rc = sqli_win_prepare(v, p)) != SQL_OK) return rc;
        if (p->sort) sqli_rowbuf_sort(&p->rb);
        p->phase = 2;
        p->rbpos = 0;
        return SQL_OK;
    }
    if (p->agg) {
        rc = sqli_run_agg(v, p);
    } else if (p->sort) {
        while ((rc = raw_next(v, p)) == SQL_ROW)
            if ((rc = add_output_row(v, p)) != SQL_OK) return rc;
        if (rc != SQL_DONE) return rc;
        rc = SQL_OK;
    } else {
        p->phase = 1;
        return SQL_OK;
    }
    if (rc != SQL_OK) return rc;
    if (p->sort) sqli_rowbuf_sort(&p->rb);
    p->phase = 2;
    p->rbpos = 0;
    return SQL_OK;
}

int sqli_q_next(vm *v, qplan *p) {
    int rc;
    if (p->phase == 0 && (rc = prepare(v, p)) != SQL_OK) return rc;
    for (;;) {
        if (p->lim == 0) return SQL_DONE;
        if (p->phase == 2) {
            if (p->rbpos >= p->rb.n) return SQL_DONE;
            const sql_value *vals;
            sqli_rowbuf_row(&p->rb, p->rbpos++, &vals, NULL, NULL);
            free_out(p);
            for (int i = 0; i < p->ncol; i++) val_ref(&p->out[i], &vals[i]);
        } else {
            rc = raw_next(v, p);
            if (rc != SQL_ROW) return rc;
        }
        if (p->off > 0) {
            p->off--;
            continue;
        }
        if (p->lim > 0) p->lim--;
        p->nemit++;
        return SQL_ROW;
    }
}

/* ---- compound queries ------------------------------------------------------------------------ */

static void copy_out(qplan *dst, const qplan *src) {
    free_out(dst);
    for (int i = 0; i < dst->ncol; i++) sqli_val_copy(&dst->out[i], &src->out[i]);
}

static int fill_set(vm *v, qplan *side, bmap *set) {
    int rc;
    while ((rc = sqli_q_next(v, side)) == SQL_ROW) {
        row_key(&v->kb2, side->out, side->ncol);
        sqli_bmap_get(set, v->kb2.p, v->kb2.len, 1, NULL);
    }
    return rc == SQL_DONE ? SQL_OK : rc;
}

static int compound_raw_next(vm *v, qplan *p) {
    int rc;
    if (p->rec_loop) return sqli_cte_next(v, p);
    if (p->op == SEL_INTERSECT || p->op == SEL_EXCEPT) {
        if (!p->started) {
            p->started = 1;
            if (!p->rset) p->rset = xcalloc(1, sizeof *p->rset);
            rc = fill_set(v, p->right, p->rset);
            if (rc != SQL_OK) return rc;
        }
        bmap *right = p->rset;
        while ((rc = sqli_q_next(v, p->left)) == SQL_ROW) {
            row_key(&v->kb2, p->left->out, p->left->ncol);
            int in_right = sqli_bmap_get(right, v->kb2.p, v->kb2.len, 0, NULL) != NULL;
            if (in_right != (p->op == SEL_INTERSECT)) continue;
            int added;
            sqli_bmap_get(&p->dset, v->kb2.p, v->kb2.len, 1, &added);
            if (!added) continue;
            copy_out(p, p->left);
            return SQL_ROW;
        }
        return rc;
    }
    for (;;) {
        qplan *side = p->level == 0 ? p->left : p->right;
        rc = sqli_q_next(v, side);
        if (rc == SQL_DONE && p->level == 0) {
            p->level = 1;
            continue;
        }
        if (rc != SQL_ROW) return rc;
        copy_out(p, side);
        if (p->op == SEL_UNION && seen_before(v, p)) continue;
        return SQL_ROW;
    }
}
