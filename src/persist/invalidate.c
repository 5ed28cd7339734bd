/* persist/invalidate — following the store's change log: every committed
 * change to a mapped table, by another sidecar or any other program, drops
 * the cached key in this one (store modules with the log_* entry points,
 * store_api.h; pgstore's log is a trigger-written table plus NOTIFY).
 *
 *   store thread                                  loop thread
 *   ------------                                  -----------
 *   poll(job wake-up, listening socket, timer)
 *   log_consume: a commit notice  ──┐
 *   safety timer (every second)  ───┼─ log_read(pos) ── storeq_post ──> log_applied:
 *   reconnected (log_listen)     ───┘   (changes, new pos,              drop the keys,
 *                                        gap, state)                     lag, save pos
 *
 * Invariants:
 *  1. The position only moves forward past changes that were applied: the
 *     store thread reads from its pos and hands the new pos to the loop,
 *     which saves it (the position file) only after dropping the keys.
 *  2. A key with a write-behind state not yet in the store (dirty, touched,
 *     in flight) or a write-through commit in flight is never dropped (no
 *     regression: the cache holds this sidecar's newer write; the store gets
 *     it later). A change read after a commit of ours is applied after that
 *     commit's done() (storeq runs the watch after handing results over);
 *     should a change still meet a batch or a write-through commit in
 *     flight (DEBUG STORE-DELAY holds answers back), the key is dropped once
 *     that write is done unless a newer write of ours is pending
 *     (inval_flushed): a few extra loads, never a stale value. Every other
 *     cached key of a changed row is dropped, and a load in flight for it is
 *     not installed (pkey.version; readthrough.c loads it again).
 *  3. Where changes cannot be known (no position yet, the log pruned past
 *     it: STORE_LOG_GAP) every cached key of every mapped table is dropped;
 *     a TRUNCATE drops every cached key of its table.
 *  4. Changes this process made itself (store_change.own) are skipped: its
 *     cache already follows them.
 *  5. Only the store thread calls the module (the watch, storeq.h); the loop
 *     reads the store thread's state only from posted batches.
 *
 * The position file (journal-path + ".logpos", one line "<pos>\n", replaced
 * by rename) lets a restarted sidecar catch up from where it stopped. */
#include "persist/persist.h"
#include "util/clock.h"
#include "util/mem.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_EVERY_MS 1000 /* the safety timer: a read even without a notice */
#define RETRY_READ_MS 20   /* after a failed read, doubling up to READ_EVERY_MS */
#define LISTEN_BACKOFF_MAX_MS 2000
#define SAVE_EVERY_MS 1000 /* the position file, at most this often */
#define LAG_WINDOW 1024    /* lag samples kept for p50/p99 */

enum { IS_OFF, IS_NOT_INSTALLED, IS_CATCHING_UP, IS_LISTENING, IS_DISCONNECTED };
static const char *const state_names[] = {"off", "not-installed", "catching-up", "listening",
                                          "disconnected"};

/* configuration */
static int cfg_install;                /* store-invalidation yes */
static long long cfg_retention = 3600; /* store-invalidation-retention */
static _Atomic long long retention_s;  /* the store thread's copy */

/* ---- the store thread's side ---------------------------------------------------------- */

/* One read's outcome, posted to the loop. changes: records of
 *   op:u8 own:u8 npk:u16 at_us:i64 tlen:u32 table { vlen:u32 value } */
typedef struct log_batch {
    store_job job;
    sbuf changes;
    int n;
    int read; /* a read happened (pos is its result) */
    int gap;  /* every mapped key must go (STORE_LOG_GAP or no position) */
    int64_t pos;
    int state;
    int reconnected;
    int64_t pruned;
} log_batch;

static struct {
    int listening, fd;
    int64_t pos;
    int64_t listen_at_ms, listen_backoff_ms;
    int64_t read_at_ms, prune_at_ms;
    int64_t read_backoff_ms;
    int listened; /* listened before: a new listen is a reconnect */
    int need_read;
    int state; /* last state posted */
} sth;

static int64_t mono_ms(void) {
    return clock_mono_us() / 1000;
}

