/*
 * hba.h -- auth_hba_file (auth_type = hba): PgBouncer's subset of
 * PostgreSQL's pg_hba.conf. One rule a line:
 *
 *   local      DATABASE USER          METHOD
 *   host       DATABASE USER ADDRESS  METHOD     (also hostssl, hostnossl)
 *
 * DATABASE: all, sameuser, replication, or names; USER: all or names (both
 * comma-separated, a name may be double-quoted, where "all" is a name);
 * ADDRESS: all, an IPv4/IPv6 address with /bits, or an address followed by
 * a mask field; METHOD: trust, reject, password, md5, scram-sha-256, cert.
 * '#' starts a comment. The first rule that matches a connection decides;
 * none matching refuses it, as in PostgreSQL. What PgBouncer does not take
 * (hostgssenc, host names, samehost/samenet, @files, +groups, options after
 * the method, other methods) is refused with the line's number, so a file
 * never means less than it says. "local" matches unix-socket clients, both
 * ports; "replication" matches replication connections only, and "all"
 * does not match them (PostgreSQL's rule).
 *
 * A parsed file is shared by the configurations that name it (config_dup)
 * and freed with the last of them (hba_ref / hba_unref).
 */
#ifndef WEIR_HBA_H
#define WEIR_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

enum hba_method {
    HBA_NONE = 0, /* no rule matched: refused */
    HBA_TRUST,
    HBA_REJECT,
    HBA_PASSWORD,
    HBA_MD5,
    HBA_SCRAM,
    HBA_CERT,
};

struct hba;

/* What hba_match looks at. family: AF_INET / AF_INET6 (ip: 4 / 16 bytes) or AF_UNIX. */
struct hba_conn {
    int family;
    const uint8_t *ip;
    bool tls;
    bool replication;     /* a PostgreSQL replication connection: matches "replication" */
    const char *database; /* "" when the client named none (MySQL) */
    const char *user;
};

/* Parses text (len bytes). WR_ERROR with err ("line N: ...") on anything it cannot take. */
int hba_parse(const char *text, size_t len, struct hba **out, char *err,
              size_t errlen) WR_MUST_CHECK;
/* Reads and parses a file. */
int hba_load(const char *path, struct hba **out, char *err, size_t errlen) WR_MUST_CHECK;
struct hba *hba_ref(struct hba *h);
void hba_unref(struct hba *h);
int hba_count(const struct hba *h);

/* The method of the first rule matching c, and its line in *line (0 when none matched). */
enum hba_method hba_match(const struct hba *h, const struct hba_conn *c, int *line);
const char *hba_method_name(enum hba_method m);

#endif
