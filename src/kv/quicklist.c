/* kv/quicklist — see quicklist.h for the structure and its invariants.
 *
 * Node sizing follows Redis 7.0's rules (so node layouts, and memory use,
 * match): an insert is allowed into a node when its listpack would stay
 * within the size class of a negative fill, or (positive fill) within both
 * the entry count and the 8 KiB safety limit. Inserts in the middle of a
 * full node split it and then merge small neighbours back together. */
#include "kv/quicklist.h"
#include "kv/listpack.h"
#include "util/mem.h"
#include <assert.h>
#include <string.h>

static const size_t size_levels[] = {4096, 8192, 16384, 32768, 65536};
#define SIZE_SAFETY_LIMIT 8192
#define SIZE_ESTIMATE_OVERHEAD 8
#define LP_EMPTY_BYTES 9      /* listpack header (8) + end mark (1) */
#define MIN_COMPRESS_BYTES 48 /* smaller listpacks are not worth compressing */
#define MIN_COMPRESS_IMPROVE 8
#define NODE_COUNT_MAX 65535

/* ---- the LZ coder ------------------------------------------------------------
 *
 * A byte-oriented LZ77. The stream is a sequence of tokens, t the first byte:
 *   t < 32                   literal run: t+1 bytes follow (1..32)
 *   t >> 5 = n in 1..6       match of n+2 bytes at offset ((t & 31) << 8 | next byte) + 1
 *   t >> 5 = 7               match of 9 + (next byte) bytes; the low offset byte follows
 * Offsets reach 8192 bytes back, matches 3..264 bytes; matches may overlap
 * their own output (run-length style). */
#define LZ_HBITS 12
#define LZ_MAXOFF 8192
#define LZ_MAXLIT 32
#define LZ_MAXMATCH 264

static inline unsigned lz_hash(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * 2654435761u) >> (32 - LZ_HBITS);
}

static int lz_literals(const unsigned char *in, size_t from, size_t to, unsigned char *out,
                       size_t *op, size_t cap) {
    while (from < to) {
        size_t n = to - from > LZ_MAXLIT ? LZ_MAXLIT : to - from;
        if (*op + 1 + n > cap) return 0;
        out[(*op)++] = (unsigned char)(n - 1);
        memcpy(out + *op, in + from, n);
        *op += n;
        from += n;
    }
    return 1;
}

size_t ql_lz_compress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap) {
    uint32_t htab[1 << LZ_HBITS];
    memset(htab, 0, sizeof(htab));
    size_t ip = 0, op = 0, lit = 0;
    while (ip + 3 <= inlen) {
        unsigned h = lz_hash(in + ip);
        size_t cand = htab[h];
        htab[h] = (uint32_t)ip + 1;
        if (cand && ip - (cand - 1) <= LZ_MAXOFF && memcmp(in + cand - 1, in + ip, 3) == 0) {
            size_t ref = cand - 1, off = ip - ref - 1;
            size_t max = inlen - ip > LZ_MAXMATCH ? LZ_MAXMATCH : inlen - ip, len = 3;
            while (len < max && in[ref + len] == in[ip + len]) len++;
            if (!lz_literals(in, lit, ip, out, &op, outcap)) return 0;
            size_t code = len - 2;
            if (op + (code < 7 ? 2 : 3) > outcap) return 0;
            if (code < 7) {
                out[op++] = (unsigned char)(code << 5 | off >> 8);
            } else {
                out[op++] = (unsigned char)(7 << 5 | off >> 8);
                out[op++] = (unsigned char)(code - 7);
            }
            out[op++] = (unsigned char)(off & 0xff);
            for (size_t k = 1; k < len && ip + k + 3 <= inlen; k++)
                htab[lz_hash(in + ip + k)] = (uint32_t)(ip + k) + 1;
            ip += len;
            lit = ip;
        } else {
            ip++;
        }
    }
    if (!lz_literals(in, lit, inlen, out, &op, outcap)) return 0;
    return op;
}

