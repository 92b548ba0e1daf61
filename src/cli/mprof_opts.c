/* Option parsing with the reference's (argparse's) conventions, messages and
 * number formats. */
#include "mprof.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mprof_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list va;
    va_start(va, fmt);
    vsnprintf(msg, sizeof(msg), fmt, va);
    va_end(va);
    /* One line, whatever the message carries (file names may hold \n). */
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    fprintf(stderr, "%s%s%s: error: %s\n", "mprof", cmd ? " " : "", cmd ? cmd : "", msg);
}

void mprof_opt_init(mprof_optparse_t *p, int argc, char **argv, int first,
                    const mprof_opt_t *opts, int remainder)
{
    memset(p, 0, sizeof(*p));
    p->argc = argc;
    p->argv = argv;
    p->index = first;
    p->opts = opts;
    p->remainder = remainder;
}

static int is_negative_number(const char *a)
{
    if (a[0] != '-' || a[1] == '\0') {
        return 0;
    }
    for (const char *q = a + 1; *q; q++) {
        if ((*q < '0' || *q > '9') && *q != '.') {
            return 0;
        }
    }
    return 1;
}

static int long_option(mprof_optparse_t *p, const char *arg)
{
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const mprof_opt_t *hit = NULL;
    int ambiguous = 0;
    for (const mprof_opt_t *o = p->opts; o->id; o++) {
        if (o->name == NULL || strncmp(o->name, name, len) != 0) {
            continue;
        }
        if (o->name[len] == '\0') { /* exact beats any prefix */
            hit = o;
            ambiguous = 0;
            break;
        }
        ambiguous = (hit != NULL);
        hit = o;
    }
    if (hit == NULL || ambiguous) {
        snprintf(p->err, sizeof(p->err), "%s option: --%.*s", ambiguous ? "ambiguous" : "unrecognized",
                 (int)len, name);
        return MPROF_OPT_ERROR;
    }
    if (!hit->takes_value) {
        if (eq) {
            snprintf(p->err, sizeof(p->err), "option --%s takes no value", hit->name);
            return MPROF_OPT_ERROR;
        }
        return hit->id;
    }
    if (eq) {
        p->value = eq + 1;
    } else if (p->index < p->argc) {
        p->value = p->argv[p->index++];
    } else {
        snprintf(p->err, sizeof(p->err), "option --%s needs a value", hit->name);
        return MPROF_OPT_ERROR;
    }
    return hit->id;
}

static int short_option(mprof_optparse_t *p)
{
    char c = *p->bundle++;
    const mprof_opt_t *hit = NULL;
    for (const mprof_opt_t *o = p->opts; o->id; o++) {
        if (o->short_name == c) {
            hit = o;
            break;
        }
    }
    if (hit == NULL) {
        snprintf(p->err, sizeof(p->err), "unrecognized option: -%c", c);
        p->bundle = NULL;
        return MPROF_OPT_ERROR;
    }
    if (hit->takes_value) {
        if (*p->bundle != '\0') {
            p->value = (*p->bundle == '=') ? p->bundle + 1 : p->bundle;
        } else if (p->index < p->argc) {
            p->value = p->argv[p->index++];
        } else {
            snprintf(p->err, sizeof(p->err), "option -%c needs a value", c);
            p->bundle = NULL;
            return MPROF_OPT_ERROR;
        }
        p->bundle = NULL;
    } else if (*p->bundle == '\0') {
        p->bundle = NULL;
    }
    return hit->id;
}

int mprof_opt_next(mprof_optparse_t *p)
{
    p->value = NULL;
    if (p->bundle != NULL) {
        return short_option(p);
    }
    if (p->index >= p->argc) {
        return MPROF_OPT_END;
    }
    const char *a = p->argv[p->index++];
    if (p->only_positionals || a[0] != '-' || a[1] == '\0' || is_negative_number(a)) {
        p->value = a;
        return MPROF_OPT_POSITIONAL;
    }
    if (strcmp(a, "--") == 0) {
        p->only_positionals = 1;
        if (p->remainder) {
            return p->index < p->argc ? (p->value = p->argv[p->index++], MPROF_OPT_POSITIONAL)
                                      : MPROF_OPT_END;
        }
        return mprof_opt_next(p);
    }
    if (a[1] == '-') {
        return long_option(p, a);
    }
    p->bundle = a + 1;
    return short_option(p);
}

int mprof_parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0') {
        return -1;
    }
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

void mprof_float_repr(char *out, size_t cap, double v)
{
    /* The shortest %g text that reads back as v, as Python's repr. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            break;
        }
    }
    double a = fabs(v);
    if (a != 0 && (a >= 1e16 || a < 1e-4)) {
        return; /* Python uses exponent form here too */
    }
    if (strchr(out, 'e') != NULL) {
        snprintf(out, cap, "%.1f", v); /* %g chose an exponent Python would not */
    }
    size_t n = strlen(out);
    if (strpbrk(out, ".en") == NULL && n + 2 < cap) {
        memcpy(out + n, ".0", 3);
    }
}

mprof_mib_t mprof_mib(double v)
{
    mprof_mib_t m;
    snprintf(m.s, sizeof(m.s), (v > -1e12 && v < 1e12) ? "%.3f" : "%.6g", v);
    return m;
}
