/* sql/agg.c — GROUP BY and aggregates: hash grouping of a block's input rows,
 * the aggregate functions' states, and the output of one row per group.
 *
 * Each group keeps its aggregate states and a copy of the input row it
 * started with (every column of the block's cursors): result columns,
 * HAVING and ORDER BY are evaluated per group with the block's cursors set
 * to that copy (cursor->pseudo), so a bare column or a correlated subquery
 * in the output sees a row of its group. Groups are emitted in key order
 * (the order sqlite3's sorter gives), which also makes results stable.
 *
 * Invariants:
 *   1. A block without GROUP BY has exactly one group, even without input.
 *   2. After sqli_run_agg the block's cursors have no pseudo rows left.
 *   3. sum() over integers is exact or fails with "integer overflow"; as soon
 *      as a real is seen it is a real sum (SQLite's rules).
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>

struct group {
    uint8_t *key;
    size_t klen;
    agg_state *st;
    sql_value *cap;
};

/* ---- aggregate states ---------------------------------------------------------------------- */

void sqli_agg_reset(agg_state *s) {
    val_free(&s->best);
    sqli_strb_free(&s->gc);
    if (s->distinct) {
        sqli_bmap_clear(s->distinct);
        xfree(s->distinct);
    }
    memset(s, 0, sizeof *s);
    val_set_null(&s->best);
}

static void sum_add(agg_state *s, const sql_value *x) {
    sql_value n = *x;
    n.owned = 0;
    if (n.type == SQL_TEXT || n.type == SQL_BLOB) {
        int64_t i;
        double r;
        int k = sqli_num_parse(n.z, n.n, &i, &r);
        if (k == 1)
            val_set_int(&n, i);
        else
            val_set_real(&n, k == 2 ? r : sqli_val_real(x));
    }
    if (n.type == SQL_INTEGER && (s->kind == 0 || s->kind == 1)) {
        s->kind = 1;
        if (__builtin_add_overflow(s->isum, n.u.i, &s->isum)) s->overflow = s->ioverflow = 1;
        s->rsum += (double)n.u.i;
        return;
    }
    if ((n.type == SQL_DECIMAL || n.type == SQL_INTEGER) &&
        (s->kind == 0 || s->kind == 1 || s->kind == 3)) {
        int sc = n.type == SQL_DECIMAL ? n.scale : 0;
        if (s->kind == 1) { /* integers so far: continue as decimal */
            s->dsum = s->isum;
            s->dscale = 0;
        }
        s->kind = 3;
        int64_t a, b;
        int ts = sc > s->dscale ? sc : s->dscale;
        if (sqli_dec_rescale(s->dsum, s->dscale, ts, &a) == 0 &&
            sqli_dec_rescale(n.u.i, sc, ts, &b) == 0 && !__builtin_add_overflow(a, b, &a) &&
            a < 1000000000000000000LL && a > -1000000000000000000LL) {
            s->dsum = a;
            s->dscale = ts;
        } else {
            s->overflow = 1;
        }
        s->rsum += sqli_val_real(&n);
        return;
    }
    if (s->kind == 3) s->rsum = sqli_dec_to_real(s->dsum, s->dscale);
    s->kind = 2;
    s->rsum += sqli_val_real(&n);
}

/* json_group_array(x) / json_group_object(k, x): NULLs are kept, as JSON
 * null (a NULL label, as in sqlite3 3.40, is written as nothing). */
static int json_step(vm *v, int kind, agg_state *s, sql_value *args) {
    if (s->count++) sqli_strb_addc(&s->gc, ',');
    if (kind == AGG_JSON_OBJECT) {
        if (args[0].type != SQL_NULL) {
            char buf[40];
            size_t n;
            const char *k = sqli_val_text(&args[0], buf, &n);
            sql_value label;
            val_set_text_ref(&label, k, n);
            int rc = sqli_json_append(v, &s->gc, &label);
            if (rc != SQL_OK) return rc;
        }
        sqli_strb_addc(&s->gc, ':');
        return sqli_json_append(v, &s->gc, &args[1]);
    }
    return sqli_json_append(v, &s->gc, &args[0]);
}