size_t ql_lz_decompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap) {
    size_t ip = 0, op = 0;
    while (ip < inlen) {
        unsigned t = in[ip++];
        if (t < 32) {
            size_t n = t + 1;
            if (ip + n > inlen || op + n > outcap) return 0;
            memcpy(out + op, in + ip, n);
            ip += n;
            op += n;
            continue;
        }
        size_t len = t >> 5;
        if (len == 7) {
            if (ip >= inlen) return 0;
            len += in[ip++];
        }
        len += 2;
        if (ip >= inlen) return 0;
        size_t off = ((size_t)(t & 31) << 8 | in[ip++]) + 1;
        if (off > op || op + len > outcap) return 0;
        for (size_t k = 0; k < len; k++, op++) out[op] = out[op - off];
    }
    return op;
}

/* ---- nodes ---------------------------------------------------------------------- */

static ql_node *node_new(unsigned char *lp) {
    ql_node *n = xcalloc(1, sizeof(*n));
    n->data = lp;
    n->sz = (uint32_t)lp_bytes(lp);
    n->count = (uint16_t)lp_count(lp);
    return n;
}

static ql_node *node_with(const char *s, size_t len) {
    return node_new(lp_append(lp_new(), s, len));
}

static void node_free(ql_node *n) {
    xfree(n->data);
    xfree(n);
}

/* After the listpack changed. */
static inline void node_changed(ql_node *n) {
    assert(!n->compressed);
    n->sz = (uint32_t)lp_bytes(n->data);
    n->count = (uint16_t)lp_count(n->data);
    n->tried = 0;
}

static uint32_t lzf_len(const ql_node *n) {
    uint32_t l;
    memcpy(&l, n->data, 4);
    return l;
}

/* Compresses a node when that pays; clears `open` either way. */
static void node_compress(ql_node *n) {
    n->open = 0;
    if (n->compressed || n->tried) return;
    if (n->sz < MIN_COMPRESS_BYTES) {
        n->tried = 1;
        return;
    }
    size_t cap = n->sz - MIN_COMPRESS_IMPROVE; /* 4-byte length + LZ bytes must fit */
    unsigned char *buf = xmalloc(cap);
    size_t clen = ql_lz_compress(n->data, n->sz, buf + 4, cap - 4);
    if (!clen) {
        xfree(buf);
        n->tried = 1;
        return;
    }
    uint32_t l = (uint32_t)clen;
    memcpy(buf, &l, 4);
    xfree(n->data);
    n->data = xrealloc(buf, 4 + clen);
    n->compressed = 1;
}

static void node_decompress(ql_node *n) {
    if (!n->compressed) return;
    unsigned char *lp = xmalloc(n->sz);
    size_t got = ql_lz_decompress(n->data + 4, lzf_len(n), lp, n->sz);
    assert(got == n->sz);
    (void)got;
    xfree(n->data);
    n->data = lp;
    n->compressed = 0;
}

/* Decompressed for a while: node_close() compresses it again. */
static inline void node_open(ql_node *n) {
    if (n->compressed) {
        node_decompress(n);
        n->open = 1;
    }
}
static inline void node_close(ql_node *n) {
    if (n->open) node_compress(n);
}

const unsigned char *ql_node_listpack(const ql_node *n, unsigned char **tmp) {
    *tmp = NULL;
    if (!n->compressed) return n->data;
    *tmp = xmalloc(n->sz);
    size_t got = ql_lz_decompress(n->data + 4, lzf_len(n), *tmp, n->sz);
    assert(got == n->sz);
    (void)got;
    return *tmp;
}

/* ---- sizing rules -------------------------------------------------------------- */

static inline int size_ok(size_t sz, int fill, unsigned long count) {
    if (fill < 0) return sz <= size_levels[-fill - 1];
    return sz <= SIZE_SAFETY_LIMIT && count <= (unsigned long)fill;
}

static inline int allow_insert(const ql_node *n, int fill, size_t len) {
    if (!n || n->count >= NODE_COUNT_MAX) return 0;
    return size_ok((size_t)n->sz + len + SIZE_ESTIMATE_OVERHEAD, fill, (unsigned long)n->count + 1);
}

