#include "test.h"
#include "util/mem.h"

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

int main(void) {
    RUN(alloc_counts_usable_bytes);
    RUN(free_null_is_noop);
    RUN(memdup_terminates);
    return test_report();
}
