/* sql/window.c — window functions: f(...) OVER (PARTITION BY ... ORDER BY
 * ... frame), and the WINDOW clause.
 *
 * Resolution turns a call with OVER into an E_WIN node, numbered in its
 * query block (q->wins); its PARTITION BY, ORDER BY terms and frame offsets
 * hang below it in an E_LIST node (e->l), its FILTER in e->r, so that every
 * walker over expressions (columns used, subqueries to plan) sees them.
 *
 * Execution (a block with windows is always materialized): every row the
 * block produces after WHERE, GROUP BY and HAVING is captured — the values of
 * the block's cursors, its aggregate values, and each window's inputs. Then,
 * window by window, the rows are sorted by partition and order keys and the
 * function computed over each row's frame. Last, each row is put back on the
 * cursors (pseudo rows, as agg.c does for groups) and the result columns are
 * evaluated, E_WIN reading the computed values; DISTINCT, ORDER BY and LIMIT
 * follow as for any block. Windows that sort alike (the same PARTITION BY and
 * ORDER BY) share one sort. Without ORDER BY the rows come out in the order
 * of the first window's sort, as sqlite3's outermost level gives them (rows
 * that tie there in the order they were produced).
 *
 * Invariants:
 *   1. A window's frame for a row is [fs, fe) of sorted positions inside the
 *      row's partition [ps, pe); an empty frame gives NULL (0 for count).
 *   2. Window aggregates are sqli_agg_step/final over the frame's rows;
 *      frames that start at the partition's start grow monotonically and are
 *      stepped incrementally. EXCLUDE (CURRENT ROW, GROUP: the row's peers,
 *      TIES: its peers but itself) leaves positions out of [fs, fe); such
 *      frames are computed afresh for every row.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>

enum {
    WF_AGG = 0,
    WF_ROW_NUMBER,
    WF_RANK,
    WF_DENSE_RANK,
    WF_PERCENT_RANK,
    WF_CUME_DIST,
    WF_NTILE,
    WF_LAG,
    WF_LEAD,
    WF_FIRST_VALUE,
    WF_LAST_VALUE,
    WF_NTH_VALUE
};

static const struct {
    const char *name;
    int nmin, nmax, kind;
} win_funcs[] = {
    {"row_number", 0, 0, WF_ROW_NUMBER},
    {"rank", 0, 0, WF_RANK},
    {"dense_rank", 0, 0, WF_DENSE_RANK},
    {"percent_rank", 0, 0, WF_PERCENT_RANK},
    {"cume_dist", 0, 0, WF_CUME_DIST},
    {"ntile", 1, 1, WF_NTILE},
    {"lag", 1, 3, WF_LAG},
    {"lead", 1, 3, WF_LEAD},
    {"first_value", 1, 1, WF_FIRST_VALUE},
    {"last_value", 1, 1, WF_LAST_VALUE},
    {"nth_value", 2, 2, WF_NTH_VALUE},
};

int sqli_win_only(const char *name) {
    for (size_t i = 0; i < sizeof win_funcs / sizeof win_funcs[0]; i++)
        if (sqli_name_eq(win_funcs[i].name, name)) return 1;
    return 0;
}

/* ---- resolution ----------------------------------------------------------------------------- */

static windef *find_window(query *q, const char *name) {
    for (int i = 0; q && i < q->nwindows; i++)
        if (sqli_name_eq(q->windows[i].name, name)) return &q->windows[i];
    return NULL;
}

/* The call's own window: a copy (a named window may serve several calls,
 * and each resolves its own expressions), with OVER (base ...) merged. */
static int window_of(compiler *c, expr *e, query *q, windef **out) {
    windef *w = e->win, *r = sqli_ar_alloc(c->a, sizeof *r);
    const windef *src = w;
    if (w->name && !w->base && !w->npart && !w->norder && !w->frame) {
        src = find_window(q, w->name);
        if (!src) return sqli_comp_error(c, w->pos, "no such window: %s", w->name);
    }
    *r = *src;
    if (w->base) {
        const windef *b = find_window(q, w->base);
        if (!b) return sqli_comp_error(c, w->pos, "no such window: %s", w->base);
        if (w->npart)
            return sqli_comp_error(c, w->pos, "cannot override PARTITION clause of window: %s",
                                   w->base);
        if (b->norder && w->norder)
            return sqli_comp_error(c, w->pos, "cannot override ORDER BY clause of window: %s",
                                   w->base);
        if (b->frame)
            return sqli_comp_error(c, w->pos, "cannot override frame specification of window: %s",
                                   w->base);
        r->part = b->part;
        r->npart = b->npart;
        if (!w->norder) r->order = b->order, r->norder = b->norder;
    }
    r->part = r->npart ? sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)r->npart) : NULL;
    for (int i = 0; i < r->npart; i++)
        r->part[i] = sqli_expr_copy(c->a, (w->base ? find_window(q, w->base) : src)->part[i]);
    orderterm *o = r->order;
    r->order = r->norder ? sqli_ar_alloc(c->a, sizeof(orderterm) * (size_t)r->norder) : NULL;
    for (int i = 0; i < r->norder; i++) {
        r->order[i] = o[i];
        r->order[i].e = sqli_expr_copy(c->a, o[i].e);
    }
    r->start_n = sqli_expr_copy(c->a, src->start_n);
    r->end_n = sqli_expr_copy(c->a, src->end_n);
    if (!r->frame) { /* the default frame */
        r->frame = r->norder ? FR_RANGE : FR_ROWS;
        r->start = FB_UNB_PREC;
        r->end = r->norder ? FB_CURRENT : FB_UNB_FOLL;
    }
    *out = r;
    return SQL_OK;
}

