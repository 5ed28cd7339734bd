/* server/evict — maxmemory and the eviction policies.
 *
 * Redis's approximated LRU/LFU/TTL: sample maxmemory-samples keys per db into
 * a pool of the 16 best candidates (highest idle score), evict the best, and
 * repeat until under maxmemory. Random policies pick any key. Entries with a
 * write-behind write pending (the key_pinned hook) are never evicted: they
 * are not in the store yet, so evicting them would lose an acknowledged write.
 *
 * Invariants:
 *  1. pool[] is sorted by ascending idle score; empty slots have used == 0.
 *  2. A pool entry owns a copy of its key (the entry itself may be gone):
 *     in buf, or in heap when longer. Keys of any length are candidates (a
 *     cap left a keyspace of long keys with nothing to evict: every write
 *     refused with OOM). */
#include "server/server.h"
#include "server/hooks.h"
#include "util/clock.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include <limits.h>
#include <string.h>

#define POOL_SIZE 16
#define POOL_KEY_INLINE 255

typedef struct pool_entry {
    unsigned long long idle;
    int dbid;
    int used;
    size_t klen;
    char *heap;                    /* a key longer than buf's room (else NULL) */
    char buf[POOL_KEY_INLINE + 1]; /* a shorter key */
} pool_entry;

static pool_entry pool[POOL_SIZE];

static const struct {
    const char *name;
    int policy;
} policy_names[] = {
    {"volatile-lru", MAXMEMORY_VOLATILE_LRU},       {"volatile-lfu", MAXMEMORY_VOLATILE_LFU},
    {"volatile-random", MAXMEMORY_VOLATILE_RANDOM}, {"volatile-ttl", MAXMEMORY_VOLATILE_TTL},
    {"allkeys-lru", MAXMEMORY_ALLKEYS_LRU},         {"allkeys-lfu", MAXMEMORY_ALLKEYS_LFU},
    {"allkeys-random", MAXMEMORY_ALLKEYS_RANDOM},   {"noeviction", MAXMEMORY_NOEVICTION}};

const char *maxmemory_policy_name(int p) {
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
        if (policy_names[i].policy == p) return policy_names[i].name;
    return "unknown";
}

size_t used_memory(void) {
    return xmem_used();
}

int over_maxmemory(void) {
    return server.maxmemory && used_memory() > server.maxmemory;
}

static int volatile_policy(void) {
    int p = server.maxmemory_policy;
    return p == MAXMEMORY_VOLATILE_LRU || p == MAXMEMORY_VOLATILE_LFU ||
           p == MAXMEMORY_VOLATILE_RANDOM || p == MAXMEMORY_VOLATILE_TTL;
}

static unsigned long long idle_score(const kobj *o) {
    switch (server.maxmemory_policy) {
    case MAXMEMORY_ALLKEYS_LFU:
    case MAXMEMORY_VOLATILE_LFU:
        return 255 - kobj_lfu_freq(o);
    case MAXMEMORY_VOLATILE_TTL:
        return ULLONG_MAX - (unsigned long long)kobj_expire(o);
    default:
        return kobj_idle_ms(o);
    }
}

/* Entries the store does not have yet (write-behind) must stay. */
static int pinned(int dbid, const kobj *o) {
    return hooks.key_pinned(&server.dbs[dbid], kobj_key(o), o->klen);
}

static const char *pool_key(const pool_entry *e) {
    return e->heap ? e->heap : e->buf;
}

static void pool_clear(pool_entry *e) {
    xfree(e->heap);
    memset(e, 0, sizeof(*e));
}

static void pool_insert(int dbid, const kobj *o) {
    if (pinned(dbid, o)) return;
    unsigned long long idle = idle_score(o);
    int k = 0;
    while (k < POOL_SIZE && pool[k].used && pool[k].idle < idle) k++;
    for (int j = 0; j < POOL_SIZE; j++) /* already pooled? */
        if (pool[j].used && pool[j].dbid == dbid && pool[j].klen == o->klen &&
            memcmp(pool_key(&pool[j]), kobj_key(o), o->klen) == 0)
            return;
    if (k == 0 && pool[POOL_SIZE - 1].used) return; /* worse than everything, pool full */
    if (k < POOL_SIZE && !pool[POOL_SIZE - 1].used) {
        memmove(&pool[k + 1], &pool[k], sizeof(pool_entry) * (size_t)(POOL_SIZE - k - 1));
    } else {
        k--; /* drop the worst (leftmost) to make room */
        xfree(pool[0].heap);
        memmove(&pool[0], &pool[1], sizeof(pool_entry) * (size_t)k);
    }
    pool_entry *e = &pool[k];
    e->idle = idle;
    e->dbid = dbid;
    e->used = 1;
    e->klen = o->klen;
    e->heap = o->klen > POOL_KEY_INLINE ? xmalloc(o->klen) : NULL;
    memcpy(e->heap ? e->heap : e->buf, kobj_key(o), o->klen);
}

