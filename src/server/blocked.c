/* server/blocked — parking clients: on keys (BLPOP & co), on time, on a
 * pause, or on the store thread.
 *
 * A client blocked on keys keeps a private copy of its command. When one of
 * its keys is signalled ready, the command's handler is run again in
 * "reprocess" mode: if it can now serve the client it replies as usual and the
 * client is unblocked; if not, it calls block_for_keys() again, which in this
 * mode only notes that the client stays where it is — so waiters keep their
 * FIFO order, as Redis promises.
 *
 * Invariants:
 *  1. CLIENT_BLOCKED <=> bstate.type != BLOCKED_NONE.
 *  2. A client blocked on keys is in the waiter list of each of its keys
 *     (db->blocking_keys), in arrival order, exactly once per distinct key.
 *  3. A ready key is in server.ready_list at most once (server.ready_keys). */
#include "server/server.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <string.h>

/* ---- per-key waiter lists ---------------------------------------------------- */

typedef struct waiters {
    size_t klen;
    list_head clients; /* of waiter_link */
    char key[];
} waiters;

typedef struct waiter_link {
    list_node node;
    client *c;
    waiters *w;
} waiter_link;

static const void *waiters_key(const void *e, size_t *len) {
    const waiters *w = e;
    *len = w->klen;
    return w->key;
}
static const dict_type waiters_type = {hash_bytes, waiters_key, NULL};

typedef struct ready_key {
    list_node node;
    size_t klen;
    int dbid; /* dbid and key are contiguous: together they are the dict key */
    char key[];
} ready_key;

static const void *ready_key_key(const void *e, size_t *len) {
    const ready_key *r = e;
    *len = r->klen + sizeof(int);
    return &r->dbid; /* dbid then key bytes are contiguous */
}
static const dict_type ready_type = {hash_bytes, ready_key_key, NULL};

static int reprocessing;         /* handler re-run for a ready key */
static int reblocked;            /* ...and it asked to stay blocked */
static const ready_key *serving; /* the ready key whose waiters are being re-run */

static void blocked_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents);

static void start_timer(client *c, int64_t timeout_ms) {
    c->bstate.timeout_ms = timeout_ms;
    if (!timeout_ms) return;
    double secs = (double)(timeout_ms - server.mstime) / 1000.0;
    if (secs < 0) secs = 0;
    ev_timer_init(&c->bstate.timer, blocked_timeout_cb, secs, 0);
    c->bstate.timer.data = c;
    ev_timer_start(server.loop, &c->bstate.timer);
}

static void set_blocked(client *c, int type) {
    c->flags |= CLIENT_BLOCKED;
    c->bstate.type = type;
    server.blocked_clients++;
    server.blocked_by_type[type]++;
}

void block_for_keys(client *c, int type, const resp_arg *keys, int nkeys, int64_t timeout_ms,
                    void *priv) {
    if (reprocessing && server.executing_client == c) {
        reblocked = 1; /* stays in place; the first block's priv is kept (handlers
                        * pass priv only when !blocked_is_reprocessing()) */
        return;
    }
    assert(!(c->flags & CLIENT_BLOCKED));
    block_state *b = &c->bstate;
    argv_copy_make(&b->args, c->argc, c->argv);
    b->cmd = c->cmd;
    b->priv = priv;
    b->dbid = c->db->id;
    b->keys = xcalloc((size_t)nkeys, sizeof(char *));
    b->keylens = xcalloc((size_t)nkeys, sizeof(size_t));
    b->nkeys = 0;
    db *d = c->db;
    if (!d->blocking_keys) d->blocking_keys = dict_new(&waiters_type);
    for (int i = 0; i < nkeys; i++) {
        int dup = 0;
        for (int j = 0; j < b->nkeys; j++)
            if (b->keylens[j] == keys[i].len && memcmp(b->keys[j], keys[i].p, keys[i].len) == 0)
                dup = 1;
        if (dup) continue;
        b->keys[b->nkeys] = xmemdup(keys[i].p, keys[i].len);
        b->keylens[b->nkeys] = keys[i].len;
        b->nkeys++;
        waiters *w = dict_find(d->blocking_keys, keys[i].p, keys[i].len);
        if (!w) {
            w = xmalloc(sizeof(*w) + keys[i].len);
            w->klen = keys[i].len;
            memcpy(w->key, keys[i].p, keys[i].len);
            list_init(&w->clients);
            dict_add(d->blocking_keys, w);
        }
        waiter_link *l = xmalloc(sizeof(*l));
        l->c = c;
        l->w = w;
        list_push_back(&w->clients, &l->node);
    }
    set_blocked(c, type);
    start_timer(c, timeout_ms);
}

