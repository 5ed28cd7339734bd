/* Reply reader: every type, nesting, every prefix of a reply is "more", malformed input. */
#include "test.h"
#include "resp/reply.h"
#include <stdlib.h>

/* Renders one reply (with children) as text; returns the reader's rc. */
static int render(resp_reply_reader *r, char *out, size_t *o, size_t cap) {
    resp_item it;
    int rc = resp_reply_next(r, &it);
    if (rc != RESP_REPLY_OK) return rc;
    long long kids = 0;
    switch (it.type) {
    case RESP_T_STATUS:
        *o += (size_t)snprintf(out + *o, cap - *o, "+%.*s", (int)it.len, it.str);
        break;
    case RESP_T_ERROR:
        *o += (size_t)snprintf(out + *o, cap - *o, "-%.*s", (int)it.len, it.str);
        break;
    case RESP_T_INT:
        *o += (size_t)snprintf(out + *o, cap - *o, ":%lld", it.integer);
        break;
    case RESP_T_BULK:
        *o += (size_t)snprintf(out + *o, cap - *o, "\"%.*s\"", (int)it.len, it.str);
        break;
    case RESP_T_NULL:
        *o += (size_t)snprintf(out + *o, cap - *o, "nil%c", it.null_kind);
        break;
    case RESP_T_BOOL:
        *o += (size_t)snprintf(out + *o, cap - *o, "#%lld", it.integer);
        break;
    case RESP_T_DOUBLE:
        *o += (size_t)snprintf(out + *o, cap - *o, ",%g", it.dbl);
        break;
    case RESP_T_BIGNUM:
        *o += (size_t)snprintf(out + *o, cap - *o, "(%.*s", (int)it.len, it.str);
        break;
    case RESP_T_VERBATIM:
        *o += (size_t)snprintf(out + *o, cap - *o, "=%s:%.*s", it.fmt, (int)it.len, it.str);
        break;
    default:
        kids = it.integer * ((it.type == RESP_T_MAP || it.type == RESP_T_ATTR) ? 2 : 1);
        *o += (size_t)snprintf(out + *o, cap - *o, "%c[", it.type);
        for (long long i = 0; i < kids; i++) {
            if (i) *o += (size_t)snprintf(out + *o, cap - *o, ",");
            rc = render(r, out, o, cap);
            if (rc != RESP_REPLY_OK) return rc;
        }
        *o += (size_t)snprintf(out + *o, cap - *o, "]");
    }
    return RESP_REPLY_OK;
}

static const char *render_all(const char *in, size_t len, int *rc_out) {
    static char out[4096];
    size_t o = 0;
    out[0] = 0;
    resp_reply_reader r;
    resp_reply_init(&r, in, len);
    int rc = RESP_REPLY_OK;
    while (r.pos < r.len && rc == RESP_REPLY_OK) {
        size_t before = r.pos;
        rc = render(&r, out, &o, sizeof(out));
        if (rc == RESP_REPLY_OK) o += (size_t)snprintf(out + o, sizeof(out) - o, ";");
        (void)before;
    }
    *rc_out = rc;
    return out;
}

static const char sample[] = "+OK\r\n-ERR bad thing\r\n:-42\r\n$5\r\nhel\r\n\r\n$-1\r\n*-1\r\n_\r\n"
                             "*3\r\n:1\r\n*0\r\n$0\r\n\r\n%1\r\n$1\r\nk\r\n~2\r\n#t\r\n#f\r\n"
                             ",3.5\r\n,inf\r\n(123456789012345678901234567890\r\n=8\r\ntxt:abcd\r\n"
                             "|1\r\n+a\r\n:1\r\n+real\r\n>2\r\n$1\r\nm\r\n:7\r\n!5\r\nERR x\r\n";

TEST(all_types) {
    int rc;
    const char *s = render_all(sample, sizeof(sample) - 1, &rc);
    CHECK_EQ(rc, RESP_REPLY_OK);
    CHECK_STR(s, "+OK;-ERR bad thing;:-42;\"hel\r\n\";nil$;nil*;nil_;*[:1,*[],\"\"];"
                 "%[\"k\",~[#1,#0]];,3.5;,inf;(123456789012345678901234567890;=txt:abcd;"
                 "|[+a,:1];+real;>[\"m\",:7];-ERR x;");
}

TEST(every_prefix_is_more) {
    /* Any strict prefix of a reply must say "more", never misparse. */
    const char *one = "*2\r\n$3\r\nabc\r\n%1\r\n:1\r\n,2.5\r\n";
    size_t n = strlen(one);
    for (size_t cut = 0; cut < n; cut++) {
        resp_reply_reader r;
        resp_reply_init(&r, one, cut);
        CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_MORE);
        CHECK_EQ(r.pos, 0);
    }
    resp_reply_reader r;
    resp_reply_init(&r, one, n);
    CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_OK);
    CHECK_EQ(r.pos, n);
}

TEST(skip_nested_and_attributes) {
    const char *in = "|1\r\n+k\r\n+v\r\n*2\r\n*1\r\n:1\r\n%1\r\n+a\r\n+b\r\n+next\r\n";
    resp_reply_reader r;
    resp_reply_init(&r, in, strlen(in));
    CHECK_EQ(resp_reply_skip(&r), RESP_REPLY_OK);
    resp_item it;
    CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_OK);
    CHECK_EQ(it.type, RESP_T_STATUS);
    CHECK(it.len == 4 && memcmp(it.str, "next", 4) == 0);
}

TEST(malformed) {
    const char *bad[] = {"?x\r\n",   ":12a\r\n", "$3\r\nabcd\r\n", "*-2\r\n", "#x\r\n",
                         ",abc\r\n", "_x\r\n",   "=3\r\ntxt\r\n",  "$-5\r\n", NULL};
    for (int i = 0; bad[i]; i++) {
        resp_reply_reader r;
        resp_reply_init(&r, bad[i], strlen(bad[i]));
        resp_item it;
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_ERR);
        CHECK(r.err != NULL);
        CHECK_EQ(resp_reply_next(&r, &it), RESP_REPLY_ERR); /* sticky */
    }
}

TEST(random_binary_never_crashes) {
    srand(7);
    char buf[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % 64);
        for (size_t i = 0; i < n; i++) buf[i] = "*$:+-%~_#,(=\r\n0123-"[rand() % 20];
        resp_reply_reader r;
        resp_reply_init(&r, buf, n);
        int rc = resp_reply_skip(&r);
        CHECK(rc == RESP_REPLY_OK || rc == RESP_REPLY_MORE || rc == RESP_REPLY_ERR);
        CHECK(r.pos <= n);
    }
}

int main(void) {
    RUN(all_types);
    RUN(every_prefix_is_more);
    RUN(skip_nested_and_attributes);
    RUN(malformed);
    RUN(random_binary_never_crashes);
    return test_report();
}
