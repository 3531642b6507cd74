// x86-64 paths: AVX2 and AVX-VNNI tiles and the AVX2 activation quantizer. Each function carries
// its own target attribute, so the package builds with default flags (no unsafeFlags) and the
// dispatcher in pc_kernels.c only calls them on CPUs that have the instructions.
// No FMA contraction: every path rounds the float epilogue the same way (pc_internal.h).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__x86_64__) || defined(__i386__)
#include "pc_internal.h"

#include <immintrin.h>
#include <math.h>

#define PC_AVX2 __attribute__((target("avx2,fma")))
#define PC_VNNI __attribute__((target("avx2,fma,avxvnni")))
#define PC_INLINE static inline __attribute__((always_inline))

// ---- AVX2: vpmaddubsw + vpmaddwd with the sign trick -------------------------------------------
//
// vpmaddubsw multiplies UNSIGNED bytes of its first operand by SIGNED bytes of its second and
// adds adjacent pairs into int16 with saturation. Both our operands are signed, so we feed it
// |x| and sign(w, x) (w negated where x < 0, zeroed where x == 0): |x|·(w·sgn x) = x·w exactly.
// vpabsb of -128 is the byte 0x80, which vpmaddubsw reads as the unsigned 128 it should be; w is
// never -128, so negating it cannot overflow. Saturation cannot happen: |x| <= 128, |w| <= 127,
// so a pair sums to at most 2·128·127 = 32512 < 32767. vpmaddwd with ones then adds pairs of
// int16 into int32: each 32-bit lane holds the 4-k dot product of one column, added to an int32
// accumulator (|Σ x·w| <= 128·127·K, exact for K <= PC_Q8_MAX_K). Per 64 multiply-adds: 2
// vpsignb, 2 vpmaddubsw, 2 vpmaddwd, 2 vpaddd, plus one broadcast and one vpabsb per row shared
// by 16 columns. The accumulators start at 128·colsum (loaded per group, shared by the rows), so
// they end at D_g = Σ (x + 128)·w, the unsigned sum pc_internal.h's epilogue starts from.

// Adds group g's term of the float epilogue (pc_internal.h) into sums s0/s1 (columns 0-7, 8-15).
PC_INLINE PC_AVX2 void pc_avx2_group_sum(__m256i a0, __m256i a1, const float *ps, int64_t g,
                                         __m256 *s0, __m256 *s1) {
    *s0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a0), _mm256_loadu_ps(ps + g * PC_Q8_PANEL), *s0);
    *s1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a1), _mm256_loadu_ps(ps + g * PC_Q8_PANEL + 8), *s1);
}

// y = (s − zp·zsum) · xs (+ bias) for columns [c0, c1) of one row.
PC_INLINE PC_AVX2 void pc_avx2_store(__m256 s0, __m256 s1, int32_t zp, const float *pz, float xs,
                                     const float *bias, float *yr, int c0, int c1) {
    __m256 vz = _mm256_set1_ps((float)zp), vx = _mm256_set1_ps(xs);
    s0 = _mm256_mul_ps(_mm256_fnmadd_ps(vz, _mm256_loadu_ps(pz), s0), vx);
    s1 = _mm256_mul_ps(_mm256_fnmadd_ps(vz, _mm256_loadu_ps(pz + 8), s1), vx);
    if (c0 == 0 && c1 == PC_Q8_PANEL) {
        if (bias) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(bias));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(bias + 8));
        }
        _mm256_storeu_ps(yr, s0);
        _mm256_storeu_ps(yr + 8, s1);
        return;
    }
    float tmp[PC_Q8_PANEL];
    _mm256_storeu_ps(tmp, s0);
    _mm256_storeu_ps(tmp + 8, s1);
    for (int c = c0; c < c1; c++) yr[c] = bias ? tmp[c] + bias[c] : tmp[c];
}

// One k4 block for MR rows: x4[r] holds row r's four bytes.
#define PC_AVX2_STEP(MR, pwb, x4)                                                        \
    do {                                                                                 \
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(pwb));                         \
        __m256i w1 = _mm256_loadu_si256((const __m256i *)((pwb) + 32));                  \
        for (int r = 0; r < (MR); r++) {                                                 \
            __m256i xb = _mm256_set1_epi32((x4)[r]);                                     \
            __m256i ax = _mm256_abs_epi8(xb);                                            \
            __m256i p0 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, xb));             \
            __m256i p1 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, xb));             \
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));         \
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));         \
        }                                                                                \
    } while (0)

