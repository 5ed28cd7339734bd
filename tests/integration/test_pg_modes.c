/* larder-server with pgstore in front of a fresh PostgreSQL (pgkit): what
 * only a store behind a connection has.
 *  - the server's own tables (wb_meta, wb_deadletter) are created by the
 *    server in PostgreSQL's types (bigint, bytea): a lock-token ceiling
 *    above int4 and a dead letter with binary key bytes are stored;
 *  - a quoted loadmodule argument stays one argument (CONFIG GET shows it
 *    quoted);
 *  - store-connections: a slow statement (pg_sleep) does not hold up
 *    read-through loads; and with two lanes, a load never caches a value
 *    older than a write that completed while it was in flight;
 *  - INFO shows the connection state through a PostgreSQL crash (kill -9)
 *    and restart: reconnecting, down, connected again, with the count of
 *    reconnects and the last error.
 * Each test ends with "store equals cache after WB.FLUSH". */
#include "pgkit.h"
#include "pkit.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static redisContext *start(pk_env *e, const char *const *extra) {
    memset(e, 0, sizeof(*e));
    if (pk_start(e, extra) != 0) {
        CHECK(0);
        return NULL;
    }
    return srv_connect(&e->s);
}

static long long query_int(redisContext *c, const char *sql) {
    redisReply *r = pk_cmd(c, "SQL.QUERY %s", sql);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 1 &&
        r->element[0]->element[0]->type == REDIS_REPLY_INTEGER)
        v = r->element[0]->element[0]->integer;
    else
        fprintf(stderr, "%s -> %s\n", sql, r && r->str ? r->str : "?");
    if (r) freeReplyObject(r);
    return v;
}

/* Nothing created by hand: the server makes its tables at start. */
TEST(server_tables_in_pg_types) {
    pk_env e;
    /* without the check before the reply, the refused row reaches the dead letter */
    const char *extra[] = {"--write-behind-delay-ms", "10", "--write-behind-check", "no", NULL};
    redisContext *c = start(&e, extra);
    if (!c) return;
    CHECK_CMD(c,
              "[[at,bigint],[error,text],[id,bigint],[key,bytea],[map,text],[op,text],[state,"
              "bytea]]",
              "SQL.QUERY %s",
              "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE "
              "table_name = 'wb_deadletter' ORDER BY 1");
    CHECK_CMD(c, "[[name,text],[value,bigint]]", "SQL.QUERY %s",
              "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE "
              "table_name = 'wb_meta' ORDER BY 1");
    /* the fencing-token ceiling is microseconds since 1970: far above int4 */
    CHECK(query_int(c, "SELECT value FROM wb_meta WHERE name = 'lock_token_ceiling'") >
          (1LL << 40));
    /* a dead letter: key bytes (not UTF-8) and state go to bytea columns */
    pk_exec(c, "CREATE TABLE acct (id text PRIMARY KEY, n int CHECK (n >= 0))");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "acct acct:{id} mode write-behind");
    CHECK_CMD(c, ":1", "HSET %b n -5", "acct:\xff\x01", (size_t)7);
    CHECK_CMD(c, ":1", "HSET acct:ok n 5");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_deadletter"), 1);
    CHECK_CMD(c, "[[:7,616363743aff01]]", "SQL.QUERY %s",
              "SELECT length(key), encode(key, 'hex') FROM wb_deadletter");
    redisReply *r = pk_cmd(c, "WB.DEADLETTER LIST");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 6 &&
          r->element[0]->element[2]->len == 7 &&
          !memcmp(r->element[0]->element[2]->str, "acct:\xff\x01", 7));
    if (r) freeReplyObject(r);
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP 0");
    r = pk_cmd(c, "DEL %b", "acct:\xff\x01", (size_t)7); /* the refused value, if still cached */
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    PK_CHECK_MAP(c, "acct", "acct:", "id", NULL, "n");
    redisFree(c);
    /* a second start finds the tables and the watermark where they were */
    pk_stop(&e);
    c = start(&e, extra);
    if (c) {
        CHECK_CMD(c, "[[:0]]", "SQL.QUERY %s", "SELECT count(*) FROM wb_deadletter");
        redisFree(c);
    }
    pk_cleanup(&e);
}

/* pk_start passes the connection string as one argument with spaces: it
 * reached the module whole (the server is up), and CONFIG GET quotes it. */
