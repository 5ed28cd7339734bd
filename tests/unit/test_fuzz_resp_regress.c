/* tests/unit/test_fuzz_resp_regress.c — replays the RESP fuzz targets'
 * findings in make test: every file of tests/fuzz/regress-resp/ (inputs
 * that once crashed, hung or broke an assertion) through the target that
 * found it (a name starting "parser-": fuzz_resp.c, "client-":
 * fuzz_client.c), and the seed corpus tests/fuzz/seeds-resp/ through both,
 * in a normal build (under make SANITIZE=1, ASan and UBSan check as the
 * fuzzer did). Each input must return within 5 seconds (30 sanitized).
 * Environment: RESP_FUZZ_REGRESS, RESP_FUZZ_SEEDS to replay other folders. */
#define FUZZ_NO_ENTRY
#include "fuzz/fuzz_resp.c"
#include "fuzz/fuzz_client.c"
#include "test.h"
#include <dirent.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define LIMIT_S 30
#else
#define LIMIT_S 5
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs fn on the file; returns 0 if it could not be read. */
static int replay_file(const char *dir, const char *name, int (*fn)(const uint8_t *, size_t)) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    uint8_t *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    double t0 = now_s();
    fn(buf, n);
    double dt = now_s() - t0;
    if (dt > LIMIT_S) fprintf(stderr, "%s: %.1f s\n", name, dt);
    CHECK(dt <= LIMIT_S);
    free(buf);
    return 1;
}

static int replay_dir(const char *dir, int seeds) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (seeds) {
            n += replay_file(dir, e->d_name, fuzz_resp_one);
            replay_file(dir, e->d_name, fuzz_client_one);
        } else if (!strncmp(e->d_name, "parser-", 7)) {
            n += replay_file(dir, e->d_name, fuzz_resp_one);
        } else if (!strncmp(e->d_name, "client-", 7)) {
            n += replay_file(dir, e->d_name, fuzz_client_one);
        }
    }
    closedir(d);
    return n;
}

TEST(regress_inputs) {
    const char *dir = getenv("RESP_FUZZ_REGRESS");
    int n = replay_dir(dir ? dir : "tests/fuzz/regress-resp", 0);
    printf("replayed %d regression inputs\n", n);
}

TEST(seed_inputs) {
    const char *dir = getenv("RESP_FUZZ_SEEDS");
    int n = replay_dir(dir ? dir : "tests/fuzz/seeds-resp", 1);
    printf("replayed %d seeds through both targets\n", n);
    CHECK(n > 0);
}

int main(void) {
    RUN(regress_inputs);
    RUN(seed_inputs);
    return test_report();
}
