/* The change stream in front of a real PostgreSQL (pgkit): changes another
 * program commits (libpq, as psql would) reach the stream once the change
 * log reader sees them, with the op PostgreSQL logged (insert, update,
 * delete, truncate); the sidecar's own commits (a write-through, a
 * write-behind batch, SQL.EXEC) appear exactly once, not again when the log
 * reports them, a cache write as insert or update as the row existed
 * before it. Waiting is by polling the stream with a deadline. */
#include "harness.h"
#include "pgkit.h"
#include "pkit.h"
#include "test.h"
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char schema[] = "CREATE TABLE accounts (id int PRIMARY KEY, owner text);"
                             "CREATE TABLE notes (id int PRIMARY KEY, body text, n int);"
                             "CREATE TABLE grades (student text, course text, mark int, "
                             "  PRIMARY KEY (student, course));";

static srv side;
static redisContext *c;
static PGconn *db;
static char jdir[64] = "/tmp/larder-pgchanges-XXXXXX";
static char last[64] = "0-0";

static void remove_jdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", jdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", jdir);
}

static void sql(const char *q) {
    PGresult *r = PQexec(db, q);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "SQL %s: %s\n", q, PQerrorMessage(db));
    CHECK(ok);
    PQclear(r);
}

static const char *field(const redisReply *fv, const char *name) {
    for (size_t i = 0; i + 1 < fv->elements; i += 2)
        if (!strcmp(fv->element[i]->str, name)) return fv->element[i + 1]->str;
    return "";
}

/* The entries after `last` as "op table pk key;..." (last moves on). */
static void since(char *out, size_t outsz) {
    out[0] = 0;
    size_t l = 0;
    redisReply *r = redisCommand(c, "XRANGE changes (%s +", last);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *fv = r->element[i]->element[1];
        snprintf(last, sizeof(last), "%s", r->element[i]->element[0]->str);
        l += (size_t)snprintf(out + l, outsz - l, "%s%s %s %s %s", l ? ";" : "", field(fv, "op"),
                              field(fv, "table"), field(fv, "pk"), field(fv, "key"));
        if (l >= outsz) l = outsz - 1;
    }
    if (r) freeReplyObject(r);
}

/* Polls the stream until the entries since `last` end with `fence` (an
 * external change made after the ones awaited) or 5 s pass; CHECKs that
 * they are want;fence. */
static void expect_then_fence(const char *want, const char *fence_sql, const char *fence) {
    sql(fence_sql);
    char all[2048] = "", got[2048];
    double end = pk_now_ms() + 5000;
    size_t fl = strlen(fence);
    for (;;) {
        since(got, sizeof(got));
        if (*got) {
            size_t l = strlen(all), gl = strlen(got);
            if (l + gl + 2 < sizeof(all)) {
                if (l) all[l++] = ';';
                memcpy(all + l, got, gl + 1);
            }
        }
        size_t al = strlen(all);
        if (al >= fl && !strcmp(all + al - fl, fence)) break;
        if (pk_now_ms() > end) break;
        pk_sleep_ms(2);
    }
    char expect[2048];
    snprintf(expect, sizeof(expect), "%s%s%s", want, *want ? ";" : "", fence);
    CHECK_STR(all, expect);
}

TEST(external_writes_carry_their_op) {
    sql("INSERT INTO accounts VALUES (1, 'ann')");
    sql("UPDATE accounts SET owner = 'bea' WHERE id = 1");
    sql("DELETE FROM accounts WHERE id = 1");
    sql("INSERT INTO grades VALUES ('ann', 'math', 5)");
    expect_then_fence("insert accounts 1 account:1;update accounts 1 account:1;delete accounts 1 "
                      "account:1;insert grades ann:math grade:ann:math",
                      "INSERT INTO accounts VALUES (100, 'fence')",
                      "insert accounts 100 account:100");
}

