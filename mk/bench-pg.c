/* mk/bench-pg — `make bench-pg`: Larder in front of PostgreSQL against the
 * same work sent straight to PostgreSQL, side by side in one run, with
 * ratios.
 *
 * It starts its own PostgreSQL (tests/integration/pgkit, with fsync and
 * full_page_writes back on, so a commit is as durable as in production) and
 * one larder-server with build/modules/pgstore.so and its defaults
 * (journal-fsync everysec); write-behind runs once more with journal-fsync
 * always, where its reply is as durable as an autocommit's. Each case runs
 * CLIENTS connections (default 50) driven by one poll() loop in this process
 * (the same client code for both sides, so the client's own cost is the
 * same), each with one request out at a time, for SECONDS per round; ROUNDS
 * rounds interleave the cases and the table shows medians over rounds:
 *
 *   (a) GET of a cached read-through key (a hit)  vs  the same primary-key
 *       SELECT (prepared) straight to PostgreSQL;
 *   (b) write-behind HSET                          vs  a single-row
 *       INSERT ... ON CONFLICT DO UPDATE autocommit (prepared);   goal >= 10x
 *   (c) write-through HSET (group commit)          vs  the same autocommits;
 *                                                                goal >= 2x
 *   (ref) GET of keys no mapping matches, to show what the read-through
 *       hit of (a) adds;
 *   (d) invalidation lag of a direct UPDATE: after the UPDATE commits, a GET
 *       of the read-through key is repeated until the new value comes back;
 *       p50/p99 over LAG_SAMPLES updates.                  goal p99 < 100 ms
 *       It needs a sidecar that follows PostgreSQL's change log, installed
 *       after (a)-(c) by STORE.INVALIDATION INSTALL so that their writes
 *       pay no trigger; where that fails, or the first update is not seen
 *       within 5 s, the line says why instead.
 *
 * Write keys are drawn from 5000 ids on both sides; their rows exist (an
 * upsert updates) and the sidecar has them cached (warmed up like the
 * read-through keys: a partial write such as HSET on a key that is not
 * cached loads its row first, one store round trip). After each
 * write-behind round, WB.FLUSH drains it (timed, shown as "drain") so that
 * the flusher's work does not land in the next case's round.
 *
 * Environment: BENCH_PG_SECONDS (2), BENCH_PG_ROUNDS (3), BENCH_PG_CLIENTS
 * (50), BENCH_PG_LAG_SAMPLES (200), BENCH_PG_ONLY (b, c or bc: only those
 * cases' sides, to iterate or profile). LARDER_BUILD and LARDER_SERVER name the
 * build under test (the Makefile sets them). Exit status 0 when the run
 * completed (goals not met are reported, not failed). */
#include "integration/harness.h"
#include "integration/pgkit.h"
#include "integration/pkit.h"
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <sys/epoll.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define KV_ROWS 10000
#define WRITE_IDS 5000
#define MAX_CLIENTS 200

enum op {
    OP_GET,
    OP_WB_HSET,
    OP_WB_HSET_ALWAYS,
    OP_WT_HSET,
    OP_PG_SELECT,
    OP_PG_UPSERT,
    OP_PLAIN_GET,
    NOPS
};

static const char *const op_label[] = {"GET kv (read-through hit)",   "HSET wb (write-behind)",
                                       "HSET wb (wb, fsync always)",  "HSET wt (write-through)",
                                       "SELECT by pk (direct)",       "INSERT ON CONFLICT (direct)",
                                       "GET of an unmapped key (ref)"};

static const char select_sql[] = "SELECT val FROM bench_kv WHERE id = $1";
static const char upsert_sql[] = "INSERT INTO bench_direct (id, val) VALUES ($1, $2) "
                                 "ON CONFLICT (id) DO UPDATE SET val = EXCLUDED.val";

/* One client connection: a raw RESP socket or a libpq connection. */
typedef struct bconn {
    int fd;
    redisReader *rd; /* RESP side */
    PGconn *pg;      /* PostgreSQL side */
    int waiting;
    double sent_ms;
} bconn;

