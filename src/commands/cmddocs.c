/* commands/cmddocs — COMMAND and its subcommands (COUNT INFO DOCS LIST GETKEYS
 * GETKEYSANDFLAGS HELP).
 *
 * COMMAND DOCS' argument trees come from each row's syntax string, parsed
 * once at first use:
 *
 *   alts := seq ('|' seq)*          seq  := item*
 *   item := '[' alts ']' ['...'] | '(' alts ')' ['...'] | WORD ['...']
 *
 * An UPPERCASE word is a token; "TOKEN name" becomes one argument with that
 * token; "x [x ...]" and "a b [a b ...]" collapse into a repeated argument or
 * block, as the Redis docs model them. redis-cli builds its hints from this. */
#include "commands/commands.h"
#include "util/mem.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef struct doc_arg doc_arg;
struct doc_arg {
    char *name;
    const char *type; /* key string integer double pattern unix-time pure-token oneof block */
    char *token;
    int optional, multiple, multiple_token;
    doc_arg *args;
    int nargs;
};

typedef struct doc_list {
    doc_arg *v;
    int n;
} doc_list;

/* ---- tokenizer ------------------------------------------------------------------ */

typedef struct lexer {
    const char *p;
    char tok[128];
    int kind; /* 0 end, 'w' word, '[', ']', '(', ')', '|', '.' (ellipsis) */
} lexer;

static void lex_next(lexer *l) {
    while (*l->p == ' ') l->p++;
    char c = *l->p;
    if (!c) {
        l->kind = 0;
        return;
    }
    if (strchr("[]()|", c)) {
        l->kind = c;
        l->p++;
        return;
    }
    if (!strncmp(l->p, "...", 3)) {
        l->kind = '.';
        l->p += 3;
        return;
    }
    size_t n = 0;
    while (l->p[n] && !strchr(" []()|", l->p[n]) && strncmp(l->p + n, "...", 3) &&
           n < sizeof(l->tok) - 1)
        n++;
    memcpy(l->tok, l->p, n);
    l->tok[n] = '\0';
    l->p += n;
    l->kind = 'w';
}

/* ---- building --------------------------------------------------------------------- */

static void list_push(doc_list *l, doc_arg a) {
    l->v = xrealloc(l->v, sizeof(doc_arg) * (size_t)(l->n + 1));
    l->v[l->n++] = a;
}

static int is_upper_word(const char *s) {
    int letters = 0;
    for (; *s; s++) {
        if (islower((unsigned char)*s)) return 0;
        if (isupper((unsigned char)*s)) letters++;
    }
    return letters > 0;
}

static const char *infer_type(const char *name) {
    static const char *ints[] = {"count",     "offset",       "start",         "end",
                                 "seconds",   "milliseconds", "index",         "numkeys",
                                 "db",        "increment",    "decrement",     "numreplicas",
                                 "client-id", "index1",       "index2",        "protover",
                                 "frequency", "ttl",          "min-match-len", "destination-db",
                                 "timeout",   "port",         "bit",           "limit",
                                 NULL};
    size_t n = strlen(name);
    if (!strcmp(name, "key") || (n > 3 && !strcmp(name + n - 3, "key")) ||
        !strcmp(name, "destination") || !strcmp(name, "source") || !strncmp(name, "key", 3))
        return "key";
    if (strstr(name, "pattern")) return "pattern";
    if (!strncmp(name, "unix-time", 9)) return "unix-time";
    if (!strcmp(name, "score") || !strcmp(name, "min") || !strcmp(name, "max")) return "double";
    for (int i = 0; ints[i]; i++)
        if (!strcmp(name, ints[i])) return "integer";
    return "string";
}

static doc_arg word_arg(const char *w) {
    doc_arg a = {0};
    if (is_upper_word(w)) {
        a.type = "pure-token";
        a.token = xstrdup(w);
        a.name = xstrdup(w);
        for (char *p = a.name; *p; p++) *p = (char)tolower((unsigned char)*p);
    } else {
        a.name = xstrdup(w);
        a.type = infer_type(w);
    }
    return a;
}

static void arg_free(doc_arg *a) {
    xfree(a->name);
    xfree(a->token);
    for (int i = 0; i < a->nargs; i++) arg_free(&a->args[i]);
    xfree(a->args);
}

static int same_shape(const doc_arg *a, const doc_arg *b) {
    if (strcmp(a->name, b->name) || strcmp(a->type, b->type)) return 0;
    if ((a->token == NULL) != (b->token == NULL)) return 0;
    return !a->token || !strcmp(a->token, b->token);
}

static void parse_alts(lexer *l, int *nalts, doc_list **alts);

static char *join_names(const doc_arg *v, int n) {
    sbuf name = SBUF_INIT;
    for (int i = 0; i < n && name.len < 48; i++)
        sbuf_printf(&name, "%s%s", i ? "-" : "", v[i].name);
    return sbuf_take(&name, NULL);
}

