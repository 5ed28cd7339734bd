/* Unit tests for sql/keyenc: order preservation against a direct SQL comparator
 * (random values, composite keys, DESC columns), round trips, and malformed
 * input. Seeded: KEYENC_SEED overrides the seed. */
#include "test.h"
#include "sql/keyenc.h"
#include "util/mem.h"
#include <math.h>
#include <stdlib.h>

typedef struct val {
    int type; /* KEYENC_* */
    int64_t i;
    double r;
    uint8_t s[12];
    size_t n;
} val;

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const int64_t edge_ints[] = {0,
                                    1,
                                    -1,
                                    255,
                                    256,
                                    -255,
                                    -256,
                                    -257,
                                    65535,
                                    65536,
                                    INT64_MAX,
                                    INT64_MIN,
                                    INT64_MAX - 1,
                                    INT64_MIN + 1,
                                    (1ll << 53),
                                    (1ll << 53) + 1,
                                    -(1ll << 53) - 1};
static const double edge_reals[] = {0.5,
                                    -0.5,
                                    1.5,
                                    -1.5,
                                    1e-300,
                                    -1e-300,
                                    2.0,
                                    -2.0,
                                    9.3e18,
                                    -9.3e18,
                                    9223372036854775808.0,
                                    -9223372036854775808.0,
                                    1e300,
                                    -1e300,
                                    0.1,
                                    -0.1,
                                    4503599627370495.5,
                                    -4503599627370495.5};

static val rand_val(void) {
    val v;
    memset(&v, 0, sizeof v);
    switch (rnd() % 8) {
    case 0:
        v.type = KEYENC_NULL;
        break;
    case 1:
        v.type = KEYENC_INT;
        v.i = edge_ints[rnd() % (sizeof edge_ints / 8)];
        break;
    case 2:
        v.type = KEYENC_INT;
        v.i = (int64_t)(rnd() % 2000) - 1000;
        break;
    case 3:
        v.type = KEYENC_INT;
        v.i = (int64_t)rnd() >> (rnd() % 64);
        break;
    case 4:
        v.type = KEYENC_REAL;
        v.r = edge_reals[rnd() % (sizeof edge_reals / 8)];
        break;
    case 5:
        v.type = KEYENC_REAL;
        v.r = ((double)(rnd() % 4000) - 2000) / 8;
        break;
    case 6:
    case 7:
        v.type = rnd() % 2 ? KEYENC_TEXT : KEYENC_BLOB;
        v.n = rnd() % 5;
        for (size_t j = 0; j < v.n; j++) v.s[j] = (uint8_t) "\0\1a\xff"[rnd() % 4];
        break;
    }
    return v;
}

static int cls(const val *v) {
    if (v->type == KEYENC_NULL) return 0;
    if (v->type == KEYENC_INT || v->type == KEYENC_REAL) return 1;
    return v->type == KEYENC_TEXT ? 2 : 3;
}

/* Exact comparison of an int64 and a double. */
static int cmp_int_real(int64_t i, double r) {
    if (isnan(r)) return 1;
    if (r < -9223372036854775808.0) return 1;
    if (r >= 9223372036854775808.0) return -1;
    double fl = floor(r);
    int64_t fi = (int64_t)fl;
    if (i != fi) return i < fi ? -1 : 1;
    return fl == r ? 0 : -1;
}

static int sql_cmp(const val *a, const val *b) {
    int ca = cls(a), cb = cls(b);
    if (ca != cb) return ca < cb ? -1 : 1;
    if (ca == 0) return 0;
    if (ca == 1) {
        if (a->type == KEYENC_INT && b->type == KEYENC_INT) return a->i < b->i ? -1 : a->i > b->i;
        if (a->type == KEYENC_INT) return cmp_int_real(a->i, b->r);
        if (b->type == KEYENC_INT) return -cmp_int_real(b->i, a->r);
        if (isnan(a->r) || isnan(b->r)) return isnan(a->r) ? (isnan(b->r) ? 0 : -1) : 1;
        return a->r < b->r ? -1 : a->r > b->r;
    }
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n);
    if (c) return c < 0 ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n;
}

static void enc(keyenc_buf *b, const val *v, int desc) {
    switch (v->type) {
    case KEYENC_NULL:
        sqli_keyenc_null(b, desc);
        break;
    case KEYENC_INT:
        sqli_keyenc_int(b, v->i, desc);
        break;
    case KEYENC_REAL:
        sqli_keyenc_real(b, v->r, desc);
        break;
    case KEYENC_TEXT:
        sqli_keyenc_text(b, v->s, v->n, desc);
        break;
    default:
        sqli_keyenc_blob(b, v->s, v->n, desc);
        break;
    }
}

