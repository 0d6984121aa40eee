/* exec.c — run a plan's steps over the caller's data.  Operands are read
 * in place through their strides; temporaries live in one workspace
 * allocation per run (none for a single dense step).  An output that
 * overlaps an input is computed into a scratch copy and then stored. */
#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels/frame.h"

void ein_view_span(int nd, const int64_t *shape, const int64_t *stride,
                   size_t esize, int64_t span[2])
{
    int64_t mn = 0, mx = 0;
    /* An empty view reaches nothing, and bind checks the strides of
     * non-empty views only: look for a zero extent before multiplying. */
    for (int d = 0; d < nd; d++)
        if (shape[d] == 0) {
            span[0] = span[1] = 0;
            return;
        }
    for (int d = 0; d < nd; d++) {
        int64_t r = stride[d] * (shape[d] - 1);
        if (r < 0)
            mn += r;
        else
            mx += r;
    }
    span[0] = mn * (int64_t)esize;
    span[1] = (mx + 1) * (int64_t)esize;
}

/* Visit every element of a strided shape: dst[i] = src[i], each read
 * through src_stride and written through dst_stride, with dtype
 * conversion. */
static void copy_convert(void *dst, ein_dtype ddt, const int64_t *dst_stride,
                         const void *src, ein_dtype sdt, const int64_t *src_stride,
                         int nd, const int64_t *shape)
{
    int64_t idx[EIN_MAX_DIMS] = {0}, so = 0, dof = 0;
    for (int d = 0; d < nd; d++)
        if (shape[d] == 0)
            return;
    for (;;) {
        double v = sdt == EIN_F32 ? (double)((const float *)src)[so]
                                  : ((const double *)src)[so];
        if (ddt == EIN_F32)
            ((float *)dst)[dof] = (float)v;
        else
            ((double *)dst)[dof] = v;
        int d = nd - 1;
        for (; d >= 0; d--) {
            so += src_stride[d];
            dof += dst_stride[d];
            if (++idx[d] < shape[d])
                break;
            so -= src_stride[d] * shape[d];
            dof -= dst_stride[d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

/* out[i] += 0 over a strided shape: a -0 element becomes +0. */
static void plus_zero(void *out, ein_dtype dt, int nd, const int64_t *shape,
                      const int64_t *stride)
{
    int64_t idx[EIN_MAX_DIMS] = {0}, o = 0;
    for (int d = 0; d < nd; d++)
        if (shape[d] == 0)
            return;
    for (;;) {
        if (dt == EIN_F32)
            ((float *)out)[o] += 0.0f;
        else
            ((double *)out)[o] += 0.0;
        int d = nd - 1;
        for (; d >= 0; d--) {
            o += stride[d];
            if (++idx[d] < shape[d])
                break;
            o -= stride[d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

static void fill_zero(void *out, ein_dtype dt, int nd, const int64_t *shape,
                      const int64_t *stride)
{
    static const double zero = 0;
    int64_t zs[EIN_MAX_DIMS] = {0};
    copy_convert(out, dt, stride, &zero, EIN_F64, zs, nd, shape);
}

/* One dense kernel call: GEMM/OUTER: C = A B; GEMV: y = A x (the matrix
 * is in[1] when swapped); DOT.  Written once over the element type: one
 * function per kind, the switch over them for the executor's loops, and
 * the same functions with no accumulation as a plan's direct call (see
 * ein_direct_pick). */
#define DEFINE_RUN_KERNEL(SFX, T)                                               \
static inline void kern_gemm_##SFX(const ein_ktable *kt, const ein_step *s,    \
                                   const T *A, const T *B, T *C, int acc,      \
                                   int nth)                                    \
{                                                                              \
    kt->gemm_##SFX(s->m, s->n, s->k, A, s->rsa, s->csa, B, s->rsb, s->csb, C,  \
                   s->rsc, s->csc, acc, nth);                                  \
}                                                                              \
static inline void kern_gemv_##SFX(const ein_ktable *kt, const ein_step *s,    \
                                   const T *A, const T *B, T *C, int acc,      \
                                   int nth)                                    \
{                                                                              \
    kt->gemv_##SFX(s->m, s->k, s->swap ? B : A, s->rsa, s->csa,                \
                   s->swap ? A : B, s->rsb, C, s->rsc, acc, nth);              \
}                                                                              \
static inline void kern_dot_##SFX(const ein_ktable *kt, const ein_step *s,     \
                                  const T *A, const T *B, T *C, int acc,       \
                                  int nth)                                     \
{                                                                              \
    T d = kt->dot_##SFX(s->k, A, s->csa, B, s->rsb);                           \
    (void)nth;                                                                 \
    *C = acc ? *C + d : d;                                                     \
}                                                                              \
static void run_kernel_##SFX(const ein_ktable *kt, const ein_step *s,          \
                             const T *A, const T *B, T *C, int acc, int nth)   \
{                                                                              \
    switch (s->kind) {                                                         \
    case EIN_K_GEMM:                                                           \
    case EIN_K_OUTER: kern_gemm_##SFX(kt, s, A, B, C, acc, nth); break;        \
    case EIN_K_GEMV:  kern_gemv_##SFX(kt, s, A, B, C, acc, nth); break;        \
    case EIN_K_DOT:   kern_dot_##SFX(kt, s, A, B, C, acc, nth); break;         \
    default:          break;                                                   \
    }                                                                          \
}
DEFINE_RUN_KERNEL(f32, float)
DEFINE_RUN_KERNEL(f64, double)

/* A whole contiguous sum ("ijk->" of a C-order array, fused into one
 * loop) has no free loop to split.  It is cut into chunks whose size
 * depends only on its length; the threads sum chunks, and the chunk sums
 * are added in order, so every thread count gives the same bits. */
#define EIN_SUM_CHUNK  65536
#define EIN_SUM_MAXCH  1024

/* A dot of one contiguous run of more than one chunk (no loops around
 * it: "i,i->", "ij,ij->") goes by chunks too, on both cores from 256
 * KiB; so does a whole sum.  (From two whole chunks until 2026-11-27;
 * from one: i,i-> 100000 f32 on two threads 4.8 -> 3.6 us, ij-> 300^2
 * 6.0 -> 4.9 us; ij,ij,ij-> 300^2 on two threads, whose product step
 * had split over both cores while the dot ran on one, 30 -> 17 us.) */
bool ein_whole_dot(const ein_step *s)
{
    return s->kind == EIN_K_DOT && s->nouter == 0 && s->csa == 1 && s->rsb == 1 &&
           s->k > EIN_SUM_CHUNK;
}

int64_t ein_sum_chunk(int64_t n)
{
    return n / EIN_SUM_MAXCH + 1 > EIN_SUM_CHUNK ? n / EIN_SUM_MAXCH + 1 : EIN_SUM_CHUNK;
}

/* A plan's one kernel call on the tensors as they are (the headline
 * GEMV), picked by kind and dtype when the plan is built: ein_execute
 * makes it without ein_run's slot set-up or the kernel switch.  Measured
 * against the call through ein_run: a prebuilt 4-element f32 dot 19.0 ->
 * 16.4 ns; the [100, 50] f32 GEMV 1-2 ns less, alternating in one
 * process (less than this VM's noise between processes). */
#define DEFINE_DIRECT(KIND, SFX)                                               \
static void direct_##KIND##_##SFX(const ein_plan *p, const void *a,            \
                                  const void *b, void *c)                      \
{                                                                              \
    kern_##KIND##_##SFX(p->kt, &p->steps[0], a, b, c, 0, p->nthreads);         \
}
DEFINE_DIRECT(gemm, f32)
DEFINE_DIRECT(gemv, f32)
DEFINE_DIRECT(dot, f32)
DEFINE_DIRECT(gemm, f64)
DEFINE_DIRECT(gemv, f64)
DEFINE_DIRECT(dot, f64)
#undef DEFINE_DIRECT

/* A GEMV the table's gemv would hand to its rows loop in one call: made
 * straight to that loop, with the same arguments.  The headline [100, 50]
 * f32 plan, alternating in one harness: 166-171 -> 164-166 ns. */
#define DEFINE_DIRECT_ROWS(SFX, T)                                             \
static void direct_gemv_rows_##SFX(const ein_plan *p, const void *a,           \
                                   const void *b, void *c)                     \
{                                                                              \
    const ein_step *s = &p->steps[0];                                          \
    p->kt->gemv_rows_##SFX(s->m, s->k, (const T *)(s->swap ? b : a), s->rsa,   \
                           (const T *)(s->swap ? a : b), (T *)c, s->rsc, 0,    \
                           ein_gemv_rows_mode(s->m, s->k, sizeof(T)));         \
}
DEFINE_DIRECT_ROWS(f32, float)
DEFINE_DIRECT_ROWS(f64, double)
#undef DEFINE_DIRECT_ROWS

