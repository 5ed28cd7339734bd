/* Client-side caching (CLIENT TRACKING), black-box.
 *
 * Differential part: scripts of tracking commands (client T) and writes
 * (client W) run against larder-server and Debian's redis-server, with T's
 * invalidations redirected to a RESP2 client R subscribed to
 * __redis__:invalidate. After every step W publishes a marker on that
 * channel and R reads up to it, so the transcript of R's messages is
 * deterministic; the transcripts must match line by line.
 *
 * RESP3 part (larder only, raw sockets): pushes to the client itself, their
 * order relative to replies (after the reply of the command that caused
 * them, after EXEC's reply, before the reply of a command whose eviction
 * caused them), BCAST, OPTIN/OPTOUT, NOLOOP, flush, expiry, eviction,
 * tracking-table-max-keys, a vanished redirect target, INFO and CLIENT LIST.
 * "Nothing more was sent" is checked by a PING whose reply must come next. */
#include "harness.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static srv L, R;
static int have_redis;

typedef struct transcript {
    char **line;
    int n;
} transcript;

static void tr_add(transcript *t, char *s) {
    t->line = realloc(t->line, sizeof(char *) * (size_t)(t->n + 1));
    t->line[t->n++] = s;
}

static void tr_free(transcript *t) {
    for (int i = 0; i < t->n; i++) free(t->line[i]);
    free(t->line);
    t->line = NULL;
    t->n = 0;
}

static void tr_compare(const char *what, transcript *a, transcript *b) {
    int n = a->n > b->n ? a->n : b->n, diffs = 0;
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

static int tr_has(const transcript *t, const char *s) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->line[i], s)) return 1;
    return 0;
}

static char *get_reply(redisContext *c) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) r = NULL;
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

/* Runs one line of space-separated words ("{rid}" is replaced by rid). */
static char *run_line(redisContext *c, const char *line, long long rid) {
    char *copy = strdup(line), *argv[32], ridbuf[32];
    int argc = 0;
    snprintf(ridbuf, sizeof(ridbuf), "%lld", rid);
    for (char *tok = strtok(copy, " "); tok && argc < 32; tok = strtok(NULL, " "))
        argv[argc++] = strcmp(tok, "{rid}") ? tok : ridbuf;
    redisReply *r = redisCommandArgv(c, argc, (const char **)argv, NULL);
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    free(copy);
    return s;
}

/* Script lines: "T cmd..." or "W cmd...". The transcript gets each reply
 * and every message R received because of the step. */
/* Replaces ":<id>" (the redirect id, which differs between servers) by ":{rid}". */
static char *mask_id(char *s, long long rid) {
    char pat[32];
    int pl = snprintf(pat, sizeof(pat), ":%lld", rid);
    char *p = strstr(s, pat);
    if (!p || (p[pl] != ',' && p[pl] != ']' && p[pl] != '\0')) return s;
    char *out = malloc(strlen(s) + 8);
    sprintf(out, "%.*s:{rid}%s", (int)(p - s), s, p + pl);
    free(s);
    return out;
}

static void run_script(srv *s, transcript *t, const char *const *script) {
    redisContext *T = srv_connect(s), *W = srv_connect(s), *Rc = srv_connect(s),
                 *M = srv_connect(s);
    redisReply *r = redisCommand(Rc, "CLIENT ID");
    long long rid = r ? r->integer : -1;
    if (r) freeReplyObject(r);
    tr_add(t, run_line(Rc, "SUBSCRIBE __redis__:invalidate", 0));
    tr_add(t, run_line(W, "FLUSHALL", 0));
    for (int i = 0; script[i]; i++) {
        redisContext *c = script[i][0] == 'T' ? T : W;
        char *rep = mask_id(run_line(c, script[i] + 2, rid), rid);
        size_t n = strlen(script[i]) + strlen(rep) + 8;
        char *line = malloc(n);
        snprintf(line, n, "%s -> %s", script[i], rep);
        free(rep);
        tr_add(t, line);
        r = redisCommand(M, "PUBLISH __redis__:invalidate mark%d", i);
        if (r) freeReplyObject(r);
        for (int guard = 0; guard < 64; guard++) {
            char *m = get_reply(Rc);
            char want[64];
            snprintf(want, sizeof(want), "[message,__redis__:invalidate,mark%d]", i);
            int end = !strcmp(m, want) || !strcmp(m, "(lost)");
            if (end) {
                free(m);
                break;
            }
            tr_add(t, m);
        }
    }
    redisFree(T);
    redisFree(W);
    redisFree(Rc);
    redisFree(M);
}

