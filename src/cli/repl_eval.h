/* repl_eval.h — a REPL session's state and the evaluation of expression
 * trees (repl_eval.c) by the built-in functions (repl_builtins.c).  The
 * contractions (einsum, matmul, linear, sum, '@') lower to an einsum
 * expression over the operands' views, so :explain and :time can plan the
 * same thing a statement evaluates. */
#ifndef EIN_CLI_REPL_EVAL_H
#define EIN_CLI_REPL_EVAL_H

#include <signal.h>
#include <stdio.h>
#include <stdint.h>

#include "einsum.h"
#include "print.h"
#include "repl_parse.h"
#include "repl_value.h"

typedef struct repl_var {
    char *name;
    rval  v;
} repl_var;

typedef struct repl_ctx {
    repl_var   *vars;
    int         nvars, cap;
    print_opts  print;
    ein_options opts;         /* :set threads, :set path */
    uint64_t    rng;          /* splitmix64 state; seed(n) sets it */
    double      spare;        /* randn: the second Box-Muller value */
    int         have_spare;
    FILE       *out;          /* where print() writes */
    /* the last error: a message and, when it points into the statement,
     * a byte offset for the caret (-1 otherwise) */
    char        err[8192];
    int         err_off;
} repl_ctx;

void repl_ctx_init(repl_ctx *c);
void repl_ctx_free(repl_ctx *c);

/* Record an error; returns -1 so callers can `return repl_error(...)`. */
int repl_error(repl_ctx *c, int off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Record the library's last error (its own caret line included). */
int repl_lib_error(repl_ctx *c, ein_status st);

rval *repl_lookup(repl_ctx *c, const char *name, size_t len);
/* Bind name to *v, taking it (the old value is released afterwards). */
int   repl_assign(repl_ctx *c, const char *name, size_t len, rval *v);

/* Arguments of one call, evaluated. */
typedef struct rargs {
    rval        *pos;
    int          npos;
    const rnode *kwnode[8];   /* RN_KWARG nodes, names in kwnode[i]->text */
    rval         kw[8];
    int          nkw;
    const rnode *call;        /* for error offsets */
} rargs;

/* A lowered contraction: subscripts over borrowed operand views, and a
 * bias the REPL adds after the library's result (linear). */
typedef struct rcontract {
    char           subs[1024];
    int            nops;
    const rtensor *ops[EIN_MAX_OPERANDS];
    const rval    *bias;      /* NULL: none */
} rcontract;

typedef int (*rbuiltin_fn)(repl_ctx *c, const rargs *a, rval *out);
typedef int (*rlower_fn)(repl_ctx *c, const rargs *a, rcontract *k);

typedef struct rbuiltin {
    const char *name;
    const char *sig;     /* "matmul(a, b)" */
    const char *help;    /* one line */
    int         min, max;   /* positional arguments; max -1: any */
    const char *kws;     /* accepted keywords, space-separated */
    rbuiltin_fn fn;
    rlower_fn   lower;   /* contractions only */
} rbuiltin;

extern const rbuiltin repl_builtins[];
extern const int repl_nbuiltins;
const rbuiltin *repl_builtin_find(const char *name, size_t len);

/* Evaluate an expression tree into *out (owned by the caller). */
int  repl_eval(repl_ctx *c, const rnode *n, rval *out);
/* Evaluate a call's arguments and check them against b's arity and
 * keywords. */
int  repl_eval_args(repl_ctx *c, const rbuiltin *b, const rnode *call, rargs *a);
void repl_args_free(rargs *a);
const rval *repl_kwarg(const rargs *a, const char *name);

/* Plan k with the session's options (NULL and an error on failure), and
 * run a plan into a fresh C-order result, adding k's bias. */
ein_plan *repl_contract_plan(repl_ctx *c, const rcontract *k);
int       repl_contract_exec(repl_ctx *c, const ein_plan *p, const rcontract *k,
                             rval *out);

/* Elementwise a op b ('+', '-', '*', '/') with numpy broadcasting;
 * numbers count as 0-d (their dtype yields to a tensor's). */
int repl_arith(repl_ctx *c, int off, char op, const rval *a, const rval *b, rval *out);

#endif
