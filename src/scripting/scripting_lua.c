/* scripting/scripting_lua — the embedded Lua 5.1 engine behind EVAL and FCALL.
 *
 * What lives here: creating a sandboxed Lua state (the libraries Redis offers:
 * base, table, string, math, cjson, bit, cmsgpack and struct (scripting_msgpack.c,
 * scripting_struct.c); no os/io/package/loadfile/dofile/
 * print), the `redis` API table (call, pcall, log, setresp, sha1hex,
 * error_reply, status_reply, set_repl, replicate_commands, acl_check_cmd...),
 * the two conversions (a Lua value -> the caller's reply; a command's RESP
 * reply -> a Lua value, read with resp/reply.h from the fake client's reply
 * blocks) and running one script with the count hook that enforces
 * busy-reply-threshold.
 *
 * Redis 7 patches its Lua with "readonly tables". Debian's stock liblua5.1
 * has none, so the sandbox is built from metatables instead:
 *
 *     globals seen by scripts = P (empty)   --__index-->  real_G  --__index--> error
 *     P.__newindex, proxy.__newindex  -> "Attempt to modify a readonly table"
 *     every library table in real_G is replaced by such an empty proxy
 *     rawset / setmetatable on a proxy, setfenv(0, ...) -> the same error
 *     getmetatable(proxy) -> a proxy of its metatable (so writes to it fail)
 *     loadstring/load refuse precompiled (binary) chunks
 *
 * Reads of a missing global raise "Script attempted to access nonexistent
 * global variable 'x'". What differs from Redis: pairs()/next() over a
 * protected table see nothing (the proxy is empty).
 *
 * Invariants:
 *  1. script_current != NULL exactly while a script runs; redis.call outside
 *     of it is an error (no command runs from library-load time code).
 *  2. The fake client's reply blocks are empty between two redis.call()s.
 *  3. No C function here leaves the Lua stack unbalanced on return paths
 *     that do not raise. */
#include "scripting/scripting.h"
#include "server/acl.h"
#include "resp/reply.h"
#include "util/clock.h"
#include "util/mem.h"
#include <lua-bitop.h>
#include <lua-cjson.h>
#include <limits.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RO_ERROR "Attempt to modify a readonly table"
#define REG_REAL_G "larder.real_G"
#define REG_PROTECTED "larder.protected"
#define REG_ERRH "larder.errh"
#define REG_LIB_API "larder.lib_api"

static client *fake;

client *sl_fake_client(void) {
    if (!fake) fake = client_create(-1, CLIENT_FAKE | CLIENT_AUTHENTICATED | CLIENT_DENY_BLOCKING);
    return fake;
}

/* ---- errors as Lua values ------------------------------------------------------ */

/* Pushes {err="CODE msg"} as Redis's luaPushErrorBuff does: "-CODE msg" keeps
 * its code, a message without '-' gets "ERR"; trailing CR/LF trimmed. */
static void push_error_table(lua_State *L, const char *e, size_t len) {
    sbuf b = SBUF_INIT;
    if (len && e[0] == '-') {
        const char *sp = memchr(e, ' ', len);
        if (!sp) {
            sbuf_append(&b, "ERR ", 4);
            sbuf_append(&b, e + 1, len - 1);
        } else {
            sbuf_append(&b, e + 1, (size_t)(sp - e) - 1);
            sbuf_append(&b, " ", 1);
            sbuf_append(&b, sp + 1, len - (size_t)(sp - e) - 1);
        }
    } else {
        sbuf_append(&b, "ERR ", 4);
        sbuf_append(&b, e, len);
    }
    while (b.len && (b.p[b.len - 1] == '\r' || b.p[b.len - 1] == '\n')) b.len--;
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    lua_settable(L, -3);
    sbuf_free(&b);
}

static void push_error(lua_State *L, const char *e) {
    push_error_table(L, e, strlen(e));
}

static void mark_ignore_stats(lua_State *L) {
    lua_pushstring(L, "ignore_error_stats_update");
    lua_pushboolean(L, 1);
    lua_settable(L, -3);
}

/* ---- RESP reply -> Lua ------------------------------------------------------------ */

static int reply_to_lua(lua_State *L, resp_reply_reader *r);

static int agg_to_lua(lua_State *L, resp_reply_reader *r, const resp_item *it) {
    long long n = it->integer;
    if (it->type == RESP_T_ATTR) { /* ignored, as in Redis: skip pairs, convert what follows */
        for (long long i = 0; i < 2 * n; i++)
            if (resp_reply_skip(r) != RESP_REPLY_OK) return ERR;
        return reply_to_lua(L, r);
    }
    if (!lua_checkstack(L, 4)) return ERR;
    lua_newtable(L);
    if (it->type == RESP_T_MAP || it->type == RESP_T_SET) {
        lua_pushstring(L, it->type == RESP_T_MAP ? "map" : "set");
        lua_newtable(L);
    }
    for (long long i = 0; i < n; i++) {
        if (it->type == RESP_T_MAP) {
            if (reply_to_lua(L, r) != OK || reply_to_lua(L, r) != OK) return ERR;
        } else if (it->type == RESP_T_SET) {
            if (reply_to_lua(L, r) != OK) return ERR;
            lua_pushboolean(L, 1);
        } else {
            lua_pushnumber(L, (lua_Number)(i + 1));
            if (reply_to_lua(L, r) != OK) return ERR;
        }
        lua_settable(L, -3);
    }
    if (it->type == RESP_T_MAP || it->type == RESP_T_SET) lua_settable(L, -3);
    return OK;
}

