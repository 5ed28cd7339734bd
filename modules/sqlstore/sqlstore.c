/* modules/sqlstore — the bundled store module: Larder's store API
 * (src/persist/store_api.h) over the embedded SQL engine (src/sql/sql.h).
 *
 *   loadmodule build/modules/sqlstore.so [cache-size BYTES]
 *   store-path larder.db
 *
 * This object carries the engine itself (larder-server links none of it; the
 * Makefile says why); only its entry point is exported. Every call
 * arrives on Larder's store thread; statements are prepared once and cached
 * by their text.
 *
 * A batch is one transaction: BEGIN, the rows' statements, COMMIT (durable
 * when it returns). If a row is refused by a constraint, the batch is rolled
 * back and run again with each row (unit) in a savepoint: SAVEPOINT / the
 * row's statements / RELEASE, or ROLLBACK TO for the refused one (that row
 * alone is refused, permanently). An I/O error, a full disk or
 * a busy file rolls back the whole batch and is reported as transient.
 *
 * Each row's store_op.change comes from the engine's change hook, set for
 * the batch: the first change of the row's table that the row's statement
 * reports is the row itself (INSERT for a new row; ON CONFLICT DO UPDATE
 * reports UPDATE), since cascades and AFTER triggers follow it. A row
 * whose statement reports nothing existed (DO NOTHING of a table with key
 * columns only). */
#include "persist/store_api.h"
#include "sql/sql.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cached_stmt {
    char *sql;
    sql_stmt *stmt;
    struct cached_stmt *next;
} cached_stmt;

typedef struct handle {
    sql_db *db;
    cached_stmt *stmts;
    int nstmts;
    store_change_fn changes;
    void *changes_ctx;
    store_op *row; /* apply_batch: the row op running (batch_hook notes its change) */
} handle;

static char *dup_err(const char *prefix, sql_db *db) {
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s%s", prefix, sql_errmsg(db));
    return sbuf_take(&b, NULL);
}

/* Permanent: the data or the request can never succeed as is. */
static int classify(int rc) {
    switch (rc) {
    case SQL_CONSTRAINT:
    case SQL_TOOBIG:
    case SQL_ERROR:
    case SQL_RANGE:
    case SQL_MISUSE:
    case SQL_READONLY:
        return STORE_ERR_PERMANENT;
    default:
        return STORE_ERR_TRANSIENT; /* BUSY, IOERR, FULL, CORRUPT, CANTOPEN, NOTADB */
    }
}

static int m_open(int argc, const char *const *argv, void **out, char **err) {
    const char *path = "larder.db";
    /* write-behind batches rewrite the same pages commit after commit: a
     * longer log lets a checkpoint copy each page once for many commits */
    sql_options opts = {SQL_OPEN_CREATE, 0, 0, 16384};
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "store-path"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "cache-size"))
            opts.cache_size = (size_t)strtoull(argv[i + 1], NULL, 10);
    }
    handle *h = xcalloc(1, sizeof(*h));
    int rc = sql_open(path, &opts, &h->db);
    if (rc != SQL_OK) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "cannot open %s: %s", path, sql_errmsg(h->db));
        *err = sbuf_take(&b, NULL);
        sql_close(h->db);
        xfree(h);
        return STORE_ERR_TRANSIENT;
    }
    *out = h;
    return STORE_OK;
}

static void m_close(void *hp) {
    handle *h = hp;
    if (!h) return;
    for (cached_stmt *c = h->stmts; c;) {
        cached_stmt *n = c->next;
        sql_finalize(c->stmt);
        xfree(c->sql);
        xfree(c);
        c = n;
    }
    sql_close(h->db);
    xfree(h);
}

static void m_free_error(char *err) {
    xfree(err);
}

