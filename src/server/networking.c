/* server/networking — connections, the query buffer, and reply buffers.
 *
 * Input: each client has one query buffer. Requests are parsed in place
 * (resp_req) and run as soon as they are complete; a pipeline of N requests
 * read in one read() runs N commands before anything is written.
 *
 * Output: replies are appended to a chain of blocks. A client with something
 * to send is put on server.pending_writes, and the before-sleep hook writes
 * all of them just before the loop polls again — so a pipeline's replies leave
 * in one writev(), and a client that cannot take more gets a write watcher.
 *
 * The bytes move by one of two paths: libev watchers with read()/writev()
 * (epoll; TLS always), or io_uring (server/uring.c) for plain sockets, where
 * a completion hands input to client_input() and a finished send comes back
 * through client_write_done(); what happens to the bytes is the same.
 *
 * Invariants:
 *  1. A client is never freed while its own command runs (CLIENT_EXECUTING):
 *     it is closed asynchronously instead (server.clients_to_close).
 *  2. c->qpos <= c->qlen <= c->qcap; bytes before qpos are consumed.
 *  3. CLIENT_PENDING_WRITE <=> c is on server.pending_writes.
 *  4. reply_bytes is the sum over blocks of (used) minus sentlen. */
#include "server/acl.h"
#include "server/server.h"
#include "server/hooks.h"
#include "server/pubsub.h"
#include "server/conn.h"
#include "server/audit.h"
#include "server/uring.h"
#include "util/clock.h"
#include "util/mem.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#define QBUF_CHUNK (16 * 1024)
#define REPLY_BLOCK (16 * 1024)
/* Replies queued for a client that has not authenticated (requirepass set,
 * no AUTH yet) above this close it, whatever client-output-buffer-limit
 * says: all it can get is errors, and it must not make the server hold
 * memory for a peer that never reads. */
#define UNAUTH_OBUF_LIMIT (64 * 1024)

static void read_cb(struct ev_loop *loop, ev_io *w, int revents);
static inline void mark_pending(client *c);
static void defer_input(client *c);
static uint64_t *deferred; /* ids of clients read, not yet served (invoke_pending_in_order) */
static size_t ndeferred, cap_deferred;
static int deferring;
static void write_cb(struct ev_loop *loop, ev_io *w, int revents);

/* ---- client lifecycle -------------------------------------------------------- */

static void fd_to_addr(int fd, int local, char *out, size_t outsz, int *is_unix) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int rc = local ? getsockname(fd, (struct sockaddr *)&sa, &len)
                   : getpeername(fd, (struct sockaddr *)&sa, &len);
    *is_unix = 0;
    if (rc != 0) {
        snprintf(out, outsz, "?:0");
        return;
    }
    char ip[INET6_ADDRSTRLEN];
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        snprintf(out, outsz, "%s:%d", ip, ntohs(s->sin_port));
    } else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        snprintf(out, outsz, "[%s]:%d", ip, ntohs(s->sin6_port));
    } else {
        *is_unix = 1;
        snprintf(out, outsz, "%s:0", server.unixsocket ? server.unixsocket : "");
    }
}

client *client_create(int fd, int flags) {
    client *c = xcalloc(1, sizeof(*c));
    c->id = ++server.next_client_id;
    c->fd = fd;
    c->flags = (uint64_t)flags;
    c->resp = 2;
    c->db = &server.dbs[0];
    c->ctime_ms = c->last_interaction_ms = server.mstime;
    resp_req_init(&c->req, server.proto_max_bulk_len);
    list_init(&c->watched);
    acl_client_init(c);
    if (flags & CLIENT_AUTHENTICATED) c->flags |= CLIENT_AUTHENTICATED; /* fake clients */
    if (fd >= 0) {
        int is_unix;
        fd_to_addr(fd, 0, c->addr, sizeof(c->addr), &is_unix);
        fd_to_addr(fd, 1, c->laddr, sizeof(c->laddr), &is_unix);
        if (is_unix) {
            c->flags |= CLIENT_UNIX_SOCKET;
            snprintf(c->addr, sizeof(c->addr), "/unixsocket:0");
        }
        ev_io_init(&c->rio, read_cb, fd, EV_READ);
        ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
        c->rio.data = c->wio.data = c;
        ev_io_start(server.loop, &c->rio);
        list_push_back(&server.clients, &c->node);
        dict_add(server.clients_by_id, c);
    }
    return c;
}

client *client_by_id(uint64_t id) {
    return dict_find(server.clients_by_id, &id, sizeof(id));
}

static void free_reply_blocks(client *c) {
    if (uring_sending(c)) { /* a send in flight reads them: freed when it completes */
        uring_adopt_blocks(c, c->rhead);
        c->rhead = NULL;
    }
    reply_block *b = c->rhead;
    while (b) {
        reply_block *n = b->next;
        xfree(b);
        b = n;
    }
    c->rhead = c->rtail = NULL;
    c->reply_bytes = 0;
    c->sentlen = 0;
}

