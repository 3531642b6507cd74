// Float multi-head attention over one sequence (pc_kernels.h): the step of the int8 runtime
// that stays in float. Per head: K is transposed once into scratch so both products run along
// contiguous memory with one broadcast per step:
//     scores[i, j] = Σ_c q[i, c] · Kᵀ[c, j]      (8 j at a time)
//     out[i, c]    = Σ_j p[i, j] · v[j, c]        (8 c at a time)
// Softmax: libm's expf on the portable path; on AVX2 an 8-lane polynomial (pc_exp8, ~2 ulp).
#include "pc_internal.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static int64_t pc_round8(int64_t t) { return (t + 7) / 8 * 8; }

size_t pc_attention_scratch_floats(int64_t tokens, int64_t dim, int64_t heads) {
    if (tokens < 1 || heads < 1 || dim < heads || dim % heads != 0) return 0;
    int64_t tp = pc_round8(tokens);
    return (size_t)((dim / heads) * tp + 4 * tp);  // Kᵀ of one head + scores of 4 query rows
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

static void pc_attention_head_portable(const float *qkv, float *out, float *scratch, int64_t t, int64_t d,
                                       int64_t hd, int64_t h, int causal, int64_t q0, int64_t q1) {
    int64_t tp = pc_round8(t);
    float scale = 1 / sqrtf((float)hd);
    float *kt = scratch, *s = scratch + hd * tp;
    pc_transpose_k(qkv, kt, t, tp, d, hd, h);
    for (int64_t i = q0; i < q1; i++) {
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

#if defined(__x86_64__) || defined(__i386__)
// AVX2 + FMA; head_dim % 8 == 0 (64 for every CLIP model). Query rows go in groups of 4 so each
// K or V load feeds four FMAs (one row at a time was load-bound: one load per FMA). Every score
// and output element is still its own FMA chain in the same order (c for scores, j for outputs),
// so grouping changes no value: a row's result does not depend on which rows share its group.
#define PC_AG 4  // query rows per group

// Softmax of s[0 ..< span] with pc_exp8 (~2 ulp) for whole blocks of 8 and libm's expf for the
// rest: T² libm calls were a fifth of the attention time. The sum is kept in 8 lanes.
PC_FMA static void pc_softmax_row_avx2(float *s, int64_t span) {
    const int64_t body = span / 8 * 8;
    __m256 vm = _mm256_set1_ps(s[0]);
    for (int64_t j = 0; j < body; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(s + j));
    float lanes[8];
    _mm256_storeu_ps(lanes, vm);
    float mx = lanes[0];
    for (int l = 1; l < 8; l++) if (lanes[l] > mx) mx = lanes[l];
    for (int64_t j = body; j < span; j++) if (s[j] > mx) mx = s[j];
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < body; j += 8) {
        __m256 e = pc_exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vmx));
        _mm256_storeu_ps(s + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    _mm256_storeu_ps(lanes, vsum);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (int64_t j = body; j < span; j++) {
        float e = expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    const __m256 vinv = _mm256_set1_ps(1 / sum);
    for (int64_t j = 0; j < body; j += 8) _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), vinv));
    for (int64_t j = body; j < span; j++) s[j] *= 1 / sum;
}

