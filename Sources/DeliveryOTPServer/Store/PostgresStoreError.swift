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
        serverState = PostgresServiceStore.serverState(in: error.description)
    }

    private let hostAndPort: String
    /// The SQLSTATE of the server's answer, when it answered with an error.
    private let serverState: String?

    /// How to fix it.
    public var hint: String? {
        switch kind {
        case .cannotOpen where serverState == PostgresServiceStore.refusedRight:
            "give the URL's role the rights in docs/deployment.md, \"When a role is refused a right\"; "
                + "a schema that is behind is migrated by its owner (delivery-otp migrate)"
        case .cannotOpen:
            "check the URL's user and database, the password (PGPASSWORD or --database-password-file), sslmode, sslrootcert, "
                + "the server's certificate and pg_hba.conf"
        case .busy, .io:
            switch serverState {
            case PostgresServiceStore.readOnly:
                "the server at \(hostAndPort) takes no writes (a standby, or default_transaction_read_only): give the primary's URL"
            // 55P03: a lock not had within lock_timeout; 57014: a statement cancelled, by its
            // timeout (often a lock's wait too) or by hand.
            case "55P03"?, "57014"?:
                "PostgreSQL at \(hostAndPort) gave up on the statement: another session may hold a lock it needs "
                    + "(a long transaction, a backup, an ALTER by hand: pg_locks and pg_stat_activity show which), "
                    + "or the server is slow; run it again once that session ends"
            // 08: connection; 53: resources (too many connections, a full disk); 57P: the server is
            // starting or stopping, or ended the session.
            case .some(let state) where state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P"):
                "PostgreSQL at \(hostAndPort) cannot serve now (see the SQLSTATE and the server's log): "
                    + "check that it is running, not starting or stopping, and has room (max_connections, disk)"
            case .some:
                "PostgreSQL at \(hostAndPort) refused the statement: look its SQLSTATE up in PostgreSQL's list of error codes, "
                    + "and read the server's log"
            case nil:
                "check that PostgreSQL is running and reachable at \(hostAndPort)"
            }
        case .schemaTooNew:
            "update delivery-otp here: another replica has migrated the database to a newer release"
        case .notADatabase:
            "turn fsync and full_page_writes on in postgresql.conf (docs/deployment.md, its PostgreSQL section), "
                + "then reload PostgreSQL"
        case .clockMovedBack:
            nil
        }
    }
}
