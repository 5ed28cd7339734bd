/* util/hdr — see hdr.h for the bucket layout. */
#include "util/hdr.h"
#include "util/mem.h"
#include <math.h>

static int bucket_of(int64_t v) {
    if (v < 0) v = 0;
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

hdr *hdr_new(int64_t limit) {
    if (limit < 255) limit = 255;
    int n = bucket_of(limit) + 1;
    hdr *h = xcalloc(1, sizeof(hdr) + sizeof(uint64_t) * (size_t)n);
    h->limit = limit;
    h->nbuckets = n;
    return h;
}

void hdr_record_n(hdr *h, int64_t v, uint64_t n) {
    if (v > h->limit) v = h->limit;
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
    for (int i = 0; i < h->nbuckets; i++) {
        seen += h->counts[i];
        if (seen >= want) return hdr_bucket_upper(i) < h->limit ? hdr_bucket_upper(i) : h->limit;
    }
    return h->limit;
}
