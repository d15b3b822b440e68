/* lifecycle.c -- reload, run-time SET and shutdown, for signals and the admin console alike. */
#include "pooler/lifecycle.h"

#include <stdatomic.h>
#include <stdio.h>

static atomic_int shutdown_mode;

int weir_reload(char *err, size_t errlen)
{
    snprintf(err, errlen, "reload is not implemented yet");
    return WR_ERROR;
}

int weir_set(const char *key, const char *value, char *err, size_t errlen)
{
    (void)value;
    snprintf(err, errlen, "SET %s is not implemented yet", key);
    return WR_ERROR;
}

void weir_shutdown(enum shutdown_mode mode)
{
    int cur = atomic_load(&shutdown_mode);
    while ((int)mode > cur && !atomic_compare_exchange_weak(&shutdown_mode, &cur, (int)mode))
        ;
}

enum shutdown_mode weir_shutdown_mode(void)
{
    return atomic_load(&shutdown_mode);
}
