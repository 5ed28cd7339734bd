/* server/acl.h — users and their permissions (Redis 7.0's ACL model), and the
 * SQL table rules Larder adds to it.
 *
 * A user has flags (on/off, nopass), a set of SHA-256 password hashes and a
 * list of selectors: the root selector first, then those added with
 * "(...)". A command is allowed when one selector allows the command, every
 * key it names (with the access the command's key specs give the key) and
 * every channel it publishes or subscribes to. Connections point at their
 * user (client.user); a deleted user's connections are closed.
 *
 * SQL table rules (a Larder extension, on the user, outside selectors):
 *   %sql:R~pattern  %sql:W~pattern  %sql:RW~pattern   table-name glob, access
 *   %sql:ddl                                         may run DDL statements
 *   resetsql                                         drop the SQL rules
 * A user without SQL rules runs any statement its command rights allow; a
 * user with at least one is restricted to the tables (and DDL) it names.
 *
 * Fast path: acl_fast_user is the default user while it may run everything
 * (all commands, keys and channels, no SQL rules); NULL otherwise. The
 * command path skips every check when c->user == acl_fast_user.
 *
 * Threading: the loop thread only, except acl_sql_rules_* on a copy. */
#ifndef LARDER_SERVER_ACL_H
#define LARDER_SERVER_ACL_H
#include "server/api.h"

typedef struct acl_user acl_user;

/* Check results, in Redis's order (a higher one is the more relevant). */
enum {
    ACL_OK = 0,
    ACL_DENIED_CMD = 1,
    ACL_DENIED_KEY = 2,
    ACL_DENIED_AUTH = 3,
    ACL_DENIED_CHANNEL = 4,
    ACL_DENIED_SQL = 5, /* an SQL statement touched a table the user may not */
};
/* Where a denial happened (ACL LOG "context"). */
enum { ACL_CTX_TOPLEVEL = 0, ACL_CTX_MULTI, ACL_CTX_LUA };

extern acl_user *acl_fast_user;

/* Creates the default user; after the command table is built. */
void acl_init(void);
/* Start-up: applies the `user` lines of the configuration and then the
 * aclfile (both at once is an error, as in Redis). ERR with *err (caller
 * frees) stops the server. */
int acl_load_at_startup(char **err);
/* A `user NAME rules...` configuration line (words in argv): checked now,
 * applied by acl_load_at_startup. ERR with *err. */
int acl_config_user_line(int argc, char **argv, char **err);

acl_user *acl_default_user(void);
acl_user *acl_user_find(const char *name, size_t len);
const char *acl_user_name(const acl_user *u);

/* The user whose rights c's commands use (a script's: its caller's). */
acl_user *acl_client_user(client *c);
/* Does the default user need no password (nopass)? */
int acl_default_nopass(void);
/* Does c still have to authenticate before running commands? */
int acl_auth_required(const client *c);
/* Sets c's user to the default one, authenticated if it needs no password. */
void acl_client_init(client *c);
/* AUTH / HELLO AUTH: OK and c is logged in as the user, or ERR (logged in
 * ACL LOG and counted; the caller replies -WRONGPASS). */
int acl_authenticate(client *c, const resp_arg *user, const resp_arg *pass);
/* requirepass changed: the default user's password follows (NULL: nopass). */
void acl_set_default_password(const char *pass, size_t len);

/* May u run cmd with these arguments? ACL_OK or the denial, with *pos the
 * argument index of the key or channel refused. */
int acl_check_command(acl_user *u, const command *cmd, int argc, const resp_arg *argv, int *pos);
/* The same for c's user; on a denial logs it (ACL LOG, INFO counters) with
 * the context, replies nothing. */
int acl_check_client(client *c, const command *cmd, int argc, const resp_arg *argv, int ctx);
/* The -NOPERM text for a denial at the top level (Redis's). */
const char *acl_denied_text(int reason, const command *cmd, char *buf, size_t size);
/* A denial to remember: ACL LOG entry and INFO counter; username NULL: c's
 * user. */
void acl_log_denial(client *c, int reason, int ctx, const char *object, size_t olen,
                    const char *username);
/* May u publish to / subscribe to this channel (pattern: a PSUBSCRIBE one)? */
int acl_channel_allowed(acl_user *u, const char *ch, size_t len, int is_pattern);
/* Key permission for callers that check a key found at run time (SORT BY/GET):
 * flags ACL_KEY_READ | ACL_KEY_WRITE. */
enum { ACL_KEY_READ = 1, ACL_KEY_WRITE = 2 };
int acl_key_allowed(acl_user *u, const char *key, size_t len, int flags);
/* Does every selector that allows cmd for u reach all keys with flags? (SORT
 * BY / GET patterns need unrestricted read access.) */
int acl_unrestricted_key_access(acl_user *u, const command *cmd, int argc, const resp_arg *argv,
                                int flags);

/* INFO stats: acl_access_denied_auth/cmd/key/channel (CONFIG RESETSTAT:
 * acl_stats_reset). */
void acl_info(sbuf *b);
void acl_stats_reset(void);

/* ---- for the ACL command family (commands/acl.c) --------------------------------- */
/* Configuration: aclfile (NULL/"" none), acl-pubsub-default (S_ALLCHANNELS
 * bit or 0), acllog-max-len. */
extern char *acl_filename;
extern int acl_pubsub_default;
extern long long acllog_max_len;
#define ACL_PUBSUB_ALLCHANNELS 4
/* ACL SETUSER name rules...: NULL, or the error text (caller frees). */
char *acl_set_user_rules(const char *name, size_t nlen, char **argv, int argc);
/* ACL DELUSER of one name: 1 if it existed (its clients are disconnected). */
int acl_delete_user(const char *name, size_t len);
/* The rules as ACL LIST prints them (owned by u, valid until u changes). */
const char *acl_describe_user(acl_user *u);
/* ACL GETUSER's reply for u. */
void acl_reply_user(client *c, acl_user *u);
/* Users in name order: the i-th (NULL past the end), their number. */
acl_user *acl_user_at(int i);
int acl_user_count(void);
/* ACL LOG: the newest count entries as the reply; RESET. */
void acl_log_reply(client *c, long count);
void acl_log_reset(void);
/* ACL LOAD (NULL, or the error text the caller frees; the old users stay on
 * error) and ACL SAVE (OK/ERR, details in the log). */
char *acl_load_file(const char *path);
int acl_save_file(const char *path);
/* CONFIG REWRITE: the users as `user` lines (when there is no aclfile). */
void acl_rewrite_users(sbuf *b);

/* ---- SQL table rules (copied for the store thread) ------------------------------- */
typedef struct acl_sql_rules acl_sql_rules;
/* A copy of u's SQL rules, NULL when u is not restricted (caller frees with
 * acl_sql_rules_free; usable on any thread). */
acl_sql_rules *acl_sql_rules_copy(const acl_user *u);
void acl_sql_rules_free(acl_sql_rules *r);
/* May the rules access table with access (ACL_KEY_READ | ACL_KEY_WRITE)? ddl:
 * the statement changes the schema. */
int acl_sql_rules_allow(const acl_sql_rules *r, const char *table, int access, int ddl);
#endif
