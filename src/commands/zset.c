/* commands/zset — the sorted set family, Redis 7.0 semantics and error
 * texts: ZADD ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE ZMSCORE ZRANK
 * ZREVRANK, the ZRANGE family and ZRANGESTORE, ZREMRANGEBY*, ZPOPMIN/MAX,
 * ZMPOP, BZPOPMIN/BZPOPMAX/BZMPOP, ZRANDMEMBER, ZSCAN; the value's type ops
 * (COPY, MEMORY USAGE, DUMP/RESTORE/DEBUG RELOAD) and the hooks SORT uses.
 * ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD are in zset_ops.c.
 *
 * The values themselves (listpack / skiplist encodings, conversions) are
 * kv/zset. Ranges: a score bound is parsed with plain strtod after an
 * optional '(' exactly as Redis does (so "", " 1" and "0x10" are accepted
 * there, unlike ZADD's scores); a lex bound is "-", "+", "(str" or "[str".
 *
 * Blocking pops are re-run by server/blocked.c when a key they wait on is
 * signalled ready; in that re-run a key holding another type is passed over
 * (Redis 7.0 leaves such a client blocked) instead of failing with WRONGTYPE. */
#include "commands/commands.h"
#include "commands/zset_int.h"
#include "util/mem.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NAN "ERR resulting score is not a number (NaN)"
#define ERR_RANGE_FLOAT "ERR min or max is not a float"
#define ERR_RANGE_LEX "ERR min or max not valid string range item"

/* ---- shared helpers --------------------------------------------------------------- */

kobj *zset_build(const resp_arg *key, const zref *v, size_t n) {
    size_t maxlen = 0, totlen = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].len > maxlen) maxlen = v[i].len;
        totlen += v[i].len;
    }
    zset_limits lim = zset_cmd_limits();
    kobj *o = zset_new(key->p, key->len, zset_build_enc(n, maxlen, totlen, &lim));
    for (size_t i = 0; i < n; i++) zset_append_sorted(o, v[i].score, v[i].m, v[i].len);
    return o;
}

void zset_store_value(client *c, const resp_arg *key, kobj *val) {
    kobj *old = lookup_write(c, key);
    if (old)
        db_replace(c->db, old, val);
    else
        db_add(c->db, val);
    signal_modified_key(c, c->db, key->p, key->len);
    signal_key_as_ready(c->db, key->p, key->len);
}

void zset_store_empty(client *c, const resp_arg *key) {
    if (!lookup_write(c, key)) return;
    db_delete(c->db, key->p, key->len);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
    server_add_dirty(1);
}

void zset_reply_pair(client *c, const char *m, size_t len, double score, int withscores) {
    if (withscores && c->resp > 2) reply_array(c, 2);
    reply_bulk(c, m, len);
    if (withscores) reply_double(c, score);
}

/* Deletes a key that became empty: "del" event after the command's own. */
static void delete_emptied(client *c, const resp_arg *key) {
    db_delete(c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
}

/* ---- range arguments --------------------------------------------------------------- */

static int parse_score_bound(const resp_arg *a, double *v, int *ex) {
    const char *s = a->p; /* NUL-terminated: strtod stops where Redis's does */
    *ex = 0;
    if (s[0] == '(') {
        s++;
        *ex = 1;
    }
    char *end;
    *v = strtod(s, &end);
    return *end == '\0' && !isnan(*v) ? OK : ERR;
}

static int score_range_or_reply(client *c, const resp_arg *min, const resp_arg *max,
                                zrange_spec *r) {
    if (parse_score_bound(min, &r->min, &r->minex) != OK ||
        parse_score_bound(max, &r->max, &r->maxex) != OK) {
        reply_error(c, ERR_RANGE_FLOAT);
        return ERR;
    }
    return OK;
}

static int parse_lex_bound(const resp_arg *a, zlex_bound *b) {
    const char *s = a->p;
    b->s = NULL;
    b->len = 0;
    b->inf = 0;
    switch (s[0]) {
    case '+':
    case '-':
        if (s[1] != '\0') return ERR;
        b->inf = s[0] == '+' ? 1 : -1;
        b->ex = 1;
        return OK;
    case '(':
    case '[':
        b->ex = s[0] == '(';
        b->s = s + 1;
        b->len = a->len - 1;
        return OK;
    default:
        return ERR;
    }
}

static int lex_range_or_reply(client *c, const resp_arg *min, const resp_arg *max, zlex_spec *r) {
    if (parse_lex_bound(min, &r->min) != OK || parse_lex_bound(max, &r->max) != OK) {
        reply_error(c, ERR_RANGE_LEX);
        return ERR;
    }
    return OK;
}

/* ---- ZADD / ZINCRBY --------------------------------------------------------------------- */

static int zadd_options(client *c, int *in, int *ch) {
    int j = 2;
    for (; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "nx"))
            *in |= ZADD_NX;
        else if (arg_is(a, "xx"))
            *in |= ZADD_XX;
        else if (arg_is(a, "ch"))
            *ch = 1;
        else if (arg_is(a, "incr"))
            *in |= ZADD_INCR;
        else if (arg_is(a, "gt"))
            *in |= ZADD_GT;
        else if (arg_is(a, "lt"))
            *in |= ZADD_LT;
        else
            break;
    }
    return j;
}

