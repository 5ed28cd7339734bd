/* kv/object — see object.h. */
#include "kv/object.h"
#include "util/clock.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <assert.h>
#include <stdlib.h>

static const kobj_type_ops *type_ops[OBJ_TYPES];

uint32_t kv_lru_clock;
int kv_lfu_mode;
int kv_lfu_log_factor = 10, kv_lfu_decay_time = 1;

void kobj_register_type(int type, const kobj_type_ops *ops) {
    type_ops[type] = ops;
}

static kobj *alloc_entry(size_t extra, size_t klen, size_t vroom) {
    assert(klen <= UINT32_MAX && vroom <= UINT32_MAX);
    kobj *o = xmalloc(sizeof(kobj) + extra + klen + vroom);
    memset(o, 0, sizeof(kobj));
    o->klen = (uint32_t)klen;
    return o;
}

void kobj_init_access(kobj *o) {
    if (kv_lfu_mode)
        o->lru = kv_lfu_minutes() << 8 | 5; /* LFU_INIT_VAL */
    else
        o->lru = kv_lru_clock;
}

kobj *kobj_new_string_ex(const char *key, size_t klen, const char *val, size_t vlen, size_t cap,
                         int64_t expire) {
    if (cap < vlen) cap = vlen;
    size_t extra = expire >= 0 ? KOBJ_EXPIRE_SIZE : 0;
    kobj *o = alloc_entry(extra, klen, cap);
    o->type = OBJ_STRING;
    o->vlen = (uint32_t)vlen;
    if (expire >= 0) {
        o->flags = KF_EXPIRE;
        kobj_set_expire_field(o, expire);
    }
    memcpy(o->data + extra, key, klen);
    if (vlen) memcpy(o->data + extra + klen, val, vlen);
    kobj_init_access(o);
    kobj_string_classify(o);
    return o;
}

kobj *kobj_new_string(const char *key, size_t klen, const char *val, size_t vlen, size_t cap) {
    return kobj_new_string_ex(key, klen, val, vlen, cap, -1);
}

kobj *kobj_new_ptr(int type, int enc, const char *key, size_t klen, void *ptr) {
    kobj *o = alloc_entry(0, klen, sizeof(void *));
    o->type = (uint8_t)type;
    o->enc = (uint8_t)enc;
    memcpy(o->data, key, klen);
    kobj_set_ptr(o, ptr);
    kobj_init_access(o);
    return o;
}

kobj *kobj_new_inline(int type, int enc, const char *key, size_t klen, const void *bytes,
                      size_t len, size_t cap) {
    if (cap < len) cap = len;
    kobj *o = alloc_entry(0, klen, cap);
    o->type = (uint8_t)type;
    o->enc = (uint8_t)enc;
    o->flags = KF_INLINE;
    o->vlen = (uint32_t)len;
    memcpy(o->data, key, klen);
    if (len) memcpy(o->data + klen, bytes, len);
    kobj_init_access(o);
    return o;
}

kobj *kobj_new_value(int type, int enc, const char *key, size_t klen, void *ptr) {
    const kobj_type_ops *ops = kobj_type_ops_of(type);
    size_t n = ops && ops->inline_size ? ops->inline_size(ptr, enc) : 0;
    if (!n) return kobj_new_ptr(type, enc, key, klen, ptr);
    kobj *o = kobj_new_inline(type, enc, key, klen, ptr, n, n);
    xfree(ptr);
    return o;
}

kobj *kobj_with_value(const kobj *o, int enc, const void *ptr_or_bytes, size_t inline_len) {
    size_t extra = kobj_extra(o), room = inline_len ? inline_len : sizeof(void *);
    kobj *n = alloc_entry(extra, o->klen, room);
    memcpy(n, o, sizeof(kobj));
    n->enc = (uint8_t)enc;
    n->flags = (uint8_t)((o->flags & ~KF_INLINE) | (inline_len ? KF_INLINE : 0));
    n->vlen = (uint32_t)inline_len;
    memcpy(n->data, o->data, extra + o->klen);
    if (inline_len)
        memcpy(kobj_val(n), ptr_or_bytes, inline_len);
    else
        kobj_set_ptr(n, (void *)ptr_or_bytes);
    return n;
}

size_t kobj_str_capacity(const kobj *o) {
    return xmem_usable(o) - sizeof(kobj) - kobj_extra(o) - o->klen;
}

kobj *kobj_relayout(kobj *o, int with_expire, int with_meta, size_t vcap) {
    size_t vsize = kobj_val_size(o);
    if (!kobj_is_inline(o)) vcap = sizeof(void *);
    if (vcap < vsize) vcap = vsize;
    size_t extra = (with_expire ? KOBJ_EXPIRE_SIZE : 0) + (with_meta ? 8 : 0);
    kobj *n = alloc_entry(extra, o->klen, vcap);
    memcpy(n, o, sizeof(kobj));
    n->flags = (uint8_t)((o->flags & ~(KF_EXPIRE | KF_META)) | (with_expire ? KF_EXPIRE : 0) |
                         (with_meta ? KF_META : 0));
    char *d = n->data;
    if (with_expire) {
        /* the whole block: time and expire-set position (the db layer sets
         * the position of an entry that had none) */
        if (o->flags & KF_EXPIRE)
            memcpy(d, o->data, KOBJ_EXPIRE_SIZE);
        else
            memset(d, 0xff, KOBJ_EXPIRE_SIZE);
        d += KOBJ_EXPIRE_SIZE;
    }
    if (with_meta) {
        kobj_meta m = {0, 0};
        if (o->flags & KF_META) m = *kobj_meta_of(o);
        memcpy(d, &m, 8);
        d += 8;
    }
    memcpy(d, kobj_key(o), o->klen + vsize);
    return n;
}

