/* Differential test of the HyperLogLog family: seeded random scripts run
 * against larder-server and Debian's redis-server (7.0).
 *
 * Replies are compared byte for byte (RESP2, and RESP3 in every other raw
 * round), GET of an HLL included: both servers must hold the same sparse or
 * dense bytes, cached cardinality and all. Every third round runs through
 * hiredis (diffkit) and compares the keyspace notifications too.
 *
 * Scripts cover PFADD (a few elements, and bulks that turn an HLL dense),
 * PFCOUNT over one to three keys, PFMERGE, PFDEBUG GETREG / DECODE /
 * ENCODING / TODENSE, hll-sparse-max-bytes changed per round, wrong types,
 * strings that are no HLL, and corrupt payloads: the bytes of a real HLL
 * with a byte flipped, cut short, grown, its encoding or magic changed, or
 * its cache marked valid. The cross-server step takes an HLL's bytes from
 * one server and SETs them into the other (both directions), and the two
 * must then count, add and merge alike.
 *
 *   DIFF_SEED=n DIFF_ROUNDS=n DIFF_STEPS=n   replay / lengthen */
#include "diffkit.h"
#include "harness.h"
#include "rawconn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define MAXARGS 320

typedef struct gen {
    int argc;
    const char *argv[MAXARGS];
    size_t lens[MAXARGS];
    char bufs[MAXARGS][24];
    int nb;
} gen;

static void push(gen *g, const char *s) {
    g->argv[g->argc] = s;
    g->lens[g->argc++] = strlen(s);
}
static void push_bin(gen *g, const char *s, size_t len) {
    g->argv[g->argc] = s;
    g->lens[g->argc++] = len;
}

/* Both servers, through raw connections or through diffkit. */
typedef struct both {
    rconn *l, *r;
    dpair *p;
    const char *where;
    long compared;
} both;

static void print_bytes(const char *label, const char *s, size_t n) {
    fprintf(stderr, "  %s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n && i < 300; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 32 && ch < 127)
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02x", ch);
    }
    fputc('\n', stderr);
}

/* Runs g on both; 1 when the replies (and, through diffkit, the events) match. */
static int check(both *b, gen *g) {
    b->compared++;
    if (b->p) return dk_check(b->p, g->argc, g->argv, g->lens, 0);
    size_t nx, ny;
    char *x = rc_cmd_n(b->l, g->argc, g->argv, g->lens, &nx);
    char *y = rc_cmd_n(b->r, g->argc, g->argv, g->lens, &ny);
    int same = nx == ny && memcmp(x, y, nx) == 0;
    if (!same) {
        fprintf(stderr, "DIFF (%s) on:", b->where);
        for (int i = 0; i < g->argc && i < 8; i++)
            fprintf(stderr, " '%.*s'", (int)(g->lens[i] > 40 ? 40 : g->lens[i]), g->argv[i]);
        fputc('\n', stderr);
        print_bytes("larder", x, nx);
        print_bytes("redis ", y, ny);
    }
    CHECK(same);
    free(x);
    free(y);
    return same;
}

/* GET key's bytes from one server (caller frees), NULL when not a string. */
static char *get_value(both *b, const char *key, int from_redis, size_t *len) {
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, strlen(key)};
    if (b->p) {
        redisReply *r = dk_run(from_redis ? b->p->r : b->p->l, 2, argv, lens);
        char *v = NULL;
        if (r && r->type == REDIS_REPLY_STRING) {
            v = malloc(r->len + 1);
            memcpy(v, r->str, r->len);
            *len = r->len;
        }
        if (r) freeReplyObject(r);
        return v;
    }
    size_t n;
    char *raw = rc_cmd_n(from_redis ? b->r : b->l, 2, argv, lens, &n);
    char *v = NULL;
    if (raw[0] == '$' && raw[1] != '-') {
        char *body = strstr(raw, "\r\n") + 2;
        *len = (size_t)atol(raw + 1);
        v = malloc(*len + 1);
        memcpy(v, body, *len);
    }
    free(raw);
    return v;
}

