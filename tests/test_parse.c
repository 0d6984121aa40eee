/* test_parse.c — the lexer (grammar/subscripts.re) and parser
 * (src/parse.c): valid notation yields the right terms and implicit
 * output; invalid notation yields EIN_ERR_SYNTAX at the exact column. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "lex.h"

/* Labels of a term as letters ('.' marks the ellipsis), for comparison. */
static void term_str(const ein_term *t, char *buf)
{
    int w = 0;
    for (int i = 0; i <= t->n; i++) {
        if (i == t->ell) {
            memcpy(buf + w, "...", 3);
            w += 3;
        }
        if (i < t->n) {
            int id = t->label[i];
            buf[w++] = (char)(id < 26 ? 'A' + id : 'a' + id - 26);
        }
    }
    buf[w] = '\0';
}

Test(lex, tokens_and_lengths)
{
    const char *s = "aB, ->... \t.-x>";
    struct { ein_token tok; int len; } want[] = {
        {EIN_TOK_LABEL, 1}, {EIN_TOK_LABEL, 1}, {EIN_TOK_COMMA, 1},
        {EIN_TOK_SPACE, 1}, {EIN_TOK_ARROW, 2}, {EIN_TOK_ELLIPSIS, 3},
        {EIN_TOK_SPACE, 2}, {EIN_TOK_BAD_DOT, 1}, {EIN_TOK_BAD_DASH, 1},
        {EIN_TOK_LABEL, 1}, {EIN_TOK_BAD_CHAR, 1}, {EIN_TOK_END, 0},
    };
    int pos = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int len;
        ein_token t = ein_lex(s, pos, &len);
        cr_assert_eq(t, want[i].tok, "token %zu at column %d: got %d want %d", i, pos,
                     t, want[i].tok);
        cr_assert_eq(len, want[i].len, "token %zu length", i);
        pos += len;
    }
}

Test(lex, four_dots_is_ellipsis_then_stray_dot)
{
    int len;
    cr_assert_eq(ein_lex("....", 0, &len), EIN_TOK_ELLIPSIS);
    cr_assert_eq(len, 3);
    cr_assert_eq(ein_lex("....", 3, &len), EIN_TOK_BAD_DOT);
}

Test(lex, high_bytes_are_one_bad_char_each)
{
    int len;
    cr_assert_eq(ein_lex("\xc3\xa9", 0, &len), EIN_TOK_BAD_CHAR);
    cr_assert_eq(len, 1);
}

/* Criterion may run each parameter in a fresh process image, so the
 * cases hold their strings inline rather than as pointers. */
typedef struct good_case {
    char        expr[32];
    int         nops;
    char        terms[40];    /* inputs joined by ',' then "->" and the output */
    bool        explicit_out;
} good_case;

static good_case goods[] = {
    {"ij,jk->ik", 2, "ij,jk->ik", true},
    {"ij,jk", 2, "ij,jk->ik", false},
    {"ba,ab", 2, "ba,ab->", false},
    {"bA", 1, "bA->Ab", false},
    {"Ba,aB", 2, "Ba,aB->", false},
    {" i j , j ", 2, "ij,j->i", false},
    {"...ij,...jk", 2, "...ij,...jk->...ik", false},
    {"i...->...", 1, "i...->...", true},
    {"ii", 1, "ii->", false},
    {"ii->i", 1, "ii->i", true},
    {"", 1, "->", false},
    {"->", 1, "->", true},
    {",", 2, ",->", false},
    {"ij->ij...", 1, "ij->ij...", true},
    {"a...b,...->a...", 2, "a...b,...->a...", true},
    {"...", 1, "...->...", false},
    {"zyx", 1, "zyx->xyz", false},
    {"i\t,\ni->", 2, "i,i->", true},
};

ParameterizedTestParameters(parse, valid)
{
    return cr_make_param_array(good_case, goods, sizeof goods / sizeof goods[0]);
}

ParameterizedTest(good_case *c, parse, valid)
{
    ein_expr e;
    ein_status st = ein_parse(c->expr, &e);
    cr_assert_eq(st, EIN_OK, "'%s': %s", c->expr, ein_last_error());
    cr_assert_eq(e.nops, c->nops, "'%s': %d operands", c->expr, e.nops);
    char got[512] = "", t[256];
    for (int k = 0; k < e.nops; k++) {
        term_str(&e.in[k], t);
        strcat(got, k ? "," : "");
        strcat(got, t);
    }
    strcat(got, "->");
    term_str(&e.out, t);
    strcat(got, t);
    cr_assert_str_eq(got, c->terms, "'%s' parsed as '%s'", c->expr, got);
    cr_assert_eq(e.explicit_out, c->explicit_out);
    ein_expr_free(&e);
}

typedef struct bad_case {
    char        expr[16];
    int         col;
    char        msg[48];      /* a substring of the message */
} bad_case;

