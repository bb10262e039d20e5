@_spi(Tools) import DeliveryOTP
import Hummingbird
import NIOPosix

/// `GET /v1/device-keys` and `POST /v1/attempts`: a handheld's morning fetch and its upload.
struct DeviceRoutes {
    let state: ServiceState
    let store: any ServiceStore
    /// Day-key exports that append to the audit log at once, running or queued for NIO's pool (a
    /// thread per core): a morning's burst of handhelds fits, and a disk that stops answering
    /// holds this many, the next export 503 at once rather than queued without a bound.
    let auditAppends = RequestSlots(maximum: 64)

    /// The attempt numbers a device writes: it counts no further than its limit, which is one of
    /// these (the store type named here does not matter).
    static let attemptNumbers = CourierVerifier<InMemoryAttemptStore>.attemptLimits

    /// The device-keys file (format v1, as `keys export-device`) for the token's scope and device id;
    /// every export goes to the keyring's audit log first, and an export that cannot be audited is refused.
    func deviceKeys(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        let scope = token.scopes[0]
        let zone = state.zones.zone(of: scope)
        let now = state.now
        let today = zone.date(at: now)
        let from = try RequestInput.date(request.uri.queryParameters.get("from"), name: "from") ?? today
        let daysText = request.uri.queryParameters.get("days") ?? "1"
        guard let days = Int(daysText), (1...DeviceKeys.maximumDays).contains(days) else {
            throw APIError.badRequest("days must be 1 to \(DeviceKeys.maximumDays)")
        }
        // Yesterday (a device in a zone behind) to six days after today, never further: a lost
        // handheld's token must not reach the keys of later weeks.
        let earliest = today.adding(days: -1) ?? today
        let latest = today.adding(days: DeviceKeys.maximumDays - 1) ?? today
        guard from >= earliest, let last = from.adding(days: days - 1), last <= latest else {
            throw APIError(
                .unprocessableContent, "day keys are served from \(earliest) to \(latest) only (today is \(today) in \(zone))",
                hint: "fetch day keys for the coming days only")
        }
        let snapshot = state.keySnapshot
        let keys: DeviceKeys
        do {
            keys = try DeviceKeys(
                keyring: snapshot.keyring, scope: scope, from: from, days: days, timeZone: zone,
                attemptLimit: state.configuration.limits.attemptLimit, deviceID: token.deviceID)
        } catch {
            throw APIError(.serviceUnavailable, "no day keys for these dates: \(error)", hint: "the security team must schedule a key")
        }
        let keyIDs = Set(keys.entries.map(\.keyID.rawValue)).sorted().joined(separator: ",")
        let event = AuditLog.Event(
            operation: "export-device",
            details: [
                ("scope", scope.rawValue), ("from", from.description), ("days", String(days)), ("keyIds", keyIDs),
                ("token", token.name.rawValue), ("deviceId", token.deviceID?.rawValue ?? ""), ("via", "serve"),
            ])
        let keyringPath = state.configuration.keyringPath
        guard auditAppends.take() else {
            throw APIError(
                .serviceUnavailable, "\(auditAppends.maximum) day-key exports are waiting on the audit log already",
                hint: "retry in a few seconds; if it lasts, check the keyring folder's disk", headers: [.retryAfter: "5"])
        }
        defer { auditAppends.give() }
        do {
            // The append waits on the disk (an fsync), so it runs on NIO's pool for blocking work:
            // on Swift's shared pool, which has a thread per core and runs every request, a burst
            // of exports on a slow disk would hold verifies up meanwhile.
            try await NIOThreadPool.singleton.runIfActive {
                try AuditLog(keyringPath: AtomicFile.resolved(keyringPath)).append([event], at: now)
            }
        } catch {
            throw APIError(.serviceUnavailable, "the export could not be written to the audit log", hint: "check the keyring folder's disk")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: keys.jsonBytes())))
    }

    struct UploadAnswer: Encodable {
        let received: Int
        let new: Int
    }

    /// Stores the lines of `attempts export`; a second upload of the same lines stores nothing new.
    func upload(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: state.configuration.limits.maximumBodyBytes) } catch {
            throw JSONBody.readFailure(error)
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw APIError.badRequest("the attempt log is not UTF-8 text")
        }
        let records: [AttemptRecord]
        do { records = try AttemptRecord.records(jsonLines: text) } catch {
            throw APIError(.unprocessableContent, error.description, hint: error.hint)
        }
        guard !records.isEmpty else {
            throw APIError.badRequest("the attempt log is empty", hint: "send the output of 'delivery-otp attempts export'")
        }
        let now = state.now
        for (index, record) in records.enumerated() {
            // A device's clock may be off by minutes, not by days: a line from the future or one whose
            // date is far from its time is refused rather than stored in the central log.
            let future = record.time.secondsSinceEpoch > now.secondsSinceEpoch + AttemptClock.tolerance
            let dayOfTime = record.time.utcDate.map { abs($0.daysSinceEpoch - record.date.daysSinceEpoch) <= 1 } ?? false
            guard !future && dayOfTime else {
                throw APIError(
                    .unprocessableContent, "line \(index + 1) has a time in the future or far from its delivery date",
                    hint: "check the device's clock")
            }
            // The store's column and every device's limit: a number beyond them would be refused
            // by the database on every retry, keeping the rest of the log out for good.
            if let attempt = record.attempt, !Self.attemptNumbers.contains(attempt) {
                throw APIError(
                    .unprocessableContent,
                    "line \(index + 1) has attempt number \(attempt), outside 1 to \(Self.attemptNumbers.upperBound)",
                    hint: "upload the log the device wrote")
            }
            guard token.allows(record.scope) else {
                throw APIError.forbidden("line \(index + 1) is for scope \(record.scope), not this device's")
            }
            if let device = record.deviceID, device != token.deviceID {
                throw APIError(
                    .unprocessableContent, "line \(index + 1) names another device", hint: "upload each device's log with its own token")
            }
        }
        let new: Int
        do { new = try await store.upload(records, from: token.name, at: now) } catch {
            throw VerifyRoute.unavailable(error)
        }
        return JSONBody.response(UploadAnswer(received: records.count, new: new))
    }
}
