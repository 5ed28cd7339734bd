/* kv/zset — see zset.h for the encodings and invariants. */
#include "kv/zset.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const void *node_key(const void *e, size_t *len) {
    const zsl_node *n = e;
    *len = n->len;
    return zsl_member(n);
}
static const dict_type zset_dict_type = {dict_hash_bytes, node_key, NULL};

static inline lpbuf *LP(const kobj *o) {
    return kobj_ptr(o);
}
static inline zset_sl *SL(const kobj *o) {
    return kobj_ptr(o);
}

/* ---- listpack scores ------------------------------------------------------------- */

/* A score is an integer of 1..7 bytes (little-endian two's complement) when
 * it is integral and fits in 56 bits, else the 8 raw bytes of the double;
 * the entry's length tells which. Small counters take 1-2 bytes, Unix times
 * 4-6, geohashes (52-bit) 7. -0 is stored as 0: Redis's listpack keeps "-0"
 * as the integer 0, so a listpack-encoded set loses the sign (a skiplist
 * keeps it). */
#define LPZ_INT_LIMIT 36028797018963968.0 /* 2^55 */

static size_t score_enc(double d, char *buf) {
    if (d > -LPZ_INT_LIMIT && d < LPZ_INT_LIMIT && d == (double)(long long)d) {
        long long v = (long long)d;
        size_t n = 1;
        while (n < 7 && (v < -(1LL << (8 * n - 1)) || v >= (1LL << (8 * n - 1)))) n++;
        for (size_t i = 0; i < n; i++) buf[i] = (char)((unsigned long long)v >> (8 * i));
        return n;
    }
    memcpy(buf, &d, 8);
    return 8;
}

static double score_dec(const unsigned char *sp) {
    size_t len;
    const unsigned char *s = (const unsigned char *)lp_get(sp, &len);
    if (len == 8) {
        double d;
        memcpy(&d, s, 8);
        return d;
    }
    unsigned long long u = 0;
    for (size_t i = 0; i < len; i++) u |= (unsigned long long)s[i] << (8 * i);
    int shift = 64 - 8 * (int)len; /* sign-extend */
    return (double)((long long)(u << shift) >> shift);
}

int zset_score_text_listpack(char *buf, size_t size, double d) {
    if (isnan(d)) return snprintf(buf, size, "nan");
    if (isinf(d)) return snprintf(buf, size, d > 0 ? "inf" : "-inf");
    if (d == 0) return snprintf(buf, size, signbit(d) ? "-0" : "0");
    if (d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2) && (double)(long long)d == d)
        return snprintf(buf, size, "%lld", (long long)d);
    return snprintf(buf, size, "%.17g", d);
}

/* ---- listpack pairs ------------------------------------------------------------- */

static inline unsigned char *lpz_next_pair(lpbuf *lp, unsigned char *ep) {
    unsigned char *sp = lp_next(lp, ep);
    return lp_next(lp, sp);
}

static inline unsigned char *lpz_prev_pair(lpbuf *lp, unsigned char *ep) {
    unsigned char *sp = lp_prev(lp, ep);
    return sp ? lp_prev(lp, sp) : NULL;
}

static unsigned char *lpz_find(lpbuf *lp, const char *m, size_t len, double *score) {
    for (unsigned char *ep = lp_first(lp); ep;) {
        unsigned char *sp = lp_next(lp, ep);
        size_t l;
        const char *s = lp_get(ep, &l);
        if (l == len && memcmp(s, m, len) == 0) {
            if (score) *score = score_dec(sp);
            return ep;
        }
        ep = lp_next(lp, sp);
    }
    return NULL;
}

static lpbuf *lpz_insert(lpbuf *lp, const char *m, size_t len, double score) {
    char sb[8];
    size_t sl = score_enc(score, sb);
    unsigned char *ep = lp_first(lp);
    while (ep) {
        unsigned char *sp = lp_next(lp, ep);
        double s = score_dec(sp);
        if (s > score) break;
        if (s == score) {
            size_t l;
            const char *e = lp_get(ep, &l);
            if (zsl_cmp_member(e, l, m, len) > 0) break;
        }
        ep = lp_next(lp, sp);
    }
    unsigned char *np;
    lp = lp_insert(lp, ep, m, len, ep ? LP_BEFORE : LP_AFTER, &np);
    return lp_insert(lp, np, sb, sl, LP_AFTER, NULL);
}