typedef struct lat {
    double *v;
    long n, cap;
} lat;

static void lat_add(lat *l, double x) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->v = realloc(l->v, sizeof(double) * (size_t)l->cap);
        if (!l->v) abort();
    }
    l->v[l->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v (sorted in place); 0 when empty. */
static double quantile(double *v, long n, double q) {
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    long i = (long)(q * (double)(n - 1) + 0.5);
    return v[i];
}

/* CPU seconds by where they were spent (see cpu_sample). */
enum { CPU_CLIENT, CPU_LOOP, CPU_STORE, CPU_PG, NCPU };
static const char *const cpu_label[] = {"client", "server loop", "server store", "PostgreSQL"};

typedef struct cpu_snap {
    double s[NCPU];
} cpu_snap;

/* One round of one case. */
typedef struct result {
    double ops_s; /* completed, correct operations per second */
    double p50_ms, p99_ms;
    long errors; /* error replies (-BUSY included) and wrong values */
    double drain_ms;
    long ops;     /* completed in the round */
    cpu_snap cpu; /* CPU seconds spent meanwhile (a write-behind round: with its drain) */
} result;

static struct {
    srv s;
    char jdir[64];
    char sock[100]; /* the server's Unix socket (the clients' way in) */
    int clients;
    double seconds;
    int rounds;
    int lag_samples;
    unsigned long long rnd;
    long errors_shown;
} B = {.jdir = "/tmp/larder-benchpg-XXXXXX"};

static unsigned rnd_below(unsigned n) {
    B.rnd ^= B.rnd << 13;
    B.rnd ^= B.rnd >> 7;
    B.rnd ^= B.rnd << 17;
    return (unsigned)(B.rnd % n);
}

static int is_pg(enum op op) {
    return op == OP_PG_SELECT || op == OP_PG_UPSERT;
}

static void show_error(const char *what) {
    if (B.errors_shown++ < 5) fprintf(stderr, "  (error: %s)\n", what);
}

static int open_conn(bconn *c, enum op op) {
    memset(c, 0, sizeof(*c));
    if (is_pg(op)) {
        c->pg = PQconnectdb(pg_conninfo());
        if (PQstatus(c->pg) != CONNECTION_OK) {
            fprintf(stderr, "bench-pg: connect to PostgreSQL: %s", PQerrorMessage(c->pg));
            return -1;
        }
        PGresult *r = PQprepare(c->pg, "q", op == OP_PG_SELECT ? select_sql : upsert_sql,
                                op == OP_PG_SELECT ? 1 : 2, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok || PQsetnonblocking(c->pg, 1) != 0) return -1;
        c->fd = PQsocket(c->pg);
        return 0;
    }
    /* a Unix socket, as libpq's connections to PostgreSQL on the other side */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", B.sock);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "bench-pg: connect to %s: %s\n", B.sock, strerror(errno));
        if (c->fd >= 0) close(c->fd);
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->rd = redisReaderCreate();
    return 0;
}

static void close_conn(bconn *c) {
    if (c->pg) PQfinish(c->pg);
    if (c->rd) {
        redisReaderFree(c->rd);
        close(c->fd);
    }
    memset(c, 0, sizeof(*c));
}

/* Decimal digits of v at p; returns the end. */
static char *put_uint(char *p, unsigned v) {
    char tmp[12];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Sends a command as a RESP array of argc bulk strings, formatted on the
 * stack (the client's own cost is kept small: it shares the CPUs with what
 * it measures). */
static int send_resp(bconn *c, int argc, const char *const *argv) {
    char cmd[256], *p = cmd;
    *p++ = '*';
    p = put_uint(p, (unsigned)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);
        *p++ = '\r', *p++ = '\n', *p++ = '$';
        p = put_uint(p, (unsigned)len);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], len);
        p += len;
    }
    *p++ = '\r', *p++ = '\n';
    return raw_send(c->fd, cmd, (size_t)(p - cmd));
}

