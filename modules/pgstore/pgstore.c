/* modules/pgstore — Larder's store API (src/persist/store_api.h) over
 * PostgreSQL through libpq.
 *
 *   loadmodule build/modules/pgstore.so "host=db.internal dbname=app user=larder sslmode=require"
 *
 * The loadmodule arguments are a libpq connection string (key=value pairs,
 * as one quoted argument or several, joined with spaces; or a postgresql://
 * URI), followed by the value of `store-conninfo` when the conf sets it;
 * every libpq option passes through (sslmode, sslrootcert, ...). A value
 * with a space is quoted inside the string, as libpq wants:
 * "host=x password='a b'".
 * connect_timeout defaults to 5 seconds and TCP keepalives to 30 s idle,
 * 10 s between probes, 3 probes (a dead server is noticed even while a call
 * waits for its answer) unless the string sets them. A
 * trailing "store-path FILE" pair (Larder adds it when the conf names one)
 * is ignored. The module links only libc and libpq, so any
 * process can dlopen it (the tests do).
 *
 * Invariants:
 *  1. Every value is bound as a parameter, never spliced into SQL text;
 *     identifiers are quoted with PQescapeIdentifier.
 *  2. A statement is prepared once per connection and per text (its shape:
 *     table, key columns, present columns) and cached by that text; the
 *     cache is dropped on reconnect, so statements are prepared again.
 *  3. apply_batch is ONE transaction. The fast path pipelines every row
 *     (libpq pipeline mode) in the implicit transaction that ends at the
 *     pipeline's Sync: one round trip per 256 statements, no savepoints,
 *     and consecutive upserts of one shape share a multi-row
 *     INSERT ... ON CONFLICT DO UPDATE (up to 64 rows). Only when
 *     a row is refused for good is the batch run again the careful way:
 *     BEGIN, a SAVEPOINT per row (per unit), ROLLBACK TO for a refused one
 *     and its on_refuse op (the dead letter) in its place, COMMIT.
 *     An UPSERT statement ends in RETURNING (xmax = 0): true for a row it
 *     inserted, false for one it updated (the update's row lock leaves
 *     the new version's xmax set), one result row per VALUES row in their
 *     order; that is store_op.change. ON CONFLICT DO NOTHING (a table of
 *     key columns only) returns nothing for an existing row, so its rows
 *     go one per statement.
 *  4. A lost connection makes the failing call return STORE_ERR_TRANSIENT;
 *     the next call reconnects (PQreset). Failed attempts are spaced by an
 *     exponential backoff (50 ms doubling, at most 1 s); a call made before
 *     the next attempt is due fails at once: the module never sleeps, since
 *     its callers (write-behind, read-through) retry with their own backoff.
 *     If the connection drops after COMMIT was sent, the outcome is unknown
 *     and reported as transient: Larder's batches are upserts and deletes by
 *     primary key, so applying one twice is harmless.
 *
 * Values in text form (the session is set to DateStyle ISO, TimeZone UTC,
 * bytea_output hex, client_encoding UTF8 at every connect):
 *   int2/int4/int8 (oid)  SV_INT both ways; "42" from a client is parsed by
 *                         PostgreSQL.
 *   float4/float8         SV_REAL; sent as %.17g ("inf", "nan" accepted).
 *   numeric               SV_TEXT, PostgreSQL's exact text ("12.50").
 *   bool                  SV_TEXT: Larder sends what the client wrote and
 *                         PostgreSQL parses it (t/f, true/false, yes/no,
 *                         on/off, 1/0); it reads back as "t" or "f".
 *   date, timestamp,      SV_TEXT in ISO form: "2024-05-01",
 *   timestamptz           "2024-05-01 12:00:00", "2024-05-01 12:00:00+00"
 *                         (timestamptz in UTC).
 *   uuid, json, jsonb     SV_TEXT: PostgreSQL's output form (jsonb is
 *                         normalised: key order and spacing are its own).
 *   text, varchar, bpchar SV_TEXT as is (bpchar is blank-padded). A NUL
 *                         byte cannot be stored in PostgreSQL text: such a
 *                         value is refused (permanent).
 *   bytea                 SV_BLOB: the raw bytes, bound as a binary
 *                         parameter whenever the target column is bytea
 *                         (also when Larder hands them over as SV_TEXT, as
 *                         hash fields are), read back unescaped.
 *   anything else         SV_TEXT in PostgreSQL's output form.
 *
 * Errors, by SQLSTATE:
 *   TRANSIENT  class 08 (connection; but 08P01, a wrong parameter count, is
 *              USER), 40001 serialization, 40P01 deadlock, 55P03 lock not
 *              available, 57014 statement timeout, 57P01-57P03 shutdown /
 *              cannot connect now, class 53 (resources), a lost connection.
 *   PERMANENT  class 23 (integrity: unique, foreign key, check, not null)
 *              and 22 (data exception: a bad value for the type).
 *   USER       the rest: class 42 (syntax, undefined table/column), 25006
 *              (a write in SQL.QUERY's read-only transaction), ...
 * The message is PostgreSQL's primary message (PG_DIAG_MESSAGE_PRIMARY),
 * without prefix: Larder prefixes it itself ("BACKEND write-through
 * refused: ...", "ERR ..."). Line breaks are flattened so it fits a RESP
 * error.
 *
 * query: parameters are written `?` (as for the bundled store) or `$1..$n`.
 * When the statement has no `$n`, each `?` outside literals, quoted
 * identifiers and comments becomes the next `$n`; write jsonb's `?`
 * operator as jsonb_exists() or use `$n` parameters in that statement.
 * A read-only query runs in BEGIN READ ONLY ... COMMIT. Transaction
 * control (BEGIN, COMMIT, SAVEPOINT, ...) is refused: it would hold the
 * store's only session. `changes` is called only when the invalidation log
 * is installed (log_install): the write then runs in its
 * own transaction and the log rows it wrote (by txid_current(): cascades
 * and other triggers' writes included) are reported before COMMIT. Without
 * the log it is not called: which rows an arbitrary statement changed is
 * not known without rewriting it (RETURNING fits only a plain single-table
 * INSERT/UPDATE/DELETE and would change its result). A TRUNCATE is logged
 * ('T') but has no key to report.
 *
 * get: a key that cannot be a value of the key column's type (user:abc
 * for an integer id; SQLSTATE class 22) is simply not found. */
#include "pgstore.h"
#include "persist/store_api.h"
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OID_BYTEA 17
#define PIPELINE_CHUNK 256 /* rows sent before their results are read */
#define MAX_STMTS 1024     /* cached statements before DEALLOCATE ALL */
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000

/* ---- memory and text ---------------------------------------------------------------- */

static void *pg_alloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    return p;
}

static char *pg_strndup(const char *s, size_t n) {
    char *p = pg_alloc(n + 1);
    memcpy(p, s, n);
    return p;
}

