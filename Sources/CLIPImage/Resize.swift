// Resize.swift — Pillow's Image.resize for 8-bit images: BICUBIC (and NEAREST for "1"/"P").
//
// Reference: Pillow 13 libImaging/Resample.c (`precompute_coeffs`, `normalize_coeffs_8bpc`,
// `ImagingResampleHorizontal_8bpc` / `Vertical_8bpc`, `ImagingResampleInner`) and
// libImaging/Geometry.c (`ImagingScaleAffine`, used by resize(NEAREST)).
//
// BICUBIC, per axis: scale = in / out; the filter support (2, for a = -0.5) is widened by the
// scale when downscaling (Pillow's antialiasing); output pixel i is centred at (i + 0.5) * scale
// and reads inputs [int(center - support + 0.5), int(center + support + 0.5)) clipped to the
// image, with weights filter((j - center + 0.5) / filterscale) normalized to sum 1 and then
// rounded to fixed point with 22 fractional bits. Two passes (order below); each pass rounds
// (+ 1/2 before the shift) and clips to 0...255. An axis whose size does not change is not
// filtered at all.
//
// Every output pixel depends only on its own taps, so computing just a window of the output (the
// center crop) is bit-identical to resizing everything and cropping — and avoids allocating the
// full resized image (32000 x 224 for a 1000 x 7 input at 224).

/// A rectangle of the resized image: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelWindow: Sendable, Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// Precomputed taps for one axis: for output index i (relative to the window), inputs
/// `start[i] ..< start[i] + count[i]` with weights `weights[i * ksize ..< i * ksize + count[i]]`.
struct AxisCoefficients {
    var ksize: Int
    var start: [Int]
    var count: [Int]
    var weights: [Int32]
}

/// Fractional bits of the fixed-point weights: 32 - 8 (sample) - 2 (headroom), as in Pillow.
let resamplePrecisionBits = 22

