/*
 * pg_options.h -- the `options` startup parameter (libpq's options, PGOPTIONS):
 * command-line switches for the server process, split on blanks with
 * backslash escapes as PostgreSQL splits them (pg_split_opts).
 *
 * A session can take settings from it: `-c name=value`, `-cname=value` and
 * `--name=value` (dashes in the name become underscores, as in PostgreSQL).
 * Every other switch (-d, -B, -S, ...) configures the server process itself,
 * which a pooled session cannot do: the parser names it in the error.
 */
#ifndef WEIR_PG_OPTIONS_H
#define WEIR_PG_OPTIONS_H

#include <stddef.h>

#include "protocol/result.h"

#define PG_OPTIONS_MAX 64 /* settings in one options string */

struct pg_option {
    char *name;  /* lower-cased, '-' turned into '_' */
    char *value; /* as given, escapes removed */
};

struct pg_options {
    int n;
    struct pg_option opt[PG_OPTIONS_MAX];
    char *store; /* one allocation holding every name and value */
};

/*
 * Parses the options string s. WR_OK with *out filled (pg_options_free
 * releases it); WR_ERROR with a client-facing message in err and the
 * SQLSTATE PostgreSQL would use (6 bytes with the NUL) in sqlstate: 42601
 * for a switch without its value or an argument that is no switch, 08P01
 * for a switch a pooled session cannot take, 54000 for too many settings,
 * 53200 when out of memory.
 */
int pg_options_parse(const char *s, struct pg_options *out, char *err, size_t errlen,
                     char sqlstate[6]) WR_MUST_CHECK;
void pg_options_free(struct pg_options *o);

#endif
