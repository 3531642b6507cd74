// Stage timing for `pocketclip profile`: where one forward pass spends its time.
//
// The encoders take an optional `StageTimer`. Each hook is one `timer?.lap(stage)` line at the
// end of a stage, so the laps cut a run into consecutive intervals (a partition: nothing is
// counted twice, and what is not covered shows up as the remainder between the last lap and the
// end of the run). With no timer the hook is a nil check: no clock read, no allocation.
//
// Stages (vision): decode → preprocess → embed (patchify, conv1 as a matmul, class token,
// positions, ln_pre) → per block: attention (ln_1, qkv, attention, out proj) and MLP (residual
// add fused with ln_2, fc + activation, proj + residual add) → head (ln_post, projection).
// Text: tokenize → embed (token + position rows) → blocks likewise → head (ln_final, projection).

import CLIPSupport

/// One stage of a profiled run.
public struct ProfileStage: Hashable, Sendable, CustomStringConvertible {
    public enum Tower: String, Sendable { case vision, text }
    public enum Kind: String, Sendable { case decode, preprocess, tokenize, embed, attention, mlp, head }

    public let tower: Tower
    public let kind: Kind
    /// The block index for `attention` and `mlp`, else -1.
    public let block: Int

    public init(_ tower: Tower, _ kind: Kind, block: Int = -1) {
        self.tower = tower
        self.kind = kind
        self.block = block
    }

    /// "decode", "vision.embed", "vision.block.3.attention", "text.head", …
    public var description: String {
        switch kind {
        case .decode, .preprocess, .tokenize: return kind.rawValue
        case .attention, .mlp: return "\(tower.rawValue).block.\(block).\(kind.rawValue)"
        case .embed, .head: return "\(tower.rawValue).\(kind.rawValue)"
        }
    }
}

/// Records consecutive stage intervals on one monotonic clock (nanoseconds).
///
/// ```swift
/// let timer = StageTimer()
/// timer.start()
/// let pixels = try Preprocessor.pixels(path: "cat.png", config: model.preprocess)
/// timer.lap(ProfileStage(.vision, .preprocess))
/// _ = try vision.encode(batch: [pixels], pool: pool, timer: timer)   // adds embed, blocks, head
/// for i in timer.intervals { print(i.stage, i.nanoseconds) }
/// ```
///
/// Laps are taken on the calling thread between parallel sections (the pool joins before each
/// hook), so a stage's interval is the wall time all threads spent on it.
public final class StageTimer: @unchecked Sendable {
    public struct Interval: Sendable {
        public let stage: ProfileStage
        /// Monotonic clock, nanoseconds.
        public let start: UInt64
        public let end: UInt64
        public var nanoseconds: UInt64 { end - start }
    }

    public private(set) var intervals: [Interval] = []
    private var last: UInt64 = 0

    public init() { intervals.reserveCapacity(64) }

    /// The monotonic clock the laps use, in nanoseconds; measure a whole run with it too.
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Starts a run: forgets earlier intervals; the first lap measures from here (or from `at`).
    public func start(at time: UInt64 = StageTimer.now()) {
        intervals.removeAll(keepingCapacity: true)
        last = time
    }

    /// Ends `stage`: it lasted from the previous lap (or `start`) until now.
    public func lap(_ stage: ProfileStage) {
        let t = Self.now()
        intervals.append(Interval(stage: stage, start: last, end: t))
        last = t
    }
}

// MARK: - Operation counts

/// Arithmetic per stage (a multiply-add counts as 2 operations), for GOP/s figures. Only the
/// matmuls and attention products count; norms and activations are a rounding error beside them.
extension VisionEncoder {
    /// Operations of each stage for one forward pass over `batch` images, as `encode` runs it
    /// without an observer (the last block computes only the class-token row after attention's
    /// keys and values).
    public func stageOperations(batch n: Int) -> [ProfileStage: Double] {
        let v = config.vision, d = Double(v.tower.width), m = Double(v.tower.mlpWidth)
        let t = Double(v.tokens), g2 = Double(v.grid * v.grid), patchLength = Double(3 * v.patchSize * v.patchSize)
        let images = Double(n)
        var ops: [ProfileStage: Double] = [:]
        ops[ProfileStage(.vision, .embed)] = 2 * images * g2 * patchLength * d
        for i in tower.blocks.indices {
            // The last block runs its queries, out proj and MLP on one row per image.
            let rows = i == tower.blocks.count - 1 ? images : images * t
            let queries = i == tower.blocks.count - 1 ? 1 : t
            let qkv = 2 * images * t * d * 3 * d
            let attention = 2 * 2 * images * queries * t * d   // q·kᵀ and p·v over all heads
            ops[ProfileStage(.vision, .attention, block: i)] = qkv + attention + 2 * rows * d * d
            ops[ProfileStage(.vision, .mlp, block: i)] = 2 * 2 * rows * d * m
        }
        ops[ProfileStage(.vision, .head)] = 2 * images * d * Double(config.embedDim)
        return ops
    }
}

extension TextEncoder {
    /// Operations of each stage for encoding `tokens` as `encode` runs it (the real tokens up to
    /// the pooling position, causal attention, the last block on the pooled row only).
    public func stageOperations(tokens: [Int32]) -> [ProfileStage: Double] {
        let c = config.text, d = Double(c.tower.width), m = Double(c.tower.mlpWidth)
        let tokenCount = Self.poolIndex(of: tokens) + 1
        let t = Double(tokenCount)
        var ops: [ProfileStage: Double] = [:]
        ops[ProfileStage(.text, .embed)] = 0
        for i in tower.blocks.indices {
            let last = i == tower.blocks.count - 1
            let rows = last ? 1 : t
            // Causal: query j sees j + 1 keys; the last block's single query sees all t.
            let pairs = last ? t : t * (t + 1) / 2
            ops[ProfileStage(.text, .attention, block: i)] = 2 * t * d * 3 * d + 2 * 2 * pairs * d + 2 * rows * d * d
            ops[ProfileStage(.text, .mlp, block: i)] = 2 * 2 * rows * d * m
        }
        ops[ProfileStage(.text, .head)] = 2 * d * Double(config.embedDim)
        return ops
    }
}
