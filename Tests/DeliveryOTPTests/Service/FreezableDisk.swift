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
/// a frozen disk cannot be cancelled or killed, and the test must end either way.
final class FreezableDisk: Sendable {
    /// Where the file system is mounted.
    let mountPoint: String
    private let folder: String
    private let frozen = Locked(false)
    private let watchdog = Locked(false)

    /// Root, a loop device, and the programs.
    static var isAvailable: Bool {
        geteuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && ["/sbin/mkfs.ext4", "/bin/mount", "/bin/umount"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
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
        _ = Self.run("/bin/umount", [mountPoint])
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Freezes the file system; the watchdog thaws it in 120 s unless ``thaw()`` does first.
    func freeze() throws {
        try ioctl(Self.freezeRequest)
        frozen.withLock { $0 = true }
        Thread { [frozen, watchdog, mountPoint] in
            // Long: under ThreadSanitizer, with every suite at once on two cores, requests have
            // taken 40 s to be answered (CI run 81).
            for _ in 0..<1200 where frozen.withLock({ $0 }) { usleep(100_000) }
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

    /// Runs a program to its end, its output dropped; its exit status.
    private static func run(_ program: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct FreezableDiskError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
