/* spec.c — a workload's problem as data: shapes, dtype, storage orders
 * (transposed views), its one-line text form for the peer child, and the
 * operand buffers with the strided views einsum and the peers read. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "internal.h"

void *bn_alloc(size_t bytes)
{
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0)
        return NULL;
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

static void identity(bn_spec *s, int t)
{
    for (int d = 0; d < BN_MAXDIM; d++)
        s->perm[t][d] = d;
}

bool bn_spec_parse_shapes(bn_spec *s, const char *shapes, const char *storage,
                          char *why, size_t cap)
{
    s->nops = 0;
    const char *p = shapes;
    while (*p) {
        if (s->nops == BN_MAXOPS) {
            snprintf(why, cap, "more than %d operands in '%s'", BN_MAXOPS, shapes);
            return false;
        }
        int t = s->nops++;
        s->ndim[t] = 0;
        identity(s, t);
        /* "" or "-" between commas is a scalar (rank 0). */
        if (*p == '-')
            p++;
        while (*p && *p != ',') {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p || v < 0 || s->ndim[t] == BN_MAXDIM) {
                snprintf(why, cap, "bad shape at '%s' (want e.g. 512x512,512)", p);
                return false;
            }
            s->shape[t][s->ndim[t]++] = v;
            p = end;
            if (*p == 'x')
                p++;
        }
        if (*p == ',')
            p++;
    }
    if (!storage || !*storage)
        return true;
    p = storage;
    for (int t = 0; t < s->nops; t++) {
        if (*p == '-') {
            p++;
        } else {
            bool seen[BN_MAXDIM] = {false};
            for (int d = 0; d < s->ndim[t]; d++) {
                int v = *p - '0';
                if (v < 0 || v >= s->ndim[t] || seen[v]) {
                    snprintf(why, cap, "operand %d: storage order must permute 0..%d",
                             t, s->ndim[t] - 1);
                    return false;
                }
                seen[v] = true;
                s->perm[t][d] = v;
                p++;
            }
        }
        if (*p == ',')
            p++;
    }
    return true;
}

bool bn_spec_storage_letters(bn_spec *s, const char *letters, char *why,
                             size_t cap)
{
    ein_expr e;
    if (ein_parse(s->expr, &e) != EIN_OK) {
        snprintf(why, cap, "%s", ein_last_error());
        return false;
    }
    bool ok = true;
    const char *p = letters;
    for (int t = 0; t < s->nops && ok; t++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || (len == 1 && *p == '-')) {
            identity(s, t);
        } else if (t >= e.nops || e.in[t].ell >= 0 || (int)len != e.in[t].n ||
                   e.in[t].n > BN_MAXDIM) {
            snprintf(why, cap, "storage for operand %d must permute its letters", t);
            ok = false;
        } else {
            bool seen[BN_MAXDIM] = {false};
            for (size_t i = 0; i < len && ok; i++) {
                int found = -1;
                for (int d = 0; d < e.in[t].n; d++) {
                    char nb[16];
                    if (ein_label_name(e.in[t].label[d], nb)[0] == p[i] && !seen[d]) {
                        found = d;
                        break;
                    }
                }
                if (found < 0) {
                    snprintf(why, cap, "storage '%.*s' is not a permutation of operand %d's letters",
                             (int)len, p, t);
                    ok = false;
                } else {
                    seen[found] = true;
                    s->perm[t][i] = found;
                }
            }
        }
        p = end ? end + 1 : p + len;
    }
    ein_expr_free(&e);
    return ok;
}

void bn_spec_encode(const bn_spec *s, char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(...) do { int k_ = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
                      if (k_ > 0) n += (size_t)k_; } while (0)
    PUT("%s %s ", s->dtype == EIN_F64 ? "f64" : "f32", s->expr);
    for (int t = 0; t < s->nops; t++) {
        if (t)
            PUT(",");
        if (s->ndim[t] == 0)
            PUT("-");
        for (int d = 0; d < s->ndim[t]; d++)
            PUT("%s%lld", d ? "x" : "", (long long)s->shape[t][d]);
    }
    PUT(" ");
    for (int t = 0; t < s->nops; t++) {
        if (t)
            PUT(",");
        if (s->ndim[t] == 0)
            PUT("-");
        for (int d = 0; d < s->ndim[t]; d++)
            PUT("%d", s->perm[t][d]);
    }
#undef PUT
}

