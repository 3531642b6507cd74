// `classify` and `embed` on checkpoint directories give the references' numbers
// (e2e goldens of tools/goldens/make-fixtures.py, computed by open_clip).

import CorpusSupport
import Foundation
import XCTest

final class CLISuccessTests: XCTestCase {
    let model = fixtures + "/tiny-openclip"
    let tokenizer = fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"

    func e2e() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model + "/e2e.json"))) as! [String: Any]
    }

    func json(_ r: RunResult) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func testClassifyMatchesOpenCLIPProbabilities() throws {
        let golden = try e2e()
        let labels = golden["labels"] as! [String]
        let images = (golden["images"] as! [String]).map { model + "/" + $0 }
        let expected = golden["probs"] as! [[Double]]
        let r = try pocketclip(["classify", model, "--tokenizer", tokenizer] + images + [
            "--labels", labels.joined(separator: ","), "--template", "{}", "--top-k", "0", "--json"])
        let results = try json(r)["results"] as! [[String: Any]]
        XCTAssertEqual(results.count, images.count)
        for (i, result) in results.enumerated() {
            XCTAssertEqual(result["image"] as? String, images[i])
            let scores = result["labels"] as! [[String: Any]]
            XCTAssertEqual(scores.count, labels.count, "--top-k 0 prints every label")
            let probabilities = scores.map { $0["probability"] as! Double }
            XCTAssertEqual(probabilities, probabilities.sorted(by: >), "best first")
            for s in scores {
                let k = labels.firstIndex(of: s["label"] as! String)!
                // EndToEndTests' maxAbsDiffProbabilities: embeddings within 1e-5 of open_clip's,
                // s = 18.04, norms ≥ 3.75 here: |δp| ≤ 2.3e-4; a wrong temperature moves it ≥ 1e-2.
                XCTAssertEqual(s["probability"] as! Double, expected[i][k], accuracy: 2.5e-4, "\(images[i]) \(labels[k])")
            }
        }
        // The table form names the best label first.
        let table = try pocketclip(["classify", model, "--tokenizer", tokenizer, images[0], "--labels", labels.joined(separator: ","), "--template", "{}"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let best = labels[expected[0].indices.max { expected[0][$0] < expected[0][$1] }!]
        XCTAssertTrue(table.stdout.split(separator: "\n")[1].contains(best), table.stdout)
    }

    func testEmbedMatchesOpenCLIP() throws {
        let golden = try e2e()
        let labels = golden["labels"] as! [String]
        let image = model + "/" + (golden["images"] as! [String])[0]
        let r = try pocketclip(["embed", model, "--tokenizer", tokenizer, "--image", image, "--text", labels[0]])
        let out = try json(r)
        XCTAssertEqual(out["dim"] as? Int, 16)
        let imageEmbedding = ((out["images"] as! [[String: Any]])[0]["embedding"] as! [Double])
        let textEmbedding = ((out["texts"] as! [[String: Any]])[0]["embedding"] as! [Double])
        let e2eTensors = try goldenRows(model + "/e2e.safetensors")
        // CLIPRuntimeTests' maxAbsDiffTinyFP32: two float32 evaluations, each ≤ 3.2e-6 from exact
        // (golden.json), and printed as shortest round-trip floats (exact).
        for (a, b) in zip(imageEmbedding, e2eTensors["e2e.image_embeds"]![0]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (a, b) in zip(textEmbedding, e2eTensors["e2e.text_embeds"]![0]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        // --normalize gives unit vectors.
        let n = try json(try pocketclip(["embed", model, "--tokenizer", tokenizer, "--text", labels[0], "--normalize"]))
        let v = (n["texts"] as! [[String: Any]])[0]["embedding"] as! [Double]
        XCTAssertEqual(v.map { $0 * $0 }.reduce(0, +), 1, accuracy: 1e-5)
    }

    func testHelpTeaches() throws {
        let r = try pocketclip(["classify", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("Examples:"))
        XCTAssertTrue(r.stdout.contains("--labels"))
    }
}

/// Reads the F32 tensors of a small safetensors file as rows of Doubles (test-side, independent
/// of the project's reader).
func goldenRows(_ path: String) throws -> [String: [[Double]]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
    var out: [String: [[Double]]] = [:]
    for (name, entry) in header where name != "__metadata__" {
        let e = entry as! [String: Any]
        guard e["dtype"] as? String == "F32" else { continue }
        let shape = e["shape"] as! [Int], offsets = e["data_offsets"] as! [Int]
        let floats = data.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1])).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self)).map(Double.init)
        }
        let rowLength = shape.count > 1 ? shape.dropFirst().reduce(1, *) : floats.count
        out[name] = stride(from: 0, to: floats.count, by: max(1, rowLength)).map { Array(floats[$0..<min(floats.count, $0 + rowLength)]) }
    }
    return out
}
