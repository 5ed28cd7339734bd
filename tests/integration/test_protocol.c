/* Protocol and connection limits over raw sockets: malformed RESP closes only
 * the offending connection with Redis's error; every limit (bulk length,
 * query buffer, output buffer, maxclients, timeout) is enforced; inline
 * commands and deep pipelines work; SIGTERM and SHUTDOWN exit cleanly; a
 * taken port is reported in one clear line. */
#include "harness.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* 1 when the peer closed the connection (read returns 0 or ECONNRESET). */
static int closed_by_peer(int fd) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0) return 1;
        if (n < 0) return errno == ECONNRESET;
    }
}

static srv s;

static void expect_protocol_error(const char *payload, const char *expected) {
    int fd = srv_raw_socket(&s);
    CHECK(fd >= 0);
    raw_send(fd, payload, strlen(payload));
    char *r = raw_reply_str(fd);
    CHECK_STR(r, expected);
    free(r);
    CHECK(closed_by_peer(fd));
    close(fd);
}

TEST(malformed_requests_close_only_that_connection) {
    int other = srv_raw_socket(&s);
    expect_protocol_error("*x\r\n", "-ERR Protocol error: invalid multibulk length");
    expect_protocol_error("*1\r\n+foo\r\n", "-ERR Protocol error: expected '$', got '+'");
    expect_protocol_error("*1\r\n$-3\r\n", "-ERR Protocol error: invalid bulk length");
    expect_protocol_error("set a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request");
    /* an inline request longer than 64 KiB without a newline */
    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = 0;
    expect_protocol_error(big, "-ERR Protocol error: too big inline request");
    free(big);
    /* the bystander still works */
    char *r = raw_cmd_str(other, "PING");
    CHECK_STR(r, "+PONG");
    free(r);
    close(other);
}

TEST(inline_and_pipelining) {
    int fd = srv_raw_socket(&s);
    char *r = raw_cmd_str(fd, "SET  inl  'hello world'");
    CHECK_STR(r, "+OK");
    free(r);
    r = raw_cmd_str(fd, "GET inl");
    CHECK_STR(r, "hello world");
    free(r);
    /* 2000 pipelined commands in one write, replies in order */
    size_t n = 2000, len = 0;
    char *batch = malloc(n * 40);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(batch + len, "*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n",
                               i < 10     ? 1
                               : i < 100  ? 2
                               : i < 1000 ? 3
                                          : 4,
                               (int)i);
    raw_send(fd, batch, len);
    int inorder = 1;
    for (size_t i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", (int)i);
        r = raw_reply_str(fd);
        if (strcmp(r, want) != 0) inorder = 0;
        free(r);
    }
    CHECK(inorder);
    free(batch);
    close(fd);
}

TEST(error_texts) {
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ", "NOSUCH a b");
    CHECK_CMD(c, "-ERR wrong number of arguments for 'get' command", "GET");
    CHECK_CMD(c, "-ERR wrong number of arguments for 'config|get' command", "CONFIG GET");
    CHECK_CMD(c, "-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.", "CONFIG NOPE");
    CHECK_CMD(c, "+OK", "SET s v");
    CHECK_CMD(c, "-ERR value is not an integer or out of range", "INCR s");
    CHECK_CMD(c, "-ERR syntax error", "SET s v NX XX");
    redisFree(c);
}

TEST(bulk_length_limit) {
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "CONFIG SET proto-max-bulk-len 1048576");
    redisFree(c);
    expect_protocol_error("*2\r\n$3\r\nSET\r\n$1048577\r\n",
                          "-ERR Protocol error: invalid bulk length");
    c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "CONFIG SET proto-max-bulk-len 512mb");
    redisFree(c);
}

