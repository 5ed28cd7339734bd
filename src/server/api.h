/* server/api.h — the handler API: what command families (src/commands,
 * src/scripting) and persistence may use of the server: clients, replies,
 * argument parsers, lookups, signals, blocking. The server's own state
 * (server/server.h) stays private to src/server; handlers read what they
 * need of it through the accessors below.
 *
 * Threading: everything here belongs to the loop thread; other threads reach
 * it only through queues and ev_async.
 *
 * A command handler reads: parse -> validate (helpers that reply the error
 * themselves and return ERR, named *_or_reply) -> act -> reply -> side effects
 * (signal_modified_key, notify_keyspace_event, server_add_dirty).
 *
 * Arguments: c->argv[i].p / .len point into the client's query buffer and are
 * NUL-terminated; they are valid only while the handler runs (a command that
 * must outlive that — queued in MULTI, blocked — is copied by the server). */
#ifndef LARDER_SERVER_API_H
#define LARDER_SERVER_API_H
#include <ev.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "kv/db.h"
#include "kv/dict.h"
#include "kv/object.h"
#include "resp/resp.h"
#include "util/list.h"
#include "util/sbuf.h"
#include "util/strutil.h"

#define LARDER_VERSION "7.0.15" /* the Redis version whose behaviour we follow */
#define LARDER_OWN_VERSION "0.1.0"
#define OK 0
#define ERR (-1)

typedef struct client client;
typedef struct command command;
typedef void command_fn(client *c);

/* ---- command table ------------------------------------------------------- */

enum {
    CMD_WRITE = 1ULL << 0,
    CMD_READONLY = 1ULL << 1,
    CMD_DENYOOM = 1ULL << 2,
    CMD_ADMIN = 1ULL << 3,
    CMD_PUBSUB = 1ULL << 4,
    CMD_NOSCRIPT = 1ULL << 5,
    CMD_BLOCKING = 1ULL << 6,
    CMD_LOADING = 1ULL << 7, /* allowed while loading */
    CMD_STALE = 1ULL << 8,
    CMD_SKIP_MONITOR = 1ULL << 9,
    CMD_SKIP_SLOWLOG = 1ULL << 10,
    CMD_FAST = 1ULL << 11,
    CMD_NO_AUTH = 1ULL << 12,
    CMD_MAY_REPLICATE = 1ULL << 13,
    CMD_NO_MULTI = 1ULL << 14,
    CMD_MOVABLE_KEYS = 1ULL << 15,
    CMD_ALLOW_BUSY = 1ULL << 16,
    CMD_NO_MANDATORY_KEYS = 1ULL << 17,
    CMD_NO_ASYNC_LOADING = 1ULL << 18,
    CMD_TOUCHES_ARBITRARY_KEYS = 1ULL << 19,
    CMD_SENTINEL = 1ULL << 20,
    CMD_ONLY_SENTINEL = 1ULL << 21,
    CMD_STORE = 1ULL << 22, /* Larder: may wait on the store thread */
};

/* Key extraction for commands whose keys are not at fixed positions. Fills
 * positions into keys (up to max), returns the count. */
typedef int command_getkeys_fn(const command *cmd, int argc, const resp_arg *argv, int *keys,
                               int max);

struct command {
    const char *name; /* lowercase; subcommands: "get" under "config" */
    command_fn *proc;
    int arity;         /* > 0 exact, < 0 at least -arity */
    const char *flags; /* "write denyoom fast" */
    int first_key, last_key, key_step;
    const char *acl;   /* "@string @fast" extra categories */
    const char *group; /* COMMAND DOCS group */
    const char *since;
    const char *summary;
    const char *complexity;
    const char *syntax; /* arguments, as in the docs: "key value [NX | XX]" */
    command_getkeys_fn *getkeys;
    const command *subcommands; /* terminated by a row with name == NULL */
    /* filled at start-up */
    uint64_t flag_bits;
    uint64_t acl_bits;
    const command *parent;
    char *fullname; /* "config|get" */
    int id;
    uint32_t name_len; /* strlen(name): command lookup compares without strlen */
};

/* Per-command statistics, indexed by command id. */
typedef struct latency_hist latency_hist; /* server/latency.c */
typedef struct command_stats {
    long long calls, usec, rejected_calls, failed_calls;
    latency_hist *hist; /* durations, once the command has run with latency-tracking on */
} command_stats;

