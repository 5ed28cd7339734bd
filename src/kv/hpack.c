/* kv/hpack — see hpack.h for the layout and invariants. */
#include "kv/hpack.h"
#include "util/strutil.h"
#include <string.h>

void hp_init(unsigned char *hp) {
    hp[0] = hp[1] = 0;
    hp[HP_HDR] = HP_END;
}

uint32_t hp_count(const unsigned char *hp) {
    uint32_t n = (uint32_t)hp[0] | (uint32_t)hp[1] << 8;
    if (n < 0xFFFF) return n;
    n = 0;
    for (unsigned char *p = hp_first(hp); p; p = hp_next(hp_next(p))) n++;
    return n;
}

void hp_set_count(unsigned char *hp, uint32_t pairs) {
    if (pairs > 0xFFFF) pairs = 0xFFFF;
    hp[0] = (unsigned char)(pairs & 0xff);
    hp[1] = (unsigned char)(pairs >> 8);
}

static inline uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t hp_entry_size(const unsigned char *p) {
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    if ((b & 0xC0) == 0x80) return 1 + (size_t)(b & 0x3F);
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 2 + ((size_t)(b & 0x0F) << 8 | p[1]);
    switch (b) {
    case 0xF0:
        return 5 + (size_t)rd_u32(p + 1);
    case 0xF1:
        return 3;
    case 0xF2:
        return 4;
    case 0xF3:
        return 5;
    default:
        return 9; /* 0xF4 */
    }
}

unsigned char *hp_first(const unsigned char *hp) {
    return hp[HP_HDR] == HP_END ? NULL : (unsigned char *)hp + HP_HDR;
}

unsigned char *hp_next(const unsigned char *p) {
    p += hp_entry_size(p);
    return *p == HP_END ? NULL : (unsigned char *)p;
}

size_t hp_bytes(const unsigned char *hp) {
    const unsigned char *p = hp + HP_HDR;
    while (*p != HP_END) p += hp_entry_size(p);
    return (size_t)(p - hp) + 1;
}

static int64_t sign_extend(uint64_t v, int bits) {
    uint64_t m = 1ULL << (bits - 1);
    return (int64_t)((v ^ m) - m);
}

void hp_get(const unsigned char *p, hp_val *v) {
    unsigned char b = p[0];
    v->s = NULL;
    v->len = 0;
    if (b < 0x80) {
        v->ll = b;
    } else if ((b & 0xC0) == 0x80) {
        v->s = (const char *)p + 1;
        v->len = b & 0x3F;
    } else if ((b & 0xE0) == 0xC0) {
        v->ll = sign_extend((uint64_t)(b & 0x1F) << 8 | p[1], 13);
    } else if ((b & 0xF0) == 0xE0) {
        v->s = (const char *)p + 2;
        v->len = (size_t)(b & 0x0F) << 8 | p[1];
    } else if (b == 0xF0) {
        v->s = (const char *)p + 5;
        v->len = rd_u32(p + 1);
    } else {
        int n = b == 0xF1 ? 2 : b == 0xF2 ? 3 : b == 0xF3 ? 4 : 8;
        uint64_t u = 0;
        for (int i = 0; i < n; i++) u |= (uint64_t)p[1 + i] << (8 * i);
        v->ll = n == 8 ? (int64_t)u : sign_extend(u, 8 * n);
    }
}

/* Bytes of the integer encoding of v. */
static size_t int_size(long long v) {
    if (v >= 0 && v <= 127) return 1;
    if (v >= -4096 && v <= 4095) return 2;
    if (v >= INT16_MIN && v <= INT16_MAX) return 3;
    if (v >= -(1 << 23) && v < (1 << 23)) return 4;
    if (v >= INT32_MIN && v <= INT32_MAX) return 5;
    return 9;
}

static int as_int(const char *s, size_t len, long long *v) {
    return len <= 20 && str_to_ll(s, len, v);
}

size_t hp_enc_size(const char *s, size_t len) {
    long long v;
    if (as_int(s, len, &v)) return int_size(v);
    if (len < 64) return 1 + len;
    if (len < 4096) return 2 + len;
    return 5 + len;
}

size_t hp_encode(unsigned char *dst, const char *s, size_t len) {
    long long v;
    if (as_int(s, len, &v)) {
        size_t n = int_size(v);
        uint64_t u = (uint64_t)v;
        if (n == 1) {
            dst[0] = (unsigned char)v;
        } else if (n == 2) {
            u &= 0x1FFF;
            dst[0] = (unsigned char)(0xC0 | (u >> 8));
            dst[1] = (unsigned char)(u & 0xff);
        } else {
            dst[0] = n == 3 ? 0xF1 : n == 4 ? 0xF2 : n == 5 ? 0xF3 : 0xF4;
            for (size_t i = 0; i < n - 1; i++) dst[1 + i] = (unsigned char)(u >> (8 * i));
        }
        return n;
    }
    size_t h;
    if (len < 64) {
        dst[0] = (unsigned char)(0x80 | len);
        h = 1;
    } else if (len < 4096) {
        dst[0] = (unsigned char)(0xE0 | (len >> 8));
        dst[1] = (unsigned char)(len & 0xff);
        h = 2;
    } else {
        dst[0] = 0xF0;
        for (int i = 0; i < 4; i++) dst[1 + i] = (unsigned char)(len >> (8 * i));
        h = 5;
    }
    if (len) memcpy(dst + h, s, len);
    return h + len;
}

int hp_equals(const unsigned char *p, const char *s, size_t len) {
    hp_val v;
    hp_get(p, &v);
    if (v.s) return v.len == len && (len == 0 || memcmp(v.s, s, len) == 0);
    long long x;
    return as_int(s, len, &x) && x == v.ll;
}

unsigned char *hp_find(const unsigned char *hp, const char *f, size_t flen) {
    long long want;
    int is_int = as_int(f, flen, &want);
    for (unsigned char *p = hp_first(hp); p; p = hp_next(hp_next(p))) {
        unsigned char b = p[0];
        if (is_int) {
            /* canonical integers are always stored as integers */
            if (b < 0x80 || (b & 0xE0) == 0xC0 || (b >= 0xF1 && b <= 0xF4)) {
                hp_val v;
                hp_get(p, &v);
                if (v.ll == want) return p;
            }
        } else if ((b & 0xC0) == 0x80) {
            if ((size_t)(b & 0x3F) == flen && memcmp(p + 1, f, flen) == 0) return p;
        } else if ((b & 0xF0) == 0xE0 || b == 0xF0) {
            hp_val v;
            hp_get(p, &v);
            if (v.len == flen && memcmp(v.s, f, flen) == 0) return p;
        }
    }
    return NULL;
}

const char *hp_val_str(const hp_val *v, char *buf, size_t *len) {
    if (v->s) {
        *len = v->len;
        return v->s;
    }
    *len = (size_t)ll_to_str(buf, v->ll);
    return buf;
}
