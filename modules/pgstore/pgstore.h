/* modules/pgstore — names pgstore.so shares with the programs around it.
 * Its change log (larder_changes, the invalidation across sidecars) is
 * reached through the store API's log_* entry points
 * (src/persist/store_api.h); this header only names the NOTIFY channel
 * the log's triggers signal, for programs that listen themselves. */
#ifndef LARDER_MODULES_PGSTORE_H
#define LARDER_MODULES_PGSTORE_H
#define PGSTORE_CHANNEL "larder_changes"
#endif
