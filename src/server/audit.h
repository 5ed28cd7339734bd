/* server/audit — the audit log: who did what, as JSON lines.
 *
 * `audit-log FILE` turns it on; `audit-events` chooses the classes (below).
 * One line per event:
 *
 *   {"time":"2026-12-07T08:01:02.345Z","class":"config","command":"config|set",
 *    "user":"default","client":"127.0.0.1:50312","client_id":7,
 *    "args":["maxmemory","100mb"],"outcome":"ok"}
 *
 * "outcome" is "ok", "err" (the command replied an error: "reason" is its
 * text) or "denied" ("reason" says why). A password never appears: AUTH and
 * HELLO lines carry no arguments, ACL rules that set passwords and the values
 * of CONFIG SET parameters named like a password are written as "<redacted>".
 *
 * Writing: events are appended to a memory buffer and written with one
 * write() per event-loop turn (before the loop sleeps, and before that
 * turn's replies are written: a client that got its reply finds its event in
 * the file), so a command never waits for the disk on its own; a slow disk
 * delays the turn by that one write (no fsync). At most
 * AUDIT_BUFFER_MAX bytes wait; events past that are dropped and counted. A
 * failed write (a full disk) drops what was buffered, counts it, and is
 * reported in INFO audit and in the server log; the server keeps serving.
 * When writes work again, a line of class "audit" says how many events were
 * lost. SIGHUP reopens the file (logrotate).
 *
 * Threading: the loop thread only. */
#ifndef LARDER_SERVER_AUDIT_H
#define LARDER_SERVER_AUDIT_H
#include <stddef.h>
#include <stdint.h>
#include "resp/resp.h"
#include "util/sbuf.h"

typedef struct client client;
typedef struct command command;

/* Event classes (audit-events names in brackets). */
enum {
    AUDIT_AUTH = 1 << 0,     /* [auth] AUTH and HELLO ... AUTH, success or failure */
    AUDIT_ACL = 1 << 1,      /* [acl] ACL SETUSER / DELUSER / LOAD / SAVE / LOG RESET */
    AUDIT_CONFIG = 1 << 2,   /* [config] CONFIG SET and CONFIG REWRITE */
    AUDIT_DDL = 1 << 3,      /* [ddl] SQL.EXEC of CREATE / DROP / ALTER */
    AUDIT_SQL = 1 << 4,      /* [sql] any other SQL.EXEC */
    AUDIT_FLUSH = 1 << 5,    /* [flush] FLUSHALL, FLUSHDB */
    AUDIT_DEBUG = 1 << 6,    /* [debug] DEBUG */
    AUDIT_SHUTDOWN = 1 << 7, /* [shutdown] SHUTDOWN, and SIGTERM/SIGINT */
    AUDIT_DENIED = 1 << 8,   /* [denied] refused before running: NOAUTH, protected mode... */
    AUDIT_ALL = (1 << 9) - 1,
};
#define AUDIT_BUFFER_MAX (4u << 20)
/* Denied events written per connection; the rest are counted and written as
 * one line when the connection closes (an unauthenticated peer cannot fill
 * the disk by sending commands). */
#define AUDIT_DENIED_PER_CLIENT 16

/* ---- for the server core ----------------------------------------------------------- */
/* Registers the directives audit-log and audit-events (before the config is read). */
void audit_register_config(void);
/* Opens audit-log after the configuration is read; ERR with *err stops the start. */
int audit_start(char **err);
/* The class c's command is logged under (0: not logged now): call before the
 * handler runs. */
int audit_command_class(const client *c, const command *cmd);
/* After the handler ran: logs it with its outcome (failed: it replied an
 * error, the last one noted by audit_note_error). */
void audit_command_done(client *c, const command *cmd, int cls, int failed);
/* Every error reply's text (without '-'): the reason of a failed command. */
void audit_note_error(const char *msg);
/* Writes the buffered events (each loop turn). */
void audit_flush(void);
/* SIGHUP: reopens the file at audit-log's path. */
void audit_reopen(void);
/* The server is stopping (why: "SIGTERM", "SHUTDOWN"...): logs it if the
 * SHUTDOWN command did not, writes everything, closes. */
void audit_shutdown(const char *why);
/* A connection closes: the denied events it was not allowed to write. */
void audit_client_freed(client *c);
/* INFO audit. */
void audit_info(sbuf *out);

/* ---- for the ACL code and persistence ------------------------------------------------ */
/* A command or connection refused (c may be between commands: the command
 * field is then empty). */
void audit_denied(client *c, const char *reason);
/* An ACL command that changes users ran (ok or not, with the reason): its
 * arguments with password rules redacted. The dispatch path calls it for
 * every ACL subcommand of class acl; the ACL code need not. */
void audit_acl_change(client *c, int argc, const resp_arg *argv, int ok, const char *reason);
/* SQL.EXEC finished on the store (c NULL when the client left meanwhile:
 * client_id and addr identify it). Class ddl or sql from the statement. */
void audit_sql(client *c, uint64_t client_id, const char *addr, const char *sql, size_t len,
               int nparams, int ok, const char *reason);
/* Is any of these classes logged now? (cheap; lets callers skip work) */
int audit_wants(int classes);
#endif
