/* cli.c — the einsum program: parse the command line, load the .npy
 * operands, plan and run once through the public API, then save the result
 * or print it exactly as numpy's repr() would (so outputs can be diffed
 * against Python sessions). */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "repl.h"

/* ------------------------------------------------------------------ */
/* the program                                                         */

static const char usage_text[] =
    "usage: einsum EXPR IN0.npy [IN1.npy ...] [-o OUT.npy]\n"
    "       einsum --explain EXPR IN0.npy [IN1.npy ...]\n"
    "       einsum                       (REPL: statements from the terminal)\n"
    "       einsum SCRIPT.ein            (run REPL statements from a file)\n"
    "       einsum -h | --help | --version\n"
    "\n"
    "Evaluate the Einstein-summation expression EXPR (numpy.einsum syntax,\n"
    "e.g. 'ij,jk->ik') over the float32/float64 arrays in the .npy files.\n"
    "Without -o the result is printed as numpy's repr() prints it.\n"
    "\n"
    "  -o, --output OUT.npy   write the result to OUT.npy (replaced atomically;\n"
    "                         left untouched when anything fails)\n"
    "      --explain          print the plan instead of evaluating\n"
    "      --path ALGO        contraction order for 3+ operands: auto (default),\n"
    "                         greedy, optimal, branch, naive, or an explicit path\n"
    "                         of position pairs as numpy gives it: '0,1;0,1'\n"
    "      --memory-limit N   most bytes for intermediates and workspace\n"
    "                         (suffix K, M or G: powers of 1024)\n"
    "  -h, --help             show this help\n"
    "      --version          show the version\n"
    "      --                 end of options (for file names starting with '-')\n"
    "\n"
    "Exit status: 0 success, 1 failure (message on stderr), 2 bad usage.\n";

static void errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("einsum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("einsum: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'einsum --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* A library failure: ein_last_error() verbatim (it carries the column and
 * the caret line), or the status's name when it has nothing to add. */
static int library_error(ein_status st)
{
    const char *m = ein_last_error();
    if (m && *m) {
        size_t n = strlen(m);
        fprintf(stderr, "einsum: %s%s", m, m[n - 1] == '\n' ? "" : "\n");
    } else {
        errorf("%s", ein_status_str(st));
    }
    return CLI_EXIT_FAIL;
}

/* ---- path options (--path, --memory-limit) ---- */

static ein_options cli_opts;
static int32_t     cli_pairs[2 * EIN_MAX_OPERANDS];

int cli_set_options(const ein_options *o)
{
    memset(&cli_opts, 0, sizeof cli_opts);
    if (!o)
        return 0;
    if (o->path_pairs && (o->path_len < 0 || o->path_len > EIN_MAX_OPERANDS))
        return -1;
    cli_opts = *o;
    if (o->path_pairs) {
        memcpy(cli_pairs, o->path_pairs, (size_t)o->path_len * 2 * sizeof *cli_pairs);
        cli_opts.path_pairs = cli_pairs;
    }
    return 0;
}

int cli_parse_path(const char *s, ein_options *o, int32_t *pairs, int cap,
                   char *why, size_t whycap)
{
    static const char *const names[] = {"auto", "greedy", "optimal", "branch", "naive"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            o->path = (ein_path_algo)i;
            o->path_pairs = NULL;
            o->path_len = 0;
            return 0;
        }
    /* An explicit path: steps separated by ';', positions by ','. */
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n >= cap) {
            snprintf(why, whycap, "path '%s' has more than %d steps", s, cap);
            return -1;
        }
        char *end;
        long x = strtol(p, &end, 10), y = -1;
        if (end == p || x < 0 || x > INT32_MAX) {
            snprintf(why, whycap, "path '%s': step %d does not start with a position "
                     "(expected auto, greedy, optimal, branch, naive or pairs like "
                     "'0,1;0,1')", s, n);
            return -1;
        }
        p = end;
        if (*p == ',') {
            y = strtol(p + 1, &end, 10);
            if (end == p + 1 || y < -1 || y > INT32_MAX) {
                snprintf(why, whycap, "path '%s': step %d has no second position", s, n);
                return -1;
            }
            p = end;
        }
        if (*p != ';' && *p != '\0') {
            snprintf(why, whycap, "path '%s': unexpected '%c' in step %d", s, *p, n);
            return -1;
        }
        pairs[2 * n] = (int32_t)x;
        pairs[2 * n + 1] = (int32_t)y;
        n++;
        if (*p == ';')
            p++;
    }
    o->path_pairs = pairs;
    o->path_len = n;
    return 0;
}