PC_INLINE PC_AVX2 void pc_avx2_tile_mr(const int MR, const int8_t *xq, const float *xscale,
                                       const int32_t *xzero, const void *packed, const pc_q8_shape *s,
                                       const float *bias, float *y, int64_t ldy, int64_t i0, int64_t p,
                                       int c0, int c1) {
    const int8_t *pw = pc_panel_w(packed, s, p);
    const float *ps = pc_panel_scale(packed, s, p);
    const int32_t *pcs = pc_panel_colsum(packed, s, p);
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *xr[6];
    for (int r = 0; r < MR; r++) xr[r] = xq + (i0 + r) * s->k;
    __m256 s0[6], s1[6];
    for (int r = 0; r < MR; r++) s0[r] = s1[r] = _mm256_setzero_ps();
    const int64_t full = s->k / 4;  // k4 blocks that lie wholly inside a row
    for (int64_t g = 0; g < s->groups; g++) {
        // The accumulators start at 128·colsum: Σ x·w + 128·colsum = D_g (pc_internal.h).
        __m256i cs0 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(pcs + g * PC_Q8_PANEL)), 7);
        __m256i cs1 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(pcs + g * PC_Q8_PANEL + 8)), 7);
        __m256i acc[6][2];
        for (int r = 0; r < MR; r++) {
            acc[r][0] = cs0;
            acc[r][1] = cs1;
        }
        int64_t b0 = g * s->blocks, b1 = b0 + s->blocks;
        int64_t bf = b1 < full ? b1 : full;
        int32_t x4[6];
        for (int64_t kb = b0; kb < bf; kb++) {
            for (int r = 0; r < MR; r++) memcpy(&x4[r], xr[r] + kb * 4, 4);
            PC_AVX2_STEP(MR, pw + kb * 64, x4);
        }
        for (int64_t kb = bf; kb < b1; kb++) {  // the zero-completed last block, if K % 4 != 0
            for (int r = 0; r < MR; r++) x4[r] = pc_load_x4(xr[r], kb, s->k);
            PC_AVX2_STEP(MR, pw + kb * 64, x4);
        }
        for (int r = 0; r < MR; r++) pc_avx2_group_sum(acc[r][0], acc[r][1], ps, g, &s0[r], &s1[r]);
    }
    const float *bp = bias ? bias + p * PC_Q8_PANEL : 0;
    const float *pz = pc_panel_zsum(packed, s, p);
    for (int r = 0; r < MR; r++)
        pc_avx2_store(s0[r], s1[r], xzero[i0 + r], pz, xscale[i0 + r], bp, y + (i0 + r) * ldy + p * PC_Q8_PANEL,
                      c0, c1);
}

PC_AVX2 void pc_tile_avx2(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                          const pc_q8_shape *s, const float *bias, float *y, int64_t ldy, int64_t i0, int64_t mr,
                          int64_t p, int c0, int c1) {
    // Constant row counts so the accumulators live in registers (4 rows: 8 accumulators).
    switch (mr) {
    case 4: pc_avx2_tile_mr(4, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 3: pc_avx2_tile_mr(3, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 2: pc_avx2_tile_mr(2, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    default:
        for (int64_t i = i0; i < i0 + mr; i++)
            pc_avx2_tile_mr(1, xq, xscale, xzero, packed, s, bias, y, ldy, i, p, c0, c1);
    }
}

// ---- AVX-VNNI: vpdpbusd with the offset trick --------------------------------------------------
//
// vpdpbusd adds four u8·s8 products into each int32 lane without intermediate saturation. We
// feed it x + 128 (x XOR 0x80, in [0, 255]: the unsigned q the quantizer rounded) and w, from
// zeroed accumulators: the result is D_g = Σ(x + 128)·w, the sum pc_internal.h's epilogue starts
// from (the zero-point term comes once, in the store). |D_g| <= 255·127·K < 2^31 (K <=
// PC_Q8_MAX_K), so the int32 sum is exact.
// One instruction per 32 multiply-adds, against four on the AVX2 path.

#define PC_VNNI_STEP(MR, pwb, x4)                                                        \
    do {                                                                                 \
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(pwb));                         \
        __m256i w1 = _mm256_loadu_si256((const __m256i *)((pwb) + 32));                  \
        for (int r = 0; r < (MR); r++) {                                                 \
            __m256i u = _mm256_set1_epi32((x4)[r] ^ (int32_t)0x80808080u);               \
            acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], u, w0);                        \
            acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], u, w1);                        \
        }                                                                                \
    } while (0)

