/* Differential test of the sorted set family: seeded random scripts run
 * against larder-server and Debian's redis-server, every reply compared as
 * raw bytes (RESP2, and RESP3 after HELLO 3 in every other round).
 *
 * Each round sets small random zset-max-listpack-entries / -value on both
 * servers (and changes them mid-round), so sets are created in and convert
 * between both encodings; OBJECT ENCODING is compared too. Scripts cover
 * every Z* command with their options, exclusive bounds, infinities, LIMIT
 * edge cases, invalid arguments, wrong types, plain sets (intset and
 * hashtable) as inputs of ZUNION & co, DUMP/RESTORE round trips, COPY/RENAME
 * and DEBUG RELOAD. Left out: replies that are random by design
 * (ZRANDMEMBER below the set size), and ZSCAN of skiplist sets (hash
 * order). Lex ranges run only on sets whose scores are all 0 (Redis leaves
 * them undefined otherwise).
 *
 *   DIFF_SEED=n DIFF_ROUNDS=n DIFF_STEPS=n   replay / lengthen */
#include "harness.h"
#include "rawconn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static void print_escaped(const char *label, const char *s) {
    fprintf(stderr, "  %s: ", label);
    for (size_t i = 0; s[i] && i < 400; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r')
            fputs("\\r", stderr);
        else if (ch == '\n')
            fputs("\\n", stderr);
        else if (ch < 32 || ch > 126)
            fprintf(stderr, "\\x%02x", ch);
        else
            fputc(ch, stderr);
    }
    fputc('\n', stderr);
}

static long compared;

/* Sends argv to both; CHECKs identical bytes; returns 1 if equal. */
static int diff_raw(rconn *l, rconn *r, int argc, const char **argv, const size_t *lens) {
    char *x = rc_cmd(l, argc, argv, lens), *y = rc_cmd(r, argc, argv, lens);
    int same = strcmp(x, y) == 0;
    compared++;
    if (!same) {
        fprintf(stderr, "DIFF on:");
        for (int i = 0; i < argc; i++) fprintf(stderr, " '%.*s'", (int)lens[i], argv[i]);
        fputc('\n', stderr);
        print_escaped("larder", x);
        print_escaped("redis ", y);
    }
    CHECK(same);
    free(x);
    free(y);
    return same;
}

/* ---- the script generator ------------------------------------------------------------------ */

static const char *zkeys[] = {"z1", "z2", "z3", "d1"};
static const char *lkeys[] = {"l1", "l2"};
static const char *members[] = {"a",
                                "b",
                                "c",
                                "d",
                                "e",
                                "f",
                                "g",
                                "h",
                                "aa",
                                "ab",
                                "ba",
                                "",
                                "0",
                                "1",
                                "-1",
                                "10",
                                "x y",
                                "007",
                                "12345678901234567890",
                                "member_with_a_long_name_1",
                                "member_with_a_long_name_2",
                                "\xff\x00z"};
static const size_t nmembers = sizeof(members) / sizeof(members[0]);
static const char *scores[] = {"0",
                               "1",
                               "-1",
                               "2",
                               "3",
                               "2.5",
                               "-2.5",
                               "0.1",
                               "1e10",
                               "inf",
                               "-inf",
                               "+inf",
                               "1e-5",
                               "-0",
                               "100000000000000000",
                               "7",
                               "5",
                               "3.14159",
                               "12345678",
                               "-999999",
                               "nan",
                               "abc",
                               "",
                               " 1",
                               "(1",
                               "0x10",
                               "1e400",
                               "127",
                               "128",
                               "-128",
                               "-129",
                               "32767",
                               "-32769",
                               "8388608",
                               "2147483648",
                               "1700000000000",
                               "4503599627370496",
                               "36028797018963967",
                               "-36028797018963968",
                               "36028797018963968",
                               "9007199254740993",
                               "-0.0"};
static const char *sbounds[] = {
    "-inf", "+inf", "inf",  "0",     "1",   "(1", "2", "(2", "2.5", "(2.5", "-1",    "(-1", "5",
    "(5",   "1e10", "(inf", "(-inf", "abc", "(",  "",  " 1", "nan", "0x2",  "1e400", "3",   "(3"};
