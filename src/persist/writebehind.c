/* persist/writebehind — dirty tracking, the journal, the flusher, dead
 * letters, and the WB.* commands.
 *
 * Life of a write to a write-behind key:
 *   1. the command runs; signal_modified_key marks the key touched;
 *   2. before-sleep, before any reply is written: the key's new row state is
 *      appended to the journal (coalesced per key per loop turn) and the
 *      journal committed (fsync under journal-fsync always); the key joins the
 *      dirty FIFO;
 *   3. the flusher takes up to write-behind-batch keys from the FIFO head when
 *      write-behind-delay-ms has passed since the oldest got dirty or the
 *      batch is full, and writes their latest states in one transaction,
 *      together with the watermark W (below);
 *   4. a key whose state did not change meanwhile becomes clean; a row the
 *      store refuses for good goes to the dead-letter table with its error; a
 *      transient failure retries the whole batch with exponential backoff.
 *
 * Watermark: every journal record with seq < W is in the store. W stored with
 * a batch is the first_unflushed seq of the first dirty key NOT in the batch
 * (the FIFO is ordered by first_unflushed), or the next seq if none. Replay
 * at start skips records below the stored W, flushes the rest, then truncates.
 *
 * Invariants:
 *  1. A key is in the dirty FIFO iff pkey.dirty, ordered by first_unflushed.
 *  2. At most one batch is being built or in flight; its keys have in_flight
 *     set. It is built, and its outcomes processed, a slice of keys per loop
 *     turn (see "batch work in slices"); it is in flight from its
 *     submission until its last outcome is processed.
 *  3. A dirty key is never evicted and its reads never go to the store.
 *  4. A write is acknowledged only after its journal record is written (and
 *     fsync'ed under `always`); if that fails the writer is disconnected
 *     without a reply and further write-behind writes get -BACKEND.
 *  5. A batch's rows point into their keys' state buffers (pkey.state_lent),
 *     not copies: while lent, a buffer is never written or freed; a newer
 *     state gets a buffer of its own and the lent one is retired, freed when
 *     the batch is done. */
#include "persist/persist.h"
#include "util/clock.h"
#include "util/mem.h"
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static ev_timer flush_timer;
static uint64_t *touch_clients; /* ids of clients that wrote WB keys this turn */
static size_t ntouch_clients, cap_touch_clients;

static void start_batch(void);
static void wb_batch_step(void);

/* ---- the dirty FIFO ------------------------------------------------------------- */

static void fifo_insert_ordered(pkey *k) {
    /* from the tail: new seqs are usually the largest */
    list_node *n = ps.dirty.n.prev;
    while (n != &ps.dirty.n &&
           list_entry(n, pkey, dirty_node)->first_unflushed > k->first_unflushed)
        n = n->prev;
    k->dirty_node.prev = n;
    k->dirty_node.next = n->next;
    n->next->prev = &k->dirty_node;
    n->next = &k->dirty_node;
    ps.dirty.len++;
}

/* Puts v[0..n) (unlinked, sorted by first_unflushed) back in the FIFO in
 * one walk from the tail: keys a batch took that were written again while
 * it was in flight. One fifo_insert_ordered() each walked past every key
 * dirtied meanwhile, once per key: quadratic in the batch size. */
static void fifo_insert_sorted(pkey **v, size_t n) {
    list_node *at = ps.dirty.n.prev;
    for (size_t i = n; i-- > 0;) {
        pkey *k = v[i];
        while (at != &ps.dirty.n &&
               list_entry(at, pkey, dirty_node)->first_unflushed > k->first_unflushed)
            at = at->prev;
        k->dirty_node.prev = at;
        k->dirty_node.next = at->next;
        at->next->prev = &k->dirty_node;
        at->next = &k->dirty_node;
        ps.dirty.len++;
    }
}

static void reply_flush_waiters(const char *error);
static void maybe_compact_journal(void);

static void build_unlink(pkey *k);

static void mark_clean(pkey *k) {
    if (!k->dirty) return;
    build_unlink(k);
    list_remove(&ps.dirty, &k->dirty_node);
    k->dirty = 0;
    ps.dirty_count--;
}

static int replaying;

/* Everything is in the store: wake WB.FLUSH, end a replay, trim the journal. */
static void all_flushed(void) {
    reply_flush_waiters(NULL);
    if (replaying) {
        replaying = 0;
        server_set_loading(0);
        server_log(LL_NOTICE, "write-behind journal replayed into the store");
    }
    maybe_compact_journal();
}

int wb_over_limit(void) {
    return ps.dirty_count >= pcfg.wb_max_pending || !ps.journal_ok;
}

/* ---- writes ------------------------------------------------------------------------- */

void wb_key_written(pkey *k) {
    client *c = server_executing_client();
    if (c && c->script_caller) c = c->script_caller; /* a script's write: its caller's reply */
    wb_key_written_by(k, c);
}

void wb_key_written_by(pkey *k, client *c) {
    if (!k->touched) {
        k->touched = 1;
        list_push_back(&ps.touched, &k->touched_node);
    }
    if (c && c->fd >= 0) {
        /* a pipeline's writes come one after another: its client once */
        if (ntouch_clients && touch_clients[ntouch_clients - 1] == c->id) {
            c->reply_after = journal_next_seq();
            return;
        }
        if (ntouch_clients == cap_touch_clients) {
            cap_touch_clients = cap_touch_clients ? cap_touch_clients * 2 : 16;
            touch_clients = xrealloc(touch_clients, sizeof(uint64_t) * cap_touch_clients);
        }
        touch_clients[ntouch_clients++] = c->id;
        /* bar its replies now: a write watcher or a busy script's polling
         * may write to it before this turn's before-sleep journals the
         * record; wb_before_sleep() sets the exact position */
        c->reply_after = journal_next_seq();
    }
}

