// libFuzzer entry for the embedding index reader (`pocketclip index search`, and `index build`
// continuing an existing index): any bytes must be refused with an error or give an index that
// keeps the reader's promises — never a crash, an out-of-bounds read, or an allocation the input
// does not justify (a header claiming 10^8 entries of 16384 floats must be refused, not reserved).
// The code fuzzed is the reader's own: `EmbeddingIndex.read(_:)` is `parse(bytes:path:)` on the
// file's bytes, and `load(_:for:)` adds `check(modelFingerprint:embedDim:path:)`.
//
// Each input is parsed as given and with its trailing CRC-32 recomputed (a random mutation
// almost always breaks it, and the reader rightly checks it first), so mutations of the header
// and entries reach the checks behind it.
//
// Inputs are parsed as if the file lay where the round trip writes it (`scratch`), so a relative
// root names the same folder before and after. The writer is canonical for what it writes: an
// accepted index written back, read and written again gives the same bytes, and when the input
// already stores its root as the writer would (a version-2 file, a root relative to `scratch`'s
// directory) the first write gives the input's exact bytes.

import CLIPFormat
import CLIPRuntime
import CLIPSearch
import CLIPSupport
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIndex(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    exercise(bytes)
    if bytes.count >= 4 {
        var fixed = bytes
        let c = crc32(Array(bytes.dropLast(4)))
        for i in 0..<4 { fixed[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(i))) }
        if fixed != bytes { exercise(fixed) }
    }
    return 0
}

private let scratch = fuzzScratchDirectory + "/fuzzindex-\(getpid()).index"

private func exercise(_ bytes: [UInt8]) {
    guard let index = try? EmbeddingIndex.parse(bytes: bytes, path: scratch) else { return }
    // What search relies on: one stamp and `dim` finite values per path.
    precondition(index.dim >= 1 && index.dim <= EmbeddingIndex.maxDim, "dim outside its bounds")
    precondition(index.stamps.count == index.count && index.vectors.count == index.count * index.dim, "entries disagree")
    precondition(index.vectors.allSatisfy(\.isFinite), "non-finite embedding value")
    precondition(index.root.isEmpty || index.root.hasPrefix("/"), "a root read from a file is absolute")
    precondition((try? index.check(modelFingerprint: index.modelFingerprint, embedDim: index.dim, path: "<fuzz>")) != nil)
    precondition((try? index.check(modelFingerprint: index.modelFingerprint &+ 1, embedDim: index.dim, path: "<fuzz>")) == nil)
    precondition((try? index.check(modelFingerprint: nil, embedDim: index.dim, path: "<fuzz>")) == nil)
    // Searching as `index search` does.
    let query = (0..<index.dim).map { Float($0 % 5) - 2 }
    if let hits = try? index.search(query, topK: 3) {
        precondition(hits.count == min(3, index.count))
    } else {
        preconditionFailure("a query of the index's size was refused")
    }
    // Round trip through the writer and the path-based reader: the same index, and the writer
    // reproduces its own bytes. An absolute root (version 1) can be longer relative to `scratch`
    // than the format stores: then, and only then, the write is refused.
    let stored = index.storedRoot(forIndexAt: scratch)
    if stored.utf8.count > EmbeddingIndex.maxPathBytes {
        precondition((try? index.write(to: scratch)) == nil, "a root too long to store was written")
        return
    }
    do {
        try index.write(to: scratch)
        let written = try ReadOnlyFile(path: scratch).readAll(limit: bytes.count + 3 * 4096)
        let back = try EmbeddingIndex.read(scratch)
        precondition(back.paths == index.paths && back.stamps == index.stamps && back.root == index.root, "a round trip changed the index")
        precondition(back.vectors.map(\.bitPattern) == index.vectors.map(\.bitPattern), "a round trip changed the vectors")
        // The header's version (bytes 8..<12) and root length (24..<28); parsing checked the
        // root's bytes are there.
        func u32(_ at: Int) -> Int { bytes[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | Int($1) } }
        let rootLength = u32(24)
        if u32(8) == Int(EmbeddingIndex.version), rootLength == stored.utf8.count,
           bytes[28..<(28 + rootLength)].elementsEqual(stored.utf8) {
            precondition(written == bytes, "the writer does not reproduce an index stored as it writes it")
        }
        try back.write(to: scratch)
        let again = try ReadOnlyFile(path: scratch).readAll(limit: written.count + 1)
        precondition(again == written, "the writer is not canonical")
    } catch {
        preconditionFailure("an index that parsed could not be written and read back: \(error)")
    }
}
