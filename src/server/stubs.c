/* server/stubs — placeholders for subsystems not built yet:
 * pub/sub and client tracking (issue 3), persistence (issue 6).
 * Each function here is replaced by the real module's definition when it lands;
 * until then they keep the server's contract (no subscribers, no tracking,
 * no store). */
#include "commands/commands.h"

/* pub/sub */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen) {
    (void)ch, (void)chlen, (void)msg, (void)mlen;
    return 0;
}
void pubsub_client_free(client *c) { (void)c; }
void pubsub_unsubscribe_all(client *c, int notify) { (void)c, (void)notify; }
void pubsub_counts(long long *channels, long long *patterns) { *channels = *patterns = 0; }
int pubsub_context_allows(const command *cmd) {
    static const char *ok[] = {"subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
                               "punsubscribe", "ping", "quit", "reset", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(cmd->name, ok[i])) return 1;
    return 0;
}
static void not_yet(client *c) { reply_errorf(c, "ERR '%s' is not implemented yet", c->cmd->fullname); }
void publish_command(client *c) { not_yet(c); }
void subscribe_command(client *c) { not_yet(c); }
void unsubscribe_command(client *c) { not_yet(c); }
void psubscribe_command(client *c) { not_yet(c); }
void punsubscribe_command(client *c) { not_yet(c); }
void ssubscribe_command(client *c) { not_yet(c); }
void sunsubscribe_command(client *c) { not_yet(c); }
void spublish_command(client *c) { not_yet(c); }
void pubsub_channels_command(client *c) { not_yet(c); }
void pubsub_numsub_command(client *c) { not_yet(c); }
void pubsub_numpat_command(client *c) { not_yet(c); }
void pubsub_shardchannels_command(client *c) { not_yet(c); }
void pubsub_shardnumsub_command(client *c) { not_yet(c); }
void pubsub_help_command(client *c) { not_yet(c); }

/* client-side caching */
void tracking_client_free(client *c) { (void)c; }
void tracking_after_command(client *c, const command *cmd) { (void)c, (void)cmd; }
void tracking_invalidate_key(client *c, const char *key, size_t len) { (void)c, (void)key, (void)len; }
void tracking_invalidate_all(void) {}
void tracking_disable(client *c) { (void)c; }
void tracking_before_sleep(void) {}
void client_tracking_command(client *c) { not_yet(c); }
void client_caching_command(client *c) { not_yet(c); }
void client_getredir_command(client *c) { reply_int(c, -1); }
void client_trackinginfo_command(client *c) { not_yet(c); }