static void pool_populate(void) {
    kobj *sample[64];
    size_t n = (size_t)server.maxmemory_samples;
    for (int i = 0; i < server.databases; i++) {
        db *d = &server.dbs[i];
        size_t got = volatile_policy() ? db_expires_sample(d, sample, n)
                                       : dict_sample(&d->keys, (void **)sample, n);
        for (size_t k = 0; k < got; k++) pool_insert(i, sample[k]);
    }
}

/* Picks a victim: 1 with *dbid set and its key copied into out. */
static int pick_victim(int *dbid, sbuf *out) {
    int p = server.maxmemory_policy;
    sbuf_clear(out);
    if (p == MAXMEMORY_ALLKEYS_RANDOM || p == MAXMEMORY_VOLATILE_RANDOM) {
        static int next_db;
        for (int tries = 0; tries < server.databases; tries++) {
            int i = (next_db++) % server.databases;
            db *d = &server.dbs[i];
            int vol = p == MAXMEMORY_VOLATILE_RANDOM;
            for (int k = 0; k < 16 && (vol ? db_expires_size(d) : db_size(d)); k++) {
                kobj *o = vol ? db_expires_random(d) : dict_random(&d->keys);
                if (o && !pinned(i, o)) {
                    *dbid = i;
                    sbuf_append(out, kobj_key(o), o->klen);
                    return 1;
                }
            }
        }
        return 0;
    }
    for (int round = 0; round < 4; round++) {
        pool_populate();
        for (int k = POOL_SIZE - 1; k >= 0; k--) {
            if (!pool[k].used) continue;
            pool_entry e = pool[k]; /* owns the heap copy, if any, from here */
            memmove(&pool[k], &pool[k + 1], sizeof(pool_entry) * (size_t)(POOL_SIZE - k - 1));
            memset(&pool[POOL_SIZE - 1], 0, sizeof(pool_entry));
            kobj *o = db_find(&server.dbs[e.dbid], pool_key(&e), e.klen);
            int found = o && !pinned(e.dbid, o) && (!volatile_policy() || (o->flags & KF_EXPIRE));
            if (found) {
                *dbid = e.dbid;
                sbuf_append(out, pool_key(&e), e.klen);
            }
            pool_clear(&e);
            if (found) return 1;
        }
    }
    return 0;
}

static int evict_loop(int64_t start) {
    int64_t limit_us = server.maxmemory_eviction_tenacity <= 10
                           ? 50 * server.maxmemory_eviction_tenacity
                           : 500 * 1000;
    if (limit_us <= 0) limit_us = 50;
    kv_now_ms = server.mstime;
    static sbuf key; /* the victim's name, kept from one cycle to the next */
    /* As Redis: the cycle frees what was over the limit when it began,
     * counting what the deletions free, not the notices they send (an
     * evicted key tracked by many clients adds an invalidation to each
     * one's output: measured by the total, eviction would only feed on
     * itself and empty the keyspace). Those notices leave with the
     * replies at before-sleep. */
    size_t used = used_memory(), freed = 0;
    size_t tofree = used > server.maxmemory ? used - server.maxmemory : 0;
    while (freed < tofree && over_maxmemory()) {
        int dbid;
        if (!pick_victim(&dbid, &key)) return ERR;
        db *d = &server.dbs[dbid];
        size_t m0 = used_memory();
        kobj *o = db_unlink(d, key.p, key.len);
        if (!o) continue;
        size_t m1 = used_memory();
        if (kv_hook.on_evicted) kv_hook.on_evicted(d, o);
        size_t m2 = used_memory();
        kobj_free(o);
        size_t m3 = used_memory();
        freed += (m0 > m1 ? m0 - m1 : 0) + (m2 > m3 ? m2 - m3 : 0);
        if (clock_mono_us() - start > limit_us) {
            /* Out of time but still making progress: the cron goes on evicting
             * and the command may run (Redis's EVICT_RUNNING). */
            server.stat_total_eviction_exceeded_time += (clock_mono_us() - start) / 1000;
            return OK;
        }
    }
    server.stat_total_eviction_exceeded_time += (clock_mono_us() - start) / 1000;
    return OK;
}

/* The eviction cycle, timed for the latency monitor ("eviction-cycle"). */
int evict_perform(void) {
    if (!over_maxmemory()) return OK;
    if (server.maxmemory_policy == MAXMEMORY_NOEVICTION) return ERR;
    int64_t start = clock_mono_us();
    int rc = evict_loop(start);
    latency_add_sample_if_needed("eviction-cycle", (clock_mono_us() - start) / 1000);
    return rc;
}