static void collect(void *ctx, const store_change *c) {
    log_batch *b = ctx;
    uint8_t op = (uint8_t)c->op, own = (uint8_t)(c->own != 0);
    uint16_t npk = (uint16_t)c->npk;
    int64_t at = c->at_us;
    uint32_t tl = (uint32_t)strlen(c->table);
    sbuf_append(&b->changes, &op, 1);
    sbuf_append(&b->changes, &own, 1);
    sbuf_append(&b->changes, &npk, 2);
    sbuf_append(&b->changes, &at, 8);
    sbuf_append(&b->changes, &tl, 4);
    sbuf_append(&b->changes, c->table, tl);
    sbuf t = SBUF_INIT;
    for (int i = 0; i < c->npk; i++) {
        sbuf_clear(&t);
        store_value_text(&c->pk[i], &t);
        uint32_t vl = (uint32_t)t.len;
        sbuf_append(&b->changes, &vl, 4);
        sbuf_append(&b->changes, t.p ? t.p : "", t.len);
    }
    sbuf_free(&t);
    b->n++;
}

static void log_applied(store_job *j);

static log_batch *batch_of(log_batch **b) {
    if (!*b) {
        *b = xcalloc(1, sizeof(**b));
        (*b)->job.done = log_applied;
    }
    return *b;
}

static void note_error(log_batch **b, const store_module *m, char *err) {
    if (!err) return;
    log_batch *x = batch_of(b);
    xfree(x->job.err);
    x->job.err = xstrdup(err);
    m->free_error(err);
}

/* Keeps the listening connection up; a lost one is reconnected at once,
 * then with a backoff (100 ms doubling up to 2 s). */
static void keep_listening(const store_module *m, void *h, int readable, int64_t now,
                           log_batch **b) {
    char *err = NULL;
    if (sth.listening && readable) {
        int n = 0;
        if (m->log_consume(h, &n, &err) != STORE_OK) {
            sth.listening = 0;
            sth.fd = -1;
            sth.listen_at_ms = now;
            sth.need_read = 1;
            note_error(b, m, err);
        } else if (n > 0) {
            sth.need_read = 1;
        }
    }
    if (sth.listening || now < sth.listen_at_ms) return;
    err = NULL;
    int fd = -1;
    if (m->log_listen(h, &fd, &err) == STORE_OK) {
        sth.listening = 1;
        sth.fd = fd;
        sth.listen_backoff_ms = 0;
        sth.need_read = 1; /* what was committed while not listening */
        if (sth.listened) batch_of(b)->reconnected = 1;
        sth.listened = 1;
        return;
    }
    note_error(b, m, err);
    sth.listen_backoff_ms = sth.listen_backoff_ms ? sth.listen_backoff_ms * 2 : 100;
    if (sth.listen_backoff_ms > LISTEN_BACKOFF_MAX_MS)
        sth.listen_backoff_ms = LISTEN_BACKOFF_MAX_MS;
    sth.listen_at_ms = now + sth.listen_backoff_ms;
}

static void read_log(const store_module *m, void *h, int64_t now, log_batch **b) {
    log_batch *x = batch_of(b);
    char *err = NULL;
    int status = STORE_LOG_CONTINUOUS;
    int64_t pos = sth.pos;
    size_t before = x->changes.len;
    int n = x->n;
    int rc = m->log_read(h, &pos, &status, collect, x, &err);
    if (rc != STORE_OK) {
        x->changes.len = before; /* nothing of a failed read is applied */
        x->n = n;
        note_error(b, m, err);
        sth.read_backoff_ms = sth.read_backoff_ms ? sth.read_backoff_ms * 2 : RETRY_READ_MS;
        if (sth.read_backoff_ms > READ_EVERY_MS || rc == STORE_ERR_USER)
            sth.read_backoff_ms = READ_EVERY_MS;
        sth.read_at_ms = now + sth.read_backoff_ms;
        if (rc == STORE_ERR_USER) sth.state = IS_NOT_INSTALLED;
        return;
    }
    if (err) m->free_error(err);
    x->gap |= status == STORE_LOG_GAP || sth.pos <= 0;
    x->read = 1;
    x->pos = sth.pos = pos;
    sth.need_read = 0;
    sth.read_backoff_ms = 0;
    sth.read_at_ms = now + READ_EVERY_MS;
    if (sth.state == IS_NOT_INSTALLED) sth.state = IS_CATCHING_UP;
}

