/* Differential test of the set family: seeded random scripts replayed
 * against larder-server and Debian's redis-server. Replies must match (sorted
 * client-side where order is free: hashtable sets and the SINTER/SUNION/SDIFF
 * results), OBJECT ENCODING must match after every write (intset ->
 * hashtable by a non-integer member or by size, with the limit changed
 * between rounds), and so must the keyspace notifications once larder-server
 * has pub/sub. SPOP runs on larder and is replayed on redis as what it did
 * (SREM of the popped members, or a rebuild when Redis's SPOP would build a
 * new set), after checking its reply; SRANDMEMBER is checked for shape and
 * membership; full SSCAN iterations are compared as sets. */
#include "diffkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *keys[] = {"s0", "s1", "s2", "{t}s3", "str", "h"};
static const char *members[] = {"1",
                                "2",
                                "3",
                                "-7",
                                "300",
                                "70000",
                                "5000000000",
                                "9223372036854775807",
                                "-9223372036854775808",
                                "0",
                                "a",
                                "b",
                                "c",
                                "01",
                                "",
                                "x y",
                                "9223372036854775808",
                                "a-longer-member-name",
                                "-0",
                                "+1"};
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
                               "-5",
                               "1.5",
                               "9223372036854775807",
                               "-9223372036854775808"};

#define NK 6
#define NM 20

typedef struct cmd {
    int argc;
    const char *argv[40];
    size_t lens[40];
} cmd;

static void add(cmd *c, const char *s) {
    c->argv[c->argc] = s;
    c->lens[c->argc++] = strlen(s);
}

static const char *K(trng *r) {
    return keys[trng_below(r, 8) < 7 ? trng_below(r, 4) : 4 + trng_below(r, 2)];
}
/* members biased towards integers so intsets live long enough to matter */
static const char *M(trng *r) {
    return members[trng_below(r, 3) ? trng_below(r, 10) : trng_below(r, NM)];
}

static int encoding_is(redisContext *c, const char *key, const char *enc) {
    redisReply *e = redisCommand(c, "OBJECT ENCODING %s", key);
    int is = e && e->type == REDIS_REPLY_STRING && strcmp(e->str, enc) == 0;
    if (e) freeReplyObject(e);
    return is;
}

static long long integer_of(redisContext *c, const char *fmt, const char *key) {
    redisReply *r = redisCommand(c, fmt, key);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return v;
}

static int is_member(redisContext *c, const char *key, const redisReply *m) {
    redisReply *r = redisCommand(c, "SISMEMBER %s %b", key, m->str, m->len);
    int yes = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r) freeReplyObject(r);
    return yes;
}

static int distinct(const redisReply *a) {
    for (size_t i = 0; i < a->elements; i++)
        for (size_t k = 0; k < i; k++)
            if (a->element[k]->len == a->element[i]->len &&
                memcmp(a->element[k]->str, a->element[i]->str, a->element[i]->len) == 0)
                return 0;
    return 1;
}

/* SPOP [count]: run on larder, checked against redis's copy, then redis is
 * brought to the same state. */
