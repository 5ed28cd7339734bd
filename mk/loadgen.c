/* mk/loadgen — an open-loop load generator for make bench: requests go out
 * at a fixed rate whatever the server's replies do, and each latency runs
 * from the moment the request was due, not from when it was sent, so a
 * server that stalls is charged for every request that queued behind the
 * stall (coordinated omission corrected).
 *
 *   loadgen -p PORT -r RATE [-c CONNS] [-d SECONDS] [-t get|set|hset] [-k KEYSPACE]
 *           [-K PREFIX]
 *
 * One libev loop, CONNS hiredis async connections. A 1 ms timer sends every
 * request whose due time (start + i / RATE) has come, round robin over the
 * connections; the due time travels as the reply callback's private data.
 * Latencies go into a util/hdr histogram (ns).
 *
 * Prints one line: rate (asked), sent, done, achieved rate, p50/p99/p99.9/max
 * in microseconds, and errors. Exit 1 when it could not connect. */
#include "util/hdr.h"
#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    const char *host;
    int port, conns, keyspace;
    double rate, seconds;
    const char *test, *prefix;
} opt = {"127.0.0.1", 6379, 50, 100000, 1000, 5, "get", "key:"};

static redisAsyncContext **ctx;
static hdr *hist;
static uint64_t sent, done, errors, next_i;
static int64_t start_ns;
static int sending = 1;
static ev_timer tick, stop_w;
static unsigned rng = 12345;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_reply(redisAsyncContext *c, void *r, void *priv) {
    (void)c;
    int64_t due = (int64_t)(intptr_t)priv;
    redisReply *reply = r;
    if (!reply || reply->type == REDIS_REPLY_ERROR) errors++;
    hdr_record(hist, now_ns() - due);
    done++;
}

static void send_one(redisAsyncContext *c, int64_t due) {
    rng = rng * 1103515245u + 12345u;
    unsigned k = (rng >> 8) % (unsigned)opt.keyspace;
    void *priv = (void *)(intptr_t)due;
    if (!strcmp(opt.test, "set"))
        redisAsyncCommand(c, on_reply, priv, "SET %s%u xxxxxxxxxxxxxxxx", opt.prefix, k);
    else if (!strcmp(opt.test, "hset"))
        redisAsyncCommand(c, on_reply, priv, "HSET %s%u name n%u", opt.prefix, k, k);
    else
        redisAsyncCommand(c, on_reply, priv, "GET %s%u", opt.prefix, k);
    sent++;
}

/* Sends every request that is due by now (the open loop). */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    if (!sending) return;
    int64_t now = now_ns();
    for (;;) {
        int64_t due = start_ns + (int64_t)((double)next_i * 1e9 / opt.rate);
        if (due > now) break;
        send_one(ctx[next_i % (uint64_t)opt.conns], due);
        next_i++;
    }
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)w, (void)revents;
    if (sending) { /* stop sending; wait up to 5 s for what is outstanding */
        sending = 0;
        ev_timer_stop(loop, &tick);
        ev_timer_set(&stop_w, 0.01, 0.01);
        ev_timer_start(loop, &stop_w);
        stop_w.data = (void *)(intptr_t)(now_ns() + 5000000000LL);
        return;
    }
    if (done >= sent || now_ns() > (int64_t)(intptr_t)stop_w.data) ev_break(loop, EVBREAK_ALL);
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen -p PORT -r RATE [-c CONNS] [-d SECONDS] [-t get|set|hset] "
                    "[-k KEYSPACE] [-K PREFIX] [-h HOST]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int ch;
    while ((ch = getopt(argc, argv, "h:p:c:r:d:t:k:K:")) != -1) {
        switch (ch) {
        case 'h':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'c':
            opt.conns = atoi(optarg);
            break;
        case 'r':
            opt.rate = atof(optarg);
            break;
        case 'd':
            opt.seconds = atof(optarg);
            break;
        case 't':
            opt.test = optarg;
            break;
        case 'k':
            opt.keyspace = atoi(optarg);
            break;
        case 'K':
            opt.prefix = optarg;
            break;
        default:
            usage();
        }
    }
    if (opt.conns < 1 || opt.rate <= 0 || opt.seconds <= 0 || opt.keyspace < 1) usage();
    struct ev_loop *loop = EV_DEFAULT;
    hist = hdr_new((int64_t)1 << 36); /* up to 68 s */
    ctx = calloc((size_t)opt.conns, sizeof(*ctx));
    for (int i = 0; i < opt.conns; i++) {
        ctx[i] = redisAsyncConnect(opt.host, opt.port);
        if (!ctx[i] || ctx[i]->err) {
            fprintf(stderr, "loadgen: cannot connect to %s:%d\n", opt.host, opt.port);
            return 1;
        }
        redisLibevAttach(loop, ctx[i]);
    }
    start_ns = now_ns() + 20000000; /* connections settle first */
    ev_timer_init(&tick, tick_cb, 0.001, 0.001);
    ev_timer_start(loop, &tick);
    ev_timer_init(&stop_w, stop_cb, opt.seconds + 0.02, 0);
    ev_timer_start(loop, &stop_w);
    ev_run(loop, 0);
    double secs = opt.seconds;
    printf("rate=%.0f sent=%llu done=%llu achieved=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
           "max_us=%.1f errors=%llu\n",
           opt.rate, (unsigned long long)sent, (unsigned long long)done, (double)done / secs,
           hdr_percentile(hist, 50) / 1000.0, hdr_percentile(hist, 99) / 1000.0,
           hdr_percentile(hist, 99.9) / 1000.0, (double)hist->max / 1000.0,
           (unsigned long long)errors);
    for (int i = 0; i < opt.conns; i++) redisAsyncFree(ctx[i]);
    free(ctx);
    return 0;
}
