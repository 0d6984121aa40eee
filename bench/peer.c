/* peer.c — OpenBLAS as a peer, run in child processes: OPENBLAS_CORETYPE
 * and OPENBLAS_NUM_THREADS only take effect when the library loads, so
 * each (core, threads) pair is a re-exec of this program (`--peer
 * openblas`) that reads workloads on stdin and answers timings on stdout.
 * The child maps any binary contraction onto cblas the way a BLAS user
 * would: view each operand as a (batched) matrix, or copy it into one
 * first (transpose-then-GEMM) and count the copy in the time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "internal.h"

#ifdef EIN_BENCH_OPENBLAS
#include <cblas.h>
#endif

/* ---- parent side ---------------------------------------------------------- */

struct bn_peer {
    bool   used, skx, dead;
    int    threads;
    pid_t  pid;
    FILE  *to, *from;
    char   core[64];
    char   config[192];
    char   why[160];          /* how it ended, once dead: every later note */
};

#define BN_MAXPEERS 8
static bn_peer peers[BN_MAXPEERS];
extern char **environ;

bool bn_peer_available(void)
{
#ifdef EIN_BENCH_OPENBLAS
    return true;
#else
    return false;
#endif
}

const char *bn_peer_core(const bn_peer *p) { return p->core; }
const char *bn_peer_config(const bn_peer *p) { return p->config; }

bool bn_peer_skx_supported(void)
{
    /* OpenBLAS 0.3.21 takes OPENBLAS_CORETYPE=SkylakeX at its word, even
     * where the CPU cannot run it: on a Zen 3 (AVX2 only) the child said
     * "core SkylakeX", answered dots, and died of SIGILL on the first
     * GEMM.  Its SkylakeX kernels are built with AVX-512 F, BW, DQ and
     * VL; __builtin_cpu_supports also checks that the OS saves the ZMM
     * state. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

/* Signal names for the notes; strsignal's "Illegal instruction" is
 * wordier and changes with the locale. */
static const struct { int sig; const char *name; } k_signals[] = {
    {SIGILL, "SIGILL"},   {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},
    {SIGHUP, "SIGHUP"},   {SIGQUIT, "SIGQUIT"}, {SIGPIPE, "SIGPIPE"}, {SIGTRAP, "SIGTRAP"},
    {SIGSYS, "SIGSYS"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}};

void bn_wait_reason(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status)) {
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = NULL;
        for (size_t i = 0; i < sizeof k_signals / sizeof k_signals[0]; i++)
            if (k_signals[i].sig == sig)
                name = k_signals[i].name;
        /* SIGKILL is what the kernel's OOM killer sends; the bench's own
         * (reap, after 2 s) is reported as such, not through here. */
        const char *guess = sig == SIGKILL ? " (out of memory?)" : "";
        if (name)
            snprintf(buf, cap, "was killed by %s%s", name, guess);
        else
            snprintf(buf, cap, "was killed by signal %d%s", sig, guess);
    } else {
        snprintf(buf, cap, "ended with wait status %#x", (unsigned)status);
    }
}

/* Wait for a child whose pipe broke or that was told to quit: it is dead
 * or about to be (its stdin is closed, so a live one reads EOF and
 * returns).  Up to 2 s, then SIGKILL, so the bench can never hang here;
 * *killed says so.  False if waitpid failed (errno). */
