/* Request parser: whole, byte by byte, in random splits, and every protocol error. */
#include "test.h"
#include "resp/resp.h"
#include "util/mem.h"
#include <stdlib.h>

/* Feeds `in` in chunks of the given sizes (0 = all at once) into a growing
 * buffer, as the server does, and collects requests as "a|b|c;" text. */
static void parse_all(const char *in, size_t len, unsigned seed, int chunked, char *out,
                      size_t outsz, const char **err) {
    resp_req r;
    resp_req_init(&r, 512LL * 1024 * 1024);
    char *buf = xmalloc(len + 1);
    size_t have = 0, start = 0, o = 0;
    out[0] = 0;
    *err = NULL;
    srand(seed);
    while (have < len || start < have) {
        if (have < len) {
            size_t step = chunked ? 1 + (size_t)rand() % 7 : len;
            if (chunked == 2) step = 1;
            if (step > len - have) step = len - have;
            memcpy(buf + have, in + have, step);
            have += step;
        }
        for (;;) {
            size_t used = 0;
            int rc = resp_req_parse(&r, buf + start, have - start, &used);
            if (rc == RESP_REQ_ERR) {
                *err = r.err;
                goto done;
            }
            if (rc == RESP_REQ_MORE) break;
            for (int i = 0; i < r.argc; i++) {
                o += (size_t)snprintf(out + o, outsz - o, "%s%.*s", i ? "|" : "",
                                      (int)r.argv[i].len, r.argv[i].p);
                CHECK(r.argv[i].p[r.argv[i].len] == '\0');
            }
            o += (size_t)snprintf(out + o, outsz - o, ";");
            start += used;
            resp_req_reset(&r);
        }
        if (have == len && start < have) {
            /* no more input and the parser wants more */
            break;
        }
    }
done:
    resp_req_free(&r);
    xfree(buf);
}

static const char *STREAM = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
                            "PING\r\n"
                            "*1\r\n$4\r\nPING\r\n"
                            "set a   \"b c\\x41\\n\"\r\n"
                            "*0\r\n"
                            "\r\n"
                            "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n";
static const char *EXPECT = "SET|key|va\r\nl;PING;PING;set|a|b cA\n;;;ECHO|;";

TEST(whole_buffer) {
    char out[512];
    const char *err;
    parse_all(STREAM, strlen(STREAM), 1, 0, out, sizeof(out), &err);
    CHECK(err == NULL);
    CHECK_STR(out, EXPECT);
}

TEST(byte_by_byte) {
    char out[512];
    const char *err;
    parse_all(STREAM, strlen(STREAM), 1, 2, out, sizeof(out), &err);
    CHECK(err == NULL);
    CHECK_STR(out, EXPECT);
}

TEST(random_splits) {
    for (unsigned seed = 1; seed <= 300; seed++) {
        char out[512];
        const char *err;
        parse_all(STREAM, strlen(STREAM), seed, 1, out, sizeof(out), &err);
        CHECK(err == NULL);
        CHECK_STR(out, EXPECT);
    }
}

static const char *error_of(const char *in) {
    char out[512];
    const char *err;
    parse_all(in, strlen(in), 1, 0, out, sizeof(out), &err);
    return err;
}

