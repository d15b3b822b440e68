/* params.c -- names and storage of the ParameterStatus values weir tracks. */
#include "pooler/params.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
        if (!strcasecmp(names[i], name))
            return i;
    return -1;
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
