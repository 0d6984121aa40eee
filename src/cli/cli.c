/* cli.c — the einsum program: parse the command line, load the .npy
 * operands, plan and run once through the public API, then save the result
 * or print it exactly as numpy's repr() would (so outputs can be diffed
 * against Python sessions). */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "repl.h"

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
/* numbers, after numpy's FloatingFormat (arrayprint.py) with its default
 * options: floatmode 'maxprec', precision 8, sign '-', suppress False.   */

#define PRECISION 8
#define EDGEITEMS 3
#define THRESHOLD 1000
#define LINEWIDTH 75

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
 * PRECISION digits (rounded there when the shortest form is longer) and
 * without trailing zeros, like dragon4_positional(unique, trim='.'). */
static void positional(double ax, int f32, char *ip, size_t icap, char *fp, size_t fcap)
{
    decimal d;
    shortest(ax, f32, &d);
    int frac = d.n - 1 - d.e10;
    if (frac > PRECISION) {
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", PRECISION, ax);
        char *dot = strchr(buf, '.');
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

/* Scientific digits of |x|: shortest, but at most 1 + PRECISION
 * significant digits. */
static void scientific(double ax, int f32, decimal *d)
{
    shortest(ax, f32, d);
    if (d->n > PRECISION + 1) {
        char buf[48];
        snprintf(buf, sizeof buf, "%.*e", PRECISION, ax);
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
} view;

static double elem(const view *v, int64_t off)
{
    if (v->t->dtype == EIN_F32)
        return (double)((const float *)v->t->data)[off];
    return ((const double *)v->t->data)[off];
}

/* Visit the elements numpy would show (first and last EDGEITEMS of every
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
        if (v->summary && n > 2 * EDGEITEMS && i == EDGEITEMS)
            i = n - EDGEITEMS;
        visit(v, axis + 1, off + i * v->strides[axis], fn, ctx);
    }
}

typedef struct scan {
    int    f32;
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
        scientific(fabs(x), s->f32, &d);
        if (1 + sign > s->pad_left)
            s->pad_left = 1 + sign;
        if (d.n - 1 > s->precision)
            s->precision = d.n - 1;
        if (ndigits(d.e10) > s->exp_size)
            s->exp_size = ndigits(d.e10);
    } else {
        char ip[400], fp[64];
        positional(fabs(x), s->f32, ip, sizeof ip, fp, sizeof fp);
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
    ffmt f = { s.f32, s.exp, s.pad_left, s.pad_right, s.precision, s.exp_size };
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
        scientific(fabs(x), f->f32, &d);
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
    positional(fabs(x), f->f32, ip, sizeof ip, fp, sizeof fp);
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
    int summary = L->v->summary && n > 2 * EDGEITEMS;
    int64_t lead = summary ? EDGEITEMS : 0, trail = summary ? EDGEITEMS : n;
    int oom = 0;
    if (axes_left == 1) {
        size_t elem_width = width - 1;   /* room for ',' or ']' */
        sbuf line = { 0 };
        sb_rep(&line, ' ', indent);
        for (int64_t k = 0; k < lead + trail; k++) {
            int64_t i = k < lead ? k : n - (lead + trail - k);
            if (summary && k == lead) {
                extend_line(&s, &line, "...", elem_width, indent);
                sb_puts(&line, ", ");
            }
            char *w = item(L, axis, off, i, indent, width);
            if (!w) {
                oom = 1;
                break;
            }
            extend_line(&s, &line, w, elem_width, indent);
            free(w);
            if (k + 1 < lead + trail)
                sb_puts(&line, ", ");
        }
        if (line.p)
            sb_puts(&s, line.p);
        oom |= line.oom;
        free(line.p);
    } else {
        char sep[72];
        sep[0] = ',';
        memset(sep + 1, '\n', (size_t)axes_left - 1);
        sep[axes_left] = '\0';
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

char *cli_repr(const ein_tensor *t)
{
    if (!t || (t->dtype != EIN_F32 && t->dtype != EIN_F64) || t->ndim < 0 ||
        t->ndim > EIN_MAX_DIMS || (t->ndim && !t->shape))
        return NULL;
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
    v.summary = count > THRESHOLD;
    const char *dtype = t->dtype == EIN_F32 ? "float32" : "float64";
    /* float64 is numpy's default, so its repr omits the dtype unless the
     * array is empty */
    int show_dtype = t->dtype != EIN_F64 || count == 0;
    sbuf b = { 0 };
    sb_puts(&b, "array(");
    if (count == 0) {
        if (t->ndim == 1) {
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
        /* the suffix ")" or "," counts against the line width */
        char *body = recurse(&L, 0, 0, strlen("array(") + 1, LINEWIDTH - 1);
        if (!body) {
            free(b.p);
            return NULL;
        }
        sb_puts(&b, body);
        free(body);
    }
    if (!show_dtype) {
        sb_puts(&b, ")");
    } else {
        sb_puts(&b, ",");
        char d[32];
        snprintf(d, sizeof d, "dtype=%s)", dtype);
        const char *nl = b.p ? strrchr(b.p, '\n') : NULL;
        size_t last = nl ? b.n - (size_t)(nl + 1 - b.p) : b.n;
        if (last + strlen(d) + 1 > LINEWIDTH) {
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

/* ------------------------------------------------------------------ */
/* the program                                                         */

static const char usage_text[] =
    "usage: einsum EXPR IN0.npy [IN1.npy ...] [-o OUT.npy]\n"
    "       einsum --explain EXPR IN0.npy [IN1.npy ...]\n"
    "       einsum                       (REPL: statements from the terminal)\n"
    "       einsum SCRIPT.ein            (run REPL statements from a file)\n"
    "       einsum -h | --help | --version\n"
    "\n"
    "Evaluate the Einstein-summation expression EXPR (numpy.einsum syntax,\n"
    "e.g. 'ij,jk->ik') over the float32/float64 arrays in the .npy files.\n"
    "Without -o the result is printed as numpy's repr() prints it.\n"
    "\n"
    "  -o, --output OUT.npy   write the result to OUT.npy (replaced atomically;\n"
    "                         left untouched when anything fails)\n"
    "      --explain          print the plan instead of evaluating\n"
    "      --path ALGO        contraction order for 3+ operands: auto (default),\n"
    "                         greedy, optimal, branch, naive, or an explicit path\n"
    "                         of position pairs as numpy gives it: '0,1;0,1'\n"
    "      --memory-limit N   most bytes for intermediates and workspace\n"
    "                         (suffix K, M or G: powers of 1024)\n"
    "  -h, --help             show this help\n"
    "      --version          show the version\n"
    "      --                 end of options (for file names starting with '-')\n"
    "\n"
    "Exit status: 0 success, 1 failure (message on stderr), 2 bad usage.\n";

static void errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("einsum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("einsum: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'einsum --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* A library failure: ein_last_error() verbatim (it carries the column and
 * the caret line), or the status's name when it has nothing to add. */
static int library_error(ein_status st)
{
    const char *m = ein_last_error();
    if (m && *m) {
        size_t n = strlen(m);
        fprintf(stderr, "einsum: %s%s", m, m[n - 1] == '\n' ? "" : "\n");
    } else {
        errorf("%s", ein_status_str(st));
    }
    return CLI_EXIT_FAIL;
}

/* ---- path options (--path, --memory-limit) ---- */

static ein_options cli_opts;
static int32_t     cli_pairs[2 * EIN_MAX_OPERANDS];

int cli_set_options(const ein_options *o)
{
    memset(&cli_opts, 0, sizeof cli_opts);
    if (!o)
        return 0;
    if (o->path_pairs && (o->path_len < 0 || o->path_len > EIN_MAX_OPERANDS))
        return -1;
    cli_opts = *o;
    if (o->path_pairs) {
        memcpy(cli_pairs, o->path_pairs, (size_t)o->path_len * 2 * sizeof *cli_pairs);
        cli_opts.path_pairs = cli_pairs;
    }
    return 0;
}

int cli_parse_path(const char *s, ein_options *o, int32_t *pairs, int cap,
                   char *why, size_t whycap)
{
    static const char *const names[] = {"auto", "greedy", "optimal", "branch", "naive"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            o->path = (ein_path_algo)i;
            o->path_pairs = NULL;
            o->path_len = 0;
            return 0;
        }
    /* An explicit path: steps separated by ';', positions by ','. */
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n >= cap) {
            snprintf(why, whycap, "path '%s' has more than %d steps", s, cap);
            return -1;
        }
        char *end;
        long x = strtol(p, &end, 10), y = -1;
        if (end == p || x < 0 || x > INT32_MAX) {
            snprintf(why, whycap, "path '%s': step %d does not start with a position "
                     "(expected auto, greedy, optimal, branch, naive or pairs like "
                     "'0,1;0,1')", s, n);
            return -1;
        }
        p = end;
        if (*p == ',') {
            y = strtol(p + 1, &end, 10);
            if (end == p + 1 || y < -1 || y > INT32_MAX) {
                snprintf(why, whycap, "path '%s': step %d has no second position", s, n);
                return -1;
            }
            p = end;
        }
        if (*p != ';' && *p != '\0') {
            snprintf(why, whycap, "path '%s': unexpected '%c' in step %d", s, *p, n);
            return -1;
        }
        pairs[2 * n] = (int32_t)x;
        pairs[2 * n + 1] = (int32_t)y;
        n++;
        if (*p == ';')
            p++;
    }
    o->path_pairs = pairs;
    o->path_len = n;
    return 0;
}

int cli_parse_bytes(const char *s, int64_t *bytes, char *why, size_t whycap)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    else if (*end == 'T' || *end == 't') shift = 40;
    if (shift)
        end++;
    if (end == s || *end || v < 0 || errno || v > (INT64_MAX >> shift)) {
        snprintf(why, whycap, "'%s' is not a byte count (digits, then an optional "
                 "K, M or G)", s);
        return -1;
    }
    *bytes = (int64_t)v << shift;
    return 0;
}

typedef struct args {
    const char  *expr;
    const char  *out;
    const char **in;
    int          nin;
    int          explain;
    int          script;   /* expr is a SCRIPT.ein to run */
} args;

/* Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->in = calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->in);
    if (!a->in) {
        errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    int opts = 1, npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        /* An expression may start with "->" (a 0-d operand's term is
         * empty): no option does, so it is never taken for one. */
        if (opts && s[0] == '-' && s[1] != '\0' && s[1] != '>') {
            if (strcmp(s, "--") == 0) {
                opts = 0;
            } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
                fputs(usage_text, stdout);
                return CLI_EXIT_OK;
            } else if (strcmp(s, "--version") == 0) {
                printf("einsum %d.%d\n", EIN_VERSION_MAJOR, EIN_VERSION_MINOR);
                return CLI_EXIT_OK;
            } else if (strcmp(s, "--explain") == 0) {
                a->explain = 1;
            } else if (strcmp(s, "--path") == 0 || strncmp(s, "--path=", 7) == 0 ||
                       strcmp(s, "--memory-limit") == 0 ||
                       strncmp(s, "--memory-limit=", 15) == 0) {
                int is_path = s[2] == 'p';
                const char *v = strchr(s, '=');
                char name[32];
                snprintf(name, sizeof name, "%s", is_path ? "--path" : "--memory-limit");
                if (v) {
                    v++;
                } else {
                    if (i + 1 >= argc)
                        return usage_error("option '%s' needs a value", name);
                    v = argv[++i];
                }
                char why[256];
                int r = is_path ? cli_parse_path(v, &cli_opts, cli_pairs, EIN_MAX_OPERANDS,
                                                 why, sizeof why)
                                : cli_parse_bytes(v, &cli_opts.memory_limit, why, sizeof why);
                if (r < 0)
                    return usage_error("%s", why);
            } else if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0 ||
                       strncmp(s, "-o", 2) == 0 || strncmp(s, "--output=", 9) == 0) {
                const char *v;
                if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0) {
                    if (i + 1 >= argc)
                        return usage_error("option '%s' needs a file name", s);
                    v = argv[++i];
                } else {
                    v = s[1] == 'o' ? s + 2 : s + 9;
                }
                if (a->out)
                    return usage_error("option '%s' given twice", "-o");
                if (!*v)
                    return usage_error("option '%s' needs a file name", s);
                a->out = v;
            } else {
                return usage_error("unknown option '%s'", s);
            }
            continue;
        }
        if (npos++ == 0)
            a->expr = s;
        else
            a->in[a->nin++] = s;
    }
    if (!a->expr) {
        fputs(usage_text, stderr);
        return CLI_EXIT_USAGE;
    }
    size_t el = strlen(a->expr);
    if (a->nin == 0 && el > 4 && strcmp(a->expr + el - 4, ".ein") == 0 && !a->out &&
        !a->explain) {
        a->script = 1;
        return -1;
    }
    if (a->nin == 0)
        return usage_error("no input files after '%s'", a->expr);
    if (a->explain && a->out)
        return usage_error("%s: --explain prints the plan and writes no file", "-o");
    if (a->nin > EIN_MAX_OPERANDS) {
        errorf("%d operands; einsum takes at most %d", a->nin, EIN_MAX_OPERANDS);
        return CLI_EXIT_FAIL;
    }
    return -1;
}

