// Reader for the safetensors format (HF `safetensors`): an 8-byte little-endian header length N,
// N bytes of JSON, then the data section. The JSON maps tensor names to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section) and
// may hold one "__metadata__" object of string → string.
//
// Nothing in the header is trusted: the length is bounded and checked against the file, every
// shape's element count is computed with overflow checks and must equal the byte span for its
// dtype, every span must lie inside the data section, and no two spans may overlap. Tensor
// data is read only on request, one tensor at a time.

import CLIPFormat
import CLIPSupport

/// Element types a safetensors header may declare.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    /// The float types a CLIP checkpoint's weights may use.
    public var isFloatWeight: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Absolute byte range in the file.
    public let byteRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case tooSmall(path: String, size: Int)
    case headerLength(path: String, declared: UInt64, fileSize: Int)
    case headerJSON(path: String, detail: String)
    case badEntry(path: String, tensor: String, detail: String)
    case overlap(path: String, first: String, second: String)
    case noSuchTensor(path: String, tensor: String)
    case notFloat(path: String, tensor: String, dtype: String)

    public var description: String {
        switch self {
        case let .tooSmall(path, size):
            return "'\(path)' is not a safetensors file: \(size) bytes is shorter than the 8-byte header length"
        case let .headerLength(path, declared, fileSize):
            let why = declared > UInt64(Safetensors.maxHeaderBytes)
                ? "more than the \(Safetensors.maxHeaderBytes)-byte limit (Safetensors.maxHeaderBytes)"
                : declared < 2 ? "fewer than the 2 bytes of '{}'" : "but the file has only \(fileSize) bytes"
            return "'\(path)' has a corrupt safetensors header: it declares \(declared) header bytes, \(why); the file is truncated or not safetensors"
        case let .headerJSON(path, detail):
            return "'\(path)' has a corrupt safetensors header: \(detail)"
        case let .badEntry(path, tensor, detail):
            return "'\(path)': tensor '\(tensor)' has a corrupt header entry: \(detail)"
        case let .overlap(path, first, second):
            return "'\(path)': tensors '\(first)' and '\(second)' overlap in the data section; the file is corrupt"
        case let .noSuchTensor(path, tensor):
            return "'\(path)' has no tensor named '\(tensor)'"
        case let .notFloat(path, tensor, dtype):
            return "'\(path)': tensor '\(tensor)' is \(dtype); only F32, F16 and BF16 weights can be loaded"
        }
    }
}

public enum Safetensors {
    /// The reference implementation's limit on the header (100 MB); a real CLIP header is < 100 kB.
    public static let maxHeaderBytes = 100_000_000
    /// More dimensions than any real tensor has; bounds work done for a hostile shape.
    public static let maxRank = 8
}

