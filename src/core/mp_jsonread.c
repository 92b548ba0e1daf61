/* The JSON reader: see mp_jsonread.h. Recursive descent over a cursor. */
#include "mp_jsonread.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
    char *err;
    size_t errcap;
    int failed;
} cur_t;

__attribute__((format(printf, 2, 3))) static int fail(cur_t *c, const char *fmt, ...)
{
    if (!c->failed) {
        char msg[160];
        va_list va;
        va_start(va, fmt);
        vsnprintf(msg, sizeof(msg), fmt, va);
        va_end(va);
        snprintf(c->err, c->errcap, "%s at byte %zu", msg, c->i);
        c->failed = 1;
    }
    return -1;
}

static void skip_ws(cur_t *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n'
                           || c->s[c->i] == '\r')) {
        c->i++;
    }
}

static int literal(cur_t *c, const char *word)
{
    size_t k = strlen(word);
    if (c->n - c->i < k || memcmp(c->s + c->i, word, k) != 0) {
        return fail(c, "unexpected text");
    }
    c->i += k;
    return 0;
}

static int hex4(cur_t *c, unsigned *out)
{
    if (c->n - c->i < 4) {
        return fail(c, "short \\u escape");
    }
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char h = c->s[c->i++];
        v <<= 4;
        if (h >= '0' && h <= '9') {
            v |= (unsigned)(h - '0');
        } else if (h >= 'a' && h <= 'f') {
            v |= (unsigned)(h - 'a' + 10);
        } else if (h >= 'A' && h <= 'F') {
            v |= (unsigned)(h - 'A' + 10);
        } else {
            return fail(c, "bad \\u escape");
        }
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string literal (the cursor on its opening quote) into a malloc'd,
 * NUL-terminated buffer. Escapes never lengthen the text past 4 bytes per
 * input byte pair, so the decoded text fits in the literal's length + 1. */
static int string(cur_t *c, char **out, size_t *outlen)
{
    c->i++; /* the quote */
    size_t start = c->i, end = start;
    while (end < c->n && c->s[end] != '"') {
        end += (c->s[end] == '\\' && end + 1 < c->n) ? 2 : 1;
    }
    if (end >= c->n) {
        return fail(c, "unterminated string");
    }
    char *o = malloc(end - start + 4);
    if (o == NULL) {
        return fail(c, "out of memory");
    }
    size_t k = 0;
    while (c->i < end) {
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch < 0x20) {
            free(o);
            return fail(c, "control character in string");
        }
        if (ch != '\\') {
            o[k++] = (char)ch;
            c->i++;
            continue;
        }
        c->i++;
        char e = c->s[c->i++];
        unsigned cp = 0;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u':
            if (hex4(c, &cp) < 0 || c->i > end) {
                free(o);
                return fail(c, "bad \\u escape");
            }
            if (cp >= 0xD800 && cp < 0xDC00 && end - c->i >= 6 && c->s[c->i] == '\\'
                && c->s[c->i + 1] == 'u') {
                size_t save = c->i;
                unsigned lo = 0;
                c->i += 2;
                if (hex4(c, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    c->failed = 0;
                    c->i = save;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD; /* a lone surrogate: the replacement character */
            }
            k += put_utf8(o + k, cp);
            break;
        default:
            free(o);
            return fail(c, "bad escape");
        }
    }
    c->i = end + 1;
    o[k] = '\0';
    *out = o;
    *outlen = k;
    return 0;
}

/* Skip a run of decimal digits; how many there were. */
static size_t digits(cur_t *c)
{
    size_t start = c->i;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        c->i++;
    }
    return c->i - start;
}

static int number(cur_t *c, double *out)
{
    size_t start = c->i;
    if (c->i < c->n && c->s[c->i] == '-') {
        c->i++;
    }
    if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9') {
        return fail(c, "bad number");
    }
    if (c->s[c->i] == '0') {
        c->i++;
    } else {
        (void)digits(c);
    }
    if (c->i < c->n && c->s[c->i] == '.') {
        c->i++;
        if (digits(c) == 0) {
            return fail(c, "bad number");
        }
    }
    if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
        c->i++;
        if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) {
            c->i++;
        }
        if (digits(c) == 0) {
            return fail(c, "bad number");
        }
    }
    char buf[64];
    size_t len = c->i - start;
    if (len >= sizeof(buf)) {
        /* Long digit strings: strtod on a bounded copy would change them. */
        char *tmp = malloc(len + 1);
        if (tmp == NULL) {
            return fail(c, "out of memory");
        }
        memcpy(tmp, c->s + start, len);
        tmp[len] = '\0';
        *out = strtod(tmp, NULL);
        free(tmp);
    } else {
        memcpy(buf, c->s + start, len);
        buf[len] = '\0';
        *out = strtod(buf, NULL);
    }
    if (!isfinite(*out)) {
        return fail(c, "number out of range");
    }
    return 0;
}

