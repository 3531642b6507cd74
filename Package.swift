// swift-tools-version:6.1
// PocketCLIP: CLIP on small Linux boards. The import arrows between targets are the table in
// docs/architecture.md, which tools/ci/check-imports.sh reads and CI runs.
import PackageDescription

let package = Package(
    name: "PocketCLIP",
    products: [
        .executable(name: "pocketclip", targets: ["pocketclip"]),
        .library(name: "CLIPRuntime", targets: ["CLIPRuntime"]),
        .library(name: "CLIPConvert", targets: ["CLIPConvert"]),
        .library(name: "CLIPSearch", targets: ["CLIPSearch"]),
        // The float training module and its folder loader (OpenBLAS): for training programs and
        // the fuzz targets of the IDX and captions readers.
        .library(name: "CLIPTrainData", targets: ["CLIPTrainData", "CLIPTrain"]),
    ],
    // "Training" (on by default) gives the CLI its `train` and `eval` commands, which link the
    // float training module and OpenBLAS. A board build (tools/board/board-build.sh) turns it off
    // with `--disable-default-traits`, so the executable needs neither (docs/board.md).
    traits: [
        .default(enabledTraits: ["Training"]),
        .trait(name: "Training", description: "The train and eval commands (CLIPTrain, OpenBLAS)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: zlib1g-dev, libturbojpeg0-dev, libwebp-dev). PNG is parsed in Swift with
        // zlib for DEFLATE (Sources/CLIPImage/Inflate.swift says why not libpng).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CImageCodecs", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        // libwebp and its demuxer (libwebpdemux's .pc requires libwebp): WebP stills and the first
        // frame of animations, decoded as Pillow's _webp module does (WebPDecoder.swift).
        .systemLibrary(name: "CWebP", pkgConfig: "libwebpdemux", providers: [.apt(["libwebp-dev"])]),
        // libjpeg's scanline API (Debian: libjpeg62-turbo-dev, the same libjpeg-turbo as TurboJPEG)
        // behind functions that keep its longjmp inside C: JPEG decoded one row at a time.
        .target(name: "CJPEGRows", linkerSettings: [.linkedLibrary("jpeg")]),
        // OpenBLAS sgemm for the float training module only; the runtime never reaches it.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Support: what every target may use (the platform's C library imported once, JSON,
        // CRC-32, read-only / mapped / atomic files, the byte cursor, gunzip, number formatting).
        .target(name: "CLIPSupport", dependencies: ["CZlib"]),

        // Leaves: each imports nothing of the project but CLIPSupport.
        .target(name: "CLIPTokenizer", dependencies: ["CLIPSupport"]),
        .target(name: "CLIPImage", dependencies: ["CJPEGRows", "CWebP", "CZlib", "CLIPSupport"]),
        // The int8 inner loops in C: per-function target attributes and run-time dispatch
        // (AVX2 / AVX-VNNI / NEON / NEON dotprod / portable), so no unsafeFlags.
        .target(name: "CLIPKernelsC"),
        .target(name: "CLIPKernels", dependencies: ["CLIPKernelsC", "CLIPSupport"]),
        // The .pclip container: reader, writer, reference quantizer (formats/pclip.md).
        .target(name: "CLIPFormat", dependencies: ["CZstd", "CLIPSupport"]),
        // The model schema: the config types and the one table of tensor names (.pclip,
        // OpenCLIP/OpenAI, HF) with their shapes and layout transforms. The runtime, the
        // converter and the trainer all derive from it.
        .target(name: "CLIPSchema"),

        // Runtime: encoders, zero-shot, .pclip loading (re-exports the schema). Never imports the
        // converter or BLAS.
        .target(name: "CLIPRuntime", dependencies: ["CLIPSchema", "CLIPKernels", "CLIPTokenizer", "CLIPImage", "CLIPFormat", "CLIPSupport"]),

        // Converter: checkpoint readers (safetensors, HF / OpenCLIP names) into runtime weights.
        .target(name: "CLIPConvert", dependencies: ["CLIPRuntime", "CLIPSchema", "CLIPKernels", "CLIPTokenizer", "CLIPImage", "CLIPFormat", "CLIPSupport"]),

        // Search: an embedding index of a folder of images, built and queried through the runtime.
        .target(name: "CLIPSearch", dependencies: ["CLIPRuntime", "CLIPImage", "CLIPSupport"]),

        // Float training: layers with their backward passes, the contrastive loss, AdamW.
        // Imports nothing of the runtime (its own float world): the schema for its config and
        // parameter names, BLAS for the matmuls.
        .target(name: "CLIPTrain", dependencies: ["CLIPSchema", "CBLAS", "CLIPSupport"]),
        // Everything a training run reads and how it is scored: Fashion-MNIST (IDX files and the
        // captions generator), a folder of images with a TSV/JSONL captions file (decoded with the
        // runtime's exact preprocessing), the tokenizer rows, and the zero-shot evaluation of a
        // model being trained (CLIPTrain) or a converted one (the runtime).
        .target(name: "CLIPTrainData", dependencies: ["CLIPTrain", "CLIPRuntime", "CLIPTokenizer", "CLIPImage", "CLIPSupport"]),

        // The CLI: argument parsing only.
        .executableTarget(
            name: "pocketclip",
            dependencies: [
                "CLIPRuntime", "CLIPConvert", "CLIPSearch", "CLIPFormat", "CLIPTokenizer", "CLIPSupport",
                .target(name: "CLIPTrain", condition: .when(traits: ["Training"])),
                .target(name: "CLIPTrainData", condition: .when(traits: ["Training"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "CLIPSupportTests", dependencies: ["CLIPSupport"]),
        .testTarget(name: "CLIPTokenizerTests", dependencies: ["CLIPTokenizer", "CLIPSupport", "CorpusSupport"]),
        .testTarget(name: "CLIPImageTests", dependencies: ["CLIPImage", "CLIPSupport", "CorpusSupport"]),
        .testTarget(name: "CLIPRuntimeTests", dependencies: ["CLIPRuntime", "CLIPConvert", "CLIPKernels", "CLIPFormat", "CLIPSupport", "CorpusSupport"]),
        // The bad-file corpus manifest and probes (PeakMemory), shared by the container, model, image,
        // converter and CLI tests.
        .target(name: "CorpusSupport", dependencies: ["CLIPFormat", "CLIPSupport"], path: "Tests/CorpusSupport"),
        .testTarget(name: "CLIPSearchTests", dependencies: ["CLIPSearch", "CLIPRuntime", "CLIPConvert", "CLIPFormat", "CLIPSupport", "CorpusSupport"]),
        .testTarget(name: "CLIPFormatTests", dependencies: ["CLIPFormat", "CLIPSupport", "CorpusSupport"]),
        .testTarget(name: "CLIPKernelsTests", dependencies: ["CLIPKernels", "CLIPKernelsC", "CLIPSupport"]),
        // The table itself, and every user of it on the committed checkpoints: converter,
        // .pclip writer and loader, the trainer's exporters.
        .testTarget(name: "CLIPSchemaTests", dependencies: ["CLIPSchema", "CLIPConvert", "CLIPRuntime", "CLIPFormat", "CLIPTrain"]),
        .testTarget(name: "CLIPConvertTests", dependencies: ["CLIPConvert", "CLIPFormat", "CLIPRuntime", "CLIPSupport", "CorpusSupport"]),
        .testTarget(name: "CLIPTrainTests", dependencies: ["CLIPTrain", "CLIPTokenizer", "CorpusSupport"]),
        .testTarget(name: "CLIPTrainDataTests", dependencies: ["CLIPTrainData", "CLIPTrain", "CLIPConvert", "CLIPRuntime", "CLIPImage", "CLIPTokenizer", "CLIPSupport", "CorpusSupport"]),
        .testTarget(name: "CLITests", dependencies: ["pocketclip", "CorpusSupport", "CImageCodecs", "CZlib"]),
    ],
    swiftLanguageModes: [.v5]
)
