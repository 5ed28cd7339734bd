/* persist/persist.h — the persistence layer's shared state (internal to
 * src/persist; the rest of the server sees only persist_api.h and the hooks
 * it installs, server/hooks.h).
 *
 * Per-key state lives in `pkeys` (a dict keyed by the Redis key) for keys
 * with something going on: a load in flight, a write-through in flight
 * (key lock), a write-behind state not yet in the store (dirty), a cached
 * "no such row" (negative). An idle key has no pkey.
 *
 * Modes (README.md, "Keeping a store consistent: mappings"):
 *   read-through  a miss parks the client, loads the row on the store thread
 *                 (one load per key: later misses join it), caches it (or a
 *                 negative entry), then re-runs the parked commands;
 *   write-through the command runs speculatively on a snapshot with its key(s)
 *                 locked and its reply held; the store commits (sharing the
 *                 transaction with other write-throughs queued meanwhile);
 *                 then the reply goes out — or, on a store error, the cache
 *                 is restored and the client gets -BACKEND;
 *   write-behind  the command runs (its rows first checked by the store, its
 *                 reply held meanwhile: wbcheck.c); before its reply leaves (before-sleep)
 *                 the key's new row state is appended to the journal (and
 *                 fsync'ed under `always`); a flusher writes batches of dirty
 *                 keys to the store in order, retrying with backoff, and
 *                 dead-letters rows refused for good.
 * Every loading mode also loads on a miss; cache-aside never touches the store.
 */
#ifndef LARDER_PERSIST_PERSIST_H
#define LARDER_PERSIST_PERSIST_H
#include "server/api.h"
#include "persist/persist_api.h"
#include "persist/journal.h"
#include "persist/mapping.h"
#include "persist/store_api.h"
#include "persist/storeq.h"
#include "server/hooks.h"

enum { ON_DELETE_ROW = 0, ON_DELETE_CACHE = 1 };

typedef struct persist_config {
    char *module_path;
    char **module_args;
    int module_argc;
    char *store_path;
    char *store_conninfo; /* passed to the module as "store-conninfo" VALUE */
    long long store_connections;
    int store_batch_priority; /* STOREQ_PRIO_*: the CPU priority of write-behind batches */
    char *journal_path;
    int journal_fsync;
    long long wb_batch, wb_delay_ms, wb_max_pending;
    long long wb_chunk; /* write-behind-chunk: rows per store transaction of a batch */
    long long negative_ttl;
    int wb_check;             /* write-behind-check: refuse what the table refuses
                                 before the reply (wbcheck.c) */
    long long stale_if_error; /* seconds an expired read-through entry may be served
                                 while the store fails; 0 = off */
    int on_delete;
    long long lease_ms;
} persist_config;

typedef struct persist_stats {
    long long hits, misses, loads, loads_coalesced, refreshes_early;
    long long loads_batched, load_batches; /* keys read by a get_many of several, and those calls */
    long long wb_batches, wb_flushed_total, wb_retries, wb_deadletter, wb_refused_dropped,
        wb_refused_before_reply, wb_checked_before_reply;
    long long wb_check_local, wb_check_store; /* rows judged by wbcheck.c itself / by the store */
    long long wb_batch_slices;                /* loop turns' slices of batch work (writebehind.c) */
    long long wt_commits, wt_jobs;
    long long invalidations;
    long long loads_stale; /* loads not cached: an invalidation overtook them */
    long long stale_if_error_hits;
} persist_stats;

