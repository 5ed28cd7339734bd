/* sql/sql.h — the public API of Larder's bundled SQL engine.
 *
 * What it is
 * ----------
 * An embedded SQL database over one store file (see store.h for the file, the
 * log and durability). The server, the larder-sql shell and the tests use only
 * this header; nothing else in src/sql is an API.
 *
 * The SQL dialect follows SQLite's where the two overlap (dynamic typing with
 * column affinity, the same comparison, NULL and arithmetic rules, the same
 * text form of values), so results can be compared with sqlite3 as text.
 * Beyond it: exact DECIMAL(p,s), sortable TIMESTAMP/DATE and BOOLEAN columns,
 * foreign keys that are always enforced (RESTRICT by default), covering
 * indexes (INCLUDE) and uuid7()/now(). Where it differs on purpose: primary
 * key columns are NOT NULL; a single INTEGER, INT or BIGINT primary key
 * numbers new rows itself (SQLite: INTEGER only). The statements are listed
 * at the end of this comment.
 *
 * Handles
 * -------
 *   sql_db      a connection: one open database file, its schema, its current
 *               transaction. A file is open read-write by one sql_db at a time
 *               in the whole system (the store's lock).
 *   sql_stmt    one prepared statement of a connection.
 *   sql_value   a value: a bound parameter, a column of a result row, or a
 *               primary-key value handed to a change hook.
 *
 * Threads: a connection and its statements are used by one thread at a time
 * (they may move between threads between calls). Different connections (to
 * different files) are independent.
 *
 * Life of a statement
 * -------------------
 *   sql_prepare -> sql_bind_* -> sql_step ... SQL_ROW ... SQL_DONE
 *               -> sql_reset (keep bindings) -> sql_bind_* -> sql_step ...
 *               -> sql_finalize
 * A statement compiled against a schema that has changed since is compiled
 * again transparently on its next sql_step (bindings are kept); if it no
 * longer compiles, that sql_step returns the error.
 *
 * Transactions
 * ------------
 * Without BEGIN, every statement is its own transaction (autocommit): a write
 * statement commits durably before sql_step returns SQL_DONE (or its first
 * SQL_ROW, for RETURNING: the rows of a write statement are computed, and the
 * statement committed, before the first one is returned); a read statement
 * reads one snapshot from its first sql_step to its end or reset.
 * BEGIN starts a write transaction that COMMIT makes durable and ROLLBACK
 * undoes (on a read-only connection, a read snapshot); SAVEPOINT name /
 * RELEASE name / ROLLBACK TO name nest inside it (a SAVEPOINT outside a
 * transaction begins one, and releasing it commits). Inside a transaction
 * every statement is atomic: a statement that fails leaves no trace, and the
 * transaction goes on. While a transaction is open, every statement of the
 * connection reads and writes through it; COMMIT and ROLLBACK fail with
 * SQL_BUSY while a statement of the connection is still in the middle of its
 * rows (reset it first).
 * A statement that fails in autocommit mode rolls back its own transaction.
 *
 * Errors
 * ------
 * Functions that return int return SQL_OK (0), SQL_ROW, SQL_DONE, or an error
 * code below. After an error, sql_errcode(db), sql_errmsg(db) and
 * sql_error_offset(db) describe it until the next call on that connection that
 * can fail. Messages are precise and stable:
 *   near "FORM": syntax error (line 1, column 10)
 *   no such table: users
 *   UNIQUE constraint failed: users.email (index users_email_uq)
 *   NOT NULL constraint failed: users.name
 *   CHECK constraint failed: price_positive
 *   FOREIGN KEY constraint failed: posts.user_id references users.id
 * The library never prints, never exits and never aborts on bad input;
 * asserts guard internal invariants only.
 *
 * Ownership
 * ---------
 * Handles returned through out-parameters belong to the caller and are given
 * back with sql_close / sql_finalize. Pointers returned by sql_column_* and
 * sql_value_* point into the statement and stay valid until the next sql_step,
 * sql_reset or sql_finalize of that statement. Text and blobs passed to
 * sql_bind_* are copied. Arrays returned by sql_table_columns are freed with
 * sql_free.
 *
 * Statements understood (tests/sql has executable examples)
 * ---------------------------------------------------------------------
 *   CREATE TABLE [IF NOT EXISTS] t AS SELECT ...
 *   CREATE TABLE [IF NOT EXISTS] t (col type [constraints], ..., [table
 *     constraints]) — PRIMARY KEY (single or composite; a single INTEGER or
 *     BIGINT key, or GENERATED ... AS IDENTITY, numbers new rows itself),
 *     UNIQUE, NOT NULL, DEFAULT expr (uuid7(), now(), ...), CHECK (expr),
 *     [CONSTRAINT name] FOREIGN KEY (cols) REFERENCES p(cols)
 *     [ON DELETE|ON UPDATE CASCADE|SET NULL|SET DEFAULT|RESTRICT|NO ACTION]
 *   DROP TABLE [IF EXISTS] t; ALTER TABLE t ADD [COLUMN] coldef;
 *   ALTER TABLE t RENAME TO u; ALTER TABLE t RENAME [COLUMN] a TO b
 *   CREATE [UNIQUE] INDEX [IF NOT EXISTS] i ON t (col [ASC|DESC], ...)
 *     [INCLUDE (cols)] [WHERE expr]; DROP INDEX [IF EXISTS] i
 *   CREATE TRIGGER [IF NOT EXISTS] name BEFORE|AFTER INSERT|UPDATE [OF cols]|
 *     DELETE ON t [FOR EACH ROW] [WHEN expr] BEGIN stmt; ... END
 *   DROP TRIGGER [IF EXISTS] name
 *   INSERT [OR IGNORE|REPLACE] INTO t [(cols)] VALUES (...), (...) | SELECT ... |
 *     DEFAULT VALUES
 *     [ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET c = expr, ...
 *     [WHERE expr]] [RETURNING exprs]
 *   UPDATE [OR alg] t SET c = expr, ... [WHERE expr] [RETURNING exprs]
 *   DELETE FROM t [WHERE expr] [RETURNING exprs]
 *   SELECT [DISTINCT] exprs FROM ... [WHERE] [GROUP BY] [HAVING]
 *     [UNION [ALL] | INTERSECT | EXCEPT SELECT ...] [ORDER BY] [LIMIT [OFFSET]]
 *   VALUES (...), (...)
 *   BEGIN; COMMIT; ROLLBACK; SAVEPOINT s; RELEASE s; ROLLBACK TO s
 *   EXPLAIN QUERY PLAN stmt; ANALYZE [t]
 *   PRAGMA foreign_keys [= ON|OFF]; PRAGMA table_info(t); PRAGMA index_list(t);
 *   PRAGMA index_info(i)
 * The schema is readable as the table larder_schema(type, name, tbl_name,
 * rootpage, sql), also under the name sqlite_schema / sqlite_master.
 * Not supported (a clear error says so): views, WITH (common table
 * expressions), window functions, RIGHT/FULL joins, UPDATE ... FROM,
 * deferred foreign keys, ALTER TABLE DROP COLUMN, indexes on expressions,
 * collations other than BINARY and NOCASE, temporary tables.
 */
