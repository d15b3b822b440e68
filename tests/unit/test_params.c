/* test_params.c -- unit tests of the ParameterStatus names and value storage. */
#include <string.h>

#include <stdio.h>

#include "pooler/conf/params.h"
#include "tests/tap.h"

int main(void)
{
    /* Every parameter has a name, and looking the name up finds the parameter. */
    int named = 1, roundtrip = 1;
    for (int i = 0; i < PARAM_COUNT; i++) {
        const char *n = param_name(i);
        if (i >= PARAM_EXTRA_FIRST && i <= PARAM_EXTRA_LAST) {
            if (n)
                named = 0; /* extra slots stay unnamed until registered */
            continue;
        }
        if (!n || !n[0]) {
            named = 0;
            continue;
        }
        if (param_lookup(n) != i) {
            roundtrip = 0;
            diag("  %s: lookup gave %d, expected %d", n, param_lookup(n), i);
        }
    }
    ok(named, "every built-in parameter has a name, extra slots none");
    ok(roundtrip, "param_lookup(param_name(i)) == i for every parameter");

    is_str(param_name(PARAM_DATESTYLE), "DateStyle", "DateStyle keeps PostgreSQL's case");
    is_str(param_name(PARAM_TIMEZONE), "TimeZone", "TimeZone keeps PostgreSQL's case");
    is_str(param_name(PARAM_INTERVALSTYLE), "IntervalStyle", "IntervalStyle canonical");
    is_str(param_name(PARAM_CLIENT_ENCODING), "client_encoding", "client_encoding canonical");
    is_str(param_name(PARAM_APPLICATION_NAME), "application_name", "application_name canonical");
    is_str(param_name(PARAM_SERVER_VERSION), "server_version", "server_version canonical");

    is_int(param_lookup("datestyle"), PARAM_DATESTYLE, "lookup is case-insensitive (lower)");
    is_int(param_lookup("DATESTYLE"), PARAM_DATESTYLE, "lookup is case-insensitive (upper)");
    is_int(param_lookup("timezone"), PARAM_TIMEZONE, "timezone found");
    is_int(param_lookup("Client_Encoding"), PARAM_CLIENT_ENCODING, "Client_Encoding found");
    is_int(param_lookup("IN_HOT_STANDBY"), PARAM_IN_HOT_STANDBY, "IN_HOT_STANDBY found");
    is_int(param_lookup("search_path"), -1, "an untracked parameter is -1");
    is_int(param_lookup(""), -1, "the empty name is -1");
    is_int(param_lookup("DateStyl"), -1, "a prefix is not a match");
    is_int(param_lookup("DateStylex"), -1, "a longer name is not a match");
    ok(PARAM_APPLICATION_NAME < PARAM_NSETTABLE && PARAM_SERVER_VERSION >= PARAM_NSETTABLE,
       "settable parameters come before the server-only ones");

    struct param_set ps;
    memset(&ps, 0, sizeof(ps));
    char val[16];
    strcpy(val, "UTF8");
    ok(param_set(&ps, PARAM_CLIENT_ENCODING, val), "param_set succeeds");
    ok(ps.v[PARAM_CLIENT_ENCODING] != val, "param_set stores a copy");
    strcpy(val, "LATIN1");
    is_str(ps.v[PARAM_CLIENT_ENCODING], "UTF8", "the copy is independent of the caller's string");

    const char *before = ps.v[PARAM_CLIENT_ENCODING];
    ok(param_set(&ps, PARAM_CLIENT_ENCODING, "UTF8"), "setting the same value succeeds");
    ok(ps.v[PARAM_CLIENT_ENCODING] == before, "the same value keeps the stored copy");

    ok(param_set(&ps, PARAM_CLIENT_ENCODING, "SQL_ASCII"), "replacing succeeds");
    is_str(ps.v[PARAM_CLIENT_ENCODING], "SQL_ASCII", "the value was replaced");
    ok(param_set(&ps, PARAM_CLIENT_ENCODING, ""), "setting the empty string succeeds");
    is_str(ps.v[PARAM_CLIENT_ENCODING], "", "the empty string is a value, not a clear");

    ok(param_set(&ps, PARAM_CLIENT_ENCODING, NULL), "clearing succeeds");
    ok(ps.v[PARAM_CLIENT_ENCODING] == NULL, "NULL clears the value");
    ok(param_set(&ps, PARAM_CLIENT_ENCODING, NULL), "clearing an unset value succeeds");
    ok(ps.v[PARAM_CLIENT_ENCODING] == NULL, "still unset");

    ok(param_set(&ps, PARAM_TIMEZONE, "UTC") && param_set(&ps, PARAM_DATESTYLE, "ISO, MDY") &&
           param_set(&ps, PARAM_IN_HOT_STANDBY, "off"),
       "set three parameters");
    is_str(ps.v[PARAM_DATESTYLE], "ISO, MDY", "values are kept per parameter");
    ok(ps.v[PARAM_APPLICATION_NAME] == NULL, "others stay unset");
    param_clear_all(&ps);
    int all_null = 1;
    for (int i = 0; i < PARAM_COUNT; i++)
        all_null &= ps.v[i] == NULL;
    ok(all_null, "param_clear_all leaves every value NULL");
    param_clear_all(&ps);
    ok(1, "param_clear_all on an empty set is harmless");

    ok(param_register_extra("search_path"), "an extra parameter can be registered");
    is_int(param_lookup("SEARCH_PATH"), PARAM_EXTRA_FIRST, "and is found by name, any case");
    is_str(param_name(PARAM_EXTRA_FIRST), "search_path", "its name is kept");
    ok(!param_register_extra("search_path"), "registering it twice fails");
    ok(!param_register_extra("TimeZone"), "a built-in cannot be registered again");
    int added = 0;
    char name[32];
    for (int k = 0; k < 20; k++) {
        snprintf(name, sizeof(name), "extra_%d", k);
        added += param_register_extra(name);
    }
    is_int(added, PARAM_EXTRA_LAST - PARAM_EXTRA_FIRST, "the extra slots are bounded");
    return done_testing();
}