/* The prepared statement for text sql (cached), reset and unbound. */
static sql_stmt *prepare(handle *h, const char *sql, int *rc) {
    for (cached_stmt *c = h->stmts; c; c = c->next) {
        if (!strcmp(c->sql, sql)) {
            sql_reset(c->stmt);
            sql_clear_bindings(c->stmt);
            *rc = SQL_OK;
            return c->stmt;
        }
    }
    sql_stmt *st = NULL;
    *rc = sql_prepare(h->db, sql, -1, &st, NULL);
    if (*rc != SQL_OK || !st) {
        if (*rc == SQL_OK) *rc = SQL_ERROR;
        return NULL;
    }
    if (h->nstmts >= 256) return st; /* not cached: the caller finalizes */
    cached_stmt *c = xmalloc(sizeof(*c));
    c->sql = xstrdup(sql);
    c->stmt = st;
    c->next = h->stmts;
    h->stmts = c;
    h->nstmts++;
    return st;
}

static int cached(handle *h, sql_stmt *st) {
    for (cached_stmt *c = h->stmts; c; c = c->next)
        if (c->stmt == st) return 1;
    return 0;
}

static void done_with(handle *h, sql_stmt *st) {
    if (cached(h, st))
        sql_reset(st);
    else
        sql_finalize(st);
}

/* Binds without copying: every caller's values outlive its statement's
 * steps, and a cached statement's bindings are cleared (prepare, the
 * reuse in apply_op_sql) before it runs again. */
static int bind(sql_stmt *st, int i, const store_value *v) {
    switch (v->type) {
    case SV_NULL:
        return sql_bind_null(st, i);
    case SV_INT:
        return sql_bind_int64(st, i, v->i);
    case SV_REAL:
        return sql_bind_double(st, i, v->d);
    case SV_BLOB:
        return sql_bind_blob_ref(st, i, v->p, (int)v->len);
    default:
        return sql_bind_text_ref(st, i, v->p ? v->p : "", (int)v->len);
    }
}

static void quote_ident(sbuf *b, const char *name) {
    sbuf_puts(b, "\"");
    for (const char *p = name; *p; p++) {
        if (*p == '"') sbuf_puts(b, "\"");
        sbuf_append(b, p, 1);
    }
    sbuf_puts(b, "\"");
}

static void value_of(sql_stmt *st, int i, store_value *v) {
    memset(v, 0, sizeof(*v));
    switch (sql_column_type(st, i)) {
    case SQL_NULL:
        v->type = SV_NULL;
        break;
    case SQL_INTEGER:
        v->type = SV_INT;
        v->i = sql_column_int64(st, i);
        break;
    case SQL_FLOAT:
        v->type = SV_REAL;
        v->d = sql_column_double(st, i);
        break;
    case SQL_BLOB:
        v->type = SV_BLOB;
        v->p = sql_column_blob(st, i);
        v->len = (size_t)sql_column_bytes(st, i);
        break;
    default: /* TEXT, DECIMAL: their text form */
        v->type = SV_TEXT;
        v->p = sql_column_text(st, i);
        v->len = (size_t)sql_column_bytes(st, i);
    }
}

/* Steps st to the end, feeding rows to sink. */
static int run_rows(sql_stmt *st, store_sink *sink) {
    int ncol = sql_column_count(st), rc;
    store_value stackv[32];
    store_value *vals = ncol <= 32 ? stackv : xmalloc(sizeof(store_value) * (size_t)ncol);
    int announced = 0;
    while ((rc = sql_step(st)) == SQL_ROW) {
        if (!sink) continue;
        if (!announced && sink->columns) {
            const char *names[256];
            const char **np = ncol <= 256 ? names : xmalloc(sizeof(char *) * (size_t)ncol);
            for (int i = 0; i < ncol; i++) np[i] = sql_column_name(st, i);
            sink->columns(sink->ctx, ncol, np);
            if (np != names) xfree(np);
        }
        announced = 1;
        for (int i = 0; i < ncol; i++) value_of(st, i, &vals[i]);
        if (sink->row) sink->row(sink->ctx, ncol, vals);
    }
    if (rc == SQL_DONE && !announced && ncol > 0 && sink && sink->columns) {
        /* a query without rows still has columns: report them */
        const char *names[256];
        for (int i = 0; i < ncol && i < 256; i++) names[i] = sql_column_name(st, i);
        sink->columns(sink->ctx, ncol < 256 ? ncol : 256, names);
    }
    if (vals != stackv) xfree(vals);
    return rc == SQL_DONE ? SQL_OK : rc;
}

