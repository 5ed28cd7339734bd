/* Pub/sub and keyspace notifications, black-box.
 *
 * Most scenarios run against larder-server and Debian's redis-server alike
 * and compare the transcripts (every reply and message, rendered as text)
 * line by line; a few lines are also checked against fixed expectations so
 * that a shared mistake cannot pass. RESP2 goes through hiredis, RESP3 push
 * messages through the harness's raw-socket reader. Every wait is a read of
 * the message the awaited event produces (socket timeout 10 s as the bound):
 * after each command of a notification script the writer publishes on a
 * marker channel, and the subscriber reads up to the marker. */
#include "harness.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static srv L, R;
static int have_redis;

/* ---- transcripts ---------------------------------------------------------------- */

typedef struct transcript {
    char **line;
    int n;
} transcript;

static void tr_add(transcript *t, char *s) { /* takes s */
    t->line = realloc(t->line, sizeof(char *) * (size_t)(t->n + 1));
    t->line[t->n++] = s;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the elements of the last line, a flat array "[x,y,...]" of plain
 * names (a reply whose order is the server's hash order). */
static void tr_sort_last(transcript *t) {
    char *s = t->line[t->n - 1];
    size_t len = strlen(s);
    if (len < 2 || s[0] != '[' || s[len - 1] != ']') return;
    char *body = strndup(s + 1, len - 2), *elem[256];
    int n = 0;
    for (char *tok = strtok(body, ","); tok && n < 256; tok = strtok(NULL, ",")) elem[n++] = tok;
    qsort(elem, (size_t)n, sizeof(char *), cmp_str);
    char *out = malloc(len + 1), *o = out;
    *o++ = '[';
    for (int i = 0; i < n; i++) o += sprintf(o, "%s%s", i ? "," : "", elem[i]);
    *o++ = ']';
    *o = '\0';
    free(body);
    free(s);
    t->line[t->n - 1] = out;
}

static void tr_free(transcript *t) {
    for (int i = 0; i < t->n; i++) free(t->line[i]);
    free(t->line);
    t->line = NULL;
    t->n = 0;
}

static void tr_compare(const char *what, transcript *a, transcript *b) {
    int n = a->n > b->n ? a->n : b->n;
    int diffs = 0;
    for (int i = 0; i < n && diffs < 5; i++) {
        const char *x = i < a->n ? a->line[i] : "(missing)",
                   *y = i < b->n ? b->line[i] : "(missing)";
        if (strcmp(x, y) != 0) {
            fprintf(stderr, "%s: line %d differs\n  larder: %.300s\n  redis:  %.300s\n", what, i, x,
                    y);
            diffs++;
        }
    }
    CHECK(diffs == 0);
}

/* Runs a command and appends its rendered reply. */
static void tr_cmd(transcript *t, redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    tr_add(t, reply_str(r));
    if (r) freeReplyObject(r);
}

/* Runs a command given as one line of space-separated words. */
static void tr_line(transcript *t, redisContext *c, const char *line) {
    char *copy = strdup(line), *argv[32];
    int argc = 0;
    for (char *tok = strtok(copy, " "); tok && argc < 32; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    redisReply *r = redisCommandArgv(c, argc, (const char **)argv, NULL);
    tr_add(t, reply_str(r));
    if (r) freeReplyObject(r);
    free(copy);
}

/* Reads the next reply or message of a subscribed connection. */
static void tr_read(transcript *t, redisContext *c) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) r = NULL;
    tr_add(t, reply_str(r));
    if (r) freeReplyObject(r);
}

static char *get_reply(redisContext *c) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) r = NULL;
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

/* Runs scenario on both servers (when Debian's redis-server is there) and
 * compares; returns larder's transcript for extra checks (caller frees). */
static transcript run_both(const char *name, void (*scenario)(srv *, transcript *)) {
    transcript a = {0}, b = {0};
    scenario(&L, &a);
    if (getenv("PUBSUB_TEST_DUMP"))
        for (int i = 0; i < a.n; i++) fprintf(stderr, "%s %d: %s\n", name, i, a.line[i]);
    if (have_redis) {
        scenario(&R, &b);
        tr_compare(name, &a, &b);
        tr_free(&b);
    }
    return a;
}

static int tr_has(const transcript *t, const char *s) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->line[i], s)) return 1;
    return 0;
}

/* ---- pub/sub over RESP2 ------------------------------------------------------------ */

