/* Crash test for the store: a child process runs random transactions and is
 * killed with SIGKILL at random points; after each kill, larder-check must pass
 * and the database must hold every acknowledged commit and nothing of any
 * other transaction.
 *
 * The child commits transactions 1, 2, 3, ... Transaction i's content is a pure
 * function of (seed, i): puts and deletes of rows in a table tree, with an
 * index tree kept consistent with it, nested savepoints rolled back or
 * released, now and then a big transaction that spills to the log, values
 * from a few bytes to overflow size. Between commits it also runs transactions
 * it aborts. After each commit returns, the child writes i to a pipe.
 * Counter "n" in the catalog (and meta slot 0) is the last committed i.
 *
 * Kill points alternate between
 *   - the Nth write or fsync of the child (vfs fault hook; half of them after
 *     writing a random part of that write: a torn write), which hits
 *     commits, spills, checkpoints and the recovery at open alike;
 *   - a timer in the parent.
 * After each kill: larder-check FILE must exit 0; then the parent opens the
 * file read-only and checks n in {acknowledged, acknowledged + 1} and that
 * the table and index equal the model after n transactions.
 *
 * STORE_CRASH_KILLS (default 300; `make crash` runs 2000), STORE_CRASH_SEED.
 */
#include "test.h"
#include "sql/keyenc.h"
#include "sql/store.h"
#include "sql/vfs.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NID 3000

static char dir[] = "/tmp/larder-crash-XXXXXX";
static char path[256], walpath[270], checker[512];
static uint64_t seed;

typedef struct row {
    uint32_t txn; /* 0 = absent; else the transaction that wrote it */
} row;

/* ---- deterministic transaction content -------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t val_len(uint32_t id, uint32_t txn) {
    uint32_t h = (id * 2654435761u) ^ (txn * 40503u);
    if (h % 50 == 0) return 3000 + h % 30000; /* overflow */
    return 1 + h % 200;
}

static void make_val(uint8_t *v, uint32_t id, uint32_t txn) {
    uint32_t n = val_len(id, txn);
    v[0] = (uint8_t)(txn % 251);
    for (uint32_t i = 1; i < n; i++) v[i] = (uint8_t)(id + txn * 7 + i);
}

/* One operation of a transaction; kind: 0 put, 1 delete, 2 savepoint,
 * 3 rollback to the innermost, 4 release the innermost. */
typedef struct op {
    int kind;
    uint32_t id;
} op;

static int txn_ops(uint32_t i, int junk, op *ops, int max) {
    rng r = {seed ^ ((uint64_t)i * 0xD1B54A32D192ED03ull) ^ (junk ? 0x5555 : 0)};
    int n = (int)(1 + next(&r) % 40);
    if (next(&r) % 15 == 0) n = 300 + (int)(next(&r) % 900); /* big: spills */
    if (n > max) n = max;
    int depth = 0;
    for (int k = 0; k < n; k++) {
        uint64_t x = next(&r) % 100;
        ops[k].id = (uint32_t)(next(&r) % NID);
        if (x < 3 && depth < 3) {
            ops[k].kind = 2;
            depth++;
        } else if (x < 6 && depth > 0) {
            ops[k].kind = next(&r) % 2 ? 3 : 4;
            if (ops[k].kind == 4) depth--;
        } else {
            ops[k].kind = x < 75 ? 0 : 1;
        }
    }
    return n;
}

/* Apply transaction i to the model (with savepoint copies). */
static void model_apply(row *m, uint32_t i) {
    static op ops[1200];
    static row sp[3][NID];
    int n = txn_ops(i, 0, ops, 1200), depth = 0;
    for (int k = 0; k < n; k++) {
        switch (ops[k].kind) {
        case 0:
            m[ops[k].id].txn = i;
            break;
        case 1:
            m[ops[k].id].txn = 0;
            break;
        case 2:
            memcpy(sp[depth++], m, sizeof sp[0]);
            break;
        case 3:
            memcpy(m, sp[depth - 1], sizeof sp[0]);
            break;
        case 4:
            depth--;
            break;
        }
    }
}

/* ---- the child ------------------------------------------------------------------- */