/* Likewise a GEMV the table's gemv would hand to its columns loop in one
 * call (ein_gemv_cols_direct).  f32 [64, 64] "ij,i->j", alternating in
 * one harness: 142 -> 133 ns. */
#define DEFINE_DIRECT_COLS(SFX, T)                                             \
static void direct_gemv_cols_##SFX(const ein_plan *p, const void *a,           \
                                   const void *b, void *c)                     \
{                                                                              \
    const ein_step *s = &p->steps[0];                                          \
    p->kt->gemv_cols_##SFX(s->m, s->k, (const T *)(s->swap ? b : a), s->csa,   \
                           (const T *)(s->swap ? a : b), s->rsb, (T *)c, 0,    \
                           (int64_t)(s->m * s->k * (int64_t)sizeof(T)));       \
}
DEFINE_DIRECT_COLS(f32, float)
DEFINE_DIRECT_COLS(f64, double)
#undef DEFINE_DIRECT_COLS

ein_direct_fn *ein_direct_pick(const ein_plan *p)
{
    if (p->nsteps != 1 || p->workspace != 0 || p->nops != 2)
        return NULL;
    const ein_step *s = &p->steps[0];
    bool one_call = (s->kind == EIN_K_GEMM || s->kind == EIN_K_GEMV ||
                     s->kind == EIN_K_DOT || s->kind == EIN_K_OUTER) &&
                    s->nouter == 0 && !s->grouped && !s->xpack &&
                    s->out == EIN_OUT_SLOT(p) &&
                    s->in[0] < 2 && s->in[1] < 2 && !p->slots[0].in_workspace &&
                    !p->slots[1].in_workspace;
    if (!one_call || ein_whole_dot(s))   /* long dots go by chunks (ein_run) */
        return NULL;
    bool f32 = p->dtype == EIN_F32;
    switch (s->kind) {
    case EIN_K_GEMV:
        if (ein_gemv_rows_direct(s->m, s->k, s->rsa, s->csa, s->rsb))
            return f32 ? direct_gemv_rows_f32 : direct_gemv_rows_f64;
        if (ein_gemv_cols_direct(s->m, s->k, s->rsa, s->csa, s->rsc))
            return f32 ? direct_gemv_cols_f32 : direct_gemv_cols_f64;
        return f32 ? direct_gemv_f32 : direct_gemv_f64;
    case EIN_K_DOT:  return f32 ? direct_dot_f32 : direct_dot_f64;
    default:         return f32 ? direct_gemm_f32 : direct_gemm_f64;
    }
}

static void run_kernel(const ein_plan *p, const ein_step *s, const char *a,
                       const char *b, char *c, int acc, int nth)
{
    if (p->dtype == EIN_F32)
        run_kernel_f32(p->kt, s, (const float *)a, (const float *)b, (float *)c, acc, nth);
    else
        run_kernel_f64(p->kt, s, (const double *)a, (const double *)b, (double *)c, acc, nth);
}

/* A tensor GEMM call over the step's m, n, k groups. */
static void run_tgemm(const ein_plan *p, const ein_step *s, const char *a,
                      const char *b, char *c, int nth)
{
    if (p->dtype == EIN_F32)
        p->kt->tgemm_f32(&s->gm, &s->gn, &s->gk, (const float *)a, (const float *)b,
                         (float *)c, 0, nth);
    else
        p->kt->tgemm_f64(&s->gm, &s->gn, &s->gk, (const double *)a, (const double *)b,
                         (double *)c, 0, nth);
}

