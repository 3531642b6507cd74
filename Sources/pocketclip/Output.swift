// Small output helpers: JSON literals written by hand (shortest round-trip floats), text files.

import CLIPConvert
import CLIPFormat

func jsonString(_ s: String) -> String { jsonQuoted(s) }

/// Floats print in Swift's shortest form that reads back to the same Float; non-finite → null.
func jsonNumber(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }

func jsonArray(_ v: [Float]) -> String { "[" + v.map(jsonNumber).joined(separator: ", ") + "]" }

func formatPercent(_ p: Float) -> String {
    let tenths = Int((Double(p) * 1000).rounded())
    return "\(tenths / 10).\(tenths % 10)%"
}

/// Fails at once with the writer's one-line error ("cannot write 'PATH': Read-only file system")
/// when `path` cannot be created — read-only target, missing directory, no permission — rather
/// than after the minutes of work whose result it was to hold. Leaves nothing behind.
func checkWritable(_ path: String) throws { try AtomicFileWriter(path: path).abort() }

/// Largest labels or templates file read (`--labels-file`, `--templates-file`): 100,000 labels
/// (PromptTemplates.maxLabels) of up to ~160 bytes each.
let maxTextFileBytes = 16 << 20

/// A UTF-8 text file (labels lists, image lists), bounded in size.
func readTextFile(_ path: String, limit: Int = maxTextFileBytes) throws -> String {
    let bytes = try ReadOnlyFile(path: path).readAll(limit: limit)
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
