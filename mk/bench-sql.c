/* mk/bench-sql.c — `make bench-sql`: the same SQL workload on Larder's SQL
 * engine and on SQLite (libsqlite3), side by side, in one run.
 *
 * Schema (identical text on both):
 *   users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT,
 *         city INT, age INT) + INDEX users_city_age(city, age)
 *   orders(id INTEGER PRIMARY KEY, user_id INT REFERENCES users(id)
 *          ON DELETE CASCADE, amount INT) + INDEX orders_user(user_id)
 * Phases (prepared statements, bind/step/reset):
 *   1. insert N users (1,000,000) in one transaction, ids in random order
 *   2. insert N/5 orders in one transaction
 *   3. 100,000 point lookups by primary key (autocommit, one read each)
 *   4. 100,000 lookups by the unique secondary index (email)
 *   5. 20 runs of a join with GROUP BY (orders x users by city)
 *   6. load the rest of the shop: cities, categories, suppliers, 10,000
 *      products, 2 order_items per order (one transaction)
 *   7. 4-, 5-, 6- and 7-table joins of users, orders, order_items, products
 *      and the small tables, with selective filters, FROM listed in a bad
 *      order (the planner must find the good one); 10 runs each
 *   8. the many-table case: 7 tables t1..t7 of 10 rows and 5 indexed
 *      integer columns, six filtered by IN lists, two joined by one
 *      equality; count(*) of the join, 5 runs
 *   9. a window-function report: per city, users ranked by their order
 *      total (rank, running sum, share of the city's total), 5 cities x 4
 *  10. a recursive CTE: 50 chains of 2,000 steps hopping through user ids,
 *      each step joined back to users
 *  11. a view (orders of big amounts joined to their users) grouped by city,
 *      10 runs
 *  12. 10,000 deletes of users by key, each cascading to its orders, in one
 *      transaction
 *  13. full-text: 20,000 generated documents (title + body, 20-120 words
 *      of a 5,000-word Zipf vocabulary) into a table with a full-text index
 *      (ours: CREATE FULLTEXT INDEX; SQLite: an FTS5 table), one transaction
 *  14. 1,000 full-text searches (terms, AND, OR, NOT, phrases, prefixes):
 *      the count of matching rows, and the top 10 by bm25()
 * SQLite: WAL, synchronous=NORMAL, foreign_keys=ON, the same page cache
 * (BENCH_CACHE_MB, default 64) and 4 KiB pages. Ours: same cache; commits
 * are durable (fsync) — every phase commits once.
 * Environment: BENCH_N (users), BENCH_FTS_DOCS, BENCH_DIR (default /tmp), BENCH_PHASES (a
 * comma list of phase numbers to time, say "9,10,11"; the loading phases
 * 1, 2 and 6 run regardless, the others not listed are skipped).
 * The two engines run phase by phase in lockstep (SQLite's phase, then
 * ours), both databases open, so that load from other processes hits both
 * alike. Prints seconds per phase and ours/SQLite ratios; checks that both
 * engines computed the same answers.
 */