/* A sequence as one argument: itself if single, else a block. */
static doc_arg seq_as_arg(doc_list s) {
    if (s.n == 1) {
        doc_arg a = s.v[0];
        xfree(s.v);
        return a;
    }
    doc_arg g = {0};
    g.type = "block";
    g.args = s.v;
    g.nargs = s.n;
    g.name = join_names(s.v, s.n);
    return g;
}

/* A group's alternatives as one argument (a oneof when there are several).
 * Takes ownership of alts. */
static doc_arg group_arg(doc_list *alts, int nalts) {
    doc_arg g = {0};
    if (nalts == 1) {
        g = seq_as_arg(alts[0]);
    } else {
        g.type = "oneof";
        g.args = xcalloc((size_t)nalts, sizeof(doc_arg));
        g.nargs = nalts;
        for (int i = 0; i < nalts; i++) g.args[i] = seq_as_arg(alts[i]);
        g.name = join_names(g.args, g.nargs);
    }
    xfree(alts);
    return g;
}

/* Joins TOKEN + following plain name into one argument; collapses repeats. */
static void seq_fixup(doc_list *s) {
    for (int i = 0; i + 1 < s->n; i++) {
        doc_arg *t = &s->v[i], *n = &s->v[i + 1];
        if (!strcmp(t->type, "pure-token") && !t->optional && !t->multiple && !n->token &&
            !n->optional && !n->nargs && strcmp(n->type, "pure-token")) {
            xfree(n->token);
            n->token = t->token;
            t->token = NULL;
            arg_free(t);
            memmove(t, n, sizeof(doc_arg) * (size_t)(s->n - i - 1));
            s->n--;
        }
    }
    for (int i = 0; i < s->n; i++) {
        doc_arg *g = &s->v[i];
        if (!g->optional || !g->multiple) continue;
        int k = !strcmp(g->type, "block") ? g->nargs : 1;
        if (i < k) continue;
        int same = 1;
        if (k == 1)
            same = same_shape(&s->v[i - 1], g);
        else
            for (int j = 0; j < k && same; j++) same = same_shape(&s->v[i - k + j], &g->args[j]);
        if (!same) continue;
        if (k == 1) {
            s->v[i - 1].multiple = 1;
            if (s->v[i - 1].token) s->v[i - 1].multiple_token = 1;
            arg_free(g);
        } else {
            /* the previous k items become the repeated block */
            for (int j = 0; j < k; j++) arg_free(&s->v[i - k + j]);
            g->optional = 0;
            s->v[i - k] = *g;
        }
        int removed = k == 1 ? 1 : k;
        int from = k == 1 ? i + 1 : i + 1;
        int to = k == 1 ? i : i - k + 1;
        memmove(&s->v[to], &s->v[from], sizeof(doc_arg) * (size_t)(s->n - from));
        s->n -= removed;
        i = to - 1;
    }
}

static doc_list parse_seq(lexer *l) {
    doc_list s = {0};
    for (;;) {
        doc_arg a;
        if (l->kind == 'w') {
            a = word_arg(l->tok);
            lex_next(l);
        } else if (l->kind == '[' || l->kind == '(') {
            char close = l->kind == '[' ? ']' : ')';
            int opt = l->kind == '[';
            lex_next(l);
            int nalts;
            doc_list *alts;
            parse_alts(l, &nalts, &alts);
            if (l->kind == close) lex_next(l);
            a = group_arg(alts, nalts);
            if (opt) a.optional = 1;
        } else {
            break;
        }
        if (l->kind == '.') {
            a.multiple = 1;
            lex_next(l);
        }
        list_push(&s, a);
    }
    seq_fixup(&s);
    return s;
}

static void parse_alts(lexer *l, int *nalts, doc_list **alts) {
    *nalts = 0;
    *alts = NULL;
    for (;;) {
        doc_list s = parse_seq(l);
        *alts = xrealloc(*alts, sizeof(doc_list) * (size_t)(*nalts + 1));
        (*alts)[(*nalts)++] = s;
        if (l->kind != '|') break;
        lex_next(l);
    }
}

/* Top level: a syntax string into its argument list. */
static doc_list parse_syntax(const char *syntax) {
    lexer l = {syntax, {0}, 0};
    lex_next(&l);
    int nalts;
    doc_list *alts;
    parse_alts(&l, &nalts, &alts);
    if (nalts == 1) {
        doc_list r = alts[0];
        xfree(alts);
        return r;
    }
    doc_list r = {0};
    list_push(&r, group_arg(alts, nalts));
    return r;
}

/* ---- replies ------------------------------------------------------------------------- */

