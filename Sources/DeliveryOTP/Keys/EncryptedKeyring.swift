import Foundation

/// A keyring encrypted at rest (SPEC.md §5): the plaintext keyring JSON sealed
/// with AES-256-GCM under a key derived from a passphrase with scrypt. The
/// parameters are stored in the file and bound to the ciphertext as associated data.
package struct EncryptedKeyring {
    static let formatName = "delivery-otp-keyring-encrypted"
    static let currentVersion = 1
    static let cipherName = "AES-256-GCM"
    /// What this release writes: N = 2^17, r = 8, p = 1 (128 MiB, about 0.75 s here).
    static let writtenN: UInt64 = 1 << 17
    /// The weakest parameters read (files written by the first release used 2^15).
    static let minimumN: UInt64 = 1 << 15
    /// Bounds on what is read (SPEC.md §5), so a crafted file cannot ask for gigabytes or hours.
    static let maximumN: UInt64 = 1 << 20
    static let maximumR: UInt64 = 16
    static let maximumP: UInt64 = 4
    /// scrypt's memory, 128 · N · r bytes, at most 1 GiB.
    static let maximumMemory: UInt64 = 1 << 30

    package struct Document: Codable {
        package struct KDF: Codable, Equatable {
            package var name: String
            package var n: UInt64
            package var r: UInt64
            package var p: UInt64
            package var salt: String

            /// The file spells scrypt's cost parameter `N`, as RFC 7914 does.
            enum CodingKeys: String, CodingKey {
                case name
                case n = "N"
                case r, p, salt
            }
        }
        var format: String
        var version: Int
        var kdf: KDF
        var cipher: String
        var nonce: String
        var ciphertext: String
    }

    /// The associated data: every parameter that is not already bound by the key or the nonce.
    static func associatedData(_ kdf: Document.KDF) -> [UInt8] {
        Array("\(formatName)/v\(currentVersion)/\(kdf.name)/N=\(kdf.n)/r=\(kdf.r)/p=\(kdf.p)/\(cipherName)".utf8)
    }

    /// Seals the plaintext keyring JSON with a fresh salt and nonce.
    static func seal(_ plaintext: UnsafeRawBufferPointer, passphrase: Passphrase) throws(KeyringError) -> [UInt8] {
        let salt: [UInt8], nonce: [UInt8]
        do {
            salt = try SecureRandom.bytes(count: 16)
            nonce = try SecureRandom.bytes(count: PassphraseCipher.nonceLength)
        } catch { throw .randomSourceFailed }
        let kdf = Document.KDF(name: "scrypt", n: writtenN, r: 8, p: 1, salt: Data(salt).base64EncodedString())
        let key: SecretKey, sealed: [UInt8]
        do { key = try PassphraseCipher.deriveKey(passphrase: passphrase.secret, salt: salt, n: kdf.n, r: kdf.r, p: kdf.p) } catch {
            throw .encryptionFailed("scrypt (OpenSSL) could not derive the file key")
        }
        do { sealed = try PassphraseCipher.seal(plaintext, key: key, nonce: nonce, aad: associatedData(kdf)) } catch {
            throw .encryptionFailed("AES-256-GCM (OpenSSL) could not encrypt the keyring")
        }
        return Envelope(kdf: kdf, salt: salt, nonce: nonce, sealed: sealed).serialized()
    }

    /// Opens an encrypted keyring; a wrong passphrase (or any changed byte) is `.wrongPassphrase`.
    static func open<R>(
        _ bytes: UnsafeRawBufferPointer, passphrase: Passphrase,
        _ body: (UnsafeRawBufferPointer) throws(KeyringError) -> R
    ) throws(KeyringError) -> R {
        let envelope = try Envelope(parsing: bytes)
        return try envelope.open(key: envelope.key(for: passphrase), body)
    }

    /// An encrypted keyring's file, parsed and checked, before any key is derived: the scrypt
    /// parameters within bounds, the salt, nonce and ciphertext decoded.
    package struct Envelope: Equatable {
        package var kdf: Document.KDF
        package var salt: [UInt8]
        package var nonce: [UInt8]
        /// The ciphertext with its 16-byte tag at the end.
        package var sealed: [UInt8]

        init(kdf: Document.KDF, salt: [UInt8], nonce: [UInt8], sealed: [UInt8]) {
            self.kdf = kdf
            self.salt = salt
            self.nonce = nonce
            self.sealed = sealed
        }

        /// Reads the file's JSON strictly (no duplicate member, nesting bounded) and checks every
        /// field, so that a crafted file can ask for neither gigabytes of memory nor hours of scrypt.
        package init(parsing bytes: UnsafeRawBufferPointer) throws(KeyringError) {
            switch JSONDuplicateMembers.check(bytes) {
            case .duplicate(let member): throw .duplicateMember(path: member)
            case .unreadable:
                throw .notJSON(reason: "not one JSON object in UTF-8, nested at most \(JSONDuplicateMembers.maximumDepth) deep")
            case nil: break
            }
            let data = Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!),
                count: bytes.count, deallocator: .none)
            let document: Document
            do { document = try JSONDecoder().decode(Document.self, from: data) } catch {
                throw .invalidField(
                    path: DecodingErrorText.path(of: error, root: "encrypted keyring"), reason: DecodingErrorText.describe(error))
            }
            guard document.version == currentVersion else { throw .unsupportedVersion(document.version) }
            let kdf = document.kdf
            func refuse(_ field: String, _ reason: String) -> KeyringError {
                .invalidField(path: field, reason: reason)
            }
            guard kdf.name == "scrypt" else {
                throw refuse("kdf.name", "\(Printable.quoted(kdf.name)) is not supported; this release reads scrypt")
            }
            guard document.cipher == cipherName else {
                throw refuse("cipher", "\(Printable.quoted(document.cipher)) is not supported; this release reads \(cipherName)")
            }
            guard kdf.n >= minimumN, kdf.n <= maximumN, kdf.n & (kdf.n - 1) == 0 else {
                throw refuse("kdf.N", "\(kdf.n) is not a power of two from 2^15 to 2^20 (larger values could take gigabytes of memory)")
            }
            guard (1...maximumR).contains(kdf.r) else { throw refuse("kdf.r", "\(kdf.r) is not 1 to \(maximumR)") }
            guard (1...maximumP).contains(kdf.p) else { throw refuse("kdf.p", "\(kdf.p) is not 1 to \(maximumP)") }
            guard 128 * kdf.n * kdf.r <= maximumMemory else {
                throw refuse(
                    "kdf", "N = \(kdf.n) and r = \(kdf.r) need \(128 * kdf.n * kdf.r >> 20) MiB; this release allows at most 1024 MiB")
            }
            // Canonical base64 only (padded, no white space, unused bits zero): one file, one reading.
            guard let salt = CanonicalBase64.decode(kdf.salt), salt.count >= 16 else {
                throw refuse("kdf.salt", "not canonical base64 of 16 or more bytes")
            }
            guard let nonce = CanonicalBase64.decode(document.nonce), nonce.count == PassphraseCipher.nonceLength else {
                throw refuse("nonce", "not canonical base64 of \(PassphraseCipher.nonceLength) bytes")
            }
            guard let sealed = CanonicalBase64.decode(document.ciphertext) else { throw refuse("ciphertext", "not canonical base64") }
            self.init(kdf: kdf, salt: salt, nonce: nonce, sealed: sealed)
        }

        /// The file key: scrypt of the passphrase with this envelope's salt and parameters (slow by design).
        package func key(for passphrase: Passphrase) throws(KeyringError) -> SecretKey {
            do { return try PassphraseCipher.deriveKey(passphrase: passphrase.secret, salt: salt, n: kdf.n, r: kdf.r, p: kdf.p) } catch {
                throw .encryptionFailed("scrypt (OpenSSL) could not derive the file key")
            }
        }

        /// Decrypts with the key derived from the passphrase and calls `body` with the plaintext,
        /// which is wiped afterwards; a wrong key, or any changed byte, is `.wrongPassphrase`.
        package func open<R>(key: SecretKey, _ body: (UnsafeRawBufferPointer) throws(KeyringError) -> R) throws(KeyringError) -> R {
            var inner: Result<R, KeyringError>?
            do {
                try PassphraseCipher.open(sealed, key: key, nonce: nonce, aad: associatedData(kdf)) { plaintext in
                    inner = Result { () throws(KeyringError) in try body(plaintext) }
                }
            } catch {
                throw .wrongPassphrase
            }
            return try inner!.get()
        }

        /// The file as this release writes it (SPEC.md §5): members in a fixed order, base64 standard.
        package func serialized() -> [UInt8] {
            var text = JSONText()
            text.raw("{\n  \"format\": ")
            text.string(formatName)
            text.raw(
                ",\n  \"version\": \(currentVersion),\n  \"kdf\": { \"name\": \"scrypt\", \"N\": \(kdf.n), \"r\": \(kdf.r), \"p\": \(kdf.p), \"salt\": "
            )
            text.string(Data(salt).base64EncodedString())
            text.raw(" },\n  \"cipher\": ")
            text.string(cipherName)
            text.raw(",\n  \"nonce\": ")
            text.string(Data(nonce).base64EncodedString())
            text.raw(",\n  \"ciphertext\": ")
            text.string(Data(sealed).base64EncodedString())
            text.raw("\n}\n")
            return text.bytes
        }
    }
}
