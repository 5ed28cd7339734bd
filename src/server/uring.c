/* server/uring — the io_uring I/O path, see uring.h.
 *
 * Why this shape. At pipeline depth 1 a request costs the epoll path three
 * system calls (its share of epoll_wait, a read, a writev); the command
 * itself is cheap next to them. Here a busy loop turn costs one io_uring_enter
 * for all clients:
 *  - each plain connection has one multishot receive armed for its life: the
 *    kernel puts arriving bytes in a buffer of a provided-buffer ring and
 *    posts a completion, with no system call of ours per read;
 *  - replies are queued as sends while before-sleep flushes them and are all
 *    submitted by the one io_uring_enter at its end (uring_turn), which also
 *    runs the kernel's pending completion work (COOP_TASKRUN: completions are
 *    posted when the loop thread crosses into the kernel, never by an
 *    interrupt), so the completions that came meanwhile are handled right
 *    there and before-sleep runs again (up to URING_ROUNDS rounds) without
 *    going through epoll_wait at all;
 *  - libev still owns the loop and waits for the listeners, timers, signals,
 *    the store thread's ev_async, TLS clients and the ring: an ev_io on the
 *    ring's fd (readable while completions wait). A completion that arrives
 *    while the loop sleeps in epoll_wait interrupts it (EINTR, which libev
 *    takes as a wake-up) or makes the ring fd readable; either way the next
 *    before-sleep handles it.
 * So libev is kept (its timers, signals and async are used everywhere) and
 * io_uring replaces only the per-client reads and writes, the calls that
 * scale with requests. DEFER_TASKRUN would batch the kernel's work better,
 * but a ring set up with it does not wake epoll_wait (no poll wake-up for
 * deferred work on this kernel), so it would need an eventfd and a read of
 * it per wake-up.
 *
 * Buffers. Receives go into URING_NBUF buffers of URING_BUFSZ bytes shared
 * by all connections; a completion's bytes are copied into the client's query
 * buffer (the parser works there, and a request may span receives) and the
 * buffer goes back to the ring at once. Sends read the client's reply blocks
 * in place (no copy); registered (fixed) buffers would only help zero-copy
 * sends, which cost more than they save for replies this small. Ring memory
 * is mapped lazily: an idle server touches none of it.
 *
 * Invariants:
 *  1. A uring_conn lives while its client does or while an operation of it
 *     is in flight (refs counts them); a completion carries its address and
 *     the operation in the low bits of user_data.
 *  2. At most one send per connection is in flight. The bytes it covers stay
 *     in the client's reply blocks (counted in reply_bytes) until its
 *     completion, or in orphan once the client has let go of them.
 *  3. Every provided buffer a completion names is back in the ring before
 *     that completion's handling returns.
 *  4. A completion is consumed from the ring before it is handled: a
 *     handler may run a script whose busy polling handles completions too. */
#include "server/uring.h"
#include "server/server.h"
#include "util/mem.h"
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define URING_SQ 1024
#define URING_CQ 8192
#define URING_NBUF 512 /* a power of two */
#define URING_BUFSZ 4096
#define URING_BGID 0
#define URING_IOV 16

enum { OP_RECV = 1, OP_SEND = 2, OP_MASK = 3 };

typedef struct uring_conn {
    client *c; /* NULL once the client is freed */
    int fd;
    int refs; /* operations in flight */
    unsigned recv_armed : 1, sending : 1;
    reply_block *orphan;  /* blocks a send in flight reads, let go of by the client */
    sbuf stash;           /* bytes that came while the client's own command ran */
    list_node stash_node; /* in stashed while stash holds bytes */
    struct msghdr msg;
    struct iovec iov[URING_IOV];
} uring_conn;

static struct io_uring ring;
static int active;
static struct io_uring_buf_ring *bufring;
static char *bufmem;
static ev_io ring_w;
static list_head stashed; /* of uring_conn with bytes in stash */

int uring_active(void) {
    return active;
}

const char *uring_engine_name(void) {
    return active ? "io_uring" : "epoll";
}

/* ---- set-up ------------------------------------------------------------------------ */

static int setup_bufring(void) {
    size_t ringsz = URING_NBUF * sizeof(struct io_uring_buf);
    void *r = mmap(NULL, ringsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (r == MAP_FAILED) return -errno;
    void *m = mmap(NULL, (size_t)URING_NBUF * URING_BUFSZ, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        munmap(r, ringsz);
        return -e;
    }
    bufring = r;
    bufmem = m;
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)r, .ring_entries = URING_NBUF, .bgid = URING_BGID};
    int rc = io_uring_register_buf_ring(&ring, &reg, 0);
    if (rc < 0) return rc;
    io_uring_buf_ring_init(bufring);
    for (int i = 0; i < URING_NBUF; i++)
        io_uring_buf_ring_add(bufring, bufmem + (size_t)i * URING_BUFSZ, URING_BUFSZ,
                              (unsigned short)i, io_uring_buf_ring_mask(URING_NBUF), i);
    io_uring_buf_ring_advance(bufring, URING_NBUF);
    return 0;
}

