// TEMPORARY stub (deleted when the real tokenizer merges).
public final class CLIPTokenizer: @unchecked Sendable {
    public static let contextLength = 77
    public let startOfText: Int32 = 49406
    public let endOfText: Int32 = 49407
    public var vocabularySize: Int { 49408 }
    public static func load(bpeFile path: String) throws -> CLIPTokenizer { CLIPTokenizer() }
    public static func load(huggingFaceDirectory path: String) throws -> CLIPTokenizer { CLIPTokenizer() }
    public func tokenize(_ text: String, truncate: Bool) throws -> [Int32] { [49406, 49407] }
    public func tokenizePadded(_ text: String) -> [Int32] { [49406, 49407] }
}
