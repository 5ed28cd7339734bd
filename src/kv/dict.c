/* kv/dict — see dict.h for the design and invariants. */
#include "kv/dict.h"
#include "util/hash.h"
#include "util/mem.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define TAG_SHIFT 48
#define PTR_MASK ((((uintptr_t)1) << TAG_SHIFT) - 1)
#define MIN_SIZE 4

/* LeakSanitizer follows only plain pointers: under AddressSanitizer the slots
 * carry no hash bits, so every entry stays reachable through its table and a
 * leak is still a leak. */
#ifdef MEM_ASAN
#define SLOT_TAGS 0
#else
#define SLOT_TAGS 1
#endif

static inline uintptr_t slot_tag(uint64_t h) {
    return SLOT_TAGS ? (uintptr_t)(h >> TAG_SHIFT) << TAG_SHIFT : 0;
}
static inline uintptr_t make_slot(void *e, uint64_t h) {
    uintptr_t p = (uintptr_t)e;
    assert(p && (p & ~PTR_MASK) == 0); /* invariant 5 */
    return p | slot_tag(h);
}
static inline void *slot_ptr(uintptr_t s) {
    return (void *)(s & PTR_MASK);
}

uint64_t dict_hash_bytes(const void *key, size_t len) {
    return hash_bytes(key, len);
}

static inline uint64_t entry_hash(const dict *d, const void *e) {
    if (d->type->entry_hash) return d->type->entry_hash(e);
    size_t len;
    const void *k = d->type->entry_key(e, &len);
    return d->type->hash(k, len);
}

static inline int entry_is(const dict *d, uintptr_t s, uint64_t h, const void *key, size_t len) {
    if ((s & ~PTR_MASK) != slot_tag(h)) return 0;
    size_t elen;
    const void *ek = d->type->entry_key(slot_ptr(s), &elen);
    return elen == len && memcmp(ek, key, len) == 0;
}

void dict_init(dict *d, const dict_type *type) {
    memset(d, 0, sizeof(*d));
    d->type = type;
}

dict *dict_new(const dict_type *type) {
    dict *d = xmalloc(sizeof(*d));
    dict_init(d, type);
    return d;
}

static size_t table_size(const dict_table *t) {
    return t->slots ? t->mask + 1 : 0;
}

size_t dict_mem(const dict *d) {
    return (table_size(&d->t[0]) + table_size(&d->t[1])) * sizeof(uintptr_t);
}

static void table_alloc(dict_table *t, size_t size) {
    t->slots = xcalloc(size, sizeof(uintptr_t));
    t->mask = size - 1;
    t->used = 0;
}

static void table_free(dict_table *t) {
    xfree(t->slots);
    memset(t, 0, sizeof(*t));
}

void dict_clear(dict *d, void (*free_entry)(void *ctx, void *entry), void *ctx) {
    for (int i = 0; i < 2; i++) {
        dict_table *t = &d->t[i];
        if (free_entry && t->used)
            for (size_t j = 0; j < table_size(t); j++)
                if (t->slots[j]) free_entry(ctx, slot_ptr(t->slots[j]));
        table_free(t);
    }
    d->rehashing = 0;
    d->rehash_left = 0;
}

void dict_free(dict *d, void (*free_entry)(void *ctx, void *entry), void *ctx) {
    if (!d) return;
    dict_clear(d, free_entry, ctx);
    xfree(d);
}

/* Places an entry into table t by linear probing (the key is known absent). */
static void table_put(dict_table *t, uintptr_t s, uint64_t h) {
    size_t i = h & t->mask;
    while (t->slots[i]) i = (i + 1) & t->mask;
    t->slots[i] = s;
    t->used++;
}

/* Index of the key in t, or -1. */
static long table_find(const dict *d, const dict_table *t, uint64_t h, const void *key,
                       size_t len) {
    if (!t->slots || !t->used) return -1;
    size_t i = h & t->mask;
    for (;;) {
        uintptr_t s = t->slots[i];
        if (!s) return -1;
        if (entry_is(d, s, h, key, len)) return (long)i;
        i = (i + 1) & t->mask;
    }
}