// Query rows [i0, i0 + g) of head h; g is a constant at each call so the accumulators stay in
// registers.
__attribute__((target("avx2,fma"), always_inline))
static inline void pc_attention_group_avx2(const int g, const float *qkv, float *out, const float *kt, float *sc,
                                           int64_t t, int64_t tp, int64_t d, int64_t hd, int64_t h, int causal,
                                           int64_t i0, __m256 vscale) {
    {
        int64_t span[PC_AG] = {0, 0, 0, 0};
        for (int r = 0; r < g; r++) span[r] = causal ? i0 + r + 1 : t;
        // Scores of all g rows up to the widest span, rounded to 8 (≤ tp: K is zero beyond T).
        // Entries past a row's own span are computed but never read.
        const int64_t wide = pc_round8(span[g - 1]);
        const float *q[PC_AG];
        for (int r = 0; r < g; r++) q[r] = qkv + (i0 + r) * 3 * d + h * hd;
        int64_t jb = 0;
        for (; jb + 16 <= wide; jb += 16) {
            __m256 a[PC_AG][2];
            for (int r = 0; r < g; r++) a[r][0] = a[r][1] = _mm256_setzero_ps();
            for (int64_t c = 0; c < hd; c++) {
                const float *kr = kt + c * tp + jb;
                __m256 k0 = _mm256_loadu_ps(kr), k1 = _mm256_loadu_ps(kr + 8);
                for (int r = 0; r < g; r++) {
                    __m256 qc = _mm256_broadcast_ss(q[r] + c);
                    a[r][0] = _mm256_fmadd_ps(qc, k0, a[r][0]);
                    a[r][1] = _mm256_fmadd_ps(qc, k1, a[r][1]);
                }
            }
            for (int r = 0; r < g; r++) {
                _mm256_storeu_ps(sc + r * tp + jb, _mm256_mul_ps(a[r][0], vscale));
                _mm256_storeu_ps(sc + r * tp + jb + 8, _mm256_mul_ps(a[r][1], vscale));
            }
        }
        for (; jb < wide; jb += 8) {
            __m256 a[PC_AG];
            for (int r = 0; r < g; r++) a[r] = _mm256_setzero_ps();
            for (int64_t c = 0; c < hd; c++) {
                __m256 k0 = _mm256_loadu_ps(kt + c * tp + jb);
                for (int r = 0; r < g; r++) a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(q[r] + c), k0, a[r]);
            }
            for (int r = 0; r < g; r++) _mm256_storeu_ps(sc + r * tp + jb, _mm256_mul_ps(a[r], vscale));
        }
        for (int r = 0; r < g; r++) pc_softmax_row_avx2(sc + r * tp, span[r]);
        // out[i, c] = Σ_{j < span_i} p[i, j] · v[j, c]: the rows share j < span[0] (the shortest),
        // then each row finishes its own span alone, so no row ever adds a term it should not.
        for (int64_t cb = 0; cb < hd; cb += 16) {
            const int two = hd - cb >= 16;
            __m256 o[PC_AG][2];
            for (int r = 0; r < g; r++) o[r][0] = o[r][1] = _mm256_setzero_ps();
            const float *vb = qkv + 2 * d + h * hd + cb;
            int64_t j = 0;
            for (; j < span[0]; j++) {
                const float *v = vb + j * 3 * d;
                __m256 v0 = _mm256_loadu_ps(v), v1 = two ? _mm256_loadu_ps(v + 8) : v0;
                for (int r = 0; r < g; r++) {
                    __m256 p = _mm256_broadcast_ss(sc + r * tp + j);
                    o[r][0] = _mm256_fmadd_ps(p, v0, o[r][0]);
                    if (two) o[r][1] = _mm256_fmadd_ps(p, v1, o[r][1]);
                }
            }
            for (int r = 1; r < g; r++) {
                for (int64_t jr = j; jr < span[r]; jr++) {
                    const float *v = vb + jr * 3 * d;
                    __m256 p = _mm256_broadcast_ss(sc + r * tp + jr);
                    o[r][0] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), o[r][0]);
                    if (two) o[r][1] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), o[r][1]);
                }
            }
            for (int r = 0; r < g; r++) {
                float *o_r = out + (i0 + r) * d + h * hd + cb;
                _mm256_storeu_ps(o_r, o[r][0]);
                if (two) _mm256_storeu_ps(o_r + 8, o[r][1]);
            }
        }
    }
}

