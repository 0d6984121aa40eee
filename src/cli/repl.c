/* repl.c — the session loop: read a statement (continuing while brackets
 * are open), parse it, evaluate it, echo its value, and run :commands.
 * Errors are reported with the statement and a caret and never end an
 * interactive session; in a script the first one stops it. */
#define _POSIX_C_SOURCE 200809L

#include "repl.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "repl_line.h"

void repl_session_init(repl_session *s, const char *name, int interactive)
{
    memset(s, 0, sizeof *s);
    repl_ctx_init(&s->ctx);
    s->name = name;
    s->interactive = interactive;
    s->line = 1;
    s->out = stdout;
    s->err = stderr;
}

void repl_session_free(repl_session *s) { repl_ctx_free(&s->ctx); }

/* ------------------------------------------------------------------ */
/* printing values                                                     */

static int print_tuple(repl_ctx *c, const rval *v, FILE *fp)
{
    fputc('(', fp);
    for (int i = 0; i < v->n; i++) {
        if (i)
            fputs(", ", fp);
        if (repl_print_value(c, &v->items[i], 1, fp) < 0)
            return -1;
    }
    fputs(v->n == 1 ? ",)" : ")", fp);
    return 0;
}

int repl_print_value(repl_ctx *c, const rval *v, int repr, FILE *fp)
{
    char num[64];
    switch (v->kind) {
    case RV_NONE:
        fputs("None", fp);
        return 0;
    case RV_BOOL:
        fputs(v->num != 0 ? "True" : "False", fp);
        return 0;
    case RV_NUM:
        if (v->is_int)
            fprintf(fp, "%.0f", v->num);
        else {
            print_pyfloat(num, sizeof num, v->num, 0);
            fputs(num, fp);
        }
        return 0;
    case RV_STR:
        fprintf(fp, repr ? "'%s'" : "%s", v->str);
        return 0;
    case RV_TUPLE:
        return print_tuple(c, v, fp);
    case RV_TENSOR: {
        ein_tensor e = rt_ein(v->t);
        char *text = print_tensor(&e, &c->print, repr);
        if (!text)
            return repl_error(c, -1, "out of memory formatting a tensor");
        fputs(text, fp);
        free(text);
        return 0;
    }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* errors: the message, then the statement's line and a caret          */

static void report(repl_session *s, const char *src, int off, const char *msg)
{
    long line = s->line;
    const char *ls = src;
    if (off >= 0) {
        for (const char *p = src; p < src + off; p++) {
            if (*p == '\n') {
                line++;
                ls = p + 1;
            }
        }
    }
    if (s->interactive)
        fputs("error: ", s->err);
    else
        fprintf(s->err, "einsum: %s:%ld: ", s->name, line);
    fputs(msg, s->err);
    fputc('\n', s->err);
    if (off < 0)
        return;
    const char *le = strchr(ls, '\n');
    size_t n = le ? (size_t)(le - ls) : strlen(ls);
    fprintf(s->err, "  %.*s\n  ", (int)n, ls);
    for (const char *p = ls; p < src + off && p < ls + n; p++)
        fputc(*p == '\t' ? '\t' : ' ', s->err);
    fputs("^\n", s->err);
}

/* ------------------------------------------------------------------ */
/* :commands                                                           */

/* The commands, for :help and tab completion. */
typedef struct rcommand {
    const char *name;    /* completion text */
    const char *usage;
    const char *help;
} rcommand;

static const rcommand commands[] = {
    { ":explain", ":explain EXPR", "the plan of EXPR's contraction (einsum, matmul, linear, sum, @)" },
    { ":time", ":time EXPR [REPS]", "plan once, run REPS times: median, min, GFLOP/s, GB/s" },
    { ":set", ":set NAME VALUE",
      "precision N, threads N (0: default), path auto|greedy|optimal|branch|naive" },
    { ":vars", ":vars", "names, shapes, dtypes and bytes" },
    { ":help", ":help [NAME]", "this text, or one function's or command's" },
    { ":quit", ":quit", "leave (also Ctrl-D, quit, exit)" },
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const char help_text[] =
    "Statements (separated by ';' or new lines; '#' starts a comment):\n"
    "  A = randn(100, 50)            bind a name (a view shares its tensor's memory)\n"
    "  y = squeeze(matmul(A, w))     calls, keyword args (dtype=float32), a @ b\n"
    "  A.T  A[::2, 1:10]  A[..., 0]  views: .T, slices with steps, None for a new axis\n"
    "  A.shape  A.strides  A.dtype   strides count elements, as the library's do\n"
    "  [[1, 2], [3, 4]]  2 * A + 1   literals, elementwise + - * / with broadcasting\n"
    "  A.reshape(2, 25)              x.f(...) is f(x, ...)\n";

static int cmd_help(repl_session *s, const rstmt *st)
{
    FILE *o = s->out;
    if (st->nwords == 1) {
        const rtok *w = &st->words[0];
        const rbuiltin *b = repl_builtin_find(w->text, w->len);
        if (b) {
            fprintf(o, "%s\n  %s\n", b->sig, b->help);
            return 0;
        }
        for (int i = 0; i < NCOMMANDS; i++) {
            if (strlen(commands[i].name) == w->len + 1 &&
                !memcmp(commands[i].name + 1, w->text, w->len)) {
                fprintf(o, "%s\n  %s\n", commands[i].usage, commands[i].help);
                return 0;
            }
        }
        return repl_error(&s->ctx, w->off, "no function or command named '%.*s'", (int)w->len,
                          w->text);
    }
    fputs(help_text, o);
    fputs("Commands:\n", o);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(o, "  %-22s %s\n", commands[i].usage, commands[i].help);
    fputs("Functions:\n", o);
    for (int i = 0; i < repl_nbuiltins; i++)
        fprintf(o, "  %-44s %s\n", repl_builtins[i].sig, repl_builtins[i].help);
    return 0;
}

static int cmd_vars(repl_session *s)
{
    FILE *o = s->out;
    repl_ctx *c = &s->ctx;
    if (c->nvars == 0) {
        fputs("(no variables)\n", o);
        return 0;
    }
    fprintf(o, "%-12s %-20s %-8s %s\n", "name", "shape", "dtype", "bytes");
    for (int i = 0; i < c->nvars; i++) {
        const rval *v = &c->vars[i].v;
        if (v->kind != RV_TENSOR) {
            fprintf(o, "%-12s ", c->vars[i].name);
            if (repl_print_value(c, v, 1, o) < 0)
                return -1;
            fputc('\n', o);
            continue;
        }
        char shape[256];
        size_t k = 0;
        k += (size_t)snprintf(shape + k, sizeof shape - k, "(");
        for (int d = 0; d < v->t->ndim && k < sizeof shape - 32; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "",
                                  (long long)v->t->shape[d]);
        snprintf(shape + k, sizeof shape - k, v->t->ndim == 1 ? ",)" : ")");
        /* bytes of the view's elements; views share their buffer */
        fprintf(o, "%-12s %-20s %-8s %lld%s\n", c->vars[i].name, shape,
                ein_dtype_name(v->t->dtype),
                (long long)(rt_count(v->t) * (int64_t)rt_esize(v->t)),
                v->t->buf->refs > 1 ? " (shared)" : "");
    }
    return 0;
}

static int word_is(const rtok *t, const char *w)
{
    return t->len == strlen(w) && memcmp(t->text, w, t->len) == 0;
}

static int word_int(repl_ctx *c, const rtok *t, long lo, long hi, long *x)
{
    char buf[32];
    if (t->kind != RT_INT || t->len >= sizeof buf)
        return repl_error(c, t->off, "expected an integer");
    memcpy(buf, t->text, t->len);
    buf[t->len] = '\0';
    errno = 0;
    *x = strtol(buf, NULL, 10);
    if (errno || *x < lo || *x > hi)
        return repl_error(c, t->off, "expected an integer from %ld to %ld", lo, hi);
    return 0;
}

static const char *const path_names[] = { "auto", "greedy", "optimal", "branch", "naive" };

static int cmd_set(repl_session *s, const rstmt *st)
{
    repl_ctx *c = &s->ctx;
    if (st->nwords == 0) {
        fprintf(s->out, "precision %d\nthreads %d\npath %s\n", c->print.precision,
                c->opts.num_threads, path_names[c->opts.path]);
        return 0;
    }
    if (st->nwords != 2)
        return repl_error(c, st->off, "usage: :set precision N | threads N | path NAME");
    const rtok *k = &st->words[0], *v = &st->words[1];
    long x;
    if (word_is(k, "precision")) {
        if (word_int(c, v, 0, 17, &x) < 0)
            return -1;
        c->print.precision = (int)x;
    } else if (word_is(k, "threads")) {
        if (word_int(c, v, 0, 1024, &x) < 0)
            return -1;
        c->opts.num_threads = (int)x;
    } else if (word_is(k, "path")) {
        for (int i = 0; i < (int)(sizeof path_names / sizeof path_names[0]); i++) {
            if (word_is(v, path_names[i])) {
                c->opts.path = (ein_path_algo)i;
                return 0;
            }
        }
        return repl_error(c, v->off, "path is one of auto, greedy, optimal, branch, naive");
    } else {
        return repl_error(c, k->off, "no setting '%.*s' (precision, threads, path)",
                          (int)k->len, k->text);
    }
    return 0;
}

/* The contraction :explain and :time look at: the expression itself, or
 * the first one inside wrappers such as squeeze(matmul(A, w)). */
static const rnode *find_contraction(const rnode *n, rnode *scratch, const rbuiltin **b)
{
    if (!n)
        return NULL;
    switch (n->kind) {
    case RN_CALL:
        *b = repl_builtin_find(n->text, n->len);
        if (*b && (*b)->lower)
            return n;
        return n->nkids > 0 && n->kids[0]->kind != RN_KWARG
                   ? find_contraction(n->kids[0], scratch, b) : NULL;
    case RN_BINOP:
        if (n->op == '@') {
            *scratch = *n;
            scratch->kind = RN_CALL;
            scratch->text = "matmul";
            scratch->len = 6;
            *b = repl_builtin_find("matmul", 6);
            return scratch;
        } else {
            const rnode *l = find_contraction(n->kids[0], scratch, b);
            return l ? l : find_contraction(n->kids[1], scratch, b);
        }
    case RN_INDEX:
    case RN_ATTR:
    case RN_NEG:
        return find_contraction(n->kids[0], scratch, b);
    default:
        return NULL;
    }
}

/* Lower the statement's contraction and plan it; on success the caller
 * frees *a and the plan. */
static ein_plan *plan_stmt(repl_session *s, const rstmt *st, rargs *a, rcontract *k,
                           const rnode **found)
{
    repl_ctx *c = &s->ctx;
    static rnode scratch;
    const rbuiltin *b = NULL;
    if (!st->expr) {
        repl_error(c, st->off, "usage: :%.*s EXPR%s", (int)st->nlen, st->name,
                   word_is(&(rtok){ RT_NAME, st->name, st->nlen, 0 }, "time") ? " [REPS]" : "");
        return NULL;
    }
    const rnode *call = find_contraction(st->expr, &scratch, &b);
    if (!call) {
        repl_error(c, st->expr->off, "nothing to plan: give a call to einsum, matmul, linear "
                   "or sum (or a @ b)");
        return NULL;
    }
    *found = call;
    if (repl_eval_args(c, b, call, a) < 0)
        return NULL;
    if (b->lower(c, a, k) < 0) {
        repl_args_free(a);
        return NULL;
    }
    ein_plan *p = repl_contract_plan(c, k);
    if (!p)
        repl_args_free(a);
    return p;
}

static void explain_notes(repl_session *s, const rstmt *st, const rnode *call, const rcontract *k)
{
    if (call != st->expr && call->kind == RN_CALL)
        fprintf(s->out, "note: the plan of the %.*s call inside the expression; the rest is "
                "views and REPL arithmetic\n", (int)call->len, call->text);
    for (int i = 0; i < k->nops; i++)
        if (k->ops[i]->copied)
            fprintf(s->out, "note: op%d is a copy: %s\n", i, k->ops[i]->copied);
    if (k->bias)
        fputs("note: then the bias is added by the REPL (elementwise, broadcasting)\n", s->out);
}

static int cmd_explain(repl_session *s, const rstmt *st)
{
    rargs a;
    rcontract k;
    const rnode *call;
    ein_plan *p = plan_stmt(s, st, &a, &k, &call);
    if (!p)
        return -1;
    size_t need = ein_plan_explain(p, NULL, 0);
    char *buf = malloc(need + 1);
    int r = 0;
    if (!buf) {
        r = repl_error(&s->ctx, -1, "out of memory");
    } else {
        ein_plan_explain(p, buf, need + 1);
        fputs(buf, s->out);
        if (need == 0 || buf[need - 1] != '\n')
            fputc('\n', s->out);
        explain_notes(s, st, call, &k);
        free(buf);
    }
    ein_plan_free(p);
    repl_args_free(&a);
    return r;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void put_time(FILE *o, double t)
{
    if (t < 1e-6)
        fprintf(o, "%.1f ns", t * 1e9);
    else if (t < 1e-3)
        fprintf(o, "%.2f us", t * 1e6);
    else if (t < 1)
        fprintf(o, "%.2f ms", t * 1e3);
    else
        fprintf(o, "%.3f s", t);
}

/* The plan's own count from its explain text ("total: N flops, M bytes"),
 * so :time reports what the planner will actually do. */
static void plan_totals(const ein_plan *p, double *flops, double *bytes)
{
    *flops = *bytes = -1;
    size_t need = ein_plan_explain(p, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf)
        return;
    ein_plan_explain(p, buf, need + 1);
    const char *t = strstr(buf, "total: ");
    if (t && sscanf(t, "total: %lf flops, %lf bytes", flops, bytes) != 2)
        *flops = *bytes = -1;
    free(buf);
}

static int cmd_time(repl_session *s, const rstmt *st)
{
    repl_ctx *c = &s->ctx;
    long reps = 0;
    if (st->nwords > 1)
        return repl_error(c, st->words[1].off, "usage: :time EXPR [REPS]");
    /* at most 10^7 runs: the samples (8 bytes each) are kept for the median */
    if (st->nwords == 1 && word_int(c, &st->words[0], 1, 10000000, &reps) < 0)
        return -1;
    rargs a;
    rcontract k;
    const rnode *call;
    ein_plan *p = plan_stmt(s, st, &a, &k, &call);
    if (!p)
        return -1;
    ein_tensor ts[EIN_MAX_OPERANDS];
    const ein_tensor *ops[EIN_MAX_OPERANDS];
    for (int i = 0; i < k.nops; i++) {
        ts[i] = rt_ein(k.ops[i]);
        ops[i] = &ts[i];
    }
    int64_t shape[EIN_MAX_DIMS];
    ein_dtype dt = EIN_F64;
    int32_t nd = ein_plan_result(p, &dt, shape);
    rtensor *res = nd >= 0 && nd <= EIN_MAX_DIMS ? rt_new(dt, nd, shape) : NULL;
    double *times = NULL;
    int r = 0;
    if (!res) {
        r = repl_error(c, -1, "out of memory: the result is too large");
        goto done;
    }
    ein_tensor out = rt_ein(res);
    /* one untimed run warms caches and tells how many runs fit in about
     * half a second when no count was given */
    double t0 = now_s();
    ein_status est = ein_execute(p, ops, &out);
    double first = now_s() - t0;
    if (est != EIN_OK) {
        r = repl_lib_error(c, est);
        goto done;
    }
    if (reps == 0) {
        double want = 0.5 / (first > 1e-9 ? first : 1e-9);
        reps = want < 3 ? 3 : want > 100000 ? 100000 : (long)want;
    }
    times = malloc((size_t)reps * sizeof *times);
    if (!times) {
        r = repl_error(c, -1, "out of memory");
        goto done;
    }
    long done_reps = 0;
    for (; done_reps < reps; done_reps++) {
        if (repl_interrupted)
            break;
        double t = now_s();
        ein_execute(p, ops, &out);
        times[done_reps] = now_s() - t;
    }
    if (done_reps == 0) {
        r = repl_error(c, -1, "interrupted");
        goto done;
    }
    qsort(times, (size_t)done_reps, sizeof *times, cmp_double);
    double med = done_reps % 2 ? times[done_reps / 2]
                               : 0.5 * (times[done_reps / 2 - 1] + times[done_reps / 2]);
    double flops, bytes;
    plan_totals(p, &flops, &bytes);
    FILE *o = s->out;
    fprintf(o, "einsum \"%s\": %ld run%s%s, median ", k.subs, done_reps,
            done_reps == 1 ? "" : "s", done_reps < reps ? " (interrupted)" : "");
    put_time(o, med);
    fputs(", min ", o);
    put_time(o, times[0]);
    if (flops >= 0 && med > 0)
        fprintf(o, "; %.2f GFLOP/s (%.0f flops), %.2f GB/s (%.0f bytes)", flops / med * 1e-9,
                flops, bytes / med * 1e-9, bytes);
    fputc('\n', o);
    if (k.bias)
        fputs("note: the bias add (REPL arithmetic) is not timed\n", o);
    if (repl_interrupted)
        repl_interrupted = 0;   /* the partial timing is the answer */
done:
    free(times);
    rt_free(res);
    ein_plan_free(p);
    repl_args_free(&a);
    return r;
}

static int run_command(repl_session *s, const rstmt *st)
{
    rtok cmd = { RT_NAME, st->name, st->nlen, st->off };
    if (word_is(&cmd, "quit") || word_is(&cmd, "q") || word_is(&cmd, "exit"))
        return 1;
    if (word_is(&cmd, "help"))
        return cmd_help(s, st);
    if (word_is(&cmd, "vars"))
        return cmd_vars(s);
    if (word_is(&cmd, "set"))
        return cmd_set(s, st);
    if (word_is(&cmd, "explain"))
        return cmd_explain(s, st);
    if (word_is(&cmd, "time"))
        return cmd_time(s, st);
    return repl_error(&s->ctx, st->off, "no command ':%.*s' (try :help)", (int)st->nlen,
                      st->name);
}

/* ------------------------------------------------------------------ */
/* statements                                                          */

static int is_quit(repl_ctx *c, const rnode *n)
{
    if ((n->kind != RN_NAME && !(n->kind == RN_CALL && n->nkids == 0)) ||
        !((n->len == 4 && !memcmp(n->text, "quit", 4)) ||
          (n->len == 4 && !memcmp(n->text, "exit", 4))))
        return 0;
    return n->kind == RN_CALL || !repl_lookup(c, n->text, n->len);
}

static int run_stmt(repl_session *s, const rstmt *st)
{
    repl_ctx *c = &s->ctx;
    c->err[0] = '\0';
    c->err_off = -1;
    c->out = s->out;
    if (st->kind == RS_COMMAND)
        return run_command(s, st);
    if (st->kind == RS_EXPR && is_quit(c, st->expr))
        return 1;
    rval v;
    if (repl_eval(c, st->expr, &v) < 0)
        return -1;
    int r = 0;
    if (st->kind == RS_ASSIGN) {
        r = repl_assign(c, st->name, st->nlen, &v);
    } else {
        if (v.kind != RV_NONE) {
            r = repl_print_value(c, &v, 1, s->out);
            fputc('\n', s->out);
        }
        rv_free(&v);
    }
    return r;
}

int repl_exec(repl_session *s, const char *src)
{
    rprog prog;
    int off;
    char msg[256];
    if (repl_parse(src, &prog, &off, msg, sizeof msg) < 0) {
        /* the column counts from 1 within the statement's line */
        const char *ls = src;
        for (const char *p = src; p < src + off; p++)
            if (*p == '\n')
                ls = p + 1;
        char full[320];
        snprintf(full, sizeof full, "syntax error at column %d: %s", (int)(src + off - ls) + 1,
                 msg);
        report(s, src, off, full);
        return -1;
    }
    int r = 0;
    for (int i = 0; i < prog.n && r == 0; i++) {
        if (repl_interrupted) {
            snprintf(s->ctx.err, sizeof s->ctx.err, "interrupted");
            s->ctx.err_off = -1;
            r = -1;
        } else {
            r = run_stmt(s, &prog.stmts[i]);
        }
        fflush(s->out);
        if (r < 0) {
            if (s->ctx.err_off >= 0) {
                report(s, src, s->ctx.err_off, s->ctx.err);
            } else {
                /* no place of its own: the statement's line number */
                long save = s->line;
                for (const char *p = src; p < src + prog.stmts[i].off; p++)
                    s->line += *p == '\n';
                report(s, src, -1, s->ctx.err);
                s->line = save;
            }
        }
    }
    repl_prog_free(&prog);
    return r;
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */

static void on_sigint(int sig)
{
    (void)sig;
    repl_interrupted = 1;
}

/* Tab completion: functions, then variables, then commands. */
static const char *complete_name(void *ctx, int i)
{
    repl_session *s = ctx;
    if (i < repl_nbuiltins)
        return repl_builtins[i].name;
    i -= repl_nbuiltins;
    if (i < s->ctx.nvars)
        return s->ctx.vars[i].name;
    i -= s->ctx.nvars;
    if (i < NCOMMANDS)
        return commands[i].name;
    return NULL;
}

/* Append line to *buf (growing it), with a newline between. */
static int append(char **buf, size_t *len, size_t *cap, const char *line)
{
    size_t n = strlen(line);
    if (*len + n + 2 > *cap) {
        size_t nc = (*cap ? *cap : 256);
        while (nc < *len + n + 2)
            nc *= 2;
        char *p = realloc(*buf, nc);
        if (!p)
            return -1;
        *buf = p;
        *cap = nc;
    }
    if (*len)
        (*buf)[(*len)++] = '\n';
    memcpy(*buf + *len, line, n + 1);
    *len += n;
    return 0;
}

int cli_repl(FILE *in, const char *name, int interactive)
{
    repl_session s;
    repl_session_init(&s, name, interactive);
    struct sigaction old_int;
    if (interactive) {
        /* no SA_RESTART: a blocked read returns EINTR so Ctrl-C is seen */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        /* a parent may have started us with SIGINT blocked (test
         * harnesses do); Ctrl-C must still reach the handler */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    }
    repl_line rl;
    repl_line_open(&rl, in, interactive, complete_name, &s);
    char *chunk = NULL;
    size_t len = 0, cap = 0;
    long next_line = 1;
    int rc = CLI_EXIT_OK, at_eof = 0;
    for (;;) {
        len = 0;
        if (chunk)
            chunk[0] = '\0';
        int intr = 0, eof = 0;
        s.line = next_line;
        /* a statement goes on while brackets are open, or after a line
         * ending in a backslash (the lexer joins the two) */
        do {
            const char *prompt = !interactive ? NULL : len ? "... " : ">>> ";
            const char *l = repl_line_read(&rl, prompt, &intr);
            if (intr)
                break;
            if (!l) {
                eof = 1;
                break;
            }
            next_line++;
            if (append(&chunk, &len, &cap, l) < 0) {
                fprintf(stderr, "einsum: out of memory\n");
                rc = CLI_EXIT_FAIL;
                goto out;
            }
        } while (repl_open_brackets(chunk) > 0 || (len > 0 && chunk[len - 1] == '\\'));
        if (intr) {
            repl_interrupted = 0;
            fputs("KeyboardInterrupt\n", stdout);
            continue;
        }
        at_eof = eof;
        if (len == 0 && eof)
            break;
        repl_line_history(&rl, chunk);
        int r = repl_exec(&s, chunk);
        fflush(stdout);
        if (repl_interrupted) {
            repl_interrupted = 0;
            if (r == 0)
                fputs("KeyboardInterrupt\n", stdout);
        }
        if (r > 0)
            break;
        if (r < 0 && !interactive) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        if (eof)
            break;
    }
    if (interactive && at_eof)
        fputc('\n', stdout);   /* Ctrl-D leaves the cursor after the prompt */
out:
    repl_line_close(&rl);
    free(chunk);
    repl_session_free(&s);
    if (interactive)
        sigaction(SIGINT, &old_int, NULL);
    return rc;
}
