/* util/hdr — see hdr.h for the bucket layout. */
#include "util/hdr.h"
#include <math.h>

static int bucket_of(int64_t v) {
    if (v < 0) v = 0;
    if (v >= HDR_MAX) v = HDR_MAX - 1;
    if (v < 256) return (int)v;
    int k = 63 - __builtin_clzll((unsigned long long)v) - 7;
    return 128 * (k + 1) + (int)((v >> k) - 128);
}

int64_t hdr_bucket_upper(int idx) {
    if (idx < 256) return idx;
    int k = idx / 128 - 1;
    int64_t m = idx % 128 + 128;
    return ((m + 1) << k) - 1;
}

void hdr_record_n(hdr *h, int64_t v, uint64_t n) {
    if (v >= HDR_MAX) v = HDR_MAX - 1;
    h->counts[bucket_of(v)] += n;
    h->total += n;
    if (v > h->max) h->max = v;
}

void hdr_record(hdr *h, int64_t v) {
    hdr_record_n(h, v, 1);
}

int64_t hdr_percentile(const hdr *h, double pct) {
    if (!h->total) return 0;
    if (pct > 100) pct = 100;
    uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)h->total);
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HDR_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) return hdr_bucket_upper(i);
    }
    return HDR_MAX - 1;
}