static const char *K(trng *r) {
    static const char *keys[] = {"h1", "h1", "h2", "h2", "h3", "cor", "xl", "xr", "s1", "z1"};
    return keys[trng_below(r, 10)];
}

/* Elements come from a pool whose size the round picks. */
static unsigned pool;
static const char *E(gen *g, trng *r) {
    char *b = g->bufs[g->nb++];
    snprintf(b, 24, "e%u", trng_below(r, pool));
    return b;
}

#define HLL_HDR 16

/* A corrupt copy of an HLL's bytes (v, n >= HLL_HDR) in out (n + 1 bytes);
 * returns its length. */
static size_t corrupt(trng *r, const char *v, size_t n, char *out) {
    memcpy(out, v, n);
    switch (trng_below(r, 8)) {
    case 0:
    case 1: /* a byte of the registers */
        if (n > HLL_HDR)
            out[HLL_HDR + trng_below(r, (unsigned)(n - HLL_HDR))] = (char)trng_below(r, 256);
        return n;
    case 2: /* cut short */
        return n > HLL_HDR + 3 ? n - 1 - trng_below(r, 3) : n;
    case 3: /* grown by one opcode byte */
        out[n] = (char)trng_below(r, 256);
        return n + 1;
    case 4: /* the other (or an unknown) encoding */
        out[4] = (char)trng_below(r, 3);
        return n;
    case 5:
        out[1] = 'X';
        return n;
    case 6: /* the cached cardinality taken as valid */
        out[15] = (char)(out[15] & 0x7f);
        out[8] = (char)trng_below(r, 256);
        return n;
    default: /* the unused header bytes */
        out[5 + trng_below(r, 3)] = (char)trng_below(r, 256);
        return n;
    }
}

/* Puts bytes under key on both servers. */
static int set_both(both *b, const char *key, const char *v, size_t n) {
    gen g = {.argc = 0};
    push(&g, "SET");
    push(&g, key);
    push_bin(&g, v, n);
    return check(b, &g);
}

/* An HLL's bytes from one server into the other (and the same bytes into
 * the first, under the same key, so the states stay equal); both must then
 * count alike, and alike to the source. */
static int cross(both *b, trng *r) {
    static const char *src[] = {"h1", "h2", "h3"};
    const char *from = src[trng_below(r, 3)];
    int from_redis = (int)trng_below(r, 2);
    const char *key = from_redis ? "xr" : "xl";
    size_t n;
    char *v = get_value(b, from, from_redis, &n);
    if (!v) return 1;
    int ok = set_both(b, key, v, n);
    free(v);
    gen g = {.argc = 0};
    push(&g, "PFCOUNT");
    push(&g, key);
    ok = ok && check(b, &g);
    g.argc = 0;
    push(&g, "PFCOUNT");
    push(&g, key);
    push(&g, from);
    return ok && check(b, &g);
}

/* A corrupt HLL under "cor", made from a real one's bytes. */
static int make_corrupt(both *b, trng *r) {
    static const char *src[] = {"h1", "h2", "h3"};
    size_t n;
    char *v = get_value(b, src[trng_below(r, 3)], 0, &n);
    if (!v || n < HLL_HDR) { /* not an HLL (an APPEND made it): nothing to corrupt */
        free(v);
        return 1;
    }
    char *c = malloc(n + 1);
    size_t cn = corrupt(r, v, n, c);
    int ok = set_both(b, "cor", c, cn);
    free(v);
    free(c);
    return ok;
}

