import DeliveryOTP

/// Exit codes, from BSD sysexits(3), so scripts can tell failures apart.
enum ExitStatus: Int32 {
    case rejected = 1
    case locked = 2
    case alreadyAccepted = 3
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
        case let error as TimeZoneError:
            self.init(message: error.description, hint: error.hint, exitCode: .usage)
        case let error as KeyringError:
            self.init(message: error.description, hint: error.hint, exitCode: .dataError)
        case let error as KeyringLifecycleError:
            switch error {
            case .keyring(let inner): self.init(message: inner.description, hint: inner.hint, exitCode: .dataError)
            case .random(let inner): self.init(message: inner.description, exitCode: .systemError)
            }
        case let error as KeyringFileError:
            self.init(message: error.description, hint: error.hint, exitCode: Self.status(of: error))
        case let error as DeviceKeysError:
            self.init(message: error.description, hint: error.hint, exitCode: Self.status(of: error))
        case let error as PassphraseError:
            let status: ExitStatus = switch error {
            case .empty, .tooShort: .usage
            case .unreadable: .usage
            case .readableByOthers: .permission
            }
            self.init(message: error.description, hint: error.hint, exitCode: status)
        case let error as AtomicFile.WriteError:
            self.init(message: error.description, hint: error.alreadyExists ? "use --force to replace it" : nil,
                      exitCode: error.alreadyExists ? .cannotCreate : .ioError)
        case let error as CourierError:
            let status: ExitStatus = switch error {
            case .attemptLimit: .usage
            case .deviceKeys(let inner): Self.status(of: inner)
            case .store: .ioError
            case .clockMovedBack: .dataError
            }
            self.init(message: error.description, hint: error.hint, exitCode: status)
        case let error as AttemptStoreError:
            self.init(message: "attempt store: \(error)", hint: "check that the state file is writable and not damaged",
                      exitCode: .ioError)
        case let error as RandomSourceError:
            self.init(message: error.description, exitCode: .systemError)
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

    private static func status(of error: DeviceKeysError) -> ExitStatus {
        switch error {
        case .unreadable, .wrongScope, .dayCount, .attemptLimit: .usage
        case .readableByOthers: .permission
        case .inFile(_, let inner): status(of: inner)
        default: .dataError
        }
    }
}
