/* npy.c — the .npy reader and writer behind the einsum program.
 *
 * Files are untrusted input: every length, extent and product is checked
 * before it is used, and each refusal says which file and what is wrong. */
#define _POSIX_C_SOURCE 200809L

#include "npy.h"
#include "../alloc.h"   /* the library's funnel: its test hook fails allocations here too */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN     64      /* np.save aligns the data to 64 bytes */

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static int fail(char *msg, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap_bytes(void *data, int64_t count, size_t size)
{
    unsigned char *p = data;
    for (int64_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* numpy's repr of a shape tuple: "()", "(3,)", "(2, 3)". */
static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = 0;
    n += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64,
                              i ? ", " : "", shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

/* Allocation size rounded up to the alignment, which aligned_alloc needs;
 * never 0, so an empty array still has a non-NULL data pointer. */
static void *alloc_data(size_t nbytes)
{
    if (nbytes > SIZE_MAX - NPY_ALIGN)
        return NULL;
    size_t n = (nbytes + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    return ein_aligned(NPY_ALIGN, n ? n : NPY_ALIGN);
}

/* ------------------------------------------------------------------ */
/* byte sources: a FILE or a buffer, so both readers share one parser  */

typedef struct source {
    FILE                *fp;
    const unsigned char *mem;
    size_t               len, pos;
    int64_t              size;    /* total bytes, or -1 when unknown (a pipe) */
} source;

static size_t src_read(source *s, void *dst, size_t n)
{
    if (s->fp)
        return fread(dst, 1, n, s->fp);
    size_t left = s->len - s->pos;
    if (n > left)
        n = left;
    memcpy(dst, s->mem + s->pos, n);
    s->pos += n;
    return n;
}

/* ------------------------------------------------------------------ */
/* the header: a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * Only the subset np.save writes (and hand-written variants of it) is
 * accepted: quoted keys, one string, a bool and a tuple of ints. */

typedef struct hparse {
    const char *p, *end;
    const char *name;       /* file name for messages */
    char       *msg;
    size_t      cap;
} hparse;

static void skip_ws(hparse *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' ||
                             *h->p == '\r' || *h->p == '\f' || *h->p == '\v'))
        h->p++;
}

static int malformed(hparse *h, const char *what)
{
    return fail(h->msg, h->cap, "%s: malformed .npy header: %s", h->name, what);
}

static int expect(hparse *h, char c, const char *what)
{
    skip_ws(h);
    if (h->p >= h->end || *h->p != c)
        return malformed(h, what);
    h->p++;
    return 0;
}

/* A quoted string (either quote).  Backslash escapes are skipped over, not
 * decoded: no key or dtype np.save writes contains one. */
static int parse_string(hparse *h, const char **s, size_t *n)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return malformed(h, "expected a quoted string");
    char q = *h->p++;
    const char *start = h->p;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' && h->p + 1 < h->end)
            h->p++;
        if (*h->p == '\n')
            return malformed(h, "unterminated string");
        h->p++;
    }
    if (h->p >= h->end)
        return malformed(h, "unterminated string");
    *s = start;
    *n = (size_t)(h->p - start);
    h->p++;
    return 0;
}

/* A structured dtype is a list of tuples; skip it with its brackets
 * balanced (strings respected) so it can be named in the message. */
static int skip_balanced(hparse *h)
{
    int depth = 0;
    while (h->p < h->end) {
        char c = *h->p;
        if (c == '\'' || c == '"') {
            const char *s;
            size_t n;
            if (parse_string(h, &s, &n) < 0)
                return -1;
            continue;
        }
        if (c == '[' || c == '(' || c == '{')
            depth++;
        else if (c == ']' || c == ')' || c == '}') {
            if (--depth < 0)
                return malformed(h, "unbalanced brackets in 'descr'");
            if (depth == 0) {
                h->p++;
                return 0;
            }
        }
        h->p++;
    }
    return malformed(h, "unbalanced brackets in 'descr'");
}

