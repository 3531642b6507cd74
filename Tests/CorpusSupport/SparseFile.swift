// Sparse files for the size-limit tests: a file that claims the limit's size (or one byte more)
// without spending disk or memory on it. One copy for every test target with a size limit.

import CLIPSupport
import Foundation

public struct SparseFileError: Error, CustomStringConvertible {
    public let description: String
}

/// Writes `head` to `path`, then extends the file to `size` bytes with a hole (no disk, no
/// memory), and returns `path`.
@discardableResult
public func makeSparseFile(_ path: String, head: [UInt8] = [], size: Int) throws -> String {
    guard FileManager.default.createFile(atPath: path, contents: Data(head)) else {
        throw SparseFileError(description: "cannot create '\(path)'")
    }
    guard truncate(path, off_t(size)) == 0 else {
        throw SparseFileError(description: "cannot extend '\(path)' to \(size) bytes: \(String(cString: strerror(errno)))")
    }
    return path
}
