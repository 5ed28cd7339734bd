/* tests/integration/rulekit — see rulekit.h. */
#include "rulekit.h"
#include "persist/store_api.h"
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rk_maps[] = {
    "users user:{id} mode write-behind ttl 3600",
    "products product:{sku} mode read-through ttl 600",
    "enrollments enrollment:{student_id}:{course_id} mode write-behind ttl 3600",
    "pairs pair:{b}/{a} mode read-through ttl 600",
    "grades grade:{course}:{term} mode write-through ttl 600",
    "members member:{id} mode write-behind ttl 3600",
};
const char *const rk_tables[] = {"users", "products", "enrollments", "pairs", "grades", "members"};

static int is_pg(const rk_store *st) {
    return !strcmp(st->name, "pgstore");
}

/* CHECKs that the reply to a command is an error starting with prefix. */
#define CHECK_ERR_PREFIX(ctx, prefix, ...)                                                         \
    do {                                                                                           \
        char *got_ = cmd_str(ctx, __VA_ARGS__);                                                    \
        int ok_ = got_ && !strncmp(got_, "-" prefix, strlen(prefix) + 1);                          \
        if (!ok_)                                                                                  \
            fprintf(stderr, "  expected -%s..., got %s\n", prefix, got_ ? got_ : "?");             \
        else                                                                                       \
            fprintf(stderr, "  (%s)\n", got_);                                                     \
        CHECK(ok_);                                                                                \
        free(got_);                                                                                \
    } while (0)

void rk_refused_before_reply(const rk_store *st) {
    redisContext *c = srv_connect(st->s);
    CHECK(c != NULL);
    if (!c) return;
    long long refused = pk_info(c, "wb_refused_before_reply"), dl = pk_info(c, "wb_deadletter");
    long long dropped = pk_info(c, "wb_refused_dropped");
    CHECK_CMD(c, ":2", "HSET user:1 email a@x plan pro");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "HSET user:1 plan bogus"); /* CHECK */
    CHECK_CMD(c, "pro", "HGET user:1 plan");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "HSET user:2 plan free"); /* NOT NULL */
    CHECK_CMD(c, ":0", "EXISTS user:2");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "HSET user:abc email b@x"); /* type */
    CHECK_CMD(c, ":0", "EXISTS user:abc");
    /* a transaction is one write: refused whole, none of it stays */
    CHECK_CMD(c, "+OK", "MULTI");
    CHECK_CMD(c, "+QUEUED", "HSET user:1 email new@x");
    CHECK_CMD(c, "+QUEUED", "HSET user:1 plan bogus");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "EXEC");
    CHECK_CMD(c, "[email,a@x,plan,pro]", "HGETALL user:1");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[a@x,pro]]", "SQL.QUERY %s", "SELECT email, plan FROM users WHERE id = 1");
    CHECK_CMD(c, "[[:1]]", "SQL.QUERY %s", "SELECT count(*) FROM users");
    CHECK_EQ(pk_info(c, "wb_refused_before_reply"), refused + 4);
    CHECK_EQ(pk_info(c, "wb_deadletter"), dl);
    /* without the check the same write is refused when written: dead
     * letter, and the entry dropped (the next read loads the row) */
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-check no");
    CHECK_CMD(c, ":0", "HSET user:1 plan bogus");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_deadletter"), dl + 1);
    CHECK_EQ(pk_info(c, "wb_refused_dropped"), dropped + 1);
    CHECK_CMD(c, "pro", "HGET user:1 plan");
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-check yes");
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "email,plan");
    redisFree(c);
}

/* The server judges members' rows: counted as local checks, none sent. */
#define CHECK_LOCAL(c, local, sent)                                                                \
    do {                                                                                           \
        CHECK_EQ(pk_info(c, "wb_check_local"), (local));                                           \
        CHECK_EQ(pk_info(c, "wb_check_store"), (sent));                                            \
    } while (0)

