/* util/strutil — see strutil.h. */
#include "util/strutil.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int str_to_ull(const char *s, size_t len, unsigned long long *out) {
    if (len == 0 || len > 20) return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] < '1' || s[0] > '9') return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int str_to_ll(const char *s, size_t len, long long *out) {
    if (len == 0) return 0;
    int neg = s[0] == '-';
    unsigned long long v;
    if (neg) {
        if (!str_to_ull(s + 1, len - 1, &v)) return 0;
        if (v == 0) return 0; /* "-0" is not canonical */
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = (long long)(0 - v);
        return 1;
    }
    if (!str_to_ull(s, len, &v) || v > LLONG_MAX) return 0;
    *out = (long long)v;
    return 1;
}

/* The number of decimal digits of v. */
static int ull_digits(unsigned long long v) {
    int n = 1;
    for (;;) {
        if (v < 10) return n;
        if (v < 100) return n + 1;
        if (v < 1000) return n + 2;
        if (v < 10000) return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* Written from the last digit back, two at a time from a table of the
 * hundred pairs "00".."99": replies write a length or a number for almost
 * every item. */
int ull_to_str(char *dst, unsigned long long v) {
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    int n = ull_digits(v), i = n;
    dst[n] = '\0';
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100) * 2;
        v /= 100;
        dst[--i] = pairs[r + 1];
        dst[--i] = pairs[r];
    }
    if (v >= 10) {
        dst[1] = pairs[v * 2 + 1];
        dst[0] = pairs[v * 2];
    } else {
        dst[0] = (char)('0' + v);
    }
    return n;
}

int ll_to_str(char *dst, long long v) {
    if (v < 0) {
        dst[0] = '-';
        return 1 + ull_to_str(dst + 1, (unsigned long long)0 - (unsigned long long)v);
    }
    return ull_to_str(dst, (unsigned long long)v);
}

int ll_digits(long long v) {
    char buf[LONG_STR_SIZE];
    return ll_to_str(buf, v);
}

static int parse_inf(const char *s, size_t len, double *out) {
    const char *p = s;
    int sign = 1;
    if (len && (*p == '-' || *p == '+')) {
        sign = *p == '-' ? -1 : 1;
        p++;
        len--;
    }
    if ((len == 3 && strncasecmp(p, "inf", 3) == 0) ||
        (len == 8 && strncasecmp(p, "infinity", 8) == 0)) {
        *out = sign * INFINITY;
        return 1;
    }
    return 0;
}

/* A plain decimal ([-]digits[.digits], at most 15 digits, no exponent)
 * without strtod: its digits as an integer m < 10^15 < 2^53 and its scale
 * 10^k (k <= 15) are exact doubles, so the one division m / 10^k is
 * correctly rounded, as strtod's result is (Clinger's fast path). Scores
 * and increments are mostly such numbers, and strtod was an eighth of a
 * ZADD's instructions. 0 when s is not of that form (strtod decides). */
static int plain_decimal(const char *s, size_t len, double *out) {
    static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = s[0] == '-';
    uint64_t m = 0;
    int digits = 0, frac = -1; /* frac: digits after the point, -1 before it */
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d <= 9) {
            if (++digits > 15) return 0;
            m = m * 10 + d;
            if (frac >= 0) frac++;
        } else if (s[i] == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (!digits) return 0;
    double v = frac > 0 ? (double)m / pow10[frac] : (double)m;
    *out = s[0] == '-' ? -v : v;
    return 1;
}

int str_to_double(const char *s, size_t len, double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    if (len == 0 || len >= sizeof(buf) || isspace((unsigned char)s[0])) return 0;
    if (plain_decimal(s, len, out)) return 1;
    if (parse_inf(s, len, out)) return 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if ((size_t)(end - buf) != len || isnan(v)) return 0;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) return 0;
    *out = v;
    return 1;
}

int str_to_ldouble(const char *s, size_t len, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    if (len == 0 || len >= sizeof(buf) || isspace((unsigned char)s[0])) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != len || isnan(v) || errno == ERANGE) return 0;
    *out = v;
    return 1;
}

int double_to_str(char *buf, size_t size, double d) {
    if (isinf(d)) return snprintf(buf, size, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d)) return snprintf(buf, size, "nan");
    return snprintf(buf, size, "%.17g", d);
}

