/* Unit tests for the store's transactions (sql/pager.c):
 *   - snapshot isolation, also across checkpoints and log restarts;
 *   - reader threads against a writer thread: every snapshot is consistent;
 *   - group commit: concurrent committers share fsyncs;
 *   - savepoints (nested release / rollback, trees created inside them);
 *   - one writer at a time (STORE_TXN_NOWAIT), read-only misuse;
 *   - a torn main-file header (a crash inside a checkpoint) is read from the
 *     log; without the log it is reported corrupt.
 */
#include "test.h"
#include "sql/store.h"
#include "util/mem.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SCALE 4
#else
#define SCALE 1
#endif

static char dir[] = "/tmp/larder-pager-XXXXXX";
static char path[256];

static store_db *fresh(unsigned flags, size_t cache, uint32_t ckpt) {
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
    store_options o = {STORE_CREATE | flags, 0, cache, ckpt};
    store_db *db = NULL;
    if (sqli_store_open(path, &o, &db)) fprintf(stderr, "open: %s\n", sqli_store_errmsg());
    return db;
}

static void problem(void *arg, const char *msg) {
    (void)arg;
    fprintf(stderr, "  check: %s\n", msg);
}

static long check_problems(store_db *db) {
    store_txn *t;
    store_check_report r;
    if (sqli_store_begin(db, STORE_TXN_READ, &t) != STORE_OK) return -1;
    int rc = sqli_store_check(t, &r, problem, NULL);
    sqli_store_abort(t);
    return rc == STORE_OK ? (long)r.problems : -1;
}

static int get_int(store_txn *t, store_tree tree, const char *k, long *v) {
    const void *p;
    size_t n;
    int rc = sqli_store_get(t, tree, k, strlen(k), &p, &n);
    if (rc == STORE_OK) {
        if (n < sizeof *v) return -1;
        memcpy(v, p, sizeof *v);
    }
    return rc;
}

/* Set keys k000..k<n> to value v, with a 300-byte padding so pages change. */
static int set_all(store_txn *t, store_tree tree, int n, long v) {
    uint8_t buf[300];
    memset(buf, (int)v, sizeof buf);
    memcpy(buf, &v, sizeof v);
    char k[16];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        int rc = sqli_store_put(t, tree, k, strlen(k), buf, sizeof buf, 0);
        if (rc) return rc;
    }
    return STORE_OK;
}

/* All of k000..k<n> hold the same value (returned), or -1. */
static long same_all(store_txn *t, store_tree tree, int n) {
    long first = -2;
    char k[16];
    for (int i = 0; i < n; i++) {
        long v;
        snprintf(k, sizeof k, "k%03d", i);
        if (get_int(t, tree, k, &v) != STORE_OK) return -1;
        if (first == -2)
            first = v;
        else if (v != first)
            return -1;
    }
    return first;
}

TEST(snapshot_isolation) {
    store_db *db = fresh(STORE_NOSYNC, 256 << 10, 30);
    store_txn *w, *r1, *r2;
    store_tree tree;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &w), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(w, NULL, &tree), STORE_OK);
    CHECK_EQ(set_all(w, tree, 200, 1), STORE_OK);
    CHECK_EQ(sqli_store_commit(w), STORE_OK);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &r1), STORE_OK);
    /* Many commits, with checkpoints (every 30 frames) behind the reader. */
    for (long v = 2; v <= 40; v++) {
        CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &w), STORE_OK);
        CHECK_EQ(set_all(w, tree, 200, v), STORE_OK);
        /* The writer sees its own change, the reader does not. */
        CHECK_EQ(same_all(w, tree, 200), v);
        CHECK_EQ(same_all(r1, tree, 200), 1);
        CHECK_EQ(sqli_store_commit(w), STORE_OK);
        if (v == 20) CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &r2), STORE_OK);
    }
    CHECK_EQ(same_all(r1, tree, 200), 1);
    CHECK_EQ(same_all(r2, tree, 200), 20);
    store_stats st;
    sqli_store_get_stats(db, &st);
    CHECK(st.wal_frames > 0); /* the reader holds the log */
    sqli_store_abort(r1);
    sqli_store_abort(r2);
    CHECK_EQ(sqli_store_checkpoint(db), STORE_OK);
    sqli_store_get_stats(db, &st);
    CHECK_EQ(st.wal_frames, 0); /* restarted once no reader needed it */
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &r1), STORE_OK);
    CHECK_EQ(same_all(r1, tree, 200), 40);
    sqli_store_abort(r1);
    CHECK_EQ(check_problems(db), 0);
    sqli_store_close(db);
}

