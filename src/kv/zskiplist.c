/* kv/zskiplist — see zskiplist.h for the layout and invariants. The
 * algorithms are Pugh's skiplist with per-link spans (as in Redis's
 * t_zset.c): a search from the top level records, per level, the last node
 * before the target (update[]) and its rank (rank[]); links are then
 * rewired and spans adjusted from those. */
#include "kv/zskiplist.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>

/* ---- levels ---------------------------------------------------------------------- */

static uint64_t level_state = 0x9E3779B97F4A7C15ULL;

void zsl_seed(uint64_t seed) {
    level_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

/* Height of a new node: 1 + the number of leading 2-bit groups that are zero,
 * so each extra level has probability 1/4 (Redis's ZSKIPLIST_P). */
static int random_level(void) {
    uint64_t x = level_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    level_state = x;
    uint64_t r = x * 0x2545F4914F6CDD1DULL;
    int level = 1;
    while ((r & 3) == 0 && level < ZSL_MAXLEVEL) {
        level++;
        r >>= 2;
    }
    return level;
}

/* ---- ranges --------------------------------------------------------------------- */

int zrange_is_empty(const zrange_spec *r) {
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

static int lex_bound_cmp(const zlex_bound *a, const zlex_bound *b) {
    if (a->inf || b->inf) return (a->inf > b->inf) - (a->inf < b->inf);
    return zsl_cmp_member(a->s, a->len, b->s, b->len);
}

int zlex_is_empty(const zlex_spec *r) {
    int c = lex_bound_cmp(&r->min, &r->max);
    return c > 0 || (c == 0 && (r->min.ex || r->max.ex));
}

/* ---- nodes --------------------------------------------------------------------- */

static zsl_node *node_new(int height, double score, const char *m, size_t len) {
    assert(len <= UINT32_MAX);
    zsl_node *n = xmalloc(sizeof(zsl_node) + (size_t)height * sizeof(zsl_link) + len);
    n->score = score;
    n->backward = NULL;
    n->len = (uint32_t)len;
    n->height = (uint8_t)height;
    if (len) memcpy((char *)&n->level[height], m, len);
    return n;
}

void zsl_node_free(zsl_node *n) {
    xfree(n);
}

void zsl_init(zskiplist *zsl) {
    zsl->level = 1;
    zsl->length = 0;
    zsl->header = node_new(ZSL_MAXLEVEL, 0, NULL, 0);
    for (int i = 0; i < ZSL_MAXLEVEL; i++) {
        zsl->header->level[i].forward = NULL;
        zsl->header->level[i].span = 0;
    }
    zsl->tail = NULL;
}

void zsl_release(zskiplist *zsl) {
    zsl_node *n = zsl->header->level[0].forward;
    while (n) {
        zsl_node *next = n->level[0].forward;
        xfree(n);
        n = next;
    }
    xfree(zsl->header);
    zsl->header = zsl->tail = NULL;
    zsl->length = 0;
}

/* Does node x sort before (score, m)? */
static inline int node_before(const zsl_node *x, double score, const char *m, size_t len) {
    return x->score < score ||
           (x->score == score && zsl_cmp_member(zsl_member(x), x->len, m, len) < 0);
}

/* ---- insert / delete -------------------------------------------------------------- */

/* Links node x (its score, member and height set) into its place. */
static void link_node(zskiplist *zsl, zsl_node *x) {
    zsl_node *update[ZSL_MAXLEVEL];
    unsigned long rank[ZSL_MAXLEVEL];
    const char *m = zsl_member(x);
    zsl_node *p = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (p->level[i].forward && node_before(p->level[i].forward, x->score, m, x->len)) {
            rank[i] += p->level[i].span;
            p = p->level[i].forward;
        }
        update[i] = p;
    }
    int h = x->height;
    if (h > zsl->level) {
        for (int i = zsl->level; i < h; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->level[i].span = zsl->length;
        }
        zsl->level = h;
    }
    for (int i = 0; i < h; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = h; i < zsl->level; i++) update[i]->level[i].span++;
    x->backward = update[0] == zsl->header ? NULL : update[0];
    if (x->level[0].forward)
        x->level[0].forward->backward = x;
    else
        zsl->tail = x;
    zsl->length++;
}

zsl_node *zsl_insert(zskiplist *zsl, double score, const char *m, size_t len) {
    assert(!isnan(score));
    zsl_node *x = node_new(random_level(), score, m, len);
    link_node(zsl, x);
    return x;
}

/* Unlinks x given update[] (the last node before x on every level). */
static void unlink_node(zskiplist *zsl, zsl_node *x, zsl_node **update) {
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward)
        x->level[0].forward->backward = x->backward;
    else
        zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL) zsl->level--;
    zsl->length--;
}