__attribute__((target("avx2,fma")))
static void pc_attention_head_avx2(const float *qkv, float *out, float *scratch, int64_t t, int64_t d,
                                   int64_t hd, int64_t h, int causal, int64_t q0, int64_t q1) {
    const int64_t tp = pc_round8(t);
    const __m256 vscale = _mm256_set1_ps(1 / sqrtf((float)hd));
    float *kt = scratch, *sc = scratch + hd * tp;  // sc: PC_AG rows of tp scores
    pc_transpose_k(qkv, kt, t, tp, d, hd, h);
    int64_t i0 = q0;
    for (; i0 + PC_AG <= q1; i0 += PC_AG)
        pc_attention_group_avx2(PC_AG, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale);
    switch (q1 - i0) {
    case 3: pc_attention_group_avx2(3, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale); break;
    case 2: pc_attention_group_avx2(2, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale); break;
    case 1: pc_attention_group_avx2(1, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale); break;
    default: break;
    }
}
// The same groups on 512 bits (head_dim % 16 == 0): scores 32 keys at a time, outputs 32
// columns at a time. Each element is still one FMA chain in the same order as the AVX2 group
// (c for scores, j for outputs), so the values are identical to it; the last partial block of
// keys uses masked loads and stores (kt rows are only roundup(T, 8) long).
#define PC_ATTN512 __attribute__((target("avx2,fma,avx512f")))

__attribute__((target("avx2,fma,avx512f"), always_inline))
static inline void pc_attention_group_avx512(const int g, const float *qkv, float *out, const float *kt, float *sc,
                                             int64_t t, int64_t tp, int64_t d, int64_t hd, int64_t h, int causal,
                                             int64_t i0, __m512 vscale) {
    int64_t span[PC_AG] = {0, 0, 0, 0};
    for (int r = 0; r < g; r++) span[r] = causal ? i0 + r + 1 : t;
    const int64_t wide = pc_round8(span[g - 1]);
    const float *q[PC_AG];
    for (int r = 0; r < g; r++) q[r] = qkv + (i0 + r) * 3 * d + h * hd;
    int64_t jb = 0;
    for (; jb + 32 <= wide; jb += 32) {
        __m512 a[PC_AG][2];
        for (int r = 0; r < g; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
        for (int64_t c = 0; c < hd; c++) {
            const float *kr = kt + c * tp + jb;
            __m512 k0 = _mm512_loadu_ps(kr), k1 = _mm512_loadu_ps(kr + 16);
            for (int r = 0; r < g; r++) {
                __m512 qc = _mm512_set1_ps(q[r][c]);
                a[r][0] = _mm512_fmadd_ps(qc, k0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(qc, k1, a[r][1]);
            }
        }
        for (int r = 0; r < g; r++) {
            _mm512_storeu_ps(sc + r * tp + jb, _mm512_mul_ps(a[r][0], vscale));
            _mm512_storeu_ps(sc + r * tp + jb + 16, _mm512_mul_ps(a[r][1], vscale));
        }
    }
    for (; jb < wide; jb += 16) {
        const __mmask16 keep = wide - jb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (wide - jb)) - 1);
        __m512 a[PC_AG];
        for (int r = 0; r < g; r++) a[r] = _mm512_setzero_ps();
        for (int64_t c = 0; c < hd; c++) {
            __m512 k0 = _mm512_maskz_loadu_ps(keep, kt + c * tp + jb);
            for (int r = 0; r < g; r++) a[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r][c]), k0, a[r]);
        }
        for (int r = 0; r < g; r++) _mm512_mask_storeu_ps(sc + r * tp + jb, keep, _mm512_mul_ps(a[r], vscale));
    }
    for (int r = 0; r < g; r++) pc_softmax_row_avx2(sc + r * tp, span[r]);
    for (int64_t cb = 0; cb < hd; cb += 32) {
        const int two = hd - cb >= 32;
        __m512 o[PC_AG][2];
        for (int r = 0; r < g; r++) o[r][0] = o[r][1] = _mm512_setzero_ps();
        const float *vb = qkv + 2 * d + h * hd + cb;
        int64_t j = 0;
        for (; j < span[0]; j++) {
            const float *v = vb + j * 3 * d;
            __m512 v0 = _mm512_loadu_ps(v), v1 = two ? _mm512_loadu_ps(v + 16) : v0;
            for (int r = 0; r < g; r++) {
                __m512 p = _mm512_set1_ps(sc[r * tp + j]);
                o[r][0] = _mm512_fmadd_ps(p, v0, o[r][0]);
                if (two) o[r][1] = _mm512_fmadd_ps(p, v1, o[r][1]);
            }
        }
        for (int r = 1; r < g; r++) {
            for (int64_t jr = j; jr < span[r]; jr++) {
                const float *v = vb + jr * 3 * d;
                __m512 p = _mm512_set1_ps(sc[r * tp + jr]);
                o[r][0] = _mm512_fmadd_ps(p, _mm512_loadu_ps(v), o[r][0]);
                if (two) o[r][1] = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 16), o[r][1]);
            }
        }
        for (int r = 0; r < g; r++) {
            float *o_r = out + (i0 + r) * d + h * hd + cb;
            _mm512_storeu_ps(o_r, o[r][0]);
            if (two) _mm512_storeu_ps(o_r + 16, o[r][1]);
        }
    }
}