#ifndef LARDER_SQL_SQL_H
#define LARDER_SQL_SQL_H
#include <stddef.h>
#include <stdint.h>

typedef struct sql_db sql_db;
typedef struct sql_stmt sql_stmt;
typedef struct sql_value sql_value;

/* ---- return codes ------------------------------------------------------- */
#define SQL_OK 0 /* success */
#define SQL_ERROR                                                                                  \
    1 /* an SQL error: syntax, no such table or column,                                            \
         type error, misuse of an aggregate, ... */
#define SQL_CONSTRAINT                                                                             \
    2 /* a constraint failed: PRIMARY KEY, UNIQUE, NOT                                             \
         NULL, CHECK, FOREIGN KEY; the statement was                                               \
         undone */
#define SQL_BUSY                                                                                   \
    3 /* the file is locked by another handle, or                                                  \
         sql_close with statements still open */
#define SQL_MISUSE                                                                                 \
    4                  /* the API was called wrongly (NULL handle, step on                         \
                          a finalized statement, ...) */
#define SQL_RANGE 5    /* bind or column index out of range */
#define SQL_READONLY 6 /* write on a read-only connection */
#define SQL_CANTOPEN 7 /* the file cannot be opened */
#define SQL_NOTADB 8   /* not a Larder store, or a newer format */
#define SQL_CORRUPT 9  /* the file is corrupt */
#define SQL_IOERR 10   /* read, write or fsync failed */
#define SQL_FULL 11    /* disk full */
#define SQL_TOOBIG 12  /* a key (indexed values) or value is too long */
#define SQL_INTERRUPT                                                                              \
    13               /* the progress handler stopped the statement; it                             \
                        was undone like any failed statement */
