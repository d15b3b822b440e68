/*
 * my_handshake.h -- the MySQL/MariaDB connection phase: capability and
 * status flags, command bytes, the server's HandshakeV10 greeting, the
 * client's HandshakeResponse41 (and its SSLRequest prefix), and
 * AuthSwitchRequest / AuthMoreData.
 */
#ifndef WEIR_MY_HANDSHAKE_H
#define WEIR_MY_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mysql/my_packet.h"
#include "protocol/result.h"

/* Capability flags (low 32 bits are on the wire in both directions). */
#define CLIENT_MYSQL                          (1ULL << 0) /* CLIENT_LONG_PASSWORD; MariaDB servers clear it */
#define CLIENT_LONG_PASSWORD                  (1ULL << 0)
#define CLIENT_FOUND_ROWS                     (1ULL << 1)
#define CLIENT_LONG_FLAG                      (1ULL << 2)
#define CLIENT_CONNECT_WITH_DB                (1ULL << 3)
#define CLIENT_NO_SCHEMA                      (1ULL << 4)
#define CLIENT_COMPRESS                       (1ULL << 5)
#define CLIENT_ODBC                           (1ULL << 6)
#define CLIENT_LOCAL_FILES                    (1ULL << 7)
#define CLIENT_IGNORE_SPACE                   (1ULL << 8)
#define CLIENT_PROTOCOL_41                    (1ULL << 9)
#define CLIENT_INTERACTIVE                    (1ULL << 10)
#define CLIENT_SSL                            (1ULL << 11)
#define CLIENT_IGNORE_SIGPIPE                 (1ULL << 12)
#define CLIENT_TRANSACTIONS                   (1ULL << 13)
#define CLIENT_RESERVED                       (1ULL << 14)
#define CLIENT_SECURE_CONNECTION              (1ULL << 15)
#define CLIENT_MULTI_STATEMENTS               (1ULL << 16)
#define CLIENT_MULTI_RESULTS                  (1ULL << 17)
#define CLIENT_PS_MULTI_RESULTS               (1ULL << 18)
#define CLIENT_PLUGIN_AUTH                    (1ULL << 19)
#define CLIENT_CONNECT_ATTRS                  (1ULL << 20)
#define CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (1ULL << 21)
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS   (1ULL << 22)
#define CLIENT_SESSION_TRACK                  (1ULL << 23)
#define CLIENT_DEPRECATE_EOF                  (1ULL << 24)
#define CLIENT_SSL_VERIFY_SERVER_CERT         (1ULL << 30)
#define CLIENT_REMEMBER_OPTIONS               (1ULL << 31)
/*
 * MariaDB's extended capabilities: bits 32..63, sent in bytes that MySQL
 * leaves reserved, and only when CLIENT_MYSQL is clear.
 */
#define MARIADB_CLIENT_PROGRESS             (1ULL << 32)
#define MARIADB_CLIENT_COM_MULTI            (1ULL << 33)
#define MARIADB_CLIENT_STMT_BULK_OPERATIONS (1ULL << 34)
#define MARIADB_CLIENT_EXTENDED_METADATA    (1ULL << 35)
#define MARIADB_CLIENT_CACHE_METADATA       (1ULL << 36)

/* Server status flags, in OK and EOF packets. */
#define SERVER_STATUS_IN_TRANS             0x0001
#define SERVER_STATUS_AUTOCOMMIT           0x0002
#define SERVER_MORE_RESULTS_EXISTS         0x0008
#define SERVER_QUERY_NO_GOOD_INDEX_USED    0x0010
#define SERVER_QUERY_NO_INDEX_USED         0x0020
#define SERVER_STATUS_CURSOR_EXISTS        0x0040
#define SERVER_STATUS_LAST_ROW_SENT        0x0080
#define SERVER_STATUS_DB_DROPPED           0x0100
#define SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200
#define SERVER_STATUS_METADATA_CHANGED     0x0400
#define SERVER_QUERY_WAS_SLOW              0x0800
#define SERVER_PS_OUT_PARAMS               0x1000
#define SERVER_STATUS_IN_TRANS_READONLY    0x2000
#define SERVER_SESSION_STATE_CHANGED       0x4000