void block_client(client *c, int type, int64_t timeout_ms) {
    assert(!(c->flags & CLIENT_BLOCKED));
    c->bstate.cmd = c->cmd;
    set_blocked(c, type);
    start_timer(c, timeout_ms);
}

static void remove_from_waiters(client *c) {
    block_state *b = &c->bstate;
    db *d = &server.dbs[b->dbid];
    for (int i = 0; i < b->nkeys; i++) {
        waiters *w =
            d->blocking_keys ? dict_find(d->blocking_keys, b->keys[i], b->keylens[i]) : NULL;
        if (!w) continue;
        list_node *n, *t;
        list_for_each_safe(n, t, &w->clients) {
            waiter_link *l = list_entry(n, waiter_link, node);
            if (l->c == c) {
                list_remove(&w->clients, n);
                xfree(l);
                break;
            }
        }
        if (list_empty(&w->clients)) {
            dict_remove(d->blocking_keys, w->key, w->klen);
            xfree(w);
        }
        xfree(b->keys[i]);
    }
    xfree(b->keys);
    xfree(b->keylens);
    b->keys = NULL;
    b->keylens = NULL;
    b->nkeys = 0;
}

void unblock_client(client *c) {
    if (!(c->flags & CLIENT_BLOCKED)) return;
    block_state *b = &c->bstate;
    if (b->timeout_ms) ev_timer_stop(server.loop, &b->timer);
    if (b->nkeys) remove_from_waiters(c);
    if (b->type == BLOCKED_PAUSE) list_remove(&server.paused_clients, &b->timeout_node);
    if (b->on_unblock) b->on_unblock(c);
    client_free_argv_copy(&b->args);
    server.blocked_clients--;
    server.blocked_by_type[b->type]--;
    memset(b, 0, offsetof(block_state, timer));
    c->flags &= ~(uint64_t)CLIENT_BLOCKED;
    /* its pending input runs from before-sleep, not from inside whoever woke it */
    if (c->fd >= 0 && !(c->flags & CLIENT_UNBLOCKED)) {
        c->flags |= CLIENT_UNBLOCKED;
        list_push_back(&server.unblocked_clients, &c->unblocked_node);
    }
}

/* Redis's updateStatsOnUnblock: a blocked command is counted once, when it
 * is served or times out (call_command skips clients that stay blocked). */
void blocked_account(client *c, long long errors_before, long long usec) {
    if (!c->bstate.cmd) return;
    command_stats *st = &server.cmdstats[c->bstate.cmd->id];
    st->calls++;
    st->usec += usec;
    if (server.stat_total_error_replies > errors_before) st->failed_calls++;
    server.stat_numcommands++;
    if (server.latency_tracking) latency_hist_record(&st->hist, usec * 1000);
}

static void blocked_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    client *c = t->data;
    server_update_time();
    if (c->bstate.type == BLOCKED_LIST || c->bstate.type == BLOCKED_ZSET ||
        c->bstate.type == BLOCKED_STREAM)
        blocked_account(c, server.stat_total_error_replies, 0);
    if (c->bstate.on_timeout)
        c->bstate.on_timeout(c);
    else if (c->bstate.type == BLOCKED_LIST || c->bstate.type == BLOCKED_ZSET ||
             c->bstate.type == BLOCKED_STREAM)
        reply_null_array(c);
    unblock_client(c);
}

