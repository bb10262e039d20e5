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
@_spi(Tools) public enum AtomicFile {
    /// The error of a failed write: the path and the `errno` value.
    public typealias WriteError = FileWriteError

    /// What to do when the target already exists.
    public enum Mode: Sendable {
        /// Fail with `EEXIST` if the target exists.
        case createNew
        /// Replace the target if it exists.
        case replace
    }

    /// A symbolic link at `path` is followed: the file it points to is replaced and the link stays a link.
    package static func write(
        _ bytes: UnsafeRawBufferPointer, to path: String, permissions: mode_t = 0o600, mode: Mode
    ) throws(WriteError) {
        let destination = resolved(path)
        let (directory, name) = split(destination)
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
            guard rename(temporary, destination) == 0 else { throw WriteError(path: path, code: errno) }
            committed = true
        case .createNew:
            // link(2) fails if the target exists, atomically, like O_EXCL on the final name.
            guard link(temporary, destination) == 0 else { throw WriteError(path: path, code: errno) }
            committed = true
            unlink(temporary)
        }
        try syncDirectory(directory, for: path)
    }

    /// Before `--force` replaces a file that may hold key material, keeps it as
    /// `PATH.replaced-TIME` (a hard link, so no byte is copied or lost); returns that
    /// name, or nil when there is no regular file at `path`.
    package static func keepCopy(of path: String, now: Timestamp) throws(WriteError) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let aside = "\(path).replaced-\(now.description.replacingOccurrences(of: ":", with: ""))"
        guard link(path, aside) == 0 else { throw WriteError(path: aside, code: errno) }
        try syncDirectory(split(aside).directory, for: aside)
        return aside
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
        package let path: String
        package let mode: Mode
        /// Write the content here.
        public let fd: Int32
        /// Nil when the target is a device or pipe written in place.
        private let temporary: String?
        /// The name the file gets: `path` with symbolic links resolved.
        private let destination: String
        private var finished = false

        /// Starts a write to `path`: a temporary file with mode `permissions` in its folder, or, for a
        /// device or pipe, `path` itself, written in place. With `.createNew`, throws `EEXIST` when a file is there.
        public init(path: String, permissions: mode_t = 0o600, mode: Mode) throws(WriteError) {
            self.path = path
            self.mode = mode
            // A device or a pipe (/dev/stdout, a FIFO a consumer reads) cannot be replaced
            // by renaming, and must never be: it is written in place. What is there is
            // opened first and judged by fstat on that descriptor, so nothing can be
            // swapped in between a check and the open. (Links are followed on purpose:
            // /dev/stdout is one; a link to a regular file is resolved below and kept.)
            if let inPlace = try Self.openInPlace(path) {
                fd = inPlace
                destination = path
                temporary = nil
                return
            }
            if mode == .createNew && access(path, F_OK) == 0 { throw WriteError(path: path, code: EEXIST) }
            destination = resolved(path)
            let (directory, name) = split(destination)
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
            PendingFiles.register(created)
            self.fd = fd
        }

        /// A descriptor for a device or pipe at `path`, in blocking mode; nil when `path`
        /// is a regular file or does not exist (it is then written under a temporary name).
        private static func openInPlace(_ path: String) throws(WriteError) -> Int32? {
            // O_NONBLOCK: opening a FIFO for writing must not hang before we know it is one.
            var fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
            if fd < 0 {
                switch errno {
                case ENOENT: return nil
                case ENXIO:
                    // A FIFO with no reader yet: wait for one, as writing to it means to.
                    fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
                    guard fd >= 0 else { throw WriteError(path: path, code: errno) }
                default: throw WriteError(path: path, code: errno)
                }
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let code = errno
                close(fd)
                throw WriteError(path: path, code: code)
            }
            if (info.st_mode & S_IFMT) == S_IFREG {
                close(fd)
                return nil
            }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            return fd
        }

        /// Flushes the content to disk and gives the file its name.
        public func commit() throws(WriteError) {
            guard !finished else { return }
            finished = true
            defer { close(fd) }
            guard let temporary else { return }
            defer { PendingFiles.unregister(temporary) }
            guard fsync(fd) == 0 else {
                let code = errno
                unlink(temporary)
                throw WriteError(path: path, code: code)
            }
            let status = mode == .replace ? rename(temporary, destination) : link(temporary, destination)
            guard status == 0 else {
                let code = errno
                unlink(temporary)
                throw WriteError(path: path, code: code)
            }
            if mode == .createNew { unlink(temporary) }
            try syncDirectory(split(destination).directory, for: path)
        }

        /// Removes the temporary file; the target is untouched.
        package func abandon() {
            guard !finished else { return }
            finished = true
            close(fd)
            if let temporary {
                unlink(temporary)
                PendingFiles.unregister(temporary)
            }
        }

        deinit { abandon() }
    }
}