static int value(cur_t *c, mp_jval_t *v);

static int push(cur_t *c, mp_jval_t *v, size_t *cap, char *key)
{
    if (v->len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        mp_jval_t *ni = realloc(v->items, ncap * sizeof(*ni));
        if (ni == NULL) {
            free(key);
            return fail(c, "out of memory");
        }
        v->items = ni;
        if (v->type == MP_JOBJ) {
            char **nk = realloc(v->keys, ncap * sizeof(*nk));
            if (nk == NULL) {
                free(key);
                return fail(c, "out of memory");
            }
            v->keys = nk;
        }
        *cap = ncap;
    }
    memset(&v->items[v->len], 0, sizeof(v->items[0]));
    if (v->type == MP_JOBJ) {
        v->keys[v->len] = key;
    }
    v->len++;
    return value(c, &v->items[v->len - 1]);
}

static int container(cur_t *c, mp_jval_t *v, char close)
{
    if (++c->depth > MP_JSON_MAX_DEPTH) {
        return fail(c, "nested too deep");
    }
    c->i++;
    size_t cap = 0;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == close) {
        c->i++;
        c->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(c);
        if (close == '}') {
            size_t klen;
            if (c->i >= c->n || c->s[c->i] != '"' || string(c, &key, &klen) < 0) {
                return fail(c, "expected a key");
            }
            skip_ws(c);
            if (c->i >= c->n || c->s[c->i] != ':') {
                free(key);
                return fail(c, "expected ':'");
            }
            c->i++;
        }
        if (push(c, v, &cap, key) < 0) {
            return -1;
        }
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->i < c->n && c->s[c->i] == close) {
            c->i++;
            c->depth--;
            return 0;
        }
        return fail(c, "expected ',' or '%c'", close);
    }
}

static int value(cur_t *c, mp_jval_t *v)
{
    skip_ws(c);
    if (c->i >= c->n) {
        return fail(c, "unexpected end");
    }
    switch (c->s[c->i]) {
    case '{':
        v->type = MP_JOBJ;
        return container(c, v, '}');
    case '[':
        v->type = MP_JARR;
        return container(c, v, ']');
    case '"':
        v->type = MP_JSTR;
        return string(c, &v->str, &v->len);
    case 't':
        v->type = MP_JTRUE;
        return literal(c, "true");
    case 'f':
        v->type = MP_JFALSE;
        return literal(c, "false");
    case 'n':
        v->type = MP_JNULL;
        return literal(c, "null");
    default:
        v->type = MP_JNUM;
        return number(c, &v->num);
    }
}

void mp_jval_free(mp_jval_t *v)
{
    if (v == NULL) {
        return;
    }
    if (v->type == MP_JARR || v->type == MP_JOBJ) {
        for (size_t k = 0; k < v->len; k++) {
            mp_jval_free(&v->items[k]);
            if (v->type == MP_JOBJ) {
                free(v->keys[k]);
            }
        }
        free(v->items);
        free(v->keys);
    } else if (v->type == MP_JSTR) {
        free(v->str);
    }
    memset(v, 0, sizeof(*v));
}

int mp_json_parse(const char *text, size_t len, mp_jval_t *out, char *err, size_t errcap)
{
    cur_t c = {text, len, 0, 0, err, errcap, 0};
    memset(out, 0, sizeof(*out));
    if (errcap > 0) {
        err[0] = '\0';
    }
    if (value(&c, out) < 0) {
        mp_jval_free(out);
        return -1;
    }
    skip_ws(&c);
    if (c.i != c.n) {
        fail(&c, "text after the value");
        mp_jval_free(out);
        return -1;
    }
    return 0;
}

const mp_jval_t *mp_json_member(const mp_jval_t *obj, const char *key)
{
    if (obj == NULL || obj->type != MP_JOBJ) {
        return NULL;
    }
    for (size_t k = obj->len; k-- > 0;) {
        if (strcmp(obj->keys[k], key) == 0) {
            return &obj->items[k];
        }
    }
    return NULL;
}

double mp_json_number_of(const mp_jval_t *obj, const char *key, double fallback)
{
    const mp_jval_t *v = mp_json_member(obj, key);
    return v != NULL && v->type == MP_JNUM ? v->num : fallback;
}

const char *mp_json_string_of(const mp_jval_t *obj, const char *key, const char *fallback)
{
    const mp_jval_t *v = mp_json_member(obj, key);
    return v != NULL && v->type == MP_JSTR ? v->str : fallback;
}
