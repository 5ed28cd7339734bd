/* server/multi — the MULTI queue and WATCH bookkeeping (the MULTI, EXEC,
 * DISCARD, WATCH and UNWATCH handlers: commands/multi.c).
 *
 * WATCH: each db maps a watched key to the list of its watchers; each client
 * lists what it watches. Any write to a key (signal_modified_key) marks its
 * watchers CLIENT_DIRTY_CAS and EXEC then answers a null array.
 * A key that was already logically expired when WATCHed is flagged `expired`:
 * its later deletion is no logical change (Redis 7.0 semantics).
 *
 * Invariants:
 *  1. A watched_key is in its client's list and in its key's list, or in none.
 *  2. A key's entry exists in db->watched_keys iff its list is not empty. */
#include "server/acl.h"
#include "server/server.h"
#include "util/hash.h"
#include "util/mem.h"
#include <string.h>

typedef struct wkey {
    size_t klen;
    list_head watchers; /* of watched_key via knode */
    char key[];
} wkey;

typedef struct watched_key {
    list_node cnode, knode;
    client *c;
    db *d;
    wkey *k;
    int expired;
} watched_key;

static const void *wkey_key(const void *e, size_t *len) {
    *len = ((const wkey *)e)->klen;
    return ((const wkey *)e)->key;
}
static const dict_type wkey_type = {hash_bytes, wkey_key, NULL};

void multi_discard(client *c) {
    for (int i = 0; i < c->mcount; i++) client_free_argv_copy(&c->mqueue[i].args);
    xfree(c->mqueue);
    c->mqueue = NULL;
    c->mcount = c->mcap = 0;
    c->flags &= ~(uint64_t)(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
    watch_unwatch_all(c);
}

void multi_queue_command(client *c) {
    /* A transaction already doomed does not keep growing. */
    if (!(c->flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC))) {
        if (c->mcount == c->mcap) {
            c->mcap = c->mcap ? c->mcap * 2 : 4;
            c->mqueue = xrealloc(c->mqueue, sizeof(multi_cmd) * (size_t)c->mcap);
        }
        multi_cmd *m = &c->mqueue[c->mcount++];
        m->cmd = c->cmd;
        argv_copy_make(&m->args, c->argc, c->argv);
    }
    reply_status(c, "QUEUED");
}

static void unwatch_one(watched_key *w) {
    list_remove(&w->k->watchers, &w->knode);
    if (list_empty(&w->k->watchers)) {
        dict_remove(w->d->watched_keys, w->k->key, w->k->klen);
        xfree(w->k);
    }
    list_remove(&w->c->watched, &w->cnode);
    xfree(w);
}

void watch_unwatch_all(client *c) {
    list_node *n;
    int had = !list_empty(&c->watched);
    while ((n = list_first(&c->watched))) unwatch_one(list_entry(n, watched_key, cnode));
    if (had) server.watching_clients--;
}

void watch_key(client *c, const resp_arg *key) {
    list_node *n;
    list_for_each(n, &c->watched) {
        watched_key *w = list_entry(n, watched_key, cnode);
        if (w->d == c->db && w->k->klen == key->len && memcmp(w->k->key, key->p, key->len) == 0)
            return;
    }
    db *d = c->db;
    if (!d->watched_keys) d->watched_keys = dict_new(&wkey_type);
    wkey *k = dict_find(d->watched_keys, key->p, key->len);
    if (!k) {
        k = xmalloc(sizeof(*k) + key->len);
        k->klen = key->len;
        memcpy(k->key, key->p, key->len);
        list_init(&k->watchers);
        dict_add(d->watched_keys, k);
    }
    watched_key *w = xmalloc(sizeof(*w));
    w->c = c;
    w->d = d;
    w->k = k;
    kobj *o = db_find(d, key->p, key->len);
    w->expired = o && kobj_is_expired(o);
    if (list_empty(&c->watched)) server.watching_clients++;
    list_push_back(&k->watchers, &w->knode);
    list_push_back(&c->watched, &w->cnode);
}

