import Foundation

@testable import DeliveryOTP

/// Hex helpers for vectors.
enum Hex {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd hex length")
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    static func string(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

extension SecretKey {
    var hex: String { withUnsafeBytes { Hex.string($0) } }
}

/// The repository root, found from this file's path.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A temporary folder removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/delivery-otp-test-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: created)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ contents: String, mode: mode_t = 0o600) throws -> String {
        let target = file(name)
        try contents.write(toFile: target, atomically: false, encoding: .utf8)
        chmod(target, mode)
        return target
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Builds keyring JSON for tests.
enum KeyringJSON {
    struct Entry {
        var id: String
        var secret: [UInt8]
        var activeFrom: String
        var revokedAt: String? = nil
    }

    static func make(_ entries: [Entry], extra: String = "") -> String {
        let keys = entries.map { entry in
            let revoked = entry.revokedAt.map { "\"\($0)\"" } ?? "null"
            return """
                {"id": "\(entry.id)", "secret": "\(Data(entry.secret).base64EncodedString())", \
                "activeFrom": "\(entry.activeFrom)", "createdAt": "2023-12-20T10:00:00Z", "revokedAt": \(revoked)}
                """
        }
        return """
            {"format": "delivery-otp-keyring", "version": 1, \(extra)"keys": [\(keys.joined(separator: ","))]}
            """
    }
}

/// The sanitizer this test bundle was built with (`swift test --sanitize=thread` or `=address`), or nil.
/// Found by the runtime's own entry point, so a plain build never skips what a sanitizer run skips.
enum Sanitizer {
    static let active: String? = {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        defer { dlclose(handle) }
        if dlsym(handle, "__tsan_init") != nil { return "thread" }
        if dlsym(handle, "__asan_init") != nil { return "address" }
        return nil
    }()
}

/// The environment for a child the test kills at a random moment. Under `--enable-code-coverage`
/// a child killed while it writes its coverage profile at exit leaves a torn file, and SwiftPM then
/// fails the whole run because it cannot merge it; such a child writes its profile nowhere.
enum KilledChild {
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["LLVM_PROFILE_FILE": "/dev/null"]) { $1 }
    }
}