/* What Larder may judge of the column's values itself (store_api.h): the
 * engine refuses only a value the integer primary key cannot take (not an
 * integer); a DECIMAL, DATE, TIMESTAMP or BOOLEAN value it parses its own
 * way (the store judges those); every other column keeps any value. */
static void check_class(store_column *c, const sql_column_info *ci) {
    if (ci->rules)
        c->check = STORE_CHECK_ROW;
    else if (ci->strict == 1)
        c->check = STORE_CHECK_INT, c->check_arg = 8;
    else if (ci->strict)
        c->check = STORE_CHECK_VALUE;
    else
        c->check = STORE_CHECK_ANY;
}

static int m_describe(void *hp, const char *table, store_column **out, int *n, char **err) {
    handle *h = hp;
    sql_column_info *cols = NULL;
    int ncols = 0;
    int rc = sql_table_columns(h->db, table, &cols, &ncols);
    if (rc != SQL_OK) {
        *err = dup_err("", h->db);
        return rc == SQL_ERROR ? STORE_ERR_USER : STORE_ERR_TRANSIENT;
    }
    store_column *c = xcalloc((size_t)(ncols ? ncols : 1), sizeof(store_column));
    for (int i = 0; i < ncols; i++) {
        c[i].name = xstrdup(cols[i].name);
        c[i].decltype = xstrdup(cols[i].decltype ? cols[i].decltype : "");
        switch (cols[i].type) {
        case SQL_INTEGER:
            c[i].type = SV_INT;
            break;
        case SQL_FLOAT:
        case SQL_DECIMAL:
            c[i].type = SV_REAL;
            break;
        case SQL_TEXT:
            c[i].type = SV_TEXT;
            break;
        case SQL_BLOB:
            c[i].type = SV_BLOB;
            break;
        default:
            c[i].type = SV_NULL;
        }
        c[i].pk = cols[i].pk;
        c[i].notnull = cols[i].notnull;
        c[i].dflt = cols[i].dflt != NULL;
        c[i].notnull_kept = cols[i].notnull; /* an upsert checks the row it writes */
        check_class(&c[i], &cols[i]);
        c[i].takes_text = cols[i].takes_text;
    }
    sql_free(cols);
    *out = c;
    *n = ncols;
    return STORE_OK;
}

static void m_free_columns(store_column *cols, int n) {
    for (int i = 0; i < n; i++) {
        xfree(cols[i].name);
        xfree(cols[i].decltype);
    }
    xfree(cols);
}

static int m_get(void *hp, const char *table, int nkey, const char *const *keycols,
                 const store_value *keyvals, store_sink *sink, char **err) {
    handle *h = hp;
    sbuf q = SBUF_INIT;
    sbuf_puts(&q, "SELECT * FROM ");
    quote_ident(&q, table);
    for (int i = 0; i < nkey; i++) {
        sbuf_puts(&q, i ? " AND " : " WHERE ");
        quote_ident(&q, keycols[i]);
        sbuf_printf(&q, " = ?%d", i + 1);
    }
    int rc;
    sql_stmt *st = prepare(h, q.p, &rc);
    sbuf_free(&q);
    if (!st) {
        *err = dup_err("", h->db);
        return classify(rc) == STORE_ERR_PERMANENT ? STORE_ERR_USER : STORE_ERR_TRANSIENT;
    }
    for (int i = 0; i < nkey; i++) bind(st, i + 1, &keyvals[i]);
    rc = run_rows(st, sink);
    if (rc != SQL_OK) *err = dup_err("", h->db);
    done_with(h, st);
    return rc == SQL_OK                          ? STORE_OK
           : classify(rc) == STORE_ERR_PERMANENT ? STORE_ERR_USER
                                                 : STORE_ERR_TRANSIENT;
}

