/* commands/debug — DEBUG subcommands that tests and operators need.
 * Larder-specific ones (fault injection for the store) are registered by
 * the persistence layer through debug_register(). */
#include "commands/commands.h"
#include "kv/quicklist.h"
#include "server/hooks.h"
#include "util/mem.h"
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct debug_ext {
    const char *name;
    void (*fn)(client *c);
} debug_ext;
static debug_ext exts[16];
static int nexts;

void debug_register(const char *name, void (*fn)(client *c)) {
    if (nexts < (int)(sizeof(exts) / sizeof(exts[0]))) exts[nexts++] = (debug_ext){name, fn};
}

static void debug_help(client *c) {
    static const char *const help[] = {
        "CHANGE-REPL-ID",
        "    Accepted and ignored (no replication).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "JMAP",
        "    Accepted for compatibility; prints nothing.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "OBJECT <key>",
        "    Show low level info about the key and associated value.",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type.",
        "RELOAD",
        "    Serialize every key and load it back (a DUMP/RESTORE round trip).",
        "LOADAOF",
        "    Same as RELOAD (there is no AOF; absolute expire times are kept).",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "STRINGMATCH-TEST",
        "    Run a fuzz tester against the glob matcher.",
        "STORE-FAIL <n>",
        "    (Larder) Make the next n store operations fail.",
        "STORE-DELAY <ms>",
        "    (Larder) Hold every store operation's answer back ms after it ran.",
        NULL};
    reply_help(c, "debug", help);
}

static void digest_add(unsigned char *acc, const void *p, size_t len) {
    unsigned char h[SHA_DIGEST_LENGTH];
    SHA1(p, len, h);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) acc[i] ^= h[i];
}

/* One element of an unordered collection: its digest is XORed in, so the
 * order of a hash table does not matter (as Redis's DEBUG DIGEST). */
static void digest_element(void *ctx, const char *a, size_t alen, const char *b, size_t blen) {
    sbuf t = SBUF_INIT;
    uint64_t l = alen;
    sbuf_append(&t, &l, sizeof(l));
    sbuf_append(&t, a, alen);
    if (b) sbuf_append(&t, b, blen);
    digest_add(ctx, t.p, t.len);
    sbuf_free(&t);
}

/* DEBUG DIGEST mixes in the key; DIGEST-VALUE does not (a COPY digests alike). */
static void digest_of(const kobj *o, unsigned char *out, int with_key) {
    sbuf b = SBUF_INIT;
    if (with_key) sbuf_append(&b, kobj_key(o), o->klen);
    const kobj_type_ops *ops = o->type == OBJ_STRING ? NULL : kobj_type_ops_of(o->type);
    if (ops && ops->each) {
        unsigned char elems[SHA_DIGEST_LENGTH] = {0};
        ops->each(kobj_value(o), o->enc, digest_element, elems);
        sbuf_append(&b, &o->type, 1);
        sbuf_append(&b, elems, sizeof(elems));
    } else {
        dump_serialize(o, &b);
    }
    long long exp = kobj_expire(o);
    sbuf_append(&b, &exp, sizeof(exp));
    digest_add(out, b.p, b.len);
    sbuf_free(&b);
}

static void reply_hex(client *c, const unsigned char *d) {
    char hex[41];
    for (int i = 0; i < 20; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    reply_status(c, hex);
}

static void debug_digest(client *c) {
    unsigned char acc[20] = {0};
    for (int i = 0; i < server_db_count(); i++) {
        dict_iter it;
        dict_iter_init(&it, &server_db(i)->keys);
        kobj *o;
        while ((o = dict_iter_next(&it))) {
            unsigned char one[20] = {0};
            digest_of(o, one, 1);
            one[0] ^= (unsigned char)i;
            for (int k = 0; k < 20; k++) acc[k] ^= one[k];
        }
        dict_iter_done(&it);
    }
    reply_hex(c, acc);
}

static void debug_object(client *c) {
    kobj *o = db_find(c->db, c->argv[2].p, c->argv[2].len);
    if (!o) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    sbuf b = SBUF_INIT;
    dump_serialize(o, &b);
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u "
                     "lru_seconds_idle:%llu",
                     (void *)o, kobj_enc_name(o), b.len, (unsigned)o->lru, kobj_idle_ms(o) / 1000);
    sbuf_free(&b);
    if (o->type == OBJ_LIST && o->enc == ENC_QUICKLIST) { /* Redis's ql_* figures */
        const quicklist *ql = kobj_ptr(o);
        unsigned long sz = 0;
        for (const ql_node *nd = ql->head; nd; nd = nd->next) sz += nd->sz;
        snprintf(buf + n, sizeof(buf) - (size_t)n,
                 " ql_nodes:%lu ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
                 "ql_uncompressed_size:%lu",
                 ql->len, ql->len ? (double)ql->count / (double)ql->len : 0.0, ql->fill,
                 ql->compress != 0, sz);
    }
    reply_status(c, buf);
}