TEST(quoted_loadmodule_argument) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    char want[1200];
    snprintf(want, sizeof(want), "[loadmodule,%s \"%s\"]", pk_module_path(), pg_conninfo());
    CHECK_CMD(c, want, "CONFIG GET loadmodule");
    redisFree(c);
    pk_stop(&e);
    /* a configuration file with the quoted line; CONFIG REWRITE writes it back
     * so that it splits the same way at the next start */
    char conf[400], line[1200];
    snprintf(conf, sizeof(conf), "%s/larder.conf", e.data);
    FILE *f = fopen(conf, "w");
    CHECK(f != NULL);
    if (!f) return;
    snprintf(line, sizeof(line), "loadmodule %s \"%s\"\n", pk_module_path(), pg_conninfo());
    fprintf(f, "%sjournal-path %s\nstore-connections 2\n", line, e.journal);
    fclose(f);
    for (int round = 0; round < 2; round++) {
        srv s;
        CHECK_EQ(srv_start_conf(&s, conf, NULL), 0);
        c = srv_connect(&s);
        CHECK_CMD(c, want, "CONFIG GET loadmodule");
        CHECK_CMD(c, "[[:1]]", "SQL.QUERY %s", "SELECT 1");
        CHECK_CMD(c, "+OK", "CONFIG REWRITE");
        redisFree(c);
        srv_stop(&s);
    }
    f = fopen(conf, "r");
    char text[4096] = "";
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f) fclose(f);
    CHECK(strstr(text, line) != NULL);
    pk_cleanup(&e);
}

static void make_products(redisContext *c) {
    pk_exec(c, "CREATE TABLE products (sku text PRIMARY KEY, name text)");
    pk_exec(c, "INSERT INTO products SELECT 'k' || i, 'name' || i FROM generate_series(0, 999) i");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "products product:{sku} mode read-through ttl 600");
}

/* 100 read-through loads while SELECT pg_sleep(2) runs: wall time of the
 * loads in ms; *sleep_done tells whether the statement had answered when
 * the last load did. */
static double loads_during_sleep(pk_env *e, redisContext *c, int *sleep_done) {
    redisContext *slow = srv_connect(&e->s);
    pk_send(slow, "SQL.QUERY %s", "SELECT pg_sleep(2)");
    /* the statement is on the store's side once its client is blocked */
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 3000) >= 1);
    double t0 = pk_now_ms();
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        redisReply *r = pk_cmd(c, "HGET product:k%d name", i);
        char want[32];
        snprintf(want, sizeof(want), "name%d", i);
        ok += r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, want);
        if (r) freeReplyObject(r);
    }
    double ms = pk_now_ms() - t0;
    CHECK_EQ(ok, 100);
    struct pollfd p = {slow->fd, POLLIN, 0};
    *sleep_done = poll(&p, 1, 0) > 0;
    char *s = pk_recv_str(slow);
    CHECK_STR(s, "[[]]"); /* pg_sleep returns void: an empty text */
    free(s);
    redisFree(slow);
    return ms;
}

TEST(slow_statement_does_not_hold_loads) {
    pk_env e;
    const char *two[] = {"--store-connections", "2", NULL};
    redisContext *c = start(&e, two);
    if (!c) return;
    make_products(c);
    CHECK_EQ(pk_info(c, "store_connections"), 2);
    int done = 1;
    double ms = loads_during_sleep(&e, c, &done);
    printf("store-connections 2: 100 loads in %.0f ms during pg_sleep(2)\n", ms);
    CHECK(ms < 1000);
    CHECK_EQ(done, 0);
    PK_CHECK_MAP(c, "products", "product:", "sku", NULL, "name");
    redisFree(c);
    pk_cleanup(&e);
    /* one connection: the loads wait behind the statement (what the pool is for) */
    c = start(&e, NULL);
    if (!c) return;
    make_products(c);
    CHECK_EQ(pk_info(c, "store_connections"), 1);
    ms = loads_during_sleep(&e, c, &done);
    printf("store-connections 1: 100 loads in %.0f ms during pg_sleep(2)\n", ms);
    CHECK(ms > 1000);
    PK_CHECK_MAP(c, "products", "product:", "sku", NULL, "name");
    redisFree(c);
    pk_cleanup(&e);
}

/* Two lanes, many rounds: a load races a write of the same key — a
 * statement on the other lane (SQL.EXEC UPDATE, which invalidates), a
 * write-through or a write-behind write. Once both are answered, the cache
 * holds the write (or nothing), never the value the load read before it. */
