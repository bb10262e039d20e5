#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a small file that holds secrets into a buffer that is wiped afterwards,
/// and reports its permission bits from the same open file (no race between check and read).
package enum SecretFile {
    /// Keyrings and device-key files are small; anything larger is refused before it is read.
    package static let maximumSize = 1 << 20

    /// Why a file could not be read.
    package typealias ReadError = FileReadError

    /// Calls `body` with the file's bytes and its permission bits, then wipes the bytes.
    package static func withContents<R, E: Error>(
        of path: String, _ body: (UnsafeRawBufferPointer, _ permissions: UInt32) throws(E) -> R
    ) throws(ReadError) -> Result<R, E> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it. A
        // regular file, the only kind read here, ignores the flag.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
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
            return .success(try body(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), UInt32(info.st_mode) & 0o7777))
        } catch {
            return .failure(error)
        }
    }

    /// True when neither group nor others have any access (mode 0600 or stricter).
    package static func isPrivate(_ permissions: UInt32) -> Bool { permissions & 0o077 == 0 }

    /// The one-line refusal for a secret file that group or others can read, like ssh's.
    package static func readableByOthers(_ path: String, permissions: UInt32) -> String {
        "\(path) is readable by others (mode \(String(permissions, radix: 8).leftPadded(to: 4)))"
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
