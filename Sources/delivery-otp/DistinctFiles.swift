import DeliveryOTP
import Foundation

/// Refuses, before any work is done, an output that is the same file as an
/// input (the keyring, the passphrase file, the manifest) or as another output:
/// writing it would destroy what the command reads, or mix two outputs.
enum DistinctFiles {
    /// A file named on the command line; `-` is standard input for inputs and standard output for outputs.
    struct Named {
        var option: String
        var path: String
    }

    static func check(outputs: [Named], inputs: [Named]) throws {
        for (index, output) in outputs.enumerated() {
            for other in outputs[..<index] where same(output.path, other.path, bothOutputs: true) {
                throw conflict(output, other)
            }
            for input in inputs where output.path != "-" && input.path != "-" && same(output.path, input.path, bothOutputs: false) {
                throw conflict(output, input)
            }
        }
    }

    private static func same(_ a: String, _ b: String, bothOutputs: Bool) -> Bool {
        // Two outputs to one terminal or /dev/null are harmless; to one file or pipe they are not.
        if bothOutputs && (isCharacterDevice(a) || isCharacterDevice(b)) { return false }
        if a == b { return true }
        return identity(a) == identity(b)
    }

    /// `-` among outputs is standard output: what descriptor 1 leads to (so `--out /dev/stdout --rejects -` is caught).
    private static func identity(_ path: String) -> FileIdentity {
        guard path == "-" else { return FileIdentity(of: path) }
        var info = stat()
        guard fstat(1, &info) == 0 else { return .missing(path: "-") }
        return .existing(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private static func isCharacterDevice(_ path: String) -> Bool {
        var info = stat()
        let status = path == "-" ? fstat(1, &info) : stat(path, &info)
        return status == 0 && (info.st_mode & S_IFMT) == S_IFCHR
    }

    /// A feed must never replace key material, with or without --force: refuses an existing
    /// file at `path` that is a keyring (plain or encrypted) or a device-key file.
    static func refuseKeyMaterial(_ path: String, option: String) throws {
        guard path != "-" else { return }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        var head = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &head, head.count)
        guard count > 0 else { return }
        let text = String(decoding: head[0..<count], as: UTF8.self)
        guard text.contains("\"delivery-otp-keyring") || text.contains("\"delivery-otp-device-keys\"") else { return }
        throw CommandFailure(
            message: "\(option) \(path) holds keys; a feed never replaces key material, even with --force",
            hint: "give \(option) another file", exitCode: .usage)
    }

    private static func conflict(_ output: Named, _ other: Named) -> CommandFailure {
        let what = output.path == "-" ? "standard output" : "the same file (\(output.path))"
        return CommandFailure(
            message: "\(output.option) and \(other.option) name \(what); nothing was written",
            hint: "give \(output.option) a file of its own", exitCode: .usage)
    }
}
