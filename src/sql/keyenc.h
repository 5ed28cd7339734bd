/* sql/keyenc.h — order-preserving encoding of SQL values into tree keys.
 *
 * A key is a sequence of components, one per key column. Each value is encoded
 * so that comparing two encoded keys with memcmp (shorter first on a common
 * prefix, exactly the order of store.h trees) gives SQL order: column by
 * column, with NULL < numbers < text < blob, integers and reals compared by
 * numeric value (1 < 1.5 < 2, and 2 = 2.0), text and blobs by bytes (SQL's
 * BINARY collation). A DESC column reverses its own order only.
 *
 * Component formats (ASC; byte values in hex):
 *
 *   NULL          05
 *   NaN           10                     (sorts below every number)
 *   real < -2^63  11 <8 bytes: ordered double>
 *   integer v     12..22 <n bytes>       tag = 1A - n for v < 0, 1A for 0,
 *                                         1A + n for v > 0; n = bytes needed for
 *                                         |v| (v >= 0) or ~v (v < 0); the bytes
 *                                         are v's low n bytes, big-endian
 *   real r, not integral, |r| < 2^63:
 *                 INT(floor r) FF <8 bytes: ordered double of the fraction>
 *                                         fraction = r - floor r in (0,1) for
 *                                         r > 0, r - ceil r in (-1,0) for r < 0
 *                                         (both exact in double arithmetic)
 *   real >= 2^63  23 <8 bytes: ordered double>
 *   text          30 <bytes, 00 written 00 FF> 00 01
 *   blob          40 <bytes, 00 written 00 FF> 00 01
 *
 * An integral real encodes exactly like the integer of the same value, so 2.0
 * and 2 are the same key; decoding gives the integer back (the SQL layer keeps
 * the column's type in the row). Every tag byte is below FF, which is what
 * orders INT(i) before INT(i) FF ... (i < i + fraction) in composite keys.
 *
 * DESC: the component's bytes are inverted (x -> ~x) and a byte FF is appended.
 * Inversion reverses the order of two components that differ; the FF puts a
 * DESC integer i after the DESC real i + fraction, whose inverted FF marker
 * reads 00.
 *
 * Ordered double: the IEEE-754 bits, big-endian, with the sign bit flipped for
 * positive numbers and all bits flipped for negative ones.
 *
 * Prefix searches: sqli_keyenc_text_prefix writes a text component without its
 * terminator, so STORE_SEEK_PREFIX over it finds every text value (in that
 * column position) that starts with the given bytes (SQL LIKE 'abc%' under
 * BINARY collation).
 */
#ifndef LARDER_SQL_KEYENC_H
#define LARDER_SQL_KEYENC_H
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer that keys are built in. Start with sqli_keyenc_init (or
 * zero it); small keys stay in the inline area; sqli_keyenc_free releases memory. */
typedef struct keyenc_buf {
    uint8_t *p; /* the encoded bytes so far */
    size_t len, cap;
    uint8_t small[64]; /* inline storage used until a key grows past it */
} keyenc_buf;

void sqli_keyenc_init(keyenc_buf *b);
void sqli_keyenc_reset(keyenc_buf *b); /* len = 0, keeps memory */
void sqli_keyenc_free(keyenc_buf *b);

/* Append one component. desc: nonzero for a DESC column. */
void sqli_keyenc_null(keyenc_buf *b, int desc);
void sqli_keyenc_int(keyenc_buf *b, int64_t v, int desc);
void sqli_keyenc_real(keyenc_buf *b, double v, int desc);
void sqli_keyenc_text(keyenc_buf *b, const void *s, size_t n, int desc);
void sqli_keyenc_blob(keyenc_buf *b, const void *s, size_t n, int desc);
/* A text component without terminator, for STORE_SEEK_PREFIX (ASC only). */
void sqli_keyenc_text_prefix(keyenc_buf *b, const void *s, size_t n);

/* A decoded component. */
typedef enum keyenc_type {
    KEYENC_NULL = 1,
    KEYENC_INT,
    KEYENC_REAL, /* NaN, non-integral or outside the int64 range */
    KEYENC_TEXT,
    KEYENC_BLOB,
} keyenc_type;

typedef struct keyenc_value {
    keyenc_type type;
    int64_t i;
    double r;
    /* TEXT/BLOB: bytes. When the encoding contains no escaped 00 and the
     * column is ASC, p points into the key itself (copy = 0); otherwise the
     * bytes are unescaped into a buffer the decoder allocated with xmalloc
     * (copy = 1) and the caller frees it with xfree. */
    const uint8_t *p;
    size_t n;
    int copy;
} keyenc_value;

/* Decode the component at key[*pos], advancing *pos past it. desc must match
 * how it was encoded. Returns 0, or -1 if the bytes are not a valid component
 * (never reads past key + len). */
int sqli_keyenc_decode(const uint8_t *key, size_t len, size_t *pos, int desc, keyenc_value *out);

/* Skip one component (ASC or DESC: the first byte tells them apart, every
 * inverted tag being >= BF and every plain one <= 40); -1 on malformed input. */
int sqli_keyenc_skip(const uint8_t *key, size_t len, size_t *pos);

/* Number of components in a key, or -1 if malformed. */
int sqli_keyenc_count(const uint8_t *key, size_t len);

#endif
