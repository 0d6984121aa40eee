/* fuzz_repl.c — the REPL's statement lexer and parser (grammar/repl_lex.re,
 * src/cli/repl_parse.c) on arbitrary text.  Whatever the input, parsing
 * returns: a program whose statements start inside the text, or a syntax
 * error with a reason and an offset inside the text (where the REPL puts
 * its caret).  Parsing the same text twice gives the same answer, and the
 * bracket counter the reader uses for continuation lines never crashes.
 * Evaluation is left out: a statement like zeros(10**9, 10**9) is valid
 * and would only measure the allocator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse src; returns the statement count, or -1 - the error offset. */
static long parse_once(const char *src, size_t len)
{
    rprog prog;
    int off = -1;
    char msg[256];
    msg[0] = '\0';
    if (repl_parse(src, &prog, &off, msg, sizeof msg) != 0) {
        if (off < 0 || (size_t)off > len || !msg[0]) {
            fprintf(stderr, "syntax error at offset %d of %zu, reason \"%s\"\n", off, len,
                    msg);
            abort();
        }
        return -1 - (long)off;
    }
    for (int i = 0; i < prog.n; i++)
        if (prog.stmts[i].off < 0 || (size_t)prog.stmts[i].off > len) {
            fprintf(stderr, "statement %d starts at %d of %zu\n", i, prog.stmts[i].off, len);
            abort();
        }
    long n = prog.n;
    repl_prog_free(&prog);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)   /* statements are lines a person types */
        return 0;
    char *src = malloc(size + 1);
    if (!src)
        return 0;
    memcpy(src, data, size);
    src[size] = '\0';
    size_t len = strlen(src);   /* the REPL's lines end at a NUL */
    long first = parse_once(src, len), second = parse_once(src, len);
    if (first != second) {
        fprintf(stderr, "parsed twice: %ld then %ld\n", first, second);
        abort();
    }
    (void)repl_open_brackets(src);
    free(src);
    return 0;
}
