/*
 * slab.c -- per-worker pools of equally sized objects.
 *
 * A block is SLAB_BLOCK bytes aligned to SLAB_BLOCK, so an object finds its
 * block by masking its address. Objects are carved from a block only when
 * first needed (pages of a new block stay untouched until then), and freed
 * ones are chained through their first word. Blocks are mapped (mmap), not
 * taken from the heap, so an emptied block leaves the process; the heap would
 * also lose a header and the alignment slack per object.
 */
#include "pooler/core/slab.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct slab_block {
    struct slab_block *next, *prev; /* on slab->partial while it has room */
    void *free;                     /* freed objects, chained through their first word */
    uint32_t size;                  /* object size, a multiple of 16 */
    uint32_t used;                  /* objects handed out */
    uint32_t carved;                /* objects ever handed out: [0, carved) */
    uint32_t cap;                   /* objects the block holds */
};

/* Where a block's objects start: after the header, 16-byte aligned. */
#define SLAB_HDR ((sizeof(struct slab_block) + 15) & ~(size_t)15)

static bool block_has_room(const struct slab_block *b)
{
    return b->free || b->carved < b->cap;
}

static void partial_add(struct slab *s, struct slab_block *b)
{
    b->prev = NULL;
    b->next = s->partial;
    if (s->partial)
        s->partial->prev = b;
    s->partial = b;
}

static void partial_del(struct slab *s, struct slab_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        s->partial = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->next = b->prev = NULL;
}

/* Maps a block aligned to its size: twice the size, then the unaligned ends are unmapped. */
static struct slab_block *block_map(uint32_t size)
{
    char *p =
        mmap(NULL, 2 * SLAB_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t at = ((uintptr_t)p + SLAB_BLOCK - 1) & ~(uintptr_t)(SLAB_BLOCK - 1);
    size_t head = at - (uintptr_t)p;
    if (head)
        munmap(p, head);
    munmap((char *)at + SLAB_BLOCK, SLAB_BLOCK - head);
    struct slab_block *b = (struct slab_block *)at;
    b->next = b->prev = NULL;
    b->free = NULL;
    b->size = size;
    b->used = 0;
    b->carved = 0;
    b->cap = (uint32_t)((SLAB_BLOCK - SLAB_HDR) / size);
    POISON((char *)b + SLAB_HDR, SLAB_BLOCK - SLAB_HDR);
    return b;
}

static void block_unmap(struct slab_block *b)
{
    UNPOISON(b, SLAB_BLOCK);
    munmap(b, SLAB_BLOCK);
}

void slab_init(struct slab *s)
{
    s->partial = NULL;
    s->nblocks = 0;
}

void slab_destroy(struct slab *s)
{
    while (s->partial) {
        struct slab_block *b = s->partial;
        partial_del(s, b);
        block_unmap(b);
        s->nblocks--;
    }
}

void *slab_alloc(struct slab *s, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size > SLAB_BLOCK / 8)
        return NULL;
    struct slab_block *b = s->partial;
    if (!b) {
        if (!(b = block_map((uint32_t)size)))
            return NULL;
        s->nblocks++;
        partial_add(s, b);
    }
    void *p;
    if (b->free) {
        p = b->free;
        UNPOISON(p, size);
        b->free = *(void **)p;
    } else {
        p = (char *)b + SLAB_HDR + (size_t)b->carved++ * size;
        UNPOISON(p, size);
    }
    b->used++;
    if (!block_has_room(b))
        partial_del(s, b);
    memset(p, 0, size);
    return p;
}

void slab_free(struct slab *s, void *p)
{
    if (!p)
        return;
    struct slab_block *b = (struct slab_block *)((uintptr_t)p & ~(uintptr_t)(SLAB_BLOCK - 1));
    if (!block_has_room(b))
        partial_add(s, b);
    *(void **)p = b->free;
    b->free = p;
    POISON(p, b->size);
    b->used--;
    /* An empty block goes back to the kernel unless it is the only one with room. */
    if (b->used == 0 && (s->partial != b || b->next)) {
        partial_del(s, b);
        block_unmap(b);
        s->nblocks--;
    }
}