static void send_op(bconn *c, enum op op) {
    /* the same key and value text for both sides (id: the key without its
     * prefix) */
    static const char *const prefix[NOPS] = {[OP_GET] = "kv:",
                                             [OP_PLAIN_GET] = "plain:",
                                             [OP_WB_HSET] = "wb:",
                                             [OP_WB_HSET_ALWAYS] = "wb:",
                                             [OP_WT_HSET] = "wt:"};
    char key[32], val[16];
    unsigned n = op == OP_GET || op == OP_PG_SELECT || op == OP_PLAIN_GET
                     ? rnd_below(KV_ROWS) + 1
                     : rnd_below(WRITE_IDS) + 1;
    const char *pre = prefix[op] ? prefix[op] : "";
    size_t plen = strlen(pre);
    memcpy(key, pre, plen);
    *put_uint(key + plen, n) = 0;
    const char *id = key + plen;
    val[0] = 'v';
    *put_uint(val + 1, rnd_below(1000000)) = 0;
    int rc = 0;
    switch (op) {
    case OP_GET:
    case OP_PLAIN_GET: {
        const char *argv[] = {"GET", key};
        rc = send_resp(c, 2, argv);
        break;
    }
    case OP_WB_HSET:
    case OP_WB_HSET_ALWAYS:
    case OP_WT_HSET: {
        const char *argv[] = {"HSET", key, "val", val};
        rc = send_resp(c, 4, argv);
        break;
    }
    case OP_PG_SELECT: {
        const char *p[1] = {id};
        rc = PQsendQueryPrepared(c->pg, "q", 1, p, NULL, NULL, 0) ? 0 : -1;
        break;
    }
    case OP_PG_UPSERT: {
        const char *p[2] = {id, val};
        rc = PQsendQueryPrepared(c->pg, "q", 2, p, NULL, NULL, 0) ? 0 : -1;
        break;
    }
    case NOPS:
        break;
    }
    while (rc == 0 && c->pg && PQflush(c->pg) == 1) {
        struct pollfd pf = {c->fd, POLLOUT, 0};
        poll(&pf, 1, 100);
    }
    if (rc != 0) show_error("send failed");
    c->waiting = 1;
    c->sent_ms = pk_now_ms();
}

/* Reads what c has; returns the number of completed operations (0 or 1),
 * adding errors to *errors; -1 on a lost connection. */
