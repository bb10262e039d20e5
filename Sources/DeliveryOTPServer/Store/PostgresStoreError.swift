import DeliveryOTP

/// Why the PostgreSQL store could not be opened or migrated, with a hint for the operator (the
/// attempt store's own hints speak of files and devices).
public struct PostgresStoreError: DeliveryOTPError, Hashable {
    /// What went wrong, by the attempt store's kinds.
    public let kind: AttemptStoreError.Kind
    /// One line: the database (never a password) and the reason.
    public let description: String

    init(_ error: AttemptStoreError, location: PostgresLocation) {
        kind = error.kind
        description = error.description
        hostAndPort = "\(location.host):\(location.port)"
        refusedRight = error.description.hasSuffix(PostgresServiceStore.stateSuffix(PostgresServiceStore.refusedRight))
    }

    private let hostAndPort: String
    /// Whether the server refused a right to the role it let in (not a connection or a login).
    private let refusedRight: Bool

    /// How to fix it.
    public var hint: String? {
        switch kind {
        case .cannotOpen where refusedRight:
            "give the URL's role the rights that docs/deployment.md GRANTs in its PostgreSQL section, "
                + "and run delivery-otp migrate as the schema's owner"
        case .cannotOpen:
            "check the URL's user and database, the password (PGPASSWORD or --database-password-file), sslmode, sslrootcert, "
                + "the server's certificate and pg_hba.conf"
        case .busy, .io:
            "check that PostgreSQL is running and reachable at \(hostAndPort)"
        case .schemaTooNew:
            "update delivery-otp here: another replica has migrated the database to a newer release"
        case .notADatabase:
            "see docs/deployment.md for the database's set-up"
        case .clockMovedBack:
            nil
        }
    }
}
