/* timing.c — the sampler both the bench and its peer child use: warm up,
 * batch calls too short to time alone, and keep per-call times so the
 * caller can take medians over interleaved rounds. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* A sample shorter than this is dominated by the clock and loop: batch
 * calls until one sample lasts at least this long (seconds). */
#define BN_MIN_SAMPLE 100e-6
/* Re-warm at the start of a round only when a call is this cheap. */
#define BN_REWARM_BELOW 5e-3
/* A first call longer than this (seconds) counts as a sample. */
#define BN_LONG_CALL 1.5

double bn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bn_sample(bn_call_fn *fn, void *ctx, double budget, int min_reps,
              bn_samples *s)
{
    if (s->batch == 0) {
        double t0 = bn_now();
        if (fn(ctx))
            return 1;
        double t1 = bn_now() - t0;
        /* A call this long is its own sample: a second warm-up would
         * double the cost of the slowest workloads for little gain. */
        if (t1 > BN_LONG_CALL) {
            s->batch = 1;
            s->t[s->n++] = t1;
            if (min_reps <= 1 && t1 >= budget)
                return 0;
        }
        /* Calibrate on the fastest of up to three more calls unless calls
         * are long: the first pays page faults, cold caches and (for
         * einsum()) a plan-cache miss. */
        for (int i = 0; i < 3 && t1 < BN_REWARM_BELOW; i++) {
            t0 = bn_now();
            if (fn(ctx))
                return 1;
            double t = bn_now() - t0;
            if (i == 0 || t < t1)
                t1 = t;
            if (t1 >= BN_MIN_SAMPLE)
                break;
        }
        long batch = 1;
        if (t1 < BN_MIN_SAMPLE)
            batch = (long)(BN_MIN_SAMPLE / (t1 > 1e-9 ? t1 : 1e-9)) + 1;
        s->batch = batch;
    } else if (s->n > 0 && s->t[s->n - 1] < BN_REWARM_BELOW) {
        if (fn(ctx))
            return 1;
    }
    double start = bn_now();
    int taken = 0;
    while (s->n < BN_MAXSAMPLES) {
        double t0 = bn_now();
        for (long i = 0; i < s->batch; i++)
            if (fn(ctx))
                return 1;
        double t1 = bn_now();
        s->t[s->n++] = (t1 - t0) / (double)s->batch;
        taken++;
        if (taken >= min_reps && t1 - start >= budget)
            break;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bn_median(const bn_samples *s)
{
    if (s->n == 0)
        return 0;
    double *v = malloc((size_t)s->n * sizeof *v);
    if (!v)
        return s->t[0];
    memcpy(v, s->t, (size_t)s->n * sizeof *v);
    qsort(v, (size_t)s->n, sizeof *v, cmp_double);
    double m = s->n % 2 ? v[s->n / 2] : 0.5 * (v[s->n / 2 - 1] + v[s->n / 2]);
    free(v);
    return m;
}

double bn_min(const bn_samples *s)
{
    double m = s->n ? s->t[0] : 0;
    for (int i = 1; i < s->n; i++)
        if (s->t[i] < m)
            m = s->t[i];
    return m;
}

void bn_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void bn_json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fprintf(f, "null");
}
