/* kv/zset — the value of a sorted set, in one of two encodings:
 *
 *  ENC_LISTPACK  the kobj's pointer is an lpbuf of member,score pairs in
 *                (score, member) order:
 *                  | m0 | s0 | m1 | s1 | ... |
 *                A score is stored as a 1..7-byte integer when it is integral
 *                and fits in 56 bits (counters, timestamps and geohashes stay
 *                small), otherwise as the 8 raw bytes of the double; the
 *                length tells which. Nothing but this module writes these
 *                listpacks, and RESTORE never accepts one from a client.
 *  ENC_SKIPLIST  the pointer is a zset_sl: a kv/zskiplist for order and rank
 *                plus a kv/dict from member to skiplist node (the member is
 *                stored once, inside the node).
 *
 * The encoding follows Redis's rules: a new set is a listpack unless
 * zset-max-listpack-entries is 0 or its first member is longer than
 * zset-max-listpack-value; adding past either limit converts it to a
 * skiplist; it never converts back except when a whole value is rebuilt
 * (store commands, RESTORE), which picks listpack when it fits.
 *
 * Invariants:
 *  1. A listpack holds an even number of entries; members are unique; pairs
 *     are in strictly increasing (score, member) order.
 *  2. A skiplist set's dict and skiplist hold exactly the same nodes.
 *  3. No score is NaN. A value in the keyspace is never empty.
 *
 * Everything here works on a kobj of type OBJ_ZSET whose pointer and enc are
 * updated in place (the kobj itself never moves). Not thread-safe. */
#ifndef LARDER_KV_ZSET_H
#define LARDER_KV_ZSET_H
#include <stddef.h>
#include "kv/dict.h"
#include "kv/listpack.h"
#include "kv/object.h"
#include "kv/zskiplist.h"

typedef struct zset_sl {
    dict d;
    zskiplist zsl;
} zset_sl;

/* The encoding limits (zset-max-listpack-entries / -value). */
typedef struct zset_limits {
    unsigned long long entries, value;
} zset_limits;

/* zset_add flags in and out (Redis's ZADD_IN_* / ZADD_OUT_*). */
enum { ZADD_INCR = 1, ZADD_NX = 2, ZADD_XX = 4, ZADD_GT = 8, ZADD_LT = 16 };
enum { ZADD_OUT_NOP = 1, ZADD_OUT_NAN = 2, ZADD_OUT_ADDED = 4, ZADD_OUT_UPDATED = 8 };

/* Listpacks never grow past this (Redis's lpSafeToAdd limit). */
#define ZSET_LP_SAFETY_SIZE (1UL << 30)

/* A new empty entry under key in the given encoding (caller owns it). */
kobj *zset_new(const char *key, size_t klen, int enc);
/* The encoding ZADD creates a set in, given its first member's length. */
int zset_create_enc(size_t first_len, const zset_limits *lim);
/* The encoding a rebuilt value of n members (longest maxlen, total totlen) gets. */
int zset_build_enc(unsigned long n, size_t maxlen, size_t totlen, const zset_limits *lim);

unsigned long zset_len(const kobj *o);
/* 1 and *score when member is present. */
int zset_score(const kobj *o, const char *m, size_t len, double *score);
/* ZADD's core: returns 0 only when the result would be NaN (*out has
 * ZADD_OUT_NAN), else 1 with *out describing what happened and *newscore the
 * member's score after (when not NOP). May convert the encoding. */
int zset_add(kobj *o, double score, const char *m, size_t len, int in, int *out, double *newscore,
             const zset_limits *lim);
/* Appends a member known to be greater than every present one (builders). */
void zset_append_sorted(kobj *o, double score, const char *m, size_t len);
/* 1 when the member was removed. */
int zset_del(kobj *o, const char *m, size_t len);
/* 0-based rank (from the top when rev), -1 when absent. */
long zset_rank(const kobj *o, const char *m, size_t len, int rev);
void zset_convert(kobj *o, int enc);

/* Range removals; ranks are 0-based and inclusive, already clamped. Return
 * the number removed. */
unsigned long zset_remove_range_by_score(kobj *o, const zrange_spec *r);
unsigned long zset_remove_range_by_lex(kobj *o, const zlex_spec *r);
unsigned long zset_remove_range_by_rank(kobj *o, unsigned long start, unsigned long end);

/* Ordered iteration without copying: the member pointer is valid until the
 * set is modified. rev walks from the highest element down. */
typedef struct zset_iter {
    int enc, rev;
    lpbuf *lp;
    unsigned char *ep; /* listpack: the current member entry */
    zsl_node *node;    /* skiplist: the current node */
} zset_iter;
/* Positions at the rank-th element counted in the walking direction. */
void zset_iter_at_rank(zset_iter *it, const kobj *o, unsigned long rank, int rev);
/* Positions at the first element of the range (the last one when rev). */
void zset_iter_at_score(zset_iter *it, const kobj *o, const zrange_spec *r, int rev);
void zset_iter_at_lex(zset_iter *it, const kobj *o, const zlex_spec *r, int rev);
static inline int zset_iter_valid(const zset_iter *it) {
    return it->enc == ENC_LISTPACK ? it->ep != NULL : it->node != NULL;
}
void zset_iter_get(const zset_iter *it, const char **m, size_t *len, double *score);
double zset_iter_score(const zset_iter *it);
void zset_iter_member(const zset_iter *it, const char **m, size_t *len);
void zset_iter_next(zset_iter *it);

/* Counts of a range (ZCOUNT, ZLEXCOUNT). */
unsigned long zset_count_in_score(const kobj *o, const zrange_spec *r);
unsigned long zset_count_in_lex(const kobj *o, const zlex_spec *r);

/* A uniformly random element (the set is not empty). */
void zset_random(const kobj *o, const char **m, size_t *len, double *score);

/* The text a listpack stores for a score in Redis (ZSCAN prints it): an
 * integer when exact, else %.17g. Returns the length. */
int zset_score_text_listpack(char *buf, size_t size, double d);

/* Value operations for kobj_type_ops. */
void zset_free_value(void *ptr, int enc);
void *zset_dup_value(const void *ptr, int enc);
size_t zset_mem_value(const void *ptr, int enc, size_t samples);
#endif
