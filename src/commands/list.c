/* commands/list — the list type (Redis 7.0 semantics and error texts):
 * LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM
 * LTRIM LPOS LMOVE RPOPLPUSH LMPOP and the blocking BLPOP BRPOP BLMOVE
 * BRPOPLPUSH BLMPOP, plus the list's kobj_type_ops (free, COPY, MEMORY
 * USAGE, DUMP/RESTORE).
 *
 * Every list is a quicklist (kv/quicklist.h) created with the
 * list-max-listpack-size and list-compress-depth in force at creation; an
 * empty list never stays in the keyspace (the command that empties it
 * deletes the key and notifies "del").
 *
 * Blocking: a blocking command that finds nothing parks the client with
 * block_for_keys(). When a key it waits on is signalled ready (a list was
 * created, or a key moved into place), blocked.c re-runs the command; in that
 * mode the handler looks only at the ready key (blocked_ready_key()), serves
 * the client if that key now holds a list, and otherwise calls
 * block_for_keys() again, which keeps the client's FIFO place. A key of
 * another type does not wake a waiter (as in Redis); a BLMOVE whose
 * destination has the wrong type gets WRONGTYPE and is unblocked. */
#include "commands/commands.h"
#include "kv/listpack.h"
#include "kv/quicklist.h"
#include "util/mem.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- type ops: free, COPY, MEMORY USAGE, DUMP/RESTORE ------------------------ */

static void list_free_value(void *p, int enc) {
    (void)enc;
    ql_free(p);
}

static void *list_dup_value(const void *p, int enc) {
    (void)enc;
    return ql_dup(p);
}

/* Like Redis: the struct, plus the average of the first `samples` nodes
 * (0: all of them) times the number of nodes. */
static size_t list_mem_value(const void *p, int enc, size_t samples) {
    (void)enc;
    const quicklist *ql = p;
    size_t total = xmem_usable(ql), nodes = 0, sum = 0;
    for (const ql_node *n = ql->head; n && (!samples || nodes < samples); n = n->next) {
        sum += xmem_usable(n) + xmem_usable(n->data);
        nodes++;
    }
    if (nodes) total += (size_t)((double)sum / (double)nodes * (double)ql->len);
    return total;
}

/* Serialized form (DUMP, DEBUG RELOAD):
 *   u32 node count, then per node: u32 byte length + the node's listpack
 * (uncompressed). Little-endian. RESTORE checks every listpack. */
static void put_u32(sbuf *b, uint32_t v) {
    unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    sbuf_append(b, t, 4);
}

static uint32_t get_u32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static void list_serialize(const void *p, int enc, sbuf *out) {
    (void)enc;
    const quicklist *ql = p;
    put_u32(out, (uint32_t)ql->len);
    for (const ql_node *n = ql->head; n; n = n->next) {
        unsigned char *tmp;
        const unsigned char *lp = ql_node_listpack(n, &tmp);
        put_u32(out, n->sz);
        sbuf_append(out, lp, n->sz);
        xfree(tmp);
    }
}

static quicklist *list_new(void) {
    return ql_new((int)server_type_limits()->list_max_listpack_size,
                  (int)server_type_limits()->list_compress_depth);
}

static void *list_deserialize(const char *p, size_t len, int *enc) {
    if (len < 4) return NULL;
    uint32_t nodes = get_u32(p);
    size_t off = 4;
    quicklist *ql = list_new();
    for (uint32_t i = 0; i < nodes; i++) {
        if (len - off < 4) goto bad;
        uint32_t sz = get_u32(p + off);
        off += 4;
        if (len - off < sz || !lp_validate((const unsigned char *)p + off, sz)) goto bad;
        uint32_t cnt = lp_count((const unsigned char *)p + off);
        if (cnt > 65535) goto bad;
        if (cnt) { /* empty listpacks are skipped, as Redis does */
            unsigned char *lp = xmalloc(sz);
            memcpy(lp, p + off, sz);
            ql_append_listpack(ql, lp);
        }
        off += sz;
    }
    if (off != len || ql_count(ql) == 0) goto bad;
    *enc = ENC_QUICKLIST;
    return ql;
bad:
    ql_free(ql);
    return NULL;
}

