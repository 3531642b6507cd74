// Prompt templates for zero-shot classification.
//
// The default ensemble is the seven templates OpenAI selected for ImageNet in the CLIP
// repository's prompt-engineering notebook ("Prompt_Engineering_for_ImageNet.ipynb"), which
// recover most of the 80-template ensemble's gain at a tenth of the text-encoder cost.

public enum PromptTemplates {
    /// The project's default ensemble (`--ensemble`).
    public static let defaultEnsemble = [
        "itap of a {}.",
        "a bad photo of the {}.",
        "a origami {}.",
        "a photo of the large {}.",
        "a {} in a video game.",
        "art of the {}.",
        "a photo of the small {}.",
    ]

    /// Most templates a classification may use; each costs one text encoding per label.
    public static let maxTemplates = 256
    /// Most labels a classification may use.
    public static let maxLabels = 100_000

    /// Checks a template list: non-empty, bounded, each with exactly one "{}", no duplicates.
    public static func validate(_ templates: [String]) throws {
        guard !templates.isEmpty else { throw ModelError.invalidInput("no prompt template given") }
        guard templates.count <= maxTemplates else {
            throw ModelError.invalidInput("\(templates.count) templates (limit \(maxTemplates))")
        }
        var seen = Set<String>()
        for t in templates {
            _ = try CLIPModel.prompts(labels: ["x"], template: t)
            guard seen.insert(t).inserted else { throw ModelError.invalidInput("template '\(t)' is given twice") }
        }
    }
}
