/* sql/datetime.c — time: TIMESTAMP/DATE columns, now(), uuid7(), and the
 * date and time functions (date, time, datetime, julianday, unixepoch,
 * strftime with SQLite's modifiers).
 *
 * TIMESTAMP and DATE values are stored as canonical UTC text, which sorts in
 * time order byte by byte and reads well:
 *   TIMESTAMP  YYYY-MM-DD HH:MM:SS[.ffffff]   (fraction without trailing zeros)
 *   DATE       YYYY-MM-DD
 * Input may use 'T' as separator, omit seconds, carry a 'Z' or +HH:MM offset
 * (converted to UTC), or be a number of seconds since 1970 (unix time).
 *
 * Internally a time is int64 microseconds since 1970-01-01 00:00:00 UTC, on
 * the proleptic Gregorian calendar.
 *
 * Invariants:
 *   1. sqli_dt_normalize leaves NULL alone and either rewrites the value in
 *      canonical form or fails; it never stores a half-parsed value.
 *   2. uuid7() values made by one thread are strictly increasing (the 12-bit
 *      rand_a field counts up within a millisecond).
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#define US_PER_DAY 86400000000LL

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

typedef struct tm_parts {
    int64_t y;
    int mo, d, h, mi, s, us;
} tm_parts;

static void split_us(int64_t t, tm_parts *p) {
    int64_t days = floordiv(t, US_PER_DAY), rem = t - days * US_PER_DAY;
    civil_from_days(days, &p->y, &p->mo, &p->d);
    p->h = (int)(rem / 3600000000LL);
    p->mi = (int)(rem / 60000000LL % 60);
    p->s = (int)(rem / 1000000 % 60);
    p->us = (int)(rem % 1000000);
}

static int64_t join_us(const tm_parts *p) {
    return days_from_civil(p->y, p->mo, p->d) * US_PER_DAY + (int64_t)p->h * 3600000000LL +
           (int64_t)p->mi * 60000000LL + (int64_t)p->s * 1000000 + p->us;
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The statement's time: one reading per statement, taken when first asked. */
static int64_t stmt_now(vm *v) {
    if (!v || !v->st) return now_us();
    if (!v->now) v->now = now_us();
    return v->now;
}

/* ---- parsing ----------------------------------------------------------------------------------
 */

static int digits(const char **z, const char *end, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*z >= end || !isdigit((unsigned char)**z)) return -1;
        v = v * 10 + (*(*z)++ - '0');
    }
    *out = v;
    return 0;
}

/* HH:MM[:SS[.fff]] at z */
static int parse_time(const char **z, const char *end, tm_parts *p) {
    if (digits(z, end, 2, &p->h) || *z >= end || **z != ':' || (++*z, digits(z, end, 2, &p->mi)))
        return -1;
    p->s = p->us = 0;
    if (*z < end && **z == ':') {
        ++*z;
        if (digits(z, end, 2, &p->s)) return -1;
        if (*z < end && **z == '.') {
            ++*z;
            int n = 0, us = 0;
            while (*z < end && isdigit((unsigned char)**z)) {
                if (n < 6) us = us * 10 + (**z - '0'), n++;
                ++*z;
            }
            if (n == 0) return -1;
            while (n++ < 6) us *= 10;
            p->us = us;
        }
    }
    if (p->h > 24 || p->mi > 59 || p->s > 60) return -1;
    return 0;
}

static int parse_offset(const char **z, const char *end, int64_t *off) {
    while (*z < end && **z == ' ') ++*z;
    *off = 0;
    if (*z >= end) return 0;
    if (**z == 'Z' || **z == 'z') {
        ++*z;
        return 0;
    }
    if (**z != '+' && **z != '-') return 0;
    int neg = **z == '-', h, m;
    ++*z;
    if (digits(z, end, 2, &h)) return -1;
    if (*z < end && **z == ':') ++*z;
    if (digits(z, end, 2, &m)) return -1;
    *off = ((int64_t)h * 60 + m) * 60000000LL * (neg ? -1 : 1);
    return 0;
}

/* Parse a time value: ISO text, 'now', a Julian day or (with unixepoch) a
 * number of seconds. Returns 0 and *t, or -1. */
