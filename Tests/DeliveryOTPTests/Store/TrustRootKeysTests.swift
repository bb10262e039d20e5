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

    /// Whether the TLS library can extract `key` (it stops the process on the others): RSA, or a
    /// NIST curve (P-224, P-256, P-384, P-521).
    static func libraryExtracts(_ key: [UInt8]) -> Bool {
        let rsa: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
        let ec: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
        let curves: [[UInt8]] = [
            [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07], [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x21],
            [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22], [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23],
        ]
        // The algorithm identifier comes first: a SEQUENCE within the first few dozen bytes.
        let head = Array(key.prefix(40))
        func holds(_ part: [UInt8]) -> Bool {
            head.count >= part.count && (0...head.count - part.count).contains { Array(head[$0..<$0 + part.count]) == part }
        }
        return holds(rsa) || (holds(ec) && curves.contains(where: holds))
    }

    @Test("reads the same key as the TLS library for every root of the system's bundle and for authorities of our own")
    func sameKeyAsTheLibrary() throws {
        var certificates = [try Self.certificate(PostgresCommandTests.ownAuthority), try Self.certificate(CertificateDERTests.versionOne)]
        if let bundle = FileManager.default.contents(atPath: "/etc/ssl/certs/ca-certificates.crt") {
            certificates += try NIOSSLCertificate.fromPEMBytes(Array(bundle))
        }
        var compared = 0
        for certificate in certificates {
            let key = try #require(TrustRootKeys.key(of: certificate))
            // A root of another type (a local authority added to the bundle) would stop this process here.
            guard Self.libraryExtracts(key) else { continue }
            #expect(key == (try certificate.extractPublicKey().toSPKIBytes()))
            compared += 1
        }
        #expect(compared >= 2)
        if TrustRootKeys.system != nil { #expect(compared > 100) }
    }

    @Test("reads a brainpool key, which the TLS library cannot extract, as openssl does")
    func brainpoolKey() throws {
        // openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | base64
        let expected =
            "MFowFAYHKoZIzj0CAQYJKyQDAwIIAQEHA0IABGgIYRQj+U3AqG13wp2pgYhwVy24ksrIUiCJhVwkCr99noVZqsGJifHa3AsAjsExpYtemOLX/WHh9037kvUmRwY="
        let key = try #require(TrustRootKeys.key(of: try Self.certificate(PostgresCommandTests.brainpoolAuthority)))
        #expect(Data(key) == Data(base64Encoded: expected))
    }

    @Test("keeps every readable certificate of a bundle with CRLF lines, comments, a stray DER block, one cut short and bytes not UTF-8")
    func untidyBundle() throws {
        let own = PostgresCommandTests.ownAuthority.replacingOccurrences(of: "\n", with: "\r\n")
        let der = try Self.certificate(PostgresCommandTests.ownAuthority).toDERBytes()
        var bundle = Data("# Zürich\n".utf8)
        bundle.append(contentsOf: [0xFC, 0xFF, 0x0A])  // Latin-1, and a byte that is never UTF-8
        bundle.append(contentsOf: der)
        bundle.append(Data("\n-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".utf8))
        bundle.append(Data("-----BEGIN CERTIFICATE-----\nMIIB\n".utf8))  // cut short: its END is lost
        bundle.append(Data(own.utf8))
        bundle.append(Data(PostgresCommandTests.brainpoolAuthority.utf8))
        let roots = TrustRootKeys(bundle: bundle)
        #expect(roots.contains(keyOf: try Self.certificate(PostgresCommandTests.ownAuthority)))
        #expect(roots.contains(keyOf: try Self.certificate(PostgresCommandTests.brainpoolAuthority)))
        let other = TrustRootKeys(bundle: Data(PostgresCommandTests.brainpoolAuthority.utf8))
        #expect(!other.contains(keyOf: try Self.certificate(PostgresCommandTests.ownAuthority)))
        #expect(TrustRootKeys(bundle: Data("# nothing here\n".utf8)).isEmpty)
    }
}
