/* resp/request — incremental request parser, see resp.h.
 *
 * Invariants:
 *  1. r->pos never exceeds the bytes seen; everything before r->pos in the
 *     current request has been validated and recorded in argv (as offsets).
 *  2. argv[i].p is only meaningful after RESP_REQ_DONE: the caller's buffer may
 *     move between calls, so offsets are turned into pointers at the end.
 *  3. Once err is set the parser stays failed until resp_req_reset(). */
#include "resp/resp.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>

void resp_req_init(resp_req *r, long long max_bulk) {
    memset(r, 0, sizeof(*r));
    r->bulk_len = -1;
    r->max_bulk = max_bulk;
    r->max_mbulk = INT_MAX;
}

void resp_req_free(resp_req *r) {
    xfree(r->argv);
    r->argv = NULL;
    r->argv_cap = 0;
}

void resp_req_reset(resp_req *r) {
    r->argc = 0;
    r->kind = 0;
    r->mb_left = 0;
    r->bulk_len = -1;
    r->pos = 0;
    r->err = NULL;
    if (r->argv_cap > 1024) { /* a huge request should not pin its argv forever */
        xfree(r->argv);
        r->argv = NULL;
        r->argv_cap = 0;
    }
}

static int fail(resp_req *r, const char *msg) {
    r->err = msg;
    return RESP_REQ_ERR;
}

static void push_arg(resp_req *r, size_t off, size_t len) {
    if (r->argc == r->argv_cap) {
        r->argv_cap = r->argv_cap ? r->argv_cap * 2 : 8;
        r->argv = xrealloc(r->argv, sizeof(resp_arg) * (size_t)r->argv_cap);
    }
    r->argv[r->argc].off = off;
    r->argv[r->argc].len = len;
    r->argv[r->argc].p = NULL;
    r->argc++;
}

static void finish(resp_req *r, char *buf) {
    for (int i = 0; i < r->argc; i++) r->argv[i].p = buf + r->argv[i].off;
}

static int parse_inline(resp_req *r, char *buf, size_t len, size_t *used) {
    char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > RESP_INLINE_MAX) return fail(r, "Protocol error: too big inline request");
        return RESP_REQ_MORE;
    }
    size_t line = (size_t)(nl - buf);
    if (line > 0 && buf[line - 1] == '\r') line--;
    r->argc = 0;
    if (resp_split_args(buf, line, &r->argv, &r->argv_cap, &r->argc) < 0)
        return fail(r, "Protocol error: unbalanced quotes in request");
    r->kind = 'i';
    *used = (size_t)(nl - buf) + 1;
    return RESP_REQ_DONE;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads one quoted argument starting at s[*i] (the quote), unescaping into s at
 * *w. Returns 0, or -1 on an unbalanced quote. */
static int split_quoted(char *s, size_t len, size_t *i, size_t *w) {
    char q = s[*i];
    size_t k = *i + 1, o = *w;
    for (;;) {
        if (k >= len) return -1;
        char c = s[k];
        if (q == '"' && c == '\\' && k + 3 < len && s[k + 1] == 'x' && hexval(s[k + 2]) >= 0 &&
            hexval(s[k + 3]) >= 0) {
            s[o++] = (char)(hexval(s[k + 2]) * 16 + hexval(s[k + 3]));
            k += 4;
        } else if (q == '"' && c == '\\' && k + 1 < len) {
            char e = s[k + 1];
            s[o++] = e == 'n'   ? '\n'
                     : e == 'r' ? '\r'
                     : e == 't' ? '\t'
                     : e == 'b' ? '\b'
                     : e == 'a' ? '\a'
                                : e;
            k += 2;
        } else if (q == '\'' && c == '\\' && k + 1 < len && s[k + 1] == '\'') {
            s[o++] = '\'';
            k += 2;
        } else if (c == q) {
            /* the closing quote must be followed by a space or the end */
            if (k + 1 < len && !is_space((unsigned char)s[k + 1])) return -1;
            k++;
            break;
        } else {
            s[o++] = c;
            k++;
        }
    }
    *i = k;
    *w = o;
    return 0;
}

