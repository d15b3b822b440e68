/*
 * client_my_int.h -- inside the MySQL client session: client_my.c (the
 * handshake, authentication, the idle client's input, the pool it joins)
 * and client_my_cmd.c (the commands weir answers itself: KILL, also across
 * peers, COM_PROCESS_KILL, COM_CHANGE_USER, COM_PING without a server). Not
 * for other modules: they use client.h.
 */
#ifndef WEIR_CLIENT_MY_INT_H
#define WEIR_CLIENT_MY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pooler/session/client.h"
#include "protocol/mysql/my_auth.h"

/* A login in progress: the scramble weir sent, and whether it asked for another plugin. */
struct my_auth_state {
    uint8_t scramble[MY_SCRAMBLE_LEN];
    bool switched;     /* an AuthSwitchRequest was sent */
    bool waiting;      /* the user is being looked up on the server (client_my_auth.c) */
    uint8_t token_len; /* the token, kept for the lookup's answer */
    uint8_t token[20];
    bool sha2_switched; /* caching_sha2_password: switched to it, its token comes next */
    bool sha2_full;     /* caching_sha2_password: full authentication asked (client_my_sha2.c) */
    bool has_stage1;    /* the token was checked against a stored hash: */
    uint8_t stage1[20]; /* SHA1(password) it carried, for the pool's pass-through logins */
};

/*
 * Sends an AuthSwitchRequest to mysql_native_password with the scramble in
 * c->auth and waits in CL_AUTH for the token (sequence id c->my->seq + 1).
 */
void client_my_auth_switch(struct client *c);
/* The same to plugin (MY_NATIVE_PLUGIN or MY_SHA2_PLUGIN). */
void client_my_auth_switch_to(struct client *c, const char *plugin);

enum my_verify { MY_VERIFY_OK, MY_VERIFY_DENIED, MY_VERIFY_WAIT };

/* Finishes a login after its check: logged in, refused (1045), or nothing yet (WAIT). */
void client_my_verified(struct client *c, enum my_verify v);

/*
 * caching_sha2_password (client_my_sha2.c). begin: the client's first token
 * came with that plugin; false when the user's secret cannot serve it (the
 * caller switches the client to mysql_native_password). input: the client's
 * next packet after a switch to the plugin (as->sha2_switched) or while a
 * full authentication runs (as->sha2_full).
 */
bool client_my_sha2_begin(struct client *c, const uint8_t *token, size_t len);
void client_my_sha2_input(struct client *c, const uint8_t *payload, size_t len);

/*
 * Checks a mysql_native_password token: against the auth file, or, for a
 * user it lacks with auth_user set, against the server's hashes (cached, or
 * looked up: MY_VERIFY_WAIT, and the login goes on in
 * client_my_lookup_reply). The caller finishes the other two.
 */
enum my_verify client_my_verify(struct client *c, const uint8_t *token, size_t len);

/* Forgets the SHA1(password) kept for a login without a database (c->my->stage1). */
void client_my_forget_stage1(struct client *c);

/* The client proved who it is: join its pool and finish the login. */
void client_my_authenticated(struct client *c);

/* Checks a mysql_native_password token against the auth file. */
bool client_my_check_token(struct client *c, const uint8_t *token, size_t len);

/*
 * Does c->db name a MySQL database? Else c gets 1049 and is closed (false):
 * a PostgreSQL entry is never served on the MySQL port.
 */
bool client_my_db_usable(struct client *c);

/* Frees c->my (the proto's free_state). */
void client_my_free_state(struct client *c);

/*
 * A logged-in client holding no server said something: answer what weir
 * answers itself, close on COM_QUIT, else ask for a server.
 */
void client_my_idle_input(struct client *c);

/* Another worker or a peer answered c's KILL (the proto's kill_done). */
void client_my_kill_done(struct client *c, uint32_t target, int result);

/* A command weir answers itself at c->in's parsed offset (the proto's own_command). */
bool client_my_own_command(struct client *c);

/* Takes the whole packet at c->in->parsed (payload len) out of the client's input. */
void client_my_consume(struct client *c, uint32_t len);

/* Answers the client's command with OK (sequence id 1) and sends it. False when c was closed. */
bool client_my_reply_ok(struct client *c);

#endif