static bool reap(pid_t pid, int *status, bool *killed)
{
    const struct timespec tick = {0, 10 * 1000 * 1000};
    *killed = false;
    for (int i = 0;; i++) {
        pid_t r = waitpid(pid, status, *killed ? 0 : WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
        if (r == 0 && i < 200) {
            nanosleep(&tick, NULL);
        } else if (r == 0) {
            kill(pid, SIGKILL);
            *killed = true;
        }
    }
}

/* The child is gone or broken: close our ends, reap it and keep the cause
 * in p->why ("the OpenBLAS child was killed by SIGILL"), after `what`
 * when given ("did not start"). */
static void retire(bn_peer *p, const char *what)
{
    if (p->to)
        fclose(p->to);          /* SIGPIPE is ignored: a failed flush is fine */
    if (p->from)
        fclose(p->from);
    p->to = p->from = NULL;
    p->dead = true;
    char how[96];
    int status = 0;
    bool killed = false;
    if (p->pid <= 0)
        snprintf(how, sizeof how, "died");
    else if (!reap(p->pid, &status, &killed))
        snprintf(how, sizeof how, "died (waitpid: %s)", strerror(errno));
    else if (killed)
        snprintf(how, sizeof how, "stopped answering and was killed");
    else
        bn_wait_reason(status, how, sizeof how);
    p->pid = 0;
    if (what)
        snprintf(p->why, sizeof p->why, "the OpenBLAS child %s: it %s", what, how);
    else
        snprintf(p->why, sizeof p->why, "the OpenBLAS child %s", how);
}

static bool spawn(bn_peer *p, char *why, size_t cap)
{
    /* Close-on-exec: a later child must not hold this one's pipe ends, or
     * closing ours would not give a live child EOF (dup2 clears the flag
     * on the child's own 0 and 1). */
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        return false;
    }
    if (pipe2(up, O_CLOEXEC) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        close(down[0]);
        close(down[1]);
        return false;
    }
    /* The environment for the child: ours, with the OpenBLAS knobs
     * replaced.  Built before fork so the child only calls execve.
     * OpenBLAS workers spin for 2^28 cycles (~75 ms here) after a call
     * before they sleep, so between rounds they held a core while einsum
     * ran.  In about one whole run in ten, GEMV 1024^2 on 2 threads then
     * measured 150-170 us (0.2-0.5x) instead of 30-80, as if both einsum
     * threads shared one core; with the shorter spin, none in twelve
     * runs showed it.  2^20 cycles (~0.3 ms) keeps them spinning
     * between back-to-back calls, as einsum's own workers do (200 us),
     * and asleep once their round is over.  A value the user set wins. */
    size_t n = 0;
    bool has_timeout = false;
    while (environ[n])
        has_timeout |= strncmp(environ[n++], "OPENBLAS_THREAD_TIMEOUT=", 24) == 0;
    char **envp = calloc(n + 4, sizeof *envp);
    char threads[48];
    snprintf(threads, sizeof threads, "OPENBLAS_NUM_THREADS=%d", p->threads);
    size_t k = 0;
    for (size_t i = 0; envp && i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) != 0 &&
            strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) != 0)
            envp[k++] = environ[i];
    if (envp) {
        envp[k++] = threads;
        if (!has_timeout)
            envp[k++] = "OPENBLAS_THREAD_TIMEOUT=20";
        if (p->skx)
            envp[k++] = "OPENBLAS_CORETYPE=SkylakeX";
        envp[k] = NULL;
    }
    char *argv[] = {"einsum-bench", "--peer", "openblas", NULL};
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);   /* a dead child must not kill the bench */
    pid_t pid = envp ? fork() : -1;
    if (pid == 0) {
        /* A one-thread child runs on einsum's one-thread CPU; any other
         * on the whole mask, whatever the parent's thread had when it
         * forked (see pin.c). */
        bn_pin_self(p->threads == 1);
        signal(SIGPIPE, SIG_DFL);   /* ignored is inherited across exec */
        dup2(down[0], 0);
        dup2(up[1], 1);
        close(down[0]); close(down[1]); close(up[0]); close(up[1]);
        fcntl(0, F_SETFD, 0);   /* in case a pipe end already was 0 or 1 */
        fcntl(1, F_SETFD, 0);
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    free(envp);
    close(down[0]);
    close(up[1]);
    if (pid < 0) {
        close(down[1]);
        close(up[0]);
        snprintf(why, cap, "fork: %s", strerror(errno));
        p->dead = true;
        snprintf(p->why, sizeof p->why, "%s", why);
        return false;
    }
    p->pid = pid;
    p->to = fdopen(down[1], "w");
    p->from = fdopen(up[0], "r");
    if (!p->to)
        close(down[1]);
    if (!p->from)
        close(up[0]);
    char *line = NULL;
    size_t lcap = 0;
    if (!p->to || !p->from || getline(&line, &lcap, p->from) < 0 ||
        strncmp(line, "core ", 5) != 0) {
        free(line);
        retire(p, "did not start");
        snprintf(why, cap, "%s", p->why);
        return false;
    }
    line[strcspn(line, "\n")] = 0;
    char *bar = strstr(line, " | ");
    if (bar) {
        *bar = 0;
        snprintf(p->config, sizeof p->config, "%s", bar + 3);
    }
    snprintf(p->core, sizeof p->core, "%s", line + 5);
    free(line);
    return true;
}