static const kobj_type_ops list_ops = {
    .name = "list",
    .free_value = list_free_value,
    .dup_value = list_dup_value,
    .mem_value = list_mem_value,
    .enc_name = NULL, /* ENC_QUICKLIST prints "quicklist" */
    .serialize = list_serialize,
    .deserialize = list_deserialize,
};

/* SORT's view of a list (commands.h, sort_type_ops). */
static unsigned long list_sort_length(kobj *o) {
    return ql_count(kobj_ptr(o));
}

static void list_sort_range(kobj *o, unsigned long start, unsigned long count, int desc,
                            sort_elem_fn *cb, void *ctx) {
    quicklist *ql = kobj_ptr(o);
    ql_iter it;
    ql_entry e;
    long from = desc ? (long)(ql_count(ql) - start - 1) : (long)start;
    if (!count || !ql_iter_init_at(&it, ql, from, desc ? QL_REV : QL_FWD)) return;
    while (count-- && ql_next(&it, &e)) cb(ctx, e.s, e.len);
    ql_iter_done(&it);
}

static const sort_type_ops list_sort_ops = {
    .length = list_sort_length,
    .range = list_sort_range,
};

__attribute__((constructor)) static void list_register(void) {
    kobj_register_type(OBJ_LIST, &list_ops);
    sort_register_type(OBJ_LIST, &list_sort_ops);
}

/* ---- shared helpers ----------------------------------------------------------- */

enum { LIST_HEAD = QL_HEAD, LIST_TAIL = QL_TAIL };

static inline quicklist *ql_of(kobj *o) {
    return kobj_ptr(o);
}

/* A new, empty list under key (the caller pushes at once). Like Redis's
 * dbAdd, the creation wakes clients blocked on the key. */
static quicklist *list_create_key(db *d, const char *key, size_t klen) {
    quicklist *ql = list_new();
    db_add(d, kobj_new_ptr(OBJ_LIST, ENC_QUICKLIST, key, klen, ql));
    signal_key_as_ready(d, key, klen);
    return ql;
}

/* After elements were popped from key: events, deletion of an emptied list,
 * WATCH, dirty. *deleted (if given) tells whether the key went away. */
