/* commands/hash — the hash family (HSET … HSCAN), Redis 7.0 semantics and
 * error texts, and the hash type's value operations.
 *
 * Two encodings, as in Redis:
 *
 *   ENC_LISTPACK   small hashes: an hpack (kv/hpack.h) of field/value pairs
 *                  stored inside the keyspace entry itself (KF_INLINE), so a
 *                  small hash costs one allocation: header + key + pairs.
 *                  Insertion order is kept (HGETALL replies in that order).
 *   ENC_HASHTABLE  a dict (kv/dict.h) of hfield entries, each one allocation
 *                  holding field and value.
 *
 * A hash converts listpack -> hashtable once it has more than
 * hash-max-listpack-entries pairs or a field or value longer than
 * hash-max-listpack-value bytes; it never converts back (RESTORE and DEBUG
 * RELOAD choose the encoding afresh, as Redis's loading does). An empty hash
 * is never kept: the command that removes the last field deletes the key.
 *
 * Because a listpack hash lives inside its entry, every change may move the
 * entry (kv/object.h invariant 2): the helpers below take and return the
 * entry's address, and callers use the returned one.
 *
 * DUMP payload of a hash (after the type byte):
 *   varint pairs, then per pair: varint flen, field, varint vlen, value. */
#include "util/strutil.h"
#include "commands/commands.h"
#include "kv/hpack.h"
#include "util/mem.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashtable entries ------------------------------------------------------- */

typedef struct hfield {
    uint32_t flen;
    uint32_t vlen; /* value length; HF_TTL set: an expire time follows */
    char data[];   /* field, value, then (HF_TTL) the expire time: ms, i64, unaligned */
} hfield;

#define HF_TTL 0x80000000u
/* Latest absolute expire time a field may have (Redis's HFE_MAX_ABS_TIME_MSEC). */
#define HFE_MAX_MS ((int64_t)(0x0000FFFFFFFFFFFFLL >> 2))

static inline size_t hf_vlen(const hfield *h) {
    return h->vlen & ~HF_TTL;
}
static inline int64_t hf_expire(const hfield *h) {
    if (!(h->vlen & HF_TTL)) return -1;
    int64_t t;
    memcpy(&t, h->data + h->flen + hf_vlen(h), 8);
    return t;
}
static inline size_t hf_size(const hfield *h) {
    return sizeof(hfield) + h->flen + hf_vlen(h) + ((h->vlen & HF_TTL) ? 8 : 0);
}

static const void *hfield_key(const void *e, size_t *len) {
    const hfield *h = e;
    *len = h->flen;
    return h->data;
}

static const dict_type hfield_dict_type = {dict_hash_bytes, hfield_key, NULL};
/* The same table for a hash whose fields may carry expire times (its type
 * pointer is the mark: no other state says a hash has field TTLs). */
static const dict_type hfield_ttl_dict_type = {dict_hash_bytes, hfield_key, NULL};

/* A field entry; expire < 0: none. */
static hfield *hfield_new_ttl(const char *f, size_t fl, const char *v, size_t vl, int64_t expire) {
    hfield *h = xmalloc(sizeof(hfield) + fl + vl + (expire >= 0 ? 8 : 0));
    h->flen = (uint32_t)fl;
    h->vlen = (uint32_t)vl | (expire >= 0 ? HF_TTL : 0);
    memcpy(h->data, f, fl);
    if (vl) memcpy(h->data + fl, v, vl);
    if (expire >= 0) memcpy(h->data + fl + vl, &expire, 8);
    return h;
}

static hfield *hfield_new(const char *f, size_t fl, const char *v, size_t vl) {
    return hfield_new_ttl(f, fl, v, vl, -1);
}

