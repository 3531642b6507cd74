import XCTest
final class CLIPRuntimeTestsPlaceholder: XCTestCase { func testBuilds() {} }
