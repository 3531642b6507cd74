// The element-wise and row-wise layers of CLIP, each a forward/backward pair of free
// functions over flat Float buffers, in the manner of llm.c's train_gpt2.c.
// Dimension letters: N rows, C channels (the row width), B batch, T tokens, V vocabulary.
// Every backward ACCUMULATES (+=) into its gradient buffers (see Matmul.swift for why).

import CLIPSupport

// MARK: - LayerNorm

/// out = (x − mean) · rstd · gamma + beta per row of `inp` [N, C]; saves mean and rstd [N]
/// for the backward pass. eps 1e-5 as in every CLIP checkpoint.
public func layerNormForward(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>,
                             _ rstd: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                             _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                             N: Int, C: Int, eps: Float = 1e-5) {
    for n in 0..<N {
        let x = inp + n * C, y = out + n * C
        var m: Float = 0
        for i in 0..<C { m += x[i] }
        m /= Float(C)
        var v: Float = 0
        for i in 0..<C { let d = x[i] - m; v += d * d }
        v /= Float(C)  // biased variance, as torch.nn.LayerNorm
        let s = 1 / (v + eps).squareRoot()
        for i in 0..<C { y[i] = (x[i] - m) * s * gamma[i] + beta[i] }
        mean[n] = m
        rstd[n] = s
    }
}

/// Gradients of `layerNormForward`: dinp, dgamma, dbeta (accumulated).
public func layerNormBackward(_ dinp: UnsafeMutablePointer<Float>, _ dgamma: UnsafeMutablePointer<Float>,
                              _ dbeta: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                              _ inp: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
                              _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
        let m = mean[n], s = rstd[n]
        // Two reductions: the mean of dnorm and the mean of dnorm·norm.
        var dnormMean: Float = 0, dnormNormMean: Float = 0
        for i in 0..<C {
            let norm = (x[i] - m) * s
            let dnorm = gamma[i] * dy[i]
            dnormMean += dnorm
            dnormNormMean += dnorm * norm
        }
        dnormMean /= Float(C)
        dnormNormMean /= Float(C)
        for i in 0..<C {
            let norm = (x[i] - m) * s
            let dnorm = gamma[i] * dy[i]
            dbeta[i] += dy[i]
            dgamma[i] += norm * dy[i]
            dx[i] += (dnorm - dnormMean - norm * dnormNormMean) * s
        }
    }
}

// MARK: - Residual add

/// out = a + b over `count` floats (the residual connections).
public func residualForward(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                            _ b: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = a[i] + b[i] }
}

/// da += dout, db += dout.
public func residualBackward(_ da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>,
                             _ dout: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { da[i] += dout[i]; db[i] += dout[i] }
}

// MARK: - Activations

/// out = act(inp) over `count` floats.
public func activationForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                              count: Int, kind: Activation) {
    switch kind {
    case .quickGELU:
        for i in 0..<count { let x = inp[i]; out[i] = x / (1 + expf(-1.702 * x)) }
    case .gelu:
        for i in 0..<count { let x = inp[i]; out[i] = 0.5 * x * (1 + erff(x * 0.70710678)) }
    }
}

/// dinp += act'(inp) · dout.
public func activationBackward(_ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               _ dout: UnsafePointer<Float>, count: Int, kind: Activation) {
    switch kind {
    case .quickGELU:
        for i in 0..<count {
            let x = inp[i]
            let s = 1 / (1 + expf(-1.702 * x))
            dinp[i] += dout[i] * (s + 1.702 * x * s * (1 - s))
        }
    case .gelu:
        // d/dx [x·Φ(x)] = Φ(x) + x·φ(x), φ the standard normal density.
        for i in 0..<count {
            let x = inp[i]
            let cdf = 0.5 * (1 + erff(x * 0.70710678))
            let pdf = expf(-0.5 * x * x) * 0.39894228
            dinp[i] += dout[i] * (cdf + x * pdf)
        }
    }
}

// MARK: - Softmax

/// Row softmax of `inp` [N, C] into `out` (max-subtracted, so large logits do not overflow).
public func softmaxForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let x = inp + n * C, y = out + n * C
        var mx = -Float.infinity
        for i in 0..<C { mx = max(mx, x[i]) }
        var sum: Float = 0
        for i in 0..<C { let e = expf(x[i] - mx); y[i] = e; sum += e }
        let inv = 1 / sum
        for i in 0..<C { y[i] *= inv }
    }
}

/// dinp += y ⊙ (dout − ⟨y, dout⟩) per row, from the softmax output `out`.
public func softmaxBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                            _ out: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let y = out + n * C, dy = dout + n * C, dx = dinp + n * C
        var dot: Float = 0
        for i in 0..<C { dot += y[i] * dy[i] }
        for i in 0..<C { dx[i] += y[i] * (dy[i] - dot) }
    }
}

// MARK: - Embeddings

/// Gathers rows: out[n] = table[ids[n]], out [N, C], table [V, C]. Ids are checked by the caller
/// (the model validates a batch before the first layer).
public func embeddingForward(_ out: UnsafeMutablePointer<Float>, _ ids: UnsafePointer<Int32>,
                             _ table: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        (out + n * C).update(from: table + Int(ids[n]) * C, count: C)
    }
}

/// dtable[ids[n]] += dout[n] (a scatter-add: a token used twice collects both gradients).
public func embeddingBackward(_ dtable: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                              _ ids: UnsafePointer<Int32>, N: Int, C: Int) {
    for n in 0..<N {
        let row = dtable + Int(ids[n]) * C, dy = dout + n * C
        for i in 0..<C { row[i] += dy[i] }
    }
}

