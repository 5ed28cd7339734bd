/* server/acl — users, selectors and their checks (Redis 7.0's ACL), plus the
 * SQL table rules Larder adds. The ACL commands' handlers are in
 * commands/acl.c; acl.h describes the model.
 *
 * Invariants:
 *  1. users[] is sorted by name (byte order, as Redis lists them); the default
 *     user is always in it and is never freed or replaced: ACL LOAD copies the
 *     new definition into it, so client.user pointers to it stay valid.
 *  2. Every user has at least one selector, the root selector, first.
 *  3. A selector's command bitmap has one bit per command id plus the
 *     "future commands" bit (index server.command_count), set only by
 *     +@all / allcommands: it tells "+@all minus ..." from "-@all plus ...".
 *  4. Rules are applied to a copy of the user; the user changes only when
 *     every rule was valid (ACL SETUSER is all or nothing).
 *  5. acl_fast_user == the default user iff it may run everything. */
#include "server/acl.h"
#include "server/audit.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "util/clock.h"
#include "util/mem.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { U_ENABLED = 1, U_DISABLED = 2, U_NOPASS = 4, U_SKIP_SANITIZE = 8, U_SANITIZE = 16 };
enum { S_ROOT = 1, S_ALLKEYS = 2, S_ALLCHANNELS = 4, S_ALLCOMMANDS = 8 };
#define HASH_LEN 64

typedef struct pattern {
    char *p;
    size_t len;
    int flags; /* keys and SQL tables: ACL_KEY_READ | ACL_KEY_WRITE */
} pattern;

typedef struct firstarg {
    int id;
    char *arg;
} firstarg;

typedef struct selector {
    int flags;
    uint64_t *bits;
    firstarg *fa; /* +cmd|arg for commands without subcommands */
    int nfa;
    pattern *keys;
    int nkeys;
    pattern *chans;
    int nchans;
} selector;

struct acl_user {
    char *name;
    int flags;
    char (*pass)[HASH_LEN + 1];
    int npass;
    selector **sel;
    int nsel;
    pattern *sql; /* SQL table rules; sql_restricted: at least one rule given */
    int nsql, sql_ddl, sql_restricted;
    char *desc; /* cached ACL LIST text, NULL when stale */
};

struct acl_sql_rules {
    pattern *v;
    int n, ddl;
};

typedef struct log_entry {
    long long count;
    int reason, ctx;
    char *object, *username, *cinfo;
    int64_t ctime;
} log_entry;

acl_user *acl_fast_user;
static acl_user **users;
static int nusers;
static acl_user *default_user;
static log_entry **alog; /* newest first */
static int nlog;
static long long denied[6]; /* by reason */
/* `user` lines of the configuration, applied at start-up: word arrays */
static char ***conf_users;
static int nconf_users;

char *acl_filename;
int acl_pubsub_default = 0; /* S_ALLCHANNELS or 0 (resetchannels) */
long long acllog_max_len = 128;

static int nwords(void) {
    return (server.command_count + 1 + 63) / 64;
}

/* ---- small helpers ------------------------------------------------------------------ */

static int has_spaces(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]) || s[i] == 0) return 1;
    return 0;
}

static void hash_password(const char *p, size_t len, char out[HASH_LEN + 1]) {
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(p, len, h, &hl, EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[i * 2] = hex[h[i] >> 4];
        out[i * 2 + 1] = hex[h[i] & 15];
    }
    out[HASH_LEN] = 0;
}

static int valid_hash(const char *p, size_t len) {
    if (len != HASH_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'f') || (p[i] >= '0' && p[i] <= '9'))) return 0;
    return 1;
}

static void pattern_add(pattern **v, int *n, const char *p, size_t len, int flags) {
    for (int i = 0; i < *n; i++)
        if ((*v)[i].len == len && memcmp((*v)[i].p, p, len) == 0) {
            (*v)[i].flags |= flags;
            return;
        }
    *v = xrealloc(*v, sizeof(pattern) * (size_t)(*n + 1));
    (*v)[*n].p = xmalloc(len + 1);
    memcpy((*v)[*n].p, p, len);
    (*v)[*n].p[len] = 0;
    (*v)[*n].len = len;
    (*v)[*n].flags = flags;
    (*n)++;
}

static void patterns_clear(pattern **v, int *n) {
    for (int i = 0; i < *n; i++) xfree((*v)[i].p);
    xfree(*v);
    *v = NULL;
    *n = 0;
}

static void patterns_copy(pattern **dst, int *dn, const pattern *src, int sn) {
    for (int i = 0; i < sn; i++) pattern_add(dst, dn, src[i].p, src[i].len, src[i].flags);
}

static char *dupn(const char *p, size_t len) {
    char *s = xmalloc(len + 1);
    memcpy(s, p, len);
    s[len] = 0;
    return s;
}

/* ---- selectors ---------------------------------------------------------------------- */

static selector *selector_new(int flags) {
    selector *s = xcalloc(1, sizeof(*s));
    s->flags = flags | acl_pubsub_default;
    s->bits = xcalloc((size_t)nwords(), sizeof(uint64_t));
    return s;
}

static void firstargs_clear(selector *s, int id) {
    int k = 0;
    for (int i = 0; i < s->nfa; i++) {
        if (id < 0 || s->fa[i].id == id)
            xfree(s->fa[i].arg);
        else
            s->fa[k++] = s->fa[i];
    }
    s->nfa = k;
    if (!k) {
        xfree(s->fa);
        s->fa = NULL;
    }
}

static void selector_free(selector *s) {
    if (!s) return;
    xfree(s->bits);
    firstargs_clear(s, -1);
    patterns_clear(&s->keys, &s->nkeys);
    patterns_clear(&s->chans, &s->nchans);
    xfree(s);
}

static selector *selector_copy(const selector *src) {
    selector *s = xcalloc(1, sizeof(*s));
    s->flags = src->flags;
    s->bits = xmalloc(sizeof(uint64_t) * (size_t)nwords());
    memcpy(s->bits, src->bits, sizeof(uint64_t) * (size_t)nwords());
    for (int i = 0; i < src->nfa; i++) {
        s->fa = xrealloc(s->fa, sizeof(firstarg) * (size_t)(s->nfa + 1));
        s->fa[s->nfa++] = (firstarg){src->fa[i].id, xstrdup(src->fa[i].arg)};
    }
    patterns_copy(&s->keys, &s->nkeys, src->keys, src->nkeys);
    patterns_copy(&s->chans, &s->nchans, src->chans, src->nchans);
    return s;
}

static int get_bit(const selector *s, int id) {
    return (s->bits[id / 64] >> (id % 64)) & 1;
}

static void set_bit(selector *s, int id, int on) {
    if (on) {
        s->bits[id / 64] |= 1ULL << (id % 64);
    } else {
        s->bits[id / 64] &= ~(1ULL << (id % 64));
        s->flags &= ~S_ALLCOMMANDS;
    }
}

/* Redis's ACLChangeSelectorPerm: the command and all its subcommands. */
static void change_perm(selector *s, const command *cmd, int allow) {
    set_bit(s, cmd->id, allow);
    firstargs_clear(s, cmd->id);
    for (const command *sc = cmd->subcommands; sc && sc->name; sc++) set_bit(s, sc->id, allow);
}

static void set_category(selector *s, uint64_t cat, int allow) {
    for (const command *c = command_table; c->name; c++) {
        if (c->acl_bits & cat) change_perm(s, c, allow);
        for (const command *sc = c->subcommands; sc && sc->name; sc++)
            if (sc->acl_bits & cat) change_perm(s, sc, allow);
    }
}

