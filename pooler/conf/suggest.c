/*
 * suggest.c -- "did you mean ...?": the known key, entry key or section name
 * nearest to a misspelt one, for the errors of a config file and of SET.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pooler/conf/config_int.h"

/*
 * Optimal string alignment distance (Levenshtein plus adjacent swaps, so
 * "defualt" is one edit from "default"), case-insensitive. Keys are short:
 * longer strings are reported as far.
 */
static int edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXLEN || lb >= MAXLEN)
        return INT_MAX;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

void suggest_start(struct suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->dist = INT_MAX;
}

/* On a tie the earlier candidate stays: lists are in the order of the reference. */
void suggest_add(struct suggest *s, const char *candidate)
{
    int d = edit_distance(s->word, candidate);
    /* A longer or shorter spelling of a key ("max_client_connections") counts as near. */
    size_t lw = strlen(s->word), lc = strlen(candidate);
    if (d > 3 && lw >= 6 && lc >= 6 && !strncasecmp(s->word, candidate, lw < lc ? lw : lc))
        d = 3;
    if (d < s->dist) {
        s->dist = d;
        s->best = candidate;
    }
}

/*
 * Close enough means at most a third of the word's length in edits (so
 * "port" never suggests "user"), and 3 at most.
 */
const char *suggest_pick(const struct suggest *s)
{
    int len = (int)strlen(s->word);
    int limit = len / 3 < 3 ? len / 3 : 3;
    if (limit < 1)
        limit = 1;
    return s->best && s->dist <= limit ? s->best : NULL;
}

const char *suggest_of(const char *word, const char *const *list)
{
    struct suggest s;
    suggest_start(&s, word);
    for (; *list; list++)
        suggest_add(&s, *list);
    return suggest_pick(&s);
}

const char *suggest_text(const char *best, char *out, size_t n)
{
    if (best)
        snprintf(out, n, "; did you mean %s?", best);
    else
        out[0] = 0;
    return out;
}
