/* server/server.h — the server's own state and the functions its files
 * share; private to src/server (command handlers use server/api.h).
 *
 * Threading: everything here belongs to the loop thread; other threads reach
 * it only through queues and ev_async. */
#ifndef LARDER_SERVER_H
#define LARDER_SERVER_H
#include "server/api.h"

/* ---- server state ----------------------------------------------------------- */

enum {
    MAXMEMORY_NOEVICTION = 0,
    MAXMEMORY_ALLKEYS_LRU,
    MAXMEMORY_ALLKEYS_LFU,
    MAXMEMORY_ALLKEYS_RANDOM,
    MAXMEMORY_VOLATILE_LRU,
    MAXMEMORY_VOLATILE_LFU,
    MAXMEMORY_VOLATILE_RANDOM,
    MAXMEMORY_VOLATILE_TTL,
};
enum { OBUF_NORMAL = 0, OBUF_REPLICA = 1, OBUF_PUBSUB = 2, OBUF_CLASSES = 3 };

typedef struct obuf_limit {
    unsigned long long hard, soft;
    long long soft_seconds;
} obuf_limit;

#define CONFIG_MAX_BIND 16

typedef struct server_state {
    struct ev_loop *loop;
    pid_t pid;
    char *executable;
    char *configfile;
    char **exec_argv;
    int shutdown_asap;
    int shutdown_exit_code;
    int64_t start_ms;
    int64_t mstime; /* cached per event-loop turn */
    int64_t ustime;
    int clock_pinned; /* process_command fixed "now" for this command: call_command keeps it */
    int clock_fresh;  /* server.ustime was read just now by process_command (not yet used) */
    /* server.ustime is the end reading of the command that ran last in this
     * loop turn (server_command_time uses it instead of a new reading) */
    int clock_carried;
    int64_t last_call_end_us; /* call_command's end reading */
    char runid[41];

    /* listeners */
    int ipfd[CONFIG_MAX_BIND];
    int ipfd_count;
    ev_io ipfd_w[CONFIG_MAX_BIND];
    int sofd;
    ev_io sofd_w;
    int tlsfd[CONFIG_MAX_BIND];
    int tlsfd_count;
    ev_io tlsfd_w[CONFIG_MAX_BIND];
    ev_timer cron_w;
    ev_prepare before_sleep_w;
    ev_check after_sleep_w;
    ev_signal sigterm_w, sigint_w, sighup_w;
    void *tls_ctx;

    /* clients */
    list_head clients;
    list_head pending_writes;
    list_head reply_barred; /* clients whose replies wait for durable_pos */
    uint64_t durable_pos;   /* the position up to which writes are durable */
    list_head clients_to_close;
    list_head unblocked_clients;
    list_head blocked_timeouts;
    dict *clients_by_id;
    uint64_t next_client_id;
    client *current_client;
    client *executing_client;
    unsigned long blocked_clients;
    unsigned long blocked_by_type[16];
    unsigned long tracking_clients;
    unsigned long pubsub_clients;
    unsigned long watching_clients;
    int in_exec;
    int in_script;
    int64_t client_pause_end_ms;
    int client_pause_write_only;
    list_head paused_clients;

    /* keyspace */
    db *dbs;
    dict *commands; /* name -> command (top level) */
    const command **command_by_id;
    command_stats *cmdstats;
    int command_count;
    long long dirty;
    dict *ready_keys; /* keys with blocked clients that got data */
    list_head ready_list;

    /* config (config.c is the table that fills these) */
    int port, tls_port;
    char *bind[CONFIG_MAX_BIND];
    int bind_count;
    char *unixsocket;
    unsigned unixsocketperm;
    int protected_mode;
    int tcp_backlog;
    int tcp_keepalive;
    long long maxclients;
    long long maxidletime; /* timeout, seconds */
    int databases;
    int hz, dynamic_hz, config_hz;
    unsigned long long maxmemory;
    int maxmemory_policy;
    int maxmemory_samples;
    int maxmemory_eviction_tenacity;
    long long proto_max_bulk_len;
    unsigned long long client_max_querybuf_len;
    obuf_limit obuf_limits[OBUF_CLASSES];
    int verbosity;
    char *logfile;
    int syslog_enabled;
    int daemonize;
    char *pidfile;
    char *dir;
    char *requirepass; /* NULL: none; may hold NUL bytes (requirepass_len) */
    size_t requirepass_len;
    int notify_keyspace_events;
    int active_expire_enabled;
    int active_expire_effort;
    int lazyfree_lazy_eviction, lazyfree_lazy_expire, lazyfree_lazy_server_del,
        lazyfree_lazy_user_del, lazyfree_lazy_user_flush;
    int lfu_log_factor, lfu_decay_time;
    long long slowlog_log_slower_than;
    unsigned long slowlog_max_len;
    int latency_tracking;
    long long latency_monitor_threshold; /* ms; 0: the latency monitor is off */
    double latency_pcts[16];             /* latency-tracking-info-percentiles */
    int latency_npcts;
    list_head monitors; /* clients in MONITOR mode (monitor_node) */
    int tracking_table_max_keys;
    long long busy_reply_threshold; /* lua-time-limit, ms */
    int set_proc_title;
    int crash_log_enabled;
    int enable_debug_cmd;
    int io_engine;      /* io-engine: IO_ENGINE_* (server/uring.h) */
    type_limits limits; /* the data types' encoding thresholds */
    /* TLS */
    char *tls_cert_file, *tls_key_file, *tls_ca_cert_file, *tls_ca_cert_dir;
    char *tls_protocols, *tls_ciphers, *tls_ciphersuites;
    int tls_auth_clients;
    int tls_prefer_server_ciphers;

    /* stats */
    long long stat_numcommands;
    long long stat_numconnections;
    long long stat_rejected_conn;
    long long stat_expiredkeys;
    long long stat_evictedkeys;
    long long stat_keyspace_hits, stat_keyspace_misses;
    long long stat_net_input_bytes, stat_net_output_bytes;
    long long stat_total_error_replies;
    long long stat_unexpected_error_replies;
    long long stat_client_qbuf_limit_disconnections;
    long long stat_client_outbuf_limit_disconnections;
    long long stat_expired_stale_perc;
    long long stat_expire_cycle_time_used;
    long long stat_io_reads, stat_io_writes;
    long long stat_total_eviction_exceeded_time;
    long long stat_evictedclients;
    size_t stat_peak_memory;
    size_t stat_startup_memory; /* used_memory() once started (Redis's initial_memory_usage) */
    long long stat_tracking_keys;
    dict *errors; /* error code -> count, INFO errorstats */
    int64_t stat_reset_ms;
    int64_t lastsave;
    long long ops_sec_samples[16];
    int ops_sec_idx;
    long long ops_sec_last_cmds;
    int64_t ops_sec_last_ms;
    long long ops_sec_net_in[16], ops_sec_net_out[16];
    long long ops_sec_last_in, ops_sec_last_out;

    /* slowlog */
    list_head slowlog;
    long long slowlog_entry_id;

    /* loading (journal replay): commands get -LOADING */
    int loading;

    /* scripting */
    const char *script_busy_error;   /* a script passed busy-reply-threshold: others get this */
    long long stat_error_checkpoint; /* error count after the last command (nested ones too) */
} server_state;

