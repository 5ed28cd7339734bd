/* Lock contention: N client threads each take one lock M times, against one
 * larder-server, in two flavours:
 *   1. LOCK.ACQUIRE name ttl WAIT ms  /  LOCK.RELEASE name token  (native, FIFO)
 *   2. EVAL "SET NX PX + INCR fence"  /  EVAL "GET == token then DEL"  (what
 *      client libraries do; a failed SET is retried after a short random backoff)
 * Inside the critical section each thread checks mutual exclusion (an atomic
 * occupancy count must go 0 -> 1) and bumps a plain shared counter with a
 * read/yield/write (a lost update reveals an overlap); fencing tokens must be
 * strictly increasing in the order the lock was held.
 *
 * LOCK_THREADS / LOCK_ITERS override 50 x 1000. Prints the wall time of each
 * flavour (handoffs per second). */
#include "harness.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static srv server_;
static int nthreads = 50, iters = 1000;
static atomic_int occupancy;
static atomic_int violations, errors;
static long long shared_counter;
static long long last_token; /* guarded by the lock under test */
static atomic_int token_violations;

static const char *ACQ_SCRIPT = "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
                                "return redis.call('incr', KEYS[2]) else return false end";
static const char *REL_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return "
                                "redis.call('del', KEYS[1]) else return 0 end";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void critical_section(long long token) {
    if (atomic_fetch_add(&occupancy, 1) != 0) atomic_fetch_add(&violations, 1);
    long long v = shared_counter;
    sched_yield();
    shared_counter = v + 1;
    if (token <= last_token) atomic_fetch_add(&token_violations, 1);
    last_token = token;
    atomic_fetch_sub(&occupancy, 1);
}

static void *native_worker(void *arg) {
    (void)arg;
    redisContext *c = srv_connect(&server_);
    if (!c) {
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    for (int i = 0; i < iters; i++) {
        redisReply *r = redisCommand(c, "LOCK.ACQUIRE contended 10000 WAIT 0");
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            atomic_fetch_add(&errors, 1);
            if (r) freeReplyObject(r);
            break;
        }
        long long token = r->integer;
        freeReplyObject(r);
        critical_section(token);
        r = redisCommand(c, "LOCK.RELEASE contended %lld", token);
        if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1) atomic_fetch_add(&errors, 1);
        if (r) freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void *script_worker(void *arg) {
    long id = (long)arg;
    redisContext *c = srv_connect(&server_);
    if (!c) {
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    unsigned seed = (unsigned)id * 7919u + 1;
    char mytoken[32];
    for (int i = 0; i < iters; i++) {
        snprintf(mytoken, sizeof(mytoken), "%ld:%d", id, i);
        long long fence = -1;
        unsigned backoff = 50; /* us, doubled per failed try up to 4 ms, jittered */
        for (;;) {
            redisReply *r =
                redisCommand(c, "EVAL %s 2 lockkey fence %s 10000", ACQ_SCRIPT, mytoken);
            if (!r) {
                atomic_fetch_add(&errors, 1);
                redisFree(c);
                return NULL;
            }
            if (r->type == REDIS_REPLY_INTEGER)
                fence = r->integer;
            else if (r->type != REDIS_REPLY_NIL)
                atomic_fetch_add(&errors, 1);
            freeReplyObject(r);
            if (fence >= 0) break;
            usleep(backoff / 2 + rand_r(&seed) % backoff); /* as client libraries retry */
            if (backoff < 4000) backoff *= 2;
        }
        critical_section(fence);
        redisReply *r = redisCommand(c, "EVAL %s 1 lockkey %s", REL_SCRIPT, mytoken);
        if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1) atomic_fetch_add(&errors, 1);
        if (r) freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static double run_flavour(void *(*fn)(void *)) {
    occupancy = 0;
    violations = errors = token_violations = 0;
    shared_counter = 0;
    last_token = 0;
    pthread_t *t = calloc((size_t)nthreads, sizeof(pthread_t));
    double start = now_s();
    for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, fn, (void *)i);
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    free(t);
    return now_s() - start;
}

TEST(native_locks) {
    double secs = run_flavour(native_worker);
    long long total = (long long)nthreads * iters;
    printf("LOCK.*: %d clients x %d acquisitions in %.2fs (%.0f handoffs/s)\n", nthreads, iters,
           secs, (double)total / secs);
    CHECK_EQ(errors, 0);
    CHECK_EQ(violations, 0);
    CHECK_EQ(token_violations, 0);
    CHECK_EQ(shared_counter, total);
    redisContext *c = srv_connect(&server_);
    CHECK_CMD(c, "[held,:0,token,(nil),ttl_ms,:-1,waiters,:0]", "LOCK.INFO contended");
    redisFree(c);
}

TEST(set_nx_and_lua_release) {
    double secs = run_flavour(script_worker);
    long long total = (long long)nthreads * iters;
    printf("SET NX PX + Lua: %d clients x %d acquisitions in %.2fs (%.0f handoffs/s)\n", nthreads,
           iters, secs, (double)total / secs);
    CHECK_EQ(errors, 0);
    CHECK_EQ(violations, 0);
    CHECK_EQ(token_violations, 0);
    CHECK_EQ(shared_counter, total);
    redisContext *c = srv_connect(&server_);
    CHECK_CMD(c, "(nil)", "GET lockkey");
    redisFree(c);
}

int main(void) {
    if (getenv("LOCK_THREADS")) nthreads = atoi(getenv("LOCK_THREADS"));
    if (getenv("LOCK_ITERS")) iters = atoi(getenv("LOCK_ITERS"));
    const char *extra[] = {"--maxclients", "1000", NULL};
    if (srv_start(&server_, extra) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(native_locks);
    RUN(set_nx_and_lua_release);
    srv_stop(&server_);
    return test_report();
}
