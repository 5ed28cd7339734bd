/* server/audit — the audit log, see audit.h.
 *
 * Invariants:
 *  1. fd >= 0 only while audit_path is set (the log is on).
 *  2. buf holds whole lines only, at most AUDIT_BUFFER_MAX bytes of them;
 *     an event that does not fit is counted in events_dropped, never cut.
 *  3. lost_unreported counts the events dropped since the last line that
 *     reached the file; the next successful write is preceded by one
 *     "audit" line that reports them.
 *  4. Nothing here stops the server or replies to a client. */
#include "server/acl.h"
#include "server/audit.h"
#include "server/hooks.h"
#include "server/server.h"
#include "util/clock.h"
#include "util/mem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char *audit_path;              /* audit-log; NULL: off */
static int audit_classes = AUDIT_ALL; /* audit-events */
static int fd = -1;
static sbuf buf;
static long long events_written, events_dropped, write_errors, lost_unreported;
static char last_error[256];
static int64_t last_error_ms, last_warned_ms;
static char last_reply_error[256]; /* the latest error reply's text */
static int shutdown_logged;

static const struct {
    const char *name;
    int bit;
} class_names[] = {{"auth", AUDIT_AUTH},   {"acl", AUDIT_ACL},           {"config", AUDIT_CONFIG},
                   {"ddl", AUDIT_DDL},     {"sql", AUDIT_SQL},           {"flush", AUDIT_FLUSH},
                   {"debug", AUDIT_DEBUG}, {"shutdown", AUDIT_SHUTDOWN}, {"denied", AUDIT_DENIED}};
#define NCLASSES (sizeof(class_names) / sizeof(class_names[0]))

static const char *class_name(int bit) {
    for (size_t i = 0; i < NCLASSES; i++)
        if (class_names[i].bit == bit) return class_names[i].name;
    return "audit";
}

/* The user a client acts as (a script's: its caller's). */
static const char *client_user(const client *c) {
    acl_user *u = c ? acl_client_user((client *)c) : NULL;
    return u ? acl_user_name(u) : "default";
}

int audit_wants(int classes) {
    return fd >= 0 && (audit_classes & classes);
}

/* ---- JSON ------------------------------------------------------------------------ */

/* A JSON string of at most max bytes of p (then "..."). Bytes outside
 * printable ASCII become \u00XX, one per byte, so any key or argument
 * gives valid JSON. */
static void json_str(sbuf *b, const char *p, size_t len, size_t max) {
    static const char hex[] = "0123456789abcdef";
    int cut = len > max;
    if (cut) len = max;
    sbuf_reserve(b, len + 8);
    sbuf_puts(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            sbuf_append(b, e, 2);
        } else if (ch < 0x20 || ch >= 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            sbuf_append(b, e, 6);
        } else {
            sbuf_append(b, &p[i], 1);
        }
    }
    sbuf_puts(b, cut ? "...\"" : "\"");
}

static void json_cstr(sbuf *b, const char *s) {
    json_str(b, s, strlen(s), 1024);
}

/* {"time":...,"class":...,"command":...,"user":...,"client":...,"client_id":N */
static void event_begin(sbuf *b, int cls, const client *c, const char *command) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[40];
    size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(t + n, sizeof t - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
    sbuf_printf(b, "{\"time\":\"%s\",\"class\":\"%s\",\"command\":", t, class_name(cls));
    json_cstr(b, command ? command : "");
    if (c && c->fd < 0 && c->script_caller) c = c->script_caller; /* a script's call */
    sbuf_puts(b, ",\"user\":");
    json_cstr(b, client_user(c));
    if (c) {
        sbuf_puts(b, ",\"client\":");
        json_cstr(b, c->fd >= 0 ? c->addr : "");
        sbuf_printf(b, ",\"client_id\":%llu", (unsigned long long)c->id);
    }
}

