/* MONITOR, the latency monitor and the latency histograms, black-box.
 *
 * Differential part: one seeded script of commands (binary arguments,
 * scripts, functions, transactions with and without errors, AUTH and HELLO
 * whose secrets are redacted, admin commands that never show, a blocked
 * BLPOP, SELECT) runs against larder-server and Debian's redis-server, each
 * watched by a MONITOR client; the two transcripts, with the timestamp and
 * the client address taken out, must be equal line by line. The script ends
 * with ECHO of a marker, so the monitor reads up to it (no sleeps).
 *
 * Larder-only part: a monitor that never reads is disconnected by its
 * output-buffer limit while other clients are served; the latency monitor's
 * events (command from a slow script, store-load from a delayed read-through
 * load), LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR, LATENCY HISTOGRAM and
 * INFO latencystats with configured percentiles. */
#include "harness.h"
#include "pkit.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static srv L, R;
static int have_redis;

/* "+1700000000.123456 [0 127.0.0.1:5000] ..." -> "[0 addr] ...", keeping
 * "[0 lua]"; NULL when the reply is not a monitor line. */
static char *normalize(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_STATUS) return NULL;
    const char *sp = strchr(r->str, ' ');
    if (!sp) return NULL;
    const char *db = sp + 1, *addr = strchr(db, ' ');
    const char *close = strchr(db, ']');
    if (!addr || !close || addr > close) return NULL;
    char *out = malloc(strlen(r->str) + 16);
    int lua = strncmp(addr + 1, "lua]", 4) == 0;
    sprintf(out, "%.*s %s%s", (int)(addr - db), db, lua ? "lua]" : "addr]", close + 1);
    return out;
}

typedef struct script_step {
    int argc;
    const char *argv[8];
} script_step;

static void wait_blocked(redisContext *c) {
    for (int i = 0; i < 5000; i++) {
        redisReply *r = redisCommand(c, "CLIENT LIST");
        int blocked = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "flags=b ");
        freeReplyObject(r);
        if (blocked) return;
    }
    CHECK(!"BLPOP never blocked");
}

