/* fuzz_npy.c — the .npy reader (src/cli/npy.c) on arbitrary bytes.  An
 * array it accepts must be whole: its element count matches its shape,
 * every element can be read, and encoding it and reading the encoding
 * back gives the same dtype, shape and bytes. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_array a;
    char msg[512];
    memset(&a, 0, sizeof a);
    msg[0] = '\0';
    if (npy_read_mem(data, size, "fuzz.npy", &a, msg, sizeof msg) != 0) {
        if (!msg[0]) {
            fprintf(stderr, "refused without a message\n");
            abort();
        }
        npy_free(&a);
        return 0;
    }
    int64_t count = 1;
    for (int d = 0; d < a.ndim; d++)
        count *= a.shape[d];
    if (count != a.count || !a.data) {
        fprintf(stderr, "count %lld but shape gives %lld\n", (long long)a.count,
                (long long)count);
        abort();
    }
    ein_tensor t = npy_tensor(&a);
    size_t len = 0;
    unsigned char *img = npy_encode(&t, &len, msg, sizeof msg);
    if (img) {
        npy_array b;
        memset(&b, 0, sizeof b);
        if (npy_read_mem(img, len, "re-encoded", &b, msg, sizeof msg) != 0) {
            fprintf(stderr, "its own encoding was refused: %s\n", msg);
            abort();
        }
        size_t es = ein_dtype_size(a.dtype);
        bool same = b.dtype == a.dtype && b.ndim == a.ndim && b.count == a.count &&
                    memcmp(a.shape, b.shape, (size_t)a.ndim * sizeof *a.shape) == 0;
        /* The encoding is C order: compare element by element through a's
         * strides (Fortran order reads transposed). */
        for (int64_t i = 0; same && i < a.count; i++) {
            int64_t off = 0, rem = i;
            for (int d = a.ndim - 1; d >= 0; d--) {
                off += (rem % a.shape[d]) * a.strides[d];
                rem /= a.shape[d];
            }
            same = memcmp((char *)a.data + (size_t)off * es,
                          (char *)b.data + (size_t)i * es, es) == 0;
        }
        if (!same) {
            fprintf(stderr, "encode + read does not round-trip\n");
            abort();
        }
        npy_free(&b);
        free(img);
    }
    npy_free(&a);
    return 0;
}
