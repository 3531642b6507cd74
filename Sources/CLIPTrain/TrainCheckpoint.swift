// A training checkpoint: everything `--resume` needs to continue exactly the run that stopped.
//
//   "PCLIPCKP"  u32 version (1)  u32 0
//   u64 text length, then UTF-8 `key=value` lines: the recipe's fields, step, rng_state,
//       rng_spare, elapsed_seconds, metric_names, and one `history=` line per curve row
//   u64 n (the layout's parameter count), then 3·n little-endian f32: parameters, Adam m, Adam v
//   u64 FNV-1a of every byte before it
//
// Our own small container rather than safetensors: the module has no JSON reader (it imports
// nothing but BLAS), and a checkpoint is only ever read back by this code. It is validated
// before anything is allocated from it (sizes against the file's length, the parameter count
// against the recipe's layout), and written through a temporary file renamed into place.

import CLIPSupport

extension Trainer {
    static let checkpointMagic = Array("PCLIPCKP".utf8)
    static let checkpointVersion: UInt32 = 1
    /// Bounds the text block (a recipe and a few thousand curve rows take a few hundred KB).
    static let maxCheckpointText = 16 << 20

    /// Writes the run's state to `path` atomically.
    public func saveCheckpoint(to path: String, elapsedSeconds: Double? = nil) throws {
        var lines = recipe.fields.map { "\($0.0)=\($0.1)" }
        let snap = rng.snapshot
        lines.append("step=\(step)")
        lines.append("rng_state=\(snap.state)")
        lines.append("rng_spare=\(snap.spare.map { String($0.bitPattern) } ?? "none")")
        lines.append("elapsed_seconds=\(elapsedSeconds ?? priorSeconds)")
        lines.append("metric_names=\(metricNames.joined(separator: ","))")
        for r in history {
            let metrics = r.metrics.map { "\($0)" }.joined(separator: ";")
            lines.append("history=\(r.step),\(r.loss),\(r.learningRate),\(r.imagesPerSecond),\(metrics)")
        }
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        let n = model.layout.count
        let (m, v, _) = optimizer.state()
        var out = Trainer.checkpointMagic
        out.reserveCapacity(40 + text.count + 12 * n)
        out.appendLE(Trainer.checkpointVersion); out.appendLE(UInt32(0))
        out.appendLE(UInt64(text.count)); out += text
        out.appendLE(UInt64(n))
        appendFloats(&out, UnsafeBufferPointer(start: model.parameters.pointer, count: n))
        m.withUnsafeBufferPointer { appendFloats(&out, $0) }
        v.withUnsafeBufferPointer { appendFloats(&out, $0) }
        out.appendLE(fnv1a(out))
        try OpenCLIPExport.writeAtomically(out, to: path)
    }

