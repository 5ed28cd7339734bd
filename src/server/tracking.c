/* server/tracking — client-side caching: the tracking table and the
 * invalidation messages (Redis 7.0); the CLIENT TRACKING / CACHING /
 * GETREDIR / TRACKINGINFO handlers are in commands/tracking.c.
 *
 * Default mode. After a read-only command, the keys it named are remembered
 * in the tracking table: key -> set of client ids. A change to a key
 * (tracking_invalidate_key, from signal_modified_key, expiry and eviction)
 * sends every id in its set one invalidation and forgets the key: a client
 * must read it again to hear of it again. Ids are not removed when a client
 * turns tracking off or goes away — an id without a tracking client is
 * skipped when its key is invalidated — so both are O(1), as in Redis.
 * `tracking-table-max-keys` bounds the table: above it, random keys are
 * invalidated (and forgotten) as if they had changed.
 *
 * BCAST mode. The client names prefixes (none: the empty prefix, every key).
 * A change to a key under a prefix lands in that prefix's pending set; once
 * per loop turn (tracking_before_sleep) every prefix sends its pending keys
 * as one message to each of its clients. The prefix table is probed with
 * the key's own leading bytes, once per distinct prefix length in use.
 *
 * Delivery. A RESP3 client gets the push ["invalidate", [key ...]]; a flush
 * sends ["invalidate", null]. With REDIRECT id the message goes to that
 * client instead: as a push if it speaks RESP3, as a message on the
 * __redis__:invalidate channel if it is a subscribed RESP2 client, otherwise
 * not at all. When the redirect target is gone the client is flagged
 * BROKEN_REDIR and, in RESP3, told with ["tracking-redir-broken", id].
 *
 * Ordering. An invalidation that the running command causes for its own
 * client goes out after the command's reply (kept pending until the
 * top-level command ends: after EXEC, not in the middle of its reply);
 * one caused before the command runs (eviction) goes before its reply.
 *
 * Invariants:
 *  1. Every tracked_key in `table` holds at least one id; total_items is
 *     the sum of their id counts.
 *  2. A bcast_prefix is in `prefixes` iff some client links to it; its
 *     client list holds exactly the links in those clients'
 *     tracking_prefixes dicts.
 *  3. plens[] lists each distinct prefix length in `prefixes` once, with the
 *     number of prefixes of that length.
 *  4. server.tracking_clients counts the clients with CLIENT_TRACKING.
 *  5. Pending invalidations belong to pending_client, which is alive
 *     (tracking_client_free drops them). */
#include "server/server.h"
#include "server/pubsub.h"
#include "util/hash.h"
#include "util/mem.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INVALIDATE_CHANNEL "__redis__:invalidate"

/* ---- the tracking table: key -> set of client ids ------------------------------ */

typedef struct tracked_key {
    uint32_t n;   /* ids in the set */
    uint32_t cap; /* slots of ids.tab (a power of two); 0 while the one id is inline */
    union {
        uint64_t one;
        uint64_t *tab; /* open addressing, 0 = empty (client ids start at 1) */
    } ids;
    size_t klen;
    char key[];
} tracked_key;

static const void *tracked_key_key(const void *e, size_t *len) {
    const tracked_key *t = e;
    *len = t->klen;
    return t->key;
}
static const dict_type tracked_key_type = {dict_hash_bytes, tracked_key_key, NULL};

static dict *table; /* NULL until tracking is first enabled */
static long long total_items;

static int idtab_put(uint64_t *tab, uint32_t cap, uint64_t id) {
    size_t mask = cap - 1, i = hash_u64(id) & mask;
    while (tab[i]) {
        if (tab[i] == id) return 0;
        i = (i + 1) & mask;
    }
    tab[i] = id;
    return 1;
}

static void idset_grow(tracked_key *t) {
    uint32_t cap = t->cap ? t->cap * 2 : 4;
    uint64_t *tab = xcalloc(cap, sizeof(uint64_t));
    if (t->cap == 0) {
        if (t->n) idtab_put(tab, cap, t->ids.one);
    } else {
        for (uint32_t i = 0; i < t->cap; i++)
            if (t->ids.tab[i]) idtab_put(tab, cap, t->ids.tab[i]);
        xfree(t->ids.tab);
    }
    t->ids.tab = tab;
    t->cap = cap;
}

