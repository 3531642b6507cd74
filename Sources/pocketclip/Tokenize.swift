// `pocketclip tokenize`: the token ids and BPE pieces a text becomes, counted against the model's
// context — what to look at first when a prompt scores oddly (HF's `tokenizer.tokenize`,
// open_clip's `tokenize`).

import ArgumentParser
import CLIPConvert
import CLIPRuntime
import CLIPSupport
import CLIPTokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids and BPE pieces of texts, and whether they fit the model's context.",
        discussion: """
            Each text is cleaned as the text tower sees it (ftfy fixes, HTML unescaping, \
            whitespace collapsed, lowercase) and split into byte-level BPE pieces between the \
            start and end tokens; "</w>" ends a word. A text with more tokens than the model's \
            context is refused by classify and embed, or cut to the context with --truncate (the \
            last kept slot becomes the end token, as open_clip does): the pieces past the cut \
            are marked.

            Output: per text, a header line "TEXT: N tokens of the model's CONTEXT" then one \
            "id  piece" line per token. With --json: {"context", "texts": [{"text", "ids", \
            "pieces", "count", "fits"}, …]}.

            Examples:
              pocketclip tokenize MODEL --text "a photo of a cat"
              pocketclip tokenize MODEL --text "a photo of a {}." --text "tabby cat" --json
              pocketclip tokenize MODEL --texts-file labels.txt
            """)

    @OptionGroup var modelOptions: ModelOptions

    // .unconditional: a text may start with "-" ("--text -3 dB") and is still the text.
    @Option(name: .customLong("text"), parsing: .unconditionalSingleValue, help: ArgumentHelp("A text (repeatable).", valueName: "text"))
    var texts: [String] = []

    @Option(help: ArgumentHelp("A file with one text per line ('-': standard input; blank lines skipped).", valueName: "path"))
    var textsFile: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        if texts.isEmpty && textsFile == nil { throw ValidationError("give at least one --text or --texts-file") }
    }

    func run() throws {
        try reportingErrors {
            var texts = self.texts
            if let textsFile {
                texts += try textLines(textsFile).map { String($0.text) }.filter { !$0.trimmingWhitespace().isEmpty }
                if texts.isEmpty { throw CLIError("'\(textsFile)' holds no text (every line is blank)") }
            }
            // The text tower comes along (a .pclip maps it, it is not read); no image weights.
            let model = try modelOptions.load(towers: .text)
            guard let tokenizer = model.tokenizer else {
                throw CLIError("'\(modelOptions.model)' has no tokenizer; pass --tokenizer bpe_simple_vocab_16e6.txt.gz or an HF directory")
            }
            let context = model.config.text.contextLength
            let results = texts.map { text in
                (text: text, ids: [tokenizer.startOfText] + tokenizer.encode(text) + [tokenizer.endOfText])
            }
            let vocabulary = tokenizer.vocabulary
            func piece(_ id: Int32) -> String { Int(id) < vocabulary.count ? vocabulary[Int(id)] : "?" }
            if json {
                let items = results.map { r in
                    "{\"text\": \(jsonQuoted(r.text)), \"ids\": [\(r.ids.map { "\($0)" }.joined(separator: ", "))], "
                        + "\"pieces\": [\(r.ids.map { jsonQuoted(piece($0)) }.joined(separator: ", "))], "
                        + "\"count\": \(r.ids.count), \"fits\": \(r.ids.count <= context)}"
                }
                print("{\"context\": \(context), \"texts\": [\(items.joined(separator: ",\n  "))]}")
                return
            }
            for (n, r) in results.enumerated() {
                if n > 0 { print("") }
                let verdict = r.ids.count <= context ? "" : "; too long: refused, or cut to \(context) with --truncate"
                print("\(jsonQuoted(r.text)): \(r.ids.count) \(plural(r.ids.count, "token")) of the model's \(context)\(verdict)")
                let width = r.ids.map { "\($0)".count }.max() ?? 0
                for (position, id) in r.ids.enumerated() {
                    let cut = position >= context - 1 && r.ids.count > context
                        ? (position == context - 1 ? "  (becomes the end token with --truncate)" : "  (cut)") : ""
                    let digits = "\(id)"
                    print("  \(String(repeating: " ", count: width - digits.count))\(digits)  \(piece(id))\(cut)")
                }
            }
        }
    }
}
