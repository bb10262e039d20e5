import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Testing

/// `serve --state postgres://...` and `migrate` through the built executable: one line and a
/// distinct exit code for every wrong setting, and never the password.
@Suite("The PostgreSQL store on the command line")
struct PostgresCommandTests {
    static let example = [
        "serve", "--keyring", Repository.path("keys-example/keyring.json"), "--tokens", Repository.path("keys-example/tokens.json"),
        "--allow-example-keys", "--listen", "127.0.0.1:0",
    ]

    @Test("refuses a password in the URL with one line and exit 64, without repeating it")
    func passwordInURL() async throws {
        let result = try await CommandRunner.run(Self.example + ["--state", "postgres://otp:s3cret-in-url@127.0.0.1:5432/d"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("holds a password") && !result.stderr.contains("s3cret-in-url"))
        #expect(result.stderr.split(separator: "\n").count <= 2)
    }

    @Test("refuses a URL of another scheme or spelling with exit 64, never taking it for a file's path and repeating it")
    func mistypedScheme() async throws {
        for url in ["Postgres://otp:s3cret-in-url@127.0.0.1:1/d", "postgresql+ssl://otp:s3cret-in-url@127.0.0.1:1/d"] {
            let result = try await CommandRunner.run(Self.example + ["--state", url])
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains("invalid PostgreSQL URL") && !result.stderr.contains("s3cret-in-url"), "\(result.stderr)")
            let migrate = try await CommandRunner.run(["migrate", "--state", url])
            #expect(migrate.status == 64 && !migrate.stderr.contains("s3cret-in-url"), "\(migrate.stderr)")
        }
    }

    @Test("refuses a database password file that others can read (exit 77), and one given for a SQLite store (exit 64)")
    func passwordFile() async throws {
        let folder = try TemporaryDirectory()
        let file = try folder.write("pgpassword", "not-printed-secret\n", mode: 0o644)
        let open = try await CommandRunner.run(
            Self.example + ["--state", "postgres://otp@127.0.0.1:1/d", "--database-password-file", file])
        #expect(open.status == 77)
        #expect(open.stderr.contains("\(file) is readable by others (mode 0644)") && !open.stderr.contains("not-printed-secret"))
        let sqlite = try await CommandRunner.run(Self.example + ["--state", folder.file("s.sqlite"), "--database-password-file", file])
        #expect(sqlite.status == 64)
        #expect(sqlite.stderr.contains("postgres://"))
    }

    @Test("refuses a database password file that is a FIFO at once (exit 64), never waiting for a writer", .timeLimit(.minutes(1)))
    func passwordFileFIFO() async throws {
        let folder = try TemporaryDirectory()
        let fifo = folder.file("pgpassword.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // Were the command to wait in open(2) for a writer, this one would end the wait 20 s after
        // the command started, and the time check below fails.
        let result = try await CommandRunner.run(
            Self.example + ["--state", "postgres://otp@127.0.0.1:1/d", "--database-password-file", fifo], takingTurn: false,
            onStart: {
                DispatchQueue.global().asyncAfter(deadline: .now() + 20) {
                    let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                    if fd >= 0 {
                        _ = "late-password\n".withCString { write(fd, $0, strlen($0)) }
                        close(fd)
                    }
                }
            })
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("not a regular file"), "\(result.stderr)")
        #expect(result.duration < .seconds(20))
    }

    @Test("says in one line that nothing answers at the database's address (exit 74)", .timeLimit(.minutes(2)))
    func unreachable() async throws {
        let port = try freePort()
        let result = try await CommandRunner.run(Self.example + ["--state", "postgres://otp@127.0.0.1:\(port)/d"], takingTurn: false)
        #expect(result.status == 74)
        #expect(result.stderr.contains("127.0.0.1:\(port)") && !result.stderr.contains("Fatal error"))
    }

    @Test("warns, before it connects, that a database beyond loopback is reached without checking its certificate", .timeLimit(.minutes(2)))
    func unverifiedTLSWarning() async throws {
        // 0.0.0.0 is not a loopback address, yet nothing listens there: the warning, then exit 74.
        let port = try freePort()
        let plain = try await CommandRunner.run(
            Self.example + ["--state", "postgres://otp@0.0.0.0:\(port)/d?sslmode=disable"], takingTurn: false)
        #expect(plain.status == 74)
        #expect(plain.stderr.contains("database-tls") && plain.stderr.contains("sslmode=verify-full"), "\(plain.stderr)")
        let local = try await CommandRunner.run(Self.example + ["--state", "postgres://otp@127.0.0.1:\(port)/d"], takingTurn: false)
        #expect(local.status == 74 && !local.stderr.contains("database-tls"), "\(local.stderr)")
    }