static int read_op(bconn *c, enum op op, long *errors) {
    if (c->pg) {
        if (!PQconsumeInput(c->pg)) return -1;
        int done = 0;
        while (!PQisBusy(c->pg)) {
            PGresult *r = PQgetResult(c->pg);
            if (!r) {
                done = 1;
                break;
            }
            ExecStatusType st = PQresultStatus(r);
            int ok = op == OP_PG_SELECT ? st == PGRES_TUPLES_OK && PQntuples(r) == 1
                                        : st == PGRES_COMMAND_OK;
            if (!ok) {
                (*errors)++;
                show_error(PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        if (done) c->waiting = 0;
        return done;
    }
    char buf[16384];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return -1;
    if (n > 0) redisReaderFeed(c->rd, buf, (size_t)n);
    void *rv = NULL;
    int done = 0;
    while (redisReaderGetReply(c->rd, &rv) == REDIS_OK && rv) {
        redisReply *r = rv;
        int ok = op == OP_GET || op == OP_PLAIN_GET ? r->type == REDIS_REPLY_STRING
                                                    : r->type == REDIS_REPLY_INTEGER;
        if (!ok) {
            (*errors)++;
            show_error(r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        }
        freeReplyObject(r);
        rv = NULL;
        c->waiting = 0;
        done++;
    }
    return done;
}

/* Runs one round of op on the open connections cl: each connection sends
 * its next request as soon as its reply is read (epoll: a ready list, no
 * scan of every socket per reply). */
static int run_round(bconn *cl, enum op op, result *res) {
    lat l = {0};
    long ok = 0, errors = 0;
    int out = 0, ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return -1;
    double start = pk_now_ms(), end = start + B.seconds * 1000.0;
    for (int i = 0; i < B.clients; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) != 0) {
            close(ep);
            return -1;
        }
        send_op(&cl[i], op);
        out++;
    }
    int rc = 0;
    while (out > 0 && rc == 0) {
        struct epoll_event evs[MAX_CLIENTS];
        int n = epoll_wait(ep, evs, MAX_CLIENTS, 100);
        double now = pk_now_ms();
        if (now > end + 10000) {
            fprintf(stderr, "bench-pg: %d replies did not come within 10 s\n", out);
            rc = -1;
        }
        for (int e = 0; e < n && rc == 0; e++) {
            bconn *c = &cl[evs[e].data.u32];
            long before = errors;
            int got = read_op(c, op, &errors);
            if (got < 0) {
                fprintf(stderr, "bench-pg: a connection was lost (%s)\n", op_label[op]);
                rc = -1;
            } else if (got > 0) {
                now = pk_now_ms();
                if (now <= end) {
                    ok += got - (errors - before);
                    lat_add(&l, now - c->sent_ms);
                    send_op(c, op);
                } else {
                    out--;
                }
            }
        }
    }
    close(ep);
    res->ops_s = (double)ok / B.seconds;
    res->ops = ok;
    res->p50_ms = quantile(l.v, l.n, 0.50);
    res->p99_ms = quantile(l.v, l.n, 0.99);
    res->errors = errors;
    free(l.v);
    return rc;
}

/* ---- CPU per operation ------------------------------------------------------------ */

/* CPU seconds used so far by this process (the client), larder-server's
 * loop thread, its other threads (store lanes), and PostgreSQL (the
 * postmaster and its children: backends, WAL writer, ...). Sampled after a
 * round's connections are open and before they close, so that a side's
 * CPU per operation counts what its operations cost all three processes,
 * which share the same CPUs: on a busy machine the throughput ratio moves
 * with the load, CPU per operation much less. */
/* utime + stime of a /proc stat file in seconds (with children: plus the
 * reaped children's); ppid (if not NULL) too. */
static double stat_cpu(const char *path, pid_t *ppid, int children) {
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    char state;
    int pp;
    unsigned long ut = 0, st = 0;
    long cut = 0, cst = 0;
    if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &state, &pp, &ut,
               &st, &cut, &cst) != 6)
        return 0;
    if (ppid) *ppid = pp;
    if (!children) cut = cst = 0;
    return (double)(ut + st + (unsigned long)(cut + cst)) / (double)sysconf(_SC_CLK_TCK);
}

static void cpu_sample(cpu_snap *c) {
    memset(c, 0, sizeof(*c));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    c->s[CPU_CLIENT] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)B.s.pid);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)B.s.pid, e->d_name);
        c->s[atoi(e->d_name) == B.s.pid ? CPU_LOOP : CPU_STORE] += stat_cpu(path, NULL, 0);
    }
    if (d) closedir(d);
    pid_t pm = pg_postmaster_pid();
    d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        pid_t pp = 0;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        int is_pm = atoi(e->d_name) == pm;
        double t = stat_cpu(path, &pp, is_pm); /* a backend that exited: the postmaster's */
        if (is_pm || pp == pm) c->s[CPU_PG] += t;
    }
    if (d) closedir(d);
}

/* ---- set-up ------------------------------------------------------------------------ */

static const char schema[] =
    "CREATE TABLE wb_meta (name text PRIMARY KEY, value bigint);"
    "CREATE TABLE wb_deadletter (id bigint PRIMARY KEY, map text, key bytea, op text, "
    "  state bytea, error text, at bigint);"
    "CREATE TABLE bench_kv (id int PRIMARY KEY, val text);"
    "INSERT INTO bench_kv SELECT g, 'value-' || g FROM generate_series(1, 10000) g;"
    "CREATE TABLE bench_wb (id int PRIMARY KEY, val text);"
    "INSERT INTO bench_wb SELECT g, 'w-' || g FROM generate_series(1, 5000) g;"
    "CREATE TABLE bench_wt (id int PRIMARY KEY, val text);"
    "INSERT INTO bench_wt SELECT g, 'w-' || g FROM generate_series(1, 5000) g;"
    "CREATE TABLE bench_direct (id int PRIMARY KEY, val text);"
    "INSERT INTO bench_direct SELECT g, 'w-' || g FROM generate_series(1, 5000) g;"
    "VACUUM ANALYZE;";