static void list_removed(client *c, const char *key, size_t klen, int where, quicklist *ql,
                         long long count, int *deleted) {
    notify_keyspace_event(NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", key, klen, c->db->id);
    int gone = ql_count(ql) == 0;
    if (gone) {
        db_delete(c->db, key, klen); /* frees ql */
        notify_keyspace_event(NOTIFY_GENERIC, "del", key, klen, c->db->id);
    }
    if (deleted) *deleted = gone;
    signal_modified_key(c, c->db, key, klen);
    server_add_dirty(count);
}

/* Deletes the key of a list that an operation emptied; 1 if it did. */
static int list_delete_if_empty(client *c, const resp_arg *key, quicklist *ql) {
    if (ql_count(ql)) return 0;
    db_delete(c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
    return 1;
}

/* Replies elements start..end (inclusive; negative from the end), reversed
 * when asked, as an array (Redis's addListRangeReply). */
static void reply_list_range(client *c, quicklist *ql, long long start, long long end,
                             int reverse) {
    long long llen = (long long)ql_count(ql);
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        reply_empty_array(c);
        return;
    }
    if (end >= llen) end = llen - 1;
    long long n = end - start + 1;
    reply_array(c, (long)n);
    ql_iter it;
    ql_entry e;
    ql_iter_init_at(&it, ql, (long)(reverse ? end : start), reverse ? QL_REV : QL_FWD);
    while (n-- > 0 && ql_next(&it, &e)) reply_bulk(c, e.s, e.len);
    ql_iter_done(&it);
}

/* Pops up to count elements from one end, replying them as an array in pop
 * order, and does the bookkeeping. */
static void pop_range_reply(client *c, const char *key, size_t klen, quicklist *ql, int where,
                            long long count, int *deleted) {
    long long llen = (long long)ql_count(ql);
    long long n = count > llen ? llen : count;
    if (where == LIST_HEAD)
        reply_list_range(c, ql, 0, n - 1, 0);
    else
        reply_list_range(c, ql, -n, -1, 1);
    ql_del_range(ql, where == LIST_HEAD ? 0 : (long)-n, (unsigned long)n);
    list_removed(c, key, klen, where, ql, n, deleted);
}

/* [key, [elements...]] — LMPOP/BLMPOP's reply. */
static void pop_range_reply_with_key(client *c, const resp_arg *key, quicklist *ql, int where,
                                     long long count) {
    reply_array(c, 2);
    reply_bulk(c, key->p, key->len);
    pop_range_reply(c, key->p, key->len, ql, where, count, NULL);
}

static int where_or_reply(client *c, const resp_arg *a, int *where) {
    if (arg_is(a, "right"))
        *where = LIST_TAIL;
    else if (arg_is(a, "left"))
        *where = LIST_HEAD;
    else {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    return OK;
}

/* ---- LPUSH RPUSH LPUSHX RPUSHX ----------------------------------------------------- */

static void push_generic(client *c, int where, int xx) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_LIST, &err);
    if (err) return;
    quicklist *ql;
    if (!o) {
        if (xx) {
            reply_int(c, 0);
            return;
        }
        ql = list_create_key(c->db, key->p, key->len);
    } else {
        ql = ql_of(o);
    }
    for (int j = 2; j < c->argc; j++) ql_push(ql, c->argv[j].p, c->argv[j].len, where);
    server_add_dirty(c->argc - 2);
    reply_int(c, (long long)ql_count(ql));
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_LIST, where == LIST_HEAD ? "lpush" : "rpush", key->p, key->len,
                          c->db->id);
}

void lpush_command(client *c) {
    push_generic(c, LIST_HEAD, 0);
}
void rpush_command(client *c) {
    push_generic(c, LIST_TAIL, 0);
}
void lpushx_command(client *c) {
    push_generic(c, LIST_HEAD, 1);
}
void rpushx_command(client *c) {
    push_generic(c, LIST_TAIL, 1);
}

/* ---- LPOP RPOP ------------------------------------------------------------------ */

static void pop_generic(client *c, int where) {
    const resp_arg *key = &c->argv[1];
    int hascount = c->argc == 3;
    long long count = 0;
    if (c->argc > 3) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
        return;
    }
    if (hascount && arg_positive_or_reply(c, &c->argv[2], &count, NULL) != OK) return;
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        if (hascount)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (hascount && count == 0) {
        reply_empty_array(c);
        return;
    }
    quicklist *ql = ql_of(o);
    if (!hascount) {
        size_t len;
        const char *s = ql_peek(ql, where, &len);
        reply_bulk(c, s, len);
        ql_pop(ql, where);
        list_removed(c, key->p, key->len, where, ql, 1, NULL);
    } else {
        pop_range_reply(c, key->p, key->len, ql, where, count, NULL);
    }
}

void lpop_command(client *c) {
    pop_generic(c, LIST_HEAD);
}
void rpop_command(client *c) {
    pop_generic(c, LIST_TAIL);
}

/* ---- LLEN LRANGE LINDEX LSET ------------------------------------------------------ */

void llen_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_LIST, &err);
    if (err) return;
    reply_int(c, o ? (long long)ql_count(ql_of(o)) : 0);
}

void lrange_command(client *c) {
    long long start, end;
    if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) != OK ||
        arg_ll_or_reply(c, &c->argv[3], &end, NULL) != OK)
        return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        reply_empty_array(c);
        return;
    }
    reply_list_range(c, ql_of(o), start, end, 0);
}