static void reply_doc_arg(client *c, const doc_arg *a) {
    int fields =
        2 + (a->token != NULL) + (a->optional || a->multiple || a->multiple_token) + (a->nargs > 0);
    reply_map(c, fields);
    reply_bulk_cstr(c, "name");
    reply_bulk_cstr(c, a->name);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, a->type);
    if (a->token) {
        reply_bulk_cstr(c, "token");
        reply_bulk_cstr(c, a->token);
    }
    if (a->optional || a->multiple || a->multiple_token) {
        reply_bulk_cstr(c, "flags");
        reply_set(c, a->optional + a->multiple + a->multiple_token);
        if (a->optional) reply_status(c, "optional");
        if (a->multiple) reply_status(c, "multiple");
        if (a->multiple_token) reply_status(c, "multiple_token");
    }
    if (a->nargs) {
        reply_bulk_cstr(c, "arguments");
        reply_array(c, a->nargs);
        for (int i = 0; i < a->nargs; i++) reply_doc_arg(c, &a->args[i]);
    }
}

static doc_list *parsed; /* by command id */

static const doc_list *doc_args(const command *cmd) {
    if (!parsed) parsed = xcalloc((size_t)server_command_count(), sizeof(doc_list));
    doc_list *d = &parsed[cmd->id];
    if (!d->v && cmd->syntax && cmd->syntax[0] && d->n == 0) *d = parse_syntax(cmd->syntax);
    return d;
}

static int subcommand_count(const command *cmd) {
    int n = 0;
    for (const command *s = cmd->subcommands; s && s->name; s++) n++;
    return n;
}

static void reply_docs_entry(client *c, const command *cmd) {
    const doc_list *args = doc_args(cmd);
    int nsub = subcommand_count(cmd);
    reply_map(c, 4 + (args->n > 0) + (nsub > 0));
    reply_bulk_cstr(c, "summary");
    reply_bulk_cstr(c, cmd->summary ? cmd->summary : "");
    reply_bulk_cstr(c, "since");
    reply_bulk_cstr(c, cmd->since ? cmd->since : "1.0.0");
    reply_bulk_cstr(c, "group");
    reply_bulk_cstr(c, cmd->group ? cmd->group : "server");
    reply_bulk_cstr(c, "complexity");
    reply_bulk_cstr(c, cmd->complexity ? cmd->complexity : "O(1)");
    if (args->n) {
        reply_bulk_cstr(c, "arguments");
        reply_array(c, args->n);
        for (int i = 0; i < args->n; i++) reply_doc_arg(c, &args->v[i]);
    }
    if (nsub) {
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, nsub);
        for (const command *s = cmd->subcommands; s->name; s++) {
            reply_bulk_cstr(c, s->fullname);
            reply_docs_entry(c, s);
        }
    }
}

static const char *const flag_out[] = {
    "write",        "readonly",   "denyoom",           "admin",           "pubsub",
    "noscript",     "blocking",   "loading",           "stale",           "skip_monitor",
    "skip_slowlog", "fast",       "no_auth",           "may_replicate",   "no_multi",
    "movablekeys",  "allow_busy", "no_mandatory_keys", "no_async_loading"};

static void reply_command_info(client *c, const command *cmd) {
    reply_array(c, 10);
    reply_bulk_cstr(c, cmd->fullname);
    reply_int(c, cmd->arity);
    uint64_t flags = cmd->flag_bits | (cmd->getkeys ? CMD_MOVABLE_KEYS : 0);
    flags &= ~(uint64_t)CMD_MAY_REPLICATE; /* Redis hides it on purpose */
    int nf = 0;
    for (size_t i = 0; i < sizeof(flag_out) / sizeof(flag_out[0]); i++) nf += (flags >> i) & 1;
    reply_set(c, nf);
    for (size_t i = 0; i < sizeof(flag_out) / sizeof(flag_out[0]); i++)
        if ((flags >> i) & 1) reply_status(c, flag_out[i]);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->key_step);
    int nc = 0;
    for (int i = 0; acl_category_names[i]; i++) nc += (cmd->acl_bits >> i) & 1;
    reply_set(c, nc);
    for (int i = 0; acl_category_names[i]; i++) {
        if (!((cmd->acl_bits >> i) & 1)) continue;
        char buf[64];
        snprintf(buf, sizeof(buf), "@%s", acl_category_names[i]);
        reply_status(c, buf);
    }
    command_reply_tips(c, cmd);
    command_reply_key_specs(c, cmd);
    int nsub = subcommand_count(cmd);
    reply_array(c, nsub);
    for (const command *s = cmd->subcommands; s && s->name; s++) reply_command_info(c, s);
}

static int top_level_count(void) {
    int n = 0;
    for (const command *c = command_table; c->name; c++) n++;
    return n;
}

