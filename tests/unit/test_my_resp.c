/* test_my_resp.c -- unit tests of the response tracker, OK parsing and session-state entries. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_resp.h"
#include "tests/tap.h"

/*
 * Responses captured from MariaDB 10.11.19 over TCP with a raw-protocol
 * Python client (packets with their headers, in order). Client capabilities:
 * CAPS below; the *_dep variants were captured with CLIENT_DEPRECATE_EOF
 * added. Session tracking was on: session_track_state_change=1,
 * session_track_schema=1, session_track_transaction_info=CHARACTERISTICS.
 */
#define CAPS                                                                                       \
    (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |        \
     CLIENT_LOCAL_FILES | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |    \
     CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |                    \
     CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |           \
     CLIENT_SESSION_TRACK)
#define DEP (CAPS | CLIENT_DEPRECATE_EOF)

static const uint8_t set_track[] =
    "\x1a\x00\x00\x01\x00\x00\x00\x02\x40\x00\x00\x00\x11\x02\x01\x31"
    "\x05\x09\x08\x5f\x5f\x5f\x5f\x5f"
    "\x5f\x5f\x5f\x04\x01\x00";
static const uint8_t select1[] =
    "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00\x01"
    "\x31\x00\x0c\x3f\x00\x01\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x05\x00\x00\x03\xfe\x00\x00\x02\x00"
    "\x02\x00\x00\x04\x01\x31\x05"
    "\x00\x00\x05\xfe\x00\x00\x02\x00";
static const uint8_t select_null[] =
    "\x01\x00\x00\x01\x02\x1a\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00"
    "\x04\x4e\x55\x4c\x4c\x00\x0c\x3f"
    "\x00\x00\x00\x00\x00\x06\x80\x00\x00\x00\x00\x17\x00\x00\x03\x03"
    "\x64\x65\x66\x00\x00\x00\x01\x32"
    "\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00\x05\x00"
    "\x00\x04\xfe\x00\x00\x02\x00\x03"
    "\x00\x00\x05\xfb\x01\x32\x05\x00\x00\x06\xfe\x00\x00\x02\x00";
static const uint8_t select_empty[] = "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00"
                                      "\x00\x01\x31\x00\x0c\x3f\x00\x01\x00"
                                      "\x00\x00\x03\x81\x00\x00\x00\x00\x05\x00\x00\x03\xfe\x00\x00"
                                      "\x02\x00\x05\x00\x00\x04\xfe\x00\x00"
                                      "\x02\x00";
static const uint8_t do1[] = "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t syntax_err[] =
    "\xa2\x00\x00\x01\xff\x28\x04\x23\x34\x32\x30\x30\x30\x59\x6f\x75\x20\x68\x61\x76\x65\x20\x61"
    "\x6e"
    "\x20\x65\x72\x72\x6f\x72\x20\x69\x6e\x20\x79\x6f\x75\x72\x20\x53\x51\x4c\x20\x73\x79\x6e\x74"
    "\x61"
    "\x78\x3b\x20\x63\x68\x65\x63\x6b\x20\x74\x68\x65\x20\x6d\x61\x6e\x75\x61\x6c\x20\x74\x68\x61"
    "\x74"
    "\x20\x63\x6f\x72\x72\x65\x73\x70\x6f\x6e\x64\x73\x20\x74\x6f\x20\x79\x6f\x75\x72\x20\x4d\x61"
    "\x72"
    "\x69\x61\x44\x42\x20\x73\x65\x72\x76\x65\x72\x20\x76\x65\x72\x73\x69\x6f\x6e\x20\x66\x6f\x72"
    "\x20"
    "\x74\x68\x65\x20\x72\x69\x67\x68\x74\x20\x73\x79\x6e\x74\x61\x78\x20\x74\x6f\x20\x75\x73\x65"
    "\x20"
    "\x6e\x65\x61\x72\x20\x27\x53\x45\x4c\x45\x43\x27\x20\x61\x74\x20\x6c\x69\x6e\x65\x20\x31";
static const uint8_t set_var[] = "\x0c\x00\x00\x01\x00\x00\x00\x02\x40\x00\x00\x00\x03\x02\x01\x31";
static const uint8_t set_tz[] =
    "\x1f\x00\x00\x01\x00\x00\x00\x02\x40\x00\x00\x00\x16\x00\x11\x09\x74"
    "\x69\x6d\x65\x5f\x7a\x6f\x6e"
    "\x65\x06\x2b\x30\x31\x3a\x30\x30\x02\x01\x31";
static const uint8_t use_t[] =
    "\x10\x00\x00\x01\x00\x00\x00\x02\x40\x00\x00\x00\x07\x01\x02\x01\x74\x02\x01\x31";
static const uint8_t begin[] =
    "\x33\x00\x00\x01\x00\x00\x00\x03\x60\x00\x00\x00\x2a\x05\x09\x08\x54"
    "\x5f\x5f\x5f\x5f\x5f\x5f\x5f"
    "\x04\x1d\x1c\x53\x54\x41\x52\x54\x20\x54\x52\x41\x4e\x53\x41\x43\x54"
    "\x49\x4f\x4e\x20\x52\x45\x41"
    "\x44\x20\x4f\x4e\x4c\x59\x3b";
static const uint8_t multi[] =
    "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00\x01"
    "\x31\x00\x0c\x3f\x00\x01\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x05\x00\x00\x03\xfe\x00\x00\x0a\x00"
    "\x02\x00\x00\x04\x01\x31\x05"
    "\x00\x00\x05\xfe\x00\x00\x0a\x00\x01\x00\x00\x06\x01\x17\x00\x00\x07"
    "\x03\x64\x65\x66\x00\x00\x00"
    "\x01\x32\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00\x05"
    "\x00\x00\x08\xfe\x00\x00\x02"
    "\x00\x02\x00\x00\x09\x01\x32\x05\x00\x00\x0a\xfe\x00\x00\x02\x00";
