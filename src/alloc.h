/* alloc.h — the library's allocation funnel (alloc.c). */
#ifndef EIN_ALLOC_H
#define EIN_ALLOC_H

#include <stddef.h>

/* Every heap allocation of the library goes through these; ein_free
 * releases any of them.  ein_aligned rounds n up to a multiple of align. */
void *ein_malloc(size_t n);
void *ein_calloc(size_t n, size_t size);
void *ein_aligned(size_t align, size_t n);
void  ein_free(void *p);
/* Test hook: after n more allocations succeed, the next one fails (once);
 * n < 0 turns the hook off.  ein_alloc_count() counts every attempt. */
void ein_alloc_fail_after(long n);
long ein_alloc_count(void);

#endif
