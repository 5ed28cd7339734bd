/* kv/quicklist — the list type's encoding: a doubly linked list of listpack
 * nodes (OBJECT ENCODING "quicklist", as every list in Redis 7.0).
 *
 *   quicklist: head -> [node: listpack a b c] <-> [node: listpack d e] <-> ... <- tail
 *
 * Node size is bounded by `fill` (list-max-listpack-size): a negative fill
 * limits a node's listpack to 4 KiB (-1), 8 KiB (-2), 16 KiB (-3), 32 KiB (-4)
 * or 64 KiB (-5); a positive fill limits the number of entries per node (and
 * such nodes also stay under an 8 KiB safety limit). A single element larger
 * than the limit gets a node of its own. (Redis 7.0 also keeps elements of
 * 1 GiB or more in "plain" nodes outside any listpack; here they are simply
 * one-entry listpack nodes, so DEBUG QUICKLIST-PACKED-THRESHOLD has no
 * effect. LSET replaces in place, as in Redis 7.0, even past the limit.)
 *
 * Compression (list-compress-depth = d > 0): every node except the d nodes at
 * each end is kept LZ-compressed (own LZ77 coder, see quicklist.c) when that
 * saves at least 8 bytes and the listpack has 48 bytes or more. Nodes are
 * decompressed only while an operation or iterator uses them.
 *
 * Invariants:
 *  1. No node is empty; count == sum of node counts; len == number of nodes.
 *  2. node->sz == lp_bytes() of the node's (uncompressed) listpack, and
 *     node->count == lp_count() of it, also while the node is compressed.
 *  3. After every public mutating call, the first and last `compress` nodes
 *     are uncompressed (so the ends can be read without decompressing).
 *  4. node->open == 1 only while an iterator (or the call in progress) holds
 *     decompressed bytes of a node that must be compressed again afterwards.
 *
 * Ownership: quicklist owns its nodes and their buffers. Entry pointers
 * returned by the peek/iterator functions point into a node and are valid
 * only until the next call that changes the list (or moves the iterator). */
#ifndef LARDER_KV_QUICKLIST_H
#define LARDER_KV_QUICKLIST_H
#include <stddef.h>
#include <stdint.h>

enum { QL_HEAD = 0, QL_TAIL = 1 };
enum { QL_FWD = 0, QL_REV = 1 }; /* iteration: head -> tail, tail -> head */

#define QL_FILL_MAX 32767
#define QL_COMPRESS_MAX 65535

typedef struct ql_node {
    struct ql_node *prev, *next;
    unsigned char *data; /* the listpack, or when compressed: u32 length + LZ bytes */
    uint32_t sz;         /* bytes of the uncompressed listpack */
    uint16_t count;      /* entries in the listpack */
    uint8_t compressed;  /* data holds the LZ form */
    uint8_t open : 1;    /* decompressed for use; compress again when done */
    uint8_t tried : 1;   /* compression did not pay off; not retried until changed */
} ql_node;

typedef struct quicklist {
    ql_node *head, *tail;
    unsigned long count; /* entries */
    unsigned long len;   /* nodes */
    int fill;            /* list-max-listpack-size, clamped to [-5, QL_FILL_MAX] */
    unsigned compress;   /* list-compress-depth, 0 = off */
} quicklist;

/* One entry seen through an iterator or a lookup. s/len point into the node. */
typedef struct ql_entry {
    const char *s;
    size_t len;
    ql_node *node;
    unsigned char *p; /* the listpack entry */
    long offset;      /* its index inside the node (0 = node's first) */
} ql_entry;

typedef struct ql_iter {
    quicklist *ql;
    ql_node *node;    /* current node; NULL when finished */
    unsigned char *p; /* last returned entry, or (pending) the next one */
    long offset;      /* index of p in node */
    int dir;          /* QL_FWD or QL_REV */
    int pending;      /* p is the next entry to return (after a delete or seek) */
} ql_iter;

quicklist *ql_new(int fill, int compress);
void ql_set_options(quicklist *ql, int fill, int compress);
void ql_free(quicklist *ql);
/* A deep copy with the same options and node layout. */
quicklist *ql_dup(const quicklist *ql);
static inline unsigned long ql_count(const quicklist *ql) {
    return ql->count;
}

/* Adds an element at the head or tail. */
void ql_push(quicklist *ql, const char *s, size_t len, int where);
/* The element at the head or tail without removing it (NULL when empty). */
const char *ql_peek(quicklist *ql, int where, size_t *len);
/* Removes the element at the head or tail (the list must not be empty). */
void ql_pop(quicklist *ql, int where);
/* Removes count elements starting at index start (negative: from the end);
 * the range is clipped to the list. Returns the number removed. */
unsigned long ql_del_range(quicklist *ql, long start, unsigned long count);
/* Replaces the element at index; 0 if the index is out of range. */
int ql_replace_at(quicklist *ql, long index, const char *s, size_t len);
/* Appends a whole listpack as a new tail node (takes ownership; it must be
 * non-empty, valid and have fewer than 65536 entries). Used by RESTORE. */
void ql_append_listpack(quicklist *ql, unsigned char *lp);

/* Iteration from the head (QL_FWD) or tail (QL_REV). */
void ql_iter_init(ql_iter *it, quicklist *ql, int dir);
/* Iteration starting at index (negative from the end); 0 when out of range. */
int ql_iter_init_at(ql_iter *it, quicklist *ql, long index, int dir);
/* The next entry; 0 at the end. */
int ql_next(ql_iter *it, ql_entry *e);
/* Ends an iteration (compresses the node it was on again, if needed). */
void ql_iter_done(ql_iter *it);
/* Deletes e (just returned by ql_next); the iteration continues with the
 * entry that followed it in the iteration's direction. */
void ql_iter_delete(ql_iter *it, ql_entry *e);
/* Inserts s before or after e (just returned by ql_next). Ends the iteration
 * (the iterator must not be used again except for ql_iter_done). */
void ql_iter_insert(ql_iter *it, ql_entry *e, const char *s, size_t len, int after);
/* Replaces e (just returned by ql_next). Ends the iteration likewise. */
void ql_iter_replace(ql_iter *it, ql_entry *e, const char *s, size_t len);

/* Does e's element equal s? */
int ql_entry_eq(const ql_entry *e, const char *s, size_t len);

/* Bytes allocated for the structure, its nodes and their buffers. */
size_t ql_mem(const quicklist *ql);
/* The uncompressed listpack of a node: node->data itself, or a decompressed
 * copy in *tmp (caller frees *tmp with xfree when it is set). */
const unsigned char *ql_node_listpack(const ql_node *node, unsigned char **tmp);
/* Checks every invariant (tests, DEBUG); returns 1 when consistent. */
int ql_check(const quicklist *ql);

/* The LZ coder used for compressed nodes (exposed for the unit test).
 * ql_lz_compress returns the compressed size, or 0 when the output would
 * not fit in outcap. ql_lz_decompress returns the decompressed size, or 0
 * on malformed input or when it would not fit in outcap. */
size_t ql_lz_compress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap);
size_t ql_lz_decompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap);
#endif