static void count_category(const selector *s, uint64_t cat, unsigned long *on, unsigned long *off) {
    *on = *off = 0;
    for (const command *c = command_table; c->name; c++) {
        if (c->acl_bits & cat) get_bit(s, c->id) ? (*on)++ : (*off)++;
        for (const command *sc = c->subcommands; sc && sc->name; sc++)
            if (sc->acl_bits & cat) get_bit(s, sc->id) ? (*on)++ : (*off)++;
    }
}

static void add_firstarg(selector *s, int id, const char *arg) {
    for (int i = 0; i < s->nfa; i++)
        if (s->fa[i].id == id && strcasecmp(s->fa[i].arg, arg) == 0) return;
    s->fa = xrealloc(s->fa, sizeof(firstarg) * (size_t)(s->nfa + 1));
    s->fa[s->nfa++] = (firstarg){id, xstrdup(arg)};
}

static int set_all_commands(selector *s, int on) {
    memset(s->bits, on ? 0xff : 0, sizeof(uint64_t) * (size_t)nwords());
    if (on)
        s->flags |= S_ALLCOMMANDS;
    else
        s->flags &= ~S_ALLCOMMANDS;
    firstargs_clear(s, -1);
    return OK;
}

static int set_key_pattern(selector *s, const char *op, size_t len) {
    if (s->flags & S_ALLKEYS) {
        errno = EEXIST;
        return ERR;
    }
    int flags = 0;
    size_t off = 1;
    if (op[0] == '%') {
        for (; off < len; off++) {
            int ch = toupper((unsigned char)op[off]);
            if (ch == 'R' && !(flags & ACL_KEY_READ)) {
                flags |= ACL_KEY_READ;
            } else if (ch == 'W' && !(flags & ACL_KEY_WRITE)) {
                flags |= ACL_KEY_WRITE;
            } else if (op[off] == '~') {
                off++;
                break;
            } else {
                errno = EINVAL;
                return ERR;
            }
        }
    } else {
        flags = ACL_KEY_READ | ACL_KEY_WRITE;
    }
    if (has_spaces(op + off, len - off)) {
        errno = EINVAL;
        return ERR;
    }
    pattern_add(&s->keys, &s->nkeys, op + off, len - off, flags);
    s->flags &= ~S_ALLKEYS;
    return OK;
}

static int set_channel_pattern(selector *s, const char *op, size_t len) {
    if (s->flags & S_ALLCHANNELS) {
        errno = EISDIR;
        return ERR;
    }
    if (has_spaces(op + 1, len - 1)) {
        errno = EINVAL;
        return ERR;
    }
    pattern_add(&s->chans, &s->nchans, op + 1, len - 1, 0);
    s->flags &= ~S_ALLCHANNELS;
    return OK;
}

/* +cmd, +cmd|sub, +cmd|firstarg */
static int allow_command(selector *s, const char *name) {
    const char *bar = strrchr(name, '|');
    if (!bar) {
        const command *cmd = command_lookup_name(name, strlen(name));
        if (!cmd) {
            errno = ENOENT;
            return ERR;
        }
        change_perm(s, cmd, 1);
        return OK;
    }
    const command *cmd = command_lookup_name(name, (size_t)(bar - name));
    if (!cmd) {
        errno = ENOENT;
        return ERR;
    }
    if (cmd->parent) {
        errno = ECHILD;
        return ERR;
    }
    if (!bar[1]) {
        errno = EINVAL;
        return ERR;
    }
    if (cmd->subcommands) {
        const command *sub = command_lookup_name(name, strlen(name));
        if (!sub) {
            errno = ENOENT;
            return ERR;
        }
        change_perm(s, sub, 1);
        return OK;
    }
    server_log(LL_WARNING,
               "Deprecation warning: Allowing a first arg of an otherwise blocked command is a "
               "misuse of ACL and may get disabled in the future (offender: +%s)",
               name);
    add_firstarg(s, cmd->id, bar + 1);
    return OK;
}

/* One rule on a selector (op is NUL-terminated, len bytes). */
static int selector_set(selector *s, const char *op, size_t len) {
    if (!strcasecmp(op, "allkeys") || !strcmp(op, "~*")) {
        s->flags |= S_ALLKEYS;
        patterns_clear(&s->keys, &s->nkeys);
    } else if (!strcasecmp(op, "resetkeys")) {
        s->flags &= ~S_ALLKEYS;
        patterns_clear(&s->keys, &s->nkeys);
    } else if (!strcasecmp(op, "allchannels") || !strcmp(op, "&*")) {
        s->flags |= S_ALLCHANNELS;
        patterns_clear(&s->chans, &s->nchans);
    } else if (!strcasecmp(op, "resetchannels")) {
        s->flags &= ~S_ALLCHANNELS;
        patterns_clear(&s->chans, &s->nchans);
    } else if (!strcasecmp(op, "allcommands") || !strcasecmp(op, "+@all")) {
        return set_all_commands(s, 1);
    } else if (!strcasecmp(op, "nocommands") || !strcasecmp(op, "-@all")) {
        return set_all_commands(s, 0);
    } else if (op[0] == '~' || op[0] == '%') {
        return set_key_pattern(s, op, len);
    } else if (op[0] == '&') {
        return set_channel_pattern(s, op, len);
    } else if (op[0] == '+' && op[1] != '@') {
        return allow_command(s, op + 1);
    } else if (op[0] == '-' && op[1] != '@') {
        const command *cmd = command_lookup_name(op + 1, len - 1);
        if (!cmd) {
            errno = ENOENT;
            return ERR;
        }
        change_perm(s, cmd, 0);
    } else if ((op[0] == '+' || op[0] == '-') && op[1] == '@') {
        int b = acl_category_bit(op + 2, len - 2);
        if (b < 0) {
            errno = ENOENT;
            return ERR;
        }
        set_category(s, 1ULL << b, op[0] == '+');
    } else {
        errno = EINVAL;
        return ERR;
    }
    return OK;
}

/* "(rule rule ...)": a new selector, NULL on a bad rule (errno set). */
static selector *selector_from_set(const char *op, size_t len) {
    selector *s = selector_new(0);
    char *copy = xmalloc(len);
    memcpy(copy, op + 1, len - 2);
    copy[len - 2] = 0;
    resp_arg *argv = NULL;
    int cap = 0, argc = 0;
    if (resp_split_args(copy, len - 2, &argv, &cap, &argc) < 0) {
        errno = EINVAL;
        selector_free(s);
        s = NULL;
    }
    for (int i = 0; s && i < argc; i++)
        if (selector_set(s, argv[i].p, argv[i].len) != OK) {
            selector_free(s);
            s = NULL;
        }
    xfree(argv);
    xfree(copy);
    return s;
}

/* ---- users -------------------------------------------------------------------------- */

static acl_user *user_new(const char *name, size_t len) {
    acl_user *u = xcalloc(1, sizeof(*u));
    u->name = xmalloc(len + 1);
    memcpy(u->name, name, len);
    u->name[len] = 0;
    u->flags = U_DISABLED;
    u->sel = xmalloc(sizeof(selector *));
    u->sel[0] = selector_new(S_ROOT);
    u->nsel = 1;
    return u;
}

static void user_clear(acl_user *u) {
    for (int i = 0; i < u->nsel; i++) selector_free(u->sel[i]);
    xfree(u->sel);
    u->sel = NULL;
    u->nsel = 0;
    xfree(u->pass);
    u->pass = NULL;
    u->npass = 0;
    patterns_clear(&u->sql, &u->nsql);
    xfree(u->desc);
    u->desc = NULL;
}

static void user_free(acl_user *u) {
    if (!u) return;
    user_clear(u);
    xfree(u->name);
    xfree(u);
}

