/* sql/expr.c — expression evaluation.
 *
 * sqli_ex_eval computes one expression against the current rows of the cursors.
 * The result may borrow bytes (from a record, a literal, a parameter); the
 * caller releases it with val_free, which is a no-op for borrowed values.
 *
 * SQLite's rules throughout: NULL propagates through operators and gives
 * UNKNOWN in comparisons (three-valued AND/OR/NOT); comparisons first apply
 * the comparison affinity of their operands; integer arithmetic that
 * overflows continues in reals; division and modulo by zero give NULL; a
 * real NaN result is NULL; || works on text forms; LIKE is case-insensitive
 * for ASCII.
 *
 * Invariants:
 *   1. Every owned intermediate value is freed on every path (ASan-checked).
 *   2. An uncorrelated subquery runs at most once per statement execution
 *      (its result or IN-set is cached in the vm); a correlated one runs per
 *      evaluation.
 */
#include "sql/fts.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int eval(vm *v, const expr *e, sql_value *out);

/* ---- numbers --------------------------------------------------------------------------------- */

/* The numeric value of an operand for arithmetic: text by its numeric prefix. */
static void to_numeric(const sql_value *x, sql_value *n) {
    if (x->type == SQL_TEXT || x->type == SQL_BLOB) {
        int64_t i;
        double r;
        int k = sqli_num_prefix(x->z, x->n, &i, &r, 0);
        if (k == 2)
            val_set_real(n, r);
        else
            val_set_int(n, i);
        return;
    }
    *n = *x;
    n->owned = 0;
}

static void set_real_checked(sql_value *out, double r) {
    if (isnan(r))
        val_set_null(out);
    else
        val_set_real(out, r);
}

