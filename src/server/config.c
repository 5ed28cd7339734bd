/* server/config — the configuration table: the config file (redis.conf
 * syntax), --name value command-line overrides, CONFIG GET/SET/REWRITE.
 *
 * Every directive is one row: name, type, where its value lives, default,
 * bounds, flags, and an optional apply hook run after a change. The rows of
 * another subsystem (map, loadmodule, …) are registered by it at start-up
 * (config_register, server/hooks.h).
 *
 * Invariants:
 *  1. Parsing never changes a value unless the whole value is valid.
 *  2. CONFIG SET of several parameters is atomic: all apply or none (values
 *     are restored and apply hooks re-run on failure). */
#include "kv/stream.h"
#include "server/acl.h"
#include "server/server.h"
#include "server/conn.h"
#include "server/hooks.h"
#include "server/uring.h"
#include "util/mem.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A row of the table: the directive type that subsystems register too. */
typedef config_directive config_row;

static const enum_name loglevel_enum[] = {{"debug", LL_DEBUG},     {"verbose", LL_VERBOSE},
                                          {"notice", LL_NOTICE},   {"warning", LL_WARNING},
                                          {"nothing", LL_NOTHING}, {NULL, 0}};
static const enum_name policy_enum[] = {{"volatile-lru", MAXMEMORY_VOLATILE_LRU},
                                        {"volatile-lfu", MAXMEMORY_VOLATILE_LFU},
                                        {"volatile-random", MAXMEMORY_VOLATILE_RANDOM},
                                        {"volatile-ttl", MAXMEMORY_VOLATILE_TTL},
                                        {"allkeys-lru", MAXMEMORY_ALLKEYS_LRU},
                                        {"allkeys-lfu", MAXMEMORY_ALLKEYS_LFU},
                                        {"allkeys-random", MAXMEMORY_ALLKEYS_RANDOM},
                                        {"noeviction", MAXMEMORY_NOEVICTION},
                                        {NULL, 0}};
static const enum_name tls_auth_enum[] = {{"no", 0}, {"yes", 1}, {"optional", 2}, {NULL, 0}};
static const enum_name oom_enum[] = {
    {"no", 0}, {"yes", 1}, {"relative", 1}, {"absolute", 2}, {NULL, 0}};
static const enum_name yesno_enum[] = {{"no", 0}, {"yes", 1}, {NULL, 0}};
static const enum_name io_engine_enum[] = {
    {"auto", IO_ENGINE_AUTO}, {"uring", IO_ENGINE_URING}, {"epoll", IO_ENGINE_EPOLL}, {NULL, 0}};

/* Values of directives accepted for compatibility but without effect here. */
static int compat_ints[32];
static long long compat_lls[16];
static char *compat_strs[16];
static int compat_more_ints[24];
static long long compat_more_lls[31];
static char *compat_more_strs[26];

/* ---- special directives ------------------------------------------------------------ */

static int set_bind(const char *val, char **err) {
    char *copy = xstrdup(val);
    resp_arg *argv = NULL;
    int cap = 0, argc = 0;
    resp_split_args(copy, strlen(copy), &argv, &cap, &argc);
    if (argc > CONFIG_MAX_BIND) {
        *err = xstrdup("Too many bind addresses specified.");
        xfree(argv);
        xfree(copy);
        return ERR;
    }
    for (int i = 0; i < server.bind_count; i++) xfree(server.bind[i]);
    server.bind_count = 0;
    for (int i = 0; i < argc; i++) server.bind[server.bind_count++] = xstrdup(argv[i].p);
    xfree(argv);
    xfree(copy);
    return OK;
}

static void get_bind(sbuf *out) {
    for (int i = 0; i < server.bind_count; i++)
        sbuf_printf(out, "%s%s", i ? " " : "", server.bind[i]);
}

static int set_unixsocketperm(const char *val, char **err) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 8);
    if (*end || errno || v < 0 || v > 0777) {
        *err = xstrdup("Invalid socket file permissions");
        return ERR;
    }
    server.unixsocketperm = (unsigned)v;
    return OK;
}

static void get_unixsocketperm(sbuf *out) {
    sbuf_printf(out, "%o", server.unixsocketperm);
}

