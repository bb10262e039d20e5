/// A device's name in the attempt log: 1 to 64 characters from `[A-Za-z0-9._-]`.
public struct DeviceID: Hashable, Sendable, CustomStringConvertible {
    /// The name as given.
    public let rawValue: String

    /// Validates a device name; anything else is ``InputError/invalidDeviceID``.
    public init(_ text: some StringProtocol) throws(InputError) {
        let string = String(text)
        guard !string.isEmpty, string.utf8.count <= 64, string.unicodeScalars.allSatisfy(Scope.isAllowed) else {
            throw .invalidDeviceID
        }
        rawValue = string
    }

    /// The name itself.
    public var description: String { rawValue }
}
