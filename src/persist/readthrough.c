/* persist/readthrough — loads on a miss (single flight), negative entries,
 * and refresh-ahead by XFetch.
 *
 * XFetch (Vattani et al., "Optimal Probabilistic Cache Stampede Prevention"):
 * on a hit of an entry with an expire time and a measured load cost delta,
 * refresh early when  now - delta * beta * ln(random()) >= expiry.  Because
 * ln(random()) is negative and unbounded, an early refresh gets likelier as
 * expiry nears and as loads get costlier; one reload runs in the background
 * while the current value keeps being served.
 *
 * Invariants:
 *  1. At most one load per key is in flight (pkey.loading or .refreshing);
 *     other misses wait for it (loads_coalesced).
 *  2. A load's result is installed only if nobody wrote the key since the
 *     load started (pkey.version unchanged) and, for a miss, the key is still
 *     absent: a load never overwrites a newer write.
 *  3. No stale set: an invalidation of the key while its load is in flight
 *     (the change log, SQL.EXEC's changes, a TRUNCATE: they bump
 *     pkey.version too) means the row read may be older than the change.
 *     It is not cached; a miss that waits for it loads again (at most
 *     RELOAD_MAX times, then its clients get -BACKEND), a refresh just
 *     leaves the key empty for the next read to load.
 *  4. stale-if-error: an entry of a read-through map that expires is kept
 *     (pkey.stale, out of the db: every command sees the key missing) for
 *     `stale-if-error` seconds past its expiry. Only a load that fails with a
 *     transient error (the store unreachable) puts it back in the db, with
 *     its window's end as expire time, and re-runs the waiting reads on it
 *     (stale_if_error_hits). While it is there (pkey.stale_served) every read
 *     tries the store again first; a load that succeeds replaces it (or
 *     deletes it: the row is gone), a write or an invalidation ends it, and
 *     at the end of the window it expires for good, so the next failing load
 *     is an error again. */
#include "persist/persist.h"
#include "util/mem.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RELOAD_MAX 8

typedef struct load_job {
    store_job job;
    const mapping *m;
    char *key;
    size_t klen;
    char *pk;
    size_t pklen;
    int refresh;
    int attempt; /* loads of this miss before this one (invariant 3) */
    uint64_t version;
    int batch; /* keys read by the module call that read this one (get_many) */
    int batch_first;
    /* the row, copied on the store thread */
    int found, ncols;
    char **names;
    store_value *vals;
    sbuf bytes; /* text/blob bytes of vals, which point into it */
} load_job;

int rt_is_negative(pkey *k) {
    return k && k->negative_until_ms > server_mstime();
}

/* Commands that replace a value whole do not need the old one loaded. They
 * are known by their table entries, looked up once (as is_exec's), so that
 * a write to a mapped key compares no names. */
static int overwrites(client *c, const command *cmd) {
    static const command *set, *setex, *psetex, *mset;
    if (!set) {
        set = command_lookup_name("set", 3);
        setex = command_lookup_name("setex", 5);
        psetex = command_lookup_name("psetex", 6);
        mset = command_lookup_name("mset", 4);
    }
    if (cmd == setex || cmd == psetex || cmd == mset) return 1;
    if (cmd == set) {
        for (int i = 3; i < c->argc; i++)
            if (arg_is(&c->argv[i], "nx") || arg_is(&c->argv[i], "xx") ||
                arg_is(&c->argv[i], "get") || arg_is(&c->argv[i], "keepttl"))
                return 0;
        return 1;
    }
    return 0;
}

int rt_needs_load(client *c, const command *cmd, const mapping *m, const char *key, size_t klen) {
    (void)m;
    if (!is_exec(cmd) && overwrites(c, cmd)) return 0; /* the cheap test first */
    pkey *k = pkey_find(key, klen);
    /* a dirty key's truth is the cache (deleted included): never the store */
    if (k && (k->dirty || k->touched || k->in_flight || k->deadlettering)) return 0;
    return !rt_is_negative(k);
}

static void sink_columns(void *ctx, int n, const char *const *names) {
    load_job *j = ctx;
    j->ncols = n;
    j->names = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; i < n; i++) j->names[i] = xstrdup(names[i]);
}