static void hfield_free_cb(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

static inline void hfield_val(const hfield *h, hp_val *v) {
    v->s = h->data + h->flen;
    v->len = hf_vlen(h);
    v->ll = 0;
}

static inline void hfield_fld(const hfield *h, hp_val *v) {
    v->s = h->data;
    v->len = h->flen;
    v->ll = 0;
}

/* ---- varints for the DUMP payload ---------------------------------------------- */

/* ---- reading a hash (either encoding) ------------------------------------------------ */

static inline unsigned char *hp_of(const kobj *o) {
    return (unsigned char *)kobj_val(o);
}

static size_t hash_length(const kobj *o) {
    return o->enc == ENC_LISTPACK ? hp_count(hp_of(o)) : dict_size(kobj_ptr(o));
}

/* The value of field f: 1 and *v, or 0 when absent. */
static int hash_get(const kobj *o, const char *f, size_t fl, hp_val *v) {
    if (o->enc == ENC_LISTPACK) {
        unsigned char *p = hp_find(hp_of(o), f, fl);
        if (!p) return 0;
        hp_get(hp_next(p), v);
        return 1;
    }
    hfield *h = dict_find(kobj_ptr(o), f, fl);
    if (!h) return 0;
    hfield_val(h, v);
    return 1;
}

typedef struct hiter {
    int enc;
    unsigned char *p; /* listpack: the next field entry */
    dict_iter di;
} hiter;

static void hiter_init(hiter *it, kobj *o) {
    it->enc = o->enc;
    if (o->enc == ENC_LISTPACK)
        it->p = hp_first(hp_of(o));
    else
        dict_iter_init(&it->di, kobj_ptr(o));
}

static int hiter_next(hiter *it, hp_val *f, hp_val *v) {
    if (it->enc == ENC_LISTPACK) {
        if (!it->p) return 0;
        unsigned char *vp = hp_next(it->p);
        hp_get(it->p, f);
        hp_get(vp, v);
        it->p = hp_next(vp);
        return 1;
    }
    hfield *h = dict_iter_next(&it->di);
    if (!h) return 0;
    hfield_fld(h, f);
    hfield_val(h, v);
    return 1;
}

static void hiter_done(hiter *it) {
    if (it->enc != ENC_LISTPACK) dict_iter_done(&it->di);
}

static void reply_hval(client *c, const hp_val *v) {
    if (v->s)
        reply_bulk(c, v->s, v->len);
    else
        reply_bulk_ll(c, v->ll);
}

static size_t hval_strlen(const hp_val *v) {
    return v->s ? v->len : (size_t)ll_digits(v->ll);
}

/* ---- changing a hash ------------------------------------------------------------------ */

/* Redis keeps a listpack under 1 GiB (lpSafeToAdd). */
#define HP_SAFETY_SIZE (1UL << 30)

/* The hashtable form of the listpack hash o (same key, expire, LRU). */
static kobj *hash_convert(db *d, kobj *o) {
    unsigned char *hp = hp_of(o);
    dict *ht = dict_new(&hfield_dict_type);
    dict_reserve(ht, hp_count(hp));
    char fb[LONG_STR_SIZE], vb[LONG_STR_SIZE];
    for (unsigned char *p = hp_first(hp); p; p = hp_next(hp_next(p))) {
        hp_val f, v;
        size_t fl, vl;
        hp_get(p, &f);
        hp_get(hp_next(p), &v);
        const char *fs = hp_val_str(&f, fb, &fl), *vs = hp_val_str(&v, vb, &vl);
        dict_add(ht, hfield_new(fs, fl, vs, vl));
    }
    kobj *n = kobj_with_value(o, ENC_HASHTABLE, ht, 0);
    return db_replace(d, o, n);
}

/* Replaces oldsz bytes at offset off of o's hpack with n bytes of src. */
static kobj *hp_splice(db *d, kobj *o, size_t off, size_t oldsz, const unsigned char *src,
                       size_t n) {
    size_t len = o->vlen, nlen = len - oldsz + n;
    if (nlen > len) o = db_fit_value(d, o, nlen);
    unsigned char *b = hp_of(o);
    if (nlen != len) memmove(b + off + n, b + off + oldsz, len - off - oldsz);
    if (n) memcpy(b + off, src, n);
    o->vlen = (uint32_t)nlen;
    if (nlen < len) o = db_fit_value(d, o, nlen);
    return o;
}

/* Redis's hashTypeTryConversion: converts a listpack hash before arguments
 * argv[first..last] go in when one is too long for it. */
static kobj *hash_try_conversion(db *d, kobj *o, const resp_arg *argv, int first, int last) {
    if (o->enc != ENC_LISTPACK) return o;
    size_t sum = 0;
    for (int i = first; i <= last; i++) {
        if ((long long)argv[i].len > server_type_limits()->hash_max_listpack_value)
            return hash_convert(d, o);
        sum += argv[i].len;
    }
    if (o->vlen + sum > HP_SAFETY_SIZE) return hash_convert(d, o);
    return o;
}

/* Sets field f to v. *updated: 1 when f existed. The field's expire time
 * goes (HSET overwrites a field as SET does a key) unless keep_ttl
 * (HINCRBY and HINCRBYFLOAT change the value in place). Returns the entry. */
static kobj *hash_set_ex(db *d, kobj *o, const char *f, size_t fl, const char *v, size_t vl,
                         int *updated, int keep_ttl) {
    if (o->enc == ENC_LISTPACK && ((long long)fl > server_type_limits()->hash_max_listpack_value ||
                                   (long long)vl > server_type_limits()->hash_max_listpack_value))
        o = hash_convert(d, o);
    if (o->enc == ENC_LISTPACK) {
        unsigned char *hp = hp_of(o);
        unsigned char *p = hp_find(hp, f, fl);
        unsigned char stackbuf[256];
        size_t need = hp_enc_size(v, vl) + (p ? 0 : hp_enc_size(f, fl));
        unsigned char *tmp = need <= sizeof(stackbuf) ? stackbuf : xmalloc(need);
        size_t n = 0;
        if (p) {
            unsigned char *vp = hp_next(p);
            n = hp_encode(tmp, v, vl);
            o = hp_splice(d, o, (size_t)(vp - hp), hp_entry_size(vp), tmp, n);
            *updated = 1;
        } else {
            n = hp_encode(tmp, f, fl);
            n += hp_encode(tmp + n, v, vl);
            uint32_t count = hp_count(hp);
            o = hp_splice(d, o, o->vlen - 1, 0, tmp, n);
            hp_set_count(hp_of(o), count + 1);
            *updated = 0;
            if ((long long)count + 1 > server_type_limits()->hash_max_listpack_entries)
                o = hash_convert(d, o);
        }
        if (tmp != stackbuf) xfree(tmp);
        return o;
    }
    dict *ht = kobj_ptr(o);
    hfield *old = dict_find(ht, f, fl);
    hfield *n = hfield_new_ttl(f, fl, v, vl, old && keep_ttl ? hf_expire(old) : -1);
    if (old) {
        dict_replace(ht, old, n);
        xfree(old);
        *updated = 1;
    } else {
        dict_add(ht, n);
        *updated = 0;
    }
    return o;
}

static kobj *hash_set(db *d, kobj *o, const char *f, size_t fl, const char *v, size_t vl,
                      int *updated) {
    return hash_set_ex(d, o, f, fl, v, vl, updated, 0);
}

/* Deletes field f; *deleted says whether it was there. Returns the entry. */
static kobj *hash_delete(db *d, kobj *o, const char *f, size_t fl, int *deleted) {
    *deleted = 0;
    if (o->enc == ENC_LISTPACK) {
        unsigned char *hp = hp_of(o);
        unsigned char *p = hp_find(hp, f, fl);
        if (!p) return o;
        uint32_t count = hp_count(hp);
        size_t sz = hp_entry_size(p) + hp_entry_size(hp_next(p));
        o = hp_splice(d, o, (size_t)(p - hp), sz, NULL, 0);
        hp_set_count(hp_of(o), count - 1);
        *deleted = 1;
        return o;
    }
    hfield *h = dict_remove(kobj_ptr(o), f, fl);
    if (h) {
        xfree(h);
        *deleted = 1;
    }
    return o;
}

/* An empty listpack hash under key, added to the db. */
static kobj *hash_create(db *d, const resp_arg *key) {
    unsigned char hp[HP_EMPTY_SIZE];
    hp_init(hp);
    kobj *o = kobj_new_inline(OBJ_HASH, ENC_LISTPACK, key->p, key->len, hp, sizeof(hp), sizeof(hp));
    db_add(d, o);
    return o;
}

static kobj *hash_fields_expire(db *d, kobj *o);

/* hashTypeLookupWriteOrCreate: the hash at key, created when missing; NULL
 * (WRONGTYPE replied) when the key holds another type. */
static kobj *hash_lookup_write_or_create(client *c, const resp_arg *key) {
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_HASH, &err);
    if (err) return NULL;
    if (o) o = hash_fields_expire(c->db, o);
    return o ? o : hash_create(c->db, key);
}

/* ---- field expire times (HEXPIRE & co) ---------------------------------------------------
 *
 * A field's expire time lives in its hfield (HF_TTL), so the value carries
 * its TTLs wherever it goes (RENAME, MOVE, COPY, DUMP/RESTORE). A hash gets
 * them only in the hashtable encoding, with the table type
 * hfield_ttl_dict_type (a listpack hash converts when its first field gets a
 * TTL, and never converts back).
 *
 * Each db's field_expires indexes such hashes by key, with an earliest
 * expire time that is never later than the real earliest one (setting a TTL
 * lowers it; removing one leaves it): lazy expiry scans a hash only when
 * that time has passed, and the active cycle samples the index. An entry may
 * outlive its key (DEL does not look here): the next scan finds no TTL and
 * drops it. A hash that arrives under a new key (RENAME, MOVE, COPY,
 * RESTORE) is indexed by hash_adopt_field_ttls.
 *
 * Expired means now > expire time, as for keys. The hash commands expire a
 * hash's due fields before they read or change it (hexpired event); when
 * the last field goes, the key goes (del event). Field TTLs on a mapped hash are
 * refused (persist's command check): its row would lose the field. */

typedef struct fe_entry {
    int64_t min;
    uint32_t klen;
    char key[];
} fe_entry;

static const void *fe_key(const void *e, size_t *len) {
    const fe_entry *x = e;
    *len = x->klen;
    return x->key;
}
static const dict_type fe_dict_type = {dict_hash_bytes, fe_key, NULL};

static int hash_has_ttls(const kobj *o) {
    return o->enc == ENC_HASHTABLE && ((dict *)kobj_ptr(o))->type == &hfield_ttl_dict_type;
}

/* Lowers (or creates) the index entry of key to at most when. */
static void fe_note(db *d, const char *key, size_t klen, int64_t when) {
    if (!d->field_expires) d->field_expires = dict_new(&fe_dict_type);
    fe_entry *e = dict_find(d->field_expires, key, klen);
    if (e) {
        if (when < e->min) e->min = when;
        return;
    }
    e = xmalloc(sizeof(fe_entry) + klen);
    e->min = when;
    e->klen = (uint32_t)klen;
    memcpy(e->key, key, klen);
    dict_add(d->field_expires, e);
}

