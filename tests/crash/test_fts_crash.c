/* Crash test for full-text indexes: a child process commits transactions
 * 1, 2, ... that insert, replace, update and delete rows of a table with a
 * full-text index (transaction 2 creates the index over transaction 1's
 * rows), with a small page cache so that big transactions spill to the log,
 * and is killed with SIGKILL at its Nth write or fsync (half of the kills
 * after writing a random part of that write). After each commit returns, the
 * child writes its number to a pipe. After each kill:
 *   - larder-check must pass (it verifies the full-text index against its
 *     table: one row entry per row, postings naming rows, totals);
 *   - the committed count n is the acknowledged one or the next;
 *   - the rows equal a model of transactions 1..n, and for every word of the
 *     vocabulary MATCH finds exactly the rows whose text holds it.
 *
 * FTS_CRASH_KILLS (default 60), FTS_CRASH_SEED.
 */
#include "test.h"
#include "sql/sql.h"
#include "sql/vfs.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NID 200
#define NTXN 80
#define NVOCAB 24

static char dir[] = "/tmp/larder-fts-crash-XXXXXX";
static char path[256], checker[512];
static uint64_t seed;
static const char *vocab[NVOCAB] = {"alpha",  "bravo", "charlie", "delta",  "echo",    "foxtrot",
                                    "golf",   "hotel", "india",   "juliet", "kilo",    "lima",
                                    "mike",   "nov",   "oscar",   "papa",   "quebec",  "romeo",
                                    "sierra", "tango", "uniform", "victor", "whiskey", "xray"};

static uint64_t rs;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The model: each id's text, "" when the row is absent. */
static char model[NID + 1][400];

static void gen_text(char *out, size_t cap) {
    int nw = 1 + (int)(rnd() % 40);
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < nw && n + 20 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? (rnd() % 4 ? " " : ", ") : "",
                              vocab[rnd() % NVOCAB]);
}

/* Transaction t's operations, applied to the model and (db != NULL) to db. */
static int apply_txn(sql_db *db, int t) {
    rs = seed * 1000003u + (uint64_t)t;
    int nops = rnd() % 10 == 0 ? 150 : 1 + (int)(rnd() % 12), rc = SQL_OK;
    sql_stmt *ins = NULL, *del = NULL, *upd = NULL;
    if (db) {
        sql_prepare(db, "INSERT OR REPLACE INTO docs(id, body) VALUES (?, ?)", -1, &ins, NULL);
        sql_prepare(db, "DELETE FROM docs WHERE id = ?", -1, &del, NULL);
        sql_prepare(db, "UPDATE docs SET body = ?2 WHERE id = ?1", -1, &upd, NULL);
    }
    for (int i = 0; i < nops && rc == SQL_OK; i++) {
        int id = 1 + (int)(rnd() % NID), op = (int)(rnd() % 4);
        char text[400];
        gen_text(text, sizeof text);
        sql_stmt *st = op == 0 ? del : op == 1 ? upd : ins;
        if (op == 0)
            model[id][0] = 0;
        else if (op == 2 || op == 3 || model[id][0])
            snprintf(model[id], sizeof model[id], "%s", text);
        if (!db) continue;
        sql_bind_int64(st, 1, id);
        if (op) sql_bind_text(st, 2, text, -1);
        rc = sql_step(st) == SQL_DONE ? SQL_OK : SQL_ERROR;
        sql_reset(st);
    }
    sql_finalize(ins);
    sql_finalize(del);
    sql_finalize(upd);
    return rc;
}

static int run_txn(sql_db *db, int t) {
    char sql[100];
    int rc = sql_exec(db, "BEGIN", NULL, NULL);
    if (rc == SQL_OK && t == 2)
        rc = sql_exec(db, "CREATE FULLTEXT INDEX docs_fts ON docs(body)", NULL, NULL);
    if (rc == SQL_OK) rc = apply_txn(db, t);
    snprintf(sql, sizeof sql, "UPDATE meta SET n = %d", t);
    if (rc == SQL_OK) rc = sql_exec(db, sql, NULL, NULL);
    if (rc == SQL_OK) rc = sql_exec(db, "COMMIT", NULL, NULL);
    return rc;
}

/* Run transactions 1..NTXN, killed at the kill_at-th write or fsync (0: not
 * killed); *acked: the last transaction whose commit returned. */
static long child_run(long kill_at, int torn, long *writes, int *acked) {
    int fd[2];
    if (pipe(fd) != 0) exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        sql_db *db;
        sql_options o = {.flags = SQL_OPEN_CREATE, .cache_size = 64 * 4096};
        sqli_vfs_fault_clear();
        sqli_vfs_fault.seed = (uint64_t)kill_at * 7919u;
        sqli_vfs_fault.kill_torn = torn;
        sqli_vfs_fault.kill_countdown = kill_at;
        if (sql_open(path, &o, &db) != SQL_OK) _exit(3);
        if (sql_exec(db,
                     "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);"
                     "CREATE TABLE meta(n INT); INSERT INTO meta VALUES (0)",
                     NULL, NULL) != SQL_OK)
            _exit(4);
        for (int t = 1; t <= NTXN; t++) {
            if (run_txn(db, t) != SQL_OK) _exit(5);
            if (write(fd[1], &t, sizeof t) != sizeof t) _exit(6);
        }
        long n = sqli_vfs_fault.writes + sqli_vfs_fault.syncs;
        int end = -1;
        if (write(fd[1], &end, sizeof end) != sizeof end || write(fd[1], &n, sizeof n) != sizeof n)
            _exit(6);
        sql_close(db);
        _exit(0);
    }
    close(fd[1]);
    int t;
    *acked = 0;
    while (read(fd[0], &t, sizeof t) == sizeof t && t > 0) *acked = t;
    long n = -1;
    if (t == -1 && read(fd[0], &n, sizeof n) != sizeof n) n = -1;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (writes) *writes = n;
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

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