/* Every key goes through DUMP's serializer and back, db by db. Options as
 * Redis's: NOSAVE, NOFLUSH, MERGE. Without an RDB file the reload reads back
 * what is in memory, so they change nothing, except that NOFLUSH without
 * MERGE fails as Redis's does when a function library would load twice. */
static void debug_reload(client *c) {
    int noflush = 0, merge = 0;
    for (int j = 2; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "merge"))
            merge = 1;
        else if (arg_is(&c->argv[j], "noflush"))
            noflush = 1;
        else if (!arg_is(&c->argv[j], "nosave")) {
            reply_error(c, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
            return;
        }
    }
    if (noflush && !merge && function_library_count() > 0) {
        reply_error(c, "ERR Error trying to load the RDB dump");
        return;
    }
    for (int i = 0; i < server_db_count(); i++) {
        db *d = server_db(i);
        size_t n = db_size(d), k = 0;
        if (!n) continue;
        kobj **all = xmalloc(sizeof(kobj *) * n);
        dict_iter it;
        dict_iter_init(&it, &d->keys);
        kobj *o;
        while ((o = dict_iter_next(&it))) all[k++] = o;
        dict_iter_done(&it);
        for (k = 0; k < n; k++) {
            o = all[k];
            sbuf b = SBUF_INIT;
            if (dump_serialize(o, &b) != OK) {
                sbuf_free(&b);
                continue;
            }
            kobj *r = dump_deserialize(kobj_key(o), o->klen, b.p, b.len);
            sbuf_free(&b);
            if (!r) continue;
            r->lru = o->lru;
            if (o->flags & KF_EXPIRE) {
                kobj *e = kobj_relayout(r, 1, 0, r->type == OBJ_STRING ? r->vlen : 0);
                xfree(r);
                r = e;
                kobj_set_expire_field(r, kobj_expire(o));
            }
            db_replace(d, o, r);
        }
        xfree(all);
    }
    reply_ok(c);
}

