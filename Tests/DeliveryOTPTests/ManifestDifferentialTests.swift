import Foundation
import PropertyBased
import Testing

@_spi(Tools) @testable import DeliveryOTP

/// The manifest issuer's fast paths (word-at-a-time splitting, the raw-byte
/// slot table, padded copies, buffers reused across chunks) against a plain
/// model built from the library's public types, on random manifests full of
/// awkward rows, with tiny chunks and several threads.
@Suite("The manifest issuer agrees with a row-by-row model")
struct ManifestDifferentialTests {
    static let keyring = Result {
        try KeyringFile(path: Repository.path("keys-example/keyring.json")).load(passphrase: nil, exampleMayBeShared: true).keyring
    }

    /// A small deterministic generator (SplitMix64), so that a failing seed can be replayed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Row {
        var id: String, date: String, scope: String, value: String, currency: String, note: String
        var fields: [String] { [id, date, scope, value, currency, note] }
    }

    static func randomRow(_ random: inout SeededGenerator, scopes: [String]) -> Row {
        let printable = (0x21...0x7E).map { Character(UnicodeScalar(UInt8($0))) }
        func text(_ length: Int, from alphabet: [Character]) -> String {
            String((0..<length).map { _ in alphabet.randomElement(using: &random)! })
        }
        let id: String =
            switch Int.random(in: 0..<20, using: &random) {
            case 0: ""
            case 1: "HAS SPACE"
            case 2: text(65, from: printable)
            case 3: "é" + text(3, from: printable)
            case 4: "q\"uo,te"
            case 5: "back\\slash"
            default: text(Int.random(in: 1...64, using: &random), from: printable)
            }
        let date = ["2024-01-17", "2024-01-18", "2024-02-29", "2024-02-30", "2024-1-17", "1999-12-31", "2024-03-01x"]
            .randomElement(using: &random)!
        let scope: String =
            switch Int.random(in: 0..<12, using: &random) {
            case 0: ""
            case 1: text(33, from: ["a", "b"])
            case 2: "bad scope"
            default: scopes.randomElement(using: &random)!
            }
        let value = [
            "", "100", "100.00", "99.99", "500", "0.5", "abc", "1.", "12345678.123456", "1.1234567",
            "9300000000000", "9223372036854.775807", "9223372036854.775808", "99999999999999999999",
        ].randomElement(using: &random)!
        let currency = ["", "EUR", "GBP", "INR", "USD", "eur", "EURO"].randomElement(using: &random)!
        let note: String =
            switch Int.random(in: 0..<25, using: &random) {
            case 0: String(repeating: "long note, with \"quotes\"\nand a line end ", count: 60)
            case 1: "x\ny"
            default: text(Int.random(in: 0...12, using: &random), from: Array("abc ;-"))
            }
        return Row(id: id, date: date, scope: scope, value: value, currency: currency, note: note)
    }

    /// RFC 4180: quoted when it holds a comma, quote, CR or LF, or (to exercise the quoted path) now and then anyway.
    static func csvField(_ text: String, _ random: inout SeededGenerator) -> String {
        let needs = text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        guard needs || Int.random(in: 0..<30, using: &random) == 0 else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func csvOutputField(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    /// What the model expects for a row: its output fields, or nil for a reject.
    static func model(_ row: Row, keyring: Keyring, zone: DeliveryTimeZone) -> [String]? {
        guard let id = try? ShipmentID(row.id), let date = try? DeliveryDate(row.date),
            let scope = try? Scope(row.scope), let (dayKey, keyID) = try? keyring.dayKey(scope: scope, date: date)
        else { return nil }
        var amount: ValuePolicy.Amount?
        if !row.value.isEmpty {
            guard let parsed = ValuePolicy.Amount(row.value) else { return nil }
            amount = parsed
        }
        if !row.currency.isEmpty && !(row.currency.count == 3 && row.currency.allSatisfy { ("A"..."Z").contains($0) }) { return nil }
        let required = ValuePolicy().requiresCode(value: amount, currency: row.currency.isEmpty ? nil : row.currency)
        let code = required ? CodeGenerator(dayKey: dayKey).code(for: id).description : ""
        return [row.id, row.date, row.scope, String(required), code, required ? keyID.rawValue : "", zone.format(zone.endOfDay(date))]
    }

    static func run(_ manifest: String, format: ManifestIssuer.Format, threads: Int, chunkSize: Int) throws
        -> (output: String, rejects: String, summary: ManifestIssuer.Summary)
    {
        let directory = try TemporaryDirectory()
        let input = try directory.write("in", manifest)
        let out = directory.file("out"), rejects = directory.file("rejects")
        let inFD = open(input, O_RDONLY), outFD = open(out, O_WRONLY | O_CREAT, 0o600), rejectFD = open(rejects, O_WRONLY | O_CREAT, 0o600)
        defer { close(inFD); close(outFD); close(rejectFD) }
        let issuer = ManifestIssuer(
            keyring: try keyring.get(),
            options: .init(
                format: format, timeZone: try DeliveryTimeZone("Europe/Berlin"), threads: threads, chunkSize: chunkSize))
        let summary = try issuer.run(input: inFD, output: outFD, rejects: rejectFD)
        return (try String(contentsOfFile: out, encoding: .utf8), try String(contentsOfFile: rejects, encoding: .utf8), summary)
    }

    static func rejectedLines(_ rejects: String) -> [Int] {
        rejects.split(separator: "\n").compactMap { line in
            line.hasPrefix("line ") ? Int(line.dropFirst(5).prefix(while: \.isNumber)) : nil
        }
    }

    /// Rows no RFC 4180 reader can take, each on one line: a reject each, and the rows after them go on.
    static func malformedRow(_ random: inout SeededGenerator) -> String {
        [
            "ab\"c,2024-01-17,D1,1,EUR,n", "\"A\"B,2024-01-17,D1,1,EUR,n", "A,\"2024-01-17\"x,D1,1,EUR,n",
            "A,2024-01-17,D1,1,EUR,\"n\" \"m\"", "x\"\"\"\"\",2024-01-17,D1,1,EUR,\"n\"z",
            "A\rB,2024-01-17,D1,1,EUR,n",
        ].randomElement(using: &random)!
    }

    @Test(
        "random CSV manifests give the model's records and reject lines, with LF or CR LF, quotes, multi-line fields and malformed rows",
        arguments: [(1, 1, 1024), (2, 3, 1024), (3, 2, 4096), (4, 1, 1 << 19)])
    func csvAgreesWithModel(seed: UInt64, threads: Int, chunkSize: Int) throws {
        try Self.csvCase(seed: seed, rows: 3000, threads: threads, chunkSize: chunkSize)
    }

    @Test("on 300 small random manifests, every row is accounted for once and the feed is the same for 1, 2 and 3 threads")
    func manySmallManifests() async {
        await propertyCheck(count: 300, input: Gen.int(in: 10...1_000_000), Gen.int(in: 1024...6000)) { seed, chunkSize in
            #expect(throws: Never.self) { try Self.csvCase(seed: UInt64(seed), rows: 120, threads: 1 + seed % 3, chunkSize: chunkSize) }
        }
    }

    /// Builds a random manifest with the model's expectation, issues it, and compares.
    static func csvCase(seed: UInt64, rows: Int, threads: Int, chunkSize: Int) throws {
        var random = SeededGenerator(state: seed)
        let keyring = try Self.keyring.get(), zone = try DeliveryTimeZone("Europe/Berlin")
        // 700 scopes, more than the open-addressing table takes, so the overflow path runs too.
        let scopes = ["D1", "depot-7", String(repeating: "s", count: 32)] + (0..<700).map { "Z\($0)" }
        // The columns rotated by the seed, so that each field in turn is last on its line (CR LF handling).
        func rotated<T>(_ items: [T]) -> [T] { Array(items[Int(seed % 6)...] + items[..<Int(seed % 6)]) }
        var manifest = rotated(["shipment_id", "delivery_date", "scope", "order_value", "currency", "note"]).joined(separator: ",") + "\n"
        var expectedOutput = ManifestIssuer.outputColumns.joined(separator: ",") + "\n"
        var expectedRejects: [Int] = []
        var line = 2
        for _ in 0..<rows {
            if Int.random(in: 0..<50, using: &random) == 0 {
                manifest += "\n"
                line += 1
            }
            if Int.random(in: 0..<25, using: &random) == 0 {
                manifest += Self.malformedRow(&random) + (Bool.random(using: &random) ? "\n" : "\r\n")
                expectedRejects.append(line)
                line += 1
                continue
            }
            let row = Self.randomRow(&random, scopes: scopes)
            let ending = Bool.random(using: &random) ? "\n" : "\r\n"
            manifest += rotated(row.fields).map { Self.csvField($0, &random) }.joined(separator: ",") + ending
            if let fields = Self.model(row, keyring: keyring, zone: zone) {
                expectedOutput += fields.map(Self.csvOutputField).joined(separator: ",") + "\n"
            } else {
                expectedRejects.append(line)
            }
            line += 1 + row.note.filter { $0 == "\n" }.count
        }
        let (output, rejects, summary) = try Self.run(manifest, format: .csv, threads: threads, chunkSize: chunkSize)
        // Every data row accounted for exactly once: read, then issued, not required or rejected.
        #expect(summary.rowsRead == rows, "seed \(seed)")
        #expect(summary.issued + summary.notRequired + summary.rejected == rows, "seed \(seed)")
        #expect(summary.rejected == expectedRejects.count, "seed \(seed)")
        if rows >= 1000 {
            #expect(expectedRejects.count > rows / 10 && expectedRejects.count < rows * 9 / 10, "the random rows mix good and bad ones")
        }
        #expect(output == expectedOutput, "seed \(seed), \(threads) threads, chunk \(chunkSize)")
        #expect(Self.rejectedLines(rejects) == expectedRejects, "seed \(seed), \(threads) threads, chunk \(chunkSize)")
    }

    @Test(
        "random JSON-lines manifests give the model's records, with quotes and backslashes escaped, and malformed lines rejected",
        arguments: [(5, 2, 1024), (6, 1, 1 << 19)])
    func jsonAgreesWithModel(seed: UInt64, threads: Int, chunkSize: Int) throws {
        var random = SeededGenerator(state: seed)
        let keyring = try Self.keyring.get(), zone = try DeliveryTimeZone("Europe/Berlin")
        var manifest = "", expected: [[String]] = [], expectedRejects: [Int] = []
        let malformed = [
            #"{"shipment_id":"A","delivery_date":"2024-01-17","shipment\u005fid":"B"}"#,  // a duplicate once decoded
            #"{"shipment_id":"A","delivery_date":"2024-01-17""#,
            #"{"shipment_id":"A","delivery_date":"2024-01-17","order_value":9300000000000,"currency":"EUR"}"#,
            #"{"shipment_id":"A","delivery_date":"2024-01-17"} {}"#,
            #"["shipment_id","A"]"#,
        ]
        for line in 1...1500 {
            if Int.random(in: 0..<25, using: &random) == 0 {
                manifest += malformed.randomElement(using: &random)! + "\n"
                expectedRejects.append(line)
                continue
            }
            let row = Self.randomRow(&random, scopes: ["D1", "depot-7"])
            var object: [String: Any] = ["shipment_id": row.id, "delivery_date": row.date, "scope": row.scope]
            if !row.value.isEmpty { object["order_value"] = row.value }
            if !row.currency.isEmpty { object["currency"] = row.currency }
            manifest += String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self) + "\n"
            if let fields = Self.model(row, keyring: keyring, zone: zone) { expected.append(fields) } else { expectedRejects.append(line) }
        }
        let (output, rejects, summary) = try Self.run(manifest, format: .jsonLines, threads: threads, chunkSize: chunkSize)
        #expect(summary.rowsRead == 1500 && summary.rejected == expectedRejects.count, "seed \(seed)")
        let records = try output.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return ManifestIssuer.outputColumns.map { name in
                switch object[name] {
                case let flag as Bool: String(flag)
                case let text as String: text
                default: "?"
                }
            }
        }
        #expect(records == expected, "seed \(seed)")
        #expect(Self.rejectedLines(rejects) == expectedRejects, "seed \(seed)")
    }
}

