import CLIPSupport
import XCTest

final class FormattingTests: XCTestCase {
    func testDecimal() {
        XCTAssertEqual(decimal(2.0 / 3, 3), "0.667")
        XCTAssertEqual(decimal(1.5, 0), "2")
        XCTAssertEqual(decimal(5, 2), "5.00")
        XCTAssertEqual(decimal(0.125, 2), "0.13", "half away from zero")
        XCTAssertEqual(decimal(-0.125, 2), "-0.13")
        XCTAssertEqual(decimal(-0.004, 2), "0.00", "no negative zero")
        XCTAssertEqual(decimal(0.00001, 4), "0.0000", "never an exponent")
        XCTAssertEqual(decimal(.nan, 2), "-")
        XCTAssertEqual(decimal(.infinity, 2), "-")
    }

    func testPercentAndHex() {
        XCTAssertEqual(formatPercent(0.1234), "12.3%")
        XCTAssertEqual(formatPercent(1), "100.0%")
        XCTAssertEqual(formatPercent(0), "0.0%")
        XCTAssertEqual(hex8(0xCBF4_3926), "0xcbf43926")
        XCTAssertEqual(hex8(0x10), "0x00000010")
    }
}
