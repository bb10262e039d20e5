import Dispatch
import Foundation

/// Issues the codes of a delivery day's manifest (CSV or JSON lines), streaming:
/// the input is read in chunks that end on record boundaries, worker threads
/// issue the chunks on all cores, and a writer thread writes their output in
/// input order (`ChunkPipeline`). Memory stays bounded by the chunk size
/// times a fixed number of buffers, whatever the manifest's size.
public struct ManifestIssuer: Sendable {
    /// The format of a manifest, and of the feed written from it.
    public enum Format: String, Sendable {
        /// CSV (RFC 4180) with a header row; lines end in LF or CR LF.
        case csv
        /// JSON lines: one JSON object per line (raw value `jsonl`).
        case jsonLines = "jsonl"
    }

    /// How a manifest is read and issued.
    public struct Options: Sendable {
        /// The format of the input, and so of the feed.
        public var format: Format
        /// Which parcels need a code.
        public var policy: ValuePolicy
        /// The time zone whose end of the delivery day is written as `valid_until`.
        public var timeZone: DeliveryTimeZone
        /// When true, the first bad row stops the run (``ManifestError/rejectedRow(line:reason:)``)
        /// instead of going to the rejects.
        public var strict: Bool
        /// The number of worker threads; the initialiser raises it to at least 1.
        public var threads: Int
        /// The size of an input chunk in bytes (the initialiser raises it to at least 1024);
        /// a chunk grows to hold a longer record.
        public var chunkSize: Int

        /// Options with defaults: the default value policy, the machine's time zone, not strict, one
        /// thread per active core, 512 KiB chunks. `threads` below 1 becomes 1, `chunkSize` below 1024 becomes 1024.
        public init(
            format: Format, policy: ValuePolicy = ValuePolicy(), timeZone: DeliveryTimeZone = .current,
            strict: Bool = false, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
            chunkSize: Int = 1 << 19
        ) {
            self.format = format
            self.policy = policy
            self.timeZone = timeZone
            self.strict = strict
            self.threads = max(1, threads)
            self.chunkSize = max(1024, chunkSize)
        }
    }

    /// The counts of a finished run.
    public struct Summary: Sendable {
        /// Records read, bad ones included; the CSV header and blank lines are not rows.
        public var rowsRead = 0
        /// Rows that got a code.
        public var issued = 0
        /// Rows that need no code under the value policy.
        public var notRequired = 0
        /// Bad rows, written to the rejects.
        public var rejected = 0
    }

    /// The feed's columns, in order: its CSV header, or the members of each JSON lines record.
    public static let outputColumns = ["shipment_id", "delivery_date", "scope", "code_required", "code", "key_id", "valid_until"]

    /// The keys codes come from.
    public let keyring: Keyring
    /// How the manifest is read and issued.
    public let options: Options

    /// An issuer of codes from `keyring`, with `options`.
    public init(keyring: Keyring, options: Options) {
        self.keyring = keyring
        self.options = options
    }

    /// Runs the whole manifest from `input` to `output`, bad rows to `rejects`.
    /// `progress` is called now and then, from another thread, with the input bytes issued so far.
    @_spi(Tools) public func run(
        input: Int32, output: Int32, rejects: Int32,
        progress: (@Sendable (Int) -> Void)? = nil
    ) throws(ManifestError) -> Summary {
        var reader = ChunkReader(fd: input, chunkSize: options.chunkSize, quoted: options.format == .csv)
        defer { reader.close() }
        let sink = Sink(output: output, rejects: rejects, strict: options.strict, progress: progress)
        defer { sink.close() }
        var columns = Columns()
        if options.format == .csv {
            guard let header = try reader.nextRecord() else { throw .empty }
            columns = try Columns(header: header)
            sink.line += header.lines
            sink.bytesIssued += header.bytes.count
            try sink.output.write(Array((Self.outputColumns.joined(separator: ",") + "\n").utf8))
        }

        // Output runs about 1.75 times the input (87 bytes a row for 50 in the
        // generated manifest); a buffer that must grow keeps its size for the next chunk.
        // Jobs: one per worker, up to 14 waiting (3 per worker for a few), one being read, one being written.
        let pipeline = ChunkPipeline(
            jobs: options.threads + min(options.threads * 3, 14) + 2, inputCapacity: options.chunkSize,
            outputCapacity: options.chunkSize * 7 / 4 + 4096)
        let work = ChunkWork(keyring: keyring, options: options, columns: columns)
        let workers = (0..<options.threads).map { _ in pipeline.startWorker(work) }
        let writer = pipeline.startWriter { (job) throws(ManifestError) in try sink.consume(job) }
        var submitted = 0
        do throws(ManifestError) {
            while let job = pipeline.takeFree() {
                guard try reader.next(into: &job.input) else { break }
                job.index = submitted
                submitted += 1
                pipeline.submit(job)
            }
            pipeline.finishInput(count: submitted)
        } catch {
            pipeline.stop(error)
        }
        writer.wait()
        pipeline.stop(nil)
        for worker in workers { worker.wait() }
        if let failure = pipeline.firstFailure { throw failure }
        try sink.finish()
        return sink.summary
    }