/* dst takes src's definition (not its name). */
static void user_copy(acl_user *dst, const acl_user *src) {
    user_clear(dst);
    dst->flags = src->flags;
    dst->npass = src->npass;
    dst->pass = xmalloc(sizeof(*dst->pass) * (size_t)(src->npass ? src->npass : 1));
    if (src->npass) memcpy(dst->pass, src->pass, sizeof(*dst->pass) * (size_t)src->npass);
    dst->nsel = src->nsel;
    dst->sel = xmalloc(sizeof(selector *) * (size_t)src->nsel);
    for (int i = 0; i < src->nsel; i++) dst->sel[i] = selector_copy(src->sel[i]);
    patterns_copy(&dst->sql, &dst->nsql, src->sql, src->nsql);
    dst->sql_ddl = src->sql_ddl;
    dst->sql_restricted = src->sql_restricted;
}

static int find_index(acl_user **v, int n, const char *name, size_t len, int *found) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        size_t ml = strlen(v[mid]->name);
        int c = memcmp(v[mid]->name, name, ml < len ? ml : len);
        if (!c) c = ml < len ? -1 : ml > len ? 1 : 0;
        if (!c) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void set_insert(acl_user ***v, int *n, acl_user *u) {
    int found;
    int at = find_index(*v, *n, u->name, strlen(u->name), &found);
    *v = xrealloc(*v, sizeof(acl_user *) * (size_t)(*n + 1));
    memmove(*v + at + 1, *v + at, sizeof(acl_user *) * (size_t)(*n - at));
    (*v)[at] = u;
    (*n)++;
}

acl_user *acl_user_find(const char *name, size_t len) {
    int found;
    int at = find_index(users, nusers, name, len, &found);
    return found ? users[at] : NULL;
}

acl_user *acl_default_user(void) {
    return default_user;
}

const char *acl_user_name(const acl_user *u) {
    return u ? u->name : "default";
}

static void password_add(acl_user *u, const char *hash) {
    for (int i = 0; i < u->npass; i++)
        if (!strcmp(u->pass[i], hash)) return;
    u->pass = xrealloc(u->pass, sizeof(*u->pass) * (size_t)(u->npass + 1));
    memcpy(u->pass[u->npass++], hash, HASH_LEN + 1);
}

static int password_op(acl_user *u, const char *op, size_t len) {
    char h[HASH_LEN + 1];
    if (op[0] == '>' || op[0] == '<') {
        hash_password(op + 1, len - 1, h);
    } else {
        if (!valid_hash(op + 1, len - 1)) {
            errno = EBADMSG;
            return ERR;
        }
        memcpy(h, op + 1, HASH_LEN);
        h[HASH_LEN] = 0;
    }
    if (op[0] == '>' || op[0] == '#') {
        password_add(u, h);
        u->flags &= ~U_NOPASS;
        return OK;
    }
    for (int i = 0; i < u->npass; i++)
        if (!strcmp(u->pass[i], h)) {
            memmove(u->pass + i, u->pass + i + 1, sizeof(*u->pass) * (size_t)(u->npass - i - 1));
            u->npass--;
            return OK;
        }
    errno = ENODEV;
    return ERR;
}

/* %sql:R~pattern, %sql:W~..., %sql:RW~..., %sql:ddl */
static int sql_rule(acl_user *u, const char *op, size_t len) {
    const char *p = op + 5;
    size_t n = len - 5;
    if (n == 3 && strncasecmp(p, "ddl", 3) == 0) {
        u->sql_ddl = 1;
        u->sql_restricted = 1;
        return OK;
    }
    int flags = 0;
    size_t i = 0;
    for (; i < n && p[i] != '~'; i++) {
        int ch = toupper((unsigned char)p[i]);
        if (ch == 'R' && !(flags & ACL_KEY_READ))
            flags |= ACL_KEY_READ;
        else if (ch == 'W' && !(flags & ACL_KEY_WRITE))
            flags |= ACL_KEY_WRITE;
        else
            break;
    }
    if (i == n || p[i] != '~' || !flags || i + 1 == n || has_spaces(p + i + 1, n - i - 1)) {
        errno = EINVAL;
        return ERR;
    }
    pattern_add(&u->sql, &u->nsql, p + i + 1, n - i - 1, flags);
    u->sql_restricted = 1;
    return OK;
}

static int user_set(acl_user *u, const char *op, size_t len);

static int user_reset(acl_user *u) {
    static const char *const ops[] = {"resetpass", "resetkeys",        "resetchannels",  "off",
                                      "resetsql",  "sanitize-payload", "clearselectors", "-@all"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        user_set(u, ops[i], strlen(ops[i]));
        if (i == 2 && (acl_pubsub_default & S_ALLCHANNELS)) user_set(u, "allchannels", 11);
    }
    return OK;
}

/* One rule on a user (op NUL-terminated). ERR with errno for the message. */
static int user_set(acl_user *u, const char *op, size_t len) {
    xfree(u->desc);
    u->desc = NULL;
    if (len == 0) return OK;
    if (!strcasecmp(op, "on")) {
        u->flags = (u->flags | U_ENABLED) & ~U_DISABLED;
    } else if (!strcasecmp(op, "off")) {
        u->flags = (u->flags | U_DISABLED) & ~U_ENABLED;
    } else if (!strcasecmp(op, "skip-sanitize-payload")) {
        u->flags = (u->flags | U_SKIP_SANITIZE) & ~U_SANITIZE;
    } else if (!strcasecmp(op, "sanitize-payload")) {
        u->flags = (u->flags | U_SANITIZE) & ~U_SKIP_SANITIZE;
    } else if (!strcasecmp(op, "nopass")) {
        u->flags |= U_NOPASS;
        u->npass = 0;
    } else if (!strcasecmp(op, "resetpass")) {
        u->flags &= ~U_NOPASS;
        u->npass = 0;
    } else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
        return password_op(u, op, len);
    } else if (op[0] == '(' && op[len - 1] == ')') {
        selector *s = selector_from_set(op, len);
        if (!s) return ERR;
        u->sel = xrealloc(u->sel, sizeof(selector *) * (size_t)(u->nsel + 1));
        u->sel[u->nsel++] = s;
    } else if (!strcasecmp(op, "clearselectors")) {
        for (int i = 1; i < u->nsel; i++) selector_free(u->sel[i]);
        u->nsel = 1;
    } else if (!strcasecmp(op, "reset")) {
        return user_reset(u);
    } else if (!strcasecmp(op, "resetsql")) {
        patterns_clear(&u->sql, &u->nsql);
        u->sql_ddl = u->sql_restricted = 0;
    } else if (len > 5 && strncasecmp(op, "%sql:", 5) == 0) {
        return sql_rule(u, op, len);
    } else {
        return selector_set(u->sel[0], op, len);
    }
    return OK;
}

static const char *set_error_text(void) {
    switch (errno) {
    case ENOENT:
        return "Unknown command or category name in ACL";
    case EINVAL:
        return "Syntax error";
    case EEXIST:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
               "does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    case EISDIR:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and "
               "does not have any effect. Try 'resetchannels' to start with an empty list of "
               "channels";
    case ENODEV:
        return "The password you are trying to remove from the user does not exist";
    case EBADMSG:
        return "The password hash must be exactly 64 characters and contain only lowercase "
               "hexadecimal characters";
    case EALREADY:
        return "Duplicate user found. A user can only be defined once in config files";
    case ECHILD:
        return "Allowing first-arg of a subcommand is not supported";
    default:
        return "Wrong format";
    }
}

/* Redis's ACLMergeSelectorArguments: words of one "(...)" joined. NULL with
 * *bad the index of the unclosed "(". The caller frees each word and v. */
