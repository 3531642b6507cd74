// Holds every ISA path of the C kernels to a scalar C reference, on the CPU it runs on.
// Built and run by tools/ci/test-c-kernels.sh natively (x86-64) and under qemu (aarch64 A72 / A76).
//
//   cc -O2 -ISources/CLIPKernelsC/include Sources/CLIPKernelsC/*.c Tests/CLIPKernelsC/test_kernels.c -lm
//   ./a.out            # every path this CPU has; last line "N passed, M failed"
//   ./a.out portable   # only the named path
//
// Exactness: every path must give the reference's bits, with unit scales and with real scales and
// bias: every path performs the same roundings in the same order, fused only where the
// definition says so (pc_internal.h), which is a property the runtime relies on (a board and a
// desktop give the same embeddings). With unit scales the result is also held to the exact
// integer Σ (x + 128 − zp)·w within the bound the float steps allow (gemm_int_bound).
#include "pc_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static int passed, failed;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static int8_t rnd_q(void) { return (int8_t)((int)(rnd() % 255) - 127); }   // weights: never -128
static int8_t rnd_x(void) { return (int8_t)((int)(rnd() % 256) - 128); }   // activations: all bytes
static float rnd_f(void) { return ((float)(rnd() % 2000001) - 1000000.0f) / 1000000.0f; }

static void check(int ok, const char *what, int64_t m, int64_t n, int64_t k, int64_t g, const char *detail) {
    if (ok) { passed++; return; }
    failed++;
    if (failed <= 20) fprintf(stderr, "FAIL %s m=%lld n=%lld k=%lld g=%lld %s\n", what, (long long)m, (long long)n,
                              (long long)k, (long long)g, detail);
}

// The definition of pc_kernels.h: D_g = Σ (x + 128)·w exact, s = Σ_g fmaf(D_g, ws_g, s) from +0,
// y = fmaf(−zp, zsum, s)·xs + bias with zsum = Σ_g fmaf(colsum_g, ws_g, ·) from +0.
static void ref_gemm(const int8_t *x, const float *xs, const int32_t *xz, const int8_t *w, const float *ws,
                     const float *bias, float *y, int64_t m, int64_t n, int64_t k, int64_t g) {
    int64_t groups = k / g;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0, z = 0;
            for (int64_t gi = 0; gi < groups; gi++) {
                int32_t d = 0, cs = 0;
                for (int64_t t = gi * g; t < (gi + 1) * g; t++) {
                    d += (x[i * k + t] + 128) * w[j * k + t];
                    cs += w[j * k + t];
                }
                s = fmaf((float)d, ws[j * groups + gi], s);
                z = fmaf((float)cs, ws[j * groups + gi], z);
            }
            float v = fmaf(-(float)xz[i], z, s) * xs[i];
            if (bias) v = v + bias[j];
            y[i * n + j] = v;
        }
}

// How far the unit-scale result may sit from the exact integer Σ (x + 128 − zp)·w: each of the
// groups + 2 roundings (the conversions of D_g are exact below 2^24 and otherwise within the
// same bound) errs by at most half an ulp of a value no larger than Σ_g |D_g| + zp·Σ_g |colsum_g|,
// so 2^-23 · (groups + 2) · that bound covers them with room to spare.
static double gemm_int_bound(const int8_t *x, const int32_t *xz, const int8_t *w, int64_t i, int64_t j,
                             int64_t k, int64_t g) {
    double mag = 0;
    for (int64_t t0 = 0; t0 < k; t0 += g) {
        int64_t d = 0, cs = 0;
        for (int64_t t = t0; t < t0 + g; t++) {
            d += (x[i * k + t] + 128) * w[j * k + t];
            cs += w[j * k + t];
        }
        mag += fabs((double)d) + (double)xz[i] * fabs((double)cs);
    }
    return ldexp(mag, -23) * (double)(k / g + 2);
}