static lpbuf *lpz_delete(lpbuf *lp, unsigned char *ep) {
    unsigned char *sp;
    lp = lp_delete(lp, ep, &sp);
    return lp_delete(lp, sp, NULL);
}

static lpbuf *lpz_append(lpbuf *lp, double score, const char *m, size_t len) {
    char sb[8];
    size_t sl = score_enc(score, sb);
    lp = lp_append(lp, m, len);
    return lp_append(lp, sb, sl);
}

/* ---- creation and conversion -------------------------------------------------------- */

static zset_sl *sl_new(void) {
    zset_sl *z = xmalloc(sizeof(*z));
    dict_init(&z->d, &zset_dict_type);
    zsl_init(&z->zsl);
    return z;
}

static void sl_free(zset_sl *z) {
    dict_clear(&z->d, NULL, NULL);
    zsl_release(&z->zsl);
    xfree(z);
}

kobj *zset_new(const char *key, size_t klen, int enc) {
    void *p = enc == ENC_LISTPACK ? (void *)lp_new() : (void *)sl_new();
    return kobj_new_ptr(OBJ_ZSET, enc, key, klen, p);
}

int zset_create_enc(size_t first_len, const zset_limits *lim) {
    return lim->entries == 0 || first_len > lim->value ? ENC_SKIPLIST : ENC_LISTPACK;
}

int zset_build_enc(unsigned long n, size_t maxlen, size_t totlen, const zset_limits *lim) {
    return n <= lim->entries && maxlen <= lim->value && totlen + n * 16 < ZSET_LP_SAFETY_SIZE
               ? ENC_LISTPACK
               : ENC_SKIPLIST;
}

unsigned long zset_len(const kobj *o) {
    return o->enc == ENC_LISTPACK ? lp_count(LP(o)) / 2 : SL(o)->zsl.length;
}

void zset_convert(kobj *o, int enc) {
    if (o->enc == enc) return;
    if (o->enc == ENC_LISTPACK) {
        lpbuf *lp = LP(o);
        zset_sl *z = sl_new();
        dict_reserve(&z->d, lp_count(lp) / 2);
        for (unsigned char *ep = lp_first(lp); ep; ep = lpz_next_pair(lp, ep)) {
            size_t l;
            const char *m = lp_get(ep, &l);
            zsl_node *n = zsl_insert(&z->zsl, score_dec(lp_next(lp, ep)), m, l);
            dict_add(&z->d, n);
        }
        lp_free(lp);
        kobj_set_ptr(o, z);
    } else {
        zset_sl *z = SL(o);
        lpbuf *lp = lp_new();
        for (zsl_node *n = z->zsl.header->level[0].forward; n; n = n->level[0].forward)
            lp = lpz_append(lp, n->score, zsl_member(n), n->len);
        sl_free(z);
        kobj_set_ptr(o, lp);
    }
    o->enc = (uint8_t)enc;
}

/* ---- lookups -------------------------------------------------------------------------- */

int zset_score(const kobj *o, const char *m, size_t len, double *score) {
    if (o->enc == ENC_LISTPACK) return lpz_find(LP(o), m, len, score) != NULL;
    zsl_node *n = dict_find(&SL(o)->d, m, len);
    if (!n) return 0;
    *score = n->score;
    return 1;
}

long zset_rank(const kobj *o, const char *m, size_t len, int rev) {
    unsigned long n = zset_len(o);
    if (o->enc == ENC_LISTPACK) {
        lpbuf *lp = LP(o);
        long rank = 0;
        for (unsigned char *ep = lp_first(lp); ep; ep = lpz_next_pair(lp, ep), rank++) {
            size_t l;
            const char *s = lp_get(ep, &l);
            if (l == len && memcmp(s, m, len) == 0) return rev ? (long)n - 1 - rank : rank;
        }
        return -1;
    }
    zset_sl *z = SL(o);
    zsl_node *x = dict_find(&z->d, m, len);
    if (!x) return -1;
    unsigned long r = zsl_rank(&z->zsl, x->score, zsl_member(x), x->len);
    assert(r);
    return rev ? (long)(n - r) : (long)(r - 1);
}

