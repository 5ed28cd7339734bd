/* sql/btree.c — B+trees over the pager: cursors, splits, merges, overflow
 * chains, and the tree directory. The page format is drawn in btree.h.
 *
 * Invariants:
 *   1. Keys within a node are strictly increasing; separators bound their
 *      subtrees as btree.h says. All leaves are at the same depth.
 *   2. A tree's root page never moves: a root split copies the root into a new
 *      child; a root with one child and no cells takes that child's content.
 *   3. Only nodes that passed sqli_bt_node_sane are parsed, so cell offsets and
 *      lengths lie inside the page: a corrupt page gives STORE_CORRUPT, never
 *      a read outside it. Depth is bounded by BT_MAX_DEPTH.
 *   4. Every cell fits in a quarter of a node (keys <= bt_max_key, values
 *      beyond bt_max_local spill to overflow pages), so a split of a full node
 *      plus one cell always leaves two nodes that fit.
 *   5. A VALID cursor pins the pages on its path. Before a tree changes, every
 *      other cursor on that tree saves its key and drops its pins (SAVED); it
 *      finds its place again lazily. The cursor making a change is SAVED
 *      afterwards unless the change left its path intact.
 *   6. Directory: key = tree number big-endian (u32), value = kind u8, table
 *      u32, ncols u32, flags u32. The directory's root is page 2; the catalog
 *      (page 3) is listed in it; every other tree is listed once.
 */
#include "sql/btree.h"
#include "util/mem.h"
#include <assert.h>

enum { CUR_NONE, CUR_VALID, CUR_SAVED };
enum { GAP_ON = 0, GAP_AFTER = 1, GAP_BEFORE = -1 };

struct store_cursor {
    store_txn *txn;
    store_tree root;
    struct store_cursor *next, *prev;
    int linked;
    int state;
    int depth;
    page *pg[BT_MAX_DEPTH];
    int idx[BT_MAX_DEPTH];
    uint8_t *skey; /* saved key (SAVED) or last key seen */
    size_t sklen, skcap;
    int gap;
    uint8_t *prefix;
    size_t plen, pcap;
    int has_prefix;
    uint8_t *vbuf;
    size_t vcap;
};

/* ---- varints and cells ---------------------------------------------------------- */

