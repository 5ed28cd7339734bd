/* server/pubsub — subscriptions and message delivery: for the SUBSCRIBE,
 * PUBLISH and PUBSUB families (their handlers: commands/pubsub.c), keyspace
 * notifications (pubsub_publish) and client-side caching.
 *
 * Three namespaces: channels, patterns and shard channels. Each is a server
 * dict of `channel` entries (the name and the list of its subscribers). A
 * subscription is a `sub_link` that sits both in its channel's subscriber
 * list and in one of the client's dicts (c->pubsub_channels,
 * c->pubsub_patterns, c->pubsub_shard_channels, keyed by channel name), so
 * subscribing, unsubscribing and a client's disconnect cost O(1) per
 * subscription and PUBLISH walks the subscriber list directly. Without
 * cluster, shard channels are simply a namespace of their own: SPUBLISH
 * reaches SSUBSCRIBE subscribers only, never patterns.
 *
 * Replies follow Redis 7.0: confirmations and messages are 3-element arrays
 * (RESP2) or pushes (RESP3), delivered even under CLIENT REPLY OFF/SKIP; the
 * count in (P)SUBSCRIBE confirmations is channels + patterns, in SSUBSCRIBE
 * ones shard channels only.
 *
 * Invariants:
 *  1. A channel entry is in a server dict iff its subscriber list is not empty.
 *  2. A sub_link is in exactly one channel's list and in the matching dict of
 *     its client; a client's dict of a kind is NULL while it has none of it.
 *  3. CLIENT_PUBSUB is set iff the client has a subscription of any kind
 *     (after each (un)subscribe command; server.pubsub_clients counts them).
 *  4. PUBLISH allocates nothing per receiver: the part of the message common
 *     to all receivers is encoded once and copied into each reply buffer. */
#include "server/pubsub.h"
#include "util/mem.h"
#include <stdlib.h>
#include <string.h>

enum { K_CHANNEL = PUBSUB_CHANNEL, K_PATTERN = PUBSUB_PATTERN, K_SHARD = PUBSUB_SHARD, K_COUNT };

typedef struct channel {
    list_head subs; /* of sub_link, oldest subscription first */
    size_t len;
    char name[]; /* NUL-terminated */
} channel;

typedef struct sub_link {
    list_node node; /* in ch->subs */
    client *c;
    channel *ch;
    uint64_t seq; /* subscription order: UNSUBSCRIBE without arguments follows it */
} sub_link;

static const struct {
    const char *sub, *unsub;
} kind_names[K_COUNT] = {
    {"subscribe", "unsubscribe"}, {"psubscribe", "punsubscribe"}, {"ssubscribe", "sunsubscribe"}};

static const void *channel_key(const void *e, size_t *len) {
    const channel *ch = e;
    *len = ch->len;
    return ch->name;
}
static const void *link_key(const void *e, size_t *len) {
    const sub_link *l = e;
    *len = l->ch->len;
    return l->ch->name;
}
static const dict_type channel_dict_type = {dict_hash_bytes, channel_key, NULL};
static const dict_type link_dict_type = {dict_hash_bytes, link_key, NULL};

static dict *server_dicts[K_COUNT]; /* created on first subscription */
static uint64_t next_seq;

static dict *server_dict(int kind) {
    if (!server_dicts[kind]) server_dicts[kind] = dict_new(&channel_dict_type);
    return server_dicts[kind];
}

static dict **client_dict(client *c, int kind) {
    switch (kind) {
    case K_CHANNEL:
        return &c->pubsub_channels;
    case K_PATTERN:
        return &c->pubsub_patterns;
    default:
        return &c->pubsub_shard_channels;
    }
}

static size_t dsize(const dict *d) {
    return d ? dict_size(d) : 0;
}

/* The count Redis reports in confirmations of this kind. */
static long long sub_count(client *c, int kind) {
    if (kind == K_SHARD) return (long long)dsize(c->pubsub_shard_channels);
    return (long long)(dsize(c->pubsub_channels) + dsize(c->pubsub_patterns));
}

static size_t total_subs(const client *c) {
    return dsize(c->pubsub_channels) + dsize(c->pubsub_patterns) + dsize(c->pubsub_shard_channels);
}

/* Invariant 3, after a (un)subscribe. */
static void update_pubsub_flag(client *c) {
    int subscribed = total_subs(c) > 0, was = (c->flags & CLIENT_PUBSUB) != 0;
    if (subscribed && !was) {
        c->flags |= CLIENT_PUBSUB;
        server.pubsub_clients++;
    } else if (!subscribed && was) {
        c->flags &= ~(uint64_t)CLIENT_PUBSUB;
        server.pubsub_clients--;
    }
}

/* ---- replies ---------------------------------------------------------------------- */

/* [kind, channel or null, count] */
static void reply_confirmation(client *c, const char *what, const char *name, size_t len,
                               long long count) {
    uint64_t saved = push_begin(c);
    reply_push(c, 3);
    reply_bulk_cstr(c, what);
    if (name)
        reply_bulk(c, name, len);
    else
        reply_null(c);
    reply_int(c, count);
    push_end(c, saved);
}

