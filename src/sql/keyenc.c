/* sql/keyenc.c — order-preserving key encoding; the format is drawn in keyenc.h.
 *
 * Invariants:
 *   1. Every component starts with a tag byte in {05, 10..23, 30, 40} (ASC) or
 *      its inversion (DESC); no tag is FF, no inverted tag is 00.
 *   2. memcmp order of two single components equals SQL order of the values,
 *      and a component is never a proper prefix of another one except INT(i)
 *      of INT(i) FF <fraction>, where the shorter (the integer) is smaller.
 *   3. Decoding never reads outside [key, key + len).
 */
#include "sql/keyenc.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <string.h>

enum {
    TAG_NULL = 0x05,
    TAG_NAN = 0x10,
    TAG_NEGBIG = 0x11,
    TAG_ZERO = 0x1A, /* integers: 0x12..0x22 */
    TAG_POSBIG = 0x23,
    TAG_TEXT = 0x30,
    TAG_BLOB = 0x40,
    FRAC_MARK = 0xFF,
};

void sqli_keyenc_init(keyenc_buf *b) {
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof b->small;
}

void sqli_keyenc_reset(keyenc_buf *b) {
    if (!b->p) sqli_keyenc_init(b);
    b->len = 0;
}

void sqli_keyenc_free(keyenc_buf *b) {
    if (b->p && b->p != b->small) xfree(b->p);
    sqli_keyenc_init(b);
}

static uint8_t *reserve(keyenc_buf *b, size_t n) {
    if (!b->p) sqli_keyenc_init(b);
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2;
        while (cap < b->len + n) cap *= 2;
        if (b->p == b->small) {
            uint8_t *p = xmalloc(cap);
            memcpy(p, b->small, b->len);
            b->p = p;
        } else {
            b->p = xrealloc(b->p, cap);
        }
        b->cap = cap;
    }
    return b->p + b->len;
}

static void put_byte(keyenc_buf *b, uint8_t c) {
    *reserve(b, 1) = c;
    b->len++;
}

/* Finish a component that started at offset start: invert it for DESC. */
static void finish(keyenc_buf *b, size_t start, int desc) {
    if (!desc) return;
    for (size_t i = start; i < b->len; i++) b->p[i] = (uint8_t)~b->p[i];
    put_byte(b, 0xFF);
}

static uint64_t ordered_double(double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    return (u & (1ull << 63)) ? ~u : (u | (1ull << 63));
}

