/* Differential test of the GEO family: seeded random scripts run against
 * larder-server and Debian's redis-server (7.0).
 *
 * Rounds alternate: raw connections compare every reply byte for byte in
 * RESP2 and (after HELLO 3) RESP3, where GEOPOS and WITHCOORD coordinates are
 * doubles; and hiredis connections (diffkit) that also compare the keyspace
 * notifications each command publishes. Scripts cover GEOADD (NX XX CH),
 * GEODIST with every unit, GEOHASH, GEOPOS, GEORADIUS[BYMEMBER][_RO] and
 * GEOSEARCH[STORE] with every option (WITHCOORD WITHDIST WITHHASH COUNT [ANY]
 * ASC DESC STORE STOREDIST, BYRADIUS BYBOX, FROMMEMBER FROMLONLAT), the
 * stored results (ZRANGE WITHSCORES), and bad input: coordinates out of
 * range or not numbers, unknown units, negative radii, bad COUNT, missing
 * or conflicting options, wrong types, sorted-set scores that are no
 * geohash.
 *
 * Points cluster around a few centres so that searches find some, and one
 * in five sits on one of a few shared spots, so that many points are at the
 * same distance from a centre: their order in a COUNT search is that of
 * Redis's partial quicksort (see commands/geo.c).
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

typedef struct gen {
    int argc;
    const char *argv[160];
    size_t lens[160];
    char bufs[160][48];
    int nb;
} gen;

static void push(gen *g, const char *s) {
    g->argv[g->argc++] = s;
}
static void pushf(gen *g, const char *fmt, double v) {
    char *b = g->bufs[g->nb++];
    snprintf(b, 48, fmt, v);
    push(g, b);
}

static const double centres[][2] = {{13.36, 38.11},  {-122.42, 37.77}, {179.9, -40.5},
                                    {-179.95, 10.0}, {2.35, 84.9},     {0.001, -0.002}};

static double frand(trng *r) {
    return (double)(trng_next(r) >> 11) / 9007199254740992.0; /* [0, 1) */
}

static const char *K(trng *r) {
    static const char *keys[] = {"g1", "g1", "g1", "g1", "g2", "g2", "g2", "str", "none"};
    return keys[trng_below(r, 20) ? trng_below(r, 7) : 7 + trng_below(r, 2)];
}
static const char *M(trng *r, char *buf) {
    snprintf(buf, 48, "m%u", trng_below(r, 44)); /* m40..m43 are never added */
    return buf;
}
static const char *unit(trng *r) {
    static const char *u[] = {"m", "km", "ft", "mi", "KM", "Mi", "parsec", ""};
    return u[trng_below(r, 20) ? trng_below(r, 6) : 6 + trng_below(r, 2)];
}

/* A point near a centre (lon, lat as text), sometimes an invalid one. */
static void point(gen *g, trng *r, int allow_bad) {
    if (allow_bad && trng_below(r, 25) == 0) {
        static const char *bad[][2] = {
            {"181", "0"},   {"0", "85.06"},         {"-180.0001", "1"},      {"abc", "1"},
            {"1", ""},      {"inf", "0"},           {"0", "-inf"},           {"nan", "0"},
            {"1e400", "0"}, {"180", "85.05112878"}, {"-180", "-85.05112878"}};
        int k = (int)trng_below(r, 11);
        push(g, bad[k][0]);
        push(g, bad[k][1]);
        return;
    }
    if (trng_below(r, 5) == 0) { /* a shared spot */
        static const char *spots[][2] = {
            {"13.5", "38.5"}, {"13.6", "38.4"}, {"-122.4", "37.7"}, {"179.95", "-40.5"}};
        int k = (int)trng_below(r, 4);
        push(g, spots[k][0]);
        push(g, spots[k][1]);
        return;
    }
    const double *c = centres[trng_below(r, 6)];
    double lon = c[0] + (frand(r) - 0.5) * 4, lat = c[1] + (frand(r) - 0.5) * 4;
    if (lon > 180) lon -= 360;
    if (lon < -180) lon += 360;
    if (lat > 85.05) lat = 85.05 - frand(r);
    if (lat < -85.05) lat = -85.05 + frand(r);
    pushf(g, "%.7f", lon);
    pushf(g, "%.7f", lat);
}