/* The statement text of a row operation. */
static void op_sql(const store_op *op, sbuf *q) {
    if (op->kind == STORE_DELETE) {
        sbuf_puts(q, "DELETE FROM ");
        quote_ident(q, op->table);
        for (int i = 0; i < op->nkey; i++) {
            sbuf_puts(q, i ? " AND " : " WHERE ");
            quote_ident(q, op->keycols[i]);
            sbuf_printf(q, " = ?%d", i + 1);
        }
        return;
    }
    /* absent columns (SV_NULL) are left out of the INSERT (DEFAULT applies)
     * and set to NULL by the UPDATE */
    sbuf_puts(q, "INSERT INTO ");
    quote_ident(q, op->table);
    sbuf_puts(q, " (");
    for (int i = 0; i < op->nkey; i++) {
        if (i) sbuf_puts(q, ", ");
        quote_ident(q, op->keycols[i]);
    }
    for (int i = 0; i < op->ncols; i++) {
        if (op->vals[i].type == SV_NULL) continue;
        sbuf_puts(q, ", ");
        quote_ident(q, op->cols[i]);
    }
    sbuf_puts(q, ") VALUES (");
    int k = 0;
    for (int i = 0; i < op->nkey; i++) sbuf_printf(q, "%s?%d", k ? ", " : "", k + 1), k++;
    for (int i = 0; i < op->ncols; i++)
        if (op->vals[i].type != SV_NULL) sbuf_printf(q, ", ?%d", k + 1), k++;
    sbuf_puts(q, ") ON CONFLICT (");
    for (int i = 0; i < op->nkey; i++) {
        if (i) sbuf_puts(q, ", ");
        quote_ident(q, op->keycols[i]);
    }
    if (op->ncols == 0) {
        sbuf_puts(q, ") DO NOTHING");
        return;
    }
    sbuf_puts(q, ") DO UPDATE SET ");
    for (int i = 0; i < op->ncols; i++) {
        if (i) sbuf_puts(q, ", ");
        quote_ident(q, op->cols[i]);
        if (op->vals[i].type == SV_NULL) {
            sbuf_puts(q, " = NULL");
        } else {
            sbuf_puts(q, " = excluded.");
            quote_ident(q, op->cols[i]);
        }
    }
}

static int exec_simple(handle *h, const char *sql) {
    int rc;
    sql_stmt *st = prepare(h, sql, &rc);
    if (!st) return rc;
    rc = sql_step(st);
    done_with(h, st);
    return rc == SQL_DONE || rc == SQL_ROW ? SQL_OK : rc;
}

static int same_name(const char *a, const char *b) {
    return a == b || !strcmp(a, b);
}

/* Do a and b have the same statement text (op_sql)? Rows of one map in a
 * batch usually do, and their names are then the same pointers. */
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

/* Runs one row operation; with override (col >= 0) that column's value is
 * replaced by the text given (a dead letter's error). q holds the statement
 * text of prev (NULL: none yet) and is rebuilt when op's differs. reuse
 * (NULL: none) holds prev's statement when it is cached: a row of the same
 * shape takes it without looking its text up (a batch's rows mostly share
 * one statement, and the lookup compared its text once per row). */