static char **merge_selector_args(char **argv, int argc, int *n, int *bad) {
    char **v = xcalloc((size_t)(argc ? argc : 1), sizeof(char *));
    sbuf open = SBUF_INIT;
    int start = -1;
    *n = 0;
    for (int j = 0; j < argc; j++) {
        const char *op = argv[j];
        size_t l = strlen(op);
        if (op[0] == '(' && op[l ? l - 1 : 0] != ')') {
            sbuf_clear(&open);
            sbuf_append(&open, op, l);
            start = j;
            continue;
        }
        if (start != -1) {
            sbuf_printf(&open, " %s", op);
            if (l && op[l - 1] == ')') {
                start = -1;
                v[(*n)++] = sbuf_take(&open, NULL);
            }
            continue;
        }
        v[(*n)++] = xstrdup(op);
    }
    if (start != -1) {
        for (int i = 0; i < *n; i++) xfree(v[i]);
        xfree(v);
        sbuf_free(&open);
        if (bad) *bad = start;
        return NULL;
    }
    sbuf_free(&open);
    return v;
}

static void free_words(char **v, int n) {
    for (int i = 0; i < n; i++) xfree(v[i]);
    xfree(v);
}

static void recompute_fast_user(void);
static void kill_pubsub_clients_if_needed(acl_user *next, acl_user *orig);

/* ACL SETUSER's core: applies the rules to a copy, then to u (created when
 * NULL). Returns NULL, or the error text (caller frees). */
char *acl_set_user_rules(const char *name, size_t nlen, char **argv, int argc) {
    int n = 0, bad = 0;
    char **ops = merge_selector_args(argv, argc, &n, &bad);
    sbuf e = SBUF_INIT;
    if (!ops) {
        sbuf_printf(&e, "Unmatched parenthesis in acl selector starting at '%s'.", argv[bad]);
        return sbuf_take(&e, NULL);
    }
    acl_user *u = acl_user_find(name, nlen);
    acl_user *tmp = user_new("", 0);
    if (u) user_copy(tmp, u);
    for (int j = 0; j < n; j++)
        if (user_set(tmp, ops[j], strlen(ops[j])) != OK) {
            sbuf_printf(&e, "Error in ACL SETUSER modifier '%s': %s", ops[j], set_error_text());
            goto done;
        }
    if (u) kill_pubsub_clients_if_needed(tmp, u);
    if (!u) {
        u = user_new(name, nlen);
        set_insert(&users, &nusers, u);
    }
    user_copy(u, tmp);
    recompute_fast_user();
done:
    user_free(tmp);
    free_words(ops, n);
    return e.p ? sbuf_take(&e, NULL) : NULL;
}

/* ---- describing ------------------------------------------------------------------------ */

static void describe_single_commands(const selector *s, selector *fake, sbuf *b,
                                     const command *list, int is_sub) {
    for (const command *c = list; c->name; c++) {
        int ub = get_bit(s, c->id), fb = get_bit(fake, c->id);
        if (ub != fb) {
            sbuf_printf(b, "%c%s ", ub ? '+' : '-', c->fullname);
            change_perm(fake, c, ub);
        }
        if (c->subcommands && !is_sub) describe_single_commands(s, fake, b, c->subcommands, 1);
        if (!ub)
            for (int j = 0; j < s->nfa; j++)
                if (s->fa[j].id == c->id) sbuf_printf(b, "+%s|%s ", c->fullname, s->fa[j].arg);
    }
}

/* Redis's ACLDescribeSelectorCommandRules: +@all or -@all, the categories that
 * fit best, then single commands, checked against the bitmap. */
static char *describe_commands(const selector *s) {
    sbuf b = SBUF_INIT;
    selector *fake = selector_new(0), *tmp = selector_new(0);
    int additive = !get_bit(s, server.command_count);
    sbuf_puts(&b, additive ? "-@all " : "+@all ");
    set_all_commands(fake, !additive);
    memcpy(tmp->bits, s->bits, sizeof(uint64_t) * (size_t)nwords());
    char applied[64] = {0};
    for (;;) {
        int best = -1;
        unsigned long mindiff = (unsigned long)-1 >> 1, maxsame = 0;
        for (int j = 0; acl_category_names[j]; j++) {
            if (applied[j]) continue;
            unsigned long on, off;
            count_category(tmp, 1ULL << j, &on, &off);
            unsigned long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best == -1) break;
        set_category(fake, 1ULL << best, additive);
        set_category(tmp, 1ULL << best, !additive);
        sbuf_printf(&b, "%s@%s ", additive ? "+" : "-", acl_category_names[best]);
        applied[best] = 1;
    }
    describe_single_commands(s, fake, &b, command_table, 0);
    if (b.len) b.p[--b.len] = 0;
    /* as Redis: a mismatch here would be a security hole, better to stop */
    int mismatch = 0;
    for (int id = 0; id < server.command_count; id++)
        mismatch |= get_bit(fake, id) != get_bit(s, id);
    if (mismatch) {
        server_log(LL_WARNING, "CRITICAL ERROR: User ACLs don't match final bitmap: '%s'", b.p);
        abort();
    }
    selector_free(fake);
    selector_free(tmp);
    return sbuf_take(&b, NULL);
}

static void describe_key_pattern(sbuf *b, const pattern *p) {
    int all = ACL_KEY_READ | ACL_KEY_WRITE;
    sbuf_puts(b, p->flags == all ? "~" : p->flags == ACL_KEY_READ ? "%R~" : "%W~");
    sbuf_append(b, p->p, p->len);
}

static void describe_selector(sbuf *b, const selector *s) {
    if (s->flags & S_ALLKEYS) {
        sbuf_puts(b, "~* ");
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            describe_key_pattern(b, &s->keys[i]);
            sbuf_puts(b, " ");
        }
    }
    if (s->flags & S_ALLCHANNELS) {
        sbuf_puts(b, "&* ");
    } else {
        sbuf_puts(b, "resetchannels ");
        for (int i = 0; i < s->nchans; i++) sbuf_printf(b, "&%s ", s->chans[i].p);
    }
    char *r = describe_commands(s);
    sbuf_puts(b, r);
    xfree(r);
}

static const struct {
    const char *name;
    int flag;
} user_flag_names[] = {{"on", U_ENABLED},
                       {"off", U_DISABLED},
                       {"nopass", U_NOPASS},
                       {"skip-sanitize-payload", U_SKIP_SANITIZE},
                       {"sanitize-payload", U_SANITIZE},
                       {NULL, 0}};

static void describe_sql(sbuf *b, const acl_user *u) {
    for (int i = 0; i < u->nsql; i++) {
        const pattern *p = &u->sql[i];
        sbuf_printf(b, " %%sql:%s%s~%s", (p->flags & ACL_KEY_READ) ? "R" : "",
                    (p->flags & ACL_KEY_WRITE) ? "W" : "", p->p);
    }
    if (u->sql_ddl) sbuf_puts(b, " %sql:ddl");
}

/* The rules of u as ACL LIST prints them (cached; owned by u). */
const char *acl_describe_user(acl_user *u) {
    if (u->desc) return u->desc;
    sbuf b = SBUF_INIT;
    for (int j = 0; user_flag_names[j].name; j++)
        if (u->flags & user_flag_names[j].flag) sbuf_printf(&b, "%s ", user_flag_names[j].name);
    for (int i = 0; i < u->npass; i++) sbuf_printf(&b, "#%s ", u->pass[i]);
    for (int i = 0; i < u->nsel; i++) {
        if (i) sbuf_puts(&b, " (");
        describe_selector(&b, u->sel[i]);
        if (i) sbuf_puts(&b, ")");
    }
    describe_sql(&b, u);
    u->desc = sbuf_take(&b, NULL);
    return u->desc;
}

