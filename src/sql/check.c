/* sql/check.c — the integrity checker behind sqli_store_check() and larder-check.
 *
 * It reads the database as the given transaction sees it and verifies:
 *   1. the header (page count, free-list fields, tree roots);
 *   2. every page 1..page_count is used exactly once: page 1, a node of a tree
 *      in the directory, an overflow page of one of their entries, a free-list
 *      trunk, or a free page listed in a trunk;
 *   3. every node is sane (sqli_bt_node_sane), all leaves of a tree are at one
 *      depth, keys increase strictly within a node and lie within the bounds
 *      the parents' separators set;
 *   4. overflow chains have the length their value needs, and only overflow
 *      pages;
 *   5. the free list holds as many pages as the header says;
 *   6. every index entry names a row of its table, and (unless partial) the
 *      index and the table have as many entries;
 *   7. a full-text index (fts.c's layout) has one row entry per row of its
 *      table and none for another row, every posting names a row of the
 *      table, and its totals equal the sums of the row entries and of the
 *      postings (rows, and tokens per column).
 * A problem is reported and the check continues where the structure allows
 * (a bad node is not descended into). It never modifies anything.
 */
#include "sql/btree.h"
#include "sql/fts.h"
#include "sql/keyenc.h"
#include "util/mem.h"
#include <stdarg.h>
#include <stdio.h>

typedef struct tree_ent {
    store_tree root;
    store_tree_info info;
    uint64_t entries;
} tree_ent;

typedef struct checker {
    store_txn *txn;
    uint32_t usable, page_count;
    uint8_t *seen; /* owner kind per page, 0 = unused */
    store_check_report *r;
    void (*problem)(void *, const char *);
    void *arg;
    tree_ent *trees;
    uint32_t ntrees, cap;
    int rc; /* I/O error that stops the check */
} checker;

enum { OWN_HEADER = 1, OWN_NODE, OWN_OVERFLOW, OWN_TRUNK, OWN_FREE };
static const char *own_name[] = {
    "", "header", "tree node", "overflow page", "free-list trunk", "free page"};

