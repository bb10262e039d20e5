import DeliveryOTPServer
import Foundation
import NIOSSL
import Testing

/// The keys that `verify-ca` compares an `sslrootcert` with: read from each certificate's DER,
/// never through the TLS library's key parser, and a bad block of a bundle leaves the rest in.
@Suite("The system's trust roots, by key")
struct TrustRootKeysTests {
    static func certificate(_ pem: String) throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)
    }

    @Test("reads the same key as the TLS library for every root of the system's bundle and for an authority of our own")
    func sameKeyAsTheLibrary() throws {
        var certificates = [try Self.certificate(PostgresCommandTests.ownAuthority)]
        if let bundle = FileManager.default.contents(atPath: "/etc/ssl/certs/ca-certificates.crt") {
            certificates += try NIOSSLCertificate.fromPEMBytes(Array(bundle))
        }
        for certificate in certificates {
            // Debian's bundle holds RSA and elliptic-curve keys of the named curves only, which the library can extract.
            let key = try #require(TrustRootKeys.key(of: certificate))
            #expect(key == (try certificate.extractPublicKey().toSPKIBytes()))
        }
        if TrustRootKeys.system != nil { #expect(certificates.count > 100) }
    }

    @Test("reads a brainpool key, which the TLS library cannot extract, as openssl does")
    func brainpoolKey() throws {
        // openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | base64
        let expected =
            "MFowFAYHKoZIzj0CAQYJKyQDAwIIAQEHA0IABGgIYRQj+U3AqG13wp2pgYhwVy24ksrIUiCJhVwkCr99noVZqsGJifHa3AsAjsExpYtemOLX/WHh9037kvUmRwY="
        let key = try #require(TrustRootKeys.key(of: try Self.certificate(PostgresCommandTests.brainpoolAuthority)))
        #expect(Data(key) == Data(base64Encoded: expected))
    }

    @Test("keeps every readable certificate of a bundle with CRLF lines, comments, a stray DER block and bytes that are not UTF-8")
    func untidyBundle() throws {
        let own = PostgresCommandTests.ownAuthority.replacingOccurrences(of: "\n", with: "\r\n")
        let der = try Self.certificate(PostgresCommandTests.ownAuthority).toDERBytes()
        var bundle = Data("# Zürich\n".utf8)
        bundle.append(contentsOf: [0xFC, 0xFF, 0x0A])  // Latin-1, and a byte that is never UTF-8
        bundle.append(contentsOf: der)
        bundle.append(Data("\n-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".utf8))
        bundle.append(Data(own.utf8))
        bundle.append(Data(PostgresCommandTests.brainpoolAuthority.utf8))
        let roots = TrustRootKeys(bundle: bundle)
        #expect(roots.contains(keyOf: try Self.certificate(PostgresCommandTests.ownAuthority)))
        #expect(roots.contains(keyOf: try Self.certificate(PostgresCommandTests.brainpoolAuthority)))
        let other = TrustRootKeys(bundle: Data(PostgresCommandTests.brainpoolAuthority.utf8))
        #expect(!other.contains(keyOf: try Self.certificate(PostgresCommandTests.ownAuthority)))
        #expect(TrustRootKeys(bundle: Data("# nothing here\n".utf8)).isEmpty)
    }

    @Test("finds no key in a certificate's DER cut short at any byte, or changed in its first bytes")
    func truncatedDER() throws {
        let der = try Self.certificate(PostgresCommandTests.ownAuthority).toDERBytes()
        #expect(TrustRootKeys.subjectPublicKeyInfo(ofCertificate: der[...]) != nil)
        for end in 0..<der.count {
            #expect(TrustRootKeys.subjectPublicKeyInfo(ofCertificate: der[..<end]) == nil, "cut at \(end)")
        }
        for (index, byte) in [(0, UInt8(0x31)), (1, 0x85), (1, 0xFF), (4, 0x1F)] {
            var changed = der
            changed[index] = byte
            #expect(TrustRootKeys.subjectPublicKeyInfo(ofCertificate: changed[...]) == nil, "byte \(index) = \(byte)")
        }
    }
}