static int check_frame(compiler *c, const windef *w) {
    int s = w->start, e = w->end;
    if (s == FB_UNB_FOLL || e == FB_UNB_PREC || (s == FB_CURRENT && e == FB_PREC) ||
        (s == FB_FOLL && (e == FB_PREC || e == FB_CURRENT)))
        return sqli_comp_error(c, w->pos, "unsupported frame specification");
    if (w->frame == FR_RANGE && (s == FB_PREC || s == FB_FOLL || e == FB_PREC || e == FB_FOLL) &&
        w->norder != 1)
        return sqli_comp_error(
            c, w->pos, "RANGE with offset PRECEDING/FOLLOWING requires one ORDER BY expression");
    return SQL_OK;
}

/* The E_LIST below an E_WIN: partition terms, order terms, frame offsets. */
static expr *window_list(compiler *c, const windef *w) {
    expr *l = sqli_ar_alloc(c->a, sizeof *l);
    l->op = E_LIST;
    l->cur = -1;
    l->slot = -1;
    l->args = sqli_ar_alloc(c->a, sizeof(expr *) * (size_t)(w->npart + w->norder + 3));
    for (int i = 0; i < w->npart; i++) l->args[l->nargs++] = w->part[i];
    for (int i = 0; i < w->norder; i++) l->args[l->nargs++] = w->order[i].e;
    if (w->start_n) l->args[l->nargs++] = w->start_n;
    if (w->end_n) l->args[l->nargs++] = w->end_n;
    return l;
}

int sqli_win_resolve(compiler *c, expr *e, scope *sc) {
    if (!sc || !sc->allow_win || !sc->q)
        return sqli_comp_error(c, e->pos, "misuse of window function %s()", e->name);
    int nargs = (e->flags & EF_STAR) ? 0 : e->nargs, kind = -1;
    for (size_t i = 0; i < sizeof win_funcs / sizeof win_funcs[0]; i++)
        if (sqli_name_eq(win_funcs[i].name, e->name)) {
            if (nargs < win_funcs[i].nmin || nargs > win_funcs[i].nmax)
                return sqli_comp_error(c, e->pos, "wrong number of arguments to function %s()",
                                       e->name);
            kind = win_funcs[i].kind;
        }
    if (kind < 0) {
        int known = 0;
        const func_def *f = sqli_func_find(e->name, nargs, &known);
        if (!f && known)
            return sqli_comp_error(c, e->pos, "wrong number of arguments to function %s()",
                                   e->name);
        if (!f) return sqli_comp_error(c, e->pos, "no such function: %s", e->name);
        if (!f->agg)
            return sqli_comp_error(c, e->pos, "%s() may not be used as a window function", e->name);
        if ((e->flags & EF_STAR) && f->agg != AGG_COUNT_STAR)
            return sqli_comp_error(c, e->pos, "wrong number of arguments to function %s()",
                                   e->name);
        e->fn = f;
        kind = WF_AGG;
    }
    if (e->flags & EF_DISTINCT)
        return sqli_comp_error(c, e->pos, "DISTINCT is not supported for window functions");
    if (kind != WF_AGG && e->r)
        return sqli_comp_error(c, e->pos,
                               "FILTER clause may only be used with aggregate window "
                               "functions");
    windef *w = NULL;
    if (window_of(c, e, sc->q, &w) != SQL_OK || check_frame(c, w) != SQL_OK) return SQL_ERROR;
    e->win = w;
    e->l = window_list(c, w);
    int save = sc->allow_win;
    sc->allow_win = 0;
    int rc = SQL_OK;
    for (int i = 0; i < e->nargs && rc == SQL_OK; i++) rc = sqli_resolve_expr(c, e->args[i], sc);
    if (rc == SQL_OK) rc = sqli_resolve_expr(c, e->r, sc);
    for (int i = 0; i < e->l->nargs && rc == SQL_OK; i++)
        rc = sqli_resolve_expr(c, e->l->args[i], sc);
    sc->allow_win = save;
    if (rc != SQL_OK) return rc;
    query *q = sc->q;
    expr **v = sqli_ar_alloc(c->a, sizeof *v * (size_t)(q->nwins + 1));
    if (q->nwins) memcpy(v, q->wins, sizeof *v * (size_t)q->nwins);
    v[q->nwins] = e;
    e->slot = q->nwins++;
    q->wins = v;
    e->op = E_WIN;
    e->param = kind;
    e->owner = q;
    return SQL_OK;
}