/* ,"outcome":...,"reason":...}\n, then the line joins the buffer. */
static void event_end(sbuf *b, const char *outcome, const char *reason) {
    sbuf_printf(b, ",\"outcome\":\"%s\"", outcome);
    if (reason) {
        sbuf_puts(b, ",\"reason\":");
        json_cstr(b, reason);
    }
    sbuf_puts(b, "}\n");
    if (buf.len + b->len > AUDIT_BUFFER_MAX) {
        events_dropped++;
        lost_unreported++;
    } else {
        sbuf_append(&buf, b->p, b->len);
    }
    sbuf_free(b);
}

/* ,"args":[...] of argv[from..argc), each shown by show (NULL: as is). */
static void json_args(sbuf *b, int argc, const resp_arg *argv, int from,
                      int (*redact)(int i, int argc, const resp_arg *argv)) {
    sbuf_puts(b, ",\"args\":[");
    for (int i = from; i < argc && i < from + 64; i++) {
        if (i > from) sbuf_puts(b, ",");
        if (redact && redact(i, argc, argv))
            sbuf_puts(b, "\"<redacted>\"");
        else
            json_str(b, argv[i].p, argv[i].len, 256);
    }
    sbuf_puts(b, "]");
}

/* ---- writing --------------------------------------------------------------------- */

static void note_write_error(int err) {
    write_errors++;
    snprintf(last_error, sizeof last_error, "%s", strerror(err));
    last_error_ms = clock_mstime();
    /* warn at the first failure, then at most once a minute */
    if (!last_warned_ms || last_error_ms - last_warned_ms >= 60000) {
        server_log(LL_WARNING, "Audit log %s: write failed: %s (%lld events lost so far)",
                   audit_path ? audit_path : "", last_error, events_dropped);
        last_warned_ms = last_error_ms;
    }
}

/* Writes b[0..len) whole; OK, or ERR with errno. */
static int write_all(const char *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return ERR;
        }
        p += n;
        len -= (size_t)n;
    }
    return OK;
}

void audit_flush(void) {
    if (fd < 0 || !buf.len) return;
    if (lost_unreported) {
        sbuf b = SBUF_INIT;
        event_begin(&b, 0, NULL, "audit-log");
        char why[400];
        snprintf(why, sizeof why, "%lld events lost: %s", lost_unreported, last_error);
        sbuf_printf(&b, ",\"lost\":%lld", lost_unreported);
        sbuf_printf(&b, ",\"outcome\":\"err\",\"reason\":");
        json_cstr(&b, why);
        sbuf_puts(&b, "}\n");
        if (write_all(b.p, b.len) == OK) {
            server_log(LL_NOTICE, "Audit log %s: writes work again after %lld lost events",
                       audit_path, lost_unreported);
            lost_unreported = 0;
            last_warned_ms = 0;
        }
        sbuf_free(&b);
    }
    long long lines = 0;
    for (size_t i = 0; i < buf.len; i++) lines += buf.p[i] == '\n';
    if (lost_unreported == 0 && write_all(buf.p, buf.len) == OK) {
        events_written += lines;
    } else {
        /* a part may have reached the file: counted lost all the same */
        note_write_error(errno ? errno : EIO);
        events_dropped += lines;
        lost_unreported += lines;
    }
    sbuf_clear(&buf);
}

static int open_log(const char *path, int *out, char **err) {
    int f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "can't open the audit log '%s': %s", path, strerror(errno));
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    *out = f;
    return OK;
}

/* audit-log changed (CONFIG SET): the new file replaces the old one. */
static int apply_path(char **err) {
    if (!server.loop) return OK; /* the config file: audit_start opens it */
    audit_flush();
    int nfd = -1;
    if (audit_path && open_log(audit_path, &nfd, err) != OK) return ERR;
    if (fd >= 0) close(fd);
    fd = nfd;
    if (fd < 0) sbuf_clear(&buf);
    return OK;
}

int audit_start(char **err) {
    if (!audit_path) return OK;
    return open_log(audit_path, &fd, err);
}

