import Testing

@testable import DeliveryOTP

@Suite("Code generator batch paths")
struct CodeGeneratorBatchTests {
    @Test("codes for a list equal the codes one by one, for odd and even counts and long IDs")
    func listEqualsSingles() throws {
        let generator = CodeGenerator(
            dayKey: DayKey(
                masterSecret: SecretKey(copying: [UInt8](repeating: 9, count: 32)),
                scope: try Scope("D"), date: try DeliveryDate("2024-05-05")))
        let ids = try (1...64).map { try ShipmentID(String(repeating: "Z", count: $0)) } + [try ShipmentID("X")]
        #expect(generator.codes(for: ids).map(\.value) == ids.map { generator.code(for: $0).value })
        #expect(generator.codes(for: Array(ids.prefix(2))).count == 2)
        #expect(generator.codes(for: []).isEmpty)
    }
}
