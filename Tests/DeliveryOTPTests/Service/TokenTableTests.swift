import DeliveryOTP
import Testing

@testable import DeliveryOTPServer

/// Tokens: SHA-256 from OpenSSL, the token's shape, and lookups by digest.
@Suite("Bearer tokens")
struct TokenTableTests {
    @Test("SHA-256 matches the FIPS 180-2 vectors")
    func sha256Vectors() {
        #expect(Hex.string(SHA256Digest.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.string(SHA256Digest.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("A new token has the prefix, 43 base64url characters, and is found by its digest only")
    func lookup() throws {
        let token = try BearerToken.generate()
        #expect(token.text.count == 48 && token.text.hasPrefix("dotp_"))
        #expect(BearerToken.isWellFormed(Substring(token.text)))
        let entry = try TokenEntry(
            name: DeviceID("web"), role: .issuer, scopes: [], deviceID: nil, digest: token.digest, createdAt: .now)
        let table = try TokenTable([entry])
        #expect(table.entry(forToken: Substring(token.text))?.name.rawValue == "web")
        var nearMiss = Array(token.text)
        nearMiss[nearMiss.count - 1] = nearMiss.last == "A" ? "B" : "A"
        #expect(table.entry(forToken: Substring(String(nearMiss))) == nil)
        #expect(table.entry(forToken: "dotp_short") == nil)
        #expect(table.entry(forToken: Substring(token.text + "x")) == nil)
        #expect(!table.isExample)
    }

    @Test("A table with a published example digest is an example table, whatever its mark")
    func exampleDigest() throws {
        let digest = SHA256Digest.hash("dotp_lGBQnIIb4Kq65BYpzwFN35yFiVRXgFPxO__WanTeau4")
        let entry = try TokenEntry(name: DeviceID("x"), role: .issuer, scopes: [], deviceID: nil, digest: digest, createdAt: .now)
        #expect(try TokenTable([entry]).isExample)
    }
}
