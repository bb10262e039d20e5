import DeliveryOTP

/// One token as the tokens file keeps it: never the token, only its SHA-256 digest.
public struct TokenEntry: Sendable, Hashable {
    /// The token's name: 1 to 64 characters from `[A-Za-z0-9._-]`. It names the caller in logs,
    /// metrics and the attempt log (as the device id of an online verify).
    public let name: DeviceID
    /// What the token may do.
    public let role: Role
    /// The scopes it may act in. A courier or device token has at least one; an issuer or auditor
    /// token with none may act in every scope.
    public let scopes: [Scope]
    /// A device token's device id, written into the day keys it fetches.
    public let deviceID: DeviceID?
    /// SHA-256 of the token text.
    public let digest: [UInt8]
    /// When the token was made.
    public let createdAt: Timestamp

    /// Checks the combination: a courier needs a scope; a device needs exactly one scope and a device id;
    /// only a device has a device id.
    public init(
        name: DeviceID, role: Role, scopes: [Scope], deviceID: DeviceID?, digest: [UInt8], createdAt: Timestamp
    ) throws(TokenFileError) {
        guard digest.count == SHA256Digest.byteCount else { throw .invalid("token \(name): the digest is not 32 bytes") }
        switch role {
        case .courier where scopes.isEmpty:
            throw .combination("a courier token needs at least one --scope")
        case .device where scopes.count != 1:
            throw .combination("a device token needs exactly one --scope")
        case .device where deviceID == nil:
            throw .combination("a device token needs --device-id")
        case .issuer, .courier, .auditor:
            if deviceID != nil { throw .combination("only a device token has a --device-id") }
        default: break
        }
        guard Set(scopes).count == scopes.count else { throw .combination("token \(name) names a scope twice") }
        self.name = name
        self.role = role
        self.scopes = scopes
        self.deviceID = deviceID
        self.digest = digest
        self.createdAt = createdAt
    }

    /// Whether the token may act in `scope`: one of its scopes, or any when it is bound to none.
    public func allows(_ scope: Scope) -> Bool { scopes.isEmpty || scopes.contains(scope) }
}

/// The tokens the service accepts, looked up by the digest of the presented token.
///
/// A lookup hashes what the caller sent and finds the digest in a dictionary: the time it takes
/// depends on the digest, which an attacker cannot steer towards a stored one, so a token that
/// differs from a real one in its last character takes as long as one that differs everywhere.
public struct TokenTable: Sendable {
    /// The tokens, in file order.
    public let entries: [TokenEntry]
    /// The published example tokens (keys-example/tokens.json): marked `"example": true`, or holding a
    /// digest of one of them. Served only beside the example keys.
    public let isExample: Bool
    private let byDigest: [[UInt8]: TokenEntry]

    /// A table of `entries`; names and digests must be unique.
    public init(_ entries: [TokenEntry], isExample: Bool = false) throws(TokenFileError) {
        var byDigest: [[UInt8]: TokenEntry] = [:]
        var names: Set<String> = []
        for entry in entries {
            guard names.insert(entry.name.rawValue).inserted else { throw .invalid("the name \(entry.name) is used twice") }
            guard byDigest.updateValue(entry, forKey: entry.digest) == nil else { throw .invalid("two tokens have one digest") }
        }
        self.entries = entries
        self.byDigest = byDigest
        self.isExample = isExample || entries.contains { ExampleTokens.digests.contains($0.digest) }
    }

    /// The entry of a presented token, or nil. Anything without a token's shape is nil before hashing.
    public func entry(forToken text: Substring) -> TokenEntry? {
        guard BearerToken.isWellFormed(text) else { return nil }
        return byDigest[SHA256Digest.hash(text)]
    }
}