/* ---- add / delete ------------------------------------------------------------------------ */

/* What ZADD does to an existing member with score cur: 0 = nothing (NOP),
 * 1 = set *score, -1 = NaN. */
static int update_existing(int in, double cur, double *score) {
    if (in & ZADD_NX) return 0;
    if (in & ZADD_INCR) {
        *score += cur;
        if (isnan(*score)) return -1;
    }
    if (((in & ZADD_LT) && *score >= cur) || ((in & ZADD_GT) && *score <= cur)) return 0;
    return 1;
}

static int add_listpack(kobj *o, double score, const char *m, size_t len, int in, int *out,
                        double *newscore, const zset_limits *lim) {
    lpbuf *lp = LP(o);
    double cur;
    unsigned char *ep = lpz_find(lp, m, len, &cur);
    if (ep) {
        int what = update_existing(in, cur, &score);
        if (what <= 0) {
            *out |= what < 0 ? ZADD_OUT_NAN : ZADD_OUT_NOP;
            return what == 0;
        }
        if (newscore) *newscore = score;
        if (score != cur) {
            lp = lpz_delete(lp, ep);
            kobj_set_ptr(o, lpz_insert(lp, m, len, score));
            *out |= ZADD_OUT_UPDATED;
        }
        return 1;
    }
    if (in & ZADD_XX) {
        *out |= ZADD_OUT_NOP;
        return 1;
    }
    if (lp_count(lp) / 2 + 1 > lim->entries || len > lim->value ||
        lp_bytes(lp) + len + 32 > ZSET_LP_SAFETY_SIZE) {
        zset_convert(o, ENC_SKIPLIST);
        return -2; /* continue as a skiplist */
    }
    kobj_set_ptr(o, lpz_insert(lp, m, len, score));
    if (newscore) *newscore = score;
    *out |= ZADD_OUT_ADDED;
    return 1;
}

int zset_add(kobj *o, double score, const char *m, size_t len, int in, int *out, double *newscore,
             const zset_limits *lim) {
    *out = 0;
    if (isnan(score)) {
        *out = ZADD_OUT_NAN;
        return 0;
    }
    if (o->enc == ENC_LISTPACK) {
        int r = add_listpack(o, score, m, len, in, out, newscore, lim);
        if (r != -2) return r;
    }
    zset_sl *z = SL(o);
    uint64_t h;
    zsl_node *n = dict_find_h(&z->d, m, len, &h);
    if (n) {
        double cur = n->score;
        int what = update_existing(in, cur, &score);
        if (what <= 0) {
            *out |= what < 0 ? ZADD_OUT_NAN : ZADD_OUT_NOP;
            return what == 0;
        }
        if (newscore) *newscore = score;
        if (score != cur) {
            zsl_update_score(&z->zsl, n, score);
            *out |= ZADD_OUT_UPDATED;
        }
        return 1;
    }
    if (in & ZADD_XX) {
        *out |= ZADD_OUT_NOP;
        return 1;
    }
    n = zsl_insert(&z->zsl, score, m, len);
    dict_add_h(&z->d, n, h);
    if (newscore) *newscore = score;
    *out |= ZADD_OUT_ADDED;
    return 1;
}

void zset_append_sorted(kobj *o, double score, const char *m, size_t len) {
    if (o->enc == ENC_LISTPACK) {
        kobj_set_ptr(o, lpz_append(LP(o), score, m, len));
    } else {
        zset_sl *z = SL(o);
        dict_add(&z->d, zsl_insert(&z->zsl, score, m, len));
    }
}