void client_free_argv_copy(argv_copy *a) {
    xfree(a->argv);
    a->argv = NULL;
    a->argc = 0;
}

/* One allocation: the arg array followed by the NUL-terminated bytes. */
void argv_copy_make(argv_copy *dst, int argc, const resp_arg *argv) {
    size_t bytes = sizeof(resp_arg) * (size_t)argc;
    for (int i = 0; i < argc; i++) bytes += argv[i].len + 1;
    resp_arg *a = xmalloc(bytes ? bytes : 1);
    char *p = (char *)(a + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = '\0';
        a[i].p = p;
        a[i].len = argv[i].len;
        a[i].off = 0;
        p += argv[i].len + 1;
    }
    dst->argc = argc;
    dst->argv = a;
}

/* Hooks other modules register to release their per-client state. */

void client_free(client *c) {
    if (c->flags & CLIENT_EXECUTING) {
        client_close_async(c);
        return;
    }
    if (server.current_client == c) server.current_client = NULL;
    if (c->flags & CLIENT_BLOCKED) unblock_client(c);
    if (c->flags & CLIENT_UNBLOCKED) {
        list_remove(&server.unblocked_clients, &c->unblocked_node);
        c->flags &= ~(uint64_t)CLIENT_UNBLOCKED;
    }
    watch_unwatch_all(c);
    multi_discard(c);
    pubsub_client_free(c);
    tracking_client_free(c);
    monitor_remove(c);
    hooks.client_freed(c);
    audit_client_freed(c);
    if (c->flags & CLIENT_PENDING_WRITE)
        list_remove(&server.pending_writes, &c->pending_write_node);
    if (list_linked(&c->barrier_node)) list_remove(&server.reply_barred, &c->barrier_node);
    /* SHUTDOWN's client is marked but not queued: its peer may close first */
    if (list_linked(&c->close_node)) list_remove(&server.clients_to_close, &c->close_node);
    if (c->fd >= 0) {
        ev_io_stop(server.loop, &c->rio);
        ev_io_stop(server.loop, &c->wio);
        uring_detach(c);
        conn_close(c);
        list_remove(&server.clients, &c->node);
        dict_remove(server.clients_by_id, &c->id, sizeof(c->id));
    }
    free_reply_blocks(c);
    resp_req_free(&c->req);
    xfree(c->qbuf);
    xfree(c->name);
    xfree(c->lib_name);
    xfree(c->lib_ver);
    xfree(c);
}

void client_close_async(client *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    c->flags |= CLIENT_CLOSE_ASAP;
    list_push_back(&server.clients_to_close, &c->close_node);
}

static void free_clients_to_close(void) {
    list_node *n;
    while ((n = list_first(&server.clients_to_close))) {
        client *c = list_entry(n, client, close_node);
        if (c->flags & CLIENT_EXECUTING) break; /* cannot happen from before-sleep */
        list_remove(&server.clients_to_close, n);
        c->flags &= ~(uint64_t)CLIENT_CLOSE_ASAP;
        client_free(c);
    }
}

void client_set_name(client *c, const char *name, size_t len) {
    xfree(c->name);
    c->name = len ? xmemdup(name, len) : NULL;
}

/* ---- accepting --------------------------------------------------------------- */