int cli_parse_bytes(const char *s, int64_t *bytes, char *why, size_t whycap)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    else if (*end == 'T' || *end == 't') shift = 40;
    if (shift)
        end++;
    if (end == s || *end || v < 0 || errno || v > (INT64_MAX >> shift)) {
        snprintf(why, whycap, "'%s' is not a byte count (digits, then an optional "
                 "K, M or G)", s);
        return -1;
    }
    *bytes = (int64_t)v << shift;
    return 0;
}

typedef struct args {
    const char  *expr;
    const char  *out;
    const char **in;
    int          nin;
    int          explain;
    int          script;   /* expr is a SCRIPT.ein to run */
} args;

/* Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->in = calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->in);
    if (!a->in) {
        errorf("out of memory");
        return CLI_EXIT_FAIL;
    }
    int opts = 1, npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        /* An expression may start with "->" (a 0-d operand's term is
         * empty): no option does, so it is never taken for one. */
        if (opts && s[0] == '-' && s[1] != '\0' && s[1] != '>') {
            if (strcmp(s, "--") == 0) {
                opts = 0;
            } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
                fputs(usage_text, stdout);
                return CLI_EXIT_OK;
            } else if (strcmp(s, "--version") == 0) {
                printf("einsum %d.%d\n", EIN_VERSION_MAJOR, EIN_VERSION_MINOR);
                return CLI_EXIT_OK;
            } else if (strcmp(s, "--explain") == 0) {
                a->explain = 1;
            } else if (strcmp(s, "--path") == 0 || strncmp(s, "--path=", 7) == 0 ||
                       strcmp(s, "--memory-limit") == 0 ||
                       strncmp(s, "--memory-limit=", 15) == 0) {
                int is_path = s[2] == 'p';
                const char *v = strchr(s, '=');
                char name[32];
                snprintf(name, sizeof name, "%s", is_path ? "--path" : "--memory-limit");
                if (v) {
                    v++;
                } else {
                    if (i + 1 >= argc)
                        return usage_error("option '%s' needs a value", name);
                    v = argv[++i];
                }
                char why[256];
                int r = is_path ? cli_parse_path(v, &cli_opts, cli_pairs, EIN_MAX_OPERANDS,
                                                 why, sizeof why)
                                : cli_parse_bytes(v, &cli_opts.memory_limit, why, sizeof why);
                if (r < 0)
                    return usage_error("%s", why);
            } else if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0 ||
                       strncmp(s, "-o", 2) == 0 || strncmp(s, "--output=", 9) == 0) {
                const char *v;
                if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0) {
                    if (i + 1 >= argc)
                        return usage_error("option '%s' needs a file name", s);
                    v = argv[++i];
                } else {
                    v = s[1] == 'o' ? s + 2 : s + 9;
                }
                if (a->out)
                    return usage_error("option '%s' given twice", "-o");
                if (!*v)
                    return usage_error("option '%s' needs a file name", s);
                a->out = v;
            } else {
                return usage_error("unknown option '%s'", s);
            }
            continue;
        }
        if (npos++ == 0)
            a->expr = s;
        else
            a->in[a->nin++] = s;
    }
    if (!a->expr) {
        fputs(usage_text, stderr);
        return CLI_EXIT_USAGE;
    }
    size_t el = strlen(a->expr);
    if (a->nin == 0 && el > 4 && strcmp(a->expr + el - 4, ".ein") == 0 && !a->out &&
        !a->explain) {
        a->script = 1;
        return -1;
    }
    if (a->nin == 0)
        return usage_error("no input files after '%s'", a->expr);
    if (a->explain && a->out)
        return usage_error("%s: --explain prints the plan and writes no file", "-o");
    if (a->nin > EIN_MAX_OPERANDS) {
        errorf("%d operands; einsum takes at most %d", a->nin, EIN_MAX_OPERANDS);
        return CLI_EXIT_FAIL;
    }
    return -1;
}

static int print_explain(const ein_plan *plan)
{
    size_t need = ein_plan_explain(plan, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf) {
        errorf("out of memory");
        return -1;
    }
    ein_plan_explain(plan, buf, need + 1);
    buf[need] = '\0';
    fputs(buf, stdout);
    if (need == 0 || buf[need - 1] != '\n')
        fputc('\n', stdout);
    free(buf);
    return 0;
}

int cli_explain(const char *expr, int n, const ein_tensor *const *ops)
{
    ein_status st = EIN_OK;
    ein_plan *plan = ein_plan_new(expr, n, ops, NULL, &cli_opts, &st);
    if (!plan) {
        library_error(st != EIN_OK ? st : EIN_ERR_ARG);
        return -1;
    }
    int r = print_explain(plan);
    ein_plan_free(plan);
    return r;
}

