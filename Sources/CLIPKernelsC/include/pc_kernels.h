// PocketCLIP int8 kernels: the inner loops of the q8 runtime, in C so one binary can carry an
// AVX2 / AVX-VNNI / AVX-512 VNNI / NEON / NEON-dotprod path per function and pick one at run time
// without compiler flags that would stop other packages depending on this one. Everything around
// these loops is Swift.
//
// Letters: M rows of activations, K the reduction dimension, N output columns, G the group size
// of the weight scales along K (formats/pclip.md, "The int8 scheme"; G = K is one scale per row).
// W is [N, K] like PyTorch's nn.Linear, so y = x · Wᵀ.
//
// Values: weights satisfy |w| <= 127 (-128 never occurs; the reference quantizer of CLIPFormat
// guarantees it); activations use all of -128...127 (asymmetric, see pc_quantize_rows_f32_q8).
// The kernels rely on that for exactness (each path's file says how).
//
// Thread-safety: every function is reentrant and keeps no state except the ISA choice, which is
// made once (thread-safely) on first use. Threads may share one packed weight buffer.
#ifndef PC_KERNELS_H
#define PC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The code paths run-time dispatch can pick.
enum {
    PC_ISA_PORTABLE = 0,      ///< plain C, any CPU
    PC_ISA_AVX2 = 1,          ///< x86-64 AVX2 + FMA (vpmaddubsw + vpmaddwd with the sign trick)
    PC_ISA_AVX_VNNI = 2,      ///< x86-64 AVX2 + FMA + AVX-VNNI (vpdpbusd, 256-bit)
    PC_ISA_NEON = 3,          ///< aarch64 baseline Advanced SIMD (smull / smlal / sadalp)
    PC_ISA_NEON_DOTPROD = 4,  ///< aarch64 Armv8.2 dot product (sdot)
    PC_ISA_AVX512_VNNI = 5,   ///< x86-64 AVX-512 VNNI (vpdpbusd on 512 bits: one block per instruction)
    PC_ISA_COUNT = 6
};

/// The path the kernels use now. The first call decides: the best path the CPU supports, capped
/// by the environment variable POCKETCLIP_ISA if it names one ("portable", "avx2", "avxvnni",
/// "avx512vnni" on x86-64, "neon", "dotprod" on aarch64): the best path at or below that rung of
/// the CPU's family ladder (avx2 < avxvnni < avx512vnni, neon < dotprod; portable below all).
/// So POCKETCLIP_ISA=avx2 runs AVX2 on any AVX2 CPU and portable on an older one; a name of the
/// other family, or an unknown name, changes nothing. The float kernels (attention, activations,
/// LayerNorm) follow the same choice.
int pc_kernels_isa(void);

/// Forces a path for every later call (tests and the profiler compare paths with it). A path the
/// CPU cannot run is refused: returns the path now in use (equal to `isa` on success).
/// Not meant to be called while another thread is inside a kernel.
int pc_kernels_set_isa(int isa);

/// The name of a path ("portable", "avx2", ...), a static string.
const char *pc_kernels_isa_name(int isa);

/// Quantizes `m` rows of `k` floats asymmetric per row: uint8 with a zero point, stored shifted
/// by -128 into int8 so the int8 x int8 kernels read it unchanged. Per row, in binary32:
///     lo = min(min x, 0);  hi = max(max x, 0);  scale = (hi − lo) / 255
///     zp = scale == 0 ? 128 : clamp(round_half_away(−lo / scale), 0, 255)
///     q  = scale == 0 ? 0   : clamp(round_half_away(x / scale) + zp, 0, 255) − 128
/// so x ≈ scale · (q + 128 − zp), and 0 is exact (q = zp − 128). The range always holds 0, so a
/// row of positive values (after GELU) spends all 256 levels on [0, max], not half of them on
/// negatives that never occur: on ViT-B/32 text this is what lifts the embedding cosine with the
/// float model above 0.9995 (tools/bench/quant-sim.py). Every ISA path gives the same bytes as
/// Int8Reference.quantizeRows (Sources/CLIPKernels).
/// x: [m, k] finite floats; xq: [m, k] int8 out; xscale: [m] out; xzero: [m] zero points out.
void pc_quantize_rows_f32_q8(const float *x, int64_t m, int64_t k, int8_t *xq, float *xscale, int32_t *xzero);

