/* The CPU priority of the store thread (store-batch-priority, storeq.h): a
 * write-behind batch is applied at SCHED_IDLE, a read-through load at
 * SCHED_OTHER; a batch that is late is raised back to SCHED_OTHER; `normal`
 * leaves batches at SCHED_OTHER; where a thread cannot leave SCHED_IDLE
 * (no CAP_SYS_NICE, RLIMIT_NICE 0) `idle` means SCHED_BATCH. The policy is
 * read from the thread named larder-store (sched_getscheduler on its tid)
 * while DEBUG STORE-DELAY holds the job on it. Each test ends with "store
 * equals cache after WB.FLUSH". */
#include "pkit.h"
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HOLD_MS 1500 /* STORE-DELAY: how long a job is held on the store thread */

/* The tid of the server's thread named larder-store (lane 0), or -1. */
static pid_t store_tid(pid_t pid) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    pid_t tid = -1;
    struct dirent *e;
    while (tid < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char comm[64] = "";
        snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "larder-store\n"))
            tid = (pid_t)atoi(e->d_name);
        fclose(f);
    }
    closedir(d);
    return tid;
}

static int policy_of(pid_t tid) {
    int p = sched_getscheduler(tid);
    return p < 0 ? -1 : p & ~SCHED_RESET_ON_FORK;
}

/* Polls the thread's policy (every ms) until it is want or timeout_ms
 * passed; returns the last one seen. */
static int wait_policy(pid_t tid, int want, int timeout_ms) {
    double until = pk_now_ms() + timeout_ms;
    int p;
    while ((p = policy_of(tid)) != want && pk_now_ms() < until) pk_sleep_ms(1);
    return p;
}

static redisContext *start(pk_env *e, const char *delay_ms, const char *const *more) {
    memset(e, 0, sizeof(*e));
    const char *args[16] = {"--write-behind-delay-ms", delay_ms};
    int n = 2;
    for (int i = 0; more && more[i] && n < 14; i++) args[n++] = more[i];
    args[n] = NULL;
    if (pk_start(e, args) != 0) {
        CHECK(0);
        return NULL;
    }
    redisContext *c = srv_connect(&e->s);
    if (!c) return NULL;
    pk_exec(c, "CREATE TABLE kv (id TEXT PRIMARY KEY, v TEXT)");
    pk_exec(c, "CREATE TABLE rt (id TEXT PRIMARY KEY, v TEXT)");
    pk_exec(c, "INSERT INTO rt VALUES ('1', 'one')");
    CHECK_CMD(c, "+OK", "CONFIG SET map %s",
              "kv kv:{id} mode write-behind column v; rt rt:{id} mode read-through column v");
    return c;
}

static void finish(pk_env *e, redisContext *c) {
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    PK_CHECK_MAP(c, "kv", "kv:", "id", "v", NULL);
    redisFree(c);
    pk_cleanup(e);
}

/* The policy of a batch under `idle`: SCHED_IDLE, or SCHED_BATCH where the
 * server may not leave SCHED_IDLE (a container without CAP_SYS_NICE; the
 * fallback test covers that path on purpose). */
static int low_policy(redisContext *c) {
    char got[32];
    pk_info_text(c, "store_batch_priority", got, sizeof(got));
    if (!strcmp(got, "idle")) return SCHED_IDLE;
    printf("note: store_batch_priority is %s here: batches checked at SCHED_BATCH\n", got);
    CHECK_STR(got, "batch");
    return SCHED_BATCH;
}

static void check_priority_info(redisContext *c, const char *want) {
    char got[32];
    pk_info_text(c, "store_batch_priority", got, sizeof(got));
    CHECK_STR(got, want);
}

/* A batch (WB.FLUSH) at SCHED_IDLE, then the load queued behind it at
 * SCHED_OTHER; after the batch, nothing left at SCHED_IDLE. */
TEST(prio_batch_idle_load_normal) {
    pk_env e;
    redisContext *c = start(&e, "100000", NULL), *w = c ? srv_connect(&e.s) : NULL;
    if (!w) goto out;
    int low = low_policy(c);
    pid_t tid = store_tid(e.s.pid);
    CHECK(tid > 0);
    CHECK_EQ(policy_of(tid), SCHED_OTHER); /* waiting for work */
    CHECK_CMD(c, "+OK", "SET kv:a 1");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY %d", HOLD_MS);
    pk_send(w, "WB.FLUSH");
    CHECK_EQ(wait_policy(tid, low, HOLD_MS / 2), low);
    CHECK_EQ(pk_info(c, "store_batches_raised"), 0);
    pk_send(c, "GET rt:1"); /* a miss: its load waits behind the batch */
    char *r = pk_recv_str(w);
    CHECK_STR(r, "+OK");
    free(r);
    /* the batch is done; the load is on the thread now, held HOLD_MS */
    CHECK_EQ(policy_of(tid), SCHED_OTHER);
    r = pk_recv_str(c);
    CHECK_STR(r, "one");
    free(r);
    CHECK_EQ(policy_of(tid), SCHED_OTHER);
    CHECK_EQ(pk_info(c, "store_batches_raised"), 0);
    redisFree(w);
out:
    if (c) finish(&e, c);
}

