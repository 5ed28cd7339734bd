/* kv/intset against a sorted-array model: random adds and removes across the
 * 2/4/8-byte widths (upgrades at both ends), lookups, ordered reads, random
 * members, duplicates, and validation of good and corrupt bytes. */
#include "test.h"
#include "kv/intset.h"
#include "util/mem.h"
#include <stdlib.h>

#define MAXN 3000
static int64_t model[MAXN];
static int mn;

static uint64_t rnd64(void) {
    return (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
}

/* A value from one of the width classes, biased to collide with the model. */
static int64_t pick(void) {
    switch (rand() % 6) {
    case 0:
        return (int64_t)(rand() % 200) - 100;
    case 1:
        return (int64_t)(rand() % 65536) - 32768;
    case 2:
        return (int64_t)(rnd64() % 4294967296ULL) - 2147483648LL;
    case 3:
        return (int64_t)rnd64();
    case 4:
        return mn ? model[rand() % mn] : 0;
    default: {
        static const int64_t edges[] = {INT16_MIN,
                                        INT16_MAX,
                                        INT16_MIN - 1,
                                        INT16_MAX + 1,
                                        INT32_MIN,
                                        INT32_MAX,
                                        (int64_t)INT32_MIN - 1,
                                        (int64_t)INT32_MAX + 1,
                                        INT64_MIN,
                                        INT64_MAX,
                                        0,
                                        -1};
        return edges[rand() % 12];
    }
    }
}

static int model_find(int64_t v, int *pos) {
    int lo = 0, hi = mn;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (model[mid] == v) {
            *pos = mid;
            return 1;
        }
        if (model[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static int matches(const intset *is) {
    if ((int)intset_len(is) != mn) return 0;
    for (int i = 0; i < mn; i++) {
        int64_t v;
        if (!intset_get(is, (uint32_t)i, &v) || v != model[i]) return 0;
    }
    int64_t v;
    if (intset_get(is, (uint32_t)mn, &v)) return 0;
    return intset_validate(is, intset_blob_len(is)) || mn == 0;
}

TEST(random_model) {
    srand(11);
    intset *is = intset_new();
    int ok = 1;
    for (int op = 0; op < 60000 && ok; op++) {
        int64_t v = pick();
        int pos, there = model_find(v, &pos);
        if (rand() % 3 && mn < MAXN) {
            int added;
            is = intset_add(is, v, &added);
            CHECK_EQ(added, !there);
            if (!there) {
                memmove(&model[pos + 1], &model[pos], sizeof(int64_t) * (size_t)(mn - pos));
                model[pos] = v;
                mn++;
            }
        } else {
            int removed;
            is = intset_remove(is, v, &removed);
            CHECK_EQ(removed, there);
            if (there) {
                memmove(&model[pos], &model[pos + 1], sizeof(int64_t) * (size_t)(mn - pos - 1));
                mn--;
            }
        }
        int64_t probe = pick();
        int p2;
        CHECK_EQ(intset_find(is, probe), model_find(probe, &p2));
        if (op % 97 == 0) ok = matches(is);
    }
    CHECK(ok);
    CHECK(matches(is));
    intset_free(is);
}

TEST(widths_upgrade_and_stay) {
    intset *is = intset_new();
    CHECK_EQ(is->width, 2);
    is = intset_add(is, 5, NULL);
    is = intset_add(is, -5, NULL);
    CHECK_EQ(is->width, 2);
    is = intset_add(is, 70000, NULL); /* appended by upgrade */
    CHECK_EQ(is->width, 4);
    is = intset_add(is, -5000000000LL, NULL); /* prepended by upgrade */
    CHECK_EQ(is->width, 8);
    int64_t v;
    CHECK(intset_get(is, 0, &v) && v == -5000000000LL);
    CHECK(intset_get(is, 1, &v) && v == -5);
    CHECK(intset_get(is, 2, &v) && v == 5);
    CHECK(intset_get(is, 3, &v) && v == 70000);
    CHECK_EQ(intset_blob_len(is), 8 + 4 * 8);
    int removed;
    is = intset_remove(is, -5000000000LL, &removed);
    CHECK(removed);
    CHECK_EQ(is->width, 8); /* never narrows, as in Redis */
    CHECK(!intset_find(is, -5000000000LL));
    CHECK(intset_find(is, 70000));
    /* a value wider than the set is never found and never removed */
    intset *small = intset_new();
    small = intset_add(small, 1, NULL);
    CHECK(!intset_find(small, 1LL << 40));
    small = intset_remove(small, 1LL << 40, &removed);
    CHECK(!removed);
    intset_free(small);
    intset_free(is);
}

TEST(random_member_is_uniform_enough) {
    intset *is = intset_new();
    for (int i = 0; i < 10; i++) is = intset_add(is, i * 1000, NULL);
    int hist[10] = {0};
    srand(3);
    for (int i = 0; i < 10000; i++) {
        int64_t v = intset_random(is, rnd64());
        CHECK(v % 1000 == 0 && v >= 0 && v < 10000);
        hist[v / 1000]++;
    }
    for (int i = 0; i < 10; i++) CHECK(hist[i] > 800 && hist[i] < 1200);
    intset_free(is);
}

TEST(validate_rejects_corrupt) {
    intset *is = intset_new();
    for (int i = 0; i < 5; i++) is = intset_add(is, i * 3, NULL);
    size_t n = intset_blob_len(is);
    CHECK(intset_validate(is, n));
    CHECK(!intset_validate(is, n - 1)); /* truncated */
    CHECK(!intset_validate(is, 7));     /* shorter than the header */
    unsigned char *b = xmalloc(n);
    memcpy(b, is, n);
    b[0] = 3; /* bad width */
    CHECK(!intset_validate(b, n));
    memcpy(b, is, n);
    b[8] = b[10]; /* first == second: not ascending */
    b[9] = b[11];
    CHECK(!intset_validate(b, n));
    memcpy(b, is, n);
    b[4] = 0; /* length 0 */
    CHECK(!intset_validate(b, 8));
    xfree(b);
    intset_free(is);
}

TEST(dup_is_independent) {
    intset *is = intset_new();
    for (int i = 0; i < 100; i++) is = intset_add(is, i * i, NULL);
    intset *c = intset_dup(is);
    is = intset_add(is, -1, NULL);
    CHECK_EQ(intset_len(c), 100);
    CHECK_EQ(intset_len(is), 101);
    CHECK(!intset_find(c, -1));
    intset_free(c);
    intset_free(is);
}

int main(void) {
    RUN(random_model);
    RUN(widths_upgrade_and_stay);
    RUN(random_member_is_uniform_enough);
    RUN(validate_rejects_corrupt);
    RUN(dup_is_independent);
    return test_report();
}