/* State buffers lent to the batch in flight and replaced meanwhile
 * (invariant 5): freed when it is done. */
static sbuf *retired;
static size_t nretired, cap_retired;

static void free_retired(void) {
    for (size_t i = 0; i < nretired; i++) sbuf_free(&retired[i]);
    nretired = 0;
}

/* Records the state in *state for k (journal + FIFO). The buffers are
 * swapped, not copied: *state gets k's previous one back, or an empty one
 * when the previous one is lent to the batch in flight. */
static void record_state(pkey *k, sbuf *state) {
    const char *p = state->p ? state->p : "";
    size_t len = state->len;
    if (k->dirty && k->state.len == len && !memcmp(k->state.p, p, len)) return; /* no change */
    uint64_t seq = journal_append(k->map->name, strlen(k->map->name), k->key, k->klen, p, len);
    sbuf old = k->state;
    k->state = *state;
    if (k->state_lent) {
        if (nretired == cap_retired) {
            cap_retired = cap_retired ? cap_retired * 2 : 64;
            retired = xrealloc(retired, cap_retired * sizeof(sbuf));
        }
        retired[nretired++] = old;
        k->state_lent = 0;
        *state = (sbuf)SBUF_INIT;
    } else {
        *state = old;
    }
    if (!k->dirty) {
        k->dirty = 1;
        k->first_unflushed = seq;
        k->dirty_since_ms = server_mstime();
        fifo_insert_ordered(k);
        ps.dirty_count++;
    } else if (k->in_flight && !k->pending_first) {
        k->pending_first = seq;
        k->pending_since_ms = server_mstime();
    }
}

static void deadletter(pkey *k, const char *state, size_t slen, const char *error);

/* A journal write failed: nothing of this turn may be acknowledged. */
static void journal_failed(const char *err) {
    server_log(LL_WARNING,
               "write-behind journal failure: %s; disconnecting %zu writers, refusing write-behind "
               "writes until the journal works",
               err, ntouch_clients);
    for (size_t i = 0; i < ntouch_clients; i++) {
        client *c = client_by_id(touch_clients[i]);
        if (!c) continue;
        /* drop what it would have been told and close it */
        c->flags |= CLIENT_REPLY_OFF;
        client_close_async(c);
    }
    ps.journal_ok = 0;
}

void wb_before_sleep(void) {
    list_node *n;
    db *d = server_db(0);
    sbuf state = SBUF_INIT;
    kv_now_ms = server_mstime();
    while ((n = list_first(&ps.touched))) {
        pkey *k = list_entry(n, pkey, touched_node);
        list_remove(&ps.touched, n);
        k->touched = 0;
        kobj *o = db_find_hashed(d, k->key, k->klen, k->hash); /* pkeys and the db hash alike */
        if (o && kobj_is_expired(o)) o = NULL;
        char *err = NULL;
        if (!o && pcfg.on_delete == ON_DELETE_CACHE) {
            /* a cache-only delete: the pending state (if any) still goes out */
        } else if (mapping_state_from_entry(k->map, o, &state, &err) != OK) {
            deadletter(k, state.p ? state.p : "", state.len, err);
            xfree(err);
        } else {
            record_state(k, &state);
        }
        pkey_maybe_free(k);
    }
    sbuf_free(&state);
    /* the writers' replies acknowledge every record so far (a write that
     * changed nothing, the latest state of its key): they leave once the
     * journal has committed up to here (networking's reply barrier); the
     * positions only grow, so this replaces wb_key_written's provisional one */
    uint64_t last = journal_next_seq() - 1;
    for (size_t i = 0; i < ntouch_clients; i++) {
        client *c = client_by_id(touch_clients[i]);
        if (c) c->reply_after = last;
    }
    char *err = NULL;
    int64_t commit_start = clock_ustime();
    int jrc = journal_commit(&err);
    latency_add_sample_if_needed("journal-fsync", (clock_ustime() - commit_start) / 1000);
    if (jrc != 0) {
        journal_failed(err);
        xfree(err);
    } else if (!ps.journal_ok && ntouch_clients == 0) {
        ps.journal_ok = 1;
    }
    replies_durable(journal_committed_seq());
    ntouch_clients = 0;
    if (!ps.batch_in_flight && ps.dirty_count >= pcfg.wb_batch &&
        server_mstime() >= ps.retry_until_ms)
        start_batch();
    wb_batch_step();
}

/* ---- batches ---------------------------------------------------------------------- */

/* A dead letter: a row of wb_deadletter (id, map, key, op, state, error, at).
 * Its values point into the owner's copies (key text, state). */
static const char *const dl_keycols[1] = {"id"};
static const char *const dl_cols[6] = {"map", "key", "op", "state", "error", "at"};
enum { DL_ERROR_COL = 4 };

typedef struct dl_row {
    store_value id, vals[6];
    store_op op;
} dl_row;

