/* commands/strings — the string family, Redis 7.0 semantics and error texts.
 *
 * String values live inside the keyspace entry (kv/object.h): SET on an
 * existing string of similar size rewrites the bytes in place, so the common
 * overwrite costs no allocation. */
#include "commands/commands.h"
#include "util/mem.h"
#include <limits.h>
#include <math.h>
#include <string.h>

enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_EX = 1 << 2,
    SET_PX = 1 << 3,
    SET_KEEPTTL = 1 << 4,
    SET_GET = 1 << 5,
    SET_EXAT = 1 << 6,
    SET_PXAT = 1 << 7,
    SET_PERSIST = 1 << 8,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

static int check_string_length(client *c, long long size, long long append) {
    long long total = (long long)((unsigned long long)size + (unsigned long long)append);
    if (total > server_proto_max_bulk_len() || total < size || total < append) {
        reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return ERR;
    }
    return OK;
}

int expire_arg_or_reply(client *c, const resp_arg *a, int unit, int absolute, int64_t *out) {
    long long v;
    if (arg_ll_or_reply(c, a, &v, NULL) != OK) return ERR;
    if (v <= 0 || (unit == UNIT_SECONDS && v > LLONG_MAX / 1000)) goto bad;
    if (unit == UNIT_SECONDS) v *= 1000;
    if (!absolute) {
        if (v > LLONG_MAX - server_mstime()) goto bad;
        v += server_mstime();
    }
    if (v <= 0) goto bad;
    *out = v;
    return OK;
bad:
    reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
    return ERR;
}

