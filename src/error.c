/* error.c — the thread-local last-error message, status names, and the
 * small arithmetic helpers every stage shares.  The library never prints:
 * it records here and returns a status. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char err_msg[2048];
static _Thread_local int err_offset = -1;

const char *ein_last_error(void) { return err_msg; }
int ein_last_error_offset(void) { return err_offset; }

void ein_clear_error(void)
{
    err_msg[0] = '\0';
    err_offset = -1;
}

ein_status ein_fail(ein_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    err_offset = -1;
    return st;
}

/* "ij,jq->iz: column 8: output label 'z' is not in any input\n"
 * "  ij,jq->iz\n"
 * "          ^"  — columns count bytes from 0, like sqlite3_error_offset. */
ein_status ein_fail_at(ein_status st, const char *text, int col,
                       const char *fmt, ...)
{
    size_t len = strlen(text);
    int n = snprintf(err_msg, sizeof err_msg, "%s: column %d: ", text, col);
    if (n < 0 || (size_t)n >= sizeof err_msg)
        n = (int)sizeof err_msg - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(err_msg + n, sizeof err_msg - (size_t)n, fmt, ap);
    va_end(ap);
    size_t used = strlen(err_msg);
    (void)m;
    /* The caret line: the expression, with control characters shown as
     * spaces so the caret stays under its byte, then the caret. */
    if (used + 2 * len + 8 < sizeof err_msg) {
        char *w = err_msg + used;
        *w++ = '\n'; *w++ = ' '; *w++ = ' ';
        for (size_t i = 0; i < len; i++)
            *w++ = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : ' ';
        *w++ = '\n'; *w++ = ' '; *w++ = ' ';
        for (int i = 0; i < col; i++)
            *w++ = ' ';
        *w++ = '^';
        *w = '\0';
    }
    err_offset = col;
    return st;
}

const char *ein_status_str(ein_status st)
{
    switch (st) {
    case EIN_OK:           return "ok";
    case EIN_ERR_SYNTAX:   return "syntax error";
    case EIN_ERR_OPERANDS: return "wrong number of operands";
    case EIN_ERR_RANK:     return "rank mismatch";
    case EIN_ERR_SHAPE:    return "shape mismatch";
    case EIN_ERR_DTYPE:    return "dtype error";
    case EIN_ERR_OVERFLOW: return "size overflow";
    case EIN_ERR_ALIAS:    return "output overlaps itself";
    case EIN_ERR_NOMEM:    return "out of memory";
    case EIN_ERR_ARG:      return "invalid argument";
    case EIN_ERR_PLAN:     return "tensors do not match the plan";
    case EIN_ERR_LIMIT:    return "size limit exceeded";
    }
    return "unknown status";
}

const char *ein_dtype_name(ein_dtype dt)
{
    switch (dt) {
    case EIN_F32: return "float32";
    case EIN_F64: return "float64";
    }
    return "unknown";
}

size_t ein_dtype_size(ein_dtype dt)
{
    switch (dt) {
    case EIN_F32: return 4;
    case EIN_F64: return 8;
    }
    return 0;
}

bool ein_mul_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

void ein_c_strides(int nd, const int64_t *shape, int64_t *s)
{
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        s[d] = acc;
        acc *= shape[d] > 0 ? shape[d] : 1;
    }
}

const char *ein_label_name(int id, char buf[16])
{
    if (id < 26)
        snprintf(buf, 16, "%c", 'A' + id);
    else if (id < EIN_NLETTERS)
        snprintf(buf, 16, "%c", 'a' + (id - 26));
    else
        snprintf(buf, 16, "...%d", id - EIN_ELL_BASE);
    return buf;
}
