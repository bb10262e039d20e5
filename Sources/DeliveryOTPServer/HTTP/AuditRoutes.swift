import DeliveryOTP
import HTTPTypes
import Hummingbird

/// `GET /v1/attempts` and `GET /v1/keys`: what the security team reads. Never a secret or a typed code.
struct AuditRoutes {
    let state: ServiceState
    let store: any ServiceStore

    /// The central attempt log as JSON lines (the format of `attempts export`), oldest first.
    /// `X-Truncated: true` says there is more, and `X-Next-After` where to go on: ask again with
    /// `after` set to it. `since` starts a read at a time instead.
    func attempts(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        let start = try Self.start(since: request.uri.queryParameters.get("since"), after: request.uri.queryParameters.get("after"))
        var scope = try RequestInput.scope(request.uri.queryParameters.get("scope"))
        if let scope, !token.allows(scope) { throw APIError.forbidden("this token is not bound to scope \(scope)") }
        if scope == nil && !token.scopes.isEmpty {
            guard token.scopes.count == 1 else {
                throw APIError.badRequest("the scope is missing", hint: "this token is bound to several scopes: name one")
            }
            scope = token.scopes[0]
        }
        // At least a line a page: a page of none would read as the end of the log.
        let limit = max(1, state.configuration.limits.maximumLogLines)
        let page: AttemptLogPage
        do { page = try await store.page(from: start, scope: scope, limit: limit) } catch {
            throw VerifyRoute.unavailable(error)
        }
        var text = ""
        for line in page.lines { text += line.record.jsonLine }  // each line ends in its newline
        var headers: HTTPFields = [.contentType: "application/x-ndjson", .cacheControl: "no-store"]
        if let next = page.next {
            headers[HTTPField.Name("X-Truncated")!] = "true"
            headers[HTTPField.Name("X-Next-After")!] = next.description
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Where a read starts: `since` (an RFC 3339 time, inclusive), `after` (the `X-Next-After` of
    /// the read before), or the beginning; never both.
    static func start(since: String?, after: String?) throws -> AttemptLogStart {
        switch (since, after) {
        case (.some, .some):
            throw APIError.badRequest("since and after are both given", hint: "start a read with since, go on with after alone")
        case (.some(let text), nil):
            guard let time = Timestamp(rfc3339: text) else {
                throw APIError.badRequest("since is not an RFC 3339 time", hint: "write it like 2024-01-17T09:30:00Z")
            }
            return .since(time)
        case (nil, .some(let text)):
            guard let position = AttemptLogPosition(text) else {
                throw APIError.badRequest(
                    "after is not a position in the attempt log", hint: "pass the X-Next-After header of the previous answer as it is")
            }
            return .after(position)
        case (nil, nil):
            return .beginning
        }
    }

    struct KeysAnswer: Encodable {
        struct Key: Encodable {
            let id: String
            let activeFrom: String
            let until: String?
            let status: String
            let fingerprint: String
            let createdAt: String?
            let revokedAt: String?
        }
        let today: String
        let timeZone: String
        let keyInUse: String?
        let keys: [Key]
    }

    /// The keyring's keys as `keys list --json` shows them, and the key that serves today in the default zone.
    func keys(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let ring = state.keySnapshot.keyring
        let zone = state.zones.defaultZone
        let today = zone.date(at: state.now)
        let keys = ring.keys.sorted { ($0.activeFrom, $0.id) < ($1.activeFrom, $1.id) }.map { key in
            KeysAnswer.Key(
                id: key.id.rawValue, activeFrom: key.activeFrom.description,
                until: key.isRevoked ? nil : ring.successorStart(of: key)?.description, status: ring.status(of: key, today: today).rawValue,
                fingerprint: KeyFingerprint(of: key.secret).description, createdAt: key.createdAt?.description,
                revokedAt: key.revokedAt?.description)
        }
        return JSONBody.response(
            KeysAnswer(
                today: today.description, timeZone: zone.description, keyInUse: (try? ring.key(for: today))?.id.rawValue, keys: keys))
    }
}
