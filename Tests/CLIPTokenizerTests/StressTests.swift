// Opt-in: many more random strings than the committed corpus, generated on a machine with the
// Python reference (tools/goldens/tokenizer-goldens.py --stress PATH) and pointed to by
// CLIP_TOKENIZER_STRESS. Skipped (and reported as skipped) when the variable is not set.

import CLIPTokenizer
import Foundation
import XCTest

final class StressTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let clean: String
        let encode: [Int32]
    }

    func testRandomFragmentMixesMatchOpenCLIP() throws {
        guard let path = ProcessInfo.processInfo.environment["CLIP_TOKENIZER_STRESS"] else {
            throw XCTSkip("set CLIP_TOKENIZER_STRESS to a file from tools/goldens/tokenizer-goldens.py --stress")
        }
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        var failures: [String] = []
        for c in cases {
            let cleaned = Fixtures.tokenizer.clean(c.text)
            let ids = Fixtures.tokenizer.encode(c.text)
            if cleaned != c.clean || ids != c.encode {
                failures.append("\(show(c.text)): clean \(show(cleaned)) vs \(show(c.clean)), ids \(ids) vs \(c.encode)")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) of \(cases.count) differ:\n" + failures.prefix(30).joined(separator: "\n"))
    }
}
