/* Differential test: seeded random scripts of list commands (pushes, pops
 * with counts, ranges, LSET/LINSERT/LREM/LTRIM/LPOS with every option,
 * LMOVE/LMPOP, the blocking commands with short timeouts and inside MULTI)
 * and SORT/SORT_RO (BY, GET, LIMIT, ALPHA, DESC, STORE) replayed against
 * larder-server and Debian's redis-server; every reply must match.
 *
 * Each round sets a tiny list-max-listpack-size (or a byte limit) and a
 * compression depth on both servers with CONFIG SET, so node splits, merges
 * and compressed nodes are exercised; some values are long enough to fill a
 * node on their own. A round stops at its first divergence (the states
 * differ from then on).
 *
 * Left out on purpose: numbers that overflow strtod (e.g. "1e400"). Redis's
 * SORT does not clear errno before strtod, so after one ERANGE its later
 * numeric SORTs on the same connection may fail spuriously until something
 * else happens to set errno; Larder clears it. */
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *lkeys[] = {"l0", "l1", "l2", "{t}l3", "str", "none"};
static char longv[3][200];
static const char *vals[] = {
    "a",    "b",   "c",  "1",  "2",  "10", "-3", "3.5", "x y", "", "abc", "9223372036854775807",
    "1e30", "nan", NULL, NULL, NULL, "B",  "aa", "0"};
#define NVALS 20

static const char *K(trng *r) {
    return lkeys[trng_below(r, trng_below(r, 8) ? 4 : 6)];
}
static const char *V(trng *r) {
    return vals[trng_below(r, NVALS)];
}
static const char *N(trng *r, char *buf) {
    static const char *specials[] = {"0",
                                     "-1",
                                     "1",
                                     "abc",
                                     "-100",
                                     "100",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "3.5",
                                     "",
                                     "2147483648"};
    if (trng_below(r, 6) == 0) return specials[trng_below(r, 11)];
    snprintf(buf, 32, "%d", (int)trng_below(r, 25) - 12);
    return buf;
}
static const char *WHERE(trng *r) {
    static const char *w[] = {"LEFT", "RIGHT", "left", "right", "middle"};
    return w[trng_below(r, trng_below(r, 10) ? 4 : 5)];
}
static const char *TIMEOUT(trng *r) {
    static const char *t[] = {"0.01", "0.02", "-1", "abc", "0.001"};
    return t[trng_below(r, trng_below(r, 6) ? 2 : 5)];
}

static int gen_sort(trng *r, const char **argv, char bufs[][32], int ro) {
    static const char *bys[] = {"nosort", "w_*", "w_*->f", "nokey", "#", "w_*x"};
    static const char *gets[] = {"#", "w_*", "w_*->f", "missing_*", "const"};
    int n = 0;
    argv[n++] = ro ? "SORT_RO" : "SORT";
    argv[n++] = K(r);
    if (trng_below(r, 2)) {
        argv[n++] = "BY";
        argv[n++] = bys[trng_below(r, 6)];
    }
    if (trng_below(r, 3) == 0) {
        argv[n++] = "LIMIT";
        argv[n++] = N(r, bufs[0]);
        argv[n++] = N(r, bufs[1]);
    }
    for (int g = (int)trng_below(r, 4); g > 1; g--) {
        argv[n++] = "GET";
        argv[n++] = gets[trng_below(r, 5)];
    }
    if (trng_below(r, 3) == 0) argv[n++] = trng_below(r, 2) ? "ASC" : "DESC";
    if (trng_below(r, 2)) argv[n++] = "ALPHA";
    if (trng_below(r, ro ? 20 : 3) == 0) {
        argv[n++] = "STORE";
        argv[n++] = K(r);
    }
    if (trng_below(r, 30) == 0) argv[n++] = "BOGUS";
    return n;
}

