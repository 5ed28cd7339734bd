/* persist/storeq — see storeq.h. */
#include "persist/storeq.h"
#include "server/api.h"
#include "util/clock.h"
#include "util/mem.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct lane {
    int idx;
    void *handle;
    pthread_t thread;
    pthread_cond_t cv;                /* work for this lane, or stopping (lanes 1..; lane 0
                                         waits in poll on evfd and the watch) */
    store_job *todo_head, *todo_tail; /* loop -> thread */
    int busy;
    int started;
    store_status st;      /* the module's last report (status), under mu */
    int64_t last_load_us; /* when run_many (loads) last ran here; this lane's thread */
} lane;

static const store_module *mod;
static lane lanes[STOREQ_MAX_LANES];
static int nlanes;
static unsigned next_statement; /* round robin over the statement lanes */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static store_job *done_head, *done_tail; /* threads -> loop */
static long pending;                     /* submitted, done() not yet called */
static int running, stopping;
static ev_async wake;
static _Atomic long inject_failures, inject_delay_ms;
/* written by the store threads, read by INFO on the loop thread */
static struct { _Atomic long long batches, batch_jobs, transactions; } stats;
static char last_error[256]; /* the last transient failure, under mu */
static long long last_error_ms;
/* nosync batches waiting for their fsync (sync_main), under mu */
static store_job *sync_head, *sync_tail;
static long sync_pending; /* queued or being synced, under mu */
static int sync_held;     /* DEBUG STORE-SYNC-HOLD, under mu */
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static pthread_t sync_thread;
static int sync_started;
/* The watch runs on lane 0 (the lane of loads and commits, so that what it
 * posts is ordered after their results). */
static int evfd = -1;         /* wakes lane 0: a job, a watch change, stop */
static storeq_watch_fn watch; /* under mu */
static _Atomic int watch_kicked;
/* lane 0's own */
static int watch_fd = -1;
static int64_t watch_deadline_ms, watch_checked_ms;
static storeq_watch_fn watch_running;

/* ---- the priority of write-behind batches (storeq.h) ------------------------- */

static _Atomic int batch_prio_want = STOREQ_PRIO_IDLE; /* store-batch-priority */
static int idle_permitted = -1;                        /* the probe's answer; -1: not yet */
static _Atomic int batch_urgent;                       /* the batch in flight is late */
static _Atomic pid_t lane0_tid;                        /* lane 0's thread, for the loop's raise */
static _Atomic long long batches_raised;
static int lane0_policy = SCHED_OTHER; /* lane 0's own view of its policy */

static int effective_prio(int want) {
    return want == STOREQ_PRIO_IDLE && idle_permitted != 1 ? STOREQ_PRIO_BATCH : want;
}

static int set_policy(pid_t tid, int policy) {
    struct sched_param p = {0};
    return sched_setscheduler(tid, policy, &p);
}

/* Can a thread of this process go back from SCHED_IDLE to SCHED_OTHER? Not
 * without CAP_SYS_NICE or an RLIMIT_NICE that permits its nice value (the
 * kernel's can_nice). Asked of a thread of its own: a thread that got stuck
 * at SCHED_IDLE is thrown away. */
static void *probe_main(void *arg) {
    (void)arg;
    if (set_policy(0, SCHED_IDLE) != 0) return NULL;
    return set_policy(0, SCHED_OTHER) == 0 ? (void *)1 : NULL;
}

static void probe_idle(void) {
    pthread_t t;
    void *ok = NULL;
    if (pthread_create(&t, NULL, probe_main, NULL) != 0) {
        idle_permitted = 0;
        return;
    }
    pthread_join(t, &ok);
    idle_permitted = ok != NULL;
}

/* Lane 0's thread: its policy for what it runs next (a batch: low = 1). A
 * late batch runs at SCHED_OTHER: lowered, the thread reads the urgent flag
 * again, as storeq_urge_batch sets the flag before it raises the thread (one
 * of the two raises it whichever came first). */
