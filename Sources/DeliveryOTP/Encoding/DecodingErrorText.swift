#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Turns `DecodingError`s into one-line messages that name the field and
/// never echo its value (values may be secret).
enum DecodingErrorText {
    /// `keys[1].secret` style path of the field at fault, or `root` for the whole document.
    static func path(of error: any Error, root: String) -> String {
        guard let error = error as? DecodingError else { return root }
        let context: DecodingError.Context
        switch error {
        case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            context = c
        @unknown default:
            return root
        }
        var path = ""
        for key in context.codingPath {
            if let index = key.intValue { path += "[\(index)]" } else { path += (path.isEmpty ? "" : ".") + key.stringValue }
        }
        if case .keyNotFound(let key, _) = error { path += (path.isEmpty ? "" : ".") + key.stringValue }
        return path.isEmpty ? root : path
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound?: "missing"
        case .typeMismatch(let type, _)?: "wrong type (expected \(typeName(type)))"
        case .valueNotFound(let type, _)?: "is null (expected \(typeName(type)))"
        case .dataCorrupted(let context)?:
            context.codingPath.isEmpty ? "the file is not valid JSON" : "invalid value"
        default: "the file is not valid JSON"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is UInt64.Type: "a number"
        case is Bool.Type: "true or false"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
