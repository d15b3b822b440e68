/* pg_login.c -- the client side of a PostgreSQL login (see pg_login.h). */
#include "protocol/pg/pg_login.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { L_AUTH = 0, L_SASL = 0x7a41, L_SASL_FINAL = 0x7a42, L_AUTH_OK = 0x7a43, L_DONE = 0x7a4f };

void pg_login_init(struct pg_login *l, const char *user, const char *password,
                   const char *md5_secret, const uint8_t *client_key, const uint8_t *server_key)
{
    memset(l, 0, sizeof(*l));
    l->user = user;
    l->password = password;
    l->md5_secret = md5_secret;
    if (client_key && server_key) {
        l->have_keys = true;
        memcpy(l->client_key, client_key, SCRAM_KEY_LEN);
        memcpy(l->server_key, server_key, SCRAM_KEY_LEN);
    }
}

void pg_out_startup(struct pg_out *o, const char *const *params)
{
    pg_out_begin(o, 0);
    pg_out_int32(o, 196608); /* 3.0 */
    for (const char *const *p = params; p[0] && p[1]; p += 2) {
        pg_out_str(o, p[0]);
        pg_out_str(o, p[1]);
    }
    pg_out_byte(o, 0);
    pg_out_end(o);
}

static int fail(struct pg_login *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->error, sizeof(l->error), fmt, ap);
    va_end(ap);
    l->state = L_DONE;
    return WR_ERROR;
}

static void password_message(struct pg_out *o, const char *text)
{
    pg_out_begin(o, 'p');
    pg_out_str(o, text);
    pg_out_end(o);
}

/* An AuthenticationRequest (code and the rest of its body). */
static int auth_request(struct pg_login *l, struct pg_in *in, struct pg_out *o)
{
    uint32_t code = pg_in_int32(in);
    if (in->failed)
        return fail(l, "malformed authentication request");
    if (code == 0) {
        if (l->state == L_SASL || l->state == L_SASL_FINAL)
            return fail(l, "the server ended SCRAM without its final message");
        if (!l->method)
            l->method = "trust";
        l->state = L_AUTH_OK;
        return WR_OK;
    }
    if (l->state != L_AUTH && !(l->state == L_SASL && code == 11) &&
        !(l->state == L_SASL_FINAL && code == 12))
        return fail(l, "authentication request %u out of order", code);
    switch (code) {
    case 3:
        l->method = "password";
        if (!l->password)
            return fail(l, "the server asks for a cleartext password, and weir has none");
        password_message(o, l->password);
        return WR_OK;
    case 5: {
        l->method = "md5";
        const uint8_t *salt = pg_in_bytes(in, 4);
        char resp[PG_MD5_LEN + 1], secret[PG_MD5_LEN + 1];
        if (!salt)
            return fail(l, "malformed md5 request");
        const char *use = l->md5_secret;
        if (l->password) {
            pg_md5_secret(l->password, l->user, secret);
            use = secret;
        }
        if (!use || !pg_md5_response(use, salt, resp))
            return fail(l, "the server asks for md5, and weir has neither a password nor an md5 "
                           "secret");
        password_message(o, resp);
        OPENSSL_cleanse(secret, sizeof(secret));
        OPENSSL_cleanse(resp, sizeof(resp));
        return WR_OK;
    }
    case 10: {
        l->method = "scram-sha-256";
        bool offered = false;
        for (const char *m; (m = pg_in_str(in)) && m[0];)
            offered |= !strcmp(m, SCRAM_MECHANISM);
        if (in->failed || !offered)
            return fail(l, "the server offers no SASL mechanism weir speaks (SCRAM-SHA-256)");
        if (l->password) {
            if (scram_client_password(&l->scram, l->password) != WR_OK)
                return fail(l, "password too long for SCRAM");
        } else if (l->have_keys) {
            scram_client_keys(&l->scram, l->client_key, l->server_key);
        } else {
            return fail(l, "the server asks for SCRAM, and weir has neither a password nor the "
                           "verifier's keys");
        }
        char first[128];
        size_t n;
        if (scram_client_first(&l->scram, first, sizeof(first), &n) != WR_OK)
            return fail(l, "cannot start SCRAM");
        pg_out_begin(o, 'p');
        pg_out_str(o, SCRAM_MECHANISM);
        pg_out_int32(o, (uint32_t)n);
        pg_out_bytes(o, first, n);
        pg_out_end(o);
        l->state = L_SASL;
        return WR_OK;
    }
    case 11: {
        size_t n = (size_t)(in->end - in->p), m;
        char final[512];
        if (scram_client_final(&l->scram, in->p, n, final, sizeof(final), &m) != WR_OK)
            return fail(l, "the server's SCRAM server-first message is malformed or out of bounds");
        pg_out_begin(o, 'p');
        pg_out_bytes(o, final, m);
        pg_out_end(o);
        l->state = L_SASL_FINAL;
        return WR_OK;
    }
    case 12: {
        size_t n = (size_t)(in->end - in->p);
        int v = scram_client_verify(&l->scram, in->p, n);
        if (v != WR_OK)
            return fail(l, v == WR_DONE ? "the server refused the SCRAM proof"
                                        : "the server's SCRAM signature is wrong: it does not "
                                          "hold the verifier it claims");
        l->state = L_AUTH;
        l->method = "scram-sha-256";
        return WR_OK;
    }
    default:
        return fail(l, "the server asks for authentication method %u, which weir does not speak",
                    code);
    }
}

