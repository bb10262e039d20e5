import CertificateDER
import Foundation
import NIOSSL
import Testing

/// The DER walk that finds a certificate's key for `verify-ca`'s check of trust roots: it reads
/// what a certificate holds and refuses, never guesses at, the rest (the fuzz target `der` checks
/// it against a plain model).
@Suite("A certificate's key, read from DER")
struct CertificateDERTests {
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

    @Test("finds a version 1 certificate's key, and finds it in bytes that do not start at index 0")
    func versionOneAndOffset() throws {
        // openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | base64
        let expected =
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx0pd5vff46HsW1JrI7sHOZIhSHuGA/NE5ublsZevGdpuoNDosPHzn9CfZEeA0TeJ1Orl0zbbEWnWAEEKtXUo8Q=="
        let der = try TrustRootKeysTests.certificate(Self.versionOne).toDERBytes()
        #expect(CertificateFields.subjectPublicKeyInfo(ofCertificate: der[...]).map { Data($0) } == Data(base64Encoded: expected))
        let shifted = [0xAA, 0xBB] + der
        #expect(CertificateFields.subjectPublicKeyInfo(ofCertificate: shifted[2...]).map { Data($0) } == Data(base64Encoded: expected))
    }

    @Test("finds no key in a certificate's DER cut short at any byte, or whose outer element is not a SEQUENCE")
    func truncatedDER() throws {
        let der = try TrustRootKeysTests.certificate(PostgresCommandTests.ownAuthority).toDERBytes()
        #expect(CertificateFields.subjectPublicKeyInfo(ofCertificate: der[...]) != nil)
        for end in 0..<der.count {
            #expect(CertificateFields.subjectPublicKeyInfo(ofCertificate: der[..<end]) == nil, "cut at \(end)")
        }
        var set = der
        set[0] = 0x31
        #expect(CertificateFields.subjectPublicKeyInfo(ofCertificate: set[...]) == nil)
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
