// aarch64 paths: baseline Advanced SIMD (Cortex-A53/A72 class) and the Armv8.2 dot product
// (sdot: Cortex-A55/A76 and later). The dot-product function carries its own target attribute
// and is only called when getauxval(AT_HWCAP) reports HWCAP_ASIMDDP (pc_kernels.c).
// No FMA contraction: every path rounds the float epilogue the same way (pc_internal.h).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__aarch64__)
#include "pc_internal.h"

#include <arm_neon.h>

#define PC_INLINE static inline __attribute__((always_inline))
#define PC_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

// Group g's term of the float epilogue on 4 columns (pc_internal.h): an explicit vfmaq (fused,
// like the x86 paths' FMA and the portable fmaf), never a contraction the compiler chose.
// acc: Σ x·w of 4 columns (signed x); cs: the 4 columns' colsum of this group, so that
// acc + 128·colsum = D_g = Σ (x + 128)·w.
PC_INLINE float32x4_t pc_neon_group_sum(int32x4_t acc, const int32_t *cs, const float *ps, float32x4_t s) {
    acc = vaddq_s32(acc, vshlq_n_s32(vld1q_s32(cs), 7));
    return vfmaq_f32(s, vcvtq_f32_s32(acc), vld1q_f32(ps));
}

// y = (s − zp·zsum) · xs (+ bias) for columns [c0, c1) of one row.
PC_INLINE void pc_neon_store(const float32x4_t *s, int32_t zp, const float *pz, float xs, const float *bias,
                             float *yr, int c0, int c1) {
    float tmp[PC_Q8_PANEL];
    float32x4_t vz = vdupq_n_f32((float)zp);
    for (int q = 0; q < 4; q++) vst1q_f32(tmp + 4 * q, vmulq_n_f32(vfmsq_f32(s[q], vz, vld1q_f32(pz + 4 * q)), xs));
    for (int c = c0; c < c1; c++) yr[c] = bias ? tmp[c] + bias[c] : tmp[c];
}

// ---- Baseline NEON: smull / smlal / sadalp -------------------------------------------------------
//
// The 16-byte vector of one k4 block for columns 4q..4q+3 is multiplied by the row's four bytes
// repeated four times. smull gives int16 products (|x·w| <= 128·127 = 16256); smlal adds the
// products of a second k4 block into the same lanes (<= 32512 < 32767, exact because |x| <= 128
// and |w| <= 127); sadalp then
// adds adjacent int16 pairs into int32 accumulators. Lane layout of acc[r][2q + h]: columns
// 4q + 2h and 4q + 2h + 1, two partial sums each; a final pairwise add gives one lane per column.

#define PC_NEON_STEP2(MR, pwa, pwb, xa, xb)                                                   \
    do {                                                                                      \
        for (int q = 0; q < 4; q++) {                                                         \
            int8x16_t wa = vld1q_s8((pwa) + 16 * q), wb = vld1q_s8((pwb) + 16 * q);           \
            for (int r = 0; r < (MR); r++) {                                                  \
                int16x8_t lo = vmull_s8(vget_low_s8(wa), vget_low_s8(xa[r]));                 \
                lo = vmlal_s8(lo, vget_low_s8(wb), vget_low_s8(xb[r]));                       \
                int16x8_t hi = vmull_high_s8(wa, xa[r]);                                      \
                hi = vmlal_high_s8(hi, wb, xb[r]);                                            \
                acc[r][2 * q] = vpadalq_s16(acc[r][2 * q], lo);                               \
                acc[r][2 * q + 1] = vpadalq_s16(acc[r][2 * q + 1], hi);                       \
            }                                                                                 \
        }                                                                                     \
    } while (0)

PC_INLINE void pc_neon_tile_mr(const int MR, const int8_t *xq, const float *xscale, const int32_t *xzero,
                               const void *packed, const pc_q8_shape *s, const float *bias, float *y,
                               int64_t ldy, int64_t i0, int64_t p, int c0, int c1) {
    const int8_t *pw = pc_panel_w(packed, s, p);
    const float *ps = pc_panel_scale(packed, s, p);
    const int32_t *pcs = pc_panel_colsum(packed, s, p);
    const int8_t *xr[2];
    for (int r = 0; r < MR; r++) xr[r] = xq + (i0 + r) * s->k;
    float32x4_t sum[2][4];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < 4; q++) sum[r][q] = vdupq_n_f32(0);
    for (int64_t g = 0; g < s->groups; g++) {
        int32x4_t acc[2][8];
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < 8; j++) acc[r][j] = vdupq_n_s32(0);
        int64_t b0 = g * s->blocks, b1 = b0 + s->blocks;
        int8x16_t xa[2], xb[2];
        int64_t kb = b0;
        for (; kb + 2 <= b1; kb += 2) {
            for (int r = 0; r < MR; r++) {
                xa[r] = vreinterpretq_s8_s32(vdupq_n_s32(pc_load_x4(xr[r], kb, s->k)));
                xb[r] = vreinterpretq_s8_s32(vdupq_n_s32(pc_load_x4(xr[r], kb + 1, s->k)));
            }
            PC_NEON_STEP2(MR, pw + kb * 64, pw + (kb + 1) * 64, xa, xb);
        }
        if (kb < b1) {  // an odd block count: pair the last block with zero activations
            for (int r = 0; r < MR; r++) {
                xa[r] = vreinterpretq_s8_s32(vdupq_n_s32(pc_load_x4(xr[r], kb, s->k)));
                xb[r] = vdupq_n_s8(0);
            }
            PC_NEON_STEP2(MR, pw + kb * 64, pw + kb * 64, xa, xb);
        }
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < 4; q++) {
                int32x4_t cols = vpaddq_s32(acc[r][2 * q], acc[r][2 * q + 1]);
                sum[r][q] = pc_neon_group_sum(cols, pcs + g * PC_Q8_PANEL + 4 * q, ps + g * PC_Q8_PANEL + 4 * q,
                                              sum[r][q]);
            }
    }
    const float *bp = bias ? bias + p * PC_Q8_PANEL : 0;
    const float *pz = pc_panel_zsum(packed, s, p);
    for (int r = 0; r < MR; r++)
        pc_neon_store(sum[r], xzero[i0 + r], pz, xscale[i0 + r], bp, y + (i0 + r) * ldy + p * PC_Q8_PANEL, c0, c1);
}