void pubsub_message_head(client *c, const char *ch, size_t chlen) {
    reply_push(c, 3);
    reply_bulk(c, "message", 7);
    reply_bulk(c, ch, chlen);
}

/* The part of a published message every receiver gets the same, encoded
 * once: the channel as a bulk and the message's bulk header; the message
 * bytes and RESP_END follow. */
typedef struct frame {
    char *tail;
    size_t taillen;
    const char *msg;
    size_t mlen;
    char small[256];
} frame;

static void frame_init(frame *f, const char *ch, size_t chlen, const char *msg, size_t mlen) {
    size_t need = chlen + 2 * RESP_HDR_MAX + RESP_END_LEN;
    f->tail = need <= sizeof(f->small) ? f->small : xmalloc(need);
    size_t o = resp_enc_bulk(f->tail, ch, chlen);
    o += resp_enc_bulk_hdr(f->tail + o, mlen);
    f->taillen = o;
    f->msg = msg;
    f->mlen = mlen;
}

static void frame_free(frame *f) {
    if (f->tail != f->small) xfree(f->tail);
}

/* A push of the message type (message, smessage, pmessage), the pattern for
 * pmessage, the channel and the message. */
static void send_frame(client *c, const char *type, size_t typelen, const channel *pattern,
                       const frame *f) {
    uint64_t saved = push_begin(c);
    char head[2 * RESP_HDR_MAX + 8 + RESP_END_LEN];
    size_t h = resp_enc_agg(head, c->resp, RESP_PUSH, pattern ? 4 : 3);
    h += resp_enc_bulk(head + h, type, typelen);
    reply_raw(c, head, h);
    if (pattern) reply_bulk(c, pattern->name, pattern->len);
    reply_raw(c, f->tail, f->taillen);
    reply_raw(c, f->msg, f->mlen);
    reply_raw(c, RESP_END, RESP_END_LEN);
    push_end(c, saved);
}

/* ---- subscriptions ------------------------------------------------------------------ */

static void subscribe_one(client *c, int kind, const char *name, size_t len) {
    dict **cd = client_dict(c, kind);
    if (!*cd) *cd = dict_new(&link_dict_type);
    if (!dict_find(*cd, name, len)) {
        dict *sd = server_dict(kind);
        channel *ch = dict_find(sd, name, len);
        if (!ch) {
            ch = xmalloc(sizeof(*ch) + len + 1);
            list_init(&ch->subs);
            ch->len = len;
            memcpy(ch->name, name, len);
            ch->name[len] = '\0';
            dict_add(sd, ch);
        }
        sub_link *l = xmalloc(sizeof(*l));
        l->c = c;
        l->ch = ch;
        l->seq = ++next_seq;
        list_push_back(&ch->subs, &l->node);
        dict_add(*cd, l);
    }
    reply_confirmation(c, kind_names[kind].sub, name, len, sub_count(c, kind));
}

/* Ends one subscription; the confirmation (if notify) carries the count
 * after the removal. */
static void drop_link(sub_link *l, int kind, int notify) {
    client *c = l->c;
    channel *ch = l->ch;
    dict **cd = client_dict(c, kind);
    dict_remove(*cd, ch->name, ch->len);
    if (dict_size(*cd) == 0) {
        dict_free(*cd, NULL, NULL);
        *cd = NULL;
    }
    if (notify)
        reply_confirmation(c, kind_names[kind].unsub, ch->name, ch->len, sub_count(c, kind));
    list_remove(&ch->subs, &l->node);
    xfree(l);
    if (list_empty(&ch->subs)) {
        dict_remove(server_dicts[kind], ch->name, ch->len);
        xfree(ch);
    }
}

static void unsubscribe_one(client *c, int kind, const char *name, size_t len) {
    dict *cd = *client_dict(c, kind);
    sub_link *l = cd ? dict_find(cd, name, len) : NULL;
    if (l)
        drop_link(l, kind, 1);
    else
        reply_confirmation(c, kind_names[kind].unsub, name, len, sub_count(c, kind));
}

