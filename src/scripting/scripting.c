/* scripting/scripting — EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT *, FCALL,
 * FCALL_RO and FUNCTION *, on the Lua engine of scripting_lua.c.
 *
 * Two Lua states, as in Redis: one for EVAL scripts (reset by SCRIPT FLUSH),
 * one for function libraries (reset by FUNCTION FLUSH). An EVAL script is
 * compiled once and kept in the eval state's registry under "f_<sha1>"; the
 * script cache (sha -> body, flags) lives in `scripts`.
 *
 * A script is atomic: the loop runs nothing else while it runs, except when
 * it passes busy-reply-threshold. From then on the count hook
 * (script_interrupt) has the server poll the sockets (server_serve_while_busy)
 * every 100000 Lua instructions:
 * new connections are accepted, other clients' commands are read and get
 * -BUSY, except commands flagged allow_busy (SCRIPT KILL, FUNCTION KILL,
 * SHUTDOWN NOSAVE, MULTI...). Only file events run in that poll — no timers,
 * no before-sleep work (expiry, unblocking) — so nothing else touches the
 * keyspace under the script. The client running the script is not polled:
 * its pipelined commands wait until the script ends.
 *
 * Invariants:
 *  1. server_in_script() <=> script_current != NULL (one script at a time).
 *  2. a -BUSY error is set (server_set_script_busy) => a script runs and passed
 *     the threshold.
 *  3. Every cached script's function is in the eval state's registry. */
#include "scripting/scripting.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NOSCRIPT "NOSCRIPT No matching script. Please use EVAL."
#define ERR_BUSY_EVAL                                                                              \
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define ERR_BUSY_FUNC                                                                              \
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

/* ---- the script cache ---------------------------------------------------------------- */

typedef struct lscript {
    char sha[40];
    unsigned flags;
    size_t len;
    char *body;
} lscript;

static const void *lscript_key(const void *e, size_t *len) {
    *len = 40;
    return ((const lscript *)e)->sha;
}
static const dict_type lscript_type = {hash_bytes, lscript_key, NULL};

static lua_State *Leval;
static dict *scripts;
static size_t scripts_mem;

static void free_lscript(void *ctx, void *e) {
    (void)ctx;
    xfree(((lscript *)e)->body);
    xfree(e);
}

static void eval_engine_init(void) {
    if (Leval) return;
    Leval = sl_state_new(0);
    scripts = dict_new(&lscript_type);
    scripts_mem = 0;
}

static void eval_engine_reset(void) {
    if (!Leval) return;
    sl_state_free(Leval);
    dict_free(scripts, free_lscript, NULL);
    Leval = NULL;
    scripts = NULL;
    eval_engine_init();
}

/* ---- shebang ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned flag;
} flag_names[] = {{"no-writes", SF_NO_WRITES},
                  {"allow-oom", SF_ALLOW_OOM},
                  {"allow-stale", SF_ALLOW_STALE},
                  {"no-cluster", SF_NO_CLUSTER},
                  {"allow-cross-slot-keys", SF_ALLOW_CROSS_SLOT}};

/* Parses "#!lua flags=a,b" at the head of an EVAL body. *skip gets the
 * shebang's length (the newline stays, so line numbers hold). ERR with *err
 * (caller frees) on a bad shebang. No shebang: SF_EVAL_COMPAT. */
