/*
 * slab.h -- per-worker pools of equally sized objects (client connections):
 * 64 KiB blocks mapped from the kernel and carved into objects, with no
 * allocator header per object. Freed objects are reused first; a block whose
 * objects are all free goes back to the kernel (one spare is kept). One
 * thread owns a slab; objects never cross to another worker's slab.
 */
#ifndef WEIR_SLAB_H
#define WEIR_SLAB_H

#include <stddef.h>

#define SLAB_BLOCK (64 * 1024)

struct slab_block;

struct slab {
    struct slab_block *partial; /* blocks with room for another object */
    unsigned nblocks;           /* blocks mapped */
};

/* An empty slab (all zero is one too). */
void slab_init(struct slab *s);
/* Unmaps every block. Objects still handed out are the caller's problem. */
void slab_destroy(struct slab *s);
/*
 * A zeroed object of size bytes (at most SLAB_BLOCK / 8; the same size on
 * every call for one slab), 16-byte aligned, or NULL when out of memory.
 */
void *slab_alloc(struct slab *s, size_t size);
/* Gives p (from slab_alloc on s, or NULL) back. */
void slab_free(struct slab *s, void *p);

#endif
