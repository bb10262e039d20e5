import DeliveryOTP
import Testing

@testable import DeliveryOTPServer

@Suite("A position in the attempt log")
struct AttemptLogPositionTests {
    @Test(
        "is written as time and sequence and read back",
        arguments: [
            AttemptLogPosition(time: 1_705_485_600, sequence: 17), AttemptLogPosition(time: -62_135_596_800, sequence: 1),
            AttemptLogPosition(time: 0, sequence: 0), AttemptLogPosition(time: .max, sequence: .max),
            AttemptLogPosition(time: -Int64.max, sequence: .max),
        ])
    func roundTrip(position: AttemptLogPosition) {
        #expect(AttemptLogPosition(position.description) == position)
    }

    @Test(
        "reads the text form of the service's header", arguments: [("1705485600_17", 1_705_485_600, 17), ("-5_3", -5, 3), ("007_08", 7, 8)])
    func reads(text: String, time: Int64, sequence: Int64) {
        #expect(AttemptLogPosition(text) == AttemptLogPosition(time: time, sequence: sequence))
    }

    @Test(
        "refuses anything else: empty parts, signs, spaces, other digits, numbers past 64 bits",
        arguments: [
            "", "_", "1_", "_1", "1", "1_2_3", "1_-2", "+1_2", "1_+2", "--1_2", "-_2", " 1_2", "1_2 ", "1 _2", "1_2\n", "0x1_2",
            "１_2", "1.5_2", "9223372036854775808_1", "1_9223372036854775808", "-9223372036854775808_1", "12345678901234567890_1",
            "1-2",
        ])
    func refuses(text: String) {
        #expect(AttemptLogPosition(text) == nil)
    }

    @Test("orders by time, then by sequence")
    func order() {
        let positions = [
            AttemptLogPosition(time: 5, sequence: 9), AttemptLogPosition(time: 4, sequence: 10), AttemptLogPosition(time: 5, sequence: 2),
        ]
        #expect(positions.sorted() == [positions[1], positions[2], positions[0]])
    }

    @Test("A page's end is the store's last row read, even one that is not a line, so such a row neither ends the log nor is skipped past")
    func pageFromRows() throws {
        let record = AttemptRecord(
            time: Timestamp(secondsSinceEpoch: 100), shipment: try ShipmentID("TBA123456789000"), date: try DeliveryDate("1970-01-01"),
            scope: .empty, outcome: .rejected, attempt: 1, deviceID: nil)
        let rows: [(position: AttemptLogPosition, record: AttemptRecord?)] = (1...4).map { sequence in
            (AttemptLogPosition(time: 100, sequence: Int64(sequence)), sequence == 3 ? nil : record)
        }
        // Four rows read for a page of three, the third not a line: two lines, and the next page after the third row.
        let page = AttemptLogPage(rows: rows, limit: 3)
        #expect(page.lines.map(\.position.sequence) == [1, 2])
        #expect(page.next == AttemptLogPosition(time: 100, sequence: 3))
        // Three rows for a page of three: the end of the log, whatever the last row holds.
        #expect(AttemptLogPage(rows: Array(rows.prefix(3)), limit: 3).next == nil)
        #expect(AttemptLogPage(rows: [], limit: 3) == AttemptLogPage(lines: [], next: nil))
        #expect(AttemptLogPage(rows: rows, limit: 0) == AttemptLogPage(lines: [], next: nil))
    }

    @Test("A page holds 0 to 2^30 lines, and a store reads one row more than the page, none for a page of none")
    func rowsToRead() {
        let limits = [0, -1, Int.min, 1, 100_000, 1 << 30, (1 << 30) + 1, Int.max]
        #expect(limits.map(AttemptLogPage.size(forLimit:)) == [0, 0, 0, 1, 100_000, 1 << 30, 1 << 30, 1 << 30])
        #expect(limits.map(AttemptLogPage.rowsToRead(forLimit:)) == [0, 0, 0, 2, 100_001, (1 << 30) + 1, (1 << 30) + 1, (1 << 30) + 1])
    }
}
