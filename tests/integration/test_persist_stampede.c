/* Stampede protection: 200 concurrent clients — non-blocking
 * sockets driven by one poll() loop in this process — hammer one hot key
 * that expires every second and whose load takes 50 ms (DEBUG STORE-DELAY
 * 50).
 *   read-through       one load per expiry (INFO loads; every other miss of
 *                      that expiry joins it: loads_coalesced), and no client
 *                      waits much longer than one load;
 *   read-through+XFetch  (beta 1.0) the hot key never misses after the
 *                      first load: refreshes_early > 0, misses stay 0, no
 *                      client waits for a load;
 *   cache-aside leases CACHE.GET BETA 0 / CACHE.SET TOKEN: exactly one token
 *                      (one recomputation) per expiry — the next token only
 *                      after the value set with the previous one expired —
 *                      and no stale set;
 *   cache-aside+XFetch CACHE.GET BETA 1: the token comes early, the others
 *                      keep getting the value: no miss after warm-up.
 * Expiries are counted by the server's own "expired" keyspace events (a
 * subscriber on __keyevent@0__:expired); when the run ends the key is made
 * persistent so that no expiry after the count goes unmatched. */
#include "pkit.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCLIENTS 200
#define LOAD_MS 50

typedef struct sc {
    int fd;
    redisReader *rd;
    int waiting;    /* a command is out, its reply not yet read */
    double sent_ms; /* when it went out */
    double wake_ms; /* next command not before (a retry, a recomputation) */
    char token[64]; /* a lease this client holds (cache-aside) */
    int finish;     /* owes one more command even after the run ends */
} sc;

typedef struct drive_ops {
    void (*ready)(sc *c, void *ctx);                                /* send the next command */
    void (*reply)(sc *c, redisReply *r, double latency, void *ctx); /* a reply arrived */
    void *ctx;
} drive_ops;

static void sc_send(sc *c, const char *fmt, ...) {
    char *cmd;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len > 0) raw_send(c->fd, cmd, (size_t)len);
    redisFreeCommand(cmd);
    c->waiting = 1;
    c->sent_ms = pk_now_ms();
}

static int open_clients(sc *cl, const srv *s) {
    for (int i = 0; i < NCLIENTS; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].fd = srv_raw_socket(s);
        if (cl[i].fd < 0) return -1;
        fcntl(cl[i].fd, F_SETFL, fcntl(cl[i].fd, F_GETFL) | O_NONBLOCK);
        cl[i].rd = redisReaderCreate();
    }
    return 0;
}

static void close_clients(sc *cl) {
    for (int i = 0; i < NCLIENTS; i++) {
        if (cl[i].fd >= 0) close(cl[i].fd);
        if (cl[i].rd) redisReaderFree(cl[i].rd);
    }
}

/* Reads what c's socket has; hands every complete reply to ops. -1 on a lost connection. */
static int sc_read(sc *c, const drive_ops *ops) {
    char buf[16384];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return -1;
    if (n > 0) redisReaderFeed(c->rd, buf, (size_t)n);
    void *r = NULL;
    while (redisReaderGetReply(c->rd, &r) == REDIS_OK && r) {
        c->waiting = 0;
        ops->reply(c, r, pk_now_ms() - c->sent_ms, ops->ctx);
        freeReplyObject(r);
        r = NULL;
    }
    return 0;
}

/* Runs the clients for ms milliseconds, then lets the replies still out
 * arrive. Returns the number of lost connections. */
static int drive(sc *cl, double ms, const drive_ops *ops) {
    struct pollfd pf[NCLIENTS];
    double end = pk_now_ms() + ms, drain_end = end + 5000;
    int lost = 0;
    for (;;) {
        double now = pk_now_ms();
        int out = 0, timeout = 5;
        for (int i = 0; i < NCLIENTS; i++) {
            if (cl[i].fd >= 0 && !cl[i].waiting && (now < end || cl[i].finish)) {
                if (cl[i].wake_ms <= now)
                    ops->ready(&cl[i], ops->ctx);
                else if (cl[i].wake_ms - now < timeout)
                    timeout = (int)(cl[i].wake_ms - now) + 1;
            }
            pf[i].fd = cl[i].waiting ? cl[i].fd : -1;
            pf[i].events = POLLIN;
            out += cl[i].waiting || (cl[i].fd >= 0 && cl[i].finish);
        }
        if ((now >= end && !out) || now > drain_end) break;
        if (poll(pf, NCLIENTS, timeout) <= 0) continue;
        for (int i = 0; i < NCLIENTS; i++)
            if (pf[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                sc_read(&cl[i], ops) != 0) {
                close(cl[i].fd);
                cl[i].fd = -1;
                lost++;
            }
    }
    return lost;
}

/* ---- counting expiries: the server's "expired" events ------------------------------- */

typedef struct times {
    double *v;
    int n, cap;
} times;

static void times_add(times *t, double x) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->v = realloc(t->v, sizeof(double) * (size_t)t->cap);
    }
    t->v[t->n++] = x;
}

