// libFuzzer entry for the class head reader (`pocketclip classify --head`): any bytes must be
// refused with an error or give a head that keeps the loader's promises — never a crash, an
// out-of-bounds read, or an allocation the input does not justify. The code fuzzed is the
// loader's own: `ClassHead.load(_:for:)` is `ClassHead.parse` on the opened container followed
// by `check(modelFingerprint:embedDim:source:)`, both called here.
//
// Each input is parsed as given, then with the container's header, metadata and directory
// CRC-32s recomputed, then with the payload CRC-32s recomputed as well, so mutations of the
// "head" metadata and of the class embeddings reach the checks behind those gates.
//
// An accepted head is written back with the real writer and read again: the two must agree
// (labels, templates, fingerprint, logit scale, embedding bits).

import CLIPFormat
import CLIPRuntime
import CLIPSupport
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    exercise(bytes)
    let fixed = withPclipChecksumsFixed(bytes)
    if let fixed, fixed != bytes { exercise(fixed) }
    // The payload CRCs too (this also redoes the others): only when that changes something more.
    if let all = withPclipPayloadChecksumsFixed(bytes), all != bytes, all != fixed { exercise(all) }
    return 0
}

private let scratch = fuzzScratchDirectory + "/fuzzhead-\(getpid()).head"

private func exercise(_ bytes: [UInt8]) {
    guard let file = try? PclipFile(bytes: bytes), let head = try? ClassHead.parse(file, source: "<fuzz>") else { return }
    // What classify relies on: one finite embedding of one size per label, a finite scale.
    precondition(!head.labels.isEmpty && head.embeddings.count == head.labels.count, "labels and embeddings disagree")
    let e = head.embeddings[0].count
    precondition(e >= 1 && head.embeddings.allSatisfy { $0.count == e && $0.allSatisfy(\.isFinite) }, "ragged or non-finite embeddings")
    precondition(head.logitScale.isFinite, "non-finite logit scale")
    // The fingerprint check: passes for the head's own model, fails for any other.
    precondition((try? head.check(modelFingerprint: head.modelFingerprint, embedDim: e, source: "<fuzz>")) != nil)
    precondition((try? head.check(modelFingerprint: head.modelFingerprint &+ 1, embedDim: e, source: "<fuzz>")) == nil)
    precondition((try? head.check(modelFingerprint: nil, embedDim: e, source: "<fuzz>")) == nil)
    precondition((try? head.check(modelFingerprint: head.modelFingerprint, embedDim: e + 1, source: "<fuzz>")) == nil)
    // Scoring as classify does, with a fixed image embedding.
    let image = ZeroShot.normalized((0..<e).map { Float($0 % 7) - 3 })
    let probabilities = ZeroShot.softmax(ZeroShot.logits(image: image, classes: head.embeddings, logitScale: head.logitScale))
    precondition(probabilities.count == head.labels.count)
    // Round trip through the writer.
    do {
        try head.write(to: scratch)
        let back = try ClassHead.parse(try PclipFile(path: scratch), source: scratch)
        precondition(back.labels == head.labels && back.templates == head.templates, "labels or templates changed in a round trip")
        precondition(back.modelFingerprint == head.modelFingerprint && back.logitScale.bitPattern == head.logitScale.bitPattern,
                     "fingerprint or logit scale changed in a round trip")
        precondition(zip(back.embeddings, head.embeddings).allSatisfy { $0.map(\.bitPattern) == $1.map(\.bitPattern) },
                     "embeddings changed in a round trip")
    } catch {
        preconditionFailure("a head that parsed could not be written and read back: \(error)")
    }
}
