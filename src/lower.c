/* lower.c — turn the bound, squeezed index table and the contraction
 * order into the plan's steps: each step's loops (free loops first,
 * then summed), fused where strides allow, and the kernel that runs
 * them: a dense kernel (dot, gemv, gemm, outer) when the step's labels
 * sort into batch / m / n / k, else the generic strided loop nest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct slotinfo {
    bool    has[EIN_MAX_LABELS];
    int64_t stride[EIN_MAX_LABELS];
} slotinfo;

static int cmp_desc(int64_t a, int64_t b)
{
    a = llabs(a);
    b = llabs(b);
    return a > b ? -1 : a < b;
}

/* Free loops outermost-first by the output's stride; summed loops by the
 * first input's stride: the innermost loop walks the smallest stride. */
static void sort_loops(ein_loop *loops, int n, int nfree, int out_t)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            bool same_group = (j < nfree) == (j - 1 < nfree);
            if (!same_group)
                break;
            int t = j < nfree ? out_t : 0;
            if (cmp_desc(loops[j].stride[t], loops[j - 1].stride[t]) >= 0)
                break;
            ein_loop tmp = loops[j];
            loops[j] = loops[j - 1];
            loops[j - 1] = tmp;
        }
}

enum { R_BATCH, R_M, R_N, R_K, R_OTHER };

/* Unit stride in tensor t0 or t1 of a step? */
static bool unit(const ein_loop *L, int t0, int t1)
{
    return llabs(L->stride[t0]) == 1 || llabs(L->stride[t1]) == 1;
}

/* Pick the loop of a role (m, n or k) the kernel takes; the rest of that
 * role run outside it.  The largest, unless another of at least 16 reads
 * its matrix or writes the output contiguously and the largest does not:
 * in "abc,b->ac" the GEMV must run along c (stride 1), not a (10000). */
static int pick(const ein_loop *loops, const int *role, int n, int want)
{
    int t0 = want == R_N ? 1 : 0, t1 = want == R_K ? 1 : 2;
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (role[i] != want)
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        bool ui = unit(&loops[i], t0, t1) && loops[i].extent >= 16;
        bool ub = unit(&loops[best], t0, t1) && loops[best].extent >= 16;
        if (ui != ub ? ui : loops[i].extent > loops[best].extent)
            best = i;
    }
    return best;
}

/* A dot under batch loops whose sum strides while some batch loop is
 * contiguous in both inputs and the output ("ij,ij->j"): one strided dot
 * per output element would read a column at a time, so the product
 * kernel sums whole rows into a block of outputs instead, when that
 * block is 16 wide or the sum 64 long (bn,bn->n 100000 x 8 f32, one
 * thread: 1.86 -> 0.24 ms; at 20 x 4 the dots stay faster).  So too a
 * short strided dot under batch loops, one of them contiguous in the
 * output ("bij,bji->b", "bij,bij->bj" on 3 x 3 blocks): a call per dot
 * of three costs more than the dot. */
#define EIN_SHORT_DOT 16
static bool strided_dot(const ein_step *s, const int *role, int ik)
{
    const ein_loop *K = &s->loops[ik];
    if (llabs(K->stride[0]) == 1 && llabs(K->stride[1]) == 1)
        return false;
    int64_t calls = 1;
    bool out_unit = false;
    for (int i = 0; i < s->nloops; i++) {
        const ein_loop *L = &s->loops[i];
        if (role[i] != R_BATCH)
            continue;
        calls *= L->extent;
        if (llabs(L->stride[2]) != 1)
            continue;
        out_unit = true;
        if ((L->extent >= 16 || K->extent >= 64) && llabs(L->stride[0]) == 1 &&
            llabs(L->stride[1]) == 1)
            return true;
    }
    return out_unit && K->extent < EIN_SHORT_DOT && calls >= EIN_SHORT_DOT;
}

/* An outer product or a GEMV that strides where some loop outside it is
 * contiguous ("ij,kj->ikj": i x k outer products, one per j, each
 * writing with strides 10000 and 100; "ijk,j->ik": GEMVs over a matrix
 * with strides 2400 and 8, one per k): the product loops walk the
 * contiguous loop innermost instead.  For an outer product, a loop
 * contiguous in the output while neither of the kernel's is; for a GEMV,
 * one contiguous in the output and the matrix while the matrix strides
 * both ways.  f32, one thread: ij,kj->ikj 100^2 1.63 -> 0.19 ms,
 * ijk,j->ik 300 x 300 x 8 0.76 -> 0.29 ms. */
static bool strided_vector_kernel(const ein_step *s, int im, int in, int ik)
{
    if ((im >= 0) + (in >= 0) + (ik >= 0) != 2)
        return false;
    const int mat = im >= 0 ? 0 : 1;         /* the GEMV's matrix operand */
    for (int i = 0; i < s->nloops; i++) {
        const ein_loop *L = &s->loops[i];
        if (i == im || i == in || i == ik || llabs(L->stride[2]) != 1)
            continue;
        if (ik < 0)   /* outer product */
            return llabs(s->loops[im].stride[2]) != 1 && llabs(s->loops[in].stride[2]) != 1;
        const int iv = im >= 0 ? im : in;     /* the matrix's free loop */
        return llabs(L->stride[mat]) == 1 && llabs(s->loops[iv].stride[mat]) != 1 &&
               llabs(s->loops[ik].stride[mat]) != 1;
    }
    return false;
}

/* The loops of one role as a tensor-GEMM group, outermost first by the
 * stride of the tensor `by` (so the innermost index walks the smallest
 * stride), with strides for tensors t0 and t1 of the step. */
