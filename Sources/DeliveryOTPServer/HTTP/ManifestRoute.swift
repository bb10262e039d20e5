@_spi(Tools) import DeliveryOTP
import DeliveryOTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOPosix
import Synchronization

/// `POST /v1/manifests`: a day's manifest in (CSV by `Content-Type: text/csv`, JSON lines by
/// `application/x-ndjson`), the feed out, through the same pipeline as `issue --manifest`.
///
/// The body is streamed to a private temporary file (never held in memory), issued by
/// `ManifestIssuer` into a second file, and streamed back as `multipart/mixed`: the feed in the
/// first part, the rejects in the second. Memory stays bounded whatever the size; disk use is
/// bounded by ``maximumBytes`` (and the feed, about four times the input) per manifest, at most
/// two at once. The files are unlinked as soon as they are opened (``ManifestFiles``).
struct ManifestRoute {
    let state: ServiceState
    let logger: Logger
    /// The largest manifest taken: 4 GiB.
    static let maximumBytes: Int64 = 4 << 30
    /// Manifests issued at once (a third is 503): each takes two threads for its issuer and one
    /// of ``ManifestFiles/disk``, and its size and its feed's in the temporary folder.
    static let atOnce = 2
    let slots = RequestSlots(maximum: ManifestRoute.atOnce)

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

        guard slots.take() else {
            throw APIError(
                .serviceUnavailable, "two manifests are being issued already", hint: "retry in a few seconds", headers: [.retryAfter: "5"])
        }
        // The slot is given back when the files are released: after the answer, or on any failure.
        let files = try await ManifestFiles.make(in: state.configuration.temporaryFolder, slot: slots)
        do {
            try await files.receive(request.body, limit: Self.maximumBytes)
            let issuer = ManifestIssuer(
                keyring: state.keySnapshot.keyring, options: .init(format: format, timeZone: zone, strict: strict, threads: 2))
            let summary = try await files.issue(with: issuer)
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
                    try await writer.write(
                        ByteBuffer(
                            string: "--\(boundary)\r\nContent-Type: \(feedType)\r\nContent-Disposition: inline; name=\"feed\"\r\n\r\n"))
                    try await files.stream(files.feed, to: &writer)
                    try await writer.write(
                        ByteBuffer(
                            string: "\r\n--\(boundary)\r\nContent-Type: text/plain\r\nContent-Disposition: inline; name=\"rejects\"\r\n\r\n"
                        ))
                    try await files.stream(files.rejects, to: &writer)
                    try await writer.write(ByteBuffer(string: "\r\n--\(boundary)--\r\n"))
                    try await writer.finish(nil)
                })
        }
    }
}

/// The three files of one manifest (input, feed, rejects), opened in a fresh private folder
/// (`mkdtemp`, mode 0700) and unlinked at once: they live only as open descriptors, so a killed
/// process leaves no codes on disk, and closing them frees the space.
///
/// Every call that touches the disk (making, writing, reading and closing the files) runs on
/// ``disk``, two threads of the manifests' own: a `TMPDIR` that stops answering holds those, never
/// the threads that every request shares.
final class ManifestFiles: Sendable {
    let input: Int32
    let feed: Int32
    let rejects: Int32
    private let slot: RequestSlots

