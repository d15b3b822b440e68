/* my_switch.c -- see my_switch.h. */
#include "backends/my_switch.h"

#include <stdio.h>
#include <string.h>

#include "protocol/mysql/my_auth.h"
#include "protocol/mysql/my_cmd.h"
#include "protocol/mysql/my_packet.h"

/* Copies o's packet into out; its length, or 0 when it failed or does not fit. */
static size_t take(struct my_out *o, uint8_t *out, size_t cap)
{
    size_t n = !o->failed && o->len <= cap ? o->len : 0;
    if (n)
        memcpy(out, o->data, n);
    explicit_bzero(o->data, o->len);
    my_out_free(o);
    return n;
}

size_t my_switch_change_user(uint8_t *out, size_t cap, const char *user, const char *db,
                             uint16_t charset, uint64_t caps,
                             const uint8_t stage1[MY_SWITCH_STAGE1_LEN], const uint8_t *scramble)
{
    uint8_t token[MY_NATIVE_TOKEN_LEN];
    my_native_token_stage1(stage1, scramble, token);
    struct my_change_user cu = {
        .user = user,
        .auth = token,
        .auth_len = sizeof(token),
        .database = db,
        .has_charset = true,
        .charset = charset,
        .plugin = MY_NATIVE_PLUGIN,
    };
    struct my_out o;
    my_out_init(&o);
    my_out_change_user(&o, &cu, caps);
    explicit_bzero(token, sizeof(token));
    return take(&o, out, cap);
}

size_t my_switch_token(uint8_t *out, size_t cap, uint8_t seq,
                       const uint8_t stage1[MY_SWITCH_STAGE1_LEN], const uint8_t *scramble)
{
    uint8_t token[MY_NATIVE_TOKEN_LEN];
    my_native_token_stage1(stage1, scramble, token);
    struct my_out o;
    my_out_init(&o);
    my_out_begin(&o, seq);
    my_out_bytes(&o, token, sizeof(token));
    my_out_end(&o);
    explicit_bzero(token, sizeof(token));
    return take(&o, out, cap);
}

enum my_switch_answer my_switch_read(const uint8_t *p, size_t len, char *err, size_t errlen,
                                     char sqlstate[6], const uint8_t **scramble)
{
    if (len > 0 && p[0] == MY_OK_HEADER)
        return MY_SWITCH_OK;
    if (len > 0 && p[0] == MY_ERR_HEADER) {
        struct my_err e;
        if (my_err_parse(p, len, &e) == WR_OK) {
            snprintf(err, errlen, "%.*s (%u)", (int)e.message_len, e.message, e.code);
            snprintf(sqlstate, 6, "%.5s", e.sqlstate ? e.sqlstate : "28000");
        } else {
            snprintf(err, errlen, "the change of user was refused");
            snprintf(sqlstate, 6, "28000");
        }
        return MY_SWITCH_REFUSED;
    }
    const char *plugin;
    const uint8_t *data;
    size_t data_len;
    if (my_auth_switch_parse(p, len, &plugin, &data, &data_len) == WR_OK &&
        !strcmp(plugin, MY_NATIVE_PLUGIN) && data_len >= MY_SCRAMBLE_LEN) {
        *scramble = data;
        return MY_SWITCH_AGAIN;
    }
    snprintf(err, errlen, "the server wants an authentication other than mysql_native_password");
    snprintf(sqlstate, 6, "28000");
    return MY_SWITCH_OTHER;
}
