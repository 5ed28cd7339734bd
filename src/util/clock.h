/* util/clock — wall and monotonic time in the units the server uses. */
#ifndef LARDER_UTIL_CLOCK_H
#define LARDER_UTIL_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t clock_ustime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static inline int64_t clock_mstime(void) {
    return clock_ustime() / 1000;
}
/* Monotonic microseconds: for durations and timeouts, immune to clock steps. */
static inline int64_t clock_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A cheaper reading of clock_ustime() for one thread (the loop's) between
 * two clock_fast_sync() calls: the CPU's time-stamp counter since the last
 * sync, converted at a rate measured against CLOCK_MONOTONIC over at least
 * 100 ms. A reading of the counter costs a third of a clock_gettime on this
 * machine's VM, and the loop takes one per command.
 *
 * Invariants:
 *  1. clock_fast_us() returns clock_ustime() itself until the rate is known,
 *     when the CPU has no invariant counter, when the counter went backwards
 *     (another core) and when more than 50 ms passed since the last sync.
 *  2. Otherwise it is the last sync's wall reading plus the counter's ticks
 *     since, never less than that reading. */
typedef struct clock_fast_state {
    int64_t us;          /* wall microseconds at the last sync */
    uint64_t tsc;        /* the counter at the last sync */
    uint64_t max_ticks;  /* 50 ms of ticks; 0 while the rate is unknown */
    double us_per_tick;  /* measured rate */
    int64_t cal_mono_us; /* the start of the current rate measurement */
    uint64_t cal_tsc;
    int usable; /* 1: invariant counter; 0: not probed; -1: none */
} clock_fast_state;
extern clock_fast_state clock_fast;

/* Takes a wall reading (the value returned) and the counter beside it; every
 * 100 ms or more also measures the counter's rate. Loop thread only. */
int64_t clock_fast_sync(void);

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline int64_t clock_fast_us(void) {
    if (!clock_fast.max_ticks) return clock_ustime();
    uint64_t d = __rdtsc() - clock_fast.tsc;
    if (d > clock_fast.max_ticks) return clock_ustime();
    return clock_fast.us + (int64_t)((double)d * clock_fast.us_per_tick);
}
#else
static inline int64_t clock_fast_us(void) {
    return clock_ustime();
}
#endif
#endif