static inline int varint_len(uint64_t v) {
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline int varint_put(uint8_t *p, uint64_t v) {
    int n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Read a varint of at most 5 bytes from [p, end); 0 on overrun. */
static inline int varint_get(const uint8_t *p, const uint8_t *end, uint32_t *v) {
    uint64_t r = 0;
    for (int i = 0; i < 5 && p + i < end; i++) {
        r |= (uint64_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (r > UINT32_MAX) return 0;
            *v = (uint32_t)r;
            return i + 1;
        }
    }
    return 0;
}

uint32_t sqli_bt_leaf_local(uint32_t usable, size_t klen, size_t vlen) {
    uint32_t maxl = bt_max_local(usable), minl = bt_min_local(usable);
    size_t h = (size_t)varint_len(klen) + (size_t)varint_len(vlen);
    if (h + klen + vlen <= maxl) return (uint32_t)vlen;
    size_t room = maxl - h - klen - 4; /* invariant 4: klen <= max_key keeps this >= 0 */
    size_t lo = minl > h + klen + 4 ? minl - h - klen - 4 : 0;
    if (lo > room) lo = room;
    size_t l = lo + (vlen - lo) % bt_ovfl_cap(usable);
    if (l > room) l = lo;
    return (uint32_t)l;
}

/* Parse a cell at offset off, checking bounds against usable; 0 if bad. */
static int parse_at(const uint8_t *d, uint32_t usable, uint32_t off, int leaf, bt_cell *c) {
    const uint8_t *p = d + off, *end = d + usable;
    int n;
    memset(c, 0, sizeof *c);
    if (leaf) {
        if (!(n = varint_get(p, end, &c->klen))) return 0;
        p += n;
        if (!(n = varint_get(p, end, &c->vlen))) return 0;
        p += n;
        if (c->klen > bt_max_key(usable) || c->vlen > STORE_MAX_VALUE) return 0;
        c->key = p;
        c->vlocal = sqli_bt_leaf_local(usable, c->klen, c->vlen);
        c->val = p + c->klen;
        p += c->klen + c->vlocal;
        if (c->vlocal < c->vlen) {
            if (p + 4 > end) return 0;
            c->ovfl = get32(p);
            p += 4;
            if (c->ovfl == 0) return 0;
        }
    } else {
        if (p + 4 > end) return 0;
        c->child = get32(p);
        p += 4;
        if (!(n = varint_get(p, end, &c->klen))) return 0;
        p += n;
        if (c->klen > bt_max_key(usable)) return 0;
        c->key = p;
        p += c->klen;
        if (c->child == 0) return 0;
    }
    if (p > end) return 0;
    c->size = (uint32_t)(p - (d + off));
    return 1;
}

void sqli_bt_parse(const uint8_t *d, uint32_t usable, int i, bt_cell *c) {
    int ok = parse_at(d, usable, get16(d + NODE_HDR + 2 * i), d[0] == PT_LEAF, c);
    assert(ok);
    (void)ok;
}

/* Leaf cell i of d, parsed without parse_at's bounds checks: d passed
 * sqli_bt_node_sane (invariant 3). A cell that fits whole needs no
 * sqli_bt_leaf_local (its first test, with the header read here). */
static inline void leaf_cell_fast(const uint8_t *d, uint32_t usable, int i, bt_cell *c) {
    const uint8_t *p = d + get16(d + NODE_HDR + 2 * i), *start = p;
    uint32_t kl = 0, vl = 0;
    int sh = 0;
    do kl |= (uint32_t)(*p & 0x7F) << sh, sh += 7;
    while (*p++ & 0x80);
    sh = 0;
    do vl |= (uint32_t)(*p & 0x7F) << sh, sh += 7;
    while (*p++ & 0x80);
    uint32_t h = (uint32_t)(p - start);
    c->key = p;
    c->klen = kl;
    c->vlen = vl;
    c->val = p + kl;
    c->vlocal = h + kl + vl <= bt_max_local(usable) ? vl : sqli_bt_leaf_local(usable, kl, vl);
    c->ovfl = 0;
    c->child = 0;
    p += kl + c->vlocal;
    if (c->vlocal < vl) {
        c->ovfl = get32(p);
        p += 4;
    }
    c->size = (uint32_t)(p - start);
}

int sqli_bt_node_sane(const uint8_t *d, uint32_t usable) {
    if (d[0] != PT_LEAF && d[0] != PT_INTERIOR) return -1;
    uint32_t n = get16(d + 2), content = get16(d + 4), frag = get16(d + 6);
    if (NODE_HDR + 2 * n > content || content > usable || frag > usable) return -1;
    if (d[0] == PT_INTERIOR && get32(d + 8) == 0) return -1;
    uint32_t used = 0, maxl = bt_max_local(usable), maxk = bt_max_key(usable);
    int leaf = d[0] == PT_LEAF;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = get16(d + NODE_HDR + 2 * i);
        if (off < content || off >= usable) return -1;
        /* the common cells, checked as parse_at would, without its call:
         * one-byte lengths, and a leaf's value kept whole in the cell */
        if (leaf && off + 2 <= usable && d[off] < 0x80 && d[off + 1] < 0x80 &&
            2u + d[off] + d[off + 1] <= maxl && d[off] <= maxk) {
            uint32_t size = 2u + d[off] + d[off + 1];
            if (off + size > usable) return -1;
            used += size;
            continue;
        }
        if (!leaf && off + 5 <= usable && d[off + 4] < 0x80 && d[off + 4] <= maxk) {
            uint32_t size = 5u + d[off + 4];
            if (get32(d + off) == 0 || off + size > usable) return -1;
            used += size;
            continue;
        }
        bt_cell c;
        if (!parse_at(d, usable, off, leaf, &c)) return -1;
        used += c.size;
    }
    if (used + frag > usable - content) return -1;
    return 0;
}

/* Keys compare as byte strings. Searches compare short keys (an encoded
 * integer is 9 bytes): eight bytes at a time as big-endian words, without a
 * call to memcmp. */
static inline int keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t n = alen < blen ? alen : blen, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
    for (; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

/* Key of cell i without a full parse (hot path of searches). */
static inline const uint8_t *cell_key(const uint8_t *d, int leaf, int i, uint32_t *klen) {
    const uint8_t *p = d + get16(d + NODE_HDR + 2 * i);
    if (!leaf) p += 4;
    uint32_t k = p[0];
    if (k < 0x80) {
        p++;
    } else {
        k = (k & 0x7F) | ((uint32_t)(p[1] & 0x7F) << 7);
        p += 2;
        if (p[-1] & 0x80) { /* keys are < 2^14 bytes: at most 2 varint bytes */
            k |= (uint32_t)(p[0] & 0x7F) << 14;
            p++;
        }
    }
    if (leaf) {
        while (*p & 0x80) p++;
        p++;
    }
    *klen = k;
    return p;
}

/* ---- node editing --------------------------------------------------------------- */

typedef struct bt {
    store_txn *txn;
    uint32_t usable;
} bt;

static inline uint32_t node_free(const uint8_t *d) {
    return get16(d + 4) - (NODE_HDR + 2u * get16(d + 2)) + get16(d + 6);
}

static void node_init(uint8_t *d, uint32_t usable, int type) {
    memset(d, 0, NODE_HDR);
    d[0] = (uint8_t)type;
    put16(d + 4, (uint16_t)usable);
}

static uint32_t cell_size_fast(const uint8_t *d, uint32_t usable, int i);
static int cell_size_at(const uint8_t *d, uint32_t usable, int i) {
    return (int)cell_size_fast(d, usable, i);
}

/* Pack the cells to the end of the page, removing fragmentation. */
static int node_defrag(uint8_t *d, uint32_t usable, uint8_t *tmp) {
    int n = bt_ncells(d);
    uint32_t top = usable;
    for (int i = 0; i < n; i++) {
        uint32_t off = get16(d + NODE_HDR + 2 * i);
        uint32_t sz = (uint32_t)cell_size_at(d, usable, i);
        if (sz > top - (NODE_HDR + 2u * n)) return STORE_CORRUPT;
        top -= sz;
        memcpy(tmp + top, d + off, sz);
        put16(d + NODE_HDR + 2 * i, (uint16_t)top);
    }
    memcpy(d + top, tmp + top, usable - top);
    put16(d + 4, (uint16_t)top);
    put16(d + 6, 0);
    return STORE_OK;
}

/* Insert a cell at index i if it fits; returns 1 if inserted. */
static int node_insert(uint8_t *d, uint32_t usable, int i, const uint8_t *cell, uint32_t len,
                       uint8_t *tmp) {
    int n = bt_ncells(d);
    uint32_t need = len + 2;
    if (node_free(d) < need) return 0;
    uint32_t content = get16(d + 4);
    if (content - (NODE_HDR + 2u * n) < need) {
        if (node_defrag(d, usable, tmp) != STORE_OK) return 0;
        content = get16(d + 4);
    }
    content -= len;
    memcpy(d + content, cell, len);
    uint8_t *ptrs = d + NODE_HDR;
    memmove(ptrs + 2 * (i + 1), ptrs + 2 * i, 2 * (size_t)(n - i));
    put16(ptrs + 2 * i, (uint16_t)content);
    put16(d + 2, (uint16_t)(n + 1));
    put16(d + 4, (uint16_t)content);
    return 1;
}

static void node_drop(uint8_t *d, uint32_t usable, int i) {
    int n = bt_ncells(d);
    uint32_t off = get16(d + NODE_HDR + 2 * i), sz = (uint32_t)cell_size_at(d, usable, i);
    uint8_t *ptrs = d + NODE_HDR;
    memmove(ptrs + 2 * i, ptrs + 2 * (i + 1), 2 * (size_t)(n - i - 1));
    put16(d + 2, (uint16_t)(n - 1));
    if (n - 1 == 0) {
        put16(d + 4, (uint16_t)usable);
        put16(d + 6, 0);
    } else if (off == get16(d + 4)) {
        put16(d + 4, (uint16_t)(off + sz));
    } else {
        put16(d + 6, (uint16_t)(get16(d + 6) + sz));
    }
}

static void set_child(uint8_t *d, uint32_t usable, int i, uint32_t child) {
    if (i >= bt_ncells(d)) {
        put32(d + 8, child);
    } else {
        put32(d + get16(d + NODE_HDR + 2 * i), child);
    }
    (void)usable;
}

/* Rebuild a node from a list of cells (pointers into stable memory). */
typedef struct cellref {
    const uint8_t *p;
    uint32_t len;
} cellref;

static void node_build(uint8_t *d, uint32_t usable, int type, uint32_t right, const cellref *c,
                       int n) {
    node_init(d, usable, type);
    put32(d + 8, right);
    uint32_t top = usable;
    for (int i = 0; i < n; i++) {
        top -= c[i].len;
        memcpy(d + top, c[i].p, c[i].len);
        put16(d + NODE_HDR + 2 * i, (uint16_t)top);
    }
    assert(top >= NODE_HDR + 2u * n);
    put16(d + 2, (uint16_t)n);
    put16(d + 4, (uint16_t)top);
}

/* ---- page access with sanity checks ----------------------------------------------- */

static int get_node(store_txn *txn, uint32_t pgno, page **out) {
    int rc = sqli_pager_get(txn, pgno, out);
    if (rc != STORE_OK) return rc;
    page *p = *out;
    if (!__atomic_load_n(&p->checked, __ATOMIC_ACQUIRE)) {
        if (sqli_bt_node_sane(p->data, txn->db->usable) != 0) {
            sqli_pager_put(p);
            *out = NULL;
            return sqli_store_error(STORE_CORRUPT, "%s: page %u is not a valid tree page",
                                    txn->db->path, pgno);
        }
        __atomic_store_n(&p->checked, 1, __ATOMIC_RELEASE);
    }
    return STORE_OK;
}

/* ---- cursor stack -------------------------------------------------------------- */

static void release_stack(store_cursor *cur) {
    for (int i = 0; i < cur->depth; i++) sqli_pager_put(cur->pg[i]);
    cur->depth = 0;
}

static void save_key(store_cursor *cur, const uint8_t *k, size_t n) {
    if (n > cur->skcap) {
        cur->skcap = n < 64 ? 64 : n;
        cur->skey = xrealloc(cur->skey, cur->skcap);
    }
    memcpy(cur->skey, k, n);
    cur->sklen = n;
}

static inline const uint8_t *cur_leaf(const store_cursor *cur) {
    return cur->pg[cur->depth - 1]->data;
}

static const uint8_t *cur_key(const store_cursor *cur, uint32_t *klen) {
    return cell_key(cur_leaf(cur), 1, cur->idx[cur->depth - 1], klen);
}

/* Save position as (current key, gap) and drop pins (a missed
 * STORE_SEEK_EQ's kept path too: the tree is about to change under it). */
static void cursor_save(store_cursor *cur, int gap) {
    if (cur->state == CUR_VALID) {
        uint32_t kl;
        const uint8_t *k = cur_key(cur, &kl);
        save_key(cur, k, kl);
        release_stack(cur);
        cur->state = CUR_SAVED;
        cur->gap = gap;
    } else if (cur->depth > 0) {
        release_stack(cur);
    }
}

static void cursors_save(store_txn *txn, store_tree tree, store_cursor *except) {
    for (store_cursor *c = txn->cursors; c; c = c->next)
        if (c != except && (tree == 0 || c->root == tree)) cursor_save(c, GAP_ON);
}

static int push(store_cursor *cur, uint32_t pgno, int idx) {
    if (cur->depth >= BT_MAX_DEPTH)
        return sqli_store_error(STORE_CORRUPT, "%s: tree %u is deeper than %d levels",
                                cur->txn->db->path, cur->root, BT_MAX_DEPTH);
    page *p;
    int rc = get_node(cur->txn, pgno, &p);
    if (rc != STORE_OK) return rc;
    if (cur->depth > 0 && cur->pg[cur->depth - 1]->data[0] != PT_INTERIOR) {
        sqli_pager_put(p);
        return STORE_CORRUPT;
    }
    cur->pg[cur->depth] = p;
    cur->idx[cur->depth] = idx;
    cur->depth++;
    return STORE_OK;
}

/* Leaf level must be a leaf, and inner levels interior. */
static int check_leaf(store_cursor *cur) {
    if (cur_leaf(cur)[0] != PT_LEAF)
        return sqli_store_error(STORE_CORRUPT, "%s: tree %u: unbalanced levels", cur->txn->db->path,
                                cur->root);
    return STORE_OK;
}

/* Binary search in a node: first index whose key is > k (upper) or >= k. */
static int node_search(const uint8_t *d, int leaf, const uint8_t *k, size_t klen, int upper,
                       int *exact) {
    int lo = 0, hi = bt_ncells(d);
    *exact = 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        uint32_t ml;
        const uint8_t *mk = cell_key(d, leaf, mid, &ml);
        int c = keycmp(mk, ml, k, klen);
        if (c < 0 || (upper && c == 0)) {
            lo = mid + 1;
        } else {
            if (c == 0) *exact = 1;
            hi = mid;
        }
    }
    return lo;
}

/* Descend to the leaf where k belongs; leaf idx = lower/upper bound.
 * A valid cursor's stack is the path to its leaf, pinned, and seeks that
 * follow one another mostly share most of it:
 *   - a key between the first and the last key of that leaf can only be in
 *     that leaf (keys are unique): the leaf alone is searched, so lookups in
 *     key order (a join probing a table's key) skip the descent, and one that
 *     lands on the entry after the cursor's is found without a search;
 *   - otherwise the descent starts from the pinned root, and every level
 *     whose child is the page already pinned there keeps it: only the pages
 *     below the point where the paths part are fetched from the pager. */
static int moveto(store_cursor *cur, const uint8_t *k, size_t klen, int upper, int *exact) {
    int keep = 0; /* levels of the old path still pinned and usable */
    if (cur->state == CUR_NONE && cur->depth == 1) {
        keep = 1; /* a new cursor's root (sqli_store_cursor_open) */
    } else if (cur->state == CUR_SAVED && cur->depth > 0) {
        /* a missed STORE_SEEK_EQ kept its path (do_seek): the same key again
         * (an upsert's insert after its conflict check) needs no search */
        assert(cur->gap == GAP_BEFORE && cur_leaf(cur)[0] == PT_LEAF);
        if (!upper && klen == cur->sklen && memcmp(k, cur->skey, klen) == 0) {
            cur->state = CUR_NONE;
            *exact = 0;
            return STORE_OK;
        }
        keep = cur->depth;
    } else if (cur->state == CUR_VALID && cur->depth > 0 && cur_leaf(cur)[0] == PT_LEAF) {
        const uint8_t *d = cur_leaf(cur);
        int n = bt_ncells(d);
        uint32_t fl, ll;
        int i = cur->idx[cur->depth - 1];
        if (i + 1 < n) { /* the very next entry: a probe one key further */
            const uint8_t *a = cell_key(d, 1, i, &fl), *b = cell_key(d, 1, i + 1, &ll);
            int ca = keycmp(a, fl, k, klen), cb;
            if ((upper ? ca <= 0 : ca < 0) &&
                ((cb = keycmp(b, ll, k, klen)) > 0 || (!upper && cb == 0))) {
                cur->state = CUR_NONE;
                cur->idx[cur->depth - 1] = i + 1;
                *exact = !upper && cb == 0;
                return STORE_OK;
            }
        }
        if (n > 0) {
            const uint8_t *f = cell_key(d, 1, 0, &fl), *l = cell_key(d, 1, n - 1, &ll);
            if (keycmp(f, fl, k, klen) <= 0 && keycmp(k, klen, l, ll) <= 0) {
                cur->state = CUR_NONE;
                cur->idx[cur->depth - 1] = node_search(d, 1, k, klen, upper, exact);
                return STORE_OK;
            }
        }
        keep = cur->depth;
    }
    cur->state = CUR_NONE;
    *exact = 0;
    int rc = STORE_OK;
    if (!keep) {
        release_stack(cur);
        rc = push(cur, cur->root, 0);
    }
    assert(rc != STORE_OK || cur->pg[0]->pgno == cur->root);
    for (int l = 0; rc == STORE_OK; l++) {
        const uint8_t *d = cur->pg[l]->data;
        if (d[0] == PT_LEAF) {
            assert(cur->depth == l + 1);
            cur->idx[l] = node_search(d, 1, k, klen, upper, exact);
            return STORE_OK;
        }
        int e;
        int i = node_search(d, 0, k, klen, 1, &e);
        uint32_t child = bt_child(d, cur->txn->db->usable, i);
        cur->idx[l] = i;
        if (l + 1 < keep && cur->pg[l + 1]->pgno == child) continue;
        keep = 0;
        while (cur->depth > l + 1) sqli_pager_put(cur->pg[--cur->depth]);
        rc = push(cur, child, 0);
    }
    release_stack(cur);
    return rc;
}

/* Descend from the current top to the leftmost (dir < 0) or rightmost leaf. */
static int descend_edge(store_cursor *cur, int right) {
    uint32_t usable = cur->txn->db->usable;
    for (;;) {
        const uint8_t *d = cur->pg[cur->depth - 1]->data;
        int n = bt_ncells(d);
        if (d[0] == PT_LEAF) {
            cur->idx[cur->depth - 1] = right ? n - 1 : 0;
            return STORE_OK;
        }
        cur->idx[cur->depth - 1] = right ? n : 0;
        int rc = push(cur, bt_child(d, usable, right ? n : 0), 0);
        if (rc != STORE_OK) return rc;
    }
}

/* Make the position valid going forward: STORE_NOTFOUND if past the end. */
static int fix_forward(store_cursor *cur) {
    for (;;) {
        int L = cur->depth - 1;
        if (cur->idx[L] < bt_ncells(cur->pg[L]->data)) return check_leaf(cur);
        /* Climb to an ancestor with a next child. */
        int l = L - 1;
        while (l >= 0 && cur->idx[l] >= bt_ncells(cur->pg[l]->data)) l--;
        if (l < 0) return STORE_NOTFOUND;
        while (cur->depth > l + 1) sqli_pager_put(cur->pg[--cur->depth]);
        cur->idx[l]++;
        int rc = push(cur, bt_child(cur->pg[l]->data, cur->txn->db->usable, cur->idx[l]), 0);
        if (rc == STORE_OK) rc = descend_edge(cur, 0);
        if (rc != STORE_OK) return rc;
    }
}

static int fix_backward(store_cursor *cur) {
    for (;;) {
        int L = cur->depth - 1;
        if (cur->idx[L] >= 0 && cur->idx[L] < bt_ncells(cur->pg[L]->data)) return check_leaf(cur);
        int l = L - 1;
        while (l >= 0 && cur->idx[l] == 0) l--;
        if (l < 0) return STORE_NOTFOUND;
        while (cur->depth > l + 1) sqli_pager_put(cur->pg[--cur->depth]);
        cur->idx[l]--;
        int rc = push(cur, bt_child(cur->pg[l]->data, cur->txn->db->usable, cur->idx[l]), 0);
        if (rc == STORE_OK) rc = descend_edge(cur, 1);
        if (rc != STORE_OK) return rc;
    }
}

/* ---- seeking ------------------------------------------------------------------- */

static int has_prefix(store_cursor *cur) {
    if (!cur->has_prefix) return 1;
    uint32_t kl;
    const uint8_t *k = cur_key(cur, &kl);
    return kl >= cur->plen && memcmp(k, cur->prefix, cur->plen) == 0;
}

/* After a positioning attempt: rc OK -> VALID (unless out of the prefix);
 * NOTFOUND -> SAVED in the gap (gk, gap). forward tells which way the search
 * went: a key found beyond the prefix parks the cursor just before it (going
 * forward) or just after it (going backward). */
static int settle(store_cursor *cur, int rc, const uint8_t *gk, size_t gklen, int gap,
                  int forward) {
    if (rc == STORE_OK && !has_prefix(cur)) {
        uint32_t kl;
        const uint8_t *k = cur_key(cur, &kl);
        save_key(cur, k, kl);
        release_stack(cur);
        cur->state = CUR_SAVED;
        cur->gap = forward ? GAP_BEFORE : GAP_AFTER;
        return STORE_NOTFOUND;
    }
    if (rc == STORE_OK) {
        cur->state = CUR_VALID;
        return STORE_OK;
    }
    release_stack(cur);
    if (rc != STORE_NOTFOUND) {
        cur->state = CUR_NONE;
        return rc;
    }
    if (gk) {
        if (gk != cur->skey) save_key(cur, gk, gklen);
        cur->state = CUR_SAVED;
        cur->gap = gap;
    } else {
        cur->state = CUR_NONE;
    }
    return STORE_NOTFOUND;
}

static int do_seek(store_cursor *cur, store_seek op, const uint8_t *k, size_t klen) {
    int exact, rc;
    switch (op) {
    case STORE_SEEK_FIRST:
    case STORE_SEEK_LAST:
        release_stack(cur);
        rc = push(cur, cur->root, 0);
        if (rc == STORE_OK) rc = descend_edge(cur, op == STORE_SEEK_LAST);
        if (rc == STORE_OK) rc = op == STORE_SEEK_LAST ? fix_backward(cur) : fix_forward(cur);
        return settle(cur, rc, NULL, 0, 0, op == STORE_SEEK_FIRST);
    case STORE_SEEK_EQ:
        rc = moveto(cur, k, klen, 0, &exact);
        if (rc == STORE_OK) rc = check_leaf(cur);
        if (rc == STORE_OK && !exact) {
            /* a miss keeps its path pinned, the leaf index on where the key
             * would go: a put of this key (moveto) starts there. The first
             * change to the tree drops it (cursor_save). */
            save_key(cur, k, klen);
            cur->state = CUR_SAVED;
            cur->gap = GAP_BEFORE;
            return STORE_NOTFOUND;
        }
        return settle(cur, rc, k, klen, GAP_BEFORE, 1);
    case STORE_SEEK_GE:
    case STORE_SEEK_PREFIX:
    case STORE_SEEK_GT:
        rc = moveto(cur, k, klen, op == STORE_SEEK_GT, &exact);
        if (rc == STORE_OK) rc = fix_forward(cur);
        return settle(cur, rc, k, klen, op == STORE_SEEK_GT ? GAP_AFTER : GAP_BEFORE, 1);
    case STORE_SEEK_LE:
    case STORE_SEEK_LT:
        rc = moveto(cur, k, klen, op == STORE_SEEK_LE, &exact);
        if (rc == STORE_OK) {
            cur->idx[cur->depth - 1]--;
            rc = fix_backward(cur);
        }
        return settle(cur, rc, k, klen, op == STORE_SEEK_LE ? GAP_AFTER : GAP_BEFORE, 0);
    }
    return sqli_store_error(STORE_MISUSE, "bad seek operation %d", (int)op);
}

static int cursor_usable(store_cursor *cur) {
    if (!cur) return sqli_store_error(STORE_MISUSE, "no cursor");
    if (cur->txn->err) return cur->txn->err;
    return STORE_OK;
}

int sqli_store_cursor_seek(store_cursor *cur, store_seek op, const void *key, size_t klen) {
    int rc = cursor_usable(cur);
    if (rc != STORE_OK) return rc;
    if (!key && op != STORE_SEEK_FIRST && op != STORE_SEEK_LAST)
        return sqli_store_error(STORE_MISUSE, "seek without a key");
    cur->has_prefix = 0;
    if (op == STORE_SEEK_PREFIX) {
        if (klen > cur->pcap) {
            cur->pcap = klen;
            cur->prefix = xrealloc(cur->prefix, klen);
        }
        memcpy(cur->prefix, key, klen);
        cur->plen = klen;
        cur->has_prefix = 1;
    }
    return do_seek(cur, op, key, klen);
}

/* Put a SAVED cursor back on its key if it is still there. */
static int restore(store_cursor *cur) {
    if (cur->state != CUR_SAVED || cur->gap != GAP_ON) return STORE_OK;
    int exact;
    int rc = moveto(cur, cur->skey, cur->sklen, 0, &exact);
    if (rc == STORE_OK && exact) {
        cur->state = CUR_VALID;
        return check_leaf(cur);
    }
    release_stack(cur);
    cur->state = CUR_SAVED;
    cur->gap = GAP_BEFORE; /* the key is gone: sit where it was */
    return rc == STORE_OK ? STORE_NOTFOUND : rc;
}

static int step(store_cursor *cur, int forward) {
    int rc = cursor_usable(cur);
    if (rc != STORE_OK) return rc;
    if (cur->state == CUR_NONE) {
        cur->has_prefix = 0;
        return do_seek(cur, forward ? STORE_SEEK_FIRST : STORE_SEEK_LAST, NULL, 0);
    }
    if (cur->state == CUR_SAVED) {
        store_seek op;
        if (forward)
            op = cur->gap == GAP_BEFORE ? STORE_SEEK_GE : STORE_SEEK_GT;
        else
            op = cur->gap == GAP_AFTER ? STORE_SEEK_LE : STORE_SEEK_LT;
        /* Seek from a copy: settle may overwrite skey. */
        size_t n = cur->sklen;
        uint8_t small[128], *k = n <= sizeof small ? small : xmalloc(n);
        memcpy(k, cur->skey, n);
        rc = do_seek(cur, op, k, n);
        if (k != small) xfree(k);
        return rc;
    }
    int L = cur->depth - 1;
    int n = bt_ncells(cur->pg[L]->data);
    int edge = forward ? cur->idx[L] + 1 >= n : cur->idx[L] == 0;
    if (edge) { /* leaving this leaf: remember where we were */
        uint32_t kl;
        const uint8_t *k = cur_key(cur, &kl);
        save_key(cur, k, kl);
    }
    cur->idx[L] += forward ? 1 : -1;
    rc = forward ? fix_forward(cur) : fix_backward(cur);
    if (rc == STORE_OK && !edge && !cur->has_prefix) return STORE_OK;
    return settle(cur, rc, cur->skey, cur->sklen, forward ? GAP_AFTER : GAP_BEFORE, forward);
}

int sqli_store_cursor_next(store_cursor *cur) {
    return step(cur, 1);
}

int sqli_store_cursor_prev(store_cursor *cur) {
    return step(cur, 0);
}

/* ---- reading entries --------------------------------------------------------------- */

static int positioned(store_cursor *cur) {
    int rc = cursor_usable(cur);
    if (rc != STORE_OK) return rc;
    if (cur->state == CUR_SAVED && cur->gap == GAP_ON) {
        rc = restore(cur);
        if (rc == STORE_NOTFOUND) return sqli_store_error(STORE_NOTFOUND, "the entry was deleted");
        if (rc != STORE_OK) return rc;
    }
    if (cur->state != CUR_VALID) return sqli_store_error(STORE_MISUSE, "cursor is not on an entry");
    return STORE_OK;
}

int sqli_store_cursor_key(store_cursor *cur, const void **key, size_t *klen) {
    int rc = positioned(cur);
    if (rc != STORE_OK) return rc;
    uint32_t kl;
    *key = cur_key(cur, &kl);
    *klen = kl;
    return STORE_OK;
}

/* The cell the cursor stands on (leaf_cell_fast: its leaf passed the
 * sanity check). */
static void cur_cell(store_cursor *cur, bt_cell *c) {
    assert(cur_leaf(cur)[0] == PT_LEAF);
    leaf_cell_fast(cur_leaf(cur), cur->txn->db->usable, cur->idx[cur->depth - 1], c);
}

/* Copy n bytes of an overflowing value from offset off (>= local part). */
static int read_overflow(store_txn *txn, const bt_cell *c, size_t off, uint8_t *out, size_t n) {
    uint32_t cap = bt_ovfl_cap(txn->db->usable);
    uint32_t pgno = c->ovfl;
    size_t pos = c->vlocal; /* value offset where this page's data starts */
    int rc = STORE_OK;
    while (n > 0 && rc == STORE_OK) {
        page *p;
        if (pgno == 0)
            return sqli_store_error(STORE_CORRUPT, "%s: overflow chain cut short", txn->db->path);
        if ((rc = sqli_pager_get(txn, pgno, &p)) != STORE_OK) break;
        if (p->data[0] != PT_OVERFLOW) {
            sqli_pager_put(p);
            return sqli_store_error(STORE_CORRUPT, "%s: page %u is not an overflow page",
                                    txn->db->path, pgno);
        }
        if (off < pos + cap) {
            size_t from = off - pos, take = cap - from < n ? cap - from : n;
            memcpy(out, p->data + OVFL_HDR + from, take);
            out += take;
            off += take;
            n -= take;
        }
        pos += cap;
        pgno = get32(p->data + 4);
        sqli_pager_put(p);
    }
    return rc;
}

static int cell_value(store_txn *txn, const bt_cell *c, uint8_t **buf, size_t *cap,
                      const void **val) {
    if (!c->ovfl) {
        *val = c->val;
        return STORE_OK;
    }
    if (*cap < c->vlen || !*buf) {
        *cap = c->vlen ? c->vlen : 1;
        xfree(*buf);
        *buf = xmalloc(*cap);
    }
    memcpy(*buf, c->val, c->vlocal);
    int rc = read_overflow(txn, c, c->vlocal, *buf + c->vlocal, c->vlen - c->vlocal);
    *val = *buf;
    return rc;
}

int sqli_store_cursor_value(store_cursor *cur, const void **val, size_t *vlen) {
    int rc = positioned(cur);
    if (rc != STORE_OK) return rc;
    bt_cell c;
    cur_cell(cur, &c);
    *vlen = c.vlen;
    return cell_value(cur->txn, &c, &cur->vbuf, &cur->vcap, val);
}

int sqli_store_cursor_value_size(store_cursor *cur, size_t *vlen) {
    int rc = positioned(cur);
    if (rc != STORE_OK) return rc;
    bt_cell c;
    cur_cell(cur, &c);
    *vlen = c.vlen;
    return STORE_OK;
}

int sqli_store_cursor_value_read(store_cursor *cur, size_t off, void *buf, size_t n) {
    int rc = positioned(cur);
    if (rc != STORE_OK) return rc;
    bt_cell c;
    cur_cell(cur, &c);
    if (off > c.vlen || n > c.vlen - off)
        return sqli_store_error(STORE_MISUSE, "read past the end of a %u-byte value", c.vlen);
    uint8_t *out = buf;
    if (off < c.vlocal) {
        size_t take = c.vlocal - off < n ? c.vlocal - off : n;
        memcpy(out, c.val + off, take);
        out += take;
        off += take;
        n -= take;
    }
    return n ? read_overflow(cur->txn, &c, off, out, n) : STORE_OK;
}

/* ---- writing: cells with overflow chains ---------------------------------------------- */

static int free_chain(store_txn *txn, uint32_t pgno, uint32_t vlen, uint32_t vlocal) {
    uint32_t cap = bt_ovfl_cap(txn->db->usable);
    uint64_t left = vlen - vlocal;
    int rc = STORE_OK;
    while (left > 0 && rc == STORE_OK) {
        page *p;
        if ((rc = sqli_pager_get(txn, pgno, &p)) != STORE_OK) break;
        if (p->data[0] != PT_OVERFLOW) {
            sqli_pager_put(p);
            return sqli_store_error(STORE_CORRUPT, "%s: page %u is not an overflow page",
                                    txn->db->path, pgno);
        }
        uint32_t next = get32(p->data + 4);
        sqli_pager_put(p);
        rc = sqli_pager_free(txn, pgno);
        pgno = next;
        left -= left < cap ? left : cap;
    }
    return rc;
}

/* Build a leaf cell in out (at most bt_max_local bytes), writing the
 * overflowing part of the value to new pages. */
static int build_leaf_cell(store_txn *txn, const uint8_t *k, size_t klen, const uint8_t *v,
                           size_t vlen, uint8_t *out, uint32_t *len) {
    uint32_t usable = txn->db->usable, cap = bt_ovfl_cap(usable);
    uint32_t local = sqli_bt_leaf_local(usable, klen, vlen);
    uint8_t *p = out;
    p += varint_put(p, klen);
    p += varint_put(p, vlen);
    memcpy(p, k, klen);
    p += klen;
    memcpy(p, v, local);
    p += local;
    if (local < vlen) {
        const uint8_t *rest = v + local;
        size_t left = vlen - local;
        page *prev = NULL;
        int rc = STORE_OK;
        uint32_t first = 0;
        while (left > 0) {
            page *np;
            if ((rc = sqli_pager_alloc(txn, &np)) != STORE_OK) break;
            np->data[0] = PT_OVERFLOW;
            size_t take = left < cap ? left : cap;
            memcpy(np->data + OVFL_HDR, rest, take);
            rest += take;
            left -= take;
            if (prev) {
                put32(prev->data + 4, np->pgno);
                sqli_pager_put(prev);
            } else {
                first = np->pgno;
            }
            prev = np;
        }
        sqli_pager_put(prev);
        if (rc != STORE_OK) return rc;
        put32(p, first);
        p += 4;
    }
    *len = (uint32_t)(p - out);
    return STORE_OK;
}

/* ---- splits --------------------------------------------------------------------- */

/* Is every level above `level` at its rightmost child? */
static int on_right_edge(const store_cursor *cur, int level) {
    for (int l = 0; l < level; l++)
        if (cur->idx[l] != bt_ncells(cur->pg[l]->data)) return 0;
    return 1;
}

/* Give the root's content to a new child, making the root an interior node
 * with that one child; the cursor path gains a level below the root. */
static int deepen_root(store_cursor *cur) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable;
    if (cur->depth >= BT_MAX_DEPTH)
        return sqli_store_error(STORE_FULL, "%s: tree %u too deep", txn->db->path, cur->root);
    page *c;
    int rc = sqli_pager_alloc(txn, &c);
    if (rc != STORE_OK) return rc;
    memcpy(c->data, cur->pg[0]->data, usable);
    __atomic_store_n(&c->checked, 1, __ATOMIC_RELEASE);
    node_init(cur->pg[0]->data, usable, PT_INTERIOR);
    put32(cur->pg[0]->data + 8, c->pgno);
    memmove(&cur->pg[2], &cur->pg[1], sizeof(page *) * (size_t)(cur->depth - 1));
    memmove(&cur->idx[2], &cur->idx[1], sizeof(int) * (size_t)(cur->depth - 1));
    cur->pg[1] = c;
    cur->idx[1] = cur->idx[0];
    cur->idx[0] = 0;
    cur->depth++;
    return STORE_OK;
}