bn_peer *bn_peer_get(bool skx, int threads, char *why, size_t cap)
{
    if (!bn_peer_available()) {
        snprintf(why, cap, "built without OpenBLAS");
        return NULL;
    }
    if (skx && !bn_peer_skx_supported()) {
        snprintf(why, cap, "SkylakeX core not run: this CPU lacks AVX-512");
        return NULL;
    }
    for (int i = 0; i < BN_MAXPEERS; i++)
        if (peers[i].used && peers[i].skx == skx && peers[i].threads == threads) {
            if (peers[i].dead) {
                snprintf(why, cap, "%s", peers[i].why);
                return NULL;
            }
            return &peers[i];
        }
    for (int i = 0; i < BN_MAXPEERS; i++)
        if (!peers[i].used) {
            bn_peer *p = &peers[i];
            memset(p, 0, sizeof *p);
            p->used = true;
            p->skx = skx;
            p->threads = threads;
            return spawn(p, why, cap) ? p : NULL;
        }
    snprintf(why, cap, "too many OpenBLAS children");
    return NULL;
}

int bn_peer_run(bn_peer *p, const bn_spec *spec, double budget, int min_reps,
                bn_samples *s, char *note, size_t cap)
{
    char enc[1024];
    bn_spec_encode(spec, enc, sizeof enc);
    if (p->dead) {
        snprintf(note, cap, "%s", p->why);
        return -1;
    }
    if (fprintf(p->to, "run %.6f %d %s\n", budget, min_reps, enc) < 0 ||
        fflush(p->to) != 0) {
        retire(p, NULL);
        snprintf(note, cap, "%s", p->why);
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0;
    if (getline(&line, &lcap, p->from) < 0) {
        free(line);
        retire(p, NULL);
        snprintf(note, cap, "%s", p->why);
        return -1;
    }
    line[strcspn(line, "\n")] = 0;
    char *bar = strstr(line, " | ");
    if (bar) {
        *bar = 0;
        snprintf(note, cap, "%s", bar + 3);
    } else if (cap) {
        note[0] = 0;
    }
    int rc = 0;
    if (strncmp(line, "na", 2) == 0) {
        rc = 1;
    } else {
        char *q = line + 3, *end;
        long batch = strtol(q, &end, 10);
        long n = strtol(end, &q, 10);
        s->batch = batch;
        for (long i = 0; i < n && s->n < BN_MAXSAMPLES; i++) {
            double v = strtod(q, &end);
            if (end == q)
                break;
            s->t[s->n++] = v;
            q = end;
        }
    }
    free(line);
    return rc;
}

void bn_peers_close(void)
{
    for (int i = 0; i < BN_MAXPEERS; i++) {
        bn_peer *p = &peers[i];
        if (!p->used)
            continue;
        if (p->to)
            fprintf(p->to, "quit\n");
        if (!p->dead)
            retire(p, NULL);    /* closes, and waits at most ~2 s */
        memset(p, 0, sizeof *p);
    }
}

int bn_peer_death_main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        int sig = 0, code = -1;
        for (size_t k = 0; k < sizeof k_signals / sizeof k_signals[0]; k++)
            if (strcmp(argv[i], k_signals[k].name) == 0)
                sig = k_signals[k].sig;
        if (!sig && sscanf(argv[i], "exit:%d", &code) != 1) {
            fprintf(stderr, "einsum-bench: --peer-death takes SIGxxx or exit:N, not '%s'\n",
                    argv[i]);
            return 2;
        }
        fflush(stdout);
        bn_peer p = {.used = true};
        p.pid = fork();
        if (p.pid < 0) {
            fprintf(stderr, "einsum-bench: fork: %s\n", strerror(errno));
            return 1;
        }
        if (p.pid == 0) {
            if (!sig)
                _exit(code);
            /* No core file for a death on purpose. */
            struct rlimit none = {0, 0};
            setrlimit(RLIMIT_CORE, &none);
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            signal(sig, SIG_DFL);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, sig);
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            raise(sig);
            _exit(120);
        }
        retire(&p, NULL);
        printf("%s\n", p.why);
    }
    return 0;
}