int resp_split_args(char *s, size_t len, resp_arg **argv, int *cap, int *argc) {
    size_t i = 0;
    while (1) {
        while (i < len && is_space((unsigned char)s[i])) i++;
        if (i >= len) break;
        size_t start = i, w = i;
        if (s[i] == '"' || s[i] == '\'') {
            if (split_quoted(s, len, &i, &w) < 0) return -1;
        } else {
            /* a quote may also open inside a word (Redis: name="foo" is name=foo) */
            while (i < len && !is_space((unsigned char)s[i]) && s[i] != '"' && s[i] != '\'') i++;
            w = i;
            if (i < len && (s[i] == '"' || s[i] == '\'') && split_quoted(s, len, &i, &w) < 0)
                return -1;
        }
        if (*argc == *cap) {
            *cap = *cap ? *cap * 2 : 8;
            *argv = xrealloc(*argv, sizeof(resp_arg) * (size_t)*cap);
        }
        (*argv)[*argc].p = s + start;
        (*argv)[*argc].len = w - start;
        (*argv)[*argc].off = start;
        (*argc)++;
        /* w <= i and i is at a space, the end of the line, or past a quote: the
         * byte at w is ours to overwrite (for the last arg it is the '\r'/'\n'). */
        s[w] = '\0';
        if (i < len) i++;
    }
    return *argc;
}

/* Reads a "<c><integer>\r\n" line at buf+r->pos the slow, general way
 * (Redis's rule: the text up to the first '\r' must be a canonical integer).
 * Returns 1 with *v set, 0 if the line is incomplete, -1 if malformed, -2 if
 * no '\r' came within RESP_INLINE_MAX bytes. */
static int read_count_line_slow(resp_req *r, char *buf, size_t len, long long *v,
                                size_t *line_end) {
    char *start = buf + r->pos;
    size_t avail = len - r->pos;
    char *cr = memchr(start, '\r', avail);
    if (!cr) return avail > RESP_INLINE_MAX ? -2 : 0;
    if ((size_t)(cr - start) + 2 > avail) return 0; /* need the '\n' too */
    *line_end = (size_t)(cr - buf) + 2;
    if (!str_to_ll(start + 1, (size_t)(cr - start - 1), v)) return -1;
    return 1;
}

/* The common case inline: 1-18 digits, no sign, no leading zero, then \r\n. */
static inline int read_count_line(resp_req *r, char *buf, size_t len, long long *v,
                                  size_t *line_end) {
    const char *p = buf + r->pos + 1, *e = buf + len, *digits = p;
    long long n = 0;
    while (p < e && *p >= '0' && *p <= '9' && p - digits < 18) n = n * 10 + (*p++ - '0');
    if (p + 1 < e && p[0] == '\r' && p[1] == '\n' && p > digits &&
        !(digits[0] == '0' && p - digits > 1)) {
        *v = n;
        *line_end = (size_t)(p - buf) + 2;
        return 1;
    }
    return read_count_line_slow(r, buf, len, v, line_end);
}

static int parse_multibulk(resp_req *r, char *buf, size_t len, size_t *used) {
    long long v;
    size_t end;
    if (r->kind == 0) {
        int rc = read_count_line(r, buf, len, &v, &end);
        if (rc == -2) return fail(r, "Protocol error: too big mbulk count string");
        if (rc == 0) return RESP_REQ_MORE;
        if (rc < 0 || v > r->max_mbulk) return fail(r, "Protocol error: invalid multibulk length");
        if (r->unauth && v > RESP_UNAUTH_MAX_MBULK)
            return fail(r, "Protocol error: unauthenticated multibulk length");
        r->kind = '*';
        r->pos = end;
        r->mb_left = v > 0 ? v : 0;
        r->argc = 0;
    }
    while (r->mb_left > 0) {
        if (r->bulk_len < 0) {
            if (r->pos >= len) return RESP_REQ_MORE;
            int rc = read_count_line(r, buf, len, &v, &end);
            if (rc == -2) return fail(r, "Protocol error: too big bulk count string");
            if (rc == 0) return RESP_REQ_MORE;
            if (buf[r->pos] != '$') {
                snprintf(r->errbuf, sizeof(r->errbuf), "Protocol error: expected '$', got '%c'",
                         buf[r->pos]);
                return fail(r, r->errbuf);
            }
            if (rc < 0 || v < 0 || v > r->max_bulk)
                return fail(r, "Protocol error: invalid bulk length");
            if (r->unauth && v > RESP_UNAUTH_MAX_BULK)
                return fail(r, "Protocol error: unauthenticated bulk length");
            r->bulk_len = v;
            r->pos = end;
        }
        if (len - r->pos < (size_t)r->bulk_len + 2) return RESP_REQ_MORE;
        push_arg(r, r->pos, (size_t)r->bulk_len);
        buf[r->pos + (size_t)r->bulk_len] = '\0'; /* the '\r' becomes the terminator */
        r->pos += (size_t)r->bulk_len + 2;
        r->bulk_len = -1;
        r->mb_left--;
    }
    *used = r->pos;
    finish(r, buf);
    return RESP_REQ_DONE;
}