PC_INLINE PC_VNNI void pc_vnni_tile_mr(const int MR, const int8_t *xq, const float *xscale,
                                       const int32_t *xzero, const void *packed, const pc_q8_shape *s,
                                       const float *bias, float *y, int64_t ldy, int64_t i0, int64_t p,
                                       int c0, int c1) {
    const int8_t *pw = pc_panel_w(packed, s, p);
    const float *ps = pc_panel_scale(packed, s, p);
    const int8_t *xr[6];
    for (int r = 0; r < MR; r++) xr[r] = xq + (i0 + r) * s->k;
    __m256 s0[6], s1[6];
    for (int r = 0; r < MR; r++) s0[r] = s1[r] = _mm256_setzero_ps();
    const int64_t full = s->k / 4;
    for (int64_t g = 0; g < s->groups; g++) {
        __m256i acc[6][2];
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        int64_t b0 = g * s->blocks, b1 = b0 + s->blocks;
        int64_t bf = b1 < full ? b1 : full;
        int32_t x4[6];
        int64_t kb = b0;
        if (MR == 1) {
            // One row: two chains of vpdpbusd would wait on their latency; two more over the
            // odd blocks keep four in flight (integer sums: the split changes nothing).
            __m256i e0 = _mm256_setzero_si256(), e1 = e0;
            for (; kb + 2 <= bf; kb += 2) {
                int32_t x0, x1;
                memcpy(&x0, xr[0] + kb * 4, 4);
                memcpy(&x1, xr[0] + kb * 4 + 4, 4);
                __m256i u0 = _mm256_set1_epi32(x0 ^ (int32_t)0x80808080u);
                __m256i u1 = _mm256_set1_epi32(x1 ^ (int32_t)0x80808080u);
                const int8_t *pb = pw + kb * 64;
                acc[0][0] = _mm256_dpbusd_avx_epi32(acc[0][0], u0, _mm256_loadu_si256((const __m256i *)pb));
                acc[0][1] = _mm256_dpbusd_avx_epi32(acc[0][1], u0, _mm256_loadu_si256((const __m256i *)(pb + 32)));
                e0 = _mm256_dpbusd_avx_epi32(e0, u1, _mm256_loadu_si256((const __m256i *)(pb + 64)));
                e1 = _mm256_dpbusd_avx_epi32(e1, u1, _mm256_loadu_si256((const __m256i *)(pb + 96)));
            }
            acc[0][0] = _mm256_add_epi32(acc[0][0], e0);
            acc[0][1] = _mm256_add_epi32(acc[0][1], e1);
        }
        // Broadcast from memory and XOR in a vector register (flip made opaque so the compiler
        // cannot turn it back into a scalar XOR + GPR-to-vector broadcast, the bottleneck of the
        // AVX-512 tile before it was rewritten the same way).
        __m256i flip = _mm256_set1_epi32((int32_t)0x80808080u);
        __asm__("" : "+x"(flip));
        for (; kb < bf; kb++) {
            __m256i w0 = _mm256_loadu_si256((const __m256i *)(pw + kb * 64));
            __m256i w1 = _mm256_loadu_si256((const __m256i *)(pw + kb * 64 + 32));
            for (int r = 0; r < MR; r++) {
                int32_t v;
                memcpy(&v, xr[r] + kb * 4, 4);
                __m256i u = _mm256_xor_si256(_mm256_set1_epi32(v), flip);
                acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], u, w0);
                acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], u, w1);
            }
        }
        // The zero-completed last block: its padding bytes become 0x80 (128) too, but the packed
        // weights there are 0, so they add nothing.
        for (; kb < b1; kb++) {
            for (int r = 0; r < MR; r++) x4[r] = pc_load_x4(xr[r], kb, s->k);
            PC_VNNI_STEP(MR, pw + kb * 64, x4);
        }
        for (int r = 0; r < MR; r++) pc_avx2_group_sum(acc[r][0], acc[r][1], ps, g, &s0[r], &s1[r]);
    }
    const float *bp = bias ? bias + p * PC_Q8_PANEL : 0;
    const float *pz = pc_panel_zsum(packed, s, p);
    for (int r = 0; r < MR; r++)
        pc_avx2_store(s0[r], s1[r], xzero[i0 + r], pz, xscale[i0 + r], bp, y + (i0 + r) * ldy + p * PC_Q8_PANEL,
                      c0, c1);
}

