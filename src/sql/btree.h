/* sql/btree.h — B+tree page format, shared by btree.c and check.c (internal).
 *
 * Node page (leaf or interior), offsets in bytes:
 *
 *    0 u8  type: 1 leaf, 2 interior      +--------+------------------+
 *    1 u8  reserved (0)                  | header | cell pointers -> |
 *    2 u16 number of cells               +--------+------------------+
 *    4 u16 start of the cell area        |    free space             |
 *    6 u16 free bytes inside cell area   +---------------------------+
 *    8 u32 interior: rightmost child     | <- cells (any order)      |
 *   12 u16 cell offsets, in key order    +---------------------------+
 *                                        | trailer (8, main file)    |
 *
 * Leaf cell:      varint klen | varint vlen | key | local value [| u32 overflow]
 * Interior cell:  u32 child | varint klen | key
 *
 * A value longer than fits locally keeps a prefix in the cell and the rest in
 * a chain of overflow pages:  0 u8 type 3 | 3 reserved | 4 u32 next | data.
 *
 * Interior node with cells (c0,k0) .. (cn-1,kn-1) and rightmost child r:
 * every key under ci is < ki, and >= k(i-1); every key under r is >= kn-1.
 * Separators are the shortest byte strings that divide the two sides.
 * Varints are LEB128 (7 bits a byte, low bits first).
 */
#ifndef LARDER_SQL_BTREE_H
#define LARDER_SQL_BTREE_H
#include "sql/store_int.h"

#define PT_LEAF 1
#define PT_INTERIOR 2
#define PT_OVERFLOW 3
#define NODE_HDR 12
#define OVFL_HDR 8
#define BT_MAX_DEPTH 24

static inline uint32_t bt_max_local(uint32_t usable) {
    return (usable - NODE_HDR) / 4 - 2;
}
static inline uint32_t bt_min_local(uint32_t usable) {
    return (usable - NODE_HDR) / 8;
}
static inline uint32_t bt_max_key(uint32_t usable) {
    return bt_max_local(usable) - 12;
}
static inline uint32_t bt_ovfl_cap(uint32_t usable) {
    return usable - OVFL_HDR;
}

/* Decoded cell. */
typedef struct bt_cell {
    const uint8_t *key;
    uint32_t klen;
    uint32_t vlen;      /* leaf: whole value length */
    const uint8_t *val; /* leaf: local value bytes */
    uint32_t vlocal;    /* leaf: bytes of value in the cell */
    uint32_t ovfl;      /* leaf: first overflow page, 0 if none */
    uint32_t child;     /* interior */
    uint32_t size;      /* bytes the cell occupies */
} bt_cell;

/* Local value bytes for a leaf entry of these lengths. */
uint32_t sqli_bt_leaf_local(uint32_t usable, size_t klen, size_t vlen);

/* Check a node's header and cell bounds; 0 if sane. */
int sqli_bt_node_sane(const uint8_t *d, uint32_t usable);

/* Parse cell i of a node known to be sane. */
void sqli_bt_parse(const uint8_t *d, uint32_t usable, int i, bt_cell *c);

static inline int bt_ncells(const uint8_t *d) {
    return get16(d + 2);
}
/* Child pointer i of a sane interior node (i == ncells: the rightmost). */
static inline uint32_t bt_child(const uint8_t *d, uint32_t usable, int i) {
    (void)usable;
    if (i >= bt_ncells(d)) return get32(d + 8);
    return get32(d + get16(d + NODE_HDR + 2 * i));
}

#endif