static void push_field_table(lua_State *L, const char *field) {
    /* value on top -> {field=value} */
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    lua_remove(L, -2);
}

/* Converts one reply (with its children) to a Lua value pushed on the stack. */
static int reply_to_lua(lua_State *L, resp_reply_reader *r) {
    resp_item it;
    if (resp_reply_next(r, &it) != RESP_REPLY_OK) return ERR;
    if (!lua_checkstack(L, 5)) return ERR;
    switch (it.type) {
    case RESP_T_STATUS:
        lua_pushlstring(L, it.str, it.len);
        push_field_table(L, "ok");
        break;
    case RESP_T_ERROR: {
        sbuf b = SBUF_INIT;
        sbuf_append(&b, "-", 1);
        sbuf_append(&b, it.str, it.len);
        push_error_table(L, b.p, b.len);
        sbuf_free(&b);
        mark_ignore_stats(L);
        break;
    }
    case RESP_T_INT:
        lua_pushnumber(L, (lua_Number)it.integer);
        break;
    case RESP_T_BULK:
        lua_pushlstring(L, it.str, it.len);
        break;
    case RESP_T_NULL:
        if (it.null_kind == '_')
            lua_pushnil(L);
        else
            lua_pushboolean(L, 0);
        break;
    case RESP_T_BOOL:
        lua_pushboolean(L, (int)it.integer);
        break;
    case RESP_T_DOUBLE:
        lua_pushnumber(L, it.dbl);
        push_field_table(L, "double");
        break;
    case RESP_T_BIGNUM:
        lua_pushlstring(L, it.str, it.len);
        push_field_table(L, "big_number");
        break;
    case RESP_T_VERBATIM:
        lua_newtable(L);
        lua_pushstring(L, "string");
        lua_pushlstring(L, it.str, it.len);
        lua_settable(L, -3);
        lua_pushstring(L, "format");
        lua_pushstring(L, it.fmt);
        lua_settable(L, -3);
        push_field_table(L, "verbatim_string");
        break;
    default:
        return agg_to_lua(L, r, &it);
    }
    return OK;
}

/* ---- Lua -> the caller's reply ------------------------------------------------------ */

static void lua_to_reply(client *c, lua_State *L);

/* t[field] (raw) if it has the given type: pushed, returns 1; else nothing pushed. */
static int raw_field(lua_State *L, const char *field, int type) {
    lua_pushstring(L, field);
    lua_rawget(L, -2);
    if (lua_type(L, -1) == type) return 1;
    lua_pop(L, 1);
    return 0;
}

/* (long long)n as x86-64 computes it (Redis's reply), without C's UB: NaN and
 * anything out of range give LLONG_MIN ("integer indefinite"). */
static long long lua_number_to_ll(lua_Number n) {
    if (!(n > -9223372036854775809.0 && n < 9223372036854775808.0)) return LLONG_MIN;
    return (long long)n;
}

static void reply_lua_error_table(client *c, lua_State *L);

static void table_to_reply(client *c, lua_State *L) {
    if (raw_field(L, "err", LUA_TSTRING)) {
        lua_pop(L, 1);
        reply_lua_error_table(c, L);
        return;
    }
    if (raw_field(L, "ok", LUA_TSTRING)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        sbuf b = SBUF_INIT;
        resp_sb_line(&b, '+', s, n); /* CR and LF become spaces, as Redis does */
        reply_raw(c, b.p, b.len);
        sbuf_free(&b);
        lua_pop(L, 1);
        return;
    }
    if (raw_field(L, "double", LUA_TNUMBER)) {
        reply_double(c, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (raw_field(L, "big_number", LUA_TSTRING)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        char *v = xmemdup(s, n);
        for (size_t i = 0; i < n; i++)
            if (v[i] == '\r' || v[i] == '\n') v[i] = ' ';
        reply_bignum(c, v, n);
        xfree(v);
        lua_pop(L, 1);
        return;
    }
    if (raw_field(L, "verbatim_string", LUA_TTABLE)) {
        int vt = lua_gettop(L), done = 0;
        lua_pushstring(L, "format");
        lua_rawget(L, vt);
        lua_pushstring(L, "string");
        lua_rawget(L, vt);
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *str = lua_tolstring(L, -1, &n);
            const char *fmt = lua_tostring(L, -2);
            char f3[4] = "txt";
            if (strlen(fmt) >= 3) memcpy(f3, fmt, 3);
            reply_verbatim(c, str, n, f3);
            done = 1;
        }
        lua_settop(L, vt - 1);
        if (done) return;
    }
    if (raw_field(L, "map", LUA_TTABLE)) {
        long n = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            n++;
            lua_pop(L, 1);
        }
        reply_map(c, n);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_to_reply(c, L); /* key */
            lua_to_reply(c, L); /* value */
        }
        lua_pop(L, 1);
        return;
    }
    if (raw_field(L, "set", LUA_TTABLE)) {
        long n = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            n++;
            lua_pop(L, 1);
        }
        reply_set(c, n);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_to_reply(c, L);
        }
        lua_pop(L, 1);
        return;
    }
    /* an array: elements 1..n up to the first nil */
    long n = 0;
    for (;;) {
        lua_rawgeti(L, -1, (int)(n + 1));
        int nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil) break;
        n++;
    }
    reply_array(c, n);
    for (long j = 1; j <= n; j++) {
        lua_rawgeti(L, -1, (int)j);
        lua_to_reply(c, L);
    }
}

