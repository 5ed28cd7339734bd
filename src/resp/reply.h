/* resp/reply — a RESP2/RESP3 *reply* reader: the counterpart of resp_req for
 * bytes a server produced (a fake client's reply blocks, a test's socket).
 *
 * Pure: no I/O, no allocation, no server state. The caller walks the reply
 * as a stream of items: resp_reply_next() decodes the item at the cursor and
 * advances past its header (and past its payload for scalars). An aggregate
 * item (array, map, set, push, attribute) reports its element count; the
 * caller then reads that many items (twice that for maps and attributes:
 * key, value, key, value...) to consume its children, recursively.
 *
 * Invariants:
 *  1. r->pos never exceeds r->len; an item is reported only when its bytes
 *     (header, payload and trailing CRLF) are all inside the buffer.
 *  2. Errors are sticky: after RESP_REPLY_ERR every call returns it again and
 *     r->err names the problem. */
#ifndef LARDER_RESP_REPLY_H
#define LARDER_RESP_REPLY_H
#include <stddef.h>

enum {
    RESP_T_STATUS = '+',
    RESP_T_ERROR = '-',
    RESP_T_INT = ':',
    RESP_T_BULK = '$',
    RESP_T_ARRAY = '*',
    RESP_T_MAP = '%',
    RESP_T_SET = '~',
    RESP_T_PUSH = '>',
    RESP_T_ATTR = '|',
    RESP_T_NULL = '_', /* RESP3 null, and RESP2 "$-1" / "*-1" (see null_kind) */
    RESP_T_BOOL = '#',
    RESP_T_DOUBLE = ',',
    RESP_T_BIGNUM = '(',
    RESP_T_VERBATIM = '=',
    RESP_T_BLOBERR = '!', /* RESP3 blob error: reported as RESP_T_ERROR */
};

typedef struct resp_item {
    int type;        /* RESP_T_* */
    int null_kind;   /* for RESP_T_NULL: '_' RESP3, '$' null bulk, '*' null array */
    const char *str; /* STATUS, ERROR, BULK, BIGNUM, VERBATIM (text after "xxx:"), DOUBLE text */
    size_t len;
    char fmt[4];       /* VERBATIM: the 3-letter format, NUL-terminated */
    long long integer; /* INT, BOOL (0/1), aggregate element count */
    double dbl;        /* DOUBLE */
} resp_item;

enum { RESP_REPLY_OK = 0, RESP_REPLY_MORE = 1, RESP_REPLY_ERR = -1 };

typedef struct resp_reply_reader {
    const char *buf;
    size_t len, pos;
    const char *err; /* sticky, static text */
} resp_reply_reader;

void resp_reply_init(resp_reply_reader *r, const char *buf, size_t len);
/* Decodes the item at the cursor. RESP_REPLY_OK with *it filled and the
 * cursor advanced; RESP_REPLY_MORE if the buffer ends inside the item (cursor
 * unchanged); RESP_REPLY_ERR on malformed input. */
int resp_reply_next(resp_reply_reader *r, resp_item *it);
/* Skips one whole reply (an item with all its children). Same returns. */
int resp_reply_skip(resp_reply_reader *r);
#endif
