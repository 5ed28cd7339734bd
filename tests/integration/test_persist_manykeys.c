/* Commands over many mapped keys: every persistence mode handles any number of
 * keys in one command (MSET, MSETNX, DEL, UNLINK, a script's KEYS, a MULTI
 * block, a read-through MGET). Each test ends with "store equals cache": the
 * table's rows, read back by SQL.QUERY, are exactly the values the cache
 * holds for the N keys (and what the commands were acknowledged to write). */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAPS                                                                                       \
    "wt wt:{id} mode write-through column v; wb wb:{id} mode write-behind column v; "              \
    "rt rt:{id} mode read-through column v"

/* fewer under sanitizers, and against PostgreSQL, where the closing check
 * reads every key's row back with its own query over a socket */
static int nkeys(void) {
    return pk_sanitized() || pk_pg() ? 3000 : 10000;
}

static redisContext *start(pk_env *e) {
    memset(e, 0, sizeof(*e));
    const char *extra[] = {"--write-behind-delay-ms", "100000", NULL};
    if (pk_start(e, extra) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    pk_exec(c, "CREATE TABLE wt (id TEXT PRIMARY KEY, v TEXT)");
    pk_exec(c, "CREATE TABLE wb (id TEXT PRIMARY KEY, v TEXT)");
    pk_exec(c, "CREATE TABLE rt (id TEXT PRIMARY KEY, v TEXT)");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", MAPS);
    return c;
}

/* argv of "CMD [prefix0 [val0]] ..." for keys 0..n-1; with_vals adds "<tag>-<i>". */
typedef struct argvb {
    int argc;
    char **argv;
    size_t *lens;
} argvb;

static void ab_add(argvb *a, const char *s) {
    a->argv = realloc(a->argv, sizeof(char *) * (size_t)(a->argc + 1));
    a->lens = realloc(a->lens, sizeof(size_t) * (size_t)(a->argc + 1));
    a->argv[a->argc] = strdup(s);
    a->lens[a->argc] = strlen(s);
    a->argc++;
}

static void ab_free(argvb *a) {
    for (int i = 0; i < a->argc; i++) free(a->argv[i]);
    free(a->argv);
    free(a->lens);
    memset(a, 0, sizeof(*a));
}

static void ab_keys(argvb *a, const char *prefix, int n, const char *tag) {
    char b[64];
    for (int i = 0; i < n; i++) {
        snprintf(b, sizeof(b), "%s%d", prefix, i);
        ab_add(a, b);
        if (tag) {
            snprintf(b, sizeof(b), "%s-%d", tag, i);
            ab_add(a, b);
        }
    }
}

static redisReply *ab_run(redisContext *c, argvb *a) {
    return redisCommandArgv(c, a->argc, (const char **)a->argv, a->lens);
}

/* Runs a command and renders its reply (caller frees). */
static char *ab_str(redisContext *c, argvb *a) {
    redisReply *r = ab_run(c, a);
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

/* Store equals cache equals the expected values: want[i] is key i's value, or
 * NULL for absent. Returns the number of differences (the first few printed). */
static int check_n(redisContext *c, const char *table, const char *prefix, int n, char **want) {
    int diffs = 0;
    redisReply *f = redisCommand(c, "WB.FLUSH");
    if (!f || f->type != REDIS_REPLY_STATUS) diffs++;
    if (f) freeReplyObject(f);
    char **row = calloc((size_t)n, sizeof(char *));
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT id, v FROM %s", table);
    redisReply *r = redisCommand(c, "SQL.QUERY %s", sql);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "SQL.QUERY failed\n");
        diffs++;
    } else {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *rr = r->element[i];
            const char *id = rr->element[0]->str;
            int k = atoi(id);
            if (k < 0 || k >= n) {
                if (diffs++ < 5) fprintf(stderr, "%s: unexpected row %s\n", table, id);
                continue;
            }
            row[k] = rr->element[1]->str ? strdup(rr->element[1]->str) : strdup("");
        }
    }
    argvb g = {0};
    ab_add(&g, "MGET");
    ab_keys(&g, prefix, n, NULL);
    redisReply *m = ab_run(c, &g);
    ab_free(&g);
    if (!m || m->type != REDIS_REPLY_ARRAY || (int)m->elements != n) {
        fprintf(stderr, "MGET failed: %s\n", m && m->str ? m->str : "?");
        diffs++;
    }
    for (int i = 0; i < n; i++) {
        const char *cache =
            m && m->type == REDIS_REPLY_ARRAY && i < (int)m->elements ? m->element[i]->str : NULL;
        int same_store = (!want[i] && !row[i]) || (want[i] && row[i] && !strcmp(want[i], row[i]));
        int same_cache = (!want[i] && !cache) || (want[i] && cache && !strcmp(want[i], cache));
        if (!same_store || !same_cache) {
            if (diffs < 5)
                fprintf(stderr, "%s%d: want %s, store %s, cache %s\n", prefix, i,
                        want[i] ? want[i] : "(absent)", row[i] ? row[i] : "(absent)",
                        cache ? cache : "(absent)");
            diffs++;
        }
        free(row[i]);
    }
    if (m) freeReplyObject(m);
    if (r) freeReplyObject(r);
    free(row);
    return diffs;
}

