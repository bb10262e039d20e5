import Foundation
import Testing

/// What a new user meets first: messages that name the bad value, say "1 key", and point to the right help.
@Suite("Messages a new user meets", .serialized)
struct MessagePolishTests {
    static let example = Repository.path("keys-example/keyring.json")

    @Test("of several IDs, the error names the bad one")
    func namesTheBadID() async throws {
        let result = try await CommandRunner.run(["issue", "--keyring", Self.example, "--date", "2024-01-17", "GOOD", "BAD ID", "OK"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("invalid shipment ID 'BAD ID': character outside 0x21-0x7E U+0020 (space) at position 4"))
    }

    @Test("one key and one row are counted in the singular")
    func singular() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("kr.json")
        #expect(try await CommandRunner.run(["keys", "init", "--keyring", keyring, "--now", "2024-03-10T12:00:00Z"]).status == 0)
        let check = try await CommandRunner.run(["keys", "check", "--keyring", keyring, "--now", "2024-03-10T12:00:00Z"])
        #expect(check.stdout.hasPrefix("ok: 1 key, "))
        let (result, _) = try await ManifestTests.issue("shipment_id,delivery_date\nA,2024-01-17\n", in: directory)
        #expect(result.stderr.contains("1 row read, 1 code issued, 0 not required, 0 rejected"))
    }

    @Test("a usage error in a keys subcommand points to that subcommand's help")
    func subcommandHelp() async throws {
        let result = try await CommandRunner.run(["keys", "rotate", "--keyring", "x.json"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("hint: run 'delivery-otp keys rotate --help' for usage"))
    }

    @Test("help for a command that does not exist is a usage error")
    func helpNonexistent() async throws {
        let result = try await CommandRunner.run(["help", "nonexistent"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown command 'nonexistent'"))
        #expect(try await CommandRunner.run(["help", "keys", "rotate"]).status == 0)
    }

    @Test("issue --help shows --out's default once")
    func outDefaultOnce() async throws {
        let help = try await CommandRunner.run(["issue", "--help"]).stdout
        let out = help.components(separatedBy: "--out <file>").dropFirst().first?.components(separatedBy: "--rejects").first ?? ""
        #expect(out.components(separatedBy: "default").count == 2, "\(out)")
    }

    @Test("abbreviations and POSIX zone names are refused with a request for an IANA name", arguments: ["CET", "GMT", "EST5EDT"])
    func abbreviatedZones(_ zone: String) async throws {
        let directory = try TemporaryDirectory()
        let (result, _) = try await ManifestTests.issue("shipment_id,delivery_date\nA,2024-01-17\n", ["--time-zone", zone], in: directory)
        #expect(result.status == 64)
        #expect(result.stderr.contains("'\(zone)' is not an IANA time zone name"))
        #expect(result.stderr.contains("hint: use an IANA time zone name such as Europe/Berlin"))
    }

    @Test("a passphrase for a plain keyring is noted as not needed; encrypt refuses a short one and is idempotent")
    func passphrases() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("kr.json")
        let now = ["--now", "2024-03-10T12:00:00Z"]
        #expect(try await CommandRunner.run(["keys", "init", "--keyring", keyring] + now).status == 0)
        let long = try directory.write("long", "correct horse battery staple\n")
        let short = try directory.write("short", "tooshort\n")
        let plain = try await CommandRunner.run(["issue", "--keyring", keyring, "--passphrase-file", long, "--date", "2024-03-10", "X"])
        #expect(plain.status == 0)
        #expect(plain.stderr.contains("is not encrypted: the passphrase is not needed"))

        let tooShort = try await CommandRunner.run(["keys", "encrypt", "--keyring", keyring, "--passphrase-file", short] + now)
        #expect(tooShort.status == 64)
        #expect(tooShort.stderr.contains("the passphrase is 8 bytes long; a keyring is encrypted only with 12 or more"))

        #expect(try await CommandRunner.run(["keys", "encrypt", "--keyring", keyring, "--passphrase-file", long] + now).status == 0)
        let before = FileManager.default.contents(atPath: keyring)
        let again = try await CommandRunner.run(["keys", "encrypt", "--keyring", keyring, "--passphrase-file", long] + now)
        #expect(again.status == 0)
        #expect(again.stderr.contains("is already encrypted; nothing was changed"))
        #expect(FileManager.default.contents(atPath: keyring) == before)
        let audit = try String(contentsOfFile: keyring + ".audit.jsonl", encoding: .utf8)
        #expect(audit.components(separatedBy: "\"operation\":\"encrypt\"").count == 2)
    }
}
