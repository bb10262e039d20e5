import DeliveryOTP
import DeliveryOTPServer

/// Exit codes, from BSD sysexits(3), so scripts can tell failures apart.
enum ExitStatus: Int32 {
    case rejected = 1
    case locked = 2
    case alreadyAccepted = 3
    case notACode = 4
    case usage = 64
    case dataError = 65
    case systemError = 71
    case cannotCreate = 73
    case ioError = 74
    case permission = 77
}

/// A failure as the user sees it: one line saying what is wrong, an optional
/// line saying how to fix it, and an exit code.
struct CommandFailure: Error {
    var message: String
    var hint: String?
    var exitCode: ExitStatus

    init(message: String, hint: String? = nil, exitCode: ExitStatus) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    /// Maps the library's errors. Values typed on the command line and files that
    /// cannot be opened are usage errors (64); bad file contents and uncovered
    /// dates are data errors (65); unsafe permissions and wrong passphrases 77.
    init?(known error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let error as InputError:
            self.init(message: error.description, hint: error.hint, exitCode: .usage)
        case let error as DeviceKeysError:
            self.init(
                message: CommandLineWording.message(for: error), hint: CommandLineWording.hint(for: error) ?? error.hint,
                exitCode: Self.status(of: error))
        case let error as TimeZoneError:
            self.init(message: error.description, hint: error.hint, exitCode: .usage)
        case let error as KeyringError:
            self.init(message: error.description, hint: CommandLineWording.hint(for: error) ?? error.hint, exitCode: .dataError)
        case let error as KeyringLifecycleError:
            switch error {
            case .keyring(let inner):
                self.init(message: inner.description, hint: CommandLineWording.hint(for: inner) ?? inner.hint, exitCode: .dataError)
            case .random(let inner): self.init(message: inner.description, exitCode: .systemError)
            }
        case let error as KeyringFileError:
            let hint: String? =
                switch error {
                case .invalid(_, let inner), .lifecycle(let inner): CommandLineWording.hint(for: inner) ?? error.hint
                default: error.hint
                }
            self.init(message: error.description, hint: hint, exitCode: Self.status(of: error))
        case let error as PassphraseError:
            let status: ExitStatus =
                switch error {
                case .empty, .tooShort: .usage
                case .unreadable: .usage
                case .readableByOthers: .permission
                }
            self.init(message: error.description, hint: error.hint, exitCode: status)
        case let error as FileWriteError:
            self.init(
                message: error.description, hint: error.alreadyExists ? "use --force to replace it" : nil,
                exitCode: error.alreadyExists ? .cannotCreate : .ioError)
        case let error as CourierError:
            let status: ExitStatus =
                switch error {
                case .attemptLimit: .usage
                case .exampleKeys: .dataError
                case .noKeyForToday: .dataError
                case .store(let inner): Self.status(of: inner)
                case .clockMovedBack: .dataError
                }
            self.init(message: error.description, hint: error.hint, exitCode: status)
        case let error as AttemptStoreError:
            self.init(message: "attempt store: \(error)", hint: error.hint, exitCode: Self.status(of: error))
        case let error as RandomSourceError:
            self.init(message: error.description, exitCode: .systemError)
        case let error as TokenFileError:
            let status: ExitStatus =
                switch error {
                case .unreadable: .usage
                case .readableByOthers: .permission
                case .invalid: .dataError
                case .noSuchToken, .combination: .usage
                case .nameTaken: .cannotCreate
                case .writeFailed: .ioError
                }
            self.init(message: error.description, hint: error.hint, exitCode: status)
        case let error as ScopeZonesError:
            self.init(message: error.description, hint: error.hint, exitCode: .dataError)
        case let error as PostgresStoreError:
            // A wrong URL, password or TLS setting is the operator's to fix (64); an unreachable
            // database an I/O error (74); a schema of another release a data error (65).
            let status: ExitStatus =
                switch error.kind {
                case .cannotOpen: .usage
                case .busy, .io: .ioError
                case .notADatabase, .schemaTooNew, .clockMovedBack: .dataError
                }
            self.init(message: "attempt store: \(error)", hint: error.hint, exitCode: status)
        case let error as PostgresLocationError:
            self.init(message: error.description, hint: error.hint, exitCode: .usage)
        case let error as ExampleKeysRefused:
            self.init(message: error.description, hint: error.hint, exitCode: .dataError)
        default:
            return nil
        }
    }

    private static func status(of error: KeyringFileError) -> ExitStatus {
        switch error {
        case .unreadable, .encrypted: .usage
        case .invalid, .lifecycle: .dataError
        case .readableByOthers, .wrongPassphrase: .permission
        case .exists: .cannotCreate
        case .writeFailed, .auditFailed: .ioError
        case .random, .encryption: .systemError
        }
    }

    /// A store that cannot be opened is a usage error (a wrong --state path); a damaged or newer
    /// one is a data error; the rest are I/O errors.
    private static func status(of error: AttemptStoreError) -> ExitStatus {
        switch error.kind {
        case .cannotOpen: .cannotCreate
        case .notADatabase, .schemaTooNew, .clockMovedBack: .dataError
        case .busy, .io: .ioError
        }
    }

    private static func status(of error: DeviceKeysError) -> ExitStatus {
        switch error {
        case .unreadable, .wrongScope, .dayCount, .attemptLimit: .usage
        case .readableByOthers: .permission
        case .inFile(_, let inner): status(of: inner)
        default: .dataError
        }
    }
}
