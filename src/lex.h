/* lex.h — tokens of the subscript notation; the lexer itself is generated
 * by re2c from grammar/subscripts.re. */
#ifndef EIN_LEX_H
#define EIN_LEX_H

typedef enum ein_token {
    EIN_TOK_END,        /* the terminating NUL */
    EIN_TOK_LABEL,      /* one letter a-z or A-Z */
    EIN_TOK_COMMA,
    EIN_TOK_ARROW,      /* "->" */
    EIN_TOK_ELLIPSIS,   /* "..." */
    EIN_TOK_SPACE,      /* a run of whitespace */
    EIN_TOK_BAD_DOT,    /* '.' that does not start "..." */
    EIN_TOK_BAD_DASH,   /* '-' not followed by '>' */
    EIN_TOK_BAD_CHAR    /* anything else (one byte) */
} ein_token;

/* Lex one token of `text` starting at byte `pos`; *len gets its length in
 * bytes (0 at the end). */
ein_token ein_lex(const char *text, int pos, int *len);

#endif
