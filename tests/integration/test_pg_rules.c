/* The consistency rules against a real PostgreSQL (pgkit) through
 * pgstore.so (rulekit.h): refused rows, stale-if-error (PostgreSQL stopped
 * with `pg_ctl stop`, then started again), composite primary keys. The
 * same cases run on the bundled store in test_persist_rules. */
#include "../../modules/pgstore/pgstore.h"
#include "pgkit.h"
#include "persist/store_api.h"
#include "pkit.h"
#include "rulekit.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static srv s;
static rk_store st;

/* The invalidation log on the mapped tables (SQL.EXEC reports the keys it
 * changed from it), installed through the module. 0 on success. */
static int install_invalidation(void) {
    void *dl = dlopen(pg_module_path(), RTLD_NOW | RTLD_LOCAL);
    store_module_entry_fn entry = dl ? (store_module_entry_fn)dlsym(dl, STORE_MODULE_ENTRY) : NULL;
    const store_module *m = entry ? entry() : NULL;
    if (!m || !m->log_install) return -1;
    const char *argv[] = {pg_conninfo()};
    void *h = NULL;
    char *err = NULL;
    int rc = m->open(1, argv, &h, &err);
    if (rc == STORE_OK) rc = m->log_install(h, RK_NMAPS, (const char *const *)rk_tables, &err);
    if (rc != STORE_OK) fprintf(stderr, "install_invalidation: %s\n", err ? err : "?");
    m->free_error(err);
    if (h) m->close(h);
    dlclose(dl);
    return rc == STORE_OK ? 0 : -1;
}

static int stop_pg(redisContext *c) {
    (void)c;
    return pg_halt();
}

static int start_pg(redisContext *c) {
    (void)c;
    return pg_restart();
}

static int start(void) {
    char schema[2048];
    snprintf(schema, sizeof(schema),
             "CREATE TABLE wb_meta (name text PRIMARY KEY, value bigint);"
             "CREATE TABLE wb_deadletter (id bigint PRIMARY KEY, map text, key bytea, op text, "
             "  state bytea, error text, at bigint);"
             "%s; %s; %s; %s; %s; %s; %s;",
             RK_SCHEMA_USERS, RK_SCHEMA_PRODUCTS, RK_SCHEMA_ENROLLMENTS, RK_SCHEMA_PAIRS,
             RK_SCHEMA_GRADES, RK_SCHEMA_MEMBERS, RK_ROWS);
    if (pg_start() != 0 || pg_psql(schema) != 0 || install_invalidation() != 0) return -1;
    return 0;
}

static int start_server(void) {
    const char *argv[2 * RK_NMAPS + 10];
    int n = 0;
    argv[n++] = "--loadmodule";
    argv[n++] = pg_module_path();
    argv[n++] = pg_conninfo();
    argv[n++] = "--write-behind-delay-ms";
    argv[n++] = "50";
    for (int i = 0; i < RK_NMAPS; i++) {
        argv[n++] = "--map";
        argv[n++] = rk_maps[i];
    }
    argv[n] = NULL;
    if (srv_start(&s, argv) != 0) return -1;
    st = (rk_store){"pgstore", &s, stop_pg, start_pg};
    return 0;
}

/* The module's check entry point, called directly; with PostgreSQL stopped
 * it cannot check: transient, every row left as it was. */
TEST(module_check) {
    void *dl = dlopen(pg_module_path(), RTLD_NOW | RTLD_LOCAL);
    store_module_entry_fn entry = dl ? (store_module_entry_fn)dlsym(dl, STORE_MODULE_ENTRY) : NULL;
    const store_module *m = entry ? entry() : NULL;
    CHECK(m != NULL);
    if (!m) return;
    const char *argv[] = {pg_conninfo()};
    void *h = NULL;
    char *err = NULL;
    CHECK_EQ(m->open(1, argv, &h, &err), STORE_OK);
    m->free_error(err);
    if (h) {
        rk_module_check(m, h);
        rk_module_describe(m, h);
        CHECK_EQ(pg_halt(), 0);
        const char *keycol[] = {"id"}, *cols[] = {"plan"};
        store_value key = {SV_TEXT, 0, 0, "1", 1}, val = {SV_TEXT, 0, 0, "bogus", 5};
        store_op op = {.kind = STORE_UPSERT,
                       .table = "users",
                       .nkey = 1,
                       .keycols = keycol,
                       .keyvals = &key,
                       .ncols = 1,
                       .cols = cols,
                       .vals = &val};
        err = NULL;
        CHECK_EQ(m->check(h, &op, 1, &err), STORE_ERR_TRANSIENT);
        CHECK(err != NULL && op.status == STORE_OK && op.error == NULL);
        fprintf(stderr, "  (PostgreSQL stopped: %s)\n", err ? err : "?");
        m->free_error(err);
        CHECK_EQ(pg_restart(), 0);
        m->close(h);
    }
    dlclose(dl);
}

TEST(refused_before_reply) {
    rk_refused_before_reply(&st);
}
TEST(refused_locally) {
    rk_refused_locally(&st);
}
TEST(refused_later_dropped) {
    rk_refused_later(&st);
}
TEST(stale_if_error) {
    rk_stale_if_error(&st);
}
TEST(composite_keys) {
    rk_composite(&st);
}

int main(void) {
    if (start() != 0) {
        fprintf(stderr, "cannot start PostgreSQL with the test schema\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    RUN(module_check);
    if (start_server() != 0) {
        fprintf(stderr, "cannot start larder-server with pgstore\n");
        test_failed_++;
        pg_stop();
        return test_report();
    }
    RUN(refused_before_reply);
    RUN(refused_locally);
    RUN(refused_later_dropped);
    RUN(stale_if_error);
    RUN(composite_keys);
    srv_stop(&s);
    pg_stop();
    return test_report();
}
