/* util/list — an intrusive doubly linked list (the node lives in the element). */
#ifndef LARDER_UTIL_LIST_H
#define LARDER_UTIL_LIST_H
#include <stddef.h>

typedef struct list_node {
    struct list_node *prev, *next;
} list_node;

typedef struct list_head {
    list_node n; /* sentinel: n.next is the first element, n.prev the last */
    size_t len;
} list_head;

#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define list_for_each(pos, head) for (pos = (head)->n.next; pos != &(head)->n; pos = pos->next)
#define list_for_each_safe(pos, tmp, head)                                                         \
    for (pos = (head)->n.next, tmp = pos->next; pos != &(head)->n; pos = tmp, tmp = pos->next)

static inline void list_init(list_head *h) {
    h->n.prev = h->n.next = &h->n;
    h->len = 0;
}
static inline int list_empty(const list_head *h) {
    return h->n.next == &h->n;
}
static inline int list_linked(const list_node *n) {
    return n->next != NULL;
}
static inline void list_push_back(list_head *h, list_node *n) {
    n->prev = h->n.prev;
    n->next = &h->n;
    h->n.prev->next = n;
    h->n.prev = n;
    h->len++;
}
static inline void list_push_front(list_head *h, list_node *n) {
    n->next = h->n.next;
    n->prev = &h->n;
    h->n.next->prev = n;
    h->n.next = n;
    h->len++;
}
static inline void list_remove(list_head *h, list_node *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    h->len--;
}
static inline list_node *list_first(const list_head *h) {
    return list_empty(h) ? NULL : h->n.next;
}
#endif