/* Command bytes: the first payload byte of every packet in the command phase. */
#define COM_SLEEP               0x00
#define COM_QUIT                0x01
#define COM_INIT_DB             0x02
#define COM_QUERY               0x03
#define COM_FIELD_LIST          0x04
#define COM_CREATE_DB           0x05
#define COM_DROP_DB             0x06
#define COM_REFRESH             0x07
#define COM_SHUTDOWN            0x08
#define COM_STATISTICS          0x09
#define COM_PROCESS_INFO        0x0a
#define COM_CONNECT             0x0b
#define COM_PROCESS_KILL        0x0c
#define COM_DEBUG               0x0d
#define COM_PING                0x0e
#define COM_TIME                0x0f
#define COM_DELAYED_INSERT      0x10
#define COM_CHANGE_USER         0x11
#define COM_BINLOG_DUMP         0x12
#define COM_TABLE_DUMP          0x13
#define COM_CONNECT_OUT         0x14
#define COM_REGISTER_SLAVE      0x15
#define COM_STMT_PREPARE        0x16
#define COM_STMT_EXECUTE        0x17
#define COM_STMT_SEND_LONG_DATA 0x18
#define COM_STMT_CLOSE          0x19
#define COM_STMT_RESET          0x1a
#define COM_SET_OPTION          0x1b
#define COM_STMT_FETCH          0x1c
#define COM_DAEMON              0x1d
#define COM_BINLOG_DUMP_GTID    0x1e
#define COM_RESET_CONNECTION    0x1f
#define COM_STMT_BULK_EXECUTE   0xfa /* MariaDB */

/* Flags byte of COM_STMT_EXECUTE. */
#define CURSOR_TYPE_NO_CURSOR 0x00
#define CURSOR_TYPE_READ_ONLY 0x01

#define MY_SCRAMBLE_LEN    20           /* auth-plugin-data of native and caching_sha2 */
#define MY_HS_RESPONSE_MAX (128 * 1024) /* longest HandshakeResponse41 we accept */
#define MY_SSL_REQUEST_LEN 32
#define MY_NATIVE_PLUGIN   "mysql_native_password"
#define MY_SHA2_PLUGIN     "caching_sha2_password"
#define MY_CHARSET_UTF8MB4 45 /* utf8mb4_general_ci */

/* What the server announces in its greeting. */
struct my_server_hello {
    const char *server_version; /* e.g. "5.5.5-10.11.0-weir" */
    uint32_t conn_id;
    const uint8_t *scramble; /* MY_SCRAMBLE_LEN bytes, none of them NUL */
    uint64_t caps;           /* the high 32 bits are sent only if CLIENT_MYSQL is clear */
    uint8_t charset;
    uint16_t status;
    const char *auth_plugin; /* sent when caps has CLIENT_PLUGIN_AUTH */
};

/*
 * Appends the HandshakeV10 packet (sequence id 0): protocol 10, server
 * version, connection id, scramble[0..8), a NUL, capabilities bits 0..15,
 * charset, status, capabilities bits 16..31, auth-plugin-data length (21
 * with CLIENT_PLUGIN_AUTH, else 0), 6 reserved zero bytes and 4 bytes of
 * MariaDB capabilities (bits 32..63; zeros when CLIENT_MYSQL is set), then
 * scramble[8..20) and a NUL (with CLIENT_SECURE_CONNECTION), then the plugin
 * name (with CLIENT_PLUGIN_AUTH). NULL strings or scramble set o->failed.
 */
void my_out_handshake(struct my_out *o, const struct my_server_hello *h);

/* A parsed HandshakeResponse41; pointers point into the caller's payload. */
struct my_hs_response {
    uint64_t caps; /* bits 0..31 from the packet; 32..63 from the filler when
                      CLIENT_MYSQL is clear, unmasked by what the server offered */
    uint32_t max_packet;
    uint8_t charset;
    bool ssl_request;    /* the 32-byte SSLRequest: nothing below is set */
    const char *user;    /* NUL-terminated, possibly empty */
    const uint8_t *auth; /* auth response; auth_len 0 for an empty password */
    size_t auth_len;
    const char *database; /* NULL unless CLIENT_CONNECT_WITH_DB */
    const char *plugin;   /* NULL when CLIENT_PLUGIN_AUTH is clear or the name is absent */
    const uint8_t *attrs; /* connection attributes: lenenc key/value pairs, checked */
    size_t attrs_len;     /* 0 (attrs NULL) when absent */
};

