import Foundation
import Testing

/// `verify --device-keys` and `attempts export`, end to end through the built executable.
@Suite("At the door: the verify and attempts commands", .serialized)
struct DoorCommandTests {
    /// A private keyring and a device file for DEPOT-12, 2024-01-16 to 2024-01-18, Berlin time.
    struct Door {
        let directory: TemporaryDirectory
        let keyring: String
        let device: String
        let state: String

        init(deviceID: String? = "van-7") async throws {
            directory = try TemporaryDirectory()
            keyring = directory.file("keyring.json")
            device = directory.file("DEPOT-12.json")
            state = directory.file("state.sqlite")
            let now = ["--now", "2024-01-10T12:00:00Z"]
            let made = try await CommandRunner.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-01-01"] + now)
            try #require(made.status == 0, "\(made.stderr)")
            let exported = try await CommandRunner.run(
                [
                    "keys", "export-device", "--keyring", keyring, "--scope", "DEPOT-12",
                    "--from", "2024-01-16", "--days", "3", "--time-zone", "Europe/Berlin",
                    "--out", device,
                ] + (deviceID.map { ["--device-id", $0] } ?? []) + now)
            try #require(exported.status == 0, "\(exported.stderr)")
        }

        func code(_ id: String, on date: String) async throws -> String {
            try await CommandRunner.run(["issue", "--device-keys", device, "--scope", "DEPOT-12", "--date", date, "--", id])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func verify(_ id: String, _ code: String, at time: String = "2024-01-17T10:00:00+01:00") async throws -> CommandRunner.Result {
            try await CommandRunner.run(["verify", "--device-keys", device, "--state", state, "--now", time, "--", id, code])
        }
    }

    @Test("typed input that is not six digits prints 'not a code', exits 4 and uses up no attempt")
    func notACodeCountsNothing() async throws {
        let door = try await Door()
        let typo = try await door.verify("TBA1", "12345a")
        #expect(typo.status == 4)
        #expect(typo.stdout == "not a code (six digits expected; nothing was counted)\n")
        let right = try await door.code("TBA1", on: "2024-01-17")
        let wrong = try await door.verify("TBA1", right == "000000" ? "000001" : "000000")
        #expect(wrong.stdout == "rejected (4 attempts left)\n")
    }

    @Test("accepted 0, rejected with attempts left 1, locked 2, already accepted 3")
    func outcomesAndExitCodes() async throws {
        let door = try await Door()
        let right = try await door.code("TBA1", on: "2024-01-17")
        let first = try await door.verify("TBA1", "000000" == right ? "000001" : "000000")
        #expect(first.status == 1)
        #expect(first.stdout == "rejected (4 attempts left)\n")
        let accepted = try await door.verify("TBA1", " \(right) ")
        #expect(accepted.status == 0)
        #expect(accepted.stdout == "accepted\n")
        let again = try await door.verify("TBA1", right, at: "2024-01-17T11:30:00+01:00")
        #expect(again.status == 3)
        #expect(again.stdout == "already accepted at 2024-01-17T10:00:00+01:00\n")

        // The store refuses a clock more than 10 minutes behind its latest attempt, so go on from 11:30.
        let right2 = try await door.code("TBA2", on: "2024-01-17")
        let wrong2 = right2 == "000000" ? "000001" : "000000"
        for left in [4, 3, 2, 1, 0] {
            let result = try await door.verify("TBA2", wrong2, at: "2024-01-17T11:30:00+01:00")
            #expect(result.status == 1)
            #expect(result.stdout == "rejected (\(left) attempt\(left == 1 ? "" : "s") left)\n")
        }
        let locked = try await door.verify("TBA2", right2, at: "2024-01-17T11:31:00+01:00")
        #expect(locked.status == 2)
        #expect(locked.stdout == "locked\n")
    }

    @Test("yesterday's and tomorrow's codes are rejected at the door")
    func otherDays() async throws {
        let door = try await Door()
        #expect(try await door.verify("TBA3", door.code("TBA3", on: "2024-01-16")).status == 1)
        #expect(try await door.verify("TBA3", door.code("TBA3", on: "2024-01-18")).status == 1)
        #expect(try await door.verify("TBA3", door.code("TBA3", on: "2024-01-17")).status == 0)
    }

    @Test("no key for today: exit 65, says to sync the device, and no attempt is recorded")
    func noKeyForToday() async throws {
        let door = try await Door()
        let result = try await door.verify("TBA4", "123456", at: "2024-01-19T08:00:00+01:00")
        #expect(result.status == 65)
        #expect(result.stderr.contains("delivery-otp: error: no key for 2024-01-19 in DEPOT-12 device keys: sync the device"))
        let log = try await CommandRunner.run(["attempts", "export", "--state", door.state])
        #expect(log.stdout.isEmpty)
    }

    @Test("--date with --device-keys and --state with --keyring are usage errors")
    func misuse() async throws {
        let door = try await Door()
        let withDate = try await CommandRunner.run(["verify", "--device-keys", door.device, "--date", "2024-01-17", "X", "123456"])
        #expect(withDate.status == 64)
        #expect(withDate.stderr.contains("--date cannot be used with --device-keys"))
        let withState = try await CommandRunner.run([
            "verify", "--keyring", door.keyring, "--date", "2024-01-17", "--state", door.state, "X", "1",
        ])
        #expect(withState.status == 64)
        let tooMany = try await CommandRunner.run(["verify", "--device-keys", door.device, "--max-attempts", "11", "X", "123456"])
        #expect(tooMany.status == 64)
    }