static char *pg_strdup(const char *s) {
    return pg_strndup(s, strlen(s));
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_puts(buf *b, const char *s) {
    buf_put(b, s, strlen(s));
}

static void buf_printf(buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = pg_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_put(b, big, (size_t)n);
    free(big);
}

static void buf_clear(buf *b) {
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

/* A message for *err (caller frees with free_error): one line, trimmed. */
static char *msgf(const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    /* libpq's messages span lines ("...failed\n\tIs the server running"):
     * one space between the pieces */
    size_t n = 0;
    for (char *p = tmp; *p; p++) {
        char c = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p;
        if (c == ' ' && (n == 0 || tmp[n - 1] == ' ')) continue;
        tmp[n++] = c;
    }
    while (n && tmp[n - 1] == ' ') n--;
    tmp[n] = 0;
    return pg_strdup(tmp);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the handle ------------------------------------------------------------------- */

typedef struct pstmt {
    char *sql;
    char name[24];
    struct pstmt *next;
} pstmt;

/* A table's column names and type oids (bytea columns are bound in binary). */
typedef struct tcols {
    char *table;
    int n;
    char **names;
    unsigned *types;
    struct tcols *next;
} tcols;

typedef struct handle {
    PGconn *conn;
    int broken; /* the connection is lost: reconnect before the next call */
    long long reconnects;
    long long retry_at_ms;
    int backoff_ms;
    char *last_conn_err;
    pstmt *stmts;
    int nstmts;
    unsigned next_name;
    tcols *tables;
    int has_log; /* larder_changes exists: -1 not known yet (per session) */
    long long log_checked_ms;
    int altered; /* get runs again after an ALTER TABLE (once) */
    /* the change log (log_* entry points) */
    char origin[24]; /* this handle's sessions' larder.origin: its own log rows */
    char *conninfo;  /* for the listening connection */
    PGconn *listen_conn;
    int64_t read_pos; /* the *pos log_read returned last */
    int64_t seen_id;  /* the highest log id log_read reported */
    int64_t *early;   /* txids at or above the horizon already reported */
    int nearly;
} handle;

static void drop_caches(handle *h) {
    for (pstmt *s = h->stmts, *n; s; s = n) {
        n = s->next;
        free(s->sql);
        free(s);
    }
    h->stmts = NULL;
    h->nstmts = 0;
    for (tcols *t = h->tables, *n; t; t = n) {
        n = t->next;
        for (int i = 0; i < t->n; i++) free(t->names[i]);
        free(t->names);
        free(t->types);
        free(t->table);
        free(t);
    }
    h->tables = NULL;
    h->has_log = -1;
}

/* ---- errors ----------------------------------------------------------------------- */

static int classify_sqlstate(const char *st) {
    if (!strcmp(st, "08P01")) return STORE_ERR_USER; /* protocol: wrong parameter count */
    if (!strncmp(st, "08", 2) || !strncmp(st, "53", 2) || !strcmp(st, "40001") ||
        !strcmp(st, "40P01") || !strcmp(st, "55P03") || !strcmp(st, "57014") ||
        !strcmp(st, "57P01") || !strcmp(st, "57P02") || !strcmp(st, "57P03"))
        return STORE_ERR_TRANSIENT;
    if (!strncmp(st, "23", 2) || !strncmp(st, "22", 2)) return STORE_ERR_PERMANENT;
    return STORE_ERR_USER;
}

static int conn_lost(handle *h) {
    if (PQstatus(h->conn) != CONNECTION_BAD) return 0;
    h->broken = 1;
    return 1;
}

/* The class of a failed result (NULL: no result at all) and its message in
 * *err (if err is not NULL). Clears res. */
static int result_error(handle *h, PGresult *res, char **err) {
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int cls;
    if (conn_lost(h))
        cls = STORE_ERR_TRANSIENT;
    else if (st && *st)
        cls = classify_sqlstate(st);
    else
        cls = STORE_ERR_USER; /* refused by libpq itself */
    /* the server is ending this session (shutdown, crash, connection
     * failure): reconnect at the next call rather than fail once more */
    if (st && (!strncmp(st, "57P", 3) || (!strncmp(st, "08", 2) && strcmp(st, "08P01") != 0)))
        h->broken = 1;
    if (err) {
        if (cls == STORE_ERR_TRANSIENT && h->broken)
            *err =
                msgf("PostgreSQL connection lost: %s", primary ? primary : PQerrorMessage(h->conn));
        else if (primary)
            *err = msgf("%s", primary);
        else
            *err = msgf("%s", PQerrorMessage(h->conn));
    }
    PQclear(res);
    return cls;
}

/* Runs a command without parameters; STORE_OK or the error class. */
static int exec_cmd(handle *h, const char *sql, char **err) {
    PGresult *res = PQexec(h->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    if (res && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)) {
        PQclear(res);
        return STORE_OK;
    }
    return result_error(h, res, err);
}

/* ---- connection ------------------------------------------------------------------- */

/* Settings that fix the text forms documented above. */
static const char session_setup[] = "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; "
                                    "SET IntervalStyle = 'iso_8601'; SET bytea_output = 'hex'";

/* this handle's origin tag on every session: the log records it (column
 * origin), so a change a sidecar made itself is told apart from others' */
static int set_origin(handle *h, PGconn *conn, char **err) {
    char sql[80];
    snprintf(sql, sizeof(sql), "SET larder.origin = '%s'", h->origin);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        return STORE_OK;
    }
    if (conn == h->conn) return result_error(h, res, err);
    if (err) *err = msgf("%s", PQerrorMessage(conn));
    PQclear(res);
    return STORE_ERR_TRANSIENT;
}

static int after_connect(handle *h, char **err) {
    if (PQstatus(h->conn) != CONNECTION_OK) {
        *err = msgf("cannot connect to PostgreSQL: %s", PQerrorMessage(h->conn));
        return STORE_ERR_TRANSIENT;
    }
    if (PQsetClientEncoding(h->conn, "UTF8") != 0) {
        *err = msgf("PostgreSQL: cannot set client_encoding UTF8: %s", PQerrorMessage(h->conn));
        return STORE_ERR_TRANSIENT;
    }
    int rc = exec_cmd(h, session_setup, err);
    return rc == STORE_OK ? set_origin(h, h->conn, err) : rc;
}

/* STORE_OK when the connection is usable; reconnects a lost one when the
 * backoff allows it, else STORE_ERR_TRANSIENT at once. */
static int ensure_conn(handle *h, char **err) {
    if (!h->broken && PQstatus(h->conn) == CONNECTION_OK) return STORE_OK;
    long long now = now_ms();
    if (now < h->retry_at_ms) {
        *err = msgf("PostgreSQL unreachable (%s); next reconnect attempt in %lld ms",
                    h->last_conn_err ? h->last_conn_err : "connection lost", h->retry_at_ms - now);
        return STORE_ERR_TRANSIENT;
    }
    drop_caches(h); /* prepared statements die with the session */
    PQreset(h->conn);
    char *why = NULL;
    int rc = after_connect(h, &why);
    if (rc == STORE_OK) {
        h->reconnects++;
        h->broken = 0;
        h->backoff_ms = 0;
        h->retry_at_ms = 0;
        free(h->last_conn_err);
        h->last_conn_err = NULL;
        return STORE_OK;
    }
    h->broken = 1;
    h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (h->backoff_ms > BACKOFF_MAX_MS) h->backoff_ms = BACKOFF_MAX_MS;
    h->retry_at_ms = now_ms() + h->backoff_ms;
    free(h->last_conn_err);
    h->last_conn_err = why;
    *err = msgf("%s", why);
    return STORE_ERR_TRANSIENT;
}

/* PostgreSQL's notices (NOTICE: ... skipping) are not errors: a library
 * does not print them. */
static void ignore_notice(void *arg, const char *message) {
    (void)arg, (void)message;
}

/* A new session (blocking, bounded by connect_timeout). */
static PGconn *pg_connect(const char *conninfo) {
    /* connect_timeout first: the connection string, expanded at dbname's
     * place, overrides it */
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "dbname",
                          NULL};
    const char *vals[] = {"5", "larder", "30", "10", "3", conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) abort(); /* libpq is out of memory */
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

static int m_open(int argc, const char *const *argv, void **out, char **err) {
    /* the arguments joined by spaces ("host=x" "dbname=y", or one quoted
     * string), then store-conninfo's value; store-path is not ours */
    buf ci = {0};
    for (int i = 0; i < argc; i++) {
        int pair =
            i + 1 < argc && (!strcmp(argv[i], "store-path") || !strcmp(argv[i], "store-conninfo"));
        if (pair && !strcmp(argv[i], "store-path")) {
            i++;
            continue;
        }
        if (pair) i++;
        if (ci.len) buf_puts(&ci, " ");
        buf_puts(&ci, argv[i]);
    }
    handle *h = pg_alloc(sizeof(*h));
    h->has_log = -1;
    /* unique enough among the sessions of one database: time, pid, address */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long tag = ((unsigned long long)ts.tv_sec * 1000000007ULL) ^
                             ((unsigned long long)ts.tv_nsec << 20) ^
                             ((unsigned long long)getpid() << 40) ^ (unsigned long long)(size_t)h;
    snprintf(h->origin, sizeof(h->origin), "%llx", tag);
    h->conninfo = ci.p ? ci.p : pg_strdup("");
    h->conn = pg_connect(h->conninfo);
    int rc = after_connect(h, err);
    if (rc != STORE_OK) {
        PQfinish(h->conn);
        free(h->conninfo);
        free(h);
        return rc == STORE_ERR_TRANSIENT ? STORE_ERR_TRANSIENT : STORE_ERR_USER;
    }
    *out = h;
    return STORE_OK;
}

static void m_close(void *hp) {
    handle *h = hp;
    if (!h) return;
    drop_caches(h);
    PQfinish(h->conn);
    if (h->listen_conn) PQfinish(h->listen_conn);
    free(h->conninfo);
    free(h->early);
    free(h->last_conn_err);
    free(h);
}

static void m_free_error(char *err) {
    free(err);
}

/* ---- statements ------------------------------------------------------------------- */

static void quote_ident(handle *h, buf *b, const char *name) {
    char *q = PQescapeIdentifier(h->conn, name, strlen(name));
    if (!q) { /* invalid encoding: quoted by hand, PostgreSQL will refuse it */
        buf_puts(b, "\"\"");
        return;
    }
    buf_puts(b, q);
    PQfreemem(q);
}

/* The name of the prepared statement for sql (prepared on first use), or
 * NULL with the error class in *rc and message in *err. */
static const char *stmt_for(handle *h, const char *sql, int *rc, char **err) {
    for (pstmt *s = h->stmts; s; s = s->next)
        if (!strcmp(s->sql, sql)) return s->name;
    pstmt *s = pg_alloc(sizeof(*s));
    snprintf(s->name, sizeof(s->name), "larder_%u", ++h->next_name);
    PGresult *res = PQprepare(h->conn, s->name, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *rc = result_error(h, res, err);
        free(s);
        return NULL;
    }
    PQclear(res);
    s->sql = pg_strdup(sql);
    s->next = h->stmts;
    h->stmts = s;
    h->nstmts++;
    return s->name;
}

/* Bounded cache: called between calls, never while a batch holds names. */
static void trim_stmts(handle *h) {
    if (h->nstmts < MAX_STMTS) return;
    if (exec_cmd(h, "DEALLOCATE ALL", NULL) != STORE_OK) return;
    for (pstmt *s = h->stmts, *n; s; s = n) {
        n = s->next;
        free(s->sql);
        free(s);
    }
    h->stmts = NULL;
    h->nstmts = 0;
}

/* ---- describe --------------------------------------------------------------------- */

/* Columns in order: name, declared type, base type name, not null, position
 * in the primary key (1-based, 0 if none), base type oid. A domain counts as
 * its base type. Then what the write-behind check needs (check_class):
 * has a default (DEFAULT, identity, generated), is generated, the type's
 * kind (typtype of the base), a domain constraint (NOT NULL or CHECK), the
 * type modifier (varchar's length, numeric's precision and scale), and the
 * table's own rules: a CHECK constraint, a trigger on INSERT or UPDATE other
 * than the change log's (log_install), a rewrite rule, row-level security,
 * or a relation that is not a plain table (a partitioned table refuses a row
 * no partition takes; a view). */
static const char describe_sql[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(b.typname, t.typname), "
    "a.attnotnull, coalesce((SELECT k.n FROM pg_index i, unnest(i.indkey) WITH ORDINALITY "
    "AS k(att, n) WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.att = a.attnum), 0), "
    "coalesce(b.oid, t.oid), "
    "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', a.attgenerated <> '', "
    "coalesce(b.typtype, t.typtype), "
    "t.typtype = 'd' AND (t.typnotnull OR EXISTS (SELECT 1 FROM pg_constraint dc "
    "WHERE dc.contypid = t.oid)), "
    "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, "
    "EXISTS (SELECT 1 FROM pg_constraint cc WHERE cc.conrelid = a.attrelid AND cc.contype = 'c') "
    "OR EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = a.attrelid AND NOT tg.tgisinternal "
    "AND tg.tgtype & 20 <> 0 AND tg.tgname <> 'larder_changes_row') "
    "OR EXISTS (SELECT 1 FROM pg_rewrite rw WHERE rw.ev_class = a.attrelid "
    "AND rw.rulename <> '_RETURN') "
    "OR (SELECT r.relkind <> 'r' OR r.relrowsecurity FROM pg_class r WHERE r.oid = a.attrelid) "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_type b ON b.oid = t.typbasetype AND t.typtype = 'd' "
    "WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

static int sv_type_of(const char *typname) {
    if (!strcmp(typname, "int2") || !strcmp(typname, "int4") || !strcmp(typname, "int8") ||
        !strcmp(typname, "oid"))
        return SV_INT;
    if (!strcmp(typname, "float4") || !strcmp(typname, "float8")) return SV_REAL;
    if (!strcmp(typname, "bytea")) return SV_BLOB;
    return SV_TEXT;
}

/* Runs describe_sql for table; the result (caller clears) or NULL with the
 * class in *rc. A table that does not exist gives a result with no rows. */
static PGresult *describe_rows(handle *h, const char *table, int *rc, char **err) {
    const char *name = stmt_for(h, describe_sql, rc, err);
    if (!name) return NULL;
    const char *vals[1] = {table};
    PGresult *res = PQexecPrepared(h->conn, name, 1, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *rc = result_error(h, res, err);
        return NULL;
    }
    *rc = STORE_OK;
    return res;
}

/* The cached column types of table (NULL if it does not exist, or on an
 * error: *rc tells which). */
static const tcols *table_types(handle *h, const char *table, int *rc, char **err) {
    *rc = STORE_OK;
    for (tcols *t = h->tables; t; t = t->next)
        if (!strcmp(t->table, table)) return t;
    PGresult *res = describe_rows(h, table, rc, err);
    if (!res) return NULL;
    int n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return NULL;
    }
    tcols *t = pg_alloc(sizeof(*t));
    t->table = pg_strdup(table);
    t->n = n;
    t->names = pg_alloc(sizeof(char *) * (size_t)n);
    t->types = pg_alloc(sizeof(unsigned) * (size_t)n);
    for (int i = 0; i < n; i++) {
        t->names[i] = pg_strdup(PQgetvalue(res, i, 0));
        t->types[i] = (unsigned)strtoul(PQgetvalue(res, i, 5), NULL, 10);
    }
    PQclear(res);
    t->next = h->tables;
    h->tables = t;
    return t;
}

static int is_bytea(const tcols *t, const char *col) {
    if (!t) return 0;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], col)) return t->types[i] == OID_BYTEA;
    return 0;
}

