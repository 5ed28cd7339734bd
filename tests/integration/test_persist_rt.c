/* Read-through: a miss loads the row on the store thread, concurrent
 * misses share one load, a missing row becomes a negative entry for
 * negative-ttl, SQL.EXEC invalidates, a failed load answers -BACKEND to every
 * waiter, XFetch refreshes early. Every test ends with "store equals cache
 * after WB.FLUSH".
 *
 * The tables are created over RESP (SQL.EXEC) on a server that has no maps
 * yet, then the maps arrive with CONFIG SET map (a reload of the mappings). */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define PRODUCT_COLS "name,price"

static void setup(redisContext *c, const char *extra_maps) {
    pk_exec(c, "CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, price INTEGER)");
    pk_exec(c, "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)");
    pk_exec(c,
            "INSERT INTO products VALUES ('p1', 'apple', 3), ('p2', 'pear', 4), ('p3', 'plum', 5)");
    pk_exec(c, "INSERT INTO notes VALUES ('n1', 'hello'), ('n2', 'stored')");
    char maps[512];
    snprintf(maps, sizeof(maps),
             "products product:{sku} mode read-through ttl 600; notes note:{id} mode read-through "
             "column body ttl 600%s",
             extra_maps ? extra_maps : "");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", maps);
}

static void check_all(redisContext *c) {
    PK_CHECK_MAP(c, "products", "product:", "sku", NULL, PRODUCT_COLS);
    PK_CHECK_MAP(c, "notes", "note:", "id", "body", NULL);
}

static redisContext *start(pk_env *e, const char *const *extra, const char *extra_maps) {
    memset(e, 0, sizeof(*e));
    if (pk_start(e, extra) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (c) setup(c, extra_maps);
    return c;
}

static void finish(pk_env *e, redisContext *c) {
    if (c) {
        check_all(c);
        redisFree(c);
    }
    pk_cleanup(e);
}

TEST(rt_load_then_hit) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    long long loads = pk_info(c, "loads"), misses = pk_info(c, "misses"), hits = pk_info(c, "hits");
    CHECK_CMD(c, "apple", "HGET product:p1 name");
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    CHECK_EQ(pk_info(c, "misses"), misses + 1);
    /* a miss is a miss: the command re-run after its load is not also a hit */
    CHECK_EQ(pk_info(c, "hits"), hits);
    CHECK_CMD(c, "[name,apple,price,3]", "HGETALL product:p1");
    CHECK_CMD(c, "3", "HGET product:p1 price");
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    CHECK_EQ(pk_info(c, "hits"), hits + 2);
    redisReply *r = pk_cmd(c, "TTL product:p1");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 590 && r->integer <= 600);
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "hello", "GET note:n1");
    CHECK_CMD(c, ":5", "STRLEN note:n1");
    CHECK_EQ(pk_info(c, "loads"), loads + 2);
    /* MGET over two misses loads both */
    CHECK_CMD(c, "[stored,(nil)]", "MGET note:n2 note:zz");
    CHECK_EQ(pk_info(c, "loads"), loads + 4);
    finish(&e, c);
}

TEST(rt_negative_entry) {
    pk_env e;
    const char *args[] = {"--negative-ttl", "1", NULL};
    redisContext *c = start(&e, args, NULL);
    if (!c) return;
    long long loads = pk_info(c, "loads");
    CHECK_CMD(c, "[]", "HGETALL product:none");
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    for (int i = 0; i < 5; i++) CHECK_CMD(c, "[]", "HGETALL product:none");
    CHECK_CMD(c, ":0", "EXISTS product:none");
    CHECK_EQ(pk_info(c, "loads"), loads + 1); /* the negative entry answers */
    /* after negative-ttl (1 s) the store is asked again */
    double end = pk_now_ms() + 4000;
    while (pk_info(c, "loads") == loads + 1 && pk_now_ms() < end) {
        CHECK_CMD(c, "[]", "HGETALL product:none");
        pk_sleep_ms(50);
    }
    CHECK_EQ(pk_info(c, "loads"), loads + 2);
    /* a row inserted by SQL.EXEC clears the negative entry at once */
    CHECK_CMD(c, "(nil)", "GET note:new");
    long long l2 = pk_info(c, "loads");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "INSERT INTO notes VALUES ('new', 'fresh')");
    CHECK_CMD(c, "fresh", "GET note:new");
    CHECK_EQ(pk_info(c, "loads"), l2 + 1);
    finish(&e, c);
}