/* Marks the watchers of key dirty (a write happened). */
void watch_touch_key(db *d, const char *key, size_t len) {
    if (!d->watched_keys || dict_size(d->watched_keys) == 0) return;
    wkey *k = dict_find(d->watched_keys, key, len);
    if (!k) return;
    list_node *n, *t;
    list_for_each_safe(n, t, &k->watchers) {
        watched_key *w = list_entry(n, watched_key, knode);
        if (w->expired) {
            if (!db_find(d, key, len)) { /* the stale key got deleted: no change */
                w->expired = 0;
                continue;
            }
        }
        w->c->flags |= CLIENT_DIRTY_CAS;
    }
}

/* FLUSHDB / FLUSHALL / SWAPDB: emptied is flushed or swapped with replaced. */
static void touch_all_in_db(db *emptied, db *replaced) {
    if (!emptied->watched_keys || dict_size(emptied->watched_keys) == 0) return;
    dict_iter it;
    dict_iter_init(&it, emptied->watched_keys);
    wkey *k;
    while ((k = dict_iter_next(&it))) {
        kobj *oe = db_find(emptied, k->key, k->klen);
        kobj * or = replaced ? db_find(replaced, k->key, k->klen) : NULL;
        if (!oe && ! or) continue;
        list_node *n;
        list_for_each(n, &k->watchers) {
            watched_key *w = list_entry(n, watched_key, knode);
            if (w->expired) {
                if (! or) {
                    w->expired = 0;
                    continue;
                } else if (kobj_is_expired(or)) {
                    continue;
                }
            } else if (!oe && or &&kobj_is_expired(or)) {
                w->expired = 1;
                continue;
            }
            w->c->flags |= CLIENT_DIRTY_CAS;
        }
    }
    dict_iter_done(&it);
}

void watch_touch_all_keys_in_db(int dbid, int dbid2) {
    if (dbid == -1) {
        for (int i = 0; i < server.databases; i++) touch_all_in_db(&server.dbs[i], NULL);
    } else if (dbid2 == -1) {
        touch_all_in_db(&server.dbs[dbid], NULL);
    } else {
        touch_all_in_db(&server.dbs[dbid], &server.dbs[dbid2]);
        touch_all_in_db(&server.dbs[dbid2], &server.dbs[dbid]);
    }
}

int watch_any_expired(client *c) {
    list_node *n;
    list_for_each(n, &c->watched) {
        watched_key *w = list_entry(n, watched_key, cnode);
        if (w->expired) continue;
        kobj *o = db_find(w->d, w->k->key, w->k->klen);
        if (o && kobj_is_expired(o)) return 1;
    }
    return 0;
}

static const char *exec_denied_reason(int r) {
    switch (r) {
    case ACL_DENIED_CMD:
        return "no permission to execute the command or subcommand";
    case ACL_DENIED_KEY:
        return "no permission to touch the specified keys";
    case ACL_DENIED_CHANNEL:
        return "no permission to access one of the channels used as arguments";
    default:
        return "no permission";
    }
}

void multi_exec(client *c) {
    uint64_t old = c->flags;
    c->flags |= CLIENT_DENY_BLOCKING;
    watch_unwatch_all(c);
    server.in_exec = 1;
    int argc = c->argc;
    resp_arg *argv = c->argv;
    const command *cmd = c->cmd;
    reply_array(c, c->mcount);
    /* The queue is detached first: a queued command may not touch it. */
    multi_cmd *q = c->mqueue;
    int n = c->mcount;
    c->mqueue = NULL;
    c->mcount = c->mcap = 0;
    for (int i = 0; i < n; i++) {
        c->argc = q[i].args.argc;
        c->argv = q[i].args.argv;
        /* the rules may have changed since the command was queued */
        if (c->user != acl_fast_user) {
            int r = acl_check_client(c, q[i].cmd, c->argc, c->argv, ACL_CTX_MULTI);
            if (r != ACL_OK) {
                reply_errorf(c,
                             "NOPERM ACLs rules changed between the moment the transaction was "
                             "accumulated and the EXEC call. This command is no longer allowed "
                             "for the following reason: %s",
                             exec_denied_reason(r));
                continue;
            }
        }
        call_command(c, q[i].cmd);
    }
    for (int i = 0; i < n; i++) client_free_argv_copy(&q[i].args);
    xfree(q);
    c->argc = argc;
    c->argv = argv;
    c->cmd = cmd;
    if (!(old & CLIENT_DENY_BLOCKING)) c->flags &= ~(uint64_t)CLIENT_DENY_BLOCKING;
    c->flags &= ~(uint64_t)(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
    server.in_exec = 0;
}
