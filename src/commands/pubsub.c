/* commands/pubsub — SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH,
 * SSUBSCRIBE SUNSUBSCRIBE SPUBLISH and PUBSUB * over the server's
 * subscriptions (server/pubsub.c). */
#include "commands/commands.h"

static void subscribe_generic(client *c, int kind) {
    pubsub_subscribe(c, kind, c->argv + 1, c->argc - 1);
}

static void unsubscribe_generic(client *c, int kind) {
    pubsub_unsubscribe(c, kind, c->argv + 1, c->argc - 1);
}

/* A client that needs one reply per command (EXEC aside, for compatibility)
 * cannot enter subscribed mode. */
static int may_subscribe_or_reply(client *c, const char *name, int multi_ok) {
    if ((c->flags & CLIENT_DENY_BLOCKING) && !(multi_ok && (c->flags & CLIENT_MULTI))) {
        reply_errorf(c, "ERR %s isn't allowed for a DENY BLOCKING client", name);
        return ERR;
    }
    return OK;
}

void subscribe_command(client *c) {
    if (may_subscribe_or_reply(c, "SUBSCRIBE", 1) != OK) return;
    subscribe_generic(c, PUBSUB_CHANNEL);
}

void psubscribe_command(client *c) {
    if (may_subscribe_or_reply(c, "PSUBSCRIBE", 1) != OK) return;
    subscribe_generic(c, PUBSUB_PATTERN);
}

void ssubscribe_command(client *c) {
    if (may_subscribe_or_reply(c, "SSUBSCRIBE", 0) != OK) return;
    subscribe_generic(c, PUBSUB_SHARD);
}

void unsubscribe_command(client *c) {
    unsubscribe_generic(c, PUBSUB_CHANNEL);
}
void punsubscribe_command(client *c) {
    unsubscribe_generic(c, PUBSUB_PATTERN);
}
void sunsubscribe_command(client *c) {
    unsubscribe_generic(c, PUBSUB_SHARD);
}

void publish_command(client *c) {
    reply_int(c, pubsub_publish_kind(PUBSUB_CHANNEL, c->argv[1].p, c->argv[1].len, c->argv[2].p,
                                     c->argv[2].len));
}

void spublish_command(client *c) {
    reply_int(c, pubsub_publish_kind(PUBSUB_SHARD, c->argv[1].p, c->argv[1].len, c->argv[2].p,
                                     c->argv[2].len));
}

typedef struct channel_list_ctx {
    client *c;
    const resp_arg *pat;
    long n;
} channel_list_ctx;

static void list_one(void *ctx, const char *name, size_t len) {
    channel_list_ctx *x = ctx;
    if (x->pat && !glob_match(x->pat->p, x->pat->len, name, len, 0)) return;
    reply_bulk(x->c, name, len);
    x->n++;
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern] */
static void channel_list(client *c, int kind) {
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (pubsub_channel_count(kind) == 0) {
        reply_empty_array(c);
        return;
    }
    channel_list_ctx x = {c, c->argc == 3 ? &c->argv[2] : NULL, 0};
    void *h = reply_defer_len(c);
    pubsub_for_each_channel(kind, list_one, &x);
    reply_set_deferred_array(c, h, x.n);
}

/* PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat array name, count, ... */
static void numsub(client *c, int kind) {
    reply_array(c, (long)(c->argc - 2) * 2);
    for (int j = 2; j < c->argc; j++) {
        reply_bulk(c, c->argv[j].p, c->argv[j].len);
        reply_int(c, pubsub_subscriber_count(kind, c->argv[j].p, c->argv[j].len));
    }
}

void pubsub_channels_command(client *c) {
    channel_list(c, PUBSUB_CHANNEL);
}
void pubsub_shardchannels_command(client *c) {
    channel_list(c, PUBSUB_SHARD);
}
void pubsub_numsub_command(client *c) {
    numsub(c, PUBSUB_CHANNEL);
}
void pubsub_shardnumsub_command(client *c) {
    numsub(c, PUBSUB_SHARD);
}
void pubsub_numpat_command(client *c) {
    reply_int(c, (long long)pubsub_channel_count(PUBSUB_PATTERN));
}

void pubsub_help_command(client *c) {
    static const char *const help[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        NULL};
    reply_help(c, "pubsub", help);
}
