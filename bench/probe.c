/* probe.c — the machine line and the probe that percent-of-peak divides
 * by: FMA throughput (AVX-512 and AVX2, one and two threads) and read
 * bandwidth at L1, L2 and memory sizes, best of a few short runs. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "internal.h"

void bn_machine_info(bn_machine *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->cpu, sizeof m->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512], model[128] = "", fam[16] = "", mod[16] = "";
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            v[strcspn(v, "\n")] = 0;
            if (!model[0] && strncmp(line, "model name", 10) == 0)
                snprintf(model, sizeof model, "%s", v);
            else if (!fam[0] && strncmp(line, "cpu family", 10) == 0)
                snprintf(fam, sizeof fam, "%s", v);
            else if (!mod[0] && strncmp(line, "model\t", 6) == 0)
                snprintf(mod, sizeof mod, "%s", v);
            if (model[0] && fam[0] && mod[0])
                break;
        }
        fclose(f);
        snprintf(m->cpu, sizeof m->cpu, "%s (family %s model %s)",
                 model[0] ? model : "?", fam[0] ? fam : "?", mod[0] ? mod : "?");
    }
    m->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    m->l2 = l2 > 0 ? (size_t)l2 : (size_t)1 << 20;
    const ein_ktable *kt = ein_ktable_default();
    snprintf(m->ktable, sizeof m->ktable, "%s", kt ? kt->name : "?");
    __builtin_cpu_init();
    m->has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    m->has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* ---- running a kernel on one or two threads at once ---------------------- */

typedef struct job {
    int    which;          /* 0..3 FMA (512 f32, 512 f64, 256 f32, 256 f64),
                              4 read512, 5 read256: eight streams;
                              6, 7 the same as one stream */
    long   iters;
    const float *buf;
    size_t n;
    int    passes;
    pthread_barrier_t *bar;
    double work;           /* FLOPs, or bytes read */
} job;

static void run_job(job *j)
{
    switch (j->which) {
    case 0: j->work = bn_fma512_f32(j->iters); break;
    case 1: j->work = bn_fma512_f64(j->iters); break;
    case 2: j->work = bn_fma256_f32(j->iters); break;
    case 3: j->work = bn_fma256_f64(j->iters); break;
    case 4: case 6: bn_read512(j->buf, j->n, j->passes, j->which == 4 ? 8 : 1);
            j->work = (double)j->n * 4.0 * j->passes; break;
    default: bn_read256(j->buf, j->n, j->passes, j->which == 5 ? 8 : 1);
            j->work = (double)j->n * 4.0 * j->passes; break;
    }
}

static void *thread_main(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(j->bar);
    run_job(j);
    return NULL;
}

/* Work per second with nthreads copies of the job (jobs[i] each); the
 * wall time covers all of them, so a busy neighbour shows. */
static double rate(job *jobs, int nthreads)
{
    bn_pin_self(nthreads == 1);     /* where einsum's one-thread work runs */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    pthread_t tid[2];
    for (int i = 0; i < nthreads; i++)
        jobs[i].bar = &bar;
    for (int i = 1; i < nthreads; i++)
        pthread_create(&tid[i], NULL, thread_main, &jobs[i]);
    pthread_barrier_wait(&bar);
    double t0 = bn_now();
    run_job(&jobs[0]);
    for (int i = 1; i < nthreads; i++)
        pthread_join(tid[i], NULL);
    double t = bn_now() - t0;
    pthread_barrier_destroy(&bar);
    double work = 0;
    for (int i = 0; i < nthreads; i++)
        work += jobs[i].work;
    return work / t;
}

/* Best of `tries` runs of about `secs` each: a peak, so the best is the
 * honest figure on a shared machine. */
/* Sized job for about `secs` at the measured rate. */
static void size_fma(job *j, double secs)
{
    j->iters = 1000;
    double r = rate(j, 1);
    long iters = (long)(secs * r / j->work * 1000.0);
    j->iters = iters < 1000 ? 1000 : iters;
}

static void size_read(job *j, int which, float *buf, size_t n, int nthreads,
                      double secs)
{
    /* Two threads each read their own half. */
    size_t per = (n / (size_t)nthreads) & ~(size_t)63;
    j[0] = (job){.which = which, .buf = buf, .n = per, .passes = 1};
    j[1] = (job){.which = which, .buf = buf + per, .n = per, .passes = 1};
    double r = rate(j, 1);        /* also faults the pages in */
    int passes = (int)(secs * r / ((double)per * 4.0));
    j[0].passes = j[1].passes = passes < 1 ? 1 : passes;
}

