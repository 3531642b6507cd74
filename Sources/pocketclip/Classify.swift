// `pocketclip classify`: zero-shot classification of images over labels named in words.

import ArgumentParser
import CLIPConvert
import CLIPRuntime
import CLIPSupport

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images zero-shot: name the classes in words, no training.",
        discussion: """
            Each label is put into the template ("a photo of a {}." by default), embedded by the \
            text tower, and compared with the image embedding: probabilities are the softmax of \
            exp(logit_scale) * cosine, as in the CLIP paper.

            With --ensemble, each label is embedded through the project's seven default templates \
            (those OpenAI selected for ImageNet) and the normalized embeddings are averaged. With \
            --head, the class embeddings come from a file made by `pocketclip head build`, and \
            only the vision tower is loaded.

            Examples:
              pocketclip classify MODEL cat.jpg --labels "cat,dog,car"
              pocketclip classify MODEL *.png --labels-file classes.txt --top-k 3 --json
              pocketclip classify MODEL x.png --labels "tabby cat,golden retriever" --template "{}"
              pocketclip classify MODEL x.png --labels-file imagenet.txt --ensemble
              pocketclip classify MODEL x.png --head imagenet.head
              pocketclip classify MODEL *.jpg --labels-file classes.txt --csv > out.csv
              find photos -name '*.jpg' > list.txt
              pocketclip classify MODEL --files-from list.txt --labels-file classes.txt --csv --progress
              pocketclip classify MODEL inbox/*.jpg --head classes.head --csv --keep-going 2> failed.txt
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "Image files (PNG, JPEG or WebP).")
    var images: [String] = []

    @Option(help: ArgumentHelp("A file with one image path per line ('-': standard input), classified after those "
                               + "on the command line (for more images than a command line holds).", valueName: "path"))
    var filesFrom: String?

    /// Largest `--files-from` list read: about a million paths.
    static let maxFileListBytes = 64 << 20

    @Option(help: ArgumentHelp("Comma-separated class names.", valueName: "a,b,c"))
    var labels: String?

    @Option(help: ArgumentHelp("A file with one class name per line.", valueName: "path"))
    var labelsFile: String?

    @OptionGroup var prompts: PromptOptions

    @Option(help: ArgumentHelp("A class head file from `pocketclip head build` (vision tower only).", valueName: "path"))
    var head: String?

    // .unconditional: "--top-k -1" reaches validate() ("must be 0 or positive") instead of
    // ArgumentParser reading -1 as an option and saying "Missing value".
    @Option(parsing: .unconditional, help: "How many labels to print per image (0 = all).")
    var topK: Int = 5

    @Flag(help: "Truncate prompts longer than the model's context (77 tokens for released CLIPs) instead of failing.")
    var truncate = false

    @Flag(help: ArgumentHelp("Print JSON instead of a table.", discussion: """
        {"results": [{"image": PATH, "labels": [{"label", "probability", "logit"}, …]}, …]}, one \
        image per line; with --keep-going, or when an image stopped the run, also "errors": \
        [{"image": PATH, "error": REASON}, …] for the images that could not be used.
        """))
    var json = false

    @Flag(help: "Print CSV instead of a table: image,label_1,probability_1,... (top-k columns; images that fail have no row).")
    var csv = false

    @OptionGroup var keepGoing: KeepGoingOption

    @Flag(help: "Report on stderr every \(Classify.progressEvery) images classified.")
    var progress = false

    /// Images between two `--progress` lines.
    static let progressEvery = 100

    func validate() throws {
        if images.isEmpty && filesFrom == nil { throw ValidationError("give at least one image file (or --files-from)") }
        if head != nil {
            if labels != nil || labelsFile != nil { throw ValidationError("--head already names the classes; drop --labels/--labels-file") }
        } else if (labels == nil) == (labelsFile == nil) {
            throw ValidationError("give the classes with exactly one of --labels, --labels-file or --head")
        }
        if topK < 0 { throw ValidationError("--top-k must be 0 (all) or positive, got \(topK)") }
        if json && csv { throw ValidationError("give at most one of --json and --csv") }
    }

    func run() throws {
        try reportingErrors {
            // Fail on bad labels, templates or missing images before loading any weights.
            var images = self.images
            if let filesFrom {
                images += try textLines(filesFrom, limit: Self.maxFileListBytes).filter { !$0.text.isEmpty }.map { String($0.text) }
                if images.isEmpty { throw CLIError("'\(filesFrom)' lists no image") }
            }
            // Without --keep-going a missing image fails the run before any weights load; with
            // it, the image is reported and skipped like one that cannot be decoded.
            let failures = ImageFailures(keepGoing: keepGoing.keepGoing)
            for path in images where !keepGoing.keepGoing && !fileExists(path) {
                throw ModelError.invalidInput("image '\(path)' does not exist")
            }
            let model: CLIPModel, names: [String], classes: [[Float]]
            if let head {
                model = try modelOptions.load(towers: .vision)
                let h = try ClassHead.load(head, for: model)
                (names, classes) = (h.labels, h.embeddings)
            } else {
                names = try labelList(labels, file: labelsFile)
                let templates = try prompts.templates()
                for t in templates { _ = try CLIPModel.prompts(labels: names, template: t) }
                model = try modelOptions.load(towers: .both)
                classes = try model.classEmbeddings(labels: names, templates: templates, truncate: truncate)
            }
            modelOptions.hintIfFloat(model, images: images.count)
            // One image at a time, written as soon as it is scored: memory stays flat however
            // many images are given (tools/bench/rss-flat.sh checks 10,000 in one process).
            let ranks = topK == 0 ? names.count : min(topK, names.count)
            let output: any ClassifyOutput
            if json { output = JSONLinesArray() } else if csv { output = CSVRows(ranks: ranks) } else { output = TableRows() }
            output.begin()
            // A failure midway still ends the document (the JSON array closed) before the error.
            do {
                var written = 0
                for (i, path) in images.enumerated() {
                    if let embedding = try failures.attempt({ try model.embedImage(path: path) }) {
                        let scores = model.scores(image: embedding, classes: classes, labels: names)
                        output.write(path: path, scores: Array(scores.prefix(ranks)), index: written)
                        written += 1
                    }
                    if progress && ((i + 1) % Self.progressEvery == 0 || i + 1 == images.count) {
                        writeStderr("classified \(i + 1 - failures.failed.count) of \(images.count) \(plural(images.count, "image"))\n")
                    }
                }
            } catch {
                output.end(failures: failures)
                throw error
            }
            output.end(failures: failures)
            try failures.finish("classified", total: images.count)
        }
    }

}

/// Labels from a comma-separated list or a file with one per line.
func labelList(_ labels: String?, file: String?) throws -> [String] {
    if let labels {
        return labels.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
    }
    return try nonBlankLines(file!)
}

/// The lines of a labels or templates file, trimmed, blank ones dropped. A line holding a control
/// character or bytes that are not UTF-8 (a binary file, a stray escape) is refused with its
/// number rather than becoming a class name nobody can read.
func nonBlankLines(_ path: String) throws -> [String] {
    var out: [String] = []
    for line in try textLines(path) {
        let text = String(line.text).trimmingWhitespace()
        if text.isEmpty { continue }
        if let bad = text.unicodeScalars.first(where: { $0.properties.generalCategory == .control || $0 == "\u{FFFD}" }) {
            let hex = String(bad.value, radix: 16, uppercase: true)
            let what = bad == "\u{FFFD}" ? "bytes that are not UTF-8"
                : "the control character U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            throw ModelError.invalidInput("line \(line.number) of '\(path)' holds \(what); labels and templates are plain UTF-8 text, one per line")
        }
        out.append(text)
    }
    return out
}

/// How labels become prompts: one template, several, a file of them, or the default ensemble.
struct PromptOptions: ParsableArguments {
    @Option(name: .customLong("template"), help: "Prompt template, '{}' replaced by the label (repeatable: an ensemble).")
    var templateList: [String] = []

    @Option(help: ArgumentHelp("A file with one template per line.", valueName: "path"))
    var templatesFile: String?

    @Flag(help: "Use the project's default ensemble of seven templates.")
    var ensemble = false

    func templates() throws -> [String] {
        var out = templateList
        if let templatesFile {
            let lines = try nonBlankLines(templatesFile)
            // A blank file is a mistake, not a request for the default template.
            guard !lines.isEmpty else {
                throw ModelError.invalidInput("--templates-file '\(templatesFile)' holds no template (every line is blank); write one per line, e.g. 'a photo of a {}.'")
            }
            out += lines
        }
        if ensemble { out += PromptTemplates.defaultEnsemble }
        if out.isEmpty { out = [CLIPModel.defaultTemplate] }
        try PromptTemplates.validate(out)
        return out
    }
}

/// Results written one image at a time (nothing is kept per image), in the table, JSON or CSV
/// layout; the bytes are those of the whole result printed at once.
protocol ClassifyOutput {
    func begin()
    /// `index` counts images from 0, in the order given.
    func write(path: String, scores: [LabelScore], index: Int)
    /// Ends the document; the JSON layout lists `failures` when there are any or --keep-going is on.
    func end(failures: ImageFailures)
}

/// The image path, then one indented "label  probability" line per rank.
struct TableRows: ClassifyOutput {
    func begin() {}
    func write(path: String, scores: [LabelScore], index: Int) {
        var lines = [path]
        let width = scores.map(\.label.count).max() ?? 0
        for s in scores {
            let pad = String(repeating: " ", count: max(0, width - s.label.count))
            lines.append("  \(s.label)\(pad)  \(formatPercent(s.probability))")
        }
        print(lines.joined(separator: "\n"))
    }
    func end(failures: ImageFailures) {}
}

/// `{"results": [...]}` with one image per line: the array is opened before the first image and
/// closed after the last, so the whole output is one JSON document, written as it goes. A run
/// that fails midway closes it too (and exits non-zero with the error on stderr); images that
/// could not be used follow in "errors".
struct JSONLinesArray: ClassifyOutput {
    func begin() { print("{\"results\": [", terminator: "") }
    func write(path: String, scores: [LabelScore], index: Int) {
        let entries = scores.map {
            "{\"label\": \(jsonQuoted($0.label)), \"probability\": \(jsonNumber($0.probability)), \"logit\": \(jsonNumber($0.logit))}"
        }
        print((index == 0 ? "" : ",\n  ") + "{\"image\": \(jsonQuoted(path)), \"labels\": [\(entries.joined(separator: ", "))]}",
              terminator: "")
    }
    func end(failures: ImageFailures) {
        print(failures.keepGoing || !failures.failed.isEmpty ? "],\n \(failures.jsonMember)}" : "]}")
    }
}

/// CSV output for `classify --csv` (RFC 4180: fields with a comma, quote or line break are
/// quoted, quotes doubled), so a folder's results open in a spreadsheet or feed a shell script.
/// One header row, then one row per image as it is classified: image, label_1, probability_1,
/// label_2, ... for `ranks` ranks (top-k, or every label).
struct CSVRows: ClassifyOutput {
    let ranks: Int
    func begin() { print(csvRow(["image"] + (0..<ranks).flatMap { ["label_\($0 + 1)", "probability_\($0 + 1)"] })) }
    func write(path: String, scores: [LabelScore], index: Int) {
        print(csvRow([path] + scores.flatMap { [$0.label, jsonNumber($0.probability)] }))
    }
    func end(failures: ImageFailures) {}
}