static void sc_basics(srv *s, transcript *t) {
    redisContext *sub = srv_connect(s), *pub = srv_connect(s);
    tr_cmd(t, pub, "FLUSHALL");
    tr_cmd(t, sub, "SUBSCRIBE a b a");
    tr_read(t, sub);
    tr_read(t, sub);
    tr_cmd(t, pub, "PUBLISH a hello");
    tr_cmd(t, pub, "PUBLISH nobody x");
    tr_read(t, sub);
    tr_cmd(t, sub, "PSUBSCRIBE h* a?");
    tr_read(t, sub);
    tr_cmd(t, pub, "PUBLISH hello m1");
    tr_read(t, sub);
    tr_cmd(t, pub, "PUBLISH ab m2"); /* channel? no; a? yes */
    tr_read(t, sub);
    tr_cmd(t, pub, "PUBLISH a m3"); /* channel a only */
    tr_read(t, sub);
    tr_cmd(t, pub, "PUBLISH %b %b", "bin\0ch", (size_t)6, "x\0y\r\n", (size_t)5);
    /* RESP2 subscribed mode: only (P|S)(UN)SUBSCRIBE PING QUIT RESET */
    tr_cmd(t, sub, "GET k");
    tr_cmd(t, sub, "CLIENT ID");
    tr_cmd(t, sub, "SLOWLOG RESET");
    tr_cmd(t, sub, "PING");
    tr_cmd(t, sub, "PING hi");
    tr_cmd(t, pub, "PUBSUB NUMSUB a b zz");
    tr_cmd(t, pub, "PUBSUB NUMPAT");
    tr_cmd(t, pub, "PUBSUB CHANNELS a*");
    tr_cmd(t, pub, "PUBSUB CHANNELS");
    tr_sort_last(t);
    tr_cmd(t, pub, "PUBSUB CHANNELS a b");
    tr_cmd(t, pub, "PUBSUB NUMPAT x");
    tr_cmd(t, pub, "PUBSUB NOSUCH");
    tr_cmd(t, pub, "PUBSUB");
    tr_cmd(t, pub, "PUBSUB HELP");
    tr_cmd(t, pub, "SUBSCRIBE");
    tr_cmd(t, sub, "UNSUBSCRIBE a zz");
    tr_read(t, sub);
    tr_cmd(t, sub, "PUNSUBSCRIBE");
    tr_read(t, sub);
    tr_cmd(t, sub, "UNSUBSCRIBE");
    tr_cmd(t, sub, "UNSUBSCRIBE");
    tr_cmd(t, sub, "PUNSUBSCRIBE");
    tr_cmd(t, sub, "GET k"); /* out of subscribed mode */
    tr_cmd(t, pub, "PUBLISH a gone");
    tr_cmd(t, pub, "PUBSUB CHANNELS");
    tr_cmd(t, pub, "PUBSUB NUMPAT");
    redisFree(sub);
    redisFree(pub);
}

static void sc_shard(srv *s, transcript *t) {
    redisContext *sub = srv_connect(s), *sub2 = srv_connect(s), *pub = srv_connect(s);
    tr_cmd(t, sub, "SSUBSCRIBE s1 s2 s1");
    tr_read(t, sub);
    tr_read(t, sub);
    tr_cmd(t, sub2, "SUBSCRIBE s1");
    tr_cmd(t, sub2, "PSUBSCRIBE s*");
    tr_cmd(t, pub, "SPUBLISH s1 hi"); /* shard subscribers only, never patterns */
    tr_read(t, sub);
    tr_cmd(t, pub, "PUBLISH s1 ho");
    tr_read(t, sub2);
    tr_read(t, sub2);
    tr_cmd(t, pub, "PUBSUB SHARDNUMSUB s1 s2 s3");
    tr_cmd(t, pub, "PUBSUB NUMSUB s1 s2");
    tr_cmd(t, pub, "PUBSUB SHARDCHANNELS s1*");
    tr_cmd(t, pub, "PUBSUB SHARDCHANNELS");
    tr_sort_last(t);
    tr_cmd(t, sub, "GET x");
    tr_cmd(t, sub, "SUNSUBSCRIBE s2 nope");
    tr_read(t, sub);
    tr_cmd(t, sub, "UNSUBSCRIBE"); /* no global channels: one reply with null */
    tr_cmd(t, sub, "SUNSUBSCRIBE");
    tr_cmd(t, sub, "SUNSUBSCRIBE");
    tr_cmd(t, pub, "SPUBLISH s1 gone");
    tr_cmd(t, pub, "MULTI");
    tr_cmd(t, pub, "SSUBSCRIBE inmulti");
    tr_cmd(t, pub, "EXEC");
    tr_cmd(t, pub, "PUBSUB SHARDCHANNELS");
    redisFree(sub);
    redisFree(sub2);
    redisFree(pub);
}