/* Parses SET's (is_get=0) or GETEX's (1) options from argv[first]. */
static int parse_ext_args(client *c, int first, int is_get, int *flags, int *unit,
                          const resp_arg **expire) {
    for (int j = first; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        int next = j + 1 < c->argc;
        int f = *flags;
        if (arg_is(a, "nx") && !(f & SET_XX) && !is_get) {
            *flags |= SET_NX;
        } else if (arg_is(a, "xx") && !(f & SET_NX) && !is_get) {
            *flags |= SET_XX;
        } else if (arg_is(a, "get") && !is_get) {
            *flags |= SET_GET;
        } else if (arg_is(a, "keepttl") && !(f & (SET_PERSIST | SET_ANY_EXPIRE)) && !is_get) {
            *flags |= SET_KEEPTTL;
        } else if (arg_is(a, "persist") && is_get && !(f & (SET_ANY_EXPIRE | SET_KEEPTTL))) {
            *flags |= SET_PERSIST;
        } else if (arg_is(a, "ex") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EXAT | SET_PX | SET_PXAT)) && next) {
            *flags |= SET_EX;
            *expire = &c->argv[++j];
        } else if (arg_is(a, "px") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PXAT)) && next) {
            *flags |= SET_PX;
            *unit = UNIT_MS;
            *expire = &c->argv[++j];
        } else if (arg_is(a, "exat") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EX | SET_PX | SET_PXAT)) && next) {
            *flags |= SET_EXAT;
            *expire = &c->argv[++j];
        } else if (arg_is(a, "pxat") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PX)) && next) {
            *flags |= SET_PXAT;
            *unit = UNIT_MS;
            *expire = &c->argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

/* set_string_key with the key's current entry (old, NULL if absent) and
 * hash already looked up. */
static kobj *set_string_key_at(client *c, const resp_arg *key, const char *val, size_t vlen,
                               int64_t expire, int keepttl, kobj *old, uint64_t h) {
    db *d = c->db;
    if (keepttl && old && expire < 0) expire = kobj_expire(old);
    kobj *o;
    size_t cap = 0; /* the old entry's room, asked once (malloc_usable_size is no field) */
    if (old && old->type == OBJ_STRING && !(old->flags & KF_META) &&
        ((old->flags & KF_EXPIRE) != 0) == (expire >= 0) &&
        (cap = kobj_str_capacity(old)) >= vlen && (vlen >= cap / 2 || cap <= 64)) {
        o = old; /* overwrite in place */
        memcpy(kobj_val(o), val, vlen);
        o->vlen = (uint32_t)vlen;
        if (expire >= 0) kobj_set_expire_field(o, expire);
        o->flags &= (uint8_t)(KF_EXPIRE | KF_META);
        kobj_string_classify(o);
        kobj_init_access(o);
    } else {
        o = kobj_new_string_ex(key->p, key->len, val, vlen, vlen, expire);
        if (old)
            db_replace(d, old, o);
        else
            db_add_h(d, o, h);
    }
    signal_modified_key(c, d, key->p, key->len);
    return o;
}

kobj *set_string_key(client *c, const resp_arg *key, const char *val, size_t vlen, int64_t expire,
                     int keepttl) {
    uint64_t h;
    kobj *old = dict_find_h(&c->db->keys, key->p, key->len, &h);
    return set_string_key_at(c, key, val, vlen, expire, keepttl, old, h);
}

/* GET's core: replies the value or null. ERR on a wrong type (replied). */
static int get_generic(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return ERR;
    if (!o)
        reply_null(c);
    else
        reply_string_value(c, o);
    return OK;
}

/* int_reply: SETNX's replies, 1 when set and 0 when not, in place of OK and nil. */
static void set_generic(client *c, int flags, const resp_arg *key, const resp_arg *val,
                        const resp_arg *expire, int unit, int int_reply) {
    int64_t ms = -1;
    if (expire &&
        expire_arg_or_reply(c, expire, unit, (flags & (SET_EXAT | SET_PXAT)) != 0, &ms) != OK)
        return;
    if ((flags & SET_GET) && get_generic(c) != OK) return;
    uint64_t h;
    kobj *old = db_lookup_h(c->db, key->p, key->len, 0, &h); /* expires it if stale */
    int found = old != NULL;
    if (((flags & SET_NX) && found) || ((flags & SET_XX) && !found)) {
        if (!(flags & SET_GET)) {
            if (int_reply)
                reply_int(c, 0);
            else
                reply_null(c);
        }
        return;
    }
    set_string_key_at(c, key, val->p, val->len, ms, (flags & SET_KEEPTTL) != 0, old, h);
    server_add_dirty(1);
    notify_keyspace_event(NOTIFY_STRING, "set", key->p, key->len, c->db->id);
    if (expire) notify_keyspace_event(NOTIFY_GENERIC, "expire", key->p, key->len, c->db->id);
    if (!(flags & SET_GET)) {
        if (int_reply)
            reply_int(c, 1);
        else
            reply_ok(c);
    }
}

void set_command(client *c) {
    int flags = 0, unit = UNIT_SECONDS;
    const resp_arg *expire = NULL;
    if (parse_ext_args(c, 3, 0, &flags, &unit, &expire) != OK) return;
    set_generic(c, flags, &c->argv[1], &c->argv[2], expire, unit, 0);
}

void setnx_command(client *c) {
    set_generic(c, SET_NX, &c->argv[1], &c->argv[2], NULL, 0, 1);
}

void setex_command(client *c) {
    set_generic(c, SET_EX, &c->argv[1], &c->argv[3], &c->argv[2], UNIT_SECONDS, 0);
}

void psetex_command(client *c) {
    set_generic(c, SET_PX, &c->argv[1], &c->argv[3], &c->argv[2], UNIT_MS, 0);
}

void get_command(client *c) {
    get_generic(c);
}

void getex_command(client *c) {
    int flags = 0, unit = UNIT_SECONDS;
    const resp_arg *expire = NULL;
    if (parse_ext_args(c, 2, 1, &flags, &unit, &expire) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    if (!o) {
        reply_null(c);
        return;
    }
    int64_t ms = 0;
    if (expire &&
        expire_arg_or_reply(c, expire, unit, (flags & (SET_EXAT | SET_PXAT)) != 0, &ms) != OK)
        return;
    reply_string_value(c, o);
    const resp_arg *key = &c->argv[1];
    if ((flags & (SET_PXAT | SET_EXAT)) && ms < server_mstime()) {
        db_delete(c->db, key->p, key->len);
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
        server_add_dirty(1);
    } else if (expire) {
        db_set_expire(c->db, o, ms);
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_GENERIC, "expire", key->p, key->len, c->db->id);
        server_add_dirty(1);
    } else if ((flags & SET_PERSIST) && (o->flags & KF_EXPIRE)) {
        db_persist(c->db, o);
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_GENERIC, "persist", key->p, key->len, c->db->id);
        server_add_dirty(1);
    }
}

