/* Differential test of the hash family: seeded random scripts replayed
 * against larder-server and Debian's redis-server. Replies must match (sorted
 * client-side where a hashtable encoding makes the order free), OBJECT
 * ENCODING must match after every write (listpack -> hashtable conversions
 * by entries and by value length, with limits changed between rounds), and
 * so must the keyspace notifications once larder-server has pub/sub.
 * Random replies (HRANDFIELD) are checked for shape and membership; full
 * HSCAN iterations are compared as sets of pairs. */
#include "diffkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *keys[] = {"h0", "h1", "h2", "{t}h3", "str", "s"};
static const char *fields[] = {"f1",
                               "f2",
                               "f3",
                               "a",
                               "b",
                               "1",
                               "2",
                               "-7",
                               "300",
                               "70000",
                               "9223372036854775807",
                               "01",
                               "",
                               "field-with-a-longer-name-xx",
                               "x y",
                               "9223372036854775808"};
static const char *vals[] = {"v1",
                             "",
                             "0",
                             "1",
                             "-1",
                             "10",
                             "123456789",
                             "9223372036854775807",
                             "-9223372036854775808",
                             "3.14",
                             "1e3",
                             " 1",
                             "01",
                             "abc",
                             "a longer value over sixteen bytes",
                             "inf",
                             "1.5",
                             "-0",
                             "5.0e3",
                             "\x00\xff\x10"};
static const size_t val_lens[] = {2, 0, 1, 1, 2, 2, 9, 19, 20, 4, 3, 2, 2, 3, 33, 3, 3, 2, 5, 3};
static const char *nums[] = {
    "1",   "-1",  "0", "5",     "-100", "9223372036854775807", "-9223372036854775808",
    "abc", "1.5", "",  "100000"};
static const char *counts[] = {"0",
                               "1",
                               "2",
                               "3",
                               "5",
                               "20",
                               "-1",
                               "-3",
                               "-20",
                               "abc",
                               "-9223372036854775808",
                               "9223372036854775807",
                               "-4611686018427387904"};

#define NK 6
#define NF 16
#define NV 20

typedef struct cmd {
    int argc;
    const char *argv[40];
    size_t lens[40];
} cmd;

static void add(cmd *c, const char *s) {
    c->argv[c->argc] = s;
    c->lens[c->argc++] = strlen(s);
}
static void add_val(cmd *c, trng *r) {
    unsigned i = trng_below(r, NV);
    c->argv[c->argc] = vals[i];
    c->lens[c->argc++] = val_lens[i];
}

/* A hash key mostly; sometimes one of another type (WRONGTYPE paths). */
static const char *K(trng *r) {
    return keys[trng_below(r, 8) < 7 ? trng_below(r, 4) : 4 + trng_below(r, 2)];
}
static const char *F(trng *r) {
    return fields[trng_below(r, NF)];
}

static int is_err_or_empty(const redisReply *x) {
    return !x || x->type == REDIS_REPLY_ERROR || x->type == REDIS_REPLY_NIL ||
           (x->type == REDIS_REPLY_ARRAY && x->elements == 0);
}

/* HRANDFIELD: the same errors/emptiness; otherwise the right number of
 * fields, all present in redis's copy (values equal), distinct when count >= 0. */