/* Fills update[] for (score, m): the last node before it on each level. */
static void find_update(const zskiplist *zsl, double score, const char *m, size_t len,
                        zsl_node **update) {
    zsl_node *p = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (p->level[i].forward && node_before(p->level[i].forward, score, m, len))
            p = p->level[i].forward;
        update[i] = p;
    }
}

zsl_node *zsl_unlink(zskiplist *zsl, double score, const char *m, size_t len) {
    zsl_node *update[ZSL_MAXLEVEL];
    find_update(zsl, score, m, len, update);
    zsl_node *x = update[0]->level[0].forward;
    if (!x || x->score != score || zsl_cmp_member(zsl_member(x), x->len, m, len) != 0) return NULL;
    unlink_node(zsl, x, update);
    return x;
}

void zsl_update_score(zskiplist *zsl, zsl_node *x, double newscore) {
    assert(!isnan(newscore));
    zsl_node *update[ZSL_MAXLEVEL];
    find_update(zsl, x->score, zsl_member(x), x->len, update);
    assert(update[0]->level[0].forward == x);
    /* Still between its neighbours: only the score changes. */
    if ((x->backward == NULL || x->backward->score < newscore) &&
        (x->level[0].forward == NULL || x->level[0].forward->score > newscore)) {
        x->score = newscore;
        return;
    }
    unlink_node(zsl, x, update);
    x->score = newscore;
    link_node(zsl, x);
}

/* ---- ranks ---------------------------------------------------------------------- */

unsigned long zsl_rank(const zskiplist *zsl, double score, const char *m, size_t len) {
    unsigned long rank = 0;
    const zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        const zsl_node *f;
        while ((f = x->level[i].forward) &&
               (f->score < score ||
                (f->score == score && zsl_cmp_member(zsl_member(f), f->len, m, len) <= 0))) {
            rank += x->level[i].span;
            x = f;
        }
        if (x != zsl->header && x->score == score &&
            zsl_cmp_member(zsl_member(x), x->len, m, len) == 0)
            return rank;
    }
    return 0;
}