/* Replies the value on the stack top to c and pops it. */
static void lua_to_reply(client *c, lua_State *L) {
    if (!lua_checkstack(L, 4)) {
        reply_error(c, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_bulk(c, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (sl_fake_client()->resp == 2) {
            if (lua_toboolean(L, -1))
                reply_int(c, 1);
            else
                reply_null(c);
        } else {
            reply_bool(c, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        reply_int(c, lua_number_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE:
        table_to_reply(c, L);
        break;
    default:
        reply_null(c);
    }
    lua_pop(L, 1);
}

/* ---- error replies -------------------------------------------------------------------- */

typedef struct err_info {
    sbuf msg;
    char *source, *line;
    int ignore_stats;
} err_info;

/* Reads {err=, source=, line=, ignore_error_stats_update=} (or a string) at the top. */
static void err_info_read(lua_State *L, err_info *e) {
    memset(e, 0, sizeof(*e));
    if (lua_isstring(L, -1)) sbuf_printf(&e->msg, "ERR %s", lua_tostring(L, -1));
    if (!lua_istable(L, -1)) return;
    lua_getfield(L, -1, "err");
    if (lua_isstring(L, -1)) {
        e->msg.len = 0;
        sbuf_append(&e->msg, lua_tostring(L, -1), strlen(lua_tostring(L, -1)));
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "source");
    if (lua_isstring(L, -1)) e->source = xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "line");
    if (lua_isstring(L, -1)) e->line = xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "ignore_error_stats_update");
    if (lua_isboolean(L, -1)) e->ignore_stats = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

static void err_info_free(err_info *e) {
    sbuf_free(&e->msg);
    xfree(e->source);
    xfree(e->line);
}

/* An error reply that was already counted in the error stats (the command
 * that produced it counted it): sent as is, the running command marked failed. */
static void reply_error_nostats(client *c, const char *msg) {
    if (msg[0] == '-') msg++;
    sbuf b = SBUF_INIT;
    resp_sb_line(&b, '-', msg, strlen(msg));
    reply_raw(c, b.p, b.len);
    sbuf_free(&b);
    if (c->cmd) server_count_failed_call(c->cmd);
}

static void reply_with_err_info(client *c, const err_info *e, const char *suffix) {
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s%s", e->msg.p ? e->msg.p : "ERR", suffix ? suffix : "");
    if (e->ignore_stats)
        reply_error_nostats(c, b.p);
    else
        reply_error(c, b.p);
    sbuf_free(&b);
}

/* A returned {err=...} table: replied as an error (the table is not popped). */
static void reply_lua_error_table(client *c, lua_State *L) {
    err_info e;
    err_info_read(L, &e);
    reply_with_err_info(c, &e, NULL);
    err_info_free(&e);
}

/* ---- redis.* API ------------------------------------------------------------------------ */

script_run *script_current;
static int disable_deny_scripts;

void scripting_set_disable_deny(int on) {
    disable_deny_scripts = on;
}

/* Rejects a command before it runs, as Redis's scriptCall checks do. NULL if allowed. */
static const char *script_check_command(script_run *run, const command *cmd, int argc,
                                        int sub_missing) {
    if (!cmd || sub_missing) return "Unknown Redis command called from script";
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity)
        return "Wrong number of args calling Redis command from script";
    if (!disable_deny_scripts && (cmd->flag_bits & CMD_NOSCRIPT))
        return "This Redis command is not allowed from script";
    if ((run->flags & RUN_READ_ONLY) && (cmd->flag_bits & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return "Write commands are not allowed from read-only scripts.";
    if (!(run->flags & RUN_ALLOW_OOM) && server_maxmemory() && !(run->flags & RUN_WRITE_DIRTY) &&
        (run->flags & RUN_OOM_AT_START) && (cmd->flag_bits & CMD_DENYOOM))
        return "-" ERR_OOM;
    return NULL;
}

/* The caller's ACL rights over a command a script calls (Redis's
 * scriptVerifyACL): NULL if allowed; a denial is logged with context lua. */
static const char *script_check_acl(script_run *run, const command *cmd, int argc,
                                    const resp_arg *argv) {
    if (!run->caller) return NULL;
    switch (acl_check_client(run->caller, cmd, argc, argv, ACL_CTX_LUA)) {
    case ACL_OK:
        return NULL;
    case ACL_DENIED_CMD:
        return "The user executing the script can't run this command or subcommand";
    case ACL_DENIED_KEY:
        return "The user executing the script can't access at least one of the keys mentioned "
               "in the command arguments";
    case ACL_DENIED_CHANNEL:
        return "The user executing the script can't publish to the channel mentioned in the "
               "command";
    default:
        return "The user executing the script lacking the permissions for the command";
    }
}

/* Argument vector for the fake client, one reusable allocation. */
static resp_arg *cmd_argv;
static int cmd_argv_cap;
static char *cmd_buf;
static size_t cmd_buf_cap;

/* Builds the argv from the Lua arguments 1..argc. ERR if one is not a string/number. */
static int build_argv(lua_State *L, int argc) {
    size_t total = 0;
    char num[64];
    for (int j = 1; j <= argc; j++) {
        int t = lua_type(L, j);
        if (t == LUA_TNUMBER) {
            total += (size_t)snprintf(num, sizeof(num), "%.17g", (double)lua_tonumber(L, j)) + 1;
        } else if (t == LUA_TSTRING) {
            size_t n;
            lua_tolstring(L, j, &n);
            total += n + 1;
        } else {
            return ERR;
        }
    }
    if (argc > cmd_argv_cap) {
        cmd_argv = xrealloc(cmd_argv, sizeof(resp_arg) * (size_t)argc);
        cmd_argv_cap = argc;
    }
    if (total > cmd_buf_cap) {
        cmd_buf = xrealloc(cmd_buf, total);
        cmd_buf_cap = total;
    }
    char *p = cmd_buf;
    for (int j = 1; j <= argc; j++) {
        size_t n;
        if (lua_type(L, j) == LUA_TNUMBER) {
            n = (size_t)snprintf(p, 64, "%.17g", (double)lua_tonumber(L, j));
        } else {
            const char *s = lua_tolstring(L, j, &n);
            memcpy(p, s, n);
            p[n] = '\0';
        }
        cmd_argv[j - 1] = (resp_arg){.p = p, .len = n, .off = 0};
        p += n + 1;
    }
    return OK;
}

/* The fake client's reply blocks as one buffer (*owned set if allocated). */
static const char *take_reply(client *fc, size_t *len, int *owned) {
    *owned = 0;
    if (!fc->rhead) {
        *len = 0;
        return "";
    }
    if (!fc->rhead->next) {
        *len = fc->rhead->used;
        return fc->rhead->buf;
    }
    sbuf b = SBUF_INIT;
    for (reply_block *bl = fc->rhead; bl; bl = bl->next) sbuf_append(&b, bl->buf, bl->used);
    *owned = 1;
    return sbuf_take(&b, len);
}

static void reset_reply(client *fc) {
    reply_block *b = fc->rhead;
    while (b) {
        reply_block *n = b->next;
        xfree(b);
        b = n;
    }
    fc->rhead = fc->rtail = NULL;
    fc->reply_bytes = 0;
    fc->sentlen = 0;
}

static void reject_in_script(const command *cmd, const char *err) {
    /* counted like Redis's afterErrorReply: the code of a "-CODE msg" text, else ERR */
    stats_record_error(err[0] == '-' ? err + 1 : "ERR");
    if (cmd) server_count_rejected_call(cmd);
    server_error_checkpoint();
}

static int redis_generic_call(lua_State *L, int raise) {
    static int inuse;
    script_run *run = script_current;
    if (!run) {
        push_error(L, "redis.call/pcall can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        push_error(L, "Please specify at least one argument for this redis lib call");
        return raise ? lua_error(L) : 1;
    }
    int bad = build_argv(L, argc) != OK;
    lua_pop(L, argc);
    if (bad) {
        push_error(L, "Lua redis lib command arguments must be strings or integers");
        return raise ? lua_error(L) : 1;
    }
    if (inuse) {
        push_error(L, "luaRedisGenericCommand() recursive call detected. Are you doing funny stuff "
                      "with Lua debug hooks?");
        return 1;
    }
    inuse++;
    client *fc = sl_fake_client();
    int sub_missing;
    const command *cmd = command_lookup(cmd_argv, argc, &sub_missing);
    const char *err = script_check_command(run, cmd, argc, sub_missing);
    if (!err) err = script_check_acl(run, cmd, argc, cmd_argv);
    if (err) {
        reject_in_script(cmd && !sub_missing ? cmd : NULL, err);
        push_error(L, err);
        mark_ignore_stats(L);
    } else {
        if (cmd->flag_bits & CMD_WRITE) run->flags |= RUN_WRITE_DIRTY;
        fc->argc = argc;
        fc->argv = cmd_argv;
        fc->flags |= CLIENT_EXECUTING;
        call_command(fc, cmd);
        fc->flags &= ~(uint64_t)CLIENT_EXECUTING;
        fc->argc = 0;
        fc->argv = NULL;
        size_t len;
        int owned;
        const char *rep = take_reply(fc, &len, &owned);
        if (raise && !(len && rep[0] == '-')) raise = 0;
        resp_reply_reader rd;
        resp_reply_init(&rd, rep, len);
        int top = lua_gettop(L);
        if (reply_to_lua(L, &rd) != OK) {
            lua_settop(L, top);
            push_error(L, "ERR reply of the command could not be converted (lua stack limit?)");
            raise = 1;
        }
        if (owned) xfree((char *)rep);
        reset_reply(fc);
    }
    inuse--;
    if (raise) return lua_error(L);
    return 1;
}

static int l_redis_call(lua_State *L) {
    return redis_generic_call(L, 1);
}
static int l_redis_pcall(lua_State *L) {
    return redis_generic_call(L, 0);
}

/* pcall replacement: an error table becomes its err string (Redis 7 compat). */
static int l_pcall(lua_State *L) {
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

static void sha1_hex(char out[41], const void *p, size_t len) {
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1(p, len, d);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}

void scripting_sha1hex(char out[41], const void *p, size_t len) {
    sha1_hex(out, p, len);
}

static int l_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1) {
        push_error(L, "wrong number of arguments");
        return lua_error(L);
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(hex, s ? s : "", s ? len : 0);
    lua_pushstring(L, hex);
    return 1;
}

static int l_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments");
        return 1;
    }
    size_t n;
    const char *e = lua_tolstring(L, -1, &n);
    if (n && e[0] == '-') {
        push_error_table(L, e, n);
    } else {
        sbuf b = SBUF_INIT;
        sbuf_append(&b, "-", 1);
        sbuf_append(&b, e, n);
        push_error_table(L, b.p, b.len);
        sbuf_free(&b);
    }
    return 1;
}

static int l_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments");
        return 1;
    }
    push_field_table(L, "ok");
    return 1;
}

static int l_set_repl(lua_State *L) {
    if (!script_current) {
        push_error(L, "redis.set_repl can only be called inside a script invocation");
        return lua_error(L);
    }
    if (lua_gettop(L) != 1) {
        push_error(L, "redis.set_repl() requires two arguments.");
        return lua_error(L);
    }
    int flags = (int)lua_tonumber(L, -1);
    if ((flags & ~3) != 0) {
        push_error(L,
                   "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        return lua_error(L);
    }
    return 0; /* no replication in Larder: accepted, nothing to do */
}

static int l_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static int l_breakpoint(lua_State *L) {
    lua_pushboolean(L, 0); /* no debugger session */
    return 1;
}

static int l_debug(lua_State *L) {
    (void)L;
    return 0;
}

static int l_acl_check_cmd(lua_State *L) {
    if (!script_current) {
        push_error(L, "redis.acl_check_cmd can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc < 1 || build_argv(L, argc) != OK) {
        push_error(L, "Please specify at least one argument for this redis lib call");
        return lua_error(L);
    }
    int sub_missing;
    const command *cmd = command_lookup(cmd_argv, argc, &sub_missing);
    if (!cmd || sub_missing || (cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        push_error(L, "Invalid command passed to redis.acl_check_cmd()");
        return lua_error(L);
    }
    int pos;
    client *caller = script_current->caller;
    lua_pushboolean(L, !caller ||
                           acl_check_command(caller->user, cmd, argc, cmd_argv, &pos) == ACL_OK);
    return 1;
}

static int l_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2) {
        push_error(L, "redis.log() requires two arguments or more.");
        return lua_error(L);
    }
    if (!lua_isnumber(L, 1)) {
        push_error(L, "First argument must be a number (log level).");
        return lua_error(L);
    }
    int level = (int)lua_tonumber(L, 1);
    if (level < LL_DEBUG || level > LL_WARNING) {
        push_error(L, "Invalid debug level.");
        return lua_error(L);
    }
    if (!server_log_enabled(level)) return 0;
    sbuf b = SBUF_INIT;
    for (int j = 2; j <= argc; j++) {
        size_t n;
        const char *s = lua_tolstring(L, j, &n);
        if (!s) continue;
        if (j != 2) sbuf_append(&b, " ", 1);
        sbuf_append(&b, s, n);
    }
    server_log_raw(level, b.p ? b.p : "");
    sbuf_free(&b);
    return 0;
}

static int l_setresp(lua_State *L) {
    if (!script_current) {
        push_error(L, "redis.setresp can only be called inside a script invocation");
        return lua_error(L);
    }
    if (lua_gettop(L) != 1) {
        push_error(L, "redis.setresp() requires one argument.");
        return lua_error(L);
    }
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) {
        push_error(L, "RESP version must be 2 or 3.");
        return lua_error(L);
    }
    sl_fake_client()->resp = resp;
    return 0;
}

/* ---- redis.register_function (library load time only) ------------------------------- */

typedef struct reg_args {
    int name_idx, fn_idx, desc_idx; /* stack slots, 0 = not given */
    unsigned flags;
} reg_args;

/* Reads the flags table on the stack top ({'no-writes', ...}, case-insensitive). */
static int read_flags(lua_State *L, unsigned *flags) {
    static const struct {
        const char *name;
        unsigned flag;
    } known[] = {{"no-writes", SF_NO_WRITES},
                 {"allow-oom", SF_ALLOW_OOM},
                 {"allow-stale", SF_ALLOW_STALE},
                 {"no-cluster", SF_NO_CLUSTER},
                 {"allow-cross-slot-keys", SF_ALLOW_CROSS_SLOT}};
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return OK;
        }
        const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        size_t k = 0;
        while (f && k < sizeof(known) / sizeof(known[0]) && strcasecmp(f, known[k].name)) k++;
        lua_pop(L, 1);
        if (!f || k == sizeof(known) / sizeof(known[0])) return ERR;
        *flags |= known[k].flag;
    }
}