static const uint8_t multi_err[] =
    "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00"
    "\x01\x31\x00\x0c\x3f\x00\x01\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x05\x00\x00\x03\xfe\x00\x00\x0a"
    "\x00\x02\x00\x00\x04\x01\x31\x05"
    "\x00\x00\x05\xfe\x00\x00\x0a\x00\xac\x00\x00\x06\xff\x28\x04\x23"
    "\x34\x32\x30\x30\x30\x59\x6f\x75"
    "\x20\x68\x61\x76\x65\x20\x61\x6e\x20\x65\x72\x72\x6f\x72\x20\x69"
    "\x6e\x20\x79\x6f\x75\x72\x20\x53"
    "\x51\x4c\x20\x73\x79\x6e\x74\x61\x78\x3b\x20\x63\x68\x65\x63\x6b"
    "\x20\x74\x68\x65\x20\x6d\x61\x6e"
    "\x75\x61\x6c\x20\x74\x68\x61\x74\x20\x63\x6f\x72\x72\x65\x73\x70"
    "\x6f\x6e\x64\x73\x20\x74\x6f\x20"
    "\x79\x6f\x75\x72\x20\x4d\x61\x72\x69\x61\x44\x42\x20\x73\x65\x72"
    "\x76\x65\x72\x20\x76\x65\x72\x73"
    "\x69\x6f\x6e\x20\x66\x6f\x72\x20\x74\x68\x65\x20\x72\x69\x67\x68"
    "\x74\x20\x73\x79\x6e\x74\x61\x78"
    "\x20\x74\x6f\x20\x75\x73\x65\x20\x6e\x65\x61\x72\x20\x27\x53\x45"
    "\x4c\x45\x43\x3b\x20\x53\x45\x4c"
    "\x45\x43\x54\x20\x33\x27\x20\x61\x74\x20\x6c\x69\x6e\x65\x20\x31";
static const uint8_t multi_ok[] =
    "\x07\x00\x00\x01\x00\x00\x00\x0a\x00\x00\x00\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t call[] = "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00\x01"
                              "\x31\x00\x0c\x3f\x00\x01\x00"
                              "\x00\x00\x03\x81\x00\x00\x00\x00\x05\x00\x00\x03\xfe\x00\x00\x0a\x00"
                              "\x02\x00\x00\x04\x01\x31\x05"
                              "\x00\x00\x05\xfe\x00\x00\x0a\x00\x01\x00\x00\x06\x02\x17\x00\x00\x07"
                              "\x03\x64\x65\x66\x00\x00\x00"
                              "\x01\x32\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00\x17"
                              "\x00\x00\x08\x03\x64\x65\x66"
                              "\x00\x00\x00\x01\x33\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00"
                              "\x00\x00\x05\x00\x00\x09\xfe"
                              "\x00\x00\x0a\x00\x04\x00\x00\x0a\x01\x32\x01\x33\x05\x00\x00\x0b\xfe"
                              "\x00\x00\x0a\x00\x07\x00\x00"
                              "\x0c\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t infile_req[] =
    "\x14\x00\x00\x01\xfb\x2f\x74\x6d\x70\x2f\x6d\x79\x78\x2f\x69\x6e"
    "\x66\x69\x6c\x65\x2e\x74\x78\x74";
static const uint8_t infile_done[] =
    "\x37\x00\x00\x04\x00\x02\x00\x02\x00\x00\x00\x2f\x52\x65\x63\x6f"
    "\x72\x64\x73\x3a\x20\x32\x20\x20"
    "\x44\x65\x6c\x65\x74\x65\x64\x3a\x20\x30\x20\x20\x53\x6b\x69\x70"
    "\x70\x65\x64\x3a\x20\x30\x20\x20"
    "\x57\x61\x72\x6e\x69\x6e\x67\x73\x3a\x20\x30";
static const uint8_t select_tt[] =
    "\x01\x00\x00\x01\x02\x1d\x00\x00\x02\x03\x64\x65\x66\x01\x74\x02"
    "\x74\x74\x02\x74\x74\x01\x61\x01"
    "\x61\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00\x1d\x00"
    "\x00\x03\x03\x64\x65\x66\x01\x74"
    "\x02\x74\x74\x02\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e\x00\x00"
    "\x00\xfd\x00\x00\x00\x00\x00\x05"
    "\x00\x00\x04\xfe\x00\x00\x22\x00\x04\x00\x00\x05\x01\x31\x01\x78"
    "\x04\x00\x00\x06\x01\x32\x01\x79"
    "\x04\x00\x00\x07\x01\x33\x01\x7a\x04\x00\x00\x08\x01\x34\x01\x77"
    "\x05\x00\x00\x09\xfe\x00\x00\x22"
    "\x00";
static const uint8_t prepare_params[] =
    "\x0c\x00\x00\x01\x00\x0d\x00\x00\x00\x02\x00\x02\x00\x00\x00"
    "\x00\x17\x00\x00\x02\x03\x64\x65\x66"
    "\x00\x00\x00\x01\x3f\x00\x0c\x3f\x00\x00\x00\x00\x00\x06\x80"
    "\x00\x00\x00\x00\x17\x00\x00\x03\x03"
    "\x64\x65\x66\x00\x00\x00\x01\x3f\x00\x0c\x3f\x00\x00\x00\x00"
    "\x00\x06\x80\x00\x00\x00\x00\x05\x00"
    "\x00\x04\xfe\x00\x00\x02\x00\x17\x00\x00\x05\x03\x64\x65\x66"
    "\x00\x00\x00\x01\x3f\x00\x0c\x3f\x00"
    "\x00\x00\x00\x00\x06\x80\x00\x00\x00\x00\x1d\x00\x00\x06\x03"
    "\x64\x65\x66\x01\x74\x02\x74\x74\x02"
    "\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e\x00\x00\x00\xfd\x00"
    "\x00\x00\x00\x00\x05\x00\x00\x07\xfe"
    "\x00\x00\x02\x00";
static const uint8_t prepare_none[] =
    "\x0c\x00\x00\x01\x00\x0e\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
static const uint8_t prepare_err[] =
    "\xa4\x00\x00\x01\xff\x28\x04\x23\x34\x32\x30\x30\x30\x59\x6f\x75"
    "\x20\x68\x61\x76\x65\x20\x61\x6e"
    "\x20\x65\x72\x72\x6f\x72\x20\x69\x6e\x20\x79\x6f\x75\x72\x20\x53"
    "\x51\x4c\x20\x73\x79\x6e\x74\x61"
    "\x78\x3b\x20\x63\x68\x65\x63\x6b\x20\x74\x68\x65\x20\x6d\x61\x6e"
    "\x75\x61\x6c\x20\x74\x68\x61\x74"
    "\x20\x63\x6f\x72\x72\x65\x73\x70\x6f\x6e\x64\x73\x20\x74\x6f\x20"
    "\x79\x6f\x75\x72\x20\x4d\x61\x72"
    "\x69\x61\x44\x42\x20\x73\x65\x72\x76\x65\x72\x20\x76\x65\x72\x73"
    "\x69\x6f\x6e\x20\x66\x6f\x72\x20"
    "\x74\x68\x65\x20\x72\x69\x67\x68\x74\x20\x73\x79\x6e\x74\x61\x78"
    "\x20\x74\x6f\x20\x75\x73\x65\x20"
    "\x6e\x65\x61\x72\x20\x27\x53\x45\x4c\x45\x43\x20\x3f\x27\x20\x61"
    "\x74\x20\x6c\x69\x6e\x65\x20\x31";
