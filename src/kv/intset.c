/* kv/intset — see intset.h. */
#include "kv/intset.h"
#include "util/mem.h"
#include <string.h>

static inline uint32_t width_for(int64_t v) {
    if (v < INT32_MIN || v > INT32_MAX) return 8;
    if (v < INT16_MIN || v > INT16_MAX) return 4;
    return 2;
}

static inline int64_t get_w(const intset *is, uint32_t pos, uint32_t w) {
    const unsigned char *p = is->contents + (size_t)pos * w;
    if (w == 2) {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    if (w == 4) {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void set_w(intset *is, uint32_t pos, uint32_t w, int64_t v) {
    unsigned char *p = is->contents + (size_t)pos * w;
    if (w == 2) {
        int16_t x = (int16_t)v;
        memcpy(p, &x, 2);
    } else if (w == 4) {
        int32_t x = (int32_t)v;
        memcpy(p, &x, 4);
    } else {
        memcpy(p, &v, 8);
    }
}

intset *intset_new(void) {
    intset *is = xmalloc(sizeof(intset));
    is->width = 2;
    is->length = 0;
    return is;
}

void intset_free(intset *is) {
    xfree(is);
}

size_t intset_blob_len(const intset *is) {
    return sizeof(intset) + (size_t)is->width * is->length;
}

intset *intset_dup(const intset *is) {
    size_t n = intset_blob_len(is);
    intset *c = xmalloc(n);
    memcpy(c, is, n);
    return c;
}

/* Binary search: 1 and the position when found, else 0 and where v would go. */
static int search(const intset *is, int64_t v, uint32_t *pos) {
    uint32_t lo = 0, hi = is->length;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = get_w(is, mid, is->width);
        if (cur == v) {
            *pos = mid;
            return 1;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static intset *resize(intset *is, uint32_t len) {
    return xrealloc(is, sizeof(intset) + (size_t)len * is->width);
}

/* Widens to w and adds v, which is out of the old range (so it goes first
 * when negative, last when positive). */
static intset *upgrade_add(intset *is, uint32_t w, int64_t v) {
    uint32_t old = is->width, len = is->length;
    int prepend = v < 0;
    is->width = w;
    is = resize(is, len + 1);
    /* from the back, so nothing is overwritten before it is read */
    for (uint32_t i = len; i-- > 0;) set_w(is, i + (uint32_t)prepend, w, get_w(is, i, old));
    set_w(is, prepend ? 0 : len, w, v);
    is->length = len + 1;
    return is;
}

intset *intset_add(intset *is, int64_t v, int *added) {
    uint32_t w = width_for(v), pos;
    if (added) *added = 1;
    if (w > is->width) return upgrade_add(is, w, v);
    if (search(is, v, &pos)) {
        if (added) *added = 0;
        return is;
    }
    is = resize(is, is->length + 1);
    if (pos < is->length)
        memmove(is->contents + (size_t)(pos + 1) * is->width,
                is->contents + (size_t)pos * is->width, (size_t)(is->length - pos) * is->width);
    set_w(is, pos, is->width, v);
    is->length++;
    return is;
}

intset *intset_remove(intset *is, int64_t v, int *removed) {
    uint32_t pos;
    if (removed) *removed = 0;
    if (width_for(v) > is->width || !search(is, v, &pos)) return is;
    if (removed) *removed = 1;
    if (pos + 1 < is->length)
        memmove(is->contents + (size_t)pos * is->width,
                is->contents + (size_t)(pos + 1) * is->width,
                (size_t)(is->length - pos - 1) * is->width);
    is->length--;
    return resize(is, is->length);
}

int intset_find(const intset *is, int64_t v) {
    uint32_t pos;
    return width_for(v) <= is->width && search(is, v, &pos);
}

int intset_get(const intset *is, uint32_t pos, int64_t *v) {
    if (pos >= is->length) return 0;
    *v = get_w(is, pos, is->width);
    return 1;
}

int64_t intset_random(const intset *is, uint64_t r) {
    return get_w(is, (uint32_t)(r % is->length), is->width);
}

int intset_validate(const void *p, size_t size) {
    intset hdr;
    if (size < sizeof(intset)) return 0;
    memcpy(&hdr, p, sizeof(hdr));
    if (hdr.width != 2 && hdr.width != 4 && hdr.width != 8) return 0;
    if ((size - sizeof(intset)) != (size_t)hdr.width * hdr.length) return 0;
    if (hdr.length == 0) return 0; /* an empty set is no key */
    const intset *is = p;
    int64_t prev = 0;
    for (uint32_t i = 0; i < hdr.length; i++) {
        int64_t v = get_w(is, i, hdr.width);
        if (i && v <= prev) return 0;
        prev = v;
    }
    return 1;
}
