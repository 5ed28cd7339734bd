/* The cache tier behind a proxy: three larder-server sidecars in front of
 * one PostgreSQL (pgkit), and Debian's nutcracker (twemproxy) in front of
 * them, all on free ports in a temporary folder.
 *
 *   redis_benchmark   redis-benchmark through the proxy exits 0, every
 *                     test reports all its requests completed, and the
 *                     three Larders' commandstats add up to them (each got
 *                     a share: ketama spreads the keys);
 *   read_through      rows inserted in PostgreSQL are read through the
 *                     proxy; the loads are spread over the sidecars;
 *   write_behind      hashes written through the proxy are read back
 *                     through it; after WB.FLUSH on each sidecar (the proxy
 *                     forwards only Redis's commands) PostgreSQL holds every
 *                     row, and each sidecar's store equals its cache.
 *
 * The proxy is up when its port accepts a connection (it prints no ready
 * line); it is stopped with SIGTERM. */
#include "pgkit.h"
#include "pkit.h"
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSIDE 3
#define BENCH_N 10000

static const char schema[] =
    "CREATE TABLE wb_meta (name text PRIMARY KEY, value bigint);"
    "CREATE TABLE wb_deadletter (id bigint PRIMARY KEY, map text, key bytea, op text, "
    "  state bytea, error text, at bigint);"
    "CREATE TABLE products (sku text PRIMARY KEY, name text);"
    "INSERT INTO products SELECT 'p' || g, 'product ' || g FROM generate_series(1, 30) g;"
    "CREATE TABLE users (id int PRIMARY KEY, name text, plan text);";

static char tmpdir[64] = "/tmp/larder-nutcracker-XXXXXX";
static srv side[NSIDE];
static pid_t proxy_pid = -1;
static int proxy_port;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void cleanup(void) {
    if (proxy_pid > 0) {
        kill(proxy_pid, SIGTERM);
        waitpid(proxy_pid, NULL, 0);
        proxy_pid = -1;
    }
    for (int i = 0; i < NSIDE; i++) srv_stop(&side[i]);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static int start_sidecars(void) {
    for (int i = 0; i < NSIDE; i++) {
        char journal[128], app[64];
        snprintf(journal, sizeof(journal), "%s/side%d.journal", tmpdir, i);
        snprintf(app, sizeof(app), "application_name=side%d", i);
        const char *argv[] = {"--loadmodule",
                              pg_module_path(),
                              pg_conninfo(),
                              app,
                              "--journal-path",
                              journal,
                              "--map",
                              "products",
                              "product:{sku}",
                              "mode",
                              "read-through",
                              "ttl",
                              "600",
                              "--map",
                              "users",
                              "user:{id}",
                              "mode",
                              "write-behind",
                              "ttl",
                              "3600",
                              NULL};
        if (srv_start(&side[i], argv) != 0) return -1;
    }
    return 0;
}

/* Runs argv with stdout+stderr to log; its exit status (-1: not run). */
static int run(const char *const *argv, const char *log) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(1, 2) < 0) _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void print_file(const char *path) {
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) fprintf(stderr, "    %s", line);
    if (f) fclose(f);
}

/* Writes the pool's configuration, checks it with nutcracker -t, starts the
 * proxy and waits until its port accepts a connection. */