static void sc_modes(srv *s, transcript *t) {
    redisContext *c = srv_connect(s), *pub = srv_connect(s);
    /* SUBSCRIBE inside MULTI is allowed and enters subscribed mode */
    tr_cmd(t, c, "MULTI");
    tr_cmd(t, c, "SUBSCRIBE m1");
    tr_cmd(t, c, "EXEC");
    tr_cmd(t, c, "SET k v");
    tr_cmd(t, pub, "PUBLISH m1 x");
    tr_read(t, c);
    /* RESET leaves subscribed mode */
    tr_cmd(t, c, "RESET");
    tr_cmd(t, c, "GET k");
    tr_cmd(t, pub, "PUBLISH m1 x");
    /* CLIENT REPLY OFF silences replies but not pub/sub traffic */
    redisAppendCommand(c, "CLIENT REPLY OFF");
    redisAppendCommand(c, "SUBSCRIBE q");
    tr_read(t, c);
    tr_cmd(t, pub, "PUBLISH q silent");
    tr_read(t, c);
    redisAppendCommand(c, "UNSUBSCRIBE q");
    tr_read(t, c);
    redisAppendCommand(c, "CLIENT REPLY ON");
    tr_read(t, c);
    tr_cmd(t, c, "PING");
    /* QUIT is allowed while subscribed */
    tr_cmd(t, c, "SUBSCRIBE z");
    tr_cmd(t, c, "QUIT");
    redisFree(c);
    redisFree(pub);
}

