/* The store's changes as a stream (`changes-stream KEY [MAXLEN n]`): after
 * every commit that changes rows of a mapped table — a write-through commit,
 * a write-behind batch, SQL.EXEC — one entry per changed row (table, op, pk,
 * key, seq) is in the stream, exactly once, in commit order; op is insert
 * for a row that did not exist, update for one that did (the store says
 * which, also for a cache write's upsert), delete; a refused write
 * adds nothing; the stream starts with one "reset" entry; MAXLEN trims
 * approximately; blocked XREADGROUP readers are woken; a consumer group
 * whose consumer "crashes" (reads without XACK, disconnects) gets its
 * pending entries back with XPENDING and XAUTOCLAIM. */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAPS                                                                                       \
    "sessions session:{id} mode write-through column data; "                                       \
    "accounts account:{id} mode write-through; "                                                   \
    "users user:{id} mode write-behind; "                                                          \
    "grades grade:{student}:{course} mode cache-aside"

typedef struct ent {
    char op[16], table[32], pk[64], key[96];
    long long seq;
} ent;

static redisContext *start(pk_env *e, const char *changes, const char *const *more) {
    memset(e, 0, sizeof(*e));
    const char *args[24];
    int n = 0;
    args[n++] = "--changes-stream";
    args[n++] = changes;
    args[n++] = "--write-behind-delay-ms";
    args[n++] = "100000";
    for (int i = 0; more && more[i] && n < 22; i++) args[n++] = more[i];
    args[n] = NULL;
    if (pk_start(e, args) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    pk_exec(c, "CREATE TABLE sessions (id TEXT PRIMARY KEY, data TEXT)");
    pk_exec(c, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance "
               "INTEGER CHECK (balance >= 0))");
    pk_exec(c, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE, age INTEGER CHECK "
               "(age >= 0))");
    pk_exec(c, "CREATE TABLE grades (student TEXT, course TEXT, mark INTEGER, PRIMARY KEY "
               "(student, course))");
    pk_exec(c, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"); /* not mapped */
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", MAPS);
    return c;
}

static void finish(pk_env *e, redisContext *c) {
    if (c) {
        PK_CHECK_MAP(c, "sessions", "session:", "id", "data", NULL);
        PK_CHECK_MAP(c, "users", "user:", "id", NULL, "name,age");
        redisFree(c);
    }
    pk_cleanup(e);
}

static const char *field(const redisReply *fv, const char *name) {
    for (size_t i = 0; i + 1 < fv->elements; i += 2)
        if (!strcmp(fv->element[i]->str, name)) return fv->element[i + 1]->str;
    return "";
}

/* The entries after id *last (XRANGE key (last +); *last becomes the newest
 * id. Returns how many (at most max are kept). */
static int since(redisContext *c, const char *key, char *last, ent *out, int max) {
    redisReply *r = pk_cmd(c, "XRANGE %s (%s +", key, last);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        CHECK(0);
        if (r) freeReplyObject(r);
        return 0;
    }
    int n = (int)r->elements;
    for (int i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        snprintf(last, 64, "%s", e->element[0]->str);
        if (i >= max) continue;
        const redisReply *fv = e->element[1];
        CHECK_EQ(fv->elements, 10);
        snprintf(out[i].op, sizeof(out[i].op), "%s", field(fv, "op"));
        snprintf(out[i].table, sizeof(out[i].table), "%s", field(fv, "table"));
        snprintf(out[i].pk, sizeof(out[i].pk), "%s", field(fv, "pk"));
        snprintf(out[i].key, sizeof(out[i].key), "%s", field(fv, "key"));
        out[i].seq = atoll(field(fv, "seq"));
    }
    freeReplyObject(r);
    return n;
}

/* The entries after *last as "op table pk key;..." (seq left out). */
static char *since_str(redisContext *c, const char *key, char *last) {
    ent v[64];
    int n = since(c, key, last, v, 64);
    static char buf[4096];
    buf[0] = 0;
    size_t l = 0;
    for (int i = 0; i < n && i < 64; i++)
        l += (size_t)snprintf(buf + l, sizeof(buf) - l, "%s%s %s %s %s", i ? ";" : "", v[i].op,
                              v[i].table, v[i].pk, v[i].key);
    return buf;
}

/* At start the stream holds one entry, op reset; CONFIG GET shows the directive. */
TEST(cs_reset_at_start) {
    pk_env e;
    redisContext *c = start(&e, "changes MAXLEN 1000", NULL);
    if (!c) return;
    redisReply *r = pk_cmd(c, "XRANGE changes - +");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    if (r && r->elements == 1) {
        const redisReply *fv = r->element[0]->element[1];
        CHECK_STR(field(fv, "op"), "reset");
        CHECK_STR(field(fv, "table"), "");
        CHECK_STR(field(fv, "seq"), "0");
    }
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "+stream", "TYPE changes");
    CHECK_CMD(c, "[changes-stream,changes MAXLEN 1000]", "CONFIG GET changes-stream");
    finish(&e, c);
}