/* When a step's batch loop is split between threads.  Only calls that
 * stay on one thread themselves split: below EIN_BATCH_MT_FLOPS each.
 *
 * GEMMs: when the batch's work, its flops plus EIN_BATCH_CALL_FLOPS for
 * each call (what a tiny product costs beyond its flops: a 4x4x4 f32
 * product takes ~9 ns, ~1200 flops at this VM's ~150 GFLOP/s), reaches
 * EIN_BATCH_MT_WORK, about 3 us of one thread's time.  Measured on the
 * 2-core VM, bij,bjk->bik f32, 1 thread -> 2 threads: 128 x 4^3 1.15 ->
 * 1.68 us and 64 x 8^3 1.36 -> 1.86 us (below it, stay); 32 x 16^3 2.53
 * -> 2.37 us (below, about even); 512 x 4^3 4.8 -> 3.9 us, 256 x 8^3 5.8
 * -> 4.7 us, 64 x 16^3 4.8 -> 3.9 us, 4 x 40^3 3.7 -> 2.9 us, 1024 x 8^3
 * 22.8 -> 13.2 us (above, split).  (A threshold of 4 MFLOP alone had
 * kept all of these on one thread.)
 *
 * A batch of GEMVs or dots is bound by the bytes it reads, 2 flops per
 * matrix element, so it splits from the GEMV kernel's own threshold, a
 * quarter of a million elements (bij,bj->bi, 64 x 128 x 128 f32, 2
 * threads: 140 -> 36 us; abc,b->ac 100^3: 133 -> 40 us). */
#define EIN_BATCH_MT_FLOPS 4.0e6
#define EIN_BATCH_CALL_FLOPS 1200.0
#define EIN_BATCH_MT_WORK 4.5e5
#define EIN_BATCH_MT_FLOPS_MV (2.0 * 262144.0)

typedef struct dense_job {
    const ein_plan *p;
    const ein_step *s;
    const char *a, *b;
    char *c;
    bool tg;          /* tensor GEMM: only the batch loops run here */
    bool batch;       /* GEMMs, GEMVs or dots: the innermost loop's runs
                         go to the table's batch entry */
    int no;           /* loops run here: s->loops[0..no) */
    int64_t calls;    /* product of their extents */
    int nthreads;     /* handed to each kernel call */
    int64_t r0, r1;   /* GEMV rows [r0, r1) only, when r1 > 0 */
    atomic_llong next;   /* first call not yet claimed by a thread */
} dense_job;

/* Rows [r0, r1) of one GEMV call, on this thread.  Rows and x contiguous
 * go straight to the rows loop with the mode of the whole call (the
 * table's gemv would take it from rows [r0, r1) alone, and the bits of a
 * row would depend on the thread count). */
#define DEFINE_GEMV_PART(SFX, T)                                               \
static void gemv_part_##SFX(const ein_ktable *kt, const ein_step *s,           \
                            const T *A, const T *B, T *C, int acc, int64_t r0, \
                            int64_t r1)                                        \
{                                                                              \
    const T *M = s->swap ? B : A, *x = s->swap ? A : B;                        \
    if (s->csa == 1 && s->rsb == 1 && (s->rsa != 1 || s->k >= r1 - r0))        \
        kt->gemv_rows_##SFX(r1 - r0, s->k, M + r0 * s->rsa, s->rsa, x,         \
                            C + r0 * s->rsc, s->rsc, acc,                      \
                            ein_gemv_rows_mode(s->m, s->k, sizeof(T)));        \
    else                                                                       \
        kt->gemv_##SFX(r1 - r0, s->k, M + r0 * s->rsa, s->rsa, s->csa, x,      \
                       s->rsb, C + r0 * s->rsc, s->rsc, acc, 1);               \
}
DEFINE_GEMV_PART(f32, float)
DEFINE_GEMV_PART(f64, double)
#undef DEFINE_GEMV_PART

static void run_gemv_part(const ein_plan *p, const ein_step *s, const char *a,
                          const char *b, char *c, int acc, int64_t r0, int64_t r1)
{
    if (p->dtype == EIN_F32)
        gemv_part_f32(p->kt, s, (const float *)a, (const float *)b, (float *)c, acc,
                      r0, r1);
    else
        gemv_part_f64(p->kt, s, (const double *)a, (const double *)b, (double *)c,
                      acc, r0, r1);
}

/* A run of nb calls along one loop (element strides st) in one batch
 * call; false when the table does not batch this shape (nothing done). */
#define DEFINE_RUN_BATCH(SFX, T)                                               \
static bool run_batch_##SFX(const ein_ktable *kt, const ein_step *s, int64_t nb, \
                            const int64_t *st, const T *A, const T *B, T *C,   \
                            int acc)                                           \
{                                                                              \
    if (s->kind == EIN_K_DOT) {                                                \
        kt->dot_batch_##SFX(nb, st[0], st[1], st[2], s->k, A, s->csa, B, s->rsb, C, \
                            acc);                                              \
        return true;                                                           \
    }                                                                          \
    if (s->kind == EIN_K_GEMV)   /* the matrix is in[1] when swapped */        \
        return kt->gemv_batch_##SFX(nb, st[s->swap], st[!s->swap], st[2], s->m, \
                                    s->k, s->swap ? B : A, s->rsa, s->csa,     \
                                    s->swap ? A : B, s->rsb, C, s->rsc, 0);    \
    return kt->gemm_batch_##SFX(nb, st[0], st[1], st[2], s->m, s->n, s->k, A,   \
                                s->rsa, s->csa, B, s->rsb, s->csb, C, s->rsc,  \
                                s->csc, 0);                                    \
}
DEFINE_RUN_BATCH(f32, float)
DEFINE_RUN_BATCH(f64, double)
#undef DEFINE_RUN_BATCH

/* acc: the calls add to what is there (dots only: the others are batched
 * only when no loop around them sums). */
static bool run_batch(const ein_plan *p, const ein_step *s, int64_t nb,
                      const int64_t *st, const char *a, const char *b, char *c, int acc)
{
    if (p->dtype == EIN_F32)
        return run_batch_f32(p->kt, s, nb, st, (const float *)a, (const float *)b,
                             (float *)c, acc);
    return run_batch_f64(p->kt, s, nb, st, (const double *)a, (const double *)b,
                         (double *)c, acc);
}