static int set_notify(const char *val, char **err) {
    int f = notify_flags_from_string(val, strlen(val));
    if (f == -1) {
        *err = xstrdup("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return ERR;
    }
    server.notify_keyspace_events = f;
    return OK;
}

static void get_notify(sbuf *out) {
    char buf[32];
    notify_flags_to_string(server.notify_keyspace_events, buf);
    sbuf_puts(out, buf);
}

/* "50 99 99.9": up to 16 percentiles in 0..100. */
static int set_latency_pcts(const char *val, char **err) {
    char *copy = xstrdup(val);
    resp_arg *argv = NULL;
    int cap = 0, argc = 0, rc = OK;
    resp_split_args(copy, strlen(copy), &argv, &cap, &argc);
    double v[16];
    const char *why = NULL;
    if (argc > 16) why = "Too many latency-tracking-info-percentiles parameters";
    for (int i = 0; !why && i < argc; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(argv[i].p, &end);
        if (*end || errno || end == argv[i].p)
            why = "Invalid latency-tracking-info-percentiles parameters";
        else if (v[i] < 0 || v[i] > 100)
            why = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
    }
    if (why) {
        *err = xstrdup(why);
        rc = ERR;
    } else {
        memcpy(server.latency_pcts, v, sizeof(double) * (size_t)argc);
        server.latency_npcts = argc;
    }
    xfree(argv);
    xfree(copy);
    return rc;
}

static void get_latency_pcts(sbuf *out) {
    for (int i = 0; i < server.latency_npcts; i++) {
        char buf[64];
        format_percentile(server.latency_pcts[i], buf, sizeof(buf));
        sbuf_printf(out, "%s%s", i ? " " : "", buf);
    }
}

static char maxmemory_clients[32] = "0";
static int parse_memory(const char *s, unsigned long long *out);

/* maxmemory-clients: bytes, or a percentage of maxmemory ("10%"); kept as
 * given (Larder does not evict clients). */
static int set_maxmemory_clients(const char *val, char **err) {
    size_t len = strlen(val);
    unsigned long long v;
    if (len > 1 && val[len - 1] == '%') {
        if (!str_to_ull(val, len - 1, &v)) {
            *err = xstrdup("argument must be a memory or percent value");
            return ERR;
        }
        if (v > 100) {
            *err = xstrdup("percentage argument must be less or equal to 100");
            return ERR;
        }
    } else if (parse_memory(val, &v) != OK) {
        *err = xstrdup("argument must be a memory or percent value");
        return ERR;
    }
    if (val[len - 1] == '%')
        snprintf(maxmemory_clients, sizeof(maxmemory_clients), "%s", val);
    else
        snprintf(maxmemory_clients, sizeof(maxmemory_clients), "%llu", v);
    return OK;
}

static void get_maxmemory_clients(sbuf *out) {
    sbuf_puts(out, maxmemory_clients);
}

/* "1gb", "100mb", "5k", "1024" -> bytes. */
static int parse_memory(const char *s, unsigned long long *out) {
    size_t len = strlen(s), numlen = len;
    unsigned long long mul = 1;
    static const struct {
        const char *sfx;
        unsigned long long mul;
    } units[] = {{"k", 1000},
                 {"kb", 1024},
                 {"m", 1000000},
                 {"mb", 1024 * 1024},
                 {"g", 1000000000ULL},
                 {"gb", 1024ULL * 1024 * 1024},
                 {"b", 1}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t sl = strlen(units[i].sfx);
        if (len > sl && strcasecmp(s + len - sl, units[i].sfx) == 0 &&
            isdigit((unsigned char)s[len - sl - 1])) {
            mul = units[i].mul;
            numlen = len - sl;
            break;
        }
    }
    unsigned long long v;
    if (!str_to_ull(s, numlen, &v)) return ERR;
    if (mul > 1 && v > ULLONG_MAX / mul) return ERR;
    *out = v * mul;
    return OK;
}

static int set_obuf_limit(const char *val, char **err) {
    char *copy = xstrdup(val);
    resp_arg *argv = NULL;
    int cap = 0, argc = 0, rc = OK;
    resp_split_args(copy, strlen(copy), &argv, &cap, &argc);
    obuf_limit lim[OBUF_CLASSES];
    memcpy(lim, server.obuf_limits, sizeof(lim));
    if (argc % 4 != 0 || argc == 0) goto bad;
    for (int i = 0; i < argc; i += 4) {
        int cls;
        if (strcasecmp(argv[i].p, "normal") == 0)
            cls = OBUF_NORMAL;
        else if (strcasecmp(argv[i].p, "replica") == 0 || strcasecmp(argv[i].p, "slave") == 0)
            cls = OBUF_REPLICA;
        else if (strcasecmp(argv[i].p, "pubsub") == 0)
            cls = OBUF_PUBSUB;
        else
            goto bad;
        unsigned long long hard, soft;
        long long secs;
        if (parse_memory(argv[i + 1].p, &hard) != OK || parse_memory(argv[i + 2].p, &soft) != OK ||
            !str_to_ll(argv[i + 3].p, argv[i + 3].len, &secs) || secs < 0)
            goto bad;
        lim[cls] = (obuf_limit){hard, soft, secs};
    }
    memcpy(server.obuf_limits, lim, sizeof(lim));
    goto done;
bad:
    *err = xstrdup("Invalid client output buffer limit specified");
    rc = ERR;
done:
    xfree(argv);
    xfree(copy);
    return rc;
}

static void get_obuf_limit(sbuf *out) {
    static const char *names[] = {"normal", "slave", "pubsub"};
    for (int i = 0; i < OBUF_CLASSES; i++)
        sbuf_printf(out, "%s%s %llu %llu %lld", i ? " " : "", names[i], server.obuf_limits[i].hard,
                    server.obuf_limits[i].soft, server.obuf_limits[i].soft_seconds);
}

static char *save_param;
static int set_save(const char *val, char **err) {
    (void)err;
    xfree(save_param);
    save_param = xstrdup(val);
    return OK;
}
static void get_save(sbuf *out) {
    sbuf_puts(out, save_param ? save_param : "");
}

static int set_dir(const char *val, char **err) {
    if (chdir(val) != 0) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%s", strerror(errno));
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    return OK;
}

static void get_dir(sbuf *out) {
    char buf[4096];
    if (getcwd(buf, sizeof(buf))) sbuf_puts(out, buf);
}

/* ---- apply hooks -------------------------------------------------------------------- */

static int apply_policy(char **err) {
    (void)err;
    kv_lfu_mode = server.maxmemory_policy == MAXMEMORY_ALLKEYS_LFU ||
                  server.maxmemory_policy == MAXMEMORY_VOLATILE_LFU;
    return OK;
}

static int apply_lfu(char **err) {
    (void)err;
    kv_lfu_log_factor = server.lfu_log_factor;
    kv_lfu_decay_time = server.lfu_decay_time;
    return OK;
}

static int apply_maxmemory(char **err) {
    (void)err;
    if (server.maxmemory && used_memory() > server.maxmemory)
        server_log(LL_WARNING,
                   "WARNING: the new maxmemory value set via CONFIG SET (%llu) is smaller than the "
                   "current memory usage (%zu). This will result in key eviction and/or the "
                   "inability to accept new write commands depending on the maxmemory-policy.",
                   server.maxmemory, used_memory());
    evict_perform();
    return OK;
}

static int apply_bulk_len(char **err) {
    (void)err;
    list_node *n;
    list_for_each(n, &server.clients) list_entry(n, client, node)->req.max_bulk =
        server.proto_max_bulk_len;
    return OK;
}

static int apply_hz(char **err) {
    (void)err;
    if (server.config_hz < 1) server.config_hz = 1;
    if (server.config_hz > 500) server.config_hz = 500;
    server.hz = server.config_hz;
    return OK;
}

static int apply_listen(char **err) {
    return server.loop ? server_rebind(err) : OK;
}

/* Port and bind changes answer with Redis's texts; the reason goes to the log. */
static int apply_listen_as(char **err, const char *text) {
    char *why = NULL;
    if (apply_listen(&why) == OK) return OK;
    server_log(LL_WARNING, "%s", why ? why : "listen failed");
    xfree(why);
    *err = xstrdup(text);
    return ERR;
}
static int apply_port(char **err) {
    return apply_listen_as(err, "Unable to listen on this port. Check server logs.");
}
static int apply_bind(char **err) {
    return apply_listen_as(err, "Failed to bind to specified addresses.");
}

static int apply_tls(char **err) {
    if (!server.loop || !server.tls_port) return OK;
    return tls_configure(err);
}

/* requirepass holds any bytes ("abc\x00def" is a password of 7 bytes);
 * empty means none. */
static int set_requirepass(const char *val, size_t len, char **err) {
    (void)err;
    xfree(server.requirepass);
    server.requirepass = len ? xmemdup(val, len) : NULL;
    server.requirepass_len = len;
    return OK;
}
static void get_requirepass(sbuf *out) {
    if (server.requirepass) sbuf_append(out, server.requirepass, server.requirepass_len);
}
static int apply_requirepass(char **err) {
    (void)err;
    acl_set_default_password(server.requirepass,
                             server.requirepass_len); /* the default user follows it */
    return OK;
}

/* `user NAME rules...` lines: checked now, applied at start-up (server/acl.c). */
static int set_user(const char *val, char **err) {
    char *copy = xstrdup(val);
    char **words = NULL;
    int n = 0;
    for (char *t = strtok(copy, " "); t; t = strtok(NULL, " ")) {
        words = xrealloc(words, sizeof(char *) * (size_t)(n + 1));
        words[n++] = t;
    }
    int rc = acl_config_user_line(n, words, err);
    xfree(words);
    xfree(copy);
    return rc;
}
static void get_user(sbuf *out) {
    (void)out;
}

static const enum_name pubsub_default_enum[] = {
    {"allchannels", ACL_PUBSUB_ALLCHANNELS}, {"resetchannels", 0}, {NULL, 0}};

/* ---- the table -------------------------------------------------------------------- */

#define B(n, p, d)                                                                                 \
    { .name = n, .type = CT_BOOL, .ptr = p, .def = d }
#define I(n, p, d, lo, hi)                                                                         \
    {                                                                                              \
        .name = n, .type = CT_INT, .ptr = p, .ptr_size = sizeof(*(p)), .def = d, .min = lo,        \
        .max = hi                                                                                  \
    }
#define M(n, p, d, lo, hi)                                                                         \
    {                                                                                              \
        .name = n, .type = CT_MEM, .ptr = p, .ptr_size = sizeof(*(p)), .def = d, .min = lo,        \
        .max = hi                                                                                  \
    }
#define S(n, p, d)                                                                                 \
    { .name = n, .type = CT_STRING, .ptr = p, .def = d }
#define E(n, p, d, e)                                                                              \
    { .name = n, .type = CT_ENUM, .ptr = p, .def = d, .enums = e }
#define X(n, d, s, g)                                                                              \
    { .name = n, .type = CT_SPECIAL, .def = d, .set = s, .get = g }

static config_row builtin_rows[] = {
    X("bind", "127.0.0.1 -::1", set_bind, get_bind),
    I("port", &server.port, "6379", 0, 65535),
    S("unixsocket", &server.unixsocket, NULL),
    X("unixsocketperm", "0", set_unixsocketperm, get_unixsocketperm),
    B("protected-mode", &server.protected_mode, "yes"),
    I("tcp-backlog", &server.tcp_backlog, "511", 0, INT_MAX),
    I("tcp-keepalive", &server.tcp_keepalive, "300", 0, INT_MAX),
    I("timeout", &server.maxidletime, "0", 0, INT_MAX),
    I("databases", &server.databases, "16", 1, INT_MAX),
    E("loglevel", &server.verbosity, "notice", loglevel_enum),
    S("logfile", &server.logfile, ""),
    B("syslog-enabled", &server.syslog_enabled, "no"),
    B("daemonize", &server.daemonize, "no"),
    S("pidfile", &server.pidfile, NULL),
    X("dir", "", set_dir, get_dir),
    I("maxclients", &server.maxclients, "10000", 1, INT_MAX),
    M("maxmemory", &server.maxmemory, "0", 0, LLONG_MAX),
    E("maxmemory-policy", &server.maxmemory_policy, "noeviction", policy_enum),
    I("maxmemory-samples", &server.maxmemory_samples, "5", 1, 64),
    I("maxmemory-eviction-tenacity", &server.maxmemory_eviction_tenacity, "10", 0, 100),
    M("proto-max-bulk-len", &server.proto_max_bulk_len, "512mb", 1024 * 1024, UINT32_MAX),
    M("client-query-buffer-limit", &server.client_max_querybuf_len, "1gb", 1024 * 1024, LLONG_MAX),
    X("client-output-buffer-limit",
      "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", set_obuf_limit,
      get_obuf_limit),
    I("hz", &server.config_hz, "10", 0, INT_MAX),
    B("dynamic-hz", &server.dynamic_hz, "yes"),
    {.name = "requirepass",
     .type = CT_SPECIAL,
     .set_bytes = set_requirepass,
     .get = get_requirepass},
    S("aclfile", &acl_filename, ""),
    E("acl-pubsub-default", &acl_pubsub_default, "resetchannels", pubsub_default_enum),
    I("acllog-max-len", &acllog_max_len, "128", 0, LLONG_MAX),
    {.name = "user",
     .type = CT_SPECIAL,
     .set = set_user,
     .get = get_user,
     .flags = CF_HIDDEN | CF_FILE_ONLY},
    X("notify-keyspace-events", "", set_notify, get_notify),
    I("active-expire-effort", &server.active_expire_effort, "1", 1, 10),
    B("lazyfree-lazy-eviction", &server.lazyfree_lazy_eviction, "no"),
    B("lazyfree-lazy-expire", &server.lazyfree_lazy_expire, "no"),
    B("lazyfree-lazy-server-del", &server.lazyfree_lazy_server_del, "no"),
    B("lazyfree-lazy-user-del", &server.lazyfree_lazy_user_del, "no"),
    B("lazyfree-lazy-user-flush", &server.lazyfree_lazy_user_flush, "no"),
    I("lfu-log-factor", &server.lfu_log_factor, "10", 0, INT_MAX),
    I("lfu-decay-time", &server.lfu_decay_time, "1", 0, INT_MAX),
    I("slowlog-log-slower-than", &server.slowlog_log_slower_than, "10000", -1, LLONG_MAX),
    I("slowlog-max-len", &server.slowlog_max_len, "128", 0, LONG_MAX),
    I("tracking-table-max-keys", &server.tracking_table_max_keys, "1000000", 0, INT_MAX),
    I("busy-reply-threshold", &server.busy_reply_threshold, "5000", 0, LLONG_MAX),
    /* 512: Redis 7.0's built-in default (its sample redis.conf says 128) */
    I("hash-max-listpack-entries", &server.limits.hash_max_listpack_entries, "512", 0, LLONG_MAX),
    I("hash-max-listpack-value", &server.limits.hash_max_listpack_value, "64", 0, LLONG_MAX),
    I("set-max-intset-entries", &server.limits.set_max_intset_entries, "512", 0, LLONG_MAX),
    I("zset-max-listpack-entries", &server.limits.zset_max_listpack_entries, "128", 0, LLONG_MAX),
    I("zset-max-listpack-value", &server.limits.zset_max_listpack_value, "64", 0, LLONG_MAX),
    I("list-max-listpack-size", &server.limits.list_max_listpack_size, "-2", INT_MIN, INT_MAX),
    I("list-compress-depth", &server.limits.list_compress_depth, "0", 0, INT_MAX),
    M("hll-sparse-max-bytes", &server.limits.hll_sparse_max_bytes, "3000", 0, LLONG_MAX),
    I("tls-port", &server.tls_port, "0", 0, 65535),
    S("tls-cert-file", &server.tls_cert_file, NULL),
    S("tls-key-file", &server.tls_key_file, NULL),
    S("tls-ca-cert-file", &server.tls_ca_cert_file, NULL),
    S("tls-ca-cert-dir", &server.tls_ca_cert_dir, NULL),
    E("tls-auth-clients", &server.tls_auth_clients, "yes", tls_auth_enum),
    S("tls-protocols", &server.tls_protocols, NULL),
    S("tls-ciphers", &server.tls_ciphers, NULL),
    S("tls-ciphersuites", &server.tls_ciphersuites, NULL),
    B("tls-prefer-server-ciphers", &server.tls_prefer_server_ciphers, "no"),
    B("set-proc-title", &server.set_proc_title, "yes"),
    B("crash-log-enabled", &server.crash_log_enabled, "yes"),
    E("enable-debug-command", &server.enable_debug_cmd, "yes", yesno_enum),
    E("latency-tracking", &server.latency_tracking, "yes", yesno_enum),
    /* fixed at start, and hidden from CONFIG GET's patterns: Redis's test
     * suite sets every listed parameter back to its value, and an immutable
     * one of Larder's own would fail it */
    {.name = "io-engine",
     .type = CT_ENUM,
     .ptr = &server.io_engine,
     .def = "auto",
     .enums = io_engine_enum,
     .flags = CF_IMMUTABLE | CF_HIDDEN},
    X("latency-tracking-info-percentiles", "50 99 99.9", set_latency_pcts, get_latency_pcts),
    X("save", "", set_save, get_save),
    /* accepted for compatibility with redis.conf files and test harnesses; no effect */
    E("appendonly", &compat_ints[0], "no", yesno_enum),
    B("always-show-logo", &compat_ints[1], "no"),
    I("io-threads", &compat_ints[2], "1", 1, 128),
    B("io-threads-do-reads", &compat_ints[3], "no"),
    B("activerehashing", &compat_ints[4], "yes"),
    I("latency-monitor-threshold", &server.latency_monitor_threshold, "0", 0, LLONG_MAX),
    B("activedefrag", &compat_ints[6], "no"),
    B("stop-writes-on-bgsave-error", &compat_ints[7], "yes"),
    B("rdbcompression", &compat_ints[8], "yes"),
    B("rdbchecksum", &compat_ints[9], "yes"),
    S("dbfilename", &compat_strs[0], "dump.rdb"),
    S("appendfilename", &compat_strs[1], "appendonly.aof"),
    S("appenddirname", &compat_strs[2], "appendonlydir"),
    S("appendfsync", &compat_strs[3], "everysec"),
    B("jemalloc-bg-thread", &compat_ints[10], "yes"),
    E("oom-score-adj", &compat_ints[11], "no", oom_enum),
    S("oom-score-adj-values", &compat_strs[4], "0 200 800"),
    X("maxmemory-clients", "0", set_maxmemory_clients, get_maxmemory_clients),
    I("stream-node-max-entries", &stream_node_max_entries, "100", 0, LLONG_MAX),
    M("stream-node-max-bytes", &stream_node_max_bytes, "4096", 0, LLONG_MAX),
    B("replica-read-only", &compat_ints[12], "yes"),
    B("lua-replicate-commands", &compat_ints[13], "yes"),
    B("cluster-enabled", &compat_ints[14], "no"),
    I("repl-backlog-size", &compat_lls[5], "1048576", 0, LLONG_MAX),
    /* Redis 7.0's remaining settings (replication, cluster, AOF, defrag, TLS for
     * replication, ...): accepted and shown, no effect; the last three are hidden
     * (exact CONFIG GET only) as in Redis */
    I("active-defrag-cycle-max", &compat_more_lls[0], "25", 0, LLONG_MAX),
    M("active-defrag-ignore-bytes", &compat_more_lls[1], "104857600", 0, LLONG_MAX),
    I("active-defrag-max-scan-fields", &compat_more_lls[2], "1000", 0, LLONG_MAX),
    I("active-defrag-threshold-lower", &compat_more_lls[3], "10", 0, LLONG_MAX),
    I("active-defrag-threshold-upper", &compat_more_lls[4], "100", 0, LLONG_MAX),
    B("aof-disable-auto-gc", &compat_more_ints[0], "no"),
    B("aof-load-truncated", &compat_more_ints[1], "yes"),
    B("aof-rewrite-incremental-fsync", &compat_more_ints[2], "yes"),
    B("aof-timestamp-enabled", &compat_more_ints[3], "no"),
    S("aof_rewrite_cpulist", &compat_more_strs[0], NULL),
    M("auto-aof-rewrite-min-size", &compat_more_lls[5], "67108864", 0, LLONG_MAX),
    I("auto-aof-rewrite-percentage", &compat_more_lls[6], "100", 0, LLONG_MAX),
    S("bgsave_cpulist", &compat_more_strs[1], NULL),
    S("bind-source-addr", &compat_more_strs[2], NULL),
    S("bio_cpulist", &compat_more_strs[3], NULL),
    B("cluster-allow-pubsubshard-when-down", &compat_more_ints[4], "yes"),
    B("cluster-allow-reads-when-down", &compat_more_ints[5], "no"),
    B("cluster-allow-replica-migration", &compat_more_ints[6], "yes"),
    I("cluster-announce-bus-port", &compat_more_lls[7], "0", 0, LLONG_MAX),
    S("cluster-announce-hostname", &compat_more_strs[4], NULL),
    S("cluster-announce-ip", &compat_more_strs[5], NULL),
    I("cluster-announce-port", &compat_more_lls[8], "0", 0, LLONG_MAX),
    I("cluster-announce-tls-port", &compat_more_lls[9], "0", 0, LLONG_MAX),
    S("cluster-config-file", &compat_more_strs[6], "nodes.conf"),
    M("cluster-link-sendbuf-limit", &compat_more_lls[10], "0", 0, LLONG_MAX),
    I("cluster-migration-barrier", &compat_more_lls[11], "1", 0, LLONG_MAX),
    I("cluster-node-timeout", &compat_more_lls[12], "15000", 0, LLONG_MAX),
    I("cluster-port", &compat_more_lls[13], "0", 0, LLONG_MAX),
    S("cluster-preferred-endpoint-type", &compat_more_strs[7], "ip"),
    B("cluster-replica-no-failover", &compat_more_ints[7], "no"),
    I("cluster-replica-validity-factor", &compat_more_lls[14], "10", 0, LLONG_MAX),
    B("cluster-require-full-coverage", &compat_more_ints[8], "yes"),
    B("crash-memcheck-enabled", &compat_more_ints[9], "yes"),
    B("enable-module-command", &compat_more_ints[10], "no"),
    B("enable-protected-configs", &compat_more_ints[11], "no"),
    S("ignore-warnings", &compat_more_strs[8], NULL),
    S("masterauth", &compat_more_strs[9], NULL),
    S("masteruser", &compat_more_strs[10], NULL),
    I("min-replicas-max-lag", &compat_more_lls[15], "10", 0, LLONG_MAX),
    I("min-replicas-to-write", &compat_more_lls[16], "0", 0, LLONG_MAX),
    B("no-appendfsync-on-rewrite", &compat_more_ints[12], "no"),
    S("proc-title-template", &compat_more_strs[11], "{title} {listen-addr} {server-mode}"),
    S("propagation-error-behavior", &compat_more_strs[12], "ignore"),
    B("rdb-save-incremental-fsync", &compat_more_ints[13], "yes"),
    I("repl-backlog-ttl", &compat_more_lls[17], "3600", 0, LLONG_MAX),
    B("repl-disable-tcp-nodelay", &compat_more_ints[14], "no"),
    S("repl-diskless-load", &compat_more_strs[13], "disabled"),
    B("repl-diskless-sync", &compat_more_ints[15], "yes"),
    I("repl-diskless-sync-delay", &compat_more_lls[18], "5", 0, LLONG_MAX),
    I("repl-diskless-sync-max-replicas", &compat_more_lls[19], "0", 0, LLONG_MAX),
    I("repl-ping-replica-period", &compat_more_lls[20], "10", 0, LLONG_MAX),
    I("repl-timeout", &compat_more_lls[21], "60", 0, LLONG_MAX),
    S("replica-announce-ip", &compat_more_strs[14], NULL),
    I("replica-announce-port", &compat_more_lls[22], "0", 0, LLONG_MAX),
    B("replica-announced", &compat_more_ints[16], "yes"),
    B("replica-ignore-disk-write-errors", &compat_more_ints[17], "no"),
    B("replica-ignore-maxmemory", &compat_more_ints[18], "yes"),
    B("replica-lazy-flush", &compat_more_ints[19], "no"),
    I("replica-priority", &compat_more_lls[23], "100", 0, LLONG_MAX),
    B("replica-serve-stale-data", &compat_more_ints[20], "yes"),
    S("replicaof", &compat_more_strs[15], NULL),
    S("server_cpulist", &compat_more_strs[16], NULL),
    S("shutdown-on-sigint", &compat_more_strs[17], "default"),
    S("shutdown-on-sigterm", &compat_more_strs[18], "default"),
    I("shutdown-timeout", &compat_more_lls[24], "10", 0, LLONG_MAX),
    I("socket-mark-id", &compat_more_lls[25], "0", 0, LLONG_MAX),
    S("syslog-facility", &compat_more_strs[19], "local0"),
    S("syslog-ident", &compat_more_strs[20], "redis"),
    S("tls-client-cert-file", &compat_more_strs[21], NULL),
    S("tls-client-key-file", &compat_more_strs[22], NULL),
    S("tls-client-key-file-pass", &compat_more_strs[23], NULL),
    B("tls-cluster", &compat_more_ints[21], "no"),
    S("tls-dh-params-file", &compat_more_strs[24], NULL),
    S("tls-key-file-pass", &compat_more_strs[25], NULL),
    B("tls-replication", &compat_more_ints[22], "no"),
    I("tls-session-cache-size", &compat_more_lls[26], "20480", 0, LLONG_MAX),
    I("tls-session-cache-timeout", &compat_more_lls[27], "300", 0, LLONG_MAX),
    B("tls-session-caching", &compat_more_ints[23], "yes"),
    {.name = "key-load-delay",
     .type = CT_INT,
     .ptr = &compat_more_lls[28],
     .ptr_size = 8,
     .def = "0",
     .min = LLONG_MIN,
     .max = LLONG_MAX,
     .flags = CF_HIDDEN},
    {.name = "rdb-key-save-delay",
     .type = CT_INT,
     .ptr = &compat_more_lls[29],
     .ptr_size = 8,
     .def = "0",
     .min = LLONG_MIN,
     .max = LLONG_MAX,
     .flags = CF_HIDDEN},
    {.name = "loading-process-events-interval-bytes",
     .type = CT_INT,
     .ptr = &compat_more_lls[30],
     .ptr_size = 8,
     .def = "2097152",
     .min = 1024,
     .max = LLONG_MAX,
     .flags = CF_HIDDEN},
    B("disable-thp", &compat_ints[15], "yes"),
    B("supervised-compat", &compat_ints[16], "no"),
    S("supervised", &compat_strs[5], "no"),
    I("active-defrag-cycle-min", &compat_ints[17], "1", 1, 99),
    B("rdb-del-sync-files", &compat_ints[18], "no"),
    B("sanitize-dump-payload", &compat_ints[19], "no"),
    B("aof-use-rdb-preamble", &compat_ints[21], "yes"),
    {.name = NULL}};

/* The built-in rows, then those other subsystems registered, ended by a row
 * with a NULL name; nrows does not count that end row. */
static config_row *rows = builtin_rows;
static size_t nrows = sizeof(builtin_rows) / sizeof(builtin_rows[0]) - 1;

/* Where the built-in rows end in rows[] (registered rows follow). */
static const config_row *builtin_end(void) {
    return rows + sizeof(builtin_rows) / sizeof(builtin_rows[0]) - 1;
}

/* Stands for a row CONFIG SET leaves as it is (set and applied as nothing). */
static int set_nothing(const char *val, char **err) {
    return OK;
}
static void get_nothing(sbuf *out) {}
static config_row unchanged_row = {
    .name = "", .type = CT_SPECIAL, .set = set_nothing, .get = get_nothing};

void config_register(const config_directive *add) {
    size_t n = 0;
    while (add[n].name) n++;
    config_row *all = xmalloc((nrows + n + 1) * sizeof(*all));
    memcpy(all, rows, nrows * sizeof(*all));
    memcpy(all + nrows, add, (n + 1) * sizeof(*all));
    if (rows != builtin_rows) xfree(rows);
    rows = all;
    nrows += n;
}

/* Aliases Redis keeps for old names. */
static const struct {
    const char *alias, *name;
} aliases[] = {{"hash-max-ziplist-entries", "hash-max-listpack-entries"},
               {"hash-max-ziplist-value", "hash-max-listpack-value"},
               {"zset-max-ziplist-entries", "zset-max-listpack-entries"},
               {"zset-max-ziplist-value", "zset-max-listpack-value"},
               {"list-max-ziplist-size", "list-max-listpack-size"},
               {"lua-time-limit", "busy-reply-threshold"},
               {"slave-read-only", "replica-read-only"},
               {"cluster-slave-no-failover", "cluster-replica-no-failover"},
               {"cluster-slave-validity-factor", "cluster-replica-validity-factor"},
               {"min-slaves-max-lag", "min-replicas-max-lag"},
               {"min-slaves-to-write", "min-replicas-to-write"},
               {"repl-ping-slave-period", "repl-ping-replica-period"},
               {"slave-announce-ip", "replica-announce-ip"},
               {"slave-announce-port", "replica-announce-port"},
               {"slave-ignore-maxmemory", "replica-ignore-maxmemory"},
               {"slave-lazy-flush", "replica-lazy-flush"},
               {"slave-priority", "replica-priority"},
               {"slave-serve-stale-data", "replica-serve-stale-data"},
               {"slaveof", "replicaof"},
               {NULL, NULL}};

static config_row *find_row(const char *name) {
    for (int i = 0; aliases[i].alias; i++)
        if (strcasecmp(aliases[i].alias, name) == 0) name = aliases[i].name;
    for (config_row *r = rows; r->name; r++)
        if (strcasecmp(r->name, name) == 0) return r;
    return NULL;
}

/* ---- values ------------------------------------------------------------------------- */

static void row_get(const config_row *r, sbuf *out) {
    switch (r->type) {
    case CT_BOOL:
        sbuf_puts(out, *(int *)r->ptr ? "yes" : "no");
        break;
    case CT_INT:
    case CT_MEM:
        if (r->ptr_size == sizeof(int))
            sbuf_printf(out, "%d", *(int *)r->ptr);
        else
            sbuf_printf(out, "%lld", *(long long *)r->ptr);
        break;
    case CT_ENUM:
        for (const enum_name *e = r->enums; e->name; e++)
            if (e->value == *(int *)r->ptr) {
                sbuf_puts(out, e->name);
                break;
            }
        break;
    case CT_STRING:
        sbuf_puts(out, *(char **)r->ptr ? *(char **)r->ptr : "");
        break;
    case CT_SPECIAL:
        r->get(out);
        break;
    }
}

/* Parses val into the row's storage. The old value is untouched on error. */
static int row_set(config_row *r, const char *val, size_t len, char **err) {
    switch (r->type) {
    case CT_BOOL:
        if (strcasecmp(val, "yes") == 0)
            *(int *)r->ptr = 1;
        else if (strcasecmp(val, "no") == 0)
            *(int *)r->ptr = 0;
        else {
            *err = xstrdup("argument must be 'yes' or 'no'");
            return ERR;
        }
        return OK;
    case CT_INT:
    case CT_MEM: {
        long long v;
        unsigned long long uv;
        if (r->type == CT_MEM && val[0] != '-') {
            if (parse_memory(val, &uv) != OK || uv > (unsigned long long)LLONG_MAX) {
                *err = xstrdup("argument must be a memory value");
                return ERR;
            }
            v = (long long)uv;
        } else if (!str_to_ll(val, strlen(val), &v)) {
            *err = xstrdup("argument couldn't be parsed into an integer");
            return ERR;
        }
        if (v < r->min || v > r->max) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "argument must be between %lld and %lld inclusive", r->min, r->max);
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
        if (r->ptr_size == sizeof(int))
            *(int *)r->ptr = (int)v;
        else
            *(long long *)r->ptr = v;
        return OK;
    }
    case CT_ENUM:
        for (const enum_name *e = r->enums; e->name; e++)
            if (strcasecmp(e->name, val) == 0) {
                *(int *)r->ptr = e->value;
                return OK;
            }
        {
            sbuf b = SBUF_INIT;
            sbuf_puts(&b, "argument(s) must be one of the following: ");
            for (const enum_name *e = r->enums; e->name; e++)
                sbuf_printf(&b, "%s%s", e == r->enums ? "" : ", ", e->name);
            *err = sbuf_take(&b, NULL);
        }
        return ERR;
    case CT_STRING: {
        char **p = r->ptr;
        xfree(*p);
        *p = (val[0] || r->def) ? xstrdup(val) : NULL;
        if (!val[0] && !r->def) *p = NULL;
        return OK;
    }
    case CT_SPECIAL:
        return r->set_bytes ? r->set_bytes(val, len, err) : r->set(val, err);
    }
    return ERR;
}

