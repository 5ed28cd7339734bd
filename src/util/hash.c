/* util/hash — SipHash-1-2 (one compression round per 8-byte block, two
 * finalization rounds), written from the algorithm's description by Aumasson
 * and Bernstein. One round per block is what hash tables need: collision
 * resistance against an attacker who does not know the key, at high speed. */
#include "util/hash.h"
#include <string.h>

static uint64_t k0, k1;

void hash_seed(const uint8_t key[16]) {
    memcpy(&k0, key, 8);
    memcpy(&k1, key + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static inline uint64_t load64(const uint8_t *p) {
    uint64_t m;
    memcpy(&m, p, 8);
    return m;
}

static inline uint8_t lower1(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* The last 0-7 bytes, little-endian, with the length in the top byte. */
static inline uint64_t tail_word(const uint8_t *in, size_t len) {
    uint64_t b = (uint64_t)len << 56;
    switch (len & 7) {
    case 7:
        b |= (uint64_t)in[6] << 48; /* fall through */
    case 6:
        b |= (uint64_t)in[5] << 40; /* fall through */
    case 5:
        b |= (uint64_t)in[4] << 32; /* fall through */
    case 4:
        b |= (uint64_t)in[3] << 24; /* fall through */
    case 3:
        b |= (uint64_t)in[2] << 16; /* fall through */
    case 2:
        b |= (uint64_t)in[1] << 8; /* fall through */
    case 1:
        b |= (uint64_t)in[0];
        break;
    case 0:
        break;
    }
    return b;
}

uint64_t hash_bytes(const void *p, size_t len) {
    const uint8_t *in = p;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    const uint8_t *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m = load64(in);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = tail_word(in, len);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hash_bytes_fast(const void *p, size_t len) {
    const uint8_t *in = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ in[i]) * 0x100000001b3ULL;
    return hash_u64(h);
}