    /// A trainer continuing the run saved at `path`.
    public convenience init(resumingFrom path: String) throws {
        let bytes = try readCheckpointFile(path)
        func bad(_ why: String) -> TrainError { .invalidCheckpoint("'\(path)': \(why)") }
        guard bytes.count >= 40, Array(bytes[0..<8]) == Trainer.checkpointMagic else {
            throw bad("not a PocketCLIP training checkpoint (no PCLIPCKP magic)")
        }
        guard readLE(bytes, 8, UInt32.self) == Trainer.checkpointVersion else {
            throw bad("checkpoint version \(readLE(bytes, 8, UInt32.self)) is not supported (this build reads \(Trainer.checkpointVersion))")
        }
        let stored = readLE(bytes, bytes.count - 8, UInt64.self)
        guard fnv1a(bytes[0..<(bytes.count - 8)]) == stored else {
            throw bad("checksum mismatch: the file is truncated or corrupt; use an earlier checkpoint or start again")
        }
        let textCount = readLE(bytes, 16, UInt64.self)
        guard textCount <= UInt64(min(Trainer.maxCheckpointText, bytes.count - 40)) else { throw bad("text block of \(textCount) bytes does not fit") }
        let textEnd = 24 + Int(textCount)
        guard let text = String(validating: bytes[24..<textEnd], as: UTF8.self) else { throw bad("text block is not UTF-8") }

        var recipeFields: [(String, String)] = [], values: [String: String] = [:], rows: [HistoryRow] = []
        let recipeKeys = Set(TrainRecipe.keys)
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { throw bad("malformed line '\(line)'") }
            let key = String(line[..<eq]), value = String(line[line.index(after: eq)...])
            if recipeKeys.contains(key) {
                recipeFields.append((key, value))
            } else if key == "history" {
                let parts = value.split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 5, let s = Int(parts[0]), let l = Float(parts[1]), let lr = Float(parts[2]),
                      let ips = Float(parts[3]) else { throw bad("malformed history row '\(value)'") }
                let metrics = try parts[4].split(separator: ";").map { m -> Double in
                    guard let d = Double(m) else { throw bad("malformed metric '\(m)'") }
                    return d
                }
                rows.append(HistoryRow(step: s, loss: l, learningRate: lr, imagesPerSecond: ips, metrics: metrics))
            } else {
                values[key] = value
            }
        }
        let recipe = try TrainRecipe(fields: recipeFields)
        guard let step = values["step"].flatMap(Int.init), step >= 0, step <= recipe.steps,
              let state = values["rng_state"].flatMap(UInt64.init), let spareText = values["rng_spare"],
              let elapsed = values["elapsed_seconds"].flatMap(Double.init), let names = values["metric_names"] else {
            throw bad("step, rng_state, rng_spare, elapsed_seconds or metric_names missing or invalid")
        }
        let spare: Float?
        if spareText == "none" { spare = nil } else {
            guard let bits = UInt32(spareText) else { throw bad("rng_spare '\(spareText)' is not a float's bits") }
            spare = Float(bitPattern: bits)
        }
        try self.init(recipe: recipe, metricNames: names.isEmpty ? [] : names.split(separator: ",").map(String.init))
        let n = model.layout.count
        guard bytes.count == textEnd + 8 + 12 * n + 8, Int(readLE(bytes, textEnd, UInt64.self)) == n else {
            throw bad("holds \(readLE(bytes, textEnd, UInt64.self)) parameters in \(bytes.count) bytes; its recipe needs \(n)")
        }
        let base = textEnd + 8
        let floats = { (k: Int) in (0..<n).map { Float(bitPattern: readLE(bytes, base + 4 * (k * n + $0), UInt32.self)) } }
        floats(0).withUnsafeBufferPointer { model.parameters.pointer.update(from: $0.baseAddress!, count: n) }
        try optimizer.restore(m: floats(1), v: floats(2), steps: step)
        self.step = step
        rng.snapshot = SeededNormal.Snapshot(state: state, spare: spare)
        history = rows
        priorSeconds = elapsed
    }
}

private func appendFloats(_ out: inout [UInt8], _ xs: UnsafeBufferPointer<Float>) {
    for x in xs { out.appendLE(x.bitPattern) }
}

private func readLE<T: FixedWidthInteger>(_ b: [UInt8], _ at: Int, _: T.Type) -> T {
    var v: T = 0
    for i in 0..<MemoryLayout<T>.size { v |= T(b[at + i]) << (8 * i) }
    return v
}

/// FNV-1a, 64-bit: catches truncation and bit rot (not an adversary).
private func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// The whole file, refusing anything over 4 GiB before reading it.
private func readCheckpointFile(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw TrainError.io("cannot open checkpoint '\(path)': \(String(cString: strerror(errno)))")
    }
    defer { fclose(f) }
    var st = stat()
    guard fstat(fileno(f), &st) == 0, st.st_size >= 0, st.st_size <= 4 << 30 else {
        throw TrainError.invalidCheckpoint("'\(path)': not a regular file of at most 4 GiB")
    }
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
    let got = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
    guard got == bytes.count else { throw TrainError.io("read \(got) of \(bytes.count) bytes of '\(path)'") }
    return bytes
}
