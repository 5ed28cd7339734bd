/* server/keyspecs — which arguments of a command are keys, and how the command
 * touches each one (read, insert, update, delete), as Redis 7.0's key specs
 * say. ACL key patterns with %R~ / %W~ are checked against these flags.
 *
 * The specs are Redis's own (keyspecs_table.h, generated from its command
 * JSON by mk/gen-keyspecs.py); the search follows Redis's
 * getKeysUsingKeySpecs. Commands whose specs are incomplete or whose flags
 * depend on the arguments (SORT, SET, BITFIELD) have their own extractors,
 * as in Redis. Commands without specs (Larder's own) use the command table's
 * key positions: a write command reads and updates its keys, any other reads
 * them.
 *
 * Invariants:
 *  1. A returned position is < argc and >= 1.
 *  2. A spec whose keyword or key count does not fit the arguments makes the
 *     whole search yield no key (the command reports the syntax error). */
#include "server/server.h"
#include "util/mem.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { KS_BS_UNKNOWN, KS_BS_INDEX, KS_BS_KEYWORD };
enum { KS_FK_UNKNOWN, KS_FK_RANGE, KS_FK_KEYNUM };

typedef struct keyspec {
    const char *cmd;
    int flags;
    int bs;
    int bs_pos;
    const char *kw;
    int fk;
    int a, b, c; /* range: lastkey, step, limit; keynum: keynumidx, firstkey, step */
    const char *notes;
} keyspec;

static const keyspec specs[] = {
#include "server/keyspecs_table.h"
};
#define NSPECS ((int)(sizeof(specs) / sizeof(specs[0])))

/* COMMAND INFO's tips, Redis's own (cmdtips_table.h, from the same JSON) */
typedef struct cmdtip {
    const char *cmd, *tip;
} cmdtip;

static const cmdtip tips[] = {
#include "server/cmdtips_table.h"
};
#define NTIPS ((int)(sizeof(tips) / sizeof(tips[0])))

/* per command id: first row in specs and row count (-1: none); likewise in tips */
static int *first_row, *row_count;
static int *first_tip, *tip_count;

/* Rows sorted by command name (each row's first member): the first row and
 * the count of each command's group, by command id. */
static void index_groups(const void *rows, size_t stride, int nrows, int **first, int **count) {
    int n = server.command_count;
    *first = xmalloc(sizeof(int) * (size_t)n);
    *count = xcalloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) (*first)[i] = -1;
#define ROW_NAME(k) (*(const char *const *)((const char *)rows + (size_t)(k)*stride))
    for (int i = 0; i < nrows;) {
        int j = i;
        while (j < nrows && strcmp(ROW_NAME(j), ROW_NAME(i)) == 0) j++;
        const command *cmd = command_lookup_name(ROW_NAME(i), strlen(ROW_NAME(i)));
        if (cmd) {
            (*first)[cmd->id] = i;
            (*count)[cmd->id] = j - i;
        }
        i = j;
    }
#undef ROW_NAME
}

void keyspecs_init(void) {
    index_groups(specs, sizeof(specs[0]), NSPECS, &first_row, &row_count);
    index_groups(tips, sizeof(tips[0]), NTIPS, &first_tip, &tip_count);
}

void command_reply_tips(client *c, const command *cmd) {
    reply_set(c, tip_count[cmd->id]);
    for (int t = 0; t < tip_count[cmd->id]; t++)
        reply_bulk_cstr(c, tips[first_tip[cmd->id] + t].tip);
}

static int add_key(keyref *out, int n, int max, int pos, int flags) {
    if (n < max) out[n] = (keyref){pos, flags};
    return n + 1;
}

/* Redis's getKeysUsingKeySpecs: -1 when a spec cannot be followed. */
static int by_specs(const command *cmd, int argc, const resp_arg *argv, keyref *out, int max) {
    int n = 0;
    for (int s = first_row[cmd->id]; s < first_row[cmd->id] + row_count[cmd->id]; s++) {
        const keyspec *k = &specs[s];
        if (k->flags & KS_NOT_KEY) continue;
        int first = 0, last, step;
        if (k->bs == KS_BS_INDEX) {
            first = k->bs_pos;
        } else if (k->bs == KS_BS_KEYWORD) {
            int start = k->bs_pos > 0 ? k->bs_pos : argc + k->bs_pos;
            int end = k->bs_pos > 0 ? argc - 1 : 1;
            for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
                if (i >= argc || i < 1) break;
                if (strcasecmp(argv[i].p, k->kw) == 0) {
                    first = i + 1;
                    break;
                }
            }
            if (!first) continue;
        } else {
            return -1;
        }
        if (k->fk == KS_FK_RANGE) {
            step = k->b;
            if (k->a >= 0)
                last = first + k->a;
            else if (!k->c)
                last = argc + k->a;
            else
                last = first + ((argc - first) / k->c + k->a);
        } else if (k->fk == KS_FK_KEYNUM) {
            step = k->c;
            if (first + k->a >= argc) return -1;
            char *e;
            long long nk = strtoll(argv[first + k->a].p, &e, 10);
            if (*e || argv[first + k->a].len == 0 || nk < 0) return -1;
            first += k->b;
            last = first + (int)nk - 1;
        } else {
            return -1;
        }
        if (last >= argc || last < first || first >= argc) return -1;
        for (int i = first; i <= last; i += step) n = add_key(out, n, max, i, k->flags);
        if (k->flags & KS_INCOMPLETE) return -1;
    }
    return n;
}