    /// The writing stage's state: the output and rejects, the line count and
    /// the summary. Used by the writer thread, then by `run` once that has ended.
    final class Sink: @unchecked Sendable {
        var output: FileWriter
        var rejects: FileWriter
        let strict: Bool
        let progress: (@Sendable (Int) -> Void)?
        var summary = Summary()
        /// The input line the next chunk starts on.
        var line = 1
        var bytesIssued = 0
        private var chunks = 0

        init(output: Int32, rejects: Int32, strict: Bool, progress: (@Sendable (Int) -> Void)?) {
            self.output = FileWriter(fd: output)
            self.rejects = FileWriter(fd: rejects)
            self.strict = strict
            self.progress = progress
        }

        func consume(_ job: ChunkPipeline.Job) throws(ManifestError) {
            let result = job.result
            if strict, let first = result.firstReject {
                throw .rejectedRow(line: line + first.line, reason: first.reason)
            }
            try output.write(job.output.bytes)
            if !result.rejectList.isEmpty {
                var text: [UInt8] = []
                for (relative, reason) in result.rejectList { text.append(contentsOf: "line \(line + relative): \(reason)\n".utf8) }
                try rejects.write(text)
            }
            line += result.lines
            summary.rowsRead += result.rows
            summary.issued += result.issued
            summary.notRequired += result.notRequired
            summary.rejected += result.rejected
            bytesIssued += job.input.count
            chunks += 1
            if chunks % 16 == 0 { progress?(bytesIssued) }
        }

        func close() {
            output.close()
            rejects.close()
        }

        func finish() throws(ManifestError) {
            progress?(bytesIssued)
            try output.finish()
            try rejects.finish()
        }
    }

    /// Column positions from a CSV header.
    struct Columns: Sendable {
        var shipment = 0, date = 1, scope: Int? = nil, value: Int? = nil, currency: Int? = nil, count = 2

        init() {}

        init(header: (bytes: [UInt8], lines: Int)) throws(ManifestError) {
            var names: [String] = []
            var scratch: [UInt8] = []
            // A UTF-8 byte order mark before the first name, quoted or not, is not part of it.
            let start = header.bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
            if let cr = header.bytes.firstIndex(of: UInt8(ascii: "\r")),
                cr + 1 == header.bytes.count || header.bytes[cr + 1] != UInt8(ascii: "\n")
            {
                throw .badHeader(
                    "ends its lines with CR alone; only LF and CR LF line ends are read",
                    hint: "convert the line ends, e.g. tr '\\r' '\\n' < old.csv > new.csv")
            }
            let parsed = header.bytes.withUnsafeBytes { bytes in
                CSVScanner.record(bytes, from: start, scratch: &scratch) { _, field in
                    var name = String(decoding: field, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                    if names.isEmpty && name.hasPrefix("\u{FEFF}") { name.removeFirst() }  // a UTF-8 byte order mark
                    names.append(name)
                }
            }
            let looksLikeJSON =
                header.bytes.first { $0 != 0x20 && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF } == UInt8(ascii: "{")
            guard let parsed else {
                throw .badHeader("has an unterminated quote", hint: looksLikeJSON ? ManifestError.jsonLinesHint : ManifestError.headerHint)
            }
            if let problem = parsed.problem {
                throw .badHeader("is malformed: \(problem)", hint: looksLikeJSON ? ManifestError.jsonLinesHint : ManifestError.headerHint)
            }
            if looksLikeJSON { throw .badHeader("starts with '{'", hint: ManifestError.jsonLinesHint) }
            var seen = Set<String>()
            for name in names where !name.isEmpty && !seen.insert(name).inserted {
                throw .badHeader("names the column '\(name)' twice", hint: ManifestError.headerHint)
            }
            typealias Field = ChunkWork.Field
            guard let shipment = names.firstIndex(of: Field.shipment.name) else { throw .missingColumn(Field.shipment.name) }
            guard let date = names.firstIndex(of: Field.date.name) else { throw .missingColumn(Field.date.name) }
            self.shipment = shipment
            self.date = date
            scope = names.firstIndex(of: Field.scope.name)
            value = names.firstIndex(of: Field.value.name)
            currency = names.firstIndex(of: Field.currency.name)
            count = names.count
        }
    }

    /// What one chunk produced.
    struct ChunkResult: Sendable {
        var rows = 0, issued = 0, notRequired = 0, rejected = 0, lines = 0
        /// Relative to the chunk's first line (0).
        var firstReject: (line: Int, reason: String)?
        var rejectList: [(Int, String)] = []
    }
}
