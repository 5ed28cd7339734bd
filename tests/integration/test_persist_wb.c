/* Write-behind: the reply comes after memory + journal; a flusher
 * writes batches (coalesced per key, in order), retries with backoff, and
 * dead-letters rows the store refuses for good; -BUSY above
 * write-behind-max-pending; dirty keys are never evicted and never read from
 * the store; WB.FLUSH; SHUTDOWN flushes; a restart replays the journal while
 * answering -LOADING. Every test ends with "store equals cache after
 * WB.FLUSH". */
#include "pkit.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define USER_COLS "name,email,age"
#define ORDER_COLS "user_id,total"
#define MAPS                                                                                       \
    "users user:{id} mode write-behind ttl 3600; orders order:{id} mode write-behind ttl 3600; "   \
    "kv kv:{id} mode write-behind column v"

static void create_schema(redisContext *c) {
    pk_exec(
        c,
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, "
        "age INTEGER CHECK (age >= 0))");
    pk_exec(c, "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, user_id INTEGER "
               "REFERENCES users(id), "
               "total INTEGER)");
    pk_exec(c, "CREATE TABLE IF NOT EXISTS kv (id TEXT PRIMARY KEY, v TEXT)");
}

/* Starts with a long flush delay (nothing is written unless a test flushes
 * or fills a batch) unless extra says otherwise; maps given on the command
 * line when the store already has the tables (a restart). */
static redisContext *start_args(pk_env *e, const char *const *extra, int fresh) {
    if (fresh) memset(e, 0, sizeof(*e));
    const char *args[40];
    int n = 0;
    args[n++] = "--write-behind-delay-ms";
    args[n++] = "100000";
    for (int i = 0; extra && extra[i] && n < 36; i++) args[n++] = extra[i];
    if (!fresh) {
        args[n++] = "--map";
        args[n++] = "users user:{id} mode write-behind ttl 3600";
        args[n++] = "--map";
        args[n++] = "orders order:{id} mode write-behind ttl 3600";
        args[n++] = "--map";
        args[n++] = "kv kv:{id} mode write-behind column v";
    }
    args[n] = NULL;
    if (pk_start(e, args) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    if (fresh) {
        create_schema(c);
        CHECK_CMD(c, "+OK", "CONFIG SET map %s", MAPS);
    }
    return c;
}

static redisContext *start(pk_env *e, const char *const *extra) {
    return start_args(e, extra, 1);
}

/* SET kv:<key>i <val>i for i in [0, n), pipelined: the number of +OK
 * replies. */
static int set_kv_many(redisContext *c, const char *key, const char *val, int n) {
    for (int i = 0; i < n; i++) pk_send(c, "SET kv:%s%d %s%d", key, i, val, i);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        char *r = pk_recv_str(c);
        ok += !strcmp(r, "+OK");
        free(r);
    }
    return ok;
}

static void check_all(redisContext *c) {
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, USER_COLS);
    PK_CHECK_MAP(c, "orders", "order:", "id", NULL, ORDER_COLS);
    PK_CHECK_MAP(c, "kv", "kv:", "id", "v", NULL);
}

static void finish(pk_env *e, redisContext *c) {
    if (c) {
        check_all(c);
        redisFree(c);
    }
    pk_cleanup(e);
}

static int query_count(redisContext *c, const char *sql) {
    redisReply *r = pk_cmd(c, "SQL.QUERY %s", sql);
    int n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 1)
        n = (int)r->element[0]->element[0]->integer;
    if (r) freeReplyObject(r);
    return n;
}

TEST(wb_write_then_flush) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    long long batches = pk_info(c, "wb_batches"), flushed = pk_info(c, "wb_flushed_total");
    long long jb = pk_info(c, "journal_bytes");
    CHECK_CMD(c, ":2", "HSET user:1 name ann age 30");
    CHECK_EQ(pk_info(c, "wb_pending"), 1);
    CHECK(pk_info(c, "journal_bytes") > jb);
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT * FROM users"); /* not yet */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[:1,ann,(nil),:30]]", "SQL.QUERY %s", "SELECT * FROM users");
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(pk_info(c, "wb_lag_ms"), 0);
    CHECK_EQ(pk_info(c, "wb_batches"), batches + 1);
    CHECK_EQ(pk_info(c, "wb_flushed_total"), flushed + 1);
    /* a deleted field becomes NULL, a new one a value */
    CHECK_CMD(c, ":1", "HDEL user:1 age");
    CHECK_CMD(c, ":1", "HSET user:1 email a@x");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[ann,a@x,(nil)]]", "SQL.QUERY %s",
              "SELECT name, email, age FROM users WHERE id = 1");
    /* WB.FLUSH with nothing pending answers at once */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    /* a full batch goes without waiting for the delay */
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-batch 5");
    for (int i = 0; i < 5; i++) CHECK_CMD(c, "+OK", "SET kv:b%d x", i);
    CHECK_EQ(pk_wait_info_eq(c, "wb_pending", 0, 5000), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), 5);
    /* and a short delay flushes on its own */
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-delay-ms 30");
    CHECK_CMD(c, "+OK", "SET kv:late y");
    CHECK_EQ(pk_wait_info_eq(c, "wb_pending", 0, 5000), 0);
    CHECK_CMD(c, "[[y]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'late'");
    finish(&e, c);
}

/* Many writes to one key become one row write. */
TEST(wb_coalescing) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    long long flushed = pk_info(c, "wb_flushed_total");
    for (int i = 0; i < 200; i++) CHECK_CMD(c, "+OK", "SET kv:c v%d", i);
    for (int i = 0; i < 50; i++) {
        redisReply *r = pk_cmd(c, "HINCRBY user:3 age 1");
        CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == i + 1);
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(pk_info(c, "wb_pending"), 2);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_flushed_total"), flushed + 2);
    CHECK_CMD(c, "[[v199]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'c'");
    CHECK_CMD(c, "[[:50]]", "SQL.QUERY %s", "SELECT age FROM users WHERE id = 3");
    finish(&e, c);
}

/* Per-key order: a DEL made while the key's SET is being written lands after
 * it (and the other way round). */
