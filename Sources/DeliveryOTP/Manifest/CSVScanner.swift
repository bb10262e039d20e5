import Foundation

/// Splits manifest bytes into records and fields: RFC 4180 CSV (quoted fields,
/// doubled quotes, CR LF or LF line ends, newlines inside quotes) or JSON lines.
enum CSVScanner {
    /// The end of the last complete record in `bytes` (just past its line end), 0 if none.
    /// Without quotes (checked with `memchr`) this is the last line end; with quotes, a full scan.
    static func lastRecordEnd(_ bytes: UnsafeRawBufferPointer, quoted: Bool) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        if !quoted || memchr(base, Int32(UInt8(ascii: "\"")), bytes.count) == nil {
            var index = bytes.count - 1
            while index >= 0 && bytes[index] != UInt8(ascii: "\n") { index -= 1 }
            return index + 1
        }
        return lastRecordBoundary(bytes)
    }

    /// The end of the last complete record in quoted CSV, by the same definition of a
    /// record that ``record(_:from:scratch:field:)`` parses with, so the splitter and
    /// the parser always agree: a quote opens a quoted field only at the start of a
    /// field, a line end inside a quoted field is part of it, and a malformed record
    /// (a quote inside an unquoted field, text after a closing quote) still ends at
    /// its line end. A bad row can neither move a chunk boundary into a quoted field
    /// nor swallow the rows after it.
    static func lastRecordBoundary(_ bytes: UnsafeRawBufferPointer) -> Int {
        var scratch: [UInt8] = []
        var index = 0, end = 0
        while index < bytes.count, let record = record(bytes, from: index, scratch: &scratch, copying: false, field: { _, _ in }) {
            guard record.next > index, bytes[record.next - 1] == UInt8(ascii: "\n") else { break }
            end = record.next
            index = record.next
        }
        return end
    }

    /// One parsed record: the index after it, the line ends it spans, and what is wrong with it, if anything.
    struct Record {
        var next: Int
        var lines: Int
        /// Nil for a well-formed RFC 4180 record; else why the row is a reject.
        var problem: String?
    }

    /// Parses one CSV record (RFC 4180) starting at `start`; calls `field` for each field
    /// with its unquoted bytes. Nil when the record does not end within `bytes` (a quoted
    /// field still open at the end). A malformed record is returned with a `problem` and
    /// ends at the first line end after the point where it went wrong (later quotes in it
    /// open nothing), so that the rows after it are read as usual.
    @inline(__always)
    static func record(
        _ bytes: UnsafeRawBufferPointer, from start: Int, scratch: inout [UInt8], copying: Bool = true,
        field: (Int, UnsafeRawBufferPointer) -> Void
    ) -> Record? {
        var index = start, column = 0, lines = 0
        var problem: String?
        let count = bytes.count
        while true {
            var fieldStart = index
            // Once a record is malformed, a quote opens nothing: the record ends at the next line end,
            // so one bad row can never swallow the rows after it.
            if problem == nil && index < count && bytes[index] == UInt8(ascii: "\"") {
                // Quoted field: copy it out, turning "" into ".
                if copying { scratch.removeAll(keepingCapacity: true) }
                index += 1
                while true {
                    guard index < count else { return nil }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") {
                        if index + 1 < count && bytes[index + 1] == UInt8(ascii: "\"") {
                            if copying { scratch.append(UInt8(ascii: "\"")) }
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    if byte == UInt8(ascii: "\n") { lines += 1 }
                    if copying { scratch.append(byte) }
                    index += 1
                }
                let closed = index
                if index < count && bytes[index] == UInt8(ascii: "\r") && index + 1 < count && bytes[index + 1] == UInt8(ascii: "\n") {
                    index += 1
                }
                if index < count && bytes[index] != UInt8(ascii: ",") && bytes[index] != UInt8(ascii: "\n") {
                    // Text after the closing quote: the rest of the field is read as unquoted text.
                    problem = problem ?? "text after the closing quote of field \(column + 1)"
                    index = closed
                    fieldStart = index
                } else {
                    scratch.withUnsafeBytes { field(column, $0) }
                    column += 1
                    if index >= count { return Record(next: index, lines: lines, problem: problem) }
                    if bytes[index] == UInt8(ascii: "\n") { return Record(next: index + 1, lines: lines + 1, problem: problem) }
                    index += 1  // the separator
                    continue
                }
            }
            // Unquoted field (or the rest of a malformed one): up to a separator or the line end.
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") { break }
                if byte == UInt8(ascii: "\"") && problem == nil { problem = "a quote inside unquoted field \(column + 1)" }
                index += 1
            }
            var fieldEnd = index
            if fieldEnd > fieldStart && (index == count || bytes[index] == UInt8(ascii: "\n"))
                && bytes[fieldEnd - 1] == UInt8(ascii: "\r")
            {
                fieldEnd -= 1
            }
            field(column, UnsafeRawBufferPointer(rebasing: bytes[fieldStart..<fieldEnd]))
            column += 1
            if index >= count { return Record(next: index, lines: lines, problem: problem) }
            if bytes[index] == UInt8(ascii: "\n") { return Record(next: index + 1, lines: lines + 1, problem: problem) }
            index += 1  // the separator
        }
    }
}
