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
// The format is canonical, so an accepted index written back by the real writer must give the
// input's exact bytes.

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
    guard let index = try? EmbeddingIndex.parse(bytes: bytes, path: "<fuzz>") else { return }
    // What search relies on: one stamp and `dim` finite values per path.
    precondition(index.dim >= 1 && index.dim <= EmbeddingIndex.maxDim, "dim outside its bounds")
    precondition(index.stamps.count == index.count && index.vectors.count == index.count * index.dim, "entries disagree")
    precondition(index.vectors.allSatisfy(\.isFinite), "non-finite embedding value")
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
    // Round trip through the writer and the path-based reader: the same bytes, the same index.
    do {
        try index.write(to: scratch)
        let written = try ReadOnlyFile(path: scratch).readAll(limit: bytes.count + 1)
        precondition(written == bytes, "the writer does not reproduce an index the reader accepted")
        let back = try EmbeddingIndex.read(scratch)
        precondition(back.paths == index.paths && back.stamps == index.stamps && back.root == index.root, "a round trip changed the index")
    } catch {
        preconditionFailure("an index that parsed could not be written and read back: \(error)")
    }
}
