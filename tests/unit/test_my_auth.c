/* test_my_auth.c -- unit tests of mysql_native_password and caching_sha2_password scrambles. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol/mysql/my_auth.h"
#include "tests/tap.h"

/*
 * Vectors computed independently with python3 hashlib:
 *   s = b"abcdefghijklmnopqrst"; h1 = sha1(b"secret"); h2 = sha1(h1)
 *   native token = h1 XOR sha1(s + h2); stored = "*" + h2.hex().upper()
 *   (the stored form equals MariaDB's PASSWORD('secret'), checked on 10.11)
 *   g1 = sha256(b"secret"); g2 = sha256(g1)
 *   sha2 token = g1 XOR sha256(g2 + s)
 */
static const uint8_t scramble[20] = "abcdefghijklmnopqrst";
static const uint8_t native_secret_token[20] = "\x88\x17\xc5\x0f\xa7\x79\xda\xef\x01\x0e\xe7\x57"
                                               "\x78\x25\xb0\x84\x7d\xf9\x84\x2e";
static const char native_secret_hash[] = "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7";
static const uint8_t sha2_secret_token[32] =
    "\xc7\x6e\x28\x98\x61\x2a\x4c\xf0\x42\xc7\x7f\xa8\xc4\x70\x2c\x4c\x64\xc0\xc2\xc5\x57\xc5"
    "\x3c\x4d\x75\x59\x5a\xaa\x6a\xba\xe8\x09";
static const uint8_t sha2_secret_stage2[32] =
    "\x38\x81\x21\x9d\x08\x7d\xd9\xc6\x34\x37\x3f\xd3\x3d\xfa\x33\xa2\xcb\x6b\xfc\x6c\x52\x0b"
    "\x64\xb8\xbb\x60\xef\x2c\xeb\x53\x4a\xe7";

/*
 * A real login MariaDB 10.11 accepted (user u, password "pw", PASSWORD('pw') =
 * *D821809F681A40A6E379B50D0463EFAE20BDD122): the greeting's scramble and the
 * token our capture client sent.
 */
static const uint8_t real_scramble[20] = "\x6d\x42\x40\x59\x23\x3e\x50\x55\x3d\x6c\x2e\x3e\x2c\x61"
                                         "\x26\x37\x22\x41\x63\x50";
static const uint8_t real_token[20] = "\x9c\x63\xd5\xc2\x1e\x7c\xc7\xd6\xd9\x22\x9c\x49\x9f\xa0"
                                      "\xe1\x28\x69\xe1\x45\x0c";

static void test_native(void)
{
    uint8_t tok[20];
    struct my_native_secret s, t;
    char hex[MY_NATIVE_HASH_LEN + 1];

    is_int(my_native_token("secret", scramble, tok), 20, "native token length");
    ok(memcmp(tok, native_secret_token, 20) == 0, "native token matches python vector");
    is_int(my_native_token("", scramble, tok), 0, "empty password: empty token");

    my_native_secret_from_password("secret", &s);
    my_native_secret_format(&s, hex);
    is_str(hex, native_secret_hash, "stored hash from password equals PASSWORD('secret')");
    is_int(my_native_secret_parse(native_secret_hash, &t), WR_OK, "parse stored hash");
    ok(!t.empty && memcmp(t.stage2, s.stage2, 20) == 0, "parsed hash equals derived");
    is_int(my_native_secret_parse("*14e65567abdb5135d0cfd9a70b3032c179a49ee7", &t), WR_OK,
           "parse lower-case hash");
    is_int(my_native_secret_parse("*14E65567ABDB5135D0CFD9A70B3032C179A49EE", &t), WR_ERROR,
           "short hash refused");
    is_int(my_native_secret_parse("*14E65567ABDB5135D0CFD9A70B3032C179A49EEG", &t), WR_ERROR,
           "non-hex hash refused");
    is_int(my_native_secret_parse("14E65567ABDB5135D0CFD9A70B3032C179A49EE7x", &t), WR_ERROR,
           "no '*' refused");
    is_int(my_native_secret_parse("", &t), WR_OK, "empty hash: no password");
    ok(t.empty, "empty secret");

    ok(my_native_check(&s, scramble, native_secret_token, 20), "check: right token");
    tok[0] = native_secret_token[0] ^ 1;
    memcpy(tok + 1, native_secret_token + 1, 19);
    ok(!my_native_check(&s, scramble, tok, 20), "check: one bit off");
    ok(!my_native_check(&s, scramble, native_secret_token, 19), "check: short token");
    ok(!my_native_check(&s, scramble, NULL, 0), "check: empty token against a password");
    uint8_t other[20];
    memcpy(other, scramble, 20);
    other[19] = 'u';
    ok(!my_native_check(&s, other, native_secret_token, 20), "check: other scramble");

    my_native_secret_from_password("", &t);
    ok(t.empty && my_native_check(&t, scramble, NULL, 0), "empty password accepts empty token");
    ok(!my_native_check(&t, scramble, native_secret_token, 20), "empty password refuses a token");

    is_int(my_native_secret_parse("*D821809F681A40A6E379B50D0463EFAE20BDD122", &t), WR_OK,
           "parse PASSWORD('pw')");
    ok(my_native_check(&t, real_scramble, real_token, 20), "real MariaDB login verifies");
    is_int(my_native_token("pw", real_scramble, tok), 20, "real login: token");
    ok(memcmp(tok, real_token, 20) == 0, "real login: our token equals the accepted one");
}

