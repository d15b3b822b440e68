/* my_handshake.c -- HandshakeV10 builder, HandshakeResponse41 parser, auth switch packets. */
#include "protocol/mysql/my_handshake.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SCRAMBLE_PART1 8
#define FILLER_LEN     23 /* after charset: 19 zero bytes + 4 of MariaDB capabilities */

void my_out_handshake(struct my_out *o, const struct my_server_hello *h)
{
    if (h->server_version == NULL || h->scramble == NULL ||
        ((h->caps & CLIENT_PLUGIN_AUTH) && h->auth_plugin == NULL)) {
        o->failed = true;
        return;
    }
    uint8_t zeros[10] = {0};
    my_out_begin(o, 0);
    my_out_int1(o, 10);
    my_out_str(o, h->server_version);
    my_out_int4(o, h->conn_id);
    my_out_bytes(o, h->scramble, SCRAMBLE_PART1);
    my_out_int1(o, 0);
    my_out_int2(o, (uint16_t)h->caps);
    my_out_int1(o, h->charset);
    my_out_int2(o, h->status);
    my_out_int2(o, (uint16_t)(h->caps >> 16));
    my_out_int1(o, (h->caps & CLIENT_PLUGIN_AUTH) ? MY_SCRAMBLE_LEN + 1 : 0);
    my_out_bytes(o, zeros, 6);
    if (h->caps & CLIENT_MYSQL)
        my_out_bytes(o, zeros, 4);
    else
        my_out_int4(o, (uint32_t)(h->caps >> 32));
    if (h->caps & CLIENT_SECURE_CONNECTION) {
        my_out_bytes(o, h->scramble + SCRAMBLE_PART1, MY_SCRAMBLE_LEN - SCRAMBLE_PART1);
        my_out_int1(o, 0);
    }
    if (h->caps & CLIENT_PLUGIN_AUTH)
        my_out_str(o, h->auth_plugin);
    my_out_end(o);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return WR_ERROR;
}

/* Checks that attrs[0..len) is a sequence of lenenc key/value pairs, exactly. */
static bool attrs_valid(const uint8_t *attrs, size_t len)
{
    struct my_in in;
    size_t n;
    my_in_init(&in, attrs, len);
    while (!in.failed && in.p < in.end) {
        (void)my_in_lenenc_str(&in, &n);
        (void)my_in_lenenc_str(&in, &n);
    }
    return my_in_done(&in);
}

int my_tls_switch(const uint8_t *data, size_t len, size_t *tls_at, uint8_t *seq, char *err,
                  size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (len < 4)
        return WR_AGAIN;
    uint32_t plen = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16;
    if (plen != MY_SSL_REQUEST_LEN)
        return WR_DONE;
    if (len < 4 + MY_SSL_REQUEST_LEN)
        return WR_AGAIN;
    uint32_t caps = my_get32(data + 4);
    if (!(caps & CLIENT_SSL) || !(caps & CLIENT_PROTOCOL_41))
        return WR_DONE; /* the login parser says what is wrong with it */
    *seq = data[3];
    *tls_at = 4 + MY_SSL_REQUEST_LEN;
    if (len > *tls_at && data[*tls_at] != MY_TLS_HANDSHAKE)
        return fail(err, errlen, "unexpected data after the SSLRequest (not a TLS handshake)");
    return WR_OK;
}

