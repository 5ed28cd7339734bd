/* kv/object — a keyspace entry: key, metadata and value in one allocation.
 *
 *   0        4    5    6    8         12        16
 *   +--------+----+----+----+---------+---------+--------------------------------------+
 *   |lru:24  |type|enc |tag |  klen   |  vlen   | [expire ms: i64]  if KF_EXPIRE        |
 *   |flags:8 |    |    |    |         |         | [expire pos: u32] if KF_EXPIRE        |
 *   |        |    |    |    |         |         | [meta: 8 bytes]   if KF_META          |
 *   |        |    |    |    |         |         | key bytes (klen)                      |
 *   |        |    |    |    |         |         | value bytes (vlen) if OBJ_STRING,     |
 *   |        |    |    |    |         |         | else a void* to the type's structure  |
 *   +--------+----+----+----+---------+---------+--------------------------------------+
 *
 * Why one allocation: a 16-byte key with a 16-byte value costs 48 bytes
 * (one jemalloc size class) plus ~12 bytes of hash-table slot, where Redis
 * spends a dictEntry, an sds key and a robj. Fewer allocations also make SET
 * and GET faster.
 *
 * Invariants:
 *  1. klen and vlen fit in 32 bits (proto-max-bulk-len is at most 4 GiB - 1 here).
 *  2. An entry's address changes whenever its size changes (expire added or
 *     removed, string grown): code that reallocates must go through the db
 *     layer, which re-points the hash tables. Never keep a kobj* across a call
 *     that may reallocate it.
 *  3. String values are not NUL-terminated (the byte after may be anything).
 *  4. The pointer of a non-string value is stored unaligned; use kobj_ptr().
 *  5. KF_INLINE: a collection type may keep a small encoding's bytes inside
 *     the entry, exactly as strings do (vlen bytes, room = kobj_str_capacity).
 *     The bytes must be self-delimiting (the type ops get only a pointer:
 *     kobj_value()). Growing them moves the entry (invariant 2: db_fit_value).
 *     Small hashes do this: one allocation per small hash instead of two. */
#ifndef LARDER_KV_OBJECT_H
#define LARDER_KV_OBJECT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sbuf;

enum obj_type {
    OBJ_STRING = 0,
    OBJ_LIST = 1,
    OBJ_SET = 2,
    OBJ_ZSET = 3,
    OBJ_HASH = 4,
    OBJ_STREAM = 5,
    OBJ_TYPES
};

/* String encodings, as OBJECT ENCODING names them (Redis's rules decide which). */
enum { ENC_RAW = 0, ENC_INT = 1, ENC_EMBSTR = 2 };
/* Other encodings used by the collection types. */
enum {
    ENC_HASHTABLE = 3,
    ENC_LISTPACK = 4,
    ENC_QUICKLIST = 5,
    ENC_INTSET = 6,
    ENC_SKIPLIST = 7,
    ENC_LINKEDLIST = 8
};

enum {
    KF_EXPIRE = 1 << 0, /* an expire time is stored */
    KF_META = 1 << 1,   /* an 8-byte metadata block is stored (persistence layer) */
    KF_INLINE = 1 << 5  /* a collection's value bytes are inside the entry (invariant 5) */
};

typedef struct kobj {
    uint32_t lru : 24; /* LRU clock, or LFU: 16-bit minutes + 8-bit log counter */
    uint32_t flags : 8;
    uint8_t type;
    uint8_t enc;
    /* Owned by the persistence layer (it caches which mapping the key
     * belongs to): 0 in a new entry and when the key changes (kobj_rekey),
     * kept when the entry moves. A fact about the key's name only. */
    uint16_t tag;
    uint32_t klen;
    uint32_t vlen; /* string length (OBJ_STRING only) */
    char data[];
} kobj;

/* Metadata block of persistence-managed entries. */
typedef struct kobj_meta {
    uint32_t delta_ms; /* measured cost of loading this value (XFetch) */
    uint32_t aux;      /* owner-defined (mapping index, lease state) */
} kobj_meta;

/* The expire block: the expire time (ms) and the entry's position in its
 * db's expire set (kv/db.h), which the db layer keeps; 12 bytes, so that the
 * expire set needs no hash table of its own. */
#define KOBJ_EXPIRE_SIZE 12
static inline size_t kobj_extra(const kobj *o) {
    return ((o->flags & KF_EXPIRE) ? KOBJ_EXPIRE_SIZE : 0) + ((o->flags & KF_META) ? 8 : 0);
}
static inline char *kobj_key(const kobj *o) {
    return (char *)o->data + kobj_extra(o);
}
static inline char *kobj_val(const kobj *o) {
    return kobj_key(o) + o->klen;
}
static inline int64_t kobj_expire(const kobj *o) {
    int64_t t;
    if (!(o->flags & KF_EXPIRE)) return -1;
    memcpy(&t, o->data, 8);
    return t;
}
static inline void kobj_set_expire_field(kobj *o, int64_t when) {
    memcpy(o->data, &when, 8);
}
/* Position in the db's expire set (KF_EXPIRE entries only; owned by kv/db). */
static inline uint32_t kobj_expire_pos(const kobj *o) {
    uint32_t p;
    memcpy(&p, o->data + 8, 4);
    return p;
}
static inline void kobj_set_expire_pos(kobj *o, uint32_t pos) {
    memcpy(o->data + 8, &pos, 4);
}
static inline kobj_meta *kobj_meta_of(kobj *o) {
    return (o->flags & KF_META)
               ? (kobj_meta *)(o->data + ((o->flags & KF_EXPIRE) ? KOBJ_EXPIRE_SIZE : 0))
               : NULL;
}
static inline void *kobj_ptr(const kobj *o) {
    void *p;
    memcpy(&p, kobj_val(o), sizeof(p));
    return p;
}
static inline void kobj_set_ptr(kobj *o, void *p) {
    memcpy(kobj_val(o), &p, sizeof(p));
}
/* Are the value's bytes inside the entry (strings, KF_INLINE collections)? */
static inline int kobj_is_inline(const kobj *o) {
    return o->type == OBJ_STRING || (o->flags & KF_INLINE);
}
/* Bytes the value occupies inside the entry. */
static inline size_t kobj_val_size(const kobj *o) {
    return kobj_is_inline(o) ? o->vlen : sizeof(void *);
}
/* A collection's value as its type ops take it: the inline bytes or the pointer. */
static inline void *kobj_value(const kobj *o) {
    return (o->flags & KF_INLINE) ? (void *)kobj_val(o) : kobj_ptr(o);
}