static int parse_value(vm *v, const sql_value *x, int64_t *t) {
    if (x->type == SQL_NULL) return -1;
    if (x->type == SQL_INTEGER || x->type == SQL_FLOAT || x->type == SQL_DECIMAL) {
        double jd = sqli_val_real(x); /* a Julian day number */
        *t = (int64_t)llround((jd - 2440587.5) * 86400000000.0);
        return 0;
    }
    char buf[40];
    size_t n;
    const char *z = sqli_val_text(x, buf, &n), *end = z + n;
    while (z < end && isspace((unsigned char)*z)) z++;
    while (end > z && isspace((unsigned char)end[-1])) end--;
    if (end - z == 3 && strncasecmp(z, "now", 3) == 0) {
        *t = stmt_now(v);
        return 0;
    }
    tm_parts p = {0};
    const char *s = z;
    int y;
    int neg = s < end && *s == '-';
    if (neg) s++;
    if (digits(&s, end, 4, &y) == 0 && s < end && *s == '-') {
        p.y = neg ? -y : y;
        s++;
        if (digits(&s, end, 2, &p.mo) || s >= end || *s++ != '-' || digits(&s, end, 2, &p.d))
            return -1;
        if (p.mo < 1 || p.mo > 12 || p.d < 1 || p.d > 31) return -1;
        if (s < end && (*s == ' ' || *s == 'T' || *s == 't')) {
            s++;
            if (parse_time(&s, end, &p)) return -1;
        }
    } else {
        s = z;
        p.y = 2000, p.mo = 1, p.d = 1;
        if (parse_time(&s, end, &p)) {
            int64_t i;
            double r;
            int k = sqli_num_parse(z, (size_t)(end - z), &i, &r);
            if (k == 0) return -1;
            double jd = k == 1 ? (double)i : r;
            *t = (int64_t)llround((jd - 2440587.5) * 86400000000.0);
            return 0;
        }
    }
    int64_t off;
    if (parse_offset(&s, end, &off) || s != end) return -1;
    *t = join_us(&p) - off;
    return 0;
}

/* ---- modifiers ---------------------------------------------------------------------------------
 */

static int add_months(int64_t *t, int64_t months) {
    tm_parts p;
    split_us(*t, &p);
    int64_t m = p.y * 12 + (p.mo - 1) + months;
    p.y = floordiv(m, 12);
    p.mo = (int)(m - p.y * 12) + 1;
    int64_t overflow_days = 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (p.y % 4 == 0 && p.y % 100 != 0) || p.y % 400 == 0;
    int dim = mdays[p.mo - 1] + (p.mo == 2 && leap);
    if (p.d > dim) overflow_days = p.d - dim, p.d = dim; /* SQLite normalizes forward */
    *t = join_us(&p) + overflow_days * US_PER_DAY;
    return 0;
}