static void attach_hooks(void) {
    for (config_row *r = rows; r->name; r++) {
        if (!strcmp(r->name, "maxmemory-policy")) r->apply = apply_policy;
        if (!strcmp(r->name, "lfu-log-factor") || !strcmp(r->name, "lfu-decay-time"))
            r->apply = apply_lfu;
        if (!strcmp(r->name, "maxmemory")) r->apply = apply_maxmemory;
        if (!strcmp(r->name, "proto-max-bulk-len")) r->apply = apply_bulk_len;
        if (!strcmp(r->name, "hz")) r->apply = apply_hz;
        if (!strcmp(r->name, "port") || !strcmp(r->name, "tls-port")) r->apply = apply_port;
        if (!strcmp(r->name, "bind")) r->apply = apply_bind;
        if (!strcmp(r->name, "unixsocket")) r->apply = apply_listen;
        if (!strncmp(r->name, "tls-", 4) && strcmp(r->name, "tls-port") != 0) r->apply = apply_tls;
        if (!strcmp(r->name, "requirepass")) r->apply = apply_requirepass;
        if (!strcmp(r->name, "databases") || !strcmp(r->name, "daemonize") ||
            !strcmp(r->name, "unixsocketperm") || !strcmp(r->name, "logfile") ||
            !strcmp(r->name, "syslog-enabled") || !strcmp(r->name, "tcp-backlog") ||
            !strcmp(r->name, "pidfile") || !strcmp(r->name, "io-threads") ||
            !strcmp(r->name, "cluster-enabled") || !strcmp(r->name, "supervised") ||
            !strcmp(r->name, "enable-debug-command") || !strcmp(r->name, "aclfile"))
            r->flags |= CF_IMMUTABLE;
    }
}

