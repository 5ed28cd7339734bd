/* persist/observer — the persistence layer's side of server/hooks.h: the
 * hooks it fills and the configuration directives it owns. The server core
 * reaches persistence only through what persist_register() installs here. */
#include "persist/persist.h"
#include "persist/persist_api.h"
#include "server/hooks.h"
#include <limits.h>

static const enum_name fsync_enum[] = {
    {"no", JFSYNC_NO}, {"everysec", JFSYNC_EVERYSEC}, {"always", JFSYNC_ALWAYS}, {NULL, 0}};
static const enum_name ondelete_enum[] = {
    {"row", ON_DELETE_ROW}, {"cache", ON_DELETE_CACHE}, {NULL, 0}};

static const enum_name batch_prio_enum[] = {{"normal", STOREQ_PRIO_NORMAL},
                                            {"batch", STOREQ_PRIO_BATCH},
                                            {"idle", STOREQ_PRIO_IDLE},
                                            {NULL, 0}};

static int apply_batch_prio(char **err) {
    storeq_set_batch_priority(pcfg.store_batch_priority);
    return OK;
}

static int apply_fsync(char **err) {
    persist_config_fsync_changed();
    return OK;
}

/* The persistence directives; their names are fixed (README.md, "Configuration
 * reference"). */
static config_directive directives[] = {
    {.name = "loadmodule",
     .type = CT_SPECIAL,
     .flags = CF_IMMUTABLE | CF_SPLITS_ARGS,
     .set = persist_config_loadmodule,
     .get = persist_config_get_loadmodule},
    {.name = "store-path", .type = CT_STRING, .flags = CF_IMMUTABLE, .ptr = &pcfg.store_path},
    {.name = "store-conninfo",
     .type = CT_STRING,
     .flags = CF_IMMUTABLE,
     .ptr = &pcfg.store_conninfo},
    {.name = "store-connections",
     .type = CT_INT,
     .flags = CF_IMMUTABLE,
     .ptr = &pcfg.store_connections,
     .ptr_size = sizeof(pcfg.store_connections),
     .def = "1",
     .min = 1,
     .max = STOREQ_MAX_LANES},
    {.name = "store-batch-priority",
     .type = CT_ENUM,
     .ptr = &pcfg.store_batch_priority,
     .def = "idle",
     .enums = batch_prio_enum,
     .apply = apply_batch_prio},
    {.name = "journal-path",
     .type = CT_STRING,
     .flags = CF_IMMUTABLE,
     .ptr = &pcfg.journal_path,
     .def = "larder.journal"},
    {.name = "journal-fsync",
     .type = CT_ENUM,
     .ptr = &pcfg.journal_fsync,
     .def = "everysec",
     .enums = fsync_enum,
     .apply = apply_fsync},
    CONFIG_INT("write-behind-batch", &pcfg.wb_batch, "10000", 1, 1000000),
    CONFIG_INT("write-behind-chunk", &pcfg.wb_chunk, "128", 0, 1000000),
    CONFIG_INT("write-behind-delay-ms", &pcfg.wb_delay_ms, "100", 0, 3600000),
    CONFIG_INT("write-behind-max-pending", &pcfg.wb_max_pending, "1000000", 1, LLONG_MAX),
    CONFIG_BOOL("write-behind-check", &pcfg.wb_check, "yes"),
    CONFIG_INT("negative-ttl", &pcfg.negative_ttl, "60", 0, LLONG_MAX),
    CONFIG_INT("stale-if-error", &pcfg.stale_if_error, "0", 0, 100LL * 365 * 86400),
    CONFIG_ENUM("on-delete", &pcfg.on_delete, "row", ondelete_enum),
    CONFIG_SPECIAL("map", NULL, persist_config_set_maps, persist_config_get_maps),
    {.name = NULL}};

int persist_enabled(void) {
    return ps.enabled;
}

void persist_register(void) {
    static const server_hooks h = {
        .allow_command = persist_allows_command,
        .after_command = persist_after_command,
        .key_modified = persist_key_modified,
        .key_expired = persist_key_expired,
        .key_pinned = persist_key_pinned,
        .key_mapped = persist_key_mapped,
        .before_sleep = persist_before_sleep,
        .cron = persist_cron,
        .client_freed = persist_client_free,
        .start = persist_start,
        .shutdown = persist_shutdown,
    };
    hooks_set(&h);
    config_register(directives);
    inval_register();
    changes_register();
}
