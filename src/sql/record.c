/* sql/record.c — rows as records, and values as key components.
 *
 * Record layout (the format is also drawn in sqlint.h):
 *
 *   +-----------+-----------+-----+-----------+--------+-----+--------+
 *   | hdr bytes | serial 0  | ... | serial n-1| body 0 | ... | body n-1|
 *   +-----------+-----------+-----+-----------+--------+-----+--------+
 *     varint      varints (one per column)       bytes per serial type
 *
 * The header length counts itself, so a reader finds column i by walking
 * serial types only.
 *
 * Invariants:
 *   1. Decoding never reads outside [rec, rec + len): a malformed record gives
 *      -1, never a crash (the fuzzer and corrupt files rely on it).
 *   2. Integers use the fewest bytes that hold them (0 and 1 none at all), so
 *      equal rows encode identically.
 *   3. A key component for a DECIMAL is the component of its numeric value
 *      (integral decimals as integers), so 2, 2.0 and DECIMAL 2.00 are one key.
 */
#include "sql/sqlint.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>

static size_t uvarint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static uint8_t *uvarint_put(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Read a varint within [p, end); NULL on overrun or more than 10 bytes. */
static const uint8_t *uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int i = 0; i < 10 && p < end; i++, p++) {
        r |= (uint64_t)(*p & 0x7F) << (7 * i);
        if (!(*p & 0x80)) {
            *v = r;
            return p + 1;
        }
    }
    return NULL;
}

static int int_bytes(int64_t v) {
    if (v >= -128 && v <= 127) return 1;
    if (v >= -32768 && v <= 32767) return 2;
    if (v >= -8388608 && v <= 8388607) return 3;
    if (v >= -2147483648LL && v <= 2147483647LL) return 4;
    if (v >= -549755813888LL && v <= 549755813887LL) return 5;
    if (v >= -140737488355328LL && v <= 140737488355327LL) return 6;
    if (v >= -36028797018963968LL && v <= 36028797018963967LL) return 7;
    return 8;
}

static uint64_t serial_of(const sql_value *v, size_t *body) {
    switch (v->type) {
    case SQL_INTEGER:
        if (v->u.i == 0) return *body = 0, 9;
        if (v->u.i == 1) return *body = 0, 10;
        *body = (size_t)int_bytes(v->u.i);
        return *body;
    case SQL_FLOAT:
        return *body = 8, 11;
    case SQL_DECIMAL:
        return *body = 9, 12;
    case SQL_TEXT:
        return *body = v->n, 16 + 2 * (uint64_t)v->n;
    case SQL_BLOB:
        return *body = v->n, 17 + 2 * (uint64_t)v->n;
    default:
        return *body = 0, 0;
    }
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) p[i] = (uint8_t)v, v >>= 8;
    return p + n;
}

void sqli_rec_encode(keyenc_buf *out, const sql_value *vals, int n) {
    size_t hdr = 0, body = 0, b;
    for (int i = 0; i < n; i++) {
        hdr += uvarint_len(serial_of(&vals[i], &b));
        body += b;
    }
    size_t hl = uvarint_len(hdr + 1);
    if (uvarint_len(hdr + hl) != hl) hl++;
    hdr += hl;
    size_t total = hdr + body;
    sqli_keyenc_reset(out);
    if (out->cap < total) {
        if (out->p != out->small) xfree(out->p);
        out->cap = total;
        out->p = xmalloc(total);
    }
    uint8_t *h = uvarint_put(out->p, hdr), *d = out->p + hdr;
    for (int i = 0; i < n; i++) {
        const sql_value *v = &vals[i];
        uint64_t st = serial_of(v, &b);
        h = uvarint_put(h, st);
        if (st >= 1 && st <= 8) {
            d = put_be(d, (uint64_t)v->u.i, (int)st);
        } else if (st == 11) {
            uint64_t u;
            memcpy(&u, &v->u.r, 8);
            d = put_be(d, u, 8);
        } else if (st == 12) {
            *d++ = (uint8_t)v->scale;
            d = put_be(d, (uint64_t)v->u.i, 8);
        } else if (st >= 16 && b) {
            memcpy(d, v->z, b);
            d += b;
        }
    }
    assert(h == out->p + hdr && d == out->p + total);
    out->len = total;
}

static int64_t get_be_signed(const uint8_t *p, int n) {
    uint64_t u = (p[0] & 0x80) ? UINT64_MAX : 0;
    for (int i = 0; i < n; i++) u = (u << 8) | p[i];
    return (int64_t)u;
}

/* Decode one body of serial type st at p (within end); NULL if it overruns. */
static const uint8_t *body_decode(uint64_t st, const uint8_t *p, const uint8_t *end,
                                  sql_value *out) {
    size_t need;
    if (st == 0) return val_set_null(out), p;
    if (st == 9 || st == 10) return val_set_int(out, st == 10), p;
    if (st <= 8)
        need = st;
    else if (st == 11)
        need = 8;
    else if (st == 12)
        need = 9;
    else if (st >= 16)
        need = (st - 16) / 2;
    else
        return NULL;
    if ((size_t)(end - p) < need) return NULL;
    if (st <= 8) {
        val_set_int(out, get_be_signed(p, (int)st));
    } else if (st == 11) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = (u << 8) | p[i];
        double r;
        memcpy(&r, &u, 8);
        val_set_real(out, r);
    } else if (st == 12) {
        if (p[0] > 18) return NULL;
        int64_t m = get_be_signed(p + 1, 8);
        val_set_dec(out, m, p[0]);
    } else if (st % 2 == 0) {
        val_set_text_ref(out, (const char *)p, need);
    } else {
        val_set_blob_ref(out, p, need);
    }
    return p + need;
}

