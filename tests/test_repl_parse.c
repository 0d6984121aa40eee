/* test_repl_parse.c — covers grammar/repl_lex.re and src/cli/repl_parse.c:
 * tokens and their offsets, the trees statements parse into (printed
 * back as S-expressions), and syntax errors with the offset the caret
 * goes under. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "repl_parse.h"

/* ------------------------------------------------------------------ */
/* tokens                                                              */

Test(repl_lex, tokens_and_offsets)
{
    const char *src = "y = einsum(\"ij,j->i\", A_1, x[::-2]) @ w.T  # comment\n:time 1.5e3";
    const rtok_kind want[] = {
        RT_NAME, RT_ASSIGN, RT_NAME, RT_LPAREN, RT_STRING, RT_COMMA, RT_NAME, RT_COMMA,
        RT_NAME, RT_LBRACK, RT_COLON, RT_COLON, RT_MINUS, RT_INT, RT_RBRACK, RT_RPAREN,
        RT_AT, RT_NAME, RT_DOT, RT_NAME, RT_NEWLINE, RT_COLON, RT_NAME, RT_FLOAT, RT_END, RT_END
    };
    const char *text[] = { "y", "=", "einsum", "(", "\"ij,j->i\"", ",", "A_1", ",", "x", "[",
                           ":", ":", "-", "2", "]", ")", "@", "w", ".", "T", "\n", ":",
                           "time", "1.5e3", "", "" };
    const char *cur = src;
    rtok t;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_assert_eq(repl_lex(src, &cur, &t), want[i], "token %zu: kind %d", i, t.kind);
        cr_assert(t.len == strlen(text[i]) && memcmp(t.text, text[i], t.len) == 0,
                  "token %zu: '%.*s'", i, (int)t.len, t.text);
        cr_assert_eq(t.off, (int)(t.text - src));
    }
}