/* The odometer moved `steps` along loop l (steps <= what is left of it),
 * carrying into the loops outside it. */
static inline void odometer_add(const ein_step *s, int l, int64_t steps, int64_t *idx,
                                int64_t *oa, int64_t *ob, int64_t *oc)
{
    for (; l >= 0; l--, steps = 1) {
        const ein_loop *L = &s->loops[l];
        *oa += steps * L->stride[0];
        *ob += steps * L->stride[1];
        *oc += steps * L->stride[2];
        if ((idx[l] += steps) < L->extent)
            return;
        *oa -= L->stride[0] * L->extent;
        *ob -= L->stride[1] * L->extent;
        *oc -= L->stride[2] * L->extent;
        idx[l] = 0;
    }
}

/* Kernel calls [lo, hi) of the outer odometer, in order. */
static void dense_range(const dense_job *j, int64_t lo, int64_t hi)
{
    const ein_step *s = j->s;
    size_t es = ein_dtype_size(j->p->dtype);
    int no = j->no;
    int64_t idx[EIN_MAX_LABELS], oa = 0, ob = 0, oc = 0, f = lo;
    for (int l = no - 1; l >= 0; l--) {
        const ein_loop *L = &s->loops[l];
        idx[l] = f % L->extent;
        f /= L->extent;
        oa += idx[l] * L->stride[0];
        ob += idx[l] * L->stride[1];
        oc += idx[l] * L->stride[2];
    }
    /* Whether the table batches a shape depends on the shape alone, so
     * the first refusal stands for every call. */
    bool batch = j->batch;
    for (int64_t call = lo; call < hi;) {
        const char *pa = j->a + oa * (int64_t)es, *pb = j->b + ob * (int64_t)es;
        char *pc = j->c + oc * (int64_t)es;
        int64_t done = 1;
        int acc = 0;   /* a summed loop past its first index */
        for (int l = 0; l < no; l++)
            acc |= s->outer_sums[l] && idx[l] > 0;
        if (batch) {
            const ein_loop *L = &s->loops[no - 1];
            int64_t run = L->extent - idx[no - 1];
            if (run > hi - call)
                run = hi - call;
            /* Dots along a summed loop all add into one element ("ij,ji->"):
             * it starts from 0 (0 + d is d: a dot is never -0), as the
             * first of one call each would. */
            if (s->outer_sums[no - 1] && !acc) {
                memset(pc, 0, es);
                acc = 1;
            }
            if (run_batch(j->p, s, run, L->stride, pa, pb, pc, acc))
                done = run;
            else
                batch = false;
        }
        if (!batch) {
            if (j->r1 > 0)
                run_gemv_part(j->p, s, pa, pb, pc, acc, j->r0, j->r1);
            else if (j->tg)
                run_tgemm(j->p, s, pa, pb, pc, j->nthreads);
            else
                run_kernel(j->p, s, pa, pb, pc, acc, j->nthreads);
        }
        call += done;
        odometer_add(s, no - 1, done, idx, &oa, &ob, &oc);
    }
}

/* Threads claim chunks of calls from a counter, so one that loses its
 * core to another process does not hold the others up. */
static void dense_task(void *ctx, int t, int nt)
{
    dense_job *j = ctx;
    (void)t;
    int64_t chunk = j->calls / (4 * (int64_t)nt);
    if (chunk < 1)
        chunk = 1;
    for (;;) {
        int64_t lo = atomic_fetch_add(&j->next, chunk);
        if (lo >= j->calls)
            return;
        dense_range(j, lo, lo + chunk < j->calls ? lo + chunk : j->calls);
    }
}

/* GEMVs along a summed loop ("abc,ac->b": y += A_a x_a for each a), each
 * too small to thread: thread t runs every call on its share of the rows
 * (whole blocks of eight), so each y element sums the calls in order on
 * one thread, with the bits of one thread.  abc,ac->b 100x200x300 f32,
 * two threads: 927-993 -> 462-478 us. */
static void rows_task(void *ctx, int t, int nt)
{
    const dense_job *j = ctx;
    int64_t m = j->s->m;
    int64_t r0 = t == 0 ? 0 : m * t / nt / 8 * 8;
    int64_t r1 = t == nt - 1 ? m : m * (t + 1) / nt / 8 * 8;
    if (r1 <= r0)
        return;
    dense_job part = {.p = j->p, .s = j->s, .a = j->a, .b = j->b, .c = j->c,
                      .no = j->no, .calls = j->calls, .nthreads = 1,
                      .r0 = r0, .r1 = r1};
    atomic_init(&part.next, 0);
    dense_range(&part, 0, part.calls);
}

/* A dense step: the outer loops (batch, and extra m/n/k labels) run here
 * as an odometer around the kernel; a summed outer loop makes every call
 * after its first accumulate.  With a tensor GEMM in the table, only the
 * batch loops run here.  Many small calls with no summed loop among them
 * are split between threads, each call whole on one thread, so the bits
 * do not depend on the thread count. */
static bool run_whole_dot(const ein_plan *p, const ein_step *s, const void *a,
                          const void *b, void *out);

