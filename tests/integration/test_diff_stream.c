/* Differential test of the stream family: seeded random scripts replayed
 * against larder-server and Debian's redis-server, every reply and keyspace
 * notification compared. Ids are explicit (auto ids depend on the clock);
 * replies that carry times (XPENDING's idle, XINFO CONSUMERS, XINFO STREAM
 * FULL) are left out, and XINFO STREAM's radix-tree figures are Redis's
 * internals, so XLEN/XRANGE/XINFO GROUPS stand in for it. A second test blocks
 * several readers (XREAD $, XREADGROUP >, with and without COUNT) on both
 * servers and compares what each gets when entries arrive, when its group is
 * destroyed, when its key is deleted or becomes another type, when CLIENT
 * UNBLOCK (TIMEOUT or ERROR) ends its wait and when its timeout passes. */
#include "diffkit.h"
#include "rawconn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *keys[] = {"s0", "s1", "{t}s2", "str"};
static const char *groups[] = {"g1", "g2", "nog"};
static const char *consumers[] = {"alice", "bob", "carol"};
static const char *fields[] = {"f", "g", "field", "", "1"};

typedef struct cmd {
    int argc;
    const char *argv[48];
    size_t lens[48];
    char buf[48][48];
} cmd;

static void add(cmd *c, const char *s) {
    c->argv[c->argc] = s;
    c->lens[c->argc++] = strlen(s);
}

static void addf(cmd *c, const char *fmt, unsigned long long a, unsigned long long b, int two) {
    char *d = c->buf[c->argc];
    if (two)
        snprintf(d, 48, fmt, a, b);
    else
        snprintf(d, 48, fmt, a);
    add(c, d);
}

/* An id near the ones in use: ms 1..40, seq 0..3, sometimes partial/special. */
static void add_id(cmd *c, trng *r, int special) {
    unsigned k = trng_below(r, 20);
    if (special && k == 0) {
        add(c, trng_below(r, 2) ? "-" : "+");
    } else if (special && k == 1) {
        addf(c, "(%llu-%llu", 1 + trng_below(r, 40), trng_below(r, 4), 1);
    } else if (k == 2) {
        addf(c, "%llu", 1 + trng_below(r, 40), 0, 0);
    } else if (k == 3) {
        add(c, trng_below(r, 2) ? "0-0" : "bad-id");
    } else {
        addf(c, "%llu-%llu", 1 + trng_below(r, 40), trng_below(r, 4), 1);
    }
}

static const char *K(trng *r) {
    return keys[trng_below(r, 10) < 9 ? trng_below(r, 3) : 3];
}

static void add_fields(cmd *c, trng *r) {
    int n = 1 + (int)trng_below(r, 3);
    for (int i = 0; i < n; i++) {
        add(c, fields[trng_below(r, 5)]);
        addf(c, "v%llu", trng_below(r, 100), 0, 0);
    }
}

static void add_trim(cmd *c, trng *r) {
    add(c, trng_below(r, 2) ? "MAXLEN" : "MINID");
    int minid = c->argv[c->argc - 1][1] == 'I';
    unsigned how = trng_below(r, 3);
    if (how) add(c, how == 1 ? "=" : "~");
    if (minid)
        add_id(c, r, 0);
    else
        addf(c, "%llu", trng_below(r, 12), 0, 0);
    if (how == 2 && trng_below(r, 3) == 0) addf(c, "%llu", trng_below(r, 5), 0, 0), add(c, "x");
    if (c->argv[c->argc - 1][0] == 'x') {
        c->argv[c->argc - 2] = "LIMIT", c->lens[c->argc - 2] = 5;
        addf(c, "%llu", trng_below(r, 5), 0, 0);
        c->argv[c->argc - 2] = c->argv[c->argc - 1];
        c->lens[c->argc - 2] = c->lens[c->argc - 1];
        c->argc--;
    }
}