/* Removes slot i from t and backward-shifts the rest of its cluster (invariant 1). */
static void table_delete_at(const dict *d, dict_table *t, size_t i) {
    size_t mask = t->mask;
    t->slots[i] = 0;
    t->used--;
    size_t j = (i + 1) & mask;
    while (t->slots[j]) {
        size_t home = entry_hash(d, slot_ptr(t->slots[j])) & mask;
        /* The entry at j may move to i when i lies cyclically in [home, j). */
        int movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            t->slots[i] = t->slots[j];
            t->slots[j] = 0;
            i = j;
        }
        j = (j + 1) & mask;
    }
}

static size_t first_empty(const dict_table *t) {
    for (size_t i = 0;; i++)
        if (!t->slots[i]) return i; /* load < 1 guarantees one */
}

static void start_resize(dict *d, size_t size) {
    if (size < MIN_SIZE) size = MIN_SIZE;
    if (!d->t[0].slots) {
        table_alloc(&d->t[0], size);
        return;
    }
    if (size == table_size(&d->t[0])) return;
    table_alloc(&d->t[1], size);
    d->rehashing = 1;
    d->rehash_start = first_empty(&d->t[0]);
    d->rehash_pos = d->rehash_start;
    d->rehash_left = table_size(&d->t[0]);
}

static void finish_resize(dict *d) {
    assert(d->t[0].used == 0);
    table_free(&d->t[0]);
    d->t[0] = d->t[1];
    memset(&d->t[1], 0, sizeof(d->t[1]));
    d->rehashing = 0;
    d->rehash_left = 0;
}

/* Moves the next whole cluster of t[0] to t[1] (invariant 3). */
static void move_cluster(dict *d) {
    dict_table *t0 = &d->t[0], *t1 = &d->t[1];
    /* skip empty slots */
    while (d->rehash_left && !t0->slots[d->rehash_pos]) {
        d->rehash_pos = (d->rehash_pos + 1) & t0->mask;
        d->rehash_left--;
    }
    while (d->rehash_left && t0->slots[d->rehash_pos]) {
        uintptr_t s = t0->slots[d->rehash_pos];
        table_put(t1, s, entry_hash(d, slot_ptr(s)));
        t0->slots[d->rehash_pos] = 0;
        t0->used--;
        d->rehash_pos = (d->rehash_pos + 1) & t0->mask;
        d->rehash_left--;
    }
}

int dict_rehash_steps(dict *d, int n) {
    if (!d->rehashing || d->iterators) return d->rehashing;
    while (n-- > 0 && d->rehash_left && d->t[0].used) move_cluster(d);
    if (d->t[0].used == 0 || d->rehash_left == 0) {
        assert(d->t[0].used == 0);
        finish_resize(d);
    }
    return d->rehashing;
}

static inline void step(dict *d) {
    if (d->rehashing && !d->iterators) dict_rehash_steps(d, 1);
}

static size_t pow2_at_least(size_t n) {
    size_t s = MIN_SIZE;
    while (s < n) s <<= 1;
    return s;
}

void dict_reserve(dict *d, size_t n) {
    if (d->rehashing) {
        if (d->iterators) return;
        while (d->rehashing) dict_rehash_steps(d, 1 << 20);
    }
    size_t want = pow2_at_least(n + n / 3 + 1);
    if (want > table_size(&d->t[0])) start_resize(d, want);
}

void *dict_find(dict *d, const void *key, size_t len) {
    uint64_t h;
    return dict_find_h(d, key, len, &h);
}

void *dict_find_h(dict *d, const void *key, size_t len, uint64_t *hout) {
    uint64_t h = d->type->hash(key, len);
    *hout = h;
    return dict_find_hashed(d, key, len, h);
}