int sqli_agg_step(vm *v, const expr *e, agg_state *s, sql_value *args, int nargs) {
    int kind = e->fn->agg;
    if (kind == AGG_COUNT_STAR) {
        s->count++;
        return SQL_OK;
    }
    if (kind == AGG_JSON_ARRAY || kind == AGG_JSON_OBJECT) return json_step(v, kind, s, args);
    sql_value *x = &args[0];
    if (x->type == SQL_NULL) return SQL_OK;
    if (e->flags & EF_DISTINCT) {
        if (!s->distinct) s->distinct = xcalloc(1, sizeof *s->distinct);
        keyenc_buf *k = &v->kb2;
        sqli_keyenc_reset(k);
        sqli_key_add_coll(k, x, 0, (e->args[0]->flags & EF_NOCASE) != 0);
        int added;
        sqli_bmap_get(s->distinct, k->p, k->len, 1, &added);
        if (!added) return SQL_OK;
    }
    s->count++;
    switch (kind) {
    case AGG_COUNT:
        break;
    case AGG_SUM:
    case AGG_TOTAL:
    case AGG_AVG:
        sum_add(s, x);
        break;
    case AGG_MIN:
    case AGG_MAX: {
        if (s->count > 1) {
            int c = sqli_ex_cmp_values(x, &s->best, AFF_NONE, (e->args[0]->flags & EF_NOCASE) != 0);
            if (kind == AGG_MIN ? c >= 0 : c <= 0) break;
        }
        val_free(&s->best);
        sqli_val_copy(&s->best, x);
        break;
    }
    case AGG_GROUP_CONCAT: {
        char buf[40];
        size_t n;
        if (s->count > 1) {
            if (nargs > 1) {
                const char *sep = args[1].type == SQL_NULL ? "" : sqli_val_text(&args[1], buf, &n);
                if (args[1].type == SQL_NULL) n = 0;
                sqli_strb_add(&s->gc, sep, n);
            } else {
                sqli_strb_addc(&s->gc, ',');
            }
        }
        const char *t = sqli_val_text(x, buf, &n);
        sqli_strb_add(&s->gc, t, n);
        break;
    }
    default:
        break;
    }
    return SQL_OK;
}

static void sum_result(agg_state *s, sql_value *out) {
    if (s->kind == 1)
        val_set_int(out, s->isum);
    else if (s->kind == 3)
        val_set_dec(out, s->dsum, s->dscale);
    else
        val_set_real(out, s->rsum);
}

