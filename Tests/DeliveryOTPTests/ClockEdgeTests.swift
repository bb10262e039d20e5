import Foundation
import Testing

@testable import DeliveryOTP

/// Extreme clocks are input errors, and a day ends the second before the next one begins (review items 6, 7).
@Suite("Clocks at the edges and the end of a delivery day")
struct ClockEdgeTests {
    @Test(
        "verify --now at the ends of time is a usage error, not a crash",
        arguments: ["9999-12-31T23:59:59-12:00", "0001-01-01T00:30:00+14:00", "9999-12-31T12:00:00Z"])
    func extremeNow(_ time: String) async throws {
        let door = try await DoorCommandTests.Door()
        let result = try await door.verify("TBA1", "123456", at: time)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("invalid time \"\(time)\" for --now"))
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test("text outside the supported instants is refused; raw seconds beyond them still give a date")
    func supportedInstants() throws {
        #expect(Timestamp(rfc3339: "0001-01-02T00:00:00Z") != nil)
        #expect(Timestamp(rfc3339: "9999-12-30T23:59:59Z") != nil)
        #expect(Timestamp(rfc3339: "0001-01-01T23:59:59Z") == nil)
        #expect(Timestamp(rfc3339: "9999-12-31T00:00:00Z") == nil)
        let kiritimati = try DeliveryTimeZone("Pacific/Kiritimati"), niue = try DeliveryTimeZone("Pacific/Niue")
        #expect(kiritimati.date(at: Timestamp(rfc3339: "9999-12-30T23:59:59Z")!) == DeliveryDate.latest)
        #expect(niue.date(at: Timestamp(rfc3339: "0001-01-02T00:00:00Z")!) == DeliveryDate.earliest)
        #expect(kiritimati.date(at: Timestamp(secondsSinceEpoch: .max)) == DeliveryDate.latest)
        #expect(niue.date(at: Timestamp(secondsSinceEpoch: .min)) == DeliveryDate.earliest)
        // The last day there is still has an end.
        let utc = try DeliveryTimeZone("UTC")
        #expect(utc.format(utc.endOfDay(.latest)) == "9999-12-31T23:59:59+00:00")
    }

    @Test(
        "the last second of a day: clocks back at midnight, a missing midnight, and Berlin's DST days",
        arguments: [
            // Santiago goes from 24:00 -03:00 back to 23:00 -04:00: the day ends an hour later than its old offset says.
            ("America/Santiago", "2024-04-06", "2024-04-06T23:59:59-04:00"),
            ("America/Santiago", "2024-09-07", "2024-09-07T23:59:59-04:00"),
            ("America/Santiago", "2024-09-08", "2024-09-08T23:59:59-03:00"),
            // Havana springs from 00:00 to 01:00: 2024-03-10 has no midnight, so the 9th ends at 23:59:59 -05:00.
            ("America/Havana", "2024-03-09", "2024-03-09T23:59:59-05:00"),
            ("America/Havana", "2024-03-10", "2024-03-10T23:59:59-04:00"),
            // Havana falls back from 01:00 to 00:00: the 3rd of November begins twice at midnight; the 2nd ends before the first.
            ("America/Havana", "2024-11-02", "2024-11-02T23:59:59-04:00"),
            ("Asia/Beirut", "2024-03-30", "2024-03-30T23:59:59+02:00"),
            ("Asia/Beirut", "2024-03-31", "2024-03-31T23:59:59+03:00"),
            ("Europe/Berlin", "2024-03-31", "2024-03-31T23:59:59+02:00"),
            ("Europe/Berlin", "2024-10-27", "2024-10-27T23:59:59+01:00"),
        ])
    func endOfDay(_ zone: String, _ date: String, _ expected: String) throws {
        let timeZone = try DeliveryTimeZone(zone)
        let end = timeZone.format(timeZone.endOfDay(try DeliveryDate(date)))
        #expect(end == expected)
        // The second after it belongs to the next day, and it still to this one.
        let instant = try #require(Timestamp(rfc3339: end))
        #expect(timeZone.date(at: instant).description == date)
        #expect(timeZone.date(at: Timestamp(secondsSinceEpoch: instant.secondsSinceEpoch + 1)) == (try DeliveryDate(date)).adding(days: 1))
    }

    @Test("the manifest's valid_until for Santiago's autumn day carries the later offset")
    func manifestValidUntil() async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await ManifestTests.issue(
            "shipment_id,delivery_date\nA,2024-04-06\n",
            [
                "--time-zone", "America/Santiago",
            ], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(ManifestTests.rows(output).first?.last == "2024-04-06T23:59:59-04:00")
    }
}
