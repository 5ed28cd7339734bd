/* tests/integration/test_security.c — protected mode, the limits for clients
 * that have not authenticated, output buffer limits for a client that never
 * reads, and the glob matcher's bound; each compared with redis-server 7.0
 * where Redis has the behaviour.
 *
 * Protected mode needs a client that is not on loopback in Redis's sense:
 * the test binds its socket to 127.0.0.2 before connecting to 127.0.0.1
 * (Redis 7.0 treats only 127.0.0.1, ::1 and the unix socket as local), so no
 * packet leaves the loopback interface and no namespace is needed. */
#include "harness.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A TCP socket from src (an address of 127.0.0.0/8) to 127.0.0.1:port;
 * rcvbuf > 0 shrinks its receive buffer (set before connect). */
static int connect_from(const char *src, int port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, src, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Everything the server sends until it closes (or 10 s pass); caller frees. */
static char *read_until_close(int fd, size_t *len) {
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 1024 > cap) b = realloc(b, cap *= 2);
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r <= 0) break;
        n += (size_t)r;
    }
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

/* Sends bytes, then returns the server's answer up to the close. */
static char *exchange_until_close(int port, const char *src, const char *bytes) {
    int fd = connect_from(src, port, 0);
    if (fd < 0) return strdup("(no connection)");
    if (bytes) raw_send(fd, bytes, strlen(bytes));
    char *out = read_until_close(fd, NULL);
    close(fd);
    return out;
}

/* The INFO field's value as a number (-1 when absent). */
static long long info_field(redisContext *c, const char *section, const char *name) {
    redisReply *r = redisCommand(c, "INFO %s", section);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char key[128];
        snprintf(key, sizeof key, "\r\n%s:", name);
        const char *p = strstr(r->str, key);
        if (p) v = atoll(p + strlen(key));
    }
    freeReplyObject(r);
    return v;
}

/* ---- protected mode ------------------------------------------------------------------- */

TEST(protected_mode_denies_non_loopback_like_redis) {
    /* Redis 7.0 ignores bind here: the default bind, and bind "* -::*", deny alike */
    const char *lx_args[] = {"--bind", "* -::*", NULL};
    const char *rd_args[] = {"--bind", "* -::*", "--protected-mode", "yes", NULL};
    srv lx, rd;
    CHECK(srv_start(&lx, lx_args) == 0);
    CHECK(srv_start_redis(&rd, rd_args) == 0);
    char *a = exchange_until_close(lx.port, "127.0.0.2", "PING\r\n");
    char *b = exchange_until_close(rd.port, "127.0.0.2", "PING\r\n");
    CHECK(strncmp(a, "-DENIED Redis is running in protected mode", 42) == 0);
    CHECK_STR(a, b); /* the same text, then the connection closes */
    free(a);
    free(b);
    /* nothing sent: the text comes all the same */
    a = exchange_until_close(lx.port, "127.0.0.2", NULL);
    CHECK(strncmp(a, "-DENIED", 7) == 0);
    free(a);
    /* loopback proper is served */
    int fd = connect_from("127.0.0.1", lx.port, 0);
    CHECK_RAW(fd, "PING", "+PONG");
    close(fd);
    redisContext *c = srv_connect(&lx);
    CHECK(info_field(c, "stats", "rejected_connections") == 2);
    /* with a password, or protected mode off, the client is let in */
    CHECK_CMD(c, "+OK", "CONFIG SET protected-mode no");
    fd = connect_from("127.0.0.2", lx.port, 0);
    CHECK_RAW(fd, "PING", "+PONG");
    close(fd);
    CHECK_CMD(c, "+OK", "CONFIG SET protected-mode yes");
    CHECK_CMD(c, "+OK", "CONFIG SET requirepass pw");
    fd = connect_from("127.0.0.2", lx.port, 0);
    CHECK_RAW(fd, "PING", "-NOAUTH Authentication required.");
    CHECK_RAW(fd, "AUTH pw", "+OK");
    CHECK_RAW(fd, "PING", "+PONG");
    close(fd);
    redisFree(c);
    srv_stop(&lx);
    srv_stop(&rd);
}

