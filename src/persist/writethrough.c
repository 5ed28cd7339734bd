/* persist/writethrough — store first, then cache, then reply.
 *
 * A write command on write-through keys runs speculatively: its keys are
 * snapshotted, its reply is held back, and it executes normally. If it
 * changed a mapped key, the keys are locked (every other command on them
 * waits) and the new rows go to the store thread as one job; consecutive
 * write-through jobs share one transaction and one fsync (group commit).
 * When the store has committed, the held reply is sent and the keys unlock.
 * If the store refuses, the snapshots are put back — the cache is unchanged —
 * and the client gets -BACKEND with the store's message.
 *
 * Invariants:
 *  1. No client observes a write-through value before its commit: the key is
 *     locked from the command's end until the commit's outcome is known
 *     (KEYS/SCAN/DBSIZE, which name no key, are the documented exception).
 *  2. At most one speculation is active (commands run one at a time). */
#include "persist/persist.h"
#include "util/hash.h"
#include "util/mem.h"
#include <string.h>

typedef struct wt_key {
    char *key;
    size_t klen;
    const mapping *m;
    char *pk;
    size_t pklen;
    kobj *snapshot; /* the entry before the command (a copy), NULL if absent */
    sbuf state;
    op_scratch scratch;
    int has_op, opi; /* its row's op in job.ops, if it changed */
} wt_key;

typedef struct wt_job {
    store_job job;
    list_node node;     /* in inflight */
    client *c;          /* NULL once the client disconnected */
    const command *cmd; /* the command that runs speculatively (EXEC's queued
                           commands and a script's calls are part of it) */
    wt_key *keys;
    int n;
    sbuf held; /* the command's reply */
} wt_job;

static wt_job *cur; /* the speculation in progress */
static list_head inflight = {{&inflight.n, &inflight.n}, 0};

/* The client of an in-flight write-through went away: the commit still
 * completes (or is undone), but nobody gets the reply. */
void wt_client_gone(client *c) {
    list_node *n;
    list_for_each(n, &inflight) {
        wt_job *j = list_entry(n, wt_job, node);
        if (j->c == c) j->c = NULL;
    }
}

int wt_active(client *c, const command *cmd) {
    return cur && cur->c == c && cur->cmd == cmd;
}

static const void *wt_key_key(const void *e, size_t *len) {
    *len = ((const wt_key *)e)->klen;
    return ((const wt_key *)e)->key;
}
static const dict_type wt_key_type = {hash_bytes, wt_key_key, NULL};

int wt_before(client *c, const command *cmd, const resp_arg *keys, int nkeys) {
    wt_job *j = xcalloc(1, sizeof(*j));
    j->c = c;
    j->cmd = cmd;
    j->keys = xcalloc((size_t)nkeys, sizeof(wt_key));
    dict seen; /* the job's keys: a key named twice is snapshotted once */
    dict_init(&seen, &wt_key_type);
    for (int i = 0; i < nkeys; i++) {
        const char *pk;
        size_t pklen;
        const mapping *m = persist_match(c->db, keys[i].p, keys[i].len, &pk, &pklen);
        if (!m || m->mode != MODE_WRITE_THROUGH) continue;
        if (dict_find(&seen, keys[i].p, keys[i].len)) continue;
        wt_key *w = &j->keys[j->n++];
        w->key = xmemdup(keys[i].p, keys[i].len);
        w->klen = keys[i].len;
        w->m = m;
        w->pk = xmemdup(pk, pklen);
        w->pklen = pklen;
        kobj *o = db_lookup(c->db, keys[i].p, keys[i].len, LOOKUP_NOTOUCH);
        w->snapshot = o ? kobj_dup(o, kobj_key(o), o->klen) : NULL;
        /* version bump marks the key written, so a load in flight is dropped */
        pkey_get(w->key, w->klen, m)->version++;
        dict_add(&seen, w);
    }
    dict_clear(&seen, NULL, NULL);
    cur = j;
    reply_hold(c, &j->held);
    return 1;
}

static void free_job(wt_job *j) {
    for (int i = 0; i < j->n; i++) {
        wt_key *w = &j->keys[i];
        xfree(w->key);
        xfree(w->pk);
        kobj_free(w->snapshot);
        sbuf_free(&w->state);
        mapping_op_free(&w->scratch);
    }
    xfree(j->keys);
    xfree(j->job.ops);
    sbuf_free(&j->held);
    xfree(j->job.err);
    xfree(j);
}

