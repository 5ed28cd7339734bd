/* server/server — start-up, listeners, the event loop's hooks, cron, and
 * shutdown.
 *
 * The loop (libev): listeners and clients are ev_io watchers; the cron is an
 * ev_timer at `hz`; an ev_prepare (runs just before the loop blocks) serves
 * unblocked clients and ready keys, runs the fast expiry cycle and writes all
 * pending replies; an ev_check (runs right after it wakes) refreshes the
 * cached clock. SIGTERM/SIGINT break the loop for a clean shutdown.
 *
 * With the io_uring engine (server/uring.c) plain clients' bytes go through
 * the ring: before-sleep ends by submitting every queued send in one
 * io_uring_enter and handling the completions that came meanwhile; while
 * completions keep coming it runs again, up to URING_ROUNDS times, before
 * the loop polls. */
#include "server/acl.h"
#include "server/server.h"
#include "server/hooks.h"
#include "server/conn.h"
#include "server/audit.h"
#include "server/uring.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/mem.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

server_state server;

void server_update_time(void) {
    server.clock_carried = 0;
    server.ustime = clock_fast_sync(); /* and the counter call_command reads after it */
    server.mstime = server.ustime / 1000;
    if (!server.in_script) kv_now_ms = server.mstime; /* scripts see their start time */
}

/* A command's start time. Within one loop turn, the end reading of the
 * command that ran just before serves (only reading a socket and parsing
 * lie between them, microseconds): at pipeline depth 16 the clock read was
 * one of the largest items of a GET's profile. The loop's before- and
 * after-sleep hooks and eviction take a fresh reading (server_update_time
 * drops the carried one). */
void server_command_time(void) {
    if (!server.clock_carried) {
        server_update_time();
        return;
    }
    server.clock_carried = 0;
    if (!server.in_script) kv_now_ms = server.mstime; /* scripts see their start time */
}

/* ---- listeners -------------------------------------------------------------------- */

static void accept_tcp_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    accept_connection(w->fd, 1, 0);
}

static void accept_tls_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    accept_connection(w->fd, 1, 1);
}

static void accept_unix_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    accept_connection(w->fd, 0, 0);
}

/* Opens a listening TCP socket; -1 with *err on failure. */
static int listen_tcp(const char *addr, int port, char **err) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(addr, portstr, &hints, &res);
    sbuf e = SBUF_INIT;
    if (rc != 0) {
        sbuf_printf(&e, "Could not create server TCP listening socket %s:%d: %s", addr, port,
                    gai_strerror(rc));
        *err = sbuf_take(&e, NULL);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, server.tcp_backlog) != 0) {
        sbuf_printf(&e, "Could not create server TCP listening socket %s:%d: %s", addr, port,
                    strerror(errno));
        *err = sbuf_take(&e, NULL);
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int listen_unix(const char *path, char **err) {
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        *err = xstrdup("unixsocket path too long");
        return -1;
    }
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, server.tcp_backlog) != 0) {
        sbuf e = SBUF_INIT;
        sbuf_printf(&e, "Failed opening Unix socket %s: %s", path, strerror(errno));
        *err = sbuf_take(&e, NULL);
        if (fd >= 0) close(fd);
        return -1;
    }
    if (server.unixsocketperm) chmod(path, server.unixsocketperm);
    return fd;
}

static void close_listeners(void) {
    for (int i = 0; i < server.ipfd_count; i++) {
        ev_io_stop(server.loop, &server.ipfd_w[i]);
        close(server.ipfd[i]);
    }
    server.ipfd_count = 0;
    for (int i = 0; i < server.tlsfd_count; i++) {
        ev_io_stop(server.loop, &server.tlsfd_w[i]);
        close(server.tlsfd[i]);
    }
    server.tlsfd_count = 0;
    if (server.sofd >= 0) {
        ev_io_stop(server.loop, &server.sofd_w);
        close(server.sofd);
        server.sofd = -1;
    }
}

/* Opens listeners for every bind address on port (TLS when tls). A '-'
 * before an address makes it optional (skipped when unavailable). */
