// Shared by the tests that read the committed bad-file corpus (formats/bad/, made by
// tools/goldens/make-pclip-bad-corpus.py): the manifest's rows, the error-case naming the manifest
// uses, and a resettable peak-memory probe. One copy for the container, model and CLI tests.

import CLIPFormat
import CLIPSupport
import Foundation

/// One row of formats/bad/manifest.json.
public struct BadCase: Decodable, Sendable {
    public let name: String
    public let file: String
    public let group: String
    public let what: String
    public let expect: String
    public let error: String?
    public let messageContains: String?
    public let layer: String?
    public let stage: String?

    enum CodingKeys: String, CodingKey {
        case name = "case", file, group, what, expect, error, messageContains = "message_contains", layer, stage
    }

    public var path: String { BadCorpus.directory + "/" + file }
    public var isValid: Bool { expect == "valid" }
    /// What a failure message shows: the case, what was done to the file, what must be thrown.
    public var label: String { "[\(name)] (\(what))" }
    public var expected: String { "\(error ?? "no error") whose message contains '\(messageContains ?? "")'" }
}

public enum BadCorpus {
    /// formats/bad, found from this file's path (Tests/CorpusSupport/ → the package root).
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("formats/bad").path

    public static func cases() throws -> [BadCase] {
        struct Manifest: Decodable { let cases: [BadCase] }
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        return try JSONDecoder().decode(Manifest.self, from: data).cases
    }
}

/// "PclipError.badSection" for `PclipError.badSection(...)`: the enum case a manifest row names.
public func errorCaseName(_ error: Error) -> String {
    let type = String(describing: Swift.type(of: error))
    if let label = Mirror(reflecting: error).children.first?.label { return "\(type).\(label)" }
    if let e = error as? PclipError, e == .badMagic { return "PclipError.badMagic" }  // the one case without a payload
    return type
}

/// Peak resident memory, reset before each case where the kernel allows it, so that a case that
/// allocates too much is named rather than hidden behind an earlier peak.
public enum PeakMemory {
    /// Resets the high-water mark to the current RSS (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`).
    public static func reset() -> Bool {
        // Give freed heap pages back first: memory an earlier case freed but malloc kept resident
        // would otherwise be reused without raising RSS, hiding the next case's allocation.
        _ = trimHeap(0)
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// glibc's malloc_trim, which the Glibc module does not import (looked up once).
    private static let trimHeap: @convention(c) (Int) -> Int32 = {
        guard let symbol = dlsym(nil, "malloc_trim") else { return { _ in 0 } }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// VmHWM from /proc/self/status when it can be reset, else ru_maxrss (never decreases).
    public static func bytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
            return kib * 1024
        }
        var ru = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
        return Int(ru.ru_maxrss) * 1024
    }

    /// How far the peak rises above its level at the start of `body` (bytes), after a reset; nil
    /// (body still run) when the kernel refuses the reset: the peak could then already sit above
    /// anything `body` allocates, and a growth of 0 would prove nothing.
    public static func growth(during body: () throws -> Void) rethrows -> Int? {
        guard reset() else { try body(); return nil }
        let before = bytes()
        try body()
        return bytes() - before
    }
}
