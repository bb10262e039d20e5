/// The operating system's random source failed; nothing secret was produced.
public struct RandomSourceError: DeliveryOTPError {
    package init() {}
    /// What failed.
    public var description: String {
        "the system's secure random source (OpenSSL RAND_bytes) failed"
    }
}
