/* commands/set — the set family (SADD … SSCAN), Redis 7.0 semantics and
 * error texts, and the set type's value operations.
 *
 * Two encodings, as in Redis 7.0 (which has no listpack sets):
 *
 *   ENC_INTSET     every member a canonical integer, at most
 *                  set-max-intset-entries of them: a kv/intset (sorted, so
 *                  SMEMBERS replies in ascending order).
 *   ENC_HASHTABLE  a dict (kv/dict.h) of selem entries (length + bytes).
 *
 * A set converts intset -> hashtable when a non-integer member arrives or it
 * grows past the limit; never back, except that a set built afresh (SPOP
 * refilling, *STORE results, RESTORE, DEBUG RELOAD) starts as an intset as
 * Redis's do. The value sits behind the entry's pointer; the helpers work on
 * an `sval` (encoding + pointer) that is written back with sval_store().
 * An empty set is never kept: the command that removes the last member
 * deletes the key.
 *
 * DUMP payload of a set (after the type byte): varint count, then per member
 * varint length and bytes. */
#include "commands/commands.h"
#include "kv/intset.h"
#include "util/mem.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashtable members ---------------------------------------------------------- */

typedef struct selem {
    uint32_t len;
    char s[];
} selem;

static const void *selem_key(const void *e, size_t *len) {
    const selem *m = e;
    *len = m->len;
    return m->s;
}

static const dict_type selem_dict_type = {dict_hash_bytes, selem_key, NULL};

static selem *selem_new(const char *s, size_t len) {
    selem *m = xmalloc(sizeof(selem) + len);
    m->len = (uint32_t)len;
    if (len) memcpy(m->s, s, len);
    return m;
}