int my_hs_response_parse(const uint8_t *payload, size_t len, struct my_hs_response *out, char *err,
                         size_t errlen)
{
    struct my_in in;

    memset(out, 0, sizeof(*out));
    if (errlen)
        err[0] = '\0';
    if (len > MY_HS_RESPONSE_MAX)
        return fail(err, errlen, "handshake response too long (%zu bytes)", len);
    if (len < MY_SSL_REQUEST_LEN)
        return fail(err, errlen, "handshake response too short (%zu bytes)", len);

    my_in_init(&in, payload, len);
    out->caps = my_in_int4(&in);
    out->max_packet = my_in_int4(&in);
    out->charset = my_in_int1(&in);
    const uint8_t *filler = my_in_bytes(&in, FILLER_LEN);
    if (!(out->caps & CLIENT_MYSQL))
        out->caps |= (uint64_t)my_get32(filler + 19) << 32;
    if (!(out->caps & CLIENT_PROTOCOL_41))
        return fail(err, errlen, "client does not speak protocol 4.1");
    if (len == MY_SSL_REQUEST_LEN) {
        if (!(out->caps & CLIENT_SSL))
            return fail(err, errlen, "handshake response without a user name");
        out->ssl_request = true;
        return WR_OK;
    }

    out->user = my_in_str(&in);
    if (out->user == NULL)
        return fail(err, errlen, "user name not terminated");

    if (out->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        out->auth = my_in_lenenc_str(&in, &out->auth_len);
    } else if (out->caps & CLIENT_SECURE_CONNECTION) {
        out->auth_len = my_in_int1(&in);
        out->auth = my_in_bytes(&in, out->auth_len);
    } else {
        const char *s = my_in_str(&in);
        out->auth = (const uint8_t *)s;
        out->auth_len = s ? strlen(s) : 0;
    }
    if (in.failed)
        return fail(err, errlen, "auth response runs past the end of the packet");

    if (out->caps & CLIENT_CONNECT_WITH_DB) {
        out->database = my_in_str(&in);
        if (out->database == NULL)
            return fail(err, errlen, "database name not terminated");
    }
    if ((out->caps & CLIENT_PLUGIN_AUTH) && my_in_left(&in) > 0) {
        out->plugin = my_in_str(&in);
        if (out->plugin == NULL)
            return fail(err, errlen, "auth plugin name not terminated");
    }
    if ((out->caps & CLIENT_CONNECT_ATTRS) && my_in_left(&in) > 0) {
        out->attrs = my_in_lenenc_str(&in, &out->attrs_len);
        if (out->attrs == NULL)
            return fail(err, errlen, "connection attributes run past the end of the packet");
        if (!attrs_valid(out->attrs, out->attrs_len))
            return fail(err, errlen, "malformed connection attributes");
        if (out->attrs_len == 0)
            out->attrs = NULL;
    }
    return WR_OK;
}

bool my_hs_attr_next(const struct my_hs_response *r, size_t *pos, const uint8_t **key,
                     size_t *key_len, const uint8_t **val, size_t *val_len)
{
    if (r->attrs == NULL || *pos >= r->attrs_len)
        return false;
    struct my_in in;
    my_in_init(&in, r->attrs + *pos, r->attrs_len - *pos);
    *key = my_in_lenenc_str(&in, key_len);
    *val = my_in_lenenc_str(&in, val_len);
    if (in.failed)
        return false;
    *pos = (size_t)(in.p - r->attrs);
    return true;
}

void my_out_hs_response(struct my_out *o, uint8_t seq, const struct my_hs_response *r)
{
    uint8_t zeros[19] = {0};
    my_out_begin(o, seq);
    my_out_int4(o, (uint32_t)r->caps);
    my_out_int4(o, r->max_packet);
    my_out_int1(o, r->charset);
    my_out_bytes(o, zeros, sizeof(zeros));
    my_out_int4(o, (r->caps & CLIENT_MYSQL) ? 0 : (uint32_t)(r->caps >> 32));
    if (!r->ssl_request) {
        my_out_str(o, r->user);
        if (r->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            my_out_lenenc_str(o, r->auth, r->auth_len);
        } else if (r->caps & CLIENT_SECURE_CONNECTION) {
            if (r->auth_len > 255)
                o->failed = true;
            my_out_int1(o, (uint8_t)r->auth_len);
            my_out_bytes(o, r->auth, r->auth_len);
        } else {
            my_out_bytes(o, r->auth, r->auth_len);
            my_out_int1(o, 0);
        }
        if (r->caps & CLIENT_CONNECT_WITH_DB)
            my_out_str(o, r->database ? r->database : "");
        if (r->caps & CLIENT_PLUGIN_AUTH)
            my_out_str(o, r->plugin ? r->plugin : MY_NATIVE_PLUGIN);
        if (r->caps & CLIENT_CONNECT_ATTRS)
            my_out_lenenc_str(o, r->attrs, r->attrs_len);
    }
    my_out_end(o);
}

void my_out_auth_switch(struct my_out *o, uint8_t seq, const char *plugin, const uint8_t *data,
                        size_t data_len)
{
    my_out_begin(o, seq);
    my_out_int1(o, MY_EOF_HEADER);
    my_out_str(o, plugin);
    my_out_bytes(o, data, data_len);
    my_out_end(o);
}

int my_auth_switch_parse(const uint8_t *payload, size_t len, const char **plugin,
                         const uint8_t **data, size_t *data_len)
{
    struct my_in in;
    my_in_init(&in, payload, len);
    if (my_in_int1(&in) != MY_EOF_HEADER)
        return WR_ERROR;
    *plugin = my_in_str(&in);
    if (*plugin == NULL)
        return WR_ERROR;
    *data = my_in_rest(&in, data_len);
    return WR_OK;
}

void my_out_auth_more_data(struct my_out *o, uint8_t seq, const uint8_t *data, size_t data_len)
{
    my_out_begin(o, seq);
    my_out_int1(o, MY_AUTH_MORE_DATA);
    my_out_bytes(o, data, data_len);
    my_out_end(o);
}
