/* persist/store_api.h — the interface between Larder and a store module.
 *
 * A store module is a shared object loaded with `loadmodule PATH [args...]`.
 * It exports one function:
 *
 *     const store_module *larder_store_module(void);
 *
 * returning a static table of entry points. Larder calls a handle from ONE
 * thread only, its store thread (never the event loop), one call at a time,
 * so a module needs no locking of its own. With `store-connections N` Larder
 * opens N handles, each used by its own store thread (max_handles caps N);
 * handles share no state the module does not lock itself. The bundled module
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

#define LARDER_STORE_API_VERSION                                                                   \
    6 /* 2: store_op.unit, .on_refuse; 3: the change log, check,                                   \
        max_handles, column_type, status, tables; 4: store_change_fn's op;                         \
        5: store_column.check, check_arg, check_arg2, dflt, notnull_kept,                          \
        takes_text; get_many; 6: store_op.change */

enum { STORE_OK = 0, STORE_ERR_TRANSIENT = 1, STORE_ERR_PERMANENT = 2, STORE_ERR_USER = 3 };
enum { SV_NULL = 0, SV_INT = 1, SV_REAL = 2, SV_TEXT = 3, SV_BLOB = 4 };

typedef struct store_value {
    int type;
    int64_t i;
    double d;
    const char *p; /* SV_TEXT / SV_BLOB bytes */
    size_t len;
} store_value;

/* How Larder may judge a value of a column itself, without asking the store
 * (store_column.check). Write-behind refuses before the reply what a row's
 * table alone refuses (NOT NULL, CHECK, type); it judges a row itself when
 * every column of the table allows it, and asks the store (check) for the
 * rest. A module says only what its store really does: Larder refuses a
 * value only when the store would, and asks whenever it cannot be sure.
 *   STORE_CHECK_ROW      the store judges every row of the table (a CHECK
 *                        constraint, a trigger, a rule, a domain with a
 *                        constraint...); on any column it covers the whole
 *                        table. 0: what a module that says nothing gives.
 *   STORE_CHECK_VALUE    the store judges each non-NULL value (a type Larder
 *                        does not parse: enum, date, json, array, ...).
 *   STORE_CHECK_ANY      every value is taken (text, a column with affinity).
 *   STORE_CHECK_INT      a decimal integer of check_arg bytes (2, 4, 8):
 *                        "[+-]digits" in range is taken, a value whose first
 *                        character (after blanks and a sign) is not a digit,
 *                        or digits out of range, refused; other forms ("0x1f",
 *                        "1_000", " 7 ", "7.0") go to the store.
 *   STORE_CHECK_NUMERIC  a decimal number with at most check_arg digits, of
 *                        which check_arg2 after the point (0, 0: unlimited):
 *                        PostgreSQL's numeric(p, s).
 *   STORE_CHECK_BOOL     PostgreSQL's boolean input (t, true, yes, on, 1, ...).
 *   STORE_CHECK_UUID     PostgreSQL's uuid input.
 *   STORE_CHECK_TEXT     PostgreSQL's text: UTF-8 without NUL, at most
 *                        check_arg characters (0: unlimited; characters past
 *                        the limit may be blanks, they are cut). */
enum {
    STORE_CHECK_ROW = 0,
    STORE_CHECK_VALUE = 1,
    STORE_CHECK_ANY = 2,
    STORE_CHECK_INT = 3,
    STORE_CHECK_NUMERIC = 4,
    STORE_CHECK_BOOL = 5,
    STORE_CHECK_UUID = 6,
    STORE_CHECK_TEXT = 7
};

