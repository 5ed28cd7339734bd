/* Differential test: seeded random scripts of string, bit, key and TTL
 * commands replayed against larder-server and Debian's redis-server; every
 * reply must match byte for byte (as rendered by the harness). Commands whose
 * replies depend on timing or hash order (PTTL, KEYS, SCAN) are left out. */
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *keys[] = {"k0", "k1", "k2", "k3", "k4", "{t}a", "{t}b", "bits"};
static const char *vals[] = {"",
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
                             "hello world",
                             "\x00\xff\x10",
                             "inf",
                             "-0",
                             "+5",
                             "18446744073709551616",
                             "0.1"};

/* TTL arguments: invalid, past, or far in the future — never a few ms, whose
 * expiry would race between the two servers on a loaded machine. */
static const char *T(trng *r) {
    static const char *t[] = {"100000000",        "-1",        "0",  "abc",
                              "9999999999999999", "200000000", "1.5"};
    return t[trng_below(r, 7)];
}

static const char *K(trng *r) {
    return keys[trng_below(r, 8)];
}
static const char *V(trng *r) {
    return vals[trng_below(r, 20)];
}
/* Offsets: small ones, and edge values past every limit (4294967296 is one
 * past SETBIT's largest offset; 2147483648 would build a 256 MB string in
 * both servers and take most of the run moving it around). */
static const char *N(trng *r, char *buf) {
    static const char *specials[] = {
        "0",          "-1",          "1",   "abc", "-100", "100", "9999999999999",
        "4294967296", "-2147483649", "3.5", ""};
    if (trng_below(r, 3) == 0) return specials[trng_below(r, 11)];
    snprintf(buf, 32, "%d", (int)trng_below(r, 40) - 10);
    return buf;
}