static void configure_socket(int fd, int tcp) {
    if (!tcp) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (server.tcp_keepalive > 0) {
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        int idle = server.tcp_keepalive, intvl = server.tcp_keepalive / 3, cnt = 3;
        if (intvl == 0) intvl = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
}

/* Has the default user no password (protected mode applies)? */
static int default_user_nopass(void) {
    return acl_default_nopass();
}

/* Redis 7.0's loopback test: only these two addresses (not 127.0.0.0/8)
 * and the unix socket count as local. */
static int client_is_local(const client *c) {
    if (c->flags & CLIENT_UNIX_SOCKET) return 1;
    return !strncmp(c->addr, "127.0.0.1:", 10) || !strncmp(c->addr, "[::1]:", 6);
}

static const char protected_mode_text[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same host "
    "the server is running, however MAKE SURE Redis is not publicly accessible from internet if "
    "you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    "disable the protected mode by editing the Redis configuration file, and setting the "
    "protected mode option to 'no', and then restarting the server. 3) If you started the server "
    "manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an "
    "authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside.\r\n";

/* Protected mode, as Redis 7.0: while it is on and the default user has no
 * password, a client from anywhere but loopback gets the -DENIED text and
 * is closed (Redis checks neither bind nor port). A plain socket gets the
 * text at once; a TLS one once the text can go through the handshake, and
 * it runs no command meanwhile. Returns 1 when c was denied. */
static int protected_mode_denies(client *c) {
    if (!server.protected_mode || !default_user_nopass() || client_is_local(c)) return 0;
    server.stat_rejected_conn++;
    audit_denied(c, "protected mode: not a loopback client and no password is set");
    if (!c->tls) {
        if (write(c->fd, protected_mode_text, sizeof(protected_mode_text) - 1) < 0) {
            /* best effort, as Redis */
        }
        client_free(c);
        return 1;
    }
    reply_raw(c, protected_mode_text, sizeof(protected_mode_text) - 1);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    return 1;
}

void accept_connection(int lfd, int tcp, int tls) {
    for (int i = 0; i < 1000; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                server_log(LL_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        if ((long long)server.clients.len >= server.maxclients) {
            static const char msg[] = "ERR max number of clients reached";
            char line[sizeof(msg) + 3];
            size_t n = resp_enc_line(line, '-', msg, sizeof(msg) - 1);
            if (write(fd, line, n) < 0) { /* best effort */
            }
            close(fd);
            server.stat_rejected_conn++;
            continue;
        }
        configure_socket(fd, tcp);
        client *c = client_create(fd, 0);
        if (tls && conn_tls_accept(c) != OK) {
            client_free(c);
            continue;
        }
        if (protected_mode_denies(c)) continue;
        uring_attach(c);
        server.stat_numconnections++;
    }
}

/* ---- input ------------------------------------------------------------------- */

static void compact_query_buffer(client *c) {
    if (c->qpos == 0) return;
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
        return;
    }
    memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
    c->qlen -= c->qpos;
    c->qpos = 0;
}

static void protocol_error(client *c) {
    reply_errorf(c, "ERR %s", c->req.err);
    if (c->req.unauth) audit_denied(c, c->req.err);
    server_log(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", c->req.err,
               (unsigned long long)c->id, c->addr);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY | CLIENT_PROTOCOL_ERROR;
}

/* Runs every complete request in the query buffer. Stops at a partial request,
 * when the client blocks, or when it is to be closed. */
static void process_input(client *c) {
    while (c->qpos < c->qlen) {
        if (c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) break;
        size_t used = 0;
        c->req.unauth = !(c->flags & CLIENT_AUTHENTICATED);
        int rc = resp_req_parse(&c->req, c->qbuf + c->qpos, c->qlen - c->qpos, &used);
        if (rc == RESP_REQ_MORE) break;
        if (rc == RESP_REQ_ERR) {
            protocol_error(c);
            break;
        }
        c->argc = c->req.argc;
        c->argv = c->req.argv;
        if (c->argc > 0) {
            c->flags |= CLIENT_EXECUTING;
            server.current_client = c;
            process_command(c);
            server.current_client = NULL;
            c->flags &= ~(uint64_t)CLIENT_EXECUTING;
            c->commands_processed++;
        }
        c->qpos += used;
        c->argc = 0;
        c->argv = NULL;
        resp_req_reset(&c->req);
    }
    compact_query_buffer(c);
}

void client_resume_input(client *c) {
    if (c->fd < 0 || (c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_ASAP))) return;
    process_input(c);
}

static void grow_qbuf(client *c, size_t need) {
    if (c->qcap - c->qlen >= need) return;
    size_t cap = c->qcap ? c->qcap : QBUF_CHUNK;
    while (cap - c->qlen < need) cap *= 2;
    c->qbuf = xrealloc(c->qbuf, cap + 1);
    c->qcap = cap;
}

/* Accounts n bytes just appended to c's query buffer. Closes c past the
 * query buffer limit: ERR when it did. */
static int input_arrived(client *c, size_t n) {
    c->qlen += n;
    c->net_in += (unsigned long long)n;
    server.stat_net_input_bytes += (long long)n;
    server.stat_io_reads++;
    c->last_interaction_ms = server.mstime;
    if (c->qlen - c->qpos > c->qpeak) c->qpeak = c->qlen - c->qpos;
    if (server.client_max_querybuf_len && c->qlen - c->qpos > server.client_max_querybuf_len) {
        server_log(LL_WARNING,
                   "Closing client that reached max query buffer length: id=%llu addr=%s (qbuf "
                   "initial bytes: %.32s)",
                   (unsigned long long)c->id, c->addr, c->qbuf + c->qpos);
        server.stat_client_qbuf_limit_disconnections++;
        client_free(c);
        return ERR;
    }
    return OK;
}

/* Room for the next read: a big bulk argument gets a buffer sized once. */
static size_t input_room(client *c, size_t atleast) {
    size_t need = resp_req_need(&c->req, c->qlen - c->qpos);
    size_t room = need >= RESP_BIG_ARG && need > atleast ? need : atleast;
    grow_qbuf(c, room);
    return room;
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    client *c = w->data;
    input_room(c, QBUF_CHUNK);
    ssize_t n = conn_read(c, c->qbuf + c->qlen, c->qcap - c->qlen);
    /* a TLS write that waited for the peer (the handshake) may go now */
    if (c->tls && c->reply_bytes) mark_pending(c);
    if (n == 0) {
        client_free(c);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        server_log(LL_VERBOSE, "Reading from client: %s", strerror(errno));
        client_free(c);
        return;
    }
    if (input_arrived(c, (size_t)n) != OK) return;
    if (deferring) {
        defer_input(c);
        return;
    }
    process_input(c);
    if (conn_has_buffered_input(c)) ev_feed_event(server.loop, &c->rio, EV_READ);
}

/* Bytes the ring received for c: served at once, in the order the
 * completions came (the order of arrival), so they are not deferred. */
void client_input(client *c, const char *p, size_t n) {
    input_room(c, n);
    memcpy(c->qbuf + c->qlen, p, n);
    if (input_arrived(c, n) != OK) return;
    process_input(c);
}

/* Order of serving. libev runs the callbacks of one poll newest first, while
 * Redis serves clients in the order the poll reported them (about the order
 * their requests arrived): two BRPOPLPUSH sent one after the other must block
 * in that order. So while libev runs a poll's callbacks, reads only read and
 * note the client; its commands run afterwards, oldest first. The notes are a
 * stack: libev invoked newest first, so popping gives the oldest first. */
static void defer_input(client *c) {
    if (ndeferred == cap_deferred) {
        cap_deferred = cap_deferred ? cap_deferred * 2 : 64;
        deferred = xrealloc(deferred, cap_deferred * sizeof(*deferred));
    }
    deferred[ndeferred++] = c->id;
}

/* Serves the noted clients above base, oldest first. */
static void serve_deferred(size_t base) {
    while (ndeferred > base) {
        uint64_t id = deferred[--ndeferred];
        client *c = client_by_id(id);
        if (!c || (c->flags & CLIENT_CLOSE_ASAP)) continue;
        process_input(c);
        if ((c = client_by_id(id)) && conn_has_buffered_input(c))
            ev_feed_event(server.loop, &c->rio, EV_READ);
    }
}

void invoke_pending_in_order(struct ev_loop *loop) {
    size_t base = ndeferred; /* a nested call serves its own notes */
    int was = deferring;
    deferring = 1;
    ev_invoke_pending(loop);
    deferring = was;
    serve_deferred(base);
}

/* A busy script's polling (scripting.c) serves everything read so far, and
 * the reads it makes, at once: a SCRIPT KILL read in the same poll as the
 * EVAL it is meant for was noted, not served, when the script started. */
int input_defer_pause(void) {
    int was = deferring;
    deferring = 0;
    serve_deferred(0);
    return was;
}

void input_defer_resume(int was) {
    deferring = was;
}

/* ---- output ------------------------------------------------------------------ */

static void obuf_limit_check(client *c);

static inline void mark_pending(client *c) {
    if (!(c->flags & CLIENT_PENDING_WRITE) && c->fd >= 0) {
        c->flags |= CLIENT_PENDING_WRITE;
        list_push_back(&server.pending_writes, &c->pending_write_node);
    }
}

static reply_block *new_block(client *c, size_t min) {
    size_t size = min > REPLY_BLOCK ? min : REPLY_BLOCK;
    reply_block *b = xmalloc(sizeof(reply_block) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    if (c->rtail)
        c->rtail->next = b;
    else
        c->rhead = b;
    c->rtail = b;
    return b;
}

/* Reply holding (write-through): while a client's command runs speculatively
 * its replies go to a buffer instead of the socket. */
static client *hold_client;
static sbuf *hold_buf;

void reply_hold(client *c, sbuf *buf) {
    hold_client = buf ? c : NULL;
    hold_buf = buf;
}

/* n bytes were added to c's last reply block. */
static inline void reply_wrote(client *c, size_t n) {
    c->rtail->used += n;
    c->reply_bytes += n;
    mark_pending(c);
    if (c->reply_bytes > 64 * 1024 || !(c->flags & CLIENT_AUTHENTICATED)) obuf_limit_check(c);
}

void reply_raw(client *c, const void *p, size_t len) {
    if (!len || (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP))) return;
    if (c == hold_client) {
        sbuf_append(hold_buf, p, len);
        return;
    }
    reply_block *b = c->rtail;
    if (!b || b->size - b->used < len) {
        if (b && b->size > b->used) { /* fill what is left, then a new block */
            size_t part = b->size - b->used;
            memcpy(b->buf + b->used, p, part);
            b->used += part;
            c->reply_bytes += part;
            p = (const char *)p + part;
            len -= part;
        }
        b = new_block(c, len);
    }
    memcpy(b->buf + b->used, p, len);
    reply_wrote(c, len);
}

/* Room for n bytes at the end of c's last reply block, for a reply encoded
 * in place (no stack copy first); NULL when there is none, or when the
 * reply goes elsewhere (held, off, skipped): reply_raw's path then. The
 * caller accounts for what it wrote with reply_wrote. */
static inline char *reply_room(client *c, size_t n) {
    reply_block *b = c->rtail;
    if (!b || b->size - b->used < n || c == hold_client ||
        (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)))
        return NULL;
    return b->buf + b->used;
}