static int allow_merge(const ql_node *a, const ql_node *b, int fill) {
    if (!a || !b || (unsigned long)a->count + b->count > NODE_COUNT_MAX) return 0;
    return size_ok((size_t)a->sz + b->sz - LP_EMPTY_BYTES, fill,
                   (unsigned long)a->count + b->count);
}

/* ---- compression maintenance ----------------------------------------------------
 *
 * Brings the ends in line with invariant 3 and compresses `hint` (a node the
 * caller has just changed) when it lies in the middle; the nodes at exactly
 * `compress` steps from either end are compressed too, since pushes and pops
 * move nodes across that border one at a time. */
static void compress_fix(quicklist *ql, ql_node *hint) {
    unsigned d = ql->compress;
    if (!d) return;
    if (ql->len <= 2 * (unsigned long)d) {
        for (ql_node *n = ql->head; n; n = n->next) {
            node_decompress(n);
            n->open = 0;
        }
        return;
    }
    ql_node *f = ql->head, *r = ql->tail;
    int hint_at_end = 0;
    for (unsigned i = 0; i < d; i++) {
        node_decompress(f);
        node_decompress(r);
        f->open = r->open = 0;
        if (f == hint || r == hint) hint_at_end = 1;
        f = f->next;
        r = r->prev;
    }
    if (hint && !hint_at_end) node_compress(hint);
    if (!f->open) node_compress(f);
    if (!r->open) node_compress(r);
}

static void fix_around(quicklist *ql, ql_node *n) {
    if (!ql->compress || !n) return;
    compress_fix(ql, n);
    if (n->prev) compress_fix(ql, n->prev);
    if (n->next) compress_fix(ql, n->next);
}

/* ---- linking ------------------------------------------------------------------- */

static void link_node(quicklist *ql, ql_node *old, ql_node *n, int after) {
    if (!old) {
        assert(!ql->head);
        n->prev = n->next = NULL;
        ql->head = ql->tail = n;
    } else if (after) {
        n->prev = old;
        n->next = old->next;
        if (old->next)
            old->next->prev = n;
        else
            ql->tail = n;
        old->next = n;
    } else {
        n->next = old;
        n->prev = old->prev;
        if (old->prev)
            old->prev->next = n;
        else
            ql->head = n;
        old->prev = n;
    }
    ql->len++;
}

static void unlink_node(quicklist *ql, ql_node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->len--;
}

static void del_node(quicklist *ql, ql_node *n) {
    unlink_node(ql, n);
    ql->count -= n->count;
    node_free(n);
}

/* ---- the list --------------------------------------------------------------------- */

void ql_set_options(quicklist *ql, int fill, int compress) {
    if (fill > QL_FILL_MAX) fill = QL_FILL_MAX;
    if (fill < -5) fill = -5;
    if (compress < 0) compress = 0;
    if (compress > QL_COMPRESS_MAX) compress = QL_COMPRESS_MAX;
    ql->fill = fill;
    ql->compress = (unsigned)compress;
}

quicklist *ql_new(int fill, int compress) {
    quicklist *ql = xcalloc(1, sizeof(*ql));
    ql_set_options(ql, fill, compress);
    return ql;
}

void ql_free(quicklist *ql) {
    if (!ql) return;
    ql_node *n = ql->head;
    while (n) {
        ql_node *next = n->next;
        node_free(n);
        n = next;
    }
    xfree(ql);
}

quicklist *ql_dup(const quicklist *ql) {
    quicklist *c = xcalloc(1, sizeof(*c));
    c->fill = ql->fill;
    c->compress = ql->compress;
    for (const ql_node *n = ql->head; n; n = n->next) {
        size_t bytes = n->compressed ? 4 + (size_t)lzf_len(n) : n->sz;
        ql_node *m = xcalloc(1, sizeof(*m));
        m->data = xmalloc(bytes);
        memcpy(m->data, n->data, bytes);
        m->sz = n->sz;
        m->count = n->count;
        m->compressed = n->compressed;
        m->tried = n->tried;
        link_node(c, c->tail, m, 1);
        c->count += n->count;
    }
    return c;
}