TEST(load_never_older_than_completed_write) {
    pk_env e;
    const char *extra[] = {"--store-connections", "3", "--write-behind-delay-ms", "5", NULL};
    redisContext *c = start(&e, extra);
    if (!c) return;
    redisContext *a = srv_connect(&e.s), *b = srv_connect(&e.s);
    pk_exec(c, "CREATE TABLE notes (id text PRIMARY KEY, body text)");
    pk_exec(c, "CREATE TABLE sess (id text PRIMARY KEY, data text)");
    pk_exec(c, "CREATE TABLE wbk (id text PRIMARY KEY, v text)");
    pk_exec(c, "INSERT INTO notes VALUES ('k', 'v-1')");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "notes note:{id} mode read-through column body ttl 600; sess s:{id} mode "
              "write-through column data ttl 600; wbk w:{id} mode write-behind column v ttl 600");
    enum { ROUNDS = 100 };
    int stale = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char v[32];
        snprintf(v, sizeof(v), "v%d", i);
        /* a statement on another lane */
        pk_send(a, "GET note:k");
        pk_send(b, "SQL.EXEC %s %s", "UPDATE notes SET body = ? WHERE id = 'k'", v);
        char *ra = pk_recv_str(a), *rb = pk_recv_str(b);
        CHECK_STR(rb, ":1");
        free(ra);
        free(rb);
        char *now = cmd_str(c, "GET note:k");
        stale += strcmp(now, v) != 0;
        if (strcmp(now, v)) fprintf(stderr, "round %d: note:k is %s, not %s\n", i, now, v);
        free(now);
        /* a write-through and a write-behind write of a key being loaded */
        pk_send(a, "MGET s:%d w:%d", i, i);
        pk_send(b, "MSET s:%d %s w:%d %s", i, v, i, v);
        ra = pk_recv_str(a);
        rb = pk_recv_str(b);
        CHECK_STR(rb, "+OK");
        free(ra);
        free(rb);
        char want[80];
        snprintf(want, sizeof(want), "[%s,%s]", v, v);
        now = cmd_str(c, "MGET s:%d w:%d", i, i);
        stale += strcmp(now, want) != 0;
        if (strcmp(now, want)) fprintf(stderr, "round %d: %s, not %s\n", i, now, want);
        free(now);
    }
    CHECK_EQ(stale, 0);
    PK_CHECK_MAP(c, "notes", "note:", "id", "body", NULL);
    PK_CHECK_MAP(c, "sess", "s:", "id", "data", NULL);
    PK_CHECK_MAP(c, "wbk", "w:", "id", "v", NULL);
    CHECK_EQ(query_int(c, "SELECT count(*) FROM sess"), ROUNDS);
    CHECK_EQ(query_int(c, "SELECT count(*) FROM wbk"), ROUNDS);
    redisFree(a);
    redisFree(b);
    redisFree(c);
    pk_cleanup(&e);
}

/* The race forced: a load's SELECT takes its snapshot, then sleeps (a row
 * security policy that sleeps for the load's statement only; policies bind
 * a role that is not a superuser, so the server connects as one); a
 * statement on another lane updates the row and commits meanwhile, and its
 * invalidation lands while the load is in flight. The load read the old
 * row: it must not be cached. */