/* Shortest s with a < s <= b (a < b). */
static size_t separator_len(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t j = 0;
    while (j < alen && j < blen && a[j] == b[j]) j++;
    assert(j < blen);
    return j + 1;
}

static int insert_cell(store_cursor *cur, int level, int idx, const uint8_t *cell, uint32_t len,
                       int *split);

/* Choose part boundaries for cells c[0..n) so that each of `parts` pages
 * gets about the same bytes, none is empty and none exceeds cap. k[i] is the
 * first cell of part i + 1. Returns 0, or -1 if no such split exists. */
static int choose_parts(const cellref *c, int n, int parts, uint32_t cap, int *k) {
    uint32_t total = 0;
    for (int i = 0; i < n; i++) total += c[i].len + 2;
    if (n < parts || total > cap * (uint32_t)parts) return -1;
    uint32_t acc = 0;
    int at = 0;
    for (int p = 1; p < parts; p++) {
        uint32_t goal = (uint32_t)((uint64_t)total * (uint32_t)p / (uint32_t)parts);
        while (at < n - (parts - p) && acc + (c[at].len + 2) / 2 <= goal) acc += c[at++].len + 2;
        if (at <= (p > 1 ? k[p - 2] : 0)) acc += c[at++].len + 2; /* never empty */
        k[p - 1] = at;
    }
    /* Repair parts that came out too big by moving boundaries. */
    for (int iter = 0; iter < 4 * n; iter++) {
        int ok = 1;
        for (int p = 0; p < parts; p++) {
            int from = p ? k[p - 1] : 0, to = p < parts - 1 ? k[p] : n;
            uint32_t sz = 0;
            for (int i = from; i < to; i++) sz += c[i].len + 2;
            if (sz <= cap) continue;
            ok = 0;
            if (p < parts - 1 && to - from > 1)
                k[p]--; /* give the last cell right */
            else if (p > 0 && to - from > 1)
                k[p - 1]++; /* or the first cell left */
            else
                return -1;
        }
        if (ok) return 0;
    }
    return -1;
}

