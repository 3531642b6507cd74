// Every differentiable op of the training module against central differences, on small odd
// shapes, and the BLAS matmul against a plain scalar definition.

@testable import CLIPTrain
import XCTest

final class LayerGradientTests: XCTestCase {
    /// The definition: out[n, o] = Σᵢ inp[n, i]·W[o, i] + b[o], accumulated in Double, with the
    /// bound any float32 evaluation keeps to: whatever sgemm kernel OpenBLAS picks (blocking,
    /// summation order, FMA or not), IC products plus the bias are IC + 1 roundings at most deep,
    /// so |fl − exact| ≤ γ_{IC+1}·(Σ|xᵢwᵢ| + |b|), γₙ = nu/(1 − nu), u = 2⁻²⁴ (Higham, Accuracy
    /// and Stability, §3.1); the Double result's own rounding to Float adds u·|exact|.
    func scalarMatmul(_ inp: [Float], _ w: [Float], _ b: [Float]?, N: Int, IC: Int, OC: Int) -> (out: [Float], bound: [Float]) {
        var out = zeros(N * OC), bound = zeros(N * OC)
        let u = 0x1p-24, gamma = Double(IC + 1) * u / (1 - Double(IC + 1) * u)
        for n in 0..<N {
            for o in 0..<OC {
                var s = Double(b?[o] ?? 0), magnitude = abs(Double(b?[o] ?? 0))
                for i in 0..<IC {
                    let p = Double(inp[n * IC + i]) * Double(w[o * IC + i])
                    s += p
                    magnitude += abs(p)
                }
                out[n * OC + o] = Float(s)
                bound[n * OC + o] = Float(gamma * magnitude + u * abs(s))
            }
        }
        return (out, bound)
    }

    /// Each element within its own γ bound (at most 2.3e-6·38 = 8.7e-5 for |x|, |w|, |b| ≤ 1); a
    /// transposed or misindexed operand is off by O(1).
    func testMatmulMatchesScalarReference() {
        let (N, IC, OC) = (7, 37, 13)
        let x = randomArray(N * IC, seed: 1), w = randomArray(OC * IC, seed: 2), b = randomArray(OC, seed: 3)
        for bias in [b, nil] {
            let got = withPointers([zeros(N * OC), x, w, bias ?? []]) { p in
                matmulForward(p[0], p[1], p[2], bias == nil ? nil : p[3], N: N, IC: IC, OC: OC)
            }[0]
            let want = scalarMatmul(x, w, bias, N: N, IC: IC, OC: OC)
            for i in got.indices {
                XCTAssertLessThanOrEqual(abs(got[i] - want.out[i]), want.bound[i], "element \(i), bias \(bias != nil)")
            }
        }
    }

    func testMatmul() {
        let (N, IC, OC) = (5, 7, 3)
        gradCheck("matmul", inputs: [randomArray(N * IC, seed: 4), randomArray(OC * IC, seed: 5), randomArray(OC, seed: 6)],
                  step: gradCheckLinearStep,
                  forward: { x in withPointers([zeros(N * OC)] + x) { p in matmulForward(p[0], p[1], p[2], p[3], N: N, IC: IC, OC: OC) }[0] },
                  backward: { x, dy in
                      Array(withPointers([zeros(N * IC), zeros(OC * IC), zeros(OC), dy] + x) { p in
                          matmulBackward(p[0], p[1], p[2], p[3], p[4], p[5], N: N, IC: IC, OC: OC)
                      }[0..<3])
                  })
    }

