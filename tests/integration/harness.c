/* tests/integration/harness — see harness.h. */
#include "harness.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *larder_server_path(void) {
    const char *p = getenv("LARDER_SERVER");
    return p ? p : "build/larder-server";
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Reads the child's output until the ready line, its exit, or 20 s. */
static int wait_ready(srv *s, char *log, size_t logsz) {
    size_t used = 0;
    log[0] = '\0';
    time_t deadline = time(NULL) + 20;
    while (time(NULL) < deadline) {
        struct pollfd p = {s->out_fd, POLLIN, 0};
        int rc = poll(&p, 1, 1000);
        if (rc <= 0) continue;
        ssize_t n = read(s->out_fd, log + used, logsz - used - 1);
        if (n <= 0) return -1; /* exited */
        used += (size_t)n;
        log[used] = '\0';
        if (strstr(log, "Ready to accept connections")) return 0;
        if (used > logsz - 256) used = 0; /* keep reading; drop old text */
    }
    return -1;
}

static int start(srv *s, const char *bin, const char *conf, const char *const *extra,
                 int is_redis) {
    for (int attempt = 0; attempt < 5; attempt++) {
        memset(s, 0, sizeof(*s));
        s->is_redis = is_redis;
        s->port = free_port();
        snprintf(s->dir, sizeof(s->dir), "/tmp/larder-itest-XXXXXX");
        if (!mkdtemp(s->dir)) return -1;
        int pfd[2];
        if (pipe(pfd) != 0) return -1;
        const char *argv[64];
        int argc = 0;
        char port[16];
        snprintf(port, sizeof(port), "%d", s->port);
        argv[argc++] = bin;
        if (conf) argv[argc++] = conf;
        argv[argc++] = "--port";
        argv[argc++] = port;
        argv[argc++] = "--dir";
        argv[argc++] = s->dir;
        if (is_redis) {
            argv[argc++] = "--save";
            argv[argc++] = "";
            argv[argc++] = "--appendonly";
            argv[argc++] = "no";
        }
        for (int i = 0; extra && extra[i] && argc < 62; i++) argv[argc++] = extra[i];
        argv[argc] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pfd[1], 1);
            dup2(pfd[1], 2);
            close(pfd[0]);
            execv(bin, (char *const *)argv);
            execvp(bin, (char *const *)argv);
            _exit(127);
        }
        close(pfd[1]);
        s->pid = pid;
        s->out_fd = pfd[0];
        char log[8192];
        if (wait_ready(s, log, sizeof(log)) == 0) return 0;
        int taken = strstr(log, "Address already in use") != NULL;
        srv_kill(s);
        if (!taken) {
            fprintf(stderr, "server %s did not start:\n%s\n", bin, log);
            return -1;
        }
    }
    return -1;
}

int srv_start(srv *s, const char *const *extra) {
    signal(SIGPIPE, SIG_IGN); /* tests write to sockets the server may close */
    return start(s, larder_server_path(), NULL, extra, 0);
}
int srv_start_conf(srv *s, const char *conf, const char *const *extra) {
    signal(SIGPIPE, SIG_IGN);
    return start(s, larder_server_path(), conf, extra, 0);
}
int srv_start_redis(srv *s, const char *const *extra) {
    return start(s, "/usr/bin/redis-server", NULL, extra, 1);
}

static void cleanup(srv *s) {
    if (s->out_fd > 0) close(s->out_fd);
    s->out_fd = -1;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
    if (s->dir[0] && system(cmd) != 0) { /* best effort */
    }
    s->pid = 0;
}

/* Tenths of a second a stopped server has to exit: an AddressSanitizer build's
 * (build-san/) gets a minute, as its leak check runs at exit and a kill would
 * lose its report. */
static int exit_ticks(const srv *s) {
    return !s->is_redis && strstr(larder_server_path(), "-san") ? 600 : 100;
}

void srv_stop(srv *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGTERM);
    int st;
    int ticks = exit_ticks(s);
    for (int i = 0; i < ticks; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            cleanup(s);
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "server %d did not exit %d s after SIGTERM: killed\n", (int)s->pid, ticks / 10);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    cleanup(s);
}

int srv_wait_exit(srv *s) {
    if (s->pid <= 0) return -1;
    int st;
    for (int i = 0; i < exit_ticks(s); i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            cleanup(s);
            return st;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    srv_kill(s);
    return -1;
}

void srv_kill(srv *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    int st;
    waitpid(s->pid, &st, 0);
    cleanup(s);
}

redisContext *srv_connect(const srv *s) {
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "connect to %d failed: %s\n", s->port, c ? c->errstr : "oom");
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

int srv_raw_socket(const srv *s) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)s->port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* ---- rendering ---------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void bput(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void render(buf *b, const redisReply *r) {
    char tmp[64];
    switch (r->type) {
    case REDIS_REPLY_STRING:
        bput(b, r->str, r->len);
        break;
    case REDIS_REPLY_STATUS:
        bput(b, "+", 1);
        bput(b, r->str, r->len);
        break;
    case REDIS_REPLY_ERROR:
        bput(b, "-", 1);
        bput(b, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        bput(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), ":%lld", r->integer));
        break;
    case REDIS_REPLY_NIL:
        bput(b, "(nil)", 5);
        break;
    case REDIS_REPLY_ARRAY: {
        bput(b, "[", 1);
        for (size_t i = 0; i < r->elements; i++) {
            if (i) bput(b, ",", 1);
            render(b, r->element[i]);
        }
        bput(b, "]", 1);
        break;
    }
    default:
        bput(b, "?", 1);
    }
}

