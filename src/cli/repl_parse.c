/* repl_parse.c — recursive descent over the tokens of grammar/repl_lex.re
 * into statements of small expression trees (grammar in repl_parse.h).
 * Trees live in one arena per chunk, freed at once; the first syntax error
 * stops the parse with the offending token's offset for the caret. */
#include "repl_parse.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* arena: chunks chained through their first word                      */

typedef struct chunk {
    struct chunk *next;
    size_t        used, cap;
    max_align_t   data[];
} chunk;

typedef struct parser {
    const char *src, *cur;
    rtok        tok;          /* the current token */
    chunk      *arena;
    rprog      *prog;
    jmp_buf     fail;         /* a syntax error or out of memory unwinds here */
    int         err_off;
    char       *msg;
    size_t      cap;
    int         depth;        /* nesting, bounded so hostile input cannot blow the stack */
} parser;

#define MAX_DEPTH 200

static void fail_at(parser *p, int off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail_at(parser *p, int off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, p->cap, fmt, ap);
    va_end(ap);
    p->err_off = off;
    longjmp(p->fail, 1);
}

static void *alloc(parser *p, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    chunk *c = p->arena;
    if (!c || c->used + n > c->cap) {
        size_t cap = n > 4096 ? n : 4096;
        c = malloc(sizeof *c + cap);
        if (!c)
            fail_at(p, p->tok.off, "out of memory");
        c->next = p->arena;
        c->used = 0;
        c->cap = cap;
        p->arena = c;
    }
    void *r = (char *)c->data + c->used;
    c->used += n;
    return r;
}

static void free_arena(chunk *c)
{
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
}

/* ------------------------------------------------------------------ */
/* tokens                                                              */

static const char *describe(const rtok *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case RT_END:     return "the end of the input";
    case RT_NEWLINE: return "the end of the line";
    default:
        snprintf(buf, cap, "'%.*s'", t->len > 20 ? 20 : (int)t->len, t->text);
        return buf;
    }
}

static void advance(parser *p)
{
    repl_lex(p->src, &p->cur, &p->tok);
    if (p->tok.kind == RT_UNTERMINATED)
        fail_at(p, p->tok.off, "unterminated string");
    if (p->tok.kind == RT_BAD) {
        unsigned char c = (unsigned char)p->tok.text[0];
        if (c >= 0x20 && c < 0x7f)
            fail_at(p, p->tok.off, "unexpected character '%c'", c);
        fail_at(p, p->tok.off, "unexpected byte 0x%02x", c);
    }
}

static void unexpected(parser *p, const char *wanted)
{
    char b[40];
    fail_at(p, p->tok.off, "expected %s, not %s", wanted, describe(&p->tok, b, sizeof b));
}

static void expect(parser *p, rtok_kind k, const char *what)
{
    if (p->tok.kind != k)
        unexpected(p, what);
    advance(p);
}

/* Inside brackets a newline is only white space (Python's implicit line
 * joining), so a call may span lines. */
static void skip_newlines(parser *p)
{
    while (p->tok.kind == RT_NEWLINE)
        advance(p);
}

/* ------------------------------------------------------------------ */
/* trees                                                               */

static rnode *node(parser *p, rnode_kind k, int off)
{
    rnode *n = alloc(p, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->off = off;
    return n;
}

/* A growable list of kids kept on the C stack while one node is parsed. */
typedef struct kids {
    rnode *small[8];
    rnode **v;
    int    n, cap;
} kids;

static void kids_push(parser *p, kids *k, rnode *x)
{
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 8;
        rnode **v = alloc(p, (size_t)cap * sizeof *v);
        if (k->n)
            memcpy(v, k->v, (size_t)k->n * sizeof *v);
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n++] = x;
}

static void set_kids(rnode *n, kids *k)
{
    n->kids = k->v;
    n->nkids = k->n;
}

static rnode *expr(parser *p, int in_brackets);
static rnode *sum(parser *p);

static void enter(parser *p)
{
    if (++p->depth > MAX_DEPTH)
        fail_at(p, p->tok.off, "expression nested too deeply");
}

