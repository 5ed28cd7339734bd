/* persist/locktokens — fencing tokens that survive restarts and crashes.
 *
 * LOCK.ACQUIRE's tokens come from one counter (commands/lock.c) that starts at
 * the wall clock in microseconds. With a store loaded, the store also keeps a
 * ceiling, the row ('lock_token_ceiling', value) of the store's own wb_meta
 * table, so that tokens keep increasing across a restart even when the clock
 * steps back or tokens ran ahead of it:
 *
 *   start:  counter = max(counter, stored ceiling)
 *           ceiling = counter + RESERVE           (synchronous, before serving)
 *   issue t:  t > durable ceiling        -> write t + RESERVE; the reply
 *                                             carrying t waits for it (rare)
 *             t > durable - RESERVE / 2  -> write t + RESERVE in the background
 *
 * Invariant: every token replied is <= the ceiling that is durable in the
 * store (the hook runs before the token is replied; a ceiling counts as
 * durable once its commit's completion reached the loop). Hence after any
 * restart the first token, at least ceiling + 1, is greater than every token
 * issued before.
 * The loop thread waits for the store only at start. A token above the
 * durable ceiling (a whole half reservation used up while one write was in
 * flight: about half a million acquisitions during one commit, or DEBUG
 * LOCK-TOKEN) bars its client's replies (reply_barrier_hold) until a ceiling
 * above it is stored; everyone else is served meanwhile. If that write
 * fails, the token is replied anyway and the failure logged: the guarantee
 * then falls back to the clock's. */
#include "persist/persist.h"
#include "util/mem.h"
#include <string.h>

#define RESERVE (1ULL << 20)

typedef struct ceiling_job {
    store_job job;
    const char *keycol, *col;
    store_value key, val;
    store_op op;
    uint64_t ceiling;
} ceiling_job;

static uint64_t durable;   /* the ceiling committed in the store */
static uint64_t in_flight; /* the last ceiling submitted, 0 once it is done */

/* Clients whose replies wait for a ceiling >= token (ids: one may leave). */
typedef struct token_wait {
    uint64_t client_id, token;
} token_wait;
static token_wait *waits;
static size_t nwaits, cap_waits;

static ceiling_job *submit_ceiling(uint64_t ceiling);

/* Lets the replies go of the clients waiting for tokens <= upto. */
static void release_waits(uint64_t upto) {
    size_t k = 0;
    uint64_t highest = 0;
    for (size_t i = 0; i < nwaits; i++) {
        if (waits[i].token <= upto) {
            client *c = client_by_id(waits[i].client_id);
            if (c) reply_barrier_release(c);
            continue;
        }
        if (waits[i].token > highest) highest = waits[i].token;
        waits[k++] = waits[i];
    }
    nwaits = k;
    /* tokens above what was written: the next ceiling covers them all */
    if (highest && in_flight < highest) submit_ceiling(highest + RESERVE);
}

static void ceiling_done(store_job *sj) {
    ceiling_job *j = (ceiling_job *)sj;
    if (in_flight == j->ceiling) in_flight = 0;
    if (sj->rc == STORE_OK) {
        if (j->ceiling > durable) durable = j->ceiling;
        release_waits(durable);
    } else {
        server_log(LL_WARNING,
                   "lock tokens: cannot store the token ceiling: %s; tokens up to %llu are replied "
                   "above the stored ceiling",
                   sj->err ? sj->err : "store error", (unsigned long long)j->ceiling);
        release_waits(j->ceiling);
    }
    xfree(j->op.error);
    xfree(sj->err);
    xfree(j);
}

/* Queues the upsert of the ceiling (one row of wb_meta, its own transaction). */
static ceiling_job *submit_ceiling(uint64_t ceiling) {
    ceiling_job *j = xcalloc(1, sizeof(*j));
    j->ceiling = ceiling;
    j->keycol = "name";
    j->col = "value";
    j->key = (store_value){SV_TEXT, 0, 0, "lock_token_ceiling", strlen("lock_token_ceiling")};
    j->val = (store_value){SV_INT, (int64_t)ceiling, 0, NULL, 0};
    j->op.kind = STORE_UPSERT;
    j->op.table = "wb_meta";
    j->op.nkey = 1;
    j->op.keycols = &j->keycol;
    j->op.keyvals = &j->key;
    j->op.ncols = 1;
    j->op.cols = &j->col;
    j->op.vals = &j->val;
    j->job.ops = &j->op;
    j->job.nops = 1;
    j->job.done = ceiling_done;
    in_flight = ceiling;
    storeq_submit(&j->job);
    return j;
}

/* Called by lock.c for every token before it is replied to `to`. */
static void token_issued(client *to, uint64_t t) {
    if (t + RESERVE / 2 <= durable) return;
    if (t <= durable) {
        if (!in_flight) submit_ceiling(t + RESERVE);
        return;
    }
    /* the reservation ran out: the token must not leave before a ceiling
     * above it is stored; its client's replies wait, the loop does not */
    if (in_flight < t) submit_ceiling(t + RESERVE);
    if (to && to->script_caller) to = to->script_caller;
    if (!to || to->fd < 0) return; /* no connection: nobody is told the token */
    if (nwaits == cap_waits) {
        cap_waits = cap_waits ? cap_waits * 2 : 8;
        waits = xrealloc(waits, sizeof(token_wait) * cap_waits);
    }
    waits[nwaits++] = (token_wait){to->id, t};
    reply_barrier_hold(to);
}

int ltok_start(char **err) {
    int64_t stored = 0;
    if (persist_query_int("SELECT value FROM wb_meta WHERE name = 'lock_token_ceiling'", &stored,
                          err) != OK)
        return ERR;
    if (stored > 0) lock_token_raise((uint64_t)stored);
    ceiling_job *j = submit_ceiling(lock_token_last() + RESERVE);
    storeq_wait_job(&j->job);
    if (j->job.rc != STORE_OK) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "lock tokens: cannot store the token ceiling: %s",
                    j->job.err ? j->job.err : "store error");
        *err = sbuf_take(&b, NULL);
        return ERR; /* j is freed by its done() */
    }
    durable = j->ceiling;
    lock_set_token_hook(token_issued);
    return OK;
}
