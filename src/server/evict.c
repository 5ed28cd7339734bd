/* server/evict — maxmemory and the eviction policies.
 *
 * Redis's approximated LRU/LFU/TTL: sample maxmemory-samples keys per db into
 * a pool of the 16 best candidates (highest idle score), evict the best, and
 * repeat until under maxmemory. Random policies pick any key. Entries with a
 * write-behind write pending (the key_pinned hook) are never evicted: they
 * are not in the store yet, so evicting them would lose an acknowledged write.
 *
 * Invariants:
 *  1. pool[] is sorted by ascending idle score; empty slots have key == NULL.
 *  2. A pool entry owns a copy of its key (the entry itself may be gone). */
#include "server/server.h"
#include "server/hooks.h"
#include "util/clock.h"
#include "util/mem.h"
#include <limits.h>
#include <string.h>

#define POOL_SIZE 16
#define POOL_KEY_MAX 255

typedef struct pool_entry {
    unsigned long long idle;
    int dbid;
    size_t klen;
    char *key; /* NULL when the slot is empty */
    char buf[POOL_KEY_MAX + 1];
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

static void pool_insert(int dbid, const kobj *o) {
    if (o->klen > POOL_KEY_MAX || pinned(dbid, o)) return;
    unsigned long long idle = idle_score(o);
    int k = 0;
    while (k < POOL_SIZE && pool[k].key && pool[k].idle < idle) k++;
    for (int j = 0; j < POOL_SIZE; j++) /* already pooled? */
        if (pool[j].key && pool[j].dbid == dbid && pool[j].klen == o->klen &&
            memcmp(pool[j].key, kobj_key(o), o->klen) == 0)
            return;
    if (k == 0 && pool[POOL_SIZE - 1].key) return; /* worse than everything, pool full */
    if (k < POOL_SIZE && !pool[POOL_SIZE - 1].key) {
        memmove(&pool[k + 1], &pool[k], sizeof(pool_entry) * (size_t)(POOL_SIZE - k - 1));
    } else {
        k--; /* drop the worst (leftmost) to make room */
        memmove(&pool[0], &pool[1], sizeof(pool_entry) * (size_t)k);
    }
    pool[k].idle = idle;
    pool[k].dbid = dbid;
    pool[k].klen = o->klen;
    memcpy(pool[k].buf, kobj_key(o), o->klen);
    pool[k].key = pool[k].buf;
    /* memmove moved buf contents but not the self-pointers: fix them */
    for (int j = 0; j < POOL_SIZE; j++)
        if (pool[j].key) pool[j].key = pool[j].buf;
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

/* Picks a victim: 1 with *dbid/key set (key copied into out). */
static int pick_victim(int *dbid, char *out, size_t *klen) {
    int p = server.maxmemory_policy;
    if (p == MAXMEMORY_ALLKEYS_RANDOM || p == MAXMEMORY_VOLATILE_RANDOM) {
        static int next_db;
        for (int tries = 0; tries < server.databases; tries++) {
            int i = (next_db++) % server.databases;
            db *d = &server.dbs[i];
            int vol = p == MAXMEMORY_VOLATILE_RANDOM;
            for (int k = 0; k < 16 && (vol ? db_expires_size(d) : db_size(d)); k++) {
                kobj *o = vol ? db_expires_random(d) : dict_random(&d->keys);
                if (o && !pinned(i, o) && o->klen <= POOL_KEY_MAX) {
                    *dbid = i;
                    *klen = o->klen;
                    memcpy(out, kobj_key(o), o->klen);
                    return 1;
                }
            }
        }
        return 0;
    }
    for (int round = 0; round < 4; round++) {
        pool_populate();
        for (int k = POOL_SIZE - 1; k >= 0; k--) {
            if (!pool[k].key) continue;
            pool_entry e = pool[k];
            memmove(&pool[k], &pool[k + 1], sizeof(pool_entry) * (size_t)(POOL_SIZE - k - 1));
            memset(&pool[POOL_SIZE - 1], 0, sizeof(pool_entry));
            for (int j = 0; j < POOL_SIZE; j++)
                if (pool[j].key) pool[j].key = pool[j].buf;
            kobj *o = db_find(&server.dbs[e.dbid], e.buf, e.klen);
            if (!o || pinned(e.dbid, o) || (volatile_policy() && !(o->flags & KF_EXPIRE))) continue;
            *dbid = e.dbid;
            *klen = e.klen;
            memcpy(out, e.buf, e.klen);
            return 1;
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
    while (over_maxmemory()) {
        int dbid;
        size_t klen;
        char key[POOL_KEY_MAX + 1];
        if (!pick_victim(&dbid, key, &klen)) return ERR;
        db *d = &server.dbs[dbid];
        kobj *o = db_unlink(d, key, klen);
        if (!o) continue;
        if (kv_hook.on_evicted) kv_hook.on_evicted(d, o);
        kobj_free(o);
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