/* Size of cell i of a sane node, without the bounds checks of parse_at. */
static uint32_t cell_size_fast(const uint8_t *d, uint32_t usable, int i) {
    if (d[0] == PT_LEAF) {
        bt_cell c;
        leaf_cell_fast(d, usable, i, &c);
        return c.size;
    }
    const uint8_t *p = d + get16(d + NODE_HDR + 2 * i), *q = p + 4;
    uint32_t kl = 0;
    int sh = 0;
    do kl |= (uint32_t)(*q & 0x7F) << sh, sh += 7;
    while (*q++ & 0x80);
    return (uint32_t)(q - p) + kl;
}

/* Copy the cells of node d into t (stable memory) as refs, inserting extra
 * cells at index at (n_extra of them). Returns the number of refs. */
static int gather(const uint8_t *d, uint32_t usable, cellref *c, uint8_t **t, int at,
                  const cellref *extra, int n_extra) {
    int n = bt_ncells(d), m = 0;
    for (int i = 0; i <= n; i++) {
        if (i == at)
            for (int e = 0; e < n_extra; e++) c[m++] = extra[e];
        if (i == n) break;
        uint32_t sz = cell_size_fast(d, usable, i);
        memcpy(*t, d + get16(d + NODE_HDR + 2 * i), sz);
        c[m].p = *t;
        c[m++].len = sz;
        *t += sz;
    }
    return m;
}

