// CheckedBuffer.swift — buffers sized by an image, allocated so that failure is an error.
//
// A Swift array that cannot be allocated aborts the process ("Fatal error: failed to allocate"),
// so under a memory limit (ulimit -v, a cgroup) a large image would kill the CLI with a
// backtrace. Every buffer whose size comes from the image — file chunks, decoded rows, resize
// rings, the full-image fallback of interlaced PNG — is a CheckedBuffer instead: malloc, and
// `ImageError.outOfMemory` naming the image, its size and what the buffer was for when it fails.

import CLIPSupport

/// What an allocation failure reports: which image, how large.
struct AllocationContext {
    var image: String
    var width = 0
    var height = 0
}

/// `count` zeroed elements of a trivial type, freed when the buffer is released.
final class CheckedBuffer<Element> {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    init(count: Int, for purpose: String, _ context: AllocationContext) throws {
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        guard !overflow, let raw = calloc(1, bytes) else {
            throw ImageError.outOfMemory(image: context.image, width: context.width, height: context.height,
                                         bytes: overflow ? Int.max : bytes, purpose: purpose)
        }
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        self.count = count
    }

    deinit { free(pointer) }

    var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}

/// An array of `count` zeroed elements, refused with `ImageError.outOfMemory` when the memory
/// is not there. Swift arrays abort when allocation fails, so the memory is first asked of malloc
/// (and given back): under an address-space limit that is a reliable test, and the array's own
/// allocation follows at once.
func checkedArray<Element: FixedWidthInteger>(count: Int, for purpose: String, _ context: AllocationContext) throws -> [Element] {
    _ = try CheckedBuffer<Element>(count: count, for: purpose, context)
    return [Element](repeating: 0, count: count)
}