static void debug_protocol(client *c) {
    const resp_arg *t = &c->argv[2];
    if (arg_is(t, "string")) {
        reply_bulk_cstr(c, "Hello World");
    } else if (arg_is(t, "integer")) {
        reply_int(c, 12345);
    } else if (arg_is(t, "double")) {
        reply_double(c, 3.141);
    } else if (arg_is(t, "bignum")) {
        reply_bignum(c, "1234567999999999999999999999999999999", 37);
    } else if (arg_is(t, "null")) {
        reply_null(c);
    } else if (arg_is(t, "array") || arg_is(t, "set")) {
        if (arg_is(t, "array"))
            reply_array(c, 3);
        else
            reply_set(c, 3);
        for (int j = 0; j < 3; j++) reply_int(c, j);
    } else if (arg_is(t, "map")) {
        reply_map(c, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(c, j);
            reply_bool(c, j == 1);
        }
    } else if (arg_is(t, "attrib")) {
        if (c->resp >= 3) {
            reply_attribute(c, 1);
            reply_bulk_cstr(c, "key-popularity");
            reply_array(c, 2);
            reply_bulk_cstr(c, "key:123");
            reply_int(c, 90);
        }
        reply_bulk_cstr(c, "Some real reply following the attribute");
    } else if (arg_is(t, "push")) {
        if (c->resp < 3) {
            reply_error(c, "ERR RESP2 is not supported by this command");
            return;
        }
        reply_push(c, 2);
        reply_bulk_cstr(c, "server-cpu-usage");
        reply_int(c, 42);
        reply_bulk_cstr(c, "Some real reply following the push reply");
    } else if (arg_is(t, "true") || arg_is(t, "false")) {
        reply_bool(c, arg_is(t, "true"));
    } else if (arg_is(t, "verbatim")) {
        reply_verbatim(c, "This is a verbatim\nstring", 25, "txt");
    } else {
        reply_error(
            c, "ERR Wrong protocol type name. Please use one of the following: "
               "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
    }
}

static void debug_populate(client *c) {
    long long keys, valsize = 0;
    if (arg_positive_or_reply(c, &c->argv[2], &keys, NULL) != OK) return;
    if (c->argc == 5 && arg_positive_or_reply(c, &c->argv[4], &valsize, NULL) != OK) return;
    const char *prefix = c->argc >= 4 ? c->argv[3].p : "key";
    dict_reserve(&c->db->keys, db_size(c->db) + (size_t)keys);
    char kbuf[256], vbuf[128];
    for (long long j = 0; j < keys; j++) {
        int kl = snprintf(kbuf, sizeof(kbuf), "%s:%lld", prefix, j);
        if (kl >= (int)sizeof(kbuf)) kl = sizeof(kbuf) - 1;
        if (db_lookup(c->db, kbuf, (size_t)kl, LOOKUP_NOTOUCH)) continue;
        int vl = snprintf(vbuf, sizeof(vbuf), "value:%lld", j);
        kobj *o;
        if (valsize == 0) {
            o = kobj_new_string(kbuf, (size_t)kl, vbuf, (size_t)vl, (size_t)vl);
        } else {
            o = kobj_new_string(kbuf, (size_t)kl, NULL, 0, (size_t)valsize);
            memset(kobj_val(o), 0, (size_t)valsize);
            memcpy(kobj_val(o), vbuf, (size_t)(valsize <= vl ? valsize : vl));
            o->vlen = (uint32_t)valsize;
            kobj_string_classify(o);
        }
        db_add(c->db, o);
        signal_modified_key(c, c->db, kbuf, (size_t)kl);
    }
    reply_ok(c);
}

static void debug_stringmatch(client *c) {
    /* fuzz the matcher with random patterns: it must terminate and not crash */
    char pat[50], str[50];
    for (int i = 0; i < 100000; i++) {
        int pl = rand() % 50, sl = rand() % 50;
        for (int k = 0; k < pl; k++) pat[k] = "*?[]^-\\ab"[rand() % 9];
        for (int k = 0; k < sl; k++) str[k] = "ab*?"[rand() % 4];
        glob_match(pat, (size_t)pl, str, (size_t)sl, rand() & 1);
    }
    reply_ok(c);
}

void debug_command(client *c) {
    const resp_arg *sub = &c->argv[1];
    if (c->argc == 2 && arg_is(sub, "help")) {
        debug_help(c);
    } else if (arg_is(sub, "sleep") && c->argc == 3) {
        double secs = strtod(c->argv[2].p, NULL);
        struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
        nanosleep(&ts, NULL);
        server_update_time();
        reply_ok(c);
    } else if (arg_is(sub, "set-active-expire") && c->argc == 3) {
        server_set_active_expire(atoi(c->argv[2].p));
        reply_ok(c);
    } else if (arg_is(sub, "object") && c->argc == 3) {
        debug_object(c);
    } else if (arg_is(sub, "log") && c->argc == 3) {
        server_log(LL_WARNING, "DEBUG LOG: %s", c->argv[2].p);
        reply_ok(c);
    } else if (arg_is(sub, "reload") || arg_is(sub, "loadaof")) {
        debug_reload(c); /* Larder has no AOF: LOADAOF is the same round trip */
    } else if (arg_is(sub, "protocol") && c->argc == 3) {
        debug_protocol(c);
    } else if (arg_is(sub, "populate") && c->argc >= 3 && c->argc <= 5) {
        debug_populate(c);
    } else if (arg_is(sub, "digest") && c->argc == 2) {
        debug_digest(c);
    } else if (arg_is(sub, "digest-value")) {
        reply_array(c, c->argc - 2);
        for (int j = 2; j < c->argc; j++) {
            unsigned char d[20] = {0};
            kobj *o = db_find(c->db, c->argv[j].p, c->argv[j].len);
            if (o) digest_of(o, d, 0);
            reply_hex(c, d);
        }
    } else if (arg_is(sub, "jmap") || arg_is(sub, "change-repl-id") ||
               arg_is(sub, "quicklist-packed-threshold") ||
               arg_is(sub, "set-skip-checksum-validation") ||
               arg_is(sub, "config-rewrite-force-all") || arg_is(sub, "pause-cron") ||
               arg_is(sub, "listpack") || arg_is(sub, "quicklist") || arg_is(sub, "replybuffer")) {
        reply_ok(c);
    } else if (arg_is(sub, "stringmatch-test") && c->argc == 2) {
        debug_stringmatch(c);
    } else if (arg_is(sub, "error") && c->argc == 3) {
        reply_error(c, c->argv[2].p);
    } else {
        for (int i = 0; i < nexts; i++) {
            if (arg_is(sub, exts[i].name)) {
                exts[i].fn(c);
                return;
            }
        }
        reply_errorf(c, "ERR unknown subcommand '%.128s'. Try DEBUG HELP.", sub->p);
    }
}
