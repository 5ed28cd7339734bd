/* The I/O engines: choosing one (io-engine, LARDER_IO_ENGINE), the fallback
 * to epoll when io_uring cannot be set up (forced with LARDER_IO_URING_FAIL),
 * and the io_uring path's own edges: more clients at once than receive
 * buffers, replies larger than the socket takes, an output buffer limit hit
 * while a send is in flight, a busy script's caller sending meanwhile,
 * unix sockets, protocol errors and kills. The rest of the behaviour is the
 * integration suite's, which tests/run-all runs once per engine. */
#include "harness.h"
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Can this machine set up a ring at all? (The server's auto choice.) */
static int kernel_has_uring(void) {
    struct io_uring r;
    if (io_uring_queue_init(8, &r, 0) != 0) return 0;
    io_uring_queue_exit(&r);
    return 1;
}

static void set_env(const char *engine, const char *fail) {
    if (engine)
        setenv("LARDER_IO_ENGINE", engine, 1);
    else
        unsetenv("LARDER_IO_ENGINE");
    if (fail)
        setenv("LARDER_IO_URING_FAIL", fail, 1);
    else
        unsetenv("LARDER_IO_URING_FAIL");
}

static char *info_field(redisContext *c, const char *field) {
    redisReply *r = redisCommand(c, "INFO server");
    char *out = NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        char key[64];
        snprintf(key, sizeof key, "\r\n%s:", field);
        char *p = strstr(r->str, key);
        if (p) {
            p += strlen(key);
            out = strndup(p, strcspn(p, "\r\n"));
        }
    }
    if (r) freeReplyObject(r);
    return out ? out : strdup("(none)");
}

/* Runs larder-server on a unix socket only with extra args; reads its output
 * until it is ready or exits. Returns its pid (ready) or -1 (exited: *status
 * set); out gets the output so far. */
typedef struct usrv {
    pid_t pid;
    int out_fd;
    char dir[64], sock[128];
    char out[8192];
} usrv;

static pid_t usrv_start(usrv *u, const char *const *extra, int *status) {
    snprintf(u->dir, sizeof u->dir, "/tmp/larder-ioeng-XXXXXX");
    if (!mkdtemp(u->dir)) return -1;
    snprintf(u->sock, sizeof u->sock, "%s/s.sock", u->dir);
    const char *argv[32] = {
        larder_server_path(), "--port", "0", "--unixsocket", u->sock, "--dir", u->dir};
    int argc = 7;
    for (int i = 0; extra && extra[i]; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    u->out_fd = pfd[0];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(u->out_fd, u->out + used, sizeof(u->out) - used - 1);
        if (n <= 0) break;
        used += (size_t)n;
        u->out[used] = '\0';
        if (strstr(u->out, "Ready to accept connections")) {
            u->pid = pid;
            return pid;
        }
    }
    waitpid(pid, status, 0);
    close(u->out_fd);
    return -1;
}

