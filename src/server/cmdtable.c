/* server/cmdtable — the one command table.
 *
 * A row: name, handler, arity (N exact, -N at least N), flags, key positions
 * (first, last, step; last < 0 counts from the end), extra ACL categories,
 * the COMMAND DOCS group, since, summary, complexity, and the argument
 * syntax as the docs print it. COMMAND DOCS and redis-cli's hints are built
 * from the syntax string (server/cmddocs.c), so it is written exactly like a
 * usage line: [optional], a | b alternatives, "..." repeats, UPPERCASE tokens.
 *
 * Adding a command is one handler in src/commands/ and one row here. */
#include "commands/commands.h"

#define KEYS(f, l, s) .first_key = f, .last_key = l, .key_step = s
#define K1 KEYS(1, 1, 1)
#define DOC(grp, ver, sum, cx) .group = grp, .since = ver, .summary = sum, .complexity = cx
#define END {.name = NULL}

/* ---- subcommand tables ------------------------------------------------------------ */

static command client_subs[] = {
    {.name = "id", .proc = client_id_command, .arity = 2, .flags = "noscript loading stale", DOC(NULL, "5.0.0", "Returns the unique client ID of the connection.", "O(1)"), .syntax = ""},
    {.name = "setname", .proc = client_setname_command, .arity = 3, .flags = "noscript loading stale", DOC(NULL, "2.6.9", "Sets the connection name.", "O(1)"), .syntax = "connection-name"},
    {.name = "getname", .proc = client_getname_command, .arity = 2, .flags = "noscript loading stale", DOC(NULL, "2.6.9", "Returns the name of the connection.", "O(1)"), .syntax = ""},
    {.name = "setinfo", .proc = client_setinfo_command, .arity = 4, .flags = "noscript loading stale", DOC(NULL, "7.2.0", "Sets information specific to the client or connection.", "O(1)"), .syntax = "LIB-NAME libname | LIB-VER libver"},
    {.name = "list", .proc = client_list_command, .arity = -2, .flags = "admin noscript loading stale", DOC(NULL, "2.4.0", "Lists open connections.", "O(N) where N is the number of client connections"), .syntax = "[TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]"},
    {.name = "info", .proc = client_info_command, .arity = 2, .flags = "noscript loading stale", DOC(NULL, "6.2.0", "Returns information about the connection.", "O(1)"), .syntax = ""},
    {.name = "kill", .proc = client_kill_command, .arity = -3, .flags = "admin noscript loading stale", DOC(NULL, "2.4.0", "Terminates open connections.", "O(N) where N is the number of client connections"), .syntax = "ip:port | [ID client-id] [TYPE NORMAL | MASTER | SLAVE | REPLICA | PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES | NO]"},
    {.name = "no-evict", .proc = client_no_evict_command, .arity = 3, .flags = "admin noscript loading stale", DOC(NULL, "7.0.0", "Sets the client eviction mode of the connection.", "O(1)"), .syntax = "ON | OFF"},
    {.name = "no-touch", .proc = client_no_touch_command, .arity = 3, .flags = "noscript loading stale", DOC(NULL, "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "O(1)"), .syntax = "ON | OFF"},
    {.name = "pause", .proc = client_pause_command, .arity = -3, .flags = "admin noscript loading stale", DOC(NULL, "3.0.0", "Suspends commands processing.", "O(1)"), .syntax = "timeout [WRITE | ALL]"},
    {.name = "unpause", .proc = client_unpause_command, .arity = 2, .flags = "admin noscript loading stale", DOC(NULL, "6.2.0", "Resumes processing commands from paused clients.", "O(N) Where N is the number of paused clients"), .syntax = ""},
    {.name = "reply", .proc = client_reply_command, .arity = 3, .flags = "noscript loading stale", DOC(NULL, "3.2.0", "Instructs the server whether to reply to commands.", "O(1)"), .syntax = "ON | OFF | SKIP"},
    {.name = "unblock", .proc = client_unblock_command, .arity = -3, .flags = "admin noscript loading stale", DOC(NULL, "5.0.0", "Unblocks a client blocked by a blocking command from a different connection.", "O(log N) where N is the number of client connections"), .syntax = "client-id [TIMEOUT | ERROR]"},
    {.name = "tracking", .proc = client_tracking_command, .arity = -3, .flags = "noscript loading stale", .acl = "@connection", DOC(NULL, "6.0.0", "Controls server-assisted client-side caching for the connection.", "O(1). Some options may introduce additional complexity."), .syntax = "(ON | OFF) [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"},
    {.name = "caching", .proc = client_caching_command, .arity = 3, .flags = "noscript loading stale", .acl = "@connection", DOC(NULL, "6.0.0", "Instructs the server whether to track the keys in the next request.", "O(1)"), .syntax = "YES | NO"},
    {.name = "getredir", .proc = client_getredir_command, .arity = 2, .flags = "noscript loading stale", .acl = "@connection", DOC(NULL, "6.0.0", "Returns the client ID to which the connection's tracking notifications are redirected.", "O(1)"), .syntax = ""},
    {.name = "trackinginfo", .proc = client_trackinginfo_command, .arity = 2, .flags = "noscript loading stale", .acl = "@connection", DOC(NULL, "6.2.0", "Returns information about server-assisted client-side caching for the connection.", "O(1)"), .syntax = ""},
    {.name = "help", .proc = client_help_command, .arity = 2, .flags = "loading stale", DOC(NULL, "5.0.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command config_subs[] = {
    {.name = "get", .proc = config_get_command, .arity = -3, .flags = "admin noscript loading stale", DOC(NULL, "2.0.0", "Returns the effective values of configuration parameters.", "O(N) when N is the number of configuration parameters provided"), .syntax = "parameter [parameter ...]"},
    {.name = "set", .proc = config_set_command, .arity = -4, .flags = "admin noscript loading stale", DOC(NULL, "2.0.0", "Sets configuration parameters in-flight.", "O(N) when N is the number of configuration parameters provided"), .syntax = "parameter value [parameter value ...]"},
    {.name = "resetstat", .proc = config_resetstat_command, .arity = 2, .flags = "admin noscript loading stale", DOC(NULL, "2.0.0", "Resets the server's statistics.", "O(1)"), .syntax = ""},
    {.name = "rewrite", .proc = config_rewrite_command, .arity = 2, .flags = "admin noscript loading stale", DOC(NULL, "2.8.0", "Persists the effective configuration to file.", "O(1)"), .syntax = ""},
    {.name = "help", .proc = config_help_command, .arity = 2, .flags = "loading stale", DOC(NULL, "5.0.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command command_subs[] = {
    {.name = "count", .proc = command_count_command, .arity = 2, .flags = "loading stale", .acl = "@connection", DOC(NULL, "2.8.13", "Returns a count of commands.", "O(1)"), .syntax = ""},
    {.name = "info", .proc = command_info_command, .arity = -2, .flags = "loading stale", .acl = "@connection", DOC(NULL, "2.8.13", "Returns information about one, multiple or all commands.", "O(N) where N is the number of commands to look up"), .syntax = "[command-name [command-name ...]]"},
    {.name = "docs", .proc = command_docs_command, .arity = -2, .flags = "loading stale", .acl = "@connection", DOC(NULL, "7.0.0", "Returns documentary information about one, multiple or all commands.", "O(N) where N is the number of commands to look up"), .syntax = "[command-name [command-name ...]]"},
    {.name = "list", .proc = command_list_command, .arity = -2, .flags = "loading stale", .acl = "@connection", DOC(NULL, "7.0.0", "Returns a list of command names.", "O(N) where N is the total number of Redis commands"), .syntax = "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]"},
    {.name = "getkeys", .proc = command_getkeys_command, .arity = -4, .flags = "loading stale", .acl = "@connection", DOC(NULL, "2.8.13", "Extracts the key names from an arbitrary command.", "O(N) where N is the number of arguments to the command"), .syntax = "command [arg [arg ...]]"},
    {.name = "getkeysandflags", .proc = command_getkeysandflags_command, .arity = -4, .flags = "loading stale", .acl = "@connection", DOC(NULL, "7.0.0", "Extracts the key names and access flags for an arbitrary command.", "O(N) where N is the number of arguments to the command"), .syntax = "command [arg [arg ...]]"},
    {.name = "help", .proc = command_help_command, .arity = 2, .flags = "loading stale", .acl = "@connection", DOC(NULL, "5.0.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command memory_subs[] = {
    {.name = "usage", .proc = memory_usage_command, .arity = -3, .flags = "readonly", KEYS(2, 2, 1), DOC(NULL, "4.0.0", "Estimates the memory usage of a key.", "O(N) where N is the number of samples."), .syntax = "key [SAMPLES count]"},
    {.name = "stats", .proc = memory_stats_command, .arity = 2, .flags = "", DOC(NULL, "4.0.0", "Returns details about memory usage.", "O(1)"), .syntax = ""},
    {.name = "doctor", .proc = memory_doctor_command, .arity = 2, .flags = "", DOC(NULL, "4.0.0", "Outputs a memory problems report.", "O(1)"), .syntax = ""},
    {.name = "malloc-stats", .proc = memory_malloc_stats_command, .arity = 2, .flags = "", DOC(NULL, "4.0.0", "Returns the allocator statistics.", "Depends on how much memory is allocated, could be slow"), .syntax = ""},
    {.name = "purge", .proc = memory_purge_command, .arity = 2, .flags = "", DOC(NULL, "4.0.0", "Asks the allocator to release memory.", "Depends on how much memory is allocated, could be slow"), .syntax = ""},
    {.name = "help", .proc = memory_help_command, .arity = 2, .flags = "loading stale", DOC(NULL, "4.0.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command object_subs[] = {
    {.name = "encoding", .proc = object_encoding_command, .arity = 3, .flags = "readonly", KEYS(2, 2, 1), .acl = "@keyspace", DOC(NULL, "2.2.3", "Returns the internal encoding of an object.", "O(1)"), .syntax = "key"},
    {.name = "freq", .proc = object_freq_command, .arity = 3, .flags = "readonly", KEYS(2, 2, 1), .acl = "@keyspace", DOC(NULL, "4.0.0", "Returns the logarithmic access frequency counter of an object.", "O(1)"), .syntax = "key"},
    {.name = "idletime", .proc = object_idletime_command, .arity = 3, .flags = "readonly", KEYS(2, 2, 1), .acl = "@keyspace", DOC(NULL, "2.2.3", "Returns the time since the last access to an object.", "O(1)"), .syntax = "key"},
    {.name = "refcount", .proc = object_refcount_command, .arity = 3, .flags = "readonly", KEYS(2, 2, 1), .acl = "@keyspace", DOC(NULL, "2.2.3", "Returns the reference count of a value of a key.", "O(1)"), .syntax = "key"},
    {.name = "help", .proc = object_help_command, .arity = 2, .flags = "loading stale", .acl = "@keyspace", DOC(NULL, "6.2.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command function_subs[] = {
    {.name = "flush", .proc = function_flush_command, .arity = -2, .flags = "write noscript", .acl = "@scripting", DOC(NULL, "7.0.0", "Deletes all libraries and functions.", "O(N) where N is the number of functions deleted"), .syntax = "[ASYNC | SYNC]"},
    {.name = "list", .proc = function_list_command, .arity = -2, .flags = "noscript", .acl = "@scripting", DOC(NULL, "7.0.0", "Returns information about all libraries.", "O(N) where N is the number of functions"), .syntax = "[LIBRARYNAME library-name-pattern] [WITHCODE]"},
    {.name = "stats", .proc = function_stats_command, .arity = 2, .flags = "noscript allow_busy", .acl = "@scripting", DOC(NULL, "7.0.0", "Returns information about a function during execution.", "O(1)"), .syntax = ""},
    {.name = "help", .proc = function_help_command, .arity = 2, .flags = "loading stale", .acl = "@scripting", DOC(NULL, "7.0.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command slowlog_subs[] = {
    {.name = "get", .proc = slowlog_get_command, .arity = -2, .flags = "admin loading stale", DOC(NULL, "2.2.12", "Returns the slow log's entries.", "O(N) where N is the number of entries returned"), .syntax = "[count]"},
    {.name = "len", .proc = slowlog_len_command, .arity = 2, .flags = "admin loading stale", DOC(NULL, "2.2.12", "Returns the number of entries in the slow log.", "O(1)"), .syntax = ""},
    {.name = "reset", .proc = slowlog_reset_command, .arity = 2, .flags = "admin loading stale", DOC(NULL, "2.2.12", "Clears all entries from the slow log.", "O(N) where N is the number of entries in the slowlog"), .syntax = ""},
    {.name = "help", .proc = slowlog_help_command, .arity = 2, .flags = "loading stale", DOC(NULL, "6.2.0", "Show helpful text about the different subcommands", "O(1)"), .syntax = ""},
    END};

static command latency_subs[] = {
    {.name = "doctor", .proc = latency_doctor_command, .arity = 2, .flags = "admin noscript loading stale", DOC(NULL, "2.8.13", "Returns a human-readable latency analysis report.", "O(1)"), .syntax = ""},
    {.name = "graph", .proc = latency_graph_command, .arity = 3, .flags = "admin noscript loading stale", DOC(NULL, "2.8.13", "Returns a latency graph for an event.", "O(1)"), .syntax = "event"},
    {.name = "histogram", .proc = latency_histogram_command, .arity = -2, .flags = "admin noscript loading stale", DOC(NULL, "7.0.0", "Returns the cumulative distribution of latencies of a subset or all commands.", "O(N) where N is the number of commands with latency information being retrieved."), .syntax = "[command [command ...]]"},
    {.name = "history", .proc = latency_history_command, .arity = 3, .flags = "admin noscript loading stale", DOC(NULL, "2.8.13", "Returns timestamp-latency samples for an event.", "O(1)"), .syntax = "event"},
    {.name = "latest", .proc = latency_latest_command, .arity = 2, .flags = "admin noscript loading stale", DOC(NULL, "2.8.13", "Returns the latest latency samples for all events.", "O(1)"), .syntax = ""},
    {.name = "reset", .proc = latency_reset_command, .arity = -2, .flags = "admin noscript loading stale", DOC(NULL, "2.8.13", "Resets the latency data for one or more events.", "O(1)"), .syntax = "[event [event ...]]"},
    {.name = "help", .proc = latency_help_command, .arity = 2, .flags = "loading stale", DOC(NULL, "2.8.13", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

static command pubsub_subs[] = {
    {.name = "channels", .proc = pubsub_channels_command, .arity = -2, .flags = "pubsub loading stale", DOC(NULL, "2.8.0", "Returns the active channels.", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"), .syntax = "[pattern]"},
    {.name = "numsub", .proc = pubsub_numsub_command, .arity = -2, .flags = "pubsub loading stale", DOC(NULL, "2.8.0", "Returns a count of subscribers to channels.", "O(N) for the NUMSUB subcommand, where N is the number of requested channels"), .syntax = "[channel [channel ...]]"},
    {.name = "numpat", .proc = pubsub_numpat_command, .arity = 2, .flags = "pubsub loading stale", DOC(NULL, "2.8.0", "Returns a count of unique pattern subscriptions.", "O(1)"), .syntax = ""},
    {.name = "shardchannels", .proc = pubsub_shardchannels_command, .arity = -2, .flags = "pubsub loading stale", DOC(NULL, "7.0.0", "Returns the active shard channels.", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."), .syntax = "[pattern]"},
    {.name = "shardnumsub", .proc = pubsub_shardnumsub_command, .arity = -2, .flags = "pubsub loading stale", DOC(NULL, "7.0.0", "Returns the count of subscribers of shard channels.", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"), .syntax = "[shardchannel [shardchannel ...]]"},
    {.name = "help", .proc = pubsub_help_command, .arity = 2, .flags = "loading stale", DOC(NULL, "6.2.0", "Returns helpful text about the different subcommands.", "O(1)"), .syntax = ""},
    END};

/* ---- the table ------------------------------------------------------------------------ */

command command_table[] = {
    /* connection */
    {.name = "ping", .proc = ping_command, .arity = -1, .flags = "fast sentinel", .acl = "@connection", DOC("connection", "1.0.0", "Returns the server's liveliness response.", "O(1)"), .syntax = "[message]"},
    {.name = "echo", .proc = echo_command, .arity = 2, .flags = "fast", .acl = "@connection", DOC("connection", "1.0.0", "Returns the given string.", "O(1)"), .syntax = "message"},
    {.name = "select", .proc = select_command, .arity = 2, .flags = "loading stale fast", .acl = "@connection", DOC("connection", "1.0.0", "Changes the selected database.", "O(1)"), .syntax = "index"},
    {.name = "quit", .proc = quit_command, .arity = -1, .flags = "allow_busy noscript loading stale fast no_auth", .acl = "@connection", DOC("connection", "1.0.0", "Closes the connection.", "O(1)"), .syntax = ""},
    {.name = "reset", .proc = reset_command, .arity = 1, .flags = "noscript loading stale fast no_auth allow_busy", .acl = "@connection", DOC("connection", "6.2.0", "Resets the connection.", "O(1)"), .syntax = ""},
    {.name = "hello", .proc = hello_command, .arity = -1, .flags = "noscript loading stale fast no_auth sentinel allow_busy", .acl = "@connection", DOC("connection", "6.0.0", "Handshakes with the Redis server.", "O(1)"), .syntax = "[protover [AUTH username password] [SETNAME clientname]]"},
    {.name = "auth", .proc = auth_command, .arity = -2, .flags = "noscript loading stale fast no_auth sentinel allow_busy", .acl = "@connection", DOC("connection", "1.0.0", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user"), .syntax = "[username] password"},
    {.name = "client", .proc = client_command, .arity = -2, .flags = "", .subcommands = client_subs, DOC("connection", "2.4.0", "A container for client connection commands.", "Depends on subcommand."), .syntax = ""},

    /* server */
    {.name = "dbsize", .proc = dbsize_command, .arity = 1, .flags = "readonly fast", .acl = "@keyspace", DOC("server", "1.0.0", "Returns the number of keys in the database.", "O(1)"), .syntax = ""},
    {.name = "flushdb", .proc = flushdb_command, .arity = -1, .flags = "write", .acl = "@keyspace @dangerous", DOC("server", "1.0.0", "Removes all keys from the current database.", "O(N) where N is the number of keys in the selected database"), .syntax = "[ASYNC | SYNC]"},
    {.name = "flushall", .proc = flushall_command, .arity = -1, .flags = "write", .acl = "@keyspace @dangerous", DOC("server", "1.0.0", "Removes all keys from all databases.", "O(N) where N is the total number of keys in all databases"), .syntax = "[ASYNC | SYNC]"},
    {.name = "swapdb", .proc = swapdb_command, .arity = 3, .flags = "write fast", .acl = "@keyspace @dangerous", DOC("server", "4.0.0", "Swaps two Redis databases.", "O(N) where N is the count of clients watching or blocking on keys from both databases."), .syntax = "index1 index2"},
    {.name = "time", .proc = time_command, .arity = 1, .flags = "loading stale fast", DOC("server", "2.6.0", "Returns the server time.", "O(1)"), .syntax = ""},
    {.name = "lastsave", .proc = lastsave_command, .arity = 1, .flags = "loading stale fast", .acl = "@admin @dangerous", DOC("server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", "O(1)"), .syntax = ""},
    {.name = "info", .proc = info_command, .arity = -1, .flags = "loading stale sentinel", .acl = "@dangerous", DOC("server", "1.0.0", "Returns information and statistics about the server.", "O(1)"), .syntax = "[section [section ...]]"},
    {.name = "shutdown", .proc = shutdown_command, .arity = -1, .flags = "admin noscript loading stale no_multi sentinel allow_busy", DOC("server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"), .syntax = "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"},
    {.name = "wait", .proc = wait_command, .arity = 3, .flags = "", .acl = "@slow @connection", DOC("generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "O(1)"), .syntax = "numreplicas timeout"},
    {.name = "role", .proc = role_command, .arity = 1, .flags = "noscript loading stale fast sentinel", .acl = "@admin @dangerous", DOC("server", "2.8.12", "Returns the replication role.", "O(1)"), .syntax = ""},
    {.name = "lolwut", .proc = lolwut_command, .arity = -1, .flags = "readonly fast", DOC("server", "5.0.0", "Displays computer art and the Redis version", "O(1)"), .syntax = "[VERSION version]"},
    {.name = "command", .proc = command_command, .arity = -1, .flags = "loading stale sentinel", .acl = "@connection", .subcommands = command_subs, DOC("server", "2.8.13", "Returns detailed information about all commands.", "O(N) where N is the total number of Redis commands"), .syntax = ""},
    {.name = "config", .proc = client_command, .arity = -2, .flags = "", .subcommands = config_subs, DOC("server", "2.0.0", "A container for server configuration commands.", "Depends on subcommand."), .syntax = ""},
    {.name = "memory", .proc = client_command, .arity = -2, .flags = "", .subcommands = memory_subs, DOC("server", "4.0.0", "A container for memory diagnostics commands.", "Depends on subcommand."), .syntax = ""},
    {.name = "object", .proc = client_command, .arity = -2, .flags = "", .subcommands = object_subs, DOC("generic", "2.2.3", "A container for object introspection commands.", "Depends on subcommand."), .syntax = ""},
    {.name = "slowlog", .proc = client_command, .arity = -2, .flags = "", .subcommands = slowlog_subs, DOC("server", "2.2.12", "A container for slow log commands.", "Depends on subcommand."), .syntax = ""},
    {.name = "function", .proc = client_command, .arity = -2, .flags = "", .subcommands = function_subs, DOC("scripting", "7.0.0", "A container for function commands.", "Depends on subcommand."), .syntax = ""},
    {.name = "latency", .proc = client_command, .arity = -2, .flags = "", .subcommands = latency_subs, DOC("server", "2.8.13", "A container for latency diagnostics commands.", "Depends on subcommand."), .syntax = ""},
    {.name = "debug", .proc = debug_command, .arity = -2, .flags = "admin noscript loading stale", DOC("server", "1.0.0", "A container for debugging commands.", "Depends on subcommand."), .syntax = "subcommand [arg [arg ...]]"},

    /* strings */
    {.name = "get", .proc = get_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@string", DOC("string", "1.0.0", "Returns the string value of a key.", "O(1)"), .syntax = "key"},
    {.name = "set", .proc = set_command, .arity = -3, .flags = "write denyoom", K1, .acl = "@string", DOC("string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)"), .syntax = "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"},
    {.name = "setnx", .proc = setnx_command, .arity = 3, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", "O(1)"), .syntax = "key value"},
    {.name = "setex", .proc = setex_command, .arity = 4, .flags = "write denyoom", K1, .acl = "@string", DOC("string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "O(1)"), .syntax = "key seconds value"},
    {.name = "psetex", .proc = psetex_command, .arity = 4, .flags = "write denyoom", K1, .acl = "@string", DOC("string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "O(1)"), .syntax = "key milliseconds value"},
    {.name = "getdel", .proc = getdel_command, .arity = 2, .flags = "write fast", K1, .acl = "@string", DOC("string", "6.2.0", "Returns the string value of a key after deleting the key.", "O(1)"), .syntax = "key"},
    {.name = "getex", .proc = getex_command, .arity = -2, .flags = "write fast", K1, .acl = "@string", DOC("string", "6.2.0", "Returns the string value of a key after setting its expiration time.", "O(1)"), .syntax = "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"},
    {.name = "getset", .proc = getset_command, .arity = 3, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "O(1)"), .syntax = "key value"},
    {.name = "mget", .proc = mget_command, .arity = -2, .flags = "readonly fast", KEYS(1, -1, 1), .acl = "@string", DOC("string", "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve."), .syntax = "key [key ...]"},
    {.name = "mset", .proc = mset_command, .arity = -3, .flags = "write denyoom", KEYS(1, -1, 2), .acl = "@string", DOC("string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set."), .syntax = "key value [key value ...]"},
    {.name = "msetnx", .proc = msetnx_command, .arity = -3, .flags = "write denyoom", KEYS(1, -1, 2), .acl = "@string", DOC("string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set."), .syntax = "key value [key value ...]"},
    {.name = "incr", .proc = incr_command, .arity = 2, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"), .syntax = "key"},
    {.name = "decr", .proc = decr_command, .arity = 2, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"), .syntax = "key"},
    {.name = "incrby", .proc = incrby_command, .arity = 3, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"), .syntax = "key increment"},
    {.name = "decrby", .proc = decrby_command, .arity = 3, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "O(1)"), .syntax = "key decrement"},
    {.name = "incrbyfloat", .proc = incrbyfloat_command, .arity = 3, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"), .syntax = "key increment"},
    {.name = "append", .proc = append_command, .arity = 3, .flags = "write denyoom fast", K1, .acl = "@string", DOC("string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."), .syntax = "key value"},
    {.name = "strlen", .proc = strlen_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@string", DOC("string", "2.2.0", "Returns the length of a string value.", "O(1)"), .syntax = "key"},
    {.name = "getrange", .proc = getrange_command, .arity = 4, .flags = "readonly", K1, .acl = "@string", DOC("string", "2.4.0", "Returns a substring of the string stored at a key.", "O(N) where N is the length of the returned string."), .syntax = "key start end"},
    {.name = "substr", .proc = getrange_command, .arity = 4, .flags = "readonly", K1, .acl = "@string", DOC("string", "1.0.0", "Returns a substring from a string value.", "O(N) where N is the length of the returned string."), .syntax = "key start end"},
    {.name = "setrange", .proc = setrange_command, .arity = 4, .flags = "write denyoom", K1, .acl = "@string", DOC("string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "O(1), not counting the time taken to copy the new string in place."), .syntax = "key offset value"},
    {.name = "lcs", .proc = lcs_command, .arity = -3, .flags = "readonly", KEYS(1, 1, 1), .getkeys = getkeys_lcs, .acl = "@string", DOC("string", "7.0.0", "Finds the longest common substring.", "O(N*M) where N and M are the lengths of s1 and s2, respectively"), .syntax = "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"},

    /* bitmaps */
    {.name = "setbit", .proc = setbit_command, .arity = 4, .flags = "write denyoom", K1, .acl = "@bitmap", DOC("bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "O(1)"), .syntax = "key offset value"},
    {.name = "getbit", .proc = getbit_command, .arity = 3, .flags = "readonly fast", K1, .acl = "@bitmap", DOC("bitmap", "2.2.0", "Returns a bit value by offset.", "O(1)"), .syntax = "key offset"},
    {.name = "bitcount", .proc = bitcount_command, .arity = -2, .flags = "readonly", K1, .acl = "@bitmap", DOC("bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string.", "O(N)"), .syntax = "key [start end [BYTE | BIT]]"},
    {.name = "bitpos", .proc = bitpos_command, .arity = -3, .flags = "readonly", K1, .acl = "@bitmap", DOC("bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", "O(N)"), .syntax = "key bit [start [end [BYTE | BIT]]]"},
    {.name = "bitop", .proc = bitop_command, .arity = -4, .flags = "write denyoom", KEYS(2, -1, 1), .acl = "@bitmap", DOC("bitmap", "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", "O(N)"), .syntax = "(AND | OR | XOR | NOT) destkey key [key ...]"},
    {.name = "bitfield", .proc = bitfield_command, .arity = -2, .flags = "write denyoom", K1, .acl = "@bitmap", DOC("bitmap", "3.2.0", "Performs arbitrary bitfield integer operations on strings.", "O(1) for each subcommand specified"), .syntax = "key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value | INCRBY encoding offset increment [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value | INCRBY encoding offset increment ...]]"},
    {.name = "bitfield_ro", .proc = bitfield_ro_command, .arity = -2, .flags = "readonly fast", K1, .acl = "@bitmap", DOC("bitmap", "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings.", "O(1) for each subcommand specified"), .syntax = "key [GET encoding offset [GET encoding offset ...]]"},

    /* keyspace */
    {.name = "del", .proc = del_command, .arity = -2, .flags = "write", KEYS(1, -1, 1), .acl = "@keyspace", DOC("generic", "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed."), .syntax = "key [key ...]"},
    {.name = "unlink", .proc = unlink_command, .arity = -2, .flags = "write fast", KEYS(1, -1, 1), .acl = "@keyspace", DOC("generic", "4.0.0", "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size."), .syntax = "key [key ...]"},
    {.name = "exists", .proc = exists_command, .arity = -2, .flags = "readonly fast", KEYS(1, -1, 1), .acl = "@keyspace", DOC("generic", "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check."), .syntax = "key [key ...]"},
    {.name = "type", .proc = type_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@keyspace", DOC("generic", "1.0.0", "Determines the type of value stored at a key.", "O(1)"), .syntax = "key"},
    {.name = "keys", .proc = keys_command, .arity = 2, .flags = "readonly", .acl = "@keyspace @dangerous", DOC("generic", "1.0.0", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database"), .syntax = "pattern"},
    {.name = "scan", .proc = scan_command, .arity = -2, .flags = "readonly", .acl = "@keyspace", DOC("generic", "2.8.0", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration."), .syntax = "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
    {.name = "rename", .proc = rename_command, .arity = 3, .flags = "write", KEYS(1, 2, 1), .acl = "@keyspace", DOC("generic", "1.0.0", "Renames a key and overwrites the destination.", "O(1)"), .syntax = "key newkey"},
    {.name = "renamenx", .proc = renamenx_command, .arity = 3, .flags = "write fast", KEYS(1, 2, 1), .acl = "@keyspace", DOC("generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", "O(1)"), .syntax = "key newkey"},
    {.name = "randomkey", .proc = randomkey_command, .arity = 1, .flags = "readonly", .acl = "@keyspace", DOC("generic", "1.0.0", "Returns a random key name from the database.", "O(1)"), .syntax = ""},
    {.name = "touch", .proc = touch_command, .arity = -2, .flags = "readonly fast", KEYS(1, -1, 1), .acl = "@keyspace", DOC("generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "O(N) where N is the number of keys that will be touched."), .syntax = "key [key ...]"},
    {.name = "copy", .proc = copy_command, .arity = -3, .flags = "write denyoom", KEYS(1, 2, 1), .acl = "@keyspace", DOC("generic", "6.2.0", "Copies the value of a key to a new key.", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."), .syntax = "source destination [DB destination-db] [REPLACE]"},
    {.name = "move", .proc = move_command, .arity = 3, .flags = "write fast", K1, .acl = "@keyspace", DOC("generic", "1.0.0", "Moves a key to another database.", "O(1)"), .syntax = "key db"},
    {.name = "dump", .proc = dump_command, .arity = 2, .flags = "readonly", K1, .acl = "@keyspace", DOC("generic", "2.6.0", "Returns a serialized representation of the value stored at a key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size."), .syntax = "key"},
    {.name = "restore", .proc = restore_command, .arity = -4, .flags = "write denyoom", K1, .acl = "@keyspace @dangerous", DOC("generic", "2.6.0", "Creates a key from the serialized representation of a value.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value."), .syntax = "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"},
    {.name = "expire", .proc = expire_command, .arity = -3, .flags = "write fast", K1, .acl = "@keyspace", DOC("generic", "1.0.0", "Sets the expiration time of a key in seconds.", "O(1)"), .syntax = "key seconds [NX | XX | GT | LT]"},
    {.name = "pexpire", .proc = pexpire_command, .arity = -3, .flags = "write fast", K1, .acl = "@keyspace", DOC("generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", "O(1)"), .syntax = "key milliseconds [NX | XX | GT | LT]"},
    {.name = "expireat", .proc = expireat_command, .arity = -3, .flags = "write fast", K1, .acl = "@keyspace", DOC("generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "O(1)"), .syntax = "key unix-time-seconds [NX | XX | GT | LT]"},
    {.name = "pexpireat", .proc = pexpireat_command, .arity = -3, .flags = "write fast", K1, .acl = "@keyspace", DOC("generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)"), .syntax = "key unix-time-milliseconds [NX | XX | GT | LT]"},
    {.name = "ttl", .proc = ttl_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@keyspace", DOC("generic", "1.0.0", "Returns the expiration time in seconds of a key.", "O(1)"), .syntax = "key"},
    {.name = "pttl", .proc = pttl_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@keyspace", DOC("generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", "O(1)"), .syntax = "key"},
    {.name = "expiretime", .proc = expiretime_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@keyspace", DOC("generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "O(1)"), .syntax = "key"},
    {.name = "pexpiretime", .proc = pexpiretime_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@keyspace", DOC("generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)"), .syntax = "key"},
    {.name = "persist", .proc = persist_command, .arity = 2, .flags = "write fast", K1, .acl = "@keyspace", DOC("generic", "2.2.0", "Removes the expiration time of a key.", "O(1)"), .syntax = "key"},

    /* transactions */
    {.name = "multi", .proc = multi_command, .arity = 1, .flags = "noscript loading stale fast allow_busy", .acl = "@transaction", DOC("transactions", "1.2.0", "Starts a transaction.", "O(1)"), .syntax = ""},
    {.name = "exec", .proc = exec_command, .arity = 1, .flags = "noscript loading stale skip_slowlog", .acl = "@transaction", DOC("transactions", "1.2.0", "Executes all commands in a transaction.", "Depends on commands in the transaction"), .syntax = ""},
    {.name = "discard", .proc = discard_command, .arity = 1, .flags = "noscript loading stale fast allow_busy", .acl = "@transaction", DOC("transactions", "2.0.0", "Discards a transaction.", "O(N), when N is the number of queued commands"), .syntax = ""},
    {.name = "watch", .proc = watch_command, .arity = -2, .flags = "noscript loading stale fast allow_busy", KEYS(1, -1, 1), .acl = "@transaction", DOC("transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", "O(1) for every key."), .syntax = "key [key ...]"},
    {.name = "unwatch", .proc = unwatch_command, .arity = 1, .flags = "noscript loading stale fast allow_busy", .acl = "@transaction", DOC("transactions", "2.2.0", "Forgets about watched keys of a transaction.", "O(1)"), .syntax = ""},

    /* pub/sub */
    {.name = "publish", .proc = publish_command, .arity = 3, .flags = "pubsub loading stale fast may_replicate sentinel", DOC("pubsub", "2.0.0", "Posts a message to a channel.", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."), .syntax = "channel message"},
    {.name = "subscribe", .proc = subscribe_command, .arity = -2, .flags = "pubsub noscript loading stale sentinel", DOC("pubsub", "2.0.0", "Listens for messages published to channels.", "O(N) where N is the number of channels to subscribe to."), .syntax = "channel [channel ...]"},
    {.name = "unsubscribe", .proc = unsubscribe_command, .arity = -1, .flags = "pubsub noscript loading stale sentinel", DOC("pubsub", "2.0.0", "Stops listening to messages posted to channels.", "O(N) where N is the number of clients already subscribed to a channel."), .syntax = "[channel [channel ...]]"},
    {.name = "psubscribe", .proc = psubscribe_command, .arity = -2, .flags = "pubsub noscript loading stale sentinel", DOC("pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns the client is already subscribed to."), .syntax = "pattern [pattern ...]"},
    {.name = "punsubscribe", .proc = punsubscribe_command, .arity = -1, .flags = "pubsub noscript loading stale sentinel", DOC("pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."), .syntax = "[pattern [pattern ...]]"},
    {.name = "ssubscribe", .proc = ssubscribe_command, .arity = -2, .flags = "pubsub noscript loading stale", KEYS(1, -1, 1), DOC("pubsub", "7.0.0", "Listens for messages published to shard channels.", "O(N) where N is the number of shard channels to subscribe to."), .syntax = "shardchannel [shardchannel ...]"},
    {.name = "sunsubscribe", .proc = sunsubscribe_command, .arity = -1, .flags = "pubsub noscript loading stale", KEYS(1, -1, 1), DOC("pubsub", "7.0.0", "Stops listening to messages posted to shard channels.", "O(N) where N is the number of clients already subscribed to a shard channel."), .syntax = "[shardchannel [shardchannel ...]]"},
    {.name = "spublish", .proc = spublish_command, .arity = 3, .flags = "pubsub loading stale fast may_replicate", K1, DOC("pubsub", "7.0.0", "Post a message to a shard channel", "O(N) where N is the number of clients subscribed to the receiving shard channel."), .syntax = "shardchannel message"},
    {.name = "pubsub", .proc = client_command, .arity = -2, .flags = "", .subcommands = pubsub_subs, DOC("pubsub", "2.8.0", "A container for Pub/Sub commands.", "Depends on subcommand."), .syntax = ""},

    /* ---- hashes (issue 3) ---- */
    {.name = "hdel", .proc = hdel_command, .arity = -3, .flags = "write fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Delete one or more hash fields", "O(N) where N is the number of fields to be removed."), .syntax = "key field [field ...]"},
    {.name = "hexists", .proc = hexists_command, .arity = 3, .flags = "readonly fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Determine if a hash field exists", "O(1)"), .syntax = "key field"},
    {.name = "hget", .proc = hget_command, .arity = 3, .flags = "readonly fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Get the value of a hash field", "O(1)"), .syntax = "key field"},
    {.name = "hgetall", .proc = hgetall_command, .arity = 2, .flags = "readonly", K1, .acl = "@hash", DOC("hash", "2.0.0", "Get all the fields and values in a hash", "O(N) where N is the size of the hash."), .syntax = "key"},
    {.name = "hincrby", .proc = hincrby_command, .arity = 4, .flags = "write denyoom fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Increment the integer value of a hash field by the given number", "O(1)"), .syntax = "key field increment"},
    {.name = "hincrbyfloat", .proc = hincrbyfloat_command, .arity = 4, .flags = "write denyoom fast", K1, .acl = "@hash", DOC("hash", "2.6.0", "Increment the float value of a hash field by the given amount", "O(1)"), .syntax = "key field increment"},
    {.name = "hkeys", .proc = hkeys_command, .arity = 2, .flags = "readonly", K1, .acl = "@hash", DOC("hash", "2.0.0", "Get all the fields in a hash", "O(N) where N is the size of the hash."), .syntax = "key"},
    {.name = "hlen", .proc = hlen_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Get the number of fields in a hash", "O(1)"), .syntax = "key"},
    {.name = "hmget", .proc = hmget_command, .arity = -3, .flags = "readonly fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Get the values of all the given hash fields", "O(N) where N is the number of fields being requested."), .syntax = "key field [field ...]"},
    {.name = "hmset", .proc = hmset_command, .arity = -4, .flags = "write denyoom fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Set multiple hash fields to multiple values", "O(N) where N is the number of fields being set."), .syntax = "key field value [field value ...]"},
    {.name = "hrandfield", .proc = hrandfield_command, .arity = -2, .flags = "readonly", K1, .acl = "@hash", DOC("hash", "6.2.0", "Get one or multiple random fields from a hash", "O(N) where N is the number of fields returned"), .syntax = "key [count [WITHVALUES]]"},
    {.name = "hscan", .proc = hscan_command, .arity = -3, .flags = "readonly", K1, .acl = "@hash", DOC("hash", "2.8.0", "Incrementally iterate hash fields and associated values", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."), .syntax = "key cursor [MATCH pattern] [COUNT count]"},
    {.name = "hset", .proc = hset_command, .arity = -4, .flags = "write denyoom fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Set the string value of a hash field", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."), .syntax = "key field value [field value ...]"},
    {.name = "hsetnx", .proc = hsetnx_command, .arity = 4, .flags = "write denyoom fast", K1, .acl = "@hash", DOC("hash", "2.0.0", "Set the value of a hash field, only if the field does not exist", "O(1)"), .syntax = "key field value"},
    {.name = "hstrlen", .proc = hstrlen_command, .arity = 3, .flags = "readonly fast", K1, .acl = "@hash", DOC("hash", "3.2.0", "Get the length of the value of a hash field", "O(1)"), .syntax = "key field"},
    {.name = "hvals", .proc = hvals_command, .arity = 2, .flags = "readonly", K1, .acl = "@hash", DOC("hash", "2.0.0", "Get all the values in a hash", "O(N) where N is the size of the hash."), .syntax = "key"},

    /* ---- sets (issue 3) ---- */
    {.name = "sadd", .proc = sadd_command, .arity = -3, .flags = "write denyoom fast", K1, .acl = "@set", DOC("set", "1.0.0", "Add one or more members to a set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."), .syntax = "key member [member ...]"},
    {.name = "scard", .proc = scard_command, .arity = 2, .flags = "readonly fast", K1, .acl = "@set", DOC("set", "1.0.0", "Get the number of members in a set", "O(1)"), .syntax = "key"},
    {.name = "sdiff", .proc = sdiff_command, .arity = -2, .flags = "readonly", KEYS(1, -1, 1), .acl = "@set", DOC("set", "1.0.0", "Subtract multiple sets", "O(N) where N is the total number of elements in all given sets."), .syntax = "key [key ...]"},
    {.name = "sdiffstore", .proc = sdiffstore_command, .arity = -3, .flags = "write denyoom", KEYS(1, -1, 1), .acl = "@set", DOC("set", "1.0.0", "Subtract multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."), .syntax = "destination key [key ...]"},
    {.name = "sinter", .proc = sinter_command, .arity = -2, .flags = "readonly", KEYS(1, -1, 1), .acl = "@set", DOC("set", "1.0.0", "Intersect multiple sets", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."), .syntax = "key [key ...]"},
    {.name = "sintercard", .proc = sintercard_command, .arity = -3, .flags = "readonly", KEYS(2, 2, 1), .getkeys = getkeys_sintercard, .acl = "@set", DOC("set", "7.0.0", "Intersect multiple sets and return the cardinality of the result", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."), .syntax = "numkeys key [key ...] [LIMIT limit]"},
    {.name = "sinterstore", .proc = sinterstore_command, .arity = -3, .flags = "write denyoom", KEYS(1, -1, 1), .acl = "@set", DOC("set", "1.0.0", "Intersect multiple sets and store the resulting set in a key", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."), .syntax = "destination key [key ...]"},
    {.name = "sismember", .proc = sismember_command, .arity = 3, .flags = "readonly fast", K1, .acl = "@set", DOC("set", "1.0.0", "Determine if a given value is a member of a set", "O(1)"), .syntax = "key member"},
    {.name = "smembers", .proc = smembers_command, .arity = 2, .flags = "readonly", K1, .acl = "@set", DOC("set", "1.0.0", "Get all the members in a set", "O(N) where N is the set cardinality."), .syntax = "key"},
    {.name = "smismember", .proc = smismember_command, .arity = -3, .flags = "readonly fast", K1, .acl = "@set", DOC("set", "6.2.0", "Returns the membership associated with the given elements for a set", "O(N) where N is the number of elements being checked for membership"), .syntax = "key member [member ...]"},
    {.name = "smove", .proc = smove_command, .arity = 4, .flags = "write fast", KEYS(1, 2, 1), .acl = "@set", DOC("set", "1.0.0", "Move a member from one set to another", "O(1)"), .syntax = "source destination member"},
    {.name = "spop", .proc = spop_command, .arity = -2, .flags = "write fast", K1, .acl = "@set", DOC("set", "1.0.0", "Remove and return one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."), .syntax = "key [count]"},
    {.name = "srandmember", .proc = srandmember_command, .arity = -2, .flags = "readonly", K1, .acl = "@set", DOC("set", "1.0.0", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."), .syntax = "key [count]"},
    {.name = "srem", .proc = srem_command, .arity = -3, .flags = "write fast", K1, .acl = "@set", DOC("set", "1.0.0", "Remove one or more members from a set", "O(N) where N is the number of members to be removed."), .syntax = "key member [member ...]"},
    {.name = "sscan", .proc = sscan_command, .arity = -3, .flags = "readonly", K1, .acl = "@set", DOC("set", "2.8.0", "Incrementally iterate Set elements", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."), .syntax = "key cursor [MATCH pattern] [COUNT count]"},
    {.name = "sunion", .proc = sunion_command, .arity = -2, .flags = "readonly", KEYS(1, -1, 1), .acl = "@set", DOC("set", "1.0.0", "Add multiple sets", "O(N) where N is the total number of elements in all given sets."), .syntax = "key [key ...]"},
    {.name = "sunionstore", .proc = sunionstore_command, .arity = -3, .flags = "write denyoom", KEYS(1, -1, 1), .acl = "@set", DOC("set", "1.0.0", "Add multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."), .syntax = "destination key [key ...]"},

    /* ---- lists and SORT (issue 3) ---- */

    /* ---- sorted sets (issue 3) ---- */

    /* ---- scripting and locks (issue 7) ---- */

    /* ---- persistence, SQL, cache helpers (issue 6) ---- */
    {.name = "sql.query", .proc = sql_query_command, .arity = -2, .flags = "readonly noscript store", DOC("larder", "0.1.0", "Runs a read-only SQL statement on the store; rows as arrays (RESP3: maps).", "Depends on the statement"), .syntax = "sql [arg [arg ...]]"},
    {.name = "sql.exec", .proc = sql_exec_command, .arity = -2, .flags = "write noscript store", DOC("larder", "0.1.0", "Runs an SQL statement on the store and invalidates the cached keys of the rows it changes.", "Depends on the statement"), .syntax = "sql [arg [arg ...]]"},
    {.name = "wb.flush", .proc = wb_flush_command, .arity = 1, .flags = "admin noscript store", DOC("larder", "0.1.0", "Writes every pending write-behind key to the store and replies when done.", "O(N) where N is the number of pending keys"), .syntax = ""},
    {.name = "wb.deadletter", .proc = wb_deadletter_command, .arity = -2, .flags = "admin noscript store", DOC("larder", "0.1.0", "Lists, retries or drops rows the store refused for good.", "O(N)"), .syntax = "(LIST [count] | RETRY id | DROP id)"},
    {.name = "cache.get", .proc = cache_get_command, .arity = -2, .flags = "write fast", K1, .acl = "@string", DOC("larder", "0.1.0", "Gets a value, its remaining TTL and, to one caller at a time, a refresh lease (on a miss or an XFetch early refresh).", "O(1)"), .syntax = "key [BETA beta]"},
    {.name = "cache.set", .proc = cache_set_command, .arity = -5, .flags = "write denyoom", K1, .acl = "@string", DOC("larder", "0.1.0", "Sets a value with a TTL and its recompute cost; with TOKEN only while that lease is current.", "O(1)"), .syntax = "key value PX milliseconds [DELTA milliseconds] [TOKEN token]"},

    END};