TEST(wb_per_key_order) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "SET kv:o first");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 200");
    pk_send(f, "WB.FLUSH"); /* starts the batch with kv:o = first */
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    CHECK_CMD(c, ":1", "DEL kv:o");
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'o'");
    /* the other way: a delete in flight, then a new value */
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "+OK", "SET kv:p one");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, ":1", "DEL kv:p");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 200");
    pk_send(f, "WB.FLUSH");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    CHECK_CMD(c, "+OK", "SET kv:p two");
    r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[two]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'p'");
    /* within one batch: SET, DEL, SET, DEL -> no row */
    CHECK_CMD(c, "+OK", "SET kv:q 1");
    CHECK_CMD(c, ":1", "DEL kv:q");
    CHECK_CMD(c, "+OK", "SET kv:q 2");
    CHECK_CMD(c, ":1", "DEL kv:q");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'q'");
    redisFree(f);
    finish(&e, c);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wb_lag_ms is the age of the oldest write not in the store: a key written
 * again while its batch was in flight is as old as that second write once
 * the batch is done, not as old as its first. (The 600 ms between the two
 * writes is the quantity measured, not a wait for an event.) */
TEST(wb_lag_counts_from_the_write_in_flight) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    long long t0 = now_ms();
    CHECK_CMD(c, "+OK", "SET kv:lag first");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 1500");
    long long batches = pk_info(c, "wb_batches");
    pk_send(f, "WB.FLUSH"); /* the batch with kv:lag = first, held 1.5 s */
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    struct timespec gap = {0, 600 * 1000000L};
    nanosleep(&gap, NULL);
    CHECK_CMD(c, "+OK", "SET kv:lag second"); /* while the batch is in flight */
    /* the first batch done, the second (kv:lag = second) is held in turn */
    CHECK(pk_wait_info_ge(c, "wb_batches", batches + 1, 5000) >= batches + 1);
    long long lag = pk_info(c, "wb_lag_ms"), since_first = now_ms() - t0;
    CHECK(pk_info(c, "wb_pending") == 1);
    CHECK(lag < since_first - 300); /* counted from the second write */
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "[[second]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'lag'");
    redisFree(f);
    finish(&e, c);
}

TEST(wb_on_delete) {
    pk_env e;
    const char *args[] = {"--on-delete", "cache", NULL};
    redisContext *c = start(&e, args);
    if (!c) return;
    CHECK_CMD(c, "+OK", "SET kv:d kept");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, ":1", "DEL kv:d");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[kept]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'd'");
    CHECK_CMD(c, "kept", "GET kv:d"); /* loaded back */
    CHECK_CMD(c, "+OK", "CONFIG SET on-delete row");
    CHECK_CMD(c, ":1", "DEL kv:d");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'd'");
    finish(&e, c);
}

TEST(wb_busy_above_max_pending) {
    pk_env e;
    const char *args[] = {"--write-behind-max-pending", "5", NULL};
    redisContext *c = start(&e, args);
    if (!c) return;
    for (int i = 0; i < 5; i++) CHECK_CMD(c, "+OK", "SET kv:m%d x", i);
    redisReply *r = pk_cmd(c, "SET kv:m5 x");
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BUSY", 4));
    if (r) freeReplyObject(r);
    r = pk_cmd(c, "SET kv:m0 again");
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BUSY", 4));
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "x", "GET kv:m1");         /* reads go on */
    CHECK_CMD(c, "+OK", "SET plain:key x"); /* unmapped keys too */
    CHECK_CMD(c, "(nil)", "GET kv:m5");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "+OK", "SET kv:m5 y");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), 5);
    finish(&e, c);
}

/* Transient store failures: the batch is retried with backoff until it
 * goes through; WB.FLUSH reports the failure it saw. */
TEST(wb_retry_with_backoff) {
    pk_env e;
    const char *args[] = {"--write-behind-delay-ms", "20", NULL};
    redisContext *c = start(&e, args);
    if (!c) return;
    long long retries = pk_info(c, "wb_retries");
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 3");
    double t0 = pk_now_ms();
    CHECK_CMD(c, "+OK", "SET kv:r v");
    CHECK_CMD(c, "+OK", "SET kv:r2 v2");
    CHECK_EQ(pk_wait_info_eq(c, "wb_pending", 0, 10000), 0);
    double took = pk_now_ms() - t0;
    CHECK_EQ(pk_info(c, "wb_retries"), retries + 3);
    printf("3 failed batches, then written after %.0f ms (backoff 100+200+400 ms +-25%%)\n", took);
    CHECK(took >= 500);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), 2);
    /* WB.FLUSH answers the failure it waited on, and does not wait out the
     * backoff when asked again */
    CHECK_CMD(c, "+OK", "SET kv:r v3");
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
    redisReply *r = pk_cmd(c, "WB.FLUSH");
    CHECK(r && r->type == REDIS_REPLY_ERROR &&
          !strncmp(r->str, "BACKEND write-behind flush failed", 33));
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[v3]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'r'");
    finish(&e, c);
}

/* Rows the store refuses for good (CHECK, UNIQUE, FOREIGN KEY) go to the
 * dead-letter table with their error; LIST, RETRY after fixing the cause,
 * DROP. */
TEST(wb_dead_letters) {
    pk_env e;
    /* CHECK refusals too reach the dead letter only without the check before the reply */
    const char *nocheck[] = {"--write-behind-check", "no", NULL};
    redisContext *c = start(&e, nocheck);
    if (!c) return;
    long long dl = pk_info(c, "wb_deadletter");
    CHECK_CMD(c, ":2", "HSET user:1 name ann email a@x");
    CHECK_CMD(c, ":2", "HSET user:2 name bob age -1");      /* CHECK */
    CHECK_CMD(c, ":2", "HSET user:3 name cat email a@x");   /* UNIQUE */
    CHECK_CMD(c, ":2", "HSET order:10 user_id 77 total 5"); /* FK */
    CHECK_CMD(c, ":2", "HSET order:11 user_id 1 total 6");  /* fine */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_deadletter"), dl + 3);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    redisReply *r = pk_cmd(c, "WB.DEADLETTER LIST");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    long long id_check = 0, id_unique = 0, id_fk = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *row = r->element[i];
        CHECK_EQ(row->elements, 6); /* id, map, key, op, error, at */
        if (row->elements < 6) continue;
        const char *key = row->element[2]->str, *err = row->element[4]->str;
        CHECK_STR(row->element[3]->str, "upsert");
        if (!strcmp(key, "user:2")) {
            id_check = row->element[0]->integer;
            CHECK(strstr(err, PK_MSG_CHECK) != NULL);
            CHECK_STR(row->element[1]->str, "users");
        } else if (!strcmp(key, "user:3")) {
            id_unique = row->element[0]->integer;
            CHECK(strstr(err, PK_MSG_UNIQUE) != NULL);
        } else if (!strcmp(key, "order:10")) {
            id_fk = row->element[0]->integer;
            CHECK(strstr(err, PK_MSG_FKEY) != NULL);
        }
    }
    if (r) freeReplyObject(r);
    CHECK(id_check && id_unique && id_fk);
    /* the cache does not keep serving what the store refused */
    CHECK_EQ(pk_info(c, "wb_refused_dropped"), 3);
    CHECK_CMD(c, ":0", "EXISTS user:2");
    CHECK_CMD(c, ":0", "EXISTS user:3");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM users"), 1);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM orders"), 1);
    CHECK_CMD(c, "[[:1]]", "SQL.QUERY %s", "SELECT count(*) FROM orders WHERE id = 11");
    /* a retry before the cause is fixed fails again and keeps the entry */
    CHECK_CMD(c, ":0", "WB.DEADLETTER RETRY %lld", id_fk);
    /* fix the cause, retry: the row lands, the entry goes, the cached key is
     * reloaded from the store */
    pk_exec(c, "INSERT INTO users (id, name) VALUES (77, 'zed')");
    CHECK_CMD(c, ":1", "WB.DEADLETTER RETRY %lld", id_fk);
    CHECK_CMD(c, "[[:77,:5]]", "SQL.QUERY %s", "SELECT user_id, total FROM orders WHERE id = 10");
    CHECK_CMD(c, "5", "HGET order:10 total");
    /* DROP one entry; the application writes the refused rows again, fixed */
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP %lld", id_check);
    CHECK_CMD(c, ":2", "HSET user:2 name bob age 2");
    CHECK_CMD(c, ":2", "HSET user:3 name cat email c@x");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    CHECK_CMD(c, "[]", "WB.DEADLETTER LIST");
    CHECK_CMD(c, ":0", "WB.DEADLETTER RETRY ALL");
    r = pk_cmd(c, "WB.DEADLETTER RETRY nope");
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    finish(&e, c);
}

