/* server/slowlog — the slow log (SLOWLOG's handlers: commands/slowlog.c).
 * Entries keep up to 32 arguments, each cut at 128 bytes, as Redis does. */
#include "server/server.h"
#include "util/mem.h"
#include <stdio.h>
#include <string.h>

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

static void entry_free(slowlog_entry *e) {
    client_free_argv_copy(&e->args);
    xfree(e->peer);
    xfree(e->name);
    xfree(e);
}

void slowlog_push_if_needed(client *c, const command *cmd, long long usec) {
    if (server.slowlog_log_slower_than < 0 || usec < server.slowlog_log_slower_than) return;
    if (cmd->flag_bits & CMD_SKIP_SLOWLOG) return;
    if (!server.slowlog.n.next) list_init(&server.slowlog);
    slowlog_entry *e = xcalloc(1, sizeof(*e));
    int argc = c->argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : c->argc;
    resp_arg tmp[SLOWLOG_MAX_ARGC];
    char more[64], cut[SLOWLOG_MAX_ARGC][SLOWLOG_MAX_ARGLEN + 48];
    for (int i = 0; i < argc; i++) {
        if (command_arg_redacted(c->argc, c->argv, i)) {
            tmp[i].p = "(redacted)";
            tmp[i].len = 10;
        } else if (argc != c->argc && i == argc - 1) {
            int n = snprintf(more, sizeof(more), "... (%d more arguments)", c->argc - argc + 1);
            tmp[i].p = more;
            tmp[i].len = (size_t)n;
        } else if (c->argv[i].len > SLOWLOG_MAX_ARGLEN) {
            int n = snprintf(cut[i], sizeof(cut[i]), "%.*s... (%zu more bytes)", SLOWLOG_MAX_ARGLEN,
                             c->argv[i].p, c->argv[i].len - SLOWLOG_MAX_ARGLEN);
            tmp[i].p = cut[i];
            tmp[i].len = (size_t)n;
        } else {
            tmp[i] = c->argv[i];
        }
    }
    argv_copy_make(&e->args, argc, tmp);
    e->id = server.slowlog_entry_id++;
    e->duration = usec;
    e->time = server.mstime / 1000;
    e->peer = xstrdup(c->addr);
    e->name = xstrdup(c->name ? c->name : "");
    list_push_front(&server.slowlog, &e->node);
    while (server.slowlog.len > server.slowlog_max_len) {
        list_node *last = server.slowlog.n.prev;
        list_remove(&server.slowlog, last);
        entry_free(list_entry(last, slowlog_entry, node));
    }
}

void slowlog_reset(void) {
    if (!server.slowlog.n.next) return;
    list_node *n;
    while ((n = list_first(&server.slowlog))) {
        list_remove(&server.slowlog, n);
        entry_free(list_entry(n, slowlog_entry, node));
    }
}

size_t slowlog_len(void) {
    return server.slowlog.n.next ? server.slowlog.len : 0;
}

const slowlog_entry *slowlog_next(const slowlog_entry *prev) {
    if (!server.slowlog.n.next) return NULL;
    list_node *n = prev ? prev->node.next : server.slowlog.n.next;
    return n == &server.slowlog.n ? NULL : list_entry(n, slowlog_entry, node);
}
