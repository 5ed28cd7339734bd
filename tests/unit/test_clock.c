/* Unit tests of util/clock's counter-based reading: once calibrated it
 * follows the wall clock, and it falls back to the wall clock when the
 * last sync is too old. */
#include "util/clock.h"
#include "test.h"
#include <stdio.h>
#include <time.h>

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

TEST(counter_follows_the_wall_clock) {
    /* before any rate is known it is the wall clock itself */
    int64_t a = clock_ustime(), b = clock_fast_us(), c = clock_ustime();
    CHECK(b >= a && b <= c);
    int64_t start = clock_mono_us();
    while (clock_mono_us() - start < 250000) {
        clock_fast_sync();
        sleep_us(5000);
    }
    if (clock_fast.usable < 0) {
        printf("  no invariant time-stamp counter: the wall clock serves\n");
        return;
    }
    CHECK(clock_fast.max_ticks > 0);
    int64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        clock_fast_sync();
        sleep_us(1000 + 1000 * (i % 20)); /* up to 20 ms after the sync */
        int64_t w0 = clock_ustime(), f = clock_fast_us(), w1 = clock_ustime();
        int64_t off = f < w0 ? w0 - f : f > w1 ? f - w1 : 0;
        if (off > worst) worst = off;
    }
    printf("  counter vs wall clock: worst %lld us off\n", (long long)worst);
    CHECK(worst <= 50);
    /* 60 ms after the sync: beyond its reach, the wall clock again */
    clock_fast_sync();
    sleep_us(60000);
    a = clock_ustime();
    b = clock_fast_us();
    c = clock_ustime();
    CHECK(b >= a && b <= c);
}

int main(void) {
    RUN(counter_follows_the_wall_clock);
    return test_report();
}