static const char *lbounds[] = {"-", "+",  "[a", "(a", "[b", "(b", "[c", "(aa", "[ab",     "[",
                                "(", "[z", "(0", "[1", "a",  "",   "+x", "-x",  "[member", "(g"};
static const char *ranks[] = {"0",
                              "1",
                              "2",
                              "-1",
                              "-2",
                              "3",
                              "5",
                              "-5",
                              "100",
                              "-100",
                              "9223372036854775807",
                              "-9223372036854775808",
                              "x",
                              "1.5"};
static const char *counts[] = {"0", "1", "2", "3", "10", "-1", "x", "1000", "-3"};

#define PICK(r, arr) (arr[trng_below(r, sizeof(arr) / sizeof(arr[0]))])

static const char *ZK(trng *r) {
    unsigned k = trng_below(r, 20);
    if (k == 0) return "str";
    if (k == 1) return "none";
    if (k == 2) return PICK(r, lkeys);
    return PICK(r, zkeys);
}
/* A key that may receive any score (never a lex set). */
static const char *WK(trng *r) {
    unsigned k = trng_below(r, 20);
    if (k == 0) return "str";
    if (k == 1) return "none";
    return PICK(r, zkeys);
}
static const char *DST(trng *r) {
    static const char *d[] = {"d1", "d2", "z1", "z2", "z3", "s2"};
    return PICK(r, d);
}
static const char *M(trng *r) {
    return members[trng_below(r, (unsigned)nmembers)];
}
static const char *S(trng *r) {
    return trng_below(r, 8) ? PICK(r, scores) : scores[trng_below(r, 20)];
}
static const char *VS(trng *r) {
    return scores[trng_below(r, 20)];
} /* valid scores only */

typedef struct gen {
    const char *argv[64];
    size_t lens[64];
    int argc;
} gen;

static void add(gen *g, const char *s) {
    if (g->argc < 64) {
        g->argv[g->argc] = s;
        g->lens[g->argc] = s == members[nmembers - 1] ? 3 : strlen(s);
        g->argc++;
    }
}

static void gen_zadd(trng *r, gen *g, int lex) {
    add(g, "ZADD");
    add(g, lex ? PICK(r, lkeys) : WK(r));
    static const char *opts[] = {"NX", "XX", "GT", "LT", "CH", "INCR"};
    int nopt = trng_below(r, 3) ? 0 : (int)trng_below(r, 3);
    for (int i = 0; i < nopt && !lex; i++) add(g, PICK(r, opts));
    int pairs = 1 + (int)trng_below(r, 4);
    for (int i = 0; i < pairs; i++) {
        add(g, lex ? "0" : S(r));
        add(g, M(r));
    }
    if (trng_below(r, 40) == 0) add(g, "dangling");
}

static void gen_range(trng *r, gen *g) {
    unsigned k = trng_below(r, 9);
    int lex = k == 2 || k == 6 || k == 7;
    const char *key = lex ? PICK(r, lkeys) : ZK(r);
    if (k == 8) { /* ZRANGESTORE */
        add(g, "ZRANGESTORE");
        add(g, DST(r));
        add(g, key);
    } else {
        static const char *names[] = {"ZRANGE",      "ZRANGE",        "ZRANGE",
                                      "ZREVRANGE",   "ZRANGEBYSCORE", "ZREVRANGEBYSCORE",
                                      "ZRANGEBYLEX", "ZREVRANGEBYLEX"};
        add(g, names[k]);
        add(g, key);
    }
    int by = k == 1 || k == 4 || k == 5 ? 1 : lex ? 2 : 0; /* 0 rank, 1 score, 2 lex */
    if (k == 8) by = (int)trng_below(r, 3);
    if (k == 8 && by == 2 && key[0] != 'l') by = 1;
    const char *const *b = by == 0 ? ranks : by == 1 ? sbounds : lbounds;
    size_t nb = by == 0   ? sizeof(ranks) / sizeof(ranks[0])
                : by == 1 ? sizeof(sbounds) / sizeof(sbounds[0])
                          : sizeof(lbounds) / sizeof(lbounds[0]);
    add(g, b[trng_below(r, (unsigned)nb)]);
    add(g, b[trng_below(r, (unsigned)nb)]);
    if (k == 0 || k == 1 || k == 2 || k == 8) { /* ZRANGE syntax */
        if (by == 1) add(g, "BYSCORE");
        if (by == 2) add(g, "BYLEX");
        if (trng_below(r, 3) == 0) add(g, "REV");
        if (trng_below(r, 30) == 0) add(g, trng_below(r, 2) ? "BYSCORE" : "REV");
    }
    if (trng_below(r, 3) == 0 && k != 8 && (by != 2 || trng_below(r, 10) == 0))
        add(g, "WITHSCORES");
    if (trng_below(r, 3) == 0 && (by != 0 || trng_below(r, 8) == 0)) {
        add(g, "LIMIT");
        add(g, PICK(r, counts));
        add(g, PICK(r, counts));
    }
    if (trng_below(r, 50) == 0) add(g, "bogus");
}