int delete_key_notify(client *c, db *d, const char *key, size_t len) {
    if (!db_delete(d, key, len)) return 0;
    signal_modified_key(c, d, key, len);
    notify_keyspace_event(NOTIFY_GENERIC, "del", key, len, d->id);
    server_add_dirty(1);
    return 1;
}

void getdel_command(client *c) {
    if (get_generic(c) != OK) return;
    delete_key_notify(c, c->db, c->argv[1].p, c->argv[1].len);
}

void getset_command(client *c) {
    if (get_generic(c) != OK) return;
    set_string_key(c, &c->argv[1], c->argv[2].p, c->argv[2].len, -1, 0);
    notify_keyspace_event(NOTIFY_STRING, "set", c->argv[1].p, c->argv[1].len, c->db->id);
    server_add_dirty(1);
}

void mget_command(client *c) {
    reply_array(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        kobj *o = lookup_read(c, &c->argv[j]);
        if (!o || o->type != OBJ_STRING)
            reply_null(c);
        else
            reply_string_value(c, o);
    }
}

static void mset_generic(client *c, int nx) {
    if (c->argc % 2 == 0) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            if (lookup_write(c, &c->argv[j])) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        set_string_key(c, &c->argv[j], c->argv[j + 1].p, c->argv[j + 1].len, -1, 0);
        notify_keyspace_event(NOTIFY_STRING, "set", c->argv[j].p, c->argv[j].len, c->db->id);
    }
    server_add_dirty((c->argc - 1) / 2);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

void mset_command(client *c) {
    mset_generic(c, 0);
}
void msetnx_command(client *c) {
    mset_generic(c, 1);
}

/* Writes a new string value into an existing or new key, keeping its expire. */
static kobj *store_value(client *c, kobj *o, const resp_arg *key, const char *val, size_t vlen) {
    if (o) return db_set_string_value(c->db, o, val, vlen);
    o = kobj_new_string(key->p, key->len, val, vlen, vlen);
    db_add(c->db, o);
    return o;
}

