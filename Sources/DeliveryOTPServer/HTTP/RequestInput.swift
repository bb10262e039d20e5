import DeliveryOTP
import Hummingbird

/// Reading the values of a request at the edge: each bad value is a 400 that names it.
enum RequestInput {
    static func shipment(_ text: String?, name: String = "shipment ID") throws -> ShipmentID {
        guard let text, !text.isEmpty else { throw APIError.badRequest("the \(name) is missing") }
        do { return try ShipmentID(text) } catch {
            throw APIError.badRequest(error.description, hint: error.hint)
        }
    }

    static func date(_ text: String?, name: String) throws -> DeliveryDate? {
        guard let text else { return nil }
        do { return try DeliveryDate(text) } catch {
            throw APIError.badRequest("invalid \(name): \(error)", hint: "write the date as YYYY-MM-DD")
        }
    }

    static func requiredDate(_ text: String?, name: String) throws -> DeliveryDate {
        guard let date = try date(text, name: name) else {
            throw APIError.badRequest("\(name) is missing", hint: "add \(name)=YYYY-MM-DD")
        }
        return date
    }

    static func scope(_ text: String?) throws -> Scope? {
        guard let text else { return nil }
        do { return try Scope(text) } catch { throw APIError.badRequest("invalid scope: \(error)", hint: error.hint) }
    }

    /// The scope a request acts in: the one it names, else the token's only scope, else the empty
    /// scope for a token bound to none. A scope the token is not bound to is 403.
    static func scope(_ text: String?, for token: TokenEntry) throws -> Scope {
        let scope: Scope
        if let named = try self.scope(text) {
            scope = named
        } else if token.scopes.count == 1 {
            scope = token.scopes[0]
        } else if token.scopes.isEmpty {
            scope = .empty
        } else {
            throw APIError.badRequest("the scope is missing", hint: "this token is bound to several scopes: name one")
        }
        guard token.allows(scope) else {
            throw APIError.forbidden("this token is not bound to scope \(scope.rawValue.isEmpty ? "(empty)" : scope.rawValue)")
        }
        return scope
    }

    static func identity(_ context: ServiceRequestContext) throws -> TokenEntry {
        guard let identity = context.identity else { throw APIError.unauthorized }
        return identity
    }
}