void *dict_find_hashed(dict *d, const void *key, size_t len, uint64_t h) {
    if (dict_size(d) == 0) return NULL;
    step(d);
    for (int i = 0; i < 1 + d->rehashing; i++) {
        long at = table_find(d, &d->t[i], h, key, len);
        if (at >= 0) return slot_ptr(d->t[i].slots[at]);
    }
    return NULL;
}

void dict_add(dict *d, void *entry) {
    dict_add_h(d, entry, entry_hash(d, entry));
}

void dict_add_h(dict *d, void *entry, uint64_t h) {
    step(d);
    dict_table *t = &d->t[d->rehashing];
    if (!t->slots) start_resize(d, MIN_SIZE);
    if (!d->rehashing && (t->used + 1) * 4 > table_size(t) * 3) {
        start_resize(d, table_size(t) * 2);
    } else if (d->rehashing && (t->used + 1) * 8 > table_size(t) * 7) {
        /* the new table filled up before the old drained (only when resizing
         * is paused by iterators for long): it must not fill completely */
        assert(!d->iterators || (t->used + 1) < table_size(t));
        if (!d->iterators) {
            while (d->rehashing) dict_rehash_steps(d, 1 << 20);
            start_resize(d, table_size(&d->t[0]) * 2);
        }
    }
    table_put(&d->t[d->rehashing], make_slot(entry, h), h);
}

void *dict_remove(dict *d, const void *key, size_t len) {
    if (dict_size(d) == 0) return NULL;
    return dict_remove_h(d, key, len, d->type->hash(key, len));
}

void *dict_remove_h(dict *d, const void *key, size_t len, uint64_t h) {
    if (dict_size(d) == 0) return NULL;
    step(d);
    for (int i = 0; i < 1 + d->rehashing; i++) {
        long at = table_find(d, &d->t[i], h, key, len);
        if (at >= 0) {
            void *e = slot_ptr(d->t[i].slots[at]);
            table_delete_at(d, &d->t[i], (size_t)at);
            if (!d->iterators) dict_maybe_shrink(d);
            return e;
        }
    }
    return NULL;
}

void dict_replace(dict *d, const void *old, void *repl) {
    uint64_t h = entry_hash(d, old);
    for (int i = 0; i < 1 + d->rehashing; i++) {
        dict_table *t = &d->t[i];
        if (!t->slots || !t->used) continue;
        for (size_t j = h & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
            if (slot_ptr(t->slots[j]) == old) {
                t->slots[j] = make_slot(repl, h);
                return;
            }
        }
    }
    assert(!"dict_replace: entry not found");
}

void dict_keep_slots(dict *d, size_t n) {
    assert(n >= 2 && (n & (n - 1)) == 0);
    d->keep_log2 = (unsigned char)__builtin_ctzll(n);
}

void dict_maybe_shrink(dict *d) {
    if (d->rehashing || d->iterators) return;
    size_t size = table_size(&d->t[0]), keep = d->keep_log2 ? (size_t)1 << d->keep_log2 : 0;
    if (size <= MIN_SIZE || size <= keep) return;
    if (d->t[0].used == 0 && !keep) {
        table_free(&d->t[0]);
        return;
    }
    if (d->t[0].used * 8 < size) {
        size_t want = pow2_at_least(d->t[0].used * 2);
        start_resize(d, want > keep ? want : keep);
    }
}

void *dict_random(dict *d) {
    if (dict_size(d) == 0) return NULL;
    step(d);
    size_t s0 = table_size(&d->t[0]), s1 = d->rehashing ? table_size(&d->t[1]) : 0;
    for (;;) {
        size_t r = ((size_t)random() << 31 ^ (size_t)random()) % (s0 + s1);
        uintptr_t s = r < s0 ? d->t[0].slots[r] : d->t[1].slots[r - s0];
        if (s) return slot_ptr(s);
    }
}