static size_t body_size(uint64_t st) {
    if (st == 0 || st == 9 || st == 10) return 0;
    if (st <= 8) return st;
    if (st == 11) return 8;
    if (st == 12) return 9;
    if (st >= 16) return (st - 16) / 2;
    return SIZE_MAX;
}

int sqli_rec_decode(const uint8_t *rec, size_t len, int n, sql_value *out, int *short_from) {
    const uint8_t *end = rec + len, *h, *hend;
    uint64_t hl, st;
    *short_from = n;
    if (len == 0) {
        for (int i = 0; i < n; i++) val_set_null(&out[i]);
        *short_from = 0;
        return 0;
    }
    if (!(h = uvarint_get(rec, end, &hl)) || hl > len || hl < (uint64_t)(h - rec)) return -1;
    hend = rec + hl;
    const uint8_t *d = hend;
    for (int i = 0; i < n; i++) {
        if (h >= hend) {
            if (*short_from == n) *short_from = i;
            val_set_null(&out[i]);
            continue;
        }
        if (!(h = uvarint_get(h, hend, &st))) return -1;
        if (!(d = body_decode(st, d, end, &out[i]))) return -1;
    }
    return 0;
}

int sqli_rec_column(const uint8_t *rec, size_t len, int i, sql_value *out) {
    const uint8_t *end = rec + len, *h, *hend;
    uint64_t hl, st;
    val_set_null(out);
    if (len == 0) return 1;
    if (!(h = uvarint_get(rec, end, &hl)) || hl > len || hl < (uint64_t)(h - rec)) return -1;
    hend = rec + hl;
    size_t off = hl;
    for (int k = 0;; k++) {
        if (h >= hend) return 1;
        if (!(h = uvarint_get(h, hend, &st))) return -1;
        if (k == i) return body_decode(st, rec + off, end, out) ? 0 : -1;
        size_t bs = body_size(st);
        if (bs == SIZE_MAX || bs > len - off) return -1;
        off += bs;
    }
}

int sqli_rec_count(const uint8_t *rec, size_t len) {
    const uint8_t *end = rec + len, *h, *hend;
    uint64_t hl, st;
    if (len == 0) return 0;
    if (!(h = uvarint_get(rec, end, &hl)) || hl > len || hl < (uint64_t)(h - rec)) return -1;
    hend = rec + hl;
    int n = 0;
    while (h < hend) {
        if (!(h = uvarint_get(h, hend, &st))) return -1;
        n++;
    }
    return n;
}

void sqli_key_raw(keyenc_buf *b, const void *p, size_t n) {
    if (!b->p) sqli_keyenc_init(b);
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2;
        while (cap < b->len + n) cap *= 2;
        uint8_t *np = xmalloc(cap);
        memcpy(np, b->p, b->len);
        if (b->p != b->small) xfree(b->p);
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* ---- key components ---------------------------------------------------------------- */

void sqli_key_add(keyenc_buf *b, const sql_value *v, int desc) {
    switch (v->type) {
    case SQL_INTEGER:
        sqli_keyenc_int(b, v->u.i, desc);
        break;
    case SQL_FLOAT:
        sqli_keyenc_real(b, v->u.r, desc);
        break;
    case SQL_DECIMAL: {
        int64_t d = 1;
        for (int k = 0; k < v->scale; k++) d *= 10;
        if (v->u.i % d == 0)
            sqli_keyenc_int(b, v->u.i / d, desc);
        else
            sqli_keyenc_real(b, sqli_dec_to_real(v->u.i, v->scale), desc);
        break;
    }
    case SQL_TEXT:
        sqli_keyenc_text(b, v->z, v->n, desc);
        break;
    case SQL_BLOB:
        sqli_keyenc_blob(b, v->z, v->n, desc);
        break;
    default:
        sqli_keyenc_null(b, desc);
        break;
    }
}

void sqli_key_add_coll(keyenc_buf *b, const sql_value *v, int desc, int nocase) {
    if (!nocase || v->type != SQL_TEXT) {
        sqli_key_add(b, v, desc);
        return;
    }
    char small[128] = {0};
    char *low = v->n <= sizeof small ? small : xmalloc(v->n);
    for (uint32_t j = 0; j < v->n; j++)
        low[j] = (char)(v->z[j] >= 'A' && v->z[j] <= 'Z' ? v->z[j] + 32 : v->z[j]);
    sqli_keyenc_text(b, low, v->n, desc);
    if (low != small) xfree(low);
}

int sqli_key_get(const uint8_t *key, size_t len, size_t *pos, int desc, sql_value *out) {
    keyenc_value kv;
    if (sqli_keyenc_decode(key, len, pos, desc, &kv) != 0) return -1;
    switch (kv.type) {
    case KEYENC_NULL:
        val_set_null(out);
        break;
    case KEYENC_INT:
        val_set_int(out, kv.i);
        break;
    case KEYENC_REAL:
        val_set_real(out, kv.r);
        break;
    case KEYENC_TEXT:
        val_set_text_ref(out, (const char *)kv.p, kv.n);
        out->owned = (uint8_t)kv.copy;
        break;
    case KEYENC_BLOB:
        val_set_blob_ref(out, kv.p, kv.n);
        out->owned = (uint8_t)kv.copy;
        break;
    default:
        return -1;
    }
    return 0;
}