static int parse_shebang(const char *body, size_t len, unsigned *flags, size_t *skip, char **err) {
    *flags = SF_EVAL_COMPAT;
    *skip = 0;
    if (len < 2 || memcmp(body, "#!", 2) != 0) return OK;
    const char *nl = memchr(body, '\n', len);
    sbuf e = SBUF_INIT;
    if (!nl) {
        *err = xstrdup("ERR Invalid script shebang");
        return ERR;
    }
    *skip = (size_t)(nl - body);
    char *line = xmemdup(body, *skip);
    resp_arg *parts = NULL;
    int cap = 0, n = 0;
    n = resp_split_args(line, *skip, &parts, &cap, &n);
    int rc = OK;
    if (n <= 0) {
        sbuf_puts(&e, "ERR Invalid engine in script shebang");
        rc = ERR;
    } else if (strcmp(parts[0].p, "#!lua") != 0) {
        sbuf_printf(&e, "ERR Unexpected engine in script shebang: %s", parts[0].p);
        rc = ERR;
    } else {
        *flags = 0;
        for (int j = 1; j < n && rc == OK; j++) {
            if (strncmp(parts[j].p, "flags=", 6) != 0) {
                sbuf_printf(&e, "ERR Unknown lua shebang option: %s", parts[j].p);
                rc = ERR;
                break;
            }
            char *f = parts[j].p + 6;
            while (rc == OK && *f) {
                size_t fl = strcspn(f, ",");
                size_t k;
                for (k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
                    if (strlen(flag_names[k].name) == fl && !strncmp(flag_names[k].name, f, fl))
                        break;
                if (k == sizeof(flag_names) / sizeof(flag_names[0])) {
                    sbuf_printf(&e, "ERR Unexpected flag in script shebang: %.*s", (int)fl, f);
                    rc = ERR;
                    break;
                }
                *flags |= flag_names[k].flag;
                f += fl;
                if (*f == ',') f++;
            }
        }
    }
    xfree(parts);
    xfree(line);
    if (rc != OK) *err = sbuf_take(&e, NULL);
    sbuf_free(&e);
    return rc;
}

/* The cached script for body (compiled on first sight); NULL after replying the error. */
static lscript *script_create(client *c, const char *body, size_t len) {
    eval_engine_init();
    char sha[41];
    scripting_sha1hex(sha, body, len);
    lscript *s = dict_find(scripts, sha, 40);
    if (s) return s;
    unsigned flags;
    size_t skip;
    char *err = NULL;
    if (parse_shebang(body, len, &flags, &skip, &err) != OK) {
        reply_error(c, err);
        xfree(err);
        return NULL;
    }
    if (luaL_loadbuffer(Leval, body + skip, len - skip, "@user_script")) {
        reply_errorf(c, "ERR Error compiling script (new function): %s", lua_tostring(Leval, -1));
        lua_pop(Leval, 1);
        return NULL;
    }
    char fname[43] = "f_";
    memcpy(fname + 2, sha, 41);
    lua_setfield(Leval, LUA_REGISTRYINDEX, fname);
    s = xmalloc(sizeof(*s));
    memcpy(s->sha, sha, 40);
    s->flags = flags;
    s->len = len;
    s->body = xmemdup(body, len);
    dict_add(scripts, s);
    scripts_mem += len + sizeof(*s) + 40;
    return s;
}

/* ---- running ------------------------------------------------------------------------------ */

/* Checks of Redis's scriptPrepareForRun that apply to Larder (no replication,
 * no cluster): ERR after replying. Fills the run flags. */
static int prepare_run(client *c, script_run *run, unsigned sflags, int ro, int eval_mode) {
    int oom = over_maxmemory();
    if (!(sflags & SF_EVAL_COMPAT)) {
        if (!(sflags & SF_NO_WRITES) && ro) {
            reply_error(c, "ERR Can not execute a script with write flag using *_ro command.");
            return ERR;
        }
        if (oom && !(sflags & (SF_ALLOW_OOM | SF_NO_WRITES))) {
            reply_error(c, "OOM allow-oom flag is not set on the script, can not run it when used "
                           "memory > 'maxmemory'");
            return ERR;
        }
    }
    memset(run, 0, sizeof(*run));
    run->caller = c;
    if (eval_mode) run->flags |= RUN_EVAL_MODE;
    if (ro || (!(sflags & SF_EVAL_COMPAT) && (sflags & SF_NO_WRITES))) run->flags |= RUN_READ_ONLY;
    if (!(sflags & SF_EVAL_COMPAT) && (sflags & SF_ALLOW_OOM)) run->flags |= RUN_ALLOW_OOM;
    if (oom) run->flags |= RUN_OOM_AT_START;
    return OK;
}

/* Runs the function on L's stack top (errh below it) and replies to the caller. */
static void run_script(lua_State *L, script_run *run, int nkeys, const resp_arg *keys, int nargs,
                       const resp_arg *args) {
    client *fc = sl_fake_client();
    fc->db = run->caller->db;
    fc->resp = 2;
    fc->script_caller = run->caller; /* tracking: NOLOOP and reads count for the caller */
    run->start_us = clock_ustime();
    script_current = run;
    server_set_in_script(1);
    sl_call(L, run, nkeys, keys, nargs, args);
    if (run->flags & RUN_TIMEDOUT) {
        server_set_script_busy(NULL);
        server_log(LL_WARNING, "Slow script finished after %lld milliseconds.",
                   (long long)(clock_ustime() - run->start_us) / 1000);
    }
    server_set_in_script(0);
    script_current = NULL;
    fc->db = server_db(0);
    fc->script_caller = NULL;
    kv_now_ms = server_mstime();
}

/* numkeys at argv[2]: ERR after replying. */
static int numkeys_or_reply(client *c, long long *nk, const char *badnum) {
    if (badnum) {
        char *e;
        *nk = strtoll(c->argv[2].p, &e, 10);
        if (*e || c->argv[2].len == 0) {
            reply_error(c, badnum);
            return ERR;
        }
    } else if (arg_ll_or_reply(c, &c->argv[2], nk, NULL) != OK) {
        return ERR;
    }
    if (*nk > c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return ERR;
    }
    if (*nk < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return ERR;
    }
    return OK;
}

static void eval_generic(client *c, int evalsha, int ro) {
    long long nk;
    if (numkeys_or_reply(c, &nk, NULL) != OK) return;
    eval_engine_init();
    lscript *s;
    if (evalsha) {
        char sha[40];
        if (c->argv[1].len != 40) {
            reply_error(c, ERR_NOSCRIPT);
            return;
        }
        for (int i = 0; i < 40; i++) sha[i] = (char)tolower((unsigned char)c->argv[1].p[i]);
        s = dict_find(scripts, sha, 40);
        if (!s) {
            reply_error(c, ERR_NOSCRIPT);
            return;
        }
    } else {
        s = script_create(c, c->argv[1].p, c->argv[1].len);
        if (!s) return;
    }
    script_run run;
    if (prepare_run(c, &run, s->flags, ro, 1) != OK) return;
    char fname[43] = "f_";
    memcpy(fname + 2, s->sha, 40);
    fname[42] = '\0';
    run.funcname = fname + 2; /* errors name the script by its sha */
    sl_push_errh(Leval);
    lua_getfield(Leval, LUA_REGISTRYINDEX, fname);
    run_script(Leval, &run, (int)nk, c->argv + 3, c->argc - 3 - (int)nk, c->argv + 3 + nk);
}

void eval_command(client *c) {
    monitor_feed(c, c->argc, c->argv); /* before the commands it runs */
    eval_generic(c, 0, 0);
}
void evalsha_command(client *c) {
    monitor_feed(c, c->argc, c->argv); /* before the commands it runs */
    eval_generic(c, 1, 0);
}
void eval_ro_command(client *c) {
    monitor_feed(c, c->argc, c->argv); /* before the commands it runs */
    eval_generic(c, 0, 1);
}
void evalsha_ro_command(client *c) {
    monitor_feed(c, c->argc, c->argv); /* before the commands it runs */
    eval_generic(c, 1, 1);
}

/* EVAL script numkeys key... / FCALL function numkeys key... */
int getkeys_eval(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    if (argc < 3) return 0;
    char *e;
    long long nk = strtoll(argv[2].p, &e, 10);
    if (*e || nk <= 0 || nk > argc - 3) return 0;
    int n = 0;
    for (long long i = 0; i < nk && n < max; i++) keys[n++] = 3 + (int)i;
    return n;
}

/* ---- busy scripts -----------------------------------------------------------------------------
 */

int script_interrupt(script_run *run) {
    if (!(run->flags & RUN_TIMEDOUT)) {
        long long elapsed = (clock_ustime() - run->start_us) / 1000;
        if (elapsed < server_busy_reply_threshold()) return 0;
        server_log(LL_WARNING,
                   "Slow script detected: still in execution after %lld milliseconds. You can try "
                   "killing the script using the %s command. Script name is: %s.",
                   elapsed, (run->flags & RUN_EVAL_MODE) ? "SCRIPT KILL" : "FUNCTION KILL",
                   run->funcname);
        run->flags |= RUN_TIMEDOUT;
        server_set_script_busy((run->flags & RUN_EVAL_MODE) ? ERR_BUSY_EVAL : ERR_BUSY_FUNC);
    }
    server_serve_while_busy(run->caller);
    if (server_shutting_down()) run->flags |= RUN_KILLED; /* SHUTDOWN NOSAVE wins over anything */
    return (run->flags & RUN_KILLED) != 0;
}

static void script_kill(client *c, int is_eval) {
    script_run *run = script_current;
    if (!run) {
        reply_error(c, "NOTBUSY No scripts in execution right now.");
    } else if (run->flags & RUN_WRITE_DIRTY) {
        reply_error(c,
                    "UNKILLABLE Sorry the script already executed write commands against the "
                    "dataset. You can either wait the script termination or kill the server in a "
                    "hard way using the SHUTDOWN NOSAVE command.");
    } else if (is_eval && !(run->flags & RUN_EVAL_MODE)) {
        reply_error(c, ERR_BUSY_FUNC);
    } else if (!is_eval && (run->flags & RUN_EVAL_MODE)) {
        reply_error(c, ERR_BUSY_EVAL);
    } else {
        run->flags |= RUN_KILLED;
        reply_ok(c);
    }
}

/* ---- SCRIPT -------------------------------------------------------------------------------------
 */

void script_load_command(client *c) {
    lscript *s = script_create(c, c->argv[2].p, c->argv[2].len);
    if (s) reply_bulk(c, s->sha, 40);
}

void script_exists_command(client *c) {
    eval_engine_init();
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        char sha[40];
        int found = 0;
        if (c->argv[j].len == 40) {
            for (int i = 0; i < 40; i++) sha[i] = (char)tolower((unsigned char)c->argv[j].p[i]);
            found = dict_find(scripts, sha, 40) != NULL;
        }
        reply_int(c, found);
    }
}

