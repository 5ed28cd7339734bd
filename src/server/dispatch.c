/* server/dispatch — from a parsed request to a handler call.
 *
 * process_command() runs the checks in Redis's order (existence, arity, auth,
 * MULTI restrictions, OOM, RESP2 pub/sub context, loading, pause) and either
 * rejects with Redis's error text, queues (MULTI), or calls the handler.
 * call_command() is the one place that runs a handler and accounts for it.
 *
 * Invariants:
 *  1. Each command (and subcommand) has a unique id < server.command_count;
 *     server.cmdstats[id] are its statistics.
 *  2. kv_now_ms is set once per call_command, before the handler runs, so a
 *     command sees one consistent "now" for every expiry decision. */
#include "server/acl.h"
#include "server/server.h"
#include "server/hooks.h"
#include "server/audit.h"
#include "server/pubsub.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const void *cmd_key(const void *e, size_t *len) {
    const command *c = e;
    *len = c->name_len;
    return c->name;
}
static const dict_type cmd_dict_type = {hash_bytes_fast, cmd_key,
                                        NULL}; /* fixed names: no flooding risk */

/* Subcommand lookup tables, one per parent (indexed by parent id). */
static dict **subcmd_dicts;
static const command *exec_cmd; /* EXEC's row (process_command tests for it) */

static const struct {
    const char *name;
    uint64_t bit;
} flag_names[] = {
    {"write", CMD_WRITE},
    {"readonly", CMD_READONLY},
    {"denyoom", CMD_DENYOOM},
    {"admin", CMD_ADMIN},
    {"pubsub", CMD_PUBSUB},
    {"noscript", CMD_NOSCRIPT},
    {"blocking", CMD_BLOCKING},
    {"loading", CMD_LOADING},
    {"stale", CMD_STALE},
    {"skip_monitor", CMD_SKIP_MONITOR},
    {"skip_slowlog", CMD_SKIP_SLOWLOG},
    {"fast", CMD_FAST},
    {"no_auth", CMD_NO_AUTH},
    {"may_replicate", CMD_MAY_REPLICATE},
    {"no_multi", CMD_NO_MULTI},
    {"movablekeys", CMD_MOVABLE_KEYS},
    {"allow_busy", CMD_ALLOW_BUSY},
    {"no_mandatory_keys", CMD_NO_MANDATORY_KEYS},
    {"no_async_loading", CMD_NO_ASYNC_LOADING},
    {"touches_arbitrary_keys", CMD_TOUCHES_ARBITRARY_KEYS},
    {"sentinel", CMD_SENTINEL},
    {"only_sentinel", CMD_ONLY_SENTINEL},
    {"store", CMD_STORE},
};

const char *const acl_category_names[] = {
    "keyspace", "read",        "write",      "set",         "sortedset", "list",  "hash", "string",
    "bitmap",   "hyperloglog", "geo",        "stream",      "pubsub",    "admin", "fast", "slow",
    "blocking", "dangerous",   "connection", "transaction", "scripting", NULL};

int acl_category_bit(const char *name, size_t len) {
    for (int i = 0; acl_category_names[i]; i++)
        if (strlen(acl_category_names[i]) == len &&
            strncasecmp(acl_category_names[i], name, len) == 0)
            return i;
    return -1;
}

static uint64_t parse_flags(const char *s) {
    uint64_t bits = 0;
    while (s && *s) {
        while (*s == ' ') s++;
        size_t n = strcspn(s, " ");
        if (!n) break;
        size_t i;
        for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
            if (strlen(flag_names[i].name) == n && strncmp(flag_names[i].name, s, n) == 0) break;
        if (i == sizeof(flag_names) / sizeof(flag_names[0])) {
            fprintf(stderr, "command table: unknown flag '%.*s'\n", (int)n, s);
            assert(0);
        }
        bits |= flag_names[i].bit;
        s += n;
    }
    return bits;
}

static void add_cat(uint64_t *bits, const char *name) {
    int b = acl_category_bit(name, strlen(name));
    assert(b >= 0);
    *bits |= 1ULL << b;
}

/* ACL categories: the explicit ones, plus those Redis derives from flags. */
static uint64_t derive_acl(const command *c) {
    uint64_t bits = 0;
    const char *s = c->acl;
    while (s && *s) {
        while (*s == ' ' || *s == '@') s++;
        size_t n = strcspn(s, " ");
        if (!n) break;
        int b = acl_category_bit(s, n);
        assert(b >= 0);
        bits |= 1ULL << b;
        s += n;
    }
    if (c->flag_bits & CMD_WRITE) add_cat(&bits, "write");
    /* as Redis: scripting commands are not @read even when read-only */
    if ((c->flag_bits & CMD_READONLY) && !(bits & (1ULL << acl_category_bit("scripting", 9))))
        add_cat(&bits, "read");
    if (c->flag_bits & CMD_ADMIN) {
        add_cat(&bits, "admin");
        add_cat(&bits, "dangerous");
    }
    if (c->flag_bits & CMD_PUBSUB) add_cat(&bits, "pubsub");
    if (c->flag_bits & CMD_FAST) add_cat(&bits, "fast");
    if (c->flag_bits & CMD_BLOCKING) add_cat(&bits, "blocking");
    if (!(bits & (1ULL << acl_category_bit("fast", 4)))) add_cat(&bits, "slow");
    return bits;
}