static void fe_drop(db *d, const char *key, size_t klen) {
    if (!d->field_expires) return;
    fe_entry *e = dict_remove(d->field_expires, key, klen);
    xfree(e);
}

/* The earliest expire time among o's fields, or -1 when none has one. */
static int64_t hash_min_ttl(const kobj *o) {
    int64_t min = -1;
    dict_iter it;
    dict_iter_init(&it, kobj_ptr(o));
    hfield *h;
    while ((h = dict_iter_next(&it))) {
        int64_t t = hf_expire(h);
        if (t >= 0 && (min < 0 || t < min)) min = t;
    }
    dict_iter_done(&it);
    return min;
}

void hash_adopt_field_ttls(db *d, kobj *o) {
    if (o->type != OBJ_HASH || !hash_has_ttls(o)) return;
    int64_t min = hash_min_ttl(o);
    if (min >= 0) fe_note(d, kobj_key(o), o->klen, min);
}

/* Makes o able to hold field TTLs (hashtable encoding, TTL table type). */
static kobj *hash_make_ttl_capable(db *d, kobj *o) {
    if (o->enc == ENC_LISTPACK) o = hash_convert(d, o);
    ((dict *)kobj_ptr(o))->type = &hfield_ttl_dict_type; /* same hashing: no rehash */
    return o;
}

/* Gives field h of o the expire time when (-1: none); returns the new entry. */
static hfield *hfield_set_expire(kobj *o, hfield *h, int64_t when) {
    hfield *n = hfield_new_ttl(h->data, h->flen, h->data + h->flen, hf_vlen(h), when);
    dict_replace(kobj_ptr(o), h, n);
    xfree(h);
    return n;
}

/* Has a field of o passed its expire time? (kv_hook.fields_due) */
static int hash_fields_due(db *d, kobj *o) {
    if (o->type != OBJ_HASH || !hash_has_ttls(o)) return 0;
    int64_t min = hash_min_ttl(o);
    return min >= 0 && kv_now_ms > min;
}

/* Deletes o's due fields when its earliest time has passed. Returns o, or
 * NULL when the last field went and the key with it. */
static kobj *hash_fields_expire(db *d, kobj *o) {
    if (!hash_has_ttls(o)) return o;
    const char *key = kobj_key(o);
    size_t klen = o->klen;
    fe_entry *e = d->field_expires ? dict_find(d->field_expires, key, klen) : NULL;
    if (!e) { /* not indexed yet (a value that came under this key) */
        int64_t min = hash_min_ttl(o);
        if (min < 0) return o;
        fe_note(d, key, klen, min);
        e = dict_find(d->field_expires, key, klen);
    }
    if (!(kv_now_ms > e->min)) return o;
    int policy = kv_hook.fields_policy ? kv_hook.fields_policy(d, key, klen) : FIELDS_EXPIRE;
    if (policy == FIELDS_KEEP) return o; /* again once its value is stored */
    if (policy == FIELDS_DROP_KEY) {
        char kb[256], *k = klen <= sizeof(kb) ? kb : xmalloc(klen);
        memcpy(k, key, klen);
        fe_drop(d, k, klen);
        db_delete(d, k, klen);
        notify_keyspace_event(NOTIFY_HASH, "hexpired", k, klen, d->id);
        signal_modified_key(NULL, d, k, klen); /* the cache's own change: the row stays */
        if (k != kb) xfree(k);
        return NULL;
    }
    dict *ht = kobj_ptr(o);
    int64_t min = -1;
    size_t gone = 0;
    dict_iter it;
    dict_iter_init(&it, ht);
    hfield *h;
    while ((h = dict_iter_next(&it))) {
        int64_t t = hf_expire(h);
        if (t < 0) continue;
        if (kv_now_ms > t) {
            dict_iter_delete(&it);
            xfree(h);
            gone++;
        } else if (min < 0 || t < min) {
            min = t;
        }
    }
    dict_iter_done(&it);
    char kbuf[256], *k = klen <= sizeof(kbuf) ? kbuf : xmalloc(klen);
    memcpy(k, key, klen); /* the key's bytes go with the entry */
    if (min < 0)
        fe_drop(d, k, klen);
    else if (e)
        e->min = min;
    else
        fe_note(d, k, klen, min);
    if (gone) {
        int empty = dict_size(ht) == 0;
        notify_keyspace_event(NOTIFY_HASH, "hexpired", k, klen, d->id);
        if (empty) {
            db_delete(d, k, klen);
            notify_keyspace_event(NOTIFY_GENERIC, "del", k, klen, d->id);
            o = NULL;
        }
        signal_modified_key(NULL, d, k, klen); /* no client: the cache's own change */
        server_add_dirty((long long)gone);
    }
    if (k != kbuf) xfree(k);
    return o;
}

static size_t fields_expire_step(db *d, size_t samples) {
    fe_entry *pick[64];
    if (samples > 64) samples = 64;
    size_t n = dict_sample(d->field_expires, (void **)pick, samples), gone = 0;
    char kbuf[256];
    for (size_t i = 0; i < n; i++) {
        if (!(kv_now_ms > pick[i]->min)) continue;
        size_t klen = pick[i]->klen;
        char *k = klen <= sizeof(kbuf) ? kbuf : xmalloc(klen);
        memcpy(k, pick[i]->key, klen);
        kobj *o = db_find(d, k, klen);
        if (!o || o->type != OBJ_HASH || !hash_has_ttls(o)) {
            fe_drop(d, k, klen); /* the key went, or holds another value now */
        } else {
            size_t before = dict_size(kobj_ptr(o));
            kobj *left = hash_fields_expire(d, o);
            gone += before - (left ? dict_size(kobj_ptr(left)) : 0);
        }
        if (k != kbuf) xfree(k);
    }
    return gone;
}

/* The hash at key for reading / writing, its due fields expired first. */
static kobj *hash_read(client *c, const resp_arg *key, int *err) {
    kobj *o = lookup_read_or_reply(c, key, OBJ_HASH, err);
    return o ? hash_fields_expire(c->db, o) : NULL;
}
static kobj *hash_write(client *c, const resp_arg *key, int *err) {
    kobj *o = lookup_write_typed(c, key, OBJ_HASH, err);
    return o ? hash_fields_expire(c->db, o) : NULL;
}

/* ---- type ops -------------------------------------------------------------------------- */

static void hash_free_value(void *ptr, int enc) {
    if (enc == ENC_HASHTABLE) dict_free(ptr, hfield_free_cb, NULL);
}

static void *hash_dup_value(const void *ptr, int enc) {
    if (enc != ENC_HASHTABLE) {
        size_t n = hp_bytes(ptr);
        void *c = xmalloc(n);
        memcpy(c, ptr, n);
        return c;
    }
    dict *src = (dict *)ptr, *dst = dict_new(src->type);
    dict_reserve(dst, dict_size(src));
    dict_iter it;
    dict_iter_init(&it, src);
    hfield *h;
    while ((h = dict_iter_next(&it))) {
        size_t n = hf_size(h);
        hfield *copy = xmalloc(n);
        memcpy(copy, h, n);
        dict_add(dst, copy);
    }
    dict_iter_done(&it);
    return dst;
}

static size_t hash_mem_value(const void *ptr, int enc, size_t samples) {
    if (enc != ENC_HASHTABLE) return 0; /* inline: counted with the entry */
    dict *d = (dict *)ptr;
    size_t n = xmem_usable(d) + dict_mem(d), seen = 0, bytes = 0;
    dict_iter it;
    dict_iter_init(&it, d);
    hfield *h;
    while (seen < samples && (h = dict_iter_next(&it))) {
        bytes += xmem_usable(h);
        seen++;
    }
    dict_iter_done(&it);
    if (seen) n += (size_t)((double)bytes / (double)seen * (double)dict_size(d));
    return n;
}

