/* tests/integration/pkit — see pkit.h. */
#include "pkit.h"
#include "../../modules/pgstore/pgstore.h"
#include "persist/store_api.h"
#include "pgkit.h"
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double pk_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void pk_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int pk_pg(void) {
    const char *s = getenv("LARDER_TEST_STORE");
    return s && !strcmp(s, "pg");
}

const char *pk_store_name(void) {
    return pk_pg() ? "pg" : "sqlstore";
}

const char *pk_sql(const char *bundled, const char *pg) {
    return pk_pg() ? pg : bundled;
}

/* The bundled engine's type names that PostgreSQL spells differently: BLOB
 * is bytea; REAL is 4 bytes there, 8 here (double precision). Whole words
 * outside quotes only. */
static char *to_pg_dialect(const char *sql) {
    static const char *const from[] = {"BLOB", "REAL"};
    static const char *const to[] = {"bytea", "double precision"};
    size_t cap = strlen(sql) * 2 + 64, n = 0;
    char *out = malloc(cap);
    char quote = 0;
    for (const char *p = sql; *p;) {
        if (quote) {
            if (*p == quote) quote = 0;
            out[n++] = *p++;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            quote = *p;
            out[n++] = *p++;
            continue;
        }
        int hit = -1;
        for (int i = 0; i < 2 && hit < 0; i++) {
            size_t l = strlen(from[i]);
            if (!strncasecmp(p, from[i], l) && !isalnum((unsigned char)p[l]) && p[l] != '_' &&
                (p == sql || (!isalnum((unsigned char)p[-1]) && p[-1] != '_')))
                hit = i;
        }
        if (hit < 0) {
            out[n++] = *p++;
            continue;
        }
        n += (size_t)sprintf(out + n, "%s", to[hit]);
        p += strlen(from[hit]);
    }
    out[n] = '\0';
    return out;
}

char *pk_dialect(const char *sql) {
    return pk_pg() ? to_pg_dialect(sql) : strdup(sql);
}

const char *pk_module_path(void) {
    static char path[PATH_MAX];
    if (path[0]) return path;
    const char *b = getenv("LARDER_BUILD");
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/modules/%s.so", b && *b ? b : "build",
             pk_pg() ? "pgstore" : "sqlstore");
    if (!realpath(rel, path)) snprintf(path, sizeof(path), "%s", rel);
    return path;
}

int pk_sanitized(void) {
    const char *b = getenv("LARDER_BUILD");
    if (b && (strstr(b, "-san") || strstr(b, "-tsan"))) return 1;
    const char *s = larder_server_path();
    return s && (strstr(s, "-san") || strstr(s, "-tsan"));
}

int pk_tsan(void) {
    const char *b = getenv("LARDER_BUILD");
    return b && strstr(b, "-tsan") != NULL;
}

static void pg_install(int n, const char *const *tables);

/* PostgreSQL: one server for the test program (started on first use), and
 * an empty public schema for every new environment, as a new store file is
 * empty. */
static int pg_fresh_store(void) {
    static int started;
    if (!started) {
        if (pg_start() != 0) return -1;
        started = 1;
    }
    /* open to every role, as before PostgreSQL 15: a test may connect as another */
    if (pg_psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public; "
                "GRANT ALL ON SCHEMA public TO PUBLIC;") != 0)
        return -1;
    pg_install(0, NULL); /* the log first: a session asks once whether it exists */
    return pg_psql("GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC; "
                   "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO PUBLIC;");
}

int pk_start(pk_env *e, const char *const *extra) {
    if (!e->data[0]) {
        snprintf(e->data, sizeof(e->data), "/tmp/larder-ptest-XXXXXX");
        if (!mkdtemp(e->data)) return -1;
        snprintf(e->store, sizeof(e->store), "%s/store.db", e->data);
        snprintf(e->journal, sizeof(e->journal), "%s/wb.journal", e->data);
        if (pk_pg() && pg_fresh_store() != 0) {
            fprintf(stderr, "pk_start: no PostgreSQL for LARDER_TEST_STORE=pg\n");
            return -1;
        }
    }
    const char *argv[64];
    int n = 0;
    argv[n++] = "--loadmodule";
    argv[n++] = pk_module_path();
    if (pk_pg()) argv[n++] = pg_conninfo(); /* one argument with spaces: quoted on the way */
    argv[n++] = "--store-path";
    argv[n++] = e->store;
    argv[n++] = "--journal-path";
    argv[n++] = e->journal;
    for (int i = 0; extra && extra[i] && n < 56; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    int rc = srv_start(&e->s, argv);
    e->running = rc == 0;
    return rc;
}

int pk_store_args(const char **out, const pk_env *e) {
    int n = 0;
    out[n++] = "--loadmodule";
    out[n++] = pk_module_path();
    if (pk_pg()) {
        out[n++] = "--store-conninfo";
        out[n++] = pg_conninfo();
    }
    out[n++] = "--store-path";
    out[n++] = e->store;
    out[n++] = "--journal-path";
    out[n++] = e->journal;
    return n;
}

void pk_stop(pk_env *e) {
    if (e->running) srv_stop(&e->s);
    e->running = 0;
}

void pk_kill(pk_env *e) {
    if (e->running) srv_kill(&e->s);
    e->running = 0;
}

void pk_cleanup(pk_env *e) {
    pk_stop(e);
    if (e->data[0]) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->data);
        if (system(cmd) != 0) { /* best effort */
        }
    }
    e->data[0] = '\0';
}