static void test_gemm(int64_t m, int64_t n, int64_t k, int64_t g) {
    int64_t groups = k / g;
    int8_t *x = malloc((size_t)(m * k)), *w = malloc((size_t)(n * k));
    float *xs = malloc(sizeof(float) * (size_t)m), *ws = malloc(sizeof(float) * (size_t)(n * groups));
    int32_t *xz = malloc(sizeof(int32_t) * (size_t)m);
    float *ones_m = malloc(sizeof(float) * (size_t)m), *ones_w = malloc(sizeof(float) * (size_t)(n * groups));
    float *bias = malloc(sizeof(float) * (size_t)n);
    float *y = malloc(sizeof(float) * (size_t)(m * n)), *r = malloc(sizeof(float) * (size_t)(m * n));
    for (int64_t i = 0; i < m * k; i++) x[i] = rnd_x();
    for (int64_t i = 0; i < n * k; i++) w[i] = rnd_q();
    // Extremes. Row 0 all -128 against column 0 of ±127 in pairs: every vpmaddubsw / smlal pair
    // is ±2·128·127 (the sign trick's worst case). Row 1 all 127 (u8 255 for vpdpbusd) with the
    // largest zero-point term. Zero points cover 0...255, the ends included.
    for (int64_t t = 0; t < k; t++) { x[t] = -128; w[t] = (t & 2) ? -127 : 127; }
    if (m > 1) for (int64_t t = 0; t < k; t++) x[k + t] = 127;
    // Column 1 all 127: against row 1 the unsigned sum 255·127·k, beyond 2^24 from k = 519 on
    // (where the float steps round and gemm_int_bound is what holds).
    if (n > 1) for (int64_t t = 0; t < k; t++) w[k + t] = 127;
    for (int64_t i = 0; i < m; i++) {
        xs[i] = rnd_f() * 0.01f + 0.02f;
        ones_m[i] = 1;
        xz[i] = i == 0 ? 255 : i == 1 ? 0 : (int32_t)(rnd() % 256);
    }
    for (int64_t i = 0; i < n * groups; i++) { ws[i] = rnd_f() * 0.01f + 0.015f; ones_w[i] = 1; }
    for (int64_t j = 0; j < n; j++) bias[j] = rnd_f();
    size_t bytes = pc_q8_packed_size(n, k, g);
    void *pw = aligned_alloc(64, (bytes + 63) / 64 * 64), *p1 = aligned_alloc(64, (bytes + 63) / 64 * 64);
    char detail[128];

    // 1. Unit scales, no bias, whole range: the reference's bits, and within gemm_int_bound of
    //    the exact integer.
    pc_q8_pack(w, ones_w, n, k, g, p1);
    ref_gemm(x, ones_m, xz, w, ones_w, NULL, r, m, n, k, g);
    memset(y, 0, sizeof(float) * (size_t)(m * n));
    int rc = pc_gemm_q8(x, ones_m, xz, p1, NULL, y, n, m, n, k, g, 0, n);
    int64_t bad = -1, far = -1;
    for (int64_t i = 0; i < m * n && bad < 0; i++) if (memcmp(&y[i], &r[i], 4) != 0) bad = i;
    snprintf(detail, sizeof detail, "rc=%d first mismatch %lld: %.1f vs %.1f", rc, (long long)bad,
             bad >= 0 ? y[bad] : 0.0, bad >= 0 ? r[bad] : 0.0);
    check(rc == 0 && bad < 0, "gemm-unit-scales", m, n, k, g, detail);
    double exact = 0, bound = 0;
    for (int64_t i = 0; i < m && far < 0; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t e = 0;
            for (int64_t t = 0; t < k; t++) e += (int64_t)(x[i * k + t] + 128 - xz[i]) * w[j * k + t];
            bound = gemm_int_bound(x, xz, w, i, j, k, g);
            if (fabs((double)y[i * n + j] - (double)e) > bound) { far = i * n + j; exact = (double)e; break; }
        }
    snprintf(detail, sizeof detail, "first beyond the bound %lld: %.1f vs exact %.1f (bound %.2f)", (long long)far,
             far >= 0 ? y[far] : 0.0, exact, bound);
    check(far < 0, "gemm-int-near-exact", m, n, k, g, detail);

    // 2. Scales and bias, bit-identical, computed in 3 column ranges that split panels.
    pc_q8_pack(w, ws, n, k, g, pw);
    ref_gemm(x, xs, xz, w, ws, bias, r, m, n, k, g);
    for (int64_t i = 0; i < m * n; i++) y[i] = NAN;
    int64_t a = n / 3, b = n - n / 5;
    rc = pc_gemm_q8(x, xs, xz, pw, bias, y, n, m, n, k, g, a, b);
    rc |= pc_gemm_q8(x, xs, xz, pw, bias, y, n, m, n, k, g, 0, a);
    rc |= pc_gemm_q8(x, xs, xz, pw, bias, y, n, m, n, k, g, b, n);
    bad = -1;
    for (int64_t i = 0; i < m * n && bad < 0; i++) if (memcmp(&y[i], &r[i], 4) != 0) bad = i;
    snprintf(detail, sizeof detail, "rc=%d split %lld/%lld first mismatch %lld: %.9g vs %.9g", rc, (long long)a,
             (long long)b, (long long)bad, bad >= 0 ? y[bad] : 0.0, bad >= 0 ? r[bad] : 0.0);
    check(rc == 0 && bad < 0, "gemm-scaled-split", m, n, k, g, detail);

    // 3. Columns outside [n0, n1) are never written.
    for (int64_t i = 0; i < m * n; i++) y[i] = -7;
    pc_gemm_q8(x, xs, xz, pw, bias, y, n, m, n, k, g, a, b);
    bad = -1;
    for (int64_t i = 0; i < m && bad < 0; i++)
        for (int64_t j = 0; j < n; j++)
            if ((j < a || j >= b) && y[i * n + j] != -7) { bad = i * n + j; break; }
    check(bad < 0, "gemm-range-untouched", m, n, k, g, "");

    free(x); free(w); free(xs); free(xz); free(ws); free(ones_m); free(ones_w); free(bias); free(y); free(r);
    free(pw); free(p1);
}

