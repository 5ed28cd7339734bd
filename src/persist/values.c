/* persist/values — a hash key's fields as a row and back, through the hash
 * type's own operations (kobj_type_ops: each, deserialize), so the
 * persistence layer does not depend on how hashes are encoded. */
#include "persist/persist.h"
#include "util/mem.h"
#include <string.h>

void hash_for_each_field(const kobj *o, void (*fn)(void *ctx, const char *f, size_t flen, const char *v, size_t vlen),
                         void *ctx) {
    const kobj_type_ops *ops = kobj_type_ops_of(OBJ_HASH);
    if (!ops || !ops->each || o->type != OBJ_HASH) return;
    ops->each(kobj_value(o), o->enc, fn, ctx);
}

/* The hash type's DUMP payload: varint pairs, then varint flen, field,
 * varint vlen, value per pair (see commands/hash.c). */
static void put_varint(sbuf *b, uint64_t v) {
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sbuf_append(b, t, n);
}

kobj *hash_entry_from_fields(const char *key, size_t klen, int n, const char *const *fields, const size_t *flens,
                             const char *const *vals, const size_t *vlens) {
    const kobj_type_ops *ops = kobj_type_ops_of(OBJ_HASH);
    if (!ops || !ops->deserialize || n <= 0) return NULL;
    sbuf b = SBUF_INIT;
    put_varint(&b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        put_varint(&b, flens[i]);
        sbuf_append(&b, fields[i], flens[i]);
        put_varint(&b, vlens[i]);
        sbuf_append(&b, vals[i], vlens[i]);
    }
    int enc = 0;
    void *v = ops->deserialize(b.p, b.len, &enc);
    sbuf_free(&b);
    return v ? kobj_new_value(OBJ_HASH, enc, key, klen, v) : NULL;
}