/* A connection subscribed to expiry events (-1 on failure). */
static int watch_expiries(const srv *s, redisContext *ctl) {
    CHECK_CMD(ctl, "+OK", "CONFIG SET notify-keyspace-events Ex");
    int fd = srv_raw_socket(s);
    if (fd < 0) return -1;
    const char sub[] = "SUBSCRIBE __keyevent@0__:expired\r\n";
    raw_send(fd, sub, sizeof(sub) - 1);
    char *r = raw_reply_str(fd);
    CHECK(r && !strncmp(r, "[subscribe,", 11));
    free(r);
    return fd;
}

/* Expiry events of key so far: PING's reply comes after every event
 * published before it. Closes fd. */
static int count_expiries(int fd, const char *key) {
    char tail[128];
    snprintf(tail, sizeof(tail), ",%s]", key);
    raw_send(fd, "PING\r\n", 6);
    int n = 0;
    for (;;) {
        char *r = raw_reply_str(fd);
        int done = !r || !strncmp(r, "[pong", 5) || !strcmp(r, "(lost)");
        if (!done && strlen(r) > strlen(tail) && !strcmp(r + strlen(r) - strlen(tail), tail)) n++;
        free(r);
        if (done) break;
    }
    close(fd);
    return n;
}

/* ---- read-through --------------------------------------------------------------------- */

typedef struct rt_ctx {
    const char *key;
    long bad, replies;
    double max_latency;
} rt_ctx;

static void rt_ready(sc *c, void *ctx) {
    sc_send(c, "HGET %s name", ((rt_ctx *)ctx)->key);
}

static void rt_reply(sc *c, redisReply *r, double latency, void *ctx) {
    rt_ctx *x = ctx;
    x->replies++;
    if (r->type != REDIS_REPLY_STRING || strcmp(r->str, "apple") != 0) {
        if (x->bad++ == 0) {
            char *t = reply_str(r);
            fprintf(stderr, "unexpected reply: %s\n", t);
            free(t);
        }
    }
    (void)c;
    if (latency > x->max_latency) x->max_latency = latency;
}

static redisContext *start_rt(pk_env *e) {
    memset(e, 0, sizeof(*e));
    if (pk_start(e, NULL) != 0) return NULL;
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    pk_exec(c, "CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT)");
    pk_exec(c, "CREATE TABLE hot (sku TEXT PRIMARY KEY, name TEXT)");
    pk_exec(c, "INSERT INTO products VALUES ('p1', 'apple')");
    pk_exec(c, "INSERT INTO hot VALUES ('p1', 'apple')");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "products product:{sku} mode read-through ttl 1 beta 0; hot hot:{sku} mode "
              "read-through ttl 1 beta 1.0");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY %d", LOAD_MS);
    return c;
}

/* What a read-through run did: INFO deltas and the clients' view. */
typedef struct rt_result {
    rt_ctx x;
    int expiries;
    long long loads, coalesced, misses, early;
} rt_result;

static void info_sum(redisContext *c, long long *v) {
    v[0] = pk_info(c, "loads");
    v[1] = pk_info(c, "loads_coalesced");
    v[2] = pk_info(c, "misses");
    v[3] = pk_info(c, "refreshes_early");
}

/* Warms key up (its first load), runs the clients on it for ms, then makes
 * it persistent and counts its expiries. 0 on success. */
