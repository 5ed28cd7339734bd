/* sql/value.c — SQL values: text form, number parsing, affinity, CAST,
 * comparison, and exact decimals.
 *
 * The rules are SQLite's (documented in its "Datatypes" page) so that results
 * compare with sqlite3 as text: storage classes NULL < INTEGER/REAL < TEXT <
 * BLOB, numbers compared by value, text bytewise; affinity converts text that
 * looks like a number (whole text, spaces around allowed) on storage; CAST and
 * arithmetic use the longest numeric prefix instead.
 *
 * Invariants:
 *   1. A value with owned = 1 is TEXT or BLOB and its z was xmalloc'd; every
 *      function that replaces a value's content frees what it owned first.
 *   2. A DECIMAL has |mantissa| < 10^18 and 0 <= scale <= 18.
 *   3. sqli_fmt_real writes at most 32 bytes including the NUL.
 */
#include "sql/sqlint.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const int64_t pow10_tab[19] = {1LL,
                                      10LL,
                                      100LL,
                                      1000LL,
                                      10000LL,
                                      100000LL,
                                      1000000LL,
                                      10000000LL,
                                      100000000LL,
                                      1000000000LL,
                                      10000000000LL,
                                      100000000000LL,
                                      1000000000000LL,
                                      10000000000000LL,
                                      100000000000000LL,
                                      1000000000000000LL,
                                      10000000000000000LL,
                                      100000000000000000LL,
                                      1000000000000000000LL};
#define DEC_LIMIT 1000000000000000000LL /* 10^18: |mantissa| must stay below */

/* ---- setting and copying ---------------------------------------------------------- */

void sqli_val_set_text_own(sql_value *v, char *z, size_t n) {
    v->type = SQL_TEXT;
    v->owned = 1;
    v->scale = 0; /* text carries no JSON mark (json.c) unless set after */
    v->z = z;
    v->n = (uint32_t)n;
}

void sqli_val_set_blob_own(sql_value *v, void *z, size_t n) {
    v->type = SQL_BLOB;
    v->owned = 1;
    v->z = z;
    v->n = (uint32_t)n;
}

void sqli_val_set_text_copy(sql_value *v, const char *z, size_t n) {
    sqli_val_set_text_own(v, xmemdup(z, n), n);
}

void sqli_val_copy(sql_value *dst, const sql_value *src) {
    *dst = *src;
    dst->owned = 0;
    if (src->type == SQL_TEXT || src->type == SQL_BLOB) {
        dst->z = xmemdup(src->z ? src->z : "", src->n);
        dst->owned = 1;
    }
}

void sqli_val_own(sql_value *v) {
    if (v->owned || (v->type != SQL_TEXT && v->type != SQL_BLOB)) return;
    v->z = xmemdup(v->z ? v->z : "", v->n);
    v->owned = 1;
}

/* ---- numbers from text ------------------------------------------------------------ */

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Scan a decimal number at z[0..n): sign, digits, optional fraction and
 * exponent. Returns the length scanned (0 if no digits); *isint tells whether
 * it had neither '.' nor exponent. */