int double_to_str_human(char *buf, size_t size, double d) {
    if (isinf(d)) return snprintf(buf, size, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d)) return snprintf(buf, size, "nan");
    if (d == 0) return snprintf(buf, size, signbit(d) ? "-0" : "0");
    /* Integers that are exactly representable print without exponent. */
    if (d == (double)(long long)d && fabs(d) < 1e17)
        return snprintf(buf, size, "%lld", (long long)d);
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return n;
    }
    return snprintf(buf, size, "%.17g", d);
}

int ldouble_to_str(char *buf, size_t size, long double d) {
    if (isinf(d) || isnan(d)) return 0;
    int n = snprintf(buf, size, "%.17Lf", d);
    if (n <= 0 || (size_t)n >= size) return 0;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0') n--;
        if (n > 0 && buf[n - 1] == '.') n--;
        buf[n] = '\0';
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = '\0';
        n = 1;
    }
    return n;
}

static inline int fold(int c, int nocase) {
    return nocase ? tolower(c) : c;
}

/* Matches the bracket class starting after '['; *pp is advanced past ']'.
 * Returns 1 when c is in the class. */
static int class_match(const char **pp, const char *pend, int c, int nocase) {
    const char *p = *pp;
    int neg = 0, hit = 0;
    if (p < pend && *p == '^') {
        neg = 1;
        p++;
    }
    while (p < pend && *p != ']') {
        if (*p == '\\' && p + 1 < pend) {
            p++;
            if (fold(*p, nocase) == fold(c, nocase)) hit = 1;
        } else if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
            int lo = fold(p[0], nocase), hi = fold(p[2], nocase), cc = fold(c, nocase);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            if (cc >= lo && cc <= hi) hit = 1;
            p += 2;
        } else if (fold(*p, nocase) == fold(c, nocase)) {
            hit = 1;
        }
        p++;
    }
    *pp = p < pend ? p + 1 : p; /* an unterminated class ends the pattern */
    return neg ? !hit : hit;
}

/* Matches one non-star token at p against c; *np receives the next pattern position. */
static int token_match(const char *p, const char *pend, int c, int nocase, const char **np) {
    if (*p == '?') {
        *np = p + 1;
        return 1;
    }
    if (*p == '[') {
        const char *q = p + 1;
        int hit = class_match(&q, pend, c, nocase);
        *np = q;
        return hit;
    }
    if (*p == '\\' && p + 1 < pend) p++;
    *np = p + 1;
    return fold((unsigned char)*p, nocase) == fold(c, nocase);
}

/* Iterative matching with one backtrack point (the last '*'): every token other
 * than '*' consumes exactly one byte, so retrying from the last star is enough
 * and the worst case is O(len(pat) * len(s)) instead of exponential; nothing
 * recurses, so no pattern can exhaust the stack.
 *
 * Redis (7.0.15 with the CVE-2024-31228 fix) matches recursively, one level
 * per '*' run that is followed by more pattern, and answers "no match" past
 * GLOB_MAX_NESTING levels. Every match must pass each such run once, in
 * order, so the same answer here is: the run number GLOB_MAX_NESTING + 1 is
 * never crossed. A trailing run, or one reached with the string used up,
 * does not count (Redis does not recurse for those either). */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase) {
    const char *p = pat, *pend = pat + plen, *s = str, *send = str + slen;
    const char *star_p = NULL, *star_s = NULL;
    int nesting = 0;
    while (s < send) {
        if (p < pend && *p == '*') {
            while (p < pend && *p == '*') p++;
            if (p == pend) return 1;
            if (++nesting > GLOB_MAX_NESTING) return 0;
            star_p = p;
            star_s = s;
            continue;
        }
        const char *np;
        if (p < pend && token_match(p, pend, (unsigned char)*s, nocase, &np)) {
            p = np;
            s++;
            continue;
        }
        if (!star_p) return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < pend && *p == '*') p++;
    return p == pend;
}

/* ASCII case folding, as strncasecmp's in the C locale the server runs
 * in, without its call and a strlen: option words are compared with this
 * for every argument that might be one (ZADD's scores, SET's EX...). */
int str_eq_nocase(const char *s, size_t len, const char *cstr) {
    for (size_t i = 0; i < len; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)cstr[i];
        if (a == b) {
            if (!b) return 0; /* a NUL in s where cstr ends */
            continue;
        }
        if ((a | 0x20) != (b | 0x20) || (b | 0x20) < 'a' || (b | 0x20) > 'z') return 0;
    }
    return cstr[len] == '\0';
}
