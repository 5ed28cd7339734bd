/* commands/multi — MULTI / EXEC / DISCARD / WATCH / UNWATCH over the
 * server's transaction queue and WATCH bookkeeping (server/multi.c). */
#include "commands/commands.h"
#include "util/mem.h"

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
    kv_now_ms = server.mstime;
    if (watch_any_expired(c)) c->flags |= CLIENT_DIRTY_CAS;
    if (c->flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)) {
        if (c->flags & CLIENT_DIRTY_EXEC)
            reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            reply_null_array(c);
        multi_discard(c);
        return;
    }
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