void rk_refused_locally(const rk_store *st) {
    redisContext *c = srv_connect(st->s), *f = srv_connect(st->s);
    CHECK(c && f);
    if (!c || !f) return;
    int pg = is_pg(st);
    long long local = pk_info(c, "wb_check_local"), sent = pk_info(c, "wb_check_store");
    long long refused = pk_info(c, "wb_refused_before_reply");
    CHECK_CMD(c, ":2", "HSET member:1 email a@x age 30");
    CHECK_LOCAL(c, local + 1, sent);
    /* the keys' misses are loaded first (no row: a negative entry each) */
    CHECK_CMD(c, "(nil)", "HGET member:2 email");
    CHECK_CMD(c, "(nil)", "HGET member:abc email");
    CHECK_CMD(c, "(nil)", "HGET member:3 email");
    /* the store thread is held by a batch for 1 s (member:1 dirty again: the
     * flusher's timer may have written it meanwhile) */
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 1000");
    CHECK_CMD(c, ":0", "HSET member:1 age 29");
    local = pk_info(c, "wb_check_local");
    pk_send(f, "WB.FLUSH");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 3000) >= 1);
    double t0 = pk_now_ms();
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: NOT NULL constraint failed: members.email",
                     "HSET member:2 age 5");
    CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: invalid input for members.id",
                     "HSET member:abc email b@x");
    CHECK_CMD(c, ":0", "HSET member:1 age 31");
    CHECK_CMD(c, ":1", "HSET member:3 email c@x"); /* joined: its DEFAULT */
    int n = 4;
    if (pg) {
        CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: invalid input for members.age",
                         "HSET member:1 age abc");
        CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: value out of range for members.age",
                         "HSET member:1 age 3000000000");
        CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: value too long for members.code",
                         "HSET member:1 code abcde");
        CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: invalid input for members.active",
                         "HSET member:1 active maybe");
        CHECK_CMD(c, ":2", "HSET member:1 code %s active t", "abcd  "); /* blanks past 4: cut */
        CHECK_CMD(c, ":0", "HSET member:1 code abcd");
        n += 6;
    }
    double took = pk_now_ms() - t0;
    fprintf(stderr, "  (%d writes judged in %.0f ms while the store thread was held)\n", n, took);
    CHECK(took < 500);
    CHECK_EQ(pk_info(c, "blocked_clients"), 1); /* the batch is still held */
    CHECK_LOCAL(c, local + n, sent);
    CHECK_EQ(pk_info(c, "wb_refused_before_reply"), refused + (pg ? 6 : 2));
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_CMD(c, ":0", "EXISTS member:2");
    CHECK_CMD(c, ":0", "EXISTS member:abc");
    CHECK_CMD(c, "31", "HGET member:1 age");
    /* a schema change made through SQL.EXEC: the store judges the table's
     * rows until its description is read again */
    if (pg) {
        pk_exec(c, "ALTER TABLE members ADD CONSTRAINT members_age CHECK (age >= 0)");
        CHECK_ERR_PREFIX(c, "BACKEND write-behind refused: new row for relation \"members\"",
                         "HSET member:1 age -1");
        CHECK_LOCAL(c, local + n, sent + 1);
        pk_exec(c, "ALTER TABLE members DROP CONSTRAINT members_age");
    } else {
        pk_exec(c, "CREATE TRIGGER members_t AFTER INSERT ON members BEGIN SELECT 1; END");
        CHECK_CMD(c, ":0", "HSET member:1 age 32");
        CHECK_LOCAL(c, local + n, sent + 1);
        pk_exec(c, "DROP TRIGGER members_t");
    }
    /* read again (within a cron tick or two): judged here once more */
    long long before = pk_info(c, "wb_check_local");
    double end = pk_now_ms() + 3000;
    for (int age = 40; pk_info(c, "wb_check_local") == before && pk_now_ms() < end; age++) {
        char *x = cmd_str(c, "HSET member:1 age %d", age);
        free(x);
        pk_sleep_ms(20); /* pacing: the description comes back on the store thread */
    }
    CHECK(pk_info(c, "wb_check_local") > before);
    PK_CHECK_MAP(c, "members", "member:", "id", NULL, "email,age,code,active");
    redisFree(f);
    redisFree(c);
}

