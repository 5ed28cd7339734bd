/* Bad input to the persistence layer: bad map specs at start-up
 * (unknown table or column, key column not the primary key, numeric column
 * for a string map, bad syntax) and through CONFIG SET map; a missing or
 * failing store module; a bad journal. Start-up errors must stop the server
 * with one clear line; CONFIG SET errors must leave the mappings as they
 * were. */
#include "pkit.h"
#include "pgkit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Runs larder-server with args and waits for it to exit (10 s at most);
 * returns its exit status (-1 if it had to be killed: it started) and its
 * output in out. */
static int run_server(const char *const *args, char *out, size_t outsz) {
    int pfd[2];
    if (pipe(pfd) != 0) return -2;
    const char *argv[64];
    int n = 0;
    char port[16];
    snprintf(port, sizeof(port), "%d", free_port());
    argv[n++] = larder_server_path();
    argv[n++] = "--port";
    argv[n++] = port;
    for (int i = 0; args[i] && n < 62; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t used = 0;
    out[0] = '\0';
    double end = pk_now_ms() + 10000;
    int exited = 0; /* the output ended: the process is exiting */
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        int left = (int)(end - pk_now_ms());
        if (left <= 0) break;
        if (poll(&p, 1, left) <= 0) continue;
        ssize_t r = read(pfd[0], out + used, outsz - used - 1);
        if (r <= 0) {
            exited = 1;
            break;
        }
        used += (size_t)r;
        out[used] = '\0';
        if (strstr(out, "Ready to accept connections")) break;
    }
    close(pfd[0]);
    int st;
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The server refuses to start with args, saying want (on a "larder: " line). */
static void expect_start_error(const char *const *args, const char *want) {
    char out[8192];
    int rc = run_server(args, out, sizeof(out));
    /* the line saying it: "larder: ..." for errors found at start, the
     * config file error block for directives that do not parse */
    char line[512] = "";
    const char *p = strstr(out, want);
    if (p) {
        while (p > out && p[-1] != '\n') p--;
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof(line), "%.*s", (int)n, p);
    }
    int ok = rc > 0 && p != NULL;
    if (!ok)
        fprintf(stderr, "expected a start-up error with \"%s\"; exit %d, output:\n%s\n", want, rc,
                out);
    else
        printf("  %s\n", line);
    CHECK(ok);
}

static pk_env env; /* a store with the tables, made once */