@inline(__always) private func bicubicFilter(_ x: Double) -> Double {
    let a = -0.5
    let x = abs(x)
    if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
    if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0.0
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for outputs `outRange` of `outSize`.
func bicubicCoefficients(inSize: Int, outSize: Int, outRange: Range<Int>) -> AxisCoefficients {
    let support0 = 2.0  // bicubic filter support
    let scale = Double(inSize) / Double(outSize)
    let filterscale = max(scale, 1.0)
    let support = support0 * filterscale
    let ksize = Int(support.rounded(.up)) * 2 + 1
    let n = outRange.count
    var start = [Int](repeating: 0, count: n)
    var count = [Int](repeating: 0, count: n)
    var weights = [Int32](repeating: 0, count: n * ksize)
    var k = [Double](repeating: 0, count: ksize)
    let ss = 1.0 / filterscale
    let one = Double(1 << resamplePrecisionBits)
    for (i, xx) in outRange.enumerated() {
        let center = (Double(xx) + 0.5) * scale
        // C casts truncate toward zero; Swift's Int(Double) does the same.
        let xmin = max(Int(center - support + 0.5), 0)
        let xmax = min(Int(center + support + 0.5), inSize) - xmin
        var ww = 0.0
        for x in 0..<xmax {
            let w = bicubicFilter((Double(x + xmin) - center + 0.5) * ss)
            k[x] = w
            ww += w
        }
        for x in 0..<xmax {
            let w = ww != 0.0 ? k[x] / ww : k[x]
            weights[i * ksize + x] = Int32(w < 0 ? -0.5 + w * one : 0.5 + w * one)
        }
        start[i] = xmin
        count[i] = xmax
    }
    return AxisCoefficients(ksize: ksize, start: start, count: count, weights: weights)
}

@inline(__always) func clip8(_ acc: Int) -> UInt8 {
    let v = acc >> resamplePrecisionBits
    return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
}

/// Validates the public resize entry points' arguments (a mismatch is a caller bug, reported
/// as an error rather than a crash or an out-of-bounds read).
private func checkResizeArguments(_ count: Int, _ width: Int, _ height: Int, _ channels: Int, _ outWidth: Int,
                                  _ outHeight: Int, _ win: PixelWindow) throws {
    guard (1...4).contains(channels), width > 0, height > 0, outWidth > 0, outHeight > 0 else {
        throw ImageError.invalidArgument("resize needs 1...4 channels and positive sizes; got \(channels) channels, "
            + "\(width)x\(height) -> \(outWidth)x\(outHeight)")
    }
    guard width.multipliedReportingOverflow(by: height).partialValue * channels == count else {
        throw ImageError.invalidArgument("source has \(count) bytes, expected \(width)x\(height)x\(channels)")
    }
    guard win.x >= 0, win.y >= 0, win.width >= 0, win.height >= 0, win.x + win.width <= outWidth,
          win.y + win.height <= outHeight else {
        throw ImageError.invalidArgument("window \(win) is not inside the \(outWidth)x\(outHeight) output")
    }
}

/// One row of the horizontal pass: `taps.start.count` output pixels from the input row `s`,
/// whose pixel 0 is input column `colOffset`.
/// The tap loop is written out for 1, 3 and 4 channels (gray, RGB, RGBA/CMYK): keeping every
/// channel's sum in a register is ~2x faster than a loop over channels.
@inline(__always)
func horizontalRow(_ s: UnsafePointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>, colOffset: Int,
                   _ taps: AxisCoefficients, _ kk: UnsafeBufferPointer<Int32>, channels c: Int) {
    let half = 1 << (resamplePrecisionBits - 1)
    var q = 0
    for xx in 0..<taps.start.count {
        let k = xx * taps.ksize, n = taps.count[xx]
        var p = (taps.start[xx] - colOffset) * c
        switch c {
        case 1:
            var a0 = half
            for x in 0..<n {
                a0 &+= Int(s[p + x]) &* Int(kk[k + x])
            }
            o[q] = clip8(a0)
        case 3:
            var a0 = half, a1 = half, a2 = half
            for x in 0..<n {
                let w = Int(kk[k + x])
                a0 &+= Int(s[p]) &* w
                a1 &+= Int(s[p + 1]) &* w
                a2 &+= Int(s[p + 2]) &* w
                p += 3
            }
            o[q] = clip8(a0)
            o[q + 1] = clip8(a1)
            o[q + 2] = clip8(a2)
        case 4:
            var a0 = half, a1 = half, a2 = half, a3 = half
            for x in 0..<n {
                let w = Int(kk[k + x])
                a0 &+= Int(s[p]) &* w
                a1 &+= Int(s[p + 1]) &* w
                a2 &+= Int(s[p + 2]) &* w
                a3 &+= Int(s[p + 3]) &* w
                p += 4
            }
            o[q] = clip8(a0)
            o[q + 1] = clip8(a1)
            o[q + 2] = clip8(a2)
            o[q + 3] = clip8(a3)
        default:
            for ch in 0..<c {
                var a = half
                for x in 0..<n { a &+= Int(s[p + x * c + ch]) &* Int(kk[k + x]) }
                o[q + ch] = clip8(a)
            }
        }
        q += c
    }
}

/// Horizontal pass: rows `rowStart ..< rowStart + rowCount` of `s` (rows of `rowPixels` pixels)
/// -> [rowCount, taps.start.count, c]. Tap positions are shifted left by `colOffset`.
private func horizontalPass(_ s: UnsafeBufferPointer<UInt8>, rowPixels: Int, rowStart: Int, rowCount: Int,
                            colOffset: Int, _ taps: AxisCoefficients, channels c: Int) -> [UInt8] {
    let outCols = taps.start.count
    var out = [UInt8](repeating: 0, count: rowCount * outCols * c)
    out.withUnsafeMutableBufferPointer { o in
        taps.weights.withUnsafeBufferPointer { kk in
            for row in 0..<rowCount {
                horizontalRow(s.baseAddress! + (rowStart + row) * rowPixels * c, o.baseAddress! + row * outCols * c,
                              colOffset: colOffset, taps, kk, channels: c)
            }
        }
    }
    return out
}

/// One row of the vertical pass: output row `yy` of `taps`, `rowLen` bytes, from input rows
/// `row(taps.start[yy] + t)` for each tap t; `a` is scratch of `rowLen` sums. Accumulates whole
/// rows so the inner loop walks memory linearly.
@inline(__always)
func verticalRow(_ yy: Int, _ taps: AxisCoefficients, _ kk: UnsafeBufferPointer<Int32>, rowLen: Int,
                 _ a: UnsafeMutablePointer<Int32>, _ o: UnsafeMutablePointer<UInt8>,
                 row: (Int) -> UnsafePointer<UInt8>) {
    let half = Int32(1 << (resamplePrecisionBits - 1))
    let k = yy * taps.ksize, n = taps.count[yy]
    for i in 0..<rowLen { a[i] = half }
    // Int32 sums, as in Pillow: |sum| <= 255 * sum(|w|) * 2^22 stays below 2^31 for bicubic.
    for y in 0..<n {
        let w = kk[k + y], line = row(taps.start[yy] + y)
        for i in 0..<rowLen { a[i] &+= Int32(line[i]) &* w }
    }
    for i in 0..<rowLen { o[i] = clip8(Int(a[i])) }
}

/// Vertical pass: columns `colStart ..< colStart + colCount` of `s` (rows of `rowPixels` pixels)
/// -> [taps.start.count, colCount, c]. Tap positions are shifted up by `rowOffset`.
private func verticalPass(_ s: UnsafeBufferPointer<UInt8>, rowPixels: Int, rowOffset: Int, colStart: Int,
                          colCount: Int, _ taps: AxisCoefficients, channels c: Int) -> [UInt8] {
    let outRows = taps.start.count
    let rowLen = colCount * c, stride = rowPixels * c
    var out = [UInt8](repeating: 0, count: outRows * rowLen)
    var acc = [Int32](repeating: 0, count: rowLen)
    out.withUnsafeMutableBufferPointer { o in
        acc.withUnsafeMutableBufferPointer { a in
            taps.weights.withUnsafeBufferPointer { kk in
                let base = s.baseAddress! + colStart * c
                for yy in 0..<outRows {
                    verticalRow(yy, taps, kk, rowLen: rowLen, a.baseAddress!, o.baseAddress! + yy * rowLen) {
                        UnsafePointer(base + ($0 - rowOffset) * stride)
                    }
                }
            }
        }
    }
    return out
}

/// Pillow's `Image.resize((outWidth, outHeight), BICUBIC)` for interleaved 8-bit samples
/// (`channels` 1...4), returning only `window` of the result (default: all of it), row-major.
///
/// Pass order follows Pillow 13 (`ImagingResampleInner`): vertical first when the height shrinks
/// by more than twice as many pixels as the width does, horizontal first otherwise. The order
/// changes the result (each pass rounds to 8 bits), so it must be the same.
///
/// ```swift
/// let small = resizeBicubic(rgb, width: 640, height: 480, channels: 3, outWidth: 298, outHeight: 224)
/// ```
public func resizeBicubic(_ src: [UInt8], width: Int, height: Int, channels: Int, outWidth: Int, outHeight: Int,
                          window: PixelWindow? = nil) throws -> [UInt8] {
    let win = window ?? PixelWindow(x: 0, y: 0, width: outWidth, height: outHeight)
    try checkResizeArguments(src.count, width, height, channels, outWidth, outHeight, win)
    let c = channels
    let needHorizontal = outWidth != width
    let needVertical = outHeight != height
    let horizontalFirst = !((height - outHeight) > 0 && (height - outHeight) > (width - outWidth) * 2)
    guard win.width > 0 && win.height > 0 else { return [] }
    let cols = win.x..<(win.x + win.width), rows = win.y..<(win.y + win.height)

    return src.withUnsafeBufferPointer { s -> [UInt8] in
        switch (needHorizontal, needVertical) {
        case (false, false):
            var out: [UInt8] = []
            out.reserveCapacity(win.width * win.height * c)
            for y in rows { out += s[((y * width + win.x) * c)..<((y * width + win.x + win.width) * c)] }
            return out
        case (true, false):
            let h = bicubicCoefficients(inSize: width, outSize: outWidth, outRange: cols)
            return horizontalPass(s, rowPixels: width, rowStart: win.y, rowCount: win.height, colOffset: 0, h, channels: c)
        case (false, true):
            let v = bicubicCoefficients(inSize: height, outSize: outHeight, outRange: rows)
            return verticalPass(s, rowPixels: width, rowOffset: 0, colStart: win.x, colCount: win.width, v, channels: c)
        case (true, true):
            let h = bicubicCoefficients(inSize: width, outSize: outWidth, outRange: cols)
            let v = bicubicCoefficients(inSize: height, outSize: outHeight, outRange: rows)
            if horizontalFirst {
                // Only the source rows the vertical pass reads (Pillow's ybox_first ..< ybox_last).
                let first = v.start.min()!, end = zip(v.start, v.count).map { $0 + $1 }.max()!
                let temp = horizontalPass(s, rowPixels: width, rowStart: first, rowCount: end - first, colOffset: 0,
                                          h, channels: c)
                return temp.withUnsafeBufferPointer {
                    verticalPass($0, rowPixels: win.width, rowOffset: first, colStart: 0, colCount: win.width, v, channels: c)
                }
            } else {
                // Only the source columns the horizontal pass reads.
                let first = h.start.min()!, end = zip(h.start, h.count).map { $0 + $1 }.max()!
                let temp = verticalPass(s, rowPixels: width, rowOffset: 0, colStart: first, colCount: end - first, v,
                                        channels: c)
                return temp.withUnsafeBufferPointer {
                    horizontalPass($0, rowPixels: end - first, rowStart: 0, rowCount: win.height, colOffset: first, h,
                                   channels: c)
                }
            }
        }
    }
}

/// Pillow's `Image.resize(size, NEAREST)` (what "1" and "P" images get whatever filter is asked),
/// returning `window` of the result. Positions follow `ImagingScaleAffine`: a running double sum
/// starting at scale / 2, truncated; positions outside the source give 0 (Pillow's fill).
public func resizeNearest(_ src: [UInt8], width: Int, height: Int, channels: Int, outWidth: Int, outHeight: Int,
                          window: PixelWindow? = nil) throws -> [UInt8] {
    let win = window ?? PixelWindow(x: 0, y: 0, width: outWidth, height: outHeight)
    try checkResizeArguments(src.count, width, height, channels, outWidth, outHeight, win)
    let xs = nearestPositions(inSize: width, outSize: outWidth, range: win.x..<(win.x + win.width))
    let ys = nearestPositions(inSize: height, outSize: outHeight, range: win.y..<(win.y + win.height))
    var out = [UInt8](repeating: 0, count: win.width * win.height * channels)
    for (row, sy) in ys.enumerated() where sy >= 0 {
        for (col, sx) in xs.enumerated() where sx >= 0 {
            for ch in 0..<channels {
                out[(row * win.width + col) * channels + ch] = src[(sy * width + sx) * channels + ch]
            }
        }
    }
    return out
}

/// Source index of each output in `range` for NEAREST along one axis (-1: outside the source).
func nearestPositions(inSize: Int, outSize: Int, range: Range<Int>) -> [Int] {
    let a = Double(inSize) / Double(outSize)
    var o = a * 0.5
    var table = [Int](repeating: -1, count: range.count)
    // Accumulate from 0 exactly as Pillow does, so rounding drift matches bit for bit. For a
    // window starting past 2^24 outputs (only degenerate strips, e.g. 10^7 x 1 at 224) start
    // from the closed form instead, so the loop cannot run for minutes; positions may then
    // differ from Pillow's drifted sum by one source pixel.
    var first = 0
    if range.lowerBound > 1 << 24 {
        first = range.lowerBound
        o = a * 0.5 + a * Double(first)
    }
    for i in first..<range.upperBound {
        if i >= range.lowerBound {
            let p = o < 0 ? -1 : Int(o)
            table[i - range.lowerBound] = p < inSize ? p : -1
        }
        o += a
    }
    return table
}
