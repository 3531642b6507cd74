import XCTest
final class CLIPImageTestsPlaceholder: XCTestCase { func testBuilds() {} }