/* Adds id; returns 1 if it was not there. */
static int idset_add(tracked_key *t, uint64_t id) {
    if (t->cap == 0) {
        if (t->n == 0) {
            t->ids.one = id;
            t->n = 1;
            return 1;
        }
        if (t->ids.one == id) return 0;
        idset_grow(t);
    } else if ((t->n + 1) * 4 > t->cap * 3) {
        idset_grow(t);
    }
    if (!idtab_put(t->ids.tab, t->cap, id)) return 0;
    t->n++;
    return 1;
}

static void tracked_key_free(tracked_key *t) {
    if (t->cap) xfree(t->ids.tab);
    xfree(t);
}

static void free_tracked_cb(void *ctx, void *e) {
    (void)ctx;
    tracked_key_free(e);
}

/* ---- BCAST prefixes ------------------------------------------------------------------ */

typedef struct bcast_prefix {
    list_head clients; /* of bcast_link */
    dict *pending;     /* bcast_key changed this loop turn; NULL when none */
    size_t plen;
    char prefix[]; /* NUL-terminated */
} bcast_prefix;

typedef struct bcast_link {
    list_node node; /* in p->clients */
    client *c;
    bcast_prefix *p;
} bcast_link;

typedef struct bcast_key {
    uint64_t last_id; /* client that changed it last (NOLOOP), 0 = none */
    size_t klen;
    char key[];
} bcast_key;

static const void *prefix_key(const void *e, size_t *len) {
    const bcast_prefix *p = e;
    *len = p->plen;
    return p->prefix;
}
static const void *blink_key(const void *e, size_t *len) {
    const bcast_link *l = e;
    *len = l->p->plen;
    return l->p->prefix;
}
static const void *bkey_key(const void *e, size_t *len) {
    const bcast_key *k = e;
    *len = k->klen;
    return k->key;
}
static const dict_type prefix_type = {dict_hash_bytes, prefix_key, NULL};
static const dict_type blink_type = {dict_hash_bytes, blink_key, NULL};
static const dict_type bkey_type = {dict_hash_bytes, bkey_key, NULL};

static dict *prefixes; /* of bcast_prefix, NULL until tracking is first enabled */
static struct plen_count { size_t len, count; } * plens;
static size_t nplens, plens_cap;
static int bcast_dirty; /* some prefix has pending keys */

static void plens_add(size_t len) {
    for (size_t i = 0; i < nplens; i++)
        if (plens[i].len == len) {
            plens[i].count++;
            return;
        }
    if (nplens == plens_cap) {
        plens_cap = plens_cap ? plens_cap * 2 : 8;
        plens = xrealloc(plens, plens_cap * sizeof(*plens));
    }
    plens[nplens].len = len;
    plens[nplens].count = 1;
    nplens++;
}

static void plens_del(size_t len) {
    for (size_t i = 0; i < nplens; i++)
        if (plens[i].len == len) {
            if (--plens[i].count == 0) plens[i] = plens[--nplens];
            return;
        }
}

