/* repl_parse.h — REPL statements: tokens (grammar/repl_lex.re) and a small
 * recursive-descent parser that turns a chunk of text into statements of
 * expression trees.  Nothing here evaluates; repl.c walks the trees.
 *
 *   stmt  := ':' NAME cmd-args | NAME '=' expr | expr      (';' or newline between)
 *   expr  := sum (',' sum)* [',']                          (a tuple when a comma appears)
 *   sum   := term (('+' | '-') term)*
 *   term  := unary (('*' | '/' | '@') unary)*
 *   unary := '-' unary | '+' unary | post
 *   post  := atom ('(' args ')' | '[' index ']' | '.' NAME)*
 *   atom  := NUMBER | STRING | NAME | '...' | '(' expr ')' | '[' [sum (',' sum)*] ']'
 */
#ifndef EIN_CLI_REPL_PARSE_H
#define EIN_CLI_REPL_PARSE_H

#include <stddef.h>

typedef enum rtok_kind {
    RT_END,            /* NUL: end of the text */
    RT_NEWLINE, RT_SEMI,
    RT_NAME, RT_INT, RT_FLOAT, RT_STRING,   /* a string's text keeps its quotes */
    RT_LPAREN, RT_RPAREN, RT_LBRACK, RT_RBRACK,
    RT_COMMA, RT_COLON, RT_ASSIGN, RT_DOT, RT_ELLIPSIS,
    RT_PLUS, RT_MINUS, RT_STAR, RT_SLASH, RT_AT,
    RT_UNTERMINATED,   /* a string without its closing quote */
    RT_BAD             /* a character no token starts with */
} rtok_kind;

typedef struct rtok {
    rtok_kind   kind;
    const char *text;   /* into the source */
    size_t      len;
    int         off;    /* byte offset from the start of the source */
} rtok;

/* Next token of NUL-terminated src; *cur advances past it.  At the end it
 * keeps returning RT_END. */
rtok_kind repl_lex(const char *src, const char **cur, rtok *tok);

typedef enum rnode_kind {
    RN_NUM,     /* num; is_int for literals without '.' or exponent */
    RN_STR,     /* text/len: the contents, quotes stripped */
    RN_NAME,    /* text/len (True, False, None and an index's ... are names too) */
    RN_CALL,    /* text/len: function name; kids: arguments (RN_KWARG among them) */
    RN_KWARG,   /* text/len: keyword; kids[0]: value */
    RN_INDEX,   /* kids[0]: the indexed value; kids[1..]: items (RN_SLICE or expressions) */
    RN_SLICE,   /* kids[0..2]: start, stop, step, each NULL when left out */
    RN_ATTR,    /* kids[0]: object; text/len: attribute */
    RN_TUPLE,   /* kids: items */
    RN_LIST,    /* kids: items */
    RN_NEG,     /* kids[0] */
    RN_BINOP    /* op: '+' '-' '*' '/' '@'; kids[0], kids[1] */
} rnode_kind;

typedef struct rnode {
    rnode_kind     kind;
    int            off;        /* source byte offset, where an error's caret goes */
    double         num;
    int            is_int;
    char           op;
    const char    *text;
    size_t         len;
    struct rnode **kids;
    int            nkids;
} rnode;

typedef enum rstmt_kind { RS_EXPR, RS_ASSIGN, RS_COMMAND } rstmt_kind;

typedef struct rstmt {
    rstmt_kind  kind;
    int         off;         /* source byte offset of the statement */
    const char *name;        /* RS_ASSIGN: target; RS_COMMAND: command word */
    size_t      nlen;
    rnode      *expr;        /* RS_EXPR, RS_ASSIGN; :explain and :time */
    /* commands: the words after the command (or after its expression),
     * as tokens: ':set precision 4' has words "precision" and "4" */
    rtok        words[4];
    int         nwords;
} rstmt;

/* A parsed chunk: statements and the memory of their trees. */
typedef struct rprog {
    rstmt *stmts;
    int    n, cap;
    void  *arena;
} rprog;

/* Parse all of src.  On success returns 0.  On a syntax error returns -1
 * with *err_off the byte offset of the offending token and msg the reason
 * (no position in it); *prog then holds nothing to free. */
int  repl_parse(const char *src, rprog *prog, int *err_off, char *msg, size_t cap);
void repl_prog_free(rprog *prog);

/* How many brackets src leaves open ((, [), ignoring strings and comments:
 * the REPL reads a continuation line while this is positive. */
int  repl_open_brackets(const char *src);

#endif
