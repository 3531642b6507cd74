// RowResize.swift — Resize.swift's BICUBIC and NEAREST fed one source row at a time.
//
// The same arithmetic as `resizeBicubic` / `resizeNearest` (the same row kernels and tap
// tables), reorganised so the source is never held whole: rows arrive top to bottom, and only
// the rows the vertical taps still need are kept, in a ring.
//
// BICUBIC keeps Pillow's pass order (Resize.swift): horizontal first, each source row inside the
// vertical taps' span is filtered across at once to the window's width and kept in the ring;
// vertical first (very tall images), the ring keeps the source columns the horizontal taps read
// and each output row is filtered down, then across. An output row is computed as soon as its
// last tap row arrives; tap spans only move down, so a ring of `max(taps)` rows always holds
// what the next output row needs. Memory: ring rows x ring width + the output window, e.g.
// 4000x3000 RGB at 224: 55 rows x 224 x 3 bytes.
//
// NEAREST copies each source row to the output rows that pick it, as it passes.

import CLIPSupport

final class RowResizer {
    private enum Plan {
        case copy
        case horizontal(AxisCoefficients)
        /// Vertical taps with the ring of `ringLen`-byte rows; `across` filters the ring's output.
        case vertical(AxisCoefficients, across: AxisCoefficients?, acrossFirst: Bool)
        case nearest(xs: [Int], ys: [Int])
    }

    private let plan: Plan
    private let c: Int, window: PixelWindow
    /// The window of the resized image, `window.width * window.height * c` bytes.
    private(set) var output: [UInt8]
    private var ring: CheckedBuffer<UInt8>?, ringRows = 0, ringLen = 0, ringCol0 = 0
    private var sums: CheckedBuffer<Int32>?, temp: CheckedBuffer<UInt8>?
    private var rowSpan = 0..<0
    private var nextOut = 0

    /// `nearest` for "1" and "P", BICUBIC otherwise.
    init(nearest: Bool, width: Int, height: Int, channels c: Int, outWidth: Int, outHeight: Int,
         window win: PixelWindow, _ context: AllocationContext) throws {
        self.c = c
        window = win
        output = try checkedArray(count: win.width * win.height * c, for: "the resized crop", context)
        let cols = win.x..<(win.x + win.width), rows = win.y..<(win.y + win.height)
        if nearest {
            plan = .nearest(xs: nearestPositions(inSize: width, outSize: outWidth, range: cols),
                            ys: nearestPositions(inSize: height, outSize: outHeight, range: rows))
            return
        }
        let needHorizontal = outWidth != width, needVertical = outHeight != height
        let horizontalFirst = !((height - outHeight) > 0 && (height - outHeight) > (width - outWidth) * 2)
        guard win.width > 0 && win.height > 0 else {
            plan = .copy
            return
        }
        guard needVertical else {
            plan = needHorizontal ? .horizontal(bicubicCoefficients(inSize: width, outSize: outWidth, outRange: cols)) : .copy
            return
        }
        let v = bicubicCoefficients(inSize: height, outSize: outHeight, outRange: rows)
        rowSpan = v.start.min()!..<zip(v.start, v.count).map { $0 + $1 }.max()!
        ringRows = max(1, v.count.max()!)
        if !needHorizontal {
            (ringCol0, ringLen) = (win.x, win.width * c)
            plan = .vertical(v, across: nil, acrossFirst: false)
        } else {
            let h = bicubicCoefficients(inSize: width, outSize: outWidth, outRange: cols)
            if horizontalFirst {
                (ringCol0, ringLen) = (0, win.width * c)
            } else {
                // Only the source columns the horizontal pass reads.
                let first = h.start.min()!, end = zip(h.start, h.count).map { $0 + $1 }.max()!
                (ringCol0, ringLen) = (first, (end - first) * c)
                temp = try CheckedBuffer(count: ringLen, for: "the vertical pass", context)
            }
            plan = .vertical(v, across: h, acrossFirst: horizontalFirst)
        }
        ring = try CheckedBuffer(count: ringRows * ringLen, for: "the \(ringRows) rows the resize filter spans", context)
        sums = try CheckedBuffer(count: ringLen, for: "the vertical pass", context)
    }

    /// Source row `y` (rows must come in order 0, 1, 2, ...), `width * c` bytes.
    func push(_ row: UnsafePointer<UInt8>, y: Int) {
        let rowLen = window.width * c
        output.withUnsafeMutableBufferPointer { outBuf in
            let out = outBuf.baseAddress!
            switch plan {
            case .copy:
                guard y >= window.y && y < window.y + window.height else { return }
                (out + (y - window.y) * rowLen).update(from: row + window.x * c, count: rowLen)
            case .horizontal(let h):
                guard y >= window.y && y < window.y + window.height else { return }
                h.weights.withUnsafeBufferPointer { kk in
                    horizontalRow(row, out + (y - window.y) * rowLen, colOffset: 0, h, kk, channels: c)
                }
            case .nearest(let xs, let ys):
                while nextOut < ys.count && ys[nextOut] >= 0 && ys[nextOut] <= y {
                    if ys[nextOut] == y {
                        let o = out + nextOut * rowLen
                        for (col, sx) in xs.enumerated() where sx >= 0 {
                            for ch in 0..<c { o[col * c + ch] = row[sx * c + ch] }
                        }
                    }
                    nextOut += 1
                }
            case .vertical(let v, let across, let acrossFirst):
                guard rowSpan.contains(y), let ring = ring, let sums = sums else { return }
                let slot = ring.pointer + (y % ringRows) * ringLen
                if let h = across, acrossFirst {
                    h.weights.withUnsafeBufferPointer { kk in horizontalRow(row, slot, colOffset: 0, h, kk, channels: c) }
                } else {
                    slot.update(from: row + ringCol0 * c, count: ringLen)
                }
                v.weights.withUnsafeBufferPointer { kv in
                    while nextOut < v.start.count && v.start[nextOut] + v.count[nextOut] <= y + 1 {
                        let o = out + nextOut * rowLen
                        let ringBase = ring.pointer, rows = ringRows, len = ringLen
                        if let h = across, !acrossFirst, let temp = temp {
                            verticalRow(nextOut, v, kv, rowLen: len, sums.pointer, temp.pointer) {
                                UnsafePointer(ringBase + ($0 % rows) * len)
                            }
                            h.weights.withUnsafeBufferPointer { kk in
                                horizontalRow(temp.pointer, o, colOffset: ringCol0, h, kk, channels: c)
                            }
                        } else {
                            verticalRow(nextOut, v, kv, rowLen: len, sums.pointer, o) {
                                UnsafePointer(ringBase + ($0 % rows) * len)
                            }
                        }
                        nextOut += 1
                    }
                }
            }
        }
    }
}
