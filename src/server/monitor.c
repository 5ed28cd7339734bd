/* server/monitor — MONITOR: every command the server runs, shown to the
 * clients in monitor mode as Redis prints it:
 *
 *   +1700000000.123456 [0 127.0.0.1:50312] "set" "foo" "bar"
 *
 * "[db lua]" for a command a script ran, "[db unix:PATH]" for a client on
 * the unix socket. Arguments that carry secrets (AUTH's, HELLO's AUTH pair,
 * ACL SETUSER's rules, MIGRATE's AUTH/AUTH2) are shown as "(redacted)", here
 * and in SLOWLOG. Who feeds: call_command
 * after a command ran (not for admin or skip_monitor commands, nor for a
 * blocked command's re-run), the script commands before they run (so that a
 * script's commands follow it), and EXEC when it aborts. */
#include "server/server.h"
#include "util/clock.h"
#include "util/mem.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

void monitor_add(client *c) {
    if (c->flags & CLIENT_MONITOR) return;
    if (!server.monitors.n.next) list_init(&server.monitors);
    c->flags |= CLIENT_MONITOR;
    list_push_back(&server.monitors, &c->monitor_node);
}

void monitor_remove(client *c) {
    if (!(c->flags & CLIENT_MONITOR)) return;
    list_remove(&server.monitors, &c->monitor_node);
    c->flags &= ~(uint64_t)CLIENT_MONITOR;
}

int command_arg_redacted(int argc, const resp_arg *argv, int i) {
    if (i == 0) return 0;
    if (arg_is(&argv[0], "auth")) return 1;
    if (arg_is(&argv[0], "acl") && argc > 1 && arg_is(&argv[1], "setuser") && i >= 2) return 1;
    if (arg_is(&argv[0], "hello")) {
        for (int j = 2; j + 2 < argc; j++)
            if (arg_is(&argv[j], "auth") && (i == j + 1 || i == j + 2)) return 1;
        return 0;
    }
    if (arg_is(&argv[0], "migrate")) {
        for (int j = 6; j < argc; j++) {
            if (arg_is(&argv[j], "keys")) break;
            if (arg_is(&argv[j], "auth") && i == j + 1) return 1;
            if (arg_is(&argv[j], "auth2") && (i == j + 1 || i == j + 2)) return 1;
        }
    }
    return 0;
}

void monitor_feed(client *c, int argc, const resp_arg *argv) {
    if (!server.monitors.n.next || list_empty(&server.monitors)) return;
    int64_t us = clock_ustime();
    sbuf b = SBUF_INIT;
    int dbid = c->db ? c->db->id : 0;
    sbuf_printf(&b, "+%lld.%06lld ", (long long)(us / 1000000), (long long)(us % 1000000));
    if (c->flags & CLIENT_FAKE)
        sbuf_printf(&b, "[%d lua] ", dbid);
    else if (c->flags & CLIENT_UNIX_SOCKET)
        sbuf_printf(&b, "[%d unix:%s] ", dbid, server.unixsocket ? server.unixsocket : "");
    else
        sbuf_printf(&b, "[%d %s] ", dbid, c->addr);
    for (int i = 0; i < argc; i++) {
        if (i) sbuf_puts(&b, " ");
        if (command_arg_redacted(argc, argv, i))
            sbuf_puts(&b, "\"(redacted)\"");
        else
            sbuf_append_repr(&b, argv[i].p, argv[i].len);
    }
    sbuf_puts(&b, "\r\n");
    list_node *n;
    list_for_each(n, &server.monitors) {
        client *m = list_entry(n, client, monitor_node);
        reply_raw(m, b.p, b.len);
    }
    sbuf_free(&b);
}
