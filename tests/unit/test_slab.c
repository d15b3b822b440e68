/* test_slab.c -- unit tests of the per-worker object pools: reuse, zeroing, returning blocks. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pooler/core/slab.h"
#include "tests/tap.h"

#define OBJ 288

static void test_reuse(void)
{
    struct slab s;
    slab_init(&s);
    char *a = slab_alloc(&s, OBJ);
    char *b = slab_alloc(&s, OBJ);
    ok(a && b && a != b, "two objects");
    is_int(s.nblocks, 1, "one block holds both");
    ok(((uintptr_t)a & 15) == 0 && ((uintptr_t)b & 15) == 0, "objects are 16-byte aligned");
    ok(b - a == OBJ || a - b == OBJ, "objects sit next to each other, without headers");
    memset(a, 'x', OBJ);
    slab_free(&s, a);
    char *c = slab_alloc(&s, OBJ);
    ok(c == a, "a freed object is reused first");
    bool zero = true;
    for (int i = 0; i < OBJ; i++)
        zero = zero && c[i] == 0;
    ok(zero, "a reused object comes back zeroed");
    slab_free(&s, b);
    slab_free(&s, c);
    is_int(s.nblocks, 1, "the last block is kept when empty");
    slab_free(&s, NULL);
    slab_destroy(&s);
    is_int(s.nblocks, 0, "destroy unmaps it");
}

static void test_blocks(void)
{
    struct slab s;
    slab_init(&s);
    enum { N = 1000 };
    static char *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = slab_alloc(&s, OBJ);
        memset(objs[i], i & 0xff, OBJ);
    }
    int per_block = (SLAB_BLOCK - 64) / OBJ;
    ok(s.nblocks >= (unsigned)(N / per_block) && s.nblocks <= (unsigned)(N / per_block + 2),
       "blocks fill before new ones are mapped");
    bool intact = true;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < OBJ; j++)
            intact = intact && objs[i][j] == (char)(i & 0xff);
    ok(intact, "objects do not overlap");
    unsigned before = s.nblocks;
    for (int i = 0; i < N; i += 2)
        slab_free(&s, objs[i]);
    is_int(s.nblocks, before, "half-used blocks stay mapped");
    for (int i = 0; i < N / 2; i++)
        objs[i * 2] = slab_alloc(&s, OBJ);
    is_int(s.nblocks, before, "freed room is used before mapping more");
    for (int i = 0; i < N; i++)
        slab_free(&s, objs[i]);
    is_int(s.nblocks, 1, "emptied blocks go back to the kernel but one");
    slab_destroy(&s);
    is_int(s.nblocks, 0, "destroy unmaps the spare");
}

int main(void)
{
    no_plan();
    test_reuse();
    test_blocks();
    return done_testing();
}
