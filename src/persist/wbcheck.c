/* persist/wbcheck — a write-behind write that its table alone refuses (NOT
 * NULL, CHECK, a value the column's type cannot take) is refused before its
 * reply, with -BACKEND and the cache unchanged.
 *
 * The store module decides (store_module.check): it applies the rows in a
 * transaction it rolls back, so the table's own rules — CHECK expressions
 * in its dialect, types, defaults, triggers — are the ones that judge, and
 * Larder re-implements none of them. Refusals that depend on other rows
 * (UNIQUE, FOREIGN KEY) pass here: they are met when the batch is written,
 * and go to the dead letter (writebehind.c drops the cache entry then).
 *
 * The command runs speculatively, as a write-through does (writethrough.c):
 * its write-behind keys are snapshotted and its reply held; afterwards the
 * keys whose row changed are locked (other commands on them wait) and their
 * rows go to the store thread as one check job (consecutive check jobs share
 * one module call). Accepted — or not checkable because the store is
 * unreachable: the write is then accepted and the store judges it when the
 * batch is written — the keys are recorded as written (journal, dirty FIFO:
 * writebehind.c) and the held reply follows the journal as usual. Refused:
 * the snapshots are put back and the client gets -BACKEND. Nothing of a
 * refused write reaches the journal.
 *
 * Cost: a write-behind write waits for one store-thread round trip (with
 * PostgreSQL, a few network round trips) before its reply, and behind a
 * batch being written; `write-behind-check no` turns it off.
 *
 * Invariants:
 *  1. At most one speculation is active (commands run one at a time); while
 *     it is, its keys have pkey.checking set and their writes are not
 *     recorded (persist_key_modified asks wbc_defers).
 *  2. From the command's end until the outcome, a checked key is locked. */
#include "persist/persist.h"
#include "util/hash.h"
#include "util/mem.h"
#include <string.h>

typedef struct wbc_key {
    pkey *k;        /* held: checking or locked keeps it */
    kobj *snapshot; /* the entry before the command (a copy), NULL if absent */
    int changed;
    sbuf state;
    op_scratch scratch;
} wbc_key;

typedef struct wbc_job {
    store_job job;
    uint64_t client_id;
    const command *cmd;
    wbc_key *keys;
    int n;
    sbuf held; /* the command's reply */
} wbc_job;

static wbc_job *cur;

int wbc_active(client *c, const command *cmd) {
    return cur && cur->client_id == c->id && cur->cmd == cmd;
}

/* Only the speculating client's own writes wait for the check (a script's
 * calls run as the script's client, whose caller is the speculating one). */
int wbc_defers(const pkey *k) {
    if (!cur || !k->checking) return 0;
    client *c = server_executing_client();
    if (c && c->script_caller) c = c->script_caller;
    return c && c->id == cur->client_id;
}

static void free_job(wbc_job *j);

/* A speculation whose command never ran (a CLIENT PAUSE parked it after the
 * check began: it runs again from the start later) is dropped. */
static void abandon(wbc_job *j) {
    client *c = client_by_id(j->client_id);
    if (c) reply_hold(c, NULL);
    for (int i = 0; i < j->n; i++) {
        j->keys[i].k->checking = 0;
        pkey_maybe_free(j->keys[i].k);
    }
    free_job(j);
}

void wbc_before(client *c, const command *cmd, const resp_arg *keys, int nkeys) {
    if (cur) abandon(cur);
    wbc_job *j = xcalloc(1, sizeof(*j));
    j->client_id = c->id;
    j->cmd = cmd;
    j->keys = xcalloc((size_t)(nkeys ? nkeys : 1), sizeof(wbc_key));
    for (int i = 0; i < nkeys; i++) {
        const char *pk;
        size_t pklen;
        const mapping *m = persist_match(c->db, keys[i].p, keys[i].len, &pk, &pklen);
        if (!m || m->mode != MODE_WRITE_BEHIND) continue;
        pkey *k = pkey_get(keys[i].p, keys[i].len, m);
        if (k->checking) continue; /* named twice */
        k->checking = 1;
        wbc_key *w = &j->keys[j->n++];
        w->k = k;
        kobj *o = db_lookup(c->db, keys[i].p, keys[i].len, LOOKUP_NOTOUCH);
        w->snapshot = o ? kobj_dup(o, kobj_key(o), o->klen) : NULL;
    }
    cur = j;
    reply_hold(c, &j->held);
}

