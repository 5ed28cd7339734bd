/* commands/zset_ops — set algebra over sorted sets: ZUNION ZINTER ZDIFF,
 * their STORE forms, and ZINTERCARD (Redis 7.0 semantics and error texts).
 *
 * Inputs may be sorted sets or plain sets (every member scoring 1); plain
 * sets are read through the hooks set.c provides (commands.h).
 *
 * The arithmetic follows Redis step by step, since the last bits of a sum
 * depend on its order: inputs are ordered by size (a stable sort) for UNION
 * and INTER, a weighted score that is NaN (inf * 0) becomes 0, and a SUM that
 * becomes NaN (inf + -inf) becomes 0. Results are sorted by (score, member)
 * — the order of a sorted set — before they are replied or stored. */
#include "commands/commands.h"
#include "commands/zset_int.h"
#include "util/mem.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

/* One input: a sorted set, a set, or a missing key (o == NULL). */
typedef struct zsrc {
    kobj *o;
    double weight;
    unsigned long len;
} zsrc;

typedef int src_fn(void *ctx, const char *m, size_t len, double score);

typedef struct set_adapter {
    src_fn *fn;
    void *ctx;
} set_adapter;

static int set_adapt(void *ctx, const char *m, size_t len) {
    set_adapter *a = ctx;
    return a->fn(a->ctx, m, len, 1.0);
}

/* Calls fn for every element until it returns non-zero. */
static void src_each(const zsrc *s, src_fn *fn, void *ctx) {
    if (!s->o) return;
    if (s->o->type == OBJ_SET) {
        set_adapter a = {fn, ctx};
        set_for_each_member(s->o, set_adapt, &a);
        return;
    }
    zset_iter it;
    for (zset_iter_at_rank(&it, s->o, 0, 0); zset_iter_valid(&it); zset_iter_next(&it)) {
        const char *m;
        size_t len;
        double score;
        zset_iter_get(&it, &m, &len, &score);
        if (fn(ctx, m, len, score)) return;
    }
}

static int src_find(const zsrc *s, const char *m, size_t len, double *score) {
    if (!s->o) return 0;
    if (s->o->type == OBJ_SET) {
        if (!set_has_member(s->o, m, len)) return 0;
        *score = 1.0;
        return 1;
    }
    return zset_score(s->o, m, len, score);
}

static inline void aggregate(double *t, double v, int agg) {
    if (agg == AGG_SUM) {
        *t += v;
        if (isnan(*t)) *t = 0.0; /* inf + -inf */
    } else if (agg == AGG_MIN) {
        *t = v < *t ? v : *t;
    } else {
        *t = v > *t ? v : *t;
    }
}

/* ---- results ----------------------------------------------------------------------------- */

/* Result members are copied (a set's members exist only during its walk). */
typedef struct zres {
    sbuf arena;
    struct zres_ent {
        size_t off, len;
        double score;
    } * v;
    size_t n, cap;
} zres;

static void res_add(zres *r, const char *m, size_t len, double score) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = xrealloc(r->v, sizeof(*r->v) * r->cap);
    }
    r->v[r->n++] = (struct zres_ent){r->arena.len, len, score};
    sbuf_append(&r->arena, m, len);
}

static int cmp_ref(const void *a, const void *b) {
    const zref *x = a, *y = b;
    if (x->score < y->score) return -1;
    if (x->score > y->score) return 1;
    return zsl_cmp_member(x->m, x->len, y->m, y->len);
}

/* The results as refs in sorted-set order (caller frees). */
static zref *res_sorted(const zres *r) {
    zref *v = xmalloc(sizeof(zref) * (r->n ? r->n : 1));
    for (size_t i = 0; i < r->n; i++)
        v[i] = (zref){r->arena.p + r->v[i].off, r->v[i].len, r->v[i].score};
    qsort(v, r->n, sizeof(zref), cmp_ref);
    return v;
}

/* ---- UNION ----------------------------------------------------------------------------------- */

typedef struct acc_ent {
    double score;
    size_t len;
    char m[];
} acc_ent;

static const void *acc_key(const void *e, size_t *len) {
    const acc_ent *a = e;
    *len = a->len;
    return a->m;
}
static const dict_type acc_type = {dict_hash_bytes, acc_key, NULL};

typedef struct union_ctx {
    dict *d;
    double weight;
    int agg;
} union_ctx;