static void batch_prio(int low) {
    int policy = SCHED_OTHER;
    if (low && !atomic_load(&batch_urgent)) {
        int p = effective_prio(atomic_load(&batch_prio_want));
        policy = p == STOREQ_PRIO_IDLE    ? SCHED_IDLE
                 : p == STOREQ_PRIO_BATCH ? SCHED_BATCH
                                          : SCHED_OTHER;
    }
    if (policy == lane0_policy) return;
    if (set_policy(0, policy) != 0) return; /* not permitted after all: left as it was */
    lane0_policy = policy;
    if (policy != SCHED_OTHER && atomic_load(&batch_urgent) && set_policy(0, SCHED_OTHER) == 0)
        lane0_policy = SCHED_OTHER;
}

void storeq_urge_batch(void) {
    if (storeq_batch_priority() == STOREQ_PRIO_NORMAL) return; /* nothing to raise */
    if (atomic_exchange(&batch_urgent, 1)) return;
    atomic_fetch_add(&batches_raised, 1);
    pid_t tid = atomic_load(&lane0_tid);
    if (tid > 0) set_policy(tid, SCHED_OTHER); /* lane 0 then sees it is not what it set */
}

void storeq_set_batch_priority(int prio) {
    atomic_store(&batch_prio_want, prio);
}

int storeq_batch_priority(void) {
    return effective_prio(atomic_load(&batch_prio_want));
}

void storeq_inject_failures(long n) {
    atomic_store(&inject_failures, n);
}
void storeq_inject_delay(long ms) {
    atomic_store(&inject_delay_ms, ms);
}

static void wake_lane0(void) {
    uint64_t one = 1;
    if (write(evfd, &one, sizeof(one)) < 0) { /* the counter is full: it is awake anyway */
    }
}

/* Lane 0 waits up to timeout_ms (-1: forever) for a wake-up or the watch's
 * descriptor, then runs the watch if it is due. mu not held. */
static void watch_poll(int timeout_ms) {
    int64_t now = clock_mono_us() / 1000;
    if (watch_running) {
        int64_t left = watch_deadline_ms - now;
        if (left < 0) left = 0;
        if (timeout_ms < 0 || left < timeout_ms) timeout_ms = (int)(left > 60000 ? 60000 : left);
    }
    struct pollfd p[2] = {{evfd, POLLIN, 0}, {watch_fd, POLLIN, 0}};
    int n = watch_running && watch_fd >= 0 ? 2 : 1;
    if (poll(p, (nfds_t)n, timeout_ms) > 0 && (p[0].revents & POLLIN)) {
        uint64_t v;
        if (read(evfd, &v, sizeof(v)) < 0) { /* nothing to read: another wake-up took it */
        }
    }
    if (!watch_running) return;
    now = clock_mono_us() / 1000;
    watch_checked_ms = now;
    int readable = n == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR));
    if (readable || now >= watch_deadline_ms || atomic_exchange(&watch_kicked, 0))
        watch_fd = watch_running(mod, lanes[0].handle, readable, &watch_deadline_ms);
}

/* DEBUG STORE-DELAY: holds the current job's answer back (on lane 0 with
 * the watch running, so changes are read meanwhile). */