/* A key written again while its batch is in flight: the batch must write
 * the state it was built with (it once read the key's live buffer, which the
 * new write changed under the store thread), and when that state is refused
 * its dead letter holds the refused state while the newer state is still
 * written. */
TEST(wb_refused_state_superseded) {
    pk_env e;
    const char *nocheck[] = {"--write-behind-check", "no", NULL};
    redisContext *c = start(&e, nocheck);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    long long dl = pk_info(c, "wb_deadletter");
    CHECK_CMD(c, ":2", "HSET user:8 name hal age -5");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 200");
    pk_send(f, "WB.FLUSH");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    CHECK_CMD(c, ":0", "HSET user:8 age 5");
    char *s = pk_recv_str(f);
    CHECK_STR(s, "+OK");
    free(s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[hal,:5]]", "SQL.QUERY %s", "SELECT name, age FROM users WHERE id = 8");
    CHECK_EQ(pk_info(c, "wb_deadletter"), dl + 1);
    /* the refused state was not the latest: the entry stays */
    CHECK_EQ(pk_info(c, "wb_refused_dropped"), 0);
    CHECK_CMD(c, "5", "HGET user:8 age");
    redisReply *r = pk_cmd(c, "WB.DEADLETTER LIST");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 6 &&
          !strcmp(r->element[0]->element[2]->str, "user:8") &&
          strstr(r->element[0]->element[4]->str, PK_MSG_CHECK));
    if (r) freeReplyObject(r);
    /* the refused state itself, as a row of the table */
    CHECK_CMD(c, "[[users,user:8]]", "SQL.QUERY %s", "SELECT map, key FROM wb_deadletter");
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    redisFree(f);
    finish(&e, c);
}

/* A refused row's dead letter commits with its batch: a crash right after
 * the batch (whose watermark says "done") cannot lose the refused write. */
TEST(wb_deadletter_atomic_with_batch) {
    pk_env e;
    const char *nocheck[] = {"--write-behind-check", "no", NULL};
    redisContext *c = start(&e, nocheck);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    CHECK_CMD(c, ":2", "HSET user:9 name ivy age -1");
    CHECK_CMD(c, "+OK", "SET kv:fine yes");
    long long batches = pk_info(c, "wb_batches");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 300"); /* anything after the batch waits */
    pk_send(f, "WB.FLUSH");
    CHECK(pk_wait_info_ge(c, "wb_batches", batches + 1, 5000) >= batches + 1);
    redisFree(f);
    redisFree(c);
    pk_kill(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_wait_serving(c, 10000, NULL), 0);
    CHECK_CMD(c, "[[user:9]]", "SQL.QUERY %s", "SELECT key FROM wb_deadletter");
    CHECK_CMD(c, "[[yes]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'fine'");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT * FROM users");
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    finish(&e, c);
}

/* maxmemory + allkeys-lru: clean keys go, dirty ones stay until written. */
TEST(wb_dirty_never_evicted) {
    pk_env e;
    const char *args[] = {"--maxmemory-policy", "allkeys-lru", NULL};
    redisContext *c = start(&e, args);
    if (!c) return;
    char val[1024];
    memset(val, 'd', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    enum { DIRTY = 200 };
    for (int i = 0; i < DIRTY; i++) CHECK_CMD(c, "+OK", "SET kv:e%d %s", i, val);
    long long used = pk_info(c, "used_memory");
    CHECK_CMD(c, "+OK", "CONFIG SET maxmemory %lld", used + 300 * 1024);
    for (int i = 0; i < 3000; i++) {
        redisReply *r = pk_cmd(c, "SET plain:%d %s", i, val);
        if (r) freeReplyObject(r);
    }
    CHECK(pk_info(c, "evicted_keys") > 0);
    int present = 0;
    for (int i = 0; i < DIRTY; i++) {
        redisReply *r = pk_cmd(c, "STRLEN kv:e%d", i);
        present += r && r->type == REDIS_REPLY_INTEGER && r->integer == (long long)strlen(val);
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(present, DIRTY);
    CHECK_CMD(c, "+OK", "CONFIG SET maxmemory 0");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), DIRTY);
    finish(&e, c);
}

/* A dirty key's truth is the cache: reads never load it (SQL.EXEC does not
 * invalidate it either); a dirty delete reads as absent. */
TEST(wb_dirty_reads_stay_in_cache) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    CHECK_CMD(c, ":1", "HSET user:2 name a");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, ":0", "HSET user:2 name b");
    long long loads = pk_info(c, "loads");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE users SET name = 'sql' WHERE id = 2");
    CHECK_CMD(c, "b", "HGET user:2 name");
    CHECK_CMD(c, ":1", "DEL user:2");
    CHECK_CMD(c, "[]", "HGETALL user:2");
    CHECK_CMD(c, ":0", "EXISTS user:2");
    CHECK_EQ(pk_info(c, "loads"), loads);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT * FROM users WHERE id = 2");
    finish(&e, c);
}