typedef struct shared {
    store_db *db;
    store_tree tree;
    volatile int stop;
    long rounds;
    int bad;
    long snapshots;
} shared;

static void *reader_thread(void *arg) {
    shared *s = arg;
    long last = 0;
    while (!s->stop) {
        store_txn *t;
        if (sqli_store_begin(s->db, STORE_TXN_READ, &t) != STORE_OK) {
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
            break;
        }
        long v = same_all(t, s->tree, 60);
        /* Scan: exactly v rows "row..." exist in snapshot v. */
        store_cursor *c;
        long rows = 0;
        if (sqli_store_cursor_open(t, s->tree, &c) == STORE_OK) {
            for (int rc = sqli_store_cursor_seek(c, STORE_SEEK_PREFIX, "row", 3); rc == STORE_OK;
                 rc = sqli_store_cursor_next(c))
                rows++;
        }
        sqli_store_abort(t);
        if (v < last || v < 0 || rows != v) {
            fprintf(stderr, "reader: value %ld after %ld, %ld rows\n", v, last, rows);
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
            break;
        }
        last = v;
        __atomic_add_fetch(&s->snapshots, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

TEST(readers_against_writer_threads) {
    shared s;
    memset(&s, 0, sizeof s);
    s.db = fresh(STORE_NOSYNC, 512 << 10, 100);
    store_txn *w;
    CHECK_EQ(sqli_store_begin(s.db, STORE_TXN_WRITE, &w), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(w, NULL, &s.tree), STORE_OK);
    CHECK_EQ(set_all(w, s.tree, 60, 0), STORE_OK);
    CHECK_EQ(sqli_store_commit(w), STORE_OK);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, reader_thread, &s);
    char k[200];
    memset(k, 'r', sizeof k);
    for (long v = 1; v <= 1500 / SCALE && !s.bad; v++) {
        CHECK_EQ(sqli_store_begin(s.db, STORE_TXN_WRITE, &w), STORE_OK);
        CHECK_EQ(set_all(w, s.tree, 60, v), STORE_OK);
        snprintf(k, sizeof k, "row%06ld", v);
        CHECK_EQ(sqli_store_put(w, s.tree, k, strlen(k), k, sizeof k, 0), STORE_OK);
        if (v % 7 == 0) { /* a rolled-back transaction in between */
            sqli_store_abort(w);
            CHECK_EQ(sqli_store_begin(s.db, STORE_TXN_WRITE, &w), STORE_OK);
            CHECK_EQ(set_all(w, s.tree, 60, v), STORE_OK);
            CHECK_EQ(sqli_store_put(w, s.tree, k, strlen(k), k, sizeof k, 0), STORE_OK);
        }
        CHECK_EQ(sqli_store_commit(w), STORE_OK);
    }
    s.stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK_EQ(s.bad, 0);
    CHECK(s.snapshots > 10);
    printf("readers_against_writer_threads: %ld consistent snapshots\n", s.snapshots);
    CHECK_EQ(check_problems(s.db), 0);
    sqli_store_close(s.db);
}

typedef struct committer {
    store_db *db;
    store_tree tree;
    int id, n, fails;
} committer;

static void *commit_thread(void *arg) {
    committer *c = arg;
    char k[32];
    for (int i = 0; i < c->n; i++) {
        store_txn *t;
        snprintf(k, sizeof k, "c%d-%05d", c->id, i);
        if (sqli_store_begin(c->db, STORE_TXN_WRITE, &t) != STORE_OK ||
            sqli_store_put(t, c->tree, k, strlen(k), k, sizeof k, 0) != STORE_OK ||
            sqli_store_commit(t) != STORE_OK)
            c->fails++;
    }
    return NULL;
}

TEST(group_commit_shares_fsyncs) {
    store_db *db = fresh(0, 0, 0); /* real fsyncs */
    store_txn *t;
    store_tree tree;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    store_stats s0, s1;
    sqli_store_get_stats(db, &s0);
    committer c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (committer){db, tree, i, 150 / SCALE, 0};
        pthread_create(&th[i], NULL, commit_thread, &c[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    sqli_store_get_stats(db, &s1);
    uint64_t commits = s1.commits - s0.commits, syncs = s1.syncs - s0.syncs;
    printf("group commit: %llu commits, %llu log fsyncs\n", (unsigned long long)commits,
           (unsigned long long)syncs);
    CHECK_EQ(commits, 4 * (150 / SCALE));
    CHECK(syncs < commits);
    for (int i = 0; i < 4; i++) CHECK_EQ(c[i].fails, 0);
    /* Every commit is there. */
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &t), STORE_OK);
    store_cursor *cur;
    CHECK_EQ(sqli_store_cursor_open(t, tree, &cur), STORE_OK);
    int n = 0;
    for (int rc = sqli_store_cursor_seek(cur, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(cur))
        n++;
    CHECK_EQ(n, 4 * (150 / SCALE));
    sqli_store_abort(t);
    sqli_store_close(db);
}

static int has(store_txn *t, store_tree tree, const char *k) {
    const void *v;
    size_t n;
    return sqli_store_get(t, tree, k, strlen(k), &v, &n) == STORE_OK;
}

TEST(savepoints) {
    store_db *db = fresh(STORE_NOSYNC, 128 << 10, 0);
    store_txn *t;
    store_tree tree, t2;
    int s1, s2, s3;
    char big[3000];
    memset(big, 'b', sizeof big);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &t), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(t, NULL, &tree), STORE_OK);
    CHECK_EQ(sqli_store_put(t, tree, "base", 4, "0", 1, 0), STORE_OK);
    CHECK_EQ(sqli_store_savepoint(t, &s1), STORE_OK);
    CHECK_EQ(s1, 1);
    CHECK_EQ(sqli_store_put(t, tree, "a", 1, "1", 1, 0), STORE_OK);
    CHECK_EQ(sqli_store_savepoint(t, &s2), STORE_OK);
    CHECK_EQ(sqli_store_put(t, tree, "b", 1, "2", 1, 0), STORE_OK);
    CHECK_EQ(sqli_store_del(t, tree, "base", 4), STORE_OK);
    CHECK_EQ(sqli_store_rollback_to(t, s2), STORE_OK);
    CHECK(has(t, tree, "a") && !has(t, tree, "b") && has(t, tree, "base"));
    /* s2 stays open after a rollback to it. */
    CHECK_EQ(sqli_store_put(t, tree, "c", 1, "3", 1, 0), STORE_OK);
    CHECK_EQ(sqli_store_savepoint(t, &s3), STORE_OK);
    CHECK_EQ(s3, 3);
    /* Lots of changes inside s3 (splits, overflow, a new tree), spilling. */
    CHECK_EQ(sqli_store_tree_create(t, NULL, &t2), STORE_OK);
    char k[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "x%05d", i);
        CHECK_EQ(sqli_store_put(t, tree, k, strlen(k), big, 100 + (size_t)i % 2900, 0), STORE_OK);
        CHECK_EQ(sqli_store_put(t, t2, k, strlen(k), big, 50, 0), STORE_OK);
    }
    CHECK_EQ(sqli_store_release(t, s3), STORE_OK); /* merged into s2 */
    CHECK_EQ(sqli_store_rollback_to(t, s2), STORE_OK);
    CHECK(!has(t, tree, "x00010") && !has(t, tree, "c") && has(t, tree, "a"));
    store_tree_info ti;
    CHECK_EQ(sqli_store_tree_get_info(t, t2, &ti), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_rollback_to(t, 3), STORE_MISUSE);
    CHECK_EQ(sqli_store_release(t, s1), STORE_OK);
    CHECK_EQ(sqli_store_rollback_to(t, s1), STORE_MISUSE);
    CHECK_EQ(sqli_store_commit(t), STORE_OK);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &t), STORE_OK);
    CHECK(has(t, tree, "a") && has(t, tree, "base") && !has(t, tree, "b"));
    CHECK_EQ(sqli_store_savepoint(t, &s1), STORE_MISUSE);
    sqli_store_abort(t);
    CHECK_EQ(check_problems(db), 0);
    sqli_store_close(db);
}

