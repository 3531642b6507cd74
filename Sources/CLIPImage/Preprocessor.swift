// Preprocessor.swift — image file -> normalized CHW floats, exactly open_clip's `preprocess`.
//
// Reference: open_clip 3.3.0 `image_transform(size, is_train=False)`:
//   Resize(size, BICUBIC) on the shortest side -> CenterCrop(size) -> convert("RGB") -> ToTensor
//   -> Normalize(mean, std), run on a Pillow image in its file's mode.
// HF CLIPImageProcessor (PIL backend) instead converts to RGB first (compositing transparency onto
// white), then resizes, crops with floor offsets, rescales and normalizes. See docs/preprocessing.md.

import CLIPSupport

/// How the center-crop offset is rounded when (resized - size) is odd.
public enum CropRounding: String, Sendable, Codable, Equatable {
    /// torchvision `CenterCrop`: `int(round((H - size) / 2))`, Python's round-half-to-even.
    case openCLIP
    /// HF `center_crop`: `(H - size) // 2`.
    case huggingFace
}

/// Whether the image is resized in its own mode and converted afterwards, or the reverse.
public enum ResizeOrder: String, Sendable, Codable, Equatable {
    /// open_clip: resize in the decoded mode ("P" by NEAREST, "LA"/"RGBA" premultiplied), then RGB.
    case resizeThenConvert
    /// HF: convert to RGB first (transparency composited onto white), then resize.
    case convertThenResize
}

/// What a model expects of its input pixels; stored in the `.pclip` file.
public struct PreprocessConfig: Sendable, Codable, Equatable {
    /// The shortest side is resized to this, then the center `size x size` is cropped.
    public var size: Int
    /// Per-channel (R, G, B) mean and standard deviation of `x / 255`.
    public var mean: [Float]
    public var std: [Float]
    public var cropRounding: CropRounding
    public var order: ResizeOrder

    public init(size: Int, mean: [Float], std: [Float], cropRounding: CropRounding = .openCLIP,
                order: ResizeOrder = .resizeThenConvert) {
        self.size = size
        self.mean = mean
        self.std = std
        self.cropRounding = cropRounding
        self.order = order
    }

    /// OpenAI CLIP's statistics, open_clip's pipeline: `PreprocessConfig.openAI(size: 224)`.
    public static func openAI(size: Int) -> PreprocessConfig {
        PreprocessConfig(size: size, mean: [0.48145466, 0.4578275, 0.40821073],
                         std: [0.26862954, 0.26130258, 0.27577711])
    }

    /// The HF `CLIPImageProcessor` variant: convert first, floor crop offsets.
    public static func huggingFace(size: Int) -> PreprocessConfig {
        var c = openAI(size: size)
        c.cropRounding = .huggingFace
        c.order = .convertThenResize
        return c
    }

    /// Largest accepted `size`: well above any CLIP input (336, 448) and small enough that the
    /// output buffers stay modest.
    public static let maxSize = 4096

    func validate() throws {
        guard size > 0 && size <= PreprocessConfig.maxSize else {
            throw ImageError.invalidConfig("size is \(size); expected 1...\(PreprocessConfig.maxSize) (224 for most CLIP models)")
        }
        guard mean.count == 3, std.count == 3 else {
            throw ImageError.invalidConfig("mean and std need 3 values (R, G, B); got \(mean.count) and \(std.count)")
        }
        guard std.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy({ $0.isFinite }) else {
            throw ImageError.invalidConfig("std must be finite and non-zero, mean finite; got mean \(mean), std \(std)")
        }
    }
}

/// Decodes PNG, JPEG and WebP files into their Pillow mode.
public enum ImageDecoder {
    /// Reads and decodes an image file. Throws `ImageError` for unreadable, non-image, truncated,
    /// corrupt, empty or oversized (> `maxPixels`) files.
    public static func decode(path: String, maxPixels: Int = ImageLimits.maxPixelCount) throws -> DecodedImage {
        let data = try readFile(path)
        return try decode(bytes: data, maxPixels: maxPixels)
    }

    /// Largest file read (1 GiB): far above any real PNG/JPEG/WebP within `ImageLimits.maxPixelCount`.
    public static let maxFileBytes = 1 << 30

