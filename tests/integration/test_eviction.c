/* maxmemory eviction of long keys: every policy that evicts must find
 * candidates among keys of any length. The candidate pool once held only
 * keys of up to 255 bytes, so a keyspace of longer keys had nothing to
 * evict and every write was refused with OOM (Redis's own unit/maxmemory
 * "client tracking don't cause eviction feedback loop" found it, with
 * 1000-byte keys). Also: a 255- and a 256-byte key (the old cap's edge)
 * and the empty key are evicted like any other. */
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long info_ll(redisContext *c, const char *section, const char *field) {
    redisReply *r = redisCommand(c, "INFO %s", section);
    long long v = -1;
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", field);
    const char *p = r && r->str ? strstr(r->str, pat) : NULL;
    if (p) v = atoll(p + strlen(pat));
    freeReplyObject(r);
    return v;
}

/* 300 keys named by 1000 bytes and a number, values "x" (TTLs for the
 * volatile policy); then maxmemory 40 KB below the memory used. */
static void fill_and_limit(redisContext *c, const char *policy, int ttl) {
    static char name[1100];
    memset(name, 'x', 1000);
    for (int j = 0; j < 300; j++) {
        snprintf(name + 1000, 100, "%d", j);
        if (ttl)
            redisAppendCommand(c, "SET %s x EX 100000", name);
        else
            redisAppendCommand(c, "SET %s x", name);
    }
    for (int j = 0; j < 300; j++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) == REDIS_OK) freeReplyObject(r);
    }
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory-policy %s", policy));
    long long used = info_ll(c, "memory", "used_memory");
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory %lld", used - 40000));
}

TEST(long_keys_are_evicted_by_every_policy) {
    static const char *policies[] = {"allkeys-lru",  "allkeys-lfu",     "allkeys-random",
                                     "volatile-lru", "volatile-random", "volatile-ttl",
                                     "volatile-lfu"};
    for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
        srv L;
        CHECK(srv_start(&L, NULL) == 0);
        redisContext *c = srv_connect(&L);
        CHECK(c != NULL);
        if (!c) {
            srv_stop(&L);
            continue;
        }
        fill_and_limit(c, policies[p], !strncmp(policies[p], "volatile", 8));
        char *got = cmd_str(c, "SET trigger x");
        if (strcmp(got, "+OK") != 0) printf("  %s: SET gave %s\n", policies[p], got);
        CHECK(strcmp(got, "+OK") == 0);
        free(got);
        /* both counts from one INFO: every command may evict first (the
         * cron too), so two commands could see different evictions */
        redisReply *r = redisCommand(c, "INFO stats keyspace");
        const char *ev = r && r->str ? strstr(r->str, "\r\nevicted_keys:") : NULL;
        const char *db = r && r->str ? strstr(r->str, "\r\ndb0:keys=") : NULL;
        CHECK(ev && db);
        long long evicted = ev ? atoll(ev + 15) : -1, keys = db ? atoll(db + 11) : -1;
        CHECK(evicted >= 10 && evicted < 300);
        CHECK_EQ(keys + evicted, 301);
        freeReplyObject(r);
        redisFree(c);
        srv_stop(&L);
    }
}

/* Keys at the old cap's edge and the empty key: with a limit below what
 * they hold, allkeys-lru evicts them all to make room. */
TEST(edge_length_and_empty_keys_are_evicted) {
    srv L;
    CHECK(srv_start(&L, NULL) == 0);
    redisContext *c = srv_connect(&L);
    CHECK(c != NULL);
    if (!c) {
        srv_stop(&L);
        return;
    }
    static char k255[256], k256[257], big[100001];
    memset(k255, 'a', 255);
    memset(k256, 'b', 256);
    memset(big, 'v', 100000);
    freeReplyObject(redisCommand(c, "SET %s %s", k255, big));
    freeReplyObject(redisCommand(c, "SET %s %s", k256, big));
    freeReplyObject(redisCommand(c, "SET %b %s", "", (size_t)0, big));
    CHECK_CMD(c, ":3", "DBSIZE");
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory-policy allkeys-lru"));
    long long used = info_ll(c, "memory", "used_memory");
    /* less than any one of the three values leaves room for */
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory %lld", used - 250000));
    CHECK_CMD(c, "+OK", "SET small x");
    CHECK_CMD(c, ":0", "EXISTS %s %s %b", k255, k256, "", (size_t)0);
    CHECK_CMD(c, ":1", "DBSIZE");
    CHECK_EQ(info_ll(c, "stats", "evicted_keys"), 3);
    redisFree(c);
    srv_stop(&L);
}

int main(void) {
    RUN(long_keys_are_evicted_by_every_policy);
    RUN(edge_length_and_empty_keys_are_evicted);
    return test_report();
}