TEST(query_buffer_limit) {
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "CONFIG SET client-query-buffer-limit 1mb");
    int fd = srv_raw_socket(&s);
    const char *hdr = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n";
    raw_send(fd, hdr, strlen(hdr));
    char *chunk = calloc(1, 65536);
    int sent_ok = 1;
    for (int i = 0; i < 40 && sent_ok; i++) sent_ok = raw_send(fd, chunk, 65536) == 0;
    CHECK(closed_by_peer(fd)); /* dropped without a reply, as Redis does */
    close(fd);
    free(chunk);
    char *info = cmd_str(c, "INFO stats");
    CHECK(strstr(info, "client_query_buffer_limit_disconnections:1") != NULL);
    free(info);
    CHECK_CMD(c, "+OK", "CONFIG SET client-query-buffer-limit 1gb");
    redisFree(c);
}

TEST(output_buffer_limit) {
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "+OK", "CONFIG SET client-output-buffer-limit %s", "normal 256kb 0 0");
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = 0;
    freeReplyObject(redisCommand(c, "SET big %s", big));
    free(big);
    int fd = srv_raw_socket(&s);
    /* ask for 40 x 100 KB without reading: over the 256 KB hard limit */
    const char *get = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    for (int i = 0; i < 40; i++) raw_send(fd, get, strlen(get));
    /* the blocked client is closed; reading drains what was sent and hits EOF */
    int rcv = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    CHECK(closed_by_peer(fd));
    close(fd);
    CHECK_CMD(c, "+PONG", "PING");
    CHECK_CMD(c, "+OK", "CONFIG SET client-output-buffer-limit %s", "normal 0 0 0");
    redisFree(c);
}

TEST(maxclients_and_timeout) {
    srv t;
    const char *args[] = {"--maxclients", "2", "--timeout", "1", NULL};
    CHECK(srv_start(&t, args) == 0);
    int a = srv_raw_socket(&t), b = srv_raw_socket(&t);
    char *r = raw_cmd_str(a, "PING");
    CHECK_STR(r, "+PONG");
    free(r);
    r = raw_cmd_str(b, "PING");
    CHECK_STR(r, "+PONG");
    free(r);
    int c3 = srv_raw_socket(&t);
    r = raw_reply_str(c3);
    CHECK_STR(r, "-ERR max number of clients reached");
    free(r);
    CHECK(closed_by_peer(c3));
    close(c3);
    /* idle clients are closed after `timeout` seconds (read blocks until then) */
    CHECK(closed_by_peer(a));
    close(a);
    close(b);
    srv_stop(&t);
}

TEST(sigterm_and_shutdown_exit_cleanly) {
    srv t;
    CHECK(srv_start(&t, NULL) == 0);
    pid_t pid = t.pid;
    int fd = srv_raw_socket(&t);
    raw_send(fd, "SHUTDOWN\r\n", 10);
    CHECK(closed_by_peer(fd));
    close(fd);
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    t.pid = 0;
    srv_stop(&t);

    CHECK(srv_start(&t, NULL) == 0);
    pid = t.pid;
    kill(pid, SIGTERM);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    t.pid = 0;
    srv_stop(&t);
}

TEST(taken_port_is_one_clear_line) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s --port %d 2>&1", larder_server_path(), s.port);
    FILE *p = popen(cmd, "r");
    char out[4096] = {0};
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    CHECK(WEXITSTATUS(rc) != 0);
    CHECK(strstr(out, "Address already in use") != NULL);
    CHECK(strstr(out, "larder: Could not create server TCP listening socket") != NULL);
}

int main(void) {
    if (srv_start(&s, NULL) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(malformed_requests_close_only_that_connection);
    RUN(inline_and_pipelining);
    RUN(error_texts);
    RUN(bulk_length_limit);
    RUN(query_buffer_limit);
    RUN(output_buffer_limit);
    RUN(maxclients_and_timeout);
    RUN(sigterm_and_shutdown_exit_cleanly);
    /* stderr timing helps spot slow tests */
    RUN(taken_port_is_one_clear_line);
    srv_stop(&s);
    return test_report();
}
