/* commands/server_cmds — server administration: DBSIZE FLUSHDB FLUSHALL TIME
 * LASTSAVE SWAPDB INFO SHUTDOWN WAIT ROLE, CONFIG *, MEMORY *, OBJECT *,
 * SLOWLOG *, LATENCY, FUNCTION FLUSH/LIST/STATS and DEBUG. */
#include "commands/commands.h"
#include "util/clock.h"
#include "util/mem.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void dbsize_command(client *c) {
    reply_int(c, (long long)db_size(c->db));
}

static int flush_flags_or_reply(client *c) {
    if (c->argc == 1) return OK;
    if (c->argc == 2 && (arg_is(&c->argv[1], "sync") || arg_is(&c->argv[1], "async"))) return OK;
    reply_error(c, ERR_SYNTAX);
    return ERR;
}

void flushdb_command(client *c) {
    if (flush_flags_or_reply(c) != OK) return;
    server_add_dirty((long long)db_size(c->db));
    server_flush_db(c->db->id);
    reply_ok(c);
    xmem_purge();
}

void flushall_command(client *c) {
    if (flush_flags_or_reply(c) != OK) return;
    for (int i = 0; i < server_db_count(); i++) server_add_dirty((long long)db_size(server_db(i)));
    server_flush_db(-1);
    server_add_dirty(1);
    reply_ok(c);
    xmem_purge();
}

void time_command(client *c) {
    int64_t us = clock_ustime();
    reply_array(c, 2);
    reply_bulk_ll(c, us / 1000000);
    reply_bulk_ll(c, us % 1000000);
}

/* READONLY / READWRITE: cluster replica reads; without cluster support, Redis's error. */
void readonly_command(client *c) {
    reply_error(c, "ERR This instance has cluster support disabled");
}
void readwrite_command(client *c) {
    reply_error(c, "ERR This instance has cluster support disabled");
}

void lastsave_command(client *c) {
    reply_int(c, server_lastsave() / 1000);
}

void swapdb_command(client *c) {
    long long a, b;
    if (arg_long_range_or_reply(c, &c->argv[1], INT_MIN, INT_MAX, &a,
                                "ERR invalid first DB index") != OK)
        return;
    if (arg_long_range_or_reply(c, &c->argv[2], INT_MIN, INT_MAX, &b,
                                "ERR invalid second DB index") != OK)
        return;
    if (a < 0 || a >= server_db_count() || b < 0 || b >= server_db_count()) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    if (a != b) {
        kv_now_ms = server_mstime();
        watch_touch_all_keys_in_db((int)a, (int)b);
        db_swap_contents(server_db(a), server_db(b));
        tracking_invalidate_all();
        /* clients blocked on keys of either db may now be served */
        for (int k = 0; k < 2; k++) {
            db *d = server_db(k ? b : a);
            if (!d->blocking_keys) continue;
            dict_iter it;
            dict_iter_init(&it, d->blocking_keys);
            void *w;
            sbuf keys = SBUF_INIT;
            size_t *lens = NULL, n = 0;
            while ((w = dict_iter_next(&it))) {
                size_t len;
                const char *key = d->blocking_keys->type->entry_key(w, &len);
                sbuf_append(&keys, key, len);
                lens = xrealloc(lens, sizeof(size_t) * (n + 1));
                lens[n++] = len;
            }
            dict_iter_done(&it);
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                if (db_find(d, keys.p + off, lens[i]))
                    signal_key_as_ready(d, keys.p + off, lens[i]);
                off += lens[i];
            }
            sbuf_free(&keys);
            xfree(lens);
        }
    }
    server_add_dirty(1);
    reply_ok(c);
}

void info_command(client *c) {
    sbuf b = SBUF_INIT;
    info_build(&b, c->argc - 1, c->argv + 1);
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    sbuf_free(&b);
}

void shutdown_command(client *c) {
    int abort = 0;
    for (int j = 1; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "nosave") || arg_is(a, "save") || arg_is(a, "now") || arg_is(a, "force")) {
            continue;
        } else if (arg_is(a, "abort")) {
            abort = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (abort) {
        if (c->argc != 2) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    server_log(LL_WARNING, "User requested shutdown...");
    server_request_shutdown();
    /* No reply on success, and the connection stays open until the process
     * exits (after the write-behind flush), as with Redis: the client is
     * marked, not queued for closing (client_free knows such a client). */
    c->flags |= CLIENT_CLOSE_ASAP;
}

void wait_command(client *c) {
    long long n;
    int64_t t;
    if (arg_ll_or_reply(c, &c->argv[1], &n, NULL) != OK) return;
    if (arg_timeout_or_reply(c, &c->argv[2], &t) != OK) return;
    reply_int(c, 0); /* no replicas */
}

void role_command(client *c) {
    reply_array(c, 3);
    reply_bulk_cstr(c, "master");
    reply_int(c, 0);
    reply_empty_array(c);
}

void lolwut_command(client *c) {
    char buf[128];
    snprintf(buf, sizeof(buf), "Larder ver. %s (Redis %s compatible)\n", LARDER_OWN_VERSION,
             LARDER_VERSION);
    reply_verbatim(c, buf, strlen(buf), "txt");
}

/* ---- CONFIG ---------------------------------------------------------------------- */

void config_get_command(client *c) {
    config_get_reply(c);
}

void config_set_command(client *c) {
    if ((c->argc - 2) % 2 != 0) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
        return;
    }
    int n = (c->argc - 2) / 2;
    resp_arg *names = xmalloc(sizeof(resp_arg) * (size_t)n),
             *vals = xmalloc(sizeof(resp_arg) * (size_t)n);
    for (int i = 0; i < n; i++) {
        names[i] = c->argv[2 + 2 * i];
        vals[i] = c->argv[3 + 2 * i];
    }
    char *err = NULL;
    if (config_set_many(n, names, vals, &err) == OK) {
        reply_ok(c);
    } else {
        reply_error(c, err);
        xfree(err);
    }
    xfree(names);
    xfree(vals);
}

