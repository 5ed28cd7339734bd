/* commands/keys — the generic keyspace family: DEL UNLINK EXISTS TYPE KEYS
 * SCAN RENAME RENAMENX RANDOMKEY TOUCH COPY MOVE DUMP RESTORE, and the TTL
 * family (EXPIRE… TTL… PERSIST). Redis 7.0 semantics and error texts.
 *
 * DUMP format (ours; RESTORE accepts only it):
 *
 *   +------+----------------------+-----------+----------------+
 *   | type | value bytes (by type) | version:2 | CRC-64 LE : 8  |
 *   +------+----------------------+-----------+----------------+
 *
 * The CRC covers everything before it. A string's value bytes are the bytes
 * themselves; collection types serialize through their kobj_type_ops. */
#include "commands/commands.h"
#include "util/crc64.h"
#include "util/mem.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_VERSION 1

static void del_generic(client *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        lookup_write(c, &c->argv[j]); /* expire it first, as Redis does */
        n += delete_key_notify(c, c->db, c->argv[j].p, c->argv[j].len);
    }
    reply_int(c, n);
}

void del_command(client *c) {
    del_generic(c);
}
void unlink_command(client *c) {
    del_generic(c);
}

void exists_command(client *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++)
        if (db_lookup(c->db, c->argv[j].p, c->argv[j].len, LOOKUP_NOTOUCH)) n++;
    reply_int(c, n);
}

void touch_command(client *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++)
        if (lookup_read(c, &c->argv[j])) n++;
    reply_int(c, n);
}

void type_command(client *c) {
    kobj *o = db_lookup(c->db, c->argv[1].p, c->argv[1].len, LOOKUP_NOTOUCH);
    reply_status(c, o ? kobj_type_name(o->type) : "none");
}

void keys_command(client *c) {
    const resp_arg *pat = &c->argv[1];
    int all = pat->len == 1 && pat->p[0] == '*';
    void *h = reply_defer_len(c);
    long n = 0;
    dict_iter it;
    dict_iter_init(&it, &c->db->keys);
    kobj *o;
    while ((o = dict_iter_next(&it))) {
        if (kobj_is_expired(o)) continue; /* logically gone; expiry deletes it later */
        if (all || glob_match(pat->p, pat->len, kobj_key(o), o->klen, 0)) {
            reply_bulk(c, kobj_key(o), o->klen);
            n++;
        }
    }
    dict_iter_done(&it);
    reply_set_deferred_array(c, h, n);
}

/* ---- SCAN ------------------------------------------------------------------------- */

int scan_cursor_or_reply(client *c, const resp_arg *a, uint64_t *cursor) {
    char *end;
    errno = 0;
    /* strtoull as Redis's strtoul: "-1" is accepted (it wraps to 2^64-1) */
    if (a->len == 0 || isspace((unsigned char)a->p[0])) goto bad;
    *cursor = strtoull(a->p, &end, 10);
    if (*end != '\0' || errno == ERANGE) goto bad;
    return OK;
bad:
    reply_error(c, "ERR invalid cursor");
    return ERR;
}

int rand_count_args_or_reply(client *c, const char *with_word, long long *count, int *with) {
    *with = 0;
    if (arg_long_range_or_reply(c, &c->argv[2], -LLONG_MAX, LLONG_MAX, count, NULL) != OK)
        return ERR;
    if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], with_word))) {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    if (c->argc == 4) {
        *with = 1;
        if (*count < -LLONG_MAX / 2 || *count > LLONG_MAX / 2) { /* count * 2 replies */
            reply_error(c, "ERR value is out of range");
            return ERR;
        }
    }
    return OK;
}

