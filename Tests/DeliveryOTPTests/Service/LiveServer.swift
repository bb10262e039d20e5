import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The built `delivery-otp serve`, started on a free loopback port, spoken to over real HTTP.
final class LiveServer: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private(set) var port = 0

    /// Example tokens (keys-example/README.md).
    static let issuer = "dotp_lGBQnIIb4Kq65BYpzwFN35yFiVRXgFPxO__WanTeau4"
    static let courier = "dotp_xz8wfN8aUjJvEpIlG9yOH9wksh2aT99VYmmcyZ0Cn3Q"
    static let device = "dotp_P-VQrIaSPlkGgpSRet0H7BOcIn0iNbtl6wWsfigisN4"
    static let auditor = "dotp_xMctYeKxQrUonU588vgtAHXdwOrPwo6fuwVYhGTIAMo"

    /// Starts `serve` with `arguments` plus `--listen 127.0.0.1:0`, and waits for its "listening" line.
    /// The waits are awaited, never slept on a thread of the test pool: with two cores the pool has
    /// two threads, and other suites' deadlines run on them.
    init(_ arguments: [String], logPath: String) async throws {
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let line = log.split(separator: "\n").first(where: { $0.contains("\"event\":\"listening\"") }),
                let range = line.range(of: "http://127.0.0.1:"),
                let port = Int(line[range.upperBound...].prefix { $0.isNumber })
            {
                self.port = port
                return
            }
            guard process.isRunning else { throw LiveServerError.exited(log) }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw LiveServerError.noListeningLine(log)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    struct Reply: Sendable {
        let status: Int
        let body: Data
        let headers: [String: String]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    /// One request; throws when the connection fails (refused, reset).
    func request(_ method: String, _ path: String, token: String? = nil, body: String? = nil, contentType: String = "application/json")
        async throws -> Reply
    {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 30
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)".lowercased()] = "\(value)" }
        return Reply(status: http.statusCode, body: data, headers: headers)
    }

    func verify(_ shipment: String, _ code: String) async throws -> Reply {
        try await request("POST", "/v1/verify", token: Self.courier, body: "{\"shipmentId\": \"\(shipment)\", \"code\": \"\(code)\"}")
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// How the process ended ("exit 1", "signal 6"), or "running".
    var ending: String {
        guard !process.isRunning else { return "running" }
        return "\(process.terminationReason == .uncaughtSignal ? "signal" : "exit") \(process.terminationStatus)"
    }

    /// Waits for the process to end; its exit status, or nil after `seconds`.
    func waitForExit(seconds: Double = 30) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline {
            // A cancelled test stops waiting rather than spinning.
            do { try await Task.sleep(for: .milliseconds(50)) } catch { break }
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

enum LiveServerError: Error, CustomStringConvertible {
    case exited(String)
    case noListeningLine(String)
    var description: String {
        switch self {
        case .exited(let log): "serve exited: \(log)"
        case .noListeningLine(let log): "serve printed no listening line: \(log)"
        }
    }
}
