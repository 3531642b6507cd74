// The IDX reader on tiny files generated here: a valid pair round-trips; every malformed header
// (wrong magic, truncation, a lying count, bad labels, gzip, mismatched pair) throws.

import CLIPTrain
@testable import CLIPTrainData
import Foundation
import XCTest

final class DataIDXTests: XCTestCase {
    /// IDX bytes: magic, big-endian dims, payload.
    static func idx(magic: UInt32, dims: [UInt32], payload: [UInt8]) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return be(magic) + dims.flatMap(be) + payload
    }

    /// Three 2×3 images with distinct bytes and their labels.
    static let images = idx(magic: 0x803, dims: [3, 2, 3], payload: (0..<18).map { UInt8($0 * 10) })
    static let labels = idx(magic: 0x801, dims: [3], payload: [9, 0, 4])

    private func tempFile(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(getpid())-\(name)")
        try Data(bytes).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    private func assertIDXError(_ body: @autoclosure () throws -> Any, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case DataError.invalidIDX(let m) = error else { return XCTFail("expected invalidIDX, got \(error)", file: file, line: line) }
            XCTAssertTrue(m.contains(text), "message '\(m)' lacks '\(text)'", file: file, line: line)
        }
    }

    func testValidPairFromFiles() throws {
        let (im, lb) = try IDXReader.readPair(images: try tempFile(Self.images, "i"), labels: try tempFile(Self.labels, "l"))
        XCTAssertEqual(im.count, 3); XCTAssertEqual(im.rows, 2); XCTAssertEqual(im.columns, 3)
        XCTAssertEqual(Array(im.image(1)), [60, 70, 80, 90, 100, 110])
        XCTAssertEqual(lb, [9, 0, 4])
    }

    func testWrongMagicNamesBoth() {
        assertIDXError(try IDXReader.parseImages(Self.labels), contains: "expected 0x00000803")
        assertIDXError(try IDXReader.parseLabels(Self.images), contains: "magic 0x00000803, expected 0x00000801")
    }

    func testTruncatedFiles() {
        assertIDXError(try IDXReader.parseImages(Array(Self.images.dropLast())), contains: "truncated")
        assertIDXError(try IDXReader.parseLabels(Array(Self.labels.dropLast())), contains: "truncated")
        assertIDXError(try IDXReader.parseImages(Array(Self.images.prefix(10))), contains: "fewer than its 16-byte header")
        assertIDXError(try IDXReader.parseLabels([]), contains: "fewer than its 8-byte header")
    }

    func testLyingHeaderDoesNotAllocate() {
        // 4 294 967 295 images of 4096×4096 would be 7e16 bytes: refused from the file size.
        let lying = Self.idx(magic: 0x803, dims: [UInt32.max, 4096, 4096], payload: [1, 2, 3])
        assertIDXError(try IDXReader.parseImages(lying), contains: "the file holds 3")
        assertIDXError(try IDXReader.parseLabels(Self.idx(magic: 0x801, dims: [UInt32.max], payload: [1])), contains: "holds 1 bytes")
        assertIDXError(try IDXReader.parseImages(Self.idx(magic: 0x803, dims: [1, 0, 28], payload: [])), contains: "0×28")
        assertIDXError(try IDXReader.parseImages(Self.idx(magic: 0x803, dims: [1, 5000, 1], payload: [])), contains: "outside 1...4096")
    }

    func testLabelRangeAndPairCount() throws {
        assertIDXError(try IDXReader.parseLabels(Self.idx(magic: 0x801, dims: [2], payload: [3, 10])), contains: "label 10 at index 1")
        let two = try tempFile(Self.idx(magic: 0x801, dims: [2], payload: [1, 2]), "two")
        assertIDXError(try IDXReader.readPair(images: try tempFile(Self.images, "i3"), labels: two), contains: "3 images but")
    }

    func testGzipAndMissingFile() throws {
        assertIDXError(try IDXReader.parseImages([0x1F, 0x8B, 8, 0] + Array(repeating: 0, count: 20)), contains: "gunzip")
        XCTAssertThrowsError(try IDXReader.readImages(path: "/nonexistent/train-images-idx3-ubyte")) { error in
            guard case DataError.io = error else { return XCTFail("expected io, got \(error)") }
        }
    }
}

/// The real Fashion-MNIST test split, opt-in: CI does not install the 30 MB package. Run with
///     apt-get install -y dataset-fashion-mnist
///     mkdir -p /tmp/fmnist && for f in /usr/share/datasets/fashion-mnist/*.gz; do gunzip -c $f > /tmp/fmnist/$(basename $f .gz); done
///     FASHION_MNIST_DIR=/tmp/fmnist swift test --skip-build --disable-swift-testing --filter DataFashionMNISTTests
final class DataFashionMNISTTests: XCTestCase {
    func testRealTestSplit() throws {
        guard let dir = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"] else {
            throw XCTSkip("set FASHION_MNIST_DIR to the gunzipped Fashion-MNIST files to run")
        }
        let (im, lb) = try IDXReader.readPair(images: dir + "/t10k-images-idx3-ubyte", labels: dir + "/t10k-labels-idx1-ubyte")
        XCTAssertEqual([im.count, im.rows, im.columns], [10_000, 28, 28])
        // Cross-checked with numpy on the same files: the first labels, 1000 per class, and
        // the byte sums of the first and last images.
        XCTAssertEqual(Array(lb.prefix(10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        XCTAssertEqual((0..<10).map { c in lb.filter { $0 == c }.count }, Array(repeating: 1000, count: 10))
        XCTAssertEqual(im.image(0).reduce(0) { $0 + Int($1) }, 33456)
        XCTAssertEqual(im.image(9999).reduce(0) { $0 + Int($1) }, 24390)
        let gen = try CaptionGenerator(canvas: 32)
        var rng = SeededNormal(seed: 1)
        let batch = try gen.trainingBatch(images: im, labels: lb, batchSize: 64, rng: &rng)
        XCTAssertEqual(batch.images.count, 64 * 3 * 32 * 32)
        XCTAssertTrue(batch.images.allSatisfy(\.isFinite))
        let eval = try gen.heldOutEvaluationSet(images: im, labels: lb, perPair: 10, seed: 1)
        XCTAssertEqual(eval.count, 160)
    }
}