static const char *const *current_script;
static void sc_script(srv *s, transcript *t) {
    run_script(s, t, current_script);
}

static transcript run_both(const char *name, const char *const *script) {
    transcript a = {0}, b = {0};
    current_script = script;
    sc_script(&L, &a);
    if (getenv("TRACKING_TEST_DUMP"))
        for (int i = 0; i < a.n; i++) fprintf(stderr, "%s %d: %s\n", name, i, a.line[i]);
    if (have_redis) {
        sc_script(&R, &b);
        tr_compare(name, &a, &b);
        tr_free(&b);
    }
    return a;
}

static const char *const script_default[] = {"T CLIENT TRACKING on REDIRECT {rid}",
                                             "T GET a",
                                             "T MGET b c",
                                             "W SET a 1",
                                             "W SET a 2",
                                             "W MSET b 1 c 1 d 1",
                                             "T GET a",
                                             "T SET a x",
                                             "T GET e",
                                             "W EXPIRE e 100",
                                             "W SET e v",
                                             "W DEL e",
                                             "T GET f",
                                             "T STRLEN g",
                                             "T EXISTS h",
                                             "W MSET f 1 g 1 h 1",
                                             "T GET i",
                                             "W FLUSHDB",
                                             "W SET i 1",
                                             "T GET j",
                                             "T CLIENT TRACKING off",
                                             "W SET j v",
                                             "T CLIENT TRACKING on REDIRECT {rid} NOLOOP",
                                             "T GET k",
                                             "T SET k 1",
                                             "W SET k 2",
                                             "T GET l",
                                             "W SET l 1",
                                             "T GET m",
                                             "W INCR m",
                                             "W APPEND m x",
                                             "T GETRANGE n 0 1",
                                             "W SETRANGE n 0 x",
                                             "T GETBIT o 1",
                                             "W SETBIT o 1 1",
                                             "T TTL p",
                                             "W SET p v EX 100",
                                             "T TYPE q",
                                             "W SET q v",
                                             "T GET r",
                                             "W RENAME q r",
                                             "T GET s",
                                             "W COPY r s",
                                             "T GET t",
                                             "W MOVE t 1",
                                             "T GET u",
                                             "W SET u v",
                                             "W MULTI",
                                             "W INCR u",
                                             "W INCR u",
                                             "W EXEC",
                                             "T GETEX v",
                                             "W SET v 1",
                                             "T GETDEL w",
                                             "W SET w 1",
                                             NULL};

static const char *const script_opt[] = {"T CLIENT TRACKING on REDIRECT {rid} OPTIN",
                                         "T GET a",
                                         "W SET a 1",
                                         "T CLIENT CACHING yes",
                                         "T GET a",
                                         "T GET b",
                                         "W MSET a 2 b 2",
                                         "T CLIENT CACHING yes",
                                         "T MULTI",
                                         "T GET c",
                                         "T GET d",
                                         "T EXEC",
                                         "T GET e",
                                         "W MSET c 1 d 1 e 1",
                                         "T CLIENT TRACKING off",
                                         "T CLIENT TRACKING on REDIRECT {rid} OPTOUT",
                                         "T CLIENT CACHING no",
                                         "T GET f",
                                         "T GET g",
                                         "W MSET f 1 g 1",
                                         "T CLIENT CACHING no",
                                         "T PING",
                                         "T GET h",
                                         "W SET h 1",
                                         "T CLIENT TRACKINGINFO",
                                         "T CLIENT TRACKING off",
                                         "T CLIENT TRACKINGINFO",
                                         NULL};