static int parse_descr(hparse *h, const char **s, size_t *n)
{
    skip_ws(h);
    if (h->p < h->end && (*h->p == '[' || *h->p == '(')) {
        const char *start = h->p;
        if (skip_balanced(h) < 0)
            return -1;
        *s = start;
        *n = (size_t)(h->p - start);
        return 0;
    }
    return parse_string(h, s, n);
}

static int parse_bool(hparse *h, int *v)
{
    skip_ws(h);
    size_t left = (size_t)(h->end - h->p);
    if (left >= 4 && memcmp(h->p, "True", 4) == 0) {
        *v = 1;
        h->p += 4;
    } else if (left >= 5 && memcmp(h->p, "False", 5) == 0) {
        *v = 0;
        h->p += 5;
    } else {
        return malformed(h, "'fortran_order' must be True or False");
    }
    /* "Truex" is a name, not a bool */
    if (h->p < h->end && (*h->p == '_' || (*h->p >= 'a' && *h->p <= 'z') ||
                          (*h->p >= 'A' && *h->p <= 'Z') ||
                          (*h->p >= '0' && *h->p <= '9')))
        return malformed(h, "'fortran_order' must be True or False");
    return 0;
}

/* One extent: optional sign, decimal digits, and the "L" suffix Python 2
 * numpy wrote for longs.  Negative extents parse, then get refused by
 * name, which reads better than "malformed". */
static int parse_extent(hparse *h, int64_t *v)
{
    skip_ws(h);
    const char *start = h->p;
    int neg = 0;
    if (h->p < h->end && (*h->p == '-' || *h->p == '+'))
        neg = *h->p++ == '-';
    skip_ws(h);
    if (h->p >= h->end || *h->p < '0' || *h->p > '9') {
        const char *e = h->p;
        while (e < h->end && *e != ',' && *e != ')' && e - start < 24)
            e++;
        return fail(h->msg, h->cap, "%s: shape extent '%.*s' is not an integer",
                    h->name, (int)(e - start), start);
    }
    uint64_t x = 0;
    int big = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        unsigned d = (unsigned)(*h->p++ - '0');
        if (x > (UINT64_MAX - d) / 10)
            big = 1;
        else
            x = x * 10 + d;
    }
    if (h->p < h->end && (*h->p == 'L' || *h->p == 'l'))
        h->p++;
    if (h->p < h->end && (*h->p == '.' || *h->p == 'e' || *h->p == 'E' ||
                          *h->p == 'x' || *h->p == '_' || *h->p == 'j')) {
        const char *e = h->p;
        while (e < h->end && *e != ',' && *e != ')' && e - start < 24)
            e++;
        return fail(h->msg, h->cap, "%s: shape extent '%.*s' is not an integer",
                    h->name, (int)(e - start), start);
    }
    if (neg && (x != 0 || big))
        return fail(h->msg, h->cap, "%s: shape extent %.*s is negative",
                    h->name, (int)(h->p - start), start);
    if (big || x > (uint64_t)INT64_MAX)
        return fail(h->msg, h->cap, "%s: shape extent %.*s does not fit in 64 bits",
                    h->name, (int)(h->p - start), start);
    *v = (int64_t)x;
    return 0;
}

/* A tuple: "()", "(3,)", "(2, 3)", "(2, 3,)".  "(3)" is the int 3 in
 * Python, so numpy would refuse it and so do we. */