/* ---- ACL GETUSER ---------------------------------------------------------------------- */

static void reply_selector(client *c, const selector *s) {
    char *cmds = describe_commands(s);
    reply_bulk_cstr(c, "commands");
    reply_bulk_cstr(c, cmds);
    xfree(cmds);
    sbuf b = SBUF_INIT;
    reply_bulk_cstr(c, "keys");
    if (s->flags & S_ALLKEYS) {
        sbuf_puts(&b, "~*");
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            if (i) sbuf_puts(&b, " ");
            describe_key_pattern(&b, &s->keys[i]);
        }
    }
    reply_bulk(c, b.p ? b.p : "", b.len);
    sbuf_clear(&b);
    reply_bulk_cstr(c, "channels");
    if (s->flags & S_ALLCHANNELS) {
        sbuf_puts(&b, "&*");
    } else {
        for (int i = 0; i < s->nchans; i++) sbuf_printf(&b, "%s&%s", i ? " " : "", s->chans[i].p);
    }
    reply_bulk(c, b.p ? b.p : "", b.len);
    sbuf_free(&b);
}

void acl_reply_user(client *c, acl_user *u) {
    reply_map(c, u->sql_restricted ? 7 : 6);
    reply_bulk_cstr(c, "flags");
    int nf = 0;
    for (int j = 0; user_flag_names[j].name; j++)
        if (u->flags & user_flag_names[j].flag) nf++;
    reply_set(c, nf);
    for (int j = 0; user_flag_names[j].name; j++)
        if (u->flags & user_flag_names[j].flag) reply_bulk_cstr(c, user_flag_names[j].name);
    reply_bulk_cstr(c, "passwords");
    reply_array(c, u->npass);
    for (int i = 0; i < u->npass; i++) reply_bulk(c, u->pass[i], HASH_LEN);
    reply_selector(c, u->sel[0]);
    reply_bulk_cstr(c, "selectors");
    reply_array(c, u->nsel - 1);
    for (int i = 1; i < u->nsel; i++) {
        reply_map(c, 3);
        reply_selector(c, u->sel[i]);
    }
    if (u->sql_restricted) {
        sbuf b = SBUF_INIT;
        describe_sql(&b, u);
        reply_bulk_cstr(c, "sql");
        reply_bulk(c, b.p ? b.p + 1 : "", b.len ? b.len - 1 : 0);
        sbuf_free(&b);
    }
}

/* Users in name order, for ACL LIST / USERS: the i-th, NULL past the end. */
acl_user *acl_user_at(int i) {
    return i < nusers ? users[i] : NULL;
}
int acl_user_count(void) {
    return nusers;
}

/* ---- checking ------------------------------------------------------------------------- */

static int key_flags_needed(int ks) {
    int f = 0;
    if (ks & KS_ACCESS) f |= ACL_KEY_READ;
    if (ks & (KS_INSERT | KS_DELETE | KS_UPDATE)) f |= ACL_KEY_WRITE;
    return f;
}

static int selector_key_ok(const selector *s, const char *key, size_t len, int need) {
    if (s->flags & S_ALLKEYS) return 1;
    for (int i = 0; i < s->nkeys; i++) {
        if ((s->keys[i].flags & need) != need) continue;
        if (glob_match(s->keys[i].p, s->keys[i].len, key, len, 0)) return 1;
    }
    return 0;
}

static int channel_ok(const selector *s, const char *ch, size_t len, int is_pattern) {
    if (s->flags & S_ALLCHANNELS) return 1;
    for (int i = 0; i < s->nchans; i++) {
        const pattern *p = &s->chans[i];
        if (is_pattern ? (p->len == len && memcmp(p->p, ch, len) == 0)
                       : glob_match(p->p, p->len, ch, len, 0))
            return 1;
    }
    return 0;
}

static int command_bit_ok(const selector *s, const command *cmd, int argc, const resp_arg *argv) {
    if ((s->flags & S_ALLCOMMANDS) || (cmd->flag_bits & CMD_NO_AUTH)) return 1;
    if (get_bit(s, cmd->id)) return 1;
    int idx = cmd->parent ? 2 : 1;
    if (argc <= idx) return 0;
    for (int i = 0; i < s->nfa; i++)
        if (s->fa[i].id == cmd->id && strcasecmp(argv[idx].p, s->fa[i].arg) == 0) return 1;
    return 0;
}

/* The channels a command publishes or subscribes to (Redis's
 * commands_with_channels): positions from..to, pattern or not. */
static int command_channels(const command *cmd, int argc, int *from, int *to, int *is_pattern) {
    const char *f = cmd->fullname;
    *is_pattern = 0;
    if (!strcmp(f, "publish") || !strcmp(f, "spublish")) {
        *from = *to = 1;
    } else if (!strcmp(f, "subscribe") || !strcmp(f, "ssubscribe") || !strcmp(f, "psubscribe")) {
        *from = 1;
        *to = argc - 1;
        *is_pattern = f[0] == 'p';
    } else {
        return 0;
    }
    return 1;
}

typedef struct keycache {
    keyref *v;
    int n, init;
    keyref small[16];
} keycache;

static void keycache_fill(keycache *kc, const command *cmd, int argc, const resp_arg *argv) {
    if (kc->init) return;
    kc->init = 1;
    kc->v = kc->small;
    kc->n = keyspecs_keys(cmd, argc, argv, kc->v, 16);
    if (kc->n > 16) {
        kc->v = xmalloc(sizeof(keyref) * (size_t)kc->n);
        kc->n = keyspecs_keys(cmd, argc, argv, kc->v, kc->n);
    }
}

static int selector_check(const selector *s, const command *cmd, int argc, const resp_arg *argv,
                          int *pos, keycache *kc) {
    if (!command_bit_ok(s, cmd, argc, argv)) return ACL_DENIED_CMD;
    if (!(s->flags & S_ALLKEYS) && keyspecs_has_keys(cmd)) {
        keycache_fill(kc, cmd, argc, argv);
        for (int j = 0; j < kc->n; j++) {
            const resp_arg *k = &argv[kc->v[j].pos];
            if (!selector_key_ok(s, k->p, k->len, key_flags_needed(kc->v[j].flags))) {
                *pos = kc->v[j].pos;
                return ACL_DENIED_KEY;
            }
        }
    }
    int from, to, is_pattern;
    if (!(s->flags & S_ALLCHANNELS) && command_channels(cmd, argc, &from, &to, &is_pattern)) {
        for (int j = from; j <= to && j < argc; j++)
            if (!channel_ok(s, argv[j].p, argv[j].len, is_pattern)) {
                *pos = j;
                return ACL_DENIED_CHANNEL;
            }
    }
    return ACL_OK;
}

int acl_check_command(acl_user *u, const command *cmd, int argc, const resp_arg *argv, int *pos) {
    if (!u || u == acl_fast_user) return ACL_OK;
    int relevant = ACL_DENIED_CMD, last = 0;
    keycache kc = {0};
    int rc = ACL_OK;
    for (int i = 0; i < u->nsel; i++) {
        int p = 0;
        rc = selector_check(u->sel[i], cmd, argc, argv, &p, &kc);
        if (rc == ACL_OK) break;
        if (rc > relevant || (rc == relevant && p > last)) {
            relevant = rc;
            last = p;
        }
    }
    if (kc.v && kc.v != kc.small) xfree(kc.v);
    if (rc == ACL_OK) return ACL_OK;
    *pos = last;
    return relevant;
}

int acl_key_allowed(acl_user *u, const char *key, size_t len, int flags) {
    if (!u || u == acl_fast_user) return 1;
    for (int i = 0; i < u->nsel; i++)
        if (selector_key_ok(u->sel[i], key, len, flags)) return 1;
    return 0;
}

