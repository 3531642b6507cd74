// JPEGDecoder.swift — JPEG rows through libjpeg's scanline API, matching Pillow's JpegImagePlugin.
//
// Pillow's wheels decode with libjpeg-turbo, the accurate integer DCT (JDCT_ISLOW) and fancy
// (triangular) chroma upsampling; CJPEGRows sets the same on the system libjpeg-turbo (the
// settings TurboJPEG's tjDecompress2 used here before, so the samples are unchanged). Modes follow
// Pillow: 1 component -> "L", 3 -> "RGB", 4 -> "CMYK". Pillow reads every 4-component JPEG with
// rawmode "CMYK;I" ("assume adobe conventions"): the stored values are inverted (Photoshop writes
// inverted CMYK in its Adobe APP14 files), so we invert too. YCCK files are converted to CMYK by
// libjpeg in both decoders.
//
// Memory: a baseline JPEG is decoded one row at a time (libjpeg keeps one MCU row of the image,
// 8 or 16 rows, for its upsampling); the file is read in 64 KiB pieces. A progressive JPEG
// needs its whole coefficient array (2 bytes per sample) until the last scan, so it is O(image);
// when libjpeg cannot allocate that, the error says so (ImageError.outOfMemory).
//
// CJPEGRows keeps libjpeg's setjmp/longjmp inside each C function: a corrupt file returns an
// error code, nothing calls exit() and no longjmp crosses Swift frames.

import CJPEGRows

/// Owns a CJPEGRows decompressor. Swift runs no deinit for an object whose init throws, so the
/// handle lives in its own object, released whichever way the decoder's init ends.
private final class JPEGHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { pc_jpeg_rows_close(pointer) }
}

final class JPEGRowDecoder: RowDecoder {
    let info: DecodedImage
    private let owner: JPEGHandle
    private var handle: OpaquePointer { owner.pointer }
    private let source: ByteSource
    private var context: AllocationContext
    private var y = 0

    init(_ source: ByteSource, name: String, maxPixels: Int) throws {
        self.source = source
        var opened: OpaquePointer?
        switch source {
        case .file(let fd, _, _):
            opened = pc_jpeg_rows_open_fd(fd)
        case .memory(let bytes):
            // The array's storage stays put while `source` (which holds it) lives.
            opened = bytes.withUnsafeBufferPointer { pc_jpeg_rows_open_memory($0.baseAddress, $0.count) }
        }
        guard let handle = opened else {
            throw ImageError.outOfMemory(image: name, width: 0, height: 0, bytes: 64 * 1024 + 1024,
                                         purpose: "the JPEG decompressor")
        }
        owner = JPEGHandle(handle)
        var width: Int32 = 0, height: Int32 = 0, color: Int32 = 0
        context = AllocationContext(image: name)
        guard pc_jpeg_rows_read_header(handle, &width, &height, &color) == 0 else {
            let fileSize = source.count
            switch Int32(pc_jpeg_rows_failure(handle)) {
            case Int32(PC_JPEG_TRUNCATED_HEADER):
                throw ImageError.truncated(format: "JPEG", detail: "the file ends after \(fileSize) bytes, before the frame "
                    + "header (SOF marker) that gives the image size")
            case Int32(PC_JPEG_NO_FRAME):
                throw ImageError.corrupt(format: "JPEG", detail: "no frame header (SOF marker) before the image data or the "
                    + "end-of-image marker, so there is no image size (\(JPEGRowDecoder.message(handle)))")
            default:
                throw JPEGRowDecoder.error(handle, context)
            }
        }
        // Decompression-bomb guard: from the header, before libjpeg allocates for the image.
        try checkDimensions(width: Int(width), height: Int(height), maxPixels: maxPixels)
        let mode: PixelMode = color == PC_JPEG_GRAY ? .gray : (color == PC_JPEG_CMYK ? .cmyk : .rgb)
        info = DecodedImage(mode: mode, width: Int(width), height: Int(height), pixels: [])
        context = AllocationContext(image: name, width: Int(width), height: Int(height))
        guard pc_jpeg_rows_start(handle) == 0 else { throw JPEGRowDecoder.error(handle, context) }
    }

    private static func message(_ handle: OpaquePointer) -> String { String(cString: pc_jpeg_rows_message(handle)) }

    /// A fatal libjpeg error as an ImageError.
    private static func error(_ handle: OpaquePointer, _ context: AllocationContext) -> ImageError {
        let message = message(handle)
        if pc_jpeg_rows_failure(handle) == PC_JPEG_OUT_OF_MEMORY {
            return ImageError.outOfMemory(image: context.image, width: context.width, height: context.height, bytes: 0,
                                          purpose: "libjpeg could not allocate its buffers: \(message); a progressive JPEG "
                                              + "holds all its DCT coefficients, 2 bytes per sample")
        }
        return ImageError.corrupt(format: "JPEG", detail: message)
    }

    func nextRow(_ row: UnsafeMutablePointer<UInt8>, _ row16: UnsafeMutablePointer<UInt16>) throws {
        precondition(y < info.height, "JPEG row \(y) requested of a \(info.height)-row image")
        y += 1
        guard pc_jpeg_rows_read_row(handle, row) == 0 else { throw JPEGRowDecoder.error(handle, context) }
        if info.mode == .cmyk {
            for i in 0..<(info.width * 4) { row[i] = 255 &- row[i] }
        }
    }

    func finish() throws {
        guard pc_jpeg_rows_finish(handle) == 0 else { throw JPEGRowDecoder.error(handle, context) }
        // libjpeg reports a cut-off file as a warning and fills the rest with gray; Pillow refuses
        // it ("image file is truncated"), and so do we. Other warnings ("Corrupt JPEG data: N
        // extraneous bytes") are recoverable and Pillow decodes through them: accept those. As
        // TurboJPEG did, only the first warning's text is looked at.
        if pc_jpeg_rows_warnings(handle) > 0 {
            let message = JPEGRowDecoder.message(handle)
            if message.contains("Premature end") { throw ImageError.truncated(format: "JPEG", detail: message) }
        }
    }
}
