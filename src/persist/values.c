/* persist/values — a hash key's fields as a row and back, through the hash
 * type's own operations (kobj_type_ops: each, deserialize), so the
 * persistence layer does not depend on how hashes are encoded. */
#include "persist/persist.h"
#include "util/mem.h"
#include <string.h>

void hash_for_each_field(const kobj *o,
                         void (*fn)(void *ctx, const char *f, size_t flen, const char *v,
                                    size_t vlen),
                         void *ctx) {
    const kobj_type_ops *ops = kobj_type_ops_of(OBJ_HASH);
    if (!ops || !ops->each || o->type != OBJ_HASH) return;
    ops->each(kobj_value(o), o->enc, fn, ctx);
}

/* The hash type's DUMP payload: varint pairs, then varint flen, field,
 * varint vlen, value per pair (see commands/hash.c). */
kobj *hash_entry_from_fields(const char *key, size_t klen, int n, const char *const *fields,
                             const size_t *flens, const char *const *vals, const size_t *vlens) {
    const kobj_type_ops *ops = kobj_type_ops_of(OBJ_HASH);
    if (!ops || !ops->deserialize || n <= 0) return NULL;
    sbuf b = SBUF_INIT;
    sbuf_put_varint(&b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        sbuf_put_varint(&b, flens[i]);
        sbuf_append(&b, fields[i], flens[i]);
        sbuf_put_varint(&b, vlens[i]);
        sbuf_append(&b, vals[i], vlens[i]);
    }
    int enc = 0;
    void *v = ops->deserialize(b.p, b.len, &enc);
    sbuf_free(&b);
    return v ? kobj_new_value(OBJ_HASH, enc, key, klen, v) : NULL;
}
