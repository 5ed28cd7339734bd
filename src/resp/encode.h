/* resp/encode — the one RESP encoder: every reply byte Larder sends is made
 * here. server/networking.c's reply_* functions write these bytes to a
 * client; SQL rows (persist/sqlcmd.c), script results and invalidation
 * messages build whole replies with the sbuf functions below. Nothing else
 * writes RESP by hand.
 *
 * Pure: no I/O, no server state. proto is the connection's protocol, 2 or 3;
 * a RESP3 type asked for on a RESP2 connection is written the way Redis
 * writes it:
 *
 *   RESP3               RESP2
 *   %n map              *2n array (key, value, key, value ...)
 *   ~n set, >n push     *n array
 *   _ null              $-1 (a null bulk) or *-1 (a null array)
 *   ,d double           $len d (a bulk of the same text)
 *   #t #f boolean       :1 :0
 *   (n big number       $len n
 *   =len fmt:s verbatim $len s
 *   |n attribute        |n (as is: only RESP3 clients ask for attributes)
 *
 * Two layers:
 *   resp_enc_*  write one item, or the head of one (an aggregate's header,
 *               what comes before a payload), into a caller's buffer and
 *               return its length. The buffer holds RESP_HDR_MAX bytes unless
 *               the function says more. A payload written after a head ends
 *               with RESP_END.
 *   resp_sb_*   append whole items to an sbuf.
 *
 * Invariants:
 *   1. Every item is well-formed: a simple string or error line never holds
 *      CR or LF (each is written as a space), and lengths in headers are the
 *      lengths of what follows.
 *   2. Output depends only on the arguments. */
#ifndef LARDER_RESP_ENCODE_H
#define LARDER_RESP_ENCODE_H
#include "util/sbuf.h"
#include <stddef.h>

#define RESP_HDR_MAX 32     /* the longest head: type, 20 digits, ':' + 3 (verbatim), CRLF */
#define RESP_DOUBLE_MAX 160 /* a double, RESP2 or RESP3 */
#define RESP_END "\r\n"     /* after a bulk, big number or verbatim payload */
#define RESP_END_LEN 2
#define RESP_OK "+OK\r\n" /* the commonest reply, ready-made */
#define RESP_OK_LEN 5

/* Aggregate types. */
enum { RESP_ARRAY = '*', RESP_MAP = '%', RESP_SET = '~', RESP_PUSH = '>', RESP_ATTR = '|' };

/* ":v\r\n". */
size_t resp_enc_int(char *dst, long long v);
/* The header of an aggregate of n elements (n pairs for RESP_MAP and
 * RESP_ATTR); n = -1 is RESP2's null array. */
size_t resp_enc_agg(char *dst, int proto, int type, long long n);
/* "$len\r\n": the payload and RESP_END follow. */
size_t resp_enc_bulk_hdr(char *dst, size_t len);
/* A whole bulk string; dst holds len + RESP_HDR_MAX + RESP_END_LEN bytes. */
size_t resp_enc_bulk(char *dst, const void *p, size_t len);
/* A simple string (type '+') or an error (type '-') of n bytes: CR and LF
 * become spaces; dst holds n + 3 bytes. */
size_t resp_enc_line(char *dst, char type, const char *s, size_t n);
size_t resp_enc_null(char *dst, int proto);       /* "_" / "$-1" */
size_t resp_enc_null_array(char *dst, int proto); /* "_" / "*-1" */
size_t resp_enc_bool(char *dst, int proto, int v);
/* A double as Redis prints it ("%.17g", inf/-inf); dst holds RESP_DOUBLE_MAX. */
size_t resp_enc_double(char *dst, int proto, double d);
/* A double given as its text s[0..n) (n <= 128); dst holds RESP_DOUBLE_MAX. */
size_t resp_enc_double_text(char *dst, int proto, const char *s, size_t n);
/* Heads of a big number's and a verbatim string's len payload bytes (ext: the
 * 3-letter format, "txt"); the payload and RESP_END follow. */
size_t resp_enc_bignum_hdr(char *dst, int proto, size_t len);
size_t resp_enc_verbatim_hdr(char *dst, int proto, size_t len, const char *ext);

/* The same, appended to an sbuf. */
void resp_sb_int(sbuf *b, long long v);
void resp_sb_agg(sbuf *b, int proto, int type, long long n);
void resp_sb_bulk(sbuf *b, const void *p, size_t len);
void resp_sb_line(sbuf *b, char type, const char *s, size_t n);
void resp_sb_null(sbuf *b, int proto);
void resp_sb_double_text(sbuf *b, int proto, const char *s, size_t n);
#endif