void ql_push(quicklist *ql, const char *s, size_t len, int where) {
    ql_node *n = where == QL_HEAD ? ql->head : ql->tail;
    ql->count++;
    if (allow_insert(n, ql->fill, len)) {
        node_decompress(n); /* an end node is never compressed; defensive */
        n->data = where == QL_HEAD ? lp_prepend(n->data, s, len) : lp_append(n->data, s, len);
        n->sz = (uint32_t)lp_bytes(n->data);
        n->count++;
        n->tried = 0;
        return;
    }
    ql_node *m = node_with(s, len);
    link_node(ql, n, m, where == QL_TAIL);
    compress_fix(ql, m);
}

const char *ql_peek(quicklist *ql, int where, size_t *len) {
    ql_node *n = where == QL_HEAD ? ql->head : ql->tail;
    if (!n) return NULL;
    node_decompress(n);
    n->open = 0;
    unsigned char *p = where == QL_HEAD ? lp_first(n->data) : lp_last(n->data);
    return lp_get(p, len);
}

void ql_pop(quicklist *ql, int where) {
    ql_node *n = where == QL_HEAD ? ql->head : ql->tail;
    assert(n);
    if (n->count == 1) {
        del_node(ql, n);
        compress_fix(ql, NULL);
        return;
    }
    node_decompress(n);
    n->open = 0;
    unsigned char *p = where == QL_HEAD ? lp_first(n->data) : lp_last(n->data);
    n->data = lp_delete(n->data, p, NULL);
    n->sz = (uint32_t)lp_bytes(n->data);
    n->count--;
    n->tried = 0;
    ql->count--;
}

void ql_append_listpack(quicklist *ql, unsigned char *lp) {
    assert(lp_count(lp) > 0 && lp_count(lp) <= NODE_COUNT_MAX);
    ql_node *n = node_new(lp);
    link_node(ql, ql->tail, n, 1);
    ql->count += n->count;
    compress_fix(ql, n);
}

/* The node holding element `index` (negative from the end) and the element's
 * offset inside it, walking from whichever end is nearer. NULL if out of range. */
static ql_node *find_index(quicklist *ql, long index, long *offset) {
    unsigned long count = ql->count, idx;
    int forward = index >= 0;
    idx = forward ? (unsigned long)index : (unsigned long)(-(index + 1));
    if (idx >= count) return NULL;
    if (idx > count / 2) {
        forward = !forward;
        idx = count - 1 - idx;
    }
    unsigned long acc = 0;
    ql_node *n = forward ? ql->head : ql->tail;
    while (acc + n->count <= idx) {
        acc += n->count;
        n = forward ? n->next : n->prev;
    }
    *offset = forward ? (long)(idx - acc) : (long)(n->count - 1 - (idx - acc));
    return n;
}

unsigned long ql_del_range(quicklist *ql, long start, unsigned long count) {
    long off;
    ql_node *n = count ? find_index(ql, start, &off) : NULL;
    if (!n) return 0;
    unsigned long idx = start >= 0 ? (unsigned long)start : ql->count - (unsigned long)(-start);
    if (count > ql->count - idx) count = ql->count - idx;
    unsigned long left = count;
    ql_node *partial[2] = {NULL, NULL};
    int npartial = 0, removed = 0;
    while (left) {
        ql_node *next = n->next;
        unsigned long avail = n->count - (unsigned long)off;
        unsigned long del = left < avail ? left : avail;
        if (off == 0 && del == n->count) {
            del_node(ql, n);
            removed = 1;
        } else {
            node_decompress(n);
            n->data = lp_delete_range(n->data, off, del);
            node_changed(n);
            ql->count -= del;
            partial[npartial++] = n;
        }
        left -= del;
        off = 0;
        n = next;
    }
    for (int i = 0; i < npartial; i++) compress_fix(ql, partial[i]);
    if (removed && !npartial) compress_fix(ql, NULL);
    return count;
}

/* ---- iteration ---------------------------------------------------------------- */

void ql_iter_init(ql_iter *it, quicklist *ql, int dir) {
    it->ql = ql;
    it->dir = dir;
    it->node = dir == QL_FWD ? ql->head : ql->tail;
    it->p = NULL;
    it->offset = 0;
    it->pending = 0;
}