void rk_refused_later(const rk_store *st) {
    redisContext *c = srv_connect(st->s), *f = srv_connect(st->s);
    CHECK(c && f);
    if (!c || !f) return;
    long long dl = pk_info(c, "wb_deadletter"), dropped = pk_info(c, "wb_refused_dropped");
    CHECK_CMD(c, ":2", "HSET user:10 email u10@x plan free");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    /* UNIQUE depends on other rows: accepted, refused when written */
    CHECK_CMD(c, ":1", "HSET user:11 email u10@x");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_deadletter"), dl + 1);
    CHECK_EQ(pk_info(c, "wb_refused_dropped"), dropped + 1);
    CHECK_CMD(c, ":0", "EXISTS user:11");
    CHECK_CMD(c, "[[users,user:11]]", "SQL.QUERY %s", "SELECT map, key FROM wb_deadletter");
    /* a newer write while the refused state's batch is in flight stays */
    CHECK_CMD(c, ":1", "HSET user:12 email u10@x");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 300");
    pk_send(f, "WB.FLUSH");
    CHECK(pk_wait_info_ge(c, "blocked_clients", 1, 3000) >= 1);
    CHECK_CMD(c, ":0", "HSET user:12 email u12@x");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    char *r = pk_recv_str(f);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_refused_dropped"), dropped + 1);
    CHECK_CMD(c, "u12@x", "HGET user:12 email");
    CHECK_CMD(c, "[[u12@x]]", "SQL.QUERY %s", "SELECT email FROM users WHERE id = 12");
    CHECK_EQ(pk_info(c, "wb_deadletter"), dl + 2); /* the refused state once, not again */
    r = cmd_str(c, "WB.DEADLETTER DROP ALL");
    free(r);
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "email,plan");
    redisFree(f);
    redisFree(c);
}

/* Reads product:p1 until pred(reply) holds or timeout_ms passes (a reply
 * is either the stale value or the store's error); returns the last reply. */
static char *read_until(redisContext *c, const char *want_prefix, int timeout_ms) {
    double end = pk_now_ms() + timeout_ms;
    char *r = NULL;
    for (;;) {
        free(r);
        r = cmd_str(c, "HGET product:p1 name");
        if (r && !strncmp(r, want_prefix, strlen(want_prefix))) return r;
        if (!r || (strcmp(r, "kettle") != 0 && strncmp(r, "-BACKEND", 8) != 0)) return r;
        if (pk_now_ms() > end) return r;
        pk_sleep_ms(20); /* pacing the reads */
    }
}