    @Test("attempts export prints one JSON line per attempt with no code and no key in it")
    func exportLog() async throws {
        let door = try await Door()
        let right = try await door.code("TBA5", on: "2024-01-17")
        let wrong = String(format: "%06d", (Int(right)! + 7) % 1_000_000)
        _ = try await door.verify("TBA5", wrong, at: "2024-01-17T09:00:00+01:00")
        _ = try await door.verify("TBA5", right, at: "2024-01-17T09:01:00+01:00")
        _ = try await door.verify("TBA5", right, at: "2024-01-17T09:02:00+01:00")
        let export = try await CommandRunner.run(["attempts", "export", "--state", door.state])
        #expect(export.status == 0)
        let lines = export.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(objects.map { $0["outcome"] as? String } == ["rejected", "accepted", "already-accepted"])
        #expect(objects.map { $0["time"] as? String } == ["2024-01-17T08:00:00Z", "2024-01-17T08:01:00Z", "2024-01-17T08:02:00Z"])
        #expect(objects[0]["attempt"] as? Int == 1)
        #expect(objects[1]["attempt"] as? Int == 2)
        #expect(objects[2]["attempt"] is NSNull)
        #expect(objects.allSatisfy { $0["shipmentId"] as? String == "TBA5" && $0["deliveryDate"] as? String == "2024-01-17" })
        #expect(objects.allSatisfy { $0["scope"] as? String == "DEPOT-12" && $0["deviceId"] as? String == "van-7" })
        #expect(Set(objects.flatMap { $0.keys }) == ["time", "shipmentId", "deliveryDate", "scope", "outcome", "attempt", "deviceId"])
        // Neither typed code nor any key appears.
        #expect(!export.stdout.contains(right) && !export.stdout.contains(wrong))
        let deviceJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: door.device))) as! [String: Any]
        for entry in deviceJSON["dayKeys"] as! [[String: Any]] { #expect(!export.stdout.contains(entry["secret"] as! String)) }

        let since = try await CommandRunner.run(["attempts", "export", "--state", door.state, "--since", "2024-01-17T09:01:00+01:00"])
        #expect(since.stdout.split(separator: "\n").count == 2)
        #expect(try FileManager.default.attributesOfItem(atPath: door.state)[.posixPermissions] as? NSNumber == 0o600)
    }

    @Test("killed at random moments, verify never shows more outcomes than it recorded, and locks after at most 5 rejections")
    func killedVerification() async throws {
        let door = try await Door()
        let right = try await door.code("TBA6", on: "2024-01-17")
        let wrong = String(format: "%06d", (Int(right)! + 1) % 1_000_000)
        // The middle of three full runs is the first guess; the schedule moves the kills towards the
        // moment a run prints from there, however slow or fast the machine is meanwhile.
        var runs: [Int] = []
        for _ in 0..<3 { runs.append(try await door.verify("WARMUP", wrong).milliseconds) }
        var schedule = KillSchedule(startingAtMilliseconds: runs.sorted()[1])

        let arguments = [
            "verify", "--device-keys", door.device, "--state", door.state, "--now", "2024-01-17T10:00:00+01:00", "--", "TBA6", wrong,
        ]
        var printed: [String] = []
        var killedSilent = 0
        for _ in 0..<60 {
            // The run, the sleep and the kill on a thread of their own rather than the test pool's.
            let delay = schedule.nextDelay()
            let (lines, killed) = try await offPool { () throws -> ([String], Bool) in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
                process.arguments = arguments
                process.environment = KilledChild.environment
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                try process.run()
                usleep(delay)
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                return (text.split(separator: "\n").map(String.init), process.terminationReason == .uncaughtSignal)
            }
            printed += lines
            if killed && lines.isEmpty { killedSilent += 1 }
            schedule.record(killedAfterTheMoment: !lines.isEmpty)
        }
        let log = try await CommandRunner.run(["attempts", "export", "--state", door.state]).stdout
            .split(separator: "\n").filter { $0.contains("\"TBA6\"") }
        let rejections = printed.filter { $0.hasPrefix("rejected") }
        // Every outcome anyone saw was recorded first.
        #expect(log.count >= printed.count, "recorded \(log.count), printed \(printed.count)")
        #expect(rejections.count <= 5, "\(rejections)")
        // Whatever happened, the right code can no longer get through once five tries were counted.
        let counted = log.filter { !$0.contains("\"attempt\":null") }.count
        if counted >= 5 {
            #expect(try await door.verify("TBA6", right).stdout == "locked\n")
        }
        // The kills landed at different moments: some runs printed, and some died before they could.
        #expect(!printed.isEmpty, "no run lived long enough to print; kills after (µs) \(schedule.delays)")
        #expect(killedSilent > 0, "every run printed before its kill; kills after (µs) \(schedule.delays)")
    }
}
