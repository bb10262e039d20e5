import Foundation
import Testing

/// Outputs never replace what a command reads, links stay links, and signals leave no temporary feed (review items 4, 5, 11).
@Suite("Outputs never replace a keyring or an input", .serialized)
struct OutputSafetyTests {
    static let now = ["--now", "2024-03-10T12:00:00Z"]

    /// A private keyring in a fresh folder.
    static func keyring(in directory: TemporaryDirectory, name: String = "kr.json") async throws -> String {
        let path = directory.file(name)
        let made = try await CommandRunner.run(["keys", "init", "--keyring", path, "--active-from", "2024-03-01"] + now)
        try #require(made.status == 0, "\(made.stderr)")
        return path
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test("export-device --out naming the keyring itself, or a link to it, is refused with --force and changes nothing")
    func exportOverKeyring() async throws {
        let directory = try TemporaryDirectory()
        let keyring = try await Self.keyring(in: directory)
        let before = Self.bytes(keyring)
        #expect(symlink(keyring, directory.file("alias.json")) == 0)
        for out in [keyring, directory.file("alias.json"), directory.path + "/./kr.json"] {
            let result = try await CommandRunner.run(
                [
                    "keys", "export-device", "--keyring", keyring, "--scope", "D", "--from", "2024-03-10",
                    "--time-zone", "UTC", "--out", out, "--force",
                ] + Self.now)
            #expect(result.status == 64, "\(out): \(result.stderr)")
            #expect(result.stderr.contains("--out and --keyring name the same file"))
        }
        #expect(Self.bytes(keyring) == before)
        #expect(!FileManager.default.fileExists(atPath: keyring + ".audit.jsonl.tmp"))
    }

    @Test("export-device --force keeps the file it replaces as FILE.replaced-TIME")
    func forceKeepsACopy() async throws {
        let directory = try TemporaryDirectory()
        let keyring = try await Self.keyring(in: directory)
        let device = directory.file("device.json")
        func export(_ extra: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.run(
                [
                    "keys", "export-device", "--keyring", keyring, "--scope", "D", "--from", "2024-03-10",
                    "--time-zone", "UTC", "--out", device,
                ] + extra + Self.now)
        }
        #expect(try await export([]).status == 0)
        let first = Self.bytes(device)
        let again = try await export(["--from", "2024-03-11", "--force"])
        #expect(again.status == 0, "\(again.stderr)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("device.json.replaced-") }
        #expect(kept.count == 1)
        #expect(Self.bytes(directory.file(kept.first ?? "none")) == first)
        #expect(Self.bytes(device) != first)
    }

    @Test("issue --out naming the manifest, or --out and --rejects naming one file, is refused before any work")
    func manifestOutputs() async throws {
        let directory = try TemporaryDirectory()
        let manifest = try directory.write("m.csv", "shipment_id,delivery_date\nA,2024-01-17\n")
        let example = Repository.path("keys-example/keyring.json")
        let overInput = try await CommandRunner.run(["issue", "--keyring", example, "--manifest", manifest, "--out", manifest, "--force"])
        #expect(overInput.status == 64)
        #expect(overInput.stderr.contains("--out and --manifest name the same file"))
        #expect(String(decoding: Self.bytes(manifest) ?? Data(), as: UTF8.self) == "shipment_id,delivery_date\nA,2024-01-17\n")

        let both = directory.file("both.csv")
        let twice = try await CommandRunner.run(["issue", "--keyring", example, "--manifest", manifest, "--out", both, "--rejects", both])
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("--rejects and --out name the same file"))
        #expect(!FileManager.default.fileExists(atPath: both))

        let stdoutTwice = try await CommandRunner.run(["issue", "--keyring", example, "--manifest", manifest, "--rejects", "-"])
        #expect(stdoutTwice.status == 64)
        #expect(stdoutTwice.stderr.contains("--rejects and --out name standard output"))
    }

