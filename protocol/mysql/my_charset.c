/* my_charset.c -- collation id to character set name, for the common collations. */
#include "protocol/mysql/my_charset.h"

#include <stddef.h>

const char *my_charset_name(unsigned id)
{
    switch (id) {
    case 8:  /* latin1_swedish_ci */
    case 47: /* latin1_bin */
    case 48: /* latin1_general_ci */
        return "latin1";
    case 33:  /* utf8mb3_general_ci */
    case 83:  /* utf8mb3_bin */
    case 192: /* utf8mb3_unicode_ci */
        return "utf8mb3";
    case 45:  /* utf8mb4_general_ci */
    case 46:  /* utf8mb4_bin */
    case 224: /* utf8mb4_unicode_ci */
    case 255: /* MySQL 8's utf8mb4_0900_ai_ci */
        return "utf8mb4";
    case 63:
        return "binary";
    case 11: /* ascii_general_ci */
        return "ascii";
    default:
        if (id >= 224 && id <= 247)
            return "utf8mb4";
        if (id >= 192 && id <= 215)
            return "utf8mb3";
        return NULL;
    }
}