static void usrv_stop(usrv *u) {
    kill(u->pid, SIGTERM);
    int st;
    waitpid(u->pid, &st, 0);
    close(u->out_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", u->dir);
    if (system(cmd) != 0) { /* best effort */
    }
}

TEST(default_engine_is_uring_when_available) {
    set_env(NULL, NULL);
    srv s;
    CHECK(srv_start(&s, NULL) == 0);
    redisContext *c = srv_connect(&s);
    char *e = info_field(c, "io_engine");
    CHECK_STR(e, kernel_has_uring() ? "io_uring" : "epoll");
    free(e);
    CHECK_CMD(c, "[io-engine,auto]", "CONFIG GET io-engine");
    CHECK_CMD(c, "[]", "CONFIG GET io-eng*"); /* Redis's suite sets every listed one */
    /* chosen at start: not changeable at run time */
    char *r = cmd_str(c, "CONFIG SET io-engine epoll");
    CHECK(r && strstr(r, "-ERR") == r && strstr(r, "immutable"));
    free(r);
    redisFree(c);
    srv_stop(&s);
}

TEST(forced_setup_failure_falls_back_to_epoll) {
    set_env(NULL, "1");
    usrv u;
    int st = 0;
    const char *extra[] = {NULL};
    CHECK(usrv_start(&u, extra, &st) > 0);
    CHECK(strstr(u.out, "I/O engine: epoll (io_uring could not be set up: Function not "
                        "implemented)") != NULL);
    redisContext *c = redisConnectUnix(u.sock);
    CHECK(c && !c->err);
    CHECK_CMD(c, "+OK", "SET k v");
    CHECK_CMD(c, "v", "GET k");
    char *e = info_field(c, "io_engine");
    CHECK_STR(e, "epoll");
    free(e);
    redisFree(c);
    usrv_stop(&u);
    set_env(NULL, NULL);
}

TEST(uring_required_but_unavailable_refuses_to_start) {
    set_env(NULL, "1");
    usrv u;
    int st = 0;
    const char *extra[] = {"--io-engine", "uring", NULL};
    CHECK(usrv_start(&u, extra, &st) < 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    CHECK(strstr(u.out, "larder: io_uring could not be set up: Function not implemented "
                        "(io-engine uring; auto falls back to epoll)") != NULL);
    set_env(NULL, NULL);
}

TEST(environment_overrides_config_and_is_checked) {
    if (!kernel_has_uring()) return;
    usrv u;
    int st = 0;
    set_env("uring", NULL);
    const char *extra[] = {"--io-engine", "epoll", NULL};
    CHECK(usrv_start(&u, extra, &st) > 0);
    CHECK(strstr(u.out, "I/O engine: io_uring") != NULL);
    redisContext *c = redisConnectUnix(u.sock);
    char *e = info_field(c, "io_engine");
    CHECK_STR(e, "io_uring");
    free(e);
    CHECK_CMD(c, "[io-engine,epoll]", "CONFIG GET io-engine");
    redisFree(c);
    usrv_stop(&u);

    set_env("epoll", NULL);
    CHECK(usrv_start(&u, NULL, &st) > 0);
    CHECK(strstr(u.out, "I/O engine: epoll") != NULL);
    usrv_stop(&u);

    set_env("sideways", NULL);
    CHECK(usrv_start(&u, NULL, &st) < 0);
    CHECK(strstr(u.out, "LARDER_IO_ENGINE must be auto, uring or epoll") != NULL);

    set_env(NULL, NULL);
    const char *bad[] = {"--io-engine", "kqueue", NULL};
    CHECK(usrv_start(&u, bad, &st) < 0);
    CHECK(strstr(u.out, "io-engine") != NULL);
}

/* The engine the rest of the tests run on: LARDER_IO_ENGINE as run-all set
 * it (they hold on both). */
static const char *suite_engine;

static void start_suite_server(srv *s, const char *const *extra) {
    set_env(suite_engine, NULL);
    CHECK(srv_start(s, extra) == 0);
}

/* 600 clients' requests arrive while the server is stopped, so that they all
 * complete in one batch: more than the 512 receive buffers (the multishot
 * receives that run out are armed again). */
TEST(more_clients_at_once_than_buffers) {
    srv s;
    start_suite_server(&s, NULL);
    enum { N = 600 };
    int fds[N];
    for (int i = 0; i < N; i++) fds[i] = srv_raw_socket(&s);
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "+PONG", "PING"); /* every connection accepted */
    kill(s.pid, SIGSTOP);
    char req[64];
    for (int i = 0; i < N; i++) {
        int n = snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$1\r\nv\r\n", i);
        CHECK(raw_send(fds[i], req, (size_t)n) == 0);
    }
    kill(s.pid, SIGCONT);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        char *r = raw_reply_str(fds[i]);
        ok += r && !strcmp(r, "+OK");
        free(r);
        close(fds[i]);
    }
    CHECK_EQ(ok, N);
    CHECK_CMD(c, ":600", "DBSIZE");
    redisFree(c);
    srv_stop(&s);
}

/* A value larger than any receive buffer, and replies larger than the socket
 * takes at once (sent in parts while the client does not read). */
