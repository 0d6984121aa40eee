/* paths.c — einsum-bench --paths: the contraction-path suite.  For each
 * case (skewed matrix chains, the opt_einsum README example, random
 * regular tensor networks, 2-D lattices, batched chains) and each path
 * algorithm: the FLOPs (opt_einsum's count), the largest intermediate,
 * the planning time (median over repeats), the execution time where it is
 * affordable, and the ratio of the FLOPs to numpy.einsum_path's greedy
 * and optimal paths from bench/paths_ref.tsv (scripts/paths_ref.py). */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "internal.h"

#define PS_MAXOPS 40
#define PS_MAXCASES 32

typedef struct pcase {
    char    name[48];
    char    expr[512];
    int     nops;
    int     nd[PS_MAXOPS];
    int64_t shape[PS_MAXOPS][8];
} pcase;

static pcase cases[PS_MAXCASES];
static int   ncases;

/* Add a case from "ab,bc->ac" and per-letter extents (letter -> extent). */
static void add_case(const char *name, const char *expr, const int64_t *ext)
{
    pcase *c = &cases[ncases++];
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->expr, sizeof c->expr, "%s", expr);
    c->nops = 1;
    for (const char *p = expr; *p && *p != '-'; p++) {
        if (*p == ',') {
            c->nops++;
            continue;
        }
        int l = *p >= 'a' ? 26 + *p - 'a' : *p - 'A';
        int k = c->nops - 1;
        c->shape[k][c->nd[k]++] = ext[l];
    }
}

static int64_t ext_of[52];
static void set_ext(char letter, int64_t e)
{
    ext_of[letter >= 'a' ? 26 + letter - 'a' : letter - 'A'] = e;
}

static char letter(int i) { return (char)(i < 26 ? 'a' + i : 'A' + i - 26); }

/* splitmix64, as tests/support.c: the same networks on every machine. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A random 3-regular graph on n vertices (configuration model, retried
 * until simple), one tensor per vertex, one label per edge of extent d;
 * the result is a scalar. */
static void add_regular(int n, int64_t d, uint64_t seed)
{
    int stubs[PS_MAXOPS * 3], m = n * 3;
    int lab[PS_MAXOPS][3], deg[PS_MAXOPS];
    for (int attempt = 0;; attempt++) {
        for (int i = 0; i < m; i++)
            stubs[i] = i / 3;
        for (int i = m - 1; i > 0; i--) {
            int j = (int)(rng_next(&seed) % (uint64_t)(i + 1));
            int t = stubs[i];
            stubs[i] = stubs[j];
            stubs[j] = t;
        }
        bool ok = true;
        for (int e = 0; e < m / 2 && ok; e++) {
            int a = stubs[2 * e], b = stubs[2 * e + 1];
            ok = a != b;
            for (int f = 0; f < e && ok; f++) {
                int c = stubs[2 * f], g = stubs[2 * f + 1];
                ok = !((a == c && b == g) || (a == g && b == c));
            }
        }
        if (ok || attempt > 10000)
            break;
    }
    memset(deg, 0, sizeof deg);
    for (int e = 0; e < m / 2; e++) {
        int a = stubs[2 * e], b = stubs[2 * e + 1];
        lab[a][deg[a]++] = e;
        lab[b][deg[b]++] = e;
    }
    char expr[512];
    int w = 0;
    for (int v = 0; v < n; v++) {
        if (v)
            expr[w++] = ',';
        for (int k = 0; k < deg[v]; k++)
            expr[w++] = letter(lab[v][k]);
    }
    expr[w++] = '-';
    expr[w++] = '>';
    expr[w] = '\0';
    for (int e = 0; e < m / 2; e++)
        set_ext(letter(e), d);
    char name[48];
    snprintf(name, sizeof name, "regular3_n%d_d%lld", n, (long long)d);
    add_case(name, expr, ext_of);
}

/* An L x L lattice of tensors, one label per bond of extent d, contracted
 * to a scalar (a PEPS norm-like network without physical legs). */
