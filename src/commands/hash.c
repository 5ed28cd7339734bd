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
    uint32_t flen, vlen;
    char data[]; /* field then value */
} hfield;

static const void *hfield_key(const void *e, size_t *len) {
    const hfield *h = e;
    *len = h->flen;
    return h->data;
}

static const dict_type hfield_dict_type = {dict_hash_bytes, hfield_key, NULL};

static hfield *hfield_new(const char *f, size_t fl, const char *v, size_t vl) {
    hfield *h = xmalloc(sizeof(hfield) + fl + vl);
    h->flen = (uint32_t)fl;
    h->vlen = (uint32_t)vl;
    memcpy(h->data, f, fl);
    if (vl) memcpy(h->data + fl, v, vl);
    return h;
}

static void hfield_free_cb(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

static inline void hfield_val(const hfield *h, hp_val *v) {
    v->s = h->data + h->flen;
    v->len = h->vlen;
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

/* Sets field f to v. *updated: 1 when f existed. Returns the entry. */
static kobj *hash_set(db *d, kobj *o, const char *f, size_t fl, const char *v, size_t vl,
                      int *updated) {
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
    hfield *old = dict_find(ht, f, fl), *n = hfield_new(f, fl, v, vl);
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

/* hashTypeLookupWriteOrCreate: the hash at key, created when missing; NULL
 * (WRONGTYPE replied) when the key holds another type. */
static kobj *hash_lookup_write_or_create(client *c, const resp_arg *key) {
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_HASH, &err);
    if (err) return NULL;
    return o ? o : hash_create(c->db, key);
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
    dict *src = (dict *)ptr, *dst = dict_new(&hfield_dict_type);
    dict_reserve(dst, dict_size(src));
    dict_iter it;
    dict_iter_init(&it, src);
    hfield *h;
    while ((h = dict_iter_next(&it))) {
        size_t n = sizeof(hfield) + h->flen + h->vlen;
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
        while ((h = dict_iter_next(&it))) fn(ctx, h->data, h->flen, h->data + h->flen, h->vlen);
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
}

/* Builds a hash value from a DUMP payload with the encoding the current
 * limits give (NULL when malformed, or a field repeats). */
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
    if (q != end) return NULL;
    int small = (long long)n <= server_type_limits()->hash_max_listpack_entries &&
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
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
    if (err) return;
    hp_val v;
    if (o && hash_get(o, c->argv[2].p, c->argv[2].len, &v))
        reply_hval(c, &v);
    else
        reply_null(c);
}

void hmget_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
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
    kobj *o = lookup_write_typed(c, key, OBJ_HASH, &err);
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
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
    if (err) return;
    reply_int(c, o ? (long long)hash_length(o) : 0);
}

void hstrlen_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
    if (err) return;
    hp_val v;
    reply_int(c,
              o && hash_get(o, c->argv[2].p, c->argv[2].len, &v) ? (long long)hval_strlen(&v) : 0);
}

void hexists_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
    if (err) return;
    hp_val v;
    reply_int(c, o && hash_get(o, c->argv[2].p, c->argv[2].len, &v));
}

enum { H_KEYS = 1, H_VALS = 2 };

static void hgetall_generic(client *c, int what) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
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
    hash_set(c->db, o, field->p, field->len, buf, (size_t)n, &updated);
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
    hash_set(c->db, o, field->p, field->len, buf, (size_t)n, &updated);
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
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
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
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
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
    acc_push(ctx, h->data + h->flen, h->vlen);
}

void hscan_command(client *c) {
    uint64_t cursor;
    if (scan_cursor_or_reply(c, &c->argv[2], &cursor) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_HASH, &err);
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
