// swift-tools-version:6.0
// libFuzzer targets for PocketCLIP's untrusted-input parsers. A separate package because a fuzz
// executable has no `main` (libFuzzer supplies it), so it cannot link in the main package's
// plain `swift build`. Build and run with ../tools/fuzz/fuzz.sh, which passes --sanitize=fuzzer.
import PackageDescription

// A path dependency's identity is its directory's name, which differs between checkouts
// (main, a worktree, CI), so it is read from where this package sits instead of hard-coded.
let parentIdentity = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "pocketclip")

let package = Package(
    name: "PocketCLIPFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        // CLIPFormat is not a product of the main package; it is reached through CLIPConvert
        // (which depends on it), so `import CLIPFormat` resolves from the shared module path.
        // Helpers shared by the targets (checksum fix-ups, scratch paths); no entry point.
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "CLIPRuntime", package: parentIdentity)]),
        .executableTarget(
            name: "FuzzPclip",
            dependencies: [.product(name: "CLIPConvert", package: parentIdentity), "FuzzSupport"]),
        .executableTarget(
            name: "FuzzSafetensors",
            dependencies: [.product(name: "CLIPConvert", package: parentIdentity)]),
        // CLIPImage and CLIPTokenizer are reached the same way, through the CLIPRuntime product.
        .executableTarget(
            name: "FuzzImage",
            dependencies: [.product(name: "CLIPRuntime", package: parentIdentity)]),
        .executableTarget(
            name: "FuzzTokenizer",
            dependencies: [.product(name: "CLIPRuntime", package: parentIdentity)]),
        // The training module's readers of untrusted files: Fashion-MNIST IDX, captions TSV/JSONL.
        .executableTarget(
            name: "FuzzIDX",
            dependencies: [.product(name: "CLIPTrainData", package: parentIdentity)]),
        .executableTarget(
            name: "FuzzCaptions",
            dependencies: [.product(name: "CLIPTrainData", package: parentIdentity)]),
        // The readers of files a user hands over: class heads (runtime) and embedding indexes (search).
        .executableTarget(
            name: "FuzzHead",
            dependencies: [.product(name: "CLIPRuntime", package: parentIdentity), "FuzzSupport"]),
        .executableTarget(
            name: "FuzzIndex",
            dependencies: [.product(name: "CLIPSearch", package: parentIdentity), "FuzzSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
