/* Durability of write-behind in front of one PostgreSQL (pgkit) under
 * kills: every write a sidecar acknowledged (journal-fsync always) is in
 * PostgreSQL after the restarts and WB.FLUSH.
 *
 *   kill_rounds      a writer thread keeps one sidecar busy with write-behind
 *                    SETs while, each round, the postmaster is killed with
 *                    kill -9 and restarted, and the sidecar is SIGKILLed and
 *                    started again on the same journal (in both orders: the
 *                    sidecar dies while PostgreSQL is down, with writes only
 *                    in its journal; or it dies first and PostgreSQL after).
 *                    After every round: WB.FLUSH, then each key's row holds
 *                    at least its last acknowledged value and nothing that
 *                    was never sent.
 *   restart_beside   two sidecars write behind to one PostgreSQL (disjoint
 *                    keys); one is SIGKILLed and restarted, then stopped
 *                    and restarted cleanly, while the other keeps writing;
 *                    at the end both flush and every acknowledged write of
 *                    both is there.
 *
 * Values per key only grow (a writer's sequence number), so "the row holds
 * a value >= the last acknowledged one" is exactly "no acknowledged write
 * was lost" under coalescing. DURABILITY_ROUNDS sets the number of rounds
 * (default 20). */
#include "pgkit.h"
#include "pkit.h"
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NKEYS 64

static const char schema[] =
    "CREATE TABLE wb_meta (name text PRIMARY KEY, value bigint);"
    "CREATE TABLE wb_deadletter (id bigint PRIMARY KEY, map text, key bytea, op text, "
    "  state bytea, error text, at bigint);"
    "CREATE TABLE items (id int PRIMARY KEY, val text NOT NULL);";

static char tmpdir[64] = "/tmp/larder-pgdur-XXXXXX";

static void remove_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* A sidecar: its server and its own journal (outside the server's folder,
 * which the harness removes when the server stops). */
typedef struct sidecar {
    srv s;
    char journal[128];
    int up;
} sidecar;

static int sidecar_start(sidecar *sc, const char *name) {
    if (!sc->journal[0]) snprintf(sc->journal, sizeof(sc->journal), "%s/%s.journal", tmpdir, name);
    char app[64];
    snprintf(app, sizeof(app), "application_name=%s", name);
    const char *argv[] = {"--loadmodule",
                          pg_module_path(),
                          pg_conninfo(),
                          app,
                          "--journal-path",
                          sc->journal,
                          "--journal-fsync",
                          "always",
                          "--write-behind-delay-ms",
                          "20",
                          "--map",
                          "items",
                          "item:{id}",
                          "mode",
                          "write-behind",
                          "column",
                          "val",
                          "ttl",
                          "3600",
                          NULL};
    sc->up = srv_start(&sc->s, argv) == 0;
    return sc->up ? 0 : -1;
}

static void sidecar_kill(sidecar *sc) {
    if (sc->up) srv_kill(&sc->s);
    sc->up = 0;
}

static void sidecar_stop(sidecar *sc) {
    if (sc->up) srv_stop(&sc->s);
    sc->up = 0;
}

/* ---- the writer: SET item:<base+k> <seq> as fast as replies come ------------------- */

typedef struct writer {
    pthread_t th;
    int base;
    atomic_int port; /* its sidecar's port; 0 while it is down */
    atomic_int stop;
    atomic_llong sent[NKEYS], acked[NKEYS];
    atomic_long acks, lost, refused;
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    redisContext *c = NULL;
    int cport = 0;
    long long seq = 0;
    while (!atomic_load(&w->stop)) {
        int p = atomic_load(&w->port);
        if (c && p != cport) {
            redisFree(c);
            c = NULL;
        }
        if (!c) {
            struct timeval tv = {2, 0};
            c = p ? redisConnectWithTimeout("127.0.0.1", p, tv) : NULL;
            if (c && c->err) {
                redisFree(c);
                c = NULL;
            }
            if (!c) {
                pk_sleep_ms(2); /* pacing the reconnect while the sidecar is down */
                continue;
            }
            redisSetTimeout(c, tv);
            cport = p;
        }
        seq++;
        int k = (int)(seq % NKEYS);
        atomic_store(&w->sent[k], seq);
        redisReply *r = redisCommand(c, "SET item:%d %lld", w->base + k, seq);
        if (!r) { /* the sidecar died: this write may or may not be journaled */
            atomic_fetch_add(&w->lost, 1);
            redisFree(c);
            c = NULL;
            continue;
        }
        if (r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK")) {
            atomic_store(&w->acked[k], seq);
            atomic_fetch_add(&w->acks, 1);
        } else {
            atomic_fetch_add(&w->refused, 1); /* -LOADING during replay, -BUSY */
            if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "LOADING", 7) &&
                strncmp(r->str, "BUSY", 4) && atomic_load(&w->refused) < 5)
                fprintf(stderr, "  (writer: %s)\n", r->str);
            pk_sleep_ms(1);
        }
        freeReplyObject(r);
    }
    if (c) redisFree(c);
    return NULL;
}

