/* ktable.c — picks the dense kernel table once per process from cpuid
 * (EIN_ARCH=avx512|avx2|generic overrides it) and reads the cache sizes
 * that the GEMM framework derives its blocking from. */
#define _GNU_SOURCE 1   /* sysconf(_SC_LEVEL1_DCACHE_SIZE) */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/frame.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define EIN_X86 1
#else
#define EIN_X86 0
#endif

/* ---- instruction sets ------------------------------------------------ */

enum { ISA_AVX2 = 1, ISA_AVX512 = 2 };

#if EIN_X86
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

/* Which ISA tables can run: the CPU must have the instructions and the OS
 * must save the ymm (and for AVX-512 the zmm and mask) state on context
 * switch, which only xgetbv tells. */
static int detect_isa(void)
{
    int isa = 0;
#if EIN_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx || !fma)
        return 0;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6)               /* xmm and ymm state */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if ((b >> 5) & 1)                       /* avx2 */
        isa |= ISA_AVX2;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1,
        vl = (b >> 31) & 1;
    if ((isa & ISA_AVX2) && f && dq && bw && vl && (xcr0 & 0xe6) == 0xe6)
        isa |= ISA_AVX512;                  /* opmask, zmm hi256, hi16 zmm */
#endif
    return isa;
}

/* ---- cache sizes ----------------------------------------------------- */

static ein_cache_info g_cache;
static int g_isa;
static int64_t g_ov_kc, g_ov_mc, g_ov_nc;   /* tuning overrides, elements */
static const ein_ktable *g_default;

/* cpuid leaf 4 (Intel) or 0x8000001d (AMD): deterministic cache
 * parameters, one subleaf per cache. */
static void caches_from_cpuid(ein_cache_info *ci)
{
#if EIN_X86
    unsigned a, b, c, d;
    unsigned leaf = 4;
    if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u)   /* "Auth" */
        leaf = 0x8000001du;
    unsigned maxl = leaf >= 0x80000000u ? __get_cpuid_max(0x80000000u, NULL)
                                        : __get_cpuid_max(0, NULL);
    if (maxl < leaf)
        return;
    for (unsigned sub = 0; sub < 16; sub++) {
        __cpuid_count(leaf, sub, a, b, c, d);
        unsigned type = a & 0x1f, level = (a >> 5) & 7;
        if (type == 0)
            break;
        if (type == 2)                       /* instruction cache */
            continue;
        size_t size = (size_t)(((b >> 22) & 0x3ff) + 1) *
                      (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) *
                      ((size_t)c + 1);
        if (level == 1) ci->l1d = size;
        else if (level == 2) ci->l2 = size;
        else if (level == 3) ci->l3 = size;
    }
#else
    (void)ci;
#endif
}

static void caches_detect(ein_cache_info *ci)
{
    caches_from_cpuid(ci);
    long v;
    if (!ci->l1d && (v = sysconf(_SC_LEVEL1_DCACHE_SIZE)) > 0) ci->l1d = (size_t)v;
    if (!ci->l2 && (v = sysconf(_SC_LEVEL2_CACHE_SIZE)) > 0) ci->l2 = (size_t)v;
    if (!ci->l3 && (v = sysconf(_SC_LEVEL3_CACHE_SIZE)) > 0) ci->l3 = (size_t)v;
    /* Sane bounds: a hypervisor may report nonsense or nothing. */
    if (ci->l1d < 16384 || ci->l1d > 262144) ci->l1d = 32768;
    if (ci->l2 < 131072 || ci->l2 > (64u << 20)) ci->l2 = 1u << 20;
    if (ci->l3 < ci->l2) ci->l3 = ci->l2;
    v = sysconf(_SC_NPROCESSORS_ONLN);
    ci->ncpu = v > 0 ? (int)(v > 256 ? 256 : v) : 1;
}

/* ---- tables ---------------------------------------------------------- */

static const ein_ktable *table_if_supported(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "generic") == 0)
        return &ein_ktable_generic_tab;
#if EIN_X86
    if (strcmp(name, "avx2") == 0 && (g_isa & ISA_AVX2))
        return &ein_ktable_avx2_tab;
    if (strcmp(name, "avx512") == 0 && (g_isa & ISA_AVX512))
        return &ein_ktable_avx512_tab;
#endif
    return NULL;
}

static int64_t env_i64(const char *name)
{
    const char *s = getenv(name);
    return s ? strtoll(s, NULL, 10) : 0;
}

