// The model-config maxima (CLIPConfig.max*) and the prompt limits (PromptTemplates.max*) of the
// README's "Safety and limits" at their edges: the value at the limit passes, limit + 1 is refused
// with the documented error. validate() runs before anything is sized from a config, so no
// tensor of these sizes is ever made here.

import CLIPFormat
import CLIPRuntime
import CorpusSupport
import XCTest

final class ConfigLimitEdgeTests: XCTestCase {
    /// A small valid config; each case changes one number.
    let base = CLIPConfig(
        vision: VisionConfig(imageSize: 32, patchSize: 1, tower: TowerConfig(width: 64, layers: 2, heads: 1, mlpWidth: 256)),
        text: TextConfig(vocabularySize: 1000, contextLength: 77, tower: TowerConfig(width: 64, layers: 2, heads: 1, mlpWidth: 256)),
        embedDim: 32, activation: .quickGELU)

    /// `set` applied with the limit passes validate(); with limit + 1 it throws invalidConfig
    /// whose message names the value and the limit.
    func assertEdge(_ what: String, limit: Int, _ set: (inout CLIPConfig, Int) -> Void,
                    file: StaticString = #filePath, line: UInt = #line) {
        var c = base
        set(&c, limit)
        XCTAssertNoThrow(try c.validate(), "\(what) = \(limit) (the limit) must pass", file: file, line: line)
        set(&c, limit + 1)
        XCTAssertThrowsError(try c.validate(), "\(what) = \(limit + 1) must be refused", file: file, line: line) {
            guard case .invalidConfig(let message)? = $0 as? ModelError else { return XCTFail("\($0)", file: file, line: line) }
            XCTAssertTrue(message.contains("\(limit + 1)") && message.contains("\(limit)"),
                          "'\(message)' should name \(limit + 1) and the limit \(limit)", file: file, line: line)
        }
    }

    func testEveryConfigMaximumAtItsEdge() {
        XCTAssertEqual([CLIPConfig.maxWidth, CLIPConfig.maxLayers, CLIPConfig.maxMLPWidth, CLIPConfig.maxImageSize,
                        CLIPConfig.maxVocabulary, CLIPConfig.maxContext], [16_384, 256, 65_536, 4_096, 1 << 20, 4_096],
                       "the README's table")
        assertEdge("vision width", limit: CLIPConfig.maxWidth) { $0.vision.tower.width = $1 }
        assertEdge("text width", limit: CLIPConfig.maxWidth) { $0.text.tower.width = $1 }
        assertEdge("vision layers", limit: CLIPConfig.maxLayers) { $0.vision.tower.layers = $1 }
        assertEdge("text layers", limit: CLIPConfig.maxLayers) { $0.text.tower.layers = $1 }
        assertEdge("vision MLP", limit: CLIPConfig.maxMLPWidth) { $0.vision.tower.mlpWidth = $1 }
        assertEdge("text MLP", limit: CLIPConfig.maxMLPWidth) { $0.text.tower.mlpWidth = $1 }
        assertEdge("image size", limit: CLIPConfig.maxImageSize) { $0.vision.imageSize = $1 }  // patch 1 divides both
        assertEdge("vocabulary", limit: CLIPConfig.maxVocabulary) { $0.text.vocabularySize = $1 }
        assertEdge("context", limit: CLIPConfig.maxContext) { $0.text.contextLength = $1 }
        assertEdge("embedding width", limit: CLIPConfig.maxWidth) { $0.embedDim = $1 }
    }
}

final class PromptLimitEdgeTests: XCTestCase {
    func assertInvalidInput(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertEqual($0 as? ModelError, .invalidInput(expected), file: file, line: line)
        }
    }

    func testLabelCountLimit() throws {
        XCTAssertEqual(PromptTemplates.maxLabels, 100_000)
        let labels = (0..<PromptTemplates.maxLabels).map { "c\($0)" }
        let prompts = try CLIPModel.prompts(labels: labels, template: "a photo of a {}.")
        XCTAssertEqual(prompts.count, PromptTemplates.maxLabels)
        XCTAssertEqual(prompts.last, "a photo of a c99999.")
        assertInvalidInput("100001 labels (limit 100000)") { _ = try CLIPModel.prompts(labels: labels + ["one more"], template: "{}") }
    }

    func testTemplateCountLimit() throws {
        XCTAssertEqual(PromptTemplates.maxTemplates, 256)
        let templates = (0..<PromptTemplates.maxTemplates).map { "photo \($0) of a {}." }
        XCTAssertNoThrow(try PromptTemplates.validate(templates))
        assertInvalidInput("257 templates (limit 256)") { try PromptTemplates.validate(templates + ["one more {}"]) }
    }
}
