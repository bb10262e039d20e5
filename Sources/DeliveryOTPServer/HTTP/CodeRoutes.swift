import DeliveryOTP
import Foundation
import Hummingbird

/// `GET /v1/shipments/{id}/code` and `POST /v1/codes`: codes for the account page and the e-mail system.
struct CodeRoutes {
    let state: ServiceState

    struct BatchRequest: Decodable {
        let date: String
        let scope: String?
        let shipmentIds: [String]
    }

    struct BatchAnswer: Encodable {
        struct Issued: Encodable {
            let index: Int
            let shipmentId: String
            let code: String
        }
        struct Invalid: Encodable {
            let index: Int
            let error: String
        }
        let deliveryDate: String
        let scope: String
        let keyId: String
        let validUntil: String
        let codes: [Issued]
        let invalid: [Invalid]
    }

    /// The generator for a date a code may be fetched for: not before today (410, expired),
    /// not more than the configured days ahead (422).
    private func generator(scope: Scope, date: DeliveryDate) throws -> (CodeGenerator, KeyID, DeliveryTimeZone) {
        let zone = state.zones.zone(of: scope)
        let today = zone.date(at: state.now)
        if date < today {
            throw APIError(
                .gone, "the code for \(date) has expired (today is \(today) in \(zone))",
                hint: "a rescheduled delivery gets a new code for its new date")
        }
        let ahead = state.configuration.limits.issueAheadDays
        if let last = today.adding(days: ahead), date > last {
            throw APIError(
                .unprocessableContent, "\(date) is more than \(ahead) days ahead of today (\(today) in \(zone))",
                hint: "fetch the code on or shortly before the delivery day")
        }
        do {
            let (generator, keyID) = try state.keySnapshot.generator(scope: scope, date: date)
            return (generator, keyID, zone)
        } catch {
            throw APIError(
                .serviceUnavailable, "the keyring has no key for \(date)", hint: "the security team must schedule a key (keys rotate)")
        }
    }

    func code(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        // A path segment arrives percent-encoded; the ID is what it encodes.
        guard let raw = context.parameters.get("id"), let decoded = raw.utf8.contains(UInt8(ascii: "%")) ? raw.removingPercentEncoding : raw
        else {
            throw APIError.badRequest("the shipment ID in the path is not valid percent-encoding")
        }
        let shipment = try RequestInput.shipment(decoded)
        let date = try RequestInput.requiredDate(request.uri.queryParameters.get("date"), name: "date")
        let scope = try RequestInput.scope(request.uri.queryParameters.get("scope"), for: token)
        let (generator, keyID, zone) = try generator(scope: scope, date: date)
        return JSONBody.object([
            ("shipmentId", .string(shipment.rawValue)), ("deliveryDate", .string(date.description)), ("scope", .string(scope.rawValue)),
            ("code", .string(generator.code(for: shipment).description)), ("keyId", .string(keyID.rawValue)),
            ("validUntil", .string(state.validUntil(date, in: zone))),
        ])
    }

    func batch(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let token = try RequestInput.identity(context)
        let body = try await JSONBody.decode(BatchRequest.self, from: request, limit: state.configuration.limits.maximumBodyBytes)
        let date = try RequestInput.requiredDate(body.date, name: "date")
        let scope = try RequestInput.scope(body.scope, for: token)
        let limit = state.configuration.limits.maximumBatch
        guard body.shipmentIds.count <= limit else {
            throw APIError.badRequest("\(body.shipmentIds.count) shipment IDs; at most \(limit) per request", hint: "split the batch")
        }
        let (generator, keyID, zone) = try generator(scope: scope, date: date)
        var codes: [BatchAnswer.Issued] = []
        var invalid: [BatchAnswer.Invalid] = []
        codes.reserveCapacity(body.shipmentIds.count)
        for (index, text) in body.shipmentIds.enumerated() {
            do {
                let shipment = try ShipmentID(text)
                codes.append(.init(index: index, shipmentId: text, code: generator.code(for: shipment).description))
            } catch {
                invalid.append(.init(index: index, error: error.description))
            }
        }
        return JSONBody.response(
            BatchAnswer(
                deliveryDate: date.description, scope: scope.rawValue, keyId: keyID.rawValue, validUntil: state.validUntil(date, in: zone),
                codes: codes, invalid: invalid))
    }
}