PC_VNNI void pc_tile_avxvnni(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                             const pc_q8_shape *s, const float *bias, float *y, int64_t ldy, int64_t i0,
                             int64_t mr, int64_t p, int c0, int c1) {
    switch (mr) {
    case 6: pc_vnni_tile_mr(6, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 5: pc_vnni_tile_mr(5, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 4: pc_vnni_tile_mr(4, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 3: pc_vnni_tile_mr(3, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    case 2: pc_vnni_tile_mr(2, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1); break;
    default:
        for (int64_t i = i0; i < i0 + mr; i++)
            pc_vnni_tile_mr(1, xq, xscale, xzero, packed, s, bias, y, ldy, i, p, c0, c1);
    }
}

// ---- AVX-512 VNNI: one 64-byte block per instruction -------------------------------------------
//
// The same offset trick on 512 bits: a zmm register holds a whole 16-column block of 4 k. A tile
// is MR rows by two panels (32 columns): per block of 4 k it loads two weight registers and MR
// row broadcasts and issues 2·MR vpdpbusd, so loads stay well under one per vpdpbusd (one panel
// at a time needed 9 loads per 8). The broadcast is read straight from memory and made unsigned
// with a vector XOR (not a scalar XOR then a GPR-to-vector broadcast, which the core issues at
// one per cycle and which capped the old tile at half the vpdpbusd rate).

#define PC_AVX512 __attribute__((target("avx2,avx512f,avx512vnni")))
#define PC_MR_AVX512_TILE 10  // rows per tile: 2·10 accumulators + 2 weights + XOR mask = 23 zmm
// With several groups: 2·6 accumulators + 2·6 sums + 2 weights + mask + broadcast = 28 zmm (5 and
// 7 rows were slower on the text shapes with G128: `tools/bench/bench-kernels.sh 0.3 128` per
// value).
#define PC_MR_AVX512_GROUPED 6

// Rows [i0, i0 + MR) of panels p .. p + NP - 1 (NP = 1 or 2). With NP = 2 both panels are whole;
// with NP = 1 only columns [c0, c1) of panel p are written.
//
// Per group the accumulators start at zero and end at D_g = Σ (x + 128)·w; the float sums take
// fmaf(D_g, ws_g, ·) and the zero-point term comes once, at the store (pc_internal.h). With one
// group (GROUPED = 0: per-channel weights, the ViT default) there are no sums to carry; with
// several, MR·NP sums stay live beside the MR·NP accumulators, so grouped tiles use fewer rows
// (PC_MR_AVX512_GROUPED) to keep both in the 32 zmm registers: 10 rows spilled the sums, and the
// allocator then left moves inside the vpdpbusd loop.
// (Before the zero-point term was folded into zsum, each group started its accumulators at
// −zp·colsum, one vpmulld per row and panel, and ended with convert, multiply and add in 10-row
// tiles: groups of 64 along K cost the text tower ~1.2x; docs/benchmarks.md, "Weight groups".)
PC_INLINE PC_AVX512 void pc_avx512_tile(const int MR, const int NP, const int GROUPED, const int8_t *xq,
                                        const float *xscale, const int32_t *xzero, const void *packed,
                                        const pc_q8_shape *s, const float *bias, float *y, int64_t ldy, int64_t i0,
                                        int64_t p, int c0, int c1) {
    const int8_t *pw[2];
    const float *ps[2];
    for (int q = 0; q < NP; q++) {
        pw[q] = pc_panel_w(packed, s, p + q);
        ps[q] = pc_panel_scale(packed, s, p + q);
    }
    const int64_t k = s->k;
    const int8_t *x0 = xq + i0 * k;
    // The XOR mask through an empty asm so the compiler cannot fold "broadcast, then XOR" back
    // into the scalar XOR + GPR broadcast this tile exists to avoid.
    __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    __asm__("" : "+v"(flip));
    __m512 sum[2][PC_MR_AVX512_TILE];
    const int64_t full = k / 4;
    const int64_t groups = GROUPED ? s->groups : 1;
    for (int64_t g = 0; g < groups; g++) {
        __m512i acc[2][PC_MR_AVX512_TILE];
        for (int q = 0; q < NP; q++)
            for (int r = 0; r < MR; r++) acc[q][r] = _mm512_setzero_si512();
        int64_t b0 = g * s->blocks, b1 = b0 + s->blocks;
        int64_t bf = b1 < full ? b1 : full;
        int64_t kb = b0;
        for (; kb < bf; kb++) {
            __m512i w[2];
            for (int q = 0; q < NP; q++) w[q] = _mm512_loadu_si512((const void *)(pw[q] + kb * 64));
            for (int r = 0; r < MR; r++) {
                int32_t x4;
                memcpy(&x4, x0 + r * k + kb * 4, 4);
                __m512i u = _mm512_xor_si512(_mm512_set1_epi32(x4), flip);
                for (int q = 0; q < NP; q++) acc[q][r] = _mm512_dpbusd_epi32(acc[q][r], u, w[q]);
            }
        }
        for (; kb < b1; kb++) {  // the zero-completed last block, if K % 4 != 0
            for (int r = 0; r < MR; r++) {
                __m512i u = _mm512_xor_si512(_mm512_set1_epi32(pc_load_x4(x0 + r * k, kb, k)), flip);
                for (int q = 0; q < NP; q++)
                    acc[q][r] = _mm512_dpbusd_epi32(acc[q][r], u, _mm512_loadu_si512((const void *)(pw[q] + kb * 64)));
            }
        }
        for (int q = 0; q < NP; q++) {
            __m512 ws = _mm512_loadu_ps(ps[q] + g * PC_Q8_PANEL);
            for (int r = 0; r < MR; r++)
                sum[q][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[q][r]), ws,
                                            g == 0 ? _mm512_setzero_ps() : sum[q][r]);
        }
    }
    __mmask16 keep = NP == 2 ? (__mmask16)0xffff : (__mmask16)(((1u << c1) - 1) & ~((1u << c0) - 1));
    for (int q = 0; q < NP; q++) {
        const float *bp = bias ? bias + (p + q) * PC_Q8_PANEL : 0;
        __m512 b = bp ? _mm512_maskz_loadu_ps(keep, bp) : _mm512_setzero_ps();
        __m512 z = _mm512_loadu_ps(pc_panel_zsum(packed, s, p + q));
        for (int r = 0; r < MR; r++) {
            __m512 v = _mm512_fnmadd_ps(_mm512_set1_ps((float)xzero[i0 + r]), z, sum[q][r]);
            v = _mm512_mul_ps(v, _mm512_set1_ps(xscale[i0 + r]));
            if (bp) v = _mm512_add_ps(v, b);
            _mm512_mask_storeu_ps(y + (i0 + r) * ldy + (p + q) * PC_Q8_PANEL, keep, v);
        }
    }
}

// Constant row counts so the accumulators live in registers.
#define PC_AVX512_CALL(MR, NP, GR) pc_avx512_tile(MR, NP, GR, xq, xscale, xzero, packed, s, bias, y, ldy, i0, p, c0, c1)
#define PC_AVX512_ROWS(NP)                                                                  \
    if (s->groups > 1) {                                                                    \
        switch (mr) {                                                                       \
        case 6: PC_AVX512_CALL(6, NP, 1); break;                                            \
        case 5: PC_AVX512_CALL(5, NP, 1); break;                                            \
        case 4: PC_AVX512_CALL(4, NP, 1); break;                                            \
        case 3: PC_AVX512_CALL(3, NP, 1); break;                                            \
        case 2: PC_AVX512_CALL(2, NP, 1); break;                                            \
        default: PC_AVX512_CALL(1, NP, 1); break;                                           \
        }                                                                                   \
        return;                                                                             \
    }                                                                                       \
    switch (mr) {                                                                           \
    case 10: PC_AVX512_CALL(10, NP, 0); break;                                              \
    case 9: PC_AVX512_CALL(9, NP, 0); break;                                                \
    case 8: PC_AVX512_CALL(8, NP, 0); break;                                                \
    case 7: PC_AVX512_CALL(7, NP, 0); break;                                                \
    case 6: PC_AVX512_CALL(6, NP, 0); break;                                                \
    case 5: PC_AVX512_CALL(5, NP, 0); break;                                                \
    case 4: PC_AVX512_CALL(4, NP, 0); break;                                                \
    case 3: PC_AVX512_CALL(3, NP, 0); break;                                                \
    case 2: PC_AVX512_CALL(2, NP, 0); break;                                                \
    default: PC_AVX512_CALL(1, NP, 0); break;                                               \
    }

static PC_AVX512 void pc_avx512_tile1(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                                      const pc_q8_shape *s, const float *bias, float *y, int64_t ldy,
                                      int64_t i0, int64_t mr, int64_t p, int c0, int c1) {
    PC_AVX512_ROWS(1)
}

static PC_AVX512 void pc_avx512_tile2(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed,
                                      const pc_q8_shape *s, const float *bias, float *y, int64_t ldy,
                                      int64_t i0, int64_t mr, int64_t p, int c0, int c1) {
    PC_AVX512_ROWS(2)
}

int pc_gemm_avx512vnni(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed, const pc_q8_shape *s,
                       const float *bias, float *y, int64_t ldy, int64_t m, int64_t n0, int64_t n1) {
    const int64_t mr = s->groups > 1 ? PC_MR_AVX512_GROUPED : PC_MR_AVX512_TILE;
    // Row blocks as in pc_gemm_q8: a block's int8 activations (≤ 256 KiB) stay in L2 across all
    // panels, each panel pair stays in L1/L2 while the block's rows stream past it.
    int64_t mc = (256 * 1024) / s->k / mr * mr;
    if (mc < mr) mc = mr;
    for (int64_t ib = 0; ib < m; ib += mc) {
        int64_t ie = m - ib < mc ? m : ib + mc;
        for (int64_t p = n0 / PC_Q8_PANEL; p * PC_Q8_PANEL < n1;) {
            int64_t first = p * PC_Q8_PANEL;
            int pair = first >= n0 && first + 2 * PC_Q8_PANEL <= n1;
            int c0 = (int)(n0 > first ? n0 - first : 0);
            int c1 = (int)(n1 < first + PC_Q8_PANEL ? n1 - first : PC_Q8_PANEL);
            // The weights stream from DRAM once per pass (ViT-B/32's 88 MB, the text tower's 38 MB
            // exceed L3), and the hardware prefetcher alone left the tiles waiting: each row tile
            // of this pair prefetches its share of the next pair's lines (text 77 tokens, 1 thread:
            // ~6% faster; T1 into L2 only was not measurably better than nothing).
            int64_t pn = p + (pair ? 2 : 1);
            int64_t left = (n1 + PC_Q8_PANEL - 1) / PC_Q8_PANEL - pn;  // panels after this step, in range
            int64_t next_bytes = (left >= 2 ? 2 : left > 0 ? left : 0) * s->panel_stride;
            const char *next = next_bytes ? (const char *)pc_panel_w(packed, s, pn) : 0;
            int64_t tiles = (ie - ib + mr - 1) / mr;
            for (int64_t i = ib, ti = 0; i < ie; i += mr, ti++) {
                int64_t rows = ie - i < mr ? ie - i : mr;
                for (int64_t b = next_bytes * ti / tiles / 64 * 64; b < next_bytes * (ti + 1) / tiles; b += 64)
                    _mm_prefetch(next + b, _MM_HINT_T0);
                if (pair) pc_avx512_tile2(xq, xscale, xzero, packed, s, bias, y, ldy, i, rows, p, 0, PC_Q8_PANEL);
                else pc_avx512_tile1(xq, xscale, xzero, packed, s, bias, y, ldy, i, rows, p, c0, c1);
            }
            p += pair ? 2 : 1;
        }
    }
    return 0;
}

// ---- AVX2 activation quantizer ------------------------------------------------------------------
//
// Byte-identical to the scalar definition (pc_asym_q in pc_internal.h): the same extremes (min
// and max are exact in any order), the same IEEE division x / scale (not a multiply by 1/scale,
// which rounds differently), and round-half-away-from-zero built from truncation:
// t = trunc(v); t += sign(v) when |v − t| >= 0.5. v − t is exact for |v| < 2^23, so there is no
// double rounding (adding 0.5 first would round 0.49999997 up to 1). Then one exact add of
// zp − 128 on these small integers, and the saturating packs (vpackssdw + vpacksswb) clamp to
// [-128, 127]: the same bytes as clamp(r + zp, 0, 255) − 128.

PC_AVX2 void pc_quantize_rows_avx2(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale,
                                   int32_t *xzero) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k;
        int8_t *qr = xq + i * k;
        __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
        int64_t t = 0;
        for (; t + 8 <= k; t += 8) {
            __m256 v = _mm256_loadu_ps(xr + t);
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        float lanes_lo[8], lanes_hi[8];
        _mm256_storeu_ps(lanes_lo, vlo);
        _mm256_storeu_ps(lanes_hi, vhi);
        float lo = 0, hi = 0;
        for (int l = 0; l < 8; l++) {
            if (lanes_lo[l] < lo) lo = lanes_lo[l];
            if (lanes_hi[l] > hi) hi = lanes_hi[l];
        }
        for (; t < k; t++) {
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
        const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps((float)(zp - 128));
        t = 0;
        for (; t + 32 <= k; t += 32) {
            __m256i q[4];
            for (int j = 0; j < 4; j++) {
                __m256 v = _mm256_div_ps(_mm256_loadu_ps(xr + t + 8 * j), vs);
                __m256 tr = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
                __m256 frac = _mm256_and_ps(_mm256_sub_ps(v, tr), absmask);
                __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), one);
                __m256 r = _mm256_add_ps(_mm256_add_ps(tr, _mm256_or_ps(step, _mm256_and_ps(v, signmask))), vz);
                q[j] = _mm256_cvtps_epi32(r);
            }
            __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(qr + t), _mm256_permutevar8x32_epi32(q16, order));
        }
        for (; t < k; t++) qr[t] = pc_asym_q(xr[t], scale, (float)zp);
    }
}

