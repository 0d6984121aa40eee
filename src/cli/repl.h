/* repl.h — the einsum REPL and script runner: reads statements (a prompt
 * and line editing on a terminal, plain lines from pipes and .ein files),
 * parses them (repl_parse.c), evaluates them (repl_eval.c,
 * repl_builtins.c), echoes results like numpy's repr, and runs the
 * :commands (:explain, :time, :set, :vars, :help, :quit). */
#ifndef EIN_CLI_REPL_H
#define EIN_CLI_REPL_H

#include <stdio.h>

#include "repl_eval.h"

typedef struct repl_session {
    repl_ctx    ctx;
    const char *name;          /* script name for messages */
    int         interactive;   /* errors do not end it; "error: " messages */
    long        line;          /* first line of the chunk being run */
    FILE       *out, *err;
} repl_session;

void repl_session_init(repl_session *s, const char *name, int interactive);
void repl_session_free(repl_session *s);

/* Parse and run a chunk of statements (lines joined already).  Returns 0,
 * -1 after reporting an error (the chunk's later statements do not run),
 * or 1 when a statement asked to quit. */
int repl_exec(repl_session *s, const char *src);

/* Text of a value: repr != 0 as the REPL echoes it (numpy's repr for
 * tensors, Python's for the rest), else as print() shows it.  Returns -1
 * (with the session's error set) when out of memory. */
int repl_print_value(repl_ctx *c, const rval *v, int repr, FILE *fp);

/* Run statements from `in` (`name` in messages) until the end or :quit.
 * Interactive: a prompt, line editing when built with it, Ctrl-C
 * abandons a statement, errors do not stop the session.  Otherwise the
 * first error stops it.  Returns the exit status. */
int cli_repl(FILE *in, const char *name, int interactive);

#endif
