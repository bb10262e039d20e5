import Foundation
import Testing

/// `delivery-otp issue` and `verify`, end to end through the built executable.
@Suite("The issue and verify commands")
struct CommandLineTests {
    static let example = Repository.path("keys-example/keyring.json")
    /// Printed on standard error whenever the published example keys are used.
    static let exampleWarning = "delivery-otp: warning: example keys: never use them in production\n"

    @Test("issue prints exactly one six-digit code per ID, in order")
    func issuePrintsCodes() async throws {
        let result = try await CommandRunner.run([
            "issue", "--keyring", Self.example, "--date", "2024-01-17",
            "TBA123456789000", "X", "TBA123456789000",
        ])
        #expect(result.status == 0)
        // Values from scripts/reference_v1.py, the independent implementation.
        #expect(result.stdout == "208328\n071094\n208328\n")
    }

    @Test("issue --json prints one object per line with the fields in order and JSON escaping")
    func issueJSON() async throws {
        let result = try await CommandRunner.run([
            "issue", "--keyring", Self.example, "--date", "2024-01-17",
            "--scope", "DEPOT-12", "--json", #"TB"A\1"#,
        ])
        #expect(result.status == 0)
        #expect(
            result.stdout
                == #"{"shipmentId":"TB\"A\\1","deliveryDate":"2024-01-17","scope":"DEPOT-12","code":"073570","keyId":"k-2024-01-01-7f3a"}"#
                + "\n")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String]
        #expect(object?["shipmentId"] == #"TB"A\1"#)
    }

    @Test("IDs that begin with a hyphen are given after --")
    func hyphenIDs() async throws {
        let result = try await CommandRunner.run(["issue", "--keyring", Self.example, "--date", "2024-01-17", "--", "-h", "--json"])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").count == 2)
        #expect(result.stdout.allSatisfy { $0.isNumber || $0 == "\n" })
    }

    @Test("a date after the rotation uses the rotated key")
    func rotatedKey() async throws {
        let result = try await CommandRunner.run(["issue", "--keyring", Self.example, "--date", "2024-02-01", "--json", "X"])
        #expect(result.stdout.contains(#""keyId":"k-2024-02-01-c41e""#))
    }

    @Test("verify accepts the issued code with white space around it, exit 0")
    func verifyAccepts() async throws {
        let code = try await CommandRunner.run(["issue", "--keyring", Self.example, "--date", "2024-01-18", "--scope", "DEPOT-12", "P-77"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try await CommandRunner.run([
            "verify", "--keyring", Self.example, "--date", "2024-01-18", "--scope", "DEPOT-12",
            "P-77", " \(code) ",
        ])
        #expect(result.status == 0)
        #expect(result.stdout == "accepted\n")
    }

    @Test(
        "verify rejects a wrong code, another day's code, another scope's code and non-codes, exit 1",
        arguments: [
            ["--date", "2024-01-18", "--scope", "DEPOT-12", "P-77", "WRONG"],
            ["--date", "2024-01-19", "--scope", "DEPOT-12", "P-77", "CODE"],
            ["--date", "2024-01-18", "--scope", "DEPOT-13", "P-77", "CODE"],
            ["--date", "2024-01-18", "--scope", "DEPOT-12", "P-77", "12345"],
            ["--date", "2024-01-18", "--scope", "DEPOT-12", "P-77", "abcdef"],
        ])
    func verifyRejects(_ arguments: [String]) async throws {
        let right = try await CommandRunner.run(["issue", "--keyring", Self.example, "--date", "2024-01-18", "--scope", "DEPOT-12", "P-77"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let wrong = String(format: "%06d", (Int(right)! + 1) % 1_000_000)
        let args = arguments.map { $0 == "CODE" ? right : $0 == "WRONG" ? wrong : $0 }
        let result = try await CommandRunner.run(["verify", "--keyring", Self.example] + args)
        #expect(result.status == 1)
        #expect(result.stdout == "rejected\n")
        #expect(result.stderr == Self.exampleWarning)
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var keyring: String?  // contents of a temporary keyring, when the case needs one
        var status: Int32
        var message: String
        var testDescription: String { name }
    }

    static let shortSecret = KeyringJSON.make([.init(id: "k-a", secret: [UInt8](repeating: 1, count: 12), activeFrom: "2024-01-01")])

    static let badInputs: [BadInput] = [
        BadInput(
            name: "an ID with a space", arguments: ["--date", "2024-01-17", "TBA 1"], status: 64,
            message: "invalid shipment ID 'TBA 1': character outside 0x21-0x7E U+0020 (space) at position 4"),
        BadInput(
            name: "an ID with non-ASCII", arguments: ["--date", "2024-01-17", "TBÄ1"], status: 64,
            message: "invalid shipment ID 'TB\\u{00C4}1': non-ASCII character U+00C4 at position 3"),
        BadInput(
            name: "an ID of 65 characters", arguments: ["--date", "2024-01-17", String(repeating: "A", count: 65)], status: 64,
            message: "invalid shipment ID '\(String(repeating: "A", count: 65))': it is 65 characters long; the maximum is 64"),
        BadInput(
            name: "2024-02-30", arguments: ["--date", "2024-02-30", "X"], status: 64,
            message: "invalid date '2024-02-30': February 2024 has 29 days"),
        BadInput(
            name: "a date that is not YYYY-MM-DD", arguments: ["--date", "17.01.2024", "X"], status: 64,
            message: "invalid date '17.01.2024': expected YYYY-MM-DD"),
        BadInput(
            name: "unknown scope characters", arguments: ["--date", "2024-01-17", "--scope", "DEPOT/12", "X"], status: 64,
            message: "invalid scope: character '/' at position 6 is not allowed"),
        BadInput(
            name: "a missing keyring", arguments: ["--keyring", "/nonexistent/keyring.json", "--date", "2024-01-17", "X"],
            status: 64, message: "cannot read /nonexistent/keyring.json: no such file"),
        BadInput(
            name: "a keyring that is not JSON", arguments: ["--date", "2024-01-17", "X"], keyring: "{ nope",
            status: 65, message: "not a valid keyring: the file is not valid JSON"),
        BadInput(
            name: "a keyring of another version", arguments: ["--date", "2024-01-17", "X"],
            keyring: #"{"format": "delivery-otp-keyring", "version": 9, "keys": []}"#,
            status: 65, message: "keyring version 9 is not supported; this release reads version 1"),
        BadInput(
            name: "a secret shorter than 16 bytes", arguments: ["--date", "2024-01-17", "X"], keyring: shortSecret,
            status: 65, message: "keys[0] (k-a).secret: the secret is 12 bytes; master secrets are 16 to 64 bytes"),
        BadInput(
            name: "no key for the date", arguments: ["--date", "2023-12-31", "X"], status: 65,
            message: "no key covers 2023-12-31"),
        BadInput(
            name: "no shipment ID", arguments: ["--date", "2024-01-17"], status: 64,
            message: "give at least one shipment ID, or --manifest FILE"),
        BadInput(
            name: "an unknown option", arguments: ["--date", "2024-01-17", "--colour", "X"], status: 64,
            message: "unknown option '--colour'"),
    ]

    @Test("bad input gets one error line, a hint, the right exit code and no output", arguments: badInputs)
    func badInput(_ input: BadInput) async throws {
        let directory = try TemporaryDirectory()
        var arguments = input.arguments
        if !arguments.contains("--keyring") {
            let keyring = try input.keyring.map { try directory.write("keyring.json", $0) } ?? Self.example
            arguments = ["--keyring", keyring] + arguments
        }
        for command in ["issue", "verify"] {
            var commandArguments = arguments
            if command == "verify" {
                if input.name == "no shipment ID" { continue }
                commandArguments.append("123456")
            }
            let result = try await CommandRunner.run([command] + commandArguments)
            var stderr = result.stderr
            // The example keyring always warns first; what follows is the error.
            if stderr.hasPrefix(Self.exampleWarning) { stderr.removeFirst(Self.exampleWarning.count) }
            let lines = stderr.split(separator: "\n")
            #expect(result.status == input.status, "\(command): \(result.stderr)")
            #expect(lines.first.map(String.init)?.hasSuffix(input.message) == true, "\(command): \(result.stderr)")
            #expect(lines.first?.hasPrefix("delivery-otp: error: ") == true)
            #expect(lines.count <= 2 && lines.dropFirst().allSatisfy { $0.hasPrefix("delivery-otp: hint: ") })
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("no error message ever contains the keyring's secret")
    func errorsDoNotLeakSecrets() async throws {
        let directory = try TemporaryDirectory()
        let secret = [UInt8](repeating: 0x42, count: 10)
        let path = try directory.write("keyring.json", KeyringJSON.make([.init(id: "k-a", secret: secret, activeFrom: "2024-01-01")]))
        let result = try await CommandRunner.run(["issue", "--keyring", path, "--date", "2024-01-17", "X"])
        #expect(result.status == 65)
        #expect(!result.stderr.contains(Data(secret).base64EncodedString()))
    }

    @Test("issue and verify never modify the keyring")
    func keyringIsReadOnly() async throws {
        let directory = try TemporaryDirectory()
        let original = try String(contentsOfFile: Self.example, encoding: .utf8)
        let path = try directory.write("keyring.json", original)
        let before = try FileManager.default.attributesOfItem(atPath: path)
        _ = try await CommandRunner.run(["issue", "--keyring", path, "--date", "2024-01-17", "X"])
        _ = try await CommandRunner.run(["verify", "--keyring", path, "--date", "2024-01-17", "X", "000000"])
        let after = try FileManager.default.attributesOfItem(atPath: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == original)
        #expect(before[.modificationDate] as? Date == after[.modificationDate] as? Date)
    }

    @Test("help names both commands and exits 0")
    func help() async throws {
        let result = try await CommandRunner.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("issue") && result.stdout.contains("verify"))
    }
}
