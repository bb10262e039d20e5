/// What a bearer token may do: one role per token.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    /// Fetches codes: the account page and the e-mail system.
    case issuer
    /// Verifies codes online, in the scopes it is bound to.
    case courier
    /// A handheld: fetches its day keys and uploads its attempt log.
    case device
    /// Reads the central attempt log and the keyring's keys (never a secret).
    case auditor
}
