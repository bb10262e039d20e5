internal import CLibCrypto

/// scrypt and AES-256-GCM from OpenSSL, for keyrings encrypted at rest.
enum PassphraseCipher {
    static let keyLength = 32
    static let nonceLength = 12
    static let tagLength = 16

    struct Failure: Error {}

    /// The 32-byte file key: scrypt(passphrase, salt, N, r, p).
    static func deriveKey(passphrase: SecretKey, salt: [UInt8], n: UInt64, r: UInt64, p: UInt64) throws(Failure) -> SecretKey {
        // scrypt needs 128 * r * N bytes (plus a little); allow that and no more.
        let maxMemory = 128 * r * n + 4 * 1024 * 1024
        var status: Int32 = 0
        let key = SecretKey(filling: keyLength) { output in
            passphrase.withUnsafeBytes { pass in
                status = EVP_PBE_scrypt(
                    pass.baseAddress?.assumingMemoryBound(to: CChar.self), pass.count,
                    salt, salt.count, n, r, p, maxMemory,
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), output.count)
            }
        }
        guard status == 1 else {
            ERR_clear_error()
            throw Failure()
        }
        return key
    }

    /// AES-256-GCM; returns ciphertext followed by the 16-byte tag.
    static func seal(_ plaintext: UnsafeRawBufferPointer, key: SecretKey, nonce: [UInt8], aad: [UInt8]) throws(Failure) -> [UInt8] {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw Failure() }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var output = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        let ok = key.withUnsafeBytes { keyBytes -> Bool in
            output.withUnsafeMutableBytes { out -> Bool in
                let out8 = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var length: Int32 = 0
                guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, Int32(nonceLength), nil) == 1,
                    EVP_EncryptInit_ex(ctx, nil, nil, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce) == 1,
                    EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1,
                    EVP_EncryptUpdate(
                        ctx, out8, &length, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        Int32(plaintext.count)) == 1
                else { return false }
                var finalLength: Int32 = 0
                guard EVP_EncryptFinal_ex(ctx, out8 + Int(length), &finalLength) == 1,
                    Int(length + finalLength) == plaintext.count,
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(tagLength), out8 + plaintext.count) == 1
                else { return false }
                return true
            }
        }
        guard ok else {
            ERR_clear_error()
            throw Failure()
        }
        return output
    }

    /// Opens AES-256-GCM ciphertext||tag; the plaintext goes to `body` and is wiped afterwards.
    /// Fails (without any plaintext) when the key is wrong or a byte was changed.
    static func open<R>(
        _ sealed: [UInt8], key: SecretKey, nonce: [UInt8], aad: [UInt8],
        _ body: (UnsafeRawBufferPointer) -> R
    ) throws(Failure) -> R {
        guard sealed.count >= tagLength, nonce.count == nonceLength, let ctx = EVP_CIPHER_CTX_new() else { throw Failure() }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let count = sealed.count - tagLength
        let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer {
            SecureMemory.wipe(plaintext)
            plaintext.deallocate()
        }
        var tag = Array(sealed[count...])
        let ok = key.withUnsafeBytes { keyBytes -> Bool in
            let out8 = plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var length: Int32 = 0
            guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, Int32(nonceLength), nil) == 1,
                EVP_DecryptInit_ex(ctx, nil, nil, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce) == 1,
                EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1,
                EVP_DecryptUpdate(ctx, out8, &length, sealed, Int32(count)) == 1,
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(tagLength), &tag) == 1
            else { return false }
            var finalLength: Int32 = 0
            return EVP_DecryptFinal_ex(ctx, out8 + Int(length), &finalLength) == 1
        }
        guard ok else {
            ERR_clear_error()
            throw Failure()
        }
        return body(UnsafeRawBufferPointer(rebasing: plaintext[0..<count]))
    }
}