#include "sql/sql.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long N = 1000000, LOOKUPS = 100000, JOINS = 20, DELETES = 10000;
static size_t cache_mb = 64;
static char dir[256] = "/tmp";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* A permutation of 1..n (ids inserted in random order). */
static long *perm;
static void make_perm(long n) {
    perm = malloc(sizeof *perm * (size_t)n);
    for (long i = 0; i < n; i++) perm[i] = i + 1;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rnd() % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static void email_of(long id, char *buf) {
    sprintf(buf, "user%ld.%lx@example.com", id, (unsigned long)(id * 2654435761u) & 0xFFFFF);
}

#define PHASES 14
#define FTS_FIRST 12   /* phases 13 and 14: full-text (fts_phase) */
#define SHARED_FIRST 5 /* phases 5..10 run the same code on both engines (eng) */
#define SHARED_LAST 10
static const char *phase_name[PHASES] = {"insert 1M users (pk + unique + composite idx)",
                                         "insert 200k orders (fk + idx)",
                                         "100k point lookups by primary key",
                                         "100k lookups by unique index",
                                         "20x join + GROUP BY (orders x users)",
                                         "load products, order_items, small tables",
                                         "4-7 table joins, 4x10 runs",
                                         "7-table IN-list join (10-row tables), 5x",
                                         "window report (rank, running sum), 20x",
                                         "recursive CTE, 50 chains of 2000 steps",
                                         "view of big orders x users by city, 10x",
                                         "10k deletes, ON DELETE CASCADE",
                                         "full-text: index 20k documents",
                                         "full-text: 1k searches, count + bm25 top 10"};

static const char *schema = "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL "
                            "UNIQUE, name TEXT, city INT, age INT);"
                            "CREATE INDEX users_city_age ON users(city, age);"
                            "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INT REFERENCES "
                            "users(id) ON DELETE CASCADE, amount INT);"
                            "CREATE INDEX orders_user ON orders(user_id);";
static const char *q_ins_user =
    "INSERT INTO users(id, email, name, city, age) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char *q_ins_order = "INSERT INTO orders(user_id, amount) VALUES (?1, ?2)";
static const char *q_by_id = "SELECT email, name, city, age FROM users WHERE id = ?1";
static const char *q_by_email = "SELECT id, name FROM users WHERE email = ?1";
static const char *q_join =
    "SELECT u.city, count(*), sum(o.amount) FROM orders o JOIN users u ON u.id = o.user_id "
    "GROUP BY u.city";
static const char *q_del = "DELETE FROM users WHERE id = ?1";

typedef struct results {
    double t[PHASES];
    long long check[PHASES];
} results;

/* ---- ours ------------------------------------------------------------------------------------ */

#define OK(x)                                                                                      \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != SQL_OK && rc_ != SQL_DONE && rc_ != SQL_ROW) {                                  \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, sql_errmsg(db));            \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static sql_stmt *prep(sql_db *db, const char *q) {
    sql_stmt *st;
    OK(sql_prepare(db, q, -1, &st, NULL));
    return st;
}

typedef struct ours_ctx {
    sql_db *db;
    char path[512];
} ours_ctx;

static void ours_open(ours_ctx *c) {
    snprintf(c->path, sizeof c->path, "%s/bench-sql-larder.db", dir);
    unlink(c->path);
    sql_options o = {.flags = SQL_OPEN_CREATE, .cache_size = cache_mb << 20};
    sql_db *db;
    OK(sql_open(c->path, &o, &db));
    c->db = db;
    OK(sql_exec(db, schema, NULL, NULL));
}

static long long ours_phase(ours_ctx *c, int phase) {
    sql_db *db = c->db;
    sql_stmt *st;
    char buf[128];
    long long sum = 0;
    switch (phase) {
    case 0:
        OK(sql_exec(db, "BEGIN", NULL, NULL));
        st = prep(db, q_ins_user);
        for (long i = 0; i < N; i++) {
            long id = perm[i];
            email_of(id, buf);
            sql_bind_int64(st, 1, id);
            sql_bind_text(st, 2, buf, -1);
            sql_bind_text(st, 3, buf + 4, 8);
            sql_bind_int64(st, 4, id % 1000);
            sql_bind_int64(st, 5, 18 + id % 60);
            OK(sql_step(st));
            sql_reset(st);
        }
        sql_finalize(st);
        OK(sql_exec(db, "COMMIT", NULL, NULL));
        return 0;
    case 1:
        OK(sql_exec(db, "BEGIN", NULL, NULL));
        st = prep(db, q_ins_order);
        for (long i = 0; i < N / 5; i++) {
            sql_bind_int64(st, 1, perm[(i * 7) % N]);
            sql_bind_int64(st, 2, (long)(i % 97));
            OK(sql_step(st));
            sql_reset(st);
        }
        sql_finalize(st);
        OK(sql_exec(db, "COMMIT", NULL, NULL));
        return 0;
    case 2:
        st = prep(db, q_by_id);
        for (long i = 0; i < LOOKUPS; i++) {
            sql_bind_int64(st, 1, perm[(i * 13) % N]);
            if (sql_step(st) == SQL_ROW) sum += sql_column_int64(st, 3);
            sql_reset(st);
        }
        sql_finalize(st);
        return sum;
    case 3:
        st = prep(db, q_by_email);
        for (long i = 0; i < LOOKUPS; i++) {
            email_of(perm[(i * 17) % N], buf);
            sql_bind_text(st, 1, buf, -1);
            if (sql_step(st) == SQL_ROW) sum += sql_column_int64(st, 0);
            sql_reset(st);
        }
        sql_finalize(st);
        return sum;
    case 4:
        st = prep(db, q_join);
        for (long j = 0; j < JOINS; j++) {
            while (sql_step(st) == SQL_ROW)
                sum += sql_column_int64(st, 1) + sql_column_int64(st, 2);
            sql_reset(st);
        }
        sql_finalize(st);
        return sum;
    default:
        OK(sql_exec(db, "BEGIN", NULL, NULL));
        st = prep(db, q_del);
        for (long i = 0; i < DELETES; i++) {
            sql_bind_int64(st, 1, perm[(i * 7) % N]);
            OK(sql_step(st));
            sql_reset(st);
        }
        sql_finalize(st);
        OK(sql_exec(db, "COMMIT", NULL, NULL));
        st = prep(db,
                  "SELECT (SELECT count(*) FROM users) * 1000000 + (SELECT count(*) FROM orders)");
        if (sql_step(st) == SQL_ROW) sum = sql_column_int64(st, 0);
        sql_finalize(st);
        return sum;
    }
}

