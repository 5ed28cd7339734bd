/* server/hooks.h — how the server core tells an observer (the persistence
 * layer) what happens, and how the observer adds configuration directives,
 * INFO lines and DEBUG subcommands.
 *
 * The core calls the observer only through `hooks` and names none of its
 * symbols; the observer fills the table once, before the configuration is
 * read (main is the one place that wires the two together). Every slot
 * always holds a function: hooks_set() keeps the no-op default for a slot
 * left NULL, so the core calls without checking.
 *
 * Threading: every hook runs on the loop thread. */
#ifndef LARDER_SERVER_HOOKS_H
#define LARDER_SERVER_HOOKS_H
#include <stddef.h>
#include <stdint.h>
#include "util/sbuf.h"

typedef struct client client;
typedef struct command command;
typedef struct db db;
typedef struct kobj kobj;

typedef struct server_hooks {
    /* Before a client's command runs or is queued in MULTI (after the
     * server's own checks: ACL, arity, maxmemory, loading, a busy script). Returns 0 when the
     * command must not run now: the hook replied (an error) or parked the
     * client, whose command is re-run later. */
    int (*allow_command)(client *c, const command *cmd);
    /* After a command ran, EXEC's and scripts' commands included (its reply
     * is buffered, not yet written). */
    void (*after_command)(client *c, const command *cmd);
    /* A key was written or deleted (signal_modified_key); c may be NULL
     * (expiry, eviction, the server's own changes). */
    void (*key_modified)(client *c, db *d, const char *key, size_t len);
    /* An entry expired (lazily or by the active cycle): it has left the db and
     * is freed after the call; the observer may keep a copy (stale-if-error). */
    void (*key_expired)(db *d, const kobj *o);
    /* Must eviction skip this key? (its newest value is not stored yet) */
    int (*key_pinned)(db *d, const char *key, size_t len);
    /* Is this key a cached copy of a stored row (a mapping that loads or
     * stores)? Then it leaves the cache whole, never in part (field expiry). */
    int (*key_mapped)(db *d, const char *key, size_t len);
    /* Each loop iteration, before replies are written. */
    void (*before_sleep)(void);
    /* Each server cron tick (hz). */
    void (*cron)(void);
    /* A client is being freed: drop what the observer keeps for it. */
    void (*client_freed)(client *c);
    /* After the listeners are up, before the first client is served;
     * ERR (with *err, owned by the caller) stops the server. */
    int (*start)(char **err);
    /* Shutdown, before the last replies are flushed. */
    void (*shutdown)(void);
} server_hooks;

/* The table the core calls (never NULL slots). */
extern server_hooks hooks;
/* Installs an observer's hooks; NULL slots keep the no-op default. */
void hooks_set(const server_hooks *h);

/* ---- configuration directives -------------------------------------------------------
 * A directive lives in its owner's variable (ptr); the config module parses
 * the file, --name value arguments and CONFIG SET into it, prints it for
 * CONFIG GET and REWRITE, and runs `apply` after a change. */
enum { CT_BOOL, CT_INT, CT_MEM, CT_ENUM, CT_STRING, CT_SPECIAL };
/* CF_SPLITS_ARGS: the setter splits its value into arguments again
 * (resp_split_args), so a file line's or command line's arguments reach it
 * quoted where needed ("a b" stays one argument) rather than joined bare. */
/* CF_FILE_ONLY: a directive of the configuration file (and command line)
 * only, unknown to CONFIG GET/SET (`user`). */
enum {
    CF_IMMUTABLE = 1,
    CF_HIDDEN = 2,
    CF_ALIAS_ONLY = 4,
    CF_EMPTY_IS_NULL = 8,
    CF_SPLITS_ARGS = 16,
    CF_FILE_ONLY = 32
};

typedef struct enum_name {
    const char *name;
    int value;
} enum_name;

typedef struct config_directive {
    const char *name, *alias;
    int type, flags;
    void *ptr;       /* int* (BOOL/ENUM), long long* or int* (INT/MEM), char** (STRING) */
    int ptr_size;    /* sizeof the integer target for CT_INT/CT_MEM (4 or 8) */
    const char *def; /* default, as text */
    long long min, max;
    const enum_name *enums;
    /* CT_SPECIAL: parse text into the live value / print it */
    int (*set)(const char *val, char **err);
    void (*get)(sbuf *out);
    /* CT_SPECIAL whose value may hold any byte, NUL included (requirepass):
     * called instead of set with the value's length */
    int (*set_bytes)(const char *val, size_t len, char **err);
    int (*apply)(char **err); /* after a change; ERR rolls the change back */
} config_directive;

#define CONFIG_BOOL(n, p, d)                                                                       \
    { .name = n, .type = CT_BOOL, .ptr = p, .def = d }
#define CONFIG_INT(n, p, d, lo, hi)                                                                \
    {                                                                                              \
        .name = n, .type = CT_INT, .ptr = p, .ptr_size = sizeof(*(p)), .def = d, .min = lo,        \
        .max = hi                                                                                  \
    }
#define CONFIG_MEM(n, p, d, lo, hi)                                                                \
    {                                                                                              \
        .name = n, .type = CT_MEM, .ptr = p, .ptr_size = sizeof(*(p)), .def = d, .min = lo,        \
        .max = hi                                                                                  \
    }
#define CONFIG_STRING(n, p, d)                                                                     \
    { .name = n, .type = CT_STRING, .ptr = p, .def = d }
#define CONFIG_ENUM(n, p, d, e)                                                                    \
    { .name = n, .type = CT_ENUM, .ptr = p, .def = d, .enums = e }
#define CONFIG_SPECIAL(n, d, s, g)                                                                 \
    { .name = n, .type = CT_SPECIAL, .def = d, .set = s, .get = g }

/* Adds directives (an array ended by a row with a NULL name; it must
 * outlive the server). Call before the configuration is read. */
void config_register(const config_directive *rows);

/* ---- fencing tokens (commands/lock.c) ---------------------------------------------------
 * The last token issued (starting from the wall clock in microseconds),
 * raising it (never lowers), and a hook told of every token issued, and the
 * client it goes to, before it is replied (persistence keeps a ceiling above
 * it in the store, and may hold that client's replies until it is stored). */
uint64_t lock_token_last(void);
void lock_token_raise(uint64_t t);
void lock_set_token_hook(void (*fn)(client *to, uint64_t token));

/* ---- INFO and DEBUG ------------------------------------------------------------------ */
/* Appends lines ("name:value\r\n") to an INFO section each time it is shown. */
void info_register(const char *section, void (*fn)(sbuf *out));
/* DEBUG <name> ... runs fn (which replies). */
void debug_register(const char *name, void (*fn)(client *c));
#endif
