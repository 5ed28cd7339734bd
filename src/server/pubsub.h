/* server/pubsub.h — what pub/sub shares with the rest of src/server: the
 * handlers' part (subscribe, publish, channel queries) is in server/api.h.
 * Client-side caching (server/tracking.c) also sends pub/sub messages —
 * invalidations to a RESP2 redirect client on __redis__:invalidate — and
 * out-of-band pushes; it uses this header. */
#ifndef LARDER_SERVER_PUBSUB_H
#define LARDER_SERVER_PUBSUB_H
#include "server/server.h"

/* Out-of-band data (pub/sub messages, invalidations, subscribe
 * confirmations) reaches a client even under CLIENT REPLY OFF/SKIP, as
 * Redis's CLIENT_PUSHING does: push_begin lifts the silencing flags and
 * returns them, push_end puts them back. */
static inline uint64_t push_begin(client *c) {
    uint64_t saved = c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP);
    c->flags &= ~saved;
    return saved;
}
static inline void push_end(client *c, uint64_t saved) {
    c->flags |= saved;
}

/* Writes the first two elements of a "message" push on channel ch (the
 * 3-element header, "message", the channel); the caller appends the payload
 * as one RESP value. Call between push_begin/push_end. */
void pubsub_message_head(client *c, const char *ch, size_t chlen);

/* Subscriptions of all clients: channels + patterns (the INFO figures), and
 * shard channels. */
void pubsub_counts(long long *channels, long long *patterns);
long long pubsub_shard_channel_count(void);
/* True when no client is subscribed to anything: keyspace notifications
 * return early without building channel names. */
int pubsub_idle(void);
void pubsub_client_free(client *c);
/* Each channel (or pattern, shard channel) c is subscribed to. */
void pubsub_client_for_each(client *c, int kind,
                            void (*fn)(void *ctx, const char *name, size_t len), void *ctx);
/* May cmd run in c's current (RESP2 subscribed) context? */
int pubsub_context_allows(const command *cmd);
#endif