static const char *const script_bcast[] = {
    "T CLIENT TRACKING on REDIRECT {rid} BCAST PREFIX user: PREFIX item:",
    "W MSET user:1 a item:1 b other c",
    "W MULTI",
    "W SET user:2 x",
    "W SET user:3 y",
    "W DEL item:1",
    "W SET user:2 z",
    "W EXEC",
    "W SET other 1",
    "T SET user:9 v",
    "T CLIENT TRACKING on REDIRECT {rid} BCAST PREFIX z:",
    "W SET z:1 1",
    "T CLIENT TRACKINGINFO",
    "T CLIENT TRACKING off",
    "T CLIENT TRACKING on REDIRECT {rid} BCAST NOLOOP",
    "T SET mine 1",
    "W SET yours 1",
    "T MSET mine 2 mine2 2",
    "W FLUSHALL",
    "T CLIENT TRACKING off",
    "T CLIENT TRACKING on REDIRECT {rid} BCAST PREFIX a PREFIX b",
    "W SET abc 1",
    "W SET x 1",
    "T CLIENT TRACKING on REDIRECT {rid} BCAST",
    "W SET x 2",
    "T CLIENT TRACKINGINFO",
    NULL};

static const char *const script_errors[] = {"T CLIENT TRACKING on PREFIX a",
                                            "T CLIENT TRACKING on BCAST OPTIN",
                                            "T CLIENT TRACKING on BCAST OPTOUT",
                                            "T CLIENT TRACKING on OPTIN OPTOUT",
                                            "T CLIENT TRACKING on REDIRECT 99999999",
                                            "T CLIENT TRACKING on REDIRECT abc",
                                            "T CLIENT TRACKING on REDIRECT {rid} REDIRECT {rid}",
                                            "T CLIENT TRACKING maybe",
                                            "T CLIENT TRACKING on FOO",
                                            "T CLIENT TRACKING on REDIRECT",
                                            "T CLIENT TRACKING on PREFIX",
                                            "T CLIENT TRACKING",
                                            "T CLIENT TRACKING off FOO",
                                            "T CLIENT TRACKING on BCAST PREFIX FOOBAR PREFIX FOO",
                                            "T CLIENT TRACKING on BCAST PREFIX FOO PREFIX FOOBAR",
                                            "T CLIENT TRACKINGINFO",
                                            "T CLIENT TRACKING on BCAST PREFIX FOO PREFIX BAR",
                                            "T CLIENT TRACKING on BCAST PREFIX FO",
                                            "T CLIENT TRACKING on BCAST PREFIX BARB",
                                            "T CLIENT TRACKING on BCAST PREFIX FOO",
                                            "T CLIENT TRACKING on",
                                            "T CLIENT TRACKINGINFO",
                                            "T CLIENT TRACKING off",
                                            "T CLIENT CACHING yes",
                                            "T CLIENT CACHING no",
                                            "T CLIENT TRACKING on",
                                            "T CLIENT CACHING yes",
                                            "T CLIENT CACHING no",
                                            "T CLIENT CACHING maybe",
                                            "T CLIENT CACHING",
                                            "T CLIENT GETREDIR",
                                            "T CLIENT TRACKING on OPTIN",
                                            "T CLIENT TRACKING on OPTOUT",
                                            "T CLIENT TRACKING on BCAST",
                                            "T CLIENT CACHING yes",
                                            "T CLIENT CACHING no",
                                            "T CLIENT TRACKINGINFO",
                                            "T CLIENT TRACKING off",
                                            "T CLIENT GETREDIR",
                                            "T CLIENT TRACKINGINFO",
                                            "T CLIENT GETREDIR x",
                                            NULL};

TEST(tracking_resp2_redirect_matches_redis) {
    transcript t = run_both("default", script_default);
    CHECK(tr_has(&t, "[message,__redis__:invalidate,[a]]"));
    CHECK(tr_has(&t, "[message,__redis__:invalidate,(nil)]"));
    tr_free(&t);
    t = run_both("optin/optout", script_opt);
    tr_free(&t);
    t = run_both("bcast", script_bcast);
    CHECK(tr_has(&t, "[message,__redis__:invalidate,[user:1]]"));
    CHECK(tr_has(&t, "[message,__redis__:invalidate,[user:2,user:3]]"));
    tr_free(&t);
    t = run_both("errors", script_errors);
    CHECK(tr_has(
        &t,
        "T CLIENT TRACKING on PREFIX a -> -ERR PREFIX option requires BCAST mode to be enabled"));
    tr_free(&t);
}

