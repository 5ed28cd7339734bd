/* server/slowlog — SLOWLOG GET/LEN/RESET/HELP and the log itself.
 * Entries keep up to 32 arguments, each cut at 128 bytes, as Redis does. */
#include "commands/handlers.h"
#include "util/mem.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

typedef struct slowlog_entry {
    list_node node;
    long long id, duration;
    int64_t time;
    argv_copy args;
    char *peer, *name;
} slowlog_entry;

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
        if (argc != c->argc && i == argc - 1) {
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

static void slowlog_reset(void) {
    if (!server.slowlog.n.next) return;
    list_node *n;
    while ((n = list_first(&server.slowlog))) {
        list_remove(&server.slowlog, n);
        entry_free(list_entry(n, slowlog_entry, node));
    }
}

void slowlog_get_command(client *c) {
    long long count = 10;
    if (c->argc == 3 &&
        arg_long_range_or_reply(c, &c->argv[2], -1, LONG_MAX, &count,
                                "ERR count should be greater than or equal to -1") != OK)
        return;
    if (count == -1) count = LONG_MAX;
    if (!server.slowlog.n.next) list_init(&server.slowlog);
    long n = (long)(server.slowlog.len < (size_t)count ? server.slowlog.len : (size_t)count);
    reply_array(c, n);
    list_node *ln;
    long i = 0;
    list_for_each(ln, &server.slowlog) {
        if (i++ >= n) break;
        slowlog_entry *e = list_entry(ln, slowlog_entry, node);
        reply_array(c, 6);
        reply_int(c, e->id);
        reply_int(c, e->time);
        reply_int(c, e->duration);
        reply_array(c, e->args.argc);
        for (int j = 0; j < e->args.argc; j++)
            reply_bulk(c, e->args.argv[j].p, e->args.argv[j].len);
        reply_bulk_cstr(c, e->peer);
        reply_bulk_cstr(c, e->name);
    }
}

void slowlog_len_command(client *c) {
    reply_int(c, server.slowlog.n.next ? (long long)server.slowlog.len : 0);
}

void slowlog_reset_command(client *c) {
    slowlog_reset();
    reply_ok(c);
}

void slowlog_help_command(client *c) {
    static const char *const help[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL};
    reply_help(c, "slowlog", help);
}
