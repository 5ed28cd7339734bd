/* The consistency rules against the bundled store (rulekit.h): refused
 * rows, stale-if-error (the store made unreachable with DEBUG STORE-FAIL),
 * composite primary keys. test_pg_rules runs the same cases on PostgreSQL. */
#include "persist/store_api.h"
#include "pkit.h"
#include "rulekit.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pk_env env;
static rk_store st;

static int fail_store(redisContext *c) {
    char *r = cmd_str(c, "DEBUG STORE-FAIL 1000000000");
    int ok = r && !strcmp(r, "+OK");
    free(r);
    return ok ? 0 : -1;
}

static int heal_store(redisContext *c) {
    char *r = cmd_str(c, "DEBUG STORE-FAIL 0");
    int ok = r && !strcmp(r, "+OK");
    free(r);
    return ok ? 0 : -1;
}

/* The server starts without maps; the tables are made over SQL.EXEC, then
 * the maps are set. */
static int start(void) {
    if (pk_start(&env, NULL) != 0) return -1;
    redisContext *c = srv_connect(&env.s);
    if (!c) return -1;
    const char *ddl[] = {RK_SCHEMA_USERS, RK_SCHEMA_PRODUCTS, RK_SCHEMA_ENROLLMENTS,
                         RK_SCHEMA_PAIRS, RK_SCHEMA_GRADES,   RK_SCHEMA_MEMBERS,
                         RK_ROWS};
    for (size_t i = 0; i < sizeof(ddl) / sizeof(ddl[0]); i++) pk_exec(c, ddl[i]);
    {
        char maps[1024] = "";
        for (int i = 0; i < RK_NMAPS; i++) {
            if (i) strcat(maps, "; ");
            strcat(maps, rk_maps[i]);
        }
        CHECK_CMD(c, "+OK", "CONFIG SET map %s", maps);
    }
    redisFree(c);
    st = (rk_store){"sqlstore", &env.s, fail_store, heal_store};
    return 0;
}

/* The module's check entry point, called directly on a store file of its own. */
TEST(module_check) {
    /* a ThreadSanitizer build's module cannot join this plain test program */
    if (pk_tsan()) return;
    void *dl = dlopen(pk_module_path(), RTLD_NOW | RTLD_LOCAL);
    store_module_entry_fn entry = dl ? (store_module_entry_fn)dlsym(dl, STORE_MODULE_ENTRY) : NULL;
    const store_module *m = entry ? entry() : NULL;
    CHECK(m != NULL);
    if (!m) return;
    char dir[] = "/tmp/larder-rkmod-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/check.db", dir);
    const char *argv[] = {"store-path", path};
    void *h = NULL;
    char *err = NULL;
    int64_t aff;
    CHECK_EQ(m->open(2, argv, &h, &err), STORE_OK);
    if (h && m->query(h, RK_SCHEMA_USERS, 0, NULL, 0, NULL, NULL, NULL, &aff, &err) == STORE_OK)
        rk_module_check(m, h);
    if (h && m->query(h, RK_SCHEMA_MEMBERS, 0, NULL, 0, NULL, NULL, NULL, &aff, &err) == STORE_OK)
        rk_module_describe(m, h);
    m->free_error(err);
    if (h) m->close(h);
    dlclose(dl);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
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
        fprintf(stderr, "cannot start larder-server with the bundled store\n");
        test_failed_++;
        pk_cleanup(&env);
        return test_report();
    }
    RUN(module_check);
    RUN(refused_before_reply);
    RUN(refused_locally);
    RUN(refused_later_dropped);
    RUN(stale_if_error);
    RUN(composite_keys);
    pk_cleanup(&env);
    return test_report();
}
