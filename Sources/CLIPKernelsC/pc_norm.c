// LayerNorm, and LayerNorm fused with the residual add before it (pc_kernels.h). ViT-B/32 runs 25
// of them over 50 rows of 768 per image; the Swift definition (`layerNorm` in FloatKernels.swift,
// Double accumulation one value at a time) took ~1.2 ms of a ~20 ms int8 forward pass.
//
// Numerics, identical on every path here: mean and variance in double, two passes, each sum kept
// in 8 lanes (lane j adds x[i] for i ≡ j mod 8, in increasing i) and the lanes added pairwise at
// the end; then y = (float)((x − mean) · invStd) · gamma + beta, the last two steps in float
// without FMA contraction. Only the order of the double sums differs from the Swift definition,
// so results agree with it to float rounding (Tests/CLIPKernelsTests bound it).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "pc_internal.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static double pc_lanes_total(const double l[8]) {
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// One row, plain C: the definition of what the vector path computes.
static void pc_layernorm_row_portable(const float *x, float *y, const float *gamma, const float *beta,
                                      int64_t dim, float eps) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < dim; i++) l[i % 8] += (double)x[i];
    const double mean = pc_lanes_total(l) / (double)dim;
    for (int j = 0; j < 8; j++) l[j] = 0;
    for (int64_t i = 0; i < dim; i++) {
        double d = (double)x[i] - mean;
        l[i % 8] += d * d;
    }
    const double inv_std = 1.0 / sqrt(pc_lanes_total(l) / (double)dim + (double)eps);
    for (int64_t i = 0; i < dim; i++) y[i] = (float)(((double)x[i] - mean) * inv_std) * gamma[i] + beta[i];
}

#if defined(__x86_64__) || defined(__i386__)
#define PC_AVX512F __attribute__((target("avx2,avx512f")))

// The same sums with the 8 lanes in one zmm of doubles; the tail (dim % 8 values) goes to its
// lanes one at a time, as in the portable loop. R rows at once (R constant): each row's sums are
// their own chain, in the same order as alone, so the values do not change, but R chains hide
// the add latency that one chain per pass waited on (77×512 text rows: 11.2 → 7.2 µs; 8 rows at
// once measured the same as 4).
__attribute__((target("avx2,avx512f"), always_inline))
static inline void pc_layernorm_rows_avx512(const int R, const float *x, float *y, const float *gamma,
                                            const float *beta, int64_t dim, float eps) {
    const int64_t body = dim / 8 * 8;
    __m512d acc[4];
    double mean[4], inv_std[4];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_pd();
    for (int64_t i = 0; i < body; i += 8)
        for (int r = 0; r < R; r++) acc[r] = _mm512_add_pd(acc[r], _mm512_cvtps_pd(_mm256_loadu_ps(x + r * dim + i)));
    for (int r = 0; r < R; r++) {
        double l[8];
        _mm512_storeu_pd(l, acc[r]);
        for (int64_t i = body; i < dim; i++) l[i % 8] += (double)x[r * dim + i];
        mean[r] = pc_lanes_total(l) / (double)dim;
        acc[r] = _mm512_setzero_pd();
    }
    for (int64_t i = 0; i < body; i += 8)
        for (int r = 0; r < R; r++) {
            __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + r * dim + i)), _mm512_set1_pd(mean[r]));
            acc[r] = _mm512_add_pd(acc[r], _mm512_mul_pd(d, d));
        }
    for (int r = 0; r < R; r++) {
        double l[8];
        _mm512_storeu_pd(l, acc[r]);
        for (int64_t i = body; i < dim; i++) {
            double d = (double)x[r * dim + i] - mean[r];
            l[i % 8] += d * d;
        }
        inv_std[r] = 1.0 / sqrt(pc_lanes_total(l) / (double)dim + (double)eps);
    }
    for (int r = 0; r < R; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        const __m512d vmean = _mm512_set1_pd(mean[r]), vinv = _mm512_set1_pd(inv_std[r]);
        for (int64_t i = 0; i < body; i += 8) {
            __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xr + i)), vmean);
            __m256 n = _mm512_cvtpd_ps(_mm512_mul_pd(d, vinv));
            _mm256_storeu_ps(yr + i, _mm256_add_ps(_mm256_mul_ps(n, _mm256_loadu_ps(gamma + i)), _mm256_loadu_ps(beta + i)));
        }
        for (int64_t i = body; i < dim; i++) yr[i] = (float)(((double)xr[i] - mean[r]) * inv_std[r]) * gamma[i] + beta[i];
    }
}

// Rows of x into y: four at a time, then one at a time.
static PC_AVX512F void pc_layernorm_avx512(const float *x, float *y, const float *gamma, const float *beta, int64_t rows,
                                           int64_t dim, float eps) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) pc_layernorm_rows_avx512(4, x + r * dim, y + r * dim, gamma, beta, dim, eps);
    for (; r < rows; r++) pc_layernorm_rows_avx512(1, x + r * dim, y + r * dim, gamma, beta, dim, eps);
}

static PC_AVX512F void pc_add_rows_avx512(float *x, const float *r, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(r + i)));
    for (; i < n; i++) x[i] = x[i] + r[i];
}

static int pc_norm_use_avx512(void) {
    return pc_kernels_isa() == PC_ISA_AVX512_VNNI;  // that path already required avx512f
}
#endif

void pc_layernorm_f32(const float *x, float *y, const float *gamma, const float *beta, int64_t rows,
                      int64_t dim, float eps) {
    if (rows <= 0 || dim <= 0) return;
#if defined(__x86_64__) || defined(__i386__)
    if (pc_norm_use_avx512()) {
        pc_layernorm_avx512(x, y, gamma, beta, rows, dim, eps);
        return;
    }
#endif
    for (int64_t r = 0; r < rows; r++) pc_layernorm_row_portable(x + r * dim, y + r * dim, gamma, beta, dim, eps);
}

void pc_add_layernorm_f32(float *x, const float *res, float *y, const float *gamma, const float *beta,
                          int64_t rows, int64_t dim, float eps) {
    if (rows <= 0 || dim <= 0) return;
#if defined(__x86_64__) || defined(__i386__)
    if (pc_norm_use_avx512()) {
        // Four rows at a time, still in L1 when they are normalized.
        for (int64_t r = 0; r < rows; r += 4) {
            int64_t n = rows - r < 4 ? rows - r : 4;
            pc_add_rows_avx512(x + r * dim, res + r * dim, n * dim);
            pc_layernorm_avx512(x + r * dim, y + r * dim, gamma, beta, n, dim, eps);
        }
        return;
    }
#endif
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * dim;
        const float *rr = res + r * dim;
        for (int64_t i = 0; i < dim; i++) xr[i] = xr[i] + rr[i];
        pc_layernorm_row_portable(xr, y + r * dim, gamma, beta, dim, eps);
    }
}