TEST(big_values_and_partial_sends) {
    srv s;
    start_suite_server(&s, NULL);
    redisContext *c = srv_connect(&s);
    size_t len = 3 * 1024 * 1024 + 17;
    char *v = malloc(len);
    for (size_t i = 0; i < len; i++) v[i] = (char)('a' + i % 26);
    redisReply *r = redisCommand(c, "SET big %b", v, len);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    for (int i = 0; i < 20; i++) redisAppendCommand(c, "GET big");
    for (int i = 0; i < 20; i++) { /* 60 MB queued before the first is read */
        r = NULL;
        CHECK(redisGetReply(c, (void **)&r) == REDIS_OK);
        CHECK(r && r->type == REDIS_REPLY_STRING && r->len == len && !memcmp(r->str, v, len));
        if (r) freeReplyObject(r);
    }
    /* 10,000 pipelined requests in one write */
    for (int i = 0; i < 10000; i++) redisAppendCommand(c, "INCR n");
    long long last = 0;
    for (int i = 0; i < 10000; i++) {
        r = NULL;
        redisGetReply(c, (void **)&r);
        if (r && r->type == REDIS_REPLY_INTEGER) last = r->integer;
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(last, 10000);
    free(v);
    redisFree(c);
    srv_stop(&s);
}

/* Reads until the peer closes (1) or 10 s pass (0). */
static int closed_by_server(int fd) {
    char buf[65536];
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0) return 0;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return 1;
    }
    return 0;
}

/* The limit is hit while a send of the client's replies is in flight (the
 * client does not read): it is closed, the server goes on. */
TEST(output_buffer_limit_while_a_send_waits) {
    srv s;
    const char *extra[] = {"--client-output-buffer-limit", "normal 4mb 0 0", NULL};
    start_suite_server(&s, extra);
    redisContext *c = srv_connect(&s);
    redisReply *r = redisCommand(c, "SETRANGE w 1048575 x");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1048576);
    if (r) freeReplyObject(r);
    int fd = srv_raw_socket(&s);
    char *many = malloc(64 * 32);
    size_t n = 0;
    for (int i = 0; i < 64; i++) n += (size_t)sprintf(many + n, "*2\r\n$3\r\nGET\r\n$1\r\nw\r\n");
    CHECK(raw_send(fd, many, n) == 0);
    free(many);
    CHECK(closed_by_server(fd));
    close(fd);
    CHECK_CMD(c, "+PONG", "PING");
    char *st = cmd_str(c, "INFO stats");
    CHECK(st && strstr(st, "client_output_buffer_limit_disconnections:1"));
    free(st);
    redisFree(c);
    srv_stop(&s);
}

/* A protocol error gets its reply, then the connection closes; CLIENT KILL
 * and QUIT close it too. */
TEST(errors_and_kills_close) {
    srv s;
    start_suite_server(&s, NULL);
    int fd = srv_raw_socket(&s);
    CHECK(raw_send(fd, "*1\r\n$x\r\n", 8) == 0);
    char *r = raw_reply_str(fd);
    CHECK(r && !strncmp(r, "-ERR Protocol error", 19));
    free(r);
    CHECK(closed_by_server(fd));
    close(fd);

    redisContext *a = srv_connect(&s), *b = srv_connect(&s);
    redisReply *id = redisCommand(a, "CLIENT ID");
    CHECK(id && id->type == REDIS_REPLY_INTEGER);
    CHECK_CMD(b, ":1", "CLIENT KILL ID %lld", id ? id->integer : 0);
    if (id) freeReplyObject(id);
    redisReply *gone = redisCommand(a, "PING");
    CHECK(gone == NULL);
    if (gone) freeReplyObject(gone);
    fd = srv_raw_socket(&s);
    CHECK(raw_send(fd, "QUIT\r\n", 6) == 0);
    r = raw_reply_str(fd);
    CHECK_STR(r, "+OK");
    free(r);
    CHECK(closed_by_server(fd));
    close(fd);
    CHECK_CMD(b, "+PONG", "PING");
    redisFree(a);
    redisFree(b);
    srv_stop(&s);
}

/* While a script is busy, other clients get -BUSY, and what the script's own
 * client sends meanwhile waits for the script's end, then runs. */
