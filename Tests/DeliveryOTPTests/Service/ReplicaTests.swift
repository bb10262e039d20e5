import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Synchronization
import Testing

/// Several `serve` processes on one PostgreSQL database, over real HTTP: the attempt limit holds
/// across replicas, a killed replica loses nothing it answered, and an outage of the database is
/// answered 503, never with an unrecorded verdict.
@Suite("Replicas on one PostgreSQL database", .serialized, .enabled(if: TestPostgres.isAvailable))
struct ReplicaTests {
    /// A keyring and tokens (as in the live tests) and a fresh database; the password in a 0600 file.
    final class Setup: @unchecked Sendable {
        let files: ServiceLiveTests.Setup
        let url: String
        let passwordFile: String

        init(url: String, password: String) async throws {
            files = try await ServiceLiveTests.Setup()
            self.url = url
            passwordFile = try files.folder.write("pgpassword", password + "\n")
        }

        func start() async throws -> LiveServer {
            try await LiveServer(
                ["--keyring", files.keyring, "--tokens", files.tokensFile, "--state", url, "--database-password-file", passwordFile],
                logPath: files.folder.file("serve-\(UUID()).log"))
        }

        var courier: String { files.tokens["courier"]! }

        func verify(_ server: LiveServer, _ shipment: String, _ code: String) async -> LiveServer.Reply? {
            try? await server.request(
                "POST", "/v1/verify", token: courier, body: "{\"shipmentId\": \"\(shipment)\", \"code\": \"\(code)\"}")
        }