static int zadd_validate(client *c, int in, int elements) {
    if (elements % 2 || !elements) {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    if ((in & ZADD_NX) && (in & ZADD_XX)) {
        reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return ERR;
    }
    int gt = in & ZADD_GT, lt = in & ZADD_LT, nx = in & ZADD_NX;
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return ERR;
    }
    if ((in & ZADD_INCR) && elements > 2) {
        reply_error(c, "ERR INCR option supports a single increment-element pair");
        return ERR;
    }
    return OK;
}

void zadd_apply(client *c, const resp_arg *key, int in, int ch, const double *scores,
                const resp_arg *members, int stride, int n) {
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_ZSET, &err);
    if (err) return;
    zset_limits lim = zset_cmd_limits();
    if (!o) {
        if (in & ZADD_XX) goto reply;
        o = zset_new(key->p, key->len, zset_create_enc(members[0].len, &lim));
        db_add(c->db, o);
    }
    for (int k = 0; k < n; k++) {
        const resp_arg *m = &members[k * stride];
        int out;
        double ns;
        if (!zset_add(o, scores[k], m->p, m->len, in, &out, &ns, &lim)) {
            reply_error(c, ERR_NAN);
            goto notify;
        }
        if (out & ZADD_OUT_ADDED) added++;
        if (out & ZADD_OUT_UPDATED) updated++;
        if (!(out & ZADD_OUT_NOP)) {
            processed++;
            score = ns;
        }
    }
    server_add_dirty(added + updated);
reply:
    if (in & ZADD_INCR) {
        if (processed)
            reply_double(c, score);
        else
            reply_null(c);
    } else {
        reply_int(c, ch ? added + updated : added);
    }
notify:
    if (added || updated) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_ZSET, (in & ZADD_INCR) ? "zincr" : "zadd", key->p, key->len,
                              c->db->id);
        if (added) signal_key_as_ready(c->db, key->p, key->len);
    }
}

static void zadd_generic(client *c, int in) {
    int ch = 0, first = zadd_options(c, &in, &ch);
    int elements = c->argc - first;
    if (zadd_validate(c, in, elements) != OK) return;
    elements /= 2;
    double stack[16], *scores = elements <= 16 ? stack : xmalloc(sizeof(double) * (size_t)elements);
    int k = 0;
    for (; k < elements; k++)
        if (arg_double_or_reply(c, &c->argv[first + 2 * k], &scores[k], NULL) != OK) break;
    if (k == elements) zadd_apply(c, &c->argv[1], in, ch, scores, &c->argv[first + 1], 2, elements);
    if (scores != stack) xfree(scores);
}

void zadd_command(client *c) {
    zadd_generic(c, 0);
}
void zincrby_command(client *c) {
    zadd_generic(c, ZADD_INCR);
}

/* ---- ZREM / ZREMRANGEBY* ---------------------------------------------------------------- */

void zrem_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_ZSET, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    int removed = 0;
    for (int j = 2; j < c->argc; j++) {
        deleted += zset_del(o, c->argv[j].p, c->argv[j].len);
        if (zset_len(o) == 0) {
            removed = 1;
            break;
        }
    }
    if (deleted) {
        notify_keyspace_event(NOTIFY_ZSET, "zrem", key->p, key->len, c->db->id);
        if (removed) delete_emptied(c, key);
        signal_modified_key(c, c->db, key->p, key->len);
        server_add_dirty(deleted);
    }
    reply_int(c, deleted);
}

enum { ZR_AUTO = 0, ZR_RANK, ZR_SCORE, ZR_LEX };

static void zremrange_generic(client *c, int type) {
    const resp_arg *key = &c->argv[1];
    long long start = 0, end = 0;
    zrange_spec r;
    zlex_spec lr;
    const char *event;
    if (type == ZR_RANK) {
        event = "zremrangebyrank";
        if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) != OK ||
            arg_ll_or_reply(c, &c->argv[3], &end, NULL) != OK)
            return;
    } else if (type == ZR_SCORE) {
        event = "zremrangebyscore";
        if (score_range_or_reply(c, &c->argv[2], &c->argv[3], &r) != OK) return;
    } else {
        event = "zremrangebylex";
        if (lex_range_or_reply(c, &c->argv[2], &c->argv[3], &lr) != OK) return;
    }
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_ZSET, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    unsigned long deleted;
    if (type == ZR_RANK) {
        long long llen = (long long)zset_len(o);
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen) {
            reply_int(c, 0);
            return;
        }
        if (end >= llen) end = llen - 1;
        deleted = zset_remove_range_by_rank(o, (unsigned long)start, (unsigned long)end);
    } else if (type == ZR_SCORE) {
        deleted = zset_remove_range_by_score(o, &r);
    } else {
        deleted = zset_remove_range_by_lex(o, &lr);
    }
    int removed = zset_len(o) == 0;
    if (removed) db_delete(c->db, key->p, key->len);
    if (deleted) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_ZSET, event, key->p, key->len, c->db->id);
        if (removed) notify_keyspace_event(NOTIFY_GENERIC, "del", key->p, key->len, c->db->id);
    }
    server_add_dirty((long long)deleted);
    reply_int(c, (long long)deleted);
}

