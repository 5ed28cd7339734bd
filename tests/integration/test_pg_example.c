/* README's worked example runs as written: conf/examples/pg-schema.sql is
 * loaded into a database "shop" of a real PostgreSQL (pgkit), and
 * larder-server starts with conf/examples/pg.conf itself. Only what the
 * conf leaves to its surroundings is supplied: the module's path is made
 * absolute (LARDER_BUILD), the connection's host, port and user come from
 * PGHOST/PGPORT/PGUSER as the conf's comment says, and --port/--dir
 * override the file's (the relative journal lands in the server's folder).
 * Then a round trip through every mapping and the error paths. */
#include "pgkit.h"
#include "pkit.h"
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64] = "/tmp/larder-pgexample-XXXXXX";
static char conninfo[512]; /* the test's own connection to shop */
static srv s;

static const char *repo_root(void) {
    static char root[PATH_MAX];
    const char *b = getenv("LARDER_BUILD");
    snprintf(root, sizeof(root), "%s/..", b && *b ? b : "build");
    char *r = realpath(root, NULL);
    if (r) {
        snprintf(root, sizeof(root), "%s", r);
        free(r);
    }
    return root;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = calloc(1, (size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

/* The value of key= in pgkit's conninfo. */
static void conninfo_value(const char *key, char *out, size_t outsz) {
    char pat[32];
    snprintf(pat, sizeof(pat), "%s=", key);
    const char *p = strstr(pg_conninfo(), pat);
    out[0] = 0;
    if (!p) return;
    p += strlen(pat);
    size_t n = strcspn(p, " ");
    snprintf(out, outsz, "%.*s", (int)(n < outsz ? n : outsz - 1), p);
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* The database, and the schema file run in it through libpq. */
static int make_shop(void) {
    if (pg_psql("CREATE DATABASE shop") != 0) return -1;
    snprintf(conninfo, sizeof(conninfo), "%s", pg_conninfo());
    char *db = strstr(conninfo, "dbname=postgres");
    if (!db) return -1;
    memcpy(db, "dbname=shop    ", strlen("dbname=postgres"));
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/conf/examples/pg-schema.sql", repo_root());
    char *sql = read_file(path);
    if (!sql) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    PGconn *pg = PQconnectdb(conninfo);
    PQsetNoticeProcessor(pg, ignore_notice, NULL); /* "already exists, skipping" */
    int rc = -1;
    for (int twice = 0; twice < 2 && PQstatus(pg) == CONNECTION_OK; twice++) {
        PGresult *r = PQexec(pg, sql); /* safe to run again */
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc) fprintf(stderr, "pg-schema.sql: %s", PQerrorMessage(pg));
        PQclear(r);
        if (rc) break;
    }
    PQfinish(pg);
    free(sql);
    return rc;
}

/* conf/examples/pg.conf with build/modules/ made absolute. */
static int write_conf(char *out, size_t outsz) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/conf/examples/pg.conf", repo_root());
    char *conf = read_file(path);
    if (!conf) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    const char *b = getenv("LARDER_BUILD");
    char build[PATH_MAX];
    if (!realpath(b && *b ? b : "build", build)) snprintf(build, sizeof(build), "build");
    snprintf(out, outsz, "%s/pg.conf", tmpdir);
    FILE *f = fopen(out, "w");
    if (!f) return -1;
    const char *from = "build/modules/";
    char *at = strstr(conf, from);
    if (at)
        fprintf(f, "%.*s%s/modules/%s", (int)(at - conf), conf, build, at + strlen(from));
    else
        fputs(conf, f);
    fclose(f);
    free(conf);
    return at ? 0 : -1;
}

static PGresult *pg_query(const char *sql) {
    PGconn *pg = PQconnectdb(conninfo);
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fprintf(stderr, "%s", PQerrorMessage(pg));
    PQfinish(pg);
    return r;
}

/* The first column of the first row of sql, or "(none)". */
static void pg_value(const char *sql, char *out, size_t outsz) {
    PGresult *r = pg_query(sql);
    snprintf(out, outsz, "%s",
             PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0) : "(none)");
    PQclear(r);
}

TEST(round_trip) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    char v[256];
    /* write-behind */
    CHECK_CMD(c, ":3", "HSET user:1 email ann@example.com name Ann plan pro");
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    pg_value("SELECT name || ' ' || plan || ' ' || email FROM users WHERE id = 1", v, sizeof(v));
    CHECK_STR(v, "Ann pro ann@example.com");
    CHECK_CMD(c, ":0", "HSET user:1 plan team"); /* a second write of the row */
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    pg_value("SELECT plan || ' ' || (created_at IS NOT NULL) FROM users WHERE id = 1", v,
             sizeof(v));
    CHECK_STR(v, "team true"); /* the column the cache does not hold kept its default */
    /* read-through: a row the application wrote */
    PGconn *pg = PQconnectdb(conninfo);
    PQclear(PQexec(pg, "INSERT INTO orders (id, user_id, status, total) VALUES (7, 1, 'paid', "
                       "24.50)"));
    PQfinish(pg);
    CHECK_CMD(c, "paid", "HGET order:7 status");
    CHECK_CMD(c, "24.50", "HGET order:7 total");
    CHECK_CMD(c, "(nil)", "HGET order:8 status");
    /* write-through */
    CHECK_CMD(c, "+OK", "SET session:s1 hello");
    pg_value("SELECT data FROM sessions WHERE id = 's1'", v, sizeof(v));
    CHECK_STR(v, "hello");
    CHECK_CMD(c, "hello", "GET session:s1");
    redisFree(c);
}