static void dl_row_init(dl_row *d, const pkey *k, const char *state, size_t slen, const char *error,
                        int64_t now) {
    int del = mapping_state_is_delete(state, slen);
    d->id = (store_value){SV_INT, ps.next_deadletter_id++, 0, NULL, 0};
    d->vals[0] = (store_value){SV_TEXT, 0, 0, k->map->name, strlen(k->map->name)};
    d->vals[1] = (store_value){SV_BLOB, 0, 0, k->key, k->klen};
    d->vals[2] = (store_value){SV_TEXT, 0, 0, del ? "delete" : "upsert", 6};
    d->vals[3] = (store_value){SV_BLOB, 0, 0, state, slen};
    d->vals[4] = (store_value){SV_TEXT, 0, 0, error ? error : "", error ? strlen(error) : 0};
    d->vals[5] = (store_value){SV_INT, now, 0, NULL, 0};
    d->op = (store_op){.kind = STORE_UPSERT,
                       .table = "wb_deadletter",
                       .nkey = 1,
                       .keycols = dl_keycols,
                       .keyvals = &d->id,
                       .ncols = 6,
                       .cols = dl_cols,
                       .vals = d->vals};
}

/* One key of a batch. Its row points into the key's state buffer, lent
 * to the batch (invariant 5). */
typedef struct batch_key {
    pkey *k;
    op_scratch scratch;
    dl_row dl; /* applied in the row's place, same transaction, if refused */
} batch_key;

typedef struct batch_job {
    store_job job;
    batch_key *keys;
    int n;
    uint64_t watermark;
    const char *meta_keycol, *meta_col;
    store_value meta_key, meta_val;
    int done;      /* keys whose outcome is processed (finish_slice) */
    int unwritten; /* keys a transient failure left unwritten */
} batch_job;

static void batch_done(store_job *sj);
static void deadletter(pkey *k, const char *state, size_t slen, const char *error);

/* At most one batch is in flight (invariant 2), so its key and op arrays are
 * kept from one batch to the next: fresh arrays of write-behind-batch
 * entries cost page faults on every batch. */
static batch_key *pool_keys;
static store_op *pool_ops;
static size_t pool_cap;

/* Frees what keys[from..n) still hold and the batch. */
static void free_batch(batch_job *b, int from) {
    for (int i = from; i < b->n; i++) mapping_op_free(&b->keys[i].scratch);
    free_retired();
    xfree(b->job.err);
    xfree(b);
}

/* ---- batch work in slices ------------------------------------------------------------ */

/* The loop thread builds a batch, and processes a finished batch's outcomes,
 * at most WB_SLICE_KEYS keys per loop turn (the before-sleep hook runs one
 * slice; ev_idle keeps the loop from sleeping while a slice remains), so
 * a batch of thousands of keys does not hold every client for milliseconds:
 * measured on the 2-vCPU test machine, building costs about 0.5 us a key
 * and processing an outcome about 0.4 us, so a slice of 256 keys is about
 * 0.1-0.15 ms of one turn, while the per-slice overhead (one more loop turn)
 * stays under 2% of it. During a replay and at shutdown no client waits:
 * everything is done at once.
 *
 * A batch being built is not in flight: its keys taken so far are (in_flight,
 * state_lent) and a write to one of them meanwhile is handled as during the
 * flight (pending_first, the lent buffer retired). Its watermark is capped at
 * the journal's next seq when the build began: a record appended during the
 * build may belong to a key taken before it, whose batch row is older.
 * A batch whose outcomes are being processed is still in flight
 * (ps.batch_in_flight) until its last slice: no batch starts meanwhile, and
 * its keys not yet processed keep their in-flight state. */
#define WB_SLICE_KEYS 256
static int slice_keys = WB_SLICE_KEYS; /* DEBUG WB-SLICE */
static int slices_held;                /* DEBUG WB-SLICE hold */
static int all_at_once;                /* wb_shutdown: no client waits */
static ev_idle more_work;              /* a slice remains: the loop must not sleep */

static batch_job *building;    /* the batch being built */
static list_node *build_at;    /* the last FIFO node the build visited */
static size_t build_max;       /* keys it may take */
static uint64_t build_wm;      /* its watermark, 0 until a key is left out */
static uint64_t build_seq_cap; /* the journal's next seq when the build began */
static batch_job *finishing;   /* the batch whose outcomes are being processed */

static int no_waiting_clients(void) {
    return all_at_once || replaying;
}

static void submit_batch(batch_job *b);

/* Takes up to budget more keys into the batch being built; submits it when
 * it is complete. */
static void build_slice(size_t budget) {
    batch_job *b = building;
    int64_t now = server_mstime();
    list_node *n = build_at->next;
    for (; n != &ps.dirty.n && budget; n = build_at->next, budget--) {
        pkey *k = list_entry(n, pkey, dirty_node);
        build_at = n;
        /* a touched key's newest state is recorded at before-sleep: the
         * state it holds now is older, and taking it would mark the key
         * clean with the newer state unwritten */
        if ((size_t)b->n >= build_max || k->deadlettering || k->in_flight || k->touched) {
            if (!build_wm) build_wm = k->first_unflushed; /* first dirty key not in the batch */
            if ((size_t)b->n >= build_max) break;
            continue;
        }
        batch_key *bk = &b->keys[b->n];
        const char *pk = k->key + k->map->plen;
        size_t pklen = k->klen - k->map->plen - k->map->slen;
        const char *st = k->state.p ? k->state.p : "";
        store_op *op = &b->job.ops[b->job.nops];
        if (mapping_state_to_op(k->map, pk, pklen, st, k->state.len, op, &bk->scratch) != OK) {
            /* a journaled state the mapping cannot write (its columns changed
             * between runs): set aside, never dropped */
            if (!build_wm) build_wm = k->first_unflushed;
            mapping_op_free(&bk->scratch);
            deadletter(k, st, k->state.len, "the state does not fit the map's columns");
            continue;
        }
        bk->k = k;
        k->state_lent = 1;
        dl_row_init(&bk->dl, k, st, k->state.len, NULL, now);
        op->on_refuse = &bk->dl.op;
        op->on_refuse_col = DL_ERROR_COL;
        k->in_flight = 1;
        k->flushing_version = k->version;
        k->pending_first = 0;
        b->n++;
        b->job.nops++;
    }
    ps.st.wb_batch_slices++;
    if (n != &ps.dirty.n && (size_t)b->n < build_max) return; /* more next turn */
    if (!build_wm && build_at->next != &ps.dirty.n)           /* full at the slice's end */
        build_wm = list_entry(build_at->next, pkey, dirty_node)->first_unflushed;
    building = NULL;
    if (!b->n) {
        free_batch(b, 0);
        return;
    }
    submit_batch(b);
}

