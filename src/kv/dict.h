/* kv/dict — the hash table under the keyspace and every hashed type.
 *
 * An open-addressing table of entry pointers with linear probing. The table
 * stores only pointers to caller-owned entries; the key is read out of the
 * entry through dict_type.entry_key, so one allocation can hold key and value
 * together (the keyspace does exactly that). 16 bits of the hash ride in the
 * unused top bits of each slot pointer, so a probe rarely touches an entry
 * that does not match (not in an AddressSanitizer build, whose LeakSanitizer
 * must see plain pointers to find the entries).
 *
 * Growth is incremental, as in Redis: while a resize is under way two tables
 * exist and every operation moves one cluster (a run of full slots between
 * two empty ones) from the old to the new table, so no command ever pays for
 * rehashing a million keys at once.
 *
 * Invariants:
 *  1. Every entry sits in the run of full slots that starts at its home slot
 *     (hash & mask): no empty slot lies between home and entry. Deletion keeps
 *     this by backward shifting, so there are no tombstones.
 *  2. A key is in at most one of the two tables.
 *  3. During a resize nothing is inserted into the old table, and clusters
 *     move whole: a lookup in the old table is exact for unmoved clusters and
 *     finds nothing (an empty slot) for moved ones.
 *  4. Load factor stays below 3/4 at rest; a table shrinks below 1/8.
 *  5. Slot pointers have their top 16 bits clear (user-space addresses).
 *
 * dict_scan gives Redis's SCAN guarantee (every element present for the whole
 * scan is returned at least once, across resizes) by visiting elements by
 * home bucket in reverse-binary cursor order.
 *
 * Not thread-safe; the caller owns the entries (the dict never frees them
 * except through the callback given to dict_free/dict_clear). */
#ifndef LARDER_KV_DICT_H
#define LARDER_KV_DICT_H
#include <stddef.h>
#include <stdint.h>

typedef struct dict_type {
    uint64_t (*hash)(const void *key, size_t len);
    /* Returns a pointer to the key of a stored entry and its length. */
    const void *(*entry_key)(const void *entry, size_t *len);
    /* Optional: the hash of a stored entry's key, kept in the entry (it must
     * equal hash(key)); saves hashing again when a removal shifts a cluster
     * or a resize moves the table. */
    uint64_t (*entry_hash)(const void *entry);
} dict_type;

typedef struct dict_table {
    uintptr_t *slots;
    size_t mask; /* size - 1; size is a power of two, 0 slots when mask == 0 && !slots */
    size_t used;
} dict_table;

typedef struct dict {
    const dict_type *type;
    dict_table t[2];     /* t[1] exists only during a resize */
    size_t rehash_start; /* an empty slot of t[0] where the resize walk began */
    size_t rehash_pos;   /* next slot of t[0] to examine */
    size_t rehash_left;  /* slots of t[0] still to walk; 0 when not resizing */
    unsigned char rehashing;
    unsigned char keep_log2; /* dict_keep_slots: 0, or log2 of the slots kept */
    int iterators;           /* live iterators: resizing steps pause while > 0 */
} dict;

dict *dict_new(const dict_type *type);
void dict_init(dict *d, const dict_type *type);
/* Calls free_entry(ctx, e) on every entry (if given) and frees the tables. */
void dict_clear(dict *d, void (*free_entry)(void *ctx, void *entry), void *ctx);
void dict_free(dict *d, void (*free_entry)(void *ctx, void *entry), void *ctx);

static inline size_t dict_size(const dict *d) {
    return d->t[0].used + d->t[1].used;
}
/* Bytes of the slot arrays (for MEMORY USAGE / INFO). */
size_t dict_mem(const dict *d);

void *dict_find(dict *d, const void *key, size_t len);
/* The same, also giving the key's hash for a following dict_add_h. */
void *dict_find_h(dict *d, const void *key, size_t len, uint64_t *h);
/* dict_find with the key's hash already known (kept by the caller). */
void *dict_find_hashed(dict *d, const void *key, size_t len, uint64_t h);
/* dict_add with the entry's key hash already known (from dict_find_h). */
void dict_add_h(dict *d, void *entry, uint64_t h);
/* Adds an entry whose key is not present (the caller checked with dict_find). */
void dict_add(dict *d, void *entry);
/* Removes the entry with this key and returns it (not freed), or NULL. */
void *dict_remove(dict *d, const void *key, size_t len);
/* The same with the key's hash already known (kept in the entry). */
void *dict_remove_h(dict *d, const void *key, size_t len, uint64_t h);
/* Once grown, the table does not shrink below n slots (a power of two, at
 * least 2) and
 * is kept when the dict empties: for a dict that fills and empties over and
 * over (the write-behind keys, once per batch), which would otherwise regrow
 * from the smallest table each time. */
void dict_keep_slots(dict *d, size_t n);
/* The entry `old` (present) is replaced by `repl`, which has the same key. */
void dict_replace(dict *d, const void *old, void *repl);
/* Makes room for n entries without further resizes (may start a resize). */
void dict_reserve(dict *d, size_t n);

/* A uniformly chosen slot's entry (clusters bias it slightly), NULL if empty. */
void *dict_random(dict *d);
/* Up to n entries from a random spot, for sampling (may repeat none, returns count). */
size_t dict_sample(dict *d, void **out, size_t n);

/* Visits the elements of one cursor step; returns the next cursor, 0 at the end. */
uint64_t dict_scan(dict *d, uint64_t cursor, void (*fn)(void *ctx, void *entry), void *ctx);
/* Moves n clusters of a resize under way; returns 1 while a resize remains. */
int dict_rehash_steps(dict *d, int n);
/* Starts a shrink when the table is sparse (cron calls this). */
void dict_maybe_shrink(dict *d);

/* Iteration over all entries. The dict must not change during iteration except
 * through dict_iter_delete (which removes the entry last returned). */
typedef struct dict_iter {
    dict *d;
    int table;
    size_t pos, left; /* walk of the current table from an empty slot */
    int started;
    uintptr_t last;
} dict_iter;
void dict_iter_init(dict_iter *it, dict *d);
void *dict_iter_next(dict_iter *it);
void dict_iter_delete(dict_iter *it);
void dict_iter_done(dict_iter *it);

/* Common types: entries that are plain counted strings are handled by callers;
 * these helpers hash bytes with the process key. */
uint64_t dict_hash_bytes(const void *key, size_t len);
#endif
