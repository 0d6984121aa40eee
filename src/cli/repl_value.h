/* repl_value.h — what REPL expressions evaluate to: numbers, strings,
 * booleans, tuples and tensors.  A tensor is a view (offset, shape,
 * strides in elements) of a reference-counted buffer, so slicing, .T,
 * transpose, squeeze and reshape share memory as numpy's views do.  The
 * library sees a tensor through rt_view(), an ein_tensor over the same
 * bytes. */
#ifndef EIN_CLI_REPL_VALUE_H
#define EIN_CLI_REPL_VALUE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "einsum.h"

/* Set by the SIGINT handler of an interactive session; long loops check it
 * and give up ("interrupted"). */
extern volatile sig_atomic_t repl_interrupted;

typedef struct rbuf {
    long   refs;
    size_t bytes;
    void  *data;    /* 64-byte aligned */
} rbuf;

typedef struct rtensor {
    rbuf     *buf;
    ein_dtype dtype;
    int32_t   ndim;
    int64_t   offset;                 /* elements from buf->data */
    int64_t   shape[EIN_MAX_DIMS];
    int64_t   strides[EIN_MAX_DIMS];  /* elements */
    /* Set when the tensor is a copy made where a view was asked for
     * (reshape of strides no view can describe): :explain says so. */
    const char *copied;
} rtensor;

typedef enum rval_kind {
    RV_NONE, RV_NUM, RV_BOOL, RV_STR, RV_TUPLE, RV_TENSOR
} rval_kind;

typedef struct rval {
    rval_kind     kind;
    int           is_int;   /* RV_NUM: prints as an integer */
    double        num;      /* RV_NUM; RV_BOOL: 0 or 1 */
    char         *str;      /* RV_STR, owned */
    struct rval  *items;    /* RV_TUPLE, owned */
    int           n;
    rtensor      *t;        /* RV_TENSOR, owned (it holds a buffer reference) */
} rval;

/* Constructors never fail silently: on out of memory they return -1. */
rval rv_none(void);
rval rv_num(double x, int is_int);
rval rv_bool(int b);
int  rv_str(rval *v, const char *s, size_t n);
int  rv_tensor(rval *v, rtensor *t);   /* takes t */
int  rv_int_tuple(rval *v, int n, const int64_t *x);   /* (3, 4) */
int  rv_copy(rval *dst, const rval *src);   /* shares tensor buffers */
void rv_free(rval *v);

/* A new C-order tensor, zero-filled; NULL when out of memory or too large. */
rtensor *rt_new(ein_dtype dt, int32_t ndim, const int64_t *shape);
/* A new view sharing t's buffer (same shape and strides, to be changed). */
rtensor *rt_view_of(const rtensor *t);
void     rt_free(rtensor *t);
int64_t  rt_count(const rtensor *t);
size_t   rt_esize(const rtensor *t);
void    *rt_data(const rtensor *t);   /* address of element [0, ..., 0] */
/* The library's view of t; shape and strides point into t. */
ein_tensor rt_ein(const rtensor *t);
/* Element i in C order over t's shape, as double; and storing one. */
double   rt_get(const rtensor *t, int64_t i);
int      rt_is_c_contiguous(const rtensor *t);
/* A C-order copy with dtype dt; NULL when out of memory or interrupted. */
rtensor *rt_copy(const rtensor *t, ein_dtype dt);

/* Views.  Each returns NULL and writes msg on a bad argument (or out of
 * memory). */
rtensor *rt_permute(const rtensor *t, const int *perm, char *msg, size_t cap);
rtensor *rt_reshape(const rtensor *t, int32_t ndim, const int64_t *shape,
                    char *msg, size_t cap);   /* a view where strides allow */

#endif