/* ---- RESP3 ------------------------------------------------------------------------- */

static int resp3_socket(void) {
    int fd = srv_raw_socket(&L);
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

static long long info_field(redisContext *c, const char *field) {
    redisReply *r = redisCommand(c, "INFO");
    long long v = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char pat[64];
        snprintf(pat, sizeof(pat), "\r\n%s:", field);
        char *p = strstr(r->str, pat);
        if (p) v = atoll(p + strlen(pat));
    }
    if (r) freeReplyObject(r);
    return v;
}

TEST(tracking_resp3_self) {
    redisContext *W = srv_connect(&L);
    CHECK_CMD(W, "+OK", "FLUSHALL");
    int T = resp3_socket();
    expect(T, "CLIENT TRACKING on", "+OK");
    expect(T, "GET k1", "(nil)");
    CHECK_CMD(W, "+OK", "SET k1 v");
    expect(T, NULL, ">[invalidate,[k1]]");
    CHECK_CMD(W, "+OK", "SET k1 v2"); /* forgotten after one invalidation */
    expect(T, "PING", "+PONG");
    /* own write: the push follows the reply */
    expect(T, "GET k2", "(nil)");
    expect(T, "SET k2 x", "+OK");
    expect(T, NULL, ">[invalidate,[k2]]");
    /* EXEC: after the whole transaction's reply */
    expect(T, "GET m", "(nil)");
    expect(T, "MULTI", "+OK");
    expect(T, "INCR m", "+QUEUED");
    expect(T, "GET m2", "+QUEUED");
    expect(T, "EXEC", "[:1,(nil)]");
    expect(T, NULL, ">[invalidate,[m]]");
    /* flush: null, also after the own reply */
    CHECK_CMD(W, "+OK", "FLUSHDB");
    expect(T, NULL, ">[invalidate,(nil)]");
    expect(T, "FLUSHALL", "+OK");
    expect(T, NULL, ">[invalidate,(nil)]");
    expect(T, "CLIENT TRACKINGINFO", "{flags:~[on],redirect::0,prefixes:[]}");
    expect(T, "CLIENT GETREDIR", ":0");
    /* lazy expiry by the client's own read: pushed after the read's reply */
    CHECK_CMD(W, "+OK", "DEBUG SET-ACTIVE-EXPIRE 0");
    expect(T, "SET lz v PX 200", "+OK");
    expect(T, "GET lz", "v");
    for (int i = 0; i < 10000000; i++) {
        char *g = raw_cmd_str(T, "GET lz");
        int gone = !strcmp(g, "(nil)");
        free(g);
        if (gone) break;
    }
    expect(T, NULL, ">[invalidate,[lz]]");
    CHECK_CMD(W, "+OK", "DEBUG SET-ACTIVE-EXPIRE 1");
    /* active expiry */
    CHECK_CMD(W, "+OK", "SET ex v PX 200");
    expect(T, "GET ex", "v");
    expect(T, NULL, ">[invalidate,[ex]]");
    /* NOLOOP */
    expect(T, "CLIENT TRACKING on NOLOOP", "+OK");
    expect(T, "GET n", "(nil)");
    expect(T, "SET n 1", "+OK");
    CHECK_CMD(W, "+OK", "SET n 2");
    expect(T, "PING", "+PONG");
    /* RESET turns tracking off */
    CHECK_EQ(info_field(W, "tracking_clients"), 1);
    expect(T, "RESET", "+RESET");
    CHECK_EQ(info_field(W, "tracking_clients"), 0);
    close(T);
    redisFree(W);
}

/* An eviction caused by the client's own command is pushed before its reply. */
TEST(tracking_eviction_before_reply) {
    redisContext *W = srv_connect(&L);
    CHECK_CMD(W, "+OK", "FLUSHALL");
    int T = resp3_socket();
    expect(T, "CLIENT TRACKING on", "+OK");
    expect(T, "SETEX volatile 1000 x", "+OK");
    expect(T, "GET volatile", "x");
    CHECK_CMD(W, "+OK", "CONFIG SET maxmemory-policy volatile-random");
    CHECK_CMD(W, "+OK", "CONFIG SET maxmemory 1");
    expect(T, "GET other", ">[invalidate,[volatile]]");
    expect(T, NULL, "(nil)");
    CHECK_CMD(W, "+OK", "CONFIG SET maxmemory 0");
    CHECK_CMD(W, "+OK", "CONFIG SET maxmemory-policy noeviction");
    close(T);
    redisFree(W);
}