void pc_tile_neon(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                  const pc_q8_shape *s, const float *bias, float *y, int64_t ldy, int64_t i0, int64_t mr,
                  int64_t p, int c0, int c1) {
    if (mr == 2) {
        pc_neon_tile_mr(2, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1);
    } else {
        for (int64_t i = i0; i < i0 + mr; i++)
            pc_neon_tile_mr(1, xq, xscale, xzero, packed, s, bias, y, ldy, i, p, c0, c1);
    }
}

// ---- Armv8.2 dot product: sdot ---------------------------------------------------------------------
//
// sdot adds four int8·int8 products into each int32 lane: lane c of vdotq_s32(acc, w, x) gains
// Σ_t w[4c + t]·x[4c + t]. With the row's four bytes repeated in x, each lane is one column.
// 4 rows × 16 columns = 16 accumulators, 4 weight and 4 activation registers of 32. Signed
// products of x in [-128, 127] and w in [-127, 127]: no offset trick needed, lanes are int32.

PC_INLINE PC_DOTPROD void pc_dot_tile_mr(const int MR, const int8_t *xq, const float *xscale,
                                         const int32_t *xzero, const void *packed, const pc_q8_shape *s,
                                         const float *bias, float *y, int64_t ldy, int64_t i0, int64_t p,
                                         int c0, int c1) {
    const int8_t *pw = pc_panel_w(packed, s, p);
    const float *ps = pc_panel_scale(packed, s, p);
    const int32_t *pcs = pc_panel_colsum(packed, s, p);
    const int8_t *xr[4];
    for (int r = 0; r < MR; r++) xr[r] = xq + (i0 + r) * s->k;
    float32x4_t sum[4][4];
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < 4; q++) sum[r][q] = vdupq_n_f32(0);
    const int64_t full = s->k / 4;
    for (int64_t g = 0; g < s->groups; g++) {
        int32x4_t acc[4][4];
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < 4; q++) acc[r][q] = vdupq_n_s32(0);
        int64_t b0 = g * s->blocks, b1 = b0 + s->blocks;
        for (int64_t kb = b0; kb < b1; kb++) {
            int8x16_t w[4];
            for (int q = 0; q < 4; q++) w[q] = vld1q_s8(pw + kb * 64 + 16 * q);
            for (int r = 0; r < MR; r++) {
                int32_t x4;
                if (kb < full) memcpy(&x4, xr[r] + kb * 4, 4);
                else x4 = pc_load_x4(xr[r], kb, s->k);
                int8x16_t xb = vreinterpretq_s8_s32(vdupq_n_s32(x4));
                for (int q = 0; q < 4; q++) acc[r][q] = vdotq_s32(acc[r][q], w[q], xb);
            }
        }
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < 4; q++)
                sum[r][q] = pc_neon_group_sum(acc[r][q], pcs + g * PC_Q8_PANEL + 4 * q, ps + g * PC_Q8_PANEL + 4 * q,
                                              sum[r][q]);
    }
    const float *bp = bias ? bias + p * PC_Q8_PANEL : 0;
    const float *pz = pc_panel_zsum(packed, s, p);
    for (int r = 0; r < MR; r++)
        pc_neon_store(sum[r], xzero[i0 + r], pz, xscale[i0 + r], bp, y + (i0 + r) * ldy + p * PC_Q8_PANEL, c0, c1);
}

PC_DOTPROD void pc_tile_dotprod(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                                const pc_q8_shape *s, const float *bias, float *y, int64_t ldy, int64_t i0,
                                int64_t mr, int64_t p, int c0, int c1) {
    switch (mr) {
    case 4: pc_dot_tile_mr(4, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 3: pc_dot_tile_mr(3, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 2: pc_dot_tile_mr(2, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    default:
        for (int64_t i = i0; i < i0 + mr; i++) pc_dot_tile_mr(1, xq, xscale, xzero, packed, s, bias, y, ldy, i, p, c0, c1);
    }
}

#endif