static void selem_free_cb(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

/* ---- a set value (either encoding) --------------------------------------------------- */

typedef struct sval {
    int enc;
    void *p; /* intset* or dict* */
} sval;

static inline sval sval_of(const kobj *o) {
    return (sval){o->enc, kobj_ptr(o)};
}
static inline void sval_store(kobj *o, const sval *s) {
    o->enc = (uint8_t)s->enc;
    kobj_set_ptr(o, s->p);
}

static int as_int(const char *s, size_t len, long long *v) {
    return len <= 20 && str_to_ll(s, len, v);
}

/* Redis's setTypeCreate: an intset when the first member is an integer. */
static sval sval_new_for(const char *s, size_t len) {
    long long v;
    if (as_int(s, len, &v)) return (sval){ENC_INTSET, intset_new()};
    return (sval){ENC_HASHTABLE, dict_new(&selem_dict_type)};
}

static sval sval_new_intset(void) {
    return (sval){ENC_INTSET, intset_new()};
}

static size_t sval_size(const sval *s) {
    return s->enc == ENC_INTSET ? intset_len(s->p) : dict_size(s->p);
}

static void sval_free(sval *s) {
    if (s->enc == ENC_INTSET)
        intset_free(s->p);
    else
        dict_free(s->p, selem_free_cb, NULL);
    s->p = NULL;
}

static void sval_convert(sval *s) {
    intset *is = s->p;
    dict *d = dict_new(&selem_dict_type);
    dict_reserve(d, intset_len(is));
    char buf[LONG_STR_SIZE];
    int64_t v;
    for (uint32_t i = 0; intset_get(is, i, &v); i++) {
        int n = ll_to_str(buf, v);
        dict_add(d, selem_new(buf, (size_t)n));
    }
    intset_free(is);
    s->enc = ENC_HASHTABLE;
    s->p = d;
}

static size_t intset_max_entries(void) {
    long long m = server_type_limits()->set_max_intset_entries;
    if (m >= 1LL << 30) m = 1LL << 30; /* as Redis: intset internals */
    return (size_t)m;
}

/* Adds a member; 1 when it was not there. */
static int sval_add(sval *s, const char *e, size_t len) {
    long long v;
    if (s->enc == ENC_INTSET) {
        if (as_int(e, len, &v)) {
            int added;
            s->p = intset_add(s->p, v, &added);
            if (added && intset_len(s->p) > intset_max_entries()) sval_convert(s);
            return added;
        }
        sval_convert(s);
        dict_add(s->p, selem_new(e, len));
        return 1;
    }
    if (dict_find(s->p, e, len)) return 0;
    dict_add(s->p, selem_new(e, len));
    return 1;
}

static int sval_remove(sval *s, const char *e, size_t len) {
    if (s->enc == ENC_INTSET) {
        long long v;
        int removed = 0;
        if (as_int(e, len, &v)) s->p = intset_remove(s->p, v, &removed);
        return removed;
    }
    selem *m = dict_remove(s->p, e, len);
    if (!m) return 0;
    xfree(m);
    return 1;
}

static int sval_contains(const sval *s, const char *e, size_t len) {
    if (s->enc == ENC_INTSET) {
        long long v;
        return as_int(e, len, &v) && intset_find(s->p, v);
    }
    return dict_find(s->p, e, len) != NULL;
}

/* A member as its text (integers printed into buf) and, for intsets, the integer. */
typedef struct smember {
    const char *s;
    size_t len;
    char buf[LONG_STR_SIZE];
} smember;

static void smember_int(smember *m, int64_t v) {
    m->len = (size_t)ll_to_str(m->buf, v);
    m->s = m->buf;
}

typedef struct siter {
    const sval *sv;
    uint32_t i;
    dict_iter di;
} siter;

static void siter_init(siter *it, const sval *s) {
    it->sv = s;
    it->i = 0;
    if (s->enc == ENC_HASHTABLE) dict_iter_init(&it->di, s->p);
}

static int siter_next(siter *it, smember *m) {
    if (it->sv->enc == ENC_INTSET) {
        int64_t v;
        if (!intset_get(it->sv->p, it->i++, &v)) return 0;
        smember_int(m, v);
        return 1;
    }
    selem *e = dict_iter_next(&it->di);
    if (!e) return 0;
    m->s = e->s;
    m->len = e->len;
    return 1;
}

static void siter_done(siter *it) {
    if (it->sv->enc == ENC_HASHTABLE) dict_iter_done(&it->di);
}

static uint64_t rand64(void) {
    return (uint64_t)random() << 33 ^ (uint64_t)random() << 11 ^ (uint64_t)random();
}

static void sval_random(const sval *s, smember *m) {
    if (s->enc == ENC_INTSET) {
        smember_int(m, intset_random(s->p, rand64()));
        return;
    }
    selem *e = dict_random(s->p);
    m->s = e->s;
    m->len = e->len;
}

/* ---- type ops ----------------------------------------------------------------------------- */

static void set_free_value(void *ptr, int enc) {
    sval s = {enc, ptr};
    sval_free(&s);
}

static void *set_dup_value(const void *ptr, int enc) {
    if (enc == ENC_INTSET) return intset_dup(ptr);
    dict *src = (dict *)ptr, *dst = dict_new(&selem_dict_type);
    dict_reserve(dst, dict_size(src));
    dict_iter it;
    dict_iter_init(&it, src);
    selem *e;
    while ((e = dict_iter_next(&it))) dict_add(dst, selem_new(e->s, e->len));
    dict_iter_done(&it);
    return dst;
}

static size_t set_mem_value(const void *ptr, int enc, size_t samples) {
    if (enc == ENC_INTSET) return xmem_usable(ptr);
    dict *d = (dict *)ptr;
    size_t n = xmem_usable(d) + dict_mem(d), seen = 0, bytes = 0;
    dict_iter it;
    dict_iter_init(&it, d);
    selem *e;
    while (seen < samples && (e = dict_iter_next(&it))) {
        bytes += xmem_usable(e);
        seen++;
    }
    dict_iter_done(&it);
    if (seen) n += (size_t)((double)bytes / (double)seen * (double)dict_size(d));
    return n;
}

static void set_each(const void *ptr, int enc,
                     void (*fn)(void *ctx, const char *a, size_t alen, const char *b, size_t blen),
                     void *ctx) {
    sval s = {enc, (void *)ptr};
    siter it;
    smember m;
    siter_init(&it, &s);
    while (siter_next(&it, &m)) fn(ctx, m.s, m.len, NULL, 0);
    siter_done(&it);
}

static void ser_member(void *ctx, const char *a, size_t alen, const char *b, size_t blen) {
    (void)b, (void)blen;
    sbuf_put_varint(ctx, alen);
    sbuf_append(ctx, a, alen);
}

static void set_serialize(const void *ptr, int enc, sbuf *out) {
    sval s = {enc, (void *)ptr};
    sbuf_put_varint(out, sval_size(&s));
    set_each(ptr, enc, ser_member, out);
}

/* As Redis loads a set: an intset when small enough (converting on the first
 * non-integer), else a hashtable. NULL when malformed or a member repeats. */
static void *set_deserialize(const char *p, size_t len, int *enc) {
    const char *end = p + len;
    uint64_t n;
    if (!varint_get(&p, end, &n) || n == 0 || n > len) return NULL;
    sval s = n <= intset_max_entries() ? sval_new_intset()
                                       : (sval){ENC_HASHTABLE, dict_new(&selem_dict_type)};
    if (s.enc == ENC_HASHTABLE) dict_reserve(s.p, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l;
        if (!varint_get(&p, end, &l) || l > (uint64_t)(end - p) || !sval_add(&s, p, l)) {
            sval_free(&s);
            return NULL;
        }
        p += l;
    }
    if (p != end) {
        sval_free(&s);
        return NULL;
    }
    *enc = s.enc;
    return s.p;
}

static const kobj_type_ops set_ops = {
    .name = "set",
    .free_value = set_free_value,
    .dup_value = set_dup_value,
    .mem_value = set_mem_value,
    .serialize = set_serialize,
    .deserialize = set_deserialize,
    .each = set_each,
};

/* SORT reads every member of a set (start 0, count = all, in the set's own
 * order), so the walk needs no bounds. */
typedef struct ssort_ctx {
    sort_elem_fn *cb;
    void *ctx;
} ssort_ctx;

static int set_sort_elem(void *ctx, const char *m, size_t len) {
    ssort_ctx *s = ctx;
    s->cb(s->ctx, m, len);
    return 0;
}

static unsigned long set_sort_length(kobj *o) {
    return set_members_count(o);
}

static void set_sort_range(kobj *o, unsigned long start, unsigned long count, int desc,
                           sort_elem_fn *cb, void *ctx) {
    (void)start, (void)count, (void)desc;
    ssort_ctx s = {cb, ctx};
    set_for_each_member(o, set_sort_elem, &s);
}

static const sort_type_ops set_sort_ops = {.length = set_sort_length, .range = set_sort_range};

__attribute__((constructor)) static void set_register(void) {
    kobj_register_type(OBJ_SET, &set_ops);
    sort_register_type(OBJ_SET, &set_sort_ops);
}

/* ---- keyspace helpers ---------------------------------------------------------------------- */

static void reply_member(client *c, const smember *m) {
    reply_bulk(c, m->s, m->len);
}

/* Deletes key because its set became empty (no notification). */
static void drop_key(client *c, const resp_arg *key) {
    db_delete(c->db, key->p, key->len);
}

/* Stores the set s at dst (replacing whatever was there, expire dropped, as
 * Redis's setKey) or deletes dst when s is empty. Returns the size stored. */
static size_t store_result(client *c, const resp_arg *dst, sval *s, const char *event) {
    size_t n = sval_size(s);
    kobj *old = lookup_write(c, dst);
    if (n == 0) {
        sval_free(s);
        if (old) {
            db_delete(c->db, dst->p, dst->len);
            signal_modified_key(c, c->db, dst->p, dst->len);
            notify_keyspace_event(NOTIFY_GENERIC, "del", dst->p, dst->len, c->db->id);
            server_add_dirty(1);
        }
        return 0;
    }
    kobj *o = kobj_new_ptr(OBJ_SET, s->enc, dst->p, dst->len, s->p);
    if (old)
        db_replace(c->db, old, o);
    else
        db_add(c->db, o);
    signal_modified_key(c, c->db, dst->p, dst->len);
    notify_keyspace_event(NOTIFY_SET, event, dst->p, dst->len, c->db->id);
    server_add_dirty(1);
    return n;
}

/* ---- commands ------------------------------------------------------------------------------- */

void sadd_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_SET, &err);
    if (err) return;
    if (!o) {
        sval s = sval_new_for(c->argv[2].p, c->argv[2].len);
        o = kobj_new_ptr(OBJ_SET, s.enc, key->p, key->len, s.p);
        db_add(c->db, o);
    }
    sval s = sval_of(o);
    long long added = 0;
    for (int j = 2; j < c->argc; j++) added += sval_add(&s, c->argv[j].p, c->argv[j].len);
    sval_store(o, &s);
    if (added) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_SET, "sadd", key->p, key->len, c->db->id);
    }
    server_add_dirty(added);
    reply_int(c, added);
}