static int parse_shape(hparse *h, int32_t *ndim, int64_t *shape)
{
    skip_ws(h);
    if (h->p >= h->end || *h->p != '(')
        return malformed(h, "'shape' must be a tuple such as (2, 3)");
    h->p++;
    int n = 0, trailing_comma = 0;
    skip_ws(h);
    if (h->p < h->end && *h->p == ')') {
        h->p++;
        *ndim = 0;
        return 0;
    }
    for (;;) {
        int64_t v;
        if (parse_extent(h, &v) < 0)
            return -1;
        if (n == EIN_MAX_DIMS) {
            /* count the rest so the message can say how many */
            int total = n + 1;
            for (;;) {
                skip_ws(h);
                if (h->p < h->end && *h->p == ',') {
                    h->p++;
                    skip_ws(h);
                    if (h->p < h->end && *h->p == ')')
                        break;
                    if (parse_extent(h, &v) < 0)
                        return -1;
                    total++;
                    continue;
                }
                break;
            }
            return fail(h->msg, h->cap,
                        "%s: shape has %d dimensions; einsum handles at most %d",
                        h->name, total, EIN_MAX_DIMS);
        }
        shape[n++] = v;
        skip_ws(h);
        trailing_comma = 0;
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            trailing_comma = 1;
            skip_ws(h);
        }
        if (h->p < h->end && *h->p == ')') {
            h->p++;
            break;
        }
        if (!trailing_comma)
            return malformed(h, "expected ',' or ')' in 'shape'");
        if (h->p >= h->end)
            return malformed(h, "unterminated 'shape' tuple");
    }
    if (n == 1 && !trailing_comma)
        return malformed(h, "'shape' is an int, not a tuple (a 1-d shape is written (3,))");
    *ndim = n;
    return 0;
}

typedef struct header {
    const char *descr;
    size_t      descr_len;
    int         fortran_order;
    int32_t     ndim;
    int64_t     shape[EIN_MAX_DIMS];
} header;

static int parse_header(hparse *h, header *hd)
{
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (expect(h, '{', "it does not start with '{'") < 0)
        return -1;
    for (;;) {
        skip_ws(h);
        if (h->p < h->end && *h->p == '}') {
            h->p++;
            break;
        }
        const char *key;
        size_t klen;
        if (parse_string(h, &key, &klen) < 0)
            return -1;
        if (expect(h, ':', "expected ':' after a key") < 0)
            return -1;
        int *seen;
        int r;
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            seen = &seen_descr;
            r = parse_descr(h, &hd->descr, &hd->descr_len);
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            seen = &seen_fortran;
            r = parse_bool(h, &hd->fortran_order);
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            seen = &seen_shape;
            r = parse_shape(h, &hd->ndim, hd->shape);
        } else {
            return fail(h->msg, h->cap, "%s: .npy header has an unexpected key '%.*s'",
                        h->name, (int)(klen > 40 ? 40 : klen), key);
        }
        if (r < 0)
            return -1;
        if ((*seen)++)
            return fail(h->msg, h->cap, "%s: .npy header repeats the key '%.*s'",
                        h->name, (int)klen, key);
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (expect(h, '}', "expected ',' or '}' after a value") < 0)
            return -1;
        break;
    }
    /* np.save pads with spaces and ends with '\n'; anything else after the
     * dict means we misread the length or the file is damaged. */
    skip_ws(h);
    if (h->p != h->end)
        return malformed(h, "unexpected text after the closing '}'");
    const char *missing = !seen_descr ? "descr" : !seen_fortran ? "fortran_order"
                        : !seen_shape ? "shape" : NULL;
    if (missing)
        return fail(h->msg, h->cap, "%s: .npy header lacks the '%s' key",
                    h->name, missing);
    return 0;
}

/* '<f4' and friends.  '=' is the writer's native order, which for every
 * machine numpy writes '=' on means this one. */
static int descr_dtype(const header *hd, ein_dtype *dt, int *swap)
{
    const char *d = hd->descr;
    if (hd->descr_len != 3 || d[1] != 'f' || (d[2] != '4' && d[2] != '8'))
        return -1;
    int little;
    if (d[0] == '<')
        little = 1;
    else if (d[0] == '>')
        little = 0;
    else if (d[0] == '=')
        little = host_is_little();
    else
        return -1;
    *dt = d[2] == '4' ? EIN_F32 : EIN_F64;
    *swap = little != host_is_little();
    return 0;
}

/* ------------------------------------------------------------------ */
/* reading                                                             */

