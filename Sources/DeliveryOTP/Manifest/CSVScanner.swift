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

    /// The end of the last complete record in quoted CSV. A line end counts as a
    /// record end only outside quotes: with RFC 4180's doubled quotes, that is
    /// when the number of quotes before it is even.
    static func lastRecordBoundary(_ bytes: UnsafeRawBufferPointer) -> Int {
        var inQuotes = false, end = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            } else if byte == UInt8(ascii: "\n") && !inQuotes {
                end = index + 1
            }
        }
        return end
    }

    /// Parses one CSV record starting at `start`; calls `field` for each field with
    /// its unquoted bytes. Returns the index after the record and the line ends it spans,
    /// or nil for an unterminated quote.
    @inline(__always)
    static func record(
        _ bytes: UnsafeRawBufferPointer, from start: Int, scratch: inout [UInt8],
        field: (Int, UnsafeRawBufferPointer) -> Void
    ) -> (next: Int, lines: Int)? {
        var index = start, column = 0, lines = 0
        let count = bytes.count
        while true {
            if index < count && bytes[index] == UInt8(ascii: "\"") {
                // Quoted field: copy it out, turning "" into ".
                scratch.removeAll(keepingCapacity: true)
                index += 1
                while true {
                    guard index < count else { return nil }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") {
                        if index + 1 < count && bytes[index + 1] == UInt8(ascii: "\"") {
                            scratch.append(UInt8(ascii: "\""))
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    if byte == UInt8(ascii: "\n") { lines += 1 }
                    scratch.append(byte)
                    index += 1
                }
                scratch.withUnsafeBytes { field(column, $0) }
            } else {
                let fieldStart = index
                while index < count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") { break }
                    index += 1
                }
                var fieldEnd = index
                if fieldEnd > fieldStart && (index == count || bytes[index] == UInt8(ascii: "\n"))
                    && bytes[fieldEnd - 1] == UInt8(ascii: "\r") { fieldEnd -= 1 }
                field(column, UnsafeRawBufferPointer(rebasing: bytes[fieldStart..<fieldEnd]))
            }
            column += 1
            if index < count && bytes[index] == UInt8(ascii: "\r") && index + 1 < count && bytes[index + 1] == UInt8(ascii: "\n") {
                index += 1
            }
            if index >= count { return (index, lines) }
            if bytes[index] == UInt8(ascii: "\n") { return (index + 1, lines + 1) }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            // A quoted field followed by something other than a separator.
            return nil
        }
    }
}