typedef struct pkey {
    size_t klen;
    char *key;     /* the start of the allocation holding the pkey (pkey_get) */
    uint64_t hash; /* hash_bytes(key): the pkeys dict's entry_hash */
    const mapping *map;
    /* read-through: a load in flight and the clients waiting for it */
    int loading;
    int refreshing;         /* an XFetch reload (no waiters) */
    list_head load_waiters; /* of pwait */
    uint64_t load_version;  /* version when the load started */
    /* write-through: a commit in flight on this key (the key is locked) */
    int locked;
    list_head lock_waiters; /* of pwait */
    /* write-behind */
    int checking;        /* in the running command's check speculation (wbcheck.c) */
    int refused_pending; /* the store refused the state the check's snapshot holds */
    int dirty;
    int in_flight; /* part of the batch being written */
    int deadlettering;
    int changed_in_flight; /* a change of its row arrived while its batch or
                              write-through commit was in flight
                              (invalidate.c, inval_flushed) */
    sbuf state;            /* latest row state (mapping.h format) */
    int state_lent;        /* the batch in flight reads state's buffer (writebehind.c
                              start_batch): it is not written until the batch is done */
    uint64_t version;      /* bumps on every write */
    uint64_t flushing_version;
    uint64_t first_unflushed; /* seq of the oldest record not in the store */
    uint64_t pending_first;   /* first record appended while in flight */
    int64_t dirty_since_ms;   /* when the record first_unflushed was appended */
    int64_t pending_since_ms; /* when the record pending_first was appended */
    list_node dirty_node;     /* in wb.dirty, ordered by first_unflushed */
    list_node touched_node;   /* in the keys touched this loop iteration */
    int touched;
    /* stale-if-error (read-through): the entry as it expired, kept until
     * stale_until_ms; stale_served: that copy is back in the db, served while
     * loads fail (each read tries the store again first) */
    kobj *stale;
    int64_t stale_until_ms;
    int stale_served;
    /* negative cache */
    int64_t negative_until_ms;
    int waking; /* pkey_wake() is re-running its waiters: not freed meanwhile */
} pkey;

/* A client waiting on one list: a key's load or lock, or WB.FLUSH. A client
 * may wait on many lists at once (a command over many keys). */
typedef struct pwait {
    list_node node;  /* in *list */
    list_node cnode; /* in the client's pclient.waits */
    list_head *list; /* the wait list it is on */
    client *c;
} pwait;

/* Per-client state (client.persist), created when a client first waits.
 * `loaded` holds the keys whose load the current command waits or waited
 * for: when the command re-runs (rerun) those keys count as loaded even if
 * the row was missing and absence is not cached (negative-ttl 0), so a
 * re-run never starts the same load again, a key named twice is loaded once,
 * and a miss is not counted a second time as a hit. It is emptied when the
 * client's next command starts. */
typedef struct pclient {
    list_head waits; /* of pwait (cnode): parked until the last is woken */
    int rerun;       /* its command is being re-run after a wait */
    dict *loaded;    /* of keys, NULL until the first load */
} pclient;

typedef struct persist_state {
    int enabled;  /* a store module is loaded and open */
    int stopping; /* shutting down: parked commands are not re-run */
    const store_module *mod;
    void *dl; /* dlopen handle */
    mapping_set maps;
    dict *pkeys;
    list_head touched; /* write-behind keys written this iteration */
    list_head dirty;   /* dirty keys, FIFO by first_unflushed */
    long dirty_count;
    int batch_in_flight;
    int64_t next_flush_ms;
    int retry_count;
    int64_t retry_until_ms;
    list_head flush_waiters; /* WB.FLUSH clients */
    list_head map_waiters;   /* commands waiting for a CONFIG SET map */
    uint64_t watermark;
    long long next_deadletter_id;
    long stale_served; /* keys whose stale-if-error copy is being served */
    long locked_keys;  /* pkeys with locked set (pkey_lock) */
    int journal_ok;
    persist_stats st;
    double wt_group_sum;
} persist_state;

extern persist_config pcfg;
extern persist_state ps;

/* core.c */
pkey *pkey_get(const char *key, size_t klen, const mapping *m);
/* The same with the key's hash known (hash_bytes of the key). */
pkey *pkey_get_hashed(const char *key, size_t klen, const mapping *m, uint64_t h);
pkey *pkey_find(const char *key, size_t klen);
void pkey_maybe_free(pkey *k);
/* cmd is EXEC (by its table entry: no name compare) */
int is_exec(const command *cmd);
/* Sets / clears k->locked, counting locked keys: while none is, a command
 * does not look its keys up in pkeys to see whether it must wait. */