TEST(busy_script_caller_sends_meanwhile) {
    srv s;
    const char *extra[] = {"--busy-reply-threshold", "50", NULL};
    start_suite_server(&s, extra);
    int a = srv_raw_socket(&s);
    redisContext *b = srv_connect(&s);
    const char *eval = "EVAL \"while true do end\" 0\r\n";
    CHECK(raw_send(a, eval, strlen(eval)) == 0);
    char *r = NULL;
    for (int i = 0; i < 200; i++) { /* until the script is busy */
        r = cmd_str(b, "PING");
        if (r && !strncmp(r, "-BUSY", 5)) break;
        free(r);
        r = NULL;
    }
    CHECK(r != NULL);
    free(r);
    CHECK(raw_send(a, "PING\r\n", 6) == 0); /* arrives while its script runs */
    CHECK_CMD(b, "+OK", "SCRIPT KILL");
    r = raw_reply_str(a);
    CHECK(r && strstr(r, "-ERR") == r);
    free(r);
    r = raw_reply_str(a);
    CHECK_STR(r, "+PONG");
    free(r);
    close(a);
    redisFree(b);
    srv_stop(&s);
}

/* Pub/sub and MONITOR over the unix socket (on the ring like TCP). */
TEST(unix_socket_pubsub_and_monitor) {
    usrv u;
    int st = 0;
    set_env(suite_engine, NULL);
    CHECK(usrv_start(&u, NULL, &st) > 0);
    redisContext *sub = redisConnectUnix(u.sock), *pub = redisConnectUnix(u.sock),
                 *mon = redisConnectUnix(u.sock);
    CHECK_CMD(sub, "[subscribe,ch,:1]", "SUBSCRIBE ch");
    CHECK_CMD(mon, "+OK", "MONITOR");
    CHECK_CMD(pub, ":1", "PUBLISH ch hello");
    redisReply *m = NULL;
    CHECK(redisGetReply(sub, (void **)&m) == REDIS_OK);
    char *got = m ? reply_str(m) : NULL;
    CHECK_STR(got, "[message,ch,hello]");
    free(got);
    if (m) freeReplyObject(m);
    m = NULL;
    CHECK(redisGetReply(mon, (void **)&m) == REDIS_OK);
    CHECK(m && m->type == REDIS_REPLY_STATUS && strstr(m->str, "\"PUBLISH\" \"ch\" \"hello\""));
    if (m) freeReplyObject(m);
    redisFree(sub);
    redisFree(pub);
    redisFree(mon);
    usrv_stop(&u);
}

/* SHUTDOWN from a client that closes right after sending it: the peer's
 * close can be handled in the same loop turn as the command (the io_uring
 * path frees a client as its close arrives); the server must still exit
 * cleanly. SHUTDOWN once marked its client for closing without queueing it,
 * and freeing it then crashed (one run in ten under load). */
TEST(shutdown_then_close_exits_cleanly) {
    for (int round = 0; round < 10; round++) {
        srv lx;
        CHECK(srv_start(&lx, NULL) == 0);
        int fd = srv_raw_socket(&lx);
        CHECK(fd >= 0);
        raw_send(fd, "SET k v\r\nSHUTDOWN NOSAVE\r\n", 26);
        shutdown(fd, SHUT_WR);
        int st = srv_wait_exit(&lx);
        close(fd);
        CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

int main(void) {
    const char *e = getenv("LARDER_IO_ENGINE");
    suite_engine = e && *e ? strdup(e) : NULL;
    RUN(default_engine_is_uring_when_available);
    RUN(forced_setup_failure_falls_back_to_epoll);
    RUN(uring_required_but_unavailable_refuses_to_start);
    RUN(environment_overrides_config_and_is_checked);
    RUN(more_clients_at_once_than_buffers);
    RUN(big_values_and_partial_sends);
    RUN(output_buffer_limit_while_a_send_waits);
    RUN(errors_and_kills_close);
    RUN(busy_script_caller_sends_meanwhile);
    RUN(unix_socket_pubsub_and_monitor);
    RUN(shutdown_then_close_exits_cleanly);
    return test_report();
}