static int open_port(int port, int tls, int *fds, ev_io *ws, int *count, char **err) {
    const char *def[] = {"127.0.0.1", "-::1"};
    int n = server.bind_count ? server.bind_count : 2;
    for (int i = 0; i < n; i++) {
        const char *a = server.bind_count ? server.bind[i] : def[i];
        int optional = a[0] == '-';
        if (optional) a++;
        if (!strcmp(a, "*")) a = "0.0.0.0";
        char *e = NULL;
        int fd = listen_tcp(a, port, &e);
        if (fd < 0) {
            if (optional) {
                xfree(e);
                continue;
            }
            *err = e;
            return ERR;
        }
        fds[*count] = fd;
        ev_io_init(&ws[*count], tls ? accept_tls_cb : accept_tcp_cb, fd, EV_READ);
        ev_io_start(server.loop, &ws[*count]);
        (*count)++;
    }
    return OK;
}

static int open_listeners(char **err) {
    if (server.port &&
        open_port(server.port, 0, server.ipfd, server.ipfd_w, &server.ipfd_count, err) != OK)
        return ERR;
    if (server.tls_port) {
        if (tls_configure(err) != OK) return ERR;
        if (open_port(server.tls_port, 1, server.tlsfd, server.tlsfd_w, &server.tlsfd_count, err) !=
            OK)
            return ERR;
    }
    if (server.unixsocket && server.unixsocket[0]) {
        int fd = listen_unix(server.unixsocket, err);
        if (fd < 0) return ERR;
        server.sofd = fd;
        ev_io_init(&server.sofd_w, accept_unix_cb, fd, EV_READ);
        ev_io_start(server.loop, &server.sofd_w);
    }
    if (!server.ipfd_count && !server.tlsfd_count && server.sofd < 0) {
        *err = xstrdup("Configured to not listen anywhere, exiting.");
        return ERR;
    }
    return OK;
}

/* CONFIG SET port/bind/unixsocket: reopen; on failure the old set is kept. */
static int cur_port, cur_tls_port;
static char *cur_bind[CONFIG_MAX_BIND];
static int cur_bind_count;
static char *cur_unix;

static void remember_listen_config(void) {
    cur_port = server.port;
    cur_tls_port = server.tls_port;
    for (int i = 0; i < cur_bind_count; i++) xfree(cur_bind[i]);
    cur_bind_count = server.bind_count;
    for (int i = 0; i < server.bind_count; i++) cur_bind[i] = xstrdup(server.bind[i]);
    xfree(cur_unix);
    cur_unix = server.unixsocket ? xstrdup(server.unixsocket) : NULL;
}

int server_rebind(char **err) {
    close_listeners();
    if (open_listeners(err) == OK) {
        remember_listen_config();
        server.stat_startup_memory = used_memory();
        return OK;
    }
    /* restore the previous listeners */
    close_listeners();
    server.port = cur_port;
    server.tls_port = cur_tls_port;
    for (int i = 0; i < server.bind_count; i++) xfree(server.bind[i]);
    server.bind_count = cur_bind_count;
    for (int i = 0; i < cur_bind_count; i++) server.bind[i] = xstrdup(cur_bind[i]);
    xfree(server.unixsocket);
    server.unixsocket = cur_unix ? xstrdup(cur_unix) : NULL;
    char *ignore = NULL;
    open_listeners(&ignore);
    xfree(ignore);
    return ERR;
}

/* ---- loop hooks ------------------------------------------------------------------- */

/* Rounds of before-sleep one loop turn may run while the ring keeps
 * delivering: enough to save most epoll_waits under load, few enough that
 * timers, listeners and the store thread's results wait little. */
#define URING_ROUNDS 8

static void before_sleep_work(void) {
    server_update_time();
    handle_clients_blocked_on_keys();
    process_unblocked_clients();
    handle_clients_blocked_on_keys();
    hooks.before_sleep();
    if (server.active_expire_enabled) active_expire_cycle(1);
    tracking_before_sleep();
    audit_flush(); /* an event is in the file before its command's reply leaves */
    flush_pending_writes();
    server.clock_carried = 0; /* no reading from before the sleep serves after it */
}

