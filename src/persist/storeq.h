/* persist/storeq — the store threads ("lanes") and their job queues.
 *
 * The loop thread never waits on the store: it submits jobs; a store thread
 * runs them one at a time against its own module handle and hands each back
 * through one completion queue, waking the loop with ev_async. A job's run()
 * executes on a store thread and may only touch the job and that thread's
 * handle; done() runs later on the loop thread.
 *
 * Lanes (`store-connections N`): lane 0 runs every job that reads or writes
 * mapped rows — read-through loads, write-through and write-behind commits,
 * the lock-token ceiling, start-up work; lanes 1..N-1 run SQL.QUERY and
 * SQL.EXEC (storeq_submit_statement), an idle one first. Why this split and
 * not loads spread over every lane, or async libpq inside the module:
 *  - a slow statement (a report, pg_sleep) no longer holds up loads, which
 *    is what a pool is for here; the statements are the only jobs whose
 *    cost the application, not Larder, decides;
 *  - loads and commits stay on one FIFO lane, so the per-key ordering the
 *    layers above rely on (a load queued after a commit reads the commit; a
 *    load in flight while a write lands is dropped by pkey.version) holds
 *    exactly as with one thread: no cross-lane ordering to get wrong;
 *  - a statement's writes reach the cache as invalidations (its done()
 *    bumps the key's version), which already tolerate a load in flight on
 *    another lane: the load is not installed;
 *  - each lane is a plain blocking thread with its own handle: no module
 *    change, and the bundled store (max_handles 1) keeps one lane.
 *
 * Group commit: consecutive queued jobs that carry row operations and are
 * marked `group` are applied in ONE module apply_batch call (one transaction,
 * one fsync); each job then sees its own rows' outcomes.
 *
 * Write-behind batches (store_job.nosync) with a module that has
 * apply_batch_nosync: lane 0 writes the transaction and goes on; the sync
 * thread ("larder-stsync") waits for its fsync and only then hands the
 * batch back. A load queued behind a batch thus waits for its writes, not
 * for its fsync (5-25 ms on a plain disk). What this gives up, and why it
 * is safe: the batch's done() may come after that of jobs queued after it,
 * and those jobs read the store as it was before the batch (the bundled
 * store shows a commit once it is durable). No load reads a key of a batch
 * in flight: its keys stay dirty until done(), and a dirty key is never
 * read from the store (writebehind.c, invariant 3). A write-through
 * commit's own fsync covers the batch's frames too (group commit).
 * While loads run on the lane (one in the last second), such a batch is
 * also applied `chunk` rows per transaction, the loads at the head of the
 * queue run between two chunks (they overtake the rest of the batch, as
 * above): a load waits for one chunk's writes, not for a 10,000-row batch.
 * Otherwise it is one transaction (fewer store pages rewritten). A
 * transient failure after the first chunk leaves the job STORE_OK, with the
 * committed chunks' ops as the module reported them and the later ops'
 * status STORE_ERR_TRANSIENT (not applied; err says why): the caller
 * retries those. The batch's last op (write-behind's watermark) is thus
 * stored only when every chunk was.
 *
 * Priority: a write-behind batch (a nosync job) is applied at background
 * CPU priority (`store-batch-priority`: SCHED_IDLE by default), everything
 * else at SCHED_OTHER, as a client waits for it (loads, also those served
 * between a batch's chunks; statements, write-through commits, checks).
 * Applying a batch costs milliseconds of CPU; at normal priority the
 * thread preempted the loop thread on its wake-up and held the clients
 * woken on its CPU behind it, while the other CPU sat idle. A batch
 * that is late (storeq_urge_batch) goes back to SCHED_OTHER: an idle
 * thread gets next to no CPU while the loop saturates the machine, and
 * the flush lag would grow without bound. Leaving SCHED_IDLE needs
 * CAP_SYS_NICE or an RLIMIT_NICE that allows nice 0; storeq_start probes
 * for it, and without it `idle` means SCHED_BATCH (no wake-up preemption;
 * leaving it needs no privilege).
 *
 * Invariants:
 *  1. Jobs of one lane complete in submission order (one thread, FIFO
 *     queue), and their done() callbacks run in that order; except a nosync
 *     batch, whose done() waits for its fsync (and comes after the done()
 *     of jobs run meanwhile). Nosync batches keep their order among
 *     themselves.
 *  2. A handle is only called from its lane's thread (its errors and column
 *     lists are copied there; it is closed there). */
#ifndef LARDER_PERSIST_STOREQ_H
#define LARDER_PERSIST_STOREQ_H
#include <stdint.h>
#include "persist/store_api.h"

