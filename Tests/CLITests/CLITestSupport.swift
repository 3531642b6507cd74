// Helpers the fault tests share: small tmpfs mounts (full disk, read-only
// target), a tiny synthetic Fashion-MNIST with a recipe that trains in a second, and a
// `pocketclip` started in the background so a test can signal it mid-run.

import CorpusSupport
import Foundation
import XCTest

/// The names in `dir`, hidden temporaries included, sorted.
func directoryContents(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
}

/// Runs a system tool quietly; its exit status.
@discardableResult
func runTool(_ tool: String, _ arguments: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

/// Mounts a tmpfs with `options` (e.g. "size=64k" or "ro,size=64k") at a fresh directory and
/// unmounts it when `test` ends. Needs root (CI runs as root); skips where mounting is refused.
func mountSmallTmpfs(_ options: String, for test: XCTestCase) throws -> String {
    let dir = try test.temporaryDirectory()
    guard try runTool("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]) == 0 else {
        throw XCTSkip("cannot mount a tmpfs here (needs root): \(options)")
    }
    // Teardown blocks run last-registered first: unmounted before the directory is removed.
    test.addTeardownBlock { _ = try? runTool("/bin/umount", [dir]) }
    return dir
}

/// Makes a mounted tmpfs read-only, keeping what it holds (a previous good file).
func remountReadOnly(_ dir: String) throws {
    guard try runTool("/bin/mount", ["-o", "remount,ro", dir]) == 0 else {
        throw XCTSkip("cannot remount \(dir) read-only here")
    }
}

/// Train (40) and t10k (20) IDX pairs of 28×28 images, every class present, written into `dir`.
func writeTinyFashionMNIST(_ dir: String) throws {
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
    for (name, n) in [("train", 40), ("t10k", 20)] {
        var images = be(0x803) + be(UInt32(n)) + be(28) + be(28)
        for i in 0..<n { for p in 0..<784 { images.append(UInt8((p * 7 + i * 31) % 256)) } }
        let labels = be(0x801) + be(UInt32(n)) + (0..<n).map { UInt8($0 % 10) }
        try Data(images).write(to: URL(fileURLWithPath: "\(dir)/\(name)-images-idx3-ubyte"))
        try Data(labels).write(to: URL(fileURLWithPath: "\(dir)/\(name)-labels-idx1-ubyte"))
    }
}

/// A recipe small enough to train in a second (as `--set` arguments).
let tinyTrainRecipe = ["image_size=16", "patch_size=8", "vision_width=16", "vision_layers=1", "vision_heads=2",
                       "text_width=16", "text_layers=1", "text_heads=2", "embed_dim=16", "batch_size=8", "steps=6",
                       "eval_every=3", "checkpoint_every=3", "warmup_steps=2"].flatMap { ["--set", $0] }

/// `pocketclip` running in the background, its output collected as it comes, so a test can wait
/// for a line and then signal it.
final class BackgroundPocketclip {
    let process = Process()
    private let out = Pipe(), err = Pipe()
    private let lock = NSLock()
    private var collected = ["", ""]
    private let readers = DispatchGroup()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: pocketclipPath())
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        try process.run()
        for (k, pipe) in [out, err].enumerated() {
            readers.enter()
            DispatchQueue.global().async { [self] in
                while true {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    lock.lock(); collected[k] += String(decoding: chunk, as: UTF8.self); lock.unlock()
                }
                readers.leave()
            }
        }
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return collected[0] }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return collected[1] }

    /// Waits until stdout or stderr contains `text` (true), or the process ends or `seconds` pass (false).
    func waitFor(_ text: String, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stdout.contains(text) || stderr.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) || stderr.contains(text) }
            usleep(2_000)
        }
        return false
    }

    /// Waits until the process has a handler for `signal` (true), or ends or `seconds` pass
    /// (false); nil where /proc/PID/status does not say (not Linux).
    func waitForHandler(_ signal: Int32, seconds: Double = 60) -> Bool? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && process.isRunning {
            guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
                  let caught = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return process.isRunning ? nil : false }
            if caught & (1 << UInt64(signal - 1)) != 0 { return true }
            usleep(1_000)
        }
        return false
    }

    /// Sends `signal` if the process still runs; false when it had already ended.
    func send(_ signal: Int32) -> Bool {
        guard process.isRunning else { return false }
        return kill(process.processIdentifier, signal) == 0
    }

    /// Waits for the end and for all output.
    func finish() -> (status: Int32, reason: Process.TerminationReason, stdout: String, stderr: String) {
        process.waitUntilExit()
        readers.wait()
        return (process.terminationStatus, process.terminationReason, stdout, stderr)
    }
}

/// A failure: non-zero status, nothing on stdout, exactly one line on stderr that mentions `expected`.
func assertOneLineError(_ r: RunResult, mentions expected: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
    XCTAssertEqual(r.stdout, "", "stdout", file: file, line: line)
    XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line on stderr, got: \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.contains(expected), "stderr '\(r.stderr)' should mention '\(expected)'", file: file, line: line)
}
