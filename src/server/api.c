/* server/api — the accessors through which handlers read and change the
 * server's state (server/api.h); the state itself stays in server.h. */
#include "server/server.h"

int64_t server_mstime(void) {
    return server.mstime;
}

void server_add_dirty(long long n) {
    server.dirty += n;
}

db *server_db(int id) {
    return &server.dbs[id];
}

int server_db_count(void) {
    return server.databases;
}

struct ev_loop *server_loop(void) {
    return server.loop;
}

client *server_executing_client(void) {
    return server.executing_client;
}

int server_loading(void) {
    return server.loading;
}

void server_set_loading(int on) {
    server.loading = on;
}

int server_in_script(void) {
    return server.in_script;
}

void server_note_save(void) {
    server.lastsave = server.mstime;
}

long long server_proto_max_bulk_len(void) {
    return server.proto_max_bulk_len;
}

const type_limits *server_type_limits(void) {
    return &server.limits;
}

unsigned long long server_maxmemory(void) {
    return server.maxmemory;
}

int server_log_enabled(int level) {
    return level >= server.verbosity;
}

void server_set_in_script(int on) {
    server.in_script = on;
}

void server_set_script_busy(const char *err) {
    server.script_busy_error = err;
}

long long server_busy_reply_threshold(void) {
    return server.busy_reply_threshold;
}

int server_shutting_down(void) {
    return server.shutdown_asap;
}

void server_count_failed_call(const command *cmd) {
    server.cmdstats[cmd->id].failed_calls++;
}

void server_count_rejected_call(const command *cmd) {
    server.cmdstats[cmd->id].rejected_calls++;
}

void server_error_checkpoint(void) {
    server.stat_error_checkpoint = server.stat_total_error_replies;
}

int64_t server_lastsave(void) {
    return server.lastsave;
}

const char *server_requirepass(void) {
    return server.requirepass;
}

list_head *server_clients(void) {
    return &server.clients;
}

const char *server_configfile(void) {
    return server.configfile;
}

size_t server_peak_memory(void) {
    return server.stat_peak_memory;
}

int server_command_count(void) {
    return server.command_count;
}

void server_set_active_expire(int on) {
    server.active_expire_enabled = on;
}

int server_policy_tracks_access(void) {
    int p = server.maxmemory_policy;
    return p == MAXMEMORY_ALLKEYS_LRU || p == MAXMEMORY_ALLKEYS_LFU ||
           p == MAXMEMORY_VOLATILE_LRU || p == MAXMEMORY_VOLATILE_LFU;
}

void server_request_shutdown(void) {
    server.shutdown_asap = 1;
    ev_break(server.loop, EVBREAK_ALL);
}

long long server_error_replies(void) {
    return server.stat_total_error_replies;
}
