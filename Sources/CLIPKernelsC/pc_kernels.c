// Dispatch, packing, the portable paths and the GEMM driver of pc_kernels.h.
//
// The hot loop of the whole runtime is the tile function (one per ISA): by far most of an int8
// ViT-B/32 forward pass is spent there (8.82 GOP of matmuls, ~9 ms at ~1000 GOP/s on AVX-512
// VNNI with hot weights, against ~4 ms of everything else at one thread). The portable path
// below is also the readable definition of what the fast paths compute;
// Sources/CLIPKernels/Int8Reference.swift is the independent one.
// No FMA contraction: every path rounds the float epilogue the same way (pc_internal.h).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "pc_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

// ---- Run-time dispatch --------------------------------------------------------------------------

static int pc_cpu_has(int isa) {
    switch (isa) {
    case PC_ISA_PORTABLE: return 1;
#if defined(__x86_64__) || defined(__i386__)
    // The tiles' epilogue uses FMA (pc_internal.h); every AVX2 CPU made has it, but ask anyway.
    case PC_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PC_ISA_AVX_VNNI:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avxvnni");
    case PC_ISA_AVX512_VNNI:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vnni");
#endif
#if defined(__aarch64__)
    case PC_ISA_NEON: return 1;  // Advanced SIMD is part of the aarch64 baseline
#if defined(__linux__)
    case PC_ISA_NEON_DOTPROD: return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
#endif
    default: return 0;
    }
}

static int pc_best_isa(void) {
    static const int order[] = {PC_ISA_AVX512_VNNI, PC_ISA_AVX_VNNI, PC_ISA_AVX2, PC_ISA_NEON_DOTPROD, PC_ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (pc_cpu_has(order[i])) return order[i];
    return PC_ISA_PORTABLE;
}

static const char *const pc_isa_names[] = {"portable", "avx2", "avxvnni", "neon", "dotprod", "avx512vnni"};

// Each path's rung on its family's ladder (x86-64: avx2 < avxvnni < avx512vnni; aarch64: neon <
// dotprod): POCKETCLIP_ISA caps the dispatch at a rung, so forcing a path means the same thing on
// every CPU of a family (an AVX-512 machine without AVX-VNNI capped at "avxvnni" runs AVX2).
static const int pc_isa_rank[] = {0, 1, 2, 1, 2, 3};
static int pc_isa_is_arm(int isa) { return isa == PC_ISA_NEON || isa == PC_ISA_NEON_DOTPROD; }

// The best path at or below `cap` that this CPU runs; a cap of the other family leaves the
// choice alone (it names no rung of this CPU's ladder).
static int pc_best_isa_capped(int cap) {
    int best = pc_best_isa();
    if (best == PC_ISA_PORTABLE) return best;
    if (cap != PC_ISA_PORTABLE && pc_isa_is_arm(cap) != pc_isa_is_arm(best)) return best;
    int pick = PC_ISA_PORTABLE;
    for (int i = 0; i < PC_ISA_COUNT; i++)
        if (pc_isa_is_arm(i) == pc_isa_is_arm(best) && pc_isa_rank[i] <= pc_isa_rank[cap] &&
            pc_isa_rank[i] > pc_isa_rank[pick] && pc_cpu_has(i))
            pick = i;
    return pick;
}

const char *pc_kernels_isa_name(int isa) {
    return isa >= 0 && isa < PC_ISA_COUNT ? pc_isa_names[isa] : "unknown";
}

// -1 until the first call decides. Racing first calls compute the same answer, so a relaxed
// atomic is enough.
static int pc_isa_now = -1;

int pc_kernels_isa(void) {
    int isa = __atomic_load_n(&pc_isa_now, __ATOMIC_RELAXED);
    if (isa >= 0) return isa;
    isa = pc_best_isa();
    const char *cap = getenv("POCKETCLIP_ISA");
    if (cap) {
        for (int i = 0; i < PC_ISA_COUNT; i++)
            if (strcmp(cap, pc_isa_names[i]) == 0) isa = pc_best_isa_capped(i);
    }
    __atomic_store_n(&pc_isa_now, isa, __ATOMIC_RELAXED);
    return isa;
}

int pc_kernels_set_isa(int isa) {
    if (isa >= 0 && isa < PC_ISA_COUNT && pc_cpu_has(isa)) {
        __atomic_store_n(&pc_isa_now, isa, __ATOMIC_RELAXED);
        return isa;
    }
    return pc_kernels_isa();
}

// ---- Activation quantization --------------------------------------------------------------------

// The scalar definition (pc_kernels.h); Int8Reference.quantizeRows is the same in Swift.
static void pc_quantize_rows_portable(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale,
                                      int32_t *xzero) {
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k;
        int8_t *qr = xq + i * k;
        float lo = 0, hi = 0;
        for (int64_t t = 0; t < k; t++) {
            if (xr[t] < lo) lo = xr[t];
            if (xr[t] > hi) hi = xr[t];
        }
        float scale = pc_asym_scale(lo, hi);
        xscale[i] = scale;
        if (scale == 0) {  // an all-zero row: q + 128 − zp = 0 everywhere
            xzero[i] = 128;
            memset(qr, 0, (size_t)k);
            continue;
        }
        int32_t zp = pc_asym_zero(lo, scale);
        xzero[i] = zp;
        for (int64_t t = 0; t < k; t++) qr[t] = pc_asym_q(xr[t], scale, (float)zp);
    }
}

