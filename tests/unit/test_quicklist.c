/* Unit tests for kv/quicklist: the LZ coder, node sizing rules, and a
 * model-based random test (every operation mirrored on a plain array, the
 * invariants checked by ql_check after each step) over every fill class and
 * several compression depths. */
#include "kv/listpack.h"
#include "kv/quicklist.h"
#include "test.h"
#include "util/mem.h"
#include <stdlib.h>
#include <string.h>

static unsigned long long rng_state = 88172645463325252ULL;
static unsigned long long rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static unsigned below(unsigned n) {
    return n ? (unsigned)(rnd() % n) : 0;
}

/* ---- model: an array of owned strings ------------------------------------------ */
typedef struct item {
    char *s;
    size_t len;
} item;
typedef struct model {
    item *v;
    size_t n, cap;
} model;

static void m_insert(model *m, size_t at, const char *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = realloc(m->v, m->cap * sizeof(item));
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof(item));
    m->v[at].s = malloc(len + 1);
    memcpy(m->v[at].s, s, len);
    m->v[at].len = len;
    m->n++;
}
static void m_delete(model *m, size_t at, size_t cnt) {
    for (size_t i = at; i < at + cnt; i++) free(m->v[i].s);
    memmove(m->v + at, m->v + at + cnt, (m->n - at - cnt) * sizeof(item));
    m->n -= cnt;
}
static void m_free(model *m) {
    m_delete(m, 0, m->n);
    free(m->v);
}

static int same(quicklist *ql, const model *m) {
    if (ql_count(ql) != m->n || !ql_check(ql)) return 0;
    ql_iter it;
    ql_entry e;
    size_t i = 0;
    ql_iter_init(&it, ql, QL_FWD);
    while (ql_next(&it, &e)) {
        if (i >= m->n || e.len != m->v[i].len || memcmp(e.s, m->v[i].s, e.len) != 0) {
            ql_iter_done(&it);
            return 0;
        }
        i++;
    }
    ql_iter_done(&it);
    if (i != m->n) return 0;
    /* backwards too */
    ql_iter_init(&it, ql, QL_REV);
    while (ql_next(&it, &e)) {
        i--;
        if (e.len != m->v[i].len || memcmp(e.s, m->v[i].s, e.len) != 0) {
            ql_iter_done(&it);
            return 0;
        }
    }
    ql_iter_done(&it);
    return i == 0 && ql_check(ql);
}

/* Values: small, numeric, compressible runs, and sometimes big ones. */
static size_t gen_value(char *buf, int big) {
    unsigned kind = below(10);
    if (kind < 4) return (size_t)snprintf(buf, 32, "%u", below(50));
    if (kind < 7) {
        size_t len = below(40);
        for (size_t i = 0; i < len; i++) buf[i] = (char)('a' + below(3));
        return len;
    }
    if (kind < 9 || !big) {
        size_t len = 50 + below(300);
        memset(buf, 'x', len);
        buf[below((unsigned)len)] = 'y';
        return len;
    }
    size_t len = 5000 + below(12000);
    for (size_t i = 0; i < len; i++) buf[i] = (char)(i % 7 == 0 ? 'a' + below(26) : 'q');
    return len;
}