static size_t scan_number(const char *z, size_t n, int *isint) {
    size_t i = 0, digits = 0;
    *isint = 1;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    while (i < n && isdigit((unsigned char)z[i])) i++, digits++;
    if (i < n && z[i] == '.') {
        size_t j = i + 1, fd = 0;
        while (j < n && isdigit((unsigned char)z[j])) j++, fd++;
        if (digits || fd) {
            *isint = 0;
            i = j;
            digits += fd;
        }
    }
    if (!digits) return 0;
    if (i < n && (z[i] == 'e' || z[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (z[j] == '+' || z[j] == '-')) j++;
        if (j < n && isdigit((unsigned char)z[j])) {
            while (j < n && isdigit((unsigned char)z[j])) j++;
            *isint = 0;
            i = j;
        }
    }
    return i;
}

/* Integer value of sign+digits; 0 if it fits in int64, 1 on overflow (then
 * *v is clamped). */
static int parse_int_digits(const char *z, size_t n, int64_t *v) {
    size_t i = 0;
    int neg = 0;
    if (i < n && (z[i] == '+' || z[i] == '-')) neg = z[i++] == '-';
    uint64_t u = 0;
    int over = 0;
    for (; i < n && isdigit((unsigned char)z[i]); i++) {
        unsigned d = (unsigned)(z[i] - '0');
        if (u > (UINT64_MAX - d) / 10) {
            over = 1;
            u = UINT64_MAX;
        } else {
            u = u * 10 + d;
        }
    }
    if (neg) {
        if (over || u > (uint64_t)INT64_MAX + 1) {
            *v = INT64_MIN;
            return 1;
        }
        *v = (int64_t)(0 - u);
        return 0;
    }
    if (over || u > (uint64_t)INT64_MAX) {
        *v = INT64_MAX;
        return 1;
    }
    *v = (int64_t)u;
    return 0;
}

static double parse_real(const char *z, size_t n) {
    char buf[128];
    char *tmp = n < sizeof buf ? buf : xmalloc(n + 1);
    memcpy(tmp, z, n);
    tmp[n] = 0;
    double r = strtod(tmp, NULL);
    if (tmp != buf) xfree(tmp);
    return r;
}

int sqli_num_parse(const char *z, size_t n, int64_t *i, double *r) {
    size_t a = 0, b = n;
    while (a < b && is_space(z[a])) a++;
    while (b > a && is_space(z[b - 1])) b--;
    if (a == b) return 0;
    int isint;
    size_t len = scan_number(z + a, b - a, &isint);
    if (len != b - a) return 0;
    if (isint && parse_int_digits(z + a, len, i) == 0) return 1;
    *r = parse_real(z + a, len);
    return 2;
}

int sqli_num_prefix(const char *z, size_t n, int64_t *i, double *r, int want_int) {
    size_t a = 0;
    while (a < n && is_space(z[a])) a++;
    int isint;
    size_t len = scan_number(z + a, n - a, &isint);
    *i = 0;
    *r = 0;
    if (len == 0) return 0;
    if (want_int) {
        parse_int_digits(z + a, len, i); /* clamps; stops at '.' or 'e' */
        return 1;
    }
    if (isint && parse_int_digits(z + a, len, i) == 0) return 1;
    *r = parse_real(z + a, len);
    return 2;
}

/* A real that holds an integer exactly, within int64: 1 and *out. */
static int real_is_int(double r, int64_t *out) {
    if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) return 0;
    int64_t i = (int64_t)r;
    if ((double)i != r) return 0;
    *out = i;
    return 1;
}

double sqli_val_real(const sql_value *v) {
    switch (v->type) {
    case SQL_INTEGER:
        return (double)v->u.i;
    case SQL_FLOAT:
        return v->u.r;
    case SQL_DECIMAL:
        return sqli_dec_to_real(v->u.i, v->scale);
    case SQL_TEXT:
    case SQL_BLOB: {
        int64_t i;
        double r;
        int k = sqli_num_prefix(v->z, v->n, &i, &r, 0);
        return k == 1 ? (double)i : r;
    }
    default:
        return 0;
    }
}

static int64_t real_to_int(double r) {
    if (isnan(r)) return 0;
    if (r <= -9223372036854775808.0) return INT64_MIN;
    if (r >= 9223372036854775808.0) return INT64_MAX;
    return (int64_t)r;
}

int64_t sqli_val_int(const sql_value *v) {
    switch (v->type) {
    case SQL_INTEGER:
        return v->u.i;
    case SQL_FLOAT:
        return real_to_int(v->u.r);
    case SQL_DECIMAL:
        return v->u.i / pow10_tab[v->scale];
    case SQL_TEXT:
    case SQL_BLOB: {
        int64_t i;
        double r;
        sqli_num_prefix(v->z, v->n, &i, &r, 1);
        return i;
    }
    default:
        return 0;
    }
}