static int selector_unrestricted(const selector *s, int flags) {
    if (s->flags & S_ALLKEYS) return 1;
    for (int i = 0; i < s->nkeys; i++)
        if ((s->keys[i].flags & flags) == flags && s->keys[i].len == 1 && s->keys[i].p[0] == '*')
            return 1;
    return 0;
}

int acl_unrestricted_key_access(acl_user *u, const command *cmd, int argc, const resp_arg *argv,
                                int flags) {
    if (!u || u == acl_fast_user) return 1;
    keycache kc = {0};
    int ok = 0;
    for (int i = 0; i < u->nsel && !ok; i++) {
        int p;
        if (selector_check(u->sel[i], cmd, argc, argv, &p, &kc) == ACL_OK &&
            selector_unrestricted(u->sel[i], flags))
            ok = 1;
    }
    if (kc.v && kc.v != kc.small) xfree(kc.v);
    return ok;
}

int acl_channel_allowed(acl_user *u, const char *ch, size_t len, int is_pattern) {
    if (!u || u == acl_fast_user) return 1;
    for (int i = 0; i < u->nsel; i++)
        if (channel_ok(u->sel[i], ch, len, is_pattern)) return 1;
    return 0;
}

const char *acl_denied_text(int reason, const command *cmd, char *buf, size_t size) {
    switch (reason) {
    case ACL_DENIED_CMD:
        snprintf(buf, size, "NOPERM this user has no permissions to run the '%s' command",
                 cmd->fullname);
        return buf;
    case ACL_DENIED_KEY:
        return "NOPERM this user has no permissions to access one of the keys used as arguments";
    case ACL_DENIED_CHANNEL:
        return "NOPERM this user has no permissions to access one of the channels used as "
               "arguments";
    default:
        return "NOPERM no permission";
    }
}

int acl_check_client(client *c, const command *cmd, int argc, const resp_arg *argv, int ctx) {
    acl_user *u = c->user;
    if (u == acl_fast_user) return ACL_OK;
    int pos = 0;
    int r = acl_check_command(u, cmd, argc, argv, &pos);
    if (r == ACL_OK) return r;
    const char *obj = cmd->fullname;
    size_t olen = strlen(obj);
    if (r != ACL_DENIED_CMD) {
        obj = argv[pos].p;
        olen = argv[pos].len;
    }
    acl_log_denial(c, r, ctx, obj, olen, NULL);
    return r;
}

/* ---- the default user, authentication ------------------------------------------------ */

static int user_may_do_all(const acl_user *u) {
    if (u->nsel != 1 || u->sql_restricted) return 0;
    const selector *s = u->sel[0];
    int all = S_ALLKEYS | S_ALLCHANNELS | S_ALLCOMMANDS;
    return (s->flags & all) == all;
}

static void recompute_fast_user(void) {
    acl_fast_user = default_user && user_may_do_all(default_user) ? default_user : NULL;
}

static acl_user *default_user_new(void) {
    acl_user *u = user_new("default", 7);
    static const char *const ops[] = {"+@all", "~*", "&*", "on", "nopass"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) user_set(u, ops[i], strlen(ops[i]));
    return u;
}

void acl_init(void) {
    keyspecs_init();
    default_user = default_user_new();
    set_insert(&users, &nusers, default_user);
    recompute_fast_user();
}

acl_user *acl_client_user(client *c) {
    if ((c->flags & CLIENT_FAKE) && c->script_caller) return ((client *)c->script_caller)->user;
    return c->user;
}

int acl_default_nopass(void) {
    return (default_user->flags & U_NOPASS) != 0;
}

int acl_auth_required(const client *c) {
    int nopass = (default_user->flags & U_NOPASS) && !(default_user->flags & U_DISABLED);
    return !nopass && !(c->flags & CLIENT_AUTHENTICATED);
}

void acl_client_init(client *c) {
    c->user = default_user;
    if ((default_user->flags & U_NOPASS) && !(default_user->flags & U_DISABLED))
        c->flags |= CLIENT_AUTHENTICATED;
    else
        c->flags &= ~(uint64_t)CLIENT_AUTHENTICATED;
}

void acl_set_default_password(const char *pass, size_t len) {
    user_set(default_user, "resetpass", 9);
    if (pass) {
        sbuf b = SBUF_INIT;
        sbuf_puts(&b, ">");
        sbuf_append(&b, pass, len);
        user_set(default_user, b.p, b.len);
        sbuf_free(&b);
    } else {
        user_set(default_user, "nopass", 6);
    }
}

static int credentials_ok(acl_user *u, const resp_arg *pass) {
    if (!u || (u->flags & U_DISABLED)) return 0;
    if (u->flags & U_NOPASS) return 1;
    char h[HASH_LEN + 1];
    hash_password(pass->p, pass->len, h);
    int ok = 0;
    for (int i = 0; i < u->npass; i++) ok |= CRYPTO_memcmp(h, u->pass[i], HASH_LEN) == 0;
    return ok;
}

int acl_authenticate(client *c, const resp_arg *user, const resp_arg *pass) {
    acl_user *u = acl_user_find(user->p, user->len);
    if (credentials_ok(u, pass)) {
        c->user = u;
        c->flags |= CLIENT_AUTHENTICATED;
        return OK;
    }
    char *name = dupn(user->p, user->len);
    acl_log_denial(c, ACL_DENIED_AUTH, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
                   c->argv[0].p, c->argv[0].len, name);
    xfree(name);
    return ERR;
}

/* ---- disconnecting clients ------------------------------------------------------------- */

static void drop_client(client *c) {
    c->user = default_user;
    c->flags &= ~(uint64_t)CLIENT_AUTHENTICATED;
    if (c == server.current_client || c == server.executing_client)
        c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    else
        client_close_async(c);
}

static void kill_clients_of(acl_user *u) {
    list_node *n, *next;
    list_for_each_safe(n, next, &server.clients) {
        client *c = list_entry(n, client, node);
        if (c->user == u) drop_client(c);
    }
}

/* Frees u (already out of users[]) and closes its connections. */
static void acl_user_delete(acl_user *u) {
    kill_clients_of(u);
    user_free(u);
}

/* ACL DELUSER of one name: 1 if it existed. */
int acl_delete_user(const char *name, size_t len) {
    int found;
    int at = find_index(users, nusers, name, len, &found);
    if (!found || users[at] == default_user) return 0;
    acl_user *u = users[at];
    memmove(users + at, users + at + 1, sizeof(acl_user *) * (size_t)(nusers - at - 1));
    nusers--;
    acl_user_delete(u);
    return 1;
}

typedef struct sub_check {
    const acl_user *u;
    int is_pattern, bad;
} sub_check;

static void check_one_sub(void *ctx, const char *ch, size_t len) {
    sub_check *sc = ctx;
    if (sc->bad) return;
    int ok = 0;
    for (int i = 0; i < sc->u->nsel && !ok; i++) {
        const selector *s = sc->u->sel[i];
        for (int j = 0; j < s->nchans && !ok; j++) {
            const pattern *p = &s->chans[j];
            ok = sc->is_pattern ? (p->len == len && memcmp(p->p, ch, len) == 0)
                                : glob_match(p->p, p->len, ch, len, 0);
        }
    }
    if (!ok) sc->bad = 1;
}

static int channels_superset(const acl_user *next, const acl_user *orig) {
    for (int i = 0; i < orig->nsel; i++) {
        const selector *s = orig->sel[i];
        if (s->flags & S_ALLCHANNELS) return 0;
        for (int j = 0; j < s->nchans; j++) {
            int found = 0;
            for (int k = 0; k < next->nsel && !found; k++)
                for (int m = 0; m < next->sel[k]->nchans && !found; m++)
                    found = next->sel[k]->chans[m].len == s->chans[j].len &&
                            !memcmp(next->sel[k]->chans[m].p, s->chans[j].p, s->chans[j].len);
            if (!found) return 0;
        }
    }
    return 1;
}

