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