void zremrangebyrank_command(client *c) {
    zremrange_generic(c, ZR_RANK);
}
void zremrangebyscore_command(client *c) {
    zremrange_generic(c, ZR_SCORE);
}
void zremrangebylex_command(client *c) {
    zremrange_generic(c, ZR_LEX);
}

/* ---- point reads ------------------------------------------------------------------------ */

void zcard_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    reply_int(c, o ? (long long)zset_len(o) : 0);
}

void zscore_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    double score;
    if (o && zset_score(o, c->argv[2].p, c->argv[2].len, &score))
        reply_double(c, score);
    else
        reply_null(c);
}

void zmscore_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        if (o && zset_score(o, c->argv[j].p, c->argv[j].len, &score))
            reply_double(c, score);
        else
            reply_null(c);
    }
}

static void zrank_generic(client *c, int rev) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    long rank = o ? zset_rank(o, c->argv[2].p, c->argv[2].len, rev) : -1;
    if (rank >= 0)
        reply_int(c, rank);
    else
        reply_null(c);
}

void zrank_command(client *c) {
    zrank_generic(c, 0);
}
void zrevrank_command(client *c) {
    zrank_generic(c, 1);
}

void zcount_command(client *c) {
    zrange_spec r;
    if (score_range_or_reply(c, &c->argv[2], &c->argv[3], &r) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    reply_int(c, o ? (long long)zset_count_in_score(o, &r) : 0);
}

void zlexcount_command(client *c) {
    zlex_spec r;
    if (lex_range_or_reply(c, &c->argv[2], &c->argv[3], &r) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    reply_int(c, o ? (long long)zset_count_in_lex(o, &r) : 0);
}

/* ---- the ZRANGE family -------------------------------------------------------------------- */

enum { DIR_AUTO = 0, DIR_FWD, DIR_REV };

/* Where a range goes: the client, or (ZRANGESTORE) refs for a new value. */
typedef struct zr_sink {
    client *c;
    int store, withscores;
    void *defer;
    zref *v;
    size_t n, cap;
    const resp_arg *dst;
    long hint; /* the length announced at the start (-1: unknown) */
} zr_sink;

static void sink_begin(zr_sink *s, long len) {
    s->hint = len;
    if (s->store) return;
    if (len > 0)
        reply_array(s->c, s->withscores && s->c->resp == 2 ? 2 * len : len);
    else
        s->defer = reply_defer_len(s->c);
}

static void sink_emit(zr_sink *s, const char *m, size_t len, double score) {
    if (!s->store) {
        zset_reply_pair(s->c, m, len, score, s->withscores);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, sizeof(zref) * s->cap);
    }
    s->v[s->n++] = (zref){m, len, score};
}

static void sink_end(zr_sink *s, long count) {
    client *c = s->c;
    if (!s->store) {
        if (s->defer)
            reply_set_deferred_array(c, s->defer,
                                     s->withscores && c->resp == 2 ? 2 * count : count);
        return;
    }
    if (count) {
        /* Built as Redis does: a listpack unless the announced length is
         * over the limit, then element by element with ZADD's conversions
         * (which decides, e.g., whether a -0 score keeps its sign). */
        zset_limits lim = zset_cmd_limits();
        kobj *o =
            zset_new(s->dst->p, s->dst->len,
                     (long long)s->hint > (long long)lim.entries ? ENC_SKIPLIST : ENC_LISTPACK);
        for (size_t i = 0; i < s->n; i++) {
            int out;
            zset_add(o, s->v[i].score, s->v[i].m, s->v[i].len, 0, &out, NULL, &lim);
        }
        zset_store_value(c, s->dst, o);
        reply_int(c, count);
        notify_keyspace_event(NOTIFY_ZSET, "zrangestore", s->dst->p, s->dst->len, c->db->id);
        server_add_dirty(1);
    } else {
        reply_int(c, 0);
        zset_store_empty(c, s->dst);
    }
    xfree(s->v);
    s->v = NULL;
}

static void range_by_rank(zr_sink *s, kobj *o, long long start, long long end, int rev) {
    long long llen = (long long)zset_len(o);
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        sink_begin(s, 0);
        sink_end(s, 0);
        return;
    }
    if (end >= llen) end = llen - 1;
    long rangelen = (long)(end - start + 1);
    sink_begin(s, rangelen);
    zset_iter it;
    zset_iter_at_rank(&it, o, (unsigned long)start, rev);
    for (long i = 0; i < rangelen && zset_iter_valid(&it); i++, zset_iter_next(&it)) {
        const char *m;
        size_t len;
        double score = 0;
        if (s->withscores || s->store)
            zset_iter_get(&it, &m, &len, &score);
        else
            zset_iter_member(&it, &m, &len);
        sink_emit(s, m, len, score);
    }
    sink_end(s, rangelen);
}

/* Skips offset elements from the iterator's start (a negative offset skips
 * everything, as in Redis). */
