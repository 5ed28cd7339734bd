/* kv/listpack against an array model: random inserts, deletes, replaces,
 * forward and backward walks, seeks, and validation of good and corrupt bytes. */
#include "test.h"
#include "kv/listpack.h"
#include "util/mem.h"
#include <stdlib.h>

#define MAXN 600
static char *model[MAXN];
static size_t mlen[MAXN];
static int mn;

static void rand_str(char *buf, size_t *len) {
    int kind = rand() % 4;
    *len = kind == 0   ? 0
           : kind == 1 ? (size_t)(rand() % 10)
           : kind == 2 ? (size_t)(60 + rand() % 10)
                       : (size_t)(rand() % 20000);
    for (size_t i = 0; i < *len; i++) buf[i] = (char)(rand() & 0xff);
}

static int matches(lpbuf *lp) {
    if ((int)lp_count(lp) != mn) return 0;
    unsigned char *p = lp_first(lp);
    for (int i = 0; i < mn; i++, p = lp_next(lp, p)) {
        size_t l;
        const char *d = lp_get(p, &l);
        if (!p || l != mlen[i] || memcmp(d, model[i], l)) return 0;
    }
    if (p) return 0;
    p = lp_last(lp);
    for (int i = mn - 1; i >= 0; i--, p = lp_prev(lp, p)) {
        size_t l;
        const char *d = lp_get(p, &l);
        if (!p || l != mlen[i] || memcmp(d, model[i], l)) return 0;
    }
    return p == NULL && lp_validate(lp, lp_bytes(lp));
}

TEST(random_model) {
    srand(7);
    lpbuf *lp = lp_new();
    static char buf[20000];
    int ok = 1;
    for (int op = 0; op < 20000 && ok; op++) {
        int r = rand() % 10;
        size_t len;
        if ((r < 5 && mn < MAXN) || mn == 0) {
            rand_str(buf, &len);
            int at = mn ? rand() % (mn + 1) : 0;
            unsigned char *p = at < mn ? lp_seek(lp, at) : NULL;
            lp = lp_insert(lp, p, buf, len, p ? LP_BEFORE : LP_AFTER, NULL);
            memmove(&model[at + 1], &model[at], sizeof(char *) * (size_t)(mn - at));
            memmove(&mlen[at + 1], &mlen[at], sizeof(size_t) * (size_t)(mn - at));
            model[at] = xmemdup(buf, len);
            mlen[at] = len;
            mn++;
        } else if (r < 8) {
            int at = rand() % mn;
            lp = lp_delete(lp, lp_seek(lp, at - mn), NULL);
            xfree(model[at]);
            memmove(&model[at], &model[at + 1], sizeof(char *) * (size_t)(mn - at - 1));
            memmove(&mlen[at], &mlen[at + 1], sizeof(size_t) * (size_t)(mn - at - 1));
            mn--;
        } else {
            int at = rand() % mn;
            rand_str(buf, &len);
            lp = lp_replace(lp, lp_seek(lp, at), buf, len, NULL);
            xfree(model[at]);
            model[at] = xmemdup(buf, len);
            mlen[at] = len;
        }
        if (op % 97 == 0) ok = matches(lp);
    }
    CHECK(ok);
    CHECK(matches(lp));
    for (int i = 0; i < mn; i++) xfree(model[i]);
    mn = 0;
    lp_free(lp);
}

TEST(find_and_range) {
    lpbuf *lp = lp_new();
    const char *kv[] = {"a", "1", "b", "2", "c", "3"};
    for (int i = 0; i < 6; i++) lp = lp_append(lp, kv[i], 1);
    unsigned char *p = lp_find(lp, lp_first(lp), "c", 1, 1);
    CHECK(p != NULL);
    size_t l;
    CHECK(p && lp_get(lp_next(lp, p), &l)[0] == '3');
    CHECK(lp_find(lp, lp_first(lp), "2", 1, 1) == NULL); /* values are skipped */
    lp = lp_delete_range(lp, 1, 3);
    CHECK_EQ(lp_count(lp), 3);
    long long v;
    CHECK(lp_get_ll(lp_seek(lp, -1), &v) && v == 3);
    CHECK(lp_compare(lp_first(lp), "b", 1) < 0);
    lp_free(lp);
}

TEST(validate_rejects_garbage) {
    lpbuf *lp = lp_new();
    lp = lp_append(lp, "hello", 5);
    lp = lp_append(lp, "world", 5);
    size_t n = lp_bytes(lp);
    CHECK(lp_validate(lp, n));
    unsigned char *bad = xmalloc(n);
    int rejected = 0, trials = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, lp, n);
        bad[i] ^= 0x5a;
        trials++;
        rejected += !lp_validate(bad, n);
    }
    CHECK(rejected >= trials - 10); /* flips inside data bytes may stay valid */
    CHECK(!lp_validate(lp, n - 1));
    xfree(bad);
    lp_free(lp);
}

int main(void) {
    RUN(random_model);
    RUN(find_and_range);
    RUN(validate_rejects_garbage);
    return test_report();
}
