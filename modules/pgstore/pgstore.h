/* modules/pgstore — what pgstore.so exports beyond the store API
 * (src/persist/store_api.h). Look the functions up with dlsym on the
 * module's handle; they take the handle its open() returned and are called
 * on the store thread like every entry point. */
#ifndef LARDER_MODULES_PGSTORE_H
#define LARDER_MODULES_PGSTORE_H
#include "persist/store_api.h"
#include <stdint.h>

/* Installs the invalidation log for the tables (each needs a primary key):
 * the table larder_changes (id bigserial, tbl, op 'I'/'U'/'D'/'T', pk jsonb
 * {"col": value}, at, pkv text[] the key's values in key order, xid the
 * writing transaction), the function larder_log_change() and, on each
 * table, a row trigger
 * that logs every committed INSERT/UPDATE/DELETE (an UPDATE that changes the
 * key logs the old key as a 'D' too) and a statement trigger for TRUNCATE
 * ('T', pk {}), each followed by pg_notify('larder_changes', id). Safe to
 * run twice, and from several sidecars at once (one transaction under an
 * advisory lock). Once installed, the store's query entry point reports
 * the rows a write changed (store_change_fn) from this log. Returns a
 * STORE_* code; *err is freed with free_error. */
int pgstore_install_invalidation(void *handle, int ntables, const char *const *tables, char **err);
/* Catch-up from a durable position: calls fn for every key the log holds
 * from transactions that ended since *pos, in log order (npk 0: a
 * TRUNCATE, every key of the table; an UPDATE that moved a key reports
 * both), then advances *pos. *pos is a txid horizon, not a log id: keep it
 * (it survives restarts of either side) and pass it back; 0 starts from
 * now (no call). A transaction still running holds the horizon back, so
 * nothing committed after a read is missed. Returns a STORE_* code. */
int pgstore_changes_since(void *handle, int64_t *pos, store_change_fn fn, void *ctx, char **err);
#define PGSTORE_INSTALL_INVALIDATION "pgstore_install_invalidation"
#define PGSTORE_CHANGES_SINCE "pgstore_changes_since"
#define PGSTORE_CHANNEL "larder_changes"
#endif
