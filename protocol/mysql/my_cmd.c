/* my_cmd.c -- recognising KILL statements, COM_PROCESS_KILL and COM_CHANGE_USER. */
#include "protocol/mysql/my_cmd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_word_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c >= 0x80;
}

/* The word at *pos (letters, digits, _ ...): its length, or 0. */
static size_t word_len(const uint8_t *s, size_t len, size_t pos)
{
    size_t n = 0;
    while (pos + n < len && is_word_char(s[pos + n]))
        n++;
    return n;
}

static bool word_is(const uint8_t *s, size_t n, const char *kw)
{
    return strlen(kw) == n && strncasecmp((const char *)s, kw, n) == 0;
}

static size_t skip_space(const uint8_t *s, size_t len, size_t pos)
{
    while (pos < len && is_space(s[pos]))
        pos++;
    return pos;
}

enum my_kill_kind my_kill_parse(const uint8_t *s, size_t len, uint64_t *id)
{
    if (len > MY_KILL_MAX_LEN)
        return MY_KILL_NONE;
    size_t pos = skip_space(s, len, 0);
    size_t n = word_len(s, len, pos);
    if (!word_is(s + pos, n, "KILL"))
        return MY_KILL_NONE;
    pos = skip_space(s, len, pos + n);
    enum my_kill_kind kind = MY_KILL_CONNECTION;
    n = word_len(s, len, pos);
    if (word_is(s + pos, n, "HARD") || word_is(s + pos, n, "SOFT")) {
        pos = skip_space(s, len, pos + n);
        n = word_len(s, len, pos);
    }
    if (word_is(s + pos, n, "QUERY") || word_is(s + pos, n, "CONNECTION")) {
        kind = (s[pos] | 0x20) == 'q' ? MY_KILL_QUERY : MY_KILL_CONNECTION;
        pos = skip_space(s, len, pos + n);
        n = word_len(s, len, pos);
    }
    /* The id: decimal digits only, and the word must end there. */
    uint64_t v = 0;
    size_t digits = 0;
    while (digits < n && s[pos + digits] >= '0' && s[pos + digits] <= '9') {
        unsigned d = s[pos + digits] - '0';
        if (v > (UINT64_MAX - d) / 10)
            return MY_KILL_OTHER;
        v = v * 10 + d;
        digits++;
    }
    if (digits == 0 || digits != n)
        return MY_KILL_OTHER;
    pos += n;
    while (pos < len && (is_space(s[pos]) || s[pos] == ';'))
        pos++;
    if (pos != len)
        return MY_KILL_OTHER;
    *id = v;
    return kind;
}

int my_use_parse(const uint8_t *p, size_t len, char name[MY_DB_NAME_MAX + 1])
{
    size_t n = 0;
    if (len >= 1 && p[0] == COM_INIT_DB) {
        if (len - 1 == 0 || len - 1 > MY_DB_NAME_MAX || memchr(p + 1, 0, len - 1))
            return WR_ERROR;
        memcpy(name, p + 1, len - 1);
        name[len - 1] = 0;
        return WR_OK;
    }
    if (len < 1 || p[0] != COM_QUERY)
        return WR_DONE;
    const uint8_t *s = p + 1;
    len--;
    size_t pos = skip_space(s, len, 0);
    size_t w = word_len(s, len, pos);
    if (!word_is(s + pos, w, "USE"))
        return WR_DONE;
    pos += w;
    size_t after = skip_space(s, len, pos);
    if (after == pos && after < len && s[after] != '`')
        return WR_DONE; /* USEx: another word */
    pos = after;
    if (pos < len && s[pos] == '`') {
        for (pos++;; pos++) {
            if (pos == len)
                return WR_ERROR; /* no closing backquote */
            if (s[pos] == '`') {
                if (pos + 1 < len && s[pos + 1] == '`')
                    pos++; /* `` stands for one backquote */
                else
                    break;
            }
            if (n == MY_DB_NAME_MAX || s[pos] == 0)
                return WR_ERROR;
            name[n++] = (char)s[pos];
        }
        pos++;
    } else {
        while (pos < len && is_word_char(s[pos])) {
            if (n == MY_DB_NAME_MAX)
                return WR_ERROR;
            name[n++] = (char)s[pos++];
        }
    }
    while (pos < len && (is_space(s[pos]) || s[pos] == ';'))
        pos++;
    if (pos != len)
        return WR_DONE; /* more than USE name: not ours to read */
    if (n == 0)
        return WR_ERROR;
    name[n] = 0;
    return WR_OK;
}

int my_process_kill_parse(const uint8_t *payload, size_t len, uint32_t *id)
{
    if (len != 5 || payload[0] != COM_PROCESS_KILL)
        return WR_ERROR;
    *id = my_get32(payload + 1);
    return WR_OK;
}

int my_change_user_parse(const uint8_t *payload, size_t len, uint64_t caps,
                         struct my_change_user *out, char *err, size_t errlen)
{
    struct my_in in;
    memset(out, 0, sizeof(*out));
    my_in_init(&in, payload, len);
    if (my_in_int1(&in) != COM_CHANGE_USER || in.failed) {
        snprintf(err, errlen, "not a COM_CHANGE_USER packet");
        return WR_ERROR;
    }
    out->user = my_in_str(&in);
    if (!out->user) {
        snprintf(err, errlen, "user name runs past the end of the packet");
        return WR_ERROR;
    }
    if (caps & CLIENT_SECURE_CONNECTION) {
        out->auth_len = my_in_int1(&in);
        out->auth = my_in_bytes(&in, out->auth_len);
    } else {
        const char *a = my_in_str(&in);
        out->auth = (const uint8_t *)a;
        out->auth_len = a ? strlen(a) : 0;
    }
    if (in.failed) {
        snprintf(err, errlen, "auth response runs past the end of the packet");
        return WR_ERROR;
    }
    out->database = my_in_str(&in);
    if (!out->database) {
        snprintf(err, errlen, "database name runs past the end of the packet");
        return WR_ERROR;
    }
    if (my_in_left(&in) >= 2) {
        out->charset = my_in_int2(&in);
        out->has_charset = true;
    }
    if ((caps & CLIENT_PLUGIN_AUTH) && my_in_left(&in) > 0) {
        out->plugin = my_in_str(&in);
        if (!out->plugin) {
            snprintf(err, errlen, "plugin name runs past the end of the packet");
            return WR_ERROR;
        }
    }
    return WR_OK;
}

void my_out_change_user(struct my_out *o, const struct my_change_user *cu, uint64_t caps)
{
    my_out_begin(o, 0);
    my_out_int1(o, COM_CHANGE_USER);
    my_out_str(o, cu->user);
    if (cu->auth_len > 255) {
        o->failed = true;
        return;
    }
    my_out_int1(o, (uint8_t)cu->auth_len);
    my_out_bytes(o, cu->auth, cu->auth_len);
    my_out_str(o, cu->database ? cu->database : "");
    my_out_int2(o, cu->charset);
    my_out_str(o, cu->plugin ? cu->plugin : MY_NATIVE_PLUGIN);
    if (caps & CLIENT_CONNECT_ATTRS)
        my_out_lenenc(o, 0);
    my_out_end(o);
}
