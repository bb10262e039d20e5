#if canImport(Glibc)
    import Glibc
#endif

/// A file of secrets (a keyring, device keys, a passphrase) could not be read.
public struct FileReadError: DeliveryOTPError, Hashable {
    /// Why the file could not be read.
    public enum Reason: Sendable, Hashable {
        /// There is no file at the path (`ENOENT`, `ENOTDIR`).
        case notFound
        /// This user may not read the file or a folder on its path (`EACCES`, `EPERM`).
        case permissionDenied
        /// The path names a folder, a device or something else that is not a regular file.
        case notARegularFile
        /// The file is larger than 1 MiB, the limit for a file of secrets.
        case tooLarge
        /// Another error from the system, with its `errno` value.
        case io(Int32)
    }
    /// The path of the file, as given.
    public let path: String
    /// Why it could not be read.
    public let reason: Reason

    /// What is wrong, naming the path.
    public var description: String {
        switch reason {
        case .notFound: "cannot read \(path): no such file"
        case .permissionDenied: "cannot read \(path): permission denied"
        case .notARegularFile: "cannot read \(path): not a regular file"
        case .tooLarge: "cannot read \(path): larger than \(SecretFile.maximumSize / 1024) KiB"
        case .io(let code): "cannot read \(path): \(String(cString: strerror(code)))"
        }
    }

    /// How to fix it, for a missing file or a permission problem; nil otherwise.
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
    /// The path that could not be written.
    public let path: String
    /// The `errno` value of the call that failed.
    public let code: Int32
    /// True when the target already exists (`EEXIST`) and was not to be replaced.
    public var alreadyExists: Bool { code == EEXIST }
    /// What is wrong, naming the path.
    public var description: String {
        alreadyExists ? "\(path) already exists" : "cannot write \(path): \(String(cString: strerror(code)))"
    }
}