/* mark_clean() of the node the build stands on: it steps back. */
static void build_unlink(pkey *k) {
    if (building && build_at == &k->dirty_node) build_at = k->dirty_node.prev;
}

static void start_batch(void) {
    if (ps.batch_in_flight || building || !ps.dirty_count) return;
    batch_job *b = xcalloc(1, sizeof(*b));
    size_t max = (size_t)pcfg.wb_batch;
    if (max > (size_t)ps.dirty_count) max = (size_t)ps.dirty_count;
    if (max > pool_cap) {
        pool_keys = xrealloc(pool_keys, max * sizeof(batch_key));
        pool_ops = xrealloc(pool_ops, (max + 1) * sizeof(store_op));
        pool_cap = max;
    }
    /* not cleared: each key's fields are set as it is taken (a batch key is
     * about a kilobyte; clearing them all cost more than the rest of it) */
    b->keys = pool_keys;
    b->job.ops = pool_ops;
    building = b;
    build_at = &ps.dirty.n;
    build_max = max;
    build_wm = 0;
    build_seq_cap = journal_next_seq();
    if (no_waiting_clients())
        build_slice(SIZE_MAX);
    else
        ev_idle_start(server_loop(), &more_work); /* the slices: wb_batch_step() */
}

static void submit_batch(batch_job *b) {
    uint64_t wm = build_wm ? build_wm : journal_next_seq();
    if (wm > build_seq_cap) wm = build_seq_cap;
    b->watermark = wm;
    /* the watermark rides in the same transaction */
    b->meta_keycol = "name";
    b->meta_col = "value";
    b->meta_key = (store_value){SV_TEXT, 0, 0, "wb_watermark", 12};
    b->meta_val = (store_value){SV_INT, (int64_t)wm, 0, NULL, 0};
    store_op *op = &b->job.ops[b->job.nops++];
    memset(op, 0, sizeof(*op));
    op->kind = STORE_UPSERT;
    op->table = "wb_meta";
    op->nkey = 1;
    op->keycols = &b->meta_keycol;
    op->keyvals = &b->meta_key;
    op->ncols = 1;
    op->cols = &b->meta_col;
    op->vals = &b->meta_val;
    b->job.done = batch_done;
    /* its fsync off lane 0: a read-through load queued behind the batch
     * waits for its writes only (done() still comes once it is durable) */
    b->job.nosync = 1;
    b->job.chunk = (int)pcfg.wb_chunk;
    ps.batch_in_flight = 1;
    storeq_submit(&b->job);
}

static void reply_flush_waiters(const char *error) {
    client *c;
    while ((c = persist_wait_pop(&ps.flush_waiters))) {
        if (error)
            reply_errorf(c, "BACKEND write-behind flush failed: %s (%ld keys pending)", error,
                         ps.dirty_count);
        else
            reply_ok(c);
        unblock_client(c);
    }
}

static void maybe_compact_journal(void) {
    char *err = NULL;
    if (ps.dirty_count == 0) {
        if (journal_bytes() > 4096 && journal_truncate(&err) != 0) goto fail;
        return;
    }
    /* the size test first: summing the live states walks every dirty key,
     * and this runs after every batch */
    if (journal_bytes() < 64LL * 1024 * 1024) return;
    long long live = 0;
    list_node *n;
    list_for_each(n, &ps.dirty) live += (long long)list_entry(n, pkey, dirty_node)->state.len + 64;
    if (journal_bytes() < 4 * live) return;
    /* rewrite() below emits the live states; nothing may be buffered */
    if (journal_commit(&err) != 0) goto fail;
    if (journal_rewrite(wb_fill_journal, NULL, &err) != 0) goto fail;
    return;
fail:
    server_log(LL_WARNING, "write-behind journal maintenance failed: %s", err);
    xfree(err);
}

void wb_fill_journal(void *ctx, journal_emit_fn emit) {
    (void)ctx;
    list_node *n;
    list_for_each(n, &ps.dirty) {
        pkey *k = list_entry(n, pkey, dirty_node);
        /* keeps each key's seq position: the FIFO order is preserved */
        emit(k->map->name, strlen(k->map->name), k->key, k->klen, k->state.p, k->state.len,
             k->first_unflushed);
    }
}

/* The store refused k's latest state for good: the cache must not keep
 * serving it. Only when no newer write is pending (the caller checks that
 * k's version is the refused one): a later write stays and is written in
 * its turn. The next read loads what the store holds. Returns 1 if an
 * entry was dropped. */