static int apply_op_sql(handle *h, const store_op *op, const store_op *prev, sbuf *q,
                        int override_col, const char *override, sql_stmt **reuse) {
    int rc, same = prev && same_shape(op, prev);
    sql_stmt *st;
    if (same && reuse && *reuse) {
        st = *reuse;
        sql_reset(st);
        sql_clear_bindings(st);
    } else {
        if (!same) {
            sbuf_clear(q);
            op_sql(op, q);
        }
        st = prepare(h, q->p, &rc);
        if (!st) return rc;
    }
    int k = 1;
    for (int i = 0; i < op->nkey; i++) bind(st, k++, &op->keyvals[i]);
    if (op->kind == STORE_UPSERT)
        for (int i = 0; i < op->ncols; i++) {
            if (i == override_col) {
                sql_bind_text_ref(st, k++, override, (int)strlen(override));
                continue;
            }
            if (op->vals[i].type != SV_NULL) bind(st, k++, &op->vals[i]);
        }
    rc = sql_step(st);
    int keep = cached(h, st);
    if (keep)
        sql_reset(st);
    else
        sql_finalize(st);
    if (reuse) *reuse = keep ? st : NULL;
    return rc == SQL_DONE ? SQL_OK : rc;
}

/* apply_batch's change hook: notes the running row's change (file header). */
static void batch_hook(void *ctx, int op, const char *table, int npk, const sql_value *const *pk) {
    (void)npk;
    (void)pk;
    handle *h = ctx;
    if (!h->row || h->row->change || strcasecmp(table, h->row->table) != 0) return;
    h->row->change = op == SQL_CHANGE_INSERT ? 'I' : op == SQL_CHANGE_UPDATE ? 'U' : 'D';
}

/* apply_op_sql for a row of the batch (not a dead letter), noting its
 * change; q and prev as there. */
static int apply_row(handle *h, store_op *op, const store_op *prev, sbuf *q, sql_stmt **reuse) {
    op->change = 0;
    h->row = op;
    int rc = apply_op_sql(h, op, prev, q, -1, NULL, reuse);
    h->row = NULL;
    if (rc == SQL_OK && !op->change) op->change = op->kind == STORE_DELETE ? 'D' : 'U';
    return rc;
}

static int apply_op(handle *h, const store_op *op, int override_col, const char *override) {
    sbuf q = SBUF_INIT;
    int rc = apply_op_sql(h, op, NULL, &q, override_col, override, NULL);
    sbuf_free(&q);
    return rc;
}

/* The common case first: every row in, no savepoints. A savepoint costs a
 * copy of each page its row changes (the pager keeps pre-images), which was
 * most of a write-behind batch's time. Returns STORE_OK (committed),
 * STORE_ERR_PERMANENT when a row was refused (rolled back: the careful path
 * runs the batch again) or STORE_ERR_TRANSIENT with *err (rolled back). */
static int apply_all_or_nothing(handle *h, store_op *ops, int n, char **err) {
    int rc = exec_simple(h, "BEGIN");
    if (rc != SQL_OK) {
        *err = dup_err("begin: ", h->db);
        return STORE_ERR_TRANSIENT;
    }
    sbuf q = SBUF_INIT;
    sql_stmt *reuse = NULL;
    for (int i = 0; i < n; i++) {
        ops[i].status = STORE_OK;
        ops[i].error = NULL;
        if ((rc = apply_row(h, &ops[i], i ? &ops[i - 1] : NULL, &q, &reuse)) != SQL_OK) break;
    }
    sbuf_free(&q);
    if (rc == SQL_OK && (rc = exec_simple(h, "COMMIT")) == SQL_OK) return STORE_OK;
    int kind = classify(rc);
    if (kind != STORE_ERR_PERMANENT) *err = dup_err("", h->db);
    exec_simple(h, "ROLLBACK");
    return kind;
}

/* After a row was refused: the batch again, each unit (store_op.unit)
 * under its own savepoint; a refused row undoes its unit, whose rows all
 * get its error. */