static int random_ops(int fill, int depth, int steps) {
    quicklist *ql = ql_new(fill, depth);
    model m = {0};
    static char buf[20000];
    int ok = 1;
    for (int step = 0; step < steps && ok; step++) {
        unsigned op = below(100);
        /* phases: two of growth (deletes mostly turned into inserts), one of shrinking */
        int grow = (step / 400) % 3 != 2;
        if (grow && op >= 30 && op < 78 && (op < 45 || op >= 55) && below(4))
            op = below(2) ? below(30) : 45 + below(10);
        size_t len = gen_value(buf, below(20) == 0);
        if (op < 30) {
            int where = below(2) ? QL_HEAD : QL_TAIL;
            ql_push(ql, buf, len, where);
            m_insert(&m, where == QL_HEAD ? 0 : m.n, buf, len);
        } else if (op < 45) {
            if (!m.n) continue;
            int where = below(2) ? QL_HEAD : QL_TAIL;
            size_t plen;
            const char *p = ql_peek(ql, where, &plen);
            size_t at = where == QL_HEAD ? 0 : m.n - 1;
            if (!p || plen != m.v[at].len || memcmp(p, m.v[at].s, plen) != 0) ok = 0;
            ql_pop(ql, where);
            m_delete(&m, at, 1);
        } else if (op < 55) {
            /* insert before/after a random element */
            if (!m.n) continue;
            size_t at = below((unsigned)m.n);
            int after = below(2);
            int dir = below(2) ? QL_FWD : QL_REV;
            ql_iter it;
            ql_entry e;
            if (!ql_iter_init_at(&it, ql, (long)at, dir) || !ql_next(&it, &e))
                ok = 0;
            else {
                ql_iter_insert(&it, &e, buf, len, after);
                m_insert(&m, at + (size_t)after, buf, len);
            }
            ql_iter_done(&it);
        } else if (op < 63) {
            if (!m.n) continue;
            long idx = (long)below((unsigned)m.n);
            if (below(2)) idx -= (long)m.n;
            if (!ql_replace_at(ql, idx, buf, len)) ok = 0;
            size_t at = idx < 0 ? (size_t)((long)m.n + idx) : (size_t)idx;
            m_delete(&m, at, 1);
            m_insert(&m, at, buf, len);
        } else if (op < 70) {
            if (!m.n) continue;
            long start = (long)below((unsigned)m.n + 2);
            if (below(2)) start -= (long)m.n;
            unsigned long cnt = below(40);
            unsigned long got = ql_del_range(ql, start, cnt);
            long s = start < 0 ? (long)m.n + start : start;
            unsigned long expect = 0;
            if (s >= 0 && (size_t)s < m.n && cnt) {
                expect = cnt > m.n - (size_t)s ? m.n - (size_t)s : cnt;
                m_delete(&m, (size_t)s, expect);
            }
            if (got != expect) ok = 0;
        } else if (op < 78) {
            /* LREM-like: delete matching elements in either direction */
            int dir = below(2) ? QL_FWD : QL_REV;
            char target[32];
            size_t tlen = (size_t)snprintf(target, sizeof(target), "%u", below(50));
            unsigned limit = below(4);
            ql_iter it;
            ql_entry e;
            unsigned removed = 0;
            ql_iter_init(&it, ql, dir);
            while (ql_next(&it, &e)) {
                if (ql_entry_eq(&e, target, tlen)) {
                    ql_iter_delete(&it, &e);
                    if (++removed == limit) break;
                }
            }
            ql_iter_done(&it);
            unsigned mremoved = 0;
            if (dir == QL_FWD) {
                for (size_t i = 0; i < m.n && (!limit || mremoved < limit);) {
                    if (m.v[i].len == tlen && memcmp(m.v[i].s, target, tlen) == 0) {
                        m_delete(&m, i, 1);
                        mremoved++;
                    } else {
                        i++;
                    }
                }
            } else {
                for (size_t i = m.n; i-- > 0 && (!limit || mremoved < limit);) {
                    if (m.v[i].len == tlen && memcmp(m.v[i].s, target, tlen) == 0) {
                        m_delete(&m, i, 1);
                        mremoved++;
                    }
                }
            }
            if (removed != mremoved) ok = 0;
        } else if (op < 88) {
            /* iterate from a random index in a random direction */
            if (!m.n) continue;
            long at = (long)below((unsigned)m.n);
            int dir = below(2) ? QL_FWD : QL_REV;
            ql_iter it;
            ql_entry e;
            if (!ql_iter_init_at(&it, ql, below(2) ? at : at - (long)m.n, dir)) ok = 0;
            long i = at;
            int seen = 0;
            while (ok && seen < 50 && ql_next(&it, &e)) {
                if (e.len != m.v[i].len || memcmp(e.s, m.v[i].s, e.len) != 0) ok = 0;
                i += dir == QL_FWD ? 1 : -1;
                seen++;
            }
            ql_iter_done(&it);
        } else if (op < 90) {
            quicklist *d = ql_dup(ql);
            if (!same(d, &m)) ok = 0;
            ql_free(d);
        } else if (op < 91) {
            /* out-of-range lookups */
            ql_iter it;
            if (ql_iter_init_at(&it, ql, (long)m.n, QL_FWD)) ok = 0;
            if (ql_iter_init_at(&it, ql, -(long)m.n - 1, QL_FWD)) ok = 0;
            if (ql_replace_at(ql, (long)m.n, "z", 1)) ok = 0;
        }
        if (!ql_check(ql)) ok = 0;
        if (step % 50 == 0 && !same(ql, &m)) ok = 0;
        if (!ok)
            fprintf(stderr, "  fill %d depth %d: mismatch at step %d (op %u)\n", fill, depth, step,
                    op);
    }
    if (ok && !same(ql, &m)) ok = 0;
    if (getenv("QL_STATS")) {
        int c = 0;
        for (ql_node *n = ql->head; n; n = n->next) c += n->compressed;
        fprintf(stderr, "  fill %d depth %d: %lu entries, %lu nodes, %d compressed\n", fill, depth,
                ql->count, ql->len, c);
    }
    ql_free(ql);
    m_free(&m);
    return ok;
}