static void writer_start(writer *w, int base, int port) {
    memset(w, 0, sizeof(*w));
    w->base = base;
    atomic_store(&w->port, port);
    pthread_create(&w->th, NULL, writer_main, w);
}

static void writer_join(writer *w) {
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
}

/* Waits until the writer has n more acknowledged writes (or timeout_ms). 0
 * when it got them. */
static int wait_acks(writer *w, long n, int timeout_ms) {
    long want = atomic_load(&w->acks) + n;
    double end = pk_now_ms() + timeout_ms;
    while (atomic_load(&w->acks) < want) {
        if (pk_now_ms() > end) return -1;
        pk_sleep_ms(1);
    }
    return 0;
}

/* ---- checks -------------------------------------------------------------------------- */

/* WB.FLUSH until +OK (PostgreSQL may still be recovering, the module
 * backing off): 0 when flushed within timeout_ms. */
static int flush(sidecar *sc, int timeout_ms) {
    double end = pk_now_ms() + timeout_ms;
    char *last = NULL;
    while (pk_now_ms() < end) {
        redisContext *c = srv_connect(&sc->s);
        free(last);
        last = c ? cmd_str(c, "WB.FLUSH") : strdup("(no connection)");
        if (c) redisFree(c);
        if (!strcmp(last, "+OK")) {
            free(last);
            return 0;
        }
        pk_sleep_ms(50);
    }
    fprintf(stderr, "  WB.FLUSH did not succeed: %s\n", last ? last : "?");
    free(last);
    return -1;
}

/* Every acknowledged write of w (as of snap) is in PostgreSQL: the row of
 * each key holds a value >= its last acknowledged and <= its last sent.
 * Returns the number of keys that break it. */
static int check_rows(const writer *w, const long long *snap) {
    PGconn *pg = PQconnectdb(pg_conninfo());
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT id, val::bigint FROM items WHERE id BETWEEN %d AND %d",
             w->base, w->base + NKEYS - 1);
    PGresult *r = PQstatus(pg) == CONNECTION_OK ? PQexec(pg, sql) : NULL;
    long long got[NKEYS] = {0};
    int bad = 0;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "  cannot read items: %s", PQerrorMessage(pg));
        bad = NKEYS;
    } else {
        for (int i = 0; i < PQntuples(r); i++)
            got[atoi(PQgetvalue(r, i, 0)) - w->base] = atoll(PQgetvalue(r, i, 1));
    }
    for (int k = 0; k < NKEYS && !bad; k++) {
        long long sent = atomic_load(&w->sent[k]);
        if (got[k] < snap[k] || got[k] > sent) {
            if (bad < 5)
                fprintf(stderr, "  item:%d: PostgreSQL has %lld, acknowledged %lld, sent %lld\n",
                        w->base + k, got[k], snap[k], sent);
            bad++;
        }
    }
    if (r) PQclear(r);
    PQfinish(pg);
    return bad;
}

static void snapshot(const writer *w, long long *snap) {
    for (int k = 0; k < NKEYS; k++) snap[k] = atomic_load(&w->acked[k]);
}

/* ---- tests --------------------------------------------------------------------------- */

static int rounds(void) {
    const char *e = getenv("DURABILITY_ROUNDS");
    int n = e ? atoi(e) : 20;
    return n > 0 ? n : 20;
}

/* One round: both kills during the load, in the order the round's parity
 * picks; 0 when everything restarted. *down_acks: writes acknowledged while
 * PostgreSQL was down. */
static int kill_round(sidecar *sc, writer *w, int round, long *down_acks) {
    if (wait_acks(w, 20, 10000) != 0) return -1; /* the load runs */
    if (round % 2 == 0) {                        /* the sidecar dies with PG down */
        if (pg_kill9() != 0) return -1;
        long before = atomic_load(&w->acks);
        if (wait_acks(w, 10, 10000) != 0) return -1;
        *down_acks += atomic_load(&w->acks) - before;
        atomic_store(&w->port, 0);
        sidecar_kill(sc);
        if (pg_restart() != 0 || sidecar_start(sc, "a") != 0) return -1;
        atomic_store(&w->port, sc->s.port);
    } else { /* the sidecar dies first, PostgreSQL after */
        atomic_store(&w->port, 0);
        sidecar_kill(sc);
        if (sidecar_start(sc, "a") != 0) return -1;
        atomic_store(&w->port, sc->s.port);
        if (wait_acks(w, 20, 10000) != 0 || pg_kill9() != 0) return -1;
        long before = atomic_load(&w->acks);
        if (wait_acks(w, 10, 10000) != 0) return -1;
        *down_acks += atomic_load(&w->acks) - before;
        if (pg_restart() != 0) return -1;
    }
    return 0;
}