static void gen_one(gen *g, trng *r) {
    switch (trng_below(r, 24)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: {
        push(g, "PFADD");
        push(g, K(r));
        int n = (int)trng_below(r, 9);
        for (int i = 0; i < n; i++) push(g, E(g, r));
        break;
    }
    case 6: {
        push(g, "PFADD");
        push(g, trng_below(r, 4) ? (trng_below(r, 2) ? "h1" : "h2") : K(r));
        int n = 50 + (int)trng_below(r, 250);
        for (int i = 0; i < n; i++) push(g, E(g, r));
        break;
    }
    case 7:
    case 8:
    case 9: {
        push(g, "PFCOUNT");
        int n = 1 + (int)trng_below(r, 3);
        for (int i = 0; i < n; i++) push(g, trng_below(r, 8) ? K(r) : "none");
        break;
    }
    case 10:
    case 11: {
        push(g, "PFMERGE");
        push(g, trng_below(r, 3) ? "h3" : K(r));
        int n = (int)trng_below(r, 4);
        for (int i = 0; i < n; i++) push(g, trng_below(r, 8) ? K(r) : "none");
        break;
    }
    case 12:
    case 13:
        push(g, "GET");
        push(g, K(r));
        break;
    case 14: {
        static const char *subs[] = {"ENCODING", "DECODE",   "GETREG",
                                     "TODENSE",  "encoding", "BOGUS"};
        push(g, "PFDEBUG");
        push(g, subs[trng_below(r, 6)]);
        push(g, trng_below(r, 10) ? K(r) : "none");
        if (trng_below(r, 20) == 0) push(g, "extra");
        break;
    }
    case 15:
        push(g, "SET");
        push(g, "s1");
        push(g, trng_below(r, 2) ? "not an hll" : "HYLL\x01");
        break;
    case 16:
        push(g, "ZADD");
        push(g, "z1");
        push(g, "1");
        push(g, "m");
        break;
    case 17:
        push(g, "APPEND");
        push(g, trng_below(r, 2) ? "h2" : "cor");
        push(g, trng_below(r, 2) ? "\x7f" : "x");
        break;
    case 18:
        push(g, "DEL");
        push(g, trng_below(r, 4) ? "cor" : K(r));
        break;
    case 19:
        push(g, "TYPE");
        push(g, K(r));
        break;
    case 20:
        push(g, "STRLEN");
        push(g, K(r));
        break;
    default:
        push(g, "PFCOUNT");
        push(g, trng_below(r, 2) ? "cor" : K(r));
        break;
    }
}

static int run_round(both *b, unsigned long long seed, int steps) {
    trng r;
    trng_seed(&r, seed);
    static const unsigned pools[] = {64, 1000, 20000, 1000000};
    static const char *maxbytes[] = {"3000", "0", "40", "300", "12000", "3000"};
    pool = pools[trng_below(&r, 4)];
    gen g = {.argc = 0};
    push(&g, "FLUSHALL");
    check(b, &g);
    g.argc = 0;
    push(&g, "CONFIG");
    push(&g, "SET");
    push(&g, "hll-sparse-max-bytes");
    push(&g, maxbytes[trng_below(&r, 6)]);
    if (!check(b, &g)) return 0;
    if (b->p) dk_events(b->p, 0);
    for (int i = 0; i < steps; i++) {
        int ok;
        unsigned k = trng_below(&r, 60);
        if (k == 0)
            ok = cross(b, &r);
        else if (k == 1)
            ok = make_corrupt(b, &r);
        else {
            gen one = {.argc = 0};
            gen_one(&one, &r);
            ok = check(b, &one);
        }
        if (!ok) {
            fprintf(stderr, "  (seed %llu, step %d, pool %u)\n", seed, i, pool);
            return 0;
        }
    }
    return 1;
}

