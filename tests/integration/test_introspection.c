/* Introspection replies against Debian's redis-server 7.0: the INFO fields
 * of every section (names and order, values where they are deterministic),
 * MEMORY STATS's fields, DEBUG OBJECT's fields for a list, COMMAND GETKEYS
 * on commands without mandatory keys, CONFIG GET of every setting name
 * Redis has, and CLIENT LIST's cmd= for the running command.
 *
 * Fields that exist only in Larder (its persistence section, the
 * query/output-buffer disconnection counters of Redis 7.4) are allowed; a
 * field Redis prints that Larder lacks is a failure. */
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static srv L, R;

/* The field names of an INFO section, "name\n" each, in order. */
static char *info_names(redisContext *c, const char *section) {
    redisReply *r = redisCommand(c, "INFO %s", section);
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return out;
    }
    char *save, *line = strtok_r(r->str, "\r\n", &save);
    for (; line; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon || line[0] == '#') continue;
        size_t n = (size_t)(colon - line);
        if (len + n + 2 > cap) out = realloc(out, cap *= 2);
        memcpy(out + len, line, n);
        len += n;
        out[len++] = '\n';
        out[len] = 0;
    }
    freeReplyObject(r);
    return out;
}

/* Every line of `want` appears in `have`, in the same relative order. */
static int names_cover(const char *have, const char *want, const char *what) {
    const char *h = have;
    int ok = 1;
    for (const char *w = want; *w;) {
        size_t n = (size_t)(strchr(w, '\n') - w);
        const char *at = h;
        while (*at && !(strncmp(at, w, n + 1) == 0)) at = strchr(at, '\n') + 1;
        if (!*at) {
            fprintf(stderr, "%s: %.*s missing or out of order\n", what, (int)n, w);
            ok = 0;
        } else {
            h = at + n + 1;
        }
        w += n + 1;
    }
    return ok;
}

TEST(info_fields_cover_redis) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    static const char *const sections[] = {"server",      "clients",    "memory",
                                           "persistence", "stats",      "replication",
                                           "cpu",         "errorstats", "keyspace"};
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        char *a = info_names(l, sections[i]), *b = info_names(r, sections[i]);
        CHECK(names_cover(a, b, sections[i]));
        free(a);
        free(b);
    }
    redisFree(l);
    redisFree(r);
}

static char *map_keys(redisContext *c, const char *cmd) {
    redisReply *r = redisCommand(c, cmd);
    char *out = calloc(1, 4096);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        strcat(out, r->element[i]->str);
        strcat(out, " ");
    }
    freeReplyObject(r);
    return out;
}

TEST(memory_stats_fields) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    freeReplyObject(redisCommand(l, "SET k v"));
    freeReplyObject(redisCommand(r, "SET k v"));
    char *a = map_keys(l, "MEMORY STATS"), *b = map_keys(r, "MEMORY STATS");
    CHECK_STR(a, b);
    free(a);
    free(b);
    redisReply *x = redisCommand(l, "MEMORY STATS");
    long long total = -1, overhead = -1, dataset = -1;
    for (size_t i = 0; x && i + 1 < x->elements; i += 2) {
        if (!strcmp(x->element[i]->str, "total.allocated")) total = x->element[i + 1]->integer;
        if (!strcmp(x->element[i]->str, "overhead.total")) overhead = x->element[i + 1]->integer;
        if (!strcmp(x->element[i]->str, "dataset.bytes")) dataset = x->element[i + 1]->integer;
    }
    CHECK(total > 0 && overhead > 0 && dataset >= 0 && overhead + dataset == total);
    freeReplyObject(x);
    redisFree(l);
    redisFree(r);
}

/* DEBUG OBJECT's text after the address: fields up to the values that
 * differ between two servers (lru, sizes). */
static char *debug_object_fields(redisContext *c, const char *key) {
    redisReply *r = redisCommand(c, "DEBUG OBJECT %s", key);
    char *out = calloc(1, 1024);
    if (r && r->type == REDIS_REPLY_STATUS) {
        char *save, *tok = strtok_r(r->str, " ", &save);
        for (; tok; tok = strtok_r(NULL, " ", &save)) {
            char *colon = strchr(tok, ':');
            if (colon) *colon = 0;
            strcat(out, tok);
            strcat(out, " ");
        }
    }
    freeReplyObject(r);
    return out;
}

TEST(debug_object_list) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    freeReplyObject(redisCommand(l, "RPUSH dl a b c"));
    freeReplyObject(redisCommand(r, "RPUSH dl a b c"));
    char *a = debug_object_fields(l, "dl"), *b = debug_object_fields(r, "dl");
    CHECK_STR(a, b);
    free(a);
    free(b);
    char *s = cmd_str(l, "DEBUG OBJECT dl");
    CHECK(s && strstr(s, "ql_nodes:1 ql_avg_node:3.00 ql_listpack_max:-2 ql_compressed:0"));
    free(s);
    redisFree(l);
    redisFree(r);
}

