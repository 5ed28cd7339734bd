/* tests/integration/rulekit — the consistency rules (refused rows,
 * stale-if-error, composite primary keys) as cases that run against either
 * store module: test_persist_rules (the bundled store) and test_pg_rules
 * (PostgreSQL) start a server over the same tables and maps (below) and run
 * every case on it. Each case ends with "store equals cache after WB.FLUSH"
 * for the maps it wrote.
 *
 * Tables (SQL both engines take), with their rows before the first case:
 *   users       (id integer PRIMARY KEY, email text NOT NULL UNIQUE,
 *                plan text CHECK (plan IN ('free','pro')))
 *   products    (sku text PRIMARY KEY, name text)        ('p1','kettle')
 *   enrollments (student_id integer, course_id text, grade text,
 *                PRIMARY KEY (student_id, course_id))
 *   pairs       (a text, b integer, v text, PRIMARY KEY (a, b))
 *   grades      (course text, term integer, score integer,
 *                PRIMARY KEY (course, term))
 *   members     (id integer PRIMARY KEY, email text NOT NULL, age integer,
 *                code varchar(4), active boolean,
 *                joined text NOT NULL DEFAULT 'today'): no CHECK, so the
 *                server judges its write-behind rows itself
 * Maps: RK_MAPS. */
#ifndef LARDER_TEST_RULEKIT_H
#define LARDER_TEST_RULEKIT_H
#include "harness.h"

#define RK_SCHEMA_USERS                                                                            \
    "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL UNIQUE, "                     \
    "plan text CHECK (plan IN ('free','pro')))"
#define RK_SCHEMA_PRODUCTS "CREATE TABLE products (sku text PRIMARY KEY, name text)"
#define RK_SCHEMA_ENROLLMENTS                                                                      \
    "CREATE TABLE enrollments (student_id integer, course_id text, grade text, "                   \
    "PRIMARY KEY (student_id, course_id))"
#define RK_SCHEMA_PAIRS "CREATE TABLE pairs (a text, b integer, v text, PRIMARY KEY (a, b))"
#define RK_SCHEMA_GRADES                                                                           \
    "CREATE TABLE grades (course text, term integer, score integer, PRIMARY KEY (course, term))"
#define RK_SCHEMA_MEMBERS                                                                          \
    "CREATE TABLE members (id integer PRIMARY KEY, email text NOT NULL, age integer, "             \
    "code varchar(4), active boolean, joined text NOT NULL DEFAULT 'today')"
#define RK_ROWS "INSERT INTO products VALUES ('p1', 'kettle')"

/* The maps, one spec each (a --map value, or joined with "; " for CONFIG SET). */
extern const char *const rk_maps[];
/* The mapped tables (for an invalidation setup). */
extern const char *const rk_tables[];
enum { RK_NMAPS = 6 };

/* The store under test. */
typedef struct rk_store {
    const char *name; /* "sqlstore" or "pgstore" */
    srv *s;
    /* Makes the store unreachable (every call fails as transient) and
     * reachable again; 0 on success. */
    int (*unreachable)(redisContext *c);
    int (*reachable)(redisContext *c);
} rk_store;

/* A write-behind write the table alone refuses gets -BACKEND before the
 * reply, the cache unchanged, nothing in the store or the dead letter. */
void rk_refused_before_reply(const rk_store *st);
/* A table without CHECK (members): its write-behind rows are judged by the
 * server itself, with no store round trip — NOT NULL and the key's type on
 * both stores, the other columns' types on PostgreSQL — refused and
 * accepted at once while the store thread is held by a slow batch; after
 * SQL.EXEC changes the schema the store judges until the table is read
 * again. */
void rk_refused_locally(const rk_store *st);
/* A row refused later (UNIQUE) goes to the dead letter and its entry is
 * dropped; a newer write pending meanwhile stays and is written. */
void rk_refused_later(const rk_store *st);
/* stale-if-error: the expired entry is served while the store is
 * unreachable, counted; after the window the error; then fresh again. */
void rk_stale_if_error(const rk_store *st);
/* The module's check entry point called directly (m, h: an open store
 * with the tables): what the table alone refuses is marked, rows refused
 * only by other rows (UNIQUE) and deletes pass, nothing is committed. */
struct store_module;
void rk_module_check(const struct store_module *m, void *h);
/* The module's describe of members and users (open store, both tables):
 * what it lets the server judge (store_column.check). */
void rk_module_describe(const struct store_module *m, void *h);
/* Composite keys in every mode, separators inside values, keys that do
 * not match, SQL.EXEC invalidation, deletes. */
void rk_composite(const rk_store *st);
#endif
