/* Differential test of ACL against Debian's redis-server 7.0: every ACL
 * subcommand (good and bad input), AUTH and HELLO AUTH with users, the
 * -NOPERM texts of denied commands, keys and channels, selectors, ACL LOG
 * entries, DRYRUN, the aclfile (LOAD of a good file, of one with a duplicate
 * user or a bad line: the old users stay; SAVE; a missing aclfile at start),
 * `user` lines of the configuration, requirepass and the default user, and
 * the disconnection of a deleted user's clients and of subscribers whose
 * channels were revoked.
 *
 * Normalised before comparing (what Redis does not fix either): the order of
 * single-command rules in a rule string (Redis emits them in its hash
 * table's order), ACL LOG's age-seconds and client-info, GENPASS's random
 * text (its length is compared). ACL CAT of a category is compared on the
 * commands both servers have. */
#include "diffkit.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static srv L, R;
static redisContext *l, *r;
static char acldir[64], aclpath[128];

enum { N_NONE = 0, N_RULES = 1, N_LOG = 2, N_SORT = 4 };

static int cmp_tok(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts, in place, each run of single-command rules ("+get", "-set|x") of a
 * rule string: a permutation of the same tokens keeps the length. */
static void sort_rule_runs(char *s, size_t len) {
    char *copy = malloc(len + 1), *toks[512];
    memcpy(copy, s, len);
    copy[len] = 0;
    int n = 0;
    for (char *t = strtok(copy, " "); t && n < 512; t = strtok(NULL, " ")) toks[n++] = t;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && (toks[j][0] == '+' || toks[j][0] == '-') && toks[j][1] != '@' &&
               !strchr(toks[j], ')') && !strchr(toks[j], '('))
            j++;
        if (j - i > 1) qsort(toks + i, (size_t)(j - i), sizeof(char *), cmp_tok);
        i = j > i ? j : i + 1;
    }
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(toks[i]);
        memcpy(s + o, toks[i], tl);
        o += tl;
        if (i + 1 < n) s[o++] = ' ';
    }
    free(copy);
}

static void normalise(redisReply *x, int mode) {
    if (!x) return;
    if ((mode & N_RULES) && (x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS) &&
        x->str && x->len == strlen(x->str))
        sort_rule_runs(x->str, x->len);
    if (x->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < x->elements; i++) {
        redisReply *e = x->element[i];
        if ((mode & N_LOG) && i + 1 < x->elements && e->type == REDIS_REPLY_STRING &&
            (!strcmp(e->str, "age-seconds") || !strcmp(e->str, "client-info"))) {
            redisReply *v = x->element[i + 1];
            v->type = REDIS_REPLY_STRING;
            v->len = 0;
            if (v->str) v->str[0] = 0;
            i++;
            continue;
        }
        normalise(e, mode);
    }
}

/* Sends the command to both (ca on larder, cb on redis), compares the
 * normalised replies; 1 when equal. */
static int cmpv(redisContext *ca, redisContext *cb, int mode, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    redisReply *a = redisvCommand(ca, fmt, ap), *b = redisvCommand(cb, fmt, ap2);
    va_end(ap2);
    normalise(a, mode);
    normalise(b, mode);
    char *sa = (mode & N_SORT) ? dk_render_sorted(a, 1) : reply_str(a);
    char *sb = (mode & N_SORT) ? dk_render_sorted(b, 1) : reply_str(b);
    int same = strcmp(sa, sb) == 0;
    if (!same) {
        test_cur_failed_++;
        fprintf(stderr, "[%s] MISMATCH for '%s'\n  larder: %s\n  redis:  %s\n", test_cur_name_, fmt,
                sa, sb);
    }
    free(sa);
    free(sb);
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
    return same;
}

static int cmp2(redisContext *ca, redisContext *cb, int mode, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cmpv(ca, cb, mode, fmt, ap);
    va_end(ap);
    return rc;
}

/* On the main pair of connections. */
static int cmp(int mode, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cmpv(l, r, mode, fmt, ap);
    va_end(ap);
    return rc;
}

