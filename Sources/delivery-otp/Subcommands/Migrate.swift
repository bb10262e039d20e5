import ArgumentParser
import DeliveryOTP
import DeliveryOTPServer
import Logging

extension DeliveryOTPCommand {
    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring the service's attempt store up to this release's schema.",
            discussion: """
                'serve' does this itself at start; run it on its own to migrate as the database's owner \
                and serve as a role that may only read and write rows (docs/deployment.md). Safe while \
                replicas run or start: migrations take an advisory lock and apply each version once, in \
                one transaction. A store of a newer schema is refused, unless its migrations say this \
                release may serve it.
                """
        )

        @OptionGroup var store: StoreOptions

        func run() throws {
            guard let location = try store.location() else {
                // A SQLite store migrates when it is opened.
                let sqlite = try SQLiteServiceStore(path: store.state)
                try Blocking.run { await sqlite.close() }
                print("\(store.state): at schema version \(SQLiteServiceStore.schemaVersion)")
                return
            }
            let password = try store.password()
            let logger = Logger(label: "delivery-otp", factory: { _ in SwiftLogNoOpLogHandler() })
            let (from, to) = try Blocking.run {
                let database = try await PostgresServiceStore.open(
                    location, password: password, migrate: false, serving: false, logger: logger)
                do {
                    // Up to date, or newer and servable (`open` refused it otherwise): nothing to
                    // lock or create, so any role that may read the schema's version (the
                    // service's, over the network) gets its answer.
                    let found = try await database.schemaVersion()
                    let versions = found >= PostgresSchema.version ? (from: found, to: found) : try await database.migrate()
                    await database.close()
                    return versions
                } catch {
                    await database.close()
                    throw error
                }
            }
            if to > PostgresSchema.version {
                print(
                    "\(location): at schema version \(to), newer than this release's \(PostgresSchema.version), "
                        + "which its migrations say may serve it; nothing to do")
            } else if from == to {
                print("\(location): at schema version \(to), nothing to do")
            } else {
                print("\(location): migrated from schema version \(from) to \(to)")
            }
        }
    }
}
