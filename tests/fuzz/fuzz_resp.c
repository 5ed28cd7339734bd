/* tests/fuzz/fuzz_resp.c — libFuzzer target for the RESP request parser
 * (src/resp/request.c), with no server around it.
 *
 * The first input byte chooses the run: bit 0 sets the parser's
 * "unauthenticated" limits, the other bits seed the places where the rest of
 * the input is cut into pieces. The pieces are fed as a client would see
 * them arrive (the whole unconsumed buffer again after each piece, as the
 * parser's contract asks), requests are consumed as they complete, and each
 * completed request is checked: every argument lies inside the buffer and
 * is NUL-terminated in place, and `used` covers it. The same bytes fed in
 * one piece must give the same requests (incremental == whole).
 *
 * make fuzz-resp builds it with clang -fsanitize=fuzzer,address,undefined;
 * tests/unit/test_fuzz_resp_regress.c replays tests/fuzz/regress-resp/
 * (parser-*) through fuzz_resp_one() in make test. */
#include "resp/resp.h"
#include "util/mem.h"
#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int fuzz_resp_one(const uint8_t *data, size_t size);

/* Parses buf[0..len) in pieces ending at the cut points (cuts ascending,
 * the last one len); appends a digest of every request to out. Returns the
 * number of requests, -1 after a protocol error. */
static long parse_all(const uint8_t *data, size_t len, const size_t *cuts, int ncuts, int unauth,
                      uint64_t *digest) {
    char *buf = xmalloc(len + 1);
    size_t have = 0, start = 0;
    resp_req r;
    resp_req_init(&r, 512 * 1024 * 1024LL);
    long n = 0;
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < ncuts; k++) {
        memcpy(buf + have, data + have, cuts[k] - have);
        have = cuts[k];
        for (;;) {
            r.unauth = unauth;
            size_t used = 0;
            int rc = resp_req_parse(&r, buf + start, have - start, &used);
            if (rc == RESP_REQ_MORE) break;
            if (rc == RESP_REQ_ERR) {
                assert(r.err != NULL);
                n = -1;
                goto done;
            }
            assert(used > 0 && used <= have - start);
            for (int i = 0; i < r.argc; i++) {
                const resp_arg *a = &r.argv[i];
                assert(a->p >= buf + start && a->p + a->len <= buf + start + used);
                assert(a->p[a->len] == '\0');
                for (size_t j = 0; j < a->len; j++) h = (h ^ (uint8_t)a->p[j]) * 1099511628211ULL;
                h = (h ^ a->len) * 1099511628211ULL;
            }
            h = (h ^ (uint64_t)r.argc) * 1099511628211ULL;
            start += used;
            n++;
            resp_req_reset(&r);
            if (start == have) break;
        }
    }
done:
    resp_req_free(&r);
    xfree(buf);
    *digest = h;
    return n;
}

int fuzz_resp_one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned ctl = data[0];
    data++;
    size--;
    int unauth = ctl & 1;
    size_t cuts[64];
    int ncuts = 0;
    uint64_t s = ctl * 0x9E3779B97F4A7C15ULL + 1;
    size_t at = 0;
    while (ncuts < 63 && size) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        at += 1 + (size_t)(s % (size / 8 + 2));
        if (at >= size) break;
        cuts[ncuts++] = at;
    }
    cuts[ncuts++] = size;
    size_t whole[1] = {size};
    uint64_t d1, d2;
    long a = parse_all(data, size, cuts, ncuts, unauth, &d1);
    long b = parse_all(data, size, whole, 1, unauth, &d2);
    /* the same requests, or the same failure, however the bytes arrive */
    assert(a == b);
    assert(d1 == d2);
    return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_resp_one(data, size);
}
#endif