static int apply_careful(handle *h, store_op *ops, int n, char **err) {
    sbuf q = SBUF_INIT;
    int rc = exec_simple(h, "BEGIN");
    if (rc != SQL_OK) {
        *err = dup_err("begin: ", h->db);
        return STORE_ERR_TRANSIENT;
    }
    for (int i = 0; i < n; i++) {
        ops[i].status = STORE_OK;
        ops[i].error = NULL;
    }
    for (int i = 0, end; i < n; i = end) {
        end = i + 1;
        while (ops[i].unit && end < n && ops[end].unit == ops[i].unit) end++;
        if ((rc = exec_simple(h, "SAVEPOINT larder_row")) != SQL_OK) goto transient;
        int refused = -1;
        for (int k = i; k < end && refused < 0; k++) {
            rc = apply_row(h, &ops[k], NULL, &q, NULL);
            if (rc == SQL_OK) continue;
            if (classify(rc) != STORE_ERR_PERMANENT) goto transient;
            refused = k;
        }
        if (refused < 0) {
            if ((rc = exec_simple(h, "RELEASE larder_row")) != SQL_OK) goto transient;
            continue;
        }
        char *why = dup_err("", h->db);
        for (int k = i; k < end; k++) {
            ops[k].status = STORE_ERR_PERMANENT;
            ops[k].error = k == refused ? why : xstrdup(why);
            ops[k].change = 0;
        }
        if ((rc = exec_simple(h, "ROLLBACK TO larder_row")) != SQL_OK) goto transient;
        if (end == i + 1 && ops[i].on_refuse) {
            const store_op *alt = ops[i].on_refuse;
            /* the override slot must be a bound (non-NULL) column */
            if (ops[i].on_refuse_col < 0 || ops[i].on_refuse_col >= alt->ncols ||
                alt->vals[ops[i].on_refuse_col].type == SV_NULL) {
                rc = SQL_MISUSE;
                goto transient;
            }
            if ((rc = apply_op(h, alt, ops[i].on_refuse_col, why)) != SQL_OK) goto transient;
        }
        if ((rc = exec_simple(h, "RELEASE larder_row")) != SQL_OK) goto transient;
    }
    if ((rc = exec_simple(h, "COMMIT")) != SQL_OK) goto transient;
    sbuf_free(&q);
    return STORE_OK;
transient:
    sbuf_free(&q);
    *err = dup_err("", h->db);
    exec_simple(h, "ROLLBACK");
    for (int i = 0; i < n; i++) {
        xfree(ops[i].error);
        ops[i].error = NULL;
        ops[i].status = STORE_OK;
    }
    return STORE_ERR_TRANSIENT;
}

static int m_apply_batch(void *hp, store_op *ops, int n, char **err) {
    handle *h = hp;
    sql_set_change_hook_nokey(h->db, batch_hook, h); /* it needs no key */
    int rc = apply_all_or_nothing(h, ops, n, err);
    if (rc == STORE_ERR_PERMANENT) rc = apply_careful(h, ops, n, err);
    sql_set_change_hook(h->db, NULL, NULL);
    return rc;
}

/* apply_batch, its fsync left to m_sync (store_api.h). */
static int m_apply_batch_nosync(void *hp, store_op *ops, int n, uint64_t *token, char **err) {
    handle *h = hp;
    sql_defer_durable(h->db, 1);
    int rc = m_apply_batch(hp, ops, n, err);
    sql_defer_durable(h->db, 0);
    *token = sql_take_durable_target(h->db);
    return rc;
}

/* Touches only the engine's shared, locked state: safe beside the handle's
 * own thread. */
static int m_sync(void *hp, uint64_t token, char **err) {
    handle *h = hp;
    if (sql_wait_durable(h->db, (uint32_t)token) == SQL_OK) return STORE_OK;
    *err = xstrdup("fsync of the store's log failed; commit outcome unknown");
    return STORE_ERR_TRANSIENT;
}

/* Is the engine's last error one the row's table alone gives (NOT NULL,
 * CHECK, a type), as opposed to one that depends on other rows (UNIQUE,
 * FOREIGN KEY)? The engine has one code for every constraint, so its
 * message (sqlite3's wording, stable) tells them apart. */
static int schema_refusal(sql_db *db) {
    const char *msg = sql_errmsg(db);
    return !strncmp(msg, "NOT NULL constraint failed", 26) ||
           !strncmp(msg, "CHECK constraint failed", 23) || !strncmp(msg, "datatype mismatch", 17);
}

