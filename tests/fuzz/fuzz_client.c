/* tests/fuzz/fuzz_client.c — libFuzzer target for a client's whole input
 * path: bytes go into a real client's query buffer (a connected socket
 * pair), and networking parses them and runs every complete command through
 * process_command — the dispatcher's checks, MULTI, blocking, pub/sub,
 * tracking and the handlers — then the replies are written and the blocked
 * and unblocked clients served, as one turn of the event loop would.
 *
 * The server runs in this process: the server objects without main.c, set
 * up by server_preinit/config/server_init with no TCP port (a unix socket in
 * /tmp, removed at exit), proto-max-bulk-len 1mb and a 1mb output limit so
 * that no single input can ask for gigabytes. Commands that would stop the
 * process, change its files or listeners, or run without end are replaced
 * by a stub that replies an error (the list below: SHUTDOWN, DEBUG, CONFIG
 * SET/REWRITE, scripts and functions, CLIENT PAUSE/KILL, MONITOR, SQL.*).
 * The first input byte chooses how the rest is cut into reads and whether
 * the client starts unauthenticated (requirepass set for that input).
 * Every 256 inputs the keyspace is flushed.
 *
 * make fuzz-resp builds it with clang -fsanitize=fuzzer,address,undefined;
 * tests/unit/test_fuzz_resp_regress.c replays tests/fuzz/regress-resp/
 * (client-*) through fuzz_client_one() in make test. */
#include "server/server.h"
#include "util/mem.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fuzz_client_one(const uint8_t *data, size_t size);

static int fuzz_inited;
static char fuzz_sock[128];
static long fuzz_runs;

static void fuzz_stub(client *c) {
    reply_error(c, "ERR disabled in the fuzzer");
}

static const char *const fuzz_denied[] = {
    "shutdown",     "debug",       "config|set", "config|rewrite", "eval",     "evalsha",
    "eval_ro",      "evalsha_ro",  "fcall",      "fcall_ro",       "function", "script",
    "client|pause", "client|kill", "monitor",    "sql.query",      "sql.exec", NULL};

static int fuzz_is_denied(const char *fullname) {
    for (int i = 0; fuzz_denied[i]; i++)
        if (!strcmp(fuzz_denied[i], fullname)) return 1;
    return 0;
}

static void fuzz_stub_commands(void) {
    for (command *c = command_table; c->name; c++) {
        int all = fuzz_is_denied(c->name);
        if (all) c->proc = fuzz_stub;
        for (command *s = (command *)c->subcommands; s && s->name; s++) {
            char full[128];
            snprintf(full, sizeof full, "%s|%s", c->name, s->name);
            if (all || fuzz_is_denied(full)) s->proc = fuzz_stub;
        }
    }
}

static void fuzz_cleanup(void) {
    unlink(fuzz_sock);
}

static void fuzz_init(void) {
    fuzz_inited = 1;
    snprintf(fuzz_sock, sizeof fuzz_sock, "/tmp/larder-fuzz-%d.sock", (int)getpid());
    server_preinit();
    char conf[512];
    snprintf(conf, sizeof conf,
             "port 0\nunixsocket %s\nproto-max-bulk-len 1mb\n"
             "client-output-buffer-limit normal 1mb 1mb 0\nloglevel nothing\n",
             fuzz_sock);
    char *err = NULL;
    if (config_load_string(conf, "fuzz", &err) != OK || server_init(&err) != OK) {
        fprintf(stderr, "fuzz_client: %s\n", err ? err : "init failed");
        abort();
    }
    atexit(fuzz_cleanup);
    fuzz_stub_commands();
}

/* One loop turn's work after reads: blocked clients, replies, closes. */
static void fuzz_turn(void) {
    server_update_time();
    handle_clients_blocked_on_keys();
    process_unblocked_clients();
    handle_clients_blocked_on_keys();
    tracking_before_sleep();
    flush_pending_writes();
}

static void fuzz_drain(int fd) {
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

int fuzz_client_one(const uint8_t *data, size_t size) {
    if (!fuzz_inited) fuzz_init();
    if (size < 1) return 0;
    unsigned ctl = data[0];
    data++;
    size--;
    if (++fuzz_runs % 256 == 0) server_flush_db(-1);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    server.requirepass = (ctl & 1) ? xstrdup("pw") : NULL;
    server_update_time();
    client *c = client_create(sv[0], 0);
    uint64_t id = c->id;
    /* up to four reads, cut where ctl says */
    size_t at = 0;
    for (int k = 0; k < 4 && at < size; k++) {
        size_t n = k == 3 ? size - at : (size - at) * (((ctl >> (1 + 2 * k)) & 3) + 1) / 4;
        if (n == 0) n = size - at;
        c = client_by_id(id);
        if (!c || (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY))) break;
        c->qbuf = xrealloc(c->qbuf, c->qlen + n + 1);
        memcpy(c->qbuf + c->qlen, data + at, n);
        c->qlen += n;
        c->qcap = c->qlen;
        at += n;
        client_resume_input(c);
        fuzz_turn();
        fuzz_drain(sv[1]);
    }
    c = client_by_id(id);
    if (c) client_free(c);
    fuzz_turn();
    close(sv[1]);
    xfree(server.requirepass);
    server.requirepass = NULL;
    return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_client_one(data, size);
}
#endif
