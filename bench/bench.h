/* bench.h — the pieces of einsum-bench: a workload spec and its operands
 * (spec.c), the sampler (timing.c), the machine probe (probe.c and the
 * per-ISA probe_*.c files) and the OpenBLAS peer child process (peer.c). */
#ifndef EIN_BENCH_H
#define EIN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "einsum.h"

#define BN_MAXOPS 8          /* operands of a workload (--expr too) */
#define BN_MAXDIM 10         /* storage orders are written as digit strings */
#define BN_MAXSAMPLES 4096

/* ---- spec.c: what to contract, and over which memory layouts ---------- */

/* A workload's problem: expression, logical shapes, and per operand the
 * storage order (perm[t][0] is the slowest-varying logical dimension; the
 * identity is C order, anything else is a transposed view: permuted
 * strides over a contiguous buffer). */
typedef struct bn_spec {
    char      expr[128];
    int       nops;
    ein_dtype dtype;
    int       ndim[BN_MAXOPS];
    int64_t   shape[BN_MAXOPS][BN_MAXDIM];
    int       perm[BN_MAXOPS][BN_MAXDIM];
} bn_spec;

/* Parse "512x512,512" shapes and an optional storage string ("10,0" as
 * digits per operand, or "-" for C order) into s; expr and dtype are set
 * by the caller.  Returns false with a message in why. */
bool bn_spec_parse_shapes(bn_spec *s, const char *shapes, const char *storage,
                          char *why, size_t cap);
/* Storage orders given as letters of each operand's own term
 * ("dcba,fedb"); needs s->expr and the shapes set already. */
bool bn_spec_storage_letters(bn_spec *s, const char *letters, char *why,
                             size_t cap);
/* The one-line text form the peer child reads back with bn_spec_decode. */
void bn_spec_encode(const bn_spec *s, char *buf, size_t cap);
bool bn_spec_decode(bn_spec *s, const char *text);
/* Human form: "512x512,512 f32 [storage 10,0]". */
void bn_spec_describe(const bn_spec *s, char *buf, size_t cap);

/* Operands in memory: one contiguous buffer per operand in its storage
 * order, filled with values in [-1, 1), and the strided views over them. */
typedef struct bn_operands {
    int        nops;
    void      *buf[BN_MAXOPS];
    int64_t    shape[BN_MAXOPS][BN_MAXDIM];
    int64_t    stride[BN_MAXOPS][BN_MAXDIM];
    ein_tensor op[BN_MAXOPS];
    const ein_tensor *opp[BN_MAXOPS];
    size_t     bytes;          /* sum of the operands' sizes */
} bn_operands;

bool bn_operands_alloc(bn_operands *o, const bn_spec *s, uint64_t seed);
void bn_operands_free(bn_operands *o);

/* A C-contiguous output tensor of the given shape. */
typedef struct bn_output {
    void      *buf;
    int64_t    shape[EIN_MAX_DIMS];
    ein_tensor t;
    size_t     bytes;
} bn_output;
bool bn_output_alloc(bn_output *o, ein_dtype dt, int ndim, const int64_t *shape);
void bn_output_free(bn_output *o);

void *bn_alloc(size_t bytes);           /* 64-byte aligned, zeroed */

/* ---- pin.c: one-thread work on one CPU ----------------------------------- */

#define BN_PIN_FIRST (-1)       /* the first CPU of the process's mask */
#define BN_PIN_OFF   (-2)       /* no pinning */
/* Choose the CPU for one-thread work (a number, BN_PIN_FIRST or
 * BN_PIN_OFF); returns it, or -1 when nothing will be pinned (off, or
 * an error, explained in why). */
int  bn_pin_init(int cpu, char *why, size_t cap);
/* --pin's value: a CPU number or "off" into *cpu; anything else is
 * refused with a message on stderr (-1). */
int  bn_pin_parse(const char *v, int *cpu);
int  bn_pin_cpu(void);                  /* the chosen CPU, or -1 */
void bn_pin_json(FILE *f);              /* it as JSON: a number or null */
/* The calling thread to the chosen CPU (one) or back to the whole mask;
 * threads it creates inherit that.  A no-op when nothing is pinned. */
void bn_pin_self(bool one);

/* ---- timing.c ------------------------------------------------------------ */

double bn_now(void);                    /* seconds, monotonic */

typedef struct bn_samples {
    int    n;
    long   batch;                       /* calls per sample (tiny calls) */
    double t[BN_MAXSAMPLES];            /* seconds per call */
} bn_samples;

typedef int bn_call_fn(void *ctx);      /* one call; non-zero = failure */