static void *try_writer(void *arg) {
    store_db *db = arg;
    store_txn *t;
    int rc = sqli_store_begin(db, STORE_TXN_WRITE | STORE_TXN_NOWAIT, &t);
    if (rc == STORE_OK) sqli_store_abort(t);
    return (void *)(intptr_t)rc;
}

TEST(one_writer_and_misuse) {
    store_db *db = fresh(STORE_NOSYNC, 0, 0);
    store_txn *w, *r;
    store_tree tree;
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_WRITE, &w), STORE_OK);
    CHECK_EQ(sqli_store_tree_create(w, NULL, &tree), STORE_OK);
    pthread_t th;
    void *res;
    pthread_create(&th, NULL, try_writer, db);
    pthread_join(th, &res);
    CHECK_EQ((int)(intptr_t)res, STORE_BUSY);
    CHECK_EQ(sqli_store_commit(w), STORE_OK);
    pthread_create(&th, NULL, try_writer, db);
    pthread_join(th, &res);
    CHECK_EQ((int)(intptr_t)res, STORE_OK);
    CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &r), STORE_OK);
    CHECK_EQ(sqli_store_put(r, tree, "k", 1, "v", 1, 0), STORE_READONLY);
    CHECK_EQ(sqli_store_del(r, tree, "k", 1), STORE_READONLY);
    CHECK_EQ(sqli_store_meta_set(r, 0, 1), STORE_READONLY);
    store_cursor *c;
    CHECK_EQ(sqli_store_cursor_open(r, 999999, &c), STORE_NOTFOUND);
    CHECK_EQ(sqli_store_begin(db, 0x80, &w), STORE_MISUSE);
    sqli_store_abort(r);
    CHECK(strcmp(sqli_store_strerror(STORE_CORRUPT), "STORE_CORRUPT: database file is corrupt") ==
          0);
    sqli_store_close(db);
}

