/* ACL SQL table rules (%sql:R~ / %sql:W~ / %sql:RW~ / %sql:ddl / resetsql)
 * against the bundled store: a reporting user that may only read `orders`
 * reads it, and gets -NOPERM for `users`, for a join, a subquery, a CTE and
 * a view that touch `users`, and for INSERT into `orders`; every denial is
 * in ACL LOG with reason "table". Writers, DDL, mapped keys (ordinary key
 * patterns) and the rule syntax's bad input too. */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pk_env env;
static redisContext *adm;

/* ACL SETUSER with the rules of a space-separated string; CHECKs +OK. */
static void setuser(const char *rules) {
    char *copy = strdup(rules), *argv[64];
    int argc = 0;
    argv[argc++] = "ACL";
    argv[argc++] = "SETUSER";
    for (char *t = strtok(copy, " "); t && argc < 64; t = strtok(NULL, " ")) argv[argc++] = t;
    redisReply *r = redisCommandArgv(adm, argc, (const char **)argv, NULL);
    CHECK(r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK"));
    if (r && r->type == REDIS_REPLY_ERROR) fprintf(stderr, "setuser %s: %s\n", rules, r->str);
    if (r) freeReplyObject(r);
    free(copy);
}

/* A connection authenticated as user (password "pw"). */
static redisContext *login(const char *user) {
    redisContext *c = srv_connect(&env.s);
    if (!c) return NULL;
    CHECK_CMD(c, "+OK", "AUTH %s pw", user);
    return c;
}

/* The newest ACL LOG entry's reason/object/username/context, "a/b/c/d". */
static char *last_log(void) {
    redisReply *r = redisCommand(adm, "ACL LOG 1");
    char out[512] = "(none)";
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        redisReply *e = r->element[0];
        const char *reason = "", *object = "", *user = "", *ctx = "";
        for (size_t i = 0; i + 1 < e->elements; i += 2) {
            const char *k = e->element[i]->str, *v = e->element[i + 1]->str;
            if (!v) continue;
            if (!strcmp(k, "reason")) reason = v;
            if (!strcmp(k, "object")) object = v;
            if (!strcmp(k, "username")) user = v;
            if (!strcmp(k, "context")) ctx = v;
        }
        snprintf(out, sizeof(out), "%s/%s/%s/%s", reason, object, user, ctx);
    }
    if (r) freeReplyObject(r);
    return strdup(out);
}

static char audit_path[512];

/* The audit log's last line (written before the reply that follows it). */
static char *last_audit_line(void) {
    FILE *f = fopen(audit_path, "r");
    static char line[4096], last[4096];
    last[0] = 0;
    while (f && fgets(line, sizeof(line), f)) snprintf(last, sizeof(last), "%s", line);
    if (f) fclose(f);
    return last;
}

/* The statement is refused with err, and the refusal is the newest ACL LOG
 * entry (for table, by user) and the audit log's last event. */
static void denied(redisContext *c, const char *cmd, const char *sql, const char *err,
                   const char *table, const char *user) {
    CHECK_CMD(adm, "+OK", "ACL LOG RESET");
    CHECK_CMD(c, err, "%s %s", cmd, sql);
    char want[256];
    snprintf(want, sizeof(want), "table/%s/%s/toplevel", table, user);
    char *got = last_log();
    CHECK_STR(got, want);
    free(got);
    const char *ev = last_audit_line();
    char needle[128], who[64];
    snprintf(needle, sizeof(needle), "NOPERM table %s", table);
    snprintf(who, sizeof(who), "\"user\":\"%s\"", user);
    CHECK(strstr(ev, "\"class\":\"denied\"") && strstr(ev, needle) && strstr(ev, who));
}

#define NOREAD(t) "-NOPERM this user has no permissions to read the '" t "' table"
#define NOWRITE(t) "-NOPERM this user has no permissions to write the '" t "' table"
#define NODDL "-NOPERM this user has no permissions to change the schema"