static const char *module_path(void) {
    static char path[PATH_MAX];
    const char *b = getenv("LARDER_BUILD");
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/modules/pgstore.so", b && *b ? b : "build");
    if (!realpath(rel, path)) snprintf(path, sizeof(path), "%s", rel);
    return path;
}

static int start_larder(void) {
    static char journal[128];
    if (!mkdtemp(B.jdir)) return -1;
    snprintf(journal, sizeof(journal), "%s/wb.journal", B.jdir);
    snprintf(B.sock, sizeof(B.sock), "%s/larder.sock", B.jdir);
    const char *argv[] = {"--loadmodule",
                          module_path(),
                          pg_conninfo(),
                          "application_name=larder-bench",
                          "--journal-path",
                          journal,
                          "--unixsocket",
                          B.sock,
                          "--write-behind-max-pending",
                          "1000000",
                          "--map",
                          "bench_kv",
                          "kv:{id}",
                          "mode",
                          "read-through",
                          "column",
                          "val",
                          "ttl",
                          "3600",
                          "--map",
                          "bench_wb",
                          "wb:{id}",
                          "mode",
                          "write-behind",
                          "ttl",
                          "3600",
                          "--map",
                          "bench_wt",
                          "wt:{id}",
                          "mode",
                          "write-through",
                          "ttl",
                          "3600",
                          NULL};
    return srv_start(&B.s, argv);
}

/* Keys prefix1..prefixn loaded once (pipelined): (a) measures hits, and an
 * HSET of (b) and (c) finds its row cached (on a key not cached, a partial
 * write such as HSET loads the row first). */
static int warm_up(redisContext *c, const char *cmd, const char *prefix, int n) {
    for (int i = 1; i <= n; i++) redisAppendCommand(c, "%s %s%d", cmd, prefix, i);
    int bad = 0;
    for (int i = 1; i <= n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) return -1;
        bad += r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_NIL ||
               (r->type == REDIS_REPLY_ARRAY && r->elements == 0);
        freeReplyObject(r);
    }
    return bad ? -1 : 0;
}

/* ---- (d) invalidation lag ---------------------------------------------------------- */

/* One sample: UPDATE the row of kv:id straight in PostgreSQL, then GET
 * until the new value comes back. The lag in ms, or -1 after timeout_ms. */
static double lag_sample(redisContext *c, PGconn *pg, int id, int seq, double timeout_ms) {
    char key[32], val[32], ids[16];
    snprintf(key, sizeof(key), "kv:%d", id);
    snprintf(val, sizeof(val), "lag-%d", seq);
    snprintf(ids, sizeof(ids), "%d", id);
    redisReply *r = redisCommand(c, "GET %s", key); /* cached before the update */
    if (r) freeReplyObject(r);
    const char *p[2] = {val, ids};
    PGresult *res =
        PQexecParams(pg, "UPDATE bench_kv SET val = $1 WHERE id = $2", 2, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) return -1;
    double t0 = pk_now_ms();
    for (;;) {
        r = redisCommand(c, "GET %s", key);
        int seen = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, val);
        if (r) freeReplyObject(r);
        double t = pk_now_ms();
        if (seen) return t - t0;
        if (t - t0 > timeout_ms) return -1;
    }
}

/* Prints the INFO fields of invalidation and its lag (what the server
 * reports; write-behind's wb_lag_ms is another matter). */
static void print_info_lag(redisContext *c) {
    redisReply *r = redisCommand(c, "INFO");
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r) freeReplyObject(r);
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(r->str, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
        if ((strstr(line, "inval") || strstr(line, "lag")) && strncmp(line, "wb_", 3) &&
            !strchr(line, '#'))
            printf("    INFO %s\n", line);
    freeReplyObject(r);
}

