// `pocketclip inspect` and `pocketclip verify`: what a .pclip file holds, and whether it is intact.

import ArgumentParser
import CLIPFormat
import CLIPImage
import CLIPRuntime
import CLIPSupport

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a .pclip file's config, tokenizer and tensors.",
        discussion: """
            Prints the architecture, preprocessing and tokenizer the file carries, then every \
            tensor's dtype, shape, stored and decoded bytes and compression. --load also decodes \
            every tensor into memory as a board would (int8 kept as int8; raw tensors mapped in \
            place) and reports the in-memory bytes and the process's peak RSS.

            Examples:
              pocketclip inspect model.pclip
              pocketclip inspect model.pclip --json | jq .tensors[0]
              pocketclip inspect model.pclip --load
            """)

    @Argument(help: "A .pclip file.")
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "Decode every tensor into memory and report memory use.")
    var load = false

    func run() throws {
        try reportingErrors {
            let f = try openPclip(file)
            let (config, logitScale, preprocess, _) = try CLIPModel.validate(f)
            let memory = load ? try LoadedMemory.measure(f) : nil
            if json {
                print(inspectJSON(f, memory: memory))
                return
            }
            let v = config.vision, t = config.text
            print("\(file): .pclip 1.\(f.versionMinor), \(formatBytes(f.fileSize)), \(f.tensors.count) tensors")
            print("  vision: \(v.imageSize)px, patch \(v.patchSize), width \(v.tower.width), \(v.tower.layers) layers, \(v.tower.heads) heads, MLP \(v.tower.mlpWidth)")
            print("  text:   vocabulary \(t.vocabularySize), context \(t.contextLength), width \(t.tower.width), \(t.tower.layers) layers, \(t.tower.heads) heads, MLP \(t.tower.mlpWidth)")
            print("  embed \(config.embedDim), \(config.activation.rawValue), logit scale \(logitScale) (×\(expf(logitScale)))")
            print("  preprocess: \(preprocess.size)px, mean \(preprocess.mean), std \(preprocess.std), crop rounding \(preprocess.cropRounding.rawValue)")
            if let merges = try? f.info(PclipNames.merges) {
                print("  tokenizer: CLIP BPE, \(t.vocabularySize) tokens, merges \(formatBytes(merges.decodedSize))")
            }
            let width = f.tensors.map(\.name.count).max() ?? 0
            for info in f.tensors {
                let pad = String(repeating: " ", count: width - info.name.count)
                let group = info.dtype == .q8 ? (info.groupSize == info.dims.last ? " per-channel" : " group \(info.groupSize)") : ""
                print("  \(info.name)\(pad)  \(info.dtype)\(group) \(info.dims)  \(info.compression) \(info.storedSize) → \(info.decodedSize) B")
            }
            if let m = memory {
                print("loaded: \(formatBytes(m.decoded)) decoded in memory + \(formatBytes(m.mapped)) mapped in place; peak RSS \(formatBytes(m.peakRSS)) (now: \(formatBytes(m.rssAnon)) anonymous, \(formatBytes(m.rssFile)) file-backed)")
            }
        }
    }
}

func inspectJSON(_ f: PclipFile, memory: LoadedMemory?) -> String {
    let tensors = f.tensors.map { t in
        "{\"name\": \(jsonQuoted(t.name)), \"dtype\": \"\(t.dtype)\", \"dims\": \(t.dims), \"group_size\": \(t.groupSize), \"compression\": \"\(t.compression)\", \"offset\": \(t.offset), \"stored_bytes\": \(t.storedSize), \"decoded_bytes\": \(t.decodedSize), \"crc32\": \(t.crc32)}"
    }
    var fields = [
        "\"file_bytes\": \(f.fileSize)",
        "\"version\": \"1.\(f.versionMinor)\"",
        "\"metadata\": \(f.metadata.serialized())",
        "\"tensors\": [\n  \(tensors.joined(separator: ",\n  "))]",
    ]
    if let m = memory {
        fields.append("\"memory\": {\"decoded_bytes\": \(m.decoded), \"mapped_bytes\": \(m.mapped), \"peak_rss_bytes\": \(m.peakRSS), \"rss_anon_bytes\": \(m.rssAnon), \"rss_file_bytes\": \(m.rssFile)}")
    }
    return "{" + fields.joined(separator: ",\n") + "}"
}