/* The common case first: every UPSERT in one transaction, rolled back, no
 * savepoints (each costs copies of the pages its row changes). SQL_OK when
 * every row went in; else the engine's code. */
static int check_all(handle *h, store_op *ops, int n) {
    int rc = exec_simple(h, "BEGIN");
    if (rc != SQL_OK) return rc;
    sbuf q = SBUF_INIT;
    const store_op *prev = NULL;
    for (int i = 0; i < n && rc == SQL_OK; i++) {
        if (ops[i].kind != STORE_UPSERT) continue;
        rc = apply_op_sql(h, &ops[i], prev, &q, -1, NULL, NULL);
        prev = &ops[i];
    }
    sbuf_free(&q);
    int rb = exec_simple(h, "ROLLBACK");
    return rc != SQL_OK ? rc : rb;
}

/* store_api.h's check: check_all; when a row is refused, again with each
 * UPSERT under a savepoint that is rolled back, all in a transaction that
 * is rolled back too. */
static int m_check(void *hp, store_op *ops, int n, char **err) {
    handle *h = hp;
    for (int i = 0; i < n; i++) {
        ops[i].status = STORE_OK;
        ops[i].error = NULL;
    }
    int rc = check_all(h, ops, n);
    if (rc == SQL_OK) return STORE_OK;
    if (classify(rc) != STORE_ERR_PERMANENT) {
        *err = dup_err("", h->db);
        return STORE_ERR_TRANSIENT;
    }
    rc = exec_simple(h, "BEGIN");
    if (rc != SQL_OK) {
        *err = dup_err("begin: ", h->db);
        return STORE_ERR_TRANSIENT;
    }
    for (int i = 0; i < n; i++) {
        if (ops[i].kind != STORE_UPSERT) continue;
        if ((rc = exec_simple(h, "SAVEPOINT larder_check")) != SQL_OK) goto transient;
        rc = apply_op(h, &ops[i], -1, NULL);
        if (rc != SQL_OK && classify(rc) != STORE_ERR_PERMANENT) goto transient;
        if (rc != SQL_OK && schema_refusal(h->db)) {
            ops[i].status = STORE_ERR_PERMANENT;
            ops[i].error = dup_err("", h->db);
        }
        if ((rc = exec_simple(h, "ROLLBACK TO larder_check")) != SQL_OK) goto transient;
        if ((rc = exec_simple(h, "RELEASE larder_check")) != SQL_OK) goto transient;
    }
    exec_simple(h, "ROLLBACK");
    return STORE_OK;
transient:
    *err = dup_err("", h->db);
    exec_simple(h, "ROLLBACK");
    for (int i = 0; i < n; i++) {
        xfree(ops[i].error);
        ops[i].error = NULL;
        ops[i].status = STORE_OK;
    }
    return STORE_ERR_TRANSIENT;
}

static void change_hook(void *ctx, int op, const char *table, int npk, const sql_value *const *pk) {
    handle *h = ctx;
    if (!h->changes) return;
    store_value vals[8];
    int n = npk < 8 ? npk : 8;
    for (int i = 0; i < n; i++) {
        memset(&vals[i], 0, sizeof(vals[i]));
        switch (sql_value_type(pk[i])) {
        case SQL_INTEGER:
            vals[i].type = SV_INT;
            vals[i].i = sql_value_int64(pk[i]);
            break;
        case SQL_NULL:
            vals[i].type = SV_NULL;
            break;
        default:
            vals[i].type = SV_TEXT;
            vals[i].p = sql_value_text(pk[i]);
            vals[i].len = (size_t)sql_value_bytes(pk[i]);
        }
    }
    int sop = op == SQL_CHANGE_INSERT ? 'I' : op == SQL_CHANGE_UPDATE ? 'U' : 'D';
    h->changes(h->changes_ctx, table, sop, n, vals);
}

