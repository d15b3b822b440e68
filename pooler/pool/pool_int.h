/*
 * pool_int.h -- inside the pools: pool.c (the pools, their waiters and
 * limits, and the registry that finds them) and pool_db.c (databases as a
 * whole: console controls, counts, reloads). The registry is shared under
 * pools_lock. Not for other modules: they use pool.h.
 */
#ifndef WEIR_POOL_INT_H
#define WEIR_POOL_INT_H

#include <pthread.h>

#include "pooler/pool/pool.h"

#define POOL_BUCKETS 256

/* The registry: pools by (database, user, variant) and in creation order, console flags. */
extern pthread_mutex_t pools_lock;
extern struct pool *pool_buckets[POOL_BUCKETS]; /* hash chains [pools_lock] */
extern struct pool **pools_all;                 /* append-only, for sweeps [pools_lock] */
extern int pools_n;
extern struct db_state *pool_db_states; /* [pools_lock] */

/* The console flags of database `name`; called with pools_lock held. NULL when out of memory. */
struct db_state *pool_db_state_get(const char *name);
/* A pool step that does nothing yet. */
void pool_step_init(struct pool_step *st);
/*
 * Pairs waiters with w's idle servers (oldest waiter first), then plans what
 * else the waiters need: a wake-up of a worker that has idle servers, or new
 * logins within the limits.
 */
void pool_balance(struct pool *r, struct worker *w, struct pool_step *st);

#endif
