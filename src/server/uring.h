/* server/uring — the io_uring I/O path for plain client sockets (TCP and
 * unix): one multishot receive per connection into a ring of provided
 * buffers, and the replies of every client submitted together once per loop
 * turn. TLS connections stay on libev's epoll path. Networking calls only
 * these; the loop (server.c) calls uring_turn() at the end of before-sleep. */
#ifndef LARDER_SERVER_URING_H
#define LARDER_SERVER_URING_H
#include <stddef.h>
#include <sys/uio.h>

struct client;
struct reply_block;

/* io-engine values (config) */
enum { IO_ENGINE_AUTO = 0, IO_ENGINE_URING = 1, IO_ENGINE_EPOLL = 2 };

/* Chooses the engine from `io-engine` and the environment (LARDER_IO_ENGINE
 * overrides the configuration) and sets io_uring up when chosen. With auto,
 * a ring that cannot be set up leaves the epoll path, *why saying why (owned
 * by the caller; NULL when io_uring was not tried or works). With uring, a
 * failed set-up is an error: ERR with *err set. */
int uring_setup(int engine, char **why, char **err);
int uring_active(void);
const char *uring_engine_name(void); /* "io_uring" or "epoll" */

/* Moves c's input to the ring (its read watcher stops). A client that stays
 * on epoll (TLS, or the ring is off) is left alone. */
void uring_attach(struct client *c);
/* c is being freed: its operations in flight are cancelled and outlive it
 * (with the reply blocks a send in flight still reads). */
void uring_detach(struct client *c);
/* Is a send of c's in flight? Its bytes are still in c's reply blocks. */
int uring_sending(const struct client *c);
/* Queues a send of n vectors (total bytes) for c; the completion calls
 * client_write_done(). At most one send per client is in flight. */
void uring_send(struct client *c, const struct iovec *iov, int n, size_t total);
/* c lets go of its reply blocks while a send reads them (output buffer
 * limit): the chain from head is freed when the send completes. */
void uring_adopt_blocks(struct client *c, struct reply_block *head);
/* Submits what is queued and handles the completions that are ready
 * (reads run commands). Returns the number of completions handled. */
int uring_turn(void);
/* Submits what is queued, without handling completions. */
void uring_submit(void);
#endif