static const uint8_t prepare_cols[] =
    "\x0c\x00\x00\x01\x00\x10\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x02\x03\x64\x65"
    "\x66"
    "\x01\x74\x02\x74\x74\x02\x74\x74\x01\x61\x01\x61\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00"
    "\x00"
    "\x00\x1d\x00\x00\x03\x03\x64\x65\x66\x01\x74\x02\x74\x74\x02\x74\x74\x01\x62\x01\x62\x0c\x21"
    "\x00"
    "\x1e\x00\x00\x00\xfd\x00\x00\x00\x00\x00\x05\x00\x00\x04\xfe\x00\x00\x02\x00";
static const uint8_t execute_params[] =
    "\x01\x00\x00\x01\x02\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00\x01\x3f\x00\x0c\x3f\x00\x0b"
    "\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x1d\x00\x00\x03\x03\x64\x65\x66\x01\x74\x02\x74\x74\x02\x74"
    "\x74"
    "\x01\x62\x01\x62\x0c\x21\x00\x1e\x00\x00\x00\xfd\x00\x00\x00\x00\x00\x05\x00\x00\x04\xfe\x00"
    "\x00"
    "\x22\x00\x08\x00\x00\x05\x00\x00\x07\x00\x00\x00\x01\x79\x08\x00\x00\x06\x00\x00\x07\x00\x00"
    "\x00"
    "\x01\x7a\x08\x00\x00\x07\x00\x00\x07\x00\x00\x00\x01\x77\x05\x00\x00\x08\xfe\x00\x00\x22\x00";
static const uint8_t execute_noresult[] = "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t execute_cursor[] =
    "\x01\x00\x00\x01\x02\x1d\x00\x00\x02\x03\x64\x65\x66\x01\x74"
    "\x02\x74\x74\x02\x74\x74\x01\x61\x01"
    "\x61\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00\x1d"
    "\x00\x00\x03\x03\x64\x65\x66\x01\x74"
    "\x02\x74\x74\x02\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e\x00"
    "\x00\x00\xfd\x00\x00\x00\x00\x00\x05"
    "\x00\x00\x04\xfe\x00\x00\x62\x00";
static const uint8_t fetch[] =
    "\x08\x00\x00\x01\x00\x00\x01\x00\x00\x00\x01\x78\x08\x00\x00\x02\x00"
    "\x00\x02\x00\x00\x00\x01\x79"
    "\x05\x00\x00\x03\xfe\x00\x00\x42\x00";
static const uint8_t fetch_rest[] =
    "\x08\x00\x00\x01\x00\x00\x03\x00\x00\x00\x01\x7a\x08\x00\x00\x02"
    "\x00\x00\x04\x00\x00\x00\x01\x77"
    "\x05\x00\x00\x03\xfe\x00\x00\x82\x00";
static const uint8_t stmt_reset[] = "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t stmt_reset_bad[] =
    "\x4b\x00\x00\x01\xff\xdb\x04\x23\x48\x59\x30\x30\x30\x55\x6e"
    "\x6b\x6e\x6f\x77\x6e\x20\x70\x72\x65"
    "\x70\x61\x72\x65\x64\x20\x73\x74\x61\x74\x65\x6d\x65\x6e\x74"
    "\x20\x68\x61\x6e\x64\x6c\x65\x72\x20"
    "\x28\x39\x39\x29\x20\x67\x69\x76\x65\x6e\x20\x74\x6f\x20\x6d"
    "\x79\x73\x71\x6c\x64\x5f\x73\x74\x6d"
    "\x74\x5f\x72\x65\x73\x65\x74";
static const uint8_t ping[] = "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t init_db[] =
    "\x10\x00\x00\x01\x00\x00\x00\x02\x40\x00\x00\x00\x07\x01\x02\x01\x74\x02\x01\x31";
static const uint8_t init_db_bad[] =
    "\x24\x00\x00\x01\xff\x19\x04\x23\x34\x32\x30\x30\x30\x55\x6e\x6b\x6e\x6f\x77\x6e\x20\x64\x61"
    "\x74"
    "\x61\x62\x61\x73\x65\x20\x27\x6e\x6f\x73\x75\x63\x68\x64\x62\x27";
static const uint8_t statistics[] =
    "\x73\x00\x00\x01\x55\x70\x74\x69\x6d\x65\x3a\x20\x31\x33\x31\x20\x20\x54\x68\x72\x65\x61\x64"
    "\x73"
    "\x3a\x20\x31\x20\x20\x51\x75\x65\x73\x74\x69\x6f\x6e\x73\x3a\x20\x31\x39\x31\x20\x20\x53\x6c"
    "\x6f"
    "\x77\x20\x71\x75\x65\x72\x69\x65\x73\x3a\x20\x30\x20\x20\x4f\x70\x65\x6e\x73\x3a\x20\x32\x35"
    "\x20"
    "\x20\x4f\x70\x65\x6e\x20\x74\x61\x62\x6c\x65\x73\x3a\x20\x31\x35\x20\x20\x51\x75\x65\x72\x69"
    "\x65"
    "\x73\x20\x70\x65\x72\x20\x73\x65\x63\x6f\x6e\x64\x20\x61\x76\x67\x3a\x20\x31\x2e\x34\x35\x38";
static const uint8_t field_list[] =
    "\x1e\x00\x00\x01\x03\x64\x65\x66\x01\x74\x02\x74\x74\x02\x74\x74"
    "\x01\x61\x01\x61\x0c\x3f\x00\x0b"
    "\x00\x00\x00\x03\x00\x00\x00\x00\x00\xfb\x1e\x00\x00\x02\x03\x64"
    "\x65\x66\x01\x74\x02\x74\x74\x02"
    "\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e\x00\x00\x00\xfd\x00\x00"
    "\x00\x00\x00\xfb\x05\x00\x00\x03"
    "\xfe\x00\x00\x02\x00";
