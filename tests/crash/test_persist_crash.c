/* Crash test for write-behind: client threads write continuously to
 * write-behind keys (HSET/HDEL/DEL on a hash mapping, SET/DEL on a string
 * mapping), pipelined, each recording every acknowledged write with its
 * value and the time its reply arrived; the server is killed with SIGKILL at
 * a random moment; it restarts on the same store and journal (the journal is
 * replayed into the store before it serves) and the store is read back with
 * SQL.QUERY.
 *
 * Each client owns its keys, so a key's writes are totally ordered and its
 * acknowledged writes are a prefix of the writes sent on it. After a kill a
 * key's row must equal the state after some write j with j >= the last
 * acknowledged one (a write sent but not yet acknowledged may or may not have
 * landed); a row equal to an older state is a lost acknowledged write, and
 * its age is kill time - ack time of the oldest write lost.
 *   journal-fsync always    nothing acknowledged may be lost;
 *   journal-fsync everysec  losses are measured; none older than ~1 s.
 * (SIGKILL ends the process, not the kernel: bytes written to the journal
 * survive in the page cache, so `everysec` is expected to lose nothing here;
 * its one-second window matters for power loss, which a test cannot cause.)
 * One round in four also kills the restarted server again a few ms into its
 * replay. Write-behind delay and batch size vary by round so kills land in
 * every phase: journaling, batches in flight, truncation, replay.
 *
 * PERSIST_CRASH_KILLS (default 100 under `always`, half as many under
 * `everysec`; 30 in a sanitizer build), PERSIST_CRASH_SEED. */
#include "integration/pkit.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCLIENTS 4
#define NKEYS 12 /* per client and per mapping */
#define WINDOW 8 /* pipelined writes in flight per client */
#define STATE_MAX 64

/* ---- the model -------------------------------------------------------------------- */

/* A key's row rendered as text: "" = no row; hash "v=..;n=.." (absent fields
 * left out); string: the value. */
typedef struct wop {
    char state[STATE_MAX]; /* the row after this write */
    double ack_ms;         /* when its reply arrived; 0 = not acknowledged */
} wop;

typedef struct kmodel {
    char base[STATE_MAX]; /* the row when the round started */
    wop *ops;
    int nops, cap, nacked;
} kmodel;

/* keys: client c, hash key i -> model[c][i]; string key i -> model[c][NKEYS + i] */
static kmodel model[NCLIENTS][2 * NKEYS];

typedef struct client_ctx {
    int id, port;
    trng rng;
    long long acked, errors;
    char last_error[128];
} client_ctx;

static void hash_state(char *out, int has_v, const char *v, int has_n, long long n) {
    out[0] = '\0';
    if (has_v) snprintf(out, STATE_MAX, "v=%.40s", v);
    if (has_n)
        snprintf(out + strlen(out), STATE_MAX - strlen(out), "%sn=%lld", has_v ? ";" : "", n);
}

/* The fields of a hash state (the inverse of hash_state). */
static void parse_hash(const char *s, int *has_v, char *v, int *has_n, long long *n) {
    *has_v = *has_n = 0;
    const char *p = strstr(s, "v=");
    if (p == s) {
        *has_v = 1;
        size_t len = strcspn(p + 2, ";");
        memcpy(v, p + 2, len);
        v[len] = '\0';
    }
    p = strstr(s, "n=");
    if (p) {
        *has_n = 1;
        *n = atoll(p + 2);
    }
}

static const char *current(const kmodel *k) {
    return k->nops ? k->ops[k->nops - 1].state : k->base;
}

static wop *push_op(kmodel *k) {
    if (k->nops == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->ops = realloc(k->ops, sizeof(wop) * (size_t)k->cap);
    }
    wop *w = &k->ops[k->nops++];
    memset(w, 0, sizeof(*w));
    return w;
}

