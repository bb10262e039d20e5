import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import Testing

/// A connection that stops answering without closing: what a server that vanished without a reset
/// looks like, or the old address after a failover. The store must let go of it once a call misses
/// its deadline, or the pool's slots fill with calls that wait for TCP to give up (about 15 minutes).
@Suite("A PostgreSQL connection that stops answering", .enabled(if: TestPostgres.isAvailable))
struct PostgresSilentConnectionTests {
    let logger = Logger(label: "test")

    /// A TCP relay to the test server (`python3 -c relay TARGET_PORT FOLDER`; it writes its own
    /// port to FOLDER/port). Once FOLDER/freeze exists, every connection made before it stops
    /// passing bytes, either way, and is never closed; connections made after it pass as usual.
    static let relay = """
        import os, socket, sys, threading, time
        target, folder = int(sys.argv[1]), sys.argv[2]
        freeze = os.path.join(folder, "freeze")
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        with open(os.path.join(folder, "port.tmp"), "w") as f:
            f.write(str(server.getsockname()[1]))
        os.rename(os.path.join(folder, "port.tmp"), os.path.join(folder, "port"))
        def pump(source, sink, thawed):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    while not thawed and os.path.exists(freeze):
                        time.sleep(1)
                    sink.sendall(data)
            except OSError:
                pass
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        while True:
            client, _ = server.accept()
            upstream = socket.create_connection(("127.0.0.1", target))
            thawed = os.path.exists(freeze)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(source, sink, thawed), daemon=True).start()
        """

    @Test(
        "lets go of a connection that stopped answering once a call misses its deadline, so later calls get a new one",
        .timeLimit(.minutes(3)))
    func silentConnectionIsReplaced() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let folder = try TemporaryDirectory()
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        relay.arguments = ["-c", Self.relay, "\(location.port)", folder.path]
        try relay.run()
        defer {
            // SIGKILL: the test process may block SIGTERM, and a child inherits the mask.
            kill(relay.processIdentifier, SIGKILL)
            relay.waitUntilExit()
        }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = (try? String(contentsOfFile: folder.file("port"), encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        var through = location
        through.port = try #require(port, "the relay did not start")

        // One connection in the pool, so that one call held on it would hold the pool.
        let store = try await PostgresServiceStore.open(
            through, password: TestPostgres.password, maximumConnections: 1, attemptDeadline: .seconds(1), logger: logger)
        #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
        _ = try folder.write("freeze", "")
        // The connection no longer answers: the call misses its deadline (503 at the door).
        await #expect(throws: AttemptStoreError.self) {
            _ = try await store.begin(ServiceStoreContractTests.attempt("TBA000000000002"))
        }
        // Within a few deadlines a call is answered again, on a new connection.
        var counted: Int?
        let until = ContinuousClock.now + .seconds(30)
        while counted == nil && ContinuousClock.now < until {
            counted = try? await store.begin(ServiceStoreContractTests.attempt("TBA000000000003")).counted
        }
        #expect(counted != nil, "no call was answered within 30 s of the connection falling silent")
        await store.close()
    }

    @Test(
        "closes no more connections whose callers gave up than its budget, so a stalled server is not given a process per deadline",
        .timeLimit(.minutes(2)))
    func closesWithinBudget() async throws {
        let location = try PostgresLocation(TestPostgres.url!)
        let connections = [try await TestPostgres.connect(location), try await TestPostgres.connect(location)]
        let guarded = ClosedConnectionGuard(closeBudget: 1)
        for connection in connections {
            let call = Task {
                try await guarded.run(on: connection) { connection in
                    // Still running when its caller gives up, as a query on a stalled server.
                    try? await Task.sleep(for: .seconds(60))
                    return "late"
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            call.cancel()
            _ = try? await call.value
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(connections.map(\.isClosed) == [true, false])
        try await connections[1].close()
    }
}