static const uint8_t field_list_bad[] =
    "\x27\x00\x00\x01\xff\x7a\x04\x23\x34\x32\x53\x30\x32\x54\x61\x62\x6c\x65\x20\x27\x74\x2e\x6e"
    "\x6f"
    "\x73\x75\x63\x68\x27\x20\x64\x6f\x65\x73\x6e\x27\x74\x20\x65\x78\x69\x73\x74";
static const uint8_t set_option_on[] = "\x05\x00\x00\x01\xfe\x00\x00\x02\x00";
static const uint8_t reset_connection[] = "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t select1_dep[] =
    "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00"
    "\x01\x31\x00\x0c\x3f\x00\x01\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x02\x00\x00\x03\x01\x31\x07\x00"
    "\x00\x04\xfe\x00\x00\x02\x00\x00"
    "\x00";
static const uint8_t select_null_dep[] =
    "\x01\x00\x00\x01\x02\x1a\x00\x00\x02\x03\x64\x65\x66\x00\x00"
    "\x00\x04\x4e\x55\x4c\x4c\x00\x0c\x3f"
    "\x00\x00\x00\x00\x00\x06\x80\x00\x00\x00\x00\x17\x00\x00\x03"
    "\x03\x64\x65\x66\x00\x00\x00\x01\x32"
    "\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00\x03"
    "\x00\x00\x04\xfb\x01\x32\x07\x00\x00"
    "\x05\xfe\x00\x00\x02\x00\x00\x00";
static const uint8_t do1_dep[] = "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t multi_dep[] =
    "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00"
    "\x01\x31\x00\x0c\x3f\x00\x01\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x02\x00\x00\x03\x01\x31\x07\x00"
    "\x00\x04\xfe\x00\x00\x0a\x00\x00"
    "\x00\x01\x00\x00\x05\x01\x17\x00\x00\x06\x03\x64\x65\x66\x00\x00"
    "\x00\x01\x32\x00\x0c\x3f\x00\x01"
    "\x00\x00\x00\x03\x81\x00\x00\x00\x00\x02\x00\x00\x07\x01\x32\x07"
    "\x00\x00\x08\xfe\x00\x00\x02\x00"
    "\x00\x00";
static const uint8_t call_dep[] =
    "\x01\x00\x00\x01\x01\x17\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00\x01\x31\x00\x0c\x3f\x00\x01"
    "\x00"
    "\x00\x00\x03\x81\x00\x00\x00\x00\x02\x00\x00\x03\x01\x31\x07\x00\x00\x04\xfe\x00\x00\x0a\x00"
    "\x00"
    "\x00\x01\x00\x00\x05\x02\x17\x00\x00\x06\x03\x64\x65\x66\x00\x00\x00\x01\x32\x00\x0c\x3f\x00"
    "\x01"
    "\x00\x00\x00\x03\x81\x00\x00\x00\x00\x17\x00\x00\x07\x03\x64\x65\x66\x00\x00\x00\x01\x33\x00"
    "\x0c"
    "\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00\x04\x00\x00\x08\x01\x32\x01\x33\x07\x00\x00"
    "\x09"
    "\xfe\x00\x00\x0a\x00\x00\x00\x07\x00\x00\x0a\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t select_tt_dep[] =
    "\x01\x00\x00\x01\x02\x1d\x00\x00\x02\x03\x64\x65\x66\x01\x74\x02\x74\x74\x02\x74\x74\x01\x61"
    "\x01"
    "\x61\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00\x1d\x00\x00\x03\x03\x64\x65\x66\x01"
    "\x74"
    "\x02\x74\x74\x02\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e\x00\x00\x00\xfd\x00\x00\x00\x00\x00"
    "\x04"
    "\x00\x00\x04\x01\x31\x01\x78\x04\x00\x00\x05\x01\x32\x01\x79\x04\x00\x00\x06\x01\x33\x01\x7a"
    "\x04"
    "\x00\x00\x07\x01\x34\x01\x77\x07\x00\x00\x08\xfe\x00\x00\x22\x00\x00\x00";
static const uint8_t prepare_params_dep[] =
    "\x0c\x00\x00\x01\x00\x11\x00\x00\x00\x02\x00\x02\x00\x00"
    "\x00\x00\x17\x00\x00\x02\x03\x64\x65\x66"
    "\x00\x00\x00\x01\x3f\x00\x0c\x3f\x00\x00\x00\x00\x00\x06"
    "\x80\x00\x00\x00\x00\x17\x00\x00\x03\x03"
    "\x64\x65\x66\x00\x00\x00\x01\x3f\x00\x0c\x3f\x00\x00\x00"
    "\x00\x00\x06\x80\x00\x00\x00\x00\x17\x00"
    "\x00\x04\x03\x64\x65\x66\x00\x00\x00\x01\x3f\x00\x0c\x3f"
    "\x00\x00\x00\x00\x00\x06\x80\x00\x00\x00"
    "\x00\x1d\x00\x00\x05\x03\x64\x65\x66\x01\x74\x02\x74\x74"
    "\x02\x74\x74\x01\x62\x01\x62\x0c\x21\x00"
    "\x1e\x00\x00\x00\xfd\x00\x00\x00\x00\x00";
static const uint8_t prepare_cols_dep[] = "\x0c\x00\x00\x01\x00\x14\x00\x00\x00\x02\x00\x00\x00\x00"
                                          "\x00\x00\x1d\x00\x00\x02\x03\x64\x65\x66"
                                          "\x01\x74\x02\x74\x74\x02\x74\x74\x01\x61\x01\x61\x0c\x3f"
                                          "\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00"
                                          "\x00\x1d\x00\x00\x03\x03\x64\x65\x66\x01\x74\x02\x74\x74"
                                          "\x02\x74\x74\x01\x62\x01\x62\x0c\x21\x00"
                                          "\x1e\x00\x00\x00\xfd\x00\x00\x00\x00\x00";
static const uint8_t execute_cursor_dep[] =
    "\x01\x00\x00\x01\x02\x1d\x00\x00\x02\x03\x64\x65\x66\x01"
    "\x74\x02\x74\x74\x02\x74\x74\x01\x61\x01"
    "\x61\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"
    "\x1d\x00\x00\x03\x03\x64\x65\x66\x01\x74"
    "\x02\x74\x74\x02\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e"
    "\x00\x00\x00\xfd\x00\x00\x00\x00\x00\x07"
    "\x00\x00\x04\xfe\x00\x00\x62\x00\x00\x00";