static void gen_write(cmd *c, trng *r, const char *key) {
    switch (trng_below(r, 9)) {
    case 0:
    case 1:
    case 2:
    case 3:
        add(c, "XADD");
        add(c, key);
        if (trng_below(r, 8) == 0) add(c, "NOMKSTREAM");
        if (trng_below(r, 6) == 0) add_trim(c, r);
        if (trng_below(r, 6) == 0)
            addf(c, "%llu-*", 1 + trng_below(r, 40), 0, 0);
        else
            add_id(c, r, 0);
        add_fields(c, r);
        break;
    case 4:
        add(c, "XDEL");
        add(c, key);
        for (int i = (int)trng_below(r, 3); i >= 0; i--) add_id(c, r, 0);
        break;
    case 5:
        add(c, "XTRIM");
        add(c, key);
        add_trim(c, r);
        break;
    case 6:
        add(c, "XGROUP");
        add(c, "CREATE");
        add(c, key);
        add(c, groups[trng_below(r, 2)]);
        if (trng_below(r, 3) == 0)
            add(c, "$");
        else
            add_id(c, r, 0);
        if (trng_below(r, 2)) add(c, "MKSTREAM");
        break;
    case 7: {
        static const char *sub[] = {"SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER"};
        unsigned s = trng_below(r, 4);
        add(c, "XGROUP");
        add(c, sub[s]);
        add(c, key);
        add(c, groups[trng_below(r, 3)]);
        if (s == 0)
            add_id(c, r, 0);
        else if (s >= 2)
            add(c, consumers[trng_below(r, 3)]);
        break;
    }
    default:
        add(c, "XSETID");
        add(c, key);
        add_id(c, r, 0);
        break;
    }
}

static void gen_group_op(cmd *c, trng *r, const char *key) {
    switch (trng_below(r, 5)) {
    case 0:
    case 1:
        add(c, "XREADGROUP");
        add(c, "GROUP");
        add(c, groups[trng_below(r, 3)]);
        add(c, consumers[trng_below(r, 3)]);
        if (trng_below(r, 2)) add(c, "COUNT"), addf(c, "%llu", trng_below(r, 4), 0, 0);
        if (trng_below(r, 5) == 0) add(c, "NOACK");
        add(c, "STREAMS");
        add(c, key);
        if (trng_below(r, 3))
            add(c, ">");
        else
            add_id(c, r, 0);
        break;
    case 2:
        add(c, "XACK");
        add(c, key);
        add(c, groups[trng_below(r, 3)]);
        for (int i = (int)trng_below(r, 3); i >= 0; i--) add_id(c, r, 0);
        break;
    case 3:
        add(c, "XCLAIM");
        add(c, key);
        add(c, groups[trng_below(r, 3)]);
        add(c, consumers[trng_below(r, 3)]);
        add(c, "0");
        for (int i = (int)trng_below(r, 3); i >= 0; i--) add_id(c, r, 0);
        if (trng_below(r, 2)) add(c, "JUSTID");
        if (trng_below(r, 3) == 0) add(c, "FORCE");
        if (trng_below(r, 3) == 0) add(c, "RETRYCOUNT"), addf(c, "%llu", trng_below(r, 9), 0, 0);
        break;
    default:
        add(c, "XAUTOCLAIM");
        add(c, key);
        add(c, groups[trng_below(r, 3)]);
        add(c, consumers[trng_below(r, 3)]);
        add(c, "0");
        add_id(c, r, 1);
        if (trng_below(r, 2)) add(c, "COUNT"), addf(c, "%llu", trng_below(r, 4), 0, 0);
        if (trng_below(r, 2)) add(c, "JUSTID");
        break;
    }
}

static void gen_read(cmd *c, trng *r, const char *key) {
    switch (trng_below(r, 6)) {
    case 0:
    case 1:
        add(c, trng_below(r, 2) ? "XRANGE" : "XREVRANGE");
        add(c, key);
        add_id(c, r, 1);
        add_id(c, r, 1);
        if (trng_below(r, 2)) add(c, "COUNT"), addf(c, "%llu", trng_below(r, 5), 0, 0);
        break;
    case 2:
        add(c, "XLEN");
        add(c, key);
        break;
    case 3:
        add(c, "XREAD");
        if (trng_below(r, 2)) add(c, "COUNT"), addf(c, "%llu", trng_below(r, 4), 0, 0);
        add(c, "STREAMS");
        add(c, key);
        add(c, keys[trng_below(r, 3)]);
        add_id(c, r, 0);
        add_id(c, r, 0);
        break;
    case 4:
        add(c, "XPENDING");
        add(c, key);
        add(c, groups[trng_below(r, 3)]);
        break;
    default:
        add(c, "XINFO");
        add(c, "GROUPS");
        add(c, key);
        break;
    }
}

