/* util/mem — the one allocator entry point.
 *
 * Every heap allocation in Larder goes through these functions. They abort the
 * process on out-of-memory (a cache that cannot allocate cannot keep its
 * promises; Redis does the same), and keep a running count of the bytes in use
 * (usable size, as the allocator rounds) for INFO memory and maxmemory.
 * jemalloc is underneath in normal builds; sanitizer builds use libc malloc so
 * that ASan can see every allocation.
 *
 * Ownership: the caller owns what x*alloc returns and gives it back with
 * xfree(). xfree(NULL) is a no-op. Thread-safe: each thread counts in a slot of its own
 * (mem.c), xmem_used() sums them. */
#ifndef LARDER_UTIL_MEM_H
#define LARDER_UTIL_MEM_H
#include <stddef.h>

/* MEM_ASAN is defined in an AddressSanitizer build (gcc or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
void xfree(void *p);
char *xstrdup(const char *s);
/* A copy of len bytes with a NUL after them (so text can be used as a C string). */
char *xmemdup(const void *p, size_t len);

/* Bytes the allocator really gave for p (>= what was asked). */
size_t xmem_usable(const void *p);
/* Bytes in use through this module, all threads. */
size_t xmem_used(void);
/* Allocator name and figures for INFO memory; values 0 where unknown. */
const char *xmem_allocator(void);
typedef struct xmem_stats {
    size_t allocated, active, resident, mapped, retained;
} xmem_stats;
void xmem_get_stats(xmem_stats *st);
/* Text of the allocator's own statistics (jemalloc's malloc_stats_print), caller frees. */
char *xmem_allocator_report(void);
/* Hand free pages back to the OS where the allocator can (MEMORY PURGE). */
void xmem_purge(void);
#endif
