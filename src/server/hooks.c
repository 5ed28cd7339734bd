/* server/hooks — the observer table and its no-op defaults (hooks.h). */
#include "server/hooks.h"
#include "server/server.h"

static int allow_all(client *c, const command *cmd) {
    return 1;
}
static void after_nothing(client *c, const command *cmd) {}
static void key_nothing(client *c, db *d, const char *key, size_t len) {}
static void expired_nothing(db *d, const kobj *o) {}
static int pinned_none(db *d, const char *key, size_t len) {
    return 0;
}
static void nothing(void) {}
static void client_nothing(client *c) {}
static int start_nothing(char **err) {
    return OK;
}

server_hooks hooks = {
    .allow_command = allow_all,
    .after_command = after_nothing,
    .key_modified = key_nothing,
    .key_expired = expired_nothing,
    .key_pinned = pinned_none,
    .key_mapped = pinned_none,
    .before_sleep = nothing,
    .cron = nothing,
    .client_freed = client_nothing,
    .start = start_nothing,
    .shutdown = nothing,
};

void hooks_set(const server_hooks *h) {
#define TAKE(slot)                                                                                 \
    if (h->slot) hooks.slot = h->slot
    TAKE(allow_command);
    TAKE(after_command);
    TAKE(key_modified);
    TAKE(key_expired);
    TAKE(key_pinned);
    TAKE(key_mapped);
    TAKE(before_sleep);
    TAKE(cron);
    TAKE(client_freed);
    TAKE(start);
    TAKE(shutdown);
#undef TAKE
}