const kobj_type_ops *kobj_type_ops_of(int type) {
    return type >= 0 && type < OBJ_TYPES ? type_ops[type] : NULL;
}

kobj *kobj_rekey(kobj *o, const char *key, size_t klen) {
    size_t extra = kobj_extra(o), vsize = kobj_is_inline(o) ? kobj_str_capacity(o) : sizeof(void *);
    kobj *n = alloc_entry(extra, klen, vsize);
    memcpy(n, o, sizeof(kobj));
    n->klen = (uint32_t)klen;
    n->tag = 0; /* a fact about the old name */
    memcpy(n->data, o->data, extra);
    memcpy(n->data + extra, key, klen);
    memcpy(n->data + extra + klen, kobj_val(o), kobj_val_size(o));
    xfree(o);
    return n;
}

void kobj_free(kobj *o) {
    if (!o) return;
    if (!kobj_is_inline(o) && type_ops[o->type]) type_ops[o->type]->free_value(kobj_ptr(o), o->enc);
    xfree(o);
}

kobj *kobj_dup(const kobj *o, const char *key, size_t klen) {
    kobj *n;
    if (o->type == OBJ_STRING) {
        n = kobj_new_string(key, klen, kobj_val(o), o->vlen, o->vlen);
        n->enc = o->enc;
    } else if (o->flags & KF_INLINE) {
        n = kobj_new_inline(o->type, o->enc, key, klen, kobj_val(o), o->vlen, o->vlen);
    } else {
        assert(type_ops[o->type]);
        n = kobj_new_ptr(o->type, o->enc, key, klen,
                         type_ops[o->type]->dup_value(kobj_ptr(o), o->enc));
    }
    if (o->flags & KF_EXPIRE) {
        kobj *e = kobj_relayout(n, 1, 0, n->vlen);
        xfree(n);
        n = e;
        kobj_set_expire_field(n, kobj_expire(o));
    }
    return n;
}

size_t kobj_mem(const kobj *o, size_t samples) {
    size_t n = xmem_usable(o);
    if (!kobj_is_inline(o) && type_ops[o->type] && type_ops[o->type]->mem_value)
        n += type_ops[o->type]->mem_value(kobj_ptr(o), o->enc, samples);
    return n;
}

void kobj_string_classify(kobj *o) {
    long long v;
    if (o->vlen <= 20 && str_to_ll(kobj_val(o), o->vlen, &v))
        o->enc = ENC_INT;
    else
        o->enc = o->vlen <= 44 ? ENC_EMBSTR : ENC_RAW;
}

const char *kobj_type_name(int type) {
    static const char *names[] = {"string", "list", "set", "zset", "hash", "stream"};
    return type >= 0 && type < OBJ_TYPES ? names[type] : "none";
}

const char *kobj_enc_name(const kobj *o) {
    if (o->type != OBJ_STRING && type_ops[o->type] && type_ops[o->type]->enc_name)
        return type_ops[o->type]->enc_name(kobj_value(o), o->enc);
    switch (o->enc) {
    case ENC_RAW:
        return "raw";
    case ENC_INT:
        return "int";
    case ENC_EMBSTR:
        return "embstr";
    case ENC_HASHTABLE:
        return "hashtable";
    case ENC_LISTPACK:
        return "listpack";
    case ENC_QUICKLIST:
        return "quicklist";
    case ENC_INTSET:
        return "intset";
    case ENC_SKIPLIST:
        return "skiplist";
    case ENC_LINKEDLIST:
        return "linkedlist";
    }
    return "unknown";
}

/* ---- LRU / LFU (Redis's approximations, same parameters) ----------------- */

uint32_t kv_lru_clock_now(void) {
    return (uint32_t)((clock_mstime() / LRU_CLOCK_RES_MS) & LRU_CLOCK_MAX);
}

static unsigned long lru_idle_clock(const kobj *o) {
    uint32_t now = kv_lru_clock;
    return now >= o->lru ? now - o->lru : (LRU_CLOCK_MAX - o->lru) + now;
}

unsigned long long kobj_idle_ms(const kobj *o) {
    return (unsigned long long)lru_idle_clock(o) * LRU_CLOCK_RES_MS;
}

unsigned kv_lfu_minutes(void) {
    return (unsigned)((clock_mstime() / 60000) & 0xffff);
}

static unsigned lfu_decr(const kobj *o) {
    unsigned ldt = o->lru >> 8, counter = o->lru & 255, now = kv_lfu_minutes();
    unsigned elapsed = now >= ldt ? now - ldt : 65535 - ldt + now;
    unsigned periods = kv_lfu_decay_time ? elapsed / (unsigned)kv_lfu_decay_time : 0;
    return periods > counter ? 0 : counter - periods;
}

unsigned kobj_lfu_freq(const kobj *o) {
    return lfu_decr(o);
}

static unsigned lfu_log_incr(unsigned counter) {
    if (counter == 255) return 255;
    double r = (double)rand() / RAND_MAX;
    double base = counter > 5 ? counter - 5 : 0;
    double p = 1.0 / (base * kv_lfu_log_factor + 1);
    return r < p ? counter + 1 : counter;
}

void kobj_touch(kobj *o) {
    if (kv_lfu_mode) {
        unsigned counter = lfu_log_incr(lfu_decr(o));
        o->lru = (kv_lfu_minutes() << 8) | counter;
    } else {
        o->lru = kv_lru_clock;
    }
}
