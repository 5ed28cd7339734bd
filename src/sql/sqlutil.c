/* sql/sqlutil.c — small containers of the SQL front end: an arena for
 * everything a compilation produces, a growing text buffer, and a map from
 * byte strings to pointers.
 *
 * Invariants:
 *   1. Arena memory is zeroed, 8-byte aligned, and lives until sqli_ar_free; blocks
 *      are never moved, so pointers into the arena stay valid.
 *   2. strb: p is NULL or holds n bytes plus a NUL at p[n] (cap > n).
 *   3. bmap: open addressing with linear probing, load factor <= 1/2, no
 *      deletions (cleared as a whole); an empty slot has k == NULL. Keys are
 *      copied (a zero-length key gets a one-byte allocation, so k != NULL).
 */
#include "sql/sqlint.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <stdio.h>

/* ---- arena ----------------------------------------------------------------------- */

struct arena_blk {
    arena_blk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void *sqli_ar_alloc(arena *a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    arena_blk *b = a->head;
    if (!b || b->used + n > b->size) {
        size_t sz = n > 4000 ? n : 4000;
        if (b && b->size < 65536 && sz < b->size * 2) sz = b->size * 2;
        b = xmalloc(sizeof *b + sz);
        b->size = sz;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *sqli_ar_strndup(arena *a, const char *s, size_t n) {
    char *p = sqli_ar_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *sqli_ar_strdup(arena *a, const char *s) {
    return sqli_ar_strndup(a, s, strlen(s));
}

char *sqli_ar_printf(arena *a, const char *fmt, ...) {
    strb b = {0};
    va_list ap;
    va_start(ap, fmt);
    sqli_strb_vaddf(&b, fmt, ap);
    va_end(ap);
    char *p = sqli_ar_strndup(a, sqli_strb_cstr(&b), b.n);
    sqli_strb_free(&b);
    return p;
}

void sqli_ar_free(arena *a) {
    arena_blk *b = a->head;
    while (b) {
        arena_blk *n = b->next;
        xfree(b);
        b = n;
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- text buffer ----------------------------------------------------------------- */

static void strb_grow(strb *b, size_t more) {
    if (b->n + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->n + more + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void sqli_strb_add(strb *b, const void *s, size_t n) {
    strb_grow(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sqli_strb_adds(strb *b, const char *s) {
    sqli_strb_add(b, s, strlen(s));
}

void sqli_strb_addc(strb *b, char c) {
    strb_grow(b, 1);
    b->p[b->n++] = c;
    b->p[b->n] = 0;
}

void sqli_strb_vaddf(strb *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    strb_grow(b, (size_t)n);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    b->n += (size_t)n;
}

void sqli_strb_addf(strb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sqli_strb_vaddf(b, fmt, ap);
    va_end(ap);
}

const char *sqli_strb_cstr(strb *b) {
    return b->p ? b->p : "";
}

void sqli_strb_free(strb *b) {
    xfree(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static int ident_needs_quotes(const char *s) {
    if (!*s || isdigit((unsigned char)*s)) return 1;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && !((unsigned char)*p & 0x80)) return 1;
    int kw = sqli_kw_lookup(s, (int)strlen(s));
    return kw && sqli_kw_reserved(kw);
}

void sqli_strb_ident(strb *b, const char *s) {
    if (!ident_needs_quotes(s)) {
        sqli_strb_adds(b, s);
        return;
    }
    sqli_strb_addc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"') sqli_strb_addc(b, '"');
        sqli_strb_addc(b, *p);
    }
    sqli_strb_addc(b, '"');
}

/* ---- hashing and the byte-string map --------------------------------------------- */

uint64_t sqli_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static void bmap_resize(bmap *m, size_t cap) {
    bmap_ent *old = m->t;
    size_t ocap = m->cap;
    m->t = xcalloc(cap, sizeof *m->t);
    m->cap = cap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].k) continue;
        size_t j = old[i].h & (cap - 1);
        while (m->t[j].k) j = (j + 1) & (cap - 1);
        m->t[j] = old[i];
    }
    xfree(old);
}

bmap_ent *sqli_bmap_get(bmap *m, const void *k, size_t klen, int create, int *added) {
    if (added) *added = 0;
    if (m->cap == 0) {
        if (!create) return NULL;
        bmap_resize(m, 16);
    }
    uint64_t h = sqli_hash_bytes(k, klen);
    size_t j = h & (m->cap - 1);
    while (m->t[j].k) {
        bmap_ent *e = &m->t[j];
        if (e->h == h && e->klen == klen && memcmp(e->k, k, klen) == 0) return e;
        j = (j + 1) & (m->cap - 1);
    }
    if (!create) return NULL;
    if ((m->n + 1) * 2 > m->cap) {
        bmap_resize(m, m->cap * 2);
        return sqli_bmap_get(m, k, klen, create, added);
    }
    bmap_ent *e = &m->t[j];
    e->h = h;
    e->klen = klen;
    e->k = xmalloc(klen ? klen : 1);
    if (klen) memcpy(e->k, k, klen);
    e->v = NULL;
    m->n++;
    if (added) *added = 1;
    return e;
}

void sqli_bmap_clear(bmap *m) {
    for (size_t i = 0; i < m->cap; i++) xfree(m->t[i].k);
    xfree(m->t);
    m->t = NULL;
    m->cap = m->n = 0;
}

int sqli_name_eq(const char *a, const char *b) {
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
        if (!x) return 1;
    }
}
