// Float multi-head attention over one sequence (pc_kernels.h): the step of the int8 runtime
// that stays in float. Per head: K is transposed once into scratch so both products run along
// contiguous memory with one broadcast per step:
//     scores[i, j] = Σ_c q[i, c] · Kᵀ[c, j]      (8 j at a time)
//     out[i, c]    = Σ_j p[i, j] · v[j, c]        (8 c at a time)
// Softmax keeps libm's expf: ~T² calls per head (2500 at T = 50) cost far less than the products.
#include "pc_internal.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static int64_t pc_round8(int64_t t) { return (t + 7) / 8 * 8; }

size_t pc_attention_scratch_floats(int64_t tokens, int64_t dim, int64_t heads) {
    if (tokens < 1 || heads < 1 || dim < heads || dim % heads != 0) return 0;
    int64_t tp = pc_round8(tokens);
    return (size_t)((dim / heads) * tp + tp);
}

// softmax of s[0 ..< span] in place, the order of softmaxInPlace in FloatKernels.swift: max,
// then e = expf(s - max) summed left to right, then a multiply by 1 / sum.
static void pc_softmax_row(float *s, int64_t span) {
    float mx = s[0];
    for (int64_t j = 1; j < span; j++) if (s[j] > mx) mx = s[j];
    float sum = 0;
    for (int64_t j = 0; j < span; j++) {
        float e = expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    float inv = 1 / sum;
    for (int64_t j = 0; j < span; j++) s[j] *= inv;
}

// Kᵀ of head `h` into kt [hd, tp], zero beyond T.
static void pc_transpose_k(const float *qkv, float *kt, int64_t t, int64_t tp, int64_t d, int64_t hd, int64_t h) {
    for (int64_t j = 0; j < t; j++) {
        const float *kr = qkv + j * 3 * d + d + h * hd;
        for (int64_t c = 0; c < hd; c++) kt[c * tp + j] = kr[c];
    }
    for (int64_t c = 0; c < hd; c++)
        for (int64_t j = t; j < tp; j++) kt[c * tp + j] = 0;
}

static void pc_attention_portable(const float *qkv, float *out, float *scratch, int64_t t, int64_t d,
                                  int64_t heads, int causal) {
    int64_t hd = d / heads, tp = pc_round8(t);
    float scale = 1 / sqrtf((float)hd);
    float *kt = scratch, *s = scratch + hd * tp;
    for (int64_t h = 0; h < heads; h++) {
        pc_transpose_k(qkv, kt, t, tp, d, hd, h);
        for (int64_t i = 0; i < t; i++) {
            int64_t span = causal ? i + 1 : t;
            const float *q = qkv + i * 3 * d + h * hd;
            for (int64_t j = 0; j < span; j++) s[j] = 0;
            for (int64_t c = 0; c < hd; c++) {
                float qc = q[c];
                const float *kr = kt + c * tp;
                for (int64_t j = 0; j < span; j++) s[j] += qc * kr[j];
            }
            for (int64_t j = 0; j < span; j++) s[j] *= scale;
            pc_softmax_row(s, span);
            float *o = out + i * d + h * hd;
            for (int64_t c = 0; c < hd; c++) o[c] = 0;
            for (int64_t j = 0; j < span; j++) {
                float p = s[j];
                const float *v = qkv + j * 3 * d + 2 * d + h * hd;
                for (int64_t c = 0; c < hd; c++) o[c] += p * v[c];
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
// AVX2 + FMA; head_dim % 8 == 0 (64 for every CLIP model).
__attribute__((target("avx2,fma")))
static void pc_attention_avx2(const float *qkv, float *out, float *scratch, int64_t t, int64_t d,
                              int64_t heads, int causal) {
    int64_t hd = d / heads, tp = pc_round8(t);
    __m256 vscale = _mm256_set1_ps(1 / sqrtf((float)hd));
    float *kt = scratch, *s = scratch + hd * tp;
    for (int64_t h = 0; h < heads; h++) {
        pc_transpose_k(qkv, kt, t, tp, d, hd, h);
        for (int64_t i = 0; i < t; i++) {
            int64_t span = causal ? i + 1 : t, spanp = pc_round8(span);
            const float *q = qkv + i * 3 * d + h * hd;
            int64_t jb = 0;
            for (; jb + 32 <= spanp; jb += 32) {  // four independent accumulator chains
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (int64_t c = 0; c < hd; c++) {
                    __m256 qc = _mm256_broadcast_ss(q + c);
                    const float *kr = kt + c * tp + jb;
                    a0 = _mm256_fmadd_ps(qc, _mm256_loadu_ps(kr), a0);
                    a1 = _mm256_fmadd_ps(qc, _mm256_loadu_ps(kr + 8), a1);
                    a2 = _mm256_fmadd_ps(qc, _mm256_loadu_ps(kr + 16), a2);
                    a3 = _mm256_fmadd_ps(qc, _mm256_loadu_ps(kr + 24), a3);
                }
                _mm256_storeu_ps(s + jb, _mm256_mul_ps(a0, vscale));
                _mm256_storeu_ps(s + jb + 8, _mm256_mul_ps(a1, vscale));
                _mm256_storeu_ps(s + jb + 16, _mm256_mul_ps(a2, vscale));
                _mm256_storeu_ps(s + jb + 24, _mm256_mul_ps(a3, vscale));
            }
            for (; jb < spanp; jb += 8) {
                __m256 a0 = _mm256_setzero_ps();
                for (int64_t c = 0; c < hd; c++)
                    a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(q + c), _mm256_loadu_ps(kt + c * tp + jb), a0);
                _mm256_storeu_ps(s + jb, _mm256_mul_ps(a0, vscale));
            }
            pc_softmax_row(s, span);
            float *o = out + i * d + h * hd;
            for (int64_t cb = 0; cb < hd; cb += 32) {
                int64_t width = hd - cb < 32 ? hd - cb : 32;  // 8, 16, 24 or 32
                __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
                for (int64_t j = 0; j < span; j++) {
                    __m256 p = _mm256_broadcast_ss(s + j);
                    const float *v = qkv + j * 3 * d + 2 * d + h * hd + cb;
                    o0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), o0);
                    if (width > 8) o1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), o1);
                    if (width > 16) o2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), o2);
                    if (width > 24) o3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), o3);
                }
                _mm256_storeu_ps(o + cb, o0);
                if (width > 8) _mm256_storeu_ps(o + cb + 8, o1);
                if (width > 16) _mm256_storeu_ps(o + cb + 16, o2);
                if (width > 24) _mm256_storeu_ps(o + cb + 24, o3);
            }
        }
    }
}
#endif

int pc_attention_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                     int64_t heads, int causal) {
    if (pc_attention_scratch_floats(tokens, dim, heads) == 0) return -1;
#if defined(__x86_64__) || defined(__i386__)
    int isa = pc_kernels_isa();
    if ((isa == PC_ISA_AVX2 || isa == PC_ISA_AVX_VNNI || isa == PC_ISA_AVX512_VNNI) && (dim / heads) % 8 == 0 && __builtin_cpu_supports("fma")) {
        pc_attention_avx2(qkv, out, scratch, tokens, dim, heads, causal);
        return 0;
    }
#endif
    pc_attention_portable(qkv, out, scratch, tokens, dim, heads, causal);
    return 0;
}