static void ring_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Sets the ring up; 0 or a negative errno. LARDER_IO_URING_FAIL (a test's
 * switch) makes it fail as a kernel without io_uring would. */
static int setup_ring(void) {
    if (getenv("LARDER_IO_URING_FAIL")) return -ENOSYS;
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
    p.cq_entries = URING_CQ;
    int rc = io_uring_queue_init_params(URING_SQ, &ring, &p);
    if (rc == -EINVAL) { /* a kernel older than 6.0 lacks SINGLE_ISSUER */
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = URING_CQ;
        rc = io_uring_queue_init_params(URING_SQ, &ring, &p);
    }
    if (rc < 0) return rc;
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_FAST_POLL)) {
        io_uring_queue_exit(&ring);
        return -EOPNOTSUPP;
    }
    rc = setup_bufring();
    if (rc < 0) {
        io_uring_queue_exit(&ring);
        return rc;
    }
    io_uring_register_ring_fd(&ring); /* saves a file lookup per enter; optional */
    return 0;
}

static int engine_from_env(int engine, char **err) {
    const char *e = getenv("LARDER_IO_ENGINE");
    if (!e || !*e) return engine;
    if (!strcmp(e, "auto")) return IO_ENGINE_AUTO;
    if (!strcmp(e, "uring") || !strcmp(e, "io_uring")) return IO_ENGINE_URING;
    if (!strcmp(e, "epoll")) return IO_ENGINE_EPOLL;
    *err = xstrdup("LARDER_IO_ENGINE must be auto, uring or epoll");
    return -1;
}

int uring_setup(int engine, char **why, char **err) {
    *why = NULL;
    engine = engine_from_env(engine, err);
    if (engine < 0) return ERR;
    if (engine == IO_ENGINE_EPOLL) return OK;
    int rc = setup_ring();
    if (rc < 0) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "io_uring could not be set up: %s", strerror(-rc));
        if (engine == IO_ENGINE_URING) {
            sbuf_puts(&b, " (io-engine uring; auto falls back to epoll)");
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
        *why = sbuf_take(&b, NULL);
        return OK;
    }
    active = 1;
    list_init(&stashed);
    ev_io_init(&ring_w, ring_cb, ring.ring_fd, EV_READ);
    ev_io_start(server.loop, &ring_w);
    return OK;
}

/* ---- queueing ---------------------------------------------------------------------- */

static struct io_uring_sqe *get_sqe(void) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) { /* full: submit what is queued and take a fresh entry */
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    assert(sqe);
    return sqe;
}

static void arm_recv(uring_conn *u) {
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, u->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = URING_BGID;
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)u | OP_RECV);
    u->recv_armed = 1;
    u->refs++;
}

static void cancel_op(uring_conn *u, int op) {
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)u | (uint64_t)op, 0);
    io_uring_sqe_set_data64(sqe, 0); /* its own completion is ignored */
}

void uring_attach(client *c) {
    if (!active || c->tls || c->fd < 0) return;
    uring_conn *u = xcalloc(1, sizeof(*u));
    u->c = c;
    u->fd = c->fd;
    c->uring = u;
    ev_io_stop(server.loop, &c->rio);
    arm_recv(u);
}

int uring_sending(const client *c) {
    const uring_conn *u = c->uring;
    return u && u->sending;
}

