/* commands/handlers.h — every command handler, as the command table
 * (server/cmdtable.c) sees them: one block per family file. Scripting's
 * handlers (src/scripting) are here too, so the table needs this one header. */
#ifndef LARDER_COMMANDS_HANDLERS_H
#define LARDER_COMMANDS_HANDLERS_H
#include "server/api.h"

/* ---- connection.c -------------------------------------------------------- */
command_fn ping_command, echo_command, select_command, quit_command, reset_command, hello_command,
    auth_command, client_command, client_id_command, client_setname_command, client_getname_command,
    client_list_command, client_info_command, client_kill_command, client_setinfo_command,
    client_no_evict_command, client_pause_command, client_unpause_command, client_reply_command,
    client_unblock_command, client_help_command, client_no_touch_command;

/* ---- acl.c --------------------------------------------------------------- */
command_fn acl_cat_command, acl_deluser_command, acl_dryrun_command, acl_genpass_command,
    acl_getuser_command, acl_help_command, acl_list_command, acl_load_command, acl_log_command,
    acl_save_command, acl_setuser_command, acl_users_command, acl_whoami_command;

/* ---- tracking.c ---------------------------------------------------------- */
command_fn client_tracking_command, client_caching_command, client_getredir_command,
    client_trackinginfo_command;

/* ---- server_cmds.c ------------------------------------------------------- */
command_fn dbsize_command, flushdb_command, flushall_command, time_command, lastsave_command,
    swapdb_command, info_command, shutdown_command, bgsave_command, bgrewriteaof_command,
    wait_command, readonly_command, readwrite_command, lolwut_command, monitor_command,
    role_command, config_get_command, config_set_command, config_resetstat_command,
    config_rewrite_command, config_help_command, memory_usage_command, memory_stats_command,
    memory_doctor_command, memory_malloc_stats_command, memory_purge_command, memory_help_command,
    object_encoding_command, object_freq_command, object_idletime_command, object_refcount_command,
    object_help_command, debug_command, function_flush_command, function_list_command,
    function_stats_command, function_help_command, latency_latest_command, latency_history_command,
    latency_reset_command, latency_graph_command, latency_histogram_command, latency_doctor_command,
    latency_help_command;

/* ---- slowlog.c ----------------------------------------------------------- */
command_fn slowlog_get_command, slowlog_len_command, slowlog_reset_command, slowlog_help_command;

/* ---- cmddocs.c ----------------------------------------------------------- */
command_fn command_command, command_count_command, command_info_command, command_docs_command,
    command_list_command, command_getkeys_command, command_getkeysandflags_command,
    command_help_command;

/* ---- strings.c ----------------------------------------------------------- */
command_fn set_command, setnx_command, setex_command, psetex_command, get_command, getdel_command,
    getex_command, getset_command, mget_command, mset_command, msetnx_command, incr_command,
    decr_command, incrby_command, decrby_command, incrbyfloat_command, append_command,
    strlen_command, getrange_command, setrange_command, lcs_command;

/* ---- bitops.c ------------------------------------------------------------ */
command_fn setbit_command, getbit_command, bitcount_command, bitpos_command, bitop_command,
    bitfield_command, bitfield_ro_command;

/* ---- keys.c -------------------------------------------------------------- */
command_fn del_command, unlink_command, exists_command, type_command, keys_command, scan_command,
    rename_command, renamenx_command, randomkey_command, touch_command, copy_command, move_command,
    dump_command, restore_command, expire_command, pexpire_command, expireat_command,
    pexpireat_command, ttl_command, pttl_command, expiretime_command, pexpiretime_command,
    persist_command;

/* ---- sort.c -------------------------------------------------------------- */
command_fn sort_command, sort_ro_command;

/* ---- multi.c ------------------------------------------------------------- */
command_fn multi_command, exec_command, discard_command, watch_command, unwatch_command;

/* ---- pubsub.c ------------------------------------------------------------ */
command_fn publish_command, subscribe_command, unsubscribe_command, psubscribe_command,
    punsubscribe_command, pubsub_channels_command, pubsub_numsub_command, pubsub_numpat_command,
    pubsub_help_command, ssubscribe_command, sunsubscribe_command, spublish_command,
    pubsub_shardchannels_command, pubsub_shardnumsub_command;