/* Redis 7.0's ACLKillPubsubClientsIfNeeded: a subscriber of orig whose
 * subscriptions the new rules no longer allow is disconnected. */
static void kill_pubsub_clients_if_needed(acl_user *next, acl_user *orig) {
    for (int i = 0; i < next->nsel; i++)
        if (next->sel[i]->flags & S_ALLCHANNELS) return;
    if (channels_superset(next, orig)) return;
    list_node *n, *nx;
    list_for_each_safe(n, nx, &server.clients) {
        client *c = list_entry(n, client, node);
        if (c->user != orig || !(c->flags & CLIENT_PUBSUB)) continue;
        sub_check sc = {next, 1, 0};
        pubsub_client_for_each(c, PUBSUB_PATTERN, check_one_sub, &sc);
        sc.is_pattern = 0;
        pubsub_client_for_each(c, PUBSUB_CHANNEL, check_one_sub, &sc);
        pubsub_client_for_each(c, PUBSUB_SHARD, check_one_sub, &sc);
        if (sc.bad) drop_client(c);
    }
}

/* ---- ACL LOG --------------------------------------------------------------------------- */

static void log_entry_free(log_entry *e) {
    xfree(e->object);
    xfree(e->username);
    xfree(e->cinfo);
    xfree(e);
}

static int log_match(const log_entry *a, const log_entry *b) {
    int64_t d = a->ctime - b->ctime;
    if (d < 0) d = -d;
    return a->reason == b->reason && a->ctx == b->ctx && d <= 60000 &&
           !strcmp(a->object, b->object) && !strcmp(a->username, b->username);
}

void acl_log_denial(client *c, int reason, int ctx, const char *object, size_t olen,
                    const char *username) {
    if (reason > 0 && reason < 6) denied[reason]++;
    if (reason != ACL_DENIED_AUTH) { /* failed logins are the audit log's auth events */
        static const char *const what[] = {"", "command", "key", "auth", "channel", "table"};
        char why[200];
        snprintf(why, sizeof(why), "NOPERM %s %.*s", what[reason > 0 && reason < 6 ? reason : 0],
                 (int)(olen > 128 ? 128 : olen), object ? object : "");
        audit_denied((c->flags & CLIENT_FAKE) && c->script_caller ? c->script_caller : c, why);
    }
    log_entry *e = xcalloc(1, sizeof(*e));
    e->count = 1;
    e->reason = reason;
    e->ctx = ctx;
    e->object = dupn(object, olen);
    client *real = (c->flags & CLIENT_FAKE) && c->script_caller ? (client *)c->script_caller : c;
    e->username = xstrdup(username ? username : acl_user_name(c->user));
    sbuf ci = SBUF_INIT;
    client_info_string(&ci, real);
    e->cinfo = sbuf_take(&ci, NULL);
    e->ctime = clock_mstime();
    for (int i = 0; i < nlog && i < 10; i++)
        if (log_match(alog[i], e)) {
            log_entry *m = alog[i];
            memmove(alog + 1, alog, sizeof(log_entry *) * (size_t)i);
            alog[0] = m;
            xfree(m->cinfo);
            m->cinfo = e->cinfo;
            e->cinfo = NULL;
            m->ctime = e->ctime;
            m->count++;
            log_entry_free(e);
            return;
        }
    alog = xrealloc(alog, sizeof(log_entry *) * (size_t)(nlog + 1));
    memmove(alog + 1, alog, sizeof(log_entry *) * (size_t)nlog);
    alog[0] = e;
    nlog++;
    while (nlog > acllog_max_len) log_entry_free(alog[--nlog]);
}

void acl_log_reset(void) {
    for (int i = 0; i < nlog; i++) log_entry_free(alog[i]);
    nlog = 0;
}

void acl_log_reply(client *c, long count) {
    static const char *const reasons[] = {"unknown", "command", "key", "auth", "channel", "table"};
    static const char *const ctxs[] = {"toplevel", "multi", "lua"};
    if (count > nlog) count = nlog;
    reply_array(c, count);
    int64_t now = clock_mstime();
    for (long i = 0; i < count; i++) {
        log_entry *e = alog[i];
        reply_map(c, 7);
        reply_bulk_cstr(c, "count");
        reply_int(c, e->count);
        reply_bulk_cstr(c, "reason");
        reply_bulk_cstr(c, reasons[e->reason < 6 ? e->reason : 0]);
        reply_bulk_cstr(c, "context");
        reply_bulk_cstr(c, ctxs[e->ctx < 3 ? e->ctx : 0]);
        reply_bulk_cstr(c, "object");
        reply_bulk_cstr(c, e->object);
        reply_bulk_cstr(c, "username");
        reply_bulk_cstr(c, e->username);
        reply_bulk_cstr(c, "age-seconds");
        reply_double(c, (double)(now - e->ctime) / 1000);
        reply_bulk_cstr(c, "client-info");
        reply_bulk_cstr(c, e->cinfo);
    }
}

void acl_info(sbuf *b) {
    sbuf_printf(b,
                "acl_access_denied_auth:%lld\r\nacl_access_denied_cmd:%lld\r\n"
                "acl_access_denied_key:%lld\r\nacl_access_denied_channel:%lld\r\n",
                denied[ACL_DENIED_AUTH], denied[ACL_DENIED_CMD],
                denied[ACL_DENIED_KEY] + denied[ACL_DENIED_SQL], denied[ACL_DENIED_CHANNEL]);
}

void acl_stats_reset(void) {
    memset(denied, 0, sizeof(denied));
}

/* ---- configuration users, aclfile ------------------------------------------------------ */

int acl_config_user_line(int argc, char **argv, char **err) {
    sbuf e = SBUF_INIT;
    if (argc < 1) {
        *err = xstrdup("Error in user declaration: missing user name");
        return ERR;
    }
    for (int i = 0; i < nconf_users; i++)
        if (!strcmp(conf_users[i][0], argv[0])) {
            errno = EALREADY;
            sbuf_printf(&e, "Error in user declaration '%s': %s", argv[0], set_error_text());
            *err = sbuf_take(&e, NULL);
            return ERR;
        }
    int n = 0, bad = 0;
    char **ops = merge_selector_args(argv + 1, argc - 1, &n, &bad);
    if (!ops) {
        errno = EINVAL;
        sbuf_printf(&e, "Error in user declaration '%s': %s", argv[bad + 1], set_error_text());
        *err = sbuf_take(&e, NULL);
        return ERR;
    }
    acl_user *fake = user_new("", 0);
    for (int j = 0; j < n; j++)
        if (user_set(fake, ops[j], strlen(ops[j])) != OK && errno != ENOENT) {
            /* Redis 7.0 names the word at the rule's index in the whole line
             * ("user", name, rules...), not the rule itself: the same here */
            const char *word = j == 0 ? "user" : j - 1 < argc ? argv[j - 1] : ops[j];
            sbuf_printf(&e, "Error in user declaration '%s': %s", word, set_error_text());
            *err = sbuf_take(&e, NULL);
            user_free(fake);
            free_words(ops, n);
            return ERR;
        }
    user_free(fake);
    char **line = xcalloc((size_t)n + 2, sizeof(char *));
    line[0] = xstrdup(argv[0]);
    for (int j = 0; j < n; j++) line[j + 1] = ops[j];
    xfree(ops);
    conf_users = xrealloc(conf_users, sizeof(char **) * (size_t)(nconf_users + 1));
    conf_users[nconf_users++] = line;
    return OK;
}