/// x[b, t] += pos[t] in place, x [B, T, C], pos [T, C] (the first T rows of the table).
public func positionAddForward(_ x: UnsafeMutablePointer<Float>, _ pos: UnsafePointer<Float>,
                               B: Int, T: Int, C: Int) {
    for b in 0..<B {
        let xb = x + b * T * C
        for i in 0..<(T * C) { xb[i] += pos[i] }
    }
}

/// dpos[t] += Σ_b dx[b, t].
public func positionAddBackward(_ dpos: UnsafeMutablePointer<Float>, _ dx: UnsafePointer<Float>,
                                B: Int, T: Int, C: Int) {
    for b in 0..<B {
        let db = dx + b * T * C
        for i in 0..<(T * C) { dpos[i] += db[i] }
    }
}

// MARK: - Vision input

/// Cuts images [B, 3, H, H] (channel-major pixels, H = grid·P) into patches
/// [B, grid², 3·P·P], each patch flattened in (channel, row, column) order: the order of
/// conv1's weight [D, 3, P, P], so the patch embedding is one matmul with conv1 as [D, 3·P·P].
public func patchifyForward(_ out: UnsafeMutablePointer<Float>, _ images: UnsafePointer<Float>,
                            B: Int, imageSize H: Int, patch P: Int) {
    let G = H / P, K = 3 * P * P
    for b in 0..<B {
        for gy in 0..<G {
            for gx in 0..<G {
                let dst = out + ((b * G + gy) * G + gx) * K
                var k = 0
                for c in 0..<3 {
                    for y in 0..<P {
                        let src = images + ((b * 3 + c) * H + gy * P + y) * H + gx * P
                        for x in 0..<P { dst[k] = src[x]; k += 1 }
                    }
                }
            }
        }
    }
}

/// dimages += the patches' gradient put back in place (patches do not overlap).
public func patchifyBackward(_ dimages: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                             B: Int, imageSize H: Int, patch P: Int) {
    let G = H / P, K = 3 * P * P
    for b in 0..<B {
        for gy in 0..<G {
            for gx in 0..<G {
                let src = dout + ((b * G + gy) * G + gx) * K
                var k = 0
                for c in 0..<3 {
                    for y in 0..<P {
                        let dst = dimages + ((b * 3 + c) * H + gy * P + y) * H + gx * P
                        for x in 0..<P { dst[x] += src[k]; k += 1 }
                    }
                }
            }
        }
    }
}

/// out[b] = [cls; tokens[b]]: out [B, T+1, C] from tokens [B, T, C] and the class embedding [C].
public func prependClassForward(_ out: UnsafeMutablePointer<Float>, _ tokens: UnsafePointer<Float>,
                                _ cls: UnsafePointer<Float>, B: Int, T: Int, C: Int) {
    for b in 0..<B {
        let ob = out + b * (T + 1) * C
        ob.update(from: cls, count: C)
        (ob + C).update(from: tokens + b * T * C, count: T * C)
    }
}

/// dtokens += dout[:, 1:], dcls += Σ_b dout[b, 0].
public func prependClassBackward(_ dtokens: UnsafeMutablePointer<Float>, _ dcls: UnsafeMutablePointer<Float>,
                                 _ dout: UnsafePointer<Float>, B: Int, T: Int, C: Int) {
    for b in 0..<B {
        let ob = dout + b * (T + 1) * C
        for i in 0..<C { dcls[i] += ob[i] }
        let dt = dtokens + b * T * C
        for i in 0..<(T * C) { dt[i] += ob[C + i] }
    }
}

// MARK: - Pooling

/// out[b] = x[b, index[b]]: the EOT token of each caption (or the class token, index 0).
/// x [B, T, C], out [B, C].
public func gatherRowsForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                              _ index: [Int], B: Int, T: Int, C: Int) {
    for b in 0..<B { (out + b * C).update(from: x + (b * T + index[b]) * C, count: C) }
}

/// dx[b, index[b]] += dout[b].
public func gatherRowsBackward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                               _ index: [Int], B: Int, T: Int, C: Int) {
    for b in 0..<B {
        let row = dx + (b * T + index[b]) * C, dy = dout + b * C
        for i in 0..<C { row[i] += dy[i] }
    }
}

// MARK: - L2 normalization

/// out = x / max(‖x‖, 1e-12) per row (F.normalize); saves the norms [N].
public func l2NormalizeForward(_ out: UnsafeMutablePointer<Float>, _ norms: UnsafeMutablePointer<Float>,
                               _ inp: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let x = inp + n * C, y = out + n * C
        var s: Float = 0
        for i in 0..<C { s += x[i] * x[i] }
        let norm = max(s.squareRoot(), 1e-12)
        for i in 0..<C { y[i] = x[i] / norm }
        norms[n] = norm
    }
}

/// dinp += (dout − y·⟨y, dout⟩) / ‖x‖, y the normalized output.
public func l2NormalizeBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                                _ out: UnsafePointer<Float>, _ norms: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let y = out + n * C, dy = dout + n * C, dx = dinp + n * C
        var dot: Float = 0
        for i in 0..<C { dot += y[i] * dy[i] }
        let inv = 1 / norms[n]
        for i in 0..<C { dx[i] += (dy[i] - y[i] * dot) * inv }
    }
}
