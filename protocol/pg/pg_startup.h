/*
 * pg_startup.h -- the first packet a PostgreSQL client sends: StartupMessage
 * (protocol 3.0), SSLRequest, GSSENCRequest or CancelRequest.
 *
 * The packet is untyped: int32 length (counting itself), int32 code, body.
 */
#ifndef WEIR_PG_STARTUP_H
#define WEIR_PG_STARTUP_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

#define PG_STARTUP_MAX_LEN    10000 /* as PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define PG_STARTUP_MAX_PARAMS 64
#define PG_PROTO_V3           196608u   /* 3 << 16 */
#define PG_CODE_CANCEL        80877102u /* 1234 << 16 | 5678 */
/* First byte of a TLS handshake record: PostgreSQL 17's direct TLS starts with one. */
#define PG_TLS_HANDSHAKE 0x16
#define PG_CODE_SSL      80877103u /* 1234 << 16 | 5679 */
#define PG_CODE_GSSENC   80877104u /* 1234 << 16 | 5680 */
/*
 * weir's own request between peers ([peers]): a MySQL KILL whose thread id
 * another weir handed out, sent to that weir's PostgreSQL port: length,
 * code, thread id, flags (PG_PEER_KILL_CONNECTION), the asking user's name
 * NUL-terminated. The answer is one byte (enum pg_peer_kill_answer), then
 * the connection closes. No PostgreSQL server uses the code.
 */
#define PG_CODE_PEER_KILL       80877199u /* 1234 << 16 | 5775 */
#define PG_PEER_KILL_CONNECTION 1u
#define PG_PEER_KILL_USER_MAX   64 /* bytes of the user name, NUL excluded */

enum pg_peer_kill_answer { PG_PEER_KILL_OK, PG_PEER_KILL_UNKNOWN, PG_PEER_KILL_DENIED };

enum pg_startup_kind {
    PG_STARTUP_NORMAL,      /* protocol 3.x StartupMessage with parameters */
    PG_STARTUP_SSL,         /* SSLRequest */
    PG_STARTUP_GSSENC,      /* GSSENCRequest */
    PG_STARTUP_CANCEL,      /* CancelRequest: cancel_pid, cancel_key set */
    PG_STARTUP_PEER_KILL,   /* PG_CODE_PEER_KILL: cancel_pid (the thread id), kill_flags, user */
    PG_STARTUP_BAD_VERSION, /* well-formed but a protocol we do not speak; `code` says which */
};

struct pg_param {
    const char *name;
    const char *value;
};

struct pg_startup {
    enum pg_startup_kind kind;
    uint32_t code;  /* the protocol version or request code */
    size_t pkt_len; /* bytes of input the packet occupies */
    uint32_t cancel_pid;
    uint32_t cancel_key;
    uint32_t kill_flags; /* PG_STARTUP_PEER_KILL */
    /* For PG_STARTUP_NORMAL; pointers into the caller's input buffer. */
    const char *user;     /* required */
    const char *database; /* defaults to user when absent */
    int nparams;          /* every parameter, user and database included, in order */
    struct pg_param params[PG_STARTUP_MAX_PARAMS];
};

/*
 * Parses the startup packet at data[0..len).
 * Returns WR_AGAIN while the packet is incomplete (having checked what is
 * present: a length field over PG_STARTUP_MAX_LEN or under 8 is WR_ERROR at
 * once), WR_OK with *out filled, or WR_ERROR with a client-facing reason in
 * err (e.g. "invalid length of startup packet", "no PostgreSQL user name
 * specified in startup packet", "too many startup parameters"). A protocol 3.x
 * packet whose minor version is not 0 is accepted as 3.0 (as PostgreSQL does
 * before NegotiateProtocolVersion); any other major version yields
 * PG_STARTUP_BAD_VERSION.
 */
int pg_startup_parse(const uint8_t *data, size_t len, struct pg_startup *out, char *err,
                     size_t errlen) WR_MUST_CHECK;

/* Value of a startup parameter by name, or NULL. */
const char *pg_startup_param(const struct pg_startup *s, const char *name);

#endif