int scan_options_or_reply(client *c, int first, int allow_type, scan_opts *o) {
    memset(o, 0, sizeof(*o));
    o->count = 10;
    for (int i = first; i < c->argc;) {
        int left = c->argc - i;
        if (arg_is(&c->argv[i], "count") && left >= 2) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], &o->count, NULL) != OK) return ERR;
            if (o->count < 1) {
                reply_error(c, ERR_SYNTAX);
                return ERR;
            }
            i += 2;
        } else if (arg_is(&c->argv[i], "match") && left >= 2) {
            o->pat = c->argv[i + 1].p;
            o->patlen = c->argv[i + 1].len;
            o->use_pattern = !(o->patlen == 1 && o->pat[0] == '*');
            i += 2;
        } else if (allow_type && arg_is(&c->argv[i], "type") && left >= 2) {
            o->type = &c->argv[i + 1];
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

int scan_matches(const scan_opts *o, const char *s, size_t len) {
    return !o->use_pattern || glob_match(o->pat, o->patlen, s, len, 0);
}

typedef struct scan_acc {
    sbuf keys; /* key bytes, concatenated */
    size_t *lens;
    size_t n, cap;
} scan_acc;

static void scan_collect(void *ctx, void *e) {
    scan_acc *a = ctx;
    kobj *o = e;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->lens = xrealloc(a->lens, sizeof(size_t) * a->cap);
    }
    sbuf_append(&a->keys, kobj_key(o), o->klen);
    a->lens[a->n++] = o->klen;
}

void scan_command(client *c) {
    uint64_t cursor;
    scan_opts opt;
    if (scan_cursor_or_reply(c, &c->argv[1], &cursor) != OK) return;
    if (scan_options_or_reply(c, 2, 1, &opt) != OK) return;
    scan_acc acc = {SBUF_INIT, NULL, 0, 0};
    long maxiter = opt.count * 10;
    do {
        cursor = dict_scan(&c->db->keys, cursor, scan_collect, &acc);
    } while (cursor && maxiter-- && acc.n < (size_t)opt.count);
    /* keys are copied out: filtering may expire (delete) entries */
    reply_array(c, 2);
    char buf[LONG_STR_SIZE];
    reply_bulk(c, buf, (size_t)ull_to_str(buf, cursor));
    void *h = reply_defer_len(c);
    long n = 0;
    size_t off = 0;
    for (size_t i = 0; i < acc.n; i++) {
        const char *k = acc.keys.p + off;
        size_t kl = acc.lens[i];
        off += kl;
        if (!scan_matches(&opt, k, kl)) continue;
        kobj *o = db_lookup(c->db, k, kl, LOOKUP_NOTOUCH);
        if (!o) continue;
        if (opt.type && !arg_is(opt.type, kobj_type_name(o->type))) continue;
        reply_bulk(c, k, kl);
        n++;
    }
    reply_set_deferred_array(c, h, n);
    sbuf_free(&acc.keys);
    xfree(acc.lens);
}

/* ---- RENAME / COPY / MOVE ------------------------------------------------------- */

static void rename_generic(client *c, int nx) {
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    kobj *o = lookup_write(c, src);
    if (!o) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        if (nx)
            reply_int(c, 0);
        else
            reply_ok(c);
        return;
    }
    if (lookup_write(c, dst)) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        db_delete(c->db, dst->p, dst->len);
    }
    o = db_unlink(c->db, src->p, src->len);
    o = kobj_rekey(o, dst->p, dst->len);
    db_add(c->db, o);
    hash_adopt_field_ttls(c->db, o);
    signal_modified_key(c, c->db, src->p, src->len);
    signal_modified_key(c, c->db, dst->p, dst->len);
    blocked_key_deleted(c->db, dst->p, dst->len);
    notify_keyspace_event(NOTIFY_GENERIC, "rename_from", src->p, src->len, c->db->id);
    notify_keyspace_event(NOTIFY_GENERIC, "rename_to", dst->p, dst->len, c->db->id);
    server_add_dirty(1);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

void rename_command(client *c) {
    rename_generic(c, 0);
}
void renamenx_command(client *c) {
    rename_generic(c, 1);
}

static int db_index_or_reply(client *c, const resp_arg *a, long long *id) {
    if (!str_to_ll(a->p, a->len, id) || *id < INT_MIN || *id > INT_MAX) {
        reply_error(c, ERR_NOT_INT);
        return ERR;
    }
    if (*id < 0 || *id >= server_db_count()) {
        reply_error(c, "ERR DB index is out of range");
        return ERR;
    }
    return OK;
}