static void check_hrandfield(dpair *p, cmd *c) {
    redisReply *a = dk_run(p->l, c->argc, c->argv, c->lens),
               *b = dk_run(p->r, c->argc, c->argv, c->lens);
    dk_events(p, 1);
    if (is_err_or_empty(a) || is_err_or_empty(b)) {
        char *x = reply_str(a), *y = reply_str(b);
        if (strcmp(x, y) != 0) dk_fail(p, "HRANDFIELD (error/empty)", x, y);
        free(x);
        free(y);
    } else if (c->argc == 2) {
        redisReply *e = redisCommand(p->r, "HEXISTS %s %b", c->argv[1], a->str, a->len);
        if (a->type != REDIS_REPLY_STRING || !e || e->integer != 1)
            dk_fail(p, "HRANDFIELD member", a->str, "(not a field)");
        if (e) freeReplyObject(e);
    } else {
        long long n = atoll(c->argv[2]);
        int wv = c->argc == 4, step = wv ? 2 : 1;
        redisReply *len = redisCommand(p->r, "HLEN %s", c->argv[1]);
        long long size = len ? len->integer : 0;
        if (len) freeReplyObject(len);
        long long want = n >= 0 ? (n < size ? n : size) : -n;
        if ((long long)a->elements != want * step || (long long)b->elements != want * step) {
            char x[64], y[64];
            snprintf(x, sizeof(x), "%zu elements", a->elements);
            snprintf(y, sizeof(y), "%zu elements (want %lld)", b->elements, want * step);
            dk_fail(p, "HRANDFIELD count", x, y);
        }
        for (size_t i = 0; i + (size_t)step <= a->elements; i += (size_t)step) {
            redisReply *v = redisCommand(p->r, "HGET %s %b", c->argv[1], a->element[i]->str,
                                         a->element[i]->len);
            int ok = v && v->type == REDIS_REPLY_STRING;
            if (ok && wv)
                ok = v->len == a->element[i + 1]->len &&
                     memcmp(v->str, a->element[i + 1]->str, v->len) == 0;
            if (ok && n >= 0)
                for (size_t k = 0; k < i; k += (size_t)step)
                    if (a->element[k]->len == a->element[i]->len &&
                        memcmp(a->element[k]->str, a->element[i]->str, a->element[i]->len) == 0)
                        ok = 0;
            if (!ok)
                dk_fail(p, "HRANDFIELD element", a->element[i]->str,
                        "(not a field, wrong value or repeated)");
            if (v) freeReplyObject(v);
        }
    }
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
}

static char *full_scan(redisContext *c, cmd *base) {
    return dk_full_scan(c, base->argc, base->argv, base->lens, 2, 1);
}

static void check_hscan(dpair *p, cmd *c) {
    /* errors, missing keys, listpacks (one reply, insertion order): exactly */
    redisReply *e = redisCommand(p->r, "OBJECT ENCODING %s", c->argv[1]);
    int ht = e && e->type == REDIS_REPLY_STRING && strcmp(e->str, "hashtable") == 0;
    if (e) freeReplyObject(e);
    int bad_cursor = strcmp(c->argv[2], "0") != 0;
    if (ht && bad_cursor && strcmp(c->argv[2], "-1") == 0) {
        /* a cursor of 2^64-1: valid, but where it lands depends on the table size */
        redisReply *a = dk_run(p->l, c->argc, c->argv, c->lens),
                   *b = dk_run(p->r, c->argc, c->argv, c->lens);
        int ok = a && b && a->type == b->type;
        if (!ok) dk_fail(p, "HSCAN -1", "", "");
        if (a) freeReplyObject(a);
        if (b) freeReplyObject(b);
        dk_events(p, 1);
        return;
    }
    if (!ht || bad_cursor) {
        dk_check(p, c->argc, c->argv, c->lens, 0);
        return;
    }
    char *x = full_scan(p->l, c), *y = full_scan(p->r, c);
    if (strcmp(x, y) != 0) dk_fail(p, "HSCAN full iteration", x, y);
    free(x);
    free(y);
    dk_events(p, 1);
}

static int is_hashtable(redisContext *c, const char *key) {
    redisReply *e = redisCommand(c, "OBJECT ENCODING %s", key);
    int ht = e && e->type == REDIS_REPLY_STRING && strcmp(e->str, "hashtable") == 0;
    if (e) freeReplyObject(e);
    return ht;
}

/* A hashtable hash that comes back as a listpack (RESTORE, DEBUG RELOAD) is
 * laid out in its table's order, which differs between the servers: copy
 * redis's order to larder so later replies can be compared exactly. */