/* register_function{function_name=, callback=, description=, flags=}: the named
 * values are pushed on the stack (slots recorded in a); *err on a bad one. */
static int read_named_args(lua_State *L, reg_args *a, const char **err) {
    if (!lua_istable(L, 1)) {
        *err = "calling redis.register_function with a single argument is only applicable to Lua "
               "table "
               "(representing named arguments).";
        return ERR;
    }
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int *slot = NULL;
        if (!k) {
            *err = "named argument key given to redis.register_function is not a string";
            return ERR;
        } else if (!strcasecmp(k, "function_name")) {
            if (!lua_isstring(L, -1))
                *err = "function_name argument given to redis.register_function must be a string";
            slot = &a->name_idx;
        } else if (!strcasecmp(k, "description")) {
            if (!lua_isstring(L, -1))
                *err = "description argument given to redis.register_function must be a string";
            slot = &a->desc_idx;
        } else if (!strcasecmp(k, "callback")) {
            if (!lua_isfunction(L, -1))
                *err = "callback argument given to redis.register_function must be a function";
            slot = &a->fn_idx;
        } else if (!strcasecmp(k, "flags")) {
            if (!lua_istable(L, -1))
                *err = "flags argument to redis.register_function must be a table representing "
                       "function flags";
            else if (read_flags(L, &a->flags) != OK)
                *err = "unknown flag given";
        } else {
            *err = "unknown argument given to redis.register_function";
        }
        if (*err) return ERR;
        if (slot) {
            lua_pushvalue(L, -1); /* keep the value on the stack, below the iteration key */
            lua_insert(L, -3);
            *slot = lua_gettop(L) - 2;
        }
        lua_pop(L, 1);
    }
    if (!a->name_idx)
        *err = "redis.register_function must get a function name argument";
    else if (!a->fn_idx)
        *err = "redis.register_function must get a callback argument";
    return *err ? ERR : OK;
}

