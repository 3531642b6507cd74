// Writing JSON. `serialized()` gives deterministic text for .pclip metadata: keys in the order
// given, numbers in the shortest form that reads back to the same Double (floats stored as
// Double(Float) therefore read back to the same Float), no trailing whitespace. `jsonQuoted`
// and `jsonNumber` are the pieces for JSON written by hand (the CLI's outputs, HF exports).

extension JSONValue {
    /// The value as JSON text.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d):
            precondition(d.isFinite, "JSON cannot hold \(d)")
            if d == d.rounded(), abs(d) < 9_007_199_254_740_992 { out += String(Int(d)) } else { out += "\(d)" }
        case .string(let s): out += jsonQuoted(s)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += ", " }
                out += jsonQuoted(m.key) + ": "
                m.value.write(to: &out)
            }
            out += "}"
        }
    }
}

/// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
public func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let h = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A Float in Swift's shortest form that reads back to the same Float; non-finite → `null`.
public func jsonNumber(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }

/// A Double in Swift's shortest form that reads back to the same Double; non-finite → `null`.
public func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
