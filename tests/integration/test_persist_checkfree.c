/* Write-behind check, skipped where it cannot refuse: a map whose table has
 * no CHECK, trigger or generated column, whose columns take any text and
 * whose NOT NULL columns are always written (mapping_rows_unrefusable) is
 * not checked before the reply (INFO wb_checked_before_reply stays); every
 * other map is, and refusals still come before the reply. An SQL.EXEC
 * statement that may change a schema (CREATE, DROP, ALTER) has writes
 * checked until the tables are described again. PostgreSQL's module does not say which columns take
 * any text, so there every write is checked. Every test ends with "store equals cache after
 * WB.FLUSH". */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAPS                                                                                       \
    "kv kv:{id} mode write-behind column v; ck ck:{id} mode write-behind column v; "               \
    "hn hn:{id} mode write-behind; hi hi:{id} mode write-behind; "                                 \
    "hd hd:{id} mode write-behind; hs hs:{id} mode write-behind"

static redisContext *start(pk_env *e) {
    memset(e, 0, sizeof(*e));
    const char *args[] = {"--write-behind-delay-ms", "100000", NULL};
    if (pk_start(e, args) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    pk_exec(c, "CREATE TABLE kv (id TEXT PRIMARY KEY, v TEXT)");
    pk_exec(c, "CREATE TABLE ck (id TEXT PRIMARY KEY, v TEXT CHECK (v <> 'bad'))");
    pk_exec(c, "CREATE TABLE hn (id TEXT PRIMARY KEY, a TEXT, b TEXT NOT NULL)");
    pk_exec(c, "CREATE TABLE hi (id INTEGER PRIMARY KEY, a TEXT)");
    pk_exec(c, "CREATE TABLE hd (id TEXT PRIMARY KEY, d DATE)");
    pk_exec(c, "CREATE TABLE hs (id TEXT PRIMARY KEY, a TEXT, b BLOB)");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", MAPS);
    return c;
}

static void finish(pk_env *e, redisContext *c) {
    if (c) {
        PK_CHECK_MAP(c, "kv", "kv:", "id", "v", NULL);
        PK_CHECK_MAP(c, "ck", "ck:", "id", "v", NULL);
        PK_CHECK_MAP(c, "hs", "hs:", "id", NULL, "a,b");
        redisFree(c);
    }
    pk_cleanup(e);
}

#define CHECKED(c) pk_info(c, "wb_checked_before_reply")

/* CHECKs that the reply to a command is an error starting with prefix. */
#define CHECK_ERR_PREFIX(ctx, prefix, ...)                                                         \
    do {                                                                                           \
        char *got_ = cmd_str(ctx, __VA_ARGS__);                                                    \
        int ok_ = got_ && !strncmp(got_, "-" prefix, strlen(prefix) + 1);                          \
        if (!ok_) fprintf(stderr, "  expected -%s..., got %s\n", prefix, got_ ? got_ : "?");       \
        CHECK(ok_);                                                                                \
        free(got_);                                                                                \
    } while (0)

/* Maps no rule can refuse: written without a check, and durable as ever. */
static void unrefusable_maps_skip_the_check(void) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    long long n0 = CHECKED(c);
    CHECK_CMD(c, "+OK", "SET kv:1 one");
    CHECK_CMD(c, ":2", "HSET hs:1 a x b y");
    CHECK_CMD(c, ":1", "HSET hs:2 a z"); /* b absent: NULL, allowed */
    CHECK_CMD(c, "+OK", "MULTI");
    CHECK_CMD(c, "+QUEUED", "SET kv:2 two");
    CHECK_CMD(c, "+QUEUED", "APPEND kv:1 !");
    CHECK_CMD(c, "[+OK,:4]", "EXEC");
    if (pk_pg())
        CHECK_EQ(CHECKED(c), n0 + 4); /* PostgreSQL: the module cannot tell */
    else
        CHECK_EQ(CHECKED(c), n0);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[one!]]", "SQL.QUERY %s", "SELECT v FROM kv WHERE id = '1'");
    finish(&e, c);
}