int ql_iter_init_at(ql_iter *it, quicklist *ql, long index, int dir) {
    long off = 0;
    ql_node *n = find_index(ql, index, &off);
    ql_iter_init(it, ql, dir);
    it->node = n;
    if (!n) return 0;
    node_open(n);
    it->p = lp_seek(n->data, off);
    it->offset = off;
    it->pending = 1;
    return 1;
}

int ql_next(ql_iter *it, ql_entry *e) {
    int fwd = it->dir == QL_FWD;
    while (it->node) {
        ql_node *n = it->node;
        node_open(n);
        unsigned char *p;
        if (it->pending) {
            p = it->p;
            it->pending = 0;
        } else if (!it->p) {
            p = fwd ? lp_first(n->data) : lp_last(n->data);
            it->offset = fwd ? 0 : (long)n->count - 1;
        } else {
            p = fwd ? lp_next(n->data, it->p) : lp_prev(n->data, it->p);
            it->offset += fwd ? 1 : -1;
        }
        if (p) {
            it->p = p;
            e->s = lp_get(p, &e->len);
            e->node = n;
            e->p = p;
            e->offset = it->offset;
            return 1;
        }
        node_close(n);
        it->node = fwd ? n->next : n->prev;
        it->p = NULL;
    }
    return 0;
}

void ql_iter_done(ql_iter *it) {
    if (it->node) node_close(it->node);
    it->node = NULL;
}

void ql_iter_delete(ql_iter *it, ql_entry *e) {
    quicklist *ql = it->ql;
    ql_node *n = e->node;
    int fwd = it->dir == QL_FWD;
    if (n->count == 1) {
        it->node = fwd ? n->next : n->prev;
        it->p = NULL;
        it->pending = 0;
        del_node(ql, n);
        compress_fix(ql, NULL);
        return;
    }
    unsigned char *after;
    n->data = lp_delete(n->data, e->p, &after);
    node_changed(n);
    ql->count--;
    if (fwd) {
        it->p = after;
        it->offset = e->offset;
    } else {
        it->p = e->offset == 0 ? NULL : after ? lp_prev(n->data, after) : lp_last(n->data);
        it->offset = e->offset - 1;
    }
    it->pending = 1; /* p NULL and pending: this node is done */
}

int ql_entry_eq(const ql_entry *e, const char *s, size_t len) {
    return e->len == len && (len == 0 || memcmp(e->s, s, len) == 0);
}

/* Splits n at offset. after=1: n keeps [0, offset], the new node gets the
 * rest; after=0: the new node gets [0, offset-1] and n keeps the rest. The
 * new node is not linked. */
static ql_node *split_node(ql_node *n, long offset, int after) {
    unsigned char *copy = lp_dup(n->data);
    unsigned long cnt = n->count;
    if (after) {
        n->data = lp_delete_range(n->data, offset + 1, cnt);
        copy = lp_delete_range(copy, 0, (unsigned long)offset + 1);
    } else {
        n->data = lp_delete_range(n->data, 0, (unsigned long)offset);
        copy = lp_delete_range(copy, offset, cnt);
    }
    node_changed(n);
    return node_new(copy);
}

/* Moves b's entries to the end of a (a directly precedes b) and frees b. */
static ql_node *merge_into(quicklist *ql, ql_node *a, ql_node *b) {
    node_decompress(a);
    node_decompress(b);
    a->open = 0;
    for (unsigned char *p = lp_first(b->data); p; p = lp_next(b->data, p)) {
        size_t len;
        const char *s = lp_get(p, &len);
        a->data = lp_append(a->data, s, len);
    }
    node_changed(a);
    unlink_node(ql, b);
    node_free(b);
    return a;
}

/* After a split: merges the neighbours of center pairwise where the sizing
 * rules allow, then center with its neighbours. Returns the node that now
 * holds center's entries. */
static ql_node *merge_around(quicklist *ql, ql_node *center) {
    int fill = ql->fill;
    ql_node *prev = center->prev, *next = center->next;
    if (prev && allow_merge(prev->prev, prev, fill)) merge_into(ql, prev->prev, prev);
    if (next && allow_merge(next, next->next, fill)) merge_into(ql, next, next->next);
    ql_node *target = center;
    if (allow_merge(center->prev, center, fill)) target = merge_into(ql, center->prev, center);
    if (allow_merge(target, target->next, fill)) merge_into(ql, target, target->next);
    return target;
}

