/* Fencing tokens across restarts: with a store loaded, LOCK.ACQUIRE's
 * tokens keep strictly increasing after SIGTERM and after SIGKILL, even when
 * the tokens ran far ahead of the wall clock the counter starts from (DEBUG
 * LOCK-TOKEN puts them there, so only the store's ceiling can explain a larger
 * token after the restart). Also: the ceiling moves up in the background as
 * tokens approach it and synchronously when a token passes it, and without a
 * store the counter restarts from the clock (what the store-backed tests rule
 * out). */
#include "pkit.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define RESERVE (1ULL << 20) /* persist/locktokens.c */
#define CEILING_SQL "SELECT value FROM wb_meta WHERE name = 'lock_token_ceiling'"

static unsigned long long now_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
}

static unsigned long long ll_cmd(redisContext *c, const char *fmt, const char *a, const char *b) {
    redisReply *r = pk_cmd(c, fmt, a, b);
    unsigned long long v = 0;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = (unsigned long long)r->integer;
    else
        printf("unexpected reply to %s: %s\n", fmt, r ? reply_str(r) : "(lost)");
    if (r) freeReplyObject(r);
    return v;
}

static unsigned long long acquire(redisContext *c, const char *name) {
    return ll_cmd(c, "LOCK.ACQUIRE %s %s", name, "60000");
}

static unsigned long long ceiling(redisContext *c) {
    redisReply *r = pk_cmd(c, "SQL.QUERY %s", CEILING_SQL);
    unsigned long long v = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 1 &&
        r->element[0]->element[0]->type == REDIS_REPLY_INTEGER)
        v = (unsigned long long)r->element[0]->element[0]->integer;
    if (r) freeReplyObject(r);
    return v;
}

static void raise_to(redisContext *c, unsigned long long t) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", t);
    CHECK(ll_cmd(c, "DEBUG LOCK-TOKEN %s", buf, NULL) >= t);
}

static redisContext *start(pk_env *e) {
    if (pk_start(e, NULL) != 0) {
        CHECK(0);
        return NULL;
    }
    return srv_connect(&e->s);
}

/* Tokens far ahead of the clock; restart with SIGTERM (kill = 0) or SIGKILL. */
static void survive_restart(int kill) {
    pk_env e;
    memset(&e, 0, sizeof(e));
    redisContext *c = start(&e);
    if (!c) return;
    raise_to(c, now_us() + 1000000000000ULL); /* about 11.5 days ahead */
    unsigned long long last = 0;
    for (int i = 0; i < 20; i++) {
        unsigned long long a = acquire(c, i % 2 ? "orders" : "stock");
        CHECK(a > last);
        last = a;
        char tok[32];
        snprintf(tok, sizeof(tok), "%llu", a);
        CHECK_CMD(c, ":1", "LOCK.RELEASE %s %s", i % 2 ? "orders" : "stock", tok);
    }
    unsigned long long held = acquire(c, "stock"); /* held across the restart */
    CHECK(held > last);
    CHECK(ceiling(c) >= held);
    redisFree(c);
    if (kill)
        pk_kill(&e);
    else
        pk_stop(&e);
    c = start(&e);
    if (!c) {
        pk_cleanup(&e);
        return;
    }
    unsigned long long after = acquire(c, "stock");
    printf("%s: last token %llu, first after restart %llu\n", kill ? "SIGKILL" : "SIGTERM", held,
           after);
    CHECK(after > held);
    CHECK(acquire(c, "orders") > after);
    CHECK(ceiling(c) >= after);
    redisFree(c);
    pk_cleanup(&e);
}

TEST(tokens_survive_sigterm) {
    survive_restart(0);
}
TEST(tokens_survive_sigkill) {
    survive_restart(1);
}

/* Near the ceiling a background write moves it up; past the ceiling the token
 * waits for the write; either way a crash right after keeps order. */
TEST(ceiling_moves_up) {
    pk_env e;
    memset(&e, 0, sizeof(e));
    redisContext *c = start(&e);
    if (!c) return;
    unsigned long long c0 = ceiling(c);
    CHECK(c0 > now_us());
    raise_to(c, c0 - RESERVE / 4); /* inside the last half: background raise */
    unsigned long long t1 = acquire(c, "a");
    CHECK(t1 <= c0);
    unsigned long long c1 = 0;
    for (int i = 0; i < 200 && (c1 = ceiling(c)) <= c0; i++) pk_sleep_ms(5);
    CHECK(c1 >= t1 + RESERVE);
    raise_to(c, c1 + 1000); /* past it: the acquire waits for the store */
    unsigned long long t2 = acquire(c, "b");
    CHECK(t2 > c1);
    CHECK(ceiling(c) >= t2);
    redisFree(c);
    pk_kill(&e);
    c = start(&e);
    if (!c) {
        pk_cleanup(&e);
        return;
    }
    CHECK(acquire(c, "a") > t2);
    redisFree(c);
    pk_cleanup(&e);
}

/* A token past the stored ceiling waits for the ceiling's commit in its own
 * client's reply only: the loop serves everyone else meanwhile. */
TEST(token_past_ceiling_parks_its_client) {
    pk_env e;
    memset(&e, 0, sizeof(e));
    redisContext *c = start(&e);
    if (!c) return;
    redisContext *a = srv_connect(&e.s);
    unsigned long long c0 = ceiling(c);
    raise_to(c, c0 + 1000);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 500");
    pk_send(a, "LOCK.ACQUIRE %s %s", "x", "60000");
    /* the token is issued (the counter moved), the ceiling write is slow */
    unsigned long long last = 0;
    for (int i = 0; i < 1000 && (last = ll_cmd(c, "DEBUG LOCK-TOKEN %s", "0", NULL)) <= c0 + 1000;
         i++)
        pk_sleep_ms(1);
    CHECK(last == c0 + 1001);
    CHECK_CMD(c, "+PONG", "PING");
    struct pollfd p = {a->fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 100), 0);
    char *s = pk_recv_str(a);
    char want[32];
    snprintf(want, sizeof(want), ":%llu", c0 + 1001);
    CHECK_STR(s, want);
    free(s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK(ceiling(c) >= c0 + 1001);
    redisFree(a);
    redisFree(c);
    pk_cleanup(&e);
}

/* Without a store nothing is kept: after a restart the counter starts from
 * the clock again, below tokens that had run ahead of it. */
TEST(no_store_restarts_from_clock) {
    srv s;
    if (srv_start(&s, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&s);
    if (!c) {
        srv_stop(&s);
        return;
    }
    CHECK_CMD(c, "-ERR DEBUG LOCK-TOKEN <token>", "DEBUG LOCK-TOKEN");
    raise_to(c, now_us() + 1000000000000ULL);
    unsigned long long ahead = acquire(c, "x");
    redisFree(c);
    srv_stop(&s);
    if (srv_start(&s, NULL) != 0) {
        CHECK(0);
        return;
    }
    c = srv_connect(&s);
    if (c) {
        unsigned long long t = acquire(c, "x");
        CHECK(t > 0 && t < ahead);
        redisFree(c);
    }
    srv_stop(&s);
}

int main(void) {
    RUN(tokens_survive_sigterm);
    RUN(tokens_survive_sigkill);
    RUN(ceiling_moves_up);
    RUN(token_past_ceiling_parks_its_client);
    RUN(no_store_restarts_from_clock);
    return test_report();
}