/// The word-at-a-time helpers against byte-by-byte definitions.
@Suite("Eight bytes at a time")
struct ByteWordsTests {
    @Test("bytes(equalTo:) marks exactly the bytes that match")
    func equalBytes() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 8...8), Gen.uint8()) { bytes, target in
            let word = bytes.withUnsafeBytes { ByteWords.load($0.baseAddress!) }
            let expected = bytes.enumerated().reduce(UInt64(0)) { mask, pair in
                pair.element == target ? mask | (0x80 << (8 * UInt64(pair.offset))) : mask
            }
            #expect(ByteWords.bytes(word, equalTo: target) == expected)
        }
    }

    @Test("isPrintable agrees with a byte loop for every length up to 70, whatever follows the bytes")
    func printable() async {
        await propertyCheck(count: 2000, input: Gen.uint8(in: 0x1E...0x81).array(of: 0...70), Gen.uint8()) { bytes, after in
            let padded = bytes + [UInt8](repeating: after, count: ByteBuffer.slack)
            let viaWords = padded.withUnsafeBytes { ByteWords.isPrintable($0.baseAddress!, count: bytes.count) }
            #expect(viaWords == bytes.allSatisfy { (0x21...0x7E).contains($0) })
        }
    }

    @Test("load(count:) keeps the first count bytes and zeroes the rest")
    func partialLoad() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 8...8), Gen.int(in: -3...11)) { bytes, count in
            let word = bytes.withUnsafeBytes { ByteWords.load($0.baseAddress!, count: count) }
            let kept = bytes.prefix(max(0, min(count, 8))) + [UInt8](repeating: 0, count: 8 - max(0, min(count, 8)))
            #expect(word == kept.withUnsafeBytes { ByteWords.load($0.baseAddress!) })
        }
    }
}
