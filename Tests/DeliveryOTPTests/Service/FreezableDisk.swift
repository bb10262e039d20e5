import DeliveryOTP
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small ext4 file system in a file, mounted through a loop device, that a test can freeze
/// (`FIFREEZE`, as `fsfreeze` does): every call that would change it (`mkdir`, `open` with
/// `O_CREAT`, `write`) then waits in the kernel until it is thawed, as on a disk that stops
/// answering. It needs root and a loop device: ``isAvailable`` says whether this machine has them;
/// `.ci/run` sets `DELIVERY_OTP_REQUIRE_FREEZABLE_DISK=1`, which makes their absence a failure.
///
/// A thread of its own thaws it 120 s after ``freeze()`` if the test has not: a thread waiting on
/// a frozen disk cannot be cancelled or killed, and the test must end either way. A process of its
/// own, in a session of its own, thaws it after 150 s even if the test process has died (a process
/// with a thread waiting on a frozen disk cannot finish dying until it thaws), and is stopped once
/// the disk is unmounted; `.ci/run`'s exit trap thaws and unmounts what is left.
final class FreezableDisk: Sendable {
    /// Where the file system is mounted.
    let mountPoint: String
    private let folder: String
    private let frozen = Locked(false)
    private let watchdog = Locked(false)
    /// The thawing process's id (and process group's), once started.
    private let backstop = Locked<pid_t>(0)

    /// Root, a loop device, and the programs.
    static var isAvailable: Bool {
        let programs = ["/sbin/mkfs.ext4", "/bin/mount", "/bin/umount", "/bin/mountpoint", "/sbin/fsfreeze", "/bin/sh"]
        return geteuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && programs.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether a missing ``isAvailable`` is a failure (CI) rather than a reason to skip.
    static var isRequired: Bool { ProcessInfo.processInfo.environment["DELIVERY_OTP_REQUIRE_FREEZABLE_DISK"] == "1" }

    /// A new 32 MiB file system, mounted in a new temporary folder.
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/delivery-otp-disk-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        folder = String(cString: made)
        mountPoint = folder + "/mount"
        let image = folder + "/disk.img"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        guard FileManager.default.createFile(atPath: image, contents: nil), truncate(image, 32 << 20) == 0,
            Self.run("/sbin/mkfs.ext4", ["-q", "-F", image]) == 0, Self.run("/bin/mount", ["-o", "loop", image, mountPoint]) == 0
        else {
            try? FileManager.default.removeItem(atPath: folder)
            throw FreezableDiskError(message: "cannot make and mount an ext4 file system in \(folder) (root and a loop device needed)")
        }
    }

    deinit {
        thaw()
        // Busy for a moment while files the service closes on its own threads are still open.
        var tries = 0
        while Self.run("/bin/umount", [mountPoint]) != 0 && tries < 100 {
            tries += 1
            usleep(100_000)
        }
        if Self.run("/bin/mountpoint", ["-q", mountPoint]) == 0 { _ = Self.run("/bin/umount", ["--lazy", mountPoint]) }
        // Never removed while mounted (that would empty the file system rather than the folder):
        // mountpoint's 32 is "not a mount point", its 1 a failure to tell.
        if Self.run("/bin/mountpoint", ["-q", mountPoint]) == 32 { try? FileManager.default.removeItem(atPath: folder) }
        // Thawed and gone: the thawing process, and its sleep, are no longer needed.
        let pid = backstop.withLock { $0 }
        if pid > 0 {
            kill(-pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
    }

    /// Freezes the file system; the watchdog thaws it in 120 s unless ``thaw()`` does first.
    func freeze() throws {
        // The backstop first: a freeze with none could outlive a test process that dies.
        let pid = try Self.spawnBackstop(thawing: mountPoint)
        backstop.withLock { $0 = pid }
        try ioctl(Self.freezeRequest)
        frozen.withLock { $0 = true }
        Thread { [frozen, watchdog, mountPoint] in
            // Long: under ThreadSanitizer, with every suite at once on two cores, requests have
            // taken 40 s to be answered (CI run 81).
            var waited = 0
            while frozen.withLock({ $0 }) && waited < 1200 {
                waited += 1
                usleep(100_000)
            }
            frozen.withLock { isFrozen in
                guard isFrozen else { return }
                watchdog.withLock { $0 = true }
                _ = try? Self.ioctl(Self.thawRequest, on: mountPoint)
                isFrozen = false
            }
        }.start()
    }

    /// Thaws the file system, if frozen.
    func thaw() {
        frozen.withLock { isFrozen in
            guard isFrozen else { return }
            _ = try? ioctl(Self.thawRequest)
            isFrozen = false
        }
    }

    /// Whether the watchdog thawed it rather than ``thaw()``.
    var thawedByWatchdog: Bool { watchdog.withLock { $0 } }

    /// `_IOWR('X', 119, int)` and `_IOWR('X', 120, int)` of `<linux/fs.h>`.
    private static let freezeRequest: UInt = 0xC004_5877
    private static let thawRequest: UInt = 0xC004_5878

    private func ioctl(_ request: UInt) throws { try Self.ioctl(request, on: mountPoint) }

    private static func ioctl(_ request: UInt, on mountPoint: String) throws {
        let fd = open(mountPoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FreezableDiskError(message: "cannot open \(mountPoint): errno \(errno)") }
        defer { close(fd) }
        guard Glibc.ioctl(fd, request, 0) == 0 else {
            throw FreezableDiskError(message: "cannot freeze or thaw \(mountPoint): errno \(errno)")
        }
    }

    /// Starts `sh`, in a session of its own, to thaw `mountPoint` in 150 s. It holds none of this
    /// process's descriptors: one end of another test's pipe held for 150 s would keep that test
    /// waiting for its end.
    private static func spawnBackstop(thawing mountPoint: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        for fd: Int32 in 0...2 {
            guard posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) == 0 else {
                throw FreezableDiskError(message: "cannot start the thawing process: posix_spawn_file_actions_addopen")
            }
        }
        // glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module does not declare.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let closeFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map({ unsafeBitCast($0, to: CloseFrom.self) }),
            closeFrom(&actions, 3) == 0
        else { throw FreezableDiskError(message: "cannot start the thawing process: no posix_spawn_file_actions_addclosefrom_np") }
        guard posix_spawnattr_setflags(&attributes, Int16(Self.spawnSetSID)) == 0 else {
            throw FreezableDiskError(message: "cannot start the thawing process: posix_spawnattr_setflags")
        }
        let arguments = ["/bin/sh", "-c", "sleep 150; /sbin/fsfreeze -u \"$0\" 2>/dev/null", mountPoint]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/bin/sh", &actions, &attributes, &argv, environ)
        guard status == 0 else { throw FreezableDiskError(message: "cannot start the thawing process: errno \(status)") }
        return pid
    }

    /// `POSIX_SPAWN_SETSID` of `<spawn.h>` (declared for `_GNU_SOURCE` only).
    private static let spawnSetSID: Int32 = 0x80

    /// Runs a program to its end; its exit status, or -1 if it cannot be started.
    private static func run(_ program: String, _ arguments: [String]) -> Int32 {
        (try? CommandRunner.runToEnd(arguments, stdin: nil, environment: [:], program: program, onStart: {}))?.status ?? -1
    }
}

struct FreezableDiskError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