    func testLayerNorm() {
        let (N, C) = (3, 11)
        // Inputs with a non-zero mean and spread, gains away from 1, so every term matters.
        let x = randomArray(N * C, seed: 7, scale: 2).map { $0 + 0.5 }
        gradCheck("layernorm", inputs: [x, randomArray(C, seed: 8).map { $0 + 1 }, randomArray(C, seed: 9)],
                  forward: { x in
                      withPointers([zeros(N * C), zeros(N), zeros(N)] + x) { p in
                          layerNormForward(p[0], p[1], p[2], p[3], p[4], p[5], N: N, C: C)
                      }[0]
                  },
                  backward: { x, dy in
                      var mean = zeros(N), rstd = zeros(N)
                      let f = withPointers([zeros(N * C), zeros(N), zeros(N)] + x) { p in
                          layerNormForward(p[0], p[1], p[2], p[3], p[4], p[5], N: N, C: C)
                      }
                      mean = f[1]; rstd = f[2]
                      return Array(withPointers([zeros(N * C), zeros(C), zeros(C), dy, x[0], x[1], mean, rstd]) { p in
                          layerNormBackward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], N: N, C: C)
                      }[0..<3])
                  })
    }

    func testResidual() {
        let n = 9
        gradCheck("residual", inputs: [randomArray(n, seed: 10), randomArray(n, seed: 11)],
                  step: gradCheckLinearStep,
                  forward: { x in withPointers([zeros(n)] + x) { p in residualForward(p[0], p[1], p[2], count: n) }[0] },
                  backward: { _, dy in Array(withPointers([zeros(n), zeros(n), dy]) { p in residualBackward(p[0], p[1], p[2], count: n) }[0..<2]) })
    }

    func testActivations() {
        let n = 23
        for kind in [Activation.quickGELU, .gelu] {
            gradCheck("\(kind.rawValue)", inputs: [randomArray(n, seed: 12, scale: 3)],
                      forward: { x in withPointers([zeros(n)] + x) { p in activationForward(p[0], p[1], count: n, kind: kind) }[0] },
                      backward: { x, dy in [withPointers([zeros(n), x[0], dy]) { p in activationBackward(p[0], p[1], p[2], count: n, kind: kind) }[0]] })
        }
    }

    func testGELUMatchesErfDefinition() {
        // Φ(1) = 0.841344746; exact GELU(1) = Φ(1), QuickGELU(1) = σ(1.702) = 0.8457957. At most
        // five roundings of values < 2 (glibc's erff/expf ≤ 1 ulp in every CPU's variant): ≤ 5·2u = 6e-7.
        let out = withPointers([zeros(2), [1, 1]]) { p in
            activationForward(p[0], p[1], count: 1, kind: .gelu)
            activationForward(p[0] + 1, p[1] + 1, count: 1, kind: .quickGELU)
        }[0]
        XCTAssertEqual(out[0], 0.841344746, accuracy: 1e-6)
        XCTAssertEqual(out[1], 0.8457957, accuracy: 1e-6)
    }

    func testSoftmax() {
        let (N, C) = (3, 7)
        gradCheck("softmax", inputs: [randomArray(N * C, seed: 13, scale: 3)],
                  forward: { x in withPointers([zeros(N * C)] + x) { p in softmaxForward(p[0], p[1], N: N, C: C) }[0] },
                  backward: { x, dy in
                      let y = withPointers([zeros(N * C)] + x) { p in softmaxForward(p[0], p[1], N: N, C: C) }[0]
                      return [withPointers([zeros(N * C), dy, y]) { p in softmaxBackward(p[0], p[1], p[2], N: N, C: C) }[0]]
                  })
    }

    func attentionCheck(causal: Bool) {
        let (B, T, C, NH) = (2, 5, 6, 3)
        gradCheck("attention causal=\(causal)", inputs: [randomArray(B * T * 3 * C, seed: causal ? 14 : 15, scale: 1.5)],
                  forward: { x in
                      withPointers([zeros(B * T * C), zeros(B * NH * T * T)] + x) { p in
                          attentionForward(p[0], p[1], p[2], B: B, T: T, C: C, NH: NH, causal: causal)
                      }[0]
                  },
                  backward: { x, dy in
                      let att = withPointers([zeros(B * T * C), zeros(B * NH * T * T)] + x) { p in
                          attentionForward(p[0], p[1], p[2], B: B, T: T, C: C, NH: NH, causal: causal)
                      }[1]
                      return [withPointers([zeros(B * T * 3 * C), dy, x[0], att]) { p in
                          attentionBackward(p[0], p[1], p[2], p[3], B: B, T: T, C: C, NH: NH)
                      }[0]]
                  })
    }

    func testAttentionCausal() { attentionCheck(causal: true) }
    func testAttentionBidirectional() { attentionCheck(causal: false) }

    func testCausalMaskHidesTheFuture() {
        // Changing the last token must not change any earlier output of a causal attention.
        let (B, T, C, NH) = (1, 4, 4, 2)
        var qkv = randomArray(B * T * 3 * C, seed: 16)
        let run = { (x: [Float]) in
            withPointers([zeros(B * T * C), zeros(B * NH * T * T), x]) { p in
                attentionForward(p[0], p[1], p[2], B: B, T: T, C: C, NH: NH, causal: true)
            }[0]
        }
        let before = run(qkv)
        for i in ((T - 1) * 3 * C)..<(T * 3 * C) { qkv[i] += 1 }
        let after = run(qkv)
        XCTAssertEqual(Array(before[0..<((T - 1) * C)]), Array(after[0..<((T - 1) * C)]))
        XCTAssertNotEqual(Array(before[((T - 1) * C)...]), Array(after[((T - 1) * C)...]))
    }

    func testEmbeddingGather() {
        let (V, C) = (5, 3)
        let ids: [Int32] = [4, 0, 4, 2, 1, 4, 3]  // repeated ids: the scatter-add must sum them
        let N = ids.count
        gradCheck("embedding", inputs: [randomArray(V * C, seed: 17)],
                  step: gradCheckLinearStep,
                  forward: { x in
                      ids.withUnsafeBufferPointer { id in withPointers([zeros(N * C)] + x) { p in embeddingForward(p[0], id.baseAddress!, p[1], N: N, C: C) }[0] }
                  },
                  backward: { _, dy in
                      ids.withUnsafeBufferPointer { id in [withPointers([zeros(V * C), dy]) { p in embeddingBackward(p[0], p[1], id.baseAddress!, N: N, C: C) }[0]] }
                  })
    }

    func testPositionAdd() {
        let (B, T, C) = (3, 4, 5)
        gradCheck("position add", inputs: [randomArray(B * T * C, seed: 18), randomArray(T * C, seed: 19)],
                  step: gradCheckLinearStep,
                  forward: { x in withPointers(x) { p in positionAddForward(p[0], p[1], B: B, T: T, C: C) }[0] },
                  backward: { _, dy in [dy, withPointers([zeros(T * C), dy]) { p in positionAddBackward(p[0], p[1], B: B, T: T, C: C) }[0]] })
    }

    func testPatchify() {
        let (B, H, P) = (2, 6, 3)
        let K = 3 * P * P, G = H / P
        let images = randomArray(B * 3 * H * H, seed: 20)
        gradCheck("patchify", inputs: [images],
                  step: gradCheckLinearStep,
                  forward: { x in withPointers([zeros(B * G * G * K)] + x) { p in patchifyForward(p[0], p[1], B: B, imageSize: H, patch: P) }[0] },
                  backward: { _, dy in [withPointers([zeros(B * 3 * H * H), dy]) { p in patchifyBackward(p[0], p[1], B: B, imageSize: H, patch: P) }[0]] })
        // The order within a patch is conv1's: channel, then row, then column.
        let patches = withPointers([zeros(B * G * G * K), images]) { p in patchifyForward(p[0], p[1], B: B, imageSize: H, patch: P) }[0]
        let (b, gy, gx, c, y, x) = (1, 1, 0, 2, 1, 2)
        XCTAssertEqual(patches[((b * G + gy) * G + gx) * K + (c * P + y) * P + x],
                       images[((b * 3 + c) * H + gy * P + y) * H + gx * P + x])
    }

    func testPrependClass() {
        let (B, T, C) = (2, 3, 4)
        gradCheck("class token", inputs: [randomArray(B * T * C, seed: 21), randomArray(C, seed: 22)],
                  step: gradCheckLinearStep,
                  forward: { x in withPointers([zeros(B * (T + 1) * C)] + x) { p in prependClassForward(p[0], p[1], p[2], B: B, T: T, C: C) }[0] },
                  backward: { _, dy in Array(withPointers([zeros(B * T * C), zeros(C), dy]) { p in prependClassBackward(p[0], p[1], p[2], B: B, T: T, C: C) }[0..<2]) })
    }

    func testGatherRows() {
        let (B, T, C) = (3, 5, 4)
        let index = [4, 0, 2]
        gradCheck("EOT gather", inputs: [randomArray(B * T * C, seed: 23)],
                  step: gradCheckLinearStep,
                  forward: { x in withPointers([zeros(B * C)] + x) { p in gatherRowsForward(p[0], p[1], index, B: B, T: T, C: C) }[0] },
                  backward: { _, dy in [withPointers([zeros(B * T * C), dy]) { p in gatherRowsBackward(p[0], p[1], index, B: B, T: T, C: C) }[0]] })
    }

    func testL2Normalize() {
        let (N, C) = (3, 7)
        gradCheck("l2 normalize", inputs: [randomArray(N * C, seed: 24)],
                  forward: { x in withPointers([zeros(N * C), zeros(N)] + x) { p in l2NormalizeForward(p[0], p[1], p[2], N: N, C: C) }[0] },
                  backward: { x, dy in
                      let f = withPointers([zeros(N * C), zeros(N)] + x) { p in l2NormalizeForward(p[0], p[1], p[2], N: N, C: C) }
                      return [withPointers([zeros(N * C), dy, f[0], f[1]]) { p in l2NormalizeBackward(p[0], p[1], p[2], p[3], N: N, C: C) }[0]]
                  })
    }

    /// The loss with its three inputs (image rows, text rows, log scale) as one check.
    func lossCheck(logScale: Float, name: String) -> [[Float]] {
        let (B, E) = (5, 3)
        var grads: [[Float]] = []
        let forward: ([[Float]]) -> [Float] = { x in [self.loss(x, B: B, E: E)] }
        // Unnormalized rows of norm ~0.5: logits stay O(10) at scale 100, so the softmaxes are
        // neither saturated nor flat.
        gradCheck(name, inputs: [randomArray(B * E, seed: 25, scale: 0.4), randomArray(B * E, seed: 26, scale: 0.4), [logScale]],
                  forward: forward,
                  backward: { x, dy in
                      let out = withPointers([zeros(B * E), zeros(B * E), x[0], x[1]]) { p in
                          let r = contrastiveLossForward(p[2], p[3], logScale: x[2][0], B: B, E: E)
                          var ds: Float = 0
                          contrastiveLossBackward(p[0], p[1], &ds, p[2], p[3], logScale: x[2][0], saved: r.saved, B: B, E: E, dloss: dy[0])
                          p[2][0] = ds  // return dscale through the third slot
                      }
                      grads = [out[0], out[1], [out[2][0]]]
                      return grads
                  })
        return grads
    }

    func loss(_ x: [[Float]], B: Int, E: Int) -> Float {
        var l: Float = 0
        _ = withPointers([x[0], x[1]]) { p in l = contrastiveLossForward(p[0], p[1], logScale: x[2][0], B: B, E: E).loss }
        return l
    }

    func testContrastiveLossClampInactive() {
        let g = lossCheck(logScale: 2.0, name: "contrastive loss (scale e^2)")
        XCTAssertNotEqual(g[2][0], 0)
    }

    func testContrastiveLossClampActive() {
        // Above ln 100 the scale is clamped: no gradient to it, the embeddings see scale 100.
        let g = lossCheck(logScale: 5.0, name: "contrastive loss (clamped at ln 100)")
        XCTAssertEqual(g[2][0], 0)
        XCTAssertEqual(loss([[0.6, 0.8, 0, 0, 0, 1], [0.6, 0.8, 0, 0, 0, 1], [5.0]], B: 2, E: 3),
                       loss([[0.6, 0.8, 0, 0, 0, 1], [0.6, 0.8, 0, 0, 0, 1], [maxLogLogitScale]], B: 2, E: 3))
    }

    func testContrastiveLossValue() {
        // Two orthonormal pairs at scale 1: logits = I, each CE = log(1 + e^-1) - ... = log(e + 1) - 1.
        let l = loss([[1, 0, 0, 1], [1, 0, 0, 1], [0]], B: 2, E: 2)
        XCTAssertEqual(l, Float(log(exp(1.0) + 1) - 1), accuracy: 1e-6)
    }
}