static char **want_vals(int n, const char *tag) {
    char **w = calloc((size_t)n, sizeof(char *));
    for (int i = 0; tag && i < n; i++) {
        char b[64];
        snprintf(b, sizeof(b), "%s-%d", tag, i);
        w[i] = strdup(b);
    }
    return w;
}

static void want_free(char **w, int n) {
    for (int i = 0; i < n; i++) free(w[i]);
    free(w);
}

#define CHECK_N(c, table, prefix, n, tag)                                                          \
    do {                                                                                           \
        char **w_ = want_vals(n, tag);                                                             \
        CHECK_EQ(check_n(c, table, prefix, n, w_), 0);                                             \
        want_free(w_, n);                                                                          \
    } while (0)

/* One command each: MSET, MSETNX, DEL, UNLINK. */
static void plain_commands(redisContext *c, const char *table, const char *prefix) {
    int n = nkeys();
    char want[32];
    argvb a = {0};
    ab_add(&a, "MSET");
    ab_keys(&a, prefix, n, "a");
    char *s = ab_str(c, &a);
    CHECK_STR(s, "+OK");
    free(s);
    ab_free(&a);
    CHECK_N(c, table, prefix, n, "a");

    ab_add(&a, "DEL");
    ab_keys(&a, prefix, n, NULL);
    snprintf(want, sizeof(want), ":%d", n);
    s = ab_str(c, &a);
    CHECK_STR(s, want);
    free(s);
    ab_free(&a);
    CHECK_N(c, table, prefix, n, NULL);

    ab_add(&a, "MSETNX");
    ab_keys(&a, prefix, n, "b");
    s = ab_str(c, &a);
    CHECK_STR(s, ":1");
    free(s);
    ab_free(&a);
    CHECK_N(c, table, prefix, n, "b");

    ab_add(&a, "UNLINK");
    ab_keys(&a, prefix, n, NULL);
    s = ab_str(c, &a);
    CHECK_STR(s, want);
    free(s);
    ab_free(&a);
    CHECK_N(c, table, prefix, n, NULL);
}

/* A script that sets every KEYS[i] to ARGV[i], then one that deletes them. */
static void script(redisContext *c, const char *table, const char *prefix) {
    int n = nkeys();
    char num[32];
    snprintf(num, sizeof(num), "%d", n);
    argvb a = {0};
    ab_add(&a, "EVAL");
    ab_add(&a, "for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i]) end return #KEYS");
    ab_add(&a, num);
    ab_keys(&a, prefix, n, NULL);
    char b[64];
    for (int i = 0; i < n; i++) {
        snprintf(b, sizeof(b), "e-%d", i);
        ab_add(&a, b);
    }
    char want[32];
    snprintf(want, sizeof(want), ":%d", n);
    char *s = ab_str(c, &a);
    CHECK_STR(s, want);
    free(s);
    ab_free(&a);
    CHECK_N(c, table, prefix, n, "e");

    ab_add(&a, "EVAL");
    ab_add(&a, "local n = 0 for _, k in ipairs(KEYS) do n = n + redis.call('DEL', k) end return n");
    ab_add(&a, num);
    ab_keys(&a, prefix, n, NULL);
    s = ab_str(c, &a);
    CHECK_STR(s, want);
    free(s);
    ab_free(&a);
    CHECK_N(c, table, prefix, n, NULL);
}