int zset_del(kobj *o, const char *m, size_t len) {
    if (o->enc == ENC_LISTPACK) {
        lpbuf *lp = LP(o);
        unsigned char *ep = lpz_find(lp, m, len, NULL);
        if (!ep) return 0;
        kobj_set_ptr(o, lpz_delete(lp, ep));
        return 1;
    }
    zset_sl *z = SL(o);
    zsl_node *n = dict_remove(&z->d, m, len);
    if (!n) return 0;
    zsl_node *x = zsl_unlink(&z->zsl, n->score, zsl_member(n), n->len);
    assert(x == n);
    zsl_node_free(x);
    dict_maybe_shrink(&z->d);
    return 1;
}

/* ---- range removal ---------------------------------------------------------------------- */

static void forget_node(void *ctx, zsl_node *n) {
    zsl_node *x = dict_remove(ctx, zsl_member(n), n->len);
    assert(x == n);
}

/* Removes pairs [first, first + n) of a listpack. */
static void lpz_remove_pairs(kobj *o, unsigned long first, unsigned long n) {
    if (n) kobj_set_ptr(o, lp_delete_range(LP(o), (long)(2 * first), 2 * n));
}

unsigned long zset_remove_range_by_score(kobj *o, const zrange_spec *r) {
    if (o->enc == ENC_SKIPLIST) {
        zset_sl *z = SL(o);
        unsigned long n = zsl_delete_range_by_score(&z->zsl, r, forget_node, &z->d);
        dict_maybe_shrink(&z->d);
        return n;
    }
    lpbuf *lp = LP(o);
    unsigned long idx = 0, n = 0;
    unsigned char *ep = lp_first(lp);
    while (ep && !zrange_gte_min(score_dec(lp_next(lp, ep)), r)) {
        ep = lpz_next_pair(lp, ep);
        idx++;
    }
    while (ep && zrange_lte_max(score_dec(lp_next(lp, ep)), r)) {
        ep = lpz_next_pair(lp, ep);
        n++;
    }
    lpz_remove_pairs(o, idx, n);
    return n;
}

unsigned long zset_remove_range_by_lex(kobj *o, const zlex_spec *r) {
    if (o->enc == ENC_SKIPLIST) {
        zset_sl *z = SL(o);
        unsigned long n = zsl_delete_range_by_lex(&z->zsl, r, forget_node, &z->d);
        dict_maybe_shrink(&z->d);
        return n;
    }
    lpbuf *lp = LP(o);
    unsigned long idx = 0, n = 0;
    unsigned char *ep = lp_first(lp);
    size_t l;
    const char *m;
    while (ep && (m = lp_get(ep, &l), !zlex_gte_min(m, l, r))) {
        ep = lpz_next_pair(lp, ep);
        idx++;
    }
    while (ep && (m = lp_get(ep, &l), zlex_lte_max(m, l, r))) {
        ep = lpz_next_pair(lp, ep);
        n++;
    }
    lpz_remove_pairs(o, idx, n);
    return n;
}

unsigned long zset_remove_range_by_rank(kobj *o, unsigned long start, unsigned long end) {
    if (o->enc == ENC_SKIPLIST) {
        zset_sl *z = SL(o);
        unsigned long n = zsl_delete_range_by_rank(&z->zsl, start + 1, end + 1, forget_node, &z->d);
        dict_maybe_shrink(&z->d);
        return n;
    }
    lpz_remove_pairs(o, start, end - start + 1);
    return end - start + 1;
}

/* ---- iteration ------------------------------------------------------------------------ */

static void iter_init(zset_iter *it, const kobj *o, int rev) {
    it->enc = o->enc;
    it->rev = rev;
    it->lp = o->enc == ENC_LISTPACK ? LP(o) : NULL;
    it->ep = NULL;
    it->node = NULL;
}

void zset_iter_at_rank(zset_iter *it, const kobj *o, unsigned long rank, int rev) {
    iter_init(it, o, rev);
    unsigned long n = zset_len(o);
    if (rank >= n) return;
    if (o->enc == ENC_LISTPACK) {
        it->ep = lp_seek(it->lp, rev ? -2 - 2 * (long)rank : 2 * (long)rank);
    } else {
        zskiplist *zsl = &SL(o)->zsl;
        if (rank == 0)
            it->node = rev ? zsl->tail : zsl->header->level[0].forward;
        else
            it->node = zsl_by_rank(zsl, rev ? n - rank : rank + 1);
    }
}