void config_apply_defaults(void) {
    attach_hooks();
    for (config_row *r = rows; r->name; r++) {
        char *err = NULL;
        if ((r->type == CT_STRING || r->type == CT_SPECIAL) && !r->def) continue;
        if (!strcmp(r->name, "dir")) continue;
        if (row_set(r, r->def ? r->def : "", r->def ? strlen(r->def) : 0, &err) != OK) {
            fprintf(stderr, "config default for %s invalid: %s\n", r->name, err);
            xfree(err);
        }
    }
    apply_policy(NULL);
    apply_lfu(NULL);
    server.hz = server.config_hz;
}

/* ---- loading ----------------------------------------------------------------------- */

/* Applies one directive line already split in argv. */
static int apply_directive(int argc, resp_arg *argv, char **err) {
    if (!strcmp(argv[0].p, "include")) { /* include another file, as redis.conf does */
        static int depth;
        if (argc != 2) {
            *err = xstrdup("include needs one path");
            return ERR;
        }
        if (depth > 8) {
            *err = xstrdup("include nested too deeply");
            return ERR;
        }
        depth++;
        int rc = config_load_file(argv[1].p, err);
        depth--;
        return rc;
    }
    config_row *r = find_row(argv[0].p);
    if (!r) {
        *err = xstrdup("Bad directive or wrong number of arguments");
        return ERR;
    }
    /* multi-argument values (bind, save, client-output-buffer-limit) are
     * joined; for a setter that splits them again, quoted where needed */
    sbuf v = SBUF_INIT;
    for (int i = 1; i < argc; i++) {
        if (i > 1) sbuf_puts(&v, " ");
        if ((r->flags & CF_SPLITS_ARGS) && (!argv[i].p[0] || strpbrk(argv[i].p, " \t\"'\\\r\n")))
            sbuf_append_repr(&v, argv[i].p, strlen(argv[i].p));
        else
            sbuf_append(&v, argv[i].p, argv[i].len);
    }
    if (argc == 1 && r->type != CT_SPECIAL && r->type != CT_STRING) {
        sbuf_free(&v);
        *err = xstrdup("wrong number of arguments");
        return ERR;
    }
    int rc = row_set(r, v.p ? v.p : "", v.len, err);
    sbuf_free(&v);
    return rc;
}