/* ---- child side ------------------------------------------------------------ */

#ifndef EIN_BENCH_OPENBLAS
int bn_peer_child_main(void)
{
    printf("core none | built without OpenBLAS\n");
    fflush(stdout);
    return 0;
}
#else

/* One plane of copy_nd: dims a (inner) and b, in 32 x 32 tiles so that
 * both the reads and the writes stay within a few pages per tile. */
#define BN_TILE 32
#define COPY_PLANE(T)                                                       \
    do {                                                                    \
        const T *s_ = (const T *)src;                                       \
        T *d_ = (T *)dst;                                                   \
        for (int64_t j0 = 0; j0 < eb; j0 += BN_TILE)                        \
            for (int64_t i0 = 0; i0 < ea; i0 += BN_TILE)                    \
                for (int64_t j = j0; j < j0 + BN_TILE && j < eb; j++)       \
                    for (int64_t i = i0; i < i0 + BN_TILE && i < ea; i++)   \
                        d_[i * dsa + j * dsb] = s_[i * ssa + j * ssb];      \
    } while (0)

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* Copy an n-dimensional strided block (strides in elements): the
 * transposing copy a BLAS user needs before GEMM.  The dimension that is
 * contiguous in the destination and the one contiguous in the source
 * form a tiled plane; the rest run outside it. */
static void copy_nd(size_t es, int n, const int64_t *ext, const int64_t *ss,
                    const int64_t *ds, const char *src, char *dst)
{
    for (int d = 0; d < n; d++)
        if (ext[d] == 0)
            return;
    if (n == 0) {
        memcpy(dst, src, es);
        return;
    }
    int a = 0, b = 0;
    for (int d = 1; d < n; d++) {
        if (ext[d] > 1 && (ext[a] == 1 || iabs64(ds[d]) < iabs64(ds[a])))
            a = d;
        if (ext[d] > 1 && (ext[b] == 1 || iabs64(ss[d]) < iabs64(ss[b])))
            b = d;
    }
    int64_t ea = ext[a], ssa = ss[a], dsa = ds[a];
    int64_t eb = a == b ? 1 : ext[b], ssb = a == b ? 0 : ss[b], dsb = a == b ? 0 : ds[b];
    int od[2 * BN_MAXDIM + 2], no = 0;
    for (int d = 0; d < n; d++)
        if (d != a && d != b)
            od[no++] = d;
    int64_t idx[2 * BN_MAXDIM + 2] = {0};
    for (;;) {
        if (es == 4)
            COPY_PLANE(float);
        else
            COPY_PLANE(double);
        int k = no - 1;
        for (; k >= 0; k--) {
            int d = od[k];
            src += ss[d] * (int64_t)es;
            dst += ds[d] * (int64_t)es;
            if (++idx[k] < ext[d])
                break;
            src -= ss[d] * ext[d] * (int64_t)es;
            dst -= ds[d] * ext[d] * (int64_t)es;
            idx[k] = 0;
        }
        if (k < 0)
            return;
    }
}

