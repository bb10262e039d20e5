import Foundation
import Testing

@testable import DeliveryOTP

/// SPEC.md's test-vector table is checked, row by row, by recomputing the day
/// key and code from the row's inputs. `DELIVERY_OTP_WRITE_VECTORS=1 swift test
/// --filter SpecVectorTests` rewrites the outputs in SPEC.md from the inputs.
@Suite("SPEC.md test vectors")
struct SpecVectorTests {
    struct Row {
        var masterHex: String, scope: String, date: String, shipmentID: String, dayKeyHex: String, code: String
    }

    static let begin = "<!-- vectors:begin -->"
    static let end = "<!-- vectors:end -->"
    static let specPath = Repository.path("SPEC.md")

    static func readRows() throws -> (text: String, rows: [Row]) {
        let text = try String(contentsOfFile: specPath, encoding: .utf8)
        guard let start = text.range(of: begin), let stop = text.range(of: end) else { return (text, []) }
        let rows = text[start.upperBound..<stop.lowerBound].split(separator: "\n").compactMap { line -> Row? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            }
            guard cells.count == 9, Int(cells[1]) != nil else { return nil }
            return Row(
                masterHex: cells[2], scope: cells[3] == "(empty)" ? "" : cells[3], date: cells[4],
                shipmentID: cells[5], dayKeyHex: cells[6], code: cells[7])
        }
        return (text, rows)
    }

    static func compute(_ row: Row) throws -> (dayKeyHex: String, code: String) {
        let master = SecretKey(copying: Hex.bytes(row.masterHex))
        let dayKey = DayKey(masterSecret: master, scope: try Scope(row.scope), date: try DeliveryDate(row.date))
        let code = CodeGenerator(dayKey: dayKey).code(for: try ShipmentID(row.shipmentID))
        return (dayKey.secret.hex, code.description)
    }

    @Test("every vector in SPEC.md is recomputed exactly by the library")
    func vectorsRecompute() throws {
        var (text, rows) = try Self.readRows()
        try #require(rows.count >= 12, "SPEC.md must hold at least 12 vectors between the markers")
        if ProcessInfo.processInfo.environment["DELIVERY_OTP_WRITE_VECTORS"] == "1" {
            for row in rows {
                let (dayKey, code) = try Self.compute(row)
                let oldLine = text.split(separator: "\n").first {
                    $0.contains("`\(row.shipmentID)`") && $0.contains(row.date) && $0.contains(row.masterHex)
                        && $0.contains(row.scope.isEmpty ? "(empty)" : "| \(row.scope) |")
                }!
                var cells = oldLine.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                cells[6] = " `\(dayKey)` "
                cells[7] = " `\(code)` "
                text = text.replacingOccurrences(of: String(oldLine), with: cells.joined(separator: "|"))
            }
            try text.write(toFile: Self.specPath, atomically: true, encoding: .utf8)
            rows = try Self.readRows().rows
        }
        for row in rows {
            let (dayKey, code) = try Self.compute(row)
            #expect(dayKey == row.dayKeyHex, "day key for \(row.shipmentID) \(row.date) \(row.scope)")
            #expect(code == row.code, "code for \(row.shipmentID) \(row.date) \(row.scope)")
        }
    }

    @Test("the vectors cover the cases the spec promises")
    func vectorsCoverTheCases() throws {
        let rows = try Self.readRows().rows
        #expect(rows.contains { $0.scope.isEmpty })
        #expect(rows.contains { !$0.scope.isEmpty })
        #expect(rows.contains { $0.shipmentID.utf8.count == 1 })
        #expect(rows.contains { $0.shipmentID.utf8.count == 64 })
        #expect(rows.contains { $0.code.hasPrefix("0") })
        let byShipment = Dictionary(grouping: rows) { "\($0.masterHex)/\($0.shipmentID)" }
        #expect(byShipment.values.contains { Set($0.map(\.date)).count >= 2 }, "two dates for one shipment")
        #expect(byShipment.values.contains { Set($0.map(\.scope)).count >= 2 }, "two scopes for one shipment")
    }
}

@Suite("Key fingerprints (SPEC.md §6)")
struct FingerprintTests {
    @Test("the fingerprint of the bytes 0x00 to 0x1f is the one SPEC.md gives")
    func specExample() throws {
        let fingerprint = KeyFingerprint(of: SecretKey(copying: (0..<32).map { UInt8($0) }))
        #expect(fingerprint.description == "bf3c-cdac-195f-bb45")
        let spec = try String(contentsOfFile: Repository.path("SPEC.md"), encoding: .utf8)
        #expect(spec.contains("`\(fingerprint)`"))
    }

    @Test("different keys have different fingerprints, equal keys equal ones")
    func distinguishes() {
        let a = SecretKey(copying: [UInt8](repeating: 1, count: 32))
        let b = SecretKey(copying: [UInt8](repeating: 2, count: 32))
        #expect(KeyFingerprint(of: a) != KeyFingerprint(of: b))
        #expect(KeyFingerprint(of: a) == KeyFingerprint(of: SecretKey(copying: [UInt8](repeating: 1, count: 32))))
    }
}