/* What Larder may judge of a column's values itself (store_api.h), from
 * describe_sql's row r: the types whose input it parses the way PostgreSQL
 * does, at least for the forms it takes or refuses (the rest it sends). */
static void check_class(store_column *c, PGresult *res, int r) {
    const char *typ = PQgetvalue(res, r, 2);
    int typmod = atoi(PQgetvalue(res, r, 10));
    c->check = STORE_CHECK_VALUE;
    if (PQgetvalue(res, r, 11)[0] == 't' || PQgetvalue(res, r, 9)[0] == 't') {
        c->check = STORE_CHECK_ROW;
    } else if (PQgetvalue(res, r, 7)[0] == 't' || PQgetvalue(res, r, 8)[0] != 'b') {
        return; /* generated (PostgreSQL refuses a value), enum, range, composite */
    } else if (!strcmp(typ, "int2") || !strcmp(typ, "int4") || !strcmp(typ, "int8")) {
        c->check = STORE_CHECK_INT;
        c->check_arg = typ[3] - '0';
    } else if (!strcmp(typ, "numeric")) {
        int p = typmod >= 4 ? ((typmod - 4) >> 16) & 0xffff : 0;
        int sc = typmod >= 4 ? (typmod - 4) & 0xffff : 0;
        if (sc > p) return; /* a negative scale (PostgreSQL 15): the store judges */
        c->check = STORE_CHECK_NUMERIC;
        c->check_arg = p;
        c->check_arg2 = sc;
    } else if (!strcmp(typ, "bool")) {
        c->check = STORE_CHECK_BOOL;
    } else if (!strcmp(typ, "uuid")) {
        c->check = STORE_CHECK_UUID;
    } else if (!strcmp(typ, "text") || !strcmp(typ, "varchar") || !strcmp(typ, "bpchar")) {
        c->check = STORE_CHECK_TEXT;
        c->check_arg = typmod >= 4 ? typmod - 4 : 0;
    } else if (!strcmp(typ, "bytea")) {
        c->check = STORE_CHECK_ANY; /* bound in binary: any bytes */
    }
}

static int m_describe(void *hp, const char *table, store_column **out, int *n, char **err) {
    handle *h = hp;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    PGresult *res = describe_rows(h, table, &rc, err);
    if (!res) return rc;
    int nr = PQntuples(res);
    if (nr == 0) {
        PQclear(res);
        *err = msgf("no such table: %s", table);
        return STORE_ERR_USER;
    }
    store_column *c = pg_alloc(sizeof(store_column) * (size_t)nr);
    for (int i = 0; i < nr; i++) {
        c[i].name = pg_strdup(PQgetvalue(res, i, 0));
        c[i].decltype = pg_strdup(PQgetvalue(res, i, 1));
        c[i].type = sv_type_of(PQgetvalue(res, i, 2));
        c[i].notnull = PQgetvalue(res, i, 3)[0] == 't';
        c[i].pk = atoi(PQgetvalue(res, i, 4));
        c[i].dflt = PQgetvalue(res, i, 6)[0] == 't';
        check_class(&c[i], res, i);
    }
    PQclear(res);
    *out = c;
    *n = nr;
    return STORE_OK;
}

static void m_free_columns(store_column *cols, int n) {
    for (int i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].decltype);
    }
    free(cols);
}

/* ---- parameters ------------------------------------------------------------------- */

typedef struct params {
    int n;
    const char **v;
    int *len;
    int *fmt;
    char **own; /* NUL-terminated copies and number texts */
} params;

static void params_init(params *p, int n) {
    p->n = n;
    p->v = pg_alloc(sizeof(char *) * (size_t)(n ? n : 1));
    p->len = pg_alloc(sizeof(int) * (size_t)(n ? n : 1));
    p->fmt = pg_alloc(sizeof(int) * (size_t)(n ? n : 1));
    p->own = pg_alloc(sizeof(char *) * (size_t)(n ? n : 1));
}

static void params_free(params *p) {
    for (int i = 0; i < p->n; i++) free(p->own[i]);
    free(p->v);
    free(p->len);
    free(p->fmt);
    free(p->own);
}

/* Binds v as parameter i: binary for a bytea target, else its text form.
 * STORE_OK, or STORE_ERR_PERMANENT with *err for text PostgreSQL cannot
 * hold. */
static int param_set(params *p, int i, const store_value *v, int binary, char **err) {
    char num[64];
    switch (v->type) {
    case SV_NULL:
        p->v[i] = NULL;
        return STORE_OK;
    case SV_INT:
        snprintf(num, sizeof(num), "%lld", (long long)v->i);
        p->own[i] = pg_strdup(num);
        break;
    case SV_REAL:
        snprintf(num, sizeof(num), "%.17g", v->d);
        p->own[i] = pg_strdup(num);
        break;
    default:
        if (binary) {
            p->v[i] = v->p ? v->p : "";
            p->len[i] = (int)v->len;
            p->fmt[i] = 1;
            return STORE_OK;
        }
        if (v->len && memchr(v->p, 0, v->len)) {
            if (err) *err = msgf("a NUL byte cannot be stored in a PostgreSQL text value");
            return STORE_ERR_PERMANENT;
        }
        p->own[i] = pg_strndup(v->p ? v->p : "", v->len);
    }
    p->v[i] = p->own[i];
    p->len[i] = (int)strlen(p->own[i]);
    return STORE_OK;
}

/* ---- rows ------------------------------------------------------------------------- */

/* Feeds a result's rows to sink (columns first, also when there is no row). */
static void send_rows(PGresult *res, store_sink *sink) {
    if (!sink) return;
    int nc = PQnfields(res), nr = PQntuples(res);
    const char **names = pg_alloc(sizeof(char *) * (size_t)(nc ? nc : 1));
    store_value *vals = pg_alloc(sizeof(store_value) * (size_t)(nc ? nc : 1));
    unsigned char **blobs = pg_alloc(sizeof(char *) * (size_t)(nc ? nc : 1));
    for (int i = 0; i < nc; i++) names[i] = PQfname(res, i);
    if (sink->columns) sink->columns(sink->ctx, nc, names);
    for (int r = 0; r < nr && sink->row; r++) {
        for (int i = 0; i < nc; i++) {
            store_value *v = &vals[i];
            memset(v, 0, sizeof(*v));
            if (PQgetisnull(res, r, i)) {
                v->type = SV_NULL;
                continue;
            }
            const char *s = PQgetvalue(res, r, i);
            int sv = SV_TEXT;
            switch (PQftype(res, i)) {
            case 20: /* int8 */
            case 21: /* int2 */
            case 23: /* int4 */
            case 26: /* oid */
                sv = SV_INT;
                break;
            case 700: /* float4 */
            case 701: /* float8 */
                sv = SV_REAL;
                break;
            case OID_BYTEA:
                sv = SV_BLOB;
                break;
            }
            v->type = sv;
            if (sv == SV_INT) {
                v->i = strtoll(s, NULL, 10);
            } else if (sv == SV_REAL) {
                v->d = strtod(s, NULL);
            } else if (sv == SV_BLOB) {
                size_t n = 0;
                blobs[i] = PQunescapeBytea((const unsigned char *)s, &n);
                v->p = (const char *)blobs[i];
                v->len = n;
            } else {
                v->p = s;
                v->len = (size_t)PQgetlength(res, r, i);
            }
        }
        sink->row(sink->ctx, nc, vals);
        for (int i = 0; i < nc; i++) {
            if (blobs[i]) PQfreemem(blobs[i]);
            blobs[i] = NULL;
        }
    }
    free(names);
    free(vals);
    free(blobs);
}

/* ---- get -------------------------------------------------------------------------- */

static int m_get(void *hp, const char *table, int nkey, const char *const *keycols,
                 const store_value *keyvals, store_sink *sink, char **err);

/* A table's columns changed (ALTER TABLE) since its SELECT * was prepared:
 * PostgreSQL refuses to run the statement ("cached plan must not change
 * result type"). Every statement and column cache is dropped and the read
 * runs once more. */
static int get_after_alter(handle *h, const char *table, int nkey, const char *const *keycols,
                           const store_value *keyvals, store_sink *sink, char **err) {
    if (exec_cmd(h, "DEALLOCATE ALL", err) != STORE_OK) return STORE_ERR_TRANSIENT;
    drop_caches(h);
    h->altered = 1;
    int rc = m_get(h, table, nkey, keycols, keyvals, sink, err);
    h->altered = 0;
    return rc;
}

/* The prepared SELECT of a row by its primary key (NULL with *rc, *err). */
static const char *get_stmt(handle *h, const char *table, int nkey, const char *const *keycols,
                            int *rc, char **err) {
    buf q = {0};
    buf_puts(&q, "SELECT * FROM ");
    quote_ident(h, &q, table);
    for (int i = 0; i < nkey; i++) {
        buf_puts(&q, i ? " AND " : " WHERE ");
        quote_ident(h, &q, keycols[i]);
        buf_printf(&q, " = $%d", i + 1);
    }
    const char *name = stmt_for(h, q.p, rc, err);
    free(q.p);
    if (!name && *rc == STORE_ERR_PERMANENT) *rc = STORE_ERR_USER;
    return name;
}

static int m_get(void *hp, const char *table, int nkey, const char *const *keycols,
                 const store_value *keyvals, store_sink *sink, char **err) {
    handle *h = hp;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    trim_stmts(h);
    const tcols *t = table_types(h, table, &rc, err);
    if (rc != STORE_OK) return rc;
    const char *name = get_stmt(h, table, nkey, keycols, &rc, err);
    if (!name) return rc;
    params p;
    params_init(&p, nkey);
    for (int i = 0; i < nkey && rc == STORE_OK; i++)
        rc = param_set(&p, i, &keyvals[i], is_bytea(t, keycols[i]), NULL);
    if (rc != STORE_OK) { /* a key PostgreSQL text cannot hold is in no row */
        params_free(&p);
        return STORE_OK;
    }
    PGresult *res = PQexecPrepared(h->conn, name, nkey, p.v, p.len, p.fmt, 0);
    params_free(&p);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        if (PQntuples(res) > 0) send_rows(res, sink);
        PQclear(res);
        return STORE_OK;
    }
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (st && !strncmp(st, "22", 2) && PQstatus(h->conn) == CONNECTION_OK) {
        PQclear(res); /* the key is not a value of the column's type */
        return STORE_OK;
    }
    if (st && !strcmp(st, "0A000") && !h->altered && PQstatus(h->conn) == CONNECTION_OK) {
        PQclear(res);
        return get_after_alter(h, table, nkey, keycols, keyvals, sink, err);
    }
    rc = result_error(h, res, err);
    return rc == STORE_ERR_PERMANENT ? STORE_ERR_USER : rc;
}

