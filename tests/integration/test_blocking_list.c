/* Blocking list commands across several clients: FIFO service among waiters,
 * timeouts (fractional, 0 = forever), wake-ups from pushes inside MULTI/EXEC
 * and from another blocked client's BLMOVE, pipelined push+pop, CLIENT
 * UNBLOCK, non-blocking behaviour inside MULTI, wrong types, disconnects.
 *
 * Every scenario runs against larder-server and Debian's redis-server and
 * writes a transcript of what each client received; the transcripts must be
 * identical. To know that a client is blocked, the control connection polls
 * INFO's blocked_clients in a bounded loop (no fixed sleeps). */
#include "harness.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef struct tr {
    char buf[8192];
    size_t len;
} tr;

static void tr_add(tr *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < sizeof(t->buf) - t->len ? (size_t)n : sizeof(t->buf) - t->len - 1;
}

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static redisContext *conn(const srv *s) {
    redisContext *c = srv_connect(s);
    if (c) {
        struct timeval tv = {10, 0};
        redisSetTimeout(c, tv);
    }
    return c;
}

/* Sends a command without waiting for its reply. */
static void send_cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) break;
}

/* The next reply, rendered. */
static char *next_reply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK || !r) return strdup("(lost)");
    char *s = reply_str(r);
    freeReplyObject(r);
    return s;
}

static void record(tr *t, const char *who, redisContext *c) {
    char *s = next_reply(c);
    tr_add(t, "%s: %s\n", who, s);
    free(s);
}

static void record_cmd(tr *t, const char *who, redisContext *c, const char *cmd) {
    char *s = cmd_str(c, cmd);
    tr_add(t, "%s %s -> %s\n", who, cmd, s);
    free(s);
}

static long long blocked_clients(redisContext *ctl) {
    redisReply *r = redisCommand(ctl, "INFO clients");
    long long n = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "blocked_clients:");
        if (p) n = atoll(p + 16);
    }
    if (r) freeReplyObject(r);
    return n;
}