void rk_stale_if_error(const rk_store *st) {
    redisContext *c = srv_connect(st->s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "CONFIG SET stale-if-error 1");
    CHECK_CMD(c, "kettle", "HGET product:p1 name");
    /* expired while the store answers: loaded again, nothing served stale */
    long long hits = pk_info(c, "stale_if_error_hits"), loads = pk_info(c, "loads");
    CHECK_CMD(c, ":1", "PEXPIRE product:p1 30");
    char *r = NULL;
    double end = pk_now_ms() + 3000;
    while (pk_info(c, "loads") == loads && pk_now_ms() < end) {
        free(r);
        r = cmd_str(c, "HGET product:p1 name");
        CHECK_STR(r, "kettle");
        pk_sleep_ms(10);
    }
    free(r);
    CHECK(pk_info(c, "loads") > loads);
    CHECK_EQ(pk_info(c, "stale_if_error_hits"), hits);
    /* expired while the store is unreachable: served stale, counted */
    CHECK_EQ(st->unreachable(c), 0);
    CHECK_CMD(c, ":1", "PEXPIRE product:p1 30");
    end = pk_now_ms() + 3000;
    r = NULL;
    while (pk_info(c, "stale_if_error_hits") == hits && pk_now_ms() < end) {
        free(r);
        r = cmd_str(c, "HGET product:p1 name");
        CHECK_STR(r, "kettle");
        pk_sleep_ms(10);
    }
    free(r);
    CHECK(pk_info(c, "stale_if_error_hits") > hits);
    CHECK_CMD(c, "kettle", "HGET product:p1 name"); /* each read tries the store, then serves */
    r = cmd_str(c, "TTL product:p1");
    CHECK(r && (!strcmp(r, ":0") || !strcmp(r, ":1"))); /* until the window's end */
    free(r);
    /* the window ends (1 s past expiry): the store's error again */
    r = read_until(c, "-BACKEND", 4000);
    CHECK(r && !strncmp(r, "-BACKEND load failed", 20));
    fprintf(stderr, "  (after the window: %s)\n", r ? r : "?");
    free(r);
    /* reachable again: loaded fresh, no stale read any more */
    CHECK_EQ(st->reachable(c), 0);
    r = read_until(c, "kettle", 10000);
    CHECK_STR(r, "kettle");
    free(r);
    hits = pk_info(c, "stale_if_error_hits");
    CHECK_CMD(c, "kettle", "HGET product:p1 name");
    CHECK_EQ(pk_info(c, "stale_if_error_hits"), hits);
    /* FLUSHDB drops the kept copies with the cache: one kept by the active
     * expiry (nobody read the key) is not served after it */
    CHECK_CMD(c, "+OK", "CONFIG SET stale-if-error 5");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(st->unreachable(c), 0);
    redisReply *d = pk_cmd(c, "DBSIZE");
    long long before = d && d->type == REDIS_REPLY_INTEGER ? d->integer : -1;
    if (d) freeReplyObject(d);
    CHECK_CMD(c, ":1", "PEXPIRE product:p1 1");
    long long now = before;
    end = pk_now_ms() + 5000;
    while (now == before && pk_now_ms() < end) {
        pk_sleep_ms(20); /* the active expiry cycle runs from the cron */
        d = pk_cmd(c, "DBSIZE");
        now = d && d->type == REDIS_REPLY_INTEGER ? d->integer : -1;
        if (d) freeReplyObject(d);
    }
    CHECK_EQ(now, before - 1);
    CHECK_CMD(c, "+OK", "FLUSHDB");
    r = cmd_str(c, "HGET product:p1 name");
    CHECK(r && !strncmp(r, "-BACKEND load failed", 20));
    free(r);
    CHECK_EQ(st->reachable(c), 0);
    r = read_until(c, "kettle", 10000);
    CHECK_STR(r, "kettle");
    free(r);
    /* off (0): an expired entry is an error at once */
    CHECK_CMD(c, "+OK", "CONFIG SET stale-if-error 0");
    CHECK_CMD(c, ":1", "PEXPIRE product:p1 1");
    pk_sleep_ms(5); /* past the 1 ms expiry */
    CHECK_EQ(st->unreachable(c), 0);
    r = cmd_str(c, "HGET product:p1 name");
    CHECK(r && !strncmp(r, "-BACKEND load failed", 20));
    free(r);
    CHECK_EQ(st->reachable(c), 0);
    r = read_until(c, "kettle", 10000);
    CHECK_STR(r, "kettle");
    free(r);
    redisFree(c);
}