TEST(lz_round_trip) {
    static unsigned char in[70000], out[80000], back[70000];
    for (int round = 0; round < 300; round++) {
        size_t len = below(round < 100 ? 300 : 70000);
        unsigned alphabet = 1 + below(round % 3 == 0 ? 256 : 4);
        for (size_t i = 0; i < len; i++)
            in[i] = (unsigned char)(below(8) == 0 ? below(256) : below(alphabet));
        size_t c = ql_lz_compress(in, len, out, sizeof(out));
        if (len) CHECK(c > 0);
        size_t d = ql_lz_decompress(out, c, back, sizeof(back));
        CHECK_EQ(d, len);
        CHECK(memcmp(in, back, len) == 0);
        /* too small an output buffer is refused, never overrun */
        if (c > 2) CHECK_EQ(ql_lz_compress(in, len, out, c - 1), 0);
        if (len > 1) CHECK_EQ(ql_lz_decompress(out, c, back, len - 1), 0);
    }
    /* a run compresses well */
    memset(in, 'a', 10000);
    size_t c = ql_lz_compress(in, 10000, out, sizeof(out));
    CHECK(c > 0 && c < 200);
}

TEST(lz_garbage_is_refused_safely) {
    static unsigned char in[512], out[4096];
    for (int round = 0; round < 20000; round++) {
        size_t len = below(sizeof(in));
        for (size_t i = 0; i < len; i++) in[i] = (unsigned char)rnd();
        size_t d = ql_lz_decompress(in, len, out, sizeof(out));
        CHECK(d <= sizeof(out));
    }
}

TEST(push_pop_peek) {
    quicklist *ql = ql_new(-2, 0);
    size_t len;
    CHECK(ql_peek(ql, QL_HEAD, &len) == NULL);
    for (int i = 0; i < 10000; i++) {
        char b[32];
        int n = snprintf(b, sizeof(b), "v%d", i);
        ql_push(ql, b, (size_t)n, i % 2 ? QL_HEAD : QL_TAIL);
    }
    CHECK_EQ(ql_count(ql), 10000);
    CHECK(ql->len > 1);
    CHECK(ql_check(ql));
    const char *p = ql_peek(ql, QL_HEAD, &len);
    CHECK(p && len == 5 && memcmp(p, "v9999", 5) == 0);
    p = ql_peek(ql, QL_TAIL, &len);
    CHECK(p && len == 5 && memcmp(p, "v9998", 5) == 0);
    while (ql_count(ql)) ql_pop(ql, QL_HEAD);
    CHECK_EQ(ql->len, 0);
    CHECK(ql->head == NULL && ql->tail == NULL);
    ql_free(ql);
}