static void make_group(ein_group *g, const ein_loop *loops, const int *role,
                       int n, int want, int t0, int t1)
{
    int idx[EIN_GROUP_MAX], c = 0;
    int by = want == R_K ? 0 : 2;
    for (int i = 0; i < n; i++)
        if (role[i] == want)
            idx[c++] = i;
    for (int i = 1; i < c; i++)
        for (int j = i; j > 0 && llabs(loops[idx[j]].stride[by]) >
                                  llabs(loops[idx[j - 1]].stride[by]); j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    g->ndim = c;
    for (int d = 0; d < c; d++) {
        g->ext[d] = loops[idx[d]].extent;
        g->stride[0][d] = loops[idx[d]].stride[t0];
        g->stride[1][d] = loops[idx[d]].stride[t1];
    }
}

/* A GEMV summing several loops whose strides fuse in the matrix but not
 * in the vector ("ijk,kj->i": the matrix is [i, jk] while kj walks its
 * vector transposed) would run one strided GEMV per index of all but one
 * of them.  Instead the vector is gathered, at most EIN_XPACK_MAX
 * elements, into a packing buffer in the matrix's order (ein_step.xpack,
 * the sums in gk: extents outermost first, the matrix's strides then the
 * vector's), and one GEMV takes the contiguous rows.  Only for matrices
 * of EIN_XPACK_MIN elements or more, with no batch loop.  f32, one
 * thread: ijk,kj->i 100^3 f32 0.68 -> 0.15 ms, f64 1.14 -> 0.30 ms. */
#define EIN_XPACK_MAX (1 << 18)
#define EIN_XPACK_MIN 32768.0
static bool packed_vector_gemv(ein_step *s, const int *role, const int *count, int im,
                               int in)
{
    if ((im >= 0) == (in >= 0) || count[R_K] < 2 || count[R_K] > EIN_GROUP_MAX ||
        count[R_BATCH] || count[R_M] + count[R_N] != 1)
        return false;
    const int mat = im >= 0 ? 0 : 1;
    const ein_loop M = s->loops[im >= 0 ? im : in];
    int idx[EIN_GROUP_MAX], c = 0;
    for (int i = 0; i < s->nloops; i++)
        if (role[i] == R_K)
            idx[c++] = i;
    for (int i = 1; i < c; i++)   /* outermost (largest matrix stride) first */
        for (int j = i; j > 0 && s->loops[idx[j]].stride[mat] >
                                  s->loops[idx[j - 1]].stride[mat]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    int64_t run = 1;   /* the sums must tile the matrix's rows densely, forwards */
    for (int d = c - 1; d >= 0; d--) {
        if (s->loops[idx[d]].stride[mat] != run)
            return false;
        run *= s->loops[idx[d]].extent;
    }
    if (run > EIN_XPACK_MAX || (double)M.extent * (double)run < EIN_XPACK_MIN ||
        llabs(M.stride[mat]) < run)   /* rows that overlap: leave them be */
        return false;
    ein_loop ks[EIN_GROUP_MAX];
    s->gk.ndim = c;
    size_t w = 0;
    for (int d = 0; d < c; d++) {
        ks[d] = s->loops[idx[d]];
        s->gk.ext[d] = ks[d].extent;
        s->gk.stride[0][d] = ks[d].stride[mat];
        s->gk.stride[1][d] = ks[d].stride[1 - mat];
        if (w < sizeof s->kname)
            w += (size_t)snprintf(s->kname + w, sizeof s->kname - w, "%s", ks[d].name);
    }
    s->kind = EIN_K_GEMV;
    s->xpack = true;
    s->swap = mat == 1;
    s->grouped = false;
    s->nbatch = s->nouter = 0;
    s->m = M.extent;
    s->n = 1;
    s->k = run;
    s->rsa = M.stride[mat];
    s->csa = 1;
    s->rsb = 1;                 /* the packed vector */
    s->rsc = M.stride[2];
    s->csb = s->csc = 0;
    snprintf(s->mname, sizeof s->mname, "%s", M.name);
    s->nname[0] = '\0';
    s->loops[0] = M;            /* the kernel's loops, for explain */
    for (int d = 0; d < c; d++)
        s->loops[1 + d] = ks[d];
    return true;
}

/* Sort a binary step's loops into batch / m / n / k and choose a dense
 * kernel; leaves the step GENERIC when some label fits no role (a sum
 * over one input only, or an output label neither input varies along). */
static void choose_dense(ein_step *s)
{
    int role[EIN_MAX_LABELS];
    int count[5] = {0};
    for (int i = 0; i < s->nloops; i++) {
        const ein_loop *L = &s->loops[i];
        bool a = L->stride[0] != 0, bb = L->stride[1] != 0, c = i < s->nfree;
        role[i] = c ? (a && bb ? R_BATCH : a ? R_M : bb ? R_N : R_OTHER)
                    : (a && bb ? R_K : R_OTHER);
        count[role[i]]++;
    }
    if (count[R_OTHER] || (!count[R_M] && !count[R_N] && !count[R_K]))
        return;
    int im = pick(s->loops, role, s->nloops, R_M);
    int in = pick(s->loops, role, s->nloops, R_N);
    int ik = pick(s->loops, role, s->nloops, R_K);
    if ((im >= 0) != (in >= 0) && ik >= 0) {
        /* A GEMV sums along the matrix's contiguous loop if it has one of
         * 16 or more: the vector, small, is gathered if it strides.
         * ijk,ki->j 100^3 f32, one thread: 0.73 -> 0.15 ms. */
        const int mat = im >= 0 ? 0 : 1;
        for (int i = 0; i < s->nloops; i++)
            if (role[i] == R_K && llabs(s->loops[i].stride[mat]) == 1 &&
                s->loops[i].extent >= 16)
                ik = i;
    }
    if (im >= 0 && in < 0 && ik < 0)
        return;   /* a scaled copy: the loop nest does it well */
    if (in >= 0 && im < 0 && ik < 0)
        return;
    if (im < 0 && in < 0 && ik >= 0 && strided_dot(s, role, ik))
        return;
    if (strided_vector_kernel(s, im, in, ik))
        return;
    if (packed_vector_gemv(s, role, count, im, in))
        return;

    /* Everything but the kernel's loops runs outside: batch loops first,
     * then the other m, n and k loops, each in the step's order. */
    int no = 0, nbatch = 0;
    ein_loop outer[EIN_MAX_LABELS];
    bool sums[EIN_MAX_LABELS];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < s->nloops; i++) {
            if (i == im || i == in || i == ik || (pass == 0) != (role[i] == R_BATCH))
                continue;
            sums[no] = role[i] == R_K;
            outer[no++] = s->loops[i];
            nbatch += pass == 0;
        }
    /* A GEMM with several loops in a role can run as one tensor GEMM. */
    s->grouped = false;
    s->nbatch = nbatch;
    if (im >= 0 && in >= 0 && ik >= 0 &&
        (count[R_M] > 1 || count[R_N] > 1 || count[R_K] > 1) &&
        count[R_M] <= EIN_GROUP_MAX && count[R_N] <= EIN_GROUP_MAX &&
        count[R_K] <= EIN_GROUP_MAX) {
        s->grouped = true;
        make_group(&s->gm, s->loops, role, s->nloops, R_M, 0, 2);
        make_group(&s->gn, s->loops, role, s->nloops, R_N, 1, 2);
        make_group(&s->gk, s->loops, role, s->nloops, R_K, 0, 1);
    }
    const ein_loop *M = im >= 0 ? &s->loops[im] : NULL;
    const ein_loop *N = in >= 0 ? &s->loops[in] : NULL;
    const ein_loop *K = ik >= 0 ? &s->loops[ik] : NULL;
    s->m = M ? M->extent : 1;
    s->n = N ? N->extent : 1;
    s->k = K ? K->extent : 1;
    snprintf(s->mname, sizeof s->mname, "%s", M ? M->name : "");
    snprintf(s->nname, sizeof s->nname, "%s", N ? N->name : "");
    snprintf(s->kname, sizeof s->kname, "%s", K ? K->name : "");
    /* A = in0 [m,k]; B = in1 [k,n]; C = out [m,n]. */
    s->rsa = M ? M->stride[0] : 0;
    s->csa = K ? K->stride[0] : 0;
    s->rsb = K ? K->stride[1] : 0;
    s->csb = N ? N->stride[1] : 0;
    s->rsc = M ? M->stride[2] : 0;
    s->csc = N ? N->stride[2] : 0;
    s->swap = false;
    if (M && N)
        s->kind = K ? EIN_K_GEMM : EIN_K_OUTER;
    else if (M)
        s->kind = EIN_K_GEMV;
    else if (N) {
        /* out[n] = sum_k in1[k,n] in0[k]: GEMV with in1 as the matrix. */
        s->kind = EIN_K_GEMV;
        s->swap = true;
        s->m = s->n;
        s->rsa = N->stride[1];
        s->csa = K->stride[1];
        s->rsb = K->stride[0];
        s->rsc = N->stride[2];
        snprintf(s->mname, sizeof s->mname, "%s", N->name);
    } else {
        s->kind = EIN_K_DOT;
    }
    /* Outer loops first, then the kernel's loops (for explain).  M, N and
     * K point into s->loops, so copy them out before it is rewritten. */
    const ein_loop *kls[3] = {M, N, K};
    ein_loop kernel_loops[3];
    int nk = 0;
    for (int i = 0; i < 3; i++)
        if (kls[i])
            kernel_loops[nk++] = *kls[i];
    int w = 0;
    for (int i = 0; i < no; i++) {
        s->outer_sums[w] = sums[i];
        s->loops[w++] = outer[i];
    }
    s->nouter = no;
    for (int i = 0; i < nk; i++)
        s->loops[w++] = kernel_loops[i];
}

/* Reserve a 64-byte-aligned block of `elems` elements in the workspace;
 * false if its size overflows. */
static bool reserve(size_t *ws, int64_t elems, size_t esize, size_t *offset)
{
    int64_t bytes;
    if (!ein_mul_ok(elems, (int64_t)esize, &bytes) || bytes > INT64_MAX - 64)
        return false;
    size_t blk = ((size_t)bytes + 63) & ~(size_t)63;
    if (*ws > SIZE_MAX - blk)
        return false;
    *offset = *ws;
    *ws += blk;
    return true;
}

/* "i (extent 3) x jk (extent 20)": the loops of a refused step, for its
 * message. */
static const char *fmt_loops(const ein_loop *loops, int n, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%s (extent %lld)", i ? " x " : "",
                              loops[i].name, (long long)loops[i].extent);
    return buf;
}

