/* commands/connection — PING ECHO SELECT QUIT RESET HELLO AUTH and CLIENT *. */
#include "commands/commands.h"
#include "server/acl.h"
#include "util/mem.h"
#include <limits.h>
#include <string.h>

void ping_command(client *c) {
    if (c->argc > 2) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) {
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc == 1)
            reply_bulk(c, "", 0);
        else
            reply_bulk(c, c->argv[1].p, c->argv[1].len);
        return;
    }
    if (c->argc == 1)
        reply_status(c, "PONG");
    else
        reply_bulk(c, c->argv[1].p, c->argv[1].len);
}

void echo_command(client *c) {
    reply_bulk(c, c->argv[1].p, c->argv[1].len);
}

void select_command(client *c) {
    long long id;
    if (arg_long_range_or_reply(c, &c->argv[1], INT_MIN, INT_MAX, &id, ERR_NOT_INT) != OK) return;
    if (select_db(c, id) != OK) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    reply_ok(c);
}

void quit_command(client *c) {
    reply_ok(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

void auth_command(client *c) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    resp_arg def = {"default", 7, 0};
    const resp_arg *user = c->argc == 3 ? &c->argv[1] : &def, *pass = &c->argv[c->argc - 1];
    if (c->argc == 2 && acl_default_nopass()) {
        reply_error(c, "ERR AUTH <password> called without any password configured for the default "
                       "user. Are you sure your configuration is correct?");
        return;
    }
    if (acl_authenticate(c, user, pass) == OK)
        reply_ok(c);
    else
        reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
}

static int valid_client_name(const resp_arg *a) {
    for (size_t i = 0; i < a->len; i++)
        if (a->p[i] < '!' || a->p[i] > '~') return 0;
    return 1;
}

static int setname_or_reply(client *c, const resp_arg *name) {
    if (!valid_client_name(name)) {
        reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
        return ERR;
    }
    client_set_name(c, name->p, name->len);
    return OK;
}

void hello_command(client *c) {
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (arg_ll_or_reply(c, &c->argv[next++], &ver,
                            "ERR Protocol version is not an integer or out of range") != OK)
            return;
        if (ver < 2 || ver > 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_is(&c->argv[j], "auth") && more >= 2) {
            if (acl_authenticate(c, &c->argv[j + 1], &c->argv[j + 2]) != OK) {
                reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            j += 2;
        } else if (arg_is(&c->argv[j], "setname") && more) {
            if (setname_or_reply(c, &c->argv[j + 1]) != OK) return;
            j++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%s'", c->argv[j].p);
            return;
        }
    }
    if (acl_auth_required(c)) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                       "the client and select the RESP protocol version at the same time");
        return;
    }
    if (ver) c->resp = (int)ver;
    reply_map(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, LARDER_VERSION);
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_empty_array(c);
}

void reset_command(client *c) {
    multi_discard(c);
    watch_unwatch_all(c);
    c->db = server_db(0);
    c->resp = 2;
    tracking_disable(c);
    pubsub_unsubscribe_all(c, 0);
    monitor_remove(c);
    c->flags &= ~(uint64_t)(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT |
                            CLIENT_NO_EVICT | CLIENT_NO_TOUCH | CLIENT_PUBSUB);
    client_set_name(c, NULL, 0);
    acl_client_init(c);
    reply_status(c, "RESET");
}

/* ---- CLIENT ------------------------------------------------------------------------ */

void client_command(client *c) {
    reply_subcommand_syntax_error(c);
}

void client_help_command(client *c) {
    static const char *const help[] = {
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        NULL};
    reply_help(c, "client", help);
}

void client_id_command(client *c) {
    reply_int(c, (long long)c->id);
}

void client_setname_command(client *c) {
    if (setname_or_reply(c, &c->argv[2]) == OK) reply_ok(c);
}

void client_getname_command(client *c) {
    if (c->name)
        reply_bulk_cstr(c, c->name);
    else
        reply_null(c);
}

void client_setinfo_command(client *c) {
    const resp_arg *attr = &c->argv[2], *val = &c->argv[3];
    int is_name = arg_is(attr, "lib-name");
    if (!is_name && !arg_is(attr, "lib-ver")) {
        reply_errorf(c, "ERR Unrecognized option '%s'", attr->p);
        return;
    }
    for (size_t i = 0; i < val->len; i++) {
        if (val->p[i] < '!' || val->p[i] > '~') {
            reply_errorf(c, "ERR %s cannot contain spaces, newlines or special characters.",
                         is_name ? "lib-name" : "lib-ver");
            return;
        }
    }
    char **slot = is_name ? &c->lib_name : &c->lib_ver;
    xfree(*slot);
    *slot = val->len ? xmemdup(val->p, val->len) : NULL;
    reply_ok(c);
}

static int client_type_by_name(const char *s, size_t len) {
    if (str_eq_nocase(s, len, "normal")) return 0;
    if (str_eq_nocase(s, len, "slave") || str_eq_nocase(s, len, "replica")) return 1;
    if (str_eq_nocase(s, len, "pubsub")) return 2;
    if (str_eq_nocase(s, len, "master")) return 3;
    return -1;
}