/* The last lines larder-server wrote (after a failure: did it say why?). */
static void print_server_tail(const srv *s) {
    static char log[1 << 16];
    int fl = fcntl(s->out_fd, F_GETFL);
    fcntl(s->out_fd, F_SETFL, fl | O_NONBLOCK);
    size_t used = 0;
    ssize_t n;
    while ((n = read(s->out_fd, log + used, sizeof(log) - 1 - used)) > 0) {
        used += (size_t)n;
        if (used > sizeof(log) / 2) { /* keep the tail */
            memmove(log, log + used - 4096, 4096);
            used = 4096;
        }
    }
    log[used] = '\0';
    fprintf(stderr, "--- larder-server output (tail):\n%s\n",
            used > 3000 ? log + used - 3000 : log);
}

TEST(random_scripts_match_redis) {
    srv a, c;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&c, NULL) == 0);
    rconn l, rd;
    CHECK(rc_open(&l, &a) == 0 && rc_open(&rd, &c) == 0);
    unsigned long long seed = test_seed("DIFF_SEED", 20261208);
    int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 9;
    int steps = getenv("DIFF_STEPS") ? atoi(getenv("DIFF_STEPS")) : 1500;
    int failed = 0;
    long compared = 0;
    static char where[64];
    for (int round = 0; round < rounds && failed < 3; round++) {
        unsigned long long s = seed + (unsigned long long)round;
        snprintf(where, sizeof(where), "round seed %llu", s);
        /* a notification round subscribes afresh (the raw rounds' events go nowhere) */
        dpair p;
        int events = round % 3 == 2;
        if (events) {
            CHECK(dk_open(&p, &a, &c) == 0);
            p.where = where;
        } else {
            const char *proto = round % 3 ? "3" : "2";
            free(rc_cmdv(&l, "HELLO", proto, NULL, NULL));
            free(rc_cmdv(&rd, "HELLO", proto, NULL, NULL));
        }
        both b = {.l = &l, .r = &rd, .p = events ? &p : NULL, .where = where};
        if (!run_round(&b, s, steps)) failed++;
        compared += b.compared;
        if (events) dk_close(&p);
    }
    printf("%d rounds x %d steps, %ld replies compared\n", rounds, steps, compared);
    if (failed) print_server_tail(&a);
    rc_close(&l);
    rc_close(&rd);
    srv_stop(&a);
    srv_stop(&c);
}

/* Fixed expectations: Redis 7.0's texts and numbers. */
TEST(error_texts_and_counts) {
    srv a;
    CHECK(srv_start(&a, NULL) == 0);
    redisContext *c = srv_connect(&a);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "SET s hello");
    CHECK_CMD(c, "-WRONGTYPE Key is not a valid HyperLogLog string value.", "PFADD s a");
    CHECK_CMD(c, "-WRONGTYPE Key is not a valid HyperLogLog string value.", "PFCOUNT s");
    CHECK_CMD(c, "-WRONGTYPE Key is not a valid HyperLogLog string value.", "PFMERGE d s");
    CHECK_CMD(c, ":1", "ZADD z 1 m");
    CHECK_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value", "PFADD z a");
    CHECK_CMD(c, ":1", "PFADD h a b c");
    CHECK_CMD(c, ":3", "PFCOUNT h");
    CHECK_CMD(c, "+sparse", "PFDEBUG ENCODING h");
    CHECK_CMD(c, "-ERR The specified key does not exist", "PFDEBUG ENCODING none");
    CHECK_CMD(c, "-ERR Unknown PFDEBUG subcommand 'nope'", "PFDEBUG nope h");
    CHECK_CMD(c, ":1", "PFDEBUG TODENSE h");
    CHECK_CMD(c, "-ERR HLL encoding is not sparse", "PFDEBUG DECODE h");
    CHECK_CMD(c, ":0", "PFDEBUG TODENSE h");
    CHECK_CMD(c, ":3", "PFCOUNT h");
    /* a sparse HLL whose runs do not cover 16384 registers */
    CHECK_CMD(c, "+OK", "SET bad %b",
              "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe", (size_t)18);
    CHECK_CMD(c, "-INVALIDOBJ Corrupted HLL object detected", "PFCOUNT bad");
    CHECK_CMD(c, "-INVALIDOBJ Corrupted HLL object detected", "PFCOUNT bad h");
    CHECK_CMD(c, "-INVALIDOBJ Corrupted HLL object detected", "PFMERGE d bad");
    CHECK_CMD(c, "+OK", "PFSELFTEST");
    redisFree(c);
    srv_stop(&a);
}

