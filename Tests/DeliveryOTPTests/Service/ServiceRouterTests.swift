import DeliveryOTP
import DeliveryOTPServer
import Foundation
import HTTPTypes
import Hummingbird
import Testing

/// Every endpoint and its error statuses, through the router in process, on a real SQLite store.
@Suite("The service's API")
struct ServiceRouterTests {
    @Test("Liveness, readiness and metrics answer without a token")
    func healthEndpoints() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let live = try await client.get("/healthz", harness, token: nil)
            #expect(live.status == .ok)
            #expect(live.json["status"] as? String == "ok")
            let ready = try await client.get("/readyz", harness, token: nil)
            #expect(ready.status == .ok)
            #expect(ready.json["status"] as? String == "ready")
            let metrics = try await client.get("/metrics", harness, token: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains("delivery_otp_requests_total"))
            #expect(metrics.text.contains("key_id=\"k-2024-02-01-c41e\"") || metrics.text.contains("delivery_otp_key_in_use_info"))
        }
    }

    @Test("A code is served to an issuer token, with its key and end of validity")
    func codeForIssuer() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let response = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-17", harness, token: "web")
            #expect(response.status == .ok)
            #expect(response.json["code"] as? String == "208328")
            #expect(response.json["shipmentId"] as? String == "TBA123456789000")
            #expect(response.json["deliveryDate"] as? String == "2024-01-17")
            #expect(response.json["validUntil"] as? String == "2024-01-17T23:59:59+00:00")
            #expect(response.json["keyId"] as? String != nil)
            #expect(response.headers[.cacheControl] == "no-store")
        }
    }

    @Test("The code endpoint answers 401, 403, 400, 410 and 422 as JSON with a hint")
    func codeErrors() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let cases: [(String, String?, HTTPResponse.Status)] = [
                ("/v1/shipments/TBA123456789000/code?date=2024-01-17", nil, .unauthorized),
                ("/v1/shipments/TBA123456789000/code?date=2024-01-17", "dotp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", .unauthorized),
                ("/v1/shipments/TBA123456789000/code?date=2024-01-17", "courier-a", .forbidden),
                ("/v1/shipments/TBA123456789000/code?date=2024-01-17&scope=A", "issuer-b", .forbidden),
                ("/v1/shipments/TBA123456789000/code?date=2024-1-17", "web", .badRequest),
                ("/v1/shipments/TBA123456789000/code", "web", .badRequest),
                ("/v1/shipments/bad%20id/code?date=2024-01-17", "web", .badRequest),
                ("/v1/shipments/TBA123456789000/code?date=2024-01-16", "web", .gone),
                ("/v1/shipments/TBA123456789000/code?date=2024-01-20", "web", .unprocessableContent),
                ("/v1/shipments/TBA123456789000/code?date=2024-01-17&scope=%2F", "web", .badRequest),
            ]
            for (uri, token, status) in cases {
                let response = try await client.get(uri, harness, token: token)
                #expect(response.status == status, "\(uri) with \(token ?? "no token")")
                #expect((response.json["error"] as? String)?.isEmpty == false, "\(uri)")
                #expect(response.headers[.contentType] == "application/json")
            }
            let ahead = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-19", harness, token: "web")
            #expect(ahead.status == .ok)
        }
    }

    @Test("The Bearer scheme is read in any case, and any other Authorization header is 401")
    func bearerSchemeInAnyCase() async throws {
        let harness = try ServiceHarness()
        let token = try #require(harness.tokens["web"])
        try await harness.test { client in
            let uri = "/v1/shipments/TBA123456789000/code?date=2024-01-17"
            let cases: [(String, HTTPResponse.Status)] = [
                ("Bearer \(token)", .ok), ("bearer \(token)", .ok), ("BEARER \(token)", .ok), ("bEaReR   \(token)", .ok),
                ("Basic \(token)", .unauthorized), ("Bearer\(token)", .unauthorized), ("Bearer", .unauthorized),
                ("Bearer ", .unauthorized), ("Bearers \(token)", .unauthorized),
                ("Bear \(token)", .unauthorized), ("\u{FF22}earer \(token)", .unauthorized),
            ]
            for (header, status) in cases {
                let response = try await client.execute(uri: uri, method: .get, headers: [.authorization: header])
                let shown = header.replacingOccurrences(of: token, with: "TOKEN")
                #expect(response.status == status, "Authorization: \(shown)")
                if status == .ok { #expect(response.json["code"] as? String == "208328", "Authorization: \(shown)") }
            }
        }
    }

    @Test("A batch issues codes in order and lists invalid IDs with their index")
    func batch() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let response = try await client.post(
                "/v1/codes", harness, token: "web",
                json: #"{"date": "2024-01-17", "scope": "", "shipmentIds": ["TBA123456789000", "bad id", "TBA123456789000"]}"#)
            #expect(response.status == .ok)
            let codes = response.json["codes"] as? [[String: Any]] ?? []
            #expect(codes.map { $0["index"] as? Int } == [0, 2])
            #expect(codes.allSatisfy { $0["code"] as? String == "208328" })
            let invalid = response.json["invalid"] as? [[String: Any]] ?? []
            #expect(invalid.map { $0["index"] as? Int } == [1])
        }
    }

    @Test("Bodies that are too large, too deep, duplicated or not JSON are refused before decoding")
    func hostileBodies() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let tooMany =
                "{\"date\": \"2024-01-17\", \"shipmentIds\": [" + Array(repeating: "\"A\"", count: 10_001).joined(separator: ",") + "]}"
            #expect(try await client.post("/v1/codes", harness, token: "web", json: tooMany).status == .badRequest)
            let huge = "{\"date\": \"2024-01-17\", \"shipmentIds\": [\"" + String(repeating: "A", count: 2 << 20) + "\"]}"
            #expect(try await client.post("/v1/codes", harness, token: "web", json: huge).status == .contentTooLarge)
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            let deepObject = "{\"date\": " + deep + "}"
            #expect(try await client.post("/v1/codes", harness, token: "web", json: deepObject).status == .badRequest)
            let twice = #"{"date": "2024-01-17", "date": "2024-01-18", "shipmentIds": []}"#
            let duplicate = try await client.post("/v1/codes", harness, token: "web", json: twice)
            #expect(duplicate.status == .badRequest)
            #expect((duplicate.json["error"] as? String)?.contains("twice") == true)
            #expect(try await client.post("/v1/codes", harness, token: "web", json: "not json").status == .badRequest)
            #expect(
                try await client.post("/v1/codes", harness, token: "web", json: #"{"date": 5, "shipmentIds": []}"#).status == .badRequest)
            #expect(try await client.post("/v1/codes", harness, token: "web", json: #"{"shipmentIds": []}"#).status == .badRequest)
        }
    }

    @Test("Verify: accepted once, then alreadyAccepted; the typed code is never echoed")
    func verifyAccepts() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let wrong = try await client.verify(harness, shipment: "TBA123456789000", code: "123456")
            #expect(wrong.json["outcome"] as? String == "rejected")
            #expect(wrong.json["attemptsLeft"] as? Int == 4)
            #expect(!wrong.text.contains("123456"))
            let right = try await client.verify(harness, shipment: "TBA123456789000", code: "208328")
            #expect(right.json["outcome"] as? String == "accepted")
            #expect(right.json["acceptedAt"] as? String == "2024-01-17T10:00:00+00:00")
            let again = try await client.verify(harness, shipment: "TBA123456789000", code: "208328")
            #expect(again.json["outcome"] as? String == "alreadyAccepted")
        }
    }

    @Test("Five wrong codes lock the shipment for the day, and the right code is then locked too; the metrics count each outcome")
    func verifyLocks() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            for left in (0..<5).reversed() {
                let response = try await client.verify(harness, shipment: "TBA123456789000", code: "000000")
                #expect(response.json["outcome"] as? String == "rejected")
                #expect(response.json["attemptsLeft"] as? Int == left)
            }
            let right = try await client.verify(harness, shipment: "TBA123456789000", code: "208328")
            #expect(right.json["outcome"] as? String == "locked")
            #expect(right.json["attemptsLeft"] as? Int == 0)
            let metrics = try await client.get("/metrics", harness, token: nil).text
            #expect(metrics.contains("delivery_otp_verify_outcomes_total{outcome=\"rejected\"} 5"), "\(metrics)")
            #expect(metrics.contains("delivery_otp_verify_outcomes_total{outcome=\"locked\"} 1"), "\(metrics)")
            #expect(!metrics.contains("delivery_otp_verify_outcomes_total{outcome=\"accepted\"}"), "an outcome that never happened")
        }
    }

    @Test("Verify refuses what is not six digits without counting it, and another scope with 403")
    func verifyEdges() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let notACode = try await client.verify(harness, shipment: "TBA123456789000", code: "12345a")
            #expect(notACode.status == .badRequest)
            #expect(!notACode.text.contains("12345a"))
            let wrongScope = try await client.verify(harness, token: "courier-b", shipment: "TBA123456789000", code: "000000", scope: "A")
            #expect(wrongScope.status == .forbidden)
            let issuer = try await client.verify(harness, token: "web", shipment: "TBA123456789000", code: "000000")
            #expect(issuer.status == .forbidden)
            let counted = try await client.verify(harness, shipment: "TBA123456789000", code: "000000")
            #expect(counted.json["attemptsLeft"] as? Int == 4)
        }
    }

    @Test("Fifty parallel wrong verifies give exactly five rejections and the rest locked")
    func parallelVerifies() async throws {
        let harness = try ServiceHarness()
        let outcomes = try await harness.test { client in
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await client.verify(harness, shipment: "TBA123456789000", code: "000000").json["outcome"] as? String ?? "?"
                    }
                }
                return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            }
        }
        #expect(outcomes == ["rejected": 5, "locked": 45])
    }

    @Test("Device keys for the token's scope give the service's own codes, and each export is audited")
    func deviceKeys() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let response = try await client.get("/v1/device-keys?days=2", harness, token: "van-1")
            #expect(response.status == .ok)
            let keys = try DeviceKeys(json: Array(response.body.readableBytesView))
            #expect(keys.entries.count == 2)
            #expect(keys.deviceID?.rawValue == "van-1")
            let (dayKey, _) = try keys.dayKey(scope: .empty, date: try DeliveryDate("2024-01-17"))
            #expect(CodeGenerator(dayKey: dayKey).code(for: try ShipmentID("TBA123456789000")).description == "208328")
            #expect(try await client.get("/v1/device-keys?days=8", harness, token: "van-1").status == .badRequest)
            #expect(try await client.get("/v1/device-keys?from=2024-02-17", harness, token: "van-1").status == .unprocessableContent)
            #expect(try await client.get("/v1/device-keys", harness, token: "web").status == .forbidden)
        }
        let audit = try String(contentsOfFile: harness.keyringPath + ".audit.jsonl", encoding: .utf8)
        #expect(audit.contains("\"operation\":\"export-device\""))
        #expect(audit.contains("\"token\":\"van-1\""))
    }

    @Test("An uploaded attempt log is stored once, however often it is uploaded, and the auditor reads it")
    func attemptUpload() async throws {
        let harness = try ServiceHarness()
        let log = """
            {"time":"2024-01-17T09:00:00Z","shipmentId":"TBA123456789000","deliveryDate":"2024-01-17","scope":"","outcome":"rejected","attempt":1,"deviceId":"van-1"}
            {"time":"2024-01-17T09:01:00Z","shipmentId":"TBA123456789000","deliveryDate":"2024-01-17","scope":"","outcome":"accepted","attempt":2,"deviceId":"van-1"}

            """
        try await harness.test { client in
            let first = try await client.post("/v1/attempts", harness, token: "van-1", json: log, contentType: "application/x-ndjson")
            #expect(first.status == .ok)
            #expect(first.json["new"] as? Int == 2)
            let second = try await client.post("/v1/attempts", harness, token: "van-1", json: log, contentType: "application/x-ndjson")
            #expect(second.json["new"] as? Int == 0)
            #expect(second.json["received"] as? Int == 2)
            let other = log.replacingOccurrences(of: "van-1", with: "van-2")
            #expect(try await client.post("/v1/attempts", harness, token: "van-1", json: other).status == .unprocessableContent)
            #expect(try await client.post("/v1/attempts", harness, token: "van-1", json: "{\"time\": 1}\n").status == .unprocessableContent)
            _ = try await client.verify(harness, shipment: "TBB123456789000", code: "654321")
            let read = try await client.get("/v1/attempts", harness, token: "audit")
            #expect(read.status == .ok)
            let lines = read.text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 4 && lines.last == "", "three lines, each ending in one newline")
            #expect(!read.text.contains("654321"))
            let records = try AttemptRecord.records(jsonLines: read.text)
            #expect(records.map(\.outcome) == [.rejected, .accepted, .rejected])
            #expect(records.last?.deviceID?.rawValue == "courier-a")
            #expect(try await client.get("/v1/attempts?since=yesterday", harness, token: "audit").status == .badRequest)
            #expect(try await client.get("/v1/attempts", harness, token: "van-1").status == .forbidden)
        }
    }

    @Test("The auditor pages through a second that holds more lines than a page with X-Next-After, each line once")
    func attemptLogPages() async throws {
        var limits = ServiceLimits()
        limits.maximumLogLines = 2
        let harness = try ServiceHarness(limits: limits)
        // Five lines of one second: with pages of two, `since` that second gives the same two lines for ever.
        let log = (1...5).map { index in
            #"{"time":"2024-01-17T09:00:00Z","shipmentId":"TBA12345678900\#(index)","deliveryDate":"2024-01-17","scope":"","outcome":"rejected","attempt":1,"deviceId":"van-1"}"#
                + "\n"
        }.joined()
        try await harness.test { client in
            let upload = try await client.post("/v1/attempts", harness, token: "van-1", json: log, contentType: "application/x-ndjson")
            #expect(upload.status == .ok)
            var read = ""
            var path = "/v1/attempts?since=2024-01-17T09:00:00Z"
            var pages = 0
            while pages < 10 {
                let answer = try await client.get(path, harness, token: "audit")
                #expect(answer.status == .ok)
                read += answer.text
                pages += 1
                guard let next = answer.headers[HTTPField.Name("X-Next-After")!] else {
                    #expect(answer.headers[HTTPField.Name("X-Truncated")!] == nil)
                    break
                }
                #expect(answer.headers[HTTPField.Name("X-Truncated")!] == "true")
                #expect(answer.text.split(separator: "\n").count == 2)
                path = "/v1/attempts?after=\(next)"
            }
            #expect(pages == 3)
            #expect(read == log)
            let both = try await client.get("/v1/attempts?since=2024-01-17T09:00:00Z&after=1705482000_1", harness, token: "audit")
            #expect(both.status == .badRequest)
            #expect(both.text.contains("since and after"))
            for bad in ["yesterday", "1705482000", "1705482000_-1", "%2B1_1"] {
                #expect(try await client.get("/v1/attempts?after=\(bad)", harness, token: "audit").status == .badRequest, "after=\(bad)")
            }
        }
    }

    @Test("The auditor's key list has ids and fingerprints, never a secret")
    func keyList() async throws {
        let harness = try ServiceHarness()
        let keyring = try String(contentsOfFile: harness.keyringPath, encoding: .utf8)
        let secrets = keyring.split(separator: "\"").filter { $0.count == 44 && $0.hasSuffix("=") }
        #expect(!secrets.isEmpty)
        try await harness.test { client in
            let response = try await client.get("/v1/keys", harness, token: "audit")
            #expect(response.status == .ok)
            #expect(response.json["keyInUse"] as? String != nil)
            #expect((response.json["keys"] as? [Any])?.isEmpty == false)
            for secret in secrets { #expect(!response.text.contains(secret)) }
            #expect(try await client.get("/v1/keys", harness, token: "web").status == .forbidden)
        }
    }

    @Test("A token over its rate gets 429 with Retry-After")
    func rateLimit() async throws {
        var limits = ServiceLimits()
        limits.ratePerSecond = 0.01
        limits.rateBurst = 2
        let harness = try ServiceHarness(limits: limits)
        try await harness.test { client in
            for _ in 0..<2 {
                #expect(try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-17", harness, token: "web").status == .ok)
            }
            let limited = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-17", harness, token: "web")
            #expect(limited.status == .tooManyRequests)
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try await client.get("/healthz", harness, token: nil).status == .ok)
        }
    }

    @Test("A scope's time zone decides today and validUntil")
    func scopeZones() async throws {
        // 23:30 UTC on the 16th is already the 17th in Berlin.
        let harness = try ServiceHarness(
            now: Timestamp(rfc3339: "2024-01-16T23:30:00Z")!, scopes: #"{"default": "UTC", "scopes": {"B": "Europe/Berlin"}}"#)
        try await harness.test { client in
            let utc = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-16", harness, token: "web")
            #expect(utc.status == .ok)
            let berlin = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-16&scope=B", harness, token: "web")
            #expect(berlin.status == .gone)
            let tomorrow = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-17&scope=B", harness, token: "web")
            #expect(tomorrow.json["validUntil"] as? String == "2024-01-17T23:59:59+01:00")
        }
    }

    @Test("A manifest streams through the issue pipeline: the feed, then the rejects, as multipart")
    func manifest() async throws {
        let harness = try ServiceHarness()
        let csv = "shipment_id,delivery_date,scope,order_value,currency\nTBA123456789000,2024-01-17,,900,EUR\nbad id,2024-01-17,,900,EUR\n"
        try await harness.test { client in
            let response = try await client.post("/v1/manifests", harness, token: "web", json: csv, contentType: "text/csv")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("multipart/mixed; boundary=") == true)
            #expect(response.headers[HTTPField.Name("X-Issued")!] == "1")
            #expect(response.headers[HTTPField.Name("X-Rejected")!] == "1")
            let parts = response.text.components(separatedBy: "\r\n\r\n")
            #expect(parts.count == 3)
            #expect(
                parts[1].hasPrefix(
                    "shipment_id,delivery_date,scope,code_required,code,key_id,valid_until\nTBA123456789000,2024-01-17,,true,208328,"))
            #expect(parts[2].contains("bad id"))
            let unsupported = try await client.post("/v1/manifests", harness, token: "web", json: csv, contentType: "application/pdf")
            #expect(unsupported.status == .unsupportedMediaType)
            let bound = try await client.post("/v1/manifests", harness, token: "issuer-b", json: csv, contentType: "text/csv")
            #expect(bound.status == .forbidden)
        }
    }

    @Test("With no key for today the service is not ready, and codes and verifies are 503 with nothing counted")
    func noKeyForToday() async throws {
        // The example keyring's first key starts on 2024-01-01.
        let harness = try ServiceHarness(now: Timestamp(rfc3339: "2023-12-31T12:00:00Z")!)
        try await harness.test { client in
            let ready = try await client.get("/readyz", harness, token: nil)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.json["reason"] as? String == "the keyring has no key for today")
            #expect(try await client.get("/v1/shipments/TBA1/code?date=2023-12-31", harness, token: "web").status == .serviceUnavailable)
            let verify = try await client.verify(harness, shipment: "TBA1", code: "000000")
            #expect(verify.status == .serviceUnavailable)
            #expect(verify.json["hint"] != nil)
            #expect(try await client.get("/v1/attempts", harness, token: "audit").text.isEmpty)
        }
    }

    @Test("A known path with a method it does not take is 405 with Allow")
    func methodNotAllowed() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let response = try await client.execute(uri: "/v1/verify", method: .get, headers: harness.headers("courier-a"))
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "POST")
            let code = try await client.execute(
                uri: "/v1/shipments/A1/code?date=2024-01-17", method: .delete, headers: harness.headers("web"))
            #expect(code.status == .methodNotAllowed)
        }
    }

    @Test("A courier of one scope can neither lock nor hand over another scope's shipment")
    func scopesAreSeparate() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            for _ in 0..<5 {
                _ = try await client.verify(harness, token: "courier-b", shipment: "TBA123456789000", code: "000000", scope: "B")
            }
            let lockedInB = try await client.verify(harness, token: "courier-b", shipment: "TBA123456789000", code: "000000", scope: "B")
            #expect(lockedInB.json["outcome"] as? String == "locked")
            let codeA = try await client.get("/v1/shipments/TBA123456789000/code?date=2024-01-17&scope=A", harness, token: "web")
            let typed = try #require(codeA.json["code"] as? String)
            let inA = try await client.verify(harness, token: "courier-a", shipment: "TBA123456789000", code: typed, scope: "A")
            #expect(inA.json["outcome"] as? String == "accepted")
            let emptyScope = try await client.verify(harness, token: "courier-a", shipment: "TBA123456789000", code: "208328", scope: "")
            #expect(emptyScope.json["outcome"] as? String == "accepted")
        }
    }

    @Test("Day keys reach six days after today at most, and future, mismatched or misnumbered log lines are refused")
    func deviceWindows() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let statuses = [
                try await client.get("/v1/device-keys?days=7", harness, token: "van-1").status,
                try await client.get("/v1/device-keys?from=2024-01-23&days=1", harness, token: "van-1").status,
                try await client.get("/v1/device-keys?from=2024-01-23&days=2", harness, token: "van-1").status,
                try await client.get("/v1/device-keys?from=2024-01-15", harness, token: "van-1").status,
            ]
            #expect(statuses == [.ok, .ok, .unprocessableContent, .unprocessableContent])
            let future =
                #"{"time":"2024-01-18T09:00:00Z","shipmentId":"TBA1","deliveryDate":"2024-01-18","scope":"","outcome":"rejected","attempt":1,"deviceId":"van-1"}"#
            let futureStatus = try await client.post("/v1/attempts", harness, token: "van-1", json: future + "\n").status
            #expect(futureStatus == .unprocessableContent)
            let farDate =
                #"{"time":"2024-01-17T09:00:00Z","shipmentId":"TBA1","deliveryDate":"2030-01-18","scope":"","outcome":"accepted","attempt":1}"#
            let farStatus = try await client.post("/v1/attempts", harness, token: "van-1", json: farDate + "\n").status
            #expect(farStatus == .unprocessableContent)
            // An attempt number no device writes, which PostgreSQL's column would refuse on every
            // retry (a 503 for good), is refused at the door, and the log's other lines with it.
            for number in ["11", "2147483648"] {
                let line =
                    #"{"time":"2024-01-17T09:00:00Z","shipmentId":"TBA1","deliveryDate":"2024-01-17","scope":"","outcome":"rejected","attempt":"#
                    + number + "}\n"
                let answer = try await client.post("/v1/attempts", harness, token: "van-1", json: line)
                #expect(answer.status == .unprocessableContent, "attempt \(number)")
                #expect(answer.text.contains("outside 1 to 10"), "\(answer.text)")
            }
            #expect(try await client.get("/v1/attempts", harness, token: "audit").text.isEmpty)
        }
    }

    @Test("A tokens file that disappears is one failed reload, not one every check, and the old tokens keep working")
    func missingFileReload() async throws {
        let harness = try ServiceHarness()
        try FileManager.default.removeItem(atPath: harness.tokensPath)
        #expect(!harness.service.state.reload(force: false))
        #expect(harness.service.state.reload(force: false))
        let metrics = harness.service.metrics.registry.emitToString()
        #expect(metrics.contains("delivery_otp_reload_failures_total 1"))
        let status = try await harness.test { client in try await client.get("/v1/keys", harness, token: "audit").status }
        #expect(status == .ok)
    }

    @Test("An unknown endpoint is a JSON 404")
    func notFound() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let response = try await client.get("/v2/anything", harness, token: "web")
            #expect(response.status == .notFound)
            #expect(response.json["error"] != nil)
        }
    }
}
