/* parse.c — Einstein notation to a shape-free ein_expr.  Tokens come from
 * the re2c lexer (grammar/subscripts.re); this file checks the structure
 * numpy requires and derives the implicit output.  Errors carry the byte
 * column of the offending token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lex.h"

static int label_id(char c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' : 26 + (c - 'a');
}

static char label_char(int id)
{
    return (char)(id < 26 ? 'A' + id : 'a' + (id - 26));
}

static void term_init(ein_term *t, int col0)
{
    t->n = 0;
    t->ell = -1;
    t->ell_col = -1;
    t->col0 = col0;
}

/* A term's name in messages: "operand 2" or "the output". */
static const char *term_name(const ein_expr *e, const ein_term *t, char *buf,
                             size_t cap)
{
    if (t == &e->out)
        return "the output";
    snprintf(buf, cap, "operand %d", (int)(t - e->in));
    return buf;
}

static ein_status check_output(const ein_expr *e)
{
    const char *text = e->text;
    bool seen[EIN_NLETTERS] = {false}, in_any[EIN_NLETTERS] = {false};
    for (int k = 0; k < e->nops; k++)
        for (int i = 0; i < e->in[k].n; i++)
            in_any[e->in[k].label[i]] = true;
    for (int i = 0; i < e->out.n; i++) {
        int id = e->out.label[i];
        if (seen[id])
            return ein_fail_at(EIN_ERR_SYNTAX, text, e->out.col[i],
                               "output label '%c' appears twice",
                               label_char(id));
        seen[id] = true;
        if (!in_any[id])
            return ein_fail_at(EIN_ERR_SYNTAX, text, e->out.col[i],
                               "output label '%c' is not in any input",
                               label_char(id));
    }
    return EIN_OK;
}

/* numpy's implicit output: the broadcast dimensions, then every label
 * that appears exactly once, in ascending order (uppercase first). */
static void implicit_output(ein_expr *e)
{
    int count[EIN_NLETTERS] = {0};
    for (int k = 0; k < e->nops; k++)
        for (int i = 0; i < e->in[k].n; i++)
            count[e->in[k].label[i]]++;
    term_init(&e->out, (int)strlen(e->text));
    if (e->any_ell) {
        e->out.ell = 0;
        e->out.ell_col = e->out.col0;
    }
    for (int id = 0; id < EIN_NLETTERS; id++)
        if (count[id] == 1) {
            e->out.col[e->out.n] = e->out.col0;
            e->out.label[e->out.n++] = (uint8_t)id;
        }
}

ein_status ein_parse(const char *subscripts, ein_expr *e)
{
    memset(e, 0, sizeof *e);
    if (!subscripts)
        return ein_fail(EIN_ERR_ARG, "subscripts is NULL");
    size_t len = strlen(subscripts);
    if (len > (1u << 20))
        return ein_fail(EIN_ERR_ARG, "subscripts are %zu bytes long (limit 1 MiB)", len);
    e->text = ein_malloc(len + 1);
    if (!e->text)
        return ein_fail(EIN_ERR_NOMEM, "out of memory copying the subscripts");
    memcpy(e->text, subscripts, len + 1);
    const char *text = e->text;

    /* Every ',' may start an operand; this bounds the term array. */
    size_t commas = 0;
    for (size_t i = 0; i < len; i++)
        commas += text[i] == ',';
    size_t cap = commas + 1 < EIN_MAX_OPERANDS ? commas + 1 : EIN_MAX_OPERANDS;
    e->in = ein_malloc(cap * sizeof *e->in);
    if (!e->in) {
        ein_expr_free(e);
        return ein_fail(EIN_ERR_NOMEM, "out of memory parsing the subscripts");
    }
    e->nops = 1;
    term_init(&e->in[0], 0);
    ein_term *cur = &e->in[0];
    bool in_output = false;
    ein_status st = EIN_OK;
    char nbuf[32];

    for (int pos = 0;;) {
        int n;
        ein_token tok = ein_lex(text, pos, &n);
        if (tok == EIN_TOK_END)
            break;
        switch (tok) {
        case EIN_TOK_LABEL:
            if (cur->n == EIN_MAX_DIMS) {
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                                 "%s has more than %d subscripts",
                                 term_name(e, cur, nbuf, sizeof nbuf), EIN_MAX_DIMS);
                goto fail;
            }
            cur->col[cur->n] = pos;
            cur->label[cur->n++] = (uint8_t)label_id(text[pos]);
            break;
        case EIN_TOK_COMMA:
            if (in_output) {
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                                 "',' after '->': the output is a single term");
                goto fail;
            }
            if ((size_t)e->nops == cap) {
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                                 "more than %d operands", EIN_MAX_OPERANDS);
                goto fail;
            }
            cur = &e->in[e->nops++];
            term_init(cur, pos + 1);
            break;
        case EIN_TOK_ARROW:
            if (in_output) {
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos, "'->' appears twice");
                goto fail;
            }
            in_output = true;
            e->explicit_out = true;
            cur = &e->out;
            term_init(cur, pos + 2);
            break;
        case EIN_TOK_ELLIPSIS:
            if (cur->ell >= 0) {
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                                 "%s has a second ellipsis (the first is at column %d)",
                                 term_name(e, cur, nbuf, sizeof nbuf), cur->ell_col);
                goto fail;
            }
            cur->ell = cur->n;
            cur->ell_col = pos;
            if (!in_output)
                e->any_ell = true;
            break;
        case EIN_TOK_SPACE:
            break;
        case EIN_TOK_BAD_DOT:
            st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                             "'.' that is not part of an ellipsis '...'");
            goto fail;
        case EIN_TOK_BAD_DASH:
            st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                             "'-' that is not part of '->'");
            goto fail;
        case EIN_TOK_BAD_CHAR: {
            unsigned char c = (unsigned char)text[pos];
            if (c >= 0x20 && c < 0x7f)
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                                 "invalid character '%c' (subscripts are letters "
                                 "a-z and A-Z)", c);
            else
                st = ein_fail_at(EIN_ERR_SYNTAX, text, pos,
                                 "invalid byte 0x%02x (subscripts are letters "
                                 "a-z and A-Z)", c);
            goto fail;
        }
        case EIN_TOK_END:
            break;
        }
        pos += n;
    }

    if (e->explicit_out) {
        if ((st = check_output(e)) != EIN_OK)
            goto fail;
    } else {
        implicit_output(e);
    }
    return EIN_OK;

fail:
    ein_expr_free(e);
    return st;
}

void ein_expr_free(ein_expr *e)
{
    if (!e)
        return;
    ein_free(e->text);
    ein_free(e->in);
    e->text = NULL;
    e->in = NULL;
    e->nops = 0;
}