static void run_dense(const ein_plan *p, const ein_step *s, const char *a,
                      const char *b, char *c)
{
    bool tg = s->grouped && (p->dtype == EIN_F32 ? p->kt->tgemm_f32 != NULL
                                                 : p->kt->tgemm_f64 != NULL);
    dense_job j = {.p = p, .s = s, .a = a, .b = b, .c = c, .tg = tg,
                   .no = tg ? s->nbatch : s->nouter, .calls = 1, .nthreads = p->nthreads};
    atomic_init(&j.next, 0);
    bool any_sum = false;
    for (int l = 0; l < j.no; l++) {
        j.calls *= s->loops[l].extent;
        any_sum |= s->outer_sums[l];
    }
    if (j.calls == 0)
        return;
    if (j.no == 0) {           /* the common case: one kernel call */
        if (run_whole_dot(p, s, a, b, c))
            return;
        if (tg)
            run_tgemm(p, s, a, b, c, p->nthreads);
        else
            run_kernel(p, s, a, b, c, 0, p->nthreads);
        return;
    }
    bool f32 = p->dtype == EIN_F32;
    if (!tg && !any_sum && (s->kind == EIN_K_GEMM || s->kind == EIN_K_OUTER))
        j.batch = f32 ? p->kt->gemm_batch_f32 != NULL : p->kt->gemm_batch_f64 != NULL;
    else if (!any_sum && s->kind == EIN_K_GEMV)
        j.batch = f32 ? p->kt->gemv_batch_f32 != NULL : p->kt->gemv_batch_f64 != NULL;
    else if (s->kind == EIN_K_DOT)   /* one thread if a loop sums (below) */
        j.batch = f32 ? p->kt->dot_batch_f32 != NULL : p->kt->dot_batch_f64 != NULL;
    double per_call = s->flops / (double)j.calls;
    bool mv = s->kind == EIN_K_GEMV || s->kind == EIN_K_DOT;
    double mt = mv ? EIN_BATCH_MT_FLOPS_MV : EIN_BATCH_MT_FLOPS;
    double work = mv ? s->flops : s->flops + EIN_BATCH_CALL_FLOPS * (double)j.calls;
    double enough = mv ? EIN_BATCH_MT_FLOPS_MV : EIN_BATCH_MT_WORK;
    if (p->nthreads > 1 && j.calls > 1 && !any_sum && per_call < mt && work >= enough) {
        j.nthreads = 1;
        int nt = p->nthreads < j.calls ? p->nthreads : (int)j.calls;
        ein_pool_run(nt, dense_task, &j);
        return;
    }
    if (p->nthreads > 1 && any_sum && s->kind == EIN_K_GEMV && per_call < mt &&
        s->flops >= enough && s->m >= 16) {
        ein_pool_run(p->nthreads, rows_task, &j);
        return;
    }
    dense_range(&j, 0, j.calls);
}

/* A GEMV whose vector is gathered first (ein_step.xpack): into this
 * thread's packing buffer in the matrix's order, then one GEMV over the
 * contiguous rows.  Without the buffer (out of memory), one GEMV per
 * index of the outer sums, adding up, as the step would run unpacked. */
static void run_xpack(const ein_plan *p, const ein_step *s, const char *a,
                      const char *b, char *c)
{
    const size_t es = ein_dtype_size(p->dtype);
    const ein_group *g = &s->gk;
    const char *mat = s->swap ? b : a, *vec = s->swap ? a : b;
    const int inner = g->ndim - 1;
    char *xp = ein_scratch((size_t)s->k * es);
    int64_t idx[EIN_GROUP_MAX] = {0}, om = 0, ov = 0;
    ein_step one = *s;
    one.swap = false;
    if (!xp) {
        one.k = g->ext[inner];
        one.rsb = g->stride[1][inner];
    }
    const int64_t n = g->ext[inner], sv = g->stride[1][inner];
    for (int64_t q = 0;; q++) {   /* q: the index over all but the inner sum */
        if (xp) {
            if (p->dtype == EIN_F32)
                for (int64_t j = 0; j < n; j++)
                    ((float *)(void *)xp)[q * n + j] =
                        ((const float *)(const void *)vec)[ov + j * sv];
            else
                for (int64_t j = 0; j < n; j++)
                    ((double *)(void *)xp)[q * n + j] =
                        ((const double *)(const void *)vec)[ov + j * sv];
        } else {
            run_kernel(p, &one, mat + om * (int64_t)es, vec + ov * (int64_t)es, c, q > 0,
                       p->nthreads);
        }
        int d = inner - 1;   /* the odometer over the outer sums */
        for (; d >= 0; d--) {
            om += g->stride[0][d];
            ov += g->stride[1][d];
            if (++idx[d] < g->ext[d])
                break;
            om -= g->stride[0][d] * g->ext[d];
            ov -= g->stride[1][d] * g->ext[d];
            idx[d] = 0;
        }
        if (d < 0)
            break;
    }
    if (xp)
        run_kernel(p, &one, mat, xp, c, 0, p->nthreads);
}

/* A step without a dense kernel: the table's single-operand or product
 * loops when they take the shape, else the generic loop nest.  Large
 * steps split one free loop across threads; every output element is
 * still computed by one thread with the same additions, so the result
 * does not depend on the thread count. */
typedef struct generic_job {
    const ein_plan *p;
    const ein_step *s;
    const void     *in[2];
    void           *out;
    int             split;   /* the free loop the threads share, or -1 */
} generic_job;

/* Bytes a step must touch before two threads pay.  Measured on the
 * 2-core development VM (one quiet run, best of 30): sums, transposes
 * and products of 256 KiB to 1 MiB ran 1.4-1.9x faster on two threads,
 * and 64-128 KiB ones 1.0-1.8x, too uneven to count on. */
#define EIN_GENERIC_MT_BYTES (1 << 18)

/* A step's interleaved strides st (loop l, tensor t at l * (nin + 1) + t)
 * as the unary kernels take them: one array per tensor. */
static void split_strides(const ein_step *s, const int64_t *st, int64_t *sa, int64_t *sb,
                          int64_t *so)
{
    const int nt = s->nin + 1;
    for (int l = 0; l < s->nloops; l++) {
        sa[l] = st[l * nt];
        sb[l] = s->nin == 2 ? st[l * nt + 1] : 0;
        so[l] = st[l * nt + s->nin];
    }
}

/* The table's loops for step s over extents ext and strides st (loop-
 * major, the output last); returns the kind that ran, or 0 when the shape
 * is left to the loop nest.  With out == NULL it only classifies. */
static int generic_kernel(const ein_plan *p, const ein_step *s, const int64_t *ext,
                          const int64_t *st, const void *const *in, void *out)
{
    if (s->nloops > EIN_UN_MAXL || s->nin > 2)
        return 0;
    int64_t sa[EIN_UN_MAXL], sb[EIN_UN_MAXL], so[EIN_UN_MAXL];
    split_strides(s, st, sa, sb, so);
    const void *a = in ? in[0] : NULL, *b = in && s->nin == 2 ? in[1] : NULL;
    if (s->nin == 1)   /* copies, transposes, diagonals, sums over axes */
        return p->dtype == EIN_F32
            ? p->kt->unary_f32(s->nloops, s->nfree, ext, sa, so, a, out)
            : p->kt->unary_f64(s->nloops, s->nfree, ext, sa, so, a, out);
    /* products, and sums of them along the output */
    return p->dtype == EIN_F32
        ? p->kt->product_f32(s->nloops, s->nfree, ext, sa, sb, so, a, b, out)
        : p->kt->product_f64(s->nloops, s->nfree, ext, sa, sb, so, a, b, out);
}