int sqli_val_truth(const sql_value *v) {
    switch (v->type) {
    case SQL_NULL:
        return -1;
    case SQL_INTEGER:
        return v->u.i != 0;
    case SQL_FLOAT:
        return v->u.r != 0.0;
    case SQL_DECIMAL:
        return v->u.i != 0;
    default:
        return sqli_val_real(v) != 0.0;
    }
}

/* ---- text form -------------------------------------------------------------------- */

/* 15 significant digits, rounded half away from zero on the decimal
 * expansion, at least one digit after the point, exponent form when the
 * exponent is below -4 or at least 15 (printf's %g rule). */
int sqli_fmt_real(double r, char *buf) {
    if (r == 0) return (int)strlen(strcpy(buf, "0.0"));
    if (isinf(r)) return (int)strlen(strcpy(buf, r < 0 ? "-Inf" : "Inf"));
    if (isnan(r)) return (int)strlen(strcpy(buf, "NaN"));
    char ex[48];
    snprintf(ex, sizeof ex, "%.25e", fabs(r)); /* d.ddd...e+XX, correctly rounded */
    char dig[32];
    int nd = 0;
    for (const char *p = ex; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p)) dig[nd++] = *p;
    int e10 = atoi(strchr(ex, 'e') + 1);
    if (dig[15] >= '5') { /* round half up at 15 digits */
        int k = 14;
        while (k >= 0 && dig[k] == '9') dig[k--] = '0';
        if (k >= 0) {
            dig[k]++;
        } else {
            memmove(dig + 1, dig, 14);
            dig[0] = '1';
            e10++;
        }
    }
    nd = 15;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    char *o = buf;
    if (r < 0) *o++ = '-';
    if (e10 < -4 || e10 >= 15) {
        *o++ = dig[0];
        *o++ = '.';
        if (nd > 1) {
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        } else {
            *o++ = '0';
        }
        o += sprintf(o, "e%c%02d", e10 < 0 ? '-' : '+', abs(e10));
    } else if (e10 < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int k = 0; k < -e10 - 1; k++) *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else {
        for (int k = 0; k <= e10; k++) *o++ = k < nd ? dig[k] : '0';
        *o++ = '.';
        if (nd > e10 + 1) {
            memcpy(o, dig + e10 + 1, (size_t)(nd - e10 - 1));
            o += nd - e10 - 1;
        } else {
            *o++ = '0';
        }
    }
    *o = 0;
    return (int)(o - buf);
}

int sqli_fmt_dec(int64_t m, int scale, char *buf) {
    char d[24];
    uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    int n = sprintf(d, "%llu", (unsigned long long)u);
    char *o = buf;
    if (m < 0) *o++ = '-';
    if (scale == 0) {
        memcpy(o, d, (size_t)n);
        o += n;
    } else if (n <= scale) {
        *o++ = '0';
        *o++ = '.';
        for (int k = 0; k < scale - n; k++) *o++ = '0';
        memcpy(o, d, (size_t)n);
        o += n;
    } else {
        memcpy(o, d, (size_t)(n - scale));
        o += n - scale;
        *o++ = '.';
        memcpy(o, d + n - scale, (size_t)scale);
        o += scale;
    }
    *o = 0;
    return (int)(o - buf);
}

const char *sqli_val_text(const sql_value *v, char *buf, size_t *len) {
    int n;
    switch (v->type) {
    case SQL_INTEGER:
        n = sprintf(buf, "%lld", (long long)v->u.i);
        break;
    case SQL_FLOAT:
        n = sqli_fmt_real(v->u.r, buf);
        break;
    case SQL_DECIMAL:
        n = sqli_fmt_dec(v->u.i, v->scale, buf);
        break;
    case SQL_TEXT:
    case SQL_BLOB:
        *len = v->n;
        return v->z ? v->z : "";
    default:
        *len = 0;
        return NULL;
    }
    *len = (size_t)n;
    return buf;
}