PC_ATTN512 static void pc_attention_head_avx512(const float *qkv, float *out, float *scratch, int64_t t, int64_t d,
                                                int64_t hd, int64_t h, int causal, int64_t q0, int64_t q1) {
    const int64_t tp = pc_round8(t);
    const __m512 vscale = _mm512_set1_ps(1 / sqrtf((float)hd));
    float *kt = scratch, *sc = scratch + hd * tp;
    pc_transpose_k(qkv, kt, t, tp, d, hd, h);
    int64_t i0 = q0;
    for (; i0 + PC_AG <= q1; i0 += PC_AG)
        pc_attention_group_avx512(PC_AG, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale);
    switch (q1 - i0) {
    case 3: pc_attention_group_avx512(3, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale); break;
    case 2: pc_attention_group_avx512(2, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale); break;
    case 1: pc_attention_group_avx512(1, qkv, out, kt, sc, t, tp, d, hd, h, causal, i0, vscale); break;
    default: break;
    }
}
#endif


int pc_attention_rows_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                          int64_t heads, int causal, int64_t h0, int64_t h1, int64_t q0, int64_t q1) {
    if (pc_attention_scratch_floats(tokens, dim, heads) == 0 || h0 < 0 || h1 > heads || h0 > h1) return -1;
    if (q0 < 0 || q1 > tokens || q0 > q1) return -1;
    const int64_t hd = dim / heads;
#if defined(__x86_64__) || defined(__i386__)
    int isa = pc_kernels_isa();
    if (isa == PC_ISA_AVX512_VNNI && hd % 16 == 0 && __builtin_cpu_supports("fma")) {
        for (int64_t h = h0; h < h1; h++) pc_attention_head_avx512(qkv, out, scratch, tokens, dim, hd, h, causal, q0, q1);
        return 0;
    }
    if ((isa == PC_ISA_AVX2 || isa == PC_ISA_AVX_VNNI || isa == PC_ISA_AVX512_VNNI) && hd % 8 == 0 && __builtin_cpu_supports("fma")) {
        for (int64_t h = h0; h < h1; h++) pc_attention_head_avx2(qkv, out, scratch, tokens, dim, hd, h, causal, q0, q1);
        return 0;
    }
#endif
    for (int64_t h = h0; h < h1; h++) pc_attention_head_portable(qkv, out, scratch, tokens, dim, hd, h, causal, q0, q1);
    return 0;
}

int pc_attention_heads_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                           int64_t heads, int causal, int64_t h0, int64_t h1) {
    return pc_attention_rows_f32(qkv, out, scratch, tokens, dim, heads, causal, h0, h1, 0, tokens);
}

int pc_attention_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                     int64_t heads, int causal) {
    return pc_attention_heads_f32(qkv, out, scratch, tokens, dim, heads, causal, 0, heads);
}