/* Puts the snapshots back (the command's effect on mapped keys is undone). */
static void restore(wt_job *j) {
    db *d = server_db(0);
    for (int i = 0; i < j->n; i++) {
        wt_key *w = &j->keys[i];
        kobj *o = db_find(d, w->key, w->klen);
        if (w->snapshot) {
            if (o)
                db_replace(d, o, w->snapshot);
            else
                db_add(d, w->snapshot);
            w->snapshot = NULL; /* now owned by the db */
        } else if (o) {
            db_delete(d, w->key, w->klen);
        }
        signal_modified_key(NULL, d, w->key, w->klen);
    }
}

static void unlock_keys(wt_job *j) {
    for (int i = 0; i < j->n; i++) {
        pkey *k = pkey_find(j->keys[i].key, j->keys[i].klen);
        if (!k) continue;
        pkey_unlock(k);
        inval_flushed(k);
        pkey_wake(k, &k->lock_waiters);
    }
}

/* The committed rows into the change stream, each as the store reported it
 * (insert, update or delete). */
static void note_changes(wt_job *j) {
    if (!changes_on()) return;
    uint64_t seq = changes_commit();
    for (int i = 0; i < j->n; i++) {
        wt_key *w = &j->keys[i];
        if (!w->has_op) continue;
        changes_row(seq, w->m->name, changes_op(&j->job.ops[w->opi]), w->pk, w->pklen, w->key,
                    w->klen);
    }
}

static void wt_done(store_job *sj) {
    wt_job *j = (wt_job *)sj;
    client *c = j->c;
    list_remove(&inflight, &j->node);
    const char *failure = NULL;
    if (sj->rc != STORE_OK) failure = sj->err ? sj->err : "store error";
    for (int i = 0; i < sj->nops && !failure; i++)
        if (sj->ops[i].status != STORE_OK)
            failure = sj->ops[i].error ? sj->ops[i].error : "row refused";
    if (c) unblock_client(c);
    if (failure) {
        restore(j);
        if (c) persist_reply_backend_error(c, "write-through failed", failure);
    } else {
        note_changes(j);
        if (c) reply_raw(c, j->held.p, j->held.len);
        ps.st.wt_commits++;
        ps.wt_group_sum += sj->group_size;
    }
    for (int i = 0; i < sj->nops; i++) xfree(sj->ops[i].error);
    unlock_keys(j);
    free_job(j);
}

void wt_after(client *c) {
    wt_job *j = cur;
    cur = NULL;
    reply_hold(c, NULL);
    db *d = server_db(0);
    int changed = 0;
    char *err = NULL;
    j->job.ops = xcalloc((size_t)(j->n ? j->n : 1), sizeof(store_op));
    for (int i = 0; i < j->n && !err; i++) {
        wt_key *w = &j->keys[i];
        kobj *o = db_find(d, w->key, w->klen);
        if (o && kobj_is_expired(o)) o = NULL;
        /* unchanged key: nothing to commit for it */
        if (!o && !w->snapshot) continue;
        if (!o && pcfg.on_delete == ON_DELETE_CACHE) continue;
        if (mapping_state_from_entry(w->m, o, &w->state, &err) != OK) break;
        if (w->snapshot) {
            sbuf before = SBUF_INIT;
            char *e2 = NULL;
            int same = mapping_state_from_entry(w->m, w->snapshot, &before, &e2) == OK &&
                       before.len == w->state.len && !memcmp(before.p, w->state.p, before.len);
            xfree(e2);
            sbuf_free(&before);
            if (same) continue;
        }
        mapping_state_to_op(w->m, w->pk, w->pklen, w->state.p, w->state.len,
                            &j->job.ops[j->job.nops], &w->scratch);
        w->has_op = 1;
        w->opi = j->job.nops++;
        changed = 1;
    }
    if (err) {
        restore(j);
        sbuf_clear(&j->held);
        persist_reply_backend_error(c, "write-through refused", err);
        xfree(err);
        free_job(j);
        return;
    }
    if (!changed) {
        reply_raw(c, j->held.p, j->held.len);
        free_job(j);
        return;
    }
    /* the command's rows are one write: all of them commit or none */
    static int next_unit;
    if (++next_unit <= 0) next_unit = 1;
    for (int i = 0; i < j->job.nops; i++) j->job.ops[i].unit = next_unit;
    for (int i = 0; i < j->n; i++)
        pkey_lock(pkey_get(j->keys[i].key, j->keys[i].klen, j->keys[i].m));
    j->job.group = 1;
    j->job.done = wt_done;
    list_push_back(&inflight, &j->node);
    block_client(c, BLOCKED_STORE, 0);
    storeq_submit(&j->job);
}