static inline void reply_hdr(client *c, int type, long long n) {
    char buf[RESP_HDR_MAX];
    reply_raw(c, buf, resp_enc_agg(buf, c->resp, type, n));
}

/* A simple string or an error line, encoded on the stack when it fits. */
static void reply_line(client *c, char type, const char *s, size_t n) {
    char stackbuf[512];
    char *buf = n + 3 <= sizeof(stackbuf) ? stackbuf : xmalloc(n + 3);
    size_t len = resp_enc_line(buf, type, s, n);
    /* Errors are counted even when replies are off (Redis does too). */
    if (type == '-') stats_record_error(buf + 1);
    reply_raw(c, buf, len);
    if (buf != stackbuf) xfree(buf);
}

void reply_status(client *c, const char *s) {
    reply_line(c, '+', s, strlen(s));
}

void reply_ok(client *c) {
    reply_raw(c, RESP_OK, RESP_OK_LEN);
}

void reply_error(client *c, const char *msg) {
    if (msg[0] == '-') msg++;
    reply_line(c, '-', msg, strlen(msg));
}

void reply_errorf(client *c, const char *fmt, ...) {
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    reply_error(c, b.p ? b.p : "ERR");
    sbuf_free(&b);
}

void reply_int(client *c, long long v) {
    char buf[RESP_HDR_MAX];
    reply_raw(c, buf, resp_enc_int(buf, v));
}