static int m_query(void *hp, const char *sql, int nargs, const store_value *args, int readonly,
                   store_sink *sink, store_change_fn changes, void *chctx, int64_t *affected,
                   char **err) {
    handle *h = hp;
    sql_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sql_prepare(h->db, sql, -1, &st, &tail);
    *affected = 0;
    if (rc != SQL_OK) {
        *err = dup_err("", h->db);
        return classify(rc) == STORE_ERR_PERMANENT ? STORE_ERR_USER : STORE_ERR_TRANSIENT;
    }
    if (!st) {
        *err = xstrdup("empty statement");
        return STORE_ERR_USER;
    }
    int only_space = 1;
    for (const char *p = tail; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ';') only_space = 0;
    if (!only_space) {
        sql_finalize(st);
        *err = xstrdup("send one statement at a time");
        return STORE_ERR_USER;
    }
    if (readonly && !sql_stmt_readonly(st)) {
        sql_finalize(st);
        *err = xstrdup("SQL.QUERY runs read-only statements only; use SQL.EXEC");
        return STORE_ERR_USER;
    }
    int nparams = sql_bind_parameter_count(st);
    if (nargs > nparams) {
        sql_finalize(st);
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%d arguments given, the statement has %d parameters", nargs, nparams);
        *err = sbuf_take(&b, NULL);
        return STORE_ERR_USER;
    }
    for (int i = 0; i < nargs; i++) bind(st, i + 1, &args[i]);
    h->changes = changes;
    h->changes_ctx = chctx;
    sql_set_change_hook(h->db, changes ? change_hook : NULL, h);
    rc = run_rows(st, sink);
    sql_set_change_hook(h->db, NULL, NULL);
    h->changes = NULL;
    if (rc != SQL_OK) *err = dup_err("", h->db);
    *affected = sql_changes(h->db);
    sql_finalize(st);
    if (sql_in_transaction(h->db)) { /* BEGIN over SQL.EXEC would hold the store */
        exec_simple(h, "ROLLBACK");
        if (!*err)
            *err = xstrdup(
                "transaction control (BEGIN/COMMIT/SAVEPOINT) is not available over SQL.EXEC");
        return STORE_ERR_USER;
    }
    if (rc == SQL_OK) return STORE_OK;
    return classify(rc) == STORE_ERR_PERMANENT ? STORE_ERR_USER : STORE_ERR_TRANSIENT;
}

/* The engine's own account of a statement's tables (sql_stmt_tables); its
 * flags are the store API's. */
_Static_assert(SQL_TABLE_READ == STORE_TABLE_READ && SQL_TABLE_WRITE == STORE_TABLE_WRITE &&
                   SQL_TABLE_DDL == STORE_TABLE_DDL,
               "the engine's table flags are the store API's");

static int m_tables(void *hp, const char *sql, store_table_fn fn, void *ctx, char **err) {
    handle *h = hp;
    sql_stmt *st = NULL;
    int rc = sql_prepare(h->db, sql, -1, &st, NULL);
    if (rc != SQL_OK) {
        *err = dup_err("", h->db);
        return STORE_ERR_USER;
    }
    if (!st) return STORE_OK;
    rc = sql_stmt_tables(st, fn, ctx);
    sql_finalize(st);
    return rc;
}

static const store_module module = {
    .api_version = LARDER_STORE_API_VERSION,
    .name = "sqlstore",
    .open = m_open,
    .close = m_close,
    .free_error = m_free_error,
    .describe = m_describe,
    .free_columns = m_free_columns,
    .get = m_get,
    .apply_batch = m_apply_batch,
    .apply_batch_nosync = m_apply_batch_nosync,
    .sync = m_sync,
    .query = m_query,
    .check = m_check,
    /* one handle per file: the engine's page cache and WAL index live in
     * the handle, and its POSIX file lock does not keep a second open in
     * the same process out */
    .max_handles = 1,
    .column_type = NULL, /* the server's default names are this engine's */
    .status = NULL,      /* a file: always "connected" */
    .tables = m_tables,
};

const store_module *larder_store_module(void) {
    return &module;
}