void process_unblocked_clients(void) {
    list_node *n;
    while ((n = list_first(&server.unblocked_clients))) {
        client *c = list_entry(n, client, unblocked_node);
        list_remove(&server.unblocked_clients, n);
        c->flags &= ~(uint64_t)CLIENT_UNBLOCKED;
        client_resume_input(c);
    }
}

/* ---- ready keys ----------------------------------------------------------------- */

void signal_key_as_ready(db *d, const char *key, size_t len) {
    if (!d->blocking_keys || !dict_find(d->blocking_keys, key, len)) return;
    if (!server.ready_keys) {
        server.ready_keys = dict_new(&ready_type);
        list_init(&server.ready_list);
    }
    ready_key *r = xmalloc(sizeof(*r) + len);
    r->dbid = d->id;
    r->klen = len;
    memcpy(r->key, key, len);
    if (dict_find(server.ready_keys, &r->dbid, len + sizeof(int))) {
        xfree(r);
        return;
    }
    dict_add(server.ready_keys, r);
    list_push_back(&server.ready_list, &r->node);
}

void blocked_key_deleted(db *d, const char *key, size_t len) {
    signal_key_as_ready(d, key, len);
}

/* A stream group reader must learn that its key is gone or changed type
 * (Redis's signalDeletedKeyAsReady), so any write wakes the key's waiters
 * while such readers exist; the others re-run and stay blocked. */
void blocked_key_modified(db *d, const char *key, size_t len) {
    if (server.blocked_by_type[BLOCKED_STREAM]) signal_key_as_ready(d, key, len);
}

void blocked_db_flushed(int dbid) {
    if (!server.blocked_by_type[BLOCKED_STREAM]) return;
    for (int i = 0; i < server.databases; i++) {
        db *d = &server.dbs[i];
        if ((dbid != -1 && i != dbid) || !d->blocking_keys) continue;
        dict_iter it;
        dict_iter_init(&it, d->blocking_keys);
        waiters *w;
        while ((w = dict_iter_next(&it))) signal_key_as_ready(d, w->key, w->klen);
    }
}

/* Re-runs the blocked command of each waiter of one key, oldest first, for as
 * long as waiters are served. */
static void serve_key(ready_key *r) {
    db *d = &server.dbs[r->dbid];
    if (!d->blocking_keys) return;
    waiters *w = dict_find(d->blocking_keys, r->key, r->klen);
    if (!w) return;
    /* Snapshot the current waiters: clients that block during this pass
     * (being served, then blocking again) wait for the next signal. */
    size_t n = w->clients.len, i = 0;
    client **cs = xmalloc(sizeof(client *) * n);
    list_node *ln;
    list_for_each(ln, &w->clients) cs[i++] = list_entry(ln, waiter_link, node)->c;
    serving = r;
    for (i = 0; i < n; i++) {
        client *c = cs[i];
        if (!(c->flags & CLIENT_BLOCKED)) continue; /* served via another key */
        block_state *b = &c->bstate;
        int argc = c->argc;
        resp_arg *argv = c->argv;
        c->argc = b->args.argc;
        c->argv = b->args.argv;
        db *saved_db = c->db;
        c->db = &server.dbs[b->dbid];
        reprocessing = 1;
        reblocked = 0;
        long long errors_before = server.stat_total_error_replies;
        int64_t t0 = clock_ustime();
        c->flags |= CLIENT_EXECUTING;
        call_command(c, b->cmd);
        c->flags &= ~(uint64_t)CLIENT_EXECUTING;
        reprocessing = 0;
        c->db = saved_db;
        int stay = reblocked;
        reblocked = 0;
        if (!stay) {
            blocked_account(c, errors_before, clock_ustime() - t0);
            c->argc = argc;
            c->argv = argv;
            unblock_client(c); /* frees b->args: argv was restored first */
        } else {
            c->argc = argc;
            c->argv = argv;
        }
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
    }
    serving = NULL;
    xfree(cs);
}

