// The C library of the platform, imported once for the whole project: a file that needs
// `open`, `mmap`, `expf` or `pthread_mutex_lock` writes `import CLIPSupport` (as swift-nio's
// System.swift does). Linux with glibc is the platform PocketCLIP is built and tested on; Musl
// (static board builds) and Darwin are named so the import itself never stands in the way.

#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#endif