/* Listpack range ends: is the range non-empty at all, given first and last? */
static int lp_score_in_range(lpbuf *lp, const zrange_spec *r) {
    if (zrange_is_empty(r)) return 0;
    unsigned char *last = lp_last(lp);
    if (!last || !zrange_gte_min(score_dec(last), r)) return 0;
    return zrange_lte_max(score_dec(lp_next(lp, lp_first(lp))), r);
}

void zset_iter_at_score(zset_iter *it, const kobj *o, const zrange_spec *r, int rev) {
    iter_init(it, o, rev);
    if (o->enc == ENC_SKIPLIST) {
        const zskiplist *zsl = &SL(o)->zsl;
        it->node = rev ? zsl_last_in_range(zsl, r) : zsl_first_in_range(zsl, r);
        return;
    }
    lpbuf *lp = it->lp;
    if (!lp_score_in_range(lp, r)) return;
    if (!rev) {
        for (unsigned char *ep = lp_first(lp); ep; ep = lpz_next_pair(lp, ep)) {
            double s = score_dec(lp_next(lp, ep));
            if (zrange_gte_min(s, r)) {
                if (zrange_lte_max(s, r)) it->ep = ep;
                return;
            }
        }
    } else {
        for (unsigned char *sp = lp_last(lp); sp;) {
            unsigned char *ep = lp_prev(lp, sp);
            double s = score_dec(sp);
            if (zrange_lte_max(s, r)) {
                if (zrange_gte_min(s, r)) it->ep = ep;
                return;
            }
            sp = lp_prev(lp, ep);
        }
    }
}

static int lp_lex_in_range(lpbuf *lp, const zlex_spec *r) {
    if (zlex_is_empty(r)) return 0;
    unsigned char *last = lp_last(lp);
    if (!last) return 0;
    size_t l;
    const char *m = lp_get(lp_prev(lp, last), &l);
    if (!zlex_gte_min(m, l, r)) return 0;
    m = lp_get(lp_first(lp), &l);
    return zlex_lte_max(m, l, r);
}

void zset_iter_at_lex(zset_iter *it, const kobj *o, const zlex_spec *r, int rev) {
    iter_init(it, o, rev);
    if (o->enc == ENC_SKIPLIST) {
        const zskiplist *zsl = &SL(o)->zsl;
        it->node = rev ? zsl_last_in_lex(zsl, r) : zsl_first_in_lex(zsl, r);
        return;
    }
    lpbuf *lp = it->lp;
    if (!lp_lex_in_range(lp, r)) return;
    unsigned char *ep = rev ? lp_prev(lp, lp_last(lp)) : lp_first(lp);
    for (; ep; ep = rev ? lpz_prev_pair(lp, ep) : lpz_next_pair(lp, ep)) {
        size_t l;
        const char *m = lp_get(ep, &l);
        if (rev ? zlex_lte_max(m, l, r) : zlex_gte_min(m, l, r)) {
            if (rev ? zlex_gte_min(m, l, r) : zlex_lte_max(m, l, r)) it->ep = ep;
            return;
        }
    }
}

void zset_iter_member(const zset_iter *it, const char **m, size_t *len) {
    if (it->enc == ENC_LISTPACK) {
        *m = lp_get(it->ep, len);
    } else {
        *m = zsl_member(it->node);
        *len = it->node->len;
    }
}

double zset_iter_score(const zset_iter *it) {
    return it->enc == ENC_LISTPACK ? score_dec(lp_next(it->lp, it->ep)) : it->node->score;
}

void zset_iter_get(const zset_iter *it, const char **m, size_t *len, double *score) {
    zset_iter_member(it, m, len);
    *score = zset_iter_score(it);
}

void zset_iter_next(zset_iter *it) {
    if (it->enc == ENC_LISTPACK)
        it->ep = it->rev ? lpz_prev_pair(it->lp, it->ep) : lpz_next_pair(it->lp, it->ep);
    else
        it->node = it->rev ? it->node->backward : it->node->level[0].forward;
}