static void register_cmd(command *c, const command *parent, int *next_id) {
    c->flag_bits = parse_flags(c->flags);
    c->name_len = (uint32_t)strlen(c->name);
    c->parent = parent;
    c->id = (*next_id)++;
    if (parent) {
        size_t n = strlen(parent->name) + strlen(c->name) + 2;
        c->fullname = xmalloc(n);
        snprintf(c->fullname, n, "%s|%s", parent->name, c->name);
        if (!c->group) c->group = parent->group;
    } else {
        c->fullname = xstrdup(c->name);
    }
    c->acl_bits = derive_acl(c);
}

void commands_init(void) {
    server.commands = dict_new(&cmd_dict_type);
    int next_id = 0, total = 0;
    for (const command *c = command_table; c->name; c++) {
        total++;
        for (const command *s = c->subcommands; s && s->name; s++) total++;
    }
    server.command_by_id = xcalloc((size_t)total, sizeof(command *));
    subcmd_dicts = xcalloc((size_t)total, sizeof(dict *));
    for (command *c = (command *)command_table; c->name; c++) {
        register_cmd(c, NULL, &next_id);
        server.command_by_id[c->id] = c;
        assert(!dict_find(server.commands, c->name, strlen(c->name)));
        dict_add(server.commands, c);
        if (c->subcommands) {
            dict *sd = dict_new(&cmd_dict_type);
            for (command *s = (command *)c->subcommands; s->name; s++) {
                register_cmd(s, c, &next_id);
                server.command_by_id[s->id] = s;
                dict_add(sd, s);
            }
            subcmd_dicts[c->id] = sd;
        }
    }
    server.command_count = next_id;
    exec_cmd = dict_find(server.commands, "exec", 4);
    server.cmdstats = xcalloc((size_t)next_id, sizeof(command_stats));
}

static const command *lookup_in(dict *d, const char *name, size_t len) {
    char buf[64];
    if (len >= sizeof(buf)) return NULL;
    for (size_t i = 0; i < len; i++) { /* ASCII only, as Redis's strcasecmp in C locale */
        unsigned char ch = (unsigned char)name[i];
        buf[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    return dict_find(d, buf, len);
}

const command *command_lookup_name(const char *name, size_t len) {
    const char *bar = memchr(name, '|', len);
    if (!bar) return lookup_in(server.commands, name, len);
    const command *p = lookup_in(server.commands, name, (size_t)(bar - name));
    if (!p || !p->subcommands) return NULL;
    return lookup_in(subcmd_dicts[p->id], bar + 1, len - (size_t)(bar - name) - 1);
}

/* The command for argv; for a container command, its subcommand (NULL when
 * the subcommand is unknown, with *sub_missing set). */
const command *command_lookup(const resp_arg *argv, int argc, int *sub_missing) {
    *sub_missing = 0;
    const command *c = lookup_in(server.commands, argv[0].p, argv[0].len);
    if (!c || !c->subcommands) return c;
    if (argc < 2) return c; /* arity error reported on the container */
    const command *s = lookup_in(subcmd_dicts[c->id], argv[1].p, argv[1].len);
    if (!s) *sub_missing = 1;
    return s ? s : c;
}

/* ---- key positions ---------------------------------------------------------- */

int command_keys(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    if (cmd->getkeys) return cmd->getkeys(cmd, argc, argv, keys, max);
    if (cmd->first_key <= 0) return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc && n < max;
         i += cmd->key_step ? cmd->key_step : 1)
        keys[n++] = i;
    return n;
}

/* ---- rejecting ------------------------------------------------------------ */

/* As Redis's rejectCommand: inside MULTI the transaction is flagged, and an
 * EXEC that is itself rejected discards it with EXECABORT and the reason. */
static void reject(client *c, const command *cmd, const char *msg) {
    if (cmd) server.cmdstats[cmd->id].rejected_calls++;
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, msg);
        return;
    }
    c->flags |= CLIENT_DIRTY_EXEC;
    if (cmd && cmd->proc && strcmp(cmd->name, "exec") == 0) {
        multi_discard(c);
        char buf[512];
        snprintf(buf, sizeof buf, "EXECABORT Transaction discarded because of: %s",
                 msg[0] == '-' ? msg + 1 : msg);
        reply_error(c, buf);
        return;
    }
    reply_error(c, msg);
}