/* SHUTDOWN (and SIGTERM) write every pending key before exit — a write
 * pipelined just before SHUTDOWN included; the restart has nothing to
 * replay. The exit is prompt: the journal's everysec syncer is joined at
 * once, not after sleeping out its period (up to a second). */
TEST(wb_shutdown_flushes) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    for (int i = 0; i < 50; i++) CHECK_CMD(c, "+OK", "SET kv:s%d v%d", i, i);
    double t0 = pk_now_ms();
    pk_stop(&e); /* SIGTERM */
    double took = pk_now_ms() - t0;
    printf("SIGTERM with 50 keys pending: exit after %.0f ms\n", took);
    CHECK(took < 600); /* srv_stop polls every 100 ms */
    redisFree(c);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_info(c, "loading"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), 50);
    /* SHUTDOWN right behind a write, in one packet */
    pk_send(c, "SET kv:last z");
    pk_send(c, "SHUTDOWN");
    char *s = pk_recv_str(c); /* +OK or (lost): SHUTDOWN may close first */
    CHECK(!strcmp(s, "+OK") || !strcmp(s, "(lost)"));
    free(s);
    redisFree(c);
    pk_stop(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_CMD(c, "[[z]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'last'");
    finish(&e, c);
}

/* SHUTDOWN while a write waits for its key's load: the load completes during
 * the shutdown; the write must not then run and be acknowledged without
 * reaching the journal. */
TEST(wb_shutdown_with_parked_write) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *a = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 300");
    pk_send(a, "HSET user:77 name zed"); /* not cached: waits for the load */
    CHECK_EQ(pk_wait_info_ge(c, "blocked_clients", 1, 5000), 1);
    pk_send(c, "SHUTDOWN");
    char *s = pk_recv_str(a);
    int acked = !strcmp(s, ":1");
    printf("write parked at SHUTDOWN: %s\n", s);
    free(s);
    redisFree(a);
    redisFree(c);
    pk_stop(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    int rows = query_count(c, "SELECT count(*) FROM users WHERE id = 77 AND name = 'zed'");
    CHECK(!acked || rows == 1);
    finish(&e, c);
}

/* SIGKILL with keys pending: the restart replays the journal into the store
 * before serving (-LOADING meanwhile), then truncates it. */
TEST(wb_restart_replays_journal) {
    pk_env e;
    const char *big[] = {"--write-behind-batch", "100000", NULL};
    redisContext *c = start(&e, big);
    if (!c) return;
    enum { N = 1500 };
    CHECK_EQ(set_kv_many(c, "j", "v", N), N);
    CHECK_CMD(c, ":3", "HSET user:5 name eve email e@x age 9");
    CHECK_CMD(c, ":1", "DEL kv:j7");
    CHECK_EQ(pk_info(c, "wb_pending"), N + 1);
    redisFree(c);
    pk_kill(&e);
    /* one row per transaction: the replay takes a while */
    const char *slow[] = {"--write-behind-batch", "1", NULL};
    c = start_args(&e, slow, 0);
    if (!c) return;
    int loading = 0;
    CHECK_EQ(pk_wait_serving(c, 60000, &loading), 0);
    printf("replay of %d keys: %d -LOADING replies seen\n", N + 1, loading);
    CHECK(loading > 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N - 1);
    CHECK_CMD(c, "[[v1499]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'j1499'");
    CHECK_CMD(c, "[[eve,e@x,:9]]", "SQL.QUERY %s",
              "SELECT name, email, age FROM users WHERE id = 5");
    CHECK(pk_info(c, "journal_bytes") < 4096);
    /* and the restarted server serves reads from the store */
    CHECK_CMD(c, "v3", "GET kv:j3");
    CHECK_CMD(c, "(nil)", "GET kv:j7");
    finish(&e, c);
}

/* The bundled store: a batch's fsync runs on the sync thread, so a load
 * queued behind the batch does not wait for it (DEBUG STORE-SYNC-HOLD holds
 * the fsync); the batch is not reported flushed before its fsync (WB.FLUSH
 * waits, the keys stay pending), and a kill -9 meanwhile loses nothing. */
TEST(wb_load_not_behind_batch_fsync) {
    if (pk_pg()) return; /* pgstore commits in one call: nothing to hold */
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    CHECK_CMD(c, "-ERR DEBUG STORE-SYNC-HOLD on|off", "DEBUG STORE-SYNC-HOLD maybe");
    CHECK_CMD(c, "-ERR DEBUG STORE-SYNC-HOLD on|off", "DEBUG STORE-SYNC-HOLD");
    pk_exec(c, "INSERT INTO kv VALUES ('pre', 'stored'), ('pre2', 'stored2')");
    CHECK_CMD(c, "+OK", "DEBUG STORE-SYNC-HOLD on");
    enum { N = 2000 };
    CHECK_EQ(set_kv_many(c, "h", "v", N), N);
    CHECK_CMD(c, ":1", "HSET user:1 name ann");
    long long batches = pk_info(c, "wb_batches");
    pk_send(f, "WB.FLUSH");
    /* applied, its fsync held */
    CHECK_EQ(pk_wait_info_ge(c, "store_syncs_pending", 1, 10000), 1);
    /* a load behind it completes meanwhile */
    CHECK_CMD(c, "stored", "GET kv:pre");
    CHECK_EQ(pk_info(c, "store_syncs_pending"), 1);
    /* not flushed until durable: nothing reported, nothing shown to readers */
    CHECK_EQ(pk_info(c, "wb_pending"), N + 1);
    CHECK_EQ(pk_info(c, "wb_batches"), batches);
    CHECK_EQ(pk_info(c, "blocked_clients"), 1);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), 2);
    CHECK_CMD(c, "+OK", "DEBUG STORE-SYNC-HOLD off");
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_EQ(pk_info(c, "store_syncs_pending"), 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N + 2);
    /* a kill -9 while a batch's fsync is held: every acknowledged write is
     * back after the restart (the journal was kept) */
    CHECK_CMD(c, "+OK", "DEBUG STORE-SYNC-HOLD on");
    CHECK_EQ(set_kv_many(c, "h", "w", N), N);
    CHECK_CMD(c, ":0", "HSET user:1 name bob");
    pk_send(f, "WB.FLUSH");
    CHECK_EQ(pk_wait_info_ge(c, "store_syncs_pending", 1, 10000), 1);
    CHECK_CMD(c, "stored2", "GET kv:pre2");
    redisFree(f);
    redisFree(c);
    pk_kill(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_wait_serving(c, 60000, NULL), 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'"), N);
    CHECK_CMD(c, "[[w1999]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'h1999'");
    CHECK_CMD(c, "[[bob]]", "SQL.QUERY %s", "SELECT name FROM users WHERE id = 1");
    finish(&e, c);
}

