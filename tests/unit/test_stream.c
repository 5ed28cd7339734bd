/* kv/stream against an array model: random appends (shared and changing
 * field sets, across block boundaries), deletes, exact and approximate
 * trims, forward and reverse range reads, ids, and consumer-group PELs. */
#include "test.h"
#include "kv/stream.h"
#include "util/mem.h"
#include <stdlib.h>

#define MAXN 5000
static struct {
    stream_id id;
    int live;
    int nf;
    char val[16];
} model[MAXN];
static int mn;

static void add_entry(stream *s, stream_id id, int nf) {
    char v[16];
    snprintf(v, sizeof(v), "v%d", mn);
    const char *fv[6] = {"a", v, "bb", v, "c", "x"};
    size_t fl[6] = {1, strlen(v), 2, strlen(v), 1, 1};
    stream_append(s, &id, (size_t)nf, fv, fl);
    model[mn].id = id;
    model[mn].live = 1;
    model[mn].nf = nf;
    memcpy(model[mn].val, v, sizeof(v));
    mn++;
}

static int model_len(void) {
    int n = 0;
    for (int i = 0; i < mn; i++) n += model[i].live;
    return n;
}

static void check_range(const stream *s, stream_id lo, stream_id hi, int rev) {
    stream_iter it;
    stream_iter_start(&it, s, &lo, &hi, rev);
    int i = rev ? mn - 1 : 0;
    for (;;) {
        while (i >= 0 && i < mn &&
               (!model[i].live || stream_id_cmp(&model[i].id, &lo) < 0 ||
                stream_id_cmp(&model[i].id, &hi) > 0))
            i += rev ? -1 : 1;
        int more = stream_iter_next(&it);
        int want = i >= 0 && i < mn;
        CHECK_EQ(more, want);
        if (!more || !want) break;
        CHECK(stream_id_cmp(&it.id, &model[i].id) == 0);
        CHECK_EQ(it.nfields, model[i].nf);
        if (it.nfields >= 1) {
            CHECK(it.fvlen[0] == 1 && it.fv[0][0] == 'a');
            CHECK(it.fvlen[1] == strlen(model[i].val) &&
                  !memcmp(it.fv[1], model[i].val, it.fvlen[1]));
        }
        i += rev ? -1 : 1;
    }
    stream_iter_stop(&it);
}

static stream_id pick_id(void) {
    if (mn && rand() % 2) {
        stream_id id = model[rand() % mn].id;
        if (rand() % 3 == 0) id.seq++;
        return id;
    }
    return (stream_id){(uint64_t)(rand() % 3000), (uint64_t)(rand() % 4)};
}

TEST(random_model) {
    stream *s = stream_new();
    mn = 0;
    uint64_t ms = 1;
    stream_node_max_entries = 7 + rand() % 20;
    for (int step = 0; step < 20000 && mn < MAXN; step++) {
        int op = rand() % 10;
        if (op < 6) {
            ms += (uint64_t)(rand() % 3);
            stream_id id = {ms, mn && model[mn - 1].id.ms == ms ? model[mn - 1].id.seq + 1 : 0};
            add_entry(s, id, rand() % 5 ? 2 : 1 + rand() % 3);
        } else if (op == 6 && mn) {
            int i = rand() % mn;
            CHECK_EQ(stream_delete(s, &model[i].id), model[i].live);
            model[i].live = 0;
        } else if (op == 7) {
            uint64_t maxlen = (uint64_t)(rand() % (model_len() + 1));
            int approx = rand() % 2;
            uint64_t removed = stream_trim(s, STREAM_TRIM_MAXLEN, maxlen, NULL, approx, 0);
            for (int i = 0, k = 0; i < mn && k < (int)removed; i++)
                if (model[i].live) model[i].live = 0, k++;
            if (!approx) CHECK(s->length <= maxlen);
        } else if (op == 8) {
            stream_id minid = pick_id();
            uint64_t removed = stream_trim(s, STREAM_TRIM_MINID, 0, &minid, 0, 0);
            uint64_t k = 0;
            for (int i = 0; i < mn; i++)
                if (model[i].live && stream_id_cmp(&model[i].id, &minid) < 0)
                    model[i].live = 0, k++;
            CHECK_EQ(removed, k);
        } else {
            stream_id a = pick_id(), b = pick_id();
            check_range(s, a, b, rand() % 2);
        }
        CHECK_EQ(s->length, model_len());
    }
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    check_range(s, lo, hi, 0);
    check_range(s, lo, hi, 1);
    stream *d = stream_dup(s);
    stream_free(s);
    check_range(d, lo, hi, 0);
    stream_free(d);
    stream_node_max_entries = 100;
}

