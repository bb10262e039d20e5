import DeliveryOTP
import Foundation
import Synchronization
import Testing

/// The built executable over real HTTP: a keyring and tokens made by the CLI, `serve` on a free
/// loopback port, and signals as an operator or a crash would send them.
@Suite("The service, live", .serialized)
struct ServiceLiveTests {
    /// A keyring (`keys init`) and a tokens file (`tokens add`) in a temporary folder.
    final class Setup: @unchecked Sendable {
        let folder = try! TemporaryDirectory()
        var keyring: String { folder.file("keyring.json") }
        var tokensFile: String { folder.file("tokens.json") }
        var state: String { folder.file("service.sqlite") }
        var tokens: [String: String] = [:]

        init() async throws {
            let made = try await CommandRunner.run(["keys", "init", "--keyring", keyring, "--active-from", "2024-01-01"])
            #expect(made.status == 0, "\(made.stderr)")
            for (name, role, extra) in [
                ("web", "issuer", [String]()), ("courier", "courier", ["--scope", ""]),
                ("van", "device", ["--scope", "", "--device-id", "van-9"]), ("audit", "auditor", []),
            ] {
                let added = try await CommandRunner.run(["tokens", "add", "--tokens", tokensFile, "--role", role, "--name", name] + extra)
                #expect(added.status == 0, "\(added.stderr)")
                tokens[name] = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }

        func start(_ extra: [String] = []) async throws -> LiveServer {
            try await LiveServer(
                ["--keyring", keyring, "--tokens", tokensFile, "--state", state] + extra, logPath: folder.file("serve-\(UUID()).log"))
        }

        var today: String { (try! DeliveryTimeZone("UTC")).date(at: .now).description }
    }