static int read_reg_args(lua_State *L, reg_args *a, const char **err) {
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2) {
        *err = "wrong number of arguments to redis.register_function";
        return ERR;
    }
    if (argc == 1) return read_named_args(L, a, err);
    if (!lua_isstring(L, 1)) {
        *err = "first argument to redis.register_function must be a string";
        return ERR;
    }
    if (!lua_isfunction(L, 2)) {
        *err = "second argument to redis.register_function must be a function";
        return ERR;
    }
    a->name_idx = 1;
    a->fn_idx = 2;
    return OK;
}

/* redis.register_function(name, fn) / redis.register_function{function_name=, callback=,
 * description=, flags=}, as Redis 7.0 checks them (same texts). */
static int l_register_function(lua_State *L) {
    reg_args a = {0};
    const char *err = NULL;
    if (!script_loading_library()) {
        push_error(L, "redis.register_function can only be called on FUNCTION LOAD command");
        return lua_error(L);
    }
    if (read_reg_args(L, &a, &err) != OK) {
        push_error(L, err);
        return lua_error(L);
    }
    size_t nlen = 0, dlen = 0;
    const char *name = lua_tolstring(L, a.name_idx, &nlen);
    const char *desc = a.desc_idx ? lua_tolstring(L, a.desc_idx, &dlen) : NULL;
    lua_pushvalue(L, a.fn_idx);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (script_register_function(name, nlen, desc, dlen, ref, a.flags, &err) != OK) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        push_error(L, err);
        return lua_error(L);
    }
    return 0;
}