    @Test("--rejects - writes the rejects to standard output")
    func rejectsToStandardOutput() async throws {
        let directory = try TemporaryDirectory()
        let manifest = try directory.write("m.csv", "shipment_id,delivery_date\nA,2024-01-17\nB,2024-02-30\n")
        let out = directory.file("feed.csv")
        let result = try await CommandRunner.run([
            "issue", "--keyring", Repository.path("keys-example/keyring.json"),
            "--manifest", manifest, "--out", out, "--rejects", "-", "--time-zone", "UTC",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("line 3: "))
        #expect(!FileManager.default.fileExists(atPath: directory.file("-")))
    }

    @Test("a directory as --manifest is a usage error that names it")
    func directoryManifest() async throws {
        let directory = try TemporaryDirectory()
        let result = try await CommandRunner.run([
            "issue", "--keyring", Repository.path("keys-example/keyring.json"),
            "--manifest", directory.path, "--input-format", "csv",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("cannot read \(directory.path): it is a directory"))
    }

    @Test("keys rotate through a symbolic link changes the real keyring, locks and audits it there, and keeps the link")
    func symlinkedKeyring() async throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("real"), withIntermediateDirectories: false)
        let real = try await Self.keyring(in: directory, name: "real/kr.json")
        let link = directory.file("link.json")
        #expect(symlink("real/kr.json", link) == 0)
        let rotated = try await CommandRunner.run(["keys", "rotate", "--keyring", link, "--active-from", "2024-04-01"] + Self.now)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        var info = stat()
        #expect(lstat(link, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK)
        let listed = try await CommandRunner.run(["keys", "list", "--keyring", real, "--json"] + Self.now)
        #expect(listed.stdout.split(separator: "\n").count == 2)
        #expect(FileManager.default.fileExists(atPath: real + ".audit.jsonl"))
        #expect(FileManager.default.fileExists(atPath: real + ".lock"))
        #expect(!FileManager.default.fileExists(atPath: link + ".audit.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: link + ".lock"))
    }

    @Test("SIGTERM and SIGINT during a manifest run remove the temporary feed", arguments: [SIGTERM, SIGINT])
    func signalRemovesTemporaryFeed(signal: Int32) async throws {
        let directory = try TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = [
            "issue", "--keyring", Repository.path("keys-example/keyring.json"), "--manifest", "-",
            "--out", directory.file("feed.csv"), "--time-zone", "UTC",
        ]
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The run waits for more input with its temporary feed open.
        input.fileHandleForWriting.write(Data("shipment_id,delivery_date\nA,2024-01-17\n".utf8))
        var temporary: [String] = []
        for _ in 0..<200 where temporary.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            temporary = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
        }
        try #require(!temporary.isEmpty, "the temporary feed never appeared")
        kill(process.processIdentifier, signal)
        // Bounded: a process that ignores the signal is killed, and the expectation below fails.
        for _ in 0..<500 where process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationStatus == signal)
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}

@Suite("Outputs: standard output twice, key material behind --force, example keys without their flag", .serialized)
struct OutputSafetyReviewTests {
    @Test("--out /dev/stdout and --rejects - are one output when standard output is a pipe")
    func stdoutTwice() async throws {
        let directory = try TemporaryDirectory()
        let manifest = try directory.write("m.csv", "shipment_id,delivery_date\nA,2024-01-17\n")
        let result = try await CommandRunner.run([
            "issue", "--keyring", Repository.path("keys-example/keyring.json"), "--manifest", manifest,
            "--out", "/dev/stdout", "--rejects", "-",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--rejects and --out name standard output"))
        // Two outputs to /dev/null are harmless.
        let null = try await CommandRunner.run([
            "issue", "--keyring", Repository.path("keys-example/keyring.json"), "--manifest", manifest,
            "--out", "/dev/null", "--rejects", "/dev/null", "--time-zone", "UTC",
        ])
        #expect(null.status == 0, "\(null.stderr)")
    }

    @Test("issue --out --force never replaces another keyring or a device-key file")
    func feedNeverReplacesKeys() async throws {
        let directory = try TemporaryDirectory()
        let other = try await OutputSafetyTests.keyring(in: directory, name: "other.json")
        let before = FileManager.default.contents(atPath: other)
        let manifest = try directory.write("m.csv", "shipment_id,delivery_date\nA,2024-01-17\n")
        let result = try await CommandRunner.run([
            "issue", "--keyring", Repository.path("keys-example/keyring.json"), "--manifest", manifest,
            "--out", other, "--force",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("holds keys; a feed never replaces key material"))
        #expect(FileManager.default.contents(atPath: other) == before)
    }

    @Test("the published example secrets are example keys even with the flag removed")
    func exampleWithoutFlag() async throws {
        let directory = try TemporaryDirectory()
        let text = try String(contentsOfFile: Repository.path("keys-example/keyring.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"example\": true,", with: "")
        #expect(!text.contains("example\":"))
        let keyring = try directory.write("unflagged.json", text)
        let check = try await CommandRunner.run(["keys", "check", "--keyring", keyring, "--now", "2024-01-17T09:00:00Z"])
        #expect(check.status == 1)
        #expect(check.stderr.contains("published example keys"))
    }
}