/* Picks a write for client cx, appends it to the connection and to the model. */
static kmodel *next_write(client_ctx *cx, redisContext *c, long long seq) {
    int i = (int)trng_below(&cx->rng, NKEYS);
    unsigned r = trng_below(&cx->rng, 100);
    char val[32];
    snprintf(val, sizeof(val), "%d.%lld", cx->id, seq);
    if (r < 65) { /* the hash mapping */
        kmodel *k = &model[cx->id][i];
        int has_v, has_n;
        char v[STATE_MAX];
        long long n = 0;
        parse_hash(current(k), &has_v, v, &has_n, &n);
        wop *w = push_op(k);
        if (r < 40) {
            redisAppendCommand(c, "HSET h:%d.%d v %s n %lld", cx->id, i, val, seq);
            hash_state(w->state, 1, val, 1, seq);
        } else if (r < 50) {
            redisAppendCommand(c, "HSET h:%d.%d v %s", cx->id, i, val);
            hash_state(w->state, 1, val, has_n, n);
        } else if (r < 57) {
            redisAppendCommand(c, "HDEL h:%d.%d n", cx->id, i);
            hash_state(w->state, has_v, v, 0, 0);
        } else {
            redisAppendCommand(c, "DEL h:%d.%d", cx->id, i);
        }
        return k;
    }
    kmodel *k = &model[cx->id][NKEYS + i];
    wop *w = push_op(k);
    if (r < 90) {
        redisAppendCommand(c, "SET s:%d.%d %s", cx->id, i, val);
        snprintf(w->state, STATE_MAX, "%s", val);
    } else {
        redisAppendCommand(c, "DEL s:%d.%d", cx->id, i);
    }
    return k;
}

static long long write_seq[NCLIENTS]; /* continues across rounds: values stay unique */

/* Writes until the connection breaks (the kill); a window of WINDOW writes in
 * flight. The replies come in order, so the oldest sent is the one acked. */
static void *client_main(void *arg) {
    client_ctx *cx = arg;
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", cx->port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    kmodel *fifo[WINDOW];
    int head = 0, n = 0;
    for (;;) {
        while (n < WINDOW) {
            fifo[(head + n) % WINDOW] = next_write(cx, c, ++write_seq[cx->id]);
            n++;
        }
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) break;
        kmodel *k = fifo[head];
        head = (head + 1) % WINDOW;
        n--;
        if (r->type == REDIS_REPLY_ERROR) {
            /* unexpected: the model assumed the write applies */
            cx->errors++;
            snprintf(cx->last_error, sizeof(cx->last_error), "%s", r->str);
        }
        k->ops[k->nacked++].ack_ms = pk_now_ms();
        cx->acked++;
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

/* ---- reading the store back ---------------------------------------------------------- */

static int parse_id(const char *id, int *cl, int *i) {
    return sscanf(id, "%d.%d", cl, i) == 2 && *cl >= 0 && *cl < NCLIENTS && *i >= 0 && *i < NKEYS
               ? 0
               : -1;
}

/* Fills rows[c][key] with the store's rows; -1 when the query failed. */
static int read_store(redisContext *c, char rows[NCLIENTS][2 * NKEYS][STATE_MAX]) {
    memset(rows, 0, sizeof(char) * NCLIENTS * 2 * NKEYS * STATE_MAX);
    redisReply *h = pk_cmd(c, "SQL.QUERY %s", "SELECT id, v, n FROM hk");
    redisReply *s = pk_cmd(c, "SQL.QUERY %s", "SELECT id, v FROM sk");
    int rc = -1, cl, i;
    if (!h || h->type != REDIS_REPLY_ARRAY || !s || s->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "SQL.QUERY failed: %s\n", h && h->type == REDIS_REPLY_ERROR ? h->str : "?");
        goto out;
    }
    for (size_t r = 0; r < h->elements; r++) {
        redisReply **col = h->element[r]->element;
        if (parse_id(col[0]->str, &cl, &i) != 0) goto out;
        int has_v = col[1]->type == REDIS_REPLY_STRING, has_n = col[2]->type == REDIS_REPLY_INTEGER;
        hash_state(rows[cl][i], has_v, has_v ? col[1]->str : "", has_n,
                   has_n ? col[2]->integer : 0);
        if (!has_v && !has_n) snprintf(rows[cl][i], STATE_MAX, "(empty row)");
    }
    for (size_t r = 0; r < s->elements; r++) {
        redisReply **col = s->element[r]->element;
        if (parse_id(col[0]->str, &cl, &i) != 0) goto out;
        snprintf(rows[cl][NKEYS + i], STATE_MAX, "%s",
                 col[1]->type == REDIS_REPLY_STRING ? col[1]->str : "(null)");
    }
    rc = 0;
out:
    if (h) freeReplyObject(h);
    if (s) freeReplyObject(s);
    return rc;
}

typedef struct verdict {
    long lost, bad; /* acknowledged writes lost; rows matching no write */
    double max_age; /* age at the kill of the oldest lost write (ms) */
} verdict;