typedef struct group {
    int n;
    int lab[EIN_MAX_DIMS];
} group;

/* One operand (or the output) as a batch of matrices. */
typedef struct mview {
    int      t;                 /* 0, 1: operands; 2: output */
    bool     copy;              /* gathered into / scattered from `tmp` */
    bool     trans;             /* (r, c) at r + c*ld, else r*ld + c */
    int64_t  ld, bs;            /* leading dimension, batch stride */
    int64_t  rows, cols;
    void    *tmp;               /* [batch][rows][cols] when copy */
    /* for the copy: labels batch+rows+cols, their extents and strides */
    int      nl;
    int64_t  ext[3 * EIN_MAX_DIMS], str[3 * EIN_MAX_DIMS], cstr[3 * EIN_MAX_DIMS];
} mview;

typedef struct obplan {
    bool      ok;
    char      why[160];
    char      note[160];
    ein_dtype dt;
    size_t    es;
    int64_t   batch, M, N, K;
    mview     v[3];             /* A, B, C */
    void     *data[3];
} obplan;

static int64_t g_ext[EIN_MAX_LABELS];
static int64_t g_str[3][EIN_MAX_LABELS];

/* Fold a group of labels into one extent and stride if its strides nest. */
static bool fold(int t, const group *g, int64_t *E, int64_t *s)
{
    *E = 1;
    *s = 0;
    bool ok = true;
    int prev = -1;
    for (int i = 0; i < g->n; i++) {
        int l = g->lab[i];
        *E *= g_ext[l];            /* the full extent even when it fails */
        if (g_ext[l] == 1)
            continue;
        if (prev >= 0 && g_str[t][prev] != g_str[t][l] * g_ext[l])
            ok = false;
        prev = l;
        *s = g_str[t][l];
    }
    return ok;
}

static void make_view(obplan *p, mview *v, int t, const group *gb,
                      const group *gr, const group *gc)
{
    int64_t Eb = 1, sb = 0, Er = 1, sr = 0, Ec = 1, sc = 0;
    bool okb = fold(t, gb, &Eb, &sb), okr = fold(t, gr, &Er, &sr);
    bool ok = fold(t, gc, &Ec, &sc) && okb && okr;
    v->t = t;
    v->rows = Er;
    v->cols = Ec;
    v->bs = sb;
    int64_t mr = Er > 1 ? Er : 1, mc = Ec > 1 ? Ec : 1;
    v->copy = false;
    if (ok && (Ec == 1 || sc == 1) && (Er == 1 || sr >= mc)) {
        v->trans = false;
        v->ld = Er == 1 ? mc : sr;
    } else if (ok && (Er == 1 || sr == 1) && (Ec == 1 || sc >= mr)) {
        v->trans = true;
        v->ld = Ec == 1 ? mr : sc;
    } else {
        v->copy = true;
        v->trans = false;
        v->ld = mc;
        v->bs = Er * Ec;
    }
    /* Labels in copy order, with the tensor's strides and the contiguous
     * [batch][rows][cols] strides. */
    v->nl = 0;
    const group *gs[3] = {gb, gr, gc};
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < gs[g]->n; i++) {
            v->ext[v->nl] = g_ext[gs[g]->lab[i]];
            v->str[v->nl] = g_str[t][gs[g]->lab[i]];
            v->nl++;
        }
    int64_t st = 1;
    for (int i = v->nl - 1; i >= 0; i--) {
        v->cstr[i] = st;
        st *= v->ext[i];
    }
    if (v->copy) {
        v->tmp = bn_alloc((size_t)(st > 0 ? st : 1) * p->es);
        if (!v->tmp) {
            p->ok = false;
            snprintf(p->why, sizeof p->why, "out of memory for a copy");
        }
    }
}

