// `pocketclip index build|query|info`: embed a folder of images once, then search it by text or
// by image. The index file and the resumable build live in CLIPRuntime (EmbeddingIndex).

import ArgumentParser
import CLIPRuntime
import CLIPSearch
import CLIPSupport

struct Index: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Image search: embed a folder once into an index file, query it by text or by image.",
        discussion: """
            Examples:
              pocketclip index build MODEL photos/ -o photos.index
              pocketclip index query MODEL photos.index --text "a red sneaker"
              pocketclip index query MODEL photos.index --image x.png --top-k 3
              pocketclip index info photos.index --list
            """,
        subcommands: [IndexBuild.self, IndexQuery.self, IndexInfo.self])
}

struct IndexBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Embed every image under a folder into an index file (resumable).",
        discussion: """
            Walks FOLDER recursively (hidden files skipped), embeds each image with the vision \
            tower only, and saves the L2-normalized embeddings with the model's fingerprint. The \
            index is rewritten atomically every --save-every images, so an interrupted build \
            keeps what it saved: run the same command again and it embeds only files that are \
            new or changed (size or modification time), and drops files that are gone.

            An image that cannot be read or decoded stops the build ("error: cannot use image \
            'FOLDER/NAME': REASON …", exit 1; the index keeps what was saved). With \
            --keep-going it is skipped instead: one such line on stderr per image, FOLDER as \
            given, a summary line at the end, exit 3, and the next run tries it again.

            Examples:
              pocketclip index build MODEL photos/ -o photos.index
              pocketclip index build MODEL photos/ -o photos.index --extensions png
              pocketclip index build MODEL photos/ -o photos.index --keep-going
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The folder of images to index.")
    var folder: String

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The index file to write or continue.", valueName: "path"))
    var output: String

    @OptionGroup var keepGoing: KeepGoingOption

    @Option(help: "Images per forward pass.")
    var batch: Int = 16

    @Option(help: "Save the index after this many new images (and at the end).")
    var saveEvery: Int = 64

    @Option(help: ArgumentHelp("File name extensions to index.", valueName: "a,b"))
    var extensions: String = "png,jpg,jpeg,webp"

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1, got \(batch)") }
        if saveEvery < 1 { throw ValidationError("--save-every must be at least 1, got \(saveEvery)") }
        if parsedExtensions.isEmpty { throw ValidationError("--extensions names no extension") }
    }

    var parsedExtensions: Set<String> {
        Set(extensions.split(separator: ",").map { String($0).trimmingWhitespace().lowercased() }
            .map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }.filter { !$0.isEmpty })
    }

    func run() throws {
        try reportingErrors {
            guard isDirectory(folder) else { throw ModelError.invalidInput("'\(folder)' is not a folder; give the folder of images to index") }
            // A new index is checked before the model loads; an existing one once the scan shows
            // it must change (an up-to-date index on a read-only disk is fine), before embedding.
            if !fileExists(output) { try checkWritable(output) }
            let model = try modelOptions.load(towers: .vision)
            let failures = ImageFailures(keepGoing: keepGoing.keepGoing)
            var todo = 0
            var options = IndexBuildOptions()
            (options.extensions, options.batchSize, options.saveEvery) = (parsedExtensions, batch, saveEvery)
            let r = try EmbeddingIndex.build(model: model, folder: folder, output: output, options: options,
                                             beforeWriting: { try checkWritable(output) }) { p in
                // The library skips what it cannot decode; without --keep-going the first such
                // image stops the build here (the index keeps what it saved).
                for (name, reason) in p.undecodable[failures.failed.count...] {
                    let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                    failures.record(path: path, reason: reason)
                    if !keepGoing.keepGoing {
                        throw CLIError("\(ModelError.badImage(path: path, reason: reason)) (the build stopped here, keeping what it saved; --keep-going skips such images)")
                    }
                }
                if todo == 0 { modelOptions.hintIfFloat(model, images: p.total - p.unchanged) }
                todo = p.total - p.unchanged
                let done = p.embedded + p.undecodable.count
                if p.justSaved || done == todo {
                    stderrLine("\(done)/\(todo) \(plural(todo, "image"))\(p.justSaved ? ", saved" : "")")
                }
            }
            let skipped = r.undecodable.isEmpty ? "" : ", \(r.undecodable.count) undecodable skipped"
            // "wrote" only when the file was written: an up-to-date index is left as it was.
            print("\(r.saves > 0 ? "wrote \(output):" : "\(output) is up to date:") \(r.unchanged + r.embedded) \(plural(r.unchanged + r.embedded, "image")) (\(r.embedded) embedded, \(r.unchanged) already indexed, \(r.removed) removed\(skipped))")
            try failures.finish("embedded", total: todo)
        }
    }
}

struct IndexQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Find the indexed images closest to a text or an image.",
        discussion: """
            Scores are cosine similarities between the query's embedding and each image's. A \
            text query loads only the text tower, an image query only the vision tower. The \
            model must be the one that built the index.

            Examples:
              pocketclip index query MODEL photos.index --text "a red sneaker"
              pocketclip index query MODEL photos.index --image x.png --top-k 3 --json
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The index file (from `pocketclip index build`).")
    var index: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Search by this text.", valueName: "text"))
    var text: String?

    @Option(help: ArgumentHelp("Search by this image.", valueName: "path"))
    var image: String?

    @Option(parsing: .unconditional, help: "How many results to print (0 = all).")  // as classify's --top-k
    var topK: Int = 5

    @Flag(help: "Truncate a text longer than the model's context (77 tokens for released CLIPs) instead of failing.")
    var truncate = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        if (text == nil) == (image == nil) { throw ValidationError("give exactly one of --text or --image") }
        if topK < 0 { throw ValidationError("--top-k must be 0 (all) or positive, got \(topK)") }
    }

    func run() throws {
        try reportingErrors {
            if let image, !fileExists(image) { throw ModelError.invalidInput("image '\(image)' does not exist") }
            let idx = try EmbeddingIndex.read(index)  // a bad index fails before any weights load
            let model = try modelOptions.load(towers: text != nil ? .text : .vision)
            try idx.check(builtBy: model, path: index)
            let query = try text.map { try model.embedText($0, truncate: truncate) } ?? model.embedImage(path: image!)
            let hits = try idx.search(query, topK: topK == 0 ? idx.count : topK)
            print(json ? queryJSON(idx, hits) : queryTable(idx, hits))
        }
    }

    func queryTable(_ idx: EmbeddingIndex, _ hits: [SearchHit]) -> String {
        var lines = ["\(text.map { "text: \"\($0)\"" } ?? "image: \(image!)")  (\(idx.count) \(plural(idx.count, "image")) under \(idx.root))"]
        for (rank, h) in hits.enumerated() { lines.append("\(rank + 1). \(decimal(Double(h.score), 4))  \(h.path)") }
        return lines.joined(separator: "\n")
    }

    func queryJSON(_ idx: EmbeddingIndex, _ hits: [SearchHit]) -> String {
        let query = text.map { "\"text\": \(jsonQuoted($0))" } ?? "\"image\": \(jsonQuoted(image!))"
        let items = hits.map { "{\"path\": \(jsonQuoted($0.path)), \"score\": \(jsonNumber($0.score))}" }
        return "{\(query), \"root\": \(jsonQuoted(idx.root)), \"count\": \(idx.count),\n \"results\": [\(items.joined(separator: ",\n  "))]}"
    }
}

struct IndexInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print what an index holds: folder, model fingerprint, size, entries.")

    @Argument(help: "The index file.")
    var index: String

    @Flag(help: "List every indexed path.")
    var list = false

    func run() throws {
        try reportingErrors {
            let idx = try EmbeddingIndex.read(index)
            print("\(index): \(idx.count) \(plural(idx.count, "image")) under \(idx.root), dim \(idx.dim), model fingerprint \(hex8(idx.modelFingerprint))")
            if list { for p in idx.paths { print("  \(p)") } }
        }
    }
}