static void add_lattice(int L, int64_t d)
{
    int h[8][8], v[8][8], e = 0;
    for (int r = 0; r < L; r++)
        for (int c = 0; c + 1 < L; c++)
            h[r][c] = e++;
    for (int r = 0; r + 1 < L; r++)
        for (int c = 0; c < L; c++)
            v[r][c] = e++;
    char expr[512];
    int w = 0;
    for (int r = 0; r < L; r++)
        for (int c = 0; c < L; c++) {
            if (r || c)
                expr[w++] = ',';
            if (c > 0) expr[w++] = letter(h[r][c - 1]);
            if (c + 1 < L) expr[w++] = letter(h[r][c]);
            if (r > 0) expr[w++] = letter(v[r - 1][c]);
            if (r + 1 < L) expr[w++] = letter(v[r][c]);
        }
    expr[w++] = '-';
    expr[w++] = '>';
    expr[w] = '\0';
    for (int i = 0; i < e; i++)
        set_ext(letter(i), d);
    char name[48];
    snprintf(name, sizeof name, "lattice_%dx%d_d%lld", L, L, (long long)d);
    add_case(name, expr, ext_of);
}

static void build_cases(void)
{
    /* Matrix chains with skewed sizes: the order decides everything. */
    int64_t c4[] = {10, 1000, 5, 800, 20};
    for (int i = 0; i < 5; i++)
        set_ext(letter(i), c4[i]);
    add_case("chain4_skewed", "ab,bc,cd,de->ae", ext_of);
    int64_t c8[] = {30, 700, 8, 500, 40, 4, 900, 60, 7};
    for (int i = 0; i < 9; i++)
        set_ext(letter(i), c8[i]);
    add_case("chain8_skewed", "ab,bc,cd,de,ef,fg,gh,hi->ai", ext_of);
    /* opt_einsum's README example and numpy's einsum_path docs example. */
    for (const char *p = "pqrsijkl"; *p; p++)
        set_ext(*p, 10);
    add_case("oe_readme_d10", "pi,qj,ijkl,rk,sl->pqrs", ext_of);
    for (const char *p = "abcdefgh"; *p; p++)
        set_ext(*p, 8);
    add_case("numpy_doc_d8", "ea,fb,abcd,gc,hd->efgh", ext_of);
    /* Random 3-regular networks, fixed seeds. */
    add_regular(8, 4, 1);
    add_regular(10, 4, 2);
    add_regular(12, 3, 3);
    add_regular(16, 2, 4);
    add_regular(24, 2, 5);
    add_regular(32, 2, 6);
    /* 2-D lattices. */
    add_lattice(3, 4);
    add_lattice(4, 3);
    add_lattice(5, 2);
    /* Batched chains. */
    int64_t bc[] = {16, 64, 512, 8, 256};
    for (int i = 0; i < 5; i++)
        set_ext("bijkl"[i], bc[i]);
    add_case("batched_chain3", "bij,bjk,bkl->bil", ext_of);
    int64_t bc4[] = {8, 200, 10, 300, 6, 150};
    for (int i = 0; i < 6; i++)
        set_ext("bijklm"[i], bc4[i]);
    add_case("batched_chain4", "bij,bjk,bkl,blm->bim", ext_of);
}

/* ---- the numpy reference ------------------------------------------------- */

typedef struct ref {
    char   name[48];
    double greedy, optimal;           /* NAN: not available */
    double greedy_big, optimal_big;   /* elements */
} ref;

static ref refs[PS_MAXCASES];
static int nrefs;

/* Lines "case<TAB>algo<TAB>flops<TAB>largest<TAB>path"; '#' comments. */
static bool load_refs(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char name[48], algo[16];
        double fl, big;
        if (sscanf(line, "%47s %15s %lf %lf", name, algo, &fl, &big) != 4)
            continue;
        ref *r = NULL;
        for (int i = 0; i < nrefs; i++)
            if (!strcmp(refs[i].name, name))
                r = &refs[i];
        if (!r && nrefs < PS_MAXCASES) {
            r = &refs[nrefs++];
            snprintf(r->name, sizeof r->name, "%s", name);
            r->greedy = r->optimal = r->greedy_big = r->optimal_big = NAN;
        }
        if (!r)
            continue;
        if (!strcmp(algo, "greedy")) {
            r->greedy = fl;
            r->greedy_big = big;
        } else if (!strcmp(algo, "optimal")) {
            r->optimal = fl;
            r->optimal_big = big;
        }
    }
    fclose(f);
    return true;
}