static void report(checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(checker *k, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    k->r->problems++;
    if (k->problem) k->problem(k->arg, buf);
}

/* Claim a page; 0 if it cannot be used (out of range or already used). */
static int claim(checker *k, uint32_t pgno, int owner, const char *what, uint32_t from) {
    if (pgno == 0 || pgno > k->page_count) {
        report(k, "%s of page %u points to page %u, outside 1..%u", what, from, pgno,
               k->page_count);
        return 0;
    }
    if (k->seen[pgno]) {
        report(k, "page %u is used twice: as %s and as %s (from page %u)", pgno,
               own_name[k->seen[pgno]], own_name[owner], from);
        return 0;
    }
    k->seen[pgno] = (uint8_t)owner;
    return 1;
}

/* Read a page for checking; I/O errors stop the check, corruption is reported. */
static int fetch(checker *k, uint32_t pgno, page **p) {
    int rc = sqli_pager_get(k->txn, pgno, p);
    if (rc == STORE_CORRUPT) {
        report(k, "page %u: %s", pgno, sqli_store_errmsg());
        return 0;
    }
    if (rc != STORE_OK) {
        k->rc = rc;
        return 0;
    }
    return 1;
}

static int cmpk(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    return c ? c : (al < bl ? -1 : al > bl);
}

static void check_chain(checker *k, uint32_t first, uint32_t vlen, uint32_t vlocal, uint32_t leaf) {
    uint32_t cap = bt_ovfl_cap(k->usable);
    uint64_t need = ((uint64_t)(vlen - vlocal) + cap - 1) / cap;
    uint32_t pgno = first, from = leaf;
    for (uint64_t i = 0; i < need; i++) {
        page *p;
        if (!claim(k, pgno, OWN_OVERFLOW, "overflow chain", from)) return;
        if (!fetch(k, pgno, &p)) return;
        k->r->overflow_pages++;
        if (p->data[0] != PT_OVERFLOW) {
            report(k, "page %u should be an overflow page (type %u)", pgno, p->data[0]);
            sqli_pager_put(p);
            return;
        }
        from = pgno;
        pgno = get32(p->data + 4);
        sqli_pager_put(p);
    }
    (void)pgno;
}

/* Check the subtree at pgno; keys must lie in [lo, hi) (NULL = unbounded).
 * *leaf_depth: depth of the first leaf met (-1 until then). */
static void check_node(checker *k, tree_ent *t, uint32_t pgno, uint32_t from, int depth,
                       const uint8_t *lo, size_t lolen, const uint8_t *hi, size_t hilen,
                       int *leaf_depth) {
    page *p;
    if (k->rc) return;
    if (depth > BT_MAX_DEPTH) {
        report(k, "tree %u is deeper than %d levels at page %u", t->root, BT_MAX_DEPTH, pgno);
        return;
    }
    if (!claim(k, pgno, OWN_NODE, "child pointer", from)) return;
    if (!fetch(k, pgno, &p)) return;
    const uint8_t *d = p->data;
    if (sqli_bt_node_sane(d, k->usable) != 0) {
        report(k, "tree %u: page %u is not a valid node (type %u)", t->root, pgno, d[0]);
        sqli_pager_put(p);
        return;
    }
    int n = bt_ncells(d), leaf = d[0] == PT_LEAF;
    if (leaf) {
        if (*leaf_depth < 0)
            *leaf_depth = depth;
        else if (*leaf_depth != depth)
            report(k, "tree %u: leaf %u at depth %d, others at %d", t->root, pgno, depth,
                   *leaf_depth);
    }
    const uint8_t *prev = lo;
    size_t prevlen = lolen;
    for (int i = 0; i < n; i++) {
        bt_cell c;
        sqli_bt_parse(d, k->usable, i, &c);
        int cmp_prev = prev ? cmpk(prev, prevlen, c.key, c.klen) : -1;
        /* Leaf keys are > the previous key and >= the lower bound; a
         * separator likewise must exceed what lies before it. */
        if (prev && (cmp_prev > 0 || (cmp_prev == 0 && (i > 0 || !leaf))))
            report(k, "tree %u: page %u: key %d is out of order", t->root, pgno, i);
        if (hi && cmpk(c.key, c.klen, hi, hilen) >= 0)
            report(k, "tree %u: page %u: key %d is not below its parent's separator", t->root, pgno,
                   i);
        if (leaf) {
            t->entries++;
            k->r->entries++;
            if (c.ovfl) check_chain(k, c.ovfl, c.vlen, c.vlocal, pgno);
        } else {
            check_node(k, t, c.child, pgno, depth + 1, prev, prevlen, c.key, c.klen, leaf_depth);
        }
        prev = c.key;
        prevlen = c.klen;
    }
    if (!leaf)
        check_node(k, t, get32(d + 8), pgno, depth + 1, prev, prevlen, hi, hilen, leaf_depth);
    sqli_pager_put(p);
}

static void check_tree(checker *k, tree_ent *t) {
    int leaf_depth = -1;
    check_node(k, t, t->root, 0, 0, NULL, 0, NULL, 0, &leaf_depth);
}

static int collect_tree(void *arg, store_tree tree, const store_tree_info *info) {
    checker *k = arg;
    if (k->ntrees == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->trees = xrealloc(k->trees, sizeof *k->trees * k->cap);
    }
    tree_ent *t = &k->trees[k->ntrees++];
    t->root = tree;
    t->info = *info;
    t->entries = 0;
    return STORE_OK;
}

static void check_freelist(checker *k, uint32_t trunk, uint32_t count) {
    uint32_t seen = 0, from = 1, cap = (k->usable - 12) / 4;
    while (trunk && !k->rc) {
        page *p;
        if (!claim(k, trunk, OWN_TRUNK, "free-list link", from)) break;
        if (!fetch(k, trunk, &p)) break;
        seen++;
        uint32_t n = get32(p->data + 4);
        if (p->data[0] != 4 || n > cap) {
            report(k, "free-list trunk %u is damaged (type %u, %u entries)", trunk, p->data[0], n);
            sqli_pager_put(p);
            break;
        }
        for (uint32_t i = 0; i < n; i++)
            if (claim(k, get32(p->data + 12 + 4 * i), OWN_FREE, "free-list trunk", trunk)) seen++;
        from = trunk;
        trunk = get32(p->data + 8);
        sqli_pager_put(p);
    }
    k->r->free_pages = seen;
    if (seen != count) report(k, "free list holds %u pages, the header says %u", seen, count);
}

static tree_ent *find_tree(checker *k, store_tree root) {
    for (uint32_t i = 0; i < k->ntrees; i++)
        if (k->trees[i].root == root) return &k->trees[i];
    return NULL;
}

static void check_index(checker *k, tree_ent *ix) {
    tree_ent *tab = find_tree(k, ix->info.table);
    if (!tab || tab->info.kind != STORE_TREE_TABLE) {
        report(k, "index %u refers to tree %u, which is not a table", ix->root, ix->info.table);
        return;
    }
    if (!(ix->info.flags & STORE_INDEX_PARTIAL) && ix->entries != tab->entries)
        report(k, "index %u has %llu entries, its table %u has %llu", ix->root,
               (unsigned long long)ix->entries, tab->root, (unsigned long long)tab->entries);
    store_cursor *c;
    if (sqli_store_cursor_open(k->txn, ix->root, &c) != STORE_OK) return;
    int rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0), bad = 0;
    while (rc == STORE_OK && bad < 10) {
        const void *key, *val, *row;
        size_t klen, vlen, rlen, pos = 0;
        sqli_store_cursor_key(c, &key, &klen);
        const uint8_t *kb = key;
        uint32_t i;
        for (i = 0; i < ix->info.ncols; i++)
            if (sqli_keyenc_skip(kb, klen, &pos) < 0) break;
        if (i < ix->info.ncols) {
            report(k, "index %u: an entry's key has fewer than %u columns", ix->root,
                   ix->info.ncols);
            bad++;
        } else {
            const void *tk = kb + pos;
            size_t tklen = klen - pos;
            if (tklen == 0) {
                if ((rc = sqli_store_cursor_value(c, &val, &vlen)) != STORE_OK) break;
                tk = val;
                tklen = vlen;
            }
            int g = sqli_store_get(k->txn, tab->root, tk, tklen, &row, &rlen);
            if (g == STORE_NOTFOUND) {
                report(k, "index %u: an entry names a row missing from table %u", ix->root,
                       tab->root);
                bad++;
            } else if (g != STORE_OK) {
                rc = g;
                break;
            }
        }
        rc = sqli_store_cursor_next(c);
    }
    if (rc != STORE_OK && rc != STORE_NOTFOUND && !k->rc) {
        if (rc == STORE_CORRUPT)
            report(k, "index %u: %s", ix->root, sqli_store_errmsg());
        else
            k->rc = rc;
    }
    sqli_store_cursor_close(c);
}