static int client_type_of(const client *c) {
    return (c->flags & CLIENT_PUBSUB) ? 2 : 0;
}

void client_list_command(client *c) {
    int type = -1;
    uint64_t *ids = NULL;
    int nids = 0;
    if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
        type = client_type_by_name(c->argv[3].p, c->argv[3].len);
        if (type == -1) {
            reply_errorf(c, "ERR Unknown client type '%s'", c->argv[3].p);
            return;
        }
    } else if (c->argc > 3 && arg_is(&c->argv[2], "id")) {
        ids = xmalloc(sizeof(uint64_t) * (size_t)(c->argc - 3));
        for (int j = 3; j < c->argc; j++) {
            long long id;
            if (arg_long_range_or_reply(c, &c->argv[j], 1, LLONG_MAX, &id,
                                        "ERR Invalid client ID") != OK) {
                xfree(ids);
                return;
            }
            ids[nids++] = (uint64_t)id;
        }
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    sbuf b = SBUF_INIT;
    if (ids) {
        for (int i = 0; i < nids; i++) {
            client *o = client_by_id(ids[i]);
            if (o) client_info_string(&b, o), sbuf_append(&b, "\n", 1);
        }
    } else {
        list_node *n;
        list_for_each(n, server_clients()) {
            client *o = list_entry(n, client, node);
            if (type != -1 && client_type_of(o) != type) continue;
            client_info_string(&b, o);
            sbuf_append(&b, "\n", 1);
        }
    }
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    sbuf_free(&b);
    xfree(ids);
}

void client_info_command(client *c) {
    sbuf b = SBUF_INIT;
    client_info_string(&b, c);
    sbuf_append(&b, "\n", 1);
    reply_verbatim(c, b.p, b.len, "txt");
    sbuf_free(&b);
}

