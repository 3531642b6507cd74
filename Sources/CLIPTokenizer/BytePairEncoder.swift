// Byte-level BPE as in open_clip's `SimpleTokenizer.bpe` (after GPT-2's `bytes_to_unicode`).
//
// A pre-tokenized piece is turned into UTF-8 bytes; each byte is one initial symbol (the vocabulary
// spells byte b as the printable character `bytes_to_unicode()[b]`), the last symbol carries the
// end-of-word marker `</w>`, and then, repeatedly, the adjacent pair with the lowest merge rank is
// merged everywhere in the word (all non-overlapping occurrences, left to right) until no adjacent
// pair has a rank. Symbols are handled as vocabulary ids, pairs as one `UInt64` key.
//
// Python's loop rescans the whole word for every merge (quadratic in the word length). Here the
// candidate pairs sit in a min-heap keyed by (rank, position) over a linked list of symbols, and
// each round pops all entries of the lowest rank and applies them left to right: the same result
// as Python's rounds in O(n log n), which matters for a 5,000-letter "word".

/// GPT-2's reversible map from bytes to printable characters: the printable Latin-1 bytes map to
/// themselves, the other 68 bytes to U+0100... in increasing byte order. The position of a byte
/// in `order` is its vocabulary id (and id + 256 for the `</w>` variant) in CLIP's vocabulary.
enum ByteAlphabet {
    /// Bytes in vocabulary order.
    static let order: [UInt8] = {
        var bytes = Array(UInt8(ascii: "!")...UInt8(ascii: "~")) + Array(UInt8(0xA1)...0xAC)
            + Array(UInt8(0xAE)...0xFF)
        let printable = Set(bytes)
        for b in 0...255 where !printable.contains(UInt8(b)) { bytes.append(UInt8(b)) }
        return bytes
    }()

    /// `character[b]`: the character that spells byte `b` in the vocabulary.
    static let character: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in order {
            if b >= 0x21 && b <= 0x7E || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
                table[Int(b)] = Unicode.Scalar(b)
            } else {
                table[Int(b)] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `character`, for decoding.
    static let byteOfCharacter: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for b in 0..<256 { map[character[b]] = UInt8(b) }
        return map
    }()

    /// The vocabulary spelling of a byte string: `bytes_to_unicode` applied byte by byte.
    static func spell<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(character[Int(b)]) }
        return String(s)
    }
}

/// The merge rules and the byte symbols of one vocabulary, as ids.
struct BytePairEncoder: Sendable {
    struct Merge: Sendable {
        var rank: Int32
        var merged: Int32
    }

    /// `byteID[b]`, `byteEndID[b]`: ids of the symbols for byte `b` alone and with `</w>`.
    let byteID: [Int32]
    let byteEndID: [Int32]
    /// (left id << 32 | right id) -> rank and id of the merged symbol.
    let merges: [UInt64: Merge]

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// BPE of one piece given as UTF-8 bytes; returns vocabulary ids.
    func encode(_ bytes: [UInt8]) -> [Int32] {
        let n = bytes.count
        if n == 0 { return [] }
        if n == 1 { return [byteEndID[Int(bytes[0])]] }

        // Doubly linked list of symbols; a merge keeps the left node and unlinks the right one, so
        // node indices stay in left-to-right order.
        var sym = [Int32](repeating: 0, count: n)
        var prev = [Int](repeating: -1, count: n)
        var next = [Int](repeating: -1, count: n)
        for i in 0..<n {
            sym[i] = i == n - 1 ? byteEndID[Int(bytes[i])] : byteID[Int(bytes[i])]
            prev[i] = i - 1
            next[i] = i + 1 < n ? i + 1 : -1
        }
        var alive = [Bool](repeating: true, count: n)
        var heap = PairHeap()
        for i in 0..<(n - 1) {
            if let m = merges[Self.key(sym[i], sym[i + 1])] {
                heap.push(.init(rank: m.rank, position: i, left: sym[i], right: sym[i + 1]))
            }
        }
        // Valid if the pair recorded at `position` is still adjacent there.
        func isValid(_ e: PairHeap.Entry) -> Bool {
            guard alive[e.position], sym[e.position] == e.left else { return false }
            let r = next[e.position]
            return r >= 0 && sym[r] == e.right
        }
        var round: [PairHeap.Entry] = []
        while let top = heap.pop() {
            guard isValid(top) else { continue }
            // One Python round: every occurrence of this pair, left to right.
            round.removeAll(keepingCapacity: true)
            round.append(top)
            while let peek = heap.peek(), peek.rank == top.rank {
                round.append(heap.pop()!)
            }
            round.sort { $0.position < $1.position }
            let merged = merges[Self.key(top.left, top.right)]!.merged
            for e in round where isValid(e) {
                let i = e.position
                let r = next[i]
                sym[i] = merged
                alive[r] = false
                next[i] = next[r]
                if next[r] >= 0 { prev[next[r]] = i }
                // New pairs always rank after this one in a well-formed merge list (a merge using
                // a symbol comes after the merge that makes it), so they wait for later rounds.
                if prev[i] >= 0, let m = merges[Self.key(sym[prev[i]], merged)] {
                    heap.push(.init(rank: m.rank, position: prev[i], left: sym[prev[i]], right: merged))
                }
                if next[i] >= 0, let m = merges[Self.key(merged, sym[next[i]])] {
                    heap.push(.init(rank: m.rank, position: i, left: merged, right: sym[next[i]]))
                }
            }
        }
        var out: [Int32] = []
        var i = 0
        while i >= 0 {
            out.append(sym[i])
            i = next[i]
        }
        return out
    }
}

/// A binary min-heap of candidate pairs ordered by (rank, position).
struct PairHeap {
    struct Entry {
        var rank: Int32
        var position: Int
        var left: Int32
        var right: Int32
        func precedes(_ o: Entry) -> Bool { rank != o.rank ? rank < o.rank : position < o.position }
    }

    private var items: [Entry] = []

    func peek() -> Entry? { items.first }

    mutating func push(_ e: Entry) {
        items.append(e)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard items[c].precedes(items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count && items[l].precedes(items[m]) { m = l }
                if r < items.count && items[r].precedes(items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return first
    }
}
