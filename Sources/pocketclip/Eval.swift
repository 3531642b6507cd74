#if Training  // the train/eval commands: left out of a board build (Package.swift traits, docs/board.md)
// `pocketclip eval`: the figures the README quotes for a Fashion-MNIST model, for one or more
// models side by side (typically the float checkpoint and its q8 .pclip).

import ArgumentParser
import CLIPConvert
import CLIPKernels
import CLIPRuntime
import CLIPSupport
import CLIPTrain
import CLIPTrainData

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Zero-shot and linear-probe accuracy of Fashion-MNIST models, side by side.",
        discussion: """
            For each MODEL (a .pclip file or a checkpoint directory):
              zero-shot      10-class top-1 on the Fashion-MNIST test split, plain images \
            (untinted, large, centred), each class an ensemble of caption-style prompts
              held-out       test images in the 16 tint–class pairs held out of training; classes \
            are the 10 garments in the image's tint ("a photo of a green t-shirt.")
              held-out garment  the same images against the 10 garment prompts without a colour
              held-out/80    the same images against all 80 tint–class pairs
              seen control   the held-out reading on the same images (same place, size, mirroring) \
            in a tint their class was trained with: held-out minus this is what the unseen \
            combination costs
              linear probe   logistic regression on frozen image features of plain training images, \
            tested on the plain test images (the CLIP paper's probe)
            With two models the second's difference from the first is printed.

            Example:
              pocketclip eval runs/fmnist/model models/pocketclip-fmnist.pclip
            """)

    @Argument(help: "Models to evaluate (.pclip or checkpoint directory).")
    var models: [String]

    @Option(help: ArgumentHelp("Directory with the Fashion-MNIST IDX files (gzipped or not).", valueName: "dir"))
    var fashionMnist = "/usr/share/datasets/fashion-mnist"

    @Option(help: ArgumentHelp("Plain test images for zero-shot and the probe's test (max 10000).", valueName: "n"))
    var testImages = 10_000

    @Option(help: ArgumentHelp("Test images per held-out pair.", valueName: "n"))
    var heldOutPerPair = 100

    @Option(help: ArgumentHelp("Plain training images the linear probe is fitted on (0 skips the probe).", valueName: "n"))
    var probeImages = 10_000

    @Option(help: ArgumentHelp("Images to score: test (the test split) or validation (the last 10,000 training images, for choosing settings without the test split).", valueName: "split"))
    var split = "test"

    @Flag(help: "Ensemble every name of a class (t-shirt, tee, top, …) instead of its first name only.")
    var allNames = false

    @Option(help: ArgumentHelp("Threads (default: the cores this process may use).", valueName: "n"))
    var threads: Int?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard !models.isEmpty else { throw ValidationError("give at least one model") }
        guard (10...10_000).contains(testImages) else { throw ValidationError("--test-images must be in 10...10000") }
        guard (1...1000).contains(heldOutPerPair) else { throw ValidationError("--held-out-per-pair must be in 1...1000") }
        guard probeImages == 0 || (50...60_000).contains(probeImages) else { throw ValidationError("--probe-images must be 0 or in 50...60000") }
        try checkThreads(threads)
    }

    struct Result {
        var model: String
        var zeroShot: Double, heldOut: Double, heldOutGarment: Double, heldOutAll: Double, seenControl: Double, probe: Double?
        var predictions: [Int]
    }

    func run() throws {
        try reportingErrors {
            let data = try FashionMNISTData.load(directory: fashionMnist)
            var results: [Result] = []
            for path in models {
                let model = try CLIPModel.open(path, threads: threads ?? WorkerPool.availableCores)
                guard let vision = model.vision, model.text != nil else { throw CLIError("\(path) needs both towers") }
                let generator = try CaptionGenerator(canvas: vision.config.vision.imageSize, mean: model.preprocess.mean,
                                                     std: model.preprocess.std)
                guard let split = FashionMNISTEval.Split(rawValue: split) else { throw ValidationError("--split must be test or validation") }
                let suite = try FashionMNISTEval(data: data, generator: generator, plainCount: testImages, heldOutPerPair: heldOutPerPair,
                                                 split: split, allNames: allNames)
                let e = RuntimeEmbedder(model: model)
                let o = try suite.evaluate(e)
                var r = Result(model: path, zeroShot: o.zeroShot, heldOut: o.heldOut, heldOutGarment: o.heldOutGarment,
                               heldOutAll: o.heldOutAll, seenControl: o.seenControl, probe: nil,
                               predictions: o.predictions)
                if probeImages > 0 {
                    r.probe = try suite.linearProbe(e, generator: generator, data: data, trainImages: probeImages)
                }
                results.append(r)
            }
            say(json ? evalJSON(results) : evalTable(results))
        }
    }

    func evalTable(_ rs: [Result]) -> String {
        func pct(_ v: Double?) -> String { v.map { decimal($0 * 100, 2) + "%" } ?? "-" }
        var lines = ["model | zero-shot | held-out | held-out garment | held-out/80 | seen control | linear probe"]
        for r in rs {
            lines.append("\(r.model) | \(pct(r.zeroShot)) | \(pct(r.heldOut)) | \(pct(r.heldOutGarment)) | \(pct(r.heldOutAll)) | \(pct(r.seenControl)) | \(pct(r.probe))")
        }
        if rs.count >= 2 {
            let a = rs[0], b = rs[1]
            func d(_ x: Double, _ y: Double) -> String { (y >= x ? "+" : "") + decimal((y - x) * 100, 2) + " pts" }
            let probe = a.probe != nil && b.probe != nil ? d(a.probe!, b.probe!) : "-"
            lines.append("difference (2nd − 1st) | \(d(a.zeroShot, b.zeroShot)) | \(d(a.heldOut, b.heldOut)) | "
                         + "\(d(a.heldOutGarment, b.heldOutGarment)) | \(d(a.heldOutAll, b.heldOutAll)) | \(d(a.seenControl, b.seenControl)) | \(probe)")
            let (same, total) = agreement(a, b)
            lines.append("top-1 agreement of 2nd with 1st: \(same) of \(total) image × label-set cases (\(decimal(Double(same) / Double(total) * 100, 2))%)")
        }
        lines.append("(\(split) split: \(testImages) plain images, \(heldOutPerPair) per held-out pair; class prompts: \(allNames ? "every name" : "first name") × 5 sentence shapes; probe fitted on \(probeImages) training images)")
        return lines.joined(separator: "\n")
    }

    /// Cases where both models pick the same class.
    func agreement(_ a: Result, _ b: Result) -> (same: Int, total: Int) {
        (zip(a.predictions, b.predictions).filter { $0 == $1 }.count, a.predictions.count)
    }

    func evalJSON(_ rs: [Result]) -> String {
        let items = rs.map { r in
            "{\"model\": \(jsonQuoted(r.model)), \"zero_shot\": \(r.zeroShot), \"held_out\": \(r.heldOut), "
                + "\"held_out_garment\": \(r.heldOutGarment), \"held_out_all80\": \(r.heldOutAll), \"seen_control\": \(r.seenControl), \"linear_probe\": \(r.probe.map { "\($0)" } ?? "null")}"
        }
        var agree = ""
        if rs.count >= 2 {
            let (same, total) = agreement(rs[0], rs[1])
            agree = ", \"agreement\": {\"same\": \(same), \"cases\": \(total)}"
        }
        return "{\"test_images\": \(testImages), \"held_out_per_pair\": \(heldOutPerPair), \"probe_images\": \(probeImages), "
            + "\"results\": [\(items.joined(separator: ", "))]\(agree)}"
    }
}
#endif
