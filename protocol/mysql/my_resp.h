/*
 * my_resp.h -- knowing when a server's response to a command is complete,
 * packet by packet, without understanding result sets; and the OK packet
 * with its session-state-change block.
 *
 * The pooler starts a tracker when it forwards a command and feeds it the
 * server's packets as they pass by. The tracker looks at the first bytes of
 * each packet, and at whole packets only for the small ones that decide
 * (OK, ERR, EOF, column counts, prepare OKs). Large rows are streamed.
 */
#ifndef WEIR_MY_RESP_H
#define WEIR_MY_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"
#include "protocol/result.h"

/* Where the tracker is inside a response. */
enum my_resp_state {
    MY_RS_FIRST,       /* expecting the first packet of a result: OK, ERR, column count, 0xFB */
    MY_RS_INFILE,      /* LOCAL INFILE request seen; the client is sending its file */
    MY_RS_COLDEFS,     /* `left` column definitions still to come */
    MY_RS_COLDEFS_EOF, /* the EOF after the column definitions */
    MY_RS_ROWS,        /* rows until EOF (or OK with 0xFE header) or ERR */
    MY_RS_PREP_FIRST,  /* COM_STMT_PREPARE: expecting its OK or ERR */
    MY_RS_PREP_PARAMS, /* `left` parameter definitions still to come */
    MY_RS_PREP_PARAMS_EOF,
    MY_RS_PREP_COLS, /* `left` column definitions still to come */
    MY_RS_PREP_COLS_EOF,
    MY_RS_FIELDS, /* COM_FIELD_LIST: column definitions until EOF, or ERR */
    MY_RS_STRING, /* COM_STATISTICS: one string packet */
    MY_RS_SIMPLE, /* OK or ERR (or EOF, for COM_SET_OPTION and the like) */
    MY_RS_DONE,   /* complete; feeding more is WR_ERROR */
    MY_RS_BAD,    /* a command we cannot track; every feed is WR_ERROR */
};

struct my_resp {
    uint64_t caps;   /* negotiated capabilities of the connection */
    uint8_t command; /* the command byte this is the response to */
    uint8_t state;   /* enum my_resp_state */
    bool cont;       /* the previous packet was 0xFFFFFF long: this one continues it */
    bool infile;     /* a LOCAL INFILE request is waiting for the client's file */
    bool error;      /* the response ended with ERR (error_code is set) */
    bool has_status; /* status holds flags from an OK or EOF of this response */
    uint16_t status; /* server status flags of the last OK/EOF seen */
    uint16_t warnings;
    uint16_t error_code;
    uint64_t left;      /* definitions still expected in the current block */
    uint64_t prep_cols; /* COM_STMT_PREPARE: columns announced by its OK */
    uint32_t stmt_id;   /* COM_STMT_PREPARE: the statement id of its OK */
    uint32_t results;   /* results (OK, ERR or result sets) completed so far */
};

/* False for commands the server never answers: COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA.
 */
bool my_cmd_has_response(uint8_t cmd);

/*
 * Starts tracking the response to `command` (the first byte of the command
 * packet) on a connection with negotiated capabilities caps. For commands
 * without a response the tracker is MY_RS_DONE at once; for commands that
 * cannot be tracked (replication, COM_CHANGE_USER's authentication dialogue,
 * unknown bytes) it is MY_RS_BAD.
 */
void my_resp_start(struct my_resp *r, uint8_t command, uint64_t caps);

static inline bool my_resp_done(const struct my_resp *r)
{
    return r->state == MY_RS_DONE;
}

/*
 * True when the tracker needs the whole payload of the next packet (whose
 * first byte and 3-byte payload length the caller has) before my_resp_feed
 * can decide: OK, ERR and EOF packets, column counts, prepare OKs. These are
 * small; rows and column definitions are not needed whole. A packet that
 * continues a 0xFFFFFF-long one never needs to be whole (first_byte is
 * then ignored).
 */
bool my_resp_wants_whole(const struct my_resp *r, uint8_t first_byte, uint32_t payload_len);

