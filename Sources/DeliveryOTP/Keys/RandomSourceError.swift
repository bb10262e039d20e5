/// The operating system's random source failed; nothing secret was produced.
public struct RandomSourceError: Error, CustomStringConvertible, Sendable {
    public var description: String {
        "the system's secure random source (OpenSSL RAND_bytes) failed"
    }
}
