/* persist/persist_api.h — what the rest of the program may call in the
 * persistence layer: its registration as the server's observer (main wires
 * it), and the operations behind the persistence commands
 * (src/commands/). Everything else of src/persist is internal. */
#ifndef LARDER_PERSIST_API_H
#define LARDER_PERSIST_API_H
#include <stddef.h>
#include "resp/resp.h"

typedef struct client client;

/* Installs persistence's hooks (server/hooks.h) and configuration
 * directives. Call once, before the configuration is read. */
void persist_register(void);

/* Is a store module loaded and open? The operations below need one. */
int persist_enabled(void);

/* Each operation below replies to c itself, now or once the store thread
 * is done (c is then blocked meanwhile); c must be able to block
 * (client_can_block), except for persist_wb_flush, which checks. */

/* Runs sql with args bound to its ? parameters (copied: they may point into
 * c's query buffer); readonly refuses statements that write. Rows come back
 * as arrays (RESP3: maps), a write without rows as the count it changed.
 * rules (taken over; NULL: none): the user's ACL SQL table rules, checked
 * on the store thread against the tables the statement touches before it
 * runs; a denial replies -NOPERM and is logged in ACL LOG. */
struct acl_sql_rules;
void persist_sql_submit(client *c, const char *sql, size_t len, int nargs, const resp_arg *args,
                        int readonly, struct acl_sql_rules *rules);
/* WB.FLUSH: replies once every pending write-behind key is in the store. */
void persist_wb_flush(client *c);
/* WB.DEADLETTER: the first count entries; writing entry id (0: all) again;
 * dropping entry id (0: all). */
void persist_deadletter_list(client *c, long long count);
void persist_deadletter_retry(client *c, long long id);
void persist_deadletter_drop(client *c, long long id);
/* STORE.INVALIDATION INSTALL: installs the store's change log for the mapped
 * tables (idempotent). */
void persist_log_install(client *c);
#endif