int config_load_string(const char *text, const char *origin, char **err) {
    char *copy = xstrdup(text);
    char *line = copy, *next;
    int lineno = 0, rc = OK;
    resp_arg *argv = NULL;
    int cap = 0;
    for (; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        size_t len = strlen(p);
        while (len && isspace((unsigned char)p[len - 1])) p[--len] = '\0';
        int argc = 0;
        char *lerr = NULL;
        if (resp_split_args(p, len, &argv, &cap, &argc) < 0) {
            lerr = xstrdup("Unbalanced quotes in configuration line");
        } else if (argc > 0) {
            for (char *q = argv[0].p; *q; q++) *q = (char)tolower((unsigned char)*q);
            apply_directive(argc, argv, &lerr);
        }
        if (lerr) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b,
                        "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\nReading the configuration "
                        "file, at line %d\n>>> '%s'\n%s",
                        LARDER_VERSION, lineno, line, lerr);
            (void)origin;
            xfree(lerr);
            *err = sbuf_take(&b, NULL);
            rc = ERR;
            break;
        }
    }
    xfree(argv);
    xfree(copy);
    return rc;
}

int config_load_file(const char *path, char **err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "Fatal error, can't open config file '%s': %s", path, strerror(errno));
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    sbuf text = SBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) sbuf_append(&text, buf, n);
    fclose(f);
    int rc = config_load_string(text.p ? text.p : "", path, err);
    sbuf_free(&text);
    return rc;
}