/*
 * The next whole message of in[*used..len): WR_OK (*used moved past it),
 * WR_AGAIN (not all there yet) or WR_ERROR (malformed, or a body over max).
 */
static int next_msg(const uint8_t *in, size_t len, size_t *used, uint32_t max, char *type,
                    const uint8_t **body, uint32_t *body_len)
{
    int rc = pg_msg_peek(in + *used, len - *used, max, type, body_len);
    if (rc == WR_AGAIN || (rc == WR_OK && len - *used < PG_HDR_LEN + *body_len))
        return WR_AGAIN;
    if (rc != WR_OK)
        return WR_ERROR;
    *body = in + *used + PG_HDR_LEN;
    *used += PG_HDR_LEN + *body_len;
    return WR_OK;
}

/*
 * An ErrorResponse's SQLSTATE and message (NULL when missing). Fields are a
 * type byte and a C string each, to a zero byte; a malformed tail ends them
 * (what came before is kept: a hostile server's error is still reported).
 */
static void error_fields(struct pg_in *in, const char **code, const char **msg)
{
    *code = *msg = NULL;
    for (;;) {
        uint8_t f = pg_in_byte(in);
        if (in->failed || f == 0)
            break;
        const char *v = pg_in_str(in);
        if (!v)
            break;
        if (f == 'C')
            *code = v;
        else if (f == 'M')
            *msg = v;
    }
}