static double unordered_double(uint64_t u) {
    u = (u & (1ull << 63)) ? (u & ~(1ull << 63)) : ~u;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static void put_be64(keyenc_buf *b, uint64_t v) {
    uint8_t *p = reserve(b, 8);
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
    b->len += 8;
}

static void put_int_raw(keyenc_buf *b, int64_t v) {
    uint64_t m = v < 0 ? ~(uint64_t)v : (uint64_t)v;
    int n = m ? (64 - __builtin_clzll(m) + 7) / 8 : 0; /* bytes of m without leading zeros */
    if (v < 0 && n == 0) n = 1;                        /* -1 .. -256 need one byte */
    uint8_t *p = reserve(b, (size_t)n + 1);
    p[0] = (uint8_t)(v < 0 ? TAG_ZERO - n : TAG_ZERO + n);
    for (int i = 0; i < n; i++) p[1 + i] = (uint8_t)((uint64_t)v >> (8 * (n - 1 - i)));
    b->len += (size_t)n + 1;
}

void sqli_keyenc_null(keyenc_buf *b, int desc) {
    size_t s = b->p ? b->len : 0;
    put_byte(b, TAG_NULL);
    finish(b, s, desc);
}

void sqli_keyenc_int(keyenc_buf *b, int64_t v, int desc) {
    size_t s = b->p ? b->len : 0;
    put_int_raw(b, v);
    finish(b, s, desc);
}

void sqli_keyenc_real(keyenc_buf *b, double v, int desc) {
    size_t s = b->p ? b->len : 0;
    if (isnan(v)) {
        put_byte(b, TAG_NAN);
    } else if (v < -9223372036854775808.0) {
        put_byte(b, TAG_NEGBIG);
        put_be64(b, ordered_double(v));
    } else if (v >= 9223372036854775808.0) {
        put_byte(b, TAG_POSBIG);
        put_be64(b, ordered_double(v));
    } else {
        double fl = floor(v);
        put_int_raw(b, (int64_t)fl);
        if (fl != v) {
            /* r > 0: r - floor r is exact; r < 0: use r - ceil r, exact too,
             * and in (-1, 0) it orders the same way as r - floor r in (0, 1). */
            double frac = v > 0 ? v - fl : v - ceil(v);
            put_byte(b, FRAC_MARK);
            put_be64(b, ordered_double(frac));
        }
    }
    finish(b, s, desc);
}

static void put_escaped(keyenc_buf *b, uint8_t tag, const void *s, size_t n, int term) {
    const uint8_t *in = s;
    put_byte(b, tag);
    uint8_t *p = reserve(b, n * 2 + 2);
    size_t o = 0;
    for (size_t i = 0; i < n;) { /* runs without a 00 byte are copied whole */
        const uint8_t *z = memchr(in + i, 0, n - i);
        size_t run = z ? (size_t)(z - (in + i)) : n - i;
        memcpy(p + o, in + i, run);
        o += run;
        i += run;
        if (z) {
            p[o++] = 0x00;
            p[o++] = 0xFF;
            i++;
        }
    }
    if (term) {
        p[o++] = 0x00;
        p[o++] = 0x01;
    }
    b->len += o;
}

void sqli_keyenc_text(keyenc_buf *b, const void *s, size_t n, int desc) {
    size_t st = b->p ? b->len : 0;
    put_escaped(b, TAG_TEXT, s, n, 1);
    finish(b, st, desc);
}

void sqli_keyenc_blob(keyenc_buf *b, const void *s, size_t n, int desc) {
    size_t st = b->p ? b->len : 0;
    put_escaped(b, TAG_BLOB, s, n, 1);
    finish(b, st, desc);
}

void sqli_keyenc_text_prefix(keyenc_buf *b, const void *s, size_t n) {
    put_escaped(b, TAG_TEXT, s, n, 0);
}

/* ---- decoding ------------------------------------------------------------ */

/* Byte i of the component as it was before DESC inversion. */
static inline uint8_t at(const uint8_t *k, size_t i, uint8_t x) {
    return (uint8_t)(k[i] ^ x);
}

static int get_be64(const uint8_t *k, size_t len, size_t *pos, uint8_t x, uint64_t *v) {
    if (len - *pos < 8) return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = (u << 8) | at(k, *pos + (size_t)i, x);
    *pos += 8;
    *v = u;
    return 0;
}

/* Escaped bytes from *pos up to the terminator 00 01; out: raw range and
 * whether an escape was seen. */
static int scan_escaped(const uint8_t *k, size_t len, size_t *pos, uint8_t x, size_t *start,
                        size_t *end, int *escaped) {
    size_t i = *pos;
    *start = i;
    *escaped = 0;
    for (;;) {
        if (i >= len) return -1;
        if (at(k, i, x) == 0) {
            if (i + 1 >= len) return -1;
            uint8_t nx = at(k, i + 1, x);
            if (nx == 0x01) break;
            if (nx != 0xFF) return -1;
            *escaped = 1;
            i += 2;
        } else {
            i++;
        }
    }
    *end = i;
    *pos = i + 2;
    return 0;
}

static int decode_int(const uint8_t *k, size_t len, size_t *pos, uint8_t x, uint8_t tag,
                      int64_t *v) {
    int n = tag < TAG_ZERO ? TAG_ZERO - tag : tag - TAG_ZERO;
    if (len - *pos < (size_t)n) return -1;
    uint64_t u = tag < TAG_ZERO ? ~0ull : 0;
    for (int i = 0; i < n; i++) u = (u << 8) | at(k, *pos + (size_t)i, x);
    *pos += (size_t)n;
    *v = (int64_t)u;
    /* Canonical form only: the tag must be the shortest length for v. */
    uint64_t m = *v < 0 ? ~u : u;
    if (n > 1 && (m >> (8 * (n - 1))) == 0) return -1;
    if (tag > TAG_ZERO && m == 0) return -1;
    return 0;
}

int sqli_keyenc_decode(const uint8_t *k, size_t len, size_t *pos, int desc, keyenc_value *out) {
    uint8_t x = desc ? 0xFF : 0x00;
    size_t p = *pos;
    memset(out, 0, sizeof *out);
    if (p >= len) return -1;
    uint8_t tag = at(k, p++, x);
    if (tag == TAG_NULL) {
        out->type = KEYENC_NULL;
    } else if (tag == TAG_NAN) {
        out->type = KEYENC_REAL;
        out->r = NAN;
    } else if (tag == TAG_NEGBIG || tag == TAG_POSBIG) {
        uint64_t u;
        if (get_be64(k, len, &p, x, &u) < 0) return -1;
        out->type = KEYENC_REAL;
        out->r = unordered_double(u);
    } else if (tag >= TAG_ZERO - 8 && tag <= TAG_ZERO + 8) {
        int64_t v;
        if (decode_int(k, len, &p, x, tag, &v) < 0) return -1;
        if (p < len && at(k, p, x) == FRAC_MARK) {
            uint64_t u;
            p++;
            if (get_be64(k, len, &p, x, &u) < 0) return -1;
            double frac = unordered_double(u);
            if (!(frac > -1.0 && frac < 1.0) || frac == 0) return -1;
            out->type = KEYENC_REAL;
            out->r = frac > 0 ? (double)v + frac : (double)v + 1.0 + frac;
        } else {
            out->type = KEYENC_INT;
            out->i = v;
        }
    } else if (tag == TAG_TEXT || tag == TAG_BLOB) {
        size_t s, e;
        int esc;
        if (scan_escaped(k, len, &p, x, &s, &e, &esc) < 0) return -1;
        out->type = tag == TAG_TEXT ? KEYENC_TEXT : KEYENC_BLOB;
        if (!esc && !desc) {
            out->p = k + s;
            out->n = e - s;
        } else {
            uint8_t *buf = xmalloc(e - s + 1);
            size_t o = 0;
            for (size_t i = s; i < e; i++) {
                buf[o++] = at(k, i, x);
                if (at(k, i, x) == 0) i++; /* skip the FF escape */
            }
            buf[o] = 0;
            out->p = buf;
            out->n = o;
            out->copy = 1;
        }
    } else {
        return -1;
    }
    if (desc) {
        if (p >= len || k[p] != 0xFF) {
            if (out->copy) xfree((void *)out->p);
            memset(out, 0, sizeof *out);
            return -1;
        }
        p++;
    }
    *pos = p;
    return 0;
}

int sqli_keyenc_skip(const uint8_t *k, size_t len, size_t *pos) {
    if (*pos >= len) return -1;
    int desc = k[*pos] >= 0xBF;
    keyenc_value v;
    if (sqli_keyenc_decode(k, len, pos, desc, &v) < 0) return -1;
    if (v.copy) xfree((void *)v.p);
    return 0;
}

int sqli_keyenc_count(const uint8_t *k, size_t len) {
    size_t pos = 0;
    int n = 0;
    while (pos < len) {
        if (sqli_keyenc_skip(k, len, &pos) < 0) return -1;
        n++;
    }
    return n;
}