void lindex_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        reply_null(c);
        return;
    }
    long long index;
    if (arg_ll_or_reply(c, &c->argv[2], &index, NULL) != OK) return;
    ql_iter it;
    ql_entry e;
    if (ql_iter_init_at(&it, ql_of(o), (long)index, QL_FWD) && ql_next(&it, &e))
        reply_bulk(c, e.s, e.len);
    else
        reply_null(c);
    ql_iter_done(&it);
}

void lset_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    long long index;
    if (arg_ll_or_reply(c, &c->argv[2], &index, NULL) != OK) return;
    if (!ql_replace_at(ql_of(o), (long)index, c->argv[3].p, c->argv[3].len)) {
        reply_error(c, ERR_OUT_OF_RANGE);
        return;
    }
    reply_ok(c);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_LIST, "lset", key->p, key->len, c->db->id);
    server_add_dirty(1);
}

/* ---- LINSERT LREM LTRIM LPOS ---------------------------------------------------- */

void linsert_command(client *c) {
    const resp_arg *key = &c->argv[1], *pivot = &c->argv[3], *ele = &c->argv[4];
    int after;
    if (arg_is(&c->argv[2], "after"))
        after = 1;
    else if (arg_is(&c->argv[2], "before"))
        after = 0;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    quicklist *ql = ql_of(o);
    ql_iter it;
    ql_entry e;
    int inserted = 0;
    ql_iter_init(&it, ql, QL_FWD);
    while (ql_next(&it, &e)) {
        if (ql_entry_eq(&e, pivot->p, pivot->len)) {
            ql_iter_insert(&it, &e, ele->p, ele->len, after);
            inserted = 1;
            break;
        }
    }
    ql_iter_done(&it);
    if (!inserted) {
        reply_int(c, -1);
        return;
    }
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_LIST, "linsert", key->p, key->len, c->db->id);
    server_add_dirty(1);
    reply_int(c, (long long)ql_count(ql));
}

void lrem_command(client *c) {
    const resp_arg *key = &c->argv[1], *ele = &c->argv[3];
    long long toremove;
    if (arg_ll_or_reply(c, &c->argv[2], &toremove, NULL) != OK) return;
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    quicklist *ql = ql_of(o);
    ql_iter it;
    ql_entry e;
    /* LLONG_MIN stays negative when negated (as in Redis, where it wraps):
     * then no count is ever reached and every match goes. */
    int dir = QL_FWD;
    if (toremove < 0) {
        toremove = toremove == LLONG_MIN ? LLONG_MIN : -toremove;
        dir = QL_REV;
    }
    long long removed = 0;
    ql_iter_init(&it, ql, dir);
    while (ql_next(&it, &e)) {
        if (ql_entry_eq(&e, ele->p, ele->len)) {
            ql_iter_delete(&it, &e);
            server_add_dirty(1);
            removed++;
            if (toremove && removed == toremove) break;
        }
    }
    ql_iter_done(&it);
    if (removed) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_LIST, "lrem", key->p, key->len, c->db->id);
    }
    list_delete_if_empty(c, key, ql);
    reply_int(c, removed);
}

void ltrim_command(client *c) {
    const resp_arg *key = &c->argv[1];
    long long start, end;
    if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) != OK ||
        arg_ll_or_reply(c, &c->argv[3], &end, NULL) != OK)
        return;
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        reply_ok(c);
        return;
    }
    quicklist *ql = ql_of(o);
    long long llen = (long long)ql_count(ql), ltrim, rtrim;
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        ltrim = llen;
        rtrim = 0;
    } else {
        if (end >= llen) end = llen - 1;
        ltrim = start;
        rtrim = llen - end - 1;
    }
    ql_del_range(ql, 0, (unsigned long)ltrim);
    if (rtrim) ql_del_range(ql, (long)-rtrim, (unsigned long)rtrim);
    notify_keyspace_event(NOTIFY_LIST, "ltrim", key->p, key->len, c->db->id);
    list_delete_if_empty(c, key, ql);
    signal_modified_key(c, c->db, key->p, key->len);
    server_add_dirty(ltrim + rtrim);
    reply_ok(c);
}