TEST(ids) {
    stream_id id;
    int given;
    CHECK_EQ(stream_id_parse("12-3", 4, 0, 0, &id, &given), 0);
    CHECK(id.ms == 12 && id.seq == 3 && given);
    CHECK_EQ(stream_id_parse("12", 2, 7, 0, &id, &given), 0);
    CHECK(id.ms == 12 && id.seq == 7 && given);
    CHECK_EQ(stream_id_parse("12-*", 4, 7, 0, &id, &given), 0);
    CHECK(id.ms == 12 && id.seq == 0 && !given);
    CHECK_EQ(stream_id_parse("12-*", 4, 7, 0, &id, NULL), -1);
    CHECK_EQ(stream_id_parse("-", 1, 0, 0, &id, NULL), -1);
    CHECK_EQ(stream_id_parse("+", 1, 0, 1, &id, NULL), 0);
    CHECK(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    CHECK_EQ(stream_id_parse("18446744073709551616", 20, 0, 0, &id, NULL), -1);
    CHECK_EQ(stream_id_parse("1-", 2, 0, 0, &id, NULL), -1);
    CHECK_EQ(stream_id_parse("a-1", 3, 0, 0, &id, NULL), -1);
    char buf[STREAM_ID_STR];
    id = (stream_id){UINT64_MAX, 0};
    CHECK_STR((stream_id_format(&id, buf), buf), "18446744073709551615-0");
    CHECK_EQ(stream_id_incr(&id), 0);
    CHECK(id.ms == UINT64_MAX && id.seq == 1);
    id = (stream_id){0, 0};
    CHECK_EQ(stream_id_decr(&id), -1);
}

TEST(groups_and_pel) {
    stream *s = stream_new();
    stream_id z = {0, 0};
    stream_cg *g = stream_cg_create(s, "g2", 2, &z, 0);
    CHECK(g && !stream_cg_create(s, "g2", 2, &z, 0));
    stream_cg_create(s, "g1", 2, &z, 0);
    CHECK(s->groups[0]->name[1] == '1');
    stream_consumer *a = stream_consumer_create(g, "alice", 5, 1);
    stream_consumer *b = stream_consumer_create(g, "bob", 3, 1);
    for (int i = 10; i > 0; i--) {
        stream_id id = {(uint64_t)i, 0};
        stream_nack *n = stream_nack_new(&id, i % 2 ? a : b, 5);
        stream_pel_insert(&g->pel, n);
        stream_pel_insert(&n->consumer->pel, n);
    }
    CHECK_EQ(g->pel.n, 10);
    CHECK_EQ(a->pel.n, 5);
    for (size_t i = 1; i < g->pel.n; i++)
        CHECK(stream_id_cmp(&g->pel.v[i - 1]->id, &g->pel.v[i]->id) < 0);
    stream_id three = {3, 0};
    stream_nack *n = stream_pel_find(&g->pel, &three, NULL);
    stream_nack_reassign(n, b);
    CHECK_EQ(a->pel.n, 4);
    CHECK_EQ(b->pel.n, 6);
    stream *d = stream_dup(s);
    CHECK_EQ(stream_consumer_delete(g, b), 6);
    CHECK_EQ(g->pel.n, 4);
    stream_cg_destroy(s, g);
    CHECK_EQ(s->ngroups, 1);
    stream_cg *dg = stream_cg_find(d, "g2", 2);
    CHECK(dg && dg->pel.n == 10 && dg->nconsumers == 2);
    stream_free(s);
    stream_free(d);
}

/* An exact MINID trim can delete every live entry of a block whose last
 * entry was already deleted: the block stays (Redis keeps the node) and
 * reads, appends and the next trim go on. */
TEST(trim_empties_block_with_deleted_tail) {
    stream *s = stream_new();
    const char *fv[2] = {"f", "v"};
    size_t fl[2] = {1, 1};
    for (uint64_t i = 1; i <= 3; i++) {
        stream_id id = {i, 0};
        stream_append(s, &id, 1, fv, fl);
    }
    stream_id three = {3, 0}, two5 = {2, 5};
    CHECK_EQ(stream_delete(s, &three), 1);
    CHECK_EQ(stream_trim(s, STREAM_TRIM_MINID, 0, &two5, 0, 0), 2);
    CHECK_EQ(s->length, 0);
    stream_id e;
    CHECK(!stream_edge_id(s, 0, &e));
    stream_id four = {4, 0};
    stream_append(s, &four, 1, fv, fl);
    CHECK(stream_edge_id(s, 0, &e) && e.ms == 4);
    CHECK_EQ(stream_trim(s, STREAM_TRIM_MAXLEN, 0, NULL, 0, 0), 1);
    CHECK_EQ(s->length, 0);
    stream_free(s);
}

/* XADD "*": now-0 past the last id's ms, else last + 1; none after the largest. */
TEST(auto_ids_and_approx_limit) {
    stream *s = stream_new();
    stream_id id;
    CHECK_EQ(stream_next_auto_id(s, 5, &id), 0);
    CHECK(id.ms == 5 && id.seq == 0);
    s->last_id = (stream_id){9, 3};
    CHECK_EQ(stream_next_auto_id(s, 5, &id), 0); /* the clock went back */
    CHECK(id.ms == 9 && id.seq == 4);
    CHECK_EQ(stream_next_auto_id(s, 9, &id), 0);
    CHECK(id.ms == 9 && id.seq == 4);
    s->last_id = (stream_id){9, UINT64_MAX};
    CHECK_EQ(stream_next_auto_id(s, 9, &id), 0);
    CHECK(id.ms == 10 && id.seq == 0);
    s->last_id = (stream_id){UINT64_MAX, UINT64_MAX};
    CHECK_EQ(stream_next_auto_id(s, 9, &id), -1);
    stream_free(s);
    long long saved = stream_node_max_entries;
    stream_node_max_entries = 100;
    CHECK_EQ(stream_default_approx_limit(), 10000);
    stream_node_max_entries = 7;
    CHECK_EQ(stream_default_approx_limit(), 700);
    stream_node_max_entries = 0;
    CHECK_EQ(stream_default_approx_limit(), 10000);
    stream_node_max_entries = 20000;
    CHECK_EQ(stream_default_approx_limit(), 10000);
    stream_node_max_entries = saved;
}

int main(void) {
    srand(13);
    RUN(ids);
    RUN(auto_ids_and_approx_limit);
    RUN(random_model);
    RUN(groups_and_pel);
    RUN(trim_empties_block_with_deleted_tail);
    return test_report();
}