/* One entry of a full-text index: add its counts to post (postings, per
 * column), docs (row entries, per column; docs[ncols] counts the rows) or
 * tot (the totals entry). *tk / *tklen: the table key it names (or NULL). */
static int fts_entry(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                     uint32_t ncols, uint64_t *post, uint64_t *docs, uint64_t *tot, int *ntot,
                     const uint8_t **tk, size_t *tklen) {
    size_t i = 0, p = 1;
    int bad = 0;
    *tk = NULL;
    if (klen >= 1 && key[0] == 1) {
        while (p < klen && key[p]) p++;
        if (p >= klen) return -1;
        *tk = key + p + 1, *tklen = klen - p - 1;
        while (i < vlen && !bad) {
            uint64_t col = sqli_fts_varint(val, vlen, &i, &bad),
                     n = sqli_fts_varint(val, vlen, &i, &bad);
            for (uint64_t q = 0; q < n && !bad && q <= vlen; q++)
                sqli_fts_varint(val, vlen, &i, &bad);
            if (col >= ncols) return -1;
            post[col] += n;
        }
    } else if (klen >= 1 && key[0] == 2) {
        *tk = key + 1, *tklen = klen - 1;
        for (uint32_t c = 0; c < ncols; c++) docs[c] += sqli_fts_varint(val, vlen, &i, &bad);
        docs[ncols]++;
    } else if (klen == 1 && key[0] == 3) {
        for (uint32_t c = 0; c <= ncols; c++) tot[c] = sqli_fts_varint(val, vlen, &i, &bad);
        (*ntot)++;
    } else {
        return -1;
    }
    return bad ? -1 : 0;
}

