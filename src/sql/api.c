/* sql/api.c — sql.h: connections, statements, transactions, errors, values.
 *
 * Transactions (see sql.h for the contract):
 *   - autocommit read statement: its own read snapshot, from its first step
 *     to its end or reset (st->own = 1);
 *   - autocommit write statement: its own write transaction, committed (or
 *     rolled back) within the sql_step that runs it (st->own = 2);
 *   - inside BEGIN ... COMMIT (db->txn): every statement uses db->txn; a write
 *     statement that could fail half-way runs inside a savepoint that is
 *     released on success and rolled back on failure (statement atomicity).
 * Write statements run completely in their first sql_step; RETURNING rows
 * are buffered and handed out afterwards, so no write is ever pending
 * across sql_step calls and a failure can always be undone.
 *
 * Invariants:
 *   1. Store cursors of a statement are closed before the transaction they
 *      belong to ends (the store frees them with it).
 *   2. db->txn is a write transaction (or a read one on a read-only
 *      connection after BEGIN) and lives exactly from BEGIN/first SAVEPOINT,
 *      or an autocommit write's start, to its end.
 *   3. db->sch is the schema of the catalog as seen by db->txn (or the last
 *      commit): DDL reloads it in the transaction, rollbacks reload it.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

const char *sql_version(void) {
    return "larder-sql 1.0";
}

const char *sql_errstr(int rc) {
    switch (rc) {
    case SQL_OK:
        return "not an error";
    case SQL_ERROR:
        return "SQL logic error";
    case SQL_CONSTRAINT:
        return "constraint failed";
    case SQL_BUSY:
        return "database is locked";
    case SQL_MISUSE:
        return "bad parameter or other API misuse";
    case SQL_RANGE:
        return "column index out of range";
    case SQL_READONLY:
        return "attempt to write a readonly database";
    case SQL_CANTOPEN:
        return "unable to open database file";
    case SQL_NOTADB:
        return "file is not a database";
    case SQL_CORRUPT:
        return "database disk image is malformed";
    case SQL_IOERR:
        return "disk I/O error";
    case SQL_FULL:
        return "database or disk is full";
    case SQL_TOOBIG:
        return "string or blob too big";
    case SQL_INTERRUPT:
        return "interrupted";
    case SQL_ROW:
        return "another row available";
    case SQL_DONE:
        return "no more rows available";
    default:
        return "unknown error";
    }
}

int sqli_rc_from_store(int src) {
    switch (src) {
    case STORE_OK:
        return SQL_OK;
    case STORE_BUSY:
        return SQL_BUSY;
    case STORE_READONLY:
        return SQL_READONLY;
    case STORE_CANTOPEN:
        return SQL_CANTOPEN;
    case STORE_NOTADB:
    case STORE_VERSION:
        return SQL_NOTADB;
    case STORE_CORRUPT:
        return SQL_CORRUPT;
    case STORE_IOERR:
        return SQL_IOERR;
    case STORE_FULL:
        return SQL_FULL;
    case STORE_TOOBIG:
        return SQL_TOOBIG;
    case STORE_MISUSE:
        return SQL_MISUSE;
    default:
        return SQL_ERROR;
    }
}

/* ---- errors ------------------------------------------------------------------------------------
 */

static void set_err(sql_db *db, int rc, int off, const char *msg) {
    xfree(db->errmsg);
    db->errmsg = msg ? xstrdup(msg) : NULL;
    db->errcode = rc;
    db->erroff = off;
}

