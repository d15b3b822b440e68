/* list.h -- intrusive circular doubly-linked lists (the Linux kernel's idea). */
#ifndef WEIR_LIST_H
#define WEIR_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
    struct list *next;
    struct list *prev;
};

#define LIST_INIT(name)                                                                            \
    {                                                                                              \
        &(name), &(name)                                                                           \
    }
#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head)                                                         \
    for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

static inline void list_init(struct list *l)
{
    l->next = l->prev = l;
}
static inline bool list_empty(const struct list *l)
{
    return l->next == l;
}
/* A node that was list_init'ed or list_del'ed is not on any list. */
static inline bool list_linked(const struct list *n)
{
    return n->next != n;
}

static inline void list_add_tail(struct list *head, struct list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static inline void list_add(struct list *head, struct list *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

/* Unlinks n and leaves it self-linked, so list_linked(n) is false. */
static inline void list_del(struct list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

/* Removes and returns the first node, or NULL when empty. */
static inline struct list *list_pop(struct list *head)
{
    struct list *n = head->next;
    if (n == head)
        return NULL;
    list_del(n);
    return n;
}

/* Removes and returns the last node, or NULL when empty. */
static inline struct list *list_pop_tail(struct list *head)
{
    struct list *n = head->prev;
    if (n == head)
        return NULL;
    list_del(n);
    return n;
}

#endif
