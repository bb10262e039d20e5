import Foundation

/// A keyring encrypted at rest (SPEC.md §5): the plaintext keyring JSON sealed
/// with AES-256-GCM under a key derived from a passphrase with scrypt. The
/// parameters are stored in the file and bound to the ciphertext as associated data.
struct EncryptedKeyring {
    static let formatName = "delivery-otp-keyring-encrypted"
    static let currentVersion = 1
    static let cipherName = "AES-256-GCM"
    /// N = 2^15, r = 8, p = 1: the minimum this release writes and accepts.
    static let minimumN: UInt64 = 1 << 15
    /// Bounds on what is read, so a crafted file cannot ask for gigabytes.
    static let maximumN: UInt64 = 1 << 20

    struct Document: Codable {
        struct KDF: Codable {
            var name: String
            var N: UInt64
            var r: UInt64
            var p: UInt64
            var salt: String
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
        Array("\(formatName)/v\(currentVersion)/\(kdf.name)/N=\(kdf.N)/r=\(kdf.r)/p=\(kdf.p)/\(cipherName)".utf8)
    }

    /// Seals the plaintext keyring JSON with a fresh salt and nonce.
    static func seal(_ plaintext: UnsafeRawBufferPointer, passphrase: Passphrase) throws(KeyringFileError) -> [UInt8] {
        let salt: [UInt8], nonce: [UInt8]
        do {
            salt = try SecureRandom.bytes(count: 16)
            nonce = try SecureRandom.bytes(count: PassphraseCipher.nonceLength)
        } catch { throw .random }
        let kdf = Document.KDF(name: "scrypt", N: minimumN, r: 8, p: 1, salt: Data(salt).base64EncodedString())
        let sealed: [UInt8]
        do {
            let key = try PassphraseCipher.deriveKey(passphrase: passphrase.secret, salt: salt, n: kdf.N, r: kdf.r, p: kdf.p)
            sealed = try PassphraseCipher.seal(plaintext, key: key, nonce: nonce, aad: associatedData(kdf))
        } catch { throw .random }
        var text = JSONText()
        text.raw("{\n  \"format\": ")
        text.string(formatName)
        text.raw(",\n  \"version\": \(currentVersion),\n  \"kdf\": { \"name\": \"scrypt\", \"N\": \(kdf.N), \"r\": \(kdf.r), \"p\": \(kdf.p), \"salt\": ")
        text.string(kdf.salt)
        text.raw(" },\n  \"cipher\": ")
        text.string(cipherName)
        text.raw(",\n  \"nonce\": ")
        text.string(Data(nonce).base64EncodedString())
        text.raw(",\n  \"ciphertext\": ")
        text.string(Data(sealed).base64EncodedString())
        text.raw("\n}\n")
        return text.bytes
    }

    /// Opens an encrypted keyring; a wrong passphrase (or any changed byte) is `.wrongPassphrase`.
    static func open<R>(_ data: Data, path: String, passphrase: Passphrase,
                        _ body: (UnsafeRawBufferPointer) throws(KeyringFileError) -> R) throws(KeyringFileError) -> R {
        let document: Document
        do { document = try JSONDecoder().decode(Document.self, from: data) } catch {
            throw .invalid(path: path, .invalidField(path: DecodingErrorText.path(of: error, root: "encrypted keyring"),
                                                     reason: DecodingErrorText.describe(error)))
        }
        guard document.version == currentVersion else { throw .invalid(path: path, .unsupportedVersion(document.version)) }
        let kdf = document.kdf
        guard kdf.name == "scrypt", document.cipher == cipherName,
              kdf.N >= minimumN, kdf.N <= maximumN, kdf.N & (kdf.N - 1) == 0,
              (1...32).contains(kdf.r), (1...16).contains(kdf.p),
              let salt = Data(base64Encoded: kdf.salt), salt.count >= 16,
              let nonce = Data(base64Encoded: document.nonce), nonce.count == PassphraseCipher.nonceLength,
              let sealed = Data(base64Encoded: document.ciphertext)
        else {
            throw .invalid(path: path, .invalidField(path: "kdf", reason: "unsupported or malformed encryption parameters"))
        }
        let key: SecretKey
        do {
            key = try PassphraseCipher.deriveKey(passphrase: passphrase.secret, salt: Array(salt), n: kdf.N, r: kdf.r, p: kdf.p)
        } catch { throw .random }
        var inner: Result<R, KeyringFileError>?
        do {
            try PassphraseCipher.open(Array(sealed), key: key, nonce: Array(nonce), aad: associatedData(kdf)) { plaintext in
                inner = Result { () throws(KeyringFileError) in try body(plaintext) }
            }
        } catch {
            throw .wrongPassphrase(path: path)
        }
        return try inner!.get()
    }
}