/* Builds one random command into argv; returns argc. */
static int gen(trng *r, const char **argv, char bufs[][32]) {
    int n = 0;
    switch (trng_below(r, 37)) {
    case 0:
    case 1:
    case 2:
        argv[n++] = trng_below(r, 2) ? "LPUSH" : "RPUSH";
        argv[n++] = K(r);
        for (int k = 1 + (int)trng_below(r, 4); k > 0; k--) argv[n++] = V(r);
        break;
    case 3:
        argv[n++] = trng_below(r, 2) ? "LPUSHX" : "RPUSHX";
        argv[n++] = K(r);
        argv[n++] = V(r);
        if (trng_below(r, 2)) argv[n++] = V(r);
        break;
    case 4:
    case 5:
        argv[n++] = trng_below(r, 2) ? "LPOP" : "RPOP";
        argv[n++] = K(r);
        if (trng_below(r, 2)) argv[n++] = N(r, bufs[0]);
        if (trng_below(r, 20) == 0) argv[n++] = "1";
        break;
    case 6:
        argv[n++] = "LLEN";
        argv[n++] = K(r);
        break;
    case 7:
    case 8:
        argv[n++] = "LRANGE";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = N(r, bufs[1]);
        break;
    case 9:
        argv[n++] = "LINDEX";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        break;
    case 10:
        argv[n++] = "LSET";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = V(r);
        break;
    case 11:
    case 12: {
        static const char *wh[] = {"BEFORE", "AFTER", "before", "after", "between"};
        argv[n++] = "LINSERT";
        argv[n++] = K(r);
        argv[n++] = wh[trng_below(r, trng_below(r, 10) ? 4 : 5)];
        argv[n++] = V(r);
        argv[n++] = V(r);
        break;
    }
    case 13:
        argv[n++] = "LREM";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = V(r);
        break;
    case 14:
        argv[n++] = "LTRIM";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = N(r, bufs[1]);
        break;
    case 15:
    case 16: {
        static const char *opts[] = {"RANK", "COUNT", "MAXLEN", "rank", "BAD"};
        argv[n++] = "LPOS";
        argv[n++] = K(r);
        argv[n++] = V(r);
        for (int k = (int)trng_below(r, 4); k > 0; k--) {
            argv[n++] = opts[trng_below(r, trng_below(r, 10) ? 4 : 5)];
            if (trng_below(r, 15)) argv[n++] = N(r, bufs[k]);
        }
        break;
    }
    case 17:
    case 18:
        argv[n++] = "LMOVE";
        argv[n++] = K(r);
        argv[n++] = K(r);
        argv[n++] = WHERE(r);
        argv[n++] = WHERE(r);
        break;
    case 19:
        argv[n++] = "RPOPLPUSH";
        argv[n++] = K(r);
        argv[n++] = K(r);
        break;
    case 20:
    case 21: {
        argv[n++] = "LMPOP";
        int nk = 1 + (int)trng_below(r, 3);
        argv[n++] = trng_below(r, 12) ? (snprintf(bufs[0], 32, "%d", nk), bufs[0]) : N(r, bufs[0]);
        for (int k = 0; k < nk; k++) argv[n++] = K(r);
        argv[n++] = WHERE(r);
        if (trng_below(r, 2)) {
            argv[n++] = "COUNT";
            argv[n++] = N(r, bufs[1]);
        }
        if (trng_below(r, 25) == 0) argv[n++] = "COUNT";
        break;
    }
    case 22:
    case 23:
        n = gen_sort(r, argv, bufs, trng_below(r, 3) == 0);
        break;
    case 24: {
        /* weights for SORT BY/GET, numeric or not */
        static char wk[64];
        const char *v = V(r);
        snprintf(wk, sizeof(wk), "w_%s", v);
        argv[n++] = "SET";
        argv[n++] = wk;
        argv[n++] = trng_below(r, 5) ? N(r, bufs[0]) : V(r);
        break;
    }
    case 25:
        argv[n++] = "DEL";
        argv[n++] = K(r);
        break;
    case 26:
        argv[n++] = "SET";
        argv[n++] = "str";
        argv[n++] = V(r);
        break;
    case 27:
        argv[n++] = "TYPE";
        argv[n++] = K(r);
        break;
    case 28:
        argv[n++] = "OBJECT";
        argv[n++] = "ENCODING";
        argv[n++] = K(r);
        break;
    case 29:
        argv[n++] = "EXISTS";
        argv[n++] = K(r);
        break;
    case 30: /* blocking commands with data or a short timeout */
        switch (trng_below(r, 5)) {
        case 0:
            argv[n++] = "BLPOP";
            argv[n++] = K(r);
            if (trng_below(r, 2)) argv[n++] = K(r);
            argv[n++] = TIMEOUT(r);
            break;
        case 1:
            argv[n++] = "BRPOP";
            argv[n++] = K(r);
            argv[n++] = TIMEOUT(r);
            break;
        case 2:
            argv[n++] = "BLMOVE";
            argv[n++] = K(r);
            argv[n++] = K(r);
            argv[n++] = WHERE(r);
            argv[n++] = WHERE(r);
            argv[n++] = TIMEOUT(r);
            break;
        case 3:
            argv[n++] = "BRPOPLPUSH";
            argv[n++] = K(r);
            argv[n++] = K(r);
            argv[n++] = TIMEOUT(r);
            break;
        default:
            argv[n++] = "BLMPOP";
            argv[n++] = TIMEOUT(r);
            argv[n++] = "2";
            argv[n++] = K(r);
            argv[n++] = K(r);
            argv[n++] = WHERE(r);
            if (trng_below(r, 2)) {
                argv[n++] = "COUNT";
                argv[n++] = N(r, bufs[0]);
            }
            break;
        }
        break;
    case 31:
        argv[n++] = "COPY";
        argv[n++] = K(r);
        argv[n++] = K(r);
        if (trng_below(r, 2)) argv[n++] = "REPLACE";
        break;
    case 32:
        argv[n++] = "RENAME";
        argv[n++] = K(r);
        argv[n++] = K(r);
        break;
    case 33:
        argv[n++] = "LRANGE";
        argv[n++] = K(r);
        argv[n++] = "0";
        argv[n++] = "-1";
        break;
    case 34:
        argv[n++] = trng_below(r, 2) ? "LPUSH" : "RPUSH";
        argv[n++] = K(r);
        argv[n++] = longv[trng_below(r, 3)];
        argv[n++] = V(r);
        break;
    case 35: /* a burst, so lists grow over many nodes */
        argv[n++] = trng_below(r, 2) ? "LPUSH" : "RPUSH";
        argv[n++] = K(r);
        for (int k = 10 + (int)trng_below(r, 30); k > 0; k--) argv[n++] = V(r);
        break;
    default:
        argv[n++] = "LLEN";
        argv[n++] = K(r);
        argv[n++] = "extra";
        break;
    }
    return n;
}

