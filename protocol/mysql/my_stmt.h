/*
 * my_stmt.h -- the binary-protocol statement commands (COM_STMT_*) as a
 * pooler that gives clients statement ids of its own needs them: the
 * prepare response's header, the heads of COM_STMT_EXECUTE and MariaDB's
 * COM_STMT_BULK_EXECUTE (statement id, flags, null bitmap, parameter types),
 * COM_STMT_SEND_LONG_DATA, COM_STMT_FETCH, COM_STMT_RESET and
 * COM_STMT_CLOSE, the packets weir sends a server itself, and the cheap scan
 * for GET_LOCK in SQL text.
 *
 * An EXECUTE head is everything before the parameter values: only it is
 * parsed and rewritten; the values, which may be megabytes, are never looked
 * at. Parsers take the first `avail` bytes of a payload of `len` bytes and
 * say WR_AGAIN when the head is not all there yet. Nothing here allocates
 * except the my_out builders.
 */
#ifndef WEIR_MY_STMT_H
#define WEIR_MY_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"
#include "protocol/result.h"

/* MariaDB: an EXECUTE for "the statement prepared last" on the connection. */
#define MY_STMT_LAST_PREPARED 0xFFFFFFFFu

/* COM_STMT_BULK_EXECUTE flags (MariaDB). */
#define MY_BULK_SEND_TYPES 0x80

/* True for the commands that carry a statement id (and COM_STMT_PREPARE, which makes one). */
static inline bool my_stmt_command(uint8_t cmd)
{
    return (cmd >= COM_STMT_PREPARE && cmd <= COM_STMT_RESET) || cmd == COM_STMT_FETCH ||
           cmd == COM_STMT_BULK_EXECUTE;
}

/* The first packet of a successful COM_STMT_PREPARE response. */
struct my_prep_ok {
    uint32_t stmt_id;
    uint16_t ncols;
    uint16_t nparams;
    uint16_t warnings; /* 0 when the (pre-4.1) packet ends before them */
};

/*
 * Parses a prepare OK payload: 0x00, statement id, column count, parameter
 * count, then (MySQL 4.1+) a filler byte and the warning count. WR_OK or
 * WR_ERROR (another first byte, or fewer than 9 bytes).
 */
int my_prep_ok_parse(const uint8_t *payload, size_t len, struct my_prep_ok *out) WR_MUST_CHECK;

/* The head of a COM_STMT_EXECUTE or COM_STMT_BULK_EXECUTE payload. */
struct my_exec_head {
    uint8_t command;      /* COM_STMT_EXECUTE or COM_STMT_BULK_EXECUTE */
    uint32_t stmt_id;     /* at payload offset 1 */
    uint16_t flags;       /* EXECUTE: cursor type (1 byte); BULK: bulk flags (2 bytes) */
    uint32_t iterations;  /* EXECUTE only, always 1 in practice */
    uint16_t nparams;     /* as the caller gave it */
    bool bound;           /* types follow: new_params_bound_flag, or MY_BULK_SEND_TYPES */
    uint32_t bitmap_at;   /* EXECUTE: offset of the null bitmap ((nparams + 7) / 8 bytes) */
    uint32_t types_at;    /* offset where the types are, or would go */
    uint32_t head_len;    /* bytes before the parameter values */
    const uint8_t *types; /* 2 * nparams bytes when bound and nparams > 0, else NULL */
};

/*
 * Parses the head of an EXECUTE (or BULK_EXECUTE) payload whose first avail
 * bytes are at p (payload_len bytes in all) for a statement with nparams
 * parameters. EXECUTE: command, statement id, flags (1), iteration count
 * (4), then with parameters the null bitmap, new_params_bound_flag and,
 * when it is 1, two type bytes per parameter. BULK_EXECUTE: command,
 * statement id, flags (2), types when MY_BULK_SEND_TYPES is set.
 * WR_OK; WR_AGAIN when the head goes past avail (but not past
 * payload_len); WR_ERROR when it is not such a payload or the head would
 * run past payload_len (a bound flag other than 0 or 1 too).
 */
int my_exec_head_parse(const uint8_t *p, size_t avail, uint32_t payload_len, uint16_t nparams,
                       struct my_exec_head *out) WR_MUST_CHECK;

/* Bytes my_exec_head_with_types writes for head h: its head with the types in. */
static inline uint32_t my_exec_head_typed_len(const struct my_exec_head *h)
{
    return h->bound ? h->head_len : h->head_len + 2u * h->nparams;
}

/*
 * Writes the head of h (whose payload starts at orig) again into dst (room
 * for my_exec_head_typed_len(h) bytes) with statement id stmt_id and, when h
 * has no types, with the flag saying types follow and `types` (2 * nparams
 * bytes) after it: for an EXECUTE whose client relies on types sent before
 * to a server that has not seen them. The parameter values follow unchanged.
 * Returns the bytes written.
 */
uint32_t my_exec_head_with_types(uint8_t *dst, const struct my_exec_head *h, const uint8_t *orig,
                                 uint32_t stmt_id, const uint8_t *types);

/* The head of COM_STMT_SEND_LONG_DATA: command, statement id, parameter number. */
#define MY_LONG_DATA_HEAD 7

/*
 * Parses the head of a SEND_LONG_DATA payload (avail >= 7 bytes of it).
 * WR_OK, or WR_ERROR for another command or a shorter payload.
 */
int my_long_data_parse(const uint8_t *p, size_t avail, uint32_t *stmt_id,
                       uint16_t *param) WR_MUST_CHECK;

/*
 * COM_STMT_CLOSE and COM_STMT_RESET (command and statement id, 5 bytes) and
 * COM_STMT_FETCH (and a row count, 9 bytes; *rows is left alone for the
 * others, and may be NULL). WR_OK, or WR_ERROR when the payload is not
 * exactly that.
 */
int my_stmt_id_parse(const uint8_t *p, size_t len, uint32_t *stmt_id, uint32_t *rows) WR_MUST_CHECK;

/*
 * Packets weir sends a server itself, each with sequence id 0, appended to
 * o: COM_STMT_PREPARE of text, COM_STMT_CLOSE of an id, COM_STMT_SEND_LONG_DATA
 * of data for parameter `param`, COM_INIT_DB of a schema.
 */
void my_out_stmt_prepare(struct my_out *o, const void *text, size_t len);
void my_out_stmt_close(struct my_out *o, uint32_t stmt_id);
void my_out_stmt_long_data(struct my_out *o, uint32_t stmt_id, uint16_t param, const void *data,
                           size_t len);
void my_out_init_db(struct my_out *o, const char *schema, size_t len);

/*
 * Looks for GET_LOCK (any case) in SQL text that passes in pieces: the
 * state carries the end of the previous piece, so a name cut in two is
 * found too. Zero-initialise the state for each text. Returns true once the
 * text seen so far contains it. Comments and string literals are not told
 * apart: a GET_LOCK inside them counts as well (a needless pin, never a
 * missed one).
 */
struct my_lock_scan {
    uint8_t tail[7]; /* the last bytes seen, fewer at the start */
    uint8_t n;
};
bool my_lock_scan_feed(struct my_lock_scan *st, const uint8_t *p, size_t len);

/* The same over one whole text. */
static inline bool my_has_get_lock(const uint8_t *p, size_t len)
{
    struct my_lock_scan st = {{0}, 0};
    return my_lock_scan_feed(&st, p, len);
}

#endif