TEST(reporting_user_reads_orders_only) {
    setuser("reporting on >pw +sql.query +sql.exec %sql:R~orders");
    redisContext *c = login("reporting");
    if (!c) return;
    CHECK_CMD(c, "[[:1,:1,:950]]", "SQL.QUERY %s", "SELECT * FROM orders");
    CHECK_CMD(c, "[[:1]]", "SQL.QUERY %s %s", "SELECT count(*) FROM orders WHERE total > ?", "10");
    denied(c, "SQL.QUERY", "SELECT * FROM users", NOREAD("users"), "users", "reporting");
    denied(c, "SQL.QUERY", "SELECT o.total, u.name FROM orders o JOIN users u ON u.id = o.user_id",
           NOREAD("users"), "users", "reporting");
    denied(c, "SQL.QUERY", "SELECT * FROM orders WHERE user_id IN (SELECT id FROM users)",
           NOREAD("users"), "users", "reporting");
    denied(c, "SQL.QUERY", "SELECT (SELECT name FROM users WHERE id = o.user_id) FROM orders o",
           NOREAD("users"), "users", "reporting");
    denied(c, "SQL.QUERY", "WITH x AS (SELECT * FROM users) SELECT * FROM x", NOREAD("users"),
           "users", "reporting");
    denied(c, "SQL.QUERY", "SELECT * FROM big_orders", NOREAD("users"), "users", "reporting");
    denied(c, "SQL.EXEC", "INSERT INTO orders VALUES (2, 1, 5)", NOWRITE("orders"), "orders",
           "reporting");
    denied(c, "SQL.EXEC", "UPDATE orders SET total = 0", NOWRITE("orders"), "orders", "reporting");
    denied(c, "SQL.EXEC", "DELETE FROM orders", NOWRITE("orders"), "orders", "reporting");
    denied(c, "SQL.EXEC", "CREATE TABLE t2 (x INTEGER)", NODDL, "t2", "reporting");
    denied(c, "SQL.EXEC", "DROP TABLE orders", NODDL, "orders", "reporting");
    /* nothing was written */
    CHECK_CMD(adm, "[[:1]]", "SQL.QUERY %s", "SELECT count(*) FROM orders");
    /* a CTE named like an allowed table is still its body */
    CHECK_CMD(c, "[[:1]]", "SQL.QUERY %s",
              "WITH o AS (SELECT * FROM orders) SELECT count(*) FROM o");
    /* errors of the statement itself still come first */
    CHECK_CMD(c, "-ERR no such table: nope", "SQL.QUERY %s", "SELECT * FROM nope");
    /* the counters: SQL denials count as key denials */
    redisReply *info = redisCommand(adm, "INFO stats");
    CHECK(info && strstr(info->str, "acl_access_denied_key:"));
    if (info) freeReplyObject(info);
    redisFree(c);
}

TEST(writer_and_ddl_rights) {
    setuser("writer on >pw +sql.query +sql.exec %sql:RW~ord* %sql:W~audit %sql:R~users");
    redisContext *c = login("writer");
    if (!c) return;
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "INSERT INTO orders VALUES (2, 1, 5)");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE orders SET total = 6 WHERE id = 2");
    CHECK_CMD(c, ":1", "SQL.EXEC %s",
              "INSERT INTO audit SELECT id, total FROM orders WHERE id = 2");
    denied(c, "SQL.QUERY", "SELECT * FROM audit", NOREAD("audit"), "audit", "writer");
    /* INSERT ... SELECT reads its source */
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "INSERT INTO audit SELECT id, 0 FROM users WHERE id = 1");
    denied(c, "SQL.EXEC", "DELETE FROM users", NOWRITE("users"), "users", "writer");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "DELETE FROM orders WHERE id = 2");
    denied(c, "SQL.EXEC", "CREATE INDEX oi ON orders(total)", NODDL, "orders", "writer");
    /* the DDL right */
    setuser("writer %sql:ddl");
    const char *ddl[] = {"CREATE INDEX oi ON orders(total)", "DROP INDEX oi"};
    for (int i = 0; i < 2; i++) { /* the reply is a count: what matters is no error */
        redisReply *x = redisCommand(c, "SQL.EXEC %s", ddl[i]);
        CHECK(x && x->type == REDIS_REPLY_INTEGER);
        if (x) freeReplyObject(x);
    }
    /* resetsql: back to what the command rights allow */
    setuser("writer resetsql");
    CHECK_CMD(c, "[[:1,:0]]", "SQL.QUERY %s", "SELECT * FROM audit ORDER BY id LIMIT 1");
    redisFree(c);
}

