/* tests/integration/harness — black-box tests over RESP with hiredis.
 *
 * srv_start() runs the real larder-server binary (or Debian's redis-server for
 * differential tests) on a free port, waits for its "Ready to accept
 * connections" line on a pipe (no sleeps), and returns a handle; srv_stop()
 * sends SIGTERM and reaps it. Every test that starts a server stops it.
 *
 * Differential testing: diff_check() sends one command to two servers and
 * compares the replies rendered as text (type, value, nesting), so a
 * mismatch prints both sides. reply_str() renders a redisReply that way. */
#ifndef LARDER_TEST_HARNESS_H
#define LARDER_TEST_HARNESS_H
#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/types.h>
#include "test.h"

typedef struct srv {
    pid_t pid;
    int port;
    int out_fd;    /* the server's stdout+stderr */
    char dir[256]; /* its working directory (removed at stop) */
    int is_redis;
} srv;

/* Extra args are "--name value" pairs, NULL-terminated. Returns 0 on success. */
int srv_start(srv *s, const char *const *extra);
/* The same with a configuration file (the server's CONFIG REWRITE target). */
int srv_start_conf(srv *s, const char *conf, const char *const *extra);
int srv_start_redis(srv *s, const char *const *extra);
/* larder-server with a configuration file (its first argument), then
 * --port, --dir and extra, which override the file's. */
int srv_start_conf(srv *s, const char *conf, const char *const *extra);
/* srv_stop: SIGTERM, then up to 10 s (60 s for an AddressSanitizer build's
 * server, whose leak check runs at exit) before SIGKILL, which it reports. */
void srv_stop(srv *s);
/* Waits as long for the server to exit by itself (SHUTDOWN) and reaps it:
 * its wait status, or -1 (it did not exit: killed). */
int srv_wait_exit(srv *s);
/* Sends SIGKILL (crash tests) and reaps. */
void srv_kill(srv *s);
redisContext *srv_connect(const srv *s);
/* A raw TCP socket to the server (for malformed-protocol tests), or -1. */
int srv_raw_socket(const srv *s);
/* Path of the larder-server binary under test. */
const char *larder_server_path(void);

/* Runs a command (printf-like, hiredis format) and returns the reply rendered
 * as text; caller frees. NULL reply (connection lost) renders as "(lost)". */
char *cmd_str(redisContext *c, const char *fmt, ...);
/* The same from an argv. */
char *cmd_argv_str(redisContext *c, int argc, const char **argv, const size_t *lens);
/* Renders a reply: strings as "s", status "+OK", error "-ERR ...", integer ":1",
 * nil "(nil)", arrays "[a,b]", maps "{k:v}", sets "~[...]", doubles ",1.5", bools "#t". */
char *reply_str(const redisReply *r);

/* CHECK that a command's rendered reply equals expected. */
#define CHECK_CMD(ctx, expected, ...)                                                              \
    do {                                                                                           \
        char *got_ = cmd_str(ctx, __VA_ARGS__);                                                    \
        CHECK_STR(got_, expected);                                                                 \
        free(got_);                                                                                \
    } while (0)

/* CHECK that a raw socket's reply equals expected: to an inline command, or
 * the next reply (cmd NULL). */
#define CHECK_RAW(fd, cmd, expected)                                                               \
    do {                                                                                           \
        const char *cmd_ = (cmd);                                                                  \
        char *got_ = cmd_ ? raw_cmd_str(fd, cmd_) : raw_reply_str(fd);                             \
        CHECK_STR(got_, expected);                                                                 \
        free(got_);                                                                                \
    } while (0)

/* Sends argv to both and CHECKs identical replies; returns 1 if equal. */
int diff_check(redisContext *a, redisContext *b, int argc, const char **argv, const size_t *lens);

/* Raw sockets: send bytes; read one reply (RESP2 or RESP3, rendered like
 * reply_str, RESP3 types too: maps "{k:v}", sets "~[..]", push ">[..]",
 * attributes "|{..}" followed by the reply); "(lost)" when the connection
 * closes. raw_cmd_str sends an inline command line and reads its reply. */
int raw_send(int fd, const void *p, size_t len);
char *raw_reply_str(int fd);
char *raw_cmd_str(int fd, const char *inline_cmd);

/* A seeded PRNG for test scripts (xorshift64*), independent of rand(). */
typedef struct trng {
    unsigned long long s;
} trng;
void trng_seed(trng *r, unsigned long long seed);
unsigned long long trng_next(trng *r);
static inline unsigned trng_below(trng *r, unsigned n) {
    return n ? (unsigned)(trng_next(r) % n) : 0;
}
#endif
