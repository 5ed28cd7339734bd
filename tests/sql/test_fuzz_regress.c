/* tests/sql/test_fuzz_regress.c — replays every input in tests/fuzz/regress/
 * (inputs that once crashed or hung the fuzz target) through the fuzz
 * target's own function, fuzz_sql.c's LLVMFuzzerTestOneInput, in a normal
 * build: each must return, within 5 seconds (under `make SANITIZE=1`, ASan
 * and UBSan check it as the fuzzer did, and it may take 30). A file per input, named for
 * what it found. Environment: SQL_FUZZ_REGRESS (default tests/fuzz/regress).
 */
#include "fuzz/fuzz_sql.c"
#include "test.h"
#include <dirent.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define LIMIT_S 30
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LIMIT_S 30
#endif
#endif
#ifndef LIMIT_S
#define LIMIT_S 5
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char dir[512];

static void replay(const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    CHECK(f != NULL);
    if (!f) return;
    uint8_t *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    double t0 = now_s();
    LLVMFuzzerTestOneInput(buf, n);
    double dt = now_s() - t0;
    if (dt > LIMIT_S) fprintf(stderr, "%s: %.1f s\n", name, dt);
    CHECK(dt <= LIMIT_S);
    free(buf);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s",
             getenv("SQL_FUZZ_REGRESS") ? getenv("SQL_FUZZ_REGRESS") : "tests/fuzz/regress");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "no %s\n", dir);
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        test_cur_name_ = e->d_name;
        test_cur_failed_ = 0;
        replay(e->d_name);
        if (test_cur_failed_)
            test_failed_++, fprintf(stderr, "FAIL %s\n", e->d_name);
        else
            test_passed_++;
    }
    closedir(d);
    if (db) sql_close(db);
    unlink(path);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    return test_report();
}
