// libFuzzer entry for the safetensors reader: any bytes must open cleanly or throw, never
// crash, read out of bounds, or allocate more than the input justifies. Every tensor of an
// opened file is then read, raw and (for float dtypes) converted to Float.

import CLIPConvert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile(bytes: bytes) else { return 0 }
    for name in file.names {
        _ = try? file.rawBytes(name)
        _ = try? file.floatTensor(name)
    }
    return 0
}
