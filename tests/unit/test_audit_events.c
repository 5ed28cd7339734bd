/* tests/unit/test_audit_events.c — the audit log's event functions called
 * directly, for what no command reaches yet or what is easier to pin down
 * here: audit_acl_change() (the ACL commands' events, password rules
 * redacted), audit_sql() for a client that has left, which statements count
 * as DDL, audit_denied() for a connection, and JSON escaping of bytes that
 * are not printable ASCII. The log is a file in /tmp; the server's state is
 * set up by server_preinit() and the configuration, without a loop. */
#include "server/audit.h"
#include "server/server.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[128];

static char *slurp(void) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* The text written since the last call (the log only grows). */
static size_t seen;
static char *fresh(void) {
    audit_flush();
    char *all = slurp();
    char *out = strdup(all + (strlen(all) >= seen ? seen : strlen(all)));
    seen = strlen(all);
    free(all);
    return out;
}

static resp_arg A(const char *s) {
    resp_arg a = {(char *)s, strlen(s), 0};
    return a;
}

TEST(acl_change_redacts_passwords) {
    client *c = client_create(-1, 0);
    resp_arg argv[] = {A("ACL"),     A("SETUSER"), A("alice"), A("on"),      A(">hunter2"),
                       A("<old-pw"), A("#5e88"),   A("!5e88"), A("~keys:*"), A("+get")};
    audit_acl_change(c, 10, argv, 1, NULL);
    char *t = fresh();
    CHECK(strstr(t, "\"class\":\"acl\",\"command\":\"acl|setuser\"") != NULL);
    CHECK(strstr(t, "\"args\":[\"alice\",\"on\",\"<redacted>\",\"<redacted>\",\"<redacted>\","
                    "\"<redacted>\",\"~keys:*\",\"+get\"]") != NULL);
    CHECK(!strstr(t, "hunter2") && !strstr(t, "old-pw") && !strstr(t, "5e88"));
    CHECK(strstr(t, "\"outcome\":\"ok\"}\n") != NULL);
    free(t);
    resp_arg del[] = {A("acl"), A("DELUSER"), A("bob")};
    audit_acl_change(c, 3, del, 0, "ERR no such user");
    t = fresh();
    CHECK(strstr(t, "\"command\":\"acl|deluser\",\"user\":\"default\"") != NULL);
    CHECK(strstr(t, "\"outcome\":\"err\",\"reason\":\"ERR no such user\"") != NULL);
    free(t);
    client_free(c);
}

TEST(sql_classes_and_departed_clients) {
    static const struct {
        const char *sql;
        int ddl;
    } cases[] = {
        {"CREATE TABLE t(a)", 1},
        {"  create index i on t(a)", 1},
        {"-- note\nDROP TABLE t", 1},
        {"/* x */ ALTER TABLE t ADD COLUMN b", 1},
        {"INSERT INTO t VALUES (1); DROP TABLE t", 1},
        {"INSERT INTO t VALUES ('create')", 0},
        {"UPDATE t SET a = 'x; drop table t'", 0},
        {"SELECT created FROM t", 0},
        {"createx", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        audit_sql(NULL, 42, "10.1.2.3:5000", cases[i].sql, strlen(cases[i].sql), 0, 1, NULL);
        char *t = fresh();
        const char *want = cases[i].ddl ? "\"class\":\"ddl\"" : "\"class\":\"sql\"";
        if (!strstr(t, want)) fprintf(stderr, "case %zu: %s", i, t);
        CHECK(strstr(t, want) != NULL);
        CHECK(strstr(t, "\"client\":\"10.1.2.3:5000\",\"client_id\":42") != NULL);
        free(t);
    }
}

TEST(json_escaping) {
    client *c = client_create(-1, 0);
    char bin[] = {'a', '"', '\\', '\n', (char)0xff, 0, 'z'};
    resp_arg argv[] = {A("ACL"), A("SETUSER"), {bin, sizeof bin, 0}};
    audit_acl_change(c, 3, argv, 1, NULL);
    char *t = fresh();
    CHECK(strstr(t, "\"args\":[\"a\\\"\\\\\\u000a\\u00ff\\u0000z\"]") != NULL);
    free(t);
    client_free(c);
}

TEST(denied_cap_per_connection) {
    client *c = client_create(-1, 0);
    for (int i = 0; i < AUDIT_DENIED_PER_CLIENT + 5; i++) audit_denied(c, "NOAUTH");
    char *t = fresh();
    int lines = 0;
    for (char *p = t; (p = strstr(p, "\"class\":\"denied\"")); p++) lines++;
    CHECK_EQ(lines, AUDIT_DENIED_PER_CLIENT);
    free(t);
    client_free(c); /* the summary line */
    t = fresh();
    CHECK(strstr(t, "\"count\":5") && strstr(t, "5 more denied commands"));
    CHECK(strstr(t, "\n") == strrchr(t, '\n')); /* one line */
    free(t);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/larder-audit-unit-%d.log", (int)getpid());
    unlink(path);
    server_preinit();
    char conf[256], *err = NULL;
    snprintf(conf, sizeof conf, "audit-log %s\n", path);
    if (config_load_string(conf, "test", &err) != OK || audit_start(&err) != OK) {
        fprintf(stderr, "%s\n", err ? err : "setup failed");
        return 1;
    }
    RUN(acl_change_redacts_passwords);
    RUN(sql_classes_and_departed_clients);
    RUN(json_escaping);
    RUN(denied_cap_per_connection);
    audit_shutdown("test end");
    unlink(path);
    return test_report();
}
