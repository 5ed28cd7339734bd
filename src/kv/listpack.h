/* kv/listpack — a compact, contiguous sequence of byte strings, the small
 * encoding of hashes, sorted sets and lists (OBJECT ENCODING "listpack").
 *
 *   +-------------+-----------+---------+---------+-----+---------+
 *   | bytes : u32 | count:u32 | entry 0 | entry 1 | ... | 0xFF end|
 *   +-------------+-----------+---------+---------+-----+---------+
 *   entry: | len : varint (1-5 bytes) | data (len bytes) | back : 1-5 bytes |
 *
 * `back` is the size of header+data written backwards (7 bits per byte, the
 * high bit set on every byte but the first-read one) so the list can be
 * walked from the end. A listpack is one allocation; every modifying
 * function may move it and returns the new address (update your pointer).
 * Entry pointers ("p") are invalidated by any modification except where a
 * function returns a fresh one.
 *
 * Invariants:
 *  1. bytes == the allocation's used size, ending with the 0xFF terminator.
 *  2. count == number of entries (fits u32; callers convert to a full
 *     encoding long before that).
 *  3. A varint length never starts with 0xFF, so the terminator is unambiguous. */
#ifndef LARDER_KV_LISTPACK_H
#define LARDER_KV_LISTPACK_H
#include <stddef.h>
#include <stdint.h>

typedef unsigned char lpbuf;

enum { LP_BEFORE = 0, LP_AFTER = 1 };

lpbuf *lp_new(void);
void lp_free(lpbuf *lp);
lpbuf *lp_dup(const lpbuf *lp);
size_t lp_bytes(const lpbuf *lp);
uint32_t lp_count(const lpbuf *lp);

/* Navigation: NULL when there is no such entry. */
unsigned char *lp_first(lpbuf *lp);
unsigned char *lp_last(lpbuf *lp);
unsigned char *lp_next(lpbuf *lp, unsigned char *p);
unsigned char *lp_prev(lpbuf *lp, unsigned char *p);
/* Entry at index (negative counts from the end), or NULL. */
unsigned char *lp_seek(lpbuf *lp, long index);
/* The entry's bytes and length (a pointer into the listpack). */
const char *lp_get(const unsigned char *p, size_t *len);
/* The entry's value as an integer, when it is a canonical one. */
int lp_get_ll(const unsigned char *p, long long *v);

/* Inserts s before/after p (p NULL: at the end for AFTER, front for BEFORE).
 * *newp (if given) receives the inserted entry. */
lpbuf *lp_insert(lpbuf *lp, unsigned char *p, const char *s, size_t len, int where,
                 unsigned char **newp);
lpbuf *lp_append(lpbuf *lp, const char *s, size_t len);
lpbuf *lp_prepend(lpbuf *lp, const char *s, size_t len);
/* Replaces the entry at p; *newp receives it. */
lpbuf *lp_replace(lpbuf *lp, unsigned char *p, const char *s, size_t len, unsigned char **newp);
/* Deletes the entry at p; *next (if given) receives the entry after it or NULL. */
lpbuf *lp_delete(lpbuf *lp, unsigned char *p, unsigned char **next);
/* Deletes n entries starting at index (negative from the end). */
lpbuf *lp_delete_range(lpbuf *lp, long index, unsigned long n);
/* The first entry from p on equal to s, comparing only every (skip+1)-th entry
 * (skip 1 searches the fields of field/value pairs). NULL if none. */
unsigned char *lp_find(lpbuf *lp, unsigned char *p, const char *s, size_t len, unsigned skip);
/* Compares an entry with s (memcmp order, shorter first): <0, 0, >0. */
int lp_compare(const unsigned char *p, const char *s, size_t len);
/* Checks a listpack from an untrusted source (RESTORE). 1 when well formed. */
int lp_validate(const unsigned char *buf, size_t size);
#endif
