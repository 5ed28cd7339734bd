/* larder-server in front of a real PostgreSQL (pgkit) through
 * build/modules/pgstore.so: every mapping mode, WB.FLUSH, SQL.QUERY and
 * SQL.EXEC with parameters, a write-through PostgreSQL refuses. Ends with
 * "store equals cache after WB.FLUSH" for every mapping.
 *
 * The mapped tables are created in PostgreSQL first; the server creates its
 * own (wb_meta, wb_deadletter) in PostgreSQL's types at start. */
#include "../../modules/pgstore/pgstore.h"
#include "pgkit.h"
#include "persist/store_api.h"
#include "pkit.h"
#include <dlfcn.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE TABLE products (sku text PRIMARY KEY, name text, price numeric(10,2));"
    "INSERT INTO products VALUES ('p1', 'kettle', 24.50);"
    "CREATE TABLE sessions (id text PRIMARY KEY, data text);"
    "CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, "
    "  balance int CHECK (balance >= 0));"
    "INSERT INTO accounts VALUES (1, 'ann', 100);"
    "CREATE TABLE users (id int PRIMARY KEY, name text, plan text, active boolean, "
    "  seen timestamptz);"
    "CREATE TABLE notes (id text PRIMARY KEY, body text);";

/* The invalidation log on the mapped tables, installed through the
 * module's log_install (the server's STORE.INVALIDATION INSTALL does the
 * same). 0 on success. */
static int install_invalidation(void) {
    void *dl = dlopen(pg_module_path(), RTLD_NOW | RTLD_LOCAL);
    store_module_entry_fn entry = dl ? (store_module_entry_fn)dlsym(dl, STORE_MODULE_ENTRY) : NULL;
    const store_module *m = entry ? entry() : NULL;
    if (!m || !m->log_install) return -1;
    const char *argv[] = {pg_conninfo()};
    const char *tables[] = {"products", "sessions", "accounts", "users"};
    void *h = NULL;
    char *err = NULL;
    int rc = m->open(1, argv, &h, &err);
    if (rc == STORE_OK) rc = m->log_install(h, 4, tables, &err);
    if (rc != STORE_OK) fprintf(stderr, "install_invalidation: %s\n", err ? err : "?");
    m->free_error(err);
    if (h) m->close(h);
    dlclose(dl);
    return rc == STORE_OK ? 0 : -1;
}

static srv s;
static char jdir[64] = "/tmp/larder-pgj-XXXXXX";
static char journal[300];

static void remove_journal_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", jdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", jdir);
}

static redisContext *start_server(void) {
    if (!journal[0]) {
        if (!mkdtemp(jdir)) return NULL;
        atexit(remove_journal_dir);
        snprintf(journal, sizeof(journal), "%s/wb.journal", jdir);
    }
    const char *argv[] = {"--loadmodule",
                          pg_module_path(),
                          pg_conninfo(),
                          "--journal-path",
                          journal,
                          "--journal-fsync",
                          "always",
                          "--write-behind-delay-ms",
                          "50",
                          "--map",
                          "products",
                          "product:{sku}",
                          "mode",
                          "read-through",
                          "ttl",
                          "600",
                          "--map",
                          "sessions",
                          "session:{id}",
                          "mode",
                          "write-through",
                          "column",
                          "data",
                          "ttl",
                          "900",
                          "--map",
                          "accounts",
                          "account:{id}",
                          "mode",
                          "write-through",
                          "ttl",
                          "900",
                          "--map",
                          "users",
                          "user:{id}",
                          "mode",
                          "write-behind",
                          "ttl",
                          "3600",
                          "--map",
                          "notes",
                          "note:{id}",
                          "mode",
                          "cache-aside",
                          "column",
                          "body",
                          NULL};
    if (srv_start(&s, argv) != 0) return NULL;
    return srv_connect(&s);
}

TEST(read_through) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "[name,kettle,price,24.50]", "HGETALL product:p1");
    CHECK_CMD(c, "[]", "HGETALL product:nope");
    CHECK_EQ(pg_psql("INSERT INTO products VALUES ('p2', 'mug', 7)"), 0);
    CHECK_CMD(c, "mug", "HGET product:p2 name");
    CHECK_CMD(c, "7.00", "HGET product:p2 price");
    CHECK(pk_info(c, "loads") >= 2);
    redisFree(c);
}

