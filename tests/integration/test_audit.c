/* tests/integration/test_audit.c — the audit log (audit-log, audit-events):
 * which events are written and with what fields, that no password reaches
 * the file, write errors (/dev/full) reported in INFO and the server log
 * without stopping the server, CONFIG SET of both directives, reopening on
 * SIGHUP, and SQL.EXEC / DDL events from the store.
 *
 * An event is in the file before its command's reply leaves the server, so
 * the tests read the file right after a reply. */
#include "harness.h"
#include "pkit.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/larder-audit-XXXXXX");
    if (!mkdtemp(tmpdir)) perror("mkdtemp");
}

static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) { /* best effort */
    }
}

static char *path_in_tmp(const char *name) {
    static char p[8][320];
    static int i;
    char *r = p[i++ % 8];
    snprintf(r, 320, "%s/%s", tmpdir, name);
    return r;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 1024) b = realloc(b, cap *= 2);
    }
    fclose(f);
    b[n] = '\0';
    return b;
}

/* Lines of text containing every one of the needles (NULL-terminated). */
static int count_lines(const char *text, const char *const *needles) {
    int n = 0;
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *l = strndup(line, len);
        int all = 1;
        for (int i = 0; needles[i]; i++)
            if (!strstr(l, needles[i])) all = 0;
        n += all;
        free(l);
        line = end ? end + 1 : NULL;
    }
    return n;
}
#define LINES(text, ...) count_lines(text, (const char *const[]){__VA_ARGS__, NULL})

/* Every line looks like one JSON object of ours. */
static int well_formed(const char *text) {
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        if (!end) return 0;
        if (strncmp(line, "{\"time\":\"", 9) != 0 || end[-1] != '}') return 0;
        line = end + 1;
    }
    return 1;
}

/* Reads the server's output until it contains needle (or 10 s). */
static int wait_output(srv *s, const char *needle) {
    char buf[65536];
    size_t used = 0;
    time_t deadline = time(NULL) + 10;
    while (time(NULL) < deadline) {
        struct pollfd p = {s->out_fd, POLLIN, 0};
        if (poll(&p, 1, 500) <= 0) continue;
        ssize_t n = read(s->out_fd, buf + used, sizeof buf - used - 1);
        if (n <= 0) return 0;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, needle)) return 1;
        if (used > sizeof buf / 2) {
            memmove(buf, buf + used - 1024, 1024);
            used = 1024;
        }
    }
    return 0;
}

static long long info_num(redisContext *c, const char *name) {
    redisReply *r = redisCommand(c, "INFO audit");
    long long v = -1;
    char key[128];
    snprintf(key, sizeof key, "%s:", name);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    if (p) v = atoll(p + strlen(key));
    freeReplyObject(r);
    return v;
}

static char *info_str(redisContext *c, const char *name) {
    redisReply *r = redisCommand(c, "INFO audit");
    char key[128], *out = strdup("");
    snprintf(key, sizeof key, "%s:", name);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    if (p) {
        free(out);
        out = strndup(p + strlen(key), strcspn(p + strlen(key), "\r\n"));
    }
    freeReplyObject(r);
    return out;
}

