/* repl.c — the einsum REPL and script runner.  Each line is one statement;
 * names bind arrays the session owns:
 *   A = load "a.npy"            y = einsum "ij,j->i" A x
 *   print y                     save y "y.npy"
 *   explain "ij,j->i" A x       einsum "ii->" A     (prints the result)
 * Evaluation goes through the same cli_einsum() as the command line. */
#define _POSIX_C_SOURCE 200809L

#include "repl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "npy.h"

#define MAX_TOKENS (EIN_MAX_OPERANDS + 8)

typedef struct var {
    char     *name;
    npy_array a;
} var;

typedef struct session {
    var        *vars;
    int         n, cap;
    const char *name;   /* script name for messages */
    long        line;
} session;

static void report(const session *s, const char *fmt, const char *a, size_t alen)
{
    fprintf(stderr, "einsum: %s:%ld: ", s->name, s->line);
    fprintf(stderr, fmt, (int)alen, a);
    fputc('\n', stderr);
}

static var *lookup(session *s, const repl_token *t)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->vars[i].name) == t->len && memcmp(s->vars[i].name, t->text, t->len) == 0)
            return &s->vars[i];
    return NULL;
}

/* Bind name to *a, taking ownership; the old array (if any) is freed only
 * now, so `y = einsum "i->i" y` works. */
static int bind(session *s, const repl_token *name, npy_array *a)
{
    var *v = lookup(s, name);
    if (v) {
        npy_free(&v->a);
        v->a = *a;
        return 0;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        var *nv = realloc(s->vars, (size_t)cap * sizeof *nv);
        if (!nv)
            goto oom;
        s->vars = nv;
        s->cap = cap;
    }
    char *nm = malloc(name->len + 1);
    if (!nm)
        goto oom;
    memcpy(nm, name->text, name->len);
    nm[name->len] = '\0';
    s->vars[s->n].name = nm;
    s->vars[s->n].a = *a;
    s->n++;
    return 0;
oom:
    npy_free(a);
    report(s, "out of memory%.*s", "", 0);
    return -1;
}

static char *dup_tok(const repl_token *t)
{
    char *p = malloc(t->len + 1);
    if (p) {
        memcpy(p, t->text, t->len);
        p[t->len] = '\0';
    }
    return p;
}

static int is_kw(const repl_token *t, const char *kw)
{
    return t->kind == REPL_IDENT && strlen(kw) == t->len && memcmp(t->text, kw, t->len) == 0;
}

/* `"expr" A B ...` starting at tok[i]: evaluate (or explain). */
static int run_einsum(session *s, const repl_token *tok, int i, int nt, int explain,
                      npy_array *res)
{
    if (i >= nt || tok[i].kind != REPL_STRING) {
        report(s, "expected a quoted expression such as \"ij,j->i\"%.*s", "", 0);
        return -1;
    }
    const ein_tensor *ops[EIN_MAX_OPERANDS];
    ein_tensor ts[EIN_MAX_OPERANDS];
    int n = 0;
    for (int k = i + 1; k < nt; k++) {
        if (tok[k].kind != REPL_IDENT) {
            report(s, "expected an array name, not '%.*s'", tok[k].text, tok[k].len);
            return -1;
        }
        var *v = lookup(s, &tok[k]);
        if (!v) {
            report(s, "no array named '%.*s'", tok[k].text, tok[k].len);
            return -1;
        }
        if (n == EIN_MAX_OPERANDS) {
            report(s, "too many operands%.*s", "", 0);
            return -1;
        }
        ts[n] = npy_tensor(&v->a);
        ops[n] = &ts[n];
        n++;
    }
    char *expr = dup_tok(&tok[i]);
    if (!expr) {
        report(s, "out of memory%.*s", "", 0);
        return -1;
    }
    int r = explain ? cli_explain(expr, n, ops) : cli_einsum(expr, n, ops, res);
    free(expr);
    return r;
}

static const char help_text[] =
    "statements, one per line ('#' starts a comment):\n"
    "  A = load \"a.npy\"            read a float32/float64 .npy file\n"
    "  y = einsum \"ij,j->i\" A x    evaluate and bind the result\n"
    "  einsum \"ij,j->i\" A x        evaluate and print the result\n"
    "  print y                     print like numpy's repr\n"
    "  save y \"y.npy\"              write a .npy file\n"
    "  explain \"ij,j->i\" A x       print the plan\n"
    "  quit\n";

