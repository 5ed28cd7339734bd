/* scripting/scripting.h — internal interface between the Lua engine
 * (scripting_lua.c) and the EVAL / SCRIPT / FUNCTION commands (scripting.c).
 * Nothing outside these two files includes it. */
#ifndef LARDER_SCRIPTING_H
#define LARDER_SCRIPTING_H
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include "commands/handlers.h"
#include "server/hooks.h"

/* Script flags: from a "#!lua flags=..." shebang or register_function's flags. */
enum {
    SF_NO_WRITES = 1 << 0,
    SF_ALLOW_OOM = 1 << 1,
    SF_ALLOW_STALE = 1 << 2,
    SF_NO_CLUSTER = 1 << 3,
    SF_ALLOW_CROSS_SLOT = 1 << 4,
    SF_EVAL_COMPAT = 1 << 5, /* EVAL body without a shebang: Redis 6 rules */
};

/* State of the one running script (run_ctx in Redis). */
enum {
    RUN_READ_ONLY = 1 << 0,   /* EVAL_RO / FCALL_RO / no-writes: write commands refused */
    RUN_WRITE_DIRTY = 1 << 1, /* a write command ran: SCRIPT KILL refused */
    RUN_KILLED = 1 << 2,
    RUN_ALLOW_OOM = 1 << 3,
    RUN_EVAL_MODE = 1 << 4, /* EVAL (vs FCALL): KEYS/ARGV are globals */
    RUN_TIMEDOUT = 1 << 5,  /* past busy-reply-threshold: others get -BUSY */
    RUN_OOM_AT_START = 1 << 6,
};

typedef struct script_run {
    client *caller;
    const char *funcname; /* "f_<sha>" or the function's name */
    unsigned flags;
    int64_t start_us;
} script_run;

/* ---- scripting_lua.c ---------------------------------------------------------- */

/* A new Lua state with the libraries, the redis API and the sandbox. With
 * for_functions, also the load-time API that library code sees (see
 * sl_run_library). */
lua_State *sl_state_new(int for_functions);
/* Runs the compiled library code on the stack top (popped) as FUNCTION LOAD
 * does: its globals are only `redis` with register_function, log and the
 * constants; past timeout_ms it fails with "FUNCTION LOAD timeout". Returns
 * lua_pcall's code, the error on the stack top when not 0. */
int sl_run_library(lua_State *L, int64_t timeout_ms);
void sl_state_free(lua_State *L);
/* The function on the stack top (error handler below it for eval, see
 * scripting.c) is called; its result or error is replied to run->caller.
 * keys/args become KEYS/ARGV (globals in eval mode, arguments otherwise). */
void sl_call(lua_State *L, script_run *run, int nkeys, const resp_arg *keys, int nargs,
             const resp_arg *args);
/* Memory used by a Lua state, bytes. */
size_t sl_memory(lua_State *L);
/* The client Lua commands run through (CLIENT_FAKE). */
client *sl_fake_client(void);

/* ---- scripting_msgpack.c, scripting_struct.c ----------------------------------- */
/* lua_CFunctions that push the cmsgpack and struct library tables. */
/* Pushes the message handler lua_pcall uses for script errors (made when the
 * state is created). */
void sl_push_errh(lua_State *L);
/* SHA1 of p as 40 lowercase hex characters and a NUL. */
void scripting_sha1hex(char out[41], const void *p, size_t len);
/* DEBUG SET-DISABLE-DENY-SCRIPTS: while on, scripts may call no-script commands. */
void scripting_set_disable_deny(int on);
int sl_open_cmsgpack(lua_State *L);
int sl_open_struct(lua_State *L);

/* ---- scripting.c: what the engine calls back -------------------------------- */
/* Called from the Lua count hook: time-limit check, event polling while busy.
 * Returns 1 if the script must stop (killed). */
int script_interrupt(script_run *run);
/* Function libraries: register_function while `FUNCTION LOAD` runs the code. */
int script_register_function(const char *name, size_t len, const char *desc, size_t dlen, int ref,
                             unsigned flags, const char **err);
/* Nonzero while FUNCTION LOAD runs a library's code. */
int script_loading_library(void);
extern script_run *script_current; /* NULL when no script runs */
#endif
