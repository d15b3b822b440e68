/*
 * proxy_hdr.h -- the PROXY protocol header (HAProxy's specification,
 * versions 1 and 2) that a TCP balancer sends before a client's own bytes,
 * to pass on the client's address.
 *
 * v1 is one text line: "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n",
 * at most 107 bytes. v2 is binary: a 12-byte signature, a version/command
 * byte, a family/transport byte, a 16-bit length, the addresses, then
 * type-length-value extensions (TLVs), which are checked for bounds and
 * skipped. The parser is resumable: call it again on the whole buffer as
 * bytes arrive; it says WR_ERROR as soon as the bytes so far can no longer
 * start a valid header, so a client that sends its own protocol at once (a
 * PostgreSQL startup packet) is refused at its first byte.
 */
#ifndef WEIR_PROXY_HDR_H
#define WEIR_PROXY_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

#define PROXY_V1_MAX    107 /* the spec's longest line: TCP6 with two full addresses, CRLF */
#define PROXY_V2_HDR    16  /* signature, version/command, family/transport, length */
#define PROXY_V2_SIGLEN 12
/*
 * The largest v2 header accepted (the spec allows 16 + 65535). Balancers send
 * addresses and a few TLVs: HAProxy's own (unique id, authority, SSL details)
 * and the clouds' (endpoint ids) fit easily; a longer one is refused rather
 * than buffered.
 */
#define PROXY_V2_MAX 4096

enum proxy_cmd {
    PROXY_CMD_LOCAL = 0, /* v2 LOCAL: the balancer's own connection (a health check) */
    PROXY_CMD_PROXY = 1, /* a relayed client; the address is in the header when family != 0 */
};

struct proxy_hdr {
    uint8_t version; /* 1 or 2 */
    enum proxy_cmd cmd;
    /*
     * PROXY_FAM_INET or PROXY_FAM_INET6 when the header carries a TCP client's
     * address; PROXY_FAM_NONE for v1 UNKNOWN, v2 UNSPEC and v2 UNIX, whose
     * connection keeps the address it came from, as the spec says.
     */
    uint8_t family;
    uint8_t src[16], dst[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
    uint16_t src_port, dst_port;
    size_t len; /* bytes of input the header occupies (TLVs included) */
};

enum proxy_family { PROXY_FAM_NONE = 0, PROXY_FAM_INET = 4, PROXY_FAM_INET6 = 6 };

/*
 * Parses the PROXY header at buf[0..len). WR_OK with *out filled once the
 * whole header is in; WR_AGAIN while the bytes so far may still become one;
 * WR_ERROR with a reason in err (e.g. "not a PROXY protocol header", "PROXY v2
 * header of 70000 bytes (at most 4096)") when they cannot. The bytes after
 * out->len belong to the client.
 */
int proxy_hdr_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out, char *err,
                    size_t errlen) WR_MUST_CHECK;

/*
 * True when buf[0..len) (len > 0) begins like a PROXY header of either
 * version: used to name the mistake when one arrives where none is expected.
 */
bool proxy_hdr_looks_like(const uint8_t *buf, size_t len);

#endif