static void init_once(void)
{
    g_isa = detect_isa();
    caches_detect(&g_cache);
    g_ov_kc = env_i64("EIN_KC");
    g_ov_mc = env_i64("EIN_MC");
    g_ov_nc = env_i64("EIN_NC");
    int64_t sb = env_i64("EIN_STREAM_BYTES");
    g_cache.stream_bytes = sb > 0 ? (double)sb : (double)g_cache.l3;
    const ein_ktable *t = table_if_supported(getenv("EIN_ARCH"));
    if (!t)
        t = table_if_supported("avx512");
    if (!t)
        t = table_if_supported("avx2");
    if (!t)
        t = &ein_ktable_generic_tab;
    g_default = t;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

const ein_ktable *ein_ktable_default(void)
{
    pthread_once(&g_once, init_once);
    return g_default;
}

const ein_ktable *ein_ktable_named(const char *name)
{
    pthread_once(&g_once, init_once);
    return table_if_supported(name);
}

const ein_cache_info *ein_cache_info_get(void)
{
    pthread_once(&g_once, init_once);
    return &g_cache;
}

/* ---- blocking -------------------------------------------------------- */

/* The packed A block's share of L3, at most, whatever L3 the CPU
 * reports (a VM's cpuid may report the whole socket's).  Measured on AMD
 * Zen 5 (2 vCPUs, cpuid L3 532 MB), one thread, 4096^3, the block's rows
 * swept in one process, alternating with OpenBLAS: 700-1400 rows (1.1-2.4
 * MB) took 4-7% less time than 4844 (8 MB, the cap until 2026-11-28), f32
 * and f64 alike, and 2048^3 f32 7-10% less; 448 rows gave back 1-2% of
 * that to packing B more often. */
#define EIN_L3_SHARE ((size_t)2 << 20)

/* BLIS's reasoning, for a kernel that broadcasts A and loads B as vectors:
 * the A micro-panel (mr x kc) stays in L1 while B micro-panels stream from
 * the packed B block (kc x nc), which must stay in L2; the packed A block
 * (mc x kc) lives in L3.  Half of each cache is left to the other stream
 * and to C.  EIN_KC / EIN_MC / EIN_NC override, for tuning only. */
ein_blocking ein_blocking_for(int mr, int nr, size_t elsize, int64_t m,
                              int64_t n, int64_t k)
{
    const ein_cache_info *ci = ein_cache_info_get();
    int64_t ov_kc = g_ov_kc, ov_mc = g_ov_mc, ov_nc = g_ov_nc;
    ein_blocking bl;
    int64_t kc = (int64_t)(ci->l1d / 2 / ((size_t)mr * elsize));
    kc = kc / 8 * 8;
    if (kc < 64) kc = 64;
    if (kc > 512) kc = 512;
    if (ov_kc > 0) kc = ov_kc;
    /* Equal depth blocks: k = 440 as 432 + 8 would spend a whole pass of
     * C updates (and an A and B packing) on 8 steps. */
    if (k > kc) {
        int64_t nb = (k + kc - 1) / kc, even = (k + nb - 1) / nb;
        even = (even + 3) / 4 * 4;
        if (even < kc)
            kc = even;
    }

    int64_t nc = (int64_t)(ci->l2 / 2 / ((size_t)kc * elsize));
    if (ov_nc > 0) nc = ov_nc;
    nc = nc / nr * nr;
    if (nc < nr) nc = nr;
    if (nc > 8192) nc = 8192 / nr * nr;

    size_t l3share = ci->l3 / 4;
    if (l3share > EIN_L3_SHARE) l3share = EIN_L3_SHARE;
    int64_t mc = (int64_t)(l3share / ((size_t)kc * elsize));
    if (ov_mc > 0) mc = ov_mc;
    mc = mc / mr * mr;
    if (mc < mr) mc = mr;
    if (mc > 8192) mc = 8192 / mr * mr;

    bl.kc = kc; bl.nc = nc; bl.mc = mc;
    /* Between two visits to a tile of C (one per depth block) all of C
     * is touched; past L2 the tile comes back from L3 or memory, later
     * than the micro-kernel's fetch PF_C steps before its end can hide.
     * So it is fetched to L2 as the kernel starts: f64 2048^3 3% less
     * time, f32 4096^3 0.5-1.5%; with C in L2 (f64 256^3) not worth the
     * 28 prefetches. */
    bl.fetch_c = (double)m * (double)n * (double)elsize > (double)ci->l2
                     ? EIN_UKR_FETCH_C : 0;
    /* With the packed A and B blocks in L2 together the next A panel is
     * there already (fetching it anyway read 1.4% slower, f32 512^3, one
     * paired run); past L2 it comes from L3, later than the micro-kernel
     * wants it, unless the tile before fetches it (gemm_frame_t.h's
     * fetch_a). */
    int64_t mu = m < mc ? m : mc, nu = n < nc ? n : nc, ku = k < kc ? k : kc;
    bl.fetch_a = (double)(mu + nu) * (double)ku * (double)elsize > (double)ci->l2
                     ? EIN_UKR_FETCH_A : 0;
    return bl;
}

const char *ein_gk_name(int kind)
{
    switch (kind) {
    case EIN_GK_EMPTY:           return "nothing to write";
    case EIN_GK_ZERO:            return "zeros (empty sum)";
    case EIN_GK_COPY:            return "copy";
    case EIN_GK_ROWS:            return "row sums";
    case EIN_GK_COLUMNS:         return "column sums";
    case EIN_GK_PRODUCT:         return "elementwise product";
    case EIN_GK_PRODUCT_COLUMNS: return "column sums of products";
    }
    return "loop nest";
}
