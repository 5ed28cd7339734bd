/* resp/encode — reply headers, see resp.h. */
#include "resp/resp.h"
#include "util/strutil.h"

static size_t enc_prefixed(char *dst, char type, long long v) {
    dst[0] = type;
    size_t n = 1 + (size_t)ll_to_str(dst + 1, v);
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

size_t resp_enc_int(char *dst, char type, long long v) {
    return enc_prefixed(dst, type, v);
}
size_t resp_enc_agg(char *dst, char type, long long n) {
    return enc_prefixed(dst, type, n);
}
size_t resp_enc_bulk_hdr(char *dst, size_t len) {
    return enc_prefixed(dst, '$', (long long)len);
}