static void gen_setop(trng *r, gen *g, char *nbuf) {
    static const char *names[] = {"ZUNION",      "ZINTER",     "ZDIFF",     "ZUNIONSTORE",
                                  "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"};
    unsigned k = trng_below(r, 7);
    add(g, names[k]);
    if (k >= 3 && k <= 5) add(g, DST(r));
    int n = 1 + (int)trng_below(r, 3);
    if (trng_below(r, 30) == 0) n = (int)trng_below(r, 2) - 1; /* 0 or -1: error */
    snprintf(nbuf, 16, "%d", n);
    add(g, trng_below(r, 40) ? nbuf : "x");
    static const char *skeys[] = {"st1", "st2"};
    for (int i = 0; i < (n > 0 ? n : 1); i++)
        add(g, trng_below(r, 4) ? PICK(r, zkeys) : trng_below(r, 2) ? PICK(r, skeys) : ZK(r));
    if (k != 2 && k != 5 && k != 6) {
        if (trng_below(r, 3) == 0) {
            add(g, "WEIGHTS");
            static const char *w[] = {"1", "2", "0", "-1", "1.5", "inf", "-inf", "nan", "x"};
            for (int i = 0; i < n + (trng_below(r, 10) == 0); i++) add(g, PICK(r, w));
        }
        if (trng_below(r, 3) == 0) {
            static const char *aggs[] = {"SUM", "MIN", "MAX", "max", "avg"};
            add(g, "AGGREGATE");
            add(g, PICK(r, aggs));
        }
    }
    if (k == 6 && trng_below(r, 2)) {
        add(g, "LIMIT");
        add(g, PICK(r, counts));
    }
    if (trng_below(r, 2) && (k < 3 || trng_below(r, 10) == 0)) add(g, "WITHSCORES");
}

static void gen_pop(trng *r, gen *g, char *nbuf) {
    unsigned k = trng_below(r, 6);
    static const char *where[] = {"MIN", "MAX", "min", "bad"};
    if (k < 2) {
        add(g, k ? "ZPOPMAX" : "ZPOPMIN");
        add(g, ZK(r));
        if (trng_below(r, 2)) add(g, PICK(r, counts));
    } else if (k < 4) {
        add(g, k == 3 ? "BZPOPMAX" : "BZPOPMIN");
        add(g, ZK(r));
        if (trng_below(r, 2)) add(g, ZK(r));
        static const char *t[] = {"0.01", "0.01", "-1", "x"};
        add(g, PICK(r, t));
    } else {
        int block = k == 5;
        add(g, block ? "BZMPOP" : "ZMPOP");
        if (block) add(g, trng_below(r, 8) ? "0.01" : "-1");
        int n = 1 + (int)trng_below(r, 2);
        if (trng_below(r, 30) == 0) n = 0;
        snprintf(nbuf, 16, "%d", n);
        add(g, nbuf);
        for (int i = 0; i < (n ? n : 1); i++) add(g, ZK(r));
        if (trng_below(r, 30)) add(g, PICK(r, where));
        if (trng_below(r, 2)) {
            add(g, "COUNT");
            add(g, PICK(r, counts));
        }
    }
}