/* ---- math.random: a 48-bit LCG as lrand48, the same sequence everywhere ---------- */

static uint64_t rand48_state = 0x1234ABCD330EULL;

static int32_t rand48_next(void) {
    rand48_state = (0x5DEECE66DULL * rand48_state + 0xB) & ((1ULL << 48) - 1);
    return (int32_t)(rand48_state >> 17);
}

static void rand48_seed(int32_t seed) {
    rand48_state = (((uint64_t)(uint32_t)seed) << 16) | 0x330E;
}

static int l_math_random(lua_State *L) {
    lua_Number r = (lua_Number)(rand48_next() % 2147483647) / (lua_Number)2147483647;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int l_math_randomseed(lua_State *L) {
    rand48_seed(luaL_checkint(L, 1));
    return 0;
}

/* ---- sandbox ------------------------------------------------------------------------- */

static int l_ro_error(lua_State *L) {
    return luaL_error(L, RO_ERROR);
}

static int l_missing_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

static int is_protected(lua_State *L, int idx) {
    if (!lua_istable(L, idx)) return 0;
    lua_pushvalue(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROTECTED);
    lua_insert(L, -2);
    lua_rawget(L, -2);
    int p = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return p;
}

static int l_rawset(lua_State *L) {
    if (is_protected(L, 1)) return luaL_error(L, RO_ERROR);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_setmetatable(lua_State *L) {
    if (is_protected(L, 1)) return luaL_error(L, RO_ERROR);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_setfenv(lua_State *L) {
    if (lua_isnumber(L, 1) && lua_tonumber(L, 1) == 0) return luaL_error(L, RO_ERROR);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* loadstring(s [, name]) refusing precompiled chunks (they bypass the verifier). */
static int l_loadstring(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    if (n && s[0] == '\033') {
        lua_pushnil(L);
        lua_pushstring(L, "precompiled chunks are not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, name) == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* load(fn [, name]): reads the pieces, then as loadstring. */
static int l_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    sbuf b = SBUF_INIT;
    for (;;) {
        lua_pushvalue(L, 1);
        if (lua_pcall(L, 0, 1, 0)) {
            sbuf_free(&b);
            lua_pushnil(L);
            lua_insert(L, -2);
            return 2;
        }
        if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            sbuf_free(&b);
            lua_pop(L, 1);
            lua_pushnil(L);
            lua_pushstring(L, "reader function must return a string");
            return 2;
        }
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        sbuf_append(&b, s, n);
        lua_pop(L, 1);
    }
    lua_settop(L, 0);
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    lua_pushstring(L, name);
    sbuf_free(&b);
    return l_loadstring(L);
}

/* Replaces the table at idx by nothing; pushes its read-only proxy. Proxies
 * are cached (registry "larder.proxies": table -> proxy) so a table reached
 * twice gets one proxy. */
static void push_proxy(lua_State *L, int idx) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, "larder.proxies");
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_ro_error);
    lua_setfield(L, -2, "__newindex");
    /* getmetatable(proxy) -> an (unprotected-looking) read-only view of the metatable */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_ro_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROTECTED);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    /* remember: proxies[target] = proxy; protected[proxy] = true */
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROTECTED);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_remove(L, -2); /* the proxies cache */
}

