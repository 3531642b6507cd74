// Zero-shot classification: compare one image embedding with one embedding per class.
// logits = exp(logit_scale) · cos(image, class), softmax over classes (CLIP paper, Figure 1).

import CLIPKernels
import CLIPSupport

public enum ZeroShot {
    /// Returns `v` scaled to unit length (a zero vector stays zero).
    public static func normalized(_ v: [Float]) -> [Float] {
        var out = v
        out.withUnsafeMutableBufferPointer { l2NormalizeInPlace($0.baseAddress!, count: $0.count) }
        return out
    }

    /// Prompt ensembling: normalize each template's embedding, average them, renormalize.
    public static func ensemble(_ embeddings: [[Float]]) -> [Float] {
        precondition(!embeddings.isEmpty, "an ensemble needs at least one embedding")
        var mean = [Float](repeating: 0, count: embeddings[0].count)
        for e in embeddings {
            let n = normalized(e)
            for i in mean.indices { mean[i] += n[i] }
        }
        return normalized(mean)
    }

    /// exp(logitScale) · cos(image, class_k) for each class.
    public static func logits(image: [Float], classes: [[Float]], logitScale: Float) -> [Float] {
        let scale = expf(logitScale)
        let img = normalized(image)
        return classes.map { c in
            let n = normalized(c)
            var dot: Float = 0
            for i in n.indices { dot += img[i] * n[i] }
            return scale * dot
        }
    }

    /// Softmax of `logits` (computed in Double so probabilities sum to 1 to float precision).
    public static func softmax(_ logits: [Float]) -> [Float] {
        guard let m = logits.max() else { return [] }
        let e = logits.map { exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }
}