static void gen_one(trng *r, gen *g, char bufs[][16]) {
    unsigned k = trng_below(r, 60);
    if (k < 12) {
        gen_zadd(r, g, trng_below(r, 5) == 0);
    } else if (k < 14) {
        add(g, "ZINCRBY");
        add(g, WK(r));
        add(g, S(r));
        add(g, M(r));
    } else if (k < 17) {
        add(g, "ZREM");
        add(g, ZK(r));
        for (int i = 0; i < 1 + (int)trng_below(r, 3); i++) add(g, M(r));
    } else if (k < 25) {
        gen_range(r, g);
    } else if (k < 29) {
        gen_setop(r, g, bufs[0]);
    } else if (k < 33) {
        gen_pop(r, g, bufs[0]);
    } else if (k < 35) {
        add(g, "ZREMRANGEBYRANK");
        add(g, ZK(r));
        add(g, PICK(r, ranks));
        add(g, PICK(r, ranks));
    } else if (k < 37) {
        add(g, "ZREMRANGEBYSCORE");
        add(g, ZK(r));
        add(g, PICK(r, sbounds));
        add(g, PICK(r, sbounds));
    } else if (k < 38) {
        add(g, "ZREMRANGEBYLEX");
        add(g, PICK(r, lkeys));
        add(g, PICK(r, lbounds));
        add(g, PICK(r, lbounds));
    } else if (k < 40) {
        add(g, "ZCOUNT");
        add(g, ZK(r));
        add(g, PICK(r, sbounds));
        add(g, PICK(r, sbounds));
    } else if (k < 41) {
        add(g, "ZLEXCOUNT");
        add(g, trng_below(r, 10) ? PICK(r, lkeys) : "str");
        add(g, PICK(r, lbounds));
        add(g, PICK(r, lbounds));
    } else if (k < 43) {
        add(g, trng_below(r, 2) ? "ZSCORE" : "ZMSCORE");
        add(g, ZK(r));
        add(g, M(r));
        if (g->argv[0][1] == 'M' && trng_below(r, 2)) add(g, M(r));
    } else if (k < 45) {
        add(g, trng_below(r, 2) ? "ZRANK" : "ZREVRANK");
        add(g, ZK(r));
        add(g, M(r));
    } else if (k < 47) {
        add(g, "ZCARD");
        add(g, ZK(r));
    } else if (k < 48) {
        add(g, "OBJECT");
        add(g, "ENCODING");
        add(g, ZK(r));
    } else if (k < 49) {
        static const char *c[] = {
            "1000", "0", "1000", "-9223372036854775808", "x", "4611686018427387904"};
        add(g, "ZRANDMEMBER");
        add(g, trng_below(r, 4) ? ZK(r) : "none");
        add(g, PICK(r, c));
        if (trng_below(r, 2)) add(g, trng_below(r, 8) ? "WITHSCORES" : "bad");
    } else if (k < 50) {
        add(g, trng_below(r, 2) ? "COPY" : "RENAME");
        add(g, PICK(r, zkeys));
        add(g, DST(r));
        if (g->argv[0][0] == 'C' && trng_below(r, 2)) add(g, "REPLACE");
    } else if (k < 51) {
        add(g, "DEL");
        add(g, ZK(r));
    } else if (k < 52) {
        add(g, "SET");
        add(g, trng_below(r, 2) ? "str" : "s2");
        add(g, "v");
    } else if (k < 53) {
        add(g, "TYPE");
        add(g, ZK(r));
    } else if (k < 54) {
        add(g, "EXISTS");
        add(g, ZK(r));
    } else if (k < 56) { /* a bigger set, so encodings convert */
        add(g, "ZADD");
        add(g, PICK(r, zkeys));
        int n = 5 + (int)trng_below(r, 20);
        for (int i = 0; i < n; i++) {
            add(g, VS(r));
            add(g, M(r));
        }
    } else if (k < 57) {
        add(g, "ZADD");
        add(g, PICK(r, lkeys));
        for (int i = 0; i < 12; i++) {
            add(g, "0");
            add(g, M(r));
        }
    } else if (k < 58) { /* plain sets: inputs of ZUNION & co with score 1 */
        add(g, trng_below(r, 4) ? "SADD" : "SREM");
        add(g, trng_below(r, 2) ? "st1" : "st2");
        for (int i = 0; i < 1 + (int)trng_below(r, 4); i++) add(g, M(r));
    } else {
        add(g, "ZMSCORE");
        add(g, ZK(r));
        for (size_t i = 0; i < 6; i++) add(g, M(r));
    }
}

/* ---- steps that need both servers' own data ------------------------------------------------ */