TEST(refused_rows) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    char v[256];
    /* a write-behind row the CHECK refuses: refused before the reply
     * (-BACKEND), or after it, into the dead letter; never in the table */
    char *r = cmd_str(c, "HSET user:2 email bob@example.com name Bob plan gold");
    CHECK(r && (!strcmp(r, ":3") || !strncmp(r, "-BACKEND", 8)));
    int acked = r && !strcmp(r, ":3");
    free(r);
    CHECK_CMD(c, "+OK", "WB.FLUSH");
    if (acked) {
        r = cmd_str(c, "WB.DEADLETTER LIST");
        CHECK(r && strstr(r, "user:2") && strstr(r, "check constraint"));
        free(r);
        CHECK_CMD(c, ":1", "WB.DEADLETTER DROP ALL");
    }
    /* where the server still caches the refused row, drop it (dropping it
     * is the server's refused-rows rule, not the example's) */
    r = cmd_str(c, "DEL user:2");
    free(r);
    pg_value("SELECT count(*) FROM users WHERE id = 2", v, sizeof(v));
    CHECK_STR(v, "0");
    /* a write PostgreSQL refuses through SQL.EXEC: its error */
    r = cmd_str(c, "SQL.EXEC %s", "INSERT INTO orders (id, user_id, total) VALUES (9, 999, 1)");
    CHECK(r && !strncmp(r, "-ERR", 4) && strstr(r, "foreign key"));
    free(r);
    redisFree(c);
}

TEST(store_equals_cache) {
    redisContext *c = srv_connect(&s);
    CHECK(c != NULL);
    if (!c) return;
    PK_CHECK_MAP(c, "users", "user:", "id", NULL, "email,name,plan");
    PK_CHECK_MAP(c, "orders", "order:", "id", NULL, "user_id,status,total,created_at");
    PK_CHECK_MAP(c, "sessions", "session:", "id", "data", NULL);
    redisFree(c);
}

static void remove_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    atexit(remove_tmpdir);
    char conf[PATH_MAX], host[256], port[16];
    if (pg_start() != 0 || make_shop() != 0 || write_conf(conf, sizeof(conf)) != 0) {
        fprintf(stderr, "cannot set up the example's database and conf\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    conninfo_value("host", host, sizeof(host));
    conninfo_value("port", port, sizeof(port));
    setenv("PGHOST", host, 1);
    setenv("PGPORT", port, 1);
    setenv("PGUSER", "postgres", 1);
    if (srv_start_conf(&s, conf, NULL) != 0) {
        fprintf(stderr, "larder-server did not start with conf/examples/pg.conf\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    RUN(round_trip);
    RUN(refused_rows);
    RUN(store_equals_cache);
    srv_stop(&s);
    pg_stop();
    return test_report();
}
