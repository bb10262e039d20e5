import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a keyring: format, unique ids, permissions, no example keys, and keys for today and the next 30 days.",
            discussion: """
                Prints 'ok' and exits 0 when the keyring is fit for use. Otherwise prints \
                each problem on standard error and exits 1 (or 64, 65, 77 when the file \
                cannot be read at all). Meant for a daily job.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        func run() throws {
            let now = try clock.instant()
            let today = clock.today(at: now)
            // Loading validates the format, unique ids, start dates and permissions.
            let loaded = try keyring.load()
            let problems = loaded.keyring.problems(today: today, horizon: 31)
            if problems.isEmpty {
                let active = try loaded.keyring.key(for: today)
                Diagnostics.writeAll(
                    1,
                    "ok: \(counted(loaded.keyring.keys.count, "key")), \(active.id) active today (\(today)), the next 30 days are covered\n"
                )
                return
            }
            for problem in problems { Diagnostics.writeAll(2, "\(Diagnostics.program): problem: \(problem)\n") }
            let hint =
                loaded.keyring.isExample
                ? "create a keyring of your own with 'delivery-otp keys init'"
                : "add a key with 'delivery-otp keys rotate --active-from DATE'"
            Diagnostics.writeAll(2, "\(Diagnostics.program): hint: \(hint)\n")
            throw ExitCode(ExitStatus.rejected.rawValue)
        }
    }
}