/* DUMP on each server, RESTORE its own payload under another key there. */
static void dump_restore(rconn *l, rconn *rd, trng *r) {
    const char *src = PICK(r, zkeys);
    const char *dst = trng_below(r, 2) ? "d2" : "d1";
    rconn *cs[2] = {l, rd};
    for (int i = 0; i < 2; i++) {
        char *d = rc_cmdv(cs[i], "DUMP", src, NULL, NULL);
        if (d[0] == '$' && d[1] != '-') {
            char *body = strstr(d, "\r\n") + 2;
            size_t blen = (size_t)atol(d + 1);
            const char *argv[5] = {"RESTORE", dst, "0", body, "REPLACE"};
            size_t lens[5] = {7, strlen(dst), 1, blen, 7};
            free(rc_cmd(cs[i], 5, argv, lens));
        }
        free(d);
    }
    const char *argv[4] = {"ZRANGE", dst, "0", "-1"};
    size_t lens[4] = {6, strlen(dst), 1, 2};
    diff_raw(l, rd, 4, argv, lens);
    const char *argv2[3] = {"OBJECT", "ENCODING", dst};
    size_t lens2[3] = {6, 8, strlen(dst)};
    diff_raw(l, rd, 3, argv2, lens2);
}

/* ZSCAN is deterministic for listpack sets only (skiplists follow hash order). */
static void zscan_step(rconn *l, rconn *rd, trng *r) {
    const char *key = trng_below(r, 2) ? PICK(r, zkeys) : PICK(r, lkeys);
    char *enc = rc_cmdv(l, "OBJECT", "ENCODING", key, NULL);
    int lp = strstr(enc, "listpack") != NULL || !strncmp(enc, "$-1", 3) || enc[0] == '_' ||
             enc[0] == '-';
    free(enc);
    if (!lp) return;
    gen g = {.argc = 0};
    add(&g, "ZSCAN");
    add(&g, key);
    add(&g, trng_below(r, 10) ? "0" : "x");
    if (trng_below(r, 2)) {
        static const char *p[] = {"*", "a*", "?", "[a-c]*", "*1*"};
        add(&g, "MATCH");
        add(&g, PICK(r, p));
    }
    if (trng_below(r, 3) == 0) {
        add(&g, "COUNT");
        add(&g, PICK(r, counts));
    }
    diff_raw(l, rd, g.argc, g.argv, g.lens);
}

static void set_limits(rconn *l, rconn *rd, trng *r) {
    static const char *entries[] = {"0", "1", "3", "8", "16", "128"};
    static const char *values[] = {"0", "2", "8", "64"};
    static const char *intset[] = {"1", "4", "512"};
    const char *argv[8] = {"CONFIG",
                           "SET",
                           "zset-max-listpack-entries",
                           PICK(r, entries),
                           "zset-max-listpack-value",
                           PICK(r, values),
                           "set-max-intset-entries",
                           PICK(r, intset)};
    size_t lens[8];
    for (int i = 0; i < 8; i++) lens[i] = strlen(argv[i]);
    diff_raw(l, rd, 8, argv, lens);
}

/* The servers log to a pipe nobody reads during the test; DEBUG RELOAD is
 * chatty, so empty the pipes now and then or a full one stalls the server. */
static srv *servers[2];
static void drain_logs(void) {
    for (int i = 0; i < 2; i++) {
        if (!servers[i]) continue;
        char tmp[4096];
        int fl = fcntl(servers[i]->out_fd, F_GETFL);
        fcntl(servers[i]->out_fd, F_SETFL, fl | O_NONBLOCK);
        while (read(servers[i]->out_fd, tmp, sizeof(tmp)) > 0) {
        }
        fcntl(servers[i]->out_fd, F_SETFL, fl);
    }
}