/* Write-through: each command's rows after its reply, one commit one seq,
 * insert for a new row, update for an existing one (also a row the cache
 * did not hold); a refused commit adds nothing. */
TEST(cs_write_through) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    char last[64] = "0-0";
    since(c, "changes", last, NULL, 0); /* past the reset entry */
    CHECK_CMD(c, "+OK", "SET session:s1 v1");
    CHECK_STR(since_str(c, "changes", last), "insert sessions s1 session:s1");
    CHECK_CMD(c, "+OK", "SET session:s1 v2");
    CHECK_STR(since_str(c, "changes", last), "update sessions s1 session:s1");
    CHECK_CMD(c, "+OK", "SET session:s1 v2"); /* unchanged: no commit */
    CHECK_STR(since_str(c, "changes", last), "");
    CHECK_CMD(c, ":1", "DEL session:s1");
    CHECK_STR(since_str(c, "changes", last), "delete sessions s1 session:s1");
    CHECK_CMD(c, ":2", "HSET account:7 owner ann balance 5");
    CHECK_STR(since_str(c, "changes", last), "insert accounts 7 account:7");
    CHECK_CMD(c, ":0", "HSET account:7 balance 6");
    CHECK_STR(since_str(c, "changes", last), "update accounts 7 account:7");
    /* a row in the store that the cache does not hold: SET overwrites
     * without loading it, and the store says the row existed */
    pk_exec(c, "INSERT INTO sessions VALUES ('s2', 'stored')");
    CHECK_STR(since_str(c, "changes", last), "insert sessions s2 session:s2");
    CHECK_CMD(c, "+OK", "SET session:s2 mine");
    CHECK_STR(since_str(c, "changes", last), "update sessions s2 session:s2");
    CHECK_CMD(c, ":1", "DEL session:s2");
    CHECK_STR(since_str(c, "changes", last), "delete sessions s2 session:s2");
    /* refused by the CHECK constraint: -BACKEND, nothing in the stream */
    redisReply *r = pk_cmd(c, "HSET account:7 balance -1");
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    CHECK_STR(since_str(c, "changes", last), "");
    /* two keys in one MULTI: one commit, two entries with the same seq */
    CHECK_CMD(c, "+OK", "MULTI");
    CHECK_CMD(c, "+QUEUED", "SET session:m1 a");
    CHECK_CMD(c, "+QUEUED", "SET session:m2 b");
    CHECK_CMD(c, "[+OK,+OK]", "EXEC");
    ent v[4];
    CHECK_EQ(since(c, "changes", last, v, 4), 2);
    CHECK_STR(v[0].key, "session:m1");
    CHECK_STR(v[1].key, "session:m2");
    CHECK_STR(v[0].op, "insert");
    CHECK_STR(v[1].op, "insert");
    CHECK_EQ(v[0].seq, v[1].seq);
    CHECK_CMD(c, "+OK", "SET session:m1 c");
    ent w[1];
    CHECK_EQ(since(c, "changes", last, w, 1), 1);
    CHECK_STR(w[0].op, "update");
    CHECK(w[0].seq == v[0].seq + 1);
    /* one commit of a new row and an existing one */
    CHECK_CMD(c, "+OK", "MSET session:m2 d session:m3 e");
    CHECK_STR(since_str(c, "changes", last),
              "update sessions m2 session:m2;insert sessions m3 session:m3");
    finish(&e, c);
}

