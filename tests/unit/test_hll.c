/* Unit tests of kv/hll: the exact bytes Redis 7.0 makes for the same adds
 * (taken from redis-server's GET after PFADD), sparse and dense agreeing,
 * promotion, merges, and malformed sparse values being reported. */
#include "kv/hll.h"
#include "test.h"
#include <stdio.h>

/* Adds one element to a sparse-or-dense HLL in buf (cap HLL_DENSE_SIZE + slack). */
static void add(uint8_t *buf, size_t *len, size_t max_bytes, const char *ele) {
    long reg;
    int count = hll_pattern(ele, strlen(ele), &reg);
    if (buf[4] == HLL_DENSE) {
        if (hll_dense_set(buf + HLL_HDR_SIZE, reg, count)) hll_cache_invalidate(buf);
        return;
    }
    int rc = hll_sparse_set(buf, len, max_bytes, reg, count);
    if (rc == HLL_SET_PROMOTE) {
        static uint8_t dense[HLL_DENSE_SIZE];
        CHECK(hll_sparse_to_dense(buf, *len, dense) == 0);
        memcpy(buf, dense, HLL_DENSE_SIZE);
        *len = HLL_DENSE_SIZE;
        CHECK(hll_dense_set(buf + HLL_HDR_SIZE, reg, count) == 1);
        hll_cache_invalidate(buf);
    }
    CHECK(rc != HLL_SET_CORRUPT);
}

static uint8_t buf[HLL_DENSE_SIZE + HLL_SPARSE_SLACK];

