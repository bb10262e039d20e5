#if canImport(Glibc)
import Glibc
#endif

/// A file of secrets (a keyring, device keys, a passphrase) could not be read.
public struct FileReadError: DeliveryOTPError, Hashable {
    public enum Reason: Sendable, Hashable {
        case notFound, permissionDenied, notARegularFile, tooLarge, io(Int32)
    }
    public let path: String
    public let reason: Reason

    public var description: String {
        switch reason {
        case .notFound: "cannot read \(path): no such file"
        case .permissionDenied: "cannot read \(path): permission denied"
        case .notARegularFile: "cannot read \(path): not a regular file"
        case .tooLarge: "cannot read \(path): larger than \(SecretFile.maximumSize / 1024) KiB"
        case .io(let code): "cannot read \(path): \(String(cString: strerror(code)))"
        }
    }

    public var hint: String? {
        switch reason {
        case .notFound: "check the path"
        case .permissionDenied: "run as the file's owner"
        default: nil
        }
    }
}

/// A file could not be written; nothing was half-written (files are replaced atomically).
public struct FileWriteError: DeliveryOTPError, Hashable {
    public let path: String
    public let code: Int32
    public var alreadyExists: Bool { code == EEXIST }
    public var description: String {
        alreadyExists ? "\(path) already exists" : "cannot write \(path): \(String(cString: strerror(code)))"
    }
}