/* Checks one key's row against its writes; the row becomes the next base. */
static void verify_key(kmodel *k, const char *row, const char *name, double kill_ms, verdict *v) {
    int found = -2; /* index of the write the row equals (-1: the base) */
    for (int j = k->nops - 1; j >= -1 && found == -2; j--)
        if (!strcmp(j >= 0 ? k->ops[j].state : k->base, row)) found = j;
    if (found == -2) {
        v->bad++;
        fprintf(stderr, "key %s: the store has \"%s\", which no write made (last acked \"%s\")\n",
                name, row, k->nacked ? k->ops[k->nacked - 1].state : k->base);
    } else if (found < k->nacked - 1) {
        v->lost += k->nacked - 1 - found;
        double age = kill_ms - k->ops[found + 1].ack_ms;
        if (age > v->max_age) v->max_age = age;
        fprintf(stderr,
                "key %s: %d acknowledged writes lost (the oldest %.0f ms before the kill)\n", name,
                k->nacked - 1 - found, age);
    }
    size_t len = strnlen(row, STATE_MAX - 1);
    memcpy(k->base, row, len);
    k->base[len] = '\0';
    k->nops = k->nacked = 0;
}

static void verify_all(redisContext *c, double kill_ms, verdict *v) {
    static char rows[NCLIENTS][2 * NKEYS][STATE_MAX];
    if (read_store(c, rows) != 0) {
        v->bad++;
        return;
    }
    char name[32];
    for (int cl = 0; cl < NCLIENTS; cl++)
        for (int i = 0; i < 2 * NKEYS; i++) {
            snprintf(name, sizeof(name), "%s:%d.%d", i < NKEYS ? "h" : "s", cl, i % NKEYS);
            verify_key(&model[cl][i], rows[cl][i], name, kill_ms, v);
        }
}

/* ---- rounds ------------------------------------------------------------------------ */

static const char *const MAP_ARGS[] = {"--map", "hk h:{id} mode write-behind ttl 3600", "--map",
                                       "sk s:{id} mode write-behind column v ttl 3600"};

static redisContext *restart(pk_env *e, const char *fsync, const char *delay, const char *batch,
                             const char *chunk) {
    const char *args[] = {"--journal-fsync",
                          fsync,
                          "--write-behind-delay-ms",
                          delay,
                          "--write-behind-batch",
                          batch,
                          "--write-behind-chunk",
                          chunk,
                          MAP_ARGS[0],
                          MAP_ARGS[1],
                          MAP_ARGS[2],
                          MAP_ARGS[3],
                          NULL};
    if (pk_start(e, args) != 0) return NULL;
    return srv_connect(&e->s);
}

typedef struct totals {
    int kills, replay_kills;
    long long acked;
    verdict v;
} totals;

