/* Read-through loads of many keys at once against a real PostgreSQL
 * (pgkit): the misses of an MGET, or of many clients that queued while the
 * store thread was busy, are read by one pgstore get_many call (one
 * pipelined round trip), single-flight kept. PostgreSQL counts the
 * statements itself (pg_stat_statements, preloaded in this test's server):
 * each missing key is selected once, never twice.
 *
 *   mget_batched         MGET of present, missing and unparsable keys:
 *                        right values and nils, one batch, one SELECT each;
 *   single_flight        20 clients MGET the same 10 new keys while the
 *                        store thread is held: 10 SELECTs in all;
 *   hgetall_many_clients 30 clients' HGETALL of distinct missing hash keys
 *                        queued behind a slow job: one batch;
 *   composite_keys       a two-column key read in a batch;
 *   failing_keys         an injected failure fails every key of the batch
 *                        (-BACKEND), PostgreSQL stopped too; the next reads
 *                        succeed;
 *   after_alter          a batch after ALTER TABLE (its SELECT prepared
 *                        before) reads the new column. */
#include "pgkit.h"
#include "pkit.h"
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE EXTENSION pg_stat_statements;"
    "CREATE TABLE wb_meta (name text PRIMARY KEY, value bigint);"
    "CREATE TABLE wb_deadletter (id bigint PRIMARY KEY, map text, key bytea, op text, "
    "  state bytea, error text, at bigint);"
    "CREATE TABLE kv (id int PRIMARY KEY, val text);"
    "INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 100) g;"
    "CREATE TABLE people (id int PRIMARY KEY, name text, city text);"
    "INSERT INTO people SELECT g, 'p' || g, 'c' || g FROM generate_series(1, 100) g;"
    "CREATE TABLE cells (r text, c int, v text, PRIMARY KEY (r, c));"
    "INSERT INTO cells VALUES ('a', 1, 'a1'), ('a', 2, 'a2'), ('b', 1, 'b1');";

static srv s;
static PGconn *pg;

/* How many times PostgreSQL ran the SELECT of a row of table by its key. */
static long long selects_of(const char *table) {
    char pattern[128];
    snprintf(pattern, sizeof(pattern), "SELECT * FROM \"%s\" WHERE%%", table);
    const char *vals[1] = {pattern};
    PGresult *r = PQexecParams(pg,
                               "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
                               "WHERE query LIKE $1",
                               1, NULL, vals, NULL, NULL, 0);
    long long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    if (n < 0) fprintf(stderr, "pg_stat_statements: %s\n", PQerrorMessage(pg));
    PQclear(r);
    return n;
}

static int start(void) {
    pg_set_options("-c shared_preload_libraries=pg_stat_statements");
    if (pg_start() != 0 || pg_psql(schema) != 0) return -1;
    pg = PQconnectdb(pg_conninfo());
    if (PQstatus(pg) != CONNECTION_OK) return -1;
    const char *argv[] = {"--loadmodule",
                          pg_module_path(),
                          pg_conninfo(),
                          "--map",
                          "kv kv:{id} mode read-through column val ttl 600",
                          "--map",
                          "people person:{id} mode read-through ttl 600",
                          "--map",
                          "cells cell:{r}/{c} mode read-through column v ttl 600",
                          NULL};
    return srv_start(&s, argv);
}

TEST(mget_batched) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    long long sel = selects_of("kv"), batches = pk_info(c, "load_batches");
    long long batched = pk_info(c, "loads_batched");
    CHECK_CMD(c, "[v1,(nil),v2,v3,(nil),(nil),v99,(nil)]",
              "MGET kv:1 kv:500 kv:2 kv:3 kv:abc kv:501 kv:99 kv:99999999999");
    /* kv:abc and kv:99999999999 are no integer: no row, and PostgreSQL
     * refuses their SELECTs alone (the others in the pipeline stand) */
    CHECK_EQ(pk_info(c, "load_batches"), batches + 1);
    CHECK_EQ(pk_info(c, "loads_batched"), batched + 8);
    CHECK_EQ(selects_of("kv"), sel + 6);
    /* cached now (and the missing ones as negative entries): no SELECT */
    CHECK_CMD(c, "[v1,(nil),v2,v3,(nil),(nil),v99,(nil)]",
              "MGET kv:1 kv:500 kv:2 kv:3 kv:abc kv:501 kv:99 kv:99999999999");
    CHECK_EQ(selects_of("kv"), sel + 6);
    CHECK_EQ(pk_info(c, "load_batches"), batches + 1);
    redisFree(c);
}