/* ---- counts ------------------------------------------------------------------------- */

unsigned long zset_count_in_score(const kobj *o, const zrange_spec *r) {
    if (o->enc == ENC_SKIPLIST) {
        const zskiplist *zsl = &SL(o)->zsl;
        zsl_node *f = zsl_first_in_range(zsl, r);
        if (!f) return 0;
        zsl_node *l = zsl_last_in_range(zsl, r);
        return zsl_rank(zsl, l->score, zsl_member(l), l->len) -
               zsl_rank(zsl, f->score, zsl_member(f), f->len) + 1;
    }
    zset_iter it;
    unsigned long n = 0;
    for (zset_iter_at_score(&it, o, r, 0); zset_iter_valid(&it); zset_iter_next(&it)) {
        if (!zrange_lte_max(zset_iter_score(&it), r)) break;
        n++;
    }
    return n;
}

unsigned long zset_count_in_lex(const kobj *o, const zlex_spec *r) {
    if (o->enc == ENC_SKIPLIST) {
        const zskiplist *zsl = &SL(o)->zsl;
        zsl_node *f = zsl_first_in_lex(zsl, r);
        if (!f) return 0;
        /* Redis's arithmetic, kept for sets whose scores differ (where lex
         * ranges are undefined but must still answer the same) */
        unsigned long count = zsl->length - (zsl_rank(zsl, f->score, zsl_member(f), f->len) - 1);
        zsl_node *l = zsl_last_in_lex(zsl, r);
        if (l) count -= zsl->length - zsl_rank(zsl, l->score, zsl_member(l), l->len);
        return count;
    }
    zset_iter it;
    unsigned long n = 0;
    for (zset_iter_at_lex(&it, o, r, 0); zset_iter_valid(&it); zset_iter_next(&it)) {
        const char *m;
        size_t l;
        zset_iter_member(&it, &m, &l);
        if (!zlex_lte_max(m, l, r)) break;
        n++;
    }
    return n;
}

/* ---- random ---------------------------------------------------------------------------- */

void zset_random(const kobj *o, const char **m, size_t *len, double *score) {
    if (o->enc == ENC_LISTPACK) {
        lpbuf *lp = LP(o);
        long i = (long)((unsigned long)random() % (lp_count(lp) / 2));
        unsigned char *ep = lp_seek(lp, 2 * i);
        *m = lp_get(ep, len);
        if (score) *score = score_dec(lp_next(lp, ep));
        return;
    }
    zsl_node *n = dict_random(&SL(o)->d);
    *m = zsl_member(n);
    *len = n->len;
    if (score) *score = n->score;
}

/* ---- value ops ------------------------------------------------------------------------- */

void zset_free_value(void *ptr, int enc) {
    if (enc == ENC_LISTPACK)
        lp_free(ptr);
    else
        sl_free(ptr);
}

void *zset_dup_value(const void *ptr, int enc) {
    if (enc == ENC_LISTPACK) return lp_dup(ptr);
    const zset_sl *src = ptr;
    zset_sl *z = sl_new();
    dict_reserve(&z->d, src->zsl.length);
    /* tail to head: each insert lands at the front, O(1) per level */
    for (zsl_node *n = src->zsl.tail; n; n = n->backward)
        dict_add(&z->d, zsl_insert(&z->zsl, n->score, zsl_member(n), n->len));
    return z;
}

size_t zset_mem_value(const void *ptr, int enc, size_t samples) {
    if (enc == ENC_LISTPACK) return xmem_usable(ptr);
    const zset_sl *z = ptr;
    size_t total = xmem_usable(z) + xmem_usable(z->zsl.header) + dict_mem(&z->d);
    size_t seen = 0, bytes = 0;
    for (zsl_node *n = z->zsl.header->level[0].forward; n && (samples == 0 || seen < samples);
         n = n->level[0].forward) {
        bytes += xmem_usable(n);
        seen++;
    }
    if (seen) total += (size_t)((double)bytes / (double)seen * (double)z->zsl.length);
    return total;
}
