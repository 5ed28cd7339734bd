/* commands/multi — MULTI / EXEC / DISCARD / WATCH / UNWATCH over the
 * server's transaction queue and WATCH bookkeeping (server/multi.c). */
#include "commands/commands.h"

void multi_command(client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    reply_ok(c);
}

void discard_command(client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(c);
    reply_ok(c);
}

void exec_command(client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    kv_now_ms = server_mstime();
    if (watch_any_expired(c)) c->flags |= CLIENT_DIRTY_CAS;
    if (c->flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)) {
        if (c->flags & CLIENT_DIRTY_EXEC)
            reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            reply_null_array(c);
        multi_discard(c);
        return;
    }
    multi_exec(c);
}

void watch_command(client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (c->flags & CLIENT_DIRTY_CAS) { /* no point in watching a doomed client */
        reply_ok(c);
        return;
    }
    for (int i = 1; i < c->argc; i++) watch_key(c, &c->argv[i]);
    reply_ok(c);
}

void unwatch_command(client *c) {
    watch_unwatch_all(c);
    c->flags &= ~(uint64_t)CLIENT_DIRTY_CAS;
    reply_ok(c);
}
