// A command whose output could not be written fails: stdout on a full disk (/dev/full) gives a
// one-line error and a non-zero exit, never exit 0 with a truncated JSON or CSV behind it.

import CorpusSupport
import Foundation
import XCTest

final class HonestExitCLITests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var model: String { root + "/models/pocketclip-fmnist.pclip" }
    var image: String { root + "/examples/images/bag.png" }

    /// Runs pocketclip with stdout on /dev/full; (exit status, stderr).
    func runToFullDisk(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        guard let full = FileHandle(forWritingAtPath: "/dev/full") else { throw XCTSkip("no /dev/full here") }
        let process = Process(), err = Pipe()
        process.executableURL = URL(fileURLWithPath: pocketclipPath())
        process.arguments = arguments
        process.standardOutput = full
        process.standardError = err
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: errData, as: UTF8.self))
    }

    func testEveryOutputFormatFailsOnAFullDisk() throws {
        let commands: [[String]] = [
            ["classify", model, image, "--labels", "bag,coat", "--json"],
            ["classify", model, image, "--labels", "bag,coat", "--csv"],
            ["classify", model, image, "--labels", "bag,coat"],
            ["embed", model, "--text", "a bag", "--image", image],
            ["inspect", model, "--json"],
            ["verify", model],
        ]
        for arguments in commands {
            let r = try runToFullDisk(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("cannot write the output"), r.stderr)
        }
    }
}
