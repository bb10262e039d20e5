import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging

/// A service over temporary files: the example keyring (copied, mode 0600), a tokens file with one
/// token per role, a SQLite store, and a fixed clock (2024-01-17 10:00 UTC unless a test sets one).
final class ServiceHarness: @unchecked Sendable {
    let folder: TemporaryDirectory
    let keyringPath: String
    let tokensPath: String
    let statePath: String
    var tokens: [String: String] = [:]
    let service: DeliveryOTPService
    let store: SQLiteServiceStore

    static let today = "2024-01-17"
    static let noon = Timestamp(rfc3339: "2024-01-17T10:00:00Z")!

    init(
        limits: ServiceLimits = .default, now: Timestamp = ServiceHarness.noon, scopes: String? = nil, temporaryFolder: String? = nil
    ) throws {
        let folder = try TemporaryDirectory()
        self.folder = folder
        keyringPath = try folder.write(
            "keyring.json", String(contentsOfFile: Repository.path("keys-example/keyring.json"), encoding: .utf8))
        tokensPath = folder.file("tokens.json")
        statePath = folder.file("service.sqlite")
        let file = TokenFile(path: folder.file("tokens.json"))
        var tokens: [String: String] = [:]
        let roles: [(String, Role, [Scope], DeviceID?)] = [
            ("web", .issuer, [], nil), ("courier-a", .courier, [.empty, try Scope("A")], nil),
            ("courier-b", .courier, [try Scope("B")], nil), ("van-1", .device, [.empty], try DeviceID("van-1")),
            ("audit", .auditor, [], nil), ("issuer-b", .issuer, [try Scope("B")], nil),
        ]
        for (name, role, scopes, device) in roles {
            tokens[name] = try file.add(name: DeviceID(name), role: role, scopes: scopes, deviceID: device, now: now).token
        }
        self.tokens = tokens
        let scopesPath = try scopes.map { try folder.write("scopes.json", $0) }
        let configuration = ServiceConfiguration(
            keyringPath: keyringPath, tokensPath: tokensPath, scopesPath: scopesPath, defaultZone: try DeliveryTimeZone("UTC"),
            limits: limits, allowExampleKeys: true, clock: { now }, temporaryFolder: temporaryFolder)
        let metrics = ServiceMetrics()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let state = try ServiceState(configuration: configuration, metrics: metrics, logger: logger)
        store = try SQLiteServiceStore(path: statePath, onBatch: { metrics.groupCommit($0) })
        service = DeliveryOTPService(state: state, store: store, logger: logger)
    }

    /// Runs `body` against the router, in process (HummingbirdTesting's router mode).
    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(router: service.router())
        let value = try await app.test(.router) { client in try await body(client) }
        await store.close()
        return value
    }

    func headers(_ token: String?) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let token { fields[.authorization] = "Bearer \(tokens[token] ?? token)" }
        return fields
    }
}

extension TestResponse {
    /// The body as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }
    var text: String { String(decoding: body.readableBytesView, as: UTF8.self) }
}

extension TestClientProtocol {
    func get(_ uri: String, _ harness: ServiceHarness, token: String?) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: harness.headers(token))
    }

    func post(_ uri: String, _ harness: ServiceHarness, token: String?, json: String, contentType: String = "application/json")
        async throws -> TestResponse
    {
        var headers = harness.headers(token)
        headers[.contentType] = contentType
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func verify(_ harness: ServiceHarness, token: String = "courier-a", shipment: String, code: String, scope: String? = nil)
        async throws -> TestResponse
    {
        let scopeMember = scope.map { ", \"scope\": \"\($0)\"" } ?? ", \"scope\": \"\""
        return try await post(
            "/v1/verify", harness, token: token, json: "{\"shipmentId\": \"\(shipment)\", \"code\": \"\(code)\"\(scopeMember)}")
    }
}
