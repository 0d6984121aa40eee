/* print.h — numpy-style text of tensors and Python-style text of floats,
 * shared by the one-shot CLI (cli_repr) and the REPL (print options it
 * can change with :set precision). */
#ifndef EIN_CLI_PRINT_H
#define EIN_CLI_PRINT_H

#include <stddef.h>
#include <stdint.h>

#include "einsum.h"

/* numpy's set_printoptions subset the REPL exposes. */
typedef struct print_opts {
    int     precision;   /* fraction digits at most (numpy default 8) */
    int64_t threshold;   /* summarise past this many elements (1000) */
    int64_t edgeitems;   /* elements kept at each end when summarising (3) */
    int     linewidth;   /* characters per line (75) */
} print_opts;

extern const print_opts print_defaults;

/* repr != 0: numpy's repr() ("array([1., 2.], dtype=float32)"); else its
 * str() ("[1. 2.]").  Any strides.  A malloc'd string, or NULL when out of
 * memory or given an unsupported tensor. */
char *print_tensor(const ein_tensor *t, const print_opts *o, int repr);

/* Python's repr() of a float (f32: the shortest digits that read back as
 * the same float32). */
void print_pyfloat(char *buf, size_t cap, double x, int f32);

#endif
