// One and two training steps of a tiny CLIP against open_clip + torch.optim.AdamW
// (golden: tools/train_step_parity.py, reference run in float64 from the same float32 weights).

@testable import CLIPTrain
import Foundation
import XCTest

/// Reads the tensors of a safetensors file (F32 and I32 only: all the golden holds).
struct GoldenFile {
    var floats: [String: [Float]] = [:]
    var ints: [String: [Int32]] = [:]
    var shapes: [String: [Int]] = [:]

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        let headerLen = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLen))) as! [String: Any]
        let base = 8 + headerLen
        for (name, entry) in header where name != "__metadata__" {
            let e = entry as! [String: Any]
            let range = e["data_offsets"] as! [Int]
            let bytes = data.subdata(in: (base + range[0])..<(base + range[1]))
            shapes[name] = e["shape"] as? [Int]
            switch e["dtype"] as! String {
            case "F32": floats[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            case "I32": ints[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
            case let d: XCTFail("unexpected dtype \(d) for \(name)")
            }
        }
    }
}

final class TrainStepParityTests: XCTestCase {
    /// Loss vs the float64 reference, relative: a Float forward through ~10 layers of width 16
    /// rounds at ~1e-7..1e-6 (measured 7e-8 QuickGELU, 2.1e-7 GELU); 2e-5 still leaves room for another BLAS kernel or
    /// thread count while any real error (a wrong mask, a missing LayerNorm) is > 1e-2.
    static let lossTolerance: Float = 2e-5
    /// Per tensor ‖swift − ref‖∞ / max(‖swift‖∞, ‖ref‖∞) of the gradients: Float accumulation
    /// through the backward pass, measured worst 2e-6; 1e-4 is a 50× margin.
    static let gradientTolerance: Float = 1e-4
    /// Parameters after AdamW, absolute: step 1 moves each weight by lr·g/(|g|+ε) ≈ ±1e-3, and
    /// a gradient of size ~ε (1e-6) makes that ratio sensitive to its rounding (measured worst 2.9e-6 GELU,
    /// 2.3e-6 QuickGELU); 1e-5 = 1% of one step.
    static let parameterTolerance: Float = 1e-5

    static let quickGELU = TrainConfig(imageSize: 16, patchSize: 4, vision: .init(width: 16, layers: 2, heads: 2),
                                     vocabularySize: 64, contextLength: 8, text: .init(width: 16, layers: 2, heads: 2),
                                     embedDim: 8, activation: .quickGELU)

    func fixture(_ name: String) throws -> GoldenFile {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/train/\(name)")
        return try GoldenFile(url)
    }

    func testQuickGELUStepsMatchOpenCLIP() throws {
        try checkSteps(try fixture("train_step.safetensors"), Self.quickGELU)
    }

    func testGELUStepsMatchOpenCLIP() throws {
        var config = Self.quickGELU
        config.activation = .gelu
        try checkSteps(try fixture("train_step_gelu.safetensors"), config)
    }

    func checkSteps(_ golden: GoldenFile, _ config: TrainConfig) throws {
        let model = try CLIPTrainModel(config: config, seed: 0)
        XCTAssertEqual(golden.floats.keys.filter { $0.hasPrefix("init.") }.count, model.layout.views.count)
        for v in model.layout.views {
            try model.setTensor(v.name, XCTUnwrap(golden.floats["init." + v.name], v.name))
        }
        let images = try XCTUnwrap(golden.floats["images"]), tokens = try XCTUnwrap(golden.ints["tokens"])
        let refLoss = try XCTUnwrap(golden.floats["loss"])
        let opt = AdamW(model: model)  // CLIP's defaults: β (0.9, 0.98), ε 1e-6, decay 0.2

        let loss1 = try model.lossAndGradients(images: images, tokens: tokens, batchSize: 4)
        XCTAssertEqual(loss1, refLoss[0], accuracy: Self.lossTolerance * refLoss[0])
        var worstGrad: Float = 0, worstName = ""
        for v in model.layout.views {
            let err = relativeError(try model.gradient(v.name), try XCTUnwrap(golden.floats["grad." + v.name]))
            if err > worstGrad { worstGrad = err; worstName = v.name }
            XCTAssertLessThanOrEqual(err, Self.gradientTolerance, "gradient of \(v.name)")
        }
        opt.step(model, lr: 1e-3)
        let step1 = try worstParameterError(model, golden, "step1.")
        let loss2 = try model.lossAndGradients(images: images, tokens: tokens, batchSize: 4)
        XCTAssertEqual(loss2, refLoss[1], accuracy: Self.lossTolerance * refLoss[1])
        opt.step(model, lr: 1e-3)
        let step2 = try worstParameterError(model, golden, "step2.")
        print("parity \(config.activation.rawValue): loss \(loss1) vs \(refLoss[0]) (rel \(abs(loss1 - refLoss[0]) / refLoss[0])), step 2 loss \(loss2) vs \(refLoss[1]); "
              + "worst gradient rel error \(worstGrad) (\(worstName)); parameters after step 1 max abs error \(step1), after step 2 \(step2)")
    }

    func worstParameterError(_ model: CLIPTrainModel, _ golden: GoldenFile, _ prefix: String) throws -> Float {
        var worst: Float = 0
        for v in model.layout.views {
            var got = try model.tensor(v.name), ref = try XCTUnwrap(golden.floats[prefix + v.name])
            if v.name.hasSuffix("attn.in_proj_bias") {
                // The key bias adds q·b_k to every score of a query: softmax ignores it, so its
                // gradient is exactly zero and both sides hold only rounding noise (~1e-17 in
                // float64, ~1e-9 in Float). Adam turns noise into lr·g/(|g|+ε), anywhere in
                // ±lr, so those D entries can only be held to that bound.
                let d = v.count / 3, initial = try XCTUnwrap(golden.floats["init." + v.name])
                let steps: Float = prefix == "step1." ? 1 : 2
                for i in d..<(2 * d) {
                    XCTAssertLessThanOrEqual(abs(got[i] - initial[i]), steps * 1e-3 * 1.0001, "\(prefix)\(v.name)[\(i)]")
                }
                got.removeSubrange(d..<(2 * d)); ref.removeSubrange(d..<(2 * d))
            }
            let err = zip(got, ref).map { abs($0 - $1) }.max() ?? 0
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, Self.parameterTolerance, "\(prefix)\(v.name)")
        }
        return worst
    }
}