static void hash_each(const void *ptr, int enc,
                      void (*fn)(void *ctx, const char *a, size_t alen, const char *b, size_t blen),
                      void *ctx) {
    if (enc == ENC_HASHTABLE) {
        dict_iter it;
        dict_iter_init(&it, (dict *)ptr);
        hfield *h;
        while ((h = dict_iter_next(&it))) fn(ctx, h->data, h->flen, h->data + h->flen, hf_vlen(h));
        dict_iter_done(&it);
        return;
    }
    char fb[LONG_STR_SIZE], vb[LONG_STR_SIZE];
    for (unsigned char *p = hp_first(ptr); p; p = hp_next(hp_next(p))) {
        hp_val f, v;
        size_t fl, vl;
        hp_get(p, &f);
        hp_get(hp_next(p), &v);
        const char *fs = hp_val_str(&f, fb, &fl), *vs = hp_val_str(&v, vb, &vl);
        fn(ctx, fs, fl, vs, vl);
    }
}

typedef struct ser_ctx {
    sbuf *b;
} ser_ctx;

static void ser_pair(void *ctx, const char *a, size_t alen, const char *b, size_t blen) {
    sbuf *out = ((ser_ctx *)ctx)->b;
    sbuf_put_varint(out, alen);
    sbuf_append(out, a, alen);
    sbuf_put_varint(out, blen);
    sbuf_append(out, b, blen);
}

static void hash_serialize(const void *ptr, int enc, sbuf *out) {
    size_t n = enc == ENC_HASHTABLE ? dict_size((const dict *)ptr) : hp_count(ptr);
    sbuf_put_varint(out, n);
    ser_ctx ctx = {out};
    hash_each(ptr, enc, ser_pair, &ctx);
    if (enc != ENC_HASHTABLE || ((const dict *)ptr)->type != &hfield_ttl_dict_type) return;
    /* the fields' expire times follow the pairs (none: nothing follows) */
    size_t m = 0;
    dict_iter it;
    dict_iter_init(&it, (dict *)ptr);
    hfield *h;
    while ((h = dict_iter_next(&it))) m += hf_expire(h) >= 0;
    dict_iter_done(&it);
    if (!m) return;
    sbuf_put_varint(out, m);
    dict_iter_init(&it, (dict *)ptr);
    while ((h = dict_iter_next(&it))) {
        if (hf_expire(h) < 0) continue;
        sbuf_put_varint(out, h->flen);
        sbuf_append(out, h->data, h->flen);
        sbuf_put_varint(out, (uint64_t)hf_expire(h));
    }
    dict_iter_done(&it);
}

/* The expire-time trailer of a DUMP payload (from q to end) applied to the
 * table ht; 0 when malformed or naming a field ht lacks. */
static int apply_ttl_trailer(dict *ht, const char *q, const char *end) {
    uint64_t m;
    if (!varint_get(&q, end, &m) || m == 0 || m > dict_size(ht)) return 0;
    ht->type = &hfield_ttl_dict_type;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t fl, t;
        if (!varint_get(&q, end, &fl) || fl > (uint64_t)(end - q)) return 0;
        const char *f = q;
        q += fl;
        if (!varint_get(&q, end, &t) || t > (uint64_t)HFE_MAX_MS) return 0;
        hfield *h = dict_find(ht, f, fl);
        if (!h || hf_expire(h) >= 0) return 0;
        hfield *n = hfield_new_ttl(h->data, h->flen, h->data + h->flen, hf_vlen(h), (int64_t)t);
        dict_replace(ht, h, n);
        xfree(h);
    }
    return q == end;
}

/* Builds a hash value from a DUMP payload with the encoding the current
 * limits give (NULL when malformed, or a field repeats). A payload with
 * field expire times gives a hashtable. */
static void *hash_deserialize(const char *p, size_t len, int *enc) {
    const char *end = p + len;
    uint64_t n;
    if (!varint_get(&p, end, &n) || n == 0 || n > len) return NULL;
    /* first pass: bounds, and the longest string */
    const char *q = p;
    uint64_t maxlen = 0;
    for (uint64_t i = 0; i < 2 * n; i++) {
        uint64_t l;
        if (!varint_get(&q, end, &l) || l > (uint64_t)(end - q)) return NULL;
        if (l > maxlen) maxlen = l;
        q += l;
    }
    const char *trailer = q != end ? q : NULL;
    int small = !trailer && (long long)n <= server_type_limits()->hash_max_listpack_entries &&
                (long long)maxlen <= server_type_limits()->hash_max_listpack_value &&
                len < HP_SAFETY_SIZE;
    /* a dict of the fields catches repeats in O(n) (hfields point into the payload
     * only while building the listpack) */
    dict *ht = dict_new(&hfield_dict_type);
    dict_reserve(ht, n);
    unsigned char *hp = NULL;
    size_t hplen = HP_EMPTY_SIZE;
    if (small) {
        /* each string encodes to at most 5 + its length bytes */
        hp = xmalloc(HP_EMPTY_SIZE + len + 10 * n);
        hp_init(hp);
    }
    int ok = 1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t fl = 0, vl = 0; /* bounds were checked by the first pass */
        varint_get(&p, end, &fl);
        const char *f = p;
        p += fl;
        varint_get(&p, end, &vl);
        const char *v = p;
        p += vl;
        if (dict_find(ht, f, fl)) {
            ok = 0;
            break;
        }
        dict_add(ht, hfield_new(f, fl, v, vl));
        if (small) {
            hplen--; /* over the terminator */
            hplen += hp_encode(hp + hplen, f, fl);
            hplen += hp_encode(hp + hplen, v, vl);
            hp[hplen++] = HP_END;
        }
    }
    if (!ok) {
        dict_free(ht, hfield_free_cb, NULL);
        xfree(hp);
        return NULL;
    }
    if (small) {
        dict_free(ht, hfield_free_cb, NULL);
        hp_set_count(hp, (uint32_t)n);
        *enc = ENC_LISTPACK;
        return xrealloc(hp, hplen);
    }
    if (trailer && !apply_ttl_trailer(ht, trailer, end)) {
        dict_free(ht, hfield_free_cb, NULL);
        return NULL;
    }
    *enc = ENC_HASHTABLE;
    return ht;
}

static size_t hash_inline_size(const void *ptr, int enc) {
    return enc == ENC_LISTPACK ? hp_bytes(ptr) : 0;
}

static const kobj_type_ops hash_ops = {
    .name = "hash",
    .free_value = hash_free_value,
    .dup_value = hash_dup_value,
    .mem_value = hash_mem_value,
    .serialize = hash_serialize,
    .deserialize = hash_deserialize,
    .inline_size = hash_inline_size,
    .each = hash_each,
};

/* SORT's "key->field" patterns read one field. */
static int hash_sort_field(kobj *o, const char *name, size_t nlen, sbuf *out) {
    hp_val v;
    if (!hash_get(o, name, nlen, &v)) return 0;
    if (v.s) {
        sbuf_append(out, v.s, v.len);
    } else {
        char buf[32];
        int n = ll_to_str(buf, v.ll);
        sbuf_append(out, buf, (size_t)n);
    }
    return 1;
}

static const sort_type_ops hash_sort_ops = {.field = hash_sort_field};

