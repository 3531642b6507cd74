// `pocketclip head build`: embed the class names once, so classification needs only the vision tower.

import ArgumentParser
import CLIPRuntime

struct Head: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Class heads: class embeddings saved for vision-only classification.",
        subcommands: [HeadBuild.self])
}

struct HeadBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Embed class names once and save them for `classify --head`.",
        discussion: """
            Runs the text tower over every label (through the templates), normalizes and saves \
            the class embeddings with the model's fingerprint. `pocketclip classify MODEL IMG \
            --head FILE` then loads only the vision tower: the lowest memory on a board. A head \
            works only with the .pclip model it was built from.

            Examples:
              pocketclip head build model.pclip --labels "cat,dog,car" -o animals.head
              pocketclip head build model.pclip --labels-file imagenet.txt --ensemble -o imagenet.head
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("Comma-separated class names.", valueName: "a,b,c"))
    var labels: String?

    @Option(help: ArgumentHelp("A file with one class name per line.", valueName: "path"))
    var labelsFile: String?

    @OptionGroup var prompts: PromptOptions

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The head file to write.", valueName: "path"))
    var output: String

    @Flag(help: "Truncate prompts longer than the model's context (77 tokens for released CLIPs) instead of failing.")
    var truncate = false

    func validate() throws {
        if (labels == nil) == (labelsFile == nil) { throw ValidationError("give the classes with exactly one of --labels or --labels-file") }
    }

    func run() throws {
        try reportingErrors {
            let names = try labelList(labels, file: labelsFile)
            let templates = try prompts.templates()
            for t in templates { _ = try CLIPModel.prompts(labels: names, template: t) }
            try checkWritable(output)
            let model = try modelOptions.load(towers: .text)
            let head = try ClassHead.build(model: model, labels: names, templates: templates, truncate: truncate)
            try head.write(to: output)
            print("wrote \(output): \(names.count) \(plural(names.count, "class", "classes")) × \(templates.count) \(plural(templates.count, "template"))")
        }
    }
}