static int mem_cmp(const keyenc_buf *a, const keyenc_buf *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    if (c) return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

TEST(single_component_order) {
    keyenc_buf a, b;
    sqli_keyenc_init(&a);
    sqli_keyenc_init(&b);
    for (int it = 0; it < 200000; it++) {
        val x = rand_val(), y = rand_val();
        int desc = (int)(rnd() % 2);
        sqli_keyenc_reset(&a);
        sqli_keyenc_reset(&b);
        enc(&a, &x, desc);
        enc(&b, &y, desc);
        int want = sql_cmp(&x, &y) * (desc ? -1 : 1);
        int got = mem_cmp(&a, &b);
        if (want != got) {
            CHECK_EQ(got, want);
            fprintf(stderr, "  types %d %d ints %lld %lld reals %.17g %.17g desc %d\n", x.type,
                    y.type, (long long)x.i, (long long)y.i, x.r, y.r, desc);
            break;
        }
    }
    sqli_keyenc_free(&a);
    sqli_keyenc_free(&b);
}

TEST(composite_order_with_desc) {
    keyenc_buf a, b;
    sqli_keyenc_init(&a);
    sqli_keyenc_init(&b);
    for (int it = 0; it < 200000; it++) {
        int ncol = 1 + (int)(rnd() % 3);
        int desc[3] = {(int)(rnd() % 2), (int)(rnd() % 2), (int)(rnd() % 2)};
        val x[3], y[3];
        int want = 0;
        sqli_keyenc_reset(&a);
        sqli_keyenc_reset(&b);
        for (int c = 0; c < ncol; c++) {
            x[c] = rand_val();
            y[c] = rnd() % 3 ? x[c] : rand_val();            /* often equal prefixes */
            if (rnd() % 4 == 0 && x[c].type == KEYENC_INT) { /* i versus i + fraction */
                y[c].type = KEYENC_REAL;
                y[c].r = (double)x[c].i + (rnd() % 2 ? 0.5 : -0.5);
                if (fabs(y[c].r) > 1e15) y[c] = x[c];
            }
            enc(&a, &x[c], desc[c]);
            enc(&b, &y[c], desc[c]);
            if (!want) want = sql_cmp(&x[c], &y[c]) * (desc[c] ? -1 : 1);
        }
        /* Keys may also differ in length: drop trailing columns of one side. */
        int got = mem_cmp(&a, &b);
        if (want != got) {
            CHECK_EQ(got, want);
            break;
        }
        CHECK_EQ(sqli_keyenc_count(a.p, a.len), ncol);
    }
    sqli_keyenc_free(&a);
    sqli_keyenc_free(&b);
}

TEST(prefix_keys_sort_first) {
    /* (x) < (x, anything) for every x and direction. */
    keyenc_buf a, b;
    sqli_keyenc_init(&a);
    sqli_keyenc_init(&b);
    for (int it = 0; it < 50000; it++) {
        val x = rand_val(), y = rand_val();
        int d1 = (int)(rnd() % 2), d2 = (int)(rnd() % 2);
        sqli_keyenc_reset(&a);
        sqli_keyenc_reset(&b);
        enc(&a, &x, d1);
        enc(&b, &x, d1);
        enc(&b, &y, d2);
        CHECK(mem_cmp(&a, &b) < 0);
    }
    sqli_keyenc_free(&a);
    sqli_keyenc_free(&b);
}

TEST(round_trip) {
    keyenc_buf a;
    sqli_keyenc_init(&a);
    for (int it = 0; it < 100000; it++) {
        val x[3];
        int desc[3];
        sqli_keyenc_reset(&a);
        for (int c = 0; c < 3; c++) {
            x[c] = rand_val();
            desc[c] = (int)(rnd() % 2);
            enc(&a, &x[c], desc[c]);
        }
        size_t pos = 0;
        for (int c = 0; c < 3; c++) {
            keyenc_value v;
            CHECK_EQ(sqli_keyenc_decode(a.p, a.len, &pos, desc[c], &v), 0);
            val back;
            memset(&back, 0, sizeof back);
            back.type = (int)v.type;
            back.i = v.i;
            back.r = v.r;
            if (v.type == KEYENC_TEXT || v.type == KEYENC_BLOB) {
                back.n = v.n;
                memcpy(back.s, v.p, v.n);
                if (v.copy) xfree((void *)v.p);
            }
            CHECK_EQ(sql_cmp(&back, &x[c]), 0);
            if (x[c].type == KEYENC_REAL && !isnan(x[c].r) && x[c].r != floor(x[c].r))
                CHECK(v.type == KEYENC_REAL && v.r == x[c].r);
        }
        CHECK_EQ(pos, a.len);
    }
    sqli_keyenc_free(&a);
}

TEST(known_bytes) {
    keyenc_buf a;
    sqli_keyenc_init(&a);
    sqli_keyenc_int(&a, 0, 0);
    CHECK_EQ(a.len, 1);
    CHECK_EQ(a.p[0], 0x1A);
    sqli_keyenc_reset(&a);
    sqli_keyenc_int(&a, 300, 0);
    CHECK_EQ(a.len, 3);
    CHECK_EQ(a.p[0], 0x1C);
    CHECK_EQ(a.p[1], 0x01);
    CHECK_EQ(a.p[2], 0x2C);
    sqli_keyenc_reset(&a);
    sqli_keyenc_int(&a, -1, 0);
    CHECK_EQ(a.len, 2);
    CHECK_EQ(a.p[0], 0x19);
    CHECK_EQ(a.p[1], 0xFF);
    sqli_keyenc_reset(&a);
    sqli_keyenc_real(&a, 2.0, 0);
    CHECK_EQ(a.len, 2); /* same as integer 2 */
    sqli_keyenc_reset(&a);
    sqli_keyenc_text(&a, "a\0b", 3, 0);
    CHECK_EQ(a.len, 1 + 4 + 2);
    sqli_keyenc_reset(&a);
    /* Growth past the inline buffer. */
    char big[1000];
    memset(big, 'x', sizeof big);
    sqli_keyenc_text(&a, big, sizeof big, 1);
    CHECK_EQ(a.len, 1 + 1000 + 2 + 1);
    size_t pos = 0;
    keyenc_value v;
    CHECK_EQ(sqli_keyenc_decode(a.p, a.len, &pos, 1, &v), 0);
    CHECK_EQ(v.n, 1000);
    CHECK(v.copy);
    xfree((void *)v.p);
    sqli_keyenc_free(&a);
}

TEST(text_prefix) {
    keyenc_buf p, k;
    sqli_keyenc_init(&p);
    sqli_keyenc_init(&k);
    sqli_keyenc_text_prefix(&p, "ab", 2);
    sqli_keyenc_text(&k, "abc", 3, 0);
    CHECK(k.len > p.len && memcmp(k.p, p.p, p.len) == 0);
    sqli_keyenc_reset(&k);
    sqli_keyenc_text(&k, "ab", 2, 0);
    CHECK(memcmp(k.p, p.p, p.len) == 0);
    sqli_keyenc_reset(&k);
    sqli_keyenc_text(&k, "a", 1, 0);
    CHECK(!(k.len >= p.len && memcmp(k.p, p.p, p.len) == 0));
    sqli_keyenc_free(&p);
    sqli_keyenc_free(&k);
}

TEST(malformed_rejected) {
    keyenc_value v;
    uint8_t junk[16];
    for (int it = 0; it < 200000; it++) {
        size_t n = rnd() % sizeof junk;
        for (size_t j = 0; j < n; j++) junk[j] = (uint8_t)rnd();
        if (n && rnd() % 2)
            junk[0] = (uint8_t) "\x05\x10\x11\x12\x1a\x1b\x22\x23\x30\x40"[rnd() % 10];
        size_t pos = 0;
        if (sqli_keyenc_decode(junk, n, &pos, (int)(rnd() % 2), &v) == 0) {
            CHECK(pos <= n);
            if (v.copy) xfree((void *)v.p);
        }
        (void)sqli_keyenc_count(junk, n);
    }
    uint8_t trunc[] = {0x1C, 0x01}; /* two-byte integer cut short */
    size_t pos = 0;
    CHECK_EQ(sqli_keyenc_decode(trunc, 2, &pos, 0, &v), -1);
    uint8_t noncanon[] = {0x1C, 0x00, 0x05};
    pos = 0;
    CHECK_EQ(sqli_keyenc_decode(noncanon, 3, &pos, 0, &v), -1);
    uint8_t unterminated[] = {0x30, 'a', 0x00};
    pos = 0;
    CHECK_EQ(sqli_keyenc_decode(unterminated, 3, &pos, 0, &v), -1);
}

int main(void) {
    const char *s = getenv("KEYENC_SEED");
    rng_state = s ? strtoull(s, NULL, 0) : 0x9E3779B97F4A7C15ull;
    if (!rng_state) rng_state = 1;
    printf("keyenc seed %llu\n", (unsigned long long)rng_state);
    RUN(single_component_order);
    RUN(composite_order_with_desc);
    RUN(prefix_keys_sort_first);
    RUN(round_trip);
    RUN(known_bytes);
    RUN(text_prefix);
    RUN(malformed_rejected);
    return test_report();
}
