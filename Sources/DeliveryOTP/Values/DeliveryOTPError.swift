/// What every error of this library offers: a one-line `description` of what is wrong,
/// and an optional one-line ``hint`` on how to fix it.
///
/// Both are written for a person, in words an app can show (they never name a
/// command-line flag, and never contain a secret or a typed code). A program
/// decides what to do by switching on the error's cases or kind, never on the text.
public protocol DeliveryOTPError: Error, Sendable, CustomStringConvertible {
    /// How to fix it, in one line; nil when the description says it all.
    var hint: String? { get }
}

extension DeliveryOTPError {
    /// No hint unless the error type gives one.
    public var hint: String? { nil }
}