static void skip_offset(zset_iter *it, long long offset) {
    while (zset_iter_valid(it) && offset-- != 0) zset_iter_next(it);
}

static void range_by_score(zr_sink *s, kobj *o, const zrange_spec *r, long long offset,
                           long long limit, int rev) {
    long n = 0;
    sink_begin(s, -1);
    if (offset > 0 && offset >= (long long)zset_len(o)) {
        sink_end(s, 0);
        return;
    }
    zset_iter it;
    zset_iter_at_score(&it, o, r, rev);
    skip_offset(&it, offset);
    while (zset_iter_valid(&it) && limit-- != 0) {
        const char *m;
        size_t len;
        double score;
        zset_iter_get(&it, &m, &len, &score);
        if (rev ? !zrange_gte_min(score, r) : !zrange_lte_max(score, r)) break;
        sink_emit(s, m, len, score);
        n++;
        zset_iter_next(&it);
    }
    sink_end(s, n);
}

static void range_by_lex(zr_sink *s, kobj *o, const zlex_spec *r, long long offset, long long limit,
                         int rev) {
    long n = 0;
    sink_begin(s, -1);
    zset_iter it;
    zset_iter_at_lex(&it, o, r, rev);
    skip_offset(&it, offset);
    while (zset_iter_valid(&it) && limit-- != 0) {
        const char *m;
        size_t len;
        zset_iter_member(&it, &m, &len);
        if (rev ? !zlex_gte_min(m, len, r) : !zlex_lte_max(m, len, r)) break;
        sink_emit(s, m, len, s->store ? zset_iter_score(&it) : 0);
        n++;
        zset_iter_next(&it);
    }
    sink_end(s, n);
}

typedef struct zr_args {
    int type, dir, withscores;
    long long offset, limit;
    long long start, end;
    zrange_spec r;
    zlex_spec lr;
} zr_args;

static int zrange_options(client *c, int from, int store, zr_args *a) {
    for (int j = from; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const resp_arg *x = &c->argv[j];
        if (!store && arg_is(x, "withscores")) {
            a->withscores = 1;
        } else if (arg_is(x, "limit") && left >= 2) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &a->offset, NULL) != OK ||
                arg_ll_or_reply(c, &c->argv[j + 2], &a->limit, NULL) != OK)
                return ERR;
            j += 2;
        } else if (a->dir == DIR_AUTO && arg_is(x, "rev")) {
            a->dir = DIR_REV;
        } else if (a->type == ZR_AUTO && arg_is(x, "bylex")) {
            a->type = ZR_LEX;
        } else if (a->type == ZR_AUTO && arg_is(x, "byscore")) {
            a->type = ZR_SCORE;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    if (a->dir == DIR_AUTO) a->dir = DIR_FWD;
    if (a->type == ZR_AUTO) a->type = ZR_RANK;
    if (a->limit != -1 && a->type == ZR_RANK) {
        reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX");
        return ERR;
    }
    if (a->withscores && a->type == ZR_LEX) {
        reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return ERR;
    }
    return OK;
}

static int zrange_bounds(client *c, int first, zr_args *a) {
    const resp_arg *lo = &c->argv[first], *hi = &c->argv[first + 1];
    if (a->dir == DIR_REV && a->type != ZR_RANK) { /* given as max, min */
        const resp_arg *t = lo;
        lo = hi;
        hi = t;
    }
    if (a->type == ZR_RANK)
        return arg_ll_or_reply(c, lo, &a->start, NULL) != OK ||
                       arg_ll_or_reply(c, hi, &a->end, NULL) != OK
                   ? ERR
                   : OK;
    if (a->type == ZR_SCORE) return score_range_or_reply(c, lo, hi, &a->r);
    return lex_range_or_reply(c, lo, hi, &a->lr);
}

/* <src> <min> <max> [BYSCORE | BYLEX] [REV] [WITHSCORES] [LIMIT offset count]
 * with src at argv[src]; store: ZRANGESTORE with the destination at argv[1]. */