void sqli_val_to_text(sql_value *v) {
    if (v->type == SQL_TEXT || v->type == SQL_NULL) return;
    if (v->type == SQL_BLOB) {
        v->type = SQL_TEXT;
        return;
    }
    char buf[40];
    size_t n;
    sqli_val_text(v, buf, &n);
    sqli_val_set_text_copy(v, buf, n);
}

/* ---- affinity and CAST -------------------------------------------------------------- */

void sqli_type_affinity(const char *decl, uint8_t *aff, uint8_t *kind, int *p, int *s) {
    char up[64];
    size_t n = 0;
    for (const char *c = decl; *c && n < sizeof up - 1; c++)
        up[n++] = (char)toupper((unsigned char)*c);
    up[n] = 0;
    *kind = KIND_PLAIN;
    if (p) *p = 18;
    if (s) *s = 0;
    if (strncmp(up, "DECIMAL", 7) == 0 || strncmp(up, "NUMERIC(", 8) == 0) {
        *kind = KIND_DECIMAL;
        const char *lp = strchr(up, '(');
        if (lp && p && s) {
            *p = atoi(lp + 1);
            const char *cm = strchr(lp, ',');
            *s = cm ? atoi(cm + 1) : 0;
        }
    } else if (strncmp(up, "BOOL", 4) == 0) {
        *kind = KIND_BOOL;
    } else if (strncmp(up, "TIMESTAMP", 9) == 0 || strncmp(up, "DATETIME", 8) == 0) {
        *kind = KIND_TIMESTAMP;
    } else if (strcmp(up, "DATE") == 0) {
        *kind = KIND_DATE;
    }
    if (strstr(up, "INT"))
        *aff = AFF_INTEGER;
    else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
        *aff = AFF_TEXT;
    else if (strstr(up, "BLOB") || n == 0)
        *aff = AFF_BLOB;
    else if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
        *aff = AFF_REAL;
    else
        *aff = AFF_NUMERIC;
}

void sqli_val_apply_aff(sql_value *v, int aff) {
    int64_t i;
    double r;
    switch (aff) {
    case AFF_TEXT:
        if (v->type == SQL_INTEGER || v->type == SQL_FLOAT || v->type == SQL_DECIMAL)
            sqli_val_to_text(v);
        return;
    case AFF_NUMERIC:
    case AFF_INTEGER:
        if (v->type == SQL_TEXT) {
            int k = sqli_num_parse(v->z, v->n, &i, &r);
            if (k == 0) return;
            val_free(v);
            if (k == 1)
                val_set_int(v, i);
            else if (real_is_int(r, &i))
                val_set_int(v, i);
            else
                val_set_real(v, r);
        } else if (v->type == SQL_FLOAT && real_is_int(v->u.r, &i)) {
            val_set_int(v, i);
        }
        return;
    case AFF_REAL:
        if (v->type == SQL_TEXT) {
            int k = sqli_num_parse(v->z, v->n, &i, &r);
            if (k == 0) return;
            val_free(v);
            val_set_real(v, k == 1 ? (double)i : r);
        } else if (v->type == SQL_INTEGER) {
            val_set_real(v, (double)v->u.i);
        } else if (v->type == SQL_DECIMAL) {
            val_set_real(v, sqli_dec_to_real(v->u.i, v->scale));
        }
        return;
    default:
        return;
    }
}

static void cast_numeric(sql_value *v) {
    int64_t i;
    double r;
    if (v->type == SQL_TEXT || v->type == SQL_BLOB) {
        int k = sqli_num_prefix(v->z, v->n, &i, &r, 0);
        val_free(v);
        if (k == 2 && real_is_int(r, &i)) k = 1;
        if (k == 2)
            val_set_real(v, r);
        else
            val_set_int(v, i);
    } else if (v->type == SQL_FLOAT && real_is_int(v->u.r, &i)) {
        val_set_int(v, i);
    }
}