static int start_proxy(void) {
    char conf[128], log[128], pidf[128], stats[16], tlog[128];
    snprintf(conf, sizeof(conf), "%s/nutcracker.yml", tmpdir);
    snprintf(log, sizeof(log), "%s/nutcracker.log", tmpdir);
    snprintf(tlog, sizeof(tlog), "%s/nutcracker-t.log", tmpdir);
    snprintf(pidf, sizeof(pidf), "%s/nutcracker.pid", tmpdir);
    proxy_port = free_port();
    snprintf(stats, sizeof(stats), "%d", free_port());
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fprintf(f,
            "larder:\n"
            "  listen: 127.0.0.1:%d\n"
            "  hash: fnv1a_64\n"
            "  distribution: ketama\n"
            "  redis: true\n"
            "  auto_eject_hosts: false\n"
            "  timeout: 5000\n"
            "  server_connections: 1\n"
            "  servers:\n",
            proxy_port);
    for (int i = 0; i < NSIDE; i++) fprintf(f, "   - 127.0.0.1:%d:1 side%d\n", side[i].port, i);
    fclose(f);
    const char *test[] = {"nutcracker", "-t", "-c", conf, NULL};
    int rc = run(test, tlog);
    if (rc == 127) {
        fprintf(stderr, "no nutcracker: install Debian's nutcracker (mk/deps.sh test)\n");
        return -1;
    }
    if (rc != 0) {
        fprintf(stderr, "nutcracker -t refused the configuration:\n");
        print_file(tlog);
        return -1;
    }
    proxy_pid = fork();
    if (proxy_pid < 0) return -1;
    if (proxy_pid == 0) {
        const char *argv[] = {"nutcracker", "-c",  conf, "-o",        log,  "-p", pidf,
                              "-s",         stats, "-a", "127.0.0.1", "-v", "4",  NULL};
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    double end = pk_now_ms() + 10000;
    while (pk_now_ms() < end) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", proxy_port, tv);
        int ok = c && !c->err;
        if (c) redisFree(c);
        if (ok) return 0;
        if (waitpid(proxy_pid, NULL, WNOHANG) == proxy_pid) {
            proxy_pid = -1;
            fprintf(stderr, "nutcracker exited:\n");
            print_file(log);
            return -1;
        }
        pk_sleep_ms(10); /* polling the port: the proxy has no ready line */
    }
    fprintf(stderr, "nutcracker did not listen within 10 s\n");
    return -1;
}

static redisContext *proxy_connect(void) {
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", proxy_port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* calls=N of one command in a sidecar's INFO commandstats (0 if absent). */
static long long cmd_calls(int i, const char *cmd) {
    redisContext *c = srv_connect(&side[i]);
    redisReply *r = c ? pk_cmd(c, "INFO commandstats") : NULL;
    long long n = 0;
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, pat) : NULL;
    if (p) n = atoll(p + strlen(pat));
    if (r) freeReplyObject(r);
    if (c) redisFree(c);
    return n;
}

static int count_in_file(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) n += strstr(line, needle) != NULL;
    if (f) fclose(f);
    return n;
}

TEST(redis_benchmark) {
    static const char *const tests[] = {"set",   "get",  "incr", "lpush",
                                        "rpush", "lpop", "sadd", "hset"};
    const int ntests = (int)(sizeof(tests) / sizeof(tests[0]));
    char log[128], port[16], n[16];
    snprintf(log, sizeof(log), "%s/redis-benchmark.log", tmpdir);
    snprintf(port, sizeof(port), "%d", proxy_port);
    snprintf(n, sizeof(n), "%d", BENCH_N);
    long long set0[NSIDE], sets = 0, total = 0;
    for (int i = 0; i < NSIDE; i++) set0[i] = cmd_calls(i, "set");
    const char *argv[] = {"redis-benchmark",
                          "-h",
                          "127.0.0.1",
                          "-p",
                          port,
                          "-c",
                          "20",
                          "-n",
                          n,
                          "-r",
                          "10000",
                          "-t",
                          "set,get,incr,lpush,rpush,lpop,sadd,hset",
                          NULL};
    int rc = run(argv, log);
    CHECK_EQ(rc, 0);
    char done[64];
    snprintf(done, sizeof(done), "%d requests completed", BENCH_N);
    int completed = count_in_file(log, done);
    CHECK_EQ(completed, ntests);
    if (rc != 0 || completed != ntests) print_file(log);
    for (int i = 0; i < NSIDE; i++) {
        long long s = cmd_calls(i, "set") - set0[i];
        CHECK(s > 0); /* every Larder got a share of the keys */
        sets += s;
        for (int t = 0; t < ntests; t++) total += cmd_calls(i, tests[t]);
    }
    CHECK(sets >= BENCH_N);
    CHECK(total >= (long long)ntests * BENCH_N);
    printf("redis-benchmark through nutcracker: %d tests x %d requests completed; the Larders "
           "served %lld SETs, %lld calls of the tested commands\n",
           completed, BENCH_N, sets, total);
}

