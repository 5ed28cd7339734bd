/* kv/zskiplist against a sorted-array model: seeded random inserts, deletes,
 * score updates, rank lookups, score and lex ranges and range deletions —
 * several million operations in total — with the structure's invariants
 * checked (zsl_check) along the way. */
#include "test.h"
#include "kv/zskiplist.h"
#include "util/mem.h"
#include <math.h>
#include <stdlib.h>

#define MAXID 4096

/* ---- the model: ids sorted by (score, member) ---------------------------------- */

typedef struct model {
    int present[MAXID];
    double score[MAXID];
    char name[MAXID][16];
    size_t nlen[MAXID];
    zsl_node *node[MAXID];
    int sorted[MAXID];
    int n;
} model;

static model M;
static zskiplist Z;
static uint64_t rs;

static uint64_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static unsigned below(unsigned n) {
    return (unsigned)(rnd() % n);
}

static int before(int a, int b) { /* model order */
    if (M.score[a] != M.score[b]) return M.score[a] < M.score[b];
    return zsl_cmp_member(M.name[a], M.nlen[a], M.name[b], M.nlen[b]) < 0;
}

static int pos_of(int id) { /* index in sorted, by binary search */
    int lo = 0, hi = M.n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (before(M.sorted[mid], id))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void model_insert(int id) {
    int p = pos_of(id);
    memmove(&M.sorted[p + 1], &M.sorted[p], sizeof(int) * (size_t)(M.n - p));
    M.sorted[p] = id;
    M.n++;
    M.present[id] = 1;
}

static void model_remove(int id) {
    int p = pos_of(id);
    memmove(&M.sorted[p], &M.sorted[p + 1], sizeof(int) * (size_t)(M.n - p - 1));
    M.n--;
    M.present[id] = 0;
}

static int score_mode;
static double random_score(void) {
    switch (score_mode) {
    case 0:
        return (double)below(20); /* many ties */
    case 1:
        return 0; /* lex sets */
    default:
        switch (below(10)) {
        case 0:
            return INFINITY;
        case 1:
            return -INFINITY;
        case 2:
            return (double)below(5);
        default:
            return ((double)rnd() / 18446744073709551616.0 - 0.5) * 1e6;
        }
    }
}

static void name_id(int id) {
    /* varied lengths and shared prefixes, so member order is exercised */
    static const char *pfx[] = {"", "a", "ab", "b", "m", "zz"};
    M.nlen[id] = (size_t)snprintf(M.name[id], sizeof(M.name[id]), "%s%d", pfx[id % 6], id / 6);
}

static void reset(void) {
    if (Z.header) zsl_release(&Z);
    memset(&M, 0, sizeof(M));
    for (int i = 0; i < MAXID; i++) name_id(i);
    zsl_init(&Z);
}

/* ---- checks ----------------------------------------------------------------------- */

static int bad;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c) && bad++ < 10) fprintf(stderr, "line %d: %s\n", __LINE__, #c);                    \
    } while (0)

static void full_compare(void) {
    EXPECT(zsl_check(&Z));
    EXPECT(Z.length == (unsigned long)M.n);
    zsl_node *x = Z.header->level[0].forward;
    for (int i = 0; i < M.n; i++, x = x ? x->level[0].forward : NULL) {
        int id = M.sorted[i];
        EXPECT(x == M.node[id]);
    }
    EXPECT(x == NULL);
}

static void random_range(zrange_spec *r) {
    r->min = random_score();
    r->max = below(4) ? r->min + (double)below(8) : random_score();
    r->minex = (int)below(2);
    r->maxex = (int)below(2);
}

static void random_lex(zlex_spec *r, char *b1, char *b2) {
    zlex_bound *bs[2] = {&r->min, &r->max};
    char *bufs[2] = {b1, b2};
    for (int k = 0; k < 2; k++) {
        zlex_bound *b = bs[k];
        b->ex = (int)below(2);
        b->inf = 0;
        unsigned t = below(12);
        if (t == 0) {
            b->inf = -1;
            b->ex = 1;
        } else if (t == 1) {
            b->inf = 1;
            b->ex = 1;
        } else {
            int id = (int)below(MAXID);
            b->len = M.nlen[id] - (t == 2 && M.nlen[id] > 1 ? 1 : 0); /* a prefix sometimes */
            memcpy(bufs[k], M.name[id], b->len);
            b->s = bufs[k];
        }
    }
}

