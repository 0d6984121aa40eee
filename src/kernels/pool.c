/* pool.c — the kernels' threads and scratch memory: a small persistent
 * worker pool, started on first use, that GEMM/GEMV split output tiles
 * over; and a per-thread packing buffer kept between calls. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/frame.h"

/* More workers than this buys nothing for the kernels' tile split. */
#define POOL_MAX_WORKERS 15

/* One job at a time: `busy` is taken with trylock by the caller that owns
 * the pool for the job, so a second concurrent caller runs alone instead
 * of waiting.  `lock` guards the job fields below. */
static pthread_mutex_t g_busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  g_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t  g_done = PTHREAD_COND_INITIALIZER;
static int             g_state;        /* 0 not started, 1 running, -1 failed */
static int             g_nworkers;
static unsigned long   g_gen;          /* bumped per job; workers wait on it */
static int             g_pending;      /* workers still inside the job */
static ein_task_fn    *g_fn;
static void           *g_ctx;
static int             g_nt;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    /* Jobs start at generation 1, so a worker that starts late still sees
     * the job posted right after pool_start. */
    unsigned long seen = 0;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while (g_gen == seen)
            pthread_cond_wait(&g_go, &g_lock);
        seen = g_gen;
        if (id < g_nt) {
            ein_task_fn *fn = g_fn;
            void *ctx = g_ctx;
            int nt = g_nt;
            pthread_mutex_unlock(&g_lock);
            fn(ctx, id, nt);
            pthread_mutex_lock(&g_lock);
            if (--g_pending == 0)
                pthread_cond_signal(&g_done);
        }
    }
    return NULL;
}

/* A forked child has none of the parent's workers: start afresh. */
static void after_fork_child(void)
{
    pthread_mutex_init(&g_busy, NULL);
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_go, NULL);
    pthread_cond_init(&g_done, NULL);
    g_state = 0;
    g_nworkers = 0;
    g_pending = 0;
    g_gen = 0;
}

/* Called with g_busy held, so only one thread starts the pool. */
static void pool_start(void)
{
    static int atfork_done;
    if (!atfork_done) {
        atfork_done = 1;
        pthread_atfork(NULL, NULL, after_fork_child);
    }
    int want = ein_cache_info_get()->ncpu - 1;
    if (want > POOL_MAX_WORKERS)
        want = POOL_MAX_WORKERS;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        g_state = -1;
        return;
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int n = 0;
    for (; n < want; n++) {
        pthread_t th;
        if (pthread_create(&th, &attr, worker, (void *)(intptr_t)(n + 1)) != 0)
            break;
    }
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&g_lock);
    g_nworkers = n;
    pthread_mutex_unlock(&g_lock);
    g_state = n > 0 ? 1 : -1;
}

int ein_pool_run(int nthreads, ein_task_fn *fn, void *ctx)
{
    int nt = nthreads;
    if (nt > 1 + POOL_MAX_WORKERS)
        nt = 1 + POOL_MAX_WORKERS;
    if (nt > 1 && nt > ein_cache_info_get()->ncpu)
        nt = ein_cache_info_get()->ncpu;
    if (nt <= 1 || pthread_mutex_trylock(&g_busy) != 0) {
        fn(ctx, 0, 1);
        return 1;
    }
    if (g_state == 0)
        pool_start();
    if (g_state != 1) {
        pthread_mutex_unlock(&g_busy);
        fn(ctx, 0, 1);
        return 1;
    }
    if (nt > 1 + g_nworkers)
        nt = 1 + g_nworkers;
    pthread_mutex_lock(&g_lock);
    g_fn = fn;
    g_ctx = ctx;
    g_nt = nt;
    g_pending = nt - 1;
    g_gen++;
    pthread_cond_broadcast(&g_go);
    pthread_mutex_unlock(&g_lock);

    fn(ctx, 0, nt);

    pthread_mutex_lock(&g_lock);
    while (g_pending > 0)
        pthread_cond_wait(&g_done, &g_lock);
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_busy);
    return nt;
}

/* ---- scratch --------------------------------------------------------- */

/* The buffer lives in a thread-local pointer; a key destructor frees it
 * when a thread exits, and the main thread's stays reachable. */
static _Thread_local void  *tl_buf;
static _Thread_local size_t tl_cap;          /* bytes */
static pthread_key_t  g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static int            g_key_ok;

static void scratch_free(void *p) { free(p); }
static void make_key(void) { g_key_ok = pthread_key_create(&g_key, scratch_free) == 0; }

void *ein_scratch(size_t bytes)
{
    if (bytes <= tl_cap)
        return tl_buf;
    pthread_once(&g_key_once, make_key);
    free(tl_buf);
    tl_buf = NULL;
    tl_cap = 0;
    if (g_key_ok)
        pthread_setspecific(g_key, NULL);
    if (bytes > SIZE_MAX - 4096)
        return NULL;
    size_t size = (bytes + 4095) & ~(size_t)4095;   /* whole pages */
    void *p = aligned_alloc(64, size);
    if (!p)
        return NULL;
    tl_buf = p;
    tl_cap = size;
    if (g_key_ok)
        pthread_setspecific(g_key, p);
    return p;
}