static int read_source(source *s, const char *name, npy_array *a,
                       char *msg, size_t cap)
{
    memset(a, 0, sizeof *a);
    unsigned char pre[12];
    size_t got = src_read(s, pre, 8);
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        if (got < NPY_MAGIC_LEN && memcmp(pre, NPY_MAGIC, got) == 0)
            return fail(msg, cap, "%s: truncated: %zu bytes is too short for a .npy file",
                        name, got);
        return fail(msg, cap, "%s: not a .npy file (it does not start with \\x93NUMPY)",
                    name);
    }
    if (got < 8)
        return fail(msg, cap, "%s: truncated: the file ends inside the .npy preamble",
                    name);
    unsigned major = pre[6], minor = pre[7];
    if (!((major == 1 || major == 2 || major == 3) && minor == 0))
        return fail(msg, cap, "%s: unsupported .npy format version %u.%u "
                    "(einsum reads 1.0, 2.0 and 3.0)", name, major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if (src_read(s, pre + 8, lenbytes) != lenbytes)
        return fail(msg, cap, "%s: truncated: the file ends inside the .npy preamble",
                    name);
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    if (lenbytes == 4)
        hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    uint64_t data_off = 8 + lenbytes + (uint64_t)hlen;
    if (hlen > NPY_MAX_HEADER)
        return fail(msg, cap, "%s: .npy header length %" PRIu32 " exceeds the limit of %u "
                    "bytes (numpy itself refuses more than 10000 by default)",
                    name, hlen, NPY_MAX_HEADER);
    if (s->size >= 0 && data_off > (uint64_t)s->size)
        return fail(msg, cap, "%s: truncated: the header claims %" PRIu32 " bytes but the "
                    "file has only %" PRId64 " bytes in all", name, hlen, s->size);

    char *text = ein_malloc((size_t)hlen + 1);
    if (!text)
        return fail(msg, cap, "%s: out of memory reading the header", name);
    if (src_read(s, text, hlen) != hlen) {
        ein_free(text);
        return fail(msg, cap, "%s: truncated: the file ends inside the .npy header", name);
    }
    text[hlen] = '\0';

    header hd;
    memset(&hd, 0, sizeof hd);
    hparse h = { text, text + hlen, name, msg, cap };
    if (parse_header(&h, &hd) < 0) {
        ein_free(text);
        return -1;
    }
    int swap = 0;
    if (descr_dtype(&hd, &a->dtype, &swap) < 0) {
        int n = hd.descr_len > 60 ? 60 : (int)hd.descr_len;
        fail(msg, cap, "unsupported dtype '%.*s%s' in %s (einsum reads float32 and float64)",
             n, hd.descr, hd.descr_len > 60 ? "..." : "", name);
        ein_free(text);
        return -1;
    }
    ein_free(text);

    /* Strides are products of extents, so bound the product of all
     * extents counting zeros as one: then neither the strides nor the
     * element count can overflow even when some extent is 0. */
    char shp[64 * 22];
    format_shape(shp, sizeof shp, hd.ndim, hd.shape);
    int64_t bound = 1, count = 1;
    for (int i = 0; i < hd.ndim; i++) {
        int64_t e = hd.shape[i] ? hd.shape[i] : 1;
        if (bound > INT64_MAX / e)
            return fail(msg, cap, "%s: shape %s has more elements than fit in 64 bits",
                        name, shp);
        bound *= e;
        count *= hd.shape[i];
    }
    size_t esize = a->dtype == EIN_F32 ? 4 : 8;
    if ((uint64_t)count > SIZE_MAX / esize)
        return fail(msg, cap, "%s: shape %s of %zu-byte elements needs more bytes "
                    "than fit in memory", name, shp, esize);
    size_t nbytes = (size_t)count * esize;
    if (s->size >= 0 && (uint64_t)nbytes > (uint64_t)s->size - data_off)
        return fail(msg, cap, "%s: truncated: shape %s needs %zu bytes of data but the "
                    "file has %" PRIu64 " after the header",
                    name, shp, nbytes, (uint64_t)s->size - data_off);

    void *data = alloc_data(nbytes);
    if (!data)
        return fail(msg, cap, "%s: out of memory: shape %s needs %zu bytes", name, shp,
                    nbytes);
    size_t rd = src_read(s, data, nbytes);
    if (rd != nbytes) {
        ein_free(data);
        return fail(msg, cap, "%s: truncated: shape %s needs %zu bytes of data but the "
                    "file has %zu after the header", name, shp, nbytes, rd);
    }
    if (swap)
        swap_bytes(data, count, esize);

    a->data = data;
    a->ndim = hd.ndim;
    a->fortran_order = hd.fortran_order;
    a->count = count;
    memcpy(a->shape, hd.shape, sizeof(int64_t) * (size_t)hd.ndim);
    int64_t st = 1;
    if (hd.fortran_order) {
        for (int i = 0; i < hd.ndim; i++) {
            a->strides[i] = st;
            st *= hd.shape[i] ? hd.shape[i] : 1;
        }
    } else {
        for (int i = hd.ndim - 1; i >= 0; i--) {
            a->strides[i] = st;
            st *= hd.shape[i] ? hd.shape[i] : 1;
        }
    }
    return 0;
}