/* ---- clients ---------------------------------------------------------------- */

enum {
    CLIENT_CLOSE_AFTER_REPLY = 1 << 0,
    CLIENT_CLOSE_ASAP = 1 << 1,
    CLIENT_MULTI = 1 << 2,
    CLIENT_DIRTY_CAS = 1 << 3,  /* a WATCHed key changed */
    CLIENT_DIRTY_EXEC = 1 << 4, /* a command queued in MULTI was rejected */
    CLIENT_BLOCKED = 1 << 5,
    CLIENT_PENDING_WRITE = 1 << 6,
    CLIENT_PUBSUB = 1 << 7,
    CLIENT_TRACKING = 1 << 8,
    CLIENT_TRACKING_BCAST = 1 << 9,
    CLIENT_TRACKING_OPTIN = 1 << 10,
    CLIENT_TRACKING_OPTOUT = 1 << 11,
    CLIENT_TRACKING_CACHING = 1 << 12,
    CLIENT_TRACKING_NOLOOP = 1 << 13,
    CLIENT_TRACKING_BROKEN_REDIR = 1 << 14,
    CLIENT_NO_EVICT = 1 << 15,
    CLIENT_UNIX_SOCKET = 1 << 16,
    CLIENT_PROTOCOL_ERROR = 1 << 17,
    CLIENT_EXECUTING = 1 << 18, /* inside its own command (do not free now) */
    CLIENT_UNBLOCKED = 1 << 19, /* in the queue of clients to resume */
    CLIENT_PENDING_COMMAND = 1 << 20,
    CLIENT_FAKE = 1 << 21, /* no connection (Lua, replay) */
    CLIENT_DENY_BLOCKING = 1 << 22,
    CLIENT_IN_TO_TABLE = 1 << 23,
    CLIENT_AUTHENTICATED = 1 << 24,
    CLIENT_REPLY_OFF = 1 << 25,
    CLIENT_REPLY_SKIP_NEXT = 1 << 26,
    CLIENT_REPLY_SKIP = 1 << 27,
    CLIENT_NO_TOUCH = 1 << 28,
    CLIENT_TLS = 1 << 29,
    CLIENT_MONITOR = 1 << 30,
};

/* Why a client is blocked. */
enum {
    BLOCKED_NONE = 0,
    BLOCKED_LIST, /* BLPOP & co: woken by key readiness */
    BLOCKED_ZSET,
    BLOCKED_STREAM, /* XREAD/XREADGROUP BLOCK */
    BLOCKED_SLEEP,  /* DEBUG SLEEP-like waits, WAIT */
    BLOCKED_PAUSE,  /* CLIENT PAUSE */
    BLOCKED_STORE,  /* waiting for the store thread (persistence) */
    BLOCKED_LOCK,   /* LOCK.ACQUIRE WAIT */
    BLOCKED_MODULE,
};

/* An owned copy of a command's arguments (one allocation). */
typedef struct argv_copy {
    int argc;
    resp_arg *argv;
} argv_copy;

typedef struct multi_cmd {
    const command *cmd;
    argv_copy args;
} multi_cmd;

typedef struct reply_block {
    struct reply_block *next;
    size_t size, used;
    char buf[];
} reply_block;

/* A blocked client's wait. Handlers fill the fields they need; the server
 * owns timeout handling and unblocking. */
typedef struct block_state {
    int type;
    int64_t timeout_ms; /* absolute unix ms, 0 = forever */
    argv_copy args;     /* the blocked command, re-run when a key is ready */
    const command *cmd;
    int nkeys;
    char **keys; /* owned copies of the keys waited on */
    size_t *keylens;
    int dbid;
    void *priv;                    /* type-specific state */
    void (*on_timeout)(client *c); /* reply on timeout (default: null array) */
    void (*on_unblock)(client *c); /* release priv */
    ev_timer timer;
    list_node timeout_node;
} block_state;

struct client {
    uint64_t id;
    int fd;
    void *tls; /* SSL* when a TLS connection */
    ev_io rio, wio;
    void *uring; /* server/uring's state when the ring carries its bytes */
    uint64_t flags;
    int resp; /* 2 or 3 */
    db *db;
    char *name;
    char *lib_name, *lib_ver;
    char addr[64], laddr[64];
    int64_t ctime_ms, last_interaction_ms;