static void make_store(void) {
    memset(&env, 0, sizeof(env));
    if (pk_start(&env, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&env.s);
    pk_exec(c, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER, score REAL)");
    pk_exec(c, "CREATE TABLE pairs (a INTEGER, b INTEGER, v TEXT, PRIMARY KEY (a, b))");
    pk_exec(c, "CREATE TABLE byname (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v TEXT)");
    redisFree(c);
    pk_stop(&env);
}

TEST(start_bad_maps) {
#define WITH_MAP(spec, want)                                                                       \
    do {                                                                                           \
        const char *a[16];                                                                         \
        int n_ = pk_store_args(a, &env);                                                           \
        a[n_++] = "--map";                                                                         \
        a[n_++] = spec;                                                                            \
        a[n_] = NULL;                                                                              \
        expect_start_error(a, want);                                                               \
    } while (0)
    WITH_MAP("nope nope:{id} mode read-through", "map nope: no such table: nope");
    WITH_MAP("users user:{uid} mode read-through", "map users: table users has no column 'uid'");
    WITH_MAP("users user:{name} mode read-through",
             "column users.name must be the table's whole primary key");
    WITH_MAP("pairs pair:{a} mode read-through",
             "column pairs.a must be the table's whole primary key");
    WITH_MAP("byname n:{name} mode read-through",
             "column byname.name must be the table's whole primary key");
    WITH_MAP("users user:{id} mode write-through column age", "column users.age is numeric");
    WITH_MAP("users user:{id} mode write-through column score", "column users.score is numeric");
    WITH_MAP("users user:{id} mode write-through column nope", "table users has no column 'nope'");
    WITH_MAP("users user:{id} mode write-through column id",
             "the value column cannot be the key column");
    WITH_MAP("users user:id mode read-through", "needs a {column} placeholder");
    WITH_MAP("users user:{id}:{x} mode read-through", "table users has no column 'x'");
    WITH_MAP("users user:{id}{x} mode read-through", "placeholders need literal text between them");
    WITH_MAP("users user:{id:x mode read-through", "unclosed or empty {column} placeholder");
    WITH_MAP("users user:{id} mode sometimes", "unknown map mode 'sometimes'");
    WITH_MAP("users user:{id} ttl 5", "map users needs a mode");
    WITH_MAP("users user:{id} mode read-through ttl soon",
             "map ttl 'soon' is not a number of seconds");
    WITH_MAP("users user:{id} mode read-through beta -1",
             "map beta '-1' is not a non-negative number");
    WITH_MAP("users user:{id} mode read-through colour red", "unknown map option 'colour'");
    WITH_MAP("users", "map needs: NAME");
#undef WITH_MAP
}

TEST(start_bad_module) {
    int n;
    const char *a1[] = {"--loadmodule", "/nonexistent/sqlstore.so", NULL};
    expect_start_error(a1, "loadmodule /nonexistent/sqlstore.so: ");
    /* a shared object that is not a store module */
    const char *libm = access("/lib/x86_64-linux-gnu/libm.so.6", R_OK) == 0
                           ? "/lib/x86_64-linux-gnu/libm.so.6"
                           : "/usr/lib/x86_64-linux-gnu/libm.so.6";
    const char *a2[] = {"--loadmodule", libm, NULL};
    expect_start_error(a2, "not a Larder store module");
    /* a module whose store cannot open */
    if (!pk_pg()) {
        const char *a3[] = {"--loadmodule", pk_module_path(), "--store-path",
                            "/nonexistent-dir/x.db", NULL};
        expect_start_error(a3, "store /nonexistent-dir/x.db: cannot open");
    } else { /* TLS required from a server without it: libpq's reason, at start */
        char ci[512];
        /* over TCP: libpq does not use TLS on a Unix socket, whatever sslmode says */
        snprintf(ci, sizeof(ci),
                 "host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=require", pg_port());
        const char *a3[] = {"--loadmodule", pk_module_path(), "--store-conninfo", ci, NULL};
        expect_start_error(a3, "store pgstore: cannot connect to PostgreSQL: connection to server "
                               "at \"127.0.0.1\"");
        expect_start_error(a3, "failed: server does not support SSL, but SSL was required");
        const char *a3b[] = {"--loadmodule", pk_module_path(), "--store-conninfo",
                             "host=/nonexistent-dir port=1", NULL};
        expect_start_error(
            a3b, "store pgstore: cannot connect to PostgreSQL: connection to server on socket "
                 "\"/nonexistent-dir/.s.PGSQL.1\" failed");
    }
    /* a pool the module cannot have, or out of range */
    const char *a7[16];
    n = pk_store_args(a7, &env);
    a7[n++] = "--store-connections";
    a7[n++] = pk_pg() ? "17" : "2";
    a7[n] = NULL;
    expect_start_error(a7, pk_pg() ? "store-connections"
                                   : "store-connections 2: the sqlstore "
                                     "module takes at most 1");
    /* maps without a store */
    const char *a4[] = {"--map", "users user:{id} mode read-through", NULL};
    expect_start_error(a4, "map directives need a store");
    /* a journal that cannot be written, or is not a journal */
    const char *a5[16];
    n = pk_store_args(a5, &env);
    a5[n++] = "--journal-path"; /* the later one wins */
    a5[n++] = "/nonexistent-dir/j";
    a5[n] = NULL;
    expect_start_error(a5, "journal");
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/bad.journal", env.data);
    FILE *f = fopen(bad, "w");
    if (f) {
        fputs("this is not a journal", f);
        fclose(f);
    }
    const char *a6[16];
    n = pk_store_args(a6, &env);
    a6[n++] = "--journal-path";
    a6[n++] = bad;
    a6[n] = NULL;
    expect_start_error(a6, "is not a Larder journal");
}

/* The change-log directives and command with the bundled store, which
 * keeps no log (only this server writes to it). */
TEST(invalidation_without_a_change_log) {
    if (pk_pg()) return; /* the bundled store's answers */
    const char *a1[] = {"--loadmodule",
                        pk_module_path(),
                        "--store-path",
                        env.store,
                        "--journal-path",
                        env.journal,
                        "--map",
                        "users user:{id} mode read-through",
                        "--store-invalidation",
                        "yes",
                        NULL};
    expect_start_error(a1, "store-invalidation yes: the store module sqlstore keeps no change log");
    const char *a2[] = {"--loadmodule", pk_module_path(), "--store-invalidation", "maybe", NULL};
    expect_start_error(a2, "store-invalidation");
    const char *a3[] = {"--loadmodule", pk_module_path(), "--store-invalidation-retention", "-1",
                        NULL};
    expect_start_error(a3, "store-invalidation-retention");
    if (pk_start(&env, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&env.s);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "users user:{id} mode read-through");
    CHECK_CMD(c,
              "-ERR the store module sqlstore keeps no change log (no other process writes to "
              "its store)",
              "STORE.INVALIDATION INSTALL");
    CHECK_CMD(c, "-ERR usage: STORE.INVALIDATION INSTALL", "STORE.INVALIDATION REMOVE");
    CHECK_CMD(c, "-ERR wrong number of arguments for 'store.invalidation' command",
              "STORE.INVALIDATION");
    char *r = cmd_str(c, "INFO persistence");
    CHECK(r && strstr(r, "invalidation:off"));
    free(r);
    CHECK_CMD(c, "[store-invalidation,no]", "CONFIG GET store-invalidation");
    r = cmd_str(c, "CONFIG SET store-invalidation yes");
    CHECK(r && r[0] == '-');
    free(r);
    CHECK_CMD(c, "+OK", "CONFIG SET store-invalidation-retention 60");
    CHECK_CMD(c, "[store-invalidation-retention,60]", "CONFIG GET store-invalidation-retention");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "");
    redisFree(c);
    pk_stop(&env);
}