TEST(read_through) {
    redisContext *p = proxy_connect();
    CHECK(p != NULL);
    if (!p) return;
    long long loads0 = 0, loads = 0;
    for (int i = 0; i < NSIDE; i++) {
        redisContext *c = srv_connect(&side[i]);
        loads0 += c ? pk_info(c, "loads") : 0;
        if (c) redisFree(c);
    }
    for (int k = 1; k <= 30; k++) {
        char want[32];
        snprintf(want, sizeof(want), "product %d", k);
        CHECK_CMD(p, want, "HGET product:p%d name", k);
    }
    CHECK_CMD(p, "(nil)", "HGET product:nope name");
    CHECK_EQ(pg_psql("UPDATE products SET name = 'changed' WHERE sku = 'p1'"), 0);
    CHECK_CMD(p, "product 1", "HGET product:p1 name"); /* cached: a hit */
    int serving = 0;
    for (int i = 0; i < NSIDE; i++) {
        redisContext *c = srv_connect(&side[i]);
        long long l = c ? pk_info(c, "loads") : 0;
        if (c) redisFree(c);
        loads += l;
        serving += l > 0;
    }
    CHECK_EQ(loads - loads0, 31);
    CHECK(serving >= 2);
    redisFree(p);
}

TEST(write_behind) {
    redisContext *p = proxy_connect();
    CHECK(p != NULL);
    if (!p) return;
    for (int k = 1; k <= 60; k++) CHECK_CMD(p, ":2", "HSET user:%d name u%d plan free", k, k);
    CHECK_CMD(p, ":0", "HSET user:7 plan pro");
    for (int k = 1; k <= 60; k++) {
        char want[32];
        snprintf(want, sizeof(want), "u%d", k);
        CHECK_CMD(p, want, "HGET user:%d name", k);
    }
    CHECK_CMD(p, ":1", "DEL user:60");
    redisFree(p);
    /* the proxy does not forward Larder's own commands: WB.FLUSH goes to
     * each Larder directly (pk_check_map below sends it) */
    p = proxy_connect();
    char *r0 = p ? cmd_str(p, "WB.FLUSH") : NULL;
    CHECK(r0 && strcmp(r0, "+OK") != 0);
    printf("WB.FLUSH through nutcracker: %s\n", r0 ? r0 : "?");
    free(r0);
    if (p) redisFree(p);
    int holding = 0;
    for (int i = 0; i < NSIDE; i++) {
        redisContext *c = srv_connect(&side[i]);
        CHECK(c != NULL);
        if (!c) continue;
        int n = 0;
        CHECK_EQ(pk_check_map(c, "users", "user:", "id", NULL, "name,plan", &n), 0);
        holding += n > 0;
        redisFree(c);
    }
    CHECK(holding >= 2);
    PGconn *pg = PQconnectdb(pg_conninfo());
    PGresult *r = PQexec(pg, "SELECT count(*), count(*) FILTER (WHERE name = 'u' || id), "
                             "string_agg(plan, ',') FILTER (WHERE id = 7) FROM users");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        CHECK_STR(PQgetvalue(r, 0, 0), "59");
        CHECK_STR(PQgetvalue(r, 0, 1), "59");
        CHECK_STR(PQgetvalue(r, 0, 2), "pro");
    }
    PQclear(r);
    PQfinish(pg);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    if (pg_start() != 0 || pg_psql(schema) != 0) {
        fprintf(stderr, "cannot start PostgreSQL with the test schema\n");
        test_failed_++;
        cleanup();
        return test_report();
    }
    if (start_sidecars() != 0 || start_proxy() != 0) {
        fprintf(stderr, "cannot start three sidecars and nutcracker in front of them\n");
        test_failed_++;
        cleanup();
        pg_stop();
        return test_report();
    }
    RUN(redis_benchmark);
    RUN(read_through);
    RUN(write_behind);
    cleanup();
    pg_stop();
    return test_report();
}