    /* input */
    char *qbuf;
    size_t qlen, qcap, qpos; /* bytes in buffer; capacity; start of unparsed data */
    size_t qpeak;
    resp_req req;
    int argc;
    resp_arg *argv;
    const command *cmd, *lastcmd;
    long long commands_processed;

    /* output */
    reply_block *rhead, *rtail;
    size_t reply_bytes; /* bytes queued, not yet written */
    size_t sentlen;     /* bytes of rhead already written */
    int64_t obuf_soft_limit_since_ms;
    list_node pending_write_node;
    unsigned long long net_in, net_out;
    /* Reply barrier: the replies queued so far acknowledge writes that are
     * durable once the server's durable position reaches reply_after (a
     * write-behind journal record); until then nothing is written
     * (barrier_node: on the server's list of barred clients). */
    uint64_t reply_after;
    int reply_holds; /* reply_barrier_hold() calls not yet released: barred too */
    list_node barrier_node;

    /* MULTI/EXEC and WATCH */
    multi_cmd *mqueue;
    int mcount, mcap;
    list_head watched; /* of watched_key (server/multi.c) */

    /* blocking */
    block_state bstate;
    list_node unblocked_node;

    /* pub/sub (server/pubsub.c) */
    dict *pubsub_channels;
    dict *pubsub_patterns;
    dict *pubsub_shard_channels;

    /* client-side caching (server/tracking.c) */
    uint64_t tracking_redirect;
    dict *tracking_prefixes;

    /* loop bookkeeping */
    list_node node;         /* in server.clients */
    list_node close_node;   /* in server.clients_to_close */
    list_node monitor_node; /* in server.monitors (CLIENT_MONITOR) */
    void *user;             /* ACL user */
    void *persist;          /* persistence layer per-client state */
    void *script_caller;    /* Lua: the real client running the script */
    /* audit log (server/audit.c): denied events written, and those not */
    unsigned audit_denied_logged;
    unsigned long long audit_denied_unlogged;
};

/* ---- replies (networking.c) -------------------------------------------------- */

void reply_raw(client *c, const void *p, size_t len);
void reply_status(client *c, const char *s); /* +s */
void reply_ok(client *c);
/* msg is the whole error text including its code: "ERR syntax error",
 * "WRONGTYPE ...". A leading '-' is accepted and dropped. Newlines are
 * replaced by spaces (an error is one line). Counted in INFO errorstats. */
