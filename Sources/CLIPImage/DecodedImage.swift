// DecodedImage.swift — a decoded image kept in its Pillow mode, and the errors of this module.
//
// open_clip resizes BEFORE converting to RGB, and Pillow's resize depends on the mode (NEAREST for
// "1" and "P", premultiplied alpha for "LA" and "RGBA"), so the decoder keeps what Pillow would
// hold after `Image.open`: the same mode, the same 8-bit samples, the palette and tRNS data.

/// The pixel layouts Pillow gives PNG, JPEG and WebP files (`Image.mode`).
public enum PixelMode: String, Sendable, Codable, Equatable {
    /// "1": bilevel, stored one byte per pixel as 0 or 255 (Pillow's in-memory form).
    case bilevel = "1"
    /// "L": 8-bit gray.
    case gray = "L"
    /// "LA": 8-bit gray + alpha, two bytes per pixel.
    case grayAlpha = "LA"
    /// "P": palette indices, one byte per pixel; `palette` holds RGB triplets.
    case palette = "P"
    /// "RGB": three bytes per pixel.
    case rgb = "RGB"
    /// "RGBA": four bytes per pixel, straight (not premultiplied) alpha.
    case rgba = "RGBA"
    /// "CMYK": four bytes per pixel, ink amounts (0 = no ink) as Pillow holds them.
    case cmyk = "CMYK"
    /// "I;16": 16-bit gray; samples are in `samples16`, `pixels` is empty.
    case gray16 = "I;16"

    /// Bytes per pixel in `DecodedImage.pixels`.
    public var channels: Int {
        switch self {
        case .bilevel, .gray, .palette: return 1
        case .grayAlpha: return 2
        case .rgb: return 3
        case .rgba, .cmyk: return 4
        case .gray16: return 0
        }
    }
}

/// A decoded image in its Pillow mode. Pixels are row-major and interleaved.
///
/// ```swift
/// let image = try ImageDecoder.decode(path: "cat.png")
/// print(image.mode, image.width, image.height)   // RGBA 640 480
/// ```
public struct DecodedImage: Sendable, Equatable {
    public var mode: PixelMode
    public var width: Int
    public var height: Int
    /// 8-bit samples, `width * height * mode.channels` bytes.
    public var pixels: [UInt8]
    /// 16-bit samples for `.gray16` (`width * height`), empty otherwise.
    public var samples16: [UInt16] = []
    /// For `.palette`: RGB triplets, `3 * entries` bytes (indices past the end read as black).
    public var palette: [UInt8] = []
    /// For `.palette` with a PNG tRNS chunk: alpha per palette entry (missing entries are opaque).
    public var paletteAlpha: [UInt8]? = nil
    /// For `.gray`, `.rgb`, `.gray16` with a PNG tRNS chunk: the raw sample values of the one
    /// transparent colour (1 or 3 values, at the file's bit depth). Used only by the HF order,
    /// which composites transparency onto white; Pillow's `convert("RGB")` ignores it.
    public var transparentKey: [Int]? = nil

