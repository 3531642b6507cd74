// Reads a model's tensors from a safetensors file by the schema's names for the file's layout and
// puts them in the canonical layout (the schema's transforms: transposes, q/k/v stacking, conv
// reshape), remembering which names it used so that leftovers — an architecture variant we do
// not run — are reported instead of ignored.

import CLIPRuntime

final class WeightReader {
    let file: SafetensorsFile
    let layout: CheckpointLayout
    private(set) var used = Set<String>()

    /// Buffers the references keep in their state dicts that carry no weights.
    static let ignorableSuffixes = ["position_ids", "attn_mask"]

    init(file: SafetensorsFile, layout: CheckpointLayout) {
        self.file = file
        self.layout = layout
    }

    /// The stored shape of `t` (its first stored tensor for HF's q, k, v).
    func shape(_ t: ModelTensor) throws -> [Int] {
        let name = t.names(in: layout)[0]
        guard let info = file.tensors[name] else { throw ModelError.missingTensor(name) }
        return info.shape
    }

    func tensor(_ t: ModelTensor) throws -> Tensor {
        var parts: [Tensor] = []
        for name in t.names(in: layout) {
            guard file.tensors[name] != nil else { throw ModelError.missingTensor(name) }
            let (shape, values) = try file.floatTensor(name)
            used.insert(name)
            parts.append(Tensor(shape: shape, values: values))
        }
        return try t.canonical(parts, from: layout)
    }

    func scalar(_ t: ModelTensor) throws -> Float {
        let v = try tensor(t)
        guard v.count == 1 else { throw ModelError.shapeMismatch(tensor: t.names(in: layout)[0], expected: [], found: v.shape) }
        return v.values[0]
    }

    /// 1 + the largest block index present in a tower.
    func blockCount(_ tower: ModelTensor.Tower) -> Int {
        let root = tower.blockRoot(layout) + "."
        var count = 0
        for name in file.names where name.hasPrefix(root) {
            let rest = name.dropFirst(root.count)
            if let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0, i < 10_000 {
                count = max(count, i + 1)
            }
        }
        return count
    }

    /// Weights of the shapes `config` gives, each tensor read from the file in file order.
    func weights(_ config: CLIPConfig, towers: Towers) throws -> CLIPWeights {
        var weights = CLIPWeights(config: config, towers: towers)
        try weights.visitTensors { t, value in value = try tensor(t) }
        return weights
    }

    /// Names in the file that belong to no part we read, ignoring a tower that was not loaded.
    func unexpectedNames() -> [String] {
        let visionPrefixes = ModelTensor.namePrefixes(of: .vision, in: layout)
        let textPrefixes = ModelTensor.namePrefixes(of: .text, in: layout)
        let loadedVision = used.contains { n in visionPrefixes.contains { n.hasPrefix($0) } }
        let loadedText = used.contains { n in textPrefixes.contains { n.hasPrefix($0) } }
        return file.names.filter { name in
            if used.contains(name) { return false }
            if Self.ignorableSuffixes.contains(where: { name.hasSuffix($0) }) { return false }
            if !loadedVision && visionPrefixes.contains(where: { name.hasPrefix($0) }) { return false }
            if !loadedText && textPrefixes.contains(where: { name.hasPrefix($0) }) { return false }
            return true
        }
    }
}
