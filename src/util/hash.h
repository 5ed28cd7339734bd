/* util/hash — keyed hashing for hash tables.
 *
 * SipHash-1-2 with a per-process random key, so that clients cannot build
 * colliding keys (hash flooding). hash_seed() must be called once at start-up
 * before any table is used; until then the key is zero (fine for tests). */
#ifndef LARDER_UTIL_HASH_H
#define LARDER_UTIL_HASH_H
#include <stddef.h>
#include <stdint.h>

void hash_seed(const uint8_t key[16]);
uint64_t hash_bytes(const void *p, size_t len);
/* The same hash of the ASCII-lowercased bytes (command names, config names). */
/* FNV-1a then mixed: NOT flooding-safe, for tables of fixed names (commands). */
uint64_t hash_bytes_fast(const void *p, size_t len);
/* A fast non-keyed 64-bit mixer for integers (not flooding-safe). */
static inline uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
#endif
