/* Unit tests of util/strutil's number parsing: str_to_double against the C
 * library's strtod on the same text (its own fast path for plain decimals
 * must give the very same bits, sign of zero included). */
#include "util/strutil.h"
#include "test.h"
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What str_to_double must answer: strtod's value when strtod takes the whole
 * text, is not NaN and does not overflow or underflow to zero. */
static int reference(const char *s, double *out) {
    size_t len = strlen(s);
    if (len == 0 || s[0] == ' ') return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if ((size_t)(end - s) != len || isnan(v)) return 0;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) return 0;
    *out = v;
    return 1;
}

static int same(const char *s) {
    double a = 0, b = 0;
    int ra = str_to_double(s, strlen(s), &a), rb = reference(s, &b);
    if (ra != rb || (ra && memcmp(&a, &b, sizeof(a)) != 0)) {
        printf("  %s: ours %d %.17g, strtod %d %.17g\n", s, ra, a, rb, b);
        return 0;
    }
    return 1;
}

TEST(plain_decimals_match_strtod) {
    static const char *const cases[] = {
        "0",
        "-0",
        "0.0",
        "-0.0",
        "00",
        "007",
        "-007.500",
        "1",
        "-1",
        "5.",
        ".5",
        "-.5",
        "-5.",
        ".",
        "-",
        "-.",
        "",
        "1.5.",
        "1..5",
        "--1",
        "+1",
        "+.5",
        "1e5",
        "1E-3",
        "0x10",
        "inf",
        "-inf",
        "nan",
        " 1",
        "1 ",
        "1.0000000000001",
        "999999999999999",
        "9999999999999999",
        "-999999999999999",
        "0.000000000000001",
        "0.0000000000000001",
        "123456789012.345",
        "1234567890123456",
        "9007199254740993",
        "0.1",
        "0.2",
        "0.3",
        "3.14159265358979",
        "2.718281828459045",
        "1.7976931348623157e308",
        "1e400",
        "1e-400",
        "4.9e-324",
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) ok &= same(cases[i]);
    CHECK(ok);
}

TEST(random_texts_match_strtod) {
    uint64_t rs = test_seed("STRUTIL_SEED", 1207) * 2654435761u + 1;
    static const char alphabet[] = "0123456789012345678901234567890123456789..--+eE";
    char s[24];
    int ok = 1, fast = 0;
    for (int n = 0; n < 300000 && ok; n++) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        size_t len = 1 + rs % 20;
        uint64_t r = rs;
        for (size_t i = 0; i < len; i++) {
            if (i % 8 == 0) {
                rs ^= rs << 13;
                rs ^= rs >> 7;
                rs ^= rs << 17;
                r = rs;
            }
            s[i] = alphabet[(r & 0xff) % (sizeof(alphabet) - 1)];
            r >>= 8;
        }
        s[len] = '\0';
        ok &= same(s);
        double v;
        fast += reference(s, &v) && !strpbrk(s, "eE+");
    }
    printf("  %d of 300000 random texts were plain decimals\n", fast);
    CHECK(ok);
    CHECK(fast > 10000); /* the fast path was exercised */
}

/* str_eq_nocase against strlen + strncasecmp (the C locale's ASCII
 * folding), on words and their case variants, prefixes, extensions and
 * neighbours of letters in ASCII ('@' and '`', '[' and '{'). */
TEST(eq_nocase_matches_strncasecmp) {
    static const char *const words[] = {"ex", "px", "nx", "xx", "incr", "withscores", "@",
                                        "`",  "[",  "{",  "a1", "",     "Z",          "keepttl"};
    uint64_t rs = test_seed("STRUTIL_SEED", 1207) * 0x9E3779B97F4A7C15ull + 3;
    static const char alphabet[] = "exEXpPnNiIcCrR@`[{ 1aAzZ";
    char s[16];
    int ok = 1;
    for (int n = 0; n < 200000 && ok; n++) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        const char *w = words[rs % (sizeof(words) / sizeof(words[0]))];
        size_t len = strlen(w);
        memcpy(s, w, len);
        uint64_t r = rs >> 8;
        switch (r % 4) {
        case 0: /* a case variant */
            for (size_t i = 0; i < len; i++)
                if ((r >> (i + 2)) & 1) s[i] ^= 0x20;
            break;
        case 1: /* shorter */
            if (len) len--;
            break;
        case 2: /* longer */
            s[len++] = alphabet[(r >> 3) % (sizeof(alphabet) - 1)];
            break;
        default: /* one byte changed */
            if (len) s[(r >> 3) % len] = alphabet[(r >> 9) % (sizeof(alphabet) - 1)];
        }
        int want = strlen(w) == len && strncasecmp(s, w, len) == 0;
        if (str_eq_nocase(s, len, w) != want) {
            printf("  \"%.*s\" vs \"%s\": ours %d, strncasecmp %d\n", (int)len, s, w, !want, want);
            ok = 0;
        }
    }
    CHECK(ok);
    CHECK(!str_eq_nocase("ex\0", 3, "ex")); /* a NUL in the text is not the word's end */
    CHECK(str_eq_nocase("WithScores", 10, "withscores"));
}

int main(void) {
    RUN(plain_decimals_match_strtod);
    RUN(random_texts_match_strtod);
    RUN(eq_nocase_matches_strncasecmp);
    return test_report();
}