static int load_conf_users(char **err) {
    for (int i = 0; i < nconf_users; i++) {
        char **line = conf_users[i];
        if (has_spaces(line[0], strlen(line[0]))) {
            *err = xstrdup("Spaces not allowed in ACL usernames");
            return ERR;
        }
        acl_user *u = acl_user_find(line[0], strlen(line[0]));
        if (!u) {
            u = user_new(line[0], strlen(line[0]));
            set_insert(&users, &nusers, u);
        } else {
            user_set(u, "reset", 5);
        }
        for (int j = 1; line[j]; j++)
            if (user_set(u, line[j], strlen(line[j])) != OK) {
                sbuf b = SBUF_INIT;
                sbuf_printf(&b, "Error loading ACL rule '%s' for the user named '%s': %s", line[j],
                            line[0], set_error_text());
                *err = sbuf_take(&b, NULL);
                return ERR;
            }
        if (u->flags & U_DISABLED)
            server_log(LL_NOTICE,
                       "The user '%s' is disabled (there is no 'on' modifier in the user "
                       "description). Make sure this is not a configuration error.",
                       line[0]);
    }
    return OK;
}

/* One line of an ACL file into the new set; errors appended to e. */
static void load_file_line(char *line, int linenum, acl_user ***set, int *nset, sbuf *e) {
    size_t len = strlen(line);
    while (len && strchr(" \t\r\n", line[len - 1])) line[--len] = 0;
    while (*line && strchr(" \t\r\n", *line)) line++, len--;
    if (!*line) return;
    char **words = NULL;
    int nw = 0;
    for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
        words = xrealloc(words, sizeof(char *) * (size_t)(nw + 1));
        words[nw++] = tok;
    }
    if (nw < 2 || strcmp(words[0], "user") != 0) {
        sbuf_printf(e, "%s:%d should start with user keyword followed by the username. ",
                    acl_filename, linenum);
        goto out;
    }
    int found;
    find_index(*set, *nset, words[1], strlen(words[1]), &found);
    if (found) {
        sbuf_printf(e, "WARNING: Duplicate user '%s' found on line %d. ", words[1], linenum);
        goto out;
    }
    acl_user *u = user_new(words[1], strlen(words[1]));
    set_insert(set, nset, u);
    int n = 0, syntax = 0;
    char **ops = merge_selector_args(words + 2, nw - 2, &n, NULL);
    if (!ops) {
        sbuf_printf(e, "%s:%d: Unmatched parenthesis in selector definition.", acl_filename,
                    linenum);
        goto out;
    }
    for (int j = 0; j < n; j++) {
        if (user_set(u, ops[j], strlen(ops[j])) == OK) continue;
        if (errno == ENOENT)
            sbuf_printf(e, "%s:%d: Error in applying operation '%s': %s. ", acl_filename, linenum,
                        ops[j], set_error_text());
        else if (!syntax++)
            sbuf_printf(e, "%s:%d: %s. ", acl_filename, linenum, set_error_text());
    }
    free_words(ops, n);
out:
    xfree(words);
}

/* ACL LOAD: the whole file or nothing. NULL, or the error text (caller
 * frees). Every client of a user of the old set is disconnected, except the
 * default user's. */
char *acl_load_file(const char *path) {
    FILE *f = fopen(path, "r");
    sbuf e = SBUF_INIT;
    if (!f) {
        sbuf_printf(&e, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return sbuf_take(&e, NULL);
    }
    acl_user **set = NULL;
    int nset = 0, linenum = 0;
    char buf[65536];
    while (fgets(buf, sizeof(buf), f)) load_file_line(buf, ++linenum, &set, &nset, &e);
    fclose(f);
    if (e.len) {
        for (int i = 0; i < nset; i++) user_free(set[i]);
        xfree(set);
        sbuf_puts(&e, "WARNING: ACL errors detected, no change to the previously active ACL rules "
                      "was performed");
        return sbuf_take(&e, NULL);
    }
    int found;
    int at = find_index(set, nset, "default", 7, &found);
    acl_user *nd = found ? set[at] : default_user_new();
    user_copy(default_user, nd);
    if (found)
        set[at] = default_user;
    else
        set_insert(&set, &nset, default_user);
    user_free(nd);
    acl_user **old = users;
    int nold = nusers;
    users = set;
    nusers = nset;
    for (int i = 0; i < nold; i++)
        if (old[i] != default_user) acl_user_delete(old[i]);
    xfree(old);
    recompute_fast_user();
    return NULL;
}

int acl_save_file(const char *path) {
    sbuf b = SBUF_INIT;
    for (int i = 0; i < nusers; i++)
        sbuf_printf(&b, "user %s %s\n", users[i]->name, acl_describe_user(users[i]));
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.tmp-%d-%lld", path, (int)getpid(), (long long)clock_mstime());
    int rc = ERR;
    int fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        server_log(LL_WARNING, "Opening temp ACL file for ACL SAVE: %s", strerror(errno));
    } else if (write(fd, b.p ? b.p : "", b.len) != (ssize_t)b.len) {
        server_log(LL_WARNING, "Writing ACL file for ACL SAVE: %s", strerror(errno));
    } else if (fsync(fd) != 0 || rename(tmp.p, path) != 0) {
        server_log(LL_WARNING, "Renaming ACL file for ACL SAVE: %s", strerror(errno));
    } else {
        rc = OK;
    }
    if (fd >= 0) close(fd);
    if (rc != OK) unlink(tmp.p);
    sbuf_free(&tmp);
    sbuf_free(&b);
    return rc;
}

int acl_load_at_startup(char **err) {
    if (acl_filename && acl_filename[0] && nconf_users) {
        *err = xstrdup(
            "Configuring Redis with users defined in redis.conf and at the same setting an ACL "
            "file path is invalid. This setup is very likely to lead to configuration errors and "
            "security holes, please define either an ACL file or declare users directly in your "
            "redis.conf, but not both.");
        return ERR;
    }
    /* requirepass of the configuration first: `user default` lines and the
     * aclfile then override it, as in Redis */
    if (server.requirepass) acl_set_default_password(server.requirepass, server.requirepass_len);
    if (load_conf_users(err) != OK) return ERR;
    if (acl_filename && acl_filename[0]) {
        char *e = acl_load_file(acl_filename);
        if (e) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "Aborting Redis startup because of ACL errors: %s", e);
            xfree(e);
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
    }
    recompute_fast_user();
    return OK;
}

/* CONFIG REWRITE without an aclfile: the users as `user` lines. */
void acl_rewrite_users(sbuf *b) {
    for (int i = 0; i < nusers; i++)
        sbuf_printf(b, "user %s %s\n", users[i]->name, acl_describe_user(users[i]));
}

/* ---- SQL table rules ------------------------------------------------------------------ */

acl_sql_rules *acl_sql_rules_copy(const acl_user *u) {
    if (!u || !u->sql_restricted) return NULL;
    acl_sql_rules *r = xcalloc(1, sizeof(*r));
    patterns_copy(&r->v, &r->n, u->sql, u->nsql);
    r->ddl = u->sql_ddl;
    return r;
}

void acl_sql_rules_free(acl_sql_rules *r) {
    if (!r) return;
    patterns_clear(&r->v, &r->n);
    xfree(r);
}

int acl_sql_rules_allow(const acl_sql_rules *r, const char *table, int access, int ddl) {
    if (!r) return 1;
    if (ddl && !r->ddl) return 0;
    if (!access) return 1;
    for (int i = 0; i < r->n; i++)
        if ((r->v[i].flags & access) == access &&
            glob_match(r->v[i].p, r->v[i].len, table, strlen(table), 1))
            return 1;
    return 0;
}