static void sink_row(void *ctx, int n, const store_value *vals) {
    load_job *j = ctx;
    j->found = 1;
    j->vals = xcalloc((size_t)(n ? n : 1), sizeof(store_value));
    size_t *offs = xcalloc((size_t)(n ? n : 1), sizeof(size_t));
    for (int i = 0; i < n; i++) {
        j->vals[i] = vals[i];
        if (vals[i].type == SV_TEXT || vals[i].type == SV_BLOB) {
            offs[i] = j->bytes.len;
            sbuf_append(&j->bytes, vals[i].p ? vals[i].p : "", vals[i].len);
        }
    }
    for (int i = 0; i < n; i++) /* point into the (now stable) copy */
        if (j->vals[i].type == SV_TEXT || j->vals[i].type == SV_BLOB)
            j->vals[i].p = j->bytes.p + offs[i];
    xfree(offs);
}

static void run_load(store_job *sj, const store_module *mod, void *h) {
    load_job *j = (load_job *)sj;
    store_value pk[MAPPING_MAX_KEY];
    store_sink sink = {j, sink_columns, sink_row};
    char *err = NULL;
    if (mapping_split_pk(j->m, j->pk, j->pklen, pk) != OK) { /* mapping_match split it */
        sj->rc = STORE_ERR_USER;
        sj->err = xstrdup("the key does not split into the map's key columns");
        return;
    }
    sj->rc =
        mod->get(h, j->m->name, j->m->nkey, (const char *const *)j->m->keycols, pk, &sink, &err);
    if (err) {
        sj->err = xstrdup(err);
        mod->free_error(err);
    }
}

/* The loads of one table in one get_many call (store thread). */
static void load_batch(load_job **js, int n, const store_module *mod, void *h) {
    const mapping *m = js[0]->m;
    store_value *keys = xcalloc((size_t)n * (size_t)m->nkey, sizeof(store_value));
    store_sink *sinks = xcalloc((size_t)n, sizeof(store_sink));
    load_job **asked = xcalloc((size_t)n, sizeof(load_job *));
    int nasked = 0;
    for (int i = 0; i < n; i++) {
        if (mapping_split_pk(m, js[i]->pk, js[i]->pklen, &keys[nasked * m->nkey]) != OK) {
            js[i]->job.rc = STORE_ERR_USER;
            js[i]->job.err = xstrdup("the key does not split into the map's key columns");
            continue;
        }
        sinks[nasked] = (store_sink){js[i], sink_columns, sink_row};
        asked[nasked++] = js[i];
    }
    char *err = NULL;
    int rc = mod->get_many(h, m->name, m->nkey, (const char *const *)m->keycols, nasked, keys,
                           sinks, &err);
    for (int i = 0; i < nasked; i++) {
        asked[i]->job.rc = rc;
        asked[i]->job.err = err ? xstrdup(err) : NULL;
        asked[i]->batch = nasked;
        asked[i]->batch_first = i == 0;
    }
    if (err) mod->free_error(err);
    xfree(asked);
    xfree(sinks);
    xfree(keys);
}

/* Loads queued one after another (storeq's run_many): with the module's
 * get_many, the keys of each table are read in one call (one round trip
 * with PostgreSQL) — an MGET's misses, or the misses of many clients that
 * queued while the store thread was busy; else one get each. Only the
 * order of the done() callbacks matters to the loop thread, and storeq
 * keeps it. */
static void run_loads(store_job **jobs, int n, const store_module *mod, void *h) {
    load_job **js = xcalloc((size_t)n, sizeof(load_job *));
    char *taken = xcalloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        if (taken[i]) continue;
        load_job *first = (load_job *)jobs[i];
        int k = 0;
        for (int x = i; x < n; x++) {
            if (taken[x] || ((load_job *)jobs[x])->m != first->m) continue;
            taken[x] = 1;
            js[k++] = (load_job *)jobs[x];
        }
        if (k == 1 || !mod->get_many)
            for (int x = 0; x < k; x++) run_load(&js[x]->job, mod, h);
        else
            load_batch(js, k, mod, h);
    }
    xfree(taken);
    xfree(js);
}

static void free_load(load_job *j) {
    for (int i = 0; i < j->ncols; i++) xfree(j->names[i]);
    xfree(j->names);
    xfree(j->vals);
    sbuf_free(&j->bytes);
    xfree(j->key);
    xfree(j->pk);
    xfree(j->job.err);
    xfree(j);
}

