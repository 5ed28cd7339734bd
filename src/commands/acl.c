/* commands/acl — the ACL command family (Redis 7.0): SETUSER, GETUSER,
 * DELUSER, USERS, LIST, WHOAMI, CAT, LOG, SAVE, LOAD, GENPASS, DRYRUN, HELP.
 * The users and their checks live in server/acl.c. */
#include "commands/commands.h"
#include "server/acl.h"
#include "util/mem.h"
#include <openssl/rand.h>
#include <string.h>

static int name_has_spaces(const resp_arg *a) {
    for (size_t i = 0; i < a->len; i++)
        if (a->p[i] == ' ' || a->p[i] == '\t' || a->p[i] == '\n' || a->p[i] == '\r' ||
            a->p[i] == '\v' || a->p[i] == '\f' || a->p[i] == 0)
            return 1;
    return 0;
}

void acl_setuser_command(client *c) {
    const resp_arg *name = &c->argv[2];
    if (name_has_spaces(name)) {
        reply_error(c, "ERR Usernames can't contain spaces or null characters");
        return;
    }
    int n = c->argc - 3;
    char **rules = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; i < n; i++) rules[i] = c->argv[3 + i].p;
    char *err = acl_set_user_rules(name->p, name->len, rules, n);
    xfree(rules);
    if (err) {
        reply_errorf(c, "ERR %s", err);
        xfree(err);
        return;
    }
    reply_ok(c);
}

void acl_deluser_command(client *c) {
    for (int j = 2; j < c->argc; j++)
        if (c->argv[j].len == 7 && memcmp(c->argv[j].p, "default", 7) == 0) {
            reply_error(c, "ERR The 'default' user cannot be removed");
            return;
        }
    long long deleted = 0;
    for (int j = 2; j < c->argc; j++) deleted += acl_delete_user(c->argv[j].p, c->argv[j].len);
    reply_int(c, deleted);
}

void acl_getuser_command(client *c) {
    acl_user *u = acl_user_find(c->argv[2].p, c->argv[2].len);
    if (!u) {
        reply_null(c);
        return;
    }
    acl_reply_user(c, u);
}

void acl_users_command(client *c) {
    reply_array(c, acl_user_count());
    for (int i = 0; i < acl_user_count(); i++) reply_bulk_cstr(c, acl_user_name(acl_user_at(i)));
}

void acl_list_command(client *c) {
    reply_array(c, acl_user_count());
    for (int i = 0; i < acl_user_count(); i++) {
        acl_user *u = acl_user_at(i);
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "user %s %s", acl_user_name(u), acl_describe_user(u));
        reply_bulk(c, b.p, b.len);
        sbuf_free(&b);
    }
}

void acl_whoami_command(client *c) {
    reply_bulk_cstr(c, acl_user_name(c->user));
}

static int acl_file_or_reply(client *c) {
    if (acl_filename && acl_filename[0]) return OK;
    reply_error(c, "ERR This Redis instance is not configured to use an ACL file. You may want to "
                   "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE "
                   "(assuming you have a Redis configuration file set) in order to store users in "
                   "the Redis configuration.");
    return ERR;
}

void acl_load_command(client *c) {
    if (acl_file_or_reply(c) != OK) return;
    char *err = acl_load_file(acl_filename);
    if (err) {
        reply_errorf(c, "ERR %s", err);
        xfree(err);
        return;
    }
    reply_ok(c);
}

void acl_save_command(client *c) {
    if (acl_file_or_reply(c) != OK) return;
    if (acl_save_file(acl_filename) != OK) {
        reply_error(c, "ERR There was an error trying to save the ACLs. Please check the server "
                       "logs for more information");
        return;
    }
    reply_ok(c);
}

/* The commands of one category, the table's order, subcommands after their
 * container. */
static void cat_commands(client *c, uint64_t cat) {
    void *h = reply_defer_len(c);
    long n = 0;
    for (const command *cmd = command_table; cmd->name; cmd++) {
        if (cmd->acl_bits & cat) reply_bulk_cstr(c, cmd->fullname), n++;
        for (const command *s = cmd->subcommands; s && s->name; s++)
            if (s->acl_bits & cat) reply_bulk_cstr(c, s->fullname), n++;
    }
    reply_set_deferred_array(c, h, n);
}

void acl_cat_command(client *c) {
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 2) {
        int n = 0;
        while (acl_category_names[n]) n++;
        reply_array(c, n);
        for (int i = 0; i < n; i++) reply_bulk_cstr(c, acl_category_names[i]);
        return;
    }
    int b = acl_category_bit(c->argv[2].p, c->argv[2].len);
    if (b < 0) {
        reply_errorf(c, "ERR Unknown category '%.128s'", c->argv[2].p);
        return;
    }
    cat_commands(c, 1ULL << b);
}

void acl_genpass_command(client *c) {
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    long long bits = 256;
    if (c->argc == 3 && arg_ll_or_reply(c, &c->argv[2], &bits, NULL) != OK) return;
    if (bits <= 0 || bits > 4096) {
        reply_error(c, "ERR ACL GENPASS argument must be the number of bits for the output "
                       "password, a positive number up to 4096");
        return;
    }
    int chars = (int)((bits + 3) / 4);
    unsigned char raw[512];
    char hex[1025];
    static const char digits[] = "0123456789abcdef";
    RAND_bytes(raw, (chars + 1) / 2);
    for (int i = 0; i < chars; i++) hex[i] = digits[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    reply_bulk(c, hex, (size_t)chars);
}

void acl_log_command(client *c) {
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    long long count = 10;
    if (c->argc == 3) {
        if (arg_is(&c->argv[2], "reset")) {
            acl_log_reset();
            reply_ok(c);
            return;
        }
        if (arg_ll_or_reply(c, &c->argv[2], &count, NULL) != OK) return;
        if (count < 0) count = 0;
    }
    acl_log_reply(c, (long)count);
}

void acl_dryrun_command(client *c) {
    acl_user *u = acl_user_find(c->argv[2].p, c->argv[2].len);
    if (!u) {
        reply_errorf(c, "ERR User '%s' not found", c->argv[2].p);
        return;
    }
    int sub_missing, argc = c->argc - 3;
    const resp_arg *argv = c->argv + 3;
    const command *cmd = command_lookup(argv, argc, &sub_missing);
    if (!cmd || sub_missing) {
        reply_errorf(c, "ERR Command '%s' not found", argv[0].p);
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd->fullname);
        return;
    }
    int pos = 0;
    int r = acl_check_command(u, cmd, argc, argv, &pos);
    sbuf b = SBUF_INIT;
    if (r == ACL_DENIED_CMD)
        sbuf_printf(&b, "This user has no permissions to run the '%s' command", cmd->fullname);
    else if (r == ACL_DENIED_KEY)
        sbuf_printf(&b, "This user has no permissions to access the '%s' key", argv[pos].p);
    else if (r == ACL_DENIED_CHANNEL)
        sbuf_printf(&b, "This user has no permissions to access the '%s' channel", argv[pos].p);
    if (r == ACL_OK)
        reply_ok(c);
    else
        reply_bulk(c, b.p, b.len);
    sbuf_free(&b);
}

void acl_help_command(client *c) {
    static const char *const help[] = {
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the "
        "command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        NULL};
    reply_help(c, "acl", help);
}