int pg_login_input(struct pg_login *l, const uint8_t *in, size_t len, size_t *used,
                   struct pg_out *o)
{
    *used = 0;
    if (l->state == L_DONE)
        return WR_ERROR;
    for (;;) {
        char type;
        const uint8_t *body;
        uint32_t body_len;
        int rc = next_msg(in, len, used, PG_LOGIN_MSG_MAX, &type, &body, &body_len);
        if (rc == WR_AGAIN)
            return WR_AGAIN;
        if (rc != WR_OK)
            return fail(l, "a message from the server longer than %d bytes, or malformed",
                        PG_LOGIN_MSG_MAX);
        struct pg_in pin;
        pg_in_init(&pin, body, body_len);
        switch (type) {
        case 'R':
            if (auth_request(l, &pin, o) != WR_OK)
                return WR_ERROR;
            break;
        case 'E': {
            const char *code, *msg;
            error_fields(&pin, &code, &msg);
            snprintf(l->sqlstate, sizeof(l->sqlstate), "%s", code && strlen(code) == 5 ? code : "");
            return fail(l, "%s", msg && msg[0] ? msg : "the server refused the login (no message)");
        }
        case 'N':
        case 'v': /* NoticeResponse; NegotiateProtocolVersion (an older minor version) */
            break;
        case 'S': {
            const char *name = pg_in_str(&pin), *value = pg_in_str(&pin);
            if (!name || !value || !pg_in_done(&pin) || l->state != L_AUTH_OK)
                return fail(l, "malformed or early ParameterStatus");
            if (l->param)
                l->param(l->arg, name, value);
            break;
        }
        case 'K':
            l->pid = pg_in_int32(&pin);
            l->key = pg_in_int32(&pin);
            if (!pg_in_done(&pin) || l->state != L_AUTH_OK)
                return fail(l, "malformed or early BackendKeyData");
            break;
        case 'Z':
            l->status = (char)pg_in_byte(&pin);
            if (!pg_in_done(&pin) || l->state != L_AUTH_OK)
                return fail(l, "malformed or early ReadyForQuery");
            l->state = L_DONE;
            return WR_OK;
        default:
            return fail(l, "unexpected message '%c' during the login", type);
        }
    }
}

void pg_login_clear(struct pg_login *l)
{
    scram_client_clear(&l->scram);
    OPENSSL_cleanse(l->client_key, sizeof(l->client_key));
    OPENSSL_cleanse(l->server_key, sizeof(l->server_key));
}

void pg_answer_init(struct pg_answer *a)
{
    memset(a, 0, sizeof(*a));
}

/* Keeps the wanted column of one DataRow. */
static void answer_row(struct pg_answer *a, struct pg_in *in)
{
    uint16_t nf = pg_in_int16(in);
    int want = nf >= 2 ? 1 : 0;
    for (int i = 0; i < nf && !in->failed; i++) {
        uint32_t n = pg_in_int32(in);
        const uint8_t *v = (const uint8_t *)"";
        if (n == 0xffffffffu)
            n = 0;
        else
            v = pg_in_bytes(in, n);
        if (i != want || in->failed)
            continue;
        if (memchr(v, '\n', n) || memchr(v, 0, n) || a->rows_len + n + 1 > PG_ANSWER_ROWS_MAX)
            return;
        memcpy(a->rows + a->rows_len, v, n);
        a->rows_len += n;
        a->rows[a->rows_len++] = '\n';
        a->rows[a->rows_len] = 0;
        return;
    }
}

int pg_answer_input(struct pg_answer *a, const uint8_t *in, size_t len, size_t *used)
{
    *used = 0;
    for (;;) {
        char type;
        const uint8_t *body;
        uint32_t body_len;
        int rc = next_msg(in, len, used, PG_ANSWER_MSG_MAX, &type, &body, &body_len);
        if (rc == WR_AGAIN)
            return WR_AGAIN;
        if (rc != WR_OK) {
            snprintf(a->error, sizeof(a->error),
                     "a message from the server longer than %d bytes, or malformed",
                     PG_ANSWER_MSG_MAX);
            return WR_ERROR;
        }
        struct pg_in pin;
        pg_in_init(&pin, body, body_len);
        if (type == 'D' && !a->failed) {
            answer_row(a, &pin);
        } else if (type == 'E') {
            const char *code, *msg;
            error_fields(&pin, &code, &msg);
            a->failed = true;
            snprintf(a->sqlstate, sizeof(a->sqlstate), "%s", code && strlen(code) == 5 ? code : "");
            snprintf(a->error, sizeof(a->error), "%s",
                     msg && msg[0] ? msg : "the query failed (no message)");
        } else if (type == 'Z') {
            return WR_OK;
        }
    }
}