static void run_lag(redisContext *c, char *line, size_t linesz, int *met) {
    *met = -1;
    /* the change log on the mapped tables, by the server's own command; only
     * now, so that (a)-(c) ran without its triggers */
    redisReply *r = redisCommand(c, "STORE.INVALIDATION INSTALL");
    if (!r || r->type != REDIS_REPLY_STATUS) {
        snprintf(line, linesz, "(d) not available: STORE.INVALIDATION INSTALL: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
        if (r) freeReplyObject(r);
        return;
    }
    freeReplyObject(r);
    PGconn *pg = PQconnectdb(pg_conninfo());
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(line, linesz, "(d) not available: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return;
    }
    double first = lag_sample(c, pg, 1, 0, 5000); /* the log may be picked up late */
    if (first < 0) {
        snprintf(line, linesz,
                 "(d) not available: a direct UPDATE of a cached read-through row was not seen "
                 "by GET within 5 s (this build consumes no PostgreSQL change log; the key "
                 "changes only when its TTL runs out)");
        PQfinish(pg);
        return;
    }
    double *v = calloc((size_t)B.lag_samples, sizeof(double));
    int n = 0, lost = 0;
    for (int i = 0; i < B.lag_samples; i++) {
        double ms = lag_sample(c, pg, 1 + (int)rnd_below(KV_ROWS), i + 1, 2000);
        if (ms < 0)
            lost++;
        else
            v[n++] = ms;
    }
    PQfinish(pg);
    double p50 = quantile(v, n, 0.5), p99 = quantile(v, n, 0.99);
    *met = lost == 0 && p99 < 100.0;
    snprintf(line, linesz,
             "(d) invalidation lag of a direct UPDATE: p50 %.2f ms  p99 %.2f ms  (%d samples%s)  "
             "goal p99 < 100 ms: %s",
             p50, p99, n, lost ? ", some never seen within 2 s" : "", *met ? "met" : "NOT met");
    free(v);
}

/* ---- main -------------------------------------------------------------------------- */

static double median(double *v, int n) {
    return quantile(v, n, 0.5);
}

static double env_num(const char *name, double def) {
    const char *e = getenv(name);
    return e && *e ? atof(e) : def;
}

typedef struct series {
    double ops[16], p50[16], p99[16], drain[16];
    long errors;
    long nops;    /* over all rounds */
    cpu_snap cpu; /* over all rounds */
} series;

static void add(series *s, int round, const result *r) {
    s->ops[round] = r->ops_s;
    s->p50[round] = r->p50_ms;
    s->p99[round] = r->p99_ms;
    s->drain[round] = r->drain_ms;
    s->errors += r->errors;
    s->nops += r->ops;
    for (int k = 0; k < NCPU; k++) s->cpu.s[k] += r->cpu.s[k];
}

/* CPU microseconds per operation, by process, over all rounds. */
static void print_cpu_row(const char *label, const series *s) {
    if (!s->nops) return;
    double total = 0;
    printf("  %-30s", label);
    for (int k = 0; k < NCPU; k++) {
        double us = s->cpu.s[k] * 1e6 / (double)s->nops;
        total += us;
        printf(" %12.1f", us);
    }
    printf(" %12.1f\n", total);
}

static void print_row(const char *label, series *s, int n) {
    if (!s->nops) return; /* a case BENCH_PG_ONLY left out */
    printf("  %-30s %10.0f ops/s   p50 %6.2f ms  p99 %7.2f ms", label, median(s->ops, n),
           median(s->p50, n), median(s->p99, n));
    if (s->errors) printf("   (%ld errors)", s->errors);
    printf("\n");
}

static const char *goal_text(double ratio, double goal) {
    return ratio >= goal ? "met" : "NOT met";
}

/* plain:1..KV_ROWS, keys no mapping matches: the reference row shows what
 * a GET costs this server without the persistence layer's part. */
static int fill_plain(redisContext *c) {
    for (int i = 1; i <= KV_ROWS; i++) redisAppendCommand(c, "SET plain:%d value-%d", i, i);
    int bad = 0;
    for (int i = 1; i <= KV_ROWS; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) return -1;
        bad += r->type != REDIS_REPLY_STATUS;
        freeReplyObject(r);
    }
    return bad ? -1 : 0;
}

