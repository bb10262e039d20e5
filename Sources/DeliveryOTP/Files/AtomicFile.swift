#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a whole file so that a crash at any moment leaves either the old
/// file or the new one, never a torn one: a temporary file in the same folder
/// (created with `O_EXCL` by `mkstemp`, mode set before any byte is written),
/// written, fsynced, then renamed over the target (or linked, when the target
/// must not exist yet), and the folder fsynced so the new name is durable.
public enum AtomicFile {
    public struct WriteError: Error, Sendable, Hashable, CustomStringConvertible {
        public let path: String
        public let code: Int32
        public var alreadyExists: Bool { code == EEXIST }
        public var description: String {
            alreadyExists ? "\(path) already exists" : "cannot write \(path): \(String(cString: strerror(code)))"
        }
    }

    public enum Mode: Sendable {
        /// Fail with `EEXIST` if the target exists.
        case createNew
        /// Replace the target if it exists.
        case replace
    }

    public static func write(
        _ bytes: UnsafeRawBufferPointer, to path: String, permissions: mode_t = 0o600, mode: Mode
    ) throws(WriteError) {
        let (directory, name) = split(path)
        var template = Array("\(directory)/.\(name).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw WriteError(path: path, code: errno) }
        let temporary = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        var committed = false
        defer {
            if !committed { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            guard fchmod(fd, permissions) == 0 else { throw WriteError(path: path, code: errno) }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw WriteError(path: path, code: errno)
                }
                offset += written
            }
            guard fsync(fd) == 0 else { throw WriteError(path: path, code: errno) }
        }
        switch mode {
        case .replace:
            guard rename(temporary, path) == 0 else { throw WriteError(path: path, code: errno) }
            committed = true
        case .createNew:
            // link(2) fails if the target exists, atomically, like O_EXCL on the final name.
            guard link(temporary, path) == 0 else { throw WriteError(path: path, code: errno) }
            committed = true
            unlink(temporary)
        }
        try syncDirectory(directory, for: path)
    }

    /// Makes a rename or new name in `directory` durable.
    static func syncDirectory(_ directory: String, for path: String) throws(WriteError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteError(path: path, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw WriteError(path: path, code: errno) }
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}

extension AtomicFile {
    /// A file written in a stream and published whole: the bytes go to a
    /// temporary file in the target's folder, and only ``commit()`` gives it
    /// its name (after fsync). If the process dies first, the name never
    /// appears, so a consumer never reads a truncated file.
    public final class Pending {
        public let path: String
        public let mode: Mode
        /// Write the content here.
        public let fd: Int32
        /// Nil when the target is a device or pipe written in place.
        private let temporary: String?
        private var finished = false

        public init(path: String, permissions: mode_t = 0o600, mode: Mode) throws(WriteError) {
            self.path = path
            self.mode = mode
            // A device or a pipe (/dev/stdout, a FIFO a consumer reads) cannot be
            // replaced by renaming, and must never be: it is written in place.
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
                guard (info.st_mode & S_IFMT) != S_IFDIR else { throw WriteError(path: path, code: EISDIR) }
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw WriteError(path: path, code: errno) }
                self.fd = fd
                temporary = nil
                return
            }
            if mode == .createNew && access(path, F_OK) == 0 { throw WriteError(path: path, code: EEXIST) }
            let (directory, name) = split(path)
            var template = Array("\(directory)/.\(name).tmp-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw WriteError(path: path, code: errno) }
            let created = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
            guard fchmod(fd, permissions) == 0 else {
                let code = errno
                close(fd)
                unlink(created)
                throw WriteError(path: path, code: code)
            }
            temporary = created
            self.fd = fd
        }

        /// Flushes the content to disk and gives the file its name.
        public func commit() throws(WriteError) {
            guard !finished else { return }
            finished = true
            defer { close(fd) }
            guard let temporary else { return }
            guard fsync(fd) == 0 else {
                unlink(temporary)
                throw WriteError(path: path, code: errno)
            }
            let status = mode == .replace ? rename(temporary, path) : link(temporary, path)
            guard status == 0 else {
                let code = errno
                unlink(temporary)
                throw WriteError(path: path, code: code)
            }
            if mode == .createNew { unlink(temporary) }
            try syncDirectory(split(path).directory, for: path)
        }

        /// Removes the temporary file; the target is untouched.
        public func abandon() {
            guard !finished else { return }
            finished = true
            close(fd)
            if let temporary { unlink(temporary) }
        }

        deinit { abandon() }
    }
}