void pkey_lock(pkey *k);
void pkey_unlock(pkey *k);
const mapping *persist_match(const db *d, const char *key, size_t klen, const char **pk,
                             size_t *pklen);
/* Parks c, which waits on one or more lists (persist_wait_on): its command
 * re-runs when the last of them is woken. */
void persist_park(client *c);
/* Takes every client off the list; re-runs the commands of those that wait
 * on no other list (those parked on it again meanwhile wait for the next
 * wake). */
void persist_wake(list_head *waiters);
/* persist_wake() on one of k's wait lists, then pkey_maybe_free(k). A
 * re-run command may write the key, and a write frees an idle pkey: k is
 * held until the last waiter ran, so the caller's k stays valid. */
void pkey_wake(pkey *k, list_head *waiters);
/* Puts c on a wait list without parking it (persist_park parks it; WB.FLUSH
 * blocks it itself). */
void persist_wait_on(client *c, list_head *waiters);
/* Takes the first waiter off a list, and off every other list it waits on
 * (NULL when empty); the caller replies and unblocks it. */
client *persist_wait_pop(list_head *waiters);
/* Records that c's current command waits for the load of key. */
void persist_note_loaded(client *c, const char *key, size_t klen);
void persist_reply_backend_error(client *c, const char *what, const char *msg);

/* The observer's hooks (observer.c installs them; server/hooks.h says when
 * each runs) and its configuration directives. */
int persist_start(char **err);
int persist_allows_command(client *c, const command *cmd);
void persist_after_command(client *c, const command *cmd);
void persist_key_modified(client *c, db *d, const char *key, size_t klen);
void persist_key_expired(db *d, const kobj *o);
int persist_key_pinned(db *d, const char *key, size_t klen);
int persist_key_mapped(db *d, const char *key, size_t klen);
void persist_before_sleep(void);
void persist_cron(void);
void persist_client_free(client *c);
void persist_shutdown(void);
int persist_config_loadmodule(const char *val, char **err);
void persist_config_get_loadmodule(sbuf *out);
int persist_config_set_maps(const char *val, char **err);
void persist_config_get_maps(sbuf *out);
void persist_config_fsync_changed(void);

/* readthrough.c */
int rt_needs_load(client *c, const command *cmd, const mapping *m, const char *key, size_t klen);
/* Starts (or joins) the load of key; a miss (refresh 0) puts c on its wait
 * list, and the caller parks c (persist_park). */
void rt_start_load(client *c, const mapping *m, const char *key, size_t klen, const char *pk,
                   size_t pklen, int refresh);
/* A hit of o (key of map m): may start an XFetch refresh. */
void rt_on_hit(client *c, const mapping *m, kobj *o);
int rt_is_negative(pkey *k);
/* stale-if-error: keeps an expired read-through entry (key_expired hook);
 * forgets k's stale copy (a write, an invalidation); is k's entry a stale
 * copy being served? */
void rt_key_expired(const mapping *m, const kobj *o);
void rt_forget_stale(pkey *k);
int rt_serving_stale(const pkey *k);

/* writethrough.c */
int wt_before(client *c, const command *cmd, const resp_arg *keys, int nkeys);
void wt_after(client *c);
int wt_active(client *c, const command *cmd);
/* Drops a freed client's write-through state. */
void wt_client_gone(client *c);

/* writebehind.c */
int wb_start(char **err);
/* A write-behind key was written by the running command (k from pkey_get). */
void wb_key_written(pkey *k);
/* The same for a write accepted later (wbcheck.c): c's replies wait for the
 * journal record (c may be NULL: gone). */
