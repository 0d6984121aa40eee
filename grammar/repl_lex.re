/* repl_lex.re — the tokens of REPL statements (numbers, names, strings,
 * punctuation); re2c turns this into C in the build tree.  The grammar
 * lives in src/cli/repl_parse.c; this file only says what a token is. */
#include "repl_parse.h"

rtok_kind repl_lex(const char *src, const char **cur, rtok *tok)
{
    const unsigned char *YYCURSOR = (const unsigned char *)*cur, *YYMARKER = YYCURSOR;
    for (;;) {
        const unsigned char *start = YYCURSOR;
        rtok_kind k;
        /*!re2c
            re2c:define:YYCTYPE = "unsigned char";
            re2c:yyfill:enable = 0;

            dig = [0-9];
            exp = [eE] [+-]? dig+;

            [ \t\r\f\v]+                    { continue; }
            "\\" [ \t\r]* "\n"              { continue; }   /* explicit line joining */
            "#" [^\x00\n]*                  { continue; }
            "\x00"                          { YYCURSOR = start; k = RT_END; goto done; }
            "\n"                            { k = RT_NEWLINE; goto done; }
            ";"                             { k = RT_SEMI; goto done; }
            "("                             { k = RT_LPAREN; goto done; }
            ")"                             { k = RT_RPAREN; goto done; }
            "["                             { k = RT_LBRACK; goto done; }
            "]"                             { k = RT_RBRACK; goto done; }
            ","                             { k = RT_COMMA; goto done; }
            ":"                             { k = RT_COLON; goto done; }
            "="                             { k = RT_ASSIGN; goto done; }
            "..."                           { k = RT_ELLIPSIS; goto done; }
            "."                             { k = RT_DOT; goto done; }
            "+"                             { k = RT_PLUS; goto done; }
            "-"                             { k = RT_MINUS; goto done; }
            "*"                             { k = RT_STAR; goto done; }
            "/"                             { k = RT_SLASH; goto done; }
            "@"                             { k = RT_AT; goto done; }
            [a-zA-Z_][a-zA-Z0-9_]*          { k = RT_NAME; goto done; }
            dig+                            { k = RT_INT; goto done; }
            dig+ "." dig* exp? | "." dig+ exp? | dig+ exp
                                            { k = RT_FLOAT; goto done; }
            ["] [^"\x00\n]* ["]             { k = RT_STRING; goto done; }
            ['] [^'\x00\n]* [']             { k = RT_STRING; goto done; }
            ["] [^"\x00\n]*                 { k = RT_UNTERMINATED; goto done; }
            ['] [^'\x00\n]*                 { k = RT_UNTERMINATED; goto done; }
            *                               { k = RT_BAD; goto done; }
        */
    done:
        (void)YYMARKER;
        tok->kind = k;
        tok->text = (const char *)start;
        tok->len = (size_t)(YYCURSOR - start);
        tok->off = (int)((const char *)start - src);
        *cur = (const char *)YYCURSOR;
        return k;
    }
}
