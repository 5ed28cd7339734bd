/* kv/db — see db.h. */
#include "kv/db.h"
#include "util/mem.h"
#include <assert.h>
#include <stdlib.h>

int64_t kv_now_ms;
kv_hooks kv_hook;

static const void *kobj_dict_key(const void *e, size_t *len) {
    const kobj *o = e;
    *len = o->klen;
    return kobj_key(o);
}

static const dict_type db_dict_type = {dict_hash_bytes, kobj_dict_key, NULL};

/* ---- the expire set (invariant 2) ----------------------------------------------- */

static void expset_add(expire_set *s, kobj *o) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof(kobj *));
    }
    assert(s->n < UINT32_MAX);
    kobj_set_expire_pos(o, (uint32_t)s->n);
    s->v[s->n++] = o;
}

/* The last entry takes o's place; the array shrinks by half when a quarter
 * of it is used. */
static void expset_remove(expire_set *s, const kobj *o) {
    uint32_t pos = kobj_expire_pos(o);
    assert(pos < s->n && s->v[pos] == o);
    kobj *last = s->v[--s->n];
    s->v[pos] = last;
    kobj_set_expire_pos(last, pos);
    if (s->cap > 16 && s->n < s->cap / 4) {
        s->cap /= 2;
        s->v = xrealloc(s->v, s->cap * sizeof(kobj *));
    }
}

/* n has o's key and expire block (kobj_relayout copies it). */
static void expset_replace(expire_set *s, const kobj *o, kobj *n) {
    uint32_t pos = kobj_expire_pos(o);
    assert(pos < s->n && s->v[pos] == o);
    kobj_set_expire_pos(n, pos);
    s->v[pos] = n;
}