TEST(protocol_errors) {
    CHECK_STR(error_of("*x\r\n"), "Protocol error: invalid multibulk length");
    CHECK_STR(error_of("*3000000000\r\n"), "Protocol error: invalid multibulk length");
    CHECK_STR(error_of("*1\r\n+foo\r\n"), "Protocol error: expected '$', got '+'");
    CHECK_STR(error_of("*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
    CHECK_STR(error_of("*1\r\n$9999999999\r\n"), "Protocol error: invalid bulk length");
    CHECK_STR(error_of("set a \"b\r\n"), "Protocol error: unbalanced quotes in request");
    CHECK_STR(error_of("set a \"b\"c\r\n"), "Protocol error: unbalanced quotes in request");
}

TEST(oversize_lines) {
    size_t n = RESP_INLINE_MAX + 10;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = 0;
    CHECK_STR(error_of(big), "Protocol error: too big inline request");
    big[0] = '*';
    CHECK_STR(error_of(big), "Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    CHECK_STR(error_of(big), "Protocol error: too big bulk count string");
    xfree(big);
}

TEST(bulk_limit_and_need) {
    resp_req r;
    resp_req_init(&r, 10);
    char buf[64] = "*1\r\n$11\r\n";
    size_t used;
    CHECK_EQ(resp_req_parse(&r, buf, strlen(buf), &used), RESP_REQ_ERR);
    CHECK_STR(r.err, "Protocol error: invalid bulk length");
    resp_req_reset(&r);
    r.max_bulk = 100;
    strcpy(buf, "*1\r\n$50\r\nab");
    CHECK_EQ(resp_req_parse(&r, buf, strlen(buf), &used), RESP_REQ_MORE);
    CHECK_EQ(resp_req_need(&r, strlen(buf)), 50 + 2 - 2);
    resp_req_free(&r);
}

TEST(split_args_quotes) {
    char s[] = "a 'b c' \"d\\te\" '' 'it\\'s'";
    resp_arg *argv = NULL;
    int cap = 0, argc = 0;
    CHECK_EQ(resp_split_args(s, strlen(s), &argv, &cap, &argc), 5);
    CHECK_STR(argv[0].p, "a");
    CHECK_STR(argv[1].p, "b c");
    CHECK_STR(argv[2].p, "d\te");
    CHECK_EQ(argv[3].len, 0);
    CHECK_STR(argv[4].p, "it's");
    xfree(argv);
}

/* As Redis's sdssplitargs: a quote opens inside a word too, and must still be
 * followed by a space or the end. */
TEST(split_args_quote_inside_word) {
    char s[] = "name=\"foo\" a\"b c\" k='x y'";
    resp_arg *argv = NULL;
    int cap = 0, argc = 0;
    CHECK_EQ(resp_split_args(s, strlen(s), &argv, &cap, &argc), 3);
    CHECK_STR(argv[0].p, "name=foo");
    CHECK_STR(argv[1].p, "ab c");
    CHECK_STR(argv[2].p, "k=x y");
    char bad[] = "a\"b\"c";
    argc = 0;
    CHECK_EQ(resp_split_args(bad, strlen(bad), &argv, &cap, &argc), -1);
    xfree(argv);
}

/* A whole request in the buffer takes the one-pass path; byte by byte the
 * general one. Both must agree on every request and every error. */
static void same_both_ways(const char *in, size_t len) {
    char whole[4096], bytes[4096];
    const char *ew, *eb;
    parse_all(in, len, 1, 0, whole, sizeof(whole), &ew);
    parse_all(in, len, 1, 2, bytes, sizeof(bytes), &eb);
    CHECK_STR(whole, bytes);
    CHECK_STR(ew ? ew : "", eb ? eb : "");
}

TEST(whole_request_path_agrees) {
    const char *cases[] = {
        "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n",
        "*2\r\n$3\r\nGET\r\n$03\r\nkey\r\n", /* non-canonical length */
        "*02\r\n$3\r\nGET\r\n$3\r\nkey\r\n", /* non-canonical count */
        "*2\r\n$3\r\nGET\r\n+3\r\nkey\r\n",  /* not a bulk */
        "*2\r\n$1\r\nab\r\n$3\r\nkey\r\n",   /* a bulk longer than it says */
        "*1\r\n$0\r\n\r\n",                  /* empty argument */
        "*-1\r\n*1\r\n$4\r\nPING\r\n",       /* null multibulk */
        "*1\r\n$-1\r\n",
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1234567890123456789\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_both_ways(cases[i], strlen(cases[i]));
    /* more arguments than the first argv holds, and more than the one-pass limit */
    for (int n = 7; n <= 70; n += 9) {
        char req[2048];
        size_t o = (size_t)snprintf(req, sizeof(req), "*%d\r\n", n);
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(req + o, sizeof(req) - o, "$2\r\na%c\r\n", 'A' + i % 26);
        same_both_ways(req, o);
    }
}

TEST(whole_request_unauth_limits) {
    resp_req r;
    resp_req_init(&r, 512LL * 1024 * 1024);
    size_t used;
    char buf[32768];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "*11\r\n");
    for (int i = 0; i < 11; i++) o += (size_t)snprintf(buf + o, sizeof(buf) - o, "$1\r\nx\r\n");
    r.unauth = 1;
    CHECK_EQ(resp_req_parse(&r, buf, o, &used), RESP_REQ_ERR);
    CHECK_STR(r.err, "Protocol error: unauthenticated multibulk length");
    resp_req_reset(&r);
    o = (size_t)snprintf(buf, sizeof(buf), "*1\r\n$16385\r\n");
    memset(buf + o, 'x', 16385);
    memcpy(buf + o + 16385, "\r\n", 2);
    o += 16387;
    CHECK_EQ(resp_req_parse(&r, buf, o, &used), RESP_REQ_ERR);
    CHECK_STR(r.err, "Protocol error: unauthenticated bulk length");
    resp_req_reset(&r);
    r.unauth = 0;
    CHECK_EQ(resp_req_parse(&r, buf, o, &used), RESP_REQ_DONE);
    CHECK_EQ(used, o);
    CHECK_EQ(r.argv[0].len, 16385);
    resp_req_free(&r);
}

int main(void) {
    RUN(whole_buffer);
    RUN(byte_by_byte);
    RUN(random_splits);
    RUN(protocol_errors);
    RUN(oversize_lines);
    RUN(bulk_limit_and_need);
    RUN(whole_request_path_agrees);
    RUN(whole_request_unauth_limits);
    RUN(split_args_quotes);
    RUN(split_args_quote_inside_word);
    return test_report();
}