void config_resetstat_command(client *c) {
    stats_reset();
    reply_ok(c);
}

void config_rewrite_command(client *c) {
    if (!server_configfile()) {
        reply_error(c, "ERR The server is running without a config file");
        return;
    }
    char *err = NULL;
    if (config_rewrite(server_configfile(), &err) != OK) {
        reply_errorf(c, "ERR Rewriting config file: %s", err);
        xfree(err);
        return;
    }
    server_log(LL_NOTICE, "CONFIG REWRITE executed with success.");
    reply_ok(c);
}

void config_help_command(client *c) {
    static const char *const help[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL};
    reply_help(c, "config", help);
}

/* ---- MEMORY -------------------------------------------------------------------- */

void memory_usage_command(client *c) {
    long long samples = 5;
    for (int j = 3; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "samples") && j + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[++j], &samples, NULL) != OK) return;
            if (samples < 0) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            if (samples == 0) samples = LLONG_MAX;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    kobj *o = db_lookup(c->db, c->argv[2].p, c->argv[2].len, LOOKUP_NOTOUCH);
    if (!o) {
        reply_null(c);
        return;
    }
    /* entry + its share of the table slots */
    reply_int(c, (long long)(kobj_mem(o, (size_t)samples) + sizeof(void *)));
}

static void stat_int(client *c, const char *name, long long v) {
    reply_bulk_cstr(c, name);
    reply_int(c, v);
}
static void stat_double(client *c, const char *name, double v) {
    reply_bulk_cstr(c, name);
    reply_double(c, v);
}

/* MEMORY STATS: Redis 7.0's fields, in its order (replication, cluster and
 * AOF ones are 0: Larder has none of them). */
void memory_stats_command(client *c) {
    memory_report m;
    memory_report_fill(&m);
    size_t net = m.total > m.startup ? m.total - m.startup : 0;
    reply_map(c, 27 + m.ndbs);
    stat_int(c, "peak.allocated", (long long)m.peak);
    stat_int(c, "total.allocated", (long long)m.total);
    stat_int(c, "startup.allocated", (long long)m.startup);
    stat_int(c, "replication.backlog", 0);
    stat_int(c, "clients.slaves", 0);
    stat_int(c, "clients.normal", (long long)m.clients_normal);
    stat_int(c, "cluster.links", 0);
    stat_int(c, "aof.buffer", 0);
    stat_int(c, "lua.caches", (long long)m.lua_caches);
    stat_int(c, "functions.caches", (long long)m.functions_caches);
    for (int i = 0; i < m.ndbs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "db.%d", m.db[i].id);
        reply_bulk_cstr(c, name);
        reply_map(c, 2);
        stat_int(c, "overhead.hashtable.main", (long long)m.db[i].main);
        stat_int(c, "overhead.hashtable.expires", (long long)m.db[i].expires);
    }
    stat_int(c, "overhead.total", (long long)m.overhead_total);
    stat_int(c, "keys.count", m.keys);
    stat_int(c, "keys.bytes-per-key", m.keys ? (long long)(net / (size_t)m.keys) : 0);
    stat_int(c, "dataset.bytes", (long long)m.dataset);
    stat_double(c, "dataset.percentage", net ? (double)m.dataset * 100 / (double)net : 0);
    stat_double(c, "peak.percentage", m.peak ? (double)m.total * 100 / (double)m.peak : 0);
    stat_int(c, "allocator.allocated", (long long)m.alloc_allocated);
    stat_int(c, "allocator.active", (long long)m.alloc_active);
    stat_int(c, "allocator.resident", (long long)m.alloc_resident);
    stat_double(c, "allocator-fragmentation.ratio",
                m.alloc_allocated ? (double)m.alloc_active / (double)m.alloc_allocated : 0);
    stat_int(c, "allocator-fragmentation.bytes",
             (long long)m.alloc_active - (long long)m.alloc_allocated);
    stat_double(c, "allocator-rss.ratio",
                m.alloc_active ? (double)m.alloc_resident / (double)m.alloc_active : 0);
    stat_int(c, "allocator-rss.bytes", (long long)m.alloc_resident - (long long)m.alloc_active);
    stat_double(c, "rss-overhead.ratio",
                m.alloc_resident ? (double)m.rss / (double)m.alloc_resident : 0);
    stat_int(c, "rss-overhead.bytes", (long long)m.rss - (long long)m.alloc_resident);
    stat_double(c, "fragmentation", m.total ? (double)m.rss / (double)m.total : 0);
    stat_int(c, "fragmentation.bytes", (long long)m.rss - (long long)m.total);
}