static void resync_hash(dpair *p, const char *key) {
    redisReply *all = redisCommand(p->r, "HGETALL %s", key);
    if (!all || all->type != REDIS_REPLY_ARRAY || all->elements == 0) {
        if (all) freeReplyObject(all);
        return;
    }
    redisReply *ttl = redisCommand(p->r, "PTTL %s", key);
    size_t n = all->elements + 2;
    const char **argv = malloc(sizeof(char *) * n);
    size_t *lens = malloc(sizeof(size_t) * n);
    argv[0] = "HSET";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < all->elements; i++) {
        argv[i + 2] = all->element[i]->str;
        lens[i + 2] = all->element[i]->len;
    }
    freeReplyObject(redisCommand(p->l, "DEL %s", key));
    freeReplyObject(redisCommandArgv(p->l, (int)n, argv, lens));
    if (ttl && ttl->integer > 0)
        freeReplyObject(redisCommand(p->l, "PEXPIRE %s %lld", key, ttl->integer));
    if (ttl) freeReplyObject(ttl);
    free(argv);
    free(lens);
    freeReplyObject(all);
    dk_events(p, 0);
}

/* One random step; returns 0 once the servers diverged. */
static int step(dpair *p, trng *r) {
    cmd c = {0};
    const char *key = K(r);
    int group = 0, enc_dep = 0, write = 0;
    switch (trng_below(r, 27)) {
    case 0:
    case 1:
    case 2: {
        add(&c, trng_below(r, 5) ? "HSET" : "HMSET");
        add(&c, key);
        int pairs = 1 + (int)trng_below(r, trng_below(r, 4) ? 3 : 12);
        for (int i = 0; i < pairs; i++) {
            add(&c, F(r));
            add_val(&c, r);
        }
        if (trng_below(r, 15) == 0) c.argc--; /* odd arity */
        write = 1;
        break;
    }
    case 3:
        add(&c, "HSETNX");
        add(&c, key);
        add(&c, F(r));
        add_val(&c, r);
        write = 1;
        break;
    case 4:
        add(&c, "HGET");
        add(&c, key);
        add(&c, F(r));
        break;
    case 5:
        add(&c, "HMGET");
        add(&c, key);
        for (int i = 0, n = 1 + (int)trng_below(r, 4); i < n; i++) add(&c, F(r));
        break;
    case 6:
    case 7:
        add(&c, "HDEL");
        add(&c, key);
        for (int i = 0, n = 1 + (int)trng_below(r, 4); i < n; i++) add(&c, F(r));
        write = 1;
        break;
    case 8:
        add(&c, "HEXISTS");
        add(&c, key);
        add(&c, F(r));
        break;
    case 9:
        add(&c, "HLEN");
        add(&c, key);
        break;
    case 10:
        add(&c, "HSTRLEN");
        add(&c, key);
        add(&c, F(r));
        break;
    case 11:
        add(&c, "HKEYS");
        add(&c, key);
        enc_dep = 1;
        group = 1;
        break;
    case 12:
        add(&c, "HVALS");
        add(&c, key);
        enc_dep = 1;
        group = 1;
        break;
    case 13:
        add(&c, "HGETALL");
        add(&c, key);
        enc_dep = 1;
        group = 2;
        break;
    case 14:
        add(&c, "HINCRBY");
        add(&c, key);
        add(&c, F(r));
        add(&c, nums[trng_below(r, 11)]);
        write = 1;
        break;
    case 15:
        add(&c, "HINCRBYFLOAT");
        add(&c, key);
        add(&c, F(r));
        add_val(&c, r);
        write = 1;
        break;
    case 16:
        add(&c, "HRANDFIELD");
        add(&c, key);
        if (trng_below(r, 4)) {
            add(&c, counts[trng_below(r, 13)]);
            /* -2^62 is valid without WITHVALUES: 4.6e18 replies; only its error form */
            if (trng_below(r, 2) || !strcmp(c.argv[2], "-4611686018427387904"))
                add(&c, trng_below(r, 8) ? "WITHVALUES" : "bogus");
            if (trng_below(r, 20) == 0) add(&c, "extra");
        }
        check_hrandfield(p, &c);
        return 1;
    case 17:
        add(&c, "HSCAN");
        add(&c, key);
        add(&c, trng_below(r, 10) ? "0" : (trng_below(r, 2) ? "abc" : "-1"));
        if (trng_below(r, 2)) {
            add(&c, "MATCH");
            add(&c, trng_below(r, 2) ? "f*" : "*1*");
        }
        if (trng_below(r, 2)) {
            add(&c, "COUNT");
            add(&c, trng_below(r, 6) ? "3" : "0");
        }
        if (trng_below(r, 15) == 0) add(&c, "TYPE");
        check_hscan(p, &c);
        return 1;
    case 18:
        add(&c, trng_below(r, 3) ? "EXISTS" : "TYPE");
        add(&c, key);
        break;
    case 19:
        add(&c, "DEL");
        add(&c, key);
        write = 1;
        break;
    case 20:
        if (trng_below(r, 2)) {
            add(&c, "SET");
            add(&c, "str");
            add(&c, "x");
        } else {
            add(&c, "SADD");
            add(&c, "s");
            add(&c, "m");
        }
        break;
    case 21:
        add(&c, "COPY");
        add(&c, key);
        add(&c, K(r));
        if (trng_below(r, 2)) add(&c, "REPLACE");
        write = 1;
        break;
    case 22:
        add(&c, "RENAME");
        add(&c, key);
        add(&c, K(r));
        write = 1;
        break;
    case 23: {
        /* DUMP/RESTORE within each server (the payload formats differ) */
        const char *dst = K(r);
        redisReply *da = redisCommand(p->l, "DUMP %s", key),
                   *db = redisCommand(p->r, "DUMP %s", key);
        int was_ht = is_hashtable(p->r, key);
        if (da && db && da->type == REDIS_REPLY_STRING && db->type == REDIS_REPLY_STRING) {
            char *x = dk_fmt(p->l, "RESTORE %s 0 %b REPLACE", dst, da->str, da->len);
            char *y = dk_fmt(p->r, "RESTORE %s 0 %b REPLACE", dst, db->str, db->len);
            if (strcmp(x, y) != 0) dk_fail(p, "RESTORE", x, y);
            free(x);
            free(y);
        } else {
            char *x = reply_str(da), *y = reply_str(db);
            if (strcmp(x, y) != 0) dk_fail(p, "DUMP", x, y);
            free(x);
            free(y);
        }
        if (da) freeReplyObject(da);
        if (db) freeReplyObject(db);
        dk_events(p, 1);
        if (was_ht && !is_hashtable(p->r, dst)) resync_hash(p, dst);
        return dk_same_encoding(p, dst);
    }
    case 24: {
        /* MEMORY USAGE: both a number or both nil */
        redisReply *a = redisCommand(p->l, "MEMORY USAGE %s", key),
                   *b = redisCommand(p->r, "MEMORY USAGE %s", key);
        int ok = a && b && a->type == b->type && (a->type != REDIS_REPLY_INTEGER || a->integer > 0);
        if (!ok) {
            char *x = reply_str(a), *y = reply_str(b);
            dk_fail(p, "MEMORY USAGE kind", x, y);
            free(x);
            free(y);
        }
        if (a) freeReplyObject(a);
        if (b) freeReplyObject(b);
        return ok;
    }
    case 25: { /* wrong arity */
        static const char *cmds[] = {"HGET",    "HSET",  "HSETNX",  "HDEL",       "HLEN",
                                     "HINCRBY", "HKEYS", "HSTRLEN", "HRANDFIELD", "HSCAN"};
        add(&c, cmds[trng_below(r, 10)]);
        if (trng_below(r, 2) && strcmp(c.argv[0], "HRANDFIELD")) add(&c, key);
        if (!strcmp(c.argv[0], "HLEN") || !strcmp(c.argv[0], "HKEYS")) {
            add(&c, key);
            add(&c, "x");
        }
        break;
    }
    default:
        if (trng_below(r, 40) == 0) {
            int was_ht[NK];
            for (int k = 0; k < NK; k++) was_ht[k] = is_hashtable(p->r, keys[k]);
            add(&c, "DEBUG");
            add(&c, "RELOAD");
            int ok = dk_check(p, c.argc, c.argv, c.lens, 0);
            for (int k = 0; k < NK; k++) {
                if (was_ht[k] && !is_hashtable(p->r, keys[k])) resync_hash(p, keys[k]);
                ok &= dk_same_encoding(p, keys[k]);
            }
            return ok;
        } else {
            add(&c, "OBJECT");
            add(&c, "ENCODING");
            add(&c, key);
        }
        break;
    }
    int ok = enc_dep ? dk_check_enc(p, c.argc, c.argv, c.lens, key, group)
                     : dk_check(p, c.argc, c.argv, c.lens, group);
    if (write) ok &= dk_same_encoding(p, key);
    if (write && c.argc >= 3 && (!strcmp(c.argv[0], "COPY") || !strcmp(c.argv[0], "RENAME")))
        ok &= dk_same_encoding(p, c.argv[2]);
    return ok;
}

