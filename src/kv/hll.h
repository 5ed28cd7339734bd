/* kv/hll — HyperLogLog values in Redis 7.0's byte format, so that a GET of a
 * Larder HLL can be SET into Redis and the other way round, and PFCOUNT gives
 * the same number on both.
 *
 * An HLL is a plain string value:
 *
 *   0      4   5        8                 16
 *   +------+---+--------+-----------------+------------------------------+
 *   | HYLL | E | 0 0 0  | cardinality     | registers                    |
 *   +------+---+--------+-----------------+------------------------------+
 *   E: 0 dense, 1 sparse. cardinality: the last count, 64-bit little endian;
 *   its top bit set means "stale, count again".
 *
 * 16384 registers (P = 14) of 6 bits each hold, for the elements hashed to
 * them (MurmurHash64A, seed 0xadc83b19), the longest run of zero bits + 1.
 *
 *   dense   12288 bytes; register i is bits 6i..6i+5 counted from the least
 *           significant bit of byte 0 on:  |11000000|22221111|33333322|...
 *   sparse  run-length opcodes covering all 16384 registers exactly:
 *             00xxxxxx           ZERO:  xxxxxx+1 (1..64) registers at 0
 *             01xxxxxx yyyyyyyy  XZERO: x:y+1 (1..16384) registers at 0
 *             1vvvvvxx           VAL:   xx+1 (1..4) registers at vvvvv+1 (1..32)
 *           An empty HLL is one XZERO:16384. A register above 32, or a value
 *           longer than hll-sparse-max-bytes, turns the HLL dense (for good).
 *
 * The estimator is Ertl's improved one ("New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017) on the register histogram.
 *
 * Everything here is pure: buffers in, buffers out; nothing is allocated.
 * Payloads come from clients (SET, RESTORE): every reader checks bounds and
 * reports a malformed sparse value instead of trusting it. */
#ifndef LARDER_KV_HLL_H
#define LARDER_KV_HLL_H
#include <stddef.h>
#include <stdint.h>
#include "util/sbuf.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P)
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_BITS 6
#define HLL_REGISTER_MAX ((1 << HLL_BITS) - 1)
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_SPARSE_EMPTY_SIZE (HLL_HDR_SIZE + 2)
#define HLL_SPARSE_SLACK 3 /* bytes one sparse update may add */
#define HLL_SPARSE_VAL_MAX 32
enum { HLL_DENSE = 0, HLL_SPARSE = 1 };

/* MurmurHash2, 64-bit (MurmurHash64A), reading the key as little endian. */
uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed);
/* The register an element goes to (*reg) and its run length (1..Q+1). */
int hll_pattern(const void *ele, size_t len, long *reg);

/* Is p[0..len) an HLL: magic, a known encoding, the exact dense size? */
int hll_is_valid(const uint8_t *p, size_t len);
/* Writes an empty sparse HLL (HLL_SPARSE_EMPTY_SIZE bytes). */
size_t hll_init_sparse(uint8_t *out);

/* The cached cardinality: valid or not, read, write (which validates it),
 * and invalidation after a change. */
int hll_cache_valid(const uint8_t *p);
uint64_t hll_cache_get(const uint8_t *p);
void hll_cache_set(uint8_t *p, uint64_t card);
void hll_cache_invalidate(uint8_t *p);

/* Dense registers (regs = the 12288 bytes after the header). */
int hll_dense_get(const uint8_t *regs, long i);
void hll_dense_put(uint8_t *regs, long i, int v);
/* Raises register i to count if it is lower: 1 when raised, else 0. */
int hll_dense_set(uint8_t *regs, long i, int count);

/* Raises register `index` of a sparse HLL to `count` in place. buf holds
 * *len bytes and has room for *len + HLL_SPARSE_SLACK. Returns:
 *   HLL_SET_CHANGED    updated (*len may have changed; cache invalidated)
 *   HLL_SET_UNCHANGED  the register was already as high
 *   HLL_SET_PROMOTE    count > 32, or the value would pass max_bytes: the
 *                      caller converts to dense and sets there (nothing
 *                      was changed)
 *   HLL_SET_CORRUPT    the opcodes do not cover the register */
enum { HLL_SET_CORRUPT = -1, HLL_SET_UNCHANGED = 0, HLL_SET_CHANGED = 1, HLL_SET_PROMOTE = 2 };
int hll_sparse_set(uint8_t *buf, size_t *len, size_t max_bytes, long index, int count);
/* Writes the dense form of a sparse HLL into dense (HLL_DENSE_SIZE bytes; the
 * header is copied, cached cardinality included). -1 when malformed. */
int hll_sparse_to_dense(const uint8_t *sparse, size_t len, uint8_t *dense);

/* The estimated cardinality of a valid HLL; *invalid is set (when given)
 * for a malformed sparse one. */
uint64_t hll_count(const uint8_t *p, size_t len, int *invalid);
/* The same for 16384 registers of one byte each, each at most 63 (a merge
 * result). */
uint64_t hll_count_raw(const uint8_t *regs);
/* max[i] = MAX(max[i], register i) over a valid HLL; -1 when it is a
 * malformed sparse one. max holds 16384 registers, one a byte, each at most
 * 63 (zeroed, or filled by earlier merges). */
int hll_merge_into(uint8_t *max, const uint8_t *p, size_t len);
/* Writes 16384 raw registers (one a byte, each at most 63) as the dense
 * registers regs (the 12288 bytes after the header). */
void hll_dense_from_raw(uint8_t *regs, const uint8_t *raw);
/* Appends PFDEBUG DECODE's text of a sparse HLL to out: its opcodes as
 * "Z:n" (XZERO), "z:n" (ZERO) and "v:value,n" (VAL), one space apart. */
void hll_sparse_decode(const uint8_t *p, size_t len, sbuf *out);
#endif
