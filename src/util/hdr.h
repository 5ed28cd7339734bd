/* util/hdr — a log-linear histogram of non-negative values (durations in
 * nanoseconds), HDR-style: every value is kept within 1/128 (under 1%) of
 * its bucket's bounds, from 1 to 2^36 - 1 (about 68 s in ns); larger values
 * count in the last bucket.
 *
 *   index 0..255          the value itself (exact below 256)
 *   index 128*(k+1) + m   values [m << k, (m+1) << k) for m in 128..255, k >= 1
 *
 * 4,096 counters (32 KB); the owner allocates (hdr_new) or embeds one.
 * Used by the server's latency histograms (LATENCY HISTOGRAM, INFO
 * latencystats) and by the load generator (mk/loadgen.c).
 *
 * Invariant: total equals the sum of the counters. */
#ifndef LARDER_UTIL_HDR_H
#define LARDER_UTIL_HDR_H
#include <stdint.h>

#define HDR_BUCKETS 4096
#define HDR_MAX ((int64_t)1 << 36) /* values >= this count as HDR_MAX - 1 */

typedef struct hdr {
    uint64_t total;
    int64_t max; /* the largest value recorded (clamped) */
    uint64_t counts[HDR_BUCKETS];
} hdr;

void hdr_record(hdr *h, int64_t v);
/* Adds n recordings of v. */
void hdr_record_n(hdr *h, int64_t v, uint64_t n);
/* The highest value of bucket idx (every value counted there is <= it). */
int64_t hdr_bucket_upper(int idx);
/* The value at or below which pct percent of the recordings lie (the
 * bucket's highest value, as hdr_value_at_percentile); 0 when empty. */
int64_t hdr_percentile(const hdr *h, double pct);
#endif
