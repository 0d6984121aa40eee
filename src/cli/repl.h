/* repl.h — the einsum REPL and script runner: statements that load, bind,
 * evaluate, print, save and explain (`y = einsum "ij,j->i" A x`), one per
 * line.  Its tokens come from grammar/repl_lex.re. */
#ifndef EIN_CLI_REPL_H
#define EIN_CLI_REPL_H

#include <stddef.h>
#include <stdio.h>

typedef enum repl_kind {
    REPL_END,      /* end of the statement: newline, NUL */
    REPL_IDENT,    /* a name or keyword */
    REPL_STRING,   /* "..." or '...'; text excludes the quotes */
    REPL_EQ,       /* = */
    REPL_BAD       /* anything else, or an unterminated string */
} repl_kind;

typedef struct repl_token {
    repl_kind   kind;
    const char *text;   /* into the line */
    size_t      len;
    int         col;    /* 1-based */
} repl_token;

/* Next token of a NUL-terminated line; *cur advances past it.  At the end
 * it keeps returning REPL_END. */
repl_kind repl_lex(const char *line, const char **cur, repl_token *tok);

/* Run statements from `in` (`name` in messages).  Interactive: a prompt,
 * and errors do not stop the session.  Otherwise the first error stops
 * it.  Returns the exit status. */
int cli_repl(FILE *in, const char *name, int interactive);

#endif