void pc_quantize_rows_f32_q8(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale, int32_t *xzero) {
    if (m <= 0 || k <= 0) return;
#if defined(__x86_64__) || defined(__i386__)
    int isa = pc_kernels_isa();
    if (isa == PC_ISA_AVX512_VNNI) { pc_quantize_rows_avx512(x, m, k, xq, xscale, xzero); return; }
    if (isa == PC_ISA_AVX2 || isa == PC_ISA_AVX_VNNI) { pc_quantize_rows_avx2(x, m, k, xq, xscale, xzero); return; }
#endif
    pc_quantize_rows_portable(x, m, k, xq, xscale, xzero);
}

// ---- Packing ------------------------------------------------------------------------------------

int pc_q8_shape_of(int64_t n, int64_t k, int64_t group, pc_q8_shape *s) {
    if (n < 1 || k < 1 || k > PC_Q8_MAX_K || group < 1 || k % group != 0) return -1;
    // Groups must start on a 4-byte block, unless there is only one.
    if (group != k && group % 4 != 0) return -1;
    if (n > (int64_t)1 << 40) return -1;
    s->n = n;
    s->k = k;
    s->group = group;
    s->kp = (k + 3) / 4 * 4;
    s->groups = k / group;
    s->blocks = s->groups == 1 ? s->kp / 4 : group / 4;
    int64_t bytes = s->kp * PC_Q8_PANEL + s->groups * PC_Q8_PANEL * 8 + PC_Q8_PANEL * 4;
    s->panel_stride = (bytes + 63) / 64 * 64;
    return 0;
}

size_t pc_q8_packed_size(int64_t n, int64_t k, int64_t group) {
    pc_q8_shape s;
    if (pc_q8_shape_of(n, k, group, &s) != 0) return 0;
    return (size_t)(((n + PC_Q8_PANEL - 1) / PC_Q8_PANEL) * s.panel_stride);
}

int pc_q8_pack(const int8_t *w, const float *wscale, int64_t n, int64_t k, int64_t group, void *dst) {
    pc_q8_shape s;
    if (pc_q8_shape_of(n, k, group, &s) != 0) return -1;
    int64_t panels = (n + PC_Q8_PANEL - 1) / PC_Q8_PANEL;
    memset(dst, 0, (size_t)(panels * s.panel_stride));
    for (int64_t p = 0; p < panels; p++) {
        int8_t *pw = (int8_t *)dst + p * s.panel_stride;
        float *ps = (float *)(pw + s.kp * PC_Q8_PANEL);
        int32_t *pcs = (int32_t *)(ps + s.groups * PC_Q8_PANEL);
        float *pz = (float *)(pcs + s.groups * PC_Q8_PANEL);
        for (int c = 0; c < PC_Q8_PANEL; c++) {
            int64_t j = p * PC_Q8_PANEL + c;
            if (j >= n) break;
            const int8_t *wr = w + j * k;
            for (int64_t t = 0; t < k; t++) {
                pw[(t / 4) * (PC_Q8_PANEL * 4) + c * 4 + t % 4] = wr[t];
                pcs[(t / group) * PC_Q8_PANEL + c] += wr[t];
            }
            // zsum: the zero-point term's per-column factor, in the order pc_internal.h fixes.
            float z = 0;
            for (int64_t g = 0; g < s.groups; g++) {
                ps[g * PC_Q8_PANEL + c] = wscale[j * s.groups + g];
                z = fmaf((float)pcs[g * PC_Q8_PANEL + c], wscale[j * s.groups + g], z);
            }
            pz[c] = z;
        }
    }
    return 0;
}

// ---- The portable tile --------------------------------------------------------------------------