static int drop_refused_entry(pkey *k) {
    db *d = server_db(0);
    k->version++; /* nothing in flight may install the refused state again */
    if (!db_delete(d, k->key, k->klen)) return 0;
    signal_modified_key(NULL, d, k->key, k->klen);
    ps.st.wb_refused_dropped++;
    return 1;
}

/* The outcome of a batch for one of its keys (op: its row). A key written
 * again meanwhile stays where it is in the FIFO and is added to *requeue:
 * the caller moves those to their new places together. */
static void key_batch_done(pkey *k, store_op *op, pkey **requeue, size_t *nrequeue) {
    k->in_flight = 0;
    k->state_lent = 0;
    int latest = k->version == k->flushing_version; /* no write since the batch took it */
    /* a newer state is recorded, or will be this turn */
    int newer = k->pending_first != 0 || k->touched;
    int refused = op->status != STORE_OK;
    if (refused) {
        /* refused for good: its dead letter went in with the batch; the
         * entry goes too unless a newer write stays (a write that left
         * the state as it was does not count). A write still checked
         * by the store decides itself (wbcheck.c: refused_pending). */
        ps.st.wb_deadletter++;
        wbc_schema_changed(k->map->name); /* its description may be behind the store's */
        int dropped = 0;
        if (!newer && k->checking)
            k->refused_pending = 1;
        else if (!newer)
            dropped = drop_refused_entry(k);
        server_log(LL_WARNING, "write-behind: key %.*s dead-lettered%s: %s", (int)k->klen, k->key,
                   dropped ? " and dropped from the cache" : "",
                   op->error ? op->error : "row refused");
        xfree(op->error);
    } else {
        ps.st.wb_flushed_total++;
    }
    if (latest || (refused && !newer)) {
        mark_clean(k);
    } else if (k->pending_first) {
        /* written again meanwhile (a refused state is superseded too):
         * the newer state goes in a later batch, in its journal order */
        k->first_unflushed = k->pending_first;
        k->dirty_since_ms = k->pending_since_ms; /* the lag is that write's age */
        requeue[(*nrequeue)++] = k;
    }
    k->pending_first = 0;
    inval_flushed(k);
    pkey_maybe_free(k);
}

/* The batch's committed rows into the change stream; a row refused (and
 * dead-lettered) is not a change of its table. All at once, not in slices:
 * a commit's entries are appended together (changes.c, invariant 2). */
static void note_changes(batch_job *b) {
    if (!changes_on()) return;
    uint64_t seq = 0;
    for (int i = 0; i < b->n; i++) {
        const store_op *op = &b->job.ops[i];
        if (op->status != STORE_OK) continue;
        if (!seq) seq = changes_commit();
        pkey *k = b->keys[i].k;
        changes_row(seq, k->map->name, changes_op(op), k->key + k->map->plen,
                    k->klen - k->map->plen - k->map->slen, k->key, k->klen);
    }
}

static int by_first_unflushed(const void *a, const void *b) {
    uint64_t x = (*(pkey *const *)a)->first_unflushed, y = (*(pkey *const *)b)->first_unflushed;
    return x < y ? -1 : x > y;
}

/* Moves the keys key_batch_done() set aside to their places by their new
 * first_unflushed (still dirty: pkey_maybe_free kept them). */
static void requeue_keys(pkey **v, size_t n) {
    if (!n) return;
    for (size_t i = 0; i < n; i++) list_remove(&ps.dirty, &v[i]->dirty_node);
    qsort(v, n, sizeof(pkey *), by_first_unflushed);
    fifo_insert_sorted(v, n);
}

/* A key the batch did not write: still dirty, at its place in the FIFO. */
static void key_not_written(pkey *k) {
    k->in_flight = 0;
    k->state_lent = 0;
    k->pending_first = 0;
}

/* After a transient failure (all of the batch, or its later chunks):
 * the next try waits, with exponential backoff. */
static void back_off(void) {
    ps.retry_count++;
    ps.st.wb_retries++;
    double backoff = 100.0 * pow(2.0, ps.retry_count - 1);
    if (backoff > 30000) backoff = 30000;
    backoff *= 0.75 + 0.5 * ((double)random() / RAND_MAX); /* jitter */
    ps.retry_until_ms = server_mstime() + (int64_t)backoff;
}

static void finish_batch(batch_job *b);

/* Processes the outcomes of up to budget more keys of the batch being
 * finished; ends it after the last. */
static void finish_slice(size_t budget) {
    batch_job *b = finishing;
    /* b->n <= pool_cap: the requeue array is as big as the batch pool */
    static pkey **requeue;
    static size_t requeue_cap;
    if (requeue_cap < pool_cap) {
        requeue = xrealloc(requeue, pool_cap * sizeof(pkey *));
        requeue_cap = pool_cap;
    }
    size_t nrequeue = 0;
    for (; b->done < b->n && budget; b->done++, budget--) {
        int i = b->done;
        if (b->keys[i].k) key_batch_done(b->keys[i].k, &b->job.ops[i], requeue, &nrequeue);
        mapping_op_free(&b->keys[i].scratch);
    }
    /* each slice's requeued keys at their places: the FIFO stays ordered
     * (invariant 1) between two slices */
    requeue_keys(requeue, nrequeue);
    ps.st.wb_batch_slices++;
    if (b->done == b->n) finish_batch(b);
}