TEST(events_fields_and_no_passwords) {
    make_tmpdir();
    const char *log = path_in_tmp("audit.log");
    const char *args[] = {"--audit-log", log, "--requirepass", "s3cretPW1", NULL};
    srv s;
    CHECK(srv_start(&s, args) == 0);
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "-NOAUTH Authentication required.", "SET k v");
    CHECK_CMD(c, "-WRONGPASS invalid username-password pair or user is disabled.", "AUTH wr0ngPW");
    CHECK_CMD(c, "+OK", "AUTH s3cretPW1");
    char *r = cmd_str(c, "HELLO 2 AUTH default s3cretPW1");
    CHECK(r && r[0] == '[');
    free(r);
    CHECK_CMD(c, "+OK", "CONFIG SET maxmemory 10mb");
    CHECK_CMD(c, "+OK", "CONFIG SET requirepass n3wPW2 maxmemory 0");
    r = cmd_str(c, "CONFIG SET no-such-thing 1");
    CHECK(r && !strncmp(r, "-ERR Unknown option", 19));
    free(r);
    CHECK_CMD(c, "-ERR The server is running without a config file", "CONFIG REWRITE");
    CHECK_CMD(c, "+OK", "SELECT 3");
    CHECK_CMD(c, "+OK", "FLUSHDB");
    CHECK_CMD(c, "+OK", "FLUSHALL ASYNC");
    CHECK_CMD(c, "+OK", "DEBUG SLEEP 0");
    CHECK_CMD(c, "+OK", "MULTI");
    CHECK_CMD(c, "+QUEUED", "FLUSHALL");
    CHECK_CMD(c, "[+OK]", "EXEC");
    CHECK_CMD(c, "+OK", "EVAL %s 0", "return redis.call('flushall')");
    CHECK_CMD(c, "+PONG", "PING");  /* not audited */
    CHECK_CMD(c, "(nil)", "GET k"); /* nor this */
    char *text = slurp(log);
    if (getenv("AUDIT_SHOW")) fputs(text, stderr);
    CHECK(well_formed(text));
    CHECK(LINES(text, "\"class\":\"denied\"", "\"command\":\"set\"", "\"outcome\":\"denied\"",
                "\"reason\":\"NOAUTH Authentication required.\"") == 1);
    CHECK(LINES(text, "\"class\":\"auth\"", "\"outcome\":\"err\"", "WRONGPASS") == 1);
    CHECK(LINES(text, "\"class\":\"auth\"", "\"command\":\"auth\"", "\"outcome\":\"ok\"",
                "\"auth_user\":\"default\"") == 1);
    CHECK(LINES(text, "\"class\":\"auth\"", "\"command\":\"hello\"", "\"outcome\":\"ok\"") == 1);
    CHECK(LINES(text, "\"command\":\"config|set\"", "\"args\":[\"maxmemory\",\"10mb\"]",
                "\"outcome\":\"ok\"") == 1);
    CHECK(LINES(text, "\"args\":[\"requirepass\",\"<redacted>\",\"maxmemory\",\"0\"]") == 1);
    CHECK(LINES(text, "\"command\":\"config|set\"", "\"outcome\":\"err\"",
                "\"reason\":\"ERR Unknown option") == 1);
    CHECK(LINES(text, "\"command\":\"config|rewrite\"", "\"outcome\":\"err\"") == 1);
    CHECK(LINES(text, "\"class\":\"flush\"", "\"command\":\"flushdb\"", "\"db\":3") == 1);
    CHECK(LINES(text, "\"class\":\"flush\"", "\"command\":\"flushall\"") == 3); /* MULTI, EVAL */
    CHECK(LINES(text, "\"class\":\"debug\"", "\"args\":[\"SLEEP\",\"0\"]") == 1);
    CHECK(LINES(text, "\"user\":\"default\"", "\"client\":\"127.0.0.1:") == 13);
    CHECK(!strstr(text, "s3cretPW1") && !strstr(text, "n3wPW2") && !strstr(text, "wr0ngPW"));
    CHECK(!strstr(text, "ping") && !strstr(text, "\"get\""));
    CHECK_EQ(info_num(c, "audit_events_written"), 13);
    CHECK_EQ(info_num(c, "audit_write_errors"), 0);
    free(text);
    redisFree(c);
    srv_stop(&s); /* SIGTERM: a shutdown event */
    text = slurp(log);
    CHECK(LINES(text, "\"class\":\"shutdown\"", "\"reason\":\"SIGTERM\"") == 1);
    free(text);
    remove_tmpdir();
}

TEST(shutdown_command_and_denied_per_connection) {
    make_tmpdir();
    const char *log = path_in_tmp("audit.log");
    const char *args[] = {"--audit-log", log, "--requirepass", "pw", NULL};
    srv s;
    CHECK(srv_start(&s, args) == 0);
    redisContext *c = srv_connect(&s);
    for (int i = 0; i < 40; i++) CHECK_CMD(c, "-NOAUTH Authentication required.", "PING");
    redisFree(c);
    /* the summary comes when the server sees the close: await it */
    char *text = NULL;
    for (int i = 0; i < 500; i++) {
        free(text);
        text = slurp(log);
        if (strstr(text, "\"count\":24")) break;
        usleep(10000);
    }
    CHECK(LINES(text, "\"class\":\"denied\"", "\"command\":\"ping\"") == 16);
    CHECK(LINES(text, "\"class\":\"denied\"", "\"count\":24", "24 more denied") == 1);
    free(text);
    c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "AUTH pw");
    CHECK_CMD(c, "-ERR syntax error", "SHUTDOWN BOGUS");
    redisReply *r = redisCommand(c, "SHUTDOWN NOSAVE");
    CHECK(r == NULL); /* no reply: the server exits */
    freeReplyObject(r);
    redisFree(c);
    srv_stop(&s);
    text = slurp(log);
    CHECK(LINES(text, "\"class\":\"shutdown\"", "\"outcome\":\"err\"", "syntax error") == 1);
    CHECK(LINES(text, "\"class\":\"shutdown\"", "\"args\":[\"NOSAVE\"]", "\"outcome\":\"ok\"") ==
          1);
    CHECK(LINES(text, "\"class\":\"shutdown\"") == 2); /* not a second one at exit */
    free(text);
    remove_tmpdir();
}