/* Write-behind: the rows of a batch once it committed (coalesced: the
 * latest state of a key once per batch), insert or update as the row
 * existed before the batch; a refused row is not there. */
TEST(cs_write_behind) {
    pk_env e;
    const char *nocheck[] = {"--write-behind-check", "no", NULL};
    redisContext *c = start(&e, "changes", nocheck);
    if (!c) return;
    char last[64] = "0-0";
    since(c, "changes", last, NULL, 0);
    CHECK_CMD(c, ":2", "HSET user:1 name ann age 30");
    CHECK_CMD(c, ":0", "HSET user:1 age 31");
    CHECK_CMD(c, ":2", "HSET user:2 name bob age 40");
    CHECK_STR(since_str(c, "changes", last), ""); /* not committed yet */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    ent v[8];
    CHECK_EQ(since(c, "changes", last, v, 8), 2);
    CHECK_STR(v[0].key, "user:1");
    CHECK_STR(v[0].op, "insert"); /* written twice, one new row */
    CHECK_STR(v[0].pk, "1");
    CHECK_STR(v[1].key, "user:2");
    CHECK_STR(v[1].op, "insert");
    CHECK_EQ(v[0].seq, v[1].seq);
    /* one batch of new and existing rows, interleaved (the PostgreSQL store
     * writes rows of one shape in one statement) */
    for (int i = 10; i < 90; i++) CHECK_CMD(c, "+OK", "HMSET user:%d name u%d age %d", i, i, i);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(since(c, "changes", last, NULL, 0), 80);
    pk_exec(c, "DELETE FROM users WHERE id % 3 = 0 AND id >= 10"); /* drops their keys too */
    CHECK_EQ(since(c, "changes", last, NULL, 0), 26);              /* 12, 15, ..., 87 */
    for (int i = 10; i < 100; i++) CHECK_CMD(c, "+OK", "HMSET user:%d name w%d age %d", i, i, i);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    ent *b = calloc(100, sizeof(ent));
    int nb = since(c, "changes", last, b, 100);
    CHECK_EQ(nb, 90);
    int wrong = 0;
    for (int i = 0; i < nb && i < 100; i++) {
        int id = atoi(b[i].pk);
        const char *want = id >= 90 || id % 3 == 0 ? "insert" : "update";
        if (strcmp(b[i].op, want)) {
            if (!wrong++) fprintf(stderr, "user:%d: %s, expected %s\n", id, b[i].op, want);
        }
    }
    CHECK_EQ(wrong, 0);
    free(b);
    /* one good row and one the CHECK refuses in the same batch */
    CHECK_CMD(c, ":2", "HSET user:3 name cy age -3");
    CHECK_CMD(c, ":0", "HSET user:2 age 41");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_STR(since_str(c, "changes", last), "update users 2 user:2");
    /* refused by UNIQUE (user:1 is ann): dead-lettered, no entry ... */
    CHECK_CMD(c, ":2", "HSET user:5 name ann age 1");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_STR(since_str(c, "changes", last), "");
    CHECK_CMD(c, ":1", "DEL user:1");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_STR(since_str(c, "changes", last), "delete users 1 user:1");
    /* ... until WB.DEADLETTER RETRY writes it (user:3 is refused again) */
    CHECK_CMD(c, ":1", "WB.DEADLETTER RETRY ALL");
    CHECK_STR(since_str(c, "changes", last), "insert users 5 user:5");
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    finish(&e, c);
}

/* SQL.EXEC: the store names the op; a composite key's pk is joined as its
 * pattern joins it; an unmapped table and a failed statement add nothing. */