size_t dict_sample(dict *d, void **out, size_t n) {
    size_t total = dict_size(d);
    if (total == 0 || n == 0) return 0;
    if (n > total) n = total;
    step(d);
    size_t got = 0, walked = 0, maxsteps = n * 10;
    int tables = 1 + d->rehashing;
    size_t i = (size_t)random() << 31 ^ (size_t)random();
    /* Each table is walked at most once round, so no entry is returned twice. */
    while (got < n && walked < maxsteps) {
        int live = 0;
        for (int t = 0; t < tables && got < n; t++) {
            dict_table *tb = &d->t[t];
            if (!tb->slots || walked > tb->mask) continue;
            live = 1;
            uintptr_t s = tb->slots[(i + walked) & tb->mask];
            if (s) out[got++] = slot_ptr(s);
        }
        if (!live) break;
        walked++;
    }
    return got;
}

/* Emits the elements whose home bucket in t is h (they lie in the run from h). */
static void visit_home(const dict *d, const dict_table *t, size_t h,
                       void (*fn)(void *ctx, void *entry), void *ctx) {
    if (!t->slots) return;
    for (size_t j = h; t->slots[j]; j = (j + 1) & t->mask) {
        void *e = slot_ptr(t->slots[j]);
        if ((entry_hash(d, e) & t->mask) == h) fn(ctx, e);
        if (((j + 1) & t->mask) == h) break; /* a full wrap cannot happen at load < 1 */
    }
}

static inline uint64_t rev64(uint64_t v) {
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

uint64_t dict_scan(dict *d, uint64_t v, void (*fn)(void *ctx, void *entry), void *ctx) {
    if (dict_size(d) == 0) return 0;
    d->iterators++; /* no resize steps while callbacks run */
    if (!d->rehashing) {
        dict_table *t = &d->t[0];
        uint64_t m0 = t->mask;
        visit_home(d, t, v & m0, fn, ctx);
        v |= ~m0;
        v = rev64(v);
        v++;
        v = rev64(v);
    } else {
        dict_table *small = &d->t[0], *large = &d->t[1];
        if (table_size(small) > table_size(large)) {
            small = &d->t[1];
            large = &d->t[0];
        }
        uint64_t m0 = small->mask, m1 = large->mask;
        visit_home(d, small, v & m0, fn, ctx);
        do {
            visit_home(d, large, v & m1, fn, ctx);
            v |= ~m1;
            v = rev64(v);
            v++;
            v = rev64(v);
        } while (v & (m0 ^ m1));
    }
    d->iterators--;
    return v;
}

/* ---- iteration ---------------------------------------------------------- */

void dict_iter_init(dict_iter *it, dict *d) {
    memset(it, 0, sizeof(*it));
    it->d = d;
    d->iterators++;
}

void dict_iter_done(dict_iter *it) {
    if (!it->d) return;
    it->d->iterators--;
    it->d = NULL;
}

/* Each table is walked from one of its empty slots all the way round, so a
 * backward shift after dict_iter_delete only ever pulls not-yet-visited
 * entries into the current slot, which is then looked at again. */
void *dict_iter_next(dict_iter *it) {
    dict *d = it->d;
    while (it->table < 2) {
        dict_table *t = &d->t[it->table];
        if (!t->slots || (it->table == 1 && !d->rehashing)) {
            it->table++;
            it->started = 0;
            continue;
        }
        if (!it->started) {
            it->started = 1;
            it->pos = first_empty(t);
            it->left = t->mask + 1;
            it->last = 0;
        } else if (it->last && t->slots[it->pos] == it->last) {
            it->pos = (it->pos + 1) & t->mask; /* the entry returned last is still here */
            it->left--;
        }
        it->last = 0;
        while (it->left) {
            uintptr_t s = t->slots[it->pos];
            if (s) {
                it->last = s;
                return slot_ptr(s);
            }
            it->pos = (it->pos + 1) & t->mask;
            it->left--;
        }
        it->table++;
        it->started = 0;
    }
    return NULL;
}

void dict_iter_delete(dict_iter *it) {
    assert(it->last);
    dict_table *t = &it->d->t[it->table];
    assert(t->slots[it->pos] == it->last);
    table_delete_at(it->d, t, it->pos);
    it->last = 0; /* the slot now holds the next entry of the run, or nothing */
}