void handle_clients_blocked_on_keys(void) {
    if (!server.ready_keys) return;
    list_node *n;
    while ((n = list_first(&server.ready_list))) {
        ready_key *r = list_entry(n, ready_key, node);
        list_remove(&server.ready_list, n);
        dict_remove(server.ready_keys, &r->dbid, r->klen + sizeof(int));
        serve_key(r);
        xfree(r);
    }
}

int blocked_is_reprocessing(void) {
    return reprocessing;
}

const char *blocked_ready_key(size_t *len) {
    if (!reprocessing || !serving) return NULL;
    *len = serving->klen;
    return serving->key;
}

int client_can_block(const client *c) {
    return !(c->flags & (CLIENT_MULTI | CLIENT_DENY_BLOCKING | CLIENT_FAKE)) && !server.in_script;
}

/* ---- CLIENT PAUSE ------------------------------------------------------------------ */

int pause_should_wait(client *c, const command *cmd) {
    if (!server.client_pause_end_ms) return 0;
    if (server.mstime >= server.client_pause_end_ms) return 0;
    if (server.client_pause_write_only) {
        int writes = (cmd->flag_bits & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
        if (strcmp(cmd->name, "exec") == 0) {
            for (int i = 0; i < c->mcount; i++)
                if (c->mqueue[i].cmd->flag_bits & (CMD_WRITE | CMD_MAY_REPLICATE)) writes = 1;
        }
        if (strcmp(cmd->name, "eval") == 0 || strcmp(cmd->name, "evalsha") == 0 ||
            strcmp(cmd->name, "fcall") == 0)
            writes = 1;
        if (!writes) return 0;
    }
    if (c->flags & CLIENT_FAKE) return 0;
    argv_copy_make(&c->bstate.args, c->argc, c->argv);
    c->bstate.cmd = cmd;
    set_blocked(c, BLOCKED_PAUSE);
    list_push_back(&server.paused_clients, &c->bstate.timeout_node);
    return 1;
}

static ev_timer pause_timer;
static void pause_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* Starts or extends a pause. A later pause only extends it, and ALL wins over
 * WRITE while both are in force (Redis's rules). */
void pause_set(int64_t end_ms, int write_only) {
    int active = server.client_pause_end_ms != 0;
    if (!active)
        server.client_pause_write_only = write_only;
    else if (!write_only)
        server.client_pause_write_only = 0;
    if (!active || end_ms > server.client_pause_end_ms) {
        server.client_pause_end_ms = end_ms;
        ev_timer_stop(server.loop, &pause_timer);
        double secs = (double)(end_ms - server.mstime) / 1000.0;
        ev_timer_init(&pause_timer, pause_timer_cb, secs > 0 ? secs : 0, 0);
        ev_timer_start(server.loop, &pause_timer);
    }
}

/* Ends the pause: paused clients run their command now, in arrival order. */
void pause_end(void) {
    server.client_pause_end_ms = 0;
    ev_timer_stop(server.loop, &pause_timer);
    list_node *n;
    while ((n = list_first(&server.paused_clients))) {
        client *c = list_entry(n, client, bstate.timeout_node);
        argv_copy args = c->bstate.args;
        c->bstate.args.argc = 0;
        c->bstate.args.argv = NULL;
        unblock_client(c); /* removes it from paused_clients */
        c->argc = args.argc;
        c->argv = args.argv;
        c->flags |= CLIENT_EXECUTING;
        process_command(c);
        c->flags &= ~(uint64_t)CLIENT_EXECUTING;
        c->argc = 0;
        c->argv = NULL;
        client_free_argv_copy(&args);
    }
}

static void pause_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)t;
    (void)revents;
    server_update_time();
    pause_end();
}

void blocked_cron(void) {
    if (server.client_pause_end_ms && server.mstime >= server.client_pause_end_ms) pause_end();
}