TEST(write_errors_do_not_stop_the_server) {
    make_tmpdir();
    const char *log = path_in_tmp("a.log"), *log2 = path_in_tmp("b.log");
    const char *args[] = {"--audit-log", log, NULL};
    srv s;
    CHECK(srv_start(&s, args) == 0);
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "CONFIG SET audit-log /dev/full");
    for (int i = 0; i < 5; i++) CHECK_CMD(c, "+OK", "CONFIG SET maxmemory 0");
    CHECK_CMD(c, "+PONG", "PING");
    CHECK(info_num(c, "audit_write_errors") >= 5);
    CHECK(info_num(c, "audit_events_dropped") >= 5);
    char *e = info_str(c, "audit_last_error");
    CHECK_STR(e, "No space left on device");
    free(e);
    CHECK(info_num(c, "audit_last_error_time") > 0);
    CHECK(wait_output(&s, "Audit log /dev/full: write failed: No space left on device"));
    /* a file that works again: the first line says what was lost */
    CHECK_CMD(c, "+OK", "CONFIG SET audit-log %s", log2);
    CHECK_CMD(c, "+OK", "FLUSHALL");
    char *text = slurp(log2);
    CHECK(well_formed(text));
    CHECK(!strncmp(text, "{\"time\":", 8) && strstr(text, "\"class\":\"audit\"") &&
          strstr(text, "events lost: No space left on device"));
    CHECK(LINES(text, "\"command\":\"flushall\"") == 1);
    free(text);
    /* a file that cannot be opened is refused; the old one stays */
    char *r = cmd_str(c, "CONFIG SET audit-log /nonexistent-dir/x.log");
    CHECK(r && strstr(r, "can't open the audit log '/nonexistent-dir/x.log'"));
    free(r);
    redisReply *g = redisCommand(c, "CONFIG GET audit-log");
    CHECK(g && g->type == REDIS_REPLY_ARRAY && g->elements == 2 &&
          !strcmp(g->element[1]->str, log2));
    freeReplyObject(g);
    CHECK_CMD(c, "+OK", "FLUSHDB");
    text = slurp(log2);
    CHECK(LINES(text, "\"command\":\"flushdb\"") == 1);
    free(text);
    /* off */
    CHECK_CMD(c, "+OK", "CONFIG SET audit-log %s", "");
    CHECK_CMD(c, "+OK", "FLUSHDB");
    CHECK_EQ(info_num(c, "audit_enabled"), 0);
    text = slurp(log2);
    CHECK(LINES(text, "\"command\":\"flushdb\"") == 1);
    free(text);
    redisFree(c);
    srv_stop(&s);
    remove_tmpdir();
}

TEST(event_classes_config) {
    make_tmpdir();
    const char *log = path_in_tmp("a.log");
    const char *args[] = {"--audit-log", log, "--audit-events", "flush,debug", NULL};
    srv s;
    CHECK(srv_start(&s, args) == 0);
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "[audit-events,flush debug]", "CONFIG GET audit-events");
    CHECK_CMD(c, "+OK", "CONFIG SET maxmemory 0");
    CHECK_CMD(c, "+OK", "FLUSHALL");
    char *r = cmd_str(c, "CONFIG SET audit-events %s", "flush nosuch");
    CHECK(r && strstr(r, "unknown audit event class 'nosuch'"));
    free(r);
    CHECK_CMD(c, "[audit-events,flush debug]", "CONFIG GET audit-events");
    CHECK_CMD(c, "+OK", "CONFIG SET audit-events %s", "config denied");
    CHECK_CMD(c, "+OK", "FLUSHALL");
    CHECK_CMD(c, "+OK", "CONFIG SET audit-events all");
    CHECK_CMD(c, "[audit-events,all]", "CONFIG GET audit-events");
    CHECK_CMD(c, "+OK", "CONFIG SET audit-events none");
    CHECK_CMD(c, "[audit-events,none]", "CONFIG GET audit-events");
    CHECK_CMD(c, "+OK", "FLUSHALL");
    char *text = slurp(log);
    CHECK(LINES(text, "\"command\":\"flushall\"") == 1);
    CHECK(LINES(text, "\"command\":\"config|set\"") == 2); /* the class is the one before */
    free(text);
    redisFree(c);
    srv_stop(&s);
    remove_tmpdir();
}