/* The watch (storeq.h): listening, reading, pruning. */
static int watch_run(const store_module *m, void *h, int readable, int64_t *deadline_ms) {
    int64_t now = mono_ms();
    log_batch *b = NULL;
    int was = sth.state;
    keep_listening(m, h, readable, now, &b);
    /* a read that is due at once (a notice, a reconnect) waits out the
     * backoff of a failed one: an unreachable store is not polled in a loop */
    if ((sth.need_read && !sth.read_backoff_ms) || now >= sth.read_at_ms) read_log(m, h, now, &b);
    if (sth.state != IS_NOT_INSTALLED)
        sth.state = !sth.listening  ? IS_DISCONNECTED
                    : sth.need_read ? IS_CATCHING_UP
                                    : IS_LISTENING;
    long long keep = atomic_load(&retention_s);
    if (keep > 0 && now >= sth.prune_at_ms && sth.state != IS_NOT_INSTALLED) {
        char *err = NULL;
        int64_t deleted = 0;
        if (m->log_prune(h, keep, &deleted, &err) == STORE_OK)
            batch_of(&b)->pruned = deleted;
        else
            note_error(&b, m, err);
        /* a full round: again soon, the log may hold more */
        sth.prune_at_ms = now + (deleted >= 10000 ? 1000 : 60000);
    }
    if (b || sth.state != was) {
        batch_of(&b)->state = sth.state;
        storeq_post(&b->job);
    }
    *deadline_ms = sth.read_at_ms;
    if (!sth.listening && sth.listen_at_ms < *deadline_ms) *deadline_ms = sth.listen_at_ms;
    /* no pruning before the log is installed: its due time would stay in
     * the past and the store thread would poll without sleeping */
    if (keep > 0 && sth.state != IS_NOT_INSTALLED && sth.prune_at_ms < *deadline_ms)
        *deadline_ms = sth.prune_at_ms;
    return sth.listening ? sth.fd : -1;
}

/* ---- the loop thread's side ----------------------------------------------------------- */

static struct {
    int active; /* following a log */
    int state;
    int64_t pos, saved_pos, saved_ms;
    long long changes, own_skipped, keys_dropped, full_drops, reconnects, pruned;
    int64_t lag_us[LAG_WINDOW];
    long long nlag;
    int64_t last_lag_us;
    char *last_error;
} lp;

static char *pos_path(void) {
    const char *j = pcfg.journal_path ? pcfg.journal_path : "larder.journal";
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s.logpos", j);
    return sbuf_take(&b, NULL);
}

/* The saved position, 0 when there is none (or it is unreadable). */
static int64_t pos_load(void) {
    char *path = pos_path();
    FILE *f = fopen(path, "r");
    long long v = 0;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1 || v < 0) v = 0;
        fclose(f);
    }
    xfree(path);
    return v;
}

static void pos_save(void) {
    if (lp.pos == lp.saved_pos) return;
    char *path = pos_path();
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.tmp", path);
    FILE *f = fopen(tmp.p, "w");
    int ok = f && fprintf(f, "%lld\n", (long long)lp.pos) > 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp.p, path) == 0) {
        lp.saved_pos = lp.pos;
    } else {
        server_log(LL_WARNING, "cannot write the change-log position to %s", path);
        remove(tmp.p);
    }
    lp.saved_ms = server_mstime();
    sbuf_free(&tmp);
    xfree(path);
}

static int pinned(pkey *k) {
    if (k && (k->in_flight || k->locked)) k->changed_in_flight = 1;
    return k && (k->dirty || k->touched || k->in_flight || k->locked);
}

void inval_flushed(pkey *k) {
    if (!k->changed_in_flight) return;
    k->changed_in_flight = 0;
    if (k->dirty || k->touched) return; /* a newer write of ours goes to the store later */
    db *d = server_db(0);
    if (db_delete(d, k->key, k->klen)) {
        signal_modified_key(NULL, d, k->key, k->klen);
        ps.st.invalidations++;
        lp.keys_dropped++;
    }
    k->version++;
}