/*
 * Feeds the next packet of the response as framed on the wire: its payload
 * length from the header and the first avail bytes of its payload (avail <=
 * payload_len; at least 1 byte when payload_len > 0, and all of it when
 * my_resp_wants_whole says so, else WR_ERROR). Continuation packets of a
 * payload split at 0xFFFFFF are fed too and are recognised here.
 * Returns:
 *   WR_AGAIN  more packets of this response follow. If r->infile is set,
 *             the server asked for a LOCAL INFILE file: the client's packets
 *             go to the server, then call my_resp_infile_sent.
 *   WR_DONE   the response is complete; r->status has the final status
 *             flags (if r->has_status), r->error/error_code are set for ERR.
 *   WR_ERROR  the packet cannot be here (protocol violation or misuse).
 * The tracker never keeps a pointer to payload.
 */
int my_resp_feed(struct my_resp *r, const uint8_t *payload, size_t avail,
                 uint32_t payload_len) WR_MUST_CHECK;

/*
 * Continues after the client has sent its LOCAL INFILE data (ending with an
 * empty packet, or an empty packet alone to refuse): the server now answers
 * with OK or ERR (which may chain further results). WR_OK, or WR_ERROR when
 * no infile request was pending.
 */
int my_resp_infile_sent(struct my_resp *r) WR_MUST_CHECK;

/* A parsed OK packet; pointers point into the payload. */
struct my_ok {
    uint8_t header; /* 0x00, or 0xFE for an OK ending rows under CLIENT_DEPRECATE_EOF */
    uint64_t affected_rows;
    uint64_t insert_id;
    uint16_t status;
    uint16_t warnings;
    const uint8_t *info; /* human-readable message, not NUL-terminated; info_len may be 0 */
    size_t info_len;
    const uint8_t *session_state; /* the session-state-change block, or NULL */
    size_t session_state_len;
};

/*
 * Parses an OK payload (header 0x00, or 0xFE with 7 bytes or more). The info
 * string is a lenenc string when caps has CLIENT_SESSION_TRACK (absent when
 * the packet ends after the warnings), else the rest of the packet. The
 * session-state block is taken when CLIENT_SESSION_TRACK and
 * SERVER_SESSION_STATE_CHANGED are both set. WR_OK or WR_ERROR (malformed;
 * lengths running past the end).
 */
int my_ok_parse(const uint8_t *payload, size_t len, uint64_t caps, struct my_ok *out) WR_MUST_CHECK;

/* Types of session-state-change entries. */
#define SESSION_TRACK_SYSTEM_VARIABLES            0
#define SESSION_TRACK_SCHEMA                      1
#define SESSION_TRACK_STATE_CHANGE                2
#define SESSION_TRACK_GTIDS                       3
#define SESSION_TRACK_TRANSACTION_CHARACTERISTICS 4
#define SESSION_TRACK_TRANSACTION_STATE           5

/* One entry; pointers point into the block. */
struct my_track {
    uint8_t type;
    const uint8_t *data; /* the entry's raw data */
    size_t data_len;
    const uint8_t *name; /* SYSTEM_VARIABLES: the variable; else NULL */
    size_t name_len;
    /*
     * The value: SYSTEM_VARIABLES its value, SCHEMA the schema name,
     * STATE_CHANGE "1" or "0", GTIDS the GTID string (after its encoding
     * byte), TRANSACTION_CHARACTERISTICS the SQL text, TRANSACTION_STATE the
     * 8-character state; unknown types the raw data.
     */
    const uint8_t *value;
    size_t value_len;
};

struct my_track_iter {
    struct my_in in;
};

static inline void my_track_init(struct my_track_iter *it, const uint8_t *block, size_t len)
{
    my_in_init(&it->in, block, len);
}

/*
 * Next entry of a session-state block. WR_OK with *e filled, WR_DONE at the
 * end, WR_ERROR when an entry (or the known structure inside it) runs past
 * its bounds; after WR_ERROR every call is WR_ERROR.
 */
int my_track_next(struct my_track_iter *it, struct my_track *e) WR_MUST_CHECK;

#endif
