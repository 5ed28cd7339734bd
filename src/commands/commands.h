/* commands/commands.h — every command handler, one block per family file,
 * plus the few helpers that families share. The table that names them is
 * src/server/cmdtable.c. */
#ifndef LARDER_COMMANDS_H
#define LARDER_COMMANDS_H
#include "server/server.h"

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
/* Is the client allowed to block now (not in MULTI, not a script)? */
int client_can_block(const client *c);
int blocked_is_reprocessing(void);

/* DUMP/RESTORE's payload of a value (keys.c; DEBUG uses it too). */
int dump_serialize(const kobj *o, sbuf *out);
kobj *dump_deserialize(const char *key, size_t klen, const char *p, size_t len);

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

/* ---- connection.c ---------------------------------------------------------- */
command_fn ping_command, echo_command, select_command, quit_command, reset_command, hello_command,
    auth_command, client_command, client_id_command, client_setname_command, client_getname_command,
    client_list_command, client_info_command, client_kill_command, client_setinfo_command,
    client_no_evict_command, client_pause_command, client_unpause_command, client_reply_command,
    client_unblock_command, client_help_command, client_no_touch_command, client_tracking_command,
    client_caching_command, client_getredir_command, client_trackinginfo_command;

/* ---- server_cmds.c --------------------------------------------------------- */
command_fn dbsize_command, flushdb_command, flushall_command, time_command, lastsave_command,
    swapdb_command, info_command, shutdown_command, save_command, bgsave_command,
    bgrewriteaof_command, wait_command, readonly_command, readwrite_command, lolwut_command,
    monitor_command, role_command, command_command, command_count_command, command_info_command,
    command_docs_command, command_list_command, command_getkeys_command,
    command_getkeysandflags_command, command_help_command, config_get_command, config_set_command,
    config_resetstat_command, config_rewrite_command, config_help_command, memory_usage_command,
    memory_stats_command, memory_doctor_command, memory_malloc_stats_command, memory_purge_command,
    memory_help_command, object_encoding_command, object_freq_command, object_idletime_command,
    object_refcount_command, object_help_command, debug_command, function_flush_command,
    function_list_command, function_stats_command, function_help_command, slowlog_get_command,
    slowlog_len_command, slowlog_reset_command, slowlog_help_command, latency_latest_command,
    latency_history_command, latency_reset_command, latency_graph_command,
    latency_histogram_command, latency_doctor_command, latency_help_command;

/* ---- strings.c ----------------------------------------------------------------- */
command_fn set_command, setnx_command, setex_command, psetex_command, get_command, getdel_command,
    getex_command, getset_command, mget_command, mset_command, msetnx_command, incr_command,
    decr_command, incrby_command, decrby_command, incrbyfloat_command, append_command,
    strlen_command, getrange_command, setrange_command, lcs_command;

/* ---- bitops.c ------------------------------------------------------------------- */
command_fn setbit_command, getbit_command, bitcount_command, bitpos_command, bitop_command,
    bitfield_command, bitfield_ro_command;

/* ---- keys.c --------------------------------------------------------------------- */
command_fn del_command, unlink_command, exists_command, type_command, keys_command, scan_command,
    rename_command, renamenx_command, randomkey_command, touch_command, copy_command, move_command,
    dump_command, restore_command, expire_command, pexpire_command, expireat_command,
    pexpireat_command, ttl_command, pttl_command, expiretime_command, pexpiretime_command,
    persist_command;

/* ---- sort.c --------------------------------------------------------------------- */
command_fn sort_command, sort_ro_command;

/* ---- multi.c --------------------------------------------------------------------- */
command_fn multi_command, exec_command, discard_command, watch_command, unwatch_command;

/* ---- pubsub.c (issue 3) ---------------------------------------------------------- */
command_fn publish_command, subscribe_command, unsubscribe_command, psubscribe_command,
    punsubscribe_command, pubsub_channels_command, pubsub_numsub_command, pubsub_numpat_command,
    pubsub_help_command, ssubscribe_command, sunsubscribe_command, spublish_command,
    pubsub_shardchannels_command, pubsub_shardnumsub_command;

/* ---- hash.c (issue 3) ----------------------------------------------------------- */
command_fn hset_command, hsetnx_command, hget_command, hmget_command, hmset_command, hdel_command,
    hexists_command, hlen_command, hstrlen_command, hkeys_command, hvals_command, hgetall_command,
    hincrby_command, hincrbyfloat_command, hrandfield_command, hscan_command;

/* ---- set.c (issue 3) ------------------------------------------------------------ */
command_fn sadd_command, srem_command, smembers_command, sismember_command, smismember_command,
    scard_command, spop_command, srandmember_command, smove_command, sinter_command,
    sintercard_command, sinterstore_command, sunion_command, sunionstore_command, sdiff_command,
    sdiffstore_command, sscan_command;