static void free_bkey_cb(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

static void bcast_link_client(client *c, const char *prefix, size_t plen) {
    bcast_prefix *p = dict_find(prefixes, prefix, plen);
    if (!p) {
        p = xmalloc(sizeof(*p) + plen + 1);
        list_init(&p->clients);
        p->pending = NULL;
        p->plen = plen;
        memcpy(p->prefix, prefix, plen);
        p->prefix[plen] = '\0';
        dict_add(prefixes, p);
        plens_add(plen);
    } else if (c->tracking_prefixes && dict_find(c->tracking_prefixes, prefix, plen)) {
        return;
    }
    bcast_link *l = xmalloc(sizeof(*l));
    l->c = c;
    l->p = p;
    list_push_back(&p->clients, &l->node);
    if (!c->tracking_prefixes) c->tracking_prefixes = dict_new(&blink_type);
    dict_add(c->tracking_prefixes, l);
}

/* dict_free callback over a client's links: unlinks, frees unused prefixes. */
static void bcast_unlink_cb(void *ctx, void *e) {
    (void)ctx;
    bcast_link *l = e;
    bcast_prefix *p = l->p;
    list_remove(&p->clients, &l->node);
    xfree(l);
    if (list_empty(&p->clients)) {
        dict_remove(prefixes, p->prefix, p->plen);
        plens_del(p->plen);
        dict_free(p->pending, free_bkey_cb, NULL);
        xfree(p);
    }
}

static int by_bytes(const char *a, size_t al, const char *b, size_t bl) {
    int r = memcmp(a, b, al < bl ? al : bl);
    return r ? r : (al > bl) - (al < bl);
}

static int cmp_prefix(const void *x, const void *y) {
    const bcast_prefix *a = *(bcast_prefix *const *)x, *b = *(bcast_prefix *const *)y;
    return by_bytes(a->prefix, a->plen, b->prefix, b->plen);
}

static int cmp_bkey(const void *x, const void *y) {
    const bcast_key *a = *(bcast_key *const *)x, *b = *(bcast_key *const *)y;
    return by_bytes(a->key, a->klen, b->key, b->klen);
}

/* The client's prefixes in byte order (Redis keeps them in a radix tree);
 * caller frees the array. */
static bcast_prefix **client_prefixes_sorted(client *c, size_t *n) {
    *n = c->tracking_prefixes ? dict_size(c->tracking_prefixes) : 0;
    if (*n == 0) return NULL;
    bcast_prefix **all = xmalloc(sizeof(*all) * *n);
    size_t i = 0;
    dict_iter it;
    dict_iter_init(&it, c->tracking_prefixes);
    bcast_link *l;
    while ((l = dict_iter_next(&it))) all[i++] = l->p;
    dict_iter_done(&it);
    qsort(all, *n, sizeof(*all), cmp_prefix);
    return all;
}

/* ---- sending ------------------------------------------------------------------------- */

enum { PAYLOAD_KEY, PAYLOAD_NULL, PAYLOAD_PROTO };

/* Sends one invalidation for client c (to c or its redirect target). The
 * payload is one key, null (everything), or ready RESP (a BCAST array). */
static void send_invalidation(client *c, int kind, const char *p, size_t len) {
    client *to = c;
    int redirected = 0;
    if (c->tracking_redirect) {
        to = client_by_id(c->tracking_redirect);
        if (!to) {
            c->flags |= CLIENT_TRACKING_BROKEN_REDIR;
            if (c->resp > 2) {
                uint64_t saved = push_begin(c);
                reply_push(c, 2);
                reply_bulk(c, "tracking-redir-broken", 21);
                reply_int(c, (long long)c->tracking_redirect);
                push_end(c, saved);
            }
            return;
        }
        redirected = 1;
    }
    uint64_t saved = push_begin(to);
    if (to->resp > 2) {
        reply_push(to, 2);
        reply_bulk(to, "invalidate", 10);
    } else if (redirected && (to->flags & CLIENT_PUBSUB)) {
        pubsub_message_head(to, INVALIDATE_CHANNEL, sizeof(INVALIDATE_CHANNEL) - 1);
    } else {
        push_end(to, saved); /* RESP2 has no out-of-band channel on the same connection */
        return;
    }
    if (kind == PAYLOAD_KEY) {
        reply_array(to, 1);
        reply_bulk(to, p, len);
    } else if (kind == PAYLOAD_NULL) {
        reply_null(to);
    } else {
        reply_raw(to, p, len);
    }
    push_end(to, saved);
}

/* ---- pending invalidations of the running command's own client -------------------- */

static client *pending_client;
static sbuf pending; /* records: size_t len (SIZE_MAX = null) then the key bytes */

/* The client on whose behalf the keyspace changes right now: the one running
 * a command (the caller of a script), or the one about to (eviction before
 * its command). NULL from the event loop itself (active expiry, cron). */
static client *acting_client(void) {
    client *a = server.executing_client ? server.executing_client : server.current_client;
    if (a && a->script_caller) a = a->script_caller;
    return a;
}

static void flush_pending(void) {
    client *c = pending_client;
    if (!c) return;
    pending_client = NULL;
    size_t off = 0;
    while (off < pending.len) {
        size_t len;
        memcpy(&len, pending.p + off, sizeof(len));
        off += sizeof(len);
        if (!(c->flags & CLIENT_TRACKING)) {
            if (len != SIZE_MAX) off += len;
            continue;
        }
        if (len == SIZE_MAX) {
            send_invalidation(c, PAYLOAD_NULL, NULL, 0);
        } else {
            send_invalidation(c, PAYLOAD_KEY, pending.p + off, len);
            off += len;
        }
    }
    sbuf_clear(&pending);
}

/* Sends now, or after the reply when c is the client whose command runs. */
static void deliver(client *c, int kind, const char *key, size_t len) {
    if (c != acting_client() || !server.executing_client) {
        send_invalidation(c, kind, key, len);
        return;
    }
    if (pending_client && pending_client != c) flush_pending();
    pending_client = c;
    size_t l = kind == PAYLOAD_NULL ? SIZE_MAX : len;
    sbuf_append(&pending, &l, sizeof(l));
    if (kind != PAYLOAD_NULL) sbuf_append(&pending, key, len);
}

/* ---- invalidation ---------------------------------------------------------------------- */

/* Sends the invalidation of a key already removed from the table, and frees it. */
static void invalidate_entry(tracked_key *t) {
    client *acting = acting_client();
    uint32_t slots = t->cap ? t->cap : 1;
    for (uint32_t i = 0; i < slots; i++) {
        uint64_t id = t->cap ? t->ids.tab[i] : t->ids.one;
        if (!id) continue;
        client *target = client_by_id(id);
        if (!target || !(target->flags & CLIENT_TRACKING) ||
            (target->flags & CLIENT_TRACKING_BCAST))
            continue; /* gone, off, or switched to BCAST since it read the key */
        if ((target->flags & CLIENT_TRACKING_NOLOOP) && target == acting) continue;
        deliver(target, PAYLOAD_KEY, t->key, t->klen);
    }
    total_items -= t->n;
    tracked_key_free(t);
}

static uint64_t modifier_id(client *c) {
    if (!c) return 0;
    if (c->script_caller) c = c->script_caller;
    return c->id;
}

/* BCAST: files the key under every prefix of it that clients listen to. */
static void bcast_remember(client *c, const char *key, size_t len) {
    uint64_t id = modifier_id(c);
    for (size_t i = 0; i < nplens; i++) {
        if (plens[i].len > len) continue;
        bcast_prefix *p = dict_find(prefixes, key, plens[i].len);
        if (!p) continue;
        if (!p->pending) p->pending = dict_new(&bkey_type);
        bcast_key *k = dict_find(p->pending, key, len);
        if (!k) {
            k = xmalloc(sizeof(*k) + len);
            k->klen = len;
            memcpy(k->key, key, len);
            dict_add(p->pending, k);
        }
        k->last_id = id;
        bcast_dirty = 1;
    }
}

void tracking_invalidate_key(client *c, const char *key, size_t len) {
    if (!table) return; /* tracking never used */
    if (nplens) bcast_remember(c, key, len);
    tracked_key *t = dict_remove(table, key, len);
    if (t) invalidate_entry(t);
}

void tracking_invalidate_all(void) {
    if (server.tracking_clients) {
        list_node *n;
        list_for_each(n, &server.clients) {
            client *c = list_entry(n, client, node);
            if (c->flags & CLIENT_TRACKING) deliver(c, PAYLOAD_NULL, NULL, 0);
        }
    }
    if (table && dict_size(table)) {
        dict_clear(table, free_tracked_cb, NULL);
        total_items = 0;
    }
}

/* Appends a RESP array of the keys (except those last changed by
 * skip_id, when non-zero); returns the number of keys. */
static size_t build_key_array(sbuf *b, bcast_key **keys, size_t n, uint64_t skip_id) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip_id || keys[i]->last_id != skip_id) count++;
    if (!count) return 0;
    resp_sb_agg(b, 2, RESP_ARRAY, (long long)count);
    for (size_t i = 0; i < n; i++) {
        if (skip_id && keys[i]->last_id == skip_id) continue;
        resp_sb_bulk(b, keys[i]->key, keys[i]->klen);
    }
    return count;
}

