import Foundation
import Testing

/// A header that cannot be a CSV header is bad data, with a hint (review item 11).
@Suite("Manifest headers that are not CSV headers")
struct ManifestHeaderTests {
    @Test("JSON lines read as CSV is exit 65 with a hint to the input format")
    func jsonLinesAsCSV() async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await ManifestTests.issue(
            #"{"shipment_id": "A", "delivery_date": "2024-01-17"}"# + "\n",
            named: "day.csv", in: directory)
        #expect(result.status == 65)
        #expect(result.stderr.contains("hint: this looks like JSON lines: name the file .jsonl or give --input-format jsonl"))
        #expect(output == nil)
    }

    @Test(
        "a CSV header that names a column twice is refused with exit 65",
        arguments: [
            "shipment_id,delivery_date,shipment_id", "shipment_id,delivery_date,note,note",
        ])
    func columnTwice(_ header: String) async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await ManifestTests.issue(header + "\nA,2024-01-17,B,C\n", in: directory)
        #expect(result.status == 65)
        #expect(result.stderr.contains("twice"))
        #expect(output == nil)
    }
}