/* ---- CONFIG GET / SET ------------------------------------------------------------- */

/* CONFIG GET as Redis 7.0: a name without glob characters is looked up
 * (aliases and hidden settings included) and answered under the name asked;
 * a pattern matches every visible setting and every alias by name. Each
 * name appears once. */
typedef struct get_hit {
    const char *name;
    const config_row *row;
} get_hit;

static void get_add(get_hit **hits, size_t *n, size_t *cap, const char *name, const config_row *r) {
    for (size_t i = 0; i < *n; i++)
        if (!strcasecmp((*hits)[i].name, name)) return;
    if (*n == *cap) *hits = xrealloc(*hits, (*cap = *cap ? *cap * 2 : 64) * sizeof(get_hit));
    (*hits)[(*n)++] = (get_hit){name, r};
}

void config_get_reply(client *c) {
    get_hit *hits = NULL;
    size_t n = 0, cap = 0;
    for (int j = 2; j < c->argc; j++) {
        const resp_arg *pat = &c->argv[j];
        if (!strpbrk(pat->p, "*?[")) {
            config_row *r = find_row(pat->p);
            if (r && !(r->flags & CF_FILE_ONLY)) get_add(&hits, &n, &cap, pat->p, r);
            continue;
        }
        for (config_row *r = rows; r->name; r++)
            if (!(r->flags & CF_HIDDEN) &&
                glob_match(pat->p, pat->len, r->name, strlen(r->name), 1))
                get_add(&hits, &n, &cap, r->name, r);
        for (int k = 0; aliases[k].alias; k++) {
            config_row *r = find_row(aliases[k].name);
            if (r && !(r->flags & CF_HIDDEN) &&
                glob_match(pat->p, pat->len, aliases[k].alias, strlen(aliases[k].alias), 1))
                get_add(&hits, &n, &cap, aliases[k].alias, r);
        }
    }
    reply_map(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        sbuf v = SBUF_INIT;
        row_get(hits[i].row, &v);
        reply_bulk_cstr(c, hits[i].name);
        reply_bulk(c, v.p ? v.p : "", v.len);
        sbuf_free(&v);
    }
    xfree(hits);
}

