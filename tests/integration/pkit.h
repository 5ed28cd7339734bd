/* tests/integration/pkit — helpers for the persistence tests.
 *
 * pk_start() runs larder-server with the store module under test
 * ($LARDER_BUILD/modules/sqlstore.so, absolute, or pgstore.so: see pk_pg),
 * a store file and a journal in
 * a data directory of the test's own (so a test can stop, kill and restart
 * the server on the same files); pk_cleanup() removes that directory.
 *
 * The closing check of every test is pk_check_map(): WB.FLUSH, then every
 * cached key of a mapping (SCAN) is compared with its row read back by
 * SQL.QUERY — "store equals cache after WB.FLUSH". */
#ifndef LARDER_TEST_PKIT_H
#define LARDER_TEST_PKIT_H
#include "harness.h"

typedef struct pk_env {
    srv s;
    char data[256]; /* the data directory (store + journal) */
    char store[320];
    char journal[320];
    int running;
} pk_env;

/* The store under test: the bundled store, or with LARDER_TEST_STORE=pg
 * pgstore in front of a real PostgreSQL (pgkit) that pk_start() starts once
 * per test program; each new environment (first pk_start) gets an empty
 * public schema, as a new store file is empty. The module is loaded as
 * `loadmodule pgstore.so "<conninfo>"` (one quoted argument). The checks
 * read the store back with SQL.QUERY, that is through the module. */
int pk_pg(void);
const char *pk_store_name(void); /* "sqlstore" or "pg" */
/* Where the stores' SQL differs, the one place that chooses: the text for
 * the store under test. */
const char *pk_sql(const char *bundled, const char *pg);
/* The stores' words for a row refused by a constraint (in both modules'
 * -BACKEND and dead-letter messages). */
#define PK_MSG_CHECK pk_sql("CHECK constraint failed", "violates check constraint")
#define PK_MSG_UNIQUE pk_sql("UNIQUE constraint failed", "violates unique constraint")
#define PK_MSG_FKEY pk_sql("FOREIGN KEY constraint failed", "violates foreign key constraint")
/* sql in the dialect of the store under test (caller frees): the bundled
 * engine's type names PostgreSQL spells differently (BLOB, REAL) are
 * rewritten. pk_exec applies it. */
char *pk_dialect(const char *sql);
/* Absolute path of the store module under test. */
const char *pk_module_path(void);
/* Nonzero when the binaries were built with ASan or TSan (LARDER_BUILD ends
 * in -san or -tsan):
 * heavy tests scale down. */
int pk_sanitized(void);
/* Nonzero under ThreadSanitizer (LARDER_BUILD ends in -tsan): the server runs
 * several times slower, so bounds on wall time do not hold there. */
int pk_tsan(void);
/* Creates the data directory (first call) and starts the server with
 * --loadmodule, --store-path, --journal-path plus extra ("--name", "value",
 * ..., NULL). 0 on success. */
int pk_start(pk_env *e, const char *const *extra);
/* For a test that runs the server itself: the arguments that open e's store
 * (--loadmodule PATH, with PostgreSQL --store-conninfo CONNINFO, the
 * directive where pk_start passes a module argument; --store-path,
 * --journal-path) into out; returns how many (at most 8). */
int pk_store_args(const char **out, const pk_env *e);
void pk_stop(pk_env *e);    /* SIGTERM: a clean shutdown (flushes) */
void pk_kill(pk_env *e);    /* SIGKILL */
void pk_cleanup(pk_env *e); /* stops the server if running, removes the data */

/* Runs a command and returns the reply (caller frees with freeReplyObject). */
redisReply *pk_cmd(redisContext *c, const char *fmt, ...);
/* Sends a command without waiting for its reply (pipelining, or a client
 * that will block); pk_recv_str() reads the next reply rendered as text
 * (caller frees; "(lost)" on a lost connection). */
void pk_send(redisContext *c, const char *fmt, ...);
char *pk_recv_str(redisContext *c);
/* A numeric field of INFO (all sections); -1 when absent or on error. */
long long pk_info(redisContext *c, const char *field);
/* A field of INFO as text into out ("" and -1 when absent). */
int pk_info_text(redisContext *c, const char *field, char *out, size_t outsz);
/* A field of INFO as a double (wt_group_size_avg); -1 when absent. */
double pk_info_d(redisContext *c, const char *field);
/* Polls INFO until field >= min or timeout_ms passes; returns the last value. */
long long pk_wait_info_ge(redisContext *c, const char *field, long long min, int timeout_ms);
/* Polls INFO until field == want or timeout_ms passes; returns the last value. */
long long pk_wait_info_eq(redisContext *c, const char *field, long long want, int timeout_ms);
/* Runs SQL.EXEC and CHECKs that it did not fail; returns the reply text. */
void pk_exec(redisContext *c, const char *sql);
/* Polls PING until the server stops answering -LOADING (timeout_ms); 0 when
 * serving, -1 on timeout or a lost connection. *loading_seen counts -LOADING
 * replies (may be NULL). */
int pk_wait_serving(redisContext *c, int timeout_ms, int *loading_seen);

/* Store equals cache: WB.FLUSH (must be +OK), then for every cached key
 * "<prefix><id>" (SCAN MATCH): a string mapping (column != NULL) compares
 * GET with the column, a hash mapping (cols = "a,b,c", the non-key columns)
 * compares HGETALL with the row: a NULL column is an absent field, numbers
 * compare by value. Prints each difference; returns how many there were
 * (and how many keys were compared in *compared, if not NULL). */
int pk_check_map(redisContext *c, const char *table, const char *prefix, const char *keycol,
                 const char *column, const char *cols, int *compared);
/* Convenience: CHECK(pk_check_map(...) == 0). */
#define PK_CHECK_MAP(c, table, prefix, keycol, column, cols)                                       \
    do {                                                                                           \
        int n_ = -1;                                                                               \
        int d_ = pk_check_map(c, table, prefix, keycol, column, cols, &n_);                        \
        CHECK_EQ(d_, 0);                                                                           \
    } while (0)

double pk_now_ms(void); /* monotonic */
/* Sleeps (pacing a client loop, never as synchronisation). */
void pk_sleep_ms(int ms);
#endif