static void finish_batch(batch_job *b) {
    finishing = NULL;
    ps.batch_in_flight = 0;
    if (b->unwritten) reply_flush_waiters(b->job.err ? b->job.err : "store error");
    free_batch(b, b->n);
    if (ps.dirty_count == 0)
        all_flushed();
    else
        maybe_compact_journal();
    /* the next batch at once when one is due (wb_cron's rules): the oldest
     * key waited its delay while this one was written */
    wb_cron();
}

static void batch_done(store_job *sj) {
    batch_job *b = (batch_job *)sj;
    latency_add_sample_if_needed("write-behind-flush", (sj->finished_us - sj->started_us) / 1000);
    if (sj->rc != STORE_OK) {
        ps.batch_in_flight = 0;
        for (int i = 0; i < b->n; i++) {
            key_not_written(b->keys[i].k);
            /* a failed fsync comes after the rows' outcomes (refusals'
             * texts included): all retried */
            xfree(sj->ops[i].error);
            sj->ops[i].error = NULL;
        }
        back_off();
        server_log(LL_WARNING, "write-behind batch of %d keys failed (%s); retry %d in %lld ms",
                   b->n, sj->err ? sj->err : "store error", ps.retry_count,
                   (long long)(ps.retry_until_ms - server_mstime()));
        reply_flush_waiters(sj->err ? sj->err : "store error");
        free_batch(b, 0);
        return;
    }
    /* the store applies a big batch in chunks (storeq.h): a transient
     * failure after the first leaves the rest unwritten, the watermark
     * (the last op) with them */
    for (int i = 0; i < b->n; i++) {
        if (sj->ops[i].status != STORE_ERR_TRANSIENT) continue;
        key_not_written(b->keys[i].k);
        b->keys[i].k = NULL;
        b->unwritten++;
    }
    ps.st.wb_batches++;
    if (b->unwritten) {
        back_off();
        server_log(LL_WARNING,
                   "write-behind batch of %d keys: %d not written (%s); retry %d in %lld ms", b->n,
                   b->unwritten, sj->err ? sj->err : "store error", ps.retry_count,
                   (long long)(ps.retry_until_ms - server_mstime()));
    } else {
        ps.retry_count = 0;
    }
    if (sj->ops[b->n].status == STORE_OK) ps.watermark = b->watermark;
    note_changes(b);
    /* the keys' outcomes in slices (wb_batch_step); the batch stays in
     * flight until the last, and WB.FLUSH waiters hear of a failure then */
    finishing = b;
    if (no_waiting_clients())
        finish_slice(SIZE_MAX);
    else
        ev_idle_start(server_loop(), &more_work);
}

/* One slice of batch work, once per loop turn (the before-sleep hook). */
static void batch_slice(void) {
    if (finishing)
        finish_slice((size_t)slice_keys);
    else if (building)
        build_slice((size_t)slice_keys);
}

static void wb_batch_step(void) {
    if (!slices_held) batch_slice();
    if ((!building && !finishing) || slices_held) ev_idle_stop(server_loop(), &more_work);
}

static void more_work_cb(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents; /* the work is wb_batch_step's, before the loop sleeps */
}

/* ---- dead letters ------------------------------------------------------------------- */

/* States refused before any batch (a cache value the mapping cannot turn into
 * a row) are written to wb_deadletter by a job of their own; the key stays
 * dirty (and holds the watermark back) until that is done. */
typedef struct dl_job {
    store_job job;
    pkey *k;
    uint64_t version;
    sbuf state, text; /* copies the row points into */
    dl_row row;
} dl_job;

static void dl_done(store_job *sj) {
    dl_job *j = (dl_job *)sj;
    pkey *k = j->k;
    k->deadlettering = 0;
    if (sj->rc == STORE_OK) {
        ps.st.wb_deadletter++;
        server_log(LL_WARNING, "write-behind: key %.*s dead-lettered: %s", (int)k->klen, k->key,
                   j->text.p ? j->text.p : "");
        if (k->version == j->version) {
            drop_refused_entry(k);
            mark_clean(k);
        }
        if (ps.dirty_count == 0 && !ps.batch_in_flight) all_flushed();
    }
    /* on failure the key stays dirty and the flusher tries the row again */
    pkey_maybe_free(k);
    sbuf_free(&j->state);
    sbuf_free(&j->text);
    xfree(sj->ops[0].error);
    xfree(sj->ops);
    xfree(sj->err);
    xfree(j);
}

static void deadletter(pkey *k, const char *state, size_t slen, const char *error) {
    if (!k->dirty) { /* a state we could not even record: make it dirty first */
        uint64_t seq =
            journal_append(k->map->name, strlen(k->map->name), k->key, k->klen, state, slen);
        sbuf_clear(&k->state);
        sbuf_append(&k->state, state, slen);
        k->dirty = 1;
        k->first_unflushed = seq;
        k->dirty_since_ms = server_mstime();
        fifo_insert_ordered(k);
        ps.dirty_count++;
    }
    dl_job *j = xcalloc(1, sizeof(*j));
    j->k = k;
    j->version = k->version;
    k->deadlettering = 1;
    sbuf_append(&j->state, state, slen);
    sbuf_printf(&j->text, "%s", error ? error : "");
    dl_row_init(&j->row, k, j->state.p ? j->state.p : "", j->state.len, j->text.p ? j->text.p : "",
                server_mstime());
    j->job.ops = xcalloc(1, sizeof(store_op));
    j->job.ops[0] = j->row.op;
    j->job.nops = 1;
    j->job.done = dl_done;
    storeq_submit(&j->job);
}

