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
        try withRows(path: path, maxPixels: maxPixels) { try collect($0, name: path) }
    }

    /// Largest file read (1 GiB): far above any real PNG/JPEG/WebP within `ImageLimits.maxPixelCount`.
    public static let maxFileBytes = 1 << 30

    /// Opens `path` and gives `body` a row decoder reading it in pieces (the file is never held
    /// whole). POSIX calls, so a missing file or a directory gives the system's reason (strerror).
    static func withRows<T>(path: String, maxPixels: Int, _ body: (RowDecoder) throws -> T) throws -> T {
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
        return try body(rowDecoder(.file(fd: fd, size: size, path: path), name: path, maxPixels: maxPixels))
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
        let decoder = try rowDecoder(.memory(bytes), name: "image in memory", maxPixels: maxPixels)
        return try collect(decoder, name: "image in memory")
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
        return try rgb8(rows: ImageRows(image), config: config, name: "image in memory")
    }

    /// `rgb8` of an image file, streamed: the file is read in pieces and decoded a row at a time
    /// through the resize, so memory is O(width x filter rows), not O(width x height)
    /// (docs/preprocessing.md). The result is the same as `rgb8(ImageDecoder.decode(path:))`.
    public static func rgb8(path: String, config: PreprocessConfig,
                            maxPixels: Int = ImageLimits.maxPixelCount) throws -> [UInt8] {
        try ImageDecoder.withRows(path: path, maxPixels: maxPixels) {
            try rgb8(rows: $0, config: config, name: path)
        }
    }

    /// The pipeline: each row is converted as its mode requires (16-bit to 8, HF's composite on
    /// white, premultiplied alpha) and pushed through the resize; the window of the resized image
    /// is then placed in the crop and converted to RGB.
    static func rgb8(rows decoder: RowDecoder, config: PreprocessConfig, name: String) throws -> [UInt8] {
        try config.validate()
        let info = decoder.info
        let w = info.width, h = info.height, size = config.size
        let context = AllocationContext(image: name, width: w, height: h)
        // Deviation from Pillow (docs/preprocessing.md): 16-bit gray keeps its high byte, as
        // Pillow does for 16-bit RGB/RGBA/LA PNGs, instead of convert("RGB") clipping it.
        let mode8: PixelMode = info.mode == .gray16 ? .gray : info.mode
        let (nw, nh) = resizedSize(width: w, height: h, size: size)
        let left = cropOrigin(extent: nw, size: size, rounding: config.cropRounding)
        let top = cropOrigin(extent: nh, size: size, rounding: config.cropRounding)
        // The part of the crop that lies inside the resized image (all of it unless padding).
        let x0 = max(left, 0), y0 = max(top, 0)
        let window = PixelWindow(x: x0, y: y0, width: min(left + size, nw) - x0, height: min(top + size, nh) - y0)
        let sameSize = nw == w && nh == h

        // Pixels matching a PNG tRNS colour key: only the HF order uses them.
        let hf = config.order == .convertThenResize
        let key = hf ? info.transparentKey : nil
        let key16 = info.mode == .gray16 ? key?.first : nil
        let key8 = info.mode != .gray16 && (mode8 == .gray || mode8 == .bilevel || mode8 == .rgb)
            && (key?.count ?? 0) >= mode8.channels ? key : nil

        let c8 = mode8.channels
        let outMode: PixelMode = hf ? .rgb : mode8
        let c = outMode.channels
        let nearest = !hf && (mode8 == .palette || mode8 == .bilevel)
        // Pillow resizes LA/RGBA as premultiplied La/RGBa and converts back.
        let premultiplied = !hf && (mode8 == .grayAlpha || mode8 == .rgba) && !sameSize
        let resizer = try RowResizer(nearest: nearest, width: w, height: h, channels: c, outWidth: nw, outHeight: nh,
                                     window: window, context)
        let raw = try CheckedBuffer<UInt8>(count: w * info.mode.channels, for: "one decoded row", context)
        let raw16 = try CheckedBuffer<UInt16>(count: info.mode == .gray16 ? w : 0, for: "one decoded row", context)
        let row8 = try CheckedBuffer<UInt8>(count: info.mode == .gray16 ? w : 0, for: "one row", context)
        let work = try CheckedBuffer<UInt8>(count: hf || premultiplied ? w * c : 0, for: "one converted row", context)
        for y in 0..<h {
            try decoder.nextRow(raw.pointer, raw16.pointer)
            var p = UnsafePointer(raw.pointer)
            if info.mode == .gray16 {
                for i in 0..<w { row8.pointer[i] = UInt8(truncatingIfNeeded: raw16.pointer[i] >> 8) }
                p = UnsafePointer(row8.pointer)
            }
            if hf {
                let keyed: ((Int) -> Bool)?
                if let k = key16 {
                    let s = raw16.pointer
                    keyed = { Int(s[$0]) == k }
                } else if let k = key8 {
                    let s = p
                    keyed = { i in (0..<c8).allSatisfy { Int(s[i * c8 + $0]) == k[$0] } }
                } else {
                    keyed = nil
                }
                convertRowToRGBOnWhite(p, count: w, mode: mode8, palette: info.palette, paletteAlpha: info.paletteAlpha,
                                       keyed: keyed, into: work.pointer)
                p = UnsafePointer(work.pointer)
            } else if premultiplied {
                premultiply(p, count: w, channels: c, into: work.pointer)
                p = UnsafePointer(work.pointer)
            }
            resizer.push(p, y: y)
        }
        try decoder.finish()

        var samples = resizer.output
        if premultiplied { unpremultiply(&samples, channels: c) }
        // Place the window in the size x size crop (zero padding outside, as both references do).
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
        return outMode == .rgb ? crop : convertToRGB(crop, mode: outMode, palette: info.palette)
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

    /// File -> normalized float CHW [3, size, size], streamed (see `rgb8(path:config:)`).
    public static func pixels(path: String, config: PreprocessConfig) throws -> [Float] {
        let rgb = try rgb8(path: path, config: config)
        return normalize(rgb: rgb, size: config.size, mean: config.mean, std: config.std)
    }
}
