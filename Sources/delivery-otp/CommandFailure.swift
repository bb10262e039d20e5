import DeliveryOTP

/// Exit codes, from BSD sysexits(3), so scripts can tell failures apart.
enum ExitStatus: Int32 {
    case rejected = 1
    case usage = 64
    case dataError = 65
    case systemError = 71
    case ioError = 74
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

    /// Maps the library's errors. Values typed on the command line are usage
    /// errors (64); bad keyring contents and uncovered dates are data errors (65).
    init?(known error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let error as InputError:
            self.init(message: error.description, hint: error.hint, exitCode: .usage)
        case let error as KeyringLoadError:
            if case .unreadable = error {
                self.init(message: error.description, hint: error.hint, exitCode: .usage)
            } else {
                self.init(message: error.description, hint: error.hint, exitCode: .dataError)
            }
        case let error as KeyringError:
            self.init(message: error.description, hint: error.hint, exitCode: .dataError)
        case let error as RandomSourceError:
            self.init(message: error.description, exitCode: .systemError)
        default:
            return nil
        }
    }
}
