/* mp_jsonread: a strict JSON reader (RFC 8259) into a tree, for the line
 * reports `--json` writes (mprof diff, --baseline). Strings are decoded to
 * UTF-8 (\u escapes and surrogate pairs included); numbers are doubles.
 * Nesting deeper than MP_JSON_MAX_DEPTH and input over the caller's bounds
 * are refused, never a crash: the reader is fuzzed (tests/fuzz). */
#ifndef MP_JSONREAD_H
#define MP_JSONREAD_H

#include <stddef.h>

#define MP_JSON_MAX_DEPTH 64

typedef enum { MP_JNULL, MP_JFALSE, MP_JTRUE, MP_JNUM, MP_JSTR, MP_JARR, MP_JOBJ } mp_jtype_t;

typedef struct mp_jval {
    mp_jtype_t type;
    double num;               /* MP_JNUM */
    char *str;                /* MP_JSTR: NUL-terminated (may hold NULs: see len) */
    size_t len;               /* MP_JSTR: bytes; MP_JARR/MP_JOBJ: members */
    struct mp_jval *items;    /* MP_JARR/MP_JOBJ: len values */
    char **keys;              /* MP_JOBJ: len keys, NUL-terminated */
} mp_jval_t;

/* Parse text (len bytes). 0 and *out filled, or -1 with a one-line message
 * (with the byte offset) in err. Free with mp_jval_free. */
int mp_json_parse(const char *text, size_t len, mp_jval_t *out, char *err, size_t errcap);

/* The member named key of an object (the last one if repeated), or NULL. */
const mp_jval_t *mp_json_member(const mp_jval_t *obj, const char *key);

/* A member's number / string, or the fallback when missing or another type. */
double mp_json_number_of(const mp_jval_t *obj, const char *key, double fallback);
const char *mp_json_string_of(const mp_jval_t *obj, const char *key, const char *fallback);

void mp_jval_free(mp_jval_t *v);

#endif
