// libFuzzer entry for the captions file parser (TSV and JSONL): any bytes give rows and skipped
// rows, never a crash. Image paths are only parsed here (resolved against a folder that does not
// exist), so no file is opened.

import CLIPTrainData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCaptions(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for format in [CaptionFormat.tsv, .jsonl] {
        let file = CaptionFile.parse(bytes: bytes, format: format, baseDirectory: "/nonexistent-fuzz-root")
        precondition(file.rows.allSatisfy { !$0.caption.isEmpty }, "an accepted row must have a caption")
    }
    return 0
}