TEST(protected_mode_default_bind) {
    srv lx;
    CHECK(srv_start(&lx, NULL) == 0); /* bind 127.0.0.1 -::1 */
    char *a = exchange_until_close(lx.port, "127.0.0.2", "PING\r\n");
    CHECK(strncmp(a, "-DENIED", 7) == 0);
    free(a);
    srv_stop(&lx);
}

/* ---- clients that have not authenticated ------------------------------------------------- */

static const char *const auth_args[] = {"--requirepass", "pw", NULL};

TEST(unauthenticated_request_limits_like_redis) {
    srv lx, rd;
    CHECK(srv_start(&lx, auth_args) == 0);
    CHECK(srv_start_redis(&rd, auth_args) == 0);
    static const char *const cases[] = {
        "*100000\r\n",        /* multibulk count */
        "*11\r\n",            /* one over */
        "*1\r\n$1000000\r\n", /* bulk length */
        "*1\r\n$16385\r\n",   /* one over */
        "*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        "$1000000\r\n",        /* inline: an unknown command, as Redis */
        "PING\r\n*100000\r\n", /* after one refused command */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fa = connect_from("127.0.0.1", lx.port, 0), fb = connect_from("127.0.0.1", rd.port, 0);
        raw_send(fa, cases[i], strlen(cases[i]));
        raw_send(fb, cases[i], strlen(cases[i]));
        /* a protocol error closes: read to the end; otherwise one line */
        shutdown(fa, SHUT_WR);
        shutdown(fb, SHUT_WR);
        char *a = read_until_close(fa, NULL), *b = read_until_close(fb, NULL);
        if (strcmp(a, b)) fprintf(stderr, "case %zu: larder '%s' redis '%s'\n", i, a, b);
        CHECK_STR(a, b);
        free(a);
        free(b);
        close(fa);
        close(fb);
    }
    int fd = connect_from("127.0.0.1", lx.port, 0);
    CHECK_RAW(fd, "*100000", "-ERR Protocol error: unauthenticated multibulk length");
    CHECK_RAW(fd, NULL, "(lost)");
    close(fd);
    /* the limits end with AUTH: ten arguments, 16 KB, then more */
    redisContext *h = srv_connect(&lx);
    CHECK_CMD(h, "-NOAUTH Authentication required.", "DEL a a a a a a a a a");
    CHECK_CMD(h, "+OK", "AUTH pw");
    size_t big = 1000000;
    char *v = malloc(big);
    memset(v, 'x', big);
    redisReply *r = redisCommand(h, "ECHO %b", v, big);
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == big);
    freeReplyObject(r);
    free(v);
    const char *many[12] = {"DEL", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"};
    r = redisCommandArgv(h, 12, many, NULL);
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(h);
    redisContext *c = srv_connect(&lx);
    CHECK_CMD(c, "+OK", "AUTH pw");
    CHECK_CMD(c, "+PONG", "PING"); /* the server stayed up */
    redisFree(c);
    srv_stop(&lx);
    srv_stop(&rd);
}

/* Writes PINGs without reading a reply until the server closes the
 * connection (or 20 s); returns 1 if it closed. */
static int flood_until_closed(int fd, const char *cmd) {
    size_t clen = strlen(cmd);
    char chunk[16384];
    size_t n = 0;
    while (n + clen <= sizeof chunk) {
        memcpy(chunk + n, cmd, clen);
        n += clen;
    }
    double deadline = now_s() + 20;
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (now_s() < deadline) {
        ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) return 1;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return 1;
        /* the server may have closed with our replies unread: a peek tells */
        struct pollfd p = {fd, POLLRDHUP, 0};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return 1;
    }
    return 0;
}

