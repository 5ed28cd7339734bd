/* server/info — INFO sections with Redis's field names (clients such as
 * ioredis parse them: `loading:0` must be there), stats and errorstats. */
#include "server/acl.h"
#include "server/server.h"
#include "server/hooks.h"
#include "server/audit.h"
#include "server/pubsub.h"
#include "server/uring.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/mem.h"
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Extra lines other subsystems add to a section (persistence, stats). */
typedef struct info_ext {
    const char *section;
    void (*fn)(sbuf *out);
} info_ext;
static info_ext exts[8];
static int nexts;

void info_register(const char *section, void (*fn)(sbuf *out)) {
    if (nexts < 8) exts[nexts++] = (info_ext){section, fn};
}

static void run_exts(const char *section, sbuf *b) {
    for (int i = 0; i < nexts; i++)
        if (!strcmp(exts[i].section, section)) exts[i].fn(b);
}

/* ---- error statistics ---------------------------------------------------------- */

typedef struct err_count {
    long long count;
    size_t len;
    char code[];
} err_count;

static const void *err_key(const void *e, size_t *len) {
    *len = ((const err_count *)e)->len;
    return ((const err_count *)e)->code;
}
static const dict_type err_type = {hash_bytes, err_key, NULL};

void stats_record_error(const char *msg) {
    server.stat_total_error_replies++;
    audit_note_error(msg);
    size_t n = strcspn(msg, " \r\n");
    if (n > 64) n = 64;
    if (!server.errors) server.errors = dict_new(&err_type);
    err_count *e = dict_find(server.errors, msg, n);
    if (!e) {
        if (dict_size(server.errors) >= 128) return; /* Redis caps distinct codes too */
        e = xmalloc(sizeof(*e) + n);
        e->count = 0;
        e->len = n;
        memcpy(e->code, msg, n);
        dict_add(server.errors, e);
    }
    e->count++;
}

