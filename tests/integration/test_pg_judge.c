/* The write-behind check's own verdicts against PostgreSQL's (pgkit): for
 * each column type the server judges itself (smallint, integer, bigint,
 * numeric(p,s), numeric, boolean, uuid, varchar(n), char(n), text), tricky
 * values are written with HSET to a write-behind key and inserted by this
 * test straight into a copy of the table (in a transaction rolled back).
 *
 *   verdicts_agree   when the server judged a value itself (INFO
 *                    wb_check_local moved), its verdict — refused with
 *                    -BACKEND or accepted — is PostgreSQL's; a value it
 *                    did not judge went to the store (wb_check_store
 *                    moved), whose verdict is PostgreSQL's by definition.
 *                    Every value is judged one way or the other; plain
 *                    forms (digits, t/f, canonical uuids, short text) are
 *                    judged locally. Store equals cache after WB.FLUSH. */
#include "pgkit.h"
#include "pkit.h"
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS                                                                                       \
    "(id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, n numeric(5,2), nu numeric, "        \
    "b boolean, u uuid, v varchar(4), c char(3), t text)"

static const char schema[] = "CREATE TABLE wb_meta (name text PRIMARY KEY, value bigint);"
                             "CREATE TABLE wb_deadletter (id bigint PRIMARY KEY, map text, key "
                             "bytea, op text, state bytea, error text, at bigint);"
                             "CREATE TABLE judged " COLS ";"
                             "CREATE TABLE ref " COLS ";";

static srv s;
static PGconn *pg;

/* Does PostgreSQL take v as the column's value (an INSERT, rolled back)? */
static int pg_takes(const char *col, const char *v, int len) {
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT INTO ref (id, %s) VALUES (1, $1)", col);
    PQclear(PQexec(pg, "BEGIN"));
    const char *vals[1] = {v};
    int lens[1] = {len}, fmts[1] = {0};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, vals, lens, fmts, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQclear(PQexec(pg, "ROLLBACK"));
    return ok;
}

typedef struct value_case {
    const char *col;
    const char *v;
    int local; /* 1: must be judged by the server itself */
} value_case;