void ql_iter_insert(ql_iter *it, ql_entry *e, const char *s, size_t len, int after) {
    quicklist *ql = it->ql;
    ql_node *n = e->node;
    int fill = ql->fill;
    int full = !allow_insert(n, fill, len);
    int at_tail = after && e->offset == (long)n->count - 1;
    int at_head = !after && e->offset == 0;
    it->node = NULL; /* the iteration ends here */
    ql->count++;
    if (!full) {
        n->data = lp_insert(n->data, e->p, s, len, after ? LP_AFTER : LP_BEFORE, NULL);
        node_changed(n);
        compress_fix(ql, n);
    } else if (at_tail && allow_insert(n->next, fill, len)) {
        ql_node *m = n->next;
        node_decompress(m);
        m->data = lp_prepend(m->data, s, len);
        node_changed(m);
        compress_fix(ql, m);
        compress_fix(ql, n);
    } else if (at_head && allow_insert(n->prev, fill, len)) {
        ql_node *m = n->prev;
        node_decompress(m);
        m->data = lp_append(m->data, s, len);
        node_changed(m);
        compress_fix(ql, m);
        compress_fix(ql, n);
    } else if (at_tail || at_head) {
        ql_node *m = node_with(s, len);
        link_node(ql, n, m, after);
        compress_fix(ql, m);
        compress_fix(ql, n);
    } else {
        ql_node *m = split_node(n, e->offset, after);
        m->data = after ? lp_prepend(m->data, s, len) : lp_append(m->data, s, len);
        node_changed(m);
        link_node(ql, n, m, after);
        fix_around(ql, merge_around(ql, n));
    }
}

/* In place, whatever the node's size becomes (Redis 7.0 does the same: only
 * inserts split nodes). */
void ql_iter_replace(ql_iter *it, ql_entry *e, const char *s, size_t len) {
    quicklist *ql = it->ql;
    ql_node *n = e->node;
    it->node = NULL; /* the iteration ends here */
    n->data = lp_replace(n->data, e->p, s, len, NULL);
    node_changed(n);
    n->open = 0;
    compress_fix(ql, n);
}

int ql_replace_at(quicklist *ql, long index, const char *s, size_t len) {
    ql_iter it;
    ql_entry e;
    if (!ql_iter_init_at(&it, ql, index, QL_FWD) || !ql_next(&it, &e)) {
        ql_iter_done(&it);
        return 0;
    }
    ql_iter_replace(&it, &e, s, len);
    ql_iter_done(&it);
    return 1;
}

/* ---- accounting and checks ---------------------------------------------------- */

size_t ql_mem(const quicklist *ql) {
    size_t total = xmem_usable(ql);
    for (const ql_node *n = ql->head; n; n = n->next)
        total += xmem_usable(n) + xmem_usable(n->data);
    return total;
}

int ql_check(const quicklist *ql) {
    unsigned long count = 0, len = 0;
    const ql_node *prev = NULL;
    for (const ql_node *n = ql->head; n; prev = n, n = n->next) {
        if (n->prev != prev || n->count == 0) return 0;
        unsigned char *tmp;
        const unsigned char *lp = ql_node_listpack(n, &tmp);
        int ok = lp_bytes(lp) == n->sz && lp_count(lp) == n->count && lp_validate(lp, n->sz);
        xfree(tmp);
        if (!ok) return 0;
        count += n->count;
        len++;
    }
    if (prev != ql->tail || count != ql->count || len != ql->len) return 0;
    /* invariant 3: the ends are not compressed */
    const ql_node *f = ql->head, *r = ql->tail;
    for (unsigned i = 0; i < ql->compress && f; i++, f = f->next, r = r->prev)
        if (f->compressed || r->compressed) return 0;
    if (!ql->compress)
        for (const ql_node *n = ql->head; n; n = n->next)
            if (n->compressed) return 0;
    return 1;
}
