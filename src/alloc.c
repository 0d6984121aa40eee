/* alloc.c — the library's one allocation funnel.  Every byte libeinsum
 * takes from the heap comes through here, so one hook can make the n-th
 * allocation fail and prove each failure path returns a status and gives
 * back what it took (tests/test_alloc.c sweeps n over whole workloads). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

/* Allocations left before the hook fails one; negative: never fail. */
static _Atomic long g_fail_in = -1;
static _Atomic long g_count;

static bool should_fail(void)
{
    atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
    if (atomic_load_explicit(&g_fail_in, memory_order_relaxed) < 0)
        return false;
    /* Only the call that takes the counter from 0 to -1 fails. */
    return atomic_fetch_sub_explicit(&g_fail_in, 1, memory_order_relaxed) == 0;
}

void ein_alloc_fail_after(long n)
{
    atomic_store(&g_fail_in, n);
}

long ein_alloc_count(void)
{
    return atomic_load(&g_count);
}

void *ein_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *ein_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *ein_aligned(size_t align, size_t n)
{
    if (should_fail() || n > SIZE_MAX - align)
        return NULL;
    size_t rounded = (n + align - 1) / align * align;   /* aligned_alloc's rule */
    return aligned_alloc(align, rounded ? rounded : align);
}

void ein_free(void *p)
{
    free(p);
}
