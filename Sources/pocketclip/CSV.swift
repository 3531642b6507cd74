// CSV output for `classify --csv` (RFC 4180: fields with a comma, quote or line break are
// quoted, quotes doubled), so a folder's results open in a spreadsheet or feed a shell script.

import CLIPRuntime
import CLIPSupport

/// One header row, then one row per image as it is classified: image, label_1, probability_1,
/// label_2, ... for `ranks` ranks (top-k, or every label).
struct CSVRows: ClassifyOutput {
    let ranks: Int
    func begin() { print(csvRow(["image"] + (0..<ranks).flatMap { ["label_\($0 + 1)", "probability_\($0 + 1)"] })) }
    func write(path: String, scores: [LabelScore], index: Int) {
        print(csvRow([path] + scores.flatMap { [$0.label, jsonNumber($0.probability)] }))
    }
    func end() {}
}

func csvRow(_ fields: [String]) -> String { fields.map(csvField).joined(separator: ",") }

func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
