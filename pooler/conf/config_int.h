/*
 * config_int.h -- what the configuration's files share: load.c (the file, its
 * lines and sections), keys.c (the [weir] keys, one table), entries.c
 * ([databases] and [users]), suggest.c ("did you mean ...?") and config.c
 * (rules across keys, copies, lookups). Not for use outside conf/.
 */
#ifndef WEIR_CONFIG_INT_H
#define WEIR_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "pooler/conf/config.h"

/* One "key = value" being applied: from a file line, or from a run-time SET. */
struct parse_ctx {
    struct config *cfg;
    int lineno; /* the line being read; 0 for a run-time SET (no file:line prefix) */
    char *err;
    size_t errlen;
    const char *section; /* the section of the line being read */
};

/* ---- load.c ---- */

/* Formats the error of ctx's line into ctx->err, prefixed "file:line: " when from a file. */
void conf_error(struct parse_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Appends one warning line to cfg->notes. conf/ is data only and sits below
 * the logger, so whoever loaded the file logs the lines (config.h).
 */
void conf_note(struct config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- keys.c ---- */

/* Gives a fresh config every [weir] key's default. False when out of memory. */
bool keys_init(struct config *cfg);
/*
 * Applies "k = v" in [weir]. False with ctx->err set on a bad value or an
 * unknown key; false with ctx->err empty when out of memory. From a file, a
 * key only PgBouncer has is ignored with a note.
 */
bool keys_set(struct parse_ctx *ctx, const char *k, const char *v);
/*
 * cfg is a byte copy of src: gives it its own copies of the string keys.
 * False when out of memory; the keys not copied are then NULL, so
 * config_free(cfg) frees only what cfg owns.
 */
bool keys_dup(struct config *cfg, const struct config *src);
void keys_free(struct config *cfg);

/* Value parsers shared with the entries. */
bool conf_parse_int(const char *v, long min, long max, long *out);
int conf_parse_pool_mode(const char *v); /* -1 when v names no pool mode */
bool conf_set_str(char **dst, const char *v);

/* ---- entries.c ---- */

/* "name = connection string" in [databases] and "name = settings" in [users]. */
bool entries_add_db(struct parse_ctx *ctx, const char *name, const char *value);
bool entries_add_user(struct parse_ctx *ctx, const char *name, const char *value);
/* Once the file is read: defaults that depend on other settings (a MySQL entry's port). */
void entries_finish(struct config *cfg);
/* As keys_dup, for cfg->dbs and cfg->users (NULL and 0 in cfg on entry). */
bool entries_dup(struct config *cfg, const struct config *src);
void entries_free(struct config *cfg);

/* The connection-string splitter of [databases], for the other sections that use its syntax. */
bool conf_connstr(const char *s, bool (*fn)(void *arg, const char *k, const char *v), void *arg);

/* ---- peers.c ---- */

/* "id = host=... port=..." in [peers]; the address is resolved here. */
bool peers_add(struct parse_ctx *ctx, const char *name, const char *value);
/* As keys_dup, for cfg->peers. */
bool peers_dup(struct config *cfg, const struct config *src);
void peers_free(struct config *cfg);

/* ---- suggest.c ---- */

/* The nearest candidate seen so far to a misspelt word. */
struct suggest {
    const char *word;
    const char *best;
    int dist;
};

void suggest_start(struct suggest *s, const char *word);
void suggest_add(struct suggest *s, const char *candidate);
/* The candidate close enough to be what was meant, or NULL. */
const char *suggest_pick(const struct suggest *s);
/* The nearest word in a NULL-terminated list, or NULL. */
const char *suggest_of(const char *word, const char *const *list);
/* Formats "; did you mean x?" into out (empty when best is NULL); returns out. */
const char *suggest_text(const char *best, char *out, size_t n);

/* ---- config.c ---- */

/* Rules across keys, checked after a load and after a run-time SET. */
int config_check(struct config *cfg, char *err, size_t errlen) WR_MUST_CHECK;

#endif