static void free_job(wbc_job *j) {
    for (int i = 0; i < j->n; i++) {
        wbc_key *w = &j->keys[i];
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

/* Puts the snapshots back (the command's effect on its keys is undone). */
static void restore(wbc_job *j) {
    db *d = server_db(0);
    for (int i = 0; i < j->n; i++) {
        wbc_key *w = &j->keys[i];
        pkey *k = w->k;
        kobj *o = db_find(d, k->key, k->klen);
        if (k->refused_pending) { /* the snapshot is a state the store refused */
            k->refused_pending = 0;
            if (o) db_delete(d, k->key, k->klen);
        } else if (w->snapshot) {
            if (o)
                db_replace(d, o, w->snapshot);
            else
                db_add(d, w->snapshot);
            w->snapshot = NULL; /* now owned by the db */
        } else if (o) {
            db_delete(d, k->key, k->klen);
        }
        signal_modified_key(NULL, d, k->key, k->klen);
    }
}

/* Records the changed keys as written by c (journal and reply barrier). The
 * version bumps again: a batch that took the key's older state while the
 * check ran must not mark it clean. */
static void accept(wbc_job *j, client *c) {
    for (int i = 0; i < j->n; i++) {
        j->keys[i].k->refused_pending = 0; /* a newer state replaces the refused one */
        if (!j->keys[i].changed) continue;
        j->keys[i].k->version++;
        wb_key_written_by(j->keys[i].k, c);
    }
}

static void release_keys(wbc_job *j) {
    for (int i = 0; i < j->n; i++) {
        pkey *k = j->keys[i].k;
        k->checking = 0;
        if (k->locked) {
            k->locked = 0;
            pkey_wake(k, &k->lock_waiters);
        } else {
            pkey_maybe_free(k);
        }
    }
}

static void check_done(store_job *sj) {
    wbc_job *j = (wbc_job *)sj;
    client *c = client_by_id(j->client_id);
    const char *refusal = NULL;
    /* a transient failure: the store cannot judge now; the batch will */
    for (int i = 0; i < sj->nops && sj->rc == STORE_OK && !refusal; i++)
        if (sj->ops[i].status != STORE_OK)
            refusal = sj->ops[i].error ? sj->ops[i].error : "row refused";
    if (c) unblock_client(c);
    if (refusal) {
        ps.st.wb_refused_before_reply++;
        restore(j);
        if (c) persist_reply_backend_error(c, "write-behind refused", refusal);
    } else {
        accept(j, c);
        if (c) reply_raw(c, j->held.p, j->held.len);
    }
    for (int i = 0; i < sj->nops; i++) xfree(sj->ops[i].error);
    release_keys(j);
    free_job(j);
}

/* Is w's key changed by the command, and to a row the store must check?
 * Sets w->changed; returns 1 for an UPSERT to check (its state in w). */
static int needs_check(wbc_key *w, db *d) {
    kobj *o = db_find(d, w->k->key, w->k->klen);
    if (o && kobj_is_expired(o)) o = NULL;
    if (!o && !w->snapshot) return 0;
    char *err = NULL;
    if (mapping_state_from_entry(w->k->map, o, &w->state, &err) != OK) {
        xfree(err); /* recorded as usual: writebehind.c dead-letters it */
        w->changed = 1;
        return 0;
    }
    if (w->snapshot) {
        sbuf before = SBUF_INIT;
        char *e2 = NULL;
        int same = mapping_state_from_entry(w->k->map, w->snapshot, &before, &e2) == OK &&
                   before.len == w->state.len && !memcmp(before.p, w->state.p, before.len);
        xfree(e2);
        sbuf_free(&before);
        if (same) return 0;
    }
    w->changed = 1;
    return !mapping_state_is_delete(w->state.p, w->state.len);
}

void wbc_after(client *c) {
    wbc_job *j = cur;
    cur = NULL;
    reply_hold(c, NULL);
    db *d = server_db(0);
    j->job.ops = xcalloc((size_t)(j->n ? j->n : 1), sizeof(store_op));
    for (int i = 0; i < j->n; i++) {
        wbc_key *w = &j->keys[i];
        if (!needs_check(w, d)) continue;
        const char *pk = w->k->key + w->k->map->plen;
        size_t pklen = w->k->klen - w->k->map->plen - w->k->map->slen;
        if (mapping_state_to_op(w->k->map, pk, pklen, w->state.p, w->state.len,
                                &j->job.ops[j->job.nops], &w->scratch) == OK)
            j->job.nops++;
    }
    /* a store that is not connected cannot judge now: the batch will (a
     * write-behind write must not wait for a store that is down) */
    storeq_stats st;
    storeq_get_stats(&st);
    if (st.conn_state != STORE_CONN_CONNECTED) j->job.nops = 0;
    if (!j->job.nops) { /* nothing to ask the store: written as usual */
        accept(j, c);
        reply_raw(c, j->held.p, j->held.len);
        release_keys(j);
        free_job(j);
        return;
    }
    for (int i = 0; i < j->n; i++) j->keys[i].k->locked = 1;
    j->job.group = 1;
    j->job.check = 1;
    j->job.done = check_done;
    block_client(c, BLOCKED_STORE, 0);
    storeq_submit(&j->job);
}
