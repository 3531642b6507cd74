// `pocketclip embed`: image and text embeddings as JSON.

import ArgumentParser
import CLIPConvert
import CLIPRuntime
import CLIPSupport

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed images and texts into CLIP's joint space (JSON on stdout).",
        discussion: """
            Embeddings are the projected features, not normalized unless --normalize is given. \
            Only the towers needed are loaded.

            Examples:
              pocketclip embed MODEL --image cat.jpg --image dog.png
              pocketclip embed MODEL --text "a photo of a cat" --normalize
              pocketclip embed MODEL --image a.jpg --image b.jpg --keep-going

            Output: {"model", "dim", "normalized", "images": [{"path", "embedding"}, …], \
            "texts": [{"text", "embedding"}, …]}; with --keep-going, also "errors": [{"image": \
            PATH, "error": REASON}, …] for the images that could not be used (their embeddings \
            are left out). Without it, a bad image fails the run and nothing is printed.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("image"), help: ArgumentHelp("An image file (repeatable).", valueName: "path"))
    var images: [String] = []

    @Option(name: .customLong("text"), parsing: .unconditionalSingleValue, help: ArgumentHelp("A text (repeatable).", valueName: "text"))
    var texts: [String] = []

    @OptionGroup var keepGoing: KeepGoingOption

    @Flag(help: "L2-normalize the embeddings.")
    var normalize = false

    @Flag(help: "Truncate texts longer than the model's context (77 tokens for released CLIPs) instead of failing.")
    var truncate = false

    func validate() throws {
        if images.isEmpty && texts.isEmpty { throw ValidationError("give at least one --image or --text") }
    }

    func run() throws {
        try reportingErrors {
            let towers: Towers = texts.isEmpty ? .vision : (images.isEmpty ? .text : .both)
            let model = try modelOptions.load(towers: towers)
            modelOptions.hintIfFloat(model, images: images.count)
            let finish: ([Float]) -> [Float] = { normalize ? ZeroShot.normalized($0) : $0 }
            let failures = ImageFailures(keepGoing: keepGoing.keepGoing)
            var imageItems: [String] = []
            for path in images {
                guard let embedding = try failures.attempt({ try model.embedImage(path: path) }) else { continue }
                imageItems.append("{\"path\": \(jsonQuoted(path)), \"embedding\": \(jsonArray(finish(embedding)))}")
            }
            var textItems: [String] = []
            for text in texts {
                let e = finish(try model.embedText(text, truncate: truncate))
                textItems.append("{\"text\": \(jsonQuoted(text)), \"embedding\": \(jsonArray(e))}")
            }
            print("""
                {"model": \(jsonQuoted(modelOptions.model)), "dim": \(model.config.embedDim), "normalized": \(normalize),
                 "images": [\(imageItems.joined(separator: ",\n  "))],
                 "texts": [\(textItems.joined(separator: ",\n  "))]\(keepGoing.keepGoing ? ",\n \(failures.jsonMember)" : "")}
                """)
            if !images.isEmpty { try failures.finish("embedded", total: images.count) }
        }
    }
}