static void injected_delay(const lane *l) {
    long ms = atomic_load(&inject_delay_ms);
    if (ms <= 0) return;
    int64_t until = clock_mono_us() / 1000 + ms;
    for (int64_t now; (now = clock_mono_us() / 1000) < until;) {
        int64_t left = until - now;
        if (l->idx != 0 || !watch_running) {
            struct timespec ts = {left / 1000, (left % 1000) * 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (watch_deadline_ms > now && watch_deadline_ms - now < left)
            left = watch_deadline_ms - now;
        struct pollfd p = {watch_fd, POLLIN, 0};
        int readable = watch_fd >= 0 && poll(&p, 1, (int)left) > 0;
        if (watch_fd < 0) {
            struct timespec ts = {left / 1000, (left % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        now = clock_mono_us() / 1000;
        if (readable || now >= watch_deadline_ms || atomic_exchange(&watch_kicked, 0))
            watch_fd = watch_running(mod, l->handle, readable, &watch_deadline_ms);
    }
}

static int injected(char **err) {
    long n = atomic_load(&inject_failures);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&inject_failures, &n, n - 1)) {
            *err = xstrdup("injected store failure (DEBUG STORE-FAIL)");
            return 1;
        }
    }
    return 0;
}

static void push_done(store_job *j) {
    j->finished_us = clock_ustime();
    j->next = NULL;
    if (done_tail)
        done_tail->next = j;
    else
        done_head = j;
    done_tail = j;
}

static void run_many(lane *l, store_job **jobs, int n);

/* Moves the jobs at the head of lane l's queue that share group[0]'s
 * run_many (with n == 0: the first's, if it has one) into group after its
 * n, up to 256 in all (mu held); the new count. */
static int take_loads(lane *l, store_job **group, int n) {
    while (l->todo_head && l->todo_head->run && l->todo_head->run_many && n < 256 &&
           (n == 0 || l->todo_head->run_many == group[0]->run_many)) {
        group[n++] = l->todo_head;
        l->todo_head = l->todo_head->next;
    }
    if (!l->todo_head) l->todo_tail = NULL;
    return n;
}

/* Between two chunks of a nosync batch: the loads at the head of lane l's
 * queue (queued after the batch, before anything else still queued) run
 * now, ahead of the batch's other chunks (storeq.h). */
static void serve_loads(lane *l) {
    store_job *group[256];
    pthread_mutex_lock(&mu);
    int n = take_loads(l, group, 0);
    pthread_mutex_unlock(&mu);
    if (!n) return;
    int64_t now = clock_ustime();
    for (int i = 0; i < n; i++) group[i]->started_us = now;
    batch_prio(0); /* a client waits for these */
    run_many(l, group, n);
    batch_prio(1);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++) push_done(group[i]);
    ev_async_send(server_loop(), &wake);
    pthread_cond_broadcast(&idle_cv);
    pthread_mutex_unlock(&mu);
}

/* A read-through load ran on the lane this recently: a big batch is split
 * so that the loads still to come need not wait for all of it. */
#define LOADS_RECENT_US 1000000

/* A nosync batch, `chunk` rows per transaction (0: one), the queued loads
 * served between them; *token gets what the sync thread waits for. The
 * batch is one transaction whatever `chunk` is when no load ran on the lane
 * in the last LOADS_RECENT_US: each transaction rewrites the store pages its
 * rows touch, and a 10,000-row batch of random keys in 128-row chunks
 * rewrote about four times the pages (the write-behind bench's flush lag
 * went from 65 ms to 1.2 s). A transient failure after a chunk was
 * committed leaves the job STORE_OK with the ops not applied marked
 * STORE_ERR_TRANSIENT. *err_ours: *err is storeq's (xfree), not the
 * module's. */
static int apply_chunked(lane *l, store_op *all, int total, int chunk, uint64_t *token, char **err,
                         int *err_ours) {
    int at = 0, rc = STORE_OK;
    if (chunk <= 0 || clock_mono_us() - l->last_load_us > LOADS_RECENT_US) chunk = total;
    *token = 0;
    while (at < total) {
        int m = total - at > chunk ? chunk : total - at;
        uint64_t t = 0;
        if (at && injected(err)) { /* a failure between chunks (DEBUG STORE-FAIL) */
            *err_ours = 1;
            rc = STORE_ERR_TRANSIENT;
            break;
        }
        rc = mod->apply_batch_nosync(l->handle, all + at, m, &t, err);
        if (rc != STORE_OK) break; /* the module rolled the chunk back, its ops cleared */
        if (t > *token) *token = t;
        atomic_fetch_add(&stats.transactions, 1);
        at += m;
        if (at == total) break;
        injected_delay(l); /* each chunk is a store call (the last: run_group's) */
        serve_loads(l);
    }
    if (rc == STORE_OK || at == 0) return rc;
    /* the committed chunks stand (and need their fsync); the rest is retried */
    for (int k = at; k < total; k++) {
        all[k].status = STORE_ERR_TRANSIENT;
        all[k].error = NULL;
        all[k].change = 0;
    }
    return STORE_OK;
}

/* Runs a group of batch jobs in one apply_batch call (check jobs: in one
 * check call). */
static void run_group(lane *l, store_job **jobs, int n) {
    int check = jobs[0]->check;
    int total = 0;
    for (int i = 0; i < n; i++) total += jobs[i]->nops;
    store_op *all = xmalloc(sizeof(store_op) * (size_t)(total ? total : 1));
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < jobs[i]->nops; j++) all[k++] = jobs[i]->ops[j];
    char *err = NULL;
    int rc, fake = !check && injected(&err), err_ours = fake, chunked = 0;
    int low = !check && !fake && n == 1 && jobs[0]->nosync; /* write-behind: in the background */
    if (low) batch_prio(1);
    if (fake) {
        rc = STORE_ERR_TRANSIENT;
    } else if (check) {
        rc = mod->check(l->handle, all, total, &err);
    } else if (n == 1 && jobs[0]->nosync && mod->apply_batch_nosync && mod->sync) {
        chunked = 1;
        rc = apply_chunked(l, all, total, jobs[0]->chunk, &jobs[0]->sync_token, &err, &err_ours);
    } else {
        rc = mod->apply_batch(l->handle, all, total, &err);
    }
    if (rc != STORE_OK) jobs[0]->sync_token = 0;
    injected_delay(l);
    if (low) batch_prio(0);
    /* the loop thread reads the refusals: copies in host memory, and the
     * module's own freed here, on the only thread that calls this handle */
    for (k = 0; k < total; k++) {
        if (!all[k].error) continue;
        char *copy = xstrdup(all[k].error);
        if (!fake) mod->free_error(all[k].error);
        all[k].error = copy;
    }
    k = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < jobs[i]->nops; j++) jobs[i]->ops[j] = all[k++];
        jobs[i]->rc = rc;
        jobs[i]->err = err ? xstrdup(err) : NULL;
        jobs[i]->group_size = n;
    }
    if (err) {
        if (err_ours)
            xfree(err);
        else
            mod->free_error(err);
    }
    xfree(all);
    if (check) return;
    if (!chunked) atomic_fetch_add(&stats.transactions, 1);
    atomic_fetch_add(&stats.batches, 1);
    atomic_fetch_add(&stats.batch_jobs, n);
}

