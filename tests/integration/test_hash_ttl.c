/* Per-field expiry on hashes (HEXPIRE & co, HGETEX, HSETEX, HGETDEL),
 * black-box against the replies Redis 8.0 documents (Debian's redis-server
 * is 7.0 and has none of these commands, so this is not differential).
 *
 * Expiry is awaited through keyspace notifications (hexpired, del) where the
 * active cycle does it; lazy expiry is checked with the active cycle off
 * (DEBUG SET-ACTIVE-EXPIRE 0) after the field's time has passed. The mapped
 * cases check that a field's expiry never reaches the row. */
#include "harness.h"
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static srv L;

/* Waits (up to 5 s) for a message on the keyevent channel `event` for key. */
static int await_event(redisContext *sub, const char *key) {
    struct timeval tv = {5, 0};
    redisSetTimeout(sub, tv);
    for (;;) {
        redisReply *r;
        if (redisGetReply(sub, (void **)&r) != REDIS_OK) return 0;
        int hit =
            r->type == REDIS_REPLY_ARRAY && r->elements == 4 && !strcmp(r->element[3]->str, key);
        freeReplyObject(r);
        if (hit) return 1;
    }
}

static redisContext *subscriber(const srv *s, const char *event) {
    redisContext *sub = srv_connect(s);
    freeReplyObject(redisCommand(sub, "PSUBSCRIBE __keyevent@0__:%s", event));
    return sub;
}

TEST(replies_and_conditions) {
    redisContext *c = srv_connect(&L);
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    CHECK_CMD(c, "[:-2,:-2]", "HEXPIRE nokey 100 FIELDS 2 a b");
    CHECK_CMD(c, "[:-2]", "HTTL nokey FIELDS 1 a");
    CHECK_CMD(c, "[:-2]", "HPERSIST nokey FIELDS 1 a");
    CHECK_CMD(c, ":3", "HSET h a 1 b 2 c 3");
    CHECK_CMD(c, "[:1,:-2]", "HEXPIRE h 100 FIELDS 2 a nofield");
    CHECK_CMD(c, "[:100,:-1,:-2]", "HTTL h FIELDS 3 a b nofield");
    /* NX: only without a TTL; XX: only with one; GT/LT against the current
     * time, a field without one counting as infinite */
    CHECK_CMD(c, "[:0,:1]", "HEXPIRE h 200 NX FIELDS 2 a b");
    CHECK_CMD(c, "[:1,:0]", "HEXPIRE h 300 XX FIELDS 2 a c");
    CHECK_CMD(c, "[:0,:0]", "HEXPIRE h 50 GT FIELDS 2 a c");
    CHECK_CMD(c, "[:1,:1]", "HEXPIRE h 50 LT FIELDS 2 a c");
    CHECK_CMD(c, "[:1]", "HEXPIRE h 400 GT FIELDS 1 a");
    CHECK_CMD(c, "[:400,:200,:50]", "HTTL h FIELDS 3 a b c");
    /* absolute forms and the millisecond ones */
    redisReply *t = redisCommand(c, "TIME");
    long long now_s = atoll(t->element[0]->str);
    freeReplyObject(t);
    char at[32];
    snprintf(at, sizeof(at), "%lld", now_s + 1000);
    CHECK_CMD(c, "[:1]", "HEXPIREAT h %s FIELDS 1 b", at);
    char want[48];
    snprintf(want, sizeof(want), "[:%s]", at);
    CHECK_CMD(c, want, "HEXPIRETIME h FIELDS 1 b");
    snprintf(want, sizeof(want), "[:%s000]", at);
    CHECK_CMD(c, want, "HPEXPIRETIME h FIELDS 1 b");
    redisReply *r = redisCommand(c, "HPTTL h FIELDS 1 b");
    CHECK(r && r->elements == 1 && r->element[0]->integer > 990000 &&
          r->element[0]->integer <= 1000000);
    freeReplyObject(r);
    CHECK_CMD(c, "[:-2,:-2]", "HEXPIRETIME h FIELDS 2 nofield2 nofield2");
    /* a time now or in the past deletes the field (2); the last one the key */
    CHECK_CMD(c, "[:2]", "HEXPIRE h 0 FIELDS 1 c");
    CHECK_CMD(c, "[:2]", "HPEXPIREAT h 1 FIELDS 1 b");
    CHECK_CMD(c, "[a,1]", "HGETALL h");
    CHECK_CMD(c, "[:1,:-2]", "HPERSIST h FIELDS 2 a b");
    CHECK_CMD(c, "[:-1]", "HPERSIST h FIELDS 1 a");
    CHECK_CMD(c, "[:-1]", "HTTL h FIELDS 1 a");
    CHECK_CMD(c, "[:2]", "HEXPIRE h 0 FIELDS 1 a");
    CHECK_CMD(c, ":0", "EXISTS h");
    redisFree(c);
}