int rt_serving_stale(const pkey *k) {
    return k && k->stale_served;
}

/* ps.stale_served counts the keys with stale_served set: a hit looks for its
 * pkey only while there is one (core.c). */
static void set_stale_served(pkey *k, int on) {
    if (k->stale_served == on) return;
    k->stale_served = on;
    ps.stale_served += on ? 1 : -1;
}

void rt_forget_stale(pkey *k) {
    kobj_free(k->stale);
    k->stale = NULL;
    set_stale_served(k, 0);
}

void rt_key_expired(const mapping *m, const kobj *o) {
    pkey *k = pkey_find(kobj_key(o), o->klen);
    if (k && k->stale_served) { /* the stale copy reached its window's end */
        set_stale_served(k, 0);
        pkey_maybe_free(k);
        return;
    }
    if (pcfg.stale_if_error <= 0 || !(o->flags & KF_EXPIRE)) return;
    int64_t until = kobj_expire(o) + pcfg.stale_if_error * 1000;
    if (until <= server_mstime()) return;
    k = pkey_get(kobj_key(o), o->klen, m);
    kobj_free(k->stale);
    k->stale = kobj_dup(o, kobj_key(o), o->klen);
    k->stale_until_ms = until;
}

/* A load of k failed with a transient error: is there a stale copy to serve
 * instead (invariant 3)? Puts it back in the db if it is not there yet. */
static int serve_stale(pkey *k, const load_job *j) {
    db *d = server_db(0);
    kv_now_ms = server_mstime();
    kobj *cur = db_lookup(d, k->key, k->klen, LOOKUP_NOTOUCH);
    if (k->stale_served) return cur != NULL;
    if (cur || !k->stale || k->stale_until_ms <= kv_now_ms || k->version != j->version) return 0;
    kobj *o = k->stale;
    k->stale = NULL;
    db_add(d, o);
    db_set_expire(d, o, k->stale_until_ms);
    set_stale_served(k, 1);
    return 1;
}

/* Wakes waiters with an error instead of re-running their commands. */
static void fail_waiters(list_head *waiters, const char *msg) {
    client *c;
    while ((c = persist_wait_pop(waiters))) {
        persist_reply_backend_error(c, "load failed", msg);
        unblock_client(c);
    }
}

static void submit_load(pkey *k, const mapping *m, const char *pk, size_t pklen, int refresh,
                        int attempt);

/* The load of a miss read a row an invalidation may have overtaken: it
 * loads again (invariant 3). 1 when it did. */
static int reload_stale(pkey *k, load_job *j) {
    if (k->dirty || k->touched || k->in_flight || k->locked || list_empty(&k->load_waiters))
        return 0;
    ps.st.loads_stale++;
    if (j->attempt + 1 >= RELOAD_MAX) {
        fail_waiters(&k->load_waiters, "the row changed during every load attempt; retry");
        pkey_maybe_free(k);
        return 1;
    }
    k->loading = 1;
    submit_load(k, j->m, j->pk, j->pklen, 0, j->attempt + 1);
    return 1;
}

/* Puts a loaded value in db 0 with the mapping's TTL and its load cost. */
static void install(load_job *j, int64_t cost_ms) {
    db *d = server_db(0);
    kobj *o = mapping_entry_from_row(j->m, j->key, j->klen, j->ncols, (const char *const *)j->names,
                                     j->vals);
    if (!o) return;
    kobj *old = db_find(d, j->key, j->klen);
    if (old)
        db_replace(d, old, o);
    else
        db_add(d, o);
    o = db_set_meta(d, o, (uint32_t)(cost_ms > 0 ? cost_ms : 1));
    if (j->m->ttl) db_set_expire(d, o, server_mstime() + j->m->ttl * 1000);
}