__attribute__((constructor)) static void hash_register(void) {
    kv_hook.fields_expire_step = fields_expire_step;
    kv_hook.fields_due = hash_fields_due;
    kobj_register_type(OBJ_HASH, &hash_ops);
    sort_register_type(OBJ_HASH, &hash_sort_ops);
}

/* ---- commands ------------------------------------------------------------------------------ */

static void hset_generic(client *c, int is_hmset) {
    if (c->argc % 2 == 1) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
        return;
    }
    const resp_arg *key = &c->argv[1];
    kobj *o = hash_lookup_write_or_create(c, key);
    if (!o) return;
    o = hash_try_conversion(c->db, o, c->argv, 2, c->argc - 1);
    if (o->enc == ENC_LISTPACK) {
        /* room for every pair at once: one move of the entry at most */
        size_t extra = 0;
        for (int i = 2; i < c->argc; i++) extra += hp_enc_size(c->argv[i].p, c->argv[i].len);
        o = db_fit_value(c->db, o, o->vlen + extra);
    }
    long long created = 0;
    for (int i = 2; i < c->argc; i += 2) {
        int updated;
        o = hash_set(c->db, o, c->argv[i].p, c->argv[i].len, c->argv[i + 1].p, c->argv[i + 1].len,
                     &updated);
        created += !updated;
    }
    if (o->enc == ENC_LISTPACK) db_fit_value(c->db, o, o->vlen);
    if (is_hmset)
        reply_ok(c);
    else
        reply_int(c, created);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hset", key->p, key->len, c->db->id);
    server_add_dirty((c->argc - 2) / 2);
}

void hset_command(client *c) {
    hset_generic(c, 0);
}
void hmset_command(client *c) {
    hset_generic(c, 1);
}

void hsetnx_command(client *c) {
    const resp_arg *key = &c->argv[1];
    kobj *o = hash_lookup_write_or_create(c, key);
    if (!o) return;
    hp_val v;
    if (hash_get(o, c->argv[2].p, c->argv[2].len, &v)) {
        reply_int(c, 0);
        return;
    }
    o = hash_try_conversion(c->db, o, c->argv, 2, 3);
    int updated;
    hash_set(c->db, o, c->argv[2].p, c->argv[2].len, c->argv[3].p, c->argv[3].len, &updated);
    reply_int(c, 1);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hset", key->p, key->len, c->db->id);
    server_add_dirty(1);
}

void hget_command(client *c) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    hp_val v;
    if (o && hash_get(o, c->argv[2].p, c->argv[2].len, &v))
        reply_hval(c, &v);
    else
        reply_null(c);
}

void hmget_command(client *c) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        hp_val v;
        if (o && hash_get(o, c->argv[i].p, c->argv[i].len, &v))
            reply_hval(c, &v);
        else
            reply_null(c);
    }
}

void hdel_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = hash_write(c, key, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    int removed = 0;
    for (int i = 2; i < c->argc; i++) {
        int del;
        o = hash_delete(c->db, o, c->argv[i].p, c->argv[i].len, &del);
        if (!del) continue;
        deleted++;
        if (hash_length(o) == 0) {
            db_delete(c->db, key->p, key->len);
            removed = 1;
            break;
        }
    }
    if (deleted) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_HASH, "hdel", key->p, key->len, c->db->id);
        if (removed) notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
        server_add_dirty(deleted);
    }
    reply_int(c, deleted);
}

void hlen_command(client *c) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    reply_int(c, o ? (long long)hash_length(o) : 0);
}

void hstrlen_command(client *c) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    hp_val v;
    reply_int(c,
              o && hash_get(o, c->argv[2].p, c->argv[2].len, &v) ? (long long)hval_strlen(&v) : 0);
}

void hexists_command(client *c) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    hp_val v;
    reply_int(c, o && hash_get(o, c->argv[2].p, c->argv[2].len, &v));
}

enum { H_KEYS = 1, H_VALS = 2 };

static void hgetall_generic(client *c, int what) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    long n = o ? (long)hash_length(o) : 0;
    if (what == (H_KEYS | H_VALS))
        reply_map(c, n);
    else
        reply_array(c, n);
    if (!o) return;
    hiter it;
    hp_val f, v;
    hiter_init(&it, o);
    while (hiter_next(&it, &f, &v)) {
        if (what & H_KEYS) reply_hval(c, &f);
        if (what & H_VALS) reply_hval(c, &v);
    }
    hiter_done(&it);
}

void hkeys_command(client *c) {
    hgetall_generic(c, H_KEYS);
}
void hvals_command(client *c) {
    hgetall_generic(c, H_VALS);
}
void hgetall_command(client *c) {
    hgetall_generic(c, H_KEYS | H_VALS);
}