static void reject_unknown(client *c) {
    sbuf args = SBUF_INIT;
    for (int i = 1; i < c->argc && args.len < 128; i++)
        sbuf_printf(&args, "'%.*s' ",
                    (int)(c->argv[i].len > 128 - args.len ? 128 - args.len : c->argv[i].len),
                    c->argv[i].p);
    char *msg;
    sbuf m = SBUF_INIT;
    sbuf_printf(&m, "ERR unknown command '%.128s', with args beginning with: %s", c->argv[0].p,
                args.p ? args.p : "");
    msg = m.p;
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    reply_error(c, msg);
    sbuf_free(&m);
    sbuf_free(&args);
}

/* p (len bytes, any case) equals the lowercase name; ASCII case folding,
 * as the table lookup. */
static int same_name(const char *p, const char *lower, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch >= 'A' && ch <= 'Z' ? ch + 32 : ch) != (unsigned char)lower[i]) return 0;
    }
    return 1;
}

/* The client's previous command again (a pipeline repeats one command: the
 * table lookup lowercases and hashes the name, 6% of GET at depth 16), else
 * the table's answer. Only a top-level command without subcommands. */
static const command *lookup_repeated(client *c, int *sub_missing) {
    const command *last = c->lastcmd;
    if (last && !last->parent && !last->subcommands && c->argv[0].len == last->name_len &&
        same_name(c->argv[0].p, last->name, last->name_len)) {
        *sub_missing = 0;
        return last;
    }
    return command_lookup(c->argv, c->argc, sub_missing);
}