/* ---- get_many ----------------------------------------------------------------------- */

/* Reads the result of one pipelined SELECT and its Sync: the row to sink;
 * a key its column's type cannot take (class 22) has none; a SELECT the
 * table changed under (0A000, ALTER TABLE) sets *again. STORE_OK or the
 * class of the failure (*err). */
static int read_get(handle *h, store_sink *sink, int *again, char **err) {
    PGresult *res = PQgetResult(h->conn);
    int rc = STORE_OK;
    if (!res) {
        conn_lost(h);
        h->broken = 1;
        *err = msgf("PostgreSQL connection lost: %s", PQerrorMessage(h->conn));
        return STORE_ERR_TRANSIENT;
    }
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        if (PQntuples(res) > 0) send_rows(res, sink);
        PQclear(res);
    } else if (st && !strncmp(st, "22", 2)) {
        PQclear(res); /* the key is not a value of the column's type */
    } else if (st && !strcmp(st, "0A000")) {
        PQclear(res);
        *again = 1;
    } else {
        rc = result_error(h, res, err);
        if (rc == STORE_ERR_PERMANENT) rc = STORE_ERR_USER;
    }
    while ((res = PQgetResult(h->conn)) != NULL) PQclear(res); /* the query's end */
    res = PQgetResult(h->conn);
    if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && rc == STORE_OK) {
        h->broken = 1;
        *err = msgf("PostgreSQL: out of step in a pipelined read: %s", PQerrorMessage(h->conn));
        rc = STORE_ERR_TRANSIENT;
    }
    PQclear(res);
    return rc;
}

/* store_api.h's get_many: the SELECT of get for every key in one pipeline,
 * each followed by its own Sync (its own implicit transaction), so a key
 * that fails alone (a type error) leaves the others be; one round trip per
 * PIPELINE_CHUNK keys. A key whose SELECT met an ALTER TABLE is read again
 * with get, which prepares it anew. */
static int m_get_many(void *hp, const char *table, int nkey, const char *const *keycols, int n,
                      const store_value *keyvals, store_sink *sinks, char **err) {
    handle *h = hp;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK || n == 0) return rc;
    trim_stmts(h);
    const tcols *t = table_types(h, table, &rc, err);
    if (rc != STORE_OK) return rc;
    const char *name = get_stmt(h, table, nkey, keycols, &rc, err);
    if (!name) return rc;
    params *pa = pg_alloc(sizeof(params) * (size_t)n);
    int *sent = pg_alloc(sizeof(int) * (size_t)n), *again = pg_alloc(sizeof(int) * (size_t)n);
    int nsent = 0, nread = 0;
    if (!PQenterPipelineMode(h->conn)) {
        *err = msgf("PostgreSQL: cannot enter pipeline mode: %s", PQerrorMessage(h->conn));
        conn_lost(h);
        rc = STORE_ERR_TRANSIENT;
    }
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        params *p = &pa[i];
        params_init(p, nkey);
        int bad = 0; /* a key PostgreSQL text cannot hold is in no row */
        for (int k = 0; k < nkey && !bad; k++)
            bad =
                param_set(p, k, &keyvals[i * nkey + k], is_bytea(t, keycols[k]), NULL) != STORE_OK;
        if (bad) continue;
        if (!PQsendQueryPrepared(h->conn, name, nkey, p->v, p->len, p->fmt, 0) ||
            !PQpipelineSync(h->conn)) {
            conn_lost(h);
            h->broken = 1;
            *err = msgf("PostgreSQL: %s", PQerrorMessage(h->conn));
            rc = STORE_ERR_TRANSIENT;
            break;
        }
        sent[nsent++] = i;
        for (; rc == STORE_OK && nsent - nread >= PIPELINE_CHUNK; nread++)
            rc = read_get(h, &sinks[sent[nread]], &again[sent[nread]], err);
    }
    for (; rc == STORE_OK && nread < nsent; nread++)
        rc = read_get(h, &sinks[sent[nread]], &again[sent[nread]], err);
    if (!PQexitPipelineMode(h->conn)) h->broken = 1; /* out of step: start afresh */
    for (int i = 0; i < n && rc == STORE_OK; i++)
        if (again[i]) rc = m_get(h, table, nkey, keycols, &keyvals[i * nkey], &sinks[i], err);
    for (int i = 0; i < n; i++)
        if (pa[i].v) params_free(&pa[i]);
    free(pa);
    free(sent);
    free(again);
    return rc;
}

/* ---- row operations ------------------------------------------------------------- */

/* The statement text of a row operation ($1.. the key, then the present
 * columns), for rows operations of the same shape at once (an UPSERT's
 * VALUES list; rows is 1 for a DELETE). Absent columns (SV_NULL) are left
 * out of the INSERT (DEFAULT applies) and set to NULL by the UPDATE. */
static void op_sql_rows(handle *h, const store_op *op, int rows, buf *q) {
    if (op->kind == STORE_DELETE) {
        buf_puts(q, "DELETE FROM ");
        quote_ident(h, q, op->table);
        for (int i = 0; i < op->nkey; i++) {
            buf_puts(q, i ? " AND " : " WHERE ");
            quote_ident(h, q, op->keycols[i]);
            buf_printf(q, " = $%d", i + 1);
        }
        return;
    }
    buf_puts(q, "INSERT INTO ");
    quote_ident(h, q, op->table);
    buf_puts(q, " (");
    for (int i = 0; i < op->nkey; i++) {
        if (i) buf_puts(q, ", ");
        quote_ident(h, q, op->keycols[i]);
    }
    int per_row = op->nkey;
    for (int i = 0; i < op->ncols; i++) {
        if (op->vals[i].type == SV_NULL) continue;
        buf_puts(q, ", ");
        quote_ident(h, q, op->cols[i]);
        per_row++;
    }
    buf_puts(q, ") VALUES ");
    for (int r = 0, k = 0; r < rows; r++) {
        buf_puts(q, r ? ", (" : "(");
        for (int i = 0; i < per_row; i++) buf_printf(q, "%s$%d", i ? ", " : "", ++k);
        buf_puts(q, ")");
    }
    buf_puts(q, " ON CONFLICT (");
    for (int i = 0; i < op->nkey; i++) {
        if (i) buf_puts(q, ", ");
        quote_ident(h, q, op->keycols[i]);
    }
    buf_puts(q, op->ncols ? ") DO UPDATE SET " : ") DO NOTHING");
    for (int i = 0; i < op->ncols; i++) {
        if (i) buf_puts(q, ", ");
        quote_ident(h, q, op->cols[i]);
        if (op->vals[i].type == SV_NULL) {
            buf_puts(q, " = NULL");
        } else {
            buf_puts(q, " = excluded.");
            quote_ident(h, q, op->cols[i]);
        }
    }
    buf_puts(q, " RETURNING (xmax = 0)"); /* store_op.change (invariant 3) */
}

/* An UPSERT statement's RETURNING rows into its rows' change (invariant 3).
 * A count that does not match leaves them 0 (the store cannot tell). */
static void note_upserts(const PGresult *res, store_op *ops, int rows) {
    int n = PQntuples(res);
    if (n == 0 && rows == 1 && ops[0].ncols == 0) { /* DO NOTHING: the row existed */
        ops[0].change = 'U';
        return;
    }
    for (int r = 0; n == rows && r < rows; r++)
        ops[r].change = PQgetvalue(res, r, 0)[0] == 't' ? 'I' : 'U';
}

static void op_sql(handle *h, const store_op *op, buf *q) {
    op_sql_rows(h, op, 1, q);
}

static int same_name(const char *a, const char *b) {
    return a == b || !strcmp(a, b);
}

/* Do a and b have the same statement text (op_sql)? */
static int same_shape(const store_op *a, const store_op *b) {
    if (a->kind != b->kind || a->nkey != b->nkey || !same_name(a->table, b->table)) return 0;
    for (int i = 0; i < a->nkey; i++)
        if (!same_name(a->keycols[i], b->keycols[i])) return 0;
    if (a->kind == STORE_DELETE) return 1;
    if (a->ncols != b->ncols) return 0;
    for (int i = 0; i < a->ncols; i++)
        if ((a->vals[i].type == SV_NULL) != (b->vals[i].type == SV_NULL) ||
            !same_name(a->cols[i], b->cols[i]))
            return 0;
    return 1;
}

static int op_nparams(const store_op *op) {
    int n = op->nkey;
    if (op->kind == STORE_UPSERT)
        for (int i = 0; i < op->ncols; i++) n += op->vals[i].type != SV_NULL;
    return n;
}

/* Binds a row operation's values as parameters k, k+1, ... of p; with
 * override_col >= 0 that column's value is replaced by the text override (a
 * dead letter's error). */
static int op_params_at(const store_op *op, const tcols *t, int override_col, const char *override,
                        params *p, int k, char **err) {
    int rc = STORE_OK;
    for (int i = 0; i < op->nkey && rc == STORE_OK; i++, k++)
        rc = param_set(p, k, &op->keyvals[i], is_bytea(t, op->keycols[i]), err);
    for (int i = 0; op->kind == STORE_UPSERT && i < op->ncols && rc == STORE_OK; i++) {
        if (op->vals[i].type == SV_NULL) continue;
        store_value ov = {SV_TEXT, 0, 0, override, override ? strlen(override) : 0};
        const store_value *v = i == override_col ? &ov : &op->vals[i];
        rc = param_set(p, k++, v, is_bytea(t, op->cols[i]), err);
    }
    return rc;
}

static int op_params(const store_op *op, const tcols *t, int override_col, const char *override,
                     params *p, char **err) {
    params_init(p, op_nparams(op));
    return op_params_at(op, t, override_col, override, p, 0, err);
}

/* Runs one row operation synchronously (the careful path); sqlstate (if not
 * NULL, 6 bytes) gets the SQLSTATE of a failure; note (if not NULL) gets the
 * row's change. */
static int run_op_state(handle *h, const store_op *op, int override_col, const char *override,
                        char **err, char *sqlstate, store_op *note) {
    buf q = {0};
    op_sql(h, op, &q);
    int rc;
    const char *name = stmt_for(h, q.p, &rc, err);
    free(q.p);
    if (!name) return rc;
    const tcols *t = table_types(h, op->table, &rc, err);
    if (rc != STORE_OK) return rc;
    params p;
    rc = op_params(op, t, override_col, override, &p, err);
    if (rc != STORE_OK) {
        params_free(&p);
        return rc;
    }
    PGresult *res = PQexecPrepared(h->conn, name, p.n, p.v, p.len, p.fmt, 0);
    params_free(&p);
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        if (note) note->change = op->kind == STORE_DELETE ? 'D' : 0;
        if (note && s == PGRES_TUPLES_OK) note_upserts(res, note, 1);
        PQclear(res);
        return STORE_OK;
    }
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (sqlstate) snprintf(sqlstate, 6, "%s", st ? st : "");
    return result_error(h, res, err);
}

