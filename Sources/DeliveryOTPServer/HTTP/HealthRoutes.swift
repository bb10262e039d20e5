import DeliveryOTP
import Hummingbird

/// `/healthz`, `/readyz` and `/metrics`: no token.
struct HealthRoutes {
    let state: ServiceState
    /// The store's check, shared by the requests that ask at once (``ReadinessProbe``).
    let readiness: ReadinessProbe

    struct Status: Encodable {
        let status: String
        let reason: String?
    }

    func live(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        JSONBody.response(Status(status: "ok", reason: nil))
    }

    /// Ready when the keyring has a key for today (default zone) and the store can record a verify.
    func ready(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let today = state.zones.defaultZone.date(at: state.now)
        if (try? state.keySnapshot.keyring.key(for: today)) == nil {
            return JSONBody.response(Status(status: "unavailable", reason: "the keyring has no key for today"), status: .serviceUnavailable)
        }
        guard await readiness.isReady() else {
            return JSONBody.response(
                Status(status: "unavailable", reason: "the attempt store cannot record a verify now"), status: .serviceUnavailable)
        }
        return JSONBody.response(Status(status: "ready", reason: nil))
    }

    func metrics(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        state.refreshKeyInUse()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: state.metrics.render())))
    }
}
