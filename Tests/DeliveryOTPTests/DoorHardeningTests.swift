import Foundation
import Testing

/// The review's reproductions at the door, through the built executable.
@Suite("At the door: durability, limits and clocks, end to end", .serialized)
struct DoorHardeningTests {
    typealias Door = DoorCommandTests.Door

    @Test("verify --max-attempts 10 cannot raise a device file's limit of 3")
    func maxAttemptsCannotRaise() async throws {
        let door = try await Door()
        let strict = door.directory.file("strict.json")
        let exported = try await CommandRunner.run([
            "keys", "export-device", "--keyring", door.keyring, "--scope", "DEPOT-12",
            "--from", "2024-01-17", "--days", "1", "--time-zone", "Europe/Berlin",
            "--attempt-limit", "3", "--out", strict, "--now", "2024-01-10T12:00:00Z",
        ])
        try #require(exported.status == 0, "\(exported.stderr)")
        func verify(_ code: String) async throws -> CommandRunner.Result {
            try await CommandRunner.run([
                "verify", "--device-keys", strict, "--state", door.state, "--max-attempts", "10",
                "--now", "2024-01-17T10:00:00+01:00", "--", "TBA1", code,
            ])
        }
        #expect(try await verify("000000").stdout == "rejected (2 attempts left)\n")
        #expect(try await verify("000001").stdout == "rejected (1 attempt left)\n")
        #expect(try await verify("000002").stdout == "rejected (0 attempts left)\n")
        let locked = try await verify(try door.code("TBA1", on: "2024-01-17"))
        #expect(locked.status == 2)
        #expect(locked.stdout == "locked\n")
    }

    @Test("locked under --max-attempts 1 stays locked without it")
    func lockIsStored() async throws {
        let door = try await Door()
        let right = try await door.code("TBA2", on: "2024-01-17")
        let wrong = right == "000000" ? "000001" : "000000"
        func verify(_ code: String, _ extra: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.run(
                [
                    "verify", "--device-keys", door.device, "--state", door.state,
                    "--now", "2024-01-17T10:00:00+01:00",
                ] + extra + ["--", "TBA2", code])
        }
        #expect(try await verify(wrong, ["--max-attempts", "1"]).stdout == "rejected (0 attempts left)\n")
        #expect(try await verify(wrong, ["--max-attempts", "1"]).stdout == "locked\n")
        let later = try await verify(right, [])
        #expect(later.status == 2)
        #expect(later.stdout == "locked\n")
    }

    @Test("a device clock moved back more than 10 minutes is refused with exit 65 and not counted")
    func clockMovedBack() async throws {
        let door = try await Door()
        #expect(try await door.verify("TBA3", "000000", at: "2024-01-17T12:00:00+01:00").status == 1)
        let back = try await door.verify("TBA3", "000000", at: "2024-01-17T11:00:00+01:00")
        #expect(back.status == 65)
        #expect(back.stdout.isEmpty)
        #expect(back.stderr.contains("before an attempt already recorded at 2024-01-17T11:00:00Z (by more than 10 minutes"))
        #expect(back.stderr.contains("delivery-otp: hint: set the device clock to the correct time"))
        let log = try await CommandRunner.run(["attempts", "export", "--state", door.state])
        #expect(log.stdout.split(separator: "\n").count == 1)
        #expect(try await door.verify("TBA3", "000000", at: "2024-01-17T12:01:00+01:00").stdout == "rejected (3 attempts left)\n")
    }

    /// Finds `strace` on the PATH.
    static let strace: String? = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(
        "under strace, every write to the state files is synced before the outcome is printed",
        .enabled(if: strace != nil, "strace is not installed (.ci/run installs it)"))
    func outcomeFollowsSync() async throws {
        let door = try await Door()
        // A first run creates the file; the review's case is an existing state file.
        #expect(try await door.verify("TBA4", "000000").status == 1)
        let trace = door.directory.file("trace.txt")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.strace!)
        process.arguments = [
            "-f", "-y", "-o", trace, "-e", "trace=pwrite64,write,fdatasync,fsync",
            CommandRunner.executable, "verify", "--device-keys", door.device, "--state", door.state,
            "--now", "2024-01-17T10:01:00+01:00", "--", "TBA4", "000000",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try await offPool { () throws -> Void in
            try process.run()
            process.waitUntilExit()
        }
        #expect(process.terminationStatus == 1)
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        var unsynced = Set<String>()  // state files written since their last sync
        var writesToState = 0
        var printed = false
        for line in lines {
            guard let open = line.firstIndex(of: "("), let fdEnd = line[open...].firstIndex(of: ">") else { continue }
            let call = line[..<open].split(separator: " ").last.map(String.init) ?? ""
            let target = String(line[line.index(after: open)...fdEnd])  // e.g. 3</tmp/x/state.sqlite-wal>
            // The -shm file is SQLite's wal-index, rebuilt from the WAL after a crash and never
            // synced by design; the database and its WAL are what must be durable.
            let isState = target.contains("state.sqlite") && !target.contains("state.sqlite-shm")
            if isState && (call == "pwrite64" || call == "write") {
                writesToState += 1
                unsynced.insert(target)
            } else if isState && (call == "fdatasync" || call == "fsync") {
                unsynced.remove(target)
            } else if call == "write" && target.hasPrefix("1<") && line.contains("rejected (") {
                printed = true
                #expect(unsynced.isEmpty, "written but not synced when the outcome was printed: \(unsynced)")
            }
            if printed { break }
        }
        #expect(printed, "the trace has no write of the outcome to standard output")
        #expect(writesToState > 0, "the trace shows no write to the state files")
    }
}
