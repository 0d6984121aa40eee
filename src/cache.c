/* cache.c — the plan cache behind the one-shot einsum(): plans keyed by
 * expression, dtypes, shapes and strides, so a repeated call skips
 * parsing and planning.  One mutex guards a small set-associative table;
 * entries are reference-counted so a plan evicted while another thread
 * runs it is freed by whoever releases it last. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CACHE_SETS 32
#define CACHE_WAYS 4
#define KEY_MAX    256     /* int64 words; larger calls are not cached */
#define TEXT_MAX   128     /* subscript bytes; longer calls are not cached */

typedef struct entry {
    ein_plan   *plan;
    uint64_t    hash;
    uint64_t    used;         /* LRU clock */
    atomic_int  refs;         /* 1 for the table while cached, +1 per user */
    int         nkey;
    int64_t     key[KEY_MAX];
    char        text[TEXT_MAX];
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *table[CACHE_SETS][CACHE_WAYS];
static uint64_t clock_;

static void put_view(int64_t *key, int *n, const ein_tensor *t)
{
    int nd = t->ndim;
    int64_t *k = key + *n;
    uint64_t acc = 1;    /* unsigned: a huge view wraps here, then bind refuses it */
    k[0] = (int64_t)t->dtype;
    k[1] = nd;
    /* Shapes, then strides; NULL strides and explicit C strides are the
     * same key.  One fused loop: a plain copy would become a `rep movs`
     * whose start-up costs more than these few words. */
    for (int d = nd - 1; d >= 0; d--) {
        k[2 + d] = t->shape[d];
        k[2 + nd + d] = t->strides ? t->strides[d] : (int64_t)acc;
        acc *= t->shape[d] > 0 ? (uint64_t)t->shape[d] : 1;
    }
    *n += 2 + 2 * nd;
}

/* Serialise a call into key[]; false if it is too big to cache or has a
 * malformed view (the uncached path then reports the error). */
static bool make_key(const char *text, int nops, const ein_tensor *const *ops,
                     const ein_tensor *out, int64_t *key, int *nkey, uint64_t *hash)
{
    size_t len = strlen(text);
    if (len >= TEXT_MAX || !ops || nops <= 0)
        return false;
    int n = 0;
    key[n++] = nops;
    for (int k = 0; k <= nops; k++) {
        const ein_tensor *t = k < nops ? ops[k] : out;
        if (!t || t->ndim < 0 || t->ndim > EIN_MAX_DIMS || (t->ndim && !t->shape) ||
            n + 2 + 2 * t->ndim > KEY_MAX)
            return false;
        put_view(key, &n, t);
    }
    uint64_t h = 1469598103934665603ull;          /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    for (int i = 0; i < n; i++)
        h = (h ^ (uint64_t)key[i]) * 1099511628211ull;
    *nkey = n;
    *hash = h;
    return true;
}

static void release(entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1) {
        ein_plan_free(e->plan);
        ein_free(e);
    }
}

static entry *lookup(const char *text, const int64_t *key, int nkey, uint64_t h)
{
    entry *hit = NULL;
    pthread_mutex_lock(&lock);
    entry **set = table[h % CACHE_SETS];
    for (int w = 0; w < CACHE_WAYS; w++) {
        entry *e = set[w];
        if (e && e->hash == h && e->nkey == nkey &&
            memcmp(e->key, key, (size_t)nkey * sizeof *key) == 0 &&
            strcmp(e->text, text) == 0) {
            atomic_fetch_add(&e->refs, 1);
            e->used = ++clock_;
            hit = e;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

/* Offer a new plan to the table; returns the entry the caller now holds
 * a reference to, or NULL if it could not allocate (plan untouched). */
static entry *insert(ein_plan *p, const char *text, const int64_t *key, int nkey,
                     uint64_t h)
{
    entry *e = ein_malloc(sizeof *e);
    if (!e)
        return NULL;
    e->plan = p;
    e->hash = h;
    e->nkey = nkey;
    memcpy(e->key, key, (size_t)nkey * sizeof *key);
    strcpy(e->text, text);
    atomic_init(&e->refs, 2);   /* the table's and the caller's */
    pthread_mutex_lock(&lock);
    e->used = ++clock_;
    entry **set = table[h % CACHE_SETS];
    int victim = 0;
    for (int w = 0; w < CACHE_WAYS; w++) {
        if (!set[w]) {
            victim = w;
            break;
        }
        if (set[w]->used < set[victim]->used)
            victim = w;
    }
    entry *old = set[victim];
    set[victim] = e;
    pthread_mutex_unlock(&lock);
    if (old)
        release(old);
    return e;
}

ein_status einsum_v(const char *subscripts, int nops,
                    const ein_tensor *const *ops, ein_tensor *out)
{
    if (!out || !subscripts) {
        ein_clear_error();
        return ein_fail(EIN_ERR_ARG, out ? "subscripts is NULL" : "the output tensor is NULL");
    }
    int64_t key[KEY_MAX];
    int nkey;
    uint64_t h;
    if (!make_key(subscripts, nops, ops, out, key, &nkey, &h)) {
        ein_status st;
        ein_plan *p = ein_plan_new(subscripts, nops, ops, out, NULL, &st);
        if (!p)
            return st;
        st = ein_execute(p, ops, out);
        ein_plan_free(p);
        return st;
    }
    entry *e = lookup(subscripts, key, nkey, h);
    if (!e) {
        ein_status st;
        ein_plan *p = ein_plan_new(subscripts, nops, ops, out, NULL, &st);
        if (!p)
            return st;           /* failures are not cached */
        p->keep_ws = false;      /* 128 plans' workspaces: too much to hold */
        e = insert(p, subscripts, key, nkey, h);
        if (!e) {                /* no room for an entry: run uncached */
            st = ein_execute(p, ops, out);
            ein_plan_free(p);
            return st;
        }
    }
    ein_status st = ein_execute(e->plan, ops, out);
    release(e);
    return st;
}

void ein_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    entry *old[CACHE_SETS * CACHE_WAYS];
    int n = 0;
    for (int s = 0; s < CACHE_SETS; s++)
        for (int w = 0; w < CACHE_WAYS; w++) {
            if (table[s][w])
                old[n++] = table[s][w];
            table[s][w] = NULL;
        }
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        release(old[i]);
}
