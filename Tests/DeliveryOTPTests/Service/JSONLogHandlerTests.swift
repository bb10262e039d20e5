import DeliveryOTP
import Testing

@testable import DeliveryOTPServer

/// The time on every log line.
@Suite("Log line times")
struct JSONLogHandlerTests {
    @Test(
        "A log line's time is the instant's UTC text with its milliseconds",
        arguments: [
            (Int64(0), 0), (1_705_483_800, 123_456_789), (1_705_483_800, 9_999_999), (1_705_483_800, 10_000_000),
            (1_705_483_800, 99_999_999), (1_705_483_800, 100_000_000), (1_705_483_799, 999_999_999), (951_782_400, 5_000_000),
            (951_868_799, 1), (-1, 999_000_000), (-86_400, 0), (-86_401, 0), (Timestamp.supportedRange.lowerBound, 0),
            (Timestamp.supportedRange.upperBound, 999_999_999), (253_402_300_799, 0), (-62_135_596_800, 0),
        ])
    func timeText(seconds: Int64, nanoseconds: Int) {
        #expect(JSONLogHandler.timestamp(seconds: seconds, nanoseconds: nanoseconds) == Self.reference(seconds, nanoseconds))
    }

    @Test("Random instants from 0001 to 9999 give the instant's UTC text with its milliseconds")
    func randomTimes() {
        var random = ManifestDifferentialTests.SeededGenerator(state: 0x7111_E5)
        for _ in 0..<5000 {
            let seconds = Int64.random(in: Timestamp.supportedRange, using: &random)
            let nanoseconds = Int.random(in: 0..<1_000_000_000, using: &random)
            #expect(JSONLogHandler.timestamp(seconds: seconds, nanoseconds: nanoseconds) == Self.reference(seconds, nanoseconds))
        }
    }

    @Test("A date before 0001 or after 9999 is written as question marks, as Timestamp writes it")
    func outOfRange() {
        #expect(JSONLogHandler.timestamp(seconds: 253_402_300_800, nanoseconds: 0) == "????-??-??T00:00:00.000Z")
        #expect(JSONLogHandler.timestamp(seconds: 253_402_300_800, nanoseconds: 0) == Self.reference(253_402_300_800, 0))
        #expect(JSONLogHandler.timestamp(seconds: -62_135_596_801, nanoseconds: 5_000_000) == "????-??-??T23:59:59.005Z")
        #expect(JSONLogHandler.timestamp(seconds: -62_135_596_801, nanoseconds: 5_000_000) == Self.reference(-62_135_596_801, 5_000_000))
    }

    /// The text the handler wrote before it wrote digits itself: Timestamp's, with milliseconds.
    static func reference(_ seconds: Int64, _ nanoseconds: Int) -> String {
        let millis = nanoseconds / 1_000_000
        return "\(Timestamp(secondsSinceEpoch: seconds).description.dropLast()).\(millis < 10 ? "00" : millis < 100 ? "0" : "")\(millis)Z"
    }
}