static int step(dpair *p, trng *r) {
    cmd c;
    c.argc = 0;
    const char *key = K(r);
    unsigned k = trng_below(r, 10);
    if (k < 4)
        gen_write(&c, r, key);
    else if (k < 7)
        gen_group_op(&c, r, key);
    else
        gen_read(&c, r, key);
    return dk_check(p, c.argc, c.argv, c.lens, 0);
}

TEST(random_scripts_match_redis) {
    static const char *const extra[] = {"--stream-node-max-entries", "4", NULL};
    srv a, b;
    CHECK(srv_start(&a, extra) == 0);
    CHECK(srv_start_redis(&b, extra) == 0);
    dpair p;
    CHECK(dk_open(&p, &a, &b) == 0);
    unsigned long long seed = test_seed("DIFF_SEED", 20261207);
    int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 6;
    for (int round = 0; round < rounds && p.mismatches < 5 && p.l && p.r; round++) {
        trng r;
        trng_seed(&r, seed + (unsigned long long)round);
        freeReplyObject(redisCommand(p.l, "FLUSHALL"));
        freeReplyObject(redisCommand(p.r, "FLUSHALL"));
        freeReplyObject(redisCommand(p.l, "SET str x"));
        freeReplyObject(redisCommand(p.r, "SET str x"));
        dk_events(&p, 0);
        char where[96];
        p.where = where;
        for (int i = 0; i < 2000; i++) {
            snprintf(where, sizeof(where), "seed %llu round %d step %d", seed, round, i);
            if (!step(&p, &r)) break;
        }
        for (int k = 0; k < 3; k++) {
            const char *argv[] = {"XRANGE", keys[k], "-", "+"};
            size_t lens[] = {6, strlen(keys[k]), 1, 1};
            dk_check(&p, 4, argv, lens, 0);
        }
    }
    dk_close(&p);
    srv_stop(&a);
    srv_stop(&b);
}