TEST(unauthenticated_client_that_never_reads) {
    srv lx;
    CHECK(srv_start(&lx, auth_args) == 0);
    /* a small receive window: the server's replies pile up in its buffer */
    int fd = connect_from("127.0.0.1", lx.port, 4096);
    CHECK(fd >= 0);
    CHECK(flood_until_closed(fd, "PING\r\n"));
    close(fd);
    redisContext *c = srv_connect(&lx);
    CHECK_CMD(c, "+OK", "AUTH pw");
    CHECK_CMD(c, "+PONG", "PING");
    CHECK(info_field(c, "stats", "client_output_buffer_limit_disconnections") == 1);
    CHECK(info_field(c, "memory", "used_memory") < 64LL * 1024 * 1024);
    redisFree(c);
    srv_stop(&lx);
}

TEST(authenticated_client_that_never_reads) {
    const char *args[] = {"--client-output-buffer-limit", "normal 1mb 0 0", NULL};
    srv lx;
    CHECK(srv_start(&lx, args) == 0);
    redisContext *c = srv_connect(&lx);
    char *v = malloc(100000);
    memset(v, 'v', 100000);
    redisReply *r = redisCommand(c, "SET big %b", v, (size_t)100000);
    freeReplyObject(r);
    free(v);
    int fd = connect_from("127.0.0.1", lx.port, 4096);
    CHECK(flood_until_closed(fd, "GET big\r\n"));
    close(fd);
    CHECK_CMD(c, "+PONG", "PING"); /* the other client was served all along */
    CHECK(info_field(c, "stats", "client_output_buffer_limit_disconnections") == 1);
    redisFree(c);
    srv_stop(&lx);
}

/* ---- requirepass with any bytes ------------------------------------------------------------ */

/* requirepass "abc\x00def" is seven bytes, as in Redis: a prefix is refused,
 * CONFIG GET gives the bytes back, and CONFIG REWRITE writes a line that a
 * restart reads back to the same password. */
TEST(requirepass_holds_a_nul_byte) {
    char conf[] = "/tmp/larder-binpass-XXXXXX";
    int cfd = mkstemp(conf);
    CHECK(cfd >= 0);
    close(cfd);
    srv lx;
    CHECK(srv_start_conf(&lx, conf, NULL) == 0);
    redisContext *c = srv_connect(&lx);
    const char pw[] = "abc\0def";
    redisReply *r = redisCommand(c, "CONFIG SET requirepass %b", pw, sizeof pw - 1);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG GET requirepass");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->len == 7 &&
          memcmp(r->element[1]->str, pw, 7) == 0);
    freeReplyObject(r);
    CHECK_CMD(c, "+OK", "CONFIG REWRITE");
    redisContext *d = srv_connect(&lx);
    char *s = cmd_str(d, "AUTH abc");
    CHECK(strncmp(s, "-WRONGPASS", 10) == 0);
    free(s);
    r = redisCommand(d, "AUTH %b", pw, sizeof pw - 1);
    CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0);
    freeReplyObject(r);
    redisFree(d);
    redisFree(c);
    srv_stop(&lx);
    /* the rewritten file holds the password whole */
    CHECK(srv_start_conf(&lx, conf, NULL) == 0);
    c = srv_connect(&lx);
    s = cmd_str(c, "PING");
    CHECK(strncmp(s, "-NOAUTH", 7) == 0);
    free(s);
    s = cmd_str(c, "AUTH abc");
    CHECK(strncmp(s, "-WRONGPASS", 10) == 0);
    free(s);
    r = redisCommand(c, "AUTH %b", pw, sizeof pw - 1);
    CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0);
    freeReplyObject(r);
    CHECK_CMD(c, "+OK", "CONFIG SET requirepass %s", "");
    redisFree(c);
    c = srv_connect(&lx);
    CHECK_CMD(c, "+PONG", "PING");
    redisFree(c);
    srv_stop(&lx);
    unlink(conf);
}