static int has_word(const char *text, const char *w) {
    size_t n = strlen(w);
    for (const char *p = strstr(text, w); p; p = strstr(p + 1, w))
        if ((p == text || p[-1] == ' ' || p[-1] == ',') &&
            (p[n] == 0 || p[n] == ' ' || p[n] == ','))
            return 1;
    return 0;
}

/* The database after a kill: n committed, rows and MATCH as the model says. */
static int verify(int acked) {
    sql_db *db;
    sql_options o = {0};
    if (sql_open(path, &o, &db) != SQL_OK) return sql_close(db), -1; /* never created */
    sql_stmt *st;
    int n = -1, ok = 1;
    if (sql_prepare(db, "SELECT n FROM meta", -1, &st, NULL) == SQL_OK && sql_step(st) == SQL_ROW)
        n = (int)sql_column_int64(st, 0);
    sql_finalize(st);
    if (n < 0 && acked == 0) return sql_close(db), 0; /* killed while creating the tables */
    if (n != acked && n != acked + 1) {
        fprintf(stderr, "committed %d, acknowledged %d\n", n, acked);
        sql_close(db);
        return 1;
    }
    memset(model, 0, sizeof model);
    for (int t = 1; t <= n; t++) apply_txn(NULL, t);
    int id = 0;
    sql_prepare(db, "SELECT id, body FROM docs ORDER BY id", -1, &st, NULL);
    while (ok && sql_step(st) == SQL_ROW) {
        int rid = (int)sql_column_int64(st, 0);
        while (++id < rid) ok &= model[id][0] == 0;
        ok &= strcmp(model[rid], sql_column_text(st, 1)) == 0;
    }
    while (ok && ++id <= NID) ok &= model[id][0] == 0;
    sql_finalize(st);
    if (!ok) fprintf(stderr, "rows differ from the model after %d transactions\n", n);
    for (int w = 0; ok && n >= 2 && w < NVOCAB; w++) {
        char q[100];
        snprintf(q, sizeof q, "SELECT id FROM docs WHERE docs MATCH '%s' ORDER BY id", vocab[w]);
        id = 0;
        if (sql_prepare(db, q, -1, &st, NULL) != SQL_OK) ok = 0;
        while (ok && sql_step(st) == SQL_ROW) {
            int rid = (int)sql_column_int64(st, 0);
            while (++id < rid) ok &= !has_word(model[id], vocab[w]);
            ok &= has_word(model[rid], vocab[w]);
        }
        while (ok && ++id <= NID) ok &= !has_word(model[id], vocab[w]);
        sql_finalize(st);
        if (!ok)
            fprintf(stderr, "MATCH '%s' differs from the model after %d transactions\n", vocab[w],
                    n);
    }
    sql_close(db);
    return ok ? 0 : 1;
}

TEST(fts_sigkill) {
    long writes = 0;
    int acked;
    unlink(path);
    CHECK_EQ(child_run(0, 0, &writes, &acked), 0);
    CHECK_EQ(acked, NTXN);
    CHECK(writes > 20);
    CHECK_EQ(run_checker(), 0);
    CHECK_EQ(verify(acked), 0);
    int kills = getenv("FTS_CRASH_KILLS") ? atoi(getenv("FTS_CRASH_KILLS")) : 60;
    int bad = 0, with_index = 0;
    for (int k = 0; k < kills && bad < 3; k++) {
        long at = 1 + (long)k * writes / kills + (long)(rnd() % (uint64_t)(writes / kills + 1));
        char wal[300];
        snprintf(wal, sizeof wal, "%s-wal", path);
        unlink(path);
        unlink(wal);
        long rc = child_run(at, k & 1, NULL, &acked);
        if (rc != -SIGKILL && rc != 0) {
            fprintf(stderr, "kill at %ld: child ended with %ld\n", at, rc);
            bad++;
            continue;
        }
        if (access(path, F_OK) == 0 && run_checker() != 0) {
            fprintf(stderr, "kill at %ld (of %ld): larder-check fails\n", at, writes);
            bad++;
            continue;
        }
        int v = access(path, F_OK) == 0 ? verify(acked) : 0;
        if (v > 0) {
            fprintf(stderr, "kill at %ld (of %ld): the database differs from the model\n", at,
                    writes);
            bad++;
        }
        with_index += acked >= 2;
    }
    CHECK_EQ(bad, 0);
    CHECK(with_index > kills / 2);
    printf("fts crash: %d kills over %ld writes and fsyncs, %d after the index existed\n", kills,
           writes, with_index);
}

int main(void) {
    if (!mkdtemp(dir)) return 2;
    seed = test_seed("FTS_CRASH_SEED", 7);
    snprintf(path, sizeof path, "%s/db", dir);
    const char *b = getenv("LARDER_BUILD");
    snprintf(checker, sizeof checker, "%s/larder-check", b ? b : "build");
    RUN(fts_sigkill);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 2;
    return test_report();
}
