// Multi-head self-attention over a stacked qkv buffer, with and without the causal mask,
// forward and backward. The matmuls of each (batch, head) pair go through sgemm with a row
// stride of 3C, so q, k and v are read in place from qkv without a transpose.
//
// qkv [B, T, 3C]: q in channels [0, C), k in [C, 2C), v in [2C, 3C) — the order of the stacked
// in_proj weight [3C, C]; head h owns channels [h·hd, (h+1)·hd) of each, hd = C / NH.
// att [B, NH, T, T]: the softmax probabilities, saved for the backward pass.

import CBLAS

/// out[B, T, C] = concat over heads of softmax(q·kᵀ / √hd [+ causal mask]) · v.
public func attentionForward(_ out: UnsafeMutablePointer<Float>, _ att: UnsafeMutablePointer<Float>,
                             _ qkv: UnsafePointer<Float>, B: Int, T: Int, C: Int, NH: Int, causal: Bool) {
    let hd = C / NH, C3 = 3 * C
    let scale = 1 / Float(hd).squareRoot()
    for b in 0..<B {
        for h in 0..<NH {
            let q = qkv + b * T * C3 + h * hd, k = q + C, v = q + 2 * C
            let a = att + (b * NH + h) * T * T
            // scores [T, T] = scale · q [T, hd] · kᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hd),
                        scale, q, Int32(C3), k, Int32(C3), 0, a, Int32(T))
            if causal {
                // Token t sees tokens ≤ t: exp(−∞) = 0 gives the masked probabilities exactly.
                for t in 0..<T { for t2 in (t + 1)..<max(T, t + 1) { a[t * T + t2] = -.infinity } }
            }
            softmaxForward(a, a, N: T, C: T)
            // out [T, hd] (row stride C) = att [T, T] · v [T, hd] (row stride 3C)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                        1, a, Int32(T), v, Int32(C3), 0, out + b * T * C + h * hd, Int32(C))
        }
    }
}

/// dqkv += the gradient of `attentionForward` with respect to qkv. Masked probabilities are 0,
/// so the softmax backward gives them a zero gradient without a separate mask.
public func attentionBackward(_ dqkv: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                              _ qkv: UnsafePointer<Float>, _ att: UnsafePointer<Float>,
                              B: Int, T: Int, C: Int, NH: Int) {
    let hd = C / NH, C3 = 3 * C
    let scale = 1 / Float(hd).squareRoot()
    let datt = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
    let dpre = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
    defer { datt.deallocate(); dpre.deallocate() }
    for b in 0..<B {
        for h in 0..<NH {
            let q = qkv + b * T * C3 + h * hd, k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * C3 + h * hd, dk = dq + C, dv = dq + 2 * C
            let a = att + (b * NH + h) * T * T
            let dy = dout + b * T * C + h * hd
            // datt [T, T] = dy [T, hd] · vᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hd),
                        1, dy, Int32(C), v, Int32(C3), 0, datt, Int32(T))
            // dv [T, hd] += attᵀ · dy
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                        1, a, Int32(T), dy, Int32(C), 1, dv, Int32(C3))
            dpre.update(repeating: 0, count: T * T)
            softmaxBackward(dpre, datt, a, N: T, C: T)
            // dq += scale · dpre · k ; dk += scale · dpreᵀ · q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                        scale, dpre, Int32(T), k, Int32(C3), 1, dq, Int32(C3))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                        scale, dpre, Int32(T), q, Int32(C3), 1, dk, Int32(C3))
        }
    }
}
