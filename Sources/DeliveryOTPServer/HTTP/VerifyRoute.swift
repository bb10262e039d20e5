import DeliveryOTP
import Hummingbird

/// `POST /v1/verify`: a courier online checks a code for today, against the one shared attempt
/// limit. As on a device (SPEC.md §9): input that is not six digits counts nothing (400); the
/// attempt is committed durably first and only then is the code compared, in constant time; the
/// last attempt the limit allows locks the shipment for the day.
struct VerifyRoute {
    let state: ServiceState
    let store: any ServiceStore

    struct VerifyRequest: StringMembersDecodable {
        let shipmentId: String
        let code: String
        let scope: String?

        /// Every member, so that a test can check that ``init(stringMembers:)`` reads each one.
        enum CodingKeys: String, CodingKey, CaseIterable {
            case shipmentId, code, scope
        }

        init?(stringMembers: [(name: String, value: String)]) {
            var shipmentId: String?, code: String?, scope: String?
            for (name, value) in stringMembers {
                switch name {
                case "shipmentId": shipmentId = value
                case "code": code = value
                case "scope": scope = value
                default: continue
                }
            }
            guard let shipmentId, let code else { return nil }
            (self.shipmentId, self.code, self.scope) = (shipmentId, code, scope)
        }
    }

    struct VerifyAnswer {
        let outcome: String
        let attemptsLeft: Int
        let acceptedAt: String?
    }

    func verify(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        let body = try await JSONBody.decode(VerifyRequest.self, from: request, limit: 16 << 10)
        let shipment = try RequestInput.shipment(body.shipmentId, name: "shipmentId")
        let scope = try RequestInput.scope(body.scope, for: token)
        let now = state.now
        let zone = state.zones.zone(of: scope)
        let today = zone.date(at: now)
        let generator: CodeGenerator
        do { generator = try state.keySnapshot.generator(scope: scope, date: today).0 } catch {
            throw APIError(.serviceUnavailable, "the keyring has no key for today, \(today)", hint: "the security team must schedule a key")
        }
        // Never echoed, logged or counted: what was typed.
        guard let code = DeliveryCode(typed: body.code) else {
            throw APIError.badRequest("the code is not six digits; nothing was counted", hint: "send the six digits the customer shows")
        }
        let limit = state.configuration.limits.attemptLimit
        let admission: AttemptAdmission
        do {
            admission = try await store.begin(
                OnlineAttempt(shipment: shipment, date: today, scope: scope, limit: limit, caller: token.name, time: now))
        } catch {
            throw Self.unavailable(error)
        }
        let answer: VerifyAnswer
        switch admission {
        case .locked:
            answer = VerifyAnswer(outcome: "locked", attemptsLeft: 0, acceptedAt: nil)
        case .alreadyAccepted(let time):
            answer = VerifyAnswer(outcome: "alreadyAccepted", attemptsLeft: 0, acceptedAt: zone.format(time))
        case .counted(let ticket, let number):
            let accepted = generator.verify(code, for: shipment) == .accepted
            // An accepted verdict is durable before the answer (it records the handover). A rejected one
            // rides on the next group commit: if it is lost, the attempt stays counted as interrupted,
            // which the limit treats the same, so its answer need not wait for another fsync.
            do { try await store.finish(ticket, accepted: accepted, at: now, waitForDurability: accepted) } catch {
                // The attempt is counted (and, if it was the last one allowed, the lock is durable);
                // only its verdict is missing, so say so rather than "nothing was counted".
                throw APIError(
                    .serviceUnavailable, "the attempt was counted but its verdict could not be stored",
                    hint: "try again shortly; the attempt store reports: \(error.kind)", headers: [.retryAfter: "1"])
            }
            if number >= limit && !accepted { state.metrics.lockout() }
            answer =
                accepted
                ? VerifyAnswer(outcome: "accepted", attemptsLeft: max(0, limit - number), acceptedAt: zone.format(now))
                : VerifyAnswer(outcome: "rejected", attemptsLeft: max(0, limit - number), acceptedAt: nil)
        }
        state.metrics.verify(outcome: answer.outcome)
        var fields: [(String, JSONText.Scalar)] = [("outcome", .string(answer.outcome)), ("attemptsLeft", .integer(answer.attemptsLeft))]
        if let acceptedAt = answer.acceptedAt { fields.append(("acceptedAt", .string(acceptedAt))) }
        return JSONBody.object(fields)
    }

    /// A store failure: 503, never an answer without a record.
    static func unavailable(_ error: AttemptStoreError) -> APIError {
        switch error.kind {
        case .clockMovedBack:
            APIError(
                .serviceUnavailable, "the service clock is behind the latest attempt; nothing was counted", hint: "fix the server's clock")
        default:
            APIError(
                .serviceUnavailable, "the attempt store is unavailable; nothing was decided", hint: "try again shortly",
                headers: [.retryAfter: "1"])
        }
    }
}