static int sort_keys(int argc, const resp_arg *argv, keyref *out, int max) {
    int n = add_key(out, 0, max, 1, KS_RO | KS_ACCESS), store = 0;
    for (int i = 2; i < argc; i++) {
        if (arg_is(&argv[i], "limit"))
            i += 2;
        else if (arg_is(&argv[i], "get") || arg_is(&argv[i], "by"))
            i += 1;
        else if (arg_is(&argv[i], "store") && i + 1 < argc)
            store = i + 1; /* the last STORE wins, as in SORT */
    }
    if (store) n = add_key(out, n, max, store, KS_OW | KS_UPDATE);
    return n;
}

static int set_keys(int argc, const resp_arg *argv, keyref *out, int max) {
    for (int i = 3; i < argc; i++)
        if (argv[i].len == 3 && strcasecmp(argv[i].p, "get") == 0)
            return add_key(out, 0, max, 1, KS_RW | KS_ACCESS | KS_UPDATE);
    return add_key(out, 0, max, 1, KS_OW | KS_UPDATE);
}

static int bitfield_keys(int argc, const resp_arg *argv, keyref *out, int max) {
    int readonly = 1;
    for (int i = 2; i < argc; i++) {
        int rem = argc - i - 1;
        if (arg_is(&argv[i], "get") && rem >= 2) {
            i += 2;
        } else if ((arg_is(&argv[i], "set") || arg_is(&argv[i], "incrby")) && rem >= 3) {
            readonly = 0;
            break;
        } else if (arg_is(&argv[i], "overflow") && rem >= 1) {
            i += 1;
        } else {
            readonly = 0; /* a syntax error: assume a write, as Redis does */
            break;
        }
    }
    return add_key(out, 0, max, 1, readonly ? KS_RO | KS_ACCESS : KS_RW | KS_ACCESS | KS_UPDATE);
}

int keyspecs_keys(const command *cmd, int argc, const resp_arg *argv, keyref *out, int max) {
    const char *f = cmd->fullname;
    if (strcmp(f, "sort") == 0) return sort_keys(argc, argv, out, max);
    if (strcmp(f, "sort_ro") == 0)
        return add_key(out, 0, max, 1, KS_RO | KS_ACCESS); /* sortROGetKeys */
    if (strcmp(f, "set") == 0) return set_keys(argc, argv, out, max);
    if (strcmp(f, "bitfield") == 0) return bitfield_keys(argc, argv, out, max);
    if (first_row[cmd->id] >= 0) {
        int n = by_specs(cmd, argc, argv, out, max);
        if (n >= 0) return n;
        if (!cmd->getkeys) return 0;
        /* specs that cannot be followed (incomplete, unknown): the command's
         * own key finder, as Redis falls back to its getkeys_proc */
    }
    int pos[256];
    int n = command_keys(cmd, argc, argv, pos, 256);
    int flags = strcmp(f, "migrate") == 0      ? KS_RW | KS_ACCESS | KS_DELETE /* its finder's */
                : (cmd->flag_bits & CMD_WRITE) ? KS_RW | KS_ACCESS | KS_UPDATE
                                               : KS_RO | KS_ACCESS;
    int m = 0;
    for (int i = 0; i < n; i++) m = add_key(out, m, max, pos[i], flags);
    return m;
}

int keyspecs_has_keys(const command *cmd) {
    return first_row[cmd->id] >= 0 || cmd->first_key > 0 || cmd->getkeys;
}

/* The key-spec flags' names, in the order Redis prints them. */
static const struct {
    int bit;
    const char *name;
} flag_names[] = {{KS_RO, "RO"},
                  {KS_RW, "RW"},
                  {KS_OW, "OW"},
                  {KS_RM, "RM"},
                  {KS_ACCESS, "access"},
                  {KS_UPDATE, "update"},
                  {KS_INSERT, "insert"},
                  {KS_DELETE, "delete"},
                  {KS_NOT_KEY, "not_key"},
                  {KS_INCOMPLETE, "incomplete"},
                  {KS_VARIABLE_FLAGS, "variable_flags"}};