static void load_done(store_job *sj) {
    load_job *j = (load_job *)sj;
    pkey *k = pkey_find(j->key, j->klen);
    int64_t cost_ms = (sj->finished_us - sj->started_us) / 1000;
    latency_add_sample_if_needed("store-load", cost_ms);
    /* its wait in lane 0's queue (behind a batch, say) */
    latency_add_sample_if_needed("store-load-wait", (sj->started_us - sj->queued_us) / 1000);
    if (!k) { /* cannot happen: a loading pkey is never freed */
        free_load(j);
        return;
    }
    if (j->batch > 1) {
        ps.st.loads_batched++;
        ps.st.load_batches += j->batch_first;
    }
    int miss = k->loading; /* a miss waits on this load (it may have joined a refresh) */
    k->refreshing = 0;
    k->loading = 0;
    if (sj->rc == STORE_ERR_TRANSIENT && pcfg.stale_if_error > 0 && serve_stale(k, j)) {
        server_log(LL_VERBOSE, "read-through load of %.*s failed (%s): served stale", (int)j->klen,
                   j->key, sj->err ? sj->err : "store error");
        ps.st.stale_if_error_hits += (long long)k->load_waiters.len;
        pkey_wake(k, &k->load_waiters);
    } else if (sj->rc != STORE_OK) {
        server_log(LL_WARNING, "read-through load of %.*s failed: %s", (int)j->klen, j->key,
                   sj->err ? sj->err : "store error");
        fail_waiters(&k->load_waiters, sj->err);
        pkey_maybe_free(k);
    } else {
        ps.st.loads++;
        db *d = server_db(0);
        int untouched = k->version == j->version;
        kv_now_ms = server_mstime();
        if (k->stale_served && untouched && !j->found) { /* the row is gone: so is its copy */
            db_delete(d, j->key, j->klen);
            signal_modified_key(NULL, d, j->key, j->klen);
        }
        if (untouched) rt_forget_stale(k); /* the store answers again */
        int present = db_lookup(d, j->key, j->klen, LOOKUP_NOTOUCH) != NULL;
        if (!untouched && miss && !present && reload_stale(k, j)) {
            free_load(j);
            return;
        }
        if (untouched && j->found) {
            install(j, cost_ms);
        } else if (untouched && !j->found && !present && miss && pcfg.negative_ttl > 0) {
            k->negative_until_ms = server_mstime() + pcfg.negative_ttl * 1000;
        }
        pkey_wake(k, &k->load_waiters); /* a waiter's write may free an idle k: held meanwhile */
    }
    free_load(j);
}

/* The client waits for key's load: the command re-runs with the key loaded. */
static void wait_load(client *c, pkey *k) {
    persist_wait_on(c, &k->load_waiters);
    persist_note_loaded(c, k->key, k->klen);
}

void rt_start_load(client *c, const mapping *m, const char *key, size_t klen, const char *pk,
                   size_t pklen, int refresh) {
    pkey *k = pkey_get(key, klen, m);
    if (!refresh && (k->loading || k->refreshing)) {
        ps.st.loads_coalesced++;
        wait_load(c, k);
        /* a refresh in flight serves misses too: it installs on a miss only if
         * a load is marked, so turn it into one */
        if (k->refreshing) k->loading = 1;
        return;
    }
    if (refresh && (k->loading || k->refreshing)) return;
    if (refresh) {
        k->refreshing = 1;
        ps.st.refreshes_early++;
    } else {
        k->loading = 1;
        wait_load(c, k);
    }
    submit_load(k, m, pk, pklen, refresh, 0);
}

static void submit_load(pkey *k, const mapping *m, const char *pk, size_t pklen, int refresh,
                        int attempt) {
    load_job *j = xcalloc(1, sizeof(*j));
    j->m = m;
    j->key = xmemdup(k->key, k->klen);
    j->klen = k->klen;
    j->pk = xmemdup(pk, pklen);
    j->pklen = pklen;
    j->refresh = refresh;
    j->attempt = attempt;
    j->version = k->version;
    j->job.run = run_load;
    j->job.run_many = run_loads;
    j->job.done = load_done;
    storeq_submit(&j->job);
}

void rt_on_hit(client *c, const mapping *m, kobj *o) {
    if (m->beta <= 0 || !(o->flags & KF_EXPIRE)) return;
    kobj_meta *meta = kobj_meta_of(o);
    if (!meta || !meta->delta_ms) return;
    double r = ((double)random() + 1.0) / ((double)RAND_MAX + 2.0); /* (0,1) */
    double gap = (double)meta->delta_ms * m->beta * -log(r);
    if ((double)server_mstime() + gap < (double)kobj_expire(o)) return;
    /* the key slice, as mapping_match gives it */
    const char *key = kobj_key(o);
    rt_start_load(c, m, key, o->klen, key + m->plen, o->klen - m->plen - m->slen, 1);
}
