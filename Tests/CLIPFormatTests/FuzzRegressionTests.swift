// Regressions for what fuzzing and review of the .pclip reader found (tools/fuzz/fuzz.sh).

import CLIPFormat
import CLIPSupport
import XCTest

final class FuzzRegressionTests: XCTestCase {
    /// A zstd tensor whose stored bytes are not a zstd frame at all must be refused before the
    /// reader allocates its declared decoded size. The file is 200 kB and declares 800 MB
    /// (inside the spec's 4096 · stored + 1 MiB bound), so it opens; reading the tensor must then
    /// fail on the frame check, not first allocate 800 MB (on a 512 MB board that allocation
    /// itself is the crash). Run in a child process with its address space capped, because
    /// a failed allocation in Swift is a trap, not an error.
    func testGarbageZstdFrameIsRefusedBeforeItsDecodedSizeIsAllocated() throws {
        let storedSize = 200_000, elements = 200_000_000  // f32: 800 MB decoded
        let bytes = pclipWithOneZstdTensor(elements: elements, stored: [UInt8](repeating: 0, count: storedSize))
        let file = try PclipFile(bytes: bytes)  // the directory is valid: the bound allows it
        XCTAssertEqual(file.tensors.first?.decodedSize, 4 * elements)

        let status = runInChild(addressSpaceHeadroom: Self.allocationBudget) {
            do {
                _ = try file.data("w")
                return 1  // garbage decoded: the frame check is missing
            } catch PclipError.badPayload {
                return 0
            } catch {
                return 2
            }
        }
        XCTAssertEqual(status, 0, "reading a 200 kB garbage zstd payload declaring 800 MB must throw badPayload "
            + "within \(Self.allocationBudget >> 20) MB; child status \(status) (a signal means the 800 MB allocation came first)")
    }

    /// Address space the child may add: the frame check needs a few kB; the unchecked
    /// allocation needs 800 MB, so any value well between the two separates them.
    static let allocationBudget = 256 << 20
}

/// A .pclip holding one f32 tensor "w" with `elements` elements whose zstd payload is `stored`
/// (with a correct CRC, so only the frame itself is wrong). Layout of formats/pclip.md.
func pclipWithOneZstdTensor(elements: Int, stored: [UInt8]) -> [UInt8] {
    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    let metadata = Array("{}".utf8)
    let name = Array("w".utf8)
    let directoryOffset = Pclip.headerSize + metadata.count
    let directorySize = 2 + name.count + 8 + 8 + 3 * 8 + 4
    let payloadOffset = directoryOffset + directorySize
    var directory = le(UInt16(name.count)) + name
    directory += [PclipDType.f32.rawValue, PclipCompression.zstd.rawValue, 1, 0] + le(UInt32(0)) + le(UInt64(elements))
    directory += le(UInt64(payloadOffset)) + le(UInt64(stored.count)) + le(UInt64(4 * elements)) + le(crc32(stored))
    precondition(directory.count == directorySize)
    var header = Pclip.magic + le(Pclip.versionMajor) + le(UInt16(0)) + le(UInt32(0))
    header += le(UInt64(Pclip.headerSize)) + le(UInt64(metadata.count)) + le(UInt64(directoryOffset)) + le(UInt64(directorySize))
    header += le(UInt32(1)) + le(crc32(metadata)) + le(crc32(directory))
    header += le(crc32(header))
    return header + metadata + directory + stored
}

/// Runs `body` in a forked child whose address space may grow by at most `headroom` bytes,
/// and returns its exit status, or 128 + the signal that ended it. The child gives up after a
/// minute so a hung crash handler cannot hang the test run.
func runInChild(addressSpaceHeadroom headroom: Int, _ body: () -> Int32) -> Int32 {
    let pid = fork()
    if pid == 0 {
        alarm(60)
        let current = currentAddressSpaceBytes()
        var limit = rlimit(rlim_cur: rlim_t(current + headroom), rlim_max: rlim_t(current + headroom))
        guard current > 0, setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { _exit(3) }
        _exit(body())
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

/// This process's virtual size, from the first field of /proc/self/statm (pages).
private func currentAddressSpaceBytes() -> Int {
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 64) }
    guard n > 0 else { return 0 }
    let pages = buffer[0..<n].prefix { $0 >= 0x30 && $0 <= 0x39 }.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
