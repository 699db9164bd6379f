#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Clocks for the stage figures stamp reports (`Benchmarks/pack.sh` reads them): thread CPU
/// time holds on a busy machine, where wall time does not.
public enum Clocks {
    /// The calling thread's CPU time (user + system), in nanoseconds.
    public static func threadCPU() -> UInt64 { read(CLOCK_THREAD_CPUTIME_ID) }

    /// The whole process's CPU time (every thread, user + system), in nanoseconds.
    public static func processCPU() -> UInt64 { read(CLOCK_PROCESS_CPUTIME_ID) }

    /// A monotonic wall clock, in nanoseconds.
    public static func monotonic() -> UInt64 { read(CLOCK_MONOTONIC) }

    private static func read(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