/* Builds one random command into argv; returns argc. */
static int gen(trng *r, const char **argv, char bufs[][32]) {
    int n = 0;
    switch (trng_below(r, 34)) {
    case 0:
        argv[n++] = "SET";
        argv[n++] = K(r);
        argv[n++] = V(r);
        if (trng_below(r, 2)) argv[n++] = trng_below(r, 2) ? "NX" : "XX";
        if (trng_below(r, 3) == 0) argv[n++] = "GET";
        if (trng_below(r, 3) == 0) {
            argv[n++] = trng_below(r, 2) ? "EX" : "PX";
            argv[n++] = T(r);
        } else if (trng_below(r, 4) == 0)
            argv[n++] = "KEEPTTL";
        break;
    case 1:
        argv[n++] = "GET";
        argv[n++] = K(r);
        break;
    case 2:
        argv[n++] = "GETDEL";
        argv[n++] = K(r);
        break;
    case 3:
        argv[n++] = "GETSET";
        argv[n++] = K(r);
        argv[n++] = V(r);
        break;
    case 4:
        argv[n++] = "MGET";
        argv[n++] = K(r);
        argv[n++] = K(r);
        argv[n++] = K(r);
        break;
    case 5:
        argv[n++] = trng_below(r, 2) ? "MSET" : "MSETNX";
        argv[n++] = K(r);
        argv[n++] = V(r);
        if (trng_below(r, 2)) {
            argv[n++] = K(r);
            argv[n++] = V(r);
        }
        if (trng_below(r, 8) == 0) argv[n++] = K(r); /* odd arity */
        break;
    case 6:
        argv[n++] = "SETNX";
        argv[n++] = K(r);
        argv[n++] = V(r);
        break;
    case 7:
        argv[n++] = "INCR";
        argv[n++] = K(r);
        break;
    case 8:
        argv[n++] = "DECR";
        argv[n++] = K(r);
        break;
    case 9:
        argv[n++] = trng_below(r, 2) ? "INCRBY" : "DECRBY";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        break;
    case 10:
        argv[n++] = "INCRBYFLOAT";
        argv[n++] = K(r);
        argv[n++] = V(r);
        break;
    case 11:
        argv[n++] = "APPEND";
        argv[n++] = K(r);
        argv[n++] = V(r);
        break;
    case 12:
        argv[n++] = "STRLEN";
        argv[n++] = K(r);
        break;
    case 13:
        argv[n++] = trng_below(r, 2) ? "GETRANGE" : "SUBSTR";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = N(r, bufs[1]);
        break;
    case 14:
        argv[n++] = "SETRANGE";
        argv[n++] = K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = V(r);
        break;
    case 15:
        argv[n++] = "LCS";
        argv[n++] = K(r);
        argv[n++] = K(r);
        if (trng_below(r, 2)) argv[n++] = trng_below(r, 2) ? "LEN" : "IDX";
        if (trng_below(r, 3) == 0) argv[n++] = "WITHMATCHLEN";
        if (trng_below(r, 3) == 0) {
            argv[n++] = "MINMATCHLEN";
            argv[n++] = N(r, bufs[0]);
        }
        break;
    case 16:
        argv[n++] = "SETBIT";
        argv[n++] = trng_below(r, 2) ? "bits" : K(r);
        argv[n++] = N(r, bufs[0]);
        argv[n++] = trng_below(r, 5) ? (trng_below(r, 2) ? "1" : "0") : V(r);
        break;
    case 17:
        argv[n++] = "GETBIT";
        argv[n++] = trng_below(r, 2) ? "bits" : K(r);
        argv[n++] = N(r, bufs[0]);
        break;
    case 18:
        argv[n++] = "BITCOUNT";
        argv[n++] = trng_below(r, 2) ? "bits" : K(r);
        if (trng_below(r, 2)) {
            argv[n++] = N(r, bufs[0]);
            argv[n++] = N(r, bufs[1]);
            if (trng_below(r, 2)) argv[n++] = trng_below(r, 2) ? "BIT" : "BYTE";
        }
        break;
    case 19:
        argv[n++] = "BITPOS";
        argv[n++] = trng_below(r, 2) ? "bits" : K(r);
        argv[n++] = trng_below(r, 2) ? "1" : "0";
        if (trng_below(r, 2)) {
            argv[n++] = N(r, bufs[0]);
            if (trng_below(r, 2)) {
                argv[n++] = N(r, bufs[1]);
                if (trng_below(r, 2)) argv[n++] = trng_below(r, 2) ? "BIT" : "BYTE";
            }
        }
        break;
    case 20: {
        static const char *ops[] = {"AND", "OR", "XOR", "NOT", "BAD"};
        argv[n++] = "BITOP";
        argv[n++] = ops[trng_below(r, 5)];
        argv[n++] = K(r);
        argv[n++] = K(r);
        if (trng_below(r, 2)) argv[n++] = K(r);
        break;
    }
    case 21: {
        static const char *types[] = {"u8", "i8", "u1", "i64", "u63", "i5", "u64", "x3"};
        argv[n++] = trng_below(r, 4) ? "BITFIELD" : "BITFIELD_RO";
        argv[n++] = trng_below(r, 2) ? "bits" : K(r);
        for (int k = 0; k < 3; k++) {
            int op = (int)trng_below(r, 4);
            if (op == 3) {
                static const char *ow[] = {"WRAP", "SAT", "FAIL"};
                argv[n++] = "OVERFLOW";
                argv[n++] = ow[trng_below(r, 3)];
                continue;
            }
            argv[n++] = op == 0 ? "GET" : op == 1 ? "SET" : "INCRBY";
            argv[n++] = types[trng_below(r, 8)];
            argv[n++] = trng_below(r, 3) ? N(r, bufs[2 + k]) : "#1";
            if (op) argv[n++] = N(r, bufs[5 + k]);
        }
        break;
    }
    case 22:
        argv[n++] = trng_below(r, 2) ? "DEL" : "UNLINK";
        argv[n++] = K(r);
        if (trng_below(r, 2)) argv[n++] = K(r);
        break;
    case 23:
        argv[n++] = "EXISTS";
        argv[n++] = K(r);
        argv[n++] = K(r);
        break;
    case 24:
        argv[n++] = "TYPE";
        argv[n++] = K(r);
        break;
    case 25:
        argv[n++] = trng_below(r, 2) ? "RENAME" : "RENAMENX";
        argv[n++] = K(r);
        argv[n++] = K(r);
        break;
    case 26:
        argv[n++] = "COPY";
        argv[n++] = K(r);
        argv[n++] = K(r);
        if (trng_below(r, 2)) argv[n++] = "REPLACE";
        break;
    case 27: {
        static const char *cmds[] = {"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"};
        static const char *flags[] = {"NX", "XX", "GT", "LT", "BOGUS"};
        argv[n++] = cmds[trng_below(r, 4)];
        argv[n++] = K(r);
        argv[n++] = trng_below(r, 4) ? "100000000000" : T(r);
        if (trng_below(r, 2)) argv[n++] = flags[trng_below(r, 5)];
        break;
    }
    case 28:
        argv[n++] = "TTL";
        argv[n++] = K(r);
        break;
    case 29:
        argv[n++] = "PERSIST";
        argv[n++] = K(r);
        break;
    case 30:
        argv[n++] = "DBSIZE";
        break;
    case 31:
        argv[n++] = "GETEX";
        argv[n++] = K(r);
        if (trng_below(r, 2)) {
            if (trng_below(r, 2))
                argv[n++] = "PERSIST";
            else {
                argv[n++] = "EX";
                argv[n++] = T(r);
            }
        }
        break;
    case 32:
        argv[n++] = "EXPIRETIME";
        argv[n++] = K(r);
        break;
    default:
        argv[n++] = "STRLEN";
        argv[n++] = K(r);
        argv[n++] = "extra";
        break;
    }
    return n;
}