/* An injected failure is held back by STORE-DELAY like any answer (here,
 * in run_many and in run_group): a failing store is not a fast one, and a
 * load failed at once would be over before the misses meant to join it
 * arrive. */
static void run_one(lane *l, store_job *j) {
    char *err = NULL;
    if (j->upkeep) {
        j->run(j, mod, l->handle);
        return;
    }
    if (injected(&err)) {
        j->rc = STORE_ERR_TRANSIENT;
        j->err = err;
    } else {
        j->run(j, mod, l->handle);
    }
    injected_delay(l);
}

/* Jobs with one run_many function in one call (each fails alone when a
 * failure is injected: DEBUG STORE-FAIL counts module calls; the failure is
 * held back as run_one's is). */
static void run_many(lane *l, store_job **jobs, int n) {
    char *err = NULL;
    if (injected(&err)) {
        for (int i = 0; i < n; i++) {
            jobs[i]->rc = STORE_ERR_TRANSIENT;
            jobs[i]->err = xstrdup(err);
        }
        xfree(err);
    } else {
        jobs[0]->run_many(jobs, n, mod, l->handle);
    }
    l->last_load_us = clock_mono_us();
    injected_delay(l);
}

/* After a run (mu held): the module's connection report and the last
 * transient failure, for INFO. */
static void note_health(lane *l, store_job *j, const store_status *st) {
    if (st) l->st = *st;
    if (j->rc != STORE_ERR_TRANSIENT || !j->err) return;
    size_t n = 0;
    for (const char *p = j->err; *p && n + 1 < sizeof(last_error); p++)
        last_error[n++] = (*p == '\r' || *p == '\n') ? ' ' : *p; /* one INFO line */
    last_error[n] = '\0';
    last_error_ms = clock_mstime();
}