/* Bad input: each command's error (or reply) as Redis 7.0 gives it. */
TEST(bad_input_matches_redis) {
    static const char *const cmds[] = {
        "XREAD STREAMS s0",
        "XREAD COUNT 1 STREAMS s0 s1 0",
        "XREADGROUP GROUP g alice STREAMS s0",
        "XREADGROUP GROUP g alice STREAMS s0 s1 >",
        "XREAD BLOCK -1 STREAMS s0 0",
        "XREAD BLOCK x STREAMS s0 0",
        "XREAD COUNT x STREAMS s0 0",
        "XREAD GROUP g a STREAMS s0 0",
        "XREAD STREAMS s0 bad",
        "XREAD STREAMS s0 >",
        "XREADGROUP STREAMS s0 >",
        "XREADGROUP GROUP nog alice STREAMS s0 >",
        "XREADGROUP GROUP g alice STREAMS s0 $",
        "XREADGROUP GROUP g alice STREAMS nokey >",
        "XADD s0 1-1 f",
        "XADD s0 0-0 f v",
        "XADD s0 1-1 f v",
        "XADD s0 abc f v",
        "XADD s0 MAXLEN -1 * f v",
        "XADD s0 MAXLEN = x * f v",
        "XADD s0 LIMIT 10 * f v",
        "XADD s0 MAXLEN 10 MINID 1 * f v",
        "XADD str * f v",
        "XTRIM s0",
        "XTRIM s0 FOO 1",
        "XTRIM s0 MAXLEN = 1 LIMIT 10",
        "XRANGE s0 x +",
        "XRANGE s0 (- +",
        "XRANGE s0 - + COUNT x",
        "XDEL s0 bad",
        "XLEN str",
        "XGROUP CREATE nokey g $",
        "XGROUP CREATE s0 g $",
        "XGROUP CREATE s0 g bad",
        "XGROUP CREATE s0 g2 $ ENTRIESREAD -5",
        "XGROUP CREATECONSUMER s0 nog c",
        "XGROUP SETID s0 nog $",
        "XGROUP DESTROY s0 nog",
        "XGROUP FOO s0",
        "XACK s0 g bad",
        "XPENDING s0 nog",
        "XPENDING s0 g - + x",
        "XPENDING s0 g IDLE x - + 10",
        "XCLAIM s0 g c x 1-1",
        "XCLAIM s0 g c 0 bad",
        "XCLAIM s0 g c 0 1-1 IDLE x",
        "XCLAIM s0 nog c 0 1-1",
        "XAUTOCLAIM s0 g c 0 0-0 COUNT 0",
        "XAUTOCLAIM s0 g c 0 bad",
        "XAUTOCLAIM s0 nog c 0 0-0",
        "XSETID s0 0-1",
        "XSETID s0 5-0 ENTRIESADDED 0",
        "XSETID s0 5-0 MAXDELETEDID 9-0",
        "XSETID nokey 1-1",
        "XINFO STREAM nokey",
        "XINFO GROUPS str",
        "XINFO CONSUMERS s0 nog",
        "XINFO FOO s0",
        "XINFO STREAM s0 FULL COUNT x",
    };
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    dpair p;
    CHECK(dk_open(&p, &a, &b) == 0);
    static const char *const setup[] = {"SET str x", "XADD s0 1-1 f v", "XADD s0 2-1 g w",
                                        "XGROUP CREATE s0 g 0"};
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        freeReplyObject(redisCommand(p.l, setup[i]));
        freeReplyObject(redisCommand(p.r, setup[i]));
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && p.l && p.r; i++) {
        char buf[128], *argv[16], *save = NULL;
        size_t lens[16];
        int argc = 0;
        snprintf(buf, sizeof(buf), "%s", cmds[i]);
        for (char *t = strtok_r(buf, " ", &save); t && argc < 16; t = strtok_r(NULL, " ", &save)) {
            argv[argc] = t;
            lens[argc++] = strlen(t);
        }
        p.where = cmds[i];
        dk_check(&p, argc, (const char **)argv, lens, 0);
    }
    CHECK_EQ(p.mismatches, 0);
    dk_close(&p);
    srv_stop(&a);
    srv_stop(&b);
}

static long blocked_clients(redisContext *c) {
    redisReply *r = redisCommand(c, "INFO clients");
    long n = -1;
    const char *s = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "blocked_clients:") : NULL;
    if (s) n = atol(s + 16);
    freeReplyObject(r);
    return n;
}

static void wait_blocked(redisContext *c, long n) {
    for (int i = 0; i < 500 && blocked_clients(c) != n; i++) usleep(2000);
}