void bn_probe(bn_machine *m, bool quick)
{
    /* Peaks are the best of several short runs, taken round-robin over
     * all the figures so that a slow spell (a busy neighbour on this
     * shared machine; it only ever lowers a run) cannot hold every run of
     * one figure. */
    int tries = quick ? 6 : 12;
    double secs = quick ? 0.01 : 0.015;
    int nt2 = m->ncpu >= 2 ? 2 : 1;
    enum { NF = 8, NB = 8 };
    job fj[NF][2];
    double *fout[NF] = {&m->fma512[0][0], &m->fma512[0][1], &m->fma512[1][0],
                        &m->fma512[1][1], &m->fma256[0][0], &m->fma256[0][1],
                        &m->fma256[1][0], &m->fma256[1][1]};
    bool fon[NF];
    for (int f = 0; f < NF; f++) {
        int which = f < 4 ? f / 2 : 2 + (f - 4) / 2;
        fon[f] = f < 4 ? m->has_avx512 : m->has_avx2;
        fj[f][0] = fj[f][1] = (job){.which = which};
        if (fon[f]) {
            size_fma(&fj[f][0], secs);
            fj[f][1] = fj[f][0];
            rate(fj[f], f % 2 ? nt2 : 1);          /* warm up */
        }
        *fout[f] = 0;
    }
    int rd = m->has_avx512 ? 4 : m->has_avx2 ? 5 : -1;
    size_t big = (size_t)256 << 20;
    float *buf = rd >= 0 ? bn_alloc(big) : NULL;
    job bj[NB][2][2];   /* [size][eight streams, one][thread] */
    /* 64 MiB as well as 256: this VM's last-level cache (the host's,
     * shared) holds 64 MiB, read at 27 GB/s, twice the 256 MiB figure, so
     * GEMVs of that size showed as 200% of "memory". */
    double *bout[NB] = {&m->bw_l1, &m->bw_l2, &m->bw_l3, &m->bw_64m, &m->bw_mem,
                        &m->bw_l32, &m->bw_64m2, &m->bw_mem2};
    /* L2 at half its size: 1 MiB had filled the 1 MiB L2 of AMD Zen 5 and
     * read 126 GB/s, where GEMVs of 512 KiB read 150-210. */
    size_t bsize[NB] = {32u << 10, m->l2 / 2 / 256 * 256, 16u << 20, 64u << 20, big,
                        16u << 20, 64u << 20, big};
    int bthr[NB] = {1, 1, 1, 1, 1, nt2, nt2, nt2};
    if (buf)
        for (int b = 0; b < NB; b++)
            for (int l = 0; l < 2; l++)
                size_read(bj[b][l], rd + 2 * l, buf, bsize[b] / 4, bthr[b],
                          bsize[b] >= (64u << 20) ? 0.05 : secs);
    for (int t = 0; t < tries; t++) {
        for (int f = 0; f < NF; f++)
            if (fon[f]) {
                double x = rate(fj[f], f % 2 ? nt2 : 1) * 1e-9;
                if (x > *fout[f])
                    *fout[f] = x;
            }
        /* Memory-sized reads are slow: a few tries are enough. */
        for (int b = 0; buf && b < NB; b++)
            for (int l = 0; l < 2; l++)
                if (bsize[b] < (16u << 20) || t < (quick ? 1 : 3)) {
                    double x = rate(bj[b][l], bthr[b]) * 1e-9;
                    if (x > *bout[b])
                        *bout[b] = x;
                }
    }
    free(buf);
    m->probed = true;
}

double bn_peak_flops(const bn_machine *m, ein_dtype dt, int threads)
{
    int d = dt == EIN_F64 ? 1 : 0, t = threads >= 2 ? 1 : 0;
    if (strcmp(m->ktable, "avx512") == 0 && m->fma512[d][t] > 0)
        return m->fma512[d][t];
    if (strcmp(m->ktable, "generic") != 0 && m->fma256[d][t] > 0)
        return m->fma256[d][t];
    /* The generic table: still compare with the best the chip can do. */
    return m->fma512[d][t] > 0 ? m->fma512[d][t] : m->fma256[d][t];
}

double bn_peak_bw(const bn_machine *m, double bytes, int threads,
                  const char **level)
{
    /* Each level's probe size with some headroom: up to ~40 KiB stays in
     * the 48 KiB L1d, three quarters of L2 in L2, ~24 MiB is L3; with two
     * threads each core has its own L1 and L2, so those peaks double (an
     * assumption, not measured). */
    double k = threads >= 2 ? 2.0 : 1.0;
    if (bytes <= 40.0 * 1024 * k) {
        *level = "L1";
        return m->bw_l1 * k;
    }
    if (bytes <= 0.75 * (double)m->l2 * k) {
        *level = "L2";
        return m->bw_l2 * k;
    }
    if (bytes <= 24.0 * 1024 * 1024) {
        *level = "L3";
        return threads >= 2 ? m->bw_l32 : m->bw_l3;
    }
    if (bytes <= 96.0 * 1024 * 1024) {
        *level = "64M";
        return threads >= 2 ? m->bw_64m2 : m->bw_64m;
    }
    *level = "mem";
    return threads >= 2 ? m->bw_mem2 : m->bw_mem;
}