/* A batch applied in chunks (a load ran in the last second): the load that
 * arrives while a chunk is held runs between two chunks at SCHED_OTHER, and
 * the next chunk goes back to the batch's policy. */
TEST(prio_load_between_chunks_normal) {
    if (pk_pg()) { /* pgstore applies a batch in one transaction: no chunks */
        printf("prio_load_between_chunks_normal: skipped with pgstore\n");
        return;
    }
    pk_env e;
    const char *more[] = {"--write-behind-chunk", "2", NULL};
    redisContext *c = start(&e, "100000", more), *w = c ? srv_connect(&e.s) : NULL;
    if (!w) goto out;
    int low = low_policy(c);
    pid_t tid = store_tid(e.s.pid);
    CHECK(tid > 0);
    pk_exec(c, "INSERT INTO rt VALUES ('2', 'two')");
    CHECK_CMD(c, "one", "GET rt:1"); /* a load: the next batch is split */
    for (int i = 0; i < 5; i++) CHECK_CMD(c, "+OK", "SET kv:c%d %d", i, i);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY %d", HOLD_MS);
    pk_send(w, "WB.FLUSH");
    CHECK_EQ(wait_policy(tid, low, HOLD_MS / 2), low); /* the first chunk */
    pk_send(c, "GET rt:2");
    CHECK_EQ(wait_policy(tid, SCHED_OTHER, HOLD_MS * 2), SCHED_OTHER); /* the load */
    char *r = pk_recv_str(c);
    CHECK_STR(r, "two");
    free(r);
    CHECK_EQ(pk_info(c, "wb_batches"), 0); /* the load overtook the batch's other chunks */
    CHECK_EQ(wait_policy(tid, low, HOLD_MS / 2), low); /* the next chunk */
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 0");
    r = pk_recv_str(w);
    CHECK_STR(r, "+OK");
    free(r);
    redisFree(w);
out:
    if (c) finish(&e, c);
}

/* A batch held longer than write-behind-delay-ms + 250 ms is late: the
 * loop raises the thread to SCHED_OTHER while the batch is still on it. */
TEST(prio_late_batch_raised) {
    pk_env e;
    redisContext *c = start(&e, "50", NULL);
    if (!c) return;
    int low = low_policy(c);
    pid_t tid = store_tid(e.s.pid);
    CHECK(tid > 0);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 3000");
    double t0 = pk_now_ms();
    CHECK_CMD(c, "+OK", "SET kv:late 1");
    CHECK_EQ(wait_policy(tid, low, 1000), low);
    CHECK_EQ(pk_wait_info_ge(c, "store_batches_raised", 1, 2000), 1);
    double raised = pk_now_ms() - t0;
    CHECK(raised >= 290); /* not before it was late (the loop's clock is per turn) */
    CHECK_EQ(policy_of(tid), SCHED_OTHER);
    CHECK_EQ(pk_info(c, "wb_batches"), 0); /* still in flight */
    CHECK_EQ(pk_wait_info_ge(c, "wb_batches", 1, 5000), 1);
    /* the next batch starts at background priority again */
    CHECK_CMD(c, "+OK", "SET kv:next 2");
    CHECK_EQ(wait_policy(tid, low, 1000), low);
    finish(&e, c);
}

/* Samples the thread's policy for ms while a batch is held on it: how many
 * samples were not want. */
static int samples_not(pid_t tid, int want, int ms) {
    int bad = 0;
    for (double until = pk_now_ms() + ms; pk_now_ms() < until; pk_sleep_ms(5))
        bad += policy_of(tid) != want;
    return bad;
}

/* store-batch-priority normal (CONFIG SET): batches stay at SCHED_OTHER;
 * bad values are refused. */
