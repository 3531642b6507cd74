// TEMPORARY stub (deleted when the real image module merges).
public enum CropRounding: String, Sendable, Codable { case openCLIP, huggingFace }
public enum ResizeOrder: String, Sendable, Codable { case resizeThenConvert, convertThenResize }
public struct PreprocessConfig: Sendable, Codable, Equatable {
    public var size: Int
    public var mean: [Float]; public var std: [Float]
    public var cropRounding: CropRounding = .openCLIP
    public var order: ResizeOrder = .resizeThenConvert
    public static func openAI(size: Int) -> PreprocessConfig {
        PreprocessConfig(size: size, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    }
}
public enum Preprocessor {
    public static func pixels(path: String, config: PreprocessConfig) throws -> [Float] { [] }
}