void memory_doctor_command(client *c) {
    const char *msg = "Hi Sam, I can't find any memory issue in your instance. I can only account "
                      "for what occurs on this base.";
    reply_verbatim(c, msg, strlen(msg), "txt");
}

void memory_malloc_stats_command(client *c) {
    char *r = xmem_allocator_report();
    reply_verbatim(c, r, strlen(r), "txt");
    xfree(r);
}

void memory_purge_command(client *c) {
    xmem_purge();
    reply_ok(c);
}

void memory_help_command(client *c) {
    static const char *const help[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL};
    reply_help(c, "memory", help);
}

/* ---- OBJECT ---------------------------------------------------------------------- */

static kobj *object_key(client *c) {
    kobj *o = db_lookup(c->db, c->argv[2].p, c->argv[2].len, LOOKUP_NOTOUCH);
    if (!o) reply_null(c);
    return o;
}

void object_encoding_command(client *c) {
    kobj *o = object_key(c);
    if (o) reply_bulk_cstr(c, kobj_enc_name(o));
}

/* Redis keeps the integers 0..9999 as shared objects (refcount INT_MAX)
 * unless an LRU/LFU policy with a maxmemory needs per-key access data; a
 * Larder entry is never shared, but OBJECT REFCOUNT answers as Redis would. */
static int redis_would_share(const kobj *o) {
    if (o->type != OBJ_STRING || o->enc != ENC_INT || o->vlen > 4) return 0;
    if (server_maxmemory() && server_policy_tracks_access()) return 0;
    const char *v = kobj_val(o);
    return v[0] != '-'; /* int encoding: canonical digits, at most 4 of them */
}

void object_refcount_command(client *c) {
    kobj *o = object_key(c);
    if (o) reply_int(c, redis_would_share(o) ? 2147483647 : 1);
}

void object_idletime_command(client *c) {
    kobj *o = object_key(c);
    if (!o) return;
    if (kv_lfu_mode) {
        reply_error(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                       "note that when switching between policies at runtime LRU and LFU data will "
                       "take some time to adjust.");
        return;
    }
    reply_int(c, (long long)(kobj_idle_ms(o) / 1000));
}

void object_freq_command(client *c) {
    kobj *o = object_key(c);
    if (!o) return;
    if (!kv_lfu_mode) {
        reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                       "Please note that when switching between policies at runtime LRU and LFU "
                       "data will take some time to adjust.");
        return;
    }
    reply_int(c, kobj_lfu_freq(o));
}

void object_help_command(client *c) {
    static const char *const help[] = {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        NULL};
    reply_help(c, "object", help);
}

/* FUNCTION lives in scripting.c. */

/* ---- MONITOR and LATENCY (server/monitor.c, server/latency.c) --------------------- */

void monitor_command(client *c) {
    if (c->flags & CLIENT_DENY_BLOCKING) {
        /* it expects one reply per command: a stream of them would break it */
        reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->flags & CLIENT_MONITOR) return; /* as Redis: a second MONITOR gets no reply */
    monitor_add(c);
    reply_ok(c);
}

void latency_latest_command(client *c) {
    latency_reply_latest(c);
}
void latency_history_command(client *c) {
    latency_reply_history(c, c->argv[2].p);
}
void latency_reset_command(client *c) {
    reply_int(c, latency_reset(c->argc - 2, c->argv + 2));
}
void latency_graph_command(client *c) {
    sbuf b = SBUF_INIT;
    if (latency_graph(c->argv[2].p, &b) != OK)
        reply_errorf(c, "ERR No samples available for event '%s'", c->argv[2].p);
    else
        reply_verbatim(c, b.p, b.len, "txt");
    sbuf_free(&b);
}
void latency_histogram_command(client *c) {
    latency_reply_histogram(c, c->argc - 2, c->argv + 2);
}

void latency_doctor_command(client *c) {
    sbuf b = SBUF_INIT;
    latency_doctor(&b);
    reply_verbatim(c, b.p, b.len, "txt");
    sbuf_free(&b);
}

void latency_help_command(client *c) {
    static const char *const help[] = {
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the "
        "specified command names.",
        "    If no commands are specified then all histograms are replied.",
        NULL};
    reply_help(c, "latency", help);
}
