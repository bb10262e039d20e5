import ArgumentParser
@_spi(Tools) import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct ExportDevice: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-device",
            abstract: "Write the day keys of one scope and a few days for a courier device.",
            discussion: """
                The file holds day keys (spec step 1) only, never a master secret. It is \
                written atomically with mode 0600 and not overwritten without --force.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var scope: ScopeOption
        @OptionGroup var clock: ClockOptions

        @Option(name: .long, help: ArgumentHelp("The first date (default: today in --time-zone).", valueName: "date"))
        var from: String?

        @Option(name: .long, help: ArgumentHelp("How many days, 1 to 7.", valueName: "n"))
        var days: Int = 1

        @Option(
            name: .customLong("time-zone"),
            help: ArgumentHelp("The delivery region's tz database zone, e.g. Europe/Berlin.", valueName: "tz"))
        var timeZone: String

        @Option(name: .long, help: ArgumentHelp("The device-key file to write.", valueName: "file"))
        var out: String

        @Option(
            name: .customLong("attempt-limit"),
            help: ArgumentHelp(
                "Wrong codes the device allows per shipment and day, 1 to 10 (default on the device: 5).", valueName: "n"))
        var attemptLimit: Int?

        @Option(name: .customLong("device-id"), help: ArgumentHelp("The device's name in its attempt log.", valueName: "id"))
        var deviceID: String?

        @Flag(help: "Replace an existing device-key file (kept beside it as FILE.replaced-TIME).")
        var force = false

        func validate() throws {
            guard (1...DeviceKeys.maximumDays).contains(days) else {
                throw ValidationError("--days must be 1 to \(DeviceKeys.maximumDays), not \(days)")
            }
            if let attemptLimit, !(1...10).contains(attemptLimit) {
                throw ValidationError("--attempt-limit must be 1 to 10, not \(attemptLimit)")
            }
        }

        func run() throws {
            try DistinctFiles.check(
                outputs: [.init(option: "--out", path: out)],
                inputs: [.init(option: "--keyring", path: keyring.keyring)]
                    + (keyring.passphrase.passphraseFile.map { [.init(option: "--passphrase-file", path: $0)] } ?? []))
            let now = try clock.instant()
            let zone = try DeliveryTimeZone(timeZone)
            let start = try from.map { try parseDate($0, option: "--from") } ?? zone.date(at: now)
            let scopeValue = try scope.parsed()
            let loaded = try keyring.load()
            let device = try DeviceKeys(
                keyring: loaded.keyring, scope: scopeValue, from: start, days: days, timeZone: zone,
                attemptLimit: attemptLimit, deviceID: try deviceID.map { try DeviceID($0) })
            // --force never deletes key material: what it replaces is kept beside it.
            let keptAs = force ? try AtomicFile.keepCopy(of: AtomicFile.resolved(out), now: now) : nil
            try device.write(to: out, replace: force)
            if let keptAs { Diagnostics.note("kept the file it replaces as \(keptAs)") }
            let keyIDs = Set(device.entries.map(\.keyID.rawValue)).sorted().joined(separator: ",")
            do {
                try keyring.file.auditLog.append(
                    [
                        AuditLog.Event(
                            operation: "export-device",
                            details: [
                                ("scope", scopeValue.rawValue), ("from", start.description), ("days", String(days)),
                                ("keyIds", keyIDs), ("out", out),
                            ])
                    ], at: now)
            } catch {
                throw KeyringFileError.auditFailed(error)
            }
            let last = device.entries.last!.date
            Diagnostics.note(
                "wrote \(out): day keys for scope \(scopeValue.rawValue.isEmpty ? "(empty)" : scopeValue.rawValue), \(start) to \(last), time zone \(zone)"
            )
        }
    }
}