static int print_explain(const ein_plan *plan)
{
    size_t need = ein_plan_explain(plan, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf) {
        errorf("out of memory");
        return -1;
    }
    ein_plan_explain(plan, buf, need + 1);
    buf[need] = '\0';
    fputs(buf, stdout);
    if (need == 0 || buf[need - 1] != '\n')
        fputc('\n', stdout);
    free(buf);
    return 0;
}

int cli_explain(const char *expr, int n, const ein_tensor *const *ops)
{
    ein_status st = EIN_OK;
    ein_plan *plan = ein_plan_new(expr, n, ops, NULL, &cli_opts, &st);
    if (!plan) {
        library_error(st != EIN_OK ? st : EIN_ERR_ARG);
        return -1;
    }
    int r = print_explain(plan);
    ein_plan_free(plan);
    return r;
}

int cli_einsum(const char *expr, int n, const ein_tensor *const *ops, npy_array *res)
{
    memset(res, 0, sizeof *res);
    ein_status st = EIN_OK;
    ein_plan *plan = ein_plan_new(expr, n, ops, NULL, &cli_opts, &st);
    if (!plan) {
        library_error(st != EIN_OK ? st : EIN_ERR_ARG);
        return -1;
    }
    ein_dtype dt = EIN_F64;
    int32_t ndim = ein_plan_result(plan, &dt, res->shape);
    if (ndim < 0 || ndim > EIN_MAX_DIMS || (dt != EIN_F32 && dt != EIN_F64)) {
        ein_plan_free(plan);
        errorf("the plan describes an unusable result (rank %d, dtype %d)", (int)ndim, (int)dt);
        return -1;
    }
    /* the C-order strides the plan targets; zero extents count as one so
     * the strides stay meaningful */
    size_t esize = dt == EIN_F32 ? 4 : 8;
    uint64_t count = 1, bound = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        uint64_t e = (uint64_t)res->shape[i];
        if (res->shape[i] < 0 || bound > ((SIZE_MAX - 64) / esize) / (e ? e : 1)) {
            ein_plan_free(plan);
            errorf("the result is too large to allocate");
            return -1;
        }
        res->strides[i] = (int64_t)bound;
        bound *= e ? e : 1;
        count *= e;
    }
    size_t bytes = (size_t)count * esize;
    size_t rounded = (bytes + 63) / 64 * 64;
    void *data = aligned_alloc(64, rounded ? rounded : 64);
    if (!data) {
        ein_plan_free(plan);
        errorf("out of memory: the result needs %zu bytes", bytes);
        return -1;
    }
    ein_tensor out = { data, dt, ndim, res->shape, NULL };
    st = ein_execute(plan, ops, &out);
    ein_plan_free(plan);
    if (st != EIN_OK) {
        free(data);
        library_error(st);
        return -1;
    }
    res->data = data;
    res->dtype = dt;
    res->ndim = ndim;
    res->count = (int64_t)count;
    return 0;
}