int config_set_many(int n, const resp_arg *names, const resp_arg *values, char **err) {
    config_row **rs = xcalloc((size_t)n, sizeof(*rs));
    sbuf *old = xcalloc((size_t)n, sizeof(sbuf));
    int rc = OK, i, failed_at = -1;
    const char *bad = NULL;
    for (i = 0; i < n; i++) {
        rs[i] = find_row(names[i].p);
        if (rs[i] && (rs[i]->flags & CF_FILE_ONLY)) rs[i] = NULL;
        if (!rs[i]) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                        names[i].p);
            *err = sbuf_take(&b, NULL);
            rc = ERR;
            goto done;
        }
        for (int k = 0; k < i; k++)
            if (rs[k] == rs[i]) {
                sbuf b = SBUF_INIT;
                sbuf_printf(&b,
                            "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate "
                            "parameter",
                            names[i].p);
                *err = sbuf_take(&b, NULL);
                rc = ERR;
                goto done;
            }
        row_get(rs[i], &old[i]);
        /* Larder's own start-up directives (registered rows) accept their
         * current value, so that CONFIG GET * output can be set back. */
        if ((rs[i]->flags & CF_IMMUTABLE) && rs[i] >= builtin_end() &&
            strcmp(old[i].p ? old[i].p : "", values[i].p) == 0) {
            rs[i] = &unchanged_row;
            continue;
        }
        if (rs[i]->flags & CF_IMMUTABLE) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b,
                        "ERR CONFIG SET failed (possibly related to argument '%s') - can't set "
                        "immutable config",
                        names[i].p);
            *err = sbuf_take(&b, NULL);
            rc = ERR;
            goto done;
        }
    }
    char *e = NULL;
    for (i = 0; i < n; i++) {
        if (row_set(rs[i], values[i].p, values[i].len, &e) != OK) {
            failed_at = i;
            bad = names[i].p;
            break;
        }
    }
    if (failed_at < 0) {
        for (i = 0; i < n; i++) {
            if (rs[i]->apply && rs[i]->apply(&e) != OK) {
                failed_at = n;
                bad = names[i].p;
                break;
            }
        }
    }
    if (failed_at >= 0) {
        /* roll back everything set so far, then re-apply the old values */
        int upto = failed_at < n ? failed_at : n;
        for (int k = 0; k < upto; k++) {
            char *ignore = NULL;
            row_set(rs[k], old[k].p ? old[k].p : "", old[k].len, &ignore);
            xfree(ignore);
        }
        for (int k = 0; k < upto; k++) {
            char *ignore = NULL;
            if (rs[k]->apply) rs[k]->apply(&ignore);
            xfree(ignore);
        }
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", bad,
                    e ? e : "error");
        xfree(e);
        *err = sbuf_take(&b, NULL);
        rc = ERR;
    }
