// Reads the tensors named in `Names` from a safetensors file and puts them in the runtime's
// layout (transposes, q/k/v stacking, conv reshape), remembering which names it used so that
// leftovers — an architecture variant we do not run — are reported instead of ignored.

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

    func shape(_ n: WeightName, prefix: String = "") throws -> [Int] {
        let name = n.names(layout, prefix: prefix)[0]
        guard let info = file.tensors[name] else { throw ModelError.missingTensor(name) }
        return info.shape
    }

    func tensor(_ n: WeightName, prefix: String = "") throws -> Tensor {
        let names = n.names(layout, prefix: prefix)
        var parts: [Tensor] = []
        for name in names {
            guard file.tensors[name] != nil else { throw ModelError.missingTensor(name) }
            let (shape, values) = try file.floatTensor(name)
            used.insert(name)
            parts.append(Tensor(shape: shape, values: values))
        }
        switch n.transform(layout) {
        case .asIs:
            return parts[0]
        case .transpose:
            let t = parts[0]
            guard t.shape.count == 2 else {
                throw ModelError.shapeMismatch(tensor: names[0], expected: [-1, -1], found: t.shape)
            }
            let rows = t.shape[0], cols = t.shape[1]
            var out = [Float](repeating: 0, count: t.count)
            for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = t.values[r * cols + c] } }
            return Tensor(shape: [cols, rows], values: out)
        case .stackQKV:
            let first = parts[0].shape
            for (name, p) in zip(names, parts) where p.shape != first {
                throw ModelError.shapeMismatch(tensor: name, expected: first, found: p.shape)
            }
            return Tensor(shape: [3 * first[0]] + first.dropFirst(), values: parts.flatMap(\.values))
        }
    }

    func scalar(_ n: WeightName) throws -> Float {
        let t = try tensor(n)
        guard t.count == 1 else { throw ModelError.shapeMismatch(tensor: n.names(layout)[0], expected: [], found: t.shape) }
        return t.values[0]
    }

    /// 1 + the largest block index present in a tower.
    func blockCount(vision: Bool) -> Int {
        let root = Names.blockRoot(vision: vision, layout)
        var count = 0
        for name in file.names where name.hasPrefix(root) {
            let rest = name.dropFirst(root.count)
            if let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0, i < 10_000 {
                count = max(count, i + 1)
            }
        }
        return count
    }

    func layerNorm(_ weight: WeightName, _ bias: WeightName, prefix: String = "") throws -> LayerNormWeights {
        LayerNormWeights(gamma: try tensor(weight, prefix: prefix), beta: try tensor(bias, prefix: prefix))
    }

    func block(vision: Bool, index: Int) throws -> BlockWeights {
        let p = Names.blockPrefix(vision: vision, layout, index: index)
        return BlockWeights(
            ln1: try layerNorm(Names.ln1Weight, Names.ln1Bias, prefix: p),
            qkv: LinearWeights(weight: try tensor(Names.qkvWeight, prefix: p), bias: try tensor(Names.qkvBias, prefix: p)),
            attnOut: LinearWeights(weight: try tensor(Names.outWeight, prefix: p), bias: try tensor(Names.outBias, prefix: p)),
            ln2: try layerNorm(Names.ln2Weight, Names.ln2Bias, prefix: p),
            fc: LinearWeights(weight: try tensor(Names.fcWeight, prefix: p), bias: try tensor(Names.fcBias, prefix: p)),
            proj: LinearWeights(weight: try tensor(Names.projWeight, prefix: p), bias: try tensor(Names.projBias, prefix: p)))
    }

    func vision(_ config: CLIPConfig) throws -> VisionWeights {
        var conv = try tensor(Names.patchEmbedding)
        conv = Tensor(shape: [conv.shape[0], conv.count / max(1, conv.shape[0])], values: conv.values)
        return VisionWeights(
            patchEmbedding: conv,
            classEmbedding: try tensor(Names.classEmbedding),
            positionEmbedding: try tensor(Names.visionPositions),
            lnPre: try layerNorm(Names.lnPreWeight, Names.lnPreBias),
            blocks: try (0..<config.vision.tower.layers).map { try block(vision: true, index: $0) },
            lnPost: try layerNorm(Names.lnPostWeight, Names.lnPostBias),
            projection: try tensor(Names.visionProjection))
    }

    func text(_ config: CLIPConfig) throws -> TextWeights {
        TextWeights(
            tokenEmbedding: try tensor(Names.tokenEmbedding),
            positionEmbedding: try tensor(Names.textPositions),
            blocks: try (0..<config.text.tower.layers).map { try block(vision: false, index: $0) },
            lnFinal: try layerNorm(Names.lnFinalWeight, Names.lnFinalBias),
            projection: try tensor(Names.textProjection))
    }

    /// Names in the file that belong to no part we read, ignoring a tower that was not loaded.
    func unexpectedNames(config: CLIPConfig) -> [String] {
        let visionPrefixes = layout == .openCLIP ? ["visual."] : ["vision_model.", "visual_projection."]
        let textPrefixes = layout == .openCLIP
            ? ["token_embedding.", "positional_embedding", "transformer.", "ln_final.", "text_projection"]
            : ["text_model.", "text_projection."]
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
