/* resp — the RESP2/RESP3 wire format, with no I/O and no server state.
 *
 * Requests: resp_req parses client requests (multibulk "*N\r\n$len\r\n..." and
 * inline "SET a b\r\n") from a byte buffer the caller owns. Parsing is
 * incremental: feed the whole unconsumed buffer again after more bytes
 * arrive; the parser resumes where it stopped. On RESP_REQ_DONE the request's
 * arguments are slices pointing INTO the caller's buffer (zero copy) and each is
 * NUL-terminated in place (the parser overwrites the '\r' after a bulk), so they
 * stay valid until the caller moves or frees the buffer. Errors are sticky in
 * `err` with Redis's exact texts ("Protocol error: ...").
 *
 * Replies are encoded by resp/encode.h (included here). */
#ifndef LARDER_RESP_H
#define LARDER_RESP_H
#include "resp/encode.h"
#include <stddef.h>
#include <stdint.h>

#define RESP_INLINE_MAX (64 * 1024) /* longest inline request / count line */
#define RESP_BIG_ARG (32 * 1024)    /* args this large get a buffer of their own size */
/* Before a client has authenticated (resp_req.unauth), as Redis since the
 * CVE-2021-32675 fix: a request of more arguments, or an argument longer,
 * is a protocol error, so an unknown peer cannot make the server allocate. */
#define RESP_UNAUTH_MAX_MBULK 10
#define RESP_UNAUTH_MAX_BULK 16384

typedef struct resp_arg {
    char *p; /* valid after RESP_REQ_DONE */
    size_t len;
    size_t off; /* offset from the request start while parsing */
} resp_arg;

enum { RESP_REQ_MORE = 0, RESP_REQ_DONE = 1, RESP_REQ_ERR = -1 };

typedef struct resp_req {
    int argc;
    resp_arg *argv;
    int argv_cap;
    /* parser state */
    char kind;           /* 0 before the first byte, '*' multibulk, 'i' inline */
    long long mb_left;   /* multibulk args still to read */
    long long bulk_len;  /* -1 while reading a "$len" line */
    size_t pos;          /* parse position from the request start */
    long long max_bulk;  /* proto-max-bulk-len */
    long long max_mbulk; /* largest accepted "*N" (Redis: INT_MAX) */
    int unauth;          /* the sender has not authenticated: RESP_UNAUTH_* limits apply */
    const char *err;     /* sticky error text, NULL when fine */
    char errbuf[64];
} resp_req;

void resp_req_init(resp_req *r, long long max_bulk);
/* The caller sets r->unauth (0 or 1) before feeding a request; it is read
 * when a count line is parsed. */
void resp_req_free(resp_req *r);
/* Forget the finished (or failed) request so the next one can be parsed. */
void resp_req_reset(resp_req *r);
/* Parse one request from buf[0..len). Returns RESP_REQ_DONE with *used set to
 * the bytes the request spans (an empty inline line or "*0" gives argc 0),
 * RESP_REQ_MORE when bytes are missing, RESP_REQ_ERR with r->err set. */
int resp_req_parse(resp_req *r, char *buf, size_t len, size_t *used);
/* While RESP_REQ_MORE inside a big bulk: how many more bytes the request needs
 * at least (0 when unknown). Lets the reader size its buffer once. */
size_t resp_req_need(const resp_req *r, size_t have);

/* Split "a b 'c d' \"e\\x41\"" as Redis's inline parser and config reader do: quotes,
 * \xHH and \n-style escapes. Splits s in place (each arg NUL-terminated, s[len]
 * must be writable), appending slices to *argv (grown with xrealloc, capacity
 * *cap). Returns the new *argc, or -1 on unbalanced quotes. */
int resp_split_args(char *s, size_t len, resp_arg **argv, int *cap, int *argc);
#endif
