// One loaded model shared by several threads at once gives, bit for bit, what one thread gets
// (what a server sharing one model relies on). Each model is used by `callers` threads at once,
// each running every job many times in its own order, so image and text passes, batches,
// classification and head scoring overlap in every combination; a model loaded with two threads
// also has its worker pool asked for work by several callers at once (pc_pool.c runs a caller's
// parts inline while the pool is busy).
//
// tools/ci/tsan.sh runs these tests under ThreadSanitizer.

import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

final class ConcurrencyTests: XCTestCase {
    /// Threads sharing one model: twice the cores of the 2-core boards, so callers are
    /// preempted mid-pass as well as running side by side.
    static let callers = 4
    /// Times each caller runs the whole job list.
    static let rounds = 3

    let modelPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/pocketclip-fmnist.pclip").path
    let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples").path

    /// One unit of work and its serial result, compared bit for bit.
    private struct Job {
        let name: String
        let run: () throws -> [[Float]]
        let expected: [[Float]]
    }

    /// Floats as bit patterns: == on Float would accept 0 for −0 and reject equal NaNs.
    private static func bits(_ v: [[Float]]) -> [[UInt32]] { v.map { $0.map(\.bitPattern) } }

    /// A classification as numbers (probability and logit per label, in label order) plus the
    /// ranking, so a swapped order shows up too.
    private static func flatten(_ scores: [LabelScore], labels: [String]) -> [[Float]] {
        let byLabel = Dictionary(uniqueKeysWithValues: scores.map { ($0.label, $0) })
        return [labels.flatMap { [byLabel[$0]!.probability, byLabel[$0]!.logit] },
                scores.map { Float(labels.firstIndex(of: $0.label)!) }]
    }

    private func labels() throws -> [String] {
        try String(contentsOfFile: examples + "/fashion-labels.txt", encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    private func images() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: examples + "/images")
            .filter { $0.hasSuffix(".png") }.sorted().map { examples + "/images/" + $0 }
    }

    /// The jobs for `model`, their expected results computed serially on `reference`.
    private func jobs(model: CLIPModel, reference: CLIPModel) throws -> [Job] {
        let images = try images(), labels = try labels()
        XCTAssertEqual(images.count, 10, "examples/images")
        XCTAssertEqual(labels.count, 10, "examples/fashion-labels.txt")
        let templates = ["a photo of a {}.", "a picture of a {}."]
        var jobs: [Job] = []
        for path in images {
            jobs.append(Job(name: "image \(path)", run: { [try model.embedImage(path: path)] },
                            expected: [try reference.embedImage(path: path)]))
        }
        jobs.append(Job(name: "batch of 4 images", run: { try model.embedImages(paths: Array(images.prefix(4))) },
                        expected: try reference.embedImages(paths: Array(images.prefix(4)))))
        for label in labels {
            jobs.append(Job(name: "text \(label)", run: { [try model.embedText(label)] },
                            expected: [try reference.embedText(label)]))
        }
        jobs.append(Job(name: "class embeddings", run: { try model.classEmbeddings(labels: labels, templates: templates) },
                        expected: try reference.classEmbeddings(labels: labels, templates: templates)))
        for path in images.prefix(2) {
            jobs.append(Job(name: "classify \(path)",
                            run: { Self.flatten(try model.classify(imagePath: path, labels: labels), labels: labels) },
                            expected: Self.flatten(try reference.classify(imagePath: path, labels: labels), labels: labels)))
        }
        // Head-based classification: the class embeddings built once, then only image passes.
        let head = try ClassHead.build(model: reference, labels: labels, templates: templates)
        for path in images {
            let score = { (m: CLIPModel) in
                Self.flatten(m.scores(image: try m.embedImage(path: path), classes: head.embeddings, labels: head.labels),
                             labels: labels)
            }
            jobs.append(Job(name: "head \(path)", run: { try score(model) }, expected: try score(reference)))
        }
        return jobs
    }

    /// Runs every job `rounds` times on each of `callers` threads at once, each caller in its own
    /// order; returns the mismatches and errors.
    private func runConcurrently(_ jobs: [Job], rounds: Int = ConcurrencyTests.rounds) -> [String] {
        let lock = NSLock()
        var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: Self.callers) { caller in
            // Caller c starts at a different job and walks backwards when c is odd.
            var order = Array(jobs.indices)
            order = Array(order[(caller * 7 % jobs.count)...] + order[..<(caller * 7 % jobs.count)])
            if caller % 2 == 1 { order.reverse() }
            for round in 0..<rounds {
                for j in order {
                    let problem: String?
                    do {
                        let got = try jobs[j].run()
                        problem = Self.bits(got) == Self.bits(jobs[j].expected) ? nil : "differs from the serial result"
                    } catch {
                        problem = "threw \(error)"
                    }
                    if let problem {
                        lock.lock()
                        failures.append("caller \(caller) round \(round) \(jobs[j].name): \(problem)")
                        lock.unlock()
                    }
                }
            }
        }
        return failures
    }

    /// A one-thread model shared by 4 callers; expected results from a second load of the
    /// same file, so the shared model's tokenizer cache starts cold under contention.
    func testOneThreadModelSharedByFourCallers() throws {
        let reference = try CLIPModel.load(pclip: modelPath, threads: 1)
        let shared = try CLIPModel.load(pclip: modelPath, threads: 1)
        let failures = runConcurrently(try jobs(model: shared, reference: reference))
        XCTAssertEqual(failures, [], "\(failures.count) mismatches")
    }

    /// A two-thread model (its worker pool in use) shared by 4 callers: every result equals the
    /// one-thread serial result, so neither sharing nor the thread count changes any bit.
    func testTwoThreadModelSharedByFourCallers() throws {
        let reference = try CLIPModel.load(pclip: modelPath, threads: 1)
        let shared = try CLIPModel.load(pclip: modelPath, threads: 2)
        XCTAssertEqual(shared.pool.threads, 2)
        let failures = runConcurrently(try jobs(model: shared, reference: reference))
        XCTAssertEqual(failures, [], "\(failures.count) mismatches")
    }

    /// Two two-thread models (two pools) used by the same 4 callers at once, each caller moving
    /// between them: separate pools do not disturb each other.
    func testTwoModelsWithTheirOwnPoolsAtOnce() throws {
        let reference = try CLIPModel.load(pclip: modelPath, threads: 1)
        let first = try CLIPModel.load(pclip: modelPath, threads: 2)
        let second = try CLIPModel.load(pclip: modelPath, threads: 2)
        let jobs = try jobs(model: first, reference: reference) + jobs(model: second, reference: reference)
        // One round: the jobs are already twice as many.
        let failures = runConcurrently(jobs, rounds: 1)
        XCTAssertEqual(failures, [], "\(failures.count) mismatches")
    }
}