void audit_reopen(void) {
    if (fd < 0) return;
    audit_flush();
    char *err = NULL;
    int nfd = -1;
    if (open_log(audit_path, &nfd, &err) != OK) {
        /* keep writing to the old file: nothing is lost */
        snprintf(last_error, sizeof last_error, "%s", err);
        last_error_ms = clock_mstime();
        server_log(LL_WARNING, "Audit log: reopen failed, still writing the old file: %s", err);
        xfree(err);
        return;
    }
    close(fd);
    fd = nfd;
    server_log(LL_NOTICE, "Audit log %s reopened", audit_path);
}

/* ---- configuration ------------------------------------------------------------------ */

static int set_classes(const char *val, char **err) {
    int bits = 0;
    const char *p = val;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, " ,");
        if (!n) break;
        int bit = -1;
        if (n == 3 && !strncasecmp(p, "all", 3)) bit = AUDIT_ALL;
        if (n == 4 && !strncasecmp(p, "none", 4)) bit = 0;
        for (size_t i = 0; bit < 0 && i < NCLASSES; i++)
            if (strlen(class_names[i].name) == n && !strncasecmp(p, class_names[i].name, n))
                bit = class_names[i].bit;
        if (bit < 0) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b,
                        "unknown audit event class '%.*s' (classes: auth acl config ddl sql "
                        "flush debug shutdown denied, or all, none)",
                        (int)n, p);
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
        bits |= bit;
        p += n;
    }
    audit_classes = bits;
    return OK;
}

static void get_classes(sbuf *out) {
    if (audit_classes == AUDIT_ALL) {
        sbuf_puts(out, "all");
        return;
    }
    if (!audit_classes) sbuf_puts(out, "none");
    int first = 1;
    for (size_t i = 0; i < NCLASSES; i++)
        if (audit_classes & class_names[i].bit) {
            sbuf_printf(out, "%s%s", first ? "" : " ", class_names[i].name);
            first = 0;
        }
}

static config_directive audit_rows[] = {
    {.name = "audit-log", .type = CT_STRING, .ptr = &audit_path, .apply = apply_path},
    CONFIG_SPECIAL("audit-events", "all", set_classes, get_classes),
    {.name = NULL}};

void audit_register_config(void) {
    config_register(audit_rows);
}

void audit_info(sbuf *out) {
    sbuf_printf(out,
                "# Audit\r\naudit_enabled:%d\r\naudit_log:%s\r\naudit_events_written:%lld\r\n"
                "audit_events_dropped:%lld\r\naudit_write_errors:%lld\r\naudit_last_error:%s\r\n"
                "audit_last_error_time:%lld\r\naudit_buffer_bytes:%zu\r\n",
                fd >= 0, audit_path ? audit_path : "", events_written, events_dropped, write_errors,
                last_error, (long long)(last_error_ms / 1000), buf.len);
}

/* ---- events ------------------------------------------------------------------------ */

void audit_note_error(const char *msg) {
    if (fd < 0) return;
    size_t n = strcspn(msg, "\r\n");
    if (n >= sizeof last_reply_error) n = sizeof last_reply_error - 1;
    memcpy(last_reply_error, msg, n);
    last_reply_error[n] = '\0';
}

/* HELLO's AUTH argument, or -1. */
static int hello_auth_at(const client *c) {
    for (int j = 2; j + 2 < c->argc; j++)
        if (arg_is(&c->argv[j], "auth")) return j;
    return -1;
}

