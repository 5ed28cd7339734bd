/* resp/encode — the RESP encoder, see encode.h. */
#include "resp/encode.h"
#include "util/strutil.h"
#include <assert.h>
#include <string.h>

static size_t prefixed(char *dst, char type, long long v) {
    dst[0] = type;
    if (v >= 0 && v < 10) { /* most lengths and counts: no conversion */
        dst[1] = (char)('0' + v);
        dst[2] = '\r';
        dst[3] = '\n';
        return 4;
    }
    size_t n = 1 + (size_t)ll_to_str(dst + 1, v);
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

static size_t lit(char *dst, const char *s, size_t n) {
    memcpy(dst, s, n);
    return n;
}

size_t resp_enc_int(char *dst, long long v) {
    return prefixed(dst, ':', v);
}

size_t resp_enc_agg(char *dst, int proto, int type, long long n) {
    assert(type == RESP_ARRAY || type == RESP_MAP || type == RESP_SET || type == RESP_PUSH ||
           type == RESP_ATTR);
    if (proto >= 3 || type == RESP_ARRAY || type == RESP_ATTR) return prefixed(dst, (char)type, n);
    return prefixed(dst, '*', type == RESP_MAP && n > 0 ? 2 * n : n);
}

size_t resp_enc_bulk_hdr(char *dst, size_t len) {
    return prefixed(dst, '$', (long long)len);
}

size_t resp_enc_bulk(char *dst, const void *p, size_t len) {
    size_t h = resp_enc_bulk_hdr(dst, len);
    if (len) memcpy(dst + h, p, len);
    memcpy(dst + h + len, RESP_END, RESP_END_LEN);
    return h + len + RESP_END_LEN;
}

size_t resp_enc_line(char *dst, char type, const char *s, size_t n) {
    assert(type == '+' || type == '-');
    dst[0] = type;
    for (size_t i = 0; i < n; i++) dst[i + 1] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    return n + 3;
}

size_t resp_enc_null(char *dst, int proto) {
    return proto >= 3 ? lit(dst, "_\r\n", 3) : lit(dst, "$-1\r\n", 5);
}

size_t resp_enc_null_array(char *dst, int proto) {
    return proto >= 3 ? lit(dst, "_\r\n", 3) : lit(dst, "*-1\r\n", 5);
}

size_t resp_enc_bool(char *dst, int proto, int v) {
    if (proto >= 3) return lit(dst, v ? "#t\r\n" : "#f\r\n", 4);
    return resp_enc_int(dst, v ? 1 : 0);
}

size_t resp_enc_double(char *dst, int proto, double d) {
    char buf[MAX_D2STRING_CHARS];
    int n = double_to_str(buf, sizeof(buf), d);
    return resp_enc_double_text(dst, proto, buf, (size_t)n);
}

size_t resp_enc_double_text(char *dst, int proto, const char *s, size_t n) {
    assert(n <= MAX_D2STRING_CHARS);
    if (proto < 3) return resp_enc_bulk(dst, s, n);
    dst[0] = ',';
    memcpy(dst + 1, s, n);
    memcpy(dst + 1 + n, RESP_END, RESP_END_LEN);
    return n + 1 + RESP_END_LEN;
}

size_t resp_enc_bignum_hdr(char *dst, int proto, size_t len) {
    if (proto < 3) return resp_enc_bulk_hdr(dst, len);
    dst[0] = '(';
    return 1;
}

size_t resp_enc_verbatim_hdr(char *dst, int proto, size_t len, const char *ext) {
    if (proto < 3) return resp_enc_bulk_hdr(dst, len);
    size_t h = prefixed(dst, '=', (long long)len + 4);
    memcpy(dst + h, ext, 3);
    dst[h + 3] = ':';
    return h + 4;
}

/* ---- sbuf ---------------------------------------------------------------------------------- */

/* Room for need more bytes at the end of b; the caller adds what it wrote to b->len. */
static char *room(sbuf *b, size_t need) {
    sbuf_reserve(b, need);
    return b->p + b->len;
}

static void done(sbuf *b, size_t n) {
    b->len += n;
    b->p[b->len] = '\0'; /* sbuf's bytes stay NUL-terminated */
}

void resp_sb_int(sbuf *b, long long v) {
    done(b, resp_enc_int(room(b, RESP_HDR_MAX), v));
}

void resp_sb_agg(sbuf *b, int proto, int type, long long n) {
    done(b, resp_enc_agg(room(b, RESP_HDR_MAX), proto, type, n));
}

void resp_sb_bulk(sbuf *b, const void *p, size_t len) {
    done(b, resp_enc_bulk(room(b, len + RESP_HDR_MAX + RESP_END_LEN), p, len));
}

void resp_sb_line(sbuf *b, char type, const char *s, size_t n) {
    done(b, resp_enc_line(room(b, n + 3), type, s, n));
}

void resp_sb_null(sbuf *b, int proto) {
    done(b, resp_enc_null(room(b, RESP_HDR_MAX), proto));
}

void resp_sb_double_text(sbuf *b, int proto, const char *s, size_t n) {
    done(b, resp_enc_double_text(room(b, RESP_DOUBLE_MAX), proto, s, n));
}