static void make_icell(uint8_t *out, uint32_t *len, uint32_t child, const uint8_t *k, size_t kl) {
    put32(out, child);
    *len = 4 + (uint32_t)varint_put(out + 4, kl);
    memcpy(out + *len, k, kl);
    *len += (uint32_t)kl;
}

/* Post (left, sep) into the parent of `level` where the pointer to left was;
 * that pointer now leads to right_pgno. */
static int post_separator(store_cursor *cur, int level, uint32_t left, uint32_t right_pgno,
                          const uint8_t *sep, size_t seplen) {
    store_txn *txn = cur->txn;
    int pl = level - 1, pidx = cur->idx[pl], dummy;
    int rc = sqli_pager_write(txn, &cur->pg[pl]);
    if (rc != STORE_OK) return rc;
    set_child(cur->pg[pl]->data, txn->db->usable, pidx, right_pgno);
    uint8_t *ic = xmalloc(seplen + 16);
    uint32_t ilen;
    make_icell(ic, &ilen, left, sep, seplen);
    rc = insert_cell(cur, pl, pidx, ic, ilen, &dummy);
    xfree(ic);
    return rc;
}

/* Make the node at `level` hold exactly cells c[0..n) (stable memory, not
 * the node itself) and, for an interior node, rightmost child `right`;
 * split in two when they do not fit, posting the separator upwards. append:
 * the caller is appending at the tree's right edge (keep the left page full). */
static int node_replace(store_cursor *cur, int level, cellref *c, int n, uint32_t right,
                        int append) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable, cap = usable - NODE_HDR;
    int type = cur->pg[level]->data[0], leaf = type == PT_LEAF;
    uint32_t total = 0;
    for (int i = 0; i < n; i++) total += c[i].len + 2;
    int rc = sqli_pager_write(txn, &cur->pg[level]);
    if (rc != STORE_OK) return rc;
    if (total <= cap) {
        node_build(cur->pg[level]->data, usable, type, right, c, n);
        return STORE_OK;
    }
    if (level == 0) {
        if ((rc = deepen_root(cur)) != STORE_OK) return rc;
        level = 1;
    }
    int k;
    if (append) {
        k = leaf ? n - 1 : n - 2;
    } else if (choose_parts(c, n, 2, cap, &k) < 0) {
        return sqli_store_error(STORE_CORRUPT, "%s: cells do not fit in two pages", txn->db->path);
    } else if (!leaf && k == n - 1) {
        k--; /* the promoted cell must leave a cell on the right */
    }
    page *rp;
    if ((rc = sqli_pager_alloc(txn, &rp)) != STORE_OK) return rc;
    __atomic_store_n(&rp->checked, 1, __ATOMIC_RELEASE);
    uint8_t *d = cur->pg[level]->data, *sep;
    size_t seplen;
    if (leaf) {
        node_build(d, usable, PT_LEAF, 0, c, k);
        node_build(rp->data, usable, PT_LEAF, 0, c + k, n - k);
        uint32_t al, bl;
        const uint8_t *a = cell_key(d, 1, k - 1, &al), *b = cell_key(rp->data, 1, 0, &bl);
        seplen = separator_len(a, al, b, bl);
        sep = (uint8_t *)xmemdup(b, seplen);
    } else {
        /* Cell k moves up: its child becomes the left node's rightmost. */
        uint32_t kl = 0;
        const uint8_t *kp = c[k].p + 4;
        int vn = varint_get(kp, kp + 5, &kl);
        sep = (uint8_t *)xmemdup(kp + vn, kl);
        seplen = kl;
        node_build(rp->data, usable, PT_INTERIOR, right, c + k + 1, n - k - 1);
        node_build(d, usable, PT_INTERIOR, get32(c[k].p), c, k);
    }
    uint32_t left = cur->pg[level]->pgno, rpg = rp->pgno;
    sqli_pager_put(rp);
    rc = post_separator(cur, level, left, rpg, sep, seplen);
    xfree(sep);
    return rc;
}

/* Split the node at `level` while inserting cell at idx. */
static int split_node(store_cursor *cur, int level, int idx, const uint8_t *cell, uint32_t len) {
    store_txn *txn = cur->txn;
    uint8_t *d = cur->pg[level]->data, *t = txn->scratch;
    int n = bt_ncells(d);
    cellref *c = xmalloc(sizeof *c * (size_t)(n + 1));
    cellref extra = {cell, len};
    int m = gather(d, txn->db->usable, c, &t, idx, &extra, 1);
    int append = idx == n && on_right_edge(cur, level);
    int rc = node_replace(cur, level, c, m, get32(d + 8), append);
    xfree(c);
    return rc;
}

/* The leaf sibling of the node at `level` with more free room: the right
 * one, unless the left one has more room while the right one is nearly
 * full. *right tells which; NULL (STORE_OK) if there is none. */
static int pick_sibling(store_cursor *cur, int level, page **sibp, int *right) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable, cap = usable - NODE_HDR;
    const uint8_t *pd = cur->pg[level - 1]->data;
    int i = cur->idx[level - 1], pn = bt_ncells(pd);
    page *sib, *other;
    *sibp = NULL;
    *right = i < pn;
    if (pn == 0) return STORE_OK;
    int rc = get_node(txn, bt_child(pd, usable, *right ? i + 1 : i - 1), &sib);
    if (rc != STORE_OK) return rc;
    if (*right && i > 0 && node_free(sib->data) < cap / 4 &&
        get_node(txn, bt_child(pd, usable, i - 1), &other) == STORE_OK) {
        if (node_free(other->data) > node_free(sib->data)) {
            page *x = sib;
            sib = other;
            other = x;
            *right = 0;
        }
        sqli_pager_put(other);
    }
    if (sib->data[0] != PT_LEAF) {
        sqli_pager_put(sib);
        return STORE_OK;
    }
    *sibp = sib;
    return STORE_OK;
}

/* Parent cell j (left child, old separator) becomes the cells pc[0..n). */
static int replace_separator(store_cursor *cur, int pl, int j, const cellref *pc, int n) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable;
    int rc, dummy;
    if (n == 1) { /* drop the old, insert the new */
        if ((rc = sqli_pager_write(txn, &cur->pg[pl])) != STORE_OK) return rc;
        node_drop(cur->pg[pl]->data, usable, j);
        return insert_cell(cur, pl, j, pc[0].p, pc[0].len, &dummy);
    }
    const uint8_t *pd = cur->pg[pl]->data;
    int ppn = bt_ncells(pd), m = 0;
    cellref *cp = xmalloc(sizeof *cp * (size_t)(ppn + n));
    uint8_t *t = txn->scratch;
    for (int x = 0; x < ppn; x++) {
        if (x == j) {
            for (int e = 0; e < n; e++) cp[m++] = pc[e];
            continue;
        }
        uint32_t sz = cell_size_fast(pd, usable, x);
        memcpy(t, pd + get16(pd + NODE_HDR + 2 * x), sz);
        cp[m].p = t;
        cp[m++].len = sz;
        t += sz;
    }
    rc = node_replace(cur, pl, cp, m, get32(pd + 8), 0);
    xfree(cp);
    return rc;
}

/* Lay out cells c[0..n) over `parts` leaves (k: boundaries) and make the
 * parent cells that separate them in ic (pc[parts - 1]). */
static void build_parts(uint32_t usable, cellref *c, int n, int parts, const int *k,
                        uint8_t **pages, const uint32_t *kids, uint8_t *ic, cellref *pc) {
    for (int p = 0; p < parts; p++) {
        int from = p ? k[p - 1] : 0, to = p < parts - 1 ? k[p] : n;
        node_build(pages[p], usable, PT_LEAF, 0, c + from, to - from);
    }
    for (int p = 0; p + 1 < parts; p++) {
        uint32_t al, bl;
        const uint8_t *a = cell_key(pages[p], 1, bt_ncells(pages[p]) - 1, &al);
        const uint8_t *b = cell_key(pages[p + 1], 1, 0, &bl);
        make_icell(ic, &pc[p].len, kids[p], b, separator_len(a, al, b, bl));
        pc[p].p = ic;
        ic += pc[p].len;
    }
}

/* A full leaf and its sibling (B*-tree style): if their cells and the new one
 * fit in two pages with a little room, share them out evenly; otherwise
 * spread them over three pages. Random inserts then fill pages about as
 * densely as SQLite does, against ~70% for plain halving splits.
 * *done = 0 when it does not apply (no leaf sibling). */
