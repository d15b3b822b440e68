/*
 * settings.h -- session settings beyond the tracked parameters (params.h):
 * what a client SET (search_path, statement_timeout, app.user_id, ...) or
 * brought in its options, and what a server connection holds, as a small
 * list of name -> value. The replay turns one list into another with as few
 * statements as the difference needs.
 */
#ifndef WEIR_SETTINGS_H
#define WEIR_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct setting {
    char *name;  /* lower-cased */
    char *value; /* a SET value list ("'a', 'b'", "42"), or the setting's own text when raw */
    bool raw;    /* set with set_config (the options string, set_config calls) */
};

struct settings {
    int n;
    int cap;
    struct setting *v;
};

/* Sets name to value (copies both). False when out of memory (s unchanged). */
bool settings_put(struct settings *s, const char *name, const char *value, bool raw);
/* Removes name, if present. */
void settings_del(struct settings *s, const char *name);
const struct setting *settings_get(const struct settings *s, const char *name);
/* Makes dst a copy of src. False when out of memory (dst then empty). */
bool settings_copy(struct settings *dst, const struct settings *src);
void settings_clear(struct settings *s);
/* Does a hold name with the same value as b? */
bool settings_same(const struct setting *a, const struct setting *b);
/*
 * Appends to q[*len..cap) the statements that turn a session holding `have`
 * into one holding `want`: SET or set_config for what differs, RESET for
 * what `want` lacks. Each ends with ';'. *len grows past cap when q is too
 * small. NULL lists are empty.
 */
void settings_diff_sql(const struct settings *have, const struct settings *want, char *q,
                       size_t cap, size_t *len);
/* Appends the statement that sets one setting (SET or SELECT set_config). */
void settings_set_sql(const struct setting *st, char *q, size_t cap, size_t *len);

#endif
