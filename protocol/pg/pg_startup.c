/* pg_startup.c -- parser of the first packet a PostgreSQL client sends. */
#include "protocol/pg/pg_startup.h"

#include <stdio.h>
#include <string.h>

#include "protocol/pg/pg_msg.h"

#define LAYOUT_ERR "invalid startup packet layout: expected terminator as last byte"

static int fail(char *err, size_t errlen, const char *reason)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s", reason);
    return WR_ERROR;
}

/*
 * Walks name\0value\0 ... \0 in data[8..pkt_len). The list ends with an empty
 * name, which must be the last byte of the packet (as PostgreSQL requires).
 */
static int parse_params(const uint8_t *data, struct pg_startup *out, char *err, size_t errlen)
{
    struct pg_in in;

    pg_in_init(&in, data + 8, out->pkt_len - 8);
    for (;;) {
        const char *name = pg_in_str(&in);
        if (name == NULL)
            return fail(err, errlen, LAYOUT_ERR);
        if (name[0] == '\0')
            break;
        const char *value = pg_in_str(&in);
        if (value == NULL)
            return fail(err, errlen, LAYOUT_ERR);
        if (out->nparams == PG_STARTUP_MAX_PARAMS)
            return fail(err, errlen, "too many startup parameters");
        out->params[out->nparams].name = name;
        out->params[out->nparams].value = value;
        out->nparams++;
    }
    if (!pg_in_done(&in))
        return fail(err, errlen, LAYOUT_ERR);

    out->user = pg_startup_param(out, "user");
    if (out->user == NULL || out->user[0] == '\0')
        return fail(err, errlen, "no PostgreSQL user name specified in startup packet");
    out->database = pg_startup_param(out, "database");
    if (out->database == NULL || out->database[0] == '\0')
        out->database = out->user;
    return WR_OK;
}

int pg_startup_parse(const uint8_t *data, size_t len, struct pg_startup *out, char *err,
                     size_t errlen)
{
    out->kind = PG_STARTUP_NORMAL;
    out->code = 0;
    out->pkt_len = 0;
    out->cancel_pid = out->cancel_key = out->kill_flags = 0;
    out->user = out->database = NULL;
    out->nparams = 0;

    if (len < 4)
        return WR_AGAIN;
    /* Judge the length field before waiting for the rest of the packet. */
    uint32_t pkt_len = pg_get32(data);
    if (pkt_len < 8 || pkt_len > PG_STARTUP_MAX_LEN)
        return fail(err, errlen, "invalid length of startup packet");
    if (len < pkt_len)
        return WR_AGAIN;

    out->pkt_len = pkt_len;
    out->code = pg_get32(data + 4);
    switch (out->code) {
    case PG_CODE_CANCEL:
        if (pkt_len != 16)
            return fail(err, errlen, "invalid length of cancel request");
        out->kind = PG_STARTUP_CANCEL;
        out->cancel_pid = pg_get32(data + 8);
        out->cancel_key = pg_get32(data + 12);
        return WR_OK;
    case PG_CODE_PEER_KILL:
        /* 16 bytes, then a user name of 1 to PG_PEER_KILL_USER_MAX bytes and its NUL, last. */
        if (pkt_len < 18 || pkt_len > 17 + PG_PEER_KILL_USER_MAX || data[pkt_len - 1] != 0 ||
            memchr(data + 16, 0, pkt_len - 17))
            return fail(err, errlen, "invalid peer KILL request");
        out->kind = PG_STARTUP_PEER_KILL;
        out->cancel_pid = pg_get32(data + 8);
        out->kill_flags = pg_get32(data + 12);
        out->user = (const char *)data + 16;
        return WR_OK;
    case PG_CODE_SSL:
    case PG_CODE_GSSENC:
        if (pkt_len != 8)
            return fail(err, errlen, "invalid length of encryption request");
        out->kind = out->code == PG_CODE_SSL ? PG_STARTUP_SSL : PG_STARTUP_GSSENC;
        return WR_OK;
    default:
        break;
    }

    /* Any 3.x is spoken as 3.0; the caller still sees the minor in `code`. */
    if (out->code >> 16 != PG_PROTO_V3 >> 16) {
        out->kind = PG_STARTUP_BAD_VERSION;
        return WR_OK;
    }
    out->kind = PG_STARTUP_NORMAL;
    return parse_params(data, out, err, errlen);
}

/* The last occurrence wins, as when PostgreSQL reads the list in order. */
const char *pg_startup_param(const struct pg_startup *s, const char *name)
{
    for (int i = s->nparams - 1; i >= 0; i--)
        if (strcmp(s->params[i].name, name) == 0)
            return s->params[i].value;
    return NULL;
}
