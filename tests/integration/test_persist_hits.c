/* Hits on mapped keys. A one-key read that hits is decided with the map
 * cached in the key's entry (persist/core.c, entry_map): that cache must
 * follow CONFIG SET map — a map added, removed or changed in mode takes
 * effect for keys already in the cache, also after the map generation has
 * wrapped — and a hit must still be a hit (counted, XFetch) while a miss, a
 * negative entry, an invalidation and an expiry behave as before. */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTES "notes note:{id} mode read-through column body ttl 600"
#define NOTES_ASIDE "notes note:{id} mode cache-aside column body ttl 600"
#define OTHERS "others other:{id} mode read-through column body"

static redisContext *start(pk_env *e) {
    memset(e, 0, sizeof(*e));
    if (pk_start(e, NULL) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    pk_exec(c, "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)");
    pk_exec(c, "CREATE TABLE others (id TEXT PRIMARY KEY, body TEXT)");
    pk_exec(c, "INSERT INTO notes VALUES ('n1', 'hello'), ('n2', 'stored')");
    pk_exec(c, "INSERT INTO others VALUES ('o1', 'x')");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", NOTES);
    return c;
}

static void finish(pk_env *e, redisContext *c) {
    if (c) redisFree(c);
    pk_cleanup(e);
}

/* hits counted by one GET of key (its reply must be want) */
static long long hits_of_get(redisContext *c, const char *key, const char *want) {
    long long h = pk_info(c, "hits");
    CHECK_CMD(c, want, "GET %s", key);
    return pk_info(c, "hits") - h;
}

/* A key cached while no map held it becomes a mapped key's hit once a map
 * takes it; a map removed or turned cache-aside stops counting its keys. */
TEST(hits_follow_map_changes) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    CHECK_CMD(c, "+OK", "SET other:o1 x"); /* no map yet: a plain key */
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 0);
    CHECK_EQ(hits_of_get(c, "note:n1", "hello"), 0); /* a miss: loads */
    CHECK_EQ(hits_of_get(c, "note:n1", "hello"), 1);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", NOTES "; " OTHERS);
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 1);
    CHECK_EQ(hits_of_get(c, "note:n1", "hello"), 1);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", NOTES_ASIDE "; " OTHERS);
    CHECK_EQ(hits_of_get(c, "note:n1", "hello"), 0);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", OTHERS);
    CHECK_EQ(hits_of_get(c, "note:n1", "hello"), 0);
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 1);
    /* a key of no map that misses loads nothing; a map's miss does */
    long long loads = pk_info(c, "loads");
    CHECK_CMD(c, "(nil)", "GET note:n2");
    CHECK_CMD(c, "(nil)", "GET nomap:1");
    CHECK_EQ(pk_info(c, "loads"), loads);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", NOTES "; " OTHERS);
    CHECK_EQ(hits_of_get(c, "note:n2", "stored"), 0);
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    CHECK_EQ(hits_of_get(c, "note:n2", "stored"), 1);
    CHECK_EQ(hits_of_get(c, "note:n1", "hello"), 1);
    PK_CHECK_MAP(c, "notes", "note:", "id", "body", NULL);
    finish(&e, c);
}

/* The map an entry names is cached with the maps' generation, 8 bits wide:
 * after 255 replacements of the maps the generation is back where it was,
 * and an entry whose cache was never refreshed meanwhile must not pass for
 * current (every cache is cleared when the generation wraps). */
TEST(hits_after_map_generation_wraps) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", NOTES "; " OTHERS);
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 0); /* loads */
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 1); /* cached with this generation */
    int ok = 0;
    for (int i = 0; i < 255; i++) { /* ends with OTHERS unmapped, 255 replacements on */
        redisReply *r = pk_cmd(c, "CONFIG SET map %s", i % 2 ? NOTES "; " OTHERS : NOTES);
        ok += r && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(ok, 255);
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 0);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", NOTES "; " OTHERS);
    CHECK_EQ(hits_of_get(c, "other:o1", "x"), 1);
    finish(&e, c);
}

/* Hits of one-key reads of several kinds, and what is not a hit: a negative
 * entry, a key invalidated by SQL.EXEC (reloaded), an expired key
 * (reloaded), a read inside MULTI (counted when EXEC runs it). */
TEST(hits_and_misses_around_the_fast_path) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    CHECK_CMD(c, "hello", "GET note:n1");
    long long hits = pk_info(c, "hits"), loads = pk_info(c, "loads");
    CHECK_CMD(c, ":5", "STRLEN note:n1");
    CHECK_CMD(c, "ell", "GETRANGE note:n1 1 3");
    CHECK_CMD(c, "+string", "TYPE note:n1");
    CHECK_EQ(pk_info(c, "hits"), hits + 3);
    /* negative entry: the row is missing, absence is cached */
    CHECK_CMD(c, "(nil)", "GET note:zz");
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    CHECK_CMD(c, "(nil)", "GET note:zz");
    CHECK_EQ(pk_info(c, "loads"), loads + 1);
    CHECK_EQ(pk_info(c, "hits"), hits + 3);
    /* invalidated: the next read loads the new row */
    pk_exec(c, "UPDATE notes SET body = 'changed' WHERE id = 'n1'");
    CHECK_CMD(c, "changed", "GET note:n1");
    CHECK_EQ(pk_info(c, "loads"), loads + 2);
    /* expired: loads again */
    CHECK_CMD(c, ":1", "PEXPIRE note:n1 1");
    pk_sleep_ms(5);
    CHECK_CMD(c, "changed", "GET note:n1");
    CHECK_EQ(pk_info(c, "loads"), loads + 3);
    /* inside MULTI the read is queued; EXEC counts it */
    hits = pk_info(c, "hits");
    CHECK_CMD(c, "+OK", "MULTI");
    CHECK_CMD(c, "+QUEUED", "GET note:n1");
    CHECK_CMD(c, "[changed]", "EXEC");
    CHECK_EQ(pk_info(c, "hits"), hits + 1);
    /* a wrong type is the command's own error, after a hit */
    CHECK_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value",
              "HGETALL note:n1");
    PK_CHECK_MAP(c, "notes", "note:", "id", "body", NULL);
    finish(&e, c);
}

int main(void) {
    RUN(hits_follow_map_changes);
    RUN(hits_after_map_generation_wraps);
    RUN(hits_and_misses_around_the_fast_path);
    return test_report();
}