TEST(tracking_resp3_bcast_and_opt) {
    redisContext *W = srv_connect(&L);
    CHECK_CMD(W, "+OK", "FLUSHALL");
    int T = resp3_socket();
    expect(T, "CLIENT TRACKING on BCAST PREFIX a: PREFIX b:", "+OK");
    CHECK_EQ(info_field(W, "tracking_total_prefixes"), 2);
    CHECK_CMD(W, "+OK", "MSET a:1 x b:1 y c:1 z a:2 w");
    expect(T, NULL, ">[invalidate,[a:1,a:2]]");
    expect(T, NULL, ">[invalidate,[b:1]]");
    CHECK_CMD(W, "+OK", "SET c:2 z");
    expect(T, "PING", "+PONG");
    expect(T, "CLIENT TRACKINGINFO", "{flags:~[on,bcast],redirect::0,prefixes:[a:,b:]}");
    expect(T, "SET a:3 own", "+OK"); /* BCAST without NOLOOP: own writes too */
    expect(T, NULL, ">[invalidate,[a:3]]");
    expect(T, "CLIENT TRACKING off", "+OK");
    CHECK_EQ(info_field(W, "tracking_total_prefixes"), 0);
    /* switching from default mode to BCAST: no messages for keys read before */
    expect(T, "CLIENT TRACKING on", "+OK");
    expect(T, "GET old", "(nil)");
    expect(T, "CLIENT TRACKING off", "+OK");
    expect(T, "CLIENT TRACKING on BCAST", "+OK");
    CHECK_CMD(W, "+OK", "SET old 1");
    expect(T, NULL, ">[invalidate,[old]]"); /* from the BCAST "" prefix, once */
    expect(T, "PING", "+PONG");
    expect(T, "CLIENT TRACKING off", "+OK");
    /* OPTIN */
    expect(T, "CLIENT TRACKING on OPTIN", "+OK");
    expect(T, "GET o1", "(nil)");
    expect(T, "CLIENT CACHING yes", "+OK");
    expect(T, "GET o2", "(nil)");
    expect(T, "GET o3", "(nil)");
    CHECK_CMD(W, "+OK", "MSET o1 1 o2 2 o3 3");
    expect(T, NULL, ">[invalidate,[o2]]");
    expect(T, "PING", "+PONG");
    close(T);
    redisFree(W);
}

TEST(tracking_table_max_keys) {
    redisContext *W = srv_connect(&L);
    CHECK_CMD(W, "+OK", "FLUSHALL");
    int T = resp3_socket();
    expect(T, "CLIENT TRACKING on", "+OK");
    CHECK_CMD(W, "+OK", "CONFIG SET tracking-table-max-keys 2");
    expect(T, "MGET t1 t2 t3 t4 t5", "[(nil),(nil),(nil),(nil),(nil)]");
    char *seen[3];
    for (int i = 0; i < 3; i++) seen[i] = raw_reply_str(T);
    for (int i = 0; i < 3; i++) {
        CHECK(!strncmp(seen[i], ">[invalidate,[t", 15));
        free(seen[i]);
    }
    expect(T, "PING", "+PONG");
    CHECK_EQ(info_field(W, "tracking_total_keys"), 2);
    CHECK_EQ(info_field(W, "tracking_total_items"), 2);
    CHECK_CMD(W, "+OK", "CONFIG SET tracking-table-max-keys 1000000");
    /* evacuating far above the limit takes more than one pass of effort */
    expect(T, "CLIENT TRACKING off", "+OK");
    CHECK_CMD(W, "+OK", "FLUSHALL");
    expect(T, "CLIENT TRACKING on", "+OK");
    char cmd[4096] = "MGET";
    for (int i = 0; i < 250; i++) snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " e%d", i);
    char *r = raw_cmd_str(T, cmd);
    free(r);
    CHECK_EQ(info_field(W, "tracking_total_keys"), 250);
    CHECK_CMD(W, "+OK", "CONFIG SET tracking-table-max-keys 1");
    for (int i = 0; i < 249; i++) {
        char *m = raw_reply_str(T);
        CHECK(!strncmp(m, ">[invalidate,[e", 15));
        free(m);
    }
    expect(T, "PING", "+PONG");
    CHECK_EQ(info_field(W, "tracking_total_keys"), 1);
    CHECK_CMD(W, "+OK", "CONFIG SET tracking-table-max-keys 1000000");
    close(T);
    redisFree(W);
}

