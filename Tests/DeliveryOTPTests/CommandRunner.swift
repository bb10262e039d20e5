import Foundation

/// Runs the built `delivery-otp` executable, as a user or a script would.
struct CommandRunner {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        /// From the start of the child until it has exited and its output is read: not the wait for
        /// a turn before it (``offPool(takingTurn:_:)``).
        var duration: Duration

        /// ``duration`` in whole milliseconds: how the kill tests size the window their kills land in.
        var milliseconds: Int { Int(duration / .milliseconds(1)) }
    }

    /// `swift test` builds the executable next to the test bundle.
    static let executable: String = {
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundleDirectory.appendingPathComponent("delivery-otp").path
    }()

    /// Runs another program (python3, sqlite3) the same way.
    @discardableResult
    static func runTool(_ path: String, _ arguments: [String]) async throws -> Result {
        try await run(arguments, program: path)
    }

    /// Runs the program to its end, waiting on a thread of its own (``offPool(takingTurn:_:)``), not
    /// on the thread of the test pool that called.
    ///
    /// - Parameters:
    ///   - takingTurn: false for a test with a time limit or a timer of its own: its child then
    ///     starts at once, so the wait for a turn cannot use up the limit.
    ///   - onStart: called once the child has started, to time something from its start.
    static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
        program: String = executable, takingTurn: Bool = true, onStart: @escaping @Sendable () -> Void = {}
    ) async throws -> Result {
        try await offPool(takingTurn: takingTurn) {
            try runToEnd(arguments, stdin: stdin, environment: environment, program: program, onStart: onStart)
        }
    }

    /// Runs the program to its end on the calling thread (for callers that cannot await: an
    /// initializer or a deinit; others use ``run(_:stdin:environment:program:takingTurn:onStart:)``).
    static func runToEnd(
        _ arguments: [String], stdin: String?, environment: [String: String], program: String, onStart: () -> Void
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        let started = ContinuousClock.now
        try process.run()
        onStart()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes fully before waiting, so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdoutData = Data()
        group.enter()
        DispatchQueue.global().async {
            stdoutData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self),
            duration: .now - started)
    }
}

/// Runs blocking work (a child process to its end, the sleeps of a kill loop) on a thread of its own
/// and awaits it.
///
/// Swift Testing runs tests on the concurrency pool, which has one thread per core: two on the CI
/// machine. A test that blocks a pool thread while a child runs holds up every other test's timers
/// and continuations. Under the sanitizers, blocked threads once made a PostgreSQL test's 10-s
/// deadline fire with nothing wrong in the store. Waiting here holds no pool thread.
///
/// Each job first takes a turn: at most one job per core holds one at once. Without turns every
/// test would start its children together, and they would share the same cores: the suite took
/// more than twice as long, and kill tests that size their windows by one run saw runs slowed by
/// the others. Turns are taken in no set order, and children started outside this function
/// (servers, a pipe's reader) take none. A test with a time limit passes `takingTurn: false`, so
/// that the wait for a turn is not counted against its limit.
func offPool<T: Sendable>(takingTurn: Bool = true, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            if takingTurn { turns.wait() }
            defer { if takingTurn { turns.signal() } }
            continuation.resume(with: Swift.Result { try work() })
        }
    }
}

private let turns = DispatchSemaphore(value: ProcessInfo.processInfo.activeProcessorCount)
