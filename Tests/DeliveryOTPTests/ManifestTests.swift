import Foundation
import Testing

@_spi(Tools) @testable import DeliveryOTP

/// `issue --manifest`, end to end through the built executable, and the library's issuer with small chunks.
@Suite("Issuing a delivery day's manifest", .serialized)
struct ManifestTests {
    static let example = Repository.path("keys-example/keyring.json")

    static func issue(
        _ manifest: String, named name: String = "manifest.csv", _ extra: [String] = [],
        in directory: TemporaryDirectory
    ) async throws -> (result: CommandRunner.Result, output: String?) {
        let input = try directory.write(name, manifest)
        let out = directory.file("out-" + name)
        let result = try await CommandRunner.run(
            [
                "issue", "--keyring", example, "--manifest", input, "--out", out,
                "--time-zone", "Europe/Berlin",
            ] + extra)
        return (result, try? String(contentsOfFile: out, encoding: .utf8))
    }

    static func rows(_ output: String?) -> [[String]] {
        (output ?? "").split(separator: "\n").dropFirst().map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
    }

    static func code(_ id: String, _ date: String, _ scope: String) async throws -> String {
        try await CommandRunner.run(["issue", "--keyring", example, "--date", date, "--scope", scope, "--", id])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("the value policy: at the threshold, just below, missing value, unknown currency")
    func policyEdges() async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await Self.issue(
            """
            shipment_id,delivery_date,scope,order_value,currency
            AT,2024-01-17,D1,100.00,EUR
            BELOW,2024-01-17,D1,99.99,EUR
            GBP-BELOW,2024-01-17,D1,99.999999,GBP
            INR-AT,2024-01-17,D1,500,INR
            NOVALUE,2024-01-17,D1,,EUR
            NOCURRENCY,2024-01-17,D1,5,
            USD,2024-01-17,D1,5,USD

            """, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = Self.rows(output)
        #expect(rows.map { $0[0] } == ["AT", "BELOW", "GBP-BELOW", "INR-AT", "NOVALUE", "NOCURRENCY", "USD"])
        #expect(rows.map { $0[3] } == ["true", "false", "false", "true", "true", "true", "true"])
        #expect(rows.filter { $0[3] == "false" }.allSatisfy { $0[4].isEmpty && $0[5].isEmpty })
        let code = try await Self.code("AT", "2024-01-17", "D1")
        #expect(rows[0][4] == code)
        #expect(rows[0][5] == "k-2024-01-01-7f3a")
        #expect(rows.allSatisfy { $0[6] == "2024-01-17T23:59:59+01:00" })
        #expect(result.stderr.contains("7 rows read, 5 codes issued, 2 not required, 0 rejected"))
    }

    @Test("--threshold overrides and adds currencies; --threshold all requires every code")
    func thresholds() async throws {
        let directory = try TemporaryDirectory()
        let manifest = "shipment_id,delivery_date,order_value,currency\nA,2024-01-17,120,EUR\nB,2024-01-17,120,USD\nC,2024-01-17,1,EUR\n"
        let custom = try await Self.issue(manifest, named: "a.csv", ["--threshold", "EUR=150", "--threshold", "USD=100"], in: directory)
        #expect(Self.rows(custom.output).map { $0[3] } == ["false", "true", "false"])
        let all = try await Self.issue(manifest, named: "b.csv", ["--threshold", "all"], in: directory)
        #expect(Self.rows(all.output).map { $0[3] } == ["true", "true", "true"])
        let bad = try await Self.issue(manifest, named: "c.csv", ["--threshold", "euro=5"], in: directory)
        #expect(bad.result.status == 64)
        #expect(bad.result.stderr.contains("invalid --threshold 'euro=5'"))
    }

    @Test("RFC 4180 quoting in and out, CRLF line ends, and a quoted line break keep line numbers right")
    func csvQuoting() async throws {
        let directory = try TemporaryDirectory()
        let manifest =
            "shipment_id,note,delivery_date,scope\r\n\"A,\"\"1\",plain,2024-01-17,D1\r\nB2,\"two\nlines\",2024-01-17,D1\r\nC 3,x,2024-01-17,D1\r\n"
        let (result, output) = try await Self.issue(manifest, in: directory)
        #expect(result.status == 0)
        let lines = (output ?? "").split(separator: "\n").map(String.init)
        #expect(lines[1].hasPrefix(#""A,""1",2024-01-17,D1,true,"#))
        let quoted = try await Self.code(#"A,"1"#, "2024-01-17", "D1"), plain = try await Self.code("B2", "2024-01-17", "D1")
        #expect(lines[1].contains(quoted))
        #expect(lines[2].hasPrefix("B2,2024-01-17,D1,true,\(plain),"))
        // The bad row starts on physical line 5: the quoted line break spans lines 3 and 4.
        #expect(result.stderr.contains("line 5: invalid shipment ID 'C 3': character outside 0x21-0x7E U+0020 (space) at position 2"))
    }

    @Test("JSON lines in, JSON lines out; a repeated member and a number in exponent form are refused")
    func jsonLines() async throws {
        let directory = try TemporaryDirectory()
        let manifest = """
            {"shipment_id": "J\\"1", "delivery_date": "2024-01-17", "scope": "D1", "order_value": 250, "currency": "EUR"}
            {"shipment_id": "J2", "delivery_date": "2024-01-17", "scope": "D1", "order_value": "10.5", "currency": "EUR"}
            {"shipment_id": "J3", "delivery_date": "2024-02-30"}
            not json
            {"shipment_id": "J5", "shipment_id": "J6", "delivery_date": "2024-01-17"}
            {"shipment_id": "J7", "delivery_date": "2024-01-17", "order_value": 1e2, "currency": "EUR"}

            """
        let (result, output) = try await Self.issue(manifest, named: "m.jsonl", in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let objects = try (output ?? "").split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(objects.count == 2)
        #expect(objects[0]["shipment_id"] as? String == #"J"1"#)
        #expect(objects[0]["code_required"] as? Bool == true)
        let code = try await Self.code(#"J"1"#, "2024-01-17", "D1")
        #expect(objects[0]["code"] as? String == code)
        #expect(objects[1]["code_required"] as? Bool == false)
        #expect(objects[1]["code"] as? String == "")
        #expect(result.stderr.contains("line 3: invalid date '2024-02-30': February 2024 has 29 days"))
        #expect(result.stderr.contains("line 4: not a JSON object"))
        #expect(result.stderr.contains("line 5: shipment_id appears twice"))
        #expect(result.stderr.contains("line 6: malformed order_value '1e2': expected a decimal such as 149.90"))
    }

    @Test("every reject reason goes to --rejects with its line number, and the batch goes on")
    func rejects() async throws {
        let directory = try TemporaryDirectory()
        let rejectsPath = directory.file("rejects.txt")
        let (result, output) = try await Self.issue(
            """
            shipment_id,delivery_date,scope,order_value,currency
            GOOD1,2024-01-17,D1,1,EUR
            BAD ID,2024-01-17,D1,1,EUR
            GOOD2,2024-02-30,D1,1,EUR
            GOOD3,2023-12-31,D1,1,EUR
            GOOD4,2024-01-17,D/1,1,EUR
            GOOD5,2024-01-17,D1,12.3.4,EUR
            GOOD6,2024-01-17,D1,1,euro
            GOOD7,2024-01-17,D1
            GOOD8,2024-01-17,D1,1,EUR

            """, ["--rejects", rejectsPath], in: directory)
        #expect(result.status == 0)
        #expect(Self.rows(output).map { $0[0] } == ["GOOD1", "GOOD8"])
        let rejected = try String(contentsOfFile: rejectsPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(
            rejected == [
                "line 3: invalid shipment ID 'BAD ID': character outside 0x21-0x7E U+0020 (space) at position 4",
                "line 4: invalid date '2024-02-30': February 2024 has 29 days",
                "line 5: no key covers 2023-12-31",
                "line 6: invalid scope: 'D/1'",
                "line 7: malformed order_value '12.3.4': expected a decimal such as 149.90",
                "line 8: malformed currency 'euro': expected an ISO 4217 code such as EUR",
                "line 9: expected 5 fields, found 3",
            ])
        #expect(result.stderr.contains("9 rows read, 0 codes issued, 2 not required, 7 rejected"))
    }

    @Test("--strict stops at the first bad row with exit 65 and writes no output file")
    func strict() async throws {
        let directory = try TemporaryDirectory()
        let (result, output) = try await Self.issue(
            "shipment_id,delivery_date\nA,2024-01-17\nB,2024-13-01\nC,2024-01-17\n",
            ["--strict"], in: directory)
        #expect(result.status == 65)
        #expect(result.stderr.contains("line 3: invalid date '2024-13-01': there is no month 13"))
        #expect(output == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).allSatisfy { !$0.contains("out-") })
    }

    @Test("a missing required column, an unknown extension and an existing output are refused")
    func refusals() async throws {
        let directory = try TemporaryDirectory()
        let missing = try await Self.issue("shipment_id,scope\nA,D1\n", in: directory)
        #expect(missing.result.status == 65)
        #expect(missing.result.stderr.contains("has no 'delivery_date' column"))
        let text = try directory.write("m.txt", "shipment_id,delivery_date\nA,2024-01-17\n")
        let unknown = try await CommandRunner.run(["issue", "--keyring", Self.example, "--manifest", text])
        #expect(unknown.status == 64)
        let existing = try directory.write("taken.csv", "keep me")
        let refused = try await CommandRunner.run([
            "issue", "--keyring", Self.example, "--manifest", text, "--input-format", "csv",
            "--out", existing,
        ])
        #expect(refused.status == 73)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")
    }

    @Test("output order equals input order with several threads and small chunks, and codes equal single issues")
    func orderWithThreads() throws {
        let keyring = try KeyringFile(path: Self.example).load(passphrase: nil, exampleMayBeShared: true).keyring
        var manifest = "shipment_id,delivery_date,scope,order_value,currency\n"
        for row in 0..<3000 {
            manifest +=
                "S\(row * 7919 % 100_003),2024-01-\(17 + row % 3),DEPOT-\(row % 7),\(row % 300).50,\(["EUR", "GBP", "INR"][row % 3])\n"
        }
        func run(threads: Int) throws -> String {
            let directory = try TemporaryDirectory()
            let input = try directory.write("in.csv", manifest)
            let out = directory.file("out.csv"), rejects = directory.file("rejects.txt")
            let inFD = open(input, O_RDONLY), outFD = open(out, O_WRONLY | O_CREAT, 0o600),
                rejectFD = open(rejects, O_WRONLY | O_CREAT, 0o600)
            defer { close(inFD); close(outFD); close(rejectFD) }
            let issuer = ManifestIssuer(
                keyring: keyring,
                options: .init(
                    format: .csv, timeZone: try DeliveryTimeZone("UTC"),
                    threads: threads, chunkSize: 1024))
            let summary = try issuer.run(input: inFD, output: outFD, rejects: rejectFD)
            #expect(summary.rowsRead == 3000 && summary.rejected == 0)
            return try String(contentsOfFile: out, encoding: .utf8)
        }
        let one = try run(threads: 1), three = try run(threads: 3)
        #expect(one == three)
        let rows = one.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count == 3000)
        #expect(rows.enumerated().allSatisfy { index, row in row[0] == "S\(index * 7919 % 100_003)" })
        for index in stride(from: 0, to: 3000, by: 97) where rows[index][3] == "true" {
            let generator = CodeGenerator(
                dayKey: try keyring.dayKey(
                    scope: try Scope(String(rows[index][2])),
                    date: try DeliveryDate(String(rows[index][1]))
                ).dayKey)
            #expect(String(rows[index][4]) == generator.code(for: try ShipmentID(String(rows[index][0]))).description)
        }
    }

    @Test("a run killed part way leaves no output file at all")
    func killedRunLeavesNothing() async throws {
        let directory = try TemporaryDirectory()
        let input = directory.file("big.csv")
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        maker.arguments = ["python3", Repository.path("scripts/make-manifest"), "400000", input]
        let out = directory.file("feed.csv")
        // The child processes, and the sleeps before the kills, on threads of their own.
        try await offPool {
            try maker.run()
            maker.waitUntilExit()
        }
        var killedRuns = 0
        for delay in [20_000, 80_000, 200_000] as [UInt32] {
            let (killed, leftAFile) = try await offPool { () throws -> (Bool, Bool) in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
                process.arguments = ["issue", "--keyring", Self.example, "--manifest", input, "--out", out, "--force"]
                process.environment = KilledChild.environment
                process.standardError = FileHandle.nullDevice
                try process.run()
                usleep(delay)
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return (process.terminationReason == .uncaughtSignal, FileManager.default.fileExists(atPath: out))
            }
            if killed {
                killedRuns += 1
                #expect(!leftAFile, "killed after \(delay) µs")
            }
        }
        // 400,000 rows take longer than the first delay in any build: a run that finished before
        // its kill proved nothing.
        #expect(killedRuns > 0, "every run finished before its kill")
        // A complete run gives the file, with every row.
        let complete = try await CommandRunner.run(["issue", "--keyring", Self.example, "--manifest", input, "--out", out, "--force"])
        #expect(complete.status == 0)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count
        #expect(lines == 400_001)
    }
}

@Suite("Writing the feed to a pipe")
struct ManifestPipeTests {
    @Test("an --out that is a pipe (or a device) is written in place, never replaced by a rename")
    func fifoOutput() async throws {
        let directory = try TemporaryDirectory()
        let input = try directory.write("m.csv", "shipment_id,delivery_date\nA,2024-01-17\n")
        let fifo = directory.file("feed.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // A reader on the other end, as a consumer would be.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [fifo]
        let received = Pipe()
        reader.standardOutput = received
        try reader.run()
        // If the pipe were replaced, the reader would wait forever for a writer: 20 s after the
        // writer started, end the reader, and let the checks fail.
        let result = try await CommandRunner.run(
            [
                "issue", "--keyring", Repository.path("keys-example/keyring.json"), "--manifest", input,
                "--out", fifo, "--time-zone", "UTC",
            ],
            onStart: { DispatchQueue.global().asyncAfter(deadline: .now() + 20) { if reader.isRunning { reader.terminate() } } })
        let text = try await offPool { () -> String in
            reader.waitUntilExit()
            return String(decoding: received.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(text.hasPrefix("shipment_id,delivery_date,scope,code_required,code,key_id,valid_until\nA,2024-01-17,,true,"))
        var info = stat()
        #expect(stat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["feed.fifo", "m.csv"])
    }

    @Test("a write that fails part way (a full disk) stops the run with exit 74 and one line saying why")
    func fullDisk() async throws {
        let directory = try TemporaryDirectory()
        // Several chunks' worth, so that the failure comes from the writer thread while workers and reading go on.
        var manifest = "shipment_id,delivery_date\n"
        for row in 0..<60_000 { manifest += "FULL-\(row),2024-01-17\n" }
        let input = try directory.write("m.csv", manifest)
        let result = try await CommandRunner.run([
            "issue", "--keyring", Repository.path("keys-example/keyring.json"), "--manifest", input,
            "--out", "/dev/full", "--force", "--time-zone", "UTC",
        ])
        #expect(result.status == 74)
        #expect(result.stderr.contains("error: cannot write the output: No space left on device"), "\(result.stderr)")
        #expect(!result.stderr.contains("rows read"), "no summary after a failed run")
        var info = stat()
        #expect(stat("/dev/full", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
    }

    @Test("an unterminated quote that runs past 16 MiB stops the run with exit 65 and its byte offset, in bounded memory")
    func runawayRecord() async throws {
        let directory = try TemporaryDirectory()
        let rows = String(repeating: "X1,2024-01-17\n", count: 1_400_000)  // 19.6 MB after the quote
        let runaway = try directory.write("runaway.csv", "shipment_id,delivery_date\nA,2024-01-17\n\"B,2024-01-17\n" + rows)
        let out = directory.file("out.csv")
        let result = try await CommandRunner.run([
            "issue", "--keyring", ManifestTests.example, "--manifest", runaway, "--out", out, "--time-zone", "UTC",
        ])
        #expect(result.status == 65)
        #expect(result.stderr.contains("error: \(runaway): the record at byte 39 runs past 16 MiB"), "\(result.stderr)")
        #expect(result.stderr.contains("hint: look for an unterminated quote there"))
        #expect(!FileManager.default.fileExists(atPath: out))
        // A header with no line end at all is caught the same way.
        let noLines = try directory.write("one-line.csv", String(repeating: "shipment_id,", count: 1_500_000))
        let header = try await CommandRunner.run([
            "issue", "--keyring", ManifestTests.example, "--manifest", noLines, "--out", directory.file("b.csv"),
        ])
        #expect(header.status == 65)
        #expect(header.stderr.contains("the record at byte 0 runs past 16 MiB"), "\(header.stderr)")
        // Within the limit, the same quote is one rejected row at its line.
        let short = try directory.write("short.csv", "shipment_id,delivery_date\nA,2024-01-17\n\"B,2024-01-17\n" + rows.prefix(140_000))
        let rejected = try await CommandRunner.run([
            "issue", "--keyring", ManifestTests.example, "--manifest", short, "--out", directory.file("c.csv"),
            "--time-zone", "UTC",
        ])
        #expect(rejected.status == 0)
        #expect(rejected.stderr.contains("line 3: unterminated quoted field"))
    }

    @Test("--threads outside 1 to 64 is refused as a usage error", arguments: ["0", "65"])
    func threadBounds(_ threads: String) async throws {
        let directory = try TemporaryDirectory()
        let input = try directory.write("m.csv", "shipment_id,delivery_date\nA,2024-01-17\n")
        let result = try await CommandRunner.run(["issue", "--keyring", ManifestTests.example, "--manifest", input, "--threads", threads])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--threads must be 1 to 64"), "\(result.stderr)")
    }
}
