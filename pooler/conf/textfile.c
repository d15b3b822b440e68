/* textfile.c -- whole small files in memory (see textfile.h). */
#include "pooler/conf/textfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int textfile_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return WR_ERROR;
    }
    char *t = NULL;
    size_t n = 0, cap = 0, got;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (n + got > cap) {
            size_t ncap = (n + got) * 2;
            char *bigger = malloc(ncap);
            if (!bigger) {
                textfile_free(t, n);
                fclose(f);
                explicit_bzero(chunk, sizeof(chunk));
                snprintf(err, errlen, "%s: out of memory", path);
                return WR_ERROR;
            }
            if (t)
                memcpy(bigger, t, n);
            textfile_free(t, n); /* realloc would leave the old copy behind unwiped */
            t = bigger;
            cap = ncap;
        }
        memcpy(t + n, chunk, got);
        n += got;
    }
    explicit_bzero(chunk, sizeof(chunk));
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        textfile_free(t, n);
        snprintf(err, errlen, "%s: read error", path);
        return WR_ERROR;
    }
    *text = t;
    *len = n;
    return WR_OK;
}

void textfile_free(char *text, size_t len)
{
    if (!text)
        return;
    explicit_bzero(text, len);
    free(text);
}