static void ours_close(ours_ctx *c) {
    sql_close(c->db);
    unlink(c->path);
}

/* ---- SQLite ---------------------------------------------------------------------------------- */

#define LOK(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != SQLITE_OK && rc_ != SQLITE_DONE && rc_ != SQLITE_ROW) {                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, sqlite3_errmsg(db));        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static sqlite3_stmt *lprep(sqlite3 *db, const char *q) {
    sqlite3_stmt *st;
    LOK(sqlite3_prepare_v2(db, q, -1, &st, NULL));
    return st;
}

typedef struct lite_ctx {
    sqlite3 *db;
    char path[512];
} lite_ctx;

static void lite_open(lite_ctx *c) {
    char pragma[128];
    snprintf(c->path, sizeof c->path, "%s/bench-sql-sqlite.db", dir);
    unlink(c->path);
    sqlite3 *db;
    LOK(sqlite3_open(c->path, &db));
    c->db = db;
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%zu", cache_mb * 1024);
    LOK(sqlite3_exec(db,
                     "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON",
                     NULL, NULL, NULL));
    LOK(sqlite3_exec(db, pragma, NULL, NULL, NULL));
    LOK(sqlite3_exec(db, schema, NULL, NULL, NULL));
}

static long long lite_phase(lite_ctx *c, int phase) {
    sqlite3 *db = c->db;
    sqlite3_stmt *st;
    char buf[128];
    long long sum = 0;
    switch (phase) {
    case 0:
        LOK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
        st = lprep(db, q_ins_user);
        for (long i = 0; i < N; i++) {
            long id = perm[i];
            email_of(id, buf);
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, buf, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, buf + 4, 8, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 4, id % 1000);
            sqlite3_bind_int64(st, 5, 18 + id % 60);
            LOK(sqlite3_step(st));
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        LOK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
        return 0;
    case 1:
        LOK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
        st = lprep(db, q_ins_order);
        for (long i = 0; i < N / 5; i++) {
            sqlite3_bind_int64(st, 1, perm[(i * 7) % N]);
            sqlite3_bind_int64(st, 2, (long)(i % 97));
            LOK(sqlite3_step(st));
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        LOK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
        return 0;
    case 2:
        st = lprep(db, q_by_id);
        for (long i = 0; i < LOOKUPS; i++) {
            sqlite3_bind_int64(st, 1, perm[(i * 13) % N]);
            if (sqlite3_step(st) == SQLITE_ROW) sum += sqlite3_column_int64(st, 3);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        return sum;
    case 3:
        st = lprep(db, q_by_email);
        for (long i = 0; i < LOOKUPS; i++) {
            email_of(perm[(i * 17) % N], buf);
            sqlite3_bind_text(st, 1, buf, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) == SQLITE_ROW) sum += sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        return sum;
    case 4:
        st = lprep(db, q_join);
        for (long j = 0; j < JOINS; j++) {
            while (sqlite3_step(st) == SQLITE_ROW)
                sum += sqlite3_column_int64(st, 1) + sqlite3_column_int64(st, 2);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        return sum;
    default:
        LOK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
        st = lprep(db, q_del);
        for (long i = 0; i < DELETES; i++) {
            sqlite3_bind_int64(st, 1, perm[(i * 7) % N]);
            LOK(sqlite3_step(st));
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        LOK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
        st = lprep(db,
                   "SELECT (SELECT count(*) FROM users) * 1000000 + (SELECT count(*) FROM orders)");
        if (sqlite3_step(st) == SQLITE_ROW) sum = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return sum;
    }
}

static void lite_close(lite_ctx *c) {
    sqlite3_close(c->db);
    char p[600];
    unlink(c->path);
    snprintf(p, sizeof p, "%s-wal", c->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", c->path);
    unlink(p);
}

/* ---- phases shared by both engines --------------------------------------------------------- */

typedef struct eng {
    sql_db *o;  /* ours, or */
    sqlite3 *l; /* SQLite */
} eng;

static void e_exec(eng *e, const char *q) {
    if (e->o) {
        sql_db *db = e->o;
        OK(sql_exec(db, q, NULL, NULL));
    } else {
        sqlite3 *db = e->l;
        LOK(sqlite3_exec(db, q, NULL, NULL, NULL));
    }
}

static void *e_prep(eng *e, const char *q) {
    return e->o ? (void *)prep(e->o, q) : (void *)lprep(e->l, q);
}

static void e_finalize(eng *e, void *st) {
    if (e->o)
        sql_finalize(st);
    else
        sqlite3_finalize(st);
}

/* Bind integer parameters, run to the end, reset: the sum of every integer
 * column of every row. */
static long long e_run(eng *e, void *st, const long *params, int n) {
    long long sum = 0;
    if (e->o) {
        sql_db *db = e->o;
        int rc;
        for (int i = 0; i < n; i++) sql_bind_int64(st, i + 1, params[i]);
        while ((rc = sql_step(st)) == SQL_ROW)
            for (int c = 0; c < sql_column_count(st); c++) sum += sql_column_int64(st, c);
        OK(rc);
        sql_reset(st);
    } else {
        sqlite3 *db = e->l;
        int rc;
        for (int i = 0; i < n; i++) sqlite3_bind_int64(st, i + 1, params[i]);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) sum += sqlite3_column_int64(st, c);
        LOK(rc);
        sqlite3_reset(st);
    }
    return sum;
}

static const char *shop_schema =
    "CREATE TABLE cities(id INTEGER PRIMARY KEY, name TEXT, region INT);"
    "CREATE TABLE categories(id INTEGER PRIMARY KEY, name TEXT);"
    "CREATE TABLE suppliers(id INTEGER PRIMARY KEY, name TEXT, country INT);"
    "CREATE TABLE products(id INTEGER PRIMARY KEY, name TEXT, category_id INT, supplier_id INT, "
    "price INT);"
    "CREATE INDEX products_category ON products(category_id);"
    "CREATE TABLE order_items(id INTEGER PRIMARY KEY, order_id INT, product_id INT, qty INT);"
    "CREATE INDEX order_items_order ON order_items(order_id);"
    "CREATE INDEX order_items_product ON order_items(product_id);";

#define NPRODUCTS 10000
static void load_shop(eng *e) {
    e_exec(e, shop_schema);
    e_exec(e, "BEGIN");
    long p[5];
    void *st = e_prep(e, "INSERT INTO cities VALUES (?1, 'city' || ?1, ?2)");
    for (long i = 0; i < 1000; i++) p[0] = i, p[1] = i % 50, e_run(e, st, p, 2);
    e_finalize(e, st);
    st = e_prep(e, "INSERT INTO categories VALUES (?1, 'cat' || ?1)");
    for (long i = 0; i < 100; i++) p[0] = i, e_run(e, st, p, 1);
    e_finalize(e, st);
    st = e_prep(e, "INSERT INTO suppliers VALUES (?1, 'supplier' || ?1, ?2)");
    for (long i = 0; i < 1000; i++) p[0] = i, p[1] = i % 30, e_run(e, st, p, 2);
    e_finalize(e, st);
    st = e_prep(e, "INSERT INTO products VALUES (?1, 'product' || ?1, ?2, ?3, ?4)");
    for (long i = 0; i < NPRODUCTS; i++)
        p[0] = i, p[1] = (i * 7) % 100, p[2] = (i * 13) % 1000, p[3] = 1 + i % 500,
        e_run(e, st, p, 4);
    e_finalize(e, st);
    st = e_prep(e, "INSERT INTO order_items(order_id, product_id, qty) VALUES (?1, ?2, ?3)");
    for (long o = 1; o <= N / 5; o++)
        for (long k = 0; k < 2; k++)
            p[0] = o, p[1] = (o * 31 + k * 4999) % NPRODUCTS, p[2] = 1 + (o + k) % 5,
            e_run(e, st, p, 3);
    e_finalize(e, st);
    e_exec(e, "COMMIT");
}

/* Filters pick a few hundred users (city, age), a category, a supplier
 * country, a region; FROM lists the big tables first. */
static const char *shop_joins[4] = {
    "SELECT count(*), sum(i.qty * p.price) FROM products p JOIN order_items i ON i.product_id = "
    "p.id JOIN orders o ON o.id = i.order_id JOIN users u ON u.id = o.user_id "
    "WHERE u.city = ?1 AND u.age = ?2",
    "SELECT count(*), sum(i.qty) FROM order_items i, orders o, users u, products p, categories c "
    "WHERE i.product_id = p.id AND o.id = i.order_id AND u.id = o.user_id AND c.id = "
    "p.category_id AND u.city = ?1 AND c.name = 'cat' || ?2",
    "SELECT count(*), sum(o.amount) FROM order_items i, products p, suppliers s, orders o, "
    "users u, categories c WHERE p.id = i.product_id AND s.id = p.supplier_id AND o.id = "
    "i.order_id AND u.id = o.user_id AND c.id = p.category_id AND u.city = ?1 AND u.age IN "
    "(?2, ?2 + 1) AND s.country <> 99",
    "SELECT count(*), sum(o.amount) FROM order_items i, orders o, users u, products p, suppliers "
    "s, categories c, cities ci WHERE ci.id = u.city AND s.id = p.supplier_id AND c.id = "
    "p.category_id AND p.id = i.product_id AND o.id = i.order_id AND u.id = o.user_id AND "
    "ci.region = ?1 % 50 AND u.age = ?2 AND s.country = ?1 % 30"};

static long long shop_phase(eng *e) {
    long long sum = 0;
    for (int q = 0; q < 4; q++) {
        void *st = e_prep(e, shop_joins[q]);
        for (long r = 0; r < 10; r++) {
            long p[2] = {(r * 37) % 1000, 18 + (r * 11) % 60};
            sum += e_run(e, st, p, 2);
        }
        e_finalize(e, st);
    }
    return sum;
}

/* Six of t1..t7 filtered by IN lists on their own indexed columns, t7
 * joined to t1 by one equality: the answer is a product of small counts. */
static const char *many_join =
    "SELECT count(*) FROM t1, t2, t3, t4, t5, t6, t7 WHERE a1 IN (1,2,3,4,5,6,7,8,9,10) AND "
    "b2 IN (1,2,3,4,5,6,7,8,9,10) AND c3 IN (1,5,6,2,3,4,7,8,9,10) AND d4 IN (1,4,7,10,2,3) "
    "AND e5 IN (2,4,6,8,1,3) AND a6 IN (1,3,5,7,2,4) AND b7 = c1";

static long long many_phase(eng *e) {
    char q[200];
    uint64_t seed = 42;
    e_exec(e, "BEGIN");
    for (int t = 1; t <= 7; t++) {
        snprintf(q, sizeof q,
                 "CREATE TABLE t%d(a%d INTEGER, b%d INTEGER, c%d INTEGER, d%d INTEGER, "
                 "e%d INTEGER)",
                 t, t, t, t, t, t);
        e_exec(e, q);
        for (int r = 0; r < 10; r++) {
            long v[5];
            for (int k = 0; k < 5; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                v[k] = 1 + (long)((seed >> 33) % 10);
            }
            snprintf(q, sizeof q, "INSERT INTO t%d VALUES (%ld, %ld, %ld, %ld, %ld)", t, v[0], v[1],
                     v[2], v[3], v[4]);
            e_exec(e, q);
        }
        for (const char *c = "abcde"; *c; c++) {
            snprintf(q, sizeof q, "CREATE INDEX t%d%c ON t%d(%c%d)", t, *c, t, *c, t);
            e_exec(e, q);
        }
    }
    e_exec(e, "COMMIT");
    long long sum = 0;
    void *st = e_prep(e, many_join);
    for (int r = 0; r < 5; r++) sum += e_run(e, st, NULL, 0);
    e_finalize(e, st);
    return sum;
}

/* Users of one city ranked by their order total, with a running sum and
 * their share of the city's total: a grouped subquery under three windows. */
static const char *window_report =
    "SELECT user_id, total, rank() OVER w, sum(total) OVER w, "
    "total * 1000 / sum(total) OVER (PARTITION BY city) FROM "
    "(SELECT u.city, o.user_id, sum(o.amount) AS total FROM orders o JOIN users u "
    "ON u.id = o.user_id WHERE u.city BETWEEN ?1 AND ?1 + 2 GROUP BY o.user_id) "
    "WINDOW w AS (PARTITION BY city ORDER BY total DESC, user_id)";

static long long window_phase(eng *e) {
    long long sum = 0;
    void *st = e_prep(e, window_report);
    for (long r = 0; r < 20; r++) {
        long p[1] = {(r * 7) % 100};
        sum += e_run(e, st, p, 1);
    }
    e_finalize(e, st);
    return sum;
}

/* A chain of user ids, each the next by a fixed hop, read back from users. */
static long long cte_phase(eng *e) {
    char q[512];
    snprintf(q, sizeof q,
             "WITH RECURSIVE chain(n, id) AS (SELECT 1, ?1 UNION ALL "
             "SELECT n + 1, (id * 7919 + 13) %% %ld + 1 FROM chain WHERE n < 2000) "
             "SELECT count(*), sum(u.age), max(u.city) FROM chain JOIN users u ON u.id = chain.id",
             N);
    long long sum = 0;
    void *st = e_prep(e, q);
    for (long r = 0; r < 50; r++) {
        long p[1] = {1 + (r * 104729) % N};
        sum += e_run(e, st, p, 1);
    }
    e_finalize(e, st);
    return sum;
}

static long long view_phase(eng *e) {
    e_exec(e, "CREATE VIEW big_orders AS SELECT o.id, o.user_id, o.amount, u.city, u.age "
              "FROM orders o JOIN users u ON u.id = o.user_id WHERE o.amount >= 900");
    long long sum = 0;
    void *st = e_prep(e, "SELECT city, count(*), sum(amount) FROM big_orders "
                         "WHERE age >= ?1 GROUP BY city");
    for (long r = 0; r < 10; r++) {
        long p[1] = {18 + r * 5};
        sum += e_run(e, st, p, 1);
    }
    e_finalize(e, st);
    return sum;
}

static long long shared_phase(eng *e, int phase) {
    switch (phase) {
    case 5:
        load_shop(e);
        return 0;
    case 6:
        return shop_phase(e);
    case 7:
        return many_phase(e);
    case 8:
        return window_phase(e);
    case 9:
        return cte_phase(e);
    default:
        return view_phase(e);
    }
}

/* ---- full-text search: ours against FTS5 ------------------------------------------------------
 */

static long FTS_DOCS = 20000, FTS_QUERIES = 1000;
static uint64_t fts_rs;
static uint64_t fts_rnd(void) {
    fts_rs ^= fts_rs << 13;
    fts_rs ^= fts_rs >> 7;
    fts_rs ^= fts_rs << 17;
    return fts_rs;
}

/* Word w of the vocabulary: distinct syllable strings. */
static void fts_word(long w, char *out) {
    static const char *syl[] = {"ka", "lo",  "mi",  "ne",  "ru",  "sa", "ti",  "vo",  "ze",  "pa",
                                "qu", "bre", "dan", "fil", "gor", "hu", "jin", "xel", "wyn", "ost"};
    sprintf(out, "%s%s%s", syl[w % 20], syl[(w / 20) % 20], w >= 400 ? syl[(w / 400) % 20] : "");
    if (w >= 8000) sprintf(out + strlen(out), "%ld", w / 8000);
}

static long fts_pick(void) { /* Zipf-like over 5,000 words */
    double u = (double)(fts_rnd() % 1000000) / 1e6;
    return (long)(5000 * u * u * u);
}

static void fts_text(char *out, int nw) {
    char w[32];
    size_t n = 0;
    for (int i = 0; i < nw; i++) {
        fts_word(fts_pick(), w);
        n += (size_t)sprintf(out + n, "%s%s", i ? (fts_rnd() % 8 ? " " : ", ") : "", w);
    }
    out[n] = 0;
}

static void fts_query(char *q) {
    char a[32], b[32];
    fts_word(100 + (long)(fts_rnd() % 2000), a); /* some hundreds of rows each */
    fts_word(100 + (long)(fts_rnd() % 2000), b);
    switch (fts_rnd() % 6) {
    case 0:
        sprintf(q, "%s", a);
        break;
    case 1:
        sprintf(q, "%s %s", a, b);
        break;
    case 2:
        sprintf(q, "%s OR %s", a, b);
        break;
    case 3:
        sprintf(q, "%s NOT %s", a, b);
        break;
    case 4:
        sprintf(q, "\"%s %s\"", a, b);
        break;
    default:
        sprintf(q, "%.3s* %s", a, b);
        break;
    }
}

static long long fts_load(eng *e) {
    char title[400], body[2000];
    fts_rs = 0x5EED5EEDull;
    e_exec(e, e->o ? "CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, body TEXT);"
                     "CREATE FULLTEXT INDEX docs_fts ON docs(title, body)"
                   : "CREATE VIRTUAL TABLE docs USING fts5(title, body)");
    e_exec(e, "BEGIN");
    void *st = e_prep(e, e->o ? "INSERT INTO docs(id, title, body) VALUES (?1, ?2, ?3)"
                              : "INSERT INTO docs(rowid, title, body) VALUES (?1, ?2, ?3)");
    for (long i = 1; i <= FTS_DOCS; i++) {
        fts_text(title, 3 + (int)(fts_rnd() % 6));
        fts_text(body, 20 + (int)(fts_rnd() % 100));
        if (e->o) {
            sql_db *db = e->o;
            sql_bind_int64(st, 1, i);
            sql_bind_text(st, 2, title, -1);
            sql_bind_text(st, 3, body, -1);
            OK(sql_step(st));
            sql_reset(st);
        } else {
            sqlite3 *db = e->l;
            sqlite3_bind_int64(st, 1, i);
            sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
            LOK(sqlite3_step(st));
            sqlite3_reset(st);
        }
    }
    e_finalize(e, st);
    e_exec(e, "COMMIT");
    return FTS_DOCS;
}

/* Rows of a statement with one text parameter: count (or the first
 * column's value when count_col). */
static long long fts_run(eng *e, void *st, const char *q, int count_col) {
    long long n = 0;
    if (e->o) {
        sql_db *db = e->o;
        int rc;
        sql_bind_text(st, 1, q, -1);
        while ((rc = sql_step(st)) == SQL_ROW) n += count_col ? sql_column_int64(st, 0) : 1;
        OK(rc);
        sql_reset(st);
    } else {
        sqlite3 *db = e->l;
        int rc;
        sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            n += count_col ? sqlite3_column_int64(st, 0) : 1;
        LOK(rc);
        sqlite3_reset(st);
    }
    return n;
}

static long long fts_search(eng *e) {
    char q[100];
    long long sum = 0;
    fts_rs = 0xF75F75ull;
    void *cnt = e_prep(e, "SELECT count(*) FROM docs WHERE docs MATCH ?1");
    void *top =
        e_prep(e, e->o ? "SELECT id FROM docs WHERE docs MATCH ?1 ORDER BY bm25(docs) LIMIT 10"
                       : "SELECT rowid FROM docs WHERE docs MATCH ?1 ORDER BY bm25(docs) LIMIT 10");
    for (long i = 0; i < FTS_QUERIES; i++) {
        fts_query(q);
        sum += fts_run(e, cnt, q, 1) * 100 + fts_run(e, top, q, 0);
    }
    e_finalize(e, cnt);
    e_finalize(e, top);
    return sum;
}

static long long fts_phase(eng *e, int phase) {
    return phase == FTS_FIRST ? fts_load(e) : fts_search(e);
}

/* BENCH_PHASES: is phase p (0-based) to run? */
static int phase_wanted(int p);
static int phase_wanted(int p) {
    const char *w = getenv("BENCH_PHASES");
    if (!w || p == 0 || p == 1 || p == 5) return 1;
    if (p == FTS_FIRST && phase_wanted(FTS_FIRST + 1)) return 1; /* the documents to search */
    for (const char *s = w; *s;) {
        char *end;
        long n = strtol(s, &end, 10);
        if (end == s) break;
        if (n == p + 1) return 1;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
    if (getenv("BENCH_N")) N = atol(getenv("BENCH_N"));
    if (getenv("BENCH_DIR")) snprintf(dir, sizeof dir, "%s", getenv("BENCH_DIR"));
    if (getenv("BENCH_CACHE_MB")) cache_mb = (size_t)atol(getenv("BENCH_CACHE_MB"));
    if (getenv("BENCH_FTS_DOCS")) FTS_DOCS = atol(getenv("BENCH_FTS_DOCS"));
    if (LOOKUPS > N) LOOKUPS = N;
    if (DELETES > N / 2) DELETES = N / 2;
    make_perm(N);
    printf("bench-sql: %ld users, %ld orders, %zu MiB cache, 4 KiB pages, files in %s\n", N, N / 5,
           cache_mb, dir);
    printf("SQLite %s: WAL, synchronous=NORMAL, foreign_keys=ON; %s: commits fsynced\n\n",
           sqlite3_libversion(), sql_version());
    results ours = {0}, lite = {0};
    double cpu_o[PHASES], cpu_l[PHASES];
    ours_ctx oc;
    lite_ctx lc;
    lite_open(&lc);
    ours_open(&oc);
    int skipped[PHASES] = {0};
    for (int p = 0; p < PHASES; p++) {
        double t0 = now(), c0 = cpu_now();
        eng el = {.l = lc.db}, eo = {.o = oc.db};
        int shared = p >= SHARED_FIRST && p <= SHARED_LAST, fts = p >= FTS_FIRST;
        /* the engines' own phase numbers */
        int ep = p > SHARED_LAST ? p - (SHARED_LAST - SHARED_FIRST + 1) : p;
        if (!phase_wanted(p)) {
            skipped[p] = 1;
            continue;
        }
        lite.check[p] = fts      ? fts_phase(&el, p)
                        : shared ? shared_phase(&el, p)
                                 : lite_phase(&lc, ep);
        lite.t[p] = now() - t0;
        cpu_l[p] = cpu_now() - c0;
        t0 = now(), c0 = cpu_now();
        ours.check[p] = fts      ? fts_phase(&eo, p)
                        : shared ? shared_phase(&eo, p)
                                 : ours_phase(&oc, ep);
        ours.t[p] = now() - t0;
        cpu_o[p] = cpu_now() - c0;
    }
    lite_close(&lc);
    ours_close(&oc);
    printf("%-48s %9s %9s %8s %10s\n", "phase", "larder s", "sqlite s", "ratio", "cpu ratio");
    int mismatch = 0;
    for (int i = 0; i < PHASES; i++) {
        if (skipped[i]) {
            printf("%-48s %9s %9s %8s %10s\n", phase_name[i], "-", "-", "-", "-");
            continue;
        }
        printf("%-48s %9.3f %9.3f %7.2fx %9.2fx%s\n", phase_name[i], ours.t[i], lite.t[i],
               ours.t[i] / lite.t[i], cpu_o[i] / cpu_l[i],
               ours.check[i] != lite.check[i] ? "  (RESULTS DIFFER)" : "");
        mismatch |= ours.check[i] != lite.check[i];
    }
    double so = 0, sl = 0;
    for (int i = 0; i < PHASES; i++) so += ours.t[i], sl += lite.t[i];
    printf("%-48s %9.3f %9.3f %7.2fx\n", "total", so, sl, so / sl);
    free(perm);
    return mismatch;
}
