#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Keyring file format v1 as JSON (SPEC.md, "Keyring file"); parsed here,
/// validated into a ``Keyring``. Unknown fields are ignored.
struct KeyringDocument: Codable {
    static let formatName = "delivery-otp-keyring"
    static let currentVersion = 1

    var format: String
    var version: Int
    var example: Bool?
    var keys: [Record]

    struct Record: Codable {
        var id: String
        var secret: String
        var activeFrom: String
        var createdAt: String?
        var revokedAt: String?
    }

    /// Just enough to refuse another format or version with a precise message.
    private struct Header: Decodable {
        var format: String?
        var version: Int?
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(KeyringError) -> KeyringDocument {
        // Parse in place: no copy of the secret-bearing text is made here.
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!),
                        count: bytes.count, deallocator: .none)
        let decoder = JSONDecoder()
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: data)
        } catch {
            throw .notJSON(reason: describe(error))
        }
        guard header.format == formatName else { throw .wrongFormat(found: header.format) }
        guard let version = header.version else {
            throw .invalidField(path: "version", reason: "missing")
        }
        guard version == currentVersion else { throw .unsupportedVersion(version) }
        do {
            return try decoder.decode(KeyringDocument.self, from: data)
        } catch {
            throw .invalidField(path: path(of: error), reason: describe(error))
        }
    }

    private static func path(of error: any Error) -> String {
        guard let error = error as? DecodingError else { return "keyring" }
        let context: DecodingError.Context
        switch error {
        case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            context = c
        @unknown default:
            return "keyring"
        }
        var path = ""
        for key in context.codingPath {
            if let index = key.intValue { path += "[\(index)]" } else { path += (path.isEmpty ? "" : ".") + key.stringValue }
        }
        if case .keyNotFound(let key, _) = error { path += (path.isEmpty ? "" : ".") + key.stringValue }
        return path.isEmpty ? "keyring" : path
    }

    /// One line, without echoing values (they may be secret).
    private static func describe(_ error: any Error) -> String {
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
        case is Int.Type: "a number"
        case is Bool.Type: "true or false"
        case is [Record].Type: "an array"
        default: "an object"
        }
    }
}