void move_command(client *c) {
    long long id;
    if (db_index_or_reply(c, &c->argv[2], &id) != OK) return;
    db *src = c->db, *dst = server_db(id);
    if (src == dst) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    const resp_arg *key = &c->argv[1];
    kobj *o = lookup_write(c, key);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    kv_now_ms = server_mstime();
    if (db_lookup(dst, key->p, key->len, LOOKUP_NOTOUCH)) {
        reply_int(c, 0);
        return;
    }
    o = db_unlink(src, key->p, key->len);
    db_add(dst, o);
    hash_adopt_field_ttls(dst, o);
    signal_modified_key(c, src, key->p, key->len);
    signal_modified_key(c, dst, key->p, key->len);
    signal_key_as_ready(dst, key->p, key->len);
    notify_keyspace_event(NOTIFY_GENERIC, "move_from", key->p, key->len, src->id);
    notify_keyspace_event(NOTIFY_GENERIC, "move_to", key->p, key->len, dst->id);
    server_add_dirty(1);
    reply_int(c, 1);
}

void copy_command(client *c) {
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    db *dstdb = c->db;
    int replace = 0;
    for (int j = 3; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "replace")) {
            replace = 1;
        } else if (arg_is(&c->argv[j], "db") && j + 1 < c->argc) {
            long long id;
            if (db_index_or_reply(c, &c->argv[++j], &id) != OK) return;
            dstdb = server_db(id);
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (dstdb == c->db && src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    kobj *o = lookup_read(c, src);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    kobj *existing = db_lookup(dstdb, dst->p, dst->len, LOOKUP_NOTOUCH);
    if (existing && !replace) {
        reply_int(c, 0);
        return;
    }
    kobj *n = kobj_dup(o, dst->p, dst->len);
    if (existing)
        db_replace(dstdb, existing, n);
    else
        db_add(dstdb, n);
    hash_adopt_field_ttls(dstdb, n);
    signal_modified_key(c, dstdb, dst->p, dst->len);
    signal_key_as_ready(dstdb, dst->p, dst->len);
    notify_keyspace_event(NOTIFY_GENERIC, "copy_to", dst->p, dst->len, dstdb->id);
    server_add_dirty(1);
    reply_int(c, 1);
}

void randomkey_command(client *c) {
    for (int tries = 0; tries < 100 && db_size(c->db); tries++) {
        kobj *o = dict_random(&c->db->keys);
        if (!o) break;
        if (kobj_is_expired(o)) {
            /* delete it through the normal path (notifications, stats) */
            char *k = xmemdup(kobj_key(o), o->klen);
            size_t kl = o->klen;
            db_lookup(c->db, k, kl, LOOKUP_NOTOUCH);
            xfree(k);
            continue;
        }
        reply_bulk(c, kobj_key(o), o->klen);
        return;
    }
    reply_null(c);
}

/* ---- DUMP / RESTORE --------------------------------------------------------------- */

static void put_u16(sbuf *b, unsigned v) {
    unsigned char t[2] = {(unsigned char)(v & 0xff), (unsigned char)(v >> 8)};
    sbuf_append(b, t, 2);
}

/* The type byte and value bytes of o (DUMP without version and checksum). */
int dump_serialize(const kobj *o, sbuf *b) {
    unsigned char t = o->type;
    sbuf_append(b, &t, 1);
    if (o->type == OBJ_STRING) {
        sbuf_append(b, kobj_val(o), o->vlen);
        return OK;
    }
    const kobj_type_ops *ops = kobj_type_ops_of(o->type);
    if (!ops || !ops->serialize) return ERR;
    ops->serialize(kobj_value(o), o->enc, b);
    return OK;
}

/* An entry for key from dump_serialize's bytes; NULL when malformed. */
kobj *dump_deserialize(const char *key, size_t klen, const char *p, size_t len) {
    if (len < 1) return NULL;
    int type = (unsigned char)p[0];
    if (type == OBJ_STRING) return kobj_new_string(key, klen, p + 1, len - 1, len - 1);
    const kobj_type_ops *ops = kobj_type_ops_of(type);
    if (!ops || !ops->deserialize) return NULL;
    int enc = 0;
    void *v = ops->deserialize(p + 1, len - 1, &enc);
    return v ? kobj_new_value(type, enc, key, klen, v) : NULL;
}

void dump_command(client *c) {
    kobj *o = lookup_read(c, &c->argv[1]);
    if (!o) {
        reply_null(c);
        return;
    }
    sbuf b = SBUF_INIT;
    if (dump_serialize(o, &b) != OK) {
        reply_error(c, "ERR DUMP is not supported for this type");
        sbuf_free(&b);
        return;
    }
    put_u16(&b, DUMP_VERSION);
    uint64_t crc = crc64(0, b.p, b.len);
    unsigned char cb[8];
    for (int i = 0; i < 8; i++) cb[i] = (unsigned char)(crc >> (8 * i));
    sbuf_append(&b, cb, 8);
    reply_bulk(c, b.p, b.len);
    sbuf_free(&b);
}

static int dump_verify(const char *p, size_t len) {
    if (len < 11) return ERR;
    const unsigned char *u = (const unsigned char *)p;
    unsigned ver = u[len - 10] | (unsigned)u[len - 9] << 8;
    if (ver != DUMP_VERSION) return ERR;
    uint64_t crc = 0;
    for (int i = 7; i >= 0; i--) crc = crc << 8 | u[len - 8 + (size_t)i];
    return crc64(0, p, len - 8) == crc ? OK : ERR;
}

typedef struct restore_opts {
    int replace, absttl;
    long long idle, freq;
} restore_opts;

static int restore_parse(client *c, restore_opts *o) {
    o->replace = o->absttl = 0;
    o->idle = o->freq = -1;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_is(&c->argv[j], "replace")) {
            o->replace = 1;
        } else if (arg_is(&c->argv[j], "absttl")) {
            o->absttl = 1;
        } else if (arg_is(&c->argv[j], "idletime") && more >= 1 && o->freq == -1) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &o->idle, NULL) != OK) return ERR;
            if (o->idle < 0) {
                reply_error(c, "ERR Invalid IDLETIME value, must be >= 0");
                return ERR;
            }
            j++;
        } else if (arg_is(&c->argv[j], "freq") && more >= 1 && o->idle == -1) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &o->freq, NULL) != OK) return ERR;
            if (o->freq < 0 || o->freq > 255) {
                reply_error(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return ERR;
            }
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

void restore_command(client *c) {
    restore_opts opt;
    const resp_arg *key = &c->argv[1], *payload = &c->argv[3];
    if (restore_parse(c, &opt) != OK) return;
    if (!opt.replace && lookup_write(c, key)) {
        reply_error(c, "BUSYKEY Target key name already exists.");
        return;
    }
    long long ttl;
    if (arg_ll_or_reply(c, &c->argv[2], &ttl, NULL) != OK) return;
    if (ttl < 0) {
        reply_error(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    if (dump_verify(payload->p, payload->len) != OK) {
        reply_error(c, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    kobj *o = dump_deserialize(key->p, key->len, payload->p, payload->len - 10);
    if (!o) {
        reply_error(c, "ERR Bad data format");
        return;
    }
    int deleted = opt.replace && db_delete(c->db, key->p, key->len);
    if (ttl && !opt.absttl) ttl += server_mstime();
    if (ttl && ttl <= server_mstime()) {
        if (deleted) {
            signal_modified_key(c, c->db, key->p, key->len);
            notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
            server_add_dirty(1);
        }
        kobj_free(o);
        reply_ok(c);
        return;
    }
    db_add(c->db, o);
    hash_adopt_field_ttls(c->db, o);
    if (ttl) o = db_set_expire(c->db, o, ttl);
    if (opt.freq >= 0 && kv_lfu_mode)
        o->lru = kv_lfu_minutes() << 8 | (uint32_t)opt.freq;
    else if (opt.idle >= 0 && !kv_lfu_mode) {
        long long clk = (long long)kv_lru_clock - opt.idle;
        if (clk < 0) clk += LRU_CLOCK_MAX;
        o->lru = (uint32_t)clk & LRU_CLOCK_MAX;
    }
    signal_modified_key(c, c->db, key->p, key->len);
    signal_key_as_ready(c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_GENERIC, "restore", key->p, key->len, c->db->id);
    server_add_dirty(1);
    reply_ok(c);
}

/* ---- EXPIRE family ---------------------------------------------------------------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static int expire_flags_or_reply(client *c, int *flags) {
    *flags = 0;
    for (int j = 3; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "nx"))
            *flags |= EXP_NX;
        else if (arg_is(a, "xx"))
            *flags |= EXP_XX;
        else if (arg_is(a, "gt"))
            *flags |= EXP_GT;
        else if (arg_is(a, "lt"))
            *flags |= EXP_LT;
        else {
            reply_errorf(c, "ERR Unsupported option %s", a->p);
            return ERR;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return ERR;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return ERR;
    }
    return OK;
}

/* 1 when the flags allow replacing current (-1: none) by when. */
static int expire_allowed(int flags, long long current, long long when) {
    if ((flags & EXP_NX) && current != -1) return 0;
    if ((flags & EXP_XX) && current == -1) return 0;
    if ((flags & EXP_GT) && (when <= current || current == -1)) return 0;
    if ((flags & EXP_LT) && current != -1 && when >= current) return 0;
    return 1;
}

static void expire_generic(client *c, long long basetime, int unit) {
    const resp_arg *key = &c->argv[1];
    int flags;
    long long when;
    if (expire_flags_or_reply(c, &flags) != OK) return;
    if (arg_ll_or_reply(c, &c->argv[2], &when, NULL) != OK) return;
    if (unit == UNIT_SECONDS) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) goto bad_time;
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) goto bad_time;
    when += basetime;
    kobj *o = lookup_write(c, key);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (flags && !expire_allowed(flags, kobj_expire(o), when)) {
        reply_int(c, 0);
        return;
    }
    if (when <= server_mstime() && !server_loading()) {
        db_delete(c->db, key->p, key->len);
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
    } else {
        db_set_expire(c->db, o, when);
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_GENERIC, "expire", key->p, key->len, c->db->id);
    }
    server_add_dirty(1);
    reply_int(c, 1);
    return;
bad_time:
    reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
}

void expire_command(client *c) {
    expire_generic(c, server_mstime(), UNIT_SECONDS);
}
void pexpire_command(client *c) {
    expire_generic(c, server_mstime(), UNIT_MS);
}
void expireat_command(client *c) {
    expire_generic(c, 0, UNIT_SECONDS);
}
void pexpireat_command(client *c) {
    expire_generic(c, 0, UNIT_MS);
}

static void ttl_generic(client *c, int ms, int absolute) {
    kobj *o = db_lookup(c->db, c->argv[1].p, c->argv[1].len, LOOKUP_NOTOUCH);
    if (!o) {
        reply_int(c, -2);
        return;
    }
    long long expire = kobj_expire(o);
    if (expire == -1) {
        reply_int(c, -1);
        return;
    }
    long long ttl = absolute ? expire : expire - server_mstime();
    if (ttl < 0) ttl = 0;
    reply_int(c, ms ? ttl : (ttl + 500) / 1000);
}

void ttl_command(client *c) {
    ttl_generic(c, 0, 0);
}
void pttl_command(client *c) {
    ttl_generic(c, 1, 0);
}
void expiretime_command(client *c) {
    ttl_generic(c, 0, 1);
}
void pexpiretime_command(client *c) {
    ttl_generic(c, 1, 1);
}

void persist_command(client *c) {
    kobj *o = lookup_write(c, &c->argv[1]);
    if (!o || !(o->flags & KF_EXPIRE)) {
        reply_int(c, 0);
        return;
    }
    db_persist(c->db, o);
    signal_modified_key(c, c->db, c->argv[1].p, c->argv[1].len);
    notify_keyspace_event(NOTIFY_GENERIC, "persist", c->argv[1].p, c->argv[1].len, c->db->id);
    server_add_dirty(1);
    reply_int(c, 1);
}

/* ---- MIGRATE: known (its keys, for ACL and COMMAND GETKEYS), refused ----------- */

/* Redis's migrateGetKeys (where its incomplete key specs stop short, see
 * keyspecs_keys): the key at 3, or with an empty one there, the keys after
 * KEYS (AUTH's and AUTH2's arguments are skipped, not read as KEYS); KEYS
 * after a key that is not empty names no key at all. */
int getkeys_migrate(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    int first = 3, num = 1;
    for (int i = 6; i < argc; i++) {
        if (arg_is(&argv[i], "keys")) {
            if (argv[3].len != 0) return 0;
            first = i + 1;
            num = argc - first;
            break;
        }
        if (arg_is(&argv[i], "auth"))
            i += 1;
        else if (arg_is(&argv[i], "auth2"))
            i += 2;
    }
    int n = 0;
    for (int i = 0; i < num && n < max && first + i < argc; i++) keys[n++] = first + i;
    return n;
}

void migrate_command(client *c) {
    reply_error(c, "ERR MIGRATE is not supported: Larder has no cluster and no replication");
}