/* The bundled store applies a big batch 128 rows per transaction
 * (write-behind-chunk) and runs
 * the loads queued meanwhile between two (DEBUG STORE-DELAY holds each
 * chunk's answer; STORE-SYNC-HOLD keeps the batch from finishing): a load
 * is answered while the batch is still being applied. A failure after the
 * first chunk leaves the rest dirty, retried; nothing is lost. */
TEST(wb_big_batch_in_chunks) {
    if (pk_pg()) return; /* pgstore: one transaction per batch */
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    pk_exec(c, "INSERT INTO kv VALUES ('pre', 'stored')");
    enum { N = 1000 };
    CHECK_EQ(set_kv_many(c, "c", "v", N), N);
    /* no load has run yet: the batch is one transaction */
    long long tx = pk_info(c, "store_transactions");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "store_transactions") - tx, 1);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N + 1);
    /* loads arrive (this one finds no row): batches go in chunks */
    CHECK_CMD(c, "(nil)", "GET kv:absent1");
    CHECK_EQ(set_kv_many(c, "c", "u", N), N);
    tx = pk_info(c, "store_transactions");
    CHECK_CMD(c, "+OK", "DEBUG STORE-SYNC-HOLD on");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 150");
    pk_send(f, "WB.FLUSH");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 5000) >= 1);
    CHECK_CMD(c, "stored", "GET kv:pre");
    /* answered before the batch's last chunk was applied */
    CHECK_EQ(pk_info(c, "store_syncs_pending"), 0);
    CHECK(pk_info(c, "store_transactions") - tx < (N + 1 + 127) / 128);
    CHECK_EQ(pk_wait_info_ge(c, "store_syncs_pending", 1, 30000), 1);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "+OK", "DEBUG STORE-SYNC-HOLD off");
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_EQ(pk_info(c, "store_transactions") - tx, (N + 1 + 127) / 128);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N + 1);
    /* a failure after the first chunk: its rows stay, the others are retried */
    CHECK_EQ(set_kv_many(c, "c", "w", N), N);
    long long retries = pk_info(c, "wb_retries");
    CHECK_CMD(c, "(nil)", "GET kv:absent2");
    tx = pk_info(c, "store_transactions");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 150");
    pk_send(f, "WB.FLUSH");
    /* the first chunk committed: the failure strikes a later one */
    CHECK(pk_wait_info_ge(c, "store_transactions", tx + 1, 10000) >= tx + 1);
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
    r = pk_recv_str(f);
    CHECK(r && !strncmp(r, "-BACKEND write-behind flush failed: injected", 44));
    free(r);
    CHECK_EQ(pk_info(c, "wb_retries"), retries + 1);
    long long pending = pk_info(c, "wb_pending");
    int written = query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'");
    printf("a failure between chunks: %d rows written, %lld keys pending\n", written, pending);
    CHECK(written >= 128 && written < N && written % 128 == 0);
    CHECK_EQ(pending, N - written);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'"), N);
    /* write-behind-chunk 0: one transaction */
    redisReply *bad = pk_cmd(c, "CONFIG SET write-behind-chunk -1");
    CHECK(bad && bad->type == REDIS_REPLY_ERROR);
    if (bad) freeReplyObject(bad);
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-chunk 0");
    CHECK_EQ(set_kv_many(c, "c", "x", N), N);
    tx = pk_info(c, "store_transactions");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "store_transactions") - tx, 1);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'x%'"), N);
    redisFree(f);
    finish(&e, c);
}

/* Mappings cannot change under pending writes; a key written in the same
 * loop turn as CONFIG SET map, or a negative entry from before it, must not
 * keep the old (freed) mapping. */
TEST(wb_config_set_map_with_pending) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "SET kv:x 1");
    redisReply *r = pk_cmd(c, "CONFIG SET map %s", MAPS);
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "WB.FLUSH"));
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "(nil)", "GET kv:neg"); /* a negative entry */
    pk_send(c, "SET kv:y 2");            /* one packet: SET, then the reload */
    pk_send(c, "CONFIG SET map %s", MAPS);
    char *s1 = pk_recv_str(c), *s2 = pk_recv_str(c);
    CHECK_STR(s1, "+OK");
    printf("CONFIG SET map right after a write: %s\n", s2);
    free(s1);
    free(s2);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", MAPS);
    CHECK_CMD(c, "+OK", "SET kv:neg 3");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[2],[3]]", "SQL.QUERY %s",
              "SELECT v FROM kv WHERE id IN ('y', 'neg') ORDER BY v");
    finish(&e, c);
}

/* No reply leaves before the journal record it acknowledges is committed.
 * With the journal's fsyncs held (journal-fsync always) a write's record is
 * written but not committed, and its reply stays in the server while other
 * clients are served; released, the reply arrives. */
TEST(wb_reply_waits_for_journal_commit) {
    pk_env e;
    const char *extra[] = {"--journal-fsync", "always", NULL};
    redisContext *c = start(&e, extra);
    if (!c) return;
    redisContext *w = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG JOURNAL-HOLD on");
    long long before = pk_info(c, "journal_last_seq");
    pk_send(w, "SET kv:held v1");
    /* the record is appended in the before-sleep that flushes replies: once
     * INFO shows it, the reply would already be in w's socket if it had left */
    CHECK_EQ(pk_wait_info_ge(c, "journal_last_seq", before + 1, 5000), before + 1);
    CHECK_EQ(pk_info(c, "journal_committed_seq"), before);
    struct pollfd p = {w->fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 200), 0);
    CHECK_CMD(c, "v1", "GET kv:held"); /* others are served meanwhile */
    CHECK_CMD(c, "+OK", "DEBUG JOURNAL-HOLD off");
    char *s = pk_recv_str(w);
    CHECK_STR(s, "+OK");
    free(s);
    CHECK_EQ(pk_info(c, "journal_committed_seq"), before + 1);
    /* a pipeline behind the held write waits with it, in order */
    CHECK_CMD(c, "+OK", "DEBUG JOURNAL-HOLD on");
    pk_send(w, "SET kv:held v2");
    pk_send(w, "GET kv:held");
    CHECK_EQ(pk_wait_info_ge(c, "journal_last_seq", before + 2, 5000), before + 2);
    CHECK_EQ(poll(&p, 1, 200), 0);
    CHECK_CMD(c, "+OK", "DEBUG JOURNAL-HOLD off");
    s = pk_recv_str(w);
    CHECK_STR(s, "+OK");
    free(s);
    s = pk_recv_str(w);
    CHECK_STR(s, "v2");
    free(s);
    redisFree(w);
    finish(&e, c);
}

