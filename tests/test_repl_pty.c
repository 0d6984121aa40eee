/* test_repl_pty.c — covers the interactive side of src/cli/repl.c and
 * repl_line.c: `einsum` with no arguments on a pseudo-terminal shows the
 * `>>> ` prompt (line editing on when the build has a library, the plain
 * path otherwise), echoes a result, shows an error with its caret, drops
 * a line on Ctrl-C, and exits 0 on Ctrl-D.  Deadlines here only bound a
 * hung child; nothing measures time. */
#define _DEFAULT_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "repl_line.h"

#ifndef EIN_CLI_PATH
#define EIN_CLI_PATH "einsum"
#endif
#ifndef EIN_TEST_TMPDIR
#define EIN_TEST_TMPDIR "/tmp"
#endif

typedef struct term {
    int   fd;
    pid_t pid;
    char  buf[1 << 16];
    size_t n;
    int   editing;   /* built with a line-editing library */
} term;

/* Read until `want` appears in what arrived since `from`, or 20 s pass
 * (a hung child, not a slow one).  Returns the offset just past it. */
static size_t expect(term *t, size_t from, const char *want)
{
    for (int waited = 0; waited < 200;) {
        t->buf[t->n] = '\0';
        char *hit = strstr(t->buf + from, want);
        if (hit)
            return (size_t)(hit - t->buf) + strlen(want);
        struct pollfd p = { t->fd, POLLIN, 0 };
        int r = poll(&p, 1, 100);
        if (r == 0) {
            waited++;
            continue;
        }
        ssize_t got = read(t->fd, t->buf + t->n, sizeof t->buf - 1 - t->n);
        if (got <= 0)
            break;
        t->n += (size_t)got;
    }
    t->buf[t->n] = '\0';
    cr_assert_fail("no '%s' in the terminal's output:\n%s", want, t->buf);
    return 0;
}

/* Keys typed at once, whatever the terminal's mode. */
static void type_now(term *t, const char *s)
{
    size_t n = strlen(s);
    cr_assert_eq(write(t->fd, s, n), (ssize_t)n);
}

/* Keys typed at the prompt.  A line-editing library switches the
 * terminal out of canonical mode only after it prints the prompt; keys
 * that arrive before that are cooked by the kernel (echoed twice, and a
 * Ctrl-D becomes the kernel's end-of-file mark, lost when the mode
 * changes).  A person never types that fast, so wait for the library to
 * be reading (the master side reports the terminal's mode). */
static void type(term *t, const char *s)
{
    if (t->editing) {
        for (int i = 0; i < 2000; i++) {
            struct termios tio;
            if (tcgetattr(t->fd, &tio) == 0 && !(tio.c_lflag & ICANON))
                break;
            poll(NULL, 0, 10);
        }
    }
    type_now(t, s);
}

Test(repl_pty, prompt_result_error_interrupt_and_eof)
{
    term *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    char home[512];
    snprintf(home, sizeof home, "%s/pty_home_%ld", EIN_TEST_TMPDIR, (long)getpid());
    mkdir(home, 0700);
    struct winsize ws = { 24, 100, 0, 0 };
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    cr_assert_neq(t->pid, -1, "forkpty: %s", strerror(errno));
    if (t->pid == 0) {
        setenv("HOME", home, 1);   /* the history file goes here, not to ~ */
        setenv("TERM", "vt100", 1);
        execl(EIN_CLI_PATH, "einsum", (char *)NULL);
        _exit(127);
    }
    t->editing = strcmp(repl_line_backend(), "none") != 0;
    size_t at = expect(t, 0, ">>> ");

    type(t, "x = [1.5, 2]\r");
    at = expect(t, at, ">>> ");
    type(t, "x * 2\r");
    at = expect(t, at, "array([3., 4.])");
    at = expect(t, at, ">>> ");

    /* a syntax error: the statement, then a caret under the column */
    type(t, "y = (x +* 2)\r");
    at = expect(t, at, "syntax error at column 9");
    at = expect(t, at, "  y = (x +* 2)\r\n          ^\r\n");
    at = expect(t, at, ">>> ");

    /* the library's error keeps its own caret; the session goes on */
    type(t, "einsum(\"ij,jq->iz\", x, x)\r");
    at = expect(t, at, "output label 'z'");
    at = expect(t, at, "  ij,jq->iz\r\n          ^");
    at = expect(t, at, ">>> ");

    /* Ctrl-C drops the line being typed */
    type(t, "this is never run");
    type(t, "\x03");
    at = expect(t, at, "KeyboardInterrupt");
    at = expect(t, at, ">>> ");

    /* a continuation line while brackets are open */
    type(t, "sum(\r");
    at = expect(t, at, "... ");
    type(t, "x)\r");
    at = expect(t, at, "array(3.5)");
    at = expect(t, at, ">>> ");

    /* Ctrl-C during a statement that would run for ever ends it and the
     * prompt comes back.  "running" printed by the statement before it
     * says the line was read, so the interrupt cannot land on the typing */
    type(t, "B = randn(200, 200)\r");
    at = expect(t, at, ">>> ");
    type(t, "print(\"running\"); :time B @ B 10000000\r");
    at = expect(t, at, "running\r\n");
    type_now(t, "\x03");
    at = expect(t, at, "interrupted");
    at = expect(t, at, ">>> ");
    type(t, "1 + 1\r");
    at = expect(t, at, "2\r\n");
    at = expect(t, at, ">>> ");

    int editing = t->editing;
    if (editing) {   /* tab completes a function's name (the echo redraws
                        the line, so the evidence is the call's result) */
        type(t, "allc\t");
        type(t, "(ones(2), ones(2))\r");
        at = expect(t, at, "True\r\n");
        at = expect(t, at, ">>> ");
    }

    type(t, "\x04");   /* Ctrl-D on an empty line */
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 200 && w == 0; i++) {
        w = waitpid(t->pid, &status, WNOHANG);
        if (w == 0) {
            char sink[4096];
            struct pollfd p = { t->fd, POLLIN, 0 };
            if (poll(&p, 1, 100) > 0 && read(t->fd, sink, sizeof sink) < 0)
                poll(NULL, 0, 100);
        }
    }
    if (w == 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &status, 0);
        cr_assert_fail("einsum did not exit on Ctrl-D:\n%s", t->buf);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d:\n%s", status, t->buf);
    close(t->fd);
    free(t);
    char hist[600];
    snprintf(hist, sizeof hist, "%s/.einsum_history", home);
    if (editing) {   /* the session's lines were kept for the next one */
        FILE *fp = fopen(hist, "r");
        cr_assert_not_null(fp, "no history file %s", hist);
        char text[8192];
        size_t n = fread(text, 1, sizeof text - 1, fp);
        text[n] = '\0';
        fclose(fp);
        /* libedit writes blanks as \040, so look for a word without any */
        cr_assert(strstr(text, "allclose"), "history: %s", text);
    }
    unlink(hist);
    rmdir(home);
}
