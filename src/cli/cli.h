/* cli.h — the einsum program: argument handling, one evaluation, and
 * printing a result the way numpy's repr() does.  main.c only calls
 * cli_main(); the tests reach cli_repr() directly. */
#ifndef EIN_CLI_CLI_H
#define EIN_CLI_CLI_H

#include "einsum.h"

/* Exit statuses of the program. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,    /* bad input, a library error, an I/O error */
    CLI_EXIT_USAGE = 2    /* bad command line */
};

/* Run the program; returns the exit status.  Writes only to stdout,
 * stderr and the -o file. */
int cli_main(int argc, char **argv);

/* numpy's repr() of a float32/float64 tensor (any strides), e.g.
 * "array([[1., 2.],\n       [3., 4.]], dtype=float32)", with numpy's
 * default print options (precision 8, threshold 1000, edgeitems 3,
 * linewidth 75).  Returns a malloc'd string, or NULL when out of memory
 * or given an unsupported tensor. */
char *cli_repr(const ein_tensor *t);

/* Shared by the command line and the REPL.  Each reports a failure on
 * stderr ("einsum: " and the library's message) and returns -1. */
struct npy_array;
/* Evaluate expr over ops into a new C-order result owned by *res. */
int cli_einsum(const char *expr, int n, const ein_tensor *const *ops,
               struct npy_array *res);
int cli_explain(const char *expr, int n, const ein_tensor *const *ops);
int cli_print(const ein_tensor *t);   /* repr and a newline on stdout */

/* Path options (ein_options.path, path_pairs, memory_limit) that
 * cli_einsum and cli_explain plan with from now on; NULL restores the
 * defaults.  The pairs are copied.  cli_parse_path reads "auto",
 * "greedy", "optimal", "branch", "naive" or an explicit path "0,1;0,1"
 * ("2" or "2,-1" for a single-operand step) into *o, its pairs into
 * `pairs` (room for 2 * cap); cli_parse_bytes reads "4096", "64K", "64M",
 * "2G" (powers of 1024).  Both return 0, or -1 with a message in why. */
int cli_set_options(const ein_options *o);
int cli_parse_path(const char *s, ein_options *o, int32_t *pairs, int cap,
                   char *why, size_t whycap);
int cli_parse_bytes(const char *s, int64_t *bytes, char *why, size_t whycap);

#endif