static int do_spop(dpair *p, cmd *c) {
    const char *key = c->argv[1];
    long long size = integer_of(p->r, "SCARD %s", key);
    redisReply *a = dk_run(p->l, c->argc, c->argv, c->lens);
    int ok = a != NULL;
    if (!a) {
        dk_fail(p, "SPOP", "(lost)", "");
        return 0;
    }
    if (a->type == REDIS_REPLY_ERROR || a->type == REDIS_REPLY_NIL ||
        (a->type == REDIS_REPLY_ARRAY && a->elements == 0) || size <= 0) {
        /* no change: redis must say the same */
        redisReply *b = dk_run(p->r, c->argc, c->argv, c->lens);
        char *x = reply_str(a), *y = reply_str(b);
        if (strcmp(x, y) != 0) {
            dk_fail(p, "SPOP (error/empty)", x, y);
            ok = 0;
        }
        free(x);
        free(y);
        if (b) freeReplyObject(b);
        freeReplyObject(a);
        dk_events(p, 1);
        return ok;
    }
    dk_events(p, 0);
    long long count = c->argc == 3 ? atoll(c->argv[2]) : 1;
    long long want = count < size ? count : size;
    const redisReply **popped =
        malloc(sizeof(redisReply *) * (a->type == REDIS_REPLY_ARRAY ? a->elements + 1 : 1));
    size_t np = 0;
    if (a->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < a->elements; i++) popped[np++] = a->element[i];
    else
        popped[np++] = a;
    if ((long long)np != want || (a->type == REDIS_REPLY_ARRAY && !distinct(a))) {
        char x[64], y[64];
        snprintf(x, sizeof(x), "%zu members", np);
        snprintf(y, sizeof(y), "%lld wanted (distinct)", want);
        dk_fail(p, "SPOP count", x, y);
        ok = 0;
    }
    for (size_t i = 0; i < np; i++)
        if (!is_member(p->r, key, popped[i])) {
            dk_fail(p, "SPOP member", popped[i]->str, "(not a member)");
            ok = 0;
        }
    long long remaining = size - (long long)np;
    if (c->argc == 3 && remaining > 0 && remaining * 5 <= count) {
        /* Redis's SPOP moves what stays into a new set (created as SADD does) */
        redisReply *left = redisCommand(p->l, "SMEMBERS %s", key);
        redisReply *ttl = redisCommand(p->r, "PTTL %s", key);
        const char **argv = malloc(sizeof(char *) * (left->elements + 2));
        size_t *lens = malloc(sizeof(size_t) * (left->elements + 2));
        argv[0] = "SADD";
        lens[0] = 4;
        argv[1] = key;
        lens[1] = strlen(key);
        for (size_t i = 0; i < left->elements; i++) {
            argv[i + 2] = left->element[i]->str;
            lens[i + 2] = left->element[i]->len;
        }
        freeReplyObject(redisCommand(p->r, "DEL %s", key));
        freeReplyObject(redisCommandArgv(p->r, (int)left->elements + 2, argv, lens));
        if (ttl && ttl->integer > 0)
            freeReplyObject(redisCommand(p->r, "PEXPIRE %s %lld", key, ttl->integer));
        if (ttl) freeReplyObject(ttl);
        free(argv);
        free(lens);
        freeReplyObject(left);
    } else {
        for (size_t i = 0; i < np; i++)
            freeReplyObject(redisCommand(p->r, "SREM %s %b", key, popped[i]->str, popped[i]->len));
    }
    free(popped);
    freeReplyObject(a);
    dk_events(p, 0);
    return ok && dk_same_encoding(p, key);
}

/* SRANDMEMBER: same errors/emptiness, else the right count of members. */
static void check_srandmember(dpair *p, cmd *c) {
    redisReply *a = dk_run(p->l, c->argc, c->argv, c->lens),
               *b = dk_run(p->r, c->argc, c->argv, c->lens);
    dk_events(p, 1);
    int simple = !a || !b || a->type == REDIS_REPLY_ERROR || a->type == REDIS_REPLY_NIL ||
                 (a->type == REDIS_REPLY_ARRAY && a->elements == 0) || b->type != a->type;
    if (simple) {
        char *x = reply_str(a), *y = reply_str(b);
        if (strcmp(x, y) != 0) dk_fail(p, "SRANDMEMBER (error/empty)", x, y);
        free(x);
        free(y);
    } else if (a->type == REDIS_REPLY_STRING) {
        if (!is_member(p->r, c->argv[1], a))
            dk_fail(p, "SRANDMEMBER member", a->str, "(not a member)");
    } else {
        long long n = atoll(c->argv[2]), size = integer_of(p->r, "SCARD %s", c->argv[1]);
        long long want = n >= 0 ? (n < size ? n : size) : -n;
        if ((long long)a->elements != want || (long long)b->elements != want ||
            (n >= 0 && !distinct(a)))
            dk_fail(p, "SRANDMEMBER count", "", "");
        for (size_t i = 0; i < a->elements; i++)
            if (!is_member(p->r, c->argv[1], a->element[i]))
                dk_fail(p, "SRANDMEMBER member", a->element[i]->str, "(not a member)");
    }
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
}

static char *full_scan(redisContext *c, cmd *base) {
    return dk_full_scan(c, base->argc, base->argv, base->lens, 2, 0);
}

static void check_sscan(dpair *p, cmd *c) {
    int ht = encoding_is(p->r, c->argv[1], "hashtable");
    if (!ht || strcmp(c->argv[2], "0") != 0) {
        if (ht) { /* a valid far cursor lands where the table size says */
            redisReply *a = dk_run(p->l, c->argc, c->argv, c->lens),
                       *b = dk_run(p->r, c->argc, c->argv, c->lens);
            if (!a || !b || a->type != b->type) dk_fail(p, "SSCAN far cursor", "", "");
            if (a) freeReplyObject(a);
            if (b) freeReplyObject(b);
            dk_events(p, 1);
            return;
        }
        dk_check(p, c->argc, c->argv, c->lens, 0);
        return;
    }
    char *x = full_scan(p->l, c), *y = full_scan(p->r, c);
    if (strcmp(x, y) != 0) dk_fail(p, "SSCAN full iteration", x, y);
    free(x);
    free(y);
    dk_events(p, 1);
}