/* A column of a mapped table, as the store declares it. */
typedef struct store_column {
    char *name;
    char *decltype; /* as declared ("VARCHAR(20)"), "" if none */
    int type;       /* SV_INT, SV_REAL, SV_TEXT, SV_BLOB, or SV_NULL for "any" */
    int pk;         /* 1-based position in the primary key, 0 if not in it */
    int notnull;
    int dflt;         /* a new row without a value gets one (DEFAULT, identity,
                         generated, serial) */
    int notnull_kept; /* NOT NULL, and an UPSERT that leaves the column out
                         keeps an existing row's value (the bundled engine
                         checks the row it writes); 0: the store checks the
                         new row it proposes, before finding the conflict
                         (PostgreSQL), so leaving it out is refused even when
                         the row exists */
    int check;        /* STORE_CHECK_* (above) */
    int check_arg, check_arg2;
    /* 1 when the module guarantees that the table alone never refuses a row
     * write for this column's value if it is any TEXT (or NULL, when not
     * notnull): the table has no CHECK constraint, trigger or generated
     * column, and the column's type converts no text (a store that cannot
     * tell leaves 0). Write-behind skips its check (wbcheck.c) for a map
     * whose rows can then never be refused: mapping.h, check_free. */
    int takes_text;
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
    int change;  /* for a row applied (status STORE_OK): 'I' the UPSERT
                    inserted it (no row had its key), 'U' it wrote over an
                    existing row (also when no column changed), 'D' a DELETE;
                    0 when the store cannot tell. The change stream names the
                    row's change by it */
} store_op;

/* A handle's connection, for INFO (store_module.status). */
enum { STORE_CONN_CONNECTED = 0, STORE_CONN_RECONNECTING = 1, STORE_CONN_DOWN = 2 };
typedef struct store_status {
    int state;            /* STORE_CONN_*: DOWN once reconnecting has failed for a while */
    long long reconnects; /* connections re-established since open */
} store_status;

/* Called for each row a query changed (table, 'I'nsert / 'U'pdate / 'D'elete,
 * or 0 when the module cannot tell, primary-key values), so cached copies can
 * be invalidated and the change stream can name the change. */
typedef void (*store_change_fn)(void *ctx, const char *table, int op, int npk,
                                const store_value *pk);

/* One committed change read from a store's change log (log_read). */
typedef struct store_change {
    const char *table;
    int op;                /* 'I', 'U', 'D', or 'T' (TRUNCATE: every row of table) */
    int npk;               /* 0 for 'T' */
    const store_value *pk; /* the primary-key values in key order */
    int64_t at_us;         /* when the row changed (Unix microseconds), 0 if unknown */
    int own;               /* made by this handle's own sessions (its cache already
                              follows it) */
} store_change;
typedef void (*store_log_fn)(void *ctx, const store_change *c);

/* What log_read found besides the changes. */
enum {
    STORE_LOG_CONTINUOUS = 0, /* every change since *pos was reported */
    STORE_LOG_GAP = 1         /* some changes since *pos are gone (pruned, or *pos is
                                 not a position of this store): the reader must treat
                                 every row of every table as changed */
};

/* Receives the tables a statement touches (store_module.tables); nonzero
 * stops the walk. */
enum { STORE_TABLE_READ = 1, STORE_TABLE_WRITE = 2, STORE_TABLE_DDL = 4 };
typedef int (*store_table_fn)(void *ctx, const char *table, int flags);