char *reply_str(const redisReply *r) {
    buf b = {NULL, 0, 0};
    if (!r)
        bput(&b, "(lost)", 6);
    else
        render(&b, r);
    if (!b.p) bput(&b, "", 0);
    return b.p;
}

char *cmd_str(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

char *cmd_argv_str(redisContext *c, int argc, const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

int diff_check(redisContext *a, redisContext *b, int argc, const char **argv, const size_t *lens) {
    char *x = cmd_argv_str(a, argc, argv, lens), *y = cmd_argv_str(b, argc, argv, lens);
    int same = strcmp(x, y) == 0;
    if (!same) {
        fprintf(stderr, "DIFF on:");
        for (int i = 0; i < argc; i++)
            fprintf(stderr, " '%.*s'", (int)(lens ? lens[i] : strlen(argv[i])), argv[i]);
        fprintf(stderr, "\n  larder: %.300s\n  redis:  %.300s\n", x, y);
    }
    CHECK(same);
    free(x);
    free(y);
    return same;
}

/* ---- seeded randomness -------------------------------------------------------------- */

void trng_seed(trng *r, unsigned long long seed) {
    r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

unsigned long long trng_next(trng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

/* ---- raw sockets with a RESP2/RESP3 reader ------------------------------------------ */

int raw_send(int fd, const void *p, size_t len) {
    const char *s = p;
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n <= 0) return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Buffered line/byte reads from fd (one buffer per fd: tests use few sockets). */
typedef struct rbuf {
    int fd;
    char data[65536];
    size_t start, end;
} rbuf;
static rbuf rbufs[8];

static rbuf *rb_for(int fd) {
    for (int i = 0; i < 8; i++)
        if (rbufs[i].fd == fd && (rbufs[i].end || rbufs[i].start == 0)) return &rbufs[i];
    for (int i = 0; i < 8; i++)
        if (rbufs[i].end == rbufs[i].start) {
            rbufs[i].fd = fd;
            rbufs[i].start = rbufs[i].end = 0;
            return &rbufs[i];
        }
    return &rbufs[0];
}

static int rb_fill(rbuf *r) {
    if (r->start == r->end) r->start = r->end = 0;
    if (r->end == sizeof(r->data)) {
        memmove(r->data, r->data + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    ssize_t n = read(r->fd, r->data + r->end, sizeof(r->data) - r->end);
    if (n <= 0) return -1;
    r->end += (size_t)n;
    return 0;
}

static int rb_line(rbuf *r, char *out, size_t outsz) {
    for (;;) {
        char *nl = memchr(r->data + r->start, '\n', r->end - r->start);
        if (nl) {
            size_t n = (size_t)(nl - (r->data + r->start));
            size_t copy = n < outsz - 1 ? n : outsz - 1;
            memcpy(out, r->data + r->start, copy);
            out[copy] = '\0';
            if (copy && out[copy - 1] == '\r') out[copy - 1] = '\0';
            r->start += n + 1;
            return 0;
        }
        if (rb_fill(r) != 0) return -1;
    }
}

static int rb_bytes(rbuf *r, buf *b, size_t n) {
    while (r->end - r->start < n + 2)
        if (rb_fill(r) != 0) return -1;
    bput(b, r->data + r->start, n);
    r->start += n + 2;
    return 0;
}

static int raw_render(rbuf *r, buf *b) {
    char line[4096];
    if (rb_line(r, line, sizeof(line)) != 0) return -1;
    char t = line[0];
    long long n = atoll(line + 1);
    switch (t) {
    case '+':
        bput(b, "+", 1);
        bput(b, line + 1, strlen(line + 1));
        return 0;
    case '-':
        bput(b, "-", 1);
        bput(b, line + 1, strlen(line + 1));
        return 0;
    case ':':
        bput(b, line, strlen(line));
        return 0;
    case ',':
        bput(b, line, strlen(line));
        return 0;
    case '#':
        bput(b, line, strlen(line));
        return 0;
    case '(':
        bput(b, line, strlen(line));
        return 0;
    case '_':
        bput(b, "(nil)", 5);
        return 0;
    case '$':
    case '=':
        if (n < 0) {
            bput(b, "(nil)", 5);
            return 0;
        }
        return rb_bytes(r, b, (size_t)n);
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
        if (n < 0) {
            bput(b, "(nil)", 5);
            return 0;
        }
        const char *open = t == '%'   ? "{"
                           : t == '~' ? "~["
                           : t == '>' ? ">["
                           : t == '|' ? "|{"
                                      : "[";
        bput(b, open, strlen(open));
        long long count = (t == '%' || t == '|') ? n * 2 : n;
        for (long long i = 0; i < count; i++) {
            if (i) bput(b, ((t == '%' || t == '|') && i % 2) ? ":" : ",", 1);
            if (raw_render(r, b) != 0) return -1;
        }
        bput(b, (t == '%' || t == '|') ? "}" : "]", 1);
        if (t == '|') return raw_render(r, b); /* the real reply follows an attribute */
        return 0;
    }
    default:
        bput(b, "?", 1);
        bput(b, line, strlen(line));
        return 0;
    }
}

char *raw_reply_str(int fd) {
    buf b = {NULL, 0, 0};
    if (raw_render(rb_for(fd), &b) != 0) {
        free(b.p);
        b.p = NULL;
        b.len = b.cap = 0;
        bput(&b, "(lost)", 6);
    }
    if (!b.p) bput(&b, "", 0);
    return b.p;
}

char *raw_cmd_str(int fd, const char *inline_cmd) {
    raw_send(fd, inline_cmd, strlen(inline_cmd));
    raw_send(fd, "\r\n", 2);
    return raw_reply_str(fd);
}