// The definition of pc_kernels.h, written out again (roundf is round-half-away).
static void ref_quantize(const float *x, int64_t m, int64_t k, int8_t *q, float *s, int32_t *z) {
    for (int64_t i = 0; i < m; i++) {
        float lo = 0, hi = 0;
        for (int64_t t = 0; t < k; t++) { lo = fminf(lo, x[i * k + t]); hi = fmaxf(hi, x[i * k + t]); }
        float scale = (hi - lo) / 255.0f;
        s[i] = scale;
        z[i] = scale == 0 ? 128 : (int32_t)fminf(fmaxf(roundf(-lo / scale), 0), 255);
        for (int64_t t = 0; t < k; t++) {
            float v = scale == 0 ? 128 : fminf(fmaxf(roundf(x[i * k + t] / scale) + (float)z[i], 0), 255);
            q[i * k + t] = (int8_t)((int)v - 128);
        }
    }
}

// Row kinds the runtime meets, plus the rounding edge cases (rows beyond m are skipped).
static void test_quantize(int64_t m, int64_t k) {
    float *x = malloc(sizeof(float) * (size_t)(m * k));
    int8_t *q = malloc((size_t)(m * k)), *rq = malloc((size_t)(m * k));
    float *s = malloc(sizeof(float) * (size_t)m), *rs = malloc(sizeof(float) * (size_t)m);
    int32_t *z = malloc(sizeof(int32_t) * (size_t)m), *rz = malloc(sizeof(int32_t) * (size_t)m);
    for (int64_t i = 0; i < m * k; i++) x[i] = rnd_f() * 3;
    // Row 0 hits exact ties: lo -100 and hi 155 make scale 1 and zp 100, so x / scale = n.5 must
    // round away from 0.
    for (int64_t t = 0; t < k; t++) x[t] = (float)((int)(t % 254) - 99) + ((t & 1) ? 0.5f : -0.5f);
    x[0] = -100;
    if (k > 1) x[1] = 155;
    if (m > 1) for (int64_t t = 0; t < k; t++) x[k + t] = 0;                           // all zero
    if (m > 2) for (int64_t t = 0; t < k; t++) x[2 * k + t] = rnd_f() * 1e-40f;      // subnormal
    if (m > 3) {  // a zero point that is a tie (-lo / scale = 2.5) and near-ties 0.49999997
        for (int64_t t = 0; t < k; t++) x[3 * k + t] = 0.49999997f * (t & 1 ? 1 : -1);
        x[3 * k] = -2.5f;
        if (k > 1) x[3 * k + 1] = 252.5f;
    }
    if (m > 4) for (int64_t t = 0; t < k; t++) x[4 * k + t] = fabsf(rnd_f()) * 2;    // all positive (post-GELU)
    if (m > 5) for (int64_t t = 0; t < k; t++) x[5 * k + t] = -fabsf(rnd_f()) - 0.5f; // all negative
    if (m > 6) x[6 * k + k / 2] = 1e4f;                                               // one huge outlier
    ref_quantize(x, m, k, rq, rs, rz);
    pc_quantize_rows_f32_q8(x, m, k, q, s, z);
    int ok = memcmp(q, rq, (size_t)(m * k)) == 0 && memcmp(s, rs, sizeof(float) * (size_t)m) == 0 &&
             memcmp(z, rz, sizeof(int32_t) * (size_t)m) == 0;
    check(ok, "quantize-bytes", m, 0, k, 0, "");
    // What the bytes mean: x ≈ scale · (q + 128 − zp) within half a step (plus float rounding of
    // x / scale, < 1e-4 of a step here, and for a subnormal scale its absolute rounding, up to
    // half the smallest subnormal, times |q + 128 − zp| <= 255), and 0 dequantizes to exactly 0.
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t t = 0; t < k; t++) {
            double back = (double)s[i] * (q[i * k + t] + 128 - z[i]);
            double err = fabs(back - x[i * k + t]) - (0.5 + 1e-4) * s[i] - 255 * 0.5 * 0x1p-149;
            if (x[i * k + t] == 0 && back != 0) err = 1;
            if (err > worst) worst = err;
        }
    char detail[64];
    snprintf(detail, sizeof detail, "worst excess over half a step %.3g", worst);
    check(worst <= 0, "quantize-dequantize", m, 0, k, 0, detail);
    free(x); free(q); free(rq); free(s); free(rs); free(z); free(rz);
}