static int64_t pow10i(int k) {
    int64_t p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

/* Decimal arithmetic that left 18 digits: done in reals. */
static int dec_as_real(int op, const sql_value *a, const sql_value *b, sql_value *out) {
    double p = sqli_val_real(a), q = sqli_val_real(b), res;
    switch (op) {
    case E_ADD:
        res = p + q;
        break;
    case E_SUB:
        res = p - q;
        break;
    case E_MUL:
        res = p * q;
        break;
    case E_DIV:
        if (q == 0) return val_set_null(out), SQL_OK;
        res = p / q;
        break;
    default: {
        int64_t ia = (int64_t)p, ib = (int64_t)q;
        if (ib == 0) return val_set_null(out), SQL_OK;
        if (ib == -1) ib = 1;
        res = (double)(ia % ib);
    }
    }
    set_real_checked(out, res);
    return SQL_OK;
}

static int dec_arith(int op, const sql_value *a, const sql_value *b, sql_value *out) {
    int sa = a->type == SQL_DECIMAL ? a->scale : 0, sb = b->type == SQL_DECIMAL ? b->scale : 0;
    __int128 x = a->u.i, y = b->u.i, r;
    int sc = sa > sb ? sa : sb;
    const __int128 lim = 1000000000000000000LL;
    switch (op) {
    case E_ADD:
    case E_SUB:
        x *= pow10i(sc - sa);
        y *= pow10i(sc - sb);
        r = op == E_ADD ? x + y : x - y;
        break;
    case E_MUL:
        r = x * y;
        sc = sa + sb;
        while (sc > 18 || (r >= lim || r <= -lim)) {
            if (sc == 0) goto real;
            __int128 q = r / 10, m = r % 10;
            if (m >= 5)
                q++;
            else if (m <= -5)
                q--;
            r = q;
            sc--;
        }
        break;
    case E_DIV: {
        if (y == 0) return val_set_null(out), SQL_OK;
        int want = sc + 6 > 18 ? 18 : sc + 6;
        /* x/10^sa / (y/10^sb) = x * 10^(sb - sa + want) / y, at scale want */
        int shift = sb - sa + want;
        if (shift < 0 || shift > 36) goto real;
        __int128 num = x;
        for (int i = 0; i < shift; i++) {
            if (num > lim * lim || num < -lim * lim) goto real;
            num *= 10;
        }
        __int128 q = num / y, m = num % y;
        if (2 * (m < 0 ? -m : m) >= (y < 0 ? -y : y)) q += ((num < 0) != (y < 0)) ? -1 : 1;
        r = q;
        sc = want;
        while (sc > 0 && r % 10 == 0 && sc > (sa > sb ? sa : sb)) r /= 10, sc--;
        break;
    }
    default:
        goto real;
    }
    if (r >= lim || r <= -lim) goto real;
    val_set_dec(out, (int64_t)r, sc);
    return SQL_OK;
real:
    return dec_as_real(op, a, b, out);
}

static int int_arith(int op, int64_t a, int64_t b, sql_value *out) {
    int64_t r;
    switch (op) {
    case E_ADD:
        if (__builtin_add_overflow(a, b, &r))
            return set_real_checked(out, (double)a + (double)b), SQL_OK;
        break;
    case E_SUB:
        if (__builtin_sub_overflow(a, b, &r))
            return set_real_checked(out, (double)a - (double)b), SQL_OK;
        break;
    case E_MUL:
        if (__builtin_mul_overflow(a, b, &r))
            return set_real_checked(out, (double)a * (double)b), SQL_OK;
        break;
    case E_DIV:
        if (b == 0) return val_set_null(out), SQL_OK;
        if (a == INT64_MIN && b == -1) return set_real_checked(out, -(double)a), SQL_OK;
        r = a / b;
        break;
    default: /* E_MOD */
        if (b == 0) return val_set_null(out), SQL_OK;
        if (b == -1) b = 1;
        r = a % b;
        break;
    }
    val_set_int(out, r);
    return SQL_OK;
}

static int arith(int op, const sql_value *x, const sql_value *y, sql_value *out) {
    if (x->type == SQL_INTEGER && y->type == SQL_INTEGER) return int_arith(op, x->u.i, y->u.i, out);
    if (x->type == SQL_NULL || y->type == SQL_NULL) return val_set_null(out), SQL_OK;
    sql_value a, b;
    to_numeric(x, &a);
    to_numeric(y, &b);
    if (a.type == SQL_INTEGER && b.type == SQL_INTEGER) return int_arith(op, a.u.i, b.u.i, out);
    if (a.type != SQL_FLOAT && b.type != SQL_FLOAT) return dec_arith(op, &a, &b, out);
    double p = sqli_val_real(&a), q = sqli_val_real(&b);
    switch (op) {
    case E_ADD:
        set_real_checked(out, p + q);
        break;
    case E_SUB:
        set_real_checked(out, p - q);
        break;
    case E_MUL:
        set_real_checked(out, p * q);
        break;
    case E_DIV:
        if (q == 0)
            val_set_null(out);
        else
            set_real_checked(out, p / q);
        break;
    default: {
        int64_t ia = sqli_val_int(&a), ib = sqli_val_int(&b);
        if (ib == 0) return val_set_null(out), SQL_OK;
        if (ib == -1) ib = 1;
        set_real_checked(out, (double)(ia % ib));
    }
    }
    return SQL_OK;
}

static int64_t shift_left(int64_t a, int64_t b) {
    if (b < 0) {
        if (b <= -64) return a < 0 ? -1 : 0;
        return a >> -b;
    }
    if (b >= 64) return 0;
    return (int64_t)((uint64_t)a << b);
}

static int bitop(int op, const sql_value *x, const sql_value *y, sql_value *out) {
    if (x->type == SQL_NULL || y->type == SQL_NULL) return val_set_null(out), SQL_OK;
    sql_value a, b;
    to_numeric(x, &a);
    to_numeric(y, &b);
    int64_t i = sqli_val_int(&a), j = sqli_val_int(&b);
    switch (op) {
    case E_BITAND:
        val_set_int(out, i & j);
        break;
    case E_BITOR:
        val_set_int(out, i | j);
        break;
    case E_SHL:
        val_set_int(out, shift_left(i, j));
        break;
    default:
        val_set_int(out, j == INT64_MIN ? shift_left(i, INT64_MAX) : shift_left(i, -j));
        break;
    }
    return SQL_OK;
}

/* ---- comparison -------------------------------------------------------------------------------
 */

static int nocase_cmp(const sql_value *a, const sql_value *b) {
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a->z[i], y = (unsigned char)b->z[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return x - y;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

/* Compare under a comparison affinity (applied to copies). */
int sqli_ex_cmp_values(const sql_value *a, const sql_value *b, int aff, int nocase) {
    sql_value x = *a, y = *b;
    x.owned = y.owned = 0;
    if (aff == AFF_TEXT || AFF_IS_NUMERIC(aff)) {
        if (x.type == SQL_TEXT || y.type == SQL_TEXT || aff == AFF_TEXT) {
            sqli_val_apply_aff(&x, aff == AFF_TEXT ? AFF_TEXT : AFF_NUMERIC);
            sqli_val_apply_aff(&y, aff == AFF_TEXT ? AFF_TEXT : AFF_NUMERIC);
        }
    }
    int c = nocase && x.type == SQL_TEXT && y.type == SQL_TEXT ? nocase_cmp(&x, &y)
                                                               : sqli_val_cmp(&x, &y);
    val_free(&x);
    val_free(&y);
    return c;
}

static int is_nocase(const expr *l, const expr *r) {
    return ((l->flags | (r ? r->flags : 0)) & EF_NOCASE) != 0;
}

/* Comparison operator on two evaluated operands: 1, 0, or NULL. */
static void compare(int op, const expr *l, const expr *r, const sql_value *a, const sql_value *b,
                    sql_value *out) {
    int anull = a->type == SQL_NULL, bnull = b->type == SQL_NULL;
    if (op == E_IS || op == E_ISNOT) {
        int eq = anull || bnull
                     ? anull && bnull
                     : sqli_ex_cmp_values(a, b, sqli_cmp_affinity(l, r), is_nocase(l, r)) == 0;
        val_set_int(out, op == E_IS ? eq : !eq);
        return;
    }
    if (anull || bnull) return val_set_null(out);
    int aff = sqli_cmp_affinity(l, r), c, t;
    if (a->type == SQL_INTEGER && b->type == SQL_INTEGER && aff != AFF_TEXT)
        c = a->u.i < b->u.i ? -1 : a->u.i > b->u.i; /* no affinity changes two integers */
    else
        c = sqli_ex_cmp_values(a, b, aff, is_nocase(l, r));
    switch (op) {
    case E_EQ:
        t = c == 0;
        break;
    case E_NE:
        t = c != 0;
        break;
    case E_LT:
        t = c < 0;
        break;
    case E_LE:
        t = c <= 0;
        break;
    case E_GT:
        t = c > 0;
        break;
    default:
        t = c >= 0;
        break;
    }
    val_set_int(out, t);
}

static void set_truth(sql_value *out, int t) {
    if (t < 0)
        val_set_null(out);
    else
        val_set_int(out, t);
}

/* ---- LIKE / GLOB --------------------------------------------------------------------------------
 */

static size_t u8len(const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return l > n ? n : l;
}

static int fold(int c, int nocase) {
    return nocase && c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* [...] class at p (after '['); returns pattern bytes consumed (0 if bad) and
 * whether ch matches. */
static size_t glob_class(const uint8_t *p, size_t pn, const uint8_t *ch, size_t chl, int *match) {
    size_t i = 0;
    int neg = 0, m = 0;
    if (i < pn && p[i] == '^') neg = 1, i++;
    int first = 1;
    while (i < pn && (p[i] != ']' || first)) {
        first = 0;
        size_t l = u8len(p + i, pn - i);
        if (i + l + 1 < pn && p[i + l] == '-' && p[i + l + 1] != ']') {
            size_t l2 = u8len(p + i + l + 1, pn - i - l - 1);
            if (chl == 1 && l == 1 && l2 == 1 && ch[0] >= p[i] && ch[0] <= p[i + l + 1]) m = 1;
            i += l + 1 + l2;
            continue;
        }
        if (l == chl && memcmp(p + i, ch, l) == 0) m = 1;
        i += l;
    }
    if (i >= pn) return 0;
    *match = m != neg;
    return i + 1;
}

static int pattern_match(const uint8_t *p, size_t pn, const uint8_t *s, size_t sn, int glob,
                         int esc) {
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    int many = glob ? '*' : '%', one = glob ? '?' : '_';
    while (si < sn) {
        if (pi < pn) {
            int c = p[pi];
            if (esc >= 0 && c == esc && pi + 1 < pn) {
                size_t l = u8len(p + pi + 1, pn - pi - 1), sl = u8len(s + si, sn - si);
                if (l == sl && (l > 1 ? memcmp(p + pi + 1, s + si, l) == 0
                                      : fold(p[pi + 1], !glob) == fold(s[si], !glob))) {
                    pi += 1 + l;
                    si += sl;
                    continue;
                }
            } else if (c == many) {
                star_p = pi++;
                star_s = si;
                continue;
            } else if (c == one) {
                pi++;
                si += u8len(s + si, sn - si);
                continue;
            } else if (glob && c == '[') {
                int m = 0;
                size_t sl = u8len(s + si, sn - si);
                size_t used = glob_class(p + pi + 1, pn - pi - 1, s + si, sl, &m);
                if (used && m) {
                    pi += 1 + used;
                    si += sl;
                    continue;
                }
            } else if (fold(c, !glob) == fold(s[si], !glob)) {
                pi++;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1) return 0;
        pi = star_p + 1;
        star_s += u8len(s + star_s, sn - star_s);
        si = star_s;
    }
    while (pi < pn && p[pi] == many) pi++;
    return pi == pn;
}

int sqli_ex_like(const sql_value *pat, const sql_value *str, int glob, int esc) {
    char b1[40], b2[40];
    size_t pn, sn;
    const char *p = sqli_val_text(pat, b1, &pn), *s = sqli_val_text(str, b2, &sn);
    return pattern_match((const uint8_t *)p, pn, (const uint8_t *)s, sn, glob, esc);
}

static int eval_like(vm *v, const expr *e, sql_value *out) {
    sql_value a, b, esc;
    int rc = eval(v, e->l, &a), t, ec = -1;
    if (rc != SQL_OK) return rc;
    if ((rc = eval(v, e->r, &b)) != SQL_OK) return val_free(&a), rc;
    val_set_null(&esc);
    if (e->nargs && (rc = eval(v, e->args[0], &esc)) != SQL_OK) goto done;
    if (a.type == SQL_NULL || b.type == SQL_NULL || (e->nargs && esc.type == SQL_NULL)) {
        val_set_null(out);
        goto done;
    }
    if (e->nargs) {
        char buf[40];
        size_t n;
        const char *z = sqli_val_text(&esc, buf, &n);
        if (n != u8len((const uint8_t *)z, n) || n != 1) {
            rc = sqli_vm_error(v, SQL_ERROR, "ESCAPE expression must be a single character");
            goto done;
        }
        ec = (unsigned char)z[0];
    }
    t = sqli_ex_like(&b, &a, (e->flags & EF_GLOB) != 0, ec);
    val_set_int(out, (e->flags & EF_NOT) ? !t : t);
done:
    val_free(&a);
    val_free(&b);
    val_free(&esc);
    return rc;
}

/* ---- IN, BETWEEN, CASE --------------------------------------------------------------------------
 */

typedef struct subcache {
    int done;
    sql_value val;
    bmap *set;
    int has_null, nrows;
} subcache;

static subcache *sub_cache(vm *v, const expr *e) {
    int no = e->sub->plan->subno;
    if (no <= 0 || e->sub->plan->nocache) return NULL;
    vm_subcache *sc = &v->subc;
    if (no >= sc->n) {
        int n = no + 8;
        sc->v = xrealloc(sc->v, sizeof(subcache) * (size_t)n);
        memset((subcache *)sc->v + sc->n, 0, sizeof(subcache) * (size_t)(n - sc->n));
        sc->n = n;
    }
    return (subcache *)sc->v + no;
}

void sqli_vm_subcache_clear(vm *v) {
    subcache *c = v->subc.v;
    for (int i = 0; i < v->subc.n; i++) {
        val_free(&c[i].val);
        if (c[i].set) {
            sqli_bmap_clear(c[i].set);
            xfree(c[i].set);
        }
    }
    xfree(c);
    v->subc.v = NULL;
    v->subc.n = 0;
}

static int in_list(vm *v, const expr *e, const sql_value *x, sql_value *out) {
    int has_null = 0;
    for (int i = 0; i < e->nargs; i++) {
        const expr *a = e->args[i];
        /* two integers are equal under any affinity and collation: no need
         * to evaluate the literal or work out how to compare */
        if (x->type == SQL_INTEGER && a->op == E_LIT && a->lit.type == SQL_INTEGER) {
            if (a->lit.u.i == x->u.i) return val_set_int(out, 1), SQL_OK;
            continue;
        }
        sql_value y;
        int rc = eval(v, e->args[i], &y);
        if (rc != SQL_OK) return rc;
        if (y.type == SQL_NULL) {
            has_null = 1;
            continue;
        }
        int c = sqli_ex_cmp_values(x, &y, sqli_cmp_affinity(e->l, e->args[i]),
                                   is_nocase(e->l, e->args[i]));
        val_free(&y);
        if (c == 0) return val_set_int(out, 1), SQL_OK;
    }
    set_truth(out, has_null ? -1 : 0);
    return SQL_OK;
}

static const expr *sub_first_col(const expr *e) {
    const query *q = e->sub;
    while (q->op != SEL_SIMPLE) q = q->left;
    return q->cols[0].e;
}

static void set_key_aff(keyenc_buf *k, const sql_value *x, int aff) {
    sql_value t = *x;
    t.owned = 0;
    sqli_val_apply_aff(&t, aff == AFF_TEXT       ? AFF_TEXT
                           : AFF_IS_NUMERIC(aff) ? AFF_NUMERIC
                                                 : AFF_NONE);
    sqli_keyenc_reset(k);
    sqli_key_add(k, &t, 0);
    val_free(&t);
}

static int build_in_set(vm *v, const expr *e, subcache *c, int aff) {
    qplan *p = e->sub->plan;
    c->set = xcalloc(1, sizeof *c->set);
    int rc = sqli_q_open(v, p);
    while (rc == SQL_OK && (rc = sqli_q_next(v, p)) == SQL_ROW) {
        rc = SQL_OK;
        c->nrows++;
        if (p->out[0].type == SQL_NULL) {
            c->has_null = 1;
            continue;
        }
        set_key_aff(&v->kb2, &p->out[0], aff);
        sqli_bmap_get(c->set, v->kb2.p, v->kb2.len, 1, NULL);
    }
    sqli_q_close(v, p);
    if (rc != SQL_DONE && rc != SQL_OK) return rc;
    c->done = 1;
    return SQL_OK;
}

static int in_select(vm *v, const expr *e, const sql_value *x, sql_value *out) {
    const expr *rc0 = sub_first_col(e);
    int aff = sqli_cmp_affinity(e->l, rc0), nocase = is_nocase(e->l, rc0);
    if (!e->correlated && !nocase) {
        subcache *c = sub_cache(v, e);
        if (c && !c->done) {
            int rc = build_in_set(v, e, c, aff);
            if (rc != SQL_OK) return rc;
        }
        if (c) {
            if (c->nrows == 0) return val_set_int(out, 0), SQL_OK;
            if (x->type == SQL_NULL) return val_set_null(out), SQL_OK;
            set_key_aff(&v->kb2, x, aff);
            if (sqli_bmap_get(c->set, v->kb2.p, v->kb2.len, 0, NULL))
                return val_set_int(out, 1), SQL_OK;
            set_truth(out, c->has_null ? -1 : 0);
            return SQL_OK;
        }
    }
    qplan *p = e->sub->plan;
    int rc = sqli_q_open(v, p), found = 0, has_null = 0, any = 0;
    while (rc == SQL_OK && (rc = sqli_q_next(v, p)) == SQL_ROW) {
        rc = SQL_OK;
        any = 1;
        if (x->type == SQL_NULL) break;
        if (p->out[0].type == SQL_NULL) {
            has_null = 1;
            continue;
        }
        if (sqli_ex_cmp_values(x, &p->out[0], aff, nocase) == 0) {
            found = 1;
            break;
        }
    }
    sqli_q_close(v, p);
    if (rc != SQL_OK && rc != SQL_DONE) return rc;
    if (!any)
        val_set_int(out, 0);
    else if (found)
        val_set_int(out, 1);
    else
        set_truth(out, x->type == SQL_NULL || has_null ? -1 : 0);
    return SQL_OK;
}

static int eval_in(vm *v, const expr *e, sql_value *out) {
    sql_value x;
    int rc = eval(v, e->l, &x);
    if (rc != SQL_OK) return rc;
    if (e->op == E_IN_LIST) {
        if (e->nargs == 0)
            val_set_int(out, 0);
        else if (x.type == SQL_NULL)
            val_set_null(out);
        else
            rc = in_list(v, e, &x, out);
    } else {
        rc = in_select(v, e, &x, out);
    }
    val_free(&x);
    if (rc == SQL_OK && (e->flags & EF_NOT) && out->type != SQL_NULL) out->u.i = !out->u.i;
    return rc;
}

static int eval_between(vm *v, const expr *e, sql_value *out) {
    sql_value x, lo, hi, a, b;
    int rc = eval(v, e->l, &x);
    if (rc != SQL_OK) return rc;
    if ((rc = eval(v, e->args[0], &lo)) != SQL_OK) return val_free(&x), rc;
    if ((rc = eval(v, e->args[1], &hi)) != SQL_OK) return val_free(&x), val_free(&lo), rc;
    compare(E_GE, e->l, e->args[0], &x, &lo, &a);
    compare(E_LE, e->l, e->args[1], &x, &hi, &b);
    int ta = sqli_val_truth(&a), tb = sqli_val_truth(&b), t;
    t = ta == 0 || tb == 0 ? 0 : ta < 0 || tb < 0 ? -1 : 1;
    if ((e->flags & EF_NOT) && t >= 0) t = !t;
    set_truth(out, t);
    val_free(&x);
    val_free(&lo);
    val_free(&hi);
    return SQL_OK;
}

static int eval_case(vm *v, const expr *e, sql_value *out) {
    sql_value base;
    int rc;
    val_set_null(&base);
    if (e->l && (rc = eval(v, e->l, &base)) != SQL_OK) return rc;
    for (int i = 0; i + 1 < e->nargs; i += 2) {
        int hit;
        if (e->l) {
            sql_value w;
            if ((rc = eval(v, e->args[i], &w)) != SQL_OK) return val_free(&base), rc;
            hit = base.type != SQL_NULL && w.type != SQL_NULL &&
                  sqli_ex_cmp_values(&base, &w, sqli_cmp_affinity(e->l, e->args[i]),
                                     is_nocase(e->l, e->args[i])) == 0;
            val_free(&w);
        } else {
            int t;
            if ((rc = sqli_ex_truth(v, e->args[i], &t)) != SQL_OK) return rc;
            hit = t == 1;
        }
        if (hit) {
            val_free(&base);
            return eval(v, e->args[i + 1], out);
        }
    }
    val_free(&base);
    if (e->r) return eval(v, e->r, out);
    val_set_null(out);
    return SQL_OK;
}

/* ---- subqueries
 * ---------------------------------------------------------------------------------- */

static int eval_scalar_sub(vm *v, const expr *e, sql_value *out) {
    subcache *c = e->correlated ? NULL : sub_cache(v, e);
    if (c && c->done) {
        val_ref(out, &c->val);
        return SQL_OK;
    }
    qplan *p = e->sub->plan;
    int rc = sqli_q_open(v, p);
    sql_value r;
    val_set_null(&r);
    if (rc == SQL_OK) rc = sqli_q_next(v, p);
    if (rc == SQL_ROW) {
        if (e->op == E_EXISTS)
            val_set_int(&r, 1);
        else
            sqli_val_copy(&r, &p->out[0]);
        rc = SQL_OK;
    } else if (rc == SQL_DONE) {
        if (e->op == E_EXISTS) val_set_int(&r, 0);
        rc = SQL_OK;
    }
    sqli_q_close(v, p);
    if (rc != SQL_OK) return val_free(&r), rc;
    if (c) {
        c->val = r;
        c->done = 1;
        val_ref(out, &c->val);
    } else {
        *out = r;
    }
    return SQL_OK;
}

/* ---- functions and the rest
 * ------------------------------------------------------------------------ */

static int eval_func(vm *v, const expr *e, sql_value *out) {
    if (e->fn->flags & FN_FTS) return sqli_fts_eval(v, e, out);
    sql_value small[8],
        *args = e->nargs <= 8 ? small : xmalloc(sizeof(sql_value) * (size_t)e->nargs);
    int rc = SQL_OK, n = 0;
    for (; n < e->nargs && rc == SQL_OK; n++) rc = eval(v, e->args[n], &args[n]);
    if (rc == SQL_OK) {
        val_set_null(out);
        rc = e->fn->fn(v, e->nargs, args, out);
    } else {
        n--;
    }
    for (int i = 0; i < n; i++) val_free(&args[i]);
    if (args != small) xfree(args);
    return rc;
}

static int eval_unary(vm *v, const expr *e, sql_value *out) {
    sql_value x;
    int rc = eval(v, e->l, &x);
    if (rc != SQL_OK) return rc;
    if (e->op == E_POS) {
        *out = x;
        return SQL_OK;
    }
    if (x.type == SQL_NULL) {
        val_set_null(out);
        return SQL_OK;
    }
    if (e->op == E_NOT) {
        int t = sqli_val_truth(&x);
        val_free(&x);
        val_set_int(out, !t);
        return SQL_OK;
    }
    sql_value n;
    to_numeric(&x, &n);
    val_free(&x);
    if (e->op == E_BITNOT) {
        val_set_int(out, ~sqli_val_int(&n));
    } else if (n.type == SQL_INTEGER) {
        if (n.u.i == INT64_MIN)
            val_set_real(out, 9223372036854775808.0);
        else
            val_set_int(out, -n.u.i);
    } else if (n.type == SQL_DECIMAL) {
        val_set_dec(out, -n.u.i, n.scale);
    } else {
        val_set_real(out, -n.u.r);
    }
    return SQL_OK;
}

static int eval_concat(vm *v, const expr *e, sql_value *out) {
    sql_value a, b;
    int rc = eval(v, e->l, &a);
    if (rc != SQL_OK) return rc;
    if ((rc = eval(v, e->r, &b)) != SQL_OK) return val_free(&a), rc;
    if (a.type == SQL_NULL || b.type == SQL_NULL) {
        val_set_null(out);
    } else {
        char b1[40], b2[40];
        size_t n1, n2;
        const char *p = sqli_val_text(&a, b1, &n1), *q = sqli_val_text(&b, b2, &n2);
        char *r = xmalloc(n1 + n2 + 1);
        memcpy(r, p, n1);
        memcpy(r + n1, q, n2);
        r[n1 + n2] = 0;
        sqli_val_set_text_own(out, r, n1 + n2);
    }
    val_free(&a);
    val_free(&b);
    return SQL_OK;
}

static int eval_logic(vm *v, const expr *e, sql_value *out) {
    int a, b, rc = sqli_ex_truth(v, e->l, &a);
    if (rc != SQL_OK) return rc;
    if (e->op == E_AND && a == 0) return val_set_int(out, 0), SQL_OK;
    if (e->op == E_OR && a == 1) return val_set_int(out, 1), SQL_OK;
    if ((rc = sqli_ex_truth(v, e->r, &b)) != SQL_OK) return rc;
    int t;
    if (e->op == E_AND)
        t = b == 0 ? 0 : (a < 0 || b < 0) ? -1 : 1;
    else
        t = b == 1 ? 1 : (a < 0 || b < 0) ? -1 : 0;
    set_truth(out, t);
    return SQL_OK;
}

static int eval_binary(vm *v, const expr *e, sql_value *out) {
    sql_value a, b;
    int rc = eval(v, e->l, &a);
    if (rc != SQL_OK) return rc;
    if ((rc = eval(v, e->r, &b)) != SQL_OK) return val_free(&a), rc;
    switch (e->op) {
    case E_ADD:
    case E_SUB:
    case E_MUL:
    case E_DIV:
    case E_MOD:
        rc = arith(e->op, &a, &b, out);
        break;
    case E_BITAND:
    case E_BITOR:
    case E_SHL:
    case E_SHR:
        rc = bitop(e->op, &a, &b, out);
        break;
    default:
        compare(e->op, e->l, e->r, &a, &b, out);
        break;
    }
    val_free(&a);
    val_free(&b);
    return rc;
}

static int eval_cast(vm *v, const expr *e, sql_value *out) {
    int rc = eval(v, e->l, out);
    if (rc != SQL_OK) return rc;
    char *err = NULL;
    if (sqli_val_cast(out, e->aff, e->kind, e->cast_p, e->cast_s, &err) != 0) {
        val_free(out);
        return sqli_vm_error(v, SQL_ERROR, "%s", err ? err : "cannot CAST");
    }
    return SQL_OK;
}

static int eval(vm *v, const expr *e, sql_value *out) {
    switch (e->op) {
    case E_LIT:
        val_ref(out, &e->lit);
        return SQL_OK;
    case E_PARAM:
        if (e->param <= v->nparam)
            val_ref(out, &v->params[e->param - 1]);
        else
            val_set_null(out);
        return SQL_OK;
    case E_COL:
        if (e->cur == CUR_SELF) {
            if (v->self && e->col >= 0)
                val_ref(out, &v->self[e->col]);
            else
                val_set_null(out);
        } else {
            val_ref(out, sqli_cur_col(v, sqli_vm_cursor(v, e->cur), e->col));
        }
        return SQL_OK;
    case E_AGG: {
        qplan *p = e->owner->plan;
        if (p && p->aggvals)
            val_ref(out, &p->aggvals[e->slot]);
        else
            val_set_null(out);
        return SQL_OK;
    }
    case E_WIN: {
        qplan *p = e->owner->plan;
        if (p && p->winvals)
            val_ref(out, &p->winvals[e->slot]);
        else
            val_set_null(out);
        return SQL_OK;
    }
    case E_NEG:
    case E_POS:
    case E_NOT:
    case E_BITNOT:
        return eval_unary(v, e, out);
    case E_AND:
    case E_OR:
        return eval_logic(v, e, out);
    case E_CONCAT:
        return eval_concat(v, e, out);
    case E_ISNULL:
    case E_NOTNULL: {
        sql_value x;
        int rc = eval(v, e->l, &x);
        if (rc != SQL_OK) return rc;
        val_set_int(out, (x.type == SQL_NULL) == (e->op == E_ISNULL));
        val_free(&x);
        return SQL_OK;
    }
    case E_BETWEEN:
        return eval_between(v, e, out);
    case E_IN_LIST:
    case E_IN_SEL:
        return eval_in(v, e, out);
    case E_LIKE:
        return eval_like(v, e, out);
    case E_CASE:
        return eval_case(v, e, out);
    case E_CAST:
        return eval_cast(v, e, out);
    case E_FUNC:
        return eval_func(v, e, out);
    case E_SUBQ:
    case E_EXISTS:
        return eval_scalar_sub(v, e, out);
    case E_COLLATE:
        return eval(v, e->l, out);
    case E_RAISE:
        if (!v->in_trigger)
            return sqli_vm_error(v, SQL_ERROR, "RAISE() may only be used within a trigger-program");
        if (e->param == OE_IGNORE) return RC_IGNORE;
        return sqli_vm_error(v, SQL_CONSTRAINT, "%s", e->name);
    case E_DEFAULT:
        return sqli_vm_error(v, SQL_ERROR, "DEFAULT is only allowed in VALUES and SET");
    default:
        return eval_binary(v, e, out);
    }
}

int sqli_ex_eval(vm *v, const expr *e, sql_value *out) {
    val_set_null(out);
    return eval(v, e, out);
}

int sqli_ex_truth(vm *v, const expr *e, int *t) {
    sql_value x;
    int rc = sqli_ex_eval(v, e, &x);
    if (rc != SQL_OK) return rc;
    *t = sqli_val_truth(&x);
    val_free(&x);
    return SQL_OK;
}
