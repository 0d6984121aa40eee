/* print.c — tensors as numpy prints them: repr() (`array([...], dtype=...)`)
 * and str() (`[[1. 2.] [3. 4.]]`), with numpy's float formatting,
 * alignment, line wrapping and `...` summaries, for the CLI and the REPL.
 * Moved here from cli.c so both share one printer; print options are
 * parameters instead of numpy's defaults fixed at compile time. */
#define _POSIX_C_SOURCE 200809L

#include "print.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* a growable string                                                   */

typedef struct sbuf {
    char  *p;
    size_t n, cap;
    int    oom;
} sbuf;

static void sb_grow(sbuf *b, size_t more)
{
    if (b->oom)
        return;
    if (b->n + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_rep(sbuf *b, char c, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memset(b->p + b->n, c, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* ------------------------------------------------------------------ */
/* numbers, after numpy's FloatingFormat (arrayprint.py): floatmode
 * 'maxprec', sign '-', suppress False; precision from print_opts.       */


/* One finite |x| as decimal digits: digits without a point, count, and the
 * power of ten of the first digit. */
typedef struct decimal {
    char dig[24];
    int  n;
    int  e10;
} decimal;

static void parse_e(const char *s, decimal *d)
{
    d->n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && d->n < (int)sizeof d->dig - 1)
            d->dig[d->n++] = *s;
    d->e10 = *s == 'e' ? atoi(s + 1) : 0;
    while (d->n > 1 && d->dig[d->n - 1] == '0')   /* 1.50e+00 -> "15" */
        d->n--;
    d->dig[d->n] = '\0';
}

/* The fewest significant digits that read back as x in its own type, which
 * is what numpy's Dragon4 'unique' mode prints (0.1f is "0.1", not
 * "0.100000001").  Correctly rounded printf at growing precision finds the
 * same digits. */
static void shortest(double ax, int f32, decimal *d)
{
    char buf[48];
    int maxp = f32 ? 9 : 17;
    for (int p = 1; p <= maxp; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, ax);
        if (f32 ? strtof(buf, NULL) == (float)ax : strtod(buf, NULL) == ax)
            break;
    }
    parse_e(buf, d);
}

/* Positional text of |x|: integer part and fraction, the fraction at most
 * prec digits (rounded there when the shortest form is longer) and
 * without trailing zeros, like dragon4_positional(unique, trim='.'). */
static void positional(double ax, int f32, int prec, char *ip, size_t icap, char *fp,
                       size_t fcap)
{
    decimal d;
    shortest(ax, f32, &d);
    int frac = d.n - 1 - d.e10;
    if (frac > prec) {
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", prec, ax);
        char *dot = strchr(buf, '.');
        if (!dot) {   /* precision 0: "%.0f" has no point and no fraction */
            snprintf(ip, icap, "%s", buf);
            fp[0] = '\0';
            return;
        }
        *dot = '\0';
        snprintf(ip, icap, "%s", buf);
        size_t fl = strlen(dot + 1);
        while (fl > 0 && dot[fl] == '0')
            dot[fl--] = '\0';
        snprintf(fp, fcap, "%s", dot + 1);
        return;
    }
    if (d.e10 > d.n - 1) {
        /* numpy prints at least every integer digit of the exact value
         * (its min_digits=0), so float32 91709296 is not 91709300. */
        snprintf(ip, icap, "%.0f", ax);
        fp[0] = '\0';
        return;
    }
    size_t k = 0;
    if (d.e10 < 0) {
        ip[k++] = '0';
    } else {
        for (int i = 0; i <= d.e10 && k + 1 < icap; i++)
            ip[k++] = i < d.n ? d.dig[i] : '0';
    }
    ip[k] = '\0';
    k = 0;
    for (int i = -1; i > d.e10 && k + 1 < fcap; i--)
        fp[k++] = '0';
    for (int i = d.e10 < 0 ? 0 : d.e10 + 1; i < d.n && k + 1 < fcap; i++)
        fp[k++] = d.dig[i];
    fp[k] = '\0';
}

/* Scientific digits of |x|: shortest, but at most 1 + prec significant
 * digits. */
static void scientific(double ax, int f32, int prec, decimal *d)
{
    shortest(ax, f32, d);
    if (d->n > prec + 1) {
        char buf[48];
        snprintf(buf, sizeof buf, "%.*e", prec, ax);
        parse_e(buf, d);
    }
}

static int ndigits(int v)
{
    int n = 1;
    for (v = abs(v); v >= 10; v /= 10)
        n++;
    return n;
}

typedef struct ffmt {
    int f32;
    int prec;        /* print_opts.precision */
    int exp;         /* scientific notation for the whole array */
    int pad_left;    /* characters before the '.' */
    int pad_right;   /* characters after it */
    int precision;   /* scientific: fraction digits every value shows */
    int exp_size;    /* scientific: exponent digits, at least 2 */
} ffmt;

/* Element access through the strides. */
typedef struct view {
    const ein_tensor *t;
    int64_t strides[EIN_MAX_DIMS];
    int     summary;
    int64_t edge;      /* print_opts.edgeitems */
    int     prec;
    const char *sep;   /* between elements: ", " (repr) or " " (str) */
} view;

static double elem(const view *v, int64_t off)
{
    if (v->t->dtype == EIN_F32)
        return (double)((const float *)v->t->data)[off];
    return ((const double *)v->t->data)[off];
}

/* Visit the elements numpy would show (first and last edgeitems of every
 * long axis when summarising): numpy fits the format to those alone. */
typedef void (*visit_fn)(void *ctx, double x);

static void visit(const view *v, int axis, int64_t off, visit_fn fn, void *ctx)
{
    const ein_tensor *t = v->t;
    if (axis == t->ndim) {
        fn(ctx, elem(v, off));
        return;
    }
    int64_t n = t->shape[axis];
    for (int64_t i = 0; i < n; i++) {
        if (v->summary && n > 2 * v->edge && i == v->edge)
            i = n - v->edge;
        visit(v, axis + 1, off + i * v->strides[axis], fn, ctx);
    }
}

typedef struct scan {
    int    f32, prec;
    int    any_finite, any_nonzero, any_nonfinite, neg_inf;
    double max_abs, min_abs;
    /* second pass */
    int    exp;
    int    pad_left, pad_right, precision, exp_size;
} scan;

static void scan_range(void *ctx, double x)
{
    scan *s = ctx;
    if (!isfinite(x)) {
        s->any_nonfinite = 1;
        if (isinf(x) && x < 0)
            s->neg_inf = 1;
        return;
    }
    s->any_finite = 1;
    double a = fabs(x);
    if (a == 0)
        return;
    if (!s->any_nonzero || a > s->max_abs)
        s->max_abs = a;
    if (!s->any_nonzero || a < s->min_abs)
        s->min_abs = a;
    s->any_nonzero = 1;
}

static void scan_widths(void *ctx, double x)
{
    scan *s = ctx;
    if (!isfinite(x))
        return;
    int sign = signbit(x) ? 1 : 0;
    if (s->exp) {
        decimal d;
        scientific(fabs(x), s->f32, s->prec, &d);
        if (1 + sign > s->pad_left)
            s->pad_left = 1 + sign;
        if (d.n - 1 > s->precision)
            s->precision = d.n - 1;
        if (ndigits(d.e10) > s->exp_size)
            s->exp_size = ndigits(d.e10);
    } else {
        char ip[400], fp[64];
        positional(fabs(x), s->f32, s->prec, ip, sizeof ip, fp, sizeof fp);
        int l = (int)strlen(ip) + sign, r = (int)strlen(fp);
        if (l > s->pad_left)
            s->pad_left = l;
        if (r > s->pad_right)
            s->pad_right = r;
    }
}

static ffmt fit_format(const view *v)
{
    scan s;
    memset(&s, 0, sizeof s);
    s.f32 = v->t->dtype == EIN_F32;
    s.prec = v->prec;
    visit(v, 0, 0, scan_range, &s);
    if (s.any_nonzero) {
        /* numpy compares against Python floats (in double) but divides two
         * float32 scalars in float32. */
        double ratio = s.f32 ? (double)((float)s.max_abs / (float)s.min_abs)
                             : s.max_abs / s.min_abs;
        s.exp = s.max_abs >= 1e8 || s.min_abs < 1e-4 || ratio > 1e3;
    }
    if (s.any_finite) {
        s.exp_size = 2;
        visit(v, 0, 0, scan_widths, &s);
        if (s.exp)
            s.pad_right = s.exp_size + 2 + s.precision;
    }
    if (s.any_nonfinite) {
        int offset = s.pad_right + 1;
        int nanl = 3 - offset, infl = 3 + s.neg_inf - offset;
        if (nanl > s.pad_left)
            s.pad_left = nanl;
        if (infl > s.pad_left)
            s.pad_left = infl;
    }
    ffmt f = { s.f32, s.prec, s.exp, s.pad_left, s.pad_right, s.precision, s.exp_size };
    return f;
}

static void format_value(sbuf *b, const ffmt *f, double x)
{
    if (!isfinite(x)) {
        const char *r = isnan(x) ? "nan" : x < 0 ? "-inf" : "inf";
        int w = f->pad_left + f->pad_right + 1 - (int)strlen(r);
        sb_rep(b, ' ', w > 0 ? (size_t)w : 0);
        sb_puts(b, r);
        return;
    }
    const char *sign = signbit(x) ? "-" : "";
    if (f->exp) {
        decimal d;
        scientific(fabs(x), f->f32, f->prec, &d);
        if (d.n - 1 < f->precision) {
            /* numpy's min_digits: the extra digits are the exact value's
             * own, not zeros (float32 0.5444624e-4 shows as 5.4446238e-05
             * beside values needing 8 digits) */
            char buf[48];
            snprintf(buf, sizeof buf, "%.*e", f->precision, fabs(x));
            parse_e(buf, &d);
        }
        int w = f->pad_left - 1 - (int)strlen(sign);
        sb_rep(b, ' ', w > 0 ? (size_t)w : 0);
        sb_puts(b, sign);
        sb_putn(b, d.dig, 1);
        sb_puts(b, ".");
        sb_putn(b, d.dig + 1, (size_t)(d.n - 1));
        sb_rep(b, '0', (size_t)(f->precision - (d.n - 1)));
        char e[16];
        snprintf(e, sizeof e, "e%c%0*d", d.e10 < 0 ? '-' : '+', f->exp_size, abs(d.e10));
        sb_puts(b, e);
        return;
    }
    char ip[400], fp[64];
    positional(fabs(x), f->f32, f->prec, ip, sizeof ip, fp, sizeof fp);
    int w = f->pad_left - (int)strlen(ip) - (int)strlen(sign);
    sb_rep(b, ' ', w > 0 ? (size_t)w : 0);
    sb_puts(b, sign);
    sb_puts(b, ip);
    sb_puts(b, ".");
    sb_puts(b, fp);
    w = f->pad_right - (int)strlen(fp);
    sb_rep(b, ' ', w > 0 ? (size_t)w : 0);
}

/* ------------------------------------------------------------------ */
/* layout, after numpy's _formatArray (legacy=False): rows wrap at the
 * line width, a blank line per extra axis between blocks, '...' rows and
 * columns when summarising.                                            */

typedef struct layout {
    const view *v;
    ffmt        f;
} layout;

/* numpy's _extendLine: wrap before `word` unless the line holds only the
 * indent (wrapping would not help). */
static void extend_line(sbuf *s, sbuf *line, const char *word, size_t width,
                        size_t indent)
{
    size_t wl = strlen(word);
    if (line->n + wl > width && line->n > indent) {
        size_t n = line->n;
        while (n > 0 && line->p[n - 1] == ' ')
            n--;
        sb_putn(s, line->p, n);
        sb_puts(s, "\n");
        line->n = 0;
        sb_rep(line, ' ', indent);
    }
    sb_puts(line, word);
}

static char *recurse(const layout *L, int axis, int64_t off, size_t indent, size_t width);

static char *item(const layout *L, int axis, int64_t off, int64_t i, size_t indent,
                  size_t width)
{
    return recurse(L, axis + 1, off + i * L->v->strides[axis], indent + 1, width - 1);
}

/* The text of the sub-array at `off` from `axis` on; `indent` is the
 * hanging indent (spaces) of its first line, `width` the usable width. */
static char *recurse(const layout *L, int axis, int64_t off, size_t indent, size_t width)
{
    const ein_tensor *t = L->v->t;
    sbuf s = { 0 };
    if (axis == t->ndim) {
        format_value(&s, &L->f, elem(L->v, off));
        if (!s.p)
            s.p = calloc(1, 1);
        return s.oom ? (free(s.p), NULL) : s.p;
    }
    int axes_left = t->ndim - axis;
    int64_t n = t->shape[axis];
    int64_t edge = L->v->edge;
    int summary = L->v->summary && n > 2 * edge;
    int64_t lead = summary ? edge : 0, trail = summary ? edge : n;
    int oom = 0;
    if (axes_left == 1) {
        size_t elem_width = width - 1;   /* room for ',' or ']' */
        sbuf line = { 0 };
        sb_rep(&line, ' ', indent);
        for (int64_t k = 0; k < lead + trail; k++) {
            int64_t i = k < lead ? k : n - (lead + trail - k);
            if (summary && k == lead) {
                extend_line(&s, &line, "...", elem_width, indent);
                sb_puts(&line, L->v->sep);
            }
            char *w = item(L, axis, off, i, indent, width);
            if (!w) {
                oom = 1;
                break;
            }
            extend_line(&s, &line, w, elem_width, indent);
            free(w);
            if (k + 1 < lead + trail)
                sb_puts(&line, L->v->sep);
        }
        if (line.p)
            sb_puts(&s, line.p);
        oom |= line.oom;
        free(line.p);
    } else {
        /* numpy: the separator without its trailing blank, then a newline
         * per axis left below this one */
        char sep[72];
        size_t c = L->v->sep[0] == ',' ? 1 : 0;
        sep[0] = ',';
        memset(sep + c, '\n', (size_t)axes_left - 1);
        sep[c + (size_t)axes_left - 1] = '\0';
        for (int64_t k = 0; k < lead + trail; k++) {
            int64_t i = k < lead ? k : n - (lead + trail - k);
            if (summary && k == lead) {
                sb_rep(&s, ' ', indent);
                sb_puts(&s, "...");
                sb_puts(&s, sep);
            }
            char *w = item(L, axis, off, i, indent, width);
            if (!w) {
                oom = 1;
                break;
            }
            sb_rep(&s, ' ', indent);
            sb_puts(&s, w);
            free(w);
            if (k + 1 < lead + trail)
                sb_puts(&s, sep);
        }
    }
    /* '[' replaces the hanging indent of the first line */
    sbuf r = { 0 };
    sb_puts(&r, "[");
    if (s.p && s.n >= indent)
        sb_puts(&r, s.p + indent);
    sb_puts(&r, "]");
    oom |= s.oom | r.oom;
    free(s.p);
    if (oom) {
        free(r.p);
        return NULL;
    }
    return r.p;
}

/* Python's repr() of a float: the shortest round-trip digits,
 * positional from 1e-4 up to 1e16 (with ".0" when integral), otherwise
 * scientific with at least two exponent digits. */
void print_pyfloat(char *buf, size_t cap, double x, int f32)
{
    if (isnan(x)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, cap, "%sinf", x < 0 ? "-" : "");
        return;
    }
    const char *sign = signbit(x) ? "-" : "";
    if (x == 0) {
        snprintf(buf, cap, "%s0.0", sign);
        return;
    }
    decimal d;
    shortest(fabs(x), f32, &d);
    char body[64];
    size_t k = 0;
    if (d.e10 >= -4 && d.e10 < 16) {
        if (d.e10 < 0) {
            body[k++] = '0';
            body[k++] = '.';
            for (int i = -1; i > d.e10; i--)
                body[k++] = '0';
            for (int i = 0; i < d.n; i++)
                body[k++] = d.dig[i];
        } else {
            for (int i = 0; i <= d.e10; i++)
                body[k++] = i < d.n ? d.dig[i] : '0';
            body[k++] = '.';
            if (d.n - 1 <= d.e10)
                body[k++] = '0';
            for (int i = d.e10 + 1; i < d.n; i++)
                body[k++] = d.dig[i];
        }
        body[k] = '\0';
    } else {
        body[k++] = d.dig[0];
        if (d.n > 1) {
            body[k++] = '.';
            for (int i = 1; i < d.n; i++)
                body[k++] = d.dig[i];
        }
        snprintf(body + k, sizeof body - k, "e%c%02d", d.e10 < 0 ? '-' : '+', abs(d.e10));
    }
    snprintf(buf, cap, "%s%s", sign, body);
}

const print_opts print_defaults = { 8, 1000, 3, 75 };

char *print_tensor(const ein_tensor *t, const print_opts *o, int repr)
{
    if (!t || (t->dtype != EIN_F32 && t->dtype != EIN_F64) || t->ndim < 0 ||
        t->ndim > EIN_MAX_DIMS || (t->ndim && !t->shape))
        return NULL;
    if (!o)
        o = &print_defaults;
    view v;
    v.t = t;
    int64_t count = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] < 0)
            return NULL;
        v.strides[i] = t->strides ? t->strides[i] : count;
        count *= t->shape[i];
    }
    if (count > 0 && !t->data)
        return NULL;
    v.summary = count > o->threshold;
    v.edge = o->edgeitems;
    v.prec = o->precision;
    v.sep = repr ? ", " : " ";
    sbuf b = { 0 };
    if (!repr && t->ndim == 0) {
        /* str() of a 0-d array is str() of its scalar */
        char num[64];
        print_pyfloat(num, sizeof num, elem(&v, 0), t->dtype == EIN_F32);
        sb_puts(&b, num);
        return b.oom ? (free(b.p), NULL) : b.p;
    }
    const char *dtype = t->dtype == EIN_F32 ? "float32" : "float64";
    /* float64 is numpy's default, so its repr omits the dtype unless the
     * array is empty */
    int show_dtype = t->dtype != EIN_F64 || count == 0;
    const char *prefix = repr ? "array(" : "";
    sb_puts(&b, prefix);
    if (count == 0) {
        if (t->ndim == 1 || !repr) {
            sb_puts(&b, "[]");
        } else {
            sb_puts(&b, "[], shape=(");
            for (int i = 0; i < t->ndim; i++) {
                char e[32];
                snprintf(e, sizeof e, "%s%" PRId64, i ? ", " : "", t->shape[i]);
                sb_puts(&b, e);
            }
            sb_puts(&b, t->ndim == 1 ? ",)" : ")");
        }
    } else {
        layout L = { &v, fit_format(&v) };
        /* repr's suffix ")" or "," counts against the line width */
        char *body = recurse(&L, 0, 0, strlen(prefix) + 1,
                             (size_t)o->linewidth - (repr ? 1 : 0));
        if (!body) {
            free(b.p);
            return NULL;
        }
        sb_puts(&b, body);
        free(body);
    }
    if (!repr) {
        /* nothing follows str()'s text */
    } else if (!show_dtype) {
        sb_puts(&b, ")");
    } else {
        sb_puts(&b, ",");
        char d[32];
        snprintf(d, sizeof d, "dtype=%s)", dtype);
        const char *nl = b.p ? strrchr(b.p, '\n') : NULL;
        size_t last = nl ? b.n - (size_t)(nl + 1 - b.p) : b.n;
        if (last + strlen(d) + 1 > (size_t)o->linewidth) {
            sb_puts(&b, "\n");
            sb_rep(&b, ' ', strlen("array("));
        } else {
            sb_puts(&b, " ");
        }
        sb_puts(&b, d);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *cli_repr(const ein_tensor *t)
{
    return print_tensor(t, &print_defaults, 1);
}