/* The barrier holds for replies written before the turn's journal commit:
 * a busy script's polling writes other clients' replies mid-turn. A write
 * and a long script arrive together (queued behind a short blocking script);
 * while the script is busy the write's reply must not go out. */
TEST(wb_reply_waits_during_busy_script) {
    pk_env e;
    const char *extra[] = {"--journal-fsync", "always", "--busy-reply-threshold", "50", NULL};
    redisContext *c = start(&e, extra);
    if (!c) return;
    redisContext *w = srv_connect(&e.s), *b = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG JOURNAL-HOLD on");
    const char *spin = "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
                       "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > "
                       "tonumber(ARGV[1]) * 1000 return 1";
    pk_send(c, "EVAL %s 0 %s", spin, "40");  /* blocks the loop, not yet busy */
    pk_send(w, "SET kv:busy v1");            /* both read in the turn after it */
    pk_send(b, "EVAL %s 0 %s", spin, "300"); /* busy: polls and writes others */
    char *s = pk_recv_str(c);
    CHECK_STR(s, ":1");
    free(s);
    s = pk_recv_str(b);
    CHECK_STR(s, ":1");
    free(s);
    struct pollfd p = {w->fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 100), 0);
    CHECK_CMD(c, "+OK", "DEBUG JOURNAL-HOLD off");
    s = pk_recv_str(w);
    CHECK_STR(s, "+OK");
    free(s);
    redisFree(w);
    redisFree(b);
    finish(&e, c);
}

/* Pipelines many writes (one reply each, checked for errors). */
static void pipeline_cmds(redisContext *c, const char *fmt, int from, int to, int step) {
    int n = 0;
    for (int i = from; i < to; i += step, n++) redisAppendCommand(c, fmt, i, i);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            CHECK(0);
            return;
        }
        CHECK(r->type != REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
}

/* The loop's quick path for one-key writes, and per-key state recycled
 * from flushed keys: rounds of writes over the same keys (new values,
 * deletes, a key deleted and set again in one pipeline, keys longer than
 * the recycled entries hold), each flushed, end with store equal to cache;
 * a refused shape and an INCR of a flushed key take the same path. */
TEST(wb_keys_reused_across_batches) {
    pk_env e;
    const char *args[] = {"--write-behind-batch", "300", NULL};
    redisContext *c = start(&e, args);
    if (!c) return;
    enum { N = 2000 };
    pipeline_cmds(c, "SET kv:k%d v%d", 0, N, 1);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N);
    pipeline_cmds(c, "SET kv:k%d w%d", 0, N, 2);
    pipeline_cmds(c, "DEL kv:k%d", 1, N, 4); /* the format's second %d is unused */
    pipeline_cmds(c, "DEL kv:k%d", 0, N, 10);
    pipeline_cmds(c, "SET kv:k%d again%d", 0, N, 20);
    pipeline_cmds(c, "SET kv:long-key-beyond-the-recycled-room-%040d v%d", 0, 50, 1);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'"), N / 2 - N / 10);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'again%'"), N / 20);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE id LIKE 'long-key%'"), 50);
    /* a mapped string key takes no list, through the quick path too */
    redisReply *r = pk_cmd(c, "LPUSH kv:k2 x");
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "WRONGTYPE", 9));
    if (r) freeReplyObject(r);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_CMD(c, "+OK", "SET kv:n 41");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, ":42", "INCR kv:n");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[42]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'n'");
    /* and once more over recycled state: every key a new value */
    pipeline_cmds(c, "SET kv:k%d z%d", 0, N, 1);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'z%'"), N);
    finish(&e, c);
}

/* A write's map comes from its entry's tag, and a key of no map is
 * remembered as such for the write's own key-modified hook: both are
 * facts of one set of maps. A key written while no map covered it is
 * write-behind once a map does; an expired entry of a write-behind key
 * and one of a key of no map are overwritten as absent. */
TEST(wb_map_of_written_entry) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    pk_exec(c, "CREATE TABLE IF NOT EXISTS kv2 (id TEXT PRIMARY KEY, v TEXT)");
    CHECK_CMD(c, "+OK", "SET other:1 a"); /* no map: nothing pending */
    CHECK_CMD(c, "+OK", "SET other:1 a2");
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    char maps2[512];
    snprintf(maps2, sizeof maps2, "%s; kv2 other:{id} mode write-behind column v", MAPS);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", maps2);
    CHECK_CMD(c, "+OK", "SET other:1 b"); /* the entry's tag is of the old maps */
    CHECK_EQ(pk_info(c, "wb_pending"), 1);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[b]]", "SQL.QUERY %s", "SELECT v FROM kv2 WHERE id = '1'");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", MAPS); /* and back: no map again */
    CHECK_CMD(c, "+OK", "SET other:1 c");
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_CMD(c, "[[b]]", "SQL.QUERY %s", "SELECT v FROM kv2 WHERE id = '1'");
    /* expired entries, left in place (no active expiry) */
    CHECK_CMD(c, "+OK", "DEBUG SET-ACTIVE-EXPIRE 0");
    CHECK_CMD(c, "+OK", "SET kv:e 1 PX 1");
    CHECK_CMD(c, "+OK", "SET plain:e 1 PX 1");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "+OK", "DEBUG SLEEP 0.01");
    /* expired: kv:e's row is loaded again (a miss), plain:e is absent */
    CHECK_CMD(c, "(nil)", "SET kv:e 2 NX");
    CHECK_CMD(c, "1", "GET kv:e");
    CHECK_CMD(c, ":-1", "PTTL kv:e");
    CHECK_CMD(c, "+OK", "SET kv:e 3 PX 1");
    CHECK_CMD(c, "+OK", "DEBUG SLEEP 0.01");
    CHECK_CMD(c, "+OK", "SET kv:e 2"); /* over the expired entry */
    CHECK_CMD(c, "+OK", "SET plain:e 2 NX");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[2]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'e'");
    CHECK_CMD(c, "2", "GET kv:e");
    CHECK_CMD(c, ":-1", "PTTL kv:e");
    CHECK_CMD(c, "2", "GET plain:e");
    CHECK_CMD(c, ":-1", "PTTL plain:e");
    finish(&e, c);
}

/* ---- batch work in slices (DEBUG WB-SLICE) ---- */