/* Overwrites byte off of the main file with x (a torn write of page 1). */
static int poke(const char *file, long off, uint8_t x) {
    int fd = open(file, O_WRONLY);
    if (fd < 0) return -1;
    int ok = pwrite(fd, &x, 1, off) == 1;
    close(fd);
    return ok ? 0 : -1;
}

TEST(torn_header_read_from_log) {
    /* A child writes (page 1 changes: a new tree, more pages) and dies
     * without closing: everything is still in the log. */
    store_db *db = fresh(0, 256 << 10, 100000);
    sqli_store_close(db);
    pid_t pid = fork();
    if (pid == 0) {
        store_options o = {0, 0, 256 << 10, 100000};
        store_txn *t;
        store_tree tree;
        if (sqli_store_open(path, &o, &db) || sqli_store_begin(db, STORE_TXN_WRITE, &t) ||
            sqli_store_tree_create(t, NULL, &tree) || set_all(t, tree, 200, 7) ||
            sqli_store_meta_set(t, 0, (uint64_t)tree) || sqli_store_commit(t))
            _exit(1);
        _exit(2); /* no close, no checkpoint */
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    /* the crash tore the header of the main file: its checksum fails */
    CHECK_EQ(poke(path, 20, 0xEE), 0);
    store_options ro = {STORE_RDONLY, 0, 0, 0};
    CHECK_EQ(sqli_store_open(path, &ro, &db), STORE_OK);
    if (db) {
        CHECK_EQ(check_problems(db), 0);
        sqli_store_close(db);
    }
    /* a writable open checkpoints: the header is whole again, log or not */
    store_options rw = {0, 0, 0, 0};
    CHECK_EQ(sqli_store_open(path, &rw, &db), STORE_OK);
    if (db) sqli_store_close(db);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    CHECK_EQ(sqli_store_open(path, &ro, &db), STORE_OK);
    if (db) {
        store_txn *t;
        uint64_t tree = 0;
        CHECK_EQ(sqli_store_begin(db, STORE_TXN_READ, &t), STORE_OK);
        CHECK_EQ(sqli_store_meta_get(t, 0, &tree), STORE_OK);
        CHECK_EQ(same_all(t, (store_tree)tree, 200), 7);
        sqli_store_abort(t);
        sqli_store_close(db);
    }
    /* a torn header with no log to read it from stays an error */
    CHECK_EQ(poke(path, 20, 0xEE), 0);
    CHECK_EQ(sqli_store_open(path, &ro, &db), STORE_CORRUPT);
    CHECK(strstr(sqli_store_errmsg(), "the file header fails its checksum") != NULL);
    if (db) sqli_store_close(db);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/p.db", dir);
    RUN(snapshot_isolation);
    RUN(readers_against_writer_threads);
    RUN(group_commit_shares_fsyncs);
    RUN(savepoints);
    RUN(one_writer_and_misuse);
    RUN(torn_header_read_from_log);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_report();
}