static void zrange_generic(client *c, int src, int store, int type, int dir) {
    zr_args a = {.type = type, .dir = dir, .limit = -1};
    if (zrange_options(c, src + 3, store, &a) != OK) return;
    if (zrange_bounds(c, src + 1, &a) != OK) return;
    zr_sink s = {.c = c, .store = store, .withscores = a.withscores, .dst = &c->argv[1]};
    int rev = a.dir == DIR_REV;
    kobj *o = lookup_read(c, &c->argv[src]);
    if (!o) {
        if (store) {
            sink_begin(&s, -1);
            sink_end(&s, 0);
        } else {
            reply_empty_array(c);
        }
        return;
    }
    if (o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    if (a.type == ZR_RANK)
        range_by_rank(&s, o, a.start, a.end, rev);
    else if (a.type == ZR_SCORE)
        range_by_score(&s, o, &a.r, a.offset, a.limit, rev);
    else
        range_by_lex(&s, o, &a.lr, a.offset, a.limit, rev);
}

void zrange_command(client *c) {
    zrange_generic(c, 1, 0, ZR_AUTO, DIR_AUTO);
}
void zrangestore_command(client *c) {
    zrange_generic(c, 2, 1, ZR_AUTO, DIR_AUTO);
}
void zrevrange_command(client *c) {
    zrange_generic(c, 1, 0, ZR_RANK, DIR_REV);
}
void zrangebyscore_command(client *c) {
    zrange_generic(c, 1, 0, ZR_SCORE, DIR_FWD);
}
void zrevrangebyscore_command(client *c) {
    zrange_generic(c, 1, 0, ZR_SCORE, DIR_REV);
}
void zrangebylex_command(client *c) {
    zrange_generic(c, 1, 0, ZR_LEX, DIR_FWD);
}
void zrevrangebylex_command(client *c) {
    zrange_generic(c, 1, 0, ZR_LEX, DIR_REV);
}

/* ---- pops ------------------------------------------------------------------------------------ */

/* How a pop replies: Redis's emitkey / use_nested_array / reply_nil_when_empty. */
enum { POP_EMITKEY = 1, POP_NESTED = 2, POP_NIL_EMPTY = 4 };

/* Pops up to count (-1: one, flat) elements from the first existing key of
 * keys (a wrong type on the way replies WRONGTYPE). */
static void zpop_generic(client *c, const resp_arg *keys, int nkeys, int max, long long count,
                         int how) {
    const resp_arg *key = NULL;
    kobj *o = NULL;
    for (int i = 0; i < nkeys && !o; i++) {
        key = &keys[i];
        o = lookup_write(c, key);
        if (o && o->type != OBJ_ZSET) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
    }
    if (!o) {
        if (how & POP_NIL_EMPTY)
            reply_null_array(c);
        else
            reply_empty_array(c);
        return;
    }
    if (count == 0) {
        reply_empty_array(c);
        return;
    }
    if (count == -1) count = 1;
    long long llen = (long long)zset_len(o), n = count > llen ? llen : count;
    int nested = (how & POP_NESTED) != 0;
    if (how & POP_EMITKEY) {
        reply_array(c, nested ? 2 : 2 * n + 1);
        reply_bulk(c, key->p, key->len);
        if (nested) reply_array(c, n);
    } else {
        reply_array(c, nested ? n : 2 * n);
    }
    zset_iter it;
    zset_iter_at_rank(&it, o, 0, max);
    for (long long i = 0; i < n; i++, zset_iter_next(&it)) {
        const char *m;
        size_t len;
        double score;
        zset_iter_get(&it, &m, &len, &score);
        if (nested) reply_array(c, 2);
        reply_bulk(c, m, len);
        reply_double(c, score);
    }
    if (max)
        zset_remove_range_by_rank(o, (unsigned long)(llen - n), (unsigned long)(llen - 1));
    else
        zset_remove_range_by_rank(o, 0, (unsigned long)(n - 1));
    server_add_dirty(n);
    notify_keyspace_event(NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key->p, key->len, c->db->id);
    signal_modified_key(c, c->db, key->p, key->len);
    if (n == llen) delete_emptied(c, key);
}

static void zpop_minmax(client *c, int max) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3 &&
        arg_long_range_or_reply(c, &c->argv[2], 0, LONG_MAX, &count,
                                "ERR value is out of range, must be positive") != OK)
        return;
    zpop_generic(c, &c->argv[1], 1, max, count, c->resp > 2 && count != -1 ? POP_NESTED : 0);
}

void zpopmin_command(client *c) {
    zpop_minmax(c, 0);
}
void zpopmax_command(client *c) {
    zpop_minmax(c, 1);
}