/* Batch work held at `slice` keys per slice, n keys kv:<prefix>0.. written
 * with values <val>0.., and f waiting in WB.FLUSH for the batch it starts
 * (nothing of it built yet). */
static void hold_flush(redisContext *c, redisContext *f, int slice, const char *prefix,
                       const char *val, int n) {
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE %d", slice);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE hold");
    CHECK_EQ(set_kv_many(c, prefix, val, n), n);
    pk_send(f, "WB.FLUSH");
    CHECK_EQ(pk_wait_info_ge(c, "blocked_clients", 1, 5000), 1);
}

/* A batch bigger than one slice is built and finished over many loop turns,
 * at most one slice a turn, and written whole. */
TEST(wb_slices_write_whole_batch) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    CHECK_CMD(c, "-ERR DEBUG WB-SLICE <keys>|hold|step|release", "DEBUG WB-SLICE");
    CHECK_CMD(c, "-ERR keys per slice must be between 1 and 2147483647", "DEBUG WB-SLICE 0");
    redisReply *r = pk_cmd(c, "DEBUG WB-SLICE many");
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "-ERR no write-behind batch is being built or finished", "DEBUG WB-SLICE step");
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE 7");
    enum { N = 500 };
    CHECK_EQ(set_kv_many(c, "s", "v", N), N);
    for (int i = 0; i < 20; i++) CHECK_CMD(c, ":2", "HSET user:%d name n%d age %d", i, i, i);
    long long s0 = pk_info(c, "wb_batch_slices"), b0 = pk_info(c, "wb_batches");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    long long ds = pk_info(c, "wb_batch_slices") - s0;
    printf("%d keys in slices of 7: one batch, %lld slices\n", N + 20, ds);
    CHECK_EQ(pk_info(c, "wb_batches") - b0, 1);
    /* built and finished 7 keys a slice at most: both phases take 75 */
    CHECK(ds >= 2 * ((N + 20 + 6) / 7));
    CHECK_EQ(pk_info(c, "wb_batch_outcomes_left"), 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM users"), 20);
    /* a client is served between two slices: with one key a slice, INFO
     * sees the outcomes half processed */
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE 1");
    enum { M = 10000 };
    CHECK_EQ(set_kv_many(c, "t", "v", M), M);
    redisContext *f = srv_connect(&e.s);
    pk_send(f, "WB.FLUSH");
    int between = 0, polls = 0, full = 0;
    for (; polls < 200000 && !between; polls++) {
        long long left = pk_info(c, "wb_batch_outcomes_left");
        between = left > 0 && left < M;
        full += left == M;
        if (!left && !pk_info(c, "wb_pending")) break;
    }
    printf("outcomes of %d keys, one a slice: %d polls, %d saw all left, half done seen: %d\n", M,
           polls, full, between);
    CHECK(between);
    char *fr = pk_recv_str(f);
    CHECK_STR(fr, "+OK");
    free(fr);
    redisFree(f);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N + M);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE 256");
    finish(&e, c);
}

/* Writes to keys of a batch whose outcomes are half processed: a key
 * already processed is dirty again as usual, one not yet processed is
 * still in flight; both end with their newest state in the store. */
TEST(wb_slices_write_during_outcomes) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE 4");
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE hold");
    enum { N = 40 };
    CHECK_EQ(set_kv_many(c, "o", "v", N), N);
    CHECK_CMD(c, ":2", "HSET user:1 name ann age 3");
    pk_send(f, "WB.FLUSH");
    CHECK_EQ(pk_wait_info_ge(c, "blocked_clients", 1, 5000), 1);
    /* the build, one slice a step: 41 keys, 4 a slice */
    for (int i = 0; i < (N + 1 + 3) / 4; i++) CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step");
    CHECK_EQ(pk_wait_info_eq(c, "wb_batch_outcomes_left", N + 1, 10000), N + 1);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step"); /* kv:o0..o3 processed */
    CHECK_EQ(pk_info(c, "wb_batch_outcomes_left"), N - 3);
    CHECK_EQ(pk_info(c, "wb_pending"), N - 3);
    CHECK_CMD(c, "+OK", "SET kv:o1 new1");   /* processed: dirty again */
    CHECK_CMD(c, "+OK", "SET kv:o30 new30"); /* not yet: in flight */
    CHECK_CMD(c, "+OK", "SET kv:o31 v31");   /* the same state: no change */
    CHECK_CMD(c, ":1", "DEL kv:o32");
    CHECK_CMD(c, ":1", "HSET user:1 email a@x");
    CHECK_EQ(pk_info(c, "wb_batch_outcomes_left"), N - 3);
    CHECK_EQ(pk_info(c, "blocked_clients"), 1);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE release");
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_CMD(c, "[[new1]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'o1'");
    CHECK_CMD(c, "[[new30]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'o30'");
    CHECK_CMD(c, "[[v31]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'o31'");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'o32'");
    CHECK_CMD(c, "[[ann,a@x,:3]]", "SQL.QUERY %s",
              "SELECT name, email, age FROM users WHERE id = 1");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N - 1);
    redisFree(f);
    finish(&e, c);
}

/* A key written again while its batch is still being built: the batch
 * holds its older state, so the batch's watermark must not pass the newer
 * record; a kill -9 before the next batch loses nothing. */
TEST(wb_slices_write_during_build_then_kill) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    enum { N = 20 };
    hold_flush(c, f, 2, "b", "v", N);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step"); /* kv:b0, kv:b1 taken */
    CHECK_CMD(c, "+OK", "SET kv:b0 newer");
    CHECK_CMD(c, "+OK", "SET kv:b25 added"); /* a key dirtied during the build */
    /* the batch was N keys when its build began: kv:b25 is left out */
    for (int i = 1; i < N / 2; i++) CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step");
    /* written and committed; its outcomes held: the next batch has not run */
    CHECK_EQ(pk_wait_info_eq(c, "wb_batch_outcomes_left", N, 10000), N);
    CHECK_CMD(c, "[[v0]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'b0'");
    redisFree(f);
    redisFree(c);
    pk_kill(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_wait_serving(c, 60000, NULL), 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_CMD(c, "[[newer]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'b0'");
    CHECK_CMD(c, "[[added]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'b25'");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N + 1);
    finish(&e, c);
}

/* A transient store failure of a batch finished in slices: every key is
 * retried, nothing lost; a failure after the first chunk (bundled store)
 * leaves the unwritten keys dirty, processed slice by slice. */