redisReply *pk_cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return r;
}

void pk_send(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) break;
}

char *pk_recv_str(redisContext *c) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) r = NULL;
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

static char *info_text(redisContext *c) {
    redisReply *r = redisCommand(c, "INFO all");
    if (!r) return NULL;
    char *t = NULL;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) t = strdup(r->str);
    freeReplyObject(r);
    return t;
}

static int info_field(const char *text, const char *field, char *out, size_t outsz) {
    size_t fl = strlen(field);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, field, fl) && p[fl] == ':') {
            const char *v = p + fl + 1, *end = strpbrk(v, "\r\n");
            size_t n = end ? (size_t)(end - v) : strlen(v);
            if (n >= outsz) n = outsz - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

int pk_info_text(redisContext *c, const char *field, char *out, size_t outsz) {
    char *t = info_text(c);
    int rc = t ? info_field(t, field, out, outsz) : -1;
    free(t);
    if (rc != 0 && outsz) out[0] = '\0';
    return rc;
}

long long pk_info(redisContext *c, const char *field) {
    char *t = info_text(c), v[64];
    long long x = -1;
    if (t && info_field(t, field, v, sizeof(v)) == 0) x = atoll(v);
    free(t);
    return x;
}

double pk_info_d(redisContext *c, const char *field) {
    char *t = info_text(c), v[64];
    double x = -1;
    if (t && info_field(t, field, v, sizeof(v)) == 0) x = atof(v);
    free(t);
    return x;
}

long long pk_wait_info_ge(redisContext *c, const char *field, long long min, int timeout_ms) {
    double end = pk_now_ms() + timeout_ms;
    long long v;
    while ((v = pk_info(c, field)) < min && pk_now_ms() < end) pk_sleep_ms(2);
    return v;
}

long long pk_wait_info_eq(redisContext *c, const char *field, long long want, int timeout_ms) {
    double end = pk_now_ms() + timeout_ms;
    long long v;
    while ((v = pk_info(c, field)) != want && pk_now_ms() < end) pk_sleep_ms(2);
    return v;
}

/* PostgreSQL: a table created by a test gets the invalidation log's
 * triggers (the module's log_install, called here through the module
 * in this process), so that SQL.EXEC's writes invalidate cached keys as
 * the bundled store's do. A table without a primary key is left alone. */
/* The module for this process: a sanitizer build's module cannot be loaded
 * into a plain test program, so its sibling in the plain build/ stands in. */
static void *open_module_here(void) {
    void *dl = dlopen(pk_module_path(), RTLD_NOW | RTLD_LOCAL);
    const char *p = pk_module_path(), *b = strstr(p, "/build-");
    if (dl || !b) return dl;
    char plain[PATH_MAX];
    snprintf(plain, sizeof(plain), "%.*s/build%s", (int)(b - p), p, strchr(b + 1, '/'));
    return dlopen(plain, RTLD_NOW | RTLD_LOCAL);
}

static void pg_install(int n, const char *const *tables) {
    void *dl = open_module_here();
    store_module_entry_fn entry = dl ? (store_module_entry_fn)dlsym(dl, STORE_MODULE_ENTRY) : NULL;
    const store_module *m = entry ? entry() : NULL;
    if (m && m->log_install) {
        const char *argv[] = {pg_conninfo()};
        void *h = NULL;
        char *err = NULL;
        if (m->open(1, argv, &h, &err) == STORE_OK) m->log_install(h, n, tables, &err);
        m->free_error(err);
        if (h) m->close(h);
    }
    if (dl) dlclose(dl);
}

static void pg_track_table(const char *sql) {
    const char *p = sql;
    while (isspace((unsigned char)*p)) p++;
    if (strncasecmp(p, "CREATE TABLE", 12) != 0) return;
    p += 12;
    while (isspace((unsigned char)*p)) p++;
    if (!strncasecmp(p, "IF NOT EXISTS", 13)) p += 13;
    while (isspace((unsigned char)*p)) p++;
    char table[128];
    size_t n = 0;
    while ((isalnum((unsigned char)*p) || *p == '_') && n + 1 < sizeof(table)) table[n++] = *p++;
    table[n] = '\0';
    if (!n) return;
    const char *tables[] = {table};
    pg_install(1, tables);
}

void pk_exec(redisContext *c, const char *sql) {
    char *text = pk_dialect(sql);
    redisReply *r = redisCommand(c, "SQL.EXEC %s", text);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok) fprintf(stderr, "SQL.EXEC %s -> %s\n", text, r ? r->str : "(lost)");
    CHECK(ok);
    if (r) freeReplyObject(r);
    if (ok && pk_pg()) pg_track_table(text);
    free(text);
}