static void step_cost(ein_step *s, size_t esize)
{
    double iters = 1;
    for (int i = 0; i < s->nloops; i++)
        iters *= (double)s->loops[i].extent;
    s->flops = s->nin == 2 ? 2 * iters : iters;
    double bytes = 0;
    for (int t = 0; t <= s->nin; t++) {
        double elems = 1;
        for (int i = 0; i < s->nloops; i++)
            if (s->loops[i].stride[t] != 0)
                elems *= (double)s->loops[i].extent;
        bytes += elems;
    }
    s->bytes = bytes * (double)esize;
}

/* Sort labels order[0..n) by |stride[label]|, largest (outermost) first. */
static void sort_by_stride(int *order, int n, const int64_t *stride)
{
    for (int x = 1; x < n; x++)
        for (int y = x; y > 0 && llabs(stride[order[y]]) > llabs(stride[order[y - 1]]); y--) {
            int t = order[y];
            order[y] = order[y - 1];
            order[y - 1] = t;
        }
}

/* The order of an intermediate's labels in memory (outermost first), so
 * the step that consumes it can read it as a matrix without a copy:
 * labels the consumer keeps and its partner also carries (batch) first,
 * then the other kept ones (m or n) in the order the consumer writes
 * them, then the labels the consumer sums (k) innermost, in the order
 * the partner lays them out, so that k loops fuse into one. */
