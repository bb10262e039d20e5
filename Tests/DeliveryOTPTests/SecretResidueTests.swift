import Foundation
import Testing

/// No stale copy of a secret's text stays in freed memory (review item 10).
@Suite("Secrets leave no copies in the heap")
struct SecretResidueTests {
    static let gdb: String? = ["/usr/bin/gdb", "/bin/gdb"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(
        "after export-device, a core dump taken at exit holds no base64 of any day key it wrote",
        .enabled(if: gdb != nil, "gdb is not installed (.ci/run installs it)"),
        .disabled(if: Sanitizer.active != nil, "a sanitizer's shadow memory makes a core dump tens of gigabytes; the plain run checks this")
    )
    func noBase64InTheHeap() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("kr.json"), device = directory.file("device.json"), core = directory.file("core")
        let made = try await CommandRunner.run(["keys", "init", "--keyring", keyring, "--now", "2024-03-10T12:00:00Z"])
        #expect(made.status == 0)
        // Seven day keys make the JSON text grow through several buffers: each one left behind must be wiped.
        let dump = try await Self.coreAtExit(
            of: [
                "keys", "export-device", "--keyring", keyring, "--scope", "DEPOT-12", "--from", "2024-03-10", "--days", "7",
                "--time-zone", "UTC", "--out", device, "--now", "2024-03-10T12:00:00Z",
            ], core: core)
        let secrets = try Self.daySecrets(device)
        #expect(secrets.count == 7)
        for secret in secrets {
            #expect(dump.range(of: Data(secret.utf8)) == nil, "a copy of a day key's base64 is still in memory")
        }
    }

    @Test(
        "after reading a keyring and device keys, a core dump taken at exit holds no base64 of any secret in them",
        .enabled(if: gdb != nil, "gdb is not installed (.ci/run installs it)"),
        .disabled(if: Sanitizer.active != nil, "a sanitizer's shadow memory makes a core dump tens of gigabytes; the plain run checks this")
    )
    func noBase64AfterParsing() async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("kr.json"), device = directory.file("device.json")
        #expect(try await CommandRunner.run(["keys", "init", "--keyring", keyring, "--now", "2024-03-10T12:00:00Z"]).status == 0)
        let export = try await CommandRunner.run([
            "keys", "export-device", "--keyring", keyring, "--scope", "DEPOT-12", "--from", "2024-03-10", "--days", "7",
            "--time-zone", "UTC", "--out", device, "--now", "2024-03-10T12:00:00Z",
        ])
        #expect(export.status == 0)
        let master = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keyring))) as! [String: Any]
        let masterSecrets = (master["keys"] as! [[String: Any]]).map { $0["secret"] as! String }
        // Issuing parses the whole file: every secret in it passes through the JSON decoder.
        let fromKeyring = try await Self.coreAtExit(
            of: ["issue", "--keyring", keyring, "--date", "2024-03-10", "--scope", "DEPOT-12", "TBA1"], core: directory.file("core1"))
        for secret in masterSecrets {
            #expect(fromKeyring.range(of: Data(secret.utf8)) == nil, "a copy of a master secret's base64 is still in memory")
        }
        let fromDevice = try await Self.coreAtExit(
            of: ["issue", "--device-keys", device, "--date", "2024-03-12", "--scope", "DEPOT-12", "TBA1"], core: directory.file("core2"))
        for secret in try Self.daySecrets(device) {
            #expect(fromDevice.range(of: Data(secret.utf8)) == nil, "a copy of a day key's base64 is still in memory")
        }
    }

    /// The base64 secrets of a device-key file.
    static func daySecrets(_ path: String) throws -> [String] {
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        return (file["dayKeys"] as! [[String: Any]]).map { $0["secret"] as! String }
    }

    /// Runs the command under gdb and returns a core dump taken when it calls exit.
    static func coreAtExit(of arguments: [String], core: String) async throws -> Data {
        // gdb needs SIGCHLD and SIGTRAP, which the test runner's threads keep blocked and a child would
        // inherit: start it through python3 with an empty signal mask, and under timeout(1) so it cannot hang.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                "timeout", "120", Self.gdb!, "-batch", "-ex", "break exit", "-ex", "run", "-ex", "gcore \(core)", "--args",
                CommandRunner.executable,
            ] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try await offPool { () throws -> Void in
            try process.run()
            process.waitUntilExit()
        }
        let dump = try Data(contentsOf: URL(fileURLWithPath: core))
        try #require(dump.count > 1_000_000, "gdb wrote no core")
        return dump
    }
}
