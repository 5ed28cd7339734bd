/* kv/db — one numbered database: the keyspace dict plus the index of entries
 * that carry an expire time, with lazy expiry on access.
 *
 * The db layer owns kobj entries: db_add() takes ownership; db_delete() frees;
 * db_unlink() hands ownership back. Every function that may move an entry
 * (object.h, invariant 2) returns its new address.
 *
 * The entries with an expire time are also listed in an expire set: an
 * array of entry pointers in no order, where each entry keeps its own
 * position (kobj_expire_pos). Active expiry and the volatile eviction
 * policies only sample it, and the keyspace dict answers every lookup, so
 * a second hash table keyed by name (Redis's expires dict) would cost a
 * slot share of ~17 bytes per key at its load factor for nothing; the set
 * costs one pointer per key (plus growth slack) and 4 bytes in the entry.
 *
 * Invariants:
 *  1. An entry is in `expires` exactly when it has KF_EXPIRE.
 *  2. The keys dict and the expire set hold the same pointer for an entry,
 *     and expires.v[kobj_expire_pos(o)] == o for every o in the set.
 *  3. db_lookup never returns an entry whose expire time has passed
 *     (expired means now > expire, as in Redis).
 *  4. `memo`, when set, is an entry in `keys`: every removal or replacement
 *     of an entry (and a clear or swap of the db) unsets it. So a lookup of
 *     the memo's own key may take it without hashing: the dict would find
 *     the same entry. */
#ifndef LARDER_KV_DB_H
#define LARDER_KV_DB_H
#include "kv/dict.h"
#include "kv/object.h"

typedef struct expire_set {
    kobj **v;
    size_t n, cap;
} expire_set;

#define DB_MEMO_KEY 48 /* the longest key db_lookup_h remembers (db.memo_key) */

typedef struct db {
    dict keys;
    expire_set expires;
    int id;
    long long avg_ttl;
    uint64_t expires_cursor;
    /* keys of hashes whose fields may carry expire times, each with the
     * earliest of them or earlier (entries and their meaning are owned by
     * the hash type, commands/hash.c); NULL until a field gets a TTL */
    dict *field_expires;
    /* owned by the server (watched keys, blocked clients); NULL when unused */
    dict *watched_keys;
    dict *blocking_keys;
    /* the entry a LOOKUP_MEMO lookup found, for the next db_lookup (invariant 4) */
    kobj *memo;
    /* the key of the last LOOKUP_MEMO lookup (up to DB_MEMO_KEY bytes; hit or
     * miss) and its hash, for the next db_lookup_h: a key's hash never
     * changes, so it needs no invalidation. memo_klen is its length + 1, 0
     * for none. */
    uint64_t memo_h;
    uint32_t memo_klen;
    char memo_key[DB_MEMO_KEY];
} db;

/* The time every expiry decision uses: the server sets it to the start time of
 * the command being run (so a command sees one consistent "now"). */
extern int64_t kv_now_ms;

/* Called when lazy or active expiry (or eviction) removes an entry: after it
 * left the dicts, before it is freed. on_added: db_add put a key that was
 * absent into the db (Redis's dbAdd: the "new" keyspace event). */
typedef struct kv_hooks {
    void (*on_expired)(db *d, kobj *o);
    void (*on_evicted)(db *d, kobj *o);
    void (*on_added)(db *d, kobj *o);
    /* Active expiry of fields (hash field TTLs): one step over d's
     * field_expires, examining about `samples` keys; returns the number of
     * fields deleted. Registered by the hash type. */
    size_t (*fields_expire_step)(db *d, size_t samples);
    /* Has a field of o passed its expire time? Registered by the hash type. */
    int (*fields_due)(db *d, kobj *o);
    /* What field expiry may do to key, asked when a field is due:
     * FIELDS_EXPIRE (delete the due fields), FIELDS_KEEP (not now: the key's
     * newest value is not stored yet), FIELDS_DROP_KEY (the key is a copy of
     * a stored row: it leaves whole, the row keeps the field). */
    int (*fields_policy)(db *d, const char *key, size_t len);
} kv_hooks;
enum { FIELDS_EXPIRE = 0, FIELDS_KEEP = 1, FIELDS_DROP_KEY = 2 };
extern kv_hooks kv_hook;