/* Allocates an entry. For strings, val/vlen are copied (cap: bytes of room to
 * reserve for the value, >= vlen). For other types ptr is stored. */
kobj *kobj_new_string(const char *key, size_t klen, const char *val, size_t vlen, size_t cap);
/* The same with an expire time (absolute ms), or none when expire < 0. */
kobj *kobj_new_string_ex(const char *key, size_t klen, const char *val, size_t vlen, size_t cap,
                         int64_t expire);
kobj *kobj_new_ptr(int type, int enc, const char *key, size_t klen, void *ptr);
/* A collection entry whose value bytes (len, room for cap) live inline. */
kobj *kobj_new_inline(int type, int enc, const char *key, size_t klen, const void *bytes,
                      size_t len, size_t cap);
/* A collection entry for a value a type op returned (deserialize): stored
 * inline when the type's inline_size says so (ptr is then freed), else as ptr. */
kobj *kobj_new_value(int type, int enc, const char *key, size_t klen, void *ptr);
/* A copy of o's shell (key, expire, meta, LRU, flags) holding another value:
 * ptr (inline_len 0) or inline bytes. o's value is not touched; replace o
 * with db_replace (which frees o's value: detach it first if still used). */
kobj *kobj_with_value(const kobj *o, int enc, const void *ptr_or_bytes, size_t inline_len);
/* A copy of o with a different layout: expire present or not, meta present or
 * not, and room for a value of vcap bytes (strings). The value (bytes or
 * pointer) moves over: release the old shell with xfree(o), not kobj_free. */
kobj *kobj_relayout(kobj *o, int with_expire, int with_meta, size_t vcap);
/* Bytes of value room the allocation has (strings). */
size_t kobj_str_capacity(const kobj *o);
/* Frees the entry and its value through the type's ops. */
void kobj_free(kobj *o);
/* A deep copy under a new key (COPY, RENAME keeps the value, see db). */
kobj *kobj_dup(const kobj *o, const char *key, size_t klen);
/* Approximate bytes used by entry and value (MEMORY USAGE). */
size_t kobj_mem(const kobj *o, size_t samples);
/* Sets enc of a string value by Redis's rules: int if it is a canonical
 * integer of at most 20 chars, embstr up to 44 bytes, raw above. */
void kobj_string_classify(kobj *o);
const char *kobj_type_name(int type);
const char *kobj_enc_name(const kobj *o);

/* Each collection type registers how to free, copy and measure its value. */
typedef struct kobj_type_ops {
    const char *name;
    void (*free_value)(void *ptr, int enc);
    void *(*dup_value)(const void *ptr, int enc);
    size_t (*mem_value)(const void *ptr, int enc, size_t samples);
    const char *(*enc_name)(const void *ptr, int enc); /* NULL: by enc */
    /* DUMP/RESTORE: append the value's bytes; parse them back (NULL when the
     * bytes are malformed — never trust them, they come from clients). */
    void (*serialize)(const void *ptr, int enc, struct sbuf *out);
    void *(*deserialize)(const char *p, size_t len, int *enc);
    /* Optional. Encodings kept inline (KF_INLINE): the byte size of such a
     * value (it is self-delimiting); 0 for encodings held by pointer. */
    size_t (*inline_size)(const void *ptr, int enc);
    /* Optional, for unordered types (DEBUG DIGEST must not depend on the
     * order of a hash table): calls fn once per element (a hash: field and
     * value; a set: the member and b == NULL). */
    void (*each)(const void *ptr, int enc,
                 void (*fn)(void *ctx, const char *a, size_t alen, const char *b, size_t blen),
                 void *ctx);
} kobj_type_ops;
const kobj_type_ops *kobj_type_ops_of(int type);
/* The same entry under another key (RENAME/MOVE): the value moves over, o's
 * shell is freed. o must not be in any db. */
kobj *kobj_rekey(kobj *o, const char *key, size_t klen);
void kobj_register_type(int type, const kobj_type_ops *ops);

/* ---- LRU / LFU --------------------------------------------------------- */
#define LRU_CLOCK_MAX ((1 << 24) - 1)
#define LRU_CLOCK_RES_MS 1000
extern uint32_t kv_lru_clock; /* updated by the server's cron */
extern int kv_lfu_mode;       /* maxmemory-policy is an LFU one */
extern int kv_lfu_log_factor, kv_lfu_decay_time;
uint32_t kv_lru_clock_now(void);
/* LFU's 16-bit minute clock (the high bits of an LFU entry's lru field). */
unsigned kv_lfu_minutes(void);
/* Records an access (LRU stamp or LFU increment with decay). */
void kobj_touch(kobj *o);
/* Seconds since last access (OBJECT IDLETIME). */
unsigned long long kobj_idle_ms(const kobj *o);
/* LFU counter after decay (OBJECT FREQ). */
unsigned kobj_lfu_freq(const kobj *o);
void kobj_init_access(kobj *o);
#endif