void wb_key_written_by(pkey *k, client *c);
void wb_before_sleep(void);
void wb_cron(void);
void wb_shutdown(void);
int wb_over_limit(void);
void wb_info(sbuf *b);
/* Writes every key's latest state through emit (a journal rewrite). */
void wb_fill_journal(void *ctx, journal_emit_fn emit);
/* DEBUG JOURNAL-HOLD on|off (journal_hold). */
void wb_debug_journal_hold(client *c);
void wb_debug_slice(client *c);

/* invalidate.c: following the store's change log */
int inval_start(char **err);
void inval_shutdown(void);
void inval_info(sbuf *b);
void inval_register(void);
/* After k's batch or write-through commit: drops its cached value if its
 * row changed meanwhile and k holds no newer write (the other change may
 * have committed after k's). */
void inval_flushed(pkey *k);
/* wbcheck.c: a write-behind write checked by the store before its reply */
void wbc_before(client *c, const command *cmd, const resp_arg *keys, int nkeys);
void wbc_after(client *c);
int wbc_active(client *c, const command *cmd);
/* Is a write of k part of a check speculation (not recorded now)? */
int wbc_defers(const pkey *k);
/* Reads the used tables' descriptions again when due (persist_cron). */
void wbc_cron(void);
/* table's schema (NULL: any table's) may have changed: the store judges its
 * rows until its description is read again. */
void wbc_schema_changed(const char *table);
/* Does the statement change the schema (ALTER, CREATE, DROP)? */

/* sqlcmd.c */
/* Drops the cached keys of a changed row (pk: its key values in the table's
 * key order) from every map of table. */
void sql_invalidate_pk(const char *table, int npk, const store_value *pk);

/* changes.c: the store's committed row changes as a stream (changes-stream) */
void changes_register(void);
/* After the store opened: checks the key, appends the reset entry. */
int changes_start(char **err);
/* Is a stream key configured? */
int changes_configured(void);
/* Is the stream on (configured, and the layer started)? */
int changes_on(void);
/* A new commit's seq: the entries of one commit share it. */
uint64_t changes_commit(void);
/* A committed row op's change as the stream names it: its store_op.change,
 * or for a store that cannot tell, 'D' for a DELETE and 0 for an UPSERT. */
int changes_op(const store_op *op);
/* One changed row: op 'I'nsert, 'U'pdate, 'D'elete (store_api.h's codes)
 * or 0 (an UPSERT the store could not tell apart: "upsert"); pk the key
 * slice (values joined as the key pattern joins them), key the cache key. */
void changes_row(uint64_t seq, const char *table, int op, const char *pk, size_t pklen,
                 const char *key, size_t klen);
/* The same for a row given by its key values in the table's key order (as a
 * store reports a change): pk and key from the table's first map they fit. */
void changes_row_pk(uint64_t seq, const char *table, int op, int npk, const store_value *pk);
/* Every row of table changed (TRUNCATE). */
void changes_truncate(uint64_t seq, const char *table);
/* A "reset" entry: changes before it may be missing (a gap in the store's
 * change log). */
void changes_reset(void);

/* core.c: may the statement change a schema (its text names CREATE, DROP
 * or ALTER)? Such a statement is submitted / is done: write-behind writes are
 * checked meanwhile, until the mapped tables are described again
 * (mapping.check_free). */
int persist_sql_may_change_schema(const char *sql, size_t len);
void persist_sql_begins(void);
void persist_sql_ends(void);

/* store queries run synchronously during start-up */
int persist_query_sync(const char *sql, int nargs, const store_value *args, char **err);
/* The first column of the first row as an integer (0 when no row or not an integer). */
int persist_query_int(const char *sql, int64_t *out, char **err);

/* The store's SQL type for the server's own tables' columns of sv_type
 * (store_module.column_type; the bundled engine's names without it). */
const char *persist_column_type(int sv_type);

/* locktokens.c: stores the fencing-token ceiling, raises the counter (start-up) */
int ltok_start(char **err);
#endif