TEST(kill_rounds) {
    sidecar a = {0};
    CHECK_EQ(sidecar_start(&a, "a"), 0);
    if (!a.up) return;
    writer w;
    writer_start(&w, 0, a.s.port);
    int n = rounds(), done = 0, bad = 0;
    long down_acks = 0;
    double t0 = pk_now_ms();
    for (int round = 0; round < n; round++) {
        if (kill_round(&a, &w, round, &down_acks) != 0) {
            fprintf(stderr, "  round %d: a kill or restart failed\n", round);
            break;
        }
        long long snap[NKEYS];
        snapshot(&w, snap);
        if (flush(&a, 20000) != 0) break;
        int b = check_rows(&w, snap);
        if (b) fprintf(stderr, "  round %d: %d keys lost acknowledged writes\n", round, b);
        bad += b;
        done++;
    }
    writer_join(&w);
    long long snap[NKEYS];
    snapshot(&w, snap);
    if (a.up) {
        CHECK_EQ(flush(&a, 20000), 0);
        bad += check_rows(&w, snap);
    }
    printf("kill_rounds: %d rounds in %.1f s, %ld writes acknowledged (%ld while PostgreSQL was "
           "down), %ld replies lost to a kill, %ld refused (LOADING/BUSY)\n",
           done, (pk_now_ms() - t0) / 1000.0, atomic_load(&w.acks), down_acks, atomic_load(&w.lost),
           atomic_load(&w.refused));
    CHECK_EQ(done, n);
    CHECK_EQ(bad, 0);
    CHECK(down_acks >= 10L * done); /* the sidecar acknowledged writes while PG was down */
    sidecar_stop(&a);
}

TEST(restart_beside) {
    sidecar a = {0}, b = {0};
    CHECK_EQ(sidecar_start(&a, "a2"), 0);
    CHECK_EQ(sidecar_start(&b, "b2"), 0);
    if (!a.up || !b.up) {
        sidecar_stop(&a);
        sidecar_stop(&b);
        return;
    }
    writer wa, wb;
    writer_start(&wa, 1000, a.s.port);
    writer_start(&wb, 2000, b.s.port);
    CHECK_EQ(wait_acks(&wb, 50, 10000), 0);
    /* b dies and comes back (journal replay) while a writes */
    atomic_store(&wb.port, 0);
    sidecar_kill(&b);
    long a_before = atomic_load(&wa.acks);
    CHECK_EQ(wait_acks(&wa, 50, 10000), 0);
    CHECK_EQ(sidecar_start(&b, "b2"), 0);
    atomic_store(&wb.port, b.s.port);
    CHECK_EQ(wait_acks(&wb, 50, 10000), 0);
    /* and once more with a clean stop (SIGTERM flushes before exit) */
    atomic_store(&wb.port, 0);
    sidecar_stop(&b);
    CHECK_EQ(wait_acks(&wa, 50, 10000), 0);
    CHECK_EQ(sidecar_start(&b, "b2"), 0);
    atomic_store(&wb.port, b.s.port);
    CHECK_EQ(wait_acks(&wb, 50, 10000), 0);
    CHECK_EQ(wait_acks(&wa, 50, 10000), 0);
    writer_join(&wa);
    writer_join(&wb);
    long long sa[NKEYS], sb[NKEYS];
    snapshot(&wa, sa);
    snapshot(&wb, sb);
    CHECK_EQ(flush(&a, 20000), 0);
    if (b.up) CHECK_EQ(flush(&b, 20000), 0);
    CHECK_EQ(check_rows(&wa, sa), 0);
    CHECK_EQ(check_rows(&wb, sb), 0);
    printf("restart_beside: a acknowledged %ld writes (%ld while b was restarted), b %ld\n",
           atomic_load(&wa.acks), atomic_load(&wa.acks) - a_before, atomic_load(&wb.acks));
    sidecar_stop(&a);
    sidecar_stop(&b);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    atexit(remove_tmpdir);
    if (pg_start() != 0 || pg_psql(schema) != 0) {
        fprintf(stderr, "cannot start PostgreSQL with the test schema\n");
        test_failed_++;
        return test_report();
    }
    RUN(kill_rounds);
    RUN(restart_beside);
    pg_stop();
    return test_report();
}