/* CONFIG SET map: an error names the problem and leaves the old maps. */
TEST(config_set_bad_maps) {
    if (pk_start(&env, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&env.s);
    const char *good = "users user:{id} mode read-through ttl 60";
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", good);
    static const char *bad[][2] = {
        {"nope nope:{id} mode read-through", "map nope: no such table: nope"},
        {"users user:{name} mode read-through", "must be the table's whole primary key"},
        {"users user:{id} mode write-through column age", "is numeric"},
        {"users user:{id} mode read-through; byname x:{zz} mode read-through",
         "map byname: table byname has no column 'zz'"},
        {"users user:{id} mode nope", "unknown map mode 'nope'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReply *r = pk_cmd(c, "CONFIG SET map %s", bad[i][0]);
        int ok = r && r->type == REDIS_REPLY_ERROR && strstr(r->str, bad[i][1]);
        if (!ok)
            fprintf(stderr, "CONFIG SET map %s -> %s\n", bad[i][0], r && r->str ? r->str : "?");
        CHECK(ok);
        if (r) freeReplyObject(r);
    }
    redisReply *r = pk_cmd(c, "CONFIG GET map");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          !strcmp(r->element[1]->str, "users user:{id} mode read-through ttl 60"));
    if (r) freeReplyObject(r);
    /* the maps still work; an empty value removes them all */
    pk_exec(c, "INSERT INTO users (id, name) VALUES (1, 'ann')");
    CHECK_CMD(c, "ann", "HGET user:1 name");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "");
    CHECK_CMD(c, ":0", "EXISTS user:2");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", good);
    /* loadmodule is start-up only: another value is refused; the value it
     * has is accepted as no change (CONFIG GET * output can be set back) */
    r = pk_cmd(c, "CONFIG SET loadmodule %s", "/nonexistent/other.so");
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "can't set immutable config"));
    if (r) freeReplyObject(r);
    r = pk_cmd(c, "CONFIG GET loadmodule");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        char *same = strdup(r->element[1]->str);
        CHECK_CMD(c, "+OK", "CONFIG SET loadmodule %s", same);
        free(same);
    } else {
        CHECK(!"CONFIG GET loadmodule");
    }
    if (r) freeReplyObject(r);
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "name,age,score");
    redisFree(c);
    pk_stop(&env);
}

