/* params.c -- names and storage of the ParameterStatus values weir tracks. */
#include "pooler/conf/params.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char extra_names[PARAM_EXTRA_LAST - PARAM_EXTRA_FIRST + 1][64];

static const char *names[PARAM_COUNT] = {
    [PARAM_CLIENT_ENCODING] = "client_encoding",
    [PARAM_DATESTYLE] = "DateStyle",
    [PARAM_TIMEZONE] = "TimeZone",
    [PARAM_INTERVALSTYLE] = "IntervalStyle",
    [PARAM_STANDARD_CONFORMING_STRINGS] = "standard_conforming_strings",
    [PARAM_APPLICATION_NAME] = "application_name",
    [PARAM_SERVER_VERSION] = "server_version",
    [PARAM_SERVER_ENCODING] = "server_encoding",
    [PARAM_INTEGER_DATETIMES] = "integer_datetimes",
    [PARAM_IS_SUPERUSER] = "is_superuser",
    [PARAM_SESSION_AUTHORIZATION] = "session_authorization",
    [PARAM_DEFAULT_TRANSACTION_READ_ONLY] = "default_transaction_read_only",
    [PARAM_IN_HOT_STANDBY] = "in_hot_standby",
};

const char *param_name(enum param_id id)
{
    return names[id];
}

int param_lookup(const char *name)
{
    for (int i = 0; i < PARAM_COUNT; i++)
        if (names[i] && !strcasecmp(names[i], name))
            return i;
    return -1;
}

bool param_register_extra(const char *name)
{
    if (param_lookup(name) >= 0 || strlen(name) >= sizeof(extra_names[0]))
        return false;
    for (int i = PARAM_EXTRA_FIRST; i <= PARAM_EXTRA_LAST; i++) {
        if (!names[i]) {
            char *slot = extra_names[i - PARAM_EXTRA_FIRST];
            strcpy(slot, name);
            names[i] = slot;
            return true;
        }
    }
    return false;
}

bool param_set(struct param_set *ps, int id, const char *value)
{
    if (ps->v[id] && value && !strcmp(ps->v[id], value))
        return true;
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return false;
    free(ps->v[id]);
    ps->v[id] = copy;
    return true;
}

void param_clear_all(struct param_set *ps)
{
    for (int i = 0; i < PARAM_COUNT; i++) {
        free(ps->v[i]);
        ps->v[i] = NULL;
    }
}

struct param_snap *param_snap_new(const struct param_set *from)
{
    struct param_snap *snap = calloc(1, sizeof(*snap));
    if (!snap)
        return NULL;
    atomic_init(&snap->refs, 1);
    for (int i = 0; i < PARAM_NSETTABLE; i++) {
        if (!param_set(&snap->ps, i, from->v[i])) {
            param_clear_all(&snap->ps);
            free(snap);
            return NULL;
        }
    }
    return snap;
}

void param_snap_ref(struct param_snap *snap)
{
    atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
}

void param_snap_unref(struct param_snap *snap)
{
    if (snap && atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1) {
        param_clear_all(&snap->ps);
        free(snap);
    }
}

bool param_snap_equal(const struct param_snap *snap, const struct param_set *from)
{
    for (int i = 0; i < PARAM_NSETTABLE; i++) {
        const char *a = snap->ps.v[i], *b = from->v[i];
        if ((a == NULL) != (b == NULL) || (a && strcmp(a, b)))
            return false;
    }
    return true;
}