static void set_fn(lua_State *L, const char *name, lua_CFunction f) {
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static void set_num(lua_State *L, const char *name, lua_Number v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* Wraps the global `name` in a C closure f whose upvalue is the original. */
static void wrap_global(lua_State *L, const char *name, lua_CFunction f) {
    lua_getglobal(L, name);
    lua_pushcclosure(L, f, 1);
    lua_setglobal(L, name);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (name[0] && lua_istable(L, -1)) {
        lua_setglobal(L, name);
    } else {
        lua_pop(L, 1);
    }
}

/* redis.log, the LOG_* levels and the version: in both the script and the
 * library-load `redis` tables (the table on the stack top). */
static void set_log_and_version(lua_State *L) {
    set_fn(L, "log", l_log);
    set_num(L, "LOG_DEBUG", LL_DEBUG);
    set_num(L, "LOG_VERBOSE", LL_VERBOSE);
    set_num(L, "LOG_NOTICE", LL_NOTICE);
    set_num(L, "LOG_WARNING", LL_WARNING);
    lua_pushstring(L, LARDER_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_num(L, "REDIS_VERSION_NUM", 0x0007000f);
}

static void register_redis_api(lua_State *L) {
    lua_newtable(L);
    set_fn(L, "call", l_redis_call);
    set_fn(L, "pcall", l_redis_pcall);
    set_log_and_version(L);
    set_fn(L, "setresp", l_setresp);
    set_fn(L, "sha1hex", l_sha1hex);
    set_fn(L, "error_reply", l_error_reply);
    set_fn(L, "status_reply", l_status_reply);
    set_fn(L, "set_repl", l_set_repl);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    set_fn(L, "acl_check_cmd", l_acl_check_cmd);
    set_fn(L, "replicate_commands", l_replicate_commands);
    set_fn(L, "breakpoint", l_breakpoint);
    set_fn(L, "debug", l_debug);
    lua_setglobal(L, "redis");

    lua_getglobal(L, "math");
    set_fn(L, "random", l_math_random);
    set_fn(L, "randomseed", l_math_randomseed);
    lua_pop(L, 1);
}

/* What library code sees while FUNCTION LOAD runs it (registry REG_LIB_API): the
 * only global is `redis`, with register_function, log and the version and log
 * constants; anything else raises "Script attempted to access nonexistent
 * global variable". The functions it registers run later with the ordinary
 * globals, where redis.register_function does not exist. */
static void create_library_api(lua_State *L) {
    lua_newtable(L); /* the load-time globals */
    lua_newtable(L); /* the load-time `redis` */
    set_fn(L, "register_function", l_register_function);
    set_log_and_version(L);
    lua_newtable(L);
    lua_pushcfunction(L, l_missing_global);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_setmetatable(L, -3); /* redis.x: missing -> error */
    lua_setmetatable(L, -3); /* x: missing -> error */
    push_proxy(L, -1);
    lua_setfield(L, -3, "redis");
    lua_pop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LIB_API);
}

/* Points the globals scripts see (the proxy P, see the top of this file) at the
 * load-time API (on) or back at the real globals. */
static void set_load_env(lua_State *L, int on) {
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_getfield(L, LUA_REGISTRYINDEX, on ? REG_LIB_API : REG_REAL_G);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static int64_t load_started_us, load_timeout_us;

static void load_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (clock_ustime() - load_started_us > load_timeout_us) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0); /* pcall cannot swallow it */
        push_error(L, "FUNCTION LOAD timeout");
        lua_error(L);
    }
}

int sl_run_library(lua_State *L, int64_t timeout_ms) {
    set_load_env(L, 1);
    load_started_us = clock_ustime();
    load_timeout_us = timeout_ms * 1000;
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    set_load_env(L, 0);
    return rc;
}

/* The error handler Redis installs: adds the source and line of the failing
 * user code to the error, turning a string error into {err="ERR ..."}. */
static const char errh_code[] = "local dbg = debug\n"
                                "return function(err)\n"
                                "  local i = dbg.getinfo(2,'nSl')\n"
                                "  if i and i.what == 'C' then\n"
                                "    i = dbg.getinfo(3,'nSl')\n"
                                "  end\n"
                                "  if type(err) ~= 'table' then\n"
                                "    err = {err='ERR ' .. tostring(err)}\n"
                                "  end\n"
                                "  if i then\n"
                                "    err['source'] = i.source\n"
                                "    err['line'] = i.currentline\n"
                                "  end\n"
                                "  return err\n"
                                "end\n";

static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        xfree(ptr);
        return NULL;
    }
    return xrealloc(ptr, nsize);
}