    /// A self-signed authority made for this test alone (`openssl req -x509`, key discarded): an
    /// operator's own, which no system trusts.
    static let ownAuthority = """
        -----BEGIN CERTIFICATE-----
        MIIBpDCCAUugAwIBAgIUAKHfLmT+KwtYE25yVjaqHtFvSyIwCgYIKoZIzj0EAwIw
        JzElMCMGA1UEAwwcRGVsaXZlcnlPVFAgdGVzdCBkYXRhYmFzZSBDQTAgFw0yNjEy
        MDYyMDAyNDFaGA8yMTI2MTExMjIwMDI0MVowJzElMCMGA1UEAwwcRGVsaXZlcnlP
        VFAgdGVzdCBkYXRhYmFzZSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABJ5V
        4sOBu21Zq8SEKVNpYG+SbAR7yx9DwJNABTQdQPc9tPiTWEAj53RhTy91c3Ba49bZ
        BvkhzIRvpkQFzi/Kbj2jUzBRMB0GA1UdDgQWBBSNR+Ft6HQ6dHGME48Uhz1hmkhE
        YjAfBgNVHSMEGDAWgBSNR+Ft6HQ6dHGME48Uhz1hmkhEYjAPBgNVHRMBAf8EBTAD
        AQH/MAoGCCqGSM49BAMCA0cAMEQCIFlqu9VQarmN9F20pnYbt/HdO7N8pZ/x7oDR
        tQPT3e9gAiBtsj2Lhrg/EZUoN3wfIUdiaXfLzWos3Ka6eOWNZsQVvQ==
        -----END CERTIFICATE-----

        """

    /// Another authority of this test's own, with a brainpool key: a type the TLS library can
    /// carry but whose key it cannot extract (it stops the process if asked).
    static let brainpoolAuthority = """
        -----BEGIN CERTIFICATE-----
        MIIBpzCCAU6gAwIBAgIUVBSIqivm4ylYxdd2JG4ShsuVJK0wCgYIKoZIzj0EAwIw
        KDEmMCQGA1UEAwwdRGVsaXZlcnlPVFAgdGVzdCBicmFpbnBvb2wgQ0EwIBcNMjYx
        MjA2MjAyMDU4WhgPMjEyNjExMTIyMDIwNThaMCgxJjAkBgNVBAMMHURlbGl2ZXJ5
        T1RQIHRlc3QgYnJhaW5wb29sIENBMFowFAYHKoZIzj0CAQYJKyQDAwIIAQEHA0IA
        BGgIYRQj+U3AqG13wp2pgYhwVy24ksrIUiCJhVwkCr99noVZqsGJifHa3AsAjsEx
        pYtemOLX/WHh9037kvUmRwajUzBRMB0GA1UdDgQWBBTm6Kpe4PVkW4g/mQ1LQVFC
        h+xbwjAfBgNVHSMEGDAWgBTm6Kpe4PVkW4g/mQ1LQVFCh+xbwjAPBgNVHRMBAf8E
        BTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIAYkCCSjQSXAj1hUOni4oVPAQVPHvtqo
        QwU4pmx2n8dTAiB+PA6Q7mDgvOrZGFJL4CqsdRxtyet4jcmaNzODLuMo5A==
        -----END CERTIFICATE-----

        """