TEST(write_through) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "SET session:s1 hello");
    CHECK_CMD(c, "[[hello]]", "SQL.QUERY %s %s", "SELECT data FROM sessions WHERE id = ?", "s1");
    CHECK_CMD(c, "hello", "GET session:s1");
    CHECK_CMD(c, ":2", "HSET account:2 owner bob balance 5");
    CHECK_CMD(c, "[[bob,:5]]", "SQL.QUERY %s", "SELECT owner, balance FROM accounts WHERE id = 2");
    CHECK_CMD(c, ":0", "HSET account:1 balance 90");
    CHECK_CMD(c, "[[ann,:90]]", "SQL.QUERY %s", "SELECT owner, balance FROM accounts WHERE id = 1");
    /* refused by PostgreSQL: the error, and neither cache nor row change */
    char *r = cmd_str(c, "HSET account:1 balance -5");
    CHECK(r && !strncmp(r, "-BACKEND", 8) && strstr(r, "check constraint"));
    fprintf(stderr, "  (refused write-through: %s)\n", r ? r : "?");
    free(r);
    CHECK_CMD(c, "90", "HGET account:1 balance");
    CHECK_CMD(c, "[[:90]]", "SQL.QUERY %s", "SELECT balance FROM accounts WHERE id = 1");
    r = cmd_str(c, "HSET account:3 balance 1"); /* owner is NOT NULL */
    CHECK(r && !strncmp(r, "-", 1));
    free(r);
    CHECK_CMD(c, ":0", "EXISTS account:3");
    CHECK_CMD(c, ":1", "DEL session:s1");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT data FROM sessions WHERE id = 's1'");
    CHECK_CMD(c, "+OK", "SET session:s2 kept");
    redisFree(c);
}

TEST(write_behind) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    char *r;
    CHECK_CMD(c, ":3", "HSET user:1 name ann plan free active t");
    CHECK_CMD(c, ":3", "HSET user:2 name bob plan pro active f");
    CHECK_CMD(c, ":2", "HSET user:3 name cy seen %s", "2024-05-01 10:00:00+00");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pk_info(c, "wb_pending"), 0);
    CHECK_CMD(c, "[[ann,free,t],[bob,pro,f],[cy,(nil),(nil)]]", "SQL.QUERY %s",
              "SELECT name, plan, active FROM users ORDER BY id");
    CHECK_CMD(c, "[[2024-05-01 10:00:00+00]]", "SQL.QUERY %s",
              "SELECT seen FROM users WHERE id = 3");
    /* coalescing: many writes to one key, its latest state lands */
    for (int i = 0; i < 50; i++) {
        char *x = cmd_str(c, "HSET user:2 name bob%d", i);
        free(x);
    }
    CHECK_CMD(c, ":1", "DEL user:3");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "[[bob49]]", "SQL.QUERY %s", "SELECT name FROM users WHERE id = 2");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT name FROM users WHERE id = 3");
    /* a bad boolean is refused by PostgreSQL before the reply */
    r = cmd_str(c, "HSET user:4 name dee active maybe");
    CHECK(r && !strncmp(r, "-BACKEND write-behind refused", 29) && strstr(r, "boolean"));
    free(r);
    CHECK_CMD(c, ":0", "EXISTS user:4");
    /* without that check: refused when written (dead letter, entry dropped) */
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-check no");
    CHECK_CMD(c, ":2", "HSET user:4 name dee active maybe");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-check yes");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT id FROM users WHERE id = 4");
    r = cmd_str(c, "SQL.QUERY %s", "SELECT map, op, error FROM wb_deadletter");
    CHECK(r && strstr(r, "invalid input syntax for type boolean"));
    fprintf(stderr, "  (dead letter: %s)\n", r ? r : "?");
    free(r);
    redisReply *dl = pk_cmd(c, "WB.DEADLETTER LIST");
    CHECK(dl && dl->type == REDIS_REPLY_ARRAY && dl->elements == 1);
    long long id = 0;
    if (dl && dl->type == REDIS_REPLY_ARRAY && dl->elements == 1 && dl->element[0]->elements == 6) {
        id = dl->element[0]->element[0]->integer;
        CHECK_STR(dl->element[0]->element[2]->str, "user:4");
        CHECK(strstr(dl->element[0]->element[4]->str, "boolean") != NULL);
    }
    if (dl) freeReplyObject(dl);
    CHECK_CMD(c, ":0", "WB.DEADLETTER RETRY %lld", id); /* refused again, kept */
    CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    CHECK_CMD(c, "[]", "WB.DEADLETTER LIST");
    /* the refused entry was dropped from the cache: the store has no row */
    CHECK_CMD(c, ":0", "EXISTS user:4");
    redisFree(c);
}