TEST(reopened_on_sighup) {
    make_tmpdir();
    const char *log = path_in_tmp("a.log"), *rotated = path_in_tmp("a.log.1");
    const char *args[] = {"--audit-log", log, NULL};
    srv s;
    CHECK(srv_start(&s, args) == 0);
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "FLUSHDB");
    CHECK(rename(log, rotated) == 0);
    kill(s.pid, SIGHUP);
    CHECK(wait_output(&s, "reopened"));
    CHECK_CMD(c, "+OK", "FLUSHALL");
    char *old = slurp(rotated), *now = slurp(log);
    CHECK(LINES(old, "\"command\":\"flushdb\"") == 1 && LINES(old, "flushall") == 0);
    CHECK(LINES(now, "\"command\":\"flushall\"") == 1 && LINES(now, "flushdb") == 0);
    struct stat st;
    CHECK(stat(log, &st) == 0 && (st.st_mode & 0777) == 0600);
    free(old);
    free(now);
    /* a reopen that fails keeps the old file: the path's folder is replaced
     * by a file, which even root cannot open a file under */
    CHECK(rename(log, rotated) == 0);
    char moved[400];
    snprintf(moved, sizeof moved, "%s.away", tmpdir);
    CHECK(rename(tmpdir, moved) == 0);
    FILE *blocker = fopen(tmpdir, "w");
    CHECK(blocker != NULL);
    if (blocker) fclose(blocker);
    kill(s.pid, SIGHUP);
    CHECK(wait_output(&s, "reopen failed"));
    CHECK(unlink(tmpdir) == 0 && rename(moved, tmpdir) == 0);
    CHECK_CMD(c, "+OK", "FLUSHDB");
    now = slurp(rotated);
    CHECK(LINES(now, "\"command\":\"flushdb\"") == 1);
    free(now);
    CHECK_CMD(c, "+PONG", "PING");
    redisFree(c);
    srv_stop(&s);
    remove_tmpdir();
}

TEST(start_refused_when_the_file_cannot_open) {
    const char *args[] = {"--audit-log", "/nonexistent-dir/audit.log", NULL};
    srv s;
    /* the harness reports the failed start; the server printed why */
    CHECK(srv_start(&s, args) != 0);
}

TEST(sql_exec_and_ddl) {
    make_tmpdir();
    const char *log = path_in_tmp("a.log");
    const char *args[] = {"--audit-log", log, NULL};
    pk_env e = {0};
    CHECK(pk_start(&e, args) == 0);
    redisContext *c = srv_connect(&e.s);
    char *r = cmd_str(c, "SQL.EXEC %s", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    CHECK(r && r[0] == ':');
    free(r);
    CHECK_CMD(c, ":1", "SQL.EXEC %s 1 secretvalue", "INSERT INTO t VALUES (?, ?)");
    r = cmd_str(c, "SQL.EXEC %s", "INSERT INTO t VALUES (1, 'x')");
    CHECK(r && r[0] == '-');
    free(r);
    r = cmd_str(c, "SQL.QUERY %s", "SELECT v FROM t");
    CHECK_STR(r, "[[secretvalue]]");
    free(r);
    CHECK_CMD(c, "+OK", "MULTI");
    r = cmd_str(c, "SQL.EXEC %s", "DROP TABLE t");
    free(r);
    CHECK_CMD(c, "+OK", "DISCARD");
    r = cmd_str(c, "SQL.EXEC %s", "/* why */ drop TABLE t");
    CHECK(r && r[0] == ':');
    free(r);
    char *text = slurp(log);
    CHECK(well_formed(text));
    CHECK(LINES(text, "\"class\":\"ddl\"", "CREATE TABLE t", "\"outcome\":\"ok\"") == 1);
    CHECK(LINES(text, "\"class\":\"sql\"", "\"params\":2", "\"outcome\":\"ok\"") == 1);
    CHECK(LINES(text, "\"class\":\"sql\"", "\"outcome\":\"err\"", "UNIQUE") == 1);
    CHECK(LINES(text, "\"class\":\"ddl\"", "drop TABLE", "\"outcome\":\"ok\"") == 1);
    CHECK(!strstr(text, "secretvalue"));     /* parameters are not written */
    CHECK(!strstr(text, "SELECT v FROM t")); /* SQL.QUERY is not audited */
    free(text);
    redisFree(c);
    pk_cleanup(&e);
    remove_tmpdir();
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(events_fields_and_no_passwords);
    RUN(shutdown_command_and_denied_per_connection);
    RUN(write_errors_do_not_stop_the_server);
    RUN(event_classes_config);
    RUN(reopened_on_sighup);
    RUN(start_refused_when_the_file_cannot_open);
    RUN(sql_exec_and_ddl);
    return test_report();
}
