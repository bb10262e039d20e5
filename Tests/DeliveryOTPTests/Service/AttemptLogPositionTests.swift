import DeliveryOTPServer
import Testing

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
}
