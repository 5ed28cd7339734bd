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
#endif