// Attention against a double-precision scalar reference. The kernel works in float with its own
// summation order, so the bound is relative to max|v| (outputs are convex combinations of V
// rows): 1e-5, ~3x the worst error measured against the float Swift definition.
static void test_attention(int64_t t, int64_t d, int64_t h, int causal) {
    int64_t hd = d / h;
    float *qkv = malloc(sizeof(float) * (size_t)(t * 3 * d)), *o = malloc(sizeof(float) * (size_t)(t * d));
    float *scr = malloc(sizeof(float) * pc_attention_scratch_floats(t, d, h));
    double *p = malloc(sizeof(double) * (size_t)t);
    float maxv = 0;
    for (int64_t i = 0; i < t * 3 * d; i++) qkv[i] = rnd_f() * 4;
    for (int64_t j = 0; j < t; j++)
        for (int64_t c = 0; c < d; c++) maxv = fmaxf(maxv, fabsf(qkv[j * 3 * d + 2 * d + c]));
    int rc = pc_attention_f32(qkv, o, scr, t, d, h, causal);
    double worst = 0;
    for (int64_t head = 0; head < h; head++)
        for (int64_t i = 0; i < t; i++) {
            int64_t span = causal ? i + 1 : t;
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j < span; j++) {
                double s = 0;
                for (int64_t c = 0; c < hd; c++)
                    s += (double)qkv[i * 3 * d + head * hd + c] * qkv[j * 3 * d + d + head * hd + c];
                p[j] = s / sqrt((double)hd);
                if (p[j] > mx) mx = p[j];
            }
            for (int64_t j = 0; j < span; j++) { p[j] = exp(p[j] - mx); sum += p[j]; }
            for (int64_t c = 0; c < hd; c++) {
                double acc = 0;
                for (int64_t j = 0; j < span; j++) acc += p[j] / sum * qkv[j * 3 * d + 2 * d + head * hd + c];
                double err = fabs(acc - o[i * d + head * hd + c]);
                if (!(err <= worst)) worst = err;
            }
        }
    char detail[96];
    snprintf(detail, sizeof detail, "rc=%d worst %.3g of max|v| %.3g", rc, worst, (double)maxv);
    check(rc == 0 && worst <= 1e-5 * maxv, causal ? "attention-causal" : "attention", t, d, h, h, detail);
    // Heads computed in two ranges (as two threads do) give the same bits as all at once.
    float *o2 = malloc(sizeof(float) * (size_t)(t * d));
    for (int64_t i = 0; i < t * d; i++) o2[i] = NAN;
    rc = pc_attention_heads_f32(qkv, o2, scr, t, d, h, causal, 0, h / 2);
    rc |= pc_attention_heads_f32(qkv, o2, scr, t, d, h, causal, h / 2, h);
    check(rc == 0 && memcmp(o, o2, sizeof(float) * (size_t)(t * d)) == 0, "attention-head-ranges", t, d, h, h, "");
    check(pc_attention_heads_f32(qkv, o2, scr, t, d, h, causal, 0, h + 1) == -1, "attention-bad-range", t, d, h, h, "");
    // One query row at a time (the last block's pooled row), and odd row ranges: the same bits.
    for (int64_t i = 0; i < t * d; i++) o2[i] = NAN;
    rc = 0;
    for (int64_t q = 0; q < t; q += 3) rc |= pc_attention_rows_f32(qkv, o2, scr, t, d, h, causal, 0, h, q, q + 3 < t ? q + 3 : t);
    int rows_ok = rc == 0 && memcmp(o, o2, sizeof(float) * (size_t)(t * d)) == 0;
    for (int64_t i = 0; i < t * d; i++) o2[i] = NAN;
    rc = pc_attention_rows_f32(qkv, o2, scr, t, d, h, causal, 0, h, t - 1, t);
    rows_ok &= rc == 0 && memcmp(o + (t - 1) * d, o2 + (t - 1) * d, sizeof(float) * (size_t)d) == 0 && isnan(o2[0]) == (t > 1);
    check(rows_ok, "attention-query-rows", t, d, h, h, "");
    free(o2);
    free(qkv); free(o); free(scr); free(p);
}