TEST(prio_normal_leaves_batches_normal) {
    pk_env e;
    redisContext *c = start(&e, "100000", NULL), *w = c ? srv_connect(&e.s) : NULL;
    if (!w) goto out;
    CHECK_CMD(c,
              "-ERR CONFIG SET failed (possibly related to argument 'store-batch-priority') - "
              "argument(s) must be one of the following: normal, batch, idle",
              "CONFIG SET store-batch-priority low");
    CHECK_CMD(c, "+OK", "CONFIG SET store-batch-priority normal");
    CHECK_CMD(c, "[store-batch-priority,normal]", "CONFIG GET store-batch-priority");
    check_priority_info(c, "normal");
    pid_t tid = store_tid(e.s.pid);
    CHECK(tid > 0);
    CHECK_CMD(c, "+OK", "SET kv:n 1");
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY %d", HOLD_MS);
    pk_send(w, "WB.FLUSH");
    CHECK_EQ(samples_not(tid, SCHED_OTHER, HOLD_MS / 2), 0);
    CHECK_EQ(pk_info(c, "wb_batches"), 0); /* the samples were taken during the batch */
    char *r = pk_recv_str(w);
    CHECK_STR(r, "+OK");
    free(r);
    /* and back: the same hold shows SCHED_IDLE */
    CHECK_CMD(c, "+OK", "CONFIG SET store-batch-priority idle");
    int low = low_policy(c);
    CHECK_CMD(c, "+OK", "SET kv:n 2");
    pk_send(w, "WB.FLUSH");
    CHECK_EQ(wait_policy(tid, low, HOLD_MS / 2), low);
    r = pk_recv_str(w);
    CHECK_STR(r, "+OK");
    free(r);
    redisFree(w);
out:
    if (c) finish(&e, c);
}

/* Without CAP_SYS_NICE and with RLIMIT_NICE 0 (the server run through
 * setpriv, which drops the capability from the bounding set, and prlimit),
 * a thread cannot leave SCHED_IDLE: `idle` means SCHED_BATCH, said in the
 * log and INFO, and a late batch still goes back to SCHED_OTHER. Needs
 * root to drop the capability; an unprivileged run skips it. */
TEST(prio_fallback_batch_without_privilege) {
    if (geteuid() != 0 ||
        system("setpriv --bounding-set=-sys_nice prlimit --nice=0 -- true 2>/dev/null") != 0) {
        printf("prio_fallback_batch_without_privilege: skipped (needs root with CAP_SETPCAP, "
               "setpriv, prlimit)\n");
        return;
    }
    char server[PATH_MAX], wrapper[] = "/tmp/larder-prio-XXXXXX";
    int fd = -1;
    FILE *f = NULL;
    if (!realpath(larder_server_path(), server) || (fd = mkstemp(wrapper)) < 0 ||
        !(f = fdopen(fd, "w"))) {
        CHECK(0);
        return;
    }
    fprintf(f,
            "#!/bin/sh\nexec setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice "
            "prlimit --nice=0 -- '%s' \"$@\"\n",
            server);
    fclose(f); /* closed before it is run: no ETXTBSY */
    chmod(wrapper, 0700);
    const char *old = getenv("LARDER_SERVER");
    char *saved = old ? strdup(old) : NULL;
    setenv("LARDER_SERVER", wrapper, 1);
    pk_env e;
    redisContext *c = start(&e, "50", NULL);
    if (saved)
        setenv("LARDER_SERVER", saved, 1);
    else
        unsetenv("LARDER_SERVER");
    free(saved);
    unlink(wrapper);
    if (!c) return;
    check_priority_info(c, "batch");
    CHECK_CMD(c, "[store-batch-priority,idle]", "CONFIG GET store-batch-priority"); /* as asked */
    pid_t tid = store_tid(e.s.pid);
    CHECK(tid > 0);
    CHECK_CMD(c, "+OK", "DEBUG STORE-DELAY 3000");
    CHECK_CMD(c, "+OK", "SET kv:f 1");
    CHECK_EQ(wait_policy(tid, SCHED_BATCH, 1000), SCHED_BATCH);
    CHECK_EQ(pk_wait_info_ge(c, "store_batches_raised", 1, 2000), 1);
    CHECK_EQ(policy_of(tid), SCHED_OTHER);
    CHECK_EQ(pk_wait_info_ge(c, "wb_batches", 1, 5000), 1);
    CHECK_EQ(policy_of(tid), SCHED_OTHER);
    finish(&e, c);
}

int main(void) {
    RUN(prio_batch_idle_load_normal);
    RUN(prio_load_between_chunks_normal);
    RUN(prio_late_batch_raised);
    RUN(prio_normal_leaves_batches_normal);
    RUN(prio_fallback_batch_without_privilege);
    return test_report();
}
