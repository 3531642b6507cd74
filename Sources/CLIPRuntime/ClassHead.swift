// A class head: the text side of zero-shot classification computed once and saved, so a board
// can classify with the vision tower alone — the text tower is then never loaded.
//
// The file is a .pclip container (formats/pclip.md) whose metadata holds a "head" object and
// whose one tensor `head.classes` [C, E] holds the normalized class embeddings. It records the
// fingerprint of the model it was built from; using it with another model is an error.

import CLIPFormat
import CLIPSupport

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
        let file: PclipFile
        do { file = try PclipFile(path: path) } catch PclipError.badMagic {
            // Not a .pclip container at all: an index is the usual mix-up.
            let isIndex = (try? ReadOnlyFile(path: path).bytes(at: 0, count: 8)) == Array("PCLIPIDX".utf8)
            throw ModelError.invalidInput("'\(path)' is not a class head: "
                + (isIndex ? "it is an embedding index (from pocketclip index build)" : "it does not start with the .pclip magic")
                + "; build a head with: pocketclip head build MODEL --labels ... -o FILE")
        }
        let head = try parse(file, source: path)
        try head.check(modelFingerprint: model.fingerprint, embedDim: model.config.embedDim, source: path)
        return head
    }

    /// Reads the head held by an opened .pclip container, without checking which model it
    /// belongs to (`check` does that; `load` calls both). `source` names the file in errors.
    /// Also the fuzzer's entry point (Fuzz/FuzzHead), so the fuzzed code is the loader's.
    public static func parse(_ file: PclipFile, source: String) throws -> ClassHead {
        guard let head = file.metadata["head"], head.members != nil else {
            let what = file.metadata["model"] != nil ? ": it is a model (give it as MODEL)" : ""
            throw ModelError.invalidInput("'\(source)' is not a class head file\(what) (build one with: pocketclip head build MODEL --labels ... -o FILE)")
        }
        guard let labels = strings(head["labels"]), !labels.isEmpty, let templates = strings(head["templates"]),
              let e = head["embed_dim"]?.int, e >= 1, let scale = head["logit_scale"]?.number, Float(scale).isFinite,
              let print = head["model_fingerprint"]?.int, print >= 0, print <= Int(UInt32.max) else {
            throw ModelError.invalidInput("class head '\(source)' has incomplete metadata: it needs labels (a non-empty array of strings), "
                + "templates (an array of strings), embed_dim ≥ 1, a finite logit_scale and a u32 model_fingerprint; rebuild it with pocketclip head build")
        }
        let (dims, values) = try file.floats(tensorName)
        guard dims == [labels.count, e] else {
            throw ModelError.invalidInput("class head '\(source)': \(tensorName) is \(dims), expected [\(labels.count), \(e)]")
        }
        // Embeddings are normalized when built: a NaN or infinity can only come from damage, and
        // would silently turn every score into NaN.
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.invalidInput("class head '\(source)': \(tensorName) holds a non-finite value for label '\(labels[bad / e])'; rebuild it with pocketclip head build")
        }
        let embeddings = (0..<labels.count).map { Array(values[($0 * e)..<(($0 + 1) * e)]) }
        return ClassHead(labels: labels, templates: templates, embeddings: embeddings, logitScale: Float(scale),
                         modelFingerprint: UInt32(print))
    }

    /// Throws unless the head was built from the model with `modelFingerprint` (nil: a model not
    /// loaded from .pclip) and embedding size `embedDim`. `source` names the head in errors.
    public func check(modelFingerprint fingerprint: UInt32?, embedDim: Int, source: String) throws {
        guard let fingerprint, fingerprint == modelFingerprint, embeddings.first?.count == embedDim else {
            throw ModelError.invalidInput(
                "class head '\(source)' was built from another model (fingerprint \(hex8(modelFingerprint)), this model's is \(fingerprint.map(hex8) ?? "unknown: not a .pclip model")); rebuild it with pocketclip head build")
        }
    }

    /// Every element of a JSON array as a string; nil when it is not an array of strings only.
    private static func strings(_ value: JSONValue?) -> [String]? {
        guard let array = value?.array else { return nil }
        let strings = array.compactMap(\.string)
        return strings.count == array.count ? strings : nil
    }
}
