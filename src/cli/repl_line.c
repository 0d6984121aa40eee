/* repl_line.c — REPL input.  With a line-editing library (libedit's
 * readline interface or GNU readline: the same calls) a terminal gets
 * editing, history kept in ~/.einsum_history and completion of names;
 * otherwise lines come from stdio.  Ctrl-C while typing is read through
 * our own getc, so either library gives the line back instead of
 * swallowing the interrupt. */
#define _POSIX_C_SOURCE 200809L

#include "repl_line.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "repl_eval.h"   /* repl_interrupted */

#if defined(EIN_HAVE_LIBEDIT)
#include <editline/readline.h>
#define HAVE_EDIT 1
#elif defined(EIN_HAVE_READLINE)
#include <readline/history.h>
#include <readline/readline.h>
#define HAVE_EDIT 1
#else
#define HAVE_EDIT 0
#endif

const char *repl_line_backend(void)
{
#if defined(EIN_HAVE_LIBEDIT)
    return "libedit";
#elif defined(EIN_HAVE_READLINE)
    return "readline";
#else
    return "none";
#endif
}

#if HAVE_EDIT
static repl_names_fn g_names;
static void *g_ctx;
static int g_cancelled;   /* Ctrl-C ended the line being typed */
static char *g_line;      /* the library's last line, ours to free */
static int g_rfd = -1;    /* the terminal opened again, non-blocking */

/* readline's generator protocol: state 0 starts a new word. */
static char *complete_next(const char *text, int state)
{
    static int i;
    if (state == 0)
        i = 0;
    size_t n = strlen(text);
    for (const char *s; g_names && (s = g_names(g_ctx, i)) != NULL;) {
        i++;
        if (strncmp(s, text, n) == 0)
            return strdup(s);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;   /* names only, never file names */
    return rl_completion_matches(text, complete_next);
}

/* Ctrl-C ends the line being typed: the caller sees *interrupted and
 * drops it.  The signal may land while the library is busy rather than
 * blocked in read(), so the flag is checked before every wait, and the
 * wait is a poll() that wakes every 100 ms: an interrupt that slips in
 * between the check and the wait is seen on the next round instead of
 * waiting for a key.
 *
 * The read itself must never block.  Ctrl-C makes the terminal discard
 * its pending input: keys typed just before it can wake poll() and be
 * gone when read() runs, and if the signal's handler ran in between
 * (the process was descheduled after poll returned) nothing would
 * interrupt that read until the next key.  So keys are read from the
 * terminal opened a second time with O_NONBLOCK (a file description of
 * our own: the caller's stdin keeps its flags); an empty read goes back
 * to the flag and the wait.  Without that descriptor (not a named
 * terminal) the flag is checked once more between poll and read. */
static int getc_interruptible(FILE *fp)
{
    int fd = g_rfd >= 0 ? g_rfd : fileno(fp);
    for (;;) {
        if (repl_interrupted) {
            g_cancelled = 1;
            return '\n';
        }
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, 100);
        if (r == 0 || (r < 0 && errno == EINTR) || repl_interrupted)
            continue;
        unsigned char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n == 1)
            return ch;
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        return EOF;
    }
}

static void open_nonblocking(FILE *in)
{
    const char *name = ttyname(fileno(in));
    g_rfd = name ? open(name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) : -1;
}
#endif

void repl_line_open(repl_line *l, FILE *in, int edit, repl_names_fn names, void *ctx)
{
    memset(l, 0, sizeof *l);
    l->in = in;
#if HAVE_EDIT
    l->edit = edit;
    if (!edit)
        return;
    g_names = names;
    g_ctx = ctx;
    rl_instream = in;
    rl_outstream = stdout;
    rl_readline_name = "einsum";
    /* our SIGINT handler stays installed; getc_interruptible sees it */
    rl_catch_signals = 0;
    rl_getc_function = getc_interruptible;
    open_nonblocking(in);
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"'()[],.+-*/@=;";
    const char *home = getenv("HOME");
    if (home && *home) {
        size_t n = strlen(home) + sizeof "/.einsum_history";
        l->histfile = malloc(n);
        if (l->histfile) {
            snprintf(l->histfile, n, "%s/.einsum_history", home);
            using_history();
            stifle_history(1000);
            read_history(l->histfile);   /* none yet is fine */
        }
    }
#else
    (void)edit;
    (void)names;
    (void)ctx;
#endif
}

const char *repl_line_read(repl_line *l, const char *prompt, int *interrupted)
{
    *interrupted = 0;
#if HAVE_EDIT
    if (l->edit) {
        free(g_line);
        g_cancelled = 0;
        g_line = readline(prompt ? prompt : "");
        if (g_cancelled || (repl_interrupted && !g_line)) {
            *interrupted = 1;
            return NULL;
        }
        return g_line;
    }
#endif
    if (prompt) {
        fputs(prompt, stdout);
        fflush(stdout);
        /* On a terminal in canonical mode input becomes readable a whole
         * line at a time, so wait for one here, waking every 100 ms to see
         * Ctrl-C: the signal may go to one of the library's threads and
         * then never interrupts our read. */
        for (;;) {
            if (repl_interrupted) {
                fputc('\n', stdout);
                *interrupted = 1;
                return NULL;
            }
            struct pollfd p = { fileno(l->in), POLLIN, 0 };
            int r = poll(&p, 1, 100);
            if (r > 0 || (r < 0 && errno != EINTR))
                break;
        }
    }
    errno = 0;
    ssize_t n = getline(&l->buf, &l->cap, l->in);
    /* Ctrl-C while a line was being read (or just before getline blocked,
     * when only the next Enter returns): drop the line */
    if (repl_interrupted && prompt) {
        if (n < 0)
            clearerr(l->in);
        fputc('\n', stdout);
        *interrupted = 1;
        return NULL;
    }
    if (n < 0)
        return NULL;
    if (n > 0 && l->buf[n - 1] == '\n')
        l->buf[--n] = '\0';
    /* a NUL inside the line would hide the rest: make it visible as a
     * character the lexer rejects */
    for (ssize_t i = 0; i < n; i++)
        if (l->buf[i] == '\0')
            l->buf[i] = '\x01';
    return l->buf;
}

void repl_line_history(repl_line *l, const char *text)
{
#if HAVE_EDIT
    if (l->edit && text && *text)
        add_history(text);
#else
    (void)l;
    (void)text;
#endif
}

void repl_line_close(repl_line *l)
{
#if HAVE_EDIT
    if (l->edit) {
        if (l->histfile)
            write_history(l->histfile);
        free(g_line);
        g_line = NULL;
        g_names = NULL;
        if (g_rfd >= 0)
            close(g_rfd);
        g_rfd = -1;
    }
#endif
    free(l->histfile);
    free(l->buf);
    memset(l, 0, sizeof *l);
}