// GELU / QuickGELU against double precision over ~2 M floats evenly spaced in bit pattern over
// [-30, 30] (every magnitude from subnormals to the tails, both signs). Bound: 1e-6 · max(1, |x|) absolute, the
// accuracy pc_kernels.h promises; the measured worst case is printed.
static void test_activation(int quick) {
    const int64_t cap = 1 << 21;
    float *x = malloc(sizeof(float) * (size_t)cap), *y = malloc(sizeof(float) * (size_t)cap);
    int64_t n = 0;
    const uint32_t step = 0x41f00000u / (uint32_t)(cap / 2) + 1;  // 0x41f00000 is 30.0f
    for (uint32_t b = 0; b < 0x41f00000u && n < cap - 1; b += step) {
        float f;
        memcpy(&f, &b, 4);
        x[n++] = f;
        if (n < cap) x[n++] = -f;
    }
    memcpy(y, x, sizeof(float) * (size_t)n);
    if (quick) pc_quick_gelu_f32(y, n); else pc_gelu_f32(y, n);
    double worst = 0, at = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        double ref = quick ? v / (1 + exp(-1.702 * v)) : 0.5 * v * (1 + erf(v / sqrt(2.0)));
        double err = fabs(y[i] - ref) / fmax(1.0, fabs(v));
        if (!(err <= worst)) { worst = err; at = v; }
    }
    char detail[96];
    snprintf(detail, sizeof detail, "worst %.3g at x = %.6g over %lld values", worst, at, (long long)n);
    check(worst < 1e-6, quick ? "quick-gelu" : "gelu", n, 0, 0, 0, detail);
    if (getenv("PC_TEST_VERBOSE")) printf("  %s: %s\n", quick ? "quick-gelu" : "gelu", detail);
    free(x); free(y);
}