TEST(random_scripts_match_redis) {
    static const char *const extra[] = {"--hash-max-listpack-entries",
                                        "8",
                                        "--hash-max-listpack-value",
                                        "16",
                                        "--enable-debug-command",
                                        "yes",
                                        NULL};
    srv a, b;
    CHECK(srv_start(&a, extra) == 0);
    CHECK(srv_start_redis(&b, extra) == 0);
    dpair p;
    CHECK(dk_open(&p, &a, &b) == 0);
    unsigned long long seed = test_seed("DIFF_SEED", 20261201);
    int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 8;
    static const char *entries[] = {"8", "0", "2", "128", "8", "4"};
    static const char *values[] = {"16", "16", "3", "64", "0", "16"};
    for (int round = 0; round < rounds && p.mismatches < 5 && p.l && p.r; round++) {
        trng r;
        trng_seed(&r, seed + (unsigned long long)round);
        freeReplyObject(redisCommand(p.l, "FLUSHALL"));
        freeReplyObject(redisCommand(p.r, "FLUSHALL"));
        for (int s = 0; s < 2; s++) {
            redisContext *ctx = s ? p.r : p.l;
            freeReplyObject(
                redisCommand(ctx, "CONFIG SET hash-max-listpack-entries %s", entries[round % 6]));
            freeReplyObject(
                redisCommand(ctx, "CONFIG SET hash-max-listpack-value %s", values[round % 6]));
        }
        dk_events(&p, 0);
        char where[96];
        p.where = where;
        for (int i = 0; i < 3000; i++) {
            snprintf(where, sizeof(where), "seed %llu round %d step %d", seed, round, i);
            if (!step(&p, &r)) break; /* the states diverged: next round */
        }
    }
    dk_close(&p);
    srv_stop(&a);
    srv_stop(&b);
}

