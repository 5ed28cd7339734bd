/* Crash test for VACUUM: a child process runs VACUUM on a database whose
 * rows were mostly deleted and is killed with SIGKILL at its Nth write or
 * fsync (half of the kills after writing a random part of that write), for N
 * spread over every write VACUUM makes (the compact copy in memory makes no
 * file writes; the commit of the new image, the checkpoint that copies it
 * back and shrinks the file do). After each kill, larder-check must pass on
 * the file and the database must hold exactly the rows it held before, with
 * its indexes usable; once VACUUM's commit is durable the file shrinks at
 * the latest by the next open's checkpoint.
 *
 * VACUUM_CRASH_KILLS (default 40).
 */
#include "test.h"
#include "sql/sql.h"
#include "sql/vfs.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/larder-vacuum-crash-XXXXXX";
static char path[256], master[256], checker[512];

static const char *one(sql_db *db, const char *q) {
    static char buf[256];
    sql_stmt *st;
    buf[0] = 0;
    if (sql_prepare(db, q, -1, &st, NULL) != SQL_OK || !st) return "ERROR";
    if (sql_step(st) == SQL_ROW)
        snprintf(buf, sizeof buf, "%s", sql_column_text(st, 0) ? sql_column_text(st, 0) : "NULL");
    sql_finalize(st);
    return buf;
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static void copy_file(const char *from, const char *to) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp %s %s && rm -f %s-wal", from, to, to);
    if (system(cmd) != 0) exit(2);
}

/* The database VACUUM works on: 6,000 rows of which 300 are kept. */
static void make_master(void) {
    sql_db *db;
    sql_options o = {.flags = SQL_OPEN_CREATE};
    if (sql_open(master, &o, &db) != SQL_OK) exit(2);
    int rc = sql_exec(db,
                      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w INT UNIQUE);"
                      "CREATE INDEX tv ON t(v);"
                      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                      "WHERE x < 6000) INSERT INTO t SELECT x, printf('%0300d', x), x FROM n;"
                      "DELETE FROM t WHERE id % 20 <> 0;",
                      NULL, NULL);
    if (rc != SQL_OK || sql_close(db) != SQL_OK) exit(2);
}

/* Run VACUUM, killed at the kill_at-th write or fsync (0: not killed). */
static long child_vacuum(long kill_at, int torn, long *writes) {
    int fd[2];
    if (pipe(fd) != 0) exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        sql_db *db;
        sql_options o = {0};
        if (sql_open(path, &o, &db) != SQL_OK) _exit(3);
        sqli_vfs_fault_clear();
        sqli_vfs_fault.seed = (uint64_t)kill_at * 7919u;
        sqli_vfs_fault.kill_torn = torn;
        sqli_vfs_fault.kill_countdown = kill_at;
        if (sql_exec(db, "VACUUM", NULL, NULL) != SQL_OK) _exit(4);
        long n = sqli_vfs_fault.writes + sqli_vfs_fault.syncs;
        if (write(fd[1], &n, sizeof n) != sizeof n) _exit(5);
        sql_close(db);
        _exit(0);
    }
    close(fd[1]);
    long n = -1;
    if (read(fd[0], &n, sizeof n) != sizeof n) n = -1;
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

static int verify(void) {
    sql_db *db;
    sql_options o = {0};
    if (sql_open(path, &o, &db) != SQL_OK) return 0;
    int ok = strcmp(one(db, "SELECT count(*) || ',' || sum(w) FROM t"), "300,903000") == 0 &&
             strcmp(one(db, "SELECT id FROM t INDEXED BY tv WHERE v = printf('%0300d', 4020)"),
                    "4020") == 0 &&
             strcmp(one(db, "SELECT id FROM t WHERE w = 5980"), "5980") == 0 &&
             strcmp(one(db, "PRAGMA integrity_check"), "ok") == 0;
    sql_close(db);
    return ok;
}

TEST(vacuum_sigkill) {
    copy_file(master, path);
    long before = file_size(path), writes = 0;
    CHECK_EQ(child_vacuum(0, 0, &writes), 0);
    CHECK(writes > 3);
    CHECK(file_size(path) * 4 < before);
    CHECK(verify());
    int kills = getenv("VACUUM_CRASH_KILLS") ? atoi(getenv("VACUUM_CRASH_KILLS")) : 40;
    int bad = 0, shrunk = 0;
    for (int k = 0; k < kills && bad < 3; k++) {
        long at = 1 + (long)k * writes / kills;
        copy_file(master, path);
        long rc = child_vacuum(at, k & 1, NULL);
        if (rc != -SIGKILL && rc != 0) {
            fprintf(stderr, "kill at %ld: child ended with %ld\n", at, rc);
            bad++;
            continue;
        }
        if (run_checker() != 0) {
            fprintf(stderr, "kill at %ld (of %ld): larder-check fails\n", at, writes);
            bad++;
            continue;
        }
        if (!verify()) {
            fprintf(stderr, "kill at %ld (of %ld): rows differ after recovery\n", at, writes);
            bad++;
            continue;
        }
        shrunk += file_size(path) * 4 < before;
    }
    CHECK_EQ(bad, 0);
    CHECK(shrunk > 0); /* kills after the commit keep the new, smaller file */
    printf("vacuum crash: %d kills over %ld writes and fsyncs, %d left the file vacuumed\n", kills,
           writes, shrunk);
}

int main(void) {
    if (!mkdtemp(dir)) return 2;
    snprintf(path, sizeof path, "%s/db", dir);
    snprintf(master, sizeof master, "%s/master", dir);
    const char *b = getenv("LARDER_BUILD");
    snprintf(checker, sizeof checker, "%s/larder-check", b ? b : "build");
    make_master();
    RUN(vacuum_sigkill);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 2;
    return test_report();
}
