/* util/hdr — a log-linear histogram of non-negative values (durations in
 * nanoseconds), HDR-style: every value is kept within 1/128 (under 1%) of
 * its bucket's bounds, from 1 up to the maximum the histogram was made for
 * (larger values count as that maximum).
 *
 *   index 0..255          the value itself (exact below 256)
 *   index 128*(k+1) + m   values [m << k, (m+1) << k) for m in 128..255, k >= 1
 *
 * A histogram up to 1 s (1e9 ns) has 3,072 counters (24 KB, as Redis's
 * hdr_histogram for the same range); up to 2^36 ns (68 s), 4,096. The owner
 * allocates with hdr_new and frees with xfree. Used by the server's latency
 * histograms (LATENCY HISTOGRAM, INFO latencystats) and by the load
 * generator (mk/loadgen.c).
 *
 * Invariant: total equals the sum of the counters. */
#ifndef LARDER_UTIL_HDR_H
#define LARDER_UTIL_HDR_H
#include <stdint.h>

typedef struct hdr {
    uint64_t total;
    int64_t max;   /* the largest value recorded (clamped) */
    int64_t limit; /* values above it count as it */
    int nbuckets;
    uint64_t counts[];
} hdr;

/* A zeroed histogram for values 0..limit (limit >= 255). */
hdr *hdr_new(int64_t limit);
void hdr_record(hdr *h, int64_t v);
/* Adds n recordings of v. */
void hdr_record_n(hdr *h, int64_t v, uint64_t n);
/* The highest value of bucket idx (every value counted there is <= it). */
int64_t hdr_bucket_upper(int idx);
/* The value at or below which pct percent of the recordings lie (the
 * bucket's highest value, as hdr_value_at_percentile); 0 when empty. */
int64_t hdr_percentile(const hdr *h, double pct);
#endif
