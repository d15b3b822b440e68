/*
 * my_switch.h -- the packets of a MySQL change of user that weir sends
 * itself (mysql.c's pass-through), built and read with protocol/mysql. Kept
 * apart from mysql.c because Connector/C's mysql.h and protocol/mysql define
 * the same capability names.
 */
#ifndef WEIR_MY_SWITCH_H
#define WEIR_MY_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#define MY_SWITCH_STAGE1_LEN 20

/*
 * Writes COM_CHANGE_USER to user (database db, collation id charset) for
 * a connection with capabilities caps into out; the token answers scramble
 * (20 bytes) from stage1 = SHA1(password). Returns the packet's length, 0
 * when it does not fit in cap.
 */
size_t my_switch_change_user(uint8_t *out, size_t cap, const char *user, const char *db,
                             uint16_t charset, uint64_t caps,
                             const uint8_t stage1[MY_SWITCH_STAGE1_LEN], const uint8_t *scramble);

/* Writes the answer to an AuthSwitchRequest's scramble (packet sequence id seq); its length. */
size_t my_switch_token(uint8_t *out, size_t cap, uint8_t seq,
                       const uint8_t stage1[MY_SWITCH_STAGE1_LEN], const uint8_t *scramble);

enum my_switch_answer {
    MY_SWITCH_OK,      /* the user changed */
    MY_SWITCH_REFUSED, /* ERR: err and sqlstate say why */
    MY_SWITCH_AGAIN,   /* AuthSwitchRequest to mysql_native_password: *scramble to answer */
    MY_SWITCH_OTHER,   /* anything else (another plugin): err says so */
};

/* Reads the server's answer packet (payload p, len bytes). */
enum my_switch_answer my_switch_read(const uint8_t *p, size_t len, char *err, size_t errlen,
                                     char sqlstate[6], const uint8_t **scramble);

#endif
