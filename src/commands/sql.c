/* commands/sql — SQL.QUERY and SQL.EXEC: statements on the store.
 *
 *   SQL.QUERY sql [arg ...]   read-only; rows as arrays (RESP3: maps)
 *   SQL.EXEC sql [arg ...]    any statement; rows if it returns any
 *                             (RETURNING, SELECT), else the number of rows
 *                             it changed
 * Arguments are bound to ?/?N parameters, never spliced into the text. The
 * statement runs on the store thread (persist/sqlcmd.c) while the client
 * waits; rows a write changes invalidate the cached keys of mapped tables. */
#include "commands/commands.h"
#include "persist/persist_api.h"
#include "server/acl.h"

int store_configured_or_reply(client *c) {
    if (persist_enabled()) return OK;
    reply_error(c,
                "ERR no store is configured (add loadmodule and store-path to the configuration)");
    return ERR;
}

int can_wait_or_reply(client *c) {
    if (client_can_block(c)) return OK;
    reply_errorf(c, "ERR %s cannot be used inside MULTI or a script", c->cmd->fullname);
    return ERR;
}

void sql_query_command(client *c) {
    if (store_configured_or_reply(c) != OK || can_wait_or_reply(c) != OK) return;
    persist_sql_submit(c, c->argv[1].p, c->argv[1].len, c->argc - 2, c->argv + 2, 1,
                       acl_sql_rules_copy(acl_client_user(c)));
}

/* STORE.INVALIDATION INSTALL */
void store_invalidation_command(client *c) {
    if (!arg_is(&c->argv[1], "install") || c->argc != 2) {
        reply_error(c, "ERR usage: STORE.INVALIDATION INSTALL");
        return;
    }
    if (store_configured_or_reply(c) != OK || can_wait_or_reply(c) != OK) return;
    persist_log_install(c);
}

void sql_exec_command(client *c) {
    if (store_configured_or_reply(c) != OK || can_wait_or_reply(c) != OK) return;
    persist_sql_submit(c, c->argv[1].p, c->argv[1].len, c->argc - 2, c->argv + 2, 0,
                       acl_sql_rules_copy(acl_client_user(c)));
}
