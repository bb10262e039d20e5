#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a small file that holds secrets into a buffer that is wiped afterwards.
public enum SecretFile {
    /// Keyrings and device-key files are small; anything larger is refused before it is read.
    public static let maximumSize = 1 << 20

    /// Why a file could not be read.
    public struct ReadError: Error, Sendable, Hashable, CustomStringConvertible {
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
    }

    /// Calls `body` with the file's bytes, then wipes them.
    public static func withContents<R, E: Error>(
        of path: String, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(ReadError) -> Result<R, E> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(path: path, reason: reason(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ReadError(path: path, reason: reason(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ReadError(path: path, reason: .notARegularFile) }
        guard info.st_size <= maximumSize else { throw ReadError(path: path, reason: .tooLarge) }

        let capacity = maximumSize + 1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        var length = 0
        defer {
            SecureMemory.wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
            buffer.deallocate()
        }
        while length < capacity {
            let count = read(fd, buffer.baseAddress! + length, capacity - length)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(path: path, reason: reason(errno))
            }
            length += count
        }
        guard length <= maximumSize else { throw ReadError(path: path, reason: .tooLarge) }
        do {
            return .success(try body(UnsafeRawBufferPointer(rebasing: buffer[0..<length])))
        } catch {
            return .failure(error)
        }
    }

    private static func reason(_ code: Int32) -> ReadError.Reason {
        switch code {
        case ENOENT, ENOTDIR: .notFound
        case EACCES, EPERM: .permissionDenied
        case EISDIR: .notARegularFile
        default: .io(code)
        }
    }
}

extension Keyring {
    /// Loads and validates a keyring file.
    public static func load(path: String) throws(KeyringLoadError) -> Keyring {
        let result: Result<Keyring, KeyringError>
        do {
            result = try SecretFile.withContents(of: path) { (bytes) throws(KeyringError) in try Keyring(json: bytes) }
        } catch {
            throw .unreadable(error)
        }
        switch result {
        case .success(let keyring): return keyring
        case .failure(let error): throw .invalid(path: path, error)
        }
    }
}

/// A keyring file that could not be read, or that was read but is not valid.
public enum KeyringLoadError: Error, Sendable, CustomStringConvertible {
    case unreadable(SecretFile.ReadError)
    case invalid(path: String, KeyringError)

    public var description: String {
        switch self {
        case .unreadable(let error): error.description
        case .invalid(let path, let error): "\(path): \(error)"
        }
    }

    public var hint: String? {
        switch self {
        case .unreadable(let error) where error.reason == .notFound: "check the path given to --keyring"
        case .unreadable(let error) where error.reason == .permissionDenied: "run as the keyring's owner"
        case .unreadable: nil
        case .invalid(_, let error): error.hint
        }
    }
}