void srem_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_SET, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    sval s = sval_of(o);
    long long deleted = 0;
    int removed = 0;
    for (int j = 2; j < c->argc; j++) {
        if (!sval_remove(&s, c->argv[j].p, c->argv[j].len)) continue;
        deleted++;
        if (sval_size(&s) == 0) {
            sval_store(o, &s);
            drop_key(c, key);
            removed = 1;
            break;
        }
    }
    if (!removed) sval_store(o, &s);
    if (deleted) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_SET, "srem", key->p, key->len, c->db->id);
        if (removed) notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
        server_add_dirty(deleted);
    }
    reply_int(c, deleted);
}

void smove_command(client *c) {
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2], *ele = &c->argv[3];
    kobj *so = lookup_write(c, src), *dob = lookup_write(c, dst);
    if (!so) {
        reply_int(c, 0);
        return;
    }
    if (so->type != OBJ_SET || (dob && dob->type != OBJ_SET)) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    sval ss = sval_of(so);
    if (so == dob) {
        reply_int(c, sval_contains(&ss, ele->p, ele->len));
        return;
    }
    if (!sval_remove(&ss, ele->p, ele->len)) {
        reply_int(c, 0);
        return;
    }
    sval_store(so, &ss);
    notify_keyspace_event(NOTIFY_SET, "srem", src->p, src->len, c->db->id);
    if (sval_size(&ss) == 0) {
        drop_key(c, src);
        notify_keyspace_event(NOTIFY_GENERIC, "del", src->p, src->len, c->db->id);
    }
    if (!dob) {
        sval ds = sval_new_for(ele->p, ele->len);
        dob = kobj_new_ptr(OBJ_SET, ds.enc, dst->p, dst->len, ds.p);
        db_add(c->db, dob);
    }
    signal_modified_key(c, c->db, src->p, src->len);
    server_add_dirty(1);
    sval ds = sval_of(dob);
    int added = sval_add(&ds, ele->p, ele->len);
    sval_store(dob, &ds);
    if (added) {
        server_add_dirty(1);
        signal_modified_key(c, c->db, dst->p, dst->len);
        notify_keyspace_event(NOTIFY_SET, "sadd", dst->p, dst->len, c->db->id);
    }
    reply_int(c, 1);
}