/* ---- timers, start, shutdown ------------------------------------------------------- */

static void flush_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)t;
    (void)revents;
    server_update_time();
    wb_cron();
}

/* How much longer than write-behind-delay-ms the oldest dirty key may wait
 * while a batch is in flight before that batch is late, and its store thread
 * leaves the background priority (storeq.h). A batch of 10,000 rows is
 * applied in tens of milliseconds when the store thread gets a CPU, so only
 * a starved one gets this late, and a raised one still leaves the flush lag
 * well under a second. */
#define WB_LATE_MS 250

void wb_cron(void) {
    if (!ps.dirty_count) return;
    pkey *head = list_entry(ps.dirty.n.next, pkey, dirty_node);
    if (ps.batch_in_flight) {
        if (server_mstime() - head->dirty_since_ms > pcfg.wb_delay_ms + WB_LATE_MS)
            storeq_urge_batch();
        return;
    }
    if (server_mstime() < ps.retry_until_ms) return;
    if (replaying || !list_empty(&ps.flush_waiters) || ps.dirty_count >= pcfg.wb_batch ||
        server_mstime() - head->dirty_since_ms >= pcfg.wb_delay_ms)
        start_batch();
}

typedef struct replay_ctx {
    uint64_t watermark;
    long records, skipped;
} replay_ctx;

static void replay_record(void *ctx, uint64_t seq, const char *map, size_t mlen, const char *key,
                          size_t klen, const char *state, size_t slen) {
    replay_ctx *r = ctx;
    if (seq < r->watermark) {
        r->skipped++;
        return;
    }
    const mapping *m = NULL;
    for (int i = 0; i < ps.maps.n; i++)
        if (strlen(ps.maps.v[i]->name) == mlen && !memcmp(ps.maps.v[i]->name, map, mlen))
            m = ps.maps.v[i];
    if (!m) {
        server_log(LL_WARNING, "journal: record for unknown map %.*s (key %.*s) ignored", (int)mlen,
                   map, (int)klen, key);
        return;
    }
    pkey *k = pkey_get(key, klen, m);
    assert(!k->state_lent); /* no batch runs during the replay's reading */
    sbuf_clear(&k->state);
    sbuf_append(&k->state, state, slen);
    if (!k->dirty) {
        k->dirty = 1;
        k->first_unflushed = seq;
        k->dirty_since_ms = server_mstime();
        fifo_insert_ordered(k);
        ps.dirty_count++;
    }
    r->records++;
}

/* DEBUG JOURNAL-HOLD on|off: holds the journal's fsyncs (journal-fsync
 * always), so a test can see that a write's reply waits for its record. */
void wb_debug_journal_hold(client *c) {
    int on = c->argc == 3 && arg_is(&c->argv[2], "on");
    if (c->argc != 3 || (!on && !arg_is(&c->argv[2], "off"))) {
        reply_error(c, "ERR DEBUG JOURNAL-HOLD on|off");
        return;
    }
    journal_hold(on);
    char *err = NULL;
    if (!on && journal_commit(&err) != 0) {
        reply_errorf(c, "ERR %s", err);
        xfree(err);
        return;
    }
    replies_durable(journal_committed_seq());
    reply_ok(c);
}

int wb_start(char **err) {
    ps.journal_ok = 1;
    /* the store's own type names: PostgreSQL has bigint and bytea, no BLOB */
    const char *ti = persist_column_type(SV_INT), *tt = persist_column_type(SV_TEXT),
               *tb = persist_column_type(SV_BLOB);
    sbuf ddl = SBUF_INIT;
    sbuf_printf(&ddl,
                "CREATE TABLE IF NOT EXISTS wb_deadletter (id %s PRIMARY KEY, map %s, key %s, "
                "op %s, state %s, error %s, at %s)",
                ti, tt, tb, tt, tb, tt, ti);
    int rc = persist_query_sync(ddl.p, 0, NULL, err);
    sbuf_free(&ddl);
    if (rc != OK) return ERR;
    int64_t wm = 0, maxid = 0;
    if (persist_query_int("SELECT value FROM wb_meta WHERE name = 'wb_watermark'", &wm, err) != OK)
        return ERR;
    if (persist_query_int("SELECT max(id) FROM wb_deadletter", &maxid, err) != OK) return ERR;
    ps.watermark = (uint64_t)wm;
    ps.next_deadletter_id = maxid + 1;
    const char *path = pcfg.journal_path ? pcfg.journal_path : "larder.journal";
    replay_ctx r = {(uint64_t)wm, 0, 0};
    uint64_t next = 1;
    if (journal_replay(path, replay_record, &r, &next, err) != 0) return ERR;
    if (next < (uint64_t)wm) next = (uint64_t)wm;
    if (journal_open(path, pcfg.journal_fsync, next, err) != 0) return ERR;
    replies_durable(journal_committed_seq());
    if (r.records) {
        server_log(LL_NOTICE,
                   "write-behind journal: %ld records to replay (%ld already in the store)",
                   r.records, r.skipped);
        replaying = 1;
        server_set_loading(1);
    } else if (r.skipped) {
        char *e = NULL;
        if (journal_truncate(&e) != 0) xfree(e);
    }
    double period = (double)(pcfg.wb_delay_ms > 10 ? 10 : pcfg.wb_delay_ms) / 1000.0;
    ev_timer_init(&flush_timer, flush_timer_cb, period, period > 0 ? period : 0.001);
    ev_timer_start(server_loop(), &flush_timer);
    ev_idle_init(&more_work, more_work_cb);
    if (replaying) start_batch();
    return OK;
}