/* Waits (bounded) until exactly n clients are blocked. */
static int wait_blocked(redisContext *ctl, long long n) {
    long long deadline = now_ms() + 5000;
    while (now_ms() < deadline) {
        if (blocked_clients(ctl) == n) return 1;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

typedef void scenario_fn(const srv *s, tr *t);

/* Waiters of one key are served in the order they blocked. */
static void sc_fifo(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = conn(s);
        send_cmd(c[i], "BLPOP k 0");
        tr_add(t, "blocked %d: %d\n", i, wait_blocked(ctl, i + 1));
    }
    record_cmd(t, "ctl", ctl, "RPUSH k a b c d");
    for (int i = 0; i < 3; i++) record(t, i == 0 ? "c0" : i == 1 ? "c1" : "c2", c[i]);
    record_cmd(t, "ctl", ctl, "LRANGE k 0 -1");
    /* the next waiter in line is whoever blocks first afterwards */
    send_cmd(c[2], "BRPOP k2 0");
    wait_blocked(ctl, 1);
    send_cmd(c[0], "BRPOP k2 0");
    wait_blocked(ctl, 2);
    record_cmd(t, "ctl", ctl, "RPUSH k2 x");
    record(t, "c2", c[2]);
    record_cmd(t, "ctl", ctl, "RPUSH k2 y");
    record(t, "c0", c[0]);
    for (int i = 0; i < 3; i++) redisFree(c[i]);
    redisFree(ctl);
}

/* Timeouts: fractional ones end the wait with a null array; 0 waits on. */
static void sc_timeouts(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c = conn(s);
    long long t0 = now_ms();
    record_cmd(t, "c", c, "BLPOP nolist 0.2");
    long long el = now_ms() - t0;
    tr_add(t, "waited about 0.2s: %d\n", el >= 150 && el < 3000);
    record_cmd(t, "c", c, "BLMOVE nolist other LEFT RIGHT 0.05");
    record_cmd(t, "c", c, "BRPOPLPUSH nolist other 0.05");
    record_cmd(t, "c", c, "BLMPOP 0.05 2 nolist nolist2 LEFT COUNT 3");
    record_cmd(t, "c", c, "BLPOP nolist -1");
    record_cmd(t, "c", c, "BLPOP nolist abc");
    record_cmd(t, "c", c, "BLMPOP 0 0 nolist LEFT");
    send_cmd(c, "BLPOP forever 0");
    tr_add(t, "blocked: %d\n", wait_blocked(ctl, 1));
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    tr_add(t, "still blocked after 0.3s: %lld\n", blocked_clients(ctl));
    record_cmd(t, "ctl", ctl, "LPUSH forever v");
    record(t, "c", c);
    redisFree(c);
    redisFree(ctl);
}

/* Pushes inside MULTI wake waiters only after EXEC, seeing the final state;
 * a push followed by a DEL in the same transaction wakes nobody. */
static void sc_multi(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c = conn(s), *d = conn(s);
    send_cmd(c, "BLPOP m 0");
    wait_blocked(ctl, 1);
    record_cmd(t, "ctl", ctl, "MULTI");
    record_cmd(t, "ctl", ctl, "LPUSH m a");
    record_cmd(t, "ctl", ctl, "LPUSH m b");
    record_cmd(t, "ctl", ctl, "LPUSH m c");
    record_cmd(t, "ctl", ctl, "EXEC");
    record(t, "c", c);
    send_cmd(c, "BLPOP m2 0");
    wait_blocked(ctl, 1);
    record_cmd(t, "ctl", ctl, "MULTI");
    record_cmd(t, "ctl", ctl, "LPUSH m2 a");
    record_cmd(t, "ctl", ctl, "DEL m2");
    record_cmd(t, "ctl", ctl, "SET m2 str");
    record_cmd(t, "ctl", ctl, "EXEC");
    tr_add(t, "still blocked: %lld\n", blocked_clients(ctl));
    record_cmd(t, "ctl", ctl, "DEL m2");
    record_cmd(t, "ctl", ctl, "RPUSH m2 late");
    record(t, "c", c);
    /* several lists in one transaction: served in the order keys got ready */
    send_cmd(c, "BLPOP x y 0");
    wait_blocked(ctl, 1);
    send_cmd(d, "BLMPOP 0 2 x y RIGHT COUNT 5");
    wait_blocked(ctl, 2);
    record_cmd(t, "ctl", ctl, "MULTI");
    record_cmd(t, "ctl", ctl, "RPUSH y 1 2 3");
    record_cmd(t, "ctl", ctl, "RPUSH x 4 5");
    record_cmd(t, "ctl", ctl, "EXEC");
    record(t, "c", c);
    record(t, "d", d);
    record_cmd(t, "ctl", ctl, "LRANGE x 0 -1");
    record_cmd(t, "ctl", ctl, "LRANGE y 0 -1");
    /* blocking commands inside MULTI do not block */
    record_cmd(t, "d", d, "MULTI");
    record_cmd(t, "d", d, "BLPOP empty 0");
    record_cmd(t, "d", d, "BRPOPLPUSH empty dst 0");
    record_cmd(t, "d", d, "BLMOVE empty dst LEFT LEFT 0");
    record_cmd(t, "d", d, "BLMPOP 0 1 empty LEFT");
    record_cmd(t, "d", d, "EXEC");
    redisFree(c);
    redisFree(d);
    redisFree(ctl);
}

/* BLMOVE pushes wake the next waiter in the chain; a wrong destination type
 * is reported to the waiter and leaves the source alone. */
static void sc_chains(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c1 = conn(s), *c2 = conn(s), *c3 = conn(s);
    send_cmd(c1, "BLMOVE a b RIGHT LEFT 0");
    wait_blocked(ctl, 1);
    send_cmd(c2, "BLMOVE b c LEFT RIGHT 0");
    wait_blocked(ctl, 2);
    send_cmd(c3, "BLPOP c 0");
    wait_blocked(ctl, 3);
    record_cmd(t, "ctl", ctl, "RPUSH a foo");
    record(t, "c1", c1);
    record(t, "c2", c2);
    record(t, "c3", c3);
    record_cmd(t, "ctl", ctl, "EXISTS a b c");
    /* circular */
    send_cmd(c1, "BRPOPLPUSH l1 l2 0");
    wait_blocked(ctl, 1);
    send_cmd(c2, "BRPOPLPUSH l2 l1 0");
    wait_blocked(ctl, 2);
    record_cmd(t, "ctl", ctl, "RPUSH l1 x");
    record(t, "c1", c1);
    record(t, "c2", c2);
    record_cmd(t, "ctl", ctl, "LRANGE l1 0 -1");
    record_cmd(t, "ctl", ctl, "LRANGE l2 0 -1");
    /* wrong destination type */
    record_cmd(t, "ctl", ctl, "SET notlist v");
    send_cmd(c1, "BRPOPLPUSH src notlist 0");
    wait_blocked(ctl, 1);
    send_cmd(c2, "BRPOPLPUSH src okdst 0");
    wait_blocked(ctl, 2);
    record_cmd(t, "ctl", ctl, "RPUSH src a b");
    record(t, "c1", c1);
    record(t, "c2", c2);
    record_cmd(t, "ctl", ctl, "LRANGE src 0 -1");
    record_cmd(t, "ctl", ctl, "LRANGE okdst 0 -1");
    /* a key of another type does not wake a waiter */
    send_cmd(c3, "BLPOP typed 0");
    wait_blocked(ctl, 1);
    record_cmd(t, "ctl", ctl, "SET typed x");
    tr_add(t, "still blocked: %lld\n", blocked_clients(ctl));
    record_cmd(t, "ctl", ctl, "DEL typed");
    record_cmd(t, "ctl", ctl, "RPUSH typed y");
    record(t, "c3", c3);
    /* a list moved into place wakes it */
    send_cmd(c3, "BLPOP moved 0");
    wait_blocked(ctl, 1);
    record_cmd(t, "ctl", ctl, "RPUSH tmp q r");
    record_cmd(t, "ctl", ctl, "RENAME tmp moved");
    record(t, "c3", c3);
    redisFree(c1);
    redisFree(c2);
    redisFree(c3);
    redisFree(ctl);
}

/* A pipelined push and pop: the waiter is served between them. */
static void sc_pipeline(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c = conn(s), *p = conn(s);
    send_cmd(c, "BLPOP pk 0");
    wait_blocked(ctl, 1);
    redisAppendCommand(p, "RPUSH pk x");
    redisAppendCommand(p, "LPOP pk");
    redisAppendCommand(p, "LLEN pk");
    record(t, "p", p);
    record(t, "p", p);
    record(t, "p", p);
    record(t, "c", c);
    redisFree(c);
    redisFree(p);
    redisFree(ctl);
}

/* CLIENT UNBLOCK with TIMEOUT and ERROR; disconnecting while blocked. */
static void sc_unblock(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c = conn(s);
    redisReply *r = redisCommand(c, "CLIENT ID");
    long long id = r ? r->integer : -1;
    if (r) freeReplyObject(r);
    char cmd[64];
    const char *variants[] = {"", " TIMEOUT", " ERROR"};
    const char *blocking[] = {"BLPOP u 0", "BLMOVE u v LEFT LEFT 0", "BLMPOP 0 1 u LEFT COUNT 2"};
    for (int v = 0; v < 3; v++) {
        for (int b = 0; b < 3; b++) {
            send_cmd(c, blocking[b]);
            wait_blocked(ctl, 1);
            snprintf(cmd, sizeof(cmd), "CLIENT UNBLOCK %lld%s", id, variants[v]);
            r = redisCommand(ctl, cmd);
            tr_add(t, "unblock%s -> %lld\n", variants[v], r ? r->integer : -1);
            if (r) freeReplyObject(r);
            record(t, "c", c);
        }
    }
    snprintf(cmd, sizeof(cmd), "CLIENT UNBLOCK %lld", id);
    r = redisCommand(ctl, cmd);
    tr_add(t, "unblock of a client not blocked -> %lld\n", r ? r->integer : -1);
    if (r) freeReplyObject(r);
    /* a blocked client that goes away */
    redisContext *gone = conn(s);
    send_cmd(gone, "BLPOP g 0");
    wait_blocked(ctl, 1);
    redisFree(gone);
    tr_add(t, "none blocked after disconnect: %d\n", wait_blocked(ctl, 0));
    record_cmd(t, "ctl", ctl, "RPUSH g 1");
    record_cmd(t, "ctl", ctl, "LLEN g");
    redisFree(c);
    redisFree(ctl);
}

/* One waiter, several keys, data arriving on the second one; the same key
 * given twice. */
static void sc_multikey(const srv *s, tr *t) {
    redisContext *ctl = conn(s), *c = conn(s);
    send_cmd(c, "BRPOP k1 k2 k2 k1 0");
    wait_blocked(ctl, 1);
    record_cmd(t, "ctl", ctl, "RPUSH k2 a b");
    record(t, "c", c);
    send_cmd(c, "BLMPOP 0 3 k1 k3 k2 LEFT COUNT 10");
    record(t, "c", c);
    record_cmd(t, "ctl", ctl, "EXISTS k2");
    redisFree(c);
    redisFree(ctl);
}

/* One line of raw protocol (without CRLF); "(timeout)" if none comes. */
static void raw_line(int fd, char *out, size_t cap) {
    size_t n = 0;
    long long deadline = now_ms() + 5000;
    while (n + 1 < cap && now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        char ch;
        if (read(fd, &ch, 1) != 1) break;
        if (ch == '\n') {
            if (n && out[n - 1] == '\r') n--;
            out[n] = 0;
            return;
        }
        out[n++] = ch;
    }
    snprintf(out, cap, "(timeout)");
}

/* Sends an inline command and records `lines` raw reply lines. */
static void raw_record(tr *t, int fd, const char *cmd, int lines) {
    char line[256];
    raw_send(fd, cmd, strlen(cmd));
    raw_send(fd, "\r\n", 2);
    tr_add(t, "%s ->", cmd);
    for (int i = 0; i < lines; i++) {
        raw_line(fd, line, sizeof(line));
        tr_add(t, " %s", line);
    }
    tr_add(t, "\n");
}

/* The exact null forms (RESP2 and RESP3) of timeouts and of blocking
 * commands that may not block. */
static void sc_raw_nulls(const srv *s, tr *t) {
    int fd = srv_raw_socket(s);
    if (fd < 0) {
        tr_add(t, "(no socket)\n");
        return;
    }
    for (int resp = 2; resp <= 3; resp++) {
        raw_record(t, fd, "BLPOP nolist 0.01", 1);
        raw_record(t, fd, "BLMOVE nolist other LEFT RIGHT 0.01", 1);
        raw_record(t, fd, "BRPOPLPUSH nolist other 0.01", 1);
        raw_record(t, fd, "BLMPOP 0.01 1 nolist LEFT", 1);
        raw_record(t, fd, "LPOP nolist", 1);
        raw_record(t, fd, "LPOP nolist 2", 1);
        raw_record(t, fd, "LMPOP 1 nolist LEFT", 1);
        raw_record(t, fd, "LPOS nolist a", 1);
        raw_record(t, fd, "LPOS nolist a COUNT 0", 1);
        raw_record(t, fd, "LMOVE nolist other LEFT LEFT", 1);
        raw_record(t, fd, "MULTI", 1);
        raw_record(t, fd, "BLPOP nolist 0", 1);
        raw_record(t, fd, "BLMOVE nolist other LEFT RIGHT 0", 1);
        raw_record(t, fd, "BRPOPLPUSH nolist other 0", 1);
        raw_record(t, fd, "BLMPOP 0 1 nolist LEFT", 1);
        raw_record(t, fd, "EXEC", 5);
        if (resp == 2) { /* switch: skip HELLO's reply up to a PONG */
            raw_send(fd, "HELLO 3\r\nPING\r\n", 15);
            char line[256];
            do raw_line(fd, line, sizeof(line));
            while (strcmp(line, "+PONG") && strcmp(line, "(timeout)"));
        }
    }
    close(fd);
}

static void run(const char *name, scenario_fn *fn) {
    srv a, b;
    if (srv_start(&a, NULL) != 0 || srv_start_redis(&b, NULL) != 0) {
        CHECK(!"servers start");
        return;
    }
    tr ta = {.len = 0}, tb = {.len = 0};
    fn(&a, &ta);
    fn(&b, &tb);
    if (strcmp(ta.buf, tb.buf) != 0)
        fprintf(stderr, "%s differs:\n--- larder\n%s--- redis\n%s", name, ta.buf, tb.buf);
    else if (getenv("BLOCK_VERBOSE"))
        printf("%s:\n%s", name, ta.buf);
    CHECK(strcmp(ta.buf, tb.buf) == 0);
    CHECK(strstr(ta.buf, "(lost)") == NULL);
    srv_stop(&a);
    srv_stop(&b);
}

TEST(fifo_order) {
    run("fifo", sc_fifo);
}
TEST(timeouts) {
    run("timeouts", sc_timeouts);
}
TEST(multi_exec) {
    run("multi", sc_multi);
}
TEST(blmove_chains_and_types) {
    run("chains", sc_chains);
}
TEST(pipelined_push_pop) {
    run("pipeline", sc_pipeline);
}
TEST(client_unblock_and_disconnect) {
    run("unblock", sc_unblock);
}
TEST(several_keys) {
    run("multikey", sc_multikey);
}
TEST(null_replies_resp2_resp3) {
    run("raw nulls", sc_raw_nulls);
}

int main(void) {
    RUN(fifo_order);
    RUN(timeouts);
    RUN(multi_exec);
    RUN(blmove_chains_and_types);
    RUN(pipelined_push_pop);
    RUN(client_unblock_and_disconnect);
    RUN(several_keys);
    RUN(null_replies_resp2_resp3);
    return test_report();
}