void sismember_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_SET, &err);
    if (err) return;
    sval s;
    if (o) s = sval_of(o);
    reply_int(c, o && sval_contains(&s, c->argv[2].p, c->argv[2].len));
}

void smismember_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_SET, &err);
    if (err) return;
    sval s;
    if (o) s = sval_of(o);
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++)
        reply_int(c, o && sval_contains(&s, c->argv[j].p, c->argv[j].len));
}

void scard_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_SET, &err);
    if (err) return;
    sval s;
    if (o) s = sval_of(o);
    reply_int(c, o ? (long long)sval_size(&s) : 0);
}

/* Replies every member of s as a RESP3 set (an array in RESP2). */
static void reply_whole_set(client *c, const sval *s) {
    reply_set(c, (long)sval_size(s));
    siter it;
    smember m;
    siter_init(&it, s);
    while (siter_next(&it, &m)) reply_member(c, &m);
    siter_done(&it);
}

/* ---- SPOP / SRANDMEMBER ------------------------------------------------------------------- */

#define SPOP_MOVE_STRATEGY_MUL 5

static void spop_with_count(client *c) {
    const resp_arg *key = &c->argv[1];
    long long l;
    if (arg_long_range_or_reply(c, &c->argv[2], 0, LLONG_MAX, &l,
                                "ERR value is out of range, must be positive") != OK)
        return;
    unsigned long long count = (unsigned long long)l;
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_SET, &err);
    if (err) return;
    if (!o || count == 0) {
        reply_set(c, 0);
        return;
    }
    sval s = sval_of(o);
    size_t size = sval_size(&s);
    notify_keyspace_event(NOTIFY_SET, "spop", key->p, key->len, c->db->id);
    server_add_dirty((long long)(count >= size ? size : count));
    /* CASE 1: everything (in the order a fresh set built from it iterates) */
    if (count >= size) {
        sval tmp = sval_new_intset();
        siter it;
        smember m;
        siter_init(&it, &s);
        while (siter_next(&it, &m)) sval_add(&tmp, m.s, m.len);
        siter_done(&it);
        reply_whole_set(c, &tmp);
        sval_free(&tmp);
        drop_key(c, key);
        notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
        signal_modified_key(c, c->db, key->p, key->len);
        return;
    }
    reply_set(c, (long)count);
    size_t remaining = size - (size_t)count;
    if (remaining * SPOP_MOVE_STRATEGY_MUL > count) {
        /* CASE 2: pop random members one by one */
        while (count--) {
            smember m;
            sval_random(&s, &m);
            reply_member(c, &m);
            /* m.s may point into the member being removed: compare with a copy */
            char *copy = m.s == m.buf ? NULL : xmemdup(m.s, m.len);
            sval_remove(&s, copy ? copy : m.s, m.len);
            xfree(copy);
        }
        sval_store(o, &s);
    } else {
        /* CASE 3: move the members that stay into a new set, reply the rest */
        sval keep = {0, NULL};
        while (remaining--) {
            smember m;
            sval_random(&s, &m);
            char *copy = xmemdup(m.s, m.len);
            if (!keep.p) keep = sval_new_for(copy, m.len);
            sval_add(&keep, copy, m.len);
            sval_remove(&s, copy, m.len);
            xfree(copy);
        }
        siter it;
        smember m;
        siter_init(&it, &s);
        while (siter_next(&it, &m)) reply_member(c, &m);
        siter_done(&it);
        sval_free(&s);
        sval_store(o, &keep);
    }
    signal_modified_key(c, c->db, key->p, key->len);
}

