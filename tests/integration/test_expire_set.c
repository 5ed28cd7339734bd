/* The db's expire set (kv/db.h): every command that gives, moves, changes
 * or drops a key's expire time keeps the set exact.
 *
 * A seeded script of such commands over many keys in two databases runs
 * against larder-server and Debian's redis-server; after each batch both must
 * agree on INFO keyspace's keys= and expires= counts and on EXPIRETIME of
 * every key (absolute times far in the future, so nothing races). Then, on
 * larder-server alone: active expiry removes every short-lived key among
 * persistent ones, and the volatile eviction policies evict only keys with an
 * expire time. */
#include "harness.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 300

static char *key(char *buf, unsigned i) {
    snprintf(buf, 32, "k:%u", i);
    return buf;
}

/* A far-future absolute time in seconds, different per draw. */
static const char *when(trng *r, char *buf) {
    snprintf(buf, 32, "%u", 4000000000u + trng_below(r, 1000000));
    return buf;
}

static int gen(trng *r, const char **argv, char b[][32]) {
    int n = 0;
    switch (trng_below(r, 16)) {
    case 0:
    case 1:
        argv[n++] = "SET";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = trng_below(r, 2) ? "v" : "a value long enough to need another size class";
        if (trng_below(r, 3)) {
            argv[n++] = "EXAT";
            argv[n++] = when(r, b[1]);
        } else if (trng_below(r, 2))
            argv[n++] = "KEEPTTL";
        break;
    case 2:
        argv[n++] = "EXPIREAT";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = when(r, b[1]);
        break;
    case 3:
        argv[n++] = "PERSIST";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        break;
    case 4:
        argv[n++] = "DEL";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        break;
    case 5:
        argv[n++] = "RENAME";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = key(b[1], trng_below(r, NKEYS));
        break;
    case 6:
        argv[n++] = "COPY";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = key(b[1], trng_below(r, NKEYS));
        if (trng_below(r, 2)) argv[n++] = "REPLACE";
        break;
    case 7:
        argv[n++] = "MOVE";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = "1";
        break;
    case 8:
        argv[n++] = "APPEND";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = "grows the value past its room, so the entry moves";
        break;
    case 9:
        argv[n++] = "GETEX";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        if (trng_below(r, 2))
            argv[n++] = "PERSIST";
        else {
            argv[n++] = "EXAT";
            argv[n++] = when(r, b[1]);
        }
        break;
    case 10:
        argv[n++] = "HSET";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = "f";
        argv[n++] = "v";
        break;
    case 11:
        argv[n++] = "RPUSH";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = "x";
        break;
    case 12:
        argv[n++] = "SWAPDB";
        argv[n++] = "0";
        argv[n++] = "1";
        break;
    case 13:
        argv[n++] = "SETRANGE";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = "60";
        argv[n++] = "z";
        break;
    case 14:
        argv[n++] = "INCR";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        break;
    default:
        argv[n++] = "UNLINK";
        argv[n++] = key(b[0], trng_below(r, NKEYS));
        argv[n++] = key(b[1], trng_below(r, NKEYS));
        break;
    }
    return n;
}

/* "keys=N,expires=M" of db `id` from INFO keyspace, or "" (caller frees). */
static char *keyspace_counts(redisContext *c, int id) {
    redisReply *r = redisCommand(c, "INFO keyspace");
    char want[16], *out = strdup("");
    snprintf(want, sizeof want, "db%d:", id);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, want) : NULL;
    if (p) {
        p += strlen(want);
        const char *end = strstr(p, ",avg_ttl");
        if (end) {
            free(out);
            out = strndup(p, (size_t)(end - p));
        }
    }
    freeReplyObject(r);
    return out;
}

static void compare_state(redisContext *l, redisContext *rd, const char *where) {
    for (int id = 0; id < 2; id++) {
        char *a = keyspace_counts(l, id), *b = keyspace_counts(rd, id);
        if (strcmp(a, b)) fprintf(stderr, "%s db%d: larder %s, redis %s\n", where, id, a, b);
        CHECK_STR(a, b);
        free(a);
        free(b);
        freeReplyObject(redisCommand(l, "SELECT %d", id));
        freeReplyObject(redisCommand(rd, "SELECT %d", id));
        for (unsigned i = 0; i < NKEYS; i++) {
            char k[32];
            const char *argv[] = {"EXPIRETIME", key(k, i)};
            if (!diff_check(l, rd, 2, argv, NULL)) {
                fprintf(stderr, "%s db%d\n", where, id);
                break;
            }
        }
        freeReplyObject(redisCommand(l, "SELECT 0"));
        freeReplyObject(redisCommand(rd, "SELECT 0"));
    }
}