TEST(bytes_match_redis) {
    size_t len = hll_init_sparse(buf);
    CHECK_EQ(len, 18);
    CHECK(hll_is_valid(buf, len));
    CHECK_EQ(hll_count(buf, len, NULL), 0);
    add(buf, &len, 3000, "a");
    add(buf, &len, 3000, "b");
    add(buf, &len, 3000, "c");
    static const uint8_t want[] = {0x48, 0x59, 0x4c, 0x4c, 0x01, 0,    0,    0,    0,
                                   0,    0,    0,    0,    0,    0,    0x80, 0x60, 0xf3,
                                   0x80, 0x50, 0xb1, 0x84, 0x4b, 0xfb, 0x80, 0x42, 0x5a};
    CHECK_EQ(len, sizeof(want));
    CHECK(memcmp(buf, want, sizeof(want)) == 0);
    CHECK_EQ(hll_count(buf, len, NULL), 3);
    sbuf d = SBUF_INIT;
    hll_sparse_decode(buf, len, &d);
    CHECK_STR(d.p, "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
    sbuf_free(&d);
}

TEST(sparse_and_dense_agree) {
    size_t len = hll_init_sparse(buf);
    static uint8_t dense[HLL_DENSE_SIZE];
    memset(dense, 0, sizeof(dense));
    memcpy(dense, "HYLL", 4);
    char ele[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(ele, sizeof(ele), "e%d", i);
        add(buf, &len, 3000, ele);
        long reg;
        int count = hll_pattern(ele, strlen(ele), &reg);
        hll_dense_set(dense + HLL_HDR_SIZE, reg, count);
        if (i == 199) {
            CHECK(buf[4] == HLL_SPARSE);
            CHECK_EQ(hll_count(buf, len, NULL), 200); /* Redis 7.0 says 200 */
        }
    }
    CHECK(buf[4] == HLL_DENSE); /* past 3000 bytes */
    CHECK(memcmp(buf + HLL_HDR_SIZE, dense + HLL_HDR_SIZE, HLL_DENSE_SIZE - HLL_HDR_SIZE) == 0);
    uint64_t n = hll_count(buf, HLL_DENSE_SIZE, NULL);
    CHECK(n > 4800 && n < 5200);
    /* merging gives the same registers and count */
    static uint8_t max[HLL_REGISTERS];
    memset(max, 0, sizeof(max));
    CHECK(hll_merge_into(max, buf, HLL_DENSE_SIZE) == 0);
    CHECK(hll_count_raw(max) == n);
    for (long i = 0; i < HLL_REGISTERS; i++) CHECK(max[i] == hll_dense_get(buf + HLL_HDR_SIZE, i));
}

TEST(small_max_bytes_promotes_early) {
    size_t len = hll_init_sparse(buf);
    add(buf, &len, 20, "a");
    add(buf, &len, 20, "b");
    CHECK(buf[4] == HLL_DENSE);
    CHECK_EQ(hll_count(buf, HLL_DENSE_SIZE, NULL), 2);
}

TEST(registers_pack_six_bits) {
    static uint8_t regs[HLL_DENSE_SIZE];
    memset(regs, 0, sizeof(regs));
    for (long i = 0; i < HLL_REGISTERS; i++) hll_dense_put(regs, i, (int)(i * 7 % 64));
    for (long i = 0; i < HLL_REGISTERS; i++) CHECK_EQ(hll_dense_get(regs, i), i * 7 % 64);
    CHECK(!hll_dense_set(regs, 1, 7));
    CHECK(hll_dense_set(regs, 1, 63));
    CHECK_EQ(hll_dense_get(regs, 0), 0);
    CHECK_EQ(hll_dense_get(regs, 2), 14);
}

TEST(cache_bytes) {
    size_t len = hll_init_sparse(buf);
    (void)len;
    CHECK(hll_cache_valid(buf));
    hll_cache_set(buf, 0x0102030405060708ULL);
    CHECK(buf[8] == 0x08 && buf[14] == 0x02);
    CHECK(hll_cache_get(buf) == 0x0102030405060708ULL);
    hll_cache_invalidate(buf);
    CHECK(!hll_cache_valid(buf));
}

TEST(malformed_values_are_reported) {
    size_t len = hll_init_sparse(buf);
    CHECK(!hll_is_valid(buf, 15));
    buf[4] = 2;
    CHECK(!hll_is_valid(buf, len));
    buf[4] = HLL_DENSE;
    CHECK(!hll_is_valid(buf, len)); /* dense of the wrong size */
    buf[4] = HLL_SPARSE;
    buf[0] = 'X';
    CHECK(!hll_is_valid(buf, len));
    buf[0] = 'H';
    /* XZERO:16383 leaves one register uncovered */
    buf[17] = 0xfe;
    int invalid = 0;
    hll_count(buf, len, &invalid);
    CHECK(invalid);
    static uint8_t max[HLL_REGISTERS], dense[HLL_DENSE_SIZE];
    CHECK(hll_merge_into(max, buf, len) == -1);
    CHECK(hll_sparse_to_dense(buf, len, dense) == -1);
    CHECK(hll_sparse_set(buf, &len, 3000, 16383, 1) == HLL_SET_CORRUPT);
    /* a truncated XZERO (its missing byte reads as 0: 16129 registers) and
     * an empty body */
    buf[17] = 0xff;
    CHECK(hll_sparse_set(buf, &(size_t){17}, 3000, 16200, 1) == HLL_SET_CORRUPT);
    CHECK(hll_sparse_set(buf, &(size_t){16}, 3000, 5, 1) == HLL_SET_CORRUPT);
    /* a VAL run past the last register */
    len = 16;
    buf[len++] = 0x7f; /* XZERO:16384 */
    buf[len++] = 0xff;
    buf[len++] = 0x80; /* VAL:1,1 */
    invalid = 0;
    hll_count(buf, len, &invalid);
    CHECK(invalid);
    CHECK(hll_merge_into(max, buf, len) == -1);
    CHECK(hll_sparse_to_dense(buf, len, dense) == -1);
    /* a ZERO run past the last register */
    buf[18] = 0x00; /* ZERO:1 */
    invalid = 0;
    hll_count(buf, len, &invalid);
    CHECK(invalid);
    CHECK(hll_merge_into(max, buf, len) == -1);
}

/* The eight-at-a-time paths (merge, count, packing a raw array) agree with
 * the one-register accessors, on random registers 0..63 and random earlier
 * merge results. */
TEST(eight_at_a_time_matches_one_at_a_time) {
    static uint8_t dense[HLL_DENSE_SIZE], max[HLL_REGISTERS], want[HLL_REGISTERS];
    static uint8_t raw[HLL_REGISTERS], packed[HLL_DENSE_SIZE - HLL_HDR_SIZE];
    uint8_t *regs = dense + HLL_HDR_SIZE;
    uint32_t x = 12345;
    for (int round = 0; round < 20; round++) {
        memset(dense, 0, sizeof(dense));
        memcpy(dense, "HYLL", 4);
        int top = round < 10 ? 64 : 8; /* also mostly-equal registers */
        for (long i = 0; i < HLL_REGISTERS; i++) {
            x = x * 1103515245u + 12345u;
            hll_dense_put(regs, i, (int)((x >> 16) % (uint32_t)top));
            x = x * 1103515245u + 12345u;
            max[i] = (uint8_t)(round % 5 == 0 ? 0 : (x >> 16) % (uint32_t)top);
            int v = hll_dense_get(regs, i);
            want[i] = (uint8_t)(v > max[i] ? v : max[i]);
        }
        CHECK(hll_merge_into(max, dense, HLL_DENSE_SIZE) == 0);
        CHECK(memcmp(max, want, sizeof(max)) == 0);
        /* the dense count equals the raw count of its own registers */
        for (long i = 0; i < HLL_REGISTERS; i++) raw[i] = (uint8_t)hll_dense_get(regs, i);
        CHECK_EQ(hll_count(dense, HLL_DENSE_SIZE, NULL), hll_count_raw(raw));
        /* packing a raw array gives back the registers it came from */
        memset(packed, 0xa5, sizeof(packed));
        hll_dense_from_raw(packed, want);
        for (long i = 0; i < HLL_REGISTERS; i++) CHECK_EQ(hll_dense_get(packed, i), want[i]);
    }
    /* the last register, alone at the top of the last byte */
    memset(regs, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    hll_dense_put(regs, HLL_REGISTERS - 1, 63);
    memset(max, 0, sizeof(max));
    CHECK(hll_merge_into(max, dense, HLL_DENSE_SIZE) == 0);
    CHECK_EQ(max[HLL_REGISTERS - 1], 63);
    CHECK_EQ(max[HLL_REGISTERS - 2], 0);
    CHECK_EQ(regs[HLL_DENSE_SIZE - HLL_HDR_SIZE - 1], 0xfc);
}

int main(void) {
    RUN(bytes_match_redis);
    RUN(sparse_and_dense_agree);
    RUN(small_max_bytes_promotes_early);
    RUN(registers_pack_six_bits);
    RUN(cache_bytes);
    RUN(malformed_values_are_reported);
    RUN(eight_at_a_time_matches_one_at_a_time);
    return test_report();
}