/* The transcript of one server: the monitor's lines up to ECHO marker. */
static int transcript(const srv *s, unsigned seed, char ***lines) {
    redisContext *m = srv_connect(s), *c = srv_connect(s), *b = srv_connect(s);
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    freeReplyObject(redisCommand(c, "FUNCTION FLUSH"));
    freeReplyObject(
        redisCommand(c, "FUNCTION LOAD %s",
                     "#!lua name=mlib\nredis.register_function('mset1', function(keys, args) "
                     "return redis.call('set', keys[1], args[1]) end)"));
    redisReply *ok = redisCommand(m, "MONITOR");
    CHECK(ok && ok->type == REDIS_REPLY_STATUS && !strcmp(ok->str, "OK"));
    freeReplyObject(ok);
    trng rng;
    trng_seed(&rng, seed);
    static const char *vals[] = {"plain",        "quo\"te",     "new\nline", "tab\there",
                                 "\x01\xff bin", "back\\slash", "",          "12345"};
    for (int i = 0; i < 60; i++) {
        const char *v = vals[trng_below(&rng, 8)];
        char key[32];
        snprintf(key, sizeof(key), "k%u", trng_below(&rng, 5));
        switch (trng_below(&rng, 10)) {
        case 0:
            freeReplyObject(redisCommand(c, "SET %s %s", key, v));
            break;
        case 1:
            freeReplyObject(redisCommand(c, "GET %s", key));
            break;
        case 2:
            freeReplyObject(redisCommand(c, "HSET h%s f %s", key, v));
            break;
        case 3:
            freeReplyObject(redisCommand(c, "EVAL %s 1 %s %s",
                                         "return redis.call('set',KEYS[1],ARGV[1])", key, v));
            break;
        case 4:
            freeReplyObject(redisCommand(c, "FCALL mset1 1 %s %s", key, v));
            break;
        case 5:
            freeReplyObject(redisCommand(c, "MULTI"));
            freeReplyObject(redisCommand(c, "INCR n"));
            freeReplyObject(redisCommand(c, "LPUSH l %s", v));
            freeReplyObject(redisCommand(c, "EXEC"));
            break;
        case 6:
            freeReplyObject(redisCommand(c, "MULTI"));
            freeReplyObject(redisCommand(c, "SYNTAXERROR x"));
            freeReplyObject(redisCommand(c, "EXEC"));
            break;
        case 7:
            freeReplyObject(redisCommand(c, "AUTH %s", "secret-pass"));
            freeReplyObject(redisCommand(c, "AUTH someone %s", "secret-pass"));
            freeReplyObject(redisCommand(c, "HELLO 2 AUTH someone %s", "secret-pass"));
            break;
        case 8:
            freeReplyObject(redisCommand(c, "CONFIG GET maxmemory")); /* admin: never shown */
            freeReplyObject(redisCommand(c, "SELECT 3"));
            freeReplyObject(redisCommand(c, "SET in3 %s", v));
            freeReplyObject(redisCommand(c, "SELECT 0"));
            break;
        default:
            /* a blocked command is shown once, when it is called */
            redisAppendCommand(b, "BLPOP bl 5");
            for (int done = 0; !done;) redisBufferWrite(b, &done);
            wait_blocked(c); /* CLIENT LIST is admin: never shown */
            freeReplyObject(redisCommand(c, "RPUSH bl %s", v));
            redisReply *r;
            if (redisGetReply(b, (void **)&r) == REDIS_OK) freeReplyObject(r);
        }
    }
    freeReplyObject(redisCommand(c, "ECHO end-of-script"));
    int n = 0, cap = 256;
    *lines = malloc(sizeof(char *) * (size_t)cap);
    for (;;) {
        redisReply *r;
        if (redisGetReply(m, (void **)&r) != REDIS_OK) break;
        char *line = normalize(r);
        int end = r->type == REDIS_REPLY_STATUS && strstr(r->str, "\"end-of-script\"");
        freeReplyObject(r);
        if (!line) continue;
        if (n == cap) *lines = realloc(*lines, sizeof(char *) * (size_t)(cap *= 2));
        (*lines)[n++] = line;
        if (end) break;
    }
    redisFree(m);
    redisFree(c);
    redisFree(b);
    return n;
}

TEST(monitor_matches_redis) {
    if (!have_redis) return;
    for (unsigned seed = 1; seed <= 3; seed++) {
        char **a, **b;
        int na = transcript(&L, seed, &a), nb = transcript(&R, seed, &b);
        CHECK(na > 60);
        CHECK_EQ(na, nb);
        int diffs = 0;
        for (int i = 0; i < na && i < nb && diffs < 5; i++)
            if (strcmp(a[i], b[i]) != 0) {
                fprintf(stderr, "seed %u line %d\n  larder: %s\n  redis:  %s\n", seed, i, a[i],
                        b[i]);
                diffs++;
            }
        CHECK_EQ(diffs, 0);
        for (int i = 0; i < na; i++) free(a[i]);
        for (int i = 0; i < nb; i++) free(b[i]);
        free(a);
        free(b);
    }
}

TEST(monitor_modes) {
    redisContext *m = srv_connect(&L), *c = srv_connect(&L);
    /* inside MULTI it cannot become a monitor (one reply per command) */
    freeReplyObject(redisCommand(c, "MULTI"));
    freeReplyObject(redisCommand(c, "MONITOR"));
    char *s = cmd_str(c, "EXEC");
    CHECK_STR(s, "[-ERR MONITOR isn't allowed for DENY BLOCKING client]");
    free(s);
    /* a second MONITOR gets no reply; RESET ends monitor mode */
    s = cmd_str(m, "MONITOR");
    CHECK_STR(s, "+OK");
    free(s);
    redisAppendCommand(m, "MONITOR");
    redisAppendCommand(m, "RESET");
    redisReply *r;
    CHECK(redisGetReply(m, (void **)&r) == REDIS_OK);
    CHECK(r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "RESET"));
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "SET after reset"));
    s = cmd_str(m, "PING");
    CHECK_STR(s, "+PONG"); /* nothing of SET arrived before it */
    free(s);
    redisFree(m);
    redisFree(c);
}

