// How a checkpoint layout stores a tensor, and the two directions between it and the canonical
// layout: `canonical(_:from:)` reads (the converter), `stored(_:in:config:)` writes (the trainer's
// exporters). The transforms are exact: values are moved, never rounded.

/// A dense float tensor: row-major values with a shape.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public var count: Int { values.count }
}

/// How a checkpoint layout stores a tensor, relative to the canonical layout.
public enum LayoutTransform: Sendable, Equatable {
    /// Stored as the canonical tensor.
    case asIs
    /// Stored as x · W, [in, out]: the canonical [out, in] transposed.
    case transpose
    /// The canonical stacked q, k, v ([3·D, …]) stored as three tensors, one per third of the
    /// first dimension (rows 0..<D are q, then k, then v, as in torch's MultiheadAttention).
    case splitQKV
    /// conv1's kernel [D, 3, P, P]: the canonical [D, 3·P·P] with the same bytes.
    case convolution
}

extension ModelTensor {
    /// The canonical tensor from what `layout` stores under `names(in: layout)` (one tensor, or
    /// HF's q, k, v in that order). Checks only what the transform needs; the shapes are checked
    /// against the config afterwards (`CLIPWeights.validate`).
    public func canonical(_ stored: [Tensor], from layout: CheckpointLayout) throws -> Tensor {
        let names = names(in: layout)
        precondition(stored.count == names.count, "\(name) is stored as \(names.count) tensors in \(layout), \(stored.count) given")
        switch transform(layout) {
        case .asIs:
            return stored[0]
        case .convolution:
            let t = stored[0]
            return Tensor(shape: [t.shape[0], t.count / max(1, t.shape[0])], values: t.values)
        case .transpose:
            let t = stored[0]
            guard t.shape.count == 2 else {
                throw ModelError.shapeMismatch(tensor: names[0], expected: [-1, -1], found: t.shape)
            }
            return transposed(t)
        case .splitQKV:
            let first = stored[0].shape
            for (name, p) in zip(names, stored) where p.shape != first {
                throw ModelError.shapeMismatch(tensor: name, expected: first, found: p.shape)
            }
            return Tensor(shape: [3 * first[0]] + first.dropFirst(), values: stored.flatMap(\.values))
        }
    }

    /// `canonical`, a tensor of this shape for a model with `config`, as `layout` stores it: its
    /// names with their tensors (one, or HF's q, k, v).
    public func stored(_ canonical: Tensor, in layout: CheckpointLayout, config: CLIPConfig)
        -> [(name: String, tensor: Tensor)]
    {
        let names = names(in: layout), shapes = storedShapes(in: layout, config: config)
        precondition(canonical.shape == shape(config), "\(name) has shape \(canonical.shape), the config gives \(shape(config))")
        switch transform(layout) {
        case .asIs, .convolution:
            return [(names[0], Tensor(shape: shapes[0], values: canonical.values))]
        case .transpose:
            return [(names[0], transposed(canonical))]
        case .splitQKV:
            let third = canonical.count / 3
            return (0..<3).map { i in
                (names[i], Tensor(shape: shapes[i], values: Array(canonical.values[(i * third)..<((i + 1) * third)])))
            }
        }
    }
}

/// A 2-D tensor [rows, cols] as [cols, rows].
private func transposed(_ t: Tensor) -> Tensor {
    let rows = t.shape[0], cols = t.shape[1]
    var out = [Float](repeating: 0, count: t.count)
    for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = t.values[r * cols + c] } }
    return Tensor(shape: [cols, rows], values: out)
}
