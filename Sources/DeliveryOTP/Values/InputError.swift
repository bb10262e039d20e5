/// A value from outside (a command line, a file, a typed field) that is not
/// valid input for spec v1. Each case says what is wrong; ``hint`` says how to fix it.
public enum InputError: DeliveryOTPError, Hashable {
    /// A shipment ID that is empty, longer than 64 characters, or has a character outside ASCII 0x21-0x7E.
    case invalidShipmentID(String, reason: String)
    /// A delivery date that is not `YYYY-MM-DD` or not a real calendar date.
    case invalidDate(String, reason: String)
    /// A scope longer than 32 characters or with a character outside `[A-Za-z0-9._-]`.
    case invalidScope(reason: String)
    /// A key id that is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    case invalidKeyID(reason: String)
    /// A device id that is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    case invalidDeviceID
}

extension InputError {
    /// What is wrong, quoting the value (control characters escaped).
    public var description: String {
        switch self {
        case .invalidShipmentID(let text, let reason): "invalid shipment ID \(Printable.quoted(text)): \(reason)"
        case .invalidDate(let text, let reason): "invalid date \(Printable.quoted(text)): \(reason)"
        case .invalidScope(let reason): "invalid scope: \(reason)"
        case .invalidKeyID(let reason): "invalid key id: \(reason)"
        case .invalidDeviceID: "invalid device id"
        }
    }

    /// How to fix it, in one line.
    public var hint: String? {
        switch self {
        case .invalidShipmentID: "a shipment ID is 1 to 64 printable ASCII characters (0x21-0x7E), no spaces"
        case .invalidDate: "write the date as YYYY-MM-DD, e.g. 2024-01-17"
        case .invalidScope: "a scope is 0 to 32 characters from A-Z a-z 0-9 . _ -"
        case .invalidKeyID: "a key id is 1 to 64 characters from A-Z a-z 0-9 . _ -"
        case .invalidDeviceID: "a device id is 1 to 64 characters from A-Z a-z 0-9 . _ -"
        }
    }
}

/// Shows untrusted text in messages without letting control characters reach a terminal.
enum Printable {
    static func quoted(_ text: some StringProtocol, limit: Int = 80) -> String {
        var out = "'"
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == limit { out += "..."; break }
            if scalar.value >= 0x20 && scalar.value < 0x7F && scalar != "'" && scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else {
                out += scalar.escaped(asASCII: true)
            }
        }
        return out + "'"
    }

    /// `U+0020 (space)` style name for one offending character.
    static func describe(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        switch scalar {
        case " ": return "\(code) (space)"
        case "\t": return "\(code) (tab)"
        default:
            return scalar.value >= 0x21 && scalar.value < 0x7F ? "'\(scalar)'" : code
        }
    }
}