static void *thread_main(void *arg) {
    lane *l = arg;
    if (l->idx == 0) atomic_store(&lane0_tid, gettid());
    pthread_mutex_lock(&mu);
    for (;;) {
        if (l->idx == 0 && watch != watch_running) { /* set or removed: due at once */
            watch_running = watch;
            watch_fd = -1;
            watch_deadline_ms = 0;
        }
        if (l->idx == 0 && !l->todo_head && !stopping) {
            pthread_mutex_unlock(&mu);
            watch_poll(-1);
            pthread_mutex_lock(&mu);
            continue;
        }
        while (!l->todo_head && !stopping) pthread_cond_wait(&l->cv, &mu);
        if (!l->todo_head && stopping) break;
        /* take a run of jobs: either one plain job, or consecutive group jobs */
        store_job *group[256];
        int n = 0;
        group[n++] = l->todo_head;
        l->todo_head = l->todo_head->next;
        if (group[0]->run && group[0]->run_many) {
            n = take_loads(l, group, n);
        } else if (!group[0]->run && group[0]->group) {
            int check = group[0]->check;
            while (l->todo_head && !l->todo_head->run && l->todo_head->group &&
                   l->todo_head->check == check && n < 256) {
                group[n++] = l->todo_head;
                l->todo_head = l->todo_head->next;
            }
        }
        if (!l->todo_head) l->todo_tail = NULL;
        l->busy = 1;
        pthread_mutex_unlock(&mu);
        int64_t now = clock_ustime();
        for (int i = 0; i < n; i++) group[i]->started_us = now;
        if (!group[0]->run)
            run_group(l, group, n);
        else if (group[0]->run_many)
            run_many(l, group, n);
        else
            run_one(l, group[0]);
        store_status st = {0}, *stp = NULL;
        if (mod && l->handle && mod->status) {
            mod->status(l->handle, &st);
            stp = &st;
        }
        pthread_mutex_lock(&mu);
        l->busy = 0;
        note_health(l, group[0], stp);
        if (n == 1 && group[0]->sync_token) { /* its fsync on the sync thread */
            group[0]->next = NULL;
            if (sync_tail)
                sync_tail->next = group[0];
            else
                sync_head = group[0];
            sync_tail = group[0];
            sync_pending++;
            pthread_cond_signal(&sync_cv);
        } else {
            for (int i = 0; i < n; i++) push_done(group[i]);
        }
        ev_async_send(server_loop(), &wake);
        pthread_cond_broadcast(&idle_cv);
        /* a steady stream of jobs does not starve the watch; it runs after
         * the jobs' results are handed over, so what it posts comes after
         * them (a change read after a commit is applied after that commit's
         * done()) */
        if (l->idx == 0 && watch_running && clock_mono_us() / 1000 > watch_checked_ms) {
            pthread_mutex_unlock(&mu);
            watch_poll(0);
            pthread_mutex_lock(&mu);
        }
    }
    void *h = l->handle;
    l->handle = NULL;
    pthread_mutex_unlock(&mu);
    if (mod && h) mod->close(h); /* the handle's last call, on its own thread */
    return NULL;
}

/* The sync thread: waits for the durability of batches applied with
 * apply_batch_nosync (store_job.nosync), in their order, then hands them
 * back. It calls only the module's sync, which is safe beside lane 0. */