// LayerNorm: every path must be bit-identical to this scalar statement of pc_norm.c's order
// (double sums in 8 lanes by i mod 8, lanes added pairwise; float scale and shift without FMA), so
// a board and a desktop normalize identically. The fused variant must equal add-then-normalize.
static double ln_lanes(const double l[8]) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

static void test_layernorm(int64_t rows, int64_t dim, float offset) {
    size_t nx = (size_t)(rows * dim);
    float *x = malloc(sizeof(float) * nx), *res = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * nx);
    float *ref = malloc(sizeof(float) * nx), *xs = malloc(sizeof(float) * nx), *g = malloc(sizeof(float) * (size_t)dim);
    float *b = malloc(sizeof(float) * (size_t)dim);
    for (size_t i = 0; i < nx; i++) { x[i] = offset + 3 * rnd_f(); res[i] = rnd_f(); }
    for (int64_t i = 0; i < dim; i++) { g[i] = 1 + rnd_f(); b[i] = rnd_f(); }
    const float eps = 1e-5f;
    for (int fused = 0; fused < 2; fused++) {
        memcpy(xs, x, sizeof(float) * nx);
        for (int64_t r = 0; r < rows; r++) {
            float *xr = xs + r * dim;
            if (fused) for (int64_t i = 0; i < dim; i++) xr[i] = xr[i] + res[r * dim + i];
            double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < dim; i++) l[i % 8] += (double)xr[i];
            double mean = ln_lanes(l) / (double)dim;
            for (int j = 0; j < 8; j++) l[j] = 0;
            for (int64_t i = 0; i < dim; i++) l[i % 8] += ((double)xr[i] - mean) * ((double)xr[i] - mean);
            double inv = 1.0 / sqrt(ln_lanes(l) / (double)dim + (double)eps);
            for (int64_t i = 0; i < dim; i++) ref[r * dim + i] = (float)(((double)xr[i] - mean) * inv) * g[i] + b[i];
        }
        float *xin = malloc(sizeof(float) * nx);
        memcpy(xin, x, sizeof(float) * nx);
        if (fused) pc_add_layernorm_f32(xin, res, y, g, b, rows, dim, eps);
        else pc_layernorm_f32(xin, y, g, b, rows, dim, eps);
        int ok = memcmp(y, ref, sizeof(float) * nx) == 0 && memcmp(xin, xs, sizeof(float) * nx) == 0;
        check(ok, fused ? "add-layernorm" : "layernorm", rows, dim, 0, 0, "not bit-identical to the reference");
        free(xin);
    }
    free(x); free(res); free(y); free(ref); free(xs); free(g); free(b);
}

// The pool: every part of every job runs exactly once, jobs never mix, a nested call (a part
// calling pc_pool_run on the same pool) runs inline instead of deadlocking, and workers that
// fell asleep wake up for the next job.
typedef struct { pc_pool *pool; _Atomic int hits[64]; int nested; } pool_job;

static void pool_part(void *ctx, int64_t part) { atomic_fetch_add(&((pool_job *)ctx)->hits[part], 1); }

static void pool_part_nested(void *ctx, int64_t part) {
    pool_job *j = ctx;
    atomic_fetch_add(&j->hits[part], 1);
    if (part == 0) {
        pool_job inner = {.pool = j->pool};
        pc_pool_run(j->pool, 5, pool_part, &inner);
        int ok = 1;
        for (int i = 0; i < 5; i++) ok &= atomic_load(&inner.hits[i]) == 1;
        j->nested = ok;
    }
}

static void test_pool(void) {
    for (int threads = 1; threads <= 4; threads++) {
        pc_pool *pool = pc_pool_create(threads);
        int ok = pool != NULL;
        for (int round = 0; round < 2000 && ok; round++) {
            pool_job j = {.pool = pool};
            int64_t parts = 1 + round % 64;
            pc_pool_run(pool, parts, pool_part, &j);
            for (int64_t i = 0; i < 64; i++) ok &= atomic_load(&j.hits[i]) == (i < parts ? 1 : 0);
        }
        pool_job n = {.pool = pool};
        pc_pool_run(pool, 3, pool_part_nested, &n);
        ok &= n.nested && atomic_load(&n.hits[0]) == 1 && atomic_load(&n.hits[2]) == 1;
        struct timespec nap = {0, 5000000};  // 5 ms: longer than the spin, the workers sleep
        nanosleep(&nap, NULL);
        pool_job late = {.pool = pool};
        pc_pool_run(pool, 7, pool_part, &late);
        for (int i = 0; i < 7; i++) ok &= atomic_load(&late.hits[i]) == 1;
        pc_pool_destroy(pool);
        check(ok, "pool", threads, 0, 0, 0, "a part ran twice, never, or in the wrong job");
    }
}

