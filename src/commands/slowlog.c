/* commands/slowlog — SLOWLOG GET/LEN/RESET/HELP over the server's slow log
 * (server/slowlog.c). */
#include "commands/commands.h"
#include <limits.h>

void slowlog_get_command(client *c) {
    long long count = 10;
    if (c->argc == 3 &&
        arg_long_range_or_reply(c, &c->argv[2], -1, LONG_MAX, &count,
                                "ERR count should be greater than or equal to -1") != OK)
        return;
    if (count == -1) count = LONG_MAX;
    size_t len = slowlog_len();
    long n = (long)(len < (size_t)count ? len : (size_t)count);
    reply_array(c, n);
    const slowlog_entry *e = NULL;
    for (long i = 0; i < n && (e = slowlog_next(e)); i++) {
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
    reply_int(c, (long long)slowlog_len());
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