/* model: index of the first element in range, and one past the last */
static void model_span(const zrange_spec *r, int *lo, int *hi) {
    *lo = 0;
    while (*lo < M.n && !zrange_gte_min(M.score[M.sorted[*lo]], r)) (*lo)++;
    *hi = *lo;
    while (*hi < M.n && zrange_lte_max(M.score[M.sorted[*hi]], r)) (*hi)++;
    if (zrange_is_empty(r)) *hi = *lo;
}

static void model_lex_span(const zlex_spec *r, int *lo, int *hi) {
    *lo = 0;
    while (*lo < M.n && !zlex_gte_min(M.name[M.sorted[*lo]], M.nlen[M.sorted[*lo]], r)) (*lo)++;
    *hi = *lo;
    while (*hi < M.n && zlex_lte_max(M.name[M.sorted[*hi]], M.nlen[M.sorted[*hi]], r)) (*hi)++;
    if (zlex_is_empty(r)) *hi = *lo;
}

/* The id a member name encodes (see name_id). */
static int id_of(const char *s, size_t len) {
    static const char *pfx[] = {"", "a", "ab", "b", "m", "zz"};
    size_t k = 0;
    while (k < len && (s[k] < '0' || s[k] > '9')) k++;
    int idx = -1;
    for (int i = 0; i < 6; i++)
        if (strlen(pfx[i]) == k && memcmp(pfx[i], s, k) == 0) idx = i;
    int num = atoi(s + k);
    return idx < 0 ? -1 : idx + 6 * num;
}

static void forget(void *ctx, zsl_node *n) {
    (void)ctx;
    char buf[16];
    memcpy(buf, zsl_member(n), n->len);
    buf[n->len] = 0;
    int id = id_of(buf, n->len);
    EXPECT(id >= 0 && id < MAXID && M.present[id] && M.node[id] == n);
    if (id < 0 || id >= MAXID || !M.present[id]) return;
    model_remove(id);
    M.node[id] = NULL;
}

/* ---- one random operation ------------------------------------------------------- */

static void op_insert_or_update(void) {
    int id = (int)below(MAXID);
    double s = random_score();
    if (!M.present[id]) {
        M.score[id] = s;
        M.node[id] = zsl_insert(&Z, s, M.name[id], M.nlen[id]);
        model_insert(id);
    } else {
        model_remove(id);
        zsl_update_score(&Z, M.node[id], s);
        M.score[id] = s;
        model_insert(id);
    }
}

static void op_delete(void) {
    if (!M.n) return;
    int id = M.sorted[below((unsigned)M.n)];
    zsl_node *x = zsl_unlink(&Z, M.score[id], M.name[id], M.nlen[id]);
    EXPECT(x == M.node[id]);
    if (x) zsl_node_free(x);
    model_remove(id);
    M.node[id] = NULL;
    /* deleting an absent member finds nothing */
    int other = (int)below(MAXID);
    if (!M.present[other])
        EXPECT(zsl_unlink(&Z, random_score(), M.name[other], M.nlen[other]) == NULL);
}

static void op_rank(void) {
    if (!M.n) return;
    int i = (int)below((unsigned)M.n), id = M.sorted[i];
    EXPECT(zsl_rank(&Z, M.score[id], M.name[id], M.nlen[id]) == (unsigned long)i + 1);
    EXPECT(zsl_by_rank(&Z, (unsigned long)i + 1) == M.node[id]);
    int other = (int)below(MAXID);
    if (!M.present[other]) EXPECT(zsl_rank(&Z, random_score(), M.name[other], M.nlen[other]) == 0);
    EXPECT(zsl_by_rank(&Z, 0) == NULL);
    EXPECT(zsl_by_rank(&Z, Z.length + 1) == NULL);
}

static void op_range(void) {
    zrange_spec r;
    random_range(&r);
    int lo, hi;
    model_span(&r, &lo, &hi);
    zsl_node *f = zsl_first_in_range(&Z, &r), *l = zsl_last_in_range(&Z, &r);
    if (lo < hi) {
        EXPECT(f == M.node[M.sorted[lo]]);
        EXPECT(l == M.node[M.sorted[hi - 1]]);
    } else {
        EXPECT(f == NULL && l == NULL);
    }
}

static void op_lex(void) {
    zlex_spec r;
    char b1[16], b2[16];
    random_lex(&r, b1, b2);
    int lo, hi;
    model_lex_span(&r, &lo, &hi);
    zsl_node *f = zsl_first_in_lex(&Z, &r), *l = zsl_last_in_lex(&Z, &r);
    if (lo < hi) {
        EXPECT(f == M.node[M.sorted[lo]]);
        EXPECT(l == M.node[M.sorted[hi - 1]]);
    } else {
        EXPECT(f == NULL && l == NULL);
    }
}

