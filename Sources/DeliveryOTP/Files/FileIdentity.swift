#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which file a path names: the device and inode it leads to (links followed)
/// when it exists, else its absolute, link-free spelling. Two paths with the
/// same identity are the same file, so a command can refuse to write an
/// output over its own keyring or input before doing any work.
package enum FileIdentity: Hashable, Sendable {
    case existing(device: UInt64, inode: UInt64)
    case missing(path: String)

    /// The identity of `path` now. A path that cannot be resolved is compared by its text.
    package init(of path: String) {
        var info = stat()
        if stat(path, &info) == 0 {
            self = .existing(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            return
        }
        self = .missing(path: AtomicFile.resolved(path))
    }
}

extension AtomicFile {
    /// Where a write to `path` must go so that a symbolic link stays a link: the
    /// absolute path with every link resolved, when it resolves; else, for a file
    /// still to be created, its resolved folder and its name; else `path` itself.
    package static func resolved(_ path: String) -> String {
        if let full = realpath(path, nil) {
            defer { free(full) }
            return String(cString: full)
        }
        let (directory, name) = split(path)
        if let folder = realpath(directory, nil) {
            defer { free(folder) }
            let base = String(cString: folder)
            return (base == "/" ? "" : base) + "/" + name
        }
        return path
    }
}