static void radius(gen *g, trng *r) {
    static const char *bad[] = {"-1", "abc", "0", "inf", "1e-3"};
    if (trng_below(r, 25) == 0)
        push(g, bad[trng_below(r, 5)]);
    else
        pushf(g, "%.3f", frand(r) * 400);
    push(g, trng_below(r, 3) ? "km" : unit(r));
}

static void search_options(gen *g, trng *r, int store_kind) {
    int n = (int)trng_below(r, 5);
    for (int i = 0; i < n; i++) {
        switch (trng_below(r, 12)) {
        case 0:
            push(g, "WITHDIST");
            break;
        case 1:
            push(g, "WITHCOORD");
            break;
        case 2:
            push(g, "WITHHASH");
            break;
        case 3:
            push(g, trng_below(r, 2) ? "ASC" : "DESC");
            break;
        case 4:
        case 5: {
            static const char *counts[] = {"1", "2", "3", "5", "100", "0", "-1", "x"};
            push(g, "COUNT");
            push(g, counts[trng_below(r, 10) < 8 ? trng_below(r, 5) : 5 + trng_below(r, 3)]);
            if (trng_below(r, 3) == 0) push(g, "ANY");
            break;
        }
        case 6:
            if (trng_below(r, 4) == 0) push(g, "ANY");
            break;
        case 7:
            if (store_kind == 1) {
                push(g, trng_below(r, 2) ? "STORE" : "STOREDIST");
                push(g, trng_below(r, 4) ? "dst" : "g2");
            } else if (store_kind == 2) {
                push(g, "STOREDIST");
            } else if (trng_below(r, 6) == 0) {
                push(g, "STORE"); /* refused by the _RO forms and GEOSEARCH */
                push(g, "dst");
            }
            break;
        default:
            if (trng_below(r, 12) == 0) push(g, "BOGUS");
            break;
        }
    }
}

/* GEOSEARCH's FROM... and BY... arguments. */
static void search_from_by(gen *g, trng *r, char *mbuf) {
    int from = (int)trng_below(r, 20);
    if (from < 10) {
        push(g, "FROMMEMBER");
        push(g, M(r, mbuf));
    } else if (from < 19) {
        push(g, "FROMLONLAT");
        point(g, r, 1);
    }
    int by = (int)trng_below(r, 20);
    if (by < 10) {
        push(g, "BYRADIUS");
        radius(g, r);
    } else if (by < 19) {
        push(g, "BYBOX");
        pushf(g, "%.2f", frand(r) * 600);
        pushf(g, "%.2f", trng_below(r, 10) ? frand(r) * 600 : -5.0);
        push(g, trng_below(r, 3) ? "km" : unit(r));
    }
    if (trng_below(r, 20) == 0) { /* both FROM or both BY forms */
        push(g, "FROMLONLAT");
        push(g, "1");
        push(g, "1");
    }
}

/* Forty points under key at the start of a round, so that searches find some. */
static void gen_seed(gen *g, trng *r, const char *key) {
    push(g, "GEOADD");
    push(g, key);
    for (int i = 0; i < 40; i++) {
        point(g, r, 0);
        snprintf(g->bufs[g->nb], 48, "m%d", i);
        push(g, g->bufs[g->nb++]);
    }
    for (int i = 0; i < g->argc; i++) g->lens[i] = strlen(g->argv[i]);
}

