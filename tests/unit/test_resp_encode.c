/* The RESP encoder (resp/encode.h): exact bytes of every item in RESP2 and
 * RESP3, CR/LF never escaping a line, the sbuf layer equal to the buffer
 * layer, and every encoded reply read back by the reply reader (whole, and
 * as "more bytes needed" at every shorter length). */
#include "resp/encode.h"
#include "resp/reply.h"
#include "test.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <math.h>
#include <stdlib.h>

static char out[512];
static size_t outlen;

/* The encoded bytes as a C string, for CHECK_STR. */
static const char *S(size_t n) {
    outlen = n;
    out[n] = 0;
    return out;
}

TEST(scalars) {
    CHECK_STR(S(resp_enc_int(out, 0)), ":0\r\n");
    CHECK_STR(S(resp_enc_int(out, -9223372036854775807LL - 1)), ":-9223372036854775808\r\n");
    CHECK_STR(S(resp_enc_bulk_hdr(out, 5)), "$5\r\n");
    CHECK_STR(S(resp_enc_bulk(out, "hello", 5)), "$5\r\nhello\r\n");
    CHECK_STR(S(resp_enc_bulk(out, "", 0)), "$0\r\n\r\n");
    size_t n = resp_enc_bulk(out, "a\0b", 3);
    CHECK_EQ(n, 9);
    CHECK(memcmp(out, "$3\r\na\0b\r\n", 9) == 0);
    CHECK_STR(S(resp_enc_line(out, '+', "OK", 2)), "+OK\r\n");
    CHECK_STR(S(resp_enc_line(out, '-', "ERR a\r\nb", 8)), "-ERR a  b\r\n");
    CHECK_STR(RESP_OK, "+OK\r\n");
    CHECK_EQ(RESP_OK_LEN, strlen(RESP_OK));
    CHECK_EQ(RESP_END_LEN, strlen(RESP_END));
}

