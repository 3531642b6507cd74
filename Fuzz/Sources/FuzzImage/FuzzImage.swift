// libFuzzer entry for image decoding through to preprocessing: any bytes must decode (PNG in
// Swift + zlib, JPEG through TurboJPEG, WebP through libwebp) and preprocess to a 32×32 and a
// 224×224 crop, or throw — never crash, read out of bounds, or allocate past the pixel limit
// (decompression bombs are refused from the header, before decoding). The pixel limit is lowered
// so a hostile header cannot make one input slow.

import CLIPImage

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let image = try? ImageDecoder.decode(bytes: bytes, maxPixels: 4_000_000) else { return 0 }
    for config in [PreprocessConfig.openAI(size: 32), PreprocessConfig.huggingFace(size: 224)] {
        _ = try? Preprocessor.pixels(image, config: config)
    }
    return 0
}