TEST(cs_sql_exec) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    char last[64] = "0-0";
    since(c, "changes", last, NULL, 0);
    pk_exec(c, "INSERT INTO sessions VALUES ('q1', 'x'), ('q2', 'y')");
    CHECK_STR(since_str(c, "changes", last),
              "insert sessions q1 session:q1;insert sessions q2 session:q2");
    pk_exec(c, "UPDATE sessions SET data = 'z' WHERE id = 'q2'");
    CHECK_STR(since_str(c, "changes", last), "update sessions q2 session:q2");
    pk_exec(c, "DELETE FROM sessions WHERE id = 'q1'");
    CHECK_STR(since_str(c, "changes", last), "delete sessions q1 session:q1");
    pk_exec(c, "INSERT INTO grades VALUES ('ann', 'math', 5)");
    CHECK_STR(since_str(c, "changes", last), "insert grades ann:math grade:ann:math");
    pk_exec(c, "INSERT INTO notes VALUES (1, 'not mapped')");
    CHECK_STR(since_str(c, "changes", last), "");
    redisReply *r = pk_cmd(c, "SQL.EXEC %s", "INSERT INTO sessions VALUES ('q2', 'dup')");
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    CHECK_STR(since_str(c, "changes", last), "");
    /* one statement, one commit: one seq */
    pk_exec(c, "UPDATE sessions SET data = 'w'");
    ent v[4];
    CHECK_EQ(since(c, "changes", last, v, 4), 1);
    finish(&e, c);
}

/* Every write path on a set of keys: each commit's rows appear exactly
 * once, and per key in commit order (the store's final row is the last
 * entry's state), with the op a model of which rows exist predicts. */
TEST(cs_exactly_once_in_order) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    char last[64] = "0-0";
    since(c, "changes", last, NULL, 0);
    trng rng;
    trng_seed(&rng, 13);
    int expect = 0;
    char want[400][48];
    int session_row[5] = {0}, user_row[5] = {0}; /* does the row exist? */
    for (int i = 0; i < 300; i++) {
        int k = (int)trng_below(&rng, 5), how = (int)trng_below(&rng, 4);
        const char *op =
            how == 2 ? (user_row[k] ? "update" : "insert") : (session_row[k] ? "update" : "insert");
        if (how == 0) {
            CHECK_CMD(c, "+OK", "SET session:k%d v%d", k, i);
            snprintf(want[expect++], 48, "%s session:k%d", op, k);
            session_row[k] = 1;
        } else if (how == 1) {
            char sql[128];
            snprintf(sql, sizeof(sql),
                     "INSERT INTO sessions VALUES ('k%d', 'q%d') ON CONFLICT (id) DO UPDATE SET "
                     "data = excluded.data",
                     k, i);
            redisReply *r = pk_cmd(c, "SQL.EXEC %s", sql);
            CHECK(r && r->type == REDIS_REPLY_INTEGER);
            if (r) freeReplyObject(r);
            snprintf(want[expect++], 48, "%s session:k%d", op, k);
            session_row[k] = 1;
        } else if (how == 2) {
            redisReply *r = pk_cmd(c, "HSET user:%d name n%d age %d", k, i, i);
            CHECK(r && r->type == REDIS_REPLY_INTEGER);
            if (r) freeReplyObject(r);
            CHECK_CMD(c, "+OK", "WB.FLUSH");
            snprintf(want[expect++], 48, "%s user:%d", op, k);
            user_row[k] = 1;
        } else {
            redisReply *r = pk_cmd(c, "DEL session:k%d", k);
            CHECK(r && r->type == REDIS_REPLY_INTEGER);
            /* DEL of an absent key: no row changed (read-through loads it first) */
            if (r && r->integer == 1) snprintf(want[expect++], 48, "delete session:k%d", k);
            CHECK(r && r->integer == session_row[k]);
            session_row[k] = 0;
            if (r) freeReplyObject(r);
        }
    }
    ent *v = calloc(400, sizeof(ent));
    int n = since(c, "changes", last, v, 400);
    CHECK_EQ(n, expect);
    long long prev = 0;
    for (int i = 0; i < n && i < expect; i++) {
        char got[48];
        snprintf(got, sizeof(got), "%s %s", v[i].op, v[i].key);
        CHECK_STR(got, want[i]);
        CHECK(v[i].seq > prev); /* one commit per write here, in order */
        prev = v[i].seq;
    }
    free(v);
    finish(&e, c);
}