/* A payload after its head: copied with the head when small, else in place. */
/* A short payload and the end after the h bytes of its head at w: the
 * whole reply's length. */
static inline size_t put_payload(char *w, size_t h, const void *p, size_t len) {
    memcpy(w + h, p, len);
    memcpy(w + h + len, RESP_END, RESP_END_LEN);
    return h + len + RESP_END_LEN;
}

static void reply_payload(client *c, char *head, size_t h, const void *p, size_t len) {
    if (len <= 64) { /* head has room for 64 bytes and the end */
        reply_raw(c, head, put_payload(head, h, p, len));
        return;
    }
    reply_raw(c, head, h);
    reply_raw(c, p, len);
    reply_raw(c, RESP_END, RESP_END_LEN);
}

void reply_bulk(client *c, const void *p, size_t len) {
    char buf[RESP_HDR_MAX + 64 + RESP_END_LEN], *w;
    /* an array's elements, mostly: straight into the block */
    if (len <= 64 && (w = reply_room(c, sizeof(buf)))) {
        reply_wrote(c, put_payload(w, resp_enc_bulk_hdr(w, len), p, len));
        return;
    }
    reply_payload(c, buf, resp_enc_bulk_hdr(buf, len), p, len);
}

void reply_bulk_cstr(client *c, const char *s) {
    if (!s)
        reply_null(c);
    else
        reply_bulk(c, s, strlen(s));
}

void reply_bulk_ll(client *c, long long v) {
    char buf[LONG_STR_SIZE];
    reply_bulk(c, buf, (size_t)ll_to_str(buf, v));
}

void reply_null(client *c) {
    char buf[RESP_HDR_MAX];
    reply_raw(c, buf, resp_enc_null(buf, c->resp));
}

void reply_null_array(client *c) {
    char buf[RESP_HDR_MAX];
    reply_raw(c, buf, resp_enc_null_array(buf, c->resp));
}

void reply_array(client *c, long n) {
    reply_hdr(c, RESP_ARRAY, n);
}
void reply_map(client *c, long n) {
    reply_hdr(c, RESP_MAP, n);
}
void reply_set(client *c, long n) {
    reply_hdr(c, RESP_SET, n);
}
void reply_push(client *c, long n) {
    reply_hdr(c, RESP_PUSH, n);
}
void reply_attribute(client *c, long n) {
    reply_hdr(c, RESP_ATTR, n);
}
void reply_empty_array(client *c) {
    reply_hdr(c, RESP_ARRAY, 0);
}

void reply_double(client *c, double d) {
    char buf[RESP_DOUBLE_MAX];
    reply_raw(c, buf, resp_enc_double(buf, c->resp, d));
}

void reply_double_text(client *c, const char *s, size_t len) {
    char buf[RESP_DOUBLE_MAX];
    reply_raw(c, buf, resp_enc_double_text(buf, c->resp, s, len));
}

void reply_bool(client *c, int v) {
    char buf[RESP_HDR_MAX];
    reply_raw(c, buf, resp_enc_bool(buf, c->resp, v));
}

void reply_bignum(client *c, const char *s, size_t len) {
    char buf[RESP_HDR_MAX + 64 + RESP_END_LEN];
    reply_payload(c, buf, resp_enc_bignum_hdr(buf, c->resp, len), s, len);
}