static void check_fts(checker *k, tree_ent *ix) {
    tree_ent *tab = find_tree(k, ix->info.table);
    if (!tab || tab->info.kind != STORE_TREE_TABLE) {
        report(k, "full-text index %u refers to tree %u, which is not a table", ix->root,
               ix->info.table);
        return;
    }
    uint32_t nc = ix->info.ncols;
    uint64_t *post = xcalloc((size_t)nc + 1, 8), *docs = xcalloc((size_t)nc + 1, 8),
             *tot = xcalloc((size_t)nc + 1, 8);
    int ntot = 0, bad = 0;
    store_cursor *c;
    int rc = sqli_store_cursor_open(k->txn, ix->root, &c);
    if (rc == STORE_OK) rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0);
    while (rc == STORE_OK && bad < 10) {
        const void *key, *val, *row;
        size_t klen, vlen, rlen, tklen = 0;
        const uint8_t *tk;
        if ((rc = sqli_store_cursor_key(c, &key, &klen)) != STORE_OK ||
            (rc = sqli_store_cursor_value(c, &val, &vlen)) != STORE_OK)
            break;
        if (fts_entry(key, klen, val, vlen, nc, post, docs, tot, &ntot, &tk, &tklen) != 0) {
            report(k, "full-text index %u: a malformed entry", ix->root);
            bad++;
        } else if (tk) {
            int g = sqli_store_get(k->txn, tab->root, tk, tklen, &row, &rlen);
            if (g == STORE_NOTFOUND) {
                report(k, "full-text index %u: an entry names a row missing from table %u",
                       ix->root, tab->root);
                bad++;
            } else if (g != STORE_OK) {
                rc = g;
                break;
            }
        }
        rc = sqli_store_cursor_next(c);
    }
    if (rc != STORE_OK && rc != STORE_NOTFOUND && !k->rc) k->rc = rc;
    if (rc == STORE_OK || rc == STORE_NOTFOUND) sqli_store_cursor_close(c);
    if (!bad && !k->rc) {
        if (docs[nc] != tab->entries)
            report(k, "full-text index %u has %llu rows, its table %u has %llu", ix->root,
                   (unsigned long long)docs[nc], tab->root, (unsigned long long)tab->entries);
        if (ntot != 1 || tot[0] != docs[nc])
            report(k, "full-text index %u: its totals count %llu rows, it holds %llu", ix->root,
                   (unsigned long long)tot[0], (unsigned long long)docs[nc]);
        for (uint32_t i = 0; i < nc; i++)
            if (post[i] != docs[i] || tot[i + 1] != docs[i])
                report(k,
                       "full-text index %u, column %u: %llu postings, rows count %llu tokens, "
                       "totals %llu",
                       ix->root, i, (unsigned long long)post[i], (unsigned long long)docs[i],
                       (unsigned long long)tot[i + 1]);
    }
    xfree(post);
    xfree(docs);
    xfree(tot);
}

int sqli_store_check(store_txn *txn, store_check_report *r,
                     void (*problem)(void *arg, const char *msg), void *arg) {
    checker k;
    memset(&k, 0, sizeof k);
    memset(r, 0, sizeof *r);
    if (!txn) return sqli_store_error(STORE_MISUSE, "store_check: no transaction");
    k.txn = txn;
    k.usable = txn->db->usable;
    k.r = r;
    k.problem = problem;
    k.arg = arg;
    page *p1;
    int rc = sqli_pager_get(txn, 1, &p1);
    if (rc != STORE_OK) return rc;
    uint32_t pc = get32(p1->data + HDR_OFF_PAGECOUNT);
    uint32_t trunk = get32(p1->data + HDR_OFF_FREETRUNK);
    uint32_t fcount = get32(p1->data + HDR_OFF_FREECOUNT);
    uint32_t dir = get32(p1->data + HDR_OFF_DIRROOT), cat = get32(p1->data + HDR_OFF_CATROOT);
    sqli_pager_put(p1);
    k.page_count = r->page_count = pc;
    k.seen = xcalloc((size_t)pc + 1, 1);
    k.seen[1] = OWN_HEADER;
    if (dir != DIR_ROOT || cat != STORE_CATALOG)
        report(&k, "header names directory %u and catalog %u (expected %u and %u)", dir, cat,
               DIR_ROOT, STORE_CATALOG);
    tree_ent dirt = {DIR_ROOT, {STORE_TREE_OTHER, 0, 0, 0}, 0};
    if (pc >= DIR_ROOT) check_tree(&k, &dirt);
    if (!k.rc && dirt.entries > 0) {
        rc = sqli_store_tree_foreach(txn, collect_tree, &k);
        if (rc == STORE_CORRUPT)
            report(&k, "directory: %s", sqli_store_errmsg());
        else if (rc != STORE_OK)
            k.rc = rc;
    }
    r->tree_count = k.ntrees;
    if (!find_tree(&k, STORE_CATALOG) && pc >= STORE_CATALOG)
        report(&k, "the catalog (tree %u) is missing from the directory", STORE_CATALOG);
    for (uint32_t i = 0; i < k.ntrees && !k.rc; i++) check_tree(&k, &k.trees[i]);
    if (!k.rc) check_freelist(&k, trunk, fcount);
    if (!k.rc) {
        uint32_t lost = 0, first = 0;
        for (uint32_t pg = 1; pg <= pc; pg++)
            if (!k.seen[pg] && lost++ == 0) first = pg;
        if (lost) report(&k, "%u pages are used by nothing (the first is page %u)", lost, first);
    }
    for (uint32_t i = 0; i < k.ntrees && !k.rc; i++)
        if (k.trees[i].info.kind == STORE_TREE_INDEX)
            check_index(&k, &k.trees[i]);
        else if (k.trees[i].info.kind == STORE_TREE_FTS)
            check_fts(&k, &k.trees[i]);
    xfree(k.seen);
    xfree(k.trees);
    return k.rc;
}
