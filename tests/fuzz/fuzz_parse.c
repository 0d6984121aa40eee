/* fuzz_parse.c — the subscript parser on arbitrary bytes, then bind and
 * plan on operands whose ranks fit what was parsed (so structurally
 * valid expressions reach the later stages, which raw bytes rarely do).
 * Input: one byte of extra ellipsis rank, then the subscripts.  A failure
 * must carry a message and an offset inside the text (or -1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int extra = data[0] % 70;        /* ellipsis dimensions, past the limit too */
    size_t len = size - 1;
    char *text = malloc(len + 1);
    memcpy(text, data + 1, len);
    text[len] = '\0';
    len = strlen(text);              /* an embedded NUL ends the string */

    ein_expr e;
    ein_clear_error();
    ein_status st = ein_parse(text, &e);
    if (st != EIN_OK) {
        int off = ein_last_error_offset();
        if (!ein_last_error()[0] || off < -1 || off > (int)len) {
            fprintf(stderr, "'%s': %s with message '%s' at offset %d\n", text,
                    ein_status_str(st), ein_last_error(), off);
            abort();
        }
        free(text);
        return 0;
    }
    /* Planning cost grows as the cube of the operand count (greedy path
     * search: ~0.3 s for 256 operands in Release, ten times that here), so
     * only expressions of up to 24 operands go on to plan; the parser
     * itself sees all. */
    if (e.nops > 24) {
        ein_expr_free(&e);
        free(text);
        return 0;
    }
    /* Operands of the parsed ranks: extent 2 on the first two dimensions,
     * 1 on the rest, so even rank-64 calls stay cheap to run. */
    static int64_t shape[EIN_MAX_DIMS + 70];
    for (int d = 0; d < EIN_MAX_DIMS + 70; d++)
        shape[d] = d < 2 ? 2 : 1;
    static double buf[64];
    ein_tensor *ts = calloc((size_t)e.nops, sizeof *ts);
    const ein_tensor **ops = calloc((size_t)e.nops, sizeof *ops);
    for (int k = 0; k < e.nops; k++) {
        int nd = e.in[k].n + (e.in[k].ell >= 0 ? extra : 0);
        ts[k] = (ein_tensor){buf, EIN_F64, nd, shape, NULL};
        ops[k] = &ts[k];
    }
    ein_plan *p = ein_plan_new(text, e.nops, ops, NULL, NULL, &st);
    if (!p && (st == EIN_OK || !ein_last_error()[0])) {
        fprintf(stderr, "'%s': no plan, status %s, message '%s'\n", text,
                ein_status_str(st), ein_last_error());
        abort();
    }
    if (p) {
        ein_dtype dt;
        int64_t rshape[EIN_MAX_DIMS];
        int nd = ein_plan_result(p, &dt, rshape);
        int64_t n = 1;
        for (int d = 0; d < nd; d++)
            n *= rshape[d];
        if (n <= 64 && p->flops < 1e6) {
            static double res[64];
            ein_tensor o = {res, EIN_F64, nd, rshape, NULL};
            st = ein_execute(p, ops, &o);
            if (st != EIN_OK) {
                fprintf(stderr, "'%s': execute: %s: %s\n", text, ein_status_str(st),
                        ein_last_error());
                abort();
            }
        }
        ein_plan_free(p);
    }
    free(ts);
    free(ops);
    ein_expr_free(&e);
    free(text);
    return 0;
}