typedef struct store_job store_job;
struct store_job {
    void (*run)(store_job *j, const store_module *m, void *h); /* store thread (NULL: batch ops) */
    /* optional, with run: consecutive queued jobs with the same run_many are
     * run together by one call (n >= 1; read-through loads: one module call
     * for many keys); each job's rc and err are set as run() would */
    void (*run_many)(store_job **jobs, int n, const store_module *m, void *h);
    void (*done)(store_job *j); /* loop thread */
    store_op *ops;              /* row operations for apply_batch (run == NULL) */
    int nops;
    int group;           /* may share a transaction with neighbouring group jobs */
    int check;           /* run == NULL: the ops are checked (module check), not applied;
                            consecutive check jobs share one call; fault injection
                            (DEBUG STORE-FAIL / STORE-DELAY) leaves them alone */
    int upkeep;          /* run: the server's own upkeep (the write-behind check reading
                            a table's description again): fault injection leaves it
                            alone, so an injected failure meets the job a test aims at */
    int nosync;          /* run == NULL, not check, not group: apply with the module's
                            apply_batch_nosync when it has one, the fsync then waited
                            for on the sync thread, so that the lane goes on meanwhile
                            (write-behind batches: no load waits behind their fsync);
                            done() once durable (see above) */
    int chunk;           /* nosync: rows per transaction (0: all in one) */
    uint64_t sync_token; /* storeq's own: what the sync thread waits for */
    int rc;
    char *err; /* owned by the job once done (xfree) */
    int64_t queued_us, started_us, finished_us;
    int group_size; /* how many jobs shared the transaction */
    int posted;     /* handed over by the store thread itself (storeq_post) */
    store_job *next;
};

#define STOREQ_MAX_LANES 16
/* Starts n lane threads (1..STOREQ_MAX_LANES), with no module yet: the
 * first job of each lane (run() gets a NULL handle) opens it. ERR if a
 * thread could not start. */
int storeq_start(int n);
int storeq_lanes(void);
/* Sets the module and the handle a lane's later jobs get (after its open job). */
void storeq_set_module(int lane, const store_module *m, void *h);
/* Queues a job (loop thread): on lane 0, on a given lane, or on a statement
 * lane (lane 0 when there is only one). */
void storeq_submit(store_job *j);
void storeq_submit_lane(store_job *j, int lane);
void storeq_submit_statement(store_job *j);
/* on = 1: jobs submitted to lane 0 are held back (loop thread) until the
 * matching storeq_hold(0) hands them over at once (calls nest), so a command's loads reach the
 * store thread together (one run_many call: an MGET's misses in one
 * round trip) rather than the first alone while the others are queued. */
void storeq_hold(int on);
/* Group jobs (write-through commits, write-behind checks) submitted to lane 0
 * during a loop turn are held until storeq_turn_end() (before-sleep) hands
 * them over at once: the turn's commits share one transaction and one
 * fsync, rather than the first going alone because the store thread woke at
 * once on the other CPU (and the lane is woken once per turn, not per
 * job). A job submitted to lane 0 that is not a group job hands the held
 * ones over first (lane 0 keeps the submission order). */
void storeq_turn_end(void);
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
/* A watch: the store thread of lane 0 (loads and commits) also runs fn between jobs (at most every
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
/* DEBUG STORE-SYNC-HOLD on|off: the sync thread holds nosync batches,
 * applied but not yet fsync'ed, until off (storeq_drain lifts it), so a
 * test sees lane 0 go on meanwhile and the batch not reported flushed. */
void storeq_hold_sync(int on);

/* store-batch-priority: the scheduling policy of write-behind batches. */
enum { STOREQ_PRIO_NORMAL = 0, STOREQ_PRIO_BATCH = 1, STOREQ_PRIO_IDLE = 2 };
/* Sets the wanted policy (any time; from the next batch on). */
void storeq_set_batch_priority(int prio);
/* The policy batches get: the wanted one, with IDLE as BATCH when a thread
 * could not leave SCHED_IDLE by itself (known after storeq_start). */
int storeq_batch_priority(void);
/* Loop thread: the write-behind batch in flight is late; it runs on at
 * SCHED_OTHER until the next nosync job is submitted (counted in
 * storeq_stats.batches_raised, once per batch; nothing under
 * STOREQ_PRIO_NORMAL). */
void storeq_urge_batch(void);

/* Statistics for INFO. */
typedef struct storeq_stats {
    long long batches, batch_jobs, transactions;
    long long batches_raised; /* batches made urgent by storeq_urge_batch */
    long syncs_pending;       /* nosync batches applied, their fsync not yet done */
    int lanes;
    int conn_state;          /* the worst lane's STORE_CONN_* */
    long long reconnects;    /* over every lane */
    char last_error[256];    /* the last transient failure of any job, "" if none */
    long long last_error_ms; /* its wall-clock time, 0 if none */
} storeq_stats;
void storeq_get_stats(storeq_stats *s);
#endif