/* Several readers block on each server; the same writes wake them. */
TEST(blocking_readers_match_redis) {
    static const char *readers[] = {
        "XREAD BLOCK 0 STREAMS bs $",
        "XREAD COUNT 1 BLOCK 0 STREAMS other bs $ $",
        "XREADGROUP GROUP g alice BLOCK 0 STREAMS bs >",
        "XREADGROUP GROUP g bob COUNT 1 BLOCK 0 STREAMS bs >",
        "XREADGROUP GROUP g2 carol BLOCK 0 STREAMS bs >",
        "XREADGROUP GROUP g dave BLOCK 0 STREAMS gone >",
        "XREAD BLOCK 50 STREAMS nothing $",
        "XREADGROUP GROUP tg erin BLOCK 0 STREAMS typed >", /* SET typed: no longer a stream */
        "XREAD BLOCK 0 STREAMS typed2 $",                   /* SET, then a new stream */
        "XREAD BLOCK 0 STREAMS ub $",                       /* CLIENT UNBLOCK */
        "XREADGROUP GROUP g frank BLOCK 0 STREAMS ub >",    /* CLIENT UNBLOCK ... ERROR */
    };
    enum { UB_TIMEOUT = 9, UB_ERROR = 10 }; /* the readers CLIENT UNBLOCK ends */
    enum { NR = sizeof(readers) / sizeof(readers[0]) };
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    const srv *ss[2] = {&a, &b};
    char *got[2][NR + 1];
    for (int s = 0; s < 2; s++) {
        redisContext *w = srv_connect(ss[s]);
        freeReplyObject(redisCommand(w, "XADD bs 1-1 f v"));
        freeReplyObject(redisCommand(w, "XGROUP CREATE bs g $"));
        freeReplyObject(redisCommand(w, "XGROUP CREATE bs g2 $"));
        freeReplyObject(redisCommand(w, "XGROUP CREATE gone g $ MKSTREAM"));
        freeReplyObject(redisCommand(w, "XGROUP CREATE typed tg $ MKSTREAM"));
        freeReplyObject(redisCommand(w, "XADD typed2 1-1 f v"));
        freeReplyObject(redisCommand(w, "XGROUP CREATE ub g $ MKSTREAM"));
        redisContext *rc[NR];
        long long id[NR];
        for (int i = 0; i < NR; i++) {
            rc[i] = srv_connect(ss[s]);
            redisReply *r = redisCommand(rc[i], "CLIENT ID");
            id[i] = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
            if (r) freeReplyObject(r);
            redisAppendCommand(rc[i], readers[i]);
            int done = 0;
            while (!done) redisBufferWrite(rc[i], &done);
            wait_blocked(w, i + 1);
        }
        freeReplyObject(redisCommand(w, "XADD bs 2-1 a 1"));
        freeReplyObject(redisCommand(w, "XADD bs 2-2 b 2"));
        freeReplyObject(redisCommand(w, "XGROUP DESTROY bs g2"));
        freeReplyObject(redisCommand(w, "DEL gone"));
        freeReplyObject(redisCommand(w, "SET typed x"));
        freeReplyObject(redisCommand(w, "SET typed2 x"));
        freeReplyObject(redisCommand(w, "DEL typed2"));
        freeReplyObject(redisCommand(w, "XADD typed2 2-1 g w"));
        redisReply *u = redisCommand(w, "CLIENT UNBLOCK %lld", id[UB_TIMEOUT]);
        CHECK(u && u->type == REDIS_REPLY_INTEGER && u->integer == 1);
        if (u) freeReplyObject(u);
        u = redisCommand(w, "CLIENT UNBLOCK %lld ERROR", id[UB_ERROR]);
        CHECK(u && u->type == REDIS_REPLY_INTEGER && u->integer == 1);
        if (u) freeReplyObject(u);
        for (int i = 0; i < NR; i++) {
            redisReply *rep = NULL;
            redisGetReply(rc[i], (void **)&rep);
            got[s][i] = reply_str(rep);
            freeReplyObject(rep);
            redisFree(rc[i]);
        }
        redisReply *pend = redisCommand(w, "XPENDING bs g");
        got[s][NR] = reply_str(pend);
        freeReplyObject(pend);
        redisFree(w);
    }
    for (int i = 0; i <= NR; i++) {
        if (strcmp(got[0][i], got[1][i]) != 0)
            fprintf(stderr, "reader %d (%s):\n  larder: %s\n  redis:  %s\n", i,
                    i < NR ? readers[i] : "XPENDING bs g", got[0][i], got[1][i]);
        CHECK_STR(got[0][i], got[1][i]);
        free(got[0][i]);
        free(got[1][i]);
    }
    srv_stop(&a);
    srv_stop(&b);
}