static void composite_write_behind(const rk_store *st, redisContext *c) {
    CHECK_CMD(c, ":1", "HSET enrollment:7:math grade A");
    CHECK_CMD(c, ":1", "HSET enrollment:7:a:b grade B"); /* the last value holds ':' */
    CHECK_CMD(c, ":1", "HSET enrollment:9:x grade C");
    /* no second value: not a key of the map, a plain cache key */
    CHECK_CMD(c, ":1", "HSET enrollment:8 grade D");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[:7,a:b,B],[:7,math,A],[:9,x,C]]", "SQL.QUERY %s",
              "SELECT student_id, course_id, grade FROM enrollments ORDER BY student_id, "
              "course_id");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT * FROM enrollments WHERE student_id = 8");
    CHECK_CMD(c, "[grade,D]", "HGETALL enrollment:8");
    /* an integer key column given text */
    if (is_pg(st)) { /* PostgreSQL's integer refuses it */
        CHECK_ERR_PREFIX(c, "BACKEND write-behind refused", "HSET enrollment:x:math grade A");
    } else { /* the bundled engine's column affinity keeps it as text */
        CHECK_CMD(c, ":1", "HSET enrollment:x:math grade A");
        CHECK_CMD(c, ":1", "DEL enrollment:x:math");
    }
    /* delete by the composite key */
    CHECK_CMD(c, ":1", "DEL enrollment:9:x");
    CHECK_CMD(c, ":0", "HSET enrollment:7:math grade A+");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[:7,a:b,B],[:7,math,A+]]", "SQL.QUERY %s",
              "SELECT student_id, course_id, grade FROM enrollments ORDER BY student_id, "
              "course_id");
    CHECK_CMD(c, "[grade,A+]", "HGETALL enrollment:7:math");
    CHECK_CMD(c, "[grade,B]", "HGETALL enrollment:7:a:b");
    CHECK_CMD(c, ":0", "EXISTS enrollment:9:x");
    /* reads load by both columns */
    pk_exec(c, "INSERT INTO enrollments VALUES (10, 'art', 'E')");
    CHECK_CMD(c, "E", "HGET enrollment:10:art grade");
    CHECK_CMD(c, "(nil)", "HGET enrollment:10:music grade");
}

static void composite_read_through(redisContext *c) {
    /* pair:{b}/{a}: placeholders in another order than the key's columns */
    pk_exec(c, "INSERT INTO pairs VALUES ('x', 5, 'v1')");
    CHECK_CMD(c, "v1", "HGET pair:5/x v");
    CHECK_CMD(c, "(nil)", "HGET pair:5/nope v");
    CHECK_CMD(c, "(nil)", "HGET pair:abc/x v"); /* no integer: no row */
    long long inv = pk_info(c, "invalidations");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE pairs SET v = 'v2' WHERE a = 'x'");
    CHECK_EQ(pk_info(c, "invalidations"), inv + 1); /* the composite key back to pair:5/x */
    CHECK_CMD(c, "v2", "HGET pair:5/x v");
    pk_exec(c, "INSERT INTO pairs VALUES ('x/y', 6, 'w')");
    CHECK_CMD(c, "w", "HGET pair:6/x/y v"); /* the last value may hold the separator */
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "DELETE FROM pairs WHERE b = 6");
    CHECK_EQ(pk_info(c, "invalidations"), inv + 2);
    CHECK_CMD(c, "(nil)", "HGET pair:6/x/y v");
}

static void composite_write_through(redisContext *c) {
    CHECK_CMD(c, ":1", "HSET grade:db:2024 score 90");
    CHECK_CMD(c, "[[db,:2024,:90]]", "SQL.QUERY %s", "SELECT course, term, score FROM grades");
    CHECK_CMD(c, ":0", "HSET grade:db:2024 score 91");
    CHECK_CMD(c, "[[:91]]", "SQL.QUERY %s",
              "SELECT score FROM grades WHERE course = 'db' AND term = 2024");
    /* a row whose first value holds the separator has no key: grade:x:y:1
     * reads course 'x', term 'y:1' (left to right), which is no row */
    pk_exec(c, "INSERT INTO grades VALUES ('x:y', 1, 5)");
    CHECK_CMD(c, "(nil)", "HGET grade:x:y:1 score");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE grades SET score = 6 WHERE course = 'x:y'");
    CHECK_CMD(c, ":1", "DEL grade:db:2024");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT * FROM grades WHERE course = 'db'");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "DELETE FROM grades");
}

