/*
 * my_cmd.h -- the few client commands weir answers itself instead of
 * forwarding them: the KILL statement (whose thread ids are weir's, not the
 * server's), COM_PROCESS_KILL (its binary form) and COM_CHANGE_USER.
 *
 * KILL is recognised in one narrow statement form only: optional leading
 * whitespace, KILL, optional HARD or SOFT, optional CONNECTION or QUERY, a
 * decimal id, optional trailing whitespace and semicolons. Anything else
 * that starts with the word KILL is reported as another form, so the pooler
 * can refuse it rather than let it reach a shared server connection. No
 * other SQL is looked at.
 */
#ifndef WEIR_MY_CMD_H
#define WEIR_MY_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mysql/my_handshake.h"
#include "protocol/result.h"

/* Errors of a write refused by a read-only server (--read-only; innodb_read_only). */
#define MY_ER_OPTION_PREVENTS_STATEMENT 1290
#define MY_ER_READ_ONLY_MODE            1836

/* Longest COM_QUERY text looked at for KILL; longer statements are not KILL statements. */
#define MY_KILL_MAX_LEN 256

enum my_kill_kind {
    MY_KILL_NONE,       /* not a KILL statement */
    MY_KILL_QUERY,      /* KILL [HARD|SOFT] QUERY id */
    MY_KILL_CONNECTION, /* KILL [HARD|SOFT] [CONNECTION] id */
    MY_KILL_OTHER,      /* starts with the word KILL in another form (USER, QUERY ID, ...) */
};

/*
 * Classifies the text of a COM_QUERY (sql[0..len), not NUL-terminated).
 * For MY_KILL_QUERY and MY_KILL_CONNECTION *id is the thread id (up to
 * 2^64-1; more digits make it MY_KILL_OTHER). Texts longer than
 * MY_KILL_MAX_LEN are MY_KILL_NONE.
 */
enum my_kill_kind my_kill_parse(const uint8_t *sql, size_t len, uint64_t *id);

/* Longest database name weir takes from a USE: MariaDB's 64 characters of up to 4 bytes. */
#define MY_DB_NAME_MAX 256

/*
 * The database a client chooses: a COM_INIT_DB payload (0x02 and the name),
 * or a COM_QUERY payload whose text is exactly `USE name` (any case, the name
 * bare or in backquotes with `` for a backquote, optional trailing blanks and
 * semicolons; nothing else, no comments). WR_OK with the name, NUL-terminated,
 * in name[0..MY_DB_NAME_MAX]; WR_DONE when the payload is no such command;
 * WR_ERROR when it is one but the name is empty, holds a NUL or is longer.
 */
int my_use_parse(const uint8_t *payload, size_t len, char name[MY_DB_NAME_MAX + 1]) WR_MUST_CHECK;

/*
 * A COM_PROCESS_KILL payload (0x0C and a 4-byte thread id). WR_OK with
 * *id, or WR_ERROR when it is not exactly that.
 */
int my_process_kill_parse(const uint8_t *payload, size_t len, uint32_t *id) WR_MUST_CHECK;

/* A parsed COM_CHANGE_USER; pointers point into the caller's payload. */
struct my_change_user {
    const char *user;    /* NUL-terminated */
    const uint8_t *auth; /* auth response for the first scramble; auth_len 0 when empty */
    size_t auth_len;
    const char *database; /* NUL-terminated, possibly empty */
    bool has_charset;
    uint16_t charset;   /* collation id, when has_charset */
    const char *plugin; /* auth plugin of the response, or NULL */
};

/*
 * Parses a COM_CHANGE_USER payload (first byte 0x11) sent by a client with
 * capabilities caps: user, auth response (1-byte length with
 * CLIENT_SECURE_CONNECTION, else NUL-terminated), database, then, when
 * bytes remain, the 2-byte character set and (with CLIENT_PLUGIN_AUTH) the
 * plugin name. Connection attributes after that are not looked at. WR_OK,
 * or WR_ERROR with a reason in err when a field runs past the end.
 */
int my_change_user_parse(const uint8_t *payload, size_t len, uint64_t caps,
                         struct my_change_user *out, char *err, size_t errlen) WR_MUST_CHECK;

/*
 * Appends a COM_CHANGE_USER packet (sequence id 0) as a client with
 * CLIENT_SECURE_CONNECTION and CLIENT_PLUGIN_AUTH sends it: the fields of
 * struct my_change_user (auth_len at most 255), and an empty set of
 * connection attributes when caps has CLIENT_CONNECT_ATTRS.
 */
void my_out_change_user(struct my_out *o, const struct my_change_user *cu, uint64_t caps);

#endif
