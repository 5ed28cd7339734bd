/* server/conn — a client connection's byte transport: a plain socket, or TLS
 * on top of it (OpenSSL). Networking calls only these. */
#ifndef LARDER_SERVER_CONN_H
#define LARDER_SERVER_CONN_H
#include <sys/types.h>
#include <sys/uio.h>

struct client;
ssize_t conn_read(struct client *c, void *buf, size_t len);
ssize_t conn_writev(struct client *c, const struct iovec *iov, int n);
void conn_close(struct client *c);
/* TLS keeps decrypted bytes internally: true when some are waiting. */
int conn_has_buffered_input(struct client *c);
/* After a write that would block: does TLS wait for the peer's bytes
 * (a handshake) rather than for room in the socket? */
int conn_write_wants_read(struct client *c);
/* Starts the server side of a TLS handshake on c (non-blocking). */
int conn_tls_accept(struct client *c);
/* Loads certificates from the tls-* configuration. OK/ERR with *err set. */
int tls_configure(char **err);
#endif