static void expset_clear(expire_set *s) {
    xfree(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static size_t random_index(size_t n) {
    return ((size_t)random() << 31 ^ (size_t)random()) % n;
}

size_t db_expires_sample(db *d, kobj **out, size_t n) {
    const expire_set *s = &d->expires;
    if (n > s->n) n = s->n;
    if (!n) return 0;
    size_t at = random_index(s->n);
    for (size_t i = 0; i < n; i++) out[i] = s->v[(at + i) % s->n];
    return n;
}

kobj *db_expires_random(db *d) {
    return d->expires.n ? d->expires.v[random_index(d->expires.n)] : NULL;
}

void db_init(db *d, int id) {
    dict_init(&d->keys, &db_dict_type);
    d->expires = (expire_set){NULL, 0, 0};
    d->id = id;
    d->avg_ttl = 0;
    d->expires_cursor = 0;
    d->memo = NULL;
    d->memo_klen = 0;
}

static void free_entry(void *ctx, void *e) {
    (void)ctx;
    kobj_free(e);
}

static void free_plain(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

void db_clear(db *d) {
    if (d->field_expires) dict_clear(d->field_expires, free_plain, NULL);
    expset_clear(&d->expires);
    dict_clear(&d->keys, free_entry, NULL);
    d->memo = NULL;
    d->avg_ttl = 0;
    d->expires_cursor = 0;
}

void db_swap_contents(db *a, db *b) {
    a->memo = b->memo = NULL;
    dict t = a->keys;
    a->keys = b->keys;
    b->keys = t;
    expire_set e = a->expires;
    a->expires = b->expires;
    b->expires = e;
    long long ttl = a->avg_ttl;
    a->avg_ttl = b->avg_ttl;
    b->avg_ttl = ttl;
    uint64_t c = a->expires_cursor;
    a->expires_cursor = b->expires_cursor;
    b->expires_cursor = c;
    dict *fe = a->field_expires;
    a->field_expires = b->field_expires;
    b->field_expires = fe;
}

kobj *db_find(db *d, const char *key, size_t len) {
    return dict_find(&d->keys, key, len);
}

kobj *db_find_hashed(db *d, const char *key, size_t len, uint64_t h) {
    return dict_find_hashed(&d->keys, key, len, h);
}

/* The hook runs after the entry left the dicts (so observers see the key
 * gone, as Redis's watchers do) but before it is freed (so it can read it). */
static void expire_entry(db *d, kobj *o) {
    d->memo = NULL;
    expset_remove(&d->expires, o);
    dict_remove(&d->keys, kobj_key(o), o->klen);
    if (kv_hook.on_expired) kv_hook.on_expired(d, o);
    kobj_free(o);
}

/* The found entry o, alive (else expired now: NULL), touched per flags. */
static kobj *live_entry(db *d, kobj *o, int flags) {
    if (kobj_is_expired(o)) {
        expire_entry(d, o);
        return NULL;
    }
    if (!(flags & LOOKUP_NOTOUCH)) kobj_touch(o);
    if (flags & LOOKUP_MEMO) d->memo = o;
    return o;
}

static inline uint64_t word_diff(const char *a, const char *b) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x ^ y;
}

/* Are the len bytes at a and b equal? Keys of 8 to 32 bytes (the usual
 * ones) in word compares that may overlap, without a call. */
static inline int same_bytes(const char *a, const char *b, size_t len) {
    if (len < 8 || len > 32) return memcmp(a, b, len) == 0;
    uint64_t d = word_diff(a, b) | word_diff(a + len - 8, b + len - 8);
    if (len > 16) d |= word_diff(a + 8, b + 8) | word_diff(a + len - 16, b + len - 16);
    return d == 0;
}

kobj *db_lookup(db *d, const char *key, size_t len, int flags) {
    kobj *m = d->memo;
    if (m) { /* invariant 4: m is in keys; if its key is this one, it is the entry */
        d->memo = NULL;
        if (m->klen == len && same_bytes(kobj_key(m), key, len)) return live_entry(d, m, flags);
    }
    uint64_t h;
    return db_lookup_h(d, key, len, flags, &h);
}

/* The entry of key, logically expired or not, and its hash (*h): the memo
 * when its key is this one, taken off either way. remember: the key and
 * hash stay remembered for the next lookup (LOOKUP_MEMO); else a
 * remembered key of this one is forgotten. */
static kobj *find_entry(db *d, const char *key, size_t len, int remember, uint64_t *h) {
    if (d->memo_klen == len + 1 && same_bytes(d->memo_key, key, len)) {
        if (!remember) d->memo_klen = 0;
        *h = d->memo_h;
        kobj *m = d->memo;
        d->memo = NULL;
        /* invariant 4: the memo, if its key is this one, is the entry */
        if (m && m->klen == len && same_bytes(kobj_key(m), key, len)) return m;
        return dict_find_hashed(&d->keys, key, len, *h);
    }
    kobj *o = dict_find_h(&d->keys, key, len, h);
    if (remember && len <= DB_MEMO_KEY) {
        memcpy(d->memo_key, key, len);
        d->memo_klen = (uint32_t)len + 1;
        d->memo_h = *h;
    }
    return o;
}

kobj *db_lookup_h(db *d, const char *key, size_t len, int flags, uint64_t *h) {
    kobj *o = find_entry(d, key, len, (flags & LOOKUP_MEMO) != 0, h);
    return o ? live_entry(d, o, flags) : NULL;
}

kobj *db_find_memo(db *d, const char *key, size_t len, uint64_t *h) {
    kobj *o = find_entry(d, key, len, 1, h);
    d->memo = o; /* in keys (invariant 4), or none */
    return o;
}

void db_add(db *d, kobj *o) {
    dict_add(&d->keys, o);
    if (o->flags & KF_EXPIRE) expset_add(&d->expires, o);
    if (kv_hook.on_added) kv_hook.on_added(d, o);
}

void db_add_h(db *d, kobj *o, uint64_t h) {
    dict_add_h(&d->keys, o, h);
    if (o->flags & KF_EXPIRE) expset_add(&d->expires, o);
    if (kv_hook.on_added) kv_hook.on_added(d, o);
}

/* Re-points the dicts from old to n (same key) without freeing anything. */
static void repoint(db *d, kobj *old, kobj *n) {
    d->memo = NULL;
    dict_replace(&d->keys, old, n);
    int had = (old->flags & KF_EXPIRE) != 0, has = (n->flags & KF_EXPIRE) != 0;
    if (had && has)
        expset_replace(&d->expires, old, n);
    else if (had)
        expset_remove(&d->expires, old);
    else if (has)
        expset_add(&d->expires, n);
}

kobj *db_replace(db *d, kobj *old, kobj *n) {
    repoint(d, old, n);
    kobj_free(old);
    return n;
}

kobj *db_unlink(db *d, const char *key, size_t len) {
    d->memo = NULL;
    kobj *o = dict_remove(&d->keys, key, len);
    if (o && (o->flags & KF_EXPIRE)) expset_remove(&d->expires, o);
    return o;
}

int db_delete(db *d, const char *key, size_t len) {
    kobj *o = db_unlink(d, key, len);
    if (!o) return 0;
    kobj_free(o);
    return 1;
}

/* Moves o into a new layout and re-points the dicts (o must stay readable
 * until then: the dicts find its slots through its key). */
static kobj *relayout(db *d, kobj *o, int with_expire, size_t vcap) {
    kobj *n = kobj_relayout(o, with_expire, (o->flags & KF_META) != 0, vcap);
    repoint(d, o, n);
    xfree(o);
    return n;
}

kobj *db_set_expire(db *d, kobj *o, int64_t when) {
    if (!(o->flags & KF_EXPIRE)) o = relayout(d, o, 1, o->type == OBJ_STRING ? o->vlen : 0);
    kobj_set_expire_field(o, when);
    return o;
}

kobj *db_persist(db *d, kobj *o) {
    if (!(o->flags & KF_EXPIRE)) return o;
    return relayout(d, o, 0, o->type == OBJ_STRING ? o->vlen : 0);
}

kobj *db_reserve_string(db *d, kobj *o, size_t vcap) {
    assert(o->type == OBJ_STRING);
    if (kobj_str_capacity(o) >= vcap) return o;
    return relayout(d, o, (o->flags & KF_EXPIRE) != 0, vcap);
}

kobj *db_fit_value(db *d, kobj *o, size_t need) {
    assert(kobj_is_inline(o));
    size_t cap = kobj_str_capacity(o);
    if (cap >= need && !(cap > 64 && need < cap / 2)) return o;
    /* no slack: the allocator's size classes give room for small growth,
     * and memory per small collection is what this encoding is for */
    size_t room = need < o->vlen ? o->vlen : need;
    return relayout(d, o, (o->flags & KF_EXPIRE) != 0, room);
}

kobj *db_set_string_value(db *d, kobj *o, const char *val, size_t vlen) {
    assert(o->type == OBJ_STRING);
    size_t cap = kobj_str_capacity(o);
    /* Reuse the allocation when it fits and is not wastefully large. */
    if (vlen > cap || (cap > 64 && vlen < cap / 2)) {
        kobj *n = kobj_new_string(kobj_key(o), o->klen, val, vlen, vlen);
        n->lru = o->lru;
        if (o->flags & (KF_EXPIRE | KF_META)) {
            kobj *e =
                kobj_relayout(n, (o->flags & KF_EXPIRE) != 0, (o->flags & KF_META) != 0, vlen);
            xfree(n);
            n = e;
            if (o->flags & KF_EXPIRE) kobj_set_expire_field(n, kobj_expire(o));
            if (o->flags & KF_META) *kobj_meta_of(n) = *kobj_meta_of(o);
        }
        n->flags = o->flags;
        return db_replace(d, o, n);
    }
    memmove(kobj_val(o), val, vlen);
    o->vlen = (uint32_t)vlen;
    kobj_string_classify(o);
    return o;
}

/* Walks the expire set downwards from expires_cursor, so that every entry is
 * examined once per pass: a removal moves the last entry (already passed)
 * into the hole, and entries added meanwhile wait for the next pass. */
size_t db_active_expire_step(db *d, size_t samples, size_t *expired) {
    kobj *pick[64];
    expire_set *s = &d->expires;
    if (samples > 64) samples = 64;
    if (samples > s->n) samples = s->n;
    size_t n = 0;
    for (; n < samples; n++) {
        if (d->expires_cursor == 0 || d->expires_cursor > s->n) d->expires_cursor = s->n;
        pick[n] = s->v[--d->expires_cursor];
    }
    for (size_t i = 0; i < n; i++) {
        if (kobj_is_expired(pick[i])) {
            expire_entry(d, pick[i]);
            (*expired)++;
        } else {
            long long ttl = kobj_expire(pick[i]) - kv_now_ms;
            d->avg_ttl = d->avg_ttl ? (d->avg_ttl * 49 + ttl) / 50 : ttl;
        }
    }
    return n;
}

kobj *db_set_meta(db *d, kobj *o, uint32_t delta_ms) {
    if (!(o->flags & KF_META)) {
        kobj *n =
            kobj_relayout(o, (o->flags & KF_EXPIRE) != 0, 1, o->type == OBJ_STRING ? o->vlen : 0);
        repoint(d, o, n);
        xfree(o);
        o = n;
    }
    kobj_meta_of(o)->delta_ms = delta_ms;
    return o;
}