static int run_isa(int isa) {
    if (pc_kernels_set_isa(isa) != isa) return 0;
    int p0 = passed, f0 = failed;
    static const int64_t ms[] = {1, 3, 5, 50, 77};
    static const int64_t ns[] = {1, 7, 16, 17, 50};
    static const int64_t ks[][2] = {{1, 1}, {3, 3}, {4, 4}, {7, 7}, {33, 33}, {64, 32}, {100, 4},
                                    {100, 100}, {768, 768}, {768, 64}, {3072, 3072}, {513, 513}};
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
                if (ms[a] * ns[b] * ks[c][0] > 50 * 50 * 768) continue;  // keep qemu under a minute
                test_gemm(ms[a], ns[b], ks[c][0], ks[c][1]);
            }
    test_gemm(50, 2304, 768, 768);
    test_gemm(4, 40, 3072, 3072);
    static const int64_t at[][3] = {{50, 768, 12}, {77, 512, 8}, {1, 64, 1}, {7, 80, 2}, {33, 30, 3}};
    for (size_t a = 0; a < sizeof at / sizeof at[0]; a++)
        for (int causal = 0; causal < 2; causal++) test_attention(at[a][0], at[a][1], at[a][2], causal);
    test_activation(0);
    test_activation(1);
    static const int64_t ln[][2] = {{50, 768}, {3, 512}, {2, 7}, {4, 13}, {1, 1}, {5, 1000}};
    for (size_t c = 0; c < sizeof ln / sizeof ln[0]; c++) {
        test_layernorm(ln[c][0], ln[c][1], 0);
        test_layernorm(ln[c][0], ln[c][1], 300);  // a large mean: the two-pass variance must hold
    }
    static const int64_t qk[] = {1, 7, 8, 31, 32, 33, 768, 3072};
    for (size_t c = 0; c < sizeof qk / sizeof qk[0]; c++) test_quantize(8, qk[c]);
    // Unsupported shapes are refused, not computed.
    check(pc_q8_packed_size(4, 10, 5) == 0 && pc_q8_packed_size(4, 12, 5) == 0 &&
              pc_q8_packed_size(0, 8, 8) == 0 && pc_q8_packed_size(4, PC_Q8_MAX_K + 1, PC_Q8_MAX_K + 1) == 0,
          "refuse-shapes", 0, 0, 0, 0, "");
    printf("isa %s: %d passed, %d failed\n", pc_kernels_isa_name(isa), passed - p0, failed - f0);
    return 1;
}

int main(int argc, char **argv) {
    const char *dispatched = pc_kernels_isa_name(pc_kernels_isa());
    printf("dispatched: %s\n", dispatched);
    // POCKETCLIP_ISA caps the first choice: the caller says which path that cap must give here.
    const char *expect = getenv("PC_TEST_EXPECT_DISPATCH");
    if (expect) check(strcmp(expect, dispatched) == 0, "dispatch-cap", 0, 0, 0, 0, dispatched);
    int ran = 0;
    for (int isa = PC_ISA_PORTABLE; isa < PC_ISA_COUNT; isa++) {
        if (argc > 1 && strcmp(argv[1], pc_kernels_isa_name(isa)) != 0) continue;
        ran += run_isa(isa);
    }
    if (!ran) { fprintf(stderr, "no path ran (unknown or unsupported name?)\n"); return 2; }
    int p0 = passed, f0 = failed;
    test_pool();
    printf("pool: %d passed, %d failed\n", passed - p0, failed - f0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