static void *sync_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        /* storeq_stop comes after storeq_drain: nothing is queued then */
        while ((!sync_head || sync_held) && !stopping) pthread_cond_wait(&sync_cv, &mu);
        if (!sync_head) break;
        store_job *j = sync_head;
        sync_head = j->next;
        if (!sync_head) sync_tail = NULL;
        /* lane 0's handle: lane 0 closes it only after this thread ended */
        void *h = lanes[0].handle;
        const store_module *m = mod;
        pthread_mutex_unlock(&mu);
        char *err = NULL;
        if (m->sync(h, j->sync_token, &err) != STORE_OK) {
            /* outcome unknown: the batch is retried (its rows are upserts
             * of the keys' latest states), its watermark not trusted */
            j->rc = STORE_ERR_TRANSIENT;
            xfree(j->err);
            j->err = xstrdup(err ? err : "store sync failed");
            if (err) m->free_error(err);
        }
        j->sync_token = 0;
        pthread_mutex_lock(&mu);
        sync_pending--;
        note_health(&lanes[0], j, NULL);
        push_done(j);
        ev_async_send(server_loop(), &wake);
        pthread_cond_broadcast(&idle_cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Calls done() of completed jobs (loop thread). */
static void deliver(void) {
    for (;;) {
        pthread_mutex_lock(&mu);
        store_job *list = done_head;
        done_head = done_tail = NULL;
        pthread_mutex_unlock(&mu);
        if (!list) return;
        while (list) {
            store_job *next = list->next;
            if (!list->posted) pending--;
            list->done(list);
            list = next;
        }
    }
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    server_update_time();
    deliver();
}

int storeq_start(int n) {
    if (n < 1) n = 1;
    if (n > STOREQ_MAX_LANES) n = STOREQ_MAX_LANES;
    if (evfd < 0 && (evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) return ERR;
    if (idle_permitted < 0) probe_idle();
    ev_async_init(&wake, wake_cb);
    ev_async_start(server_loop(), &wake);
    stopping = 0;
    for (int i = 0; i < n; i++) {
        lane *l = &lanes[i];
        memset(l, 0, sizeof(*l));
        l->idx = i;
        pthread_cond_init(&l->cv, NULL);
        if (pthread_create(&l->thread, NULL, thread_main, l) != 0) break;
        l->started = 1;
        char name[16];
        snprintf(name, sizeof(name), i ? "larder-store%d" : "larder-store", i);
        pthread_setname_np(l->thread, name); /* tells the threads apart in top and perf */
        nlanes = i + 1;
    }
    running = nlanes > 0;
    if (!sync_started && pthread_create(&sync_thread, NULL, sync_main, NULL) == 0) {
        pthread_setname_np(sync_thread, "larder-stsync");
        sync_started = 1;
    }
    return nlanes == n && sync_started ? OK : ERR;
}

int storeq_lanes(void) {
    return nlanes;
}

void storeq_set_module(int lane_idx, const store_module *m, void *h) {
    pthread_mutex_lock(&mu);
    mod = m;
    lanes[lane_idx].handle = h;
    pthread_mutex_unlock(&mu);
}

void storeq_get_stats(storeq_stats *s) {
    s->batches = atomic_load(&stats.batches);
    s->batch_jobs = atomic_load(&stats.batch_jobs);
    s->transactions = atomic_load(&stats.transactions);
    s->batches_raised = atomic_load(&batches_raised);
    pthread_mutex_lock(&mu);
    s->lanes = nlanes;
    s->syncs_pending = sync_pending;
    s->conn_state = STORE_CONN_CONNECTED;
    s->reconnects = 0;
    for (int i = 0; i < nlanes; i++) {
        if (lanes[i].st.state > s->conn_state) s->conn_state = lanes[i].st.state;
        s->reconnects += lanes[i].st.reconnects;
    }
    snprintf(s->last_error, sizeof(s->last_error), "%s", last_error);
    s->last_error_ms = last_error_ms;
    pthread_mutex_unlock(&mu);
}

/* Jobs for lane 0 held back by storeq_hold (loop thread only). */
static store_job *held_head, *held_tail;
static int holding;
/* Group jobs of this loop turn, held until storeq_turn_end (loop thread). */
static store_job *turn_head, *turn_tail;

static void append(store_job **head, store_job **tail, store_job *h, store_job *t) {
    if (*tail)
        (*tail)->next = h;
    else
        *head = h;
    *tail = t;
}

/* Appends the jobs head..tail to a lane's queue and wakes it. */
static void enqueue(store_job *head, store_job *tail, int lane_idx) {
    pthread_mutex_lock(&mu);
    lane *l = &lanes[lane_idx];
    if (l->todo_tail)
        l->todo_tail->next = head;
    else
        l->todo_head = head;
    l->todo_tail = tail;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&mu);
    if (lane_idx == 0) wake_lane0();
}

static void submit_to(store_job *j, int lane_idx) {
    j->queued_us = clock_ustime();
    j->finished_us = 0;
    j->next = NULL;
    j->rc = STORE_OK;
    j->err = NULL;
    j->sync_token = 0;
    pending++;
    if (j->nosync) atomic_store(&batch_urgent, 0); /* not late (yet) */
    if (lane_idx == 0 && j->group) {
        append(&turn_head, &turn_tail, j, j);
        return;
    }
    if (lane_idx == 0 && turn_head) { /* the turn's group jobs go first */
        store_job *h = turn_head, *t = turn_tail;
        turn_head = turn_tail = NULL;
        if (holding)
            append(&held_head, &held_tail, h, t);
        else
            enqueue(h, t, 0);
    }
    if (holding && lane_idx == 0) {
        append(&held_head, &held_tail, j, j);
        return;
    }
    enqueue(j, j, lane_idx);
}

static void hand_over(void) {
    if (!held_head) return;
    store_job *h = held_head, *t = held_tail;
    held_head = held_tail = NULL;
    enqueue(h, t, 0);
}

void storeq_turn_end(void) {
    if (!turn_head) return;
    store_job *h = turn_head, *t = turn_tail;
    turn_head = turn_tail = NULL;
    if (holding) /* inside a command (not at before-sleep): after its held jobs */
        append(&held_head, &held_tail, h, t);
    else
        enqueue(h, t, 0);
}

void storeq_hold(int on) {
    holding += on ? 1 : -1; /* nested (a script's commands): the outermost hands over */
    if (holding <= 0) hand_over();
}

void storeq_submit(store_job *j) {
    submit_to(j, 0);
}

void storeq_submit_lane(store_job *j, int lane_idx) {
    submit_to(j, lane_idx < nlanes ? lane_idx : 0);
}

/* An idle statement lane if there is one, else the next in turn. */
void storeq_submit_statement(store_job *j) {
    if (nlanes < 2) {
        submit_to(j, 0);
        return;
    }
    int pick = -1;
    pthread_mutex_lock(&mu);
    for (int i = 1; i < nlanes && pick < 0; i++)
        if (!lanes[i].busy && !lanes[i].todo_head) pick = i;
    pthread_mutex_unlock(&mu);
    if (pick < 0) pick = 1 + (int)(next_statement++ % (unsigned)(nlanes - 1));
    submit_to(j, pick);
}

void storeq_set_watch(storeq_watch_fn fn) {
    pthread_mutex_lock(&mu);
    watch = fn;
    pthread_mutex_unlock(&mu);
    wake_lane0();
}

void storeq_kick_watch(void) {
    atomic_store(&watch_kicked, 1);
    wake_lane0();
}

void storeq_post(store_job *j) {
    j->posted = 1;
    pthread_mutex_lock(&mu);
    push_done(j);
    pthread_mutex_unlock(&mu);
    ev_async_send(server_loop(), &wake);
}

void storeq_hold_sync(int on) {
    pthread_mutex_lock(&mu);
    sync_held = on;
    pthread_cond_signal(&sync_cv);
    pthread_mutex_unlock(&mu);
}

void storeq_drain(void) {
    storeq_hold_sync(0); /* a held fsync would be waited for forever */
    storeq_turn_end();
    hand_over();
    while (pending > 0) {
        pthread_mutex_lock(&mu);
        while (!done_head) pthread_cond_wait(&idle_cv, &mu);
        pthread_mutex_unlock(&mu);
        deliver();
    }
}

void storeq_wait_job(store_job *j) {
    pthread_mutex_lock(&mu);
    while (!j->finished_us) pthread_cond_wait(&idle_cv, &mu);
    pthread_mutex_unlock(&mu);
}

void storeq_stop(void) {
    if (!running) return;
    storeq_drain();
    pthread_mutex_lock(&mu);
    stopping = 1;
    for (int i = 0; i < nlanes; i++) pthread_cond_signal(&lanes[i].cv);
    pthread_cond_signal(&sync_cv);
    pthread_mutex_unlock(&mu);
    wake_lane0();
    if (sync_started) pthread_join(sync_thread, NULL);
    sync_started = 0;
    for (int i = 0; i < nlanes; i++)
        if (lanes[i].started) pthread_join(lanes[i].thread, NULL);
    deliver(); /* what the watch posted last */
    ev_async_stop(server_loop(), &wake);
    running = 0;
}
