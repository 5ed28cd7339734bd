/* persist/storeq — the store thread and its job queue.
 *
 * The loop thread never waits on the store: it submits jobs; the store thread
 * runs them one at a time against the module and hands each back through a
 * completion queue, waking the loop with ev_async. A job's run() executes on
 * the store thread and may only touch the job and the module; done() runs
 * later on the loop thread.
 *
 * Group commit: consecutive queued jobs that carry row operations and are
 * marked `group` are applied in ONE module apply_batch call (one transaction,
 * one fsync); each job then sees its own rows' outcomes.
 *
 * Invariants:
 *  1. Jobs complete in submission order (one thread, FIFO queues), and their
 *     done() callbacks run in that order.
 *  2. The module is only called from the store thread (its errors and column
 *     lists are copied there; it is closed there). */
#ifndef LARDER_PERSIST_STOREQ_H
#define LARDER_PERSIST_STOREQ_H
#include <stdint.h>
#include "persist/store_api.h"

typedef struct store_job store_job;
struct store_job {
    void (*run)(store_job *j, const store_module *m, void *h); /* store thread (NULL: batch ops) */
    void (*done)(store_job *j);                                /* loop thread */
    store_op *ops; /* row operations for apply_batch (run == NULL) */
    int nops;
    int group; /* may share a transaction with neighbouring group jobs */
    int check; /* run == NULL: the ops are checked (module check), not applied;
                  consecutive check jobs share one call; fault injection
                  (DEBUG STORE-FAIL / STORE-DELAY) leaves them alone */
    int rc;
    char *err; /* owned by the job once done (xfree) */
    int64_t queued_us, started_us, finished_us;
    int group_size; /* how many jobs shared the transaction */
    int posted;     /* handed over by the store thread itself (storeq_post) */
    store_job *next;
};

/* Starts the thread, with no module yet: the first job (run() gets a NULL
 * module) finds and opens it. */
int storeq_start(void);
/* Sets the module and handle later jobs get (after the open job). */
void storeq_set_module(const store_module *m, void *h);
/* Queues a job (loop thread). */
void storeq_submit(store_job *j);
/* Waits until every submitted job has run and its done() was called; runs
 * done() callbacks itself. Start-up (before clients are served) and shutdown
 * only: at run time the loop never waits on the store. */
void storeq_drain(void);
/* Waits until the store thread has run j (its rc and err are then set),
 * without calling any done(): j's and the others' run later from the loop as
 * usual. Start-up only, like storeq_drain. */
void storeq_wait_job(store_job *j);
/* Stops the thread after the queue is empty and closes the module. */
void storeq_stop(void);
/* A watch: the store thread also runs fn between jobs (at most every
 * millisecond) and while idle, whenever the file descriptor fn last
 * returned is readable (POLLIN), its deadline (*deadline_ms, monotonic ms,
 * set by fn) has passed, or storeq_kick_watch() asked; fn returns the
 * descriptor to wait for next (-1: none). fn runs on the store thread and
 * may call the module and storeq_post. DEBUG STORE-DELAY's delay keeps
 * running it. NULL removes the watch. */
typedef int (*storeq_watch_fn)(const store_module *m, void *h, int readable, int64_t *deadline_ms);
void storeq_set_watch(storeq_watch_fn fn);
void storeq_kick_watch(void);
/* Store thread: hands j, finished, to the loop thread, whose done() runs
 * there in order with the other jobs' (j was never submitted; storeq_drain
 * does not wait for it). */
void storeq_post(store_job *j);

/* Fault injection (DEBUG STORE-FAIL n / STORE-DELAY ms): the next n module
 * calls fail with STORE_ERR_TRANSIENT; every job's answer is delayed by ms
 * after its module call (the row of a load is read, then held back), while
 * the watch keeps running: a change reported meanwhile overtakes the slow
 * answer, as it would with a slow network or several connections. */
void storeq_inject_failures(long n);
void storeq_inject_delay(long ms);

/* Statistics for INFO. */
typedef struct storeq_stats {
    long long batches, batch_jobs, transactions;
} storeq_stats;
void storeq_get_stats(storeq_stats *s);
#endif