Test(repl_lex, numbers_strings_and_bad_input)
{
    struct { const char *src; rtok_kind k; size_t len; } cases[] = {
        { "42", RT_INT, 2 },       { "4.", RT_FLOAT, 2 },   { ".5", RT_FLOAT, 2 },
        { "1e-3", RT_FLOAT, 4 },   { "2E+10", RT_FLOAT, 5 }, { "'a b'", RT_STRING, 5 },
        { "\"x\" + 1", RT_STRING, 3 }, { "\"oops", RT_UNTERMINATED, 5 },
        { "'oops", RT_UNTERMINATED, 5 }, { "$", RT_BAD, 1 }, { "", RT_END, 0 },
        { "# only a comment", RT_END, 0 }, { "\\\n  x", RT_NAME, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *cur = cases[i].src;
        rtok t;
        cr_assert_eq(repl_lex(cases[i].src, &cur, &t), cases[i].k, "'%s': kind %d",
                     cases[i].src, t.kind);
        cr_assert_eq(t.len, cases[i].len, "'%s': length %zu", cases[i].src, t.len);
    }
}

/* ------------------------------------------------------------------ */
/* trees, printed back                                                 */

static void put(char **p, char *end, const char *fmt, const char *s, size_t n)
{
    int w = snprintf(*p, (size_t)(end - *p), fmt, (int)n, s);
    *p += w > 0 && *p + w < end ? w : 0;
}

static void sexpr(const rnode *n, char **p, char *end)
{
    if (!n) {
        put(p, end, "%.*s", "_", 1);
        return;
    }
    char num[48];
    switch (n->kind) {
    case RN_NUM:
        snprintf(num, sizeof num, n->is_int ? "%.0f" : "%gf", n->num);
        put(p, end, "%.*s", num, strlen(num));
        return;
    case RN_STR:  put(p, end, "'%.*s'", n->text, n->len); return;
    case RN_NAME: put(p, end, "%.*s", n->text, n->len); return;
    case RN_CALL:   put(p, end, "(call %.*s", n->text, n->len); break;
    case RN_KWARG:  put(p, end, "(kw %.*s", n->text, n->len); break;
    case RN_INDEX:  put(p, end, "(index%.*s", "", 0); break;
    case RN_SLICE:  put(p, end, "(slice%.*s", "", 0); break;
    case RN_ATTR:   put(p, end, "(attr %.*s", n->text, n->len); break;
    case RN_TUPLE:  put(p, end, "(tuple%.*s", "", 0); break;
    case RN_LIST:   put(p, end, "(list%.*s", "", 0); break;
    case RN_NEG:    put(p, end, "(neg%.*s", "", 0); break;
    case RN_BINOP:  put(p, end, "(%.*s", &n->op, 1); break;
    }
    for (int i = 0; i < n->nkids; i++) {
        put(p, end, "%.*s", " ", 1);
        sexpr(n->kids[i], p, end);
    }
    put(p, end, "%.*s", ")", 1);
}

/* All statements of src as "stmt; stmt" S-expressions. */
static void show(const char *src, char *buf, size_t cap)
{
    rprog g;
    int off;
    char msg[256];
    cr_assert_eq(repl_parse(src, &g, &off, msg, sizeof msg), 0, "'%s': %s (offset %d)", src,
                 msg, off);
    char *p = buf, *end = buf + cap;
    buf[0] = '\0';
    for (int i = 0; i < g.n; i++) {
        const rstmt *s = &g.stmts[i];
        if (i)
            put(&p, end, "%.*s", "; ", 2);
        if (s->kind == RS_ASSIGN)
            put(&p, end, "%.*s = ", s->name, s->nlen);
        if (s->kind == RS_COMMAND)
            put(&p, end, ":%.*s", s->name, s->nlen);
        if (s->expr) {
            if (s->kind == RS_COMMAND)
                put(&p, end, "%.*s", " ", 1);
            sexpr(s->expr, &p, end);
        }
        for (int w = 0; w < s->nwords; w++)
            put(&p, end, " %.*s", s->words[w].text, s->words[w].len);
    }
    repl_prog_free(&g);
}

typedef struct parse_case {
    const char *src, *want;
} parse_case;

/* Criterion runs each case in a fresh process where pointers differ, so
 * the parameters are indices into this table. */
static const parse_case tree_cases[] = {
    { "A", "A" },
    { "y = 1 + 2 * 3", "y = (+ 1 (* 2 3))" },
    { "(1 + 2) * 3", "(* (+ 1 2) 3)" },
    { "a - b - c", "(- (- a b) c)" },
    { "-x * 2", "(* (neg x) 2)" },
    { "-3", "-3" },
    { "2.5e1 / 4.", "(/ 25f 4f)" },
    { "A @ B @ C", "(@ (@ A B) C)" },
    { "einsum(\"ij,j->i\", A, x)", "(call einsum 'ij,j->i' A x)" },
    { "linear(A, w, bias=0.5)", "(call linear A w (kw bias 0.5f))" },
    { "zeros(2, 3, dtype=float32)", "(call zeros 2 3 (kw dtype float32))" },
    { "f()", "(call f)" },
    { "x[1]", "(index x 1)" },
    { "x[::2, 1:10]", "(index x (slice _ _ 2) (slice 1 10 _))" },
    { "x[::-1]", "(index x (slice _ _ -1))" },
    { "x[:, 0]", "(index x (slice _ _ _) 0)" },
    { "x[None, -1:]", "(index x None (slice -1 _ _))" },
    { "x[..., 0]", "(index x ... 0)" },
    { "A.T.shape", "(attr shape (attr T A))" },
    { "A.reshape(2, 3)", "(call reshape A 2 3)" },
    { "A.T.sum(axis=0)", "(call sum (attr T A) (kw axis 0))" },
    { "A.T.shape, A[::2, 1:10].strides",
          "(tuple (attr shape (attr T A)) (attr strides (index A (slice _ _ 2) (slice 1 10 _))))" },
    { "(1,)", "(tuple 1)" },
    { "()", "(tuple)" },
    { "[[1, 2], [3, 4]]", "(list (list 1 2) (list 3 4))" },
    { "[]", "(list)" },
    { "a = 1; b = 2\nc", "a = 1; b = 2; c" },
    { ";;\n\n x ;", "x" },
    { "sum(\n  x,\n  axis=1\n)", "(call sum x (kw axis 1))" },
    { "x = 1  # comment", "x = 1" },
    { ":explain einsum(\"ij,jk->ik\", A, w)", ":explain (call einsum 'ij,jk->ik' A w)" },
    { ":time A @ w 100", ":time (@ A w) 100" },
    { ":set precision 4", ":set precision 4" },
    { ":help matmul", ":help matmul" },
    { ":vars; :quit", ":vars; :quit" },
    { "save(\"y.npy\", y);  B = load('B.npy')", "(call save 'y.npy' y); B = (call load 'B.npy')" },
};
#define NTREES (sizeof tree_cases / sizeof tree_cases[0])

ParameterizedTestParameters(repl_parse, trees)
{
    static int idx[NTREES];
    for (size_t i = 0; i < NTREES; i++)
        idx[i] = (int)i;
    return cr_make_param_array(int, idx, NTREES);
}

ParameterizedTest(int *pi, repl_parse, trees)
{
    const parse_case *c = &tree_cases[*pi];
    char buf[1024];
    show(c->src, buf, sizeof buf);
    cr_assert_str_eq(buf, c->want, "'%s'", c->src);
}

/* ------------------------------------------------------------------ */
/* syntax errors: the offset the caret goes under, and the reason      */

typedef struct err_case {
    const char *src;
    int         off;
    const char *msg;
} err_case;

static const err_case err_cases[] = {
    { "y = (A +* 2)", 8, "expected an expression, not '*'" },
    { "y = ", 4, "expected an expression, not the end of the input" },
    { "y = \"oops", 4, "unterminated string" },
    { "x $ 2", 2, "unexpected character '$'" },
    { "f(a, b", 6, "expected ',' or ')', not the end of the input" },
    { "x[1:2:3:4]", 7, "at most three parts" },
    { "f(a=1, 2)", 7, "a positional argument after a keyword argument" },
    { "(1 + 2)(3)", 7, "only a function name can be called" },
    { "A.", 2, "expected an attribute name" },
    { "a b", 2, "expected ';' or the end of the statement, not 'b'" },
    { "x = 1\ny = )", 10, "expected an expression, not ')'" },
    { ": explain", 2, "" },   /* a command name after ':' is fine with a space */
    { ":", 1, "expected a command name" },
    { ":set precision (", 15, "expected a name or a number" },
    { "[1, 2", 5, "expected ',' or ']'" },
    { "1e999", 0, "number out of range" },
};
#define NERRS (sizeof err_cases / sizeof err_cases[0])

ParameterizedTestParameters(repl_parse, errors)
{
    static int idx[NERRS];
    for (size_t i = 0; i < NERRS; i++)
        idx[i] = (int)i;
    return cr_make_param_array(int, idx, NERRS);
}

ParameterizedTest(int *pi, repl_parse, errors)
{
    const err_case *c = &err_cases[*pi];
    rprog g;
    int off = -2;
    char msg[256];
    int r = repl_parse(c->src, &g, &off, msg, sizeof msg);
    if (!c->msg[0]) {
        cr_assert_eq(r, 0, "'%s': %s", c->src, msg);
        repl_prog_free(&g);
        return;
    }
    cr_assert_eq(r, -1, "'%s' parsed", c->src);
    cr_assert_eq(off, c->off, "'%s': offset %d, want %d (%s)", c->src, off, c->off, msg);
    cr_assert(strstr(msg, c->msg), "'%s': message '%s' lacks '%s'", c->src, msg, c->msg);
    cr_assert_null(g.stmts);
}

Test(repl_parse, deep_nesting_is_an_error_not_a_crash)
{
    char src[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        src[n++] = '(';
    src[n++] = '1';
    for (int i = 0; i < 1000; i++)
        src[n++] = ')';
    src[n] = '\0';
    rprog g;
    int off;
    char msg[256];
    cr_assert_eq(repl_parse(src, &g, &off, msg, sizeof msg), -1);
    cr_assert(strstr(msg, "nested too deeply"), "%s", msg);
}

Test(repl_parse, open_brackets_ask_for_more)
{
    cr_assert_eq(repl_open_brackets("sum(x,"), 1);
    cr_assert_eq(repl_open_brackets("[[1, 2],"), 1);
    cr_assert_eq(repl_open_brackets("f(\"(((\")"), 0);
    cr_assert_eq(repl_open_brackets("f(x) # ("), 0);
    cr_assert_eq(repl_open_brackets(")))"), 0);
}