static int temp_order(const ein_bound *b, const ein_pathstep *path, int npath,
                      int i, const slotinfo *info, const int *cur, int *order)
{
    const ein_pathstep *ps = &path[i];
    int id = ps->a, j = i + 1;
    while (j < npath && path[j].a != id && path[j].b != id)
        j++;
    int partner = -1;
    if (j < npath && path[j].b >= 0) {
        int pid = path[j].a == id ? path[j].b : path[j].a;
        /* The partner's layout is known only if it exists already. */
        bool made_later = false;
        for (int q = i + 1; q < j; q++)
            made_later |= path[q].a == pid;
        if (!made_later && cur[pid] >= 0)
            partner = cur[pid];
    }
    lset ck = j < npath ? path[j].keep : ps->keep;
    bool consumer_last = j == npath - 1;
    int n = 0;
    /* When the partner carries every label the consumer keeps from this
     * intermediate (no m or n loop on its side: "ij,ij,ij->j" as
     * (op0 * op2) . op1), lay it out as the partner is laid out: the
     * consumer then walks both alike, and the producer of an elementwise
     * product writes in its inputs' order.  Batch first, sums innermost
     * made both a transposing product and a strided dot of it. */
    bool aligned = partner >= 0;
    for (int l = 0; l < b->nlabels && aligned; l++)
        if (ein_ls_has(ps->keep, l) && ein_ls_has(ck, l) && !info[partner].has[l])
            aligned = false;
    if (aligned) {
        for (int l = 0; l < b->nlabels; l++)
            if (ein_ls_has(ps->keep, l))
                order[n++] = l;
        sort_by_stride(order, n, info[partner].stride);
        /* Not when the producer's two inputs agree on another order: the
         * product would transpose, where the layout below leaves it
         * elementwise and the consumer a transposed dot ("ij,ji,ij->i"
         * as (op0 * op2) . op1: 1000^2 f32, one thread, 1.31 -> 0.84 ms). */
        int oa[EIN_MAX_LABELS], ob[EIN_MAX_LABELS];
        int sa = ps->b >= 0 ? cur[ps->a] : -1, sb = ps->b >= 0 ? cur[ps->b] : -1;
        bool inputs_agree = sa >= 0 && sb >= 0;
        for (int x = 0; x < n && inputs_agree; x++)
            inputs_agree = info[sa].has[order[x]] && info[sb].has[order[x]];
        if (inputs_agree) {
            memcpy(oa, order, (size_t)n * sizeof *oa);
            memcpy(ob, order, (size_t)n * sizeof *ob);
            sort_by_stride(oa, n, info[sa].stride);
            sort_by_stride(ob, n, info[sb].stride);
            inputs_agree = memcmp(oa, ob, (size_t)n * sizeof *oa) == 0;
        }
        if (!inputs_agree || memcmp(oa, order, (size_t)n * sizeof *oa) == 0)
            return n;
        n = 0;
    }
    for (int grp = 0; grp < 3; grp++) {
        int start = n;
        for (int l = 0; l < b->nlabels; l++) {
            if (!ein_ls_has(ps->keep, l))
                continue;
            bool kept = ein_ls_has(ck, l);
            bool shared = partner >= 0 && info[partner].has[l];
            int g = kept ? (shared ? 0 : 1) : 2;
            if (g == grp)
                order[n++] = l;
        }
        /* Sort the group by the stride that decides it, largest first:
         * the output's for kept labels, the partner's for summed ones. */
        const int64_t *by = grp == 2 ? (partner >= 0 ? info[partner].stride : NULL)
                          : consumer_last ? &EIN_STRIDE(b, b->nops, 0) : NULL;
        if (!by)
            continue;
        for (int x = start + 1; x < n; x++)
            for (int y = x; y > start && llabs(by[order[y]]) > llabs(by[order[y - 1]]); y--) {
                int t = order[y];
                order[y] = order[y - 1];
                order[y - 1] = t;
            }
    }
    return n;
}

/* "ea,abcd->ebcd" over the labels of a path step, each term in memory
 * order, then the shapes: for explain's path section. */
static void step_expr(const ein_bound *b, const slotinfo *ins[2], int nin,
                      const slotinfo *oi, char *buf, size_t cap)
{
    size_t w = 0;
    char shapes[160];
    size_t sw = 0;
    const slotinfo *ts[3] = {ins[0], nin == 2 ? ins[1] : oi, oi};
    int nt = nin + 1;
    for (int t = 0; t < nt; t++) {
        int lab[EIN_MAX_LABELS], n = 0;
        for (int l = 0; l < b->nlabels; l++)
            if (ts[t]->has[l])
                lab[n++] = l;
        for (int x = 1; x < n; x++)
            for (int y = x; y > 0 && llabs(ts[t]->stride[lab[y]]) >
                                      llabs(ts[t]->stride[lab[y - 1]]); y--) {
                int tmp = lab[y];
                lab[y] = lab[y - 1];
                lab[y - 1] = tmp;
            }
        const char *sep = t == 0 ? "" : t == nt - 1 ? "->" : ",";
        if (w < cap)
            w += (size_t)snprintf(buf + w, cap - w, "%s", sep);
        if (sw < sizeof shapes)
            sw += (size_t)snprintf(shapes + sw, sizeof shapes - sw, "%s[", t ? sep : "");
        for (int x = 0; x < n; x++) {
            char nb[16];
            if (w < cap)
                w += (size_t)snprintf(buf + w, cap - w, "%s", ein_label_name(lab[x], nb));
            if (sw < sizeof shapes)
                sw += (size_t)snprintf(shapes + sw, sizeof shapes - sw, "%s%lld",
                                       x ? "x" : "", (long long)b->extent[lab[x]]);
        }
        if (sw < sizeof shapes)
            sw += (size_t)snprintf(shapes + sw, sizeof shapes - sw, "]");
    }
    if (w < cap)
        snprintf(buf + w, cap - w, "  %s", shapes);
}

