// The .pclip v1 container's vocabulary: constants, field types and errors (formats/pclip.md).

import CLIPSupport

public enum Pclip {
    public static let magic: [UInt8] = [0x89, 0x50, 0x43, 0x4C, 0x49, 0x50, 0x0D, 0x0A]  // \x89 P C L I P \r \n
    public static let versionMajor: UInt16 = 1
    public static let versionMinor: UInt16 = 0
    public static let headerSize = 64
    /// Raw payloads start at multiples of this (a cache line; SIMD loads in place).
    public static let alignment = 64
    public static let maxMetadataBytes = 16 << 20
    public static let maxDirectoryBytes = 64 << 20
    public static let maxTensors = 65_536
    public static let maxNameBytes = 256
    public static let maxRank = 4
    /// 2^40 elements: far beyond any CLIP tensor, small enough that sizes never overflow.
    public static let maxElements = 1 << 40
    /// A compressed tensor may declare at most this many decoded bytes per stored byte (+1 MiB).
    public static let maxExpansion = 4096
}

public enum PclipDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 1, f16 = 2, q8 = 3, bytes = 4

    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q8: return "q8"
        case .bytes: return "bytes"
        }
    }
}

public enum PclipCompression: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case raw = 0, zstd = 1
    public var description: String { self == .raw ? "raw" : "zstd" }
}

/// One directory entry, validated.
public struct PclipTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: PclipDType
    public let compression: PclipCompression
    public let dims: [Int]
    /// q8: elements per scale along the last dimension; 0 otherwise.
    public let groupSize: Int
    public let offset: Int
    public let storedSize: Int
    public let decodedSize: Int
    public let crc32: UInt32

    public var elementCount: Int { dims.reduce(1, *) }
    public var storedRange: Range<Int> { offset..<(offset + storedSize) }

    /// The decoded size the spec implies for a dtype, dims and group size.
    public static func decodedSize(dtype: PclipDType, dims: [Int], groupSize: Int) -> Int {
        let n = dims.reduce(1, *)
        switch dtype {
        case .f32: return 4 * n
        case .f16: return 2 * n
        case .bytes: return n
        case .q8: return Q8.decodedSize(count: n, k: dims.last ?? 1, groupSize: groupSize)
        }
    }
}

public enum PclipError: Error, CustomStringConvertible, Equatable {
    case tooSmall(size: Int)
    case badMagic
    case headerChecksum(stored: UInt32, computed: UInt32)
    case unsupportedVersion(major: UInt16, minor: UInt16)
    case unknownFlags(UInt32)
    case badSection(section: String, detail: String)
    case sectionChecksum(section: String, stored: UInt32, computed: UInt32)
    case badMetadata(String)
    case badEntry(index: Int, name: String?, detail: String)
    case duplicateName(String)
    case overlap(first: String, second: String)
    case noSuchTensor(String)
    case payloadChecksum(tensor: String, stored: UInt32, computed: UInt32)
    case badPayload(tensor: String, detail: String)
    case wrongDType(tensor: String, expected: String, found: PclipDType)
    case compressionFailed(reason: String)

    public var description: String {
        switch self {
        case .tooSmall(let size):
            return "not a .pclip file: \(size) bytes is shorter than the 64-byte header"
        case .badMagic:
            return "not a .pclip file: the first 8 bytes are not the .pclip magic (89 50 43 4C 49 50 0D 0A)"
        case let .headerChecksum(stored, computed):
            return "the .pclip header is corrupt: its CRC-32 is \(hex8(computed)), the header says \(hex8(stored)); the file was damaged in transfer — copy it again"
        case let .unsupportedVersion(major, minor):
            return "this .pclip file is version \(major).\(minor); this pocketclip reads version \(Pclip.versionMajor).x — convert the model again with this pocketclip or upgrade it"
        case .unknownFlags(let flags):
            return "the .pclip header has flags \(hex8(flags)) that version \(Pclip.versionMajor).\(Pclip.versionMinor) does not define"
        case let .badSection(section, detail):
            return "the .pclip \(section) is corrupt: \(detail)"
        case let .sectionChecksum(section, stored, computed):
            return "the .pclip \(section) is corrupt: its CRC-32 is \(hex8(computed)), the header says \(hex8(stored)); copy the file again"
        case .badMetadata(let detail):
            return "the .pclip metadata is invalid: \(detail)"
        case let .badEntry(index, name, detail):
            return "the .pclip tensor directory is corrupt at entry \(index)\(name.map { " ('\($0)')" } ?? ""): \(detail)"
        case .duplicateName(let name):
            return "the .pclip tensor directory names '\(name)' twice"
        case let .overlap(first, second):
            return "the .pclip tensors '\(first)' and '\(second)' overlap in the file; it is corrupt"
        case .noSuchTensor(let name):
            return "the .pclip file has no tensor '\(name)'"
        case let .payloadChecksum(tensor, stored, computed):
            return "tensor '\(tensor)' is corrupt: its CRC-32 is \(hex8(computed)), the directory says \(hex8(stored)); copy the file again"
        case let .badPayload(tensor, detail):
            return "tensor '\(tensor)' is corrupt: \(detail)"
        case let .wrongDType(tensor, expected, found):
            return "tensor '\(tensor)' is \(found), expected \(expected)"
        case .compressionFailed(let reason):
            return "zstd compression failed: \(reason)"
        }
    }
}