/* Drops every cached key of table (NULL: of every mapped table) that is not
 * pinned, and stops its loads in flight and negative entries from standing. */
static void drop_table(const char *table) {
    int mapped = table == NULL;
    for (int i = 0; i < ps.maps.n && !mapped; i++) mapped = !strcasecmp(ps.maps.v[i]->name, table);
    if (!mapped) return;
    db *d = server_db(0);
    sbuf keys = SBUF_INIT; /* klen:u32 key ... */
    dict_iter it;
    dict_iter_init(&it, &d->keys);
    for (kobj *o; (o = dict_iter_next(&it));) {
        const char *pk;
        size_t pklen;
        const mapping *m = mapping_match(&ps.maps, kobj_key(o), o->klen, &pk, &pklen);
        if (!m || (table && strcasecmp(m->name, table) != 0)) continue;
        if (pinned(pkey_find(kobj_key(o), o->klen))) continue;
        uint32_t kl = (uint32_t)o->klen;
        sbuf_append(&keys, &kl, 4);
        sbuf_append(&keys, kobj_key(o), o->klen);
    }
    dict_iter_done(&it);
    for (size_t off = 0; off + 4 <= keys.len;) {
        uint32_t kl;
        memcpy(&kl, keys.p + off, 4);
        off += 4;
        if (db_delete(d, keys.p + off, kl)) {
            signal_modified_key(NULL, d, keys.p + off, kl);
            ps.st.invalidations++;
        }
        off += kl;
    }
    sbuf_free(&keys);
    dict_iter_init(&it, ps.pkeys);
    for (pkey *k; (k = dict_iter_next(&it));) {
        if (pinned(k) || (table && strcasecmp(k->map->name, table) != 0)) continue;
        k->version++; /* a load in flight must not install the old row */
        k->negative_until_ms = 0;
    }
    dict_iter_done(&it);
    lp.full_drops++;
}

static void note_lag(int64_t at_us) {
    if (at_us <= 0) return;
    int64_t lag = clock_ustime() - at_us;
    if (lag < 0) lag = 0; /* the two clocks disagree */
    lp.last_lag_us = lag;
    lp.lag_us[lp.nlag++ % LAG_WINDOW] = lag;
    latency_add_sample_if_needed("invalidation", lag / 1000); /* the latency monitor's event */
}

/* One change: op own npk at tlen table {vlen value}; returns the next offset.
 * seq: the change stream's seq for the read that brought it (0: none). */
static size_t apply_change(const char *p, size_t off, uint64_t *seq) {
    uint8_t op = (uint8_t)p[off], own = (uint8_t)p[off + 1];
    uint16_t npk;
    int64_t at;
    uint32_t tl;
    memcpy(&npk, p + off + 2, 2);
    memcpy(&at, p + off + 4, 8);
    memcpy(&tl, p + off + 12, 4);
    off += 16;
    char table[256];
    snprintf(table, sizeof(table), "%.*s", (int)tl, p + off);
    off += tl;
    store_value pk[MAPPING_MAX_KEY];
    for (int i = 0; i < npk; i++) {
        uint32_t vl;
        memcpy(&vl, p + off, 4);
        if (i < MAPPING_MAX_KEY) pk[i] = (store_value){SV_TEXT, 0, 0, p + off + 4, vl};
        off += 4 + vl;
    }
    if (own) {
        lp.own_skipped++;
        return off;
    }
    lp.changes++;
    long long before = ps.st.invalidations;
    if (op == 'T' || npk == 0)
        drop_table(table);
    else if (npk <= MAPPING_MAX_KEY) /* the key's values in key order */
        sql_invalidate_pk(table, npk, pk);
    if (changes_on()) {
        if (!*seq) *seq = changes_commit();
        if (op == 'T' || npk == 0)
            changes_truncate(*seq, table);
        else if (npk <= MAPPING_MAX_KEY)
            changes_row_pk(*seq, table, op == 'I' || op == 'U' ? op : 'D', npk, pk);
    }
    lp.keys_dropped += ps.st.invalidations - before;
    note_lag(at);
    return off;
}