    /// POSIX read, so a missing file or a directory gives the system's reason (strerror).
    private static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ImageError.fileNotReadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageError.fileNotReadable(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ImageError.fileNotReadable(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size <= maxFileBytes else {
            throw ImageError.fileNotReadable(path: path, reason: "file is \(size) bytes, above the \(maxFileBytes)-byte limit (ImageDecoder.maxFileBytes)")
        }
        // The signature first: a large file that is not an image read here is refused unread, and
        // an empty or cut-short one is named as such.
        var head = [UInt8](repeating: 0, count: min(size, signatureBytes))
        let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        if got == head.count { _ = try sniff(head, fileSize: size) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }
                throw ImageError.fileNotReadable(path: path, reason: String(cString: strerror(errno)))
            }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    /// The formats read, told apart by their first bytes (never by the file name).
    enum Format { case png, jpeg, webp }

    /// Bytes that tell the formats apart: RIFF, a 4-byte size, WEBP.
    static let signatureBytes = 12

    /// The format of a file of `fileSize` bytes that starts with `head` (its first `signatureBytes`
    /// bytes, or all of a shorter file), or the error that says why it is none of them: an empty
    /// file, a file cut short inside a signature, or another format (named when recognised).
    static func sniff(_ head: [UInt8], fileSize: Int) throws -> Format {
        let b = Array(head.prefix(signatureBytes))
        let riff: [UInt8] = Array("RIFF".utf8), webp: [UInt8] = Array("WEBP".utf8)
        if b.count >= 8 && Array(b[0..<8]) == PNGDecoder.signature { return .png }
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
        if b.count >= 12 && Array(b[0..<4]) == riff && Array(b[8..<12]) == webp { return .webp }
        // Shorter than a signature that it starts like: the file was cut short.
        let cut = "the file is only \(fileSize) byte\(fileSize == 1 ? "" : "s") long (\(hexBytes(b)))"
        if fileSize < 8 && !b.isEmpty && Array(PNGDecoder.signature.prefix(b.count)) == b {
            throw ImageError.truncated(format: "PNG", detail: "\(cut), inside the 8-byte PNG signature")
        }
        if fileSize == 2 && b == [0xFF, 0xD8] {
            throw ImageError.truncated(format: "JPEG", detail: "\(cut): the start-of-image marker ff d8 and no more")
        }
        if fileSize < 12 && b.count >= 4 && Array(b[0..<4]) == riff
            && Array(webp.prefix(max(b.count - 8, 0))) == Array(b.dropFirst(8)) {
            throw ImageError.truncated(format: "WebP", detail: "\(cut), inside the 12-byte RIFF....WEBP header")
        }
        throw ImageError.unknownFormat(firstBytes: b)
    }

    /// Decodes PNG, JPEG or WebP bytes (format found from the signature, not a file name).
    public static func decode(bytes: [UInt8], maxPixels: Int = ImageLimits.maxPixelCount) throws -> DecodedImage {
        switch try sniff(Array(bytes.prefix(signatureBytes)), fileSize: bytes.count) {
        case .png: return try PNGDecoder.decode(bytes, maxPixels: maxPixels)
        case .jpeg: return try JPEGDecoder.decode(bytes, maxPixels: maxPixels)
        case .webp: return try WebPDecoder.decode(bytes, maxPixels: maxPixels)
        }
    }
}

/// Resize, crop, convert and normalize, bit-exact with open_clip (or HF) on top of Pillow.
///
/// ```swift
/// let config = PreprocessConfig.openAI(size: 224)
/// let chw = try Preprocessor.pixels(path: "cat.jpg", config: config)   // 3 * 224 * 224 floats
/// ```
public enum Preprocessor {
    /// Size after resizing the shortest side to `size`: the long side is `int(size * long / short)`
    /// (torchvision and HF both truncate a double division).
    public static func resizedSize(width: Int, height: Int, size: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(size) * Double(long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// Top-left corner of the `size` crop in an image of `extent` along one axis. When the image
    /// is smaller than the crop both references zero-pad; the corner is then negative.
    public static func cropOrigin(extent: Int, size: Int, rounding: CropRounding) -> Int {
        let d = extent - size
        switch rounding {
        case .openCLIP:
            // torchvision pads (size - extent) // 2 before; otherwise round-half-even of d / 2.
            if d < 0 { return -((size - extent) / 2) }
            let half = d / 2
            return d % 2 == 0 ? half : (half % 2 == 0 ? half : half + 1)
        case .huggingFace:
            // HF pads ceil((size - extent) / 2) before; otherwise floor(d / 2).
            if d < 0 { return -((size - extent + 1) / 2) }
            return d / 2
        }
    }

    /// The uint8 RGB crop, `size * size * 3` bytes, row-major HWC: the result of resize, center
    /// crop and `convert("RGB")`, before normalization (what the bit-exact tests compare).
    public static func rgb8(_ image: DecodedImage, config: PreprocessConfig) throws -> [UInt8] {
        try config.validate()
        try image.validate()
        var img = image
        var keyMask: [Bool]?  // pixels matching a PNG tRNS colour key; only the HF order uses it
        let wantsKey = config.order == .convertThenResize
        if img.mode == .gray16 {
            // Deviation from Pillow (docs/preprocessing.md): 16-bit gray keeps its high byte,
            // as Pillow does for 16-bit RGB/RGBA/LA PNGs, instead of convert("RGB") clipping it.
            if wantsKey, let key = img.transparentKey?.first { keyMask = img.samples16.map { Int($0) == key } }
            img.pixels = img.samples16.map { UInt8(truncatingIfNeeded: $0 >> 8) }
            img.samples16 = []
            img.mode = .gray
        } else if wantsKey, let key = img.transparentKey, key.count >= img.mode.channels,
                  img.mode == .gray || img.mode == .bilevel || img.mode == .rgb {
            let c = img.mode.channels
            keyMask = (0..<(img.width * img.height)).map { i in (0..<c).allSatisfy { Int(img.pixels[i * c + $0]) == key[$0] } }
        }
        let size = config.size
        let (nw, nh) = resizedSize(width: img.width, height: img.height, size: size)
        let left = cropOrigin(extent: nw, size: size, rounding: config.cropRounding)
        let top = cropOrigin(extent: nh, size: size, rounding: config.cropRounding)
        // The part of the crop that lies inside the resized image (all of it unless padding).
        let x0 = max(left, 0), y0 = max(top, 0)
        let window = PixelWindow(x: x0, y: y0, width: min(left + size, nw) - x0, height: min(top + size, nh) - y0)
        let sameSize = nw == img.width && nh == img.height

        var mode = img.mode
        var samples: [UInt8]
        switch config.order {
        case .convertThenResize:
            let rgb = convertToRGBOnWhite(img, keyMask: keyMask)
            samples = try resizeBicubic(rgb, width: img.width, height: img.height, channels: 3, outWidth: nw,
                                    outHeight: nh, window: window)
            mode = .rgb
        case .resizeThenConvert:
            let c = mode.channels
            if mode == .palette || mode == .bilevel {
                samples = try resizeNearest(img.pixels, width: img.width, height: img.height, channels: c,
                                        outWidth: nw, outHeight: nh, window: window)
            } else if (mode == .grayAlpha || mode == .rgba) && !sameSize {
                // Pillow resizes LA/RGBA as premultiplied La/RGBa and converts back.
                let pre = premultiply(img.pixels, channels: c)
                samples = try resizeBicubic(pre, width: img.width, height: img.height, channels: c, outWidth: nw,
                                        outHeight: nh, window: window)
                unpremultiply(&samples, channels: c)
            } else {
                samples = try resizeBicubic(img.pixels, width: img.width, height: img.height, channels: c,
                                        outWidth: nw, outHeight: nh, window: window)
            }
        }
        // Place the window in the size x size crop (zero padding outside, as both references do).
        let c = mode.channels
        var crop: [UInt8]
        if window.width == size && window.height == size {
            crop = samples
        } else {
            crop = [UInt8](repeating: 0, count: size * size * c)
            for row in 0..<window.height {
                let dst = ((y0 - top + row) * size + (x0 - left)) * c
                for i in 0..<(window.width * c) { crop[dst + i] = samples[row * window.width * c + i] }
            }
        }
        return mode == .rgb ? crop : convertToRGB(crop, mode: mode, palette: img.palette)
    }

    /// Normalizes an HWC uint8 RGB crop into CHW floats: `(x / 255 - mean) / std`, in Float32 in
    /// the same order of operations as torchvision's ToTensor + Normalize (so results match bitwise).
    public static func normalize(rgb: [UInt8], size: Int, mean: [Float], std: [Float]) -> [Float] {
        let plane = size * size
        var out = [Float](repeating: 0, count: 3 * plane)
        for c in 0..<3 {
            let m = mean[c], s = std[c]
            for i in 0..<plane { out[c * plane + i] = (Float(rgb[i * 3 + c]) / 255 - m) / s }
        }
        return out
    }

    /// Decoded image -> normalized float CHW [3, size, size].
    public static func pixels(_ image: DecodedImage, config: PreprocessConfig) throws -> [Float] {
        let rgb = try rgb8(image, config: config)
        return normalize(rgb: rgb, size: config.size, mean: config.mean, std: config.std)
    }

    /// Convenience: file -> normalized float CHW [3, size, size].
    public static func pixels(path: String, config: PreprocessConfig) throws -> [Float] {
        try pixels(ImageDecoder.decode(path: path), config: config)
    }
}