TEST(rules_in_getuser_list_and_bad_input) {
    setuser("shown on >pw +sql.query %sql:R~a* %sql:RW~b %sql:ddl");
    redisReply *r = redisCommand(adm, "ACL GETUSER shown");
    int found = 0;
    for (size_t i = 0; r && i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, "sql")) {
            CHECK_STR(r->element[i + 1]->str, "%sql:R~a* %sql:RW~b %sql:ddl");
            found = 1;
        }
    CHECK(found);
    if (r) freeReplyObject(r);
    r = redisCommand(adm, "ACL LIST");
    found = 0;
    for (size_t i = 0; r && i < r->elements; i++)
        if (strstr(r->element[i]->str, "user shown ") &&
            strstr(r->element[i]->str, "+sql.query %sql:R~a* %sql:RW~b %sql:ddl"))
            found = 1;
    CHECK(found);
    if (r) freeReplyObject(r);
    static const char *const bad[] = {"%sql:",     "%sql:R",  "%sql:R~", "%sql:X~t",
                                      "%sql:RR~t", "%sql:~t", "%sql:dd", NULL};
    for (int i = 0; bad[i]; i++) {
        char want[128];
        snprintf(want, sizeof(want), "-ERR Error in ACL SETUSER modifier '%s': Syntax error",
                 bad[i]);
        CHECK_CMD(adm, want, "ACL SETUSER shown %s", bad[i]);
    }
    /* a user without SQL rules: GETUSER as Redis (no "sql" field) */
    setuser("shown resetsql");
    r = redisCommand(adm, "ACL GETUSER shown");
    CHECK(r && r->elements == 12);
    if (r) freeReplyObject(r);
}

TEST(command_rights_still_apply) {
    /* table rules do not grant the commands */
    setuser("nocmd on >pw %sql:RW~*");
    redisContext *c = login("nocmd");
    if (!c) return;
    CHECK_CMD(c, "-NOPERM this user has no permissions to run the 'sql.query' command",
              "SQL.QUERY %s", "SELECT 1");
    redisFree(c);
    /* mapped keys follow the ordinary key patterns */
    setuser("keys on >pw +hgetall ~order:1 %sql:R~orders");
    c = login("keys");
    if (!c) return;
    CHECK_CMD(c, "[user_id,1,total,950]", "HGETALL order:1");
    CHECK_CMD(c, "-NOPERM this user has no permissions to access one of the keys used as arguments",
              "HGETALL order:2");
    redisFree(c);
}

int main(void) {
    if (pk_start(&env, NULL) != 0) {
        fprintf(stderr, "server did not start\n");
        return 1;
    }
    adm = srv_connect(&env.s);
    if (!adm) return 1;
    snprintf(audit_path, sizeof(audit_path), "%s/audit.log", env.data);
    CHECK_CMD(adm, "+OK", "CONFIG SET audit-log %s", audit_path);
    pk_exec(adm, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
    pk_exec(adm, "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total INTEGER)");
    pk_exec(adm, "CREATE TABLE audit (id INTEGER PRIMARY KEY, total INTEGER)");
    pk_exec(adm, "CREATE VIEW big_orders AS SELECT o.id, u.name FROM orders o JOIN users u ON "
                 "u.id = o.user_id WHERE o.total > 100");
    pk_exec(adm, "INSERT INTO users VALUES (1, 'ann')");
    pk_exec(adm, "INSERT INTO orders VALUES (1, 1, 950)");
    CHECK_CMD(adm, "+OK", "CONFIG SET map %s", "orders order:{id} mode read-through ttl 600");
    RUN(reporting_user_reads_orders_only);
    RUN(writer_and_ddl_rights);
    RUN(rules_in_getuser_list_and_bad_input);
    RUN(command_rights_still_apply);
    redisFree(adm);
    pk_cleanup(&env);
    return test_report();
}
