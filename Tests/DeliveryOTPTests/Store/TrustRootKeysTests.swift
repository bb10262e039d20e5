import CertificateDER
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

    /// A version 1 certificate (no version field, no extensions), made with `openssl x509 -req -signkey`.
    static let versionOne = """
        -----BEGIN CERTIFICATE-----
        MIIBPjCB5QIUIb3dr/tAP3YrnG6RiWflF4RCUh4wCgYIKoZIzj0EAwIwITEfMB0G
        A1UEAwwWRGVsaXZlcnlPVFAgdGVzdCB2MSBDQTAgFw0yNjEyMDYyMDMxMjRaGA8y
        MTI2MTExMjIwMzEyNFowITEfMB0GA1UEAwwWRGVsaXZlcnlPVFAgdGVzdCB2MSBD
        QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMdKXeb33+Oh7FtSayO7BzmSIUh7
        hgPzRObm5bGXrxnabqDQ6LDx85/Qn2RHgNE3idTq5dM22xFp1gBBCrV1KPEwCgYI
        KoZIzj0EAwIDSAAwRQIhALrHhncIDk59JLF+c/GgsULQIDpgKY6GqBo2mvId/lUe
        AiBs3tvlglcGhZkExMbuGw+eshxvYeXq51BhsMKzmw9dbw==
        -----END CERTIFICATE-----

        """

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
        var certificates = [try Self.certificate(PostgresCommandTests.ownAuthority), try Self.certificate(Self.versionOne)]
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

    @Test("finds a version 1 certificate's key, and finds it in bytes that do not start at index 0")
    func versionOneAndOffset() throws {
        // openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | base64
        let expected =
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx0pd5vff46HsW1JrI7sHOZIhSHuGA/NE5ublsZevGdpuoNDosPHzn9CfZEeA0TeJ1Orl0zbbEWnWAEEKtXUo8Q=="
        let der = try Self.certificate(Self.versionOne).toDERBytes()
        #expect(X509.subjectPublicKeyInfo(ofCertificate: der[...]).map { Data($0) } == Data(base64Encoded: expected))
        let shifted = [0xAA, 0xBB] + der
        #expect(X509.subjectPublicKeyInfo(ofCertificate: shifted[2...]).map { Data($0) } == Data(base64Encoded: expected))
    }

    @Test("finds no key in a certificate's DER cut short at any byte, or whose outer element is not a SEQUENCE")
    func truncatedDER() throws {
        let der = try Self.certificate(PostgresCommandTests.ownAuthority).toDERBytes()
        #expect(X509.subjectPublicKeyInfo(ofCertificate: der[...]) != nil)
        for end in 0..<der.count {
            #expect(X509.subjectPublicKeyInfo(ofCertificate: der[..<end]) == nil, "cut at \(end)")
        }
        var set = der
        set[0] = 0x31
        #expect(X509.subjectPublicKeyInfo(ofCertificate: set[...]) == nil)
    }

    @Test(
        "reads one DER element's tag, contents and rest, and refuses what a certificate never holds",
        arguments: [
            ([0x02, 0x01, 0x05, 0xFF], true),  // INTEGER 5, then one byte more
            ([0x04, 0x81, 0x01, 0x07], true),  // a long-form length of one byte
            ([0x30, 0x80, 0x00, 0x00], false),  // an indefinite length
            ([0x04, 0x84, 0x00, 0x00, 0x00, 0x01, 0x07], false),  // a length of four bytes
            ([0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07], false),
            ([0x04, 0x83, 0xFF, 0xFF, 0xFF, 0x07], false),  // longer than the bytes
            ([0x1F, 0x81, 0x01, 0x00], false),  // a high tag number
            ([0x04, 0x82, 0x00], false),  // the length itself cut short
            ([0x04], false), ([], false),
        ] as [([UInt8], Bool)])
    func derElement(bytes: [UInt8], readable: Bool) throws {
        let shifted = [0xEE] + bytes
        let element = DERElement(shifted[1...])
        #expect((element != nil) == readable)
        guard let element else { return }
        #expect(element.contents.count == 1 && element.contents.first == (bytes[0] == 0x02 ? 0x05 : 0x07))
        #expect(element.rest.count == shifted.endIndex - element.whole.endIndex)
        #expect(element.whole.startIndex == 1)
    }
}