/* Returns 0, -1 on error, or 1 to stop. */
static int statement(session *s, const char *line)
{
    repl_token tok[MAX_TOKENS];
    int nt = 0;
    const char *cur = line;
    for (;;) {
        repl_token t;
        repl_kind k = repl_lex(line, &cur, &t);
        if (k == REPL_END)
            break;
        if (k == REPL_BAD) {
            fprintf(stderr, "einsum: %s:%ld: column %d: %s\n", s->name, s->line, t.col,
                    (t.text[0] == '"' || t.text[0] == '\'') ? "unterminated string"
                                                              : "unexpected character");
            return -1;
        }
        if (nt == MAX_TOKENS) {
            report(s, "statement too long%.*s", "", 0);
            return -1;
        }
        tok[nt++] = t;
    }
    if (nt == 0)
        return 0;

    if (nt == 1 && (is_kw(&tok[0], "quit") || is_kw(&tok[0], "exit")))
        return 1;
    if (nt == 1 && is_kw(&tok[0], "help")) {
        fputs(help_text, stdout);
        return 0;
    }
    if (is_kw(&tok[0], "print")) {
        if (nt != 2 || tok[1].kind != REPL_IDENT) {
            report(s, "usage: print NAME%.*s", "", 0);
            return -1;
        }
        var *v = lookup(s, &tok[1]);
        if (!v) {
            report(s, "no array named '%.*s'", tok[1].text, tok[1].len);
            return -1;
        }
        ein_tensor t = npy_tensor(&v->a);
        return cli_print(&t);
    }
    if (is_kw(&tok[0], "save")) {
        if (nt != 3 || tok[1].kind != REPL_IDENT || tok[2].kind != REPL_STRING) {
            report(s, "usage: save NAME \"file.npy\"%.*s", "", 0);
            return -1;
        }
        var *v = lookup(s, &tok[1]);
        if (!v) {
            report(s, "no array named '%.*s'", tok[1].text, tok[1].len);
            return -1;
        }
        char *path = dup_tok(&tok[2]);
        char msg[1024];
        ein_tensor t = npy_tensor(&v->a);
        int r = path ? npy_write_file(path, &t, msg, sizeof msg) : -1;
        if (r < 0)
            report(s, "%.*s", path ? msg : "out of memory", strlen(path ? msg : "out of memory"));
        free(path);
        return r;
    }
    if (is_kw(&tok[0], "explain"))
        return run_einsum(s, tok, 1, nt, 1, NULL);
    if (is_kw(&tok[0], "einsum")) {
        npy_array res;
        if (run_einsum(s, tok, 1, nt, 0, &res) < 0)
            return -1;
        ein_tensor t = npy_tensor(&res);
        int r = cli_print(&t);
        npy_free(&res);
        return r;
    }
    if (nt >= 3 && tok[0].kind == REPL_IDENT && tok[1].kind == REPL_EQ) {
        npy_array res;
        if (is_kw(&tok[2], "load")) {
            if (nt != 4 || tok[3].kind != REPL_STRING) {
                report(s, "usage: NAME = load \"file.npy\"%.*s", "", 0);
                return -1;
            }
            char *path = dup_tok(&tok[3]);
            char msg[1024];
            int r = path ? npy_read_file(path, &res, msg, sizeof msg) : -1;
            if (r < 0)
                report(s, "%.*s", path ? msg : "out of memory",
                       strlen(path ? msg : "out of memory"));
            free(path);
            if (r < 0)
                return -1;
        } else if (is_kw(&tok[2], "einsum")) {
            if (run_einsum(s, tok, 3, nt, 0, &res) < 0)
                return -1;
        } else {
            report(s, "expected 'load' or 'einsum' after '=', not '%.*s'", tok[2].text,
                   tok[2].len);
            return -1;
        }
        return bind(s, &tok[0], &res);
    }
    report(s, "unknown statement '%.*s' (try 'help')", tok[0].text, tok[0].len);
    return -1;
}

int cli_repl(FILE *in, const char *name, int interactive)
{
    session s = { NULL, 0, 0, name, 0 };
    char *line = NULL;
    size_t cap = 0;
    int rc = CLI_EXIT_OK;
    for (;;) {
        if (interactive) {
            fputs(">>> ", stdout);
            fflush(stdout);
        }
        ssize_t got = getline(&line, &cap, in);
        if (got < 0)
            break;
        s.line++;
        if (memchr(line, '\0', (size_t)got)) {
            report(&s, "a NUL byte in the line%.*s", "", 0);
            if (!interactive) {
                rc = CLI_EXIT_FAIL;
                break;
            }
            continue;
        }
        int r = statement(&s, line);
        fflush(stdout);
        if (r > 0)
            break;
        if (r < 0 && !interactive) {
            rc = CLI_EXIT_FAIL;
            break;
        }
    }
    if (interactive)
        fputc('\n', stdout);
    free(line);
    for (int i = 0; i < s.n; i++) {
        free(s.vars[i].name);
        npy_free(&s.vars[i].a);
    }
    free(s.vars);
    return rc;
}