static int apply_modifier(const char *z, size_t n, int64_t *t, int *unixepoch_pending,
                          const sql_value *orig) {
    char m[64];
    if (n >= sizeof m) return -1;
    for (size_t i = 0; i < n; i++) m[i] = (char)tolower((unsigned char)z[i]);
    m[n] = 0;
    tm_parts p;
    if (strcmp(m, "unixepoch") == 0) {
        if (!*unixepoch_pending) return -1;
        *t = (int64_t)llround(sqli_val_real(orig) * 1000000.0);
        *unixepoch_pending = 0;
        return 0;
    }
    if (strcmp(m, "utc") == 0 || strcmp(m, "localtime") == 0 || strcmp(m, "auto") == 0) return 0;
    if (strcmp(m, "start of day") == 0) {
        *t = floordiv(*t, US_PER_DAY) * US_PER_DAY;
        return 0;
    }
    if (strcmp(m, "start of month") == 0 || strcmp(m, "start of year") == 0) {
        split_us(*t, &p);
        p.d = 1;
        if (m[9] == 'y') p.mo = 1;
        p.h = p.mi = p.s = p.us = 0;
        *t = join_us(&p);
        return 0;
    }
    if (strncmp(m, "weekday ", 8) == 0) {
        int wd = atoi(m + 8);
        int64_t days = floordiv(*t, US_PER_DAY);
        int cur = (int)((days % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        *t += (int64_t)((wd - cur + 7) % 7) * US_PER_DAY;
        return 0;
    }
    char *endp;
    double amt = strtod(m, &endp);
    if (endp == m) return -1;
    while (*endp == ' ') endp++;
    size_t ul = strlen(endp);
    if (ul && endp[ul - 1] == 's') endp[--ul] = 0;
    if (strcmp(endp, "day") == 0)
        *t += (int64_t)llround(amt * US_PER_DAY);
    else if (strcmp(endp, "hour") == 0)
        *t += (int64_t)llround(amt * 3600e6);
    else if (strcmp(endp, "minute") == 0)
        *t += (int64_t)llround(amt * 60e6);
    else if (strcmp(endp, "second") == 0)
        *t += (int64_t)llround(amt * 1e6);
    else if (strcmp(endp, "month") == 0)
        add_months(t, (int64_t)amt);
    else if (strcmp(endp, "year") == 0)
        add_months(t, (int64_t)amt * 12);
    else
        return -1;
    return 0;
}

/* Time from a function's arguments (value then modifiers); 0 ok, -1 NULL. */
static int time_args(vm *v, int argc, sql_value *a, int64_t *t) {
    int pending = 0;
    if (argc == 0) {
        *t = stmt_now(v);
    } else if (parse_value(v, &a[0], t) != 0) {
        return -1;
    }
    if (argc > 1 && (a[0].type == SQL_INTEGER || a[0].type == SQL_FLOAT)) pending = 1;
    for (int i = 1; i < argc; i++) {
        char buf[40];
        size_t n;
        if (a[i].type == SQL_NULL) return -1;
        const char *z = sqli_val_text(&a[i], buf, &n);
        if (apply_modifier(z, n, t, &pending, &a[0]) != 0) return -1;
        pending = 0;
    }
    return 0;
}

/* ---- formatting -------------------------------------------------------------------------------
 */

static int fmt_date(char *b, const tm_parts *p) {
    return sprintf(b, "%04lld-%02d-%02d", (long long)p->y, p->mo, p->d);
}

static int fmt_canonical(char *b, int64_t t, int kind) {
    tm_parts p;
    split_us(t, &p);
    int n = fmt_date(b, &p);
    if (kind == KIND_DATE) return n;
    n += sprintf(b + n, " %02d:%02d:%02d", p.h, p.mi, p.s);
    if (p.us) {
        char f[8];
        sprintf(f, "%06d", p.us);
        int k = 6;
        while (k > 0 && f[k - 1] == '0') k--;
        f[k] = 0;
        n += sprintf(b + n, ".%s", f);
    }
    return n;
}

int sqli_dt_normalize(sql_value *x, int kind, char **err) {
    if (x->type == SQL_NULL) return 0;
    int64_t t;
    if (x->type == SQL_INTEGER || x->type == SQL_FLOAT) {
        t = (int64_t)llround(sqli_val_real(x) * 1e6); /* unix seconds */
    } else if (parse_value(NULL, x, &t) != 0) {
        static __thread char msg[160];
        char buf[40];
        size_t n;
        const char *z = sqli_val_text(x, buf, &n);
        snprintf(msg, sizeof msg, "invalid %s value: '%.*s'",
                 kind == KIND_DATE ? "DATE" : "TIMESTAMP", (int)(n > 60 ? 60 : n), z);
        *err = msg;
        return -1;
    }
    char b[64];
    int n = fmt_canonical(b, t, kind);
    val_free(x);
    sqli_val_set_text_copy(x, b, (size_t)n);
    return 0;
}

static int text_out(sql_value *out, const char *b, int n) {
    sqli_val_set_text_copy(out, b, (size_t)n);
    return SQL_OK;
}

int sqli_f_now(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)argc, (void)a;
    char b[64];
    int n = fmt_canonical(b, stmt_now(v), KIND_TIMESTAMP);
    return text_out(out, b, n);
}

int sqli_f_current_timestamp(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)argc, (void)a;
    tm_parts p;
    split_us(stmt_now(v), &p);
    char b[64];
    int n = fmt_date(b, &p);
    n += sprintf(b + n, " %02d:%02d:%02d", p.h, p.mi, p.s);
    return text_out(out, b, n);
}

int sqli_f_current_date(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)argc, (void)a;
    tm_parts p;
    split_us(stmt_now(v), &p);
    char b[64];
    return text_out(out, b, fmt_date(b, &p));
}

int sqli_f_current_time(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)argc, (void)a;
    tm_parts p;
    split_us(stmt_now(v), &p);
    char b[64];
    return text_out(out, b, sprintf(b, "%02d:%02d:%02d", p.h, p.mi, p.s));
}

int sqli_f_date(vm *v, int argc, sql_value *a, sql_value *out) {
    int64_t t;
    if (time_args(v, argc, a, &t)) return SQL_OK;
    tm_parts p;
    split_us(t, &p);
    char b[64];
    return text_out(out, b, fmt_date(b, &p));
}

int sqli_f_time(vm *v, int argc, sql_value *a, sql_value *out) {
    int64_t t;
    if (time_args(v, argc, a, &t)) return SQL_OK;
    tm_parts p;
    split_us(t, &p);
    char b[64];
    return text_out(out, b, sprintf(b, "%02d:%02d:%02d", p.h, p.mi, p.s));
}

