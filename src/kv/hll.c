/* kv/hll — see hll.h for the format. The update rules of the sparse form
 * (how a run is split, which neighbouring VAL opcodes are merged) decide its
 * exact bytes, and GET shows those bytes: they follow Redis 7.0's so that
 * both servers hold byte-identical values after the same commands.
 *
 * Readers of a whole sparse value (to dense, count, merge) refuse it as soon
 * as a run would pass register 16383, whatever the opcode: Redis 7.0.15 as
 * Debian ships it carries that check (the fix of CVE-2025-32023). */
#include "kv/hll.h"
#include <math.h>
#include <string.h>

#define HLL_SEED 0xadc83b19ULL
#define ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

/* ---- sparse opcodes ------------------------------------------------------------- */

#define OP_IS_ZERO(b) (((b)&0xc0) == 0)
#define OP_IS_XZERO(b) (((b)&0xc0) == 0x40)
#define OP_IS_VAL(b) (((b)&0x80) != 0)
#define ZERO_LEN(b) (((b)&0x3f) + 1)
#define VAL_VALUE(b) ((((b) >> 2) & 0x1f) + 1)
#define VAL_LEN(b) (((b)&0x3) + 1)
#define ZERO_MAX_LEN 64
#define XZERO_MAX_LEN 16384
#define VAL_MAX_LEN 4

static uint8_t op_val(int value, int len) {
    return (uint8_t)(0x80 | ((value - 1) << 2) | (len - 1));
}
/* Writes a ZERO or XZERO run of len registers; returns the bytes written. */
static int op_zero_run(uint8_t *p, int len) {
    if (len > ZERO_MAX_LEN) {
        p[0] = (uint8_t)(0x40 | ((len - 1) >> 8));
        p[1] = (uint8_t)((len - 1) & 0xff);
        return 2;
    }
    p[0] = (uint8_t)(len - 1);
    return 1;
}
/* An XZERO's run length; its second byte, when cut off by the end of the
 * value, reads as 0 (what Redis finds there: the string's terminator). */
static long xzero_len(const uint8_t *p, const uint8_t *end) {
    long lo = p + 1 < end ? p[1] : 0;
    return (((long)(p[0] & 0x3f) << 8) | lo) + 1;
}

/* The registers an opcode covers. */
static long op_run(const uint8_t *p, const uint8_t *end) {
    if (OP_IS_ZERO(*p)) return ZERO_LEN(*p);
    if (OP_IS_XZERO(*p)) return xzero_len(p, end);
    return VAL_LEN(*p);
}

/* ---- hashing --------------------------------------------------------------------- */

uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *d = key;
    uint64_t h = seed ^ (len * m);
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++, d += 8) {
        uint64_t k = 0;
        for (int b = 7; b >= 0; b--) k = (k << 8) | d[b];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail) {
        for (size_t b = tail; b-- > 0;) h ^= (uint64_t)d[b] << (8 * b);
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hll_pattern(const void *ele, size_t len, long *reg) {
    uint64_t hash = hll_murmur64a(ele, len, HLL_SEED);
    *reg = (long)(hash & (HLL_REGISTERS - 1));
    hash >>= HLL_P;
    hash |= 1ULL << HLL_Q; /* the run ends by Q+1 at the latest */
    return __builtin_ctzll(hash) + 1;
}

/* ---- header ---------------------------------------------------------------------- */

int hll_is_valid(const uint8_t *p, size_t len) {
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0) return 0;
    if (p[4] > HLL_SPARSE) return 0;
    return p[4] != HLL_DENSE || len == HLL_DENSE_SIZE;
}

size_t hll_init_sparse(uint8_t *out) {
    memset(out, 0, HLL_HDR_SIZE);
    memcpy(out, "HYLL", 4);
    out[4] = HLL_SPARSE;
    op_zero_run(out + HLL_HDR_SIZE, HLL_REGISTERS);
    return HLL_SPARSE_EMPTY_SIZE;
}

int hll_cache_valid(const uint8_t *p) {
    return (p[15] & 0x80) == 0;
}
uint64_t hll_cache_get(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[8 + i];
    return v;
}
void hll_cache_set(uint8_t *p, uint64_t card) {
    for (int i = 0; i < 8; i++) p[8 + i] = (uint8_t)(card >> (8 * i));
}
void hll_cache_invalidate(uint8_t *p) {
    p[15] |= 0x80;
}

/* ---- dense registers --------------------------------------------------------------- */

/* A register spans into the next byte only when it starts above bit 2; the
 * last register (starting at bit 2 of the last byte) never does. */
