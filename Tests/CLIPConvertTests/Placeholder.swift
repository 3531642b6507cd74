import XCTest
final class CLIPConvertTestsPlaceholder: XCTestCase { func testBuilds() {} }