static void gen_one(gen *g, trng *r) {
    char *m1 = g->bufs[g->nb++], *m2 = g->bufs[g->nb++];
    switch (trng_below(r, 20)) {
    case 0:
    case 1:
    case 2:
    case 3: {
        push(g, "GEOADD");
        push(g, trng_below(r, 12) ? (trng_below(r, 3) ? "g1" : "g2") : K(r));
        int opts = (int)trng_below(r, 4);
        static const char *o[] = {"NX", "XX", "CH", "ch"};
        for (int i = 0; i < opts; i++)
            if (trng_below(r, 2)) push(g, o[trng_below(r, 4)]);
        int n = 1 + (int)trng_below(r, 4);
        for (int i = 0; i < n; i++) {
            point(g, r, 1);
            push(g, M(r, g->bufs[g->nb++]));
        }
        if (trng_below(r, 25) == 0) push(g, "extra"); /* arity not a multiple of 3 */
        break;
    }
    case 4:
        push(g, "GEODIST");
        push(g, K(r));
        push(g, M(r, m1));
        push(g, M(r, m2));
        if (trng_below(r, 2)) push(g, unit(r));
        if (trng_below(r, 20) == 0) push(g, "extra");
        break;
    case 5:
    case 6: {
        push(g, trng_below(r, 2) ? "GEOPOS" : "GEOHASH");
        push(g, K(r));
        int n = (int)trng_below(r, 4);
        for (int i = 0; i < n; i++) push(g, M(r, g->bufs[g->nb++]));
        break;
    }
    case 7:
    case 8:
    case 9: {
        int ro = trng_below(r, 3) == 0;
        push(g, ro ? "GEORADIUS_RO" : "GEORADIUS");
        push(g, K(r));
        point(g, r, 1);
        radius(g, r);
        search_options(g, r, ro ? 0 : 1);
        break;
    }
    case 10:
    case 11: {
        int ro = trng_below(r, 3) == 0;
        push(g, ro ? "GEORADIUSBYMEMBER_RO" : "GEORADIUSBYMEMBER");
        push(g, K(r));
        push(g, M(r, m1));
        radius(g, r);
        search_options(g, r, ro ? 0 : 1);
        break;
    }
    case 12:
    case 13:
    case 14:
        push(g, "GEOSEARCH");
        push(g, K(r));
        search_from_by(g, r, m1);
        search_options(g, r, 0);
        break;
    case 15:
        push(g, "GEOSEARCHSTORE");
        push(g, trng_below(r, 5) ? "dst" : "g2");
        push(g, K(r));
        search_from_by(g, r, m1);
        search_options(g, r, 2);
        break;
    case 16: {
        /* scores that are no geohash of a GEOADD: GEOPOS/GEODIST decode them */
        static const char *scores[] = {
            "0",    "-1",  "4503599627370495", "4503599627370496", "1e20", "3.5",
            "-inf", "inf", "13510798882111488"};
        int k = (int)trng_below(r, 9);
        push(g, "ZADD");
        push(g, "g1");
        push(g, scores[k]);
        snprintf(m1, 48, "w%d", k);
        push(g, m1);
        break;
    }
    case 17:
        push(g, "ZRANGE");
        push(g, trng_below(r, 2) ? "dst" : "g2");
        push(g, "0");
        push(g, "-1");
        push(g, "WITHSCORES");
        break;
    case 18:
        if (trng_below(r, 2)) {
            push(g, "ZREM");
            push(g, trng_below(r, 2) ? "g1" : "g2");
            push(g, M(r, m1));
        } else {
            push(g, "DEL");
            push(g, trng_below(r, 50) ? "dst" : "g2");
        }
        break;
    default:
        push(g, "SET");
        push(g, "str");
        push(g, "not a sorted set");
        break;
    }
    for (int i = 0; i < g->argc; i++) g->lens[i] = strlen(g->argv[i]);
}

/* ---- raw rounds (byte for byte, RESP2 / RESP3) ---------------------------------------- */

static long compared;

static int diff_raw(rconn *l, rconn *r, gen *g, const char *where) {
    char *x = rc_cmd(l, g->argc, g->argv, g->lens), *y = rc_cmd(r, g->argc, g->argv, g->lens);
    int same = strcmp(x, y) == 0;
    compared++;
    if (!same) {
        fprintf(stderr, "DIFF (%s) on:", where);
        for (int i = 0; i < g->argc; i++) fprintf(stderr, " '%s'", g->argv[i]);
        fprintf(stderr, "\n  larder: %.600s\n  redis:  %.600s\n", x, y);
    }
    CHECK(same);
    free(x);
    free(y);
    return same;
}