        /// The central attempt log, through `server`, as (shipment, outcome) pairs.
        func log(_ server: LiveServer) async throws -> [(String, String)] {
            let reply: LiveServer.Reply
            do { reply = try await server.request("GET", "/v1/attempts?limit=100000", token: files.tokens["audit"]) } catch {
                // The server's own last words say why it did not answer.
                throw TestPostgresError("\(error); the end of the server's log: \(server.log.suffix(3000))")
            }
            return reply.text.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let shipment = object["shipmentId"] as? String, let outcome = object["outcome"] as? String
                else { return nil }
                return (shipment, outcome)
            }
        }
    }

    static func freshSetup() async throws -> (Setup, PostgresLocation) {
        let location = try await TestPostgres.freshDatabase()
        var url = TestPostgres.url!
        url = String(url[..<url.lastIndex(of: "/")!]) + "/" + location.database
        return (try await Setup(url: url, password: TestPostgres.password ?? ""), location)
    }

    @Test(
        "100 parallel wrong codes for one shipment, split between two replicas, give exactly the limit of rejections; then even the right code is locked"
    )
    func sharedLimit() async throws {
        let (setup, location) = try await Self.freshSetup()
        defer { Task { await TestPostgres.drop(location) } }
        let first = try await setup.start(), second = try await setup.start()
        let issued = try await first.request(
            "GET", "/v1/shipments/REPLICA0000001/code?date=\(setup.files.today)", token: setup.files.tokens["web"])
        let right = try #require(issued.json["code"] as? String)
        let wrong = right == "000000" ? "111111" : "000000"
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<100 {
                group.addTask {
                    let reply = await setup.verify(index % 2 == 0 ? first : second, "REPLICA0000001", wrong)
                    return reply?.json["outcome"] as? String ?? "failed \(reply?.status ?? 0)"
                }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes == ["rejected": 5, "locked": 95])
        for server in [first, second] {
            #expect(await setup.verify(server, "REPLICA0000001", right)?.json["outcome"] as? String == "locked")
        }
        let stored = try await setup.log(second).filter { $0.0 == "REPLICA0000001" }.map(\.1)
        #expect(stored.filter { $0 == "rejected" }.count == 5 && stored.filter { $0 == "locked" }.count == 97)
        print("two replicas, 100 parallel wrong verifies, limit 5: \(outcomes); stored: \(stored.count) attempts")
        // Both stop cleanly on SIGTERM: under AddressSanitizer this is where LeakSanitizer checks
        // a PostgreSQL-backed service, alive at exit with all it holds.
        for server in [first, second] {
            server.signal(SIGTERM)
            let status = await server.waitForExit()
            #expect(status == 0, "the end of the replica's log: \(server.log.suffix(3000))")
        }
    }

    @Test("SIGKILL one replica during a verify load: every rejection a client received is stored, and the other replica keeps serving")
    func killOneReplica() async throws {
        let (setup, location) = try await Self.freshSetup()
        defer { Task { await TestPostgres.drop(location) } }
        let victim = try await setup.start(), survivor = try await setup.start()
        final class Counter: Sendable { let value = Locked(0) }
        let received = Counter()
        // Per shipment, the rejections each client saw; the kill comes once 30 answers are in.
        let answers = await withTaskGroup(of: (String, String, Bool)?.self) { group in
            group.addTask {
                while received.value.withLock({ $0 }) < 30 { try? await Task.sleep(for: .milliseconds(2)) }
                victim.signal(SIGKILL)
                return nil
            }
            for index in 0..<400 {
                group.addTask {
                    let shipment = "KILL\(10_000_000 + index % 40)"
                    let server = index % 2 == 0 ? victim : survivor
                    let reply = await setup.verify(server, shipment, "000001")
                    received.value.withLock { $0 += 1 }
                    return (shipment, reply?.json["outcome"] as? String ?? "none", server === survivor)
                }
            }
            return await group.reduce(into: [(String, String, Bool)]()) { if let answer = $1 { $0.append(answer) } }
        }
        _ = await victim.waitForExit()
        let stored = try await setup.log(survivor)
        var rejectedAnswers: [String: Int] = [:], storedCounted: [String: Int] = [:]
        for (shipment, outcome, _) in answers where outcome == "rejected" { rejectedAnswers[shipment, default: 0] += 1 }
        for (shipment, outcome) in stored where outcome == "rejected" || outcome == "interrupted" {
            storedCounted[shipment, default: 0] += 1
        }
        #expect(!rejectedAnswers.isEmpty)
        for (shipment, count) in rejectedAnswers { #expect(storedCounted[shipment, default: 0] >= count, "\(shipment)") }
        // Every request to the survivor was answered, and it still answers after the kill.
        #expect(answers.filter { $0.2 && $0.1 == "none" }.isEmpty)
        #expect(await setup.verify(survivor, "KILL20000000", "000001")?.json["outcome"] as? String == "rejected")
        print("SIGKILL of one replica: \(answers.count) answers, \(rejectedAnswers.values.reduce(0, +)) rejected, all stored")
    }

    @Test(
        "PostgreSQL stopped or crashed during a verify load: verifies answer 503, issuing goes on, both recover, every verdict given is stored",
        arguments: ["stopped", "crashed"])
    func databaseOutage(how: String) async throws {
        let database = try await PrivatePostgres.start()
        let setup = try await Setup(url: database.url, password: database.password)
        let server = try await setup.start()
        let today = setup.files.today
        #expect(await setup.verify(server, "OUTAGE00000001", "000001")?.json["outcome"] as? String == "rejected")
        final class Flag: Sendable { let value = Locked(false) }
        let stop = Flag()
        // A steady verify load across the outage; every answer is kept.
        let load = Task {
            var answers: [(String, Int, String?)] = []
            var index = 0
            while !stop.value.withLock({ $0 }) {
                let shipment = "OUTAGE\(10_000_000 + index % 20)"
                index += 1
                let reply = await setup.verify(server, shipment, "000001")
                answers.append((shipment, reply?.status ?? 0, reply?.json["outcome"] as? String))
            }
            return answers
        }
        try await Task.sleep(for: .milliseconds(500))
        // A crash (immediate stop) keeps only what reached the WAL on disk: the answered verdicts must be among it.
        if how == "crashed" { try await database.crash() } else { try await database.pause() }
        try await Task.sleep(for: .seconds(5))
        let during = await setup.verify(server, "OUTAGE00000002", "000001")
        // A replica that died with the database would take its reason with it: its log says it.
        if !server.process.isRunning { stop.value.withLock { $0 = true } }
        try #require(server.process.isRunning, "serve ended (\(server.ending)); its log: \(server.log.suffix(3000))")
        #expect(during?.status == 503)
        #expect(during?.json["hint"] as? String != nil)
        #expect(try await server.request("GET", "/readyz").status == 503)
        let code = try await server.request("GET", "/v1/shipments/OUTAGE00000003/code?date=\(today)", token: setup.files.tokens["web"])
        #expect(code.status == 200)
        try await database.resume()
        var recovered = false
        for _ in 0..<60 where !recovered {
            recovered = await setup.verify(server, "OUTAGE00000004", "000001")?.status == 200
            if !recovered { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(recovered)
        #expect(try await server.request("GET", "/readyz").status == 200)
        stop.value.withLock { $0 = true }
        let answers = await load.value
        // Only two kinds of answer: a verdict, or 503. Every verdict given is stored.
        #expect(answers.allSatisfy { $0.1 == 200 || $0.1 == 503 })
        #expect(answers.contains { $0.1 == 503 } && answers.contains { $0.1 == 200 })
        let stored = try await setup.log(server)
        var given: [String: Int] = [:], kept: [String: Int] = [:]
        for (shipment, status, outcome) in answers where status == 200 && outcome == "rejected" { given[shipment, default: 0] += 1 }
        for (shipment, outcome) in stored where outcome == "rejected" || outcome == "interrupted" { kept[shipment, default: 0] += 1 }
        for (shipment, count) in given { #expect(kept[shipment, default: 0] >= count, "\(shipment)") }
        let unavailable = server.log.split(separator: "\n").filter { $0.contains("\"event\":\"store-unavailable\"") }
        #expect(!unavailable.isEmpty && server.log.contains("\"event\":\"store-available\""))
        print(
            "PostgreSQL outage: \(answers.filter { $0.1 == 503 }.count) answers 503, \(answers.filter { $0.1 == 200 }.count) verdicts, all stored"
        )
        try await database.stop()
    }
}