static rnode *atom(parser *p)
{
    rtok t = p->tok;
    rnode *n;
    switch (t.kind) {
    case RT_INT:
    case RT_FLOAT: {
        n = node(p, RN_NUM, t.off);
        char buf[64];
        if (t.len >= sizeof buf)
            fail_at(p, t.off, "number too long");
        memcpy(buf, t.text, t.len);
        buf[t.len] = '\0';
        errno = 0;
        n->num = strtod(buf, NULL);
        if (errno == ERANGE && (n->num > 1 || n->num < -1))
            fail_at(p, t.off, "number out of range");
        n->is_int = t.kind == RT_INT;
        advance(p);
        break;
    }
    case RT_STRING:
        n = node(p, RN_STR, t.off);
        n->text = t.text + 1;
        n->len = t.len - 2;
        advance(p);
        break;
    case RT_NAME:
    case RT_ELLIPSIS:   /* x[..., 0]: evaluation accepts it only in an index */
        n = node(p, RN_NAME, t.off);
        n->text = t.text;
        n->len = t.len;
        advance(p);
        break;
    case RT_LPAREN:
        advance(p);
        skip_newlines(p);
        if (p->tok.kind == RT_RPAREN) {   /* () is the empty tuple */
            n = node(p, RN_TUPLE, t.off);
        } else {
            n = expr(p, 1);
            n->off = t.off;
        }
        skip_newlines(p);
        expect(p, RT_RPAREN, "')'");
        break;
    case RT_LBRACK: {
        n = node(p, RN_LIST, t.off);
        kids k = { 0 };
        advance(p);
        skip_newlines(p);
        while (p->tok.kind != RT_RBRACK) {
            kids_push(p, &k, sum(p));
            skip_newlines(p);
            if (p->tok.kind != RT_COMMA)
                break;
            advance(p);
            skip_newlines(p);
        }
        expect(p, RT_RBRACK, "',' or ']'");
        set_kids(n, &k);
        break;
    }
    default:
        unexpected(p, "an expression");
        return NULL;   /* not reached */
    }
    return n;
}

/* One item of an index: an expression or a slice start:stop:step. */
static rnode *index_item(parser *p)
{
    int off = p->tok.off;
    rnode *parts[3] = { NULL, NULL, NULL };
    int np = 0;
    for (;;) {
        skip_newlines(p);
        if (p->tok.kind != RT_COLON && p->tok.kind != RT_COMMA && p->tok.kind != RT_RBRACK)
            parts[np] = sum(p);
        skip_newlines(p);
        if (p->tok.kind != RT_COLON)
            break;
        if (np == 2)
            fail_at(p, p->tok.off, "a slice has at most three parts, start:stop:step");
        advance(p);
        np++;
    }
    if (np == 0) {
        if (!parts[0])
            unexpected(p, "an index");
        return parts[0];
    }
    rnode *s = node(p, RN_SLICE, off);
    s->kids = alloc(p, 3 * sizeof *s->kids);
    memcpy(s->kids, parts, sizeof parts);
    s->nkids = 3;
    return s;
}

