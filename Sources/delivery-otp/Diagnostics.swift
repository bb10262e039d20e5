#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Messages for people on standard error, in the style of age and minisign.
enum Diagnostics {
    static let program = "delivery-otp"

    /// A progress or result line for people (standard error; standard output stays for machines).
    static func note(_ message: String) {
        writeAll(2, "\(program): \(message)\n")
    }

    static func warning(_ message: String) {
        writeAll(2, "\(program): warning: \(message)\n")
    }

    static func fail(_ failure: CommandFailure) -> Never {
        var text = "\(program): error: \(failure.message)\n"
        if let hint = failure.hint { text += "\(program): hint: \(hint)\n" }
        writeAll(2, text)
        exit(failure.exitCode.rawValue)
    }

    static func exit(_ code: Int32) -> Never {
        Glibc.exit(code)
    }

    static func writeAll(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                // stdout closed (e.g. `| head`): nothing more can be said there.
                Glibc.exit(ExitStatus.ioError.rawValue)
            }
            offset += written
        }
    }
}

/// Output for machines on standard output, buffered and written in large blocks.
struct OutputBuffer: ~Copyable {
    private var bytes: [UInt8] = []
    private let fd: Int32

    init(fd: Int32 = 1) {
        self.fd = fd
        bytes.reserveCapacity(1 << 16)
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        bytes.withUnsafeBytes { Diagnostics.writeAll(fd, $0) }
        bytes.removeAll(keepingCapacity: true)
    }

    deinit {
        bytes.withUnsafeBytes { Diagnostics.writeAll(fd, $0) }
    }
}

/// File existence without opening (or creating) anything.
enum FileManagerShim {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
