import Foundation
import Hummingbird

/// An error answer of the API: a status and the JSON body `{"error": "...", "hint": "..."}`.
/// Its text never holds a secret, a token or a typed code.
public struct APIError: HTTPResponseError, Sendable {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// One line saying what is wrong.
    public let error: String
    /// How to fix it, when there is something to say.
    public let hint: String?
    /// Extra headers (`Retry-After`, `WWW-Authenticate`).
    public let headers: HTTPFields

    /// An error answer.
    public init(_ status: HTTPResponse.Status, _ error: String, hint: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.hint = hint
        self.headers = headers
    }

    /// The JSON answer.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The body's bytes.
    var body: [UInt8] {
        var object: [String: String] = ["error": error]
        if let hint { object["hint"] = hint }
        return JSONBody.encode(object)
    }

    static func badRequest(_ error: String, hint: String? = nil) -> APIError { APIError(.badRequest, error, hint: hint) }

    static let unauthorized = APIError(
        .unauthorized, "no valid bearer token", hint: "send 'Authorization: Bearer TOKEN' with a token from 'delivery-otp tokens add'",
        headers: [.wwwAuthenticate: "Bearer"])

    static func forbidden(_ error: String, hint: String? = nil) -> APIError { APIError(.forbidden, error, hint: hint) }

    /// Any error a handler or middleware throws, as the API's JSON answer. Errors that are not
    /// the API's own say only their status: their text could hold anything.
    static func from(_ error: any Error, path: String = "") -> APIError {
        if let error = error as? APIError { return error }
        if let error = error as? HTTPError {
            switch error.status {
            case .notFound:
                // The router answers 404 for a known path with a method it does not take: that is 405.
                if let allowed = Self.methods(forPath: path) {
                    return APIError(.methodNotAllowed, "this endpoint takes \(allowed) only", headers: [.allow: allowed])
                }
                return APIError(.notFound, "no such endpoint", hint: "see openapi.yaml for the endpoints")
            case .methodNotAllowed: return APIError(.methodNotAllowed, "this endpoint does not take that method")
            case .unauthorized: return unauthorized
            case .forbidden: return forbidden("this token's role may not use this endpoint")
            case .contentTooLarge: return tooLarge
            default: return APIError(error.status, error.status.reasonPhrase.lowercased())
            }
        }
        if let error = error as? any HTTPResponseError {
            if error.status == .contentTooLarge { return tooLarge }
            return APIError(error.status, error.status.reasonPhrase.lowercased())
        }
        return APIError(.internalServerError, "internal error", hint: "the service log has the details")
    }

    /// The methods of a path the API serves, for `Allow`; nil for a path it does not serve.
    static func methods(forPath path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        switch path {
        case "/v1/codes", "/v1/manifests", "/v1/verify": return "POST"
        case "/v1/attempts": return "GET, POST"
        case "/v1/device-keys", "/v1/keys", "/healthz", "/readyz", "/metrics": return "GET"
        default:
            if parts.count == 5 && parts[1] == "v1" && parts[2] == "shipments" && !parts[3].isEmpty && parts[4] == "code" { return "GET" }
            return nil
        }
    }

    static let tooLarge = APIError(.contentTooLarge, "the request body is too large", hint: "split it into smaller requests")
}
