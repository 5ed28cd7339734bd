/* persist/store_api.h — the interface between Larder and a store module.
 *
 * A store module is a shared object loaded with `loadmodule PATH [args...]`.
 * It exports one function:
 *
 *     const store_module *larder_store_module(void);
 *
 * returning a static table of entry points. Larder calls them from ONE thread
 * only, the store thread (never the event loop), one call at a time, so a
 * module needs no locking of its own. The bundled module
 * (modules/sqlstore) adapts Larder's embedded SQL engine; a PostgreSQL module
 * implements the same table over libpq.
 *
 * Values cross the interface as store_value: text and blobs point into
 * memory owned by the caller of the function that receives them, valid for
 * that call only (a sink copies what it keeps).
 *
 * Error handling: every entry point returns STORE_OK or one of
 *   STORE_ERR_TRANSIENT  the operation may succeed if retried (I/O error,
 *                        busy, connection lost): nothing of it was applied;
 *   STORE_ERR_PERMANENT  the data is refused for good (constraint, type):
 *                        retrying the same data cannot succeed;
 *   STORE_ERR_USER       the request itself is wrong (SQL syntax, unknown
 *                        table) — reported to the client as is.
 * and sets *err to a message the caller frees with the module's free_error. */
#ifndef LARDER_PERSIST_STORE_API_H
#define LARDER_PERSIST_STORE_API_H
#include <stddef.h>
#include <stdint.h>

#define LARDER_STORE_API_VERSION 3 /* 2: store_op.unit, .on_refuse; 3: tables */

enum { STORE_OK = 0, STORE_ERR_TRANSIENT = 1, STORE_ERR_PERMANENT = 2, STORE_ERR_USER = 3 };
enum { SV_NULL = 0, SV_INT = 1, SV_REAL = 2, SV_TEXT = 3, SV_BLOB = 4 };

typedef struct store_value {
    int type;
    int64_t i;
    double d;
    const char *p; /* SV_TEXT / SV_BLOB bytes */
    size_t len;
} store_value;

/* A column of a mapped table, as the store declares it. */
typedef struct store_column {
    char *name;
    char *decltype; /* as declared ("VARCHAR(20)"), "" if none */
    int type;       /* SV_INT, SV_REAL, SV_TEXT, SV_BLOB, or SV_NULL for "any" */
    int pk;         /* 1-based position in the primary key, 0 if not in it */
    int notnull;
} store_column;

/* Receives result rows. columns() is called once before the first row. */
typedef struct store_sink {
    void *ctx;
    void (*columns)(void *ctx, int n, const char *const *names);
    void (*row)(void *ctx, int n, const store_value *vals);
} store_sink;

/* One row operation of a batch. */
enum { STORE_UPSERT = 1, STORE_DELETE = 2 };
typedef struct store_op {
    int kind;
    const char *table;
    int nkey; /* primary-key columns and values */
    const char *const *keycols;
    const store_value *keyvals;
    int ncols; /* UPSERT: the other columns to set; an SV_NULL value
                  means "absent": the column takes its DEFAULT in a
                  new row and becomes NULL in an existing one */
    const char *const *cols;
    const store_value *vals;
    struct store_op *on_refuse; /* optional, for a row with unit 0: when the
                              row is refused for good, this op is applied in
                              its place in the same transaction, with the
                              refusal message (SV_TEXT) as the value of its
                              column on_refuse_col (write-behind records its
                              dead letter this way, atomically with the
                              batch). If on_refuse is refused too, the whole
                              batch fails (STORE_ERR_TRANSIENT). */
    int on_refuse_col;
    int unit; /* 0: this row stands alone. Otherwise consecutive
                 ops with the same unit are one write (a
                 write-through command's rows): all of them
                 commit or, if one is refused, none does and
                 each gets the refusal */
    /* filled by apply_batch */
    int status;  /* STORE_OK or STORE_ERR_PERMANENT for this row */
    char *error; /* message for a refused row (free with free_error; once a
                    store job is done, a host copy: xfree) */
} store_op;

/* Called for each row a query changed (table, primary-key values), so cached
 * copies can be invalidated. */
typedef void (*store_change_fn)(void *ctx, const char *table, int npk, const store_value *pk);

/* Receives the tables a statement touches (store_module.tables); nonzero
 * stops the walk. */
enum { STORE_TABLE_READ = 1, STORE_TABLE_WRITE = 2, STORE_TABLE_DDL = 4 };
typedef int (*store_table_fn)(void *ctx, const char *table, int flags);

typedef struct store_module {
    int api_version; /* LARDER_STORE_API_VERSION */
    const char *name;

    /* Opens the store. args are the loadmodule arguments followed by
     * "store-path" and its value when configured. */
    int (*open)(int argc, const char *const *argv, void **handle, char **err);
    void (*close)(void *h);
    void (*free_error)(char *err);

    /* The columns of table (caller frees with free_columns). STORE_ERR_USER
     * when the table does not exist. */
    int (*describe)(void *h, const char *table, store_column **cols, int *ncols, char **err);
    void (*free_columns)(store_column *cols, int ncols);

    /* Reads the row with this primary key into sink (no call if none). */
    int (*get)(void *h, const char *table, int nkey, const char *const *keycols,
               const store_value *keyvals, store_sink *sink, char **err);

    /* Applies ops in ONE transaction, durable when it returns STORE_OK.
     * A row refused for good (constraint) gets op->status PERMANENT and is
     * left out, with the other rows of its unit (see store_op.unit); the
     * others commit. A transient failure returns
     * STORE_ERR_TRANSIENT with nothing applied. */
    int (*apply_batch)(void *h, store_op *ops, int n, char **err);

    /* Runs one statement with bound arguments (text values; the store applies
     * column affinity). readonly: refuse writes (STORE_ERR_USER). Rows go to
     * sink; changed rows are reported to changes (if not NULL); *affected gets
     * the number of rows a write changed. */
    int (*query)(void *h, const char *sql, int nargs, const store_value *args, int readonly,
                 store_sink *sink, store_change_fn changes, void *chctx, int64_t *affected,
                 char **err);

    /* Optional (NULL: the store cannot tell). Prepares sql without running
     * it and reports each table it reads or writes, and whether it changes
     * the schema (STORE_TABLE_DDL, first), to fn: what ACL SQL table rules
     * are checked against. Returns fn's nonzero value if it stopped the
     * walk, STORE_OK, or STORE_ERR_USER when sql does not prepare. */
    int (*tables)(void *h, const char *sql, store_table_fn fn, void *ctx, char **err);
} store_module;

typedef const store_module *(*store_module_entry_fn)(void);
#define STORE_MODULE_ENTRY "larder_store_module"
/* The entry every module defines (looked up by name with dlsym). */
const store_module *larder_store_module(void);
#endif
