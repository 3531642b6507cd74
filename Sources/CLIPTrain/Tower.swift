// One transformer tower (a stack of CLIP residual blocks) with the activations its backward
// pass needs. Block, as in open_clip's ResidualAttentionBlock:
//   x = x + out_proj(attn(ln_1(x)))      # attention, causal in the text tower
//   x = x + c_proj(act(c_fc(ln_2(x))))   # MLP, act = QuickGELU or GELU
// Shapes: N = B·T rows of width D; H = mlpWidth.

/// A Float buffer owned by the trainer, zero-filled at allocation.
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }

    public func zero() { pointer.update(repeating: 0, count: count) }
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// The saved activations of one block.
final class BlockActivations {
    let ln1, ln1Mean, ln1Rstd, qkv, att, atty, resid2, ln2, ln2Mean, ln2Rstd, fch, fchAct, resid3: FloatBuffer

    init(B: Int, T: Int, D: Int, H: Int, NH: Int) {
        let N = B * T
        ln1 = FloatBuffer(N * D); ln1Mean = FloatBuffer(N); ln1Rstd = FloatBuffer(N)
        qkv = FloatBuffer(N * 3 * D); att = FloatBuffer(B * NH * T * T); atty = FloatBuffer(N * D)
        resid2 = FloatBuffer(N * D)
        ln2 = FloatBuffer(N * D); ln2Mean = FloatBuffer(N); ln2Rstd = FloatBuffer(N)
        fch = FloatBuffer(N * H); fchAct = FloatBuffer(N * H); resid3 = FloatBuffer(N * D)
    }
}

/// Runs one tower forward and backward for a fixed (B, T).
final class Tower {
    let config: TowerConfig
    let B: Int, T: Int
    let causal: Bool
    let activation: Activation
    private let offsets: [[Int]]  // per layer, the 12 parameter offsets in `TensorPart.blockParts` order
    private let acts: [BlockActivations]
    // Backward scratch, zeroed before each use because backward passes accumulate.
    private let dln, dqkv, datty, dfch, dfchAct, proj: FloatBuffer

    init(_ tower: ModelTensor.Tower, config: TowerConfig, layout: ParameterLayout, B: Int, T: Int,
         causal: Bool, activation: Activation) {
        self.config = config; self.B = B; self.T = T
        self.causal = causal; self.activation = activation
        // o[0...11]: ln_1 gain, bias; in-projection weight, bias; out-projection weight, bias;
        // ln_2 gain, bias; MLP first matrix, bias; MLP second matrix, bias.
        offsets = (0..<config.layers).map { l in TensorPart.blockParts.map { layout.offset(ModelTensor($0, tower, block: l)) } }
        let D = config.width, H = config.mlpWidth, N = B * T
        acts = (0..<config.layers).map { _ in BlockActivations(B: B, T: T, D: D, H: H, NH: config.heads) }
        dln = FloatBuffer(N * D); dqkv = FloatBuffer(N * 3 * D); datty = FloatBuffer(N * D)
        dfch = FloatBuffer(N * H); dfchAct = FloatBuffer(N * H); proj = FloatBuffer(N * D)
    }

    /// The tower's output [B, T, D] after `forward` (the input itself when there are no layers).
    func output(input: UnsafePointer<Float>) -> UnsafePointer<Float> {
        acts.last.map { UnsafePointer($0.resid3.pointer) } ?? input
    }

    func forward(_ input: UnsafePointer<Float>, _ params: UnsafePointer<Float>) {
        let D = config.width, H = config.mlpWidth, N = B * T
        var x = input
        for l in 0..<config.layers {
            let a = acts[l], o = offsets[l].map { params + $0 }
            layerNormForward(a.ln1.pointer, a.ln1Mean.pointer, a.ln1Rstd.pointer, x, o[0], o[1], N: N, C: D)
            matmulForward(a.qkv.pointer, a.ln1.pointer, o[2], o[3], N: N, IC: D, OC: 3 * D)  // [N, 3D]
            attentionForward(a.atty.pointer, a.att.pointer, a.qkv.pointer, B: B, T: T, C: D,
                             NH: config.heads, causal: causal)
            matmulForward(proj.pointer, a.atty.pointer, o[4], o[5], N: N, IC: D, OC: D)
            residualForward(a.resid2.pointer, x, proj.pointer, count: N * D)
            layerNormForward(a.ln2.pointer, a.ln2Mean.pointer, a.ln2Rstd.pointer, a.resid2.pointer, o[6], o[7], N: N, C: D)
            matmulForward(a.fch.pointer, a.ln2.pointer, o[8], o[9], N: N, IC: D, OC: H)  // [N, H]
            activationForward(a.fchAct.pointer, a.fch.pointer, count: N * H, kind: activation)
            matmulForward(proj.pointer, a.fchAct.pointer, o[10], o[11], N: N, IC: H, OC: D)
            residualForward(a.resid3.pointer, a.resid2.pointer, proj.pointer, count: N * D)
            x = UnsafePointer(a.resid3.pointer)
        }
    }

    /// On entry `d` holds dLoss/d(output) [B, T, D]; on return dLoss/d(input). Parameter
    /// gradients are accumulated into `grads` (same layout as `params`).
    func backward(_ d: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                  _ params: UnsafePointer<Float>, _ grads: UnsafeMutablePointer<Float>) {
        let D = config.width, H = config.mlpWidth, N = B * T
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let a = acts[l], o = offsets[l].map { params + $0 }, g = offsets[l].map { grads + $0 }
            let x = l == 0 ? input : UnsafePointer(acts[l - 1].resid3.pointer)
            // MLP branch: d is the gradient of resid3, which passes unchanged to resid2.
            dfchAct.zero(); dfch.zero(); dln.zero()
            matmulBackward(dfchAct.pointer, g[10], g[11], d, a.fchAct.pointer, o[10], N: N, IC: H, OC: D)
            activationBackward(dfch.pointer, a.fch.pointer, dfchAct.pointer, count: N * H, kind: activation)
            matmulBackward(dln.pointer, g[8], g[9], dfch.pointer, a.ln2.pointer, o[8], N: N, IC: D, OC: H)
            layerNormBackward(d, g[6], g[7], dln.pointer, a.resid2.pointer, o[6], a.ln2Mean.pointer,
                              a.ln2Rstd.pointer, N: N, C: D)
            // Attention branch: d is now the gradient of resid2, which passes unchanged to x.
            datty.zero(); dqkv.zero(); dln.zero()
            matmulBackward(datty.pointer, g[4], g[5], d, a.atty.pointer, o[4], N: N, IC: D, OC: D)
            attentionBackward(dqkv.pointer, datty.pointer, a.qkv.pointer, a.att.pointer, B: B, T: T, C: D, NH: config.heads)
            matmulBackward(dln.pointer, g[2], g[3], dqkv.pointer, a.ln1.pointer, o[2], N: N, IC: D, OC: 3 * D)
            layerNormBackward(d, g[0], g[1], dln.pointer, x, o[0], a.ln1Mean.pointer, a.ln1Rstd.pointer, N: N, C: D)
        }
    }
}
