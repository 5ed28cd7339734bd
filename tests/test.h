/* tests/test.h — the smallest unit-test harness that does the job.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); ... }
 *   int main(void) { RUN(name); ...; return test_report(); }
 *
 * A test passes when none of its CHECKs failed. test_report() prints the
 * closing line "N passed, N failed" that tests/run-all adds up, and returns the
 * process exit status (non-zero on any failure). With TEST_ONLY set to a
 * comma-separated list of test names, RUN runs only those (to repeat one
 * case of a binary: TEST_ONLY=name ./build/tests/...). */
#ifndef LARDER_TEST_H
#define LARDER_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

/* Weak globals: a test program and its helper objects (the integration
 * harness) share one set of counters. */
__attribute__((weak)) int test_passed_, test_failed_, test_cur_failed_;
__attribute__((weak)) const char *test_cur_name_ = "-";

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_cur_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__, test_cur_name_,  \
                    #cond);                                                                        \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            test_cur_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: [%s] CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,     \
                    __LINE__, test_cur_name_, #a, a_, #b, b_);                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            test_cur_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: [%s] CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,          \
                    __LINE__, test_cur_name_, a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
        }                                                                                          \
    } while (0)

/* Is the test named name selected by TEST_ONLY (unset or empty: all are)? */
static inline int test_selected_(const char *name) {
    const char *only = getenv("TEST_ONLY");
    if (!only || !*only) return 1;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
    return 0;
}

#define RUN(name)                                                                                  \
    do {                                                                                           \
        if (!test_selected_(#name)) break;                                                         \
        test_cur_name_ = #name;                                                                    \
        test_cur_failed_ = 0;                                                                      \
        name();                                                                                    \
        if (test_cur_failed_) {                                                                    \
            test_failed_++;                                                                        \
            fprintf(stderr, "FAIL %s\n", #name);                                                   \
        } else {                                                                                   \
            test_passed_++;                                                                        \
        }                                                                                          \
    } while (0)

static inline int test_report(void) {
    printf("%d passed, %d failed\n", test_passed_, test_failed_);
    return test_failed_ ? 1 : 0;
}
/* A randomised test's seed: the env var's number, "time" for a fresh one each
 * run (exploring), else def, so make test is repeatable. Printed so that any
 * failure can be replayed. */
static inline unsigned long long test_seed(const char *envname, unsigned long long def) {
    const char *e = getenv(envname);
    unsigned long long s =
        !e                   ? def
        : !strcmp(e, "time") ? (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20)
                             : strtoull(e, NULL, 10);
    printf("seed %s=%llu\n", envname, s);
    return s;
}
#endif
