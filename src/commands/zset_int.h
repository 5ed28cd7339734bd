/* commands/zset_int — what the two files of the sorted set family share
 * (zset.c: the per-key commands; zset_ops.c: union, intersection,
 * difference) and geo.c (GEO's values are sorted sets whose scores are
 * geohashes, as in Redis). Not for other families: they use commands.h. */
#ifndef LARDER_COMMANDS_ZSET_INT_H
#define LARDER_COMMANDS_ZSET_INT_H
#include "commands/commands.h"
#include "kv/zset.h"

/* zset-max-listpack-entries / -value as kv/zset wants them. */
static inline zset_limits zset_cmd_limits(void) {
    zset_limits l = {(unsigned long long)server_type_limits()->zset_max_listpack_entries,
                     (unsigned long long)server_type_limits()->zset_max_listpack_value};
    return l;
}

/* A member and score referenced (not owned) while a result is assembled. */
typedef struct zref {
    const char *m;
    size_t len;
    double score;
} zref;

/* A new sorted set value under key from refs in ascending (score, member)
 * order, with unique members, in the encoding a rebuilt value gets. */
kobj *zset_build(const resp_arg *key, const zref *v, size_t n);
/* Stores val at key as SET does (an old value and its TTL go), signals the
 * write and readiness. Does not notify or count dirty. */
void zset_store_value(client *c, const resp_arg *key, kobj *val);
/* For a store command whose result is empty: deletes key if present, with
 * signal, "del" event and dirty count. */
void zset_store_empty(client *c, const resp_arg *key);
/* ZADD's work after its arguments are parsed (GEOADD's too): n members
 * (members[k * stride]) with scores[k] and the ZADD_* flags `in`; replies
 * the count (added, or added + updated with ch) and sends "zadd". */
void zadd_apply(client *c, const resp_arg *key, int in, int ch, const double *scores,
                const resp_arg *members, int stride, int n);
/* Member then score (RESP3: as a pair) for WITHSCORES-style replies. */
void zset_reply_pair(client *c, const char *m, size_t len, double score, int withscores);
#endif
