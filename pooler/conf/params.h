/*
 * params.h -- the server parameters PostgreSQL reports with ParameterStatus
 * (GUC_REPORT), cached per server connection and per client.
 *
 * A client sees the values of the server it was given at login; its own
 * choices (from the startup packet, or later SETs the server reported) of
 * the settable ones are applied to each server it gets.
 */
#ifndef WEIR_PARAMS_H
#define WEIR_PARAMS_H

#include <stdatomic.h>
#include <stdbool.h>

enum param_id {
    /* Settable by clients, carried from server to server. */
    PARAM_CLIENT_ENCODING,
    PARAM_DATESTYLE,
    PARAM_TIMEZONE,
    PARAM_INTERVALSTYLE,
    PARAM_STANDARD_CONFORMING_STRINGS,
    PARAM_APPLICATION_NAME,
    PARAM_DEFAULT_TRANSACTION_READ_ONLY, /* SET default_transaction_read_only follows its client */
    PARAM_BUILTIN_SETTABLE,              /* the reported ones above: servers always report them */
    PARAM_EXTRA_FIRST = PARAM_BUILTIN_SETTABLE, /* track_extra_parameters: named at start-up */
    PARAM_EXTRA_LAST = PARAM_EXTRA_FIRST + 7,
    PARAM_NSETTABLE,
    /* Reported by the server only. */
    PARAM_SERVER_VERSION = PARAM_NSETTABLE,
    PARAM_SERVER_ENCODING,
    PARAM_INTEGER_DATETIMES,
    PARAM_IS_SUPERUSER,
    PARAM_SESSION_AUTHORIZATION,
    PARAM_IN_HOT_STANDBY,
    PARAM_COUNT
};

struct param_set {
    char *v[PARAM_COUNT]; /* NULL: unknown / no preference */
};

/* The canonical (case as PostgreSQL reports it) name of a parameter; NULL for an unused extra slot.
 */
const char *param_name(enum param_id id);
/*
 * Adds a parameter to track (track_extra_parameters), before any client
 * arrives. Returns false when it is already known or the extra slots are full.
 */
bool param_register_extra(const char *name);
/* Index of a parameter by case-insensitive name, or -1. */
int param_lookup(const char *name);
/* Sets (copies) a value; NULL clears. Returns false when out of memory. */
bool param_set(struct param_set *ps, int id, const char *value);
void param_clear_all(struct param_set *ps);

/*
 * An immutable set of settable values shared by reference count: what the
 * clients of a pool were told at login (pool_told). Any thread may take or
 * drop a reference; the last one frees it.
 */
struct param_snap {
    atomic_int refs;
    struct param_set ps; /* settable parameters only */
};
/* A snapshot of from's settable values with one reference; NULL when out of memory. */
struct param_snap *param_snap_new(const struct param_set *from);
void param_snap_ref(struct param_snap *snap);
void param_snap_unref(struct param_snap *snap);
/* True when snap holds exactly from's settable values. */
bool param_snap_equal(const struct param_snap *snap, const struct param_set *from);

#endif