/* A restart loses the stream; the new one starts with its reset entry, and
 * the rows the journal replay writes follow it. */
TEST(cs_restart_reset_then_replay) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    CHECK_CMD(c, ":2", "HSET user:1 name ann age 30");
    CHECK_CMD(c, ":2", "HSET user:2 name bob age 40");
    redisFree(c);
    pk_kill(&e); /* before any batch: the rows are in the journal only */
    const char *args[] = {"--changes-stream", "changes", "--map",
                          "users user:{id} mode write-behind", NULL};
    if (pk_start(&e, args) != 0) {
        CHECK(0);
        pk_cleanup(&e);
        return;
    }
    c = srv_connect(&e.s);
    CHECK_EQ(pk_wait_serving(c, 10000, NULL), 0);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    ent v[8];
    char last[64] = "0-0";
    CHECK_EQ(since(c, "changes", last, v, 8), 3);
    CHECK_STR(v[0].op, "reset");
    CHECK_STR(v[1].key, "user:1");
    CHECK_STR(v[2].key, "user:2");
    CHECK_EQ(v[1].seq, 1);
    redisFree(c);
    pk_cleanup(&e);
}

/* MAXLEN trims approximately (whole blocks, as XADD MAXLEN ~ does). */
TEST(cs_maxlen) {
    pk_env e;
    const char *small[] = {"--stream-node-max-entries", "10", NULL};
    redisContext *c = start(&e, "changes MAXLEN 20", small);
    if (!c) return;
    for (int i = 0; i < 200; i++) CHECK_CMD(c, "+OK", "SET session:x v%d", i);
    redisReply *r = pk_cmd(c, "XLEN changes");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 20 && r->integer <= 30);
    if (r) freeReplyObject(r);
    /* the newest entry is the last write */
    r = pk_cmd(c, "XREVRANGE changes + - COUNT 1");
    CHECK(r && r->elements == 1 && !strcmp(field(r->element[0]->element[1], "key"), "session:x"));
    if (r) freeReplyObject(r);
    finish(&e, c);
}

/* A blocked XREADGROUP reader is woken by a commit; a keyspace event fires. */
TEST(cs_wakes_readers) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "XGROUP CREATE changes g $");
    CHECK_CMD(c, "+OK", "CONFIG SET notify-keyspace-events Et");
    redisContext *sub = srv_connect(&e.s);
    CHECK_CMD(sub, "[subscribe,__keyevent@0__:xadd,:1]", "SUBSCRIBE __keyevent@0__:xadd");
    redisContext *b = srv_connect(&e.s);
    pk_send(b, "XREADGROUP GROUP g c1 BLOCK 0 STREAMS changes >");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 2000) >= 1);
    CHECK_CMD(c, "+OK", "SET session:w1 v");
    char *s = pk_recv_str(b);
    CHECK(strstr(s, "session:w1") != NULL);
    free(s);
    s = pk_recv_str(sub);
    CHECK_STR(s, "[message,__keyevent@0__:xadd,changes]");
    free(s);
    redisFree(b);
    redisFree(sub);
    finish(&e, c);
}

/* A consumer reads without XACK and "crashes" (disconnects); a consumer
 * that comes back finds the entries pending and claims them. */