/* Every other map is checked, and its refusals come before the reply. */
static void refusable_maps_are_checked(void) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    long long n0 = CHECKED(c), refused = pk_info(c, "wb_refused_before_reply");
    CHECK_CMD(c, "+OK", "SET ck:1 good");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "SET ck:1 bad"); /* CHECK */
    CHECK_CMD(c, "good", "GET ck:1");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "HSET hn:1 a x"); /* NOT NULL b */
    CHECK_CMD(c, ":0", "EXISTS hn:1");
    CHECK_CMD(c, ":2", "HSET hn:2 a x b y");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "HSET hi:abc a x"); /* integer key */
    CHECK_CMD(c, ":1", "HSET hi:7 a x");
    CHECK_CMD(c, ":1", "HSET hd:2 d 2024-01-31"); /* DATE converts text */
    /* a command over an unrefusable and a refusable key is checked whole */
    CHECK_CMD(c, "+OK", "MULTI");
    CHECK_CMD(c, "+QUEUED", "SET kv:1 one");
    CHECK_CMD(c, "+QUEUED", "SET ck:2 bad");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "EXEC");
    CHECK_CMD(c, ":0", "EXISTS kv:1");
    CHECK_EQ(CHECKED(c), n0 + 8);
    CHECK_EQ(pk_info(c, "wb_refused_before_reply"), refused + 4);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[good]]", "SQL.QUERY %s", "SELECT v FROM ck WHERE id = '1'");
    CHECK_CMD(c, "[[:0]]", "SQL.QUERY %s", "SELECT count(*) FROM wb_deadletter");
    finish(&e, c);
}

/* After a schema change through SQL.EXEC the map is judged afresh: a
 * trigger makes its writes checked, dropping it lets them skip again. */
static void schema_change_rejudges(void) {
    if (pk_pg()) return; /* PostgreSQL checks every write anyway */
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    long long n0 = CHECKED(c);
    CHECK_CMD(c, "+OK", "SET kv:1 one");
    CHECK_EQ(CHECKED(c), n0);
    /* a statement that names no CREATE, DROP or ALTER changes no schema */
    pk_exec(c, "INSERT INTO hs VALUES ('9', 'a', NULL)");
    CHECK_CMD(c, "+OK", "SET kv:0 zero");
    CHECK_EQ(CHECKED(c), n0);
    pk_exec(c, "CREATE TABLE audit (id TEXT)");
    pk_exec(c, "CREATE TRIGGER kv_audit AFTER INSERT ON kv BEGIN INSERT INTO audit VALUES "
               "(new.id); END");
    CHECK_CMD(c, "+OK", "SET kv:2 two");
    CHECK_EQ(CHECKED(c), n0 + 1);
    /* the description after the statement keeps it checked */
    CHECK_CMD(c, "+OK", "WB.FLUSH"); /* the store thread took every job before it */
    CHECK_CMD(c, "+OK", "SET kv:3 three");
    CHECK_EQ(CHECKED(c), n0 + 2);
    CHECK_CMD(c, "[[:1]]", "SQL.QUERY %s", "SELECT count(*) FROM audit WHERE id = '2'");
    pk_exec(c, "DROP TRIGGER kv_audit");
    CHECK_CMD(c, "+OK", "SET kv:4 four"); /* checked or not: the description may be back */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    long long n1 = CHECKED(c);
    CHECK_CMD(c, "+OK", "SET kv:5 five");
    CHECK_EQ(CHECKED(c), n1);
    finish(&e, c);
}

/* CONFIG SET map (re)describes the tables: a table given a rule since is
 * checked under its new map. */
static void config_set_map_rejudges(void) {
    if (pk_pg()) return;
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "kv kv:{id} mode write-behind column v");
    long long n0 = CHECKED(c);
    CHECK_CMD(c, "+OK", "SET kv:1 one");
    CHECK_EQ(CHECKED(c), n0);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    pk_exec(c, "CREATE TABLE kv2 (id TEXT PRIMARY KEY, v TEXT NOT NULL, w TEXT NOT NULL)");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "kv kv:{id} mode write-behind column v; kv2 k2:{id} mode write-behind column v");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "SET k2:1 x"); /* w NOT NULL */
    CHECK_CMD(c, "+OK", "SET kv:2 two");
    CHECK_EQ(CHECKED(c), n0 + 1);
    finish(&e, c);
}

int main(void) {
    RUN(unrefusable_maps_skip_the_check);
    RUN(refusable_maps_are_checked);
    RUN(schema_change_rejudges);
    RUN(config_set_map_rejudges);
    return test_report();
}