TEST(getkeys_like_redis) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    static const char *cmds[][12] = {
        {"COMMAND", "GETKEYS", "EVAL", "return 1", "0", "k1", "k2", NULL},
        {"COMMAND", "GETKEYS", "EVAL", "return 1", "2", "k1", "k2", NULL},
        {"COMMAND", "GETKEYS", "FCALL", "f", "0", NULL},
        {"COMMAND", "GETKEYS", "PING", "x", NULL},
        {"COMMAND", "GETKEYS", "GET", NULL},
        {"COMMAND", "GETKEYS", "NOSUCH", "x", NULL},
        {"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2", NULL},
        {"COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "EVAL", "return 1", "0", NULL},
        {"COMMAND", "GETKEYS", "SORT", "s", "BY", "w*", "STORE", "dst", NULL},
        {"COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT", NULL},
        {"COMMAND", "GETKEYS", "ZDIFFSTORE", "d", "2", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "RIGHT", NULL},
        {"COMMAND", "GETKEYS", "RENAME", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "ZINTER", "0", "a", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "LEFT", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "DEL", "a", "b", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "2", "a", "b", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "SORT", "s", "BY", "w*", "STORE", "dst", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "COPY", "a", "b", NULL},
        {"COMMAND", "GETKEYSANDFLAGS", "GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "0", "0",
         "BYRADIUS", "1", "km"},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "1", "AUTH", "KEYS", "a", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "1", "KEYS", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "1", "KEYS", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "1", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "1", "X", "KEYS", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "1", "KEYS", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "KEYS", "a", "b", NULL},
        {"COMMAND", "GETKEYS", "MIGRATE", "KEYS", "3", "k", "x", "2", "KEYS", NULL},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        int argc = 0;
        while (argc < 12 && cmds[i][argc]) argc++;
        CHECK(diff_check(l, r, argc, (const char **)cmds[i], NULL));
    }
    redisFree(l);
    redisFree(r);
}

TEST(client_list_names_the_running_command) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    char *a = cmd_str(l, "CLIENT INFO"), *b = cmd_str(r, "CLIENT INFO");
    CHECK(a && strstr(a, " cmd=client|info "));
    CHECK(b && strstr(b, " cmd=client|info "));
    free(a);
    free(b);
    redisFree(l);
    redisFree(r);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(redisReply *const *)a)->str, (*(redisReply *const *)b)->str);
}

/* Random argument lists for every command both servers have: COMMAND
 * GETKEYS and GETKEYSANDFLAGS must answer alike (keys, their flags, and the
 * errors for arguments that name no keys). Redis lists its commands in its
 * dictionary's random order: sorted, the seed alone decides the calls. */
TEST(getkeys_random_like_redis) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    redisReply *lc = redisCommand(l, "COMMAND LIST"), *rc = redisCommand(r, "COMMAND LIST");
    static const char *pool[] = {
        "k1",   "k2", "k3",    "0",       "1",         "2",     "3",     "-1",         "STORE",
        "KEYS", "BY", "GET",   "STREAMS", "FIELDS",    "COUNT", "LEFT",  "RIGHT",      "WEIGHTS",
        "EX",   "10", "MATCH", "*",       "STOREDIST", "AUTH",  "LIMIT", "FROMMEMBER", "BYBOX"};
    trng rng;
    trng_seed(&rng, (unsigned long long)test_seed("GETKEYS_SEED", 1207));
    int compared = 0, mismatches = 0;
    if (rc && rc->type == REDIS_REPLY_ARRAY)
        qsort(rc->element, rc->elements, sizeof(rc->element[0]), by_name);
    for (size_t i = 0; rc && lc && i < rc->elements; i++) {
        const char *name = rc->element[i]->str;
        if (strchr(name, '|')) continue; /* containers' subcommands: by their own names */
        int both = 0;
        for (size_t j = 0; j < lc->elements && !both; j++)
            both = !strcmp(lc->element[j]->str, name);
        if (!both) continue;
        for (int round = 0; round < 12; round++) {
            const char *argv[12] = {"COMMAND", round & 1 ? "GETKEYSANDFLAGS" : "GETKEYS", name};
            int argc = 3 + (int)trng_below(&rng, 8);
            for (int a = 3; a < argc; a++)
                argv[a] = pool[trng_below(&rng, sizeof(pool) / sizeof(pool[0]))];
            compared++;
            if (!diff_check(l, r, argc, argv, NULL)) mismatches++;
        }
    }
    printf("COMMAND GETKEYS/GETKEYSANDFLAGS: %d random calls compared, %d mismatches\n", compared,
           mismatches);
    CHECK(compared > 500);
    freeReplyObject(lc);
    freeReplyObject(rc);
    redisFree(l);
    redisFree(r);
}