void hincrby_command(client *c) {
    const resp_arg *key = &c->argv[1], *field = &c->argv[2];
    long long incr, value = 0;
    if (arg_ll_or_reply(c, &c->argv[3], &incr, NULL) != OK) return;
    kobj *o = hash_lookup_write_or_create(c, key);
    if (!o) return;
    hp_val v;
    if (hash_get(o, field->p, field->len, &v)) {
        if (v.s && !str_to_ll(v.s, v.len, &value)) {
            reply_error(c, "ERR hash value is not an integer");
            return;
        }
        if (!v.s) value = v.ll;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char buf[LONG_STR_SIZE];
    int n = ll_to_str(buf, value);
    int updated;
    hash_set_ex(c->db, o, field->p, field->len, buf, (size_t)n, &updated, 1);
    reply_int(c, value);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hincrby", key->p, key->len, c->db->id);
    server_add_dirty(1);
}

void hincrbyfloat_command(client *c) {
    const resp_arg *key = &c->argv[1], *field = &c->argv[2];
    long double incr, value = 0;
    if (arg_ldouble_or_reply(c, &c->argv[3], &incr, NULL) != OK) return;
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    kobj *o = hash_lookup_write_or_create(c, key);
    if (!o) return;
    hp_val v;
    if (hash_get(o, field->p, field->len, &v)) {
        if (v.s && !str_to_ldouble(v.s, v.len, &value)) {
            reply_error(c, "ERR hash value is not a float");
            return;
        }
        if (!v.s) value = (long double)v.ll;
    }
    value += incr;
    char buf[MAX_LONG_DOUBLE_CHARS];
    int n;
    if (isnan(value) || isinf(value) || (n = ldouble_to_str(buf, sizeof(buf), value)) == 0) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    int updated;
    hash_set_ex(c->db, o, field->p, field->len, buf, (size_t)n, &updated, 1);
    reply_bulk(c, buf, (size_t)n);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hincrbyfloat", key->p, key->len, c->db->id);
    server_add_dirty(1);
}

/* ---- HRANDFIELD ------------------------------------------------------------------------------ */

static uint64_t rand64(void) {
    return (uint64_t)random() << 33 ^ (uint64_t)random() << 11 ^ (uint64_t)random();
}

/* Every pair of the hash, in iteration order (pointers into it: valid until it changes). */
typedef struct hpairs {
    hp_val *f, *v;
    size_t n;
} hpairs;

static void hpairs_load(kobj *o, hpairs *ps) {
    size_t n = hash_length(o);
    ps->f = xmalloc(sizeof(hp_val) * (n ? n : 1));
    ps->v = xmalloc(sizeof(hp_val) * (n ? n : 1));
    ps->n = 0;
    hiter it;
    hiter_init(&it, o);
    while (ps->n < n && hiter_next(&it, &ps->f[ps->n], &ps->v[ps->n])) ps->n++;
    hiter_done(&it);
}

static void hpairs_free(hpairs *ps) {
    xfree(ps->f);
    xfree(ps->v);
}

static void reply_pair(client *c, const hp_val *f, const hp_val *v, int withvalues) {
    if (withvalues && c->resp > 2) reply_array(c, 2);
    reply_hval(c, f);
    if (withvalues) reply_hval(c, v);
}

/* A random pair of a hashtable hash. */
static void ht_random_pair(kobj *o, hp_val *f, hp_val *v) {
    hfield *h = dict_random(kobj_ptr(o));
    hfield_fld(h, f);
    hfield_val(h, v);
}

#define HRANDFIELD_SUB_STRATEGY_MUL 3

static void hrandfield_with_count(client *c, long long l, int withvalues) {
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    if (!o) {
        reply_empty_array(c);
        return;
    }
    size_t size = hash_length(o);
    int uniq = l >= 0;
    unsigned long long count = l >= 0 ? (unsigned long long)l : (unsigned long long)(-l);
    if (count == 0) {
        reply_empty_array(c);
        return;
    }
    /* CASE 1: negative count (repeats allowed) or a single one: independent picks */
    if (!uniq || count == 1) {
        reply_array(c, (long)(withvalues && c->resp == 2 ? count * 2 : count));
        if (o->enc == ENC_HASHTABLE) {
            while (count-- && !(c->flags & CLIENT_CLOSE_ASAP)) {
                hp_val f, v;
                ht_random_pair(o, &f, &v);
                reply_pair(c, &f, &v, withvalues);
            }
        } else {
            hpairs ps;
            hpairs_load(o, &ps);
            while (count-- && !(c->flags & CLIENT_CLOSE_ASAP)) {
                size_t i = (size_t)(rand64() % ps.n);
                reply_pair(c, &ps.f[i], &ps.v[i], withvalues);
            }
            hpairs_free(&ps);
        }
        return;
    }
    size_t reply_n = count < size ? (size_t)count : size;
    reply_array(c, (long)(withvalues && c->resp == 2 ? reply_n * 2 : reply_n));
    /* CASE 2: the whole hash */
    if (count >= size) {
        hiter it;
        hp_val f, v;
        hiter_init(&it, o);
        while (hiter_next(&it, &f, &v)) reply_pair(c, &f, &v, withvalues);
        hiter_done(&it);
        return;
    }
    /* CASE 3: count close to the size: drop random pairs from a copy of all */
    if (count * HRANDFIELD_SUB_STRATEGY_MUL > size || o->enc == ENC_LISTPACK) {
        hpairs ps;
        hpairs_load(o, &ps);
        if (count * HRANDFIELD_SUB_STRATEGY_MUL > size) {
            while (ps.n > count) {
                size_t i = (size_t)(rand64() % ps.n);
                ps.n--;
                ps.f[i] = ps.f[ps.n];
                ps.v[i] = ps.v[ps.n];
            }
            for (size_t i = 0; i < ps.n; i++) reply_pair(c, &ps.f[i], &ps.v[i], withvalues);
        } else {
            /* CASE 4, listpack: a uniform sample in order (selection sampling) */
            size_t need = (size_t)count;
            for (size_t i = 0; i < ps.n && need; i++) {
                if (rand64() % (ps.n - i) < need) {
                    reply_pair(c, &ps.f[i], &ps.v[i], withvalues);
                    need--;
                }
            }
        }
        hpairs_free(&ps);
        return;
    }
    /* CASE 4, hashtable: random picks, repeats dropped */
    dict *seen = dict_new(&hfield_dict_type);
    dict_reserve(seen, (size_t)count);
    size_t added = 0;
    while (added < count) {
        hfield *h = dict_random(kobj_ptr(o));
        if (dict_find(seen, h->data, h->flen)) continue;
        dict_add(seen, h);
        added++;
        hp_val f, v;
        hfield_fld(h, &f);
        hfield_val(h, &v);
        reply_pair(c, &f, &v, withvalues);
    }
    dict_free(seen, NULL, NULL);
}

void hrandfield_command(client *c) {
    if (c->argc >= 3) {
        long long l;
        int withvalues;
        if (rand_count_args_or_reply(c, "withvalues", &l, &withvalues) == OK)
            hrandfield_with_count(c, l, withvalues);
        return;
    }
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    if (!o) {
        reply_null(c);
        return;
    }
    hp_val f, v;
    if (o->enc == ENC_HASHTABLE) {
        ht_random_pair(o, &f, &v);
    } else {
        size_t i = (size_t)(rand64() % hash_length(o));
        unsigned char *p = hp_first(hp_of(o));
        while (i--) p = hp_next(hp_next(p));
        hp_get(p, &f);
    }
    reply_hval(c, &f);
}

/* ---- HSCAN --------------------------------------------------------------------------------- */

typedef struct hscan_acc {
    sbuf bytes; /* field, value, field, value... */
    size_t *lens;
    size_t n, cap;
} hscan_acc;

static void acc_push(hscan_acc *a, const char *s, size_t len) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->lens = xrealloc(a->lens, sizeof(size_t) * a->cap);
    }
    sbuf_append(&a->bytes, s, len);
    a->lens[a->n++] = len;
}

static void hscan_collect(void *ctx, void *e) {
    hfield *h = e;
    acc_push(ctx, h->data, h->flen);
    acc_push(ctx, h->data + h->flen, hf_vlen(h));
}

void hscan_command(client *c) {
    uint64_t cursor;
    if (scan_cursor_or_reply(c, &c->argv[2], &cursor) != OK) return;
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    if (!o) {
        reply_array(c, 2);
        reply_bulk_cstr(c, "0");
        reply_empty_array(c);
        return;
    }
    scan_opts opt;
    if (scan_options_or_reply(c, 3, 0, &opt) != OK) return;
    hscan_acc acc = {SBUF_INIT, NULL, 0, 0};
    if (o->enc == ENC_HASHTABLE) {
        long long maxiter = opt.count * 10;
        do {
            cursor = dict_scan(kobj_ptr(o), cursor, hscan_collect, &acc);
        } while (cursor && maxiter-- && acc.n < (size_t)opt.count);
    } else {
        hiter it;
        hp_val f, v;
        char fb[LONG_STR_SIZE], vb[LONG_STR_SIZE];
        hiter_init(&it, o);
        while (hiter_next(&it, &f, &v)) {
            size_t fl, vl;
            const char *fs = hp_val_str(&f, fb, &fl), *vs = hp_val_str(&v, vb, &vl);
            acc_push(&acc, fs, fl);
            acc_push(&acc, vs, vl);
        }
        hiter_done(&it);
        cursor = 0;
    }
    reply_array(c, 2);
    char buf[LONG_STR_SIZE];
    reply_bulk(c, buf, (size_t)ull_to_str(buf, cursor));
    void *h = reply_defer_len(c);
    long n = 0;
    size_t off = 0;
    for (size_t i = 0; i + 1 < acc.n; i += 2) {
        const char *f = acc.bytes.p + off, *v = f + acc.lens[i];
        off += acc.lens[i] + acc.lens[i + 1];
        if (!scan_matches(&opt, f, acc.lens[i])) continue;
        reply_bulk(c, f, acc.lens[i]);
        reply_bulk(c, v, acc.lens[i + 1]);
        n += 2;
    }
    reply_set_deferred_array(c, h, n);
    sbuf_free(&acc.bytes);
    xfree(acc.lens);
}

/* ---- field expire times: HEXPIRE, HTTL, HPERSIST, HGETEX, HSETEX, HGETDEL ----------- */

