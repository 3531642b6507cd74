// Reader for the IDX files of MNIST and Fashion-MNIST (LeCun's format): a 4-byte magic
// 0x00 0x00 <type> <rank>, then <rank> big-endian UInt32 dimensions, then the payload.
// Only the two layouts training needs are accepted: uint8 images [n, rows, cols] (0x00000803)
// and uint8 labels [n] (0x00000801).
//
// The Debian package `dataset-fashion-mnist` ships the files gzipped (`*-ubyte.gz`). CLIPTrain
// may import no zlib, so this reader takes the uncompressed files; the caller gunzips them
// first (`gunzip -k train-images-idx3-ubyte.gz`). A gzip file is recognised by its magic and
// refused with that advice rather than misread.
//
// Every header field is checked against the file's real size before anything is allocated, so
// a truncated or lying file throws a descriptive `DataError` and never over-allocates.

import CLIPSupport
import CLIPTrain

/// Errors of the data layer: what was expected, what was found, what to do.
public enum DataError: Error, CustomStringConvertible, Equatable {
    case io(String)
    case invalidIDX(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .io(let m): return "data I/O error: \(m)"
        case .invalidIDX(let m): return "invalid IDX file: \(m)"
        case .invalidArgument(let m): return "invalid data argument: \(m)"
        }
    }
}

/// A set of grayscale uint8 images, row-major, image after image.
public struct IDXImages: Equatable, Sendable {
    public let count: Int
    public let rows: Int
    public let columns: Int
    /// `count · rows · columns` bytes, 0 = black background, 255 = full garment intensity.
    public let pixels: [UInt8]

    /// The pixels of image `index` (rows · columns bytes).
    public func image(_ index: Int) -> ArraySlice<UInt8> {
        let n = rows * columns
        return pixels[index * n ..< (index + 1) * n]
    }

    /// The images from `start` on (e.g. the last 10,000 training images as a validation set).
    public func dropFirst(_ start: Int) -> IDXImages {
        let k = min(max(start, 0), count), n = rows * columns
        return IDXImages(count: count - k, rows: rows, columns: columns, pixels: Array(pixels[(k * n)...]))
    }
}

/// Parses and validates IDX image and label files.
public enum IDXReader {
    /// Magic of a uint8 rank-3 tensor (images).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Magic of a uint8 rank-1 tensor (labels).
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// Largest side accepted: guards against a lying header asking for absurd images.
    public static let maxSide = 4096

    /// Largest IDX file read: Fashion-MNIST's largest is 47 MB (60,000 images of 28×28); 1 GiB is
    /// ~1.3 M such images, and a wrong path (a disk image, a video) fails before it is read.
    public static let maxFileBytes = 1 << 30

    /// Refuses a file of `size` bytes over `limit` (the IDX files' size check, testable at its edge).
    static func checkSize(_ size: Int, path: String, limit: Int = maxFileBytes) throws {
        guard size <= limit else {
            throw DataError.io("'\(path)' is \(size) bytes, more than the \(limit) an IDX file may hold (IDXReader.maxFileBytes; Fashion-MNIST's largest is 47 MB); check the path (Debian: dpkg -L dataset-fashion-mnist)")
        }
    }