/* The blocking pops: serve from the first non-empty key, else block. */
static void bzpop_generic(client *c, const resp_arg *keys, int nkeys, int max, int timeout_idx,
                          long long count, int how) {
    int64_t timeout;
    if (arg_timeout_or_reply(c, &c->argv[timeout_idx], &timeout) != OK) return;
    for (int i = 0; i < nkeys; i++) {
        kobj *o = lookup_write(c, &keys[i]);
        if (!o) continue;
        if (o->type != OBJ_ZSET) {
            if (blocked_is_reprocessing()) continue; /* stays blocked, as in Redis 7.0 */
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        if (zset_len(o) == 0) continue;
        zpop_generic(c, &keys[i], 1, max, count, how | POP_EMITKEY);
        return;
    }
    if (!client_can_block(c)) {
        reply_null_array(c);
        return;
    }
    block_for_keys(c, BLOCKED_ZSET, keys, nkeys, timeout, NULL);
}

void bzpopmin_command(client *c) {
    bzpop_generic(c, c->argv + 1, c->argc - 2, 0, c->argc - 1, -1, 0);
}
void bzpopmax_command(client *c) {
    bzpop_generic(c, c->argv + 1, c->argc - 2, 1, c->argc - 1, -1, 0);
}

/* [B]ZMPOP [timeout] numkeys key [key ...] MIN | MAX [COUNT count] */
static void zmpop_generic(client *c, int numkeys_idx, int block) {
    long long numkeys, count = -1;
    if (arg_long_range_or_reply(c, &c->argv[numkeys_idx], 1, LONG_MAX, &numkeys,
                                "ERR numkeys should be greater than 0") != OK)
        return;
    if (numkeys > c->argc - numkeys_idx - 2) { /* no room for the keys and MIN|MAX */
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int where_idx = numkeys_idx + (int)numkeys + 1, max;
    if (arg_is(&c->argv[where_idx], "min")) {
        max = 0;
    } else if (arg_is(&c->argv[where_idx], "max")) {
        max = 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
            j++;
            if (arg_long_range_or_reply(c, &c->argv[j], 1, LONG_MAX, &count,
                                        "ERR count should be greater than 0") != OK)
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    const resp_arg *keys = c->argv + numkeys_idx + 1;
    if (block)
        bzpop_generic(c, keys, (int)numkeys, max, 1, count, POP_NESTED | POP_NIL_EMPTY);
    else
        zpop_generic(c, keys, (int)numkeys, max, count, POP_EMITKEY | POP_NESTED | POP_NIL_EMPTY);
}

void zmpop_command(client *c) {
    zmpop_generic(c, 1, 0);
}
void bzmpop_command(client *c) {
    zmpop_generic(c, 2, 1);
}

/* ---- ZRANDMEMBER ------------------------------------------------------------------------ */

#define ZRANDMEMBER_SUB_STRATEGY_MUL 3

/* Entries of a set copied out, for the sampling strategies. */
typedef struct zpick {
    zref *v;
    size_t n;
} zpick;

static void pick_all(const kobj *o, zpick *p) {
    p->n = zset_len(o);
    p->v = xmalloc(sizeof(zref) * (p->n ? p->n : 1));
    zset_iter it;
    size_t i = 0;
    for (zset_iter_at_rank(&it, o, 0, 0); zset_iter_valid(&it); zset_iter_next(&it), i++)
        zset_iter_get(&it, &p->v[i].m, &p->v[i].len, &p->v[i].score);
}

static unsigned long rand_below(unsigned long n) {
    unsigned long r = ((unsigned long)random() << 31) ^ (unsigned long)random();
    return r % n;
}

/* Negative count: count picks with repetition, in random order. */
static void zrandmember_repeat(client *c, kobj *o, unsigned long count, int withscores) {
    reply_array(c, (long)(withscores && c->resp == 2 ? count * 2 : count));
    zpick p = {NULL, 0};
    if (o->enc == ENC_LISTPACK) pick_all(o, &p); /* O(1) picks afterwards */
    while (count--) {
        const char *m;
        size_t len;
        double score;
        if (p.v) {
            zref *r = &p.v[rand_below(p.n)];
            m = r->m;
            len = r->len;
            score = r->score;
        } else {
            zset_random(o, &m, &len, &score);
        }
        zset_reply_pair(c, m, len, score, withscores);
        if (c->flags & CLIENT_CLOSE_ASAP) break;
    }
    xfree(p.v);
}

/* Positive count below the size: count distinct elements. */
/* A large skiplist and a small count: distinct random ranks (rejection
 * sampling through a small open-addressing table), O(count log N). */
static void zrandmember_sparse(client *c, kobj *o, unsigned long count, int withscores) {
    unsigned long size = zset_len(o), cap = 16;
    while (cap < 2 * count) cap <<= 1;
    unsigned long *seen = xcalloc(cap, sizeof(unsigned long)); /* rank + 1, 0 = empty */
    reply_array(c, (long)(withscores && c->resp == 2 ? count * 2 : count));
    for (unsigned long got = 0; got < count;) {
        unsigned long r = rand_below(size), i = (r * 0x9E3779B97F4A7C15ULL) & (cap - 1);
        while (seen[i] && seen[i] != r + 1) i = (i + 1) & (cap - 1);
        if (seen[i]) continue;
        seen[i] = r + 1;
        got++;
        zset_iter it;
        const char *m;
        size_t len;
        double score;
        zset_iter_at_rank(&it, o, r, 0);
        zset_iter_get(&it, &m, &len, &score);
        zset_reply_pair(c, m, len, score, withscores);
    }
    xfree(seen);
}

static void zrandmember_distinct(client *c, kobj *o, unsigned long count, int withscores) {
    if (o->enc == ENC_SKIPLIST && count * ZRANDMEMBER_SUB_STRATEGY_MUL <= zset_len(o)) {
        zrandmember_sparse(c, o, count, withscores);
        return;
    }
    zpick p;
    pick_all(o, &p);
    /* partial Fisher-Yates: the first count slots become a uniform sample */
    for (unsigned long i = 0; i < count; i++) {
        unsigned long j = i + rand_below(p.n - i);
        zref t = p.v[i];
        p.v[i] = p.v[j];
        p.v[j] = t;
    }
    reply_array(c, (long)(withscores && c->resp == 2 ? count * 2 : count));
    for (unsigned long i = 0; i < count; i++)
        zset_reply_pair(c, p.v[i].m, p.v[i].len, p.v[i].score, withscores);
    xfree(p.v);
}

static void zrandmember_count(client *c, long long l, int withscores) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    if (!o) {
        reply_empty_array(c);
        return;
    }
    unsigned long size = zset_len(o), count = l >= 0 ? (unsigned long)l : (unsigned long)-l;
    if (count == 0) {
        reply_empty_array(c);
        return;
    }
    if (l < 0 || count == 1) {
        zrandmember_repeat(c, o, count, withscores);
        return;
    }
    if (count >= size) { /* the whole set, highest first (Redis's iteration order) */
        reply_array(c, (long)(withscores && c->resp == 2 ? size * 2 : size));
        zset_iter it;
        for (zset_iter_at_rank(&it, o, 0, 1); zset_iter_valid(&it); zset_iter_next(&it)) {
            const char *m;
            size_t len;
            double score;
            zset_iter_get(&it, &m, &len, &score);
            zset_reply_pair(c, m, len, score, withscores);
        }
        return;
    }
    zrandmember_distinct(c, o, count, withscores);
}

void zrandmember_command(client *c) {
    if (c->argc >= 3) {
        long long l;
        int withscores;
        if (rand_count_args_or_reply(c, "withscores", &l, &withscores) == OK)
            zrandmember_count(c, l, withscores);
        return;
    }
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    if (!o) {
        reply_null(c);
        return;
    }
    const char *m;
    size_t len;
    zset_random(o, &m, &len, NULL);
    reply_bulk(c, m, len);
}

/* ---- ZSCAN ---------------------------------------------------------------------------------- */

typedef struct zscan_acc {
    zref *v;
    size_t n, cap;
} zscan_acc;

static void zscan_collect(void *ctx, void *e) {
    zscan_acc *a = ctx;
    const zsl_node *n = e;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = xrealloc(a->v, sizeof(zref) * a->cap);
    }
    a->v[a->n++] = (zref){zsl_member(n), n->len, n->score};
}

void zscan_command(client *c) {
    uint64_t cursor;
    if (scan_cursor_or_reply(c, &c->argv[2], &cursor) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    if (!o) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_empty_array(c);
        return;
    }
    scan_opts opt;
    if (scan_options_or_reply(c, 3, 0, &opt) != OK) return;
    zscan_acc acc = {NULL, 0, 0};
    int lp = o->enc == ENC_LISTPACK;
    if (lp) { /* small: everything at once */
        zset_iter it;
        for (zset_iter_at_rank(&it, o, 0, 0); zset_iter_valid(&it); zset_iter_next(&it)) {
            zref r;
            zset_iter_get(&it, &r.m, &r.len, &r.score);
            if (acc.n == acc.cap) {
                acc.cap = acc.cap ? acc.cap * 2 : 32;
                acc.v = xrealloc(acc.v, sizeof(zref) * acc.cap);
            }
            acc.v[acc.n++] = r;
        }
        cursor = 0;
    } else {
        dict *d = &((zset_sl *)kobj_ptr(o))->d;
        long long maxiter = opt.count * 10;
        do {
            cursor = dict_scan(d, cursor, zscan_collect, &acc);
        } while (cursor && maxiter-- && acc.n < (size_t)opt.count);
    }
    reply_array(c, 2);
    char buf[LONG_STR_SIZE];
    reply_bulk(c, buf, (size_t)ull_to_str(buf, cursor));
    void *h = reply_defer_len(c);
    long n = 0;
    for (size_t i = 0; i < acc.n; i++) {
        if (!scan_matches(&opt, acc.v[i].m, acc.v[i].len)) continue;
        char sb[MAX_D2STRING_CHARS];
        int sl = lp ? zset_score_text_listpack(sb, sizeof(sb), acc.v[i].score)
                    : double_to_str(sb, sizeof(sb), acc.v[i].score);
        reply_bulk(c, acc.v[i].m, acc.v[i].len);
        reply_bulk(c, sb, (size_t)sl);
        n += 2;
    }
    reply_set_deferred_array(c, h, n);
    xfree(acc.v);
}

/* ---- hooks for other families ----------------------------------------------------------- */

void zset_for_each(const kobj *o, long start, int rev, zset_each_fn *fn, void *ctx) {
    if (start < 0) start = 0;
    zset_iter it;
    for (zset_iter_at_rank(&it, o, (unsigned long)start, rev); zset_iter_valid(&it);
         zset_iter_next(&it)) {
        const char *m;
        size_t len;
        double score;
        zset_iter_get(&it, &m, &len, &score);
        if (fn(ctx, m, len, score)) break;
    }
}

/* ---- key positions ------------------------------------------------------------------------ */

/* The destination if any, then the keys counted by argv[numidx] and
 * following it, in key-spec order as Redis 7.0's COMMAND GETKEYS gives them
 * (atoi() and all: no keys when the count is below 1 or larger than the
 * arguments left). */
static int numkeys_keys(int argc, const resp_arg *argv, int numidx, int dest, int *keys, int max) {
    if (numidx >= argc) return 0;
    long n = (int)strtol(argv[numidx].p, NULL, 10);
    if (n < 1 || n > argc - numidx - 1) return 0;
    int k = 0;
    if (dest && k < max) keys[k++] = 1;
    for (long i = 0; i < n && k < max; i++) keys[k++] = numidx + 1 + (int)i;
    return k;
}

int getkeys_zset_numkeys_at1(const command *cmd, int argc, const resp_arg *argv, int *keys,
                             int max) {
    (void)cmd;
    return numkeys_keys(argc, argv, 1, 0, keys, max);
}

int getkeys_zset_store(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    return numkeys_keys(argc, argv, 2, 1, keys, max);
}

int getkeys_zset_bzmpop(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    return numkeys_keys(argc, argv, 2, 0, keys, max);
}

/* ---- type ops: COPY, MEMORY USAGE, DUMP / RESTORE ----------------------------------------- */

/* Serialized value (after DUMP's type byte), all integers LEB128:
 *
 *   enc: 1 byte | count | { member length | member bytes | score: 8 bytes LE } * count
 *
 * in ascending order; enc is 0 for a listpack, 1 for a skiplist. RESTORE
 * accepts only exactly this (lengths in bounds, no trailing bytes, no NaN, no
 * repeated member) and picks the encoding as Redis's RDB loader does: a
 * listpack stays one unless it has too many entries; a skiplist becomes a
 * listpack when both limits allow. */

static void zset_serialize(const void *ptr, int enc, sbuf *out) {
    kobj *tmp = kobj_new_ptr(OBJ_ZSET, enc, "", 0, (void *)ptr); /* a view for the iterator */
    unsigned char e = enc == ENC_LISTPACK ? 0 : 1;
    sbuf_append(out, &e, 1);
    sbuf_put_varint(out, zset_len(tmp));
    zset_iter it;
    for (zset_iter_at_rank(&it, tmp, 0, 0); zset_iter_valid(&it); zset_iter_next(&it)) {
        const char *m;
        size_t len;
        double score;
        zset_iter_get(&it, &m, &len, &score);
        sbuf_put_varint(out, len);
        sbuf_append(out, m, len);
        unsigned char sb[8];
        uint64_t bits;
        memcpy(&bits, &score, 8);
        for (int i = 0; i < 8; i++) sb[i] = (unsigned char)(bits >> (8 * i));
        sbuf_append(out, sb, 8);
    }
    xfree(tmp); /* the shell only: the value is not ours */
}

static void *zset_deserialize(const char *p, size_t len, int *enc) {
    const char *u = p, *end = p + len;
    uint64_t count;
    if (len < 1 || (unsigned char)u[0] > 1) return NULL;
    int was_listpack = *u++ == 0;
    if (!varint_get(&u, end, &count) || count == 0 || count > len) return NULL;
    kobj *o = zset_new("", 0, ENC_SKIPLIST); /* the dict finds repeated members */
    zset_sl *z = kobj_ptr(o);
    size_t maxlen = 0, totlen = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t ml;
        if (!varint_get(&u, end, &ml) || ml > (uint64_t)(end - u) || (uint64_t)(end - u) - ml < 8)
            goto bad;
        const char *m = u;
        u += ml;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits |= (uint64_t)(unsigned char)u[k] << (8 * k);
        u += 8;
        double score;
        memcpy(&score, &bits, 8);
        if (isnan(score) || dict_find(&z->d, m, ml)) goto bad;
        dict_add(&z->d, zsl_insert(&z->zsl, score, m, ml));
        if (ml > maxlen) maxlen = ml;
        totlen += ml;
    }
    if (u != end) goto bad;
    zset_limits lim = zset_cmd_limits();
    if (was_listpack)
        zset_convert(o, count > lim.entries ? ENC_SKIPLIST : ENC_LISTPACK);
    else
        zset_convert(o, zset_build_enc((unsigned long)count, maxlen, totlen, &lim));
    *enc = o->enc;
    void *v = kobj_ptr(o);
    xfree(o);
    return v;
bad:
    kobj_free(o);
    return NULL;
}