static int balance_leaf(store_cursor *cur, int level, int idx, const uint8_t *cell, uint32_t len,
                        int *done) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable, cap = usable - NODE_HDR;
    int pl = level - 1, right, k[2];
    page *sib = NULL, *np = NULL;
    cellref *c = NULL, extra = {cell, len}, pc[2];
    uint8_t *ic = NULL, *pages[3];
    *done = 0;
    int rc = pick_sibling(cur, level, &sib, &right);
    if (rc != STORE_OK || !sib) return rc;
    int j = right ? cur->idx[pl] : cur->idx[pl] - 1; /* separator between the two */
    if ((rc = sqli_pager_write(txn, &sib)) != STORE_OK) goto out;
    page *L = cur->pg[level], *A = right ? L : sib;
    uint8_t *ad = A->data, *bd = right ? sib->data : L->data, *t = txn->scratch;
    int an = bt_ncells(ad), bn = bt_ncells(bd);
    c = xmalloc(sizeof *c * (size_t)(an + bn + 1));
    int n = gather(ad, usable, c, &t, right ? idx : an + 1, &extra, right);
    n += gather(bd, usable, c + n, &t, right ? bn + 1 : idx, &extra, !right);
    uint32_t total = 0;
    for (int x = 0; x < n; x++) total += c[x].len + 2;
    int parts = total + cap / 64 <= 2 * cap ? 2 : 3;
    if (choose_parts(c, n, parts, cap, k) < 0) goto out; /* fall back to a plain split */
    pages[0] = ad;
    pages[parts - 1] = bd;
    if (parts == 3) {
        if ((rc = sqli_pager_alloc(txn, &np)) != STORE_OK) goto out;
        __atomic_store_n(&np->checked, 1, __ATOMIC_RELEASE);
        pages[1] = np->data;
    }
    uint32_t kids[2] = {A->pgno, np ? np->pgno : 0};
    ic = xmalloc(2 * (bt_max_key(usable) + 16));
    build_parts(usable, c, n, parts, k, pages, kids, ic, pc);
    cur->idx[pl] = j;
    while (cur->depth > level) sqli_pager_put(cur->pg[--cur->depth]);
    *done = 1;
    rc = replace_separator(cur, pl, j, pc, parts - 1);
out:
    xfree(ic);
    xfree(c);
    sqli_pager_put(np);
    sqli_pager_put(sib);
    return rc;
}

/* Insert cell at (level, idx), splitting upwards as needed. *split tells
 * whether the cursor path changed. */
static int insert_cell(store_cursor *cur, int level, int idx, const uint8_t *cell, uint32_t len,
                       int *split) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable;
    int rc = sqli_pager_write(txn, &cur->pg[level]);
    if (rc != STORE_OK) return rc;
    *split = 0;
    if (node_insert(cur->pg[level]->data, usable, idx, cell, len,
                    txn->scratch + 2 * txn->db->page_size))
        return STORE_OK;
    *split = 1;
    /* The cell may live in scratch (a separator): copy it. */
    uint8_t *own = (uint8_t *)xmemdup(cell, len);
    int done = 0;
    const uint8_t *d = cur->pg[level]->data;
    if (level > 0 && d[0] == PT_LEAF && !(idx == bt_ncells(d) && on_right_edge(cur, level)))
        rc = balance_leaf(cur, level, idx, own, len, &done);
    if (rc == STORE_OK && !done) rc = split_node(cur, level, idx, own, len);
    xfree(own);
    return rc;
}

/* ---- merges ---------------------------------------------------------------------- */

static uint32_t node_used(const uint8_t *d, uint32_t usable) {
    return usable - NODE_HDR - node_free(d);
}

/* A root left with no cells and one child takes that child's content (the
 * tree loses a level); the root page keeps its number. */
static int collapse_root(store_cursor *cur) {
    store_txn *txn = cur->txn;
    uint8_t *r = cur->pg[0]->data;
    int rc = STORE_OK;
    while (r[0] == PT_INTERIOR && bt_ncells(r) == 0 && rc == STORE_OK) {
        uint32_t cpg = get32(r + 8);
        page *c;
        if ((rc = get_node(txn, cpg, &c)) != STORE_OK) break;
        if ((rc = sqli_pager_write(txn, &cur->pg[0])) == STORE_OK) {
            r = cur->pg[0]->data;
            memcpy(r, c->data, txn->db->usable);
        }
        sqli_pager_put(c);
        if (rc == STORE_OK) rc = sqli_pager_free(txn, cpg);
    }
    return rc;
}

/* The cells of lp, then (interior) the separator sc pulled down with lp's
 * rightmost child, then the cells of rp, copied to scratch. */
static int merged_cells(store_txn *txn, const uint8_t *ld, const uint8_t *rd, const bt_cell *sc,
                        cellref *c) {
    uint32_t usable = txn->db->usable;
    uint8_t *t = txn->scratch;
    int n = 0;
    for (int side = 0; side < 2; side++) {
        const uint8_t *sd = side ? rd : ld;
        if (side == 1 && ld[0] == PT_INTERIOR) {
            uint32_t len;
            make_icell(t, &len, get32(ld + 8), sc->key, sc->klen);
            c[n].p = t;
            c[n++].len = len;
            t += len;
        }
        for (int i = 0; i < bt_ncells(sd); i++) {
            uint32_t sz = cell_size_fast(sd, usable, i);
            memcpy(t, sd + get16(sd + NODE_HDR + 2 * i), sz);
            c[n].p = t;
            c[n++].len = sz;
            t += sz;
        }
    }
    return n;
}

/* After a deletion made the node at `level` small, merge it with a sibling if
 * both fit in one page (then the parent may in turn be small), and collapse a
 * root left with a single child. */
static int rebalance(store_cursor *cur, int level) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable;
    if (level == 0) return collapse_root(cur);
    if (node_used(cur->pg[level]->data, usable) >= (usable - NODE_HDR) / 3) return STORE_OK;
    const uint8_t *pd = cur->pg[level - 1]->data;
    int pidx = cur->idx[level - 1];
    if (bt_ncells(pd) == 0) return STORE_OK;
    int j = pidx > 0 ? pidx - 1 : pidx; /* separator between left and right */
    page *lp = NULL, *rp = NULL;
    uint32_t lpg = bt_child(pd, usable, j), rpg = bt_child(pd, usable, j + 1);
    int rc = get_node(txn, lpg, &lp);
    if (rc == STORE_OK) rc = get_node(txn, rpg, &rp);
    if (rc != STORE_OK) goto done;
    if (lp->data[0] != rp->data[0]) {
        rc = sqli_store_error(STORE_CORRUPT, "%s: siblings %u and %u differ in kind", txn->db->path,
                              lpg, rpg);
        goto done;
    }
    int leaf = lp->data[0] == PT_LEAF;
    bt_cell sc;
    sqli_bt_parse(pd, usable, j, &sc);
    uint32_t need = node_used(lp->data, usable) + node_used(rp->data, usable);
    if (!leaf) need += 4 + (uint32_t)varint_len(sc.klen) + sc.klen + 2;
    if (need > usable - NODE_HDR) goto done;
    /* Merge right into left; the parent loses separator j. */
    cellref *c = xmalloc(sizeof *c * (size_t)(bt_ncells(lp->data) + bt_ncells(rp->data) + 1));
    int n = merged_cells(txn, lp->data, rp->data, &sc, c);
    uint32_t right = get32(rp->data + 8);
    rc = sqli_pager_write(txn, &lp);
    if (rc == STORE_OK) node_build(lp->data, usable, lp->data[0], leaf ? 0 : right, c, n);
    xfree(c);
    if (rc != STORE_OK) goto done;
    while (cur->depth > level) sqli_pager_put(cur->pg[--cur->depth]); /* path below changes */
    sqli_pager_put(rp);
    rp = NULL;
    if ((rc = sqli_pager_free(txn, rpg)) != STORE_OK) goto done;
    if ((rc = sqli_pager_write(txn, &cur->pg[level - 1])) != STORE_OK) goto done;
    set_child(cur->pg[level - 1]->data, usable, j + 1, lpg);
    node_drop(cur->pg[level - 1]->data, usable, j);
    cur->idx[level - 1] = j;
    sqli_pager_put(lp);
    return rebalance(cur, level - 1);
done:
    sqli_pager_put(lp);
    sqli_pager_put(rp);
    return rc;
}

/* ---- cursor writes ------------------------------------------------------------------- */

static int writable(store_cursor *cur) {
    int rc = cursor_usable(cur);
    if (rc != STORE_OK) return rc;
    if (!cur->txn->write)
        return sqli_store_error(STORE_READONLY, "write through a read transaction");
    return STORE_OK;
}

/* Remove the entry at the cursor's leaf position (freeing its overflow). */
static int drop_entry(store_cursor *cur) {
    store_txn *txn = cur->txn;
    uint32_t usable = txn->db->usable;
    int L = cur->depth - 1;
    bt_cell c;
    cur_cell(cur, &c);
    int rc = STORE_OK;
    if (c.ovfl) rc = free_chain(txn, c.ovfl, c.vlen, c.vlocal);
    if (rc == STORE_OK) rc = sqli_pager_write(txn, &cur->pg[L]);
    if (rc == STORE_OK) node_drop(cur->pg[L]->data, usable, cur->idx[L]);
    return rc;
}

/* A new value of the entry at the cursor with the old one's size, both all
 * local, overwrites it in place (*done = 1): the cell keeps its place and
 * the cursor its path. */
static int overwrite_in_place(store_cursor *cur, const uint8_t *v, size_t vlen, int *done) {
    store_txn *txn = cur->txn;
    int L = cur->depth - 1;
    bt_cell old;
    cur_cell(cur, &old);
    *done = 0;
    if (old.ovfl || old.vlen != vlen || sqli_bt_leaf_local(txn->db->usable, old.klen, vlen) != vlen)
        return STORE_OK;
    size_t off = (size_t)(old.val - cur_leaf(cur)); /* the page may be copied for writing */
    int rc = sqli_pager_write(txn, &cur->pg[L]);
    if (rc != STORE_OK) return rc;
    memcpy(cur->pg[L]->data + off, v, vlen);
    cur->state = CUR_VALID;
    *done = 1;
    return STORE_OK;
}

static int put_at(store_cursor *cur, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                  int exact) {
    store_txn *txn = cur->txn;
    uint32_t len;
    uint8_t *cell = txn->scratch + txn->db->page_size; /* scratch page 2: cell */
    int rc = STORE_OK, split = 0, L = cur->depth - 1;
    if (exact) {
        int done;
        if ((rc = overwrite_in_place(cur, v, vlen, &done)) != STORE_OK || done) return rc;
        if ((rc = drop_entry(cur)) != STORE_OK) return rc;
    }
    if ((rc = build_leaf_cell(txn, k, klen, v, vlen, cell, &len)) != STORE_OK) return rc;
    rc = insert_cell(cur, L, cur->idx[L], cell, len, &split);
    if (rc != STORE_OK) return rc;
    if (split) {
        release_stack(cur);
        save_key(cur, k, klen);
        cur->state = CUR_SAVED;
        cur->gap = GAP_ON;
    } else {
        cur->state = CUR_VALID;
    }
    return STORE_OK;
}