/// An opened safetensors file: the validated directory of tensors, data read on request.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// let w = try file.floatTensor(ModelTensor(.visionProjection).names(in: .openCLIP)[0])   // F32/F16/BF16 → Float
/// ```
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: SafetensorsTensorInfo]
    /// Names in header order.
    public let names: [String]
    public let metadata: [String: String]
    private let file: SafetensorsSource

    /// Opens and validates the file at `path`; tensor data is read from disk on request.
    public convenience init(path: String) throws {
        try self.init(source: try ReadOnlyFile(path: path), path: path)
    }

    /// Validates safetensors bytes held in memory (tests, fuzzing), with the same checks as `init(path:)`.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(source: MemorySource(bytes: bytes, path: "<memory>"), path: "<memory>")
    }

    private init(source file: SafetensorsSource, path: String) throws {
        guard file.size >= 8 else { throw SafetensorsError.tooSmall(path: path, size: file.size) }
        let lengthBytes = try file.bytes(at: 0, count: 8)
        var declared: UInt64 = 0
        for (i, b) in lengthBytes.enumerated() { declared |= UInt64(b) << (8 * UInt64(i)) }
        guard declared >= 2, declared <= UInt64(Safetensors.maxHeaderBytes), declared <= UInt64(file.size - 8) else {
            throw SafetensorsError.headerLength(path: path, declared: declared, fileSize: file.size)
        }
        let headerLength = Int(declared)
        // The first byte before the whole header: a large file that is not safetensors is refused
        // without reading up to maxHeaderBytes of it.
        guard try file.bytes(at: 8, count: 1) == [UInt8(ascii: "{")] else {
            throw SafetensorsError.headerJSON(path: path, detail: "it does not start with '{'")
        }
        let header = try file.bytes(at: 8, count: headerLength)
        let json: JSONValue
        do { json = try parseJSON(header) } catch let e as JSONError {
            throw SafetensorsError.headerJSON(path: path, detail: e.description)
        }
        guard let members = json.members else {
            throw SafetensorsError.headerJSON(path: path, detail: "the header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = file.size - dataStart
        var tensors: [String: SafetensorsTensorInfo] = [:]
        var names: [String] = []
        var metadata: [String: String] = [:]
        for (name, entry) in members {
            if name == "__metadata__" {
                guard let m = entry.members else {
                    throw SafetensorsError.headerJSON(path: path, detail: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v.string else {
                        throw SafetensorsError.headerJSON(path: path, detail: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            let info = try Self.parseEntry(name: name, entry: entry, path: path, dataStart: dataStart, dataSize: dataSize)
            tensors[name] = info
            names.append(name)
        }
        // No two tensors may share bytes (zero-sized tensors share nothing).
        let spans = tensors.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(spans, spans.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw SafetensorsError.overlap(path: path, first: a.name, second: b.name)
        }
        self.path = path
        self.file = file
        self.tensors = tensors
        self.names = names
        self.metadata = metadata
    }

    private static func parseEntry(name: String, entry: JSONValue, path: String, dataStart: Int, dataSize: Int) throws
        -> SafetensorsTensorInfo
    {
        func bad(_ detail: String) -> SafetensorsError { .badEntry(path: path, tensor: name, detail: detail) }
        guard entry.members != nil else { throw bad("it is not an object") }
        guard let dtypeName = entry["dtype"]?.string else { throw bad("no \"dtype\" string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw bad("unknown dtype '\(dtypeName)'") }
        guard let shapeValues = entry["shape"]?.array else { throw bad("no \"shape\" array") }
        guard shapeValues.count <= Safetensors.maxRank else { throw bad("\(shapeValues.count) dimensions (limit \(Safetensors.maxRank))") }
        var shape: [Int] = []
        var count = 1
        for v in shapeValues {
            guard let d = v.int, d >= 0 else { throw bad("shape entry \(v) is not a non-negative integer") }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= dataSize else { throw bad("shape \(shapeValues.compactMap(\.int)) holds more elements than the file has bytes") }
            count = product
            shape.append(d)
        }
        guard let offsets = entry["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].int, let end = offsets[1].int else {
            throw bad("\"data_offsets\" is not a pair of integers")
        }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw bad("data_offsets [\(begin), \(end)] fall outside the \(dataSize)-byte data section (truncated file?)")
        }
        guard end - begin == count * dtype.byteSize else {
            throw bad("data_offsets span \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(count * dtype.byteSize)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    /// The raw bytes of a tensor.
    public func rawBytes(_ name: String) throws -> [UInt8] {
        guard let info = tensors[name] else { throw SafetensorsError.noSuchTensor(path: path, tensor: name) }
        return try file.bytes(at: info.byteRange.lowerBound, count: info.byteRange.count)
    }

    /// A float tensor (F32, F16 or BF16) converted to Float, with its shape.
    public func floatTensor(_ name: String) throws -> (shape: [Int], values: [Float]) {
        guard let info = tensors[name] else { throw SafetensorsError.noSuchTensor(path: path, tensor: name) }
        let n = info.elementCount
        switch info.dtype {
        case .f32:
            var values = [Float](repeating: 0, count: n)
            try values.withUnsafeMutableBytes { try file.read(into: $0, at: info.byteRange.lowerBound) }
            #if _endian(big)
            values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            #endif
            return (info.shape, values)
        case .f16, .bf16:
            var halves = [UInt16](repeating: 0, count: n)
            try halves.withUnsafeMutableBytes { try file.read(into: $0, at: info.byteRange.lowerBound) }
            let isBF16 = info.dtype == .bf16
            let values = halves.map { raw -> Float in
                let h = UInt16(littleEndian: raw)
                return isBF16 ? Float(bitPattern: UInt32(h) << 16) : floatFromHalf(h)
            }
            return (info.shape, values)
        default:
            throw SafetensorsError.notFloat(path: path, tensor: name, dtype: info.dtype.rawValue)
        }
    }
}

/// Where a `SafetensorsFile` reads its bytes: a file on disk or an array in memory.
private protocol SafetensorsSource: AnyObject {
    var size: Int { get }
    func bytes(at offset: Int, count: Int) throws -> [UInt8]
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws
}

extension ReadOnlyFile: SafetensorsSource {}

/// An in-memory source with the same bounds checks (and errors) as `ReadOnlyFile`.
private final class MemorySource: SafetensorsSource {
    let storage: [UInt8]
    let path: String
    var size: Int { storage.count }

    init(bytes: [UInt8], path: String) {
        storage = bytes
        self.path = path
    }

    private func check(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FileError.outOfBounds(path: path, offset: offset, count: count, size: size)
        }
    }

    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        try check(offset, count)
        return Array(storage[offset..<(offset + count)])
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try check(offset, buffer.count)
        storage.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + buffer.count)]))
        }
    }
}
