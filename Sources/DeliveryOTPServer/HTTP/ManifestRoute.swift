@_spi(Tools) import DeliveryOTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `POST /v1/manifests`: a day's manifest in (CSV by `Content-Type: text/csv`, JSON lines by
/// `application/x-ndjson`), the feed out, through the same pipeline as `issue --manifest`.
///
/// The body is streamed to a private temporary file (never held in memory), issued by
/// `ManifestIssuer` into a second file, and streamed back as `multipart/mixed`: the feed in the
/// first part, the rejects in the second. Memory stays bounded whatever the size; disk use is
/// bounded by ``maximumBytes``. The files are removed when the answer ends, or fails.
struct ManifestRoute {
    let state: ServiceState
    let logger: Logger
    /// The largest manifest taken: 4 GiB.
    static let maximumBytes: Int64 = 4 << 30

    func issue(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        guard token.scopes.isEmpty else {
            throw APIError.forbidden(
                "a manifest holds rows of any scope; this token is bound to scopes", hint: "use an issuer token without scopes")
        }
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let format: ManifestIssuer.Format
        switch type {
        case "text/csv": format = .csv
        case "application/x-ndjson", "application/jsonl", "application/jsonlines": format = .jsonLines
        default:
            throw APIError(.unsupportedMediaType, "send the manifest as text/csv or application/x-ndjson")
        }
        var zone = state.zones.defaultZone
        if let text = request.uri.queryParameters.get("timeZone") {
            do { zone = try DeliveryTimeZone(text) } catch { throw APIError.badRequest("invalid timeZone: \(error)", hint: error.hint) }
        }
        let strict = request.uri.queryParameters.get("strict") == "true"

        let folder = try TemporaryFolder()
        do {
            try await folder.receive(request.body, into: "manifest", limit: Self.maximumBytes)
            let issuer = ManifestIssuer(
                keyring: state.keySnapshot.keyring, options: .init(format: format, timeZone: zone, strict: strict, threads: 2))
            let summary = try await folder.issue(with: issuer)
            logger.info(
                "manifest issued",
                metadata: [
                    "event": "manifest", "rows": .stringConvertible(summary.rowsRead), "issued": .stringConvertible(summary.issued),
                    "rejected": .stringConvertible(summary.rejected),
                ])
            let boundary = "delivery-otp-" + UUID().uuidString
            let feedType = format == .csv ? "text/csv" : "application/x-ndjson"
            let headers: HTTPFields = [
                .contentType: "multipart/mixed; boundary=\(boundary)", .cacheControl: "no-store",
                HTTPField.Name("X-Rows")!: String(summary.rowsRead), HTTPField.Name("X-Issued")!: String(summary.issued),
                HTTPField.Name("X-Rejected")!: String(summary.rejected),
            ]
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    defer { folder.remove() }
                    try await writer.write(
                        ByteBuffer(
                            string: "--\(boundary)\r\nContent-Type: \(feedType)\r\nContent-Disposition: inline; name=\"feed\"\r\n\r\n"))
                    try await folder.stream("feed", to: &writer)
                    try await writer.write(
                        ByteBuffer(
                            string: "\r\n--\(boundary)\r\nContent-Type: text/plain\r\nContent-Disposition: inline; name=\"rejects\"\r\n\r\n"
                        ))
                    try await folder.stream("rejects", to: &writer)
                    try await writer.write(ByteBuffer(string: "\r\n--\(boundary)--\r\n"))
                    try await writer.finish(nil)
                })
        } catch {
            folder.remove()
            throw error
        }
    }
}

/// A folder only this user can enter, for one manifest's files.
final class TemporaryFolder: Sendable {
    let path: String

    init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/delivery-otp-manifest-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw APIError(.serviceUnavailable, "cannot make a temporary folder for the manifest", hint: "check TMPDIR")
        }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes the request body to `name`, at most `limit` bytes (else 413).
    func receive(_ body: RequestBody, into name: String, limit: Int64) async throws {
        let fd = open(file(name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError(.serviceUnavailable, "cannot write the manifest to a temporary file") }
        defer { close(fd) }
        var total: Int64 = 0
        for try await buffer in body {
            total += Int64(buffer.readableBytes)
            guard total <= limit else { throw APIError.tooLarge }
            try buffer.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else {
                        throw APIError(
                            .serviceUnavailable, "cannot write the manifest to a temporary file", hint: "check the disk space of TMPDIR")
                    }
                    offset += written
                }
            }
        }
    }

    /// Runs the issuer from `manifest` to `feed` and `rejects` on its own threads.
    func issue(with issuer: ManifestIssuer) async throws -> ManifestIssuer.Summary {
        let paths = (file("manifest"), file("feed"), file("rejects"))
        let result: Result<ManifestIssuer.Summary, APIError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let input = open(paths.0, O_RDONLY | O_CLOEXEC)
                let output = open(paths.1, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                let rejects = open(paths.2, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                defer {
                    for fd in [input, output, rejects] where fd >= 0 { close(fd) }
                }
                guard input >= 0, output >= 0, rejects >= 0 else {
                    continuation.resume(returning: .failure(APIError(.serviceUnavailable, "cannot open the manifest's temporary files")))
                    return
                }
                do throws(ManifestError) {
                    continuation.resume(returning: .success(try issuer.run(input: input, output: output, rejects: rejects)))
                } catch {
                    continuation.resume(returning: .failure(APIError(.unprocessableContent, error.description, hint: error.hint)))
                }
            }
        }
        return try result.get()
    }

    /// Sends the file `name` in 64 KiB pieces.
    func stream(_ name: String, to writer: inout any ResponseBodyWriter) async throws {
        let fd = open(file(name), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            try await writer.write(ByteBuffer(bytes: chunk[0..<count]))
        }
    }

    func remove() {
        for name in ["manifest", "feed", "rejects"] { unlink(file(name)) }
        rmdir(path)
    }
}
