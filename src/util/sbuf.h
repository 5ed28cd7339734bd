/* util/sbuf — a growable byte buffer for building text (INFO, CLIENT LIST...).
 * The buffer is always NUL-terminated. Owner frees with sbuf_free(). */
#ifndef LARDER_UTIL_SBUF_H
#define LARDER_UTIL_SBUF_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

#define SBUF_INIT                                                                                  \
    { NULL, 0, 0 }
/* sbuf_reserve's growth, out of line. */
void sbuf_grow(sbuf *b, size_t extra);
/* Room for extra more bytes and the NUL: the check inline (a state or a
 * reply built for every request asks), the growth a call. */
static inline void sbuf_reserve(sbuf *b, size_t extra) {
    if (b->len + extra + 1 > b->cap) sbuf_grow(b, extra);
}
void sbuf_append(sbuf *b, const void *p, size_t len);
/* Unsigned LEB128 varints (the DUMP payloads of the collection types). */
void sbuf_put_varint(sbuf *b, uint64_t v);
/* Reads one from *p (not past end) and advances *p; 0 when truncated or
 * longer than 64 bits. */
int varint_get(const char **p, const char *end, uint64_t *v);
void sbuf_puts(sbuf *b, const char *s);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap);
/* Appends s quoted and escaped like redis-cli prints binary-safe strings. */
void sbuf_append_repr(sbuf *b, const char *s, size_t len);
void sbuf_clear(sbuf *b);
void sbuf_free(sbuf *b);
/* Takes the bytes out (caller frees with xfree), leaving b empty. */
char *sbuf_take(sbuf *b, size_t *len);
#endif
