// Float kernels: the definitions every faster kernel is held to.
//
// Free functions over flat row-major buffers with explicit dimensions and no model knowledge
// (llm.c style). Letters: M rows of activations, K the reduction dimension, N output columns.
// Linear weights are stored like PyTorch's `nn.Linear`: W is [N, K] and y = x · Wᵀ + b, so each
// output is a dot product of two contiguous rows. That layout also keeps the int8 path (groups
// along K) a drop-in replacement later.

import CLIPSupport

/// Σ a[i]·b[i] in a fixed order: 8 lanes of partial sums, then a scalar tail, then the lanes.
@inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc0 = SIMD8<Float>(repeating: 0)
    var acc1 = SIMD8<Float>(repeating: 0)
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= count {
        let a0 = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let b0 = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let a1 = ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
        let b1 = rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
        acc0 = acc0.addingProduct(a0, b0)
        acc1 = acc1.addingProduct(a1, b1)
        i += 16
    }
    while i + 8 <= count {
        let a0 = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let b0 = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        acc0 = acc0.addingProduct(a0, b0)
        i += 8
    }
    var tail: Float = 0
    while i < count {
        tail += a[i] * b[i]
        i += 1
    }
    return (acc0 + acc1).sum() + tail
}

/// LayerNorm over each of `rows` rows of width `dim`: (x − mean) / sqrt(var + eps) · gamma + beta.
/// Mean and variance are accumulated in Double: two passes, so large offsets do not cancel.
public func layerNorm(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    rows: Int, dim: Int, eps: Float
) {
    for r in 0..<rows {
        let xr = x + r * dim
        let yr = y + r * dim
        var sum = 0.0
        for i in 0..<dim { sum += Double(xr[i]) }
        let mean = sum / Double(dim)
        var sq = 0.0
        for i in 0..<dim {
            let d = Double(xr[i]) - mean
            sq += d * d
        }
        let invStd = 1.0 / (sq / Double(dim) + Double(eps)).squareRoot()
        for i in 0..<dim {
            yr[i] = Float((Double(xr[i]) - mean) * invStd) * gamma[i] + beta[i]
        }
    }
}

/// In-place softmax over the first `count` entries (max-subtracted for stability).
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    var maxValue = x[0]
    for i in 1..<count where x[i] > maxValue { maxValue = x[i] }
    var sum: Float = 0
    for i in 0..<count {
        let e = expf(x[i] - maxValue)
        x[i] = e
        sum += e
    }
    let inv = 1 / sum
    for i in 0..<count { x[i] *= inv }
}

// The MLP activations CLIP checkpoints use (which one, the model's config says).

/// Exact GELU in place over `count` values: x · Φ(x), with erf (most OpenCLIP-trained models,
/// HF's `gelu`).
public func geluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let invSqrt2: Float = 0.70710678118654752
    for i in 0..<count {
        let v = x[i]
        x[i] = 0.5 * v * (1 + erff(v * invSqrt2))
    }
}

/// QuickGELU in place over `count` values: x · σ(1.702 x) (OpenAI's original CLIP weights, HF's
/// `quick_gelu`).
public func quickGELUInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        let v = x[i]
        x[i] = v / (1 + expf(-1.702 * v))
    }
}

/// y[i] += x[i] for `count` values (the residual connection).
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { y[i] += x[i] }
}

/// L2-normalizes `count` values in place; a zero vector stays zero.
public func l2NormalizeInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var sq: Float = 0
    for i in 0..<count { sq += x[i] * x[i] }
    guard sq > 0 else { return }
    let inv = 1 / sq.squareRoot()
    for i in 0..<count { x[i] *= inv }
}