TEST(fill_limits_node_sizes) {
    /* positive fill: entries per node */
    quicklist *ql = ql_new(4, 0);
    for (int i = 0; i < 100; i++) ql_push(ql, "abc", 3, QL_TAIL);
    CHECK_EQ(ql->len, 25);
    for (ql_node *n = ql->head; n; n = n->next) CHECK_EQ(n->count, 4);
    ql_free(ql);
    /* negative fill: bytes per node */
    for (int f = -1; f >= -5; f--) {
        ql = ql_new(f, 0);
        char v[100];
        memset(v, 'v', sizeof(v));
        for (int i = 0; i < 5000; i++) ql_push(ql, v, sizeof(v), QL_TAIL);
        size_t limit = (size_t)4096 << (-f - 1);
        for (ql_node *n = ql->head; n; n = n->next) {
            CHECK(n->sz <= limit);
            if (n->next) CHECK(n->sz + 100 + 8 > limit); /* full before moving on */
        }
        ql_free(ql);
    }
    /* an element bigger than the limit gets a node of its own */
    ql = ql_new(-1, 0);
    static char big[10000];
    memset(big, 'b', sizeof(big));
    ql_push(ql, "a", 1, QL_TAIL);
    ql_push(ql, big, sizeof(big), QL_TAIL);
    ql_push(ql, "c", 1, QL_TAIL);
    CHECK_EQ(ql->len, 3);
    ql_free(ql);
    /* fill is clamped */
    ql = ql_new(-100, 0);
    CHECK_EQ(ql->fill, -5);
    ql_set_options(ql, 1000000, -3);
    CHECK_EQ(ql->fill, QL_FILL_MAX);
    CHECK_EQ(ql->compress, 0);
    ql_free(ql);
}

TEST(compression_keeps_ends_raw) {
    quicklist *ql = ql_new(-1, 1);
    char v[200];
    memset(v, 'z', sizeof(v));
    for (int i = 0; i < 2000; i++) {
        v[i % 200] = (char)('a' + i % 26);
        ql_push(ql, v, sizeof(v), i % 3 ? QL_TAIL : QL_HEAD);
    }
    CHECK(ql_check(ql));
    int compressed = 0;
    for (ql_node *n = ql->head; n; n = n->next) compressed += n->compressed;
    CHECK(compressed > 0);
    CHECK(!ql->head->compressed && !ql->tail->compressed);
    size_t mem_c = ql_mem(ql);
    quicklist *plain = ql_new(-1, 0);
    ql_iter it;
    ql_entry e;
    ql_iter_init(&it, ql, QL_FWD);
    while (ql_next(&it, &e)) ql_push(plain, e.s, e.len, QL_TAIL);
    ql_iter_done(&it);
    CHECK(mem_c < ql_mem(plain));
    /* the middle is read correctly through iterators, and stays compressed */
    CHECK(ql_iter_init_at(&it, ql, 1000, QL_FWD) && ql_next(&it, &e));
    CHECK_EQ(e.len, 200);
    ql_iter_done(&it);
    compressed = 0;
    for (ql_node *n = ql->head; n; n = n->next) compressed += n->compressed;
    CHECK(compressed > 0);
    /* popping everything walks compressed nodes to the ends */
    while (ql_count(ql)) {
        size_t len;
        CHECK(ql_peek(ql, QL_HEAD, &len) != NULL);
        ql_pop(ql, QL_HEAD);
        if (ql_count(ql) % 97 == 0) CHECK(ql_check(ql));
    }
    ql_free(ql);
    ql_free(plain);
}

TEST(append_listpack) {
    quicklist *ql = ql_new(-2, 0);
    unsigned char *lp = lp_new();
    lp = lp_append(lp, "a", 1);
    lp = lp_append(lp, "b", 1);
    ql_append_listpack(ql, lp);
    ql_push(ql, "c", 1, QL_TAIL);
    CHECK_EQ(ql_count(ql), 3);
    CHECK(ql_check(ql));
    ql_free(ql);
}

TEST(model_random_all_fills) {
    static const int fills[] = {-1, -2, -3, -4, -5, 0, 1, 2, 3, 5, 16, 128};
    static const int depths[] = {0, 1, 2, 3};
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++)
        for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++)
            CHECK(random_ops(fills[f], depths[d], 6000));
}

int main(void) {
    RUN(lz_round_trip);
    RUN(lz_garbage_is_refused_safely);
    RUN(push_pop_peek);
    RUN(fill_limits_node_sizes);
    RUN(compression_keeps_ends_raw);
    RUN(append_listpack);
    RUN(model_random_all_fills);
    return test_report();
}
