@_spi(Tools) import DeliveryOTP
import Foundation

/// `issue --manifest`: files, policy and reporting around the library's ManifestIssuer.
struct ManifestRun {
    let command: DeliveryOTPCommand.Issue
    let manifest: String

    func run() throws {
        var outputs = [DistinctFiles.Named(option: "--out", path: command.out)]
        if let rejects = command.rejects { outputs.append(.init(option: "--rejects", path: rejects)) }
        var inputs = [
            DistinctFiles.Named(option: "--manifest", path: manifest),
            DistinctFiles.Named(option: "--keyring", path: command.keys.keyring!),
        ]
        if let passphraseFile = command.keys.passphrase.passphraseFile {
            inputs.append(.init(option: "--passphrase-file", path: passphraseFile))
        }
        try DistinctFiles.check(outputs: outputs, inputs: inputs)
        for output in outputs { try DistinctFiles.refuseKeyMaterial(output.path, option: output.option) }
        let format = try inputFormat()
        let policy = try valuePolicy()
        let zone = try command.timeZone.map { try DeliveryTimeZone($0) } ?? .current
        let passphrase = try command.keys.passphrase.passphrase()
        let loaded = try KeyringFile(path: command.keys.keyring!).load(passphrase: passphrase, exampleMayBeShared: true)
        loaded.warnings.forEach(Diagnostics.warning)
        PassphraseOptions.noteIfUnneeded(passphrase, loaded, path: command.keys.keyring!)

        let input: Int32
        var inputSize: Int?
        if manifest == "-" {
            input = 0
        } else {
            input = open(manifest, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else {
                throw CommandFailure(
                    message: "cannot read \(manifest): \(String(cString: strerror(errno)))",
                    hint: "check the path given to --manifest", exitCode: .usage)
            }
            var info = stat()
            if fstat(input, &info) == 0 {
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    close(input)
                    throw CommandFailure(
                        message: "cannot read \(manifest): it is a directory",
                        hint: "give --manifest a CSV or JSON-lines file, or - for standard input",
                        exitCode: .usage)
                }
                if (info.st_mode & S_IFMT) == S_IFREG { inputSize = Int(info.st_size) }
            }
        }
        defer { if input != 0 { close(input) } }

        let output = try command.out == "-" ? nil : AtomicFile.Pending(path: command.out, mode: command.force ? .replace : .createNew)
        let rejectsPath = command.rejects.flatMap { $0 == "-" ? nil : $0 }
        let rejects = try rejectsPath.map { try AtomicFile.Pending(path: $0, mode: command.force ? .replace : .createNew) }
        // Ctrl-C or SIGTERM must not leave a temporary feed (codes) behind.
        SignalCleanup.install()

        let issuer = ManifestIssuer(
            keyring: loaded.keyring,
            options: ManifestIssuer.Options(
                format: format, policy: policy, timeZone: zone, strict: command.strict,
                threads: command.threads ?? ProcessInfo.processInfo.activeProcessorCount))
        let showProgress = isatty(2) == 1
        let started = Timestamp.monotonicSeconds()
        let summary: ManifestIssuer.Summary
        do {
            summary = try issuer.run(
                input: input, output: output?.fd ?? 1,
                rejects: rejects?.fd ?? (command.rejects == "-" ? 1 : 2)
            ) { [inputSize] bytes in
                guard showProgress else { return }
                Diagnostics.writeAll(2, "\r\(Diagnostics.program): \(Self.progress(bytes: bytes, of: inputSize)) ")
            }
        } catch {
            if showProgress { Diagnostics.writeAll(2, "\n") }
            output?.abandon()
            rejects?.abandon()
            switch error {
            case .missingColumn, .empty, .rejectedRow, .recordTooLong, .badHeader:
                throw CommandFailure(
                    message: "\(manifest): \(error)", hint: CommandLineWording.hint(for: error) ?? error.hint,
                    exitCode: .dataError)
            case .io:
                throw CommandFailure(message: error.description, exitCode: .ioError)
            }
        }
        try rejects?.commit()
        try output?.commit()
        let elapsed = max(Timestamp.monotonicSeconds() - started, 0.000_001)
        if showProgress { Diagnostics.writeAll(2, "\n") }
        let rate = Double(summary.rowsRead) / elapsed
        Diagnostics.note(
            "\(counted(summary.rowsRead, "row")) read, \(counted(summary.issued, "code")) issued, \(summary.notRequired) not required, "
                + "\(summary.rejected) rejected, \(String(format: "%.2f", elapsed)) s, \(String(format: "%.2f", rate / 1_000_000)) M rows/s"
        )
    }

    /// `[#########-----------]  45%  224 of 497 MB`, or `issuing, 224 MB read` when the size is unknown (standard input).
    static func progress(bytes: Int, of total: Int?) -> String {
        guard let total, total > 0 else { return "issuing, \(bytes / 1_000_000) MB read" }
        let percent = min(100, bytes * 100 / total), width = 30
        let filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let padded = String(repeating: " ", count: 3 - String(percent).count) + String(percent)
        return "[\(bar)] \(padded)%  \(bytes / 1_000_000) of \(total / 1_000_000) MB"
    }

    private func inputFormat() throws -> ManifestIssuer.Format {
        if let name = command.inputFormat {
            guard let format = ManifestIssuer.Format(rawValue: name) else {
                throw CommandFailure(message: "unknown input format '\(name)'", hint: "use csv or jsonl", exitCode: .usage)
            }
            return format
        }
        let lower = manifest.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonLines }
        if lower.hasSuffix(".csv") || manifest == "-" { return .csv }
        throw CommandFailure(
            message: "cannot tell the format of \(manifest) from its name",
            hint: "name it .csv or .jsonl, or give --input-format csv|jsonl", exitCode: .usage)
    }

    private func valuePolicy() throws -> ValuePolicy {
        if command.thresholds.contains("all") { return .all }
        var policy = ValuePolicy()
        for rule in command.thresholds {
            let parts = rule.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].count == 3, parts[0].allSatisfy({ $0.isASCII && $0.isUppercase }),
                let amount = ValuePolicy.Amount(parts[1])
            else {
                throw CommandFailure(
                    message: "invalid --threshold '\(rule)'",
                    hint:
                        "write CUR=AMOUNT with an ISO 4217 code and an amount up to \(ValuePolicy.Amount.maximum), e.g. USD=150 or EUR=99.50, or 'all'",
                    exitCode: .usage)
            }
            policy.setThreshold(amount, for: parts[0])
        }
        return policy
    }
}

extension Timestamp {
    /// Seconds on a monotonic clock, for durations.
    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