void client_info_string(sbuf *b, client *c) {
    char flags[24], *p = flags;
    if (c->flags & CLIENT_PUBSUB) *p++ = 'P';
    if (c->flags & CLIENT_MULTI) *p++ = 'x';
    if (c->flags & CLIENT_BLOCKED) *p++ = 'b';
    if (c->flags & CLIENT_TRACKING) *p++ = 't';
    if (c->flags & CLIENT_TRACKING_BROKEN_REDIR) *p++ = 'R';
    if (c->flags & CLIENT_TRACKING_BCAST) *p++ = 'B';
    if (c->flags & CLIENT_DIRTY_CAS) *p++ = 'd';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (c->flags & CLIENT_UNBLOCKED) *p++ = 'u';
    if (c->flags & CLIENT_CLOSE_ASAP) *p++ = 'A';
    if (c->flags & CLIENT_UNIX_SOCKET) *p++ = 'U';
    if (c->flags & CLIENT_NO_EVICT) *p++ = 'e';
    if (c->flags & CLIENT_NO_TOUCH) *p++ = 'T';
    if (p == flags) *p++ = 'N';
    *p = '\0';
    char events[3], *e = events;
    if (c->fd >= 0) {
        *e++ = 'r';
        if (ev_is_active(&c->wio)) *e++ = 'w';
    }
    *e = '\0';
    size_t obuf = 0, oll = 0;
    for (reply_block *r = c->rhead; r; r = r->next) {
        if (!r->used) continue; /* the block kept for the next reply (Redis's static buffer) */
        obuf += r->size;
        oll++;
    }
    size_t argv_mem = 0;
    for (int i = 0; i < c->argc; i++) argv_mem += c->argv[i].len;
    size_t multi_mem = 0;
    for (int i = 0; i < c->mcount; i++)
        for (int j = 0; j < c->mqueue[i].args.argc; j++) multi_mem += c->mqueue[i].args.argv[j].len;
    size_t tot = sizeof(client) + c->qcap + obuf + argv_mem + multi_mem;
    long long age = (server_mstime() - c->ctime_ms) / 1000,
              idle = (server_mstime() - c->last_interaction_ms) / 1000;
    sbuf_printf(b,
                "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d "
                "psub=%d ssub=%d multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu "
                "rbs=%zu rbp=%zu obl=%zu oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s "
                "user=%s redir=%lld resp=%d lib-name=%s lib-ver=%s",
                (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "", age,
                idle, flags, c->db->id, c->pubsub_channels ? (int)dict_size(c->pubsub_channels) : 0,
                c->pubsub_patterns ? (int)dict_size(c->pubsub_patterns) : 0,
                c->pubsub_shard_channels ? (int)dict_size(c->pubsub_shard_channels) : 0,
                (c->flags & CLIENT_MULTI) ? c->mcount : -1, c->qlen, c->qcap - c->qlen, argv_mem,
                multi_mem, c->rhead ? c->rhead->size : (size_t)0, c->qpeak,
                c->rhead ? c->rhead->used : (size_t)0, oll, obuf, tot, events,
                c->lastcmd ? c->lastcmd->fullname : "NULL", acl_user_name(c->user),
                (c->flags & CLIENT_TRACKING) ? (long long)c->tracking_redirect : -1LL, c->resp,
                c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

typedef struct kill_filter {
    const char *addr, *laddr;
    int type, skipme;
    uint64_t id;
    acl_user *user;
} kill_filter;

static int kill_parse(client *c, kill_filter *f) {
    memset(f, 0, sizeof(*f));
    f->type = -1;
    f->skipme = 1;
    if (c->argc == 3) {
        f->addr = c->argv[2].p;
        f->skipme = 0;
        return OK;
    }
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
        const resp_arg *o = &c->argv[i], *v = &c->argv[i + 1];
        if (arg_is(o, "id")) {
            long long id;
            if (arg_long_range_or_reply(c, v, 1, LLONG_MAX, &id,
                                        "ERR client-id should be greater than 0") != OK)
                return ERR;
            f->id = (uint64_t)id;
        } else if (arg_is(o, "type")) {
            if ((f->type = client_type_by_name(v->p, v->len)) == -1) {
                reply_errorf(c, "ERR Unknown client type '%s'", v->p);
                return ERR;
            }
        } else if (arg_is(o, "addr")) {
            f->addr = v->p;
        } else if (arg_is(o, "laddr")) {
            f->laddr = v->p;
        } else if (arg_is(o, "user")) {
            if (!(f->user = acl_user_find(v->p, v->len))) {
                reply_errorf(c, "ERR No such user '%s'", v->p);
                return ERR;
            }
        } else if (arg_is(o, "skipme")) {
            if (arg_is(v, "yes"))
                f->skipme = 1;
            else if (arg_is(v, "no"))
                f->skipme = 0;
            else {
                reply_error(c, ERR_SYNTAX);
                return ERR;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

void client_kill_command(client *c) {
    kill_filter f;
    if (kill_parse(c, &f) != OK) return;
    long long killed = 0;
    int close_self = 0;
    list_node *n, *t;
    list_for_each_safe(n, t, server_clients()) {
        client *o = list_entry(n, client, node);
        if (f.addr && strcmp(o->addr, f.addr) != 0) continue;
        if (f.laddr && strcmp(o->laddr, f.laddr) != 0) continue;
        if (f.type != -1 && client_type_of(o) != f.type) continue;
        if (f.id && o->id != f.id) continue;
        if (f.user && o->user != f.user) continue;
        if (o == c && f.skipme) continue;
        if (o == c)
            close_self = 1;
        else
            client_close_async(o);
        killed++;
    }
    if (c->argc == 3) {
        if (killed == 0)
            reply_error(c, "ERR No such client");
        else
            reply_ok(c);
    } else {
        reply_int(c, killed);
    }
    if (close_self) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

void client_reply_command(client *c) {
    const resp_arg *a = &c->argv[2];
    if (arg_is(a, "on")) {
        c->flags &= ~(uint64_t)(CLIENT_REPLY_SKIP | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP_NEXT);
        reply_ok(c);
    } else if (arg_is(a, "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (arg_is(a, "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

static void on_off_flag(client *c, uint64_t flag) {
    if (arg_is(&c->argv[2], "on")) {
        c->flags |= flag;
        reply_ok(c);
    } else if (arg_is(&c->argv[2], "off")) {
        c->flags &= ~flag;
        reply_ok(c);
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

void client_no_evict_command(client *c) {
    on_off_flag(c, CLIENT_NO_EVICT);
}
void client_no_touch_command(client *c) {
    on_off_flag(c, CLIENT_NO_TOUCH);
}

void client_unblock_command(client *c) {
    int as_error = 0;
    if (c->argc == 4) {
        if (arg_is(&c->argv[3], "timeout"))
            as_error = 0;
        else if (arg_is(&c->argv[3], "error"))
            as_error = 1;
        else {
            reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    long long id;
    if (arg_ll_or_reply(c, &c->argv[2], &id, NULL) != OK) return;
    client *t = client_by_id((uint64_t)id);
    int type = t ? t->bstate.type : BLOCKED_NONE;
    if (t && (t->flags & CLIENT_BLOCKED) && type != BLOCKED_PAUSE && type != BLOCKED_STORE) {
        long long errors_before = server_error_replies();
        if (as_error)
            reply_error(t, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        else if (t->bstate.on_timeout)
            t->bstate.on_timeout(t);
        else
            reply_null_array(t);
        if (type == BLOCKED_LIST || type == BLOCKED_ZSET || type == BLOCKED_STREAM)
            blocked_account(t, errors_before, 0);
        unblock_client(t);
        reply_int(c, 1);
    } else {
        reply_int(c, 0);
    }
}

void client_pause_command(client *c) {
    int write_only = 0;
    if (c->argc == 4) {
        if (arg_is(&c->argv[3], "write"))
            write_only = 1;
        else if (!arg_is(&c->argv[3], "all")) {
            reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (arg_ll_or_reply(c, &c->argv[2], &ms, "ERR timeout is not an integer or out of range") != OK)
        return;
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    pause_set(server_mstime() + ms, write_only);
    reply_ok(c);
}

void client_unpause_command(client *c) {
    pause_end();
    reply_ok(c);
}