static void incr_decr(client *c, long long incr) {
    int err;
    kobj *o = lookup_write_typed(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    long long value = 0;
    if (o && !str_to_ll(kobj_val(o), o->vlen, &value)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
        (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char buf[LONG_STR_SIZE];
    int n = ll_to_str(buf, value);
    store_value(c, o, &c->argv[1], buf, (size_t)n);
    signal_modified_key(c, c->db, c->argv[1].p, c->argv[1].len);
    notify_keyspace_event(NOTIFY_STRING, "incrby", c->argv[1].p, c->argv[1].len, c->db->id);
    server_add_dirty(1);
    reply_int(c, value);
}

void incr_command(client *c) {
    incr_decr(c, 1);
}
void decr_command(client *c) {
    incr_decr(c, -1);
}

void incrby_command(client *c) {
    long long incr;
    if (arg_ll_or_reply(c, &c->argv[2], &incr, NULL) != OK) return;
    incr_decr(c, incr);
}

void decrby_command(client *c) {
    long long incr;
    if (arg_ll_or_reply(c, &c->argv[2], &incr, NULL) != OK) return;
    if (incr == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_decr(c, -incr);
}

void incrbyfloat_command(client *c) {
    int err;
    kobj *o = lookup_write_typed(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    long double value = 0, incr;
    if (o && !str_to_ldouble(kobj_val(o), o->vlen, &value)) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    if (arg_ldouble_or_reply(c, &c->argv[2], &incr, NULL) != OK) return;
    value += incr;
    char buf[MAX_LONG_DOUBLE_CHARS];
    int n;
    if (isnan(value) || isinf(value) || (n = ldouble_to_str(buf, sizeof(buf), value)) == 0) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    store_value(c, o, &c->argv[1], buf, (size_t)n);
    signal_modified_key(c, c->db, c->argv[1].p, c->argv[1].len);
    notify_keyspace_event(NOTIFY_STRING, "incrbyfloat", c->argv[1].p, c->argv[1].len, c->db->id);
    server_add_dirty(1);
    reply_bulk(c, buf, (size_t)n);
}

void append_command(client *c) {
    int err;
    const resp_arg *key = &c->argv[1], *val = &c->argv[2];
    kobj *o = lookup_write_typed(c, key, OBJ_STRING, &err);
    if (err) return;
    size_t total;
    if (!o) {
        o = kobj_new_string(key->p, key->len, val->p, val->len, val->len);
        db_add(c->db, o);
        total = val->len;
    } else {
        if (check_string_length(c, o->vlen, (long long)val->len) != OK) return;
        total = o->vlen + val->len;
        if (kobj_str_capacity(o) < total) {
            /* grow geometrically (up to 1 MiB extra) so repeated APPENDs amortize */
            size_t cap = total < 1024 * 1024 ? total * 2 : total + 1024 * 1024;
            o = db_reserve_string(c->db, o, cap);
        }
        memcpy(kobj_val(o) + o->vlen, val->p, val->len);
        o->vlen = (uint32_t)total;
        o->enc = ENC_RAW;
    }
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_STRING, "append", key->p, key->len, c->db->id);
    server_add_dirty(1);
    reply_int(c, (long long)total);
}

void strlen_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    reply_int(c, o ? o->vlen : 0);
}

void getrange_command(client *c) {
    long long start, end;
    if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) != OK) return;
    if (arg_ll_or_reply(c, &c->argv[3], &end, NULL) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    if (!o) {
        reply_bulk(c, "", 0);
        return;
    }
    long long len = o->vlen;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0)
        reply_bulk(c, "", 0);
    else
        reply_bulk(c, kobj_val(o) + start, (size_t)(end - start + 1));
}

void setrange_command(client *c) {
    long long offset;
    const resp_arg *key = &c->argv[1], *val = &c->argv[3];
    if (arg_ll_or_reply(c, &c->argv[2], &offset, NULL) != OK) return;
    if (offset < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_STRING, &err);
    if (err) return;
    if (!o) {
        if (val->len == 0) {
            reply_int(c, 0);
            return;
        }
        if (check_string_length(c, offset, (long long)val->len) != OK) return;
        size_t total = (size_t)offset + val->len;
        o = kobj_new_string(key->p, key->len, NULL, 0, total);
        memset(kobj_val(o), 0, total);
        o->vlen = (uint32_t)total;
        db_add(c->db, o);
    } else {
        if (val->len == 0) {
            reply_int(c, o->vlen);
            return;
        }
        if (check_string_length(c, offset, (long long)val->len) != OK) return;
        size_t total = (size_t)offset + val->len;
        if (total > o->vlen) {
            size_t oldlen = o->vlen;
            o = db_reserve_string(c->db, o, total);
            memset(kobj_val(o) + oldlen, 0, total - oldlen);
            o->vlen = (uint32_t)total;
        }
    }
    memcpy(kobj_val(o) + offset, val->p, val->len);
    o->enc = ENC_RAW;
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_STRING, "setrange", key->p, key->len, c->db->id);
    server_add_dirty(1);
    reply_int(c, o->vlen);
}

/* ---- LCS ------------------------------------------------------------------------ */

typedef struct lcs_opts {
    int getlen, getidx, withmatchlen;
    long long minmatchlen;
} lcs_opts;