static rnode *postfix(parser *p)
{
    rnode *n = atom(p);
    for (;;) {
        rtok t = p->tok;
        if (t.kind == RT_LPAREN) {
            kids k = { 0 };
            if (n->kind == RN_ATTR) {
                /* x.reshape(2, 3) is reshape(x, 2, 3): numpy's and torch's
                 * methods are the functions with x first */
                kids_push(p, &k, n->kids[0]);
                n->kids = NULL;
                n->nkids = 0;
            } else if (n->kind != RN_NAME) {
                fail_at(p, t.off, "only a function name can be called");
            }
            n->kind = RN_CALL;
            advance(p);
            skip_newlines(p);
            int seen_kw = 0;
            while (p->tok.kind != RT_RPAREN) {
                enter(p);
                rnode *a;
                rtok at = p->tok;
                const char *save = p->cur;
                if (at.kind == RT_NAME) {
                    advance(p);
                    if (p->tok.kind == RT_ASSIGN) {
                        advance(p);
                        skip_newlines(p);
                        a = node(p, RN_KWARG, at.off);
                        a->text = at.text;
                        a->len = at.len;
                        a->kids = alloc(p, sizeof *a->kids);
                        a->kids[0] = sum(p);
                        a->nkids = 1;
                        seen_kw = 1;
                        goto pushed;
                    }
                    p->cur = save;   /* not a keyword: parse the name again */
                    p->tok = at;
                }
                if (seen_kw)
                    fail_at(p, at.off, "a positional argument after a keyword argument");
                a = sum(p);
            pushed:
                p->depth--;
                kids_push(p, &k, a);
                skip_newlines(p);
                if (p->tok.kind != RT_COMMA)
                    break;
                advance(p);
                skip_newlines(p);
            }
            expect(p, RT_RPAREN, "',' or ')'");
            set_kids(n, &k);
        } else if (t.kind == RT_LBRACK) {
            rnode *ix = node(p, RN_INDEX, n->off);
            kids k = { 0 };
            kids_push(p, &k, n);
            advance(p);
            for (;;) {
                enter(p);
                kids_push(p, &k, index_item(p));
                p->depth--;
                if (p->tok.kind != RT_COMMA)
                    break;
                advance(p);
                skip_newlines(p);
                if (p->tok.kind == RT_RBRACK)
                    break;
            }
            expect(p, RT_RBRACK, "',' or ']'");
            set_kids(ix, &k);
            n = ix;
        } else if (t.kind == RT_DOT) {
            advance(p);
            if (p->tok.kind != RT_NAME)
                unexpected(p, "an attribute name after '.'");
            /* the attribute's own offset: an error points at its name */
            rnode *a = node(p, RN_ATTR, p->tok.off);
            a->text = p->tok.text;
            a->len = p->tok.len;
            a->kids = alloc(p, sizeof *a->kids);
            a->kids[0] = n;
            a->nkids = 1;
            advance(p);
            n = a;
        } else {
            break;
        }
    }
    return n;
}

static rnode *unary(parser *p)
{
    rtok t = p->tok;
    if (t.kind == RT_MINUS || t.kind == RT_PLUS) {
        enter(p);
        advance(p);
        rnode *x = unary(p);
        p->depth--;
        if (t.kind == RT_PLUS)
            return x;
        if (x->kind == RN_NUM) {   /* fold -3 so literals stay numbers */
            x->num = -x->num;
            x->off = t.off;
            return x;
        }
        rnode *n = node(p, RN_NEG, t.off);
        n->kids = alloc(p, sizeof *n->kids);
        n->kids[0] = x;
        n->nkids = 1;
        return n;
    }
    return postfix(p);
}

static rnode *binop(parser *p, rnode *l, rtok op, rnode *r)
{
    rnode *n = node(p, RN_BINOP, l->off);
    n->op = op.text[0];
    n->kids = alloc(p, 2 * sizeof *n->kids);
    n->kids[0] = l;
    n->kids[1] = r;
    n->nkids = 2;
    return n;
}

static rnode *term(parser *p)
{
    rnode *l = unary(p);
    while (p->tok.kind == RT_STAR || p->tok.kind == RT_SLASH || p->tok.kind == RT_AT) {
        rtok op = p->tok;
        advance(p);
        l = binop(p, l, op, unary(p));
    }
    return l;
}

static rnode *sum(parser *p)
{
    enter(p);
    rnode *l = term(p);
    while (p->tok.kind == RT_PLUS || p->tok.kind == RT_MINUS) {
        rtok op = p->tok;
        advance(p);
        l = binop(p, l, op, term(p));
    }
    p->depth--;
    return l;
}

/* sum (',' sum)* [','] : a tuple when a comma appears.  Outside brackets a
 * newline ends it; inside, newlines are skipped. */
static rnode *expr(parser *p, int in_brackets)
{
    rnode *first = sum(p);
    if (p->tok.kind != RT_COMMA)
        return first;
    rnode *t = node(p, RN_TUPLE, first->off);
    kids k = { 0 };
    kids_push(p, &k, first);
    while (p->tok.kind == RT_COMMA) {
        advance(p);
        if (in_brackets)
            skip_newlines(p);
        rtok_kind nk = p->tok.kind;
        if (nk == RT_RPAREN || nk == RT_END || nk == RT_NEWLINE || nk == RT_SEMI)
            break;
        kids_push(p, &k, sum(p));
        if (in_brackets)
            skip_newlines(p);
    }
    set_kids(t, &k);
    return t;
}