#define NFLAG_NAMES (sizeof(flag_names) / sizeof(flag_names[0]))

int command_keys_and_flags(const command *cmd, int argc, const resp_arg *argv, int *pos,
                           const char **names, int max) {
    static char *cache[1 << 11];
    keyref *refs = xmalloc(sizeof(keyref) * (size_t)(max > 0 ? max : 1));
    int n = keyspecs_keys(cmd, argc, argv, refs, max);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) {
        int f = refs[i].flags & ((1 << 11) - 1);
        if (!cache[f]) {
            sbuf b = SBUF_INIT;
            for (size_t k = 0; k < NFLAG_NAMES; k++)
                if (f & flag_names[k].bit)
                    sbuf_printf(&b, "%s%s", b.len ? " " : "", flag_names[k].name);
            cache[f] = sbuf_take(&b, NULL);
        }
        pos[i] = refs[i].pos;
        names[i] = cache[f];
    }
    xfree(refs);
    return n;
}

int command_has_keys(const command *cmd) {
    if (cmd->getkeys) return 1;
    if (first_row[cmd->id] < 0) return cmd->first_key > 0;
    for (int s = first_row[cmd->id]; s < first_row[cmd->id] + row_count[cmd->id]; s++)
        if (!(specs[s].flags & KS_NOT_KEY)) return 1;
    return 0; /* channels only (SSUBSCRIBE, SPUBLISH): no key, as Redis says */
}

/* The flag names of a spec, in Redis's order. */
static int reply_spec_flags(client *c, int flags) {
    int n = 0;
    for (size_t k = 0; k < NFLAG_NAMES; k++) n += (flags & flag_names[k].bit) != 0;
    reply_set(c, n);
    for (size_t k = 0; k < NFLAG_NAMES; k++)
        if (flags & flag_names[k].bit) reply_status(c, flag_names[k].name);
    return n;
}

static void reply_search(client *c, const char *what, const char *type) {
    reply_bulk_cstr(c, what);
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, type);
    reply_bulk_cstr(c, "spec");
}

static void reply_int_field(client *c, const char *name, long long v) {
    reply_bulk_cstr(c, name);
    reply_int(c, v);
}

/* One spec as COMMAND INFO and COMMAND DOCS show it. */
static void reply_spec(client *c, const keyspec *k) {
    reply_map(c, k->notes ? 4 : 3);
    if (k->notes) {
        reply_bulk_cstr(c, "notes");
        reply_bulk_cstr(c, k->notes);
    }
    reply_bulk_cstr(c, "flags");
    reply_spec_flags(c, k->flags);
    if (k->bs == KS_BS_INDEX) {
        reply_search(c, "begin_search", "index");
        reply_map(c, 1);
        reply_int_field(c, "index", k->bs_pos);
    } else if (k->bs == KS_BS_KEYWORD) {
        reply_search(c, "begin_search", "keyword");
        reply_map(c, 2);
        reply_bulk_cstr(c, "keyword");
        reply_bulk_cstr(c, k->kw);
        reply_int_field(c, "startfrom", k->bs_pos);
    } else {
        reply_search(c, "begin_search", "unknown");
        reply_map(c, 0);
    }
    if (k->fk == KS_FK_RANGE) {
        reply_search(c, "find_keys", "range");
        reply_map(c, 3);
        reply_int_field(c, "lastkey", k->a);
        reply_int_field(c, "keystep", k->b);
        reply_int_field(c, "limit", k->c);
    } else if (k->fk == KS_FK_KEYNUM) {
        reply_search(c, "find_keys", "keynum");
        reply_map(c, 3);
        reply_int_field(c, "keynumidx", k->a);
        reply_int_field(c, "firstkey", k->b);
        reply_int_field(c, "keystep", k->c);
    } else {
        reply_search(c, "find_keys", "unknown");
        reply_map(c, 0);
    }
}

void command_reply_key_specs(client *c, const command *cmd) {
    int first = first_row[cmd->id];
    if (first >= 0) {
        reply_array(c, row_count[cmd->id]);
        for (int s = first; s < first + row_count[cmd->id]; s++) reply_spec(c, &specs[s]);
        return;
    }
    if (cmd->first_key <= 0) { /* Larder's own commands: from the table's key positions */
        reply_array(c, 0);
        return;
    }
    keyspec k = {cmd->name,
                 (cmd->flag_bits & CMD_WRITE) ? KS_RW | KS_ACCESS | KS_UPDATE : KS_RO | KS_ACCESS,
                 KS_BS_INDEX,
                 cmd->first_key,
                 NULL,
                 KS_FK_RANGE,
                 cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key,
                 cmd->key_step ? cmd->key_step : 1,
                 0,
                 NULL};
    reply_array(c, 1);
    reply_spec(c, &k);
}