/* negative-ttl 0: absence is not cached, and a miss on a missing row must
 * still answer (the re-run after the load must not load again, forever). */
TEST(rt_negative_ttl_zero) {
    pk_env e;
    const char *args[] = {"--negative-ttl", "0", NULL};
    redisContext *c = start(&e, args, NULL);
    if (!c) return;
    struct timeval tv = {3, 0};
    redisSetTimeout(c, tv);
    long long loads = pk_info(c, "loads");
    CHECK_CMD(c, "(nil)", "GET note:missing");
    CHECK_CMD(c, "[]", "HGETALL product:missing");
    CHECK_CMD(c, "[(nil),(nil)]", "MGET note:m1 note:m2");
    CHECK_EQ(pk_info(c, "loads"), loads + 4);
    CHECK_CMD(c, "(nil)", "GET note:missing");
    CHECK_EQ(pk_info(c, "loads"), loads + 5); /* not cached: asked again */
    finish(&e, c);
}

TEST(rt_invalidation_by_sql_exec) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    CHECK_CMD(c, "apple", "HGET product:p1 name");
    CHECK_CMD(c, "pear", "HGET product:p2 name");
    CHECK_CMD(c, "hello", "GET note:n1");
    long long inv = pk_info(c, "invalidations"), loads = pk_info(c, "loads");
    CHECK_CMD(c, ":1", "SQL.EXEC %s %s %s", "UPDATE products SET name = ? WHERE sku = ?",
              "green apple", "p1");
    CHECK_EQ(pk_info(c, "invalidations"), inv + 1);
    CHECK_CMD(c, "[product:p2]", "KEYS product:*"); /* p1 dropped, p2 kept */
    CHECK_CMD(c, "green apple", "HGET product:p1 name");
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    /* a delete drops the key; the next read finds no row */
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "DELETE FROM notes WHERE id = 'n1'");
    CHECK_CMD(c, "(nil)", "GET note:n1");
    /* a multi-row write invalidates every row it changed */
    CHECK_CMD(c, "[name,pear,price,4]", "HGETALL product:p2");
    CHECK_CMD(c, "[name,plum,price,5]", "HGETALL product:p3");
    CHECK_CMD(c, ":3", "SQL.EXEC %s", "UPDATE products SET price = price * 10");
    CHECK_CMD(c, "[]", "KEYS product:*");
    CHECK_CMD(c, "40", "HGET product:p2 price");
    finish(&e, c);
}

/* A failed load answers -BACKEND to the client and to every waiter that
 * joined it; nothing is cached; the next read loads again. The injected
 * failure is held back by STORE-DELAY like any answer, so every miss joins
 * the one load (a failure answered at once let late misses start a second
 * load, which succeeded). */