static void run_mode(const char *fsync, int kills, trng *rng, totals *t) {
    pk_env e;
    memset(&e, 0, sizeof(e));
    memset(model, 0, sizeof(model));
    if (pk_start(&e, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&e.s);
    if (!c) {
        CHECK(0);
        pk_cleanup(&e);
        return;
    }
    pk_exec(c, "CREATE TABLE hk (id TEXT PRIMARY KEY, v TEXT, n INTEGER)");
    pk_exec(c, "CREATE TABLE sk (id TEXT PRIMARY KEY, v TEXT)");
    redisFree(c);
    pk_stop(&e);
    static const char *const delays[] = {"1", "5", "20", "100"},
                             *const batches[] = {"4", "64", "1000"},
                             *const chunks[] = {"0", "7", "128"};
    long long errors = 0;
    char last_error[128] = "";
    while (t->kills < kills) {
        const char *delay = delays[trng_below(rng, 4)], *batch = batches[trng_below(rng, 3)];
        /* a batch in several transactions (the bundled store) */
        const char *chunk = chunks[trng_below(rng, 3)];
        c = restart(&e, fsync, delay, batch, chunk);
        if (!c || pk_wait_serving(c, 20000, NULL) != 0) {
            CHECK(0);
            break;
        }
        client_ctx cx[NCLIENTS];
        pthread_t th[NCLIENTS];
        for (int i = 0; i < NCLIENTS; i++) {
            memset(&cx[i], 0, sizeof(cx[i]));
            cx[i].id = i;
            cx[i].port = e.s.port;
            trng_seed(&cx[i].rng, trng_next(rng));
            pthread_create(&th[i], NULL, client_main, &cx[i]);
        }
        pk_sleep_ms(10 + (int)trng_below(rng, 150)); /* the kill point */
        double kill_ms = pk_now_ms();
        pk_kill(&e);
        t->kills++;
        for (int i = 0; i < NCLIENTS; i++) {
            pthread_join(th[i], NULL);
            t->acked += cx[i].acked;
            errors += cx[i].errors;
            if (cx[i].errors) snprintf(last_error, sizeof(last_error), "%s", cx[i].last_error);
        }
        redisFree(c);
        if (trng_below(rng, 4) == 0) { /* kill it again during its replay */
            redisContext *rc = restart(&e, fsync, delay, batch, chunk);
            if (!rc) {
                CHECK(0);
                break;
            }
            redisFree(rc);
            pk_sleep_ms((int)trng_below(rng, 4));
            pk_kill(&e);
            t->kills++;
            t->replay_kills++;
        }
        c = restart(&e, fsync, delay, batch, chunk);
        if (!c || pk_wait_serving(c, 20000, NULL) != 0) {
            CHECK(0);
            break;
        }
        verify_all(c, kill_ms, &t->v);
        redisFree(c);
        pk_stop(&e);
    }
    CHECK_EQ(errors, 0);
    if (errors) fprintf(stderr, "%lld error replies, the last: %s\n", errors, last_error);
    /* a clean stop after the last round keeps everything too */
    c = restart(&e, fsync, "5", "64", "128");
    if (c && pk_wait_serving(c, 20000, NULL) == 0) {
        for (int cl = 0; cl < NCLIENTS; cl++) /* load every key into the cache */
            for (int i = 0; i < NKEYS; i++) {
                redisReply *r = pk_cmd(c, "HGETALL h:%d.%d", cl, i);
                if (r) freeReplyObject(r);
                r = pk_cmd(c, "GET s:%d.%d", cl, i);
                if (r) freeReplyObject(r);
            }
        PK_CHECK_MAP(c, "hk", "h:", "id", NULL, "v,n");
        PK_CHECK_MAP(c, "sk", "s:", "id", "v", NULL);
    } else {
        CHECK(0);
    }
    if (c) redisFree(c);
    pk_cleanup(&e);
    for (int cl = 0; cl < NCLIENTS; cl++)
        for (int i = 0; i < 2 * NKEYS; i++) free(model[cl][i].ops);
}

static int nkills(void) {
    const char *s = getenv("PERSIST_CRASH_KILLS");
    int n = s ? atoi(s) : 100;
    return pk_sanitized() && !s ? 30 : n > 0 ? n : 100;
}

static unsigned long long seed;

TEST(crash_fsync_always) {
    trng rng;
    trng_seed(&rng, seed);
    totals t = {0};
    double start = pk_now_ms();
    run_mode("always", nkills(), &rng, &t);
    printf("journal-fsync always: %d kills (%d during replay), %lld acknowledged writes, %ld lost, "
           "%ld bad rows "
           "(%.1f s)\n",
           t.kills, t.replay_kills, t.acked, t.v.lost, t.v.bad, (pk_now_ms() - start) / 1000);
    CHECK(t.kills >= nkills());
    CHECK(t.acked > 0);
    CHECK_EQ(t.v.lost, 0);
    CHECK_EQ(t.v.bad, 0);
}

TEST(crash_fsync_everysec) {
    trng rng;
    trng_seed(&rng, seed ^ 0x5eedull);
    totals t = {0};
    double start = pk_now_ms();
    int kills = nkills() / 2 > 10 ? nkills() / 2 : 10;
    run_mode("everysec", kills, &rng, &t);
    printf(
        "journal-fsync everysec: %d kills (%d during replay), %lld acknowledged writes, %ld lost, "
        "max loss age %.0f ms, %ld bad rows (%.1f s)\n",
        t.kills, t.replay_kills, t.acked, t.v.lost, t.v.max_age, t.v.bad,
        (pk_now_ms() - start) / 1000);
    CHECK(t.kills >= kills);
    CHECK(t.acked > 0);
    CHECK(t.v.max_age <= 1200); /* one second of fsync period, plus slack */
    CHECK_EQ(t.v.bad, 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    seed = test_seed("PERSIST_CRASH_SEED", (unsigned long long)time(NULL));
    RUN(crash_fsync_always);
    RUN(crash_fsync_everysec);
    return test_report();
}