static void composite_bad_maps(redisContext *c) {
    static const char *bad[][2] = {
        {"grades grade:{course} mode read-through", "must be the table's whole primary key"},
        {"grades grade:{course}{term} mode read-through",
         "placeholders need literal text between them"},
        {"grades grade:{course}:{score} mode read-through", "is not in the table's primary key"},
        {"grades grade:{course}:{course} mode read-through", "names a column twice"},
        {"grades grade:{course}:{term}:{nope} mode read-through",
         "table grades has no column 'nope'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReply *r = pk_cmd(c, "CONFIG SET map %s", bad[i][0]);
        int ok = r && r->type == REDIS_REPLY_ERROR && strstr(r->str, bad[i][1]);
        if (!ok)
            fprintf(stderr, "CONFIG SET map %s -> %s\n", bad[i][0], r && r->str ? r->str : "?");
        CHECK(ok);
        if (r) freeReplyObject(r);
    }
    redisReply *r = pk_cmd(c, "CONFIG GET map");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          strstr(r->element[1]->str, "enrollment:{student_id}:{course_id}"));
    if (r) freeReplyObject(r);
}

void rk_composite(const rk_store *st) {
    redisContext *c = srv_connect(st->s);
    CHECK(c != NULL);
    if (!c) return;
    composite_write_behind(st, c);
    composite_read_through(c);
    composite_write_through(c);
    composite_bad_maps(c);
    redisFree(c);
}

/* ---- the module's check, called directly ------------------------------------------------ */

static void int_row(void *ctx, int n, const store_value *v) {
    if (n > 0 && v[0].type == SV_INT) *(long long *)ctx = v[0].i;
    if (n > 0 && v[0].type == SV_TEXT) *(long long *)ctx = atoll(v[0].p);
}

static long long query_int(const store_module *m, void *h, const char *sql) {
    long long v = -1;
    store_sink sink = {&v, NULL, int_row};
    int64_t aff;
    char *err = NULL;
    if (m->query(h, sql, 0, NULL, 0, &sink, NULL, NULL, &aff, &err) != STORE_OK)
        fprintf(stderr, "  %s: %s\n", sql, err ? err : "?");
    m->free_error(err);
    return v;
}

static store_value text(const char *s) {
    return (store_value){SV_TEXT, 0, 0, s, strlen(s)};
}

void rk_module_check(const store_module *m, void *h) {
    CHECK(m->check != NULL);
    if (!m->check) return;
    CHECK_EQ(query_int(m, h, "DELETE FROM users WHERE id >= 100"), -1);
    CHECK_EQ(query_int(m, h, "INSERT INTO users (id, email, plan) VALUES (100, 'm@x', 'free')"),
             -1);
    static const char *keycol[] = {"id"};
    static const char *cols2[] = {"email", "plan"}, *plan[] = {"plan"}, *email[] = {"email"};
    store_value k[7] = {text("101"), text("102"), text("103"), text("104"),
                        text("abc"), text("100"), text("100")};
    store_value v0[] = {text("n@x"), text("free")}, v1[] = {text("o@x"), text("bogus")};
    store_value v2[] = {text("free")}, v3[] = {text("m@x")}, v4[] = {text("p@x")};
    store_value v6[] = {text("pro")};
    store_op ops[7];
    memset(ops, 0, sizeof(ops));
    struct {
        int kind, ncols;
        const char **cols;
        store_value *vals;
        int want; /* STORE_OK or STORE_ERR_PERMANENT */
    } rows[7] = {
        {STORE_UPSERT, 2, cols2, v0, STORE_OK},            /* fine */
        {STORE_UPSERT, 2, cols2, v1, STORE_ERR_PERMANENT}, /* CHECK */
        {STORE_UPSERT, 1, plan, v2, STORE_ERR_PERMANENT},  /* NOT NULL (a new row) */
        {STORE_UPSERT, 1, email, v3, STORE_OK},            /* UNIQUE: other rows */
        {STORE_UPSERT, 1, email, v4, STORE_ERR_PERMANENT}, /* type */
        {STORE_DELETE, 0, NULL, NULL, STORE_OK},           /* a delete */
        {STORE_UPSERT, 1, plan, v6, STORE_OK},             /* an existing row keeps its email */
    };
    /* ... with the bundled store. PostgreSQL checks NOT NULL on the row an
     * INSERT ... ON CONFLICT proposes before it finds the conflict: that
     * upsert is refused when written too, so the check says so. */
    if (!strcmp(m->name, "pgstore")) rows[6].want = STORE_ERR_PERMANENT;
    for (int i = 0; i < 7; i++) {
        ops[i] = (store_op){.kind = rows[i].kind,
                            .table = "users",
                            .nkey = 1,
                            .keycols = keycol,
                            .keyvals = &k[i],
                            .ncols = rows[i].ncols,
                            .cols = rows[i].cols,
                            .vals = rows[i].vals};
    }
    char *err = NULL;
    CHECK_EQ(m->check(h, ops, 7, &err), STORE_OK);
    m->free_error(err);
    for (int i = 0; i < 7; i++) {
        if (ops[i].status != rows[i].want)
            fprintf(stderr, "  row %d: status %d, want %d (%s)\n", i, ops[i].status, rows[i].want,
                    ops[i].error ? ops[i].error : "");
        CHECK_EQ(ops[i].status, rows[i].want);
        CHECK((ops[i].error != NULL) == (rows[i].want != STORE_OK));
        m->free_error(ops[i].error);
    }
    /* nothing was committed */
    CHECK_EQ(query_int(m, h, "SELECT count(*) FROM users WHERE id >= 100"), 1);
    CHECK_EQ(query_int(m, h, "SELECT count(*) FROM users WHERE id = 100 AND plan = 'free'"), 1);
    /* every row fine: the fast path alone */
    store_op fine[2] = {ops[0], ops[5]};
    err = NULL;
    CHECK_EQ(m->check(h, fine, 2, &err), STORE_OK);
    m->free_error(err);
    CHECK(fine[0].status == STORE_OK && fine[1].status == STORE_OK);
    CHECK_EQ(query_int(m, h, "SELECT count(*) FROM users WHERE id >= 100"), 1);
    CHECK_EQ(query_int(m, h, "DELETE FROM users WHERE id >= 100"), -1);
}