/* ------------------------------------------------------------------ */
/* statements                                                          */

static int at_stmt_end(const parser *p)
{
    return p->tok.kind == RT_END || p->tok.kind == RT_NEWLINE || p->tok.kind == RT_SEMI;
}

static rstmt *new_stmt(parser *p)
{
    rprog *g = p->prog;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 8;
        rstmt *s = realloc(g->stmts, (size_t)cap * sizeof *s);
        if (!s)
            fail_at(p, p->tok.off, "out of memory");
        g->stmts = s;
        g->cap = cap;
    }
    rstmt *s = &g->stmts[g->n++];
    memset(s, 0, sizeof *s);
    return s;
}

static int tok_is(const rtok *t, const char *w)
{
    return t->kind == RT_NAME && t->len == strlen(w) && memcmp(t->text, w, t->len) == 0;
}

static void statement(parser *p)
{
    rstmt *s = new_stmt(p);
    s->off = p->tok.off;
    rtok first = p->tok;
    if (first.kind == RT_COLON) {
        advance(p);
        if (p->tok.kind != RT_NAME)
            unexpected(p, "a command name after ':' (try :help)");
        s->kind = RS_COMMAND;
        s->name = p->tok.text;
        s->nlen = p->tok.len;
        rtok cmd = p->tok;
        advance(p);
        /* :explain and :time take an expression (:time then an optional
         * repeat count); the others take plain words */
        if ((tok_is(&cmd, "explain") || tok_is(&cmd, "time")) && !at_stmt_end(p)) {
            s->expr = sum(p);
        }
        while (!at_stmt_end(p)) {
            if (s->nwords == (int)(sizeof s->words / sizeof s->words[0]))
                fail_at(p, p->tok.off, "too many words after :%.*s", (int)cmd.len, cmd.text);
            if (p->tok.kind != RT_NAME && p->tok.kind != RT_INT && p->tok.kind != RT_FLOAT)
                unexpected(p, "a name or a number");
            s->words[s->nwords++] = p->tok;
            advance(p);
        }
    } else {
        s->kind = RS_EXPR;
        if (first.kind == RT_NAME) {   /* NAME '=' or an expression */
            const char *save = p->cur;
            advance(p);
            if (p->tok.kind == RT_ASSIGN) {
                advance(p);
                s->kind = RS_ASSIGN;
                s->name = first.text;
                s->nlen = first.len;
            } else {
                p->cur = save;
                p->tok = first;
            }
        }
        s->expr = expr(p, 0);
    }
    if (!at_stmt_end(p))
        unexpected(p, "';' or the end of the statement");
}

int repl_parse(const char *src, rprog *prog, int *err_off, char *msg, size_t cap)
{
    memset(prog, 0, sizeof *prog);
    parser p;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.cur = src;
    p.prog = prog;
    p.msg = msg;
    p.cap = cap;
    if (setjmp(p.fail)) {
        free_arena(p.arena);
        free(prog->stmts);
        memset(prog, 0, sizeof *prog);
        *err_off = p.err_off;
        return -1;
    }
    advance(&p);
    for (;;) {
        while (p.tok.kind == RT_NEWLINE || p.tok.kind == RT_SEMI)
            advance(&p);
        if (p.tok.kind == RT_END)
            break;
        statement(&p);
    }
    prog->arena = p.arena;
    if (cap)
        msg[0] = '\0';
    *err_off = -1;
    return 0;
}

void repl_prog_free(rprog *prog)
{
    if (!prog)
        return;
    free_arena(prog->arena);
    free(prog->stmts);
    memset(prog, 0, sizeof *prog);
}

int repl_open_brackets(const char *src)
{
    const char *cur = src;
    rtok t;
    int depth = 0;
    for (;;) {
        rtok_kind k = repl_lex(src, &cur, &t);
        if (k == RT_END)
            return depth;
        if (k == RT_LPAREN || k == RT_LBRACK)
            depth++;
        else if ((k == RT_RPAREN || k == RT_RBRACK) && depth > 0)
            depth--;
    }
}