static int raw_round(rconn *l, rconn *rd, unsigned long long seed, int steps) {
    trng r;
    trng_seed(&r, seed);
    free(rc_cmdv(l, "FLUSHALL", NULL, NULL, NULL));
    free(rc_cmdv(rd, "FLUSHALL", NULL, NULL, NULL));
    char where[64];
    snprintf(where, sizeof(where), "round seed %llu", seed);
    for (int k = 0; k < 2; k++) {
        gen g = {.argc = 0};
        gen_seed(&g, &r, k ? "g2" : "g1");
        if (!diff_raw(l, rd, &g, where)) return 0;
    }
    for (int i = 0; i < steps; i++) {
        gen g = {.argc = 0};
        gen_one(&g, &r);
        if (!diff_raw(l, rd, &g, where)) {
            fprintf(stderr, "  (step %d)\n", i);
            return 0;
        }
    }
    return 1;
}

/* ---- diffkit rounds (keyspace notifications compared too) ----------------------------- */

static char where_buf[96];

static int events_round(dpair *p, unsigned long long seed, int steps) {
    trng r;
    trng_seed(&r, seed);
    freeReplyObject(redisCommand(p->l, "FLUSHALL"));
    freeReplyObject(redisCommand(p->r, "FLUSHALL"));
    dk_events(p, 0);
    p->where = where_buf;
    snprintf(where_buf, sizeof(where_buf), "events round seed %llu", seed);
    for (int k = 0; k < 2; k++) {
        gen g = {.argc = 0};
        gen_seed(&g, &r, k ? "g2" : "g1");
        if (!dk_check(p, g.argc, g.argv, g.lens, 0)) return 0;
    }
    for (int i = 0; i < steps; i++) {
        snprintf(where_buf, sizeof(where_buf), "events round seed %llu step %d", seed, i);
        gen g = {.argc = 0};
        gen_one(&g, &r);
        compared++;
        if (!dk_check(p, g.argc, g.argv, g.lens, 0)) return 0;
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
    static const char *extra[] = {"--zset-max-listpack-entries", "8", NULL};
    srv a, b;
    CHECK(srv_start(&a, extra) == 0);
    CHECK(srv_start_redis(&b, extra) == 0);
    rconn l, rd;
    CHECK(rc_open(&l, &a) == 0 && rc_open(&rd, &b) == 0);
    dpair p;
    CHECK(dk_open(&p, &a, &b) == 0);
    unsigned long long seed = test_seed("DIFF_SEED", 20261207);
    int rounds = getenv("DIFF_ROUNDS") ? atoi(getenv("DIFF_ROUNDS")) : 9;
    int steps = getenv("DIFF_STEPS") ? atoi(getenv("DIFF_STEPS")) : 2000;
    int failed = 0;
    for (int round = 0; round < rounds && failed < 3; round++) {
        unsigned long long s = seed + (unsigned long long)round;
        if (round % 3 == 2) {
            if (!events_round(&p, s, steps)) failed++;
            continue;
        }
        const char *proto = round % 3 ? "3" : "2";
        free(rc_cmdv(&l, "HELLO", proto, NULL, NULL));
        free(rc_cmdv(&rd, "HELLO", proto, NULL, NULL));
        if (!raw_round(&l, &rd, s, steps)) failed++;
    }
    printf("%d rounds x %d steps, %ld replies compared\n", rounds, steps, compared);
    if (failed) print_server_tail(&a);
    dk_close(&p);
    rc_close(&l);
    rc_close(&rd);
    srv_stop(&a);
    srv_stop(&b);
}

/* The error texts, one by one, against fixed expectations (Redis 7.0's). */
TEST(error_texts) {
    srv a;
    CHECK(srv_start(&a, NULL) == 0);
    redisContext *c = srv_connect(&a);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "-ERR invalid longitude,latitude pair 200.000000,100.000000",
              "GEOADD k 200 100 x");
    CHECK_CMD(c, "-ERR value is not a valid float", "GEOADD k abc 1 x");
    CHECK_CMD(c, "-ERR syntax error", "GEOADD k NX XX 1 1 x");
    CHECK_CMD(c, "-ERR syntax error", "GEOADD k 1 1 x 2");
    CHECK_CMD(c, ":1", "GEOADD k 1 1 x");
    CHECK_CMD(c, "-ERR unsupported unit provided. please use M, KM, FT, MI", "GEODIST k x x yd");
    CHECK_CMD(c, "-ERR need numeric radius", "GEORADIUS k 1 1 r km");
    CHECK_CMD(c, "-ERR radius cannot be negative", "GEORADIUS k 1 1 -1 km");
    CHECK_CMD(c, "-ERR COUNT must be > 0", "GEORADIUS k 1 1 1 km COUNT 0");
    CHECK_CMD(c, "-ERR the ANY argument requires COUNT argument", "GEORADIUS k 1 1 1 km ANY");
    CHECK_CMD(c, "-ERR could not decode requested zset member", "GEORADIUSBYMEMBER k y 1 km");
    CHECK_CMD(c, "-ERR need numeric width", "GEOSEARCH k FROMLONLAT 1 1 BYBOX w 1 km");
    CHECK_CMD(c, "-ERR height or width cannot be negative",
              "GEOSEARCH k FROMLONLAT 1 1 BYBOX 1 -1 km");
    CHECK_CMD(c, "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
              "GEOSEARCH k BYRADIUS 1 km ASC WITHDIST");
    CHECK_CMD(c, "-ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch",
              "geosearch k FROMLONLAT 1 1 ASC WITHDIST");
    CHECK_CMD(c,
              "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and "
              "WITHCOORD options",
              "GEORADIUS k 1 1 1 km STORE d WITHDIST");
    CHECK_CMD(c,
              "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD "
              "options",
              "GEOSEARCHSTORE d k FROMLONLAT 1 1 BYRADIUS 1 km WITHHASH");
    CHECK_CMD(c, "-ERR syntax error", "GEORADIUS_RO k 1 1 1 km STORE d");
    CHECK_CMD(c, "+OK", "SET s v");
    CHECK_CMD(c, "-WRONGTYPE Operation against a key holding the wrong kind of value",
              "GEOPOS s x");
    CHECK_CMD(c, "[]", "GEORADIUSBYMEMBER none x abc km");
    redisFree(c);
    srv_stop(&a);
}

