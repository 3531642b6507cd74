// libFuzzer entry for the tokenizer on arbitrary bytes: read as UTF-8 (invalid sequences become
// U+FFFD, as a file or a command line read by the CLI would), then cleaned, encoded, tokenized
// with and without truncation, and decoded back — no crash, hang or unbounded growth for any
// input. The vocabulary is the standard one from the repository's fixtures, loaded once.

import CLIPTokenizer

let vocabulary: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(4)  // Fuzz/Sources/FuzzTokenizer/FuzzTokenizer.swift
    return parts.joined(separator: "/") + "/Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz"
}()
let tokenizer = try! CLIPTokenizer.load(bpeFile: vocabulary)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let ids = tokenizer.encode(text)
    _ = try? tokenizer.tokenize(text, truncate: false)
    let padded = tokenizer.tokenizePadded(text)
    precondition(padded.count == CLIPTokenizer.contextLength, "padded tokenization must have 77 ids")
    _ = tokenizer.decode(ids)
    return 0
}