// ---- AVX-512 activation quantizer ---------------------------------------------------------------
//
// pc_quantize_rows_avx2 on 16 lanes: the same extremes, the same IEEE division and the same
// round-half-away built from truncation, so the bytes are identical; vpmovsdb packs 16 int32 to
// bytes with signed saturation, which is the clamp, in one instruction.

PC_AVX512 void pc_quantize_rows_avx512(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale,
                                       int32_t *xzero) {
    const __m512 half = _mm512_set1_ps(0.5f);
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k;
        int8_t *qr = xq + i * k;
        __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
        int64_t t = 0;
        for (; t + 16 <= k; t += 16) {
            __m512 v = _mm512_loadu_ps(xr + t);
            vlo = _mm512_min_ps(vlo, v);
            vhi = _mm512_max_ps(vhi, v);
        }
        float lo = _mm512_reduce_min_ps(vlo), hi = _mm512_reduce_max_ps(vhi);
        for (; t < k; t++) {
            if (xr[t] < lo) lo = xr[t];
            if (xr[t] > hi) hi = xr[t];
        }
        float scale = pc_asym_scale(lo, hi);
        xscale[i] = scale;
        if (scale == 0) {
            xzero[i] = 128;
            memset(qr, 0, (size_t)k);
            continue;
        }
        int32_t zp = pc_asym_zero(lo, scale);
        xzero[i] = zp;
        const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps((float)(zp - 128));
        t = 0;
        for (; t + 16 <= k; t += 16) {
            __m512 v = _mm512_div_ps(_mm512_loadu_ps(xr + t), vs);
            __m512 tr = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, tr)), half, _CMP_GE_OQ);
            // tr ± 1 away from zero where the fraction is >= 0.5: copy v's sign onto 1.
            __m512 step = _mm512_castsi512_ps(_mm512_or_si512(
                _mm512_castps_si512(_mm512_set1_ps(1.0f)),
                _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u))));
            __m512 r = _mm512_add_ps(_mm512_mask_add_ps(tr, up, tr, step), vz);
            _mm_storeu_si128((__m128i *)(qr + t), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(r)));
        }
        for (; t < k; t++) qr[t] = pc_asym_q(xr[t], scale, (float)zp);
    }
}

#endif