typedef struct lpos_opts {
    long long rank, count, maxlen; /* count -1: not given */
} lpos_opts;

static int lpos_parse(client *c, lpos_opts *o) {
    o->rank = 1;
    o->count = -1;
    o->maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "rank") && more) {
            if (arg_ll_or_reply(c, &c->argv[++j], &o->rank, NULL) != OK) return ERR;
            if (o->rank == 0) {
                reply_error(c,
                            "ERR RANK can't be zero: use 1 to start from the first match, 2 from "
                            "the second ... or use negative to start from the end of the list");
                return ERR;
            }
        } else if (arg_is(a, "count") && more) {
            if (arg_positive_or_reply(c, &c->argv[++j], &o->count, "ERR COUNT can't be negative") !=
                OK)
                return ERR;
        } else if (arg_is(a, "maxlen") && more) {
            if (arg_positive_or_reply(c, &c->argv[++j], &o->maxlen,
                                      "ERR MAXLEN can't be negative") != OK)
                return ERR;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

void lpos_command(client *c) {
    const resp_arg *ele = &c->argv[2];
    lpos_opts opt;
    if (lpos_parse(c, &opt) != OK) return;
    int dir = QL_FWD;
    long long rank = opt.rank;
    if (rank < 0) {
        rank = rank == LLONG_MIN ? LLONG_MIN : -rank; /* as Redis's wrap-around */
        dir = QL_REV;
    }
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_LIST, &err);
    if (err) return;
    if (!o) {
        if (opt.count != -1)
            reply_empty_array(c);
        else
            reply_null(c);
        return;
    }
    quicklist *ql = ql_of(o);
    void *h = opt.count != -1 ? reply_defer_len(c) : NULL;
    long long llen = (long long)ql_count(ql), index = 0, matches = 0, matchindex = -1, arraylen = 0;
    ql_iter it;
    ql_entry e;
    ql_iter_init(&it, ql, dir);
    while (ql_next(&it, &e) && (opt.maxlen == 0 || index < opt.maxlen)) {
        if (ql_entry_eq(&e, ele->p, ele->len)) {
            matches++;
            matchindex = dir == QL_FWD ? index : llen - index - 1;
            if (matches >= rank) {
                if (!h) break;
                arraylen++;
                reply_int(c, matchindex);
                if (opt.count && matches - rank + 1 >= opt.count) break;
            }
        }
        index++;
        matchindex = -1;
    }
    ql_iter_done(&it);
    if (h)
        reply_set_deferred_array(c, h, (long)arraylen);
    else if (matchindex != -1)
        reply_int(c, matchindex);
    else
        reply_null(c);
}

/* ---- LMOVE RPOPLPUSH and the blocking variants ---------------------------------------- */

/* Pushes value on dst (created if missing) and replies it. */
static void lmove_push(client *c, const resp_arg *dstkey, kobj *dst, const char *s, size_t len,
                       int where) {
    quicklist *ql = dst ? ql_of(dst) : list_create_key(c->db, dstkey->p, dstkey->len);
    signal_modified_key(c, c->db, dstkey->p, dstkey->len);
    ql_push(ql, s, len, where);
    notify_keyspace_event(NOTIFY_LIST, where == LIST_HEAD ? "lpush" : "rpush", dstkey->p,
                          dstkey->len, c->db->id);
    reply_bulk(c, s, len);
}

/* The move itself; src is an existing list. Replies WRONGTYPE when the
 * destination is not a list (nothing moves then). */