TEST(cs_consumer_crash_claims) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "XGROUP CREATE changes workers 0");
    for (int i = 0; i < 3; i++) CHECK_CMD(c, "+OK", "SET session:c%d v", i);
    redisContext *w = srv_connect(&e.s);
    redisReply *r = pk_cmd(w, "XREADGROUP GROUP workers w1 COUNT 10 STREAMS changes >");
    /* reset + 3 changes */
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->element[0]->element[1]->elements == 4);
    if (r) freeReplyObject(r);
    redisFree(w); /* crashed before XACK */
    r = pk_cmd(c, "XPENDING changes workers");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->element[0]->integer == 4);
    if (r) freeReplyObject(r);
    redisContext *w2 = srv_connect(&e.s);
    r = pk_cmd(w2, "XAUTOCLAIM changes workers w2 0 0-0 COUNT 10");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->element[1]->elements == 4);
    int acked = 0;
    for (size_t i = 0; r && i < r->element[1]->elements; i++) {
        redisReply *a =
            pk_cmd(w2, "XACK changes workers %s", r->element[1]->element[i]->element[0]->str);
        acked += a && a->integer == 1;
        if (a) freeReplyObject(a);
    }
    CHECK_EQ(acked, 4);
    if (r) freeReplyObject(r);
    CHECK_CMD(w2, "[:0,(nil),(nil),(nil)]", "XPENDING changes workers");
    /* later changes go to the group as usual */
    CHECK_CMD(c, "+OK", "SET session:c9 v");
    r = pk_cmd(w2, "XREADGROUP GROUP workers w2 STREAMS changes >");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->element[0]->element[1]->elements == 1);
    if (r) freeReplyObject(r);
    redisFree(w2);
    finish(&e, c);
}

/* Bad directive values get clear errors; the key must be a stream. */
TEST(cs_config_errors) {
    pk_env e;
    redisContext *c = start(&e, "changes", NULL);
    if (!c) return;
    redisReply *r = pk_cmd(c, "CONFIG SET changes-stream %s", "a b");
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "KEY [MAXLEN n]"));
    if (r) freeReplyObject(r);
    r = pk_cmd(c, "CONFIG SET changes-stream %s", "a MAXLEN 0");
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "positive integer"));
    if (r) freeReplyObject(r);
    r = pk_cmd(c, "CONFIG SET changes-stream %s", "a MAXLEN x");
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    r = pk_cmd(c, "CONFIG SET changes-stream %s", "session:log");
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "belongs to a map"));
    if (r) freeReplyObject(r);
    CHECK_CMD(c, "[changes-stream,changes]", "CONFIG GET changes-stream");
    /* a new key at run time starts with its own reset entry */
    CHECK_CMD(c, "+OK", "CONFIG SET changes-stream %s", "other MAXLEN 100");
    r = pk_cmd(c, "XRANGE other - +");
    CHECK(r && r->elements == 1 && !strcmp(field(r->element[0]->element[1], "op"), "reset"));
    if (r) freeReplyObject(r);
    /* the key holds another type: no entry, the write itself succeeds */
    CHECK_CMD(c, ":1", "DEL other");
    CHECK_CMD(c, "+OK", "SET other x");
    CHECK_CMD(c, "+OK", "SET session:t1 v");
    CHECK_CMD(c, "x", "GET other");
    CHECK_CMD(c, ":1", "DEL other");
    CHECK_CMD(c, "+OK", "SET session:t1 v2");
    CHECK_CMD(c, ":1", "XLEN other");
    /* off */
    CHECK_CMD(c, "+OK", "CONFIG SET changes-stream %s", "");
    CHECK_CMD(c, "+OK", "SET session:t1 v3");
    CHECK_CMD(c, ":1", "XLEN other");
    finish(&e, c);
}

int main(void) {
    RUN(cs_reset_at_start);
    RUN(cs_write_through);
    RUN(cs_write_behind);
    RUN(cs_sql_exec);
    RUN(cs_exactly_once_in_order);
    RUN(cs_restart_reset_then_replay);
    RUN(cs_maxlen);
    RUN(cs_wakes_readers);
    RUN(cs_consumer_crash_claims);
    RUN(cs_config_errors);
    return test_report();
}
