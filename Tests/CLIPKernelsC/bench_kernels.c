// GOP/s of pc_gemm_q8 (and pc_quantize_rows_f32_q8) on the CLIP shapes, one thread, for every
// path this CPU has. Run through tools/bench/bench-kernels.sh. GOP = 2·M·N·K / 1e9 (a
// multiply-add counts as two operations). Reports the best of several repetitions
// (the machine is shared; the best is the least disturbed).
#define _POSIX_C_SOURCE 199309L
#include "pc_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double bench(int64_t m, int64_t n, int64_t k, int64_t g, double min_seconds) {
    int8_t *x = malloc((size_t)(m * k)), *w = malloc((size_t)(n * k));
    float *xs = malloc(sizeof(float) * (size_t)m), *ws = malloc(sizeof(float) * (size_t)(n * (k / g)));
    float *bias = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)(m * n));
    int32_t *xz = malloc(sizeof(int32_t) * (size_t)m);
    for (int64_t i = 0; i < m * k; i++) x[i] = (int8_t)((i * 37 + 11) % 256 - 128);
    for (int64_t i = 0; i < m; i++) xz[i] = (int32_t)((i * 29 + 3) % 256);
    for (int64_t i = 0; i < n * k; i++) w[i] = (int8_t)((i * 53 + 5) % 255 - 127);
    for (int64_t i = 0; i < m; i++) xs[i] = 0.01f;
    for (int64_t i = 0; i < n * (k / g); i++) ws[i] = 0.02f;
    for (int64_t i = 0; i < n; i++) bias[i] = 0.5f;
    size_t bytes = pc_q8_packed_size(n, k, g);
    void *pw = aligned_alloc(64, (bytes + 63) / 64 * 64);
    pc_q8_pack(w, ws, n, k, g, pw);
    double best = 1e30, total = 0;
    int reps = 0;
    while (total < min_seconds || reps < 3) {
        double t0 = now();
        pc_gemm_q8(x, xs, xz, pw, bias, y, n, m, n, k, g, 0, n);
        double dt = now() - t0;
        if (dt < best) best = dt;
        total += dt;
        reps++;
    }
    free(x); free(w); free(xs); free(xz); free(ws); free(bias); free(y); free(pw);
    return 2.0 * m * n * k / best / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    // Weight scales per group of G along K (0: one per output channel, the ViT default; 128: the
    // converter's default for text blocks). A shape whose K G does not divide stays per channel.
    int64_t group = argc > 2 ? atoll(argv[2]) : 0;
    static const struct { const char *name; int64_t m, n, k; } shapes[] = {
        {"vit qkv      [50,768]x[2304,768]", 50, 2304, 768},
        {"vit out      [50,768]x[768,768]", 50, 768, 768},
        {"vit fc       [50,768]x[3072,768]", 50, 3072, 768},
        {"vit proj     [50,3072]x[768,3072]", 50, 768, 3072},
        {"vit patch    [49,3072]x[768,3072]", 49, 768, 3072},
        {"vit fc b8    [400,768]x[3072,768]", 400, 3072, 768},
        {"vit proj b8  [400,3072]x[768,3072]", 400, 768, 3072},
        {"text qkv     [77,512]x[1536,512]", 77, 1536, 512},
        {"text out     [77,512]x[512,512]", 77, 512, 512},
        {"text fc      [77,512]x[2048,512]", 77, 2048, 512},
        {"text proj    [77,2048]x[512,2048]", 77, 512, 2048},
        {"text 8 tok   [8,512]x[2048,512]", 8, 2048, 512},
        {"text 8 tok   [8,2048]x[512,2048]", 8, 512, 2048},
        {"1 row        [1,768]x[3072,768]", 1, 3072, 768},
    };
    int isas[8], nisa = 0;
    int best = pc_kernels_isa();
    for (int isa = PC_ISA_PORTABLE; isa < PC_ISA_COUNT; isa++)
        if (pc_kernels_set_isa(isa) == isa) isas[nisa++] = isa;
    pc_kernels_set_isa(best);
    printf("GOP/s, one thread, best of >= %.1f s per cell (dispatched path: %s), weight scales %s\n", seconds,
           pc_kernels_isa_name(best), group > 0 ? "per group (below)" : "per output channel");
    if (group > 0) printf("group size %lld along K (per channel where it does not divide K)\n", (long long)group);
    printf("%-36s", "shape");
    for (int i = 0; i < nisa; i++) printf(" %9s", pc_kernels_isa_name(isas[i]));
    printf("\n");
    // ViT-B/32 image at batch 1: 12 blocks of qkv + out + fc + proj, plus the patch embedding.
    double vit_ms[8] = {0};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        printf("%-36s", shapes[s].name);
        for (int i = 0; i < nisa; i++) {
            pc_kernels_set_isa(isas[i]);
            int64_t k = shapes[s].k, g = group > 0 && k % group == 0 ? group : k;
            double gops = bench(shapes[s].m, shapes[s].n, k, g, seconds);
            double gop = 2.0 * shapes[s].m * shapes[s].n * shapes[s].k / 1e9;
            if (s < 4) vit_ms[i] += 12 * gop / gops * 1e3;
            if (s == 4) vit_ms[i] += gop / gops * 1e3;
            printf(" %9.1f", gops);
        }
        printf("\n");
    }
    printf("%-36s", "ViT-B/32 matmuls, batch 1 (ms)");
    for (int i = 0; i < nisa; i++) printf(" %9.1f", vit_ms[i]);
    printf("\n");
    // Float attention of the ViT-B/32 image tower (T = 50, D = 768, 12 heads) over 12 layers,
    // and the text tower (T = 77, D = 512, 8 heads, causal) over 12 layers.
    static const struct { const char *name; int64_t t, d, h; int causal; } att[] = {
        {"attention ViT-B/32 x12 layers (ms)", 50, 768, 12, 0},
        {"attention text 77 tok x12 (ms)", 77, 512, 8, 1},
    };
    for (size_t a = 0; a < 2; a++) {
        int64_t t = att[a].t, d = att[a].d;
        float *qkv = malloc(sizeof(float) * (size_t)(t * 3 * d)), *o = malloc(sizeof(float) * (size_t)(t * d));
        float *scr = malloc(sizeof(float) * pc_attention_scratch_floats(t, d, att[a].h));
        for (int64_t i = 0; i < t * 3 * d; i++) qkv[i] = (float)((i * 37) % 1001) / 500.0f - 1.0f;
        printf("%-36s", att[a].name);
        for (int i = 0; i < nisa; i++) {
            pc_kernels_set_isa(isas[i]);
            double bestt = 1e30, total = 0;
            for (int rep = 0; rep < 5 || total < seconds; rep++) {
                double t0 = now();
                for (int l = 0; l < 12; l++) pc_attention_f32(qkv, o, scr, t, d, att[a].h, att[a].causal);
                double dt = now() - t0;
                total += dt;
                if (dt < bestt) bestt = dt;
            }
            printf(" %9.2f", bestt * 1e3);
        }
        printf("\n");
        free(qkv); free(o); free(scr);
    }
    // GELU and QuickGELU of one ViT-B/32 forward at batch 1: 12 blocks × [50, 3072].
    for (int quick = 0; quick < 2; quick++) {
        float *x = malloc(sizeof(float) * 50 * 3072);
        printf("%-36s", quick ? "quick-gelu ViT-B/32 forward (ms)" : "gelu ViT-B/32 forward (ms)");
        for (int i = 0; i < nisa; i++) {
            pc_kernels_set_isa(isas[i]);
            double bestt = 1e30, total = 0;
            for (int rep = 0; rep < 5 || total < seconds; rep++) {
                for (int64_t j = 0; j < 50 * 3072; j++) x[j] = (float)((j * 37) % 1001) / 250.0f - 2.0f;
                double t0 = now();
                for (int l = 0; l < 12; l++) {
                    if (quick) pc_quick_gelu_f32(x, 50 * 3072); else pc_gelu_f32(x, 50 * 3072);
                }
                double dt = now() - t0;
                total += dt;
                if (dt < bestt) bestt = dt;
            }
            printf(" %9.2f", bestt * 1e3);
        }
        printf("\n");
        free(x);
    }
    // Activation quantization of one ViT-B/32 forward at batch 1: per block, three [50, 768]
    // inputs (qkv, out, fc) and one [50, 3072] (proj).
    {
        float *x = malloc(sizeof(float) * 50 * 3072);
        int8_t *q = malloc(50 * 3072);
        float *sc = malloc(sizeof(float) * 50);
        int32_t *zp = malloc(sizeof(int32_t) * 50);
        for (int64_t i = 0; i < 50 * 3072; i++) x[i] = (float)((i * 37) % 1001) / 500.0f - 1.0f;
        printf("%-36s", "quantize rows ViT-B/32 forward (ms)");
        for (int i = 0; i < nisa; i++) {
            pc_kernels_set_isa(isas[i]);
            double bestt = 1e30, total = 0;
            for (int rep = 0; rep < 5 || total < seconds; rep++) {
                double t0 = now();
                for (int l = 0; l < 12; l++) {
                    for (int j = 0; j < 3; j++) pc_quantize_rows_f32_q8(x, 50, 768, q, sc, zp);
                    pc_quantize_rows_f32_q8(x, 50, 3072, q, sc, zp);
                }
                double dt = now() - t0;
                total += dt;
                if (dt < bestt) bestt = dt;
            }
            printf(" %9.2f", bestt * 1e3);
        }
        printf("\n");
        free(x); free(q); free(sc); free(zp);
    }
    pc_kernels_set_isa(best);
    return 0;
}