static void op_delete_range(int lexmode) {
    unsigned kind = lexmode ? below(2) : 1 + below(2);
    int lo, hi;
    unsigned long got;
    if (kind == 0) {
        zlex_spec r;
        char b1[16], b2[16];
        random_lex(&r, b1, b2);
        model_lex_span(&r, &lo, &hi);
        if (hi - lo > 40) return;
        got = zsl_delete_range_by_lex(&Z, &r, forget, NULL);
    } else if (kind == 1 || kind == 2) {
        zrange_spec r;
        random_range(&r);
        model_span(&r, &lo, &hi);
        if (hi - lo > 40) return; /* keep the sets populated */
        got = zsl_delete_range_by_score(&Z, &r, forget, NULL);
    } else {
        return;
    }
    if (got != (unsigned long)(hi - lo))
        fprintf(stderr, "kind %u got %lu want %d\n", kind, got, hi - lo);
    EXPECT(got == (unsigned long)(hi - lo));
}

static void op_delete_rank(void) {
    if (!M.n) return;
    unsigned long start = 1 + below((unsigned)M.n), end = start + below(6);
    if (end > (unsigned long)M.n) end = (unsigned long)M.n;
    unsigned long before_n = (unsigned long)M.n;
    unsigned long got = zsl_delete_range_by_rank(&Z, start, end, forget, NULL);
    EXPECT(got == end - start + 1);
    EXPECT((unsigned long)M.n == before_n - got);
}

static void run_phase(int mode, long ops, int target) {
    score_mode = mode;
    reset();
    for (long i = 0; i < ops && bad < 10; i++) {
        unsigned k = below(100);
        if (M.n < target && k < 45)
            op_insert_or_update();
        else if (k < 55)
            op_insert_or_update();
        else if (k < 65)
            op_delete();
        else if (k < 80)
            op_rank();
        else if (k < 90)
            mode == 1 ? op_lex() : op_range();
        else if (k < 93)
            op_delete_range(mode == 1);
        else if (k < 94)
            op_delete_rank();
        else if (mode == 1)
            op_lex();
        else
            op_range();
        if (i % 20000 == 0) full_compare();
    }
    full_compare();
}

TEST(random_ops_match_sorted_array) {
    unsigned long long seed =
        getenv("ZSL_SEED") ? strtoull(getenv("ZSL_SEED"), NULL, 10) : 20240603;
    printf("seed %llu\n", seed);
    rs = seed;
    zsl_seed(seed * 7 + 1);
    bad = 0;
    run_phase(0, 1200000, 3000); /* integer scores, many ties */
    run_phase(1, 800000, 2500);  /* all scores equal: lex ranges */
    run_phase(2, 1200000, 3500); /* doubles with infinities */
    run_phase(0, 300000, 60);    /* small sets: levels grow and shrink */
    CHECK(bad == 0);
    zsl_release(&Z);
    Z.header = NULL;
}

TEST(edges) {
    zskiplist z;
    zsl_init(&z);
    CHECK(zsl_check(&z));
    zrange_spec all = {-INFINITY, INFINITY, 0, 0};
    CHECK(zsl_first_in_range(&z, &all) == NULL);
    CHECK(zsl_last_in_range(&z, &all) == NULL);
    CHECK(zsl_by_rank(&z, 1) == NULL);
    zsl_node *a = zsl_insert(&z, 1, "a", 1);
    zsl_node *e = zsl_insert(&z, 1, "", 0); /* empty member sorts first */
    CHECK(zsl_by_rank(&z, 1) == e);
    CHECK(zsl_by_rank(&z, 2) == a);
    zrange_spec ex = {1, 1, 1, 0};
    CHECK(zsl_first_in_range(&z, &ex) == NULL);
    zrange_spec in = {1, 1, 0, 0};
    CHECK(zsl_first_in_range(&z, &in) == e);
    CHECK(zsl_last_in_range(&z, &in) == a);
    zsl_update_score(&z, e, 2);
    CHECK(z.tail == e);
    CHECK(zsl_check(&z));
    CHECK(zsl_delete_range_by_rank(&z, 1, 5, NULL, NULL) == 2);
    CHECK(z.length == 0 && z.tail == NULL && zsl_check(&z));
    zsl_release(&z);
}

int main(void) {
    RUN(edges);
    RUN(random_ops_match_sorted_array);
    return test_report();
}