#define SQL_ROW 100  /* sql_step: a result row is ready */
#define SQL_DONE 101 /* sql_step: the statement has finished */

/* Static English text for a code ("constraint failed"). */
const char *sql_errstr(int rc);

/* ---- value types -------------------------------------------------------- */
#define SQL_INTEGER 1 /* 64-bit signed integer */
#define SQL_FLOAT 2   /* IEEE double */
#define SQL_TEXT 3    /* UTF-8 text (bytes as given; not validated) */
#define SQL_BLOB 4    /* bytes */
#define SQL_NULL 5
#define SQL_DECIMAL 6 /* exact decimal: up to 18 digits with a scale */

/* ---- open / close ------------------------------------------------------- */

/* Open flags. */
#define SQL_OPEN_CREATE 0x01u   /* create the file if missing */
#define SQL_OPEN_READONLY 0x02u /* read-only: writes fail with SQL_READONLY */
#define SQL_OPEN_NOSYNC                                                                            \
    0x04u /* commits atomic but not durable (no fsync);                                            \
             for tests, bulk loads and benchmarks */
/* A transient database in memory, gone at sql_close: path only names it in
 * messages and nothing is created in the file system (larder-sql opens
 * ":memory:" and "no FILE" this way). Implies SQL_OPEN_CREATE; with
 * SQL_OPEN_READONLY the open fails with SQL_MISUSE. */
#define SQL_OPEN_MEMORY 0x08u

typedef struct sql_options {
    unsigned flags;              /* SQL_OPEN_* */
    size_t cache_size;           /* page cache in bytes; 0 = the store's default */
    uint32_t page_size;          /* for a new file; 0 = 4096 */
    uint32_t wal_autocheckpoint; /* checkpoint when the log holds this many
                                    frames; 0 = the store's default (1000) */
} sql_options;

/* Open the database at path (":memory:" is not special: it is a file name;
 * SQL_OPEN_MEMORY asks for an in-memory database).
 *   opts: NULL means SQL_OPEN_CREATE with defaults.
 * On success *dbp is the connection. On failure *dbp is still a connection,
 * holding only the error (sql_errmsg works on it), which must be closed with
 * sql_close. Errors: SQL_CANTOPEN, SQL_BUSY, SQL_NOTADB, SQL_CORRUPT,
 * SQL_IOERR, SQL_READONLY, SQL_FULL. */
int sql_open(const char *path, const sql_options *opts, sql_db **dbp);

/* Close a connection. An open transaction is rolled back. Fails with SQL_BUSY,
 * changing nothing, while statements of the connection are not finalized.
 * sql_close(NULL) is a no-op returning SQL_OK. */
int sql_close(sql_db *db);

/* ---- errors of a connection --------------------------------------------- */

int sql_errcode(sql_db *db);        /* code of the last error, SQL_OK if none */
const char *sql_errmsg(sql_db *db); /* its message; "not an error" if none */
/* Byte offset into the SQL text where the error was found (syntax errors and
 * unknown names), or -1. Messages of syntax errors also carry line and column. */
