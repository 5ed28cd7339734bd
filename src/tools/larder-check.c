/* larder-check — verify a Larder store file.
 *
 *   larder-check [-q] FILE
 *
 * Opens FILE read-only (committed transactions still in FILE-wal are read,
 * not replayed), runs sqli_store_check, prints each problem and a verdict line:
 *   "FILE: ok (P pages, T trees, E entries, F free)"      exit 0
 *   "FILE: N problems found"                                exit 1
 *   "FILE: cannot check: <error>"                           exit 2
 * -q prints only the verdict. The file must not be open read-write by another
 * process (the store's lock refuses it: exit 2).
 */
#include "sql/store.h"
#include <stdio.h>
#include <string.h>

static int quiet;

static void on_problem(void *arg, const char *msg) {
    unsigned long *n = arg;
    if (!quiet || *n < 20) fprintf(stdout, "  problem: %s\n", msg);
    (*n)++;
}

int main(int argc, char **argv) {
    int argi = 1;
    if (argi < argc && strcmp(argv[argi], "-q") == 0) {
        quiet = 1;
        argi++;
    }
    if (argi != argc - 1 || argv[argi][0] == '-') {
        fprintf(stderr, "usage: larder-check [-q] FILE\n");
        return 2;
    }
    const char *path = argv[argi];
    store_options o = {STORE_RDONLY, 0, 0, 0};
    store_db *db;
    int rc = sqli_store_open(path, &o, &db);
    if (rc != STORE_OK) {
        printf("%s: cannot check: %s (%s)\n", path, sqli_store_errmsg(), sqli_store_strerror(rc));
        return 2;
    }
    store_txn *txn;
    rc = sqli_store_begin(db, STORE_TXN_READ, &txn);
    if (rc != STORE_OK) {
        printf("%s: cannot check: %s (%s)\n", path, sqli_store_errmsg(), sqli_store_strerror(rc));
        sqli_store_close(db);
        return 2;
    }
    store_check_report r;
    unsigned long n = 0;
    rc = sqli_store_check(txn, &r, on_problem, &n);
    sqli_store_abort(txn);
    sqli_store_close(db);
    if (rc != STORE_OK) {
        printf("%s: cannot check: %s (%s)\n", path, sqli_store_errmsg(), sqli_store_strerror(rc));
        return 2;
    }
    if (r.problems) {
        printf("%s: %llu problems found\n", path, (unsigned long long)r.problems);
        return 1;
    }
    printf("%s: ok (%u pages, %u trees, %llu entries, %llu overflow pages, %u free)\n", path,
           r.page_count, r.tree_count, (unsigned long long)r.entries,
           (unsigned long long)r.overflow_pages, r.free_pages);
    return 0;
}
