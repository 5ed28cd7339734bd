/* tests/integration/test_tls_rotate.c — certificate rotation without a
 * restart: CONFIG SET tls-cert-file / tls-key-file / tls-ca-cert-file load
 * new files for new connections, connections made before keep theirs, and a
 * bad file is refused with an error while the old certificates stay.
 *
 * The certificates are made by the openssl command-line tool in a temporary
 * folder (two CAs, a server certificate under each, a client certificate
 * under the first); the client is OpenSSL in this program. */
#include "harness.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[256];

static const char *file(const char *name) {
    static char p[8][320];
    static int i;
    char *r = p[i++ % 8];
    snprintf(r, 320, "%s/%s", dir, name);
    return r;
}

static int sh(const char *cmd) {
    char full[2048];
    snprintf(full, sizeof full, "cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);
    return system(full);
}

/* A CA, or a certificate signed by ca (NULL: self-signed CA). */
static int make_cert(const char *name, const char *cn, const char *ca) {
    char cmd[1024];
    if (!ca) {
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                 "-keyout %s.key -out %s.crt -subj /CN=%s -days 2",
                 name, name, cn);
        return sh(cmd);
    }
    snprintf(cmd, sizeof cmd,
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout %s.key "
             "-out %s.csr -subj /CN=%s && openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key "
             "-CAcreateserial -out %s.crt -days 2",
             name, name, cn, name, ca, ca, name);
    return sh(cmd);
}

typedef struct tconn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char cn[128]; /* the server certificate's common name */
} tconn;

static void tls_close(tconn *t) {
    if (t->ssl) SSL_free(t->ssl);
    if (t->ctx) SSL_CTX_free(t->ctx);
    if (t->fd >= 0) close(t->fd);
    memset(t, 0, sizeof *t);
    t->fd = -1;
}