TEST(cache_aside) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "SET note:n1 first");
    CHECK_CMD(c, "first", "GET note:n1");
    /* cache-aside: the application writes the store itself */
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT body FROM notes");
    CHECK_CMD(c, ":1", "SQL.EXEC %s %s %s", "INSERT INTO notes VALUES (?, ?)", "n1", "first");
    CHECK_CMD(c, ":1", "DEL note:n1");
    CHECK_CMD(c, "(nil)", "GET note:n1");
    redisFree(c);
}

TEST(sql_commands) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, ":1", "SQL.EXEC %s %s %s %s", "INSERT INTO products VALUES (?, ?, ?)", "p3",
              "x'); DROP TABLE products; --", "9.99");
    CHECK_CMD(c, "[[x'); DROP TABLE products; --,9.99]]", "SQL.QUERY %s %s",
              "SELECT name, price FROM products WHERE sku = ?", "p3");
    CHECK_CMD(c, "[[:3]]", "SQL.QUERY %s", "SELECT count(*) FROM products");
    char *r = cmd_str(c, "SQL.QUERY %s", "DELETE FROM products");
    CHECK(r && !strncmp(r, "-ERR", 4) && strstr(r, "read-only"));
    free(r);
    r = cmd_str(c, "SQL.QUERY %s", "SELEC 1");
    CHECK(r && !strncmp(r, "-ERR", 4) && strstr(r, "syntax error"));
    free(r);
    r = cmd_str(c, "SQL.EXEC %s", "INSERT INTO accounts VALUES (1, 'dup', 1)");
    CHECK(r && !strncmp(r, "-ERR", 4) && strstr(r, "duplicate key"));
    free(r);
    CHECK_CMD(c, ":1", "SQL.EXEC %s %s %s", "UPDATE products SET name = ? WHERE sku = ?", "jug",
              "p3");
    redisFree(c);
}

/* ACL SQL table rules: pgstore cannot report a statement's tables, so a
 * user restricted to named tables gets -NOPERM for every statement (and the
 * refusal is in ACL LOG); a user without SQL rules is not affected. */
TEST(sql_table_rules_refused) {
    redisContext *c = srv_connect(&s), *u = srv_connect(&s);
    CHECK(c && u);
    if (!c || !u) return;
    const char *argv[] = {"ACL", "SETUSER", "rep", "on", ">pw", "+sql.query", "%sql:R~products"};
    redisReply *x = redisCommandArgv(c, 7, argv, NULL);
    CHECK(x && x->type == REDIS_REPLY_STATUS);
    if (x) freeReplyObject(x);
    CHECK_CMD(u, "+OK", "AUTH rep pw");
    CHECK_CMD(u,
              "-NOPERM this user may run SQL on named tables only, and the store module cannot "
              "report the tables of a statement",
              "SQL.QUERY %s", "SELECT count(*) FROM products");
    char *log = cmd_str(c, "ACL LOG 1");
    CHECK(log && strstr(log, "table") && strstr(log, "rep"));
    free(log);
    CHECK_CMD(c, "+OK", "ACL SETUSER rep resetsql");
    CHECK_CMD(u, "[[:3]]", "SQL.QUERY %s", "SELECT count(*) FROM products");
    CHECK_CMD(c, ":1", "ACL DELUSER rep");
    redisFree(c);
    redisFree(u);
}

/* Lock tokens: the ceiling is kept in PostgreSQL (wb_meta). */
TEST(lock_token_ceiling) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    redisReply *r = pk_cmd(c, "LOCK.ACQUIRE %s %s", "pglock", "60000");
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    long long tok = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    if (r) freeReplyObject(r);
    long long ceiling = 0;
    for (int i = 0; i < 100 && ceiling < tok; i++) {
        r = pk_cmd(c, "SQL.QUERY %s",
                   "SELECT value FROM wb_meta WHERE name = 'lock_token_ceiling'");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1)
            ceiling = r->element[0]->element[0]->integer;
        if (r) freeReplyObject(r);
        if (ceiling < tok) pk_sleep_ms(20);
    }
    CHECK(tok > 0 && ceiling >= tok);
    char t[32];
    snprintf(t, sizeof(t), "%lld", tok);
    CHECK_CMD(c, ":1", "LOCK.RELEASE %s %s", "pglock", t);
    redisFree(c);
}

/* PostgreSQL killed (kill -9) and restarted: cached keys are still served,
 * the flush fails meanwhile, and the pending write lands after the restart. */