static void bcast_send_prefix(bcast_prefix *p, sbuf *proto, sbuf *adhoc) {
    size_t n = dict_size(p->pending), i = 0;
    bcast_key **keys = xmalloc(sizeof(*keys) * n);
    dict_iter it;
    dict_iter_init(&it, p->pending);
    bcast_key *k;
    while ((k = dict_iter_next(&it))) keys[i++] = k;
    dict_iter_done(&it);
    qsort(keys, n, sizeof(*keys), cmp_bkey);
    sbuf_clear(proto);
    build_key_array(proto, keys, n, 0);
    list_node *ln;
    list_for_each(ln, &p->clients) {
        client *c = list_entry(ln, bcast_link, node)->c;
        if (c->flags & CLIENT_TRACKING_NOLOOP) {
            sbuf_clear(adhoc);
            if (build_key_array(adhoc, keys, n, c->id))
                send_invalidation(c, PAYLOAD_PROTO, adhoc->p, adhoc->len);
        } else {
            send_invalidation(c, PAYLOAD_PROTO, proto->p, proto->len);
        }
    }
    xfree(keys);
    dict_free(p->pending, free_bkey_cb, NULL);
    p->pending = NULL;
}

/* Sends each prefix's pending keys, prefixes in byte order (as Redis walks
 * its radix tree), so a client hears of several prefixes in a fixed order. */