void wb_shutdown(void) {
    /* writes of this last loop turn (a SET pipelined before SHUTDOWN) have
     * not been journaled yet */
    wb_before_sleep();
    /* no client waits any more: a batch half built or half finished is
     * completed at once, and so is everything below */
    all_at_once = 1;
    ev_idle_stop(server_loop(), &more_work);
    if (building) build_slice(SIZE_MAX);
    if (finishing) finish_slice(SIZE_MAX);
    if (!ps.dirty_count && !ps.batch_in_flight) return;
    server_log(LL_NOTICE, "write-behind: flushing %ld keys before exit", ps.dirty_count);
    char *err = NULL;
    journal_commit(&err);
    xfree(err);
    for (int attempt = 0; attempt < 5 && (ps.dirty_count || ps.batch_in_flight); attempt++) {
        ps.retry_until_ms = 0;
        while (ps.dirty_count || ps.batch_in_flight) {
            long before = ps.dirty_count;
            if (!ps.batch_in_flight) start_batch();
            storeq_drain();
            if (ps.retry_count) break; /* failed: next attempt */
            if (ps.dirty_count == before && !ps.batch_in_flight) break;
        }
    }
    if (ps.dirty_count)
        server_log(LL_WARNING,
                   "write-behind: %ld keys could not be written now; they are in the journal and "
                   "will be written at the next start",
                   ps.dirty_count);
}

void wb_info(sbuf *b) {
    int64_t lag = 0;
    if (ps.dirty_count)
        lag = server_mstime() - list_entry(ps.dirty.n.next, pkey, dirty_node)->dirty_since_ms;
    sbuf_printf(b,
                "wb_pending:%ld\r\nwb_lag_ms:%lld\r\nwb_batches:%lld\r\nwb_flushed_total:%"
                "lld\r\nwb_retries:%lld\r\n"
                "wb_deadletter:%lld\r\njournal_bytes:%lld\r\njournal_last_seq:%llu\r\n"
                "journal_committed_seq:%llu\r\njournal_fsync:%s\r\n",
                ps.dirty_count, (long long)lag, ps.st.wb_batches, ps.st.wb_flushed_total,
                ps.st.wb_retries, ps.st.wb_deadletter, journal_bytes(),
                (unsigned long long)(journal_next_seq() - 1),
                (unsigned long long)journal_committed_seq(),
                pcfg.journal_fsync == JFSYNC_ALWAYS     ? "always"
                : pcfg.journal_fsync == JFSYNC_EVERYSEC ? "everysec"
                                                        : "no");
    sbuf_printf(b,
                "wb_checked_before_reply:%lld\r\nwb_refused_before_reply:%lld\r\n"
                "wb_refused_dropped:%lld\r\n",
                ps.st.wb_checked_before_reply, ps.st.wb_refused_before_reply,
                ps.st.wb_refused_dropped);
    sbuf_printf(b, "wb_check_local:%lld\r\nwb_check_store:%lld\r\n", ps.st.wb_check_local,
                ps.st.wb_check_store);
    sbuf_printf(b, "wb_batch_slices:%lld\r\nwb_batch_outcomes_left:%d\r\n", ps.st.wb_batch_slices,
                finishing ? finishing->n - finishing->done : 0);
}

/* DEBUG WB-SLICE <keys>|hold|step|release: the keys of one slice of batch
 * work (WB_SLICE_KEYS by default); hold stops building a batch and
 * processing a finished one's outcomes before the next slice (a batch whose
 * outcomes wait stays in flight), step runs one slice meanwhile, release
 * goes on. */
void wb_debug_slice(client *c) {
    if (c->argc != 3) {
        reply_error(c, "ERR DEBUG WB-SLICE <keys>|hold|step|release");
        return;
    }
    if (arg_is(&c->argv[2], "step")) {
        if (!building && !finishing) {
            reply_error(c, "ERR no write-behind batch is being built or finished");
            return;
        }
        batch_slice();
        reply_ok(c);
        return;
    }
    if (arg_is(&c->argv[2], "hold") || arg_is(&c->argv[2], "release")) {
        slices_held = arg_is(&c->argv[2], "hold");
        if (!slices_held && (building || finishing)) ev_idle_start(server_loop(), &more_work);
        reply_ok(c);
        return;
    }
    long long n;
    if (arg_ll_or_reply(c, &c->argv[2], &n, NULL) != OK) return;
    if (n < 1 || n > INT_MAX) {
        reply_error(c, "ERR keys per slice must be between 1 and 2147483647");
        return;
    }
    slice_keys = (int)n;
    reply_ok(c);
}

/* ---- WB.FLUSH ------------------------------------------------------------------------ */

void persist_wb_flush(client *c) {
    if (!ps.dirty_count && !ps.batch_in_flight && list_empty(&ps.touched)) {
        reply_ok(c);
        return;
    }
    if (!client_can_block(c)) {
        reply_error(c, "ERR WB.FLUSH cannot wait inside MULTI or a script");
        return;
    }
    persist_wait_on(c, &ps.flush_waiters);
    block_client(c, BLOCKED_STORE, 0);
    ps.retry_until_ms = 0; /* an explicit flush does not wait out a backoff */
    if (!ps.batch_in_flight && list_empty(&ps.touched)) start_batch();
}