static const uint8_t fetch_dep[] =
    "\x08\x00\x00\x01\x00\x00\x01\x00\x00\x00\x01\x78\x08\x00\x00\x02"
    "\x00\x00\x02\x00\x00\x00\x01\x79"
    "\x07\x00\x00\x03\xfe\x00\x00\x42\x00\x00\x00";
static const uint8_t field_list_dep[] =
    "\x1e\x00\x00\x01\x03\x64\x65\x66\x01\x74\x02\x74\x74\x02\x74"
    "\x74\x01\x61\x01\x61\x0c\x3f\x00\x0b"
    "\x00\x00\x00\x03\x00\x00\x00\x00\x00\xfb\x1e\x00\x00\x02\x03"
    "\x64\x65\x66\x01\x74\x02\x74\x74\x02"
    "\x74\x74\x01\x62\x01\x62\x0c\x21\x00\x1e\x00\x00\x00\xfd\x00"
    "\x00\x00\x00\x00\xfb\x07\x00\x00\x03"
    "\xfe\x00\x00\x02\x00\x00\x00";
static const uint8_t set_option_on_dep[] = "\x07\x00\x00\x01\xfe\x00\x00\x02\x00\x00\x00";

#define S(a) (const uint8_t *)(a), sizeof(a) - 1

/*
 * Feeds the packets of s[0..n) to r. With stream set, packets the tracker
 * does not need whole are fed with only their first byte. Returns the number
 * of packets fed when the tracker said WR_DONE on exactly the last one, or
 * when it stopped at a LOCAL INFILE request; a negative number otherwise.
 */
static int feed(struct my_resp *r, const uint8_t *s, size_t n, int stream)
{
    size_t off = 0;
    int npk = 0;
    while (off < n) {
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(s + off, n - off, &len, &seq) != WR_OK || len > n - off - MY_HDR_LEN)
            return -1;
        const uint8_t *p = s + off + MY_HDR_LEN;
        size_t avail = len;
        if (stream && len > 0 && !my_resp_wants_whole(r, p[0], len))
            avail = 1;
        int rc = my_resp_feed(r, p, avail, len);
        off += MY_HDR_LEN + len;
        npk++;
        if (rc == WR_DONE)
            return off == n ? npk : -2;
        if (rc != WR_AGAIN)
            return -3;
        if (r->infile)
            return off == n ? npk : -5;
    }
    return -4;
}

/* Runs one captured response both whole and streamed; checks packet count and result count. */
static void run(const char *name, uint8_t cmd, uint64_t caps, const uint8_t *s, size_t n,
                int want_pkts, uint32_t want_results, struct my_resp *out)
{
    struct my_resp r;
    for (int stream = 0; stream < 2; stream++) {
        my_resp_start(&r, cmd, caps);
        int got = feed(&r, s, n, stream);
        if (!ok(got == want_pkts && my_resp_done(&r) && r.results == want_results,
                "%s%s: done after %d packets, %u results", name, stream ? " (streamed)" : "",
                want_pkts, want_results))
            diag("  got %d packets, state %d, results %u", got, r.state, r.results);
    }
    if (out)
        *out = r;
}