TEST(monitor_falling_behind_is_disconnected) {
    redisContext *c = srv_connect(&L);
    freeReplyObject(
        redisCommand(c, "CONFIG SET client-output-buffer-limit %s", "replica 262144 0 0"));
    int fd = srv_raw_socket(&L);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    const char mon[] = "*1\r\n$7\r\nMONITOR\r\n";
    CHECK(raw_send(fd, mon, sizeof(mon) - 1) == 0);
    char *okline = raw_reply_str(fd);
    CHECK_STR(okline, "+OK");
    free(okline);
    long long before = pk_info(c, "client_output_buffer_limit_disconnections");
    char *big = malloc(8192);
    memset(big, 'x', 8191);
    big[8191] = 0;
    for (int i = 0; i < 2000; i++) freeReplyObject(redisCommand(c, "SET big %s", big));
    free(big);
    CHECK(pk_info(c, "client_output_buffer_limit_disconnections") >= before + 1);
    char *pong = cmd_str(c, "PING");
    CHECK_STR(pong, "+PONG");
    free(pong);
    CHECK_EQ(pk_info(c, "connected_clients"), 1);
    freeReplyObject(redisCommand(c, "CONFIG SET client-output-buffer-limit %s",
                                 "replica 268435456 67108864 60"));
    close(fd);
    redisFree(c);
}

static const char *busy_script =
    "local t=redis.call('time') local s=t[1]*1000000+t[2] "
    "while true do local n=redis.call('time') if n[1]*1000000+n[2]-s > 120000 then break end end";

TEST(latency_monitor_events) {
    redisContext *c = srv_connect(&L);
    char *s = cmd_str(c, "LATENCY RESET");
    free(s);
    s = cmd_str(c, "LATENCY DOCTOR");
    CHECK(s && strstr(s, "no latency spike was observed"));
    free(s);
    s = cmd_str(c, "LATENCY GRAPH command");
    CHECK_STR(s, "-ERR No samples available for event 'command'");
    free(s);
    /* threshold 0: the monitor is off */
    freeReplyObject(redisCommand(c, "CONFIG SET latency-monitor-threshold 0"));
    freeReplyObject(redisCommand(c, "EVAL %s 0", busy_script));
    s = cmd_str(c, "LATENCY LATEST");
    CHECK_STR(s, "[]");
    free(s);
    freeReplyObject(redisCommand(c, "CONFIG SET latency-monitor-threshold 50"));
    freeReplyObject(redisCommand(c, "EVAL %s 0", busy_script));
    redisReply *r = redisCommand(c, "LATENCY LATEST");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    if (r && r->elements == 1) {
        redisReply *e = r->element[0];
        CHECK(e->elements == 4 && !strcmp(e->element[0]->str, "command"));
        CHECK(e->element[2]->integer >= 120 && e->element[3]->integer >= e->element[2]->integer);
    }
    freeReplyObject(r);
    r = redisCommand(c, "LATENCY HISTORY command");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    freeReplyObject(r);
    r = redisCommand(c, "LATENCY HISTORY no-such-event");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 0);
    freeReplyObject(r);
    s = cmd_str(c, "LATENCY GRAPH command");
    CHECK(s && strstr(s, "command - high") && strstr(s, "#"));
    free(s);
    s = cmd_str(c, "LATENCY DOCTOR");
    CHECK(s && strstr(s, "1. command: 1 latency spikes"));
    free(s);
    s = cmd_str(c, "LATENCY RESET no-such-event");
    CHECK_STR(s, ":0");
    free(s);
    s = cmd_str(c, "LATENCY RESET");
    CHECK_STR(s, ":1");
    free(s);
    s = cmd_str(c, "LATENCY LATEST");
    CHECK_STR(s, "[]");
    free(s);
    freeReplyObject(redisCommand(c, "CONFIG SET latency-monitor-threshold 0"));
    redisFree(c);
}