static int run_op(handle *h, const store_op *op, int override_col, const char *override,
                  char **err) {
    return run_op_state(h, op, override_col, override, err, NULL, NULL);
}

/* ---- apply_batch: the fast path ------------------------------------------------- */

typedef struct pipe_state {
    int rc;        /* STORE_OK or the class of the first error */
    char *err;     /* its message */
    int received;  /* results read so far */
    store_op *ops; /* apply_batch's rows (NULL: a check), ... */
    const int *at; /* ... statement i's being ops[at[i]] up to ops[at[i + 1]] */
} pipe_state;

/* Reads the results of the queries sent up to index upto (exclusive). */
static void read_results(handle *h, pipe_state *ps, int upto) {
    while (ps->received < upto) {
        PGresult *res = PQgetResult(h->conn);
        if (!res) { /* lost, or out of step: either way the batch is void */
            if (ps->rc == STORE_OK) {
                conn_lost(h);
                ps->rc = STORE_ERR_TRANSIENT;
                ps->err = msgf("PostgreSQL connection lost: %s", PQerrorMessage(h->conn));
            }
            h->broken = 1;
            return;
        }
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_FATAL_ERROR && ps->rc == STORE_OK) {
            ps->rc = result_error(h, res, &ps->err);
        } else {
            const int *at = ps->at ? ps->at + ps->received : NULL;
            if (s == PGRES_TUPLES_OK && at) note_upserts(res, ps->ops + at[0], at[1] - at[0]);
            PQclear(res);
        }
        while ((res = PQgetResult(h->conn)) != NULL) PQclear(res); /* the query's end */
        ps->received++;
        if (conn_lost(h)) {
            if (ps->rc == STORE_OK) {
                ps->rc = STORE_ERR_TRANSIENT;
                ps->err = msgf("PostgreSQL connection lost: %s", PQerrorMessage(h->conn));
            }
            return;
        }
    }
}

/* Sends the prepared rows in pipeline mode (entered by the caller) and
 * reads their results; the Sync commits. ops and at: as in pipe_state. */
static int run_pipeline(handle *h, const char *const *names, const params *pa, int n, store_op *ops,
                        const int *at, char **err) {
    pipe_state ps = {STORE_OK, NULL, 0, ops, at};
    int sent = 0;
    for (int i = 0; i < n && ps.rc == STORE_OK; i++) {
        const params *p = &pa[i];
        if (!PQsendQueryPrepared(h->conn, names[i], p->n, p->v, p->len, p->fmt, 0)) {
            conn_lost(h);
            h->broken = 1;
            ps.rc = STORE_ERR_TRANSIENT;
            ps.err = msgf("PostgreSQL: %s", PQerrorMessage(h->conn));
            break;
        }
        sent++;
        if (sent % PIPELINE_CHUNK == 0 && sent < n) {
            PQsendFlushRequest(h->conn);
            PQflush(h->conn);
            read_results(h, &ps, sent);
        }
    }
    if (!h->broken && PQpipelineSync(h->conn)) {
        read_results(h, &ps, sent);
        if (!h->broken) {
            PGresult *res = PQgetResult(h->conn);
            if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && ps.rc == STORE_OK) {
                ps.rc = STORE_ERR_TRANSIENT;
                ps.err = msgf("PostgreSQL: the batch's commit did not complete: %s",
                              PQerrorMessage(h->conn));
                h->broken = 1;
            }
            PQclear(res);
        }
    } else if (ps.rc == STORE_OK) {
        ps.rc = STORE_ERR_TRANSIENT;
        ps.err = msgf("PostgreSQL connection lost: %s", PQerrorMessage(h->conn));
        h->broken = 1;
    }
    if (!PQexitPipelineMode(h->conn)) h->broken = 1; /* out of step: start afresh */
    if (ps.rc == STORE_ERR_TRANSIENT)
        *err = ps.err;
    else
        free(ps.err);
    return ps.rc;
}

/* How many rows from ops[i] go in one statement: UPSERTs of one shape that
 * follow each other share a multi-row INSERT, in steps of 64, 16, 4 and 1
 * rows (so a shape has at most four prepared statements) and within
 * PostgreSQL's 65535 parameters. A key twice in one statement is refused by
 * PostgreSQL (21000); the careful path then applies the rows one by one. */
#define ROWS_PER_STATEMENT 64
static int statement_rows(const store_op *ops, int i, int n) {
    if (ops[i].kind != STORE_UPSERT || ops[i].ncols == 0) return 1; /* DO NOTHING: invariant 3 */
    int run = 1;
    while (run < ROWS_PER_STATEMENT && i + run < n && same_shape(&ops[i + run], &ops[i])) run++;
    int per_row = op_nparams(&ops[i]);
    for (int step = ROWS_PER_STATEMENT; step > 1; step /= 4)
        if (run >= step && step * per_row <= 65535) return step;
    return 1;
}

/* Every row in one pipeline, one implicit transaction committed at its
 * Sync. Returns STORE_OK (committed), STORE_ERR_PERMANENT / USER when a row
 * was refused (nothing applied: the careful path runs the batch again) or
 * STORE_ERR_TRANSIENT with *err (nothing applied, or, if the connection
 * dropped after the Sync, unknown). */
static int apply_pipelined(handle *h, store_op *ops, int n, char **err) {
    /* at most one statement per row; fewer when rows of one shape follow
     * each other (then up to ROWS_PER_STATEMENT share one) */
    const char **names = pg_alloc(sizeof(char *) * (size_t)n);
    params *pa = pg_alloc(sizeof(params) * (size_t)n);
    int *at = pg_alloc(sizeof(int) * (size_t)(n + 1));
    buf q = {0};
    int rc = STORE_OK, nsend = 0;
    /* prepare and bind everything first: once the pipeline runs, a row that
     * cannot be sent would leave the rows before it to be committed */
    for (int i = 0, rows; i < n && rc == STORE_OK; i += rows) {
        const tcols *t = table_types(h, ops[i].table, &rc, err);
        if (rc != STORE_OK) break;
        rows = statement_rows(ops, i, n);
        buf_clear(&q);
        op_sql_rows(h, &ops[i], rows, &q);
        names[nsend] = stmt_for(h, q.p, &rc, err);
        if (!names[nsend]) break;
        at[nsend] = i;
        at[nsend + 1] = i + rows;
        params *p = &pa[nsend++];
        int per_row = op_nparams(&ops[i]);
        params_init(p, per_row * rows);
        for (int r = 0; r < rows && rc == STORE_OK; r++)
            rc = op_params_at(&ops[i + r], t, -1, NULL, p, r * per_row, err);
    }
    free(q.p);
    if (rc == STORE_OK && !PQenterPipelineMode(h->conn)) {
        *err = msgf("PostgreSQL: cannot enter pipeline mode: %s", PQerrorMessage(h->conn));
        conn_lost(h);
        rc = STORE_ERR_TRANSIENT;
    }
    for (int i = 0; i < n; i++) ops[i].change = ops[i].kind == STORE_DELETE ? 'D' : 0;
    if (rc == STORE_OK) rc = run_pipeline(h, names, pa, nsend, ops, at, err);
    for (int i = 0; i < nsend; i++) params_free(&pa[i]);
    free(at);
    free(pa);
    free(names);
    return rc;
}

/* ---- apply_batch: the careful path ---------------------------------------------- */

/* One unit (ops[i..end)) under a savepoint. STORE_OK whether it was applied
 * or refused (its ops then carry the refusal, and a lone row's on_refuse op
 * is applied); STORE_ERR_TRANSIENT with *err when the batch must fail. */
static int apply_unit(handle *h, store_op *ops, int i, int end, char **err) {
    if (exec_cmd(h, "SAVEPOINT larder_row", err) != STORE_OK) return STORE_ERR_TRANSIENT;
    int refused = -1, rc = STORE_OK;
    char *why = NULL;
    for (int k = i; k < end && refused < 0; k++) {
        rc = run_op_state(h, &ops[k], -1, NULL, &why, NULL, &ops[k]);
        if (rc == STORE_OK) continue;
        if (rc == STORE_ERR_TRANSIENT) {
            *err = why;
            return rc;
        }
        refused = k;
    }
    if (refused < 0)
        return exec_cmd(h, "RELEASE larder_row", err) == STORE_OK ? STORE_OK : STORE_ERR_TRANSIENT;
    for (int k = i; k < end; k++) {
        ops[k].status = STORE_ERR_PERMANENT;
        ops[k].error = pg_strdup(why);
    }
    if (exec_cmd(h, "ROLLBACK TO larder_row", err) != STORE_OK) {
        free(why);
        return STORE_ERR_TRANSIENT;
    }
    if (end == i + 1 && ops[i].on_refuse) {
        const store_op *alt = ops[i].on_refuse;
        int col = ops[i].on_refuse_col;
        char *aerr = NULL;
        if (col < 0 || col >= alt->ncols || alt->vals[col].type == SV_NULL)
            aerr = msgf("on_refuse_col %d is not a bound column of the dead-letter op", col);
        else if (run_op(h, alt, col, why, &aerr) == STORE_OK)
            aerr = NULL;
        else if (!aerr)
            aerr = msgf("dead-letter row refused");
        if (aerr) {
            *err = msgf("dead letter refused: %s (row refused: %s)", aerr, why);
            free(aerr);
            free(why);
            return STORE_ERR_TRANSIENT;
        }
    }
    free(why);
    return exec_cmd(h, "RELEASE larder_row", err) == STORE_OK ? STORE_OK : STORE_ERR_TRANSIENT;
}

static void reset_status(store_op *ops, int n) {
    for (int i = 0; i < n; i++) {
        free(ops[i].error);
        ops[i].error = NULL;
        ops[i].status = STORE_OK;
    }
}

static int apply_careful(handle *h, store_op *ops, int n, char **err) {
    if (exec_cmd(h, "BEGIN", err) != STORE_OK) return STORE_ERR_TRANSIENT;
    int rc = STORE_OK;
    for (int i = 0, end; i < n && rc == STORE_OK; i = end) {
        end = i + 1;
        while (ops[i].unit && end < n && ops[end].unit == ops[i].unit) end++;
        rc = apply_unit(h, ops, i, end, err);
    }
    if (rc == STORE_OK) {
        char *cerr = NULL;
        if (exec_cmd(h, "COMMIT", &cerr) == STORE_OK) return STORE_OK;
        *err = msgf("commit: %s", cerr ? cerr : "failed");
        free(cerr);
    }
    if (!h->broken) exec_cmd(h, "ROLLBACK", NULL);
    reset_status(ops, n);
    return STORE_ERR_TRANSIENT;
}