int cli_einsum(const char *expr, int n, const ein_tensor *const *ops, npy_array *res)
{
    memset(res, 0, sizeof *res);
    ein_status st = EIN_OK;
    ein_plan *plan = ein_plan_new(expr, n, ops, NULL, &cli_opts, &st);
    if (!plan) {
        library_error(st != EIN_OK ? st : EIN_ERR_ARG);
        return -1;
    }
    ein_dtype dt = EIN_F64;
    int32_t ndim = ein_plan_result(plan, &dt, res->shape);
    if (ndim < 0 || ndim > EIN_MAX_DIMS || (dt != EIN_F32 && dt != EIN_F64)) {
        ein_plan_free(plan);
        errorf("the plan describes an unusable result (rank %d, dtype %d)", (int)ndim, (int)dt);
        return -1;
    }
    /* the C-order strides the plan targets; zero extents count as one so
     * the strides stay meaningful */
    size_t esize = dt == EIN_F32 ? 4 : 8;
    uint64_t count = 1, bound = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        uint64_t e = (uint64_t)res->shape[i];
        if (res->shape[i] < 0 || bound > ((SIZE_MAX - 64) / esize) / (e ? e : 1)) {
            ein_plan_free(plan);
            errorf("the result is too large to allocate");
            return -1;
        }
        res->strides[i] = (int64_t)bound;
        bound *= e ? e : 1;
        count *= e;
    }
    size_t bytes = (size_t)count * esize;
    size_t rounded = (bytes + 63) / 64 * 64;
    void *data = aligned_alloc(64, rounded ? rounded : 64);
    if (!data) {
        ein_plan_free(plan);
        errorf("out of memory: the result needs %zu bytes", bytes);
        return -1;
    }
    ein_tensor out = { data, dt, ndim, res->shape, NULL };
    st = ein_execute(plan, ops, &out);
    ein_plan_free(plan);
    if (st != EIN_OK) {
        free(data);
        library_error(st);
        return -1;
    }
    res->data = data;
    res->dtype = dt;
    res->ndim = ndim;
    res->count = (int64_t)count;
    return 0;
}

int cli_print(const ein_tensor *t)
{
    char *text = cli_repr(t);
    if (!text) {
        errorf("out of memory formatting the result");
        return -1;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return 0;
}

/* Plan, run, and save or print; the inputs are already loaded. */
static int evaluate(const args *a, const ein_tensor *const *ops)
{
    if (a->explain)
        return cli_explain(a->expr, a->nin, ops) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    npy_array res;
    if (cli_einsum(a->expr, a->nin, ops, &res) < 0)
        return CLI_EXIT_FAIL;
    ein_tensor out = npy_tensor(&res);
    int rc = CLI_EXIT_OK;
    if (a->out) {
        char msg[1024];
        if (npy_write_file(a->out, &out, msg, sizeof msg) < 0) {
            errorf("%s", msg);
            rc = CLI_EXIT_FAIL;
        }
    } else if (cli_print(&out) < 0) {
        rc = CLI_EXIT_FAIL;
    }
    npy_free(&res);
    return rc;
}

int cli_main(int argc, char **argv)
{
    if (argc <= 1)   /* the REPL; prompts only when a person is typing */
        return cli_repl(stdin, "<stdin>", isatty(STDIN_FILENO));
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        free(a.in);
        return rc;
    }
    if (a.script) {
        FILE *fp = fopen(a.expr, "r");
        if (!fp) {
            errorf("%s: cannot open: %s", a.expr, strerror(errno));
            rc = CLI_EXIT_FAIL;
        } else {
            rc = cli_repl(fp, a.expr, 0);
            fclose(fp);
        }
        free(a.in);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            errorf("error writing to standard output");
            rc = CLI_EXIT_FAIL;
        }
        return rc;
    }

    npy_array *arrs = calloc((size_t)a.nin, sizeof *arrs);
    ein_tensor *ts = calloc((size_t)a.nin, sizeof *ts);
    const ein_tensor **ops = calloc((size_t)a.nin, sizeof *ops);
    int loaded = 0;
    if (!arrs || !ts || !ops) {
        errorf("out of memory");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    for (; loaded < a.nin; loaded++) {
        char msg[1024];
        if (npy_read_file(a.in[loaded], &arrs[loaded], msg, sizeof msg) < 0) {
            errorf("%s", msg);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        ts[loaded] = npy_tensor(&arrs[loaded]);
        ops[loaded] = &ts[loaded];
    }
    rc = evaluate(&a, ops);

    /* A result nobody received is a failure: a full disk or a closed pipe
     * on stdout must not exit 0. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("error writing to standard output");
        rc = CLI_EXIT_FAIL;
    }
done:
    for (int i = 0; i < loaded; i++)
        npy_free(&arrs[i]);
    free(arrs);
    free(ts);
    free(ops);
    free(a.in);
    return rc;
}