void reply_error(client *c, const char *msg);
void reply_errorf(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(client *c, long long v);
void reply_bulk(client *c, const void *p, size_t len);
void reply_bulk_cstr(client *c, const char *s);
void reply_bulk_ll(client *c, long long v);
void reply_null(client *c);       /* $-1 / _ */
void reply_null_array(client *c); /* *-1 / _ */
void reply_array(client *c, long n);
void reply_map(client *c, long n); /* RESP2: array of 2n */
void reply_set(client *c, long n);
void reply_push(client *c, long n);
void reply_attribute(client *c, long n);
void reply_double(client *c, double d);
/* A double given as its text (RESP3 ",text", RESP2 a bulk of it): GEO's
 * coordinates, which Redis prints its own way. */
void reply_double_text(client *c, const char *s, size_t len);
void reply_bool(client *c, int v);
void reply_bignum(client *c, const char *s, size_t len);
void reply_verbatim(client *c, const char *s, size_t len, const char *ext);
void reply_empty_array(client *c);
void reply_help(client *c, const char *cmdname, const char *const *lines);
void reply_subcommand_syntax_error(client *c);
/* Deferred aggregate length: reserve now, set when the count is known. */
void *reply_defer_len(client *c);
void reply_set_deferred_array(client *c, void *h, long n);
void reply_set_deferred_map(client *c, void *h, long n);
void reply_set_deferred_set(client *c, void *h, long n);
/* Shared error texts */
#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_NO_KEY "ERR no such key"
#define ERR_OUT_OF_RANGE "ERR index out of range"
#define ERR_OOM "OOM command not allowed when used memory > 'maxmemory'."

/* ---- argument helpers: reply the error themselves and return ERR ------------ */

int arg_ll_or_reply(client *c, const resp_arg *a, long long *out, const char *msg);
int arg_long_range_or_reply(client *c, const resp_arg *a, long long min, long long max,
                            long long *out, const char *msg);
int arg_positive_or_reply(client *c, const resp_arg *a, long long *out, const char *msg);
int arg_double_or_reply(client *c, const resp_arg *a, double *out, const char *msg);
int arg_ldouble_or_reply(client *c, const resp_arg *a, long double *out, const char *msg);
/* Timeout argument of blocking commands (seconds, may be fractional) -> abs ms. */
int arg_timeout_or_reply(client *c, const resp_arg *a, int64_t *abs_ms);
static inline int arg_is(const resp_arg *a, const char *s) {
    return str_eq_nocase(a->p, a->len, s);
}
/* The key's entry if it has the type (NULL if missing); on a type mismatch
 * replies WRONGTYPE and sets *err. */
kobj *lookup_read_or_reply(client *c, const resp_arg *key, int type, int *err);
kobj *lookup_write_typed(client *c, const resp_arg *key, int type, int *err);
/* Reads with keyspace hit/miss stats (Redis's lookupKeyRead). */
kobj *lookup_read(client *c, const resp_arg *key);
kobj *lookup_write(client *c, const resp_arg *key);

/* ---- keyspace side effects ------------------------------------------------- */

/* Every write to a key calls this: WATCH, client-side caching, blocked clients. */
void signal_modified_key(client *c, db *d, const char *key, size_t len);
/* A key got elements that blocked clients may want (LPUSH, ZADD...). */
void signal_key_as_ready(db *d, const char *key, size_t len);
void signal_flushed_db(int dbid); /* -1: all */
/* notify-keyspace-events classes */
enum {
    NOTIFY_KEYSPACE = 1 << 0,
    NOTIFY_KEYEVENT = 1 << 1,
    NOTIFY_GENERIC = 1 << 2,
    NOTIFY_STRING = 1 << 3,
    NOTIFY_LIST = 1 << 4,
    NOTIFY_SET = 1 << 5,
    NOTIFY_HASH = 1 << 6,
    NOTIFY_ZSET = 1 << 7,
    NOTIFY_EXPIRED = 1 << 8,
    NOTIFY_EVICTED = 1 << 9,
    NOTIFY_STREAM = 1 << 10,
    NOTIFY_KEY_MISS = 1 << 11,
    NOTIFY_LOADED = 1 << 12,
    NOTIFY_MODULE = 1 << 13,
    NOTIFY_NEW = 1 << 14,
    NOTIFY_ALL = NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE,
};
void notify_keyspace_event(int type, const char *event, const char *key, size_t klen, int dbid);
int notify_flags_from_string(const char *s, size_t len); /* -1 on bad char */
void notify_flags_to_string(int flags, char *out);       /* out >= 32 bytes */
/* Pub/sub delivery (pubsub.c). Returns receivers. */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen);

/* ---- dispatch and client lifecycle --------------------------------------- */

const command *command_lookup(const resp_arg *argv, int argc, int *sub_missing);
const command *command_lookup_name(const char *name, size_t len);
/* Runs one command for c (argv already set): the whole processCommand path. */
void process_command(client *c);
/* Executes the handler and accounts for it (used by EXEC and scripts too). */
void call_command(client *c, const command *cmd);
int command_keys(const command *cmd, int argc, const resp_arg *argv, int *keys, int max);
/* The keys with how the command touches each (Redis's key specs): positions
 * in pos, the flags' names ("RW", "access", "delete", ...) as one
 * space-separated string per key in names (static strings). Returns the count. */
int command_keys_and_flags(const command *cmd, int argc, const resp_arg *argv, int *pos,
                           const char **names, int max);
/* Does the command name keys at all (Redis's doesCommandHaveKeys)? */
int command_has_keys(const command *cmd);
/* COMMAND INFO's and COMMAND DOCS' key specs of cmd (Redis's own where it has them). */
void command_reply_key_specs(client *c, const command *cmd);
void command_reply_tips(client *c, const command *cmd); /* COMMAND INFO's tips, as Redis's */
client *client_create(int fd, int flags);
void client_free(client *c);
void client_close_async(client *c);
void client_free_argv_copy(argv_copy *a);
void argv_copy_make(argv_copy *dst, int argc, const resp_arg *argv);
void client_set_name(client *c, const char *name, size_t len);
/* Appends CLIENT LIST/INFO text for c. */
void client_info_string(sbuf *b, client *c);
client *client_by_id(uint64_t id);
/* Resumes a client's pending input after it was unblocked. */
void client_resume_input(client *c);
/* Reads served at once until resumed (a busy script's own polling). */
int input_defer_pause(void);
void input_defer_resume(int was);