static int m_apply_batch(void *hp, store_op *ops, int n, char **err) {
    handle *h = hp;
    for (int i = 0; i < n; i++) {
        ops[i].status = STORE_OK;
        ops[i].error = NULL;
    }
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    if (n == 0) return STORE_OK;
    trim_stmts(h);
    char *why = NULL;
    rc = apply_pipelined(h, ops, n, &why);
    if (rc == STORE_OK) return STORE_OK;
    if (rc == STORE_ERR_TRANSIENT) {
        *err = why;
        return rc;
    }
    free(why);
    /* a row was refused: again, each unit under its own savepoint */
    return apply_careful(h, ops, n, err);
}

/* ---- check ------------------------------------------------------------------------ */

/* Refused by the row's table alone: not_null_violation (23502),
 * check_violation (23514), or a value its type cannot take (class 22).
 * Unique (23505), foreign key (23503) and exclusion (23P01) depend on other
 * rows: those the write itself meets. */
static int schema_sqlstate(const char *st) {
    return !strcmp(st, "23502") || !strcmp(st, "23514") || !strncmp(st, "22", 2);
}

/* The common case first: BEGIN, every UPSERT, ROLLBACK in one pipeline
 * (one round trip). STORE_OK when every row went in (each passes);
 * STORE_ERR_PERMANENT / USER when one was refused (the careful path finds
 * which); STORE_ERR_TRANSIENT with *err. Leaves no transaction open. */
static int check_pipelined(handle *h, store_op *ops, int n, char **err) {
    const char **names = pg_alloc(sizeof(char *) * (size_t)(n + 2));
    params *pa = pg_alloc(sizeof(params) * (size_t)(n + 2));
    int rc = STORE_OK, nsend = 0;
    buf q = {0};
    if ((names[nsend] = stmt_for(h, "BEGIN", &rc, err))) params_init(&pa[nsend++], 0);
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        if (ops[i].kind != STORE_UPSERT) continue;
        const tcols *t = table_types(h, ops[i].table, &rc, err);
        if (rc != STORE_OK) break;
        buf_clear(&q);
        op_sql(h, &ops[i], &q);
        if (!(names[nsend] = stmt_for(h, q.p, &rc, err))) break;
        rc = op_params(&ops[i], t, -1, NULL, &pa[nsend++], err);
    }
    free(q.p);
    if (rc == STORE_OK && (names[nsend] = stmt_for(h, "ROLLBACK", &rc, err)))
        params_init(&pa[nsend++], 0);
    if (rc == STORE_OK && !PQenterPipelineMode(h->conn)) {
        *err = msgf("PostgreSQL: cannot enter pipeline mode: %s", PQerrorMessage(h->conn));
        conn_lost(h);
        rc = STORE_ERR_TRANSIENT;
    }
    if (rc == STORE_OK) {
        char *why = NULL;
        rc = run_pipeline(h, names, pa, nsend, NULL, NULL, &why);
        if (rc == STORE_ERR_TRANSIENT)
            *err = why;
        else
            free(why);
    }
    /* a refused row left the transaction open and aborted */
    if (!h->broken && PQtransactionStatus(h->conn) != PQTRANS_IDLE) exec_cmd(h, "ROLLBACK", NULL);
    for (int i = 0; i < nsend; i++) params_free(&pa[i]);
    free(pa);
    free(names);
    return rc;
}

/* store_api.h's check: the pipelined fast path; when a row is refused, again
 * with BEGIN, each UPSERT under a savepoint rolled back after it, ROLLBACK.
 * Nothing is committed: sequences a DEFAULT draws from advance (PostgreSQL
 * never rolls them back), triggers run and are undone, and a row another
 * transaction holds locked makes the check wait for it, as the write
 * would. */
static int m_check(void *hp, store_op *ops, int n, char **err) {
    handle *h = hp;
    for (int i = 0; i < n; i++) {
        ops[i].status = STORE_OK;
        ops[i].error = NULL;
    }
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    trim_stmts(h);
    char *why = NULL;
    rc = check_pipelined(h, ops, n, &why);
    if (rc == STORE_OK || rc == STORE_ERR_TRANSIENT) {
        if (rc != STORE_OK) *err = why;
        return rc;
    }
    free(why);
    rc = STORE_OK;
    if (exec_cmd(h, "BEGIN", err) != STORE_OK) return STORE_ERR_TRANSIENT;
    for (int i = 0; i < n && rc == STORE_OK; i++) {
        if (ops[i].kind != STORE_UPSERT) continue;
        if ((rc = exec_cmd(h, "SAVEPOINT larder_check", err)) != STORE_OK) break;
        char st[6] = "", *why = NULL;
        int orc = run_op_state(h, &ops[i], -1, NULL, &why, st, NULL);
        if (orc == STORE_ERR_TRANSIENT) {
            *err = why;
            rc = orc;
            break;
        }
        if (orc != STORE_OK && schema_sqlstate(st)) {
            ops[i].status = STORE_ERR_PERMANENT;
            ops[i].error = why;
        } else {
            free(why);
        }
        rc = exec_cmd(h, "ROLLBACK TO larder_check", err);
    }
    if (!h->broken) exec_cmd(h, "ROLLBACK", NULL);
    if (rc == STORE_OK) return STORE_OK;
    reset_status(ops, n);
    return STORE_ERR_TRANSIENT;
}

/* ---- query ------------------------------------------------------------------------ */

static int is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

/* Copies sql with `?` parameters numbered $1.. when it has no `$n` of its
 * own; literals ('..', E'..', $tag$..$tag$), quoted identifiers and comments
 * are copied as they are. Returns a malloc'd string. */
static char *number_params(const char *sql) {
    for (int pass = 0; pass < 2; pass++) {
        buf out = {0};
        int k = 0, has_dollar = 0;
        const char *p = sql;
        while (*p) {
            if (*p == '\'' || *p == '"') {
                char qc = *p;
                /* E'..' (backslash escapes): E must be a word of its own */
                int esc = qc == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                          (p - 1 == sql || !is_word_char(p[-2]));
                const char *s = p++;
                while (*p) {
                    if (esc && *p == '\\' && p[1]) {
                        p += 2;
                        continue;
                    }
                    if (*p == qc) {
                        if (p[1] == qc) {
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    p++;
                }
                buf_put(&out, s, (size_t)(p - s));
            } else if (p[0] == '-' && p[1] == '-') {
                const char *s = p;
                while (*p && *p != '\n') p++;
                buf_put(&out, s, (size_t)(p - s));
            } else if (p[0] == '/' && p[1] == '*') {
                const char *s = p;
                int depth = 0;
                while (*p) {
                    if (p[0] == '/' && p[1] == '*')
                        depth++, p += 2;
                    else if (p[0] == '*' && p[1] == '/') {
                        p += 2;
                        if (--depth == 0) break;
                    } else
                        p++;
                }
                buf_put(&out, s, (size_t)(p - s));
            } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
                has_dollar = 1;
                buf_put(&out, p++, 1);
            } else if (*p == '$') { /* $tag$ ... $tag$ */
                const char *e = p + 1;
                while (*e == '_' || (*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
                       (*e >= '0' && *e <= '9'))
                    e++;
                if (*e != '$') {
                    buf_put(&out, p++, 1);
                    continue;
                }
                size_t tl = (size_t)(e - p + 1);
                const char *end;
                for (end = e + 1; *end && strncmp(end, p, tl) != 0; end++) {
                }
                const char *stop = *end ? end + tl : end;
                buf_put(&out, p, (size_t)(stop - p));
                p = stop;
            } else if (*p == '?' && pass == 1) {
                buf_printf(&out, "$%d", ++k);
                p++;
            } else {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_') {
                    /* a word (E'..' needs its E kept next to the quote) */
                    const char *s = p;
                    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                           (*p >= '0' && *p <= '9') || *p == '$')
                        p++;
                    buf_put(&out, s, (size_t)(p - s));
                    continue;
                }
                buf_put(&out, p++, 1);
            }
        }
        if (pass == 0 && has_dollar) return out.p ? out.p : pg_strdup("");
        if (pass == 1) return out.p ? out.p : pg_strdup("");
        free(out.p);
    }
    return pg_strdup(sql);
}

/* Does this session see the invalidation log (log_install)?
 * Asked once per session, and again every 10 s while it is absent (another
 * sidecar may install it). */
static int log_exists(handle *h) {
    static const char sql[] = "SELECT 1 FROM pg_attribute WHERE attrelid = "
                              "to_regclass('larder_changes') AND attname = 'xid'";
    long long now = now_ms();
    if (h->has_log == 1 || (h->has_log == 0 && now < h->log_checked_ms + 10000))
        return h->has_log == 1;
    PGresult *res = PQexec(h->conn, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) h->has_log = PQntuples(res) > 0;
    h->log_checked_ms = now;
    PQclear(res);
    return h->has_log == 1;
}

/* Reports to changes every row the current transaction logged (the rows a
 * statement changed, its cascades and triggers included). */
