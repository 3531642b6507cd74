import XCTest
final class CLIPTokenizerTestsPlaceholder: XCTestCase { func testBuilds() {} }