void script_flush_command(client *c) {
    if (c->argc > 3 ||
        (c->argc == 3 && !arg_is(&c->argv[2], "sync") && !arg_is(&c->argv[2], "async"))) {
        reply_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    eval_engine_reset();
    reply_ok(c);
}

void script_kill_command(client *c) {
    script_kill(c, 1);
}

void script_debug_command(client *c) {
    if (arg_is(&c->argv[2], "no")) {
        reply_ok(c);
    } else if (arg_is(&c->argv[2], "yes") || arg_is(&c->argv[2], "sync")) {
        reply_error(c, "ERR SCRIPT DEBUG (the Lua debugger) is not supported by Larder");
    } else {
        reply_error(c, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

void script_help_command(client *c) {
    static const char *const help[] = {
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        NULL};
    reply_help(c, "script", help);
}

/* ---- FUNCTION -----------------------------------------------------------------------------------
 */

typedef struct fn_lib fn_lib;
typedef struct fn_def {
    fn_lib *lib;
    int ref;
    unsigned flags;
    char *desc; /* NULL when not given */
    size_t desclen;
    size_t len;
    char name[];
} fn_def;

struct fn_lib {
    char *name;
    char *code;
    size_t codelen;
    int nfuncs;
    fn_def **funcs;
};

/* Function names are case-insensitive: the dict key is the lowercase copy
 * stored after the name. */
static const void *fn_key(const void *e, size_t *len) {
    const fn_def *f = e;
    *len = f->len;
    return f->name + f->len + 1;
}

static dict *functions;
static fn_def *fn_find(const char *name, size_t len) {
    char buf[256];
    if (len >= sizeof(buf) || !functions) return NULL;
    for (size_t i = 0; i < len; i++) buf[i] = (char)tolower((unsigned char)name[i]);
    return dict_find(functions, buf, len);
}
static const void *lib_key(const void *e, size_t *len) {
    const fn_lib *l = e;
    *len = strlen(l->name);
    return l->name;
}
static const dict_type fn_type = {hash_bytes, fn_key, NULL};
static const dict_type lib_type = {hash_bytes, lib_key, NULL};

#define FUNCTION_LOAD_TIMEOUT_MS 500 /* as Redis: library code only registers functions */

static lua_State *Lfunc;
static dict *functions, *libraries;
static fn_lib *loading_lib; /* while FUNCTION LOAD runs the library's code */

static void func_engine_init(void) {
    if (Lfunc) return;
    Lfunc = sl_state_new(1);
    functions = dict_new(&fn_type);
    libraries = dict_new(&lib_type);
}

static int valid_name(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

static void lib_free(fn_lib *l, int unref) {
    for (int i = 0; i < l->nfuncs; i++) {
        if (unref && Lfunc) luaL_unref(Lfunc, LUA_REGISTRYINDEX, l->funcs[i]->ref);
        xfree(l->funcs[i]->desc);
        xfree(l->funcs[i]);
    }
    xfree(l->funcs);
    xfree(l->name);
    xfree(l->code);
    xfree(l);
}

size_t function_library_count(void) {
    return libraries ? dict_size(libraries) : 0;
}

int script_loading_library(void) {
    return loading_lib != NULL;
}

int script_register_function(const char *name, size_t len, const char *desc, size_t dlen, int ref,
                             unsigned flags, const char **err) {
    if (!loading_lib) {
        *err = "redis.register_function can only be called on FUNCTION LOAD command";
        return ERR;
    }
    if (!valid_name(name, len)) {
        /* Redis 7.0 says "Library" here too */
        *err = "Library names can only contain letters, numbers, or underscores(_) and must be at "
               "least one character long";
        return ERR;
    }
    for (int i = 0; i < loading_lib->nfuncs; i++)
        if (loading_lib->funcs[i]->len == len && !memcmp(loading_lib->funcs[i]->name, name, len)) {
            *err = "Function already exists in the library";
            return ERR;
        }
    fn_def *f = xmalloc(sizeof(*f) + 2 * (len + 1));
    f->desc = desc ? xmemdup(desc, dlen) : NULL;
    f->desclen = dlen;
    f->lib = loading_lib;
    f->ref = ref;
    f->flags = flags;
    f->len = len;
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    for (size_t i = 0; i < len; i++) f->name[len + 1 + i] = (char)tolower((unsigned char)name[i]);
    f->name[2 * len + 1] = '\0';
    loading_lib->funcs =
        xrealloc(loading_lib->funcs, sizeof(fn_def *) * (size_t)(loading_lib->nfuncs + 1));
    loading_lib->funcs[loading_lib->nfuncs++] = f;
    return OK;
}

static void lib_unlink(fn_lib *l) {
    for (int i = 0; i < l->nfuncs; i++)
        dict_remove(functions, l->funcs[i]->name + l->funcs[i]->len + 1, l->funcs[i]->len);
    dict_remove(libraries, l->name, strlen(l->name));
}

static void lib_link(fn_lib *l) {
    for (int i = 0; i < l->nfuncs; i++) dict_add(functions, l->funcs[i]);
    dict_add(libraries, l);
}

/* "#!lua name=<lib>" -> engine check and the library name; *code after the line. */
static int parse_lib_meta(const char *p, size_t len, char **name, size_t *skip, sbuf *e) {
    if (len < 2 || memcmp(p, "#!", 2) != 0) {
        sbuf_puts(e, "ERR Missing library metadata");
        return ERR;
    }
    const char *nl = memchr(p, '\n', len);
    if (!nl) {
        sbuf_puts(e, "ERR Invalid library metadata");
        return ERR;
    }
    *skip = (size_t)(nl - p);
    char *line = xmemdup(p, *skip);
    resp_arg *parts = NULL;
    int cap = 0, n = 0, rc = OK;
    n = resp_split_args(line, *skip, &parts, &cap, &n);
    *name = NULL;
    if (n <= 0) {
        sbuf_puts(e, "ERR Invalid library metadata");
        rc = ERR;
    } else if (strcasecmp(parts[0].p + 2, "lua") != 0) {
        sbuf_printf(e, "ERR Engine '%s' not found", parts[0].p + 2);
        rc = ERR;
    }
    for (int j = 1; rc == OK && j < n; j++) {
        if (strncmp(parts[j].p, "name=", 5) == 0) {
            if (*name) {
                sbuf_puts(e, "ERR Invalid metadata value, name argument was given multiple times");
                rc = ERR;
                break;
            }
            *name = xstrdup(parts[j].p + 5);
        } else {
            sbuf_printf(e, "ERR Invalid metadata value given: %s", parts[j].p);
            rc = ERR;
        }
    }
    if (rc == OK && !*name) {
        sbuf_puts(e, "ERR Library name was not given");
        rc = ERR;
    }
    if (rc == OK && !valid_name(*name, strlen(*name))) {
        sbuf_puts(e, "ERR Library names can only contain letters, numbers, or underscores(_) and "
                     "must be at least one character long");
        rc = ERR;
    }
    if (rc != OK) {
        xfree(*name);
        *name = NULL;
    }
    xfree(parts);
    xfree(line);
    return rc;
}

/* Loads a library (replace: an existing one of that name goes). Returns the
 * library or NULL with e filled. */
static fn_lib *function_load(const char *code, size_t len, int replace, int restoring, sbuf *e) {
    func_engine_init();
    char *name;
    size_t skip;
    if (parse_lib_meta(code, len, &name, &skip, e) != OK) return NULL;
    fn_lib *old = dict_find(libraries, name, strlen(name));
    if (old && !replace) {
        /* Redis 7.0's two texts: FUNCTION LOAD quotes the name, FUNCTION RESTORE does not */
        sbuf_printf(e,
                    restoring ? "ERR Library %s already exists" : "ERR Library '%s' already exists",
                    name);
        xfree(name);
        return NULL;
    }
    fn_lib *l = xcalloc(1, sizeof(*l));
    l->name = name;
    l->code = xmemdup(code, len);
    l->codelen = len;
    int top = lua_gettop(Lfunc);
    if (luaL_loadbuffer(Lfunc, code + skip, len - skip, "@user_function")) {
        sbuf_printf(e, "ERR Error compiling function: %s", lua_tostring(Lfunc, -1));
        lua_settop(Lfunc, top);
        lib_free(l, 0);
        return NULL;
    }
    loading_lib = l;
    int rc = sl_run_library(Lfunc, FUNCTION_LOAD_TIMEOUT_MS);
    loading_lib = NULL;
    if (rc) {
        const char *msg = "unknown error";
        if (lua_istable(Lfunc, -1)) {
            lua_getfield(Lfunc, -1, "err");
            if (lua_isstring(Lfunc, -1)) msg = lua_tostring(Lfunc, -1);
        } else if (lua_isstring(Lfunc, -1)) {
            msg = lua_tostring(Lfunc, -1);
        }
        sbuf_printf(e, "ERR Error registering functions: %s", msg);
        lua_settop(Lfunc, top);
        lib_free(l, 1);
        return NULL;
    }
    lua_settop(Lfunc, top);
    if (l->nfuncs == 0) {
        sbuf_puts(e, "ERR No functions registered");
        lib_free(l, 1);
        return NULL;
    }
    for (int i = 0; i < l->nfuncs; i++) {
        fn_def *other = fn_find(l->funcs[i]->name, l->funcs[i]->len);
        if (other && other->lib != old) {
            sbuf_printf(e, "ERR Function %s already exists", l->funcs[i]->name);
            lib_free(l, 1);
            return NULL;
        }
    }
    if (old) {
        lib_unlink(old);
        lib_free(old, 1);
    }
    lib_link(l);
    return l;
}

void function_load_command(client *c) {
    int replace = 0, j = 2;
    for (; j < c->argc - 1; j++) {
        if (arg_is(&c->argv[j], "replace")) {
            replace = 1;
        } else {
            reply_errorf(c, "ERR Unknown option given: %s", c->argv[j].p);
            return;
        }
    }
    if (j >= c->argc) {
        reply_error(c, "ERR Function code is missing");
        return;
    }
    sbuf e = SBUF_INIT;
    fn_lib *l = function_load(c->argv[j].p, c->argv[j].len, replace, 0, &e);
    if (l)
        reply_bulk_cstr(c, l->name);
    else
        reply_error(c, e.p);
    sbuf_free(&e);
    server_add_dirty(1);
}

static void fcall_generic(client *c, int ro) {
    func_engine_init();
    fn_def *f = fn_find(c->argv[1].p, c->argv[1].len);
    if (!f) {
        reply_error(c, "ERR Function not found");
        return;
    }
    long long nk;
    if (numkeys_or_reply(c, &nk, "ERR Bad number of keys provided") != OK) return;
    script_run run;
    if (prepare_run(c, &run, f->flags, ro, 0) != OK) return;
    run.funcname = f->name;
    sl_push_errh(Lfunc);
    lua_rawgeti(Lfunc, LUA_REGISTRYINDEX, f->ref);
    run_script(Lfunc, &run, (int)nk, c->argv + 3, c->argc - 3 - (int)nk, c->argv + 3 + nk);
}

void fcall_command(client *c) {
    monitor_feed(c, c->argc, c->argv); /* before the commands it runs */
    fcall_generic(c, 0);
}
void fcall_ro_command(client *c) {
    monitor_feed(c, c->argc, c->argv); /* before the commands it runs */
    fcall_generic(c, 1);
}

void function_delete_command(client *c) {
    func_engine_init();
    fn_lib *l = dict_find(libraries, c->argv[2].p, c->argv[2].len);
    if (!l) {
        reply_error(c, "ERR Library not found");
        return;
    }
    lib_unlink(l);
    lib_free(l, 1);
    server_add_dirty(1);
    reply_ok(c);
}

static void functions_clear(void) {
    if (!Lfunc) return;
    dict_iter it;
    fn_lib *l;
    fn_lib **all = xmalloc(sizeof(*all) * (dict_size(libraries) + 1));
    size_t n = 0;
    dict_iter_init(&it, libraries);
    while ((l = dict_iter_next(&it))) all[n++] = l;
    dict_iter_done(&it);
    for (size_t i = 0; i < n; i++) {
        lib_unlink(all[i]);
        lib_free(all[i], 0);
    }
    xfree(all);
    sl_state_free(Lfunc);
    Lfunc = NULL;
    dict_free(functions, NULL, NULL);
    dict_free(libraries, NULL, NULL);
    functions = libraries = NULL;
    func_engine_init();
}

void function_flush_command(client *c) {
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if ((c->argc == 3 && !arg_is(&c->argv[2], "sync") && !arg_is(&c->argv[2], "async"))) {
        reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    functions_clear();
    server_add_dirty(1);
    reply_ok(c);
}

void function_kill_command(client *c) {
    script_kill(c, 0);
}

static void reply_flags_set(client *c, unsigned flags) {
    int n = 0;
    for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
        if (flags & flag_names[k].flag) n++;
    reply_set(c, n);
    for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
        if (flags & flag_names[k].flag) reply_bulk_cstr(c, flag_names[k].name);
}

void function_list_command(client *c) {
    func_engine_init();
    int withcode = 0;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int j = 2; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "withcode") && !withcode) {
            withcode = 1;
        } else if (arg_is(&c->argv[j], "libraryname") && j + 1 < c->argc && !pat) {
            pat = c->argv[++j].p;
            patlen = c->argv[j].len;
        } else if (arg_is(&c->argv[j], "libraryname") && j + 1 >= c->argc) {
            reply_error(c, "ERR library name argument was not given");
            return;
        } else {
            reply_errorf(c, "ERR Unknown argument %s", c->argv[j].p);
            return;
        }
    }
    void *h = reply_defer_len(c);
    long n = 0;
    dict_iter it;
    fn_lib *l;
    dict_iter_init(&it, libraries);
    while ((l = dict_iter_next(&it))) {
        if (pat && !glob_match(pat, patlen, l->name, strlen(l->name), 0)) continue;
        n++;
        reply_map(c, withcode ? 4 : 3);
        reply_bulk_cstr(c, "library_name");
        reply_bulk_cstr(c, l->name);
        reply_bulk_cstr(c, "engine");
        reply_bulk_cstr(c, "LUA");
        reply_bulk_cstr(c, "functions");
        reply_array(c, l->nfuncs);
        for (int i = 0; i < l->nfuncs; i++) {
            reply_map(c, 3);
            reply_bulk_cstr(c, "name");
            reply_bulk_cstr(c, l->funcs[i]->name);
            reply_bulk_cstr(c, "description");
            if (l->funcs[i]->desc)
                reply_bulk(c, l->funcs[i]->desc, l->funcs[i]->desclen);
            else
                reply_null(c);
            reply_bulk_cstr(c, "flags");
            reply_flags_set(c, l->funcs[i]->flags);
        }
        if (withcode) {
            reply_bulk_cstr(c, "library_code");
            reply_bulk(c, l->code, l->codelen);
        }
    }
    dict_iter_done(&it);
    reply_set_deferred_array(c, h, n);
}

void function_stats_command(client *c) {
    func_engine_init();
    reply_map(c, 2);
    reply_bulk_cstr(c, "running_script");
    script_run *run = script_current;
    if (!run || (run->flags & RUN_EVAL_MODE)) {
        reply_null(c);
    } else {
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, run->funcname);
        reply_bulk_cstr(c, "command");
        client *k = run->caller;
        int argc = k->argc;
        reply_array(c, argc);
        for (int i = 0; i < argc; i++) reply_bulk(c, k->argv[i].p, k->argv[i].len);
        reply_bulk_cstr(c, "duration_ms");
        reply_int(c, (clock_ustime() - run->start_us) / 1000);
    }
    reply_bulk_cstr(c, "engines");
    reply_map(c, 1);
    reply_bulk_cstr(c, "LUA");
    reply_map(c, 2);
    reply_bulk_cstr(c, "libraries_count");
    reply_int(c, (long long)dict_size(libraries));
    reply_bulk_cstr(c, "functions_count");
    reply_int(c, (long long)dict_size(functions));
}

/* DUMP payload: "LRDFN1" then per library <u32 length><code>, then a CRC-free
 * trailer "END". Only Larder reads it back (Redis's is an RDB fragment). */
/* The body of a FUNCTION DUMP payload: every library's code as len:u32 code. */
static void functions_serialize(sbuf *b) {
    dict_iter it;
    fn_lib *l;
    dict_iter_init(&it, libraries);
    while ((l = dict_iter_next(&it))) {
        uint32_t n = (uint32_t)l->codelen;
        sbuf_append(b, &n, 4);
        sbuf_append(b, l->code, l->codelen);
    }
    dict_iter_done(&it);
}

/* Loads the libraries of a payload body (framing already checked). Returns OK,
 * or ERR with e filled and the libraries loaded before the failing one kept. */
static int functions_load_body(const char *p, const char *end, int replace, sbuf *e) {
    while (p < end) {
        uint32_t n;
        memcpy(&n, p, 4);
        if (!function_load(p + 4, n, replace, 1, e)) return ERR;
        p += 4 + n;
    }
    return OK;
}

void function_dump_command(client *c) {
    func_engine_init();
    sbuf b = SBUF_INIT;
    sbuf_append(&b, "LRDFN1", 6);
    functions_serialize(&b);
    sbuf_append(&b, "END", 3);
    reply_bulk(c, b.p, b.len);
    sbuf_free(&b);
}

void function_restore_command(client *c) {
    func_engine_init();
    int policy = 1; /* 0 flush, 1 append, 2 replace */
    if (c->argc > 4) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 4) {
        if (arg_is(&c->argv[3], "flush"))
            policy = 0;
        else if (arg_is(&c->argv[3], "append"))
            policy = 1;
        else if (arg_is(&c->argv[3], "replace"))
            policy = 2;
        else {
            reply_error(
                c,
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    const char *p = c->argv[2].p, *end = p + c->argv[2].len;
    if (c->argv[2].len < 9 || memcmp(p, "LRDFN1", 6) || memcmp(end - 3, "END", 3)) {
        reply_error(c, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    p += 6;
    end -= 3;
    /* validate framing first so a bad payload changes nothing */
    for (const char *q = p; q < end;) {
        uint32_t n;
        if (end - q < 4) goto bad;
        memcpy(&n, q, 4);
        if ((size_t)(end - q - 4) < n) goto bad;
        q += 4 + n;
    }
    /* all or nothing: on a failure the libraries as they were come back */
    sbuf before = SBUF_INIT, e = SBUF_INIT;
    functions_serialize(&before);
    if (policy == 0) functions_clear();
    int rc = functions_load_body(p, end, policy == 2, &e);
    if (rc != OK) {
        sbuf again = SBUF_INIT;
        functions_clear();
        int back =
            before.len ? functions_load_body(before.p, before.p + before.len, 0, &again) : OK;
        assert(back == OK);
        (void)back;
        sbuf_free(&again);
        reply_error(c, e.p);
    }
    sbuf_free(&before);
    sbuf_free(&e);
    if (rc != OK) return;
    server_add_dirty(1);
    reply_ok(c);
    return;
bad:
    reply_error(c, "ERR DUMP payload version or checksum are wrong");
}

void function_help_command(client *c) {
    static const char *const help[] = {
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using "
        "FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance "
        "of failure",
        "      in case of functions name collision with another library).",
        NULL};
    reply_help(c, "function", help);
}

/* ---- INFO and DEBUG hooks ---------------------------------------------------------------------
 */

void scripting_info(long long *lua_mem, long long *scripts_bytes, long long *nscripts,
                    long long *func_mem, long long *nfuncs) {
    *lua_mem = (long long)sl_memory(Leval);
    *scripts_bytes = (long long)scripts_mem;
    *nscripts = scripts ? (long long)dict_size(scripts) : 0;
    *func_mem = (long long)sl_memory(Lfunc);
    *nfuncs = functions ? (long long)dict_size(functions) : 0;
}

static void debug_disable_deny_scripts(client *c) {
    if (c->argc != 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    scripting_set_disable_deny(atoi(c->argv[2].p));
    reply_ok(c);
}

__attribute__((constructor)) static void scripting_register_debug(void) {
    debug_register("set-disable-deny-scripts", debug_disable_deny_scripts);
}