/* The machine's load average (other work competing for the CPUs skews a
 * run: PostgreSQL's 50 backends then get a larger share than the server's
 * one loop thread), printed before and after the run. */
static void print_loadavg(const char *when) {
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f)) snprintf(buf, sizeof(buf), "?");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("load average %s: %s (%ld CPUs)\n", when, buf, sysconf(_SC_NPROCESSORS_ONLN));
}

/* CONFIG SET journal-fsync; nonzero on failure. */
static int set_fsync(redisContext *c, const char *policy) {
    redisReply *r = redisCommand(c, "CONFIG SET journal-fsync %s", policy);
    int bad = !r || r->type != REDIS_REPLY_STATUS;
    if (bad) fprintf(stderr, "bench-pg: CONFIG SET journal-fsync %s failed\n", policy);
    if (r) freeReplyObject(r);
    return bad;
}

int main(void) {
    B.clients = (int)env_num("BENCH_PG_CLIENTS", 50);
    B.seconds = env_num("BENCH_PG_SECONDS", 2);
    B.rounds = (int)env_num("BENCH_PG_ROUNDS", 3);
    B.lag_samples = (int)env_num("BENCH_PG_LAG_SAMPLES", 200);
    B.rnd = 0x9e3779b97f4a7c15ULL;
    if (B.clients < 1 || B.clients > MAX_CLIENTS || B.rounds < 1 || B.rounds > 16 ||
        B.seconds <= 0 || B.lag_samples < 1) {
        fprintf(stderr,
                "bench-pg: BENCH_PG_CLIENTS 1..%d, BENCH_PG_ROUNDS 1..16, "
                "BENCH_PG_SECONDS > 0, BENCH_PG_LAG_SAMPLES > 0\n",
                MAX_CLIENTS);
        return 2;
    }
    pg_set_options("-c fsync=on -c full_page_writes=on -c synchronous_commit=on "
                   "-c max_connections=300 -c shared_buffers=128MB");
    if (pg_start() != 0 || pg_psql(schema) != 0) {
        fprintf(stderr, "bench-pg: cannot start PostgreSQL with the bench schema\n");
        return 1;
    }
    if (start_larder() != 0) {
        fprintf(stderr, "bench-pg: cannot start larder-server with pgstore\n");
        return 1;
    }
    redisContext *ctl = srv_connect(&B.s);
    const char *only = getenv("BENCH_PG_ONLY");
    int reads = !only || !*only; /* (a) and (ref) run: their keys are needed */
    if (!ctl || (reads && warm_up(ctl, "GET", "kv:", KV_ROWS) != 0) ||
        warm_up(ctl, "HGETALL", "wb:", WRITE_IDS) != 0 ||
        warm_up(ctl, "HGETALL", "wt:", WRITE_IDS) != 0 || (reads && fill_plain(ctl) != 0)) {
        fprintf(stderr, "bench-pg: warming up the read-through keys failed\n");
        srv_stop(&B.s);
        return 1;
    }
    printf("bench-pg: %d clients, %d rounds of %.1f s per case (medians); PostgreSQL with fsync "
           "on (synchronous_commit on); larder-server with its defaults (journal-fsync "
           "everysec), and write-behind once more with journal-fsync always\n",
           B.clients, B.rounds, B.seconds);
    print_loadavg("before");
    enum op order[] = {OP_GET,     OP_PLAIN_GET, OP_PG_SELECT, OP_WB_HSET, OP_WB_HSET_ALWAYS,
                       OP_WT_HSET, OP_PG_UPSERT};
    /* BENCH_PG_ONLY=b, c or bc: only those cases' sides, and no (d) (a
     * short run to profile or iterate on writes) */
    int only_b = !reads; /* any selection: no (d) */
    size_t norder = sizeof(order) / sizeof(order[0]);
    if (only_b) {
        norder = 0;
        if (strchr(only, 'b')) order[norder++] = OP_WB_HSET;
        if (strchr(only, 'c')) order[norder++] = OP_WT_HSET;
        order[norder++] = OP_PG_UPSERT;
    }
    series s[NOPS] = {0};
    bconn cl[MAX_CLIENTS];
    int failed = 0;
    for (int round = 0; round < B.rounds && !failed; round++) {
        for (size_t k = 0; k < norder && !failed; k++) {
            enum op op = order[k];
            result r = {0};
            int opened = 0;
            if (op == OP_WB_HSET_ALWAYS) failed = set_fsync(ctl, "always");
            while (opened < B.clients && open_conn(&cl[opened], op) == 0) opened++;
            cpu_snap c0, c1;
            cpu_sample(&c0);
            failed = opened < B.clients || run_round(cl, op, &r) != 0;
            cpu_sample(&c1); /* before the direct side's backends exit */
            for (int i = 0; i < opened; i++) close_conn(&cl[i]);
            if (op == OP_WB_HSET_ALWAYS) failed |= set_fsync(ctl, "everysec");
            if (!failed && (op == OP_WB_HSET || op == OP_WB_HSET_ALWAYS)) {
                double t = pk_now_ms();
                redisReply *f = redisCommand(ctl, "WB.FLUSH");
                failed = !f || f->type != REDIS_REPLY_STATUS;
                if (f) freeReplyObject(f);
                r.drain_ms = pk_now_ms() - t;
                cpu_sample(&c1); /* the drain is part of the writes' cost */
            }
            for (int k2 = 0; k2 < NCPU; k2++) r.cpu.s[k2] = c1.s[k2] - c0.s[k2];
            add(&s[op], round, &r);
        }
    }
    if (failed) {
        fprintf(stderr, "bench-pg: a round failed\n");
        srv_stop(&B.s);
        return 1;
    }
    int n = B.rounds;
    double get = median(s[OP_GET].ops, n), sel = median(s[OP_PG_SELECT].ops, n);
    double wb = median(s[OP_WB_HSET].ops, n), wt = median(s[OP_WT_HSET].ops, n);
    double wba = median(s[OP_WB_HSET_ALWAYS].ops, n), up = median(s[OP_PG_UPSERT].ops, n);
    double drain = median(s[OP_WB_HSET].drain, n);
    printf("\n");
    for (int op = 0; op < NOPS; op++) print_row(op_label[op], &s[op], n);
    if (s[OP_WB_HSET].nops)
        printf("  write-behind drain (WB.FLUSH after a round): median %.0f ms; HSETs durable in "
               "PostgreSQL incl. drain: %.0f/s\n",
               drain, wb * B.seconds / (B.seconds + drain / 1000.0));
    printf("  write-through group size (INFO wt_group_size_avg): %.2f\n",
           pk_info_d(ctl, "wt_group_size_avg"));
    printf("\n  CPU per operation (us, all rounds)");
    for (int k = 0; k < NCPU; k++) printf(" %12s", cpu_label[k]);
    printf(" %12s\n", "total");
    for (int op = 0; op < NOPS; op++) print_cpu_row(op_label[op], &s[op]);
    printf("\n");
    if (reads)
        printf("(a) read-through GET hit vs direct SELECT:  %8.2fx\n", sel > 0 ? get / sel : 0);
    double rb = up > 0 ? wb / up : 0, rc = up > 0 ? wt / up : 0;
    if (s[OP_WB_HSET].nops)
        printf("(b) write-behind HSET vs direct autocommit: %8.2fx   goal >= 10x: %s\n", rb,
               goal_text(rb, 10));
    if (wba > 0)
        printf("    the same, journal-fsync always:        %8.2fx\n", up > 0 ? wba / up : 0);
    if (s[OP_WT_HSET].nops)
        printf("(c) write-through HSET vs direct autocommit: %7.2fx   goal >= 2x:  %s\n", rc,
               goal_text(rc, 2));
    fflush(stdout);
    char line[512];
    int met;
    if (!only_b) {
        run_lag(ctl, line, sizeof(line), &met);
        printf("%s\n", line);
        print_info_lag(ctl);
    }
    print_loadavg("after");
    redisFree(ctl);
    srv_stop(&B.s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", B.jdir);
    if (system(cmd) != 0) fprintf(stderr, "bench-pg: cannot remove %s\n", B.jdir);
    pg_stop();
    return 0;
}