static int cursor_put(store_cursor *cur, const void *key, size_t klen, const void *val, size_t vlen,
                      unsigned flags) {
    store_txn *txn = cur->txn;
    int rc = writable(cur);
    if (rc != STORE_OK) return rc;
    if (flags & ~(STORE_NOOVERWRITE | STORE_APPEND))
        return sqli_store_error(STORE_MISUSE, "bad put flags %#x", flags);
    if (klen > bt_max_key(txn->db->usable))
        return sqli_store_error(STORE_TOOBIG, "key of %zu bytes exceeds the %u-byte limit", klen,
                                bt_max_key(txn->db->usable));
    if (vlen > STORE_MAX_VALUE)
        return sqli_store_error(STORE_TOOBIG, "value of %zu bytes exceeds the limit", vlen);
    if (!key && klen) return sqli_store_error(STORE_MISUSE, "null key");
    if (!val) val = "";
    cursors_save(txn, cur->root, cur);
    int exact = 0;
    if (flags & STORE_APPEND) {
        int L = cur->depth - 1;
        int at_end = cur->state == CUR_VALID && L >= 0 &&
                     cur->idx[L] == bt_ncells(cur_leaf(cur)) - 1 && on_right_edge(cur, L);
        if (!at_end) {
            release_stack(cur);
            rc = push(cur, cur->root, 0);
            if (rc == STORE_OK) rc = descend_edge(cur, 1);
            if (rc == STORE_OK) rc = check_leaf(cur);
            if (rc != STORE_OK) goto fail;
            L = cur->depth - 1;
        }
        int n = bt_ncells(cur_leaf(cur));
        if (n > 0) {
            uint32_t ll;
            const uint8_t *lk = cell_key(cur_leaf(cur), 1, n - 1, &ll);
            if (keycmp(lk, ll, key, klen) >= 0) {
                cur->idx[L] = n - 1;
                cur->state = CUR_VALID;
                return sqli_store_error(STORE_MISUSE, "STORE_APPEND key does not sort last");
            }
        }
        cur->idx[L] = n;
    } else {
        rc = moveto(cur, key, klen, 0, &exact);
        if (rc == STORE_OK) rc = check_leaf(cur);
        if (rc != STORE_OK) goto fail;
        if (exact && (flags & STORE_NOOVERWRITE)) {
            cur->state = CUR_VALID;
            return sqli_store_error(STORE_EXISTS, "key exists");
        }
    }
    rc = put_at(cur, key, klen, val, vlen, exact);
fail:
    if (rc != STORE_OK) {
        release_stack(cur);
        cur->state = CUR_NONE;
        return sqli_pager_fail(txn, rc);
    }
    return rc;
}

int sqli_store_cursor_put(store_cursor *cur, const void *key, size_t klen, const void *val,
                          size_t vlen, unsigned flags) {
    if (!cur) return sqli_store_error(STORE_MISUSE, "no cursor");
    cur->has_prefix = 0;
    return cursor_put(cur, key, klen, val, vlen, flags);
}

int sqli_store_cursor_update(store_cursor *cur, const void *val, size_t vlen) {
    int rc = writable(cur);
    if (rc == STORE_OK) rc = positioned(cur);
    if (rc != STORE_OK) return rc;
    if (vlen > STORE_MAX_VALUE)
        return sqli_store_error(STORE_TOOBIG, "value of %zu bytes exceeds the limit", vlen);
    cursors_save(cur->txn, cur->root, cur);
    if (!val) val = "";
    int done;
    rc = overwrite_in_place(cur, val, vlen, &done);
    if (rc == STORE_OK && !done) {
        uint32_t kl;
        const uint8_t *k = cur_key(cur, &kl);
        save_key(cur, k, kl); /* the cell moves during the update */
        int ph = cur->has_prefix;
        rc = put_at(cur, cur->skey, kl, val, vlen, 1);
        cur->has_prefix = ph;
    }
    if (rc != STORE_OK) {
        release_stack(cur);
        cur->state = CUR_NONE;
        return sqli_pager_fail(cur->txn, rc);
    }
    return STORE_OK;
}

int sqli_store_cursor_is_on(const store_cursor *cur, const void *key, size_t klen) {
    if (!cur || cur->txn->err || cur->state != CUR_VALID) return 0;
    uint32_t kl;
    const uint8_t *k = cur_key(cur, &kl);
    return kl == klen && memcmp(k, key, klen) == 0;
}

int sqli_store_cursor_delete(store_cursor *cur) {
    int rc = writable(cur);
    if (rc == STORE_OK) rc = positioned(cur);
    if (rc != STORE_OK) return rc;
    cursors_save(cur->txn, cur->root, cur);
    uint32_t kl;
    const uint8_t *k = cur_key(cur, &kl);
    save_key(cur, k, kl);
    rc = drop_entry(cur);
    if (rc == STORE_OK) rc = rebalance(cur, cur->depth - 1);
    release_stack(cur);
    cur->state = CUR_SAVED;
    cur->gap = GAP_BEFORE;
    return sqli_pager_fail(cur->txn, rc);
}

/* ---- cursor lifetime --------------------------------------------------------------- */

/* Is root a tree's root page? On success *pinned (NULL: not wanted) is the
 * page, pinned; else it is released. */
static int check_root(store_txn *txn, store_tree root, page **pinned) {
    page *p;
    int rc = get_node(txn, root, &p);
    if (rc == STORE_CORRUPT)
        return sqli_store_error(STORE_NOTFOUND, "no tree %u (page %u is not a tree root)", root,
                                root);
    if (rc != STORE_OK) return rc;
    if (pinned)
        *pinned = p;
    else
        sqli_pager_put(p);
    return rc;
}

static void cursor_init(store_cursor *c, store_txn *txn, store_tree root) {
    memset(c, 0, sizeof *c);
    c->txn = txn;
    c->root = root;
}

static void cursor_fini(store_cursor *c) {
    release_stack(c);
    xfree(c->skey);
    xfree(c->prefix);
    xfree(c->vbuf);
}

/* A new cursor keeps the root it checked pinned (state CUR_NONE, depth 1):
 * its first seek starts from it without fetching it again (moveto). */
int sqli_store_cursor_open(store_txn *txn, store_tree tree, store_cursor **curp) {
    *curp = NULL;
    if (!txn) return sqli_store_error(STORE_MISUSE, "no transaction");
    if (txn->err) return txn->err;
    page *root = NULL;
    int rc = check_root(txn, tree, &root);
    if (rc != STORE_OK) return rc;
    store_cursor *c = txn->spare ? txn->spare : xmalloc(sizeof *c);
    txn->spare = NULL;
    cursor_init(c, txn, tree);
    c->pg[0] = root;
    c->depth = 1;
    c->linked = 1;
    c->next = txn->cursors;
    if (txn->cursors) txn->cursors->prev = c;
    txn->cursors = c;
    *curp = c;
    return STORE_OK;
}

void sqli_store_cursor_close(store_cursor *c) {
    if (!c) return;
    store_txn *txn = c->txn;
    if (c->prev)
        c->prev->next = c->next;
    else
        txn->cursors = c->next;
    if (c->next) c->next->prev = c->prev;
    cursor_fini(c);
    if (txn->spare)
        xfree(c);
    else
        txn->spare = c;
}

static void cursors_free(store_txn *txn) {
    while (txn->cursors) sqli_store_cursor_close(txn->cursors);
    xfree(txn->spare);
    txn->spare = NULL;
}

/* ---- point operations ------------------------------------------------------------- */

int sqli_store_get(store_txn *txn, store_tree tree, const void *key, size_t klen, const void **val,
                   size_t *vlen) {
    if (!txn || (!key && klen)) return sqli_store_error(STORE_MISUSE, "store_get: bad arguments");
    if (txn->err) return txn->err;
    store_cursor c;
    cursor_init(&c, txn, tree);
    int exact, rc = moveto(&c, key, klen, 0, &exact);
    if (rc == STORE_OK) rc = check_leaf(&c);
    if (rc == STORE_OK && !exact) rc = STORE_NOTFOUND;
    if (rc == STORE_OK) {
        bt_cell bc;
        const void *v;
        cur_cell(&c, &bc);
        if (txn->getcap < bc.vlen || !txn->getbuf) {
            xfree(txn->getbuf);
            txn->getcap = bc.vlen > 256 ? bc.vlen : 256;
            txn->getbuf = xmalloc(txn->getcap);
        }
        if (!bc.ovfl) {
            memcpy(txn->getbuf, bc.val, bc.vlen);
        } else {
            rc = cell_value(txn, &bc, &c.vbuf, &c.vcap, &v);
            if (rc == STORE_OK) memcpy(txn->getbuf, v, bc.vlen);
        }
        *val = txn->getbuf;
        *vlen = bc.vlen;
    }
    cursor_fini(&c);
    return rc;
}

int sqli_store_put(store_txn *txn, store_tree tree, const void *key, size_t klen, const void *val,
                   size_t vlen, unsigned flags) {
    if (!txn) return sqli_store_error(STORE_MISUSE, "store_put: no transaction");
    store_cursor c;
    cursor_init(&c, txn, tree);
    int rc = cursor_put(&c, key, klen, val, vlen, flags);
    cursor_fini(&c);
    return rc;
}

int sqli_store_del(store_txn *txn, store_tree tree, const void *key, size_t klen) {
    if (!txn || (!key && klen)) return sqli_store_error(STORE_MISUSE, "store_del: bad arguments");
    if (txn->err) return txn->err;
    if (!txn->write) return sqli_store_error(STORE_READONLY, "delete in a read transaction");
    store_cursor c;
    cursor_init(&c, txn, tree);
    int exact, rc = moveto(&c, key, klen, 0, &exact);
    if (rc == STORE_OK) rc = check_leaf(&c);
    if (rc == STORE_OK && !exact) rc = STORE_NOTFOUND;
    if (rc == STORE_OK) {
        c.state = CUR_VALID;
        cursors_save(txn, tree, NULL);
        rc = drop_entry(&c);
        if (rc == STORE_OK) rc = rebalance(&c, c.depth - 1);
        if (rc != STORE_OK) sqli_pager_fail(txn, rc);
    }
    cursor_fini(&c);
    return rc;
}