int npy_read_mem(const void *buf, size_t len, const char *name,
                 npy_array *a, char *msg, size_t cap)
{
    source s = { NULL, buf, len, 0, (int64_t)len };
    if (!buf && len)
        return fail(msg, cap, "%s: no data", name);
    if (!buf)
        s.mem = (const unsigned char *)"";
    return read_source(&s, name, a, msg, cap);
}

int npy_read_file(const char *path, npy_array *a, char *msg, size_t cap)
{
    memset(a, 0, sizeof *a);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return fail(msg, cap, "%s: cannot open: %s", path, strerror(errno));
    source s = { fp, NULL, 0, 0, -1 };
    struct stat sb;
    if (fstat(fileno(fp), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fclose(fp);
            return fail(msg, cap, "%s: is a directory", path);
        }
        if (S_ISREG(sb.st_mode))
            s.size = (int64_t)sb.st_size;
    }
    int r = read_source(&s, path, a, msg, cap);
    if (r == 0 && ferror(fp)) {
        npy_free(a);
        r = fail(msg, cap, "%s: read error: %s", path, strerror(errno));
    }
    fclose(fp);
    return r;
}

void npy_free(npy_array *a)
{
    if (!a)
        return;
    ein_free(a->data);
    a->data = NULL;
}

ein_tensor npy_tensor(const npy_array *a)
{
    ein_tensor t;
    t.data = a->data;
    t.dtype = a->dtype;
    t.ndim = a->ndim;
    t.shape = a->shape;
    t.strides = a->strides;
    return t;
}

/* ------------------------------------------------------------------ */
/* writing                                                             */