void reply_verbatim(client *c, const char *s, size_t len, const char *ext) {
    char buf[RESP_HDR_MAX + 64 + RESP_END_LEN];
    reply_payload(c, buf, resp_enc_verbatim_hdr(buf, c->resp, len, ext), s, len);
}

void reply_help(client *c, const char *cmdname, const char *const *lines) {
    char upper[64];
    size_t i;
    for (i = 0; cmdname[i] && i < sizeof(upper) - 1; i++)
        upper[i] = (char)((cmdname[i] >= 'a' && cmdname[i] <= 'z') ? cmdname[i] - 32 : cmdname[i]);
    upper[i] = '\0';
    long n = 0;
    while (lines[n]) n++;
    reply_array(c, n + 3);
    char head[128];
    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
    reply_status(c, head);
    for (long j = 0; j < n; j++) reply_status(c, lines[j]);
    reply_status(c, "HELP");
    reply_status(c, "    Prints this help.");
}

void reply_subcommand_syntax_error(client *c) {
    char upper[64];
    size_t i;
    const char *name = c->cmd && c->cmd->parent ? c->cmd->parent->name : c->argv[0].p;
    for (i = 0; name[i] && i < sizeof(upper) - 1; i++)
        upper[i] = (char)((name[i] >= 'a' && name[i] <= 'z') ? name[i] - 32 : name[i]);
    upper[i] = '\0';
    reply_errorf(c,
                 "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP.",
                 c->argv[1].p, upper);
}

/* A deferred length starts a fresh block with RESP_HDR_MAX bytes of room at
 * its front; output continues after the room. When the length is known the
 * header is written at the end of the room and the block's bytes are shifted
 * down over the unused part (at most one block, within the same command, so
 * nothing of it has been sent yet). */
void *reply_defer_len(client *c) {
    if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) return NULL;
    if (c == hold_client) { /* an odd handle: an offset in the hold buffer */
        size_t off = hold_buf->len;
        char room[RESP_HDR_MAX];
        memset(room, 0, sizeof(room));
        sbuf_append(hold_buf, room, RESP_HDR_MAX);
        return (void *)((off << 1) | 1);
    }
    reply_block *b = new_block(c, 0);
    b->used = RESP_HDR_MAX;
    c->reply_bytes += RESP_HDR_MAX;
    mark_pending(c);
    return b;
}

static void set_deferred(client *c, void *h, int type, long n) {
    if (!h || (c->flags & CLIENT_CLOSE_ASAP)) return;
    if ((uintptr_t)h & 1) {
        size_t off = (uintptr_t)h >> 1;
        char hdr[RESP_HDR_MAX];
        size_t len = resp_enc_agg(hdr, c->resp, type, n);
        memcpy(hold_buf->p + off, hdr, len);
        memmove(hold_buf->p + off + len, hold_buf->p + off + RESP_HDR_MAX,
                hold_buf->len - off - RESP_HDR_MAX);
        hold_buf->len -= RESP_HDR_MAX - len;
        return;
    }
    reply_block *b = h;
    char buf[RESP_HDR_MAX];
    size_t len = resp_enc_agg(buf, c->resp, type, n);
    size_t skip = RESP_HDR_MAX - len;
    memcpy(b->buf + skip, buf, len);
    memmove(b->buf, b->buf + skip, b->used - skip);
    b->used -= skip;
    c->reply_bytes -= skip;
}

void reply_set_deferred_array(client *c, void *h, long n) {
    set_deferred(c, h, RESP_ARRAY, n);
}
void reply_set_deferred_map(client *c, void *h, long n) {
    set_deferred(c, h, RESP_MAP, n);
}
void reply_set_deferred_set(client *c, void *h, long n) {
    set_deferred(c, h, RESP_SET, n);
}

/* ---- output buffer limits ---------------------------------------------------- */

/* A monitor is held to the replica class's limits (Redis counts it as normal,
 * whose default is no limit: a monitor that falls behind would grow without
 * bound). */
static int obuf_class(const client *c) {
    if (c->flags & CLIENT_MONITOR) return OBUF_REPLICA;
    return (c->flags & CLIENT_PUBSUB) ? OBUF_PUBSUB : OBUF_NORMAL;
}

