/* resp/reply — see reply.h. One item at a time; no recursion inside except
 * in resp_reply_skip, which is bounded by an explicit counter instead. */
#include "resp/reply.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void resp_reply_init(resp_reply_reader *r, const char *buf, size_t len) {
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->err = NULL;
}

static int fail(resp_reply_reader *r, const char *msg) {
    r->err = msg;
    return RESP_REPLY_ERR;
}

/* The line at p (up to CRLF): its length in *n; NULL if the CRLF is not in the buffer. */
static const char *line_end(const resp_reply_reader *r, size_t from) {
    const char *p = r->buf + from, *end = r->buf + r->len;
    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        if (!cr || cr + 1 >= end) return NULL;
        if (cr[1] == '\n') return cr;
        p = cr + 1;
    }
    return NULL;
}

static int parse_ll(const char *s, size_t n, long long *out) {
    if (n == 0 || n > 20) return -1;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *e;
    errno = 0;
    long long v = strtoll(tmp, &e, 10);
    if (errno || *e) return -1;
    *out = v;
    return 0;
}

/* Bulk-like payload of n bytes starting at `at`, followed by CRLF. */
static int take_payload(resp_reply_reader *r, size_t at, long long n, resp_item *it) {
    if (n < 0) return fail(r, "negative length");
    if ((unsigned long long)n > r->len || at + (size_t)n + 2 > r->len) return RESP_REPLY_MORE;
    if (r->buf[at + (size_t)n] != '\r' || r->buf[at + (size_t)n + 1] != '\n')
        return fail(r, "bulk payload not followed by CRLF");
    it->str = r->buf + at;
    it->len = (size_t)n;
    r->pos = at + (size_t)n + 2;
    return RESP_REPLY_OK;
}

int resp_reply_next(resp_reply_reader *r, resp_item *it) {
    if (r->err) return RESP_REPLY_ERR;
    if (r->pos >= r->len) return RESP_REPLY_MORE;
    memset(it, 0, sizeof(*it));
    const char *le = line_end(r, r->pos);
    if (!le) return RESP_REPLY_MORE;
    char t = r->buf[r->pos];
    const char *s = r->buf + r->pos + 1;
    size_t n = (size_t)(le - s);
    size_t next = (size_t)(le - r->buf) + 2;
    long long v;
    it->type = t;
    switch (t) {
    case '+':
    case '-':
        it->str = s;
        it->len = n;
        break;
    case ':':
        if (parse_ll(s, n, &v)) return fail(r, "bad integer");
        it->integer = v;
        break;
    case '(':
        it->str = s;
        it->len = n;
        break;
    case ',': {
        char tmp[128];
        if (n == 0 || n >= sizeof(tmp)) return fail(r, "bad double");
        memcpy(tmp, s, n);
        tmp[n] = 0;
        char *e;
        if (!strcmp(tmp, "inf"))
            it->dbl = 1.0 / 0.0;
        else if (!strcmp(tmp, "-inf"))
            it->dbl = -1.0 / 0.0;
        else if (!strcmp(tmp, "nan"))
            it->dbl = 0.0 / 0.0;
        else {
            it->dbl = strtod(tmp, &e);
            if (*e) return fail(r, "bad double");
        }
        it->str = s;
        it->len = n;
        break;
    }
    case '#':
        if (n != 1 || (s[0] != 't' && s[0] != 'f')) return fail(r, "bad boolean");
        it->integer = s[0] == 't';
        break;
    case '_':
        if (n != 0) return fail(r, "bad null");
        it->null_kind = '_';
        break;
    case '$':
    case '=':
    case '!':
        if (parse_ll(s, n, &v)) return fail(r, "bad bulk length");
        if (v == -1 && t == '$') {
            it->type = RESP_T_NULL;
            it->null_kind = '$';
            break;
        }
        {
            int rc = take_payload(r, next, v, it);
            if (rc != RESP_REPLY_OK) return rc;
        }
        if (t == '!') it->type = RESP_T_ERROR;
        if (t == '=') {
            if (it->len < 4 || it->str[3] != ':') return fail(r, "bad verbatim string");
            memcpy(it->fmt, it->str, 3);
            it->fmt[3] = 0;
            it->str += 4;
            it->len -= 4;
        }
        return RESP_REPLY_OK; /* pos set by take_payload */
    case '*':
    case '%':
    case '~':
    case '>':
    case '|':
        if (parse_ll(s, n, &v)) return fail(r, "bad aggregate length");
        if (v == -1 && t == '*') {
            it->type = RESP_T_NULL;
            it->null_kind = '*';
            break;
        }
        if (v < 0 || v > INT_MAX) return fail(r, "bad aggregate length");
        it->integer = v;
        break;
    default:
        return fail(r, "unknown reply type");
    }
    r->pos = next;
    return RESP_REPLY_OK;
}

int resp_reply_skip(resp_reply_reader *r) {
    size_t start = r->pos;
    unsigned long long pending = 1; /* items still to read */
    while (pending) {
        resp_item it;
        int rc = resp_reply_next(r, &it);
        if (rc != RESP_REPLY_OK) {
            if (rc == RESP_REPLY_MORE) r->pos = start;
            return rc;
        }
        pending--;
        switch (it.type) {
        case RESP_T_ARRAY:
        case RESP_T_SET:
        case RESP_T_PUSH:
            pending += (unsigned long long)it.integer;
            break;
        case RESP_T_MAP:
            pending += 2ULL * (unsigned long long)it.integer;
            break;
        case RESP_T_ATTR: /* the attribute's pairs, then the reply it annotates */
            pending += 2ULL * (unsigned long long)it.integer + 1;
            break;
        }
    }
    return RESP_REPLY_OK;
}