/* ---- hash.c -------------------------------------------------------------- */
command_fn hexpire_command, hpexpire_command, hexpireat_command, hpexpireat_command, httl_command,
    hpttl_command, hexpiretime_command, hpexpiretime_command, hpersist_command, hgetex_command,
    hsetex_command, hgetdel_command;
command_fn hset_command, hsetnx_command, hget_command, hmget_command, hmset_command, hdel_command,
    hexists_command, hlen_command, hstrlen_command, hkeys_command, hvals_command, hgetall_command,
    hincrby_command, hincrbyfloat_command, hrandfield_command, hscan_command;

/* ---- set.c --------------------------------------------------------------- */
command_fn sadd_command, srem_command, smembers_command, sismember_command, smismember_command,
    scard_command, spop_command, srandmember_command, smove_command, sinter_command,
    sintercard_command, sinterstore_command, sunion_command, sunionstore_command, sdiff_command,
    sdiffstore_command, sscan_command;
command_getkeys_fn getkeys_sintercard;

/* ---- list.c, sort.c ------------------------------------------------------ */
command_fn lpush_command, rpush_command, lpushx_command, rpushx_command, lpop_command, rpop_command,
    llen_command, lrange_command, lindex_command, lset_command, linsert_command, lrem_command,
    ltrim_command, lpos_command, lmove_command, rpoplpush_command, lmpop_command, blpop_command,
    brpop_command, blmove_command, brpoplpush_command, blmpop_command;
command_getkeys_fn getkeys_lmpop, getkeys_blmpop;

/* ---- stream.c ------------------------------------------------------------ */
command_fn xadd_command, xlen_command, xrange_command, xrevrange_command, xdel_command,
    xtrim_command, xsetid_command, xread_command, xreadgroup_command, xgroup_create_command,
    xgroup_setid_command, xgroup_destroy_command, xgroup_createconsumer_command,
    xgroup_delconsumer_command, xgroup_help_command, xack_command, xpending_command, xclaim_command,
    xautoclaim_command, xinfo_consumers_command, xinfo_groups_command, xinfo_stream_command,
    xinfo_help_command;
command_getkeys_fn getkeys_xread;

/* ---- zset.c -------------------------------------------------------------- */
command_fn zadd_command, zincrby_command, zrem_command, zcard_command, zcount_command,
    zlexcount_command, zscore_command, zmscore_command, zrank_command, zrevrank_command,
    zrange_command, zrangestore_command, zrevrange_command, zrangebyscore_command,
    zrevrangebyscore_command, zrangebylex_command, zrevrangebylex_command, zremrangebyrank_command,
    zremrangebyscore_command, zremrangebylex_command, zpopmin_command, zpopmax_command,
    bzpopmin_command, bzpopmax_command, zmpop_command, bzmpop_command, zrandmember_command,
    zunion_command, zinter_command, zdiff_command, zunionstore_command, zinterstore_command,
    zdiffstore_command, zintercard_command, zscan_command;
command_getkeys_fn getkeys_zset_numkeys_at1, getkeys_zset_store, getkeys_zset_bzmpop;

/* ---- geo.c, hll.c ------------------------------------------------------- */
command_fn geoadd_command, geodist_command, geohash_command, geopos_command, georadius_command,
    georadius_ro_command, georadiusbymember_command, georadiusbymember_ro_command,
    geosearch_command, geosearchstore_command;
command_getkeys_fn getkeys_georadius;
command_fn pfadd_command, pfcount_command, pfmerge_command, pfdebug_command, pfselftest_command;

/* ---- scripting.c, lock.c ------------------------------------------------- */
command_fn eval_command, evalsha_command, eval_ro_command, evalsha_ro_command, fcall_command,
    fcall_ro_command, script_load_command, script_exists_command, script_flush_command,
    script_kill_command, script_debug_command, script_help_command, function_load_command,
    function_delete_command, function_kill_command, function_dump_command, function_restore_command,
    lock_acquire_command, lock_release_command, lock_extend_command, lock_info_command,
    delifeq_command;
command_getkeys_fn getkeys_eval;

/* ---- persistence commands ------------------------------------------------ */
command_fn save_command, sql_query_command, sql_exec_command, store_invalidation_command,
    wb_flush_command, wb_deadletter_command, cache_get_command, cache_set_command;

/* ---- getkeys functions for commands with keys at computed positions ---------------- */
command_getkeys_fn getkeys_sort, getkeys_numkeys_at1, getkeys_numkeys_at2, getkeys_lcs,
    getkeys_migrate;
command_fn migrate_command;
#endif