static void before_sleep_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    before_sleep_work();
    for (int round = 1; round < URING_ROUNDS && !server.shutdown_asap && uring_turn() > 0; round++)
        before_sleep_work();
    uring_submit(); /* the last round's replies */
}

static void after_sleep_cb(struct ev_loop *loop, ev_check *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    server_update_time();
}

static void track_ops(void) {
    int64_t now = server.mstime;
    if (now - server.ops_sec_last_ms < 100) return;
    int64_t dt = now - server.ops_sec_last_ms;
    int i = server.ops_sec_idx;
    server.ops_sec_samples[i] = (server.stat_numcommands - server.ops_sec_last_cmds) * 1000 / dt;
    server.ops_sec_net_in[i] = (server.stat_net_input_bytes - server.ops_sec_last_in) * 1000 / dt;
    server.ops_sec_net_out[i] =
        (server.stat_net_output_bytes - server.ops_sec_last_out) * 1000 / dt;
    server.ops_sec_idx = (i + 1) % 16;
    server.ops_sec_last_cmds = server.stat_numcommands;
    server.ops_sec_last_in = server.stat_net_input_bytes;
    server.ops_sec_last_out = server.stat_net_output_bytes;
    server.ops_sec_last_ms = now;
}

static void cron_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    server_update_time();
    kv_lru_clock = kv_lru_clock_now();
    track_ops();
    size_t used = used_memory();
    if (used > server.stat_peak_memory) server.stat_peak_memory = used;
    clients_cron();
    if (server.active_expire_enabled) active_expire_cycle(0);
    /* Resize tables and finish resizes under way: up to 1 ms per cron tick
     * in total, as Redis's activerehashing does, so idle time completes them. */
    int64_t rehash_start = clock_mono_us();
    for (int i = 0; i < server.databases; i++) {
        db *d = &server.dbs[i];
        dict_maybe_shrink(&d->keys);
        while (clock_mono_us() - rehash_start < 1000 && dict_rehash_steps(&d->keys, 100))
            ;
    }
    if (server.maxmemory) evict_perform();
    blocked_cron();
    hooks.cron();
    if (server.hz != (int)(1.0 / w->repeat + 0.5)) {
        w->repeat = 1.0 / server.hz;
        ev_timer_again(server.loop, w);
    }
}

static const char *shutdown_signal; /* the signal that stops the server, if one did */

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)revents;
    shutdown_signal = w->signum == SIGINT ? "SIGINT" : "SIGTERM";
    server_log(LL_WARNING, "Received %s scheduling shutdown...", shutdown_signal);
    server.shutdown_asap = 1;
    ev_break(loop, EVBREAK_ALL);
}

/* SIGHUP: logrotate moved the audit log away; write a new one. */
static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    audit_reopen();
}

/* ---- start / stop ------------------------------------------------------------------- */

static void seed_randomness(void) {
    uint8_t key[16];
    unsigned seed;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, key, sizeof(key)) != sizeof(key) ||
        read(fd, &seed, sizeof(seed)) != sizeof(seed)) {
        uint64_t t = (uint64_t)clock_ustime() ^ (uint64_t)getpid();
        memcpy(key, &t, 8);
        memcpy(key + 8, &t, 8);
        seed = (unsigned)t;
    }
    if (fd >= 0) close(fd);
    hash_seed(key);
    srandom(seed);
    srand(seed);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 40; i++) server.runid[i] = hex[(unsigned)random() & 15];
    server.runid[40] = '\0';
}

void server_preinit(void) {
    server.sofd = -1;
    server.pid = getpid();
    server.active_expire_enabled = 1;
    list_init(&server.clients);
    list_init(&server.pending_writes);
    list_init(&server.reply_barred);
    list_init(&server.clients_to_close);
    list_init(&server.unblocked_clients);
    list_init(&server.blocked_timeouts);
    list_init(&server.paused_clients);
    list_init(&server.slowlog);
    audit_register_config();
    /* the command table and the default user before the configuration: `user`
     * lines and requirepass act on them */
    commands_init();
    acl_init();
    config_apply_defaults();
}