TEST(single_flight) {
    enum { N = 20 };
    redisContext *c = srv_connect(&s), *cl[N];
    CHECK(c != NULL);
    if (!c) return;
    long long sel = selects_of("kv"), coalesced = pk_info(c, "loads_coalesced");
    /* the store thread held by a slow load, the MGETs queue behind it */
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 1000");
    redisContext *slow = srv_connect(&s);
    pk_send(slow, "GET kv:10");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 3000) >= 1);
    for (int i = 0; i < N; i++) {
        cl[i] = srv_connect(&s);
        pk_send(cl[i], "MGET kv:20 kv:21 kv:22 kv:23 kv:24 kv:25 kv:26 kv:27 kv:28 kv:29");
    }
    CHECK(pk_wait_info_ge(c, "blocked_clients", N + 1, 3000) >= N + 1);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    for (int i = 0; i < N; i++) {
        char *r = pk_recv_str(cl[i]);
        CHECK_STR(r, "[v20,v21,v22,v23,v24,v25,v26,v27,v28,v29]");
        free(r);
        redisFree(cl[i]);
    }
    char *r = pk_recv_str(slow);
    CHECK_STR(r, "v10");
    free(r);
    redisFree(slow);
    CHECK_EQ(selects_of("kv"), sel + 11); /* kv:10, then each of the ten once */
    CHECK(pk_info(c, "loads_coalesced") >= coalesced + (N - 1) * 10);
    redisFree(c);
}

TEST(hgetall_many_clients) {
    enum { N = 30 };
    redisContext *c = srv_connect(&s), *cl[N];
    CHECK(c != NULL);
    if (!c) return;
    long long sel = selects_of("people"), batches = pk_info(c, "load_batches");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 1000");
    redisContext *slow = srv_connect(&s);
    pk_send(slow, "GET kv:11");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 3000) >= 1);
    for (int i = 0; i < N; i++) {
        cl[i] = srv_connect(&s);
        pk_send(cl[i], "HGETALL person:%d", i % 2 ? 40 + i : 1000 + i);
    }
    CHECK(pk_wait_info_ge(c, "blocked_clients", N + 1, 3000) >= N + 1);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    for (int i = 0; i < N; i++) {
        char *r = pk_recv_str(cl[i]), want[64];
        if (i % 2)
            snprintf(want, sizeof(want), "[name,p%d,city,c%d]", 40 + i, 40 + i);
        else
            snprintf(want, sizeof(want), "[]");
        CHECK_STR(r, want);
        free(r);
        redisFree(cl[i]);
    }
    char *r = pk_recv_str(slow);
    CHECK_STR(r, "v11");
    free(r);
    redisFree(slow);
    CHECK_EQ(selects_of("people"), sel + N);
    /* the kv:11 load and one batch of the thirty */
    CHECK_EQ(pk_info(c, "load_batches"), batches + 1);
    redisFree(c);
}

TEST(composite_keys) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    long long sel = selects_of("cells"), batches = pk_info(c, "load_batches");
    CHECK_CMD(c, "[a1,(nil),b1,a2,(nil)]", "MGET cell:a/1 cell:a/3 cell:b/1 cell:a/2 cell:a/x");
    CHECK_EQ(pk_info(c, "load_batches"), batches + 1);
    CHECK_EQ(selects_of("cells"), sel + 4);
    redisFree(c);
}

TEST(failing_keys) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    /* one failure injected: the batch's one module call fails, so every
     * key of it does */
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
    redisReply *r = pk_cmd(c, "MGET kv:30 kv:31 kv:600");
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BACKEND load failed", 19));
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "[v30,v31,(nil)]", "MGET kv:30 kv:31 kv:600");
    /* PostgreSQL stopped: the error, then the rows once it is back */
    CHECK_EQ(pg_halt(), 0);
    r = pk_cmd(c, "MGET kv:32 kv:33");
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BACKEND load failed", 19));
    if (r) freeReplyObject(r);
    CHECK_EQ(pg_restart(), 0);
    PQfinish(pg);
    pg = PQconnectdb(pg_conninfo());
    CHECK(PQstatus(pg) == CONNECTION_OK);
    char *got = NULL;
    double end = pk_now_ms() + 10000;
    do { /* the module reconnects with backoff */
        free(got);
        got = cmd_str(c, "MGET kv:32 kv:33");
        if (got && !strcmp(got, "[v32,v33]")) break;
        pk_sleep_ms(50); /* pacing the retries */
    } while (pk_now_ms() < end);
    CHECK_STR(got, "[v32,v33]");
    free(got);
    redisFree(c);
}

TEST(after_alter) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    const char *both = "return {redis.call('HGETALL',KEYS[1]), redis.call('HGETALL',KEYS[2])}";
    long long first = pk_info(c, "load_batches");
    CHECK_CMD(c, "[[name,p80,city,c80],[name,p82,city,c82]]", "EVAL %s 2 person:80 person:82",
              both);
    CHECK_EQ(pk_info(c, "load_batches"), first + 1);
    CHECK_EQ(pg_psql("ALTER TABLE people ADD COLUMN zip text DEFAULT 'z'"), 0);
    long long batches = pk_info(c, "load_batches");
    CHECK_CMD(c, "[[name,p84,city,c84,zip,z],[name,p86,city,c86,zip,z]]",
              "EVAL %s 2 person:84 person:86", both);
    CHECK_EQ(pk_info(c, "load_batches"), batches + 1);
    redisFree(c);
}

int main(void) {
    if (start() != 0) {
        fprintf(stderr, "cannot start PostgreSQL and larder-server\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    RUN(mget_batched);
    RUN(single_flight);
    RUN(hgetall_many_clients);
    RUN(composite_keys);
    RUN(failing_keys);
    RUN(after_alter);
    srv_stop(&s);
    PQfinish(pg);
    pg_stop();
    return test_report();
}
