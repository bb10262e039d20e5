import DeliveryOTP

/// Why the tokens file could not be read, changed or written.
public enum TokenFileError: DeliveryOTPError, Hashable {
    /// The file could not be read (missing, a folder, no permission, too large).
    case unreadable(FileReadError)
    /// Group or others can read it.
    case readableByOthers(path: String, permissions: UInt32)
    /// It is not a tokens file of format v1, or an entry is invalid.
    case invalid(String)
    /// A role, scopes and device id that do not go together (a courier without a scope, say).
    case combination(String)
    /// No token has this name (revoke).
    case noSuchToken(String)
    /// A token of this name exists (add).
    case nameTaken(String)
    /// Writing the file or its audit log failed.
    case writeFailed(FileWriteError)

    /// One line for a person; never a token.
    public var description: String {
        switch self {
        case .unreadable(let error): "\(error)"
        case .readableByOthers(let path, let permissions):
            SecretFile.readableByOthers(path, permissions: permissions)
        case .invalid(let reason): "invalid tokens file: \(reason)"
        case .combination(let reason): reason
        case .noSuchToken(let name): "no token is named \(name)"
        case .nameTaken(let name): "a token named \(name) exists already"
        case .writeFailed(let error): "\(error)"
        }
    }

    /// How to fix it.
    public var hint: String? {
        switch self {
        case .unreadable(let error): error.hint
        case .readableByOthers(let path, _): "run 'chmod 600 \(path)'"
        case .invalid: "make the file with 'delivery-otp tokens add'"
        case .combination: "see 'delivery-otp tokens add --help' for what each role needs"
        case .noSuchToken: "run 'delivery-otp tokens list' for the names"
        case .nameTaken: "choose another name, or revoke the old token first"
        case .writeFailed(let error): error.hint
        }
    }
}