static void obplan_free(obplan *p)
{
    for (int i = 0; i < 3; i++) {
        free(p->v[i].tmp);
        p->v[i].tmp = NULL;
    }
}

static void obplan_build(obplan *p, const bn_spec *s, const bn_operands *o)
{
    memset(p, 0, sizeof *p);
    p->dt = s->dtype;
    p->es = ein_dtype_size(s->dtype);
    ein_expr e;
    if (ein_parse(s->expr, &e) != EIN_OK) {
        snprintf(p->why, sizeof p->why, "parse: %s", ein_last_error());
        return;
    }
    bool in[3][EIN_MAX_LABELS] = {{false}};
    if (e.nops != 2 || s->nops != 2 || e.any_ell || e.out.ell >= 0) {
        snprintf(p->why, sizeof p->why, "only binary contractions without '...'");
        goto done;
    }
    for (int l = 0; l < EIN_MAX_LABELS; l++)
        g_ext[l] = 1;
    for (int t = 0; t < 3; t++) {
        const ein_term *tm = t < 2 ? &e.in[t] : &e.out;
        for (int d = 0; d < tm->n; d++) {
            int l = tm->label[d];
            if (in[t][l]) {
                snprintf(p->why, sizeof p->why, "repeated label (diagonal)");
                goto done;
            }
            in[t][l] = true;
            if (t < 2) {
                if (d >= s->ndim[t]) {
                    snprintf(p->why, sizeof p->why, "rank mismatch");
                    goto done;
                }
                g_ext[l] = s->shape[t][d];
                g_str[t][l] = o->stride[t][d];
            }
        }
    }
    /* The output is C-contiguous in its written label order. */
    int64_t st = 1;
    for (int d = e.out.n - 1; d >= 0; d--) {
        g_str[2][e.out.label[d]] = st;
        st *= g_ext[e.out.label[d]];
    }
    group gb = {0}, gl = {0}, gr = {0}, gk = {0};
    for (int d = 0; d < e.out.n; d++) {
        int l = e.out.label[d];
        if (in[0][l] && in[1][l])
            gb.lab[gb.n++] = l;
        else if (in[0][l])
            gl.lab[gl.n++] = l;
        else
            gr.lab[gr.n++] = l;
    }
    /* Contracted labels in A's storage order, so A folds when it can. */
    for (int i = 0; i < s->ndim[0]; i++) {
        int l = e.in[0].label[s->perm[0][i]];
        if (in[1][l] && !in[2][l])
            gk.lab[gk.n++] = l;
    }
    for (int t = 0; t < 2; t++)
        for (int d = 0; d < e.in[t].n; d++) {
            int l = e.in[t].label[d];
            if (!in[2][l] && !in[1 - t][l]) {
                snprintf(p->why, sizeof p->why, "a label summed in one operand only");
                goto done;
            }
            if (g_ext[l] == 0) {
                snprintf(p->why, sizeof p->why, "zero extent");
                goto done;
            }
        }
    p->ok = true;
    make_view(p, &p->v[0], 0, &gb, &gl, &gk);
    make_view(p, &p->v[1], 1, &gb, &gk, &gr);
    make_view(p, &p->v[2], 2, &gb, &gl, &gr);
    int64_t E, sdummy;
    fold(2, &gb, &E, &sdummy);
    p->batch = E;
    p->M = p->v[0].rows;
    p->K = p->v[0].cols;
    p->N = p->v[1].cols;
    const char *what = p->M == 1 && p->N == 1 ? "dot"
                     : p->N == 1 || p->M == 1 ? "gemv" : "gemm";
    snprintf(p->note, sizeof p->note, "%s%s%s%s%s%s", what,
             p->batch > 1 ? " batched" : "",
             p->v[0].copy ? ", copies A" : "",
             p->v[1].copy ? ", copies B" : "",
             p->v[2].copy ? ", copies out" : "",
             p->v[0].copy || p->v[1].copy || p->v[2].copy ? " (timed)" : "");
done:
    ein_expr_free(&e);
}

