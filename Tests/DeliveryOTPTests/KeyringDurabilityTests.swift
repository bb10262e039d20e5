import Foundation
import Testing

@testable import DeliveryOTP

/// Crashes and races against `keys` updates, with real processes and real files.
@Suite("Keyring updates under crashes and concurrency", .serialized)
struct KeyringDurabilityTests {
    static let now = ["--now", "2024-03-10T12:00:00Z"]

    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = arguments
        process.environment = KilledChild.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func keyCount(_ path: String, passphrase: String?) throws -> Int {
        try KeyringFile(path: path).load(passphrase: passphrase.map { try Passphrase($0) }).keyring.keys.count
    }

    @Test(
        "a keys rotate killed at a random moment leaves the old or the new keyring, never a torn one",
        arguments: [nil, "crash test passphrase"] as [String?])
    func killedRotation(passphrase: String?) async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        let environment = passphrase.map { ["DELIVERY_OTP_PASSPHRASE": $0] } ?? [:]
        let created = try await CommandRunner.run(
            ["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now,
            environment: environment)
        try #require(created.status == 0, "\(created.stderr)")

        // One whole run, timed, is the first guess; the schedule moves the kills towards the commit from there.
        let milliseconds = try await CommandRunner.run(
            ["keys", "rotate", "--keyring", keyring, "--active-from", "2025-01-01"] + Self.now, environment: environment
        ).milliseconds
        var schedule = KillSchedule(startingAtMilliseconds: milliseconds)
        var expected = 2
        var killedBeforeCommit = 0, killedAfterCommit = 0
        for run in 0..<40 {
            let date = DeliveryDate(daysSinceEpoch: try DeliveryDate("2025-02-01").daysSinceEpoch + run)!
            let arguments = ["keys", "rotate", "--keyring", keyring, "--active-from", date.description] + Self.now
            let delay = schedule.nextDelay()
            try await offPool { () throws -> Void in
                let process = try Self.start(arguments, environment: environment)
                usleep(delay)
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            // Whatever happened, the file parses, and holds the old keys or the old keys plus one.
            let count = try Self.keyCount(keyring, passphrase: passphrase)
            #expect(count == expected || count == expected + 1, "run \(run): \(count) keys, expected \(expected) or \(expected + 1)")
            if count == expected + 1 { killedAfterCommit += 1 } else { killedBeforeCommit += 1 }
            schedule.record(killedAfterTheMoment: count == expected + 1)
            expected = count
        }
        // Both outcomes happened, so the kills really landed at different moments.
        #expect(
            killedBeforeCommit > 0 && killedAfterCommit > 0,
            "before commit: \(killedBeforeCommit), after: \(killedAfterCommit), first run \(milliseconds) ms, kills after (µs) \(schedule.delays)"
        )
        #expect(try FileManager.default.attributesOfItem(atPath: keyring)[.posixPermissions] as? NSNumber == 0o600)
    }

    @Test("two keys commands at once on one file are serialised and neither update is lost")
    func concurrentRotations() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        // Encrypted, so that each read-modify-write spends ~0.1 s in scrypt: a wide window for a race.
        let environment = ["DELIVERY_OTP_PASSPHRASE": "race for the lock"]
        _ = try await CommandRunner.run(
            ["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now, environment: environment)
        for round in 0..<4 {
            let first = try Self.start(
                ["keys", "rotate", "--keyring", keyring, "--active-from", "2025-0\(round + 1)-10"] + Self.now,
                environment: environment)
            let second = try Self.start(
                ["keys", "rotate", "--keyring", keyring, "--active-from", "2025-0\(round + 1)-20"] + Self.now,
                environment: environment)
            try await offPool { () -> Void in
                first.waitUntilExit()
                second.waitUntilExit()
            }
            #expect(first.terminationStatus == 0 && second.terminationStatus == 0)
        }
        let keys = try KeyringFile(path: keyring).load(passphrase: try Passphrase("race for the lock")).keyring.keys
        #expect(keys.count == 9)
        let audit = try String(contentsOfFile: keyring + ".audit.jsonl", encoding: .utf8)
        #expect(audit.split(separator: "\n").count == 9)
    }
}