TEST(by_protocol) {
    CHECK_STR(S(resp_enc_null(out, 2)), "$-1\r\n");
    CHECK_STR(S(resp_enc_null(out, 3)), "_\r\n");
    CHECK_STR(S(resp_enc_null_array(out, 2)), "*-1\r\n");
    CHECK_STR(S(resp_enc_null_array(out, 3)), "_\r\n");
    CHECK_STR(S(resp_enc_bool(out, 2, 1)), ":1\r\n");
    CHECK_STR(S(resp_enc_bool(out, 3, 0)), "#f\r\n");
    CHECK_STR(S(resp_enc_double(out, 2, 1.5)), "$3\r\n1.5\r\n");
    CHECK_STR(S(resp_enc_double(out, 3, 1.5)), ",1.5\r\n");
    CHECK_STR(S(resp_enc_double(out, 3, -INFINITY)), ",-inf\r\n");
    CHECK_STR(S(resp_enc_double_text(out, 3, "0.1", 3)), ",0.1\r\n");
    CHECK_STR(S(resp_enc_double_text(out, 2, "0.1", 3)), "$3\r\n0.1\r\n");
    CHECK_STR(S(resp_enc_bignum_hdr(out, 3, 4)), "(");
    CHECK_STR(S(resp_enc_bignum_hdr(out, 2, 4)), "$4\r\n");
    CHECK_STR(S(resp_enc_verbatim_hdr(out, 3, 2, "txt")), "=6\r\ntxt:");
    CHECK_STR(S(resp_enc_verbatim_hdr(out, 2, 2, "txt")), "$2\r\n");
    /* aggregates */
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_ARRAY, 3)), "*3\r\n");
    CHECK_STR(S(resp_enc_agg(out, 3, RESP_ARRAY, 3)), "*3\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_MAP, 3)), "*6\r\n");
    CHECK_STR(S(resp_enc_agg(out, 3, RESP_MAP, 3)), "%3\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_MAP, 0)), "*0\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_SET, 2)), "*2\r\n");
    CHECK_STR(S(resp_enc_agg(out, 3, RESP_SET, 2)), "~2\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_PUSH, 3)), "*3\r\n");
    CHECK_STR(S(resp_enc_agg(out, 3, RESP_PUSH, 3)), ">3\r\n");
    CHECK_STR(S(resp_enc_agg(out, 3, RESP_ATTR, 1)), "|1\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_ARRAY, -1)), "*-1\r\n");
}

TEST(heads_fit) {
    /* the longest heads fit the documented sizes */
    CHECK(resp_enc_int(out, -9223372036854775807LL - 1) <= RESP_HDR_MAX);
    CHECK(resp_enc_agg(out, 2, RESP_MAP, 4611686018427387903LL) <= RESP_HDR_MAX);
    CHECK(resp_enc_verbatim_hdr(out, 3, (size_t)9223372036854775000ULL, "txt") <= RESP_HDR_MAX);
    CHECK(resp_enc_double(out, 2, -1.2345678901234567e-300) <= RESP_DOUBLE_MAX);
    char t[128];
    memset(t, '9', sizeof t);
    CHECK(resp_enc_double_text(out, 2, t, sizeof t) <= RESP_DOUBLE_MAX);
}

/* The sbuf layer writes what the buffer layer writes, and keeps the NUL. */
TEST(sbuf_layer) {
    for (int proto = 2; proto <= 3; proto++) {
        sbuf b = SBUF_INIT;
        char e[512];
        size_t n = 0;
        resp_sb_agg(&b, proto, RESP_MAP, 2);
        n += resp_enc_agg(e + n, proto, RESP_MAP, 2);
        resp_sb_bulk(&b, "k", 1);
        n += resp_enc_bulk(e + n, "k", 1);
        resp_sb_int(&b, 42);
        n += resp_enc_int(e + n, 42);
        resp_sb_null(&b, proto);
        n += resp_enc_null(e + n, proto);
        resp_sb_double_text(&b, proto, "2.5", 3);
        n += resp_enc_double_text(e + n, proto, "2.5", 3);
        resp_sb_line(&b, '-', "ERR x\ny", 7);
        n += resp_enc_line(e + n, '-', "ERR x\ny", 7);
        CHECK_EQ(b.len, n);
        CHECK(memcmp(b.p, e, n) == 0);
        CHECK(b.p[b.len] == '\0');
        sbuf_free(&b);
    }
}

/* Encodes a reply holding every kind of item, then an error reply, and reads
 * them back item by item; every prefix of the first reply is "more bytes
 * needed", never an error. */
TEST(read_back) {
    for (int proto = 2; proto <= 3; proto++) {
        sbuf b = SBUF_INIT;
        char big[300];
        for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
        resp_sb_agg(&b, proto, RESP_ARRAY, 7);
        resp_sb_int(&b, -5);
        resp_sb_bulk(&b, big, sizeof big);
        resp_sb_null(&b, proto);
        resp_sb_line(&b, '+', "fine\r", 5);
        resp_sb_double_text(&b, proto, "1e+100", 6);
        resp_sb_agg(&b, proto, RESP_SET, 1);
        resp_sb_bulk(&b, "m", 1);
        resp_sb_agg(&b, proto, RESP_MAP, 1);
        resp_sb_bulk(&b, "f", 1);
        resp_sb_int(&b, 1);
        size_t first = b.len; /* the array ends here; an error reply follows */
        resp_sb_line(&b, '-', "ERR bad", 7);

        resp_reply_reader r;
        resp_item it;
        resp_reply_init(&r, b.p, b.len);
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK_EQ(it.type, RESP_T_ARRAY);
        CHECK_EQ(it.integer, 7);
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK(it.type == RESP_T_INT && it.integer == -5);
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK(it.type == RESP_T_BULK && it.len == sizeof big && !memcmp(it.str, big, sizeof big));
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK_EQ(it.type, RESP_T_NULL);
        CHECK_EQ(it.null_kind, proto >= 3 ? '_' : '$');
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK(it.type == RESP_T_STATUS && it.len == 5 && !memcmp(it.str, "fine ", 5));
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK_EQ(it.type, proto >= 3 ? RESP_T_DOUBLE : RESP_T_BULK);
        CHECK(it.len == 6 && !memcmp(it.str, "1e+100", 6));
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK_EQ(it.type, proto >= 3 ? RESP_T_SET : RESP_T_ARRAY);
        CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_OK);
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK_EQ(it.type, proto >= 3 ? RESP_T_MAP : RESP_T_ARRAY);
        CHECK_EQ(it.integer, proto >= 3 ? 1 : 2);
        CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_OK);
        CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_OK);
        CHECK_EQ(r.pos, first);
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
        CHECK(it.type == RESP_T_ERROR && it.len == 7 && !memcmp(it.str, "ERR bad", 7));
        CHECK_EQ(r.pos, b.len);
        for (size_t cut = 0; cut < first; cut++) {
            resp_reply_init(&r, b.p, cut);
            CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_MORE);
        }
        resp_reply_init(&r, b.p, first);
        CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_OK);
        CHECK_EQ(r.pos, first);
        sbuf_free(&b);
    }
}

/* Numbers at every digit count and both ends of the range, against
 * snprintf: lengths and counts go through the same conversion. */
TEST(numbers_every_width) {
    char want[32], got[LONG_STR_SIZE];
    for (int d = 1; d <= 19; d++) {
        long long v = 1;
        for (int k = 1; k < d; k++) v *= 10;
        long long top = d < 19 ? v * 9 + (v - 1) : v; /* the largest of d digits */
        long long vals[] = {v - 1, v, v + 1, top, -v, -(v - 1)};
        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
            snprintf(want, sizeof(want), "%lld", vals[i]);
            CHECK_EQ(ll_to_str(got, vals[i]), (int)strlen(want));
            CHECK_STR(got, want);
            snprintf(want, sizeof(want), ":%lld\r\n", vals[i]);
            CHECK_STR(S(resp_enc_int(out, vals[i])), want);
        }
    }
    CHECK_EQ(ull_to_str(got, 18446744073709551615ULL), 20);
    CHECK_STR(got, "18446744073709551615");
    CHECK_EQ(ll_to_str(got, 9223372036854775807LL), 19);
    CHECK_STR(got, "9223372036854775807");
    CHECK_STR(S(resp_enc_bulk_hdr(out, 9)), "$9\r\n");
    CHECK_STR(S(resp_enc_bulk_hdr(out, 10)), "$10\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_ARRAY, -1)), "*-1\r\n");
    CHECK_STR(S(resp_enc_agg(out, 2, RESP_ARRAY, 0)), "*0\r\n");
}

int main(void) {
    RUN(scalars);
    RUN(by_protocol);
    RUN(heads_fit);
    RUN(sbuf_layer);
    RUN(read_back);
    RUN(numbers_every_width);
    return test_report();
}