/* Replaces every table value of real_G (except _G) by its proxy. */
static void protect_globals(lua_State *L) {
    lua_pushvalue(L, LUA_GLOBALSINDEX); /* real_G */
    int g = lua_gettop(L);
    const char *libs[] = {"string", "table",    "math",   "coroutine", "cjson",
                          "bit",    "cmsgpack", "struct", "redis",     NULL};
    for (int i = 0; libs[i]; i++) {
        lua_getfield(L, g, libs[i]);
        if (lua_istable(L, -1)) {
            push_proxy(L, -1);
            lua_setfield(L, g, libs[i]);
        }
        lua_pop(L, 1);
    }
    /* string methods ("x"):rep() go through the string metatable: point it at the proxy */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_getfield(L, g, "string");
        lua_setfield(L, -2, "__index");
        push_proxy(L, -1);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* real_G: missing names raise; P: the empty read-only face scripts see */
    lua_newtable(L);
    lua_pushcfunction(L, l_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, g);
    push_proxy(L, g);
    lua_pushvalue(L, -1);
    lua_setfield(L, g, "_G");
    lua_pushvalue(L, g);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_REAL_G);
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_pop(L, 1);
}

lua_State *sl_state_new(int for_functions) {
    lua_State *L = lua_newstate(lua_alloc, NULL);
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_DBLIBNAME, luaopen_debug);
    open_lib(L, "cjson", luaopen_cjson);
    open_lib(L, "bit", luaopen_bit);
    open_lib(L, "cmsgpack", sl_open_cmsgpack);
    open_lib(L, "struct", sl_open_struct);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "larder.proxies");
    lua_newtable(L); /* protected set, weak keys */
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_PROTECTED);

    lua_pushcfunction(L, l_pcall);
    lua_setglobal(L, "pcall");
    wrap_global(L, "rawset", l_rawset);
    wrap_global(L, "setmetatable", l_setmetatable);
    wrap_global(L, "setfenv", l_setfenv);
    lua_pushcfunction(L, l_loadstring);
    lua_setglobal(L, "loadstring");
    lua_pushcfunction(L, l_load);
    lua_setglobal(L, "load");
    const char *removed[] = {"dofile", "loadfile", "print", "module", "require", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    register_redis_api(L);

    if (luaL_loadbuffer(L, errh_code, sizeof(errh_code) - 1, "@err_handler_def") ||
        lua_pcall(L, 0, 1, 0))
        abort();
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ERRH);
    lua_pushnil(L);
    lua_setglobal(L, "debug");
    protect_globals(L);
    if (for_functions) create_library_api(L);
    rand48_seed((int32_t)random());
    return L;
}

void sl_state_free(lua_State *L) {
    if (L) lua_close(L);
}

size_t sl_memory(lua_State *L) {
    return L ? (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 : 0;
}

void sl_push_errh(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERRH);
}

/* ---- running a script --------------------------------------------------------------------- */

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (script_current && script_interrupt(script_current)) {
        server_log(LL_WARNING, "Lua script killed by user with SCRIPT KILL.");
        /* fire on every line from now on: pcall cannot swallow the kill */
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        push_error(L, "Script killed by user with SCRIPT KILL...");
        lua_error(L);
    }
}

static void push_array(lua_State *L, int n, const resp_arg *a) {
    lua_createtable(L, n, 0);
    for (int j = 0; j < n; j++) {
        lua_pushlstring(L, a[j].p, a[j].len);
        lua_rawseti(L, -2, j + 1);
    }
}

static void set_real_global(lua_State *L, const char *name) {
    lua_getfield(L, LUA_REGISTRYINDEX, REG_REAL_G);
    lua_insert(L, -2);
    lua_setfield(L, -2, name); /* real_G has only an __index metamethod: a plain set */
    lua_pop(L, 1);
}

void sl_call(lua_State *L, script_run *run, int nkeys, const resp_arg *keys, int nargs,
             const resp_arg *args) {
    client *c = run->caller;
    int hooked = server_busy_reply_threshold() > 0;
    if (hooked) lua_sethook(L, count_hook, LUA_MASKCOUNT, 100000);
    int err;
    if (run->flags & RUN_EVAL_MODE) {
        push_array(L, nkeys, keys);
        set_real_global(L, "KEYS");
        push_array(L, nargs, args);
        set_real_global(L, "ARGV");
        err = lua_pcall(L, 0, 1, -2);
    } else {
        push_array(L, nkeys, keys);
        push_array(L, nargs, args);
        err = lua_pcall(L, 2, 1, -4);
    }
    static long gc_count;
    if (++gc_count == 50) {
        lua_gc(L, LUA_GCSTEP, 50);
        gc_count = 0;
    }
    if (err) {
        if (!lua_istable(L, -1)) {
            const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
            reply_errorf(c, "ERR Error running script %s, %.100s\n", run->funcname, msg);
        } else {
            err_info e;
            err_info_read(L, &e);
            sbuf suffix = SBUF_INIT;
            if (e.line && e.source)
                sbuf_printf(&suffix, " script: %s, on %s:%s.", run->funcname, e.source, e.line);
            reply_with_err_info(c, &e, suffix.p);
            sbuf_free(&suffix);
            err_info_free(&e);
        }
        lua_pop(L, 1);
    } else {
        lua_to_reply(c, L);
    }
    if (hooked) lua_sethook(L, NULL, 0, 0);
    lua_pop(L, 1); /* the error handler */
}
