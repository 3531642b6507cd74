// The memory one forward pass writes, like llama2.c's `RunState` filled by `malloc_run_state`:
// one named buffer per intermediate, sized from the tower's config and the batch, allocated when
// the pass starts and freed together when it ends. Every block of the tower reuses the same
// buffers, and the steps of `forward` take the pass instead of a dozen pointers.

import CLIPKernels

/// One forward pass of a tower over S sequences of T tokens (S images, or one text): its
/// buffers, and the pool, observer and timer it runs with.
///
///     let pass = ForwardPass(tower, sequences: n, tokens: t, embedDim: e, pool: pool, observer: nil, timer: nil)
///     tower.forward(pass, pooledRow: 0)   // works on pass.x
///
/// A pass belongs to one call of `encode` (one thread); the encoders never share one. Functions
/// that take a pass may use its pointers for as long as they run, since the caller holds the pass
/// until they return; don't keep a pointer of a pass past that.
final class ForwardPass {
    /// S, T and S·T.
    let sequences: Int, tokens: Int, rows: Int

    /// The residual stream: [S·T, D].
    let x: UnsafeMutablePointer<Float>
    /// ln_1(x) or ln_2(x), the next matmul's input: [S·T, D].
    let normed: UnsafeMutablePointer<Float>
    /// in_proj's output, q, k and v side by side in each row: [S·T, 3D].
    let qkv: UnsafeMutablePointer<Float>
    /// The heads' outputs side by side: [S·T, D].
    let attended: UnsafeMutablePointer<Float>
    /// out_proj's or c_proj's output, before its residual add: [S·T, D].
    let projected: UnsafeMutablePointer<Float>
    /// The MLP's hidden layer, after the activation: [S·T, mlpWidth].
    let hidden: UnsafeMutablePointer<Float>
    /// Attention's scratch: one slice of `scoresPerWorker` floats per pool thread.
    let scores: UnsafeMutablePointer<Float>
    let scoresPerWorker: Int
    /// x's and attended's pooled row of each sequence, when the last block computes only those:
    /// [S, D] each.
    let keptX: UnsafeMutablePointer<Float>, keptAttended: UnsafeMutablePointer<Float>
    /// Int8 activations for the int8 matmuls: up to [S·T, max(D, mlpWidth)].
    let quant: QuantScratch
    /// The pooled row of each sequence after the final LayerNorm: [S, D].
    let pooled: UnsafeMutablePointer<Float>
    /// The projected pooled rows, the embeddings: [S, embedDim].
    let embeddings: UnsafeMutablePointer<Float>

    let pool: WorkerPool
    /// Receives "<tower>.hidden.<i>" and "<tower>.pooled" (see `ActivationObserver`).
    let observer: ActivationObserver?
    /// Laps the pass's stages (Profiler.swift).
    let timer: StageTimer?

    /// Owns every buffer above.
    let arena = ScratchArena()

    init(_ tower: Tower, sequences s: Int, tokens t: Int, embedDim e: Int, pool: WorkerPool,
         observer: ActivationObserver?, timer: StageTimer?) {
        let c = tower.config, d = c.width, rows = s * t
        sequences = s; tokens = t; self.rows = rows
        x = arena.floats(rows * d)
        normed = arena.floats(rows * d)
        qkv = arena.floats(rows * 3 * d)
        attended = arena.floats(rows * d)
        projected = arena.floats(rows * d)
        hidden = arena.floats(rows * c.mlpWidth)
        scoresPerWorker = attentionFastScratchCount(tokens: t, dim: d, heads: c.heads)
        scores = arena.floats(pool.threads * scoresPerWorker)
        keptX = arena.floats(s * d)
        keptAttended = arena.floats(s * d)
        quant = arena.quantScratch(rows: rows, width: max(d, c.mlpWidth))
        pooled = arena.floats(s * d)
        embeddings = arena.floats(s * e)
        self.pool = pool
        self.observer = observer
        self.timer = timer
    }

    /// Shows the observer the values at `values`, of `shape`, as `name` (neither is built
    /// without an observer).
    func observe(_ name: @autoclosure () -> String, _ values: UnsafePointer<Float>, shape: @autoclosure () -> [Int]) {
        guard let observer else { return }
        let shape = shape()
        observer(name(), shape, UnsafeBufferPointer(start: values, count: shape.reduce(1, *)))
    }
}

/// Zero-filled buffers that live as long as the arena and are freed with it: the memory of one
/// forward pass, allocated at its start.
///
/// Buffers are carved from a few large chunks, each starting on a cache line: one allocation
/// per buffer (aligned, as the kernels' wide loads want) cost 3% of a short text pass.
final class ScratchArena {
    /// Bytes of a chunk unless one buffer needs more.
    static let chunkBytes = 256 << 10
    private var chunks: [UnsafeMutableRawPointer] = []
    private var next: UnsafeMutableRawPointer?
    private var left = 0

    /// `count` zeros, starting on a cache line.
    func make<T>(_ count: Int, of _: T.Type) -> UnsafeMutablePointer<T> {
        let bytes = (max(1, count) * MemoryLayout<T>.stride + 63) & ~63
        if bytes > left {
            let size = max(bytes, Self.chunkBytes)
            let chunk = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            chunks.append(chunk)
            next = chunk
            left = size
        }
        let buffer = next!
        next = buffer + bytes
        left -= bytes
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return buffer.bindMemory(to: T.self, capacity: max(1, count))
    }

    func floats(_ count: Int) -> UnsafeMutablePointer<Float> { make(count, of: Float.self) }

    /// Room to quantize up to `rows` rows of `width` values.
    func quantScratch(rows: Int, width: Int) -> QuantScratch {
        QuantScratch(q: make(rows * width, of: Int8.self), scales: floats(rows), zeroPoints: make(rows, of: Int32.self))
    }

    deinit {
        for chunk in chunks { chunk.deallocate() }
    }
}