typedef struct store_module {
    int api_version; /* LARDER_STORE_API_VERSION */
    const char *name;

    /* Opens the store. args are the loadmodule arguments followed by
     * "store-path" and its value, and "store-conninfo" and its value, when
     * configured (a module ignores a pair it has no use for). */
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
     * others commit, each with op->change set. A transient failure returns
     * STORE_ERR_TRANSIENT with nothing applied. */
    int (*apply_batch)(void *h, store_op *ops, int n, char **err);

    /* Optional: apply_batch that returns before the transaction is durable
     * (written, not yet fsync'ed; others read it once durable), *token
     * naming what sync must wait for (0: nothing). sync may run on any
     * thread while the handle's own thread goes on with other calls: a
     * write-behind batch's fsync then holds up no read-through load. */
    int (*apply_batch_nosync)(void *h, store_op *ops, int n, uint64_t *token, char **err);
    int (*sync)(void *h, uint64_t token, char **err);

    /* Runs one statement with bound arguments (text values; the store applies
     * column affinity). readonly: refuse writes (STORE_ERR_USER). Rows go to
     * sink; changed rows are reported to changes (if not NULL); *affected gets
     * the number of rows a write changed. */
    int (*query)(void *h, const char *sql, int nargs, const store_value *args, int readonly,
                 store_sink *sink, store_change_fn changes, void *chctx, int64_t *affected,
                 char **err);

    /* ---- the change log: invalidation across processes (optional) ----
     * A store that other processes write to (several Larders on one
     * database, psql, an application) keeps a log of committed row
     * changes; each Larder reads it and drops the cached keys of changed
     * rows. All six are NULL in a store only this process writes (the
     * bundled sqlstore); a module provides all or none. Called on the
     * store thread like the rest. */

    /* Installs (or updates) the log for these tables: idempotent, safe from
     * several processes at once. STORE_ERR_USER for a table that does not
     * exist or has no primary key. */
    int (*log_install)(void *h, int ntables, const char *const *tables, char **err);
    /* Reports (fn) every change committed since *pos, in commit order, then
     * advances *pos. *pos is a durable position (keep it across restarts
     * and disconnections); 0 means "from now" (nothing reported, *pos set).
     * *status: STORE_LOG_CONTINUOUS, or STORE_LOG_GAP (*pos is then reset to
     * now). A change may be reported twice (across two calls); never
     * missed. STORE_ERR_USER when the log is not installed. */
    int (*log_read)(void *h, int64_t *pos, int *status, store_log_fn fn, void *ctx, char **err);
    /* Starts listening for commits to the log on a connection of its own
     * (reconnecting it if lost) and gives its socket in *fd, to poll for
     * POLLIN; STORE_ERR_TRANSIENT when it cannot (*fd -1; retry later).
     * Whatever was committed while not listening is found by log_read. */
    int (*log_listen)(void *h, int *fd, char **err);
    /* Reads what arrived on the listening socket (never blocks): *n gets
     * the number of commit notices. STORE_ERR_TRANSIENT when the listening
     * connection is lost (call log_listen again). */
    int (*log_consume)(void *h, int *n, char **err);
    /* Stops listening and closes that connection. */
    void (*log_unlisten)(void *h);
    /* Deletes log entries older than retention_s seconds (and no longer
     * needed by a transaction still running); *deleted gets their number.
     * A reader whose position falls before them gets STORE_LOG_GAP. */
    int (*log_prune)(void *h, int64_t retention_s, int64_t *deleted, char **err);

    /* Optional (NULL: not offered). Checks UPSERT rows against what the
     * table alone refuses (NOT NULL, CHECK, a value the column's type
     * cannot take) without changing anything: the rows are applied in a
     * transaction that is rolled back. A row so refused gets op->status
     * STORE_ERR_PERMANENT and op->error; a row refused only because of other
     * rows (UNIQUE, FOREIGN KEY) passes, as does every DELETE. Each row is
     * checked alone (no unit). STORE_ERR_TRANSIENT: nothing could be checked
     * (statuses are STORE_OK). Write-behind checks a write this way before
     * its reply. */
    int (*check)(void *h, store_op *ops, int n, char **err);

    /* How many handles open() may give at once in one process (Larder opens
     * one per store thread, `store-connections`); 0: no limit. */
    int max_handles;
    /* Optional (NULL: INTEGER, TEXT, BLOB): the store's SQL type name for a
     * column of the server's own tables (wb_meta, wb_deadletter) holding
     * values of sv_type: SV_INT (64-bit), SV_TEXT, SV_BLOB. A static string. */
    const char *(*column_type)(int sv_type);
    /* Optional (NULL: always connected): the handle's connection state.
     * Called on the handle's store thread, after each call. */
    void (*status)(void *h, store_status *st);

    /* Optional (NULL: the store cannot tell). Prepares sql without running
     * it and reports each table it reads or writes, and whether it changes
     * the schema (STORE_TABLE_DDL, first), to fn: what ACL SQL table rules
     * are checked against. Returns fn's nonzero value if it stopped the
     * walk, STORE_OK, or STORE_ERR_USER when sql does not prepare. */
    int (*tables)(void *h, const char *sql, store_table_fn fn, void *ctx, char **err);

    /* Optional (NULL: get is called for each key). Reads the rows of n
     * primary keys of one table at once (PostgreSQL: one round trip): key
     * i's values are keyvals[i * nkey .. i * nkey + nkey - 1] and its row,
     * if there is one, goes to sinks[i], as get would send it. A key that
     * cannot be a value of its column's type has no row. A failure returns
     * its class for all: the sinks may have been given rows by then (the
     * caller drops them). */
    int (*get_many)(void *h, const char *table, int nkey, const char *const *keycols, int n,
                    const store_value *keyvals, store_sink *sinks, char **err);
} store_module;

typedef const store_module *(*store_module_entry_fn)(void);
#define STORE_MODULE_ENTRY "larder_store_module"
/* The entry every module defines (looked up by name with dlsym). */
const store_module *larder_store_module(void);
#endif