    @Test("Tokens are printed once, stored as digests in a 0600 file, listed without the token, and audited")
    func tokensCommand() async throws {
        let setup = try await Setup()
        let token = try #require(setup.tokens["web"])
        #expect(token.hasPrefix("dotp_") && token.count == 48)
        let file = try String(contentsOfFile: setup.tokensFile, encoding: .utf8)
        for token in setup.tokens.values { #expect(!file.contains(token)) }
        var info = stat()
        stat(setup.tokensFile, &info)
        #expect(info.st_mode & 0o777 == 0o600)
        let list = try await CommandRunner.run(["tokens", "list", "--tokens", setup.tokensFile])
        #expect(list.stdout.contains("web  issuer"))
        for token in setup.tokens.values { #expect(!list.stdout.contains(token) && !list.stderr.contains(token)) }
        let duplicate = try await CommandRunner.run(["tokens", "add", "--tokens", setup.tokensFile, "--role", "issuer", "--name", "web"])
        #expect(duplicate.status == 73)
        let noScope = try await CommandRunner.run(["tokens", "add", "--tokens", setup.tokensFile, "--role", "courier", "--name", "c2"])
        #expect(noScope.status == 64)
        #expect(noScope.stderr.contains("needs at least one --scope"))
        let badRole = try await CommandRunner.run(["tokens", "add", "--tokens", setup.tokensFile, "--role", "admin", "--name", "x"])
        #expect(badRole.status == 64)
        let revoke = try await CommandRunner.run(["tokens", "revoke", "--tokens", setup.tokensFile, "web"])
        #expect(revoke.status == 0)
        #expect(try await CommandRunner.run(["tokens", "revoke", "--tokens", setup.tokensFile, "web"]).status == 64)
        let audit = try String(contentsOfFile: setup.tokensFile + ".audit.jsonl", encoding: .utf8)
        #expect(audit.contains("\"operation\":\"token-add\"") && audit.contains("\"operation\":\"token-revoke\""))
        chmod(setup.tokensFile, 0o644)
        let exposed = try await CommandRunner.run(["tokens", "list", "--tokens", setup.tokensFile])
        #expect(exposed.status == 77)
        #expect(exposed.stderr.contains("\(setup.tokensFile) is readable by others (mode 0644)"), "\(exposed.stderr)")
    }

    @Test("Issue today's code, verify it once, then alreadyAccepted; five wrong codes lock another shipment")
    func issueAndVerify() async throws {
        let setup = try await Setup()
        let server = try await setup.start()
        let code = try await server.request("GET", "/v1/shipments/LIVE000000001/code?date=\(setup.today)", token: setup.tokens["web"])
        #expect(code.status == 200)
        let digits = try #require(code.json["code"] as? String)
        let courier = try #require(setup.tokens["courier"])
        func verify(_ shipment: String, _ typed: String) async throws -> [String: Any] {
            try await server.request(
                "POST", "/v1/verify", token: courier, body: "{\"shipmentId\": \"\(shipment)\", \"code\": \"\(typed)\"}"
            ).json
        }
        #expect(try await verify("LIVE000000001", digits)["outcome"] as? String == "accepted")
        #expect(try await verify("LIVE000000001", digits)["outcome"] as? String == "alreadyAccepted")
        let wrong = digits == "000000" ? "111111" : "000000"
        for _ in 0..<5 { #expect(try await verify("LIVE000000002", wrong)["outcome"] as? String == "rejected") }
        #expect(try await verify("LIVE000000002", wrong)["outcome"] as? String == "locked")
        for token in setup.tokens.values { #expect(!server.log.contains(token)) }
        #expect(!server.log.contains(digits) && !server.log.contains("LIVE000000001"))
        // One JSON line per request, with the route's pattern, the status and the token's name.
        let verifies = server.log.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
        }.filter { $0["event"] == "request" && $0["route"] == "/v1/verify" }
        #expect(verifies.count == 8)
        #expect(
            verifies.allSatisfy { $0["status"] == "200" && $0["token"] == "courier" && $0["level"] == "info" && $0["durationMs"] != nil })
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
    }

    @Test("Day keys from the service give the same codes as the service, through the CLI")
    func deviceKeysMatch() async throws {
        let setup = try await Setup()
        let server = try await setup.start()
        let keys = try await server.request("GET", "/v1/device-keys?days=1", token: setup.tokens["van"])
        #expect(keys.status == 200)
        let file = setup.folder.file("device.json")
        #expect(FileManager.default.createFile(atPath: file, contents: keys.body, attributes: [.posixPermissions: 0o600]))
        let offline = try await CommandRunner.run(["issue", "--device-keys", file, "--date", setup.today, "LIVE000000003"])
        #expect(offline.status == 0, "\(offline.stderr)")
        let online = try await server.request("GET", "/v1/shipments/LIVE000000003/code?date=\(setup.today)", token: setup.tokens["web"])
        #expect(online.json["code"] as? String == offline.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("A device's attempt log uploaded twice is stored once and read back by the auditor")
    func uploadTwice() async throws {
        let setup = try await Setup()
        let server = try await setup.start()
        let keys = try await server.request("GET", "/v1/device-keys", token: setup.tokens["van"])
        let file = setup.folder.file("device.json")
        #expect(FileManager.default.createFile(atPath: file, contents: keys.body, attributes: [.posixPermissions: 0o600]))
        let deviceState = setup.folder.file("device.sqlite")
        for _ in 0..<2 {
            _ = try await CommandRunner.run(["verify", "--device-keys", file, "--state", deviceState, "LIVE000000004", "999999"])
        }
        let log = try await CommandRunner.run(["attempts", "export", "--state", deviceState])
        #expect(log.stdout.split(separator: "\n").count == 2)
        let first = try await server.request(
            "POST", "/v1/attempts", token: setup.tokens["van"], body: log.stdout, contentType: "application/x-ndjson")
        #expect(first.json["new"] as? Int == 2)
        let second = try await server.request(
            "POST", "/v1/attempts", token: setup.tokens["van"], body: log.stdout, contentType: "application/x-ndjson")
        #expect(second.json["new"] as? Int == 0)
        let central = try await server.request("GET", "/v1/attempts", token: setup.tokens["audit"])
        #expect(central.text.split(separator: "\n").count == 2)
        #expect(!central.text.contains("999999"))
    }

    @Test("SIGHUP reloads a rotated keyring and revoked tokens; a broken keyring keeps the previous one")
    func reload() async throws {
        let setup = try await Setup()
        let server = try await setup.start()
        let tomorrow = (try! DeliveryTimeZone("UTC")).date(at: .now).adding(days: 1)!.description
        #expect(try await CommandRunner.run(["keys", "rotate", "--keyring", setup.keyring, "--active-from", tomorrow]).status == 0)
        server.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        let keys = try await server.request("GET", "/v1/keys", token: setup.tokens["audit"])
        #expect((keys.json["keys"] as? [Any])?.count == 2)
        #expect(try await CommandRunner.run(["tokens", "revoke", "--tokens", setup.tokensFile, "web"]).status == 0)
        server.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        let revoked = try await server.request("GET", "/v1/shipments/LIVE000000005/code?date=\(setup.today)", token: setup.tokens["web"])
        #expect(revoked.status == 401)
        try "{ not a keyring".write(toFile: setup.keyring, atomically: true, encoding: .utf8)
        chmod(setup.keyring, 0o600)
        server.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        let still = try await server.request("GET", "/v1/keys", token: setup.tokens["audit"])
        #expect((still.json["keys"] as? [Any])?.count == 2)
        #expect(server.log.split(separator: "\n").filter { $0.contains("reload failed") }.count == 1)
        let metrics = try await server.request("GET", "/metrics")
        #expect(metrics.text.contains("delivery_otp_reload_failures_total 1"))
    }

    @Test("SIGTERM with verifies in flight: every answer was recorded, and the process exits 0")
    func gracefulShutdown() async throws {
        let setup = try await Setup()
        let server = try await setup.start()
        let courier = try #require(setup.tokens["courier"])
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index == 20 { server.signal(SIGTERM) }
                    let reply = try? await server.request(
                        "POST", "/v1/verify", token: courier, body: "{\"shipmentId\": \"LIVE1\(1000 + index)\", \"code\": \"000001\"}")
                    return reply?.status == 200 && reply?.json["outcome"] as? String == "rejected" ? 1 : 0
                }
            }
            return try await group.reduce(0, +)
        }
        let status = await server.waitForExit()
        #expect(status == 0, "the end of the server's log: \(server.log.suffix(6000))")
        let restarted = try await setup.start()
        let log = try await restarted.request("GET", "/v1/attempts", token: setup.tokens["audit"])
        let stored = log.text.split(separator: "\n").filter { $0.contains("\"outcome\":\"rejected\"") }.count
        #expect(stored >= answered)
    }