/* ---- capture -------------------------------------------------------------------------------- */

struct win_run {
    rowbuf rows;
    int ncap; /* cursor values per row */
    int nwin;
    int *inoff;     /* per window: offset of its inputs in a row */
    sql_value *res; /* rows.n * nwin results (owned) */
    size_t *order;  /* the emission order (last window's sort) */
    sql_value *cap; /* a row being captured: width values */
    int width;
};

static int win_inputs(const expr *e) {
    return e->l->nargs + e->nargs + 1; /* list, args, filter truth */
}

static int cap_width(vm *v, qplan *p) {
    int w = 0;
    for (int i = 0; i < p->nlvl_curs; i++) w += sqli_vm_cursor(v, p->lvl_curs[i])->ncol + 1;
    return w;
}

int sqli_win_capture(vm *v, qplan *p) {
    struct win_run *r = p->wrt;
    int n = r->width, rc = SQL_OK;
    sql_value *vals = r->cap;
    memset(vals, 0, sizeof *vals * (size_t)n);
    int o = 0;
    for (int i = 0; i < p->nlvl_curs; i++) {
        cursor *c = sqli_vm_cursor(v, p->lvl_curs[i]);
        for (int col = 0; col <= c->ncol; col++)
            val_ref(&vals[o++], sqli_cur_col(v, c, col == c->ncol ? -1 : col));
    }
    for (int i = 0; i < p->naggs; i++) val_ref(&vals[o++], &p->aggvals[i]);
    int first_owned = o;
    for (int w = 0; w < p->nwin && rc == SQL_OK; w++) {
        const expr *e = p->wins[w];
        for (int i = 0; i < e->l->nargs && rc == SQL_OK; i++)
            rc = sqli_ex_eval(v, e->l->args[i], &vals[o++]);
        for (int i = 0; i < e->nargs && rc == SQL_OK; i++)
            rc = sqli_ex_eval(v, e->args[i], &vals[o++]);
        int t = 1;
        if (rc == SQL_OK && e->r) rc = sqli_ex_truth(v, e->r, &t);
        val_set_int(&vals[o++], t == 1);
    }
    if (rc == SQL_OK) sqli_rowbuf_add(&r->rows, NULL, 0, vals, n);
    for (int i = first_owned; i < o; i++) val_free(&vals[i]);
    return rc;
}

/* ---- computing one window ----------------------------------------------------------------------
 */

/* A row's sort key for one window: bytes [off, off + klen) of the sort's
 * key buffer, the partition's prefix of them plen bytes. */
typedef struct wkey {
    uint32_t off, klen, plen;
    uint32_t row, seq; /* the row; its place in the order the rows came in */
} wkey;

/* The rows sorted for a window; kept for the next window when it sorts alike. */
typedef struct wsort {
    wkey *keys;
    keyenc_buf kb;  /* every row's key, one after the other */
    const expr *by; /* the window whose PARTITION BY / ORDER BY made it */
} wsort;