static int arity_ok(const command *cmd, int argc) {
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

void process_command(client *c) {
    /* Security: HTTP-looking requests are cross-protocol attacks. */
    size_t len0 = c->argv[0].len;
    if ((len0 == 5 && same_name(c->argv[0].p, "host:", 5)) ||
        (len0 == 4 && same_name(c->argv[0].p, "post", 4))) {
        server_log(
            LL_WARNING,
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: "
            "commands to Redis. This is likely due to an attacker attempting to use Cross Protocol "
            "Scripting to compromise your Redis instance. Connection aborted.");
        client_close_async(c);
        return;
    }
    int sub_missing;
    const command *cmd = lookup_repeated(c, &sub_missing);
    c->cmd = cmd;
    c->lastcmd = sub_missing ? NULL : cmd; /* CLIENT LIST's cmd= names the running command */
    if (!cmd) {
        reject_unknown(c);
        return;
    }
    if (sub_missing) {
        char upper[64];
        size_t i;
        for (i = 0; cmd->name[i] && i < sizeof(upper) - 1; i++)
            upper[i] = (char)toupper(cmd->name[i]);
        upper[i] = 0;
        char msg[512];
        snprintf(msg, sizeof(msg), "ERR unknown subcommand '%.128s'. Try %s HELP.", c->argv[1].p,
                 upper);
        reject(c, NULL, msg);
        return;
    }
    if (!arity_ok(cmd, c->argc)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    if (!(c->flags & CLIENT_AUTHENTICATED) && !(cmd->flag_bits & CMD_NO_AUTH) &&
        acl_auth_required(c)) {
        audit_denied(c, "NOAUTH Authentication required.");
        reject(c, cmd, "NOAUTH Authentication required.");
        return;
    }
    if ((c->flags & CLIENT_MULTI) && (cmd->flag_bits & CMD_NO_MULTI)) {
        reject(c, cmd, "ERR Command not allowed inside a transaction");
        return;
    }
    if (c->user != acl_fast_user) { /* the default user with every right skips this */
        int ctx = (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL;
        int r = acl_check_client(c, cmd, c->argc, c->argv, ctx);
        if (r != ACL_OK) {
            char buf[256];
            reject(c, cmd, acl_denied_text(r, cmd, buf, sizeof(buf)));
            return;
        }
    }
    int is_exec = cmd == exec_cmd;
    if (server.maxmemory && !server.in_script) {
        server.clock_carried = 0; /* eviction may take a while: read the clock again */
        int oom = evict_perform() == ERR;
        int denyoom = (cmd->flag_bits & CMD_DENYOOM) != 0;
        if (is_exec && (c->flags & CLIENT_MULTI)) {
            for (int i = 0; i < c->mcount; i++)
                if (c->mqueue[i].cmd->flag_bits & CMD_DENYOOM) denyoom = 1;
        }
        if (oom && denyoom) {
            reject(c, cmd, "-OOM command not allowed when used memory > 'maxmemory'.");
            return;
        }
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !pubsub_context_allows(cmd)) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    if (server.loading && !(cmd->flag_bits & CMD_LOADING)) {
        reject(c, cmd, "LOADING Larder is loading the dataset in memory");
        return;
    }
    if (server.script_busy_error && !(cmd->flag_bits & CMD_ALLOW_BUSY)) {
        reject(c, cmd, server.script_busy_error); /* a slow script runs */
        return;
    }
    /* One "now" for the persistence check and the command: a read-through
     * key the check found alive (a hit, so no load) must not expire before
     * the handler reads it, or the client would get nil for an existing row. */
    server_command_time();
    if (!hooks.allow_command(c, cmd)) return; /* replied or parked it */
    if ((c->flags & CLIENT_MULTI) && !is_exec && strcmp(cmd->name, "discard") != 0 &&
        strcmp(cmd->name, "multi") != 0 && strcmp(cmd->name, "watch") != 0 &&
        strcmp(cmd->name, "quit") != 0 && strcmp(cmd->name, "reset") != 0) {
        multi_queue_command(c);
        return;
    }
    if (pause_should_wait(c, cmd)) return; /* parked until the pause ends */
    int pinned = server.clock_pinned;
    server.clock_pinned = 1;
    server.clock_fresh = 1; /* call_command starts its timing from the reading above */
    call_command(c, cmd);
    server.clock_pinned = pinned;
    if (!pinned) { /* the next command of this loop turn may start from the end reading */
        server.ustime = server.last_call_end_us;
        server.mstime = server.ustime / 1000;
        server.clock_carried = 1;
    }
    /* As Redis: clients blocked on keys this command made ready are served
     * before the next command runs (the next one of a pipeline included). */
    if (server.ready_keys && !list_empty(&server.ready_list)) {
        handle_clients_blocked_on_keys();
        server.clock_carried = 0; /* their commands ran after the carried reading */
    }
}

void call_command(client *c, const command *cmd) {
    long long errors_before = server.stat_total_error_replies;
    /* One clock reading less per command: the one process_command just took
     * (clock_gettime was 12% of the profile of LPOP -P 16 on this VM); the
     * other is the time-stamp counter's (util/clock.h: clock_fast_us). */
    int64_t start = server.clock_fresh ? server.ustime : clock_fast_us();
    server.clock_fresh = 0;
    if (!server.clock_pinned) {
        server.ustime = start;
        server.mstime = start / 1000;
    }
    if (!server.in_script) kv_now_ms = server.mstime; /* a script sees one "now" throughout */
    const command *saved = c->cmd;
    c->cmd = cmd;
    client *prev_exec = server.executing_client;
    server.executing_client = c;
    int audited = audit_command_class(c, cmd);
    cmd->proc(c);
    if (audited)
        audit_command_done(c, cmd, audited, server.stat_total_error_replies > errors_before);
    server.executing_client = prev_exec;
    server.last_call_end_us = clock_fast_us();
    /* the start may be a wall reading a little ahead of the counter's */
    long long dur = server.last_call_end_us > start ? server.last_call_end_us - start : 0;
    command_stats *st = &server.cmdstats[cmd->id];
    /* EXEC and blocked commands account on their own terms, like Redis. */
    if (!(c->flags & CLIENT_BLOCKED) || c->bstate.type == BLOCKED_STORE) {
        st->calls++;
        st->usec += dur;
        /* Errors of nested commands (a script's redis.call) were counted by
         * those commands: only errors after the last of them fail this one. */
        if (server.stat_error_checkpoint > errors_before)
            errors_before = server.stat_error_checkpoint;
        if (server.stat_total_error_replies > errors_before) st->failed_calls++;
        server.stat_numcommands++;
        if (server.latency_tracking) latency_hist_record(&st->hist, dur * 1000);
    }
    if (server.latency_monitor_threshold)
        latency_add_sample_if_needed((cmd->flag_bits & CMD_FAST) ? "fast-command" : "command",
                                     dur / 1000);
    /* A blocked command was shown when it first ran; admin commands never are. */
    if (!(cmd->flag_bits & (CMD_SKIP_MONITOR | CMD_ADMIN)) && !blocked_is_reprocessing())
        monitor_feed(c, c->argc, c->argv);
    server.stat_error_checkpoint = server.stat_total_error_replies;
    slowlog_push_if_needed(c, cmd, dur);
    tracking_after_command(c, cmd);
    hooks.after_command(c, cmd);
    c->cmd = saved ? saved : cmd;
    /* CLIENT REPLY SKIP applies to the next command only */
    if (c->flags & CLIENT_REPLY_SKIP) c->flags &= ~(uint64_t)CLIENT_REPLY_SKIP;
    if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
        c->flags &= ~(uint64_t)CLIENT_REPLY_SKIP_NEXT;
        c->flags |= CLIENT_REPLY_SKIP;
    }
}