int sqli_val_bool_word(const char *z, size_t n) {
    static const char *yes[] = {"true", "t", "yes", "y", "on", "1"};
    static const char *no[] = {"false", "f", "no", "n", "off", "0"};
    for (int i = 0; i < 6; i++) {
        if (n == strlen(yes[i]) && strncasecmp(z, yes[i], n) == 0) return 1;
        if (n == strlen(no[i]) && strncasecmp(z, no[i], n) == 0) return 0;
    }
    return -1;
}

int sqli_val_cast(sql_value *v, int aff, int kind, int p, int s, char **err) {
    if (v->type == SQL_NULL) return 0;
    if (kind == KIND_TIMESTAMP || kind == KIND_DATE) return sqli_dt_normalize(v, kind, err);
    if (kind == KIND_DECIMAL) {
        if (sqli_dec_fit(v, p, s) != 0) {
            if (err) *err = "numeric field overflow in CAST";
            return -1;
        }
        return 0;
    }
    if (kind == KIND_BOOL) {
        int t = v->type == SQL_TEXT ? sqli_val_bool_word(v->z, v->n) : -1;
        if (t < 0) t = sqli_val_truth(v);
        val_free(v);
        val_set_int(v, t > 0);
        return 0;
    }
    switch (aff) {
    case AFF_INTEGER: {
        int64_t i = sqli_val_int(v);
        val_free(v);
        val_set_int(v, i);
        return 0;
    }
    case AFF_REAL: {
        double r = sqli_val_real(v);
        val_free(v);
        val_set_real(v, r);
        return 0;
    }
    case AFF_TEXT:
        sqli_val_to_text(v);
        return 0;
    case AFF_BLOB:
        if (v->type != SQL_BLOB) {
            sqli_val_to_text(v);
            v->type = SQL_BLOB;
        }
        return 0;
    default:
        cast_numeric(v);
        return 0;
    }
}

/* ---- comparison ------------------------------------------------------------------- */

static int class_of(int t) {
    switch (t) {
    case SQL_NULL:
        return 0;
    case SQL_INTEGER:
    case SQL_FLOAT:
    case SQL_DECIMAL:
        return 1;
    case SQL_TEXT:
        return 2;
    default:
        return 3;
    }
}

static int cmp_int_real(int64_t i, double r) {
    if (isnan(r)) return 1;
    if (r < -9223372036854775808.0) return 1;
    if (r >= 9223372036854775808.0) return -1;
    double d = (double)i;
    if (d < r) return -1;
    if (d > r) return 1;
    int64_t ri = (int64_t)r; /* d == r: r is integral here unless huge */
    return i < ri ? -1 : i > ri;
}

static int cmp_dec(const sql_value *a, const sql_value *b) {
    /* both numeric, at least one DECIMAL, no FLOAT */
    __int128 x = a->u.i, y = b->u.i;
    int sa = a->type == SQL_DECIMAL ? a->scale : 0, sb = b->type == SQL_DECIMAL ? b->scale : 0;
    if (sa < sb)
        x *= pow10_tab[sb - sa];
    else if (sb < sa)
        y *= pow10_tab[sa - sb];
    return x < y ? -1 : x > y;
}

static int cmp_num(const sql_value *a, const sql_value *b) {
    if (a->type == SQL_INTEGER && b->type == SQL_INTEGER)
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->type == SQL_FLOAT && b->type == SQL_FLOAT) return a->u.r < b->u.r ? -1 : a->u.r > b->u.r;
    if (a->type != SQL_FLOAT && b->type != SQL_FLOAT) return cmp_dec(a, b);
    if (a->type == SQL_INTEGER) return cmp_int_real(a->u.i, b->u.r);
    if (b->type == SQL_INTEGER) return -cmp_int_real(b->u.i, a->u.r);
    double x = sqli_val_real(a), y = sqli_val_real(b); /* decimal against real */
    return x < y ? -1 : x > y;
}