    /// The manifests' threads for blocking file calls, one per manifest that may run at once
    /// (``ManifestRoute/atOnce``: a process serves one router; tests, which make many, share it).
    static let disk: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: ManifestRoute.atOnce)
        pool.start()
        return pool
    }()

    /// How much is read in one call on ``disk``, and written once at least this much has come: 1 MiB.
    static let pieceSize = 1 << 20

    /// New files in a new folder in `folder`, made on ``disk``; `slot` (already taken) is given
    /// back when they are released, or if they cannot be made.
    static func make(in folder: String, slot: RequestSlots) async throws -> ManifestFiles {
        do {
            return try await disk.runIfActive { try ManifestFiles(folder: folder, slot: slot) }
        } catch let error as APIError {
            throw error  // The initializer ran and gave the slot back.
        } catch {
            slot.give()  // Cancelled before it ran.
            throw error
        }
    }

    private init(folder: String, slot: RequestSlots) throws(APIError) {
        self.slot = slot
        var template = Array("\(folder)/delivery-otp-manifest-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            slot.give()
            throw APIError(.serviceUnavailable, "cannot make a temporary folder for the manifest", hint: "check TMPDIR")
        }
        let made = String(cString: created)
        defer { rmdir(made) }
        var opened: [Int32] = []
        for name in ["manifest", "feed", "rejects"] {
            let path = "\(made)/\(name)"
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            unlink(path)
            guard fd >= 0 else {
                for fd in opened { close(fd) }
                slot.give()
                throw APIError(.serviceUnavailable, "cannot open the manifest's temporary files", hint: "check TMPDIR")
            }
            opened.append(fd)
        }
        (input, feed, rejects) = (opened[0], opened[1], opened[2])
    }

    deinit {
        // Closing the last descriptor of an unlinked file frees its blocks: a disk call too.
        let (files, slot) = ([input, feed, rejects], self.slot)
        Self.disk.submit { _ in
            for fd in files { close(fd) }
            slot.give()
        }
    }

    /// Writes the request body to the input file, at most `limit` bytes (else 413), on ``disk``
    /// in pieces of ``pieceSize`` bytes or a little more (what came while they were collected).
    func receive(_ body: RequestBody, limit: Int64) async throws {
        var total: Int64 = 0
        var pending = ByteBuffer()
        for try await buffer in body {
            total += Int64(buffer.readableBytes)
            guard total <= limit else { throw APIError.tooLarge }
            pending.writeImmutableBuffer(buffer)
            if pending.readableBytes >= Self.pieceSize {
                try await append(pending)
                pending.clear()
            }
        }
        if pending.readableBytes > 0 { try await append(pending) }
        lseek(input, 0, SEEK_SET)
    }

    /// Writes `bytes` whole to the input file, on ``disk``.
    private func append(_ bytes: ByteBuffer) async throws {
        let input = self.input
        try await Self.disk.runIfActive {
            try bytes.withUnsafeReadableBytes { bytes throws(APIError) in
                var offset = 0
                while offset < bytes.count {
                    let written = write(input, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else {
                        let reason = written < 0 ? String(cString: strerror(errno)) : "nothing written"
                        throw APIError(
                            .serviceUnavailable, "cannot write the manifest to a temporary file: \(reason)",
                            hint: "check the disk and its space under TMPDIR")
                    }
                    offset += written
                }
            }
        }
    }

    /// Runs the issuer from the input to the feed and the rejects on its own threads.
    func issue(with issuer: ManifestIssuer) async throws -> ManifestIssuer.Summary {
        let (input, feed, rejects) = (self.input, self.feed, self.rejects)
        let result: Result<ManifestIssuer.Summary, APIError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do throws(ManifestError) {
                    continuation.resume(returning: .success(try issuer.run(input: input, output: feed, rejects: rejects)))
                } catch {
                    continuation.resume(returning: .failure(APIError(.unprocessableContent, error.description, hint: error.hint)))
                }
            }
        }
        lseek(feed, 0, SEEK_SET)
        lseek(rejects, 0, SEEK_SET)
        return try result.get()
    }

    /// Sends the file behind `fd` from where it stands, in pieces of up to ``pieceSize`` bytes read on
    /// ``disk``. A read that fails throws, so the answer is cut off before its closing boundary
    /// rather than ending as if the file had.
    func stream(_ fd: Int32, to writer: inout any ResponseBodyWriter) async throws {
        while true {
            let piece = try await Self.disk.runIfActive { try Self.piece(of: fd, upTo: Self.pieceSize) }
            guard piece.readableBytes > 0 else { return }
            try await writer.write(piece)
        }
    }

    /// Up to `count` bytes of `fd` from where it stands; empty at its end.
    private static func piece(of fd: Int32, upTo count: Int) throws(APIError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        while true {
            var failure: Int32 = 0
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
                let count = read(fd, bytes.baseAddress!, count)
                if count < 0 { failure = errno }
                return max(count, 0)
            }
            if failure == EINTR { continue }
            guard failure == 0 else {
                let reason = String(cString: strerror(failure))
                throw APIError(
                    .serviceUnavailable, "cannot read the manifest's feed back from its temporary file: \(reason)",
                    hint: "check the disk under TMPDIR")
            }
            return buffer
        }
    }
}