/* ---- blocking (blocked.c) -------------------------------------------------- */

/* Parks c: its current command (argv copied) re-runs when one of the keys is
 * signalled ready or replies on timeout. timeout_ms absolute, 0 = forever. */
void block_for_keys(client *c, int type, const resp_arg *keys, int nkeys, int64_t timeout_ms,
                    void *priv);
/* Parks c without keys (store waits, sleeps): woken by unblock_client. */
void block_client(client *c, int type, int64_t timeout_ms);
/* Ends the wait; the reply (if any) has been added by the caller. */
void unblock_client(client *c);
/* Counts a blocked command that ends now (served after usec of work, timed
 * out, or unblocked by CLIENT UNBLOCK) in its command's statistics: a call,
 * failed when errors were replied since errors_before, and its latency. */
void blocked_account(client *c, long long errors_before, long long usec);
long long server_error_replies(void); /* error replies so far (INFO total_error_replies) */
/* Handles keys signalled ready: re-runs the blocked commands of waiting
 * clients in FIFO order while the key can serve them. */
void handle_clients_blocked_on_keys(void);
/* Called for a key that was deleted/overwritten (wakes waiters so they can
 * see the type changed, as Redis does for WRONGTYPE). */
void blocked_key_deleted(db *d, const char *key, size_t len);
/* Is the client allowed to block now (not in MULTI, not a script)? */
int client_can_block(const client *c);
/* Is a blocked command being re-run now (its key became ready)? */
int blocked_is_reprocessing(void);
/* While a blocked command is re-run (blocked_is_reprocessing()): the key that
 * was signalled ready, so the command serves from that key only, as Redis
 * does; NULL otherwise. */
const char *blocked_ready_key(size_t *len);

/* ---- multi.c --------------------------------------------------------------- */
void multi_queue_command(client *c);
void multi_discard(client *c);
/* EXEC's run: replies the array of the queued commands' replies, running
 * each with blocking denied, then leaves MULTI (the caller checked WATCH). */
void multi_exec(client *c);
void watch_unwatch_all(client *c);
void watch_touch_key(db *d, const char *key, size_t len);
void watch_touch_all_keys_in_db(int dbid, int dbid2); /* -1: all */
void watch_touch_expired_if_watched(db *d, const char *key, size_t len);
/* Watches key in c's db (once; a key already logically expired is noted so
 * its deletion is no change). */
void watch_key(client *c, const resp_arg *key);
/* Has a key c watches expired since (which dirties the transaction)? */
int watch_any_expired(client *c);

/* ---- the latency monitor and MONITOR (latency.c, monitor.c) ------------------- */
/* Records a sample of event (ms) when latency-monitor-threshold is set and
 * reached. Events: command, fast-command, expire-cycle, eviction-cycle,
 * store-load, write-behind-flush, journal-fsync, invalidation. */
void latency_add_sample_if_needed(const char *event, long long ms);
void latency_reply_latest(client *c);
void latency_reply_history(client *c, const char *event);
int latency_reset(int argc, const resp_arg *argv); /* no names: all; returns events reset */
int latency_graph(const char *event, sbuf *out);   /* ERR: no samples for event */
void latency_doctor(sbuf *out);
void latency_reply_histogram(client *c, int argc, const resp_arg *argv);
/* Makes c a monitor (MONITOR), or an ordinary client again (RESET, free). */
void monitor_add(client *c);
void monitor_remove(client *c);
/* Shows a command to the monitors, as Redis's MONITOR prints it. */
void monitor_feed(client *c, int argc, const resp_arg *argv);

/* ---- logging ----------------------------------------------------------------- */
enum { LL_DEBUG = 0, LL_VERBOSE, LL_NOTICE, LL_WARNING, LL_NOTHING };
void server_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void server_log_raw(int level, const char *msg);
#define LOG_WARN(...) server_log(LL_WARNING, __VA_ARGS__)
#define LOG_NOTICE(...) server_log(LL_NOTICE, __VA_ARGS__)