unsigned char *npy_encode(const ein_tensor *t, size_t *len, char *msg, size_t cap)
{
    if (!t || !len)
        return (void)fail(msg, cap, "npy_encode: NULL argument"), NULL;
    if (t->dtype != EIN_F32 && t->dtype != EIN_F64)
        return (void)fail(msg, cap, "cannot write dtype %d: einsum writes float32 "
                          "and float64", (int)t->dtype), NULL;
    if (t->ndim < 0 || t->ndim > EIN_MAX_DIMS || (t->ndim > 0 && !t->shape))
        return (void)fail(msg, cap, "cannot write a tensor of rank %d", (int)t->ndim),
               NULL;
    size_t esize = t->dtype == EIN_F32 ? 4 : 8;
    int64_t count = 1, bound = 1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t e = t->shape[i];
        if (e < 0)
            return (void)fail(msg, cap, "cannot write a negative extent %" PRId64, e),
                   NULL;
        if (bound > INT64_MAX / (e ? e : 1))
            return (void)fail(msg, cap, "tensor too large to write"), NULL;
        bound *= e ? e : 1;
        count *= e;
    }

    /* The header np.save writes, byte for byte: sorted keys, a trailing
     * ", }", room for the first axis to grow to 21 digits, then spaces and
     * '\n' up to the 64-byte boundary (a full 64 when already aligned). */
    char shp[EIN_MAX_DIMS * 22];
    format_shape(shp, sizeof shp, t->ndim, t->shape);
    char hdr[EIN_MAX_DIMS * 22 + 256];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     t->dtype == EIN_F32 ? "<f4" : "<f8", shp);
    if (t->ndim > 0) {
        char first[24];
        int fl = snprintf(first, sizeof first, "%" PRId64, t->shape[0]);
        for (int i = fl; i < 21; i++)
            hdr[n++] = ' ';
    }
    size_t hlen = (size_t)n + 1;  /* with the '\n' */
    size_t pad = NPY_ALIGN - (NPY_MAGIC_LEN + 2 + 2 + hlen) % NPY_ALIGN;
    size_t total_hdr = hlen + pad;
    size_t off = NPY_MAGIC_LEN + 4 + total_hdr;
    if ((uint64_t)count > (SIZE_MAX - off) / esize)
        return (void)fail(msg, cap, "tensor too large to write"), NULL;
    size_t nbytes = (size_t)count * esize;
    unsigned char *buf = ein_malloc(off + nbytes);
    if (!buf)
        return (void)fail(msg, cap, "out of memory encoding %zu bytes", off + nbytes), NULL;
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(total_hdr & 0xff);
    buf[9] = (unsigned char)(total_hdr >> 8);
    memcpy(buf + 10, hdr, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[off - 1] = '\n';

    /* Gather in C order through the strides (NULL means C order). */
    unsigned char *dst = buf + off;
    const unsigned char *src = t->data;
    if (count > 0 && !src) {
        ein_free(buf);
        return (void)fail(msg, cap, "cannot write a tensor with NULL data"), NULL;
    }
    if (count > 0) {
        int64_t idx[EIN_MAX_DIMS] = { 0 };
        int64_t cst[EIN_MAX_DIMS];
        const int64_t *st = t->strides;
        if (!st) {
            int64_t s = 1;
            for (int i = t->ndim - 1; i >= 0; i--) {
                cst[i] = s;
                s *= t->shape[i];
            }
            st = cst;
        }
        int64_t pos = 0;   /* element offset of idx */
        for (int64_t k = 0; k < count; k++) {
            memcpy(dst, src + pos * (int64_t)esize, esize);
            dst += esize;
            for (int d = t->ndim - 1; d >= 0; d--) {
                if (++idx[d] < t->shape[d]) {
                    pos += st[d];
                    break;
                }
                pos -= st[d] * (idx[d] - 1);
                idx[d] = 0;
            }
        }
        if (!host_is_little())
            swap_bytes(buf + off, count, esize);
    }
    *len = off + nbytes;
    return buf;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int npy_write_file(const char *path, const ein_tensor *t, char *msg, size_t cap)
{
    size_t len;
    unsigned char *img = npy_encode(t, &len, msg, cap);
    if (!img) {
        /* prefix the file so the caller's message names it */
        char inner[512];
        snprintf(inner, sizeof inner, "%s", msg && cap ? msg : "");
        return fail(msg, cap, "%s: %s", path, inner);
    }

    /* The temporary lives beside the target so rename() is atomic. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    static const char tail[] = ".einsum-tmp-XXXXXX";
    char *tmp = ein_malloc(dirlen + sizeof tail);
    if (!tmp) {
        ein_free(img);
        return fail(msg, cap, "%s: out of memory", path);
    }
    memcpy(tmp, path, dirlen);
    memcpy(tmp + dirlen, tail, sizeof tail);

    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        ein_free(tmp);
        ein_free(img);
        return fail(msg, cap, "%s: cannot create a temporary file there: %s", path,
                    strerror(e));
    }
    /* mkstemp makes 0600; give the file the mode open() would have, as
     * np.save's does.  Reading the umask means setting it, which is fine
     * for a single-threaded program. */
    mode_t um = umask(0);
    umask(um);
    int r = 0, e = 0;
    if (write_all(fd, img, len) < 0)
        r = -1, e = errno;
    if (r == 0 && fchmod(fd, (mode_t)(0666 & ~um)) < 0)
        r = -1, e = errno;
    if (close(fd) < 0 && r == 0)
        r = -1, e = errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -1, e = errno;
    if (r < 0) {
        unlink(tmp);
        fail(msg, cap, "%s: cannot write: %s", path, strerror(e));
    }
    ein_free(tmp);
    ein_free(img);
    return r;
}