int sqli_db_error(sql_db *db, int rc, int off, const char *fmt, ...) {
    strb b = {0};
    va_list ap;
    va_start(ap, fmt);
    sqli_strb_vaddf(&b, fmt, ap);
    va_end(ap);
    set_err(db, rc, off, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return rc;
}

static void clear_err(sql_db *db) {
    if (db->errcode) set_err(db, SQL_OK, -1, NULL);
}

int sqli_vm_error(vm *v, int rc, const char *fmt, ...) {
    if (v->errmsg) return rc; /* the first error is the one to report */
    strb b = {0};
    va_list ap;
    va_start(ap, fmt);
    sqli_strb_vaddf(&b, fmt, ap);
    va_end(ap);
    v->errmsg = xstrdup(sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return rc;
}

int sqli_vm_store_error(vm *v, int src) {
    const char *m = sqli_store_errmsg();
    return sqli_vm_error(v, sqli_rc_from_store(src), "%s", m && *m ? m : sqli_store_strerror(src));
}

int sql_errcode(sql_db *db) {
    return db ? db->errcode : SQL_MISUSE;
}

const char *sql_errmsg(sql_db *db) {
    if (!db) return "out of memory";
    if (db->errcode == SQL_OK) return "not an error";
    return db->errmsg ? db->errmsg : sql_errstr(db->errcode);
}

int sql_error_offset(sql_db *db) {
    return db && db->errcode ? db->erroff : -1;
}

/* ---- schema -------------------------------------------------------------------------------------
 */

int sqli_db_reload_schema(sql_db *db, store_txn *txn) {
    schema *s;
    char *err = NULL;
    int own = 0, rc;
    if (!txn) {
        rc = sqli_store_begin(db->store, STORE_TXN_READ, &txn);
        if (rc != STORE_OK)
            return sqli_db_error(db, sqli_rc_from_store(rc), -1, "%s", sqli_store_errmsg());
        own = 1;
    }
    rc = sqli_schema_load(txn, &s, &err);
    if (own) sqli_store_abort(txn);
    if (rc == SQL_OK && db->temp_txn && sqli_schema_load_temp(db->temp_txn, s, &err) != SQL_OK) {
        sqli_schema_unref(s);
        rc = SQL_CORRUPT;
    }
    for (int i = 0; rc == SQL_OK && i < db->ntemp_views; i++) {
        char *verr = NULL;
        if (sqli_schema_add_view(s, db->temp_views[i], 1, &verr) != SQL_OK) {
            sqli_schema_unref(s);
            err = xstrdup(verr ? verr : "malformed temporary view");
            rc = SQL_CORRUPT;
        }
    }
    if (rc != SQL_OK) {
        sqli_db_error(db, rc, -1, "%s", err ? err : "cannot load schema");
        xfree(err);
        return rc;
    }
    sqli_schema_unref(db->sch);
    db->sch = s;
    if (!own) db->schema_changed = 1;
    return SQL_OK;
}

/* ---- open / close -------------------------------------------------------------------------------
 */

int sql_open(const char *path, const sql_options *opts, sql_db **dbp) {
    sql_db *db = xcalloc(1, sizeof *db);
    *dbp = db;
    db->fk_enabled = 1;
    db->erroff = -1;
    db->max_recursive_rows = SQL_DEFAULT_MAX_RECURSIVE_ROWS;
    sql_options o = {.flags = SQL_OPEN_CREATE};
    if (opts) o = *opts;
    db->flags = o.flags;
    db->path = xstrdup(path ? path : "");
    store_options so = {0};
    if (o.flags & SQL_OPEN_CREATE) so.flags |= STORE_CREATE;
    if (o.flags & SQL_OPEN_READONLY) so.flags = STORE_RDONLY;
    if (o.flags & SQL_OPEN_NOSYNC) so.flags |= STORE_NOSYNC;
    if (o.flags & SQL_OPEN_MEMORY) so.flags |= STORE_MEMORY;
    so.cache_size = o.cache_size;
    so.page_size = o.page_size;
    so.autocheckpoint = o.wal_autocheckpoint;
    int rc = sqli_store_open(path, &so, &db->store);
    if (rc != STORE_OK)
        return sqli_db_error(db, sqli_rc_from_store(rc), -1, "%s",
                             *sqli_store_errmsg() ? sqli_store_errmsg() : sqli_store_strerror(rc));
    return sqli_db_reload_schema(db, NULL);
}

int sql_close(sql_db *db) {
    if (!db) return SQL_OK;
    if (db->nstmt > 0)
        return sqli_db_error(db, SQL_BUSY, -1, "unable to close due to unfinalized statements");
    if (db->txn) sqli_store_abort(db->txn);
    db->txn = NULL;
    sqli_temp_close(db);
    int rc = SQL_OK;
    if (db->store && sqli_store_close(db->store) != STORE_OK) rc = SQL_IOERR;
    sqli_schema_unref(db->sch);
    sqli_usage_free(db);
    for (int i = 0; i < db->nsp; i++) xfree(db->sps[i].name);
    xfree(db->sps);
    for (int i = 0; i < db->ntemp_views; i++) xfree(db->temp_views[i]);
    xfree(db->temp_views);
    xfree(db->errmsg);
    xfree(db->path);
    xfree(db);
    return rc;
}

int64_t sql_changes(sql_db *db) {
    return db->changes;
}
int64_t sql_total_changes(sql_db *db) {
    return db->total_changes;
}
int64_t sql_last_insert_id(sql_db *db) {
    return db->last_insert_id;
}
int sql_in_transaction(sql_db *db) {
    return db->explicit_txn != 0;
}
void sql_set_change_hook(sql_db *db, sql_change_fn fn, void *ctx) {
    db->hook = fn;
    db->hook_ctx = ctx;
    db->hook_nokey = 0;
}
void sql_set_change_hook_nokey(sql_db *db, sql_change_fn fn, void *ctx) {
    sql_set_change_hook(db, fn, ctx);
    db->hook_nokey = 1;
}
void sql_set_max_recursive_rows(sql_db *db, int64_t n) {
    db->max_recursive_rows = n > 0 ? n : 0;
}
int64_t sql_max_recursive_rows(sql_db *db) {
    return db->max_recursive_rows;
}
void sql_set_progress_handler(sql_db *db, int n, sql_progress_fn fn, void *ctx) {
    if (n <= 0) fn = NULL;
    db->progress = fn;
    db->progress_ctx = ctx;
    db->progress_n = db->progress_left = fn ? n : 0;
}
void sql_free(void *p) {
    xfree(p);
}

/* ---- compiling ----------------------------------------------------------------------------------
 */

static void set_columns(sql_stmt *st, rescol *cols, int n) {
    st->ncol = n;
    st->colnames = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(n + 1));
    st->decltypes = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        st->colnames[i] = cols[i].name ? cols[i].name : "";
        expr *e = cols[i].e;
        st->decltypes[i] =
            e && e->op == E_COL && e->table && e->col >= 0 ? e->table->cols[e->col].decl : NULL;
    }
}

static void set_named_columns(sql_stmt *st, const char *const *names, int n) {
    st->ncol = n;
    st->colnames = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(n + 1));
    st->decltypes = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) st->colnames[i] = (char *)names[i];
}

