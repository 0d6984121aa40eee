/* subscripts.re — the lexer for Einstein notation ("ij,jk->ik").
 * re2c turns it into C in the build tree; src/parse.c pulls tokens from
 * it one at a time.  Only the token rules live here. */
#include "lex.h"

ein_token ein_lex(const char *text, int pos, int *len)
{
    const char *YYCURSOR = text + pos, *YYMARKER;
    const char *start = YYCURSOR;
    ein_token tok;
    /*!re2c
        re2c:define:YYCTYPE = "unsigned char";
        re2c:yyfill:enable = 0;

        "\x00"              { *len = 0; return EIN_TOK_END; }
        [a-zA-Z]            { tok = EIN_TOK_LABEL;    goto done; }
        ","                 { tok = EIN_TOK_COMMA;    goto done; }
        "->"                { tok = EIN_TOK_ARROW;    goto done; }
        "..."               { tok = EIN_TOK_ELLIPSIS; goto done; }
        [ \t\n\r\v\f]+      { tok = EIN_TOK_SPACE;    goto done; }
        "."                 { tok = EIN_TOK_BAD_DOT;  goto done; }
        "-"                 { tok = EIN_TOK_BAD_DASH; goto done; }
        *                   { tok = EIN_TOK_BAD_CHAR; goto done; }
    */
done:
    *len = (int)(YYCURSOR - start);
    return tok;
}