int hll_dense_get(const uint8_t *regs, long i) {
    unsigned long bit = (unsigned long)i * HLL_BITS, byte = bit / 8, fb = bit & 7;
    unsigned long v = regs[byte] >> fb;
    if (fb > 2) v |= (unsigned long)regs[byte + 1] << (8 - fb);
    return (int)(v & HLL_REGISTER_MAX);
}

void hll_dense_put(uint8_t *regs, long i, int v) {
    unsigned long bit = (unsigned long)i * HLL_BITS, byte = bit / 8, fb = bit & 7;
    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REGISTER_MAX << fb)) | ((unsigned)v << fb));
    if (fb > 2) {
        unsigned long fb8 = 8 - fb;
        regs[byte + 1] =
            (uint8_t)((regs[byte + 1] & ~(HLL_REGISTER_MAX >> fb8)) | ((unsigned)v >> fb8));
    }
}

int hll_dense_set(uint8_t *regs, long i, int count) {
    if (count <= hll_dense_get(regs, i)) return 0;
    hll_dense_put(regs, i, count);
    return 1;
}

/* Eight registers at a time: six bytes of dense registers (48 bits) hold
 * registers 8k..8k+7, and a raw array holds one register a byte. A 64-bit
 * word carries the eight raw bytes, byte j (from the least significant) for
 * register 8k+j, whatever the machine's byte order. */

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void store_le64(uint8_t *p, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* The eight registers packed in regs[0..6), one a byte. Reads exactly six
 * bytes: the last group ends the value. */
static inline uint64_t dense_unpack8(const uint8_t *regs) {
    uint64_t x = (uint64_t)regs[0] | (uint64_t)regs[1] << 8 | (uint64_t)regs[2] << 16 |
                 (uint64_t)regs[3] << 24 | (uint64_t)regs[4] << 32 | (uint64_t)regs[5] << 40;
    /* two groups of four registers (24 bits) into the two 32-bit halves, then
     * two registers into each 16-bit quarter, then one into each byte */
    x = (x & 0xffffffULL) | (x & 0xffffff000000ULL) << 8;
    x = (x & 0x00000fff00000fffULL) | (x & 0x00fff00000fff000ULL) << 4;
    x = (x & 0x003f003f003f003fULL) | (x & 0x0fc00fc00fc00fc0ULL) << 2;
    return x;
}

/* The reverse of dense_unpack8: eight registers (each at most 63, one a
 * byte of w) packed into regs[0..6). */
static inline void dense_pack8(uint8_t *regs, uint64_t w) {
    w = (w & 0x003f003f003f003fULL) | (w & 0x3f003f003f003f00ULL) >> 2;
    w = (w & 0x00000fff00000fffULL) | (w & 0x0fff00000fff0000ULL) >> 4;
    w = (w & 0xffffffULL) | (w & 0x00ffffff00000000ULL) >> 8;
    for (int b = 0; b < 6; b++) regs[b] = (uint8_t)(w >> (8 * b));
}

/* Byte-wise maximum of two words whose bytes are all below 128: (a | 0x80)
 * - b cannot borrow across a byte, and its top bit says a >= b. */
static inline uint64_t bytes_max(uint64_t a, uint64_t b) {
    const uint64_t top = 0x8080808080808080ULL;
    uint64_t ge = (((a | top) - b) & top) >> 7;
    uint64_t keep_a = ge * 0xff;
    return (a & keep_a) | (b & ~keep_a);
}

/* ---- sparse updates ---------------------------------------------------------------- */

/* The opcode covering register `index`: its position (*at), the first
 * register it covers (*first), its run (*span) and the opcode before it
 * (*prev, NULL for the first). 0 when the opcodes end before the register. */
static int sparse_find(uint8_t *start, uint8_t *end, long index, uint8_t **at, long *first,
                       long *span, uint8_t **prev) {
    uint8_t *p = start;
    long f = 0, s = 0;
    *prev = NULL;
    while (p < end) {
        int oplen = 1;
        if (OP_IS_ZERO(*p)) {
            s = ZERO_LEN(*p);
        } else if (OP_IS_VAL(*p)) {
            s = VAL_LEN(*p);
        } else {
            s = xzero_len(p, end);
            oplen = 2;
        }
        if (index <= f + s - 1) break;
        *prev = p;
        p += oplen;
        f += s;
    }
    if (s == 0 || p >= end) return 0;
    *at = p;
    *first = f;
    *span = s;
    return 1;
}

/* After an update: merges adjacent VAL opcodes of equal value whose runs fit
 * one opcode, looking at up to five opcodes from p on. Returns the new end. */
static uint8_t *sparse_merge(uint8_t *p, uint8_t *end) {
    int scan = 5;
    while (p < end && scan--) {
        if (OP_IS_XZERO(*p)) {
            p += 2;
            continue;
        }
        if (OP_IS_ZERO(*p)) {
            p++;
            continue;
        }
        if (p + 1 < end && OP_IS_VAL(p[1]) && VAL_VALUE(p[0]) == VAL_VALUE(p[1])) {
            int len = VAL_LEN(p[0]) + VAL_LEN(p[1]);
            if (len <= VAL_MAX_LEN) {
                p[1] = op_val(VAL_VALUE(p[0]), len);
                memmove(p, p + 1, (size_t)(end - p - 1));
                end--;
                continue; /* the merged run may merge again on its right */
            }
        }
        p++;
    }
    return end;
}

/* The opcodes replacing the one at p (covering first..first+span-1) once
 * register index holds count: the run split around it. Returns the length. */
static int sparse_split(const uint8_t *p, long first, long span, long index, int count,
                        uint8_t seq[5]) {
    long last = first + span - 1;
    int n = 0;
    if (OP_IS_VAL(*p)) {
        int cur = VAL_VALUE(*p);
        if (index != first) seq[n++] = op_val(cur, (int)(index - first));
        seq[n++] = op_val(count, 1);
        if (index != last) seq[n++] = op_val(cur, (int)(last - index));
        return n;
    }
    if (index != first) n += op_zero_run(seq + n, (int)(index - first));
    seq[n++] = op_val(count, 1);
    if (index != last) n += op_zero_run(seq + n, (int)(last - index));
    return n;
}

int hll_sparse_set(uint8_t *buf, size_t *len, size_t max_bytes, long index, int count) {
    if (count > HLL_SPARSE_VAL_MAX) return HLL_SET_PROMOTE;
    uint8_t *start = buf + HLL_HDR_SIZE, *end = buf + *len, *p, *prev;
    long first, span;
    if (!sparse_find(start, end, index, &p, &first, &span, &prev)) return HLL_SET_CORRUPT;
    uint8_t *next = p + (OP_IS_XZERO(*p) ? 2 : 1);
    if (next >= end) next = NULL;

    if (OP_IS_VAL(*p)) {
        if (VAL_VALUE(*p) >= count) return HLL_SET_UNCHANGED;
        if (span == 1) { /* just this register: rewrite in place */
            *p = op_val(count, 1);
            goto updated;
        }
    } else if (OP_IS_ZERO(*p) && span == 1) {
        *p = op_val(count, 1);
        goto updated;
    }
    uint8_t seq[5];
    int seqlen = sparse_split(p, first, span, index, count, seq);
    int oldlen = OP_IS_XZERO(*p) ? 2 : 1;
    long delta = seqlen - oldlen;
    if (delta > 0 && *len + (size_t)delta > max_bytes) return HLL_SET_PROMOTE;
    if (delta && next) memmove(next + delta, next, (size_t)(end - next));
    *len = (size_t)((long)*len + delta);
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

updated:
    end = sparse_merge(prev ? prev : start, end);
    *len = (size_t)(end - buf);
    hll_cache_invalidate(buf);
    return HLL_SET_CHANGED;
}

int hll_sparse_to_dense(const uint8_t *sparse, size_t len, uint8_t *dense) {
    memset(dense, 0, HLL_DENSE_SIZE);
    memcpy(dense, sparse, HLL_HDR_SIZE);
    dense[4] = HLL_DENSE;
    uint8_t *regs = dense + HLL_HDR_SIZE;
    const uint8_t *p = sparse + HLL_HDR_SIZE, *end = sparse + len;
    long idx = 0;
    while (p < end) {
        long run = op_run(p, end);
        if (run + idx > HLL_REGISTERS) return -1;
        if (OP_IS_VAL(*p))
            for (long k = 0; k < run; k++) hll_dense_put(regs, idx + k, VAL_VALUE(*p));
        idx += run;
        p += OP_IS_XZERO(*p) ? 2 : 1;
    }
    return idx == HLL_REGISTERS ? 0 : -1;
}

/* ---- counting ---------------------------------------------------------------------- */

/* Ertl's sigma and tau helpers. */
static double hll_sigma(double x) {
    if (x == 1.) return INFINITY;
    double z_prev, y = 1, z = x;
    do {
        x *= x;
        z_prev = z;
        z += x * y;
        y += y;
    } while (z_prev != z);
    return z;
}

static double hll_tau(double x) {
    if (x == 0. || x == 1.) return 0.;
    double z_prev, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        z_prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (z_prev != z);
    return z / 3;
}

static uint64_t estimate(const int *histo) {
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / (double)m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / (double)m);
    return (uint64_t)llroundl(ALPHA_INF * m * m / z);
}