int cli_print(const ein_tensor *t)
{
    char *text = cli_repr(t);
    if (!text) {
        errorf("out of memory formatting the result");
        return -1;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return 0;
}

/* Plan, run, and save or print; the inputs are already loaded. */
static int evaluate(const args *a, const ein_tensor *const *ops)
{
    if (a->explain)
        return cli_explain(a->expr, a->nin, ops) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    npy_array res;
    if (cli_einsum(a->expr, a->nin, ops, &res) < 0)
        return CLI_EXIT_FAIL;
    ein_tensor out = npy_tensor(&res);
    int rc = CLI_EXIT_OK;
    if (a->out) {
        char msg[1024];
        if (npy_write_file(a->out, &out, msg, sizeof msg) < 0) {
            errorf("%s", msg);
            rc = CLI_EXIT_FAIL;
        }
    } else if (cli_print(&out) < 0) {
        rc = CLI_EXIT_FAIL;
    }
    npy_free(&res);
    return rc;
}

int cli_main(int argc, char **argv)
{
    if (argc <= 1)   /* the REPL; prompts only when a person is typing */
        return cli_repl(stdin, "<stdin>", isatty(STDIN_FILENO));
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        free(a.in);
        return rc;
    }
    if (a.script) {
        FILE *fp = fopen(a.expr, "r");
        if (!fp) {
            errorf("%s: cannot open: %s", a.expr, strerror(errno));
            rc = CLI_EXIT_FAIL;
        } else {
            rc = cli_repl(fp, a.expr, 0);
            fclose(fp);
        }
        free(a.in);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            errorf("error writing to standard output");
            rc = CLI_EXIT_FAIL;
        }
        return rc;
    }

    npy_array *arrs = calloc((size_t)a.nin, sizeof *arrs);
    ein_tensor *ts = calloc((size_t)a.nin, sizeof *ts);
    const ein_tensor **ops = calloc((size_t)a.nin, sizeof *ops);
    int loaded = 0;
    if (!arrs || !ts || !ops) {
        errorf("out of memory");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    for (; loaded < a.nin; loaded++) {
        char msg[1024];
        if (npy_read_file(a.in[loaded], &arrs[loaded], msg, sizeof msg) < 0) {
            errorf("%s", msg);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        ts[loaded] = npy_tensor(&arrs[loaded]);
        ops[loaded] = &ts[loaded];
    }
    rc = evaluate(&a, ops);

    /* A result nobody received is a failure: a full disk or a closed pipe
     * on stdout must not exit 0. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("error writing to standard output");
        rc = CLI_EXIT_FAIL;
    }
done:
    for (int i = 0; i < loaded; i++)
        npy_free(&arrs[i]);
    free(arrs);
    free(ts);
    free(ops);
    free(a.in);
    return rc;
}