TEST(expire_set_differential) {
    srv L, R;
    CHECK(srv_start(&L, NULL) == 0);
    CHECK(srv_start_redis(&R, NULL) == 0);
    redisContext *l = srv_connect(&L), *rd = srv_connect(&R);
    CHECK(l && rd);
    if (l && rd) {
        for (unsigned long long seed = 1; seed <= 3; seed++) {
            trng r;
            trng_seed(&r, seed);
            freeReplyObject(redisCommand(l, "FLUSHALL"));
            freeReplyObject(redisCommand(rd, "FLUSHALL"));
            for (int batch = 0; batch < 8; batch++) {
                for (int step = 0; step < 500; step++) {
                    const char *argv[8];
                    char b[2][32];
                    int argc = gen(&r, argv, b);
                    if (!diff_check(l, rd, argc, argv, NULL))
                        fprintf(stderr, "seed %llu batch %d step %d\n", seed, batch, step);
                }
                char where[64];
                snprintf(where, sizeof where, "seed %llu batch %d", seed, batch);
                compare_state(l, rd, where);
            }
        }
    }
    if (l) redisFree(l);
    if (rd) redisFree(rd);
    srv_stop(&L);
    srv_stop(&R);
}

static long long int_reply(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* The expires= count of db0, 0 when the db has none (or no line). */
static long long expires_count(redisContext *c) {
    char *s = keyspace_counts(c, 0);
    const char *p = strstr(s, "expires=");
    long long n = p ? atoll(p + 8) : 0;
    free(s);
    return n;
}

TEST(active_expiry_empties_the_set) {
    srv L;
    CHECK(srv_start(&L, NULL) == 0);
    redisContext *c = srv_connect(&L);
    CHECK(c != NULL);
    if (c) {
        for (int i = 0; i < 3000; i++) {
            redisAppendCommand(c, "SET p:%d v", i);
            redisAppendCommand(c, "SET t:%d v PX %d", i, 1 + i % 50);
        }
        for (int i = 0; i < 6000; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) == REDIS_OK) freeReplyObject(r);
        }
        /* nothing reads the t: keys: only the active cycle can remove them */
        long long left = -1;
        /* no event announces the cycle's progress: poll, with a deadline */
        for (int tries = 0; tries < 500 && (left = expires_count(c)) != 0; tries++) usleep(20000);
        CHECK_EQ(left, 0);
        CHECK_EQ(int_reply(c, "DBSIZE"), 3000);
    }
    if (c) redisFree(c);
    srv_stop(&L);
}

/* Under a volatile policy only keys with an expire time go. */
TEST(volatile_eviction_samples_the_set) {
    static const char *policies[] = {"volatile-random", "volatile-ttl", "volatile-lru",
                                     "volatile-lfu"};
    for (int p = 0; p < 4; p++) {
        srv L;
        CHECK(srv_start(&L, NULL) == 0);
        redisContext *c = srv_connect(&L);
        CHECK(c != NULL);
        if (!c) {
            srv_stop(&L);
            continue;
        }
        for (int i = 0; i < 2000; i++) {
            redisAppendCommand(c, "SET p:%d %0100d", i, i);
            redisAppendCommand(c, "SET t:%d %0100d EX %d", i, i, 1000 + i);
        }
        for (int i = 0; i < 4000; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) == REDIS_OK) freeReplyObject(r);
        }
        freeReplyObject(redisCommand(c, "CONFIG SET maxmemory-policy %s", policies[p]));
        redisReply *r = redisCommand(c, "INFO memory");
        long long used = 0;
        const char *u = r && r->str ? strstr(r->str, "used_memory:") : NULL;
        if (u) used = atoll(u + 12);
        freeReplyObject(r);
        /* room for about half of the keys with a TTL to go */
        freeReplyObject(redisCommand(c, "CONFIG SET maxmemory %lld", used - 150 * 1000));
        freeReplyObject(redisCommand(c, "SET trigger x"));
        /* keys= and expires= of one INFO: the cron may evict in between calls */
        char *counts = keyspace_counts(c, 0);
        long long keys = -1, exp = -1;
        CHECK(sscanf(counts, "keys=%lld,expires=%lld", &keys, &exp) == 2);
        free(counts);
        CHECK(exp < 2000);
        CHECK_EQ(keys - exp, 2001);
        CHECK_EQ(int_reply(c, "EXISTS p:0 p:999 p:1999"), 3);
        freeReplyObject(redisCommand(c, "CONFIG SET maxmemory 0"));
        redisFree(c);
        srv_stop(&L);
    }
}

int main(void) {
    RUN(expire_set_differential);
    RUN(active_expiry_empties_the_set);
    RUN(volatile_eviction_samples_the_set);
    return test_report();
}