/* ---- trees and the directory ----------------------------------------------------------- */

static void dir_key(uint8_t k[4], store_tree t) {
    k[0] = (uint8_t)(t >> 24);
    k[1] = (uint8_t)(t >> 16);
    k[2] = (uint8_t)(t >> 8);
    k[3] = (uint8_t)t;
}

static void dir_val(uint8_t v[13], const store_tree_info *info) {
    v[0] = (uint8_t)info->kind;
    put32(v + 1, info->table);
    put32(v + 5, info->ncols);
    put32(v + 9, info->flags);
}

static int dir_parse(const void *v, size_t n, store_tree_info *info) {
    const uint8_t *b = v;
    if (n != 13) return STORE_CORRUPT;
    info->kind = (store_tree_kind)b[0];
    info->table = get32(b + 1);
    info->ncols = get32(b + 5);
    info->flags = get32(b + 9);
    return STORE_OK;
}

static void format_new(uint8_t *dir_page, uint8_t *cat_page, uint32_t usable) {
    store_tree_info info = {STORE_TREE_OTHER, 0, 0, 0};
    uint8_t cell[32], k[4], v[13], tmp[1];
    node_init(cat_page, usable, PT_LEAF);
    node_init(dir_page, usable, PT_LEAF);
    dir_key(k, STORE_CATALOG);
    dir_val(v, &info);
    uint8_t *p = cell;
    p += varint_put(p, sizeof k);
    p += varint_put(p, sizeof v);
    memcpy(p, k, sizeof k);
    memcpy(p + sizeof k, v, sizeof v);
    int ok = node_insert(dir_page, usable, 0, cell, (uint32_t)(p - cell) + 17, tmp);
    assert(ok);
    (void)ok;
}

/* The pager reaches this layer only through these (store_int.h). */
static void pages_changing(store_txn *txn) {
    cursors_save(txn, 0, NULL);
}

static const pager_upper btree_upper = {
    .format_new = format_new,
    .pages_changing = pages_changing,
    .txn_ending = cursors_free,
};

int sqli_store_open(const char *path, const store_options *opts, store_db **dbp) {
    return sqli_pager_open(path, opts, &btree_upper, dbp);
}

int sqli_store_tree_create(store_txn *txn, const store_tree_info *info, store_tree *tree) {
    store_tree_info def = {STORE_TREE_OTHER, 0, 0, 0};
    if (!txn || !tree) return sqli_store_error(STORE_MISUSE, "store_tree_create: bad arguments");
    if (txn->err) return txn->err;
    if (!txn->write) return sqli_store_error(STORE_READONLY, "create a tree in a read transaction");
    if (!info) info = &def;
    if (info->kind < STORE_TREE_TABLE || info->kind > STORE_TREE_FTS)
        return sqli_store_error(STORE_MISUSE, "bad tree kind %d", (int)info->kind);
    page *p;
    int rc = sqli_pager_alloc(txn, &p);
    if (rc != STORE_OK) return rc;
    node_init(p->data, txn->db->usable, PT_LEAF);
    __atomic_store_n(&p->checked, 1, __ATOMIC_RELEASE);
    *tree = p->pgno;
    sqli_pager_put(p);
    uint8_t k[4], v[13];
    dir_key(k, *tree);
    dir_val(v, info);
    rc = sqli_store_put(txn, DIR_ROOT, k, 4, v, 13, STORE_NOOVERWRITE);
    if (rc == STORE_EXISTS)
        rc = sqli_store_error(STORE_CORRUPT, "%s: directory already lists page %u", txn->db->path,
                              *tree);
    return sqli_pager_fail(txn, rc);
}

int sqli_store_tree_get_info(store_txn *txn, store_tree tree, store_tree_info *info) {
    uint8_t k[4];
    const void *v;
    size_t n;
    dir_key(k, tree);
    int rc = sqli_store_get(txn, DIR_ROOT, k, 4, &v, &n);
    if (rc == STORE_NOTFOUND) return sqli_store_error(STORE_NOTFOUND, "no tree %u", tree);
    if (rc == STORE_OK && dir_parse(v, n, info) != STORE_OK)
        rc = sqli_store_error(STORE_CORRUPT, "%s: directory entry of tree %u is damaged",
                              txn->db->path, tree);
    return rc;
}

int sqli_store_tree_estimate(store_txn *txn, store_tree tree, uint64_t *nentries) {
    *nentries = 0;
    if (txn->err) return txn->err;
    int rc = check_root(txn, tree, NULL);
    double n = 1;
    for (uint32_t pgno = tree, depth = 0; rc == STORE_OK; depth++) {
        page *p;
        if (depth > BT_MAX_DEPTH)
            return sqli_store_error(STORE_CORRUPT, "%s: tree too deep at page %u", txn->db->path,
                                    pgno);
        rc = get_node(txn, pgno, &p);
        if (rc != STORE_OK) break;
        int cells = bt_ncells(p->data);
        if (p->data[0] == PT_LEAF) {
            sqli_pager_put(p);
            n *= cells;
            *nentries = n > 1e18 ? (uint64_t)1e18 : (uint64_t)n;
            return STORE_OK;
        }
        n *= cells + 1;
        pgno = bt_child(p->data, txn->db->usable, cells / 2);
        sqli_pager_put(p);
    }
    return rc;
}

/* Free every page below (and, if self, including) pgno. */
static int free_subtree(store_txn *txn, uint32_t pgno, int self, int depth) {
    uint32_t usable = txn->db->usable;
    if (depth > BT_MAX_DEPTH)
        return sqli_store_error(STORE_CORRUPT, "%s: tree too deep at page %u", txn->db->path, pgno);
    page *p;
    int rc = get_node(txn, pgno, &p);
    if (rc != STORE_OK) return rc;
    int n = bt_ncells(p->data), leaf = p->data[0] == PT_LEAF;
    /* Collect what to free first: freeing changes pages, and p may be one. */
    uint32_t *kids = xmalloc(sizeof *kids * (size_t)(n + 1) * 3);
    int nk = 0;
    for (int i = 0; i < n; i++) {
        bt_cell c;
        sqli_bt_parse(p->data, usable, i, &c);
        if (leaf && c.ovfl) {
            kids[nk++] = c.ovfl;
            kids[nk++] = c.vlen;
            kids[nk++] = c.vlocal;
        } else if (!leaf) {
            kids[nk++] = c.child;
        }
    }
    if (!leaf) kids[nk++] = get32(p->data + 8);
    sqli_pager_put(p);
    for (int i = 0; i < nk && rc == STORE_OK;) {
        if (leaf) {
            rc = free_chain(txn, kids[i], kids[i + 1], kids[i + 2]);
            i += 3;
        } else {
            rc = free_subtree(txn, kids[i++], 1, depth + 1);
        }
    }
    xfree(kids);
    if (rc == STORE_OK && self) rc = sqli_pager_free(txn, pgno);
    return rc;
}

static int tree_modifiable(store_txn *txn, store_tree tree) {
    if (!txn) return sqli_store_error(STORE_MISUSE, "no transaction");
    if (txn->err) return txn->err;
    if (!txn->write) return sqli_store_error(STORE_READONLY, "tree change in a read transaction");
    if (tree == DIR_ROOT) return sqli_store_error(STORE_MISUSE, "the directory cannot be changed");
    store_tree_info info;
    return sqli_store_tree_get_info(txn, tree, &info);
}

int sqli_store_tree_clear(store_txn *txn, store_tree tree) {
    int rc = tree_modifiable(txn, tree);
    if (rc != STORE_OK) return rc;
    cursors_save(txn, tree, NULL);
    rc = free_subtree(txn, tree, 0, 0);
    page *p = NULL;
    if (rc == STORE_OK) rc = sqli_pager_get(txn, tree, &p);
    if (rc == STORE_OK) rc = sqli_pager_write(txn, &p);
    if (rc == STORE_OK) node_init(p->data, txn->db->usable, PT_LEAF);
    sqli_pager_put(p);
    return sqli_pager_fail(txn, rc);
}

int sqli_store_tree_drop(store_txn *txn, store_tree tree) {
    if (tree == STORE_CATALOG)
        return sqli_store_error(STORE_MISUSE, "the catalog cannot be dropped");
    int rc = tree_modifiable(txn, tree);
    if (rc != STORE_OK) return rc;
    uint8_t k[4];
    dir_key(k, tree);
    cursors_save(txn, tree, NULL); /* no cursor keeps a page of it pinned */
    rc = free_subtree(txn, tree, 1, 0);
    if (rc == STORE_OK) rc = sqli_store_del(txn, DIR_ROOT, k, 4);
    return sqli_pager_fail(txn, rc);
}

int sqli_store_tree_foreach(store_txn *txn,
                            int (*fn)(void *arg, store_tree tree, const store_tree_info *info),
                            void *arg) {
    if (!txn || !fn) return sqli_store_error(STORE_MISUSE, "store_tree_foreach: bad arguments");
    store_cursor c;
    cursor_init(&c, txn, DIR_ROOT);
    int rc = do_seek(&c, STORE_SEEK_FIRST, NULL, 0);
    while (rc == STORE_OK) {
        bt_cell bc;
        store_tree_info info;
        cur_cell(&c, &bc);
        if (bc.klen != 4 || dir_parse(bc.val, bc.vlen, &info) != STORE_OK) {
            rc = sqli_store_error(STORE_CORRUPT, "%s: directory entry is damaged", txn->db->path);
            break;
        }
        store_tree t = (store_tree)bc.key[0] << 24 | (store_tree)bc.key[1] << 16 |
                       (store_tree)bc.key[2] << 8 | bc.key[3];
        rc = fn(arg, t, &info);
        if (rc != STORE_OK) break;
        rc = step(&c, 1);
    }
    cursor_fini(&c);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

size_t sqli_store_max_key(const store_db *db) {
    return bt_max_key(db->usable);
}