static void test_captured(void)
{
    struct my_resp r;

    run("DO 1", COM_QUERY, CAPS, S(do1), 1, 1, &r);
    ok(r.has_status && r.status == SERVER_STATUS_AUTOCOMMIT && !r.error, "  status autocommit");
    run("SELEC (syntax error)", COM_QUERY, CAPS, S(syntax_err), 1, 1, &r);
    ok(r.error && r.error_code == 1064, "  ERR 1064");
    run("SELECT 1", COM_QUERY, CAPS, S(select1), 5, 1, &r);
    is_int(r.status, SERVER_STATUS_AUTOCOMMIT, "  final status");
    run("SELECT NULL, 2 (row starts 0xFB)", COM_QUERY, CAPS, S(select_null), 6, 1, &r);
    ok(!r.infile, "  a NULL first column is not LOCAL INFILE");
    run("empty result", COM_QUERY, CAPS, S(select_empty), 4, 1, NULL);
    run("SET @x=1", COM_QUERY, CAPS, S(set_var), 1, 1, &r);
    ok(r.status & SERVER_SESSION_STATE_CHANGED, "  session state changed flag");
    run("START TRANSACTION", COM_QUERY, CAPS, S(begin), 1, 1, &r);
    ok(r.status & SERVER_STATUS_IN_TRANS, "  in transaction");
    run("SELECT 1; SELECT 2", COM_QUERY, CAPS, S(multi), 10, 2, &r);
    ok(!(r.status & SERVER_MORE_RESULTS_EXISTS), "  last result has no MORE_RESULTS");
    run("SELECT 1; SELEC; SELECT 3", COM_QUERY, CAPS, S(multi_err), 6, 2, &r);
    ok(r.error && r.error_code == 1064, "  ends with the ERR");
    run("DO 1; DO 2", COM_QUERY, CAPS, S(multi_ok), 2, 2, NULL);
    run("CALL p() with two result sets", COM_QUERY, CAPS, S(call), 12, 3, NULL);
    run("SELECT * FROM tt", COM_QUERY, CAPS, S(select_tt), 9, 1, NULL);

    /* LOAD DATA LOCAL INFILE: request, then the client's file, then OK. */
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(feed(&r, S(infile_req), 0), 1, "LOCAL INFILE request: one packet");
    ok(r.infile && r.state == MY_RS_INFILE && !my_resp_done(&r), "  infile state");
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00\x00\x00\x02\x00\x00\x00", 7, 7), WR_ERROR,
           "  server packet before the file is refused");
    is_int(my_resp_infile_sent(&r), WR_OK, "  client sent its file");
    ok(!r.infile, "  infile cleared");
    is_int(feed(&r, S(infile_done), 1), 1, "  then OK ends it");
    ok(my_resp_done(&r) && !r.error, "  done");
    is_int(my_resp_infile_sent(&r), WR_ERROR, "  infile_sent without request");

    run("PREPARE with 2 params, 2 columns", COM_STMT_PREPARE, CAPS, S(prepare_params), 7, 1, &r);
    ok(r.prep_cols == 2 && r.stmt_id > 0, "  columns and statement id");
    run("PREPARE DO 1", COM_STMT_PREPARE, CAPS, S(prepare_none), 1, 1, NULL);
    run("PREPARE error", COM_STMT_PREPARE, CAPS, S(prepare_err), 1, 1, &r);
    ok(r.error, "  error");
    run("PREPARE 2 columns", COM_STMT_PREPARE, CAPS, S(prepare_cols), 4, 1, NULL);
    run("EXECUTE binary rows", COM_STMT_EXECUTE, CAPS, S(execute_params), 8, 1, NULL);
    run("EXECUTE no result", COM_STMT_EXECUTE, CAPS, S(execute_noresult), 1, 1, NULL);
    run("EXECUTE with cursor", COM_STMT_EXECUTE, CAPS, S(execute_cursor), 4, 1, &r);
    ok(r.status & SERVER_STATUS_CURSOR_EXISTS, "  cursor exists");
    run("FETCH 2 rows", COM_STMT_FETCH, CAPS, S(fetch), 3, 1, NULL);
    run("FETCH rest", COM_STMT_FETCH, CAPS, S(fetch_rest), 3, 1, &r);
    ok(r.status & SERVER_STATUS_LAST_ROW_SENT, "  last row sent");
    run("STMT_RESET", COM_STMT_RESET, CAPS, S(stmt_reset), 1, 1, NULL);
    run("STMT_RESET unknown id", COM_STMT_RESET, CAPS, S(stmt_reset_bad), 1, 1, &r);
    ok(r.error && r.error_code == 1243, "  ERR 1243");
    run("PING", COM_PING, CAPS, S(ping), 1, 1, NULL);
    run("INIT_DB", COM_INIT_DB, CAPS, S(init_db), 1, 1, NULL);
    run("INIT_DB unknown", COM_INIT_DB, CAPS, S(init_db_bad), 1, 1, &r);
    ok(r.error && r.error_code == 1049, "  ERR 1049");
    run("STATISTICS", COM_STATISTICS, CAPS, S(statistics), 1, 1, NULL);
    run("FIELD_LIST", COM_FIELD_LIST, CAPS, S(field_list), 3, 1, NULL);
    run("FIELD_LIST unknown table", COM_FIELD_LIST, CAPS, S(field_list_bad), 1, 1, &r);
    ok(r.error && r.error_code == 1146, "  ERR 1146");
    run("SET_OPTION (EOF)", COM_SET_OPTION, CAPS, S(set_option_on), 1, 1, NULL);
    run("RESET_CONNECTION", COM_RESET_CONNECTION, CAPS, S(reset_connection), 1, 1, NULL);

    /* The same with CLIENT_DEPRECATE_EOF. */
    run("DEPRECATE_EOF: DO 1", COM_QUERY, DEP, S(do1_dep), 1, 1, NULL);
    run("DEPRECATE_EOF: SELECT 1", COM_QUERY, DEP, S(select1_dep), 4, 1, &r);
    is_int(r.status, SERVER_STATUS_AUTOCOMMIT, "  status from the 0xFE OK");
    run("DEPRECATE_EOF: SELECT NULL, 2", COM_QUERY, DEP, S(select_null_dep), 5, 1, NULL);
    run("DEPRECATE_EOF: multi", COM_QUERY, DEP, S(multi_dep), 8, 2, NULL);
    run("DEPRECATE_EOF: CALL", COM_QUERY, DEP, S(call_dep), 10, 3, NULL);
    run("DEPRECATE_EOF: SELECT * FROM tt", COM_QUERY, DEP, S(select_tt_dep), 8, 1, NULL);
    run("DEPRECATE_EOF: PREPARE params", COM_STMT_PREPARE, DEP, S(prepare_params_dep), 5, 1, NULL);
    run("DEPRECATE_EOF: PREPARE columns", COM_STMT_PREPARE, DEP, S(prepare_cols_dep), 3, 1, NULL);
    run("DEPRECATE_EOF: EXECUTE cursor", COM_STMT_EXECUTE, DEP, S(execute_cursor_dep), 4, 1, &r);
    ok(r.status & SERVER_STATUS_CURSOR_EXISTS, "  cursor exists");
    run("DEPRECATE_EOF: FETCH", COM_STMT_FETCH, DEP, S(fetch_dep), 3, 1, NULL);
    run("DEPRECATE_EOF: FIELD_LIST", COM_FIELD_LIST, DEP, S(field_list_dep), 3, 1, NULL);
    run("DEPRECATE_EOF: SET_OPTION", COM_SET_OPTION, DEP, S(set_option_on_dep), 1, 1, NULL);
}

