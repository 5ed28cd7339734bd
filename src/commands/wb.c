/* commands/wb — write-behind's commands, and SAVE.
 *
 *   WB.FLUSH                       reply once every pending key is in the store
 *   WB.DEADLETTER LIST [count]     rows the store refused for good, with their error
 *   WB.DEADLETTER RETRY id|ALL     write them again; those that go through leave
 *   WB.DEADLETTER DROP id|ALL      forget them */
#include "commands/commands.h"
#include "persist/persist_api.h"

/* SAVE: Larder's data on disk is the store, so saving means writing every
 * pending write-behind key to it (WB.FLUSH); without a store there is
 * nothing to save. */
void save_command(client *c) {
    server_note_save();
    if (!persist_enabled()) {
        reply_ok(c);
        return;
    }
    persist_wb_flush(c);
}

void wb_flush_command(client *c) {
    if (!persist_enabled()) {
        reply_error(c, "ERR no store is configured (loadmodule)");
        return;
    }
    persist_wb_flush(c);
}

static int entry_id_or_reply(client *c, const resp_arg *a, long long *id) {
    *id = 0;
    if (arg_is(a, "all")) return OK;
    return arg_positive_or_reply(c, a, id, "ERR dead-letter id must be a positive integer or ALL");
}

void wb_deadletter_command(client *c) {
    if (store_configured_or_reply(c) != OK || can_wait_or_reply(c) != OK) return;
    const resp_arg *sub = &c->argv[1];
    long long n = 100;
    if (arg_is(sub, "list") && (c->argc == 2 || c->argc == 3)) {
        if (c->argc == 3 && arg_positive_or_reply(c, &c->argv[2], &n, NULL) != OK) return;
        persist_deadletter_list(c, n);
    } else if (arg_is(sub, "retry") && c->argc == 3) {
        if (entry_id_or_reply(c, &c->argv[2], &n) != OK) return;
        persist_deadletter_retry(c, n);
    } else if (arg_is(sub, "drop") && c->argc == 3) {
        if (entry_id_or_reply(c, &c->argv[2], &n) != OK) return;
        persist_deadletter_drop(c, n);
    } else {
        reply_error(c, "ERR usage: WB.DEADLETTER LIST [count] | RETRY id|ALL | DROP id|ALL");
    }
}
