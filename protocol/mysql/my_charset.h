/*
 * my_charset.h -- the character set behind a MySQL collation id, as sent in
 * the handshake, for opening server connections that speak the client's
 * character set.
 */
#ifndef WEIR_MY_CHARSET_H
#define WEIR_MY_CHARSET_H

/* Character set name ("utf8mb4", "latin1", ...) of a collation id, or NULL if unknown. */
const char *my_charset_name(unsigned collation_id);

#endif