int sql_error_offset(sql_db *db);

/* ---- prepare / step ----------------------------------------------------- */

/* Compile the first statement of sql (len bytes, or up to the NUL if len < 0).
 * *stmtp receives the statement, or NULL when sql holds only spaces, comments
 * and semicolons. *tail (if tail is not NULL) points just after the compiled
 * statement, so a script is run by preparing from tail until *stmtp is NULL.
 * Errors: SQL_ERROR (syntax, unknown name; see sql_error_offset). */
int sql_prepare(sql_db *db, const char *sql, int len, sql_stmt **stmtp, const char **tail);

/* Run the statement until its next result row (SQL_ROW) or its end
 * (SQL_DONE). After SQL_DONE or an error, the next sql_step starts it over.
 * Errors: any code above; in autocommit mode the statement's transaction is
 * rolled back, in a transaction the statement is undone. */
int sql_step(sql_stmt *stmt);

/* Stop the statement (ending its autocommit read snapshot) so that it can run
 * again; bindings are kept. Returns SQL_OK. */
int sql_reset(sql_stmt *stmt);

/* Free the statement. sql_finalize(NULL) is a no-op. Returns SQL_OK. */
int sql_finalize(sql_stmt *stmt);

/* The statement's text (owned by the statement). */
const char *sql_stmt_sql(sql_stmt *stmt);
/* Nonzero when the statement never writes (SELECT, EXPLAIN, read PRAGMAs). */
int sql_stmt_readonly(sql_stmt *stmt);

/* The tables a prepared statement touches, for access control: fn is called
 * once per base table with the union of
 *   SQL_TABLE_READ   rows are read (FROM, JOIN, subqueries, CTE bodies, and
 *                    the tables under a view: the view itself is not named)
 *   SQL_TABLE_WRITE  rows are inserted, updated or deleted (the DML target)
 * and, first, once with SQL_TABLE_DDL for a statement that changes the
 * schema or settings (CREATE/DROP/ALTER, PRAGMA and ANALYZE with name "").
 * Not named: tables written by triggers or by ON DELETE/UPDATE actions of
 * foreign keys. A nonzero return from fn stops the walk and is returned;
 * else 0. The names are valid until the statement is finalized. */
#define SQL_TABLE_READ 1
#define SQL_TABLE_WRITE 2
#define SQL_TABLE_DDL 4
typedef int (*sql_table_fn)(void *ctx, const char *table, int flags);
int sql_stmt_tables(sql_stmt *stmt, sql_table_fn fn, void *ctx);

/* Nonzero when sql ends with a complete statement (a ';' outside strings,
 * comments and trigger bodies): what an interactive shell asks before it
 * runs the text it has read so far. */
int sql_complete(const char *sql);

/* Run every statement of sql. For each result row, cb (if not NULL) gets the
 * row as text (NULL for SQL NULL) and the column names; a nonzero return from
 * cb stops the run with SQL_ERROR ("callback requested abort"). */
typedef int (*sql_exec_cb)(void *ctx, int ncol, char **values, char **names);
int sql_exec(sql_db *db, const char *sql, sql_exec_cb cb, void *ctx);

/* ---- parameters --------------------------------------------------------- */
/* Parameters are written ?, ?N (N from 1), :name, @name or $name. Plain ?
 * takes the number after the largest so far; the same name always has the
 * same number. Indexes start at 1. Unbound parameters are NULL.
 * Errors: SQL_RANGE (no such index), SQL_MISUSE (statement running: reset it
 * first). */