static int by_seq(const void *a, const void *b) {
    uint64_t x = (*(sub_link *const *)a)->seq, y = (*(sub_link *const *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Drops every subscription of a kind, oldest first; with notify, one
 * confirmation each, or one with a null channel when there were none. */
static void unsubscribe_all(client *c, int kind, int notify) {
    dict *cd = *client_dict(c, kind);
    size_t n = dsize(cd), i = 0;
    if (n == 0) {
        if (notify) reply_confirmation(c, kind_names[kind].unsub, NULL, 0, sub_count(c, kind));
        return;
    }
    sub_link **all = xmalloc(sizeof(*all) * n);
    dict_iter it;
    dict_iter_init(&it, cd);
    sub_link *l;
    while ((l = dict_iter_next(&it))) all[i++] = l;
    dict_iter_done(&it);
    qsort(all, n, sizeof(*all), by_seq);
    for (i = 0; i < n; i++) drop_link(all[i], kind, notify);
    xfree(all);
}

void pubsub_unsubscribe_all(client *c, int notify) {
    unsubscribe_all(c, K_CHANNEL, notify);
    unsubscribe_all(c, K_SHARD, notify);
    unsubscribe_all(c, K_PATTERN, notify);
    update_pubsub_flag(c);
}

void pubsub_client_free(client *c) {
    pubsub_unsubscribe_all(c, 0);
}

void pubsub_counts(long long *channels, long long *patterns) {
    *channels = (long long)dsize(server_dicts[K_CHANNEL]);
    *patterns = (long long)dsize(server_dicts[K_PATTERN]);
}

long long pubsub_shard_channel_count(void) {
    return (long long)dsize(server_dicts[K_SHARD]);
}

int pubsub_idle(void) {
    return !dsize(server_dicts[K_CHANNEL]) && !dsize(server_dicts[K_PATTERN]) &&
           !dsize(server_dicts[K_SHARD]);
}

/* RESP2 subscribed mode: what the dispatcher lets through. */
int pubsub_context_allows(const command *cmd) {
    static const char *const ok[] = {
        "subscribe",    "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
        "punsubscribe", "ping",       "quit",        "reset",        NULL};
    if (cmd->parent) return 0; /* "slowlog|reset" is not RESET */
    for (int i = 0; ok[i]; i++)
        if (!strcmp(cmd->name, ok[i])) return 1;
    return 0;
}

/* ---- publishing --------------------------------------------------------------------- */

static long long publish(int kind, const char *ch, size_t chlen, const char *msg, size_t mlen) {
    long long receivers = 0;
    dict *sd = server_dicts[kind];
    channel *chan = sd ? dict_find(sd, ch, chlen) : NULL;
    dict *pats = kind == K_CHANNEL ? server_dicts[K_PATTERN] : NULL;
    if (!chan && dsize(pats) == 0) return 0;
    frame f;
    frame_init(&f, ch, chlen, msg, mlen);
    if (chan) {
        list_node *n;
        list_for_each(n, &chan->subs) {
            client *c = list_entry(n, sub_link, node)->c;
            if (kind == K_SHARD)
                send_frame(c, "smessage", 8, NULL, &f);
            else
                send_frame(c, "message", 7, NULL, &f);
            receivers++;
        }
    }
    if (dsize(pats)) {
        dict_iter it;
        dict_iter_init(&it, pats);
        channel *p;
        while ((p = dict_iter_next(&it))) {
            if (!glob_match(p->name, p->len, ch, chlen, 0)) continue;
            list_node *n;
            list_for_each(n, &p->subs) {
                client *c = list_entry(n, sub_link, node)->c;
                send_frame(c, "pmessage", 8, p, &f);
                receivers++;
            }
        }
        dict_iter_done(&it);
    }
    frame_free(&f);
    return receivers;
}

long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen) {
    return publish(K_CHANNEL, ch, chlen, msg, mlen);
}

/* ---- for the handlers (commands/pubsub.c) ------------------------------------------ */

long long pubsub_publish_kind(int kind, const char *ch, size_t chlen, const char *msg,
                              size_t mlen) {
    return publish(kind, ch, chlen, msg, mlen);
}

void pubsub_subscribe(client *c, int kind, const resp_arg *names, int n) {
    for (int j = 0; j < n; j++) subscribe_one(c, kind, names[j].p, names[j].len);
    update_pubsub_flag(c);
}

void pubsub_unsubscribe(client *c, int kind, const resp_arg *names, int n) {
    if (n == 0)
        unsubscribe_all(c, kind, 1);
    else
        for (int j = 0; j < n; j++) unsubscribe_one(c, kind, names[j].p, names[j].len);
    update_pubsub_flag(c);
}

size_t pubsub_channel_count(int kind) {
    return dsize(server_dicts[kind]);
}

long long pubsub_subscriber_count(int kind, const char *name, size_t len) {
    channel *ch = server_dicts[kind] ? dict_find(server_dicts[kind], name, len) : NULL;
    return ch ? (long long)ch->subs.len : 0;
}

void pubsub_for_each_channel(int kind, void (*fn)(void *ctx, const char *name, size_t len),
                             void *ctx) {
    if (dsize(server_dicts[kind]) == 0) return;
    dict_iter it;
    dict_iter_init(&it, server_dicts[kind]);
    channel *ch;
    while ((ch = dict_iter_next(&it))) fn(ctx, ch->name, ch->len);
    dict_iter_done(&it);
}

void pubsub_client_for_each(client *c, int kind,
                            void (*fn)(void *ctx, const char *name, size_t len), void *ctx) {
    dict *d = *client_dict(c, kind);
    if (!d) return;
    dict_iter it;
    dict_iter_init(&it, d);
    sub_link *l;
    while ((l = dict_iter_next(&it))) fn(ctx, l->ch->name, l->ch->len);
    dict_iter_done(&it);
}