static int rt_run(const char *key, double ms, rt_result *res) {
    pk_env e;
    redisContext *c = start_rt(&e);
    sc cl[NCLIENTS];
    memset(res, 0, sizeof(*res));
    if (!c || open_clients(cl, &e.s) != 0) {
        CHECK(0);
        if (c) redisFree(c);
        pk_cleanup(&e);
        return -1;
    }
    int ev = watch_expiries(&e.s, c);
    CHECK_CMD(c, "apple", "HGET %s name", key);
    long long before[4], after[4];
    info_sum(c, before);
    res->x.key = key;
    drive_ops ops = {rt_ready, rt_reply, &res->x};
    CHECK_EQ(drive(cl, ms, &ops), 0);
    /* no more expiries from here (PERSIST loads the key first if it is gone) */
    CHECK_CMD(c, ":1", "PERSIST %s", key);
    res->expiries = count_expiries(ev, key);
    /* an early refresh started near the end counts as a load once it landed */
    pk_wait_info_ge(c, "loads", before[0] + pk_info(c, "refreshes_early") - before[3], 2000);
    info_sum(c, after);
    res->loads = after[0] - before[0];
    res->coalesced = after[1] - before[1];
    res->misses = after[2] - before[2];
    res->early = after[3] - before[3];
    close_clients(cl);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    PK_CHECK_MAP(c, "products", "product:", "sku", NULL, "name");
    PK_CHECK_MAP(c, "hot", "hot:", "sku", NULL, "name");
    redisFree(c);
    pk_cleanup(&e);
    return 0;
}

/* The wait bound is about time on a machine that other work shares: a run
 * whose clients stalled (a slow reply with no load behind it shows in the
 * XFetch case too) is repeated once before the bound counts. */
static int rt_run_timed(const char *key, double ms, rt_result *r) {
    for (int attempt = 0;; attempt++) {
        if (rt_run(key, ms, r) != 0) return -1;
        if (r->x.max_latency < 3 * LOAD_MS || attempt == 1) return 0;
        printf("%s: a reply took %.1f ms (the machine is busy?): once more\n", key,
               r->x.max_latency);
    }
}

TEST(stampede_read_through) {
    rt_result r;
    if (rt_run_timed("product:p1", 3300, &r) != 0) return;
    printf("read-through: %ld replies, %d expiries, %lld loads, %lld misses (%lld coalesced), max "
           "wait %.1f ms\n",
           r.x.replies, r.expiries, r.loads, r.misses, r.coalesced, r.x.max_latency);
    CHECK_EQ(r.x.bad, 0);
    CHECK(r.expiries >= (pk_tsan() ? 1 : 2));
    CHECK_EQ(r.loads, r.expiries);             /* one load per expiry */
    CHECK_EQ(r.misses, r.loads + r.coalesced); /* every other miss joined a load */
    CHECK(r.coalesced >= r.expiries);          /* and there were others */
    CHECK_EQ(r.early, 0);
    /* nobody waits for more than one load (plus scheduling noise on a busy machine) */
    CHECK(pk_tsan() || r.x.max_latency < 3 * LOAD_MS);
}

TEST(stampede_read_through_xfetch) {
    rt_result r;
    if (rt_run_timed("hot:p1", 2600, &r) != 0) return;
    printf("read-through + XFetch: %ld replies, %lld early refreshes, %lld loads, %lld misses, %d "
           "expiries, "
           "max wait %.1f ms\n",
           r.x.replies, r.early, r.loads, r.misses, r.expiries, r.x.max_latency);
    CHECK_EQ(r.x.bad, 0);
    CHECK(r.early >= 2);        /* two expiries' worth of time: refreshed ahead each time */
    CHECK_EQ(r.loads, r.early); /* every load was an early refresh */
    CHECK_EQ(r.misses, 0);      /* the hot key never missed */
    CHECK_EQ(r.expiries, 0);    /* nor expired */
    /* scheduling noise only: nobody waited for a load */
    CHECK(pk_tsan() || r.x.max_latency < 3 * LOAD_MS);
}

/* ---- cache-aside with leases -------------------------------------------------------- */

typedef struct ca_ctx {
    const char *key;
    double beta;
    long hits, misses, late_misses, bad, stale, gen; /* late: after the first set */
    long early_tokens;  /* granted while the value was there (XFetch) */
    times granted, set; /* when tokens were granted; when their sets landed */
    int expiries;       /* "expired" events of the key */
    int alive;          /* the value was there when the run ended */
} ca_ctx;

static void ca_ready(sc *c, void *ctx) {
    ca_ctx *x = ctx;
    c->finish = 0;
    if (c->token[0]) /* its recomputation is done: store the value under the lease */
        sc_send(c, "CACHE.SET %s v%ld PX 1000 DELTA %d TOKEN %s", x->key, ++x->gen, LOAD_MS,
                c->token);
    else
        sc_send(c, "CACHE.GET %s BETA %g", x->key, x->beta);
}