TEST(postgres_restart_under_write_behind) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, ":2", "HSET user:30 name before plan free");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    CHECK_EQ(pg_kill9(), 0);
    CHECK_CMD(c, ":0", "HSET user:30 name during");
    char *r = cmd_str(c, "WB.FLUSH");
    CHECK(r && !strncmp(r, "-BACKEND write-behind flush failed", 34));
    fprintf(stderr, "  (while PostgreSQL is down: %s)\n", r ? r : "?");
    free(r);
    CHECK_CMD(c, "kept", "GET session:s2");
    r = cmd_str(c, "SET session:s3 x");
    CHECK(r && !strncmp(r, "-BACKEND", 8));
    free(r);
    r = cmd_str(c, "GET session:s3"); /* a miss: the load fails too */
    CHECK(r && !strncmp(r, "-BACKEND load failed", 20));
    free(r);
    CHECK_EQ(pg_restart(), 0);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        r = cmd_str(c, "WB.FLUSH");
        ok = r && !strcmp(r, "+OK");
        free(r);
        if (!ok) pk_sleep_ms(100);
    }
    CHECK(ok);
    CHECK_CMD(c, "[[during]]", "SQL.QUERY %s", "SELECT name FROM users WHERE id = 30");
    CHECK_CMD(c, "+OK", "SET session:s3 x");
    CHECK_CMD(c, "[[x]]", "SQL.QUERY %s", "SELECT data FROM sessions WHERE id = 's3'");
    redisFree(c);
}

/* SIGKILL before the flush: the journal (fsync always) is replayed into
 * PostgreSQL at the next start. */
TEST(journal_replayed_after_kill) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "+OK", "CONFIG SET write-behind-delay-ms 60000");
    CHECK_CMD(c, ":2", "HSET user:10 name zed plan pro");
    CHECK_CMD(c, ":0", "HSET user:1 name ann2");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT name FROM users WHERE id = 10");
    redisFree(c);
    srv_kill(&s);
    c = start_server();
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ(pk_wait_serving(c, 10000, NULL), 0);
    CHECK_CMD(c, "[[ann2,free],[zed,pro]]", "SQL.QUERY %s",
              "SELECT name, plan FROM users WHERE id IN (1, 10) ORDER BY id");
    redisFree(c);
}

/* With the invalidation log installed, SQL.EXEC drops the cached keys of
 * the rows it changed. */
TEST(sql_exec_invalidates) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CMD(c, "kettle", "HGET product:p1 name");
    long long inv = pk_info(c, "invalidations");
    CHECK_CMD(c, ":1", "SQL.EXEC %s %s %s", "UPDATE products SET name = ? WHERE sku = ?", "teapot",
              "p1");
    CHECK_EQ(pk_info(c, "invalidations"), inv + 1);
    CHECK_CMD(c, "teapot", "HGET product:p1 name");
    redisFree(c);
}

TEST(store_equals_cache_after_flush) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    PK_CHECK_MAP(c, "products", "product:", "sku", NULL, "name,price");
    PK_CHECK_MAP(c, "sessions", "session:", "id", "data", NULL);
    PK_CHECK_MAP(c, "accounts", "account:", "id", NULL, "owner,balance");
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "name,plan,active,seen");
    redisFree(c);
}

/* After a failure: the end of what the server wrote (a sanitizer's report,
 * a crash), for the test's log. */
static void dump_server_output(void) {
    static char out[1 << 16];
    size_t used = 0;
    struct pollfd p = {s.out_fd, POLLIN, 0};
    while (used < sizeof(out) - 1 && poll(&p, 1, 200) > 0) {
        ssize_t n = read(s.out_fd, out + used, sizeof(out) - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
    }
    out[used] = 0;
    const char *tail = used > 6000 ? out + used - 6000 : out;
    fprintf(stderr, "--- the server's output (end) ---\n%s\n---\n", tail);
}

int main(void) {
    if (pg_start() != 0 || pg_psql(schema) != 0 || install_invalidation() != 0) {
        fprintf(stderr, "cannot start PostgreSQL with the test schema\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    redisContext *c = start_server();
    if (!c) {
        fprintf(stderr, "cannot start larder-server with pgstore\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    redisFree(c);
    RUN(read_through);
    RUN(write_through);
    RUN(write_behind);
    RUN(cache_aside);
    RUN(sql_commands);
    RUN(sql_table_rules_refused);
    RUN(sql_exec_invalidates);
    RUN(lock_token_ceiling);
    RUN(postgres_restart_under_write_behind);
    RUN(journal_replayed_after_kill);
    RUN(store_equals_cache_after_flush);
    if (test_failed_) dump_server_output();
    srv_stop(&s);
    pg_stop();
    return test_report();
}
