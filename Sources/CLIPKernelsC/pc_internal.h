// Shared between the dispatch/portable file and the per-ISA files; not part of the public API.
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#include "pc_kernels.h"
#include <math.h>
#include <string.h>

// ---- The packed weight layout (one layout for every ISA path) -----------------------------------
//
// W [N, K] is cut into panels of PC_Q8_PANEL (16) columns; the last panel is padded with zero
// columns. K is padded with zeros to Kp = roundup(K, 4). Panel p, at byte p · panel_stride:
//
//     int8    w[Kp / 4][16][4]     w[kb][c][t] = W[16p + c, 4kb + t]      (Kp · 16 bytes)
//     float   scale[groups][16]    wscale[16p + c, g]   (0 for padding columns)
//     int32   colsum[groups][16]   Σ_{t in group g} W[16p + c, t]  (the signed paths' +128 term)
//     float   zsum[16]             Σ_g colsum_g · scale_g, fused in order g = 0, 1, ... (the zero-point term)
//     padding to a multiple of 64 bytes
//
// Four consecutive k of one column are adjacent because every fast instruction used here sums
// four (vpdpbusd, sdot) or two-then-two (vpmaddubsw + vpmaddwd, smull + sadalp) neighbouring
// products into one 32-bit lane: one 16-column block of 4 k is 64 bytes, two AVX2 registers or
// four NEON registers, loaded once and used for every row of the micro-kernel.

typedef struct {
    int64_t n, k, group;
    int64_t kp;            // k rounded up to 4
    int64_t groups;        // k / group
    int64_t blocks;        // k4 blocks per group: group / 4, or kp / 4 when there is one group
    int64_t panel_stride;  // bytes per panel
} pc_q8_shape;

// Fills `s`; returns 0, or -1 when the shape is unsupported.
int pc_q8_shape_of(int64_t n, int64_t k, int64_t group, pc_q8_shape *s);

static inline const int8_t *pc_panel_w(const void *packed, const pc_q8_shape *s, int64_t p) {
    return (const int8_t *)packed + p * s->panel_stride;
}
static inline const float *pc_panel_scale(const void *packed, const pc_q8_shape *s, int64_t p) {
    return (const float *)(pc_panel_w(packed, s, p) + s->kp * PC_Q8_PANEL);
}
static inline const int32_t *pc_panel_colsum(const void *packed, const pc_q8_shape *s, int64_t p) {
    return (const int32_t *)(pc_panel_scale(packed, s, p) + s->groups * PC_Q8_PANEL);
}
static inline const float *pc_panel_zsum(const void *packed, const pc_q8_shape *s, int64_t p) {
    return (const float *)(pc_panel_colsum(packed, s, p) + s->groups * PC_Q8_PANEL);
}

// Four bytes of row x at k4 block kb as one int32; the last block of a row whose K is not a
// multiple of 4 is completed with zeros (never reads past the row).
static inline int32_t pc_load_x4(const int8_t *x, int64_t kb, int64_t k) {
    int32_t v = 0;
    int64_t off = kb * 4;
    memcpy(&v, x + off, (size_t)(k - off >= 4 ? 4 : k - off));
    return v;
}

// ---- Asymmetric activation quantization, the scalar steps (pc_quantize_rows_f32_q8) -----------
//
// Every quantizer (portable, AVX2, AVX-512) computes a row's lo and hi its own way (min and max
// are exact, so the order does not matter), then these steps; the SIMD loops repeat pc_asym_q on
// lanes with the same IEEE division and round-half-away, so the bytes agree.

// The scale of a row whose extremes are lo <= 0 <= hi.
static inline float pc_asym_scale(float lo, float hi) { return (hi - lo) / 255.0f; }

// The zero point for scale > 0: −lo / scale is in [0, 255] up to rounding; clamp the rest.
static inline int32_t pc_asym_zero(float lo, float scale) {
    float z = roundf(-lo / scale);
    return z > 255.0f ? 255 : z > 0.0f ? (int32_t)z : 0;
}

// One value (scale > 0), stored shifted: clamp(round_half_away(x / scale) + zp, 0, 255) − 128.
// The comparisons clamp before converting, so NaN (not a valid input) cannot reach an undefined
// float-to-int conversion.
static inline int8_t pc_asym_q(float x, float scale, float zp) {
    float v = roundf(x / scale) + zp;
    if (!(v >= 0.0f)) v = 0.0f;
    if (v > 255.0f) v = 255.0f;
    return (int8_t)((int32_t)v - 128);
}