    /// Reads a whole file. The size is taken from the file itself, never from its contents, and
    /// checked against `maxFileBytes` before anything is allocated.
    public static func readFile(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw DataError.io("cannot open '\(path)' (errno \(errno)); check the path (Debian: dpkg -L dataset-fashion-mnist)")
        }
        defer { fclose(f) }
        guard fseek(f, 0, SEEK_END) == 0 else { throw DataError.io("cannot seek in '\(path)'") }
        let size = ftell(f)
        guard size >= 0, fseek(f, 0, SEEK_SET) == 0 else { throw DataError.io("cannot size '\(path)'") }
        try checkSize(size, path: path)
        var bytes = [UInt8](repeating: 0, count: size)
        let got = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, size, f) }
        guard got == size else { throw DataError.io("read \(got) of \(size) bytes of '\(path)'") }
        return bytes
    }

    /// Reads an uncompressed IDX image file (magic 0x00000803).
    public static func readImages(path: String) throws -> IDXImages {
        try parseImages(try readFile(path), name: path)
    }

    /// Reads an uncompressed IDX label file (magic 0x00000801); every label must be below `classCount`.
    public static func readLabels(path: String, classCount: Int = 10) throws -> [UInt8] {
        try parseLabels(try readFile(path), classCount: classCount, name: path)
    }

    /// Reads a matching image and label file pair and checks the counts agree.
    public static func readPair(images: String, labels: String, classCount: Int = 10) throws -> (IDXImages, [UInt8]) {
        let im = try readImages(path: images), lb = try readLabels(path: labels, classCount: classCount)
        guard im.count == lb.count else {
            throw DataError.invalidIDX("'\(images)' holds \(im.count) images but '\(labels)' holds \(lb.count) labels; pair the train files together and the t10k files together")
        }
        return (im, lb)
    }

    /// Parses IDX image bytes.
    public static func parseImages(_ bytes: [UInt8], name: String = "<bytes>") throws -> IDXImages {
        let dims = try header(bytes, magic: imagesMagic, rank: 3, name: name)
        let (n, r, c) = (dims[0], dims[1], dims[2])
        guard r > 0, c > 0, r <= maxSide, c <= maxSide else {
            throw DataError.invalidIDX("'\(name)': image size \(r)×\(c) is outside 1...\(maxSide) per side (IDXReader.maxSide; Fashion-MNIST's is 28×28); the header is corrupt or this is not an IDX image file: re-extract it")
        }
        let payload = bytes.count - 16
        // n·r·c cannot overflow: n ≤ 2³²−1 and r, c ≤ 4096 keep the product below 2⁵⁶.
        let need = n * r * c
        guard payload == need else {
            throw DataError.invalidIDX("'\(name)': header says \(n) images of \(r)×\(c) = \(need) bytes, the file holds \(payload) after the 16-byte header; the file is truncated or not this format (re-extract it)")
        }
        return IDXImages(count: n, rows: r, columns: c, pixels: Array(bytes[16...]))
    }

    /// Parses IDX label bytes.
    public static func parseLabels(_ bytes: [UInt8], classCount: Int = 10, name: String = "<bytes>") throws -> [UInt8] {
        let n = try header(bytes, magic: labelsMagic, rank: 1, name: name)[0]
        let payload = bytes.count - 8
        guard payload == n else {
            throw DataError.invalidIDX("'\(name)': header says \(n) labels, the file holds \(payload) bytes after the 8-byte header; the file is truncated or not this format (re-extract it)")
        }
        let labels = Array(bytes[8...])
        if let i = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError.invalidIDX("'\(name)': label \(labels[i]) at index \(i) is outside 0..<\(classCount)")
        }
        return labels
    }

    /// Checks the magic and reads `rank` big-endian dimensions.
    private static func header(_ bytes: [UInt8], magic: UInt32, rank: Int, name: String) throws -> [Int] {
        if Gunzip.isGzip(bytes) {
            throw DataError.invalidIDX("'\(name)' is gzip-compressed; gunzip it first (gunzip -k FILE.gz) and pass the uncompressed file")
        }
        // The magic first (when present), so the other file of a pair is named as such.
        let found = bytes.count >= 4 ? be32(bytes, 0) : magic
        guard found == magic else {
            throw DataError.invalidIDX("'\(name)': magic \(hex8(found)), expected \(hex8(magic)) (\(rank == 3 ? "uint8 images [n, rows, cols]" : "uint8 labels [n]")); is this the other file of the pair?")
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DataError.invalidIDX("'\(name)' has \(bytes.count) bytes, fewer than its \(headerSize)-byte header; the file is truncated")
        }
        return (0..<rank).map { Int(be32(bytes, 4 + 4 * $0)) }
    }

    private static func be32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }
}