void spop_command(client *c) {
    if (c->argc == 3) {
        spop_with_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_SET, &err);
    if (err) return;
    if (!o) {
        reply_null(c);
        return;
    }
    sval s = sval_of(o);
    smember m;
    sval_random(&s, &m);
    char *copy = xmemdup(m.s, m.len);
    size_t len = m.len;
    sval_remove(&s, copy, len);
    sval_store(o, &s);
    notify_keyspace_event(NOTIFY_SET, "spop", key->p, key->len, c->db->id);
    reply_bulk(c, copy, len);
    xfree(copy);
    if (sval_size(&s) == 0) {
        drop_key(c, key);
        notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
    }
    signal_modified_key(c, c->db, key->p, key->len);
    server_add_dirty(1);
}

#define SRANDMEMBER_SUB_STRATEGY_MUL 3

static void srandmember_with_count(client *c) {
    long long l;
    if (arg_long_range_or_reply(c, &c->argv[2], -LLONG_MAX, LLONG_MAX, &l, NULL) != OK) return;
    int uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)(-l);
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_SET, &err);
    if (err) return;
    if (!o || count == 0) {
        reply_empty_array(c);
        return;
    }
    sval s = sval_of(o);
    size_t size = sval_size(&s);
    /* CASE 1: independent picks */
    if (!uniq || count == 1) {
        reply_array(c, (long)count);
        while (count-- && !(c->flags & CLIENT_CLOSE_ASAP)) {
            smember m;
            sval_random(&s, &m);
            reply_member(c, &m);
        }
        return;
    }
    /* CASE 2: the whole set */
    if (count >= size) {
        reply_array(c, (long)size);
        siter it;
        smember m;
        siter_init(&it, &s);
        while (siter_next(&it, &m)) reply_member(c, &m);
        siter_done(&it);
        return;
    }
    reply_array(c, (long)count);
    if (count * SRANDMEMBER_SUB_STRATEGY_MUL > size) {
        /* CASE 3: all members, then drop random ones */
        smember *all = xmalloc(sizeof(smember) * size);
        siter it;
        size_t n = 0;
        siter_init(&it, &s);
        while (n < size && siter_next(&it, &all[n])) n++;
        siter_done(&it);
        while (n > count) {
            size_t i = (size_t)(rand64() % n);
            n--;
            if (i != n) {
                all[i] = all[n];
                if (all[n].s == all[n].buf) all[i].s = all[i].buf;
            }
        }
        for (size_t i = 0; i < n; i++) reply_member(c, &all[i]);
        xfree(all);
        return;
    }
    /* CASE 4: random picks, repeats dropped */
    dict *seen = dict_new(&selem_dict_type);
    dict_reserve(seen, (size_t)count);
    size_t added = 0;
    while (added < count) {
        smember m;
        sval_random(&s, &m);
        if (dict_find(seen, m.s, m.len)) continue;
        dict_add(seen, selem_new(m.s, m.len));
        added++;
        reply_member(c, &m);
    }
    dict_free(seen, selem_free_cb, NULL);
}

