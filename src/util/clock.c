/* util/clock — see clock.h (the time-stamp counter's calibration). */
#include "util/clock.h"

clock_fast_state clock_fast;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* An invariant counter (CPUID 0x80000007, EDX bit 8) ticks at one rate in
 * every power state, the same on every core. */
static int counter_invariant(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0x80000000, NULL) < 0x80000007) return 0;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d)) return 0;
    return (d >> 8) & 1;
}

int64_t clock_fast_sync(void) {
    clock_fast_state *f = &clock_fast;
    int64_t us = clock_ustime();
    uint64_t t = __rdtsc();
    if (!f->usable) f->usable = counter_invariant() ? 1 : -1;
    if (f->usable < 0) return us;
    f->us = us;
    f->tsc = t;
    if (!f->cal_tsc) {
        f->cal_tsc = t;
        f->cal_mono_us = clock_mono_us();
        return us;
    }
    if (t <= f->cal_tsc) { /* another core's counter: measure again */
        f->cal_tsc = 0;
        f->max_ticks = 0;
        return us;
    }
    /* once the rate is known, the counter says when 100 ms have passed; the
     * rate itself is measured against the monotonic clock (a step of the
     * wall clock changes nothing) */
    if (f->max_ticks && (double)(t - f->cal_tsc) * f->us_per_tick < 100000.0) return us;
    int64_t mono = clock_mono_us();
    int64_t span = mono - f->cal_mono_us;
    if (span < 100000) return us;
    f->us_per_tick = (double)span / (double)(t - f->cal_tsc);
    f->max_ticks = (uint64_t)(50000.0 / f->us_per_tick);
    f->cal_tsc = t;
    f->cal_mono_us = mono;
    return us;
}
#else
int64_t clock_fast_sync(void) {
    return clock_ustime();
}
#endif