done:
    for (i = 0; i < n; i++) sbuf_free(&old[i]);
    xfree(old);
    xfree(rs);
    return rc;
}

/* ---- CONFIG REWRITE ------------------------------------------------------------------- */

/* Quotes a value for the config file when it needs quoting. */
static void append_value(sbuf *b, const char *v, size_t len) {
    if (strlen(v) != len) { /* a NUL byte inside (requirepass) */
        sbuf_append_repr(b, v, len);
    } else if (!*v || strpbrk(v, " \t\"'\\\r\n")) {
        if (!strchr(v, '"') && !strchr(v, '\\') && !strpbrk(v, "\r\n") && *v && !strchr(v, '\'')) {
            sbuf_puts(b, v); /* multi-word values (bind, save) stay as words */
        } else {
            sbuf_append_repr(b, v, strlen(v));
        }
    } else {
        sbuf_puts(b, v);
    }
}

/* A row that splits its value prints it as arguments already quoted where
 * needed (loadmodule PATH "a b"): written as is, it splits the same way. */
static void append_row_value(sbuf *b, const config_row *r, const char *v, size_t len) {
    if (r->flags & CF_SPLITS_ARGS)
        sbuf_puts(b, v);
    else
        append_value(b, v, len);
}

static int row_is_default(const config_row *r) {
    sbuf v = SBUF_INIT;
    row_get(r, &v);
    int same = (r->def ? strcmp(v.p ? v.p : "", r->def) == 0 : (!v.p || !*v.p));
    sbuf_free(&v);
    return same;
}

int config_rewrite(const char *path, char **err) {
    FILE *f = fopen(path, "r");
    sbuf out = SBUF_INIT;
    unsigned char *done = xcalloc(nrows + 1, 1);
    if (f) {
        char line[8192];
        while (fgets(line, sizeof(line), f)) {
            char name[128];
            if (sscanf(line, " %127s", name) == 1 && name[0] != '#') {
                if (!strcmp(name, "user")) continue; /* written from the users below */
                config_row *r = find_row(name);
                if (r) {
                    size_t idx = (size_t)(r - rows);
                    if (done[idx]) continue; /* drop duplicates */
                    done[idx] = 1;
                    sbuf v = SBUF_INIT;
                    row_get(r, &v);
                    sbuf_printf(&out, "%s ", r->name);
                    append_row_value(&out, r, v.p ? v.p : "", v.len);
                    sbuf_puts(&out, "\n");
                    sbuf_free(&v);
                    continue;
                }
            }
            sbuf_puts(&out, line);
        }
        fclose(f);
    }
    int header = 0;
    for (config_row *r = rows; r->name; r++) {
        size_t idx = (size_t)(r - rows);
        if (done[idx] || row_is_default(r) || !strcmp(r->name, "dir") || !strcmp(r->name, "user"))
            continue;
        if (!header) {
            sbuf_puts(&out, "# Generated by CONFIG REWRITE\n");
            header = 1;
        }
        sbuf v = SBUF_INIT;
        row_get(r, &v);
        sbuf_printf(&out, "%s ", r->name);
        append_row_value(&out, r, v.p ? v.p : "", v.len);
        sbuf_puts(&out, "\n");
        sbuf_free(&v);
    }
    xfree(done);
    if (!acl_filename || !acl_filename[0]) acl_rewrite_users(&out);
    /* write atomically: temp file + rename */
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.tmp-%d", path, (int)getpid());
    FILE *w = fopen(tmp.p, "w");
    int rc = OK;
    if (!w || fwrite(out.p ? out.p : "", 1, out.len, w) != out.len || fflush(w) != 0 ||
        fsync(fileno(w)) != 0) {
        *err = xstrdup(strerror(errno));
        rc = ERR;
    }
    if (w) fclose(w);
    if (rc == OK && rename(tmp.p, path) != 0) {
        *err = xstrdup(strerror(errno));
        rc = ERR;
    }
    if (rc != OK) unlink(tmp.p);
    sbuf_free(&tmp);
    sbuf_free(&out);
    return rc;
}
