/* fuzz_diff.c — differential target: every fast kernel against the
 * oracle.  The input bytes draw a random valid call (tests/casegen.c:
 * 1-4 operands, diagonals, ellipsis, broadcasting, odd strides, mixed
 * dtypes, an output that may overlap an input); each kernel table this
 * CPU runs, the forced generic loop nest and 1 vs 3 threads must agree
 * with ts_reference (tests/support.c, double precision, one loop over
 * every label) within a bound that grows with the number of summed terms.
 * A disagreement prints the case and aborts, which libFuzzer reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casegen.h"
#include "internal.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void dump(const cg_case *c, const cg_tensor *o, const char *variant)
{
    fprintf(stderr, "case %s [%s]\n", c->expr, variant);
    for (int k = 0; k <= c->nops; k++) {
        const cg_tensor *t = k < c->nops ? &c->op[k] : o;
        fprintf(stderr, "  %s %d: %s shape", k < c->nops ? "operand" : "output", k,
                ein_dtype_name(t->t.dtype));
        for (int d = 0; d < t->t.ndim; d++)
            fprintf(stderr, " %lld", (long long)t->shape[d]);
        fprintf(stderr, " strides");
        if (!t->t.strides)
            fprintf(stderr, " (C order)");
        for (int d = 0; t->t.strides && d < t->t.ndim; d++)
            fprintf(stderr, " %lld", (long long)t->t.strides[d]);
        fprintf(stderr, "%s\n", k == c->nops && !o->buf ? " (inside an operand)" : "");
    }
}

/* Element i (C order over the shape) of a view, as double. */
static double get(const ein_tensor *t, int64_t i)
{
    int64_t off = 0, acc = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t idx = (i / acc) % t->shape[d];
        int64_t cs = acc;
        off += idx * (t->strides ? t->strides[d] : cs);
        acc *= t->shape[d];
    }
    return t->dtype == EIN_F32 ? (double)((const float *)t->data)[off]
                               : ((const double *)t->data)[off];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cg_src s = {data, size, 0, 0x5eedull};
    cg_case c;
    if (!cg_make(&c, &s))
        return 0;
    const ein_tensor *ops[CG_MAXOPS];
    unsigned char *pristine[CG_MAXOPS] = {NULL};
    for (int k = 0; k < c.nops; k++) {
        ops[k] = &c.op[k].t;
        pristine[k] = malloc(c.op[k].nbuf);
        memcpy(pristine[k], c.op[k].buf, c.op[k].nbuf);
    }

    /* The result's shape, from a plan with the default output. */
    ein_status st;
    ein_plan *p0 = ein_plan_new(c.expr, c.nops, ops, NULL, NULL, &st);
    if (!p0) {
        dump(&c, &c.op[0], "planning");
        fprintf(stderr, "a valid call was refused: %s: %s\n", ein_status_str(st),
                ein_last_error());
        abort();
    }
    ein_dtype dt;
    int64_t shape[EIN_MAX_DIMS];
    int nd = ein_plan_result(p0, &dt, shape);
    ein_plan_free(p0);
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= shape[d];
    if (dt == EIN_F32 && cg_byte(&s) % 4 == 0)
        dt = EIN_F64;                      /* a safe cast into the output */

    /* Reference values and each element's tolerance. */
    double *want, *tol;
    int64_t n2 = -1;
    if (!cg_reference(&c, dt, &want, &tol, &n2) || n2 != n) {
        dump(&c, &c.op[0], "reference");
        fprintf(stderr, "the reference disagrees on the call\n");
        abort();
    }
    double *first = malloc((size_t)(n ? n : 1) * sizeof *first);

    cg_tensor o;
    if (!cg_make_out(&c, &s, nd, shape, dt, true, &o))
        abort();

    /* variant 0: default table, 1 thread; 1: 3 threads (bitwise the same);
     * 2: forced loop nest; 3..: each named table. */
    static const char *const tables[] = {"generic", "avx2", "avx512"};
    for (int v = 0; v < 6; v++) {
        const ein_ktable *kt = NULL;
        char name[48];
        if (v >= 3) {
            kt = ein_ktable_named(tables[v - 3]);
            if (!kt)
                continue;
            snprintf(name, sizeof name, "table %s", tables[v - 3]);
        } else {
            snprintf(name, sizeof name, "%s", v == 0 ? "default, 1 thread"
                     : v == 1 ? "default, 3 threads" : "forced loop nest");
        }
        for (int k = 0; k < c.nops; k++)
            memcpy(c.op[k].buf, pristine[k], c.op[k].nbuf);
        if (o.buf)
            memset(o.buf, 0xff, o.nbuf);
        ein_options opt = {0};
        opt.num_threads = v == 1 ? 3 : v == 0 ? 1 : c.num_threads;
        ein_plan *p = ein_plan_build(c.expr, c.nops, ops, &o.t, &opt, kt, v == 2, &st);
        if (!p) {
            dump(&c, &o, name);
            fprintf(stderr, "planning with this output failed: %s: %s\n",
                    ein_status_str(st), ein_last_error());
            abort();
        }
        char xbuf[64];
        size_t need = ein_plan_explain(p, xbuf, sizeof xbuf);
        if (need < strlen(xbuf)) {
            dump(&c, &o, name);
            fprintf(stderr, "explain returned %zu for a longer text\n", need);
            abort();
        }
        st = ein_execute(p, ops, &o.t);
        ein_plan_free(p);
        if (st != EIN_OK) {
            dump(&c, &o, name);
            fprintf(stderr, "ein_execute: %s: %s\n", ein_status_str(st), ein_last_error());
            abort();
        }
        for (int64_t i = 0; i < n; i++) {
            double got = get(&o.t, i);
            if (!(fabs(got - want[i]) <= tol[i])) {
                dump(&c, &o, name);
                fprintf(stderr, "element %lld is %.17g, reference %.17g "
                        "(tolerance %.3g)\n", (long long)i, got, want[i], tol[i]);
                abort();
            }
            if (v == 0)
                first[i] = got;
            else if (v == 1 && memcmp(&got, &first[i], sizeof got) != 0) {
                dump(&c, &o, name);
                fprintf(stderr, "element %lld: 1 thread gives %.17g, 3 threads %.17g\n",
                        (long long)i, first[i], got);
                abort();
            }
        }
    }
    free(o.buf);
    for (int k = 0; k < c.nops; k++)
        free(pristine[k]);
    free(want);
    free(tol);
    free(first);
    cg_free(&c);
    return 0;
}
