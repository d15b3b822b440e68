/*
 * textfile.h -- a whole small file read into memory (the auth file, the hba
 * file), and wiped when let go: an auth file holds passwords.
 */
#ifndef WEIR_TEXTFILE_H
#define WEIR_TEXTFILE_H

#include <stddef.h>

#include "protocol/result.h"

/* *text (malloc'd, not NUL-terminated; NULL for an empty file) and *len. WR_ERROR with err. */
int textfile_read(const char *path, char **text, size_t *len, char *err,
                  size_t errlen) WR_MUST_CHECK;
/* Wipes and frees what textfile_read gave. */
void textfile_free(char *text, size_t len);

#endif