void srandmember_command(client *c) {
    if (c->argc == 3) {
        srandmember_with_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_SET, &err);
    if (err) return;
    if (!o) {
        reply_null(c);
        return;
    }
    sval s = sval_of(o);
    smember m;
    sval_random(&s, &m);
    reply_member(c, &m);
}

/* ---- SINTER family ------------------------------------------------------------------------- */

/* Looks up the sets named by keys[0..n): NULL entries for missing keys.
 * ERR (WRONGTYPE replied) when one holds another type. */
static int load_sets(client *c, const resp_arg *keys, int n, sval *sets, int *present) {
    for (int j = 0; j < n; j++) {
        kobj *o = lookup_read(c, &keys[j]);
        if (o && o->type != OBJ_SET) {
            reply_error(c, ERR_WRONGTYPE);
            return ERR;
        }
        present[j] = o != NULL;
        if (o) sets[j] = sval_of(o);
    }
    return OK;
}

static int cmp_by_size(const void *a, const void *b) {
    size_t x = sval_size(a), y = sval_size(b);
    return x < y ? -1 : x > y;
}

/* SINTER, SINTERCARD (cardinality_only, limit; 0 = none), SINTERSTORE (dst). */
static void sinter_generic(client *c, const resp_arg *keys, int n, const resp_arg *dst,
                           int cardinality_only, unsigned long long limit) {
    sval *sets = xmalloc(sizeof(sval) * (size_t)n);
    int *present = xmalloc(sizeof(int) * (size_t)n);
    int empty = 0;
    if (load_sets(c, keys, n, sets, present) != OK) goto done;
    for (int j = 0; j < n; j++) empty += !present[j];
    if (empty) {
        if (dst) {
            sval none = sval_new_intset();
            store_result(c, dst, &none, "sinterstore");
            reply_int(c, 0);
        } else if (cardinality_only) {
            reply_int(c, 0);
        } else {
            reply_set(c, 0);
        }
        goto done;
    }
    qsort(sets, (size_t)n, sizeof(sval), cmp_by_size);
    sval out = sval_new_intset();
    void *h = dst || cardinality_only ? NULL : reply_defer_len(c);
    unsigned long long card = 0;
    siter it;
    smember m;
    siter_init(&it, &sets[0]);
    while (siter_next(&it, &m)) {
        int j;
        for (j = 1; j < n; j++) {
            if (sets[j].p == sets[0].p) continue;
            if (!sval_contains(&sets[j], m.s, m.len)) break;
        }
        if (j < n) continue;
        if (cardinality_only) {
            card++;
            if (limit && card >= limit) break;
        } else if (!dst) {
            reply_member(c, &m);
            card++;
        } else {
            sval_add(&out, m.s, m.len);
        }
    }
    siter_done(&it);
    if (cardinality_only) {
        reply_int(c, (long long)card);
        sval_free(&out);
    } else if (dst) {
        reply_int(c, (long long)store_result(c, dst, &out, "sinterstore"));
    } else {
        reply_set_deferred_set(c, h, (long)card);
        sval_free(&out);
    }
done:
    xfree(sets);
    xfree(present);
}