static void test_constructed(void)
{
    struct my_resp r;
    static const uint8_t eof[] = "\xfe\x00\x00\x02\x00";
    uint8_t big[9] = {0xfe, 0, 0, 0, 1, 0, 0, 0, 0};

    ok(!my_cmd_has_response(COM_QUIT) && !my_cmd_has_response(COM_STMT_CLOSE) &&
           !my_cmd_has_response(COM_STMT_SEND_LONG_DATA) && my_cmd_has_response(COM_QUERY) &&
           my_cmd_has_response(COM_PING),
       "commands without response");
    my_resp_start(&r, COM_STMT_CLOSE, CAPS);
    ok(my_resp_done(&r), "STMT_CLOSE is done at once");
    is_int(my_resp_feed(&r, eof, 5, 5), WR_ERROR, "  and refuses packets");
    my_resp_start(&r, COM_QUIT, CAPS);
    ok(my_resp_done(&r), "QUIT is done at once");
    my_resp_start(&r, COM_CHANGE_USER, CAPS);
    ok(r.state == MY_RS_BAD && my_resp_feed(&r, eof, 5, 5) == WR_ERROR,
       "CHANGE_USER is not tracked");
    my_resp_start(&r, COM_BINLOG_DUMP, CAPS);
    ok(r.state == MY_RS_BAD, "BINLOG_DUMP is not tracked");

    /* A 16 MiB row whose first field is 2^24 bytes: starts 0xFE, split in two packets. */
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(feed(&r, S("\x01\x00\x00\x01\x01"), 0), -4, "big row: column count");
    is_int(my_resp_feed(&r, (const uint8_t *)"\x03", 1, 23), WR_AGAIN, "big row: column def");
    is_int(my_resp_feed(&r, eof, 5, 5), WR_AGAIN, "big row: EOF after defs");
    ok(!my_resp_wants_whole(&r, 0xfe, MY_MAX_PAYLOAD),
       "big row: 0xFE of 0xFFFFFF not needed whole");
    is_int(my_resp_feed(&r, big, 9, MY_MAX_PAYLOAD), WR_AGAIN, "big row: first packet is a row");
    ok(r.cont && !my_resp_wants_whole(&r, 0xfe, 5), "big row: continuation expected");
    is_int(my_resp_feed(&r, (const uint8_t *)"\xfe", 1, 14), WR_AGAIN,
           "big row: 0xFE-looking continuation is not EOF");
    ok(!r.cont, "big row: continuation ended");
    is_int(my_resp_feed(&r, big, 9, 9), WR_AGAIN, "0xFE row of 9 bytes is a row");
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01", 1, MY_MAX_PAYLOAD), WR_AGAIN,
           "a row of exactly 0xFFFFFF...");
    is_int(my_resp_feed(&r, NULL, 0, 0), WR_AGAIN, "  ...ends with an empty packet");
    is_int(my_resp_feed(&r, eof, 5, 5), WR_DONE, "big row: EOF ends");

    /* Same under DEPRECATE_EOF: a 0xFE OK of any length below 0xFFFFFF ends rows. */
    my_resp_start(&r, COM_QUERY, DEP);
    r.state = MY_RS_ROWS;
    is_int(my_resp_feed(&r, big, 1, MY_MAX_PAYLOAD), WR_AGAIN, "DEPRECATE_EOF: 0xFE row");
    is_int(my_resp_feed(&r, big, 1, 1), WR_AGAIN, "DEPRECATE_EOF: its continuation");
    ok(my_resp_wants_whole(&r, 0xfe, 40), "DEPRECATE_EOF: 0xFE of 40 bytes wanted whole");
    static const uint8_t okfe[] = "\xfe\x00\x00\x22\x00\x00\x00";
    is_int(my_resp_feed(&r, okfe, 7, 7), WR_DONE, "DEPRECATE_EOF: OK with 0xFE ends");
    is_int(r.status, 0x22, "  its status");

    /* ERR in the middle of rows. */
    my_resp_start(&r, COM_STMT_FETCH, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00\x00\x01", 3, 3), WR_AGAIN, "fetch: row");
    static const uint8_t err[] = "\xff\x25\x05#70100Query execution was interrupted";
    ok(my_resp_wants_whole(&r, 0xff, sizeof(err) - 1), "  ERR wanted whole");
    is_int(my_resp_feed(&r, err, sizeof(err) - 1, sizeof(err) - 1), WR_DONE, "  ERR ends");
    ok(r.error && r.error_code == 1317, "  ERR 1317");

    /* MariaDB progress reports (ERR 0xFFFF) only with MARIADB_CLIENT_PROGRESS. */
    static const uint8_t prog[] = "\xff\xff\xff\x01\x01\x02\x10\x27\x00\x00\x05stage";
    my_resp_start(&r, COM_QUERY, CAPS | MARIADB_CLIENT_PROGRESS);
    is_int(my_resp_feed(&r, prog, sizeof(prog) - 1, sizeof(prog) - 1), WR_AGAIN,
           "progress report goes on");
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00\x00\x00\x02\x00\x00\x00", 7, 7), WR_DONE,
           "  then OK");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, prog, sizeof(prog) - 1, sizeof(prog) - 1), WR_DONE,
           "without the capability it is an ERR");

    /* MARIADB_CLIENT_CACHE_METADATA: column count + "metadata follows" byte. */
    my_resp_start(&r, COM_STMT_EXECUTE, CAPS | MARIADB_CLIENT_CACHE_METADATA);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x02\x00", 2, 2), WR_AGAIN, "cached metadata: count");
    is_int(r.state, MY_RS_COLDEFS_EOF, "  no column definitions follow");
    is_int(my_resp_feed(&r, eof, 5, 5), WR_AGAIN, "  EOF");
    is_int(my_resp_feed(&r, eof, 5, 5), WR_DONE, "  EOF after no rows");
    my_resp_start(&r, COM_STMT_EXECUTE, CAPS | MARIADB_CLIENT_CACHE_METADATA);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01\x01", 2, 2), WR_AGAIN, "metadata follows");
    ok(r.state == MY_RS_COLDEFS && r.left == 1, "  one definition expected");
    my_resp_start(&r, COM_STMT_EXECUTE,
                  CAPS | MARIADB_CLIENT_CACHE_METADATA | CLIENT_DEPRECATE_EOF);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01\x00", 2, 2), WR_AGAIN, "cached + deprecate");
    is_int(r.state, MY_RS_ROWS, "  straight to rows");

    /* Statistics longer than one packet. */
    my_resp_start(&r, COM_STATISTICS, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"U", 1, MY_MAX_PAYLOAD), WR_AGAIN, "long statistics");
    is_int(my_resp_feed(&r, (const uint8_t *)"x", 1, 3), WR_DONE, "  ends with its last packet");

    /* Things that cannot be. */
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00\x00\x00\x02\x00\x00\x00", 3, 7), WR_ERROR,
           "partial OK refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, NULL, 0, 0), WR_ERROR, "empty packet refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, eof, 5, 5), WR_ERROR, "EOF as first packet refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00", 1, 1), WR_ERROR, "short OK refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\xfc\x01", 2, 2), WR_ERROR,
           "truncated column count refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01\x00", 2, 2), WR_ERROR,
           "column count with trailing byte refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00", 1, MY_MAX_PAYLOAD), WR_ERROR,
           "16 MiB first packet refused");
    my_resp_start(&r, COM_STMT_EXECUTE, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\xfb/x", 3, 3), WR_ERROR,
           "LOCAL INFILE for EXECUTE refused");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01", 1, 1), WR_AGAIN, "count 1");
    is_int(my_resp_feed(&r, (const uint8_t *)"\x03", 1, 20), WR_AGAIN, "def");
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01\x31", 2, 2), WR_ERROR, "row instead of EOF");
    my_resp_start(&r, COM_PING, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x01\x31", 2, 2), WR_ERROR, "PING: not OK/ERR");
    my_resp_start(&r, COM_STMT_PREPARE, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00\x01\x00\x00", 4, 4), WR_ERROR,
           "short prepare OK");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x00\x00\x00\x02\x00\x00\x00", 7, 6), WR_ERROR,
           "avail > payload_len refused");
    /* ProxySQL-style garbage as server responses. */
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\x2f\x2a\xe0", 3, 3), WR_ERROR, "'2F 2A E0'");
    my_resp_start(&r, COM_QUERY, CAPS);
    is_int(my_resp_feed(&r, (const uint8_t *)"\xfe\x00\x00", 3, 3), WR_ERROR, "'FE 00 00'");
}

