/* sql/func.c — the function library: string, math and misc scalar functions,
 * and the table of aggregates (their states live in agg.c).
 *
 * Behaviour follows SQLite's documented built-ins (lower/upper and LIKE fold
 * ASCII only; substr counts characters of text and bytes of blobs; round()
 * rounds half away from zero and returns a real; math functions return
 * reals except ceil/floor of integers).
 *
 * Invariants:
 *   1. A function gets its arguments evaluated (borrowed or owned by the
 *      caller) and writes a result it owns or that borrows from an argument
 *      only when the argument outlives the call (never: results are copies).
 *   2. sqli_func_find is a binary search of a table sorted by name (asserted in
 *      the unit test through sqli_func_table_sorted).
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>

#define F(name) static int name(vm *v, int argc, sql_value *a, sql_value *out)
#define UNUSED (void)v, (void)argc

static int any_null(int argc, const sql_value *a) {
    for (int i = 0; i < argc; i++)
        if (a[i].type == SQL_NULL) return 1;
    return 0;
}

static const char *text_of(const sql_value *x, char *buf, size_t *n) {
    const char *z = sqli_val_text(x, buf, n);
    return z ? z : "";
}

static void out_text(sql_value *out, const char *z, size_t n) {
    sqli_val_set_text_copy(out, z, n);
}

static size_t utf8_chars(const char *z, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)z[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Byte offset of character k (0-based) in z[0..n). */
static size_t utf8_off(const char *z, size_t n, size_t k) {
    size_t i = 0;
    while (i < n && k > 0) {
        i++;
        while (i < n && ((unsigned char)z[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

/* ---- string functions ------------------------------------------------------------------------ */

F(f_length) {
    UNUSED;
    char buf[40];
    size_t n;
    if (a[0].type == SQL_NULL) return SQL_OK;
    if (a[0].type == SQL_BLOB) return val_set_int(out, a[0].n), SQL_OK;
    const char *z = text_of(&a[0], buf, &n);
    size_t nul = 0;
    while (nul < n && z[nul]) nul++; /* text stops at a NUL, as in SQLite */
    val_set_int(out, (int64_t)utf8_chars(z, nul));
    return SQL_OK;
}

F(f_octet_length) {
    UNUSED;
    char buf[40];
    size_t n;
    if (a[0].type == SQL_NULL) return SQL_OK;
    text_of(&a[0], buf, &n);
    val_set_int(out, (int64_t)n);
    return SQL_OK;
}

static int case_map(const sql_value *x, sql_value *out, int upper) {
    char buf[40];
    size_t n;
    if (x->type == SQL_NULL) return SQL_OK;
    const char *z = text_of(x, buf, &n);
    char *r = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        if (upper && c >= 'a' && c <= 'z') c -= 32;
        if (!upper && c >= 'A' && c <= 'Z') c += 32;
        r[i] = c;
    }
    r[n] = 0;
    sqli_val_set_text_own(out, r, n);
    return SQL_OK;
}

F(f_lower) {
    UNUSED;
    return case_map(&a[0], out, 0);
}
F(f_upper) {
    UNUSED;
    return case_map(&a[0], out, 1);
}

F(f_substr) {
    UNUSED;
    if (any_null(argc, a)) return SQL_OK;
    char buf[40];
    size_t n;
    int blob = a[0].type == SQL_BLOB;
    const char *z = text_of(&a[0], buf, &n);
    int64_t len = blob ? (int64_t)n : (int64_t)utf8_chars(z, n);
    int64_t y = sqli_val_int(&a[1]), zc = argc > 2 ? sqli_val_int(&a[2]) : INT64_MAX / 4;
    if (y < 0) y += len + 1;
    int64_t from = y, to;
    if (zc < 0) {
        from = y + zc;
        to = y;
    } else {
        to = y + (zc > INT64_MAX / 4 ? INT64_MAX / 4 : zc);
    }
    if (from < 1) from = 1;
    if (to > len + 1) to = len + 1;
    if (to <= from) {
        if (blob)
            sqli_val_set_blob_own(out, xmalloc(1), 0);
        else
            out_text(out, "", 0);
        return SQL_OK;
    }
    size_t b0 = blob ? (size_t)(from - 1) : utf8_off(z, n, (size_t)(from - 1));
    size_t b1 = blob ? (size_t)(to - 1) : utf8_off(z, n, (size_t)(to - 1));
    if (blob)
        sqli_val_set_blob_own(out, xmemdup(z + b0, b1 - b0), b1 - b0);
    else
        out_text(out, z + b0, b1 - b0);
    return SQL_OK;
}

static int in_set(const char *set, size_t sn, const char *c, size_t cl) {
    for (size_t i = 0; i < sn;) {
        size_t l = 1;
        while (i + l < sn && ((unsigned char)set[i + l] & 0xC0) == 0x80) l++;
        if (l == cl && memcmp(set + i, c, l) == 0) return 1;
        i += l;
    }
    return 0;
}

static int do_trim(int argc, sql_value *a, sql_value *out, int left, int right) {
    if (any_null(argc, a)) return SQL_OK;
    char b1[40], b2[40];
    size_t n, sn = 1;
    const char *z = text_of(&a[0], b1, &n), *set = " ";
    if (argc > 1) set = text_of(&a[1], b2, &sn);
    size_t s = 0, e = n;
    while (left && s < e) {
        size_t l = 1;
        while (s + l < e && ((unsigned char)z[s + l] & 0xC0) == 0x80) l++;
        if (!in_set(set, sn, z + s, l)) break;
        s += l;
    }
    while (right && e > s) {
        size_t st = e - 1;
        while (st > s && ((unsigned char)z[st] & 0xC0) == 0x80) st--;
        if (!in_set(set, sn, z + st, e - st)) break;
        e = st;
    }
    out_text(out, z + s, e - s);
    return SQL_OK;
}

F(f_trim) {
    UNUSED;
    return do_trim(argc, a, out, 1, 1);
}
F(f_ltrim) {
    UNUSED;
    return do_trim(argc, a, out, 1, 0);
}
F(f_rtrim) {
    UNUSED;
    return do_trim(argc, a, out, 0, 1);
}

F(f_replace) {
    UNUSED;
    if (any_null(argc, a)) return SQL_OK;
    char b1[40], b2[40], b3[40];
    size_t n, pn, rn;
    const char *z = text_of(&a[0], b1, &n), *p = text_of(&a[1], b2, &pn),
               *r = text_of(&a[2], b3, &rn);
    if (pn == 0) {
        out_text(out, z, n);
        return SQL_OK;
    }
    strb b = {0};
    for (size_t i = 0; i < n;) {
        if (i + pn <= n && memcmp(z + i, p, pn) == 0) {
            sqli_strb_add(&b, r, rn);
            i += pn;
        } else {
            sqli_strb_addc(&b, z[i++]);
        }
    }
    sqli_val_set_text_own(out, b.p ? b.p : xstrdup(""), b.n);
    return SQL_OK;
}

F(f_instr) {
    UNUSED;
    if (any_null(argc, a)) return SQL_OK;
    char b1[40], b2[40];
    size_t n, pn;
    const char *z = text_of(&a[0], b1, &n), *p = text_of(&a[1], b2, &pn);
    int blob = a[0].type == SQL_BLOB && a[1].type == SQL_BLOB;
    for (size_t i = 0; i + pn <= n; i++)
        if (memcmp(z + i, p, pn) == 0) {
            val_set_int(out, blob ? (int64_t)i + 1 : (int64_t)utf8_chars(z, i) + 1);
            return SQL_OK;
        }
    val_set_int(out, 0);
    return SQL_OK;
}

F(f_hex) {
    UNUSED;
    char buf[40];
    size_t n;
    const char *z = a[0].type == SQL_NULL ? "" : text_of(&a[0], buf, &n);
    if (a[0].type == SQL_NULL) n = 0;
    char *r = xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) sprintf(r + 2 * i, "%02X", (unsigned char)z[i]);
    r[2 * n] = 0;
    sqli_val_set_text_own(out, r, 2 * n);
    return SQL_OK;
}

static void quote_into(strb *b, const sql_value *x) {
    char buf[40];
    size_t n;
    switch (x->type) {
    case SQL_NULL:
        sqli_strb_adds(b, "NULL");
        return;
    case SQL_TEXT:
        sqli_strb_addc(b, '\'');
        for (uint32_t i = 0; i < x->n; i++) {
            if (x->z[i] == '\'') sqli_strb_addc(b, '\'');
            sqli_strb_addc(b, x->z[i]);
        }
        sqli_strb_addc(b, '\'');
        return;
    case SQL_BLOB:
        sqli_strb_adds(b, "X'");
        for (uint32_t i = 0; i < x->n; i++) sqli_strb_addf(b, "%02X", (unsigned char)x->z[i]);
        sqli_strb_addc(b, '\'');
        return;
    default: {
        const char *z = sqli_val_text(x, buf, &n);
        sqli_strb_add(b, z, n);
    }
    }
}

F(f_quote) {
    UNUSED;
    strb b = {0};
    quote_into(&b, &a[0]);
    sqli_val_set_text_own(out, b.p, b.n);
    return SQL_OK;
}

F(f_char) {
    UNUSED;
    strb b = {0};
    for (int i = 0; i < argc; i++) {
        int64_t c = sqli_val_int(&a[i]);
        if (c < 0 || c > 0x10FFFF) c = 0xFFFD;
        if (c < 0x80) {
            sqli_strb_addc(&b, (char)c);
        } else if (c < 0x800) {
            sqli_strb_addc(&b, (char)(0xC0 | (c >> 6)));
            sqli_strb_addc(&b, (char)(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            sqli_strb_addc(&b, (char)(0xE0 | (c >> 12)));
            sqli_strb_addc(&b, (char)(0x80 | ((c >> 6) & 0x3F)));
            sqli_strb_addc(&b, (char)(0x80 | (c & 0x3F)));
        } else {
            sqli_strb_addc(&b, (char)(0xF0 | (c >> 18)));
            sqli_strb_addc(&b, (char)(0x80 | ((c >> 12) & 0x3F)));
            sqli_strb_addc(&b, (char)(0x80 | ((c >> 6) & 0x3F)));
            sqli_strb_addc(&b, (char)(0x80 | (c & 0x3F)));
        }
    }
    sqli_val_set_text_own(out, b.p ? b.p : xstrdup(""), b.n);
    return SQL_OK;
}

F(f_unicode) {
    UNUSED;
    char buf[40];
    size_t n;
    if (a[0].type == SQL_NULL) return SQL_OK;
    const unsigned char *z = (const unsigned char *)text_of(&a[0], buf, &n);
    if (n == 0) return SQL_OK;
    int64_t c = z[0];
    int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (extra) c &= 0x3F >> extra;
    for (int i = 1; i <= extra && (size_t)i < n; i++) c = (c << 6) | (z[i] & 0x3F);
    val_set_int(out, c);
    return SQL_OK;
}

static void fmt_fixed(double r, int prec, strb *out);
static void fmt_exp(double r, int prec, char echar, strb *out);

/* %f / %e with SQLite's rounding: digits from digits16, then C's flags
 * (- + space 0) and width applied around them. */
static void printf_real(strb *b, const char *spec, char conv, double r) {
    int left = 0, plus = 0, space = 0, zero = 0, width = 0, prec = 6;
    const char *p = spec + 1;
    for (; *p && strchr("-+ 0#", *p); p++) {
        left |= *p == '-';
        plus |= *p == '+';
        space |= *p == ' ';
        zero |= *p == '0';
    }
    width = atoi(p);
    const char *dot = strchr(p, '.');
    if (dot) prec = atoi(dot + 1);
    if (prec > 100) prec = 100;
    strb body = {0};
    if (isinf(r) || isnan(r))
        sqli_strb_adds(&body, isnan(r) ? "nan" : "inf");
    else if (conv == 'f')
        fmt_fixed(r, prec, &body);
    else
        fmt_exp(r, prec, conv, &body);
    const char *sign = signbit(r) && !isnan(r) ? "-" : plus ? "+" : space ? " " : "";
    int len = (int)(strlen(sign) + body.n), pad = width > len ? width - len : 0;
    if (!left && !zero)
        for (int i = 0; i < pad; i++) sqli_strb_addc(b, ' ');
    sqli_strb_adds(b, sign);
    if (!left && zero)
        for (int i = 0; i < pad; i++) sqli_strb_addc(b, '0');
    sqli_strb_add(b, sqli_strb_cstr(&body), body.n);
    if (left)
        for (int i = 0; i < pad; i++) sqli_strb_addc(b, ' ');
    sqli_strb_free(&body);
}

/* One printf conversion: spec is "%" plus flags, width and precision. */
static void printf_one(strb *b, const char *spec, char conv, const sql_value *x) {
    char tmp[512], fm[80];
    if (strchr("diuxXoc", conv)) {
        int64_t iv = x ? sqli_val_int(x) : 0;
        if (conv == 'c') {
            snprintf(fm, sizeof fm, "%sc", spec);
            snprintf(tmp, sizeof tmp, fm, (int)iv);
        } else {
            snprintf(fm, sizeof fm, "%sll%c", spec, conv == 'i' ? 'd' : conv);
            snprintf(tmp, sizeof tmp, fm, (long long)iv);
        }
        sqli_strb_adds(b, tmp);
    } else if (strchr("feE", conv)) {
        printf_real(b, spec, conv, x ? sqli_val_real(x) : 0.0);
    } else if (strchr("gG", conv)) {
        snprintf(fm, sizeof fm, "%s%c", spec, conv);
        snprintf(tmp, sizeof tmp, fm, x ? sqli_val_real(x) : 0.0);
        sqli_strb_adds(b, tmp);
    } else { /* s q Q */
        char bb[40];
        size_t n = 0;
        int null = !x || x->type == SQL_NULL;
        const char *z = !null ? text_of(x, bb, &n) : (conv == 'Q' ? "NULL" : "");
        if (null) n = strlen(z);
        strb t = {0};
        int quote = conv == 'q' || (conv == 'Q' && !null);
        if (conv == 'Q' && quote) sqli_strb_addc(&t, '\'');
        for (size_t k = 0; k < n; k++) {
            if (quote && z[k] == '\'') sqli_strb_addc(&t, '\'');
            sqli_strb_addc(&t, z[k]);
        }
        if (conv == 'Q' && quote) sqli_strb_addc(&t, '\'');
        snprintf(fm, sizeof fm, "%ss", spec);
        sqli_strb_addf(b, fm, sqli_strb_cstr(&t));
        sqli_strb_free(&t);
    }
}

/* printf subset: flags - + space 0 #, width, precision, and d i u x X o c
 * s q Q f e E g G %% (length modifiers l ll ignored). */
static int do_printf(int argc, sql_value *a, sql_value *out) {
    if (argc < 1 || a[0].type == SQL_NULL) return SQL_OK;
    char b0[40];
    size_t fn;
    const char *f = text_of(&a[0], b0, &fn);
    strb b = {0};
    int ai = 1;
    for (size_t i = 0; i < fn; i++) {
        if (f[i] != '%') {
            sqli_strb_addc(&b, f[i]);
            continue;
        }
        size_t s = i++;
        while (i < fn && strchr("-+ 0#!", f[i])) i++;
        while (i < fn && f[i] >= '0' && f[i] <= '9') i++;
        if (i < fn && f[i] == '.')
            for (i++; i < fn && f[i] >= '0' && f[i] <= '9'; i++) {
            }
        size_t spec_end = i;
        while (i < fn && f[i] == 'l') i++;
        if (i >= fn) break;
        char spec[48];
        size_t sl = 0;
        for (size_t k = s; k < spec_end && sl < 40; k++)
            if (f[k] != '!') spec[sl++] = f[k]; /* SQLite's "alternate form 2": not C's */
        spec[sl] = 0;
        if (f[i] == '%')
            sqli_strb_addc(&b, '%');
        else if (strchr("diuxXoceEfgGsqQ", f[i]))
            printf_one(&b, spec, f[i], ai < argc ? &a[ai++] : NULL);
        else
            sqli_strb_add(&b, f + s, i - s + 1);
    }
    sqli_val_set_text_own(out, b.p ? b.p : xstrdup(""), b.n);
    return SQL_OK;
}

F(f_printf) {
    UNUSED;
    return do_printf(argc, a, out);
}

F(f_like) {
    UNUSED;
    if (any_null(argc, a)) return SQL_OK;
    int esc = -1;
    if (argc > 2) {
        char buf[40];
        size_t n;
        const char *z = text_of(&a[2], buf, &n);
        if (n != 1)
            return sqli_vm_error(v, SQL_ERROR, "ESCAPE expression must be a single character");
        esc = (unsigned char)z[0];
    }
    val_set_int(out, sqli_ex_like(&a[0], &a[1], 0, esc));
    return SQL_OK;
}

F(f_glob) {
    UNUSED;
    if (any_null(argc, a)) return SQL_OK;
    val_set_int(out, sqli_ex_like(&a[0], &a[1], 1, -1));
    return SQL_OK;
}

/* ---- misc -------------------------------------------------------------------------------------
 */

F(f_typeof) {
    UNUSED;
    static const char *nm[] = {"", "integer", "real", "text", "blob", "null", "decimal"};
    const char *t = nm[a[0].type];
    val_set_text_ref(out, t, strlen(t));
    return SQL_OK;
}

F(f_coalesce) {
    UNUSED;
    for (int i = 0; i < argc; i++)
        if (a[i].type != SQL_NULL) {
            sqli_val_copy(out, &a[i]);
            return SQL_OK;
        }
    return SQL_OK;
}

F(f_nullif) {
    UNUSED;
    if (a[0].type != SQL_NULL && a[1].type != SQL_NULL && sqli_val_cmp(&a[0], &a[1]) == 0)
        return SQL_OK;
    sqli_val_copy(out, &a[0]);
    return SQL_OK;
}

F(f_iif) {
    UNUSED;
    sqli_val_copy(out, sqli_val_truth(&a[0]) == 1 ? &a[1] : &a[2]);
    return SQL_OK;
}

static int minmax(int argc, sql_value *a, sql_value *out, int want_max) {
    if (any_null(argc, a)) return SQL_OK;
    int best = 0;
    for (int i = 1; i < argc; i++) {
        int c = sqli_val_cmp(&a[i], &a[best]);
        if (want_max ? c > 0 : c < 0) best = i;
    }
    sqli_val_copy(out, &a[best]);
    return SQL_OK;
}

F(f_max) {
    UNUSED;
    return minmax(argc, a, out, 1);
}
F(f_min) {
    UNUSED;
    return minmax(argc, a, out, 0);
}

F(f_identity) {
    UNUSED;
    sqli_val_copy(out, &a[0]);
    return SQL_OK;
}

F(f_random) {
    UNUSED;
    int64_t r;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (int64_t)rand() << 32 ^ rand();
    val_set_int(out, r);
    return SQL_OK;
}

F(f_randomblob) {
    UNUSED;
    int64_t n = sqli_val_int(&a[0]);
    if (n < 1) n = 1;
    if (n > 1 << 20) return sqli_vm_error(v, SQL_TOOBIG, "string or blob too big");
    uint8_t *p = xmalloc((size_t)n);
    if (getrandom(p, (size_t)n, 0) != n)
        for (int64_t i = 0; i < n; i++) p[i] = (uint8_t)rand();
    sqli_val_set_blob_own(out, p, (size_t)n);
    return SQL_OK;
}

F(f_zeroblob) {
    UNUSED;
    int64_t n = sqli_val_int(&a[0]);
    if (n < 0) n = 0;
    if (n > 1 << 26) return sqli_vm_error(v, SQL_TOOBIG, "string or blob too big");
    sqli_val_set_blob_own(out, xcalloc(1, (size_t)n + 1), (size_t)n);
    return SQL_OK;
}

F(f_last_insert_rowid) {
    (void)argc;
    (void)a;
    val_set_int(out, sql_last_insert_id(v->db));
    return SQL_OK;
}

F(f_changes) {
    (void)argc;
    (void)a;
    val_set_int(out, sql_changes(v->db));
    return SQL_OK;
}

F(f_total_changes) {
    (void)argc;
    (void)a;
    val_set_int(out, sql_total_changes(v->db));
    return SQL_OK;
}

/* ---- math -------------------------------------------------------------------------------------
 */

static int num_arg(const sql_value *x, sql_value *n) {
    if (x->type == SQL_NULL) return 0;
    if (x->type == SQL_TEXT || x->type == SQL_BLOB) {
        int64_t i;
        double r;
        int k = sqli_num_parse(x->z, x->n, &i, &r);
        if (k == 0) return 0;
        if (k == 1)
            val_set_int(n, i);
        else
            val_set_real(n, r);
        return 1;
    }
    *n = *x;
    n->owned = 0;
    return 1;
}

F(f_abs) {
    UNUSED;
    if (a[0].type == SQL_NULL) return SQL_OK;
    sql_value n;
    if (a[0].type == SQL_TEXT || a[0].type == SQL_BLOB) /* SQLite: a real, 0.0 for non-numbers */
        return val_set_real(out, fabs(sqli_val_real(&a[0]))), SQL_OK;
    if (!num_arg(&a[0], &n)) return val_set_real(out, 0.0), SQL_OK;
    if (n.type == SQL_INTEGER) {
        if (n.u.i == INT64_MIN) return sqli_vm_error(v, SQL_ERROR, "integer overflow");
        val_set_int(out, n.u.i < 0 ? -n.u.i : n.u.i);
    } else if (n.type == SQL_DECIMAL) {
        val_set_dec(out, n.u.i < 0 ? -n.u.i : n.u.i, n.scale);
    } else {
        val_set_real(out, fabs(n.u.r));
    }
    return SQL_OK;
}

F(f_sign) {
    UNUSED;
    sql_value n;
    if (!num_arg(&a[0], &n)) return SQL_OK;
    double r = sqli_val_real(&n);
    val_set_int(out, r > 0 ? 1 : r < 0 ? -1 : 0);
    return SQL_OK;
}

/* SQLite's printf rounds on the decimal form of a double cut to 15
 * significant digits, half away from zero (so 2.675 rounds to 2.68 and
 * 1234.5 to 1.235e+03, where C's printf says 2.67 and 1.234e+03).
 * digits16 gives |r|'s digits rounded that way to `keep` digits (keep <= 0:
 * nothing survives but a possible carry); *e is the decimal exponent of the
 * first digit. Returns the number of digits in d (no NUL). */
static int digits16(double r, int keep_after_point, int fixed, char *d, int *e) {
    char buf[48];
    snprintf(buf, sizeof buf, "%.25e", fabs(r));
    char all[30];
    int n = 0;
    for (char *p = buf; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') all[n++] = *p;
    *e = atoi(strchr(buf, 'e') + 1);
    /* first to 15 significant digits, half up (what SQLite's printf keeps) */
    int up15 = all[15] >= '5';
    n = 15;
    for (int k = 14; up15 && k >= 0; k--) {
        if (all[k] == '9') {
            all[k] = '0';
            if (k == 0) {
                memmove(all + 1, all, 14);
                all[0] = '1';
                *e += 1;
            }
            continue;
        }
        all[k]++;
        up15 = 0;
    }
    int keep = fixed ? *e + 1 + keep_after_point : keep_after_point + 1;
    if (keep >= n) {
        memcpy(d, all, (size_t)n);
        return n;
    }
    int up = keep >= 0 && all[keep] >= '5';
    if (keep <= 0) { /* everything rounds away: 0 or one unit */
        up = keep == 0 && all[0] >= '5';
        if (!up) return 0;
        d[0] = '1';
        *e += 1;
        return 1;
    }
    memcpy(d, all, (size_t)keep);
    for (int k = keep - 1; up && k >= 0; k--) {
        if (d[k] == '9') {
            d[k] = '0';
            if (k == 0) {
                memmove(d + 1, d, (size_t)keep);
                d[0] = '1';
                *e += 1;
                keep++;
            }
            continue;
        }
        d[k]++;
        up = 0;
    }
    return keep;
}

/* |r| in fixed notation with `prec` decimals, SQLite's rounding. */
static void fmt_fixed(double r, int prec, strb *out) {
    char d[40];
    int e, n = digits16(r, prec, 1, d, &e);
    if (e < 0 || n == 0) sqli_strb_addc(out, '0');
    for (int k = 0; k <= e && n; k++) sqli_strb_addc(out, k < n ? d[k] : '0');
    if (prec > 0) sqli_strb_addc(out, '.');
    for (int k = 0; k < prec; k++) {
        int idx = e + 1 + k;
        sqli_strb_addc(out, n && idx >= 0 && idx < n ? d[idx] : '0');
    }
}

/* |r| as d.ddde+XX with `prec` decimals, SQLite's rounding. */
static void fmt_exp(double r, int prec, char echar, strb *out) {
    char d[40];
    int e = 0, n = r == 0 ? 0 : digits16(r, prec, 0, d, &e);
    sqli_strb_addc(out, n ? d[0] : '0');
    if (prec > 0) sqli_strb_addc(out, '.');
    for (int k = 1; k <= prec; k++) sqli_strb_addc(out, k < n ? d[k] : '0');
    sqli_strb_addf(out, "%c%c%02d", echar, e < 0 ? '-' : '+', e < 0 ? -e : e);
}

/* round(r, digits): SQLite rounds through its printf("%.*f"). */
static double round_digits(double r, int digits) {
    if (digits < 0) digits = 0;
    if (digits > 30) digits = 30;
    if (fabs(r) >= 4503599627370496.0 || isnan(r) || isinf(r)) return r;
    strb b = {0};
    fmt_fixed(r, digits, &b);
    double x = strtod(sqli_strb_cstr(&b), NULL);
    sqli_strb_free(&b);
    return r < 0 ? -x : x;
}

F(f_round) {
    UNUSED;
    if (any_null(argc, a)) return SQL_OK;
    sql_value n;
    if (!num_arg(&a[0], &n)) return val_set_real(out, 0.0), SQL_OK;
    int d = argc > 1 ? (int)sqli_val_int(&a[1]) : 0;
    if (n.type == SQL_DECIMAL) {
        int64_t m;
        int s = d < 0 ? 0 : d;
        if (s >= n.scale) return val_set_dec(out, n.u.i, n.scale), SQL_OK;
        sqli_dec_rescale(n.u.i, n.scale, s, &m);
        val_set_dec(out, m, s);
        return SQL_OK;
    }
    val_set_real(out, round_digits(sqli_val_real(&n), d));
    return SQL_OK;
}

static int math1(int argc, sql_value *a, sql_value *out, double (*fn)(double)) {
    (void)argc;
    sql_value n;
    if (!num_arg(&a[0], &n)) return SQL_OK;
    double r = fn(sqli_val_real(&n));
    if (!isnan(r)) val_set_real(out, r);
    return SQL_OK;
}

#define MATH1(name, cfn)                                                                           \
    F(name) {                                                                                      \
        UNUSED;                                                                                    \
        return math1(argc, a, out, cfn);                                                           \
    }
MATH1(f_sqrt, sqrt)
MATH1(f_exp, exp)
/* logarithms of x <= 0 are NULL, as in SQLite (not -Inf or NaN) */
static double ln_pos(double x) {
    return x > 0 ? log(x) : NAN;
}
static double log10_pos(double x) {
    return x > 0 ? log10(x) : NAN;
}
static double log2_pos(double x) {
    return x > 0 ? log2(x) : NAN;
}
MATH1(f_ln, ln_pos)
MATH1(f_log10, log10_pos)
MATH1(f_log2, log2_pos)
MATH1(f_sin, sin)
MATH1(f_cos, cos)
MATH1(f_tan, tan)
MATH1(f_asin, asin)
MATH1(f_acos, acos)
MATH1(f_atan, atan)
MATH1(f_trunc, trunc)
MATH1(f_sinh, sinh)
MATH1(f_cosh, cosh)
MATH1(f_tanh, tanh)
MATH1(f_asinh, asinh)
MATH1(f_acosh, acosh)
MATH1(f_atanh, atanh)

static double to_degrees(double r) {
    return r * (180.0 / M_PI);
}
static double to_radians(double d) {
    return d * (M_PI / 180.0);
}
MATH1(f_degrees, to_degrees)
MATH1(f_radians, to_radians)

static int ceil_floor(sql_value *a, sql_value *out, int up) {
    sql_value n;
    if (!num_arg(&a[0], &n)) return SQL_OK;
    if (n.type == SQL_INTEGER) return val_set_int(out, n.u.i), SQL_OK;
    double r = sqli_val_real(&n);
    val_set_real(out, up ? ceil(r) : floor(r));
    return SQL_OK;
}

F(f_ceil) {
    UNUSED;
    return ceil_floor(a, out, 1);
}
F(f_floor) {
    UNUSED;
    return ceil_floor(a, out, 0);
}

F(f_log) {
    UNUSED;
    sql_value x, b;
    if (argc == 1) return math1(argc, a, out, log10_pos);
    if (!num_arg(&a[0], &b) || !num_arg(&a[1], &x)) return SQL_OK;
    double r = ln_pos(sqli_val_real(&x)) / ln_pos(sqli_val_real(&b));
    if (!isnan(r)) val_set_real(out, r);
    return SQL_OK;
}

F(f_pow) {
    UNUSED;
    sql_value x, y;
    if (!num_arg(&a[0], &x) || !num_arg(&a[1], &y)) return SQL_OK;
    double r = pow(sqli_val_real(&x), sqli_val_real(&y));
    if (!isnan(r)) val_set_real(out, r);
    return SQL_OK;
}

F(f_mod) {
    UNUSED;
    sql_value x, y;
    if (!num_arg(&a[0], &x) || !num_arg(&a[1], &y)) return SQL_OK;
    double r = fmod(sqli_val_real(&x), sqli_val_real(&y));
    if (!isnan(r)) val_set_real(out, r);
    return SQL_OK;
}

F(f_pi) {
    UNUSED;
    (void)a;
    val_set_real(out, M_PI);
    return SQL_OK;
}

F(f_atan2) {
    UNUSED;
    sql_value x, y;
    if (!num_arg(&a[0], &y) || !num_arg(&a[1], &x)) return SQL_OK;
    val_set_real(out, atan2(sqli_val_real(&y), sqli_val_real(&x)));
    return SQL_OK;
}

/* ---- the table ----------------------------------------------------------------------------------
 */

/* sorted by name (then by nmin) */
static const func_def funcs[] = {
    {"->", 2, 2, 0, 0, sqli_f_json_arrow},
    {"->>", 2, 2, 0, 0, sqli_f_json_arrow2},
    {"abs", 1, 1, 0, 0, f_abs},
    {"acos", 1, 1, 0, 0, f_acos},
    {"acosh", 1, 1, 0, 0, f_acosh},
    {"asin", 1, 1, 0, 0, f_asin},
    {"asinh", 1, 1, 0, 0, f_asinh},
    {"atan", 1, 1, 0, 0, f_atan},
    {"atan2", 2, 2, 0, 0, f_atan2},
    {"atanh", 1, 1, 0, 0, f_atanh},
    {"avg", 1, 1, AGG_AVG, 0, NULL},
    {"ceil", 1, 1, 0, 0, f_ceil},
    {"ceiling", 1, 1, 0, 0, f_ceil},
    {"changes", 0, 0, 0, FN_VOLATILE, f_changes},
    {"char", 0, -1, 0, 0, f_char},
    {"coalesce", 2, -1, 0, 0, f_coalesce},
    {"cos", 1, 1, 0, 0, f_cos},
    {"cosh", 1, 1, 0, 0, f_cosh},
    {"count", 0, 0, AGG_COUNT_STAR, 0, NULL},
    {"count", 1, 1, AGG_COUNT, 0, NULL},
    {"current_date", 0, 0, 0, FN_VOLATILE, sqli_f_current_date},
    {"current_time", 0, 0, 0, FN_VOLATILE, sqli_f_current_time},
    {"current_timestamp", 0, 0, 0, FN_VOLATILE, sqli_f_current_timestamp},
    {"date", 0, -1, 0, FN_VOLATILE, sqli_f_date},
    {"datetime", 0, -1, 0, FN_VOLATILE, sqli_f_datetime},
    {"degrees", 1, 1, 0, 0, f_degrees},
    {"exp", 1, 1, 0, 0, f_exp},
    {"floor", 1, 1, 0, 0, f_floor},
    {"format", 1, -1, 0, 0, f_printf},
    {"gen_random_uuid", 0, 0, 0, FN_VOLATILE, sqli_f_uuid7},
    {"glob", 2, 2, 0, 0, f_glob},
    {"group_concat", 1, 2, AGG_GROUP_CONCAT, 0, NULL},
    {"hex", 1, 1, 0, 0, f_hex},
    {"ifnull", 2, 2, 0, 0, f_coalesce},
    {"iif", 3, 3, 0, 0, f_iif},
    {"instr", 2, 2, 0, 0, f_instr},
    {"json", 1, 1, 0, 0, sqli_f_json},
    {"json_array", 0, -1, 0, 0, sqli_f_json_array},
    {"json_array_length", 1, 2, 0, 0, sqli_f_json_array_length},
    {"json_extract", 2, -1, 0, 0, sqli_f_json_extract},
    {"json_group_array", 1, 1, AGG_JSON_ARRAY, 0, NULL},
    {"json_group_object", 2, 2, AGG_JSON_OBJECT, 0, NULL},
    {"json_insert", 1, -1, 0, 0, sqli_f_json_insert},
    {"json_object", 0, -1, 0, 0, sqli_f_json_object},
    {"json_patch", 2, 2, 0, 0, sqli_f_json_patch},
    {"json_quote", 1, 1, 0, 0, sqli_f_json_quote},
    {"json_remove", 1, -1, 0, 0, sqli_f_json_remove},
    {"json_replace", 1, -1, 0, 0, sqli_f_json_replace},
    {"json_set", 1, -1, 0, 0, sqli_f_json_set},
    {"json_type", 1, 2, 0, 0, sqli_f_json_type},
    {"json_valid", 1, 1, 0, 0, sqli_f_json_valid},
    {"julianday", 0, -1, 0, FN_VOLATILE, sqli_f_julianday},
    {"last_insert_rowid", 0, 0, 0, FN_VOLATILE, f_last_insert_rowid},
    {"length", 1, 1, 0, 0, f_length},
    {"like", 2, 3, 0, 0, f_like},
    {"likely", 1, 1, 0, 0, f_identity},
    {"ln", 1, 1, 0, 0, f_ln},
    {"log", 1, 2, 0, 0, f_log},
    {"log10", 1, 1, 0, 0, f_log10},
    {"log2", 1, 1, 0, 0, f_log2},
    {"lower", 1, 1, 0, 0, f_lower},
    {"ltrim", 1, 2, 0, 0, f_ltrim},
    {"max", 1, 1, AGG_MAX, 0, NULL},
    {"max", 2, -1, 0, 0, f_max},
    {"min", 1, 1, AGG_MIN, 0, NULL},
    {"min", 2, -1, 0, 0, f_min},
    {"mod", 2, 2, 0, 0, f_mod},
    {"now", 0, 0, 0, FN_VOLATILE, sqli_f_now},
    {"nullif", 2, 2, 0, 0, f_nullif},
    {"octet_length", 1, 1, 0, 0, f_octet_length},
    {"pi", 0, 0, 0, 0, f_pi},
    {"pow", 2, 2, 0, 0, f_pow},
    {"power", 2, 2, 0, 0, f_pow},
    {"printf", 1, -1, 0, 0, f_printf},
    {"quote", 1, 1, 0, 0, f_quote},
    {"radians", 1, 1, 0, 0, f_radians},
    {"random", 0, 0, 0, FN_VOLATILE, f_random},
    {"randomblob", 1, 1, 0, FN_VOLATILE, f_randomblob},
    {"replace", 3, 3, 0, 0, f_replace},
    {"round", 1, 2, 0, 0, f_round},
    {"rtrim", 1, 2, 0, 0, f_rtrim},
    {"sign", 1, 1, 0, 0, f_sign},
    {"sin", 1, 1, 0, 0, f_sin},
    {"sinh", 1, 1, 0, 0, f_sinh},
    {"sqrt", 1, 1, 0, 0, f_sqrt},
    {"strftime", 1, -1, 0, FN_VOLATILE, sqli_f_strftime},
    {"string_agg", 2, 2, AGG_GROUP_CONCAT, 0, NULL},
    {"substr", 2, 3, 0, 0, f_substr},
    {"substring", 2, 3, 0, 0, f_substr},
    {"sum", 1, 1, AGG_SUM, 0, NULL},
    {"tan", 1, 1, 0, 0, f_tan},
    {"tanh", 1, 1, 0, 0, f_tanh},
    {"time", 0, -1, 0, FN_VOLATILE, sqli_f_time},
    {"total", 1, 1, AGG_TOTAL, 0, NULL},
    {"total_changes", 0, 0, 0, FN_VOLATILE, f_total_changes},
    {"trim", 1, 2, 0, 0, f_trim},
    {"trunc", 1, 1, 0, 0, f_trunc},
    {"typeof", 1, 1, 0, 0, f_typeof},
    {"unicode", 1, 1, 0, 0, f_unicode},
    {"unixepoch", 0, -1, 0, FN_VOLATILE, sqli_f_unixepoch},
    {"unlikely", 1, 1, 0, 0, f_identity},
    {"upper", 1, 1, 0, 0, f_upper},
    {"uuid7", 0, 0, 0, FN_VOLATILE, sqli_f_uuid7},
    {"zeroblob", 1, 1, 0, 0, f_zeroblob},
};
#define NFUNCS ((int)(sizeof funcs / sizeof funcs[0]))

int sqli_func_table_sorted(void) {
    for (int i = 1; i < NFUNCS; i++)
        if (strcmp(funcs[i - 1].name, funcs[i].name) > 0) return 0;
    return 1;
}

const func_def *sqli_func_find(const char *name, int nargs, int *known) {
    char low[32];
    size_t n = strlen(name);
    *known = 0;
    if (n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    int lo = 0, hi = NFUNCS - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(low, funcs[mid].name);
        if (c == 0) {
            lo = mid;
            while (lo > 0 && strcmp(funcs[lo - 1].name, low) == 0) lo--;
            *known = 1;
            for (int i = lo; i < NFUNCS && strcmp(funcs[i].name, low) == 0; i++)
                if (nargs >= funcs[i].nmin && (funcs[i].nmax < 0 || nargs <= funcs[i].nmax))
                    return &funcs[i];
            return NULL;
        }
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}