void smembers_command(client *c) {
    sinter_generic(c, &c->argv[1], 1, NULL, 0, 0);
}
void sinter_command(client *c) {
    sinter_generic(c, &c->argv[1], c->argc - 1, NULL, 0, 0);
}
void sinterstore_command(client *c) {
    sinter_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], 0, 0);
}

void sintercard_command(client *c) {
    long long numkeys, limit = 0;
    if (arg_long_range_or_reply(c, &c->argv[1], 1, LLONG_MAX, &numkeys,
                                "ERR numkeys should be greater than 0") != OK)
        return;
    if (numkeys > c->argc - 2) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_is(&c->argv[j], "limit") && more) {
            j++;
            if (arg_long_range_or_reply(c, &c->argv[j], 0, LLONG_MAX, &limit,
                                        "ERR LIMIT can't be negative") != OK)
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    sinter_generic(c, &c->argv[2], (int)numkeys, NULL, 1, (unsigned long long)limit);
}

int getkeys_sintercard(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    long long n;
    if (argc < 3 || !str_to_ll(argv[1].p, argv[1].len, &n) || n < 1 || n > argc - 2) return 0;
    int k = 0;
    for (long long i = 0; i < n && k < max; i++) keys[k++] = 2 + (int)i;
    return k;
}

enum { SET_OP_UNION, SET_OP_DIFF };

static int cmp_by_size_desc(const void *a, const void *b) {
    return cmp_by_size(b, a);
}

static void sunion_diff_generic(client *c, const resp_arg *keys, int n, const resp_arg *dst,
                                int op) {
    sval *sets = xmalloc(sizeof(sval) * (size_t)n);
    int *present = xmalloc(sizeof(int) * (size_t)n);
    if (load_sets(c, keys, n, sets, present) != OK) goto done;
    /* missing keys are empty sets: keep only the present ones, but remember
     * whether the first (the one SDIFF subtracts from) is there */
    int first_present = present[0], sameset = 0, m = 0;
    for (int j = 0; j < n; j++) {
        if (!present[j]) continue;
        if (j > 0 && first_present && sets[j].p == sets[0].p) sameset = 1;
        sets[m++] = sets[j];
    }
    sval out = sval_new_intset();
    if (op == SET_OP_UNION) {
        for (int j = 0; j < m; j++) {
            siter it;
            smember e;
            siter_init(&it, &sets[j]);
            while (siter_next(&it, &e)) sval_add(&out, e.s, e.len);
            siter_done(&it);
        }
    } else if (first_present && !sameset) {
        long long work1 = 0, work2 = 0;
        for (int j = 0; j < m; j++) {
            work1 += (long long)sval_size(&sets[0]);
            work2 += (long long)sval_size(&sets[j]);
        }
        work1 /= 2;
        if (work1 <= work2) {
            /* algorithm 1: each member of the first, checked against the others */
            if (m > 1) qsort(sets + 1, (size_t)m - 1, sizeof(sval), cmp_by_size_desc);
            siter it;
            smember e;
            siter_init(&it, &sets[0]);
            while (siter_next(&it, &e)) {
                int j;
                for (j = 1; j < m; j++)
                    if (sval_contains(&sets[j], e.s, e.len)) break;
                if (j == m) sval_add(&out, e.s, e.len);
            }
            siter_done(&it);
        } else {
            /* algorithm 2: add the first, remove all the others */
            for (int j = 0; j < m; j++) {
                siter it;
                smember e;
                siter_init(&it, &sets[j]);
                while (siter_next(&it, &e)) {
                    if (j == 0)
                        sval_add(&out, e.s, e.len);
                    else
                        sval_remove(&out, e.s, e.len);
                }
                siter_done(&it);
                if (sval_size(&out) == 0) break;
            }
        }
    }
    if (!dst) {
        reply_whole_set(c, &out);
        sval_free(&out);
    } else {
        reply_int(c, (long long)store_result(c, dst, &out,
                                             op == SET_OP_UNION ? "sunionstore" : "sdiffstore"));
    }
done:
    xfree(sets);
    xfree(present);
}