static void obuf_limit_check(client *c) {
    if (c->fd < 0 || (c->flags & CLIENT_CLOSE_ASAP)) return;
    const obuf_limit *l = &server.obuf_limits[obuf_class(c)];
    int hard = l->hard && c->reply_bytes >= l->hard;
    if (!(c->flags & CLIENT_AUTHENTICATED) && c->reply_bytes > UNAUTH_OBUF_LIMIT) hard = 1;
    int soft = 0;
    if (l->soft && c->reply_bytes >= l->soft) {
        if (!c->obuf_soft_limit_since_ms)
            c->obuf_soft_limit_since_ms = server.mstime;
        else if (server.mstime - c->obuf_soft_limit_since_ms > l->soft_seconds * 1000)
            soft = 1;
    } else {
        c->obuf_soft_limit_since_ms = 0;
    }
    if (hard || soft) {
        server_log(LL_WARNING,
                   "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output "
                   "buffer limits.",
                   (unsigned long long)c->id, c->addr);
        server.stat_client_outbuf_limit_disconnections++;
        free_reply_blocks(c);
        client_close_async(c);
    }
}

/* ---- writing ------------------------------------------------------------------- */

/* The reply barrier: no reply leaves before the write it acknowledges is
 * durable (c->reply_after <= server.durable_pos) or while something holds it
 * (c->reply_holds: a fencing token above the stored ceiling). Checked here, where every
 * write to a client's socket starts, so no order of callbacks can let one
 * through; a barred client waits on server.reply_barred. Building with
 * -DLARDER_NO_REPLY_BARRIER removes the check (to see the barrier's test fail). */
static int reply_barred(client *c) {
#ifndef LARDER_NO_REPLY_BARRIER
    if (c->reply_after > server.durable_pos || c->reply_holds) {
        if (!list_linked(&c->barrier_node)) list_push_back(&server.reply_barred, &c->barrier_node);
        if (ev_is_active(&c->wio)) ev_io_stop(server.loop, &c->wio);
        return 1;
    }
#endif
    (void)c;
    return 0;
}

void replies_durable(uint64_t pos) {
    if (pos > server.durable_pos) server.durable_pos = pos;
    list_node *n, *t;
    list_for_each_safe(n, t, &server.reply_barred) {
        client *c = list_entry(n, client, barrier_node);
        if (c->reply_after > server.durable_pos || c->reply_holds) continue;
        list_remove(&server.reply_barred, n);
        mark_pending(c);
    }
}

void reply_barrier_hold(client *c) {
    c->reply_holds++;
}

void reply_barrier_release(client *c) {
    if (c->reply_holds > 0) c->reply_holds--;
    if (c->reply_holds || c->reply_after > server.durable_pos || !list_linked(&c->barrier_node))
        return;
    list_remove(&server.reply_barred, &c->barrier_node);
    mark_pending(c);
}

/* Fills iov with c's unsent reply bytes (at most max vectors); *total is
 * their sum. 0 when only empty blocks are left. */
static int reply_iov(client *c, struct iovec *iov, int max, size_t *total) {
    int n = 0;
    size_t off = c->sentlen;
    *total = 0;
    for (reply_block *b = c->rhead; b && n < max; b = b->next) {
        if (b->used > off) {
            iov[n].iov_base = b->buf + off;
            iov[n].iov_len = b->used - off;
            *total += b->used - off;
            n++;
        }
        off = 0;
    }
    return n;
}

/* Drops the first w bytes of c's replies, which the socket took. */
static void reply_consume(client *c, size_t w) {
    server.stat_net_output_bytes += (long long)w;
    server.stat_io_writes++;
    c->net_out += (unsigned long long)w;
    size_t left = w;
    while (c->rhead && left) {
        reply_block *h = c->rhead;
        size_t avail = h->used - c->sentlen;
        if (left < avail) {
            c->sentlen += left;
            c->reply_bytes -= left;
            break;
        }
        left -= avail;
        c->reply_bytes -= avail;
        c->rhead = h->next;
        if (!c->rhead) c->rtail = NULL;
        c->sentlen = 0;
        if (!c->rhead && h->size == REPLY_BLOCK && !c->rtail) {
            /* keep one block for the next reply: avoids malloc per reply */
            h->used = 0;
            h->next = NULL;
            c->rhead = c->rtail = h;
            break;
        }
        xfree(h);
    }
}

/* Everything queued is out: a client waiting for that closes. Returns ERR if
 * the client was freed. */
static int replies_all_sent(client *c) {
    c->obuf_soft_limit_since_ms = 0;
    if (ev_is_active(&c->wio)) ev_io_stop(server.loop, &c->wio);
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        client_free(c);
        return ERR;
    }
    return OK;
}

/* The ring path: one send in flight at a time; its completion
 * (client_write_done) queues the rest. */
static int write_client_uring(client *c) {
    if (uring_sending(c)) return OK;
    struct iovec iov[16];
    size_t total;
    int n = reply_iov(c, iov, 16, &total);
    if (n == 0) {
        free_reply_blocks(c);
        return replies_all_sent(c);
    }
    uring_send(c, iov, n, total);
    return OK;
}

void client_write_done(client *c, ssize_t w, int err) {
    if (w < 0) {
        server_log(LL_VERBOSE, "Error writing to client: %s", strerror(err));
        client_free(c);
        return;
    }
    reply_consume(c, (size_t)w);
    if (c->reply_bytes == 0)
        replies_all_sent(c);
    else
        mark_pending(c); /* the rest goes with this turn's other replies */
}