/* A mapped key holds one shape: other types and non-column fields are
 * refused before the command runs. */
TEST(shape_checks) {
    if (pk_start(&env, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&env.s);
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "users user:{id} mode write-through; byname bn:{id} mode write-behind column v");
    CHECK_CMD(c, "-WRONGTYPE keys of map users hold hashes; 'set' cannot write them",
              "SET user:7 x");
    CHECK_CMD(c, "-WRONGTYPE keys of map byname hold strings; 'hset' cannot write them",
              "HSET bn:1 f v");
    CHECK_CMD(c,
              "-ERR no such column: users.colour (the fields of map users are its table's non-key "
              "columns)",
              "HSET user:7 name ann colour red");
    CHECK_CMD(
        c,
        "-ERR no such column: users.id (the fields of map users are its table's non-key columns)",
        "HSET user:7 id 5");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT * FROM users WHERE id = 7");
    CHECK_CMD(c, ":2", "HSET user:7 name ann age 3");
    CHECK_CMD(c, "+OK", "SET bn:1 v");
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "name,age,score");
    PK_CHECK_MAP(c, "byname", "bn:", "id", "v", NULL);
    redisFree(c);
    pk_stop(&env);
}

/* CONFIG SET map asks the store without stopping the loop: with the store
 * slow, a command that names no key is served at once, one that names a key
 * waits for the new maps, and CONFIG SET's reply comes when they are checked.
 * Another parameter failing in the same CONFIG SET rolls the maps back. */
TEST(config_set_map_parks) {
    if (pk_start(&env, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&env.s), *a = srv_connect(&env.s);
    const char *rt = "users user:{id} mode read-through ttl 60";
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 300");
    pk_send(a, "CONFIG SET map %s", rt);
    CHECK_EQ(pk_wait_info_eq(c, "map_change_pending", 1, 5000), 1);
    CHECK_CMD(c, "+PONG", "PING");
    struct pollfd p = {a->fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 50), 0);
    pk_send(c, "HGET user:1 name"); /* a key: waits, then read-through under the new map */
    char *s = pk_recv_str(a);
    CHECK_STR(s, "+OK");
    free(s);
    s = pk_recv_str(c);
    CHECK_STR(s, "ann");
    free(s);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    CHECK_EQ(pk_info(c, "map_change_pending"), 0);
    redisReply *r = pk_cmd(c, "CONFIG SET map %s maxmemory-policy %s",
                           "users user:{id} mode write-through ttl 60", "nope");
    CHECK(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "maxmemory-policy"));
    if (r) freeReplyObject(r);
    r = pk_cmd(c, "CONFIG GET map");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && !strcmp(r->element[1]->str, rt));
    if (r) freeReplyObject(r);
    CHECK_EQ(pk_info(c, "map_change_pending"), 0);
    CHECK_CMD(c, "ann", "HGET user:1 name");
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "name,age,score");
    redisFree(a);
    redisFree(c);
    pk_stop(&env);
}

int main(void) {
    make_store();
    RUN(start_bad_maps);
    RUN(start_bad_module);
    RUN(config_set_bad_maps);
    RUN(invalidation_without_a_change_log);
    RUN(shape_checks);
    RUN(config_set_map_parks);
    pk_cleanup(&env);
    return test_report();
}