/* RESP3 shapes (raw sockets: maps, sets, nested HRANDFIELD pairs). */
TEST(resp3_replies_match_redis) {
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    int fa = srv_raw_socket(&a), fb = srv_raw_socket(&b);
    CHECK(fa >= 0 && fb >= 0);
    static const char *script[] = {"HSET h a 1 b 2 c 3",
                                   "HGETALL h",
                                   "HGETALL nosuch",
                                   "HKEYS h",
                                   "HVALS h",
                                   "HMGET h a x",
                                   "HRANDFIELD h 0",
                                   "HRANDFIELD nosuch 3 WITHVALUES",
                                   "HRANDFIELD h 3 WITHVALUES",
                                   "HRANDFIELD h 5",
                                   "HSCAN h 0",
                                   "HINCRBYFLOAT h a 1.5",
                                   "HGET h nosuch",
                                   "HRANDFIELD nosuch",
                                   "HSTRLEN h a",
                                   NULL};
    for (int i = 0; script[i]; i++) {
        if (i == 1) {
            char *x = raw_cmd_str(fa, "HELLO 3"), *y = raw_cmd_str(fb, "HELLO 3");
            free(x);
            free(y);
        }
        char *x = raw_cmd_str(fa, script[i]), *y = raw_cmd_str(fb, script[i]);
        if (strcmp(x, y) != 0)
            fprintf(stderr, "RESP3 DIFF on %s\n  larder: %s\n  redis:  %s\n", script[i], x, y);
        CHECK_STR(x, y);
        free(x);
        free(y);
    }
    /* a pair shape: [[field, value]] */
    char *x = raw_cmd_str(fa, "HRANDFIELD h 2 WITHVALUES");
    CHECK(x[0] == '[' && x[1] == '[');
    free(x);
    close(fa);
    close(fb);
    srv_stop(&a);
    srv_stop(&b);
}

int main(void) {
    RUN(random_scripts_match_redis);
    RUN(resp3_replies_match_redis);
    return test_report();
}