TEST(own_commits_appear_once) {
    CHECK_CMD(c, ":1", "HSET account:2 owner cy");
    char got[512];
    since(got, sizeof(got)); /* in the stream with the reply */
    CHECK_STR(got, "insert accounts 2 account:2");
    CHECK_CMD(c, ":0", "HSET account:2 owner cyd");
    since(got, sizeof(got));
    CHECK_STR(got, "update accounts 2 account:2");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE accounts SET owner = 'dee' WHERE id = 2");
    since(got, sizeof(got));
    CHECK_STR(got, "update accounts 2 account:2");
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "DELETE FROM grades WHERE student = 'ann'");
    since(got, sizeof(got));
    CHECK_STR(got, "delete grades ann:math grade:ann:math");
    /* the change log reports them too (own): not appended again */
    expect_then_fence("", "INSERT INTO accounts VALUES (101, 'fence')",
                      "insert accounts 101 account:101");
}

/* A write-behind batch (rows of one shape share a statement: new and
 * existing rows interleaved) names each row's op; a row psql wrote and the
 * cache never held is an update. */
TEST(write_behind_batch_names_the_op) {
    sql("INSERT INTO notes VALUES (2, 'by psql', 0)");
    expect_then_fence("insert notes 2 note:2", "INSERT INTO accounts VALUES (103, 'fence')",
                      "insert accounts 103 account:103");
    for (int i = 1; i <= 40; i++) CHECK_CMD(c, "+OK", "HMSET note:%d body b%d n %d", i, i, i);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    char want[2048] = "", got[2048];
    size_t l = 0;
    for (int i = 1; i <= 40; i++)
        l += (size_t)snprintf(want + l, sizeof(want) - l, "%s%s notes %d note:%d", i > 1 ? ";" : "",
                              i == 2 ? "update" : "insert", i, i);
    since(got, sizeof(got));
    CHECK_STR(got, want);
    for (int i = 1; i <= 40; i += 13) CHECK_CMD(c, ":0", "HSET note:%d n -%d", i, i);
    CHECK_CMD(c, ":1", "DEL note:3");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    since(got, sizeof(got));
    CHECK_STR(got, "update notes 1 note:1;update notes 14 note:14;update notes 27 note:27;update "
                   "notes 40 note:40;delete notes 3 note:3");
    /* the change log reports the batches too (own): not appended again */
    expect_then_fence("", "INSERT INTO accounts VALUES (104, 'fence')",
                      "insert accounts 104 account:104");
}

TEST(truncate_is_one_entry) {
    sql("TRUNCATE grades");
    expect_then_fence("truncate grades  ", "INSERT INTO accounts VALUES (102, 'fence')",
                      "insert accounts 102 account:102");
}

int main(void) {
    if (pg_start() != 0 || pg_psql(schema) != 0) {
        fprintf(stderr, "cannot start PostgreSQL with the test schema\n");
        test_failed_++;
        return test_report();
    }
    if (!mkdtemp(jdir)) return 1;
    atexit(remove_jdir);
    db = PQconnectdb(pg_conninfo());
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect: %s\n", PQerrorMessage(db));
        test_failed_++;
        return test_report();
    }
    char journal[128];
    snprintf(journal, sizeof(journal), "%s/side.journal", jdir);
    const char *argv[] = {"--loadmodule",
                          pg_module_path(),
                          pg_conninfo(),
                          "--journal-path",
                          journal,
                          "--store-invalidation",
                          "yes",
                          "--changes-stream",
                          "changes",
                          "--map",
                          "accounts",
                          "account:{id}",
                          "mode",
                          "write-through",
                          "--map",
                          "grades",
                          "grade:{student}:{course}",
                          "mode",
                          "cache-aside",
                          "--map",
                          "notes",
                          "note:{id}",
                          "mode",
                          "write-behind",
                          "--write-behind-delay-ms",
                          "100000",
                          NULL};
    if (srv_start(&side, argv) != 0 || !(c = srv_connect(&side))) {
        fprintf(stderr, "cannot start the sidecar\n");
        test_failed_++;
        return test_report();
    }
    /* the stream starts with its reset entry */
    char got[512];
    since(got, sizeof(got));
    CHECK_STR(got, "reset   ");
    RUN(external_writes_carry_their_op);
    RUN(own_commits_appear_once);
    RUN(write_behind_batch_names_the_op);
    RUN(truncate_is_one_entry);
    redisFree(c);
    srv_stop(&side);
    PQfinish(db);
    return test_report();
}
