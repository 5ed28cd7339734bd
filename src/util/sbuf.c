/* util/sbuf — see sbuf.h. */
#include "util/sbuf.h"
#include "util/mem.h"
#include <stdio.h>
#include <string.h>

void sbuf_grow(sbuf *b, size_t extra) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void sbuf_append(sbuf *b, const void *p, size_t len) {
    sbuf_reserve(b, len);
    if (len) memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void sbuf_puts(sbuf *b, const char *s) {
    sbuf_append(b, s, strlen(s));
}

void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap) {
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) return;
    sbuf_reserve(b, (size_t)n);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sbuf_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sbuf_append_repr(sbuf *b, const char *s, size_t len) {
    sbuf_append(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\':
            sbuf_append(b, "\\\\", 2);
            break;
        case '"':
            sbuf_append(b, "\\\"", 2);
            break;
        case '\n':
            sbuf_append(b, "\\n", 2);
            break;
        case '\r':
            sbuf_append(b, "\\r", 2);
            break;
        case '\t':
            sbuf_append(b, "\\t", 2);
            break;
        case '\a':
            sbuf_append(b, "\\a", 2);
            break;
        case '\b':
            sbuf_append(b, "\\b", 2);
            break;
        default:
            if (c >= 32 && c < 127)
                sbuf_append(b, &s[i], 1);
            else
                sbuf_printf(b, "\\x%02x", c);
        }
    }
    sbuf_append(b, "\"", 1);
}

void sbuf_clear(sbuf *b) {
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

void sbuf_free(sbuf *b) {
    xfree(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *sbuf_take(sbuf *b, size_t *len) {
    if (!b->p) sbuf_reserve(b, 0), b->p[0] = '\0';
    char *p = b->p;
    if (len) *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void sbuf_put_varint(sbuf *b, uint64_t v) {
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sbuf_append(b, t, n);
}

int varint_get(const char **p, const char *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return 0;
        unsigned char c = (unsigned char)*(*p)++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}