/* Histogram of a sparse HLL's registers; 0 when the runs do not add up. */
static int sparse_histo(const uint8_t *p, const uint8_t *end, int *histo) {
    long idx = 0;
    while (p < end) {
        long run = op_run(p, end);
        if (run + idx > HLL_REGISTERS) return 0;
        histo[OP_IS_VAL(*p) ? VAL_VALUE(*p) : 0] += (int)run;
        idx += run;
        p += OP_IS_XZERO(*p) ? 2 : 1;
    }
    return idx == HLL_REGISTERS;
}

/* Adds eight registers, one a byte (each at most 63), to the histogram.
 * Four histograms take turns so that runs of equal registers do not wait on
 * the same counter; histo_sum() adds them up. */
static inline void histo_add8(int (*h)[64], uint64_t w) {
    h[0][w & HLL_REGISTER_MAX]++;
    h[1][(w >> 8) & HLL_REGISTER_MAX]++;
    h[2][(w >> 16) & HLL_REGISTER_MAX]++;
    h[3][(w >> 24) & HLL_REGISTER_MAX]++;
    h[0][(w >> 32) & HLL_REGISTER_MAX]++;
    h[1][(w >> 40) & HLL_REGISTER_MAX]++;
    h[2][(w >> 48) & HLL_REGISTER_MAX]++;
    h[3][(w >> 56) & HLL_REGISTER_MAX]++;
}