static int report_changes(handle *h, store_change_fn changes, void *chctx, char **err) {
    static const char sql[] = "SELECT l.id, l.tbl, u.v, l.op FROM larder_changes l, unnest(l.pkv) "
                              "WITH ORDINALITY AS u(v, n) "
                              "WHERE l.xid = txid_current() ORDER BY l.id, u.n";
    int rc;
    const char *name = stmt_for(h, sql, &rc, err);
    if (!name) return rc;
    PGresult *res = PQexecPrepared(h->conn, name, 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return result_error(h, res, err);
    int nr = PQntuples(res);
    for (int r = 0, end; r < nr; r = end) {
        store_value pk[16];
        int npk = 0;
        for (end = r; end < nr && !strcmp(PQgetvalue(res, end, 0), PQgetvalue(res, r, 0)); end++)
            if (npk < 16) {
                const char *v = PQgetvalue(res, end, 2);
                pk[npk++] = PQgetisnull(res, end, 2) ? (store_value){SV_NULL, 0, 0, NULL, 0}
                                                     : (store_value){SV_TEXT, 0, 0, v, strlen(v)};
            }
        changes(chctx, PQgetvalue(res, r, 1), PQgetvalue(res, r, 3)[0], npk, pk);
    }
    PQclear(res);
    return STORE_OK;
}

/* BEGIN, COMMIT, SAVEPOINT ... by PostgreSQL's command tag. */
static int is_transaction_control(const char *tag) {
    static const char *const tags[] = {
        "BEGIN",   "START TRANSACTION",  "COMMIT", "ROLLBACK", "SAVEPOINT",
        "RELEASE", "PREPARE TRANSACTION"};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (!strncmp(tag, tags[i], strlen(tags[i]))) return 1;
    return 0;
}

/* A write with changes to report runs in its own transaction, so that the
 * log rows it wrote can be read back (by txid) before COMMIT. */
static int m_query(void *hp, const char *sql, int nargs, const store_value *args, int readonly,
                   store_sink *sink, store_change_fn changes, void *chctx, int64_t *affected,
                   char **err) {
    handle *h = hp;
    *affected = 0;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    trim_stmts(h);
    params p;
    params_init(&p, nargs);
    for (int i = 0; i < nargs && rc == STORE_OK; i++)
        rc = param_set(&p, i, &args[i], args[i].type == SV_BLOB, err);
    if (rc != STORE_OK) {
        params_free(&p);
        return STORE_ERR_USER;
    }
    int track = !readonly && changes && log_exists(h);
    if ((readonly || track) &&
        (rc = exec_cmd(h, readonly ? "BEGIN READ ONLY" : "BEGIN", err)) != STORE_OK) {
        params_free(&p);
        return rc;
    }
    char *text = number_params(sql);
    PGresult *res = PQexecParams(h->conn, text, nargs, NULL, p.v, p.len, p.fmt, 0);
    free(text);
    params_free(&p);
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_EMPTY_QUERY) { /* no statement, only blanks or ';': no message from libpq */
        PQclear(res);
        if (PQtransactionStatus(h->conn) != PQTRANS_IDLE) exec_cmd(h, "ROLLBACK", NULL);
        *err = msgf("empty statement");
        return STORE_ERR_USER;
    }
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int ro = readonly && st && !strcmp(st, "25006");
        int outside = track && st && !strcmp(st, "25001"); /* VACUUM and the like */
        rc = result_error(h, res, err);
        if (!h->broken && PQtransactionStatus(h->conn) != PQTRANS_IDLE)
            exec_cmd(h, "ROLLBACK", NULL);
        if (outside && !h->broken) { /* again, outside a transaction, nothing to report */
            free(*err);
            *err = NULL;
            return m_query(hp, sql, nargs, args, readonly, sink, NULL, NULL, affected, err);
        }
        if (ro) {
            char *pgmsg = *err;
            *err = msgf("SQL.QUERY runs read-only statements only; use SQL.EXEC (%s)", pgmsg);
            free(pgmsg);
        }
        return rc;
    }
    if (is_transaction_control(PQcmdStatus(res))) { /* it would hold the store's session */
        PQclear(res);
        if (PQtransactionStatus(h->conn) != PQTRANS_IDLE) exec_cmd(h, "ROLLBACK", NULL);
        *err = msgf("transaction control (BEGIN/COMMIT/SAVEPOINT) is not available over SQL.EXEC");
        return STORE_ERR_USER;
    }
    if (s == PGRES_TUPLES_OK) send_rows(res, sink);
    *affected = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if (track && (rc = report_changes(h, changes, chctx, err)) != STORE_OK) {
        if (!h->broken) exec_cmd(h, "ROLLBACK", NULL);
        *affected = 0;
        return rc;
    }
    if (readonly || track) return exec_cmd(h, "COMMIT", err);
    return STORE_OK;
}

/* ---- the change log --------------------------------------------------------- */

/* Why row triggers writing a log table plus NOTIFY, and not logical
 * decoding:
 *  - logical decoding needs wal_level=logical and a replication slot per
 *    sidecar (or one shared), and the REPLICATION privilege, which many
 *    managed PostgreSQL services do not give to an application role; a slot
 *    left behind by a dead sidecar pins WAL until the disk fills. Triggers
 *    need only CREATE on the schema;
 *  - the log table is a durable position: a sidecar remembers how far it
 *    applied and catches up after a disconnection or a restart (log_read,
 *    by transaction-id horizon: log ids come from a sequence, so a
 *    transaction that commits late can log a smaller id than one already
 *    seen); NOTIFY only wakes it (a missed notification loses nothing, and
 *    notifications are delivered at commit, so nothing uncommitted is seen);
 *  - any sidecar can prune the log (log_prune, by age): no consumer
 *    registry, and a sidecar that was away longer than the retention knows
 *    it (STORE_LOG_GAP) and drops its cache instead of serving stale rows;
 *  - every writer is covered: a sidecar's batches, SQL.EXEC, psql, an ORM.
 * The cost is one extra row insert per changed row in the writer's
 * transaction, and one NOTIFY per table per transaction (the payload is
 * the table's name, so PostgreSQL folds a transaction's notifications for
 * one table into one).
 *
 *   larder_changes         id bigserial, tbl, op I/U/D/T, pk jsonb {"col": v},
 *                          at (clock_timestamp() of the change), pkv text[]
 *                          (the key's values in key order), xid (the writing
 *                          transaction), origin (its session's larder.origin)
 *   larder_changes_pruned  one row: below, every txid under it may be pruned */
static const char invalidation_sql[] =
    "SELECT pg_advisory_xact_lock(hashtext('larder_changes'));"
    "CREATE TABLE IF NOT EXISTS larder_changes (id bigserial PRIMARY KEY, tbl text NOT NULL, "
    "  op char NOT NULL, pk jsonb NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());"
    "ALTER TABLE larder_changes ADD COLUMN IF NOT EXISTS pkv text[], "
    "  ADD COLUMN IF NOT EXISTS xid bigint DEFAULT txid_current(), "
    "  ADD COLUMN IF NOT EXISTS origin text DEFAULT current_setting('larder.origin', true), "
    "  ALTER COLUMN at SET DEFAULT clock_timestamp();"
    "CREATE INDEX IF NOT EXISTS larder_changes_xid ON larder_changes (xid);"
    "CREATE TABLE IF NOT EXISTS larder_changes_pruned (one boolean PRIMARY KEY DEFAULT true "
    "  CHECK (one), below bigint NOT NULL);"
    "CREATE OR REPLACE FUNCTION larder_log_change() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
    "DECLARE\n"
    "  c text;\n"
    "  newk jsonb := '{}';\n"
    "  oldk jsonb := '{}';\n"
    "  newv text[] := '{}';\n"
    "  oldv text[] := '{}';\n"
    "BEGIN\n"
    "  IF TG_OP = 'TRUNCATE' THEN\n"
    "    INSERT INTO larder_changes (tbl, op, pk) VALUES (TG_TABLE_NAME, 'T', '{}');\n"
    "    PERFORM pg_notify('larder_changes', TG_TABLE_NAME);\n"
    "    RETURN NULL;\n"
    "  END IF;\n"
    "  FOREACH c IN ARRAY TG_ARGV LOOP\n"
    "    IF TG_OP <> 'DELETE' THEN\n"
    "      newk := newk || jsonb_build_object(c, to_jsonb(NEW) -> c);\n"
    "      newv := newv || (to_jsonb(NEW) ->> c);\n"
    "    END IF;\n"
    "    IF TG_OP <> 'INSERT' THEN\n"
    "      oldk := oldk || jsonb_build_object(c, to_jsonb(OLD) -> c);\n"
    "      oldv := oldv || (to_jsonb(OLD) ->> c);\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "  IF TG_OP = 'UPDATE' AND oldk <> newk THEN\n"
    "    INSERT INTO larder_changes (tbl, op, pk, pkv) VALUES (TG_TABLE_NAME, 'D', oldk, oldv);\n"
    "  END IF;\n"
    "  INSERT INTO larder_changes (tbl, op, pk, pkv)\n"
    "    VALUES (TG_TABLE_NAME, left(TG_OP, 1), CASE WHEN TG_OP = 'DELETE' THEN oldk ELSE newk "
    "END,\n"
    "            CASE WHEN TG_OP = 'DELETE' THEN oldv ELSE newv END);\n"
    "  PERFORM pg_notify('larder_changes', TG_TABLE_NAME);\n"
    "  RETURN NULL;\n"
    "END\n"
    "$body$;";

/* The triggers of one table: its primary-key columns are the row trigger's
 * arguments. Identifiers and arguments are quoted by libpq (DDL takes no
 * parameters). */
static int install_table(handle *h, const char *table, buf *q, char **err) {
    int rc;
    PGresult *res = describe_rows(h, table, &rc, err);
    if (!res) return rc;
    int n = PQntuples(res), npk = 0;
    const char *keys[32];
    for (int pos = 1; pos <= 32; pos++)
        for (int i = 0; i < n; i++)
            if (atoi(PQgetvalue(res, i, 4)) == pos) keys[npk++] = PQgetvalue(res, i, 0);
    if (npk == 0) {
        *err = n ? msgf("table %s has no primary key", table) : msgf("no such table: %s", table);
        PQclear(res);
        return STORE_ERR_USER;
    }
    char *t = PQescapeIdentifier(h->conn, table, strlen(table));
    buf_printf(q, "DROP TRIGGER IF EXISTS larder_changes_row ON %s;", t);
    buf_printf(q, "DROP TRIGGER IF EXISTS larder_changes_truncate ON %s;", t);
    buf_printf(q,
               "CREATE TRIGGER larder_changes_row AFTER INSERT OR UPDATE OR DELETE ON %s "
               "FOR EACH ROW EXECUTE FUNCTION larder_log_change(",
               t);
    for (int i = 0; i < npk; i++) {
        char *lit = PQescapeLiteral(h->conn, keys[i], strlen(keys[i]));
        buf_printf(q, "%s%s", i ? ", " : "", lit ? lit : "''");
        PQfreemem(lit);
    }
    buf_printf(q,
               ");CREATE TRIGGER larder_changes_truncate AFTER TRUNCATE ON %s "
               "FOR EACH STATEMENT EXECUTE FUNCTION larder_log_change();",
               t);
    PQfreemem(t);
    PQclear(res);
    return STORE_OK;
}

/* One transaction under an advisory lock: safe twice, and from several
 * sidecars at once. */
static int m_log_install(void *hp, int ntables, const char *const *tables, char **err) {
    handle *h = hp;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    buf q = {0};
    buf_puts(&q, "BEGIN;");
    buf_puts(&q, invalidation_sql);
    for (int i = 0; i < ntables && rc == STORE_OK; i++) rc = install_table(h, tables[i], &q, err);
    buf_puts(&q, "COMMIT;");
    if (rc == STORE_OK) rc = exec_cmd(h, q.p, err);
    if (rc == STORE_OK) h->has_log = 1;
    free(q.p);
    if (!h->broken && PQtransactionStatus(h->conn) != PQTRANS_IDLE) exec_cmd(h, "ROLLBACK", NULL);
    return rc;
}

/* ---- reading the log ----
 * The position is a txid horizon: txid_snapshot_xmin of the read's
 * snapshot. Every transaction with a smaller txid has ended, so its log
 * rows are all visible now and none will appear later: reading [pos,
 * horizon) and advancing pos to the horizon misses nothing, even when a
 * transaction that took its log id early commits late. A long transaction
 * holds the horizon back; so that it does not hold back invalidations too,
 * rows of transactions at or above the horizon that are already committed
 * (visible) are reported early, and their txids remembered (early[]) so
 * that they are not reported again once the horizon passes them; rows
 * already reported are not read again (id > seen_id). Past EARLY_MAX such
 * transactions the rest wait for the horizon. The read runs in one
 * REPEATABLE READ snapshot, so the horizon, the pruning mark and the rows
 * agree. */