static void ca_reply(sc *c, redisReply *r, double latency, void *ctx) {
    (void)latency;
    ca_ctx *x = ctx;
    double now = pk_now_ms();
    if (c->token[0]) { /* the reply of its CACHE.SET */
        c->token[0] = '\0';
        if (r->type == REDIS_REPLY_STATUS)
            times_add(&x->set, now);
        else
            x->stale++;
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        x->bad++;
        return;
    }
    int has_value = r->element[0]->type == REDIS_REPLY_STRING;
    has_value ? x->hits++ : x->misses++;
    /* sent after the first set's reply came back: the value existed */
    if (!has_value && x->set.n > 0 && c->sent_ms > x->set.v[0]) x->late_misses++;
    if (r->element[2]->type == REDIS_REPLY_STRING) { /* this client recomputes */
        times_add(&x->granted, now);
        x->early_tokens += has_value;
        snprintf(c->token, sizeof(c->token), "%s", r->element[2]->str);
        c->wake_ms = now + LOAD_MS;
        c->finish = 1;
    } else if (!has_value) {
        c->wake_ms = now + 5; /* someone else recomputes: retry shortly */
    }
}

static void run_cache_aside(const char *key, double beta, double ms, ca_ctx *x) {
    pk_env e;
    memset(&e, 0, sizeof(e));
    sc cl[NCLIENTS];
    redisContext *c = NULL;
    if (pk_start(&e, NULL) != 0 || !(c = srv_connect(&e.s)) || open_clients(cl, &e.s) != 0) {
        CHECK(0);
        if (c) redisFree(c);
        pk_cleanup(&e);
        return;
    }
    int ev = watch_expiries(&e.s, c);
    x->key = key;
    x->beta = beta;
    drive_ops ops = {ca_ready, ca_reply, x};
    CHECK_EQ(drive(cl, ms, &ops), 0);
    redisReply *r = pk_cmd(c, "PERSIST %s", key); /* no expiry after the count */
    x->alive = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r) freeReplyObject(r);
    x->expiries = count_expiries(ev, key);
    close_clients(cl);
    redisFree(c);
    pk_cleanup(&e);
}

TEST(stampede_cache_aside_leases) {
    ca_ctx x = {0};
    run_cache_aside("ca:hot", 0, 2600, &x);
    printf("cache-aside leases: %ld hits, %ld misses, %d expiries, %d tokens, %d sets, %ld stale\n",
           x.hits, x.misses, x.expiries, x.granted.n, x.set.n, x.stale);
    CHECK_EQ(x.bad, 0);
    CHECK_EQ(x.stale, 0);
    CHECK(x.expiries >= (pk_tsan() ? 1 : 2));
    /* one recomputation per expiry: the first miss, then one per expiry but
     * the last if the run ended before anyone asked again */
    CHECK_EQ(x.granted.n, x.expiries + x.alive);
    CHECK_EQ(x.early_tokens, 0); /* BETA 0: only a miss grants */
    CHECK_EQ(x.set.n, x.granted.n);
    for (int i = 1; i < x.granted.n && i <= x.set.n; i++)
        CHECK(x.granted.v[i] > x.set.v[i - 1]); /* no overlap */
    free(x.granted.v);
    free(x.set.v);
}

TEST(stampede_cache_aside_xfetch) {
    ca_ctx x = {0};
    run_cache_aside("ca:hot", 1.0, 2600, &x);
    if (x.expiries) { /* the recomputing client (this process) stalled past the expiry? once more */
        printf("cache-aside + XFetch: the value expired (%d times): once more\n", x.expiries);
        free(x.granted.v);
        free(x.set.v);
        memset(&x, 0, sizeof(x));
        run_cache_aside("ca:hot", 1.0, 2600, &x);
    }
    printf("cache-aside + XFetch: %ld hits, %ld misses (%ld after warm-up), %d expiries, %d tokens "
           "(%ld early), %d sets, %ld stale\n",
           x.hits, x.misses, x.late_misses, x.expiries, x.granted.n, x.early_tokens, x.set.n,
           x.stale);
    CHECK_EQ(x.bad, 0);
    CHECK_EQ(x.stale, 0);
    CHECK(x.granted.n >= 3);
    CHECK_EQ(x.early_tokens, x.granted.n - 1); /* all but the warm-up's came early */
    CHECK_EQ(x.set.n, x.granted.n);
    CHECK_EQ(x.late_misses, 0); /* after warm-up the value never went missing */
    CHECK_EQ(x.expiries, 0);
    for (int i = 1; i < x.granted.n && i <= x.set.n; i++)
        CHECK(x.granted.v[i] > x.set.v[i - 1]); /* no overlap */
    free(x.granted.v);
    free(x.set.v);
}

int main(void) {
    RUN(stampede_read_through);
    RUN(stampede_read_through_xfetch);
    RUN(stampede_cache_aside_leases);
    RUN(stampede_cache_aside_xfetch);
    return test_report();
}
