// `pocketclip bench`: wall time of the encoders alone, for side-by-side peer benchmarks
// (tools/bench/bench-peers.py). Preprocessing and tokenization happen once, outside the timed runs.

import ArgumentParser
import CLIPImage
import CLIPKernels
import CLIPRuntime
import CLIPSupport

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the image or text encoder (medians over repeated runs).",
        discussion: """
            Preprocesses the image (or tokenizes the text) once, then times --runs forward passes \
            after --warmup untimed ones. With --batch B the same image is encoded B times as one \
            batch. Prints per-run milliseconds, the median and p90, and the embedding.

            Examples:
              pocketclip bench model.pclip --image cat.png --threads 1 --runs 20 --json
              pocketclip bench model.pclip --image cat.png --batch 8 --threads 2
              pocketclip bench model.pclip --text "a photo of a cat" --threads 1
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("An image to encode.", valueName: "path"))
    var image: String?

    @Option(help: "A text to encode.")
    var text: String?

    @Option(help: "Images per forward pass.")
    var batch: Int = 1

    @Option(help: "Timed runs.")
    var runs: Int = 20

    @Option(help: "Untimed runs first.")
    var warmup: Int = 3

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if (image == nil) == (text == nil) { throw ValidationError("give exactly one of --image or --text") }
        if batch < 1 || runs < 1 || warmup < 0 { throw ValidationError("--batch and --runs must be positive, --warmup not negative") }
    }

    func run() throws {
        try reportingErrors {
            let model = try modelOptions.load(towers: image != nil ? .vision : .text)
            var embedding: [Float] = []
            let timed: TimedRuns
            if let image {
                guard let vision = model.vision else { throw CLIError("the model has no vision tower") }
                let pixels = try Preprocessor.pixels(path: image, config: model.preprocess)
                let batch = [[Float]](repeating: pixels, count: self.batch)
                timed = try TimedRuns(warmup: warmup, runs: runs) { embedding = try vision.encode(batch: batch, pool: model.pool)[0] }
            } else {
                guard let text, let encoder = model.text, let tokenizer = model.tokenizer else { throw CLIError("the model has no text tower") }
                let tokens = try tokenizer.tokenize(text, truncate: true, context: encoder.config.text.contextLength)
                timed = try TimedRuns(warmup: warmup, runs: runs) { embedding = try encoder.encode(tokens: tokens, pool: model.pool) }
            }
            let times = timed.wallMs, cpuTimes = timed.cpuMs
            let median = CLIPRuntime.median(times), p90 = percentile(times, 0.9)
            let key = image != nil ? "image_ms" : "text_ms"
            if json {
                print("{\"\(key)\": [\(times.map { jsonNumber(Float($0)) }.joined(separator: ", "))], \"cpu_ms\": [\(cpuTimes.map { jsonNumber(Float($0)) }.joined(separator: ", "))], \"median_ms\": \(jsonNumber(Float(median))), \"p90_ms\": \(jsonNumber(Float(p90))), \"threads\": \(model.pool.threads), \"kernels\": \"\(KernelISA.current.name)\", \"batch\": \(batch), \"embedding\": \(jsonArray(embedding))}")
            } else {
                print("\(image != nil ? "image, batch \(batch)" : "text"), \(model.pool.threads) thread(s): median \(formatMs(median)), p90 \(formatMs(p90)) over \(runs) runs")
            }
        }
    }
}
