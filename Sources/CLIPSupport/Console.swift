// Standard error and the clock, for programs that report progress: text goes straight to the
// descriptor (unbuffered, so it interleaves correctly with a crash or a kill), and elapsed time
// comes from the monotonic clock (immune to changes of the wall clock).

/// Writes `text` to standard error as it is (no newline added).
public func writeStderr(_ text: String) {
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}

/// Writes `line` and a newline to standard error.
public func stderrLine(_ line: String) { writeStderr(line + "\n") }

/// Seconds on the monotonic clock (from an arbitrary start): subtract two readings.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