void sunion_command(client *c) {
    sunion_diff_generic(c, &c->argv[1], c->argc - 1, NULL, SET_OP_UNION);
}
void sunionstore_command(client *c) {
    sunion_diff_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], SET_OP_UNION);
}
void sdiff_command(client *c) {
    sunion_diff_generic(c, &c->argv[1], c->argc - 1, NULL, SET_OP_DIFF);
}
void sdiffstore_command(client *c) {
    sunion_diff_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], SET_OP_DIFF);
}

/* ---- SSCAN ---------------------------------------------------------------------------------- */

typedef struct sscan_acc {
    sbuf bytes;
    size_t *lens;
    size_t n, cap;
} sscan_acc;

static void sacc_push(sscan_acc *a, const char *s, size_t len) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->lens = xrealloc(a->lens, sizeof(size_t) * a->cap);
    }
    sbuf_append(&a->bytes, s, len);
    a->lens[a->n++] = len;
}

static void sscan_collect(void *ctx, void *e) {
    selem *m = e;
    sacc_push(ctx, m->s, m->len);
}

void sscan_command(client *c) {
    uint64_t cursor;
    if (scan_cursor_or_reply(c, &c->argv[2], &cursor) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_SET, &err);
    if (err) return;
    if (!o) {
        reply_array(c, 2);
        reply_bulk_cstr(c, "0");
        reply_empty_array(c);
        return;
    }
    scan_opts opt;
    if (scan_options_or_reply(c, 3, 0, &opt) != OK) return;
    sval s = sval_of(o);
    sscan_acc acc = {SBUF_INIT, NULL, 0, 0};
    if (s.enc == ENC_HASHTABLE) {
        long long maxiter = opt.count * 10;
        do {
            cursor = dict_scan(s.p, cursor, sscan_collect, &acc);
        } while (cursor && maxiter-- && acc.n < (size_t)opt.count);
    } else {
        siter it;
        smember m;
        siter_init(&it, &s);
        while (siter_next(&it, &m)) sacc_push(&acc, m.s, m.len);
        siter_done(&it);
        cursor = 0;
    }
    reply_array(c, 2);
    char buf[LONG_STR_SIZE];
    reply_bulk(c, buf, (size_t)ull_to_str(buf, cursor));
    void *h = reply_defer_len(c);
    long n = 0;
    size_t off = 0;
    for (size_t i = 0; i < acc.n; i++) {
        const char *e = acc.bytes.p + off;
        off += acc.lens[i];
        if (!scan_matches(&opt, e, acc.lens[i])) continue;
        reply_bulk(c, e, acc.lens[i]);
        n++;
    }
    reply_set_deferred_array(c, h, n);
    sbuf_free(&acc.bytes);
    xfree(acc.lens);
}

/* ---- hooks for the sorted set family (commands.h) ---------------------------------------- */
/* ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD take sets as inputs (score 1):
 * they read them through these three functions. */

unsigned long set_members_count(const kobj *set) {
    sval s = sval_of(set);
    return (unsigned long)sval_size(&s);
}

int set_has_member(const kobj *set, const char *member, size_t len) {
    sval s = sval_of(set);
    return sval_contains(&s, member, len);
}

void set_for_each_member(const kobj *set, set_each_fn *fn, void *ctx) {
    sval s = sval_of(set);
    siter it;
    smember m;
    siter_init(&it, &s);
    while (siter_next(&it, &m))
        if (fn(ctx, m.s, m.len)) break;
    siter_done(&it);
}