#define EARLY_MAX 4096

/* Is xid among early[from..to)? */
static int early_in(const handle *h, int from, int to, int64_t xid) {
    for (int i = from; i < to; i++)
        if (h->early[i] == xid) return 1;
    return 0;
}

static void early_add(handle *h, int64_t xid) {
    if (!h->early) h->early = pg_alloc(sizeof(int64_t) * EARLY_MAX);
    h->early[h->nearly++] = xid;
}

/* Forgets txids below the new horizon (they will not be read again). */
static void early_trim(handle *h, int64_t horizon) {
    int k = 0;
    for (int i = 0; i < h->nearly; i++)
        if (h->early[i] >= horizon) h->early[k++] = h->early[i];
    h->nearly = k;
}

/* Reports the rows of res (id, xid, tbl, op, at_us, origin, value; a
 * change's key values on consecutive rows). */
static void report_log_rows(handle *h, PGresult *res, int64_t horizon, store_log_fn fn, void *ctx) {
    int nr = PQntuples(res);
    int before = h->nearly; /* early[0..before): reported by earlier reads */
    for (int r = 0, end; r < nr; r = end) {
        store_value pk[16];
        int npk = 0;
        for (end = r; end < nr && !strcmp(PQgetvalue(res, end, 0), PQgetvalue(res, r, 0)); end++)
            if (npk < 16 && !PQgetisnull(res, end, 6)) {
                const char *v = PQgetvalue(res, end, 6);
                pk[npk++] = (store_value){SV_TEXT, 0, 0, v, strlen(v)};
            }
        int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        int64_t xid = strtoll(PQgetvalue(res, r, 1), NULL, 10);
        if (id > h->seen_id) h->seen_id = id;
        if (early_in(h, 0, before, xid)) continue; /* reported early by an earlier read */
        if (xid >= horizon && !early_in(h, before, h->nearly, xid)) { /* early, once */
            if (h->nearly >= EARLY_MAX) continue; /* reported when the horizon passes */
            early_add(h, xid);
        }
        const char *origin = PQgetvalue(res, r, 5);
        store_change c = {.table = PQgetvalue(res, r, 2),
                          .op = PQgetvalue(res, r, 3)[0],
                          .npk = npk,
                          .pk = pk,
                          .at_us = strtoll(PQgetvalue(res, r, 4), NULL, 10),
                          .own = !PQgetisnull(res, r, 5) && !strcmp(origin, h->origin)};
        fn(ctx, &c);
    }
}

static int m_log_read(void *hp, int64_t *pos, int *status, store_log_fn fn, void *ctx, char **err) {
    static const char horizon_sql[] = "SELECT txid_snapshot_xmin(txid_current_snapshot()), "
                                      "to_regclass('larder_changes_pruned') IS NOT NULL";
    static const char mark_sql[] = "SELECT coalesce(max(below), 0) FROM larder_changes_pruned";
    static const char rows_sql[] =
        "SELECT l.id, l.xid, l.tbl, l.op, (extract(epoch FROM l.at) * 1000000)::int8, l.origin, "
        "u.v FROM larder_changes l LEFT JOIN LATERAL unnest(l.pkv) WITH ORDINALITY AS u(v, n) "
        "ON true WHERE l.xid >= $1 AND (l.xid < $2 OR l.id > $3) ORDER BY l.id, u.n";
    handle *h = hp;
    *status = STORE_LOG_CONTINUOUS;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    if (*pos != h->read_pos) { /* another reader's position: start afresh */
        h->nearly = 0;
        h->seen_id = 0;
    }
    if ((rc = exec_cmd(h, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) != STORE_OK)
        return rc;
    const char *name = stmt_for(h, horizon_sql, &rc, err);
    PGresult *res = name ? PQexecPrepared(h->conn, name, 0, NULL, NULL, NULL, 0) : NULL;
    if (!name || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (name) rc = result_error(h, res, err);
        goto fail;
    }
    int64_t horizon = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    int installed = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    if (!installed) { /* asked without an error in PostgreSQL's log every second */
        *err = msgf("the change log is not installed (STORE.INVALIDATION INSTALL, or "
                    "store-invalidation yes)");
        rc = STORE_ERR_USER;
        goto fail;
    }
    name = stmt_for(h, mark_sql, &rc, err);
    res = name ? PQexecPrepared(h->conn, name, 0, NULL, NULL, NULL, 0) : NULL;
    if (!name || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (name) rc = result_error(h, res, err);
        goto fail;
    }
    int64_t below = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (*pos > 0 && (*pos < below || *pos > horizon)) {
        *status = STORE_LOG_GAP; /* pruned past it, or another database's position */
        *pos = 0;
    }
    if (*pos <= 0) { /* from now on */
        h->nearly = 0;
        h->seen_id = 0;
    } else {
        name = stmt_for(h, rows_sql, &rc, err);
        if (!name) goto fail;
        char from[24], to[24], seen[24];
        snprintf(from, sizeof(from), "%lld", (long long)*pos);
        snprintf(to, sizeof(to), "%lld", (long long)horizon);
        snprintf(seen, sizeof(seen), "%lld", (long long)h->seen_id);
        const char *vals[3] = {from, to, seen};
        res = PQexecPrepared(h->conn, name, 3, vals, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = result_error(h, res, err);
            goto fail;
        }
        report_log_rows(h, res, horizon, fn, ctx);
        PQclear(res);
    }
    early_trim(h, horizon);
    *pos = h->read_pos = horizon;
    return exec_cmd(h, "COMMIT", err);
fail:
    if (!h->broken && PQtransactionStatus(h->conn) != PQTRANS_IDLE) exec_cmd(h, "ROLLBACK", NULL);
    return rc;
}

/* ---- listening ---- */

static int m_log_listen(void *hp, int *fd, char **err) {
    handle *h = hp;
    *fd = -1;
    if (h->listen_conn && PQstatus(h->listen_conn) == CONNECTION_OK) {
        *fd = PQsocket(h->listen_conn);
        return STORE_OK;
    }
    if (h->listen_conn) PQfinish(h->listen_conn);
    h->listen_conn = pg_connect(h->conninfo);
    PGresult *res = NULL;
    if (PQstatus(h->listen_conn) == CONNECTION_OK)
        res = PQexec(h->listen_conn, "LISTEN " PGSTORE_CHANNEL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *err = msgf("cannot listen for changes: %s", PQerrorMessage(h->listen_conn));
        PQclear(res);
        PQfinish(h->listen_conn);
        h->listen_conn = NULL;
        return STORE_ERR_TRANSIENT;
    }
    PQclear(res);
    *fd = PQsocket(h->listen_conn);
    return STORE_OK;
}

static int m_log_consume(void *hp, int *n, char **err) {
    handle *h = hp;
    *n = 0;
    if (!h->listen_conn) {
        *err = msgf("not listening");
        return STORE_ERR_TRANSIENT;
    }
    int ok = PQconsumeInput(h->listen_conn);
    PGnotify *note;
    while ((note = PQnotifies(h->listen_conn)) != NULL) {
        (*n)++;
        PQfreemem(note);
    }
    if (!ok || PQstatus(h->listen_conn) != CONNECTION_OK) {
        *err = msgf("listening connection lost: %s", PQerrorMessage(h->listen_conn));
        PQfinish(h->listen_conn);
        h->listen_conn = NULL;
        return STORE_ERR_TRANSIENT;
    }
    return STORE_OK;
}

static void m_log_unlisten(void *hp) {
    handle *h = hp;
    if (h->listen_conn) PQfinish(h->listen_conn);
    h->listen_conn = NULL;
}

/* Deletes, oldest transactions first and at most PRUNE_ROWS per call (on
 * the xid index, no scan of the whole log), the entries older than the
 * retention of transactions below the horizon (a running transaction's
 * rows are never pruned before a reader saw them), and raises
 * larder_changes_pruned.below above them: a reader whose position is below
 * it has lost entries (STORE_LOG_GAP). */
#define PRUNE_ROWS 10000
static int m_log_prune(void *hp, int64_t retention_s, int64_t *deleted, char **err) {
    static const char sql[] =
        "WITH c AS (SELECT id FROM larder_changes "
        "  WHERE xid < txid_snapshot_xmin(txid_current_snapshot()) ORDER BY xid LIMIT $2), "
        "d AS (DELETE FROM larder_changes l USING c WHERE l.id = c.id "
        "  AND l.at < clock_timestamp() - make_interval(secs => $1) RETURNING l.xid), "
        "m AS (INSERT INTO larder_changes_pruned AS p (one, below) "
        "  SELECT true, max(xid) + 1 FROM d HAVING count(*) > 0 "
        "  ON CONFLICT (one) DO UPDATE SET below = greatest(p.below, excluded.below)) "
        "SELECT count(*) FROM d";
    handle *h = hp;
    *deleted = 0;
    int rc = ensure_conn(h, err);
    if (rc != STORE_OK) return rc;
    const char *name = stmt_for(h, sql, &rc, err);
    if (!name) return rc;
    char secs[24], lim[24];
    snprintf(secs, sizeof(secs), "%lld", (long long)retention_s);
    snprintf(lim, sizeof(lim), "%d", PRUNE_ROWS);
    const char *vals[2] = {secs, lim};
    PGresult *res = PQexecPrepared(h->conn, name, 2, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return result_error(h, res, err);
    *deleted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

/* The server's own tables (wb_meta, wb_deadletter) in PostgreSQL's types. */
static const char *m_column_type(int sv_type) {
    return sv_type == SV_INT ? "bigint" : sv_type == SV_BLOB ? "bytea" : "text";
}

/* Reconnecting while the backoff grows; down once it reached its maximum
 * (attempts have failed for about 2 s). */
static void m_status(void *hp, store_status *st) {
    handle *h = hp;
    st->reconnects = h->reconnects;
    if (!h->broken && PQstatus(h->conn) == CONNECTION_OK)
        st->state = STORE_CONN_CONNECTED;
    else
        st->state = h->backoff_ms >= BACKOFF_MAX_MS ? STORE_CONN_DOWN : STORE_CONN_RECONNECTING;
}

static const store_module module = {
    .api_version = LARDER_STORE_API_VERSION,
    .name = "pgstore",
    .open = m_open,
    .close = m_close,
    .free_error = m_free_error,
    .describe = m_describe,
    .free_columns = m_free_columns,
    .get = m_get,
    .apply_batch = m_apply_batch,
    .query = m_query,
    .log_install = m_log_install,
    .log_read = m_log_read,
    .log_listen = m_log_listen,
    .log_consume = m_log_consume,
    .log_unlisten = m_log_unlisten,
    .log_prune = m_log_prune,
    .check = m_check,
    .max_handles = 0, /* one libpq connection per handle */
    .column_type = m_column_type,
    .status = m_status,
    .get_many = m_get_many,
};

const store_module *larder_store_module(void) {
    return &module;
}
