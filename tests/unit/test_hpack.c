/* kv/hpack: every entry encoding round-trips byte for byte (integers only
 * when canonical), sizes match Redis's listpack minus the back-length,
 * lookups by field, and the pair count past the u16 header. */
#include "test.h"
#include "kv/hpack.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <stdlib.h>

static unsigned char *build(const char **items, int n, size_t *out_len) {
    size_t cap = HP_EMPTY_SIZE;
    for (int i = 0; i < n; i++) cap += hp_enc_size(items[i], strlen(items[i]));
    unsigned char *hp = xmalloc(cap);
    hp_init(hp);
    size_t len = HP_HDR;
    for (int i = 0; i < n; i++) len += hp_encode(hp + len, items[i], strlen(items[i]));
    hp[len++] = HP_END;
    hp_set_count(hp, (uint32_t)n / 2);
    *out_len = len;
    return hp;
}

static int reads_back(const unsigned char *p, const char *s) {
    hp_val v;
    char buf[LONG_STR_SIZE];
    size_t len;
    hp_get(p, &v);
    const char *t = hp_val_str(&v, buf, &len);
    return len == strlen(s) && memcmp(t, s, len) == 0;
}

TEST(encodings_round_trip) {
    static const char *vals[] = {"0",
                                 "127",
                                 "128",
                                 "-1",
                                 "-4096",
                                 "4095",
                                 "4096",
                                 "-4097",
                                 "32767",
                                 "-32768",
                                 "32768",
                                 "8388607",
                                 "-8388608",
                                 "8388608",
                                 "2147483647",
                                 "-2147483648",
                                 "2147483648",
                                 "9223372036854775807",
                                 "-9223372036854775808",
                                 "9223372036854775808",
                                 "01",
                                 "+1",
                                 "-0",
                                 " 1",
                                 "",
                                 "a",
                                 "1.5",
                                 "abc",
                                 NULL};
    int n = 0;
    while (vals[n]) n++;
    size_t len;
    unsigned char *hp = build(vals, n, &len);
    CHECK_EQ(hp_bytes(hp), len);
    unsigned char *p = hp_first(hp);
    for (int i = 0; i < n; i++, p = hp_next(p)) {
        CHECK(p != NULL);
        if (!p) break;
        CHECK(reads_back(p, vals[i]));
        CHECK_EQ(hp_entry_size(p), hp_enc_size(vals[i], strlen(vals[i])));
        CHECK(hp_equals(p, vals[i], strlen(vals[i])));
    }
    CHECK(p == NULL);
    xfree(hp);
}

TEST(sizes_are_compact) {
    CHECK_EQ(hp_enc_size("7", 1), 1);        /* Redis: 2 */
    CHECK_EQ(hp_enc_size("-300", 4), 2);     /* Redis: 3 */
    CHECK_EQ(hp_enc_size("v1", 2), 3);       /* Redis: 4 */
    CHECK_EQ(hp_enc_size("12345678", 8), 5); /* int32 */
    CHECK_EQ(hp_enc_size("01", 2), 3);       /* not canonical: a string */
    static char big[5000];
    memset(big, 'x', sizeof(big));
    CHECK_EQ(hp_enc_size(big, 63), 64);
    CHECK_EQ(hp_enc_size(big, 64), 66);
    CHECK_EQ(hp_enc_size(big, 4095), 4097);
    CHECK_EQ(hp_enc_size(big, 4096), 4101);
}

TEST(long_strings) {
    static char big[70000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)('a' + i % 26);
    size_t lens[] = {63, 64, 4095, 4096, 65535, 70000};
    for (int k = 0; k < 6; k++) {
        unsigned char *e = xmalloc(hp_enc_size(big, lens[k]) + 1);
        size_t n = hp_encode(e, big, lens[k]);
        e[n] = HP_END;
        CHECK_EQ(n, hp_entry_size(e));
        hp_val v;
        hp_get(e, &v);
        CHECK(v.s && v.len == lens[k] && memcmp(v.s, big, lens[k]) == 0);
        CHECK(hp_next(e) == NULL);
        xfree(e);
    }
}

TEST(find_fields_not_values) {
    const char *items[] = {"a", "1", "1", "a", "x", "-5", "01", "y"};
    size_t len;
    unsigned char *hp = build(items, 8, &len);
    CHECK_EQ(hp_count(hp), 4);
    unsigned char *p = hp_find(hp, "1", 1);
    CHECK(p && reads_back(hp_next(p), "a"));
    p = hp_find(hp, "a", 1);
    CHECK(p && reads_back(hp_next(p), "1"));
    p = hp_find(hp, "01", 2); /* the string "01", not the integer 1 */
    CHECK(p && reads_back(hp_next(p), "y"));
    CHECK(hp_find(hp, "-5", 2) == NULL); /* a value, not a field */
    CHECK(hp_find(hp, "b", 1) == NULL);
    CHECK(hp_find(hp, "", 0) == NULL);
    xfree(hp);
}

TEST(count_past_u16) {
    int n = 70000 * 2;
    const char **items = xmalloc(sizeof(char *) * (size_t)n);
    for (int i = 0; i < n; i++) items[i] = "7";
    size_t len;
    unsigned char *hp = build(items, n, &len);
    CHECK_EQ(hp_count(hp), 70000);
    hp_set_count(hp, 12);
    CHECK_EQ(hp_count(hp), 12);
    xfree(hp);
    xfree(items);
}

int main(void) {
    RUN(encodings_round_trip);
    RUN(sizes_are_compact);
    RUN(long_strings);
    RUN(find_fields_not_values);
    RUN(count_past_u16);
    return test_report();
}
