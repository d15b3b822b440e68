/*
 * userlist.h -- the auth file: lines of "user" "secret" as in PgBouncer's
 * auth_file (a doubled quote inside a quoted string stands for one quote;
 * lines starting with ';' or '#' and blank lines are ignored).
 */
#ifndef WEIR_USERLIST_H
#define WEIR_USERLIST_H

#include <stddef.h>

#include "protocol/result.h"

struct userlist;

/* Parses text (len bytes). WR_ERROR with err ("line N: ...") on bad syntax. */
int userlist_parse(const char *text, size_t len, struct userlist **out, char *err,
                   size_t errlen) WR_MUST_CHECK;
/* Reads and parses a file. */
int userlist_load(const char *path, struct userlist **out, char *err, size_t errlen) WR_MUST_CHECK;
void userlist_free(struct userlist *ul);

/* The secret stored for a user, or NULL when the user is not listed. */
const char *userlist_secret(const struct userlist *ul, const char *user);
/* The list's own copy of user's name (it lives as long as the list), or NULL when not listed. */
const char *userlist_name(const struct userlist *ul, const char *user);
int userlist_count(const struct userlist *ul);

#endif