/* One GEOSEARCH (or GEORADIUS) over a thousand points, byte for byte. */
static int dense_search(rconn *l, rconn *rd, trng *r, const char *key, double clon, double clat) {
    gen g = {.argc = 0};
    int radius_form = trng_below(r, 4) == 0;
    push(&g, radius_form ? "GEORADIUS" : "GEOSEARCH");
    push(&g, key);
    double lon = clon + (frand(r) - 0.5) * 3, lat = clat + (frand(r) - 0.5) * 3;
    if (lon > 180) lon -= 360;
    if (lon < -180) lon += 360;
    if (lat > 85) lat = 85;
    if (lat < -85) lat = -85;
    if (!radius_form) push(&g, "FROMLONLAT");
    pushf(&g, "%.6f", lon);
    pushf(&g, "%.6f", lat);
    if (radius_form || trng_below(r, 3)) {
        if (!radius_form) push(&g, "BYRADIUS");
        pushf(&g, "%.3f", trng_below(r, 8) ? frand(r) * 120 : frand(r) * 3000);
    } else {
        push(&g, "BYBOX");
        pushf(&g, "%.3f", frand(r) * 250);
        pushf(&g, "%.3f", frand(r) * 250);
    }
    push(&g, "km");
    static const char *counts[] = {"1", "3", "10", "10", "50", "999", "5000"};
    if (trng_below(r, 4)) {
        push(&g, "COUNT");
        push(&g, counts[trng_below(r, 7)]);
        if (trng_below(r, 5) == 0) push(&g, "ANY");
    }
    int sort = (int)trng_below(r, 3);
    if (sort) push(&g, sort == 1 ? "ASC" : "DESC");
    if (trng_below(r, 3) == 0) push(&g, "WITHDIST");
    if (trng_below(r, 4) == 0) push(&g, "WITHCOORD");
    if (trng_below(r, 6) == 0) push(&g, "WITHHASH");
    for (int i = 0; i < g.argc; i++) g.lens[i] = strlen(g.argv[i]);
    return diff_raw(l, rd, &g, "dense searches");
}

