/* test_list.c -- unit tests of the intrusive doubly-linked list (pooler/list.h). */
#include <stdio.h>

#include "pooler/core/list.h"
#include "tests/tap.h"

struct item {
    int v;
    struct list node;
};

/* Writes the values of head's items, front to back, into out ("1,2,3"). */
static const char *dump(struct list *head, char *out, size_t cap)
{
    size_t len = 0;
    struct list *pos, *tmp;
    out[0] = 0;
    list_for_each_safe(pos, tmp, head)
    {
        struct item *it = list_entry(pos, struct item, node);
        len += snprintf(out + len, cap - len, "%s%d", len ? "," : "", it->v);
    }
    return out;
}

/* Checks prev links agree with next links all the way round. */
static int consistent(const struct list *head)
{
    const struct list *n = head;
    do {
        if (n->next->prev != n || n->prev->next != n)
            return 0;
        n = n->next;
    } while (n != head);
    return 1;
}

int main(void)
{
    char s[64];
    struct list head = LIST_INIT(head);
    struct item it[4];
    for (int i = 0; i < 4; i++) {
        it[i].v = i + 1;
        list_init(&it[i].node);
    }

    ok(list_empty(&head), "LIST_INIT gives an empty list");
    ok(list_pop(&head) == NULL, "pop of an empty list is NULL");
    ok(!list_linked(&it[0].node), "a list_init'ed node is not linked");

    list_add_tail(&head, &it[0].node);
    list_add_tail(&head, &it[1].node);
    list_add_tail(&head, &it[2].node);
    is_str(dump(&head, s, sizeof(s)), "1,2,3", "add_tail appends in order");
    ok(!list_empty(&head), "list with items is not empty");
    ok(list_linked(&it[1].node), "an added node is linked");
    ok(consistent(&head), "links consistent after add_tail");

    list_add(&head, &it[3].node);
    is_str(dump(&head, s, sizeof(s)), "4,1,2,3", "add puts the node at the front");
    ok(consistent(&head), "links consistent after add");

    list_del(&it[1].node);
    is_str(dump(&head, s, sizeof(s)), "4,1,3", "del unlinks a middle node");
    ok(!list_linked(&it[1].node), "a deleted node is not linked");
    ok(it[1].node.next == &it[1].node && it[1].node.prev == &it[1].node,
       "a deleted node is self-linked");
    list_del(&it[1].node);
    is_str(dump(&head, s, sizeof(s)), "4,1,3", "deleting a self-linked node again is harmless");
    ok(consistent(&head), "links consistent after del");

    struct list *n = list_pop(&head);
    ok(n == &it[3].node, "pop returns the first node");
    ok(!list_linked(n), "a popped node is not linked");
    is_str(dump(&head, s, sizeof(s)), "1,3", "pop removed only the first node");

    list_del(&it[2].node);
    is_str(dump(&head, s, sizeof(s)), "1", "del of the last node");
    ok(head.prev == &it[0].node, "head.prev points at the new tail");
    n = list_pop(&head);
    ok(n == &it[0].node, "pop of the only node");
    ok(list_empty(&head), "empty after popping everything");
    ok(head.next == &head && head.prev == &head, "empty head is self-linked");

    /* Deleting inside list_for_each_safe is the reason it exists. */
    for (int i = 0; i < 4; i++)
        list_add_tail(&head, &it[i].node);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &head)
    {
        if (list_entry(pos, struct item, node)->v % 2 == 0)
            list_del(pos);
    }
    is_str(dump(&head, s, sizeof(s)), "1,3",
           "list_for_each_safe survives deleting the current node");
    ok(consistent(&head), "links consistent after deleting while iterating");

    return done_testing();
}
