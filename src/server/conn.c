/* server/conn — plain and TLS transports, see conn.h.
 *
 * TLS: the handshake runs inside the first reads/writes (SSL_accept is
 * implied by SSL_read/SSL_write on a server-side SSL object in accept state).
 * WANT_READ/WANT_WRITE become EAGAIN for the caller; a write that needs the
 * socket readable (renegotiation) simply waits for the next event. */
#include "server/conn.h"
#include "server/server.h"
#include "util/mem.h"
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static SSL_CTX *tls_ctx;

ssize_t conn_read(struct client *c, void *buf, size_t len) {
    if (!c->tls) return read(c->fd, buf, len);
    int n = SSL_read(c->tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0) return n;
    int e = SSL_get_error(c->tls, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    errno = EIO;
    return -1;
}

ssize_t conn_writev(struct client *c, const struct iovec *iov, int n) {
    if (!c->tls) return writev(c->fd, iov, n);
    ssize_t total = 0;
    for (int i = 0; i < n; i++) {
        int w = SSL_write(c->tls, iov[i].iov_base, (int)iov[i].iov_len);
        if (w <= 0) {
            int e = SSL_get_error(c->tls, w);
            if (total) return total;
            errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EIO;
            return -1;
        }
        total += w;
        if ((size_t)w < iov[i].iov_len) break;
    }
    return total;
}

int conn_write_wants_read(struct client *c) {
    return c->tls && SSL_want_read((SSL *)c->tls);
}

int conn_has_buffered_input(struct client *c) {
    return c->tls && SSL_pending(c->tls) > 0;
}

void conn_close(struct client *c) {
    if (c->tls) {
        SSL_shutdown(c->tls);
        SSL_free(c->tls);
        c->tls = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

int conn_tls_accept(struct client *c) {
    if (!tls_ctx) return ERR;
    SSL *ssl = SSL_new(tls_ctx);
    if (!ssl) return ERR;
    SSL_set_fd(ssl, c->fd);
    SSL_set_accept_state(ssl);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    c->tls = ssl;
    c->flags |= CLIENT_TLS;
    return OK;
}

/* The reason OpenSSL gave last (its queue is cleared before each use). */
static char *ssl_error_text(const char *what) {
    char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    else
        snprintf(buf, sizeof buf, "unknown error");
    ERR_clear_error();
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", what, buf);
    return xstrdup(msg);
}

/* Builds a new context from the tls-* settings and swaps it in only when
 * every file loaded: a bad certificate, key or CA file leaves the old
 * context serving. Connections made before keep the context they started
 * with (an SSL holds a reference to its SSL_CTX), so rotating certificates
 * with CONFIG SET affects only new connections. */
int tls_configure(char **err) {
    const char *what = "TLS context";
    if (!server.tls_cert_file || !server.tls_key_file) {
        *err = xstrdup("tls-port needs tls-cert-file and tls-key-file");
        return ERR;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (server.tls_prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    what = "tls-cert-file";
    if (SSL_CTX_use_certificate_chain_file(ctx, server.tls_cert_file) <= 0) goto fail;
    what = "tls-key-file";
    if (SSL_CTX_use_PrivateKey_file(ctx, server.tls_key_file, SSL_FILETYPE_PEM) <= 0) goto fail;
    if (SSL_CTX_check_private_key(ctx) <= 0) goto fail;
    what = "tls-ciphers";
    if (server.tls_ciphers && SSL_CTX_set_cipher_list(ctx, server.tls_ciphers) <= 0) goto fail;
    if (server.tls_ciphersuites && SSL_CTX_set_ciphersuites(ctx, server.tls_ciphersuites) <= 0)
        goto fail;
    what = "tls-ca-cert-file";
    if (server.tls_ca_cert_file || server.tls_ca_cert_dir) {
        if (SSL_CTX_load_verify_locations(ctx, server.tls_ca_cert_file, server.tls_ca_cert_dir) <=
            0)
            goto fail;
    }
    if (server.tls_auth_clients == 1)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (server.tls_auth_clients == 2)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (tls_ctx) SSL_CTX_free(tls_ctx);
    tls_ctx = ctx;
    return OK;
fail:
    *err = ssl_error_text(what);
    if (ctx) SSL_CTX_free(ctx);
    return ERR;
}