static int union_one(void *ctx, const char *m, size_t len, double s) {
    union_ctx *u = ctx;
    double score = u->weight * s;
    if (isnan(score)) score = 0;
    acc_ent *e = dict_find(u->d, m, len);
    if (e) {
        aggregate(&e->score, score, u->agg);
    } else {
        e = xmalloc(sizeof(*e) + len);
        e->score = score;
        e->len = len;
        memcpy(e->m, m, len);
        dict_add(u->d, e);
    }
    return 0;
}

static void free_acc(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

/* Refs into the accumulator's entries, sorted. */
static zref *do_union(zsrc *src, long n, int agg, dict *d, size_t *count) {
    dict_reserve(d, n ? src[n - 1].len : 0); /* at least the largest input */
    for (long i = 0; i < n; i++) {
        if (!src[i].len) continue;
        union_ctx u = {d, src[i].weight, agg};
        src_each(&src[i], union_one, &u);
    }
    *count = dict_size(d);
    zref *v = xmalloc(sizeof(zref) * (*count ? *count : 1));
    dict_iter it;
    dict_iter_init(&it, d);
    size_t k = 0;
    acc_ent *e;
    while ((e = dict_iter_next(&it))) v[k++] = (zref){e->m, e->len, e->score};
    dict_iter_done(&it);
    qsort(v, k, sizeof(zref), cmp_ref);
    return v;
}

/* ---- INTER / DIFF ---------------------------------------------------------------------------- */

typedef struct inter_ctx {
    zsrc *src;
    long n;
    int agg, card_only;
    long long limit;
    unsigned long card;
    zres *res;
} inter_ctx;

static int inter_one(void *ctx, const char *m, size_t len, double s) {
    inter_ctx *x = ctx;
    double score = x->src[0].weight * s, value;
    if (isnan(score)) score = 0;
    for (long j = 1; j < x->n; j++) {
        if (x->src[j].o == x->src[0].o) {
            value = s * x->src[j].weight;
        } else if (src_find(&x->src[j], m, len, &value)) {
            value *= x->src[j].weight;
        } else {
            return 0; /* not in every input */
        }
        aggregate(&score, value, x->agg);
    }
    if (x->card_only) {
        x->card++;
        return x->limit && x->card >= (unsigned long long)x->limit;
    }
    res_add(x->res, m, len, score);
    return 0;
}

typedef struct diff_ctx {
    zsrc *src;
    long n;
    zres *res;
} diff_ctx;

static int diff_one(void *ctx, const char *m, size_t len, double s) {
    diff_ctx *x = ctx;
    double ignored;
    for (long j = 1; j < x->n; j++)
        if (src_find(&x->src[j], m, len, &ignored)) return 0;
    res_add(x->res, m, len, s);
    return 0;
}

static void do_diff(zsrc *src, long n, zres *res) {
    if (!src[0].len) return;
    for (long j = 1; j < n; j++)
        if (src[j].o == src[0].o) return; /* subtracting a set from itself */
    diff_ctx x = {src, n, res};
    src_each(&src[0], diff_one, &x);
}

/* ---- the command ---------------------------------------------------------------------------- */

typedef struct zop_args {
    long setnum;
    zsrc *src;
    int agg, withscores;
    long long limit;
} zop_args;

/* Loads the inputs; replies the error and returns ERR. */
static int load_inputs(client *c, int numidx, zop_args *a) {
    long long setnum;
    if (arg_ll_or_reply(c, &c->argv[numidx], &setnum, NULL) != OK) return ERR;
    if (setnum < 1) {
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->fullname);
        return ERR;
    }
    if (setnum > c->argc - (numidx + 1)) {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    a->setnum = (long)setnum;
    a->src = xcalloc((size_t)setnum, sizeof(zsrc));
    for (long i = 0; i < setnum; i++) {
        kobj *o = lookup_read(c, &c->argv[numidx + 1 + i]);
        if (o && o->type != OBJ_ZSET && o->type != OBJ_SET) {
            reply_error(c, ERR_WRONGTYPE);
            return ERR;
        }
        a->src[i].o = o;
        a->src[i].weight = 1.0;
        a->src[i].len = !o ? 0 : o->type == OBJ_ZSET ? zset_len(o) : set_members_count(o);
    }
    return OK;
}

static int parse_options(client *c, int j, int op, int store, int card_only, zop_args *a) {
    while (j < c->argc) {
        int remaining = c->argc - j;
        const resp_arg *x = &c->argv[j];
        if (op != OP_DIFF && !card_only && remaining >= a->setnum + 1 && arg_is(x, "weights")) {
            j++;
            for (long i = 0; i < a->setnum; i++, j++)
                if (arg_double_or_reply(c, &c->argv[j], &a->src[i].weight,
                                        "ERR weight value is not a float") != OK)
                    return ERR;
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && arg_is(x, "aggregate")) {
            const resp_arg *v = &c->argv[j + 1];
            if (arg_is(v, "sum")) {
                a->agg = AGG_SUM;
            } else if (arg_is(v, "min")) {
                a->agg = AGG_MIN;
            } else if (arg_is(v, "max")) {
                a->agg = AGG_MAX;
            } else {
                reply_error(c, ERR_SYNTAX);
                return ERR;
            }
            j += 2;
        } else if (!store && !card_only && arg_is(x, "withscores")) {
            a->withscores = 1;
            j++;
        } else if (card_only && remaining >= 2 && arg_is(x, "limit")) {
            if (arg_long_range_or_reply(c, &c->argv[j + 1], 0, LONG_MAX, &a->limit,
                                        "ERR LIMIT can't be negative") != OK)
                return ERR;
            j += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

/* Orders inputs by size, smallest first, keeping the order of equals. */
static void sort_by_len(zsrc *src, long n) {
    for (long i = 1; i < n; i++) {
        zsrc t = src[i];
        long j = i;
        for (; j > 0 && src[j - 1].len > t.len; j--) src[j] = src[j - 1];
        src[j] = t;
    }
}

static void emit(client *c, const resp_arg *dst, int op, const zref *v, size_t n, int withscores) {
    if (!dst) {
        reply_array(c, (long)(withscores && c->resp == 2 ? 2 * n : n));
        for (size_t i = 0; i < n; i++) zset_reply_pair(c, v[i].m, v[i].len, v[i].score, withscores);
        return;
    }
    if (n) {
        static const char *events[] = {"zunionstore", "zinterstore", "zdiffstore"};
        zset_store_value(c, dst, zset_build(dst, v, n));
        reply_int(c, (long long)n);
        notify_keyspace_event(NOTIFY_ZSET, events[op], dst->p, dst->len, c->db->id);
        server_add_dirty(1);
    } else {
        reply_int(c, 0);
        zset_store_empty(c, dst);
    }
}

static void zop_generic(client *c, const resp_arg *dst, int numidx, int op, int card_only) {
    zop_args a = {0, NULL, AGG_SUM, 0, 0};
    if (load_inputs(c, numidx, &a) != OK ||
        parse_options(c, numidx + 1 + (int)a.setnum, op, dst != NULL, card_only, &a) != OK)
        goto done;
    if (op != OP_DIFF) sort_by_len(a.src, a.setnum);
    if (op == OP_UNION) {
        dict d;
        dict_init(&d, &acc_type);
        size_t n;
        zref *v = do_union(a.src, a.setnum, a.agg, &d, &n);
        emit(c, dst, op, v, n, a.withscores);
        xfree(v);
        dict_clear(&d, free_acc, NULL);
        goto done;
    }
    zres res = {SBUF_INIT, NULL, 0, 0};
    if (op == OP_INTER) {
        inter_ctx x = {a.src, a.setnum, a.agg, card_only, a.limit, 0, &res};
        if (a.src[0].len) src_each(&a.src[0], inter_one, &x);
        if (card_only) {
            reply_int(c, (long long)x.card);
            goto free_res;
        }
    } else {
        do_diff(a.src, a.setnum, &res);
    }
    zref *v = res_sorted(&res);
    emit(c, dst, op, v, res.n, a.withscores);
    xfree(v);
free_res:
    sbuf_free(&res.arena);
    xfree(res.v);
done:
    xfree(a.src);
}

void zunionstore_command(client *c) {
    zop_generic(c, &c->argv[1], 2, OP_UNION, 0);
}
void zinterstore_command(client *c) {
    zop_generic(c, &c->argv[1], 2, OP_INTER, 0);
}
void zdiffstore_command(client *c) {
    zop_generic(c, &c->argv[1], 2, OP_DIFF, 0);
}
void zunion_command(client *c) {
    zop_generic(c, NULL, 1, OP_UNION, 0);
}
void zinter_command(client *c) {
    zop_generic(c, NULL, 1, OP_INTER, 0);
}
void zintercard_command(client *c) {
    zop_generic(c, NULL, 1, OP_INTER, 1);
}
void zdiff_command(client *c) {
    zop_generic(c, NULL, 1, OP_DIFF, 0);
}