static void free_err(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

void stats_reset(void) {
    server.stat_numcommands = server.stat_numconnections = server.stat_rejected_conn = 0;
    server.stat_expiredkeys = server.stat_evictedkeys = 0;
    server.stat_keyspace_hits = server.stat_keyspace_misses = 0;
    server.stat_net_input_bytes = server.stat_net_output_bytes = 0;
    server.stat_total_error_replies = server.stat_unexpected_error_replies = 0;
    server.stat_io_reads = server.stat_io_writes = 0;
    server.stat_client_qbuf_limit_disconnections = server.stat_client_outbuf_limit_disconnections =
        0;
    server.stat_peak_memory = used_memory();
    for (int i = 0; i < server.command_count; i++) latency_hist_free(&server.cmdstats[i].hist);
    memset(server.cmdstats, 0, sizeof(command_stats) * (size_t)server.command_count);
    if (server.errors) dict_clear(server.errors, free_err, NULL);
    acl_stats_reset();
}

/* ---- helpers -------------------------------------------------------------------- */

static void human_bytes(char *buf, size_t size, unsigned long long n) {
    double d = (double)n;
    if (n < 1024)
        snprintf(buf, size, "%lluB", n);
    else if (n < 1024 * 1024)
        snprintf(buf, size, "%.2fK", d / 1024);
    else if (n < 1024ULL * 1024 * 1024)
        snprintf(buf, size, "%.2fM", d / (1024 * 1024));
    else if (n < 1024ULL * 1024 * 1024 * 1024)
        snprintf(buf, size, "%.2fG", d / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, size, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static long long instantaneous(const long long *samples) {
    long long sum = 0;
    for (int i = 0; i < 16; i++) sum += samples[i];
    return sum / 16;
}

/* ---- sections ---------------------------------------------------------------------- */

static void sec_server(sbuf *b) {
    struct utsname u;
    uname(&u);
    int64_t up = (server.mstime - server.start_ms) / 1000;
    sbuf_printf(
        b,
        "# Server\r\nredis_version:%s\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
        "redis_build_id:0\r\nredis_mode:standalone\r\nlarder_version:%s\r\nos:%s %s %s\r\n"
        "arch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:libev-%s\r\n"
        "atomicvar_api:c11-builtin\r\ngcc_version:%d.%d.%d\r\nprocess_id:%d\r\nprocess_supervised:"
        "no\r\n"
        "run_id:%s\r\ntcp_port:%d\r\nserver_time_usec:%lld\r\nuptime_in_seconds:%lld\r\n"
        "uptime_in_days:%lld\r\nhz:%d\r\nconfigured_hz:%d\r\nlru_clock:%u\r\nexecutable:%s\r\n"
        "config_file:%s\r\nio_threads_active:0\r\nio_engine:%s\r\n",
        LARDER_VERSION, LARDER_OWN_VERSION, u.sysname, u.release, u.machine,
        ev_backend(server.loop) == EVBACKEND_EPOLL ? "epoll" : "other", __GNUC__, __GNUC_MINOR__,
        __GNUC_PATCHLEVEL__, (int)server.pid, server.runid, server.port, (long long)clock_ustime(),
        (long long)up, (long long)(up / 86400), server.hz, server.config_hz, kv_lru_clock,
        server.executable ? server.executable : "", server.configfile ? server.configfile : "",
        uring_engine_name());
}

static void sec_clients(sbuf *b) {
    size_t maxin = clients_recent_max_input(), maxout = 0;
    list_node *n;
    list_for_each(n, &server.clients) {
        client *c = list_entry(n, client, node);
        if (c->reply_bytes > maxout) maxout = c->reply_bytes;
    }
    sbuf_printf(b,
                "# Clients\r\nconnected_clients:%zu\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
                "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
                "blocked_clients:%lu\r\ntracking_clients:%lu\r\nclients_in_timeout_table:%lu\r\n",
                server.clients.len, server.maxclients, maxin, maxout,
                server.blocked_clients - server.blocked_by_type[BLOCKED_PAUSE],
                server.tracking_clients, server.blocked_clients);
}

void memory_report_fill(memory_report *m) {
    memset(m, 0, sizeof(*m));
    m->total = used_memory();
    if (m->total > server.stat_peak_memory) server.stat_peak_memory = m->total;
    m->peak = server.stat_peak_memory;
    m->startup = server.stat_startup_memory < m->total ? server.stat_startup_memory : m->total;
    m->rss = rss_bytes();
    xmem_stats st;
    xmem_get_stats(&st);
    m->alloc_allocated = st.allocated;
    m->alloc_active = st.active;
    m->alloc_resident = st.resident;
    list_node *n;
    list_for_each(n, &server.clients) {
        client *c = list_entry(n, client, node);
        m->clients_normal += xmem_usable(c) + c->qcap + c->reply_bytes;
    }
    scripting_info(&m->lua_vm, &m->scripts_eval, &m->nscripts, &m->functions, &m->nfunctions);
    m->lua_caches = (size_t)m->scripts_eval;
    m->functions_caches = (size_t)m->functions;
    m->overhead_total = m->startup + m->clients_normal + m->lua_caches + m->functions_caches;
    for (int i = 0; i < server.databases; i++) {
        db *d = &server.dbs[i];
        m->keys += (long long)db_size(d);
        if (!db_size(d)) continue;
        size_t main = dict_mem(&d->keys), exp = db_expires_mem(d);
        m->overhead_total += main + exp;
        if (m->ndbs < 16) {
            m->db[m->ndbs].id = i;
            m->db[m->ndbs].main = main;
            m->db[m->ndbs].expires = exp;
            m->ndbs++;
        }
    }
    m->dataset = m->total > m->overhead_total ? m->total - m->overhead_total : 0;
}

static double ratio(size_t a, size_t b) {
    return b ? (double)a / (double)b : 0;
}

static void sec_memory(sbuf *b) {
    memory_report m;
    memory_report_fill(&m);
    char h[8][32];
    unsigned long long total_mem =
        (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
    human_bytes(h[0], sizeof(h[0]), m.total);
    human_bytes(h[1], sizeof(h[1]), m.rss);
    human_bytes(h[2], sizeof(h[2]), m.peak);
    human_bytes(h[3], sizeof(h[3]), total_mem);
    human_bytes(h[4], sizeof(h[4]), (size_t)m.lua_vm);
    human_bytes(h[5], sizeof(h[5]), (size_t)m.lua_vm);
    human_bytes(h[6], sizeof(h[6]), (size_t)(m.scripts_eval + m.functions));
    human_bytes(h[7], sizeof(h[7]), server.maxmemory);
    size_t net = m.total > m.startup ? m.total - m.startup : 0;
    sbuf_printf(b,
                "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
                "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
                "used_memory_peak_perc:%.2f%%\r\nused_memory_overhead:%zu\r\n"
                "used_memory_startup:%zu\r\nused_memory_dataset:%zu\r\n"
                "used_memory_dataset_perc:%.2f%%\r\n",
                m.total, h[0], m.rss, h[1], m.peak, h[2], ratio(m.total, m.peak) * 100,
                m.overhead_total, m.startup, m.dataset, ratio(m.dataset, net) * 100);
    sbuf_printf(b,
                "allocator_allocated:%zu\r\nallocator_active:%zu\r\nallocator_resident:%zu\r\n"
                "total_system_memory:%llu\r\ntotal_system_memory_human:%s\r\n",
                m.alloc_allocated, m.alloc_active, m.alloc_resident, total_mem, h[3]);
    /* one Lua VM runs both EVAL scripts and functions: it is counted as eval's */
    sbuf_printf(b,
                "used_memory_lua:%lld\r\nused_memory_vm_eval:%lld\r\nused_memory_lua_human:%s\r\n"
                "used_memory_scripts_eval:%lld\r\nnumber_of_cached_scripts:%lld\r\n"
                "number_of_functions:%lld\r\nnumber_of_libraries:%zu\r\n"
                "used_memory_vm_functions:0\r\nused_memory_vm_total:%lld\r\n"
                "used_memory_vm_total_human:%s\r\nused_memory_functions:%lld\r\n"
                "used_memory_scripts:%lld\r\nused_memory_scripts_human:%s\r\n",
                m.lua_vm, m.lua_vm, h[4], m.scripts_eval, m.nscripts, m.nfunctions,
                function_library_count(), m.lua_vm, h[5], m.functions, m.scripts_eval + m.functions,
                h[6]);
    sbuf_printf(
        b,
        "maxmemory:%llu\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
        "allocator_frag_ratio:%.2f\r\nallocator_frag_bytes:%zu\r\nallocator_rss_ratio:%.2f\r\n"
        "allocator_rss_bytes:%zu\r\nrss_overhead_ratio:%.2f\r\nrss_overhead_bytes:%lld\r\n"
        "mem_fragmentation_ratio:%.2f\r\nmem_fragmentation_bytes:%lld\r\n"
        "mem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\n"
        "mem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:%zu\r\n"
        "mem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:%s\r\n"
        "active_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
        server.maxmemory, h[7], maxmemory_policy_name(server.maxmemory_policy),
        ratio(m.alloc_active, m.alloc_allocated), m.alloc_active - m.alloc_allocated,
        ratio(m.alloc_resident, m.alloc_active), m.alloc_resident - m.alloc_active,
        ratio(m.rss, m.alloc_resident), (long long)m.rss - (long long)m.alloc_resident,
        ratio(m.rss, m.total), (long long)m.rss - (long long)m.total, m.clients_normal,
        xmem_allocator());
}

static void sec_persistence(sbuf *b) {
    sbuf_printf(
        b,
        "# Persistence\r\nloading:%d\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\n"
        "current_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n"
        "current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n"
        "rdb_changes_since_last_save:%lld\r\nrdb_bgsave_in_progress:0\r\n"
        "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:ok\r\n"
        "rdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\n"
        "rdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\n"
        "aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
        "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
        "aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\n"
        "aof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n"
        "module_fork_last_cow_size:0\r\n",
        server.loading, server.dirty, (long long)server.lastsave / 1000);
    run_exts("persistence", b);
}

static void sec_stats(sbuf *b) {
    long long channels = 0, patterns = 0, shard_channels, tkeys, titems, tprefixes;
    pubsub_counts(&channels, &patterns);
    shard_channels = pubsub_shard_channel_count();
    tracking_stats(&tkeys, &titems, &tprefixes);
    sbuf_printf(
        b,
        "# Stats\r\ntotal_connections_received:%lld\r\ntotal_commands_processed:%lld\r\n"
        "instantaneous_ops_per_sec:%lld\r\ntotal_net_input_bytes:%lld\r\ntotal_net_output_bytes:%"
        "lld\r\n"
        "total_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\n"
        "instantaneous_input_kbps:%.2f\r\ninstantaneous_output_kbps:%.2f\r\n"
        "instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\n"
        "rejected_connections:%lld\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\n"
        "expired_keys:%lld\r\nexpired_stale_perc:%.2f\r\nexpired_time_cap_reached_count:0\r\n"
        "expire_cycle_cpu_milliseconds:%lld\r\nevicted_keys:%lld\r\nevicted_clients:0\r\n"
        "total_eviction_exceeded_time:%lld\r\ncurrent_eviction_exceeded_time:0\r\n"
        "keyspace_hits:%lld\r\nkeyspace_misses:%lld\r\npubsub_channels:%lld\r\npubsub_patterns:%"
        "lld\r\n"
        "pubsubshard_channels:%lld\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_"
        "sockets:0\r\n"
        "slave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n"
        "active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n"
        "current_active_defrag_time:0\r\ntracking_total_keys:%lld\r\ntracking_total_items:%lld\r\n"
        "tracking_total_prefixes:%lld\r\nunexpected_error_replies:%lld\r\ntotal_error_replies:%"
        "lld\r\n"
        "dump_payload_sanitizations:0\r\ntotal_reads_processed:%lld\r\ntotal_writes_processed:%"
        "lld\r\n"
        "io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n"
        "reply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n"
        "client_query_buffer_limit_disconnections:%lld\r\nclient_output_buffer_limit_"
        "disconnections:%lld\r\n",
        server.stat_numconnections, server.stat_numcommands, instantaneous(server.ops_sec_samples),
        server.stat_net_input_bytes, server.stat_net_output_bytes,
        (double)instantaneous(server.ops_sec_net_in) / 1024,
        (double)instantaneous(server.ops_sec_net_out) / 1024, server.stat_rejected_conn,
        server.stat_expiredkeys, (double)server.stat_expired_stale_perc,
        server.stat_expire_cycle_time_used / 1000, server.stat_evictedkeys,
        server.stat_total_eviction_exceeded_time, server.stat_keyspace_hits,
        server.stat_keyspace_misses, channels, patterns, shard_channels, tkeys, titems, tprefixes,
        server.stat_unexpected_error_replies, server.stat_total_error_replies, server.stat_io_reads,
        server.stat_io_writes, server.stat_client_qbuf_limit_disconnections,
        server.stat_client_outbuf_limit_disconnections);
    acl_info(b);
    run_exts("stats", b);
}

static void sec_replication(sbuf *b) {
    sbuf_printf(
        b,
        "# "
        "Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
        "master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
        "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
        "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:"
        "0\r\n",
        server.runid);
}

static void sec_cpu(sbuf *b) {
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec / 1000000.0)
    sbuf_printf(b,
                "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\n"
                "used_cpu_user_children:%.6f\r\nused_cpu_sys_main_thread:%.6f\r\nused_cpu_user_"
                "main_thread:%.6f\r\n",
                TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime), TV(children.ru_utime),
                TV(self.ru_stime), TV(self.ru_utime));
#undef TV
}

static void sec_commandstats(sbuf *b) {
    sbuf_puts(b, "# Commandstats\r\n");
    for (int i = 0; i < server.command_count; i++) {
        command_stats *s = &server.cmdstats[i];
        if (!s->calls && !s->failed_calls && !s->rejected_calls) continue;
        const command *c = server.command_by_id[i];
        sbuf_printf(b,
                    "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,failed_"
                    "calls=%lld\r\n",
                    c->fullname, s->calls, s->usec,
                    s->calls ? (double)s->usec / (double)s->calls : 0.0, s->rejected_calls,
                    s->failed_calls);
    }
}

static void sec_errorstats(sbuf *b) {
    sbuf_puts(b, "# Errorstats\r\n");
    if (!server.errors) return;
    dict_iter it;
    dict_iter_init(&it, server.errors);
    err_count *e;
    while ((e = dict_iter_next(&it)))
        sbuf_printf(b, "errorstat_%.*s:count=%lld\r\n", (int)e->len, e->code, e->count);
    dict_iter_done(&it);
}

static void sec_keyspace(sbuf *b) {
    sbuf_puts(b, "# Keyspace\r\n");
    for (int i = 0; i < server.databases; i++) {
        db *d = &server.dbs[i];
        if (!db_size(d)) continue;
        sbuf_printf(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, db_size(d),
                    db_expires_size(d), d->avg_ttl);
    }
}

static void sec_cluster(sbuf *b) {
    sbuf_puts(b, "# Cluster\r\ncluster_enabled:0\r\n");
}
static void sec_modules(sbuf *b) {
    sbuf_puts(b, "# Modules\r\n");
}
static void sec_latencystats(sbuf *b) {
    sbuf_puts(b, "# Latencystats\r\n");
    latency_info(b);
}

typedef struct section {
    const char *name;
    void (*fn)(sbuf *);
    int in_default, in_all;
} section;

static const section sections[] = {{"server", sec_server, 1, 1},
                                   {"clients", sec_clients, 1, 1},
                                   {"memory", sec_memory, 1, 1},
                                   {"persistence", sec_persistence, 1, 1},
                                   {"stats", sec_stats, 1, 1},
                                   {"replication", sec_replication, 1, 1},
                                   {"cpu", sec_cpu, 1, 1},
                                   {"modules", sec_modules, 1, 1},
                                   {"commandstats", sec_commandstats, 0, 1},
                                   {"errorstats", sec_errorstats, 1, 1},
                                   {"latencystats", sec_latencystats, 0, 1},
                                   {"cluster", sec_cluster, 1, 1},
                                   {"keyspace", sec_keyspace, 1, 1},
                                   {"audit", audit_info, 0, 1},
                                   {NULL, NULL, 0, 0}};

void info_build(sbuf *b, int argc, const resp_arg *argv) {
    int want[16] = {0};
    if (argc == 0) {
        for (int i = 0; sections[i].name; i++) want[i] = sections[i].in_default;
    }
    for (int j = 0; j < argc; j++) {
        const resp_arg *a = &argv[j];
        int is_all = arg_is(a, "all") || arg_is(a, "everything");
        for (int i = 0; sections[i].name; i++) {
            if (is_all                 ? sections[i].in_all
                : arg_is(a, "default") ? sections[i].in_default
                                       : arg_is(a, sections[i].name))
                want[i] = 1;
        }
    }
    int first = 1;
    for (int i = 0; sections[i].name; i++) {
        if (!want[i]) continue;
        if (!first) sbuf_puts(b, "\r\n");
        first = 0;
        sections[i].fn(b);
    }
}