/* ---- describe ------------------------------------------------------------------ */

static const store_column *find_col(const store_column *cols, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(cols[i].name, name)) return &cols[i];
    return NULL;
}

void rk_module_describe(const store_module *m, void *h) {
    int pg = !strcmp(m->name, "pgstore");
    store_column *cols = NULL;
    int n = 0;
    char *err = NULL;
    CHECK_EQ(m->describe(h, "members", &cols, &n, &err), STORE_OK);
    m->free_error(err);
    const store_column *id = find_col(cols, n, "id"), *email = find_col(cols, n, "email");
    const store_column *age = find_col(cols, n, "age"), *code = find_col(cols, n, "code");
    const store_column *active = find_col(cols, n, "active"), *joined = find_col(cols, n, "joined");
    CHECK(id && email && age && code && active && joined);
    if (id && email && age && code && active && joined) {
        CHECK_EQ(id->check, STORE_CHECK_INT);
        CHECK_EQ(id->check_arg, pg ? 4 : 8);
        CHECK_EQ(email->check, pg ? STORE_CHECK_TEXT : STORE_CHECK_ANY);
        CHECK(email->notnull && !email->dflt);
        CHECK_EQ(email->notnull_kept, pg ? 0 : 1);
        CHECK_EQ(age->check, pg ? STORE_CHECK_INT : STORE_CHECK_ANY);
        CHECK_EQ(code->check, pg ? STORE_CHECK_TEXT : STORE_CHECK_ANY);
        if (pg) CHECK_EQ(code->check_arg, 4);
        CHECK_EQ(active->check, pg ? STORE_CHECK_BOOL : STORE_CHECK_VALUE);
        CHECK(joined->notnull && joined->dflt);
    }
    m->free_columns(cols, n);
    /* a CHECK constraint: the store judges every row */
    CHECK_EQ(m->describe(h, "users", &cols, &n, &err), STORE_OK);
    m->free_error(err);
    int row = n > 0;
    for (int i = 0; i < n; i++) row &= cols[i].check == STORE_CHECK_ROW;
    CHECK(row);
    m->free_columns(cols, n);
}
