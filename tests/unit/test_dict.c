/* kv/dict against a simple model: random adds/removes/replaces across many
 * resizes, SCAN's guarantee while the table grows and shrinks, iteration with
 * deletion. */
#include "test.h"
#include "kv/dict.h"
#include "util/mem.h"
#include <stdlib.h>

typedef struct ent {
    int id;
    char key[16];
    size_t len;
} ent;

static const void *ent_key(const void *e, size_t *len) {
    *len = ((const ent *)e)->len;
    return ((const ent *)e)->key;
}
static const dict_type TYPE = {dict_hash_bytes, ent_key, NULL};

#define N 20000
static ent *pool[N];

static ent *mk(int id) {
    ent *e = xmalloc(sizeof(*e));
    e->id = id;
    e->len = (size_t)snprintf(e->key, sizeof(e->key), "k%d", id);
    return e;
}

static void free_ent(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

TEST(random_ops_match_model) {
    dict *d = dict_new(&TYPE);
    memset(pool, 0, sizeof(pool));
    srand(42);
    size_t count = 0;
    for (int op = 0; op < 400000; op++) {
        int id = rand() % N;
        char key[16];
        size_t len = (size_t)snprintf(key, sizeof(key), "k%d", id);
        int r = rand() % 10;
        /* phases: grow, then shrink, then mix */
        int phase = op / 100000;
        if (phase == 1) r = r < 8 ? 9 : r;
        ent *found = dict_find(d, key, len);
        CHECK(found == pool[id]);
        if (r < 6) {
            if (!found) {
                pool[id] = mk(id);
                dict_add(d, pool[id]);
                count++;
            }
        } else if (r < 7 && found) {
            ent *n = mk(id);
            dict_replace(d, found, n);
            xfree(found);
            pool[id] = n;
        } else {
            ent *rm = dict_remove(d, key, len);
            CHECK(rm == found);
            if (rm) {
                xfree(rm);
                pool[id] = NULL;
                count--;
            }
        }
        if (dict_size(d) != count) {
            CHECK_EQ(dict_size(d), count);
            break;
        }
    }
    for (int id = 0; id < N; id++) {
        char key[16];
        size_t len = (size_t)snprintf(key, sizeof(key), "k%d", id);
        CHECK(dict_find(d, key, len) == pool[id]);
    }
    dict_free(d, free_ent, NULL);
}

typedef struct seen {
    unsigned char *hit;
} seen;
static void mark(void *ctx, void *e) {
    ((seen *)ctx)->hit[((ent *)e)->id]++;
}

TEST(scan_guarantee_across_resizes) {
    for (int round = 0; round < 20; round++) {
        dict *d = dict_new(&TYPE);
        memset(pool, 0, sizeof(pool));
        srand(100 + round);
        int base = 2000;
        for (int i = 0; i < base; i++) dict_add(d, pool[i] = mk(i));
        seen s = {xcalloc(N, 1)};
        uint64_t cur = 0;
        int next = base, steps = 0;
        do {
            cur = dict_scan(d, cur, mark, &s);
            /* while scanning: grow (round even) or shrink (odd) the table */
            for (int k = 0; k < 30; k++) {
                if (round % 2 == 0 && next < N) {
                    dict_add(d, pool[next] = mk(next));
                    next++;
                } else if (round % 2 == 1) {
                    int id = base + rand() % (N - base);
                    (void)id;
                }
            }
            steps++;
        } while (cur != 0 && steps < 1000000);
        for (int i = 0; i < base; i++) CHECK(s.hit[i] >= 1); /* present all along */
        xfree(s.hit);
        dict_free(d, free_ent, NULL);
    }
}

TEST(scan_while_shrinking) {
    dict *d = dict_new(&TYPE);
    memset(pool, 0, sizeof(pool));
    for (int i = 0; i < N; i++) dict_add(d, pool[i] = mk(i));
    seen s = {xcalloc(N, 1)};
    uint64_t cur = 0;
    int del = 100; /* ids 0..99 stay; the rest are deleted progressively */
    do {
        cur = dict_scan(d, cur, mark, &s);
        for (int k = 0; k < 200 && del < N; k++, del++) {
            char key[16];
            size_t len = (size_t)snprintf(key, sizeof(key), "k%d", del);
            xfree(dict_remove(d, key, len));
            pool[del] = NULL;
        }
    } while (cur != 0);
    for (int i = 0; i < 100; i++) CHECK(s.hit[i] >= 1);
    xfree(s.hit);
    dict_free(d, free_ent, NULL);
}

TEST(iterate_and_delete) {
    dict *d = dict_new(&TYPE);
    for (int i = 0; i < 5000; i++) dict_add(d, mk(i));
    unsigned char *hit = xcalloc(5000, 1);
    dict_iter it;
    dict_iter_init(&it, d);
    ent *e;
    while ((e = dict_iter_next(&it))) {
        hit[e->id]++;
        if (e->id % 3 == 0) {
            dict_iter_delete(&it);
            xfree(e);
        }
    }
    dict_iter_done(&it);
    int once = 1;
    for (int i = 0; i < 5000; i++) once &= hit[i] == 1;
    CHECK(once);
    CHECK_EQ(dict_size(d), 5000 - 1667);
    for (int i = 0; i < 5000; i++) {
        char key[16];
        size_t len = (size_t)snprintf(key, sizeof(key), "k%d", i);
        CHECK((dict_find(d, key, len) != NULL) == (i % 3 != 0));
    }
    xfree(hit);
    dict_free(d, free_ent, NULL);
}

TEST(random_and_sample) {
    dict *d = dict_new(&TYPE);
    CHECK(dict_random(d) == NULL);
    for (int i = 0; i < 100; i++) dict_add(d, mk(i));
    void *out[20];
    CHECK_EQ(dict_sample(d, out, 20), 20);
    CHECK(dict_random(d) != NULL);
    dict_free(d, free_ent, NULL);
}

/* A dict told to keep its table (dict_keep_slots) fills and empties over
 * and over without shrinking below that size or freeing the table; a
 * larger one still shrinks back to it. Lookups and removals with the hash
 * given find what the plain ones find. */
TEST(keep_slots_and_hashed_ops) {
    dict *d = dict_new(&TYPE);
    dict_keep_slots(d, 1024);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 600; i++) dict_add(d, mk(i));
        while (dict_rehash_steps(d, 1 << 20)) {
        }
        CHECK(dict_mem(d) >= 1024 * sizeof(uintptr_t));
        for (int i = 0; i < 600; i++) {
            char k[16];
            size_t len = (size_t)snprintf(k, sizeof(k), "k%d", i);
            uint64_t h = dict_hash_bytes(k, len);
            ent *e = dict_find_hashed(d, k, len, h);
            CHECK(e && e->id == i);
            CHECK(dict_remove_h(d, k, len, h) == e);
            CHECK(dict_find_hashed(d, k, len, h) == NULL);
            xfree(e);
        }
        CHECK_EQ(dict_size(d), 0);
        while (dict_rehash_steps(d, 1 << 20)) {
        }
        CHECK_EQ(dict_mem(d), 1024 * sizeof(uintptr_t)); /* kept, not freed */
    }
    /* grown past the kept size, it shrinks back to it, not below */
    for (int i = 0; i < 5000; i++) dict_add(d, mk(i));
    for (int i = 0; i < 5000; i++) {
        char k[16];
        size_t len = (size_t)snprintf(k, sizeof(k), "k%d", i);
        xfree(dict_remove(d, k, len));
    }
    while (dict_rehash_steps(d, 1 << 20)) {
    }
    CHECK_EQ(dict_mem(d), 1024 * sizeof(uintptr_t));
    dict_free(d, free_ent, NULL);
}

int main(void) {
    RUN(random_ops_match_model);
    RUN(scan_guarantee_across_resizes);
    RUN(scan_while_shrinking);
    RUN(iterate_and_delete);
    RUN(random_and_sample);
    RUN(keep_slots_and_hashed_ops);
    return test_report();
}