int sqli_agg_final(vm *v, const expr *e, agg_state *s, sql_value *out) {
    switch (e->fn->agg) {
    case AGG_COUNT:
    case AGG_COUNT_STAR:
        val_set_int(out, s->count);
        return SQL_OK;
    case AGG_SUM:
        if (s->ioverflow) return sqli_vm_error(v, SQL_ERROR, "integer overflow");
        if (s->count == 0)
            val_set_null(out);
        else
            sum_result(s, out);
        return SQL_OK;
    case AGG_TOTAL: /* integers are added as reals: total() never overflows */
        val_set_real(out, s->kind == 3 ? sqli_dec_to_real(s->dsum, s->dscale) : s->rsum);
        return SQL_OK;
    case AGG_AVG:
        if (s->count == 0) {
            val_set_null(out);
        } else if (s->kind == 3 && !s->overflow) {
            /* exact decimal average, rounded to 6 more digits */
            __int128 m = (__int128)s->dsum * 1000000;
            int sc = s->dscale + 6;
            while (sc > 18) m /= 10, sc--;
            __int128 q = m / s->count, r = m % s->count;
            if (2 * (r < 0 ? -r : r) >= s->count) q += m < 0 ? -1 : 1;
            while (sc > s->dscale && q % 10 == 0) q /= 10, sc--; /* no noise zeros */
            if (q < 1000000000000000000LL && q > -1000000000000000000LL)
                val_set_dec(out, (int64_t)q, sc);
            else
                val_set_real(out, sqli_dec_to_real(s->dsum, s->dscale) / (double)s->count);
        } else {
            double sum = s->kind == 3 ? sqli_dec_to_real(s->dsum, s->dscale) : s->rsum;
            val_set_real(out, sum / (double)s->count);
        }
        return SQL_OK;
    case AGG_MIN:
    case AGG_MAX:
        if (s->count == 0)
            val_set_null(out);
        else
            val_ref(out, &s->best);
        return SQL_OK;
    case AGG_JSON_ARRAY:
    case AGG_JSON_OBJECT: {
        strb b = {0};
        sqli_strb_addc(&b, e->fn->agg == AGG_JSON_ARRAY ? '[' : '{');
        sqli_strb_add(&b, s->gc.p ? s->gc.p : "", s->gc.n);
        sqli_strb_addc(&b, e->fn->agg == AGG_JSON_ARRAY ? ']' : '}');
        sqli_json_result(out, &b);
        return SQL_OK;
    }
    case AGG_GROUP_CONCAT:
        if (s->count == 0)
            val_set_null(out);
        else
            val_set_text_ref(out, sqli_strb_cstr(&s->gc), s->gc.n);
        return SQL_OK;
    default:
        val_set_null(out);
    }
    return SQL_OK;
}

/* ---- grouping -------------------------------------------------------------------------------- */

static int group_key(vm *v, qplan *p, keyenc_buf *k) {
    sqli_keyenc_reset(k);
    for (int i = 0; i < p->ngroup; i++) {
        sql_value x;
        int rc = sqli_ex_eval(v, p->group[i], &x);
        if (rc != SQL_OK) return rc;
        sqli_key_add_coll(k, &x, 0, (p->group[i]->flags & EF_NOCASE) != 0);
        val_free(&x);
    }
    return SQL_OK;
}

static int cap_width(vm *v, qplan *p) {
    int w = 0;
    for (int i = 0; i < p->nlvl_curs; i++) w += sqli_vm_cursor(v, p->lvl_curs[i])->ncol + 1;
    return w;
}

static group *new_group(vm *v, qplan *p, const uint8_t *key, size_t klen, int capture) {
    group *g = xcalloc(1, sizeof *g);
    g->key = (uint8_t *)xmemdup(key, klen);
    g->klen = klen;
    g->st = xcalloc((size_t)(p->naggs ? p->naggs : 1), sizeof *g->st);
    for (int i = 0; i < p->naggs; i++) val_set_null(&g->st[i].best);
    int w = cap_width(v, p), o = 0;
    g->cap = xcalloc((size_t)(w ? w : 1), sizeof *g->cap);
    for (int i = 0; i < p->nlvl_curs; i++) {
        cursor *c = sqli_vm_cursor(v, p->lvl_curs[i]);
        for (int col = 0; col <= c->ncol; col++, o++) {
            val_set_null(&g->cap[o]);
            if (capture) sqli_val_copy(&g->cap[o], sqli_cur_col(v, c, col == c->ncol ? -1 : col));
        }
    }
    return g;
}

static void free_group(vm *v, qplan *p, group *g) {
    int w = cap_width(v, p);
    for (int i = 0; i < w; i++) val_free(&g->cap[i]);
    for (int i = 0; i < p->naggs; i++) sqli_agg_reset(&g->st[i]);
    xfree(g->cap);
    xfree(g->st);
    xfree(g->key);
    xfree(g);
}