/* Offsets for the temporaries: each step's result goes at the lowest
 * 64-byte-aligned offset (from `base`, above the converted operand
 * copies, which live throughout) that overlaps no temporary still alive
 * (ein_ws_pack, which the path search's figures use too); a temporary
 * dies after the last step that reads it.  Returns the
 * workspace's size in bytes: the end of the highest block. */
static size_t pack_workspace(ein_plan *p, size_t base, size_t esize)
{
    size_t bytes[2 * EIN_MAX_OPERANDS + 2], at[2 * EIN_MAX_OPERANDS + 2];
    int death[2 * EIN_MAX_OPERANDS + 2];
    for (int i = 0; i < p->nsteps; i++) {
        int os = p->steps[i].out;
        death[i] = -1;
        if (os < p->nops || os >= EIN_OUT_SLOT(p) || !p->slots[os].in_workspace)
            continue;
        bytes[i] = (size_t)p->slots[os].size * esize;
        death[i] = i;
        for (int j = i + 1; j < p->nsteps; j++)
            if (p->steps[j].in[0] == os || (p->steps[j].nin == 2 && p->steps[j].in[1] == os))
                death[i] = j;
    }
    size_t top = ein_ws_pack(p->nsteps, bytes, death, base, at);
    for (int i = 0; i < p->nsteps; i++)
        if (death[i] >= 0)
            p->slots[p->steps[i].out].offset = at[i];
    return top;
}

/* ---- tiled chains --------------------------------------------------- */

/* Elements of each intermediate a tile aims at: the tiles of a chain's
 * results stay in L2 while the chain runs over them. */
#define EIN_TILE_ELEMS 32768
/* Fewest rows a tile of a chain that sums its label takes.  ijk,ijk,
 * ijk->jk 100^3 f32, one thread (10^4 sums carried): 3 rows a tile 0.73
 * ms, as untiled; 8 rows 0.48-0.49 ms; 13 rows 0.52 ms. */
#define EIN_TILE_MIN_SUMMED_ROWS 8
/* A chain that sums its label runs on one thread; a plan with more
 * threads takes it while its steps move at most this many bytes, where
 * their untiled runs on two threads were slower.  f32, one thread tiled
 * against two untiled (einsum-bench): ij,ij,ij->j 300^2 23 against 36
 * us, 350^2 33 / 45, 400^2 (3.2 MB) 52 / 56, 450^2 81 / 75, 1000^2 (20
 * MB) 461 / 431; ijk,ijk,ijk->k 60^3 (4.3 MB) 89 / 98, 100^3 483 / 494.
 * So a plan for two threads ran ij,ij,ij->j 300^2 in 36 us, now 26. */
#define EIN_SUMMED_CHAIN_BYTES (4 << 20)

/* Whether loop name `nm` walks label `lab` outermost: it is the label
 * or a fusion that starts with it ("i" in "ij", not "...1" in "...12"). */
static bool walks_label(const char *nm, const char *lab)
{
    size_t n = strlen(lab);
    return strncmp(nm, lab, n) == 0 && !(nm[n] >= '0' && nm[n] <= '9');
}

/* Step j's result is a temporary that step j + 1 alone reads. */
static bool feeds_next(const ein_plan *p, int j)
{
    const ein_step *s = &p->steps[j], *t = &p->steps[j + 1];
    int os = s->out;
    if (os < p->nops || os >= EIN_OUT_SLOT(p) || !p->slots[os].in_workspace)
        return false;
    if (t->in[0] != os && !(t->nin == 2 && t->in[1] == os))
        return false;
    for (int k = 0; k < p->nsteps; k++)
        if (k != j + 1 && (p->steps[k].in[0] == os ||
                           (p->steps[k].nin == 2 && p->steps[k].in[1] == os)))
            return false;
    return true;
}

/* Step j's result is a temporary that step j + 1 alone reads, and both
 * are loop steps. */
static bool links(const ein_plan *p, int j)
{
    return p->steps[j].kind == EIN_K_GENERIC && p->steps[j + 1].kind == EIN_K_GENERIC &&
           feeds_next(p, j);
}

/* The workspace a tiled chain uses at once must not overlap: the thread
 * tiles (`rows` rows of the label, extent ext) of its intermediates, and
 * whole, the temporaries its steps read from outside it and the last
 * step's result.  The workspace packing let a temporary share memory
 * with one that died before it was made; in a chain all are alive. */
static bool chain_memory_apart(const ein_plan *p, int first, int last, size_t rows,
                               int64_t ext, size_t esize)
{
    size_t lo[3 * EIN_MAX_OPERANDS], hi[3 * EIN_MAX_OPERANDS];
    int slot[3 * EIN_MAX_OPERANDS], n = 0;
    for (int k = first; k <= last; k++) {
        const ein_step *s = &p->steps[k];
        for (int q = 0; q <= s->nin; q++) {
            int sl = q < s->nin ? s->in[q] : s->out;
            bool inside = q < s->nin ? k > first && sl == p->steps[k - 1].out : k < last;
            if (sl < p->nops || sl >= EIN_OUT_SLOT(p) || !p->slots[sl].in_workspace)
                continue;        /* an operand or the output: not workspace */
            if (q < s->nin && inside)
                continue;        /* counted as the step before's result */
            bool seen = false;   /* read by two of the steps */
            for (int m = 0; m < n && !seen; m++)
                seen = slot[m] == sl;
            if (seen)
                continue;
            const ein_slot *x = &p->slots[sl];
            size_t elems = inside ? rows * (size_t)(x->size / ext) : (size_t)x->size;
            slot[n] = sl;
            lo[n] = x->offset;
            hi[n++] = x->offset + elems * esize;
        }
    }
    for (int a = 0; a < n; a++)
        for (int c = a + 1; c < n; c++)
            if (lo[a] < hi[c] && lo[c] < hi[a])
                return false;
    return true;
}