    /// The first certificate of the system's trust roots, as PEM; nil on a system without the bundle.
    static func systemAuthority() -> String? {
        guard let bundle = try? String(contentsOfFile: "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8),
            let end = bundle.range(of: "-----END CERTIFICATE-----"),
            let start = bundle.range(of: "-----BEGIN CERTIFICATE-----", range: bundle.startIndex..<end.lowerBound)
        else { return nil }
        return String(bundle[start.lowerBound..<end.upperBound]) + "\n"
    }

    /// `pem` with the last byte of its signature changed: another certificate of the same key, as a
    /// re-issue of a root would be (the TLS library does not check a trusted root's own signature).
    static func reissued(_ pem: String) throws -> String {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var der = try #require(Data(base64Encoded: body))
        der[der.count - 1] ^= 0x01
        let lines = stride(from: 0, to: der.base64EncodedString().count, by: 64).map { offset in
            String(der.base64EncodedString().dropFirst(offset).prefix(64))
        }
        return (["-----BEGIN CERTIFICATE-----"] + lines + ["-----END CERTIFICATE-----", ""]).joined(separator: "\n")
    }

    @Test(
        "refuses verify-ca with a system trust root or another certificate of its key (exit 64), and takes the operator's own",
        .enabled(if: systemAuthority() != nil), .timeLimit(.minutes(2)))
    func verifyCAWithPublicAuthority() async throws {
        let folder = try TemporaryDirectory()
        let port = try freePort()
        let root = try #require(Self.systemAuthority())
        // A public authority signs certificates for anyone: without the name check, any of them would pass for the database.
        let copied = try folder.write("public-ca.pem", Self.ownAuthority + root, mode: 0o644)
        let reissued = try folder.write("reissued-ca.pem", Self.ownAuthority + Self.reissued(root), mode: 0o644)
        #expect(try String(contentsOfFile: reissued, encoding: .utf8) != String(contentsOfFile: copied, encoding: .utf8))
        for (arguments, file) in [(["migrate"], copied), (Self.example, copied), (["migrate"], reissued)] {
            let url = "postgres://otp@127.0.0.1:\(port)/d?sslmode=verify-ca&sslrootcert=\(file)"
            let result = try await CommandRunner.run(arguments + ["--state", url], takingTurn: false)
            #expect(result.status == 64, "\(result.stderr)")
            let refusal = "certificate 2 of 2 in \(file) (sslrootcert) among the system's trust roots"
            #expect(result.stderr.contains(refusal), "\(result.stderr)")
            #expect(result.stderr.contains("use sslmode=verify-full"), "\(result.stderr)")
            // One error line (serve's log has its warning about the example keys before it).
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("delivery-otp: error:") }
            #expect(errors.count == 1, "\(result.stderr)")
        }
        // The operator's own authority passes the check, of a key type the TLS library knows or
        // not; nothing answers at the port, so exit 74.
        for (name, authority) in [("own-ca.pem", Self.ownAuthority), ("brainpool-ca.pem", Self.brainpoolAuthority)] {
            let own = try folder.write(name, authority, mode: 0o644)
            let result = try await CommandRunner.run(
                ["migrate", "--state", "postgres://otp@127.0.0.1:\(port)/d?sslmode=verify-ca&sslrootcert=\(own)"], takingTurn: false)
            #expect(result.status == 74 && !result.stderr.contains("trust roots"), "\(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"), "\(result.stderr)")
        }
    }

    @Test("migrate brings an empty database to this release's schema, then has nothing to do", .enabled(if: TestPostgres.isAvailable))
    func migrate() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let url = "\(location)"
        let first = try await CommandRunner.run(["migrate", "--state", url])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("migrated from schema version 0 to \(PostgresSchema.version)"))
        let second = try await CommandRunner.run(["migrate", "--state", url])
        #expect(second.status == 0 && second.stdout.contains("at schema version \(PostgresSchema.version), nothing to do"))
    }

    @Test(
        "migrate, as the service's role, has nothing to do on a newer schema that this release may serve, and refuses one it may not",
        .enabled(if: TestPostgres.isAvailable))
    func migrateNewer() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let known = PostgresSchema.version
        #expect(try await CommandRunner.run(["migrate", "--state", "\(location)"]).status == 0)
        try await PostgresStoreTests.recordMigration(known + 1, servedFrom: known, in: location)
        // The service's role may not change the schema: a migrate that tried would be refused.
        let service = try await TestPostgres.serviceRole(location, named: "dotp_migrate_")
        let asService = ["PGPASSWORD": TestPostgres.servicePassword]
        let servable = try await CommandRunner.run(["migrate", "--state", "\(service)"], environment: asService)
        #expect(servable.status == 0, "\(servable.stderr)")
        #expect(servable.stdout.contains("at schema version \(known + 1), newer than this release's \(known)"), "\(servable.stdout)")
        try await TestPostgres.admin(location) { client in
            try await client.query("DELETE FROM delivery_otp.migration_served_from WHERE version = \(known + 1)")
        }
        let refused = try await CommandRunner.run(["migrate", "--state", "\(service)"], environment: asService)
        #expect(refused.status == 65 && refused.stdout.isEmpty, "\(refused.status) \(refused.stderr)")
        #expect(refused.stderr.contains("needs a release of schema version \(known + 1) or later"), "\(refused.stderr)")
        #expect(refused.stderr.contains("update delivery-otp"), "\(refused.stderr)")
        try await TestPostgres.dropServiceRole(service)
    }

    @Test("serve with a wrong database password stops at start with one line and exit 64", .enabled(if: TestPostgres.isAvailable))
    func wrongPassword() async throws {
        let result = try await CommandRunner.run(
            Self.example + ["--state", TestPostgres.url!], environment: ["PGPASSWORD": "wrong-password-zz9"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("password authentication failed") && !result.stderr.contains("wrong-password-zz9"))
    }
}
