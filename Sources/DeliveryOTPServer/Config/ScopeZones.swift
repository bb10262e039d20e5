import DeliveryOTP
import Foundation

/// Which time zone each scope delivers in: today's date and a code's `validUntil` follow it.
/// Scopes not listed use the default zone.
///
/// The file (`serve --scopes FILE`) is a JSON object:
/// `{"default": "Europe/Berlin", "scopes": {"BER-1": "Europe/Berlin", "NYC-2": "America/New_York"}}`.
public struct ScopeZones: Sendable {
    /// The zone of scopes the file does not list.
    public let defaultZone: DeliveryTimeZone
    /// The listed scopes.
    public let zones: [Scope: DeliveryTimeZone]

    /// Every scope in `defaultZone`, except those in `zones`.
    public init(defaultZone: DeliveryTimeZone, zones: [Scope: DeliveryTimeZone] = [:]) {
        self.defaultZone = defaultZone
        self.zones = zones
    }

    /// The zone of `scope`.
    public func zone(of scope: Scope) -> DeliveryTimeZone { zones[scope] ?? defaultZone }

    private struct Document: Decodable {
        var `default`: String
        var scopes: [String: String]?
    }

    /// Reads a scopes file; errors name the file and the entry.
    public static func load(path: String) throws(ScopeZonesError) -> ScopeZones {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ScopeZonesError("cannot read \(path)")
        }
        guard data.count <= 1 << 20 else { throw ScopeZonesError("\(path) is larger than 1 MiB") }
        let found = data.withUnsafeBytes { JSONDuplicateMembers.check($0) }
        if found != nil { throw ScopeZonesError("\(path) is not one JSON object with each member once") }
        let document: Document
        do { document = try JSONDecoder().decode(Document.self, from: data) } catch {
            throw ScopeZonesError("\(path) is not a scopes file: it needs \"default\" (a time zone) and may have \"scopes\"")
        }
        let defaultZone: DeliveryTimeZone
        do { defaultZone = try DeliveryTimeZone(document.default) } catch {
            throw ScopeZonesError("\(path): default: \(error)")
        }
        var zones: [Scope: DeliveryTimeZone] = [:]
        for (name, zone) in document.scopes ?? [:] {
            let scope: Scope
            do { scope = try Scope(name) } catch { throw ScopeZonesError("\(path): scope \(name.debugDescription): \(error)") }
            do { zones[scope] = try DeliveryTimeZone(zone) } catch { throw ScopeZonesError("\(path): scope \(name): \(error)") }
        }
        return ScopeZones(defaultZone: defaultZone, zones: zones)
    }
}

/// The scopes file could not be used.
public struct ScopeZonesError: DeliveryOTPError, Hashable {
    /// One line naming the file and the problem.
    public let description: String
    init(_ description: String) { self.description = description }
    /// How to fix it.
    public var hint: String? { "write {\"default\": \"Europe/Berlin\", \"scopes\": {\"SCOPE\": \"IANA/Zone\"}}" }
}