/* Writes as much as the socket takes. Returns ERR if the client was freed. */
static int write_client(client *c) {
    if (reply_barred(c)) return OK;
    if (c->uring) return write_client_uring(c);
    while (c->rhead) {
        struct iovec iov[64];
        size_t total;
        int n = reply_iov(c, iov, 64, &total);
        if (n == 0) { /* only empty blocks left */
            free_reply_blocks(c);
            break;
        }
        ssize_t w = conn_writev(c, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
            server_log(LL_VERBOSE, "Error writing to client: %s", strerror(errno));
            client_free(c);
            return ERR;
        }
        reply_consume(c, (size_t)w);
        if ((size_t)w < total) break;
    }
    if (c->reply_bytes == 0) return replies_all_sent(c);
    if (conn_write_wants_read(c)) {
        /* TLS needs the peer's bytes first: the read watcher retries the
         * write (a write watcher would fire at once, again and again) */
        if (ev_is_active(&c->wio)) ev_io_stop(server.loop, &c->wio);
    } else if (!ev_is_active(&c->wio)) {
        ev_io_start(server.loop, &c->wio);
    }
    return OK;
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    client *c = w->data;
    write_client(c);
}

void flush_pending_writes(void) {
    list_node *n;
    while ((n = list_first(&server.pending_writes))) {
        client *c = list_entry(n, client, pending_write_node);
        list_remove(&server.pending_writes, n);
        c->flags &= ~(uint64_t)CLIENT_PENDING_WRITE;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (ev_is_active(&c->wio)) continue; /* the write watcher will do it */
        write_client(c);
    }
    free_clients_to_close();
}

/* Each cron tick, as Redis's clientsCronResizeQueryBuffer (which visits
 * every client each tick when there are few): a query buffer more than
 * twice as big as the most input it held since the last tick (and over
 * 32 KB, with more than 4 KB free) shrinks to that peak, never below what
 * it holds or what a big argument being read needs, so one big request
 * does not leave a busy client a big buffer for good. The peak starts
 * again from what the buffer holds. */
static void fit_query_buffer(client *c) {
    size_t held = c->qlen - c->qpos;
    if (c->qbuf && c->qcap - c->qlen > 4096 && c->qcap > 32 * 1024 && c->qcap / 2 > c->qpeak) {
        size_t fit = c->qlen > c->qpeak ? c->qlen : c->qpeak;
        size_t need = resp_req_need(&c->req, held);
        if (need >= RESP_BIG_ARG && c->qlen + need > fit) fit = c->qlen + need;
        if (fit == 0) {
            xfree(c->qbuf);
            c->qbuf = NULL;
        } else {
            c->qbuf = xrealloc(c->qbuf, fit + 1);
        }
        c->qcap = fit;
    }
    c->qpeak = held;
}

/* The largest query buffer peak of each of the last 8 seconds (Redis's
 * CLIENTS_PEAK_MEM_USAGE_SLOTS), for INFO's client_recent_max_input_buffer:
 * the per-client peaks start again every tick. */
enum { PEAK_SLOTS = 8 };
static size_t in_peak[PEAK_SLOTS];
static int64_t in_peak_sec;

size_t clients_recent_max_input(void) {
    size_t m = 0;
    for (int i = 0; i < PEAK_SLOTS; i++)
        if (in_peak[i] > m) m = in_peak[i];
    list_node *n;
    list_for_each(n, &server.clients) {
        client *c = list_entry(n, client, node);
        if (c->qpeak > m) m = c->qpeak;
    }
    return m;
}

/* Closes idle clients (timeout) and shrinks idle query buffers. */
void clients_cron(void) {
    int64_t sec = server.mstime / 1000;
    if (sec != in_peak_sec) {
        in_peak_sec = sec;
        in_peak[sec % PEAK_SLOTS] = 0;
    }
    size_t *peak = &in_peak[sec % PEAK_SLOTS];
    list_node *n, *t;
    list_for_each_safe(n, t, &server.clients) {
        client *c = list_entry(n, client, node);
        int64_t idle = server.mstime - c->last_interaction_ms;
        if (server.maxidletime && idle / 1000 > server.maxidletime &&
            !(c->flags & (CLIENT_BLOCKED | CLIENT_PUBSUB | CLIENT_MULTI))) {
            server_log(LL_VERBOSE, "Closing idle client");
            client_free(c);
            continue;
        }
        if (c->qbuf && c->qlen == 0 && idle > 2000) {
            xfree(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
        if (c->qpeak > *peak) *peak = c->qpeak;
        fit_query_buffer(c);
        if (c->rhead && c->reply_bytes == 0 && idle > 2000) free_reply_blocks(c);
        if (c->reply_bytes) obuf_limit_check(c);
    }
}
