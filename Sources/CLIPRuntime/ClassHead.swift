// A class head: the text side of zero-shot classification computed once and saved, so a board
// can classify with the vision tower alone — the text tower is then never loaded.
//
// The file is a .pclip container (formats/pclip.md) whose metadata holds a "head" object and
// whose one tensor `head.classes` [C, E] holds the normalized class embeddings. It records the
// fingerprint of the model it was built from; using it with another model is an error.

import CLIPFormat

/// Class names with their normalized class embeddings, saved for vision-only classification.
///
/// ```swift
/// let head = try ClassHead.build(model: model, labels: ["cat", "dog"], templates: [CLIPModel.defaultTemplate])
/// try head.write(to: "pets.head")
/// let scores = model.scores(image: try model.embedImage(path: "cat.png"), classes: head.embeddings, labels: head.labels)
/// ```
///
/// Thread safety: an immutable value (only `let` properties): share it freely between threads.
public struct ClassHead: Sendable {
    public let labels: [String]
    public let templates: [String]
    /// Normalized class embeddings, one per label.
    public let embeddings: [[Float]]
    public let logitScale: Float
    public let modelFingerprint: UInt32

    static let tensorName = "head.classes"

    /// Embeds `labels` through `templates` with `model`'s text tower.
    public static func build(model: CLIPModel, labels: [String], templates: [String], truncate: Bool = false) throws -> ClassHead {
        guard let fingerprint = model.fingerprint else {
            throw ModelError.invalidInput("class heads are built from .pclip models; convert the checkpoint first (pocketclip convert)")
        }
        try PromptTemplates.validate(templates)
        let embeddings = try model.classEmbeddings(labels: labels, templates: templates, truncate: truncate)
        return ClassHead(labels: labels, templates: templates, embeddings: embeddings, logitScale: model.logitScale,
                         modelFingerprint: fingerprint)
    }

    /// Writes the head (atomically).
    public func write(to path: String) throws {
        let e = embeddings.first?.count ?? 0
        let metadata: JSONValue = .object([
            ("head", .object([
                ("labels", .array(labels.map { .string($0) })),
                ("templates", .array(templates.map { .string($0) })),
                ("embed_dim", .number(Double(e))),
                ("logit_scale", .number(Double(logitScale))),
                ("model_fingerprint", .number(Double(modelFingerprint))),
            ])),
            ("producer", .string("pocketclip 1")),
        ])
        let writer = PclipWriter(metadata: metadata)
        let values = embeddings.flatMap { $0 }
        try writer.add(name: Self.tensorName, dtype: .f32, dims: [labels.count, e], compression: .raw,
                       decoded: values.withUnsafeBytes { Array($0) })
        try writer.write(to: path)
    }

    /// Reads a head and checks it belongs to `model`.
    public static func load(_ path: String, for model: CLIPModel) throws -> ClassHead {
        let file = try PclipFile(path: path)
        guard let head = file.metadata["head"], head.members != nil else {
            throw ModelError.invalidInput("'\(path)' is not a class head file (build one with: pocketclip head build MODEL --labels ... -o FILE)")
        }
        guard let labels = head["labels"]?.array?.compactMap(\.string), !labels.isEmpty,
              let templates = head["templates"]?.array?.compactMap(\.string),
              let e = head["embed_dim"]?.int, let scale = head["logit_scale"]?.number,
              let print = head["model_fingerprint"]?.int, print >= 0, print <= Int(UInt32.max) else {
            throw ModelError.invalidInput("class head '\(path)' has incomplete metadata")
        }
        guard let modelPrint = model.fingerprint, UInt32(print) == modelPrint, e == model.config.embedDim else {
            throw ModelError.invalidInput(
                "class head '\(path)' was built from another model (fingerprint \(hexString(UInt32(print))), this model's is \(model.fingerprint.map(hexString) ?? "unknown: not a .pclip model")); rebuild it with pocketclip head build")
        }
        let (dims, values) = try file.floats(tensorName)
        guard dims == [labels.count, e] else {
            throw ModelError.invalidInput("class head '\(path)': \(tensorName) is \(dims), expected [\(labels.count), \(e)]")
        }
        let embeddings = (0..<labels.count).map { Array(values[($0 * e)..<(($0 + 1) * e)]) }
        return ClassHead(labels: labels, templates: templates, embeddings: embeddings, logitScale: Float(scale),
                         modelFingerprint: UInt32(print))
    }
}

func hexString(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
