// IEEE 754 binary16 <-> binary32, written out rather than using `Float16`, which is not
// available on every Swift platform (and whose conversions are what we must pin down anyway).

/// binary16 → binary32, exact for every input (subnormals, infinities, NaN payloads).
public func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h) & 0x3FF
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    if exponent != 0 { return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) }
    // Zero or subnormal: mantissa · 2^-24, exact in binary32.
    let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
    return sign != 0 ? -magnitude : magnitude
}

/// binary32 → binary16 with round-to-nearest-even (IEEE default, as numpy and PyTorch do);
/// overflow gives ±infinity, NaN stays NaN (quiet, payload's top bits kept).
public func halfFromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x7F_FFFF
    if exponent == 0xFF {
        return sign | 0x7C00 | (mantissa != 0 ? UInt16(0x200 | (mantissa >> 13)) : 0)
    }
    let e = exponent - 127 + 15
    if e >= 0x1F { return sign | 0x7C00 }
    if e <= 0 {
        // Subnormal half (or zero): shift the full significand right, rounding to nearest even.
        if e < -10 { return sign }
        let significand = mantissa | 0x80_0000
        let shift = UInt32(14 - e)
        var half = significand >> shift
        let remainder = significand & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(e) << 10 | (mantissa >> 13)
    let remainder = mantissa & 0x1FFF
    if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }  // may carry into the exponent: correct
    return sign | UInt16(half)
}