static void lmove_from(client *c, kobj *src, int wherefrom, int whereto) {
    const resp_arg *srckey = &c->argv[1], *dstkey = &c->argv[2];
    kobj *dst = lookup_write(c, dstkey);
    if (dst && dst->type != OBJ_LIST) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    quicklist *sql = ql_of(src);
    size_t len;
    const char *s = ql_peek(sql, wherefrom, &len);
    char stackbuf[256];
    char *copy = len <= sizeof(stackbuf) ? stackbuf : xmalloc(len);
    memcpy(copy, s, len);
    ql_pop(sql, wherefrom);
    /* src stays in the keyspace while empty, so src == dst rotates */
    lmove_push(c, dstkey, dst, copy, len, whereto);
    if (copy != stackbuf) xfree(copy);
    notify_keyspace_event(NOTIFY_LIST, wherefrom == LIST_HEAD ? "lpop" : "rpop", srckey->p,
                          srckey->len, c->db->id);
    list_delete_if_empty(c, srckey, sql);
    signal_modified_key(c, c->db, srckey->p, srckey->len);
    server_add_dirty(1);
}

static void lmove_generic(client *c, int wherefrom, int whereto) {
    int err;
    kobj *src = lookup_write_typed(c, &c->argv[1], OBJ_LIST, &err);
    if (err) return;
    if (!src) {
        reply_null(c);
        return;
    }
    lmove_from(c, src, wherefrom, whereto);
}

void lmove_command(client *c) {
    int from, to;
    if (where_or_reply(c, &c->argv[3], &from) != OK || where_or_reply(c, &c->argv[4], &to) != OK)
        return;
    lmove_generic(c, from, to);
}

void rpoplpush_command(client *c) {
    lmove_generic(c, LIST_TAIL, LIST_HEAD);
}

static int is_ready_key(const resp_arg *key, const char *ready, size_t rlen) {
    return key->len == rlen && memcmp(key->p, ready, rlen) == 0;
}

static void blmove_generic(client *c, int wherefrom, int whereto, const resp_arg *timeout_arg) {
    int64_t timeout;
    if (arg_timeout_or_reply(c, timeout_arg, &timeout) != OK) return;
    const resp_arg *srckey = &c->argv[1];
    if (blocked_is_reprocessing()) {
        size_t rlen;
        const char *ready = blocked_ready_key(&rlen);
        kobj *src = ready && is_ready_key(srckey, ready, rlen) ? lookup_write(c, srckey) : NULL;
        if (src && src->type == OBJ_LIST)
            lmove_from(c, src, wherefrom, whereto);
        else
            block_for_keys(c, BLOCKED_LIST, srckey, 1, timeout, NULL); /* stays in line */
        return;
    }
    int err;
    kobj *src = lookup_write_typed(c, srckey, OBJ_LIST, &err);
    if (err) return;
    if (src) {
        lmove_from(c, src, wherefrom, whereto);
    } else if (!client_can_block(c)) {
        reply_null(c); /* inside MULTI or a script: like an empty LMOVE */
    } else {
        block_for_keys(c, BLOCKED_LIST, srckey, 1, timeout, NULL);
    }
}

void blmove_command(client *c) {
    int from, to;
    if (where_or_reply(c, &c->argv[3], &from) != OK || where_or_reply(c, &c->argv[4], &to) != OK)
        return;
    blmove_generic(c, from, to, &c->argv[5]);
}

void brpoplpush_command(client *c) {
    blmove_generic(c, LIST_TAIL, LIST_HEAD, &c->argv[3]);
}

/* ---- BLPOP BRPOP, LMPOP BLMPOP ----------------------------------------------------- */

/* Serves one pop from the list at key: count -1 is BLPOP's [key, element]
 * reply, otherwise LMPOP's [key, [elements]]. */
static void serve_pop(client *c, const resp_arg *key, quicklist *ql, int where, long long count) {
    if (count != -1) {
        pop_range_reply_with_key(c, key, ql, where, count);
        return;
    }
    size_t len;
    const char *s = ql_peek(ql, where, &len);
    reply_array(c, 2);
    reply_bulk(c, key->p, key->len);
    reply_bulk(c, s, len);
    ql_pop(ql, where);
    list_removed(c, key->p, key->len, where, ql, 1, NULL);
}