TEST(bad_input) {
    redisContext *c = srv_connect(&L);
    CHECK_CMD(c, ":1", "HSET hb f v");
    CHECK_CMD(c, "+OK", "SET str x");
    CHECK_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value",
              "HEXPIRE str 10 FIELDS 1 f");
    CHECK_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value",
              "HTTL str FIELDS 1 f");
    CHECK_CMD(c, "-ERR Parameter `numFields` should be greater than 0", "HEXPIRE hb 10 FIELDS 0 f");
    CHECK_CMD(c, "-ERR Parameter `numFields` should be greater than 0", "HEXPIRE hb 10 FIELDS x f");
    CHECK_CMD(c, "-ERR The `numfields` parameter must match the number of arguments",
              "HEXPIRE hb 10 FIELDS 2 f");
    CHECK_CMD(c, "-ERR The `numfields` parameter must match the number of arguments",
              "HTTL hb FIELDS 1 f g");
    CHECK_CMD(c, "-ERR Number of fields must be a positive integer", "HTTL hb FIELDS 0 f");
    CHECK_CMD(c, "-ERR Number of fields must be a positive integer", "HPERSIST hb FIELDS -1 f");
    CHECK_CMD(c, "-ERR Mandatory argument FIELDS is missing or not at the right position",
              "HEXPIRE hb 10 NX XX FIELDS 1 f");
    CHECK_CMD(c, "-ERR Mandatory argument FIELDS is missing or not at the right position",
              "HTTL hb FELDS 1 f");
    CHECK_CMD(c, "-ERR invalid expire time, must be >= 0", "HEXPIRE hb -1 FIELDS 1 f");
    CHECK_CMD(c, "-ERR value is not an integer or out of range", "HEXPIRE hb ten FIELDS 1 f");
    CHECK_CMD(c, "-ERR invalid expire time in 'hexpire' command",
              "HEXPIRE hb 99999999999999999 FIELDS 1 f");
    CHECK_CMD(c, "-ERR invalid expire time in 'hgetex' command", "HGETEX hb EX 0 FIELDS 1 f");
    CHECK_CMD(c, "-ERR invalid expire time in 'hsetex' command", "HSETEX hb PX -5 FIELDS 1 f v");
    CHECK_CMD(c, "-ERR Only one of EX, PX, EXAT, PXAT or PERSIST arguments can be specified",
              "HGETEX hb EX 10 PERSIST FIELDS 1 f");
    CHECK_CMD(c, "-ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
              "HSETEX hb EX 10 KEEPTTL FIELDS 1 f v");
    CHECK_CMD(c, "-ERR Multiple condition flags specified", "HSETEX hb FNX FXX FIELDS 1 f v");
    CHECK_CMD(c, "-ERR The `numfields` parameter must match the number of arguments",
              "HSETEX hb FIELDS 2 f v");
    CHECK_CMD(c, "-ERR wrong number of arguments for 'hexpire' command", "HEXPIRE hb 10 FIELDS");
    CHECK_CMD(c, "[f,v]", "HGETALL hb"); /* none of it changed the hash */
    redisFree(c);
}

TEST(overwrite_and_increment) {
    redisContext *c = srv_connect(&L);
    CHECK_CMD(c, ":2", "HSET ho a 1 n 5");
    CHECK_CMD(c, "[:1,:1]", "HEXPIRE ho 100 FIELDS 2 a n");
    CHECK_CMD(c, ":0", "HSET ho a 2");    /* HSET overwrites the field: its TTL goes */
    CHECK_CMD(c, ":7", "HINCRBY ho n 2"); /* HINCRBY keeps it */
    CHECK_CMD(c, "[:-1,:100]", "HTTL ho FIELDS 2 a n");
    CHECK_CMD(c, "hashtable", "OBJECT ENCODING ho");
    redisFree(c);
}

