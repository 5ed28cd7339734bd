/* Sorted sets beyond single replies: blocking pops across clients (wake-up,
 * FIFO order among waiters, timeouts, MULTI, a key that changes type while
 * clients wait, disconnects, CLIENT UNBLOCK), RESTORE of malformed payloads,
 * COPY independence, MEMORY USAGE, and — when the server has pub/sub —
 * keyspace notifications compared with redis-server's event stream.
 *
 * Waiting for a client to block polls INFO's blocked_clients (an event the
 * test awaits, not a sleep standing in for one). */
#include "harness.h"
#include "rawconn.h"
#include "util/crc64.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Sends a space-separated command (no spaces inside arguments). */
static void rc_line_send(rconn *c, const char *line) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", line);
    const char *argv[32];
    size_t lens[32];
    int argc = 0;
    for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " ")) {
        argv[argc] = t;
        lens[argc] = strlen(t);
        argc++;
    }
    rc_send(c, argc, argv, lens);
}

static char *rc_line(rconn *c, const char *line) {
    rc_line_send(c, line);
    return rc_read(c);
}

#define EXPECT_LINE(conn, line, want)                                                              \
    do {                                                                                           \
        char *got_ = rc_line(conn, line);                                                          \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

#define EXPECT_READ(conn, want)                                                                    \
    do {                                                                                           \
        char *got_ = rc_read(conn);                                                                \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

static long blocked_clients(rconn *c) {
    char *info = rc_line(c, "INFO clients");
    char *p = strstr(info, "blocked_clients:");
    long n = p ? atol(p + 16) : -1;
    free(info);
    return n;
}

/* Waits (up to 5 s) until n clients are blocked. */
static int wait_blocked(rconn *c, long n) {
    for (int i = 0; i < 5000; i++) {
        if (blocked_clients(c) == n) return 1;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static srv S;
static rconn ctl;

static void open_client(rconn *c) {
    CHECK(rc_open(c, &S) == 0);
}

TEST(bzpopmin_wakes_on_zadd) {
    rconn a;
    open_client(&a);
    EXPECT_LINE(&ctl, "DEL k1", ":0\r\n");
    rc_line_send(&a, "BZPOPMIN k1 5");
    CHECK(wait_blocked(&ctl, 1));
    EXPECT_LINE(&ctl, "ZADD k1 1.5 m 2 n", ":2\r\n");
    EXPECT_READ(&a, "*3\r\n$2\r\nk1\r\n$1\r\nm\r\n$3\r\n1.5\r\n");
    EXPECT_LINE(&ctl, "ZRANGE k1 0 -1", "*1\r\n$1\r\nn\r\n");
    /* data already there: no blocking; BZPOPMAX takes the top */
    EXPECT_LINE(&a, "BZPOPMAX k1 5", "*3\r\n$2\r\nk1\r\n$1\r\nn\r\n$1\r\n2\r\n");
    EXPECT_LINE(&ctl, "EXISTS k1", ":0\r\n");
    rc_close(&a);
}

TEST(waiters_are_served_in_arrival_order) {
    rconn c[3];
    for (int i = 0; i < 3; i++) {
        open_client(&c[i]);
        rc_line_send(&c[i], "BZPOPMIN fifo 0");
        CHECK(wait_blocked(&ctl, i + 1)); /* arrival order is known */
    }
    EXPECT_LINE(&ctl, "ZADD fifo 1 x 2 y", ":2\r\n");
    EXPECT_READ(&c[0], "*3\r\n$4\r\nfifo\r\n$1\r\nx\r\n$1\r\n1\r\n");
    EXPECT_READ(&c[1], "*3\r\n$4\r\nfifo\r\n$1\r\ny\r\n$1\r\n2\r\n");
    CHECK(wait_blocked(&ctl, 1)); /* the third still waits */
    EXPECT_LINE(&ctl, "ZADD fifo 3 z", ":1\r\n");
    EXPECT_READ(&c[2], "*3\r\n$4\r\nfifo\r\n$1\r\nz\r\n$1\r\n3\r\n");
    CHECK(wait_blocked(&ctl, 0));
    for (int i = 0; i < 3; i++) rc_close(&c[i]);
}

TEST(bzmpop_counts_and_second_key) {
    rconn a, b;
    open_client(&a);
    open_client(&b);
    EXPECT_LINE(&ctl, "DEL m1 m2", ":0\r\n");
    rc_line_send(&a, "BZMPOP 0 2 m1 m2 MAX COUNT 2");
    CHECK(wait_blocked(&ctl, 1));
    rc_line_send(&b, "BZMPOP 0 2 m1 m2 MIN COUNT 10");
    CHECK(wait_blocked(&ctl, 2));
    EXPECT_LINE(&ctl, "ZADD m2 1 a 2 b 3 c", ":3\r\n");
    EXPECT_READ(&a,
                "*2\r\n$2\r\nm2\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    EXPECT_READ(&b, "*2\r\n$2\r\nm2\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    EXPECT_LINE(&ctl, "EXISTS m2", ":0\r\n");
    rc_close(&a);
    rc_close(&b);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(timeouts_reply_null_in_both_protocols) {
    rconn a;
    open_client(&a);
    double t0 = now_s();
    EXPECT_LINE(&a, "BZPOPMIN nothere 0.2", "*-1\r\n");
    CHECK(now_s() - t0 >= 0.15);
    EXPECT_LINE(&a, "BZMPOP 0.05 1 nothere MIN", "*-1\r\n");
    char *h = rc_line(&a, "HELLO 3");
    free(h);
    EXPECT_LINE(&a, "BZPOPMAX nothere 0.05", "_\r\n");
    EXPECT_LINE(&a, "BZMPOP 0.05 2 nothere x MAX", "_\r\n");
    EXPECT_LINE(&ctl, "ZADD r3 2 m", ":1\r\n");
    EXPECT_LINE(&a, "BZPOPMAX r3 1", "*3\r\n$2\r\nr3\r\n$1\r\nm\r\n,2\r\n");
    EXPECT_LINE(&a, "BZPOPMIN k1 -1", "-ERR timeout is negative\r\n");
    EXPECT_LINE(&a, "BZPOPMIN k1 abc", "-ERR timeout is not a float or out of range\r\n");
    CHECK(wait_blocked(&ctl, 0));
    rc_close(&a);
}

TEST(no_blocking_inside_multi) {
    rconn a;
    open_client(&a);
    EXPECT_LINE(&a, "MULTI", "+OK\r\n");
    EXPECT_LINE(&a, "BZPOPMIN nothere 0", "+QUEUED\r\n");
    EXPECT_LINE(&a, "BZMPOP 0 1 nothere MIN", "+QUEUED\r\n");
    EXPECT_LINE(&a, "EXEC", "*2\r\n*-1\r\n*-1\r\n");
    rc_close(&a);
}

TEST(type_change_does_not_wake_waiter) {
    rconn a;
    open_client(&a);
    EXPECT_LINE(&ctl, "DEL tc", ":0\r\n");
    rc_line_send(&a, "BZPOPMIN tc 0");
    CHECK(wait_blocked(&ctl, 1));
    EXPECT_LINE(&ctl, "MULTI", "+OK\r\n");
    EXPECT_LINE(&ctl, "ZADD tc 0 foo", "+QUEUED\r\n");
    EXPECT_LINE(&ctl, "DEL tc", "+QUEUED\r\n");
    EXPECT_LINE(&ctl, "SET tc bar", "+QUEUED\r\n");
    EXPECT_LINE(&ctl, "EXEC", "*3\r\n:1\r\n:1\r\n+OK\r\n");
    CHECK(wait_blocked(&ctl, 1)); /* still waiting, no WRONGTYPE */
    EXPECT_LINE(&ctl, "DEL tc", ":1\r\n");
    EXPECT_LINE(&ctl, "ZADD tc 1 bar", ":1\r\n");
    EXPECT_READ(&a, "*3\r\n$2\r\ntc\r\n$3\r\nbar\r\n$1\r\n1\r\n");
    /* a wrong type found at the first try is an error */
    EXPECT_LINE(&ctl, "SET tc x", "+OK\r\n");
    EXPECT_LINE(&a, "BZPOPMIN tc 0",
                "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    rc_close(&a);
}

TEST(disconnect_and_client_unblock) {
    rconn a, b;
    open_client(&a);
    open_client(&b);
    rc_line_send(&a, "BZPOPMIN gone 0");
    CHECK(wait_blocked(&ctl, 1));
    rc_close(&a);
    CHECK(wait_blocked(&ctl, 0));
    EXPECT_LINE(&ctl, "ZADD gone 1 x", ":1\r\n");
    EXPECT_LINE(&ctl, "ZCARD gone", ":1\r\n");
    char *id = rc_line(&b, "CLIENT ID");
    long bid = atol(id + 1);
    free(id);
    rc_line_send(&b, "BZMPOP 0 1 nothere MIN");
    CHECK(wait_blocked(&ctl, 1));
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "CLIENT UNBLOCK %ld", bid);
    EXPECT_LINE(&ctl, cmd, ":1\r\n");
    EXPECT_READ(&b, "*-1\r\n");
    rc_line_send(&b, "BZPOPMIN nothere 0");
    CHECK(wait_blocked(&ctl, 1));
    snprintf(cmd, sizeof(cmd), "CLIENT UNBLOCK %ld ERROR", bid);
    EXPECT_LINE(&ctl, cmd, ":1\r\n");
    EXPECT_READ(&b, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    rc_close(&b);
}

/* ---- RESTORE never trusts the payload -------------------------------------------- */

/* A RESTORE payload: type byte 3 (zset), body, version 1, CRC-64. */
static void restore_body(const unsigned char *body, size_t n, const char *want) {
    unsigned char p[256];
    p[0] = 3;
    memcpy(p + 1, body, n);
    size_t len = 1 + n;
    p[len++] = 1;
    p[len++] = 0;
    uint64_t crc = crc64(0, p, len);
    for (int i = 0; i < 8; i++) p[len++] = (unsigned char)(crc >> (8 * i));
    const char *argv[5] = {"RESTORE", "rk", "0", (const char *)p, "REPLACE"};
    size_t lens[5] = {7, 2, 1, len, 7};
    char *got = rc_cmd(&ctl, 5, argv, lens);
    CHECK_STR(got, want);
    free(got);
}

static size_t put_elem(unsigned char *b, const char *m, double score) {
    size_t n = 0, ml = strlen(m);
    b[n++] = (unsigned char)ml;
    memcpy(b + n, m, ml);
    n += ml;
    uint64_t bits;
    memcpy(&bits, &score, 8);
    for (int i = 0; i < 8; i++) b[n++] = (unsigned char)(bits >> (8 * i));
    return n;
}

TEST(restore_rejects_malformed_payloads) {
    const char *bad = "-ERR Bad data format\r\n";
    unsigned char b[128];
    size_t n;
    /* well formed: enc 1 (skiplist), two members */
    n = 0;
    b[n++] = 1;
    b[n++] = 2;
    n += put_elem(b + n, "a", 1);
    n += put_elem(b + n, "b", 2.5);
    restore_body(b, n, "+OK\r\n");
    EXPECT_LINE(&ctl, "ZRANGE rk 0 -1 WITHSCORES",
                "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n");
    restore_body(b, n - 1, bad); /* truncated score */
    b[n] = 0;
    restore_body(b, n + 1, bad); /* trailing byte */
    b[1] = 3;
    restore_body(b, n, bad); /* count larger than the elements */
    b[1] = 0;
    restore_body(b, 2, bad); /* empty set */
    b[0] = 7;
    b[1] = 2;
    restore_body(b, n, bad); /* unknown encoding byte */
    n = 0;
    b[n++] = 0;
    b[n++] = 2;
    n += put_elem(b + n, "a", 1);
    n += put_elem(b + n, "a", 2);
    restore_body(b, n, bad); /* repeated member */
    n = 0;
    b[n++] = 0;
    b[n++] = 1;
    n += put_elem(b + n, "a", NAN);
    restore_body(b, n, bad); /* NaN score */
    n = 0;
    b[n++] = 0;
    b[n++] = 1;
    b[n++] = 100; /* member length past the end */
    b[n++] = 'x';
    restore_body(b, n, bad);
    b[2] = 0xff; /* an unterminated varint */
    restore_body(b, 3, bad);
    /* a real DUMP round-trips, including a big skiplist */
    EXPECT_LINE(&ctl, "DEL big", ":0\r\n");
    for (int i = 0; i < 300; i++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "ZADD big %d m%d", i % 17, i);
        free(rc_line(&ctl, cmd));
    }
    char *d = rc_line(&ctl, "DUMP big");
    CHECK(d[0] == '$');
    char *body = strstr(d, "\r\n") + 2;
    const char *argv[4] = {"RESTORE", "big2", "0", body};
    size_t lens[4] = {7, 4, 1, (size_t)atol(d + 1)};
    char *r = rc_cmd(&ctl, 4, argv, lens);
    CHECK_STR(r, "+OK\r\n");
    free(r);
    free(d);
    char *x = rc_line(&ctl, "ZRANGE big 0 -1 WITHSCORES"),
         *y = rc_line(&ctl, "ZRANGE big2 0 -1 WITHSCORES");
    CHECK_STR(x, y);
    free(x);
    free(y);
    EXPECT_LINE(&ctl, "OBJECT ENCODING big2", "$8\r\nskiplist\r\n");
}

TEST(copy_is_independent_and_memory_usage_grows) {
    EXPECT_LINE(&ctl, "DEL c1 c2", ":0\r\n");
    EXPECT_LINE(&ctl, "ZADD c1 1 a 2 b", ":2\r\n");
    EXPECT_LINE(&ctl, "COPY c1 c2", ":1\r\n");
    EXPECT_LINE(&ctl, "ZADD c2 3 c", ":1\r\n");
    EXPECT_LINE(&ctl, "ZCARD c1", ":2\r\n");
    char *small = rc_line(&ctl, "MEMORY USAGE c1");
    long ms = atol(small + 1);
    free(small);
    CHECK(ms > 0);
    for (int i = 0; i < 200; i++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "ZADD c1 %d member:%d", i, i);
        free(rc_line(&ctl, cmd));
    }
    EXPECT_LINE(&ctl, "OBJECT ENCODING c1", "$8\r\nskiplist\r\n");
    EXPECT_LINE(&ctl, "COPY c1 c3", ":1\r\n");
    EXPECT_LINE(&ctl, "ZREM c3 member:5", ":1\r\n");
    EXPECT_LINE(&ctl, "ZSCORE c1 member:5", "$1\r\n5\r\n");
    EXPECT_LINE(&ctl, "OBJECT ENCODING c3", "$8\r\nskiplist\r\n");
    char *big = rc_line(&ctl, "MEMORY USAGE c1 SAMPLES 0");
    long mb = atol(big + 1);
    free(big);
    CHECK(mb > ms + 200 * 16);
    CHECK(mb < 200 * 200); /* members are ~10 bytes: far below 200 B each */
}

/* ---- keyspace notifications, compared with redis-server ------------------------------- */

static const char *notify_script[] = {"ZADD nk 1 a 2 b 3 c 4 d 5 e",
                                      "ZADD nk XX 1 zz",
                                      "ZADD nk 1 a",
                                      "ZINCRBY nk 1 a",
                                      "ZADD nk INCR 1 b",
                                      "ZREM nk nosuch",
                                      "ZREM nk a",
                                      "ZREMRANGEBYSCORE nk 2 2",
                                      "ZREMRANGEBYSCORE nk 100 200",
                                      "ZREMRANGEBYRANK nk 0 0",
                                      "ZADD nl 0 a 0 b 0 c",
                                      "ZREMRANGEBYLEX nl [a [a",
                                      "ZPOPMIN nk",
                                      "ZPOPMAX nk 5",
                                      "ZADD nk 1 x 2 y",
                                      "ZUNIONSTORE nu 2 nk nl",
                                      "ZINTERSTORE ni 2 nk nl",
                                      "ZDIFFSTORE nd 1 nk",
                                      "ZRANGESTORE nr nk 0 -1",
                                      "ZRANGESTORE nr nothere 0 -1",
                                      "ZINTERSTORE nu 2 nk nothere",
                                      "ZMPOP 1 nl MIN COUNT 10",
                                      "BZPOPMIN nk 0",
                                      "BZMPOP 0 1 nk MAX",
                                      "ZREM nd x y",
                                      NULL};

static char *event_stream(const srv *s, int *supported) {
    rconn sub, c;
    rc_open(&sub, s);
    rc_open(&c, s);
    free(rc_line(&c, "CONFIG SET notify-keyspace-events KEA"));
    char *r = rc_line(&sub, "PSUBSCRIBE __key*@0__:*");
    *supported = r[0] != '-';
    free(r);
    if (*supported) free(rc_line(&sub, "SUBSCRIBE end"));
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    if (*supported) {
        for (int i = 0; notify_script[i]; i++) free(rc_line(&c, notify_script[i]));
        free(rc_line(&c, "PUBLISH end end"));
        for (;;) { /* messages up to our end marker */
            char *m = rc_read(&sub);
            int end = strstr(m, "$3\r\nend\r\n$3\r\nend") != NULL || !strcmp(m, "(lost)");
            if (!end) {
                size_t n = strlen(m);
                if (len + n + 1 < cap) {
                    memcpy(out + len, m, n);
                    len += n;
                }
            }
            free(m);
            if (end) break;
        }
    }
    rc_close(&sub);
    rc_close(&c);
    return out;
}

TEST(keyspace_events_match_redis) {
    srv r;
    CHECK(srv_start_redis(&r, NULL) == 0);
    int sup_l, sup_r;
    char *l = event_stream(&S, &sup_l), *e = event_stream(&r, &sup_r);
    if (!sup_l) {
        printf("keyspace_events_match_redis: PSUBSCRIBE not available here, not compared\n");
    } else {
        CHECK(strlen(e) > 1000);
        CHECK_STR(l, e);
    }
    free(l);
    free(e);
    srv_stop(&r);
}

int main(void) {
    static const char *extra[] = {"--enable-debug-command", "yes", NULL};
    if (srv_start(&S, extra) != 0 || rc_open(&ctl, &S) != 0) {
        fprintf(stderr, "cannot start larder-server\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(bzpopmin_wakes_on_zadd);
    RUN(waiters_are_served_in_arrival_order);
    RUN(bzmpop_counts_and_second_key);
    RUN(timeouts_reply_null_in_both_protocols);
    RUN(no_blocking_inside_multi);
    RUN(type_change_does_not_wake_waiter);
    RUN(disconnect_and_client_unblock);
    RUN(restore_rejects_malformed_payloads);
    RUN(copy_is_independent_and_memory_usage_grows);
    RUN(keyspace_events_match_redis);
    rc_close(&ctl);
    srv_stop(&S);
    return test_report();
}