void pc_tile_portable(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                      const pc_q8_shape *s, const float *bias, float *y, int64_t ldy, int64_t i0, int64_t mr,
                      int64_t p, int c0, int c1) {
    const int8_t *pw = pc_panel_w(packed, s, p);
    const float *ps = pc_panel_scale(packed, s, p);
    const int32_t *pcs = pc_panel_colsum(packed, s, p);
    const float *pz = pc_panel_zsum(packed, s, p);
    const int64_t full = s->k / 4;  // k4 blocks that lie wholly inside a row
    for (int64_t i = i0; i < i0 + mr; i++) {
        const int8_t *xr = xq + i * s->k;
        float sum[PC_Q8_PANEL] = {0};
        for (int64_t g = 0; g < s->groups; g++) {
            // 64 lanes, lane j = column j / 4, k offset j % 4: a flat elementwise multiply-add
            // that any compiler vectorizes for any baseline; the 4 lanes of a column are added
            // at the end of the group.
            int32_t lanes[PC_Q8_PANEL * 4] = {0};
            for (int64_t kb = g * s->blocks; kb < (g + 1) * s->blocks; kb++) {
                int32_t x4 = kb < full ? 0 : pc_load_x4(xr, kb, s->k);
                if (kb < full) memcpy(&x4, xr + kb * 4, 4);
                int32_t rep[PC_Q8_PANEL];  // the row's 4 bytes once per column: a broadcast
                for (int c = 0; c < PC_Q8_PANEL; c++) rep[c] = x4;
                int8_t xrep[PC_Q8_PANEL * 4];
                memcpy(xrep, rep, sizeof xrep);
                const int8_t *wb = pw + kb * (PC_Q8_PANEL * 4);
                for (int j = 0; j < PC_Q8_PANEL * 4; j++) lanes[j] += (int16_t)xrep[j] * (int16_t)wb[j];
            }
            // D_g = Σ x'·w + 128·colsum_g = Σ (x' + 128)·w (pc_internal.h), then one FMA.
            for (int c = 0; c < PC_Q8_PANEL; c++) {
                int32_t acc = lanes[4 * c] + lanes[4 * c + 1] + lanes[4 * c + 2] + lanes[4 * c + 3] +
                              128 * pcs[g * PC_Q8_PANEL + c];
                sum[c] = fmaf((float)acc, ps[g * PC_Q8_PANEL + c], sum[c]);
            }
        }
        float nzp = -(float)xzero[i], xs = xscale[i];
        float *yr = y + i * ldy + p * PC_Q8_PANEL;
        for (int c = c0; c < c1; c++) {
            float v = fmaf(nzp, pz[c], sum[c]) * xs;
            if (bias) v = v + bias[p * PC_Q8_PANEL + c];
            yr[c] = v;
        }
    }
}

// ---- The driver ---------------------------------------------------------------------------------

int pc_gemm_q8(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed_w,
               const float *bias, float *y, int64_t ldy, int64_t m, int64_t n, int64_t k, int64_t group,
               int64_t n0, int64_t n1) {
    pc_q8_shape s;
    if (pc_q8_shape_of(n, k, group, &s) != 0) return -1;
    if (m < 0 || ldy < n || n0 < 0 || n1 > n || n0 > n1) return -1;
    if (m == 0 || n0 == n1) return 0;

    pc_tile_fn tile = pc_tile_portable;
    int64_t mr = PC_MR_PORTABLE;
    switch (pc_kernels_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case PC_ISA_AVX2: tile = pc_tile_avx2; mr = PC_MR_AVX2; break;
    case PC_ISA_AVX_VNNI: tile = pc_tile_avxvnni; mr = PC_MR_AVXVNNI; break;
    case PC_ISA_AVX512_VNNI: return pc_gemm_avx512vnni(xq, xscale, xzero, packed_w, &s, bias, y, ldy, m, n0, n1);
#endif
#if defined(__aarch64__)
    case PC_ISA_NEON: tile = pc_tile_neon; mr = PC_MR_NEON; break;
    case PC_ISA_NEON_DOTPROD: tile = pc_tile_dotprod; mr = PC_MR_DOTPROD; break;
#endif
    default: break;
    }

    // Row blocks outside, then panels, then rows: one panel (K·16 bytes, 8-48 KiB for CLIP) stays
    // in L1/L2 while the rows of a block stream past it, and a block's int8 activations (mc·K
    // bytes) stay in L2 (~256 KiB of it) across all panels. Outputs are written once per panel
    // and never re-read, so they do not count: at batch 1 (M = 50) and for text (M ≤ 77) one
    // block holds every row and each weight panel is read from memory once; at batch 8 (M = 400,
    // K = 3072) blocks of 80 rows keep the activations cache-resident.
    int64_t mc = (256 * 1024) / k / mr * mr;
    if (mc < mr) mc = mr;
    for (int64_t ib = 0; ib < m; ib += mc) {
        int64_t ie = m - ib < mc ? m : ib + mc;
        for (int64_t p = n0 / PC_Q8_PANEL; p * PC_Q8_PANEL < n1; p++) {
            int64_t first = p * PC_Q8_PANEL;
            int c0 = (int)(n0 > first ? n0 - first : 0);
            int c1 = (int)(n1 < first + PC_Q8_PANEL ? n1 - first : PC_Q8_PANEL);
            for (int64_t i = ib; i < ie; i += mr) {
                int64_t rows = ie - i < mr ? ie - i : mr;
                tile(xq, xscale, xzero, packed_w, &s, bias, y, ldy, i, rows, p, c0, c1);
            }
        }
    }
    return 0;
}