static int step_aggs(vm *v, qplan *p, group *g) {
    sql_value args[4];
    for (int i = 0; i < p->naggs; i++) {
        const expr *e = p->aggs[i];
        int n = e->nargs < 4 ? e->nargs : 4, rc = SQL_OK, k = 0;
        if (e->r) { /* FILTER (WHERE r): only rows where it is true */
            int t;
            if ((rc = sqli_ex_truth(v, e->r, &t)) != SQL_OK) return rc;
            if (t != 1) continue;
        }
        for (; k < n && rc == SQL_OK; k++) rc = sqli_ex_eval(v, e->args[k], &args[k]);
        if (rc == SQL_OK) rc = sqli_agg_step(v, e, &g->st[i], args, n);
        for (int j = 0; j < k; j++) val_free(&args[j]);
        if (rc != SQL_OK) return rc;
    }
    return SQL_OK;
}

static int gcmp(const void *a, const void *b) {
    const group *x = *(group *const *)a, *y = *(group *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    if (c) return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static void set_pseudo(vm *v, qplan *p, group *g) {
    int o = 0;
    for (int i = 0; i < p->nlvl_curs; i++) {
        cursor *c = sqli_vm_cursor(v, p->lvl_curs[i]);
        c->pseudo = g ? &g->cap[o] : NULL;
        o += c->ncol + 1;
    }
}

static int emit_group(vm *v, qplan *p, group *g) {
    set_pseudo(v, p, g);
    for (int i = 0; i < p->naggs; i++) {
        val_free(&p->aggvals[i]);
        int rc = sqli_agg_final(v, p->aggs[i], &g->st[i], &p->aggvals[i]);
        if (rc != SQL_OK) return rc;
    }
    if (p->q->having) {
        int t, rc = sqli_ex_truth(v, p->q->having, &t);
        if (rc != SQL_OK) return rc;
        if (t != 1) return SQL_OK;
    }
    return sqli_agg_emit_row(v, p);
}

static int collect(vm *v, qplan *p, bmap *groups, group ***list, size_t *n) {
    size_t cap = 0;
    int rc;
    group *only = NULL; /* no GROUP BY: every row goes to one group, found without a key */
    while ((rc = sqli_q_block_next(v, p)) == SQL_ROW) {
        if (only) {
            if ((rc = step_aggs(v, p, only)) != SQL_OK) return rc;
            continue;
        }
        if ((rc = group_key(v, p, &v->kb)) != SQL_OK) return rc;
        int added;
        bmap_ent *e = sqli_bmap_get(groups, v->kb.p, v->kb.len, 1, &added);
        if (added) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                *list = xrealloc(*list, sizeof **list * cap);
            }
            e->v = (*list)[(*n)++] = new_group(v, p, v->kb.p, v->kb.len, 1);
            if (p->ngroup == 0) only = e->v;
        }
        if ((rc = step_aggs(v, p, e->v)) != SQL_OK) return rc;
    }
    if (rc != SQL_DONE) return rc;
    if (*n == 0 && p->ngroup == 0) {
        *list = xrealloc(*list, sizeof **list);
        (*list)[(*n)++] = new_group(v, p, (const uint8_t *)"", 0, 0);
    }
    return SQL_OK;
}

int sqli_run_agg(vm *v, qplan *p) {
    bmap groups = {0};
    group **list = NULL;
    size_t n = 0;
    if (!p->aggvals) {
        p->aggvals = xcalloc((size_t)(p->naggs ? p->naggs : 1), sizeof *p->aggvals);
    }
    int rc = collect(v, p, &groups, &list, &n);
    if (rc == SQL_OK) {
        if (n > 1) qsort(list, n, sizeof *list, gcmp);
        for (size_t i = 0; i < n && rc == SQL_OK; i++) rc = emit_group(v, p, list[i]);
    }
    set_pseudo(v, p, NULL);
    for (int i = 0; i < p->naggs; i++) val_free(&p->aggvals[i]);
    xfree(p->aggvals);
    p->aggvals = NULL;
    for (size_t i = 0; i < n; i++) free_group(v, p, list[i]);
    xfree(list);
    sqli_bmap_clear(&groups);
    return rc;
}
