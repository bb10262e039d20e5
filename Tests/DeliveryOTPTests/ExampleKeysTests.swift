import Foundation
import Testing

/// The published example keys can be tried, never used or changed as production keys (review item 8).
@Suite("The example keys never pass as production keys", .serialized)
struct ExampleKeysTests {
    static let now = ["--now", "2024-01-17T09:00:00Z"]

    /// A copy of the example keyring with the given mode.
    static func copy(in directory: TemporaryDirectory, mode: mode_t = 0o600) throws -> String {
        try directory.write(
            "example.json", try String(contentsOfFile: Repository.path("keys-example/keyring.json"), encoding: .utf8),
            mode: mode)
    }

    @Test("keys check fails with exit 1 on the example keys, even with mode 0600")
    func checkFails() async throws {
        let directory = try TemporaryDirectory()
        let result = try await CommandRunner.run(["keys", "check", "--keyring", try Self.copy(in: directory)] + Self.now)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("problem: the keyring holds the published example keys"))
    }

    @Test("keys rotate and revoke refuse an example keyring and leave it unchanged")
    func noChanges() async throws {
        let directory = try TemporaryDirectory()
        let keyring = try Self.copy(in: directory)
        let before = FileManager.default.contents(atPath: keyring)
        let rotate = try await CommandRunner.run(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-02-10"] + Self.now)
        #expect(rotate.status == 65)
        #expect(rotate.stderr.contains("published example keys"))
        let revoke = try await CommandRunner.run(["keys", "revoke", "--keyring", keyring, "k-2024-01-01-7f3a"] + Self.now)
        #expect(revoke.status == 65)
        #expect(FileManager.default.contents(atPath: keyring) == before)
        #expect(!FileManager.default.fileExists(atPath: keyring + ".audit.jsonl"))
    }

    @Test("only issue and verify --keyring read an example keyring that others can read")
    func exemptionOnlyForReading() async throws {
        let directory = try TemporaryDirectory()
        let keyring = try Self.copy(in: directory, mode: 0o644)
        let issue = try await CommandRunner.run(["issue", "--keyring", keyring, "--date", "2024-01-17", "TBA123456789000"])
        #expect(issue.status == 0)
        #expect(issue.stderr == "delivery-otp: warning: example keys: never use them in production\n")
        let verify = try await CommandRunner.run(["verify", "--keyring", keyring, "--date", "2024-01-17", "TBA123456789000", "208328"])
        #expect(verify.status == 0)
        let list = try await CommandRunner.run(["keys", "list", "--keyring", keyring] + Self.now)
        #expect(list.status == 77)
        #expect(list.stderr.contains("is readable by others (mode 0644)"))
    }

    @Test("at the door, example device keys are refused unless --allow-example, and never when others can write them")
    func exampleDeviceKeys() async throws {
        let directory = try TemporaryDirectory()
        let keyring = try Self.copy(in: directory)
        let device = directory.file("device.json"), state = directory.file("state.sqlite")
        let exported = try await CommandRunner.run(
            [
                "keys", "export-device", "--keyring", keyring, "--scope", "DEPOT-12", "--from", "2024-01-17",
                "--time-zone", "Europe/Berlin", "--out", device,
            ] + Self.now)
        try #require(exported.status == 0, "\(exported.stderr)")
        let door = ["verify", "--device-keys", device, "--state", state, "--now", "2024-01-17T10:15:00+01:00", "TBA123456789000", "108163"]
        let refused = try await CommandRunner.run(door)
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("holds day keys of the published example keys"))
        #expect(refused.stderr.contains("hint: export device keys from a keyring of your own, or add --allow-example"))
        let allowed = try await CommandRunner.run(door + ["--allow-example"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout == "accepted\n")
        chmod(device, 0o666)
        let shared = try await CommandRunner.run(door + ["--allow-example"])
        #expect(shared.status == 77)
    }
}