TEST(latency_histograms) {
    redisContext *c = srv_connect(&L);
    freeReplyObject(redisCommand(c, "CONFIG RESETSTAT"));
    freeReplyObject(redisCommand(c, "SET a b"));
    freeReplyObject(redisCommand(c, "SET a c"));
    freeReplyObject(redisCommand(c, "CLIENT ID"));
    char *s = cmd_str(c, "LATENCY HISTOGRAM set nosuchcommand");
    CHECK(s && !strncmp(s, "[set,[calls,:2,histogram_usec,[", 31));
    free(s);
    redisReply *r = redisCommand(c, "LATENCY HISTOGRAM client");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          !strcmp(r->element[0]->str, "client|id"));
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "CONFIG SET latency-tracking-info-percentiles %s", "0 50 100"));
    s = cmd_str(c, "CONFIG GET latency-tracking-info-percentiles");
    CHECK_STR(s, "[latency-tracking-info-percentiles,0 50 100]");
    free(s);
    s = cmd_str(c, "INFO latencystats");
    CHECK(s && strstr(s, "latency_percentiles_usec_set:p0=") && strstr(s, ",p50=") &&
          strstr(s, ",p100="));
    free(s);
    s = cmd_str(c, "CONFIG SET latency-tracking-info-percentiles %s", "10 101");
    CHECK(s && strstr(s, "should sit between [0.0,100.0]"));
    free(s);
    s = cmd_str(c, "CONFIG SET latency-tracking-info-percentiles %s", "10 a");
    CHECK(s && strstr(s, "Invalid latency-tracking-info-percentiles parameters"));
    free(s);
    freeReplyObject(
        redisCommand(c, "CONFIG SET latency-tracking-info-percentiles %s", "50 99 99.9"));
    freeReplyObject(redisCommand(c, "CONFIG SET latency-tracking no"));
    freeReplyObject(redisCommand(c, "CONFIG RESETSTAT"));
    freeReplyObject(redisCommand(c, "GET a"));
    s = cmd_str(c, "INFO latencystats");
    CHECK(s && !strstr(s, "latency_percentiles_usec_get"));
    free(s);
    freeReplyObject(redisCommand(c, "CONFIG SET latency-tracking yes"));
    redisFree(c);
}

/* A read-through load slower than the threshold is a store-load event. */
TEST(latency_store_load_event) {
    pk_env e = {0};
    CHECK(pk_start(&e, NULL) == 0);
    redisContext *c = srv_connect(&e.s);
    pk_exec(c, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)");
    pk_exec(c, "INSERT INTO items VALUES (1, 'one')");
    char *ok = cmd_str(c, "CONFIG SET map %s", "items \"item:{id}\" mode read-through");
    CHECK_STR(ok, "+OK");
    free(ok);
    freeReplyObject(redisCommand(c, "CONFIG SET latency-monitor-threshold 20"));
    freeReplyObject(redisCommand(c, "DEBUG STORE-DELAY 60"));
    char *s = cmd_str(c, "HGET item:1 name");
    CHECK_STR(s, "one");
    free(s);
    freeReplyObject(redisCommand(c, "DEBUG STORE-DELAY 0"));
    s = cmd_str(c, "LATENCY LATEST");
    CHECK(s && strstr(s, "store-load"));
    free(s);
    redisFree(c);
    pk_cleanup(&e);
}

int main(void) {
    if (srv_start(&L, NULL) != 0) {
        fprintf(stderr, "cannot start larder-server\n");
        return 1;
    }
    have_redis = srv_start_redis(&R, NULL) == 0;
    if (!have_redis) fprintf(stderr, "redis-server unavailable: differential part skipped\n");
    RUN(monitor_matches_redis);
    RUN(monitor_modes);
    RUN(monitor_falling_behind_is_disconnected);
    RUN(latency_monitor_events);
    RUN(latency_histograms);
    RUN(latency_store_load_event);
    srv_stop(&L);
    if (have_redis) srv_stop(&R);
    return test_report();
}