static int lcs_parse(client *c, lcs_opts *o) {
    memset(o, 0, sizeof(*o));
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_is(&c->argv[j], "idx"))
            o->getidx = 1;
        else if (arg_is(&c->argv[j], "len"))
            o->getlen = 1;
        else if (arg_is(&c->argv[j], "withmatchlen"))
            o->withmatchlen = 1;
        else if (arg_is(&c->argv[j], "minmatchlen") && more) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &o->minmatchlen, NULL) != OK) return ERR;
            if (o->minmatchlen < 0) o->minmatchlen = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    if (o->getlen && o->getidx) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return ERR;
    }
    return OK;
}

/* Walks the DP table back from the end, emitting matched ranges (as Redis
 * does, so the IDX output is the same) and writing the LCS into out. */
static void lcs_emit(client *c, const lcs_opts *op, const char *a, uint32_t alen, const char *b,
                     uint32_t blen, const uint32_t *t, char *out, long *nranges) {
#define T(i, j) t[(size_t)(j) + (size_t)(i) * (blen + 1)]
    uint32_t i = alen, j = blen, idx = T(alen, blen);
    uint32_t as = alen, ae = 0, bs = 0, be = 0;
    while (i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            out[idx - 1] = a[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = 1;
            }
            if (as == 0 || bs == 0) emit = 1;
            idx--;
            i--;
            j--;
        } else {
            if (T(i - 1, j) > T(i, j - 1))
                i--;
            else
                j--;
            if (as != alen) emit = 1;
        }
        uint32_t mlen = ae - as + 1;
        if (emit) {
            if (op->getidx && (op->minmatchlen == 0 || mlen >= op->minmatchlen)) {
                reply_array(c, 2 + op->withmatchlen);
                reply_array(c, 2);
                reply_int(c, as);
                reply_int(c, ae);
                reply_array(c, 2);
                reply_int(c, bs);
                reply_int(c, be);
                if (op->withmatchlen) reply_int(c, mlen);
                (*nranges)++;
            }
            as = alen;
        }
    }
#undef T
}

void lcs_command(client *c) {
    kobj *oa = lookup_read(c, &c->argv[1]), *ob = lookup_read(c, &c->argv[2]);
    if ((oa && oa->type != OBJ_STRING) || (ob && ob->type != OBJ_STRING)) {
        reply_error(c, "ERR The specified keys must contain string values");
        return;
    }
    lcs_opts op;
    if (lcs_parse(c, &op) != OK) return;
    const char *a = oa ? kobj_val(oa) : "", *b = ob ? kobj_val(ob) : "";
    uint32_t alen = oa ? oa->vlen : 0, blen = ob ? ob->vlen : 0;
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    if (cells * sizeof(uint32_t) > (unsigned long long)server_proto_max_bulk_len()) {
        reply_error(c,
                    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    uint32_t *t = xmalloc(cells * sizeof(uint32_t));
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            size_t at = (size_t)j + (size_t)i * (blen + 1);
            if (i == 0 || j == 0)
                t[at] = 0;
            else if (a[i - 1] == b[j - 1])
                t[at] = t[(size_t)(j - 1) + (size_t)(i - 1) * (blen + 1)] + 1;
            else {
                uint32_t l1 = t[(size_t)j + (size_t)(i - 1) * (blen + 1)], l2 = t[at - 1];
                t[at] = l1 > l2 ? l1 : l2;
            }
        }
    }
    uint32_t total = t[cells - 1];
    char *out = xmalloc(total + 1);
    long nranges = 0;
    void *h = NULL;
    if (op.getidx) {
        reply_map(c, 2);
        reply_bulk_cstr(c, "matches");
        h = reply_defer_len(c);
    }
    if (op.getidx || !op.getlen) lcs_emit(c, &op, a, alen, b, blen, t, out, &nranges);
    if (op.getidx) {
        reply_bulk_cstr(c, "len");
        reply_int(c, total);
        reply_set_deferred_array(c, h, nranges);
    } else if (op.getlen) {
        reply_int(c, total);
    } else {
        reply_bulk(c, out, total);
    }
    xfree(out);
    xfree(t);
}

int getkeys_lcs(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    (void)argv;
    int n = 0;
    for (int i = 1; i <= 2 && i < argc && n < max; i++) keys[n++] = i;
    return n;
}
