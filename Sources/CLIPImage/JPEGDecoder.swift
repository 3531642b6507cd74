// JPEGDecoder.swift — JPEG to a DecodedImage via TurboJPEG, matching Pillow's JpegImagePlugin.
//
// Pillow's wheels decode with libjpeg-turbo, the accurate integer DCT (JDCT_ISLOW) and fancy
// (triangular) chroma upsampling; TurboJPEG does the same with TJFLAG_ACCURATEDCT and without
// TJFLAG_FASTUPSAMPLE. Modes follow Pillow: 1 component -> "L", 3 -> "RGB", 4 -> "CMYK".
// Pillow reads every 4-component JPEG with rawmode "CMYK;I" ("assume adobe conventions"): the
// stored values are inverted (Photoshop writes inverted CMYK in its Adobe APP14 files), so we
// invert too. YCCK files are converted to CMYK by libjpeg in both decoders.
//
// TurboJPEG installs its own libjpeg error manager (setjmp inside the library), so a corrupt file
// returns an error code: nothing calls exit() and no longjmp crosses Swift frames.

import CImageCodecs

enum JPEGDecoder {
    static func decode(_ data: [UInt8], maxPixels: Int) throws -> DecodedImage {
        guard let handle = tjInitDecompress() else {
            throw ImageError.unsupported(format: "JPEG", detail: "TurboJPEG could not create a decompressor")
        }
        defer { tjDestroy(handle) }

        var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let headerOK = data.withUnsafeBufferPointer { buf in
            tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsamp, &colorspace)
        }
        guard headerOK == 0 else {
            let message = String(cString: tjGetErrorStr2(handle))
            if data.count < 600 || message.contains("end of") || message.contains("Premature") {
                throw ImageError.truncated(format: "JPEG", detail: "header could not be read (\(message))")
            }
            throw ImageError.corrupt(format: "JPEG", detail: message)
        }
        // Decompression-bomb guard: from the header, before the pixel buffer is allocated.
        try checkDimensions(width: Int(width), height: Int(height), maxPixels: maxPixels)

        let mode: PixelMode
        let format: TJPF
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue):
            (mode, format) = (.gray, TJPF_GRAY)
        case Int32(TJCS_CMYK.rawValue), Int32(TJCS_YCCK.rawValue):
            (mode, format) = (.cmyk, TJPF_CMYK)
        default:
            (mode, format) = (.rgb, TJPF_RGB)
        }
        let w = Int(width), h = Int(height)
        var pixels = [UInt8](repeating: 0, count: w * h * mode.channels)
        let status = data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, 0, height,
                              Int32(format.rawValue), TJFLAG_ACCURATEDCT)
            }
        }
        if status != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            let fatal = tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue)
            // libjpeg reports a cut-off file as a warning and fills the rest with gray; Pillow refuses
            // it ("image file is truncated"), and so do we. Other warnings ("Corrupt JPEG data: N
            // extraneous bytes") are recoverable and Pillow decodes through them: accept those.
            if message.contains("Premature end") {
                throw ImageError.truncated(format: "JPEG", detail: message)
            }
            if fatal { throw ImageError.corrupt(format: "JPEG", detail: message) }
        }
        if mode == .cmyk {
            for i in pixels.indices { pixels[i] = 255 &- pixels[i] }
        }
        return DecodedImage(mode: mode, width: w, height: h, pixels: pixels)
    }
}