int audit_command_class(const client *c, const command *cmd) {
    if (fd < 0) return 0;
    const char *n = cmd->fullname;
    int cls = 0;
    if (!strcmp(n, "auth") || (!strcmp(n, "hello") && hello_auth_at(c) >= 0))
        cls = AUDIT_AUTH;
    else if (!strcmp(n, "acl|setuser") || !strcmp(n, "acl|deluser") || !strcmp(n, "acl|load") ||
             !strcmp(n, "acl|save") ||
             (!strcmp(n, "acl|log") && c->argc == 3 && arg_is(&c->argv[2], "reset")))
        cls = AUDIT_ACL;
    else if (!strcmp(n, "config|set") || !strcmp(n, "config|rewrite"))
        cls = AUDIT_CONFIG;
    else if (!strcmp(n, "flushall") || !strcmp(n, "flushdb"))
        cls = AUDIT_FLUSH;
    else if (!strcmp(n, "debug"))
        cls = AUDIT_DEBUG;
    else if (!strcmp(n, "shutdown"))
        cls = AUDIT_SHUTDOWN;
    else if (!strcmp(n, "sql.exec"))
        cls = AUDIT_SQL | AUDIT_DDL; /* which one: known from the statement */
    return (cls & audit_classes) ? cls : 0;
}

/* CONFIG SET values of parameters named like a secret. */
static int redact_config_value(int i, int argc, const resp_arg *argv) {
    (void)argc;
    if ((i - 2) % 2 == 0) return 0; /* a name */
    const char *name = argv[i - 1].p;
    return strcasestr(name, "pass") || strcasestr(name, "auth") || strcasestr(name, "secret");
}

/* ACL SETUSER rules that carry a password or its hash: >pass <pass #hash !hash */
static int redact_acl_rule(int i, int argc, const resp_arg *argv) {
    (void)argc;
    const resp_arg *a = &argv[i];
    return i >= 3 && a->len &&
           (a->p[0] == '>' || a->p[0] == '<' || a->p[0] == '#' || a->p[0] == '!');
}

void audit_acl_change(client *c, int argc, const resp_arg *argv, int ok, const char *reason) {
    if (!audit_wants(AUDIT_ACL)) return;
    sbuf b = SBUF_INIT;
    char name[64] = "acl";
    if (argc >= 2) snprintf(name, sizeof name, "acl|%.*s", (int)argv[1].len, argv[1].p);
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    event_begin(&b, AUDIT_ACL, c, name);
    json_args(&b, argc, argv, 2, redact_acl_rule);
    event_end(&b, ok ? "ok" : "err", ok ? NULL : reason);
}

static void auth_event(client *c, const command *cmd, int failed) {
    const resp_arg *user = NULL;
    if (!strcmp(cmd->fullname, "auth")) {
        if (c->argc == 3) user = &c->argv[1];
    } else {
        user = &c->argv[hello_auth_at(c) + 1];
    }
    sbuf b = SBUF_INIT;
    event_begin(&b, AUDIT_AUTH, c, cmd->fullname);
    sbuf_puts(&b, ",\"auth_user\":");
    if (user)
        json_str(&b, user->p, user->len, 128);
    else
        json_cstr(&b, "default");
    event_end(&b, failed ? "err" : "ok", failed ? last_reply_error : NULL);
}

/* Does the statement text create, drop or alter something? (a statement
 * starts the text or follows a ';'; leading spaces and comments skipped) */
static int sql_is_ddl(const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                           s[i] == ';' || s[i] == '('))
            i++;
        if (i + 1 < len && s[i] == '-' && s[i + 1] == '-') {
            while (i < len && s[i] != '\n') i++;
            continue;
        }
        if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
            const char *e = memmem(s + i + 2, len - i - 2, "*/", 2);
            i = e ? (size_t)(e - s) + 2 : len;
            continue;
        }
        static const char *const kw[] = {"create", "drop", "alter"};
        for (size_t k = 0; k < 3; k++) {
            size_t n = strlen(kw[k]);
            if (len - i >= n && !strncasecmp(s + i, kw[k], n) &&
                (len - i == n || !((s[i + n] | 32) >= 'a' && (s[i + n] | 32) <= 'z')))
                return 1;
        }
        /* skip to the next statement (quotes hold no ';' of ours) */
        char q = 0;
        for (; i < len; i++) {
            if (q) {
                if (s[i] == q) q = 0;
            } else if (s[i] == '\'' || s[i] == '"') {
                q = s[i];
            } else if (s[i] == ';') {
                break;
            }
        }
    }
    return 0;
}