extern server_state server;

/* ---- expiry ----------------------------------------------------------------- */
void active_expire_cycle(int fast);

/* Is argument i of this command a secret (AUTH, HELLO AUTH, ACL SETUSER's
 * rules, MIGRATE's AUTH): shown as "(redacted)" by MONITOR and SLOWLOG
 * (monitor.c). */
int command_arg_redacted(int argc, const resp_arg *argv, int i);

/* ---- key specs (keyspecs.c) ---------------------------------------------------- */
/* How a command touches a key (Redis's key-spec flags). */
enum {
    KS_RO = 1 << 0,
    KS_RW = 1 << 1,
    KS_OW = 1 << 2,
    KS_RM = 1 << 3,
    KS_ACCESS = 1 << 4,
    KS_UPDATE = 1 << 5,
    KS_INSERT = 1 << 6,
    KS_DELETE = 1 << 7,
    KS_NOT_KEY = 1 << 8,
    KS_INCOMPLETE = 1 << 9,
    KS_VARIABLE_FLAGS = 1 << 10,
};
typedef struct keyref {
    int pos, flags; /* argument index, KS_* */
} keyref;
/* After commands_init. */
void keyspecs_init(void);
/* The keys of a command with their flags; fills up to max and returns the
 * count (which may exceed max: call again with room for all). */
