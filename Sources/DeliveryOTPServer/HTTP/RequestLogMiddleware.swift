import DeliveryOTP
import Foundation
import Hummingbird
import Logging
import Synchronization

/// Which token a request used, written by the authenticator and read by the log line: the
/// context an inner middleware changes is a copy, so the name travels in this shared box.
final class RequestCaller: Sendable {
    private let name = Locked<String?>(nil)
    var value: String? {
        get { name.withLock { $0 } }
        set { name.withLock { $0 = newValue } }
    }
}

/// The outermost middleware: turns every error into the API's JSON answer, then writes one log
/// line (route pattern, method, status, duration, token name) and the request metrics. Never a
/// token, a shipment ID, a code or a key: routes are logged as patterns (`/v1/shipments/{id}/code`).
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let metrics: ServiceMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let answer = APIError.from(error, path: request.uri.path)
            if answer.status == .internalServerError {
                // The type only: an unknown error's text could carry anything.
                logger.error("unexpected error", metadata: ["event": "error", "type": .string(String(describing: type(of: error)))])
            }
            response = try answer.response(from: request, context: context)
        }
        let duration = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        metrics.request(route: route, method: method, status: response.status.code, duration: duration)
        var metadata: Logger.Metadata = [
            "event": "request", "route": .string(route), "method": .string(method), "status": .stringConvertible(response.status.code),
            "durationMs": .string(Self.milliseconds(duration)),
        ]
        if let caller = context.caller.value { metadata["token"] = .string(caller) }
        logger.info("request", metadata: metadata)
        return response
    }

    /// `1.234`: milliseconds with three decimals, without a formatter.
    static func milliseconds(_ duration: Duration) -> String {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        let fraction = micros % 1000
        return "\(micros / 1000).\(fraction < 10 ? "00" : fraction < 100 ? "0" : "")\(fraction)"
    }
}