/* ---- glob patterns ------------------------------------------------------------------------ */

static char *repeat(const char *unit, int n) {
    size_t u = strlen(unit);
    char *s = malloc(u * (size_t)n + 1);
    for (int i = 0; i < n; i++) memcpy(s + u * (size_t)i, unit, u);
    s[u * (size_t)n] = '\0';
    return s;
}

TEST(glob_long_patterns_like_redis) {
    srv lx, rd;
    CHECK(srv_start(&lx, NULL) == 0);
    CHECK(srv_start_redis(&rd, NULL) == 0);
    redisContext *a = srv_connect(&lx), *b = srv_connect(&rd);
    char *k1 = repeat("a", 20000), *k2 = repeat("a", 1500), *k3 = repeat("ab", 600);
    for (int i = 0; i < 2; i++) {
        redisContext *c = i ? b : a;
        freeReplyObject(redisCommand(c, "SET %s 1", k1));
        freeReplyObject(redisCommand(c, "SET %s 1", k2));
        freeReplyObject(redisCommand(c, "SET %s 1", k3));
    }
    struct {
        const char *unit;
        int n;
    } pats[] = {{"*a", 999},  {"*a", 1000}, {"*a", 1001},  {"*a", 10000}, {"a*", 1001},
                {"*?", 1000}, {"*?", 1001}, {"*", 100000}, {"*?", 50000}, {"*ab", 700}};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        char *p = repeat(pats[i].unit, pats[i].n);
        const char *argv[2] = {"KEYS", p};
        double t0 = now_s();
        redisReply *r = redisCommandArgv(a, 2, argv, NULL);
        double dt = now_s() - t0;
        CHECK(dt < 1.0); /* promptly */
        if (dt >= 1.0) fprintf(stderr, "KEYS %s x%d: %.2f s\n", pats[i].unit, pats[i].n, dt);
        /* the keys as a count per length: KEYS order is the table's */
        long la = r && r->type == REDIS_REPLY_ARRAY ? (long)r->elements : -1;
        freeReplyObject(r);
        r = redisCommandArgv(b, 2, argv, NULL);
        long lb = r && r->type == REDIS_REPLY_ARRAY ? (long)r->elements : -2;
        freeReplyObject(r);
        if (la != lb)
            fprintf(stderr, "KEYS %s x%d: larder %ld redis %ld\n", pats[i].unit, pats[i].n, la, lb);
        CHECK_EQ(la, lb);
        free(p);
    }
    /* SCAN MATCH and PUBLISH to a pattern go through the same matcher */
    char *p = repeat("*a", 10000);
    const char *scan[] = {"SCAN", "0", "MATCH", p, "COUNT", "1000"};
    double t0 = now_s();
    redisReply *r = redisCommandArgv(a, 6, scan, NULL);
    CHECK(now_s() - t0 < 1.0);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->element[1]->elements == 0);
    freeReplyObject(r);
    redisContext *sub = srv_connect(&lx);
    const char *ps[] = {"PSUBSCRIBE", p};
    r = redisCommandArgv(sub, 2, ps, NULL);
    freeReplyObject(r);
    r = redisCommand(a, "PUBLISH %s x", k1);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0); /* as Redis: no match */
    freeReplyObject(r);
    CHECK_CMD(a, "+PONG", "PING");
    redisFree(sub);
    free(p);
    free(k1);
    free(k2);
    free(k3);
    redisFree(a);
    redisFree(b);
    srv_stop(&lx);
    srv_stop(&rd);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(protected_mode_denies_non_loopback_like_redis);
    RUN(protected_mode_default_bind);
    RUN(unauthenticated_request_limits_like_redis);
    RUN(unauthenticated_client_that_never_reads);
    RUN(authenticated_client_that_never_reads);
    RUN(glob_long_patterns_like_redis);
    RUN(requirepass_holds_a_nul_byte);
    return test_report();
}