// The epilogue every path performs. Per group, the exact int32 sum of the UNSIGNED activations
//     D_g = Σ_{t in g} (x' + 128)·w          (x' + 128 = q in 0...255; |D_g| <= 255·127·K < 2^31)
// (the VNNI paths get it from vpdpbusd directly; the signed paths add 128·colsum_g to Σ x'·w).
// Then in float, in this order, each step one rounding (fmaf = fused multiply-add):
//     s = +0;  s = fmaf(fl(D_g), ws_g, s) for g = 0, 1, ...;  v = fmaf(−zp, zsum, s);  y = v · xs;  y = y + bias
// The zero-point term Σ_g zp·colsum_g·ws_g is folded into one float per column (zsum, at pack
// time) and subtracted once, so a group costs a convert and an FMA per accumulator, nothing per
// row: groups of 64 along K are then nearly as fast as one scale per row. The subtraction cancels
// (s holds zp·zsum plus the result), which costs ~2^-24 · 255·127·K / |Σ (x' + 128 − zp)·w|
// relative: ~1e-5 for CLIP's K, three orders below the int8 rounding itself.
// Explicit fused operations (never contraction) keep the paths bit-identical (pc_gemm_q8 in pc_kernels.h).

// One panel-row tile: rows [i0, i0 + mr) (mr <= 16 rows), columns [c0, c1) of panel p (0 <= c0 <
// c1 <= 16). Each ISA file provides one; pc_gemm_q8 walks the tiles.
typedef void (*pc_tile_fn)(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                           const pc_q8_shape *s, const float *bias, float *y, int64_t ldy,
                           int64_t i0, int64_t mr, int64_t p, int c0, int c1);

// Rows per tile each path prefers (the micro-kernel height); the driver passes mr <= this.
void pc_tile_portable(const int8_t *, const float *, const int32_t *, const void *, const pc_q8_shape *,
                      const float *, float *, int64_t, int64_t, int64_t, int64_t, int, int);
#define PC_MR_PORTABLE 4

#if defined(__x86_64__) || defined(__i386__)
void pc_tile_avx2(const int8_t *, const float *, const int32_t *, const void *, const pc_q8_shape *,
                  const float *, float *, int64_t, int64_t, int64_t, int64_t, int, int);
void pc_tile_avxvnni(const int8_t *, const float *, const int32_t *, const void *, const pc_q8_shape *,
                     const float *, float *, int64_t, int64_t, int64_t, int64_t, int, int);
void pc_quantize_rows_avx2(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale, int32_t *xzero);
void pc_quantize_rows_avx512(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale, int32_t *xzero);
#define PC_MR_AVX2 4

#include <immintrin.h>
#define PC_FMA __attribute__((target("avx2,fma")))

// e^x on 8 lanes (AVX2 + FMA), shared by the activations and the attention softmax. Accuracy:
// ~2 ulp relative (pc_activation.c).
// e^x for x in [-87.3, 88] (clamped outside: callers only need saturation there).
static inline __attribute__((always_inline)) PC_FMA __m256 pc_exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 = 0.693359375 − 2.12194e-4
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(e, _mm256_castsi256_ps(bits));  // · 2^n, n in [-126, 127]
}

#define PC_MR_AVXVNNI 6
// The AVX-512 path drives its own tiles (two panels at a time): rows [0, m), columns [n0, n1).
int pc_gemm_avx512vnni(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed, const pc_q8_shape *s,
                       const float *bias, float *y, int64_t ldy, int64_t m, int64_t n0, int64_t n1);
#endif

#if defined(__aarch64__)
void pc_tile_neon(const int8_t *, const float *, const int32_t *, const void *, const pc_q8_shape *,
                  const float *, float *, int64_t, int64_t, int64_t, int64_t, int, int);
void pc_tile_dotprod(const int8_t *, const float *, const int32_t *, const void *, const pc_q8_shape *,
                     const float *, float *, int64_t, int64_t, int64_t, int64_t, int, int);
#define PC_MR_NEON 2
#define PC_MR_DOTPROD 4
#endif

#endif
