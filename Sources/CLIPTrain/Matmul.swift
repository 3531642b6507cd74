// The linear layer of every CLIP matmul, forward and backward, through OpenBLAS sgemm.
// Layout as in the runtime's canonical weights: W is [OC, IC] (out, in), so y = x · Wᵀ + b.
// Dimension letters: N rows (B·T flattened), IC input channels, OC output channels.
// Backward passes ACCUMULATE (+=) into their gradient buffers, as llm.c does: a buffer that
// feeds two consumers (the residual stream) collects both contributions without a copy.

import CBLAS

/// out[N, OC] = inp[N, IC] · weight[OC, IC]ᵀ (+ bias[OC]).
///
///     matmulForward(out, inp, weight, bias, N: 4, IC: 16, OC: 48)
public func matmulForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                          _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                          N: Int, IC: Int, OC: Int) {
    // Row-major C = A · Bᵀ: A = inp [N, IC], B = weight [OC, IC].
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(N), Int32(OC), Int32(IC),
                1, inp, Int32(IC), weight, Int32(IC), 0, out, Int32(OC))
    if let bias {
        for n in 0..<N {
            let row = out + n * OC
            for o in 0..<OC { row[o] += bias[o] }
        }
    }
}

/// Gradients of `matmulForward`, accumulated:
/// dinp += dout · W, dweight += doutᵀ · inp, dbias += Σₙ dout. Pass nil for a gradient that is
/// not needed (the pixels' gradient, a layer without bias).
public func matmulBackward(_ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>,
                           _ dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
                           _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                           N: Int, IC: Int, OC: Int) {
    if let dinp {
        // [N, OC] · [OC, IC] -> [N, IC]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(IC), Int32(OC),
                    1, dout, Int32(OC), weight, Int32(IC), 1, dinp, Int32(IC))
    }
    // [OC, N] · [N, IC] -> [OC, IC]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(IC), Int32(N),
                1, dout, Int32(OC), inp, Int32(IC), 1, dweight, Int32(IC))
    if let dbias {
        for n in 0..<N {
            let row = dout + n * OC
            for o in 0..<OC { dbias[o] += row[o] }
        }
    }
}

/// Sets the number of OpenBLAS threads (the `--threads` setting of a training run).
public func setBLASThreads(_ n: Int) {
    openblas_set_num_threads(Int32(max(1, n)))
}