/* Searches over a thousand points in a few degrees (as make bench's
 * GEOSEARCH case), where most candidates of the scanned cells lie outside
 * the shape: radii and boxes from metres to thousands of kilometres, COUNT
 * below and above the number of matches, ANY, ASC, DESC, and points that
 * share a position (equal distances, whose order is Redis's partial
 * quicksort's). Near Palermo, near the antimeridian and near the pole. */
TEST(dense_searches_match_redis) {
    srv a, b;
    CHECK(srv_start(&a, NULL) == 0);
    CHECK(srv_start_redis(&b, NULL) == 0);
    rconn l, rd;
    CHECK(rc_open(&l, &a) == 0 && rc_open(&rd, &b) == 0);
    static const double where[][2] = {{13.36, 38.11}, {179.2, -40.5}, {20.0, 83.5}};
    trng r;
    trng_seed(&r, test_seed("DIFF_SEED", 20261207));
    int failed = 0;
    for (int w = 0; w < 3; w++) {
        const char *key = w == 0 ? "dense0" : w == 1 ? "dense1" : "dense2";
        double clon = where[w][0], clat = where[w][1];
        for (int batch = 0; batch < 10; batch++) {
            gen g = {.argc = 0};
            push(&g, "GEOADD");
            push(&g, key);
            for (int i = 0; i < 50; i++) {
                int k = batch * 50 + i;
                double lon = clon - 1 + (k * 7919 % 500) / 250.0;
                double lat = clat - 1 + (k * 104729 % 500) / 250.0;
                if (k % 10 == 5) { /* a shared spot: fifty points at one distance */
                    lon = clon + 0.3;
                    lat = clat - 0.2;
                }
                if (lon > 180) lon -= 360;
                if (lon < -180) lon += 360;
                pushf(&g, "%.6f", lon);
                pushf(&g, "%.6f", lat);
                snprintf(g.bufs[g.nb], 48, "p%d", k);
                push(&g, g.bufs[g.nb++]);
            }
            for (int i = 0; i < g.argc; i++) g.lens[i] = strlen(g.argv[i]);
            if (!diff_raw(&l, &rd, &g, "dense load")) failed++;
            /* the same positions under other names: more shared spots */
            gen h = {.argc = 0};
            push(&h, "GEOADD");
            push(&h, key);
            for (int i = 0; i < 50; i += 7) {
                push(&h, g.argv[2 + 3 * i]);
                push(&h, g.argv[3 + 3 * i]);
                snprintf(h.bufs[h.nb], 48, "q%d", batch * 50 + i);
                push(&h, h.bufs[h.nb++]);
            }
            for (int i = 0; i < h.argc; i++) h.lens[i] = strlen(h.argv[i]);
            if (!diff_raw(&l, &rd, &h, "dense load")) failed++;
        }
        for (int i = 0; i < 400 && failed < 3; i++)
            if (!dense_search(&l, &rd, &r, key, clon, clat)) failed++;
    }
    printf("dense searches: %ld replies compared\n", compared);
    rc_close(&l);
    rc_close(&rd);
    srv_stop(&a);
    srv_stop(&b);
}

int main(void) {
    RUN(error_texts);
    RUN(dense_searches_match_redis);
    RUN(random_scripts_match_redis);
    return test_report();
}
