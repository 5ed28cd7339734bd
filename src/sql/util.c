/* sql/util.c — small pieces shared by the store's files: error texts, the
 * checksum, and the u32 -> pointer map.
 *
 * Invariants:
 *   1. sqli_store_errmsg() is per thread; a function that returns an error code
 *      has set the message (sqli_store_error) on the way out.
 *   2. u32map: key 0 is never stored (page numbers start at 1); linear probing
 *      with backward-shift deletion, load factor <= 1/2.
 */
#include "sql/store_int.h"
#include "util/mem.h"
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

static __thread char errmsg_buf[512];

const char *sqli_store_strerror(int rc) {
    switch (rc) {
    case STORE_OK:
        return "STORE_OK: success";
    case STORE_NOTFOUND:
        return "STORE_NOTFOUND: not found";
    case STORE_EXISTS:
        return "STORE_EXISTS: key exists";
    case STORE_BUSY:
        return "STORE_BUSY: database is locked";
    case STORE_READONLY:
        return "STORE_READONLY: database is read-only";
    case STORE_CANTOPEN:
        return "STORE_CANTOPEN: cannot open database file";
    case STORE_NOTADB:
        return "STORE_NOTADB: file is not a Larder store";
    case STORE_VERSION:
        return "STORE_VERSION: unsupported file format version";
    case STORE_CORRUPT:
        return "STORE_CORRUPT: database file is corrupt";
    case STORE_IOERR:
        return "STORE_IOERR: I/O error";
    case STORE_FULL:
        return "STORE_FULL: disk full";
    case STORE_TOOBIG:
        return "STORE_TOOBIG: key or value too big";
    case STORE_MISUSE:
        return "STORE_MISUSE: library used incorrectly";
    default:
        return "STORE_?: unknown error code";
    }
}

const char *sqli_store_errmsg(void) {
    return errmsg_buf;
}

int sqli_store_error(int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg_buf, sizeof errmsg_buf, fmt, ap);
    va_end(ap);
    return rc;
}

/* Two Fletcher-style lanes over 64-bit words, then a final mix. Not
 * cryptographic: it detects torn and garbled pages, which is its job. */
uint64_t sqli_store_cksum(uint64_t seed, const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t a1 = seed ^ 0x243F6A8885A308D3ull, b1 = 0x13198A2E03707344ull;
    uint64_t a2 = ~seed, b2 = 0xA4093822299F31D0ull;
    assert(n % 8 == 0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a1 += get64(b + i);
        b1 += a1;
        a2 += get64(b + i + 8);
        b2 += a2;
    }
    if (i < n) {
        a1 += get64(b + i);
        b1 += a1;
    }
    uint64_t h = a1 ^ (b1 * 0x9E3779B97F4A7C15ull) ^ (a2 << 1) ^ (b2 * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

uint64_t sqli_hdr_checksum(const uint8_t *page1) {
    return sqli_store_cksum(0x4C617264657248ull, page1, HDR_OFF_CKSUM);
}

uint64_t sqli_page_trailer_checksum(const uint8_t *page, uint32_t page_size, uint32_t pgno) {
    return sqli_store_cksum(0x5061676500000000ull | pgno, page, page_size - PAGE_TRAILER);
}

/* ---- u32map ---------------------------------------------------------------- */

static inline uint32_t hash32(uint32_t k) {
    return (uint32_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 32);
}

void *sqli_u32map_get(const u32map *m, uint32_t k) {
    if (!m->cap) return NULL;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = hash32(k) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == k) return m->vals[i];
        if (m->keys[i] == 0) return NULL;
    }
}

static void u32map_grow(u32map *m) {
    uint32_t ocap = m->cap;
    uint32_t *ok = m->keys;
    void **ov = m->vals;
    m->cap = ocap ? ocap * 2 : 64;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    m->count = 0;
    for (uint32_t i = 0; i < ocap; i++)
        if (ok[i]) sqli_u32map_put(m, ok[i], ov[i]);
    xfree(ok);
    xfree(ov);
}

void sqli_u32map_put(u32map *m, uint32_t k, void *v) {
    assert(k != 0);
    if ((m->count + 1) * 2 > m->cap) u32map_grow(m);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = hash32(k) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == k) {
            m->vals[i] = v;
            return;
        }
        if (m->keys[i] == 0) {
            m->keys[i] = k;
            m->vals[i] = v;
            m->count++;
            return;
        }
    }
}

void sqli_u32map_del(u32map *m, uint32_t k) {
    if (!m->cap) return;
    uint32_t mask = m->cap - 1, i = hash32(k) & mask;
    while (m->keys[i] != k) {
        if (m->keys[i] == 0) return;
        i = (i + 1) & mask;
    }
    /* Backward-shift: pull later members of the probe run into the hole. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        uint32_t home = hash32(m->keys[j]) & mask;
        /* j's entry may move to hole if home is not cyclically in (hole, j]. */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->keys[hole] = 0;
    m->vals[hole] = NULL;
    m->count--;
}

void sqli_u32map_free(u32map *m) {
    xfree(m->keys);
    xfree(m->vals);
    memset(m, 0, sizeof *m);
}
