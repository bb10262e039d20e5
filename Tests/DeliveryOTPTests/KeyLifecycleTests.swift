import Foundation
import Testing

@testable import DeliveryOTP

/// The security team's `keys` commands, end to end through the built executable.
@Suite("Key lifecycle")
struct KeyLifecycleTests {
    /// A fixed "now" at noon UTC, so that "today" is 2024-03-10 in any machine time zone.
    static let now = ["--now", "2024-03-10T12:00:00Z"]

    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandRunner.Result {
        try await CommandRunner.run(arguments, environment: environment)
    }

    static func keys(_ path: String) async throws -> [[String: Any]] {
        let result = try await run(["keys", "list", "--keyring", path, "--json"] + now)
        return result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func permissions(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("init, rotate ahead, list, export two days, codes match, revoke with replacement, check")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")

        let created = try await Self.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try Self.permissions(keyring) == 0o600)
        #expect(try Self.permissions(keyring + ".audit.jsonl") == 0o600)

        let rotated = try await Self.run(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-03-15"] + Self.now)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        var listed = try await Self.keys(keyring)
        #expect(listed.map { $0["status"] as? String } == ["active", "scheduled"])
        #expect(listed[0]["until"] as? String == "2024-03-15")
        #expect(listed.allSatisfy { ($0["id"] as? String)?.hasPrefix("k-2024-03-") == true })
        #expect(listed.allSatisfy { ($0["fingerprint"] as? String)?.count == 19 })

        let table = try await Self.run(["keys", "list", "--keyring", keyring] + Self.now)
        #expect(table.stdout.hasPrefix("ID"))
        #expect(table.stdout.contains("scheduled"))

        // Export across the rotation: day 1 uses the first key, day 2 the second.
        let device = directory.file("device.json")
        let exported = try await Self.run(
            [
                "keys", "export-device", "--keyring", keyring, "--scope", "DEPOT-12", "--from", "2024-03-14",
                "--days", "2", "--time-zone", "Europe/Berlin", "--out", device,
            ] + Self.now)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(try Self.permissions(device) == 0o600)
        let deviceText = try String(contentsOfFile: device, encoding: .utf8)
        #expect(deviceText.contains(#""format": "delivery-otp-device-keys""#))
        #expect(deviceText.contains(#""timeZone": "Europe/Berlin""#))
        for date in ["2024-03-14", "2024-03-15"] {
            let ids = ["TBA123456789000", "X", "1Z999AA10123456784"]
            let fromKeyring = try await Self.run(["issue", "--keyring", keyring, "--scope", "DEPOT-12", "--date", date] + ids)
            let fromDevice = try await Self.run(["issue", "--device-keys", device, "--scope", "DEPOT-12", "--date", date] + ids)
            #expect(fromKeyring.status == 0 && fromDevice.status == 0)
            #expect(fromKeyring.stdout == fromDevice.stdout)
            #expect(fromKeyring.stdout.split(separator: "\n").count == 3)
        }
        // The device file holds nothing for other days or scopes.
        let state = directory.file("state.sqlite")
        let otherDay = try await Self.run([
            "verify", "--device-keys", device, "--state", state, "--now", "2024-03-16T12:00:00+01:00", "X", "123456",
        ])
        #expect(otherDay.status == 65)
        #expect(otherDay.stderr.contains("no key for 2024-03-16 in DEPOT-12 device keys: sync the device"))
        let otherScope = try await Self.run([
            "verify", "--device-keys", device, "--state", state, "--scope", "DEPOT-13",
            "--now", "2024-03-14T12:00:00+01:00", "X", "123456",
        ])
        #expect(otherScope.status == 64)

        // Revoke the active key: a replacement takes over today, the record stays.
        let activeID = listed[0]["id"] as! String
        let beforeRevocation = try await Self.run(["issue", "--keyring", keyring, "--date", "2024-03-12", "X"]).stdout
        let revoked = try await Self.run(["keys", "revoke", "--keyring", keyring, activeID] + Self.now)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(revoked.stderr.contains("affected dates: 2024-03-10 to 2024-03-14"))
        listed = try await Self.keys(keyring)
        #expect(listed.count == 3)
        #expect(listed.first { $0["id"] as? String == activeID }?["status"] as? String == "revoked")
        #expect(listed.contains { $0["status"] as? String == "active" && $0["activeFrom"] as? String == "2024-03-10" })
        let afterRevocation = try await Self.run(["issue", "--keyring", keyring, "--date", "2024-03-12", "X"]).stdout
        #expect(afterRevocation != beforeRevocation)

        let check = try await Self.run(["keys", "check", "--keyring", keyring] + Self.now)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.hasPrefix("ok:"))

        let audit = try String(contentsOfFile: keyring + ".audit.jsonl", encoding: .utf8)
        #expect(
            audit.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["operation"] as? String
            } == ["init", "rotate", "export-device", "revoke", "replace"])
    }

    @Test("check fails with reasons when the next 30 days are not covered")
    func checkFindsGaps() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        _ = try await Self.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-03-20"] + Self.now)
        let check = try await Self.run(["keys", "check", "--keyring", keyring] + Self.now)
        #expect(check.status == 1)
        #expect(check.stderr.contains("10 of the next 31 days have no key, the first is 2024-03-10"))
    }

    @Test("rotate refuses a start date already taken and a past date without --force")
    func rotateRefusals() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        _ = try await Self.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now)
        let before = try Data(contentsOf: URL(fileURLWithPath: keyring))
        let taken = try await Self.run(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-03-01", "--force"] + Self.now)
        #expect(taken.status == 65)
        #expect(taken.stderr.contains("already starts on 2024-03-01"))
        let past = try await Self.run(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-03-05"] + Self.now)
        #expect(past.status == 65)
        #expect(past.stderr.contains("2024-03-05 is in the past (today is 2024-03-10)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyring)) == before)
        let forced = try await Self.run(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-03-05", "--force"] + Self.now)
        #expect(forced.status == 0)
        #expect(try await Self.keys(keyring).count == 2)
    }

    @Test("init never overwrites; with --force the old keyring is kept beside the new one")
    func initNeverOverwrites() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        _ = try await Self.run(["keys", "init", "--keyring", keyring] + Self.now)
        let original = try Data(contentsOf: URL(fileURLWithPath: keyring))
        let again = try await Self.run(["keys", "init", "--keyring", keyring] + Self.now)
        #expect(again.status == 73)
        #expect(again.stderr.contains("already exists"))
        #expect(again.stderr.contains("--force"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyring)) == original)

        let forced = try await Self.run(["keys", "init", "--keyring", keyring, "--force"] + Self.now)
        #expect(forced.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyring)) != original)
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("keyring.json.replaced-") }
        #expect(kept.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.file(kept[0]))) == original)
    }

    @Test("a keyring or device-key file that others can read is refused with a chmod hint")
    func worldReadableRefused() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        _ = try await Self.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now)
        let device = directory.file("device.json")
        _ = try await Self.run(
            ["keys", "export-device", "--keyring", keyring, "--from", "2024-03-10", "--time-zone", "UTC", "--out", device] + Self.now)
        for (path, arguments) in [(keyring, ["--keyring", keyring]), (device, ["--device-keys", device])] {
            chmod(path, 0o644)
            let result = try await Self.run(["issue"] + arguments + ["--date", "2024-03-10", "X"])
            #expect(result.status == 77)
            #expect(result.stderr.contains("\(path) is readable by others (mode 0644)"))
            #expect(result.stderr.contains("delivery-otp: hint: chmod 600 \(path)"))
            #expect(result.stdout.isEmpty)
            chmod(path, 0o600)
            #expect(try await Self.run(["issue"] + arguments + ["--date", "2024-03-10", "X"]).status == 0)
        }
    }

    @Test("the example keyring is readable by all, as in a fresh clone, and only warns")
    func exampleOnlyWarns() async throws {
        let directory = try TemporaryDirectory()
        let copy = try directory.write(
            "keyring.json", try String(contentsOfFile: Repository.path("keys-example/keyring.json"), encoding: .utf8),
            mode: 0o644)
        let result = try await Self.run(["issue", "--keyring", copy, "--date", "2024-01-17", "TBA123456789000"])
        #expect(result.status == 0)
        #expect(result.stdout == "208328\n")
        #expect(result.stderr == "delivery-otp: warning: example keys: never use them in production\n")
    }

    @Test("an encrypted keyring gives the same codes; a wrong passphrase says so and changes nothing")
    func encryption() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        let passphraseFile = try directory.write("passphrase", "correct horse battery staple\n")
        _ = try await Self.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now)
        let plainCodes = try await Self.run(["issue", "--keyring", keyring, "--date", "2024-03-10", "A", "B", "C"]).stdout

        let encrypted = try await Self.run(["keys", "encrypt", "--keyring", keyring, "--passphrase-file", passphraseFile] + Self.now)
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        let sealed = try String(contentsOfFile: keyring, encoding: .utf8)
        #expect(sealed.contains(#""format": "delivery-otp-keyring-encrypted""#))
        #expect(sealed.contains(#""N": 131072, "r": 8, "p": 1"#))

        let withFile = try await Self.run([
            "issue", "--keyring", keyring, "--passphrase-file", passphraseFile, "--date", "2024-03-10", "A", "B", "C",
        ])
        #expect(withFile.stdout == plainCodes)
        let withEnvironment = try await Self.run(
            ["issue", "--keyring", keyring, "--date", "2024-03-10", "A", "B", "C"],
            environment: ["DELIVERY_OTP_PASSPHRASE": "correct horse battery staple"])
        #expect(withEnvironment.stdout == plainCodes)

        let missing = try await Self.run(["issue", "--keyring", keyring, "--date", "2024-03-10", "A"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("is encrypted and no passphrase was given"))

        let before = try Data(contentsOf: URL(fileURLWithPath: keyring))
        for command in [
            ["keys", "rotate", "--keyring", keyring, "--active-from", "2024-04-01"], ["keys", "decrypt", "--keyring", keyring],
        ] {
            let wrong = try await Self.run(command + Self.now, environment: ["DELIVERY_OTP_PASSPHRASE": "wrong horse"])
            #expect(wrong.status == 77)
            #expect(wrong.stderr.contains("wrong passphrase"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: keyring)) == before)
        }

        // Rotation keeps the file encrypted, and decryption gives back the same keys.
        let rotated = try await Self.run(
            ["keys", "rotate", "--keyring", keyring, "--active-from", "2024-04-01", "--passphrase-file", passphraseFile] + Self.now)
        #expect(rotated.status == 0)
        #expect(try String(contentsOfFile: keyring, encoding: .utf8).contains("delivery-otp-keyring-encrypted"))
        let decrypted = try await Self.run(["keys", "decrypt", "--keyring", keyring, "--passphrase-file", passphraseFile] + Self.now)
        #expect(decrypted.status == 0)
        #expect(try String(contentsOfFile: keyring, encoding: .utf8).contains(#""format": "delivery-otp-keyring""#))
        #expect(try await Self.run(["issue", "--keyring", keyring, "--date", "2024-03-10", "A", "B", "C"]).stdout == plainCodes)
        #expect(try Self.permissions(keyring) == 0o600)
    }

    @Test("no secret appears in any output, error or audit line; only the export file holds day keys")
    func secretsNeverPrinted() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("keyring.json")
        var transcript = ""
        func record(_ arguments: [String]) async throws {
            let result = try await Self.run(arguments)
            transcript += result.stdout + result.stderr
        }
        try await record(["keys", "init", "--keyring", keyring, "--active-from", "2024-03-01"] + Self.now)
        try await record(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-03-12"] + Self.now)
        try await record(["keys", "rotate", "--keyring", keyring, "--active-from", "2024-03-12"] + Self.now)  // refused
        try await record(["keys", "list", "--keyring", keyring] + Self.now)
        try await record(["keys", "list", "--keyring", keyring, "--json"] + Self.now)
        try await record(["keys", "check", "--keyring", keyring] + Self.now)
        let device = directory.file("device.json")
        try await record(
            ["keys", "export-device", "--keyring", keyring, "--scope", "D1", "--days", "3", "--time-zone", "UTC", "--out", device]
                + Self.now)
        try await record(
            ["keys", "export-device", "--keyring", keyring, "--scope", "D1", "--days", "3", "--time-zone", "UTC", "--out", device]
                + Self.now)
        try await record(["issue", "--keyring", keyring, "--date", "2024-03-10", "--json", "X"])
        try await record(["issue", "--device-keys", device, "--scope", "D1", "--date", "2024-03-11", "--json", "X"])
        try await record(["verify", "--keyring", keyring, "--date", "2024-03-10", "X", "000000"])
        let list = try await Self.keys(keyring)
        try await record(["keys", "revoke", "--keyring", keyring, list[0]["id"] as! String] + Self.now)
        transcript += try String(contentsOfFile: keyring + ".audit.jsonl", encoding: .utf8)

        var secrets: [String] = []
        let keyringJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keyring))) as! [String: Any]
        for key in keyringJSON["keys"] as! [[String: Any]] { secrets.append(key["secret"] as! String) }
        let deviceJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: device))) as! [String: Any]
        for entry in deviceJSON["dayKeys"] as! [[String: Any]] { secrets.append(entry["secret"] as! String) }
        #expect(secrets.count == 6)
        for secret in secrets {
            let raw = Data(base64Encoded: secret)!
            let hex = Hex.string(raw)
            #expect(!transcript.contains(secret))
            #expect(!transcript.contains(hex))
            #expect(!transcript.contains(String(secret.prefix(12))))
        }
        // The export holds day keys only: no master secret appears in it.
        let deviceText = try String(contentsOfFile: device, encoding: .utf8)
        for secret in secrets.prefix(3) { #expect(!deviceText.contains(secret)) }
    }
}
