/* kv/listpack — see listpack.h for the layout and invariants. */
#include "kv/listpack.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <assert.h>
#include <string.h>

#define HDR 8
#define END 0xFF

static inline uint32_t rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void wr32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, 4);
}

size_t lp_bytes(const lpbuf *lp) {
    return rd32(lp);
}
uint32_t lp_count(const lpbuf *lp) {
    return rd32(lp + 4);
}

lpbuf *lp_new(void) {
    lpbuf *lp = xmalloc(HDR + 1);
    wr32(lp, HDR + 1);
    wr32(lp + 4, 0);
    lp[HDR] = END;
    return lp;
}

void lp_free(lpbuf *lp) {
    xfree(lp);
}

lpbuf *lp_dup(const lpbuf *lp) {
    lpbuf *n = xmalloc(lp_bytes(lp));
    memcpy(n, lp, lp_bytes(lp));
    return n;
}

/* Forward length: 0..63 in one byte (00xxxxxx); larger values start with
 * 10xxxxxx (6 low bits) and continue in 7-bit bytes, high bit = more. The
 * first byte never has both top bits set, so it is never the 0xFF end mark. */
static size_t enc_len(unsigned char *out, uint32_t v) {
    if (v < 64) {
        out[0] = (unsigned char)v;
        return 1;
    }
    size_t n = 0;
    out[n++] = (unsigned char)(0x80 | (v & 0x3f));
    v >>= 6; /* >= 1: at least one continuation byte */
    while (v) {
        out[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    }
    return n;
}

static size_t dec_len(const unsigned char *p, uint32_t *v) {
    if (p[0] < 64) {
        *v = p[0];
        return 1;
    }
    uint32_t r = p[0] & 0x3f;
    size_t n = 1;
    int shift = 6;
    for (;;) {
        unsigned char b = p[n++];
        r |= (uint32_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    *v = r;
    return n;
}

/* Back length, read from its last byte backwards: that byte holds the low 7
 * bits, and a set high bit says another (more significant) byte precedes it. */
static size_t enc_back(unsigned char *out, uint32_t v) {
    unsigned char chunk[5];
    size_t n = 0;
    do {
        chunk[n++] = (unsigned char)(v & 0x7f);
        v >>= 7;
    } while (v);
    for (size_t k = 0; k < n; k++)
        out[n - 1 - k] = (unsigned char)(chunk[k] | (k < n - 1 ? 0x80 : 0));
    return n;
}

/* Decodes the back length ending at p-1; *n receives its size in bytes. */
static uint32_t dec_back(const unsigned char *p, size_t *n) {
    uint32_t v = 0;
    size_t i = 0;
    for (;;) {
        unsigned char b = *(p - 1 - i);
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        i++;
        if (!(b & 0x80)) break;
    }
    *n = i;
    return v;
}

static size_t back_size(uint32_t v) {
    size_t n = 1;
    while (v >>= 7) n++;
    return n;
}

/* Size of the entry at p (header + data + back). */
static size_t entry_size(const unsigned char *p) {
    uint32_t len;
    size_t h = dec_len(p, &len);
    return h + len + back_size((uint32_t)(h + len));
}

static size_t encoded_size(size_t len) {
    unsigned char tmp[8];
    size_t h = enc_len(tmp, (uint32_t)len);
    return h + len + back_size((uint32_t)(h + len));
}

static void write_entry(unsigned char *dst, const char *s, size_t len) {
    size_t h = enc_len(dst, (uint32_t)len);
    if (len) memcpy(dst + h, s, len);
    enc_back(dst + h + len, (uint32_t)(h + len));
}

const char *lp_get(const unsigned char *p, size_t *len) {
    uint32_t l;
    size_t h = dec_len(p, &l);
    *len = l;
    return (const char *)p + h;
}

int lp_get_ll(const unsigned char *p, long long *v) {
    size_t len;
    const char *s = lp_get(p, &len);
    return str_to_ll(s, len, v);
}

unsigned char *lp_first(lpbuf *lp) {
    return lp[HDR] == END ? NULL : lp + HDR;
}

unsigned char *lp_next(lpbuf *lp, unsigned char *p) {
    (void)lp;
    p += entry_size(p);
    return *p == END ? NULL : p;
}

unsigned char *lp_prev(lpbuf *lp, unsigned char *p) {
    if (p == lp + HDR) return NULL;
    size_t n;
    uint32_t sz = dec_back(p, &n);
    return p - n - sz;
}

unsigned char *lp_last(lpbuf *lp) {
    if (lp_count(lp) == 0) return NULL;
    return lp_prev(lp, lp + lp_bytes(lp) - 1);
}

unsigned char *lp_seek(lpbuf *lp, long index) {
    long count = (long)lp_count(lp);
    if (index < 0) index += count;
    if (index < 0 || index >= count) return NULL;
    unsigned char *p;
    if (index < count / 2) {
        p = lp_first(lp);
        while (index--) p = lp_next(lp, p);
    } else {
        p = lp_last(lp);
        for (long i = count - 1; i > index; i--) p = lp_prev(lp, p);
    }
    return p;
}

/* Opens a gap of `grow` bytes at offset off (grow may be negative: closes).
 * Returns the new listpack. */
static lpbuf *resize_at(lpbuf *lp, size_t off, long grow) {
    size_t bytes = lp_bytes(lp);
    /* realloc only when the allocation must change: growing within the bytes
     * the allocator really gave, or shrinking by less than 1/8 of them (every
     * jemalloc size class is at least that far from the next smaller one, so
     * realloc would keep the block anyway), costs nothing. This takes the
     * allocator out of most LPUSH/LPOP and small HSET/HDEL calls. */
    if (grow > 0) {
        if (bytes + (size_t)grow > xmem_usable(lp)) lp = xrealloc(lp, bytes + (size_t)grow);
        memmove(lp + off + grow, lp + off, bytes - off);
    } else if (grow < 0) {
        memmove(lp + off, lp + off - grow, bytes - off + (size_t)grow);
        size_t cap = xmem_usable(lp), now = bytes + (size_t)grow;
        if (now <= cap - cap / 8) lp = xrealloc(lp, now);
    }
    wr32(lp, (uint32_t)(bytes + (size_t)grow));
    return lp;
}

lpbuf *lp_insert(lpbuf *lp, unsigned char *p, const char *s, size_t len, int where,
                 unsigned char **newp) {
    size_t off;
    if (!p)
        off = where == LP_AFTER ? lp_bytes(lp) - 1 : HDR;
    else
        off = (size_t)(p - lp) + (where == LP_AFTER ? entry_size(p) : 0);
    size_t need = encoded_size(len);
    /* s may point into lp: copy it first */
    char stackbuf[256];
    char *copy = NULL;
    if (len && (const unsigned char *)s >= lp && (const unsigned char *)s < lp + lp_bytes(lp)) {
        copy = len <= sizeof(stackbuf) ? stackbuf : xmalloc(len);
        memcpy(copy, s, len);
        s = copy;
    }
    lp = resize_at(lp, off, (long)need);
    write_entry(lp + off, s, len);
    wr32(lp + 4, lp_count(lp) + 1);
    if (newp) *newp = lp + off;
    if (copy && copy != stackbuf) xfree(copy);
    return lp;
}

lpbuf *lp_append(lpbuf *lp, const char *s, size_t len) {
    return lp_insert(lp, NULL, s, len, LP_AFTER, NULL);
}
lpbuf *lp_prepend(lpbuf *lp, const char *s, size_t len) {
    return lp_insert(lp, NULL, s, len, LP_BEFORE, NULL);
}

lpbuf *lp_delete(lpbuf *lp, unsigned char *p, unsigned char **next) {
    size_t off = (size_t)(p - lp), sz = entry_size(p);
    lp = resize_at(lp, off, -(long)sz);
    wr32(lp + 4, lp_count(lp) - 1);
    if (next) *next = lp[off] == END ? NULL : lp + off;
    return lp;
}

lpbuf *lp_replace(lpbuf *lp, unsigned char *p, const char *s, size_t len, unsigned char **newp) {
    size_t off = (size_t)(p - lp);
    size_t old = entry_size(p), need = encoded_size(len);
    char stackbuf[256];
    char *copy = NULL;
    if (len && (const unsigned char *)s >= lp && (const unsigned char *)s < lp + lp_bytes(lp)) {
        copy = len <= sizeof(stackbuf) ? stackbuf : xmalloc(len);
        memcpy(copy, s, len);
        s = copy;
    }
    if (need != old) lp = resize_at(lp, off + (need > old ? 0 : need), (long)need - (long)old);
    write_entry(lp + off, s, len);
    if (newp) *newp = lp + off;
    if (copy && copy != stackbuf) xfree(copy);
    return lp;
}

lpbuf *lp_delete_range(lpbuf *lp, long index, unsigned long n) {
    unsigned char *p = lp_seek(lp, index);
    if (!p || n == 0) return lp;
    size_t off = (size_t)(p - lp), total = 0;
    unsigned long k = 0;
    unsigned char *q = p;
    while (q && k < n) {
        total += entry_size(q);
        k++;
        q = q + entry_size(q);
        if (*q == END) q = NULL;
    }
    lp = resize_at(lp, off, -(long)total);
    wr32(lp + 4, lp_count(lp) - (uint32_t)k);
    return lp;
}

int lp_compare(const unsigned char *p, const char *s, size_t len) {
    size_t l;
    const char *d = lp_get(p, &l);
    size_t m = l < len ? l : len;
    int c = m ? memcmp(d, s, m) : 0;
    if (c) return c;
    return l < len ? -1 : l > len ? 1 : 0;
}

unsigned char *lp_find(lpbuf *lp, unsigned char *p, const char *s, size_t len, unsigned skip) {
    unsigned k = 0;
    while (p) {
        if (k == 0) {
            size_t l;
            const char *d = lp_get(p, &l);
            if (l == len && (len == 0 || memcmp(d, s, len) == 0)) return p;
            k = skip;
        } else {
            k--;
        }
        p = lp_next(lp, p);
    }
    return NULL;
}

int lp_validate(const unsigned char *buf, size_t size) {
    if (size < HDR + 1) return 0;
    if (rd32(buf) != size || buf[size - 1] != END) return 0;
    uint32_t count = rd32(buf + 4), seen = 0;
    size_t off = HDR;
    while (off < size - 1) {
        if (buf[off] == END) return 0;
        /* bounded decode of the header */
        uint32_t len;
        size_t h;
        if (buf[off] < 64) {
            len = buf[off];
            h = 1;
        } else {
            len = buf[off] & 0x3f;
            h = 1;
            int shift = 6;
            for (;;) {
                if (off + h >= size - 1 || shift > 27) return 0;
                unsigned char b = buf[off + h++];
                len |= (uint32_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80)) break;
            }
        }
        size_t esz = h + len + back_size((uint32_t)(h + len));
        if (esz > size - 1 - off) return 0;
        unsigned char back[8];
        size_t bn = enc_back(back, (uint32_t)(h + len));
        if (memcmp(buf + off + h + len, back, bn) != 0) return 0;
        off += esz;
        seen++;
    }
    return off == size - 1 && seen == count;
}
