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

/// Pillow's `convert("RGB")` of interleaved samples in `mode` (no alpha compositing).
/// `.gray16` must already be reduced to `.gray`.
func convertToRGB(_ px: [UInt8], mode: PixelMode, palette: [UInt8]) -> [UInt8] {
    let c = mode.channels
    let n = c == 0 ? 0 : px.count / c
    var out = [UInt8](repeating: 0, count: n * 3)
    switch mode {
    case .rgb:
        return px
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
        for i in 0..<n {
            let p = Int(px[i])
            guard p < entries else { continue }  // past the palette: black
            out[i * 3] = palette[p * 3]
            out[i * 3 + 1] = palette[p * 3 + 1]
            out[i * 3 + 2] = palette[p * 3 + 2]
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
    return out
}

/// RGBA -> RGBa / LA -> La: colour channels multiplied by alpha (the alpha is the last channel).
func premultiply(_ px: [UInt8], channels c: Int) -> [UInt8] {
    var out = px
    for i in stride(from: 0, to: px.count, by: c) {
        let a = Int(px[i + c - 1])
        for ch in 0..<(c - 1) { out[i + ch] = UInt8(truncatingIfNeeded: mulDiv255(Int(px[i + ch]), a)) }
    }
    return out
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

/// HF `convert_to_rgb`: images with an alpha channel or PNG transparency are converted to RGBA
/// and composited onto opaque white; others go through plain `convert("RGB")`.
/// `.gray16` must already be reduced to `.gray` (its 16-bit colour key is matched by the caller).
func convertToRGBOnWhite(_ image: DecodedImage, keyMask: [Bool]?) -> [UInt8] {
    let n = image.width * image.height
    let px = image.pixels
    var alpha: [UInt8]?
    switch image.mode {
    case .grayAlpha, .rgba:
        let c = image.mode.channels
        alpha = (0..<n).map { px[$0 * c + c - 1] }
    case .palette:
        if let pa = image.paletteAlpha { alpha = px.map { Int($0) < pa.count ? pa[Int($0)] : 255 } }
    case .gray, .bilevel, .rgb:
        if let mask = keyMask { alpha = mask.map { $0 ? 0 : 255 } }
    default:
        break
    }
    var rgb = convertToRGB(px, mode: image.mode, palette: image.palette)
    if let a = alpha {
        for i in 0..<n {
            let al = Int(a[i])
            for ch in 0..<3 { rgb[i * 3 + ch] = compositeOnWhite(Int(rgb[i * 3 + ch]), alpha: al) }
        }
    }
    return rgb
}