bool bn_spec_decode(bn_spec *s, const char *text)
{
    char dt[8], expr[128], shapes[512], storage[256];
    memset(s, 0, sizeof *s);
    if (sscanf(text, "%7s %127s %511s %255s", dt, expr, shapes, storage) != 4)
        return false;
    s->dtype = strcmp(dt, "f64") == 0 ? EIN_F64 : EIN_F32;
    snprintf(s->expr, sizeof s->expr, "%s", expr);
    char why[128];
    return bn_spec_parse_shapes(s, shapes, storage, why, sizeof why);
}

void bn_spec_describe(const bn_spec *s, char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(...) do { int k_ = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
                      if (k_ > 0) n += (size_t)k_; } while (0)
    for (int t = 0; t < s->nops; t++) {
        PUT("%s", t ? "," : "");
        for (int d = 0; d < s->ndim[t]; d++)
            PUT("%s%lld", d ? "x" : "", (long long)s->shape[t][d]);
    }
    PUT(" %s", s->dtype == EIN_F64 ? "f64" : "f32");
    bool any = false;
    for (int t = 0; t < s->nops; t++)
        for (int d = 0; d < s->ndim[t]; d++)
            any |= s->perm[t][d] != d;
    if (any) {
        PUT(" stored ");
        for (int t = 0; t < s->nops; t++) {
            PUT("%s", t ? "," : "");
            for (int d = 0; d < s->ndim[t]; d++)
                PUT("%d", s->perm[t][d]);
        }
    }
#undef PUT
}

/* xorshift64*: deterministic fill, values in [-1, 1). */
static double next_unit(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    uint64_t r = *x * 0x2545F4914F6CDD1DULL;
    return (double)(r >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

bool bn_operands_alloc(bn_operands *o, const bn_spec *s, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    o->nops = s->nops;
    size_t es = ein_dtype_size(s->dtype);
    uint64_t x = seed | 1;
    for (int t = 0; t < s->nops; t++) {
        size_t n = 1;
        for (int d = 0; d < s->ndim[t]; d++) {
            o->shape[t][d] = s->shape[t][d];
            n *= (size_t)s->shape[t][d];
        }
        /* Strides follow the storage order: the last dimension in it is
         * contiguous. */
        int64_t st = 1;
        for (int i = s->ndim[t] - 1; i >= 0; i--) {
            int d = s->perm[t][i];
            o->stride[t][d] = st;
            st *= s->shape[t][d] > 0 ? s->shape[t][d] : 1;
        }
        o->buf[t] = bn_alloc(n * es);
        if (!o->buf[t]) {
            bn_operands_free(o);
            return false;
        }
        if (s->dtype == EIN_F64) {
            double *v = o->buf[t];
            for (size_t i = 0; i < n; i++)
                v[i] = next_unit(&x);
        } else {
            float *v = o->buf[t];
            for (size_t i = 0; i < n; i++)
                v[i] = (float)next_unit(&x);
        }
        o->bytes += n * es;
        o->op[t] = (ein_tensor){o->buf[t], s->dtype, s->ndim[t], o->shape[t],
                                o->stride[t]};
        o->opp[t] = &o->op[t];
    }
    return true;
}

void bn_operands_free(bn_operands *o)
{
    for (int t = 0; t < BN_MAXOPS; t++) {
        free(o->buf[t]);
        o->buf[t] = NULL;
    }
}

bool bn_output_alloc(bn_output *o, ein_dtype dt, int ndim, const int64_t *shape)
{
    memset(o, 0, sizeof *o);
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        o->shape[d] = shape[d];
        n *= (size_t)shape[d];
    }
    o->bytes = n * ein_dtype_size(dt);
    o->buf = bn_alloc(o->bytes);
    o->t = (ein_tensor){o->buf, dt, ndim, o->shape, NULL};
    return o->buf != NULL;
}

void bn_output_free(bn_output *o)
{
    free(o->buf);
    o->buf = NULL;
}
