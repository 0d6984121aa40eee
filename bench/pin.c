/* pin.c — where one-thread measurements run.  einsum's one-thread calls,
 * the one-thread OpenBLAS children and the probe's one-thread peaks all
 * run on the same CPU, so that a one-thread ratio compares two codes on
 * one core.  Unpinned, each contender ran wherever the scheduler put it,
 * and the two vCPUs of the VM this was written on differ: GEMM f32
 * 512^3 took 1.34-1.36 ms on CPU 0 and 1.46-1.47 ms on CPU 1 (taskset,
 * alternating), and the ratio to OpenBLAS moved with whichever side drew
 * the slow one.  Multi-thread work runs on the process's whole mask. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static cpu_set_t g_all;     /* the process's mask when the bench started */
static int       g_cpu = -1;

int bn_pin_parse(const char *v, int *cpu)
{
    char *end;
    long c = strtol(v, &end, 10);
    if (!strcmp(v, "off"))
        *cpu = BN_PIN_OFF;
    else if (end != v && !*end && c >= 0 && c < 1024)
        *cpu = (int)c;
    else {
        fprintf(stderr, "einsum-bench: --pin takes a CPU number or 'off', not '%s'\n", v);
        return -1;
    }
    return 0;
}

int bn_pin_init(int cpu, char *why, size_t cap)
{
    g_cpu = -1;
    if (sched_getaffinity(0, sizeof g_all, &g_all) != 0) {
        snprintf(why, cap, "cannot read the CPU mask");
        return -1;
    }
    if (cpu == BN_PIN_OFF)
        return -1;
    if (cpu == BN_PIN_FIRST) {
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &g_all)) {
                cpu = c;
                break;
            }
    }
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &g_all)) {
        snprintf(why, cap, "CPU %d is not in this process's mask", cpu);
        return -1;
    }
    g_cpu = cpu;
    return cpu;
}

int bn_pin_cpu(void)
{
    return g_cpu;
}

void bn_pin_json(FILE *f)
{
    if (g_cpu >= 0)
        fprintf(f, "%d", g_cpu);
    else
        fputs("null", f);
}

static void mask(bool one, cpu_set_t *s)
{
    if (one) {
        CPU_ZERO(s);
        CPU_SET(g_cpu, s);
    } else {
        *s = g_all;
    }
}

void bn_pin_self(bool one)
{
    if (g_cpu < 0)
        return;
    cpu_set_t s;
    mask(one, &s);
    sched_setaffinity(0, sizeof s, &s);    /* 0: the calling thread */
}