/* ---- memory / eviction ---------------------------------------------------- */
/* Frees memory by the policy until under maxmemory; OK, or ERR if it cannot. */
int evict_perform(void);
size_t used_memory(void);
/* Where the memory goes, as INFO memory and MEMORY STATS report it (Redis's
 * getMemoryOverheadData): overheads are the server's own structures; the
 * dataset is the rest. */
typedef struct memory_report {
    size_t peak, total, startup, rss;
    size_t alloc_allocated, alloc_active, alloc_resident;
    size_t clients_normal, lua_caches, functions_caches, overhead_total, dataset;
    long long keys;
    int ndbs; /* databases with keys (the first 16) */
    struct {
        int id;
        size_t main, expires;
    } db[16];
    long long lua_vm, scripts_eval, nscripts, functions, nfunctions;
} memory_report;
void memory_report_fill(memory_report *m);
int over_maxmemory(void);
const char *maxmemory_policy_name(int p);

/* ---- reply holding and the reply barrier (networking.c) ------------------------ */
/* Until called again with buf NULL, c's replies go to buf, not the socket. */
void reply_hold(client *c, sbuf *buf);
/* Writes up to pos are durable: replies barred below it may leave (they are
 * written at the next flush). */
void replies_durable(uint64_t pos);
/* Bars c's replies (those queued and to come) until the matching release:
 * a reply that must wait for something the loop does not wait for. */
void reply_barrier_hold(client *c);
void reply_barrier_release(client *c);

/* ---- pub/sub (pubsub.c; more for the core in pubsub.h) ------------------------ */
/* The three namespaces: channels, patterns, shard channels. */
enum { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN, PUBSUB_SHARD };
/* Subscribes c to (or unsubscribes it from) the n names of a kind, with a
 * confirmation reply per name; unsubscribing from n = 0 names drops them all. */
void pubsub_subscribe(client *c, int kind, const resp_arg *names, int n);
void pubsub_unsubscribe(client *c, int kind, const resp_arg *names, int n);
/* Delivers msg on channel ch (patterns too for PUBSUB_CHANNEL); the number of
 * receivers. */
long long pubsub_publish_kind(int kind, const char *ch, size_t chlen, const char *msg, size_t mlen);
/* Channels (or patterns) with subscribers; subscribers of one name; each name. */
size_t pubsub_channel_count(int kind);
long long pubsub_subscriber_count(int kind, const char *name, size_t len);
void pubsub_for_each_channel(int kind, void (*fn)(void *ctx, const char *name, size_t len),
                             void *ctx);
/* Drops every subscription of c (notify: reply the unsubscribe messages). */
void pubsub_unsubscribe_all(client *c, int notify);

/* ---- slow log (slowlog.c) ------------------------------------------------------- */
typedef struct slowlog_entry {
    list_node node;
    long long id, duration; /* duration in microseconds */
    int64_t time;           /* unix seconds */
    argv_copy args;         /* up to 32 arguments, each cut at 128 bytes */
    char *peer, *name;
} slowlog_entry;
/* The entries, newest first: slowlog_next(NULL) is the newest, NULL after
 * the oldest. */
const slowlog_entry *slowlog_next(const slowlog_entry *prev);
size_t slowlog_len(void);
void slowlog_reset(void);

/* ---- client-side caching (tracking.c) ------------------------------------------- */
void tracking_invalidate_all(void);
void tracking_disable(client *c);
/* CLIENT TRACKING ON with checked options (CLIENT_TRACKING_* flags) and
 * BCAST prefixes. */
void tracking_enable(client *c, uint64_t redirect, uint64_t options, resp_arg **pfx, int npfx);
/* c's BCAST prefixes in byte order; p is valid only during the call. */
void tracking_for_each_prefix(client *c, void (*fn)(void *ctx, const char *p, size_t len),
                              void *ctx);

/* ---- implemented by scripting (src/scripting) ----------------------------------- */
size_t function_library_count(void); /* FUNCTION LOAD'ed libraries */
/* INFO memory's figures of the Lua VM, the script cache and the functions. */
void scripting_info(long long *lua_mem, long long *scripts_bytes, long long *nscripts,
                    long long *func_mem, long long *nfuncs);

/* ---- keyspace-wide helpers -------------------------------------------------- */
void server_flush_db(int dbid); /* -1: all */
int select_db(client *c, long long id);
/* Shared helper for ms expire arguments: relative/absolute, unit */
#define UNIT_SECONDS 0
#define UNIT_MS 1