static void histo_sum(int (*h)[64], int *histo) {
    for (int j = 0; j < 64; j++) histo[j] = h[0][j] + h[1][j] + h[2][j] + h[3][j];
}

uint64_t hll_count(const uint8_t *p, size_t len, int *invalid) {
    int histo[64] = {0};
    if (p[4] == HLL_DENSE) {
        int h[4][64] = {{0}};
        const uint8_t *regs = p + HLL_HDR_SIZE;
        for (long i = 0; i < HLL_REGISTERS; i += 8, regs += 6) histo_add8(h, dense_unpack8(regs));
        histo_sum(h, histo);
    } else if (!sparse_histo(p + HLL_HDR_SIZE, p + len, histo) && invalid) {
        *invalid = 1;
    }
    return estimate(histo);
}

uint64_t hll_count_raw(const uint8_t *regs) {
    int h[4][64] = {{0}}, histo[64] = {0};
    for (long i = 0; i < HLL_REGISTERS; i += 8) histo_add8(h, load_le64(regs + i));
    histo_sum(h, histo);
    return estimate(histo);
}

int hll_merge_into(uint8_t *max, const uint8_t *p, size_t len) {
    if (p[4] == HLL_DENSE) {
        const uint8_t *regs = p + HLL_HDR_SIZE;
        for (long i = 0; i < HLL_REGISTERS; i += 8, regs += 6)
            store_le64(max + i, bytes_max(load_le64(max + i), dense_unpack8(regs)));
        return 0;
    }
    const uint8_t *q = p + HLL_HDR_SIZE, *end = p + len;
    long i = 0;
    while (q < end) {
        long run = op_run(q, end);
        if (run + i > HLL_REGISTERS) return -1;
        if (OP_IS_VAL(*q))
            for (long k = 0; k < run; k++)
                if (VAL_VALUE(*q) > max[i + k]) max[i + k] = (uint8_t)VAL_VALUE(*q);
        i += run;
        q += OP_IS_XZERO(*q) ? 2 : 1;
    }
    return i == HLL_REGISTERS ? 0 : -1;
}

void hll_dense_from_raw(uint8_t *regs, const uint8_t *raw) {
    for (long i = 0; i < HLL_REGISTERS; i += 8, regs += 6) dense_pack8(regs, load_le64(raw + i));
}

void hll_sparse_decode(const uint8_t *p, size_t len, sbuf *out) {
    const uint8_t *q = p + HLL_HDR_SIZE, *end = p + len;
    int n = 0;
    while (q < end) {
        if (n++) sbuf_append(out, " ", 1);
        if (OP_IS_ZERO(*q)) {
            sbuf_printf(out, "z:%d", ZERO_LEN(*q));
            q++;
        } else if (OP_IS_XZERO(*q)) {
            sbuf_printf(out, "Z:%ld", xzero_len(q, end));
            q += 2;
        } else {
            sbuf_printf(out, "v:%d,%d", VAL_VALUE(*q), VAL_LEN(*q));
            q++;
        }
    }
}
