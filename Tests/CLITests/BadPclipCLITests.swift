// `pocketclip verify` and `pocketclip inspect` on every file of the committed bad-file corpus
// (formats/bad/, made by tools/goldens/make-pclip-bad-corpus.py): a non-zero exit with exactly one
// line on stderr, never a crash or a hang; `verify` names the error the manifest expects, and
// accepts the valid files. Each run is a child process, so a reader that traps fails this test
// instead of ending the test run.

import CorpusSupport
import Foundation
import XCTest

private struct BoundedRun {
    let status: Int32
    let signaled: Bool
    let timedOut: Bool
    let stdout: String
    let stderr: String
}

final class BadPclipCLITests: XCTestCase {
    /// A run longer than this is a hang: the largest corpus file is 26 KB, and a whole
    /// ViT-B/32 verifies in a few seconds.
    static let timeoutSeconds = 60.0

    /// Runs pocketclip with the Swift backtracer off (it can stall on a crash, and a crash here
    /// must be a quick, visible failure) and a time limit.
    private func run(_ arguments: [String]) throws -> BoundedRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pocketclipPath())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        nonisolated(unsafe) var killed = false
        let killer = DispatchWorkItem { if process.isRunning { killed = true; process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.timeoutSeconds, execute: killer)
        nonisolated(unsafe) var errData = Data()
        let readErr = DispatchWorkItem { errData = err.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(execute: readErr)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        readErr.wait()
        process.waitUntilExit()
        killer.cancel()
        let timedOut = killed
        return BoundedRun(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                          timedOut: timedOut, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A clean failure: exit status ≠ 0 (not a signal), one line on stderr, nothing on stdout.
    private func assertCleanFailure(_ r: BoundedRun, _ c: BadCase, _ command: String, mentions: String?) {
        let what = "\(c.label): pocketclip \(command)"
        if r.timedOut { return XCTFail("\(what) hung (killed after \(Self.timeoutSeconds) s)") }
        if r.signaled {
            return XCTFail("\(what) crashed (signal \(r.status)); stderr: \(r.stderr.split(separator: "\n").first ?? "")")
        }
        XCTAssertNotEqual(r.status, 0, "\(what) exited 0; stdout: \(r.stdout.prefix(200))")
        guard r.status != 0 else { return }
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, "\(what): expected one line on stderr, got \(lines.count): \(r.stderr)")
        XCTAssertEqual(r.stdout, "", "\(what): a failure prints nothing on stdout")
        if let mentions, !r.stderr.contains(mentions) {
            XCTFail("\(what): stderr should contain '\(mentions)' (\(c.error ?? "")), got: \(r.stderr)")
        }
    }

    func testVerifyAcceptsTheValidFiles() throws {
        for c in try BadCorpus.cases() where c.expect == "valid" {
            let r = try run(["verify", c.path])
            XCTAssertEqual(r.status, 0, "\(c.label): pocketclip verify should accept it; stderr: \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("OK"), "\(c.label): stdout: \(r.stdout)")
            let i = try run(["inspect", c.path])
            XCTAssertEqual(i.status, 0, "\(c.label): pocketclip inspect should show it; stderr: \(i.stderr)")
        }
    }

    func testVerifyRefusesEveryBadFileWithItsError() throws {
        let cases = try BadCorpus.cases().filter { $0.expect == "error" }
        XCTAssertGreaterThan(cases.count, 150)
        for c in cases {
            assertCleanFailure(try run(["verify", c.path]), c, "verify", mentions: c.messageContains)
        }
    }

    /// inspect prints what the file claims: it must refuse every bad file too, naming the
    /// expected error where inspecting reaches the faulty part (the container's structure).
    /// `inspect` checks the structure (container and model); payloads are `verify`'s job, so
    /// files whose only fault is inside a payload are left to it.
    func testInspectRefusesEveryBadFile() throws {
        for c in try BadCorpus.cases() where c.expect == "error" && c.stage != "payload" {
            assertCleanFailure(try run(["inspect", c.path]), c, "inspect", mentions: c.stage == "open" ? c.messageContains : nil)
        }
    }
}