static const void *client_id_key2(const void *e, size_t *len) {
    *len = sizeof(uint64_t);
    return &((const client *)e)->id;
}
static uint64_t id_hash2(const void *k, size_t len) {
    (void)len;
    uint64_t v;
    memcpy(&v, k, 8);
    return hash_u64(v);
}
static const dict_type clients_by_id_type = {id_hash2, client_id_key2, NULL};

int server_init(char **err) {
    seed_randomness();
    signal(SIGPIPE, SIG_IGN);
    server.loop = ev_default_loop(EVFLAG_AUTO);
    ev_set_invoke_pending_cb(server.loop, invoke_pending_in_order);
    server_update_time();
    server.start_ms = server.mstime;
    server.lastsave = server.mstime;
    server.ops_sec_last_ms = server.mstime;
    kv_lru_clock = kv_lru_clock_now();
    server.clients_by_id = dict_new(&clients_by_id_type);
    server.dbs = xcalloc((size_t)server.databases, sizeof(db));
    for (int i = 0; i < server.databases; i++) db_init(&server.dbs[i], i);
    if (acl_load_at_startup(err) != OK) return ERR;
    char *why = NULL;
    if (uring_setup(server.io_engine, &why, err) != OK) return ERR;
    if (why) {
        server_log(LL_WARNING, "I/O engine: epoll (%s)", why);
        xfree(why);
    } else {
        server_log(LL_NOTICE, "I/O engine: %s", uring_engine_name());
    }
    keyspace_init();
    if (audit_start(err) != OK) return ERR;
    if (open_listeners(err) != OK) return ERR;
    remember_listen_config();
    ev_timer_init(&server.cron_w, cron_cb, 1.0 / server.hz, 1.0 / server.hz);
    ev_timer_start(server.loop, &server.cron_w);
    ev_prepare_init(&server.before_sleep_w, before_sleep_cb);
    ev_prepare_start(server.loop, &server.before_sleep_w);
    ev_check_init(&server.after_sleep_w, after_sleep_cb);
    ev_check_start(server.loop, &server.after_sleep_w);
    ev_signal_init(&server.sigterm_w, signal_cb, SIGTERM);
    ev_signal_start(server.loop, &server.sigterm_w);
    ev_signal_init(&server.sigint_w, signal_cb, SIGINT);
    ev_signal_start(server.loop, &server.sigint_w);
    ev_signal_init(&server.sighup_w, sighup_cb, SIGHUP);
    ev_signal_start(server.loop, &server.sighup_w);
    if (server.pidfile && server.pidfile[0]) {
        FILE *f = fopen(server.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    return OK;
}

void server_run(void) {
    while (!server.shutdown_asap) ev_run(server.loop, 0);
}

void server_shutdown(void) {
    hooks.shutdown();
    flush_pending_writes();
    uring_submit(); /* replies queued for the ring go out too */
    close_listeners();
    if (server.unixsocket && server.unixsocket[0]) unlink(server.unixsocket);
    if (server.pidfile && server.pidfile[0]) unlink(server.pidfile);
    audit_shutdown(shutdown_signal ? shutdown_signal : "SHUTDOWN");
    server_log(LL_WARNING, "Larder is now ready to exit, bye bye...");
}

const char *server_listen_summary(char *buf, size_t size) {
    size_t o = 0;
    buf[0] = '\0';
    if (server.ipfd_count) o += (size_t)snprintf(buf + o, size - o, "tcp");
    if (server.tlsfd_count) o += (size_t)snprintf(buf + o, size - o, "%stls", o ? "," : "");
    if (server.sofd >= 0) o += (size_t)snprintf(buf + o, size - o, "%sunix", o ? "," : "");
    return buf;
}