static void set_error(char *err) {
    if (!err) return;
    if (!lp.last_error || strcmp(lp.last_error, err) != 0)
        server_log(LL_WARNING, "store change log: %s", err);
    xfree(lp.last_error);
    lp.last_error = err;
}

/* A batch from the store thread (loop thread; storeq_post). */
static void log_applied(store_job *j) {
    log_batch *b = (log_batch *)j;
    if (b->reconnected) lp.reconnects++;
    if (b->state == IS_LISTENING && lp.state != IS_LISTENING && lp.last_error) {
        xfree(lp.last_error);
        lp.last_error = NULL;
    }
    set_error(j->err);
    j->err = NULL;
    if (b->gap && ps.enabled) {
        if (lp.pos > 0 || lp.saved_pos > 0)
            server_log(LL_WARNING,
                       "store change log: cannot catch up from position %lld (pruned "
                       "past it, or another database); every mapped key is dropped",
                       (long long)(lp.pos > 0 ? lp.pos : lp.saved_pos));
        drop_table(NULL);
        /* the changes in the gap are unknown: the stream says so too */
        if (lp.pos > 0 || lp.saved_pos > 0) changes_reset();
    }
    uint64_t seq = 0;
    for (size_t off = 0; off < b->changes.len && ps.enabled;)
        off = apply_change(b->changes.p, off, &seq);
    if (b->read) lp.pos = b->pos;
    lp.state = b->state;
    lp.pruned += b->pruned;
    if (b->read && (b->gap || server_mstime() - lp.saved_ms >= SAVE_EVERY_MS)) pos_save();
    sbuf_free(&b->changes);
    xfree(b);
}

