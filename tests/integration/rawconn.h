/* tests/integration/rawconn — a raw RESP connection for tests that compare
 * replies byte for byte: send an argv as a RESP array, read back exactly one
 * reply (RESP2 or RESP3, nested, attributes included) as its raw bytes.
 * Header-only (static functions); include after harness.h. */
#ifndef LARDER_TEST_RAWCONN_H
#define LARDER_TEST_RAWCONN_H
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rconn {
    int fd;
    char *buf;
    size_t len, cap;
} rconn;

static inline int rc_open(rconn *c, const srv *s) {
    memset(c, 0, sizeof(*c));
    c->fd = srv_raw_socket(s);
    return c->fd >= 0 ? 0 : -1;
}

static inline void rc_close(rconn *c) {
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
}

static inline void rc_send(rconn *c, int argc, const char **argv, const size_t *lens) {
    size_t cap = 64;
    for (int i = 0; i < argc; i++) cap += lens[i] + 32;
    char *out = malloc(cap);
    size_t n = (size_t)sprintf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        n += (size_t)sprintf(out + n, "$%zu\r\n", lens[i]);
        memcpy(out + n, argv[i], lens[i]);
        n += lens[i];
        out[n++] = '\r';
        out[n++] = '\n';
    }
    raw_send(c->fd, out, n);
    free(out);
}

/* End offset of the complete reply starting at off, or -1 if more bytes are needed. */
static inline long reply_end(const char *p, size_t len, size_t off) {
    if (off >= len) return -1;
    const char *nl = memchr(p + off, '\n', len - off);
    if (!nl) return -1;
    size_t line_end = (size_t)(nl - p) + 1;
    long n = atol(p + off + 1);
    switch (p[off]) {
    case '$':
    case '=':
    case '!':
        if (n < 0) return (long)line_end;
        return line_end + (size_t)n + 2 <= len ? (long)(line_end + (size_t)n + 2) : -1;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
        long items = n < 0 ? 0 : (p[off] == '%' || p[off] == '|' ? 2 * n : n);
        long at = (long)line_end;
        for (long i = 0; i < items; i++) {
            at = reply_end(p, len, (size_t)at);
            if (at < 0) return -1;
        }
        if (p[off] == '|') return reply_end(p, len, (size_t)at); /* the reply it decorates */
        return at;
    }
    default:
        return (long)line_end;
    }
}

/* One reply as bytes (caller frees; NUL-terminated, *n its length: a
 * reply may hold NUL bytes), "(lost)" when the connection closed. */
static inline char *rc_read_n(rconn *c, size_t *n_out) {
    for (;;) {
        long end = reply_end(c->buf, c->len, 0);
        if (end > 0) {
            char *r = malloc((size_t)end + 1);
            memcpy(r, c->buf, (size_t)end);
            r[end] = '\0';
            memmove(c->buf, c->buf + end, c->len - (size_t)end);
            c->len -= (size_t)end;
            *n_out = (size_t)end;
            return r;
        }
        if (c->len + 65536 > c->cap) {
            c->cap = (c->len + 65536) * 2;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n <= 0) {
            *n_out = 6;
            return strdup("(lost)");
        }
        c->len += (size_t)n;
    }
}

/* One reply as bytes (caller frees), "(lost)" when the connection closed. */
static inline char *rc_read(rconn *c) {
    size_t n;
    return rc_read_n(c, &n);
}

static inline char *rc_cmd(rconn *c, int argc, const char **argv, const size_t *lens) {
    rc_send(c, argc, argv, lens);
    return rc_read(c);
}

static inline char *rc_cmd_n(rconn *c, int argc, const char **argv, const size_t *lens, size_t *n) {
    rc_send(c, argc, argv, lens);
    return rc_read_n(c, n);
}

static inline char *rc_cmdv(rconn *c, const char *a0, const char *a1, const char *a2,
                            const char *a3) {
    const char *argv[4] = {a0, a1, a2, a3};
    size_t lens[4];
    int argc = 0;
    while (argc < 4 && argv[argc]) {
        lens[argc] = strlen(argv[argc]);
        argc++;
    }
    return rc_cmd(c, argc, argv, lens);
}

#endif
