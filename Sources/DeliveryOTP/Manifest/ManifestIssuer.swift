import Dispatch
import Foundation

/// Issues the codes of a delivery day's manifest (CSV or JSON lines), streaming:
/// the input is read in chunks that end on record boundaries, the chunks of a
/// round are parsed and issued on all cores, and their output is written in
/// input order. Memory stays bounded by the chunk size times the thread count.
public struct ManifestIssuer: Sendable {
    public enum Format: String, Sendable { case csv, jsonLines = "jsonl" }

    public struct Options: Sendable {
        public var format: Format
        public var policy: ValuePolicy
        public var timeZone: DeliveryTimeZone
        public var strict: Bool
        public var threads: Int
        public var chunkSize: Int

        public init(format: Format, policy: ValuePolicy = ValuePolicy(), timeZone: DeliveryTimeZone = .current,
                    strict: Bool = false, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                    chunkSize: Int = 1 << 19) {
            self.format = format
            self.policy = policy
            self.timeZone = timeZone
            self.strict = strict
            self.threads = max(1, threads)
            self.chunkSize = max(1024, chunkSize)
        }
    }

    public struct Summary: Sendable {
        public var rowsRead = 0
        public var issued = 0
        public var notRequired = 0
        public var rejected = 0
    }

    public static let outputColumns = ["shipment_id", "delivery_date", "scope", "code_required", "code", "key_id", "valid_until"]

    public let keyring: Keyring
    public let options: Options

    public init(keyring: Keyring, options: Options) {
        self.keyring = keyring
        self.options = options
    }

    /// Runs the whole manifest from `input` to `output`, bad rows to `rejects`.
    /// `progress` is called after each round with the bytes read so far.
    public func run(input: Int32, output: Int32, rejects: Int32,
                    progress: ((Int) -> Void)? = nil) throws(ManifestError) -> Summary {
        var reader = ChunkReader(fd: input, chunkSize: options.chunkSize, quoted: options.format == .csv)
        defer { reader.close() }
        var writer = FileWriter(fd: output)
        var rejectWriter = FileWriter(fd: rejects)
        var summary = Summary()
        var columns = Columns()
        var line = 1
        var bytesRead = 0

        if options.format == .csv {
            guard let header = try reader.nextRecord() else { throw .empty }
            columns = try Columns(header: header)
            line += header.lines
            bytesRead += header.bytes.count
            try writer.write(Array((Self.outputColumns.joined(separator: ",") + "\n").utf8))
        }

        // A pipeline: worker threads issue chunks as they arrive; this thread
        // reads ahead up to a window of chunks and writes results in input order.
        let work = ChunkWork(keyring: keyring, options: options, columns: columns)
        let queue = ChunkQueue()
        let workers = (0..<options.threads).map { _ in queue.startWorker(work) }
        defer {
            queue.close()
            workers.forEach { $0.wait() }
        }
        let window = options.threads * 4
        var submitted = 0, written = 0, atEnd = false
        while true {
            while !atEnd && submitted - written < window {
                guard let chunk = try reader.nextChunk() else { atEnd = true; break }
                bytesRead += chunk.count
                queue.submit(index: submitted, chunk: chunk)
                submitted += 1
            }
            if written == submitted { break }
            let result = queue.result(for: written)
            written += 1
            if options.strict, let first = result.firstReject {
                throw .rejectedRow(line: line + first.line, reason: first.reason)
            }
            try writer.write(result.output)
            var rejectText: [UInt8] = []
            for (relative, reason) in result.rejectList { rejectText.append(contentsOf: "line \(line + relative): \(reason)\n".utf8) }
            try rejectWriter.write(rejectText)
            line += result.lines
            summary.rowsRead += result.rows
            summary.issued += result.issued
            summary.notRequired += result.notRequired
            summary.rejected += result.rejected
            if written % window == 0 { progress?(bytesRead) }
        }
        progress?(bytesRead)
        try writer.flush()
        try rejectWriter.flush()
        return summary
    }

    /// Column positions from a CSV header.
    struct Columns: Sendable {
        var shipment = 0, date = 1, scope: Int? = nil, value: Int? = nil, currency: Int? = nil, count = 2

        init() {}

        init(header: (bytes: [UInt8], lines: Int)) throws(ManifestError) {
            var names: [String] = []
            var scratch: [UInt8] = []
            let parsed = header.bytes.withUnsafeBytes { bytes in
                CSVScanner.record(bytes, from: 0, scratch: &scratch) { _, field in
                    var name = String(decoding: field, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                    if names.isEmpty && name.hasPrefix("\u{FEFF}") { name.removeFirst() }  // a UTF-8 byte order mark
                    names.append(name)
                }
            }
            guard parsed != nil else { throw .io("the manifest header has an unterminated quote") }
            guard let shipment = names.firstIndex(of: "shipment_id") else { throw .missingColumn("shipment_id") }
            guard let date = names.firstIndex(of: "delivery_date") else { throw .missingColumn("delivery_date") }
            self.shipment = shipment
            self.date = date
            scope = names.firstIndex(of: "scope")
            value = names.firstIndex(of: "order_value")
            currency = names.firstIndex(of: "currency")
            count = names.count
        }
    }