static void ikey(keyenc_buf *b, uint32_t id) {
    sqli_keyenc_reset(b);
    sqli_keyenc_int(b, id, 0);
}

static void ixkey(keyenc_buf *b, uint8_t tag, uint32_t id) {
    sqli_keyenc_reset(b);
    sqli_keyenc_int(b, tag, 0);
    sqli_keyenc_int(b, id, 0);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != STORE_OK) {                                                                     \
            fprintf(stderr, "child: %s: %s (%s)\n", #x, sqli_store_strerror(rc_),                  \
                    sqli_store_errmsg());                                                          \
            _exit(10);                                                                             \
        }                                                                                          \
    } while (0)

/* Put or delete row id, keeping the index consistent. */
static void child_op(store_txn *t, store_tree tab, store_tree ix, uint32_t id, uint32_t txn,
                     int del, uint8_t *vbuf) {
    keyenc_buf k;
    sqli_keyenc_init(&k);
    const void *old;
    size_t ol;
    ikey(&k, id);
    int rc = sqli_store_get(t, tab, k.p, k.len, &old, &ol);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) TRY(rc);
    if (rc == STORE_OK) {
        ixkey(&k, ((const uint8_t *)old)[0], id);
        TRY(sqli_store_del(t, ix, k.p, k.len));
        ikey(&k, id);
        if (del) TRY(sqli_store_del(t, tab, k.p, k.len));
    }
    if (!del) {
        make_val(vbuf, id, txn);
        ikey(&k, id);
        TRY(sqli_store_put(t, tab, k.p, k.len, vbuf, val_len(id, txn), 0));
        ixkey(&k, vbuf[0], id);
        TRY(sqli_store_put(t, ix, k.p, k.len, NULL, 0, 0));
    }
    sqli_keyenc_free(&k);
}

static void child_run_txn(store_db *db, store_tree tab, store_tree ix, uint32_t i, int junk,
                          uint8_t *vbuf) {
    static op ops[1200];
    store_txn *t;
    int levels[3], depth = 0;
    TRY(sqli_store_begin(db, STORE_TXN_WRITE, &t));
    int n = txn_ops(i, junk, ops, 1200);
    for (int k = 0; k < n; k++) {
        switch (ops[k].kind) {
        case 0:
        case 1:
            child_op(t, tab, ix, ops[k].id, i, ops[k].kind, vbuf);
            break;
        case 2:
            TRY(sqli_store_savepoint(t, &levels[depth++]));
            break;
        case 3:
            TRY(sqli_store_rollback_to(t, levels[depth - 1]));
            break;
        case 4:
            TRY(sqli_store_release(t, levels[--depth]));
            break;
        }
    }
    if (junk) {
        sqli_store_abort(t);
        return;
    }
    TRY(sqli_store_put(t, STORE_CATALOG, "n", 1, &i, sizeof i, 0));
    TRY(sqli_store_meta_set(t, 0, i));
    TRY(sqli_store_commit(t));
}

static void child(int fd, int kill_at, int torn, int nosync) {
    store_options o = {STORE_CREATE | (nosync ? STORE_NOSYNC : 0), 0, 192 << 10, 40};
    store_db *db;
    sqli_vfs_fault.seed = seed ^ (uint64_t)getpid();
    sqli_vfs_fault.kill_torn = torn;
    sqli_vfs_fault.kill_countdown = kill_at;
    TRY(sqli_store_open(path, &o, &db));
    store_txn *t;
    store_tree tab, ix;
    const void *v;
    size_t vl;
    uint32_t n = 0;
    TRY(sqli_store_begin(db, STORE_TXN_WRITE, &t));
    if (sqli_store_get(t, STORE_CATALOG, "T", 1, &v, &vl) == STORE_OK) {
        memcpy(&tab, v, sizeof tab);
        TRY(sqli_store_get(t, STORE_CATALOG, "I", 1, &v, &vl));
        memcpy(&ix, v, sizeof ix);
        TRY(sqli_store_get(t, STORE_CATALOG, "n", 1, &v, &vl));
        memcpy(&n, v, sizeof n);
        sqli_store_abort(t);
    } else {
        store_tree_info ti = {STORE_TREE_TABLE, 0, 0, 0};
        TRY(sqli_store_tree_create(t, &ti, &tab));
        store_tree_info ii = {STORE_TREE_INDEX, tab, 1, 0};
        TRY(sqli_store_tree_create(t, &ii, &ix));
        TRY(sqli_store_put(t, STORE_CATALOG, "T", 1, &tab, sizeof tab, 0));
        TRY(sqli_store_put(t, STORE_CATALOG, "I", 1, &ix, sizeof ix, 0));
        TRY(sqli_store_put(t, STORE_CATALOG, "n", 1, &n, sizeof n, 0));
        TRY(sqli_store_commit(t));
    }
    static uint8_t vbuf[40000];
    for (uint32_t i = n + 1;; i++) {
        if ((i * 7 + n) % 10 == 3) child_run_txn(db, tab, ix, i, 1, vbuf);
        child_run_txn(db, tab, ix, i, 0, vbuf);
        if (write(fd, &i, sizeof i) != sizeof i) _exit(11);
    }
}

