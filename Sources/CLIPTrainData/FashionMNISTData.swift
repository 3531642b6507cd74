// What a training run reads besides its images: Fashion-MNIST's IDX files (gzipped as Debian
// ships them, or not) and the tokenizer that turns captions into fixed-length id rows.

import CLIPSupport
import CLIPTokenizer

/// Training data that cannot be used, with what to do about it.
public enum TrainingDataError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let message): return message }
    }
}

/// The tokenizer from a vocabulary file or an HF directory.
public func loadTokenizer(_ path: String) throws -> CLIPTokenizer {
    var st = stat()
    guard stat(path, &st) == 0 else { throw TrainingDataError.invalid("tokenizer '\(path)' does not exist") }
    if (st.st_mode & S_IFMT) == S_IFDIR { return try CLIPTokenizer.load(huggingFaceDirectory: path) }
    return try CLIPTokenizer.load(bpeFile: path)
}

/// Captions → exactly `contextLength` ids (SOT … EOT, zero padded); longer captions are an error
/// naming the caption, never silently cut.
public func captionTokenizer(_ tok: CLIPTokenizer, contextLength: Int) throws -> (String) throws -> [Int32] {
    return { caption in
        let ids = try tok.tokenize(caption, truncate: false)
        guard ids.count <= contextLength else {
            throw TrainingDataError.invalid("the caption \"\(caption)\" has \(ids.count) tokens; the model's context_length is \(contextLength)")
        }
        return ids + [Int32](repeating: 0, count: contextLength - ids.count)
    }
}

/// Fashion-MNIST's four IDX files, gzipped (as the Debian package ships them) or not.
public struct FashionMNISTData {
    public var train: (images: IDXImages, labels: [UInt8])
    public var test: (images: IDXImages, labels: [UInt8])

    public static func load(directory: String) throws -> FashionMNISTData {
        func split(_ name: String) throws -> (IDXImages, [UInt8]) {
            let images = try readMaybeGzip(directory + "/\(name)-images-idx3-ubyte")
            let labels = try readMaybeGzip(directory + "/\(name)-labels-idx1-ubyte")
            let im = try IDXReader.parseImages(images), lb = try IDXReader.parseLabels(labels)
            guard im.count == lb.count, lb.allSatisfy({ $0 < 10 }) else {
                throw TrainingDataError.invalid("\(directory): \(name) has \(im.count) images but \(lb.count) labels (or a label above 9)")
            }
            return (im, lb)
        }
        return FashionMNISTData(train: try split("train"), test: try split("t10k"))
    }
}

/// `path` or `path.gz`, decompressed; at most 256 MB (the largest Fashion-MNIST file is 47 MB).
public func readMaybeGzip(_ path: String) throws -> [UInt8] {
    let limit = 256 << 20
    let chosen = access(path, R_OK) == 0 ? path : path + ".gz"
    guard access(chosen, R_OK) == 0 else {
        throw TrainingDataError.invalid("neither \(path) nor \(path).gz is readable; install the Debian package dataset-fashion-mnist or pass --fashion-mnist DIR")
    }
    let tooLarge = TrainingDataError.invalid("\(chosen) decompresses to more than 256 MB; not a Fashion-MNIST file")
    let file: ReadOnlyFile
    do { file = try ReadOnlyFile(path: chosen) } catch { throw TrainingDataError.invalid("cannot open \(chosen)") }
    guard file.size <= limit else { throw tooLarge }
    let bytes = try file.bytes(at: 0, count: file.size)
    guard Gunzip.isGzip(bytes) else { return bytes }
    do { return try Gunzip.decompress(bytes, limit: limit) } catch GunzipError.tooLarge {
        throw tooLarge
    } catch { throw TrainingDataError.invalid("\(chosen) is corrupt (gzip error)") }
}