/* Append samples of fn to s until `budget` seconds have passed and at
 * least min_reps samples were taken.  On the first use (s->batch == 0)
 * one untimed call warms up and sets the batch so that a sample lasts at
 * least ~100 us (a first call over 1.5 s counts as a sample instead);
 * later rounds re-warm with one call when calls are short.
 * Returns non-zero if a call failed. */
int bn_sample(bn_call_fn *fn, void *ctx, double budget, int min_reps,
              bn_samples *s);
double bn_median(const bn_samples *s);

/* JSON output: a string with quotes and escapes; a number, or null when
 * it is not finite. */
void bn_json_str(FILE *f, const char *s);
void bn_json_num(FILE *f, double v);
double bn_min(const bn_samples *s);

/* ---- probe.c ------------------------------------------------------------- */

typedef struct bn_machine {
    char   cpu[128];                    /* model name, family/model */
    int    ncpu;
    char   ktable[16];                  /* the library's default table */
    bool   has_avx512, has_avx2;
    /* GFLOP/s: [dtype 0=f32 1=f64][threads-1] */
    double fma512[2][2], fma256[2][2];
    /* GB/s: L1 (32 KiB), L2 (half of l2 bytes), L3 (16 MiB), 64 MiB and
     * memory (256 MiB) one thread, and the last three with two threads. */
    double bw_l1, bw_l2, bw_l3, bw_64m, bw_mem, bw_l32, bw_64m2, bw_mem2;
    size_t l2;                          /* a core's L2 in bytes (sysconf) */
    bool   probed;
} bn_machine;

void bn_machine_info(bn_machine *m);
void bn_probe(bn_machine *m, bool quick);
/* Peak FMA rate (GFLOP/s) for the library's kernel table. */
double bn_peak_flops(const bn_machine *m, ein_dtype dt, int threads);
/* Peak read rate (GB/s) for a working set of `bytes`; *level names it. */
double bn_peak_bw(const bn_machine *m, double bytes, int threads,
                  const char **level);

/* probe_avx512.c / probe_avx2.c: compiled with their ISA's flags only and
 * called after __builtin_cpu_supports says so.  The FMA loops return
 * their FLOP count; the read loops return a sum so nothing is elided. */
double bn_fma512_f32(long iters);
double bn_fma512_f64(long iters);
double bn_read512(const float *buf, size_t n, int passes, int streams);
double bn_fma256_f32(long iters);
double bn_fma256_f64(long iters);
double bn_read256(const float *buf, size_t n, int passes, int streams);

/* ---- peer.c: OpenBLAS in a child process --------------------------------- */

/* One child per (core, threads): skx selects OPENBLAS_CORETYPE=SkylakeX,
 * otherwise the variable is removed and OpenBLAS detects its own core. */
typedef struct bn_peer bn_peer;

bool        bn_peer_available(void);    /* built with OpenBLAS */
/* Whether this CPU can run OpenBLAS's SkylakeX kernels (AVX-512 F, BW,
 * DQ, VL); where not, bn_peer_get refuses the skx child. */
bool        bn_peer_skx_supported(void);
bn_peer    *bn_peer_get(bool skx, int threads, char *why, size_t cap);
const char *bn_peer_core(const bn_peer *p);
const char *bn_peer_config(const bn_peer *p);
/* Run the spec in the child: "ok" fills s (appending), "na" fills why and
 * returns 1, a broken child returns -1. *note gets what the child did
 * (e.g. which operands it copied). */
int  bn_peer_run(bn_peer *p, const bn_spec *spec, double budget, int min_reps,
                 bn_samples *s, char *note, size_t cap);
/* Closes every child: "quit", then waits for it (at most ~2 s each). */
void bn_peers_close(void);
/* How a child ended, from its waitpid status, as the end of "the OpenBLAS
 * child ...": "exited with status 3", "was killed by SIGILL", "was killed
 * by SIGKILL (out of memory?)". */
void bn_wait_reason(int status, char *buf, size_t cap);
/* Child side: `einsum-bench --peer openblas` serves requests on stdin. */
int  bn_peer_child_main(void);
/* `einsum-bench --peer-death HOW...` (for tests/CMakeLists.txt): for each
 * HOW, a signal name (SIGILL) or exit:N, a child that ends that way,
 * reaped as a dead peer is, and the note a row would show. */
int  bn_peer_death_main(int argc, char **argv);

/* ---- paths.c: the contraction-path suite (einsum-bench --paths) ---------- */

int bn_paths_main(int argc, char **argv);

#endif