void db_init(db *d, int id);
/* Frees every entry. */
void db_clear(db *d);
/* Swaps the contents (keys and expires) of two databases (SWAPDB). */
void db_swap_contents(db *a, db *b);

static inline size_t db_size(const db *d) {
    return dict_size(&d->keys);
}
static inline size_t db_expires_size(const db *d) {
    return d->expires.n;
}
/* Bytes of the expire set's array (MEMORY STATS, INFO). */
static inline size_t db_expires_mem(const db *d) {
    return d->expires.cap * sizeof(kobj *);
}
/* Up to n entries with an expire time, consecutive from a random spot
 * (eviction's sampling); returns the count. */
size_t db_expires_sample(db *d, kobj **out, size_t n);
/* A uniformly chosen entry with an expire time, NULL if there is none. */
kobj *db_expires_random(db *d);

static inline int kobj_is_expired(const kobj *o) {
    return (o->flags & KF_EXPIRE) && kobj_expire(o) < kv_now_ms;
}

/* The entry for key without any expiry logic (may be logically expired). */
kobj *db_find(db *d, const char *key, size_t len);
/* The same with the key's hash already known (dict_hash_bytes of the key). */
kobj *db_find_hashed(db *d, const char *key, size_t len, uint64_t h);

enum { LOOKUP_NONE = 0, LOOKUP_NOTOUCH = 1, LOOKUP_MEMO = 2 };
/* The live entry for key or NULL; an expired entry is deleted and reported
 * to kv_hook.on_expired. Updates LRU/LFU unless LOOKUP_NOTOUCH.
 * LOOKUP_MEMO remembers the entry found, so that the next db_lookup, if it
 * is of the same key, skips the hash lookup: a check made before a command
 * runs (persistence's) and the command's own lookup then cost one. Any
 * db_lookup takes the memo off (used or not). */
kobj *db_lookup(db *d, const char *key, size_t len, int flags);

/* db_lookup that also gives the key's hash, for a following db_add_h. After
 * a LOOKUP_MEMO lookup of the same key (a write's persistence check, then
 * the command) it neither hashes nor, on a hit, searches again. */
kobj *db_lookup_h(db *d, const char *key, size_t len, int flags, uint64_t *h);
/* db_find_hashed's entry (logically expired or not: nothing is deleted or
 * touched), hashed once and remembered as a LOOKUP_MEMO lookup remembers
 * it: the next db_lookup of the key takes it unhashed and applies expiry
 * then. Gives the key's hash. */
kobj *db_find_memo(db *d, const char *key, size_t len, uint64_t *h);
/* Adds an entry whose key is absent (reported to kv_hook.on_added). */
void db_add(db *d, kobj *o);
/* db_add with the key's hash from db_lookup_h (saves hashing the key again). */
void db_add_h(db *d, kobj *o, uint64_t h);
/* Puts `n` in the place of `old` (same key) and frees old. Expire of `n` is
 * whatever n carries. Returns n. */
kobj *db_replace(db *d, kobj *old, kobj *n);
/* Removes and frees; returns 1 if the key existed. */
int db_delete(db *d, const char *key, size_t len);
/* Removes without freeing and returns the entry (NULL if absent). */
kobj *db_unlink(db *d, const char *key, size_t len);

/* Sets the expire time (absolute unix ms) and returns the entry's new address. */
kobj *db_set_expire(db *d, kobj *o, int64_t when);
kobj *db_persist(db *d, kobj *o);
/* Gives o a metadata block (if it has none) with this load cost; new address. */
kobj *db_set_meta(db *d, kobj *o, uint32_t delta_ms);
/* Makes sure a string entry has room for vcap value bytes; returns new address. */
kobj *db_reserve_string(db *d, kobj *o, size_t vcap);
/* Inline values (strings, KF_INLINE collections): makes the entry's value
 * room at least `need` bytes, or shrinks a room far larger than need (the
 * first vlen bytes move over). Keeps expire and meta. Returns the address. */
kobj *db_fit_value(db *d, kobj *o, size_t need);
/* Replaces a string value in place when it fits, else reallocates; keeps
 * expire. Returns the entry's address. */
kobj *db_set_string_value(db *d, kobj *o, const char *val, size_t vlen);

/* One step of active expiry over this db: samples keys with an expire and
 * deletes expired ones. Returns the number sampled and adds to *expired. */
size_t db_active_expire_step(db *d, size_t samples, size_t *expired);
#endif
