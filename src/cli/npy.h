/* npy.h — reading and writing NumPy .npy files for the einsum program.
 *
 * The CLI's only way in and out of the library: a file becomes an
 * ein_tensor view over memory this module owns, and a result tensor (any
 * strides) becomes a C-order little-endian file written atomically.
 *
 * Policies a user sees:
 *  - dtypes float32 and float64, either byte order; everything else is
 *    rejected by name.  Big-endian data is swapped to native on reading.
 *  - fortran_order True is kept as read and described with Fortran strides.
 *  - Bytes after the array's data are ignored, as np.load ignores them
 *    (several np.save calls into one open file leave exactly that).
 *  - Headers longer than NPY_MAX_HEADER bytes are refused.
 * Functions return 0 or -1; on -1 they write a one-line message naming the
 * file into the caller's buffer and never print. */
#ifndef EIN_CLI_NPY_H
#define EIN_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "einsum.h"

/* numpy itself refuses headers over 10000 bytes unless told otherwise
 * (np.load's max_header_size); we allow more, but a cap keeps a hostile
 * 4-byte length of version 2/3 from making us allocate gigabytes. */
#define NPY_MAX_HEADER (1u << 20)

typedef struct npy_array {
    void     *data;                    /* owned; 64-byte aligned, never NULL after a read */
    ein_dtype dtype;
    int32_t   ndim;
    int       fortran_order;
    int64_t   shape[EIN_MAX_DIMS];
    int64_t   strides[EIN_MAX_DIMS];   /* elements, C or Fortran order */
    int64_t   count;                   /* number of elements */
} npy_array;

/* Read a whole file.  On failure *a holds nothing to free. */
int npy_read_file(const char *path, npy_array *a, char *msg, size_t cap);

/* The same over bytes already in memory; `name` is used in messages. */
int npy_read_mem(const void *buf, size_t len, const char *name,
                 npy_array *a, char *msg, size_t cap);

void npy_free(npy_array *a);   /* releases the data; NULL and empty are fine */

/* A view of the array for the library (points into *a). */
ein_tensor npy_tensor(const npy_array *a);

/* Serialise t (any strides, any rank 0..EIN_MAX_DIMS) as a version 1.0,
 * C-order, little-endian .npy image, header padded so the data starts at a
 * multiple of 64 bytes like np.save.  Returns a malloc'd buffer and its
 * length in *len, or NULL with a message. */
unsigned char *npy_encode(const ein_tensor *t, size_t *len,
                          char *msg, size_t cap);

/* Write t to path through a temporary file in the same directory and
 * rename(); on any failure the temporary is removed and an existing file
 * at path is left as it was. */
int npy_write_file(const char *path, const ein_tensor *t, char *msg, size_t cap);

#endif