enum { HFE_NO_FIELD = -2, HFE_NO_TTL = -1, HFE_NOT_MET = 0, HFE_OK = 1, HFE_DELETED = 2 };
enum { COND_NONE = 0, COND_NX, COND_XX, COND_GT, COND_LT };

/* "FIELDS numfields f1 ..." at argv[at] running to the last argument (each
 * field `per` arguments wide): the index of the first field, or -1 with the
 * error replied. numerr: the text for a bad count. */
static int fields_at_or_reply(client *c, int at, int per, const char *numerr, long long *n) {
    if (at >= c->argc || !arg_is(&c->argv[at], "fields")) {
        reply_error(c, "ERR Mandatory argument FIELDS is missing or not at the right position");
        return -1;
    }
    if (at + 1 >= c->argc || !str_to_ll(c->argv[at + 1].p, c->argv[at + 1].len, n) || *n <= 0) {
        reply_error(c, numerr);
        return -1;
    }
    if (*n > (c->argc - at - 2) / per || *n * per != c->argc - at - 2) {
        reply_error(c, "ERR The `numfields` parameter must match the number of arguments");
        return -1;
    }
    return at + 2;
}

/* Does a field whose expire time is prev (-1: none) take `when` under cond? */
static int cond_met(int cond, int64_t prev, int64_t when) {
    if (prev < 0) return cond != COND_XX && cond != COND_GT;
    if (cond == COND_NX) return 0;
    if (cond == COND_GT) return when > prev;
    if (cond == COND_LT) return when < prev;
    return 1;
}

/* After fields of key were deleted by an expire time in the past: the event,
 * and the key when it is empty now. Returns 1 when the key went. */
static int after_fields_gone(client *c, const resp_arg *key, kobj *o, long long gone) {
    if (!gone) return 0;
    notify_keyspace_event(NOTIFY_HASH, "hexpired", key->p, key->len, c->db->id);
    if (hash_length(o) == 0) {
        db_delete(c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
        return 1;
    }
    return 0;
}

/* HEXPIRE / HPEXPIRE / HEXPIREAT / HPEXPIREAT key time [NX|XX|GT|LT] FIELDS n f... */
static void hexpire_generic(client *c, int64_t unit_ms, int absolute) {
    const resp_arg *key = &c->argv[1];
    long long t;
    if (arg_ll_or_reply(c, &c->argv[2], &t, NULL) != OK) return;
    if (t < 0) {
        reply_error(c, "ERR invalid expire time, must be >= 0");
        return;
    }
    int64_t base = absolute ? 0 : kv_now_ms;
    if ((unit_ms == 1000 && t > HFE_MAX_MS / 1000) || t * unit_ms > HFE_MAX_MS - base) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
        return;
    }
    int64_t when = base + t * unit_ms;
    int at = 3, cond = COND_NONE;
    static const char *const conds[] = {NULL, "nx", "xx", "gt", "lt"};
    for (int i = 1; i <= 4 && at < c->argc; i++)
        if (arg_is(&c->argv[at], conds[i])) {
            cond = i;
            at++;
            break;
        }
    long long n;
    int first =
        fields_at_or_reply(c, at, 1, "ERR Parameter `numFields` should be greater than 0", &n);
    if (first < 0) return;
    int err;
    kobj *o = hash_write(c, key, &err);
    if (err) return;
    reply_array(c, n);
    if (!o) {
        for (long long i = 0; i < n; i++) reply_int(c, HFE_NO_FIELD);
        return;
    }
    long long set = 0, gone = 0;
    for (long long i = 0; i < n; i++) {
        const resp_arg *f = &c->argv[first + i];
        if (!hash_get(o, f->p, f->len, &(hp_val){0})) {
            reply_int(c, HFE_NO_FIELD);
            continue;
        }
        o = hash_make_ttl_capable(c->db, o);
        hfield *h = dict_find(kobj_ptr(o), f->p, f->len);
        if (!cond_met(cond, hf_expire(h), when)) {
            reply_int(c, HFE_NOT_MET);
        } else if (!(when > kv_now_ms)) { /* already due: the field goes now */
            int del;
            o = hash_delete(c->db, o, f->p, f->len, &del);
            gone++;
            reply_int(c, HFE_DELETED);
        } else {
            hfield_set_expire(o, h, when);
            fe_note(c->db, key->p, key->len, when);
            set++;
            reply_int(c, HFE_OK);
        }
    }
    if (!set && !gone) return;
    signal_modified_key(c, c->db, key->p, key->len);
    if (set) notify_keyspace_event(NOTIFY_HASH, "hexpire", key->p, key->len, c->db->id);
    after_fields_gone(c, key, o, gone);
    server_add_dirty(set + gone);
}

void hexpire_command(client *c) {
    hexpire_generic(c, 1000, 0);
}
void hpexpire_command(client *c) {
    hexpire_generic(c, 1, 0);
}
void hexpireat_command(client *c) {
    hexpire_generic(c, 1000, 1);
}
void hpexpireat_command(client *c) {
    hexpire_generic(c, 1, 1);
}

/* Field f's entry when o can hold expire times (NULL: it has none). */
static hfield *ttl_entry(kobj *o, const resp_arg *f) {
    return hash_has_ttls(o) ? dict_find(kobj_ptr(o), f->p, f->len) : NULL;
}

/* HTTL / HPTTL / HEXPIRETIME / HPEXPIRETIME key FIELDS n f... */
static void httl_generic(client *c, int ms, int absolute) {
    long long n;
    int first = fields_at_or_reply(c, 2, 1, "ERR Number of fields must be a positive integer", &n);
    if (first < 0) return;
    int err;
    kobj *o = hash_read(c, &c->argv[1], &err);
    if (err) return;
    reply_array(c, n);
    for (long long i = 0; i < n; i++) {
        const resp_arg *f = &c->argv[first + i];
        if (!o || !hash_get(o, f->p, f->len, &(hp_val){0})) {
            reply_int(c, HFE_NO_FIELD);
            continue;
        }
        hfield *h = ttl_entry(o, f);
        int64_t t = h ? hf_expire(h) : -1;
        if (t < 0)
            reply_int(c, HFE_NO_TTL);
        else if (absolute)
            reply_int(c, ms ? t : t / 1000);
        else
            reply_int(c, ms ? t - kv_now_ms : (t + 999 - kv_now_ms) / 1000);
    }
}

void httl_command(client *c) {
    httl_generic(c, 0, 0);
}
void hpttl_command(client *c) {
    httl_generic(c, 1, 0);
}
void hexpiretime_command(client *c) {
    httl_generic(c, 0, 1);
}
void hpexpiretime_command(client *c) {
    httl_generic(c, 1, 1);
}

void hpersist_command(client *c) {
    const resp_arg *key = &c->argv[1];
    long long n;
    int first = fields_at_or_reply(c, 2, 1, "ERR Number of fields must be a positive integer", &n);
    if (first < 0) return;
    int err;
    kobj *o = hash_write(c, key, &err);
    if (err) return;
    reply_array(c, n);
    long long done = 0;
    for (long long i = 0; i < n; i++) {
        const resp_arg *f = &c->argv[first + i];
        if (!o || !hash_get(o, f->p, f->len, &(hp_val){0})) {
            reply_int(c, HFE_NO_FIELD);
            continue;
        }
        hfield *h = ttl_entry(o, f);
        if (!h || hf_expire(h) < 0) {
            reply_int(c, HFE_NO_TTL);
            continue;
        }
        hfield_set_expire(o, h, -1);
        done++;
        reply_int(c, HFE_OK);
    }
    if (!done) return;
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hpersist", key->p, key->len, c->db->id);
    server_add_dirty(done);
}