    public init(mode: PixelMode, width: Int, height: Int, pixels: [UInt8]) {
        self.mode = mode
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

extension DecodedImage {
    /// Checks that the buffers match the dimensions (a hand-built image may not).
    func validate() throws {
        try checkDimensions(width: width, height: height, maxPixels: ImageLimits.maxPixelCount)
        let n = width * height
        let ok = mode == .gray16 ? samples16.count == n : pixels.count == n * mode.channels
        guard ok else {
            throw ImageError.invalidArgument("\(mode.rawValue) image \(width)x\(height) has \(pixels.count) bytes and "
                + "\(samples16.count) 16-bit samples; expected \(mode == .gray16 ? n : n * mode.channels)")
        }
    }
}

/// Limits checked from the file header before any pixel buffer is allocated.
public enum ImageLimits {
    /// Largest accepted width * height. Pillow warns above 89,478,485 pixels (a quarter GiB of
    /// 24-bit pixels) and refuses above twice that; we refuse above Pillow's warning threshold
    /// because a board decoding a 90-megapixel image is almost surely a mistake or an attack
    /// (decompression bomb: a few KB of PNG/JPEG can claim gigapixels).
    public static let maxPixelCount = 89_478_485
}

/// Everything that can go wrong while reading or preprocessing an image.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case fileNotReadable(path: String, reason: String)
    case unknownFormat(firstBytes: [UInt8])
    case truncated(format: String, detail: String)
    case corrupt(format: String, detail: String)
    case unsupported(format: String, detail: String)
    case zeroDimensions(width: Int, height: Int)
    case tooManyPixels(width: Int, height: Int, limit: Int)
    case invalidConfig(String)
    case invalidArgument(String)
    /// A buffer sized by the image could not be allocated (`bytes` for `purpose`; 0 when the
    /// allocator does not say how much, and `purpose` then says what failed).
    case outOfMemory(image: String, width: Int, height: Int, bytes: Int, purpose: String)

    public var description: String {
        switch self {
        case .fileNotReadable(let path, let reason):
            return "cannot read image file '\(path)': \(reason). Check the path and permissions."
        case .unknownFormat(let bytes):
            if bytes.isEmpty {
                return "the file is empty (0 bytes); expected a PNG, JPEG or WebP image. It was probably cut short "
                    + "while copying or downloading; fetch it again."
            }
            let hex = hexBytes(bytes)
            let known = otherImageFormat(bytes).map { "; it looks like \($0), which is not read" } ?? ""
            return "not a PNG, JPEG or WebP image (first bytes: \(hex)\(known)); expected a file starting with the "
                + "PNG signature 89 50 4e 47, the JPEG marker ff d8 ff or RIFF....WEBP. Convert the image to PNG, "
                + "JPEG or WebP first."
        case .truncated(let format, let detail):
            return "\(format) file is truncated: \(detail). The file was probably cut short while copying or "
                + "downloading; fetch it again."
        case .corrupt(let format, let detail):
            return "\(format) file is corrupt: \(detail). Re-export the image or drop it from the input set."
        case .unsupported(let format, let detail):
            return "\(format) variant not supported: \(detail). Convert the image to 8-bit RGB PNG or JPEG."
        case .zeroDimensions(let w, let h):
            return "image has zero size (\(w)x\(h)); expected at least 1x1 pixels."
        case .tooManyPixels(let w, let h, let limit):
            return "image is \(w)x\(h) = \(w * h) pixels, above the limit of \(limit) "
                + "(ImageLimits.maxPixelCount); this guards against decompression bombs. Downscale the image first."
        case .invalidConfig(let what):
            return "invalid preprocessing config: \(what)"
        case .invalidArgument(let what):
            return "invalid argument: \(what)"
        case .outOfMemory(let image, let w, let h, let bytes, let purpose):
            let mb = Double(bytes) / 1_048_576
            let shown = mb >= 10 ? "\(Int(mb.rounded(.up)))" : "\((mb * 10).rounded(.up) / 10)"
            let dims = w > 0 && h > 0 ? "\(w)x\(h) " : ""
            let need = bytes > 0 ? "needs \(shown) MB for \(purpose)" : purpose
            return "not enough memory to decode \(dims)image '\(image)' (\(need)); "
                + "free some memory, raise the process limit (ulimit -v) or downscale the image first."
        }
    }
}

/// Bytes as two-digit lowercase hex separated by spaces: "42 4d 36 0c".
func hexBytes(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}

/// Names the image formats that are recognised but not read, from a file's first bytes, so that
/// the unknown-format message can tell the user what they have.
func otherImageFormat(_ b: [UInt8]) -> String? {
    func starts(_ t: [UInt8], at offset: Int = 0) -> Bool {
        b.count >= offset + t.count && Array(b[offset..<(offset + t.count)]) == t
    }
    func starts(_ s: String, at offset: Int = 0) -> Bool { starts(Array(s.utf8), at: offset) }
    if starts("GIF87a") || starts("GIF89a") { return "a GIF image" }
    if starts("BM") { return "a BMP image" }
    if starts("II*\u{0}") || starts("MM\u{0}*") { return "a TIFF image" }
    if starts("ftyp", at: 4), b.count >= 12 {
        let brand = String(decoding: b[8..<12], as: UTF8.self)
        switch brand {
        case "avif", "avis": return "an AVIF image (ftyp \(brand))"
        case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1": return "a HEIC/HEIF image (ftyp \(brand))"
        default: return "an ISO media file (ftyp \(brand)), such as a video"
        }
    }
    if starts("RIFF") { return "a RIFF file of another kind (not WEBP), such as WAV or AVI" }
    if starts([0xFF, 0x0A]) || starts([0, 0, 0, 0x0C] + Array("JXL ".utf8)) { return "a JPEG XL image" }
    if starts("8BPS") { return "a Photoshop document" }
    if starts("%PDF") { return "a PDF document" }
    return nil
}

/// Checks header dimensions before decoding: zero sizes and decompression bombs are refused here.
func checkDimensions(width: Int, height: Int, maxPixels: Int) throws {
    guard width > 0, height > 0 else { throw ImageError.zeroDimensions(width: width, height: height) }
    let (count, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, count <= maxPixels else {
        throw ImageError.tooManyPixels(width: width, height: height, limit: maxPixels)
    }
}