/* ---- the parent ---------------------------------------------------------------- */

static int run_checker(void) {
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(checker, checker, "-q", path, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

/* The last committed transaction recorded in the file. */
static uint32_t read_n(void) {
    store_options o = {STORE_RDONLY, 0, 0, 0};
    store_db *db;
    store_txn *t;
    const void *v;
    size_t vl;
    uint32_t n = 0;
    if (sqli_store_open(path, &o, &db) != STORE_OK) return 0;
    sqli_store_begin(db, STORE_TXN_READ, &t);
    if (sqli_store_get(t, STORE_CATALOG, "n", 1, &v, &vl) == STORE_OK) memcpy(&n, v, sizeof n);
    sqli_store_abort(t);
    sqli_store_close(db);
    return n;
}

/* Compare the file with the model after n transactions; returns problems. */
static int verify(const row *m, uint32_t *n_out) {
    store_options o = {STORE_RDONLY, 0, 0, 0};
    store_db *db;
    store_txn *t;
    int bad = 0;
    if (sqli_store_open(path, &o, &db) != STORE_OK) {
        fprintf(stderr, "verify: open: %s\n", sqli_store_errmsg());
        return 1;
    }
    sqli_store_begin(db, STORE_TXN_READ, &t);
    const void *v;
    size_t vl;
    store_tree tab = 0, ix = 0;
    uint32_t n = 0;
    if (sqli_store_get(t, STORE_CATALOG, "T", 1, &v, &vl) == STORE_OK) {
        memcpy(&tab, v, sizeof tab);
        sqli_store_get(t, STORE_CATALOG, "I", 1, &v, &vl);
        memcpy(&ix, v, sizeof ix);
        sqli_store_get(t, STORE_CATALOG, "n", 1, &v, &vl);
        memcpy(&n, v, sizeof n);
        uint64_t meta;
        sqli_store_meta_get(t, 0, &meta);
        if (meta != n) bad++;
    }
    *n_out = n;
    if (tab) {
        store_cursor *c;
        sqli_store_cursor_open(t, tab, &c);
        int rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0);
        static uint8_t want[40000];
        for (uint32_t id = 0; id < NID && !bad; id++) {
            if (!m[id].txn) continue;
            const void *k;
            size_t kl, pos = 0;
            keyenc_value kv;
            if (rc != STORE_OK || sqli_store_cursor_key(c, &k, &kl) != STORE_OK ||
                sqli_keyenc_decode(k, kl, &pos, 0, &kv) < 0 || kv.i != id) {
                fprintf(stderr, "verify: row %u missing (n=%u)\n", id, n);
                bad++;
                break;
            }
            make_val(want, id, m[id].txn);
            if (sqli_store_cursor_value(c, &v, &vl) != STORE_OK || vl != val_len(id, m[id].txn) ||
                memcmp(v, want, vl) != 0) {
                fprintf(stderr, "verify: row %u has the wrong value (n=%u)\n", id, n);
                bad++;
            }
            rc = sqli_store_cursor_next(c);
        }
        if (!bad && rc != STORE_NOTFOUND) {
            fprintf(stderr, "verify: extra rows (n=%u)\n", n);
            bad++;
        }
    }
    sqli_store_abort(t);
    sqli_store_close(db);
    return bad;
}

TEST(sigkill_recovery) {
    long kills = 300;
    if (getenv("STORE_CRASH_KILLS")) kills = atol(getenv("STORE_CRASH_KILLS"));
#if defined(__SANITIZE_ADDRESS__)
    if (!getenv("STORE_CRASH_KILLS")) kills = 60;
#endif
    row *m = calloc(NID, sizeof *m), *next_m = calloc(NID, sizeof *m);
    uint32_t verified = 0;
    rng r = {seed};
    long hook_kills = 0, timer_kills = 0, failures = 0, in_flight_kept = 0;
    for (long k = 0; k < kills && failures == 0; k++) {
        int fds[2];
        if (pipe(fds) != 0) break;
        int by_hook = k % 2 == 0;
        int kill_at = by_hook ? 1 + (int)(next(&r) % 1500) : 0;
        if (k < 6 && by_hook) kill_at = 1 + (int)(k / 2); /* while creating the file */
        int torn = (int)(next(&r) % 2);
        int nosync = next(&r) % 4 != 0;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(fds[1], kill_at, torn, nosync);
            _exit(0);
        }
        close(fds[1]);
        if (!by_hook) {
            struct timespec ts = {0, (long)(1 + next(&r) % 80) * 1000000L};
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
        }
        uint32_t acked = verified, x;
        for (;;) {
            ssize_t got = read(fds[0], &x, sizeof x);
            if (got == sizeof x)
                acked = x;
            else if (got < 0 && errno == EINTR)
                continue;
            else
                break;
            if (by_hook && x > verified + 3000) kill(pid, SIGKILL); /* safety net */
        }
        close(fds[0]);
        int st;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st)) {
            fprintf(stderr, "child exited with %d instead of being killed\n", WEXITSTATUS(st));
            failures++;
            break;
        }
        if (by_hook)
            hook_kills++;
        else
            timer_kills++;
        if (access(path, F_OK) != 0) { /* killed before the file was created */
            if (acked != 0) failures++;
            continue;
        }
        int crc = run_checker();
        if (crc != 0) {
            fprintf(stderr, "kill %ld: larder-check exit %d on %s\n", k, crc, path);
            failures++;
            break;
        }
        /* The model at acked, then maybe one more. */
        for (uint32_t i = verified + 1; i <= acked; i++) model_apply(m, i);
        memcpy(next_m, m, sizeof *m * NID);
        model_apply(next_m, acked + 1);
        uint32_t n = read_n();
        int bad = 0;
        if (n == acked + 1) {
            memcpy(m, next_m, sizeof *m * NID);
            in_flight_kept++;
        } else if (n != acked) {
            fprintf(stderr, "kill %ld: database says n=%u, acknowledged %u\n", k, n, acked);
            bad++;
        }
        if (!bad) bad = verify(m, &n);
        if (bad) {
            fprintf(stderr, "kill %ld: contents differ from the model (n=%u)\n", k, n);
            failures++;
        }
        verified = n;
    }
    printf("crash: %ld SIGKILLs (%ld at I/O points, %ld by timer), %u transactions committed, "
           "%ld in-flight commits found durable\n",
           hook_kills + timer_kills, hook_kills, timer_kills, verified, in_flight_kept);
    CHECK_EQ(failures, 0);
    CHECK_EQ(hook_kills + timer_kills, kills);
    CHECK(verified > 100);
    free(m);
    free(next_m);
}

int main(void) {
    const char *s = getenv("STORE_CRASH_SEED");
    seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    printf("crash seed %llu (STORE_CRASH_SEED)\n", (unsigned long long)seed);
    fflush(stdout);
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/c.db", dir);
    snprintf(walpath, sizeof walpath, "%s-wal", path);
    const char *b = getenv("LARDER_BUILD");
    snprintf(checker, sizeof checker, "%s/larder-check", b ? b : "build");
    if (access(checker, X_OK) != 0) {
        fprintf(stderr, "no larder-check at %s (set LARDER_BUILD)\n", checker);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(sigkill_recovery);
    if (test_failed_ == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    } else {
        fprintf(stderr, "files kept in %s\n", dir);
    }
    return test_report();
}
