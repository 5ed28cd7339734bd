/* kv/intset — a sorted array of distinct integers, the small encoding of sets
 * whose members are all canonical integers (OBJECT ENCODING "intset").
 *
 *   +--------------+--------------+----------------------------------+
 *   | width : u32  | length : u32 | length integers of width bytes,  |
 *   | (2, 4 or 8)  |              | little-endian, ascending         |
 *   +--------------+--------------+----------------------------------+
 *
 * The width is the smallest of 2/4/8 bytes that holds every member; adding a
 * member that needs more widens ("upgrades") the whole array. It never
 * narrows again (as in Redis). One allocation; every modifying function may
 * move it and returns the new address.
 *
 * Invariants:
 *  1. Members are strictly ascending (so distinct) and each fits the width.
 *  2. The allocation holds exactly 8 + width * length bytes of data.
 *  3. An intset from an untrusted source (RESTORE) is used only after
 *     intset_validate() accepted it. */
#ifndef LARDER_KV_INTSET_H
#define LARDER_KV_INTSET_H
#include <stddef.h>
#include <stdint.h>

typedef struct intset {
    uint32_t width;
    uint32_t length;
    unsigned char contents[];
} intset;

intset *intset_new(void);
void intset_free(intset *is);
intset *intset_dup(const intset *is);
/* Adds v; *added (if given) is 1 when it was not there. */
intset *intset_add(intset *is, int64_t v, int *added);
/* Removes v; *removed (if given) is 1 when it was there. */
intset *intset_remove(intset *is, int64_t v, int *removed);
int intset_find(const intset *is, int64_t v);
/* The member at pos (0-based, ascending order); 0 when pos is out of range. */
int intset_get(const intset *is, uint32_t pos, int64_t *v);
static inline uint32_t intset_len(const intset *is) {
    return is->length;
}
/* Bytes of the whole structure (header + data). */
size_t intset_blob_len(const intset *is);
/* A uniformly chosen member (the set must not be empty); r is a random number. */
int64_t intset_random(const intset *is, uint64_t r);
/* Checks bytes from an untrusted source: header, size, width, ascending order. */
int intset_validate(const void *p, size_t size);
#endif