int pk_wait_serving(redisContext *c, int timeout_ms, int *loading_seen) {
    double end = pk_now_ms() + timeout_ms;
    for (;;) {
        redisReply *r = redisCommand(c, "PING");
        if (!r) return -1;
        int loading = r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "LOADING", 7);
        freeReplyObject(r);
        if (!loading) return 0;
        if (loading_seen) (*loading_seen)++;
        if (pk_now_ms() > end) return -1;
        pk_sleep_ms(1);
    }
}

/* ---- store equals cache ---------------------------------------------------------- */

static int num_equal(const char *a, const char *b) {
    char *ea, *eb;
    errno = 0;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (!*a || !*b || *ea || *eb || errno) return 0;
    return x == y || fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
}

static int value_equal(const char *cache, size_t clen, const redisReply *col) {
    if (col->type == REDIS_REPLY_NIL) return 0;
    char tmp[64];
    const char *s = col->str;
    size_t len = col->len;
    if (col->type == REDIS_REPLY_INTEGER) {
        len = (size_t)snprintf(tmp, sizeof(tmp), "%lld", col->integer);
        s = tmp;
    }
    if (len == clen && !memcmp(s, cache, clen)) return 1;
    char a[128], b[128];
    if (clen >= sizeof(a) || len >= sizeof(b)) return 0;
    memcpy(a, cache, clen);
    a[clen] = '\0';
    memcpy(b, s, len);
    b[len] = '\0';
    return num_equal(a, b);
}

static int check_one(redisContext *c, const char *table, const char *key, const char *id,
                     const char *keycol, const char *column, const char *cols) {
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s = ?", column ? column : cols, table,
             keycol);
    redisReply *row = redisCommand(c, "SQL.QUERY %s %s", sql, id);
    redisReply *val = column ? redisCommand(c, "GET %s", key) : redisCommand(c, "HGETALL %s", key);
    int diffs = 0;
    if (!row || !val || row->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "check %s: query failed: %s\n", key,
                row && row->type == REDIS_REPLY_ERROR ? row->str : "?");
        diffs = 1;
        goto out;
    }
    if (val->type == REDIS_REPLY_NIL || (val->type == REDIS_REPLY_ARRAY && val->elements == 0))
        goto out; /* expired or evicted between SCAN and now: nothing cached */
    if (row->elements != 1) {
        char *v = reply_str(val);
        fprintf(stderr, "check %s: cached %s but the store has %zu rows\n", key, v, row->elements);
        free(v);
        diffs = 1;
        goto out;
    }
    redisReply *r = row->element[0];
    if (column) {
        if (val->type != REDIS_REPLY_STRING || !value_equal(val->str, val->len, r->element[0])) {
            char *a = reply_str(val), *b = reply_str(r->element[0]);
            fprintf(stderr, "check %s: cache '%s' != store '%s'\n", key, a, b);
            free(a);
            free(b);
            diffs = 1;
        }
        goto out;
    }
    /* hash: column i <-> field named like it */
    char names[512];
    snprintf(names, sizeof(names), "%s", cols);
    int i = 0;
    size_t matched = 0;
    for (char *save = NULL, *n = strtok_r(names, ", ", &save); n;
         n = strtok_r(NULL, ", ", &save), i++) {
        const redisReply *f = NULL;
        for (size_t k = 0; k + 1 < val->elements; k += 2)
            if (!strcasecmp(val->element[k]->str, n)) f = val->element[k + 1];
        const redisReply *cv = (size_t)i < r->elements ? r->element[i] : NULL;
        int ok;
        if (!cv || cv->type == REDIS_REPLY_NIL)
            ok = f == NULL;
        else
            ok = f && value_equal(f->str, f->len, cv);
        matched += f != NULL;
        if (!ok) {
            char *b = cv ? reply_str(cv) : strdup("(no column)");
            fprintf(stderr, "check %s.%s: cache '%.*s' != store '%s'\n", key, n,
                    f ? (int)f->len : 6, f ? f->str : "absent", b);
            free(b);
            diffs++;
        }
    }
    if (matched * 2 != val->elements) {
        char *a = reply_str(val);
        fprintf(stderr, "check %s: the hash has fields that are not columns (%s): %s\n", key, cols,
                a);
        free(a);
        diffs++;
    }
out:
    if (row) freeReplyObject(row);
    if (val) freeReplyObject(val);
    return diffs;
}

int pk_check_map(redisContext *c, const char *table, const char *prefix, const char *keycol,
                 const char *column, const char *cols, int *compared) {
    int diffs = 0, n = 0;
    redisReply *f = redisCommand(c, "WB.FLUSH");
    if (!f || f->type != REDIS_REPLY_STATUS) {
        fprintf(stderr, "WB.FLUSH -> %s\n", f && f->str ? f->str : "(lost)");
        diffs++;
    }
    if (f) freeReplyObject(f);
    char cursor[32] = "0";
    size_t plen = strlen(prefix);
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            diffs++;
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            diffs += check_one(c, table, key, key + plen, keycol, column, cols);
            n++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (compared) *compared = n;
    return diffs;
}