/*
 * Parses the payload of a HandshakeResponse41 (or SSLRequest). Every length
 * is checked against the payload. Returns WR_OK with *out filled, or
 * WR_ERROR with a reason in err (NUL-terminated, truncated to errlen):
 * shorter than 32 bytes, no CLIENT_PROTOCOL_41, a 32-byte packet without
 * CLIENT_SSL, an unterminated user/database/plugin, an auth response or
 * attribute block running past the end. Bytes after the last field the
 * flags announce are ignored, as servers do. Payloads over
 * MY_HS_RESPONSE_MAX are refused.
 */
int my_hs_response_parse(const uint8_t *payload, size_t len, struct my_hs_response *out, char *err,
                         size_t errlen) WR_MUST_CHECK;

/* First byte of a TLS handshake record (a ClientHello begins with one). */
#define MY_TLS_HANDSHAKE 0x16

/*
 * The switch to TLS: data[0..len) is what a client sent after weir's
 * greeting. A MySQL client does not wait for an answer to its SSLRequest: the
 * TLS handshake follows at once, so both may arrive in one read. Returns
 *   WR_AGAIN  the packet header, or a 32-byte packet, is not whole yet;
 *   WR_DONE   the first packet is not an SSLRequest (a HandshakeResponse41:
 *             the ordinary login, my_hs_response_parse);
 *   WR_OK     an SSLRequest (32 bytes, protocol 4.1, CLIENT_SSL): *seq is its
 *             sequence id, *tls_at where the TLS bytes begin (len when none
 *             came yet). Whatever follows it starts with a TLS handshake
 *             record and is for the TLS session only, never read as login;
 *   WR_ERROR  an SSLRequest followed by bytes that are not a TLS handshake
 *             (plain text pipelined behind it, CVE-2021-3935's MySQL twin);
 *             err says so.
 */
int my_tls_switch(const uint8_t *data, size_t len, size_t *tls_at, uint8_t *seq, char *err,
                  size_t errlen) WR_MUST_CHECK;

/*
 * Iterates over the connection attributes of a parsed response: start with
 * *pos = 0; each call returns true with key/value (not NUL-terminated) and
 * advances *pos, false at the end. The block was validated by the parser.
 */
bool my_hs_attr_next(const struct my_hs_response *r, size_t *pos, const uint8_t **key,
                     size_t *key_len, const uint8_t **val, size_t *val_len);

/*
 * Appends the client side of a login, for tests and tools: a
 * HandshakeResponse41 with sequence id seq. The auth response is written per
 * caps (lenenc, 1-byte length, or NUL-terminated); database and plugin when
 * their flags are set; attrs (already encoded pairs) with CLIENT_CONNECT_ATTRS.
 * The high 32 bits of caps go into the filler when CLIENT_MYSQL is clear.
 */
void my_out_hs_response(struct my_out *o, uint8_t seq, const struct my_hs_response *r);

/*
 * AuthSwitchRequest: 0xFE, plugin name NUL-terminated, plugin data (for the
 * native and caching_sha2 plugins: the 20-byte scramble and a NUL).
 */
void my_out_auth_switch(struct my_out *o, uint8_t seq, const char *plugin, const uint8_t *data,
                        size_t data_len);

/*
 * Parses an AuthSwitchRequest payload. WR_OK with *plugin (pointing into
 * the payload) and data/data_len (the rest, a trailing NUL included as sent),
 * WR_ERROR if the first byte is not 0xFE or the name is unterminated. A
 * lone 0xFE (the pre-4.1 "old password" switch) is WR_ERROR too.
 */
int my_auth_switch_parse(const uint8_t *payload, size_t len, const char **plugin,
                         const uint8_t **data, size_t *data_len) WR_MUST_CHECK;

/*
 * AuthMoreData: 0x01 then data; caching_sha2_password sends 0x03 (fast
 * authentication succeeded, OK follows) or 0x04 (full authentication needed).
 */
void my_out_auth_more_data(struct my_out *o, uint8_t seq, const uint8_t *data, size_t data_len);

#define MY_AUTH_MORE_DATA    0x01
#define MY_SHA2_FAST_OK      0x03
#define MY_SHA2_PERFORM_FULL 0x04

#endif