/* Tile steps first..last along label l if every one of them has it free,
 * outermost in each temporary; the thread tiles of the temporaries must
 * not overlap (those of results two steps apart may share memory). */
static bool tile_chain(ein_plan *p, const ein_bound *b, int first, int last, int l,
                       bool summed, size_t esize, int64_t elems, int64_t limit)
{
    char nb[16];
    const char *lab = ein_label_name(l, nb);
    const int64_t ext = b->extent[l];
    int q[EIN_MAX_OPERANDS];
    int64_t unit[EIN_MAX_OPERANDS], row = 1;
    if (last - first + 1 > EIN_MAX_OPERANDS)
        return false;
    for (int k = first; k <= last; k++) {
        const ein_step *s = &p->steps[k];
        q[k - first] = -1;
        for (int x = 0; x < s->nfree && q[k - first] < 0; x++)
            if (walks_label(s->loops[x].name, lab))
                q[k - first] = x;
        if (k == last && summed)   /* the outermost sum, so tiles add in order */
            q[k - first] = s->nloops > s->nfree &&
                           walks_label(s->loops[s->nfree].name, lab) ? s->nfree : -1;
        if (q[k - first] < 0)
            return false;
        const ein_loop *L = &s->loops[q[k - first]];
        if (L->extent % ext)
            return false;
        unit[k - first] = L->extent / ext;
        if (k == last)
            continue;
        /* The result's rows of the label: outermost, forward, dense. */
        int64_t r = unit[k - first] * L->stride[s->nin];
        if (r <= 0 || r * ext != p->slots[s->out].size)
            return false;
        if (r > row)
            row = r;
    }
    int64_t rows = elems / row;
    if (rows < 2)
        rows = 2;
    /* A chain that sums its label reads and writes all its carried sums
     * once a tile: at least EIN_TILE_MIN_SUMMED_ROWS rows, even if the
     * tiles outgrow elems (EIN_TILE=N, set by tests, keeps its size). */
    if (summed && rows < EIN_TILE_MIN_SUMMED_ROWS && elems == EIN_TILE_ELEMS) {
        if (row > elems)
            return false;
        rows = EIN_TILE_MIN_SUMMED_ROWS;
    }
    if (ext < 2 * rows)
        return false;            /* a tile or less: nothing to gain */
    /* Each thread's tiles take rows + 1 rows of the intermediates. */
    int64_t fit = ext / (rows + 1);
    int nt = p->nthreads < fit ? p->nthreads : (int)fit;
    size_t carry_off = 0, carry_end = 0;
    if (summed) {
        /* The column sums carried from tile to tile, one double each,
         * after the rest of the workspace; the tiles go in order on one
         * thread. */
        const ein_step *t = &p->steps[last];
        int kind = ein_generic_kind(p, t);
        if (kind != EIN_GK_COLUMNS && kind != EIN_GK_PRODUCT_COLUMNS)
            return false;
        int64_t sums = 1;
        for (int x = 0; x < t->nfree; x++)
            sums *= t->loops[x].extent;
        carry_off = (p->workspace + 63) & ~(size_t)63;
        carry_end = carry_off + (size_t)sums * sizeof(double);
        if (limit > 0 && carry_end > (size_t)limit)
            return false;
        nt = 1;
    }
    if (!chain_memory_apart(p, first, last, (size_t)(nt * (rows + 1)), ext, esize))
        return false;
    if (summed)
        p->workspace = carry_end;
    for (int k = first; k <= last; k++) {
        ein_step *s = &p->steps[k];
        s->chain = k == first ? last - first + 1 : 0;
        s->tile_threads = nt;
        s->tile_summed = summed;
        s->carry_off = carry_off;
        s->chained = k > first;
        s->tile_loop = q[k - first];
        s->tile_unit = unit[k - first];
        s->tile_rows = rows;
        s->tile_ext = ext;
        snprintf(s->tile_label, sizeof s->tile_label, "%s", lab);
    }
    return true;
}

/* Step k is elementwise over one contiguous run of n elements: one free
 * loop, every tensor's stride 1, not yet in a chain. */
static bool flat_step(const ein_plan *p, int k, int64_t n)
{
    const ein_step *s = &p->steps[k];
    if (s->kind != EIN_K_GENERIC || s->nloops != 1 || s->nfree != 1 ||
        s->loops[0].extent != n || s->chain || s->chained)
        return false;
    for (int t = 0; t <= s->nin; t++)
        if (s->loops[0].stride[t] != 1)
            return false;
    return true;
}

/* Elementwise steps over one contiguous run whose last result a whole dot
 * reads ("ij,ij,ij->" fused): a chain whose tiles are the dot's chunks
 * (ein_sum_chunk), so each chunk's product passes through L2 and the
 * chunk sums are those of the untiled dot, on any thread count. */
static void plan_dot_chains(ein_plan *p, size_t esize)
{
    for (int d = 1; d < p->nsteps; d++) {
        const ein_step *dot = &p->steps[d];
        if (!ein_whole_dot(dot) || dot->chain || dot->chained || dot->nloops != 1 ||
            dot->loops[0].extent != dot->k)
            continue;
        const int64_t n = dot->k, chunk = ein_sum_chunk(n);
        int first = d;
        while (first > 0 && feeds_next(p, first - 1) && flat_step(p, first - 1, n))
            first--;
        /* Each thread's tiles take one chunk of the intermediates, and
         * all of them must lie inside: a run of 2^17 elements (two
         * chunks) had two threads write one element past its end. */
        int nt = n / chunk < p->nthreads ? (int)(n / chunk) : p->nthreads;
        if (first == d || nt < 1 ||
            !chain_memory_apart(p, first, d, (size_t)nt * (size_t)chunk, n, esize))
            continue;
        for (int k = first; k <= d; k++) {
            ein_step *s = &p->steps[k];
            s->chain = k == first ? d - first + 1 : 0;
            s->chained = k > first;
            s->tile_threads = nt;
            s->tile_flat = true;
            s->tile_loop = 0;
            s->tile_unit = 1;
            s->tile_rows = chunk;
            s->tile_ext = n;
            s->tile_label[0] = '\0';
        }
    }
}

