#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock(2)` on `PATH.lock`, held until released or the process ends.
///
/// The lock file is separate from the data file because updates rename a new
/// file over the old one, and a lock on the old inode would not stop a second
/// writer that opened the new one.
package final class FileLock {
    private let fd: Int32

    /// Blocks until no other process holds the lock for `path`.
    package init(for path: String) throws(AtomicFile.WriteError) {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.WriteError(path: lockPath, code: errno) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            throw AtomicFile.WriteError(path: lockPath, code: code)
        }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