/* Runs argv on both raw connections; 1 when the replies match byte for byte. */
static int raw_same(rconn *l, rconn *r, int argc, const char **argv, const size_t *lens) {
    size_t nx, ny;
    char *x = rc_cmd_n(l, argc, argv, lens, &nx);
    char *y = rc_cmd_n(r, argc, argv, lens, &ny);
    int same = x && y && nx == ny && memcmp(x, y, nx) == 0;
    if (!same) {
        fprintf(stderr, "DIFF on:");
        for (int i = 0; i < argc && i < 8; i++)
            fprintf(stderr, " '%.*s'", (int)(lens[i] > 40 ? 40 : lens[i]), argv[i]);
        fprintf(stderr, "\n  larder (%zu bytes): %.300s\n  redis  (%zu bytes): %.300s\n", nx,
                x ? x : "", ny, y ? y : "");
    }
    free(x);
    free(y);
    return same;
}

static int raw_words(rconn *l, rconn *r, const char *words) {
    char buf[256];
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", words);
    for (char *t = strtok(buf, " "); t && argc < 16; t = strtok(NULL, " ")) {
        argv[argc] = t;
        lens[argc++] = strlen(t);
    }
    return raw_same(l, r, argc, argv, lens);
}

/* Ranges over many entries, byte for byte in RESP2 and RESP3 (what XRANGE
 * and XREAD write an entry at a time): entries of one to twelve fields,
 * empty values, values of 9, 10 and 100 bytes and one past the size written
 * at once (2000 bytes), ids with 1 to 20 digits, deleted entries, COUNT,
 * exclusive bounds and reverse ranges. */
TEST(long_ranges_match_redis_bytes) {
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    rconn l, r;
    CHECK(rc_open(&l, &a) == 0 && rc_open(&r, &b) == 0);
    static char big[2001];
    memset(big, 'x', 2000);
    static const size_t vlens[] = {0, 1, 9, 10, 100, 2000};
    for (int i = 0; i < 240; i++) {
        const char *argv[32];
        size_t lens[32];
        char id[48];
        int argc = 0;
        argv[argc++] = "XADD";
        argv[argc++] = "s";
        snprintf(id, sizeof(id), "%d-%d", 1 + i / 3, i % 3 ? i : 0);
        if (i == 239) snprintf(id, sizeof(id), "18446744073709551615-18446744073709551615");
        argv[argc++] = id;
        int nf = 1 + i % 12;
        for (int f = 0; f < nf; f++) {
            static const char *names[] = {"a", "b", "c", "field", "",  "12",
                                          "d", "e", "f", "g",     "h", "i"};
            argv[argc++] = names[f];
            argv[argc++] = big;
            lens[argc - 1] = vlens[(i + f) % 6 == 5 && i % 7 ? 4 : (i + f) % 6];
        }
        for (int k = 0; k < argc; k++)
            if (k < 3 || (k - 3) % 2 == 0) lens[k] = strlen(argv[k]);
        CHECK(raw_same(&l, &r, argc, argv, lens));
    }
    static const char *reads[] = {
        "XDEL s 5-5 7-7 8-8 40-0 70-208",
        "XRANGE s - + COUNT 100",
        "XRANGE s - +",
        "XREVRANGE s + - COUNT 100",
        "XRANGE s (5-4 (9-0 COUNT 7",
        "XRANGE s (1-0 + COUNT 1",
        "XREVRANGE s (80-0 (70-0",
        "XRANGE s 18446744073709551615 +",
        "XRANGE s 3 3",
        "XREAD COUNT 50 STREAMS s 20-0",
        "XADD t 1-1 a 1 b 2 c 3",
        "XREAD COUNT 5 STREAMS s t 79-0 0",
    };
    for (int proto = 2; proto <= 3; proto++) {
        free(rc_cmdv(&l, "HELLO", proto == 2 ? "2" : "3", NULL, NULL));
        free(rc_cmdv(&r, "HELLO", proto == 2 ? "2" : "3", NULL, NULL));
        for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
            CHECK(raw_words(&l, &r, reads[i]));
    }
    rc_close(&l);
    rc_close(&r);
    srv_stop(&a);
    srv_stop(&b);
}

int main(void) {
    RUN(random_scripts_match_redis);
    RUN(blocking_readers_match_redis);
    RUN(bad_input_matches_redis);
    RUN(long_ranges_match_redis_bytes);
    return test_report();
}
