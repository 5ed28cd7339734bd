#include "test.h"
#include "util/mem.h"
#include <pthread.h>

TEST(alloc_counts_usable_bytes) {
    size_t before = xmem_used();
    char *p = xmalloc(100);
    CHECK(xmem_used() >= before + 100);
    CHECK_EQ(xmem_used() - before, xmem_usable(p));
    p = xrealloc(p, 5000);
    CHECK_EQ(xmem_used() - before, xmem_usable(p));
    xfree(p);
    CHECK_EQ(xmem_used(), before);
}

TEST(free_null_is_noop) {
    size_t before = xmem_used();
    xfree(NULL);
    CHECK_EQ(xmem_used(), before);
}

TEST(memdup_terminates) {
    char *s = xmemdup("abcdef", 3);
    CHECK_STR(s, "abc");
    xfree(s);
    CHECK(xmem_allocator()[0] != '\0');
}

/* Each thread counts in its own slot: what one thread allocates and another
 * frees (the loop thread hands the store thread its jobs) still sums to
 * nothing, and more threads than slots share them without losing counts. */
enum { NPTRS = 1000, NTHREADS = 40 };
static void *allocate_many(void *arg) {
    void **v = arg;
    for (int i = 0; i < NPTRS; i++) v[i] = xmalloc((size_t)(i % 300) + 1);
    return NULL;
}
static void *free_many(void *arg) {
    void **v = arg;
    for (int i = 0; i < NPTRS; i++) xfree(v[i]);
    return NULL;
}

TEST(threads_count_in_their_own_slots) {
    size_t before = xmem_used();
    static void *ptrs[NTHREADS][NPTRS];
    pthread_t t[NTHREADS];
    size_t usable = 0;
    for (int i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, allocate_many, ptrs[i]);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        for (int j = 0; j < NPTRS; j++) usable += xmem_usable(ptrs[i][j]);
    CHECK_EQ(xmem_used() - before, usable);
    /* freed by other threads than the ones that allocated */
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, free_many, ptrs[(i + 1) % NTHREADS]);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(xmem_used(), before);
}

int main(void) {
    RUN(alloc_counts_usable_bytes);
    RUN(free_null_is_noop);
    RUN(memdup_terminates);
    RUN(threads_count_in_their_own_slots);
    return test_report();
}
