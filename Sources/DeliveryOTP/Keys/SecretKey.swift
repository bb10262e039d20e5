/// Secret key material: a master secret or a day key.
///
/// The bytes live in a private heap buffer that is wiped with `OPENSSL_cleanse`
/// when the last copy goes away. They are reachable only inside
/// ``withUnsafeBytes(_:)``; the type has no description, debug description or
/// mirror that shows them, and `==` compares in constant time.
public struct SecretKey: Sendable {
    private let storage: Storage

    /// Copies `bytes` into a new secret. The caller remains responsible for
    /// wiping its own copy.
    public init(copying bytes: UnsafeRawBufferPointer) {
        storage = Storage(count: bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 {
            storage.bytes.baseAddress!.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// Copies `bytes` into a new secret, straight into its wiped-on-release buffer
    /// (no intermediate array that would be freed unwiped).
    public init(copying bytes: some Collection<UInt8>) {
        let storage = Storage(count: bytes.count)
        for (offset, byte) in bytes.enumerated() { storage.bytes[offset] = byte }
        self.storage = storage
    }

    /// A new secret of `byteCount` bytes from OpenSSL's CSPRNG (`RAND_bytes`).
    public static func generate(byteCount: Int = 32) throws(RandomSourceError) -> SecretKey {
        let storage = Storage(count: byteCount)
        try SecureRandom.fill(storage.bytes)
        return SecretKey(storage: storage)
    }

    /// Wraps a buffer that was filled in place (for example by HKDF); takes ownership.
    init(filling byteCount: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let storage = Storage(count: byteCount)
        fill(storage.bytes)
        self.storage = storage
    }

    private init(storage: Storage) {
        self.storage = storage
    }

    /// The number of secret bytes.
    public var byteCount: Int { storage.bytes.count }

    /// Calls `body` with the secret bytes. Do not let the pointer escape.
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeRawBufferPointer(storage.bytes))
    }

    /// Owns the secret bytes and wipes them on release.
    private final class Storage: @unchecked Sendable {
        // Written only during initialisation, read-only afterwards.
        let bytes: UnsafeMutableRawBufferPointer

        init(count: Int) {
            // Never a zero-sized allocation: keeps baseAddress non-nil.
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
            bytes = UnsafeMutableRawBufferPointer(start: raw, count: count)
        }

        deinit {
            SecureMemory.wipe(UnsafeMutableRawBufferPointer(start: bytes.baseAddress, count: max(bytes.count, 1)))
            bytes.baseAddress!.deallocate()
        }
    }
}

extension SecretKey: Equatable {
    /// Constant-time in the contents; the lengths are public.
    public static func == (lhs: SecretKey, rhs: SecretKey) -> Bool {
        guard lhs.byteCount == rhs.byteCount else { return false }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in SecureMemory.constantTimeEqual(a, b) }
        }
    }
}

extension SecretKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The length only, never the bytes: `SecretKey(32 bytes, redacted)`.
    public var description: String { "SecretKey(\(byteCount) bytes, redacted)" }
    /// The same as ``description``: the bytes are never shown.
    public var debugDescription: String { description }
    /// A mirror with no children, so `dump` and debuggers do not show the bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
