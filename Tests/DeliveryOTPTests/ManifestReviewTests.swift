import Foundation
import Testing

@testable import DeliveryOTP

/// The manifest review's reproductions (issue 11), each as it was reported.
@Suite("Manifest rows are never dropped, values never crash, and names mean what JSON says", .serialized)
struct ManifestReviewTests {
    @Test("one malformed quoted row is a reject and the rows after it are issued")
    func malformedQuotedRow() async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await ManifestTests.issue(
            "shipment_id,delivery_date\n\"A\"B,2024-03-05\nC,2024-03-05\nD,2024-03-05\n",
            in: directory)
        #expect(result.status == 0)
        #expect(ManifestTests.rows(output).map { $0[0] } == ["C", "D"])
        #expect(result.stderr.contains("line 2: malformed CSV: text after the closing quote of field 1"))
        #expect(result.stderr.contains("3 rows read, 2 codes issued, 0 not required, 1 rejected"))
    }

    @Test(
        "a malformed row ends at its own line end: a later quote in it opens nothing, so no row after it is lost",
        arguments: ["A\"1,\"x", "\"A1\"x,\"2024-06-01"])
    func malformedRowEndsAtItsLine(_ bad: String) async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await ManifestTests.issue(
            "shipment_id,delivery_date\n\(bad)\nA2,2024-06-01\nA3,2024-06-01\nA4,\"2024-06-01\"\nA5,2024-06-01\n", in: directory)
        #expect(result.status == 0)
        #expect(ManifestTests.rows(output).map { $0[0] } == ["A2", "A3", "A4", "A5"])
        #expect(result.stderr.contains("5 rows read, 4 codes issued, 0 not required, 1 rejected"))
        #expect(result.stderr.contains("line 2: malformed CSV"))
    }

    @Test("amounts of the wrong shape are malformed, not out of range", arguments: [".5", "5.", ".", "1.1234567", "1..2"])
    func malformedAmounts(_ value: String) async throws {
        let directory = try TemporaryDirectory()
        let (result, _) = try await ManifestTests.issue(
            "shipment_id,delivery_date,order_value,currency\nA,2024-03-05,\(value),EUR\n", in: directory)
        #expect(result.stderr.contains("line 2: malformed order_value '\(value)'"))
    }

    @Test("a quote inside an unquoted field is a reject, and the splitter is not thrown off by it")
    func quoteInsideUnquotedField() throws {
        var manifest = "shipment_id,delivery_date,note\nab\"c,2024-03-05,x\n"
        for index in 0..<400 { manifest += "R\(index),2024-03-05,\"multi\nline \(index)\"\n" }
        var feeds: Set<String> = []
        for threads in 1...3 {
            let (output, rejects, summary) = try ManifestDifferentialTests.run(manifest, format: .csv, threads: threads, chunkSize: 1024)
            #expect(summary.rowsRead == 401)
            #expect(summary.rejected == 1)
            #expect(rejects == "line 2: malformed CSV: a quote inside unquoted field 1\n")
            feeds.insert(output)
        }
        #expect(feeds.count == 1)
        #expect(feeds.first?.split(separator: "\n").count == 1 + 400)
    }

    @Test(
        "an order_value beyond 64 bits is a reject with its line, and such a threshold a usage error",
        arguments: ["9300000000000", "99999999999999999999", "9223372036854.775808"])
    func hugeValues(_ value: String) async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await ManifestTests.issue(
            "shipment_id,delivery_date,order_value,currency\nA,2024-03-05,\(value),EUR\nB,2024-03-05,1,EUR\n", in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("line 2: order_value '\(value)' is out of range"))
        #expect(ManifestTests.rows(output).count == 1)
        let json = try await ManifestTests.issue(
            #"{"shipment_id": "A", "delivery_date": "2024-03-05", "order_value": \#(value), "currency": "EUR"}"# + "\n",
            named: "m.jsonl", in: directory)
        #expect(json.result.status == 0)
        #expect(json.result.stderr.contains("line 1: order_value '\(value)' is out of range"))
        let threshold = try await ManifestTests.issue(
            "shipment_id,delivery_date\nA,2024-03-05\n", named: "t.csv", ["--threshold", "EUR=\(value)"],
            in: directory)
        #expect(threshold.result.status == 64)
        #expect(ValuePolicy.Amount(value) == nil)
        #expect(ValuePolicy.Amount("9223372036854.775807") == ValuePolicy.Amount.maximum)
    }

    @Test("a JSON member name with escapes is the name it decodes to: a second shipment_id is a duplicate")
    func escapedMemberNames() async throws {
        let directory = try TemporaryDirectory()
        let manifest = #"""
            {"shipment_id":"A","delivery_date":"2024-03-05","shipment\u005fid":"B"}
            {"shipment\u005fid":"C","delivery_date":"2024-03-05"}

            """#
        let (result, output) = try await ManifestTests.issue(manifest, named: "m.jsonl", in: directory)
        #expect(result.status == 0)
        #expect(result.stderr.contains("line 1: shipment_id appears twice"))
        #expect(output?.contains(#""shipment_id":"C""#) == true)
    }

    @Test("CR-only line ends are refused with exit 65; a byte order mark before a quoted header is read")
    func lineEndsAndByteOrderMark() async throws {
        let directory = try TemporaryDirectory()
        let (cr, crOutput) = try await ManifestTests.issue("shipment_id,delivery_date\rA,2024-03-05\rB,2024-03-05\r", in: directory)
        #expect(cr.status == 65)
        #expect(cr.stderr.contains("ends its lines with CR alone"))
        #expect(crOutput == nil)
        let (bom, bomOutput) = try await ManifestTests.issue(
            "\u{FEFF}\"shipment_id\",\"delivery_date\"\nA,2024-03-05\n", named: "bom.csv", in: directory)
        #expect(bom.status == 0, "\(bom.stderr)")
        #expect(ManifestTests.rows(bomOutput).map { $0[0] } == ["A"])
    }
}

@Suite("Chunk boundaries never change the feed")
struct ManifestDeterminismTests {
    @Test("a record longer than the chunk target, then malformed and multi-line rows: the same feed for every thread count and run")
    func longRecordThenRows() throws {
        var manifest = "shipment_id,delivery_date,note\nLONG,2024-03-05,\"" + String(repeating: "x", count: 600 * 1024) + "\"\n"
        for index in 0..<3000 {
            switch index % 97 {
            case 0: manifest += "\"Q\(index)\"z,2024-03-05,n\n"
            case 1: manifest += "q\"\(index),2024-03-05,n\n"
            case 2: manifest += "M\(index),2024-03-05,\"two\nlines\"\n"
            default: manifest += "R\(index),2024-03-05,n\n"
            }
        }
        var results: Set<String> = []
        for threads in [1, 2, 3, 2, 3] {
            let (output, rejects, summary) = try ManifestDifferentialTests.run(manifest, format: .csv, threads: threads, chunkSize: 1 << 19)
            #expect(summary.rowsRead == 3001)
            #expect(summary.rejected == 2 * 31)  // the malformed rows; LONG and the multi-line rows are issued
            results.insert(output + "\u{0}" + rejects)
        }
        #expect(results.count == 1)
    }
}