/* Connects and handshakes (client certificate: name, or NULL). 0 on success. */
static int tls_open_from(tconn *t, int port, const char *client, const char *src) {
    memset(t, 0, sizeof *t);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    if (src) {
        inet_pton(AF_INET, src, &sa.sin_addr);
        if (bind(t->fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = {10, 0};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(t->fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (client) {
        char crt[64], key[64];
        snprintf(crt, sizeof crt, "%s.crt", client);
        snprintf(key, sizeof key, "%s.key", client);
        if (SSL_CTX_use_certificate_file(t->ctx, file(crt), SSL_FILETYPE_PEM) <= 0 ||
            SSL_CTX_use_PrivateKey_file(t->ctx, file(key), SSL_FILETYPE_PEM) <= 0)
            return -1;
    }
    t->ssl = SSL_new(t->ctx);
    SSL_set_fd(t->ssl, t->fd);
    if (SSL_connect(t->ssl) != 1) {
        ERR_clear_error();
        return -1;
    }
    X509 *peer = SSL_get_peer_certificate(t->ssl);
    if (peer) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, t->cn, sizeof t->cn);
        X509_free(peer);
    }
    return 0;
}

static int tls_open(tconn *t, int port, const char *client) {
    return tls_open_from(t, port, client, NULL);
}

/* Sends an inline command and returns the first reply line (static). In
 * TLS 1.3 a refused client certificate shows only here, as a failed read. */
static const char *tls_cmd(tconn *t, const char *line) {
    static char buf[512];
    char out[256];
    int n = snprintf(out, sizeof out, "%s\r\n", line);
    if (SSL_write(t->ssl, out, n) != n) return "(lost)";
    int r = SSL_read(t->ssl, buf, sizeof buf - 1);
    if (r <= 0) {
        ERR_clear_error();
        return "(lost)";
    }
    buf[r] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

TEST(rotate_server_certificate) {
    srv s;
    char tport[16];
    int port = 0;
    /* the harness picks --port; the TLS port is one of ours (another if taken) */
    for (int attempt = 0; attempt < 5 && !port; attempt++) {
        snprintf(tport, sizeof tport, "%d", 20000 + (getpid() * 7 + attempt * 131) % 20000);
        const char *args[] = {"--tls-port",
                              tport,
                              "--tls-cert-file",
                              file("s1.crt"),
                              "--tls-key-file",
                              file("s1.key"),
                              "--tls-ca-cert-file",
                              file("ca1.crt"),
                              "--tls-auth-clients",
                              "no",
                              NULL};
        if (srv_start(&s, args) == 0) port = atoi(tport);
    }
    CHECK(port > 0);
    if (!port) return;
    redisContext *c = srv_connect(&s);
    tconn a, b, d;
    CHECK(tls_open(&a, port, NULL) == 0);
    CHECK_STR(a.cn, "server-one");
    CHECK_STR(tls_cmd(&a, "PING"), "+PONG");

    CHECK_CMD(c, "+OK", "CONFIG SET tls-cert-file %s tls-key-file %s", file("s2.crt"),
              file("s2.key"));
    CHECK(tls_open(&b, port, NULL) == 0);
    CHECK_STR(b.cn, "server-two");
    CHECK_STR(tls_cmd(&a, "PING"), "+PONG"); /* the old connection goes on */
    CHECK_STR(tls_cmd(&b, "PING"), "+PONG");

    /* bad files are refused, and the certificate in use stays */
    char *r = cmd_str(c, "CONFIG SET tls-cert-file %s", file("missing.crt"));
    CHECK(r && strstr(r, "CONFIG SET failed (possibly related to argument 'tls-cert-file') - "
                         "tls-cert-file:"));
    free(r);
    r = cmd_str(c, "CONFIG SET tls-cert-file %s", file("garbage.crt"));
    CHECK(r && strstr(r, "tls-cert-file:"));
    free(r);
    r = cmd_str(c, "CONFIG SET tls-cert-file %s", file("s1.crt")); /* s2's key does not fit */
    CHECK(r && strstr(r, "tls-key-file:"));
    free(r);
    r = cmd_str(c, "CONFIG SET tls-ca-cert-file %s", file("missing.crt"));
    CHECK(r && strstr(r, "tls-ca-cert-file:"));
    free(r);
    redisReply *g = redisCommand(c, "CONFIG GET tls-cert-file");
    CHECK(g && g->elements == 2 && !strcmp(g->element[1]->str, file("s2.crt")));
    freeReplyObject(g);
    CHECK(tls_open(&d, port, NULL) == 0);
    CHECK_STR(d.cn, "server-two");
    CHECK_STR(tls_cmd(&d, "PING"), "+PONG");
    tls_close(&d);

    /* client certificates: ca1 signs the client; rotating the CA to ca2
     * refuses it on new connections, not on the one already made */
    CHECK_CMD(c, "+OK", "CONFIG SET tls-auth-clients yes");
    tconn e, f, g2;
    CHECK(tls_open(&e, port, "c1") == 0);
    CHECK_STR(tls_cmd(&e, "PING"), "+PONG");
    CHECK(tls_open(&f, port, NULL) != 0 || strcmp(tls_cmd(&f, "PING"), "+PONG") != 0);
    tls_close(&f);
    CHECK_CMD(c, "+OK", "CONFIG SET tls-ca-cert-file %s", file("ca2.crt"));
    CHECK(tls_open(&g2, port, "c1") != 0 || strcmp(tls_cmd(&g2, "PING"), "+PONG") != 0);
    tls_close(&g2);
    CHECK_STR(tls_cmd(&e, "PING"), "+PONG");
    tls_close(&e);

    /* protected mode over TLS: a client from 127.0.0.2 gets -DENIED once the
     * handshake is through, and runs nothing */
    CHECK_CMD(c, "+OK", "CONFIG SET tls-auth-clients no");
    tconn p;
    CHECK(tls_open_from(&p, port, NULL, "127.0.0.2") == 0);
    const char *denied = tls_cmd(&p, "SET k v");
    CHECK(!strncmp(denied, "-DENIED Redis is running in protected mode", 42));
    /* the rest of the text, then the close */
    char rest[4096];
    int got, total = 0;
    while ((got = SSL_read(p.ssl, rest, sizeof rest)) > 0) total += got;
    ERR_clear_error();
    CHECK(total < 2000);
    CHECK_STR(tls_cmd(&p, "PING"), "(lost)");
    tls_close(&p);
    CHECK_CMD(c, "(nil)", "GET k");

    tls_close(&a);
    tls_close(&b);
    CHECK_CMD(c, "+PONG", "PING");
    redisFree(c);
    srv_stop(&s);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/larder-tls-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    int bad = make_cert("ca1", "ca-one", NULL) | make_cert("ca2", "ca-two", NULL) |
              make_cert("s1", "server-one", "ca1") | make_cert("s2", "server-two", "ca2") |
              make_cert("c1", "client-one", "ca1");
    FILE *f = fopen(file("garbage.crt"), "w");
    if (f) {
        fputs("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n", f);
        fclose(f);
    }
    if (bad) {
        fprintf(stderr, "openssl could not make the test certificates\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(rotate_server_certificate);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) { /* best effort */
    }
    return test_report();
}