/* Find the chains: the longest run of linked steps from each step whose
 * last step's free labels, outermost first, one tiles; else shorter. */
static void plan_chains(ein_plan *p, const ein_bound *b, size_t esize, int64_t limit)
{
    /* EIN_TILE=0: no chains (for comparisons); EIN_TILE=N: tiles of N
     * elements (tests take tiny ones, so small shapes make chains). */
    int64_t elems = EIN_TILE_ELEMS;
    const char *env = getenv("EIN_TILE");
    if (env && *env) {
        char *end;
        long long v = strtoll(env, &end, 10);
        if (*end == '\0' && v == 0)
            return;
        if (*end == '\0' && v > 0 && v <= (1LL << 30))
            elems = v;
    }
    for (int i = 0; i + 1 < p->nsteps;) {
        int j = i;
        while (j + 1 < p->nsteps && links(p, j))
            j++;
        bool done = false;
        for (int last = j; last > i && !done; last--) {
            const ein_step *t = &p->steps[last];
            /* A free label, or the outermost summed one on one thread
             * or below EIN_SUMMED_CHAIN_BYTES (two threads split the
             * untiled steps, which was faster above it). */
            double bytes = 0;
            for (int k = i; k <= last; k++)
                bytes += p->steps[k].bytes;
            bool one = p->nthreads == 1 || bytes <= EIN_SUMMED_CHAIN_BYTES;
            int upto = t->nfree + (one && t->nloops > t->nfree);
            for (int x = 0; x < upto && !done; x++)
                for (int l = 0; l < b->nlabels && !done; l++) {
                    char nb[16];
                    if (walks_label(t->loops[x].name, ein_label_name(l, nb)))
                        done = tile_chain(p, b, i, last, l, x >= t->nfree, esize,
                                          elems, limit);
                }
            if (done)
                j = last;
        }
        i = done ? j + 1 : i + 1;
    }
    plan_dot_chains(p, esize);
}