/* BLPOP BRPOP BLMPOP: pops from the first non-empty list of keys, or blocks. */
static void bpop_generic(client *c, const resp_arg *keys, int numkeys, int where, int timeout_idx,
                         long long count) {
    int64_t timeout;
    if (arg_timeout_or_reply(c, &c->argv[timeout_idx], &timeout) != OK) return;
    size_t rlen = 0;
    const char *ready = blocked_is_reprocessing() ? blocked_ready_key(&rlen) : NULL;
    for (int j = 0; j < numkeys; j++) {
        const resp_arg *key = &keys[j];
        if (ready && !is_ready_key(key, ready, rlen)) continue;
        kobj *o = lookup_write(c, key);
        if (!o) continue;
        if (o->type != OBJ_LIST) {
            if (ready) break; /* another type does not serve waiters */
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        serve_pop(c, key, ql_of(o), where, count);
        return;
    }
    if (!ready && !client_can_block(c)) {
        reply_null_array(c); /* inside MULTI or a script: like a timeout */
        return;
    }
    block_for_keys(c, BLOCKED_LIST, keys, numkeys, timeout, NULL);
}

void blpop_command(client *c) {
    bpop_generic(c, c->argv + 1, c->argc - 2, LIST_HEAD, c->argc - 1, -1);
}
void brpop_command(client *c) {
    bpop_generic(c, c->argv + 1, c->argc - 2, LIST_TAIL, c->argc - 1, -1);
}

static void mpop_generic(client *c, const resp_arg *keys, int numkeys, int where, long long count) {
    for (int j = 0; j < numkeys; j++) {
        kobj *o = lookup_write(c, &keys[j]);
        if (!o) continue;
        if (o->type != OBJ_LIST) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        pop_range_reply_with_key(c, &keys[j], ql_of(o), where, count);
        return;
    }
    reply_null_array(c);
}

/* LMPOP numkeys key... (LEFT|RIGHT) [COUNT n]; BLMPOP timeout numkeys ... */
static void lmpop_generic(client *c, int numkeys_idx, int blocking) {
    long long numkeys, count = -1;
    int where;
    if (arg_long_range_or_reply(c, &c->argv[numkeys_idx], 1, LONG_MAX, &numkeys,
                                "ERR numkeys should be greater than 0") != OK)
        return;
    if (numkeys >= c->argc - numkeys_idx - 1) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int where_idx = numkeys_idx + (int)numkeys + 1;
    if (where_or_reply(c, &c->argv[where_idx], &where) != OK) return;
    for (int j = where_idx + 1; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (count == -1 && arg_is(&c->argv[j], "count") && more) {
            if (arg_long_range_or_reply(c, &c->argv[++j], 1, LONG_MAX, &count,
                                        "ERR count should be greater than 0") != OK)
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    if (blocking)
        bpop_generic(c, c->argv + numkeys_idx + 1, (int)numkeys, where, 1, count);
    else
        mpop_generic(c, c->argv + numkeys_idx + 1, (int)numkeys, where, count);
}

void lmpop_command(client *c) {
    lmpop_generic(c, 1, 0);
}
void blmpop_command(client *c) {
    lmpop_generic(c, 2, 1);
}

/* Keys of LMPOP (numkeys at 1) and BLMPOP (at 2), as Redis's genericGetKeys:
 * none when numkeys is not a usable count. */
static int numkeys_keys(int argc, const resp_arg *argv, int idx, int *keys, int max) {
    if (idx >= argc) return 0;
    int num = atoi(argv[idx].p);
    if (num < 1 || num > argc - idx - 1) return 0;
    int n = 0;
    for (int i = 0; i < num && n < max; i++) keys[n++] = idx + 1 + i;
    return n;
}

int getkeys_lmpop(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    return numkeys_keys(argc, argv, 1, keys, max);
}

int getkeys_blmpop(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    return numkeys_keys(argc, argv, 2, keys, max);
}