int sql_bind_parameter_count(sql_stmt *stmt);
/* Index of the parameter named name (with its prefix: ":id"), 0 if none. */
int sql_bind_parameter_index(sql_stmt *stmt, const char *name);
int sql_bind_null(sql_stmt *stmt, int i);
int sql_bind_int64(sql_stmt *stmt, int i, int64_t v);
int sql_bind_double(sql_stmt *stmt, int i, double v);
/* Text: n bytes, or up to the NUL if n < 0. Copied. */
int sql_bind_text(sql_stmt *stmt, int i, const char *s, int n);
int sql_bind_blob(sql_stmt *stmt, int i, const void *p, int n);
/* As sql_bind_text / sql_bind_blob, without the copy: the n bytes at s (p)
 * must stay valid and unchanged until this parameter is bound again, the
 * bindings are cleared or the statement is finalized (a loop that binds and
 * steps one row after another saves an allocation per value). */
int sql_bind_text_ref(sql_stmt *stmt, int i, const char *s, int n);
int sql_bind_blob_ref(sql_stmt *stmt, int i, const void *p, int n);
int sql_bind_value(sql_stmt *stmt, int i, const sql_value *v);
int sql_clear_bindings(sql_stmt *stmt);

/* ---- result columns ----------------------------------------------------- */
/* Columns are numbered from 0. Names and declared types are valid for the
 * statement's life; values until the next step/reset/finalize. */
int sql_column_count(sql_stmt *stmt);
const char *sql_column_name(sql_stmt *stmt, int i);
/* The declared type of a result column that is a table column ("VARCHAR(20)"),
 * else NULL. */
const char *sql_column_decltype(sql_stmt *stmt, int i);
int sql_column_type(sql_stmt *stmt, int i); /* SQL_INTEGER ... SQL_DECIMAL */
int64_t sql_column_int64(sql_stmt *stmt, int i);
double sql_column_double(sql_stmt *stmt, int i);
/* The value as NUL-terminated text, formatted the way sqlite3 prints it
 * (integers plainly, reals with 15 significant digits and at least one
 * decimal: 1.0, 0.1, 1.0e+20); NULL for SQL NULL. */
const char *sql_column_text(sql_stmt *stmt, int i);
const void *sql_column_blob(sql_stmt *stmt, int i);
int sql_column_bytes(sql_stmt *stmt, int i); /* bytes of the text or blob form */
const sql_value *sql_column_value(sql_stmt *stmt, int i);

/* ---- values ------------------------------------------------------------- */
int sql_value_type(const sql_value *v);
int64_t sql_value_int64(const sql_value *v);
double sql_value_double(const sql_value *v);
/* Text form as sql_column_text (NUL-terminated; NULL for SQL NULL). The text
 * is copied into a small per-thread ring of buffers: the pointer stays valid
 * until the fourth following sql_value_text call of the same thread. */
const char *sql_value_text(const sql_value *v);
const void *sql_value_blob(const sql_value *v);
int sql_value_bytes(const sql_value *v);

/* ---- connection state --------------------------------------------------- */
int64_t sql_changes(sql_db *db);        /* rows changed by the last write
                                           statement (not counting rows that
                                           triggers and cascades changed) */
int64_t sql_total_changes(sql_db *db);  /* since the connection opened */
int64_t sql_last_insert_id(sql_db *db); /* integer key of the last row a
                                           statement inserted (0 if none) */
int sql_in_transaction(sql_db *db);     /* nonzero between BEGIN and
                                           COMMIT/ROLLBACK */

/* ---- schema introspection ----------------------------------------------- */
typedef struct sql_column_info {
    const char *name;     /* column name as declared */
    const char *decltype; /* declared type text ("VARCHAR(20)"), "" if none */
    int type;             /* the type values are kept as: SQL_INTEGER,
                             SQL_FLOAT, SQL_TEXT, SQL_BLOB (no conversion) or
                             SQL_DECIMAL; SQL_NULL for NUMERIC affinity */
    int notnull;          /* NOT NULL (primary key columns included) */
    int pk;               /* 1-based position in the primary key, 0 if not */
    const char *dflt;     /* DEFAULT expression as written, NULL if none */
    int strict;           /* a value the column cannot take is refused (not
                             kept as given): 1 for the integer primary key
                             (an integer), 2 for DECIMAL, DATE, TIMESTAMP and
                             BOOLEAN columns; 0 otherwise (affinity) */
    int rules;            /* the table has a CHECK constraint, a trigger or a
                             generated column: a row may be refused or
                             changed by more than its columns' types */
    int takes_text;       /* 1: an INSERT or UPDATE of any TEXT value (or NULL,
                             unless notnull) in this column is never refused by
                             the table alone: it has no CHECK constraint, no
                             trigger and no generated column, and the column's
                             type converts no text (not the integer key,
                             DECIMAL, DATE, TIMESTAMP or BOOLEAN) */
} sql_column_info;