/* The last step of a chain that sums its tiled label, on the rows of
 * one tile: column sums carried in `carry` (see ein_carry_f32_fn).  The
 * planner made such a chain only for a step the carry kernel takes. */
static void carry_kernel(const ein_plan *p, const ein_step *s, const int64_t *ext,
                         const int64_t *st, const void *const *in, void *out,
                         double *carry, bool first, bool last)
{
    int64_t sa[EIN_UN_MAXL], sb[EIN_UN_MAXL], so[EIN_UN_MAXL];
    split_strides(s, st, sa, sb, so);
    const int64_t *sbp = s->nin == 2 ? sb : NULL;
    int done = p->dtype == EIN_F32
        ? p->kt->carry_f32(s->nloops, s->nfree, ext, sa, sbp, so, in[0],
                           s->nin == 2 ? in[1] : NULL, out, carry, first, last)
        : p->kt->carry_f64(s->nloops, s->nfree, ext, sa, sbp, so, in[0],
                           s->nin == 2 ? in[1] : NULL, out, carry, first, last);
    assert(done);
    (void)done;
}

static void step_loops(const ein_step *s, int64_t *ext, int64_t *st)
{
    const int nt = s->nin + 1;
    for (int l = 0; l < s->nloops; l++) {
        ext[l] = s->loops[l].extent;
        for (int t = 0; t < nt; t++)
            st[l * nt + t] = s->loops[l].stride[t];
    }
}

int ein_generic_kind(const ein_plan *p, const ein_step *s)
{
    int64_t ext[EIN_MAX_LABELS], st[EIN_MAX_LABELS * EIN_STEP_MAXT];
    step_loops(s, ext, st);
    return generic_kernel(p, s, ext, st, NULL, NULL);
}

static void generic_range(const generic_job *j, int64_t lo, int64_t hi)
{
    const ein_step *s = j->s;
    const size_t es = ein_dtype_size(j->p->dtype);
    int64_t ext[EIN_MAX_LABELS], st[EIN_MAX_LABELS * EIN_STEP_MAXT];
    const char *in[2] = {j->in[0], j->in[1]};
    char *out = j->out;
    step_loops(s, ext, st);
    if (j->split >= 0) {
        const ein_loop *L = &s->loops[j->split];
        ext[j->split] = hi - lo;
        for (int t = 0; t < s->nin; t++)
            in[t] += lo * L->stride[t] * (int64_t)es;
        out += lo * L->stride[s->nin] * (int64_t)es;
    }
    const void *inv[2] = {in[0], in[1]};
    if (!generic_kernel(j->p, s, ext, st, inv, out))
        ein_loopnest(j->p->dtype, s->nin, inv, out, s->nloops, s->nfree, ext, st);
}

static void generic_task(void *ctx, int t, int nt)
{
    const generic_job *j = ctx;
    int64_t n = j->s->loops[j->split].extent;
    generic_range(j, n * t / nt, n * (t + 1) / nt);
}


typedef struct sum_job {
    const ein_plan *p;
    const char     *x, *y;    /* the lowest elements; y NULL: a sum, not a dot */
    int64_t         n, chunk, nchunks;
    double         *part;
} sum_job;

/* One chunk's sum: the dot of x and y, or the sum of x (y NULL).  Every
 * chunked sum, tiled chains' included, takes its chunks from here. */
static double chunk_sum(const ein_plan *p, const void *x, const void *y, int64_t len)
{
    const ein_ktable *kt = p->kt;
    if (p->dtype == EIN_F32)
        return y ? kt->dot_f32(len, x, 1, y, 1) : kt->sum_f32(x, len);
    return y ? kt->dot_f64(len, x, 1, y, 1) : kt->sum_f64(x, len);
}

static void sum_task(void *ctx, int t, int nt)
{
    const sum_job *j = ctx;
    const size_t es = ein_dtype_size(j->p->dtype);
    for (int64_t c = j->nchunks * t / nt; c < j->nchunks * (t + 1) / nt; c++) {
        int64_t lo = c * j->chunk, len = j->n - lo < j->chunk ? j->n - lo : j->chunk;
        const char *x = j->x + (size_t)lo * es, *y = j->y ? j->y + (size_t)lo * es : NULL;
        j->part[c] = chunk_sum(j->p, x, y, len);
    }
}

/* The sum of n chunk sums, added in order, stored + 0 (-0 becomes +0,
 * as numpy's). */
static void store_total(const ein_plan *p, const double *part, int64_t n, void *out)
{
    double total = 0;
    for (int64_t c = 0; c < n; c++)
        total += part[c];
    if (p->dtype == EIN_F32)
        *(float *)out = (float)total + 0.0f;
    else
        *(double *)out = total + 0.0;
}

/* Chunks of a whole sum or dot of n elements (their size depends on n
 * alone), summed on nt threads; the chunk sums are added in order and
 * stored + 0 (-0 becomes +0, as numpy's). */
static void chunked_sum(const ein_plan *p, sum_job *j, double bytes, void *out)
{
    j->chunk = ein_sum_chunk(j->n);
    j->nchunks = (j->n + j->chunk - 1) / j->chunk;
    double part[EIN_SUM_MAXCH];
    j->part = part;
    int nt = p->nthreads > 1 && bytes >= EIN_GENERIC_MT_BYTES ? p->nthreads : 1;
    if (nt > j->nchunks)
        nt = (int)j->nchunks;
    ein_pool_run(nt, sum_task, j);
    store_total(p, part, j->nchunks, out);
}

static bool run_whole_dot(const ein_plan *p, const ein_step *s, const void *a,
                          const void *b, void *out)
{
    if (!ein_whole_dot(s))
        return false;
    sum_job j = {.p = p, .x = a, .y = b, .n = s->k};
    chunked_sum(p, &j, s->bytes, out);
    return true;
}