TEST(load_not_cached_after_statement_on_other_lane) {
    CHECK_EQ(pg_start(), 0);
    CHECK_EQ(pg_psql("DO $$ BEGIN CREATE ROLE larder_app LOGIN; "
                     "EXCEPTION WHEN duplicate_object THEN NULL; END $$"),
             0);
    pk_env e;
    /* store-conninfo follows the module's connection string: its user wins */
    const char *extra[] = {"--store-connections", "3", "--store-conninfo", "user=larder_app", NULL};
    redisContext *c = start(&e, extra);
    if (!c) return;
    redisContext *a = srv_connect(&e.s);
    CHECK_CMD(c, "[[larder_app]]", "SQL.QUERY %s", "SELECT current_user::text");
    pk_exec(c, "CREATE TABLE notes (id text PRIMARY KEY, body text)");
    pk_exec(c, "INSERT INTO notes VALUES ('k', 'old')");
    pk_exec(c, "CREATE FUNCTION slow_load() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
               "IF current_query() LIKE 'SELECT * FROM \"notes\"%' THEN PERFORM pg_sleep(0.5); "
               "END IF; RETURN true; END $f$");
    pk_exec(c, "ALTER TABLE notes ENABLE ROW LEVEL SECURITY");
    pk_exec(c, "ALTER TABLE notes FORCE ROW LEVEL SECURITY");
    pk_exec(c, "CREATE POLICY slow ON notes USING (slow_load())");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "notes note:{id} mode read-through column body ttl 600");
    pk_send(a, "GET note:k");
    /* wait until the load's SELECT runs in PostgreSQL (its snapshot is taken) */
    const char *running = "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
                          "state = 'active' AND query LIKE 'SELECT * FROM \"notes\"%'";
    double end = pk_now_ms() + 5000;
    long long n;
    while ((n = query_int(c, running)) != 1 && pk_now_ms() < end) pk_sleep_ms(5);
    CHECK_EQ(n, 1);
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE notes SET body = 'new' WHERE id = 'k'");
    CHECK_EQ(query_int(c, running), 1); /* the load is still in flight */
    char *ra = pk_recv_str(a);
    /* (its own reply follows the no-stale-set rule: not checked here) */
    printf("the racing GET answered %s\n", ra);
    free(ra);
    CHECK_CMD(c, "new", "GET note:k");
    PK_CHECK_MAP(c, "notes", "note:", "id", "body", NULL);
    redisFree(a);
    redisFree(c);
    pk_cleanup(&e);
}

static void state_is(redisContext *c, const char *want) {
    char v[64];
    pk_info_text(c, "store_connection_state", v, sizeof(v));
    CHECK_STR(v, want);
}

/* Polls: SQL.QUERY SELECT 1 every 20 ms until INFO's state is want. */
static int drive_until_state(redisContext *c, const char *want, int timeout_ms) {
    double end = pk_now_ms() + timeout_ms;
    char v[64];
    do {
        redisReply *r = pk_cmd(c, "SQL.QUERY %s", "SELECT 1");
        if (r) freeReplyObject(r);
        pk_info_text(c, "store_connection_state", v, sizeof(v));
        if (!strcmp(v, want)) return 0;
        pk_sleep_ms(20);
    } while (pk_now_ms() < end);
    fprintf(stderr, "store_connection_state stayed %s, not %s\n", v, want);
    return -1;
}

TEST(info_connection_through_pg_crash) {
    pk_env e;
    redisContext *c = start(&e, NULL);
    if (!c) return;
    pk_exec(c, "CREATE TABLE notes (id text PRIMARY KEY, body text)");
    pk_exec(c, "INSERT INTO notes VALUES ('a', 'x')");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "notes note:{id} mode read-through column body");
    state_is(c, "connected");
    CHECK_EQ(pk_info(c, "store_reconnects"), 0);
    CHECK_EQ(pg_kill9(), 0);
    long long before = (long long)time(NULL);
    redisReply *r = pk_cmd(c, "SQL.QUERY %s", "SELECT 1");
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BACKEND", 7));
    if (r) freeReplyObject(r);
    state_is(c, "reconnecting");
    char v[300];
    pk_info_text(c, "store_last_error", v, sizeof(v));
    CHECK(strstr(v, "PostgreSQL") != NULL);
    printf("last error while down: %s\n", v);
    CHECK(pk_info(c, "store_last_error_time") >= before);
    /* failed attempts space out; at the longest backoff the store is down */
    CHECK_EQ(drive_until_state(c, "down", 8000), 0);
    r = pk_cmd(c, "GET note:a"); /* a load fails at once, the loop is not held */
    CHECK(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BACKEND load failed", 19));
    if (r) freeReplyObject(r);
    CHECK_EQ(pg_restart(), 0);
    CHECK_EQ(drive_until_state(c, "connected", 8000), 0);
    CHECK_EQ(pk_info(c, "store_reconnects"), 1);
    CHECK_CMD(c, "x", "GET note:a");
    PK_CHECK_MAP(c, "notes", "note:", "id", "body", NULL);
    redisFree(c);
    pk_cleanup(&e);
}

int main(void) {
    setenv("LARDER_TEST_STORE", "pg", 1);
    RUN(server_tables_in_pg_types);
    RUN(quoted_loadmodule_argument);
    RUN(slow_statement_does_not_hold_loads);
    RUN(load_never_older_than_completed_write);
    RUN(load_not_cached_after_statement_on_other_lane);
    RUN(info_connection_through_pg_crash);
    return test_report();
}