#define CT(tr) ((tr) ? CblasTrans : CblasNoTrans)

static int obplan_call(void *ctx)
{
    obplan *p = ctx;
    const char *base[2];
    char *cbase = p->v[2].copy ? p->v[2].tmp : p->data[2];
    for (int t = 0; t < 2; t++) {
        mview *v = &p->v[t];
        if (v->copy) {
            copy_nd(p->es, v->nl, v->ext, v->str, v->cstr, p->data[t], v->tmp);
            base[t] = v->tmp;
        } else {
            base[t] = p->data[t];
        }
    }
    const mview *A = &p->v[0], *B = &p->v[1], *C = &p->v[2];
    int M = (int)p->M, N = (int)p->N, K = (int)p->K;
    int lda = (int)A->ld, ldb = (int)B->ld, ldc = (int)C->ld;
    /* Vector increments: along A's columns (k), B's rows (k), C's rows
     * (m) or columns (n). */
    int inc_ak = A->trans ? lda : 1, inc_bk = B->trans ? 1 : ldb;
    int inc_cm = C->trans ? 1 : ldc, inc_cn = C->trans ? ldc : 1;
    for (int64_t b = 0; b < p->batch; b++) {
        if (p->dt == EIN_F32) {
            const float *a = (const float *)base[0] + b * A->bs;
            const float *x = (const float *)base[1] + b * B->bs;
            float *c = (float *)cbase + b * C->bs;
            if (M == 1 && N == 1)
                *c = cblas_sdot(K, a, inc_ak, x, inc_bk);
            else if (N == 1)
                cblas_sgemv(CblasRowMajor, CT(A->trans), A->trans ? K : M,
                            A->trans ? M : K, 1.0f, a, lda, x, inc_bk, 0.0f, c, inc_cm);
            else if (M == 1)
                cblas_sgemv(CblasRowMajor, CT(!B->trans), B->trans ? N : K,
                            B->trans ? K : N, 1.0f, x, ldb, a, inc_ak, 0.0f, c, inc_cn);
            else if (C->trans)
                cblas_sgemm(CblasRowMajor, CT(!B->trans), CT(!A->trans), N, M, K,
                            1.0f, x, ldb, a, lda, 0.0f, c, ldc);
            else
                cblas_sgemm(CblasRowMajor, CT(A->trans), CT(B->trans), M, N, K,
                            1.0f, a, lda, x, ldb, 0.0f, c, ldc);
        } else {
            const double *a = (const double *)base[0] + b * A->bs;
            const double *x = (const double *)base[1] + b * B->bs;
            double *c = (double *)cbase + b * C->bs;
            if (M == 1 && N == 1)
                *c = cblas_ddot(K, a, inc_ak, x, inc_bk);
            else if (N == 1)
                cblas_dgemv(CblasRowMajor, CT(A->trans), A->trans ? K : M,
                            A->trans ? M : K, 1.0, a, lda, x, inc_bk, 0.0, c, inc_cm);
            else if (M == 1)
                cblas_dgemv(CblasRowMajor, CT(!B->trans), B->trans ? N : K,
                            B->trans ? K : N, 1.0, x, ldb, a, inc_ak, 0.0, c, inc_cn);
            else if (C->trans)
                cblas_dgemm(CblasRowMajor, CT(!B->trans), CT(!A->trans), N, M, K,
                            1.0, x, ldb, a, lda, 0.0, c, ldc);
            else
                cblas_dgemm(CblasRowMajor, CT(A->trans), CT(B->trans), M, N, K,
                            1.0, a, lda, x, ldb, 0.0, c, ldc);
        }
    }
    if (C->copy)
        copy_nd(p->es, C->nl, C->ext, C->cstr, C->str, C->tmp, p->data[2]);
    return 0;
}