/* MULTI: one SET per key (n queued commands), EXEC; then MULTI, one DEL of all. */
static void multi(redisContext *c, const char *table, const char *prefix) {
    int n = nkeys();
    CHECK_CMD(c, "+OK", "MULTI");
    for (int i = 0; i < n; i++) pk_send(c, "SET %s%d m-%d", prefix, i, i);
    int queued = 0;
    for (int i = 0; i < n; i++) {
        char *s = pk_recv_str(c);
        queued += !strcmp(s, "+QUEUED");
        free(s);
    }
    CHECK_EQ(queued, n);
    redisReply *r = redisCommand(c, "EXEC");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == n);
    if (r) freeReplyObject(r);
    CHECK_N(c, table, prefix, n, "m");

    CHECK_CMD(c, "+OK", "MULTI");
    argvb a = {0};
    ab_add(&a, "DEL");
    ab_keys(&a, prefix, n, NULL);
    char *s = ab_str(c, &a);
    CHECK_STR(s, "+QUEUED");
    free(s);
    ab_free(&a);
    char want[32];
    snprintf(want, sizeof(want), "[:%d]", n);
    CHECK_CMD(c, want, "EXEC");
    CHECK_N(c, table, prefix, n, NULL);
}

TEST(wt_many_keys) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    plain_commands(c, "wt", "wt:");
    script(c, "wt", "wt:");
    multi(c, "wt", "wt:");
    redisFree(c);
    pk_cleanup(&e);
}

TEST(wb_many_keys) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    plain_commands(c, "wb", "wb:");
    script(c, "wb", "wb:");
    multi(c, "wb", "wb:");
    redisFree(c);
    pk_cleanup(&e);
}

/* Read-through: one MGET misses every key; each is loaded, the reply has
 * every row, and the cache then holds exactly the store's rows. */
TEST(rt_many_keys) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    int n = nkeys();
    /* rows for the even keys only: the odd ones are misses in the store too */
    for (int at = 0; at < n; at += 1000) {
        char *sql = malloc(64 * 1000 + 64);
        size_t len = (size_t)sprintf(sql, "INSERT INTO rt VALUES ");
        for (int i = at; i < at + 1000 && i < n; i += 2)
            len += (size_t)sprintf(sql + len, "%s('%d', 'r-%d')", i == at ? "" : ", ", i, i);
        pk_exec(c, sql);
        free(sql);
    }
    argvb a = {0};
    ab_add(&a, "MGET");
    ab_keys(&a, "rt:", n, NULL);
    redisReply *r = ab_run(c, &a);
    ab_free(&a);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && (int)r->elements == n);
    int good = 0;
    for (int i = 0; r && r->type == REDIS_REPLY_ARRAY && i < (int)r->elements; i++) {
        char b[32];
        snprintf(b, sizeof(b), "r-%d", i);
        good += i % 2 ? r->element[i]->type == REDIS_REPLY_NIL
                      : r->element[i]->str && !strcmp(r->element[i]->str, b);
    }
    CHECK_EQ(good, n);
    if (r) freeReplyObject(r);
    CHECK_EQ(pk_info(c, "loads"), n);
    char **w = want_vals(n, "r");
    for (int i = 1; i < n; i += 2) {
        free(w[i]);
        w[i] = NULL;
    }
    CHECK_EQ(check_n(c, "rt", "rt:", n, w), 0);
    want_free(w, n);
    CHECK_EQ(pk_info(c, "loads"), n); /* the check's MGET hit the cache */
    redisFree(c);
    pk_cleanup(&e);
}

/* A command waiting for several loads gets the error of one that fails,
 * once, and its connection goes on. */
TEST(rt_one_load_fails) {
    pk_env e;
    redisContext *c = start(&e);
    if (!c) return;
    pk_exec(c, "INSERT INTO rt VALUES ('1', 'one'), ('2', 'two'), ('3', 'three')");
    CHECK_CMD(c, "+OK", "DEBUG STORE-FAIL 1");
    char *s = cmd_str(c, "MGET rt:1 rt:2 rt:3");
    CHECK(!strncmp(s, "-BACKEND", 8));
    free(s);
    CHECK_CMD(c, "+PONG", "PING");
    CHECK_CMD(c, "[one,two,three]", "MGET rt:1 rt:2 rt:3");
    redisFree(c);
    pk_cleanup(&e);
}

int main(void) {
    RUN(wt_many_keys);
    RUN(wb_many_keys);
    RUN(rt_many_keys);
    RUN(rt_one_load_fails);
    return test_report();
}