int keyspecs_keys(const command *cmd, int argc, const resp_arg *argv, keyref *out, int max);
/* May the command name keys at all? */
int keyspecs_has_keys(const command *cmd);

/* ---- config.c ---------------------------------------------------------------- */
int config_load_file(const char *path, char **err);
int config_load_string(const char *text, const char *origin, char **err);
void config_apply_defaults(void);

/* ---- start-up and shutdown (server.c, keyspace.c) ------------------------------- */
void server_preinit(void);
int server_init(char **err);
void server_run(void);
void server_shutdown(void);
/* A command's start time: the previous command's end reading in this loop turn, else the clock. */
void server_command_time(void);
/* "on port 6379, unix socket ..." for the ready line; buf holds the text. */
const char *server_listen_summary(char *buf, size_t size);
/* Closes and reopens the listeners after bind/port changes. */
int server_rebind(char **err);
void keyspace_init(void);

/* ---- CLIENT PAUSE (blocked.c) --------------------------------------------------- */
/* Parks c when a pause is in effect for cmd; 1 if it did. */
int pause_should_wait(client *c, const command *cmd);

/* ---- the loop's own entry points (networking.c, cmdtable.c, blocked.c) ---------- */
void clients_cron(void);
/* INFO's client_recent_max_input_buffer: the largest query buffer peak of
 * the last 8 seconds. */
size_t clients_recent_max_input(void);
void accept_connection(int lfd, int tcp, int tls);
void flush_pending_writes(void);
/* The io_uring path's two ends (server/uring.c): bytes received for c, and a
 * send of c's replies finished (w bytes, or w < 0 with errno err). */
void client_input(client *c, const char *p, size_t n);
void client_write_done(client *c, ssize_t w, int err);
/* libev's invoke-pending hook: serves the clients a poll read in arrival order. */
void invoke_pending_in_order(struct ev_loop *loop);
void commands_init(void);
void blocked_cron(void);
void process_unblocked_clients(void);
/* Any write of a key, and a flushed db (-1: all): wakes stream readers, so a
 * group reader learns that its key is gone or changed type. */
void blocked_key_modified(db *d, const char *key, size_t len);
void blocked_db_flushed(int dbid);

/* ---- after each command, and on writes (slowlog.c, tracking.c) ---------------------- */
void slowlog_push_if_needed(client *c, const command *cmd, long long usec);
void tracking_invalidate_key(client *c, const char *key, size_t len);
void tracking_before_sleep(void);
void tracking_after_command(client *c, const command *cmd);
void tracking_client_free(client *c);
void tracking_stats(long long *keys, long long *items, long long *prefixes);
/* ---- latency.c ---------------------------------------------------------------- */
/* Adds one duration (ns) to *h, allocating it on first use. */
void latency_hist_record(latency_hist **h, int64_t ns);
void latency_hist_free(latency_hist **h);
void latency_info(sbuf *b); /* INFO latencystats lines */
void format_percentile(double p, char *buf, size_t size);

#endif