/* The redirect target goes away: RESP3 client is told, flags show it. */
TEST(tracking_broken_redirect) {
    redisContext *W = srv_connect(&L), *Rc = srv_connect(&L);
    redisReply *r = redisCommand(Rc, "CLIENT ID");
    long long rid = r ? r->integer : -1;
    if (r) freeReplyObject(r);
    int T = resp3_socket();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "CLIENT TRACKING on REDIRECT %lld", rid);
    expect(T, cmd, "+OK");
    expect(T, "GET z", "(nil)");
    redisFree(Rc);
    for (int i = 0; i < 10000; i++) { /* await the server dropping R */
        r = redisCommand(W, "CLIENT LIST ID %lld", rid);
        int gone = r && r->type == REDIS_REPLY_STRING && r->len == 0;
        if (r) freeReplyObject(r);
        if (gone) break;
        usleep(1000);
    }
    CHECK_CMD(W, "+OK", "SET z 1");
    snprintf(cmd, sizeof(cmd), ">[tracking-redir-broken,:%lld]", rid);
    expect(T, NULL, cmd);
    snprintf(cmd, sizeof(cmd), "{flags:~[on,broken_redirect],redirect::%lld,prefixes:[]}", rid);
    expect(T, "CLIENT TRACKINGINFO", cmd);
    char *info = raw_cmd_str(T, "CLIENT INFO");
    CHECK(strstr(info, "flags=tR ") != NULL);
    free(info);
    close(T);
    redisFree(W);
}

/* Pushes reach a client with CLIENT REPLY OFF; redirected ones too. */
/* Redis 7.0 replies an error *and* enables tracking (two replies) when a
 * later pair of the given prefixes overlaps; Larder replies the error only. */
TEST(tracking_prefix_overlap_single_reply) {
    redisContext *c = srv_connect(&L);
    CHECK_CMD(c,
              "-ERR Prefix 'b' overlaps with another provided prefix 'bc'. Prefixes for a single "
              "client must not overlap.",
              "CLIENT TRACKING on BCAST PREFIX a PREFIX b PREFIX bc");
    CHECK_CMD(c, "[flags,[off],redirect,:-1,prefixes,[]]", "CLIENT TRACKINGINFO");
    redisFree(c);
}

TEST(tracking_reply_off) {
    redisContext *W = srv_connect(&L);
    int T = resp3_socket();
    expect(T, "CLIENT TRACKING on", "+OK");
    expect(T, "GET foo", "(nil)");
    raw_send(T, "CLIENT REPLY OFF\r\n", 18);
    CHECK_CMD(W, "+OK", "SET foo bar");
    expect(T, NULL, ">[invalidate,[foo]]");
    expect(T, "CLIENT REPLY ON", "+OK");
    expect(T, "PING", "+PONG");
    close(T);
    redisFree(W);
}

int main(void) {
    const char *const extra[] = {"--enable-debug-command", "yes", NULL};
    if (srv_start(&L, extra) != 0) {
        fprintf(stderr, "cannot start larder-server\n");
        return 1;
    }
    have_redis = access("/usr/bin/redis-server", X_OK) == 0 && srv_start_redis(&R, extra) == 0;
    if (!have_redis) printf("redis-server not available: larder-only checks\n");
    RUN(tracking_resp2_redirect_matches_redis);
    RUN(tracking_resp3_self);
    RUN(tracking_eviction_before_reply);
    RUN(tracking_resp3_bcast_and_opt);
    RUN(tracking_table_max_keys);
    RUN(tracking_broken_redirect);
    RUN(tracking_prefix_overlap_single_reply);
    RUN(tracking_reply_off);
    srv_stop(&L);
    if (have_redis) srv_stop(&R);
    return test_report();
}