/* A count after its type byte at *pp: 1-18 digits, no leading zero, then
 * \r\n. Advances *pp past the line; -1 when the line is anything else. */
static inline long long fast_count(char **pp, const char *e) {
    char *p = *pp, *digits = p;
    const char *lim = e - digits > 18 ? digits + 18 : e;
    long long n = 0;
    unsigned d;
    while (p < lim && (d = (unsigned char)*p - '0') <= 9) {
        n = n * 10 + d;
        p++;
    }
    if (p == digits || e - p < 2 || memcmp(p, "\r\n", 2) != 0 ||
        (digits[0] == '0' && p - digits > 1))
        return -1;
    *pp = p + 2;
    return n;
}

/* The common case in one pass: a whole multibulk request of up to
 * FAST_MAX_ARGS arguments already in buf, every count in the canonical
 * form and within the limits. Anything else (a partial request, an error
 * to report, an odd count) returns RESP_REQ_MORE having changed nothing the
 * general parser reads, and the general parser takes it from the start. */
#define FAST_MAX_ARGS 64
static int parse_multibulk_whole(resp_req *r, char *buf, size_t len, size_t *used) {
    const char *e = buf + len;
    char *p = buf + 1;
    long long n = fast_count(&p, e);
    if (n <= 0 || n > FAST_MAX_ARGS || n > r->max_mbulk || (r->unauth && n > RESP_UNAUTH_MAX_MBULK))
        return RESP_REQ_MORE;
    if (r->argv_cap < n) {
        int cap = r->argv_cap ? r->argv_cap : 8;
        while (cap < n) cap *= 2;
        r->argv = xrealloc(r->argv, sizeof(resp_arg) * (size_t)cap);
        r->argv_cap = cap;
    }
    long long max_bulk =
        r->unauth && r->max_bulk > RESP_UNAUTH_MAX_BULK ? RESP_UNAUTH_MAX_BULK : r->max_bulk;
    for (long long i = 0; i < n; i++) {
        if (p >= e || *p != '$') return RESP_REQ_MORE;
        p++;
        long long v = fast_count(&p, e);
        if (v < 0 || v > max_bulk || e - p < v + 2) return RESP_REQ_MORE;
        resp_arg *a = &r->argv[i];
        a->p = p;
        a->len = (size_t)v;
        a->off = (size_t)(p - buf);
        p[v] = '\0'; /* the '\r' becomes the terminator, as push_arg's caller does */
        p += v + 2;
    }
    r->argc = (int)n;
    r->kind = '*';
    r->pos = (size_t)(p - buf);
    *used = r->pos;
    return RESP_REQ_DONE;
}

int resp_req_parse(resp_req *r, char *buf, size_t len, size_t *used) {
    if (r->err) return RESP_REQ_ERR;
    if (len == 0) return RESP_REQ_MORE;
    if (r->kind == 0 && buf[0] == '*' && parse_multibulk_whole(r, buf, len, used) == RESP_REQ_DONE)
        return RESP_REQ_DONE;
    if (r->kind == 'i' || (r->kind == 0 && buf[0] != '*')) return parse_inline(r, buf, len, used);
    return parse_multibulk(r, buf, len, used);
}

size_t resp_req_need(const resp_req *r, size_t have) {
    if (r->kind != '*' || r->bulk_len < 0) return 0;
    size_t want = r->pos + (size_t)r->bulk_len + 2;
    return want > have ? want - have : 0;
}