/* ---- the server's state, as handlers see it (api.c) --------------------------------- */
/* Reads the clock into the cached "now" (server_mstime). */
void server_update_time(void);
/* The cached "now" (unix ms) of the running command. */
int64_t server_mstime(void);
/* Counts n changes since the last save (INFO's rdb_changes_since_last_save). */
void server_add_dirty(long long n);
/* Database id (0 <= id < server_db_count()). */
db *server_db(int id);
int server_db_count(void);
struct ev_loop *server_loop(void);
/* The client whose command runs now (NULL between commands). */
client *server_executing_client(void);
/* Replaying the journal: commands get -LOADING meanwhile. */
int server_loading(void);
void server_set_loading(int on);
/* Is a script running (commands it calls see one "now")? */
int server_in_script(void);
/* SAVE: the time of the last save is now. */
void server_note_save(void);
/* proto-max-bulk-len: the longest string a command may build. */
long long server_proto_max_bulk_len(void);
/* The encoding thresholds of the data types (config: *-max-listpack-*, ...). */
typedef struct type_limits {
    long long hash_max_listpack_entries, hash_max_listpack_value;
    long long set_max_intset_entries;
    long long zset_max_listpack_entries, zset_max_listpack_value;
    long long list_max_listpack_size, list_compress_depth;
    long long hll_sparse_max_bytes; /* a sparse HyperLogLog above this turns dense */
} type_limits;
const type_limits *server_type_limits(void);
unsigned long long server_maxmemory(void); /* 0: no limit */
/* Is a message of this level logged (loglevel)? */
int server_log_enabled(int level);

/* For the administrative commands (server_cmds.c, connection.c, debug.c,
 * cmddocs.c). */
int64_t server_lastsave(void);        /* unix ms */
const char *server_requirepass(void); /* NULL: no password */
list_head *server_clients(void);      /* of client via node, connection order */
const char *server_configfile(void);  /* absolute path, NULL without one */
size_t server_peak_memory(void);
int server_command_count(void);        /* command ids run from 0 to this */
void server_set_active_expire(int on); /* DEBUG SET-ACTIVE-EXPIRE */
/* Is maxmemory-policy an LRU or LFU one (keys carry access data)? */
int server_policy_tracks_access(void);
/* SHUTDOWN: the loop stops after this turn and the server exits. */
void server_request_shutdown(void);
/* The command table (cmdtable.c), ended by a row with a NULL name, and the
 * ACL categories (NULL-terminated; bit i of command.acl_bits is category i). */
extern command command_table[];
extern const char *const acl_category_names[];
/* The bit of an ACL category ("fast") in command.acl_bits, -1 if unknown. */
int acl_category_bit(const char *name, size_t len);
/* CLIENT PAUSE (blocked.c): until end_ms, for writes only or every command. */
void pause_set(int64_t end_ms, int write_only);
void pause_end(void);
/* CONFIG GET (replies itself), CONFIG SET of n parameters at once (all or
 * none; *err, which the caller frees, on ERR), CONFIG REWRITE, INFO. */
void config_get_reply(client *c);
int config_set_many(int n, const resp_arg *names, const resp_arg *values, char **err);
int config_rewrite(const char *path, char **err);
void info_build(sbuf *b, int argc, const resp_arg *argv);
void stats_reset(void);

/* For scripting: a script runs (commands it calls see one "now"); a slow one
 * passed busy-reply-threshold, and others get err until it ends (NULL). */
void server_set_in_script(int on);
void server_set_script_busy(const char *err);
long long server_busy_reply_threshold(void);
/* SHUTDOWN was asked for (a busy script is killed). */
int server_shutting_down(void);
/* Serves other clients once while a slow script runs (busy.c): accepts,
 * reads (their commands get -BUSY unless allowed), writes; the caller's own
 * socket is left alone. */
void server_serve_while_busy(client *caller);
/* The command statistics of a call a script made: it failed / it was
 * rejected before it ran; errors so far belong to earlier commands. */
void server_count_failed_call(const command *cmd);
void server_count_rejected_call(const command *cmd);
void server_error_checkpoint(void);
/* INFO errorstats: one more error reply; msg is its text without the "-" (its
 * first word, "ERR" or "WRONGTYPE"..., is what is counted). */
void stats_record_error(const char *msg);
#endif
