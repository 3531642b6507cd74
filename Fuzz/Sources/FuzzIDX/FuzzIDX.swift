// libFuzzer entry for the Fashion-MNIST IDX reader (CLIPTrainData): any bytes parse as an image file and as a
// label file, or throw — never crash, and never allocate from a header the file's own length
// does not back (a count of 2^32-1 images must be refused, not allocated).

import CLIPTrainData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let images = try? IDXReader.parseImages(bytes), images.count > 0 {
        _ = images.image(images.count - 1)
        _ = images.dropFirst(images.count / 2)
    }
    _ = try? IDXReader.parseLabels(bytes)
    return 0
}