static bool run_whole_sum(const ein_plan *p, const ein_step *s, const void *in,
                          void *out)
{
    if (s->nin != 1 || s->nfree != 0 || s->nloops != 1 ||
        llabs(s->loops[0].stride[0]) != 1 || s->loops[0].extent <= EIN_SUM_CHUNK)
        return false;
    const size_t es = ein_dtype_size(p->dtype);
    sum_job j = {.p = p, .x = in, .n = s->loops[0].extent};
    if (s->loops[0].stride[0] < 0)   /* read it forwards from its lowest element */
        j.x -= (size_t)(j.n - 1) * es;
    chunked_sum(p, &j, s->bytes, out);
    return true;
}

static void run_generic(const ein_plan *p, const ein_step *s,
                        const void *const *in, void *out)
{
    if (run_whole_sum(p, s, in[0], out))
        return;
    generic_job j = {.p = p, .s = s, .in = {in[0], s->nin == 2 ? in[1] : NULL},
                     .out = out, .split = -1};
    if (p->nthreads > 1 && s->bytes >= EIN_GENERIC_MT_BYTES) {
        const int64_t es = (int64_t)ein_dtype_size(p->dtype);
        /* A loop no tensor walks contiguously, that shares out evenly
         * enough, first: the threads then read disjoint runs of memory,
         * where split along a contiguous loop both read every row's
         * lines (abcd,abcd->ad 20x30x40x50 f32, d split: 325-390 us on
         * two threads against 345-352 on one; a split: 183-209 us). */
        int disjoint = -1;
        for (int l = 0; l < s->nfree; l++) {
            /* Not a loop whose whole run is under two cache lines of a
             * contiguous input: both threads would read every line
             * ("bn,bn->n" with n = 8: 239 -> 275 us on two). */
            const ein_loop *L = &s->loops[l];
            bool in_lines = L->extent * es < 128 &&
                            (llabs(L->stride[0]) == 1 || (s->nin == 2 && llabs(L->stride[1]) == 1));
            if (L->extent >= 2 && !in_lines &&
                (j.split < 0 || L->extent > s->loops[j.split].extent))
                j.split = l;
            bool unit = false;
            for (int t = 0; t <= s->nin; t++)
                unit |= llabs(L->stride[t]) == 1;
            bool even = L->extent % p->nthreads == 0 ||
                        L->extent >= 8 * (int64_t)p->nthreads;
            if (!unit && even &&
                (disjoint < 0 || L->extent > s->loops[disjoint].extent))
                disjoint = l;
        }
        if (disjoint >= 0)
            j.split = disjoint;
    }
    if (j.split < 0) {
        generic_range(&j, 0, 0);
        return;
    }
    int nt = p->nthreads < s->loops[j.split].extent ? p->nthreads
                                                    : (int)s->loops[j.split].extent;
    ein_pool_run(nt, generic_task, &j);
}

/* A tiled chain (ein_step.chain): thread t runs every step of the chain
 * over tiles of rows it claims, keeping its tiles of the intermediates
 * at tile_rows + 1 rows times t into their blocks (the planner checked
 * that those do not overlap).  Each output element is computed by the same kernel
 * from the same inputs as without tiles, so the bits are the same, and
 * the same for any thread count. */
typedef struct chain_job {
    const ein_plan  *p;
    int              first, n;
    const void     **base;
    double          *carry;     /* tile_summed: the sums carried;
                                 * tile_flat: each chunk's sum */
    int64_t          ntiles;
    atomic_llong     next;
} chain_job;

/* Bytes into intermediate `slot` where thread t keeps its tile: tile_rows
 * + 1 rows apart (a chain's last tile may have one more row), or
 * tile_rows elements for a dot's chunks (none has more). */
static size_t tile_offset(const ein_plan *p, const ein_step *s, int t, int slot)
{
    int64_t row = p->slots[slot].size / s->tile_ext;   /* every chain step's */
    int64_t rows = s->tile_rows + (s->tile_flat ? 0 : 1);
    return (size_t)t * (size_t)(rows * row) * ein_dtype_size(p->dtype);
}

static void chain_tile(const chain_job *j, int t, int64_t lo, int64_t hi)
{
    const ein_plan *p = j->p;
    const size_t es = ein_dtype_size(p->dtype);
    for (int k = j->first; k < j->first + j->n; k++) {
        const ein_step *s = &p->steps[k];
        const bool last = k == j->first + j->n - 1;
        int64_t ext[EIN_MAX_LABELS], st[EIN_MAX_LABELS * EIN_STEP_MAXT];
        step_loops(s, ext, st);
        const ein_loop *L = &s->loops[s->tile_loop];
        ext[s->tile_loop] = (hi - lo) * s->tile_unit;
        const int64_t first_el = lo * s->tile_unit;
        const void *in[2] = {NULL, NULL};
        for (int q = 0; q < s->nin; q++) {
            const char *x = j->base[s->in[q]];
            if (k > j->first && s->in[q] == p->steps[k - 1].out)   /* a tile */
                in[q] = x + tile_offset(p, s, t, s->in[q]);
            else
                in[q] = x + first_el * L->stride[q] * (int64_t)es;
        }
        char *o = (char *)j->base[s->out];
        if (!last)
            o += tile_offset(p, s, t, s->out);
        else
            o += first_el * L->stride[s->nin] * (int64_t)es;   /* summed: 0 */
        if (last && s->tile_summed) {
            carry_kernel(p, s, ext, st, in, o, j->carry, lo == 0, hi == s->tile_ext);
            continue;
        }
        if (last && s->tile_flat) {   /* one chunk of the whole dot */
            j->carry[lo / s->tile_rows] = chunk_sum(p, in[0], in[1], hi - lo);
            continue;
        }
        if (!generic_kernel(p, s, ext, st, in, o))
            ein_loopnest(p->dtype, s->nin, in, o, s->nloops, s->nfree, ext, st);
    }
}