/// Columns per packed weight panel: the layout is the same for every ISA path.
#define PC_Q8_PANEL 16

/// Bytes `pc_q8_pack` writes for W [n, k] with groups of `group` along k; 0 if the shape is not
/// supported (n < 1, k < 1, group not dividing k, group % 4 != 0 unless group == k,
/// or k > PC_Q8_MAX_K).
size_t pc_q8_packed_size(int64_t n, int64_t k, int64_t group);

/// The largest K: Σ (q + 128 − zp)·w, up to K·255·127 in magnitude, must fit an int32
/// accumulator (255·127·65536 = 2122383360 < 2^31).
#define PC_Q8_MAX_K 65536

/// Repacks W [n, k] int8 (|w| <= 127) and its scales wscale [n, k / group] into panels of
/// PC_Q8_PANEL columns (layout in pc_kernels.c). `dst` holds pc_q8_packed_size(n, k, group)
/// bytes; 64-byte alignment is best (loads are unaligned-safe either way). Returns 0, or -1 if
/// the shape is not supported (nothing written).
int pc_q8_pack(const int8_t *w, const float *wscale, int64_t n, int64_t k, int64_t group, void *dst);

/// y[i, j] ≈ (Σ_g (Σ_{t in group g} (xq[i, t] + 128 − xzero[i]) · w[j, t]) · wscale[j, g]) · xscale[i]
///           (+ bias[j])
/// for rows i in [0, m) and columns j in [n0, n1); other columns of y are not touched. Exactly,
/// with D_g = Σ_{t in g} (xq[i, t] + 128) · w[j, t] (an exact int32) and zsum[j] = Σ_g colsum_g ·
/// wscale[j, g] (fused, in order, computed by pc_q8_pack; colsum_g = Σ_{t in g} w[j, t]):
///     s = +0;  s = fmaf(D_g, wscale[j, g], s) for g = 0, 1, ...
///     y = fmaf(−xzero[i], zsum[j], s) · xscale[i];  y = y + bias[j]
/// (the zero-point term folded into one float per column: pc_internal.h says why and what it
/// costs). xq, xscale, xzero: [m, k], [m], [m] as pc_quantize_rows_f32_q8 writes them (zero
/// points in 0...255); packed_w from pc_q8_pack with the same n, k, group; bias: [n] or NULL;
/// y: [m, ldy] floats (ldy >= n). Every path performs these roundings in this order (fused
/// operations only where written, never contraction), so a column's value does not depend on
/// the n-range, on m, on which rows are computed together, or on the CPU.
/// Returns 0, or -1 on an unsupported shape or range (nothing written).
int pc_gemm_q8(const int8_t *xq, const float *xscale, const int32_t *xzero, const void *packed_w,
               const float *bias, float *y, int64_t ldy, int64_t m, int64_t n, int64_t k, int64_t group,
               int64_t n0, int64_t n1);

/// Floats of scratch pc_attention_f32 needs: head_dim · roundup(tokens, 8) + 4 · roundup(tokens, 8).
size_t pc_attention_scratch_floats(int64_t tokens, int64_t dim, int64_t heads);

/// Multi-head scaled dot-product attention over one sequence, the semantics of `attention` in
/// Sources/CLIPKernels/FloatKernels.swift: qkv [T, 3·D] (q, k, v side by side in each row),
/// out [T, D], H heads of D/H. With `causal`, row t attends to 0...t only, and the masked
/// columns are never read, so row t does not depend on T. The portable path uses libm expf;
/// the AVX2 path uses FMA for the dot products and an 8-lane exp polynomial (~2 ulp, pc_exp8)
/// in the softmax, so results differ from the Swift definition by float rounding only
/// (Tests/CLIPKernelsTests bound it).
/// scratch: pc_attention_scratch_floats(T, D, H) floats. Returns 0, or -1 on a bad shape.
int pc_attention_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                     int64_t heads, int causal);