int sqli_val_cmp(const sql_value *a, const sql_value *b) {
    int ca = class_of(a->type), cb = class_of(b->type);
    if (ca != cb) return ca < cb ? -1 : 1;
    if (ca == 0) return 0;
    if (ca == 1) return cmp_num(a, b);
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->z, b->z, n) : 0;
    if (c) return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* ---- decimals --------------------------------------------------------------------- */

int sqli_dec_from_text(const char *z, size_t n, int64_t *m, int *scale) {
    size_t a = 0, b = n;
    while (a < b && is_space(z[a])) a++;
    while (b > a && is_space(z[b - 1])) b--;
    int neg = 0;
    if (a < b && (z[a] == '+' || z[a] == '-')) neg = z[a++] == '-';
    __int128 acc = 0;
    int digits = 0, sc = 0, seen_dot = 0, any = 0;
    for (; a < b; a++) {
        char c = z[a];
        if (c == '.' && !seen_dot) {
            seen_dot = 1;
            continue;
        }
        if (!isdigit((unsigned char)c)) return -1;
        any = 1;
        if (acc == 0 && c == '0' && !seen_dot) continue;
        if (digits >= 18) {
            if (!seen_dot) return -1;
            continue; /* extra fraction digits: truncated by the caller's rounding */
        }
        acc = acc * 10 + (c - '0');
        digits++;
        if (seen_dot) sc++;
    }
    if (!any) return -1;
    *m = (int64_t)(neg ? -acc : acc);
    *scale = sc;
    return 0;
}

int sqli_dec_rescale(int64_t m, int from, int to, int64_t *out) {
    if (to >= from) {
        __int128 x = (__int128)m * pow10_tab[to - from];
        if (x >= DEC_LIMIT || x <= -DEC_LIMIT) return -1;
        *out = (int64_t)x;
        return 0;
    }
    int64_t d = pow10_tab[from - to];
    int64_t q = m / d, r = m % d;
    if (r * 2 >= d)
        q++;
    else if (r * 2 <= -d)
        q--;
    *out = q;
    return 0;
}

double sqli_dec_to_real(int64_t m, int scale) {
    return (double)((long double)m / (long double)pow10_tab[scale]);
}

int sqli_dec_fit(sql_value *v, int p, int s) {
    int64_t m;
    int sc;
    if (p <= 0 || p > 18) p = 18;
    if (s < 0) s = 0;
    if (s > p) s = p;
    switch (v->type) {
    case SQL_NULL:
        return 0;
    case SQL_INTEGER:
        if (sqli_dec_rescale(v->u.i >= DEC_LIMIT || v->u.i <= -DEC_LIMIT ? DEC_LIMIT : v->u.i, 0, s,
                             &m))
            return -1;
        break;
    case SQL_DECIMAL:
        if (sqli_dec_rescale(v->u.i, v->scale, s, &m)) return -1;
        break;
    case SQL_FLOAT: {
        long double x = (long double)v->u.r * pow10_tab[s];
        if (!(x < 1e18L && x > -1e18L)) return -1;
        m = (int64_t)llroundl(x);
        break;
    }
    default:
        if (sqli_dec_from_text(v->z, v->n, &m, &sc) == 0) {
            if (sqli_dec_rescale(m, sc, s, &m)) return -1;
        } else {
            int64_t i;
            double r;
            int k = sqli_num_parse(v->z, v->n, &i, &r);
            if (k == 0) return 0; /* not a number: left as text, like affinity */
            val_free(v);
            if (k == 1)
                val_set_int(v, i);
            else
                val_set_real(v, r);
            return sqli_dec_fit(v, p, s);
        }
    }
    if (m >= pow10_tab[p] || m <= -pow10_tab[p]) return -1;
    val_free(v);
    val_set_dec(v, m, s);
    return 0;
}