static void bcast_flush(void) {
    if (!bcast_dirty) return;
    bcast_dirty = 0;
    if (dict_size(prefixes) == 0) return; /* their clients left meanwhile */
    size_t n = 0;
    bcast_prefix **dirty = xmalloc(sizeof(*dirty) * dict_size(prefixes)), *p;
    dict_iter it;
    dict_iter_init(&it, prefixes);
    while ((p = dict_iter_next(&it)))
        if (p->pending) dirty[n++] = p;
    dict_iter_done(&it);
    qsort(dirty, n, sizeof(*dirty), cmp_prefix);
    sbuf proto = SBUF_INIT, adhoc = SBUF_INIT;
    for (size_t i = 0; i < n; i++) bcast_send_prefix(dirty[i], &proto, &adhoc);
    sbuf_free(&proto);
    sbuf_free(&adhoc);
    xfree(dirty);
}

/* tracking-table-max-keys: invalidates random keys until under the limit,
 * with an effort that grows while a pass does not get there (as Redis). */
static void limit_used_slots(void) {
    static unsigned timeout_counter;
    if (!table || server.tracking_table_max_keys <= 0) return;
    size_t max = (size_t)server.tracking_table_max_keys;
    if (dict_size(table) <= max) {
        timeout_counter = 0;
        return;
    }
    for (long effort = 100L * (timeout_counter + 1); effort > 0; effort--) {
        tracked_key *t = dict_random(table);
        if (!t) break;
        dict_remove(table, t->key, t->klen);
        invalidate_entry(t);
        if (dict_size(table) <= max) {
            timeout_counter = 0;
            return;
        }
    }
    timeout_counter++;
}

void tracking_before_sleep(void) {
    flush_pending();
    if (server.tracking_clients) limit_used_slots();
    bcast_flush();
    if (table) dict_maybe_shrink(table);
}

/* ---- remembering keys read ------------------------------------------------------------ */

static int is_ro_script(const command *cmd) {
    return !strcmp(cmd->name, "eval_ro") || !strcmp(cmd->name, "evalsha_ro") ||
           !strcmp(cmd->name, "fcall_ro");
}

static int is_client_command(const command *cmd) {
    return !strcmp(cmd->parent ? cmd->parent->name : cmd->name, "client");
}