static const value_case cases[] = {
    {"i2", "0", 1},
    {"i2", "-0", 1},
    {"i2", "+5", 1},
    {"i2", "007", 1},
    {"i2", " 5", 0},
    {"i2", "5 ", 0},
    {"i2", "5.0", 0},
    {"i2", "1e3", 0},
    {"i2", "0x1f", 0},
    {"i2", "1_000", 0},
    {"i2", "abc", 1},
    {"i2", "", 1},
    {"i2", "-", 1},
    {"i2", "+", 1},
    {"i2", "32767", 1},
    {"i2", "32768", 1},
    {"i2", "-32768", 1},
    {"i2", "-32769", 1},
    {"i4", "2147483647", 1},
    {"i4", "2147483648", 1},
    {"i4", "-2147483648", 1},
    {"i4", "-2147483649", 1},
    {"i4", "99999999999999999999999", 1},
    {"i4", "\xd9\xa1", 1}, /* an Arabic-Indic digit */
    {"i4", ".5", 0},
    {"i8", "9223372036854775807", 1},
    {"i8", "9223372036854775808", 1},
    {"i8", "-9223372036854775808", 1},
    {"i8", "-9223372036854775809", 1},
    {"n", "123.45", 1},
    {"n", "123.455", 1},
    {"n", "999.99", 1},
    {"n", "999.994", 1},
    {"n", "999.995", 1},
    {"n", "1000", 1},
    {"n", "-999.99", 1},
    {"n", "-999.995", 1},
    {"n", "0.001", 1},
    {"n", "00999.99", 1},
    {"n", "12.3456", 1},
    {"n", "5.", 1},
    {"n", ".5", 0},
    {"n", "1e2", 0},
    {"n", "NaN", 0},
    {"n", "nan", 0},
    {"n", "Infinity", 0},
    {"n", "-inf", 0},
    {"n", "abc", 1},
    {"n", "", 1},
    {"n", "+1.5", 1},
    {"nu", "123456789012345678901234567890.5", 1},
    {"nu", "1.5e10", 0},
    {"nu", "x1", 1},
    {"b", "t", 1},
    {"b", "TRUE", 1},
    {"b", "tr", 1},
    {"b", "y", 1},
    {"b", "yes", 1},
    {"b", "ye", 1},
    {"b", "on", 1},
    {"b", "o", 1},
    {"b", "of", 1},
    {"b", "off", 1},
    {"b", "offf", 1},
    {"b", "1", 1},
    {"b", "0", 1},
    {"b", "10", 1},
    {"b", " t ", 1},
    {"b", "maybe", 1},
    {"b", "", 1},
    {"b", "f", 1},
    {"b", "false", 1},
    {"b", "fa", 1},
    {"b", "n", 1},
    {"b", "No", 1},
    {"b", "truex", 1},
    {"u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
    {"u", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", 1},
    {"u", "a0eebc999c0b4ef8bb6d6bb9bd380a11", 1},
    {"u", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", 1},
    {"u", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", 1},
    {"u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", 1},
    {"u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", 1},
    {"u", " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
    {"u", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
    {"u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", 1},
    {"u", "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
    {"u", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", 1},
    {"u", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
    {"v", "abcd", 1},
    {"v", "abcde", 1},
    {"v", "abcd ", 1},
    {"v", "abcd  x", 1},
    {"v", "h\xc3\xa9llo", 1},                         /* 5 characters */
    {"v", "h\xc3\xa9ll", 1},                          /* 4 */
    {"v", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 1}, /* 3 */
    {"v", "ab\xff", 0},                               /* not UTF-8 */
    {"v", "\xed\xa0\x80", 0},                         /* a surrogate */
    {"v", "\xc0\xaf", 0},                             /* overlong */
    {"c", "abc", 1},
    {"c", "abcd", 1},
    {"c", "ab ", 1},
    {"c", "abc   ", 1},
    {"t", "anything at all", 1},
    {"t", "\xf0\x9f\x98\x80", 1},
};

static int start(void) {
    if (pg_start() != 0 || pg_psql(schema) != 0) return -1;
    pg = PQconnectdb(pg_conninfo());
    if (PQstatus(pg) != CONNECTION_OK) return -1;
    const char *argv[] = {"--loadmodule",
                          pg_module_path(),
                          pg_conninfo(),
                          "--map",
                          "judged j:{id} mode write-behind ttl 600",
                          NULL};
    return srv_start(&s, argv);
}

TEST(verdicts_agree) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    int nlocal = 0, nstore = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const value_case *k = &cases[i];
        int len = (int)strlen(k->v);
        /* a fresh row each time: only this column's value is judged */
        redisReply *d = pk_cmd(c, "DEL j:1");
        if (d) freeReplyObject(d);
        long long local = pk_info(c, "wb_check_local"), sent = pk_info(c, "wb_check_store");
        redisReply *r = redisCommand(c, "HSET j:1 %s %b", k->col, k->v, (size_t)len);
        int refused = r && r->type == REDIS_REPLY_ERROR;
        int by_server = pk_info(c, "wb_check_local") == local + 1;
        int by_store = pk_info(c, "wb_check_store") == sent + 1;
        int takes = pg_takes(k->col, k->v, len);
        if (refused == takes || by_server == by_store || (k->local && !by_server))
            fprintf(stderr, "  %s = \"%s\": %s by the %s, PostgreSQL %s it%s\n", k->col, k->v,
                    refused ? (r->str ? r->str : "refused") : "accepted",
                    by_server  ? "server"
                    : by_store ? "store"
                               : "?",
                    takes ? "takes" : "refuses",
                    k->local && !by_server ? " (expected a local verdict)" : "");
        CHECK(refused != takes);
        CHECK(by_server != by_store);
        if (k->local) CHECK(by_server);
        if (r) freeReplyObject(r);
        nlocal += by_server;
        nstore += by_store;
    }
    fprintf(stderr, "  (%d values judged by the server, %d by the store)\n", nlocal, nstore);
    PK_CHECK_MAP(c, "judged", "j:", "id", NULL, "i2,i4,i8,n,nu,b,u,v,c,t");
    redisFree(c);
}

int main(void) {
    if (start() != 0) {
        fprintf(stderr, "cannot start PostgreSQL and larder-server\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    RUN(verdicts_agree);
    srv_stop(&s);
    PQfinish(pg);
    pg_stop();
    return test_report();
}