void uring_send(client *c, const struct iovec *iov, int n, size_t total) {
    uring_conn *u = c->uring;
    assert(u && !u->sending && n > 0);
    (void)total;
    struct io_uring_sqe *sqe = get_sqe();
    if (n == 1) {
        io_uring_prep_send(sqe, u->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        if (n > URING_IOV) n = URING_IOV;
        memcpy(u->iov, iov, sizeof(*iov) * (size_t)n);
        memset(&u->msg, 0, sizeof(u->msg));
        u->msg.msg_iov = u->iov;
        u->msg.msg_iovlen = (size_t)n;
        io_uring_prep_sendmsg(sqe, u->fd, &u->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)u | OP_SEND);
    u->sending = 1;
    u->refs++;
}

static void free_blocks(reply_block *b) {
    while (b) {
        reply_block *n = b->next;
        xfree(b);
        b = n;
    }
}

static void adopt(uring_conn *u, reply_block *head) {
    reply_block *t = head;
    while (t && t->next) t = t->next;
    if (t) t->next = u->orphan;
    if (head) u->orphan = head;
}

void uring_adopt_blocks(client *c, reply_block *head) {
    uring_conn *u = c->uring;
    assert(u && u->sending);
    adopt(u, head);
}

static void conn_release(uring_conn *u) {
    if (u->c || u->refs) return;
    free_blocks(u->orphan);
    sbuf_free(&u->stash);
    xfree(u);
}

void uring_detach(client *c) {
    uring_conn *u = c->uring;
    if (!u) return;
    c->uring = NULL;
    u->c = NULL;
    if (u->sending) { /* the send reads these until its completion */
        adopt(u, c->rhead);
        c->rhead = c->rtail = NULL;
        c->reply_bytes = c->sentlen = 0;
        cancel_op(u, OP_SEND);
    }
    if (u->recv_armed) cancel_op(u, OP_RECV);
    if (list_linked(&u->stash_node)) list_remove(&stashed, &u->stash_node);
    conn_release(u);
}

/* ---- completions ------------------------------------------------------------------- */

static void recycle_buffer(unsigned bid) {
    io_uring_buf_ring_add(bufring, bufmem + (size_t)bid * URING_BUFSZ, URING_BUFSZ,
                          (unsigned short)bid, io_uring_buf_ring_mask(URING_NBUF), 0);
    io_uring_buf_ring_advance(bufring, 1);
}

/* A client whose own command runs (a script's busy polling handles
 * completions) must not have its query buffer moved under the command's
 * arguments: its bytes wait in the stash until the next turn. */
static void input(uring_conn *u, const char *p, size_t n) {
    client *c = u->c;
    if ((c->flags & CLIENT_EXECUTING) || u->stash.len) {
        sbuf_append(&u->stash, p, n);
        if (!list_linked(&u->stash_node)) list_push_back(&stashed, &u->stash_node);
        return;
    }
    client_input(c, p, n);
}

static void drain_stashes(void) {
    list_node *n, *t;
    list_for_each_safe(n, t, &stashed) {
        uring_conn *u = list_entry(n, uring_conn, stash_node);
        if (u->c->flags & CLIENT_EXECUTING) continue;
        list_remove(&stashed, n);
        sbuf s = u->stash;
        u->stash = (sbuf)SBUF_INIT;
        client_input(u->c, s.p, s.len);
        sbuf_free(&s);
    }
}

static void on_recv(uring_conn *u, int res, unsigned flags) {
    int more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        u->recv_armed = 0;
        u->refs--;
    }
    client *c = u->c;
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (c && res > 0) input(u, bufmem + (size_t)bid * URING_BUFSZ, (size_t)res);
        recycle_buffer(bid);
        c = u->c; /* the input may have closed it */
    }
    if (!c) {
        conn_release(u);
        return;
    }
    if (res == 0) { /* the peer closed (or shut its side) */
        /* The end can come in the same batch as the last request: its reply
         * goes first, as on the epoll path, where the end is read only after
         * before-sleep has written. */
        if (c->reply_bytes && !(c->flags & CLIENT_CLOSE_ASAP))
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else
            client_free(c);
        return;
    }
    if (res < 0 && res != -ENOBUFS) {
        server_log(LL_VERBOSE, "Reading from client: %s", strerror(-res));
        client_free(c);
        return;
    }
    /* out of buffers, or the kernel ended the multishot: arm it again */
    if (!more && !u->recv_armed) arm_recv(u);
}

static void on_send(uring_conn *u, int res) {
    u->sending = 0;
    u->refs--;
    if (u->orphan) {
        free_blocks(u->orphan);
        u->orphan = NULL;
    }
    if (!u->c) {
        conn_release(u);
        return;
    }
    client_write_done(u->c, res < 0 ? -1 : res, res < 0 ? -res : 0);
}

static void handle(uint64_t data, int res, unsigned flags) {
    if (!data) return; /* a cancel's own completion */
    uring_conn *u = (uring_conn *)(uintptr_t)(data & ~(uint64_t)OP_MASK);
    if ((data & OP_MASK) == OP_RECV)
        on_recv(u, res, flags);
    else
        on_send(u, res);
}

/* Handles the completions in the ring, each consumed before it is handled
 * (invariant 4). */
static int reap(void) {
    int n = 0;
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&ring, &cqe) == 0) {
        uint64_t data = cqe->user_data;
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(&ring, cqe);
        handle(data, res, flags);
        n++;
    }
    return n;
}

static void ring_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    reap();
}

void uring_submit(void) {
    if (active && io_uring_sq_ready(&ring)) io_uring_submit(&ring);
}

int uring_turn(void) {
    if (!active) return 0;
    if (!list_empty(&stashed)) drain_stashes();
    uring_submit();
    return reap();
}