static int run_round(rconn *l, rconn *rd, unsigned long long seed, int steps) {
    trng r;
    trng_seed(&r, seed);
    free(rc_cmdv(l, "FLUSHALL", NULL, NULL, NULL));
    free(rc_cmdv(rd, "FLUSHALL", NULL, NULL, NULL));
    set_limits(l, rd, &r);
    for (int i = 0; i < steps; i++) {
        unsigned k = trng_below(&r, 400);
        if (k == 0) {
            set_limits(l, rd, &r);
        } else if (k < 4) {
            dump_restore(l, rd, &r);
        } else if (k < 10) {
            zscan_step(l, rd, &r);
        } else if (k == 10) {
            int ok = diff_raw(l, rd, 2, (const char *[]){"DEBUG", "RELOAD"}, (size_t[]){5, 6});
            drain_logs();
            if (!ok) {
                fprintf(stderr, "  (round seed %llu, step %d)\n", seed, i);
                return 0;
            }
        } else if (k == 11) { /* MULTI: blocking pops do not block */
            diff_raw(l, rd, 1, (const char *[]){"MULTI"}, (size_t[]){5});
            diff_raw(l, rd, 3, (const char *[]){"BZPOPMIN", "none", "0"}, (size_t[]){8, 4, 1});
            diff_raw(l, rd, 4, (const char *[]){"ZADD", "z1", "1", "q"}, (size_t[]){4, 2, 1, 1});
            diff_raw(l, rd, 5, (const char *[]){"BZMPOP", "0", "1", "z1", "MAX"},
                     (size_t[]){6, 1, 1, 2, 3});
            if (!diff_raw(l, rd, 1, (const char *[]){"EXEC"}, (size_t[]){4})) return 0;
        } else {
            gen g = {.argc = 0};
            char bufs[4][16];
            gen_one(&r, &g, bufs);
            if (!diff_raw(l, rd, g.argc, g.argv, g.lens)) {
                fprintf(stderr, "  (round seed %llu, step %d)\n", seed, i);
                return 0;
            }
        }
    }
    /* end of round: the whole state must agree */
    const char *keys[] = {"z1", "z2", "z3", "d1", "d2", "l1", "l2"};
    for (int i = 0; i < 7; i++) {
        const char *a1[5] = {"ZRANGE", keys[i], "0", "-1", "WITHSCORES"};
        size_t n1[5] = {6, 2, 1, 2, 10};
        if (!diff_raw(l, rd, 5, a1, n1)) return 0;
        const char *a2[3] = {"OBJECT", "ENCODING", keys[i]};
        size_t n2[3] = {6, 8, 2};
        if (!diff_raw(l, rd, 3, a2, n2)) return 0;
    }
    return 1;
}

TEST(random_scripts_match_redis) {
    static const char *extra[] = {"--enable-debug-command", "yes", NULL};
    srv a, b;
    CHECK(srv_start(&a, extra) == 0);
    CHECK(srv_start_redis(&b, extra) == 0);
    rconn l, rd;
    CHECK(rc_open(&l, &a) == 0 && rc_open(&rd, &b) == 0);
    servers[0] = &a;
    servers[1] = &b;
    unsigned long long seed = test_seed("DIFF_SEED", 20240611);
    int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 16;
    int steps = getenv("DIFF_STEPS") ? atoi(getenv("DIFF_STEPS")) : 3000;
    int failed = 0;
    for (int round = 0; round < rounds && failed < 3; round++) {
        int resp = round % 2 ? 3 : 2;
        char rs[2] = {(char)('0' + resp), 0};
        free(rc_cmdv(&l, "HELLO", rs, NULL, NULL));
        free(rc_cmdv(&rd, "HELLO", rs, NULL, NULL));
        if (!run_round(&l, &rd, seed + (unsigned long long)round, steps)) failed++;
    }
    printf("%d rounds x %d steps, %ld replies compared\n", rounds, steps, compared);
    if (failed) { /* the servers' last words help when one of them died */
        srv *both[2] = {&a, &b};
        for (int i = 0; i < 2; i++) {
            static char log[1 << 20];
            int fl = fcntl(both[i]->out_fd, F_GETFL);
            fcntl(both[i]->out_fd, F_SETFL, fl | O_NONBLOCK);
            size_t used = 0;
            ssize_t n;
            while ((n = read(both[i]->out_fd, log + used, sizeof(log) - 1 - used)) > 0) {
                used += (size_t)n;
                if (used > sizeof(log) / 2) { /* keep the tail */
                    memmove(log, log + used - 4096, 4096);
                    used = 4096;
                }
            }
            log[used] = '\0';
            fprintf(stderr, "--- %s output (tail):\n%s\n", i ? "redis" : "larder",
                    used > 3000 ? log + used - 3000 : log);
        }
    }
    rc_close(&l);
    rc_close(&rd);
    srv_stop(&a);
    srv_stop(&b);
}

int main(void) {
    RUN(random_scripts_match_redis);
    return test_report();
}