static int step(dpair *p, trng *r) {
    cmd c = {0};
    const char *key = K(r);
    int group = 0, enc_dep = 0;
    const char *written[3] = {NULL, NULL, NULL};
    switch (trng_below(r, 26)) {
    case 0:
    case 1:
    case 2:
    case 3:
        add(&c, "SADD");
        add(&c, key);
        for (int i = 0, n = 1 + (int)trng_below(r, trng_below(r, 4) ? 3 : 20); i < n; i++)
            add(&c, M(r));
        written[0] = key;
        break;
    case 4:
    case 5:
        add(&c, "SREM");
        add(&c, key);
        for (int i = 0, n = 1 + (int)trng_below(r, 4); i < n; i++) add(&c, M(r));
        written[0] = key;
        break;
    case 6:
        add(&c, "SMEMBERS");
        add(&c, key);
        enc_dep = 1;
        group = 1;
        break;
    case 7:
        add(&c, "SISMEMBER");
        add(&c, key);
        add(&c, M(r));
        break;
    case 8:
        add(&c, "SMISMEMBER");
        add(&c, key);
        for (int i = 0, n = 1 + (int)trng_below(r, 4); i < n; i++) add(&c, M(r));
        break;
    case 9:
        add(&c, "SCARD");
        add(&c, key);
        break;
    case 10:
        add(&c, "SPOP");
        add(&c, key);
        if (trng_below(r, 3)) add(&c, counts[trng_below(r, 14)]);
        if (trng_below(r, 25) == 0) add(&c, "extra");
        if (c.argc == 3 && c.argv[2][0] == '9') { /* popping 2^63-1: all of it, kept readable */
            c.argv[2] = "20";
            c.lens[2] = 2;
        }
        return do_spop(p, &c);
    case 11: {
        add(&c, "SRANDMEMBER");
        add(&c, key);
        if (trng_below(r, 4)) add(&c, counts[trng_below(r, 14)]);
        if (trng_below(r, 25) == 0) add(&c, "extra");
        check_srandmember(p, &c);
        return 1;
    }
    case 12:
        add(&c, "SMOVE");
        add(&c, key);
        add(&c, K(r));
        add(&c, M(r));
        written[0] = c.argv[1];
        written[1] = c.argv[2];
        break;
    case 13:
    case 14: {
        static const char *ops[] = {"SINTER", "SUNION", "SDIFF"};
        add(&c, ops[trng_below(r, 3)]);
        for (int i = 0, n = 1 + (int)trng_below(r, 3); i < n; i++) add(&c, K(r));
        group = 1;
        break;
    }
    case 15:
    case 16: {
        static const char *ops[] = {"SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"};
        add(&c, ops[trng_below(r, 3)]);
        add(&c, K(r));
        for (int i = 0, n = 1 + (int)trng_below(r, 3); i < n; i++) add(&c, K(r));
        written[0] = c.argv[1];
        break;
    }
    case 17: {
        static const char *nk[] = {"1", "2", "3", "0", "-1", "abc", "5"};
        static const char *lim[] = {"0", "1", "2", "-1", "abc", "100"};
        add(&c, "SINTERCARD");
        add(&c, nk[trng_below(r, 7)]);
        for (int i = 0, n = 1 + (int)trng_below(r, 3); i < n; i++) add(&c, K(r));
        if (trng_below(r, 2)) {
            add(&c, trng_below(r, 8) ? "LIMIT" : "BOGUS");
            if (trng_below(r, 10)) add(&c, lim[trng_below(r, 6)]);
        }
        break;
    }
    case 18:
        add(&c, "SSCAN");
        add(&c, key);
        add(&c, trng_below(r, 10) ? "0" : (trng_below(r, 2) ? "abc" : "-1"));
        if (trng_below(r, 2)) {
            add(&c, "MATCH");
            add(&c, trng_below(r, 2) ? "1*" : "*a*");
        }
        if (trng_below(r, 2)) {
            add(&c, "COUNT");
            add(&c, trng_below(r, 6) ? "3" : "0");
        }
        check_sscan(p, &c);
        return 1;
    case 19:
        add(&c, trng_below(r, 2) ? "EXISTS" : "TYPE");
        add(&c, key);
        break;
    case 20:
        add(&c, "DEL");
        add(&c, key);
        written[0] = key;
        break;
    case 21:
        if (trng_below(r, 2)) {
            add(&c, "SET");
            add(&c, "str");
            add(&c, "x");
        } else {
            add(&c, "HSET");
            add(&c, "h");
            add(&c, "f");
            add(&c, "v");
        }
        break;
    case 22:
        add(&c, trng_below(r, 2) ? "COPY" : "RENAME");
        add(&c, key);
        add(&c, K(r));
        if (!strcmp(c.argv[0], "COPY") && trng_below(r, 2)) add(&c, "REPLACE");
        written[0] = c.argv[1];
        written[1] = c.argv[2];
        break;
    case 23: {
        const char *dst = K(r);
        redisReply *da = redisCommand(p->l, "DUMP %s", key),
                   *db = redisCommand(p->r, "DUMP %s", key);
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
        return dk_same_encoding(p, dst);
    }
    case 24: { /* wrong arity and syntax */
        static const char *cmds[] = {"SADD",  "SREM",       "SCARD",       "SISMEMBER",
                                     "SMOVE", "SINTERCARD", "SINTERSTORE", "SMISMEMBER"};
        add(&c, cmds[trng_below(r, 8)]);
        if (trng_below(r, 2)) add(&c, key);
        if (!strcmp(c.argv[0], "SCARD")) {
            add(&c, key);
            add(&c, "x");
        }
        break;
    }
    default:
        if (trng_below(r, 30) == 0) {
            add(&c, "DEBUG");
            add(&c, "RELOAD");
            int ok = dk_check(p, c.argc, c.argv, c.lens, 0);
            for (int k = 0; k < NK; k++) ok &= dk_same_encoding(p, keys[k]);
            return ok;
        }
        add(&c, "OBJECT");
        add(&c, "ENCODING");
        add(&c, key);
        break;
    }
    int ok = enc_dep ? dk_check_enc(p, c.argc, c.argv, c.lens, key, group)
                     : dk_check(p, c.argc, c.argv, c.lens, group);
    for (int i = 0; i < 3 && written[i]; i++) ok &= dk_same_encoding(p, written[i]);
    return ok;
}

