import ArgumentParser
import DeliveryOTP

/// Where the secrets come from.
struct KeySourceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The keyring file (format v1, see SPEC.md).", valueName: "file"))
    var keyring: String

    func loadKeyring() throws -> Keyring {
        try Keyring.load(path: keyring)
    }
}

/// The delivery day and scope that select the day key.
struct DayOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The delivery date, YYYY-MM-DD.", valueName: "date"))
    var date: String

    @Option(name: .long, help: ArgumentHelp(
        "The depot or region the parcel is delivered from: 0 to 32 characters from A-Z a-z 0-9 . _ -.",
        valueName: "scope"))
    var scope: String = ""

    /// The parsed date and scope; throws ``InputError`` for bad values (exit 64).
    func parsed() throws -> (date: DeliveryDate, scope: Scope) {
        (try DeliveryDate(date), try Scope(scope))
    }
}