static int compile_inner(sql_stmt *st, ast *a, int explain) {
    compiler *c = &st->comp;
    switch (a->kind) {
    case ST_SELECT: {
        if (sqli_resolve_query(c, a->sel, NULL) != SQL_OK ||
            sqli_plan_query(c, a->sel, &st->plan) != SQL_OK)
            return SQL_ERROR;
        query *f = a->sel;
        while (f->op != SEL_SIMPLE) f = f->left;
        if (!explain) set_columns(st, f->cols, f->ncol);
        st->readonly = 1;
        return SQL_OK;
    }
    case ST_INSERT:
    case ST_UPDATE:
    case ST_DELETE: {
        with_scope ws;
        if (a->with) sqli_with_push(c, &ws, a->with);
        int rc = sqli_compile_dml(c, a, NULL, &st->dml);
        if (a->with) c->with = ws.outer;
        if (rc != SQL_OK) return SQL_ERROR;
        if (!explain && a->nret) set_columns(st, a->ret, a->nret);
        return SQL_OK;
    }
    default:
        return SQL_OK;
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compile(sql_stmt *st) {
    double t0 = now_ms();
    int next, empty, errpos = 0;
    char *err = NULL;
    st->a = sqli_parse_statement(&st->ar, st->sql, (int)strlen(st->sql), 0, &next, &empty, &err,
                                 &errpos, &st->nparam, &st->pnames);
    if (!st->a)
        return sqli_db_error(st->db, SQL_ERROR, errpos, "%s", err ? err : "empty statement");
    compiler *c = &st->comp;
    memset(c, 0, sizeof *c);
    c->db = st->db;
    c->sch = st->sch;
    c->a = &st->ar;
    c->sql = st->sql;
    st->kind = st->a->kind;
    int rc = SQL_OK;
    if (st->kind == ST_EXPLAIN) {
        static const char *names[] = {"id",   "parent", "notused", "detail",
                                      "rows", "loops",  "time_ms"};
        int analyze = st->a->explain_qp == 2;
        set_named_columns(st, names, analyze ? 7 : 4);
        rc = compile_inner(st, st->a->inner, 1);
        st->readonly = !(analyze && st->dml);
        if (rc == SQL_OK && analyze && !st->plan && !st->dml)
            return sqli_db_error(st->db, SQL_ERROR, st->a->inner->pos,
                                 "EXPLAIN ANALYZE runs a SELECT, INSERT, UPDATE or DELETE");
    } else if (st->kind == ST_PRAGMA) {
        rc = sqli_compile_pragma(st);
    } else {
        rc = compile_inner(st, st->a, 0);
    }
    if (rc != SQL_OK)
        return sqli_db_error(st->db, SQL_ERROR, c->errpos, "%s", c->err ? c->err : "compile error");
    st->plan_ms = now_ms() - t0;
    return SQL_OK;
}

void sqli_note_table(compiler *c, const char *name, int flags) {
    if (c->in_trigger) return;
    for (int i = 0; i < c->ntabs; i++)
        if (c->tabs[i].name == name || strcasecmp(c->tabs[i].name, name) == 0) {
            c->tabs[i].flags |= flags;
            return;
        }
    if (c->ntabs == c->captabs) {
        c->captabs = c->captabs ? c->captabs * 2 : 4;
        c->tabs = xrealloc(c->tabs, sizeof(tabref) * (size_t)c->captabs);
    }
    c->tabs[c->ntabs++] = (tabref){name, flags};
}

static int is_ddl(int kind) {
    switch (kind) {
    case ST_CREATE_TABLE:
    case ST_CREATE_INDEX:
    case ST_CREATE_TRIGGER:
    case ST_DROP_TABLE:
    case ST_DROP_INDEX:
    case ST_DROP_TRIGGER:
    case ST_ALTER_ADD:
    case ST_ALTER_RENAME:
    case ST_ALTER_RENAME_COL:
    case ST_CREATE_VIEW:
    case ST_DROP_VIEW:
    case ST_PRAGMA:
    case ST_ANALYZE:
        return 1;
    default:
        return 0;
    }
}

int sql_stmt_tables(sql_stmt *st, sql_table_fn fn, void *ctx) {
    if (!st || !st->a) return 0;
    if (is_ddl(st->kind)) {
        const char *name = st->a->table ? st->a->table : st->a->name ? st->a->name : "";
        if (st->kind == ST_PRAGMA || st->kind == ST_ANALYZE) name = "";
        int rc = fn(ctx, name, SQL_TABLE_DDL);
        if (rc) return rc;
    }
    for (int i = 0; i < st->comp.ntabs; i++) {
        int rc = fn(ctx, st->comp.tabs[i].name, st->comp.tabs[i].flags);
        if (rc) return rc;
    }
    return 0;
}

static void stmt_free_compiled(sql_stmt *st) {
    xfree(st->comp.tabs);
    st->comp.tabs = NULL;
    st->comp.ntabs = st->comp.captabs = 0;
    sqli_vm_close_cursors(&st->v);
    xfree(st->v.curs);
    st->v.curs = NULL;
    st->v.ncur = 0;
    sqli_ar_free(&st->ar);
    sqli_schema_unref(st->sch);
    st->sch = NULL;
    st->plan = NULL;
    st->dml = NULL;
    st->trigs = NULL;
    st->ncol = 0;
    if (st->textbuf) {
        for (int i = 0; i < st->ntext; i++) xfree(st->textbuf[i]);
        xfree(st->textbuf);
        xfree(st->textcap);
        st->textbuf = NULL;
        st->textcap = NULL;
        st->ntext = 0;
    }
}

static int build(sql_stmt *st) {
    st->sch = st->db->sch;
    st->sch->refs++;
    int rc = compile(st);
    st->params = xrealloc(st->params, sizeof(sql_value) * (size_t)(st->nparam + 1));
    for (int i = st->nparam_alloc; i <= st->nparam; i++) val_set_null(&st->params[i]);
    if (st->nparam + 1 > st->nparam_alloc) st->nparam_alloc = st->nparam + 1;
    return rc;
}

int sql_prepare(sql_db *db, const char *sql, int len, sql_stmt **stmtp, const char **tail) {
    if (!db || !sql || !stmtp) return SQL_MISUSE;
    *stmtp = NULL;
    if (!db->store || !db->sch)
        return sqli_db_error(db, SQL_MISUSE, -1, "the connection did not open");
    if (len < 0) len = (int)strlen(sql);
    clear_err(db);
    arena scratch = {0};
    int next, empty, errpos = 0, np;
    char **pn, *err = NULL;
    ast *a = sqli_parse_statement(&scratch, sql, len, 0, &next, &empty, &err, &errpos, &np, &pn);
    if (tail) *tail = sql + next;
    if (!a) {
        int rc = empty ? SQL_OK : sqli_db_error(db, SQL_ERROR, errpos, "%s", err);
        sqli_ar_free(&scratch);
        return rc;
    }
    int start = a->pos, end = a->end;
    sqli_ar_free(&scratch);
    sql_stmt *st = xcalloc(1, sizeof *st);
    st->db = db;
    st->sql = xmemdup(sql + start, (size_t)(end - start));
    db->nstmt++;
    int rc = build(st);
    if (rc != SQL_OK) {
        db->erroff = db->erroff >= 0 ? db->erroff + start : -1;
        sql_finalize(st);
        db->errcode = rc; /* sql_finalize cleared nothing of the error */
        return rc;
    }
    *stmtp = st;
    return SQL_OK;
}

const char *sql_stmt_sql(sql_stmt *st) {
    return st ? st->sql : NULL;
}

int sql_stmt_readonly(sql_stmt *st) {
    return st && st->readonly;
}

/* ---- running ------------------------------------------------------------------------------------
 */

static void release_store_cursors(vm *v) {
    sqli_vm_close_row_cursors(v);
    for (int i = 0; i < v->ncur; i++) {
        cursor *c = v->curs[i];
        if (!c) continue;
        if (c->sc) sqli_store_cursor_close(c->sc);
        if (c->tc) sqli_store_cursor_close(c->tc);
        c->sc = c->tc = NULL;
        c->pseudo = NULL;
        c->state = ROW_NONE;
    }
}

static void vm_begin(sql_stmt *st) {
    vm *v = &st->v;
    v->db = st->db;
    v->st = st;
    v->params = st->params;
    v->nparam = st->nparam;
    v->now = 0; /* read on first use (datetime.c): most statements never need it */
    v->nchange = 0;
    v->depth = 0;
    v->in_trigger = 0;
    xfree(v->errmsg);
    v->errmsg = NULL;
}

static int vm_fail(sql_stmt *st, int rc) {
    vm *v = &st->v;
    if (rc == SQL_OK || rc == SQL_ROW || rc == SQL_DONE) rc = SQL_ERROR;
    if (rc == RC_IGNORE) rc = SQL_OK;
    return sqli_db_error(st->db, rc, -1, "%s", v->errmsg ? v->errmsg : sql_errstr(rc));
}

static int is_write_kind(int k) {
    return k != ST_SELECT && k != ST_EXPLAIN && k != ST_PRAGMA && k != ST_BEGIN && k != ST_COMMIT &&
           k != ST_ROLLBACK && k != ST_SAVEPOINT && k != ST_RELEASE && k != ST_ROLLBACK_TO;
}

/* Open the transaction (or savepoint) a statement runs in. */
static int enter_txn(sql_stmt *st, int write) {
    sql_db *db = st->db;
    vm *v = &st->v;
    st->own = 0;
    st->splevel = 0;
    if (write && (db->flags & SQL_OPEN_READONLY))
        return sqli_vm_error(v, SQL_READONLY, "attempt to write a readonly database");
    st->temp_sp = write ? sqli_temp_savepoint(db) : 0;
    if (db->txn) {
        v->txn = db->txn;
        db->nactive++;
        st->in_txn = 1;
        int need_sp = write && (st->dml ? st->dml->need_sp : 1);
        if (need_sp && sqli_store_txn_is_write(db->txn)) {
            int rc = sqli_store_savepoint(db->txn, &st->splevel);
            if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        }
        return SQL_OK;
    }
    int rc = sqli_store_begin(db->store, write ? STORE_TXN_WRITE : STORE_TXN_READ, &v->txn);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    st->own = write ? 2 : 1;
    if (write) db->txn = v->txn;
    if (!write) db->active_reads++;
    return SQL_OK;
}

/* Commits db->txn: durable on return, or under sql_defer_durable written
 * only, with the frame to wait for noted. */
static int commit_store(sql_db *db) {
    if (!db->defer_durable) return sqli_store_commit(db->txn);
    uint32_t t = 0;
    int rc = sqli_store_commit_nowait(db->txn, &t);
    if (t > db->durable_target) db->durable_target = t;
    return rc;
}

void sql_defer_durable(sql_db *db, int on) {
    db->defer_durable = on;
}

uint32_t sql_take_durable_target(sql_db *db) {
    uint32_t t = db->durable_target;
    db->durable_target = 0;
    return t;
}

int sql_wait_durable(sql_db *db, uint32_t target) {
    int rc = sqli_store_wait_durable(db->store, target);
    return rc == STORE_OK ? SQL_OK : SQL_IOERR;
}

/* End a write statement: keep (commit / release) or undo. */
static int leave_write(sql_stmt *st, int rc) {
    sql_db *db = st->db;
    vm *v = &st->v;
    release_store_cursors(v);
    if (st->temp_sp && rc != SQL_OK) db->schema_changed = 1; /* a temp CREATE / DROP undone */
    sqli_temp_end(db, st->temp_sp, rc == SQL_OK);
    st->temp_sp = 0;
    if (st->own == 2) {
        int changed = db->schema_changed;
        if (rc == SQL_OK) {
            int src = commit_store(db);
            if (src != STORE_OK) rc = sqli_vm_store_error(v, src);
        } else {
            sqli_store_abort(db->txn);
        }
        db->txn = NULL;
        db->schema_changed = 0;
        if (rc != SQL_OK && changed) sqli_db_reload_schema(db, NULL);
    } else if (st->splevel) {
        if (rc != SQL_OK) {
            sqli_store_rollback_to(db->txn, st->splevel);
            if (db->sch != st->sch || is_write_kind(st->kind)) {
                if (st->kind != ST_INSERT && st->kind != ST_UPDATE && st->kind != ST_DELETE)
                    sqli_db_reload_schema(db, db->txn);
            }
        }
        sqli_store_release(db->txn, st->splevel);
    }
    if (st->in_txn) db->nactive--;
    st->in_txn = 0;
    st->own = 0;
    st->splevel = 0;
    return rc;
}

static void leave_read(sql_stmt *st) {
    vm *v = &st->v;
    release_store_cursors(v);
    if (st->own == 1) {
        sqli_store_abort(v->txn);
        st->db->active_reads--;
    }
    if (st->in_txn) st->db->nactive--;
    st->in_txn = 0;
    st->own = 0;
    v->txn = NULL;
}

static int sqli_run_txn_control(sql_stmt *st);

static int run_explain(sql_stmt *st) {
    ast *in = st->a->inner;
    int id = 0;
    if (in->kind == ST_SELECT && st->plan)
        sqli_plan_explain(st->plan, &st->results, &id, 0, EQP_PLAIN);
    else if (st->dml)
        sqli_explain_dml(st->dml, &st->results, &id, EQP_PLAIN);
    return SQL_OK;
}

static int start_write(sql_stmt *st) {
    vm *v = &st->v;
    int rc = enter_txn(st, 1);
    if (rc == SQL_OK) {
        if (st->dml)
            rc = sqli_run_dml(v, st->dml, st->dml->nret ? &st->results : NULL);
        else
            rc = sqli_run_ddl(v, st);
        if (rc == RC_IGNORE) rc = SQL_OK;
        if (rc == SQL_OK && v->npend) rc = sqli_fk_deferred_check(v);
        sqli_fk_pending_clear(v);
    }
    rc = leave_write(st, rc);
    if (rc == SQL_OK && st->dml) st->db->changes = v->nchange;
    if (rc == SQL_OK && st->kind == ST_VACUUM) { /* copy the new image back: the file shrinks */
        int src = sqli_store_checkpoint(st->db->store);
        if (src != STORE_OK) rc = sqli_vm_store_error(v, src);
    }
    return rc;
}

/* A row of EXPLAIN ANALYZE's summary: rows (or -1 for NULL) and time. */
static void analyze_row(sql_stmt *st, int id, const char *what, int64_t rows, double ms) {
    sql_value r[7];
    val_set_int(&r[0], id);
    val_set_int(&r[1], 0);
    val_set_int(&r[2], 0);
    val_set_text_ref(&r[3], what, strlen(what));
    if (rows >= 0)
        val_set_int(&r[4], rows), val_set_int(&r[5], 1);
    else
        val_set_null(&r[4]), val_set_null(&r[5]);
    val_set_real(&r[6], round(ms * 1e3) / 1e3);
    sqli_rowbuf_add(&st->results, NULL, 0, r, 7);
}

/* EXPLAIN ANALYZE: run the statement to its end (a write is kept, as in
 * PostgreSQL), its rows discarded; then the plan with each loop's actual
 * rows, opens and time, and the statement's rows, planning and execution
 * time. */
static int run_analyze(sql_stmt *st) {
    vm *v = &st->v;
    int id = 0, rc;
    int64_t nrows = 0;
    if (st->plan) sqli_plan_explain(st->plan, NULL, &id, 0, EQP_RESET);
    if (st->dml) sqli_explain_dml(st->dml, NULL, &id, EQP_RESET);
    double t0 = now_ms();
    v->analyze = 1;
    if (st->plan) {
        rc = enter_txn(st, 0);
        if (rc == SQL_OK) rc = sqli_q_open(v, st->plan);
        while (rc == SQL_OK && (rc = sqli_q_next(v, st->plan)) == SQL_ROW) nrows++, rc = SQL_OK;
        if (rc == SQL_DONE) rc = SQL_OK;
        sqli_q_close(v, st->plan);
        leave_read(st);
    } else {
        rc = start_write(st);
        nrows = v->nchange;
    }
    v->analyze = 0;
    double exec_ms = now_ms() - t0;
    sqli_rowbuf_clear(&st->results); /* RETURNING rows */
    if (rc != SQL_OK) return rc;
    id = 0;
    if (st->plan) sqli_plan_explain(st->plan, &st->results, &id, 0, EQP_ANALYZE);
    if (st->dml) sqli_explain_dml(st->dml, &st->results, &id, EQP_ANALYZE);
    analyze_row(st, ++id, "PLANNING", -1, st->plan_ms);
    analyze_row(st, ++id, "EXECUTION", nrows, exec_ms);
    return SQL_OK;
}

static int start(sql_stmt *st) {
    vm *v = &st->v;
    vm_begin(st);
    sqli_vm_subcache_clear(v);
    sqli_rowbuf_clear(&st->results);
    st->respos = 0;
    st->materialized = 1;
    int rc;
    switch (st->kind) {
    case ST_SELECT:
        st->materialized = 0;
        rc = enter_txn(st, 0);
        if (rc == SQL_OK) rc = sqli_q_open(v, st->plan);
        if (rc != SQL_OK) leave_read(st);
        return rc;
    case ST_EXPLAIN:
        return st->a->explain_qp == 2 ? run_analyze(st) : run_explain(st);
    case ST_PRAGMA:
        rc = enter_txn(st, 0);
        if (rc == SQL_OK) rc = sqli_run_pragma(v, st, &st->results);
        leave_read(st);
        return rc;
    case ST_BEGIN:
    case ST_COMMIT:
    case ST_ROLLBACK:
    case ST_SAVEPOINT:
    case ST_RELEASE:
    case ST_ROLLBACK_TO:
        return sqli_run_txn_control(st);
    default:
        return start_write(st);
    }
}

static int recompile(sql_stmt *st) {
    /* keep the bindings: they live in st->params, outside the arena */
    stmt_free_compiled(st);
    return build(st);
}

/* Copy the bytes that the current row borrows from database pages into the
 * statement's buffer: the row then survives writes made by other statements
 * of the connection before the next sql_step (pages move when trees
 * change). One memcpy per value, no allocation once the buffer is warm. */
static void pin_row(sql_stmt *st) {
    size_t need = 0;
    for (int i = 0; i < st->ncol; i++) {
        const sql_value *x = &st->out[i];
        if ((x->type == SQL_TEXT || x->type == SQL_BLOB) && !x->owned) need += x->n;
    }
    st->outbuf.n = 0;
    if (!need) return;
    if (st->outbuf.cap < need + 1) {
        sqli_strb_free(&st->outbuf);
        sqli_strb_add(&st->outbuf, "", 0);
        st->outbuf.p = xrealloc(st->outbuf.p, need + 1);
        st->outbuf.cap = need + 1;
    }
    char *o = st->outbuf.p;
    for (int i = 0; i < st->ncol; i++) {
        sql_value *x = &st->out[i];
        if ((x->type != SQL_TEXT && x->type != SQL_BLOB) || x->owned || !x->n) continue;
        memcpy(o, x->z, x->n);
        x->z = o;
        o += x->n;
    }
}

int sql_step(sql_stmt *st) {
    if (!st) return SQL_MISUSE;
    sql_db *db = st->db;
    clear_err(db);
    int rc;
    if (!st->running) {
        if (st->sch != db->sch && (rc = recompile(st)) != SQL_OK) return rc;
        rc = start(st);
        if (rc != SQL_OK) {
            st->running = 0;
            return vm_fail(st, rc);
        }
        st->running = 1;
    }
    if (!st->materialized) {
        rc = sqli_q_next(&st->v, st->plan);
        if (rc == SQL_ROW) {
            st->out = st->plan->out;
            pin_row(st);
            return SQL_ROW;
        }
        sqli_q_close(&st->v, st->plan);
        leave_read(st);
        st->running = 2; /* finished: the next step starts over */
        if (rc == SQL_DONE) {
            st->running = 0;
            return SQL_DONE;
        }
        st->running = 0;
        return vm_fail(st, rc);
    }
    if (st->respos < st->results.n) {
        const sql_value *vals;
        sqli_rowbuf_row(&st->results, st->respos++, &vals, NULL, NULL);
        st->out = (sql_value *)vals;
        return SQL_ROW;
    }
    sqli_rowbuf_clear(&st->results);
    st->running = 0;
    return SQL_DONE;
}

int sql_reset(sql_stmt *st) {
    if (!st) return SQL_OK;
    if (st->running && !st->materialized) {
        sqli_q_close(&st->v, st->plan);
        leave_read(st);
    }
    sqli_rowbuf_clear(&st->results);
    st->respos = 0;
    st->running = 0;
    st->out = NULL;
    return SQL_OK;
}

int sql_finalize(sql_stmt *st) {
    if (!st) return SQL_OK;
    sql_reset(st);
    stmt_free_compiled(st);
    sqli_vm_subcache_clear(&st->v);
    sqli_fk_pending_clear(&st->v);
    xfree(st->v.fkpend);
    xfree(st->v.spare_row);
    xfree(st->v.errmsg);
    sqli_keyenc_free(&st->v.kb);
    sqli_keyenc_free(&st->v.kb2);
    sqli_keyenc_free(&st->v.rb);
    sqli_strb_free(&st->v.tmp);
    sqli_strb_free(&st->outbuf);
    for (int i = 0; i < st->nparam_alloc; i++) val_free(&st->params[i]);
    xfree(st->params);
    st->db->nstmt--;
    xfree(st->sql);
    xfree(st);
    return SQL_OK;
}

/* ---- transaction statements
 * ------------------------------------------------------------------------ */

static void clear_savepoints(sql_db *db) {
    for (int i = 0; i < db->nsp; i++) xfree(db->sps[i].name);
    db->nsp = 0;
}

static int end_txn(sql_stmt *st, int commit) {
    sql_db *db = st->db;
    vm *v = &st->v;
    if (!db->txn || !db->explicit_txn)
        return sqli_vm_error(v, SQL_ERROR, "cannot %s - no transaction is active",
                             commit ? "commit" : "rollback");
    if (db->nactive > 0)
        return sqli_vm_error(v, SQL_BUSY, "cannot %s transaction - SQL statements in progress",
                             commit ? "commit" : "rollback");
    int rc = SQL_OK, changed = db->schema_changed;
    sqli_temp_end(db, db->temp_base, commit);
    db->temp_base = 0;
    if (commit) {
        int src = commit_store(db);
        if (src != STORE_OK) rc = sqli_vm_store_error(v, src);
    } else {
        sqli_store_abort(db->txn);
    }
    db->txn = NULL;
    db->explicit_txn = 0;
    db->schema_changed = 0;
    clear_savepoints(db);
    if ((!commit || rc != SQL_OK) && changed) sqli_db_reload_schema(db, NULL);
    return rc;
}

static int find_savepoint(sql_db *db, const char *name) {
    for (int i = db->nsp - 1; i >= 0; i--)
        if (sqli_name_eq(db->sps[i].name, name)) return i;
    return -1;
}

static int savepoint_stmt(sql_stmt *st) {
    sql_db *db = st->db;
    vm *v = &st->v;
    ast *a = st->a;
    if (a->kind == ST_SAVEPOINT) {
        if (!db->txn) {
            int rc = sqli_store_begin(
                db->store, (db->flags & SQL_OPEN_READONLY) ? STORE_TXN_READ : STORE_TXN_WRITE,
                &db->txn);
            if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
            db->explicit_txn = 2;
        }
        int level = 0;
        if (sqli_store_txn_is_write(db->txn)) {
            int rc = sqli_store_savepoint(db->txn, &level);
            if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        }
        if (db->nsp == db->capsp) {
            db->capsp = db->capsp ? db->capsp * 2 : 8;
            db->sps = xrealloc(db->sps, sizeof *db->sps * (size_t)db->capsp);
        }
        db->sps[db->nsp].name = xstrdup(a->name);
        db->sps[db->nsp].temp_level = sqli_temp_savepoint(db);
        db->sps[db->nsp++].level = level;
        return SQL_OK;
    }
    int i = find_savepoint(db, a->name);
    if (i < 0) return sqli_vm_error(v, SQL_ERROR, "no such savepoint: %s", a->name);
    if (db->nactive > 0)
        return sqli_vm_error(v, SQL_BUSY, "cannot release savepoint - SQL statements in progress");
    int level = db->sps[i].level, rc = STORE_OK, tlevel = db->sps[i].temp_level;
    if (a->kind == ST_RELEASE) {
        sqli_temp_end(db, tlevel, 1);
        if (level) rc = sqli_store_release(db->txn, level);
        for (int k = i; k < db->nsp; k++) xfree(db->sps[k].name);
        db->nsp = i;
        if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        if (db->nsp == 0 && db->explicit_txn == 2) {
            db->explicit_txn = 1;
            return end_txn(st, 1);
        }
        return SQL_OK;
    }
    sqli_temp_rollback_to(db, tlevel ? tlevel : db->temp_base);
    if (level) rc = sqli_store_rollback_to(db->txn, level);
    for (int k = i + 1; k < db->nsp; k++) xfree(db->sps[k].name);
    db->nsp = i + 1;
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    if (db->schema_changed) return sqli_db_reload_schema(db, db->txn);
    return SQL_OK;
}

static int sqli_run_txn_control(sql_stmt *st) {
    sql_db *db = st->db;
    vm *v = &st->v;
    switch (st->kind) {
    case ST_BEGIN: {
        if (db->txn)
            return sqli_vm_error(v, SQL_ERROR, "cannot start a transaction within a transaction");
        int rc = sqli_store_begin(
            db->store, (db->flags & SQL_OPEN_READONLY) ? STORE_TXN_READ : STORE_TXN_WRITE,
            &db->txn);
        if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        db->explicit_txn = 1;
        db->temp_base = sqli_temp_savepoint(db);
        return SQL_OK;
    }
    case ST_COMMIT:
        return end_txn(st, 1);
    case ST_ROLLBACK:
        return end_txn(st, 0);
    default:
        return savepoint_stmt(st);
    }
}

/* ---- parameters
 * ------------------------------------------------------------------------------------- */

static int bind_slot(sql_stmt *st, int i, sql_value **slot) {
    if (!st) return SQL_MISUSE;
    if (st->running)
        return sqli_db_error(st->db, SQL_MISUSE, -1, "bind on a busy statement (reset it first)");
    if (i < 1 || i > st->nparam)
        return sqli_db_error(st->db, SQL_RANGE, -1, "bind index %d out of range", i);
    *slot = &st->params[i - 1];
    val_free(*slot);
    return SQL_OK;
}

int sql_bind_parameter_count(sql_stmt *st) {
    return st ? st->nparam : 0;
}

int sql_bind_parameter_index(sql_stmt *st, const char *name) {
    for (int i = 1; st && i <= st->nparam; i++)
        if (st->pnames && st->pnames[i] && strcmp(st->pnames[i], name) == 0) return i;
    return 0;
}

int sql_bind_null(sql_stmt *st, int i) {
    sql_value *s = NULL;
    int rc = bind_slot(st, i, &s);
    if (rc == SQL_OK) val_set_null(s);
    return rc;
}

int sql_bind_int64(sql_stmt *st, int i, int64_t x) {
    sql_value *s = NULL;
    int rc = bind_slot(st, i, &s);
    if (rc == SQL_OK) val_set_int(s, x);
    return rc;
}

int sql_bind_double(sql_stmt *st, int i, double x) {
    sql_value *s = NULL;
    int rc = bind_slot(st, i, &s);
    if (rc == SQL_OK) {
        if (x != x)
            val_set_null(s);
        else
            val_set_real(s, x);
    }
    return rc;
}

/* Binds n bytes at p (text: up to the NUL if n < 0) as text or a blob,
 * copied, or (ref) borrowed. NULL p binds NULL. */
static int bind_bytes(sql_stmt *st, int i, const void *p, int n, int text, int ref) {
    sql_value *s = NULL;
    int rc = bind_slot(st, i, &s);
    if (rc != SQL_OK) return rc;
    if (!p) return val_set_null(s), SQL_OK;
    size_t len = n >= 0 ? (size_t)n : text ? strlen(p) : 0;
    if (text && ref)
        val_set_text_ref(s, p, len);
    else if (text)
        sqli_val_set_text_copy(s, p, len);
    else if (ref)
        val_set_blob_ref(s, p, len);
    else
        sqli_val_set_blob_own(s, xmemdup(p, len), len);
    return SQL_OK;
}

int sql_bind_text(sql_stmt *st, int i, const char *z, int n) {
    return bind_bytes(st, i, z, n, 1, 0);
}
int sql_bind_text_ref(sql_stmt *st, int i, const char *z, int n) {
    return bind_bytes(st, i, z, n, 1, 1);
}
int sql_bind_blob(sql_stmt *st, int i, const void *p, int n) {
    return bind_bytes(st, i, p, n, 0, 0);
}
int sql_bind_blob_ref(sql_stmt *st, int i, const void *p, int n) {
    return bind_bytes(st, i, p, n, 0, 1);
}

int sql_bind_value(sql_stmt *st, int i, const sql_value *x) {
    sql_value *s = NULL;
    int rc = bind_slot(st, i, &s);
    if (rc == SQL_OK) sqli_val_copy(s, x);
    return rc;
}

int sql_clear_bindings(sql_stmt *st) {
    if (!st) return SQL_MISUSE;
    for (int i = 0; i < st->nparam; i++) val_free(&st->params[i]);
    return SQL_OK;
}

/* ---- columns
 * ---------------------------------------------------------------------------------------- */

static const sql_value null_v = {.type = SQL_NULL};

static const sql_value *colv(sql_stmt *st, int i) {
    if (!st || !st->out || !st->running || i < 0 || i >= st->ncol) return &null_v;
    return &st->out[i];
}

int sql_column_count(sql_stmt *st) {
    return st ? st->ncol : 0;
}

const char *sql_column_name(sql_stmt *st, int i) {
    return st && i >= 0 && i < st->ncol ? st->colnames[i] : NULL;
}

const char *sql_column_decltype(sql_stmt *st, int i) {
    return st && i >= 0 && i < st->ncol ? st->decltypes[i] : NULL;
}

int sql_column_type(sql_stmt *st, int i) {
    return colv(st, i)->type;
}

int64_t sql_column_int64(sql_stmt *st, int i) {
    return sqli_val_int(colv(st, i));
}

double sql_column_double(sql_stmt *st, int i) {
    return sqli_val_real(colv(st, i));
}

static char *text_slot(sql_stmt *st, int i, size_t need) {
    if (st->ntext < st->ncol) {
        st->textbuf = xrealloc(st->textbuf, sizeof(char *) * (size_t)st->ncol);
        st->textcap = xrealloc(st->textcap, sizeof(size_t) * (size_t)st->ncol);
        for (int k = st->ntext; k < st->ncol; k++) st->textbuf[k] = NULL, st->textcap[k] = 0;
        st->ntext = st->ncol;
    }
    if (st->textcap[i] < need) {
        st->textcap[i] = need < 64 ? 64 : need;
        st->textbuf[i] = xrealloc(st->textbuf[i], st->textcap[i]);
    }
    return st->textbuf[i];
}

const char *sql_column_text(sql_stmt *st, int i) {
    const sql_value *v = colv(st, i);
    if (v->type == SQL_NULL) return NULL;
    char buf[40];
    size_t n;
    const char *z = sqli_val_text(v, buf, &n);
    char *o = text_slot(st, i, n + 1);
    memcpy(o, z, n);
    o[n] = 0;
    return o;
}

const void *sql_column_blob(sql_stmt *st, int i) {
    const sql_value *v = colv(st, i);
    if (v->type == SQL_NULL) return NULL;
    if (v->type == SQL_BLOB || v->type == SQL_TEXT) return v->z;
    return sql_column_text(st, i);
}

int sql_column_bytes(sql_stmt *st, int i) {
    const sql_value *v = colv(st, i);
    char buf[40];
    size_t n = 0;
    if (v->type != SQL_NULL) sqli_val_text(v, buf, &n);
    return (int)n;
}

const sql_value *sql_column_value(sql_stmt *st, int i) {
    return colv(st, i);
}

int sql_value_type(const sql_value *v) {
    return v ? v->type : SQL_NULL;
}
int64_t sql_value_int64(const sql_value *v) {
    return v ? sqli_val_int(v) : 0;
}
double sql_value_double(const sql_value *v) {
    return v ? sqli_val_real(v) : 0;
}

const char *sql_value_text(const sql_value *v) {
    static __thread strb ring[4];
    static __thread int next;
    if (!v || v->type == SQL_NULL) return NULL;
    char buf[40];
    size_t n;
    const char *z = sqli_val_text(v, buf, &n);
    strb *b = &ring[next++ & 3];
    b->n = 0;
    sqli_strb_add(b, z, n);
    return sqli_strb_cstr(b);
}

const void *sql_value_blob(const sql_value *v) {
    if (!v || v->type == SQL_NULL) return NULL;
    if (v->type == SQL_BLOB || v->type == SQL_TEXT) return v->z;
    return sql_value_text(v);
}

int sql_value_bytes(const sql_value *v) {
    char buf[40];
    size_t n = 0;
    if (v && v->type != SQL_NULL) sqli_val_text(v, buf, &n);
    return (int)n;
}

/* ---- exec
 * --------------------------------------------------------------------------------------------- */

int sql_exec(sql_db *db, const char *sql, sql_exec_cb cb, void *ctx) {
    if (!db || !sql) return SQL_MISUSE;
    const char *p = sql;
    int rc = SQL_OK;
    while (rc == SQL_OK && *p) {
        sql_stmt *st;
        const char *tail;
        rc = sql_prepare(db, p, -1, &st, &tail);
        if (rc != SQL_OK || !st) break;
        char **vals = NULL, **names = NULL;
        int n = sql_column_count(st);
        if (cb && n) {
            vals = xcalloc((size_t)n, sizeof *vals);
            names = xcalloc((size_t)n, sizeof *names);
            for (int i = 0; i < n; i++) names[i] = (char *)sql_column_name(st, i);
        }
        while ((rc = sql_step(st)) == SQL_ROW) {
            if (!cb) continue;
            for (int i = 0; i < n; i++) vals[i] = (char *)sql_column_text(st, i);
            if (cb(ctx, n, vals, names)) {
                sql_finalize(st);
                xfree(vals);
                xfree(names);
                return sqli_db_error(db, SQL_ERROR, -1, "callback requested abort");
            }
        }
        int err = rc != SQL_DONE ? db->errcode : SQL_OK;
        char *msg = err ? xstrdup(sql_errmsg(db)) : NULL;
        int off = db->erroff;
        sql_finalize(st);
        xfree(vals);
        xfree(names);
        if (err) {
            set_err(db, err, off, msg);
            xfree(msg);
            return err;
        }
        rc = SQL_OK;
        p = tail;
    }
    return rc;
}

/* ---- introspection
 * ----------------------------------------------------------------------------------- */

int sql_table_columns(sql_db *db, const char *name, sql_column_info **cols, int *ncols) {
    *cols = NULL;
    *ncols = 0;
    if (!db->sch) return sqli_db_error(db, SQL_MISUSE, -1, "the connection did not open");
    table *t = sqli_schema_table(db->sch, name);
    if (!t || t->is_schema) return sqli_db_error(db, SQL_ERROR, -1, "no such table: %s", name);
    size_t bytes = sizeof(sql_column_info) * (size_t)t->ncol;
    for (int i = 0; i < t->ncol; i++)
        bytes += strlen(t->cols[i].name) + strlen(t->cols[i].decl) + 2 +
                 (t->cols[i].dflt_text ? strlen(t->cols[i].dflt_text) + 1 : 0);
    sql_column_info *ci = xcalloc(1, bytes ? bytes : 1);
    char *p = (char *)(ci + t->ncol);
    int table_rules = t->nchecks > 0 || t->triggers != NULL || t->ngen > 0;
    for (int i = 0; i < t->ncol; i++) {
        column *c = &t->cols[i];
        ci[i].takes_text = !table_rules && i != t->ipk && c->kind != KIND_DECIMAL &&
                           c->kind != KIND_TIMESTAMP && c->kind != KIND_DATE &&
                           c->kind != KIND_BOOL;
        ci[i].name = strcpy(p, c->name);
        p += strlen(c->name) + 1;
        ci[i].decltype = strcpy(p, c->decl);
        p += strlen(c->decl) + 1;
        if (c->dflt_text) {
            ci[i].dflt = strcpy(p, c->dflt_text);
            p += strlen(c->dflt_text) + 1;
        }
        ci[i].type = c->kind == KIND_DECIMAL                             ? SQL_DECIMAL
                     : c->kind == KIND_TIMESTAMP || c->kind == KIND_DATE ? SQL_TEXT
                     : c->aff == AFF_INTEGER || c->kind == KIND_BOOL     ? SQL_INTEGER
                     : c->aff == AFF_REAL                                ? SQL_FLOAT
                     : c->aff == AFF_TEXT                                ? SQL_TEXT
                     : c->aff == AFF_BLOB                                ? SQL_BLOB
                                                                         : SQL_NULL;
        ci[i].notnull = c->notnull;
        ci[i].pk = c->pk;
        ci[i].strict = i == t->ipk ? 1
                       : c->kind == KIND_DECIMAL || c->kind == KIND_TIMESTAMP ||
                               c->kind == KIND_DATE || c->kind == KIND_BOOL
                           ? 2
                           : 0;
        ci[i].rules = t->nchecks > 0 || t->triggers != NULL || t->ngen > 0;
    }
    *cols = ci;
    *ncols = t->ncol;
    return SQL_OK;
}

/* ---- completeness ------------------------------------------------------------------------------
 */

int sql_complete(const char *sql) {
    int n = (int)strlen(sql), pos = 0, complete = 0, ntok = 0, trigger = 0, prev_end = 0,
        create = 0;
    token t;
    while (pos < n) {
        sqli_lex_token(sql, n, pos, &t);
        if (t.type == TK_ILLEGAL &&
            (t.z[0] == '\'' || t.z[0] == '"' || t.z[0] == '`' || t.z[0] == '['))
            return 0;
        pos += t.len ? t.len : 1;
        if (t.type == TK_SPACE) {
            /* an unterminated comment runs to the end of the text */
            const char *open = NULL;
            for (int i = 0; i + 1 < t.len; i++) {
                if (!open && t.z[i] == '/' && t.z[i + 1] == '*')
                    open = t.z + i + 2;
                else if (!open && t.z[i] == '-' && t.z[i + 1] == '-')
                    break;
                else if (open && t.z + i >= open && t.z[i] == '*' && t.z[i + 1] == '/')
                    open = NULL;
            }
            if (open) return 0;
            continue;
        }
        if (t.type == TK_SEMI) {
            if (!trigger || prev_end) {
                complete = 1;
                ntok = 0;
                trigger = 0;
            }
            prev_end = 0;
            continue;
        }
        complete = 0;
        ntok++;
        if (ntok == 1) create = t.type == TK_KEYWORD && t.kw == KW_CREATE;
        if (create && t.type == TK_KEYWORD && t.kw == KW_TRIGGER && ntok <= 3) trigger = 1;
        prev_end = t.type == TK_KEYWORD && t.kw == KW_END;
    }
    return complete;
}