TEST(random_scripts_match_redis) {
    static const char *const extra[] = {"--set-max-intset-entries", "8", "--enable-debug-command",
                                        "yes", NULL};
    srv a, b;
    CHECK(srv_start(&a, extra) == 0);
    CHECK(srv_start_redis(&b, extra) == 0);
    dpair p;
    CHECK(dk_open(&p, &a, &b) == 0);
    unsigned long long seed = test_seed("DIFF_SEED", 20261202);
    int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 8;
    static const char *limits[] = {"8", "0", "3", "512", "8", "1"};
    for (int round = 0; round < rounds && p.mismatches < 5 && p.l && p.r; round++) {
        trng r;
        trng_seed(&r, seed + (unsigned long long)round);
        freeReplyObject(redisCommand(p.l, "FLUSHALL"));
        freeReplyObject(redisCommand(p.r, "FLUSHALL"));
        freeReplyObject(
            redisCommand(p.l, "CONFIG SET set-max-intset-entries %s", limits[round % 6]));
        freeReplyObject(
            redisCommand(p.r, "CONFIG SET set-max-intset-entries %s", limits[round % 6]));
        dk_events(&p, 0);
        char where[96];
        p.where = where;
        for (int i = 0; i < 3000; i++) {
            snprintf(where, sizeof(where), "seed %llu round %d step %d", seed, round, i);
            if (!step(&p, &r)) break;
        }
    }
    dk_close(&p);
    srv_stop(&a);
    srv_stop(&b);
}

/* RESP3 shapes (raw sockets): SMEMBERS/SINTER/SUNION/SPOP replies are sets. */
TEST(resp3_replies_match_redis) {
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    int fa = srv_raw_socket(&a), fb = srv_raw_socket(&b);
    CHECK(fa >= 0 && fb >= 0);
    static const char *script[] = {"HELLO 3",
                                   "SADD s 3 1 2",
                                   "SADD t 2 3 4",
                                   "SMEMBERS s",
                                   "SMEMBERS nosuch",
                                   "SINTER s t",
                                   "SUNION s t",
                                   "SDIFF s t",
                                   "SINTER s nosuch",
                                   "SPOP s 0",
                                   "SPOP nosuch 2",
                                   "SPOP nosuch",
                                   "SRANDMEMBER s 0",
                                   "SRANDMEMBER s 5",
                                   "SRANDMEMBER nosuch 2",
                                   "SRANDMEMBER nosuch",
                                   "SMISMEMBER s 1 9",
                                   "SINTERCARD 2 s t LIMIT 1",
                                   "SSCAN s 0",
                                   "SPOP t 3",
                                   NULL};
    for (int i = 0; script[i]; i++) {
        char *x = raw_cmd_str(fa, script[i]), *y = raw_cmd_str(fb, script[i]);
        if (i && strcmp(x, y) != 0)
            fprintf(stderr, "RESP3 DIFF on %s\n  larder: %s\n  redis:  %s\n", script[i], x, y);
        if (i) CHECK_STR(x, y);
        free(x);
        free(y);
    }
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
