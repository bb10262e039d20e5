import Foundation

/// Reads a file descriptor in chunks that end on record boundaries, straight
/// into the pipeline's buffers. The partial record after a chunk's last line
/// end is carried over to the front of the next chunk.
struct ChunkReader {
    /// The longest record (or header) read: past it, the run stops rather than
    /// let one runaway record, such as an unterminated quote, take the memory.
    static let maximumRecord = 16 << 20

    let fd: Int32
    let chunkSize: Int
    let quoted: Bool
    private var carry: ByteBuffer
    private var atEnd = false
    /// Input bytes handed out so far: the offset of the next record.
    private var consumed = 0

    init(fd: Int32, chunkSize: Int, quoted: Bool) {
        self.fd = fd
        self.chunkSize = chunkSize
        self.quoted = quoted
        carry = ByteBuffer(capacity: 1 << 16)
    }

    func close() { carry.deallocate() }

    /// Reads into `buffer` until it holds `target` bytes or the input ends.
    private static func fill(_ buffer: inout ByteBuffer, to target: Int, from fd: Int32, atEnd: inout Bool) throws(ManifestError) {
        buffer.reserve(target)
        while !atEnd && buffer.count < target {
            // Up to the target, never the whole capacity: a buffer that grew for a long record
            // must not make later chunks larger (chunk boundaries stay the same from run to run).
            let space = buffer.free
            let got = read(fd, space.baseAddress!, min(space.count, target - buffer.count))
            if got < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read the manifest: \(String(cString: strerror(errno)))")
            }
            if got == 0 { atEnd = true }
            buffer.count += got
        }
    }

    /// The first line (the CSV header) and the line ends it holds (0 when the input ends without one).
    mutating func nextRecord() throws(ManifestError) -> (bytes: [UInt8], lines: Int)? {
        var searched = 0
        while true {
            try Self.fill(&carry, to: carry.count + 4096, from: fd, atEnd: &atEnd)
            let bytes = carry.bytes
            // A CR not followed by LF before any LF: CR-only line ends. Hand back the first
            // "line" so that the header check refuses the file (never a silent empty feed).
            if let cr = bytes[searched...].firstIndex(of: UInt8(ascii: "\r")), cr + 1 < bytes.count,
                bytes[cr + 1] != UInt8(ascii: "\n"), !bytes[..<cr].contains(UInt8(ascii: "\n"))
            {
                return (Array(bytes[...cr]), 0)
            }
            if let newline = bytes[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                let record = Array(bytes[...newline])
                carry.removeFirst(newline + 1)
                consumed += newline + 1
                return (record, 1)
            }
            if carry.count > Self.maximumRecord { throw .recordTooLong(offset: 0) }
            if atEnd {
                guard carry.count > 0 else { return nil }
                defer { carry.count = 0 }
                return (Array(bytes) + [UInt8(ascii: "\n")], 0)
            }
            searched = carry.count
        }
    }

    /// Fills `buffer` with the next whole records, about `chunkSize` bytes
    /// (more for a record longer than that); false at the end of the input.
    mutating func next(into buffer: inout ByteBuffer) throws(ManifestError) -> Bool {
        buffer.count = 0
        buffer.append(carry.bytes)
        carry.count = 0
        var target = chunkSize
        while true {
            try Self.fill(&buffer, to: target, from: fd, atEnd: &atEnd)
            if buffer.count == 0 { return false }
            if atEnd {
                consumed += buffer.count
                if buffer.bytes.last != UInt8(ascii: "\n") {
                    buffer.reserve(buffer.count + 1)
                    buffer.base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: buffer.count, as: UInt8.self)
                    buffer.count += 1
                }
                return true
            }
            let end = CSVScanner.lastRecordEnd(buffer.bytes, quoted: quoted)
            if end > 0 {
                carry.append(UnsafeRawBufferPointer(rebasing: buffer.bytes[end...]))
                buffer.count = end
                consumed += end
                return true
            }
            // One record longer than a chunk: read on, up to the limit.
            guard buffer.count < Self.maximumRecord else { throw .recordTooLong(offset: consumed) }
            target = min(buffer.count * 2, Self.maximumRecord)
        }
    }
}