int sqli_f_datetime(vm *v, int argc, sql_value *a, sql_value *out) {
    int64_t t;
    if (time_args(v, argc, a, &t)) return SQL_OK;
    tm_parts p;
    split_us(t, &p);
    char b[64];
    int n = fmt_date(b, &p);
    return text_out(out, b, n + sprintf(b + n, " %02d:%02d:%02d", p.h, p.mi, p.s));
}

int sqli_f_julianday(vm *v, int argc, sql_value *a, sql_value *out) {
    int64_t t;
    if (time_args(v, argc, a, &t)) return SQL_OK;
    val_set_real(out, (double)t / 86400e6 + 2440587.5);
    return SQL_OK;
}

int sqli_f_unixepoch(vm *v, int argc, sql_value *a, sql_value *out) {
    int64_t t;
    if (time_args(v, argc, a, &t)) return SQL_OK;
    val_set_int(out, floordiv(t, 1000000));
    return SQL_OK;
}

int sqli_f_strftime(vm *v, int argc, sql_value *a, sql_value *out) {
    int64_t t;
    if (a[0].type == SQL_NULL || time_args(v, argc - 1, a + 1, &t)) return SQL_OK;
    char fb[40];
    size_t fn;
    const char *f = sqli_val_text(&a[0], fb, &fn);
    tm_parts p;
    split_us(t, &p);
    strb b = {0};
    int64_t days = floordiv(t, US_PER_DAY);
    int64_t yday = days - days_from_civil(p.y, 1, 1);
    int wday = (int)((days % 7 + 7 + 4) % 7);
    for (size_t i = 0; i < fn; i++) {
        if (f[i] != '%' || i + 1 >= fn) {
            sqli_strb_addc(&b, f[i]);
            continue;
        }
        switch (f[++i]) {
        case 'd':
            sqli_strb_addf(&b, "%02d", p.d);
            break;
        case 'f':
            sqli_strb_addf(&b, "%02d.%03d", p.s, p.us / 1000);
            break;
        case 'H':
            sqli_strb_addf(&b, "%02d", p.h);
            break;
        case 'j':
            sqli_strb_addf(&b, "%03d", (int)yday + 1);
            break;
        case 'J':
            sqli_strb_addf(&b, "%.16g", (double)t / 86400e6 + 2440587.5);
            break;
        case 'm':
            sqli_strb_addf(&b, "%02d", p.mo);
            break;
        case 'M':
            sqli_strb_addf(&b, "%02d", p.mi);
            break;
        case 's':
            sqli_strb_addf(&b, "%lld", (long long)floordiv(t, 1000000));
            break;
        case 'S':
            sqli_strb_addf(&b, "%02d", p.s);
            break;
        case 'w':
            sqli_strb_addf(&b, "%d", wday);
            break;
        case 'W':
            sqli_strb_addf(&b, "%02d", (int)((yday + 7 - (wday + 6) % 7) / 7));
            break;
        case 'Y':
            sqli_strb_addf(&b, "%04lld", (long long)p.y);
            break;
        case '%':
            sqli_strb_addc(&b, '%');
            break;
        default:
            sqli_strb_free(&b);
            return SQL_OK;
        }
    }
    sqli_val_set_text_own(out, b.p ? b.p : xstrdup(""), b.n);
    return SQL_OK;
}

/* ---- uuid7
 * --------------------------------------------------------------------------------------- */

int sqli_f_uuid7(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)v, (void)argc, (void)a;
    static __thread uint64_t last_ms;
    static __thread uint32_t counter;
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        for (int i = 0; i < 16; i++) r[i] = (uint8_t)rand();
    uint64_t ms = (uint64_t)(now_us() / 1000);
    if (ms <= last_ms) {
        ms = last_ms;
        if (++counter > 0xFFF) { /* counter exhausted: borrow the next millisecond */
            ms = ++last_ms;
            counter = (uint32_t)(r[6] & 0x7F);
        }
    } else {
        last_ms = ms;
        counter = (uint32_t)(((r[6] << 8) | r[7]) & 0x7FF); /* start low, room to count */
    }
    uint8_t u[16];
    for (int i = 0; i < 6; i++) u[i] = (uint8_t)(ms >> (40 - 8 * i));
    u[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0F));
    u[7] = (uint8_t)counter;
    u[8] = (uint8_t)(0x80 | (r[8] & 0x3F));
    memcpy(u + 9, r + 9, 7);
    char b[40];
    int n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) b[n++] = '-';
        n += sprintf(b + n, "%02x", u[i]);
    }
    return text_out(out, b, n);
}