static void test_ok_parse(void)
{
    struct my_ok o;
    struct my_track_iter it;
    struct my_track e;

    ok(my_ok_parse(S("\x00\x00\x00\x02\x00\x00\x00"), CAPS, &o) == WR_OK && o.status == 2 &&
           o.info == NULL && o.session_state == NULL,
       "OK minimal");
    ok(my_ok_parse(S("\x00\x02\x00\x02\x00\x00\x00&Records: 2  Duplicates: 0  Warnings: 0"), CAPS,
                   &o) == WR_OK &&
           o.affected_rows == 2 && o.info_len == 38 && memcmp(o.info, "Records", 7) == 0,
       "OK with info (captured INSERT)");
    ok(my_ok_parse(S("\x00\x02\x05\x02\x00\x01\x00Records: 2"), CLIENT_PROTOCOL_41, &o) == WR_OK &&
           o.insert_id == 5 && o.warnings == 1 && o.info_len == 10,
       "OK without session track: info is the rest");
    ok(my_ok_parse(S("\x00\xfe\x00\x00\x00\x00\x01\x00\x00\x00\x07\x02\x00\x00\x00"), CAPS, &o) ==
               WR_OK &&
           o.affected_rows == 0x100000000ULL && o.insert_id == 7 && o.status == 2,
       "OK with 8-byte affected rows");

    /* SET @x=1: state change entry. */
    ok(my_ok_parse(set_var + 4, sizeof(set_var) - 5, CAPS, &o) == WR_OK && o.session_state_len == 3,
       "OK of SET @x=1 has a session-state block");
    my_track_init(&it, o.session_state, o.session_state_len);
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_STATE_CHANGE &&
           e.value_len == 1 && e.value[0] == '1',
       "  STATE_CHANGE \"1\"");
    is_int(my_track_next(&it, &e), WR_DONE, "  end");

    /* SET time_zone: system variable + state change. */
    ok(my_ok_parse(set_tz + 4, sizeof(set_tz) - 5, CAPS, &o) == WR_OK && o.session_state,
       "OK of SET time_zone");
    my_track_init(&it, o.session_state, o.session_state_len);
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_SYSTEM_VARIABLES &&
           e.name_len == 9 && memcmp(e.name, "time_zone", 9) == 0 && e.value_len == 6 &&
           memcmp(e.value, "+01:00", 6) == 0,
       "  time_zone = +01:00");
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_STATE_CHANGE, "  state change");
    is_int(my_track_next(&it, &e), WR_DONE, "  end");

    ok(my_ok_parse(use_t + 4, sizeof(use_t) - 5, CAPS, &o) == WR_OK, "OK of USE t");
    my_track_init(&it, o.session_state, o.session_state_len);
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_SCHEMA && e.value_len == 1 &&
           e.value[0] == 't',
       "  schema t");

    ok(my_ok_parse(begin + 4, sizeof(begin) - 5, CAPS, &o) == WR_OK &&
           (o.status & SERVER_STATUS_IN_TRANS),
       "OK of START TRANSACTION READ ONLY");
    my_track_init(&it, o.session_state, o.session_state_len);
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_TRANSACTION_STATE &&
           e.value_len == 8 && memcmp(e.value, "T_______", 8) == 0,
       "  transaction state T_______");
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_TRANSACTION_CHARACTERISTICS &&
           e.value_len == 28 && memcmp(e.value, "START TRANSACTION READ ONLY;", 28) == 0,
       "  characteristics");

    ok(my_ok_parse(set_track + 4, sizeof(set_track) - 5, CAPS, &o) == WR_OK, "OK of SET tracking");
    my_track_init(&it, o.session_state, o.session_state_len);
    int n = 0, rc;
    while ((rc = my_track_next(&it, &e)) == WR_OK)
        n++;
    ok(rc == WR_DONE && n == 3, "  three entries");

    /* GTIDS and unknown types. */
    my_track_init(&it, S("\x03\x06\x00\x04"
                         "0-1-5"
                         "\x09\x02xy"));
    ok(my_track_next(&it, &e) == WR_OK && e.type == SESSION_TRACK_GTIDS && e.value_len == 4 &&
           memcmp(e.value, "0-1-", 4) == 0,
       "GTIDS entry");
    ok(my_track_next(&it, &e) == WR_ERROR, "trailing byte in GTIDS data... is the next type");

    my_track_init(&it, S("\x09\x02xy"));
    ok(my_track_next(&it, &e) == WR_OK && e.type == 9 && e.value_len == 2, "unknown type: raw");

    /* Malformed. */
    ok(my_ok_parse(S("\x00\x00\x00\x02\x00\x00"), CAPS, &o) == WR_ERROR, "OK: 6 bytes");
    ok(my_ok_parse(S("\x01\x00\x00\x02\x00\x00\x00"), CAPS, &o) == WR_ERROR, "OK: bad header");
    ok(my_ok_parse(S("\x00\xfc\x00\x02\x00\x00\x00"), CAPS, &o) == WR_ERROR,
       "OK: lenenc eats the status");
    ok(my_ok_parse(S("\x00\x00\x00\x02\x40\x00\x00\x05"
                     "ab"),
                   CAPS, &o) == WR_ERROR,
       "OK: info past end");
    ok(my_ok_parse(S("\x00\x00\x00\x02\x40\x00\x00\x00\x09\x02\x01"), CAPS, &o) == WR_ERROR,
       "OK: state block past end");
    ok(my_ok_parse(S("\x00\xfb\x00\x02\x00\x00\x00"), CAPS, &o) == WR_ERROR, "OK: NULL rows");
    my_track_init(&it, S("\x00\x05\x03"
                         "abc"));
    ok(my_track_next(&it, &e) == WR_ERROR, "track: entry past end");
    my_track_init(&it, S("\x00\x04\x03"
                         "abc"));
    ok(my_track_next(&it, &e) == WR_ERROR, "track: variable without value");
    ok(my_track_next(&it, &e) == WR_ERROR, "track: sticky error");
    my_track_init(&it, S("\x01\x03\x05"
                         "ab"));
    ok(my_track_next(&it, &e) == WR_ERROR, "track: schema past entry");
    my_track_init(&it, S("\x05"));
    ok(my_track_next(&it, &e) == WR_ERROR, "track: type without length");
    my_track_init(&it, NULL, 0);
    is_int(my_track_next(&it, &e), WR_DONE, "track: empty block");
}

int main(void)
{
    test_captured();
    test_constructed();
    test_ok_parse();
    return done_testing();
}