static int send_both(redisContext *a, redisContext *b, int argc, const char **argv) {
    size_t lens[64];
    for (int k = 0; k < argc; k++) lens[k] = strlen(argv[k]);
    return diff_check(a, b, argc, argv, lens);
}

/* One blocking command inside MULTI: must not block, on both servers. */
static int multi_blocking(trng *r, redisContext *a, redisContext *b) {
    const char *argv[64];
    char bufs[8][32];
    const char *m[] = {"MULTI"}, *e[] = {"EXEC"};
    if (!send_both(a, b, 1, m)) return 0;
    int n = 0;
    switch (trng_below(r, 4)) {
    case 0:
        argv[n++] = "BLPOP";
        argv[n++] = K(r);
        argv[n++] = "0";
        break;
    case 1:
        argv[n++] = "BRPOPLPUSH";
        argv[n++] = K(r);
        argv[n++] = K(r);
        argv[n++] = "0";
        break;
    case 2:
        argv[n++] = "BLMOVE";
        argv[n++] = K(r);
        argv[n++] = K(r);
        argv[n++] = "LEFT";
        argv[n++] = "RIGHT";
        argv[n++] = "0";
        break;
    default:
        argv[n++] = "BLMPOP";
        argv[n++] = "0";
        argv[n++] = "1";
        argv[n++] = K(r);
        argv[n++] = "RIGHT";
        argv[n++] = "COUNT";
        argv[n++] = "2";
        break;
    }
    if (!send_both(a, b, n, argv)) return 0;
    n = gen(r, argv, bufs);
    if (strncmp(argv[0], "BL", 2) && strncmp(argv[0], "BR", 2) && !send_both(a, b, n, argv))
        return 0;
    return send_both(a, b, 1, e);
}