/* The expire option of HGETEX / HSETEX at argv[*i] (advancing *i): EX, PX,
 * EXAT, PXAT with their time, or the bare word `bare` (PERSIST / KEEPTTL).
 * 1 when one was read, 0 when argv[*i] is none of them, -1 on an error
 * (replied). *when: the absolute time, or -1 for the bare word. */
static int expire_opt(client *c, int *i, const char *bare, int64_t *when) {
    static const struct {
        const char *name;
        int64_t unit;
        int absolute;
    } opts[] = {{"ex", 1000, 0}, {"px", 1, 0}, {"exat", 1000, 1}, {"pxat", 1, 1}};
    const resp_arg *a = &c->argv[*i];
    if (arg_is(a, bare)) {
        *when = -1;
        (*i)++;
        return 1;
    }
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        if (!arg_is(a, opts[k].name)) continue;
        long long t;
        if (*i + 1 >= c->argc) {
            reply_error(c, "ERR syntax error");
            return -1;
        }
        if (arg_ll_or_reply(c, &c->argv[*i + 1], &t, NULL) != OK) return -1;
        int64_t base = opts[k].absolute ? 0 : kv_now_ms;
        if (t <= 0 || (opts[k].unit == 1000 && t > HFE_MAX_MS / 1000) ||
            t * opts[k].unit > HFE_MAX_MS - base) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
            return -1;
        }
        *when = base + t * opts[k].unit;
        *i += 2;
        return 1;
    }
    return 0;
}

/* HGETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST] FIELDS n f... */
void hgetex_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int i = 2, have = 0;
    int64_t when = 0;
    while (i < c->argc && !arg_is(&c->argv[i], "fields")) {
        int64_t w;
        int r = expire_opt(c, &i, "persist", &w);
        if (r < 0) return;
        if (r == 0) {
            reply_errorf(c, "ERR unknown argument: %s", c->argv[i].p);
            return;
        }
        if (have++) {
            reply_error(c, "ERR Only one of EX, PX, EXAT, PXAT or PERSIST arguments can be "
                           "specified");
            return;
        }
        when = w;
    }
    long long n;
    int first = fields_at_or_reply(c, i, 1, "ERR Number of fields must be a positive integer", &n);
    if (first < 0) return;
    int err;
    kobj *o = have ? hash_write(c, key, &err) : hash_read(c, key, &err);
    if (err) return;
    reply_array(c, n);
    long long changed = 0, gone = 0;
    for (long long k = 0; k < n; k++) {
        const resp_arg *f = &c->argv[first + k];
        hp_val v;
        if (!o || !hash_get(o, f->p, f->len, &v)) {
            reply_null(c);
            continue;
        }
        reply_hval(c, &v);
        if (!have) continue;
        if (when < 0) { /* PERSIST */
            hfield *h = ttl_entry(o, f);
            if (h && hf_expire(h) >= 0) {
                hfield_set_expire(o, h, -1);
                changed++;
            }
        } else if (!(when > kv_now_ms)) {
            int del;
            o = hash_delete(c->db, o, f->p, f->len, &del);
            gone++;
        } else {
            o = hash_make_ttl_capable(c->db, o);
            hfield_set_expire(o, dict_find(kobj_ptr(o), f->p, f->len), when);
            fe_note(c->db, key->p, key->len, when);
            changed++;
        }
    }
    if (!changed && !gone) return;
    signal_modified_key(c, c->db, key->p, key->len);
    if (changed)
        notify_keyspace_event(NOTIFY_HASH, when < 0 ? "hpersist" : "hexpire", key->p, key->len,
                              c->db->id);
    after_fields_gone(c, key, o, gone);
    server_add_dirty(changed + gone);
}

/* HSETEX key [FNX | FXX] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL] FIELDS n f v ... */
void hsetex_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int i = 2, have = 0, cond = 0; /* cond: 1 FNX, 2 FXX */
    int64_t when = -2;             /* -2: no option (the fields lose their TTLs), -1: KEEPTTL */
    while (i < c->argc && !arg_is(&c->argv[i], "fields")) {
        if (arg_is(&c->argv[i], "fnx") || arg_is(&c->argv[i], "fxx")) {
            if (cond) {
                reply_error(c, "ERR Multiple condition flags specified");
                return;
            }
            cond = arg_is(&c->argv[i], "fnx") ? 1 : 2;
            i++;
            continue;
        }
        int64_t w;
        int r = expire_opt(c, &i, "keepttl", &w);
        if (r < 0) return;
        if (r == 0) {
            reply_errorf(c, "ERR unknown argument: %s", c->argv[i].p);
            return;
        }
        if (have++) {
            reply_error(c, "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be "
                           "specified");
            return;
        }
        when = w;
    }
    long long n;
    int first = fields_at_or_reply(c, i, 2, "ERR Number of fields must be a positive integer", &n);
    if (first < 0) return;
    int err;
    kobj *o = hash_write(c, key, &err);
    if (err) return;
    for (long long k = 0; cond && k < n; k++) { /* FNX: none exists; FXX: all exist */
        const resp_arg *f = &c->argv[first + 2 * k];
        int exists = o && hash_get(o, f->p, f->len, &(hp_val){0});
        if (exists != (cond == 2)) {
            reply_int(c, 0);
            return;
        }
    }
    if (!o) o = hash_create(c->db, key);
    o = hash_try_conversion(c->db, o, c->argv, first, c->argc - 1);
    int ttl = when >= 0;
    if (ttl) o = hash_make_ttl_capable(c->db, o);
    for (long long k = 0; k < n; k++) {
        const resp_arg *f = &c->argv[first + 2 * k], *v = f + 1;
        int updated;
        o = hash_set_ex(c->db, o, f->p, f->len, v->p, v->len, &updated, when == -1);
        if (ttl) {
            hfield_set_expire(o, dict_find(kobj_ptr(o), f->p, f->len), when);
            fe_note(c->db, key->p, key->len, when);
        }
    }
    reply_int(c, 1);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hset", key->p, key->len, c->db->id);
    if (ttl) notify_keyspace_event(NOTIFY_HASH, "hexpire", key->p, key->len, c->db->id);
    if (ttl && !(when > kv_now_ms)) hash_fields_expire(c->db, o); /* due at once */
    server_add_dirty(n);
}

/* HGETDEL key FIELDS n f... */
void hgetdel_command(client *c) {
    const resp_arg *key = &c->argv[1];
    long long n;
    int first = fields_at_or_reply(c, 2, 1, "ERR Number of fields must be a positive integer", &n);
    if (first < 0) return;
    int err;
    kobj *o = hash_write(c, key, &err);
    if (err) return;
    reply_array(c, n);
    long long deleted = 0;
    int removed = 0;
    for (long long k = 0; k < n; k++) {
        const resp_arg *f = &c->argv[first + k];
        hp_val v;
        if (!o || removed || !hash_get(o, f->p, f->len, &v)) {
            reply_null(c);
            continue;
        }
        reply_hval(c, &v);
        int del;
        o = hash_delete(c->db, o, f->p, f->len, &del);
        deleted++;
        if (hash_length(o) == 0) {
            db_delete(c->db, key->p, key->len);
            removed = 1;
        }
    }
    if (!deleted) return;
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_HASH, "hdel", key->p, key->len, c->db->id);
    if (removed) notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
    server_add_dirty(deleted);
}