static bad_case bads[] = {
    {"ij,jq->iz", 8, "output label 'z' is not in any input"},
    {"i,j->ii", 6, "output label 'i' appears twice"},
    {"i->i->i", 4, "'->' appears twice"},
    {"->->", 2, "'->' appears twice"},
    {"i$", 1, "invalid character '$'"},
    {"i>", 1, "invalid character '>'"},
    {"ij,1", 3, "invalid character '1'"},
    {"i_j", 1, "invalid character '_'"},
    {"i\x01", 1, "invalid byte 0x01"},
    {"\xc3\xa9", 0, "invalid byte 0xc3"},
    {"..i", 0, "'.' that is not part of an ellipsis"},
    {"a.b", 1, "'.' that is not part of an ellipsis"},
    {"....", 3, "'.' that is not part of an ellipsis"},
    {"i.. .", 1, "'.' that is not part of an ellipsis"},
    {"...i...", 4, "operand 0 has a second ellipsis"},
    {"i,......", 5, "operand 1 has a second ellipsis"},
    {"i->......", 6, "the output has a second ellipsis"},
    {"i-", 1, "'-' that is not part of '->'"},
    {"ij-->", 2, "'-' that is not part of '->'"},
    {"i- >i", 1, "'-' that is not part of '->'"},
    {"i,j->i,j", 6, "',' after '->'"},
    {"ab->ba b", 7, "output label 'b' appears twice"},
};

ParameterizedTestParameters(parse, invalid)
{
    return cr_make_param_array(bad_case, bads, sizeof bads / sizeof bads[0]);
}

ParameterizedTest(bad_case *c, parse, invalid)
{
    ein_expr e;
    ein_status st = ein_parse(c->expr, &e);
    cr_assert_eq(st, EIN_ERR_SYNTAX, "'%s' gave status %d", c->expr, st);
    cr_assert_eq(ein_last_error_offset(), c->col, "'%s': column %d, want %d: %s",
                 c->expr, ein_last_error_offset(), c->col, ein_last_error());
    cr_assert(strstr(ein_last_error(), c->msg), "'%s': message '%s' lacks '%s'",
              c->expr, ein_last_error(), c->msg);
    char colstr[32];
    snprintf(colstr, sizeof colstr, "column %d:", c->col);
    cr_assert(strstr(ein_last_error(), colstr), "message names the column: %s",
              ein_last_error());
}

Test(parse, message_has_caret_under_the_column)
{
    ein_expr e;
    cr_assert_eq(ein_parse("ij,jq->iz", &e), EIN_ERR_SYNTAX);
    cr_assert_str_eq(ein_last_error(),
                     "ij,jq->iz: column 8: output label 'z' is not in any input\n"
                     "  ij,jq->iz\n"
                     "          ^");
}

Test(parse, too_many_subscripts_in_one_term)
{
    char expr[EIN_MAX_DIMS + 2];
    memset(expr, 'a', EIN_MAX_DIMS + 1);
    expr[EIN_MAX_DIMS + 1] = '\0';
    ein_expr e;
    cr_assert_eq(ein_parse(expr, &e), EIN_ERR_SYNTAX);
    cr_assert_eq(ein_last_error_offset(), EIN_MAX_DIMS);
    cr_assert(strstr(ein_last_error(), "more than 64 subscripts"), "%s", ein_last_error());
    /* Exactly the limit is fine. */
    expr[EIN_MAX_DIMS] = '\0';
    cr_assert_eq(ein_parse(expr, &e), EIN_OK, "%s", ein_last_error());
    cr_assert_eq(e.in[0].n, EIN_MAX_DIMS);
    ein_expr_free(&e);
}

Test(parse, operand_limit)
{
    static char expr[4 * EIN_MAX_OPERANDS + 8];
    int w = 0;
    for (int k = 0; k < EIN_MAX_OPERANDS; k++)
        w += sprintf(expr + w, "%sa", k ? "," : "");
    ein_expr e;
    cr_assert_eq(ein_parse(expr, &e), EIN_OK, "%s", ein_last_error());
    cr_assert_eq(e.nops, EIN_MAX_OPERANDS);
    ein_expr_free(&e);
    int comma = w;
    sprintf(expr + w, ",a");
    cr_assert_eq(ein_parse(expr, &e), EIN_ERR_SYNTAX);
    cr_assert_eq(ein_last_error_offset(), comma);
}

Test(parse, null_subscripts)
{
    ein_expr e;
    cr_assert_eq(ein_parse(NULL, &e), EIN_ERR_ARG);
}

Test(parse, columns_recorded_per_label)
{
    ein_expr e;
    cr_assert_eq(ein_parse(" ab , c...d", &e), EIN_OK);
    cr_assert_eq(e.in[0].col[0], 1);
    cr_assert_eq(e.in[0].col[1], 2);
    cr_assert_eq(e.in[1].col[0], 6);
    cr_assert_eq(e.in[1].ell_col, 7);
    cr_assert_eq(e.in[1].col[1], 10);
    cr_assert_eq(e.in[1].ell, 1);
    cr_assert(e.any_ell);
    ein_expr_free(&e);
}
