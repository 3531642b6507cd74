// ColorConvert.swift — Pillow's mode conversions that preprocessing needs, bit for bit.
//
// Reference: Pillow 13 libImaging/Convert.c and AlphaComposite.c. ConvertTests hold each formula
// to Pillow's own output over all 256 x 256 value/alpha pairs (fixtures in Fixtures/images/convert).
//   convert("RGB"):  L/1 -> replicated; LA, RGBA -> alpha dropped (no compositing); P -> palette;
//                    CMYK -> nk = 255 - K, channel = nk - muldiv255(C, nk), clipped.
//   RGBA -> RGBa (premultiply): muldiv255(v, a).   RGBa -> RGBA: a in {0, 255} ? v : min(255, 255 v / a).
//   alpha_composite(white, RGBA) (HF's convert_to_rgb): a == 0 ? 255 : rounded blend, 7-bit precision.

/// `(a * b + 128) / 255` rounded, in Pillow's shift form (exact for 8-bit a, b).
@inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int {
    let t = a * b + 128
    return ((t >> 8) + t) >> 8
}

/// Pillow's `convert("RGB")` of `n` interleaved pixels in `mode` (no alpha compositing) into
/// `out` (3n bytes). `.gray16` must already be reduced to `.gray`.
func convertToRGB(_ px: UnsafePointer<UInt8>, count n: Int, mode: PixelMode, palette: [UInt8],
                  into out: UnsafeMutablePointer<UInt8>) {
    let c = mode.channels
    switch mode {
    case .rgb:
        out.update(from: px, count: n * 3)
    case .bilevel, .gray, .grayAlpha:
        for i in 0..<n {
            let g = px[i * c]
            out[i * 3] = g
            out[i * 3 + 1] = g
            out[i * 3 + 2] = g
        }
    case .rgba:
        for i in 0..<n {
            out[i * 3] = px[i * 4]
            out[i * 3 + 1] = px[i * 4 + 1]
            out[i * 3 + 2] = px[i * 4 + 2]
        }
    case .palette:
        let entries = palette.count / 3
        palette.withUnsafeBufferPointer { pal in
            for i in 0..<n {
                let p = Int(px[i])
                let known = p < entries  // past the palette: black
                out[i * 3] = known ? pal[p * 3] : 0
                out[i * 3 + 1] = known ? pal[p * 3 + 1] : 0
                out[i * 3 + 2] = known ? pal[p * 3 + 2] : 0
            }
        }
    case .cmyk:
        for i in 0..<n {
            let nk = 255 - Int(px[i * 4 + 3])
            for ch in 0..<3 {
                let v = nk - mulDiv255(Int(px[i * 4 + ch]), nk)
                out[i * 3 + ch] = UInt8(clamping: v)
            }
        }
    case .gray16:
        preconditionFailure("reduce .gray16 to .gray before converting")
    }
}

/// The array form of `convertToRGB(_:count:mode:palette:into:)`.
func convertToRGB(_ px: [UInt8], mode: PixelMode, palette: [UInt8]) -> [UInt8] {
    if mode == .rgb { return px }
    let n = mode.channels == 0 ? 0 : px.count / mode.channels
    var out = [UInt8](repeating: 0, count: n * 3)
    px.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { convertToRGB(src.baseAddress!, count: n, mode: mode, palette: palette, into: $0.baseAddress!) }
    }
    return out
}

/// RGBA -> RGBa / LA -> La for `n` pixels: colour channels multiplied by alpha (the last channel).
func premultiply(_ px: UnsafePointer<UInt8>, count n: Int, channels c: Int, into out: UnsafeMutablePointer<UInt8>) {
    for i in stride(from: 0, to: n * c, by: c) {
        let a = Int(px[i + c - 1])
        for ch in 0..<(c - 1) { out[i + ch] = UInt8(truncatingIfNeeded: mulDiv255(Int(px[i + ch]), a)) }
        out[i + c - 1] = px[i + c - 1]
    }
}

/// RGBa -> RGBA / La -> LA: Pillow's truncating division, clipped.
func unpremultiply(_ px: inout [UInt8], channels c: Int) {
    for i in stride(from: 0, to: px.count, by: c) {
        let a = Int(px[i + c - 1])
        guard a != 0 && a != 255 else { continue }
        for ch in 0..<(c - 1) { px[i + ch] = UInt8(min(255, 255 * Int(px[i + ch]) / a)) }
    }
}

/// Pillow's `alpha_composite(opaque white, (v, alpha))` for one channel value.
@inline(__always) func compositeOnWhite(_ v: Int, alpha a: Int) -> UInt8 {
    if a == 0 { return 255 }
    // coef1 = a * 128 and coef2 = (255 - a) * 128 when the background is opaque (outA = 255).
    let t = v * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7)
    return UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
}

/// HF `convert_to_rgb` for one row of `n` pixels: images with an alpha channel or PNG
/// transparency are converted to RGBA and composited onto opaque white; others go through plain
/// `convert("RGB")`. `keyed(i)` tells whether pixel i matches a tRNS colour key (nil: no key).
/// `.gray16` must already be reduced to `.gray` (its 16-bit key is matched by the caller).
func convertRowToRGBOnWhite(_ px: UnsafePointer<UInt8>, count n: Int, mode: PixelMode, palette: [UInt8],
                            paletteAlpha: [UInt8]?, keyed: ((Int) -> Bool)?, into rgb: UnsafeMutablePointer<UInt8>) {
    convertToRGB(px, count: n, mode: mode, palette: palette, into: rgb)
    func composite(_ alpha: (Int) -> Int) {
        for i in 0..<n {
            let al = alpha(i)
            for ch in 0..<3 { rgb[i * 3 + ch] = compositeOnWhite(Int(rgb[i * 3 + ch]), alpha: al) }
        }
    }
    switch mode {
    case .grayAlpha, .rgba:
        let c = mode.channels
        composite { Int(px[$0 * c + c - 1]) }
    case .palette:
        if let pa = paletteAlpha { composite { Int(px[$0]) < pa.count ? Int(pa[Int(px[$0])]) : 255 } }
    case .gray, .bilevel, .rgb:
        if let keyed = keyed { composite { keyed($0) ? 0 : 255 } }
    default:
        break
    }
}
