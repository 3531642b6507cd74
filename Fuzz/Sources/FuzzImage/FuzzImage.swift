// libFuzzer entry for image decoding through to preprocessing: any bytes must decode (PNG in
// Swift + zlib, JPEG through libjpeg's scanline API, WebP through libwebp) and preprocess to a
// 32×32 and a 224×224 crop, or throw — never crash, read out of bounds, or allocate past the
// pixel limit (decompression bombs are refused from the header, before decoding). The pixel limit
// is lowered so a hostile header cannot make one input slow.
//
// Both routes run: the whole image from memory (ImageDecoder.decode(bytes:), then rgb8 of the
// DecodedImage) and the streaming one from a file (Preprocessor.rgb8(path:): the file read in
// pieces, rows pushed through the resize ring), and they must agree — the same crop, or both
// refusing the input.

import CLIPImage
import CLIPSupport

/// The file the streaming route reads: on tmpfs when there is one. One per process.
private let scratch: String = {
    var st = stat()
    return (stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp") + "/fuzzimage-\(getpid()).img"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(scratch)") }
    precondition(size == 0 || write(fd, data, size) == size, "short write to \(scratch)")
    close(fd)
    let limit = 4_000_000
    let image = Result { try ImageDecoder.decode(bytes: bytes, maxPixels: limit) }
    for config in [PreprocessConfig.openAI(size: 32), PreprocessConfig.huggingFace(size: 224)] {
        let whole = image.flatMap { decoded in Result { try Preprocessor.rgb8(decoded, config: config) } }
        let streamed = Result { try Preprocessor.rgb8(path: scratch, config: config, maxPixels: limit) }
        switch (whole, streamed) {
        case (.success(let a), .success(let b)):
            precondition(a == b, "the streaming and whole-image routes give different crops")
        case (.failure(let a as ImageError), .failure(let b as ImageError)):
            // The same refusal, but for the name of the image in a memory error.
            if case .outOfMemory = a { break }
            precondition(a == b, "the routes refuse differently: \(a) / \(b)")
        default:
            preconditionFailure("one route accepts what the other refuses: \(whole) / \(streamed)")
        }
    }
    return 0
}