/* Runs the command given as words (space-separated) on both. */
static int check_words(both *b, const char *words) {
    static char buf[256];
    gen g = {.argc = 0};
    snprintf(buf, sizeof(buf), "%s", words);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) push(&g, t);
    return check(b, &g);
}

/* PFADDs n elements "<prefix><i>" to key on both, 300 a command. */
static int add_many(both *b, const char *key, const char *prefix, int n) {
    int ok = 1;
    for (int i = 0; i < n && ok;) {
        gen g = {.argc = 0};
        push(&g, "PFADD");
        push(&g, key);
        for (; i < n && g.argc < 302; i++) {
            snprintf(g.bufs[g.nb], 24, "%s%d", prefix, i);
            push(&g, g.bufs[g.nb++]);
        }
        ok = check(b, &g);
    }
    return ok;
}

/* Unions of dense HLLs with many registers set (what PFCOUNT of several keys
 * and PFMERGE read eight registers at a time), mixed with sparse ones, an
 * empty and a missing key, and a dense value of random registers up to 63
 * SET from outside: counts and merged bytes must match Redis's. */
TEST(dense_unions_match_redis) {
    srv a, c;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&c, NULL) == 0);
    rconn l, rd;
    CHECK(rc_open(&l, &a) == 0 && rc_open(&rd, &c) == 0);
    both b = {.l = &l, .r = &rd, .where = "dense unions"};
    CHECK(add_many(&b, "d1", "e", 10000));
    CHECK(add_many(&b, "d2", "f", 20000));
    CHECK(add_many(&b, "d3", "e", 3000)); /* overlaps d1 */
    CHECK(add_many(&b, "s1", "g", 150));
    CHECK(add_many(&b, "s2", "e", 40));
    CHECK(check_words(&b, "PFADD empty"));
    static char rnd[16 + 12288];
    memset(rnd, 0, 16);
    memcpy(rnd, "HYLL", 4);
    trng r;
    trng_seed(&r, 17);
    for (size_t i = 16; i < sizeof(rnd); i++) rnd[i] = (char)trng_below(&r, 256);
    CHECK(set_both(&b, "rnd", rnd, sizeof(rnd)));
    static const char *cmds[] = {
        "PFDEBUG ENCODING d1",
        "PFDEBUG ENCODING s1",
        "PFCOUNT d1 d2",
        "PFCOUNT d2 d1",
        "PFCOUNT d1 d3",
        "PFCOUNT d1 s1",
        "PFCOUNT s1 s2",
        "PFCOUNT s2 d2 s1 d1 none empty",
        "PFCOUNT rnd d1",
        "PFCOUNT d1 rnd",
        "PFCOUNT rnd",
        "PFCOUNT d1",
        "PFMERGE m1 d1 s1",
        "GET m1",
        "PFMERGE d3 d1 d2",
        "GET d3",
        "PFCOUNT d3",
        "PFMERGE s2 s1",
        "GET s2",
        "PFMERGE s1 d1",
        "GET s1",
        "PFMERGE rnd d2",
        "GET rnd",
        "PFCOUNT rnd s2",
        "PFMERGE none2 none empty",
        "GET none2",
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) CHECK(check_words(&b, cmds[i]));
    rc_close(&l);
    rc_close(&rd);
    srv_stop(&a);
    srv_stop(&c);
}

int main(void) {
    RUN(error_texts_and_counts);
    RUN(random_scripts_match_redis);
    RUN(dense_unions_match_redis);
    return test_report();
}
