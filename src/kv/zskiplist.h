/* kv/zskiplist — the ordered half of a large sorted set: a skiplist ordered
 * by (score, member) whose links carry spans, so ranks are O(log N).
 *
 *   header ─L3──────────────────────────► C ──────────► NULL     span = how many
 *   header ─L2──────────► B ────────────► C ──────────► NULL     level-0 steps
 *   header ─L1─► A ─────► B ─────► X ───► C ───► D ───► NULL     the link jumps
 *           ◄─── backward (level 0 only) ───
 *
 * A node is one allocation: score, backward link, member length, height, the
 * height's links, then the member bytes. The dict of a sorted set (kv/zset)
 * stores pointers to these nodes and reads the member out of them, so a
 * member is stored once.
 *
 * Order: by score, then by member bytes (memcmp, a shorter prefix first).
 *
 * Invariants:
 *  1. Level-0 links visit every node exactly once in strictly increasing
 *     (score, member) order; no two nodes have the same member here is the
 *     caller's business (the dict enforces it).
 *  2. For every link at level i from node x to y, span = rank(y) - rank(x)
 *     (rank(header) = 0; a NULL link's span = length - rank(x)).
 *  3. node->backward is the level-0 predecessor (NULL for the first node);
 *     tail is the last node (NULL when empty).
 *  4. zsl->level is the highest height of any node (1 when empty); header
 *     links above it are NULL with span 0.
 *  5. Scores are never NaN.
 *
 * Pure data structure: no server state; not thread-safe. */
#ifndef LARDER_KV_ZSKIPLIST_H
#define LARDER_KV_ZSKIPLIST_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ZSL_MAXLEVEL 32 /* enough for 2^64 elements at p = 1/4 */

typedef struct zsl_node zsl_node;
typedef struct zsl_link {
    zsl_node *forward;
    unsigned long span;
} zsl_link;

struct zsl_node {
    double score;
    zsl_node *backward;
    uint32_t len;   /* member length */
    uint8_t height; /* number of links */
    zsl_link level[];
    /* member bytes follow level[height] */
};

typedef struct zskiplist {
    zsl_node *header, *tail;
    unsigned long length;
    int level;
} zskiplist;

static inline const char *zsl_member(const zsl_node *n) {
    return (const char *)&n->level[n->height];
}

/* ---- ranges (shared with the listpack encoding in kv/zset) ---------------- */

/* A score interval; minex/maxex make an end exclusive ("(1.5"). */
typedef struct zrange_spec {
    double min, max;
    int minex, maxex;
} zrange_spec;

/* One end of a lexicographic interval: "-" (below everything, inf = -1), "+"
 * (above everything, inf = 1) or a string s (inf = 0), exclusive when ex. */
typedef struct zlex_bound {
    const char *s;
    size_t len;
    int inf;
    int ex;
} zlex_bound;
typedef struct zlex_spec {
    zlex_bound min, max;
} zlex_spec;

/* Member order: memcmp, then length. */
static inline int zsl_cmp_member(const char *a, size_t alen, const char *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static inline int zrange_gte_min(double v, const zrange_spec *r) {
    return r->minex ? v > r->min : v >= r->min;
}
static inline int zrange_lte_max(double v, const zrange_spec *r) {
    return r->maxex ? v < r->max : v <= r->max;
}
/* Compares s with a bound: <0, 0, >0. */
static inline int zlex_cmp_bound(const char *s, size_t len, const zlex_bound *b) {
    if (b->inf) return -b->inf;
    return zsl_cmp_member(s, len, b->s, b->len);
}
static inline int zlex_gte_min(const char *s, size_t len, const zlex_spec *r) {
    int c = zlex_cmp_bound(s, len, &r->min);
    return r->min.ex ? c > 0 : c >= 0;
}
static inline int zlex_lte_max(const char *s, size_t len, const zlex_spec *r) {
    int c = zlex_cmp_bound(s, len, &r->max);
    return r->max.ex ? c < 0 : c <= 0;
}
/* Whether a score range / lex range can hold anything at all. */
int zrange_is_empty(const zrange_spec *r);
int zlex_is_empty(const zlex_spec *r);

/* ---- the skiplist -------------------------------------------------------------- */

void zsl_init(zskiplist *zsl);
/* Frees every node and the header (the struct itself is the caller's). */
void zsl_release(zskiplist *zsl);
/* Seeds the level generator (tests; the default seed is fixed). */
void zsl_seed(uint64_t seed);

/* Inserts a member that is not present; returns its node (owned by zsl). */
zsl_node *zsl_insert(zskiplist *zsl, double score, const char *m, size_t len);
/* Unlinks the node with this score and member and returns it (the caller
 * frees it with zsl_node_free), or NULL when there is none. */
zsl_node *zsl_unlink(zskiplist *zsl, double score, const char *m, size_t len);
void zsl_node_free(zsl_node *n);
/* Gives node x (in zsl) a new score, keeping the node's address. */
void zsl_update_score(zskiplist *zsl, zsl_node *x, double newscore);

/* 1-based rank of (score, member), 0 if absent. */
unsigned long zsl_rank(const zskiplist *zsl, double score, const char *m, size_t len);
/* The node at a 1-based rank, NULL when out of range. */
zsl_node *zsl_by_rank(const zskiplist *zsl, unsigned long rank);

/* First / last node inside a range, NULL if none. */
zsl_node *zsl_first_in_range(const zskiplist *zsl, const zrange_spec *r);
zsl_node *zsl_last_in_range(const zskiplist *zsl, const zrange_spec *r);
zsl_node *zsl_first_in_lex(const zskiplist *zsl, const zlex_spec *r);
zsl_node *zsl_last_in_lex(const zskiplist *zsl, const zlex_spec *r);

/* Remove every node in a range. Each removed node is passed to fn (which
 * must forget it, e.g. drop it from the dict) and then freed. Return the
 * number removed. Ranks are 1-based and inclusive. */
typedef void zsl_removed_fn(void *ctx, zsl_node *n);
unsigned long zsl_delete_range_by_score(zskiplist *zsl, const zrange_spec *r, zsl_removed_fn *fn,
                                        void *ctx);
unsigned long zsl_delete_range_by_lex(zskiplist *zsl, const zlex_spec *r, zsl_removed_fn *fn,
                                      void *ctx);
unsigned long zsl_delete_range_by_rank(zskiplist *zsl, unsigned long start, unsigned long end,
                                       zsl_removed_fn *fn, void *ctx);

/* Checks every invariant (tests and DEBUG); returns 1 when consistent. */
int zsl_check(const zskiplist *zsl);
#endif
