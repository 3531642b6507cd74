// `pocketclip classify`: zero-shot classification of images over labels named in words.

import ArgumentParser
import CLIPConvert
import CLIPFormat
import CLIPRuntime

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images zero-shot: name the classes in words, no training.",
        discussion: """
            Each label is put into the template ("a photo of a {}." by default), embedded by the \
            text tower, and compared with the image embedding: probabilities are the softmax of \
            exp(logit_scale) * cosine, as in the CLIP paper.

            Examples:
              pocketclip classify MODEL cat.jpg --labels "cat,dog,car"
              pocketclip classify MODEL *.png --labels-file classes.txt --top-k 3 --json
              pocketclip classify MODEL x.png --labels "tabby cat,golden retriever" --template "{}"
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "Image files (PNG or JPEG).")
    var images: [String]

    @Option(help: ArgumentHelp("Comma-separated class names.", valueName: "a,b,c"))
    var labels: String?

    @Option(help: ArgumentHelp("A file with one class name per line.", valueName: "path"))
    var labelsFile: String?

    @Option(help: "Prompt template; '{}' is replaced by each label.")
    var template: String = CLIPModel.defaultTemplate

    @Option(help: "How many labels to print per image (0 = all).")
    var topK: Int = 5

    @Flag(help: "Truncate prompts longer than 77 tokens instead of failing.")
    var truncate = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file") }
        if (labels == nil) == (labelsFile == nil) { throw ValidationError("give the classes with exactly one of --labels or --labels-file") }
        if topK < 0 { throw ValidationError("--top-k must be 0 (all) or positive") }
    }

    func run() throws {
        try reportingErrors {
            let names = try labelList()
            // Fail on bad labels or missing images before loading any weights.
            _ = try CLIPModel.prompts(labels: names, template: template)
            for path in images where !fileExists(path) {
                throw ModelError.invalidInput("image '\(path)' does not exist")
            }
            let model = try modelOptions.load(towers: .both)
            let classes = try model.classEmbeddings(labels: names, template: template, truncate: truncate)
            var results: [(String, [LabelScore])] = []
            for path in images {
                let scores = model.scores(image: try model.embedImage(path: path), classes: classes, labels: names)
                results.append((path, topK == 0 ? scores : Array(scores.prefix(topK))))
            }
            print(json ? classifyJSON(results) : classifyTable(results))
        }
    }

    func labelList() throws -> [String] {
        if let labels {
            return labels.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0).trimmingWhitespace() }
        }
        let text = try readTextFile(labelsFile!)
        return text.split(separator: "\n").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

func classifyTable(_ results: [(String, [LabelScore])]) -> String {
    var lines: [String] = []
    for (path, scores) in results {
        lines.append(path)
        let width = scores.map(\.label.count).max() ?? 0
        for s in scores {
            let pad = String(repeating: " ", count: max(0, width - s.label.count))
            lines.append("  \(s.label)\(pad)  \(formatPercent(s.probability))")
        }
    }
    return lines.joined(separator: "\n")
}

func classifyJSON(_ results: [(String, [LabelScore])]) -> String {
    let items = results.map { path, scores in
        let entries = scores.map {
            "{\"label\": \(jsonString($0.label)), \"probability\": \(jsonNumber($0.probability)), \"logit\": \(jsonNumber($0.logit))}"
        }
        return "{\"image\": \(jsonString(path)), \"labels\": [\(entries.joined(separator: ", "))]}"
    }
    return "{\"results\": [\(items.joined(separator: ",\n  "))]}"
}