static void test_sha2(void)
{
    uint8_t tok[32];
    struct my_sha2_secret s;

    is_int(my_sha2_token("secret", scramble, tok), 32, "sha2 token length");
    ok(memcmp(tok, sha2_secret_token, 32) == 0, "sha2 token matches python vector");
    is_int(my_sha2_token("", scramble, tok), 0, "sha2: empty password, empty token");
    my_sha2_secret_from_password("secret", &s);
    ok(!s.empty && memcmp(s.stage2, sha2_secret_stage2, 32) == 0, "sha2 stored from password");
    ok(my_sha2_check(&s, scramble, sha2_secret_token, 32), "sha2 check: right token");
    memcpy(tok, sha2_secret_token, 32);
    tok[31] ^= 0x80;
    ok(!my_sha2_check(&s, scramble, tok, 32), "sha2 check: one bit off");
    ok(!my_sha2_check(&s, scramble, sha2_secret_token, 20), "sha2 check: native-length token");
    my_sha2_secret_from_password(NULL, &s);
    ok(s.empty && my_sha2_check(&s, scramble, NULL, 0) &&
           !my_sha2_check(&s, scramble, sha2_secret_token, 32),
       "sha2 empty password");
}

static void test_scramble(void)
{
    uint8_t a[20], b[20];
    int fine = my_scramble_generate(a) == WR_OK && my_scramble_generate(b) == WR_OK;
    for (int i = 0; i < 20; i++)
        if (a[i] == 0 || a[i] > 127 || a[i] == '$')
            fine = 0;
    ok(fine, "scramble bytes in 1..127, no '$'");
    ok(memcmp(a, b, 20) != 0, "two scrambles differ");
}

/* Pass-through: the token yields SHA1(pw), which answers any other scramble as the password would.
 */
static void test_stage1(void)
{
    uint8_t s1[MY_SCRAMBLE_LEN], s2[MY_SCRAMBLE_LEN], token[MY_NATIVE_TOKEN_LEN];
    uint8_t stage1[20], again[MY_NATIVE_TOKEN_LEN], direct[MY_NATIVE_TOKEN_LEN];
    for (int i = 0; i < MY_SCRAMBLE_LEN; i++) {
        s1[i] = (uint8_t)(33 + i);
        s2[i] = (uint8_t)(90 - i);
    }
    struct my_native_secret sec;
    ok(my_native_secret_parse("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", &sec) == WR_OK,
       "stored hash of \"password\"");
    my_native_token("password", s1, token);
    bool has = false;
    ok(my_native_check_stage1(&sec, s1, token, sizeof(token), stage1, &has) && has,
       "a good token gives its stage1");
    my_native_token_stage1(stage1, s2, again);
    my_native_token("password", s2, direct);
    ok(!memcmp(again, direct, sizeof(direct)), "stage1 answers another scramble as the password");
    ok(my_native_check(&sec, s2, again, sizeof(again)), "... and the server accepts it");
    token[0] ^= 1;
    has = true;
    ok(!my_native_check_stage1(&sec, s1, token, sizeof(token), stage1, &has) && !has,
       "a bad token gives nothing");
    struct my_native_secret none;
    my_native_secret_from_password("", &none);
    has = true;
    ok(my_native_check_stage1(&none, s1, token, 0, stage1, &has) && !has,
       "an empty password: accepted, no stage1 to pass on");
}

int main(void)
{
    test_native();
    test_stage1();
    test_sha2();
    test_scramble();
    return done_testing();
}