TEST(rt_load_failure_all_waiters) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    enum { N = 6 };
    redisContext *w[N];
    for (int i = 0; i < N; i++) w[i] = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 300");
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
    long long coal = pk_info(c, "loads_coalesced"), loads = pk_info(c, "loads");
    double t0 = pk_now_ms();
    for (int i = 0; i < N; i++) redisAppendCommand(w[i], "HGET product:p2 name");
    for (int i = 0; i < N; i++) redisBufferWrite(w[i], &(int){0});
    int backend = 0;
    for (int i = 0; i < N; i++) {
        redisReply *r = NULL;
        if (redisGetReply(w[i], (void **)&r) == REDIS_OK && r && r->type == REDIS_REPLY_ERROR &&
            !strncmp(r->str, "BACKEND load failed", 19))
            backend++;
        else
            fprintf(stderr, "waiter %d: %s\n", i, r ? (r->str ? r->str : "?") : "(lost)");
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(backend, N);
    CHECK(pk_now_ms() - t0 >= 290); /* the failure waited out the delay */
    CHECK_EQ(pk_info(c, "loads_coalesced"), coal + N - 1);
    CHECK_EQ(pk_info(c, "loads"), loads); /* a failed load is not a load */
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "[]", "KEYS product:*");
    CHECK_CMD(c, "pear", "HGET product:p2 name");
    for (int i = 0; i < N; i++) redisFree(w[i]);
    finish(&e, c);
}

/* Single flight: N concurrent misses of one key make one load. */
TEST(rt_single_flight) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    enum { N = 20 };
    redisContext *w[N];
    for (int i = 0; i < N; i++) w[i] = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 100");
    long long coal = pk_info(c, "loads_coalesced"), loads = pk_info(c, "loads"),
              misses = pk_info(c, "misses");
    for (int i = 0; i < N; i++) {
        redisAppendCommand(w[i], i % 2 ? "HGET product:p3 price" : "HGETALL product:p3");
        redisBufferWrite(w[i], &(int){0});
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        redisReply *r = NULL;
        if (redisGetReply(w[i], (void **)&r) == REDIS_OK && r) {
            char *s = reply_str(r);
            ok += !strcmp(s, i % 2 ? "5" : "[name,plum,price,5]");
            free(s);
            freeReplyObject(r);
        }
    }
    CHECK_EQ(ok, N);
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    CHECK_EQ(pk_info(c, "loads_coalesced"), coal + N - 1);
    CHECK_EQ(pk_info(c, "misses"), misses + N);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    for (int i = 0; i < N; i++) redisFree(w[i]);
    finish(&e, c);
}

/* A load must never install an older row over a write made while it was in
 * flight (invariant 2 of readthrough.c), read-through keys included. */
TEST(rt_load_does_not_overwrite_newer_write) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    redisContext *r1 = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 200");
    redisAppendCommand(r1, "GET note:n2");
    redisBufferWrite(r1, &(int){0});
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    CHECK_CMD(c, "+OK", "SET note:n2 newer"); /* a whole-value write needs no load */
    redisReply *r = NULL;
    CHECK(redisGetReply(r1, (void **)&r) == REDIS_OK);
    char *s = reply_str(r);
    CHECK_STR(s, "newer");
    free(s);
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "newer", "GET note:n2");
    /* read-through writes stay in the cache; drop it so the check compares
     * loaded keys only */
    CHECK_CMD(c, ":1", "DEL note:n2");
    redisFree(r1);
    finish(&e, c);
}

/* No stale set with the bundled store: an SQL.EXEC that changes a row
 * while its load is in flight runs after the load (one store thread), so
 * the load answers the row as it was and its invalidation, applied after
 * the load was installed, drops it: the next read sees the new row. */