static const kobj_type_ops zset_ops = {
    .name = "zset",
    .free_value = zset_free_value,
    .dup_value = zset_dup_value,
    .mem_value = zset_mem_value,
    .enc_name = NULL,
    .serialize = zset_serialize,
    .deserialize = zset_deserialize,
};

/* SORT reads a sorted set in rank order; like Redis's sortCommand it first
 * converts a listpack to a skiplist (zsetConvert). */
typedef struct zsort_ctx {
    unsigned long left;
    sort_elem_fn *cb;
    void *ctx;
} zsort_ctx;

static int zset_sort_elem(void *ctx, const char *m, size_t len, double score) {
    zsort_ctx *z = ctx;
    (void)score;
    if (!z->left) return 1;
    z->left--;
    z->cb(z->ctx, m, len);
    return 0;
}

static unsigned long zset_sort_length(kobj *o) {
    return zset_len(o);
}

static void zset_sort_range(kobj *o, unsigned long start, unsigned long count, int desc,
                            sort_elem_fn *cb, void *ctx) {
    if (o->enc != ENC_SKIPLIST) zset_convert(o, ENC_SKIPLIST);
    zsort_ctx z = {count, cb, ctx};
    if (count) zset_for_each(o, (long)start, desc, zset_sort_elem, &z);
}

static const sort_type_ops zset_sort_ops = {.length = zset_sort_length, .range = zset_sort_range};

__attribute__((constructor)) static void zset_register(void) {
    kobj_register_type(OBJ_ZSET, &zset_ops);
    sort_register_type(OBJ_ZSET, &zset_sort_ops);
}
