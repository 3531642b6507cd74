// `pocketclip verify`: every checksum of a .pclip file, and that the model in it loads.

import ArgumentParser
import CLIPFormat
import CLIPRuntime

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum of a .pclip file and that every tensor decodes.",
        discussion: """
            Checks the header, metadata and directory CRCs, each tensor's CRC-32, that each zstd \
            frame decompresses to exactly its declared size, and that the tensors match the \
            model the metadata describes. Exit status 0 when all is well, 1 with the first fault.

            Example:
              pocketclip verify model.pclip && scp model.pclip board:
            """)

    @Argument(help: "A .pclip file.")
    var file: String

    func run() throws {
        try reportingErrors {
            let f = try openPclip(file)
            try f.verifyAll()
            let (_, _, _, towers) = try CLIPModel.validate(f)
            _ = try CLIPModel.load(pclip: file, towers: towers)
            print("\(file): OK (\(f.tensors.count) tensors, \(formatBytes(f.fileSize)), every checksum matches)")
        }
    }
}
