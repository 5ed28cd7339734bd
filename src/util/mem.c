/* util/mem — see mem.h. The count is of usable sizes so that it matches what
 * the allocator really holds, not what callers asked for. */
#include "util/mem.h"
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef LARDER_NO_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* The count is kept per thread and summed on read: the loop thread and the
 * store thread allocate all the time, and one shared counter bounced its
 * cache line between them on every allocation. A thread takes a slot at its
 * first allocation; a slot can go negative (memory freed by another thread
 * than the one that allocated it), the sum cannot. Past MEM_SLOTS threads
 * slots are shared, which is why the adds stay atomic (uncontended: cheap). */
enum { MEM_SLOTS = 16 };
typedef struct mem_slot {
    _Alignas(64) _Atomic long long n;
} mem_slot;
static mem_slot slots[MEM_SLOTS];
static _Atomic unsigned slots_taken;
static _Thread_local _Atomic long long *my_slot;

static _Atomic long long *slot_take(void) {
    unsigned i = atomic_fetch_add_explicit(&slots_taken, 1, memory_order_relaxed);
    my_slot = &slots[i % MEM_SLOTS].n;
    return my_slot;
}

static inline void count(long long delta) {
    _Atomic long long *s = my_slot;
    if (__builtin_expect(s == NULL, 0)) s = slot_take();
    atomic_fetch_add_explicit(s, delta, memory_order_relaxed);
}

static void oom(size_t n) {
    fprintf(stderr, "larder: out of memory allocating %zu bytes\n", n);
    fflush(stderr);
    abort();
}

static inline void count_add(void *p) {
    count((long long)malloc_usable_size(p));
}

static inline void count_sub(void *p) {
    count(-(long long)malloc_usable_size(p));
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    count_add(p);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    count_add(p);
    return p;
}

void *xrealloc(void *p, size_t n) {
    if (!p) return xmalloc(n);
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    count((long long)malloc_usable_size(q) - (long long)old);
    return q;
}

void xfree(void *p) {
    if (!p) return;
    count_sub(p);
    free(p);
}

char *xmemdup(const void *p, size_t len) {
    char *s = xmalloc(len + 1);
    if (len) memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

char *xstrdup(const char *s) {
    return xmemdup(s, strlen(s));
}

size_t xmem_usable(const void *p) {
    return p ? malloc_usable_size((void *)p) : 0;
}

size_t xmem_used(void) {
    long long sum = 0;
    for (int i = 0; i < MEM_SLOTS; i++)
        sum += atomic_load_explicit(&slots[i].n, memory_order_relaxed);
    return sum > 0 ? (size_t)sum : 0; /* a racing read may see a free before its malloc */
}

#ifndef LARDER_NO_JEMALLOC
const char *xmem_allocator(void) {
    static char name[64];
    if (!name[0]) {
        const char *ver = "?";
        size_t sz = sizeof(ver);
        mallctl("version", &ver, &sz, NULL, 0);
        snprintf(name, sizeof(name), "jemalloc-%.*s", (int)strcspn(ver, "-"), ver);
    }
    return name;
}

void xmem_get_stats(xmem_stats *st) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    memset(st, 0, sizeof(*st));
    sz = sizeof(size_t);
    mallctl("stats.allocated", &st->allocated, &sz, NULL, 0);
    mallctl("stats.active", &st->active, &sz, NULL, 0);
    mallctl("stats.resident", &st->resident, &sz, NULL, 0);
    mallctl("stats.mapped", &st->mapped, &sz, NULL, 0);
    mallctl("stats.retained", &st->retained, &sz, NULL, 0);
}

typedef struct report_buf {
    char *p;
    size_t len, cap;
} report_buf;

static void report_write(void *opaque, const char *s) {
    report_buf *b = opaque;
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

char *xmem_allocator_report(void) {
    report_buf b = {xmemdup("", 0), 0, 1};
    malloc_stats_print(report_write, &b, NULL);
    return b.p;
}

void xmem_purge(void) {
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%d.purge", MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
}
#else
const char *xmem_allocator(void) {
    return "libc";
}
void xmem_get_stats(xmem_stats *st) {
    memset(st, 0, sizeof(*st));
    st->allocated = xmem_used();
}
char *xmem_allocator_report(void) {
    return xstrdup("Stats not supported for the current allocator\n");
}
void xmem_purge(void) {
    malloc_trim(0);
}
#endif

#ifdef MEM_ASAN
/* LeakSanitizer's defaults for every program of an AddressSanitizer build
 * (it calls this at start; other builds never do). use_unaligned: a
 * keyspace entry keeps its collection's pointer at an unaligned offset
 * (kv/object.h, invariant 4), which the default scan of aligned words misses,
 * so every set, list, zset and non-inline hash left at exit was reported as
 * leaked. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) {
    return "use_unaligned=1";
}
#endif