void audit_sql(client *c, uint64_t client_id, const char *addr, const char *sql, size_t len,
               int nparams, int ok, const char *reason) {
    int cls = sql_is_ddl(sql, len) ? AUDIT_DDL : AUDIT_SQL;
    if (!audit_wants(cls)) return;
    sbuf b = SBUF_INIT;
    event_begin(&b, cls, c, "sql.exec");
    if (!c) {
        sbuf_puts(&b, ",\"client\":");
        json_cstr(&b, addr ? addr : "");
        sbuf_printf(&b, ",\"client_id\":%llu", (unsigned long long)client_id);
    }
    sbuf_puts(&b, ",\"sql\":");
    json_str(&b, sql, len, 1024);
    sbuf_printf(&b, ",\"params\":%d", nparams);
    event_end(&b, ok ? "ok" : "err", ok ? NULL : reason);
}

void audit_command_done(client *c, const command *cmd, int cls, int failed) {
    if (fd < 0) return;
    const char *reason = failed ? last_reply_error : NULL;
    if (cls == AUDIT_AUTH) {
        auth_event(c, cmd, failed);
        return;
    }
    if (cls == AUDIT_ACL) {
        audit_acl_change(c, c->argc, c->argv, !failed, reason);
        return;
    }
    if (cls == (AUDIT_SQL | AUDIT_DDL)) {
        /* parked on the store: persistence reports it when it is done */
        if ((c->flags & CLIENT_BLOCKED) && c->bstate.type == BLOCKED_STORE) return;
        audit_sql(c, c->id, c->addr, c->argv[1].p, c->argv[1].len, c->argc - 2, !failed, reason);
        return;
    }
    sbuf b = SBUF_INIT;
    event_begin(&b, cls, c, cmd->fullname);
    json_args(&b, c->argc, c->argv, cmd->parent ? 2 : 1,
              cls == AUDIT_CONFIG ? redact_config_value : NULL);
    if (cls == AUDIT_FLUSH) sbuf_printf(&b, ",\"db\":%d", c->db ? c->db->id : 0);
    if (cls == AUDIT_SHUTDOWN && !failed) shutdown_logged = 1;
    event_end(&b, failed ? "err" : "ok", reason);
}

void audit_denied(client *c, const char *reason) {
    if (!audit_wants(AUDIT_DENIED)) return;
    if (c && c->audit_denied_logged >= AUDIT_DENIED_PER_CLIENT) {
        c->audit_denied_unlogged++;
        return;
    }
    if (c) c->audit_denied_logged++;
    sbuf b = SBUF_INIT;
    const char *name = "";
    if (c && c->argc > 0 && c->cmd) name = c->cmd->fullname;
    event_begin(&b, AUDIT_DENIED, c, name);
    event_end(&b, "denied", reason);
}

void audit_client_freed(client *c) {
    if (!c->audit_denied_unlogged || !audit_wants(AUDIT_DENIED)) return;
    sbuf b = SBUF_INIT;
    char why[128];
    snprintf(why, sizeof why, "%llu more denied commands on this connection were not logged",
             c->audit_denied_unlogged);
    event_begin(&b, AUDIT_DENIED, c, "");
    sbuf_printf(&b, ",\"count\":%llu", c->audit_denied_unlogged);
    event_end(&b, "denied", why);
}

void audit_shutdown(const char *why) {
    if (fd < 0) return;
    if (!shutdown_logged && audit_wants(AUDIT_SHUTDOWN)) {
        sbuf b = SBUF_INIT;
        event_begin(&b, AUDIT_SHUTDOWN, NULL, "");
        event_end(&b, "ok", why);
    }
    audit_flush();
    close(fd);
    fd = -1;
}