    @Test(
        "stopped by SIGTERM just after a verify, twenty times in a row, the service exits 0 every time",
        .timeLimit(.minutes(5)))
    func repeatedShutdown() async throws {
        // Under AddressSanitizer, LeakSanitizer runs at exit. It once failed the service in some
        // shutdowns (exit status 1): the metrics were still alive, being released on a pool thread,
        // when the process exited, and held an array through a pointer LeakSanitizer cannot follow.
        let setup = try await Setup()
        let courier = try #require(setup.tokens["courier"])
        for index in 0..<20 {
            let server = try await setup.start()
            let reply = try await server.request(
                "POST", "/v1/verify", token: courier, body: "{\"shipmentId\": \"LIVE2\(1000 + index)\", \"code\": \"000001\"}")
            #expect(reply.json["outcome"] as? String == "rejected")
            server.signal(SIGTERM)
            let status = await server.waitForExit()
            #expect(status == 0, "shutdown \(index + 1): the end of the server's log: \(server.log.suffix(3000))")
        }
    }

    @Test("SIGKILL during a verify load, then restart: the store holds every attempt answered rejected")
    func killDuringLoad() async throws {
        let setup = try await Setup()
        let server = try await setup.start()
        let courier = try #require(setup.tokens["courier"])
        // The kill comes once 20 answers are in, while the other requests are still on their way.
        final class Counter: Sendable { let value = Locked(0) }
        let received = Counter()
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                // Answers, not failed requests: a slow build (a sanitizer's) must not be killed before it answers.
                let clock = ContinuousClock(), start = clock.now
                while received.value.withLock({ $0 }) < 20 && clock.now - start < .seconds(60) {
                    try await Task.sleep(for: .milliseconds(2))
                }
                server.signal(SIGKILL)
                return 0
            }
            for index in 0..<400 {
                group.addTask {
                    let reply = try? await server.request(
                        "POST", "/v1/verify", token: courier, body: "{\"shipmentId\": \"LIVE2\(1000 + index % 50)\", \"code\": \"000001\"}")
                    if reply != nil { received.value.withLock { $0 += 1 } }
                    return reply?.json["outcome"] as? String == "rejected" ? 1 : 0
                }
            }
            return try await group.reduce(0, +)
        }
        _ = await server.waitForExit()
        let restarted = try await setup.start()
        let log = try await restarted.request("GET", "/v1/attempts", token: setup.tokens["audit"])
        let counted = log.text.split(separator: "\n").filter {
            $0.contains("\"outcome\":\"rejected\"") || $0.contains("\"outcome\":\"interrupted\"")
        }
        #expect(answered > 0)
        #expect(counted.count >= answered)
    }

    @Test("The example keys and tokens are served only with --allow-example-keys")
    func exampleKeys() async throws {
        let folder = try TemporaryDirectory()
        let refused = try await CommandRunner.run([
            "serve", "--keyring", Repository.path("keys-example/keyring.json"), "--tokens", Repository.path("keys-example/tokens.json"),
            "--state", folder.file("s.sqlite"), "--listen", "127.0.0.1:0",
        ])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("example"))
        let setup = try await Setup()
        let mixed = try await CommandRunner.run([
            "serve", "--keyring", setup.keyring, "--tokens", Repository.path("keys-example/tokens.json"), "--state", setup.state,
            "--listen", "127.0.0.1:0",
        ])
        #expect(mixed.status == 65)
        #expect(mixed.stderr.contains("example tokens"))
        // Even when told to allow the examples: published tokens beside real keys would open them to anyone.
        let allowed = try await CommandRunner.run([
            "serve", "--keyring", setup.keyring, "--tokens", Repository.path("keys-example/tokens.json"), "--state", setup.state,
            "--listen", "127.0.0.1:0", "--allow-example-keys",
        ])
        #expect(allowed.status == 65)
        #expect(allowed.stderr.contains("keyring is not the example"))
    }

    @Test("--event-loops sets how many threads serve the connections, and a count outside 1 to 64 is refused")
    func eventLoops() async throws {
        let setup = try await Setup()
        for count in [1, 3] {
            let server = try await setup.start(["--event-loops", "\(count)"])
            #expect(try await server.request("GET", "/healthz").status == 200)
            #expect(Self.eventLoopThreads(of: server.process.processIdentifier) == count)
            server.signal(SIGTERM)
            #expect(await server.waitForExit() == 0)
        }
        for wrong in ["0", "65"] {
            let refused = try await CommandRunner.run([
                "serve", "--keyring", setup.keyring, "--tokens", setup.tokensFile, "--state", setup.state, "--listen", "127.0.0.1:0",
                "--event-loops", wrong,
            ])
            #expect(refused.status == 64)
            #expect(refused.stderr.contains("--event-loops must be 1 to 64, not \(wrong)"), "\(refused.stderr)")
        }
    }

    /// The threads of SwiftNIO's shared event loops in process `pid` (named `NIO-SGLTN-G-#N`).
    static func eventLoopThreads(of pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix("NIO-SGLTN-")
        }.count
    }
}
