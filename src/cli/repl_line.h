/* repl_line.h — where REPL input comes from: libedit or GNU readline
 * (picked at configure time: EIN_HAVE_LIBEDIT, EIN_HAVE_READLINE) with
 * history in ~/.einsum_history and tab completion, or plain stdio for
 * scripts, pipes and builds without either library. */
#ifndef EIN_CLI_REPL_LINE_H
#define EIN_CLI_REPL_LINE_H

#include <stdio.h>

/* Completion candidates: the i-th name (from 0), or NULL past the last. */
typedef const char *(*repl_names_fn)(void *ctx, int i);

typedef struct repl_line {
    FILE *in;
    int   edit;        /* line editing and history are on */
    char *histfile;    /* NULL: no history file */
    char *buf;         /* plain stdio's line */
    size_t cap;
} repl_line;

/* edit: use the line-editing library (when built with one); only for a
 * terminal.  names/ctx feed tab completion. */
void repl_line_open(repl_line *l, FILE *in, int edit, repl_names_fn names, void *ctx);

/* One line without its newline, owned by l until the next call; NULL at
 * end of input.  An interrupt (Ctrl-C) while typing returns NULL with
 * *interrupted set: the caller discards the line and prompts again. */
const char *repl_line_read(repl_line *l, const char *prompt, int *interrupted);

void repl_line_history(repl_line *l, const char *text);   /* remember an entry */
void repl_line_close(repl_line *l);                       /* saves the history */

/* "libedit", "readline" or "none": what this build links. */
const char *repl_line_backend(void);

#endif