void command_command(client *c) {
    reply_array(c, top_level_count());
    for (const command *cmd = command_table; cmd->name; cmd++) reply_command_info(c, cmd);
}

void command_count_command(client *c) {
    reply_int(c, top_level_count());
}

void command_info_command(client *c) {
    if (c->argc == 2) {
        command_command(c);
        return;
    }
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const command *cmd = command_lookup_name(c->argv[i].p, c->argv[i].len);
        if (cmd)
            reply_command_info(c, cmd);
        else
            reply_null_array(c);
    }
}

void command_docs_command(client *c) {
    if (c->argc == 2) {
        reply_map(c, top_level_count());
        for (const command *cmd = command_table; cmd->name; cmd++) {
            reply_bulk_cstr(c, cmd->name);
            reply_docs_entry(c, cmd);
        }
        return;
    }
    void *h = reply_defer_len(c);
    long n = 0;
    for (int i = 2; i < c->argc; i++) {
        const command *cmd = command_lookup_name(c->argv[i].p, c->argv[i].len);
        if (!cmd) continue;
        reply_bulk_cstr(c, cmd->fullname);
        reply_docs_entry(c, cmd);
        n++;
    }
    reply_set_deferred_map(c, h, n);
}

void command_list_command(client *c) {
    int mode = 0; /* 0 all, 1 aclcat, 2 pattern, 3 module */
    const resp_arg *val = NULL;
    if (c->argc == 5 && arg_is(&c->argv[2], "filterby")) {
        val = &c->argv[4];
        if (arg_is(&c->argv[3], "aclcat"))
            mode = 1;
        else if (arg_is(&c->argv[3], "pattern"))
            mode = 2;
        else if (arg_is(&c->argv[3], "module"))
            mode = 3;
        else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int bit = mode == 1 ? acl_category_bit(val->p, val->len) : -1;
    void *h = reply_defer_len(c);
    long n = 0;
    for (const command *cmd = command_table; cmd->name; cmd++) {
        for (int sub = -1; sub < subcommand_count(cmd); sub++) {
            const command *x = sub < 0 ? cmd : &cmd->subcommands[sub];
            int ok =
                mode == 0 || (mode == 1 && bit >= 0 && ((x->acl_bits >> bit) & 1)) ||
                (mode == 2 && glob_match(val->p, val->len, x->fullname, strlen(x->fullname), 1));
            if (!ok) continue;
            reply_bulk_cstr(c, x->fullname);
            n++;
        }
    }
    reply_set_deferred_array(c, h, n);
}

static const command *getkeys_target(client *c) {
    int sub_missing;
    const command *cmd = command_lookup(c->argv + 2, c->argc - 2, &sub_missing);
    if (!cmd || sub_missing) {
        reply_error(c, "ERR Invalid command specified");
        return NULL;
    }
    if (!command_has_keys(cmd)) {
        reply_error(c, "ERR The command has no key arguments");
        return NULL;
    }
    int argc = c->argc - 2;
    if (cmd->arity > 0 ? argc != cmd->arity : argc < -cmd->arity) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return NULL;
    }
    return cmd;
}

static void getkeys_generic(client *c, int with_flags) {
    const command *cmd = getkeys_target(c);
    if (!cmd) return;
    int max = c->argc; /* a command has fewer keys than arguments */
    int *keys = xmalloc(sizeof(int) * (size_t)max);
    const char **flags = xmalloc(sizeof(char *) * (size_t)max);
    int n = command_keys_and_flags(cmd, c->argc - 2, c->argv + 2, keys, flags, max);
    if (n == 0) {
        if (cmd->flag_bits & CMD_NO_MANDATORY_KEYS)
            reply_array(c, 0); /* EVAL "..." 0: a valid call without keys */
        else
            reply_error(c, "ERR Invalid arguments specified for command");
        xfree(keys);
        xfree(flags);
        return;
    }
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        const resp_arg *k = &c->argv[2 + keys[i]];
        if (with_flags) {
            reply_array(c, 2);
            reply_bulk(c, k->p, k->len);
            int nf = 1;
            for (const char *p = flags[i]; *p; p++) nf += *p == ' ';
            reply_set(c, nf);
            for (const char *p = flags[i]; *p;) {
                size_t len = strcspn(p, " ");
                char word[32];
                snprintf(word, sizeof(word), "%.*s", (int)len, p);
                reply_status(c, word);
                p += len + (p[len] == ' ');
            }
        } else {
            reply_bulk(c, k->p, k->len);
        }
    }
    xfree(keys);
    xfree(flags);
}

void command_getkeys_command(client *c) {
    getkeys_generic(c, 0);
}
void command_getkeysandflags_command(client *c) {
    getkeys_generic(c, 1);
}

void command_help_command(client *c) {
    static const char *const help[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        NULL};
    reply_help(c, "command", help);
}
