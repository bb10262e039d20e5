import Testing

@testable import DeliveryOTP

@Suite("Issuing many rows")
struct CodeIssuerTests {
    @Test("a batch over several dates and scopes gives each row its own code, in order, on one or two threads")
    func batchMatchesSingles() throws {
        let keyring = try Keyring(keys: [
            Keyring.Key(
                id: try KeyID("k-a"), secret: SecretKey(copying: [UInt8](repeating: 3, count: 32)),
                activeFrom: try DeliveryDate("2024-01-01"), createdAt: nil),
            Keyring.Key(
                id: try KeyID("k-b"), secret: SecretKey(copying: [UInt8](repeating: 4, count: 32)),
                activeFrom: try DeliveryDate("2024-01-03"), createdAt: nil),
        ])
        let dates = try ["2024-01-01", "2024-01-02", "2024-01-03"].map { try DeliveryDate($0) }
        let scopes = try ["", "A", "B-2"].map { try Scope($0) }
        let requests = try (0..<301).map { index in
            IssueRequest(
                shipment: try ShipmentID("S\(index * 7919)" + String(repeating: "x", count: index % 55)),
                date: dates[(index / 7) % 3], scope: scopes[(index / 3) % 3])
        }
        let expected = try requests.map { request in
            CodeGenerator(dayKey: try keyring.dayKey(scope: request.scope, date: request.date).dayKey).code(for: request.shipment).value
        }
        for threads in [1, 2, 7] {
            let issuer = try CodeIssuer(keyring: keyring)
            #expect(try issuer.codes(for: requests, threads: threads).map(\.value) == expected)
        }
    }

    @Test("a row dated before every key fails the whole batch before any work")
    func uncoveredDate() throws {
        let keyring = try Keyring(keys: [
            Keyring.Key(
                id: try KeyID("k-a"), secret: SecretKey(copying: [UInt8](repeating: 3, count: 32)),
                activeFrom: try DeliveryDate("2024-01-01"), createdAt: nil)
        ])
        let issuer = try CodeIssuer(keyring: keyring)
        let request = IssueRequest(shipment: try ShipmentID("X"), date: try DeliveryDate("2023-12-31"), scope: .empty)
        #expect(throws: KeyringError.noKeyCovers(try DeliveryDate("2023-12-31"))) { try issuer.codes(for: [request], threads: 2) }
    }
}