TEST(random_list_scripts_match_redis) {
    static const char *const extra[] = {"--enable-debug-command", "yes", NULL};
    srv a, b;
    CHECK(srv_start(&a, extra) == 0);
    CHECK(srv_start_redis(&b, extra) == 0);
    redisContext *ca = srv_connect(&a), *cb = srv_connect(&b);
    CHECK(ca && cb);
    for (int i = 0; i < 3; i++) {
        memset(longv[i], 'a' + i, 60 + 60 * i);
        longv[i][60 + 60 * i] = '\0';
    }
    vals[14] = longv[0];
    vals[15] = longv[1];
    vals[16] = longv[2];
    if (ca && cb) {
        /* warnings only from now on: nobody drains the servers' output pipes,
         * and DEBUG RELOAD logs a few lines each time */
        const char *quiet[] = {"CONFIG", "SET", "loglevel", "warning"};
        send_both(ca, cb, 4, quiet);
        unsigned long long seed = test_seed("DIFF_SEED", 20261124);
        int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 12;
        int steps = getenv("DIFF_STEPS") ? atoi(getenv("DIFF_STEPS")) : 3000;
        static const char *fills[] = {"1", "2", "3", "4", "-1", "-2", "5", "0"};
        static const char *depths[] = {"0", "1", "2", "0"};
        int mismatches = 0, total = 0;
        for (int round = 0; round < rounds && mismatches < 5; round++) {
            trng r;
            trng_seed(&r, seed + (unsigned long long)round);
            const char *fl[] = {"FLUSHALL"};
            send_both(ca, cb, 1, fl);
            const char *cfg[] = {"CONFIG", "SET", "list-max-listpack-size", fills[round % 8]};
            const char *cmp[] = {"CONFIG", "SET", "list-compress-depth", depths[(round / 2) % 4]};
            send_both(ca, cb, 4, cfg);
            send_both(ca, cb, 4, cmp);
            for (int i = 0; i < steps; i++) {
                const char *argv[64];
                char bufs[8][32];
                int ok;
                if (trng_below(&r, 150) == 0) {
                    ok = multi_blocking(&r, ca, cb);
                } else if (trng_below(&r, 600) == 0) {
                    const char *rl[] = {"DEBUG", "RELOAD"};
                    ok = send_both(ca, cb, 2, rl);
                } else {
                    int argc = gen(&r, argv, bufs);
                    /* blocking commands only now and then: they may wait out their timeout */
                    if (argv[0][0] == 'B' && trng_below(&r, 4)) continue;
                    ok = send_both(ca, cb, argc, argv);
                }
                total++;
                if (!ok) {
                    fprintf(stderr, "  (seed %llu round %d step %d, fill %s depth %s)\n", seed,
                            round, i, fills[round % 8], depths[(round / 2) % 4]);
                    mismatches++;
                    break;
                }
            }
        }
        printf("%d rounds, %d commands compared\n", rounds, total);
    }
    if (ca) redisFree(ca);
    if (cb) redisFree(cb);
    srv_stop(&a);
    srv_stop(&b);
}

int main(void) {
    RUN(random_list_scripts_match_redis);
    return test_report();
}
