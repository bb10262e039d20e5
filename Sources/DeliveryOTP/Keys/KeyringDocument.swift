#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Keyring file format v1 as JSON (SPEC.md, "Keyring file"); parsed here,
/// validated into a ``Keyring``. Unknown fields are ignored.
struct KeyringDocument: Decodable {
    static let formatName = "delivery-otp-keyring"
    static let currentVersion = 1

    var format: String
    var version: Int
    var example: Bool?
    var keys: [Record]

    struct Record: Decodable {
        var id: String
        var secret: SecretText
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
        let data = Data(
            bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!),
            count: bytes.count, deallocator: .none)
        let decoder = JSONDecoder()
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: data)
        } catch {
            throw .notJSON(reason: DecodingErrorText.describe(error))
        }
        guard header.format == formatName else { throw .wrongFormat(found: header.format) }
        switch JSONDuplicateMembers.check(bytes) {
        case .duplicate(let path): throw .duplicateMember(path: path)
        case .unreadable:
            throw .notJSON(
                reason: "not one JSON object in UTF-8 (no byte-order mark), nested at most \(JSONDuplicateMembers.maximumDepth) deep")
        case nil: break
        }
        guard let version = header.version else {
            throw .invalidField(path: "version", reason: "missing")
        }
        guard version == currentVersion else { throw .unsupportedVersion(version) }
        do {
            return try decoder.decode(KeyringDocument.self, from: data)
        } catch {
            throw .invalidField(path: DecodingErrorText.path(of: error, root: "keyring"), reason: DecodingErrorText.describe(error))
        }
    }
}

extension Keyring {
    /// Keyring format v1 as pretty-printed JSON, fields in the order of SPEC.md §4.
    /// Unknown fields of a file that was read are not kept.
    func jsonText() -> JSONText {
        var text = JSONText()
        text.raw("{\n  \"format\": ")
        text.string(KeyringDocument.formatName)
        text.raw(",\n  \"version\": \(KeyringDocument.currentVersion),\n")
        if isExample { text.raw("  \"example\": true,\n") }
        text.raw("  \"keys\": [")
        for (index, key) in keys.enumerated() {
            text.raw(index == 0 ? "\n    {\n      \"id\": " : ",\n    {\n      \"id\": ")
            text.string(key.id.rawValue)
            text.raw(",\n      \"secret\": ")
            text.base64(key.secret)
            text.raw(",\n      \"activeFrom\": ")
            text.string(key.activeFrom.description)
            text.raw(",\n      \"createdAt\": ")
            if let createdAt = key.createdAt { text.string(createdAt.description) } else { text.raw("null") }
            text.raw(",\n      \"revokedAt\": ")
            if let revokedAt = key.revokedAt { text.string(revokedAt.description) } else { text.raw("null") }
            text.raw("\n    }")
        }
        text.raw(keys.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        return text
    }
}
