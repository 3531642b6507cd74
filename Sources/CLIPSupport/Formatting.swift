// Numbers as text, the same way everywhere: fixed decimals for tables and progress lines,
// percentages, and 32-bit checksums and fingerprints in hex. (JSON numbers: JSONWriter.swift.)

/// `x` with exactly `digits` decimals, rounded half away from zero ("-" if not finite).
///
///     decimal(2.0 / 3, 3)   // "0.667"
///     decimal(-0.04, 1)     // "0.0"   (no "-0.0")
public func decimal(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((abs(x) * scale).rounded()), whole = scaled / Int(scale), frac = scaled % Int(scale)
    let fracText = digits == 0 ? "" : "." + String(repeating: "0", count: digits - String(frac).count) + String(frac)
    return (x < 0 && scaled != 0 ? "-" : "") + "\(whole)" + fracText
}

/// A probability in [0, 1] as a percentage with one decimal: 0.1234 → "12.3%".
public func formatPercent(_ p: Float) -> String {
    let tenths = Int((Double(p) * 1000).rounded())
    return "\(tenths / 10).\(tenths % 10)%"
}

/// `v` as "0x" and eight hex digits (CRC-32s, fingerprints, magics): 0xCBF43926 → "0xcbf43926".
public func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