/* TTL and EXPIRETIME of a key given a relative time: the two servers ran
 * the command that set it a moment apart, so their answers may straddle a
 * second's boundary. Equal, or both positive integers one apart. */
static int clock_check(redisContext *a, redisContext *b, int argc, const char **argv,
                       const size_t *lens) {
    char *x = cmd_argv_str(a, argc, argv, lens), *y = cmd_argv_str(b, argc, argv, lens);
    long long u = 0, v = 0;
    int near = x[0] == ':' && y[0] == ':' && (u = atoll(x + 1)) > 0 && (v = atoll(y + 1)) > 0 &&
               llabs(u - v) <= 1;
    free(x);
    free(y);
    return near || diff_check(a, b, argc, argv, lens);
}

TEST(random_scripts_match_redis) {
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    redisContext *ca = srv_connect(&a), *cb = srv_connect(&b);
    CHECK(ca && cb);
    if (ca && cb) {
        unsigned long long seed = test_seed("DIFF_SEED", 20261124);
        int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 24;
        int mismatches = 0;
        for (int round = 0; round < rounds && mismatches < 5; round++) {
            trng r;
            trng_seed(&r, seed + (unsigned long long)round);
            freeReplyObject(redisCommand(ca, "FLUSHALL"));
            freeReplyObject(redisCommand(cb, "FLUSHALL"));
            for (int i = 0; i < 2500; i++) {
                const char *argv[32];
                size_t lens[32];
                char bufs[8][32];
                int argc = gen(&r, argv, bufs);
                for (int k = 0; k < argc; k++) lens[k] = strlen(argv[k]);
                int clock = !strcmp(argv[0], "TTL") || !strcmp(argv[0], "EXPIRETIME");
                if (!(clock ? clock_check : diff_check)(ca, cb, argc, argv, lens)) {
                    fprintf(stderr, "  (seed %llu round %d step %d)\n", seed, round, i);
                    mismatches++;
                    break; /* the states diverged: next round */
                }
            }
        }
    }
    if (ca) redisFree(ca);
    if (cb) redisFree(cb);
    srv_stop(&a);
    srv_stop(&b);
}

int main(void) {
    RUN(random_scripts_match_redis);
    return test_report();
}