TEST(rt_sql_exec_during_load_leaves_nothing_stale) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    redisContext *r1 = srv_connect(&e.s), *r2 = srv_connect(&e.s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 200");
    pk_send(r1, "HGET product:p2 name");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    pk_send(r2, "SQL.EXEC %s", "UPDATE products SET name = 'quince' WHERE sku = 'p2'");
    char *s = pk_recv_str(r1);
    CHECK_STR(s, "pear"); /* read before the update */
    free(s);
    s = pk_recv_str(r2);
    CHECK_STR(s, ":1");
    free(s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_CMD(c, "quince", "HGET product:p2 name");
    CHECK_EQ(pk_info(c, "loads_stale"), 0);
    redisFree(r1);
    redisFree(r2);
    finish(&e, c);
}

/* XFetch: with beta > 0 a hit close to expiry starts one background reload;
 * the key is served throughout and never misses. */
TEST(rt_xfetch_refresh_ahead) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    pk_exec(c, "CREATE TABLE IF NOT EXISTS hot (id TEXT PRIMARY KEY, body TEXT)");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "products product:{sku} mode read-through ttl 600; notes note:{id} mode read-through "
              "column body ttl 600; "
              "hot hot:{id} mode read-through column body ttl 1 beta 8");
    pk_exec(c, "INSERT INTO hot VALUES ('k', 'v')");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 30");
    CHECK_CMD(c, "v", "GET hot:k");
    long long misses = pk_info(c, "misses"), early = pk_info(c, "refreshes_early");
    double end = pk_now_ms() + 3500;
    int served = 0, bad = 0;
    while (pk_now_ms() < end) {
        redisReply *r = pk_cmd(c, "GET hot:k");
        if (r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "v"))
            served++;
        else
            bad++;
        if (r) freeReplyObject(r);
        pk_sleep_ms(5);
    }
    CHECK_EQ(bad, 0);
    CHECK(served > 100);
    CHECK_EQ(pk_info(c, "misses"), misses);
    CHECK(pk_info(c, "refreshes_early") >= early + 3);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    PK_CHECK_MAP(c, "hot", "hot:", "id", "body", NULL);
    finish(&e, c);
}

/* Reloading the mappings while a negative entry exists must not leave it
 * pointing at the freed old mapping (ASan catches that). */
/* A key that expires between the read-through check and the command is a
 * miss and loads. The check used the loop turn's clock, the handler a fresh
 * one: a key alive for the first and expired for the second was judged a
 * hit, and the command answered nil for an existing row. Here a busy script
 * pipelined in front (a script does not advance the server's clock) moves
 * time past the expiry. */
TEST(rt_expiry_between_check_and_command) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    CHECK_CMD(c, "apple", "HGET product:p1 name");
    long long loads = pk_info(c, "loads");
    CHECK_CMD(c, ":1", "PEXPIRE product:p1 30");
    redisAppendCommand(c, "EVAL %s 0", "local i = 0 while i < 5000000 do i = i + 1 end return 1");
    redisAppendCommand(c, "HGET product:p1 name");
    char *a = pk_recv_str(c), *b = pk_recv_str(c);
    CHECK_STR(a, ":1");
    CHECK_STR(b, "apple");
    free(a);
    free(b);
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    finish(&e, c);
}

TEST(rt_config_set_map_reload) {
    pk_env e;
    redisContext *c = start(&e, NULL, NULL);
    if (!c) return;
    CHECK_CMD(c, "[]", "HGETALL product:gone");    /* negative entry */
    CHECK_CMD(c, "apple", "HGET product:p1 name"); /* cached */
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "products product:{sku} mode read-through ttl 300; notes note:{id} mode read-through "
              "column body ttl 300");
    CHECK_CMD(c, "[]", "HGETALL product:gone");
    pk_exec(c, "INSERT INTO products VALUES ('gone', 'back', 1)");
    CHECK_CMD(c, "back", "HGET product:gone name");
    redisReply *r = pk_cmd(c, "CONFIG GET map");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          strstr(r->element[1]->str, "ttl 300"));
    if (r) freeReplyObject(r);
    finish(&e, c);
}

int main(void) {
    RUN(rt_load_then_hit);
    RUN(rt_negative_entry);
    RUN(rt_negative_ttl_zero);
    RUN(rt_invalidation_by_sql_exec);
    RUN(rt_load_failure_all_waiters);
    RUN(rt_single_flight);
    RUN(rt_load_does_not_overwrite_newer_write);
    RUN(rt_sql_exec_during_load_leaves_nothing_stale);
    RUN(rt_xfetch_refresh_ahead);
    RUN(rt_expiry_between_check_and_command);
    RUN(rt_config_set_map_reload);
    return test_report();
}