static const ref *find_ref(const char *name)
{
    for (int i = 0; i < nrefs; i++)
        if (!strcmp(refs[i].name, name))
            return &refs[i];
    return NULL;
}

/* ---- measuring ------------------------------------------------------------ */

typedef struct pres {
    ein_path_algo algo;
    bool   ok;
    char   note[200];
    double flops, largest_bytes, plan_us, exec_s;
    size_t workspace;
} pres;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct exec_ctx {
    const ein_plan *p;
    const ein_tensor *const *ops;
    ein_tensor *out;
} exec_ctx;

static int call_exec(void *c)
{
    exec_ctx *x = c;
    return ein_execute(x->p, x->ops, x->out) != EIN_OK;
}

/* Executing is skipped above these: the suite is about paths, and a bad
 * order on a big network would run for hours or exhaust memory. */
#define PS_MAX_EXEC_FLOPS 4e9
#define PS_MAX_EXEC_BYTES (512.0 * 1024 * 1024)

static void measure_case(const pcase *c, ein_path_algo algo, bool quick, pres *r)
{
    memset(r, 0, sizeof *r);
    r->algo = algo;
    r->exec_s = NAN;
    ein_tensor t[PS_MAXOPS];
    const ein_tensor *ops[PS_MAXOPS];
    for (int k = 0; k < c->nops; k++) {
        t[k] = (ein_tensor){NULL, EIN_F64, c->nd[k], c->shape[k], NULL};
        ops[k] = &t[k];
    }
    if (algo == EIN_PATH_OPTIMAL && c->nops > EIN_PATH_OPTIMAL_MAX) {
        snprintf(r->note, sizeof r->note, "skipped: optimal takes at most %d operands",
                 EIN_PATH_OPTIMAL_MAX);
        return;
    }
    ein_options opt = {.path = algo, .num_threads = 1};
    int reps = quick ? 5 : 21;
    double times[64];
    ein_plan *p = NULL;
    for (int i = 0; i < reps; i++) {
        ein_status st;
        ein_plan *q = ein_plan_new(c->expr, c->nops, ops, NULL, &opt, &st);
        if (!q) {
            snprintf(r->note, sizeof r->note, "%s", ein_last_error());
            ein_plan_free(p);
            return;
        }
        times[i] = q->path.plan_us;
        if (p)
            ein_plan_free(q);
        else
            p = q;
        /* A slow search (optimal on 16 operands) is timed once or twice. */
        if (times[i] > 2e5 && i >= 1) {
            reps = i + 1;
            break;
        }
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    r->ok = true;
    r->plan_us = times[reps / 2];
    r->flops = p->path.flops;
    r->largest_bytes = p->path.largest * 8;
    r->workspace = p->workspace;

    double in_bytes = 0;
    for (int k = 0; k < c->nops; k++) {
        double n = 1;
        for (int d = 0; d < c->nd[k]; d++)
            n *= (double)c->shape[k][d];
        in_bytes += n * 8;
    }
    if (r->flops > PS_MAX_EXEC_FLOPS || (double)p->workspace + in_bytes > PS_MAX_EXEC_BYTES) {
        snprintf(r->note, sizeof r->note, "not executed: %.3g flops, %.3g bytes of "
                 "workspace", r->flops, (double)p->workspace);
        ein_plan_free(p);
        return;
    }
    void *bufs[PS_MAXOPS] = {0};
    uint64_t seed = 42;
    bool okalloc = true;
    for (int k = 0; k < c->nops; k++) {
        size_t n = 1;
        for (int d = 0; d < c->nd[k]; d++)
            n *= (size_t)c->shape[k][d];
        double *b = malloc(n * sizeof *b);
        if (!b) {
            okalloc = false;
            break;
        }
        for (size_t i = 0; i < n; i++)
            b[i] = (double)(rng_next(&seed) >> 11) * 0x1.0p-53 - 0.5;
        bufs[k] = b;
        t[k].data = b;
    }
    int64_t oshape[EIN_MAX_DIMS];
    ein_dtype dt;
    int ond = ein_plan_result(p, &dt, oshape);
    size_t on = 1;
    for (int d = 0; d < ond; d++)
        on *= (size_t)oshape[d];
    double *ob = malloc((on ? on : 1) * sizeof *ob);
    ein_tensor out = {ob, EIN_F64, ond, oshape, NULL};
    if (okalloc && ob) {
        bn_samples *s = calloc(1, sizeof *s);
        exec_ctx x = {p, ops, &out};
        if (s && bn_sample(call_exec, &x, quick ? 0.05 : 0.2, 3, s) == 0)
            r->exec_s = bn_median(s);
        else
            snprintf(r->note, sizeof r->note, "execution failed: %s", ein_last_error());
        free(s);
    } else {
        snprintf(r->note, sizeof r->note, "not executed: out of memory");
    }
    free(ob);
    for (int k = 0; k < c->nops; k++)
        free(bufs[k]);
    ein_plan_free(p);
}

/* ---- output -------------------------------------------------------------- */

static void fmt_t(char *b, size_t cap, double s)
{
    if (!isfinite(s))
        snprintf(b, cap, "-");
    else if (s < 1e-3)
        snprintf(b, cap, "%.1fus", s * 1e6);
    else if (s < 1)
        snprintf(b, cap, "%.2fms", s * 1e3);
    else
        snprintf(b, cap, "%.2fs", s);
}

static void fmt_ratio(char *b, size_t cap, double mine, double theirs)
{
    if (!isfinite(theirs) || theirs <= 0)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.3f", mine / theirs);
}

static const ein_path_algo algos[] = {EIN_PATH_GREEDY, EIN_PATH_BRANCH, EIN_PATH_OPTIMAL,
                                      EIN_PATH_AUTO, EIN_PATH_NAIVE};
#define NALGOS 5

int bn_paths_main(int argc, char **argv)
{
    bool quick = false, dump = false;
    const char *json = NULL, *only = NULL, *refpath = EIN_BENCH_PATHS_REF;
    int pin = BN_PIN_FIRST;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--paths"))
            continue;
        else if (!strcmp(a, "--quick"))
            quick = true;
        else if (!strcmp(a, "--dump-cases"))
            dump = true;
        else if (!strcmp(a, "--pin") && v) {
            if (bn_pin_parse(argv[++i], &pin) < 0)
                return 2;
        } else if ((!strcmp(a, "--json") || !strcmp(a, "--only") || !strcmp(a, "--ref")) && v) {
            i++;
            if (a[2] == 'j') json = v;
            else if (a[2] == 'o') only = v;
            else refpath = v;
        } else {
            fprintf(stderr, "einsum-bench --paths: unknown or incomplete argument '%s'\n"
                    "usage: einsum-bench --paths [--quick] [--only PATTERN] [--json FILE]"
                    " [--ref FILE] [--pin CPU|off] [--dump-cases]\n", a);
            return 2;
        }
    }
    build_cases();
    if (dump) {
        /* The suite as "name<TAB>expr<TAB>shapes" lines, for the script
         * that computes the numpy reference. */
        for (int i = 0; i < ncases; i++) {
            const pcase *c = &cases[i];
            printf("%s\t%s\t", c->name, c->expr);
            for (int k = 0; k < c->nops; k++) {
                if (k)
                    putchar(',');
                for (int d = 0; d < c->nd[k]; d++)
                    printf("%s%lld", d ? "x" : "", (long long)c->shape[k][d]);
            }
            putchar('\n');
        }
        return 0;
    }
    bool have_ref = load_refs(refpath);
    /* Every plan here runs on one thread: all of them on one CPU, so that
     * two algorithms' times are not two vCPUs' (pin.c). */
    char why[120];
    if (bn_pin_init(pin, why, sizeof why) < 0 && pin != BN_PIN_OFF)
        fprintf(stderr, "einsum-bench: --pin: %s; nothing pinned\n", why);
    bn_pin_self(true);
    printf("# einsum-bench --paths: FLOPs as opt_einsum counts them; plan = median time of "
           "the path search; exec = median ein_execute, f64, 1 thread\n");
    if (bn_pin_cpu() >= 0)
        printf("# plans and executions run on CPU %d\n", bn_pin_cpu());
    else
        printf("# nothing pinned: each run goes where the scheduler puts it\n");
    printf("# reference: %s%s\n", refpath, have_ref ? "" : " (not found: no ratios)");
    printf("%-22s %-8s %4s %12s %12s %10s %10s %8s %8s  %s\n", "case", "algo", "ops",
           "flops", "largest_B", "plan", "exec", "/np_grd", "/np_opt", "note");
    FILE *jf = NULL;
    if (json) {
        jf = fopen(json, "w");
        if (!jf) {
            fprintf(stderr, "einsum-bench: cannot write %s\n", json);
            return 1;
        }
        fprintf(jf, "{\n  \"suite\": \"paths\",\n  \"flops_convention\": \"opt_einsum\",\n"
                    "  \"pinned_cpu\": ");
        bn_pin_json(jf);
        fprintf(jf, ",\n  \"reference\": ");
        bn_json_str(jf, have_ref ? refpath : "");
        fprintf(jf, ",\n  \"cases\": [\n");
    }
    bool first = true;
    for (int i = 0; i < ncases; i++) {
        const pcase *c = &cases[i];
        if (only && !strstr(c->name, only) && fnmatch(only, c->name, 0) != 0)
            continue;
        const ref *rf = find_ref(c->name);
        if (jf) {
            fprintf(jf, "%s    {\"name\": ", first ? "" : ",\n");
            bn_json_str(jf, c->name);
            fprintf(jf, ", \"expr\": ");
            bn_json_str(jf, c->expr);
            fprintf(jf, ", \"nops\": %d, \"numpy_greedy_flops\": ", c->nops);
            bn_json_num(jf, rf ? rf->greedy : NAN);
            fprintf(jf, ", \"numpy_optimal_flops\": ");
            bn_json_num(jf, rf ? rf->optimal : NAN);
            fprintf(jf, ", \"algorithms\": [");
        }
        first = false;
        for (int a = 0; a < NALGOS; a++) {
            pres r;
            measure_case(c, algos[a], quick, &r);
            char fl[32], big[32], pt[16], et[16], rg[16], ro[16];
            if (r.ok) {
                snprintf(fl, sizeof fl, "%.4g", r.flops);
                snprintf(big, sizeof big, "%.4g", r.largest_bytes);
            } else {
                snprintf(fl, sizeof fl, "-");
                snprintf(big, sizeof big, "-");
            }
            fmt_t(pt, sizeof pt, r.ok ? r.plan_us * 1e-6 : NAN);
            fmt_t(et, sizeof et, r.exec_s);
            fmt_ratio(rg, sizeof rg, r.flops, r.ok && rf ? rf->greedy : NAN);
            fmt_ratio(ro, sizeof ro, r.flops, r.ok && rf ? rf->optimal : NAN);
            printf("%-22s %-8s %4d %12s %12s %10s %10s %8s %8s  %s\n", a ? "" : c->name,
                   ein_path_algo_name(algos[a]), c->nops, fl, big, pt, et, rg, ro, r.note);
            fflush(stdout);
            if (jf) {
                fprintf(jf, "%s{\"algo\": \"%s\", \"ok\": %s, \"flops\": ", a ? ", " : "",
                        ein_path_algo_name(algos[a]), r.ok ? "true" : "false");
                bn_json_num(jf, r.ok ? r.flops : NAN);
                fprintf(jf, ", \"largest_intermediate_bytes\": ");
                bn_json_num(jf, r.ok ? r.largest_bytes : NAN);
                fprintf(jf, ", \"workspace_bytes\": ");
                bn_json_num(jf, r.ok ? (double)r.workspace : NAN);
                fprintf(jf, ", \"plan_us\": ");
                bn_json_num(jf, r.ok ? r.plan_us : NAN);
                fprintf(jf, ", \"exec_s\": ");
                bn_json_num(jf, r.exec_s);
                fprintf(jf, ", \"ratio_numpy_greedy\": ");
                bn_json_num(jf, r.ok && rf ? r.flops / rf->greedy : NAN);
                fprintf(jf, ", \"ratio_numpy_optimal\": ");
                bn_json_num(jf, r.ok && rf ? r.flops / rf->optimal : NAN);
                fprintf(jf, ", \"note\": ");
                bn_json_str(jf, r.note);
                fprintf(jf, "}");
            }
        }
        if (jf)
            fprintf(jf, "]}");
    }
    if (jf) {
        fprintf(jf, "\n  ]\n}\n");
        if (fclose(jf) != 0) {
            fprintf(stderr, "einsum-bench: cannot write %s\n", json);
            return 1;
        }
        printf("# wrote %s\n", json);
    }
    return 0;
}