    /// What one chunk produced.
    struct ChunkResult: Sendable {
        var output: [UInt8] = []
        var rows = 0, issued = 0, notRequired = 0, rejected = 0, lines = 0
        /// Relative to the chunk's first line (0).
        var firstReject: (line: Int, reason: String)?
        var rejectList: [(Int, String)] = []
    }
}

/// Reads a file descriptor in chunks that end on record boundaries.
struct ChunkReader {
    let fd: Int32
    let chunkSize: Int
    let quoted: Bool
    private var pending: [UInt8] = []
    private var atEnd = false
    /// Owned by the reader for its whole life; freed with `close()`.
    private let readBuffer: UnsafeMutableRawBufferPointer

    init(fd: Int32, chunkSize: Int, quoted: Bool) {
        self.fd = fd
        self.chunkSize = chunkSize
        self.quoted = quoted
        pending.reserveCapacity(chunkSize * 2)
        readBuffer = .allocate(byteCount: max(chunkSize, 1 << 16), alignment: 16)
    }

    func close() { readBuffer.deallocate() }

    /// Fills `pending` to at least `target` bytes unless the input ends. Reads go
    /// through a reusable buffer: one memcpy, where zero-filling the array first cost more.
    private mutating func fill(to target: Int) throws(ManifestError) {
        while !atEnd && pending.count < target {
            let want = min(max(target - pending.count, 1 << 16), readBuffer.count)
            let got = read(fd, readBuffer.baseAddress!, want)
            if got < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read the manifest: \(String(cString: strerror(errno)))")
            }
            if got == 0 { atEnd = true }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<got]))
        }
    }

    /// The first record (the CSV header).
    mutating func nextRecord() throws(ManifestError) -> (bytes: [UInt8], lines: Int)? {
        var searched = 0
        while true {
            try fill(to: searched + 4096)
            if let newline = pending[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                let record = Array(pending[...newline])
                pending.removeFirst(newline + 1)
                return (record, 1)
            }
            if atEnd {
                guard !pending.isEmpty else { return nil }
                defer { pending.removeAll() }
                return (pending + [UInt8(ascii: "\n")], 0)
            }
            searched = pending.count
        }
    }

    /// The next chunk of whole records, about `chunkSize` bytes; nil at the end.
    mutating func nextChunk() throws(ManifestError) -> [UInt8]? {
        var target = chunkSize
        while true {
            try fill(to: target)
            if pending.isEmpty { return nil }
            if atEnd {
                var chunk = pending
                pending.removeAll(keepingCapacity: true)
                if chunk.last != UInt8(ascii: "\n") { chunk.append(UInt8(ascii: "\n")) }
                return chunk
            }
            let end = pending.withUnsafeBytes { CSVScanner.lastRecordEnd($0, quoted: quoted) }
            if end > 0 {
                let chunk = Array(pending[..<end])
                pending.removeFirst(end)
                return chunk
            }
            target = pending.count * 2  // one record longer than a chunk: read on
        }
    }
}

/// Buffered writes to a file descriptor.
struct FileWriter {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    mutating func write(_ bytes: [UInt8]) throws(ManifestError) {
        // Large pieces (a chunk's output) go straight out; small ones are gathered.
        if bytes.count >= 1 << 16 {
            try flush()
            try writeAll(bytes)
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func writeAll(_ bytes: [UInt8]) throws(ManifestError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write the output: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    mutating func flush() throws(ManifestError) {
        try writeAll(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Chunks waiting for a worker, and results waiting for the writer.
final class ChunkQueue: @unchecked Sendable {
    // Every field is guarded by `condition`.
    private let condition = NSCondition()
    private var waiting: [(index: Int, chunk: [UInt8])] = []
    private var done: [Int: ManifestIssuer.ChunkResult] = [:]
    private var closed = false

    func submit(index: Int, chunk: [UInt8]) {
        condition.lock()
        waiting.append((index, chunk))
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until the result for `index` is ready.
    func result(for index: Int) -> ManifestIssuer.ChunkResult {
        condition.lock()
        defer { condition.unlock() }
        while done[index] == nil { condition.wait() }
        return done.removeValue(forKey: index)!
    }

    /// Stops the workers once they finish what they hold; unstarted chunks are dropped.
    func close() {
        condition.lock()
        closed = true
        waiting.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// A thread that issues chunks until the queue closes; `wait()` on the result joins it.
    func startWorker(_ work: ChunkWork) -> DispatchSemaphore {
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            var state = work.makeState()
            defer { state.release() }
            while let (index, chunk) = self.take() {
                let result = work.process(chunk, state: &state)
                self.condition.lock()
                self.done[index] = result
                self.condition.broadcast()
                self.condition.unlock()
            }
            finished.signal()
        }
        thread.start()
        return finished
    }

    private func take() -> (Int, [UInt8])? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty && !closed { condition.wait() }
        if closed && waiting.isEmpty { return nil }
        return waiting.removeFirst()
    }
}