static int wkey_cmp(const void *a, const void *b, void *arg) {
    const wkey *x = a, *y = b;
    const uint8_t *base = arg;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(base + x->off, base + y->off, n) : 0;
    if (c) return c;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const sql_value *row_vals(struct win_run *r, size_t row) {
    const sql_value *vals;
    sqli_rowbuf_row(&r->rows, row, &vals, NULL, NULL);
    return vals;
}

static void kb_byte(keyenc_buf *b, uint8_t c) {
    sqli_key_raw(b, &c, 1);
}

static int same_sort(const windef *a, const windef *b) {
    if (a->npart != b->npart || a->norder != b->norder) return 0;
    for (int i = 0; i < a->npart; i++)
        if (!sqli_expr_equal(a->part[i], b->part[i])) return 0;
    for (int i = 0; i < a->norder; i++) {
        const orderterm *x = &a->order[i], *y = &b->order[i];
        if (x->desc != y->desc || x->nulls != y->nulls || !sqli_expr_equal(x->e, y->e)) return 0;
    }
    return 1;
}

/* The first window of wins[0..w] that sorts as window w does. */
static int sort_leader(expr *const *wins, int w) {
    int u = 0;
    while (u < w && !same_sort(wins[u]->win, wins[w]->win)) u++;
    return u;
}

int sqli_win_sorts(expr *const *wins, int w) {
    return (wins[w]->win->npart || wins[w]->win->norder) && sort_leader(wins, w) == w;
}

static void wsort_free(wsort *s) {
    xfree(s->keys);
    s->keys = NULL;
    sqli_keyenc_free(&s->kb);
    s->by = NULL;
}

/* Sort the rows by window w's partition and order keys (its inputs), unless
 * s already holds them sorted so. Rows that tie keep the order they came in
 * (r->order: the previous sort's), as sqlite3's sorter keeps the order of
 * the level below. */
static void sort_rows(struct win_run *r, const expr *e, int w, wsort *s) {
    const windef *wd = e->win;
    size_t n = r->rows.n;
    if (s->by && same_sort(s->by->win, wd)) return;
    wsort_free(s);
    s->by = e;
    s->keys = xcalloc(n ? n : 1, sizeof *s->keys);
    keyenc_buf *kb = &s->kb;
    sqli_keyenc_init(kb);
    for (size_t i = 0; i < n; i++) s->keys[r->order[i]].seq = (uint32_t)i;
    for (size_t i = 0; i < n; i++) {
        const sql_value *in = row_vals(r, i) + r->inoff[w];
        size_t start = kb->len;
        for (int k = 0; k < wd->npart; k++)
            sqli_key_add_coll(kb, &in[k], 0, (wd->part[k]->flags & EF_NOCASE) != 0);
        s->keys[i].plen = (uint32_t)(kb->len - start);
        for (int k = 0; k < wd->norder; k++) {
            const sql_value *val = &in[wd->npart + k];
            const orderterm *o = &wd->order[k];
            int isnull = val->type == SQL_NULL;
            if (o->nulls == 1 && o->desc) kb_byte(kb, isnull ? 0 : 1);
            if (o->nulls == 2 && !o->desc) kb_byte(kb, isnull ? 1 : 0);
            sqli_key_add_coll(kb, val, o->desc, (o->e->flags & EF_NOCASE) != 0);
        }
        s->keys[i].off = (uint32_t)start;
        s->keys[i].klen = (uint32_t)(kb->len - start);
        s->keys[i].row = (uint32_t)i;
    }
    qsort_r(s->keys, n, sizeof *s->keys, wkey_cmp, kb->p);
}

static int same_prefix(const uint8_t *base, const wkey *a, const wkey *b, int whole) {
    uint32_t la = whole ? a->klen : a->plen, lb = whole ? b->klen : b->plen;
    return la == lb && (la == 0 || memcmp(base + a->off, base + b->off, la) == 0);
}

/* A frame offset: a non-negative integer (ROWS, GROUPS) or number (RANGE). */
static int frame_offset(vm *v, const expr *x, int frame, int starting, double *out) {
    if (!x) return SQL_OK;
    sql_value n;
    int rc = sqli_ex_eval(v, x, &n);
    if (rc != SQL_OK) return rc;
    int ok = val_is_num(&n) && sqli_val_real(&n) >= 0 &&
             (frame == FR_RANGE ||
              (n.type == SQL_INTEGER || sqli_val_real(&n) == floor(sqli_val_real(&n))));
    *out = ok ? sqli_val_real(&n) : 0;
    val_free(&n);
    if (!ok)
        return sqli_vm_error(v, SQL_ERROR, "frame %s offset must be a non-negative %s",
                             starting ? "starting" : "ending",
                             frame == FR_RANGE ? "number" : "integer");
    return SQL_OK;
}

typedef struct part {
    const wkey *keys;
    const uint8_t *kbase; /* the keys' bytes */
    size_t ps, pe;        /* the partition, in sorted positions */
    size_t *gs;           /* per position: start of its peer group */
    size_t *ge;           /* per position: end of its peer group */
    size_t *gno;          /* per position: peer group number in the partition */
    size_t *gstart;       /* per group number: its first position */
    size_t ngroups;
    size_t first_fs; /* the first frame's start: rows from there on have entered */
} part;

/* RANGE n PRECEDING/FOLLOWING: the first position (for a start) or one past
 * the last (for an end) whose order value is within n of row i's. */
static size_t range_bound(struct win_run *r, const expr *e, int w, const part *pt, size_t i,
                          double n, int bound, int is_end) {
    const windef *wd = e->win;
    int col = r->inoff[w] + wd->npart, desc = wd->order[0].desc;
    const sql_value *cv = &row_vals(r, pt->keys[i].row)[col];
    if (cv->type == SQL_NULL || !val_is_num(cv)) return is_end ? pt->ge[i] : pt->gs[i];
    double x = sqli_val_real(cv), lo, hi;
    double d = bound == FB_PREC ? -n : n;
    if (desc) d = -d;
    if (is_end) {
        hi = x + d;
        size_t j = pt->ge[i];
        while (j < pt->pe) {
            const sql_value *y = &row_vals(r, pt->keys[j].row)[col];
            if (y->type == SQL_NULL || !val_is_num(y)) break;
            double yv = sqli_val_real(y);
            if (desc ? yv < hi : yv > hi) break;
            j++;
        }
        while (j > pt->ps) { /* and not past it, backwards */
            const sql_value *y = &row_vals(r, pt->keys[j - 1].row)[col];
            if (y->type == SQL_NULL || !val_is_num(y)) break;
            double yv = sqli_val_real(y);
            if (desc ? yv >= hi : yv <= hi) break;
            j--;
        }
        return j;
    }
    lo = x + d;
    size_t j = pt->gs[i];
    while (j > pt->ps) {
        const sql_value *y = &row_vals(r, pt->keys[j - 1].row)[col];
        if (y->type == SQL_NULL || !val_is_num(y)) break;
        double yv = sqli_val_real(y);
        if (desc ? yv > lo : yv < lo) break;
        j--;
    }
    while (j < pt->pe) {
        const sql_value *y = &row_vals(r, pt->keys[j].row)[col];
        if (y->type != SQL_NULL && val_is_num(y)) {
            double yv = sqli_val_real(y);
            if (desc ? yv <= lo : yv >= lo) break;
        }
        j++;
    }
    return j;
}

static size_t bound_pos(struct win_run *r, const expr *e, int w, const part *pt, size_t i,
                        int bound, double n, int is_end) {
    const windef *wd = e->win;
    size_t ni = (size_t)n;
    switch (bound) {
    case FB_UNB_PREC:
        return pt->ps;
    case FB_UNB_FOLL:
        return pt->pe;
    case FB_CURRENT:
        if (wd->frame == FR_ROWS) return is_end ? i + 1 : i;
        return is_end ? pt->ge[i] : pt->gs[i];
    default:
        break;
    }
    if (wd->frame == FR_RANGE) return range_bound(r, e, w, pt, i, n, bound, is_end);
    if (wd->frame == FR_ROWS) {
        if (bound == FB_PREC) {
            if (i - pt->ps < ni + (is_end ? 1 : 0)) return pt->ps;
            return is_end ? i - ni + 1 : i - ni;
        }
        size_t t = i + ni + (is_end ? 1 : 0);
        return t > pt->pe ? pt->pe : t;
    }
    /* GROUPS */
    size_t g = pt->gno[i];
    if (bound == FB_PREC) {
        if (g < ni) return pt->ps;
        size_t tg = g - ni;
        return is_end ? (tg + 1 < pt->ngroups ? pt->gstart[tg + 1] : pt->pe) : pt->gstart[tg];
    }
    size_t tg = g + ni;
    if (tg >= pt->ngroups) return pt->pe;
    return is_end ? (tg + 1 < pt->ngroups ? pt->gstart[tg + 1] : pt->pe) : pt->gstart[tg];
}

/* The value of row i's argument k (an input of window w). */
static const sql_value *arg_at(struct win_run *r, const expr *e, int w, const part *pt, size_t i,
                               int k) {
    return &row_vals(r, pt->keys[i].row)[r->inoff[w] + e->l->nargs + k];
}

static int filter_at(struct win_run *r, const expr *e, int w, const part *pt, size_t i) {
    return row_vals(r, pt->keys[i].row)[r->inoff[w] + e->l->nargs + e->nargs].u.i != 0;
}

/* Would SQLite's sum() have seen a value that is no integer? */
static int not_int(const sql_value *x) {
    if (x->type == SQL_NULL || x->type == SQL_INTEGER) return 0;
    if (x->type != SQL_TEXT && x->type != SQL_BLOB) return 1;
    int64_t i;
    double d;
    return sqli_num_parse(x->z, x->n, &i, &d) != 1;
}

static int agg_frame(vm *v, struct win_run *r, const expr *e, int w, const part *pt, size_t fs,
                     size_t fe, agg_state *st, size_t *done, sql_value *out) {
    sql_value args[4];
    int n = e->nargs < 4 ? e->nargs : 4, rc = SQL_OK;
    if (fs != pt->ps || *done > fe || *done < fs) { /* not a growing frame: start over */
        sqli_agg_reset(st);
        *done = fs;
    }
    for (; *done < fe && rc == SQL_OK; (*done)++) {
        if (!filter_at(r, e, w, pt, *done)) continue;
        for (int k = 0; k < n; k++) val_ref(&args[k], arg_at(r, e, w, pt, *done, k));
        rc = sqli_agg_step(v, e, st, args, n);
    }
    if (rc != SQL_OK) return rc;
    sql_value tmp;
    val_set_null(&tmp);
    rc = sqli_agg_final(v, e, st, &tmp);
    if (rc == SQL_OK) sqli_val_copy(out, &tmp);
    val_free(&tmp); /* a JSON aggregate's final value owns its text */
    /* SQLite slides its frame by adding and removing rows; its sum() stays
     * a real once a non-integer entered the frame, even after it left */
    if (rc == SQL_OK && out->type == SQL_INTEGER && e->fn->agg == AGG_SUM && fs != pt->ps)
        for (size_t k = pt->first_fs; k < fe; k++)
            if (filter_at(r, e, w, pt, k) && not_int(arg_at(r, e, w, pt, k, 0))) {
                val_set_real(out, (double)out->u.i);
                break;
            }
    if (fs != pt->ps) { /* the next frame will start over */
        sqli_agg_reset(st);
        *done = fs;
    }
    return rc;
}

/* Is position k of row i's frame left out by the window's EXCLUDE clause? */
static int excluded(const windef *wd, const part *pt, size_t i, size_t k) {
    switch (wd->exclude) {
    case EX_CURRENT:
        return k == i;
    case EX_GROUP:
        return k >= pt->gs[i] && k < pt->ge[i];
    case EX_TIES:
        return k != i && k >= pt->gs[i] && k < pt->ge[i];
    default:
        return 0;
    }
}

/* The position of the nth (1-based) row of row i's frame [fs, fe) that
 * EXCLUDE keeps, counted from the end when from_end; SIZE_MAX if none. */
static size_t frame_nth(const windef *wd, const part *pt, size_t i, size_t fs, size_t fe,
                        size_t nth, int from_end) {
    for (size_t j = 0; j < fe - fs; j++) {
        size_t k = from_end ? fe - 1 - j : fs + j;
        if (!excluded(wd, pt, i, k) && --nth == 0) return k;
    }
    return SIZE_MAX;
}

/* An aggregate over row i's frame with EXCLUDE: computed afresh, as sqlite3
 * does for such frames. */
static int agg_excluding(vm *v, struct win_run *r, const expr *e, int w, const part *pt, size_t i,
                         size_t fs, size_t fe, sql_value *out) {
    agg_state st;
    memset(&st, 0, sizeof st);
    val_set_null(&st.best);
    sql_value args[4], tmp;
    int n = e->nargs < 4 ? e->nargs : 4, rc = SQL_OK;
    for (size_t k = fs; k < fe && rc == SQL_OK; k++) {
        if (excluded(e->win, pt, i, k) || !filter_at(r, e, w, pt, k)) continue;
        for (int a = 0; a < n; a++) val_ref(&args[a], arg_at(r, e, w, pt, k, a));
        rc = sqli_agg_step(v, e, &st, args, n);
    }
    val_set_null(&tmp);
    if (rc == SQL_OK) rc = sqli_agg_final(v, e, &st, &tmp);
    if (rc == SQL_OK) sqli_val_copy(out, &tmp);
    val_free(&tmp);
    sqli_agg_reset(&st);
    return rc;
}

static int value_fn(vm *v, struct win_run *r, const expr *e, int w, const part *pt, size_t i,
                    size_t fs, size_t fe, sql_value *out) {
    size_t np = pt->pe - pt->ps;
    switch (e->param) {
    case WF_ROW_NUMBER:
        val_set_int(out, (int64_t)(i - pt->ps + 1));
        return SQL_OK;
    case WF_RANK:
        val_set_int(out, (int64_t)(pt->gs[i] - pt->ps + 1));
        return SQL_OK;
    case WF_DENSE_RANK:
        val_set_int(out, (int64_t)pt->gno[i] + 1);
        return SQL_OK;
    case WF_PERCENT_RANK:
        val_set_real(out, np > 1 ? (double)(pt->gs[i] - pt->ps) / (double)(np - 1) : 0.0);
        return SQL_OK;
    case WF_CUME_DIST:
        val_set_real(out, (double)(pt->ge[i] - pt->ps) / (double)np);
        return SQL_OK;
    case WF_NTILE: {
        const sql_value *a = arg_at(r, e, w, pt, i, 0);
        int64_t nt = sqli_val_int(a);
        if (a->type == SQL_NULL || nt <= 0)
            return sqli_vm_error(v, SQL_ERROR, "argument of ntile must be a positive integer");
        int64_t size = (int64_t)np / nt, large = (int64_t)np % nt, k = (int64_t)(i - pt->ps);
        int64_t b =
            k < large * (size + 1) ? k / (size + 1) : (k - large * (size + 1)) / size + large;
        val_set_int(out, b + 1);
        return SQL_OK;
    }
    case WF_LAG:
    case WF_LEAD: {
        int64_t off = e->nargs > 1 ? sqli_val_int(arg_at(r, e, w, pt, i, 1)) : 1;
        if (e->nargs > 1 && arg_at(r, e, w, pt, i, 1)->type == SQL_NULL) {
            val_set_null(out);
            return SQL_OK;
        }
        int64_t t = (int64_t)i + (e->param == WF_LAG ? -off : off);
        if (t >= (int64_t)pt->ps && t < (int64_t)pt->pe)
            sqli_val_copy(out, arg_at(r, e, w, pt, (size_t)t, 0));
        else if (e->nargs > 2)
            sqli_val_copy(out, arg_at(r, e, w, pt, i, 2));
        else
            val_set_null(out);
        return SQL_OK;
    }
    case WF_FIRST_VALUE:
    case WF_LAST_VALUE:
    case WF_NTH_VALUE: {
        size_t nth = 1;
        if (e->param == WF_NTH_VALUE) {
            const sql_value *a = arg_at(r, e, w, pt, i, 1);
            int64_t n = sqli_val_int(a);
            if (!val_is_num(a) || n <= 0)
                return sqli_vm_error(v, SQL_ERROR,
                                     "second argument to nth_value must be a positive integer");
            nth = (size_t)n;
        }
        size_t t = frame_nth(e->win, pt, i, fs, fe, nth, e->param == WF_LAST_VALUE);
        if (t != SIZE_MAX)
            sqli_val_copy(out, arg_at(r, e, w, pt, t, 0));
        else
            val_set_null(out);
        return SQL_OK;
    }
    default:
        return SQL_OK;
    }
}

/* A frame that ends at the partition's end and whose start moves: taken
 * from the last row backwards, the frame only grows (one pass, not one per
 * row). Not for group_concat and the JSON aggregates, whose results depend on
 * the order. */
static int agg_suffixes(vm *v, struct win_run *r, const expr *e, int w, part *pt, double offs) {
    agg_state st;
    memset(&st, 0, sizeof st);
    val_set_null(&st.best);
    sql_value args[4];
    int n = e->nargs < 4 ? e->nargs : 4, rc = SQL_OK, was_real = 0;
    size_t lo = pt->pe;
    pt->first_fs = bound_pos(r, e, w, pt, pt->ps, e->win->start, offs, 0);
    for (size_t k = pt->first_fs; k < pt->pe && e->fn->agg == AGG_SUM; k++)
        if (filter_at(r, e, w, pt, k) && not_int(arg_at(r, e, w, pt, k, 0))) was_real = 1;
    for (size_t i = pt->pe; i-- > pt->ps && rc == SQL_OK;) {
        size_t fs = bound_pos(r, e, w, pt, i, e->win->start, offs, 0);
        while (lo > fs && rc == SQL_OK) {
            lo--;
            if (!filter_at(r, e, w, pt, lo)) continue;
            for (int k = 0; k < n; k++) val_ref(&args[k], arg_at(r, e, w, pt, lo, k));
            rc = sqli_agg_step(v, e, &st, args, n);
        }
        sql_value tmp, *res = &r->res[pt->keys[i].row * (size_t)r->nwin + (size_t)w];
        val_set_null(&tmp);
        if (rc == SQL_OK) rc = sqli_agg_final(v, e, &st, &tmp);
        if (rc == SQL_OK) sqli_val_copy(res, &tmp);
        if (res->type == SQL_INTEGER && e->fn->agg == AGG_SUM && was_real && fs != pt->ps)
            val_set_real(res, (double)res->u.i);
    }
    sqli_agg_reset(&st);
    return rc;
}

static int compute_partition(vm *v, struct win_run *r, const expr *e, int w, part *pt, double offs,
                             double offe) {
    const windef *wd = e->win;
    size_t ng = 0;
    for (size_t i = pt->ps; i < pt->pe;) { /* peer groups */
        size_t j = i + 1;
        while (j < pt->pe && same_prefix(pt->kbase, &pt->keys[i], &pt->keys[j], 1)) j++;
        pt->gstart[ng] = i;
        for (size_t k = i; k < j; k++) pt->gs[k] = i, pt->ge[k] = j, pt->gno[k] = ng;
        ng++;
        i = j;
    }
    pt->ngroups = ng;
    if (e->param == WF_AGG && !wd->exclude && wd->end == FB_UNB_FOLL && wd->start != FB_UNB_PREC &&
        e->fn->agg != AGG_GROUP_CONCAT && e->fn->agg != AGG_JSON_ARRAY &&
        e->fn->agg != AGG_JSON_OBJECT)
        return agg_suffixes(v, r, e, w, pt, offs);
    agg_state st;
    memset(&st, 0, sizeof st);
    val_set_null(&st.best);
    size_t done = pt->ps;
    int rc = SQL_OK;
    for (size_t i = pt->ps; i < pt->pe && rc == SQL_OK; i++) {
        size_t fs = bound_pos(r, e, w, pt, i, wd->start, offs, 0);
        size_t fe = bound_pos(r, e, w, pt, i, wd->end, offe, 1);
        if (fe < fs) fe = fs;
        if (i == pt->ps) pt->first_fs = fs;
        sql_value *res = &r->res[pt->keys[i].row * (size_t)r->nwin + (size_t)w];
        if (e->param == WF_AGG && wd->exclude)
            rc = agg_excluding(v, r, e, w, pt, i, fs, fe, res);
        else if (e->param == WF_AGG)
            rc = agg_frame(v, r, e, w, pt, fs, fe, &st, &done, res);
        else
            rc = value_fn(v, r, e, w, pt, i, fs, fe, res);
    }
    sqli_agg_reset(&st);
    return rc;
}

static int compute_window(vm *v, qplan *p, int w, wsort *s) {
    struct win_run *r = p->wrt;
    const expr *e = p->wins[w];
    double offs = 0, offe = 0;
    int rc = frame_offset(v, e->win->start_n, e->win->frame, 1, &offs);
    if (rc == SQL_OK) rc = frame_offset(v, e->win->end_n, e->win->frame, 0, &offe);
    if (rc != SQL_OK) return rc;
    size_t n = r->rows.n;
    sort_rows(r, e, w, s);
    const wkey *keys = s->keys;
    part pt = {.keys = keys, .kbase = s->kb.p};
    pt.gs = xcalloc(n + 1, sizeof(size_t));
    pt.ge = xcalloc(n + 1, sizeof(size_t));
    pt.gno = xcalloc(n + 1, sizeof(size_t));
    pt.gstart = xcalloc(n + 1, sizeof(size_t));
    for (size_t i = 0; i < n && rc == SQL_OK;) {
        size_t j = i + 1;
        while (j < n && same_prefix(pt.kbase, &keys[i], &keys[j], 0)) j++;
        pt.ps = i;
        pt.pe = j;
        rc = compute_partition(v, r, e, w, &pt, offs, offe);
        i = j;
    }
    for (size_t i = 0; i < n; i++) r->order[i] = keys[i].row;
    xfree(pt.gs);
    xfree(pt.ge);
    xfree(pt.gno);
    xfree(pt.gstart);
    return rc;
}

/* ---- the block's output ---------------------------------------------------------------------- */

static void set_row(vm *v, qplan *p, const sql_value *vals) {
    int o = 0;
    for (int i = 0; i < p->nlvl_curs; i++) {
        cursor *c = sqli_vm_cursor(v, p->lvl_curs[i]);
        c->pseudo = vals ? (sql_value *)&vals[o] : NULL;
        o += c->ncol + 1;
    }
    for (int i = 0; vals && i < p->naggs; i++) val_ref(&p->aggvals[i], &vals[o + i]);
}

static void free_run(qplan *p) {
    struct win_run *r = p->wrt;
    if (!r) return;
    for (size_t i = 0; r->res && i < r->rows.n * (size_t)p->nwin; i++) val_free(&r->res[i]);
    xfree(r->res);
    xfree(r->order);
    xfree(r->inoff);
    xfree(r->cap);
    sqli_rowbuf_clear(&r->rows);
    xfree(r);
    p->wrt = NULL;
}

int sqli_win_prepare(vm *v, qplan *p) {
    free_run(p);
    struct win_run *r = xcalloc(1, sizeof *r);
    p->wrt = r;
    r->ncap = cap_width(v, p);
    r->nwin = p->nwin;
    r->inoff = xcalloc((size_t)p->nwin + 1, sizeof(int));
    int off = r->ncap + p->naggs;
    for (int w = 0; w < p->nwin; w++) {
        r->inoff[w] = off;
        off += win_inputs(p->wins[w]);
    }
    r->width = off;
    r->cap = xcalloc((size_t)off + 1, sizeof *r->cap);
    int rc;
    if (p->agg) { /* each group comes to sqli_agg_emit_row, which captures it */
        rc = sqli_run_agg(v, p);
    } else {
        while ((rc = sqli_q_block_next(v, p)) == SQL_ROW)
            if ((rc = sqli_win_capture(v, p)) != SQL_OK) break;
        if (rc == SQL_DONE) rc = SQL_OK;
    }
    size_t n = r->rows.n;
    r->res = xcalloc(n * (size_t)p->nwin + 1, sizeof *r->res);
    r->order = xcalloc(n + 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) r->order[i] = i;
    /* windows that sort alike share a sort; the groups of them go from the
     * last to the first window's, whose order the rows come out in, as
     * sqlite3 nests them */
    wsort ws = {0};
    for (int lead = p->nwin - 1; lead >= 0 && rc == SQL_OK; lead--) {
        if (sort_leader(p->wins, lead) != lead) continue;
        for (int w = lead; w < p->nwin && rc == SQL_OK; w++)
            if (w == lead || sort_leader(p->wins, w) == lead) rc = compute_window(v, p, w, &ws);
    }
    wsort_free(&ws);
    sql_value *saved_aggvals = p->aggvals;
    if (p->naggs) p->aggvals = xcalloc((size_t)p->naggs, sizeof *p->aggvals);
    for (size_t i = 0; i < n && rc == SQL_OK; i++) {
        size_t row = r->order[i];
        set_row(v, p, row_vals(r, row));
        p->winvals = &r->res[row * (size_t)p->nwin];
        rc = sqli_emit_row(v, p);
    }
    set_row(v, p, NULL);
    p->winvals = NULL;
    if (p->naggs) {
        xfree(p->aggvals);
        p->aggvals = saved_aggvals;
    }
    free_run(p);
    return rc;
}

void sqli_win_close(qplan *p) {
    free_run(p);
}
