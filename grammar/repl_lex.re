/* repl_lex.re — the tokens of the einsum REPL's statements; re2c turns this
 * into C in the build tree.  Statements are parsed in src/cli/repl.c. */
#include "repl.h"

repl_kind repl_lex(const char *line, const char **cur, repl_token *tok)
{
    const unsigned char *YYCURSOR = (const unsigned char *)*cur, *YYMARKER = YYCURSOR;
    for (;;) {
        const unsigned char *start = YYCURSOR;
        repl_kind k;
        size_t skip = 0;   /* quotes around a string's text */
        /*!re2c
            re2c:define:YYCTYPE = "unsigned char";
            re2c:yyfill:enable = 0;

            [ \t\r\f\v]+            { continue; }
            "#" [^\x00\n]*          { continue; }
            [\x00\n]                { YYCURSOR = start; k = REPL_END; goto done; }
            "="                     { k = REPL_EQ; goto done; }
            [a-zA-Z_][a-zA-Z0-9_]*  { k = REPL_IDENT; goto done; }
            ["] [^"\x00\n]* ["]     { k = REPL_STRING; skip = 1; goto done; }
            ['] [^'\x00\n]* [']     { k = REPL_STRING; skip = 1; goto done; }
            ["] [^"\x00\n]*         { k = REPL_BAD; goto done; }   /* unterminated */
            ['] [^'\x00\n]*         { k = REPL_BAD; goto done; }
            *                       { k = REPL_BAD; goto done; }
        */
    done:
        (void)YYMARKER;
        tok->kind = k;
        tok->text = (const char *)start + skip;
        tok->len = (size_t)(YYCURSOR - start) - 2 * skip;
        tok->col = (int)((const char *)start - line) + 1;
        *cur = (const char *)YYCURSOR;
        return k;
    }
}