/* Remembers the keys of c's current command (a script: its declared keys). */
static void remember_keys(client *c) {
    uint64_t optin = c->flags & CLIENT_TRACKING_OPTIN, optout = c->flags & CLIENT_TRACKING_OPTOUT;
    uint64_t caching = c->flags & CLIENT_TRACKING_CACHING;
    if ((optin && !caching) || (optout && caching)) return;
    const command *cmd = c->cmd;
    /* Shard channels are keys only for cluster routing. */
    if (!cmd || (cmd->flag_bits & CMD_PUBSUB)) return;
    int small[64], *pos = c->argc <= 64 ? small : xmalloc(sizeof(int) * (size_t)c->argc);
    int n = command_keys(cmd, c->argc, c->argv, pos, c->argc);
    for (int j = 0; j < n; j++) {
        const resp_arg *k = &c->argv[pos[j]];
        tracked_key *t = dict_find(table, k->p, k->len);
        if (!t) {
            t = xmalloc(sizeof(*t) + k->len);
            t->n = t->cap = 0;
            t->klen = k->len;
            memcpy(t->key, k->p, k->len);
            dict_add(table, t);
        }
        if (idset_add(t, c->id)) total_items++;
    }
    if (pos != small) xfree(pos);
}

void tracking_after_command(client *c, const command *cmd) {
    client *t = c->script_caller ? c->script_caller : c;
    if ((cmd->flag_bits & CMD_READONLY) && (t->flags & CLIENT_TRACKING) &&
        !(t->flags & CLIENT_TRACKING_BCAST) && !is_ro_script(cmd))
        remember_keys(t);
    if (server.executing_client) return; /* inside EXEC or a script: not the end yet */
    if (pending_client) flush_pending();
    /* CLIENT CACHING applies to the next command (or transaction) only. */
    if ((c->flags & CLIENT_TRACKING_CACHING) && !(c->flags & CLIENT_MULTI) &&
        !is_client_command(cmd))
        c->flags &= ~(uint64_t)CLIENT_TRACKING_CACHING;
}

/* ---- enabling and disabling ----------------------------------------------------------- */

void tracking_enable(client *c, uint64_t redirect, uint64_t options, resp_arg **pfx, int npfx) {
    if (!(c->flags & CLIENT_TRACKING)) server.tracking_clients++;
    c->flags |= CLIENT_TRACKING;
    c->flags &=
        ~(uint64_t)(CLIENT_TRACKING_BROKEN_REDIR | CLIENT_TRACKING_BCAST | CLIENT_TRACKING_OPTIN |
                    CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_NOLOOP);
    c->tracking_redirect = redirect;
    if (!table) {
        table = dict_new(&tracked_key_type);
        prefixes = dict_new(&prefix_type);
    }
    if (options & CLIENT_TRACKING_BCAST) {
        c->flags |= CLIENT_TRACKING_BCAST;
        if (npfx == 0) bcast_link_client(c, "", 0);
        for (int j = 0; j < npfx; j++) bcast_link_client(c, pfx[j]->p, pfx[j]->len);
    }
    c->flags |= options & (CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_NOLOOP);
}

void tracking_disable(client *c) {
    if (c->tracking_prefixes) {
        dict_free(c->tracking_prefixes, bcast_unlink_cb, NULL);
        c->tracking_prefixes = NULL;
    }
    if (c->flags & CLIENT_TRACKING) {
        server.tracking_clients--;
        c->flags &=
            ~(uint64_t)(CLIENT_TRACKING | CLIENT_TRACKING_BROKEN_REDIR | CLIENT_TRACKING_BCAST |
                        CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_CACHING |
                        CLIENT_TRACKING_NOLOOP);
    }
}

void tracking_client_free(client *c) {
    tracking_disable(c);
    if (pending_client == c) {
        pending_client = NULL;
        sbuf_clear(&pending);
    }
}

void tracking_stats(long long *keys, long long *items, long long *nprefixes) {
    *keys = table ? (long long)dict_size(table) : 0;
    *items = total_items;
    *nprefixes = prefixes ? (long long)dict_size(prefixes) : 0;
}

void tracking_for_each_prefix(client *c, void (*fn)(void *ctx, const char *p, size_t len),
                              void *ctx) {
    size_t n;
    bcast_prefix **ps = client_prefixes_sorted(c, &n);
    for (size_t i = 0; i < n; i++) fn(ctx, ps[i]->prefix, ps[i]->plen);
    xfree(ps);
}