static void run_both(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    redisReply *a = redisvCommand(l, fmt, ap), *b = redisvCommand(r, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return strdup("(none)");
    char *b = calloc(1, 65536);
    size_t n = fread(b, 1, 65535, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* A fresh connection to each server. */
static void connect_pair(redisContext **a, redisContext **b) {
    *a = srv_connect(&L);
    *b = srv_connect(&R);
}

/* ---- the tests -------------------------------------------------------------------- */

TEST(setuser_getuser_list) {
    static const char *const cmds[] = {
        "ACL WHOAMI", "ACL USERS", "ACL LIST", "ACL SETUSER alice", "ACL GETUSER alice",
        "ACL SETUSER alice on >pass1 ~cached:* +get +set", "ACL GETUSER alice",
        "ACL SETUSER bob on nopass +@all -@dangerous ~*", "ACL SETUSER carol +@read +@list -lindex",
        "ACL GETUSER carol", "ACL SETUSER dave +@all -flushdb -debug", "ACL GETUSER dave",
        "ACL SETUSER frank +select|0 +client|id", "ACL GETUSER frank",
        "ACL SETUSER g %%R~r* %%W~w* %%RW~rw* %%R~x %%W~x", "ACL GETUSER g",
        "ACL SETUSER h resetchannels &ch1 &ch2 allchannels", "ACL GETUSER h",
        "ACL SETUSER i on nopass +@all -@slow ~*", "ACL SETUSER j reset", "ACL GETUSER j",
        "ACL SETUSER k +@all -client|kill", "ACL GETUSER k",
        "ACL SETUSER l -@all +client +@keyspace", "ACL GETUSER l",
        "ACL SETUSER m on #" /* a hash of "x" */
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 >y <y",
        "ACL GETUSER m",
        "ACL SETUSER m !2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        "ACL GETUSER m", "ACL SETUSER m resetpass nopass", "ACL GETUSER m",
        "ACL SETUSER n +@all -@all +@string -append allcommands nocommands +get allkeys resetkeys "
        "~a",
        "ACL GETUSER n", "ACL SETUSER o -@all +@list +@set -sadd +@write -@write", "ACL GETUSER o",
        "ACL SETUSER p skip-sanitize-payload sanitize-payload off on", "ACL GETUSER p", "ACL LIST",
        "ACL USERS", "ACL GETUSER nobody", "ACL DELUSER alice bob nobody", "ACL DELUSER default",
        "ACL DELUSER default alice", "ACL USERS", "ACL LIST",
        /* bad input */
        "ACL SETUSER bad +nosuchcmd", "ACL SETUSER bad -nosuchcmd", "ACL SETUSER bad +@nocat",
        "ACL SETUSER bad foo", "ACL SETUSER bad ~* ~x", "ACL SETUSER bad allkeys %%R~x",
        "ACL SETUSER bad &* &x", "ACL SETUSER bad #abc", "ACL SETUSER bad #ABCDEF",
        "ACL SETUSER bad <nope",
        "ACL SETUSER bad !00000000000000000000000000000000000000000000000000"
        "00000000000000",
        "ACL SETUSER bad %%X~x", "ACL SETUSER bad %%RR~x", "ACL SETUSER bad %%R",
        "ACL SETUSER bad +get|", "ACL SETUSER bad +config|get|x", "ACL SETUSER bad +config|nope",
        "ACL SETUSER bad -get|x", "ACL SETUSER bad on +get foo", "ACL GETUSER bad", "ACL SETUSER",
        "ACL GETUSER", "ACL GETUSER a b", "ACL DELUSER", "ACL USERS x", "ACL LIST x",
        "ACL WHOAMI x", "ACL", "ACL FOO", "ACL HELP", "ACL HELP x", NULL};
    for (int i = 0; cmds[i]; i++) cmp(N_RULES, cmds[i]);
    cmp(N_NONE, "ACL SETUSER %s", "sp ace");
    cmp(N_NONE, "ACL SETUSER %b", "nul\0x", (size_t)5);
    cmp(N_NONE, "ACL SETUSER bad %s", "~a b");
    cmp(N_NONE, "ACL SETUSER bad %s", "&a b");
}

TEST(selectors) {
    static const char *const cmds[] = {
        "ACL SETUSER s1 on nopass (+get ~a*) (+set ~b*)", "ACL GETUSER s1",
        "ACL SETUSER s1 clearselectors", "ACL GETUSER s1",
        "ACL SETUSER s2 (~key1 +get ) ( ~key2 +get ) ( ~key3 +get)", "ACL GETUSER s2",
        "ACL SETUSER s3 reset ()", "ACL GETUSER s3",
        "ACL SETUSER s4 -@all +get resetchannels &c1 %%R~foo1 %%W~bar1 ~baz1 "
        "(-@all +set resetchannels &c2 %%R~foo2 %%W~bar2 ~baz2)",
        "ACL GETUSER s4", "ACL LIST",
        /* bad selectors: nothing of the rules applies */
        "ACL SETUSER s5 on (this-is-invalid)", "ACL SETUSER s5 on (&* &fail)", "ACL GETUSER s5",
        "ACL SETUSER s5 ( )", "ACL SETUSER s5 (", "ACL SETUSER s5 )", "ACL SETUSER s5 (+get",
        "ACL SETUSER s5 (+nosuch)", "ACL SETUSER s5 (+get ~a) (on)", "ACL SETUSER s5 (nopass)",
        "ACL SETUSER s5 ((+get))", "ACL GETUSER s5", NULL};
    for (int i = 0; cmds[i]; i++) cmp(N_RULES, cmds[i]);
    cmp(N_NONE, "ACL SETUSER s6 %s %s", "(+get", "~x)");
    cmp(N_NONE, "ACL SETUSER s6 %s %s", "(+get", "~x");
    cmp(N_RULES, "ACL GETUSER s6");
}

TEST(dryrun) {
    run_both("ACL SETUSER dr on nopass +@all %%R~read* %%W~write* %%RW~rw* resetchannels &chan");
    run_both("ACL SETUSER dr2 on nopass -@all +get ~k (+set ~w*) (+mget ~k ~o*)");
    static const char *const cmds[] = {
        "ACL DRYRUN dr GET read", "ACL DRYRUN dr GET write", "ACL DRYRUN dr SET write v",
        "ACL DRYRUN dr SET read v", "ACL DRYRUN dr SET rw v GET", "ACL DRYRUN dr SET write v GET",
        "ACL DRYRUN dr COPY read write", "ACL DRYRUN dr COPY write read",
        "ACL DRYRUN dr LPUSH write 1", "ACL DRYRUN dr LMOVE rw1 rw2 LEFT RIGHT",
        "ACL DRYRUN dr LMOVE read write LEFT RIGHT", "ACL DRYRUN dr SORT read STORE write",
        "ACL DRYRUN dr SORT read STORE read", "ACL DRYRUN dr SORT write STORE write",
        "ACL DRYRUN dr EVAL x 1 rw1", "ACL DRYRUN dr EVAL x 1 read",
        "ACL DRYRUN dr EVAL_RO x 1 read", "ACL DRYRUN dr EVAL x 0 read",
        "ACL DRYRUN dr EVAL x -1 read", "ACL DRYRUN dr EVAL x 3 rw rw",
        "ACL DRYRUN dr HEXISTS nothing f", "ACL DRYRUN dr HEXISTS write f",
        "ACL DRYRUN dr SINTERCARD 2 write read", "ACL DRYRUN dr ZCOUNT write 0 1",
        "ACL DRYRUN dr TYPE read", "ACL DRYRUN dr EXISTS write", "ACL DRYRUN dr MSET rw1 1 write 2",
        "ACL DRYRUN dr MSET write 1 read 2", "ACL DRYRUN dr BITFIELD read GET u4 0",
        "ACL DRYRUN dr BITFIELD read SET u4 0 1", "ACL DRYRUN dr BITFIELD write GET u4 0",
        "ACL DRYRUN dr XREAD STREAMS read 0", "ACL DRYRUN dr XREAD STREAMS write 0",
        "ACL DRYRUN dr ZUNIONSTORE write 2 read rw1", "ACL DRYRUN dr ZUNIONSTORE read 2 read rw1",
        "ACL DRYRUN dr PUBLISH chan m", "ACL DRYRUN dr PUBLISH other m",
        "ACL DRYRUN dr SUBSCRIBE chan other", "ACL DRYRUN dr PSUBSCRIBE chan",
        "ACL DRYRUN dr PSUBSCRIBE ch*", "ACL DRYRUN dr UNSUBSCRIBE other",
        "ACL DRYRUN dr SPUBLISH other m", "ACL DRYRUN dr SSUBSCRIBE chan", "ACL DRYRUN dr2 GET k",
        "ACL DRYRUN dr2 GET x", "ACL DRYRUN dr2 SET w1 v", "ACL DRYRUN dr2 SET k v",
        "ACL DRYRUN dr2 MGET k o1", "ACL DRYRUN dr2 MGET o1 k x", "ACL DRYRUN dr2 DEL k",
        "ACL DRYRUN dr2 CONFIG GET x", "ACL DRYRUN dr2 AUTH x",
        /* bad input */
        "ACL DRYRUN nobody GET x", "ACL DRYRUN dr nocmd x", "ACL DRYRUN dr SET v",
        "ACL DRYRUN dr CONFIG NOPE", "ACL DRYRUN dr CONFIG", "ACL DRYRUN dr", "ACL DRYRUN dr GET",
        NULL};
    for (int i = 0; cmds[i]; i++) cmp(N_NONE, cmds[i]);
}

TEST(cat_categories) {
    cmp(N_NONE, "ACL CAT");
    cmp(N_NONE, "ACL CAT nope");
    cmp(N_NONE, "ACL CAT a b");
    /* every command both servers have sits in the same categories */
    redisReply *cl = redisCommand(l, "ACL CAT"), *all_l = redisCommand(l, "ACL CAT slow"),
               *all_r = redisCommand(r, "ACL CAT slow"), *fl = redisCommand(l, "ACL CAT fast"),
               *fr = redisCommand(r, "ACL CAT fast");
    CHECK(cl && cl->type == REDIS_REPLY_ARRAY);
    if (!cl || !all_l || !all_r || !fl || !fr) return;
    for (size_t c = 0; c < cl->elements; c++) {
        redisReply *a = redisCommand(l, "ACL CAT %s", cl->element[c]->str),
                   *b = redisCommand(r, "ACL CAT %s", cl->element[c]->str);
        /* in larder's list and a Redis command, but not in Redis's list (and back) */
        for (int side = 0; side < 2; side++) {
            redisReply *mine = side ? b : a, *other = side ? a : b;
            redisReply *other_all[2] = {side ? all_l : all_r, side ? fl : fr};
            for (size_t i = 0; i < mine->elements; i++) {
                const char *name = mine->element[i]->str;
                int known = 0, in_other = 0;
                for (int k = 0; k < 2; k++)
                    for (size_t j = 0; j < other_all[k]->elements; j++)
                        if (!strcmp(other_all[k]->element[j]->str, name)) known = 1;
                for (size_t j = 0; j < other->elements; j++)
                    if (!strcmp(other->element[j]->str, name)) in_other = 1;
                if (known && !in_other) {
                    test_cur_failed_++;
                    fprintf(stderr, "[cat] '%s' is in @%s on %s only\n", name, cl->element[c]->str,
                            side ? "redis" : "larder");
                }
            }
        }
        freeReplyObject(a);
        freeReplyObject(b);
    }
    freeReplyObject(cl);
    freeReplyObject(all_l);
    freeReplyObject(all_r);
    freeReplyObject(fl);
    freeReplyObject(fr);
}

TEST(auth_and_denials) {
    run_both("ACL LOG RESET");
    run_both("ACL SETUSER alice on >p1 ~k:* &ch* +get +set +acl|whoami +publish +subscribe "
             "+multi +exec +eval +incr");
    redisContext *la, *ra;
    connect_pair(&la, &ra);
    static const char *const cmds[] = {"AUTH alice bad", "AUTH nobody p1", "AUTH a b c",
                                       "AUTH p1",        "AUTH alice p1",  "ACL WHOAMI",
                                       "GET k:1",        "GET other",      "SET k:1 v",
                                       "DEL k:1",        "PUBLISH chan m", "PUBLISH zz m",
                                       "ACL USERS",      "MULTI",          "GET zz",
                                       "DEL k:1",        "GET k:1",        "EXEC",
                                       "MULTI",          "GET k:1",        NULL};
    for (int i = 0; cmds[i]; i++) {
        cmp2(la, ra, N_NONE, cmds[i]);
        if (!strcmp(cmds[i], "ACL USERS")) { /* scripts: denials in context lua */
            cmp2(la, ra, N_NONE, "EVAL %s 0", "return redis.call('incr','k:1')");
            cmp2(la, ra, N_NONE, "EVAL %s 0", "return redis.call('del','k:1')");
            cmp2(la, ra, N_NONE, "EVAL %s 0", "return redis.call('get','zz')");
            cmp2(la, ra, N_NONE, "EVAL %s 0", "return redis.acl_check_cmd('get','zz')");
            cmp2(la, ra, N_NONE, "EVAL %s 0", "return redis.acl_check_cmd('get','k:1')");
        }
    }
    /* rules change between queueing and EXEC */
    run_both("ACL SETUSER alice -get");
    cmp2(la, ra, N_NONE, "EXEC");
    cmp(N_LOG, "ACL LOG");
    cmp(N_LOG, "ACL LOG 2");
    cmp(N_LOG, "ACL LOG 0");
    cmp(N_LOG, "ACL LOG -1");
    cmp(N_NONE, "ACL LOG x");
    cmp(N_NONE, "ACL LOG 1 2");
    /* INFO counters (Redis 7.2's; 7.0 has none): on larder only */
    redisReply *info = redisCommand(l, "INFO stats");
    CHECK(info && strstr(info->str, "acl_access_denied_auth:2"));
    CHECK(info && strstr(info->str, "acl_access_denied_cmd:"));
    CHECK(info && strstr(info->str, "acl_access_denied_key:"));
    CHECK(info && strstr(info->str, "acl_access_denied_channel:1"));
    if (info) freeReplyObject(info);
    cmp(N_NONE, "ACL LOG RESET");
    cmp(N_LOG, "ACL LOG");
    /* HELLO AUTH */
    cmp2(la, ra, N_NONE, "HELLO 2 AUTH alice bad");
    cmp2(la, ra, N_NONE, "HELLO 2 AUTH alice");
    redisReply *h1 = redisCommand(la, "HELLO 2 AUTH alice p1"),
               *h2 = redisCommand(ra, "HELLO 2 AUTH alice p1");
    CHECK(h1 && h2 && h1->type == h2->type && h1->type == REDIS_REPLY_ARRAY);
    if (h1) freeReplyObject(h1);
    if (h2) freeReplyObject(h2);
    cmp2(la, ra, N_NONE, "ACL WHOAMI");
    cmp(N_LOG, "ACL LOG");
    /* a disabled user cannot log in */
    run_both("ACL SETUSER alice off");
    cmp2(la, ra, N_NONE, "AUTH alice p1");
    redisFree(la);
    redisFree(ra);
}

TEST(default_user_and_requirepass) {
    cmp(N_RULES, "ACL GETUSER default");
    cmp(N_NONE, "CONFIG SET requirepass secret");
    cmp(N_RULES, "ACL LIST");
    redisContext *la, *ra;
    connect_pair(&la, &ra);
    cmp2(la, ra, N_NONE, "GET x");
    cmp2(la, ra, N_NONE, "ACL WHOAMI");
    cmp2(la, ra, N_NONE, "AUTH wrong");
    cmp2(la, ra, N_NONE, "AUTH secret");
    cmp2(la, ra, N_NONE, "GET x");
    cmp2(la, ra, N_NONE, "RESET");
    cmp2(la, ra, N_NONE, "GET x");
    cmp2(la, ra, N_NONE, "HELLO 3");
    cmp2(la, ra, N_NONE, "AUTH default secret");
    cmp(N_NONE, "CONFIG SET requirepass %s", "");
    cmp(N_RULES, "ACL GETUSER default");
    cmp2(la, ra, N_NONE, "AUTH x");
    /* the default user switched off: new connections are not authenticated */
    run_both("ACL SETUSER default off");
    redisContext *lb, *rb;
    connect_pair(&lb, &rb);
    cmp2(lb, rb, N_NONE, "GET x");
    cmp2(lb, rb, N_NONE, "PING");
    cmp(N_NONE, "ACL SETUSER default on");
    cmp2(lb, rb, N_NONE, "GET x");
    redisFree(la);
    redisFree(ra);
    redisFree(lb);
    redisFree(rb);
}

/* The reply of a connection that the server closed: "(lost)" on both. */
static void check_closed(redisContext *a, redisContext *b) {
    cmp2(a, b, N_NONE, "PING");
}

TEST(deluser_and_revoked_subscribers) {
    run_both("ACL SETUSER zed on nopass +@all ~* &*");
    redisContext *la, *ra;
    connect_pair(&la, &ra);
    cmp2(la, ra, N_NONE, "AUTH zed x");
    cmp(N_NONE, "ACL DELUSER zed");
    check_closed(la, ra);
    redisFree(la);
    redisFree(ra);
    /* CLIENT KILL USER */
    run_both("ACL SETUSER kz on nopass +@all ~* &*");
    connect_pair(&la, &ra);
    cmp2(la, ra, N_NONE, "AUTH kz x");
    cmp(N_NONE, "CLIENT KILL USER nobody");
    cmp(N_NONE, "CLIENT KILL USER kz");
    check_closed(la, ra);
    redisFree(la);
    redisFree(ra);
    /* subscribers whose channel permission is revoked are disconnected */
    run_both("ACL SETUSER sub on nopass +@all ~* resetchannels &news &foo:*");
    redisContext *ls, *rs, *lk, *rk;
    connect_pair(&ls, &rs);
    connect_pair(&lk, &rk);
    cmp2(ls, rs, N_NONE, "AUTH sub x");
    cmp2(lk, rk, N_NONE, "AUTH sub x");
    cmp2(ls, rs, N_NONE, "SUBSCRIBE news");
    cmp2(lk, rk, N_NONE, "SUBSCRIBE foo:1");
    cmp2(ls, rs, N_NONE, "SUBSCRIBE sports");
    cmp(N_NONE, "ACL SETUSER sub resetchannels &news &foo:* &extra"); /* a superset: kept */
    cmp(N_NONE, "PUBLISH news hello");
    redisReply *m1, *m2;
    CHECK(redisGetReply(ls, (void **)&m1) == REDIS_OK &&
          redisGetReply(rs, (void **)&m2) == REDIS_OK);
    char *s1 = reply_str(m1), *s2 = reply_str(m2);
    CHECK_STR(s1, s2);
    free(s1);
    free(s2);
    freeReplyObject(m1);
    freeReplyObject(m2);
    cmp(N_NONE, "ACL SETUSER sub resetchannels &foo:*"); /* news revoked */
    check_closed(ls, rs);
    cmp(N_NONE, "PUBLISH foo:1 hello");
    CHECK(redisGetReply(lk, (void **)&m1) == REDIS_OK &&
          redisGetReply(rk, (void **)&m2) == REDIS_OK);
    s1 = reply_str(m1);
    s2 = reply_str(m2);
    CHECK_STR(s1, s2);
    free(s1);
    free(s2);
    freeReplyObject(m1);
    freeReplyObject(m2);
    redisFree(ls);
    redisFree(rs);
    redisFree(lk);
    redisFree(rk);
}

TEST(genpass) {
    const char *args[] = {"", " 1", " 5", " 256", " 4096"};
    size_t want[] = {64, 1, 2, 64, 1024};
    for (int i = 0; i < 5; i++) {
        char c[64];
        snprintf(c, sizeof(c), "ACL GENPASS%s", args[i]);
        redisReply *a = redisCommand(l, c), *b = redisCommand(r, c);
        CHECK(a && b && a->type == REDIS_REPLY_STRING && b->type == REDIS_REPLY_STRING);
        if (a && b) {
            CHECK_EQ(a->len, want[i]);
            CHECK_EQ(a->len, b->len);
            for (size_t k = 0; k < a->len; k++) CHECK(strchr("0123456789abcdef", a->str[k]));
        }
        if (a) freeReplyObject(a);
        if (b) freeReplyObject(b);
    }
    cmp(N_NONE, "ACL GENPASS 0");
    cmp(N_NONE, "ACL GENPASS -1");
    cmp(N_NONE, "ACL GENPASS 4097");
    cmp(N_NONE, "ACL GENPASS x");
    cmp(N_NONE, "ACL GENPASS 1 2");
}

static const char good_file[] = "user default on nopass ~* &* +@all\n"
                                "user alice on >alice ~* &* +@all\n"
                                "user bob on -@all +@set +acl ~set* &* >bob\n"
                                "\n"
                                "user carol on (+get ~rw*) (+set %W~w*)\n";

TEST(aclfile) {
    write_file(aclpath, good_file);
    cmp(N_NONE, "ACL LOAD");
    cmp(N_RULES, "ACL LIST");
    /* a duplicate user: LOAD fails and the old users stay */
    write_file(aclpath, "user default on nopass ~* &* +@all\nuser dup on\nuser dup off\n");
    cmp(N_NONE, "ACL LOAD");
    cmp(N_RULES, "ACL LIST");
    write_file(aclpath, "user default on nopass ~* &* +@all\nuser x on +nosuch\n");
    cmp(N_NONE, "ACL LOAD");
    write_file(aclpath, "user default on nopass ~* &* +@all\nuser x on foo bar\n");
    cmp(N_NONE, "ACL LOAD");
    write_file(aclpath, "user default on nopass ~* &* +@all\nnotauser x\n");
    cmp(N_NONE, "ACL LOAD");
    cmp(N_RULES, "ACL LIST");
    /* an unclosed selector: Redis 7.0.15 crashes on this file, so larder only */
    write_file(aclpath, "user default on nopass ~* &* +@all\nuser x on (+get\n");
    redisReply *u = redisCommand(l, "ACL LOAD");
    CHECK(u && u->type == REDIS_REPLY_ERROR &&
          strstr(u->str, "users.acl:2: Unmatched parenthesis in selector definition.") &&
          strstr(u->str, "no change to the previously active ACL rules was performed"));
    if (u) freeReplyObject(u);
    /* a file without the default user: it gets the default definition */
    write_file(aclpath, "user only on nopass ~* +@all\n");
    cmp(N_NONE, "ACL LOAD");
    cmp(N_RULES, "ACL LIST");
    /* clients of the users of the old set are disconnected by LOAD */
    write_file(aclpath, good_file);
    run_both("ACL LOAD");
    redisContext *la, *ra;
    connect_pair(&la, &ra);
    cmp2(la, ra, N_NONE, "AUTH alice alice");
    cmp2(la, ra, N_NONE, "ACL WHOAMI");
    cmp(N_NONE, "ACL LOAD");
    check_closed(la, ra);
    redisFree(la);
    redisFree(ra);
    /* SAVE writes the users as LIST shows them */
    run_both("ACL SETUSER saved on >pw %%R~r* (+get ~x)");
    cmp(N_NONE, "ACL SAVE");
    redisReply *a = redisCommand(l, "ACL SAVE");
    char *fl = read_file(aclpath);
    redisReply *b = redisCommand(r, "ACL SAVE");
    char *fr = read_file(aclpath);
    sort_rule_runs(fl, strlen(fl));
    sort_rule_runs(fr, strlen(fr));
    CHECK_STR(fl, fr);
    free(fl);
    free(fr);
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
    cmp(N_NONE, "ACL LOAD");
    cmp(N_RULES, "ACL LIST");
    /* a missing file at LOAD */
    unlink(aclpath);
    cmp(N_NONE, "ACL LOAD");
    cmp(N_RULES, "ACL LIST");
    cmp(N_NONE, "CONFIG SET aclfile /tmp/x.acl");
    write_file(aclpath, good_file);
}

/* Runs a server binary with args and returns its output (it must exit). */
static char *run_to_exit(const char *bin, const char *args) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "timeout 10 %s --port 0 --unixsocket %s/s.sock %s 2>&1", bin, acldir,
             args);
    FILE *p = popen(cmd, "r");
    if (!p) return strdup("");
    char *out = calloc(1, 16384);
    size_t n = fread(out, 1, 16383, p);
    out[n] = 0;
    pclose(p);
    return out;
}

TEST(startup_errors) {
    /* a missing aclfile at start: both refuse to start, with Redis's text */
    char args[256];
    snprintf(args, sizeof(args), "--aclfile %s/missing.acl", acldir);
    char *a = run_to_exit(larder_server_path(), args), *b = run_to_exit("redis-server", args);
    const char *want = "Error loading ACLs, opening file";
    CHECK(strstr(a, want) && strstr(b, want));
    CHECK(strstr(a, "Aborting Redis startup because of ACL errors") &&
          strstr(b, "Aborting Redis startup because of ACL errors"));
    free(a);
    free(b);
    /* a duplicate user in the aclfile at start */
    char path[160];
    snprintf(path, sizeof(path), "%s/dup.acl", acldir);
    write_file(path, "user a on\nuser a off\n");
    snprintf(args, sizeof(args), "--aclfile %s", path);
    a = run_to_exit(larder_server_path(), args);
    b = run_to_exit("redis-server", args);
    CHECK(strstr(a, "Duplicate user 'a' found on line 2") &&
          strstr(b, "Duplicate user 'a' found on line 2"));
    free(a);
    free(b);
    /* user lines and an aclfile together */
    snprintf(args, sizeof(args), "--aclfile %s --user x on", aclpath);
    a = run_to_exit(larder_server_path(), args);
    b = run_to_exit("redis-server", args);
    CHECK(strstr(a, "users defined in redis.conf and at the same setting an ACL file") &&
          strstr(b, "users defined in redis.conf and at the same setting an ACL file"));
    free(a);
    free(b);
    /* a bad rule in a user line */
    a = run_to_exit(larder_server_path(), "--user x on foo");
    b = run_to_exit("redis-server", "--user x on foo");
    CHECK(strstr(a, "Error in user declaration 'x': Syntax error") &&
          strstr(b, "Error in user declaration 'x': Syntax error"));
    free(a);
    free(b);
}

TEST(config_user_lines) {
    srv l2, r2;
    const char *const extra[] = {"--user",
                                 "alice",
                                 "on",
                                 ">pw",
                                 "~*",
                                 "+@all",
                                 "(+get",
                                 "~x)",
                                 "--user",
                                 "default",
                                 "on",
                                 "nopass",
                                 "~*",
                                 "&*",
                                 "+@all",
                                 "-flushall",
                                 "--acl-pubsub-default",
                                 "allchannels",
                                 NULL};
    CHECK(srv_start(&l2, extra) == 0);
    CHECK(srv_start_redis(&r2, extra) == 0);
    redisContext *a = srv_connect(&l2), *b = srv_connect(&r2);
    if (a && b) {
        cmp2(a, b, N_RULES, "ACL LIST");
        cmp2(a, b, N_NONE, "FLUSHALL");
        cmp2(a, b, N_NONE, "ACL LOAD");
        cmp2(a, b, N_NONE, "ACL SAVE");
        cmp2(a, b, N_NONE, "CONFIG GET acl-pubsub-default");
        cmp2(a, b, N_RULES, "ACL SETUSER newbie");
        cmp2(a, b, N_RULES, "ACL GETUSER newbie");
        cmp2(a, b, N_NONE, "CONFIG SET acl-pubsub-default resetchannels");
        cmp2(a, b, N_RULES, "ACL SETUSER newbie2");
        cmp2(a, b, N_RULES, "ACL LIST");
        cmp2(a, b, N_NONE, "CONFIG SET acl-pubsub-default nope");
        cmp2(a, b, N_NONE, "CONFIG GET user");
        cmp2(a, b, N_NONE, "CONFIG SET user %s", "x on");
        cmp2(a, b, N_NONE, "CONFIG GET aclfile");
        cmp2(a, b, N_NONE, "CONFIG GET acllog-max-len");
    }
    if (a) redisFree(a);
    if (b) redisFree(b);
    srv_stop(&l2);
    srv_stop(&r2);
}

TEST(requirepass_at_start) {
    srv l2, r2;
    const char *const extra[] = {"--requirepass", "foobar", NULL};
    CHECK(srv_start(&l2, extra) == 0);
    CHECK(srv_start_redis(&r2, extra) == 0);
    redisContext *a = srv_connect(&l2), *b = srv_connect(&r2);
    if (a && b) {
        cmp2(a, b, N_NONE, "GET x");
        cmp2(a, b, N_NONE, "AUTH wrong");
        cmp2(a, b, N_NONE, "AUTH default wrong");
        cmp2(a, b, N_NONE, "HELLO 2");
        cmp2(a, b, N_NONE, "AUTH foobar");
        cmp2(a, b, N_RULES, "ACL LIST");
        cmp2(a, b, N_NONE, "ACL WHOAMI");
    }
    if (a) redisFree(a);
    if (b) redisFree(b);
    srv_stop(&l2);
    srv_stop(&r2);
}

int main(void) {
    snprintf(acldir, sizeof(acldir), "/tmp/larder-acl-XXXXXX");
    if (!mkdtemp(acldir)) return 1;
    snprintf(aclpath, sizeof(aclpath), "%s/users.acl", acldir);
    write_file(aclpath, "user default on nopass ~* &* +@all\n");
    const char *const extra[] = {"--aclfile", aclpath, NULL};
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", acldir);
    if (srv_start(&L, extra) != 0 || srv_start_redis(&R, extra) != 0) {
        fprintf(stderr, "servers did not start\n");
        srv_stop(&L);
        if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", acldir);
        return 1;
    }
    l = srv_connect(&L);
    r = srv_connect(&R);
    RUN(setuser_getuser_list);
    RUN(selectors);
    RUN(dryrun);
    RUN(cat_categories);
    RUN(auth_and_denials);
    RUN(default_user_and_requirepass);
    RUN(deluser_and_revoked_subscribers);
    RUN(genpass);
    RUN(aclfile);
    RUN(startup_errors);
    RUN(config_user_lines);
    RUN(requirepass_at_start);
    redisFree(l);
    redisFree(r);
    srv_stop(&L);
    srv_stop(&R);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", acldir);
    return test_report();
}