int bn_peer_child_main(void)
{
    int threads = 1;
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (env)
        threads = atoi(env);
    openblas_set_num_threads(threads > 0 ? threads : 1);
    char *cfg = openblas_get_config();
    printf("core %s | %s\n", openblas_get_corename(), cfg ? cfg : "");
    fflush(stdout);

    bn_spec cur;
    char cur_enc[1024] = "";
    bn_operands ops;
    bn_output out;
    obplan plan;
    bool have = false;
    bn_samples *s = calloc(1, sizeof *s);
    char *line = NULL;
    size_t cap = 0;
    while (s && getline(&line, &cap, stdin) > 0) {
        if (strncmp(line, "quit", 4) == 0)
            break;
        double budget;
        int min_reps, off = 0;
        if (sscanf(line, "run %lf %d %n", &budget, &min_reps, &off) < 2 || off == 0) {
            printf("na bad request\n");
            fflush(stdout);
            continue;
        }
        line[strcspn(line, "\n")] = 0;
        /* Without a plan (the first request, or the last spec was refused
         * and cur_enc cleared) an empty spec matches cur_enc: decode it
         * anyway, so it is refused rather than running an unbuilt or
         * freed plan. */
        if (!have || strcmp(line + off, cur_enc) != 0) {
            if (have) {
                obplan_free(&plan);
                bn_operands_free(&ops);
                bn_output_free(&out);
            }
            have = false;
            snprintf(cur_enc, sizeof cur_enc, "%s", line + off);
            memset(s, 0, sizeof *s);
            if (!bn_spec_decode(&cur, cur_enc)) {
                printf("na bad spec\n");
                fflush(stdout);
                cur_enc[0] = 0;
                continue;
            }
            if (!bn_operands_alloc(&ops, &cur, 42)) {
                printf("na out of memory\n");
                fflush(stdout);
                cur_enc[0] = 0;
                continue;
            }
            obplan_build(&plan, &cur, &ops);
            int64_t oshape[EIN_MAX_DIMS];
            int ond = 0;
            /* Output shape: the plan's C view already knows every label's
             * extent; ask the library for the shape instead of redoing it. */
            ein_plan *ep = ein_plan_new(cur.expr, cur.nops, ops.opp, NULL, NULL, NULL);
            if (ep) {
                ond = ein_plan_result(ep, NULL, oshape);
                ein_plan_free(ep);
            } else if (plan.ok) {
                plan.ok = false;
                snprintf(plan.why, sizeof plan.why, "%s", ein_last_error());
            }
            if (!bn_output_alloc(&out, cur.dtype, ond, oshape) && plan.ok) {
                plan.ok = false;
                snprintf(plan.why, sizeof plan.why, "out of memory");
            }
            plan.data[0] = ops.buf[0];
            plan.data[1] = ops.buf[1];
            plan.data[2] = out.buf;
            have = true;
        }
        if (!plan.ok) {
            printf("na | %s\n", plan.why);
        } else {
            /* Fresh samples per request; the batch size (and the warm-up
             * it implies) carries over between rounds. */
            long batch = s->batch;
            double last = s->n ? s->t[s->n - 1] : 0;
            s->n = 0;
            if (batch) {
                s->t[s->n++] = last;   /* lets bn_sample decide to re-warm */
            }
            int start = s->n;
            bn_sample(obplan_call, &plan, budget, min_reps, s);
            printf("ok %ld %d", s->batch, s->n - start);
            for (int i = start; i < s->n; i++)
                printf(" %.6g", s->t[i]);
            printf(" | %s\n", plan.note);
        }
        fflush(stdout);
    }
    free(line);
    free(s);
    if (have) {
        obplan_free(&plan);
        bn_operands_free(&ops);
        bn_output_free(&out);
    }
    return 0;
}
#endif