TEST(getex_setex_getdel) {
    redisContext *c = srv_connect(&L);
    CHECK_CMD(c, ":1", "HSETEX hs EX 100 FIELDS 2 a 1 b 2");
    CHECK_CMD(c, "[:100,:100]", "HTTL hs FIELDS 2 a b");
    CHECK_CMD(c, ":0", "HSETEX hs FNX FIELDS 2 a 9 c 3"); /* a exists: nothing is set */
    CHECK_CMD(c, ":0", "HSETEX hs FXX FIELDS 2 a 9 c 3"); /* c does not */
    CHECK_CMD(c, ":1", "HSETEX hs FXX KEEPTTL FIELDS 1 a 9");
    CHECK_CMD(c, "[:100]", "HTTL hs FIELDS 1 a");
    CHECK_CMD(c, ":1", "HSETEX hs FIELDS 1 b 8"); /* no option: the TTL goes */
    CHECK_CMD(c, "[:-1]", "HTTL hs FIELDS 1 b");
    CHECK_CMD(c, "[9,(nil)]", "HGETEX hs PERSIST FIELDS 2 a zz");
    CHECK_CMD(c, "[:-1]", "HTTL hs FIELDS 1 a");
    CHECK_CMD(c, "[9,8]", "HGETEX hs PX 100000 FIELDS 2 a b");
    CHECK_CMD(c, "[:100,:100]", "HTTL hs FIELDS 2 a b");
    CHECK_CMD(c, "[9]", "HGETEX hs PXAT 1 FIELDS 1 a"); /* in the past: read, then gone */
    CHECK_CMD(c, ":0", "HEXISTS hs a");
    CHECK_CMD(c, "[8,(nil)]", "HGETDEL hs FIELDS 2 b b");
    CHECK_CMD(c, ":0", "EXISTS hs");
    CHECK_CMD(c, "[(nil)]", "HGETDEL hs FIELDS 1 b");
    redisFree(c);
}

TEST(lazy_expiry) {
    redisContext *c = srv_connect(&L);
    freeReplyObject(redisCommand(c, "CONFIG SET notify-keyspace-events %s", "KEA"));
    freeReplyObject(redisCommand(c, "DEBUG SET-ACTIVE-EXPIRE 0"));
    redisContext *sub = subscriber(&L, "hexpired");
    CHECK_CMD(c, ":2", "HSET hl a 1 b 2");
    CHECK_CMD(c, "[:1]", "HPEXPIRE hl 20 FIELDS 1 a");
    pk_sleep_ms(40);               /* the field's time passes; nothing runs the active cycle */
    CHECK_CMD(c, ":1", "HLEN hl"); /* the due field went before HLEN counted */
    CHECK_CMD(c, "(nil)", "HGET hl a");
    CHECK_CMD(c, "[:-2]", "HTTL hl FIELDS 1 a");
    CHECK(await_event(sub, "hl"));
    freeReplyObject(redisCommand(c, "DEBUG SET-ACTIVE-EXPIRE 1"));
    redisFree(sub);
    redisFree(c);
}

TEST(active_expiry_deletes_the_key) {
    redisContext *c = srv_connect(&L);
    freeReplyObject(redisCommand(c, "CONFIG SET notify-keyspace-events %s", "KEA"));
    redisContext *sub = subscriber(&L, "del");
    CHECK_CMD(c, ":2", "HSET ha a 1 b 2");
    CHECK_CMD(c, "[:1,:1]", "HPEXPIRE ha 30 FIELDS 2 a b");
    CHECK(await_event(sub, "ha")); /* nobody touches ha: the cycle found it */
    CHECK_CMD(c, ":0", "EXISTS ha");
    redisFree(sub);
    redisFree(c);
}

