/* threads.c — plans are immutable and ein_execute is reentrant:
 * one plan run from several threads at once, each on its own data, gives
 * every thread the same bits the plan gives when run alone.  The plans
 * cover every executor path that touches shared state: the kernels'
 * worker pool (GEMM and batched steps with 2 threads, so callers contend
 * for it), the per-run workspace (temporaries, converted operands), the
 * scratch copy for an output over an input, the plan cache behind
 * einsum_v; and the kernels' own threads (1 vs 2 threads, bitwise).
 *
 * A plain program, not a Criterion test: Criterion cannot start under
 * ThreadSanitizer (its shared arena's fixed mapping collides with TSan's
 * shadow memory; Snaipe/Criterion#274), and this is the test the TSan
 * tree (scripts/test.sh) exists to run.  Exit status 0 means all passed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

static int g_failures;

/* Report and count a failure; the run goes on so one report shows all. */
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            g_failures++;                                                  \
        }                                                                  \
    } while (0)
#define REQUIRE(cond, ...)                                                 \
    do {                                                                   \
        if (!(cond)) {                                                     \
            CHECK(cond, __VA_ARGS__);                                      \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

#define NTHREADS 4
#define REPS     6
#define MAXOPS   3

typedef struct spec {
    const char *expr;
    int         nops;
    ein_dtype   dt[MAXOPS];
    int         nd[MAXOPS];
    int64_t     shape[MAXOPS][4];
    bool        out_over_op0;   /* the output is operand 0's memory */
} spec;

/* Sizes are past each kernel's threading threshold (GEMM: m*n*k above
 * the unpacked small path's 144^3; GEMV: 32,768 elements; batched steps:
 * 4 MFLOP), so with 2 kernel threads the callers contend for the pool. */
static const spec k_specs[] = {
    {"ij,jk->ik", 2, {EIN_F32, EIN_F32}, {2, 2}, {{200, 160}, {160, 150}}, false},
    {"ij,jk->ik", 2, {EIN_F64, EIN_F64}, {2, 2}, {{170, 150}, {150, 160}}, false},
    /* GEMV, both orientations. */
    {"ij,j->i", 2, {EIN_F32, EIN_F32}, {2, 1}, {{1024, 300}, {300}}, false},
    {"ij,i->j", 2, {EIN_F64, EIN_F64}, {2, 1}, {{300, 1024}, {300}}, false},
    /* Batched: many calls split between threads. */
    {"bij,bjk->bik", 2, {EIN_F32, EIN_F32}, {3, 3}, {{96, 24, 32}, {96, 32, 40}}, false},
    /* Tensor GEMM over grouped labels. */
    {"abcd,cdef->abef", 2, {EIN_F32, EIN_F32}, {4, 4},
     {{12, 14, 8, 18}, {8, 18, 10, 15}}, false},
    /* A chain: temporaries in the per-run workspace. */
    {"ij,jk,kl->il", 3, {EIN_F64, EIN_F64, EIN_F64}, {2, 2, 2},
     {{30, 40}, {40, 50}, {50, 20}}, false},
    /* Mixed dtypes: operands converted into the workspace. */
    {"ij,jk->ik", 2, {EIN_F32, EIN_F64}, {2, 2}, {{50, 60}, {60, 70}}, false},
    /* The generic loop nest (a diagonal and a sum over one input). */
    {"iij,jk->ik", 2, {EIN_F32, EIN_F32}, {3, 2}, {{20, 20, 30}, {30, 10}}, false},
    /* Steps without a dense kernel past 1 MiB: the table's sum, copy and
     * product loops with a free loop split across the kernel threads. */
    {"ij->j", 1, {EIN_F32}, {2}, {{700, 400}}, false},
    {"ij,ji->ij", 2, {EIN_F64, EIN_F64}, {2, 2}, {{300, 260}, {260, 300}}, false},
    {"ij,ij->j", 2, {EIN_F32, EIN_F32}, {2, 2}, {{500, 300}, {500, 300}}, false},
    /* A long dot by chunks, the chunks shared by the kernel threads. */
    {"i,i->", 2, {EIN_F32, EIN_F32}, {1, 1}, {{300000}, {300000}}, false},
    /* A tiled chain: two loop steps run a tile of rows at a time, the
     * tiles claimed by the kernel threads, each with its own tile of
     * the intermediate. */
    {"ij,ij,ij->ij", 3, {EIN_F32, EIN_F32, EIN_F32}, {2, 2, 2},
     {{400, 300}, {400, 300}, {400, 300}}, false},
    /* A chain ending in a long dot: the dot's chunks as tiles, each
     * thread storing its chunks' sums, added once all are done. */
    {"ij,ij,ij->", 3, {EIN_F32, EIN_F32, EIN_F32}, {2, 2, 2},
     {{600, 300}, {600, 300}, {600, 300}}, false},
    /* The output over an input: a scratch copy per run. */
    {"ij,jk->ik", 2, {EIN_F64, EIN_F64}, {2, 2}, {{40, 40}, {40, 40}}, true},
};
#define NSPECS (sizeof k_specs / sizeof k_specs[0])

typedef struct data {
    ein_tensor op[MAXOPS], out;
    void *buf[MAXOPS], *obuf;
    size_t obytes;
} data;

static size_t count(const spec *s, int k)
{
    size_t n = 1;
    for (int d = 0; d < s->nd[k]; d++)
        n *= (size_t)s->shape[k][d];
    return n;
}

/* Fresh random operands (seeded) and an output of the plan's result. */
static void make_data(const spec *s, const ein_plan *p, uint64_t seed, data *D)
{
    ts_rng r = {seed};
    for (int k = 0; k < s->nops; k++) {
        size_t n = count(s, k), es = ein_dtype_size(s->dt[k]);
        D->buf[k] = malloc(n * es);
        REQUIRE(D->buf[k], "out of memory");
        if (s->dt[k] == EIN_F32)
            ts_fill_f32(D->buf[k], n, &r);
        else
            ts_fill_f64(D->buf[k], n, &r);
        D->op[k] = (ein_tensor){D->buf[k], s->dt[k], s->nd[k], s->shape[k], NULL};
    }
    ein_dtype dt;
    int64_t *shape = malloc(EIN_MAX_DIMS * sizeof *shape);
    int nd = ein_plan_result(p, &dt, shape);
    size_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= (size_t)shape[d];
    D->obytes = n * ein_dtype_size(dt);
    if (s->out_over_op0) {
        D->obuf = NULL;
        D->out = (ein_tensor){D->buf[0], dt, nd, shape, NULL};
    } else {
        D->obuf = calloc(n ? n : 1, ein_dtype_size(dt));
        REQUIRE(D->obuf, "out of memory");
        D->out = (ein_tensor){D->obuf, dt, nd, shape, NULL};
    }
}

static void free_data(const spec *s, data *D)
{
    for (int k = 0; k < s->nops; k++)
        free(D->buf[k]);
    free(D->obuf);
    free((void *)D->out.shape);
}

static ein_plan *plan_for(const spec *s, int nthreads)
{
    ein_tensor v[MAXOPS];
    const ein_tensor *ops[MAXOPS];
    for (int k = 0; k < s->nops; k++) {
        v[k] = (ein_tensor){NULL, s->dt[k], s->nd[k], s->shape[k], NULL};
        ops[k] = &v[k];
    }
    ein_options opt = {0};
    opt.num_threads = nthreads;
    ein_status st;
    ein_plan *p = ein_plan_new(s->expr, s->nops, ops, NULL, &opt, &st);
    REQUIRE(p, "%s: %s", s->expr, ein_last_error());
    return p;
}

typedef struct job {
    const spec     *s;
    const ein_plan *p;
    int             t;           /* thread number: picks the data seeds */
    const void     *want[REPS];  /* the lone run's result per rep */
    int             bad;
    char            msg[256];
} job;

static uint64_t seed_of(int t, int rep) { return 7000u + 100u * (unsigned)t + (unsigned)rep; }

/* Run the plan on (t, rep)'s data; returns the result bytes (malloc'd). */
static void *run_once(const spec *s, const ein_plan *p, int t, int rep, ein_status *st)
{
    data D;
    make_data(s, p, seed_of(t, rep), &D);
    const ein_tensor *ops[MAXOPS];
    for (int k = 0; k < s->nops; k++)
        ops[k] = &D.op[k];
    *st = ein_execute(p, ops, &D.out);
    void *res = malloc(D.obytes ? D.obytes : 1);
    memcpy(res, D.out.data, D.obytes);
    free_data(s, &D);
    return res;
}

static void *job_run(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < REPS; rep++) {
        ein_status st;
        void *got = run_once(j->s, j->p, j->t, rep, &st);
        size_t bytes = 1;
        ein_dtype dt;
        int64_t shape[EIN_MAX_DIMS];
        int nd = ein_plan_result(j->p, &dt, shape);
        bytes = ein_dtype_size(dt);
        for (int d = 0; d < nd; d++)
            bytes *= (size_t)shape[d];
        if (st != EIN_OK || memcmp(got, j->want[rep], bytes) != 0) {
            if (!j->bad)
                snprintf(j->msg, sizeof j->msg, "thread %d rep %d: %s%s", j->t, rep,
                         ein_status_str(st), st == EIN_OK ? ", different bits" : "");
            j->bad++;
        }
        free(got);
    }
    return NULL;
}

static void one_plan_many_threads_same_bits(void)
{
    for (size_t i = 0; i < NSPECS; i++)
        for (int nth = 1; nth <= 2; nth++) {
            const spec *s = &k_specs[i];
            ein_plan *p = plan_for(s, nth);
            job jobs[NTHREADS];
            for (int t = 0; t < NTHREADS; t++) {
                jobs[t] = (job){.s = s, .p = p, .t = t};
                for (int rep = 0; rep < REPS; rep++) {
                    ein_status st;
                    jobs[t].want[rep] = run_once(s, p, t, rep, &st);
                    REQUIRE(st == EIN_OK, "%s: %s", s->expr, ein_last_error());
                }
            }
            pthread_t th[NTHREADS];
            for (int t = 0; t < NTHREADS; t++)
                REQUIRE(pthread_create(&th[t], NULL, job_run, &jobs[t]) == 0, "pthread_create");
            for (int t = 0; t < NTHREADS; t++)
                pthread_join(th[t], NULL);
            for (int t = 0; t < NTHREADS; t++) {
                CHECK(jobs[t].bad == 0, "%s (plan threads %d): %s", s->expr, nth,
                      jobs[t].msg);
                for (int rep = 0; rep < REPS; rep++)
                    free((void *)jobs[t].want[rep]);
            }
            ein_plan_free(p);
        }
}

/* The same calls through einsum_v from every thread at once: the cache's
 * lookups, inserts, evictions and reference counts race with runs. */
typedef struct cjob {
    int t, bad;
    char msg[256];
} cjob;

static void *cache_run(void *arg)
{
    cjob *j = arg;
    for (int it = 0; it < 40; it++) {
        /* Shapes vary so that entries are inserted and evicted. */
        const spec *s = &k_specs[(size_t)(it + j->t) % NSPECS];
        ein_plan *p = plan_for(s, 1 + it % 2);
        data D;
        make_data(s, p, seed_of(j->t, it), &D);
        const ein_tensor *ops[MAXOPS];
        for (int k = 0; k < s->nops; k++)
            ops[k] = &D.op[k];
        /* The plan's answer first, from a copy of the inputs when the
         * output overwrites one. */
        data W;
        make_data(s, p, seed_of(j->t, it), &W);
        const ein_tensor *wops[MAXOPS];
        for (int k = 0; k < s->nops; k++)
            wops[k] = &W.op[k];
        ein_status st1 = ein_execute(p, wops, &W.out);
        ein_status st2 = einsum_v(s->expr, s->nops, ops, &D.out);
        if (st1 != EIN_OK || st2 != EIN_OK ||
            memcmp(W.out.data, D.out.data, D.obytes) != 0) {
            if (!j->bad)
                snprintf(j->msg, sizeof j->msg, "thread %d, %s: %s / %s", j->t,
                         s->expr, ein_status_str(st1), ein_status_str(st2));
            j->bad++;
        }
        free_data(s, &W);
        free_data(s, &D);
        ein_plan_free(p);
        if (it % 13 == 12)
            ein_cache_clear();
    }
    return NULL;
}

static void einsum_v_from_many_threads(void)
{
    pthread_t th[NTHREADS];
    cjob jobs[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        jobs[t] = (cjob){.t = t};
        REQUIRE(pthread_create(&th[t], NULL, cache_run, &jobs[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NTHREADS; t++)
        CHECK(jobs[t].bad == 0, "%s", jobs[t].msg);
    ein_cache_clear();
}

/* The kernels' worker pool directly: every table's GEMM, GEMV and tensor
 * GEMM with 2 threads give the bits of 1 thread, at sizes past the point
 * where the frame hands work to the pool. */
static void kernels_two_threads_same_bits(void)
{
    static const char *const tables[] = {"generic", "avx2", "avx512"};
    enum { M = 203, N = 157, K = 131 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    float *c1 = malloc(sizeof(float) * M * N), *c2 = malloc(sizeof(float) * M * N);
    double *da = malloc(sizeof(double) * M * K), *db = malloc(sizeof(double) * K * N);
    double *d1 = malloc(sizeof(double) * M * N), *d2 = malloc(sizeof(double) * M * N);
    REQUIRE(a && b && c1 && c2 && da && db && d1 && d2, "out of memory");
    ts_rng r = {99};
    ts_fill_f32(a, M * K, &r);
    ts_fill_f32(b, K * N, &r);
    ts_fill_f64(da, M * K, &r);
    ts_fill_f64(db, K * N, &r);
    for (int t = 0; t < 3; t++) {
        const ein_ktable *kt = ein_ktable_named(tables[t]);
        if (!kt)
            continue;
        for (int nth = 1; nth <= 2; nth++) {
            float *c = nth == 1 ? c1 : c2;
            double *d = nth == 1 ? d1 : d2;
            kt->gemm_f32(M, N, K, a, K, 1, b, N, 1, c, N, 1, 0, nth);
            kt->gemm_f64(M, N, K, da, K, 1, db, N, 1, d, N, 1, 0, nth);
        }
        CHECK(memcmp(c1, c2, sizeof(float) * M * N) == 0, "%s gemm_f32: 1 vs 2 threads",
              tables[t]);
        CHECK(memcmp(d1, d2, sizeof(double) * M * N) == 0, "%s gemm_f64: 1 vs 2 threads",
              tables[t]);
        /* GEMV: y = A x over a long matrix, both orientations. */
        for (int nth = 1; nth <= 2; nth++) {
            float *y = nth == 1 ? c1 : c2;
            kt->gemv_f32(M * 10, K / 10, a, K / 10, 1, b, 1, y, 1, 0, nth);
            kt->gemv_f32(K / 10, M * 10, a, 1, K / 10, b, 1, y + M * 10, 1, 0, nth);
        }
        CHECK(memcmp(c1, c2, sizeof(float) * (M * 10 + K / 10)) == 0,
              "%s gemv_f32: 1 vs 2 threads", tables[t]);
        if (kt->tgemm_f64) {
            /* m = (13, 15), n = (11, 14), k = (9, 14): permuted C order. */
            ein_group gm = {2, {13, 15}, {{15 * 126, 126}, {15 * 154, 154}}};
            ein_group gn = {2, {11, 14}, {{14, 1}, {1, 11}}};
            ein_group gk = {2, {9, 14}, {{14, 1}, {14 * 154, 154}}};
            for (int nth = 1; nth <= 2; nth++)
                kt->tgemm_f64(&gm, &gn, &gk, da, db, nth == 1 ? d1 : d2, 0, nth);
            CHECK(memcmp(d1, d2, sizeof(double) * 13 * 15 * 154) == 0,
                  "%s tgemm_f64: 1 vs 2 threads", tables[t]);
        }
    }
    free(a); free(b); free(c1); free(c2);
    free(da); free(db); free(d1); free(d2);
}

int main(void)
{
    one_plan_many_threads_same_bits();
    einsum_v_from_many_threads();
    kernels_two_threads_same_bits();
    if (g_failures) {
        fprintf(stderr, "threads: %d check(s) failed\n", g_failures);
        return 1;
    }
    printf("threads: all checks passed\n");
    return 0;
}