ein_status ein_lower(const ein_bound *b, ein_plan *p, const ein_options *opt,
                     bool force_generic)
{
    int nops = b->nops;
    size_t esize = ein_dtype_size(b->dtype);
    bool empty_sum = false;
    for (int l = 0; l < b->nlabels; l++)
        empty_sum |= b->live[l] && b->extent[l] == 0;

    int maxsteps = 2 * nops + 1;
    ein_pathstep *path = ein_malloc((size_t)maxsteps * sizeof *path);
    slotinfo *info = ein_malloc((size_t)(nops + maxsteps + 1) * sizeof *info);
    p->steps = ein_calloc((size_t)maxsteps, sizeof *p->steps);
    p->slots = ein_calloc((size_t)(nops + maxsteps + 1), sizeof *p->slots);
    if (!path || !info || !p->steps || !p->slots) {
        ein_free(path);
        ein_free(info);
        return ein_fail(EIN_ERR_NOMEM, "out of memory planning %d operands", nops);
    }

    size_t ws = 0;
    int nslots = nops;
    for (int k = 0; k < nops; k++) {
        for (int l = 0; l < b->nlabels; l++) {
            info[k].has[l] = b->live[l] && EIN_USES(b, k, l);
            info[k].stride[l] = EIN_STRIDE(b, k, l);
        }
        if (p->op_dtype[k] != b->dtype) {
            /* Its element count and bytes were checked by bind. */
            p->slots[k].in_workspace = true;
            p->slots[k].size = 1;
            for (int d = 0; d < p->op_ndim[k]; d++)
                p->slots[k].size *= p->op_shape[k * EIN_MAX_DIMS + d];
            if (!reserve(&ws, p->slots[k].size, esize, &p->slots[k].offset)) {
                ein_free(path);
                ein_free(info);
                return ein_fail(EIN_ERR_OVERFLOW, "the converted copy of operand %d "
                                "overflows the workspace's byte count", k);
            }
        }
    }

    if (empty_sum) {
        /* Some summed or free label has extent 0: the result is all zeros
         * (or empty, and then there is nothing to do). */
        p->nsteps = 0;
        if (p->out_size > 0) {
            ein_step *s = &p->steps[p->nsteps++];
            s->kind = EIN_K_ZERO;
            s->nin = 0;
            s->out = nops;
            s->flops = 0;
            s->bytes = (double)p->out_size * (double)esize;
        }
        p->nslots = nops + 1;
        p->workspace = 0;
        memset(&p->path, 0, sizeof p->path);
        for (int k = 0; k < nops; k++)
            p->slots[k].in_workspace = false;
        ein_free(path);
        ein_free(info);
        return EIN_OK;
    }

    size_t total = ws;
    int npath = 0;
    ein_status pst = ein_path_find(b, opt, ws, path, &npath, &p->path);
    if (pst != EIN_OK) {
        ein_free(path);
        ein_free(info);
        return pst;
    }
    int cur[EIN_MAX_OPERANDS];
    for (int k = 0; k < nops; k++)
        cur[k] = k;
    int out_slot = nops + npath - 1;   /* after every temporary */
    for (int i = 0; i < npath; i++) {
        const ein_pathstep *ps = &path[i];
        ein_step *s = &p->steps[i];
        bool last = i == npath - 1;
        s->nin = ps->b < 0 ? 1 : 2;
        s->in[0] = cur[ps->a];
        s->in[1] = ps->b < 0 ? -1 : cur[ps->b];
        int os = last ? out_slot : nslots++;
        s->out = os;
        slotinfo *oi = &info[os];
        if (last) {
            for (int l = 0; l < b->nlabels; l++) {
                oi->has[l] = ein_ls_has(ps->keep, l);
                oi->stride[l] = oi->has[l] ? EIN_STRIDE(b, nops, l) : 0;
            }
        } else {
            /* A temporary: C-contiguous in the order its consumer wants. */
            int64_t acc = 1;
            bool ok = true;
            int order[EIN_MAX_LABELS];
            int no = temp_order(b, path, npath, i, info, cur, order);
            for (int l = 0; l < b->nlabels; l++) {
                oi->has[l] = ein_ls_has(ps->keep, l);
                oi->stride[l] = 0;
            }
            for (int x = no - 1; x >= 0; x--) {
                oi->stride[order[x]] = acc;
                ok &= ein_mul_ok(acc, b->extent[order[x]], &acc);
            }
            p->slots[os].in_workspace = true;
            p->slots[os].size = acc;
            /* Counted here only to catch overflow: pack_workspace() gives
             * the real offsets, reusing blocks of dead temporaries. */
            if (!ok || !reserve(&total, acc, esize, &p->slots[os].offset)) {
                char lb[512], nb[16];
                size_t w = 0;
                lb[0] = '\0';
                for (int l = 0; l < b->nlabels && w < sizeof lb; l++)
                    if (ein_ls_has(ps->keep, l))
                        w += (size_t)snprintf(lb + w, sizeof lb - w, "%s%s (extent %lld)",
                                              w ? " x " : "", ein_label_name(l, nb),
                                              (long long)b->extent[l]);
                ein_free(path);
                ein_free(info);
                return ein_fail(EIN_ERR_OVERFLOW, "step %d's intermediate result over "
                                "%s has more elements or bytes than int64 counts", i, lb);
            }
        }

        const slotinfo *ins[2] = {&info[s->in[0]], s->nin == 2 ? &info[s->in[1]] : NULL};
        int n = 0;
        for (int pass = 0; pass < 2; pass++)      /* free loops, then sums */
            for (int l = 0; l < b->nlabels; l++) {
                bool used = ins[0]->has[l] || (ins[1] && ins[1]->has[l]);
                if (!used || (pass == 0) != ein_ls_has(ps->keep, l))
                    continue;
                ein_loop *L = &s->loops[n++];
                memset(L, 0, sizeof *L);
                L->extent = b->extent[l];
                for (int t = 0; t < s->nin; t++)
                    L->stride[t] = ins[t]->has[l] ? ins[t]->stride[l] : 0;
                L->stride[s->nin] = oi->stride[l];
                char nb[16];
                snprintf(L->name, sizeof L->name, "%s", ein_label_name(l, nb));
                if (pass == 0)
                    s->nfree = n;
            }
        s->nloops = n;
        step_expr(b, ins, s->nin, oi, s->pexpr, sizeof s->pexpr);
        s->pflops = ps->flops;
        s->psize = last ? 0 : ps->size;
        int64_t space = 1;
        for (int l = 0; l < n; l++)
            if (!ein_mul_ok(space, s->loops[l].extent, &space)) {
                char lb[512];
                ein_free(path);
                ein_free(info);
                return ein_fail(EIN_ERR_OVERFLOW, "step %d of the plan loops over "
                                "%s, whose product overflows int64", i,
                                fmt_loops(s->loops, n, lb, sizeof lb));
            }
        sort_loops(s->loops, n, s->nfree, s->nin);
        s->nloops = ein_fuse_loops(s->loops, n, s->nin + 1, &s->nfree);
        s->kind = EIN_K_GENERIC;
        step_cost(s, esize);
        if (s->nin == 2 && !force_generic)
            choose_dense(s);

        cur[ps->a] = os;
        if (ps->b >= 0)
            cur[ps->b] = -1;
    }
    p->nsteps = npath;
    p->nslots = out_slot + 1;
    p->workspace = pack_workspace(p, ws, esize);
    plan_chains(p, b, esize, opt ? opt->memory_limit : 0);
    ein_free(path);
    ein_free(info);

    /* The search kept each intermediate within the limit; the workspace
     * holds those alive at once (a step's inputs and its result, and any
     * converted operand copies), so it must fit too. */
    int64_t limit = opt ? opt->memory_limit : 0;
    size_t need = p->workspace;
    if (limit > 0 && need > (size_t)limit) {
        size_t temps = 0, conv = 0, big = 0;
        int nt = 0, bigstep = -1;
        for (int k = 0; k < p->nslots - 1; k++) {
            if (!p->slots[k].in_workspace)
                continue;
            size_t bytes = (size_t)p->slots[k].size * esize;
            if (k < nops) {
                conv += bytes;
                continue;
            }
            temps += bytes;
            nt++;
            if (bytes > big)
                big = bytes;
        }
        for (int i = 0; i < p->nsteps; i++)
            if (p->steps[i].out >= nops && p->steps[i].out < p->nslots - 1 &&
                (size_t)p->slots[p->steps[i].out].size * esize == big && bigstep < 0)
                bigstep = i;
        char conv_note[96] = "";
        if (conv)
            snprintf(conv_note, sizeof conv_note, "; operands converted to %s hold %zu "
                     "bytes", ein_dtype_name(b->dtype), conv);
        return ein_fail(EIN_ERR_LIMIT, "the plan needs %zu bytes of workspace but "
                        "memory_limit is %lld bytes: its %d intermediates hold %zu bytes "
                        "in all (the largest %zu bytes, step %d), and the workspace holds "
                        "those alive at once%s", need, (long long)limit,
                        nt, temps, big, bigstep, conv_note);
    }
    return EIN_OK;
}
