// Inflate.swift — zlib / DEFLATE decompression (RFC 1950 / RFC 1951) in plain Swift.
//
// Why not libpng or zlib: libpng reports errors by longjmp, which must never cross Swift frames,
// and its simplified API applies gamma and alpha conversions that Pillow does not. zlib is not
// visible through CImageCodecs. So the PNG decoder (PNGDecoder.swift) inflates IDAT itself; every
// malformed stream becomes a thrown `InflateError`, and the output size is capped by the caller
// (it knows the exact size the image needs), so a hostile stream cannot allocate without bound.
//
// Decoding uses one lookup table per Huffman code, indexed by the next `maxLength` bits
// (bit-reversed, LSB first as DEFLATE stores them): a table hit gives symbol and length at once.

struct InflateError: Error {
    let message: String
    /// True when the input ran out: the file was cut short rather than corrupted.
    var truncated = false
}

/// Little-endian bit reader over the compressed bytes.
private struct BitReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var bitBuffer: UInt64 = 0
    var bitCount = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Tops the buffer up to at least 32 bits when input remains (past the end it adds nothing,
    /// and `need` reports the truncation).
    @inline(__always) mutating func refill() {
        if position + 8 <= bytes.count {
            // Fast path: one unaligned 8-byte load, keeping only the whole bytes that fit.
            let take = (63 - bitCount) >> 3
            let word = UInt64(littleEndian: UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self))
            bitBuffer |= (word & ((1 << UInt64(take * 8)) - 1)) << UInt64(bitCount)
            position += take
            bitCount += take * 8
            return
        }
        while bitCount <= 56 && position < bytes.count {
            bitBuffer |= UInt64(bytes[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    @inline(__always) mutating func need(_ n: Int) throws {
        if bitCount < n {
            refill()
            if bitCount < n { throw InflateError(message: "compressed data ends early", truncated: true) }
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        try need(n)
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    mutating func alignToByte() {
        let drop = bitCount % 8
        bitBuffer >>= UInt64(drop)
        bitCount -= drop
    }
}

/// A canonical Huffman code. Codes of up to `primaryBits` bits decode with one lookup in `table`
/// (indexed by the next bits, LSB first as DEFLATE stores them; entry = symbol << 4 | length,
/// 0 = longer code or invalid). Longer codes (rare by construction) are decoded canonically one
/// bit at a time from `count` and `sorted`, which keeps table building cheap for every block.
private struct HuffmanTable {
    static let primaryBits = 10
    var table: [UInt32]
    var count: [Int]
    var sorted: [Int]
    var maxLength: Int

    init(lengths: ArraySlice<UInt8>) throws {
        var count = [Int](repeating: 0, count: 16)
        for l in lengths { count[Int(l)] += 1 }
        count[0] = 0
        maxLength = (1...15).last(where: { count[$0] > 0 }) ?? 0
        self.count = count
        // Check the code is not over-subscribed (an incomplete code is allowed, as zlib does).
        var left = 1
        for len in 1...15 {
            left <<= 1
            left -= count[len]
            if left < 0 { throw InflateError(message: "invalid Huffman code (over-subscribed)") }
        }
        var offsets = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offsets[len + 1] = offsets[len] + count[len] }
        sorted = [Int](repeating: 0, count: lengths.count)
        for (i, l) in lengths.enumerated() where l > 0 {
            sorted[offsets[Int(l)]] = i
            offsets[Int(l)] += 1
        }
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 {
            code = (code + count[len - 1]) << 1
            nextCode[len] = code
        }
        let bits = min(max(maxLength, 1), HuffmanTable.primaryBits)
        let size = 1 << bits
        table = [UInt32](repeating: 0, count: size)
        for (i, l) in lengths.enumerated() where l > 0 {
            let len = Int(l)
            var c = nextCode[len]
            nextCode[len] += 1
            guard len <= bits else { continue }
            // Reverse the code: DEFLATE sends Huffman codes most-significant bit first.
            var rev = 0
            for _ in 0..<len {
                rev = (rev << 1) | (c & 1)
                c >>= 1
            }
            let entry = UInt32(i) << 4 | UInt32(len)
            var j = rev
            while j < size {
                table[j] = entry
                j += 1 << len
            }
        }
    }

    @inline(__always) func decode(_ r: inout BitReader) throws -> Int {
        if r.bitCount < maxLength { r.refill() }
        let entry = table[Int(r.bitBuffer & UInt64(table.count - 1))]
        let len = Int(entry & 15)
        if len != 0 && len <= r.bitCount {
            r.bitBuffer >>= UInt64(len)
            r.bitCount -= len
            return Int(entry >> 4)
        }
        return try decodeSlow(&r)
    }

    /// Canonical decoding bit by bit (codes longer than the table, or errors).
    func decodeSlow(_ r: inout BitReader) throws -> Int {
        var code = 0, first = 0, index = 0
        for len in 1...15 {
            code |= try r.bits(1)
            let n = count[len]
            if code - first < n { return sorted[index + code - first] }
            index += n
            first = (first + n) << 1
            code <<= 1
        }
        throw InflateError(message: "invalid Huffman code in data")
    }
}

private let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                 67, 83, 99, 115, 131, 163, 195, 227, 258]
private let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                                  5, 5, 5, 5, 0]
private let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                               1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
private let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
                                11, 11, 12, 12, 13, 13]
private let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

/// Decompresses a zlib stream (2-byte header, DEFLATE blocks, Adler-32) into exactly
/// `expectedSize` bytes. Throws if the stream is malformed, ends early, or holds more data.
func zlibInflate(_ input: [UInt8], expectedSize: Int) throws -> [UInt8] {
    guard input.count >= 2 else { throw InflateError(message: "compressed data ends early", truncated: true) }
    let cmf = Int(input[0]), flg = Int(input[1])
    guard cmf & 15 == 8, (cmf << 8 | flg) % 31 == 0, flg & 0x20 == 0 else {
        throw InflateError(message: "not a zlib stream (bad header)")
    }
    var out = [UInt8](repeating: 0, count: expectedSize)
    let produced = try input.withUnsafeBufferPointer { inBuf in
        try out.withUnsafeMutableBufferPointer { outBuf in
            var reader = BitReader(UnsafeBufferPointer(rebasing: inBuf[2...]))
            return try inflateBlocks(&reader, outBuf)
        }
    }
    guard produced == expectedSize else {
        throw InflateError(message: "image data has \(produced) bytes, expected \(expectedSize)", truncated: true)
    }
    return out
}

private func inflateBlocks(_ r: inout BitReader, _ out: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
    var n = 0
    let fixedLit = try HuffmanTable(lengths: ArraySlice(
        [UInt8](repeating: 8, count: 144) + [UInt8](repeating: 9, count: 112)
            + [UInt8](repeating: 7, count: 24) + [UInt8](repeating: 8, count: 8)))
    let fixedDist = try HuffmanTable(lengths: ArraySlice([UInt8](repeating: 5, count: 30)))
    var last = false
    while !last {
        last = try r.bits(1) == 1
        let type = try r.bits(2)
        switch type {
        case 0:
            r.alignToByte()
            let len = try r.bits(16), nlen = try r.bits(16)
            guard len == (~nlen & 0xFFFF) else { throw InflateError(message: "corrupt stored block length") }
            guard n + len <= out.count else { throw InflateError(message: "image data is longer than the image") }
            for _ in 0..<len {
                out[n] = UInt8(try r.bits(8))
                n += 1
            }
        case 1:
            n = try inflateHuffman(&r, out, n, fixedLit, fixedDist)
        case 2:
            let hlit = try r.bits(5) + 257, hdist = try r.bits(5) + 1, hclen = try r.bits(4) + 4
            var clLengths = [UInt8](repeating: 0, count: 19)
            for i in 0..<hclen { clLengths[codeLengthOrder[i]] = UInt8(try r.bits(3)) }
            let clTable = try HuffmanTable(lengths: clLengths[...])
            var lengths = [UInt8](repeating: 0, count: hlit + hdist)
            var i = 0
            while i < hlit + hdist {
                let sym = try clTable.decode(&r)
                var repeatValue: UInt8 = 0, repeatCount = 0
                switch sym {
                case 0..<16:
                    lengths[i] = UInt8(sym)
                    i += 1
                    continue
                case 16:
                    guard i > 0 else { throw InflateError(message: "corrupt code lengths (repeat with no previous)") }
                    repeatValue = lengths[i - 1]
                    repeatCount = 3 + (try r.bits(2))
                case 17: repeatCount = 3 + (try r.bits(3))
                default: repeatCount = 11 + (try r.bits(7))
                }
                guard i + repeatCount <= hlit + hdist else { throw InflateError(message: "corrupt code lengths (too many)") }
                for _ in 0..<repeatCount {
                    lengths[i] = repeatValue
                    i += 1
                }
            }
            guard lengths[256] != 0 else { throw InflateError(message: "corrupt block (no end-of-block code)") }
            let lit = try HuffmanTable(lengths: lengths[0..<hlit])
            let dist = try HuffmanTable(lengths: lengths[hlit...])
            n = try inflateHuffman(&r, out, n, lit, dist)
        default:
            throw InflateError(message: "invalid DEFLATE block type 3")
        }
    }
    return n
}

/// The hot loop of PNG decoding: literals and back-references until end-of-block.
/// Table lookups go through raw pointers (no bounds checks: every index is masked to the table
/// size) and non-overlapping back-references are copied in bulk.
private func inflateHuffman(_ r: inout BitReader, _ out: UnsafeMutableBufferPointer<UInt8>, _ start: Int,
                            _ lit: HuffmanTable, _ dist: HuffmanTable) throws -> Int {
    var n = start
    let capacity = out.count
    let base = out.baseAddress!
    return try lit.table.withUnsafeBufferPointer { litTable in
        let litMask = UInt64(litTable.count - 1)
        while true {
            // Inline fast path of HuffmanTable.decode for the literal/length code.
            if r.bitCount < 15 { r.refill() }
            let entry = litTable[Int(r.bitBuffer & litMask)]
            let len = Int(entry & 15)
            let sym: Int
            if len != 0 && len <= r.bitCount {
                r.bitBuffer >>= UInt64(len)
                r.bitCount -= len
                sym = Int(entry >> 4)
            } else {
                sym = try lit.decodeSlow(&r)
            }
            if sym < 256 {
                guard n < capacity else { throw InflateError(message: "image data is longer than the image") }
                base[n] = UInt8(truncatingIfNeeded: sym)
                n += 1
            } else if sym == 256 {
                return n
            } else {
                let li = sym - 257
                guard li < 29 else { throw InflateError(message: "invalid length code \(sym)") }
                let length = lengthBase[li] + (try r.bits(lengthExtra[li]))
                let di = try dist.decode(&r)
                guard di < 30 else { throw InflateError(message: "invalid distance code \(di)") }
                let distance = distBase[di] + (try r.bits(distExtra[di]))
                guard distance <= n else { throw InflateError(message: "invalid back-reference distance") }
                guard n + length <= capacity else { throw InflateError(message: "image data is longer than the image") }
                if distance >= length {
                    (base + n).update(from: base + n - distance, count: length)
                } else {
                    // Overlapping (run-length style) copy: byte by byte, reading what was just written.
                    var src = n - distance
                    for i in 0..<length {
                        base[n + i] = base[src]
                        src += 1
                    }
                }
                n += length
            }
        }
    }
}
