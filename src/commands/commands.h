/* commands/commands.h — the helpers command families share, and the
 * handlers themselves (commands/handlers.h, which the command table,
 * src/server/cmdtable.c, includes on its own). */
#ifndef LARDER_COMMANDS_H
#define LARDER_COMMANDS_H
#include "server/api.h"
#include "commands/handlers.h"

/* ---- shared helpers ---------------------------------------------------------- */

/* An expire argument (relative or absolute, s or ms) to absolute unix ms;
 * replies "invalid expire time in '<cmd>' command" itself. */
int expire_arg_or_reply(client *c, const resp_arg *a, int unit, int absolute, int64_t *out);
/* Sets key to a string value as SET does (expire < 0: none; keepttl keeps the
 * old one) and signals the write. Does not notify or reply. */
kobj *set_string_key(client *c, const resp_arg *key, const char *val, size_t vlen, int64_t expire,
                     int keepttl);
/* Deletes a key as DEL does (signal + "del" event). Returns 1 if it existed. */
int delete_key_notify(client *c, db *d, const char *key, size_t len);
/* Appends a string value reply (bulk). */
static inline void reply_string_value(client *c, const kobj *o) {
    reply_bulk(c, kobj_val(o), o->vlen);
}

/* DUMP/RESTORE's payload of a value (keys.c; DEBUG uses it too). */
int dump_serialize(const kobj *o, sbuf *out);
kobj *dump_deserialize(const char *key, size_t klen, const char *p, size_t len);
/* Indexes the field expire times of the hash o, just added to d under its
 * key (RENAME, MOVE, COPY, RESTORE): no-op for other values (hash.c). */
void hash_adopt_field_ttls(db *d, kobj *o);

/* Commands that need the store (sql.c, wb.c): is one configured? can the
 * client wait for it (not in MULTI or a script)? Each replies the error. */
int store_configured_or_reply(client *c);
int can_wait_or_reply(client *c);

/* SCAN-family helpers (keys.c): cursor and COUNT/MATCH/TYPE options. */
typedef struct scan_opts {
    long long count;
    const char *pat;
    size_t patlen;
    int use_pattern;
    const resp_arg *type;
} scan_opts;
int scan_cursor_or_reply(client *c, const resp_arg *a, uint64_t *cursor);
int scan_options_or_reply(client *c, int first, int allow_type, scan_opts *o);
/* HRANDFIELD / ZRANDMEMBER key count [WITHVALUES|WITHSCORES]: the count and
 * whether the option (with_word) is given; replies the error and returns
 * ERR on a bad count, a syntax error, or a count too large to pair. */
int rand_count_args_or_reply(client *c, const char *with_word, long long *count, int *with);
int scan_matches(const scan_opts *o, const char *s, size_t len);

/* ---- list.c, sort.c ------------------------------------------------------ */

/* SORT's access to values (sort.c). SORT reads the elements of lists, sets
 * and sorted sets, and the fields of hashes for "key->field" patterns,
 * through hooks each type registers from its own file (list.c does lists):
 *
 *     static const sort_type_ops set_sort_ops = {.length = ..., .range = ...};
 *     __attribute__((constructor)) static void set_register(void) {
 *         sort_register_type(OBJ_SET, &set_sort_ops);
 *     }
 *
 * length(o)  the number of elements of o (lists, sets, sorted sets).
 * range(o, start, count, desc, cb, ctx)
 *            calls cb(ctx, s, len) for `count` elements (count <= length -
 *            start), beginning at position `start` of the type's natural
 *            order: list order; for a sorted set its rank order (score, then
 *            member); for a set any order (SORT asks sets only for all of
 *            them: start 0, desc 0). desc = 1 walks from the end instead, and
 *            start then counts from the end (BY nosort ... DESC on lists and
 *            sorted sets). s needs to stay valid only during the call; the
 *            callback never touches the keyspace. Redis converts a listpack
 *            sorted set to a skiplist here (zsetConvert, visible in OBJECT
 *            ENCODING afterwards); the zset owner may do the same in range().
 * field(o, name, nlen, out)
 *            hashes: appends the value of field `name` to out and returns 1,
 *            or returns 0 when there is no such field.
 * Without registered hooks a key of that type is WRONGTYPE for SORT, and a
 * "key->field" pattern finds nothing. */
typedef void sort_elem_fn(void *ctx, const char *s, size_t len);
typedef struct sort_type_ops {
    unsigned long (*length)(kobj *o);
    void (*range)(kobj *o, unsigned long start, unsigned long count, int desc, sort_elem_fn *cb,
                  void *ctx);
    int (*field)(kobj *o, const char *name, size_t nlen, sbuf *out);
} sort_type_ops;
void sort_register_type(int type, const sort_type_ops *ops);

/* ---- zset.c -------------------------------------------------------------- */
/* Key positions: numkeys at argv[1] (ZUNION ZINTER ZDIFF ZINTERCARD ZMPOP), at
 * argv[2] after a destination at argv[1] (Z*STORE), at argv[2] after the
 * timeout (BZMPOP). */

/* For SORT (sort.c): the members of a sorted set in rank order (descending
 * when rev), starting at 0-based rank `start` counted in that direction, until
 * fn returns non-zero. member/len are valid only during the call; the set
 * must not be modified from fn. */
typedef int zset_each_fn(void *ctx, const char *member, size_t len, double score);
void zset_for_each(const kobj *o, long start, int rev, zset_each_fn *fn, void *ctx);
/* Number of members of a sorted set. */

/* Implemented by the set type (set.c) for ZUNION/ZINTER/ZDIFF[STORE] and
 * ZINTERCARD, which accept sets as inputs with every score 1. set_each_fn
 * returns non-zero to stop the walk; the member bytes are valid only during
 * the call (an intset member is passed as its decimal text). */
typedef int set_each_fn(void *ctx, const char *member, size_t len);
unsigned long set_members_count(const kobj *set);
int set_has_member(const kobj *set, const char *member, size_t len);
void set_for_each_member(const kobj *set, set_each_fn *fn, void *ctx);

#endif
