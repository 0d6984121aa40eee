/* pool.c — the kernels' threads and scratch memory: a small persistent
 * worker pool, started on first use, that GEMM/GEMV split output tiles
 * over; and a per-thread packing buffer kept between calls. */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/frame.h"

/* More workers than this buys nothing for the kernels' tile split. */
#define POOL_MAX_WORKERS 15
/* Microseconds a worker spins for the next job before it sleeps: waking
 * a sleeping thread costs ~50 us in a VM (measured), more than a
 * mid-size GEMM gains from the second core. */
#define POOL_SPIN_US 200.0
/* Spins of the caller waiting for workers before it yields. */
#define POOL_SPIN 4096

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("" ::: "memory");
#endif
}

/* One job at a time: `busy` is taken with trylock by the caller that owns
 * the pool for the job, so a second concurrent caller runs alone instead
 * of waiting.  A job is published by bumping g_gen (release).  Tasks hand
 * out share t of nt; nobody waits for a particular worker: a worker
 * *joins* the job (taking the next share) by a CAS on g_join, which holds
 * the job's generation, a closed bit and the number joined.  When the
 * caller's own share is done it closes the job, runs the shares nobody
 * joined for, and waits only for the workers that joined.  A worker that
 * wakes late (asleep, or its vCPU taken by the hypervisor) finds the job
 * closed or a newer generation and touches nothing.  Tasks that claim
 * their work from a shared counter (the GEMM/GEMV frame) thus lose
 * nothing to a late worker; a fixed split still pays that share once.
 * g_lock/g_wake serve only workers that went to sleep. */
#define JOIN_CLOSED ((uint64_t)1 << 31)
#define JOIN_COUNT  ((uint64_t)0x7fffffff)
static pthread_mutex_t g_busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  g_wake = PTHREAD_COND_INITIALIZER;
static int             g_nsleep;       /* workers in cond_wait, under g_lock */
static int             g_state;        /* 0 not started, 1 running, -1 failed */
static int             g_nworkers;
static atomic_ulong    g_gen;          /* job number; workers wait for it */
static _Atomic uint64_t g_join;        /* gen << 32 | closed | joined */
static atomic_int      g_done;         /* joined workers that finished */
static ein_task_fn    *g_fn;
static void           *g_ctx;
static atomic_int      g_nt;           /* read by late workers: atomic */

/* Joins job `gen` if it is still open and has room; returns the worker's
 * task index (1..nt-1) or 0. */
static int join_job(unsigned long gen)
{
    uint64_t w = atomic_load(&g_join);
    for (;;) {
        if ((w >> 32) != (gen & 0xffffffffu) || (w & JOIN_CLOSED) ||
            (int64_t)(w & JOIN_COUNT) + 1 >= (int64_t)atomic_load(&g_nt))
            return 0;
        if (atomic_compare_exchange_weak(&g_join, &w, w + 1))
            return (int)(w & JOIN_COUNT) + 1;
    }
}

static void *worker(void *arg)
{
    (void)arg;
    /* Jobs start at generation 1, so a worker that starts late still sees
     * the job posted right after pool_start. */
    unsigned long seen = 0;
    for (;;) {
        double t0 = now_us();
        for (unsigned spins = 1;
             atomic_load_explicit(&g_gen, memory_order_acquire) == seen;
             spins++) {
            cpu_relax();
            if (spins % 256 == 0 && now_us() - t0 > POOL_SPIN_US)
                break;
        }
        if (atomic_load_explicit(&g_gen, memory_order_acquire) == seen) {
            pthread_mutex_lock(&g_lock);
            g_nsleep++;
            while (atomic_load_explicit(&g_gen, memory_order_acquire) == seen)
                pthread_cond_wait(&g_wake, &g_lock);
            g_nsleep--;
            pthread_mutex_unlock(&g_lock);
        }
        seen = atomic_load_explicit(&g_gen, memory_order_acquire);
        /* g_fn, g_ctx and g_nt stay fixed while a joined worker runs:
         * the caller waits for it before the next job is posted. */
        int id = join_job(seen);
        if (id > 0) {
            g_fn(g_ctx, id, atomic_load(&g_nt));
            atomic_fetch_add(&g_done, 1);
        }
    }
    return NULL;
}

/* A forked child has none of the parent's workers: start afresh. */
static void after_fork_child(void)
{
    pthread_mutex_init(&g_busy, NULL);
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_wake, NULL);
    g_state = 0;
    g_nworkers = 0;
    g_nsleep = 0;
    atomic_store(&g_join, 0);
    atomic_store(&g_done, 0);
    atomic_store(&g_gen, 0);
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
        if (pthread_create(&th, &attr, worker, NULL) != 0)
            break;
    }
    pthread_attr_destroy(&attr);
    g_nworkers = n;
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
    g_fn = fn;
    g_ctx = ctx;
    atomic_store(&g_nt, nt);
    unsigned long gen = atomic_load(&g_gen) + 1;
    atomic_store(&g_done, 0);
    atomic_store(&g_join, (uint64_t)(gen & 0xffffffffu) << 32);
    atomic_store_explicit(&g_gen, gen, memory_order_release);
    /* Under the lock, so a worker about to sleep either sees the new
     * generation or is already waiting for this broadcast. */
    pthread_mutex_lock(&g_lock);
    if (g_nsleep > 0)
        pthread_cond_broadcast(&g_wake);
    pthread_mutex_unlock(&g_lock);

    fn(ctx, 0, nt);

    /* Close the job; run the shares no worker claimed in time here, then
     * wait only for those who joined. */
    uint64_t w = atomic_fetch_or(&g_join, JOIN_CLOSED);
    int joined = (int)(w & JOIN_COUNT);
    for (int t = joined + 1; t < nt; t++)
        fn(ctx, t, nt);
    for (unsigned spins = 0; atomic_load(&g_done) < joined; spins++) {
        if (spins < POOL_SPIN)
            cpu_relax();
        else
            sched_yield();
    }
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

static void scratch_free(void *p) { ein_free(p); }
static void make_key(void) { g_key_ok = pthread_key_create(&g_key, scratch_free) == 0; }

void *ein_scratch(size_t bytes)
{
    if (bytes <= tl_cap)
        return tl_buf;
    pthread_once(&g_key_once, make_key);
    ein_free(tl_buf);
    tl_buf = NULL;
    tl_cap = 0;
    if (g_key_ok)
        pthread_setspecific(g_key, NULL);
    if (bytes > SIZE_MAX - 4096)
        return NULL;
    size_t size = (bytes + 4095) & ~(size_t)4095;   /* whole pages */
    void *p = ein_aligned(64, size);
    if (!p)
        return NULL;
    tl_buf = p;
    tl_cap = size;
    if (g_key_ok)
        pthread_setspecific(g_key, p);
    return p;
}