TEST(wb_slices_transient_failure) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE 5");
    enum { N = 300 };
    CHECK_EQ(set_kv_many(c, "f", "v", N), N);
    long long retries = pk_info(c, "wb_retries");
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
    redisReply *r = pk_cmd(c, "WB.FLUSH");
    CHECK(r && r->type == REDIS_REPLY_ERROR &&
          !strncmp(r->str, "BACKEND write-behind flush failed", 33));
    if (r) freeReplyObject(r);
    CHECK_EQ(pk_info(c, "wb_retries"), retries + 1);
    CHECK_EQ(pk_info(c, "wb_pending"), N);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), 0);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N);
    if (!pk_pg()) { /* pgstore: one transaction per batch */
        redisContext *f = srv_connect(&e.s);
        CHECK_CMD(c, "(nil)", "GET kv:absent"); /* a load: batches go in chunks */
        CHECK_EQ(set_kv_many(c, "f", "w", N), N);
        long long tx = pk_info(c, "store_transactions");
        CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 150");
        pk_send(f, "WB.FLUSH");
        CHECK(pk_wait_info_ge(c, "store_transactions", tx + 1, 10000) >= tx + 1);
        CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
        char *s = pk_recv_str(f);
        CHECK(s && !strncmp(s, "-BACKEND write-behind flush failed: injected", 44));
        free(s);
        long long pending = pk_info(c, "wb_pending");
        int written = query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'");
        CHECK(written >= 128 && written < N);
        CHECK_EQ(pending, N - written);
        CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
        CHECK_CMD(c, "+OK", "WB.FLUSH");
        CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'"), N);
        redisFree(f);
    }
    finish(&e, c);
}

/* SIGTERM while a batch is half built, and while one is half finished:
 * the shutdown completes them and flushes the rest; the restart finds
 * everything in the store. */
TEST(wb_slices_shutdown_mid_batch) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    redisContext *f = srv_connect(&e.s);
    enum { N = 60 };
    hold_flush(c, f, 3, "p", "v", N);
    for (int i = 0; i < N / 3; i++) CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step");
    CHECK_EQ(pk_wait_info_eq(c, "wb_batch_outcomes_left", N, 10000), N);
    CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step");
    CHECK_CMD(c, "+OK", "SET kv:p0 new0");   /* processed */
    CHECK_CMD(c, "+OK", "SET kv:p59 new59"); /* not yet */
    CHECK_CMD(c, "+OK", "SET kv:p99 new99"); /* not in the batch */
    redisFree(f);
    redisFree(c);
    pk_stop(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_info(c, "loading"), 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv"), N + 1);
    CHECK_CMD(c, "[[new0]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'p0'");
    CHECK_CMD(c, "[[new59]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'p59'");
    CHECK_CMD(c, "[[new99]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'p99'");
    /* and half built */
    f = srv_connect(&e.s);
    hold_flush(c, f, 3, "p", "w", N);
    for (int i = 0; i < 5; i++) CHECK_CMD(c, "+OK", "DEBUG WB-SLICE step");
    CHECK_CMD(c, "+OK", "SET kv:p1 new1"); /* taken */
    redisFree(f);
    redisFree(c);
    pk_stop(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'"), N - 1);
    CHECK_CMD(c, "[[new1]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'p1'");
    finish(&e, c);
}

/* Bytes of a file, -1 when absent. */
static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Once every key is in the store the journal is emptied by renaming the
 * spare over it (journal.c, invariant 6), again and again; writes after each
 * time survive a kill -9, and a clean stop removes the spare. */
TEST(wb_journal_emptied_by_spare) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    char spare[sizeof e.journal + 8];
    snprintf(spare, sizeof spare, "%s.spare", e.journal);
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(set_kv_many(c, "j", (const char *[]){"u", "v", "w"}[round], 2000), 2000);
        long long jsize = file_size(e.journal);
        CHECK(jsize > 4096);
        if (jsize <= 4096) printf("round %d: journal of %lld bytes\n", round, jsize);
        CHECK_CMD(c, "+OK", "WB.FLUSH");
        CHECK_EQ(pk_info(c, "journal_bytes"), 8);
        CHECK(file_size(e.journal) >= 8 && file_size(e.journal) < 4096);
        /* the syncer makes the next spare */
        for (int i = 0; i < 200 && file_size(spare) != 8; i++) pk_sleep_ms(10);
        CHECK_EQ(file_size(spare), 8);
    }
    CHECK_CMD(c, "+OK", "SET kv:after x");
    CHECK_CMD(c, ":2", "HSET user:9 name ned age 4");
    CHECK(file_size(e.journal) > 8);
    redisFree(c);
    pk_kill(&e);
    c = start_args(&e, NULL, 0);
    if (!c) return;
    CHECK_EQ(pk_wait_serving(c, 60000, NULL), 0);
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_CMD(c, "[[x]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = 'after'");
    CHECK_CMD(c, "[[ned,:4]]", "SQL.QUERY %s", "SELECT name, age FROM users WHERE id = 9");
    CHECK_EQ(query_count(c, "SELECT count(*) FROM kv WHERE v LIKE 'w%'"), 2000);
    check_all(c);
    redisFree(c);
    pk_stop(&e);
    CHECK_EQ(file_size(spare), -1);
    pk_cleanup(&e);
}

int main(void) {
    RUN(wb_write_then_flush);
    RUN(wb_coalescing);
    RUN(wb_keys_reused_across_batches);
    RUN(wb_per_key_order);
    RUN(wb_lag_counts_from_the_write_in_flight);
    RUN(wb_on_delete);
    RUN(wb_busy_above_max_pending);
    RUN(wb_retry_with_backoff);
    RUN(wb_dead_letters);
    RUN(wb_refused_state_superseded);
    RUN(wb_deadletter_atomic_with_batch);
    RUN(wb_dirty_never_evicted);
    RUN(wb_dirty_reads_stay_in_cache);
    RUN(wb_shutdown_flushes);
    RUN(wb_shutdown_with_parked_write);
    RUN(wb_restart_replays_journal);
    RUN(wb_load_not_behind_batch_fsync);
    RUN(wb_big_batch_in_chunks);
    RUN(wb_config_set_map_with_pending);
    RUN(wb_reply_waits_for_journal_commit);
    RUN(wb_reply_waits_during_busy_script);
    RUN(wb_map_of_written_entry);
    RUN(wb_slices_write_whole_batch);
    RUN(wb_slices_write_during_outcomes);
    RUN(wb_slices_write_during_build_then_kill);
    RUN(wb_slices_transient_failure);
    RUN(wb_slices_shutdown_mid_batch);
    RUN(wb_journal_emptied_by_spare);
    return test_report();
}