/* The columns of table, in declaration order. *cols is one allocation (the
 * strings inside it) that the caller frees with sql_free; *ncols its length.
 * Errors: SQL_ERROR "no such table". */
int sql_table_columns(sql_db *db, const char *table, sql_column_info **cols, int *ncols);
void sql_free(void *p);

/* ---- change hook -------------------------------------------------------- */
#define SQL_CHANGE_INSERT 1
#define SQL_CHANGE_UPDATE 2
#define SQL_CHANGE_DELETE 3

/* Called once per row a statement changes (rows changed by triggers and by
 * foreign-key actions included), during sql_step, as the change is made:
 * op, the table's name, and the row's primary-key values in key order (for a
 * table without a primary key, its rowid). An UPDATE that changes the key is
 * reported as DELETE of the old key then INSERT of the new one. The values
 * are valid during the call only. Changes reported for a statement or
 * transaction that later fails or rolls back are not withdrawn: a consumer
 * that invalidates caches collects keys and acts after the commit (an extra
 * invalidation is harmless, a missed one is not — none is missed).
 * The hook must not call back into the connection. fn NULL removes it. */
typedef void (*sql_change_fn)(void *ctx, int op, const char *table, int npk,
                              const sql_value *const *pk);
void sql_set_change_hook(sql_db *db, sql_change_fn fn, void *ctx);
/* As sql_set_change_hook, for a hook that needs only op and table: it is
 * called with npk 0 and pk NULL, and no key is decoded for it. */
void sql_set_change_hook_nokey(sql_db *db, sql_change_fn fn, void *ctx);

/* ---- deferred durability ------------------------------------------------- */
/* on: COMMIT returns once the transaction is written, before its fsync
 * (other connections see it only once durable); sql_take_durable_target
 * gives (and forgets) what the last such commits need, 0 if nothing, and
 * sql_wait_durable waits for it — from any thread, while the connection
 * goes on working. Until then the commits may be lost in a crash. */
void sql_defer_durable(sql_db *db, int on);
uint32_t sql_take_durable_target(sql_db *db);
int sql_wait_durable(sql_db *db, uint32_t target);

/* ---- progress handler ---------------------------------------------------- */
/* Calls fn(ctx) once every n rows that running statements visit (rows read
 * by scans and searches, before filtering; so a join that finds nothing still
 * counts its work). A nonzero return stops the running statement: sql_step
 * returns SQL_INTERRUPT with the message "interrupted", and the statement is
 * undone as after any error (an explicit transaction stays open). Use it for
 * time or work limits. fn must not call back into the connection. n <= 0 or
 * fn NULL removes the handler. */
typedef int (*sql_progress_fn)(void *ctx);
void sql_set_progress_handler(sql_db *db, int n, sql_progress_fn fn, void *ctx);

/* ---- recursive queries ---------------------------------------------------- */
/* A recursive common table expression (WITH RECURSIVE) that has produced n
 * rows and wants more fails with "recursive query stopped after N rows
 * (PRAGMA max_recursive_rows)" instead of running on: SQL runs on the
 * server's store thread. n <= 0 removes the limit. Also PRAGMA
 * max_recursive_rows [= n]. Per connection. */
#define SQL_DEFAULT_MAX_RECURSIVE_ROWS 1000000
void sql_set_max_recursive_rows(sql_db *db, int64_t n);
int64_t sql_max_recursive_rows(sql_db *db);

/* Library version text ("larder-sql 1.0"). */
const char *sql_version(void);

#endif