command_getkeys_fn getkeys_sintercard;

/* ---- list.c, sort.c (issue 3) --------------------------------------------------- */
command_fn lpush_command, rpush_command, lpushx_command, rpushx_command, lpop_command, rpop_command,
    llen_command, lrange_command, lindex_command, lset_command, linsert_command, lrem_command,
    ltrim_command, lpos_command, lmove_command, rpoplpush_command, lmpop_command, blpop_command,
    brpop_command, blmove_command, brpoplpush_command, blmpop_command;
command_getkeys_fn getkeys_lmpop, getkeys_blmpop;

/* SORT's access to values (sort.c). SORT reads the elements of lists, sets
 * and sorted sets, and the fields of hashes for "key->field" patterns,
 * through hooks each type registers from its own file (list.c does lists):
 *
 *     static const sort_type_ops set_sort_ops = {.length = ..., .range = ...};
 *     __attribute__((constructor)) static void set_sort_register(void) {
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

/* ---- zset.c (issue 3) ----------------------------------------------------------- */
command_fn zadd_command, zincrby_command, zrem_command, zcard_command, zcount_command,
    zlexcount_command, zscore_command, zmscore_command, zrank_command, zrevrank_command,
    zrange_command, zrangestore_command, zrevrange_command, zrangebyscore_command,
    zrevrangebyscore_command, zrangebylex_command, zrevrangebylex_command, zremrangebyrank_command,
    zremrangebyscore_command, zremrangebylex_command, zpopmin_command, zpopmax_command,
    bzpopmin_command, bzpopmax_command, zmpop_command, bzmpop_command, zrandmember_command,
    zunion_command, zinter_command, zdiff_command, zunionstore_command, zinterstore_command,
    zdiffstore_command, zintercard_command, zscan_command;
/* Key positions: numkeys at argv[1] (ZUNION ZINTER ZDIFF ZINTERCARD ZMPOP), at
 * argv[2] after a destination at argv[1] (Z*STORE), at argv[2] after the
 * timeout (BZMPOP). */
command_getkeys_fn getkeys_zset_numkeys_at1, getkeys_zset_store, getkeys_zset_bzmpop;

/* For SORT (sort.c): the members of a sorted set in rank order (descending
 * when rev), starting at 0-based rank `start` counted in that direction, until
 * fn returns non-zero. member/len are valid only during the call; the set
 * must not be modified from fn. */
typedef int zset_each_fn(void *ctx, const char *member, size_t len, double score);
void zset_for_each(const kobj *o, long start, int rev, zset_each_fn *fn, void *ctx);
/* Number of members of a sorted set. */
unsigned long zset_length(const kobj *o);

/* Implemented by the set type (set.c) for ZUNION/ZINTER/ZDIFF[STORE] and
 * ZINTERCARD, which accept sets as inputs with every score 1. set_each_fn
 * returns non-zero to stop the walk; the member bytes are valid only during
 * the call (an intset member is passed as its decimal text). */
typedef int set_each_fn(void *ctx, const char *member, size_t len);
unsigned long set_members_count(const kobj *set);
int set_has_member(const kobj *set, const char *member, size_t len);
void set_for_each_member(const kobj *set, set_each_fn *fn, void *ctx);

/* ---- scripting.c, lock.c (issue 7) ---------------------------------------------- */
command_fn eval_command, evalsha_command, eval_ro_command, evalsha_ro_command, fcall_command,
    fcall_ro_command, script_load_command, script_exists_command, script_flush_command,
    script_kill_command, script_debug_command, script_help_command, function_load_command,
    function_delete_command, function_kill_command, function_dump_command, function_restore_command,
    lock_acquire_command, lock_release_command, lock_extend_command, lock_info_command,
    delifeq_command;
command_getkeys_fn getkeys_eval;
size_t function_library_count(void); /* FUNCTION LOAD'ed libraries */
/* Fencing-token counter (lock.c): the last token issued (starting from the wall
 * clock in microseconds), raising it (never lowers), and a hook told of every
 * token issued before it is replied (persist/locktokens.c). */
uint64_t lock_token_last(void);
void lock_token_raise(uint64_t t);
void lock_set_token_hook(void (*fn)(uint64_t token));

/* ---- persistence commands (issue 6) ---------------------------------------------- */
command_fn save_command, sql_query_command, sql_exec_command, wb_flush_command,
    wb_deadletter_command, cache_get_command, cache_set_command;

/* getkeys functions for commands with keys at computed positions */
command_getkeys_fn getkeys_sort, getkeys_numkeys_at1, getkeys_numkeys_at2, getkeys_lcs;
#endif