/// pc_attention_f32 for heads [h0, h1) only: writes those heads' columns of out and nothing
/// else. A head's result does not depend on the range it is computed in, so threads may split
/// the heads of one sequence freely (each with its own scratch). Returns 0, or -1 on a bad shape
/// or range.
int pc_attention_heads_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                           int64_t heads, int causal, int64_t h0, int64_t h1);

/// pc_attention_heads_f32 for query rows [q0, q1) only (every key and value row is still read,
/// up to q1 − 1 when causal): writes those rows of out for heads [h0, h1) and nothing else. A
/// row's values are the same bits as in a full call, so a tower whose last block needs one row
/// (the class token, the EOT token) can compute only that row. Returns 0, or -1 on a bad range.
int pc_attention_rows_f32(const float *qkv, float *out, float *scratch, int64_t tokens, int64_t dim,
                          int64_t heads, int causal, int64_t h0, int64_t h1, int64_t q0, int64_t q1);

/// The MLP activations in place over n floats, the formulas of `geluInPlace` / `quickGELUInPlace` in
/// FloatKernels.swift: GELU x·½(1 + erf(x/√2)) and QuickGELU x·σ(1.702·x).
/// The portable path calls libm (erff, expf) exactly like the Swift definition; the AVX2 + FMA
/// path evaluates 8 lanes with polynomial approximations whose maximum error is stated in
/// pc_activation.c and checked by Tests/CLIPKernelsC/test_kernels.c (absolute error < 1e-6 for
/// |x| <= 1 and < 1e-6·|x| beyond: far below the int8 step (max − min)/255 the next matmul
/// quantizes to).
void pc_gelu_f32(float *x, int64_t n);
void pc_quick_gelu_f32(float *x, int64_t n);

/// LayerNorm over `rows` rows of `dim` floats, the formula of `layerNorm` in FloatKernels.swift:
/// y = (x − mean) / sqrt(var + eps) · gamma + beta, mean and (biased) variance summed in double.
/// Every path rounds identically (the double sums in a fixed 8-lane order, pc_norm.c), so the
/// result does not depend on the ISA; it differs from the Swift definition by float rounding only.
/// x and y: [rows, dim], may not overlap; gamma, beta: [dim].
void pc_layernorm_f32(const float *x, float *y, const float *gamma, const float *beta, int64_t rows,
                      int64_t dim, float eps);

/// The residual add and the LayerNorm after it: x += res (in place, one float add per value),
/// then y = LayerNorm(x) exactly as pc_layernorm_f32. x, res, y: [rows, dim], y overlaps neither.
void pc_add_layernorm_f32(float *x, const float *res, float *y, const float *gamma, const float *beta,
                          int64_t rows, int64_t dim, float eps);

/// A persistent pool of worker threads for the runtime's parallel regions (pc_pool.c).
typedef struct pc_pool pc_pool;
/// One part of a job: called with the `ctx` given to pc_pool_run and a part index.
typedef void (*pc_pool_fn)(void *ctx, int64_t part);

/// A pool that runs jobs on `threads` threads: the caller of pc_pool_run plus threads − 1
/// workers (none for threads <= 1). Workers spin briefly after each job, then sleep. Returns
/// NULL only if memory is exhausted (pc_pool_run then runs everything on the caller).
pc_pool *pc_pool_create(int threads);

/// Stops and joins the workers and frees the pool. No job may be running.
void pc_pool_destroy(pc_pool *pool);

/// Calls fn(ctx, part) once for every part in [0, parts), spread over the pool's threads (the
/// caller included), and returns when all have finished. Which thread runs a part is not
/// fixed, so a part must not depend on it. Safe to call from several threads or from inside a
/// part: a call that finds the pool busy runs all its parts on the calling thread.
void pc_pool_run(pc_pool *pool, int64_t parts, pc_pool_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