static int64_t percentile(int pct) {
    long long n = lp.nlag < LAG_WINDOW ? lp.nlag : LAG_WINDOW;
    if (n == 0) return 0;
    int64_t v[LAG_WINDOW];
    memcpy(v, lp.lag_us, sizeof(int64_t) * (size_t)n);
    /* insertion sort of at most LAG_WINDOW samples: INFO is rare */
    for (long long i = 1; i < n; i++)
        for (long long k = i; k > 0 && v[k - 1] > v[k]; k--) {
            int64_t t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    long long i = (n * pct + 99) / 100 - 1;
    return v[i < 0 ? 0 : i];
}

void inval_info(sbuf *b) {
    sbuf_printf(b, "invalidation:%s\r\n", state_names[lp.active ? lp.state : IS_OFF]);
    if (!lp.active) return;
    sbuf_printf(b,
                "invalidation_position:%lld\r\ninvalidation_changes:%lld\r\n"
                "invalidation_keys_dropped:%lld\r\ninvalidation_own_skipped:%lld\r\n"
                "invalidation_full_drops:%lld\r\ninvalidation_reconnects:%lld\r\n"
                "invalidation_lag_last_ms:%.3f\r\ninvalidation_lag_p50_ms:%.3f\r\n"
                "invalidation_lag_p99_ms:%.3f\r\ninvalidation_lag_samples:%lld\r\n"
                "invalidation_log_pruned:%lld\r\ninvalidation_last_error:%s\r\n",
                (long long)lp.pos, lp.changes, lp.keys_dropped, lp.own_skipped, lp.full_drops,
                lp.reconnects, (double)lp.last_lag_us / 1000.0, (double)percentile(50) / 1000.0,
                (double)percentile(99) / 1000.0, lp.nlag < LAG_WINDOW ? lp.nlag : LAG_WINDOW,
                lp.pruned, lp.last_error ? lp.last_error : "");
}

/* ---- installing the log ------------------------------------------------------------- */

typedef struct install_job {
    store_job job;
    uint64_t client_id;
    int n;
    const char **tables; /* the mapped tables, each once (names owned by the mappings) */
} install_job;

static void run_install(store_job *sj, const store_module *m, void *h) {
    install_job *j = (install_job *)sj;
    char *err = NULL;
    sj->rc = m->log_install(h, j->n, j->tables, &err);
    if (err) {
        sj->err = xstrdup(err);
        m->free_error(err);
    }
}

static install_job *install_job_new(void) {
    install_job *j = xcalloc(1, sizeof(*j));
    j->tables = xcalloc((size_t)(ps.maps.n ? ps.maps.n : 1), sizeof(char *));
    for (int i = 0; i < ps.maps.n; i++) {
        int dup = 0;
        for (int k = 0; k < j->n && !dup; k++) dup = !strcmp(j->tables[k], ps.maps.v[i]->name);
        if (!dup) j->tables[j->n++] = ps.maps.v[i]->name;
    }
    j->job.run = run_install;
    return j;
}

static void install_free(install_job *j) {
    xfree(j->tables);
    xfree(j->job.err);
    xfree(j);
}

static void install_done(store_job *sj) {
    install_job *j = (install_job *)sj;
    client *c = client_by_id(j->client_id);
    if (sj->rc == STORE_OK) storeq_kick_watch(); /* a log that was missing: follow it now */
    if (c && (c->flags & CLIENT_BLOCKED) && c->bstate.type == BLOCKED_STORE) {
        unblock_client(c);
        if (sj->rc == STORE_OK)
            reply_ok(c);
        else if (sj->rc == STORE_ERR_TRANSIENT)
            persist_reply_backend_error(c, "store unavailable", sj->err);
        else
            reply_errorf(c, "ERR %s", sj->err ? sj->err : "cannot install the change log");
    }
    install_free(j);
}

void persist_log_install(client *c) {
    if (!ps.mod->log_install) {
        reply_errorf(c,
                     "ERR the store module %s keeps no change log (no other process writes to "
                     "its store)",
                     ps.mod->name);
        return;
    }
    if (ps.maps.n == 0) {
        reply_error(c, "ERR no map directives: there is no table to install the change log for");
        return;
    }
    install_job *j = install_job_new();
    j->client_id = c->id;
    j->job.done = install_done;
    block_client(c, BLOCKED_STORE, 0);
    storeq_submit(&j->job);
}

/* ---- start and stop ----------------------------------------------------------------- */

static void sync_done(store_job *j) {
    (void)j;
}

/* The first listen and read, before any client is served: a key loaded later
 * is covered by the position taken here. */
static void run_first(store_job *j, const store_module *m, void *h) {
    int64_t deadline;
    watch_run(m, h, 0, &deadline);
}

int inval_start(char **err) {
    if (!ps.mod->log_read) {
        if (!cfg_install) return OK;
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "store-invalidation yes: the store module %s keeps no change log",
                    ps.mod->name);
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    if (cfg_install && ps.maps.n) {
        install_job *j = install_job_new();
        j->job.done = sync_done;
        storeq_submit(&j->job);
        storeq_drain();
        if (j->job.rc != STORE_OK) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "store-invalidation yes: %s",
                        j->job.err ? j->job.err : "cannot install the change log");
            *err = sbuf_take(&b, NULL);
            install_free(j);
            return ERR;
        }
        install_free(j);
    }
    atomic_store(&retention_s, cfg_retention);
    lp.active = 1;
    lp.state = IS_CATCHING_UP;
    lp.saved_pos = lp.pos = sth.pos = pos_load();
    sth.fd = -1;
    sth.state = IS_CATCHING_UP;
    store_job first = {.run = run_first, .done = sync_done};
    storeq_submit(&first);
    storeq_drain();
    storeq_set_watch(watch_run);
    return OK;
}

/* After the store thread stopped: the last position applied. */
void inval_shutdown(void) {
    if (lp.active) pos_save();
}

/* ---- configuration ------------------------------------------------------------------ */

static const enum_name yesno[] = {{"yes", 1}, {"no", 0}, {NULL, 0}};

static int apply_retention(char **err) {
    atomic_store(&retention_s, cfg_retention);
    return OK;
}

static config_directive directives[] = {{.name = "store-invalidation",
                                         .type = CT_ENUM,
                                         .flags = CF_IMMUTABLE,
                                         .ptr = &cfg_install,
                                         .def = "no",
                                         .enums = yesno},
                                        {.name = "store-invalidation-retention",
                                         .type = CT_INT,
                                         .ptr = &cfg_retention,
                                         .ptr_size = sizeof(cfg_retention),
                                         .def = "3600",
                                         .min = 0,
                                         .max = 100LL * 365 * 86400,
                                         .apply = apply_retention},
                                        {.name = NULL}};

void inval_register(void) {
    config_register(directives);
}