TEST(ttls_travel_with_the_value) {
    redisContext *c = srv_connect(&L);
    freeReplyObject(redisCommand(c, "CONFIG SET notify-keyspace-events %s", "KEA"));
    CHECK_CMD(c, ":2", "HSET hd a 1 b 2");
    CHECK_CMD(c, "[:1]", "HEXPIRE hd 500 FIELDS 1 a");
    redisReply *d = redisCommand(c, "DUMP hd");
    CHECK(d && d->type == REDIS_REPLY_STRING);
    CHECK_CMD(c, "+OK", "RESTORE hd2 0 %b", d->str, d->len);
    freeReplyObject(d);
    CHECK_CMD(c, "[:500,:-1]", "HTTL hd2 FIELDS 2 a b");
    CHECK_CMD(c, ":1", "COPY hd hd3");
    CHECK_CMD(c, "[:500]", "HTTL hd3 FIELDS 1 a");
    /* a renamed hash expires actively under its new name */
    redisContext *sub = subscriber(&L, "hexpired");
    CHECK_CMD(c, "[:1]", "HPEXPIRE hd 30 FIELDS 1 b");
    CHECK_CMD(c, "+OK", "RENAME hd hd4");
    CHECK(await_event(sub, "hd4"));
    CHECK_CMD(c, "[a,1]", "HGETALL hd4");
    /* a corrupt expire-time trailer is refused */
    d = redisCommand(c, "DUMP hd2");
    CHECK(d && d->len > 12);
    if (d && d->len > 12) {
        d->str[d->len - 11] ^= 0x40; /* inside the trailer, before the checksum footer */
        redisReply *bad = redisCommand(c, "RESTORE hd5 0 %b", d->str, d->len);
        CHECK(bad && bad->type == REDIS_REPLY_ERROR);
        freeReplyObject(bad);
    }
    freeReplyObject(d);
    redisFree(sub);
    redisFree(c);
}

/* A mapped hash: a field's expiry takes the cached copy away whole; the row
 * keeps the field, and the next read loads it again. */
TEST(mapped_hash_field_expiry_never_reaches_the_row) {
    pk_env e = {0};
    CHECK(pk_start(&e, NULL) == 0);
    redisContext *c = srv_connect(&e.s);
    pk_exec(c, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price INTEGER)");
    pk_exec(c, "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, plan TEXT)");
    pk_exec(c, "INSERT INTO items VALUES (1, 'one', 10)");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "items item:{id} mode read-through ttl 600; users user:{id} mode write-behind");
    CHECK_CMD(c, "one", "HGET item:1 name");
    CHECK_CMD(c, "[:1]", "HPEXPIRE item:1 20 FIELDS 1 price");
    pk_exec(c, "UPDATE items SET price = 11 WHERE id = 1");
    pk_sleep_ms(40);
    CHECK_CMD(c, "11", "HGET item:1 price"); /* loaded afresh: the row's value */
    CHECK_CMD(c, "[:-1]", "HTTL item:1 FIELDS 1 price");
    CHECK_CMD(c, ":2", "HSET user:1 name ann plan pro");
    CHECK_CMD(c, "[:1]", "HPEXPIRE user:1 20 FIELDS 1 plan");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    pk_sleep_ms(40);
    CHECK_CMD(c, ":0", "HSET user:1 name bob"); /* the copy was reloaded: plan is back */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[bob,pro]]", "SQL.QUERY %s", "SELECT name, plan FROM users WHERE id = 1");
    CHECK_CMD(c, "pro", "HGET user:1 plan");
    /* fields of HSETEX are columns too */
    char *s = cmd_str(c, "HSETEX user:2 EX 10 FIELDS 1 nosuchcolumn v");
    CHECK(s && strstr(s, "no such column"));
    free(s);
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "name,plan");
    redisFree(c);
    pk_cleanup(&e);
}

int main(void) {
    if (srv_start(&L, NULL) != 0) {
        fprintf(stderr, "cannot start larder-server\n");
        return 1;
    }
    RUN(replies_and_conditions);
    RUN(bad_input);
    RUN(overwrite_and_increment);
    RUN(getex_setex_getdel);
    RUN(lazy_expiry);
    RUN(active_expiry_deletes_the_key);
    RUN(ttls_travel_with_the_value);
    RUN(mapped_hash_field_expiry_never_reaches_the_row);
    srv_stop(&L);
    return test_report();
}
