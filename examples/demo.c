/* demo.c — the motivating example: a [100, 50] feature matrix and one
 * weight vector shared by every row, turned into [100] three ways:
 *   1. matmul with a [50, 1] weight, then squeeze   ("ij,jk->ik", k = 1)
 *   2. einsum("ij,j->i")
 *   3. a linear layer with one output, x W^T + b, then squeeze
 *                                                  ("ij,kj->ik", k = 1)
 * It checks that the three agree and prints the plan of the first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "einsum.h"

enum { N = 100, M = 50 };

static int check(ein_status st, const char *what)
{
    if (st != EIN_OK) {
        fprintf(stderr, "demo: %s: %s\n%s\n", what, ein_status_str(st), ein_last_error());
        return 1;
    }
    return 0;
}

int main(void)
{
    static float F[N * M], w[M], y1[N], y2[N], y3[N];
    unsigned seed = 12345;
    for (int i = 0; i < N * M; i++) {
        seed = seed * 1103515245u + 12345u;
        F[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    for (int j = 0; j < M; j++)
        w[j] = 1.0f / (float)(j + 1);
    const float bias = 0.0f;   /* a linear layer's bias; 0 keeps the three equal */

    /* 1. matmul: F [100,50] times W [50,1] gives [100,1]; squeezing it is
     *    just viewing the same memory as [100]. */
    ein_tensor tF = {F, EIN_F32, 2, (const int64_t[]){N, M}, NULL};
    ein_tensor tW = {w, EIN_F32, 2, (const int64_t[]){M, 1}, NULL};
    ein_tensor tY1 = {y1, EIN_F32, 2, (const int64_t[]){N, 1}, NULL};
    if (check(einsum("ij,jk->ik", &tY1, &tF, &tW), "matmul"))
        return 1;

    /* 2. einsum over the vector directly. */
    ein_tensor tw = {w, EIN_F32, 1, (const int64_t[]){M}, NULL};
    ein_tensor tY2 = {y2, EIN_F32, 1, (const int64_t[]){N}, NULL};
    if (check(einsum("ij,j->i", &tY2, &tF, &tw), "einsum"))
        return 1;

    /* 3. linear layer: x W^T + b with W of shape [1, 50]. */
    ein_tensor tWt = {w, EIN_F32, 2, (const int64_t[]){1, M}, NULL};
    ein_tensor tY3 = {y3, EIN_F32, 2, (const int64_t[]){N, 1}, NULL};
    if (check(einsum("ij,kj->ik", &tY3, &tF, &tWt), "linear"))
        return 1;
    for (int i = 0; i < N; i++)
        y3[i] += bias;

    double d12 = 0, d13 = 0;
    for (int i = 0; i < N; i++) {
        d12 = fmax(d12, fabs((double)y1[i] - (double)y2[i]));
        d13 = fmax(d13, fabs((double)y1[i] - (double)y3[i]));
    }
    printf("features [%d, %d] . weight [%d] -> [%d]\n", N, M, M, N);
    printf("y[0..3] = %.6f %.6f %.6f %.6f\n", y2[0], y2[1], y2[2], y2[3]);
    printf("max |matmul - einsum| = %.3g, max |matmul - linear| = %.3g\n", d12, d13);

    ein_plan *p = ein_plan_new("ij,jk->ik", 2, (const ein_tensor *const[]){&tF, &tW},
                               &tY1, NULL, NULL);
    if (!p)
        return check(EIN_ERR_ARG, "plan");
    char text[4096];
    ein_plan_explain(p, text, sizeof text);
    printf("\nplan of the matmul (k = 1 is squeezed, so it runs as GEMV):\n%s", text);
    ein_plan_free(p);
    return d12 < 1e-5 && d13 < 1e-5 ? 0 : 1;
}