/* COMMAND INFO's tips and key specs (its 8th and 9th fields) are Redis's, for
 * every command both servers have. */
TEST(key_specs_like_redis) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    redisReply *rc = redisCommand(r, "COMMAND LIST");
    int compared = 0;
    for (size_t i = 0; rc && i < rc->elements; i++) {
        const char *name = rc->element[i]->str;
        redisReply *a = redisCommand(l, "COMMAND INFO %s", name);
        redisReply *b = redisCommand(r, "COMMAND INFO %s", name);
        if (a && b && a->elements == 1 && a->element[0]->type == REDIS_REPLY_ARRAY &&
            a->element[0]->elements >= 9 && b->element[0]->elements >= 9) {
            for (int f = 7; f <= 8; f++) {
                char *x = reply_str(a->element[0]->element[f]),
                     *y = reply_str(b->element[0]->element[f]);
                if (strcmp(x, y) != 0)
                    fprintf(stderr, "%s of %s\n  larder: %s\n  redis:  %s\n",
                            f == 7 ? "tips" : "key specs", name, x, y);
                CHECK_STR(x, y);
                free(x);
                free(y);
            }
            compared++;
        }
        freeReplyObject(a);
        freeReplyObject(b);
    }
    printf("tips and key specs of %d commands compared\n", compared);
    CHECK(compared > 150);
    freeReplyObject(rc);
    redisFree(l);
    redisFree(r);
}

/* CONFIG GET *: every name Redis lists (aliases included) is listed; hidden
 * settings answer only by exact name; several names answer together. */
TEST(config_get_names) {
    redisContext *l = srv_connect(&L), *r = srv_connect(&R);
    /* the acl* settings come with the ACL command */
    redisReply *acl = redisCommand(l, "COMMAND INFO acl");
    int have_acl = acl && acl->elements == 1 && acl->element[0]->type == REDIS_REPLY_ARRAY;
    freeReplyObject(acl);
    redisReply *a = redisCommand(l, "CONFIG GET *"), *b = redisCommand(r, "CONFIG GET *");
    CHECK(a && b && a->type == REDIS_REPLY_ARRAY && b->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; b && i + 1 < b->elements; i += 2) {
        int found = !have_acl && !strncmp(b->element[i]->str, "acl", 3);
        for (size_t j = 0; a && j + 1 < a->elements && !found; j += 2)
            found = !strcmp(a->element[j]->str, b->element[i]->str);
        if (!found) fprintf(stderr, "CONFIG GET * lacks %s\n", b->element[i]->str);
        CHECK(found);
    }
    for (size_t j = 0; a && j + 1 < a->elements; j += 2)
        CHECK(strcmp(a->element[j]->str, "key-load-delay") != 0);
    freeReplyObject(a);
    freeReplyObject(b);
    CHECK_CMD(l, "[key-load-delay,0]", "CONFIG GET key-load-delay");
    /* Redis answers in its dict's order: compare the pairs, not the order */
    CHECK_CMD(l, "[slaveof,,replicaof,,maxmemory-policy,noeviction]",
              "CONFIG GET slaveof replicaof maxmemory-policy");
    redisReply *rb = redisCommand(r, "CONFIG GET slaveof replicaof maxmemory-policy");
    CHECK(rb && rb->elements == 6);
    freeReplyObject(rb);
    CHECK_CMD(l, "+OK", "CONFIG SET maxmemory-clients 10%%");
    CHECK_CMD(l, "[maxmemory-clients,10%]", "CONFIG GET maxmemory-clients");
    static const char *pct[] = {"CONFIG", "SET", "maxmemory-clients", "101%"};
    CHECK(diff_check(l, r, 4, pct, NULL));
    CHECK_CMD(l, "+OK", "CONFIG SET maxmemory-clients 0");
    redisFree(l);
    redisFree(r);
}

int main(void) {
    if (srv_start(&L, NULL) != 0) return 1;
    const char *rx[] = {"--enable-debug-command", "yes", NULL};
    if (srv_start_redis(&R, rx) != 0) {
        fprintf(stderr, "redis-server unavailable\n");
        srv_stop(&L);
        return 1;
    }
    RUN(info_fields_cover_redis);
    RUN(memory_stats_fields);
    RUN(debug_object_list);
    RUN(getkeys_like_redis);
    RUN(client_list_names_the_running_command);
    RUN(config_get_names);
    RUN(getkeys_random_like_redis);
    RUN(key_specs_like_redis);
    srv_stop(&L);
    srv_stop(&R);
    return test_report();
}