TEST(pubsub_resp2_matches_redis) {
    transcript t = run_both("basics", sc_basics);
    CHECK(tr_has(&t, "[subscribe,a,:1]"));
    CHECK(tr_has(&t, "[message,a,hello]"));
    CHECK(tr_has(&t, "[pmessage,a?,ab,m2]"));
    CHECK(tr_has(&t, "[pong,]"));
    CHECK(tr_has(&t, "-ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                     "PING / QUIT / RESET are allowed in this context"));
    CHECK(tr_has(&t, "[a,:1,b,:1,zz,:0]"));
    CHECK(tr_has(&t, "[unsubscribe,(nil),:0]"));
    tr_free(&t);
    t = run_both("shard", sc_shard);
    CHECK(tr_has(&t, "[smessage,s1,hi]"));
    CHECK(tr_has(&t, "[s1,:1,s2,:1,s3,:0]"));
    CHECK(tr_has(&t, "[-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client]"));
    tr_free(&t);
    t = run_both("modes", sc_modes);
    CHECK(tr_has(&t, "[message,q,silent]"));
    CHECK(tr_has(&t, "[[subscribe,m1,:1]]"));
    tr_free(&t);
}

/* ---- RESP3: pushes, normal commands while subscribed --------------------------------- */

static int resp3_socket(const srv *s) {
    int fd = srv_raw_socket(s);
    if (fd < 0) return -1;
    char *h = raw_cmd_str(fd, "HELLO 3");
    CHECK(h[0] == '{');
    free(h);
    return fd;
}

static void expect(int fd, const char *cmd, const char *want) {
    char *got = cmd ? raw_cmd_str(fd, cmd) : raw_reply_str(fd);
    if (strcmp(got, want) != 0) fprintf(stderr, "  after %s\n", cmd ? cmd : "(read)");
    CHECK_STR(got, want);
    free(got);
}

TEST(pubsub_resp3_push) {
    int a = resp3_socket(&L), b = resp3_socket(&L);
    expect(a, "SUBSCRIBE ch1 ch2", ">[subscribe,ch1,:1]");
    expect(a, NULL, ">[subscribe,ch2,:2]");
    expect(a, "PSUBSCRIBE c*", ">[psubscribe,c*,:3]");
    expect(a, "SET k v", "+OK"); /* RESP3: any command works while subscribed */
    expect(a, "GET k", "v");
    expect(b, "PUBLISH ch1 hello", ":2");
    expect(a, NULL, ">[message,ch1,hello]");
    expect(a, NULL, ">[pmessage,c*,ch1,hello]");
    /* a client publishing to itself sees the push before the reply */
    expect(a, "PUBLISH ch2 self", ">[message,ch2,self]");
    expect(a, NULL, ">[pmessage,c*,ch2,self]");
    expect(a, NULL, ":2");
    expect(a, "PING", "+PONG"); /* RESP3 PING is the normal PING */
    close(a);
    close(b);
}

/* CLIENT LIST sub/psub/ssub, INFO pubsub_channels/pubsub_patterns/pubsubshard_channels. */
TEST(pubsub_counts) {
    redisContext *c = srv_connect(&L), *x = srv_connect(&L);
    char *s = cmd_str(c, "SUBSCRIBE c1 c2");
    free(s);
    free(get_reply(c));
    redisReply *r = redisCommand(x, "PSUBSCRIBE p1");
    freeReplyObject(r);
    r = redisCommand(x, "SSUBSCRIBE s1 s2 s3");
    freeReplyObject(r);
    free(get_reply(x));
    free(get_reply(x));
    redisContext *q = srv_connect(&L);
    r = redisCommand(q, "CLIENT LIST TYPE pubsub");
    CHECK(r && r->type == REDIS_REPLY_STRING);
    if (r && r->type == REDIS_REPLY_STRING) {
        CHECK(strstr(r->str, "sub=2 psub=0 ssub=0") != NULL);
        CHECK(strstr(r->str, "sub=0 psub=1 ssub=3") != NULL);
        CHECK(strstr(r->str, "flags=P") != NULL);
    }
    if (r) freeReplyObject(r);
    r = redisCommand(q, "INFO stats");
    CHECK(r && r->type == REDIS_REPLY_STRING);
    if (r && r->type == REDIS_REPLY_STRING) {
        CHECK(strstr(r->str, "pubsub_channels:2\r\n") != NULL);
        CHECK(strstr(r->str, "pubsub_patterns:1\r\n") != NULL);
        CHECK(strstr(r->str, "pubsubshard_channels:3\r\n") != NULL);
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    redisFree(x);
    /* the disconnects are processed before q's next command is read? Not
     * necessarily: poll until the server has dropped both clients. */
    for (int i = 0; i < 1000; i++) {
        r = redisCommand(q, "PUBSUB NUMPAT");
        long long n = r ? r->integer : -1;
        if (r) freeReplyObject(r);
        if (n == 0) break;
        usleep(1000);
    }
    CHECK_CMD(q, "[]", "PUBSUB CHANNELS");
    CHECK_CMD(q, "[]", "PUBSUB SHARDCHANNELS");
    CHECK_CMD(q, ":0", "PUBSUB NUMPAT");
    redisFree(q);
}

/* The pubsub output-buffer class: a subscriber that does not read is cut off. */
TEST(pubsub_output_buffer_limit) {
    redisContext *p = srv_connect(&L);
    CHECK_CMD(p, "+OK", "CONFIG SET client-output-buffer-limit %s", "pubsub 1048576 0 0");
    int s = srv_raw_socket(&L);
    expect(s, "SUBSCRIBE flood", "[subscribe,flood,:1]");
    size_t n = 64 * 1024;
    char *big = malloc(n);
    memset(big, 'x', n);
    long long receivers = 1;
    int sent = 0;
    for (; sent < 2000 && receivers > 0; sent++) {
        redisReply *r = redisCommand(p, "PUBLISH flood %b", big, n);
        receivers = r ? r->integer : -1;
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(receivers, 0); /* the subscriber was disconnected and unsubscribed */
    CHECK(sent < 2000);
    redisReply *r = redisCommand(p, "INFO stats");
    CHECK(r && strstr(r->str, "client_output_buffer_limit_disconnections:1\r\n"));
    if (r) freeReplyObject(r);
    CHECK_CMD(p, "+OK", "CONFIG SET client-output-buffer-limit %s", "pubsub 33554432 8388608 60");
    free(big);
    close(s);
    redisFree(p);
}

/* ---- keyspace notifications ---------------------------------------------------------- */

/* Runs cmds one by one on a writer; after each, the writer publishes on
 * "mark" and the psubscriber's messages up to the marker go to the
 * transcript (the reply of the command too). */
static void notify_script(srv *s, transcript *t, const char *flags, const char *const *cmds) {
    redisContext *w = srv_connect(s), *sub = srv_connect(s);
    tr_cmd(t, w, "FLUSHALL");
    tr_cmd(t, w, "CONFIG SET notify-keyspace-events %s", flags);
    tr_cmd(t, sub, "PSUBSCRIBE __key*__:* mark");
    tr_read(t, sub);
    for (int i = 0; cmds[i]; i++) {
        tr_line(t, w, cmds[i]);
        redisReply *r = redisCommand(w, "PUBLISH mark %d", i);
        if (r) freeReplyObject(r);
        for (int guard = 0; guard < 64; guard++) {
            char *m = get_reply(sub);
            int end = strstr(m, ",mark,") != NULL || !strcmp(m, "(lost)");
            tr_add(t, m);
            if (end) break;
        }
    }
    tr_cmd(t, w, "CONFIG SET notify-keyspace-events %s", "");
    redisFree(w);
    redisFree(sub);
}

static const char *const string_cmds[] = {"SET s1 v",
                                          "SET s1 v2 EX 100",
                                          "SET s1 v3 KEEPTTL",
                                          "SETNX s1 x",
                                          "SETNX s2 x",
                                          "APPEND s2 yz",
                                          "INCR n",
                                          "INCRBY n 5",
                                          "DECR n",
                                          "DECRBY n 2",
                                          "INCRBYFLOAT f 1.5",
                                          "SETRANGE s3 2 ab",
                                          "GETSET s3 new",
                                          "GETDEL s3",
                                          "GETDEL s3",
                                          "GETEX s1 PX 5000",
                                          "GETEX s1 PERSIST",
                                          "MSET m1 a m2 b",
                                          "MSETNX m3 a m1 b",
                                          "MSETNX m4 a m5 b",
                                          "SETEX s4 100 v",
                                          "PSETEX s5 100000 v",
                                          "SETBIT b1 7 1",
                                          "BITOP OR b2 b1 b1",
                                          "BITOP AND b3 nokey nokey",
                                          "BITFIELD b4 SET u8 0 1",
                                          "SET s1 x GET",
                                          "SET s6 x NX GET",
                                          "GET nokey",
                                          "MGET nokey s1",
                                          "STRLEN nokey",
                                          "EXISTS nokey",
                                          "TYPE nokey",
                                          NULL};

static const char *const generic_cmds[] = {"SET g1 v",
                                           "EXPIRE g1 100",
                                           "PEXPIRE g1 100000",
                                           "EXPIREAT g1 99999999999",
                                           "PERSIST g1",
                                           "PERSIST g1",
                                           "TTL g1",
                                           "RENAME g1 g2",
                                           "RENAMENX g2 g3",
                                           "SET g4 v",
                                           "RENAMENX g3 g4",
                                           "COPY g3 g5",
                                           "MOVE g5 1",
                                           "DEL g3 g4 nokey",
                                           "SET g6 v",
                                           "UNLINK g6",
                                           "SET g7 v",
                                           "EXPIRE g7 -1",
                                           "SET g8 v",
                                           "PEXPIREAT g8 1",
                                           "SET g9 v",
                                           "TOUCH g9 nokey",
                                           "RESTORE g9 0 x",
                                           "SWAPDB 0 1",
                                           "SWAPDB 0 1",
                                           "FLUSHDB",
                                           NULL};

static void sc_notify_strings(srv *s, transcript *t) {
    notify_script(s, t, "KEA", string_cmds);
}
static void sc_notify_generic(srv *s, transcript *t) {
    notify_script(s, t, "KEA", generic_cmds);
}
static void sc_notify_miss_new(srv *s, transcript *t) {
    static const char *const cmds[] = {
        "GET nokey",    "SET a 1",         "SET a 2",        "MGET a b c",  "INCR cnt", "COPY a a2",
        "RENAME a2 a3", "GETRANGE zz 0 1", "SETRANGE r 0 x", "APPEND ap x", NULL};
    notify_script(s, t, "KEmn", cmds);
}
static void sc_notify_masks(srv *s, transcript *t) {
    static const char *const cmds[] = {"SET a 1", "EXPIRE a 10", "DEL a", "SET b 1", NULL};
    notify_script(s, t, "Eg", cmds);
    notify_script(s, t, "K$", cmds);
    notify_script(s, t, "E", cmds); /* no class: nothing */
}

TEST(keyspace_notifications_match_redis) {
    transcript t = run_both("notify strings", sc_notify_strings);
    CHECK(tr_has(&t, "[pmessage,__key*__:*,__keyspace@0__:s1,set]"));
    CHECK(tr_has(&t, "[pmessage,__key*__:*,__keyevent@0__:incrby,n]"));
    tr_free(&t);
    t = run_both("notify generic", sc_notify_generic);
    CHECK(tr_has(&t, "[pmessage,__key*__:*,__keyevent@0__:rename_to,g2]"));
    tr_free(&t);
    t = run_both("notify keymiss/new", sc_notify_miss_new);
    CHECK(tr_has(&t, "[pmessage,__key*__:*,__keyevent@0__:keymiss,nokey]"));
    CHECK(tr_has(&t, "[pmessage,__key*__:*,__keyevent@0__:new,a]"));
    tr_free(&t);
    t = run_both("notify masks", sc_notify_masks);
    tr_free(&t);
    redisContext *c = srv_connect(&L);
    CHECK_CMD(c, "+OK", "CONFIG SET notify-keyspace-events %s", "gKE");
    CHECK_CMD(c, "[notify-keyspace-events,gKE]", "CONFIG GET notify-keyspace-events");
    CHECK_CMD(c, "+OK", "CONFIG SET notify-keyspace-events %s", "KEA");
    CHECK_CMD(c, "[notify-keyspace-events,AKE]", "CONFIG GET notify-keyspace-events");
    CHECK_CMD(c, "+OK", "CONFIG SET notify-keyspace-events %s", "");
    redisFree(c);
}

/* Reads messages until one whose rendering contains `needle`. */
static int await_message(redisContext *sub, const char *needle, char *out, size_t outsz) {
    for (int i = 0; i < 1000; i++) {
        char *m = get_reply(sub);
        int lost = !strcmp(m, "(lost)"), hit = strstr(m, needle) != NULL;
        if (hit && out) snprintf(out, outsz, "%s", m);
        free(m);
        if (hit) return 1;
        if (lost) return 0;
    }
    return 0;
}

TEST(keyspace_expired_and_evicted) {
    redisContext *w = srv_connect(&L), *sub = srv_connect(&L);
    CHECK_CMD(w, "+OK", "CONFIG SET notify-keyspace-events %s", "KExe");
    free(cmd_str(sub, "PSUBSCRIBE __key*__:*"));
    /* active expiry */
    CHECK_CMD(w, "+OK", "SET ex1 v PX 20");
    char m[256];
    CHECK(await_message(sub, "__keyevent@0__:expired,ex1", m, sizeof(m)));
    /* lazy expiry: active expiry off, the read that finds the key stale expires it */
    CHECK_CMD(w, "+OK", "DEBUG SET-ACTIVE-EXPIRE 0");
    CHECK_CMD(w, "+OK", "SET ex2 v PX 5");
    for (int i = 0; i < 100000; i++) {
        redisReply *r = redisCommand(w, "GET ex2");
        int gone = r && r->type == REDIS_REPLY_NIL;
        if (r) freeReplyObject(r);
        if (gone) break;
    }
    CHECK(await_message(sub, "__keyspace@0__:ex2,expired", m, sizeof(m)));
    CHECK_CMD(w, "+OK", "DEBUG SET-ACTIVE-EXPIRE 1");
    /* eviction */
    CHECK_CMD(w, "+OK", "SET ev1 v");
    CHECK_CMD(w, "+OK", "CONFIG SET maxmemory-policy allkeys-random");
    CHECK_CMD(w, "+OK", "CONFIG SET maxmemory 1");
    free(cmd_str(w, "PING")); /* any command runs the eviction first */
    CHECK(await_message(sub, "__keyevent@0__:evicted,ev1", m, sizeof(m)));
    CHECK_CMD(w, "+OK", "CONFIG SET maxmemory 0");
    CHECK_CMD(w, "+OK", "CONFIG SET maxmemory-policy noeviction");
    CHECK_CMD(w, "+OK", "CONFIG SET notify-keyspace-events %s", "");
    redisFree(w);
    redisFree(sub);
}

int main(void) {
    const char *const extra[] = {"--enable-debug-command", "yes", NULL};
    if (srv_start(&L, extra) != 0) {
        fprintf(stderr, "cannot start larder-server\n");
        return 1;
    }
    have_redis = access("/usr/bin/redis-server", X_OK) == 0 && srv_start_redis(&R, extra) == 0;
    if (!have_redis) printf("redis-server not available: larder-only checks\n");
    RUN(pubsub_resp2_matches_redis);
    RUN(pubsub_resp3_push);
    RUN(pubsub_counts);
    RUN(keyspace_notifications_match_redis);
    RUN(keyspace_expired_and_evicted);
    RUN(pubsub_output_buffer_limit);
    srv_stop(&L);
    if (have_redis) srv_stop(&R);
    return test_report();
}