static void chain_task(void *ctx, int t, int nt)
{
    chain_job *j = ctx;
    (void)nt;
    const ein_step *head = &j->p->steps[j->first];
    for (;;) {
        int64_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->ntiles)
            return;
        int64_t lo = k * head->tile_rows, hi = lo + head->tile_rows;
        if (head->tile_flat ? hi > head->tile_ext   /* the dot's chunks exactly */
                            : hi > head->tile_ext || head->tile_ext - hi < 2)
            hi = head->tile_ext;                     /* no 1-row tile */
        chain_tile(j, t, lo, hi);
    }
}

static void run_chain(const ein_plan *p, int first, const void **base, char *mem)
{
    const ein_step *head = &p->steps[first];
    chain_job j = {.p = p, .first = first, .n = head->chain, .base = base};
    double part[EIN_SUM_MAXCH];   /* tile_flat: the sum of each chunk */
    if (head->tile_summed)   /* tiles in order, on one thread (tile_threads) */
        j.carry = (double *)(void *)(mem + head->carry_off);
    else if (head->tile_flat)
        j.carry = part;
    /* The last tile takes a remainder under two rows (see chain_task). */
    j.ntiles = head->tile_ext / head->tile_rows;
    if (head->tile_ext % head->tile_rows >= (head->tile_flat ? 1 : 2))
        j.ntiles++;
    atomic_init(&j.next, 0);
    double bytes = 0;
    for (int k = first; k < first + head->chain; k++)
        bytes += p->steps[k].bytes;
    int nt = p->nthreads > 1 && bytes >= EIN_GENERIC_MT_BYTES ? head->tile_threads : 1;
    if (nt > j.ntiles)
        nt = (int)j.ntiles;
    if (nt > 1)
        ein_pool_run(nt, chain_task, &j);
    else
        chain_task(&j, 0, 1);
    if (head->tile_flat)   /* as chunked_sum */
        store_total(p, part, j.ntiles, (void *)base[p->steps[first + head->chain - 1].out]);
}

/* An execute's workspace block, done with: kept by the plan for the next
 * execute if it is the plan's own size and no other execute left one
 * there first (two threads may run one plan at once), freed otherwise. */
static void give_back_ws(const ein_plan *p, char *mem, bool redirect)
{
    void *none = NULL;
    if (mem && !redirect && p->keep_ws &&
        atomic_compare_exchange_strong(&((ein_plan *)p)->ws_kept, &none, (void *)mem))
        return;
    ein_free(mem);
}

ein_status ein_run(const ein_plan *p, const ein_tensor *const *ops, ein_tensor *out)
{
    /* ein_execute made a direct plan's call itself unless the output
     * overlaps an input: then it runs here, through scratch. */
    bool redirect = ein_out_overlaps(p, ops, out);
    uintptr_t olo = (uintptr_t)out->data + (uintptr_t)p->out_span[0];
    uintptr_t ohi = (uintptr_t)out->data + (uintptr_t)p->out_span[1];
    size_t bytes = p->workspace, scratch_off = bytes;
    if (redirect)
        bytes += (size_t)(ohi - olo);
    char *mem = NULL;
    if (bytes) {
        if (!redirect && p->keep_ws)
            mem = atomic_exchange(&((ein_plan *)p)->ws_kept, NULL);
        if (!mem)
            mem = ein_malloc(bytes);
        if (!mem)
            return ein_fail(EIN_ERR_NOMEM, "%s: out of memory allocating %zu bytes "
                            "of workspace", p->text, bytes);
    }

    /* Slot pointers: on the stack for any plan but a huge one. */
    const void *stack_base[64], **base = stack_base;
    if (p->nslots > 64 && !(base = ein_malloc((size_t)p->nslots * sizeof *base))) {
        give_back_ws(p, mem, redirect);
        return ein_fail(EIN_ERR_NOMEM, "%s: out of memory for %d slot pointers",
                        p->text, p->nslots);
    }
    for (int k = 0; k < p->nops; k++) {
        if (!p->slots[k].in_workspace) {
            base[k] = ops[k]->data;
            continue;
        }
        /* An operand of another dtype, converted to a C-order copy. */
        char *dst = mem + p->slots[k].offset;
        int64_t cs[EIN_MAX_DIMS];
        ein_c_strides(p->op_ndim[k], &p->op_shape[k * EIN_MAX_DIMS], cs);
        copy_convert(dst, p->dtype, cs, ops[k]->data, p->op_dtype[k],
                     &p->op_stride[k * EIN_MAX_DIMS], p->op_ndim[k],
                     &p->op_shape[k * EIN_MAX_DIMS]);
        base[k] = dst;
    }
    for (int sl = p->nops; sl < EIN_OUT_SLOT(p); sl++)
        base[sl] = mem + p->slots[sl].offset;
    char *outp = out->data;
    if (redirect)   /* same strides, shifted into the scratch block */
        outp = mem + scratch_off + ((uintptr_t)out->data - olo);
    base[EIN_OUT_SLOT(p)] = outp;

    for (int i = 0; i < p->nsteps; i++) {
        const ein_step *s = &p->steps[i];
        void *o = (void *)base[s->out];
        if (s->chained)
            continue;          /* ran with its chain's first step */
        if (s->chain) {
            run_chain(p, i, base, mem);
            continue;
        }
        switch (s->kind) {
        case EIN_K_ZERO:
            fill_zero(o, p->dtype, p->out_ndim, p->out_shape, p->out_stride);
            break;
        case EIN_K_GENERIC: {
            const void *in[2] = {base[s->in[0]], s->nin == 2 ? base[s->in[1]] : NULL};
            run_generic(p, s, in, o);
            break;
        }
        default:
            if (s->xpack)
                run_xpack(p, s, base[s->in[0]], base[s->in[1]], o);
            else
                run_dense(p, s, base[s->in[0]], base[s->in[1]], o);
            break;
        }
    }
    if (p->plus_zero)
        plus_zero(outp, p->dtype, p->out_ndim, p->out_shape, p->out_stride);
    if (redirect)
        copy_convert(out->data, p->dtype, p->out_stride, outp, p->dtype,
                     p->out_stride, p->out_ndim, p->out_shape);
    if (base != stack_base)
        ein_free(base);
    give_back_ws(p, mem, redirect);
    return EIN_OK;
}