zsl_node *zsl_by_rank(const zskiplist *zsl, unsigned long rank) {
    if (rank == 0 || rank > zsl->length) return NULL;
    unsigned long traversed = 0;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

/* ---- ranges ------------------------------------------------------------------------ */

static int in_range(const zskiplist *zsl, const zrange_spec *r) {
    if (zrange_is_empty(r)) return 0;
    const zsl_node *first = zsl->header->level[0].forward;
    return zsl->tail && zrange_gte_min(zsl->tail->score, r) && zrange_lte_max(first->score, r);
}

zsl_node *zsl_first_in_range(const zskiplist *zsl, const zrange_spec *r) {
    if (!in_range(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zrange_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    assert(x);
    return zrange_lte_max(x->score, r) ? x : NULL;
}

zsl_node *zsl_last_in_range(const zskiplist *zsl, const zrange_spec *r) {
    if (!in_range(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && zrange_lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    assert(x != zsl->header);
    return zrange_gte_min(x->score, r) ? x : NULL;
}

static int in_lex(const zskiplist *zsl, const zlex_spec *r) {
    if (zlex_is_empty(r)) return 0;
    const zsl_node *first = zsl->header->level[0].forward;
    return zsl->tail && zlex_gte_min(zsl_member(zsl->tail), zsl->tail->len, r) &&
           zlex_lte_max(zsl_member(first), first->len, r);
}

zsl_node *zsl_first_in_lex(const zskiplist *zsl, const zlex_spec *r) {
    if (!in_lex(zsl, r)) return NULL;
    zsl_node *x = zsl->header, *f;
    for (int i = zsl->level - 1; i >= 0; i--)
        while ((f = x->level[i].forward) && !zlex_gte_min(zsl_member(f), f->len, r)) x = f;
    x = x->level[0].forward;
    assert(x);
    return zlex_lte_max(zsl_member(x), x->len, r) ? x : NULL;
}

zsl_node *zsl_last_in_lex(const zskiplist *zsl, const zlex_spec *r) {
    if (!in_lex(zsl, r)) return NULL;
    zsl_node *x = zsl->header, *f;
    for (int i = zsl->level - 1; i >= 0; i--)
        while ((f = x->level[i].forward) && zlex_lte_max(zsl_member(f), f->len, r)) x = f;
    assert(x != zsl->header);
    return zlex_gte_min(zsl_member(x), x->len, r) ? x : NULL;
}

/* ---- range deletion --------------------------------------------------------------------- */

/* Removes nodes from x on while keep(x) holds (update[] set up for x). */
typedef int zsl_keep_fn(const zsl_node *x, const void *spec);

static unsigned long delete_run(zskiplist *zsl, zsl_node **update, zsl_node *x, zsl_keep_fn *inside,
                                const void *spec, unsigned long limit, zsl_removed_fn *fn,
                                void *ctx) {
    unsigned long removed = 0;
    while (x && removed < limit && inside(x, spec)) {
        zsl_node *next = x->level[0].forward;
        unlink_node(zsl, x, update);
        if (fn) fn(ctx, x);
        xfree(x);
        removed++;
        x = next;
    }
    return removed;
}

static int score_inside(const zsl_node *x, const void *spec) {
    return zrange_lte_max(x->score, spec);
}
static int lex_inside(const zsl_node *x, const void *spec) {
    return zlex_lte_max(zsl_member(x), x->len, spec);
}
static int always(const zsl_node *x, const void *spec) {
    (void)x;
    (void)spec;
    return 1;
}

unsigned long zsl_delete_range_by_score(zskiplist *zsl, const zrange_spec *r, zsl_removed_fn *fn,
                                        void *ctx) {
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && !zrange_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
        update[i] = x;
    }
    return delete_run(zsl, update, x->level[0].forward, score_inside, r, (unsigned long)-1, fn,
                      ctx);
}

unsigned long zsl_delete_range_by_lex(zskiplist *zsl, const zlex_spec *r, zsl_removed_fn *fn,
                                      void *ctx) {
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header, *f;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while ((f = x->level[i].forward) && !zlex_gte_min(zsl_member(f), f->len, r)) x = f;
        update[i] = x;
    }
    return delete_run(zsl, update, x->level[0].forward, lex_inside, r, (unsigned long)-1, fn, ctx);
}

unsigned long zsl_delete_range_by_rank(zskiplist *zsl, unsigned long start, unsigned long end,
                                       zsl_removed_fn *fn, void *ctx) {
    if (start < 1 || end < start) return 0;
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    unsigned long traversed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span < start) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    return delete_run(zsl, update, x->level[0].forward, always, NULL, end - start + 1, fn, ctx);
}

/* ---- checking --------------------------------------------------------------------- */

int zsl_check(const zskiplist *zsl) {
    const zsl_node *h = zsl->header;
    if (zsl->level < 1 || zsl->level > ZSL_MAXLEVEL) return 0;
    for (int i = zsl->level; i < ZSL_MAXLEVEL; i++) /* spans up there are stale, unused */
        if (h->level[i].forward) return 0;
    /* level 0: order, backward links, length, tail, heights */
    unsigned long n = 0;
    int maxh = 1;
    const zsl_node *prev = NULL;
    for (const zsl_node *x = h->level[0].forward; x; x = x->level[0].forward) {
        if (x->backward != prev || isnan(x->score)) return 0;
        if (x->height < 1 || x->height > ZSL_MAXLEVEL) return 0;
        if (prev && !node_before(prev, x->score, zsl_member(x), x->len)) return 0;
        if (x->height > maxh) maxh = x->height;
        prev = x;
        n++;
    }
    if (n != zsl->length || zsl->tail != prev) return 0;
    if (zsl->length && maxh != zsl->level) return 0;
    if (!zsl->length && zsl->level != 1) return 0;
    /* every level: a sub-sequence of level 0 with exact spans */
    for (int i = 0; i < zsl->level; i++) {
        const zsl_node *x = h;
        unsigned long rank_x = 0;
        while (x) {
            const zsl_node *f = x->level[i].forward;
            unsigned long steps = 0;
            const zsl_node *y = x;
            /* walk level 0 from x to f, counting */
            while (y != f) {
                y = y->level[0].forward;
                steps++;
                if (!y && f) return 0;
                if (!y) break;
            }
            if (!f) steps = zsl->length - rank_x;
            if (x->level[i].span != steps) return 0;
            if (f && f->height <= i) return 0;
            rank_x += steps;
            x = f;
        }
    }
    return 1;
}
